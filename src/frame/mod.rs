//! The frame format: header, chunk table, checksums. docs/FORMAT.md describes every byte;
//! this module mirrors it section by section, and is the only code that reads or writes
//! them. It writes format version 2 and reads versions 1 and 2 (version 1 has no layout
//! byte in its chunk table entries: every chunk has layout 0).

pub mod compact;
mod hash;

use std::borrow::Cow;

pub use compact::{COMPACT_CHUNK_SIZE, COMPACT_MAX_BODY, COMPACT_MIN_SIZE, FLAG_COMPACT};

use crate::codec::Codec;
use crate::error::{Error, Result};
use crate::options::{DType, Lossy, MAX_CHUNK_SIZE, MAX_METADATA_SIZE, MIN_CHUNK_SIZE};
use crate::transform::Layout;

/// The first four bytes of every frame.
pub const MAGIC: [u8; 4] = [0x89, b'Z', b'N', b'N'];
/// The format version this library writes.
pub const VERSION: u8 = 2;
/// The oldest format version this library reads (it reads every version up to [`VERSION`]).
pub const MIN_VERSION: u8 = 1;
/// Size of the fixed part of the header.
pub const FIXED_HEADER_SIZE: usize = 40;
/// Size of the header checksum that ends the header.
pub const HEADER_CHECKSUM_SIZE: usize = 8;
/// Flag bit 0: a metadata block follows the fixed header.
pub const FLAG_METADATA: u8 = 0x01;
/// Flag bit 1: the frame codes `input XOR base`; the base's hash follows the fixed header.
pub const FLAG_DELTA: u8 = 0x02;
/// Flag bit 2: a lossy step was applied (header bytes 12-13 say which).
pub const FLAG_LOSSY: u8 = 0x04;
/// Every flag of an ordinary frame (flag bit 3, [`FLAG_COMPACT`], makes a compact frame,
/// section 3.4, and is alone there).
pub const KNOWN_FLAGS: u8 = FLAG_METADATA | FLAG_DELTA | FLAG_LOSSY;
/// Size of the base hash that follows the fixed header of a delta frame.
pub const BASE_HASH_SIZE: usize = 8;
/// Bytes per plane entry in the chunk table: codec (1) + coded size (4).
pub const PLANE_ENTRY_SIZE: usize = 5;
/// Bytes of the chunk checksum that starts each chunk entry.
pub const CHUNK_CHECKSUM_SIZE: usize = 8;
/// Bytes of the layout that follows the chunk checksum (format version 2 on).
pub const LAYOUT_SIZE: usize = 1;
/// The largest chunk table entry of any version: checksum, layout, 8 planes.
pub const MAX_ENTRY_SIZE: usize = CHUNK_CHECKSUM_SIZE + LAYOUT_SIZE + 8 * PLANE_ENTRY_SIZE;

/// The fields of the fixed header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Header {
    /// Format version (1 or 2).
    pub version: u8,
    /// Flags byte.
    pub flags: u8,
    /// Element type.
    pub dtype: DType,
    /// Planes per chunk (= bytes per element).
    pub planes: usize,
    /// Input bytes per chunk (the last chunk may be shorter).
    pub chunk_size: usize,
    /// Length of the original input.
    pub original_size: u64,
    /// Number of trailing input bytes that do not form a whole element.
    pub tail_len: usize,
    /// Those bytes, zero-padded.
    pub tail: [u8; 7],
    /// Length of the metadata block.
    pub metadata_size: usize,
    /// The lossy step applied before coding (flag bit 2, bytes 12-13).
    pub lossy: Lossy,
    /// For a delta frame (flag bit 1): XXH3-64 of the base the input was XORed with.
    pub base_hash: Option<u64>,
}

impl Header {
    /// Offset of the metadata block (after the fixed header and any base hash).
    pub fn metadata_offset(&self) -> usize {
        FIXED_HEADER_SIZE
            + if self.base_hash.is_some() {
                BASE_HASH_SIZE
            } else {
                0
            }
    }

    /// The flags byte these fields imply.
    pub fn implied_flags(&self) -> u8 {
        let mut f = 0;
        if self.metadata_size > 0 {
            f |= FLAG_METADATA;
        }
        if self.base_hash.is_some() {
            f |= FLAG_DELTA;
        }
        if self.lossy != Lossy::None {
            f |= FLAG_LOSSY;
        }
        f
    }

