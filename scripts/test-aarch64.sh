#!/usr/bin/env bash
# The library on 64-bit ARM (aarch64), from this x86-64 machine: what the x86-only code
# (AVX2, AVX-512, BMI2 paths behind cfg(target_arch = "x86_64")) leaves for every other
# processor must build without a warning there, and its tests must pass.
#   scripts/test-aarch64.sh          # check: clippy -D warnings of every target of the
#                                    # workspace (library, CLI, tests, benches), ~2-3 min
#   scripts/test-aarch64.sh test     # also the library's unit and integration tests, run
#                                    # under qemu-user (~15 min of CPU with the build)
# Installs what it lacks: the Rust target (rustup, from static.rust-lang.org), the cross
# C compiler for zstd, lz4 and snappy (apt: gcc-aarch64-linux-gnu), and for `test`
# qemu-user. Where the Rust target cannot be downloaded it says so and exits 0: the
# check is skipped, not passed.
# Environment: CARGO_TARGET_DIR (default target/aarch64-cross, apart from the x86 build).
set -euo pipefail
cd "$(dirname "$0")/.."
mode=${1:-check}
case $mode in
  check | test) ;;
  *) echo "usage: $0 [check|test]" >&2; exit 2 ;;
esac
target=aarch64-unknown-linux-gnu
if ! rustup target list --installed 2>/dev/null | grep -qx "$target"; then
  if ! rustup target add "$target"; then
    echo "test-aarch64: SKIPPED: the Rust target $target could not be installed (no network" \
      "to static.rust-lang.org?)"
    exit 0
  fi
fi
need_apt=()
command -v aarch64-linux-gnu-gcc >/dev/null || need_apt+=(gcc-aarch64-linux-gnu libc6-dev-arm64-cross)
[ "$mode" = test ] && ! command -v qemu-aarch64 >/dev/null && need_apt+=(qemu-user)
if [ ${#need_apt[@]} -gt 0 ]; then
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need_apt[@]}" >/dev/null
fi
export CC_aarch64_unknown_linux_gnu=aarch64-linux-gnu-gcc
export AR_aarch64_unknown_linux_gnu=aarch64-linux-gnu-ar
export CARGO_TARGET_AARCH64_UNKNOWN_LINUX_GNU_LINKER=aarch64-linux-gnu-gcc
export CARGO_TARGET_AARCH64_UNKNOWN_LINUX_GNU_RUNNER="qemu-aarch64 -L /usr/aarch64-linux-gnu"
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-target/aarch64-cross}
cargo clippy --workspace --all-targets --locked --features test-panic --target "$target" -- -D warnings
if [ "$mode" = test ]; then
  # The library's tests only: the CLI's run the `zipnn` binary as a process, which this
  # machine cannot execute without binfmt_misc.
  cargo test -p zipnn --release --locked --features test-panic --target "$target" --lib --tests
fi
echo "test-aarch64: $mode passed"
