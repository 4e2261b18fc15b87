# Differential scenarios: environment, users and groups, working directories.

### env-default
docker run --rm --net none busybox env | sort

### env-set
docker run --rm --net none -e FOO=bar -e 'SPACE=a b' busybox sh -c 'echo "$FOO|$SPACE"'

### env-from-host
FROMHOST=hostvalue docker run --rm --net none -e FROMHOST busybox sh -c 'echo "${FROMHOST-unset}"'

### env-unset-host
docker run --rm --net none -e NOTSETANYWHERE busybox sh -c 'echo "${NOTSETANYWHERE-unset}"'

### env-empty-value
docker run --rm --net none -e EMPTY= busybox sh -c 'echo "[${EMPTY-unset}]"'

### env-file
printf 'A=1\n# comment\n\nB=two words\nC\n' > env.list
C=fromhost docker run --rm --net none --env-file env.list busybox sh -c 'echo "$A|$B|$C"'

### env-file-missing
#: modern the docker CLI 28 prints errors without 20.10's final '.', with a blank line and "Run 'docker run --help' for more information"
docker run --rm --net none --env-file nosuch.list busybox true; echo "exit $?"

### env-path-override
docker run --rm --net none -e PATH=/bin busybox sh -c 'echo $PATH'

### env-home-root
docker run --rm --net none busybox sh -c 'echo $HOME'

### env-home-user
docker run --rm --net none -u nobody busybox sh -c 'echo $HOME'

### env-home-uid-unknown
docker run --rm --net none -u 4321 busybox sh -c 'echo $HOME'

### env-hostname-var
docker run --rm --net none -h envhost busybox sh -c 'echo $HOSTNAME'

### env-inspect
docker create --name dtest-env --net none -e Z=1 busybox >/dev/null
docker inspect -f '{{json .Config.Env}}' dtest-env
docker rm dtest-env >/dev/null

### user-default
docker run --rm --net none busybox id

### user-name
docker run --rm --net none -u nobody busybox id

### user-uid
docker run --rm --net none -u 1000 busybox id

### user-uid-gid
docker run --rm --net none -u 1000:1000 busybox id

### user-name-group
#: modern the docker CLI 28 prints errors without 20.10's final '.', with a blank line and "Run 'docker run --help' for more information" (also for errors at start)
docker run --rm --net none -u nobody:daemon busybox id

### user-unknown-name
#: modern the docker CLI 28 prints errors without 20.10's final '.', with a blank line and "Run 'docker run --help' for more information" (also for errors at start)
docker run --rm --net none -u nosuchuser busybox id; echo "exit $?"

### user-unknown-group
#: modern the docker CLI 28 prints errors without 20.10's final '.', with a blank line and "Run 'docker run --help' for more information" (also for errors at start); 20.10's client also logged 'error waiting for container: context canceled'
docker run --rm --net none -u root:nosuchgroup busybox id; echo "exit $?"

### user-group-add
#: modern the docker CLI 28 prints errors without 20.10's final '.', with a blank line and "Run 'docker run --help' for more information" (also for errors at start)
docker run --rm --net none --group-add daemon --group-add 4242 busybox id

### user-group-add-unknown
#: modern the docker CLI 28 prints errors without 20.10's final '.', with a blank line and "Run 'docker run --help' for more information" (also for errors at start)
docker run --rm --net none --group-add nosuchgroup busybox id; echo "exit $?"

### user-supplementary-from-group-file
#: modern the docker CLI 28 prints errors without 20.10's final '.', with a blank line and "Run 'docker run --help' for more information" (also for errors at start)
docker run --rm --net none -u daemon busybox id

### user-root-uid0-gid
docker run --rm --net none -u 0:100 busybox id

### user-proc-status
docker run --rm --net none -u 1000:2000 busybox grep -E '^(Uid|Gid|Groups)' /proc/self/status

### user-umask
docker run --rm --net none busybox sh -c umask

### workdir-default
docker run --rm --net none busybox pwd

### workdir-exists
docker run --rm --net none -w /etc busybox pwd

### workdir-user-owned
docker run --rm --net none -u 1000 -w /newdir busybox sh -c 'pwd; stat -c "%u %a" /newdir'

### workdir-is-file
#: modern the docker CLI 28 prints a run's error with 'Run ... for more information' (20.10: a '.' appended, "See 'docker run --help'.")
#= docker: Error response from daemon: Cannot mkdir: /etc/passwd is not a directory
#=
#= Run 'docker run --help' for more information
#= exit 125
docker run --rm --net none -w /etc/passwd busybox pwd; echo "exit $?"
