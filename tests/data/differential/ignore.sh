# Differential scenarios: .dockerignore.

### ignore-file
echo a > keep && echo b > drop
printf 'drop\n' > .dockerignore
printf 'FROM busybox\nCOPY . /ctx/\n' > Dockerfile
docker build -q -t dtest-i1 . >/dev/null
docker run --rm --net none dtest-i1 ls -A /ctx

### ignore-wildcard
touch a.log b.log c.txt
printf '*.log\n' > .dockerignore
printf 'FROM busybox\nCOPY . /ctx/\n' > Dockerfile
docker build -q -t dtest-i2 . >/dev/null
docker run --rm --net none dtest-i2 ls -A /ctx

### ignore-exception
touch a.log b.log
printf '*.log\n!b.log\n' > .dockerignore
printf 'FROM busybox\nCOPY . /ctx/\n' > Dockerfile
docker build -q -t dtest-i3 . >/dev/null
docker run --rm --net none dtest-i3 ls -A /ctx

### ignore-directory
mkdir -p dir/sub && touch dir/x dir/sub/y top
printf 'dir\n' > .dockerignore
printf 'FROM busybox\nCOPY . /ctx/\n' > Dockerfile
docker build -q -t dtest-i4 . >/dev/null
docker run --rm --net none dtest-i4 ls -A /ctx

### ignore-doublestar
mkdir -p a/b/c && touch a/b/c/x.tmp a/y.tmp z.tmp a/keep
printf '**/*.tmp\n' > .dockerignore
printf 'FROM busybox\nCOPY . /ctx/\n' > Dockerfile
docker build -q -t dtest-i5 . >/dev/null
docker run --rm --net none dtest-i5 find /ctx -type f | sort

### ignore-dockerfile-still-used
printf 'Dockerfile\n.dockerignore\n' > .dockerignore
printf 'FROM busybox\nCOPY . /ctx/\n' > Dockerfile
touch other
docker build -q -t dtest-i6 . >/dev/null
docker run --rm --net none dtest-i6 ls -A /ctx

### ignore-comments-and-blank
touch a b
printf '# a comment\n\n  a  \n' > .dockerignore
printf 'FROM busybox\nCOPY . /ctx/\n' > Dockerfile
docker build -q -t dtest-i7 . >/dev/null
docker run --rm --net none dtest-i7 ls -A /ctx

### ignore-copy-excluded-fails
touch secret
printf 'secret\n' > .dockerignore
printf 'FROM busybox\nCOPY secret /\n' > Dockerfile
docker build -q -t dtest-i8 . >/dev/null 2>&1; echo "exit $?"

### ignore-leading-slash
mkdir sub && touch x sub/x
printf '/x\n' > .dockerignore
printf 'FROM busybox\nCOPY . /ctx/\n' > Dockerfile
docker build -q -t dtest-i9 . >/dev/null
docker run --rm --net none dtest-i9 find /ctx -name x | sort

### ignore-per-dockerfile
touch a b
printf 'a\n' > .dockerignore
printf 'b\n' > Custom.dockerfile.dockerignore
printf 'FROM busybox\nCOPY . /ctx/\n' > Custom.dockerfile
docker build -q -f Custom.dockerfile -t dtest-i10 . >/dev/null
docker run --rm --net none dtest-i10 ls -A /ctx
