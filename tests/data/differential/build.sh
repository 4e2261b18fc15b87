# Differential scenarios: docker build with BuildKit (DOCKER_BUILDKIT=1 on Docker 20.10),
# every Dockerfile instruction. A RUN needs --network none there (no bridge).

### build-from-only
printf 'FROM busybox\n' > Dockerfile
docker build -q -t dtest-b1 . >/dev/null
docker image inspect -f '{{json .Config.Cmd}} {{.RootFS.Type}} {{len .RootFS.Layers}}' dtest-b1

### build-run-creates-file
printf 'FROM busybox\nRUN echo built > /built\n' > Dockerfile
docker build -q --network none -t dtest-b2 . >/dev/null
docker run --rm --net none dtest-b2 cat /built

### build-run-exec-form
printf 'FROM busybox\nRUN ["sh", "-c", "echo exec form > /f"]\n' > Dockerfile
docker build -q --network none -t dtest-b3 . >/dev/null
docker run --rm --net none dtest-b3 cat /f

### build-run-fails
printf 'FROM busybox\nRUN exit 7\n' > Dockerfile
docker build -q --network none -t dtest-b4 . >/dev/null 2>&1; echo "exit $?"
docker image inspect dtest-b4 >/dev/null 2>&1; echo "image $?"

### build-cmd-shell-form
printf 'FROM busybox\nCMD echo shell form $HOME\n' > Dockerfile
docker build -q -t dtest-b5 . >/dev/null
docker image inspect -f '{{json .Config.Cmd}}' dtest-b5
docker run --rm --net none dtest-b5

### build-cmd-exec-form
printf 'FROM busybox\nCMD ["echo", "exec", "form"]\n' > Dockerfile
docker build -q -t dtest-b6 . >/dev/null
docker run --rm --net none dtest-b6

### build-entrypoint-and-cmd
printf 'FROM busybox\nENTRYPOINT ["echo", "ep"]\nCMD ["default"]\n' > Dockerfile
docker build -q -t dtest-b7 . >/dev/null
docker run --rm --net none dtest-b7
docker run --rm --net none dtest-b7 override

### build-entrypoint-resets-cmd
printf 'FROM busybox\nCMD ["x"]\nENTRYPOINT ["echo"]\n' > Dockerfile
docker build -q -t dtest-b8 . >/dev/null
docker image inspect -f '{{json .Config.Entrypoint}} {{json .Config.Cmd}}' dtest-b8

### build-entrypoint-shell-form
printf 'FROM busybox\nENTRYPOINT echo shell ep\n' > Dockerfile
docker build -q -t dtest-b9 . >/dev/null
docker image inspect -f '{{json .Config.Entrypoint}}' dtest-b9
docker run --rm --net none dtest-b9 ignored

### build-env
printf 'FROM busybox\nENV A=1 B="two words"\nENV C $A-x\n' > Dockerfile
docker build -q -t dtest-b10 . >/dev/null
docker image inspect -f '{{json .Config.Env}}' dtest-b10

### build-env-in-run
printf 'FROM busybox\nENV GREETING=hi\nRUN echo $GREETING > /g\n' > Dockerfile
docker build -q --network none -t dtest-b11 . >/dev/null
docker run --rm --net none dtest-b11 cat /g

### build-arg-default
printf 'FROM busybox\nARG V=default\nRUN echo $V > /v\n' > Dockerfile
docker build -q --network none -t dtest-b12 . >/dev/null
docker run --rm --net none dtest-b12 cat /v

### build-arg-passed
printf 'FROM busybox\nARG V=default\nRUN echo $V > /v\n' > Dockerfile
docker build -q --network none --build-arg V=given -t dtest-b13 . >/dev/null
docker run --rm --net none dtest-b13 cat /v

### build-arg-not-in-image-env
printf 'FROM busybox\nARG V=x\n' > Dockerfile
docker build -q -t dtest-b14 . >/dev/null
docker image inspect -f '{{json .Config.Env}}' dtest-b14

### build-arg-before-from
printf 'ARG BASE=busybox\nFROM $BASE\nLABEL base=$BASE\n' > Dockerfile
docker build -q -t dtest-b15 . >/dev/null
docker image inspect -f '{{json .Config.Labels}}' dtest-b15

### build-label
printf 'FROM busybox\nLABEL a=1 "b c"="d e"\nLABEL a=2\n' > Dockerfile
docker build -q -t dtest-b16 . >/dev/null
docker image inspect -f '{{json .Config.Labels}}' dtest-b16

