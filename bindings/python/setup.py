"""Build hook: compiles the Rust library and bundles it inside the package.

Building a wheel (``pip wheel -v ./bindings/python`` or ``python -m build --wheel
bindings/python``) runs ``cargo build --release --locked --lib`` in the repository root (two
levels up), copies target/release/libzipnn.so (.dylib / zipnn.dll) next to
zipnn/__init__.py without its debug info, and tags the wheel for the platform. Installing
that wheel needs no Rust. Environment:

* ``ZIPNN_PREBUILT_LIBRARY``: bundle this library file instead of building.
* ``CARGO``: the cargo executable (default ``cargo``); ``CARGO_TARGET_DIR`` is honoured.
* ``ZIPNN_REPO_ROOT``: the repository root, when the source tree was copied elsewhere.
* ``ZIPNN_KEEP_DEBUG_INFO=1``: bundle the library as cargo built it (with debug info).

The version is ``1!`` + ``zipnn.__version__`` (the library's version): a PEP 440 epoch, so
that the reference package, also called ``zipnn`` on PyPI (0.5.4), never counts as an
upgrade of this one (see README.md).

The wheel is tagged for the platform (it holds a native library) but not for a Python
version or ABI: the library is loaded with ctypes.
"""

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

from setuptools import setup
from setuptools.dist import Distribution
from setuptools.command.build_py import build_py

try:
    from setuptools.command.bdist_wheel import bdist_wheel
except ImportError:  # setuptools < 70.1
    from wheel.bdist_wheel import bdist_wheel  # type: ignore[no-redef]

HERE = Path(__file__).resolve().parent

# A PEP 440 epoch: 1!x.y.z sorts above every version of the reference package (epoch 0).
EPOCH = 1


def _version() -> str:
    text = (HERE / "zipnn" / "__init__.py").read_text(encoding="utf-8")
    m = re.search(r'^__version__ = "([^"]+)"$', text, re.M)
    if not m:
        raise SystemExit("zipnn: no __version__ in zipnn/__init__.py")
    return f"{EPOCH}!{m.group(1)}"


def _say(msg: str) -> None:
    print(f"zipnn: {msg}", file=sys.stderr, flush=True)


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
    _say(f"running {' '.join(cmd)} in {root} (a few minutes the first time; "
         "pip shows this only with -v)")
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


def _strip_debug_info(path: Path) -> None:
    """Removes debug info from `path` in place (`strip -S`: symbol tables stay)."""
    if os.environ.get("ZIPNN_KEEP_DEBUG_INFO") == "1" or sys.platform == "win32":
        return
    strip = shutil.which(os.environ.get("STRIP", "strip"))
    if not strip:
        _say("no strip tool found: the bundled library keeps its debug info")
        return
    before = path.stat().st_size
    subprocess.run([strip, "-S", str(path)], check=True)
    _say(f"debug info removed: {before} -> {path.stat().st_size} bytes")


class BuildPyWithLibrary(build_py):
    """build_py that also builds libzipnn and copies it into the package."""

    def run(self) -> None:
        super().run()
        lib = _build_library()
        dest = Path(self.build_lib) / "zipnn" / _lib_name()
        dest.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(lib, dest)
        os.chmod(dest, 0o755)
        _say(f"bundled {lib} as {dest}")
        _strip_debug_info(dest)


class PlatformWheel(bdist_wheel):
    """py3-none-<platform>: a native library, loaded through ctypes (no CPython ABI)."""

    def finalize_options(self) -> None:
        super().finalize_options()
        self.root_is_pure = False

    def get_tag(self):  # type: ignore[no-untyped-def]
        _, _, plat = super().get_tag()
        return "py3", "none", plat


class BinaryDistribution(Distribution):
    """Platform-specific: the package goes to platlib, at the wheel's root."""

    def has_ext_modules(self) -> bool:
        return True


setup(
    version=_version(),
    distclass=BinaryDistribution,
    cmdclass={"build_py": BuildPyWithLibrary, "bdist_wheel": PlatformWheel},
)
