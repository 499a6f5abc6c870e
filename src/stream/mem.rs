//! Whole streams in memory: [`compress_into`] and [`decompress_into`] code a stream from
//! one slice into another, with the bytes and the errors of [`Writer`](super::Writer) and
//! [`Reader`](super::Reader), but without their copies through buffers of their own: the
//! frames of all the blocks are coded straight into place in one dispatch over the threads
//! (as an archive's tensors are), and decoded straight from the input, every checksum
//! checked before any output is written.

use super::format::{
    check_block_size, write_stream_header, write_tail, INDEX_ENTRY_SIZE, INDEX_HEADER_SIZE,
    STREAM_HEADER_SIZE, TRAILER_SIZE,
};
use super::push::Decompressor;
use crate::engine::{self, FramePlan};
use crate::error::{Error, Result};
use crate::frame::Frame;
use crate::pipeline::{self, FrameJob};
use crate::{DecompressOptions, Options};

/// Most input bytes whose frames [`compress_into`] codes in one dispatch (their lossy
/// copies, when there is a lossy step, are held at the same time).
const GROUP_INPUT: usize = 64 << 20;

/// The longest stream [`compress_into`] (or [`Writer`](super::Writer)) can make of `len`
/// bytes with `opts` and `block_size`. Errors: `InvalidParam` for bad options or block
/// size, `SrcTooLarge`.
pub fn compress_bound(len: usize, opts: &Options, block_size: u32) -> Result<usize> {
    opts.validate()?;
    check_block_size(block_size)?;
    let bs = block_size as usize;
    let (full, last) = (len / bs, len % bs);
    let frames = full + (last > 0) as usize;
    let fixed = STREAM_HEADER_SIZE + INDEX_HEADER_SIZE + TRAILER_SIZE;
    let last_bound = if last > 0 {
        crate::compress_bound(last, opts)?
    } else {
        0
    };
    let full_bound = if full > 0 {
        crate::compress_bound(bs, opts)?
    } else {
        0
    };
    full.checked_mul(full_bound)
        .and_then(|b| b.checked_add(last_bound))
        .and_then(|b| b.checked_add(frames.checked_mul(INDEX_ENTRY_SIZE)?))
        .and_then(|b| b.checked_add(fixed))
        .ok_or(Error::SrcTooLarge)
}

/// Compresses `src` into a stream in `dst` and returns its length: the same bytes a
/// [`Writer`](super::Writer) with `opts` and `block_size` writes. With room for
/// [`compress_bound`] the frames are coded straight into place; with less, the stream is
/// coded aside and copied if it fits (`DstTooSmall` otherwise). `dst` is untouched on error.
pub fn compress_into(src: &[u8], opts: &Options, block_size: u32, dst: &mut [u8]) -> Result<usize> {
    let bound = compress_bound(src.len(), opts, block_size)?;
    if dst.len() < bound {
        let v = compress(src, opts, block_size)?;
        let d = dst.get_mut(..v.len()).ok_or(Error::DstTooSmall)?;
        d.copy_from_slice(&v);
        return Ok(v.len());
    }
    compress_in_place(src, opts, block_size, dst)
}

/// Compresses `src` into a new stream (see [`compress_into`]).
pub fn compress(src: &[u8], opts: &Options, block_size: u32) -> Result<Vec<u8>> {
    let bound = compress_bound(src.len(), opts, block_size)?;
    let mut v = engine::zeroed_vec(bound)?;
    let n = compress_in_place(src, opts, block_size, &mut v)?;
    v.truncate(n);
    v.shrink_to_fit();
    Ok(v)
}

/// [`compress_into`] with room for the bound (options and block size checked).
fn compress_in_place(src: &[u8], opts: &Options, block_size: u32, dst: &mut [u8]) -> Result<usize> {
    compress_grouped(src, opts, block_size, dst, GROUP_INPUT)
}

/// [`compress_in_place`], the frames of up to `group_input` input bytes (at least one
/// block) coded in each dispatch.
fn compress_grouped(
    src: &[u8],
    opts: &Options,
    block_size: u32,
    dst: &mut [u8],
    group_input: usize,
) -> Result<usize> {
    let bs = block_size as usize;
    let blocks = src.len().div_ceil(bs);
    let mut entries = Vec::new();
    entries
        .try_reserve_exact(blocks)
        .map_err(|_| Error::Alloc)?;
    // Written around the caches when the output cannot stay in them.
    let large = src.len() >= pipeline::LARGE_OUTPUT;
    let mut pos = STREAM_HEADER_SIZE;
    let per_group = (group_input / bs).max(1);
    for group in src.chunks(per_group * bs) {
        // Each block as the writer codes it: its own lossy step, its own frame.
        let prepared = group
            .chunks(bs)
            .map(|b| pipeline::prepare(b, None, opts))
            .collect::<Result<Vec<_>>>()?;
        let plans: Vec<FramePlan<'_>> = prepared
            .iter()
            .map(|(data, o, _)| FramePlan {
                src: data,
                base: None,
                metadata: &[],
                opts: o.clone(),
                base_hash: None,
                adaptive: true,
            })
            .collect();
        let sizes = engine::compress_frames(&plans, opts.threads, &mut dst[pos..], large)?;
        for (n, b) in sizes.iter().zip(group.chunks(bs)) {
            entries.push((*n as u64, b.len() as u64));
            pos += n;
        }
    }
    let tail = write_tail(&entries, pos as u64, src.len() as u64)?;
    dst[..STREAM_HEADER_SIZE].copy_from_slice(&write_stream_header(block_size));
    dst[pos..pos + tail.len()].copy_from_slice(&tail);
    Ok(pos + tail.len())
}

