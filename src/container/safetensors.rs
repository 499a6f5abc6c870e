//! A safetensors file compressed tensor by tensor (docs/FORMAT.md section 12).
//!
//! The archive keeps the original JSON header verbatim (names, dtypes, shapes and
//! `__metadata__` stay readable without decompressing) and one v1 frame per tensor, coded
//! with the tensor's own dtype, so that one tensor can be decoded by name without the others
//! and the original file is restored byte for byte.

use std::borrow::Cow;
use std::collections::HashMap;
use std::io::{Read, Seek, SeekFrom};
use std::path::Path;
use std::sync::Mutex;

use serde_json::Value;

use crate::error::{Error, Result};
use crate::frame::{checksum, le32, le64};
use crate::options::{DType, Options};
use crate::DecompressOptions;

/// The first four bytes of an archive.
pub const ARCHIVE_MAGIC: [u8; 4] = [0x89, b'Z', b'N', b'T'];
/// The archive format version.
pub const ARCHIVE_VERSION: u8 = 1;
/// Size of the archive's fixed header.
pub const FIXED_SIZE: usize = 48;
/// Bytes per index entry: data begin, data end, frame size (or a reference).
pub const ENTRY_SIZE: usize = 24;
/// Archive flag bit 0: some index entries are references to an earlier tensor with the
/// same bytes (tied tensors, stored once).
pub const ARCHIVE_FLAG_TIES: u8 = 0x01;
/// Archive flag bit 1: some frames are deltas against a base model's tensors.
pub const ARCHIVE_FLAG_DELTA: u8 = 0x02;
/// In an index entry's third field, this bit marks a reference; the low 32 bits are the
/// index of the earlier tensor whose bytes this one repeats.
pub const REF_BIT: u64 = 1 << 63;
/// Largest JSON header accepted (the safetensors format's own limit is 100 MB).
pub const MAX_HEADER: u64 = 100_000_000;

/// One tensor as the safetensors header describes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TensorInfo {
    /// Tensor name.
    pub name: String,
    /// The safetensors dtype string (e.g. "BF16").
    pub dtype: String,
    /// Shape.
    pub shape: Vec<u64>,
    /// Byte range in the data section (begin, end).
    pub data_offsets: (u64, u64),
}

/// Bytes per element of a safetensors dtype string, and zipnn's dtype for it (`None`: the
/// tensor is coded as raw bytes grouped by element size). Unknown strings are errors.
fn dtype_of(s: &str) -> Result<(u64, DType, u32)> {
    Ok(match s {
        "BF16" => (2, DType::Bf16, 1),
        "F16" => (2, DType::Fp16, 1),
        "F32" => (4, DType::Fp32, 1),
        "F64" => (8, DType::Fp64, 1),
        "F8_E4M3" => (1, DType::Fp8E4M3, 1),
        "F8_E5M2" => (1, DType::Fp8E5M2, 1),
        "I8" => (1, DType::Int8, 1),
        "U8" => (1, DType::Uint8, 1),
        "BOOL" => (1, DType::Raw, 1),
        "I16" | "U16" => (2, DType::Raw, 2),
        "I32" | "U32" => (4, DType::Raw, 4),
        "I64" | "U64" => (8, DType::Raw, 8),
        _ => return Err(Error::BadSafetensors),
    })
}

/// A parsed and validated safetensors file.
#[derive(Debug, Clone)]
pub struct SafeTensors<'a> {
    /// The JSON header bytes, verbatim (with any padding).
    pub header: &'a [u8],
    /// The data section.
    pub data: &'a [u8],
    /// Tensors in data order.
    pub tensors: Cow<'a, [TensorInfo]>,
    /// Each tensor's index by name.
    names: Cow<'a, Names>,
}

/// Tensor indices by name: lookups in constant time, so that an archive of many tensors
/// opens, finds and matches them in linear time.
pub(crate) type Names = HashMap<String, usize>;

/// The index of each tensor by name (names are unique: JSON object keys).
pub(crate) fn names_of(tensors: &[TensorInfo]) -> Names {
    tensors
        .iter()
        .enumerate()
        .map(|(i, t)| (t.name.clone(), i))
        .collect()
}

/// The index of the tensor called `name` in `tensors`, through `names` (built from them).
fn find(names: &Names, tensors: &[TensorInfo], name: &str) -> Option<usize> {
    let i = *names.get(name)?;
    // `tensors` is a public field: if it was changed after parsing, search it instead.
    match tensors.get(i) {
        Some(t) if t.name == name => Some(i),
        _ => tensors.iter().position(|t| t.name == name),
    }
}

/// Whether `bytes` look like a safetensors file (a plausible header length followed by a
/// JSON object); not a validation.
pub fn looks_like_safetensors(bytes: &[u8]) -> bool {
    if bytes.len() < 10 {
        return false;
    }
    let n = u64::from_le_bytes(bytes[..8].try_into().unwrap_or([0; 8]));
    (2..=MAX_HEADER).contains(&n) && 8 + n <= bytes.len() as u64 && bytes[8] == b'{'
}

fn parse_header(json: &[u8], data_len: u64) -> Result<Vec<TensorInfo>> {
    let v: Value = serde_json::from_slice(json).map_err(|_| Error::BadSafetensors)?;
    let obj = v.as_object().ok_or(Error::BadSafetensors)?;
    let mut tensors = Vec::with_capacity(obj.len());
    for (name, t) in obj {
        if name == "__metadata__" {
            let m = t.as_object().ok_or(Error::BadSafetensors)?;
            if !m.values().all(Value::is_string) {
                return Err(Error::BadSafetensors);
            }
            continue;
        }
        let t = t.as_object().ok_or(Error::BadSafetensors)?;
        let dtype = t
            .get("dtype")
            .and_then(Value::as_str)
            .ok_or(Error::BadSafetensors)?;
        let (esize, _, _) = dtype_of(dtype)?;
        let shape: Vec<u64> = t
            .get("shape")
            .and_then(Value::as_array)
            .ok_or(Error::BadSafetensors)?
            .iter()
            .map(|d| d.as_u64().ok_or(Error::BadSafetensors))
            .collect::<Result<_>>()?;
        let offs = t
            .get("data_offsets")
            .and_then(Value::as_array)
            .ok_or(Error::BadSafetensors)?;
        if offs.len() != 2 {
            return Err(Error::BadSafetensors);
        }
        let (b, e) = (
            offs[0].as_u64().ok_or(Error::BadSafetensors)?,
            offs[1].as_u64().ok_or(Error::BadSafetensors)?,
        );
        let count = shape
            .iter()
            .try_fold(1u64, |a, &d| a.checked_mul(d))
            .ok_or(Error::BadSafetensors)?;
        if b > e || e > data_len || count.checked_mul(esize) != Some(e - b) {
            return Err(Error::BadSafetensors);
        }
        tensors.push(TensorInfo {
            name: name.clone(),
            dtype: dtype.to_string(),
            shape,
            data_offsets: (b, e),
        });
    }
    tensors.sort_by_key(|t| t.data_offsets);
    // The data section must be covered exactly: no overlap, no hole.
    let mut at = 0u64;
    for t in &tensors {
        if t.data_offsets.0 != at {
            return Err(Error::BadSafetensors);
        }
        at = t.data_offsets.1;
    }
    if at != data_len {
        return Err(Error::BadSafetensors);
    }
    Ok(tensors)
}

