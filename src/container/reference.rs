//! Safetensors files written by the reference package (PyPI zipnn 0.5.x), read as archives
//! (docs/REFERENCE-FORMAT.md, "Containers").
//!
//! Its safetensors script replaces each float tensor that shrinks by a U8 tensor holding a
//! reference frame of the tensor (with its shape), and lists the tensors it replaced, with
//! their dtype and shape, in the `znn_compressed_vectors` metadata entry when the file had
//! metadata. This module finds those tensors (from the entry, or from the frames themselves
//! when the entry is missing) and lays out the original file: its tensors in the order the
//! safetensors library writes them (larger elements first, then by name), its JSON header
//! without the entry.

use serde_json::{Map, Value};

use super::safetensors::{SafeTensors, Stored, TensorInfo};
use crate::error::{Error, Result};
use crate::options::{DType, Lossy};
use crate::refformat;

/// The metadata entry the reference script writes.
pub const METADATA_KEY: &str = "znn_compressed_vectors";

/// The original file of a reference-compressed safetensors file, as an archive sees it.
#[derive(Debug)]
pub(crate) struct Layout {
    /// The original JSON header (padded with spaces to a multiple of 8 bytes).
    pub header: Vec<u8>,
    /// Length of the original data section.
    pub data_len: u64,
    /// The original tensors, in data order.
    pub tensors: Vec<TensorInfo>,
    /// Where each tensor's bytes are in the compressed file.
    pub stored: Vec<Stored>,
}

/// The safetensors dtype string of a reference frame's dtype.
fn st_dtype(d: DType) -> &'static str {
    match d {
        DType::Bf16 => "BF16",
        DType::Fp16 => "F16",
        DType::Fp32 => "F32",
        DType::Fp8E4M3 => "F8_E4M3",
        DType::Fp8E5M2 => "F8_E5M2",
        _ => "U8",
    }
}

/// The safetensors dtype string of a torch dtype name as the reference metadata gives it.
fn st_dtype_of_torch(name: &str) -> Option<&'static str> {
    Some(match name {
        "bfloat16" => "BF16",
        "float16" | "half" => "F16",
        "float32" | "float" => "F32",
        "float8_e4m3fn" => "F8_E4M3",
        "float8_e5m2" => "F8_E5M2",
        _ => return None,
    })
}

/// Bytes per element of a safetensors dtype string (what the safetensors library sorts
/// tensors by).
fn element_size(st: &str) -> u64 {
    match st {
        "F64" | "I64" | "U64" => 8,
        "F32" | "I32" | "U32" => 4,
        "BF16" | "F16" | "I16" | "U16" => 2,
        _ => 1,
    }
}

/// A shape as the reference metadata writes it: `"[2, 384]"`.
fn parse_shape(s: &str) -> Result<Vec<u64>> {
    let inner = s
        .trim()
        .strip_prefix('[')
        .and_then(|r| r.strip_suffix(']'))
        .ok_or(Error::Corrupt)?;
    inner
        .split(',')
        .map(str::trim)
        .filter(|d| !d.is_empty())
        .map(|d| d.parse::<u64>().map_err(|_| Error::Corrupt))
        .collect()
}

/// What the reference frame in a U8 tensor says: its dtype, shape and decoded size.
fn frame_facts(bytes: &[u8]) -> Result<(DType, Option<Vec<u64>>, u64)> {
    let info = refformat::info(bytes)?;
    if info.first.delta != refformat::DeltaKind::None {
        return Err(Error::Corrupt);
    }
    Ok((info.first.dtype, info.shape, info.original_size))
}

