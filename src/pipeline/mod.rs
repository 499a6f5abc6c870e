//! The steps around the engine, shared by the public calls (`lib.rs`), streams and
//! containers: before coding, the lossy step and the delta; after parsing, the size limit,
//! the base check and the checksums; after decoding, the delta and the lossy step undone.

use std::borrow::Cow;

use crate::delta;
use crate::engine;
use crate::error::{Error, Result};
use crate::frame::{self, Frame};
use crate::lossy;
use crate::options::{DType, Lossy, Options};
use crate::refformat;

/// Outputs at least this large are written around the caches (non-temporal stores).
pub(crate) const LARGE_OUTPUT: usize = 16 << 20;

/// Options for decompression.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct DecompressOptions {
    /// Worker threads; 0 = all cores, 1 = the calling thread only.
    pub threads: u32,
    /// Refuse frames whose decompressed size is above this many bytes; 0 = no limit.
    pub max_size: u64,
}

/// Which format a frame is in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FrameFormat {
    /// This library's frame (docs/FORMAT.md).
    Zipnn,
    /// A frame, or a streamed sequence of frames, written by the reference package (PyPI
    /// zipnn 0.5.x; docs/REFERENCE-FORMAT.md). It has no checksums.
    Reference,
}

/// What a frame header says, without decoding any chunk.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FrameInfo {
    /// Which format the frame is in.
    pub format: FrameFormat,
    /// Format version of the frame (0 for a reference frame).
    pub version: u8,
    /// Flags byte of the frame.
    pub flags: u8,
    /// Element type the frame was coded with.
    pub dtype: DType,
    /// Planes per chunk (bytes per element, or raw byte-grouping partitions).
    pub planes: u32,
    /// Input bytes per chunk.
    pub chunk_size: u32,
    /// Length of the original data.
    pub original_size: u64,
    /// Number of chunks.
    pub chunk_count: u64,
    /// Length of the frame itself.
    pub frame_size: u64,
    /// Length of the caller's metadata block.
    pub metadata_size: u64,
    /// The lossy step the data went through ([`Lossy::None`]: bit-exact).
    pub lossy: Lossy,
    /// For a delta frame: the XXH3-64 of the base it needs.
    pub base_hash: Option<u64>,
}

/// Applies the lossy step and checks the base: the bytes to code (XORed with the base by
/// the engine, chunk by chunk, for a delta), the options with the lossy mode actually
/// applied, and the base hash for the header.
pub(crate) fn prepare<'s>(
    src: &'s [u8],
    base: Option<&[u8]>,
    opts: &Options,
) -> Result<(Cow<'s, [u8]>, Options, Option<u64>)> {
    opts.validate()?;
    if base.is_some_and(|b| b.len() != src.len()) {
        return Err(Error::BaseMismatch);
    }
    let (data, applied) = lossy::apply(src, opts.dtype, opts.lossy);
    let o = Options {
        lossy: applied,
        ..opts.clone()
    };
    Ok((data, o, base.map(delta::base_hash)))
}

/// A new frame of `src` (a delta against `base` when there is one) carrying `metadata`.
pub(crate) fn compress_vec(
    src: &[u8],
    base: Option<&[u8]>,
    metadata: &[u8],
    opts: &Options,
) -> Result<Vec<u8>> {
    let (data, o, h) = prepare(src, base, opts)?;
    engine::compress_vec(&data, base, metadata, &o, h)
}

/// [`compress_vec`] into `dst`; returns the frame's length. `dst` is untouched on error.
/// `large`: `dst` is part of a larger output that cannot stay in the caches (an archive,
/// a stream), so raw planes are written around them.
pub(crate) fn compress_into(
    src: &[u8],
    base: Option<&[u8]>,
    metadata: &[u8],
    opts: &Options,
    dst: &mut [u8],
    large: bool,
) -> Result<usize> {
    let (data, o, h) = prepare(src, base, opts)?;
    engine::compress_into(&data, base, metadata, &o, h, dst, large)
}