/// Decompresses the whole stream `stream` into `dst` and returns its original length. It
/// takes what a [`Reader`](super::Reader) takes (streams the reference package wrote too)
/// and refuses what it refuses with the same error (`Truncated`, `Corrupt`, `Checksum`,
/// `LimitExceeded` past `opts.max_size`, ...); `DstTooSmall` if the original bytes do not
/// fit. Everything is checked before any byte is written: `dst` is untouched on error.
pub fn decompress_into(stream: &[u8], dst: &mut [u8], opts: &DecompressOptions) -> Result<usize> {
    let mut d = Decompressor::with_options(opts);
    if let Some((frames, total)) = d.plan_whole(stream) {
        let n = usize::try_from(total).map_err(|_| Error::DstTooSmall)?;
        let out = dst.get_mut(..n).ok_or(Error::DstTooSmall)?;
        if decode_planned(&frames, out, opts)? {
            return Ok(n);
        }
    }
    // Checked frame by frame first, into nothing, so that bad input leaves `dst` as it was.
    let n = push_all(stream, opts, None)?;
    let out = usize::try_from(n)
        .ok()
        .and_then(|n| dst.get_mut(..n))
        .ok_or(Error::DstTooSmall)?;
    push_all(stream, opts, Some(out))?;
    Ok(out.len())
}

/// Decompresses the whole stream `stream` into a new vector (see [`decompress_into`]).
pub fn decompress(stream: &[u8], opts: &DecompressOptions) -> Result<Vec<u8>> {
    let mut d = Decompressor::with_options(opts);
    if let Some((frames, total)) = d.plan_whole(stream) {
        let n = usize::try_from(total).map_err(|_| Error::Alloc)?;
        let mut v = engine::zeroed_vec(n)?;
        if decode_planned(&frames, &mut v, opts)? {
            return Ok(v);
        }
    }
    let n = push_all(stream, opts, None)?;
    let mut v = engine::zeroed_vec(usize::try_from(n).map_err(|_| Error::Alloc)?)?;
    push_all(stream, opts, Some(&mut v))?;
    Ok(v)
}

/// Decodes the frames [`Decompressor::plan_whole`] found into `out` (their original bytes,
/// one after another) in two dispatches over the threads: every chunk's checksum, then
/// every chunk. `false` (nothing written) if a checksum fails.
fn decode_planned(frames: &[Frame<'_>], out: &mut [u8], opts: &DecompressOptions) -> Result<bool> {
    let large = out.len() >= pipeline::LARGE_OUTPUT;
    let mut jobs = Vec::new();
    jobs.try_reserve_exact(frames.len())
        .map_err(|_| Error::Alloc)?;
    let mut rest = out;
    for f in frames {
        let len = f.header().original_size as usize;
        let (here, after) = std::mem::take(&mut rest).split_at_mut(len);
        rest = after;
        jobs.push(FrameJob {
            frame: f,
            base: None,
            dst: here,
        });
    }
    let good = pipeline::decode_jobs_checked_first(jobs, opts.threads, large, false)?;
    Ok(good == frames.len())
}

/// Decodes `stream` with a [`Decompressor`] in one piece, into `out` (exactly the original
/// length) or, with `None`, into a small buffer whose bytes are dropped; returns the
/// original length, or the first error, as a [`Reader`](super::Reader) reports it.
fn push_all(stream: &[u8], opts: &DecompressOptions, mut out: Option<&mut [u8]>) -> Result<u64> {
    let mut d = Decompressor::with_options(opts);
    let mut sink = Vec::new();
    if out.is_none() {
        sink = vec![0u8; 64 << 10];
    }
    let (mut at, mut w) = (0usize, 0usize);
    loop {
        let o: &mut [u8] = match out.as_deref_mut() {
            Some(o) => &mut o[w..],
            None => &mut sink,
        };
        let (c, n) = d.decompress(&stream[at..], o)?;
        at += c;
        if out.is_some() {
            w += n;
        }
        if c == 0 && n == 0 {
            break;
        }
    }
    d.finish()?;
    Ok(d.total_out())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// However the blocks are grouped into dispatches, the stream is the same.
    #[test]
    fn groups_of_blocks_make_the_same_stream() {
        let mut x = 7u32;
        let data: Vec<u8> = (0..40_000)
            .map(|_| {
                x = x.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
                (x >> 24) as u8 & 0x3f
            })
            .collect();
        for threads in [1, 2] {
            let opts = Options {
                threads,
                chunk_size: 1024,
                ..Options::new(crate::DType::Bf16)
            };
            let bound = compress_bound(data.len(), &opts, 4096).unwrap();
            let mut one = vec![0u8; bound];
            let n = compress_grouped(&data, &opts, 4096, &mut one, usize::MAX).unwrap();
            for group in [0, 4096, 3 * 4096 + 5, 8 * 4096] {
                let mut v = vec![0u8; bound];
                let m = compress_grouped(&data, &opts, 4096, &mut v, group).unwrap();
                assert_eq!(v[..m], one[..n], "group {group}");
            }
            assert_eq!(
                decompress(&one[..n], &DecompressOptions::default()).unwrap(),
                data
            );
        }
    }
}
