"""The package under test is the installed wheel: its files, its bundled library, its version.

These run when ZIPNN_TEST_INSTALLED_WHEEL=1 (scripts/test-python.sh sets it after installing
the wheel it built); a source tree on PYTHONPATH would fail them by design.
"""

import importlib.metadata
import os
import struct
import sys
from pathlib import Path

import pytest

import zipnn
from zipnn import _lib

pytestmark = pytest.mark.skipif(
    os.environ.get("ZIPNN_TEST_INSTALLED_WHEEL") != "1",
    reason="only against the installed wheel (scripts/test-python.sh)",
)

SOURCE_TREE = Path(__file__).resolve().parent.parent  # bindings/python


def elf_section_names(data: bytes) -> list:
    """Section names of a 64-bit ELF file (enough to see debug info without binutils)."""
    assert data[:4] == b"\x7fELF" and data[4] == 2, "not a 64-bit ELF file"
    e = "<" if data[5] == 1 else ">"
    (shoff,) = struct.unpack_from(e + "Q", data, 0x28)
    shentsize, shnum, shstrndx = struct.unpack_from(e + "HHH", data, 0x3A)

    def header(i):
        base = shoff + i * shentsize
        (name,) = struct.unpack_from(e + "I", data, base)
        offset, size = struct.unpack_from(e + "QQ", data, base + 0x18)
        return name, offset, size

    _, strtab, _ = header(shstrndx)
    names = []
    for i in range(shnum):
        start = strtab + header(i)[0]
        names.append(data[start:data.index(b"\0", start)].decode())
    return names


def test_imported_from_the_installed_package_not_the_source_tree():
    pkg = Path(zipnn.__file__).resolve().parent
    assert SOURCE_TREE not in pkg.parents, pkg
    assert Path(sys.prefix).resolve() in pkg.parents, (pkg, sys.prefix)


def test_the_bundled_library_is_the_one_loaded():
    bundled = Path(zipnn.__file__).resolve().parent / _lib.library_file_names()[0]
    assert bundled.is_file()
    assert Path(zipnn.library_path()).resolve() == bundled


def test_distribution_version_is_the_library_version_with_epoch_1():
    # The epoch makes every version of the reference package (PyPI `zipnn`, epoch 0) older
    # than this one, so `pip install -U zipnn` never swaps it for the reference.
    from packaging.version import Version  # a dependency of pytest

    assert zipnn.__version__ == zipnn.library_version()
    dist = importlib.metadata.version("zipnn")
    assert dist == f"1!{zipnn.__version__}"
    assert Version(dist) > Version("0.5.4")
    assert Version(dist) > Version("999.0")


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="ELF only")
def test_the_bundled_library_has_no_debug_info():
    path = Path(zipnn.library_path())
    names = elf_section_names(path.read_bytes())
    assert ".text" in names and ".dynsym" in names, names
    assert not [n for n in names if n.startswith((".debug_", ".zdebug_"))], names
    # What a cargo build with debug info weighs is several times this.
    assert path.stat().st_size < 8 * 1024 * 1024