    /// Whether the frame is compact (flag bit 3, docs/FORMAT.md 3.4).
    pub fn is_compact(&self) -> bool {
        self.flags & FLAG_COMPACT != 0
    }

    /// Bytes of input that form whole elements (everything but the tail).
    pub fn body_size(&self) -> u64 {
        self.original_size - self.tail_len as u64
    }

    /// Number of chunks.
    pub fn chunk_count(&self) -> u64 {
        self.body_size().div_ceil(self.chunk_size as u64)
    }

    /// Bytes of one chunk table entry.
    pub fn entry_size(&self) -> usize {
        self.planes_at() + PLANE_ENTRY_SIZE * self.planes
    }

    /// Offset of the first plane entry within a chunk table entry (after the checksum and,
    /// from version 2 on, the layout).
    fn planes_at(&self) -> usize {
        CHUNK_CHECKSUM_SIZE + if self.version >= 2 { LAYOUT_SIZE } else { 0 }
    }

    /// Input bytes covered by chunk `i` (whole elements only).
    pub fn chunk_len(&self, i: u64) -> usize {
        let start = i * self.chunk_size as u64;
        (self.body_size() - start).min(self.chunk_size as u64) as usize
    }

    /// Total header length (fixed part, metadata, chunk table, header checksum), if it fits
    /// in a `u64`: the ordinary frame's (a compact frame's header depends on its payloads).
    pub fn header_size(&self) -> Option<u64> {
        let table = self.chunk_count().checked_mul(self.entry_size() as u64)?;
        (self.metadata_offset() as u64 + self.metadata_size as u64 + HEADER_CHECKSUM_SIZE as u64)
            .checked_add(table)
    }

    /// Writes the fixed header (see [`Header::write`] for the whole header).
    pub fn write_fixed(&self, out: &mut [u8; FIXED_HEADER_SIZE]) {
        out.fill(0);
        out[0..4].copy_from_slice(&MAGIC);
        out[4] = self.version;
        out[5] = self.flags;
        out[6] = self.dtype.code();
        out[7] = self.planes as u8;
        out[8..12].copy_from_slice(&(self.chunk_size as u32).to_le_bytes());
        out[12] = self.lossy.code();
        out[13] = self.lossy.param();
        // 14..16 reserved, zero
        out[16..24].copy_from_slice(&self.original_size.to_le_bytes());
        out[24] = self.tail_len as u8;
        out[25..32].copy_from_slice(&self.tail);
        out[32..36].copy_from_slice(&(self.metadata_size as u32).to_le_bytes());
        let sum = fixed_checksum(&out[..FIXED_CHECKSUM_AT]);
        out[FIXED_CHECKSUM_AT..].copy_from_slice(&sum.to_le_bytes());
    }
}

/// Whether `size` coded bytes can hold a plane of `n` bytes with `codec` (section 4): raw
/// exactly `n`, a run one byte, any other codec at least one byte and fewer than `n`.
fn coded_size_fits(codec: Codec, size: usize, n: usize) -> bool {
    match codec {
        Codec::Raw => size == n,
        Codec::Run => size == 1,
        _ => size >= 1 && size < n,
    }
}

/// The little-endian `u32` at `b[at..at + 4]` (every zipnn format is little-endian).
pub fn le32(b: &[u8], at: usize) -> u32 {
    let mut a = [0u8; 4];
    a.copy_from_slice(&b[at..at + 4]);
    u32::from_le_bytes(a)
}

/// The little-endian `u64` at `b[at..at + 8]`.
pub fn le64(b: &[u8], at: usize) -> u64 {
    let mut a = [0u8; 8];
    a.copy_from_slice(&b[at..at + 8]);
    u64::from_le_bytes(a)
}

/// Checksum of a byte range: XXH3-64 with seed 0.
pub fn checksum(bytes: &[u8]) -> u64 {
    hash::xxh3_64(bytes)
}

/// [`checksum`] of the concatenation of `parts`.
pub fn checksum_parts(parts: &[&[u8]]) -> u64 {
    hash::xxh3_64_parts(parts)
}

/// [`checksum_parts`], also copying the parts that have a destination there, around the
/// caches, as they are hashed (see [`hash::xxh3_64_parts_copying`]).
pub fn checksum_parts_copying(parts: &[&[u8]], copies: &mut [Option<&mut [u8]>]) -> u64 {
    hash::xxh3_64_parts_copying(parts, copies)
}

