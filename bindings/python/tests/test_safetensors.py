"""zipnn.safetensors: archives of safetensors files, the safetensors-compatible reader,
delta archives against a base model, lossy archives and the error paths."""

import gc
import threading

import pytest

import zipnn
from zipnn import safetensors as zst
from conftest import ST_DTYPES, safetensors_bytes, tensor_bytes

np = pytest.importorskip("numpy")


def model(seed=0, scale=0.02, dtypes=None, extra=None):
    """A small model: one tensor per safetensors dtype (various shapes), a scalar and an
    empty tensor."""
    tensors = {}
    shapes = [(3, 5), (7,), (2, 3, 4), (64, 33)]
    for i, dt in enumerate(dtypes or ST_DTYPES):
        shape = shapes[i % len(shapes)]
        count = int(np.prod(shape))
        tensors[f"layer.{i}.{dt.lower()}"] = (dt, shape, tensor_bytes(dt, count, seed + i, scale))
    tensors["scalar"] = ("F32", (), np.float32(1.5).tobytes())
    tensors["empty"] = ("F16", (0, 4), b"")
    tensors["big.weight"] = ("BF16", (256, 256), tensor_bytes("BF16", 256 * 256, seed + 99, scale))
    if extra:
        tensors.update(extra)
    return tensors


META = {"format": "pt", "producer": "zipnn tests"}


@pytest.fixture
def st_file(tmp_path):
    tensors = model()
    raw = safetensors_bytes(tensors, META)
    path = tmp_path / "model.safetensors"
    path.write_bytes(raw)
    return path, raw, tensors


def torch_bytes(t):
    torch = pytest.importorskip("torch")
    return t.contiguous().reshape(-1).view(torch.uint8).numpy().tobytes()


# --- round trips ------------------------------------------------------------------------------
def test_compress_file_and_load_file_torch(st_file, tmp_path):
    torch = pytest.importorskip("torch")
    path, raw, tensors = st_file
    arc = tmp_path / "model.znt"
    n = zst.compress_file(path, arc)
    assert n == arc.stat().st_size and n < len(raw)
    assert arc.read_bytes()[:4] == b"\x89ZNT"
    loaded = zst.load_file(arc)
    assert set(loaded) == set(tensors)
    want_dtype = {"BOOL": torch.bool, "U8": torch.uint8, "I8": torch.int8, "I16": torch.int16,
                  "I32": torch.int32, "I64": torch.int64, "F16": torch.float16,
                  "BF16": torch.bfloat16, "F32": torch.float32, "F64": torch.float64,
                  "F8_E4M3": torch.float8_e4m3fn, "F8_E5M2": torch.float8_e5m2}
    for name, (dt, shape, data) in tensors.items():
        t = loaded[name]
        assert isinstance(t, torch.Tensor) and t.device.type == "cpu"
        assert tuple(t.shape) == tuple(shape), name
        if dt in want_dtype:
            assert t.dtype == want_dtype[dt], name
        assert torch_bytes(t) == data, name
    # The same through the module mirroring safetensors.torch.
    from zipnn.safetensors.torch import load_file

    again = load_file(str(arc), device="cpu")
    assert all(torch_bytes(again[k]) == torch_bytes(loaded[k]) for k in loaded)


def test_load_file_equals_safetensors_package(st_file, tmp_path):
    torch = pytest.importorskip("torch")
    st_torch = pytest.importorskip("safetensors.torch")
    path, raw, tensors = st_file
    arc = tmp_path / "model.znt"
    zst.compress_file(path, arc)
    want = st_torch.load_file(str(path))
    got = zst.load_file(str(arc))
    assert list(sorted(want)) == list(sorted(got))
    for k in want:
        assert got[k].dtype == want[k].dtype, k
        assert got[k].shape == want[k].shape, k
        assert torch_bytes(got[k]) == torch_bytes(want[k]), k
        if want[k].dtype.is_floating_point and want[k].numel():
            assert torch.equal(got[k].float(), want[k].float()), k
    # and the numpy loaders agree too (the safetensors numpy loader has no bf16/fp8)
    st_np = pytest.importorskip("safetensors.numpy")
    plain = {k: v for k, v in tensors.items() if v[0] not in ("BF16", "F8_E4M3", "F8_E5M2")}
    p2, a2 = tmp_path / "plain.safetensors", tmp_path / "plain.znt"
    p2.write_bytes(safetensors_bytes(plain))
    zst.compress_file(p2, a2)
    want_np = st_np.load_file(str(p2))
    got_np = zst.numpy.load_file(str(a2))
    for k in want_np:
        assert got_np[k].dtype == want_np[k].dtype and got_np[k].shape == want_np[k].shape, k
        assert np.array_equal(got_np[k], want_np[k]), k


