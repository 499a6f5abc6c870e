"""Library search order and the error for a missing library."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

import zipnn
from zipnn import _lib


def run_py(code, **env):
    e = dict(os.environ)
    e.update(env)
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=e,
                          cwd="/")


def test_bundled_library_is_used_by_default():
    if os.environ.get(_lib.ENV_VAR):
        pytest.skip("ZIPNN_LIBRARY_PATH is set")
    bundled = Path(zipnn.__file__).parent / _lib.library_file_names()[0]
    assert bundled.is_file()
    assert Path(zipnn.library_path()) == bundled


def test_override_with_directory_and_file():
    libfile = zipnn.library_path()
    for value in (libfile, os.path.dirname(libfile)):
        r = run_py("import zipnn; print(zipnn.library_path())", ZIPNN_LIBRARY_PATH=value)
        assert r.returncode == 0, r.stderr
        assert r.stdout.strip() == libfile


def test_missing_library_lists_every_path(tmp_path):
    err = None
    try:
        _lib.load_library(env=str(tmp_path))
    except zipnn.LibraryNotFoundError as e:
        err = str(e)
    assert err is not None
    for name in _lib.library_file_names():
        assert str(tmp_path / name) in err
    assert "ZIPNN_LIBRARY_PATH" in err
    assert isinstance(zipnn.LibraryNotFoundError("x"), ImportError)


def test_missing_library_at_import(tmp_path):
    missing = tmp_path / "nope" / "libzipnn.so"
    r = run_py("import zipnn", ZIPNN_LIBRARY_PATH=str(missing))
    assert r.returncode != 0
    assert "LibraryNotFoundError" in r.stderr
    assert "could not load the zipnn shared library" in r.stderr
    assert f"{missing}: no such file" in r.stderr


def test_not_a_library(tmp_path):
    bad = tmp_path / "libzipnn.so"
    bad.write_bytes(b"not an ELF file")
    with pytest.raises(zipnn.LibraryNotFoundError) as e:
        _lib.load_library(env=str(bad))
    assert str(bad) in str(e.value)


def test_search_without_override_lists_bundled_and_find_library(tmp_path, monkeypatch):
    # Pretend the package lives in an empty directory: bundled path, then find_library.
    monkeypatch.setattr(_lib, "__file__", str(tmp_path / "_lib.py"))
    monkeypatch.setattr(_lib.ctypes.util, "find_library", lambda name: None)
    with pytest.raises(zipnn.LibraryNotFoundError) as e:
        _lib.load_library(use_env=False)
    msg = str(e.value)
    assert str(tmp_path / _lib.library_file_names()[0]) in msg
    assert 'find_library("zipnn")' in msg
