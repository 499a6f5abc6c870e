#!/usr/bin/env bash
# Runs every test in every language: the README's test command, and what CI runs.
#   scripts/test-all.sh            # everything
#   scripts/test-all.sh rust c     # only some suites: rust, header, c, python, go, demo, aarch64
# Needs Rust, Go, Python 3.11, gcc/g++, cmake and GoogleTest; the suites install the rest
# (cbindgen with cargo, pkg-config with apt, Python packages into a venv outside the clone:
# scripts/test-python.sh; the aarch64 Rust target and cross C compiler:
# scripts/test-aarch64.sh). README.md says what a run costs in time, disk and downloads.
set -euo pipefail
cd "$(dirname "$0")/.."
suites=("$@")
[ ${#suites[@]} -gt 0 ] || suites=(rust header demo c python go aarch64)
failed=()
# CPU seconds (user + system) used so far by the processes this shell waited for, into
# $cpu: with the wall time, it says what a suite costs even on a machine busy with other
# work. (`times` must run in this shell, not in a pipe or $(...), which are subshells.)
times_file=$(mktemp)
trap 'rm -f "$times_file"' EXIT
cpu=0
cpu_now() {
  times >"$times_file"
  read -r cpu < <(awk 'NR == 2 {
    n = split($0, f, /[ ms]+/); t = 0
    for (i = 1; i + 1 <= n; i += 2) if (f[i] != "") t += f[i] * 60 + f[i + 1]
    printf "%d\n", t }' "$times_file")
}
# Free space on the clone's file system, for the suite lines: a full disk fails a suite
# in ways that do not say so (a build or pip stops half way), so every line says it.
free_disk() { df -Pk . | awk 'NR == 2 { printf "%.1f GB free", $4 / 1048576 }'; }
run() {
  local name=$1; shift
  echo
  echo "=== $name: $* ($(free_disk)) ==="
  local t0=$SECONDS c0
  cpu_now; c0=$cpu
  if "$@"; then
    cpu_now
    echo "=== $name: ok ($((SECONDS - t0)) s, $((cpu - c0)) s of CPU, $(free_disk)) ==="
  else
    cpu_now
    echo "=== $name: FAILED ($((SECONDS - t0)) s, $((cpu - c0)) s of CPU, $(free_disk)) ==="
    failed+=("$name")
  fi
}
rust_suite() {
  cargo fmt --all -- --check &&
  cargo clippy --workspace --all-targets --locked --features test-panic -- -D warnings &&
  cargo test --workspace --release --locked --features test-panic &&
  # The fuzz targets run only with nightly (the fuzz suite), but must always compile.
  cargo check --manifest-path fuzz/Cargo.toml --all-targets --locked --quiet
}
for s in "${suites[@]}"; do
  case $s in
    rust)   run rust rust_suite ;;
    header) run header scripts/gen-header.sh --check ;;
    demo)   run demo cargo run --release --locked --quiet --example demo ;;
    c)      run c scripts/test-c.sh ;;
    python) run python scripts/test-python.sh ;;
    go)     run go scripts/test-go.sh ;;
    aarch64) run aarch64 scripts/test-aarch64.sh ;;  # check only; `scripts/test-aarch64.sh test` runs the tests under qemu
    fuzz)   run fuzz scripts/fuzz.sh "${FUZZ_SECONDS:-20}" ;;  # not in the default list: needs nightly; ~80 s + build
    *) echo "unknown suite: $s" >&2; exit 2 ;;
  esac
done
echo
cpu_now
if [ ${#failed[@]} -gt 0 ]; then
  echo "FAILED suites: ${failed[*]} ($SECONDS s, $cpu s of CPU in all)"
  exit 1
fi
echo "all suites passed: ${suites[*]} ($SECONDS s, $cpu s of CPU in all)"
