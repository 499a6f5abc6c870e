//! One reference frame: the 32-byte header, the shape of torch and numpy frames, the
//! per-plane-chunk type table and sizes, and the payload (docs/REFERENCE-FORMAT.md).

use super::huff0;
use super::layout::{self, BitMove};
use crate::error::{Error, Result};
use crate::frame::le64;
use crate::options::DType;

/// The first two bytes of a reference frame.
pub const MAGIC: [u8; 2] = *b"ZN";
/// Length of the fixed header.
pub const HEADER_SIZE: usize = 32;
/// Largest chunk the decoder accepts (header byte 14 is its base-2 logarithm).
pub const MAX_CHUNK_LOG: u8 = 31;
/// Largest number of dimensions a shape may have.
pub const MAX_DIMS: usize = 64;
/// FP8 frames are cut into chunks of at most this many bytes, whatever byte 14 says.
const FP8_MAX_CHUNK: u64 = 128 << 10;

/// What the writer was handed (header byte 8).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InputKind {
    /// Bytes (`input_format='byte'`, also every file the reference scripts wrote).
    Byte,
    /// A torch tensor: the frame carries its shape.
    Torch,
    /// A numpy array: the frame carries its shape.
    Numpy,
}

/// Header byte 9: whether the data was XORed with a base before coding.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeltaKind {
    /// Not a delta.
    None,
    /// A delta made through the byte interface (byte 9 = 1).
    Byte,
    /// A delta made by the reference's file-delta script (byte 9 = 2).
    File,
}

/// The fields of a reference frame header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Header {
    /// The writer's version, bytes 2..5 (0.5.x).
    pub version: [u8; 3],
    /// Byte-grouping mode (byte 5): 10 for two planes, 220 for four.
    pub byte_mode: u8,
    /// Bit-move mode (byte 6).
    pub bit_mode: u8,
    /// The method label (byte 7): 0 auto, 1 huffman, 2 zstd, 3 lz4, 4 snappy; the payload
    /// is the same whatever it says.
    pub method: u8,
    /// What the writer was handed.
    pub kind: InputKind,
    /// Delta kind.
    pub delta: DeltaKind,
    /// For frames of a streamed sequence, the base-2 log of the streaming chunk (byte 13
    /// is 128 plus it); `None` for a frame on its own.
    pub streaming_log: Option<u8>,
    /// Base-2 log of the compression chunk as written (byte 14).
    pub chunk_log: u8,
    /// The reference's dtype code (byte 15): 1/2 float32, 4/5 float16, 6 bfloat16,
    /// 29 float8_e4m3fn, 30 float8_e5m2.
    pub dtype_code: u8,
    /// The element type in this library's terms.
    pub dtype: DType,
    /// Length of the decoded data (bytes 16..24).
    pub original_size: u64,
    /// Length of the frame (bytes 24..32).
    pub frame_size: u64,
}

impl Header {
    /// Bytes per element.
    pub fn element_size(&self) -> usize {
        self.dtype.element_size()
    }

    /// Planes per chunk.
    pub fn planes(&self) -> usize {
        match self.dtype {
            DType::Fp32 => 4,
            DType::Bf16 | DType::Fp16 => 2,
            _ => 1,
        }
    }

    /// Bytes per chunk actually used (FP8 chunks are capped at 128 KiB).
    pub fn chunk_size(&self) -> u64 {
        let c = 1u64 << self.chunk_log;
        match self.dtype {
            DType::Fp8E4M3 | DType::Fp8E5M2 => c.min(FP8_MAX_CHUNK),
            _ => c,
        }
    }

    /// Number of chunks.
    pub fn chunk_count(&self) -> u64 {
        self.original_size.div_ceil(self.chunk_size())
    }

    /// The largest frame these fields allow: header, the longest shape, the tables and
    /// at most the original length of payload (raw blocks are the plane's length, other
    /// blocks smaller). `None` if it does not fit in a `u64`.
    pub fn max_frame_size(&self) -> Option<u64> {
        let entries = self.chunk_count().checked_mul(self.planes() as u64)?;
        let shape = match self.kind {
            InputKind::Byte => 0,
            _ => 1 + 9 * MAX_DIMS as u64,
        };
        (HEADER_SIZE as u64 + shape)
            .checked_add(entries.checked_mul(9)?)?
            .checked_add(self.original_size)
    }

    fn bit_move(&self) -> BitMove {
        match self.dtype {
            DType::Bf16 => BitMove::Bf16,
            DType::Fp32 => BitMove::Fp32,
            _ => BitMove::None,
        }
    }
}

