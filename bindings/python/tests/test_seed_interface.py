"""The reference package's interface: zipnn.zipnn.ZipNN and its options."""

import pytest

import zipnn as zipnn_pkg
from zipnn import NotSupportedYetError


def test_seed_readme_example_verbatim(capsys):
    from zipnn import zipnn

    example_string = b"Example string for compression"

    # Initializing the ZipNN class with the default configuration
    # for Byte->Byte compression and Byte->Byte decompression
    zipnn = zipnn.ZipNN(method='zstd')

    # Compress the byte string
    compressed_data = zipnn.compress(example_string)

    # Decompress the byte string back
    decompressed_data = zipnn.decompress(compressed_data)

    # Verify the result
    print("Are the original and decompressed byte strings the same? ", example_string == decompressed_data)
    assert capsys.readouterr().out.strip().endswith("True")


def test_submodule_and_top_level_class():
    from zipnn import zipnn

    assert zipnn.ZipNN is zipnn_pkg.ZipNN
    z = zipnn_pkg.ZipNN()
    data = bytes(range(256)) * 1000
    assert z.decompress(z.compress(data)) == data
    assert zipnn_pkg.decompress(z.compress(data)) == data  # same frame format


@pytest.mark.parametrize("method", ["zstd", "ZSTD", "lz4", "LZ4", "snappy", "huffman", "AUTO"])
@pytest.mark.parametrize("bg", [1, 2, 4, 8])
def test_methods_and_partitions(method, bg):
    z = zipnn_pkg.ZipNN(method=method, bg_partitions=bg, zstd_level=5, zstd_threads=2,
                        lz4_compression_level=3, bg_compression_threshold=0.9)
    data = bytes(range(200)) * 333 + b"tail"
    frame = z.compress(data)
    assert z.decompress(frame) == data
    assert zipnn_pkg.frame_info(frame).planes == bg


def test_option_mapping_reaches_the_library():
    with pytest.raises(zipnn_pkg.InvalidOptionError):
        zipnn_pkg.ZipNN(zstd_level=50)
    with pytest.raises(zipnn_pkg.InvalidOptionError):
        zipnn_pkg.ZipNN(bg_partitions=3).compress(b"abc" * 100)
    with pytest.raises(zipnn_pkg.UnsupportedMethodError):
        zipnn_pkg.ZipNN(method="gzip")
    frame = zipnn_pkg.ZipNN(compression_chunk=4096).compress(bytes(100_000))
    assert zipnn_pkg.frame_info(frame).chunk_size == 4096
    z = zipnn_pkg.ZipNN(bytearray_dtype="bfloat16")
    data = bytes(range(256)) * 64
    assert zipnn_pkg.frame_info(z.compress(data)).dtype == "bf16"
    assert z.decompress(z.compress(data)) == data


@pytest.mark.parametrize("option,value", [
    ("lossy_compressed_type", "unsign"),
    ("lossy_compressed_type", 2),
    ("is_monotonic", 1),
    ("byte_reorder", 220),
    ("reorder_signbit", 16),
    ("check_th_after_percent", 50),
])
def test_unsupported_options_raise_naming_the_option(option, value):
    with pytest.raises(NotSupportedYetError) as e:
        zipnn_pkg.ZipNN(**{option: value})
    assert f"option '{option}' is not supported yet" in str(e.value)
    assert isinstance(e.value, NotImplementedError) and isinstance(e.value, zipnn_pkg.ZipNNError)
    assert e.value.code == -2


@pytest.mark.parametrize("option,value", [
    ("is_streaming", True),
    ("streaming_chunk_KB", 1024),
    ("streaming_chunk_kb", 64),
    ("streaming_chunk", 1 << 20),
])
def test_streaming_options_outside_file_to_file_raise(option, value):
    # In-memory streaming is still not supported; file to file it is (test below).
    with pytest.raises(NotSupportedYetError) as e:
        zipnn_pkg.ZipNN(**{option: value})
    assert f"option '{option}' is not supported yet" in str(e.value)
    assert "file to file" in str(e.value)


