"""The bindings in zipnn._ffi match include/zipnn.h exactly."""

import ctypes
import re

import zipnn
from zipnn import _ffi

_PROTO = re.compile(r"^\s*(?:ZIPNN_NODISCARD\s+)?(?:const\s+)?[A-Za-z_][\w\s\*]*?\b(zipnn_\w+)\s*\(",
                    re.MULTILINE)


def header_functions(text):
    body = text.split('extern "C" {', 1)[1]
    body = re.sub(r"/\*.*?\*/", "", body, flags=re.DOTALL)
    return set(_PROTO.findall(body))


def header_structs(text):
    text = re.sub(r"/\*.*?\*/", "", text, flags=re.DOTALL)
    out = {}
    for name, body in re.findall(r"typedef struct (\w+) \{(.*?)\}\s*\w+;", text, flags=re.DOTALL):
        fields = re.findall(r"(\w+)(?:\[\d+\])?;", body)
        out[name] = fields
    return out


def header_defines(text):
    return {k: int(v) for k, v in re.findall(r"^#define (ZIPNN_\w+) (-?\d+)(?:ull)?\s*$", text, re.MULTILINE)}


def test_bound_names_equal_header_functions(header_text):
    funcs = header_functions(header_text)
    assert len(funcs) >= 15
    assert set(_ffi.FUNCTIONS) == funcs


def test_every_function_is_bound_with_types():
    lib = zipnn._lib.lib()
    for name, (restype, argtypes) in _ffi.FUNCTIONS.items():
        fn = getattr(lib, name)
        assert fn.restype is restype, name
        assert list(fn.argtypes) == list(argtypes), name


def test_structs_match_header(header_text):
    structs = header_structs(header_text)
    assert [f for f, _ in _ffi.zipnn_options._fields_] == structs["zipnn_options"]
    assert [f for f, _ in _ffi.zipnn_frame_info._fields_] == structs["zipnn_frame_info"]
    assert [f for f, _ in _ffi.zipnn_stream_info._fields_] == structs["zipnn_stream_info"]
    assert [f for f, _ in _ffi.zipnn_tensor_info._fields_] == structs["zipnn_tensor_info"]
    assert set(structs) == {"zipnn_options", "zipnn_frame_info", "zipnn_stream_info",
                            "zipnn_tensor_info"}


def test_struct_sizes():
    # The C ABI keeps zipnn_options at 80 bytes (lossy fields and target took reserved words).
    assert ctypes.sizeof(_ffi.zipnn_options) == 80
    assert ctypes.sizeof(_ffi.zipnn_frame_info) == 80  # format and input_format: +8
    assert ctypes.sizeof(_ffi.zipnn_tensor_info) == 88


def test_defines_match_header(header_text):
    defines = header_defines(header_text)
    assert len(defines) > 30
    for name, value in defines.items():
        assert getattr(_ffi, name) == value, name


def test_options_init_matches_struct():
    o = _ffi.zipnn_options()
    zipnn._lib.lib().zipnn_options_init(ctypes.byref(o))
    assert o.struct_size == ctypes.sizeof(_ffi.zipnn_options)
    assert o.chunk_size == 0 and abs(o.threshold - 0.95) < 1e-6
    assert list(o.reserved) == [0] * 5 and o.target == _ffi.ZIPNN_TARGET_ANY
    assert o.lossy_mode == _ffi.ZIPNN_LOSSY_NONE and o.lossy_param == 0


def test_versions():
    assert zipnn.library_version() == "%d.%d.%d" % (
        _ffi.ZIPNN_VERSION_MAJOR, _ffi.ZIPNN_VERSION_MINOR, _ffi.ZIPNN_VERSION_PATCH)
    assert zipnn._lib.lib().zipnn_version_number() == _ffi.ZIPNN_VERSION_NUMBER
    assert zipnn.format_version() == 2
