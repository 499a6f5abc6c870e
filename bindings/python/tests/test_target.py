"""The ``target=`` option (zipnn_options.target): the processors a frame is laid out to
decode fastest on. Every target's frames decode everywhere to the same bytes, so these
tests check that each way of naming a target is accepted and round-trips through frames,
streams and archives, that the default is "any", and that unknown targets are refused
without touching the caller's output."""

import ctypes

import pytest

import zipnn
from zipnn import _ffi
from zipnn import safetensors as zst
from zipnn._api import make_options
from conftest import bf16_like, safetensors_bytes

np = pytest.importorskip("numpy")

AVX512_NAMES = ["avx512", "AVX512", " avx-512 ", 1, _ffi.ZIPNN_TARGET_AVX512]
ANY_NAMES = [None, "any", "Any", 0, _ffi.ZIPNN_TARGET_ANY]
BAD_CODES = [2, 7, 0xFFFFFFFF]


def test_names_and_codes():
    assert zipnn.TARGETS == {"any": 0, "avx512": 1}
    assert _ffi.ZIPNN_TARGET_ANY == 0 and _ffi.ZIPNN_TARGET_AVX512 == 1
    for name in ANY_NAMES:
        assert make_options(target=name).target == _ffi.ZIPNN_TARGET_ANY
    for name in AVX512_NAMES:
        assert make_options(target=name).target == _ffi.ZIPNN_TARGET_AVX512
    # The default, and what zipnn_options_init writes.
    assert make_options().target == _ffi.ZIPNN_TARGET_ANY
    o = _ffi.zipnn_options()
    o.target = 5
    zipnn._lib.lib().zipnn_options_init(ctypes.byref(o))
    assert o.target == _ffi.ZIPNN_TARGET_ANY and list(o.reserved) == [0] * 5


@pytest.mark.parametrize("target", AVX512_NAMES + ANY_NAMES)
def test_frames_round_trip(target):
    raw = bf16_like(70_000, seed=3)
    frame = zipnn.compress(raw, dtype="bf16", chunk_size=65536, target=target)
    assert zipnn.decompress(frame) == raw
    assert zipnn.frame_info(frame).original_size == len(raw)


@pytest.mark.parametrize("dtype", ["bf16", "fp16", "fp32", "int8"])
@pytest.mark.parametrize("level", ["fast", None, "max"])
def test_arrays_round_trip_for_avx512(dtype, level):
    rng = np.random.default_rng(5)
    np_dtype = {"bf16": np.float32, "fp16": np.float16, "fp32": np.float32, "int8": np.int8}[dtype]
    a = (rng.standard_normal(40_001) * 20).astype(np_dtype)
    raw = a.tobytes()
    if dtype == "bf16":
        raw = (a.view(np.uint32) >> 16).astype(np.uint16).tobytes()
    frame = zipnn.compress(raw, dtype=dtype, level=level, target="avx512")
    assert zipnn.decompress(frame) == raw
    arr = zipnn.decompress(zipnn.compress(a, level=level, target="avx512"), out="numpy")
    assert arr.dtype == a.dtype and np.array_equal(arr, a)


def test_delta_and_lossy_frames_take_a_target():
    base = bf16_like(20_000, seed=1)
    fine = bytearray(base)
    fine[100:110] = bytes(10)
    frame = zipnn.compress(bytes(fine), dtype="bf16", base=base, target="avx512")
    assert zipnn.decompress(frame, base=base) == bytes(fine)
    w = np.linspace(-1, 1, 5000, dtype=np.float32)
    lossy = zipnn.compress(w, lossy="mantissa", lossy_param=10, target="avx512")
    assert np.allclose(zipnn.decompress(lossy, out="numpy"), w, rtol=2 ** -10)


@pytest.mark.parametrize("bad", BAD_CODES)
def test_unknown_codes_are_refused(bad):
    raw = bf16_like(5000)
    with pytest.raises(zipnn.InvalidOptionError) as e:
        zipnn.compress(raw, dtype="bf16", target=bad)
    assert e.value.code == _ffi.ZIPNN_ERROR_INVALID_PARAM
    with pytest.raises(zipnn.InvalidOptionError):
        zipnn.compress_bound(len(raw), dtype="bf16", target=bad)
    # compress_into leaves the caller's buffer as it was.
    dst = bytearray(b"\xa5" * zipnn.compress_bound(len(raw), dtype="bf16"))
    with pytest.raises(zipnn.InvalidOptionError):
        zipnn.compress_into(dst, raw, dtype="bf16", target=bad)
    assert dst == bytearray(b"\xa5" * len(dst))
    with pytest.raises(zipnn.InvalidOptionError):
        zipnn.CompressStream(dtype="bf16", target=bad)
    with pytest.raises(zipnn.InvalidOptionError):
        zst.compress(safetensors_bytes({"w": ("BF16", (2500,), raw)}), target=bad)