impl<'a> SafeTensors<'a> {
    /// Parses and validates a whole safetensors file. Errors are `BadSafetensors` for any
    /// malformed input: a bad header length, invalid JSON, an unknown dtype string, a shape
    /// that does not match its byte range, offsets out of range, overlapping or leaving holes.
    pub fn parse(file: &'a [u8]) -> Result<SafeTensors<'a>> {
        if file.len() < 8 {
            return Err(Error::BadSafetensors);
        }
        let n = u64::from_le_bytes(file[..8].try_into().map_err(|_| Error::BadSafetensors)?);
        if n > MAX_HEADER || n > file.len() as u64 - 8 {
            return Err(Error::BadSafetensors);
        }
        let header = &file[8..8 + n as usize];
        let data = &file[8 + n as usize..];
        let tensors = parse_header(header, data.len() as u64)?;
        Ok(SafeTensors {
            header,
            data,
            names: Cow::Owned(names_of(&tensors)),
            tensors: Cow::Owned(tensors),
        })
    }
}

/// Compresses a safetensors file into an archive. Every option but `dtype` and
/// `bg_partitions` applies to every tensor; those two come from each tensor's dtype. A
/// tensor whose bytes equal an earlier tensor's is stored once, as a reference.
pub fn compress(file: &[u8], opts: &Options) -> Result<Vec<u8>> {
    compress_with_base(file, None, opts)
}

/// Checks the options an archive is made with: `dtype` and `bg_partitions` are ignored (each
/// tensor has its own), and a lossy mode must suit at least one float dtype.
fn validate(opts: &Options) -> Result<()> {
    Options {
        dtype: DType::Raw,
        bg_partitions: 1,
        lossy: crate::Lossy::None,
        ..opts.clone()
    }
    .validate()?;
    let floats = [DType::Bf16, DType::Fp16, DType::Fp32, DType::Fp64];
    if floats.iter().all(|&d| opts.lossy.check(d).is_err()) {
        return Err(Error::InvalidParam);
    }
    Ok(())
}

/// Options for one tensor: the archive's options with the tensor's dtype. A lossy mode
/// applies only to the float dtypes it is defined for; other tensors stay lossless.
fn tensor_options(t: &TensorInfo, opts: &Options) -> Result<Options> {
    let (_, dtype, bg) = dtype_of(&t.dtype)?;
    let lossy = if opts.lossy.check(dtype).is_ok() {
        opts.lossy
    } else {
        crate::Lossy::None
    };
    Ok(Options {
        dtype,
        bg_partitions: bg,
        lossy,
        ..opts.clone()
    })
}

/// A cheap fingerprint of a tensor's bytes: its length and the XXH3-64 of at most three
/// windows (start, middle, end). Equal tensors have equal fingerprints; tensors with equal
/// fingerprints are then compared by their full hash and bytes.
fn fingerprint(bytes: &[u8]) -> (usize, u64) {
    const W: usize = 256;
    let n = bytes.len();
    let h = if n <= 3 * W {
        checksum(bytes)
    } else {
        let mid = n / 2 - W / 2;
        crate::frame::checksum_parts(&[&bytes[..W], &bytes[mid..mid + W], &bytes[n - W..]])
    };
    (n, h)
}

/// How each tensor is stored: its own frame, or a reference to an earlier equal tensor.
/// Only tensors whose fingerprints meet are hashed whole, so a file with no ties is not
/// read an extra time.
fn find_ties(st: &SafeTensors<'_>) -> Vec<Option<usize>> {
    let mut seen: HashMap<(usize, u64), Vec<usize>> = HashMap::new();
    let mut full: Vec<Option<u64>> = vec![None; st.tensors.len()];
    let mut ties = vec![None; st.tensors.len()];
    for (i, t) in st.tensors.iter().enumerate() {
        let bytes = st.bytes(t);
        if bytes.is_empty() {
            continue;
        }
        let earlier = seen.entry(fingerprint(bytes)).or_default();
        let mut tie = None;
        for &j in earlier.iter() {
            // Same dtype too: a tie reuses the earlier tensor's frame, which was coded
            // (and, with a lossy mode, rounded) for that dtype.
            let other = &st.tensors[j];
            if other.dtype != t.dtype {
                continue;
            }
            let hi = *full[i].get_or_insert_with(|| checksum(bytes));
            let hj = *full[j].get_or_insert_with(|| checksum(st.bytes(other)));
            if hi == hj && st.bytes(other) == bytes {
                tie = Some(j);
                break;
            }
        }
        match tie {
            Some(j) => ties[i] = Some(j),
            None => earlier.push(i),
        }
    }
    ties
}

/// Compresses a safetensors file into an archive, coding each tensor as a delta against
/// the tensor of the same name in `base` (a safetensors file of the base model) when that
/// tensor has the same dtype and shape; other tensors are coded plain. Decoding a delta
/// tensor needs the same base file ([`Archive::tensor_with_base`]).
pub fn compress_with_base(file: &[u8], base: Option<&[u8]>, opts: &Options) -> Result<Vec<u8>> {
    validate(opts)?;
    let st = SafeTensors::parse(file)?;
    let mut out = crate::engine::zeroed_vec(bound_of(&st, opts)?)?;
    let n = write_archive(&st, base, opts, &mut out)?;
    out.truncate(n);
    out.shrink_to_fit();
    Ok(out)
}

/// [`compress_with_base`] into `dst`, which must hold [`compress_bound`] bytes (else
/// `DstTooSmall`, before any work); returns the archive's length. Each tensor is coded
/// straight into its place, so nothing is allocated or copied per tensor. Everything that
/// can be wrong with the input or the options is found before `dst` is written.
pub fn compress_with_base_into(
    file: &[u8],
    base: Option<&[u8]>,
    opts: &Options,
    dst: &mut [u8],
) -> Result<usize> {
    validate(opts)?;
    let st = SafeTensors::parse(file)?;
    if dst.len() < bound_of(&st, opts)? {
        return Err(Error::DstTooSmall);
    }
    write_archive(&st, base, opts, dst)
}

/// [`compress_with_base`] into `dst` of any size; returns the archive's length. With room
/// for [`compress_bound`], the tensors are coded straight into `dst` and nothing the size
/// of the archive is allocated; with less, the archive is made aside and copied if it fits
/// (`DstTooSmall` comes after the work then). Errors in the input or the options are found
/// before `dst` is written.
pub fn compress_with_base_to(
    file: &[u8],
    base: Option<&[u8]>,
    opts: &Options,
    dst: &mut [u8],
) -> Result<usize> {
    match compress_with_base_into(file, base, opts, dst) {
        // Refused before any work: less room than the bound.
        Err(Error::DstTooSmall) => {
            let v = compress_with_base(file, base, opts)?;
            let d = dst.get_mut(..v.len()).ok_or(Error::DstTooSmall)?;
            d.copy_from_slice(&v);
            Ok(v.len())
        }
        r => r,
    }
}

/// Writes the archive of `st` into `dst`, which holds at least [`bound_of`] bytes.
fn write_archive(
    st: &SafeTensors<'_>,
    base: Option<&[u8]>,
    opts: &Options,
    dst: &mut [u8],
) -> Result<usize> {
    let base = base.map(SafeTensors::parse).transpose()?;
    let ties = find_ties(st);
    let tensor_opts = st
        .tensors
        .iter()
        .map(|t| tensor_options(t, opts))
        .collect::<Result<Vec<Options>>>()?;
    let index_at = FIXED_SIZE + st.header.len();
    let frames_at = index_at + ENTRY_SIZE * st.tensors.len();
    let bases: Vec<Option<&[u8]>> = st
        .tensors
        .iter()
        .map(|t| base.as_ref().and_then(|b| b.matching(t)))
        .collect();
    let sizes = code_tensors(st, &ties, &bases, &tensor_opts, opts, &mut dst[frames_at..])?;
    let mut at = frames_at;
    let mut flags = 0u8;
    for (k, (t, tie)) in st.tensors.iter().zip(&ties).enumerate() {
        let third = match tie {
            Some(j) => {
                flags |= ARCHIVE_FLAG_TIES;
                REF_BIT | *j as u64
            }
            None => {
                if bases[k].is_some() {
                    flags |= ARCHIVE_FLAG_DELTA;
                }
                at += sizes[k];
                sizes[k] as u64
            }
        };
        let e = index_at + ENTRY_SIZE * k;
        dst[e..e + 8].copy_from_slice(&t.data_offsets.0.to_le_bytes());
        dst[e + 8..e + 16].copy_from_slice(&t.data_offsets.1.to_le_bytes());
        dst[e + 16..e + 24].copy_from_slice(&third.to_le_bytes());
    }
    dst[FIXED_SIZE..index_at].copy_from_slice(st.header);
    let body_sum = checksum(&dst[FIXED_SIZE..frames_at]);
    let mut fixed = [0u8; FIXED_SIZE];
    fixed[..4].copy_from_slice(&ARCHIVE_MAGIC);
    fixed[4] = ARCHIVE_VERSION;
    fixed[5] = flags;
    fixed[8..16].copy_from_slice(&(st.header.len() as u64).to_le_bytes());
    fixed[16..24].copy_from_slice(&(st.data.len() as u64).to_le_bytes());
    fixed[24..28].copy_from_slice(&(st.tensors.len() as u32).to_le_bytes());
    fixed[32..40].copy_from_slice(&body_sum.to_le_bytes());
    let fixed_sum = checksum(&fixed[..40]);
    fixed[40..48].copy_from_slice(&fixed_sum.to_le_bytes());
    dst[..FIXED_SIZE].copy_from_slice(&fixed);
    Ok(at)
}

/// Frame bytes [`Archive::decode_many`] reads at once from a file (or one larger frame).
const MANY_FILE_BATCH: u64 = 8 << 20;

thread_local! {
    /// [`Archive::decode_many`]'s buffer for frames read from a file, kept between calls.
    static READ_BUF: std::cell::RefCell<Vec<u8>> = const { std::cell::RefCell::new(Vec::new()) };
}

/// Input bytes of the tensors coded together by [`code_tensors`] (or one larger tensor).
const GROUP_BYTES: usize = 64 << 20;

/// Codes every tensor that is not a tie into `dst`, one frame after the other in data
/// order, and returns each tensor's frame size (0 for ties). `dst` holds the frames'
/// bounds. The tensors go to the engine in groups of about [`GROUP_BYTES`], whose chunks
/// are all coded as one large frame's are ([`crate::engine::compress_frames`]): straight
/// into place on one thread, spread over the workers otherwise, small tensors included.
fn code_tensors(
    st: &SafeTensors<'_>,
    ties: &[Option<usize>],
    bases: &[Option<&[u8]>],
    tensor_opts: &[Options],
    opts: &Options,
    dst: &mut [u8],
) -> Result<Vec<usize>> {
    // The archive's frames go one after the other into one output: when it is large, raw
    // planes are written around the caches as for one large frame.
    let large = st.data.len() >= crate::pipeline::LARGE_OUTPUT;
    let n = st.tensors.len();
    let len = |k: usize| st.bytes(&st.tensors[k]).len();
    let mut sizes = vec![0usize; n];
    let mut at = 0usize;
    let mut k = 0;
    while k < n {
        let start = k;
        let mut bytes = 0usize;
        while k < n && (k == start || bytes + len(k) <= GROUP_BYTES) {
            bytes += len(k);
            k += 1;
        }
        let coded: Vec<usize> = (start..k).filter(|&j| ties[j].is_none()).collect();
        let prepared = coded
            .iter()
            .map(|&j| crate::pipeline::prepare(st.bytes(&st.tensors[j]), bases[j], &tensor_opts[j]))
            .collect::<Result<Vec<_>>>()?;
        let plans: Vec<_> = prepared
            .iter()
            .zip(&coded)
            .map(|((data, o, hash), &j)| crate::engine::FramePlan {
                src: data,
                base: bases[j],
                metadata: &[],
                opts: o.clone(),
                base_hash: *hash,
                adaptive: false,
            })
            .collect();
        let got = crate::engine::compress_frames(&plans, opts.threads, &mut dst[at..], large)?;
        for (&j, size) in coded.iter().zip(got) {
            sizes[j] = size;
            at += size;
        }
    }
    Ok(sizes)
}

/// The largest archive [`compress_with_base`] can produce for this safetensors file.
pub fn compress_bound(file: &[u8], opts: &Options) -> Result<usize> {
    validate(opts)?;
    bound_of(&SafeTensors::parse(file)?, opts)
}

/// [`compress_bound`] of a parsed file (options already validated).
fn bound_of(st: &SafeTensors<'_>, opts: &Options) -> Result<usize> {
    bound_of_parts(st.header.len(), &st.tensors, opts)
}

/// [`compress_bound`] of a file with a JSON header of `header_len` bytes and `tensors`.
pub(crate) fn bound_of_parts(
    header_len: usize,
    tensors: &[TensorInfo],
    opts: &Options,
) -> Result<usize> {
    validate(opts)?;
    let mut total = FIXED_SIZE + header_len + ENTRY_SIZE * tensors.len();
    for t in tensors.iter() {
        let o = tensor_options(t, opts)?;
        let n = (t.data_offsets.1 - t.data_offsets.0) as usize;
        total = total
            .checked_add(crate::compress_bound(n, &o)?)
            .ok_or(Error::SrcTooLarge)?;
    }
    Ok(total)
}

impl<'a> SafeTensors<'a> {
    /// The bytes of tensor `t` (one of this file's tensors).
    pub fn bytes(&self, t: &TensorInfo) -> &'a [u8] {
        &self.data[t.data_offsets.0 as usize..t.data_offsets.1 as usize]
    }