/// Parses a whole frame (nothing after it), refusing it from the fixed header alone when
/// it declares more than `opts.max_size`.
pub(crate) fn parse_whole<'a>(frame: &'a [u8], opts: &DecompressOptions) -> Result<Frame<'a>> {
    // Check the limit from the fixed header before anything else is looked at.
    let h = frame::parse_fixed(frame)?;
    if opts.max_size != 0 && h.original_size > opts.max_size {
        return Err(Error::LimitExceeded);
    }
    let f = Frame::parse(frame)?;
    if f.frame_size() != frame.len() as u64 {
        return Err(Error::Corrupt);
    }
    Ok(f)
}

/// A delta frame needs its base, of the right length and hash.
pub(crate) fn check_base(h: &frame::Header, base: Option<&[u8]>) -> Result<()> {
    match (h.base_hash, base) {
        (None, _) => Ok(()),
        (Some(_), None) => Err(Error::BaseRequired),
        // An empty base for a frame that is not empty: no base was really given.
        (Some(_), Some(b)) if b.is_empty() && h.original_size > 0 => Err(Error::BaseRequired),
        (Some(hash), Some(b)) => delta::check_base(b, h.original_size, hash),
    }
}

/// Decodes a whole frame (with its base for a delta frame) into a new vector.
pub(crate) fn decode_vec(
    frame: &[u8],
    base: Option<&[u8]>,
    opts: &DecompressOptions,
) -> Result<Vec<u8>> {
    if refformat::is_reference(frame) {
        return match base {
            Some(b) => refformat::decompress_delta(frame, b, opts),
            None => refformat::decompress(frame, opts),
        };
    }
    let f = parse_whole(frame, opts)?;
    check_base(f.header(), base)?;
    let n = usize::try_from(f.header().original_size).map_err(|_| Error::SrcTooLarge)?;
    decode_new(&f, base, n, opts.threads)
}

/// Decodes a parsed whole frame of `n` original bytes (its base already checked) into a new
/// vector. The checksums are checked (once) before the output is allocated, so a damaged
/// frame that declares a huge size does not get it allocated.
pub(crate) fn decode_new(
    f: &Frame<'_>,
    base: Option<&[u8]>,
    n: usize,
    threads: u32,
) -> Result<Vec<u8>> {
    engine::verify_frame_with(f, threads)?;
    let mut out = engine::zeroed_vec(n)?;
    decode_verified_whole(f, base, &mut out, threads, false)?;
    Ok(out)
}

/// Decodes a whole frame into `dst` (at least its original size); returns that size.
pub(crate) fn decode_into(
    frame: &[u8],
    base: Option<&[u8]>,
    dst: &mut [u8],
    opts: &DecompressOptions,
) -> Result<usize> {
    if refformat::is_reference(frame) {
        return refformat::decompress_delta_into(frame, base, dst, opts);
    }
    let f = parse_whole(frame, opts)?;
    let n = f.header().original_size;
    if n > dst.len() as u64 {
        return Err(Error::DstTooSmall);
    }
    check_base(f.header(), base)?;
    let n = n as usize;
    let dst = &mut dst[..n];
    engine::verify_frame_with(&f, opts.threads)?;
    decode_verified_whole(&f, base, dst, opts.threads, false)?;
    Ok(n)
}

/// Decodes a whole frame whose chunk checksums and base were checked, then undoes the
/// delta and the lossy step. `large`: `dst` is part of an output of at least
/// [`LARGE_OUTPUT`] bytes (a stream's frames going into one large buffer), written around
/// the caches as one large frame's output is.
pub(crate) fn decode_verified_whole(
    f: &Frame<'_>,
    base: Option<&[u8]>,
    dst: &mut [u8],
    threads: u32,
    large: bool,
) -> Result<()> {
    // The XOR with the base of a delta frame is made chunk by chunk as they are decoded.
    let base = base.filter(|_| f.header().base_hash.is_some());
    let job = FrameJob {
        frame: f,
        base,
        dst,
    };
    decode_frames_with(vec![job], threads, true, Some(large))
}

