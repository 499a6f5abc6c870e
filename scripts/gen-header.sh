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
  echo "include/zipnn.h is fresh"
else
  cbindgen --config cbindgen.toml --crate zipnn --output include/zipnn.h --quiet
fi
