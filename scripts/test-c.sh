#!/usr/bin/env bash
# Builds zipnn's C/C++ side with CMake and its tests (-DZIPNN_BUILD_TESTS=ON), runs the C and
# C++ test suites through CTest, installs into a temporary prefix, checks that the installed
# libraries carry no debug info, and builds and runs the C and C++ examples and the README's
# C++ sample against that install (with find_package, shared and static, and with pkg-config).
#
# Usage: scripts/test-c.sh            (from any directory)
# Environment: BUILD_DIR (default <repo>/build), CARGO (cargo executable), JOBS (parallelism),
#              KEEP_WORK=1 (keep the temporary install prefix and example builds).
# Needs: Rust (cargo), gcc/g++, cmake >= 3.16, GoogleTest (libgtest-dev), pkg-config, python3.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
BUILD_DIR="${BUILD_DIR:-$ROOT/build}"
JOBS="${JOBS:-$(nproc 2>/dev/null || echo 2)}"

step() { printf '\n==> %s\n' "$*"; }
die() { printf 'test-c.sh: %s\n' "$*" >&2; exit 1; }

# --- Tools ---------------------------------------------------------------------------------
for tool in cmake cc c++ python3 readelf; do
  command -v "$tool" >/dev/null 2>&1 || die "$tool is required"
done
if ! command -v pkg-config >/dev/null 2>&1; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    step "installing pkg-config"
    apt-get update
    apt-get install -y pkg-config
  else
    die "pkg-config is missing (apt-get install pkg-config)"
  fi
fi

cmake_args=(-DCMAKE_BUILD_TYPE=Release -DZIPNN_BUILD_TESTS=ON)
if [ -n "${CARGO:-}" ]; then
  cmake_args+=("-DCARGO=$CARGO")
fi

# --- Configure, build, test ----------------------------------------------------------------
step "configure ($BUILD_DIR)"
cmake -S "$ROOT/cmake" -B "$BUILD_DIR" "${cmake_args[@]}"

step "build"
cmake --build "$BUILD_DIR" --parallel "$JOBS"

step "ctest"
(cd "$BUILD_DIR" && ctest --output-on-failure --parallel "$JOBS")

# --- Install and use the install -----------------------------------------------------------
WORK="$(mktemp -d "${TMPDIR:-/tmp}/zipnn-test-c.XXXXXX")"
if [ "${KEEP_WORK:-0}" = 1 ]; then
  echo "work directory kept: $WORK"
else
  trap 'rm -rf "$WORK"' EXIT
fi
PREFIX="$WORK/prefix"

step "install into $PREFIX"
cmake --install "$BUILD_DIR" --prefix "$PREFIX"
for f in lib/libzipnn.so lib/libzipnn.a include/zipnn.h include/zipnn/zipnn.hpp \
         lib/cmake/zipnn/zipnnConfig.cmake lib/cmake/zipnn/zipnnConfigVersion.cmake \
         lib/pkgconfig/zipnn.pc; do
  [ -f "$PREFIX/$f" ] || die "not installed: $f"
done

step "installed libraries: no debug info"
CARGO_LIB_DIR="$(grep -E '^ZIPNN_CARGO_TARGET_DIR:' "$BUILD_DIR/CMakeCache.txt" | cut -d= -f2-)/release"
for f in libzipnn.so libzipnn.a; do
  printf '  %-12s cargo build %9d bytes, installed %9d bytes\n' "$f" \
    "$(wc -c <"$CARGO_LIB_DIR/$f")" "$(wc -c <"$PREFIX/lib/$f")"
  sections="$(readelf -S --wide "$PREFIX/lib/$f")"
  [ -n "$sections" ] || die "readelf read no sections from $f"
  if grep -q '\.debug_' <<<"$sections"; then die "installed $f has debug sections"; fi
done

step "sample: 1 MB of float32 Gaussian weights"
SAMPLE="$WORK/sample.f32"
python3 - "$SAMPLE" <<'PY'
import random, struct, sys
rng = random.Random(1234)
n = 262144  # 1 MiB of float32
with open(sys.argv[1], "wb") as f:
    f.write(struct.pack("<%df" % n, *(rng.gauss(0.0, 0.02) for _ in range(n))))
PY
[ "$(wc -c <"$SAMPLE")" -eq 1048576 ] || die "sample has the wrong size"

# Runs one example binary on the sample with a few dtypes, and checks a failure exit code.
run_example() {
  local exe="$1"
  "$exe" "$SAMPLE" fp32
  "$exe" "$SAMPLE" bf16 >/dev/null
  "$exe" "$SAMPLE" >/dev/null
  if "$exe" "$WORK/does-not-exist" fp32 >/dev/null 2>&1; then
    die "$exe succeeded on a missing file"
  fi
  if "$exe" "$SAMPLE" not-a-dtype >/dev/null 2>&1; then
    die "$exe accepted an unknown dtype"
  fi
}

