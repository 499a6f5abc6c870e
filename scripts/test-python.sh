#!/usr/bin/env bash
# Builds the Python binding's wheel (bindings/python), installs it into a virtual
# environment and runs its tests there; also installs the wheel alone into a clean venv,
# with no cargo on PATH, and uses it.
#
#   scripts/test-python.sh [extra pytest args...]
#
# Runnable from any directory. Needs Python >= 3.9 with venv/pip, a Rust toolchain (cargo)
# and PyPI for what is not installed yet. Environment:
#   ZIPNN_VENV    the virtual environment to create or reuse (default:
#                 ${XDG_CACHE_HOME:-~/.cache}/zipnn/test-venv-pyX.Y, outside the clone; it
#                 sees the interpreter's own site-packages, so what is installed there is
#                 not downloaded again)
#   PYTHON        the interpreter that creates it (default: python3.11, else python3)
#   ZIPNN_NO_TORCH=1  skip torch (the torch tests are then skipped)
# Test requirements: the `test` extra in bindings/python/pyproject.toml, plus torch. torch
# comes from PyPI, the only index reachable from CI, whose Linux x86_64 wheel needs its CUDA
# runtime packages (nvidia-*, triton) even to import on a CPU: about 5 GB installed, once
# per venv (the venv is kept and reused, so later runs download nothing).
set -euo pipefail

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
if [[ -z "${PYTHON:-}" ]]; then
  if command -v python3.11 >/dev/null 2>&1; then PYTHON=python3.11; else PYTHON=python3; fi
fi
pyver="$("$PYTHON" -c 'import sys; print("%d.%d" % sys.version_info[:2])')"
venv="${ZIPNN_VENV:-${XDG_CACHE_HOME:-$HOME/.cache}/zipnn/test-venv-py$pyver}"

log() { printf '==> %s\n' "$*"; }
die() { printf 'test-python.sh: %s\n' "$*" >&2; exit 1; }

work="$(mktemp -d "${TMPDIR:-/tmp}/zipnn-test-python.XXXXXX")"
trap 'rm -rf "$work"' EXIT

if [[ ! -x "$venv/bin/python" ]]; then
  log "creating virtual environment $venv ($("$PYTHON" --version 2>&1))"
  mkdir -p "$(dirname "$venv")"
  "$PYTHON" -m venv --system-site-packages "$venv"
fi
# Keep the environment out of git if someone points ZIPNN_VENV into a clone.
[[ -f "$venv/.gitignore" ]] || printf '*\n' > "$venv/.gitignore"
py="$venv/bin/python"
pip() { "$py" -m pip --disable-pip-version-check "$@"; }

log "build requirements (setuptools>=77, wheel; nothing is downloaded when present)"
pip install --quiet "setuptools>=77" wheel

# --- The wheel ------------------------------------------------------------------------------
# The library for the wheel, and the CLI that tests/test_hf.py compares with (ZIPNN_CLI
# below: this build, not whatever `zipnn` is on PATH).
log "cargo build --release --locked (library and CLI)"
(cd "$repo" && cargo build --release --locked)

# Built from a copy of bindings/python so that no build/ or *.egg-info lands in the clone
# (and no stale build/ of an earlier run ends up in the wheel).
mkdir "$work/src"
(cd "$repo/bindings/python" && tar --exclude=./build --exclude='./*.egg-info' \
  --exclude=__pycache__ --exclude=./zipnn/libzipnn.so -cf - .) | tar -C "$work/src" -xf -