/// Offset of the fixed header's own checksum (its last four bytes).
pub const FIXED_CHECKSUM_AT: usize = 36;

/// The fixed header's checksum: the low 32 bits of XXH3-64 of its first 36 bytes. It lets
/// a decoder trust the sizes it reads there (and so tell a damaged size from a truncated
/// input) before the whole header is available.
pub fn fixed_checksum(fixed: &[u8]) -> u32 {
    checksum(fixed) as u32
}

/// A parsed, validated frame: the header and chunk table are checked (header checksum,
/// codecs, sizes); chunk payloads are checked when decoded.
#[derive(Debug, Clone)]
pub struct Frame<'a> {
    header: Header,
    metadata: &'a [u8],
    /// The chunk table; a compact frame's, rebuilt in the ordinary form.
    table: Cow<'a, [u8]>,
    /// Payload bytes of all chunks, one after another (a compact frame's zstd payloads with
    /// their magic number back).
    payload: Cow<'a, [u8]>,
    /// The codec of a compact frame's joined chunk (its planes concatenated, coded as one).
    joined: Option<Codec>,
    /// Offset of each chunk's payload within `payload`, plus the end (len = chunks + 1).
    offsets: Vec<u64>,
    frame_size: u64,
}

/// Plane codec and coded size from a chunk table entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PlaneEntry {
    /// Codec of this plane-chunk.
    pub codec: Codec,
    /// Coded size in bytes.
    pub size: u32,
}

/// Whether the frame at the start of `src` (magic and version checked) is compact: flag
/// bit 3 (docs/FORMAT.md 3.4), read before the fixed header's length and checksum, which
/// a compact frame does not have. `Truncated` below 6 bytes.
fn is_compact(src: &[u8]) -> Result<bool> {
    if src.len() < 6 {
        return Err(Error::Truncated);
    }
    compact::is_compact(src)
}

/// What a prefix of a frame (magic and version checked) tells of the frame's length: the
/// whole length of a compact frame, or how many bytes are needed to tell; `None` for an
/// ordinary frame, whose fixed header says how long its header is.
pub fn measure_compact(prefix: &[u8]) -> Result<Option<compact::Measured>> {
    if prefix.len() < 6 {
        return Ok(Some(compact::Measured::Need(6)));
    }
    if !compact::is_compact(prefix)? {
        return Ok(None);
    }
    compact::measure(prefix).map(Some)
}

/// Reads and validates the fixed header only (no checksum: that needs the whole header).
/// For a compact frame (section 3.4), its fields up to its tail, in the same form, checked
/// for everything but its checksum (which covers the whole frame).
pub fn parse_fixed(src: &[u8]) -> Result<Header> {
    if src.len() < MAGIC.len() {
        return Err(if MAGIC.starts_with(src) {
            Error::Truncated
        } else {
            Error::BadMagic
        });
    }
    if src[0..4] != MAGIC {
        return Err(Error::BadMagic);
    }
    if src.len() < 5 {
        return Err(Error::Truncated);
    }
    let version = src[4];
    if !(MIN_VERSION..=VERSION).contains(&version) {
        return Err(Error::UnsupportedVersion);
    }
    if is_compact(src)? {
        return compact::parse_head(src);
    }
    if src.len() < FIXED_HEADER_SIZE {
        return Err(Error::Truncated);
    }
    if fixed_checksum(&src[..FIXED_CHECKSUM_AT]) != le32(src, FIXED_CHECKSUM_AT) {
        return Err(Error::Checksum);
    }
    let flags = src[5];
    if flags & !KNOWN_FLAGS != 0 {
        return Err(Error::UnsupportedFlags);
    }
    let dtype = DType::from_code(src[6] as u32)?;
    let planes = src[7] as usize;
    let planes_ok = match dtype {
        DType::Raw => matches!(planes, 1 | 2 | 4 | 8),
        d => planes == d.element_size(),
    };
    let chunk_size = le32(src, 8);
    let original_size = le64(src, 16);
    let tail_len = src[24] as usize;
    let metadata_size = le32(src, 32) as usize;
    let mut tail = [0u8; 7];
    tail.copy_from_slice(&src[25..32]);
    let lossy = Lossy::from_code(src[12], src[13], dtype);
    let ok = planes_ok
        && (MIN_CHUNK_SIZE..=MAX_CHUNK_SIZE).contains(&chunk_size)
        && chunk_size as usize % planes == 0
        && src[14] == 0
        && src[15] == 0
        && lossy.is_ok()
        && ((flags & FLAG_LOSSY != 0) == (src[12] != 0))
        && tail_len as u64 == original_size % planes.max(1) as u64
        && tail[tail_len..].iter().all(|&b| b == 0)
        && metadata_size <= MAX_METADATA_SIZE
        && ((flags & FLAG_METADATA != 0) == (metadata_size > 0));
    if !ok {
        return Err(Error::Corrupt);
    }
    let base_hash = if flags & FLAG_DELTA != 0 {
        if src.len() < FIXED_HEADER_SIZE + BASE_HASH_SIZE {
            return Err(Error::Truncated);
        }
        Some(le64(src, FIXED_HEADER_SIZE))
    } else {
        None
    };
    Ok(Header {
        version,
        flags,
        dtype,
        planes,
        chunk_size: chunk_size as usize,
        original_size,
        tail_len,
        tail,
        metadata_size,
        lossy: lossy.unwrap_or_default(),
        base_hash,
    })
}

