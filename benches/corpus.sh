#!/usr/bin/env bash
# Runs benches/corpus.py with its dependencies: builds the library, fetches the corpus if
# needed, and makes a venv with the reference package (it pulls torch), zstandard and numpy.
#   benches/corpus.sh [CORPUS_DIR] [--old LIB] [--speed FILE ...]
# Environment: ZIPNN_BENCH_VENV (default .venv-bench), ZIPNN_BENCH_CACHE, ZIPNN_BENCH_RUNS.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
venv=${ZIPNN_BENCH_VENV:-$root/.venv-bench}
corpus=${1:-$root/corpus}
[ $# -gt 0 ] && shift
(cd "$root" && cargo build --release --locked --quiet -p zipnn)
if [ ! -f "$corpus/minilm.bf16.raw" ]; then
  fetch=$root/../shared/corpus/fetch.sh
  [ -x "$fetch" ] || { echo "no corpus at $corpus and no $fetch" >&2; exit 1; }
  "$fetch" "$corpus"
fi
if [ ! -x "$venv/bin/python" ]; then
  python3 -m venv "$venv"
  "$venv/bin/pip" install -q numpy zstandard zipnn==0.5.4
fi
exec "$venv/bin/python" "$root/benches/corpus.py" "$corpus" "$@"