/// The layout of the original file if `file` is a safetensors file in which the reference
/// package's script stored tensors as frames; `None` if it stored none.
pub(crate) fn layout_of(file: &[u8]) -> Result<Option<Layout>> {
    let st = SafeTensors::parse(file)?;
    let v: Value = serde_json::from_slice(st.header).map_err(|_| Error::BadSafetensors)?;
    let mut meta: Option<Map<String, Value>> =
        v.get("__metadata__").and_then(Value::as_object).cloned();
    let listed: Option<Map<String, Value>> =
        match meta.as_mut().and_then(|m| m.remove(METADATA_KEY)) {
            None => None,
            Some(Value::String(s)) => Some(
                serde_json::from_str::<Value>(&s)
                    .ok()
                    .and_then(|v| v.as_object().cloned())
                    .ok_or(Error::Corrupt)?,
            ),
            Some(_) => return Err(Error::Corrupt),
        };
    let data_at = 8 + st.header.len() as u64;
    let mut tensors = Vec::with_capacity(st.tensors.len());
    let mut any = false;
    for t in st.tensors.iter() {
        let bytes = st.bytes(t);
        let (b, e) = t.data_offsets;
        let at = data_at + b;
        let entry = listed.as_ref().and_then(|l| l.get(&t.name));
        let candidate = t.dtype == "U8"
            && (entry.is_some() || (listed.is_none() && refformat::is_reference(bytes)));
        let facts = if candidate {
            match frame_facts(bytes) {
                Ok(f) => Some(f),
                // Listed: it must be a frame. Not listed: a U8 tensor that is not one.
                Err(e) if entry.is_some() => return Err(e),
                Err(_) => None,
            }
        } else {
            None
        };
        let Some((dtype, frame_shape, size)) = facts else {
            tensors.push((
                t.clone(),
                Stored::Plain {
                    offset: at,
                    size: e - b,
                },
            ));
            continue;
        };
        let st_name = st_dtype(dtype);
        let shape = match entry {
            Some(en) => {
                let d = en
                    .get("dtype")
                    .and_then(Value::as_str)
                    .ok_or(Error::Corrupt)?;
                let s = en
                    .get("shape")
                    .and_then(Value::as_str)
                    .ok_or(Error::Corrupt)?;
                if st_dtype_of_torch(d) != Some(st_name) {
                    return Err(Error::Corrupt);
                }
                let shape = parse_shape(s)?;
                if frame_shape.as_ref().is_some_and(|fs| *fs != shape) {
                    return Err(Error::Corrupt);
                }
                shape
            }
            // Without the entry only a frame with its own shape is taken for a tensor.
            None => match frame_shape {
                Some(s) => s,
                None => {
                    tensors.push((
                        t.clone(),
                        Stored::Plain {
                            offset: at,
                            size: e - b,
                        },
                    ));
                    continue;
                }
            },
        };
        let elements = shape
            .iter()
            .try_fold(1u64, |a, &d| a.checked_mul(d))
            .ok_or(Error::Corrupt)?;
        if elements.checked_mul(element_size(st_name)) != Some(size) {
            return Err(Error::Corrupt);
        }
        any = true;
        let info = TensorInfo {
            name: t.name.clone(),
            dtype: st_name.to_string(),
            shape,
            data_offsets: (0, size),
        };
        tensors.push((
            info,
            Stored::Frame {
                offset: at,
                size: e - b,
            },
        ));
    }
    if !any {
        return Ok(None);
    }
    // The safetensors library's order: larger elements first, then by name.
    tensors.sort_by(|(a, _), (b, _)| {
        element_size(&b.dtype)
            .cmp(&element_size(&a.dtype))
            .then_with(|| a.name.cmp(&b.name))
    });
    let mut json = String::from("{");
    if let Some(m) = &meta {
        json.push_str("\"__metadata__\":");
        json.push_str(&serde_json::to_string(m).map_err(|_| Error::Internal)?);
        json.push(',');
    }
    let mut at = 0u64;
    let mut out_tensors = Vec::with_capacity(tensors.len());
    let mut stored = Vec::with_capacity(tensors.len());
    for (mut t, s) in tensors {
        let len = t.data_offsets.1 - t.data_offsets.0;
        t.data_offsets = (at, at + len);
        at += len;
        let shape: Vec<String> = t.shape.iter().map(u64::to_string).collect();
        json.push_str(&format!(
            "{}:{{\"dtype\":\"{}\",\"shape\":[{}],\"data_offsets\":[{},{}]}},",
            serde_json::to_string(&t.name).map_err(|_| Error::Internal)?,
            t.dtype,
            shape.join(","),
            t.data_offsets.0,
            t.data_offsets.1
        ));
        out_tensors.push(t);
        stored.push(s);
    }
    json.pop();
    json.push('}');
    while json.len() % 8 != 0 {
        json.push(' ');
    }
    Ok(Some(Layout {
        header: json.into_bytes(),
        data_len: at,
        tensors: out_tensors,
        stored,
    }))
}

