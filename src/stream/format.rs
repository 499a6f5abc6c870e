//! The stream's own structures (docs/FORMAT.md section 11): the stream header, the index
//! and the trailer, their writers and their readers. The frames between them are the
//! frame module's.

use crate::error::{Error, Result};
use crate::frame::{self, checksum, le32, le64, FIXED_HEADER_SIZE};

/// The first four bytes of every stream.
pub const STREAM_MAGIC: [u8; 4] = [0x89, b'Z', b'N', b'S'];
/// The first four bytes of a stream's index.
pub const INDEX_MAGIC: [u8; 4] = [0x89, b'Z', b'N', b'I'];
/// The last four bytes of every stream.
pub const END_MAGIC: [u8; 4] = [0x89, b'Z', b'N', b'E'];
/// The stream format version this library writes and reads.
pub const STREAM_VERSION: u8 = 1;
/// Size of the stream header.
pub const STREAM_HEADER_SIZE: usize = 16;
/// Size of the index's own header (magic and a reserved word).
pub const INDEX_HEADER_SIZE: usize = 8;
/// Size of one index entry (frame size and original size).
pub const INDEX_ENTRY_SIZE: usize = 16;
/// Size of the trailer at the end of the stream.
pub const TRAILER_SIZE: usize = 40;
/// Default block size: 8 MiB of input per frame.
pub const DEFAULT_BLOCK_SIZE: u32 = 8 << 20;
/// Smallest accepted block size.
pub const MIN_BLOCK_SIZE: u32 = 1024;
/// Largest accepted block size (256 MiB); decoders refuse streams above it, so that a
/// stream header cannot make a decoder allocate more.
pub const MAX_BLOCK_SIZE: u32 = 256 << 20;

pub(crate) fn check_block_size(block_size: u32) -> Result<()> {
    if (MIN_BLOCK_SIZE..=MAX_BLOCK_SIZE).contains(&block_size) {
        Ok(())
    } else {
        Err(Error::InvalidParam)
    }
}

/// The largest frame a valid stream can hold for a block of `len` bytes: a header with no
/// metadata and chunks of at least the smallest chunk size with 8 planes, plus payloads
/// no longer than the block.
pub(crate) fn max_frame_size(len: u64) -> u64 {
    let chunks = len.div_ceil(crate::MIN_CHUNK_SIZE as u64);
    let entry = frame::MAX_ENTRY_SIZE as u64;
    (FIXED_HEADER_SIZE + frame::BASE_HASH_SIZE + frame::HEADER_CHECKSUM_SIZE) as u64
        + chunks * entry
        + len
}

/// The stream header for `block_size`.
pub(crate) fn write_stream_header(block_size: u32) -> [u8; STREAM_HEADER_SIZE] {
    let mut h = [0u8; STREAM_HEADER_SIZE];
    h[0..4].copy_from_slice(&STREAM_MAGIC);
    h[4] = STREAM_VERSION;
    // 5: flags, 6..8: reserved, all zero
    h[8..12].copy_from_slice(&block_size.to_le_bytes());
    let sum = checksum(&h[..12]) as u32;
    h[12..16].copy_from_slice(&sum.to_le_bytes());
    h
}

/// Validates the stream header at the start of `src` (which may be shorter than a header:
/// then `Truncated` if it is a valid prefix) and returns the block size.
pub(crate) fn parse_stream_header(src: &[u8]) -> Result<u32> {
    let m = src.len().min(4);
    if src[..m] != STREAM_MAGIC[..m] {
        return Err(Error::BadMagic);
    }
    if src.len() < 5 {
        return Err(Error::Truncated);
    }
    if src[4] != STREAM_VERSION {
        return Err(Error::UnsupportedVersion);
    }
    if src.len() < STREAM_HEADER_SIZE {
        return Err(Error::Truncated);
    }
    if checksum(&src[..12]) as u32 != le32(src, 12) {
        return Err(Error::Checksum);
    }
    if src[5] != 0 {
        return Err(Error::UnsupportedFlags);
    }
    let block_size = le32(src, 8);
    if src[6] != 0 || src[7] != 0 || check_block_size(block_size).is_err() {
        return Err(Error::Corrupt);
    }
    Ok(block_size)
}

/// The fields of the trailer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Trailer {
    pub(crate) index_offset: u64,
    pub(crate) frame_count: u64,
    pub(crate) original_size: u64,
    pub(crate) index_checksum: u64,
}

pub(crate) fn write_trailer(t: &Trailer) -> [u8; TRAILER_SIZE] {
    let mut b = [0u8; TRAILER_SIZE];
    b[0..8].copy_from_slice(&t.index_offset.to_le_bytes());
    b[8..16].copy_from_slice(&t.frame_count.to_le_bytes());
    b[16..24].copy_from_slice(&t.original_size.to_le_bytes());
    b[24..32].copy_from_slice(&t.index_checksum.to_le_bytes());
    let sum = checksum(&b[..32]) as u32;
    b[32..36].copy_from_slice(&sum.to_le_bytes());
    b[36..40].copy_from_slice(&END_MAGIC);
    b
}

