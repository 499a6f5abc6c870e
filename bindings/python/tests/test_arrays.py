"""numpy and torch: dtype from the array, shape and dtype in the metadata, no copies,
no mutation."""

import pytest

import zipnn

np = pytest.importorskip("numpy")

NUMPY_DTYPES = ["float16", "float32", "float64", "int8", "uint8", "int16", "uint16", "int32",
                "int64", "uint64", "bool", "complex64", "complex128"]
LIB_DTYPE = {"float16": "fp16", "float32": "fp32", "float64": "fp64", "int8": "int8",
             "uint8": "uint8", "bfloat16": "bf16", "float8_e4m3fn": "fp8_e4m3",
             "float8_e5m2": "fp8_e5m2"}


def sample(dtype, shape=(37, 53), seed=0):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal(shape).astype(np.float32) * 3
    return x.astype(dtype)


@pytest.mark.parametrize("dtype", NUMPY_DTYPES)
def test_numpy_roundtrip(dtype):
    a = sample(dtype)
    before = a.copy()
    frame = zipnn.compress(a)
    assert zipnn.frame_info(frame).dtype == LIB_DTYPE.get(dtype, "raw")
    meta = zipnn.array_metadata(frame)
    assert meta["dtype"] == dtype and meta["shape"] == [37, 53] and meta["lib"] == "numpy"
    r = zipnn.decompress(frame, out="numpy")
    assert r.dtype == a.dtype and r.shape == a.shape
    assert r.tobytes() == a.tobytes()
    assert np.array_equal(a, before)  # input untouched
    assert zipnn.decompress(frame) == a.tobytes()
    assert r.flags.writeable and r.flags.c_contiguous


@pytest.mark.parametrize("name", ["bfloat16", "float8_e4m3fn", "float8_e5m2"])
def test_ml_dtypes(name):
    ml_dtypes = pytest.importorskip("ml_dtypes")
    a = sample(getattr(ml_dtypes, name), (64, 33))
    frame = zipnn.compress(a)
    assert zipnn.frame_info(frame).dtype == LIB_DTYPE[name]
    r = zipnn.decompress(frame, out="numpy")
    assert r.dtype == a.dtype and r.shape == a.shape and r.tobytes() == a.tobytes()
    assert type(zipnn.decompress(frame, out="auto")) is np.ndarray


def test_numpy_shapes():
    for shape in [(), (0,), (5, 0, 3), (1,), (2, 3, 4, 5)]:
        a = np.arange(int(np.prod(shape)), dtype=np.float32).reshape(shape)
        r = zipnn.decompress(zipnn.compress(a), out="numpy")
        assert r.shape == shape and r.tobytes() == a.tobytes()


def test_numpy_non_contiguous_and_byte_order():
    base = sample(np.float32, (64, 64))
    for a in (base.T, base[::2, ::3], base[:, 5]):
        assert not a.flags.c_contiguous
        before = base.copy()
        r = zipnn.decompress(zipnn.compress(a), out="numpy")
        assert np.array_equal(r, a) and r.shape == a.shape
        assert np.array_equal(base, before)
    big = base.astype(">f4")
    frame = zipnn.compress(big)
    assert zipnn.array_metadata(frame)["dtype"] == ">f4"
    r = zipnn.decompress(frame, out="numpy")
    assert r.dtype == np.dtype(">f4") and np.array_equal(r, big)


def test_numpy_contiguous_input_is_not_copied(monkeypatch):
    a = sample(np.float32, (256, 256))
    calls = []
    orig = np.ascontiguousarray
    monkeypatch.setattr(np, "ascontiguousarray", lambda *x, **k: calls.append(1) or orig(*x, **k))
    zipnn.compress(a)
    assert calls == []
    zipnn.compress(a.T)
    assert calls == [1]


def test_explicit_dtype_and_shape_for_bytes():
    a = sample(np.float16, (10, 10))
    frame = zipnn.compress(a.tobytes(), dtype="fp16")
    r = zipnn.decompress(frame, out="numpy")  # no metadata: 1-D of the frame's dtype
    assert r.dtype == np.float16 and r.shape == (100,)
    r = zipnn.decompress(frame, out="numpy", dtype="float16", shape=(10, 10))
    assert np.array_equal(r, a)
    r = zipnn.decompress(zipnn.compress(a.tobytes()), out="numpy")
    assert r.dtype == np.uint8 and r.nbytes == a.nbytes


def test_user_metadata_with_array():
    a = sample(np.float32)
    frame = zipnn.compress(a, metadata={"name": "w"})
    meta = zipnn.array_metadata(frame)
    assert meta["user"] == {"name": "w"} and meta["shape"] == [37, 53]


def test_decompress_into_numpy_typed():
    a = sample(np.float32, (100, 10))
    out = np.empty_like(a)
    assert zipnn.decompress_into(out, zipnn.compress(a)) == a.nbytes
    assert np.array_equal(out, a)


