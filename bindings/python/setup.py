"""Build hook: compiles the Rust library and bundles it inside the package.

``pip install ./bindings/python`` runs ``cargo build --release --locked`` in the repository
root (two levels up) and copies target/release/libzipnn.so (.dylib / zipnn.dll) into the
built package next to zipnn/__init__.py. Environment:

* ``ZIPNN_PREBUILT_LIBRARY``: bundle this library file instead of building.
* ``CARGO``: the cargo executable (default ``cargo``); ``CARGO_TARGET_DIR`` is honoured.
* ``ZIPNN_REPO_ROOT``: the repository root, when the source tree was copied elsewhere.

The wheel is tagged for the platform (it holds a native library) but not for a Python
version or ABI: the library is loaded with ctypes.
"""

import os
import shutil
import subprocess
import sys
from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py

try:
    from setuptools.command.bdist_wheel import bdist_wheel
except ImportError:  # setuptools < 70.1
    from wheel.bdist_wheel import bdist_wheel  # type: ignore[no-redef]

HERE = Path(__file__).resolve().parent


def _lib_name() -> str:
    if sys.platform == "win32":
        return "zipnn.dll"
    if sys.platform == "darwin":
        return "libzipnn.dylib"
    return "libzipnn.so"


def _repo_root() -> Path:
    root = Path(os.environ.get("ZIPNN_REPO_ROOT", HERE.parent.parent)).resolve()
    if not (root / "Cargo.toml").is_file():
        raise SystemExit(
            f"zipnn: no Cargo.toml in {root}. Build from a clone of the repository "
            "(pip install ./bindings/python), or set ZIPNN_REPO_ROOT to the repository root, "
            "or ZIPNN_PREBUILT_LIBRARY to a built library."
        )
    return root


def _build_library() -> Path:
    prebuilt = os.environ.get("ZIPNN_PREBUILT_LIBRARY")
    if prebuilt:
        path = Path(prebuilt).resolve()
        if not path.is_file():
            raise SystemExit(f"zipnn: ZIPNN_PREBUILT_LIBRARY={prebuilt} is not a file")
        return path
    root = _repo_root()
    cargo = os.environ.get("CARGO", "cargo")
    cmd = [cargo, "build", "--release", "--locked", "--lib"]
    print(f"zipnn: running {' '.join(cmd)} in {root}", flush=True)
    try:
        subprocess.run(cmd, cwd=root, check=True)
    except FileNotFoundError:
        raise SystemExit(f"zipnn: '{cargo}' not found; install Rust (https://rustup.rs) or set CARGO")
    except subprocess.CalledProcessError as e:
        raise SystemExit(f"zipnn: cargo build failed with exit status {e.returncode}")
    target = Path(os.environ.get("CARGO_TARGET_DIR", root / "target"))
    if not target.is_absolute():
        target = root / target
    path = target / "release" / _lib_name()
    if not path.is_file():
        raise SystemExit(f"zipnn: cargo build succeeded but {path} does not exist")
    return path


class BuildPyWithLibrary(build_py):
    """build_py that also builds libzipnn and copies it into the package."""

    def run(self) -> None:
        super().run()
        lib = _build_library()
        dest = Path(self.build_lib) / "zipnn" / _lib_name()
        dest.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(lib, dest)
        print(f"zipnn: bundled {lib} as {dest}", flush=True)


class PlatformWheel(bdist_wheel):
    """py3-none-<platform>: a native library, loaded through ctypes (no CPython ABI)."""

    def finalize_options(self) -> None:
        super().finalize_options()
        self.root_is_pure = False

    def get_tag(self):  # type: ignore[no-untyped-def]
        _, _, plat = super().get_tag()
        return "py3", "none", plat


setup(cmdclass={"build_py": BuildPyWithLibrary, "bdist_wheel": PlatformWheel})