/// Everything before the payloads of a frame, checked: the fixed header, the header
/// checksum and every chunk table entry.
#[derive(Debug, Clone)]
pub struct HeaderInfo {
    /// The fixed header's fields.
    pub header: Header,
    /// Length of the whole header (fixed part, base hash, metadata, chunk table, checksum).
    pub header_size: usize,
    /// Offset of each chunk's payload after the header, plus the end (chunks + 1 entries):
    /// the last is the length of all payloads together.
    pub offsets: Vec<u64>,
}

impl HeaderInfo {
    /// Length of the whole frame: the header and every chunk payload.
    pub fn frame_size(&self) -> u64 {
        self.header_size as u64 + self.offsets.last().copied().unwrap_or(0)
    }
}

/// Reads and checks the whole header at the start of `src` (which must hold all of it,
/// else `Truncated`): the fixed header, the header checksum, and each chunk table entry's
/// codec and coded size. The payloads are not looked at.
pub fn parse_header(src: &[u8]) -> Result<HeaderInfo> {
    let header = parse_fixed(src)?;
    if header.is_compact() {
        // Parsed and checked whole (its checksum covers it all): all header, no offsets.
        let p = compact::parse(src)?;
        return Ok(HeaderInfo {
            header: p.header,
            header_size: p.frame_size,
            offsets: vec![0],
        });
    }
    let header_size = header.header_size().ok_or(Error::Corrupt)?;
    if header_size > src.len() as u64 {
        return Err(Error::Truncated);
    }
    let header_size = header_size as usize;
    let sum_at = header_size - HEADER_CHECKSUM_SIZE;
    if checksum(&src[..sum_at]) != le64(src, sum_at) {
        return Err(Error::Checksum);
    }
    let table = &src[header.metadata_offset() + header.metadata_size..sum_at];
    let chunks = header.chunk_count() as usize; // the table fits in src, so this fits
    let mut offsets = Vec::with_capacity(chunks + 1);
    let mut total = 0u64;
    offsets.push(0);
    let planes_at = header.planes_at();
    for (i, entry) in table.chunks_exact(header.entry_size()).enumerate() {
        if planes_at > CHUNK_CHECKSUM_SIZE {
            Layout::from_code(entry[CHUNK_CHECKSUM_SIZE], header.dtype)?;
        }
        let plane_len = header.chunk_len(i as u64) / header.planes;
        for p in entry[planes_at..].chunks_exact(PLANE_ENTRY_SIZE) {
            let codec = Codec::from_code(p[0])?;
            if codec.min_version() > header.version {
                return Err(Error::UnsupportedCodec);
            }
            let size = le32(p, 1) as usize;
            if !coded_size_fits(codec, size, plane_len) {
                return Err(Error::Corrupt);
            }
            total += size as u64;
        }
        offsets.push(total);
    }
    Ok(HeaderInfo {
        header,
        header_size,
        offsets,
    })
}

