#!/bin/sh
# OCI runtime conformance: opencontainers/runtime-tools' validation/*.t programs run
# against Dockyard's runtime and against runc on this machine, as root.
#
#   tools/conformance.sh RUNTIME_TOOLS_CHECKOUT [OUTDIR]
#
# RUNTIME_TOOLS_CHECKOUT is a checkout of https://github.com/opencontainers/runtime-tools
# (docs/conformance.md names the commit); nothing is downloaded: the programs are built
# with Debian's Go (golang-go) from the checkout's vendored modules, in a copy under
# OUTDIR (default: a temporary directory), never in this repository.
# Prints, per runtime, the `not ok` count, and writes OUTDIR/<runtime>.tap (every
# program's TAP output) and OUTDIR/<runtime>.notok (one line per failure:
# "<program>: <test description>") and OUTDIR/<runtime>.crashed (programs that ended
# without a TAP plan line).
set -eu

SRC=${1:?usage: tools/conformance.sh RUNTIME_TOOLS_CHECKOUT [OUTDIR]}
OUT=${2:-$(mktemp -d /tmp/dockyard-conformance.XXXXXX)}
HERE=$(cd "$(dirname "$0")/.." && pwd)
DOCKYARD_RUNTIME=${DOCKYARD_RUNTIME:-$HERE/.venv/bin/dockyard-runtime}
RUNC=${RUNC:-$(command -v runc)}
# Each program runs at most this long (a hung runtime must not hang the run).
PER_TEST_TIMEOUT=${PER_TEST_TIMEOUT:-120}

command -v go >/dev/null || { echo "conformance: needs Go (Debian's golang-go)" >&2; exit 1; }
[ -x "$DOCKYARD_RUNTIME" ] || { echo "conformance: $DOCKYARD_RUNTIME is not executable" >&2; exit 1; }
[ -n "$RUNC" ] || { echo "conformance: needs runc (Debian's runc)" >&2; exit 1; }

mkdir -p "$OUT"
BUILD=$OUT/runtime-tools
if [ ! -x "$BUILD/runtimetest" ]; then
    rm -rf "$BUILD"
    cp -a "$SRC" "$BUILD"
    (
        cd "$BUILD"
        export GOFLAGS=-mod=vendor GOPROXY=off GOCACHE="$OUT/gocache" GOPATH="$OUT/gopath"
        CGO_ENABLED=0 go build -tags "netgo osusergo" -o runtimetest ./cmd/runtimetest
        for f in validation/*/*.go; do
            go build -o "${f%.go}.t" "./$(dirname "$f")"
        done
    )
fi

run_all() {  # $1: label, $2: runtime binary
    tap=$OUT/$1.tap
    notok=$OUT/$1.notok
    : >"$tap"
    : >"$notok"
    : >"$OUT/$1.crashed"
    for t in "$BUILD"/validation/*/*.t; do
        name=$(basename "$t" .t)
        echo "# $name" >>"$tap"
        # The programs find ./runtimetest and their rootfs tarball in the checkout.
        (cd "$BUILD" && RUNTIME=$2 timeout "$PER_TEST_TIMEOUT" "$t" 2>&1) >"$OUT/$1.$name.out" || true
        cat "$OUT/$1.$name.out" >>"$tap"
        grep '^not ok' "$OUT/$1.$name.out" | sed "s|^not ok [0-9]* *-* *|$name: |" >>"$notok" || true
        if ! grep -q '^1\.\.[0-9]' "$OUT/$1.$name.out"; then
            echo "$name" >>"$OUT/$1.crashed"
        fi
        rm -f "$OUT/$1.$name.out"
    done
    echo "$1: $(wc -l <"$notok") not ok; programs without a TAP plan (crashed or timed out): $(wc -l <"$OUT/$1.crashed")"
}

run_all dockyard "$DOCKYARD_RUNTIME"
run_all runc "$RUNC"
echo "results in $OUT"