@pytest.mark.parametrize("kw,block", [
    ({"is_streaming": True}, 0),
    ({"is_streaming": True, "streaming_chunk_KB": 64}, 64 * 1024),
    ({"streaming_chunk_kb": 1}, 1024),
    ({"streaming_chunk_KB": 10 ** 9}, zipnn_pkg.STREAM_MAX_BLOCK_SIZE),
    ({"streaming_chunk": 10}, zipnn_pkg.STREAM_MIN_BLOCK_SIZE),
])
def test_streaming_file_to_file(tmp_path, kw, block):
    src, comp, out = tmp_path / "in.bin", tmp_path / "c.znn", tmp_path / "out.bin"
    data = bytes(range(256)) * 1000 + bytes(50_000)
    src.write_bytes(data)
    z = zipnn_pkg.ZipNN(input_type="file", input_file=str(src), compressed_ret_type="file",
                        compressed_file=str(comp), decompressed_ret_type="file",
                        decompressed_file=str(out), **kw)
    assert z.block_size == block
    assert z.compress() == 0
    assert comp.read_bytes()[:4] == b"\x89ZNS"
    assert z.decompress() == 0
    assert out.read_bytes() == data
    assert sorted(p.name for p in tmp_path.iterdir()) == ["c.znn", "in.bin", "out.bin"]
    # The stream file also decodes in memory (bytes) through the class.
    z2 = zipnn_pkg.ZipNN(compressed_ret_type="file", compressed_file=str(comp))
    assert z2.decompress() == data


def test_streaming_chunk_options_must_agree():
    with pytest.raises(zipnn_pkg.InvalidOptionError):
        zipnn_pkg.ZipNN(input_type="file", compressed_ret_type="file", compressed_file="x",
                        streaming_chunk_KB=64, streaming_chunk=1 << 20)
    with pytest.raises(zipnn_pkg.InvalidOptionError):
        zipnn_pkg.ZipNN(input_type="file", compressed_ret_type="file", compressed_file="x",
                        streaming_chunk_KB=-1)


def test_unsupported_call_arguments():
    z = zipnn_pkg.ZipNN()
    for kw in ({"compress_cpu_gpu": "gpu"}, {"lossy_compressed_type": "unsign"}):
        with pytest.raises(NotSupportedYetError):
            z.compress(b"abc", **kw)
    with pytest.raises(NotSupportedYetError):
        z.decompress(z.compress(b"abc"), decompress_cpu_gpu="gpu")
    # delta_second_data without delta_compressed_type: an error, as in the reference
    with pytest.raises(zipnn_pkg.InvalidOptionError, match="delta"):
        z.compress(b"abc", delta_second_data=b"xyz")
    with pytest.raises(zipnn_pkg.InvalidOptionError, match="delta"):
        z.decompress(z.compress(b"abc"), delta_second_data=b"xyz")
    for bad in ({"delta_compressed_type": "torch"}, {"lossy_compressed_type": "cubic"},
                {"lossy_compressed_factor": -1}, {"lossy_compressed_factor": "27"}):
        with pytest.raises(zipnn_pkg.InvalidOptionError):
            zipnn_pkg.ZipNN(**bad)


def test_signbit_to_lsb_is_accepted_and_changes_nothing():
    data = bytes(range(256)) * 100
    a = zipnn_pkg.ZipNN(signbit_to_lsb=True, bytearray_dtype="bfloat16")
    b = zipnn_pkg.ZipNN(signbit_to_lsb=False, bytearray_dtype="bfloat16")
    assert a.signbit_to_lsb and not b.signbit_to_lsb
    assert a.compress(data) == b.compress(data)
    assert a.decompress(a.compress(data)) == data


def _ulp32(x):
    np = pytest.importorskip("numpy")
    return np.spacing(np.abs(x).astype(np.float32)).astype(np.float64)


def test_lossy_integer_default_factor_on_float32():
    torch = pytest.importorskip("torch")
    np = pytest.importorskip("numpy")
    t = torch.randn(64, 100, dtype=torch.float32)
    keep = t.clone()
    z = zipnn_pkg.ZipNN(input_format="torch", lossy_compressed_type="integer")
    assert z.lossy_compressed_type == "integer" and z.lossy_compressed_factor == 27
    frame = z.compress(t)
    info = zipnn_pkg.frame_info(frame)
    assert info.lossy == "integer" and info.lossy_param == 27
    back = z.decompress(frame)
    assert isinstance(back, torch.Tensor) and back.dtype == torch.float32 and back.shape == t.shape
    x, y = t.double().numpy(), back.double().numpy()
    assert np.all(np.abs(y - x) <= 2.0 ** -28 + _ulp32(x) / 2)
    assert torch.equal(t, keep)
    # the other spellings of the reference's EnumLossy, and a factor per call
    for kind in ("INTEGER", 1):
        f = zipnn_pkg.ZipNN(lossy_compressed_type=kind, lossy_compressed_factor=12).compress(t)
        assert zipnn_pkg.frame_info(f).lossy_param == 12
    f = zipnn_pkg.ZipNN().compress(t, lossy_compressed_type="integer", lossy_compressed_factor=20)
    assert zipnn_pkg.frame_info(f).lossy == "integer" and zipnn_pkg.frame_info(f).lossy_param == 20
    f = z.compress(t, lossy_compressed_factor=16)
    assert zipnn_pkg.frame_info(f).lossy_param == 16


