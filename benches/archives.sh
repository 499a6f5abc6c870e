#!/usr/bin/env bash
# Safetensors archives on the fetched corpus: byte-exact round trips, ratio and speed of
# every .safetensors file with the `zipnn` tool, and the fine-tunes as deltas against their
# base (ratio against the XOR's order-0 bound).
#   benches/archives.sh [CORPUS_DIR] [-T THREADS]
# Fetches the corpus with ../shared/corpus/fetch.sh when CORPUS_DIR has none.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
corpus=${1:-$root/corpus}
[ $# -gt 0 ] && shift
(cd "$root" && cargo build --release --locked --quiet --bin zipnn --example delta)
if [ ! -f "$corpus/minilm.bf16.safetensors" ]; then
  fetch=$root/../shared/corpus/fetch.sh
  [ -x "$fetch" ] || { echo "no corpus at $corpus and no $fetch" >&2; exit 1; }
  "$fetch" "$corpus"
fi
zipnn=$root/target/release/zipnn
echo "== every safetensors file as an archive (round trip checked by zipnn bench)"
"$zipnn" bench -q "$@" "$corpus"/*.safetensors
for dt in bf16 f32; do
  base=$corpus/minilm.$dt.safetensors ft=$corpus/minilm-ft.$dt.safetensors
  [ -f "$ft" ] || continue
  echo
  echo "== $(basename "$ft") as a delta against $(basename "$base")"
  "$zipnn" bench -q "$@" --base "$base" "$ft"
  "$root/target/release/examples/delta" "$base" "$ft"
done