def test_numpy_load_file_all_dtypes(st_file, tmp_path):
    pytest.importorskip("ml_dtypes")
    path, raw, tensors = st_file
    arc = tmp_path / "m.znt"
    zst.compress_file(path, arc)
    from zipnn.safetensors.numpy import load_file

    arrays = load_file(arc)
    names = {"BOOL": "bool", "U8": "uint8", "I8": "int8", "U16": "uint16", "I16": "int16",
             "U32": "uint32", "I32": "int32", "U64": "uint64", "I64": "int64", "F16": "float16",
             "BF16": "bfloat16", "F32": "float32", "F64": "float64",
             "F8_E4M3": "float8_e4m3fn", "F8_E5M2": "float8_e5m2"}
    for name, (dt, shape, data) in tensors.items():
        a = arrays[name]
        assert isinstance(a, np.ndarray)
        assert a.dtype.name == names[dt] and a.shape == tuple(shape), name
        assert a.tobytes() == data, name
        # decoded straight into a fresh array: writable and owning its memory
        assert a.flags.writeable and a.flags.owndata and a.flags.c_contiguous, name
        if a.size:
            a.reshape(-1)[0] = a.reshape(-1)[-1]  # writable for real


def test_torch_tensors_are_writable_and_own_memory(st_file, tmp_path):
    pytest.importorskip("torch")
    path, raw, tensors = st_file
    arc = tmp_path / "m.znt"
    zst.compress_file(path, arc)
    with zst.safe_open(arc, framework="pt") as f:
        a = f.get_tensor("big.weight")
        b = f.get_tensor("big.weight")
    assert a.data_ptr() != b.data_ptr()  # every call decodes into its own tensor
    assert a.untyped_storage().nbytes() == a.numel() * a.element_size()
    a.zero_()
    assert torch_bytes(b) == tensors["big.weight"][2]


def test_restore_byte_for_byte(st_file, tmp_path):
    path, raw, _ = st_file
    arc, out = tmp_path / "m.znt", tmp_path / "restored.safetensors"
    zst.compress_file(path, arc)
    assert zst.decompress_file(arc, out) == len(raw)
    assert out.read_bytes() == raw
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m.znt", "model.safetensors",
                                                          "restored.safetensors"]
    # in memory
    archive = zst.compress(raw)
    assert archive == arc.read_bytes()  # same options, same bytes
    assert zst.decompress(archive) == raw
    with zst.open_archive(archive) as a:
        assert a.restored_size() == len(raw)
        buf = bytearray(len(raw) + 10)
        assert a.restore_into(buf) == len(raw) and bytes(buf[:len(raw)]) == raw


@pytest.mark.parametrize("kw", [{"method": "zstd", "level": "max"}, {"method": "lz4"},
                                {"level": "fast", "threads": 1, "chunk_size": 4096}])
def test_options(st_file, kw):
    _, raw, _ = st_file
    archive = zst.compress(raw, **kw)
    assert zst.decompress(archive) == raw


def test_options_are_checked(st_file, tmp_path):
    path, raw, _ = st_file
    with pytest.raises(TypeError, match="dtype"):
        zst.compress_file(path, tmp_path / "x.znt", dtype="bf16")
    with pytest.raises(zipnn.InvalidOptionError):
        zst.compress(raw, zstd_level=99, method="zstd")
    with pytest.raises(zipnn.UnsupportedMethodError):
        zst.compress(raw, method="gzip")
    assert not (tmp_path / "x.znt").exists()


