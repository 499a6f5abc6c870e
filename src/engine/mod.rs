//! Cuts the input into chunks, runs transform and codecs on each (in parallel with rayon),
//! and assembles or takes apart frames. Chunks are independent, so the output bytes do not
//! depend on the thread count.

use std::cell::RefCell;
use std::sync::{Arc, Mutex, OnceLock};

use rayon::prelude::*;

use crate::codec::{self, Codec};
use crate::error::{Error, Result};
use crate::frame::{self, Frame, Header, FIXED_HEADER_SIZE, FLAG_METADATA};
use crate::options::{Options, MAX_METADATA_SIZE};
use crate::transform;

/// One coded chunk.
struct ChunkOut {
    entries: Vec<(Codec, u32)>,
    payload: Vec<u8>,
}

thread_local! {
    /// Per-thread plane buffer, reused across chunks.
    static SCRATCH: RefCell<Vec<u8>> = const { RefCell::new(Vec::new()) };
}

/// Runs `f` with a scratch buffer of exactly `len` bytes (contents unspecified).
fn with_scratch<R>(len: usize, f: impl FnOnce(&mut [u8]) -> R) -> R {
    SCRATCH.with(|s| match s.try_borrow_mut() {
        Ok(mut buf) => {
            if buf.len() < len {
                buf.resize(len, 0);
            }
            f(&mut buf[..len])
        }
        // Re-entered on this thread (cannot happen today): use a fresh buffer.
        Err(_) => f(&mut vec![0u8; len]),
    })
}

/// Pools built so far, by thread count.
type PoolCache = Mutex<Vec<(usize, Arc<rayon::ThreadPool>)>>;

/// A cached rayon pool for an explicit thread count (pools are costly to build).
fn pool(threads: usize) -> Result<Arc<rayon::ThreadPool>> {
    static POOLS: OnceLock<PoolCache> = OnceLock::new();
    let pools = POOLS.get_or_init(|| Mutex::new(Vec::new()));
    let mut pools = pools.lock().unwrap_or_else(|e| e.into_inner());
    if let Some((_, p)) = pools.iter().find(|(n, _)| *n == threads) {
        return Ok(p.clone());
    }
    let p = Arc::new(
        rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .thread_name(|i| format!("zipnn-{i}"))
            .build()
            .map_err(|_| Error::Alloc)?,
    );
    pools.push((threads, p.clone()));
    Ok(p)
}

/// Runs `f` over `items` with `threads` workers (0 = rayon's global pool, all cores;
/// 1 = the calling thread), returning the results in order.
fn par_map<I, T, F>(threads: u32, items: Vec<I>, f: F) -> Result<Vec<T>>
where
    I: Send,
    T: Send,
    F: Fn(I) -> T + Sync + Send,
{
    if threads == 1 || items.len() <= 1 {
        return Ok(items.into_iter().map(f).collect());
    }
    if threads == 0 {
        return Ok(items.into_par_iter().map(f).collect());
    }
    let p = pool(threads as usize)?;
    Ok(p.install(|| items.into_par_iter().map(f).collect()))
}

fn header_for(src_len: usize, metadata: &[u8], opts: &Options) -> Result<Header> {
    opts.validate()?;
    if metadata.len() > MAX_METADATA_SIZE {
        return Err(Error::InvalidParam);
    }
    let planes = opts.planes();
    let tail_len = src_len % planes;
    Ok(Header {
        flags: if metadata.is_empty() {
            0
        } else {
            FLAG_METADATA
        },
        dtype: opts.dtype,
        planes,
        chunk_size: opts.chunk_size as usize,
        original_size: src_len as u64,
        tail_len,
        tail: [0; 7],
        metadata_size: metadata.len(),
    })
}

/// The largest frame `compress` can produce for `src_len` bytes with no metadata.
pub fn compress_bound(src_len: usize, opts: &Options) -> Result<usize> {
    let h = header_for(src_len, &[], opts)?;
    let size = h.header_size().ok_or(Error::SrcTooLarge)?;
    usize::try_from(size)
        .ok()
        .and_then(|s| s.checked_add(src_len))
        .ok_or(Error::SrcTooLarge)
}

fn encode_chunk(chunk: &[u8], opts: &Options, planes: usize) -> ChunkOut {
    let n = chunk.len() / planes;
    let mut payload = Vec::with_capacity(chunk.len());
    let mut entries = Vec::with_capacity(planes);
    with_scratch(chunk.len(), |buf| {
        transform::split(opts.dtype, planes, chunk, buf);
        for plane in buf.chunks_exact(n) {
            let before = payload.len();
            let codec = codec::encode_plane(plane, opts, &mut payload);
            entries.push((codec, (payload.len() - before) as u32));
        }
    });
    ChunkOut { entries, payload }
}

