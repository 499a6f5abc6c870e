"""A damaged frame that declares a huge output is refused before that output is allocated
(zipnn.PRE_VERIFY_RATIO); ordinary frames are checked once, by the decode itself."""

import tracemalloc

import numpy as np
import pytest

import zipnn
from zipnn import _api
from conftest import bf16_like

SIZE = 64 << 20  # declared by a frame of a few KiB: run chunks


@pytest.fixture(scope="module")
def huge_frames():
    frame = zipnn.compress(bytes(SIZE))
    assert SIZE // zipnn.PRE_VERIFY_RATIO >= len(frame)
    bad = bytearray(frame)
    bad[-1] ^= 0x5A  # the last chunk's run byte: its checksum no longer matches
    return frame, bytes(bad)


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


@pytest.mark.parametrize("out", ["bytes", "bytearray", "numpy", "auto"])
@pytest.mark.parametrize("threads", [0, 1])
def test_damaged_huge_frame_allocates_nothing(huge_frames, out, threads):
    _, bad = huge_frames
    peak, err = peak_during(lambda: zipnn.decompress(bad, out=out, threads=threads, dtype="uint8"))
    assert isinstance(err, zipnn.ChecksumError), err
    assert peak < 1 << 20, f"{peak} bytes allocated for a damaged frame declaring {SIZE}"


def test_damaged_huge_frame_with_limit_above_it(huge_frames):
    _, bad = huge_frames
    peak, err = peak_during(lambda: zipnn.decompress(bad, max_size=SIZE))
    assert isinstance(err, zipnn.ChecksumError), err
    assert peak < 1 << 20


def test_intact_huge_frame_decodes(huge_frames):
    frame, _ = huge_frames
    peak, err = peak_during(lambda: zipnn.decompress(frame))
    assert err is None
    assert peak >= SIZE  # the output itself
    out = zipnn.decompress(frame, out="numpy", dtype="uint8")
    assert out.nbytes == SIZE and not out.any()


def test_ordinary_frames_are_not_verified_twice(monkeypatch):
    frame = zipnn.compress(bf16_like(1 << 19), dtype="bf16")
    assert len(frame) * zipnn.PRE_VERIFY_RATIO > len(bf16_like(1 << 19))
    calls = []
    real = _api.lib()

    class Spy:
        def __getattr__(self, name):
            if name == "zipnn_verify":
                calls.append(name)
            return getattr(real, name)

    monkeypatch.setattr(_api, "lib", lambda: Spy())
    assert zipnn.decompress(frame) == bf16_like(1 << 19)
    assert calls == []
    bad = bytearray(frame)
    bad[-100] ^= 1
    with pytest.raises(zipnn.ChecksumError):
        zipnn.decompress(bytes(bad))
    assert calls == []
    # A very compressible frame is verified first.
    zipnn.decompress(zipnn.compress(bytes(1 << 20)))
    assert calls == ["zipnn_verify"]


def test_decompress_chunk_allocates_at_most_the_data(huge_frames):
    # A frame with 64 MiB chunks and 10 bytes of data: the chunk buffer is 10 bytes.
    frame = zipnn.compress(b"0123456789", chunk_size=64 << 20)
    peak, err = peak_during(lambda: zipnn.decompress_chunk(frame, 0))
    assert err is None and peak < 1 << 20
    assert zipnn.decompress_chunk(frame, 0) == b"0123456789"
    assert np.frombuffer(zipnn.decompress(frame), dtype=np.uint8).size == 10
