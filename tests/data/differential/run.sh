# Differential scenarios: docker run (format: tests/differential.py). Docker's containers
# here have no network (the recording dockerd runs with --bridge=none): --net none.

### run-echo
docker run --rm --net none busybox echo hello world

### run-exit-status
docker run --rm --net none busybox sh -c 'exit 3'; echo "exit $?"

### run-exit-zero
docker run --rm --net none busybox true; echo "exit $?"

### run-false
docker run --rm --net none busybox false; echo "exit $?"

### run-killed-by-signal
docker run --rm --net none busybox sh -c 'kill -9 $$'; echo "exit $?"

### run-term-self
docker run --rm --net none busybox sh -c 'kill -TERM $$; sleep 1'; echo "exit $?"

### run-not-found-127
docker run --rm --net none busybox nosuchcommand >/dev/null 2>&1; echo "exit $?"

### run-not-executable-126
docker run --rm --net none busybox /etc/passwd >/dev/null 2>&1; echo "exit $?"

### run-directory-126
docker run --rm --net none busybox /etc >/dev/null 2>&1; echo "exit $?"

### run-no-such-image-125
docker run --rm --net none --pull never nosuchimage:1 true >/dev/null 2>&1; echo "exit $?"

### run-bad-flag-125
#: modern the docker CLI 28 prints the usage line and "Run 'docker run --help' for more information" after an unknown flag
docker run --nosuchflag busybox true; echo "exit $?"

### run-missing-image-arg
#: modern the docker CLI 28 prints usage errors this way (20.10: '"docker run" requires at least 1 argument.', the usage, the command's description)
#= docker: 'docker run' requires at least 1 argument
#=
#= Usage:  docker run [OPTIONS] IMAGE [COMMAND] [ARG...]
#=
#= See 'docker run --help' for more information
#= exit 1
docker run; echo "exit $?"

### run-args-after-image
docker run --rm --net none busybox echo -n --rm -e X=1

### run-stdin-piped
echo piped input | docker run --rm -i --net none busybox cat

### run-stdin-not-attached
echo piped input | docker run --rm --net none busybox cat; echo "exit $?"

### run-stdout-stderr
docker run --rm --net none busybox sh -c 'echo out; echo err >&2' 2>/dev/null

### run-stderr-only
docker run --rm --net none busybox sh -c 'echo out; echo err >&2' 2>&1 >/dev/null

### run-name
docker run --name dtest-name --net none busybox true
docker ps -a --filter name=dtest-name --format '{{.Names}} {{.Status}}' | sed 's/ (.*//'
docker rm dtest-name

### run-name-conflict
docker create --name dtest-conflict --net none busybox >/dev/null
docker create --name dtest-conflict --net none busybox; echo "exit $?"
docker rm dtest-conflict

### run-detach-wait
docker run -d --name dtest-wait --net none busybox sh -c 'exit 5' >/dev/null
docker wait dtest-wait
docker rm dtest-wait >/dev/null

### run-detach-logs
docker run -d --name dtest-logs --net none busybox sh -c 'echo one; echo two >&2' >/dev/null
docker wait dtest-logs >/dev/null
docker logs dtest-logs 2>&1 | sort
docker rm dtest-logs >/dev/null

### run-rm-removes
docker run --rm --name dtest-rm --net none busybox true
docker ps -aq --filter name=dtest-rm | wc -l

### run-entrypoint-override
docker run --rm --net none --entrypoint echo busybox a b

### run-entrypoint-empty
docker run --rm --net none --entrypoint '' busybox echo cleared

### run-entrypoint-sh-c
docker run --rm --net none --entrypoint /bin/sh busybox -c 'echo $0 $1' x y

### run-hostname
docker run --rm --net none --hostname myhost busybox hostname

### run-hostname-file
docker run --rm --net none -h h1 busybox cat /etc/hostname

### run-domainname
docker run --rm --net none -h h1 --domainname example.org busybox sh -c 'hostname; cat /proc/sys/kernel/domainname'

### run-read-only
docker run --rm --net none --read-only busybox touch /x; echo "exit $?"

