"""Declared sizes are checked by the library before the binding allocates them: the limit
(``max_size``, by default :data:`zipnn.DEFAULT_FILE_LIMIT` for files) and, for outputs far
larger than their input, the checksums. Files are written by ordinary writes, never through
a memory map, and nothing is left behind when a write fails."""

import errno
import mmap
import os
import tracemalloc

import pytest

import zipnn
import zipnn.safetensors as zst
from zipnn.safetensors import _archive
from conftest import bf16_like, safetensors_bytes, tensor_bytes

GIB64 = 64 << 30


def hostile(root, name):
    """A file of tests/data/hostile (written by the Rust test hostile_files_are_current):
    a 14 KB frame and archives whose one tensor "w" declares 64 GiB."""
    path = root / "tests" / "data" / "hostile" / name
    assert path.is_file(), f"missing test input {path}"
    return path


def peak_during(fn):
    """Peak traced allocation (bytes) while fn runs, and fn's exception if any."""
    tracemalloc.start()
    try:
        tracemalloc.reset_peak()
        try:
            fn()
            err = None
        except zipnn.ZipNNError as e:
            err = e
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    return peak, err


def refused(fn, cls):
    peak, err = peak_during(fn)
    assert isinstance(err, cls), err
    assert peak < 1 << 20, f"{peak} bytes allocated before refusing"


@pytest.mark.parametrize("out", ["bytes", "bytearray", "numpy", "auto"])
def test_hostile_frame_allocates_nothing(root, out):
    frame = hostile(root, "bomb-64g.znn").read_bytes()
    assert zipnn.frame_info(frame).original_size == GIB64
    refused(lambda: zipnn.decompress(frame, out=out, max_size=1 << 20, dtype="uint8"),
            zipnn.LimitExceededError)
    bad = bytearray(frame)
    bad[-1] ^= 1  # the last chunk's run byte: its checksum no longer matches
    refused(lambda: zipnn.decompress(bytes(bad), out=out, dtype="uint8"), zipnn.ChecksumError)
    refused(lambda: zipnn.decompress(bytes(bad), base=b"", dtype="uint8"), zipnn.ChecksumError)


def test_frame_file_gets_the_default_limit(root, tmp_path):
    dst = tmp_path / "out"
    refused(lambda: zipnn.decompress_file(hostile(root, "bomb-64g.znn"), dst),
            zipnn.LimitExceededError)
    assert not dst.exists() and os.listdir(tmp_path) == []


def test_hostile_archives_allocate_nothing(root):
    path = hostile(root, "bomb-64g-archive.znn")
    # From a file, the default limit (4 GiB) refuses the 64 GiB tensor: get_tensor used to
    # allocate it first (MemoryError).
    with zst.safe_open(path, "np") as f:
        assert f.info("w").size == GIB64
        refused(lambda: f.get_tensor("w"), zipnn.LimitExceededError)
        refused(f.restore, zipnn.LimitExceededError)
    # From memory: a limit refuses the valid archive, the checksums the damaged one.
    data = path.read_bytes()
    with zst.Archive(data, max_size=1 << 20) as a:
        refused(lambda: a.get_tensor("w", "np"), zipnn.LimitExceededError)
        refused(a.restore, zipnn.LimitExceededError)
    damaged = hostile(root, "bomb-64g-archive-damaged.znn").read_bytes()
    with zst.Archive(damaged) as a:
        refused(lambda: a.get_tensor("w", "np"), zipnn.ChecksumError)
        refused(a.restore, zipnn.ChecksumError)


def test_the_limit_counts_each_tensor_and_the_whole_file(tmp_path):
    file = safetensors_bytes({"a": ("F32", [256], tensor_bytes("F32", 256, 1)),
                              "b": ("F32", [256], tensor_bytes("F32", 256, 2))})
    archive = zst.compress(file)
    with zst.Archive(archive, max_size=1500) as a:
        assert a.get_tensor("a", "np").nbytes == 1024
        with pytest.raises(zipnn.LimitExceededError):
            a.restore()
        assert a.restore_file(tmp_path / "r.safetensors") == len(file)  # tensor by tensor
    assert (tmp_path / "r.safetensors").read_bytes() == file
    assert zipnn.DEFAULT_FILE_LIMIT == 4 << 30 and zipnn.NO_LIMIT == 2**64 - 1


