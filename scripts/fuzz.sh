#!/usr/bin/env bash
# Runs every cargo-fuzz target in fuzz/ for a bounded time and prints executions per target.
#   scripts/fuzz.sh              # 120 s per target
#   scripts/fuzz.sh 20           # 20 s per target (the CI smoke run)
#   scripts/fuzz.sh 60 round_trip decompress   # only some targets
# Needs nightly Rust (cargo +nightly); installs cargo-fuzz if missing. Corpora live in
# fuzz/corpus/<target> (not committed) and are seeded from tests/vectors, tests/regressions
# (crash inputs, and the seed streams, safetensors files and archives in
# tests/regressions/seeds/<target>, written by `ZIPNN_BLESS=1 cargo test --test
# regressions`) and any *.safetensors in tests/data. fuzz/dicts/<target>.dict is passed as
# a dictionary when it exists. A crash leaves its input in fuzz/artifacts/<target>/ and
# fails the run: copy it to tests/regressions/ as <target>-<what>.znn for the frame
# targets, <target>-<what> for stream_decode and safetensors (tests/regressions/main.rs
# runs both).
# Environment: CARGO_TARGET_DIR (default fuzz/target).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
SECONDS_PER_TARGET="${1:-120}"
shift || true
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=(decompress round_trip frame_info decompress_dst_too_small
  stream_decode safetensors reference_decode adaptive lanes)

cargo +nightly --version >/dev/null 2>&1 || { echo "fuzz.sh: nightly Rust is required" >&2; exit 1; }
if ! cargo fuzz --version >/dev/null 2>&1; then
  echo "==> installing cargo-fuzz"
  cargo install cargo-fuzz --locked
fi

# --- Seed corpora ---------------------------------------------------------------------------
seed() {
  local dir="fuzz/corpus/$1"
  mkdir -p "$dir"
  shift
  local f
  for f in "$@"; do
    [ -f "$f" ] && cp -f "$f" "$dir/seed-$(basename "$(dirname "$f")")-$(basename "$f")"
  done
  return 0
}
frames=(tests/vectors/valid/*.znn tests/vectors/invalid/*.znn tests/regressions/*.znn)
seed decompress "${frames[@]}"
seed frame_info "${frames[@]}"
seed decompress_dst_too_small "${frames[@]}"
# round_trip: each golden input behind the 8 option bytes of fuzz/src/lib.rs
# (dtype, method, level|threads, chunk_size, threshold, bg|meta, zstd, lz4).
mkdir -p fuzz/corpus/round_trip
dtypes=(raw bf16 fp16 fp32 fp64 fp8_e4m3 fp8_e5m2 int8 uint8)
methods=(Auto Huffman Zstd Lz4 Snappy Raw)
index_of() { local x=$1 i=0; shift; for v in "$@"; do [ "$v" = "$x" ] && { echo $i; return; }; i=$((i + 1)); done; echo 0; }
while IFS=$'\t' read -r name kind dtype method _cs bg input _frame _expect; do
  [ "$kind" = valid ] || continue
  d=$(index_of "$dtype" "${dtypes[@]}")
  m=$(index_of "$method" "${methods[@]}")
  b=$(index_of "$bg" 1 2 4 8)
  out="fuzz/corpus/round_trip/seed-$name"
  printf "$(printf '\\x%02x\\x%02x\\x%02x\\x%02x\\x%02x\\x%02x\\x%02x\\x%02x' \
    "$d" "$m" 1 0 242 "$b" 10 0)" >"$out"
  cat "tests/vectors/$input" >>"$out"
done < <(grep -v '^#' tests/vectors/manifest.tsv)
for f in tests/regressions/*.rt; do
  [ -f "$f" ] && cp -f "$f" "fuzz/corpus/round_trip/seed-$(basename "$f")"
done
# stream_decode: byte 0 picks piece sizes, then a stream (seeds/stream_decode: generated
# streams and every golden frame wrapped in a stream), or two option bytes and data to
# compress as a stream (tests/regressions/harness.rs); here each golden input that way.
seed stream_decode tests/regressions/seeds/stream_decode/* tests/regressions/stream_decode-*
while IFS=$'\t' read -r name kind dtype _method _cs _bg input _frame _expect; do
  [ "$kind" = valid ] || continue
  d=$(index_of "$dtype" "${dtypes[@]}")
  out="fuzz/corpus/stream_decode/seed-rt-$name"
  printf "$(printf '\\x%02x\\x%02x\\x%02x' 9 "$d" 49)" >"$out"
  cat "tests/vectors/$input" >>"$out"
done < <(grep -v '^#' tests/vectors/manifest.tsv)
# safetensors: byte 0 picks compression options, then a safetensors file or an archive.
seed safetensors tests/regressions/seeds/safetensors/* tests/regressions/safetensors-*
for f in tests/data/*.safetensors; do
  [ -f "$f" ] && { printf '\x00' | cat - "$f" >"fuzz/corpus/safetensors/seed-data-$(basename "$f")"; }
done

# reference_decode: the files the reference package wrote (tests/reference-vectors) and
# earlier crash inputs.
seed reference_decode tests/reference-vectors/*.znn tests/reference-vectors/hf/*.znn \
  tests/regressions/reference_decode-*.znn

# lanes: two length bytes and a codec 11 payload (the planes of the bf16-lanes vector).
seed lanes tests/regressions/seeds/lanes/*

# --- Run ------------------------------------------------------------------------------------
echo "==> building fuzz targets"
cargo +nightly fuzz build
summary=()
failed=()
for t in "${targets[@]}"; do
  echo "==> fuzz $t for ${SECONDS_PER_TARGET} s"
  log="$(mktemp "${TMPDIR:-/tmp}/zipnn-fuzz-$t.XXXXXX")"
  dict=()
  [ -f "fuzz/dicts/$t.dict" ] && dict=(-dict="fuzz/dicts/$t.dict")
  if cargo +nightly fuzz run "$t" -- -max_total_time="$SECONDS_PER_TARGET" \
       -rss_limit_mb=4096 -timeout=30 -print_final_stats=1 "${dict[@]}" >"$log" 2>&1; then
    status=ok
  else
    status=CRASH
    failed+=("$t")
    tail -n 60 "$log"
  fi
  runs=$(grep -Eo 'Done [0-9]+ runs' "$log" | grep -Eo '[0-9]+' | tail -n 1 || true)
  [ -n "$runs" ] || runs=$(grep -Eo 'stat::number_of_executed_units: *[0-9]+' "$log" | grep -Eo '[0-9]+$' | tail -n 1 || true)
  cov=$(grep -Eo 'cov: [0-9]+' "$log" | tail -n 1 | grep -Eo '[0-9]+' || true)
  corpus=$(find "fuzz/corpus/$t" -type f | wc -l)
  summary+=("$(printf '%-26s %-6s executions=%-10s cov=%-6s corpus=%s' "$t" "$status" "${runs:-?}" "${cov:-?}" "$corpus")")
  rm -f "$log"
done
echo
echo "==> fuzz summary (${SECONDS_PER_TARGET} s per target)"
printf '%s\n' "${summary[@]}"
if [ ${#failed[@]} -gt 0 ]; then
  echo "crashes in: ${failed[*]} (inputs in fuzz/artifacts/)"
  exit 1
fi