for lang in c cpp; do
  for link in shared static; do
    step "example $lang ($link) with find_package(zipnn)"
    static=OFF
    [ "$link" = static ] && static=ON
    cmake -S "$ROOT/examples/$lang" -B "$WORK/ex-$lang-$link" -DCMAKE_BUILD_TYPE=Release \
      -DCMAKE_PREFIX_PATH="$PREFIX" -DZIPNN_EXAMPLE_STATIC="$static" >/dev/null
    cmake --build "$WORK/ex-$lang-$link" --parallel "$JOBS" >/dev/null
    exe="$WORK/ex-$lang-$link/roundtrip"
    if [ "$link" = static ]; then
      if ldd "$exe" | grep -q libzipnn; then die "$exe links libzipnn.so"; fi
    fi
    run_example "$exe"
  done
done

export PKG_CONFIG_PATH="$PREFIX/lib/pkgconfig${PKG_CONFIG_PATH:+:$PKG_CONFIG_PATH}"
step "pkg-config: zipnn $(pkg-config --modversion zipnn)"
LIBDIR="$(pkg-config --variable=libdir zipnn)"

step "example c with pkg-config (shared, run via LD_LIBRARY_PATH)"
# shellcheck disable=SC2046  # pkg-config output is meant to be word-split
cc -O2 "$ROOT/examples/c/roundtrip.c" $(pkg-config --cflags --libs zipnn) -o "$WORK/pc-c"
LD_LIBRARY_PATH="$LIBDIR${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}" run_example "$WORK/pc-c"

step "example cpp with pkg-config (shared, rpath)"
# shellcheck disable=SC2046
c++ -std=c++17 -O2 "$ROOT/examples/cpp/roundtrip.cpp" $(pkg-config --cflags --libs zipnn) \
  -Wl,-rpath,"$LIBDIR" -o "$WORK/pc-cpp"
run_example "$WORK/pc-cpp"

step "example c with pkg-config --static (libzipnn.a + Libs.private)"
private_libs=()
for flag in $(pkg-config --static --libs-only-l zipnn); do
  [ "$flag" = -lzipnn ] || private_libs+=("$flag")
done
# shellcheck disable=SC2046
cc -O2 "$ROOT/examples/c/roundtrip.c" $(pkg-config --cflags zipnn) "$LIBDIR/libzipnn.a" \
  "${private_libs[@]}" -o "$WORK/pc-c-static"
if ldd "$WORK/pc-c-static" | grep -q libzipnn; then die "pc-c-static links libzipnn.so"; fi
run_example "$WORK/pc-c-static"

step "the README's C++ sample, built as written (pkg-config, shared)"
python3 "$ROOT/scripts/extract-samples.py" "$ROOT/README.md" "$WORK/readme" sample.cpp >/dev/null
# shellcheck disable=SC2046
c++ -std=c++17 -Wall -Wextra -Werror "$WORK/readme/sample.cpp" $(pkg-config --cflags --libs zipnn) \
  -Wl,-rpath,"$LIBDIR" -o "$WORK/readme/sample"
cp "$ROOT/tests/data/every-dtype.safetensors" "$WORK/readme/"
"$WORK/readme/sample" "$WORK/readme/every-dtype.safetensors" | tee "$WORK/readme/out.txt"
grep -q 'restored byte for byte' "$WORK/readme/out.txt" || die "the README sample did not finish"
[ -s "$WORK/readme/every-dtype.safetensors.znn" ] || die "the README sample wrote no archive"
if "$WORK/readme/sample" "$WORK/readme/missing.safetensors" >/dev/null 2>&1; then
  die "the README sample succeeded on a missing file"
fi

# Real weights shipped with the repository, if present (dtype from the file extension).
for f in "$ROOT"/tests/data/*.bf16 "$ROOT"/tests/data/*.fp16 "$ROOT"/tests/data/*.fp32; do
  [ -f "$f" ] || continue
  step "example c on $(basename "$f")"
  "$WORK/ex-c-shared/roundtrip" "$f" "${f##*.}"
done

# valgrind memcheck on the C example (about 20 s); skipped when valgrind is missing.
if command -v valgrind >/dev/null 2>&1; then
  step "valgrind memcheck of the C example"
  CARGO_TARGET_DIR="$(dirname "$CARGO_LIB_DIR")" "$ROOT/scripts/valgrind.sh"
else
  step "valgrind not installed: memcheck of the C example skipped"
fi

step "all C/C++ checks passed"