# --- safe_open ------------------------------------------------------------------------------
def test_safe_open_api(st_file, tmp_path):
    pytest.importorskip("ml_dtypes")
    path, raw, tensors = st_file
    arc = tmp_path / "m.znt"
    zst.compress_file(path, arc)
    with zst.safe_open(str(arc), framework="np") as f:
        assert f.keys() == sorted(tensors)
        assert f.offset_keys() == list(tensors)  # insertion order = data order here
        assert f.metadata() == META
        assert len(f) == len(tensors) and "scalar" in f and "nope" not in f
        s = f.get_tensor("scalar")
        assert s.shape == () and s.dtype == np.float32 and float(s) == 1.5
        e = f.get_tensor("empty")
        assert e.shape == (0, 4) and e.dtype == np.float16
        sl = f.get_slice("big.weight")
        assert sl.get_shape() == [256, 256] and sl.get_dtype() == "BF16"
        full = f.get_tensor("big.weight")
        part = sl[10:20, ::3]
        assert np.array_equal(part.view(np.uint16), full[10:20, ::3].view(np.uint16))
        info = f.info("big.weight")
        assert info.dtype == "BF16" and info.shape == (256, 256) and info.size == 256 * 256 * 2
        assert info.coded_dtype == "bf16" and 0 < info.compressed_size < info.size
        assert not (info.is_tied or info.is_delta or info.is_lossy) and info.lossy == "none"
        assert f.info("layer.8.i64").coded_dtype == "raw"
        assert [i.name for i in f.infos()] == f.offset_keys()
        assert f.header()["__metadata__"] == META
        assert f.header_json() == raw[8:8 + int.from_bytes(raw[:8], "little")]
    assert f.closed
    with pytest.raises(zipnn.InvalidOptionError, match="closed"):
        f.get_tensor("scalar")
    f.close()  # idempotent


def test_safe_open_torch_and_slices(st_file, tmp_path):
    torch = pytest.importorskip("torch")
    path, raw, tensors = st_file
    arc = tmp_path / "m.znt"
    zst.compress_file(path, arc)
    with zst.safe_open(arc, framework="pt", device="cpu") as f:
        t = f.get_tensor("big.weight")
        assert t.dtype == torch.bfloat16
        sl = f.get_slice("big.weight")
        assert torch.equal(sl[:, 5:9], t[:, 5:9]) and sl[:, 5:9].is_contiguous()
        assert f.get_tensor("big.weight", framework="np").shape == (256, 256)
    with pytest.raises(zipnn.InvalidOptionError):
        zst.safe_open(arc, framework="tf")
    with pytest.raises(zipnn.InvalidOptionError):
        zst.safe_open(arc, framework="np", device="cuda")


def test_metadata_none_when_absent(tmp_path):
    raw = safetensors_bytes({"w": ("F32", (4,), np.arange(4, dtype=np.float32).tobytes())})
    with zst.safe_open(zst.compress(raw), "np") as f:
        assert f.metadata() is None
        assert f.get_tensor("w").tolist() == [0, 1, 2, 3]


def test_data_order_differs_from_name_order(tmp_path):
    tensors = {n: ("F32", (8,), np.full(8, i, dtype=np.float32).tobytes())
               for i, n in enumerate(["b", "a", "c"])}
    raw = safetensors_bytes(tensors, order=["c", "a", "b"])
    with zst.safe_open(zst.compress(raw), "np") as f:
        assert f.keys() == ["a", "b", "c"] and f.offset_keys() == ["c", "a", "b"]
        assert f.get_tensor("b")[0] == 0 and f.get_tensor("c")[0] == 2
    assert zst.decompress(zst.compress(raw)) == raw


def test_unicode_names_and_numpy_load_bytes():
    tensors = {"ünï/çødé.weight": ("I32", (3,), np.array([1, -2, 3], np.int32).tobytes())}
    archive = zst.compress(safetensors_bytes(tensors))
    got = zst.numpy.load(archive)
    assert got["ünï/çødé.weight"].tolist() == [1, -2, 3]


def test_concurrent_get_tensor(st_file, tmp_path):
    path, raw, tensors = st_file
    arc = tmp_path / "m.znt"
    zst.compress_file(path, arc)
    errors = []
    names = [n for n in tensors if tensors[n][0] not in ("BF16", "F8_E4M3", "F8_E5M2")]
    with zst.safe_open(arc, "np") as f:
        def work():
            try:
                for _ in range(5):
                    for n in names:
                        assert f.get_tensor(n).tobytes() == tensors[n][2]
            except Exception as e:  # pragma: no cover - reported below
                errors.append(e)
        ts = [threading.Thread(target=work) for _ in range(4)]
        for t in ts:
            t.start()
        for t in ts:
            t.join()
    assert not errors


