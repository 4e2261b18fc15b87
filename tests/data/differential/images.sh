# Differential scenarios: images (tag, rmi, save/load, history, ls filters).

### img-ls-busybox
docker images --format '{{.Repository}} {{.Tag}}'

### img-tag
docker tag busybox dtest-img:1
docker images --format '{{.Repository}}:{{.Tag}}' | sort
docker rmi dtest-img:1

### img-tag-invalid
#: modern the docker CLI 28's reference parser names the repository it refuses ('repository name (library/Bad) must be lowercase')
docker tag busybox 'Bad:Name'; echo "exit $?"

### img-rmi-missing
#: modern the docker CLI 28 prints the daemon's message with the tag (20.10: 'Error: No such image: NAME')
docker rmi dtest-nosuchimage; echo "exit $?"

### img-rmi-in-use
docker tag busybox dtest-img2
docker create --name dtest-imgc --net none dtest-img2 >/dev/null
docker rmi dtest-img2 2>&1 | sed 's/container [0-9a-f]*/container ID/'
docker rm dtest-imgc >/dev/null

### img-rmi-untag-only
docker tag busybox dtest-img3
docker rmi dtest-img3

### img-inspect-missing
docker image inspect dtest-nosuchimage; echo "exit $?"

### img-inspect-fields
docker image inspect -f '{{.Os}} {{.Architecture}} {{json .RepoTags}} {{json .Config.Cmd}}' busybox

### img-save-load
docker tag busybox dtest-img4:saved
docker save dtest-img4:saved -o img.tar
docker rmi dtest-img4:saved >/dev/null
docker load -i img.tar
docker images --format '{{.Repository}}:{{.Tag}}' dtest-img4

### img-load-garbage
echo notatar > bad.tar
docker load -i bad.tar >/dev/null 2>&1; echo "exit $?"

### img-history
docker history --format '{{.CreatedBy}}' busybox

### img-ls-filter-reference
docker tag busybox dtest-img5:a
docker tag busybox dtest-img5:b
docker images --format '{{.Tag}}' --filter reference='dtest-img5:*' | sort

### img-ls-quiet-dedup
docker tag busybox dtest-img6
docker images -q | sort -u | wc -l

### img-ls-dangling
printf 'FROM busybox\nLABEL v=1\n' > Dockerfile
docker build -q -t dtest-img7 . >/dev/null
printf 'FROM busybox\nLABEL v=2\n' > Dockerfile
docker build -q -t dtest-img7 . >/dev/null
docker images --filter dangling=true --format '{{.Repository}} {{.Tag}}'

### img-import
#: known the runtime's error wording: Docker's passes through containerd and runc ('failed to create shim task: OCI runtime create failed: runc create failed: unable to start container process: exec: ...: unknown'), Dockyard's is runc's inner message only
mkdir r && echo imported > r/file && tar -C r -cf r.tar .
docker import -c 'CMD ["cat", "/file"]' r.tar dtest-img8 >/dev/null
docker run --rm --net none dtest-img8

### img-commit
docker run --name dtest-img9c --net none busybox sh -c 'echo committed > /c'
docker commit -c 'CMD ["cat", "/c"]' dtest-img9c dtest-img9 >/dev/null
docker run --rm --net none dtest-img9
docker rm dtest-img9c >/dev/null

### img-size-column
#: known Dockyard's image size is its layers' uncompressed tar size (2.13MB); Docker's is the unpacked files' (the graph driver's DiffSize, 1.98MB)
docker images --format '{{.Size}}' busybox
