# Differential scenarios: docker exec (format: tests/differential.py).

### exec-echo
docker run -d --name dtest-x1 --net none busybox sleep 30 >/dev/null
docker exec dtest-x1 echo from exec
docker rm -f dtest-x1 >/dev/null

### exec-exit-status
docker run -d --name dtest-x2 --net none busybox sleep 30 >/dev/null
docker exec dtest-x2 sh -c 'exit 4'; echo "exit $?"
docker rm -f dtest-x2 >/dev/null

### exec-not-found
#: modern moby 28 keeps the 127 of a command not found (c866a7e5f8, "daemon/exec: don't overwrite exit code if set"); 20.10 overwrote it with 126
#= exit 127
docker run -d --name dtest-x3 --net none busybox sleep 30 >/dev/null
docker exec dtest-x3 nosuchcmd >/dev/null 2>&1; echo "exit $?"
docker rm -f dtest-x3 >/dev/null

### exec-not-running
#: modern moby 23+ says 'container ID is not running' (errNotRunning, lower case; 20.10: 'Container ID is not running')
#= Error response from daemon: container <id1> is not running
#= exit 1
docker create --name dtest-x4 --net none busybox >/dev/null
docker exec dtest-x4 true; echo "exit $?"
docker rm dtest-x4 >/dev/null

### exec-no-such-container
#: modern the docker CLI 28 prints the daemon's 'Error response from daemon: No such container' (20.10: 'Error: No such container')
docker exec dtest-nosuch true; echo "exit $?"

### exec-env
docker run -d --name dtest-x5 --net none -e A=run busybox sleep 30 >/dev/null
docker exec -e B=exec dtest-x5 sh -c 'echo $A $B'
docker rm -f dtest-x5 >/dev/null

### exec-env-override
docker run -d --name dtest-x6 --net none -e A=run busybox sleep 30 >/dev/null
docker exec -e A=exec dtest-x6 sh -c 'echo $A'
docker rm -f dtest-x6 >/dev/null

### exec-workdir
docker run -d --name dtest-x7 --net none -w /tmp busybox sleep 30 >/dev/null
docker exec dtest-x7 pwd
docker exec -w /etc dtest-x7 pwd
docker rm -f dtest-x7 >/dev/null

### exec-user
docker run -d --name dtest-x8 --net none busybox sleep 30 >/dev/null
docker exec -u nobody dtest-x8 id
docker exec -u 1234:5678 dtest-x8 id
docker rm -f dtest-x8 >/dev/null

### exec-inherits-run-user
docker run -d --name dtest-x9 --net none -u 99 busybox sleep 30 >/dev/null
docker exec dtest-x9 id
docker rm -f dtest-x9 >/dev/null

### exec-stdin
docker run -d --name dtest-x10 --net none busybox sleep 30 >/dev/null
echo via stdin | docker exec -i dtest-x10 cat
docker rm -f dtest-x10 >/dev/null

### exec-detach
docker run -d --name dtest-x11 --net none busybox sleep 30 >/dev/null
docker exec -d dtest-x11 sh -c 'echo made > /tmp/f'
sleep 0.5
docker exec dtest-x11 cat /tmp/f
docker rm -f dtest-x11 >/dev/null

### exec-sees-hostname
docker run -d --name dtest-x12 --net none -h xh busybox sleep 30 >/dev/null
docker exec dtest-x12 hostname
docker rm -f dtest-x12 >/dev/null

### exec-missing-command
#: modern the docker CLI 28's usage error: "docker: 'docker exec' requires at least 2 arguments", the usage line, "See 'docker exec --help' for more information"
docker run -d --name dtest-x13 --net none busybox sleep 30 >/dev/null
docker exec dtest-x13; echo "exit $?"
docker rm -f dtest-x13 >/dev/null

### exec-paused
docker run -d --name dtest-x14 --net none busybox sleep 30 >/dev/null
docker pause dtest-x14 >/dev/null
docker exec dtest-x14 true; echo "exit $?"
docker unpause dtest-x14 >/dev/null
docker rm -f dtest-x14 >/dev/null

### exec-caps-from-container
docker run -d --name dtest-x15 --net none --cap-drop ALL busybox sleep 30 >/dev/null
docker exec dtest-x15 grep CapEff /proc/self/status
docker rm -f dtest-x15 >/dev/null

### exec-ps-sees-both
docker run -d --name dtest-x16 --net none busybox sleep 30 >/dev/null
docker exec dtest-x16 ps -o comm | sort
docker rm -f dtest-x16 >/dev/null