### build-label-flag
printf 'FROM busybox\nLABEL a=file\n' > Dockerfile
docker build -q --label a=flag --label z=1 -t dtest-b17 . >/dev/null
docker image inspect -f '{{json .Config.Labels}}' dtest-b17

### build-maintainer
printf 'FROM busybox\nMAINTAINER someone <a@b.c>\n' > Dockerfile
docker build -q -t dtest-b18 . >/dev/null
docker image inspect -f '{{.Author}}' dtest-b18

### build-expose
printf 'FROM busybox\nEXPOSE 80 53/udp 8080/tcp\n' > Dockerfile
docker build -q -t dtest-b19 . >/dev/null
docker image inspect -f '{{json .Config.ExposedPorts}}' dtest-b19

### build-volume
printf 'FROM busybox\nVOLUME /data ["/other"]\n' > Dockerfile
docker build -q -t dtest-b20 . >/dev/null
docker image inspect -f '{{json .Config.Volumes}}' dtest-b20

### build-user
printf 'FROM busybox\nUSER nobody\n' > Dockerfile
docker build -q -t dtest-b21 . >/dev/null
docker image inspect -f '{{.Config.User}}' dtest-b21
docker run --rm --net none dtest-b21 id

### build-user-in-run
printf 'FROM busybox\nUSER 1000:1000\nRUN id > /tmp/id\n' > Dockerfile
docker build -q --network none -t dtest-b22 . >/dev/null
docker run --rm --net none dtest-b22 cat /tmp/id

### build-workdir
printf 'FROM busybox\nWORKDIR /a\nWORKDIR b\nWORKDIR ../c\n' > Dockerfile
docker build -q -t dtest-b23 . >/dev/null
docker image inspect -f '{{.Config.WorkingDir}}' dtest-b23
docker run --rm --net none dtest-b23 pwd

### build-workdir-env
printf 'FROM busybox\nENV D=/from/env\nWORKDIR $D\n' > Dockerfile
docker build -q -t dtest-b24 . >/dev/null
docker run --rm --net none dtest-b24 pwd

### build-stopsignal
printf 'FROM busybox\nSTOPSIGNAL SIGUSR1\n' > Dockerfile
docker build -q -t dtest-b25 . >/dev/null
docker image inspect -f '{{.Config.StopSignal}}' dtest-b25

### build-healthcheck
printf 'FROM busybox\nHEALTHCHECK --interval=5s --timeout=2s --retries=4 CMD true\n' > Dockerfile
docker build -q -t dtest-b26 . >/dev/null
docker image inspect -f '{{json .Config.Healthcheck}}' dtest-b26

### build-healthcheck-none
printf 'FROM busybox\nHEALTHCHECK NONE\n' > Dockerfile
docker build -q -t dtest-b27 . >/dev/null
docker image inspect -f '{{json .Config.Healthcheck}}' dtest-b27

### build-shell
printf 'FROM busybox\nSHELL ["/bin/sh", "-c", "-x"]\nCMD echo hi\n' > Dockerfile
docker build -q -t dtest-b28 . >/dev/null
docker image inspect -f '{{json .Config.Shell}} {{json .Config.Cmd}}' dtest-b28

### build-onbuild
printf 'FROM busybox\nONBUILD RUN echo triggered > /t\n' > Dockerfile
docker build -q -t dtest-b29 . >/dev/null
docker image inspect -f '{{json .Config.OnBuild}}' dtest-b29
printf 'FROM dtest-b29\n' > Dockerfile
docker build -q --network none -t dtest-b29b . >/dev/null
docker run --rm --net none dtest-b29b cat /t
docker image inspect -f '{{json .Config.OnBuild}}' dtest-b29b

### build-copy-file
echo content > f.txt
printf 'FROM busybox\nCOPY f.txt /dst/\n' > Dockerfile
docker build -q -t dtest-b30 . >/dev/null
docker run --rm --net none dtest-b30 sh -c 'cat /dst/f.txt; stat -c "%u:%g %a" /dst/f.txt'

### build-copy-chown
echo content > f.txt
printf 'FROM busybox\nCOPY --chown=1000:1000 f.txt /f\n' > Dockerfile
docker build -q -t dtest-b31 . >/dev/null
docker run --rm --net none dtest-b31 stat -c '%u:%g' /f