# --- tied tensors -----------------------------------------------------------------------------
def test_tied_tensors_stored_once(tmp_path):
    torch = pytest.importorskip("torch")
    emb = tensor_bytes("BF16", 128 * 64, 5)
    tensors = {"embed.weight": ("BF16", (128, 64), emb),
               "norm": ("F32", (64,), tensor_bytes("F32", 64, 6)),
               "lm_head.weight": ("BF16", (128, 64), emb)}
    raw = safetensors_bytes(tensors)
    archive = zst.compress(raw)
    untied = dict(tensors)
    untied["lm_head.weight"] = ("BF16", (128, 64), tensor_bytes("BF16", 128 * 64, 7))
    assert len(archive) < len(zst.compress(safetensors_bytes(untied))) - 128 * 64
    with zst.safe_open(archive, "pt") as f:
        tied = f.info("lm_head.weight")
        assert tied.is_tied and tied.tied_to == "embed.weight" and tied.compressed_size == 0
        assert not f.info("embed.weight").is_tied and f.info("embed.weight").tied_to is None
        a, b = f.get_tensor("embed.weight"), f.get_tensor("lm_head.weight")
        assert torch.equal(a, b) and a.data_ptr() != b.data_ptr()
        assert torch_bytes(b) == emb
    assert zst.decompress(archive) == raw


# --- delta archives ---------------------------------------------------------------------------
def finetune(base_tensors, seed=1):
    """A fine-tune: small changes to the float tensors, one tensor new, one reshaped."""
    rng = np.random.default_rng(seed)
    out = {}
    for name, (dt, shape, data) in base_tensors.items():
        if dt == "F32" and data:
            a = np.frombuffer(data, np.float32).copy()
            a += (rng.standard_normal(a.size) * 1e-4).astype(np.float32)
            data = a.tobytes()
        elif dt == "BF16" and data:
            a = np.frombuffer(data, np.uint16).copy()
            flip = rng.random(a.size) < 0.1
            a[flip] ^= 1
            data = a.tobytes()
        out[name] = (dt, shape, data)
    out["new.bias"] = ("F32", (16,), tensor_bytes("F32", 16, 77))
    out["layer.0.bool"] = ("BOOL", (15,), tensor_bytes("BOOL", 15, 3))  # shape differs from base
    return out


@pytest.fixture
def delta_files(tmp_path):
    base_t = model(seed=10)
    ft_t = finetune(base_t)
    base_raw, ft_raw = safetensors_bytes(base_t, META), safetensors_bytes(ft_t, META)
    bp, fp = tmp_path / "base.safetensors", tmp_path / "ft.safetensors"
    bp.write_bytes(base_raw)
    fp.write_bytes(ft_raw)
    return bp, fp, base_raw, ft_raw, ft_t


def test_delta_archive_with_base(delta_files, tmp_path):
    bp, fp, base_raw, ft_raw, ft_t = delta_files
    arc = tmp_path / "ft.znt"
    n = zst.compress_file(fp, arc, base=bp)
    plain = zst.compress(ft_raw)
    assert n < len(plain)  # the deltas pay
    with zst.safe_open(arc, "np", base=bp) as f:
        infos = {i.name: i for i in f.infos()}
        assert infos["big.weight"].is_delta and infos["layer.11.f32"].is_delta
        assert infos["layer.8.i64"].is_delta  # every dtype can be a delta
        assert not infos["new.bias"].is_delta and not infos["layer.0.bool"].is_delta
        for name, (dt, shape, data) in ft_t.items():
            if dt in ("BF16", "F8_E4M3", "F8_E5M2"):
                continue
            assert f.get_tensor(name).tobytes() == data, name
    # base given as bytes, and every dtype through torch
    pytest.importorskip("torch")
    got = zst.load_file(arc, base=base_raw)
    for name, (dt, shape, data) in ft_t.items():
        assert torch_bytes(got[name]) == data, name
    # restore the file, byte for byte
    out = tmp_path / "ft.restored"
    assert zst.decompress_file(arc, out, base=bp) == len(ft_raw)
    assert out.read_bytes() == ft_raw
    assert zst.decompress(arc.read_bytes(), base=base_raw) == ft_raw
    assert zst.compress(ft_raw, base=bp) == arc.read_bytes()
    assert zst.compress(ft_raw, base=bytearray(base_raw)) == arc.read_bytes()