    /// The bytes of this file's tensor with `t`'s name, dtype and shape, if there is one:
    /// the base a delta of `t` is made against.
    pub fn matching(&self, t: &TensorInfo) -> Option<&'a [u8]> {
        let b = &self.tensors[find(&self.names, &self.tensors, &t.name)?];
        (b.dtype == t.dtype && b.shape == t.shape).then(|| self.bytes(b))
    }
}

/// A base model's safetensors file, borrowed or owned, with its header parsed once: what
/// delta archives are decoded against ([`BaseModel::view`] for the `base` arguments).
#[derive(Debug)]
pub struct BaseModel<'a> {
    bytes: Cow<'a, [u8]>,
    header_len: usize,
    tensors: Vec<TensorInfo>,
    names: Names,
}

impl<'a> BaseModel<'a> {
    /// Parses and validates the file (errors as [`SafeTensors::parse`]).
    pub fn new(bytes: Cow<'a, [u8]>) -> Result<BaseModel<'a>> {
        let st = SafeTensors::parse(&bytes)?;
        let header_len = st.header.len();
        let (tensors, names) = (st.tensors.into_owned(), st.names.into_owned());
        Ok(BaseModel {
            bytes,
            header_len,
            tensors,
            names,
        })
    }

    /// The file's bytes.
    pub fn bytes(&self) -> &[u8] {
        &self.bytes
    }

    /// The parsed file, borrowed (nothing is copied).
    pub fn view(&self) -> SafeTensors<'_> {
        SafeTensors {
            header: &self.bytes[8..8 + self.header_len],
            data: &self.bytes[8 + self.header_len..],
            tensors: Cow::Borrowed(&self.tensors),
            names: Cow::Borrowed(&self.names),
        }
    }
}

