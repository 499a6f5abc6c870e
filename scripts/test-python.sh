#!/usr/bin/env bash
# Builds and tests the Python binding (bindings/python) in a virtual environment.
#
#   scripts/test-python.sh [extra pytest args...]
#
# Runnable from any directory. Needs Python >= 3.9 with venv/pip, a Rust toolchain (cargo)
# and PyPI. Environment:
#   ZIPNN_VENV    the virtual environment to create or reuse (default: <repo>/.venv-py)
#   PYTHON        the interpreter that creates it (default: python3.11, else python3)
#   ZIPNN_NO_TORCH=1  skip installing torch (the torch tests are then skipped)
# torch comes from PyPI (the only index reachable); on Linux x86_64 that wheel pulls in the
# CUDA runtime packages, so the first install is large; its time is printed.
set -euo pipefail

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
venv="${ZIPNN_VENV:-$repo/.venv-py}"
if [[ -z "${PYTHON:-}" ]]; then
  if command -v python3.11 >/dev/null 2>&1; then PYTHON=python3.11; else PYTHON=python3; fi
fi

log() { printf '==> %s\n' "$*"; }

if [[ ! -x "$venv/bin/python" ]]; then
  log "creating virtual environment $venv ($("$PYTHON" --version 2>&1))"
  "$PYTHON" -m venv "$venv"
fi
# Keep the environment out of git without touching the repository's .gitignore.
[[ -f "$venv/.gitignore" ]] || printf '*\n' > "$venv/.gitignore"
py="$venv/bin/python"

log "installing test dependencies (numpy, ml_dtypes, pytest, safetensors, transformers)"
"$py" -m pip install --quiet --upgrade pip setuptools wheel
# safetensors: the tests compare zipnn.safetensors' loaders with the reference loaders.
# transformers: the from_pretrained tests load compressed model folders with the real library.
"$py" -m pip install --quiet numpy ml_dtypes pytest safetensors transformers

if [[ "${ZIPNN_NO_TORCH:-0}" != "1" ]]; then
  log "installing torch from PyPI (large on first run)"
  t0=$(date +%s)
  "$py" -m pip install --quiet torch
  t1=$(date +%s)
  log "torch install took $((t1 - t0)) s ($("$py" -c 'import torch; print("torch", torch.__version__)'))"
fi

log "pip install $repo/bindings/python (runs cargo build --release --locked)"
"$py" -m pip install --quiet --force-reinstall --no-deps "$repo/bindings/python"

log "running pytest"
cd "$repo"
# Tests import the installed package (not the source tree) and load its bundled library.
"$py" -m pytest -p no:cacheprovider "$repo/bindings/python/tests" "$@"