log "pip wheel bindings/python (the library is built already: the build hook finds it fresh)"
ZIPNN_REPO_ROOT="$repo" pip wheel --quiet --no-deps --no-build-isolation -w "$work/dist" "$work/src"
wheels=("$work"/dist/zipnn-*.whl)
[[ ${#wheels[@]} -eq 1 && -f "${wheels[0]}" ]] || die "expected one wheel, got: ${wheels[*]}"
whl="${wheels[0]}"
log "built $(basename "$whl") ($(wc -c <"$whl") bytes)"

log "checking the wheel: tags, version, contents"
"$py" - "$whl" "$repo" <<'PY'
import re, sys, sysconfig, zipfile
from pathlib import Path
whl, repo = sys.argv[1], Path(sys.argv[2])
cargo = (repo / "Cargo.toml").read_text()
lib_version = re.search(r'^version = "([^"]+)"', cargo, re.M).group(1)
plat = sysconfig.get_platform().replace("-", "_").replace(".", "_")
want = f"zipnn-1!{lib_version}-py3-none-{plat}.whl"
name = Path(whl).name
assert name == want, f"wheel {name}, expected {want}"
with zipfile.ZipFile(whl) as z:
    names = z.namelist()
    info = next(n for n in names if n.endswith(".dist-info/WHEEL"))
    wheel_meta = z.read(info).decode()
    meta = z.read(info.replace("WHEEL", "METADATA")).decode()
    lib = z.getinfo("zipnn/libzipnn.so")
assert "Root-Is-Purelib: false" in wheel_meta, wheel_meta
assert f"Tag: py3-none-{plat}" in wheel_meta, wheel_meta
assert f"\nVersion: 1!{lib_version}\n" in meta, meta[:300]
stale = [n for n in names if n.startswith("zipnn/") and n.endswith(".py")
         and not (repo / "bindings/python" / n).is_file()]
assert not stale, f"files in the wheel that the source tree does not have: {stale}"
print(f"   tag py3-none-{plat}, version 1!{lib_version}, zipnn/libzipnn.so {lib.file_size} bytes,"
      f" {len(names)} files")
PY

# --- The wheel alone, in a clean venv, without Rust ----------------------------------------
log "pip install of the wheel into a clean venv with no cargo on PATH"
"$PYTHON" -m venv "$work/clean"
nocargo_path="$work/clean/bin"
for d in /usr/local/bin /usr/bin /bin; do
  if [[ -d "$d" && ! -x "$d/cargo" ]]; then nocargo_path="$nocargo_path:$d"; fi
done
PATH="$nocargo_path" bash -c '! command -v cargo >/dev/null' || die "cargo is still on PATH"
PATH="$nocargo_path" "$work/clean/bin/python" -m pip --disable-pip-version-check install \
  --quiet --no-index "$whl"
(cd "$work" && PATH="$nocargo_path" "$work/clean/bin/python" - <<'PY'
import importlib.metadata, os, sys, zipnn
assert zipnn.__file__.startswith(sys.prefix), zipnn.__file__
data = bytes(range(256)) * 4096
frame = zipnn.compress(data, dtype="bf16")
assert zipnn.decompress(frame) == data
print(f"   zipnn {importlib.metadata.version('zipnn')} from {os.path.dirname(zipnn.__file__)}:"
      f" {len(data)} -> {len(frame)} bytes, round trip ok")
PY
)

# --- The test environment -------------------------------------------------------------------
log "test requirements: the wheel's [test] extra (only what is missing is installed)"
pip install --quiet "$whl[test]"
pip install --quiet --no-deps --force-reinstall "$whl"

if [[ "${ZIPNN_NO_TORCH:-0}" != "1" ]]; then
  if "$py" -c 'import torch' >/dev/null 2>&1; then
    log "torch $("$py" -c 'import torch; print(torch.__version__)') is installed"
  else
    log "installing torch from PyPI with its CUDA runtime packages (several GB, once per venv)"
    t0=$SECONDS
    pip install --quiet torch
    log "torch $("$py" -c 'import torch; print(torch.__version__)') installed in $((SECONDS - t0)) s"
  fi
fi

log "running pytest on the installed wheel"
# From outside the source tree: the tests import the installed package and its bundled
# library (tests/test_packaging.py checks that).
cd "$work"
ZIPNN_TEST_INSTALLED_WHEEL=1 ZIPNN_REPO_ROOT="$repo" ZIPNN_CLI="${ZIPNN_CLI:-$repo/target/release/zipnn}" \
  "$py" -m pytest -p no:cacheprovider "$repo/bindings/python/tests" "$@"
