//! Reading what the reference package (PyPI `zipnn` 0.5.x) wrote: its frames, the
//! concatenated frames of its streaming mode, and so its `.znn` files, its compressed
//! safetensors tensors and its delta frames. docs/REFERENCE-FORMAT.md describes the
//! format as this module reads it.
//!
//! A reference frame has no checksum: damage is found only where it breaks the format's
//! structure (sizes, Huffman tables, bitstream ends), so a flipped payload bit may decode
//! to different bytes. Nothing here panics, reads out of bounds or allocates more than the
//! frame declares (callers bound that with [`DecompressOptions::max_size`]).
//!
//! ```
//! // A 0.5.4 frame of the bf16 values 1.0, -1.0, 2.0, 0.0, 0.5 (both planes stored raw).
//! let frame = [
//!     0x5a, 0x4e, 0, 5, 4, 10, 1, 0, 1, 0, 0, 0, 0, 0, 18, 6, 10, 0, 0, 0, 0, 0, 0, 0,
//!     60, 0, 0, 0, 0, 0, 0, 0, 0, 0, 5, 0, 0, 0, 0, 0, 0, 0, 5, 0, 0, 0, 0, 0, 0, 0,
//!     0x00, 0x80, 0x00, 0x00, 0x00, 0x7f, 0x7f, 0x80, 0x00, 0x3f,
//! ];
//! assert!(zipnn::refformat::is_reference(&frame));
//! let data = zipnn::refformat::decompress(&frame, &Default::default()).unwrap();
//! assert_eq!(data, [0x80, 0x3f, 0x80, 0xbf, 0x00, 0x40, 0x00, 0x00, 0x00, 0x3f]);
//! ```

mod bits;
mod frame;
mod fse;
mod huff0;
mod layout;

pub use frame::{
    chunk_len, parse_header, DeltaKind, Frame, Header, InputKind, HEADER_SIZE, MAGIC,
    MAX_CHUNK_LOG, MAX_DIMS,
};

use crate::error::{Error, Result};
use crate::DecompressOptions;

/// Whether `src` starts like a reference frame (its two magic bytes).
pub fn is_reference(src: &[u8]) -> bool {
    src.len() >= MAGIC.len() && src[..MAGIC.len()] == MAGIC
}

/// What a buffer of reference frames says about itself: one frame, or the frames of a
/// streamed sequence one after another.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Info {
    /// The first frame's header.
    pub first: Header,
    /// Number of frames.
    pub frames: u64,
    /// Total decoded length.
    pub original_size: u64,
    /// Total number of chunks.
    pub chunk_count: u64,
    /// Bytes the frames take (the whole buffer).
    pub size: u64,
    /// The tensor's shape (torch and numpy frames).
    pub shape: Option<Vec<u64>>,
    /// Counts of raw, Huffman and one-byte run blocks over all frames.
    pub blocks: [u64; 3],
}

/// Parses the reference unit at the start of `src`: one frame, or a streamed frame and the
/// streamed frames that follow it (bytes, same dtype code and delta kind). Returns the
/// frames and the bytes they take; bytes after them are not looked at.
pub fn unit(src: &[u8]) -> Result<(Vec<Frame<'_>>, usize)> {
    let first = Frame::parse(src)?;
    let h0 = *first.header();
    let mut at = first.frame_size() as usize;
    let mut out = vec![first];
    if h0.streaming_log.is_none() || h0.kind != InputKind::Byte {
        return Ok((out, at));
    }
    while is_reference(&src[at..]) {
        let Ok(f) = Frame::parse(&src[at..]) else {
            break;
        };
        let h = f.header();
        if h.streaming_log.is_none()
            || h.kind != InputKind::Byte
            || h.dtype_code != h0.dtype_code
            || h.delta != h0.delta
        {
            break;
        }
        at += f.frame_size() as usize;
        out.push(f);
    }
    Ok((out, at))
}

