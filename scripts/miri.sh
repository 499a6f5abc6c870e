#!/usr/bin/env bash
# Runs Miri (undefined-behaviour checker) on the pure-Rust unsafe code: the Huffman codec,
# the ANS codec when it exists, the bit transforms and frame parsing. Miri cannot run the
# zstd/lz4 C code (FFI), so the engine and the LZ codecs are not included.
#   scripts/miri.sh                 # the default filters below
#   scripts/miri.sh codec::huffman  # only some test paths
# Needs nightly Rust with the miri component (rustup component add --toolchain nightly miri).
# Environment: MIRIFLAGS (default below), CARGO_TARGET_DIR (default target/miri),
#              MIRI_ALL=1 (also the large tests skipped below: hours).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
if ! cargo +nightly miri --version >/dev/null 2>&1; then
  echo "==> installing miri for nightly"
  rustup component add --toolchain nightly miri rust-src
fi
filters=("$@")
if [ ${#filters[@]} -eq 0 ]; then
  # The Huffman unit tests code 10^5..10^6 symbols each (hours under Miri): only the small
  # one runs here, and tests/miri.rs drives the Huffman coder end to end at Miri size.
  filters=(codec::huffman::tests::empty transform:: frame::)
  filters+=(codec::ans::)
fi
# Tests too large for Miri's interpreter (hundreds of thousands of symbols, or thousands of
# random inputs): they exercise the same unsafe code as the small tests that do run.
# MIRI_ALL=1 runs them (and every Huffman unit test) anyway. (The ANS tests scale
# themselves down under cfg(miri), so all but one of them run, damaged input included.)
skips=(
  codec::ans::tests::ratio_near_entropy
  codec::ans::tests::rice_tables_for_flat_planes
  codec::ans::tests::rice_table_validation
  transform::tests::simd_and_portable_paths_agree
  transform::tests::every_layout_round_trips
)
skip_args=()
for t in "${skips[@]}"; do skip_args+=(--skip "$t"); done
if [ "${MIRI_ALL:-0}" = 1 ]; then
  skip_args=()
  [ $# -gt 0 ] || filters=(codec::huffman:: "${filters[@]:1}")
fi
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$ROOT/target/miri}"
# Strict provenance and symbolic alignment catch more pointer misuse than the defaults.
export MIRIFLAGS="${MIRIFLAGS:--Zmiri-strict-provenance -Zmiri-symbolic-alignment-check}"
cargo +nightly miri setup >/dev/null
echo "==> cargo +nightly miri test --lib -- ${filters[*]}  (MIRIFLAGS=$MIRIFLAGS)"
cargo +nightly miri test --lib -- "${filters[@]}" "${skip_args[@]}"
# End to end through the public API on the pure-Rust paths (tests/miri.rs: Huffman, run
# and raw planes, every transform, frame parsing, the engine's unsafe zeroed allocation).
echo "==> cargo +nightly miri test --test miri"
cargo +nightly miri test --test miri
# Again with AVX2 + BMI2 + POPCNT enabled at compile time, so that the SIMD transform, the
# BMI2 Huffman and the AVX2 ANS paths (runtime-detected, hence never taken under plain Miri,
# which only reports features enabled at compile time) are interpreted too.
echo "==> the same with -C target-feature=+avx2,+bmi1,+bmi2,+popcnt"
RUSTFLAGS="${RUSTFLAGS:-} -C target-feature=+avx2,+bmi1,+bmi2,+popcnt" \
  CARGO_TARGET_DIR="$CARGO_TARGET_DIR-avx2" \
  cargo +nightly miri test --lib -- "${filters[@]}" "${skip_args[@]}"
RUSTFLAGS="${RUSTFLAGS:-} -C target-feature=+avx2,+bmi1,+bmi2,+popcnt" \
  CARGO_TARGET_DIR="$CARGO_TARGET_DIR-avx2" cargo +nightly miri test --test miri