### build-copy-dir-contents
mkdir -p d/sub && echo 1 > d/a && echo 2 > d/sub/b
printf 'FROM busybox\nCOPY d /x\n' > Dockerfile
docker build -q -t dtest-b32 . >/dev/null
docker run --rm --net none dtest-b32 find /x | sort

### build-copy-wildcard
touch a1.txt a2.txt b.log
printf 'FROM busybox\nCOPY *.txt /w/\n' > Dockerfile
docker build -q -t dtest-b33 . >/dev/null
docker run --rm --net none dtest-b33 ls /w

### build-copy-missing
printf 'FROM busybox\nCOPY nosuch /x\n' > Dockerfile
docker build -q -t dtest-b34 . >/dev/null 2>&1; echo "exit $?"

### build-copy-from-stage
printf 'FROM busybox AS one\nRUN echo staged > /s\nFROM busybox\nCOPY --from=one /s /s\n' > Dockerfile
docker build -q --network none -t dtest-b35 . >/dev/null
docker run --rm --net none dtest-b35 cat /s

### build-copy-mode-preserved
echo x > run.sh && chmod 754 run.sh
printf 'FROM busybox\nCOPY run.sh /\n' > Dockerfile
docker build -q -t dtest-b36 . >/dev/null
docker run --rm --net none dtest-b36 stat -c '%a' /run.sh

### build-add-tar-extracts
mkdir t && echo inside > t/in && tar -cf a.tar -C t in
printf 'FROM busybox\nADD a.tar /ex/\n' > Dockerfile
docker build -q -t dtest-b37 . >/dev/null
docker run --rm --net none dtest-b37 cat /ex/in

### build-add-plain-file
echo plain > p
printf 'FROM busybox\nADD p /p2\n' > Dockerfile
docker build -q -t dtest-b38 . >/dev/null
docker run --rm --net none dtest-b38 cat /p2

### build-target
printf 'FROM busybox AS a\nLABEL stage=a\nFROM busybox AS b\nLABEL stage=b\n' > Dockerfile
docker build -q --target a -t dtest-b39 . >/dev/null
docker image inspect -f '{{.Config.Labels.stage}}' dtest-b39

### build-target-missing
printf 'FROM busybox AS a\n' > Dockerfile
docker build -q --target nosuch -t dtest-b40 . >/dev/null 2>&1; echo "exit $?"

### build-file-flag
printf 'FROM busybox\nLABEL which=other\n' > Other.dockerfile
docker build -q -f Other.dockerfile -t dtest-b41 . >/dev/null
docker image inspect -f '{{.Config.Labels.which}}' dtest-b41

### build-stdin-dockerfile
printf 'FROM busybox\nLABEL from=stdin\n' | docker build -q -t dtest-b42 -f - . >/dev/null
docker image inspect -f '{{.Config.Labels.from}}' dtest-b42

### build-unknown-instruction
printf 'FROM busybox\nFOO bar\n' > Dockerfile
docker build -q -t dtest-b43 . >/dev/null 2>&1; echo "exit $?"

### build-no-from
printf 'LABEL a=b\n' > Dockerfile
docker build -q -t dtest-b44 . >/dev/null 2>&1; echo "exit $?"

### build-missing-dockerfile
docker build -q -t dtest-b45 . >/dev/null 2>&1; echo "exit $?"

### build-multiple-tags
printf 'FROM busybox\nLABEL t=1\n' > Dockerfile
docker build -q -t dtest-b46:one -t dtest-b46:two . >/dev/null
docker images --format '{{.Repository}}:{{.Tag}}' dtest-b46 | sort

### build-history-count
printf 'FROM busybox\nENV A=1\nRUN true\nLABEL l=1\n' > Dockerfile
docker build -q --network none -t dtest-b47 . >/dev/null
docker history -q dtest-b47 | wc -l

### build-env-substitution-default
printf 'FROM busybox\nENV X=${UNSET:-fallback} Y=${X:+set}\n' > Dockerfile
docker build -q -t dtest-b48 . >/dev/null
docker image inspect -f '{{json .Config.Env}}' dtest-b48

### build-cmd-inherit
printf 'FROM busybox\nLABEL only=label\n' > Dockerfile
docker build -q -t dtest-b49 . >/dev/null
docker image inspect -f '{{json .Config.Cmd}}' dtest-b49

### build-iidfile
printf 'FROM busybox\nLABEL iid=1\n' > Dockerfile
docker build -q --iidfile iid -t dtest-b50 . >/dev/null
[ "$(cat iid)" = "$(docker image inspect -f '{{.Id}}' dtest-b50)" ] && echo same