/// Reads and checks the 32-byte header at the start of `src`.
pub fn parse_header(src: &[u8]) -> Result<Header> {
    if src.len() < MAGIC.len() {
        return Err(if MAGIC.starts_with(src) {
            Error::Truncated
        } else {
            Error::BadMagic
        });
    }
    if src[..2] != MAGIC {
        return Err(Error::BadMagic);
    }
    if src.len() < HEADER_SIZE {
        return Err(Error::Truncated);
    }
    let h = &src[..HEADER_SIZE];
    if h[2] != 0 || h[3] != 5 {
        return Err(Error::UnsupportedVersion);
    }
    let dtype = match (h[15], h[5], h[6]) {
        (1 | 2, 220, 1) => DType::Fp32,
        (6, 10, 1) => DType::Bf16,
        (4 | 5, 10, 0) => DType::Fp16,
        // FP8: one plane and no bit move, although byte 6 says 1.
        (29, 10, _) => DType::Fp8E4M3,
        (30, 10, _) => DType::Fp8E5M2,
        _ => return Err(Error::UnsupportedDtype),
    };
    if h[7] > 4 {
        return Err(Error::UnsupportedMethod);
    }
    let kind = match h[8] {
        1 => InputKind::Byte,
        2 => InputKind::Torch,
        3 => InputKind::Numpy,
        _ => return Err(Error::UnsupportedFlags),
    };
    let delta = match h[9] {
        0 => DeltaKind::None,
        1 => DeltaKind::Byte,
        2 => DeltaKind::File,
        _ => return Err(Error::UnsupportedFlags),
    };
    // Bytes 10..13: the lossy mode, which the reference never writes.
    if h[10..13] != [0, 0, 0] {
        return Err(Error::UnsupportedFlags);
    }
    let streaming_log = match h[13] {
        0 => None,
        b if b >= 128 => Some(b - 128),
        _ => return Err(Error::UnsupportedFlags),
    };
    let chunk_log = h[14];
    if chunk_log > MAX_CHUNK_LOG {
        return Err(Error::Corrupt);
    }
    let original_size = le64(h, 16);
    let frame_size = le64(h, 24);
    if frame_size < HEADER_SIZE as u64 {
        return Err(Error::Corrupt);
    }
    Ok(Header {
        version: [h[2], h[3], h[4]],
        byte_mode: h[5],
        bit_mode: h[6],
        method: h[7],
        kind,
        delta,
        streaming_log,
        chunk_log,
        dtype_code: h[15],
        dtype,
        original_size,
        frame_size,
    })
}

/// Reads the shape that follows the header of a torch or numpy frame: a dimension count,
/// then per dimension a width (1, 2, 4 or 8) and the dimension in that many little-endian
/// bytes. Returns the dimensions and the bytes read.
fn parse_shape(src: &[u8]) -> Result<(Vec<u64>, usize)> {
    let ndim = *src.first().ok_or(Error::Truncated)? as usize;
    if ndim > MAX_DIMS {
        return Err(Error::Corrupt);
    }
    let mut dims = Vec::with_capacity(ndim);
    let mut at = 1;
    for _ in 0..ndim {
        let width = *src.get(at).ok_or(Error::Truncated)? as usize;
        if !matches!(width, 1 | 2 | 4 | 8) {
            return Err(Error::Corrupt);
        }
        let b = src.get(at + 1..at + 1 + width).ok_or(Error::Truncated)?;
        let mut a = [0u8; 8];
        a[..width].copy_from_slice(b);
        dims.push(u64::from_le_bytes(a));
        at += 1 + width;
    }
    Ok((dims, at))
}

/// A parsed reference frame whose header, shape and tables were checked; its Huffman
/// blocks are checked as they are decoded.
#[derive(Debug, Clone)]
pub struct Frame<'a> {
    header: Header,
    shape: Option<Vec<u64>>,
    /// One type byte per plane-chunk, plane-major.
    types: &'a [u8],
    /// Per plane, cumulative end offsets (u64 LE) of its chunks' blocks, plane-major.
    sizes: &'a [u8],
    /// Offset of each plane's blocks in `payload`, plus the end.
    plane_starts: Vec<u64>,
    payload: &'a [u8],
}