def test_lossy_on_bytes_needs_a_float_dtype():
    np = pytest.importorskip("numpy")
    x = np.random.default_rng(0).standard_normal(5000).astype(np.float32)
    z = zipnn_pkg.ZipNN(bytearray_dtype="float32", lossy_compressed_type="integer",
                        lossy_compressed_factor=16)
    back = np.frombuffer(z.decompress(z.compress(x.tobytes())), np.float32)
    assert np.all(np.abs(back.astype(np.float64) - x) <= 2.0 ** -17 + _ulp32(x) / 2)
    with pytest.raises(zipnn_pkg.InvalidOptionError, match="float"):
        zipnn_pkg.ZipNN(lossy_compressed_type="integer").compress(x.tobytes())
    with pytest.raises(zipnn_pkg.InvalidOptionError, match="float"):
        zipnn_pkg.ZipNN(lossy_compressed_type="integer").compress(np.arange(10, dtype=np.int32))
    # bg_partitions=1 (raw coding) does not hide the array's float dtype from lossy
    f = zipnn_pkg.ZipNN(bg_partitions=1, lossy_compressed_type="integer").compress(x)
    assert zipnn_pkg.frame_info(f).lossy == "integer"


def test_lossy_factor_must_suit_the_dtype():
    torch = pytest.importorskip("torch")
    t = torch.randn(1000).to(torch.bfloat16)
    with pytest.raises(zipnn_pkg.InvalidOptionError, match="lossy_param"):
        zipnn_pkg.ZipNN(lossy_compressed_type="integer").compress(t)  # 27 > 14 for bf16
    frame = zipnn_pkg.ZipNN(lossy_compressed_type="integer", lossy_compressed_factor=10).compress(t)
    back = zipnn_pkg.decompress(frame, out="torch")
    assert back.dtype == torch.bfloat16
    assert torch.all((back.float() - t.float()).abs() <= 2.0 ** -11 + t.float().abs() * 2.0 ** -8)


def test_delta_byte():
    np = pytest.importorskip("numpy")
    rng = np.random.default_rng(3)
    base = rng.integers(0, 256, 100_000, dtype=np.uint8).tobytes()
    data = bytearray(base)
    data[::997] = bytes(len(data[::997]))
    data = bytes(data)
    z = zipnn_pkg.ZipNN(delta_compressed_type="byte")
    frame = z.compress(data, delta_second_data=base)
    assert zipnn_pkg.frame_info(frame).is_delta
    assert len(frame) < len(zipnn_pkg.ZipNN().compress(data)) // 5
    assert z.decompress(frame, delta_second_data=base) == data
    with pytest.raises(zipnn_pkg.BaseRequiredError):
        z.decompress(frame)
    with pytest.raises(zipnn_pkg.BaseMismatchError):
        z.decompress(frame, delta_second_data=data)
    with pytest.raises(zipnn_pkg.InvalidOptionError, match="delta_second_data"):
        z.compress(data)
    with pytest.raises(ValueError):  # lengths differ (BaseMismatchError is a ValueError)
        z.compress(data, delta_second_data=base[:-1])


def test_delta_torch_and_numpy():
    torch = pytest.importorskip("torch")
    base = torch.randn(128, 64).to(torch.bfloat16)
    ft = (base.float() + 0.001 * torch.randn(128, 64)).to(torch.bfloat16)
    z = zipnn_pkg.ZipNN(input_format="torch", delta_compressed_type="byte")
    back = z.decompress(z.compress(ft, delta_second_data=base), delta_second_data=base)
    assert back.dtype == torch.bfloat16 and torch.equal(back, ft)
    zn = zipnn_pkg.ZipNN(input_format="numpy", delta_compressed_type="byte")
    a, b = ft.float().numpy(), base.float().numpy()
    assert (zn.decompress(zn.compress(a, delta_second_data=b), delta_second_data=b) == a).all()