/// Parses the whole of `src` as one reference unit (see [`unit`]); bytes after it are
/// `Corrupt`.
pub fn frames(src: &[u8]) -> Result<Vec<Frame<'_>>> {
    let (all, len) = unit(src)?;
    if len != src.len() {
        return Err(Error::Corrupt);
    }
    Ok(all)
}

fn info_of(all: &[Frame<'_>], size: usize) -> Result<Info> {
    let mut chunk_count = 0u64;
    let mut blocks = [0u64; 3];
    for f in all {
        chunk_count += f.chunk_count() as u64;
        for (b, n) in blocks.iter_mut().zip(f.block_counts()) {
            *b += n;
        }
    }
    Ok(Info {
        first: *all[0].header(),
        frames: all.len() as u64,
        original_size: total_size(all)?,
        chunk_count,
        size: size as u64,
        shape: all[0].shape().map(<[u64]>::to_vec),
        blocks,
    })
}

/// What `src` (whole reference frames, see [`frames`]) says about itself.
pub fn info(src: &[u8]) -> Result<Info> {
    info_of(&frames(src)?, src.len())
}

/// What the reference unit at the start of `src` says about itself (bytes after it are
/// allowed; [`Info::size`] says where it ends).
pub fn info_prefix(src: &[u8]) -> Result<Info> {
    let (all, len) = unit(src)?;
    info_of(&all, len)
}

/// Decodes chunk `index` (counted over all the frames of `src`) into `dst`; returns its
/// length. A delta chunk is XORed with the matching bytes of `base` (the whole base).
pub fn decompress_chunk(
    src: &[u8],
    base: Option<&[u8]>,
    index: u64,
    dst: &mut [u8],
) -> Result<usize> {
    let (all, _) = unit(src)?;
    let total = total_size(&all)?;
    let delta = all[0].header().delta != DeltaKind::None;
    let base = match (delta, base) {
        (false, _) => None,
        (true, None) => return Err(Error::BaseRequired),
        (true, Some(b)) if b.len() as u64 != total => return Err(Error::BaseMismatch),
        (true, Some(b)) => Some(b),
    };
    let mut left = index;
    let mut start = 0u64;
    for f in &all {
        let n = f.chunk_count() as u64;
        if left < n {
            let h = f.header();
            let len = chunk_len(h, left);
            if dst.len() < len {
                return Err(Error::DstTooSmall);
            }
            let mut out = vec![0u8; len];
            let mut scratch = vec![0u8; len];
            f.decode_chunk(left as usize, &mut out, &mut scratch)?;
            if let Some(b) = base {
                let at = (start + left * h.chunk_size()) as usize;
                for (o, x) in out.iter_mut().zip(&b[at..at + len]) {
                    *o ^= x;
                }
            }
            dst[..len].copy_from_slice(&out);
            return Ok(len);
        }
        left -= n;
        start += f.header().original_size;
    }
    Err(Error::InvalidParam)
}

/// Checks `src` (whole reference frames) as far as a format without checksums can be
/// checked: the structure, and that every block decodes to its plane's length. Memory:
/// one chunk at a time.
pub fn check(src: &[u8]) -> Result<()> {
    let all = frames(src)?;
    for f in &all {
        let largest = (f.header().chunk_size()).min(f.header().original_size) as usize;
        let mut out = vec![0u8; largest];
        let mut scratch = vec![0u8; largest];
        for c in 0..f.chunk_count() {
            let len = chunk_len(f.header(), c as u64);
            f.decode_chunk(c, &mut out[..len], &mut scratch)?;
        }
    }
    Ok(())
}

/// The decoded length of `src` (whole reference frames).
pub fn decompressed_size(src: &[u8]) -> Result<u64> {
    Ok(info(src)?.original_size)
}

/// Decodes `src` (whole reference frames). A delta frame needs its base:
/// [`decompress_delta`].
pub fn decompress(src: &[u8], opts: &DecompressOptions) -> Result<Vec<u8>> {
    decode(src, None, opts)
}

/// Decodes `src` and XORs the result with `base` (of the decoded length) when the frames
/// are deltas; frames that are not deltas decode as usual and `base` is not looked at.
pub fn decompress_delta(src: &[u8], base: &[u8], opts: &DecompressOptions) -> Result<Vec<u8>> {
    decode(src, Some(base), opts)
}

/// [`decompress`] into `dst`, which must hold the decoded length; returns that length.
/// On error `dst` is left as it was.
pub fn decompress_into(src: &[u8], dst: &mut [u8], opts: &DecompressOptions) -> Result<usize> {
    decompress_delta_into(src, None, dst, opts)
}

/// [`decompress_delta`] into `dst` (see [`decompress_into`]).
pub fn decompress_delta_into(
    src: &[u8],
    base: Option<&[u8]>,
    dst: &mut [u8],
    opts: &DecompressOptions,
) -> Result<usize> {
    let all = frames(src)?;
    let n = total_size(&all)?;
    if n > dst.len() as u64 {
        return Err(Error::DstTooSmall);
    }
    // No checksum says in advance whether the blocks decode: decode aside, then copy, so
    // that a damaged frame leaves `dst` as it was.
    let v = decode_frames(&all, base, n, opts)?;
    dst[..v.len()].copy_from_slice(&v);
    Ok(v.len())
}

fn total_size(all: &[Frame<'_>]) -> Result<u64> {
    all.iter().try_fold(0u64, |acc, f| {
        acc.checked_add(f.header().original_size)
            .ok_or(Error::SrcTooLarge)
    })
}

fn decode(src: &[u8], base: Option<&[u8]>, opts: &DecompressOptions) -> Result<Vec<u8>> {
    let all = frames(src)?;
    let n = total_size(&all)?;
    decode_frames(&all, base, n, opts)
}

fn decode_frames(
    all: &[Frame<'_>],
    base: Option<&[u8]>,
    n: u64,
    opts: &DecompressOptions,
) -> Result<Vec<u8>> {
    if opts.max_size != 0 && n > opts.max_size {
        return Err(Error::LimitExceeded);
    }
    let delta = all[0].header().delta != DeltaKind::None;
    let base = match (delta, base) {
        (false, _) => None,
        (true, None) => return Err(Error::BaseRequired),
        (true, Some(b)) if b.len() as u64 != n => return Err(Error::BaseMismatch),
        (true, Some(b)) => Some(b),
    };
    let n = usize::try_from(n).map_err(|_| Error::SrcTooLarge)?;
    let mut out = crate::engine::zeroed_vec(n)?;
    let mut jobs: Vec<(&Frame<'_>, usize, &mut [u8])> = Vec::new();
    let mut rest: &mut [u8] = &mut out;
    for f in all {
        let h = f.header();
        for c in 0..f.chunk_count() {
            let len = chunk_len(h, c as u64);
            let (d, r) = std::mem::take(&mut rest).split_at_mut(len);
            rest = r;
            jobs.push((f, c, d));
        }
    }
    run(opts.threads, jobs, |(f, c, d)| {
        let mut scratch = vec![0u8; d.len()];
        f.decode_chunk(c, d, &mut scratch)
    })?;
    if let Some(b) = base {
        for (o, x) in out.iter_mut().zip(b) {
            *o ^= x;
        }
    }
    Ok(out)
}

/// Runs the chunk jobs on the calling thread (`threads == 1`) or on rayon's pool.
fn run<T, F>(threads: u32, jobs: Vec<T>, f: F) -> Result<()>
where
    T: Send,
    F: Fn(T) -> Result<()> + Sync + Send,
{
    if threads == 1 || jobs.len() <= 1 {
        return jobs.into_iter().try_for_each(f);
    }
    use rayon::prelude::*;
    jobs.into_par_iter().try_for_each(f)
}