impl BaseModel<'static> {
    /// Reads and parses the file at `path` (I/O errors are [`Error::Io`]).
    pub fn read_file(path: impl AsRef<Path>) -> Result<BaseModel<'static>> {
        let bytes = std::fs::read(path).map_err(|_| Error::Io)?;
        BaseModel::new(Cow::Owned(bytes))
    }
}

/// Compressed bytes an archive read from a file decodes at once when it is restored (one
/// larger frame is decoded alone).
const FILE_BATCH: u64 = 64 << 20;

/// Where an archive's bytes are: in memory, or in a file read on demand.
#[derive(Debug)]
enum Source<'a> {
    Memory(&'a [u8]),
    File(Mutex<std::fs::File>),
    /// Read or decoded when the archive was opened (files the reference package wrote).
    Owned(Vec<u8>),
}

/// How one tensor is stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stored {
    /// Its own frame, at this offset in the archive, of this size.
    Frame {
        /// Offset of the frame in the archive.
        offset: u64,
        /// Length of the frame.
        size: u64,
    },
    /// The same bytes as the earlier tensor with this index (tied tensors).
    Tied(usize),
    /// The tensor's bytes as they are, at this offset, of this size: a tensor that the
    /// reference package's safetensors script left uncompressed (and every tensor of a
    /// `model.safetensors.znn`, once decoded).
    Plain {
        /// Offset of the bytes in the archive (or in the decoded file).
        offset: u64,
        /// Their length.
        size: u64,
    },
}

/// An opened archive: the header and index are validated; tensors are decoded on demand,
/// and an archive opened from a file reads only the frames it decodes.
#[derive(Debug)]
pub struct Archive<'a> {
    header: Vec<u8>,
    data_len: u64,
    flags: u8,
    tensors: Vec<TensorInfo>,
    names: Names,
    stored: Vec<Stored>,
    src: Source<'a>,
    /// Written by the reference package (no checksums; see [`Archive::open`]).
    reference: bool,
}

/// What the fixed header says: flags, JSON length, data length, tensor count, body end.
struct Fixed {
    flags: u8,
    json_len: u64,
    data_len: u64,
    count: u64,
    body_end: u64,
}

fn parse_fixed(src: &[u8]) -> Result<Fixed> {
    if src.len() < 4 {
        return Err(if ARCHIVE_MAGIC.starts_with(src) {
            Error::Truncated
        } else {
            Error::BadMagic
        });
    }
    if src[..4] != ARCHIVE_MAGIC {
        return Err(Error::BadMagic);
    }
    if src.len() < FIXED_SIZE {
        return Err(Error::Truncated);
    }
    if src[4] != ARCHIVE_VERSION {
        return Err(Error::UnsupportedVersion);
    }
    if checksum(&src[..40]) != le64(src, 40) {
        return Err(Error::Checksum);
    }
    let flags = src[5];
    if flags & !(ARCHIVE_FLAG_TIES | ARCHIVE_FLAG_DELTA) != 0 {
        return Err(Error::UnsupportedFlags);
    }
    let json_len = le64(src, 8);
    let data_len = le64(src, 16);
    let count = le32(src, 24) as u64;
    if src[6] != 0 || src[7] != 0 || src[28..32].iter().any(|&b| b != 0) || json_len > MAX_HEADER {
        return Err(Error::Corrupt);
    }
    let body_end = (FIXED_SIZE as u64)
        .checked_add(json_len)
        .and_then(|x| x.checked_add(count.checked_mul(ENTRY_SIZE as u64)?))
        .ok_or(Error::Corrupt)?;
    Ok(Fixed {
        flags,
        json_len,
        data_len,
        count,
        body_end,
    })
}

/// Validates the JSON header and index (`body`: the bytes after the fixed header up to the
/// end of the index) of an archive of `total` bytes.
fn parse_body(
    fx: &Fixed,
    fixed: &[u8],
    body: &[u8],
    total: u64,
) -> Result<(Vec<u8>, Vec<TensorInfo>, Vec<Stored>)> {
    if checksum(body) != le64(fixed, 32) {
        return Err(Error::Checksum);
    }
    let header = &body[..fx.json_len as usize];
    let tensors = parse_header(header, fx.data_len).map_err(|_| Error::Corrupt)?;
    if tensors.len() as u64 != fx.count {
        return Err(Error::Corrupt);
    }
    let index = &body[fx.json_len as usize..];
    let mut stored = Vec::with_capacity(tensors.len());
    let mut at = fx.body_end;
    for (i, (t, e)) in tensors
        .iter()
        .zip(index.chunks_exact(ENTRY_SIZE))
        .enumerate()
    {
        if (le64(e, 0), le64(e, 8)) != t.data_offsets {
            return Err(Error::Corrupt);
        }
        let third = le64(e, 16);
        if third & REF_BIT != 0 {
            let j = (third & !REF_BIT) as usize;
            let ok = fx.flags & ARCHIVE_FLAG_TIES != 0
                && third & !REF_BIT <= u32::MAX as u64
                && j < i
                && matches!(stored[j], Stored::Frame { .. })
                && tensors[j].dtype == t.dtype
                && tensors[j].data_offsets.1 - tensors[j].data_offsets.0
                    == t.data_offsets.1 - t.data_offsets.0;
            if !ok {
                return Err(Error::Corrupt);
            }
            stored.push(Stored::Tied(j));
            continue;
        }
        let end = at.checked_add(third).ok_or(Error::Corrupt)?;
        if end > total {
            return Err(Error::Truncated);
        }
        stored.push(Stored::Frame {
            offset: at,
            size: third,
        });
        at = end;
    }
    if at != total {
        return Err(Error::Corrupt);
    }
    Ok((header.to_vec(), tensors, stored))
}