impl<'a> Frame<'a> {
    /// Parses the frame at the start of `src` (bytes after it are not looked at).
    pub fn parse(src: &'a [u8]) -> Result<Frame<'a>> {
        let header = parse_header(src)?;
        if !matches!(header.max_frame_size(), Some(m) if header.frame_size <= m) {
            return Err(Error::Corrupt);
        }
        if header.frame_size > src.len() as u64 {
            return Err(Error::Truncated);
        }
        let frame = &src[..header.frame_size as usize];
        let mut at = HEADER_SIZE;
        let shape = match header.kind {
            InputKind::Byte => None,
            InputKind::Torch | InputKind::Numpy => {
                let (dims, used) = parse_shape(&frame[at..]).map_err(|e| match e {
                    // The frame's own length says where it ends: running out is damage.
                    Error::Truncated => Error::Corrupt,
                    e => e,
                })?;
                at += used;
                let elements = dims
                    .iter()
                    .try_fold(1u64, |acc, &d| acc.checked_mul(d))
                    .ok_or(Error::Corrupt)?;
                if elements.checked_mul(header.element_size() as u64) != Some(header.original_size)
                {
                    return Err(Error::Corrupt);
                }
                Some(dims)
            }
        };
        let planes = header.planes() as u64;
        let entries = header
            .chunk_count()
            .checked_mul(planes)
            .ok_or(Error::Corrupt)?;
        // Nine table bytes per plane-chunk must fit in the frame: this bounds the chunk
        // count by the frame's length before anything is allocated.
        let room = (frame.len() - at) as u64;
        if entries > room / 9 {
            return Err(Error::Corrupt);
        }
        let entries = entries as usize;
        let types = &frame[at..at + entries];
        at += entries;
        let sizes = &frame[at..at + 8 * entries];
        at += 8 * entries;
        let payload = &frame[at..];
        let chunks = header.chunk_count() as usize;
        let mut plane_starts = Vec::with_capacity(planes as usize + 1);
        let mut start = 0u64;
        plane_starts.push(0);
        for p in 0..planes as usize {
            let mut prev = 0u64;
            for c in 0..chunks {
                let end = le64(sizes, 8 * (p * chunks + c));
                if end < prev {
                    return Err(Error::Corrupt);
                }
                let size = end - prev;
                let want =
                    layout::plane_len(chunk_len(&header, c as u64), planes as usize, p) as u64;
                let ok = match types[p * chunks + c] {
                    0 => size == want,
                    // A one-byte block is a run of that byte; a Huffman block is kept
                    // only when it is smaller than the plane.
                    1 if size == 1 => want > 0,
                    1 => size >= 2 && size < want,
                    _ => false,
                };
                if !ok {
                    return Err(Error::Corrupt);
                }
                prev = end;
            }
            start = start.checked_add(prev).ok_or(Error::Corrupt)?;
            plane_starts.push(start);
        }
        if start != payload.len() as u64 {
            return Err(Error::Corrupt);
        }
        Ok(Frame {
            header,
            shape,
            types,
            sizes,
            plane_starts,
            payload,
        })
    }

    /// The header.
    pub fn header(&self) -> &Header {
        &self.header
    }

    /// The tensor's shape, for torch and numpy frames.
    pub fn shape(&self) -> Option<&[u64]> {
        self.shape.as_deref()
    }

    /// Number of chunks.
    pub fn chunk_count(&self) -> usize {
        self.types.len() / self.header.planes()
    }

    /// Length of the frame.
    pub fn frame_size(&self) -> u64 {
        self.header.frame_size
    }

    /// Counts of raw, Huffman and run blocks.
    pub fn block_counts(&self) -> [u64; 3] {
        let chunks = self.chunk_count();
        let mut n = [0u64; 3];
        for (i, &t) in self.types.iter().enumerate() {
            let (p, c) = (i / chunks.max(1), i % chunks.max(1));
            let (start, end) = self.block_bounds(p, c);
            match (t, end - start) {
                (0, _) => n[0] += 1,
                (_, 1) => n[2] += 1,
                _ => n[1] += 1,
            }
        }
        n
    }

    /// Offsets in the payload of the block of plane `p`, chunk `c`.
    fn block_bounds(&self, p: usize, c: usize) -> (usize, usize) {
        let chunks = self.chunk_count();
        let at = |i: usize| le64(self.sizes, 8 * i);
        let base = self.plane_starts[p];
        let start = if c == 0 { 0 } else { at(p * chunks + c - 1) };
        let end = at(p * chunks + c);
        ((base + start) as usize, (base + end) as usize)
    }

    /// Decodes chunk `c` into `dst` (exactly the chunk's length); `scratch` holds at least
    /// the chunk's length.
    pub fn decode_chunk(&self, c: usize, dst: &mut [u8], scratch: &mut [u8]) -> Result<()> {
        let h = &self.header;
        let planes = h.planes();
        let chunks = self.chunk_count();
        let len = dst.len();
        let mut views: [&[u8]; 4] = [&[]; 4];
        let mut rest: &mut [u8] = &mut scratch[..len];
        for (p, view) in views.iter_mut().enumerate().take(planes) {
            let want = layout::plane_len(len, planes, p);
            let (start, end) = self.block_bounds(p, c);
            let block = &self.payload[start..end];
            let (slot, r) = std::mem::take(&mut rest).split_at_mut(want);
            rest = r;
            match self.types[p * chunks + c] {
                0 => *view = block,
                _ if block.len() == 1 => {
                    slot.fill(block[0]);
                    *view = slot;
                }
                _ => {
                    huff0::decode_block(block, slot)?;
                    *view = slot;
                }
            }
        }
        layout::merge(&views[..planes], h.bit_move(), dst);
        Ok(())
    }
}

/// Input bytes of chunk `c`.
pub fn chunk_len(h: &Header, c: u64) -> usize {
    let cs = h.chunk_size();
    (h.original_size - c * cs).min(cs) as usize
}
