# Differential scenarios: inspect, ps and --format output.

### fmt-inspect-state-created
docker create --name dtest-f1 --net none busybox >/dev/null
docker inspect -f '{{.State.Status}} {{.State.Running}} {{.State.ExitCode}} {{.State.Pid}}' dtest-f1
docker rm dtest-f1 >/dev/null

### fmt-inspect-state-exited
docker run --name dtest-f2 --net none busybox sh -c 'exit 2'
docker inspect -f '{{.State.Status}} {{.State.Running}} {{.State.ExitCode}} {{.State.OOMKilled}}' dtest-f2
docker rm dtest-f2 >/dev/null

### fmt-inspect-name-path-args
docker create --name dtest-f3 --net none busybox echo a b >/dev/null
docker inspect -f '{{.Name}} {{.Path}} {{json .Args}}' dtest-f3
docker rm dtest-f3 >/dev/null

### fmt-inspect-config-cmd
docker create --name dtest-f4 --net none busybox >/dev/null
docker inspect -f '{{json .Config.Cmd}} {{json .Config.Entrypoint}} {{.Config.Image}} {{.Config.WorkingDir}}|' dtest-f4
docker rm dtest-f4 >/dev/null

### fmt-inspect-hostconfig
docker create --name dtest-f5 --net none --restart on-failure:3 busybox >/dev/null
docker inspect -f '{{.HostConfig.NetworkMode}} {{.HostConfig.RestartPolicy.Name}} {{.HostConfig.RestartPolicy.MaximumRetryCount}} {{.HostConfig.AutoRemove}}' dtest-f5
docker rm dtest-f5 >/dev/null

### fmt-inspect-type-container
docker create --name dtest-f6 --net none busybox >/dev/null
docker inspect --type container -f '{{.Name}}' dtest-f6
docker inspect --type image -f '{{.Id}}' dtest-f6; echo "exit $?"
docker rm dtest-f6 >/dev/null

### fmt-inspect-missing
docker inspect dtest-nosuch; echo "exit $?"

### fmt-inspect-json-array
docker create --name dtest-f7 --net none busybox >/dev/null
docker inspect dtest-f7 | head -1
docker inspect dtest-f7 | tail -1
docker rm dtest-f7 >/dev/null

### fmt-inspect-two
#: known docker inspect renders an image as a map with missingkey=error ('map has no entry for key'); Dockyard's templates print '<no value>'
docker create --name dtest-f8 --net none busybox >/dev/null
docker inspect -f '{{.Name}}' dtest-f8 busybox
docker rm dtest-f8 >/dev/null

### fmt-template-functions
docker create --name dtest-f9 --net none -e A=1 busybox >/dev/null
docker inspect -f '{{upper .Name}} {{lower "AB"}} {{len .Config.Env}} {{join .Config.Cmd ","}} {{index .Config.Env 0}}' dtest-f9
docker rm dtest-f9 >/dev/null

### fmt-template-bad
docker inspect -f '{{.Nope' busybox; echo "exit $?"

### fmt-template-missing-field
#: known docker inspect renders raw JSON maps with missingkey=error ('map has no entry for key', exit 1); Dockyard's templates print '<no value>'
docker inspect -f '{{.NoSuchField}}' busybox; echo "exit $?"

### fmt-template-split-title
docker inspect -f '{{title "hello world"}} {{split "a:b:c" ":"}}' busybox

### fmt-ps-format-names
docker create --name dtest-f10 --net none busybox echo x >/dev/null
docker ps -a --format '{{.Names}}|{{.Image}}|{{.Command}}|{{.Ports}}|{{.Status}}' --filter name=dtest-f10
docker rm dtest-f10 >/dev/null

### fmt-ps-filter-status
docker create --name dtest-f11 --net none busybox >/dev/null
docker ps -a --filter status=created --format '{{.Names}}'
docker ps --format '{{.Names}}' | wc -l
docker rm dtest-f11 >/dev/null

### fmt-ps-filter-exited
docker run --name dtest-f12 --net none busybox sh -c 'exit 3'
docker ps -a --filter exited=3 --format '{{.Names}} {{.State}}'
docker rm dtest-f12 >/dev/null

### fmt-ps-label-filter
docker create --name dtest-f13 --net none -l team=x busybox >/dev/null
docker ps -a --filter label=team=x --format '{{.Names}} {{.Labels}} {{.Label "team"}}'
docker rm dtest-f13 >/dev/null

### fmt-ps-json
docker create --name dtest-f14 --net none busybox >/dev/null
docker ps -a --format '{{json .Names}}'
docker rm dtest-f14 >/dev/null

### fmt-ps-table-header
docker ps --format 'table {{.Names}}\t{{.Image}}'

### fmt-images-table-header
docker images --format 'table {{.Repository}}\t{{.Tag}}'

### fmt-ps-empty
docker ps -q | wc -l

### fmt-rename
docker create --name dtest-f15 --net none busybox >/dev/null
docker rename dtest-f15 dtest-f15b
docker inspect -f '{{.Name}}' dtest-f15b
docker rm dtest-f15b >/dev/null

### fmt-port-none
docker create --name dtest-f16 --net none busybox >/dev/null
docker port dtest-f16; echo "exit $?"
docker rm dtest-f16 >/dev/null

### fmt-top
docker run -d --name dtest-f17 --net none busybox sleep 30 >/dev/null
docker top dtest-f17 | awk '{print $1, $NF}'
docker rm -f dtest-f17 >/dev/null

### fmt-diff
docker run --name dtest-f18 --net none busybox sh -c 'mkdir /newdir && touch /newdir/f && rm /bin/true'
docker diff dtest-f18 | sort
docker rm dtest-f18 >/dev/null

### fmt-cp-out
docker run --name dtest-f19 --net none busybox sh -c 'echo copied > /c.txt'
docker cp dtest-f19:/c.txt out.txt && cat out.txt
docker rm dtest-f19 >/dev/null

### fmt-cp-in
echo into > in.txt
docker create --name dtest-f20 --net none busybox cat /in.txt >/dev/null
docker cp in.txt dtest-f20:/in.txt
docker start -a dtest-f20
docker rm dtest-f20 >/dev/null

### fmt-cp-missing
#: modern the docker CLI 28 prints the daemon's 'Could not find the file ... in container ...' (20.10: 'Error: No such container:path: ...')
docker create --name dtest-f21 --net none busybox >/dev/null
docker cp dtest-f21:/nosuch out; echo "exit $?"
docker rm dtest-f21 >/dev/null

### fmt-logs-tail
docker run --name dtest-f22 --net none busybox sh -c 'for i in 1 2 3 4 5; do echo $i; done'
docker logs --tail 2 dtest-f22
docker rm dtest-f22 >/dev/null

### fmt-version-api
#: known the docker CLI's templates see Go field names ('.Client.APIVersion'); Dockyard's see the JSON names ('.Client.ApiVersion')
docker version --format '{{.Client.APIVersion}}' >/dev/null; echo "exit $?"