/// Compresses `src` into a frame written by `sink`, which gets the total size first.
fn compress_with<R>(
    src: &[u8],
    metadata: &[u8],
    opts: &Options,
    sink: impl FnOnce(usize, &mut dyn FnMut(&mut dyn FnMut(&[u8]))) -> Result<R>,
) -> Result<R> {
    let mut header = header_for(src.len(), metadata, opts)?;
    let planes = header.planes;
    let body = &src[..src.len() - header.tail_len];
    header.tail[..header.tail_len].copy_from_slice(&src[body.len()..]);
    let chunks: Vec<&[u8]> = body.chunks(header.chunk_size).collect();
    let outs = par_map(opts.threads, chunks, |c| encode_chunk(c, opts, planes))?;

    let mut head = Vec::with_capacity(
        FIXED_HEADER_SIZE + metadata.len() + outs.len() * header.entry_size() + 8,
    );
    let mut fixed = [0u8; FIXED_HEADER_SIZE];
    header.write_fixed(&mut fixed);
    head.extend_from_slice(&fixed);
    head.extend_from_slice(metadata);
    for o in &outs {
        head.extend_from_slice(&frame::checksum(&o.payload).to_le_bytes());
        for &(codec, size) in &o.entries {
            head.push(codec as u8);
            head.extend_from_slice(&size.to_le_bytes());
        }
    }
    let sum = frame::checksum(&head);
    head.extend_from_slice(&sum.to_le_bytes());
    let total = head.len() + outs.iter().map(|o| o.payload.len()).sum::<usize>();
    sink(total, &mut |w: &mut dyn FnMut(&[u8])| {
        w(&head);
        for o in &outs {
            w(&o.payload);
        }
    })
}

/// Compresses into a new vector.
pub fn compress_vec(src: &[u8], metadata: &[u8], opts: &Options) -> Result<Vec<u8>> {
    compress_with(src, metadata, opts, |total, emit| {
        let mut v = Vec::new();
        v.try_reserve_exact(total).map_err(|_| Error::Alloc)?;
        emit(&mut |b| v.extend_from_slice(b));
        Ok(v)
    })
}

/// Compresses into `dst`; returns the frame size. `dst` is untouched on error.
pub fn compress_into(src: &[u8], metadata: &[u8], opts: &Options, dst: &mut [u8]) -> Result<usize> {
    compress_with(src, metadata, opts, |total, emit| {
        if total > dst.len() {
            return Err(Error::DstTooSmall);
        }
        let mut at = 0;
        emit(&mut |b| {
            dst[at..at + b.len()].copy_from_slice(b);
            at += b.len();
        });
        Ok(total)
    })
}

/// Decodes chunk `i` of `frame` into `dst` (exactly the chunk's length), checking its
/// checksum first.
pub fn decode_chunk(frame: &Frame<'_>, i: usize, dst: &mut [u8]) -> Result<()> {
    verify_chunk(frame, i)?;
    decode_verified_chunk(frame, i, dst)
}

fn decode_verified_chunk(frame: &Frame<'_>, i: usize, dst: &mut [u8]) -> Result<()> {
    let h = frame.header();
    let payload = frame.chunk_payload(i);
    let planes = h.planes;
    let n = dst.len() / planes;
    if planes == 1 {
        let e = frame.planes(i).next().ok_or(Error::Internal)?;
        return codec::decode_plane(e.codec, payload, dst);
    }
    with_scratch(dst.len(), |buf| {
        let mut at = 0usize;
        for (e, plane) in frame.planes(i).zip(buf.chunks_exact_mut(n)) {
            let size = e.size as usize;
            codec::decode_plane(e.codec, &payload[at..at + size], plane)?;
            at += size;
        }
        transform::merge(h.dtype, planes, buf, dst);
        Ok(())
    })
}

/// Decodes a whole parsed frame into `dst` (exactly the original size). Every chunk
/// checksum is checked before anything is written, so a damaged frame leaves `dst` as it
/// was; only a frame crafted to pass its checksums can fail after writing has begun.
pub fn decode_frame(frame: &Frame<'_>, dst: &mut [u8], threads: u32) -> Result<()> {
    verify_frame(frame)?;
    let h = frame.header();
    let (body, tail) = dst.split_at_mut(dst.len() - h.tail_len);
    tail.copy_from_slice(&h.tail[..h.tail_len]);
    let jobs: Vec<(usize, &mut [u8])> = body.chunks_mut(h.chunk_size).enumerate().collect();
    let results = par_map(threads, jobs, |(i, d)| decode_verified_chunk(frame, i, d))?;
    results.into_iter().collect()
}

fn verify_chunk(frame: &Frame<'_>, i: usize) -> Result<()> {
    if frame::checksum(frame.chunk_payload(i)) == frame.chunk_checksum(i) {
        Ok(())
    } else {
        Err(Error::Checksum)
    }
}

/// Checks every chunk's checksum without decoding.
pub fn verify_frame(frame: &Frame<'_>) -> Result<()> {
    (0..frame.chunk_count()).try_for_each(|i| verify_chunk(frame, i))
}