@pytest.mark.parametrize("bad", ["avx2", "", "avx512vbmi", -1, 1 << 32, 1.0, True, b"any"])
def test_bad_values_are_refused_before_the_call(bad):
    with pytest.raises(zipnn.InvalidOptionError) as e:
        zipnn.compress(b"abcd", target=bad)
    assert "target" in str(e.value.detail)


def test_streams_and_stream_files(tmp_path):
    raw = bf16_like(300_000, seed=7)
    with zipnn.CompressStream(dtype="bf16", block_size=65536, target="avx512") as cs:
        stream = cs.compress(raw) + cs.finish()
    with zipnn.DecompressStream() as ds:
        assert ds.decompress(stream) + ds.finish() == raw
    src, dst, back = tmp_path / "w.bin", tmp_path / "w.znn", tmp_path / "w.out"
    src.write_bytes(raw)
    zipnn.compress_file(src, dst, dtype="bf16", target="avx512")
    zipnn.decompress_file(dst, back)
    assert back.read_bytes() == raw
    with pytest.raises(zipnn.InvalidOptionError):
        zipnn.compress_file(src, tmp_path / "bad.znn", dtype="bf16", target=9)
    assert not (tmp_path / "bad.znn").exists()


def test_safetensors_archives(tmp_path):
    tensors = {
        "a": ("BF16", (300, 100), bf16_like(30_000, seed=1)),
        "b": ("F32", (1000,), np.linspace(0, 1, 1000, dtype=np.float32).tobytes()),
        "c": ("F16", (7,), np.arange(7, dtype=np.float16).tobytes()),
    }
    raw = safetensors_bytes(tensors, {"format": "pt"})
    archive = zst.compress(raw, target="avx512", level="max")
    assert zst.decompress(archive) == raw
    fine = dict(tensors)
    fine["a"] = ("BF16", (300, 100), bf16_like(30_000, seed=2))
    fine_raw = safetensors_bytes(fine, {"format": "pt"})
    delta = zst.compress(fine_raw, base=raw, target="avx512")
    assert zst.decompress(delta, base=raw) == fine_raw
    src, arc = tmp_path / "m.safetensors", tmp_path / "m.znt"
    src.write_bytes(raw)
    zst.compress_file(src, arc, target="avx512")
    assert zst.decompress(arc.read_bytes()) == raw
    with pytest.raises(zipnn.InvalidOptionError):
        zst.compress_file(src, tmp_path / "bad.znt", target=3)
    assert not (tmp_path / "bad.znt").exists()


def test_model_dirs(tmp_path):
    src = tmp_path / "model"
    src.mkdir()
    raw = safetensors_bytes({"w": ("BF16", (100, 50), bf16_like(5000, seed=4))})
    (src / "model.safetensors").write_bytes(raw)
    zipnn.compress_model_dir(src, tmp_path / "z", target="avx512")
    zipnn.decompress_model_dir(tmp_path / "z", tmp_path / "back")
    assert (tmp_path / "back" / "model.safetensors").read_bytes() == raw
    with pytest.raises(zipnn.InvalidOptionError):
        zipnn.compress_model_dir(src, tmp_path / "bad", target="avx1024")
    assert not (tmp_path / "bad").exists()


def test_convert_takes_a_target(root):
    vectors = root / "tests" / "reference-vectors"
    src_path = vectors / "byte.bf16.defaults.znn"
    if not src_path.is_file():
        pytest.skip(f"{src_path} not found (set ZIPNN_REPO_ROOT)")
    src = src_path.read_bytes()
    want = zipnn.decompress(src)
    converted = zipnn.convert(src, target="avx512")
    assert zipnn.frame_info(converted).format == "zipnn"
    assert zipnn.decompress(converted) == want
    for bad in (2, "avx2"):
        with pytest.raises(zipnn.InvalidOptionError):
            zipnn.convert(src, target=bad)
