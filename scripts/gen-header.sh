#!/usr/bin/env bash
# Regenerates include/zipnn.h with the pinned cbindgen; `--check` fails if it is stale.
set -euo pipefail
cd "$(dirname "$0")/.."
want=0.29.4
if ! command -v cbindgen >/dev/null || [ "$(cbindgen --version | awk '{print $2}')" != "$want" ]; then
  cargo install cbindgen --version "$want" --locked --quiet
fi
if [ "${1:-}" = "--check" ]; then
  tmp=$(mktemp)
  cbindgen --config cbindgen.toml --crate zipnn --output "$tmp" --quiet
  if ! diff -u include/zipnn.h "$tmp"; then
    echo "include/zipnn.h is stale: run scripts/gen-header.sh and commit it" >&2
    rm -f "$tmp"; exit 1
  fi
  rm -f "$tmp"
  # Only the C ABI belongs in the header: every macro, type and function is zipnn-prefixed.
  leaks=$(grep -E '^#define |^typedef |^(const )?[a-z_0-9]+ \*?[a-z_0-9]+\(' include/zipnn.h |
          grep -vE '^#define (ZIPNN_|zipnn_)|^typedef (struct |int32_t |uint32_t )?(zipnn_|ZIPNN_)' |
          grep -vE '[ *]zipnn_[a-z_0-9]+\(' || true)
  if [ -n "$leaks" ]; then
    echo "include/zipnn.h exports names that are not zipnn_/ZIPNN_ (add them to cbindgen.toml's exclude):" >&2
    echo "$leaks" >&2; exit 1
  fi
  echo "include/zipnn.h is fresh"
else
  cbindgen --config cbindgen.toml --crate zipnn --output include/zipnn.h --quiet
fi
