#!/usr/bin/env bash
# Runs the Go binding's checks, both ways it links (bindings/go/README.md):
#  - -tags zipnn_dev (the repository's own target/release/libzipnn.a): vet, tests under the
#    race detector, one run with GOEXPERIMENT=cgocheck2, bounded fuzz runs;
#  - the default build (an installed zipnn through pkg-config): the CMake package installed
#    into target/go-test/prefix, the tests against it, and `go get` + `go build` of the README's
#    sample program in a module outside the repository, served by a local module proxy
#    (GOPROXY=file://...) made from the working tree.
# Runnable from any directory. Exits non-zero on the first failure.
# Needs: Go, Rust (cargo), cmake, a C compiler, pkg-config, python3.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
GO_DIR="$ROOT/bindings/go"
# Count-based budgets (-fuzztime Nx): a duration budget trips a race in Go 1.26's fuzz
# coordinator (golang/go#75804: a spurious "context deadline exceeded" at the deadline,
# no crasher), fixed in Go 1.27. At about 30k execs/s here these take 10-20 s each.
FUZZTIME="${ZIPNN_FUZZTIME:-400000x}"

step() { printf '\n==> %s\n' "$*"; }
die() { printf 'test-go.sh: %s\n' "$*" >&2; exit 1; }

for tool in cargo go cmake pkg-config python3; do
  command -v "$tool" >/dev/null || die "$tool not found"
done
export CGO_ENABLED=1
# Never fetch another Go toolchain for this test.
export GOTOOLCHAIN=local
WORK="$(mktemp -d "${TMPDIR:-/tmp}/zipnn-test-go.XXXXXX")"
# The module cache below is made writable (-modcacherw) so that this removes it.
trap 'chmod -R u+w "$WORK" 2>/dev/null; rm -rf "$WORK"' EXIT

step "cargo build --release --locked"
(cd "$ROOT" && cargo build --release --locked --lib)
test -f "$ROOT/target/release/libzipnn.a" || die "libzipnn.a was not built"

cd "$GO_DIR"

step "gofmt"
unformatted="$(gofmt -l .)"
[ -z "$unformatted" ] || die "gofmt needed on: $unformatted"

step "go vet -tags zipnn_dev ./..."
go vet -tags zipnn_dev ./...

step "go test -race -tags zipnn_dev -count=1 ./..."
go test -race -tags zipnn_dev -count=1 ./...

step "GOEXPERIMENT=cgocheck2 go test -tags zipnn_dev -count=1 ./..."
GOEXPERIMENT=cgocheck2 go test -tags zipnn_dev -count=1 ./...

# --- The default build: an installed zipnn ---------------------------------------------------
# Go's build cache keeps pkg-config's answer without noticing when it changes
# (golang/go#24544): these checks use a fixed prefix and a Go build cache of their own, both
# in this clone's target/, so what Go remembers is always this prefix.
PREFIX="$ROOT/target/go-test/prefix"
export GOCACHE="$ROOT/target/go-test/gocache"
step "cmake install (tests off) into $PREFIX"
rm -rf "$PREFIX"
cmake -S "$ROOT/cmake" -B "$ROOT/target/go-test/cmake-build" -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build "$ROOT/target/go-test/cmake-build" >/dev/null
cmake --install "$ROOT/target/go-test/cmake-build" --prefix "$PREFIX" >/dev/null
export PKG_CONFIG_PATH="$PREFIX/lib/pkgconfig${PKG_CONFIG_PATH:+:$PKG_CONFIG_PATH}"
export LD_LIBRARY_PATH="$PREFIX/lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
pkg-config --exists zipnn || die "zipnn.pc was not installed"

step "go test -count=1 ./... (default build: pkg-config zipnn $(pkg-config --modversion zipnn))"
go test -count=1 ./...
# The test binary links the installed libzipnn.so, not the repository's static library.
go test -c -o "$WORK/zipnn.test" .
linked="$(ldd "$WORK/zipnn.test")"
grep -q "libzipnn.so => $PREFIX/lib/libzipnn.so" <<<"$linked" ||
  die "the default build does not link the installed libzipnn.so: $linked"