def test_delta_archive_without_base(delta_files, tmp_path):
    bp, fp, base_raw, ft_raw, ft_t = delta_files
    arc = tmp_path / "ft.znt"
    zst.compress_file(fp, arc, base=bp)
    with zst.safe_open(arc, "np") as f:
        # tensors that are not deltas still load
        assert f.get_tensor("new.bias").tobytes() == ft_t["new.bias"][2]
        with pytest.raises(zipnn.BaseRequiredError) as e:
            f.get_tensor("big.weight")
        assert e.value.code == -5 and isinstance(e.value, ValueError)
        # a base can be set afterwards
        f.set_base(bp)
        assert f.get_tensor("layer.11.f32").tobytes() == ft_t["layer.11.f32"][2]
    with pytest.raises(zipnn.BaseRequiredError):
        zst.load_file(arc)
    with pytest.raises(zipnn.BaseRequiredError):
        zst.decompress_file(arc, tmp_path / "out")
    assert not (tmp_path / "out").exists()


def test_delta_archive_wrong_base(delta_files, tmp_path):
    bp, fp, base_raw, ft_raw, ft_t = delta_files
    arc = tmp_path / "ft.znt"
    zst.compress_file(fp, arc, base=bp)
    other = safetensors_bytes(model(seed=55), META)  # same names, dtypes, shapes; other values
    with zst.safe_open(arc, "np", base=other) as f:
        with pytest.raises(zipnn.BaseMismatchError) as e:
            f.get_tensor("big.weight")
        assert e.value.code == -6 and isinstance(e.value, zipnn.DeltaBaseError)
        assert f.get_tensor("new.bias").tobytes() == ft_t["new.bias"][2]
    missing = safetensors_bytes({"unrelated": ("F32", (2,), b"\0" * 8)})
    with pytest.raises(zipnn.BaseMismatchError):
        zst.load_file(arc, base=missing)
    with pytest.raises(zipnn.BaseMismatchError):
        zst.decompress(arc.read_bytes(), base=other)
    with pytest.raises(zipnn.BadSafetensorsError):
        zst.safe_open(arc, "np", base=b"not a safetensors file")
    with pytest.raises(zipnn.BadSafetensorsError):
        zst.compress(ft_raw, base=b"")


def test_tied_tensors_in_a_delta_archive(tmp_path):
    """A tensor tied to another is decoded from that tensor's frame; when that frame is a
    delta, it must be decoded against the base of the tensor that owns the frame."""
    emb_base = tensor_bytes("BF16", 64 * 32, 1)
    emb_ft = bytearray(emb_base)
    emb_ft[::50] = b"\x01" * len(emb_ft[::50])
    base = {"embed": ("BF16", (64, 32), emb_base), "head": ("BF16", (64, 32), emb_base)}
    ft = {"embed": ("BF16", (64, 32), bytes(emb_ft)), "head": ("BF16", (64, 32), bytes(emb_ft))}
    base_raw, ft_raw = safetensors_bytes(base), safetensors_bytes(ft)
    archive = zst.compress(ft_raw, base=base_raw)
    with zst.safe_open(archive, "np", base=base_raw) as f:
        assert f.info("head").is_tied and f.info("embed").is_delta
        assert f.get_tensor("head").tobytes() == bytes(emb_ft)
    assert zst.decompress(archive, base=base_raw) == ft_raw
    # The base's tensors of those names differ (or one is missing): the tied tensor's bytes
    # still come from the frame of the tensor it repeats, a delta against *that* base tensor.
    other = tensor_bytes("BF16", 64 * 32, 2)
    for base in ({"embed": ("BF16", (64, 32), emb_base), "head": ("BF16", (64, 32), other)},
                 {"embed": ("BF16", (64, 32), emb_base)}):
        base_raw = safetensors_bytes(base)
        archive = zst.compress(ft_raw, base=base_raw)
        with zst.open_archive(archive, base=base_raw) as f:
            assert f.info("head").is_tied and f.info("embed").is_delta
            assert f.get_tensor("head", "np").tobytes() == bytes(emb_ft)
            dst = bytearray(64 * 32 * 2)
            assert f.decode_into("head", dst) == len(dst) and dst == emb_ft
        assert zst.decompress(archive, base=base_raw) == ft_raw


