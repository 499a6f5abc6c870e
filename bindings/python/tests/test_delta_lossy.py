"""Frame-level delta (compress(..., base=) / decompress(..., base=)) and the lossy modes."""

import pytest

import zipnn

np = pytest.importorskip("numpy")

#: library dtype -> (numpy dtype for the data as stored, mantissa bits)
FLOATS = {"fp16": (np.float16, 10), "fp32": (np.float32, 23), "fp64": (np.float64, 52),
          "bf16": (None, 7)}


def gaussian(dtype, n=20_000, seed=0, scale=1.0):
    """(stored bytes, values as float64) of normal(0, scale) data in a library dtype."""
    rng = np.random.default_rng(seed)
    g = rng.standard_normal(n) * scale
    if dtype == "bf16":
        bits = (g.astype(np.float32).view(np.uint32) >> 16).astype(np.uint16)
        return bits.tobytes(), bf16_values(bits.tobytes())
    a = g.astype(FLOATS[dtype][0])
    return a.tobytes(), a.astype(np.float64)


def bf16_values(raw):
    bits = np.frombuffer(raw, np.uint16).astype(np.uint32) << 16
    return bits.view(np.float32).astype(np.float64)


def values(dtype, raw):
    if dtype == "bf16":
        return bf16_values(raw)
    return np.frombuffer(raw, FLOATS[dtype][0]).astype(np.float64)


def ulp(x, mant):
    """The spacing of the dtype (``mant`` mantissa bits) at |x| (normal range)."""
    ax = np.abs(x)
    e = np.floor(np.log2(np.where(ax > 0, ax, 1.0)))
    return 2.0 ** (e - mant)


# --- delta ----------------------------------------------------------------------------------
def test_bytes_delta_round_trip():
    rng = np.random.default_rng(1)
    base = rng.integers(0, 256, 300_000, dtype=np.uint8).tobytes()
    data = bytearray(base)
    for i in rng.integers(0, len(data), 500):
        data[i] ^= 0x5A
    data = bytes(data)
    frame = zipnn.compress(data, base=base)
    info = zipnn.frame_info(frame)
    assert info.is_delta and info.base_hash != 0 and not info.is_lossy
    assert len(frame) < len(zipnn.compress(data)) // 10  # the XOR is nearly all zeros
    assert zipnn.decompress(frame, base=base) == data
    assert zipnn.decompress(frame, base=bytearray(base), out="bytearray") == bytearray(data)
    dst = bytearray(len(data))
    assert zipnn.decompress_into(dst, frame, base=memoryview(base)) == len(data) and dst == data
    # a plain frame ignores base; compress_bound covers a delta frame
    assert zipnn.decompress(zipnn.compress(data), base=base) == data
    assert len(frame) <= zipnn.compress_bound(len(data), base=base)
    out = bytearray(zipnn.compress_bound(len(data)))
    n = zipnn.compress_into(out, data, base=base)
    assert zipnn.decompress(bytes(out[:n]), base=base) == data


def test_delta_needs_the_right_base():
    base = bytes(range(256)) * 100
    data = bytes(b ^ (i % 7 == 0) for i, b in enumerate(base))
    frame = zipnn.compress(data, base=base)
    with pytest.raises(zipnn.BaseRequiredError) as e:
        zipnn.decompress(frame)
    assert e.value.code == -5 and isinstance(e.value, ValueError)
    with pytest.raises(zipnn.BaseRequiredError):
        zipnn.decompress(frame, out="numpy", dtype="uint8")
    wrong = bytearray(base)
    wrong[1000] ^= 1
    with pytest.raises(zipnn.BaseMismatchError) as e:
        zipnn.decompress(frame, base=bytes(wrong))
    assert e.value.code == -6 and isinstance(e.value, zipnn.DeltaBaseError)
    with pytest.raises(zipnn.BaseMismatchError):
        zipnn.decompress(frame, base=base[:-1])
    dst = bytearray(b"\xAA" * len(data))
    with pytest.raises(zipnn.BaseMismatchError):
        zipnn.decompress_into(dst, frame, base=bytes(wrong))
    assert dst == b"\xAA" * len(data)  # nothing written with a wrong base
    with pytest.raises(zipnn.BaseMismatchError):  # lengths differ
        zipnn.compress(data, base=base[:-4])


def test_delta_arrays_numpy_and_torch():
    rng = np.random.default_rng(2)
    base = rng.standard_normal((64, 128)).astype(np.float32)
    ft = base + (rng.standard_normal(base.shape) * 1e-3).astype(np.float32)
    base_copy, ft_copy = base.copy(), ft.copy()
    frame = zipnn.compress(ft, base=base)
    assert zipnn.frame_info(frame).is_delta and zipnn.frame_info(frame).dtype == "fp32"
    back = zipnn.decompress(frame, out="numpy", base=base)
    assert back.dtype == np.float32 and back.shape == ft.shape and np.array_equal(back, ft)
    assert np.array_equal(base, base_copy) and np.array_equal(ft, ft_copy)  # inputs unchanged
    # base may be given as bytes or a non-contiguous view
    assert np.array_equal(zipnn.decompress(frame, out="numpy", base=base.tobytes()), ft)
    wide = np.zeros((64, 256), np.float32)
    wide[:, ::2] = base
    assert np.array_equal(zipnn.decompress(frame, out="numpy", base=wide[:, ::2]), ft)
    torch = pytest.importorskip("torch")
    tb = torch.from_numpy(base).to(torch.bfloat16)
    tf = torch.from_numpy(ft).to(torch.bfloat16)
    tb_copy = tb.clone()
    frame = zipnn.compress(tf, base=tb)
    t = zipnn.decompress(frame, out="torch", base=tb)
    assert t.dtype == torch.bfloat16 and torch.equal(t, tf) and torch.equal(tb, tb_copy)
    assert torch.equal(zipnn.decompress(frame, out="auto", base=tb), tf)


