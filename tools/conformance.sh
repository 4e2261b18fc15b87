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
# Prints, per runtime, the `not ok` count (the figure docs/conformance.md compares) and
# two more: "error" blocks a program printed outside any test line (how some programs,
# e.g. the hook tests, report a failure) and programs that exited non-zero (some exit 1
# by design when the runtime rightly refuses a config: read the TAP before counting).
# Writes OUTDIR/<runtime>.tap (every program's output, headed by its exit status) and
# OUTDIR/<runtime>.notok, .errors, .exits (one line per item, "<program>: ...").
# RUNTIMES="dockyard" (or "runc") runs one only.
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
            case $f in validation/util/*) continue ;; esac
            go build -o "${f%.go}.t" "./$(dirname "$f")"
        done
    )
fi

run_all() {  # $1: label, $2: runtime binary
    tap=$OUT/$1.tap
    : >"$tap"
    : >"$OUT/$1.notok"
    : >"$OUT/$1.errors"
    : >"$OUT/$1.exits"
    for t in "$BUILD"/validation/*/*.t; do
        case $t in */validation/util/*) continue ;; esac
        name=$(basename "$t" .t)
        out=$OUT/$1.$name.out
        # The programs find ./runtimetest and their rootfs tarball in the checkout.
        rc=0
        (cd "$BUILD" && RUNTIME=$2 timeout "$PER_TEST_TIMEOUT" "$t" 2>&1) >"$out" || rc=$?
        { echo "# $name (exit status $rc)"; cat "$out"; } >>"$tap"
        grep '^not ok' "$out" | sed "s|^not ok [0-9]* *-* *|$name: |" >>"$OUT/$1.notok" || true
        # Some programs report a failure as a YAML "error" block outside any test line.
        awk -v n="$name" '
            /^(not )?ok / { intest = 1; next }
            /^  ---/ { inyaml = 1; next }
            /^  \.\.\./ { inyaml = 0; intest = 0; next }
            inyaml && !intest && /"error":/ { sub(/^ *"error": "/, ""); print n ": " substr($0, 1, 120) }
        ' "$out" >>"$OUT/$1.errors"
        [ "$rc" = 0 ] || echo "$name: exit status $rc" >>"$OUT/$1.exits"
        rm -f "$out"
    done
    echo "$1: $(wc -l <"$OUT/$1.notok") not ok, $(wc -l <"$OUT/$1.errors") errors outside a test line, $(wc -l <"$OUT/$1.exits") programs exited non-zero"
}

for r in ${RUNTIMES:-dockyard runc}; do
    case $r in
        dockyard) run_all dockyard "$DOCKYARD_RUNTIME" ;;
        runc) run_all runc "$RUNC" ;;
        *) echo "conformance: unknown runtime $r (dockyard, runc)" >&2; exit 2 ;;
    esac
done
echo "results in $OUT"