/// The frame header an archive reports for a tensor it keeps as it is (`Stored::Plain`) or
/// holds as a reference frame: its dtype and size, no delta, no lossy step.
pub(crate) fn synthetic_header(dtype: DType, original_size: u64) -> crate::frame::Header {
    crate::frame::Header {
        version: crate::frame::VERSION,
        flags: 0,
        dtype,
        planes: dtype.element_size(),
        chunk_size: 0,
        original_size,
        tail_len: 0,
        tail: [0; 7],
        metadata_size: 0,
        lossy: Lossy::None,
        base_hash: None,
    }
}

/// [`synthetic_header`] of the reference frame that starts with `head` (its first 32
/// bytes at least).
pub(crate) fn frame_header(head: &[u8]) -> Result<crate::frame::Header> {
    let h = refformat::parse_header(head)?;
    if h.streaming_log.is_some() || h.delta != refformat::DeltaKind::None {
        // The safetensors script writes single frames of tensors.
        return Err(Error::Corrupt);
    }
    Ok(synthetic_header(h.dtype, h.original_size))
}

/// The array description the Python binding stores in a frame's metadata block, for a
/// reference frame of a torch tensor or numpy array: its dtype and shape, so that the
/// converted frame decodes to the same kind of array.
fn array_metadata(kind: refformat::InputKind, dtype: DType, shape: &[u64]) -> Vec<u8> {
    let name = match dtype {
        DType::Bf16 => "bfloat16",
        DType::Fp16 => "float16",
        DType::Fp32 => "float32",
        DType::Fp8E4M3 => "float8_e4m3fn",
        DType::Fp8E5M2 => "float8_e5m2",
        _ => "uint8",
    };
    let lib = match kind {
        refformat::InputKind::Numpy => "numpy",
        _ => "torch",
    };
    let dims: Vec<String> = shape.iter().map(u64::to_string).collect();
    format!(
        "{{\"dtype\":\"{name}\",\"lib\":\"{lib}\",\"shape\":[{}],\"zipnn\":1}}",
        dims.join(",")
    )
    .into_bytes()
}

/// What [`convert`] makes of an input.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Converted {
    /// A zipnn frame (with the tensor's dtype and shape in its metadata for a tensor
    /// frame; a delta frame for a reference delta).
    Frame,
    /// A zipnn safetensors archive (from a compressed safetensors file of the reference
    /// package, or a `model.safetensors.znn`).
    Archive,
}

/// What `src` (written by the reference package) converts to, and the original bytes it
/// holds: decoded frames, or the restored safetensors file.
fn original(src: &[u8], base: Option<&[u8]>) -> Result<(Converted, Vec<u8>)> {
    let opts = crate::DecompressOptions::default();
    if refformat::is_reference(src) {
        let info = refformat::info(src)?;
        let data = match base {
            Some(b) => refformat::decompress_delta(src, b, &opts)?,
            None => refformat::decompress(src, &opts)?,
        };
        let is_st = info.first.kind == refformat::InputKind::Byte
            && super::safetensors::looks_like_safetensors(&data)
            && SafeTensors::parse(&data).is_ok();
        return Ok((
            if is_st {
                Converted::Archive
            } else {
                Converted::Frame
            },
            data,
        ));
    }
    if super::safetensors::looks_like_safetensors(src) && layout_of(src)?.is_some() {
        return Ok((
            Converted::Archive,
            super::safetensors::Archive::open(src)?.restore()?,
        ));
    }
    Err(Error::BadMagic)
}