/// One chunk's entry in the chunk table, as the encoder fills it in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ChunkEntry {
    /// XXH3-64 of the chunk's payload (all its planes).
    pub checksum: u64,
    /// How the chunk's elements were cut into planes.
    pub layout: Layout,
    /// Codec and coded size of each plane (the first `planes` are used).
    pub planes: [PlaneEntry; 8],
}

impl Default for ChunkEntry {
    fn default() -> Self {
        let raw = PlaneEntry {
            codec: Codec::Raw,
            size: 0,
        };
        ChunkEntry {
            checksum: 0,
            layout: Layout::Dtype,
            planes: [raw; 8],
        }
    }
}

impl Header {
    /// Writes the whole header into `out`, which must be exactly [`Header::header_size`]
    /// bytes: the fixed header, the base hash of a delta frame, `metadata`, one table entry
    /// per chunk (`chunks`, in order) and the header checksum.
    pub fn write(
        &self,
        metadata: &[u8],
        chunks: impl IntoIterator<Item = ChunkEntry>,
        out: &mut [u8],
    ) {
        debug_assert_eq!(metadata.len(), self.metadata_size);
        debug_assert_eq!(Some(out.len() as u64), self.header_size());
        let mut fixed = [0u8; FIXED_HEADER_SIZE];
        self.write_fixed(&mut fixed);
        out[..FIXED_HEADER_SIZE].copy_from_slice(&fixed);
        let mut w = FIXED_HEADER_SIZE;
        if let Some(hash) = self.base_hash {
            out[w..w + BASE_HASH_SIZE].copy_from_slice(&hash.to_le_bytes());
            w += BASE_HASH_SIZE;
        }
        out[w..w + metadata.len()].copy_from_slice(metadata);
        w += metadata.len();
        for c in chunks {
            out[w..w + CHUNK_CHECKSUM_SIZE].copy_from_slice(&c.checksum.to_le_bytes());
            w += CHUNK_CHECKSUM_SIZE;
            if self.version >= 2 {
                out[w] = c.layout as u8;
                w += LAYOUT_SIZE;
            } else {
                debug_assert_eq!(c.layout, Layout::Dtype);
            }
            for p in &c.planes[..self.planes] {
                out[w] = p.codec as u8;
                out[w + 1..w + PLANE_ENTRY_SIZE].copy_from_slice(&p.size.to_le_bytes());
                w += PLANE_ENTRY_SIZE;
            }
        }
        debug_assert_eq!(w + HEADER_CHECKSUM_SIZE, out.len());
        let sum = checksum(&out[..w]);
        out[w..w + HEADER_CHECKSUM_SIZE].copy_from_slice(&sum.to_le_bytes());
    }
}

