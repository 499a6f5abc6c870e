#!/usr/bin/env bash
# Builds the Rust library and runs the Go binding's checks: vet, tests under the race
# detector, one run with GOEXPERIMENT=cgocheck2, a pkg-config link check, and short
# bounded fuzz runs. Runnable from any directory. Exits non-zero on the first failure.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
GO_DIR="$ROOT/bindings/go"
# Count-based budgets (-fuzztime Nx): a duration budget trips a race in Go 1.26's fuzz
# coordinator (golang/go#75804: a spurious "context deadline exceeded" at the deadline,
# no crasher), fixed in Go 1.27. At about 30k execs/s here these take 10-20 s each.
FUZZTIME="${ZIPNN_FUZZTIME:-400000x}"

step() { printf '\n==> %s\n' "$*"; }

command -v cargo >/dev/null || { echo "test-go.sh: cargo not found" >&2; exit 1; }
command -v go >/dev/null || { echo "test-go.sh: go not found" >&2; exit 1; }
export CGO_ENABLED=1

step "cargo build --release --locked"
(cd "$ROOT" && cargo build --release --locked)
test -f "$ROOT/target/release/libzipnn.a" || { echo "libzipnn.a was not built" >&2; exit 1; }

cd "$GO_DIR"

step "gofmt"
unformatted="$(gofmt -l .)"
if [ -n "$unformatted" ]; then
    echo "gofmt needed on: $unformatted" >&2
    exit 1
fi

step "go vet ./..."
go vet ./...

step "go test -race -count=1 ./..."
go test -race -count=1 ./...

step "GOEXPERIMENT=cgocheck2 go test -count=1 ./..."
GOEXPERIMENT=cgocheck2 go test -count=1 ./...

if command -v pkg-config >/dev/null; then
    step "go test -tags zipnn_pkgconfig (shared library through a temporary zipnn.pc)"
    pcdir="$(mktemp -d)"
    trap 'rm -rf "$pcdir"' EXIT
    cat >"$pcdir/zipnn.pc" <<PC
libdir=$ROOT/target/release
includedir=$ROOT/include

Name: zipnn
Description: Lossless compression of neural-network weights
Version: $(sed -n 's/^#define ZIPNN_VERSION_STRING "\(.*\)"/\1/p' "$ROOT/include/zipnn.h")
Libs: -L\${libdir} -lzipnn
Libs.private: -lm -ldl -lpthread -lrt -lgcc_s -lutil
Cflags: -I\${includedir}
PC
    PKG_CONFIG_PATH="$pcdir" LD_LIBRARY_PATH="$ROOT/target/release${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}" \
        go test -tags zipnn_pkgconfig -count=1 -run 'TestVersion|TestDefaultOptions|TestEmptyInputs|Example' ./...
else
    step "pkg-config not found: skipping the zipnn_pkgconfig check"
fi

# Bounded fuzz runs. New inputs found while fuzzing are minimized for at most 2s each
# (the default of 60s would stall a short run); crashers land in testdata/fuzz/.
fuzz() {
    step "go test -run '^\$' -fuzz '^$1\$' -fuzztime $2"
    go test -run '^$' -fuzz "^$1\$" -fuzztime "$2" -fuzzminimizetime 2s .
}
fuzz FuzzDecompress "$FUZZTIME"
fuzz FuzzRoundTrip "$FUZZTIME"
fuzz FuzzReader "${ZIPNN_FUZZTIME_READER:-200000x}"

step "all Go checks passed"
