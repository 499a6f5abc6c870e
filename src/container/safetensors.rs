//! A safetensors file compressed tensor by tensor (docs/FORMAT.md section 12).
//!
//! The archive keeps the original JSON header verbatim (names, dtypes, shapes and
//! `__metadata__` stay readable without decompressing) and one v1 frame per tensor, coded
//! with the tensor's own dtype, so that one tensor can be decoded by name without the others
//! and the original file is restored byte for byte.

use serde_json::Value;

use crate::error::{Error, Result};
use crate::frame::{checksum, Frame};
use crate::options::{DType, Options};
use crate::DecompressOptions;

/// The first four bytes of an archive.
pub const ARCHIVE_MAGIC: [u8; 4] = [0x89, b'Z', b'N', b'T'];
/// The archive format version.
pub const ARCHIVE_VERSION: u8 = 1;
/// Size of the archive's fixed header.
pub const FIXED_SIZE: usize = 48;
/// Bytes per index entry: data begin, data end, frame size.
pub const ENTRY_SIZE: usize = 24;
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
    pub tensors: Vec<TensorInfo>,
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
            tensors,
        })
    }
}

/// Compresses a safetensors file into an archive. Every option but `dtype` and
/// `bg_partitions` applies to every tensor; those two come from each tensor's dtype.
pub fn compress(file: &[u8], opts: &Options) -> Result<Vec<u8>> {
    let st = SafeTensors::parse(file)?;
    let mut frames = Vec::with_capacity(st.tensors.len());
    for t in &st.tensors {
        let (_, dtype, bg) = dtype_of(&t.dtype)?;
        let o = Options {
            dtype,
            bg_partitions: bg,
            ..opts.clone()
        };
        let bytes = &st.data[t.data_offsets.0 as usize..t.data_offsets.1 as usize];
        frames.push(crate::compress(bytes, &o)?);
    }
    let mut out = Vec::with_capacity(
        FIXED_SIZE
            + st.header.len()
            + ENTRY_SIZE * frames.len()
            + frames.iter().map(Vec::len).sum::<usize>(),
    );
    out.extend_from_slice(&[0u8; FIXED_SIZE]);
    out.extend_from_slice(st.header);
    for (t, f) in st.tensors.iter().zip(&frames) {
        out.extend_from_slice(&t.data_offsets.0.to_le_bytes());
        out.extend_from_slice(&t.data_offsets.1.to_le_bytes());
        out.extend_from_slice(&(f.len() as u64).to_le_bytes());
    }
    let body_sum = checksum(&out[FIXED_SIZE..]);
    let mut fixed = [0u8; FIXED_SIZE];
    fixed[..4].copy_from_slice(&ARCHIVE_MAGIC);
    fixed[4] = ARCHIVE_VERSION;
    fixed[8..16].copy_from_slice(&(st.header.len() as u64).to_le_bytes());
    fixed[16..24].copy_from_slice(&(st.data.len() as u64).to_le_bytes());
    fixed[24..28].copy_from_slice(&(st.tensors.len() as u32).to_le_bytes());
    fixed[32..40].copy_from_slice(&body_sum.to_le_bytes());
    let fixed_sum = checksum(&fixed[..40]);
    fixed[40..48].copy_from_slice(&fixed_sum.to_le_bytes());
    out[..FIXED_SIZE].copy_from_slice(&fixed);
    for f in &frames {
        out.extend_from_slice(f);
    }
    Ok(out)
}

/// An opened archive: the header is validated; tensors are decoded on demand.
#[derive(Debug, Clone)]
pub struct Archive<'a> {
    header: &'a [u8],
    data_len: u64,
    tensors: Vec<TensorInfo>,
    /// Frame of each tensor (same order as `tensors`).
    frames: Vec<&'a [u8]>,
}

fn le64(b: &[u8], at: usize) -> u64 {
    let mut a = [0u8; 8];
    a.copy_from_slice(&b[at..at + 8]);
    u64::from_le_bytes(a)
}