class _FullDisk:
    """A file object whose writes fail with ENOSPC after ``room`` bytes."""

    def __init__(self, f, room):
        self._f, self._room = f, room

    def write(self, data):
        n = len(memoryview(data))
        if n > self._room:
            raise OSError(errno.ENOSPC, "No space left on device")
        self._room -= n
        return self._f.write(data)

    def __getattr__(self, name):
        return getattr(self._f, name)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return self._f.__exit__(*exc)


@pytest.fixture
def no_writable_maps(monkeypatch):
    """Output must not go through a writable memory map (its pages fail with SIGBUS on a
    full disk)."""
    real = mmap.mmap

    def guarded(*args, **kw):
        access = kw.get("access", args[3] if len(args) > 3 else None)
        assert access == mmap.ACCESS_READ, "a writable memory map"
        return real(*args, **kw)

    monkeypatch.setattr(mmap, "mmap", guarded)


@pytest.mark.parametrize("room", [0, 10, 5000])
def test_a_full_disk_is_an_error_and_leaves_nothing(tmp_path, monkeypatch, no_writable_maps, room):
    file = safetensors_bytes({"a": ("BF16", [4096], bf16_like(4096, 1)),
                              "b": ("BF16", [4096], bf16_like(4096, 2))})
    src = tmp_path / "m.safetensors"
    src.write_bytes(file)
    arc = tmp_path / "m.znn"
    assert zst.compress_file(src, arc) == arc.stat().st_size
    real_open = open

    def full_open(path, mode="r", *args, **kw):
        f = real_open(path, mode, *args, **kw)
        return _FullDisk(f, room) if "w" in mode else f

    monkeypatch.setattr(_archive, "open", full_open, raising=False)
    before = sorted(os.listdir(tmp_path))
    with pytest.raises(OSError) as e:
        zst.compress_file(src, tmp_path / "x.znn")
    assert e.value.errno == errno.ENOSPC
    with pytest.raises(OSError):
        zst.decompress_file(arc, tmp_path / "y.safetensors")
    with zst.Archive(arc) as a, pytest.raises(OSError):
        a.restore_file(tmp_path / "z.safetensors")
    assert sorted(os.listdir(tmp_path)) == before  # no output, no temporary file
    monkeypatch.undo()
    # And with room, the same calls write the files.
    assert zst.decompress_file(arc, tmp_path / "y.safetensors") == len(file)
    assert (tmp_path / "y.safetensors").read_bytes() == file


def _sweep_one(data, tensors, file, counts):
    """Reads a (possibly damaged) archive through the Python archive reader: anything it
    returns must be exactly right."""
    try:
        a = zst.Archive(data)
    except zipnn.ZipNNError:
        return
    counts["opened"] += 1
    with a:
        for name, (_, _, raw) in tensors.items():
            try:
                got = a.get_tensor(name, "np")
            except zipnn.ZipNNError:
                counts["refused"] += 1
                continue
            assert got.tobytes() == raw, name
            counts["decoded"] += 1
        try:
            assert a.restore() == file
        except zipnn.ZipNNError:
            pass


def test_corruption_sweep_of_archives():
    """Every byte of an archive flipped (two ways) and every truncation, through the Python
    reader: never a crash, never a wrong byte (the same sweep runs in C, Go and C++)."""
    tensors = {
        "embed": ("BF16", [32, 16], bf16_like(512, 1)),
        "head": ("BF16", [32, 16], bf16_like(512, 1)),  # tied to embed
        "norm": ("F32", [64], tensor_bytes("F32", 64, 2)),
        "ids": ("I64", [5], tensor_bytes("I64", 5, 3)),
        "mask": ("BOOL", [7], tensor_bytes("BOOL", 7, 4)),
    }
    file = safetensors_bytes(tensors)
    arc = zst.compress(file)
    counts = {"opened": 0, "decoded": 0, "refused": 0}
    variants = 0
    for at in range(len(arc)):
        for flip in (0x01, 0xFE):
            bad = bytearray(arc)
            bad[at] ^= flip
            _sweep_one(bytes(bad), tensors, file, counts)
        _sweep_one(arc[:at], tensors, file, counts)
        variants += 3
    print(f"Python sweep: {variants} damaged archives ({len(arc)} bytes each flipped twice, "
          f"every truncation): {counts['opened']} opened, {counts['decoded']} tensors decoded "
          f"exactly, {counts['refused']} refused, 0 wrong")
    assert counts["opened"] and counts["decoded"] and counts["refused"]