# --- torch ---------------------------------------------------------------------------------
TORCH_DTYPES = ["bfloat16", "float16", "float32", "float64", "int8", "uint8", "int16", "int32",
                "int64", "bool", "float8_e4m3fn", "float8_e5m2", "complex64"]


@pytest.mark.parametrize("name", TORCH_DTYPES)
def test_torch_roundtrip(name):
    torch = pytest.importorskip("torch")
    dt = getattr(torch, name)
    t = (torch.randn(41, 29) * 3).to(dt)
    before = t.clone()
    frame = zipnn.compress(t)
    assert zipnn.frame_info(frame).dtype == LIB_DTYPE.get(name, "raw")
    meta = zipnn.array_metadata(frame)
    assert meta == {"dtype": name, "lib": "torch", "shape": [41, 29], "zipnn": 1}
    r = zipnn.decompress(frame, out="torch")
    assert r.dtype == dt and tuple(r.shape) == (41, 29)
    assert torch.equal(r.view(torch.uint8), t.view(torch.uint8))
    assert torch.equal(t.view(torch.uint8), before.view(torch.uint8))
    r2 = zipnn.decompress(frame, out="auto")
    assert isinstance(r2, torch.Tensor) and r2.dtype == dt


def test_torch_bf16_to_numpy_and_back():
    torch = pytest.importorskip("torch")
    pytest.importorskip("ml_dtypes")
    t = torch.randn(128, 64).to(torch.bfloat16)
    r = zipnn.decompress(zipnn.compress(t), out="numpy")
    assert str(r.dtype) == "bfloat16" and r.shape == (128, 64)
    assert r.tobytes() == t.view(torch.uint16).numpy().tobytes()
    a = np.asarray(r)
    back = zipnn.decompress(zipnn.compress(a), out="torch")
    assert torch.equal(back, t)


def test_torch_non_contiguous_and_requires_grad():
    torch = pytest.importorskip("torch")
    base = torch.randn(64, 48)
    for t in (base.t(), base[::2, 1::3], base[:, 7]):
        assert not t.is_contiguous()
        r = zipnn.decompress(zipnn.compress(t), out="torch")
        assert torch.equal(r, t) and r.shape == t.shape
    g = torch.randn(10, 10, requires_grad=True)
    assert torch.equal(zipnn.decompress(zipnn.compress(g), out="torch"), g.detach())


def test_torch_contiguous_input_is_not_copied():
    torch = pytest.importorskip("torch")
    from zipnn import _buffers

    t = torch.randn(256, 256).to(torch.bfloat16)
    with _buffers.source(t) as (ptr, n):
        assert ptr == t.data_ptr() and n == t.numel() * 2  # the tensor's own storage
    nc = t.t()
    with _buffers.source(nc) as (ptr, n):
        assert ptr != nc.data_ptr()  # non-contiguous: copied once
    assert zipnn.decompress(zipnn.compress(t), out="torch").data_ptr() != t.data_ptr()


def test_numpy_pointer_is_the_array():
    from zipnn import _buffers

    a = sample(np.float32, (100, 100))
    with _buffers.source(a) as (ptr, n):
        assert ptr == a.ctypes.data and n == a.nbytes
    ba = bytearray(b"0123456789")
    with _buffers.source(ba) as (ptr, n):
        import ctypes

        assert ctypes.addressof(ptr) == ctypes.addressof((ctypes.c_char * 10).from_buffer(ba))
    b = b"immutable"
    with _buffers.source(b) as (ptr, n):
        assert ptr is b


def test_decompress_into_torch():
    torch = pytest.importorskip("torch")
    t = torch.randn(33, 17).to(torch.float16)
    out = torch.empty_like(t)
    assert zipnn.decompress_into(out, zipnn.compress(t)) == t.numel() * 2
    assert torch.equal(out, t)
    with pytest.raises(zipnn.InvalidOptionError):
        zipnn.decompress_into(torch.empty(34, 34)[:, ::2], zipnn.compress(t))


def test_no_mutation_of_any_input_kind():
    data = bytes(range(256)) * 400
    inputs = [data, bytearray(data), memoryview(bytearray(data)), np.frombuffer(data, np.uint8).copy()]
    try:
        import torch

        inputs.append(torch.frombuffer(bytearray(data), dtype=torch.bfloat16).clone())
    except ImportError:
        pass
    for x in inputs:
        snapshot = bytes(memoryview(x)) if not hasattr(x, "data_ptr") else x.view(torch.uint8).numpy().tobytes()
        for dtype in ("raw", "bf16", "fp32"):
            zipnn.compress(x, dtype=dtype)
            zipnn.compress_into(bytearray(zipnn.compress_bound(len(data), dtype=dtype) + 200), x, dtype=dtype)
        now = bytes(memoryview(x)) if not hasattr(x, "data_ptr") else x.view(torch.uint8).numpy().tobytes()
        assert now == snapshot, type(x)
    frame = zipnn.compress(data)
    fb = bytearray(frame)
    zipnn.decompress(fb)
    zipnn.verify(fb)
    zipnn.frame_info(fb)
    assert fb == frame
