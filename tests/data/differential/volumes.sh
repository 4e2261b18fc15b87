# Differential scenarios: volumes and bind mounts.

### vol-create-ls-rm
docker volume create dtest-v1
docker volume ls --format '{{.Driver}} {{.Name}}' --filter name=dtest-v1
docker volume rm dtest-v1

### vol-named-persists
docker run --rm --net none -v dtest-v2:/data busybox sh -c 'echo kept > /data/f'
docker run --rm --net none -v dtest-v2:/data busybox cat /data/f
docker volume rm dtest-v2 >/dev/null

### vol-copy-up-from-image
docker run --rm --net none -v dtest-v3:/etc busybox sh -c 'ls /etc | grep -c passwd'
docker volume rm dtest-v3 >/dev/null

### vol-nocopy
docker run --rm --net none -v dtest-v4:/etc:nocopy busybox ls /etc | wc -l
docker volume rm dtest-v4 >/dev/null

### vol-anonymous-rm
docker run --rm --net none -v /anon busybox true
docker volume ls -q | wc -l

### vol-anonymous-kept-without-rm
docker run --name dtest-v5 --net none -v /anon busybox true
docker volume ls -q | wc -l
docker rm -v dtest-v5 >/dev/null
docker volume ls -q | wc -l

### vol-in-use-rm
docker create --name dtest-v6 --net none -v dtest-v6vol:/d busybox >/dev/null
docker volume rm dtest-v6vol 2>&1 | sed 's/\[[0-9a-f]*\]/[ID]/'
docker rm dtest-v6 >/dev/null
docker volume rm dtest-v6vol

### vol-read-only
docker run --rm --net none -v dtest-v7:/d:ro busybox touch /d/x; echo "exit $?"
docker volume rm dtest-v7 >/dev/null

### vol-bind-mount
mkdir host && echo from-host > host/f
docker run --rm --net none -v "$PWD/host:/h" busybox cat /h/f

### vol-bind-relative-refused
mkdir host
docker run --rm --net none -v host:/h busybox true 2>&1 | head -1 | cut -c1-40; docker volume ls -q

### vol-bind-missing-created
docker run --rm --net none -v "$PWD/notyet:/h" busybox true
[ -d notyet ] && echo created

### vol-mount-flag-bind-missing
#: modern the docker CLI 28 prints errors without 20.10's final '.', with a blank line and "Run 'docker run --help' for more information"
docker run --rm --net none --mount "type=bind,src=$PWD/missing,dst=/m" busybox true 2>&1 | sed "s#$PWD#PWD#"; echo "exit $?"

### vol-mount-tmpfs
docker run --rm --net none --mount type=tmpfs,dst=/t,tmpfs-size=1m busybox sh -c 'df -k /t | awk "NR==2{print \$2}"'

### vol-mount-volume
docker run --rm --net none --mount type=volume,src=dtest-v8,dst=/v busybox sh -c 'echo ok > /v/f && cat /v/f'
docker volume inspect -f '{{.Name}} {{.Driver}} {{.Scope}}' dtest-v8
docker volume rm dtest-v8 >/dev/null

### vol-inspect-labels
docker volume create --label k=v dtest-v9 >/dev/null
docker volume inspect -f '{{json .Labels}} {{.Mountpoint | printf "%.0s"}}' dtest-v9
docker volume rm dtest-v9 >/dev/null

### vol-inspect-missing
#: modern the docker CLI 28 prints the daemon's 'get NAME: no such volume' (20.10: 'Error: No such volume: NAME')
docker volume inspect dtest-nosuchvol; echo "exit $?"

### vol-prune
#: modern API 1.42+ (Docker 23+) volume prune removes only anonymous volumes unless --all (20.10 removed every unused volume)
#= Total reclaimed space: N
docker volume create dtest-v10 >/dev/null
docker volume prune -f | sed 's/reclaimed space: .*/reclaimed space: N/'

### vol-volumes-from
docker run --name dtest-v11 --net none -v /shared busybox sh -c 'echo shared > /shared/f'
docker run --rm --net none --volumes-from dtest-v11 busybox cat /shared/f
docker rm -v dtest-v11 >/dev/null

### vol-container-mounts-inspect
docker create --name dtest-v12 --net none -v dtest-v12vol:/data:ro busybox >/dev/null
docker inspect -f '{{range .Mounts}}{{.Type}} {{.Name}} {{.Destination}} {{.RW}} {{.Mode}}{{end}}' dtest-v12
docker rm dtest-v12 >/dev/null
docker volume rm dtest-v12vol >/dev/null

### vol-image-volume-anonymous
printf 'FROM busybox\nVOLUME /data\n' > Dockerfile
docker build -q -t dtest-v13 . >/dev/null
docker create --name dtest-v13c --net none dtest-v13 >/dev/null
docker inspect -f '{{range .Mounts}}{{.Type}} {{.Destination}} {{.RW}}{{end}}' dtest-v13c
docker rm -v dtest-v13c >/dev/null