pub(crate) fn parse_trailer(b: &[u8]) -> Result<Trailer> {
    debug_assert_eq!(b.len(), TRAILER_SIZE);
    if b[36..40] != END_MAGIC {
        return Err(Error::BadMagic);
    }
    if checksum(&b[..32]) as u32 != le32(b, 32) {
        return Err(Error::Checksum);
    }
    Ok(Trailer {
        index_offset: le64(b, 0),
        frame_count: le64(b, 8),
        original_size: le64(b, 16),
        index_checksum: le64(b, 24),
    })
}

/// One index entry: the frame's length and the length of the block it decodes to.
pub(crate) type Entry = (u64, u64);

pub(crate) fn index_len(frames: u64) -> Option<u64> {
    frames
        .checked_mul(INDEX_ENTRY_SIZE as u64)?
        .checked_add(INDEX_HEADER_SIZE as u64)
}

/// The bytes that end a stream: the index of `entries` and the trailer, for frames that end
/// at `index_offset` and decode to `original_size` bytes in all.
pub(crate) fn write_tail(
    entries: &[Entry],
    index_offset: u64,
    original_size: u64,
) -> Result<Vec<u8>> {
    let mut tail = Vec::new();
    tail.try_reserve_exact(INDEX_HEADER_SIZE + INDEX_ENTRY_SIZE * entries.len() + TRAILER_SIZE)
        .map_err(|_| Error::Alloc)?;
    write_index(entries, &mut tail);
    let t = Trailer {
        index_offset,
        frame_count: entries.len() as u64,
        original_size,
        index_checksum: checksum(&tail),
    };
    tail.extend_from_slice(&write_trailer(&t));
    Ok(tail)
}

fn write_index(entries: &[Entry], out: &mut Vec<u8>) {
    out.extend_from_slice(&INDEX_MAGIC);
    out.extend_from_slice(&[0; 4]);
    for &(f, o) in entries {
        out.extend_from_slice(&f.to_le_bytes());
        out.extend_from_slice(&o.to_le_bytes());
    }
}

/// Validates an index against its trailer and the block size, and returns its entries.
/// The trailer has been checked; `index` is exactly the index's bytes.
pub(crate) fn parse_index(index: &[u8], t: &Trailer, block_size: u32) -> Result<Vec<Entry>> {
    if checksum(index) != t.index_checksum {
        return Err(Error::Checksum);
    }
    if index[0..4] != INDEX_MAGIC || le32(index, 4) != 0 {
        return Err(Error::Corrupt);
    }
    let bs = block_size as u64;
    let n = t.frame_count as usize; // the index holds `n` entries, so `n` fits
    let mut entries = Vec::with_capacity(n);
    let (mut frames, mut total) = (STREAM_HEADER_SIZE as u64, 0u64);
    for (i, e) in index[INDEX_HEADER_SIZE..]
        .chunks_exact(INDEX_ENTRY_SIZE)
        .enumerate()
    {
        let (f, o) = (le64(e, 0), le64(e, 8));
        let size_ok = if i + 1 < n {
            o == bs
        } else {
            o >= 1 && o <= bs
        };
        if !size_ok || f < frame::COMPACT_MIN_SIZE as u64 || f > max_frame_size(o) {
            return Err(Error::Corrupt);
        }
        frames += f; // at most n * (bs + overhead): no overflow
        total += o;
        entries.push((f, o));
    }
    if frames != t.index_offset || total != t.original_size {
        return Err(Error::Corrupt);
    }
    Ok(entries)
}

/// What a stream's header, index and trailer say.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StreamInfo {
    /// Stream format version.
    pub version: u8,
    /// Input bytes per frame (the last frame may hold fewer).
    pub block_size: u32,
    /// Number of frames.
    pub frame_count: u64,
    /// Length of the original data.
    pub original_size: u64,
    /// Length of the whole stream.
    pub stream_size: u64,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Options;

    #[test]
    fn header_and_trailer_round_trip() {
        let h = write_stream_header(DEFAULT_BLOCK_SIZE);
        assert_eq!(parse_stream_header(&h), Ok(DEFAULT_BLOCK_SIZE));
        for n in 0..STREAM_HEADER_SIZE {
            assert_eq!(parse_stream_header(&h[..n]), Err(Error::Truncated), "{n}");
        }
        let t = Trailer {
            index_offset: 123,
            frame_count: 4,
            original_size: 99,
            index_checksum: 7,
        };
        assert_eq!(parse_trailer(&write_trailer(&t)), Ok(t));
    }

    #[test]
    fn frame_bound_covers_the_encoder() {
        for len in [1usize, 1023, 1024, 5000, 1 << 20] {
            let opts = Options {
                chunk_size: crate::MIN_CHUNK_SIZE,
                ..Options::new(crate::DType::Fp64)
            };
            let b = crate::compress_bound(len, &opts).unwrap() as u64;
            assert!(b <= max_frame_size(len as u64), "{len}");
        }
    }
}