impl<'a> Archive<'a> {
    /// Opens an archive from memory, validating its header, JSON and index.
    pub fn open(src: &'a [u8]) -> Result<Archive<'a>> {
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
        if src[5] != 0 {
            return Err(Error::UnsupportedFlags);
        }
        let json_len = le64(src, 8);
        let data_len = le64(src, 16);
        let count = u32::from_le_bytes([src[24], src[25], src[26], src[27]]) as u64;
        if src[6] != 0 || src[7] != 0 || src[28..32].iter().any(|&b| b != 0) {
            return Err(Error::Corrupt);
        }
        let body_end = (FIXED_SIZE as u64)
            .checked_add(json_len)
            .and_then(|x| x.checked_add(count.checked_mul(ENTRY_SIZE as u64)?))
            .ok_or(Error::Corrupt)?;
        if json_len > MAX_HEADER {
            return Err(Error::Corrupt);
        }
        if body_end > src.len() as u64 {
            return Err(Error::Truncated);
        }
        let body_end = body_end as usize;
        if checksum(&src[FIXED_SIZE..body_end]) != le64(src, 32) {
            return Err(Error::Checksum);
        }
        let header = &src[FIXED_SIZE..FIXED_SIZE + json_len as usize];
        let tensors = parse_header(header, data_len).map_err(|_| Error::Corrupt)?;
        if tensors.len() as u64 != count {
            return Err(Error::Corrupt);
        }
        let index = &src[FIXED_SIZE + json_len as usize..body_end];
        let mut frames = Vec::with_capacity(tensors.len());
        let mut at = body_end as u64;
        for (t, e) in tensors.iter().zip(index.chunks_exact(ENTRY_SIZE)) {
            if (le64(e, 0), le64(e, 8)) != t.data_offsets {
                return Err(Error::Corrupt);
            }
            let size = le64(e, 16);
            let end = at.checked_add(size).ok_or(Error::Corrupt)?;
            if end > src.len() as u64 {
                return Err(Error::Truncated);
            }
            frames.push(&src[at as usize..end as usize]);
            at = end;
        }
        if at != src.len() as u64 {
            return Err(Error::Corrupt);
        }
        Ok(Archive {
            header,
            data_len,
            tensors,
            frames,
        })
    }

    /// The original JSON header, verbatim.
    pub fn header_json(&self) -> &'a [u8] {
        self.header
    }

    /// Tensors in data order.
    pub fn tensors(&self) -> &[TensorInfo] {
        &self.tensors
    }

    fn find(&self, name: &str) -> Result<usize> {
        self.tensors
            .iter()
            .position(|t| t.name == name)
            .ok_or(Error::InvalidParam)
    }

    /// The compressed frame of tensor `name`.
    pub fn frame(&self, name: &str) -> Result<&'a [u8]> {
        Ok(self.frames[self.find(name)?])
    }

    /// Tensor `i`'s frame, parsed: a whole frame (nothing after it) that decodes to exactly
    /// the tensor's byte length (`Corrupt` otherwise). Its chunks are not checked yet.
    fn parsed_frame(&self, i: usize) -> Result<Frame<'a>> {
        let (b, e) = self.tensors[i].data_offsets;
        let f = crate::parse_whole(self.frames[i], &DecompressOptions::default())?;
        if f.header().original_size != e - b {
            return Err(Error::Corrupt);
        }
        Ok(f)
    }

    /// Decodes tensor `name` alone into `dst` (at least the tensor's byte length); returns
    /// the number of bytes written.
    pub fn tensor_into(&self, name: &str, dst: &mut [u8]) -> Result<usize> {
        let i = self.find(name)?;
        let (b, e) = self.tensors[i].data_offsets;
        let n = (e - b) as usize;
        if dst.len() < n {
            return Err(Error::DstTooSmall);
        }
        let f = self.parsed_frame(i)?;
        crate::engine::decode_frame(&f, &mut dst[..n], 0)?;
        Ok(n)
    }

    /// Decodes tensor `name` alone into a new vector (allocated once the frame's header
    /// and checksums have been checked).
    pub fn tensor(&self, name: &str) -> Result<Vec<u8>> {
        let i = self.find(name)?;
        let (b, e) = self.tensors[i].data_offsets;
        let n = usize::try_from(e - b).map_err(|_| Error::SrcTooLarge)?;
        crate::decode_new(&self.parsed_frame(i)?, n, 0)
    }

    /// Restores the original safetensors file, byte for byte. Every frame's header and
    /// checksums are checked before the file is allocated, so a damaged archive fails
    /// without allocating what it declares.
    pub fn restore(&self) -> Result<Vec<u8>> {
        let hl = self.header.len();
        let total = usize::try_from(self.data_len)
            .ok()
            .and_then(|d| d.checked_add(8 + hl))
            .ok_or(Error::SrcTooLarge)?;
        let frames = (0..self.frames.len())
            .map(|i| {
                let f = self.parsed_frame(i)?;
                crate::engine::verify_frame(&f)?;
                Ok(f)
            })
            .collect::<Result<Vec<_>>>()?;
        let mut out = crate::engine::zeroed_vec(total)?;
        out[..8].copy_from_slice(&(hl as u64).to_le_bytes());
        out[8..8 + hl].copy_from_slice(self.header);
        let data = &mut out[8 + hl..];
        for (t, f) in self.tensors.iter().zip(&frames) {
            let (b, e) = t.data_offsets;
            crate::engine::decode_verified_frame(f, &mut data[b as usize..e as usize], 0)?;
        }
        Ok(out)
    }
}

/// Decompresses an archive back into the original safetensors file.
pub fn decompress(src: &[u8]) -> Result<Vec<u8>> {
    Archive::open(src)?.restore()
}
