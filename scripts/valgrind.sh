#!/usr/bin/env bash
# Builds the C example (examples/c/roundtrip.c) against the release library and runs it
# under valgrind memcheck with full leak checking on a real weight file: any invalid access,
# use of uninitialised memory or definite/possible leak fails the run.
#   scripts/valgrind.sh [WEIGHT_FILE [DTYPE]]   (default: tests/data/*.bf16, bf16)
# Environment: CARGO_TARGET_DIR (default target), CC (default cc).
# Needs: valgrind, a C compiler, Rust.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
command -v valgrind >/dev/null 2>&1 || { echo "valgrind.sh: valgrind is required" >&2; exit 1; }
TARGET="${CARGO_TARGET_DIR:-$ROOT/target}"
FILE="${1:-$(ls tests/data/*.bf16 | head -n 1)}"
DTYPE="${2:-${FILE##*.}}"

echo "==> cargo build --release --lib"
cargo build --release --locked --lib --quiet
WORK="$(mktemp -d "${TMPDIR:-/tmp}/zipnn-valgrind.XXXXXX")"
trap 'rm -rf "$WORK"' EXIT
# The one suppression: the TLS block (DTV) glibc allocates for each worker of rayon's global
# pool. Those threads live until the process exits (by design; the pool is never torn down),
# so memcheck sees their DTV as "possibly lost". Nothing else is suppressed.
cat >"$WORK/zipnn.supp" <<'SUPP'
{
   live-pool-thread-tls
   Memcheck:Leak
   match-leak-kinds: possible
   fun:calloc
   ...
   fun:_dl_allocate_tls
   ...
   fun:pthread_create*
}
SUPP
echo "==> building examples/c/roundtrip.c (shared, -O1 -g)"
"${CC:-cc}" -std=c99 -O1 -g -Wall -Wextra -Iinclude examples/c/roundtrip.c \
  -L"$TARGET/release" -lzipnn -Wl,-rpath,"$TARGET/release" -o "$WORK/roundtrip"

run() {
  echo "==> valgrind $*"
  valgrind --tool=memcheck --suppressions="$WORK/zipnn.supp" --leak-check=full --show-leak-kinds=definite,possible \
    --errors-for-leak-kinds=definite,possible --track-origins=yes --error-exitcode=1 \
    "$@" 2>&1 | tee "$WORK/log" | grep -E '==[0-9]+== +(ERROR SUMMARY|definitely|indirectly|possibly|still reachable|in use at exit|total heap usage)|^[^=]' || true
  # tee hides valgrind's status; read it back from the summary.
  grep -q 'ERROR SUMMARY: 0 errors' "$WORK/log" || { echo "valgrind found errors:"; cat "$WORK/log"; exit 1; }
}
run "$WORK/roundtrip" "$FILE" "$DTYPE"
# A missing file: the error path must not leak either (the example's exit status is 1).
echo "==> valgrind on the error path (missing file)"
if valgrind --suppressions="$WORK/zipnn.supp" --leak-check=full --errors-for-leak-kinds=definite,possible --error-exitcode=99 \
     "$WORK/roundtrip" "$WORK/missing" "$DTYPE" >/dev/null 2>"$WORK/log2"; then :; else
  [ $? -ne 99 ] || { cat "$WORK/log2"; exit 1; }
fi
grep -E 'ERROR SUMMARY' "$WORK/log2"
echo "valgrind: no errors, no leaks"
