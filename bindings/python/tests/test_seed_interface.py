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
    ("delta_compressed_type", "byte"),
    ("lossy_compressed_type", "integer"),
    ("lossy_compressed_factor", 20),
    ("signbit_to_lsb", True),
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
    for kw in ({"lossy_compressed_type": "integer"}, {"lossy_compressed_factor": 3},
               {"delta_second_data": b"x"}, {"compress_cpu_gpu": "gpu"}):
        with pytest.raises(NotSupportedYetError):
            z.compress(b"abc", **kw)
    with pytest.raises(NotSupportedYetError):
        z.decompress(z.compress(b"abc"), decompress_cpu_gpu="gpu")


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