# --- The module path, and `go get` from outside the repository --------------------------------
MODULE="$(go list -m)"
VERSION="v$(sed -n 's/^#define ZIPNN_VERSION_STRING "\(.*\)"/\1/p' "$ROOT/include/zipnn.h")"
step "module path $MODULE: every mention agrees with go.mod"
REPO_PATH="${MODULE%/bindings/go}"
[ "$REPO_PATH" != "$MODULE" ] || die "the module path $MODULE does not end in /bindings/go"
bad="$(cd "$ROOT" && grep -rnoE 'github\.com/[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+/bindings/go' \
        --include='*.go' --include='*.md' --include='*.sh' --exclude-dir=target \
        --exclude-dir=build --exclude-dir=.git . | grep -v ":$MODULE\$" || true)"
[ -z "$bad" ] || die "these mentions disagree with go.mod's module path $MODULE: $bad"
pc_url="$(sed -n 's/^URL: https:\/\///p' "$ROOT/cmake/zipnn.pc.in")"
[ "$pc_url" = "$REPO_PATH" ] || die "cmake/zipnn.pc.in's URL ($pc_url) is not $REPO_PATH"

PROXY="$WORK/proxy"
step "local module proxy: $MODULE@$VERSION from the working tree"
python3 - "$GO_DIR" "$PROXY" "$MODULE" "$VERSION" <<'PY'
# The GOPROXY protocol's files for one version (https://go.dev/ref/mod#goproxy-protocol):
# <module>/@v/list, <version>.info, <version>.mod, <version>.zip (every file of the module's
# directory under <module>@<version>/).
import json, os, re, sys, zipfile
src, proxy, module, version = sys.argv[1:]
escaped = re.sub(r"[A-Z]", lambda m: "!" + m.group(0).lower(), module)
d = os.path.join(proxy, escaped, "@v")
os.makedirs(d)
with open(os.path.join(d, "list"), "w") as f:
    f.write(version + "\n")
with open(os.path.join(d, version + ".info"), "w") as f:
    json.dump({"Version": version, "Time": "2026-01-01T00:00:00Z"}, f)
with open(os.path.join(src, "go.mod"), "rb") as f:
    gomod = f.read()
with open(os.path.join(d, version + ".mod"), "wb") as f:
    f.write(gomod)
n = 0
with zipfile.ZipFile(os.path.join(d, version + ".zip"), "w", zipfile.ZIP_DEFLATED) as z:
    for root, dirs, files in os.walk(src):
        dirs[:] = sorted(x for x in dirs if not x.startswith("."))
        for name in sorted(files):
            path = os.path.join(root, name)
            rel = os.path.relpath(path, src).replace(os.sep, "/")
            z.write(path, f"{module}@{version}/{rel}")
            n += 1
print(f"{n} files in {version}.zip")
PY

APP="$WORK/app"
step "go get + go build of the README's sample, outside the repository ($APP)"
python3 "$ROOT/scripts/extract-samples.py" "$GO_DIR/README.md" "$APP" go.mod main.go >/dev/null
grep -qx "require $MODULE $VERSION" "$APP/go.mod" ||
  die "the README's sample go.mod does not require $MODULE $VERSION"
# (Not `( ... ) || die`: that would switch set -e off inside.)
(
  cd "$APP"
  export GOPROXY="file://$PROXY" GONOSUMDB="$MODULE" GOFLAGS=-modcacherw
  export GOMODCACHE="$WORK/modcache" GOPATH="$WORK/gopath"
  go get "$MODULE@$VERSION"
  go build -o app .
  ./app | tee out.txt
  grep -q "round trip ok" out.txt
  # What was built is the module from the proxy, not the repository's directory.
  go list -m -f '{{.Path}} {{.Version}} {{.Dir}}' "$MODULE" | grep -q "^$MODULE $VERSION $GOMODCACHE/"
)
cd "$GO_DIR"

# --- Bounded fuzz runs (-tags zipnn_dev) ------------------------------------------------------
# New inputs found while fuzzing are minimized for at most 2s each (the default of 60s would
# stall a short run); crashers land in testdata/fuzz/.
fuzz() {
  step "go test -tags zipnn_dev -run '^\$' -fuzz '^$1\$' -fuzztime $2"
  go test -tags zipnn_dev -run '^$' -fuzz "^$1\$" -fuzztime "$2" -fuzzminimizetime 2s .
}
fuzz FuzzDecompress "$FUZZTIME"
fuzz FuzzRoundTrip "$FUZZTIME"
fuzz FuzzReader "${ZIPNN_FUZZTIME_READER:-200000x}"

step "all Go checks passed"