# --- lossy archives ---------------------------------------------------------------------------
def test_lossy_archive(tmp_path):
    n = 4096
    tensors = {"w32": ("F32", (n,), tensor_bytes("F32", n, 1, 1.0)),
               "w16": ("BF16", (n,), tensor_bytes("BF16", n, 2, 1.0)),
               "ids": ("I64", (n,), tensor_bytes("I64", n, 3))}
    raw = safetensors_bytes(tensors)
    k = 5
    archive = zst.compress(raw, lossy="mantissa", lossy_param=k)
    assert len(archive) < len(zst.compress(raw))
    with zst.safe_open(archive, "np") as f:
        i32 = f.info("w32")
        assert i32.is_lossy and i32.lossy == "mantissa" and i32.lossy_param == k
        assert not f.info("ids").is_lossy and f.info("ids").lossy == "none"
        assert f.get_tensor("ids").tobytes() == tensors["ids"][2]
        x = np.frombuffer(tensors["w32"][2], np.float32).astype(np.float64)
        y = f.get_tensor("w32").astype(np.float64)
        nz = x != 0
        assert np.all(np.abs(y[nz] - x[nz]) / np.abs(x[nz]) <= 2.0 ** -(k + 1))
    # integer mode with the reference's factor 27: valid for fp32, too large for bf16,
    # whose tensors then stay lossless (per-tensor rule of zipnn_safetensors_compress)
    archive = zst.compress(raw, lossy="integer", lossy_param=27)
    with zst.safe_open(archive, "np") as f:
        assert f.info("w32").lossy == "integer" and f.info("w32").lossy_param == 27
        assert f.info("w16").lossy == "none"
        assert f.get_tensor("w16").view(np.uint16).tobytes() == tensors["w16"][2]
        x = np.frombuffer(tensors["w32"][2], np.float32).astype(np.float64)
        y = f.get_tensor("w32").astype(np.float64)
        assert np.all(np.abs(y - x) <= 2.0 ** -28 + np.spacing(np.abs(x).astype(np.float32)) / 2)


# --- errors ---------------------------------------------------------------------------------
def test_missing_file_is_an_io_error(tmp_path):
    missing = tmp_path / "nope.znt"
    with pytest.raises(zipnn.FileIOError) as e:
        zst.safe_open(missing, "pt")
    assert isinstance(e.value, OSError) and e.value.code == -41
    assert e.value.filename == str(missing)
    with pytest.raises(OSError):
        zst.load_file(str(missing))
    with pytest.raises(OSError):
        zst.compress_file(missing, tmp_path / "x.znt")
    raw = safetensors_bytes({"w": ("F32", (2,), b"\0" * 8)})
    with zst.open_archive(zst.compress(raw, base=raw)) as a:
        with pytest.raises(zipnn.FileIOError):
            a.set_base(tmp_path / "no-base.safetensors")


def test_unknown_tensor_is_not_found_and_key_error(st_file, tmp_path):
    path, raw, _ = st_file
    arc = tmp_path / "m.znt"
    zst.compress_file(path, arc)
    with zst.safe_open(arc, "pt") as f:
        with pytest.raises(zipnn.NotFoundError) as e:
            f.get_tensor("no.such.tensor")
        assert isinstance(e.value, KeyError) and e.value.code == -7
        assert "no.such.tensor" in str(e.value) and not str(e.value).startswith("'")
        with pytest.raises(KeyError):
            f.get_slice("missing")
        with pytest.raises(KeyError):
            f.info("")