/// Decodes chunk `i` of a parsed frame into `dst` (the chunk's length) and undoes the
/// lossy step; `base` is the whole base for a delta frame (already checked).
pub(crate) fn decode_chunk_checked(
    f: &Frame<'_>,
    i: usize,
    base: Option<&[u8]>,
    dst: &mut [u8],
) -> Result<()> {
    let h = f.header();
    if h.base_hash.is_some() && base.is_none() {
        return Err(Error::BaseRequired);
    }
    let start = f.chunk_range(i).start as usize;
    let b = base
        .filter(|_| h.base_hash.is_some())
        .map(|b| &b[start..start + dst.len()]);
    engine::decode_chunk_with(f, i, dst, b, false)?;
    lossy::undo(dst, h.dtype, h.lossy);
    Ok(())
}

/// Decodes chunk `index` of the frame at the start of `src` into `dst`; returns its length.
pub(crate) fn decode_chunk(
    src: &[u8],
    base: Option<&[u8]>,
    index: u64,
    dst: &mut [u8],
) -> Result<usize> {
    if refformat::is_reference(src) {
        return refformat::decompress_chunk(src, base, index, dst);
    }
    let f = Frame::parse(src)?;
    check_base(f.header(), base)?;
    if index >= f.chunk_count() as u64 {
        return Err(Error::InvalidParam);
    }
    let i = index as usize;
    let len = f.header().chunk_len(index);
    if dst.len() < len {
        return Err(Error::DstTooSmall);
    }
    decode_chunk_checked(&f, i, base, &mut dst[..len])?;
    Ok(len)
}

/// What the frame at the start of `src` says about itself.
pub(crate) fn frame_info(src: &[u8]) -> Result<FrameInfo> {
    if refformat::is_reference(src) {
        return reference_info(src);
    }
    let f = Frame::parse(src)?;
    let h = f.header();
    Ok(FrameInfo {
        format: FrameFormat::Zipnn,
        version: h.version,
        flags: h.flags,
        dtype: h.dtype,
        planes: h.planes as u32,
        chunk_size: h.chunk_size as u32,
        original_size: h.original_size,
        chunk_count: f.chunk_count() as u64,
        frame_size: f.frame_size(),
        metadata_size: h.metadata_size as u64,
        lossy: h.lossy,
        base_hash: h.base_hash,
    })
}

/// [`frame_info`] of the reference unit at the start of `src` (one frame, or a streamed
/// sequence): its sizes are the whole unit's.
fn reference_info(src: &[u8]) -> Result<FrameInfo> {
    let i = refformat::info_prefix(src)?;
    let delta = i.first.delta != refformat::DeltaKind::None;
    Ok(FrameInfo {
        format: FrameFormat::Reference,
        version: 0,
        flags: if delta { frame::FLAG_DELTA } else { 0 },
        dtype: i.first.dtype,
        planes: i.first.planes() as u32,
        chunk_size: i.first.chunk_size() as u32,
        original_size: i.original_size,
        chunk_count: i.chunk_count,
        frame_size: i.size,
        metadata_size: 0,
        lossy: Lossy::None,
        base_hash: None,
    })
}

/// The decompressed size of the frame (or reference unit) at the start of `src`.
pub(crate) fn decompressed_size(src: &[u8]) -> Result<u64> {
    if refformat::is_reference(src) {
        return Ok(refformat::info_prefix(src)?.original_size);
    }
    Ok(Frame::parse(src)?.header().original_size)
}

/// Checks a whole frame's header and chunk checksums without decoding. A reference frame
/// has no checksums: its structure is checked and every block decoded (and dropped).
pub(crate) fn verify(src: &[u8]) -> Result<()> {
    if refformat::is_reference(src) {
        return refformat::check(src);
    }
    let f = parse_whole(src, &DecompressOptions::default())?;
    engine::verify_frame(&f)
}

/// One whole frame to decode into `dst` (exactly its original size), with the base of a
/// delta frame, already checked with [`check_base`].
pub(crate) struct FrameJob<'f, 'd> {
    /// The parsed whole frame.
    pub frame: &'f Frame<'f>,
    /// The base of a delta frame.
    pub base: Option<&'d [u8]>,
    /// Where its original bytes go.
    pub dst: &'d mut [u8],
}