impl<'a> Frame<'a> {
    /// Parses the frame at the start of `src`. Bytes after the frame are not looked at;
    /// [`Frame::frame_size`] says where it ends.
    pub fn parse(src: &'a [u8]) -> Result<Frame<'a>> {
        if parse_fixed(src)?.is_compact() {
            return Frame::compact(src);
        }
        let HeaderInfo {
            header,
            header_size,
            offsets,
        } = parse_header(src)?;
        let frame_size = header_size as u64 + offsets.last().copied().unwrap_or(0);
        if frame_size > src.len() as u64 {
            return Err(Error::Truncated);
        }
        let meta_at = header.metadata_offset();
        let meta_end = meta_at + header.metadata_size;
        Ok(Frame {
            header,
            metadata: &src[meta_at..meta_end],
            table: Cow::Borrowed(&src[meta_end..header_size - HEADER_CHECKSUM_SIZE]),
            payload: Cow::Borrowed(&src[header_size..frame_size as usize]),
            joined: None,
            offsets,
            frame_size,
        })
    }

    /// A compact frame (section 3.4), parsed and checked whole, in the shape of an ordinary
    /// one.
    fn compact(src: &'a [u8]) -> Result<Frame<'a>> {
        let p = compact::parse(src)?;
        let mut offsets = vec![0];
        if !p.table.is_empty() {
            offsets.push(p.payload.len() as u64);
        }
        Ok(Frame {
            header: p.header,
            metadata: &[],
            table: Cow::Owned(p.table),
            payload: p.payload,
            joined: p.joined,
            offsets,
            frame_size: p.frame_size as u64,
        })
    }

    /// Whether the frame is compact (section 3.4): its checksum, which covers every byte,
    /// was checked by [`Frame::parse`], and its chunk has no checksum of its own.
    pub fn is_compact(&self) -> bool {
        self.header.is_compact()
    }

    /// The codec of a compact frame whose chunk's planes are concatenated and coded as one
    /// (then [`Frame::planes`] gives that codec and size as plane 0's, and empty raw planes
    /// after it).
    pub fn joined(&self) -> Option<Codec> {
        self.joined
    }

    /// The fixed header's fields.
    pub fn header(&self) -> &Header {
        &self.header
    }

    /// The caller's metadata block (empty if none).
    pub fn metadata(&self) -> &'a [u8] {
        self.metadata
    }

    /// Number of chunks.
    pub fn chunk_count(&self) -> usize {
        self.offsets.len() - 1
    }

    /// Length of the whole frame in bytes.
    pub fn frame_size(&self) -> u64 {
        self.frame_size
    }

    /// The stored checksum of chunk `i`.
    pub fn chunk_checksum(&self, i: usize) -> u64 {
        le64(&self.table, i * self.header.entry_size())
    }

    /// The layout of chunk `i` (always [`Layout::Dtype`] in a version 1 frame).
    pub fn layout(&self, i: usize) -> Layout {
        let h = &self.header;
        if h.version < 2 {
            return Layout::Dtype;
        }
        let code = self.table[i * h.entry_size() + CHUNK_CHECKSUM_SIZE];
        // Validated in parse_header().
        Layout::from_code(code, h.dtype).unwrap_or(Layout::Dtype)
    }

    /// Plane entries of chunk `i`.
    pub fn planes(&self, i: usize) -> impl Iterator<Item = PlaneEntry> + '_ {
        let at = i * self.header.entry_size() + self.header.planes_at();
        self.table[at..at + PLANE_ENTRY_SIZE * self.header.planes]
            .chunks_exact(PLANE_ENTRY_SIZE)
            .map(|p| PlaneEntry {
                // Validated in parse().
                codec: Codec::from_code(p[0]).unwrap_or(Codec::Raw),
                size: le32(p, 1),
            })
    }

    /// The coded bytes of chunk `i` (all its planes, one after another).
    pub fn chunk_payload(&self, i: usize) -> &[u8] {
        &self.payload[self.offsets[i] as usize..self.offsets[i + 1] as usize]
    }

    /// Bytes chunk `i`'s coded planes take in the frame as stored. That is
    /// `chunk_payload(i).len()`, except in a compact frame, whose zstd payloads are stored
    /// without the zstd magic number that [`Frame::planes`] and [`Frame::chunk_payload`]
    /// count (docs/FORMAT.md 3.4).
    pub fn chunk_stored_size(&self, i: usize) -> u64 {
        let len = self.chunk_payload(i).len() as u64;
        if !self.header.is_compact() {
            return len;
        }
        let zstd = self.planes(i).filter(|p| p.codec == Codec::Zstd).count();
        len - (zstd * compact::ZSTD_MAGIC.len()) as u64
    }

    /// Byte range of the original input that chunk `i` decodes to.
    pub fn chunk_range(&self, i: usize) -> std::ops::Range<u64> {
        let start = i as u64 * self.header.chunk_size as u64;
        start..start + self.header.chunk_len(i as u64) as u64
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn checksum_is_xxh3_64_as_documented() {
        // docs/FORMAT.md section 4 gives this test vector.
        assert_eq!(checksum(b""), 0x2D06_8005_38D3_94C2);
    }

    #[test]
    fn short_inputs_are_truncated_or_bad_magic() {
        assert_eq!(parse_fixed(&[]).unwrap_err(), Error::Truncated);
        assert_eq!(parse_fixed(&MAGIC[..2]).unwrap_err(), Error::Truncated);
        assert_eq!(parse_fixed(b"PK").unwrap_err(), Error::BadMagic);
        assert_eq!(parse_fixed(b"PK\x03\x04....").unwrap_err(), Error::BadMagic);
        let mut v = MAGIC.to_vec();
        for bad in [0, VERSION + 1, 0xFF] {
            v.truncate(4);
            v.push(bad);
            assert_eq!(parse_fixed(&v).unwrap_err(), Error::UnsupportedVersion);
        }
        for good in MIN_VERSION..=VERSION {
            v[4] = good;
            assert_eq!(parse_fixed(&v).unwrap_err(), Error::Truncated);
        }
    }
}