# --- lossy ----------------------------------------------------------------------------------
@pytest.mark.parametrize("dtype,f", [("fp32", 20), ("fp32", 27), ("fp64", 40), ("fp16", 8),
                                     ("bf16", 10)])
def test_integer_mode_error_bound(dtype, f):
    raw, x = gaussian(dtype, seed=f)
    keep = bytes(raw)
    frame = zipnn.compress(raw, dtype=dtype, lossy="integer", lossy_param=f)
    info = zipnn.frame_info(frame)
    assert info.is_lossy and info.lossy == "integer" and info.lossy_param == f
    assert info.lossy_mode == zipnn._ffi.ZIPNN_LOSSY_INTEGER
    y = values(dtype, zipnn.decompress(frame))
    mant = FLOATS[dtype][1]
    bound = 2.0 ** -(f + 1) + ulp(np.maximum(np.abs(x), np.abs(y)), mant) / 2
    assert np.all(np.abs(y - x) <= bound)
    assert raw == keep


@pytest.mark.parametrize("dtype,k", [("fp32", 10), ("fp32", 0), ("fp64", 30), ("fp16", 4),
                                     ("bf16", 3)])
def test_mantissa_mode_error_bound(dtype, k):
    raw, x = gaussian(dtype, seed=k + 3)
    frame = zipnn.compress(raw, dtype=dtype, lossy="mantissa", lossy_param=k)
    info = zipnn.frame_info(frame)
    assert info.lossy == "mantissa" and info.lossy_param == k and info.is_lossy
    assert len(frame) < len(zipnn.compress(raw, dtype=dtype))
    y = values(dtype, zipnn.decompress(frame))
    nz = x != 0
    assert np.all(y[~nz] == 0)
    assert np.all(np.abs(y[nz] - x[nz]) / np.abs(x[nz]) <= 2.0 ** -(k + 1))


def test_lossy_arrays_keep_dtype_and_shape():
    torch = pytest.importorskip("torch")
    t = torch.randn(32, 48, dtype=torch.float32)
    frame = zipnn.compress(t, lossy="mantissa", lossy_param=7)
    back = zipnn.decompress(frame, out="torch")
    assert back.dtype == torch.float32 and back.shape == t.shape
    assert torch.all((back - t).abs() <= t.abs() * 2.0 ** -8)
    a = np.random.default_rng(0).standard_normal((10, 10))
    back = zipnn.decompress(zipnn.compress(a, lossy="integer", lossy_param=30), out="numpy")
    assert back.dtype == np.float64 and np.all(np.abs(back - a) <= 2.0 ** -31 + 1e-15)


def test_integer_mode_falls_back_to_lossless():
    x = np.array([1.0, np.inf, -2.5, 3.0] * 1000, dtype=np.float32)
    frame = zipnn.compress(x, lossy="integer", lossy_param=10)
    info = zipnn.frame_info(frame)
    assert info.lossy == "none" and not info.is_lossy
    assert np.array_equal(zipnn.decompress(frame, out="numpy"), x)
    big = np.full(1000, 1e6, dtype=np.float32)  # 1e6 * 2^27 does not fit 32 bits
    assert zipnn.frame_info(zipnn.compress(big, lossy="integer", lossy_param=27)).lossy == "none"


def test_lossy_with_delta():
    raw, x = gaussian("fp32", seed=9)
    base = bytes(len(raw))
    frame = zipnn.compress(raw, dtype="fp32", lossy="mantissa", lossy_param=12, base=base)
    info = zipnn.frame_info(frame)
    assert info.is_delta and info.is_lossy
    y = values("fp32", zipnn.decompress(frame, base=base))
    nz = x != 0
    assert np.all(np.abs(y[nz] - x[nz]) / np.abs(x[nz]) <= 2.0 ** -13)


def test_lossy_stream():
    raw, x = gaussian("fp32", n=100_000, seed=4)
    with zipnn.CompressStream(dtype="fp32", lossy="mantissa", lossy_param=6, block_size=65536) as cs:
        stream = cs.compress(raw) + cs.finish()
    with zipnn.DecompressStream() as ds:
        out = ds.decompress(stream) + ds.finish()
    y = values("fp32", out)
    nz = x != 0
    assert np.all(np.abs(y[nz] - x[nz]) / np.abs(x[nz]) <= 2.0 ** -7)


@pytest.mark.parametrize("kw", [
    {"lossy": "integer"},                                  # no lossy_param
    {"lossy": "mantissa", "lossy_param": 23},              # not below fp32's 23 bits
    {"lossy": "integer", "lossy_param": 31},               # more than 30 for fp32
    {"lossy": "cubic", "lossy_param": 3},                  # unknown mode
    {"lossy_param": 3},                                    # param without a mode
    {"lossy": "integer", "lossy_param": -1},
])
def test_lossy_option_errors(kw):
    raw, _ = gaussian("fp32", n=100)
    with pytest.raises(zipnn.InvalidOptionError):
        zipnn.compress(raw, dtype="fp32", **kw)


@pytest.mark.parametrize("dtype", ["raw", "int8", "uint8", "fp8_e4m3"])
def test_lossy_needs_a_float_dtype(dtype):
    with pytest.raises(zipnn.InvalidOptionError) as e:
        zipnn.compress(bytes(1000), dtype=dtype, lossy="mantissa", lossy_param=3)
    assert "float" in str(e.value)
    assert zipnn.compress(bytes(1000), dtype=dtype, lossy=None) is not None
    assert zipnn.frame_info(zipnn.compress(bytes(100), lossy="none")).lossy == "none"