/// Decodes several whole frames at once: the chunks of all of them are spread over
/// `threads` workers (0 = all cores), so that many small frames keep every core busy as
/// one large frame does. Each chunk's checksum is checked just before it is decoded, and
/// the delta and the lossy step are undone chunk by chunk while it is in the caches. On
/// error the outputs may hold part of their bytes.
pub(crate) fn decode_frames(jobs: Vec<FrameJob<'_, '_>>, threads: u32) -> Result<()> {
    decode_frames_with(jobs, threads, false, None)
}

/// Decodes whole frames (no deltas) into their outputs, every checksum checked before
/// anything is written, in two dispatches over `threads` workers whatever the number of
/// frames: the checks of all their chunks, then the decoding of all their chunks. Returns
/// how many frames were decoded: all of them, or those before the first with a bad
/// checksum (its outputs and the later ones untouched), which the caller decodes alone to
/// report its error. `large`: the outputs are part of one too large to stay in the
/// caches (as for [`decode_verified_whole`]).
pub(crate) fn decode_checked_first(
    frames: &[Frame<'_>],
    outs: Vec<&mut [u8]>,
    threads: u32,
    large: bool,
) -> Result<usize> {
    let jobs = frames
        .iter()
        .zip(outs)
        .map(|(frame, dst)| FrameJob {
            frame,
            base: None,
            dst,
        })
        .collect();
    decode_jobs_checked_first(jobs, threads, large, true)
}

/// [`decode_checked_first`] of frame jobs (delta frames with their checked base too).
/// Without `prefix`, a bad checksum anywhere leaves every output untouched (0 decoded).
/// The outputs of [`Archive::decode_many`](crate::container::safetensors::Archive) are
/// separate and often fresh (`large` false): written through the caches, whose lines the
/// page faults have just zeroed, except in frames too large for them.
pub(crate) fn decode_jobs_checked_first(
    mut jobs: Vec<FrameJob<'_, '_>>,
    threads: u32,
    large: bool,
    prefix: bool,
) -> Result<usize> {
    let frames: Vec<&Frame<'_>> = jobs.iter().map(|j| j.frame).collect();
    let mut good = engine::first_bad_frame(&frames, threads)?.unwrap_or(frames.len());
    if !prefix && good < frames.len() {
        good = 0;
    }
    jobs.truncate(good);
    decode_frames_with(jobs, threads, true, Some(large))?;
    Ok(good)
}

/// [`decode_frames`]; `checked`: every chunk's checksum was checked beforehand; `large`:
/// whether the outputs are part of one too large to stay in the caches (`None`: when
/// together they are; frames that large alone are written around the caches anyway).
fn decode_frames_with(
    jobs: Vec<FrameJob<'_, '_>>,
    threads: u32,
    checked: bool,
    large: Option<bool>,
) -> Result<()> {
    struct Task<'f, 'd> {
        frame: &'f Frame<'f>,
        chunk: usize,
        base: Option<&'d [u8]>,
        dst: &'d mut [u8],
    }
    let mut tasks = Vec::new();
    // Outputs of this size cannot stay in the caches (see engine::copy_raw).
    let large =
        large.unwrap_or_else(|| jobs.iter().map(|j| j.dst.len()).sum::<usize>() >= LARGE_OUTPUT);
    for job in jobs {
        let h = job.frame.header();
        if job.dst.len() as u64 != h.original_size
            || (h.base_hash.is_some() && job.base.is_none())
            || job.base.is_some_and(|b| b.len() != job.dst.len())
        {
            return Err(Error::Internal);
        }
        let body_len = job.dst.len() - h.tail_len;
        let (body, tail) = job.dst.split_at_mut(body_len);
        tail.copy_from_slice(&h.tail[..h.tail_len]);
        if let (Some(_), Some(b)) = (h.base_hash, job.base) {
            delta::xor_in_place(tail, &b[body_len..]);
        }
        lossy::undo(tail, h.dtype, h.lossy);
        let mut base = job.base.map(|b| &b[..body_len]);
        for (chunk, dst) in body.chunks_mut(h.chunk_size).enumerate() {
            let b = base.map(|b| {
                let (here, rest) = b.split_at(dst.len());
                base = Some(rest);
                here
            });
            tasks.push(Task {
                frame: job.frame,
                chunk,
                base: b,
                dst,
            });
        }
    }
    let one = |t: Task<'_, '_>| {
        let h = t.frame.header();
        // A delta chunk is XORed with its base as it is decoded.
        if checked {
            engine::decode_verified_chunk_with(t.frame, t.chunk, t.dst, t.base, large)?;
        } else {
            engine::decode_chunk_with(t.frame, t.chunk, t.dst, t.base, large)?;
        }
        lossy::undo(t.dst, h.dtype, h.lossy);
        Ok(())
    };
    if !engine::pairs_pay(tasks.len(), threads) {
        return engine::par_map(threads, tasks, one)?.into_iter().collect();
    }
    // Two chunks per job, of one frame or of two (the tensors of an archive), their
    // Huffman planes decoded together where both have one, with the same outputs and
    // errors as one at a time; delta chunks alone. (MiniLM bf16 archive restored on one
    // core: the frames' chunks had lost the pairing that one frame gets.)
    let mut jobs = Vec::with_capacity(tasks.len() / 2 + 1);
    let mut rest = tasks.into_iter().peekable();
    while let Some(t) = rest.next() {
        let pair = t.base.is_none() && rest.peek().is_some_and(|u| u.base.is_none());
        jobs.push((t, if pair { rest.next() } else { None }));
    }
    engine::par_map(threads, jobs, |(t, u)| {
        let Some(u) = u else { return one(t) };
        let verified = |t: &Task<'_, '_>| checked || engine::verify_chunk(t.frame, t.chunk).is_ok();
        if !(verified(&t) && verified(&u)) {
            // A checksum error: each alone, for its own error.
            let rt = one(t);
            return rt.and(one(u));
        }
        let (ht, hu) = (t.frame.header(), u.frame.header());
        let (rt, ru) = engine::decode_verified_chunks_paired(
            (t.frame, t.chunk, &mut *t.dst),
            (u.frame, u.chunk, &mut *u.dst),
            large,
        );
        if rt.is_ok() {
            lossy::undo(t.dst, ht.dtype, ht.lossy);
        }
        if ru.is_ok() {
            lossy::undo(u.dst, hu.dtype, hu.lossy);
        }
        rt.and(ru)
    })?
    .into_iter()
    .collect()
}

/// Checks a whole frame's checksums, then decodes each chunk alone into one chunk of
/// scratch (a delta frame needs no base: its payload is the difference).
pub(crate) fn verify_decodes(src: &[u8]) -> Result<()> {
    if refformat::is_reference(src) {
        // The reference format's check already decodes every block (it has no checksums).
        return refformat::check(src);
    }
    let f = parse_whole(src, &DecompressOptions::default())?;
    engine::verify_frame(&f)?;
    let mut scratch = Vec::new();
    for i in 0..f.chunk_count() {
        let len = f.header().chunk_len(i as u64);
        if scratch.len() < len {
            scratch.resize(len, 0);
        }
        engine::decode_verified_chunk(&f, i, &mut scratch[..len], false)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Weight-like values: a few exponents, random mantissas and signs.
    fn values(n: usize, seed: u64) -> Vec<f32> {
        let mut s = seed;
        (0..n)
            .map(|_| {
                s ^= s << 13;
                s ^= s >> 7;
                s ^= s << 17;
                let m = 1.0 + (s % 1000) as f32 / 1000.0;
                let e = [0.5f32, 0.25, 0.125, 0.0625, 0.001][(s >> 20) as usize % 5];
                if s >> 40 & 1 == 1 {
                    -m * e
                } else {
                    m * e
                }
            })
            .collect()
    }

    /// Frames of several dtypes and sizes in 16 KiB chunks: bf16 of many chunks and a
    /// tail, fp16, a lossy bf16, fp32 of one short chunk, raw bytes (one plane).
    fn frames() -> Vec<Vec<u8>> {
        let v = values(120_001, 7);
        let bf16: Vec<u8> = v
            .iter()
            .flat_map(|x| ((x.to_bits() >> 16) as u16).to_le_bytes())
            .collect();
        let f32s: Vec<u8> = v.iter().flat_map(|x| x.to_le_bytes()).collect();
        let fp16: Vec<u8> = f32s
            .chunks(2)
            .flat_map(|c| [c[0], c[1] & 0x7F | 0x38])
            .collect();
        let opts = |dtype, lossy| Options {
            chunk_size: 16 * 1024,
            threads: 1,
            lossy,
            ..Options::new(dtype)
        };
        let none = Lossy::None;
        let three = Lossy::Mantissa { bits: 3 };
        [
            (&bf16[..], opts(DType::Bf16, none)),
            (&fp16[..50_001], opts(DType::Fp16, none)),
            (&bf16[..70_000], opts(DType::Bf16, three)),
            (&f32s[..9_000], opts(DType::Fp32, none)),
            (&bf16[..40_000], opts(DType::Raw, none)),
        ]
        .iter()
        .map(|(src, o)| crate::compress(src, o).unwrap())
        .collect()
    }

    /// Every chunk decoded alone, in order, as `decode_frames_with` does without pairs:
    /// the first error and the outputs (unwritten bytes 0x55).
    fn alone(frames: &[Frame<'_>], checked: bool) -> (Result<()>, Vec<Vec<u8>>) {
        let mut r = Ok(());
        let mut outs = Vec::new();
        for f in frames {
            let h = f.header();
            let mut out = vec![0x55u8; h.original_size as usize];
            let body = out.len() - h.tail_len;
            out[body..].copy_from_slice(&h.tail[..h.tail_len]);
            lossy::undo(&mut out[body..], h.dtype, h.lossy);
            for (i, d) in out[..body].chunks_mut(h.chunk_size).enumerate() {
                let ri = if checked {
                    engine::decode_verified_chunk_with(f, i, d, None, false)
                } else {
                    engine::decode_chunk_with(f, i, d, None, false)
                };
                if ri.is_ok() {
                    lossy::undo(d, h.dtype, h.lossy);
                }
                r = r.and(ri);
            }
            outs.push(out);
        }
        (r, outs)
    }

    #[test]
    fn chunks_of_several_frames_decoded_in_pairs_equal_chunks_decoded_alone() {
        // The chunks of several frames (as an archive's tensors) are decoded two at a time,
        // their Huffman planes together across frames: the same outputs and the same first
        // error as each chunk alone, intact, with a payload byte changed (a checksum error,
        // or, with the checksums taken as checked, whatever the damaged code decodes to),
        // at 1 and 2 threads.
        let clean = frames();
        let mut errors = 0;
        for damage in [None, Some((0, 3)), Some((0, 9)), Some((1, 2)), Some((2, 0))] {
            let mut bufs = clean.clone();
            if let Some((k, chunk)) = damage {
                let f = Frame::parse(&bufs[k]).unwrap();
                let p = f.chunk_payload(chunk);
                // Within the first plane: the Huffman-coded exponents.
                let at = p.as_ptr() as usize - bufs[k].as_ptr() as usize + 40 + chunk;
                bufs[k][at] ^= 0x5A;
            }
            let parsed: Vec<Frame<'_>> = bufs.iter().map(|b| Frame::parse(b).unwrap()).collect();
            for checked in [false, true] {
                let (want_r, want) = alone(&parsed, checked);
                errors += want_r.is_err() as usize;
                assert_eq!(damage.is_none(), want_r.is_ok(), "{damage:?} {checked}");
                for threads in [1, 2] {
                    let mut outs: Vec<Vec<u8>> = parsed
                        .iter()
                        .map(|f| vec![0x55u8; f.header().original_size as usize])
                        .collect();
                    let jobs = parsed
                        .iter()
                        .zip(outs.iter_mut())
                        .map(|(frame, dst)| FrameJob {
                            frame,
                            base: None,
                            dst,
                        })
                        .collect();
                    let r = decode_frames_with(jobs, threads, checked, Some(false));
                    let what = format!("{damage:?} checked {checked} threads {threads}");
                    assert_eq!(r, want_r, "{what}");
                    assert!(outs == want, "{what}");
                }
            }
        }
        assert!(errors >= 6, "{errors}");
    }
}