/// Rewrites what the reference package wrote in zipnn's format, with checksums:
///
/// - its frames of bytes (one, or a streamed sequence: its `.znn` files) become one zipnn
///   frame of the same dtype; a delta frame becomes a zipnn delta frame against `base`
///   (the base it was made against; `BaseRequired` without it);
/// - its frames of a torch tensor or numpy array become a zipnn frame whose metadata
///   describes the array as the Python binding does (dtype, shape, library);
/// - its compressed safetensors files, and a safetensors file in one of its frames
///   (`model.safetensors.znn`), become zipnn archives of the original file.
///
/// `opts` gives the level, method, chunk size and threads (each input keeps its own
/// dtype). Anything else is `BadMagic`.
pub fn convert(
    src: &[u8],
    base: Option<&[u8]>,
    opts: &crate::Options,
) -> Result<(Converted, Vec<u8>)> {
    let (kind, data) = original(src, base)?;
    if kind == Converted::Archive {
        return Ok((kind, super::safetensors::compress(&data, opts)?));
    }
    let info = refformat::info(src)?;
    let o = crate::Options {
        dtype: info.first.dtype,
        bg_partitions: 1,
        ..opts.clone()
    };
    let meta = match (&info.shape, info.first.kind) {
        (Some(shape), k) => array_metadata(k, info.first.dtype, shape),
        (None, _) => Vec::new(),
    };
    let frame = if info.first.delta != refformat::DeltaKind::None {
        let b = base.ok_or(Error::BaseRequired)?;
        let mut out =
            crate::engine::zeroed_vec(crate::compress_bound(data.len(), &o)? + meta.len())?;
        let n = crate::compress_delta_into(&data, b, &meta, &o, &mut out)?;
        out.truncate(n);
        out
    } else {
        crate::compress_with_metadata(&data, &meta, &o)?
    };
    Ok((Converted::Frame, frame))
}

/// An upper bound of [`convert`]'s output for `src` with `opts` (the input is parsed, not
/// decoded, except a `model.safetensors.znn`, whose JSON header is needed).
pub fn convert_bound(src: &[u8], opts: &crate::Options) -> Result<usize> {
    if refformat::is_reference(src) {
        let info = refformat::info(src)?;
        let n = usize::try_from(info.original_size).map_err(|_| Error::SrcTooLarge)?;
        let o = crate::Options {
            dtype: info.first.dtype,
            bg_partitions: 1,
            ..opts.clone()
        };
        let meta = 128 + 21 * info.shape.as_ref().map_or(0, Vec::len);
        let frame = crate::compress_bound(n, &o)? + meta;
        if info.first.kind != refformat::InputKind::Byte
            || info.first.delta != refformat::DeltaKind::None
        {
            return Ok(frame);
        }
        // It may be a safetensors file: the larger of the two.
        let data = refformat::decompress(src, &crate::DecompressOptions::default())?;
        let archive = match SafeTensors::parse(&data) {
            Ok(st) => super::safetensors::bound_of_parts(st.header.len(), &st.tensors, opts)?,
            Err(_) => 0,
        };
        return Ok(frame.max(archive));
    }
    if !super::safetensors::looks_like_safetensors(src) {
        return Err(Error::BadMagic);
    }
    match layout_of(src)? {
        Some(l) => super::safetensors::bound_of_parts(l.header.len(), &l.tensors, opts),
        None => Err(Error::BadMagic),
    }
}
