# Differential scenarios: signals, stop and kill, and the exit codes docker reports.

### sig-kill-default
docker run -d --name dtest-s1 --net none busybox sleep 30 >/dev/null
docker kill dtest-s1 >/dev/null
docker wait dtest-s1
docker rm dtest-s1 >/dev/null

### sig-kill-usr1-trapped
docker run -d --name dtest-s2 --net none busybox sh -c 'trap "exit 11" USR1; while :; do sleep 0.1; done' >/dev/null
sleep 0.5
docker kill -s USR1 dtest-s2
docker wait dtest-s2
docker rm dtest-s2 >/dev/null

### sig-kill-numeric
docker run -d --name dtest-s3 --net none busybox sh -c 'trap "exit 12" HUP; while :; do sleep 0.1; done' >/dev/null
sleep 0.5
docker kill -s 1 dtest-s3 >/dev/null
docker wait dtest-s3
docker rm dtest-s3 >/dev/null

### sig-kill-bad-signal
docker run -d --name dtest-s4 --net none busybox sleep 30 >/dev/null
docker kill -s NOSUCHSIG dtest-s4; echo "exit $?"
docker rm -f dtest-s4 >/dev/null

### sig-kill-not-running
#: modern moby 23+ lower-cases its kill error and errNotRunning (20.10: 'Cannot kill container: NAME: Container ID is not running')
#= Error response from daemon: cannot kill container: dtest-s5: container <id1> is not running
#= exit 1
docker create --name dtest-s5 --net none busybox >/dev/null
docker kill dtest-s5; echo "exit $?"
docker rm dtest-s5 >/dev/null

### sig-stop-term-trap
docker run -d --name dtest-s6 --net none busybox sh -c 'trap "exit 13" TERM; while :; do sleep 0.1; done' >/dev/null
sleep 0.5
docker stop dtest-s6
docker wait dtest-s6
docker rm dtest-s6 >/dev/null

### sig-stop-timeout-kill
docker run -d --name dtest-s7 --net none busybox sleep 30 >/dev/null
docker stop -t 1 dtest-s7 >/dev/null
docker inspect -f '{{.State.ExitCode}} {{.State.Status}}' dtest-s7
docker rm dtest-s7 >/dev/null

### sig-stop-signal-flag
docker run -d --name dtest-s8 --net none --stop-signal USR2 busybox sh -c 'trap "exit 14" USR2; while :; do sleep 0.1; done' >/dev/null
sleep 0.5
docker stop dtest-s8 >/dev/null
docker wait dtest-s8
docker rm dtest-s8 >/dev/null

### sig-stop-stopped
docker create --name dtest-s9 --net none busybox >/dev/null
docker stop dtest-s9; echo "exit $?"
docker rm dtest-s9 >/dev/null

### sig-rm-running
#: modern moby 23+ says 'cannot remove container "/NAME": container is running: stop the container before removing or force remove' (20.10: 'You cannot remove a running container ID...'); the scenario's sed turns 'container ' into 'container ID'
#= Error response from daemon: cannot remove container ID"/dtest-s10": container is running: stop the container before removing or force remove
#= exit 0
#= dtest-s10
docker run -d --name dtest-s10 --net none busybox sleep 30 >/dev/null
docker rm dtest-s10 2>&1 | sed 's/container [0-9a-f]*/container ID/'; echo "exit $?"
docker rm -f dtest-s10

### sig-start-attach-exit
docker create --name dtest-s11 --net none busybox sh -c 'echo started; exit 6' >/dev/null
docker start -a dtest-s11; echo "exit $?"
docker rm dtest-s11 >/dev/null

### sig-restart-exit-code
docker run --name dtest-s12 --net none busybox sh -c 'exit 9'; echo "exit $?"
docker start dtest-s12 >/dev/null
docker wait dtest-s12
docker inspect -f '{{.State.ExitCode}} {{.RestartCount}}' dtest-s12
docker rm dtest-s12 >/dev/null

### sig-oom-exit-137
docker run --rm --net none busybox sh -c 'kill -KILL $$'; echo "exit $?"

### sig-exit-255
docker run --rm --net none busybox sh -c 'exit 255'; echo "exit $?"

### sig-exit-256-wraps
docker run --rm --net none busybox sh -c 'exit 256'; echo "exit $?"

### sig-wait-multiple
docker run -d --name dtest-s13 --net none busybox sh -c 'exit 1' >/dev/null
docker run -d --name dtest-s14 --net none busybox sh -c 'exit 2' >/dev/null
docker wait dtest-s13 dtest-s14
docker rm dtest-s13 dtest-s14

### sig-wait-missing
docker wait dtest-nosuch; echo "exit $?"
