"""Files the reference package (PyPI zipnn 0.5.4) wrote: every vector of
tests/reference-vectors/manifest.tsv decodes to its listed content through zipnn.decompress,
the reference interface ZipNN().decompress (tensors and arrays for frames with a shape),
zipnn.safetensors, and zipnn.convert."""

import hashlib
import json

import pytest

import zipnn
from zipnn import zipnn as reference_api
from conftest import repo_root

VECTORS = repo_root() / "tests" / "reference-vectors"


def manifest():
    path = VECTORS / "manifest.tsv"
    if not path.is_file():
        pytest.skip(f"{path} not found (set ZIPNN_REPO_ROOT)")
    lines = path.read_text().splitlines()
    head = lines[0].split("\t")
    rows = [dict(zip(head, line.split("\t"))) for line in lines[1:] if line]
    assert len(rows) == 34
    return rows


def content(spec):
    name, _, rng = spec.partition("[")
    data = (VECTORS / name).read_bytes()
    if rng:
        a, b = rng.rstrip("]").split(":")
        data = data[int(a):int(b)]
    return data


def rows_of(*kinds):
    return [r for r in manifest() if r["kind"] in kinds]


FRAME_KINDS = ("byte", "byte-streaming", "torch", "numpy", "file", "file-streaming", "zipnn-hf")


@pytest.mark.parametrize("row", rows_of(*FRAME_KINDS), ids=lambda r: r["file"])
def test_frames_decode_to_their_content(row):
    src = (VECTORS / row["file"]).read_bytes()
    want = content(row["original"])
    assert hashlib.sha256(want).hexdigest() == row["sha256"] or row["kind"] == "zipnn-hf"
    assert zipnn.decompress(src) == want
    assert zipnn.decompressed_size(src) == len(want)
    info = zipnn.frame_info(src)
    assert info.format == "reference"
    assert info.original_size == len(want)
    assert zipnn.verify(src)
    kind = row["kind"]
    if kind in ("torch", "numpy"):
        assert info.reference_input == kind
        shape = tuple(json.loads(row["shape"]))
        assert zipnn.tensor_shape(src) == shape
    else:
        assert info.reference_input == "bytes"
        assert zipnn.tensor_shape(src) is None
    buf = bytearray(len(want) + 1)
    assert zipnn.decompress_into(buf, src) == len(want)
    assert bytes(buf[: len(want)]) == want


@pytest.mark.parametrize("row", rows_of("torch", "numpy"), ids=lambda r: r["file"])
def test_reference_interface_returns_tensors_and_arrays(row):
    src = (VECTORS / row["file"]).read_bytes()
    want = content(row["original"])
    shape = tuple(json.loads(row["shape"]))
    out = reference_api.ZipNN().decompress(src)
    if row["kind"] == "torch":
        torch = pytest.importorskip("torch")
        assert isinstance(out, torch.Tensor)
        assert str(out.dtype) == "torch." + row["dtype"]
        assert tuple(out.shape) == shape
        assert out.contiguous().reshape(-1).view(torch.uint8).numpy().tobytes() == want
    else:
        np = pytest.importorskip("numpy")
        assert isinstance(out, np.ndarray)
        assert out.dtype == np.dtype(row["dtype"])
        assert out.shape == shape
        assert out.tobytes() == want
    # The modern call gives the same kind with out="auto".
    auto = zipnn.decompress(src, out="auto")
    assert type(auto) is type(out)


@pytest.mark.parametrize("row", rows_of("byte", "byte-streaming", "file", "file-streaming"),
                         ids=lambda r: r["file"])
def test_reference_interface_returns_bytes_for_byte_frames(row):
    src = (VECTORS / row["file"]).read_bytes()
    assert bytes(reference_api.ZipNN().decompress(src)) == content(row["original"])


@pytest.mark.parametrize("row", rows_of("delta", "delta-file"), ids=lambda r: r["file"])
def test_delta_frames_need_their_base(row):
    src = (VECTORS / row["file"]).read_bytes()
    want = content(row["original"])
    base = content(row["delta_base"])
    with pytest.raises(zipnn.BaseRequiredError):
        zipnn.decompress(src)
    assert zipnn.decompress(src, base=base) == want
    with pytest.raises(zipnn.BaseMismatchError):
        zipnn.decompress(src, base=base[:-1])
    z = reference_api.ZipNN(delta_compressed_type="byte")
    assert bytes(z.decompress(src, delta_second_data=base)) == want
    converted = zipnn.convert(src, base=base)
    assert zipnn.frame_info(converted).format == "zipnn"
    assert zipnn.decompress(converted, base=base) == want


@pytest.mark.parametrize("row", rows_of("safetensors", "zipnn-hf"), ids=lambda r: r["file"])
def test_reference_safetensors_open_like_archives(row):
    torch = pytest.importorskip("torch")
    st = pytest.importorskip("safetensors.torch")
    path = VECTORS / row["file"]
    want = content(row["original"])
    expected = st.load(want)
    for source in (str(path), path.read_bytes()):
        got = zipnn.safetensors.load(source) if isinstance(source, bytes) else \
            zipnn.safetensors.load_file(source)
        assert sorted(got) == sorted(expected)
        for k, v in expected.items():
            assert got[k].dtype == v.dtype and got[k].shape == v.shape, k
            assert torch.equal(got[k], v), k
    with zipnn.safetensors.safe_open(str(path), framework="pt") as f:
        assert sorted(f.keys()) == sorted(expected)
        k = sorted(expected)[0]
        assert torch.equal(f.get_tensor(k), expected[k])
    # Restored byte for byte, and converted to a zipnn archive.
    assert zipnn.safetensors.decompress(path.read_bytes()) == want
    converted = zipnn.convert(path.read_bytes())
    assert zipnn.safetensors.decompress(converted) == want


@pytest.mark.parametrize("row", rows_of("torch", "numpy", "byte"), ids=lambda r: r["file"])
def test_convert_keeps_shape_and_bytes(row):
    src = (VECTORS / row["file"]).read_bytes()
    converted = zipnn.convert(src)
    info = zipnn.frame_info(converted)
    assert info.format == "zipnn"
    assert zipnn.verify(converted)
    assert zipnn.decompress(converted) == content(row["original"])
    if row["kind"] in ("torch", "numpy"):
        out = zipnn.decompress(converted, out="auto")
        assert tuple(out.shape) == tuple(json.loads(row["shape"]))


def test_damaged_reference_frames_raise():
    src = bytearray((VECTORS / "byte.bf16.odd.znn").read_bytes())
    with pytest.raises(zipnn.ZipNNError):
        zipnn.decompress(bytes(src[:-1]))
    src[24] ^= 1  # the frame length
    with pytest.raises(zipnn.ZipNNError):
        zipnn.decompress(bytes(src))
    with pytest.raises(zipnn.NotAFrameError):
        zipnn.convert(b"plain bytes, not a frame")