impl<'a> Archive<'a> {
    /// Opens an archive from memory, validating its header, JSON and index. It also opens
    /// what the reference package wrote: a safetensors file whose tensors its script stored
    /// as frames (read where it is), and a safetensors file in one of its frames
    /// (`model.safetensors.znn`, decoded now).
    pub fn open(src: &'a [u8]) -> Result<Archive<'a>> {
        if let Some(a) = Archive::open_reference(src, |_| Source::Memory(src))? {
            return Ok(a);
        }
        let fx = parse_fixed(src)?;
        if fx.body_end > src.len() as u64 {
            return Err(Error::Truncated);
        }
        let body = &src[FIXED_SIZE..fx.body_end as usize];
        let (header, tensors, stored) = parse_body(&fx, src, body, src.len() as u64)?;
        Ok(Archive {
            header,
            data_len: fx.data_len,
            flags: fx.flags,
            names: names_of(&tensors),
            tensors,
            stored,
            src: Source::Memory(src),
            reference: false,
        })
    }
}

impl<'a> Archive<'a> {
    /// An archive over a file the reference package wrote, if `src` is one (see
    /// [`Archive::open`]); `source` gives where `src` is kept.
    fn open_reference(
        src: &[u8],
        source: impl FnOnce(&[u8]) -> Source<'a>,
    ) -> Result<Option<Archive<'a>>> {
        if crate::refformat::is_reference(src) {
            let file = crate::refformat::decompress(src, &DecompressOptions::default())?;
            let st = SafeTensors::parse(&file)?;
            let data_at = 8 + st.header.len() as u64;
            let stored = st
                .tensors
                .iter()
                .map(|t| Stored::Plain {
                    offset: data_at + t.data_offsets.0,
                    size: t.data_offsets.1 - t.data_offsets.0,
                })
                .collect();
            let (header, data_len) = (st.header.to_vec(), st.data.len() as u64);
            let tensors = st.tensors.into_owned();
            return Ok(Some(Archive {
                header,
                data_len,
                flags: 0,
                names: names_of(&tensors),
                tensors,
                stored,
                src: Source::Owned(file),
                reference: true,
            }));
        }
        if !looks_like_safetensors(src) {
            return Ok(None);
        }
        let Some(l) = super::reference::layout_of(src)? else {
            return Ok(None);
        };
        Ok(Some(Archive {
            header: l.header,
            data_len: l.data_len,
            flags: 0,
            names: names_of(&l.tensors),
            tensors: l.tensors,
            stored: l.stored,
            src: source(src),
            reference: true,
        }))
    }
}

impl Archive<'static> {
    /// Opens an archive file. Only the header and index are read now (never more than the
    /// file holds); each frame is read when its tensor is decoded. I/O errors are
    /// [`Error::Io`]. A file the reference package wrote (see [`Archive::open`]) is read
    /// whole now.
    pub fn open_file(path: impl AsRef<Path>) -> Result<Archive<'static>> {
        let mut f = std::fs::File::open(path).map_err(|_| Error::Io)?;
        let total = f.metadata().map_err(|_| Error::Io)?.len();
        let mut fixed = vec![0u8; FIXED_SIZE.min(total as usize)];
        f.read_exact(&mut fixed).map_err(|_| Error::Io)?;
        let is_archive = fixed.len() >= 4 && fixed[..4] == ARCHIVE_MAGIC;
        let maybe_st = fixed.len() > 8 && fixed[8] == b'{';
        if !is_archive && (crate::refformat::is_reference(&fixed) || maybe_st) {
            let mut all = fixed;
            f.read_to_end(&mut all).map_err(|_| Error::Io)?;
            let Some(mut a) = Archive::open_reference(&all, |_| Source::Owned(Vec::new()))? else {
                return Err(Error::BadMagic);
            };
            if let Source::Owned(v) = &mut a.src {
                if v.is_empty() {
                    *v = all;
                }
            }
            return Ok(a);
        }
        let fx = parse_fixed(&fixed)?;
        if fx.body_end > total {
            return Err(Error::Truncated);
        }
        let mut body = vec![0u8; (fx.body_end - FIXED_SIZE as u64) as usize];
        f.read_exact(&mut body).map_err(|_| Error::Io)?;
        let (header, tensors, stored) = parse_body(&fx, &fixed, &body, total)?;
        Ok(Archive {
            header,
            data_len: fx.data_len,
            flags: fx.flags,
            names: names_of(&tensors),
            tensors,
            stored,
            src: Source::File(Mutex::new(f)),
            reference: false,
        })
    }
}