def test_malformed_archives(st_file, tmp_path):
    path, raw, tensors = st_file
    archive = zst.compress(raw)
    with pytest.raises(zipnn.NotAFrameError):
        zst.open_archive(b"garbage" * 20)
    with pytest.raises(zipnn.NotAFrameError, match="plain safetensors"):
        zst.safe_open(path, "np")
    with pytest.raises(zipnn.NotAFrameError, match="plain safetensors"):
        zst.load(raw)
    with pytest.raises(zipnn.CorruptDataError):  # truncated: TruncatedError or CorruptDataError
        zst.open_archive(archive[: len(archive) // 2])
    with pytest.raises(zipnn.TruncatedError):
        zst.open_archive(archive[:20])
    bad = bytearray(archive)
    bad[60] ^= 0xFF  # inside the JSON header: its checksum fails
    with pytest.raises(zipnn.ChecksumError):
        zst.open_archive(bytes(bad))
    # a damaged frame fails only its own tensor
    with zst.open_archive(archive) as a:
        info = a.info("big.weight")
        frames_start = len(archive) - sum(i.compressed_size for i in a.infos())
        offset = frames_start + sum(i.compressed_size for i in a.infos()
                                    if i.data_offset < info.data_offset)
    bad = bytearray(archive)
    bad[offset + info.compressed_size - 3] ^= 0x55
    with zst.open_archive(bytes(bad)) as a:
        with pytest.raises(zipnn.CorruptDataError):
            a.get_tensor("big.weight", "np")
        assert a.get_tensor("layer.8.i64", "np").tobytes() == tensors["layer.8.i64"][2]
    p = tmp_path / "bad.znt"
    p.write_bytes(bytes(bad))
    with zst.safe_open(p, "np") as f:
        with pytest.raises(zipnn.CorruptDataError):
            f.get_tensor("big.weight")
    # not safetensors at all
    with pytest.raises(zipnn.BadSafetensorsError):
        zst.compress(b"\x10\0\0\0\0\0\0\0{not json}      ")
    bad_dtype = raw.replace(b'"I64"', b'"X64"', 1)
    with pytest.raises(zipnn.BadSafetensorsError):
        zst.compress(bad_dtype)


def test_inputs_unchanged_and_borrowed_memory(st_file):
    path, raw, tensors = st_file
    src = bytearray(raw)
    archive = bytearray(zst.compress(src))
    assert src == raw
    keep = bytes(archive)
    a = zst.open_archive(archive)
    with pytest.raises(BufferError):  # the borrowed buffer cannot be resized while open
        archive.extend(b"x")
    assert a.get_tensor("layer.8.i64", "np").tobytes() == tensors["layer.8.i64"][2]
    assert zst.decompress(archive) == raw and archive == keep
    a.close()
    archive.extend(b"x")  # released on close
    # the archive keeps a reference to memory it borrows
    b = zst.open_archive(bytes(keep))
    gc.collect()
    assert b.restore() == raw
    del b
    gc.collect()
    # numpy and memoryview sources, read-only included
    arr = np.frombuffer(keep, dtype=np.uint8)
    with zst.open_archive(arr) as c:
        assert c.restore() == raw
    with zst.open_archive(memoryview(keep)) as c:
        assert c.restore() == raw


def test_lossy_archive_keeps_integer_tensor_tied_to_a_float_tensor_exact():
    x = np.random.default_rng(0).standard_normal(1000).astype(np.float32)
    raw = safetensors_bytes({"a": ("F32", (1000,), x.tobytes()), "b": ("I32", (1000,), x.tobytes())})
    with zst.open_archive(zst.compress(raw, lossy="mantissa", lossy_param=4)) as f:
        assert f.get_tensor("b", "np").tobytes() == x.tobytes()


def test_get_tensors_at_once_equals_one_by_one(st_file, tmp_path):
    # Every tensor (an empty one, a scalar, a tied one) decoded by one library call
    # equals each decoded alone, for numpy and torch, from memory and from a file; a
    # damaged archive is an error naming the tensor.
    path, raw, tensors = st_file
    extra = {"tied.copy": tensors["big.weight"]}
    raw = safetensors_bytes({**tensors, **extra}, META)
    archive = zst.compress(raw, threads=2)
    arc = tmp_path / "m.znt"
    arc.write_bytes(archive)
    for src in (archive, arc):
        with zst.safe_open(src, "np", threads=2) as f:
            keys = f.offset_keys()
            many = f.get_tensors(reversed(keys))
            assert list(many) == list(reversed(keys))
            for k in keys:
                one = f.get_tensor(k)
                assert many[k].dtype == one.dtype and many[k].shape == one.shape
                assert many[k].tobytes() == one.tobytes() == {**tensors, **extra}[k][2]
    torch = pytest.importorskip("torch")
    loaded = zst.load_file(arc)
    for k, v in loaded.items():
        assert isinstance(v, torch.Tensor)
        assert torch_bytes(v) == {**tensors, **extra}[k][2]
    bad = bytearray(archive)
    bad[-40] ^= 0x10  # inside the last frame's payload
    with pytest.raises(zipnn.ZipNNError) as e:
        zst.load(bytes(bad), framework="np")
    assert "tensor" in str(e.value)