def test_delta_file(tmp_path):
    base = bytes(range(256)) * 400
    data = bytes(x ^ (i % 101 == 0) for i, x in enumerate(base))
    bp = tmp_path / "base.bin"
    bp.write_bytes(base)
    z = zipnn_pkg.ZipNN(delta_compressed_type="file")
    frame = z.compress(data, delta_second_data=str(bp))
    assert z.decompress(frame, delta_second_data=str(bp)) == data
    with pytest.raises(zipnn_pkg.InvalidOptionError, match="path"):
        z.compress(data, delta_second_data=base)
    # file to file with a delta: one frame (stream frames are never deltas)
    src, comp, out = tmp_path / "in.bin", tmp_path / "c.znn", tmp_path / "out.bin"
    src.write_bytes(data)
    zf = zipnn_pkg.ZipNN(delta_compressed_type="file", input_type="file", compressed_ret_type="file",
                         compressed_file=str(comp), decompressed_ret_type="file",
                         decompressed_file=str(out))
    assert zf.compress(str(src), delta_second_data=bp) == 0
    assert comp.read_bytes()[:4] == b"\x89ZNN"
    assert zf.decompress(delta_second_data=bp) == 0
    assert out.read_bytes() == data


def test_defaults_are_accepted():
    zipnn_pkg.ZipNN(delta_compressed_type=None, lossy_compressed_type=None, lossy_compressed_factor=27,
                    signbit_to_lsb=False, is_streaming=False, is_monotonic=0, byte_reorder=0,
                    reorder_signbit=0, check_th_after_percent=10)


def test_files(tmp_path):
    src, comp, out = tmp_path / "in.bin", tmp_path / "c.znn", tmp_path / "out.bin"
    data = bytes(range(256)) * 4000
    src.write_bytes(data)
    z = zipnn_pkg.ZipNN(input_type="file", input_file=str(src), compressed_ret_type="file",
                        compressed_file=str(comp), decompressed_ret_type="file",
                        decompressed_file=str(out))
    assert z.compress() == 0
    assert comp.is_file()
    assert z.decompress() == 0
    assert out.read_bytes() == data
    z2 = zipnn_pkg.ZipNN(input_type="file")
    frame = z2.compress(str(src))
    assert zipnn_pkg.decompress(frame) == data
    with pytest.raises(zipnn_pkg.InvalidOptionError):
        zipnn_pkg.ZipNN(compressed_ret_type="file")
    with pytest.raises(zipnn_pkg.InvalidOptionError):
        zipnn_pkg.ZipNN(input_type="parquet")


def test_torch_interface():
    torch = pytest.importorskip("torch")
    t = torch.randn(64, 32).to(torch.bfloat16)
    z = zipnn_pkg.ZipNN(input_type="torch")
    r = z.decompress(z.compress(t))
    assert isinstance(r, torch.Tensor) and r.dtype == torch.bfloat16 and torch.equal(r, t)
    assert zipnn_pkg.frame_info(z.compress(t)).dtype == "bf16"
    z2 = zipnn_pkg.ZipNN(input_format="torch", decompressed_ret_type="byte")
    assert z2.decompress(z2.compress(t)) == t.view(torch.uint8).numpy().tobytes()
    # bytes in, torch out, with the dtype and shape given as the reference's options
    raw = t.view(torch.uint16).numpy().tobytes()
    z3 = zipnn_pkg.ZipNN(torch_dtype="torch.bfloat16", torch_shape=(64, 32), decompressed_ret_type="torch")
    frame = z3.compress(raw)
    assert zipnn_pkg.frame_info(frame).dtype == "bf16"
    assert torch.equal(z3.decompress(frame), t)
    # a frame without metadata, shape from the instance
    z4 = zipnn_pkg.ZipNN(torch_dtype=torch.bfloat16, torch_shape=(32, 64), decompressed_ret_type="torch")
    r4 = z4.decompress(zipnn_pkg.compress(raw, dtype="bf16"))
    assert r4.shape == (32, 64) and r4.dtype == torch.bfloat16
    z5 = zipnn_pkg.ZipNN(bg_partitions=1)
    assert zipnn_pkg.frame_info(z5.compress(t)).dtype == "raw"


def test_numpy_interface():
    np = pytest.importorskip("numpy")
    a = np.linspace(0, 1, 1000, dtype=np.float32).reshape(10, 100)
    z = zipnn_pkg.ZipNN(input_format="numpy")
    r = z.decompress(z.compress(a))
    assert isinstance(r, np.ndarray) and np.array_equal(r, a)