impl Archive<'_> {
    /// The original JSON header, verbatim.
    pub fn header_json(&self) -> &[u8] {
        &self.header
    }

    /// The archive's flags ([`ARCHIVE_FLAG_TIES`], [`ARCHIVE_FLAG_DELTA`]).
    pub fn flags(&self) -> u8 {
        self.flags
    }

    /// Whether the file was written by the reference package (a safetensors file whose
    /// tensors it stored as its frames, or a `model.safetensors.znn`): it has no checksums.
    pub fn is_reference(&self) -> bool {
        self.reference
    }

    /// Length of the restored safetensors file.
    pub fn restored_size(&self) -> u64 {
        8 + self.header.len() as u64 + self.data_len
    }

    /// Tensors in data order.
    pub fn tensors(&self) -> &[TensorInfo] {
        &self.tensors
    }

    /// How tensor `i` (in data order) is stored.
    pub fn stored(&self, i: usize) -> Option<Stored> {
        self.stored.get(i).copied()
    }

    /// The index of tensor `name`, or [`Error::NotFound`].
    pub fn index_of(&self, name: &str) -> Result<usize> {
        self.names.get(name).copied().ok_or(Error::NotFound)
    }

    /// Where tensor `i`'s stored bytes are (a tied tensor's are its original's), and
    /// whether they are the tensor's bytes as they are (`Stored::Plain`).
    fn span(&self, i: usize) -> Result<(u64, u64, bool)> {
        let resolve = |s: &Stored| match *s {
            Stored::Frame { offset, size } => Ok((offset, size, false)),
            Stored::Plain { offset, size } => Ok((offset, size, true)),
            Stored::Tied(_) => Err(Error::Corrupt),
        };
        match self.stored.get(i).ok_or(Error::NotFound)? {
            Stored::Tied(j) => resolve(&self.stored[*j]),
            s => resolve(s),
        }
    }

    /// Whether the tensors are stored as the reference package wrote them (tensors kept as
    /// they are, or its frames) rather than in zipnn frames.
    fn holds_reference_frames(&self) -> Result<bool> {
        for s in &self.stored {
            match *s {
                Stored::Plain { .. } => return Ok(true),
                Stored::Frame { offset, size } => {
                    let head = self.read_span(offset, size.min(2))?;
                    return Ok(crate::refformat::is_reference(&head));
                }
                Stored::Tied(_) => {}
            }
        }
        Ok(false)
    }

    /// `size` bytes of the archive at `offset`.
    fn read_span(&self, offset: u64, size: u64) -> Result<Cow<'_, [u8]>> {
        match &self.src {
            Source::Memory(m) => Ok(Cow::Borrowed(&m[offset as usize..(offset + size) as usize])),
            Source::Owned(m) => Ok(Cow::Borrowed(&m[offset as usize..(offset + size) as usize])),
            Source::File(_) => {
                let n = usize::try_from(size).map_err(|_| Error::SrcTooLarge)?;
                let mut v = crate::engine::zeroed_vec(n)?;
                self.read_file_at(offset, &mut v)?;
                Ok(Cow::Owned(v))
            }
        }
    }

    /// Fills `dst` from the archive file at `offset` (an archive opened from a file).
    fn read_file_at(&self, offset: u64, dst: &mut [u8]) -> Result<()> {
        let Source::File(f) = &self.src else {
            return Err(Error::Internal);
        };
        let mut f = f.lock().map_err(|_| Error::Internal)?;
        f.seek(SeekFrom::Start(offset)).map_err(|_| Error::Io)?;
        f.read_exact(dst).map_err(|_| Error::Io)
    }

    /// The frame that holds tensor `i`'s bytes (a tied tensor's is its original's).
    /// `NotFound` for a tensor kept as it is (`Stored::Plain`).
    pub fn frame_at(&self, i: usize) -> Result<Cow<'_, [u8]>> {
        let (offset, size, plain) = self.span(i)?;
        if plain {
            return Err(Error::NotFound);
        }
        self.read_span(offset, size)
    }

    /// The fixed header (and base hash) of the frame that holds tensor `i`: its dtype,
    /// size, lossy mode and delta flag, read without the rest of the frame. For a tensor
    /// kept as it is, or held in a frame of the reference package, a header with its dtype
    /// and size (no delta, no lossy step).
    pub fn frame_header_at(&self, i: usize) -> Result<crate::frame::Header> {
        let (offset, size, plain) = self.span(i)?;
        if plain {
            let t = self.tensors.get(i).ok_or(Error::NotFound)?;
            let (_, dtype, _) = dtype_of(&t.dtype)?;
            return Ok(super::reference::synthetic_header(dtype, size));
        }
        let n = size.min((crate::frame::FIXED_HEADER_SIZE + crate::frame::BASE_HASH_SIZE) as u64);
        let head = self.read_span(offset, n)?;
        if crate::refformat::is_reference(&head) {
            return super::reference::frame_header(&head);
        }
        crate::frame::parse_fixed(&head)
    }

    /// The compressed frame of tensor `name`.
    pub fn frame(&self, name: &str) -> Result<Cow<'_, [u8]>> {
        self.frame_at(self.index_of(name)?)
    }

    /// Decodes tensor `i` into `dst` (at least the tensor's byte length) with `base`, the
    /// base model's safetensors file for a delta archive; returns the bytes written. A
    /// delta tensor without its base is [`Error::BaseRequired`], with another base
    /// [`Error::BaseMismatch`].
    pub fn decode_at(
        &self,
        i: usize,
        base: Option<&SafeTensors<'_>>,
        dst: &mut [u8],
        opts: &DecompressOptions,
    ) -> Result<usize> {
        let t = self.tensors.get(i).ok_or(Error::NotFound)?;
        let (b, e) = t.data_offsets;
        let n = (e - b) as usize;
        if dst.len() < n {
            return Err(Error::DstTooSmall);
        }
        let (offset, size, plain) = self.span(i)?;
        if plain {
            if size != n as u64 {
                return Err(Error::Corrupt);
            }
            dst[..n].copy_from_slice(&self.read_span(offset, size)?);
            return Ok(n);
        }
        let frame = self.frame_at(i)?;
        let info = crate::frame_info(&frame)?;
        if info.original_size != n as u64 {
            return Err(Error::Corrupt);
        }
        let got = match self.base_for(i, info.base_hash.is_some(), base)? {
            Some(bb) => crate::decompress_delta_into_with(&frame, bb, &mut dst[..n], opts)?,
            None => crate::decompress_into_with(&frame, &mut dst[..n], opts)?,
        };
        if got != n {
            return Err(Error::Corrupt);
        }
        Ok(n)
    }

    /// Decodes tensor `name` alone into `dst` (at least the tensor's byte length); returns
    /// the number of bytes written.
    pub fn tensor_into(&self, name: &str, dst: &mut [u8]) -> Result<usize> {
        self.decode_at(
            self.index_of(name)?,
            None,
            dst,
            &DecompressOptions::default(),
        )
    }

    /// Decodes tensor `name` alone into a new vector.
    pub fn tensor(&self, name: &str) -> Result<Vec<u8>> {
        self.tensor_with_base(name, None)
    }

    /// Decodes tensor `name` into a new vector, with the base model's file for a delta
    /// archive.
    pub fn tensor_with_base<'b>(
        &self,
        name: &str,
        base: Option<&'b SafeTensors<'b>>,
    ) -> Result<Vec<u8>> {
        let i = self.index_of(name)?;
        let (b, e) = self.tensors[i].data_offsets;
        let n = usize::try_from(e - b).map_err(|_| Error::SrcTooLarge)?;
        let (_, _, plain) = self.span(i)?;
        if plain {
            let mut v = crate::engine::zeroed_vec(n)?;
            self.decode_at(i, None, &mut v, &DecompressOptions::default())?;
            return Ok(v);
        }
        let frame = self.frame_at(i)?;
        if crate::refformat::is_reference(&frame) {
            let v = crate::decompress(&frame)?;
            if v.len() != n {
                return Err(Error::Corrupt);
            }
            return Ok(v);
        }
        let f = crate::pipeline::parse_whole(&frame, &DecompressOptions::default())?;
        if f.header().original_size != n as u64 {
            return Err(Error::Corrupt);
        }
        let bb = self.base_for(i, f.header().base_hash.is_some(), base)?;
        crate::pipeline::check_base(f.header(), bb)?;
        // The chunk checksums are checked before the tensor's memory is allocated.
        crate::pipeline::decode_new(&f, bb, n, 0)
    }

    /// The base bytes a delta tensor `i` decodes against: the base file's tensor with the
    /// name, dtype and shape of `i` (of the tensor it repeats, for a tie).
    /// Parses `bufs`, the whole frames of tensors `tensors` (one each, in order), and
    /// checks them against their tensors before anything is decoded: each frame must declare
    /// its tensor's length (else `Corrupt`), and a delta frame's base must be given and
    /// match (see [`Archive::base_for`]; the bases' hashes on `opts.threads` workers).
    /// Returns each frame with its base.
    fn checked_frames<'f, 'b, B: AsRef<[u8]>>(
        &self,
        bufs: &'f [B],
        tensors: impl Iterator<Item = usize>,
        base: Option<&'b SafeTensors<'b>>,
        opts: &DecompressOptions,
    ) -> Result<Vec<CheckedFrame<'f, 'b>>> {
        let parsed = bufs
            .iter()
            .map(|b| crate::pipeline::parse_whole(b.as_ref(), opts))
            .collect::<Result<Vec<_>>>()?;
        let mut out = Vec::with_capacity(parsed.len());
        for (f, i) in parsed.into_iter().zip(tensors) {
            let (b, e) = self.tensors[i].data_offsets;
            let h = f.header();
            if h.original_size != e - b {
                return Err(Error::Corrupt);
            }
            let bb = self.base_for(i, h.base_hash.is_some(), base)?;
            out.push((f, bb));
        }
        let checks: Vec<_> = out
            .iter()
            .filter(|(_, bb)| bb.is_some())
            .map(|(f, bb)| (f.header(), *bb))
            .collect();
        crate::engine::par_map(opts.threads, checks, |(h, bb)| {
            crate::pipeline::check_base(h, bb)
        })?
        .into_iter()
        .collect::<Result<()>>()?;
        Ok(out)
    }

    fn base_for<'b>(
        &self,
        i: usize,
        is_delta: bool,
        base: Option<&'b SafeTensors<'b>>,
    ) -> Result<Option<&'b [u8]>> {
        if !is_delta {
            return Ok(None);
        }
        let bt = base.ok_or(Error::BaseRequired)?;
        // A tied tensor shares its original's frame, and so its original's base.
        let owner = match self.stored[i] {
            Stored::Tied(j) => &self.tensors[j],
            Stored::Frame { .. } | Stored::Plain { .. } => &self.tensors[i],
        };
        bt.matching(owner).map(Some).ok_or(Error::BaseMismatch)
    }

    /// Decodes several tensors, each into its own buffer: `jobs` pairs a tensor index with
    /// its output (at least the tensor's byte length; its first bytes receive the tensor).
    /// The chunks of all their frames are spread over `opts.threads` workers at once, so
    /// that many small tensors keep every core busy as one large tensor does (one
    /// [`Archive::decode_at`] per tensor runs the threads only within each). Every index
    /// and output length is checked before anything is read; the frames, read in batches
    /// of about 64 MiB from a file, are parsed, their bases checked and every chunk
    /// checksum of a batch checked before the batch is decoded. On error, outputs of
    /// earlier batches hold their tensors; the others are untouched. Errors: as
    /// [`Archive::decode_at`].
    pub fn decode_many(
        &self,
        mut jobs: Vec<(usize, &mut [u8])>,
        base: Option<&SafeTensors<'_>>,
        opts: &DecompressOptions,
    ) -> Result<()> {
        for (i, dst) in &jobs {
            let t = self.tensors.get(*i).ok_or(Error::NotFound)?;
            if (dst.len() as u64) < t.data_offsets.1 - t.data_offsets.0 {
                return Err(Error::DstTooSmall);
            }
        }
        let plain = jobs
            .iter()
            .any(|(i, _)| matches!(self.stored[*i], Stored::Plain { .. }));
        if plain || self.holds_reference_frames()? {
            // Files of the reference package: tensor by tensor (its frames are not ours).
            for (i, dst) in jobs {
                self.decode_at(i, base, dst, opts)?;
            }
            return Ok(());
        }
        let frame_size = |i: usize| match self.stored[i] {
            Stored::Frame { size, .. } => size,
            Stored::Tied(j) => match self.stored[j] {
                Stored::Frame { size, .. } => size,
                Stored::Tied(_) | Stored::Plain { .. } => 0,
            },
            Stored::Plain { .. } => 0,
        };
        let limit = match self.src {
            Source::Memory(_) | Source::Owned(_) => u64::MAX,
            Source::File(_) => MANY_FILE_BATCH,
        };
        // From a file, each batch's frames are read into this buffer, reused from batch to
        // batch and, up to MANY_FILE_BATCH, from call to call (fresh pages for the frames
        // cost more than decoding them).
        let mut held: Vec<u8> = READ_BUF.with(|b| std::mem::take(&mut *b.borrow_mut()));
        while !jobs.is_empty() {
            let mut k = 0;
            let mut bytes = 0u64;
            while k < jobs.len() && (k == 0 || bytes.saturating_add(frame_size(jobs[k].0)) <= limit)
            {
                bytes = bytes.saturating_add(frame_size(jobs[k].0));
                k += 1;
            }
            let rest = jobs.split_off(k);
            let batch = std::mem::replace(&mut jobs, rest);
            let spans = batch
                .iter()
                .map(|(i, _)| self.span(*i))
                .collect::<Result<Vec<_>>>()?;
            let bufs: Vec<&[u8]> = match &self.src {
                Source::Memory(m) => spans
                    .iter()
                    .map(|&(o, n, _)| &m[o as usize..(o + n) as usize])
                    .collect(),
                Source::Owned(m) => spans
                    .iter()
                    .map(|&(o, n, _)| &m[o as usize..(o + n) as usize])
                    .collect(),
                Source::File(_) => {
                    let total = usize::try_from(spans.iter().map(|s| s.1).sum::<u64>())
                        .map_err(|_| Error::SrcTooLarge)?;
                    if held.len() < total {
                        // The old buffer is freed before the new one is made.
                        drop(std::mem::take(&mut held));
                        held = crate::engine::zeroed_vec(total)?;
                    }
                    let mut rest = &mut held[..total];
                    for &(o, n, _) in &spans {
                        let (here, r) = std::mem::take(&mut rest).split_at_mut(n as usize);
                        self.read_file_at(o, here)?;
                        rest = r;
                    }
                    let mut at = 0usize;
                    spans
                        .iter()
                        .map(|&(_, n, _)| {
                            at += n as usize;
                            &held[at - n as usize..at]
                        })
                        .collect()
                }
            };
            let parsed = self.checked_frames(&bufs, batch.iter().map(|(i, _)| *i), base, opts)?;
            let mut frame_jobs = Vec::with_capacity(batch.len());
            for ((f, bb), (i, dst)) in parsed.iter().zip(batch) {
                let (b, e) = self.tensors[i].data_offsets;
                frame_jobs.push(crate::pipeline::FrameJob {
                    frame: f,
                    base: *bb,
                    dst: &mut dst[..(e - b) as usize],
                });
            }
            let n = frame_jobs.len();
            let done =
                crate::pipeline::decode_jobs_checked_first(frame_jobs, opts.threads, false, false)?;
            if done < n {
                return Err(Error::Checksum);
            }
        }
        if held.len() as u64 <= MANY_FILE_BATCH {
            READ_BUF.with(|b| *b.borrow_mut() = held);
        }
        Ok(())
    }

    /// Restores the original safetensors file into `dst` (at least
    /// [`Archive::restored_size`] bytes); returns the bytes written.
    pub fn restore_into(
        &self,
        base: Option<&SafeTensors<'_>>,
        dst: &mut [u8],
        opts: &DecompressOptions,
    ) -> Result<usize> {
        let total = usize::try_from(self.restored_size()).map_err(|_| Error::SrcTooLarge)?;
        if dst.len() < total {
            return Err(Error::DstTooSmall);
        }
        if self.flags & ARCHIVE_FLAG_DELTA != 0 && base.is_none() {
            return Err(Error::BaseRequired);
        }
        let hl = self.header.len();
        let (head, data) = dst[..total].split_at_mut(8 + hl);
        self.decode_tensors(0..self.tensors.len(), base, data, opts)?;
        head[..8].copy_from_slice(&(hl as u64).to_le_bytes());
        head[8..].copy_from_slice(&self.header);
        Ok(total)
    }

    /// Decodes tensors `range` (in data order) into `dst`, which receives their bytes as
    /// the data section holds them: exactly the length from the first one's start to the
    /// last one's end (else `InvalidParam`). The chunks of all their frames are decoded at
    /// once on `opts.threads` workers, so that small tensors keep every core busy too. An
    /// archive read from a file is read and decoded in batches of frames of about
    /// 64 MiB (or one larger frame). On error `dst` may hold part of the
    /// bytes. Errors: as [`Archive::decode_at`].
    pub fn decode_tensors(
        &self,
        range: std::ops::Range<usize>,
        base: Option<&SafeTensors<'_>>,
        dst: &mut [u8],
        opts: &DecompressOptions,
    ) -> Result<()> {
        if range.start > range.end || range.end > self.tensors.len() {
            return Err(Error::InvalidParam);
        }
        if range.is_empty() {
            return if dst.is_empty() {
                Ok(())
            } else {
                Err(Error::InvalidParam)
            };
        }
        let first = self.tensors[range.start].data_offsets.0;
        let end = self.tensors[range.end - 1].data_offsets.1;
        if dst.len() as u64 != end - first {
            return Err(Error::InvalidParam);
        }
        if self.holds_reference_frames()? {
            // Files of the reference package: tensor by tensor (its frames are not ours).
            for i in range {
                let (b, e) = self.tensors[i].data_offsets;
                self.decode_at(
                    i,
                    base,
                    &mut dst[(b - first) as usize..(e - first) as usize],
                    opts,
                )?;
            }
            return Ok(());
        }
        // Tensors with a frame to decode (a tie to a tensor before the range decodes its
        // original's frame), and ties to copy afterwards.
        let mut frames: Vec<(usize, u64)> = Vec::with_capacity(range.len());
        let mut copies = Vec::new();
        for i in range.clone() {
            match self.stored[i] {
                Stored::Frame { size, .. } => frames.push((i, size)),
                Stored::Tied(j) if j >= range.start => copies.push((i, j)),
                Stored::Tied(j) => match self.stored[j] {
                    Stored::Frame { size, .. } => frames.push((i, size)),
                    // Only in files of the reference package, handled above.
                    Stored::Tied(_) | Stored::Plain { .. } => return Err(Error::Corrupt),
                },
                Stored::Plain { .. } => return Err(Error::Internal),
            }
        }
        let limit = match self.src {
            Source::Memory(_) | Source::Owned(_) => u64::MAX,
            Source::File(_) => FILE_BATCH,
        };
        // `rest` is `dst` from data byte `rest_at` on: each frame's output is cut from its
        // front (tensors are in data order).
        let mut rest: &mut [u8] = &mut *dst;
        let mut rest_at = first;
        let mut k = 0;
        while k < frames.len() {
            let start = k;
            let mut bytes = 0u64;
            while k < frames.len() && (k == start || bytes.saturating_add(frames[k].1) <= limit) {
                bytes = bytes.saturating_add(frames[k].1);
                k += 1;
            }
            let batch = &frames[start..k];
            let bufs = batch
                .iter()
                .map(|&(i, _)| self.frame_at(i))
                .collect::<Result<Vec<_>>>()?;
            let parsed = self.checked_frames(&bufs, batch.iter().map(|&(i, _)| i), base, opts)?;
            let mut jobs = Vec::with_capacity(batch.len());
            for ((f, bb), &(i, _)) in parsed.iter().zip(batch) {
                let (b, e) = self.tensors[i].data_offsets;
                let skip = std::mem::take(&mut rest)
                    .split_at_mut((b - rest_at) as usize)
                    .1;
                let (out, r) = skip.split_at_mut((e - b) as usize);
                rest = r;
                rest_at = e;
                jobs.push(crate::pipeline::FrameJob {
                    frame: f,
                    base: *bb,
                    dst: out,
                });
            }
            crate::pipeline::decode_frames(jobs, opts.threads)?;
        }
        // A tie within the range repeats an earlier tensor of the range: decoded by now.
        for (i, j) in copies {
            let (b, e) = self.tensors[i].data_offsets;
            let from = (self.tensors[j].data_offsets.0 - first) as usize;
            dst.copy_within(from..from + (e - b) as usize, (b - first) as usize);
        }
        Ok(())
    }

    /// Restores the original safetensors file, byte for byte.
    pub fn restore(&self) -> Result<Vec<u8>> {
        self.restore_with_base(None)
    }

    /// Restores the original file of a delta archive with the base model's file.
    pub fn restore_with_base(&self, base: Option<&SafeTensors<'_>>) -> Result<Vec<u8>> {
        // Before the file's memory is allocated: every tensor's frame header (checksummed)
        // must declare exactly the tensor's length, so the size comes from the frames.
        for (i, t) in self.tensors.iter().enumerate() {
            if matches!(self.stored[i], Stored::Frame { .. })
                && self.frame_header_at(i)?.original_size != t.data_offsets.1 - t.data_offsets.0
            {
                return Err(Error::Corrupt);
            }
        }
        let total = usize::try_from(self.restored_size()).map_err(|_| Error::SrcTooLarge)?;
        let mut out = crate::engine::zeroed_vec(total)?;
        self.restore_into(base, &mut out, &DecompressOptions::default())?;
        Ok(out)
    }
}

/// A tensor's parsed frame with its base (see `Archive::checked_frames`).
type CheckedFrame<'f, 'b> = (crate::Frame<'f>, Option<&'b [u8]>);

/// Decompresses an archive back into the original safetensors file.
pub fn decompress(src: &[u8]) -> Result<Vec<u8>> {
    Archive::open(src)?.restore()
}

/// Decompresses a delta archive with the base model's safetensors file.
pub fn decompress_with_base(src: &[u8], base: &[u8]) -> Result<Vec<u8>> {
    let b = SafeTensors::parse(base)?;
    Archive::open(src)?.restore_with_base(Some(&b))
}