### run-read-only-tmp-writable
docker run --rm --net none --read-only --tmpfs /tmp busybox sh -c 'touch /tmp/x && echo ok'

### run-tmpfs-mode
docker run --rm --net none --tmpfs /data:mode=1777 busybox stat -c '%a %U' /data

### run-cap-drop
docker run --rm --net none --cap-drop chown busybox chown 1 /tmp; echo "exit $?"

### run-cap-all-drop-grep
docker run --rm --net none --cap-drop ALL busybox grep CapEff /proc/self/status

### run-default-caps
docker run --rm --net none busybox grep CapEff /proc/self/status

### run-cap-add
docker run --rm --net none --cap-drop ALL --cap-add NET_ADMIN busybox grep CapEff /proc/self/status

### run-pid-one
docker run --rm --net none busybox sh -c 'echo $$'

### run-init
docker run --rm --net none --init busybox ps -o pid,comm | head -2

### run-ulimit-nofile
docker run --rm --net none --ulimit nofile=512:1024 busybox sh -c 'ulimit -n; ulimit -Hn'

### run-workdir-flag
docker run --rm --net none -w /work/sub busybox pwd

### run-workdir-created
docker run --rm --net none -w /made/here busybox sh -c 'ls -ld /made/here | cut -c1-10'

### run-workdir-relative
#: modern the docker CLI 28 prints daemon errors of run without the final '.' and with "Run 'docker run --help'"
#= docker: Error response from daemon: the working directory 'rel' is invalid, it needs to be an absolute path
#=
#= Run 'docker run --help' for more information
#= exit 125
docker run --rm --net none -w rel busybox pwd; echo "exit $?"

### run-label-inspect
docker create --name dtest-label --net none -l a=1 -l b busybox >/dev/null
docker inspect -f '{{json .Config.Labels}}' dtest-label
docker rm dtest-label >/dev/null

### run-restart-conflict-rm
#: modern the docker CLI 28's message (20.10: "Conflicting options: --restart and --rm.")
#= docker: conflicting options: cannot specify both --restart and --rm
#=
#= Run 'docker run --help' for more information
#= exit 125
docker run --rm --restart always --net none busybox true; echo "exit $?"

### run-proc-cmdline
docker run --rm --net none busybox cat /proc/1/cmdline | tr '\0' ' '; echo

### run-shm-size
docker run --rm --net none --shm-size 8m busybox df -k /dev/shm | awk 'NR==2{print $2}'

### run-dev-listing
docker run --rm --net none busybox ls /dev | grep -v -e '^pts$' -e '^shm$' | sort | tr '\n' ' '; echo

### run-mounts-proc-sys
docker run --rm --net none busybox sh -c 'grep -E " /(proc|sys|dev) " /proc/mounts | cut -d" " -f1-3'

### run-masked-paths
docker run --rm --net none busybox sh -c 'cat /proc/kcore 2>&1 | head -c 0; ls /proc/acpi 2>/dev/null | wc -l; cat /proc/timer_list | wc -c'

### run-sysctl
docker run --rm --net none --sysctl kernel.shm_rmid_forced=1 busybox cat /proc/sys/kernel/shm_rmid_forced

### run-stop-signal-label
docker create --name dtest-ss --net none --stop-signal SIGUSR1 --stop-timeout 3 busybox >/dev/null
docker inspect -f '{{.Config.StopSignal}} {{.Config.StopTimeout}}' dtest-ss
docker rm dtest-ss >/dev/null

### run-oom-score
docker run --rm --net none --oom-score-adj 100 busybox cat /proc/self/oom_score_adj

### run-memory-limit
docker create --name dtest-mem --net none -m 64m busybox >/dev/null
docker inspect -f '{{.HostConfig.Memory}}' dtest-mem
docker rm dtest-mem >/dev/null

### run-cpus
docker create --name dtest-cpus --net none --cpus 1.5 busybox >/dev/null
docker inspect -f '{{.HostConfig.NanoCpus}}' dtest-cpus
docker rm dtest-cpus >/dev/null

### run-tty-flag-noninteractive
docker run --rm --net none -t busybox sh -c '[ -t 1 ] && echo tty || echo notty' | tr -d '\r'
