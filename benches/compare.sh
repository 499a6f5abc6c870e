#!/usr/bin/env bash
# Runs benches/compare.py with its dependencies: builds the library, fetches the corpus if
# needed, and makes a venv with the reference package (it pulls torch), zstandard and numpy.
#   benches/compare.sh [CORPUS_DIR] [FILE:DTYPE ...]
#   benches/compare.sh --targets [CORPUS_DIR] [FILE:DTYPE ...]   # benches/targets.py instead
# Environment: ZIPNN_BENCH_VENV (default .venv-bench), ZIPNN_BENCH_RUNS (default 5; 9 for
# --targets).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
script=compare.py
if [ "${1:-}" = --targets ]; then
  script=targets.py
  shift
fi
venv=${ZIPNN_BENCH_VENV:-$root/.venv-bench}
corpus=${1:-$root/corpus}
[ $# -gt 0 ] && shift
(cd "$root" && cargo build --release --locked --quiet)
if [ ! -f "$corpus/minilm.bf16.raw" ]; then
  fetch=$root/../shared/corpus/fetch.sh
  [ -x "$fetch" ] || { echo "no corpus at $corpus and no $fetch" >&2; exit 1; }
  "$fetch" "$corpus"
fi
[ -x "$venv/bin/python" ] || python3 -m venv "$venv"
"$venv/bin/python" -c "import numpy, zstandard, zipnn" 2>/dev/null ||
  "$venv/bin/pip" install -q numpy zstandard zipnn==0.5.4
exec "$venv/bin/python" "$root/benches/$script" "$corpus" "$@"
