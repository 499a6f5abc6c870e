//! Cuts the input into chunks, runs transform and codecs on each (in parallel with rayon),
//! and assembles or takes apart frames. Chunks are independent, so the output bytes do not
//! depend on the thread count.

use std::cell::RefCell;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Condvar, Mutex, MutexGuard};

use rayon::prelude::*;

use crate::codec::{self, Codec, Histogram, Role};
use crate::delta;
use crate::error::{Error, Result};
use crate::frame::{self, ChunkEntry, Frame, Header, PlaneEntry};
use crate::options::{DType, Level, Method, Options, MAX_METADATA_SIZE};
use crate::transform::{self, Layout};

mod compact;
pub mod pool;

thread_local! {
    /// Per-thread buffer for a delta frame's chunk before its XOR with the base (coding:
    /// the input XORed; decoding: the decoded difference), reused.
    static XORED: RefCell<Vec<u8>> = const { RefCell::new(Vec::new()) };
    /// Per-thread plane buffer, reused across chunks.
    static SCRATCH: RefCell<Vec<u8>> = const { RefCell::new(Vec::new()) };
    /// Per-thread buffer for one chunk's coded planes, reused across chunks.
    static PAYLOAD: RefCell<Vec<u8>> = const { RefCell::new(Vec::new()) };
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

/// Runs `f` over `items` with `threads` workers (0 = rayon's global pool, all cores;
/// 1 = the calling thread; see [`pool`]), returning the results in order.
pub(crate) fn par_map<I, T, F>(threads: u32, items: Vec<I>, f: F) -> Result<Vec<T>>
where
    I: Send,
    T: Send,
    F: Fn(I) -> T + Sync + Send,
{
    if items.len() <= 1 {
        return Ok(items.into_iter().map(f).collect());
    }
    let p = pool::pool(threads)?;
    if p.is_caller() {
        return Ok(items.into_iter().map(f).collect());
    }
    Ok(p.install(|| items.into_par_iter().map(f).collect()))
}

fn header_for(
    src_len: usize,
    metadata: &[u8],
    opts: &Options,
    base_hash: Option<u64>,
) -> Result<Header> {
    opts.validate()?;
    if metadata.len() > MAX_METADATA_SIZE {
        return Err(Error::InvalidParam);
    }
    let planes = opts.planes();
    let tail_len = src_len % planes;
    let mut h = Header {
        version: frame::VERSION,
        flags: 0,
        dtype: opts.dtype,
        planes,
        chunk_size: chunk_size_for(opts, base_hash.is_some()),
        original_size: src_len as u64,
        tail_len,
        tail: [0; 7],
        metadata_size: metadata.len(),
        lossy: opts.lossy,
        base_hash,
    };
    h.flags = h.implied_flags();
    Ok(h)
}

/// The chunk size of a frame with `opts`: [`Options::resolved_chunk_size`], but at least
/// [`delta::CHUNK_SIZE`] for a delta frame whose size is automatic at the default level of
/// method auto.
fn chunk_size_for(opts: &Options, delta: bool) -> usize {
    let cs = opts.resolved_chunk_size() as usize;
    if delta && opts.chunk_size == 0 && opts.method == Method::Auto && opts.level == Level::Default
    {
        cs.max(delta::CHUNK_SIZE)
    } else {
        cs
    }
}

/// The largest frame `compress` can produce for `src_len` bytes with no metadata (delta
/// frames included: the bound counts the base hash, with the chunk entries of a plain
/// frame, whose chunks are never longer than a delta frame's).
pub fn compress_bound(src_len: usize, opts: &Options) -> Result<usize> {
    let mut h = header_for(src_len, &[], opts, None)?;
    h.base_hash = Some(0);
    h.flags = h.implied_flags();
    let size = h.header_size().ok_or(Error::SrcTooLarge)?;
    usize::try_from(size)
        .ok()
        .and_then(|s| s.checked_add(src_len))
        .ok_or(Error::SrcTooLarge)
}

/// One coded chunk: its chunk table entry and its payload's length.
struct ChunkMeta {
    entry: ChunkEntry,
    size: usize,
}

/// [`encode_chunk_into`] of `chunk XOR base` for a delta frame: the XOR is made chunk by
/// chunk into a buffer that stays in the caches, not over the whole input beforehand.
fn encode_chunk_with(
    chunk: &[u8],
    base: Option<&[u8]>,
    opts: &Options,
    planes: usize,
    out: &mut [u8],
    stream: bool,
    alone: bool,
) -> ChunkMeta {
    let Some(base) = base else {
        return encode_chunk_into(chunk, opts, planes, out, stream, alone, false);
    };
    XORED.with(|x| {
        let mut fresh = Vec::new();
        let mut held = x.try_borrow_mut();
        // Re-entered on this thread (cannot happen today): use a fresh buffer.
        let buf = match held.as_deref_mut() {
            Ok(b) => b,
            Err(_) => &mut fresh,
        };
        buf.clear();
        buf.extend_from_slice(chunk);
        delta::xor_in_place(buf, base);
        encode_chunk_into(buf, opts, planes, out, stream, alone, true)
    })
}

/// A chunk of input and, for a delta frame, the same bytes of its base.
type Piece<'a> = (&'a [u8], Option<&'a [u8]>);

/// Codes one chunk into the start of `out` (at least the chunk's length, which bounds its
/// payload; a few bytes past the payload may be overwritten). With `stream`, raw planes
/// are written with non-temporal stores (see [`copy_raw`]). `alone`: the chunk is its
/// frame's only one (see [`codec::code_chunk_plane`]). `xor`: the chunk is a delta frame's
/// difference from its base, whose planes are also tried as sparse.
fn encode_chunk_into(
    chunk: &[u8],
    opts: &Options,
    planes: usize,
    out: &mut [u8],
    stream: bool,
    alone: bool,
    xor: bool,
) -> ChunkMeta {
    let code_plane = if xor {
        codec::sparse::code_xor_plane
    } else {
        codec::code_chunk_plane
    };
    let n = chunk.len() / planes;
    let mut entry = ChunkEntry::default();
    if planes == 1 {
        let (codec, size) = code_plane(chunk, None, opts, Role::Main, alone, out);
        if codec == Codec::Raw {
            copy_raw(chunk, &mut out[..size], stream);
        }
        entry.planes[0] = PlaneEntry {
            codec,
            size: size as u32,
        };
        // A raw plane is hashed from the input, which is warm, not from `out`.
        let payload: &[u8] = if codec == Codec::Raw {
            chunk
        } else {
            &out[..size]
        };
        entry.checksum = frame::checksum(payload);
        return ChunkMeta { entry, size };
    }
    with_scratch(chunk.len(), |buf| {
        // Plane 0 (the exponents) is always counted: count it during the split.
        let (layout, first) = if chooses_layout(opts) && opts.level == Level::Max {
            let (first, pairs) = transform::split_counting_layout(opts.dtype, planes, chunk, buf);
            choose_layout(opts, n, buf, first, &pairs)
        } else if chooses_layout(opts)
            && opts.dtype == DType::Fp16
            && !transform::counts_first_in_split(opts.dtype, planes, chunk)
        {
            // Both first planes counted exactly from the elements, in place of the pass
            // that would count plane 0 after the split; the split then makes the chosen
            // layout's planes. (Where plane 0 has a window of values, it is counted inside
            // the split, and the layout chosen from the sample as for bf16: counting both
            // first planes exactly there cost 3% of the time on GGUF fp16 scales.)
            let (layout, first) = choose_layout_counted(opts, n, chunk);
            transform::split(layout.transform_dtype(opts.dtype), planes, chunk, buf);
            (layout, first)
        } else if chooses_layout(opts) {
            // Chosen from the elements themselves, before the split, which then makes that
            // layout's planes directly.
            let layout = choose_layout_sampled(opts, n, chunk);
            let first = transform::split_counting_first_in(opts.dtype, layout, planes, chunk, buf);
            (layout, first)
        } else {
            let first = transform::split_counting_first(opts.dtype, planes, chunk, buf);
            (Layout::Dtype, first)
        };
        entry.layout = layout;
        let mut at = 0usize;
        for (k, (e, plane)) in entry.planes.iter_mut().zip(buf.chunks_exact(n)).enumerate() {
            let hist = (k == 0).then_some(&first);
            let role = Role::of(opts.dtype, k);
            let (codec, size) = code_plane(plane, hist, opts, role, alone, &mut out[at..]);
            if codec == Codec::Raw && !stream {
                // (Streamed raw planes are copied as the checksum reads them, below.)
                copy_raw(plane, &mut out[at..at + size], false);
            }
            *e = PlaneEntry {
                codec,
                size: size as u32,
            };
            at += size;
        }
        // The checksum reads raw planes from the scratch buffer, still in cache, rather than
        // from `out`. With `stream`, it also copies them into `out` (non-temporal stores)
        // as it reads them, so that they are read once (MiniLM bf16, one thread: the copy
        // and the checksum were 7% and 5% of a compression).
        let mut parts: [&[u8]; 8] = [&[]; 8];
        let mut copies: [Option<&mut [u8]>; 8] = Default::default();
        let mut rest: &mut [u8] = &mut out[..at];
        for (k, ((part, copy), e)) in parts
            .iter_mut()
            .zip(copies.iter_mut())
            .zip(&entry.planes[..planes])
            .enumerate()
        {
            let (head, tail) = std::mem::take(&mut rest).split_at_mut(e.size as usize);
            rest = tail;
            if e.codec == Codec::Raw {
                *part = &buf[k * n..(k + 1) * n];
                if stream {
                    *copy = Some(head);
                }
            } else {
                *part = head;
            }
        }
        entry.checksum = frame::checksum_parts_copying(&parts[..planes], &mut copies[..planes]);
        ChunkMeta { entry, size: at }
    })
}

/// Asks the caches for the lines that the layout sample of `chunk` will read
/// ([`choose_layout_sampled`]: a block every 8 KiB), where the chunk is one whose layout is
/// chosen at the default level. Called by the worker that has just coded the chunk before
/// `chunk` in [`compress_frames`]' order, so that the sample's misses, spread over memory,
/// overlap instead of stalling it one by one. Given the next piece itself, not the chunk
/// after the last one in memory: after the short last chunk of a tensor (every tensor of a
/// safetensors archive) that guess had the next tensor's first chunk sampled at the short
/// chunk's spacing. (A chunk whose layout is counted whole, fp16 where its exponents have
/// no window, reads its elements in order, and the hint does no harm there.)
fn prefetch_layout_sample(opts: &Options, chunk: &[u8]) {
    if chooses_layout(opts) && opts.level == Level::Default {
        transform::TopSample::prefetch(opts.dtype, chunk);
    }
}

/// Whether the encoder chooses each chunk's layout: method auto at the default and max
/// levels, for the dtypes that offer two (level fast keeps layout 0).
fn chooses_layout(opts: &Options) -> bool {
    transform::has_bytes_layout(opts.dtype)
        && opts.method == Method::Auto
        && opts.level != Level::Fast
}

/// The layout of a chunk whose planes of layout 0 are in `buf` (`n` bytes each), the first
/// with histogram `first`: layout 1 where its first two planes code smaller than layout 0's
/// (ties keep layout 0). Returns the layout and its first plane's histogram, and leaves its
/// planes in `buf`.
///
/// The costs are order-0 sizes ([`codec::order0_cost`]) from exact counts: layout 1's first
/// plane's histogram follows from layout 0's and the negative elements' exponent pairs
/// ([`transform::split_counting_layout`]); the second planes are counted only where layout
/// 0's is not near-random, since they differ only in holding the sign or the exponent's low
/// bit, and both are stored raw otherwise.
fn choose_layout(
    opts: &Options,
    n: usize,
    buf: &mut [u8],
    first: Histogram,
    pairs: &transform::Pairs,
) -> (Layout, Histogram) {
    let dtype = opts.dtype;
    if n == 0 {
        return (Layout::Dtype, first);
    }
    let (p0, rest) = buf.split_at_mut(n);
    let p1 = &mut rest[..n];
    let bytes_first = transform::bytes_first_plane(&first, pairs);
    let cost = |h: &Histogram, role| codec::order0_cost(h, n, opts, role);
    let (mut cost0, mut cost1) = (cost(&first, Role::Main), cost(&bytes_first, Role::Main));
    if !codec::near_random_mantissa(p1, opts) {
        let (s0, s1) = transform::second_planes(dtype, p0, p1);
        cost0 += cost(&s0, Role::Mantissa);
        cost1 += cost(&s1, Role::Mantissa);
    }
    if cost1 < cost0 {
        transform::to_bytes_layout(dtype, p0, p1);
        (Layout::Bytes, bytes_first)
    } else {
        (Layout::Dtype, first)
    }
}

/// The default level's [`choose_layout`]: the same costs, from a spread sample of the
/// chunk's elements `chunk` ([`transform::TopSample`], 1/64 of them) instead of exact
/// counts of both layouts (MiniLM bf16, one default compression: 268.8M instructions with
/// exact counts, 249.1M with the sample, 233.6M without a choice; the ratio moved by at
/// most 0.01 pp on the corpus, either way). Where the sample misjudges, the two layouts
/// are within its noise of each other.
fn choose_layout_sampled(opts: &Options, n: usize, chunk: &[u8]) -> Layout {
    let dtype = opts.dtype;
    let sample = transform::TopSample::of(dtype, chunk);
    let m = sample.count;
    let cost = |(p0, p1): (Histogram, Histogram)| {
        codec::order0_cost_sampled(&p0, m, n, opts, Role::Main)
            + codec::order0_cost_sampled(&p1, m, n, opts, Role::Mantissa)
    };
    if cost(sample.planes(dtype, Layout::Bytes)) < cost(sample.planes(dtype, Layout::Dtype)) {
        Layout::Bytes
    } else {
        Layout::Dtype
    }
}

/// The default level's layout choice for fp16 where its exponent plane (`e5 m3`) has no
/// window of 16 values that holds nearly all of it (trained weights: MiniLM needs 58
/// values for 31/32 of it), so that it would be counted in a pass of its own after the
/// split (not inside the split, as bf16's and fp32's are): that pass is replaced by one
/// count of the elements' top nine bits before the split
/// ([`transform::count_first_and_pairs`], the same work), which gives both layouts' first
/// planes' histograms exactly. The second planes' costs, which decide only where the first
/// planes' are close and the second planes are not near-random, come from the spread
/// sample of [`choose_layout_sampled`] with its second table only
/// ([`transform::TopSample::of_second`]). Returns the layout and its first plane's
/// histogram.
fn choose_layout_counted(opts: &Options, n: usize, chunk: &[u8]) -> (Layout, Histogram) {
    let dtype = opts.dtype;
    let (first, pairs) = transform::count_first_and_pairs(dtype, chunk);
    let bytes_first = transform::bytes_first_plane(&first, &pairs);
    let sample = transform::TopSample::of_second(dtype, chunk);
    let m = sample.count;
    let cost = |p0: &Histogram, layout| {
        let p1 = sample.planes(dtype, layout).1;
        codec::order0_cost(p0, n, opts, Role::Main)
            + codec::order0_cost_sampled(&p1, m, n, opts, Role::Mantissa)
    };
    if cost(&bytes_first, Layout::Bytes) < cost(&first, Layout::Dtype) {
        (Layout::Bytes, bytes_first)
    } else {
        (Layout::Dtype, first)
    }
}

/// Copies a raw plane into its place in the output; with `stream` (and AVX2), with
/// non-temporal stores. The one-thread path writes a large frame's chunks straight into
/// the frame, which cannot stay in the caches: plain stores would first read every
/// destination line from memory (read-for-ownership). Measured on MiniLM bf16 (half of
/// its bytes are raw planes), one thread: 2535 -> 2667 MB/s with the checksum change
/// beside it; fp32 (three raw planes of four) 2566 -> 2789.
fn copy_raw(plane: &[u8], dst: &mut [u8], stream: bool) {
    #[cfg(target_arch = "x86_64")]
    {
        if stream && std::is_x86_feature_detected!("avx2") {
            // SAFETY: the CPU supports AVX2 (checked just above).
            unsafe { copy_stream_avx2(plane, dst) };
            return;
        }
    }
    let _ = stream;
    dst.copy_from_slice(plane);
}

/// `dst.copy_from_slice(src)` with 32-byte non-temporal stores from the first 32-byte
/// aligned byte of `dst` (plain copies before and after), then a store fence.
///
/// # Safety
/// The CPU must support AVX2.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
unsafe fn copy_stream_avx2(src: &[u8], dst: &mut [u8]) {
    use std::arch::x86_64::*;
    assert_eq!(src.len(), dst.len());
    let len = dst.len();
    let head = (dst.as_ptr() as usize).wrapping_neg() % 32;
    if len < head + 32 {
        dst.copy_from_slice(src);
        return;
    }
    dst[..head].copy_from_slice(&src[..head]);
    let blocks = (len - head) / 32;
    let (s, d) = (src.as_ptr(), dst.as_mut_ptr());
    for i in 0..blocks {
        let at = head + 32 * i;
        // SAFETY: at + 32 <= head + 32 * blocks <= len for both slices; `d + at` is 32-byte
        // aligned (`head` aligns it).
        unsafe {
            let v = _mm256_loadu_si256(s.add(at).cast());
            _mm256_stream_si256(d.add(at).cast(), v);
        }
    }
    // Order the non-temporal stores before anything that follows.
    _mm_sfence();
    let done = head + 32 * blocks;
    dst[done..].copy_from_slice(&src[done..]);
}

/// Largest pair of batch buffers kept between calls.
const BATCH_CACHE_MAX: usize = 16 << 20;

/// Buffers for parallel batches, kept between calls so their pages are not faulted in again.
static BATCH_BUF: Mutex<Vec<u8>> = Mutex::new(Vec::new());

/// One frame for [`compress_frames`].
pub(crate) struct FramePlan<'a> {
    /// The bytes to code (after the lossy step).
    pub src: &'a [u8],
    /// For a delta frame, the base the bytes are XORed with (of their length).
    pub base: Option<&'a [u8]>,
    /// The caller's metadata block.
    pub metadata: &'a [u8],
    /// The options (the thread count is [`compress_frames`]'s).
    pub opts: Options,
    /// For a delta frame, the base's hash.
    pub base_hash: Option<u64>,
    /// Whether a compact frame may be coded adaptively (codec 10, max level). Frames that
    /// are whole inputs may; an archive's tensors may not: its decoder runs at tens of
    /// MB/s, and the small tensors of a model, decoded at every load, would take longer
    /// than the rest of the model (isnet-u8's archive at max: 60 -> 104 ms to decompress
    /// for 0.09% of its size).
    pub adaptive: bool,
}

/// A frame being laid out by [`compress_frames`]: its header, where it starts and its
/// header's size, its chunk count, and whether its raw planes are written around the
/// caches.
struct Planned {
    header: Header,
    hsize: usize,
    chunks: usize,
    stream: bool,
    /// For a compact frame (coded whole as its one piece, with no header slot of its own):
    /// the ordinary frame's header size, which its piece's slot must also hold.
    compact: Option<usize>,
}

/// Places frames one after the other in an output, chunk payload by chunk payload in
/// order, writing each frame's header once its last chunk is placed.
struct Placer<'d, 'p> {
    rest: &'d mut [u8],
    frames: &'p [Planned],
    metadata: Vec<&'p [u8]>,
    /// The next frame to open.
    next: usize,
    /// The open frame's header slot, size so far, chunks still to place and entries.
    head: &'d mut [u8],
    size: usize,
    left: usize,
    entries: Vec<ChunkEntry>,
    sizes: Vec<usize>,
}

impl<'d, 'p> Placer<'d, 'p> {
    /// Opens the next frame when none is open (frames without chunks are written at once).
    fn open(&mut self) {
        while self.left == 0 && self.next < self.frames.len() {
            let f = &self.frames[self.next];
            let (head, rest) = std::mem::take(&mut self.rest).split_at_mut(f.hsize);
            (self.head, self.rest) = (head, rest);
            (self.size, self.left) = (f.hsize, f.chunks);
            self.entries.clear();
            self.next += 1;
            if f.chunks == 0 {
                self.close();
            }
        }
    }

    /// Writes the open frame's header (a compact frame's piece was the whole frame).
    fn close(&mut self) {
        let k = self.next - 1;
        let head = std::mem::take(&mut self.head);
        if self.frames[k].compact.is_some() {
            self.entries.clear();
            self.sizes.push(self.size);
            return;
        }
        self.frames[k]
            .header
            .write(self.metadata[k], self.entries.drain(..), head);
        self.sizes.push(self.size);
    }

    /// The output from where the next chunk's payload goes (of the open frame).
    fn rest(&mut self) -> &mut [u8] {
        self.open();
        self.rest
    }

    /// Takes the place of the next chunk's payload, of `m.size` bytes.
    fn place(&mut self, m: &ChunkMeta) -> &'d mut [u8] {
        self.open();
        let (d, rest) = std::mem::take(&mut self.rest).split_at_mut(m.size);
        self.rest = rest;
        self.size += m.size;
        self.entries.push(m.entry);
        self.left -= 1;
        if self.left == 0 {
            self.close();
        }
        d
    }

    /// Every frame's size, once all chunks are placed.
    fn finish(mut self) -> Vec<usize> {
        self.open();
        self.sizes
    }
}

/// Codes `plans` into `dst`, frame after frame, and returns each frame's size. `dst`
/// must hold each frame's header and whole elements (see [`frame_room`]; else
/// `DstTooSmall` before any work). `large`: `dst` is part of an output too large to stay
/// in the caches (see [`copy_raw`]).
///
/// One thread codes each chunk straight behind the previous one. Several threads take the
/// chunks of all the frames (so that small frames keep them as busy as one large frame)
/// one at a time, with no barrier between them ([`Spread`]).
pub(crate) fn compress_frames(
    plans: &[FramePlan<'_>],
    threads: u32,
    dst: &mut [u8],
    large: bool,
) -> Result<Vec<usize>> {
    compress_frames_hooked(plans, threads, dst, large, &|_| {})
}

/// [`compress_frames`], calling `hook(i)` on the worker that is about to code piece `i`
/// (the tests delay or fail pieces there).
fn compress_frames_hooked(
    plans: &[FramePlan<'_>],
    threads: u32,
    dst: &mut [u8],
    large: bool,
    hook: &(dyn Fn(usize) + Sync),
) -> Result<Vec<usize>> {
    let mut frames = Vec::with_capacity(plans.len());
    // (frame, chunk, the chunk's base)
    let mut pieces: Vec<(usize, Piece<'_>)> = Vec::new();
    let mut room = 0usize;
    for (k, p) in plans.iter().enumerate() {
        let mut header = header_for(p.src.len(), p.metadata, &p.opts, p.base_hash)?;
        let (hsize, body_len) = frame_room(&header)?;
        room = room
            .checked_add(hsize + body_len)
            .ok_or(Error::SrcTooLarge)?;
        let cs = header.chunk_size;
        let body = &p.src[..body_len];
        let tail = &mut header.tail[..header.tail_len];
        tail.copy_from_slice(&p.src[body_len..]);
        if let Some(b) = p.base {
            delta::xor_in_place(tail, &b[body_len..]);
        }
        let before = pieces.len();
        // A compact frame is coded whole, as its one piece, into the place of its header
        // and chunk (it is never longer than the ordinary frame).
        let compact = frame::compact::eligible(&header);
        match p.base {
            None if compact => pieces.push((k, (body, None))),
            None => pieces.extend(body.chunks(cs).map(|c| (k, (c, None)))),
            Some(b) => pieces.extend(
                body.chunks(cs)
                    .zip(b[..body_len].chunks(cs))
                    .map(|(c, b)| (k, (c, Some(b)))),
            ),
        }
        frames.push(Planned {
            header,
            hsize: if compact { 0 } else { hsize },
            chunks: pieces.len() - before,
            stream: large || body_len >= STREAM_OUTPUT_MIN as usize,
            compact: compact.then_some(hsize),
        });
    }
    if dst.len() < room {
        return Err(Error::DstTooSmall);
    }
    let mut placer = Placer {
        rest: dst,
        frames: &frames,
        metadata: plans.iter().map(|p| p.metadata).collect(),
        next: 0,
        head: &mut [],
        size: 0,
        left: 0,
        entries: Vec::new(),
        sizes: Vec::with_capacity(plans.len()),
    };
    let code = |i: usize, k: usize, (c, b): Piece<'_>, out: &mut [u8], stream: bool| {
        hook(i);
        let o = &plans[k].opts;
        let f = &frames[k];
        let m = if f.compact.is_some() {
            let size = compact::encode_frame(&f.header, c, o, plans[k].adaptive, out);
            ChunkMeta {
                entry: ChunkEntry::default(),
                size,
            }
        } else {
            encode_chunk_with(c, b, o, f.header.planes, out, stream, f.chunks == 1)
        };
        if let Some(&(k, (next, _))) = pieces.get(i + 1) {
            prefetch_layout_sample(&plans[k].opts, next);
        }
        m
    };
    let workers = pool::workers(threads);
    if workers <= 1 || pieces.len() <= 1 {
        // Chunks go straight into place: raw planes streamed into a large output.
        for (i, &(k, piece)) in pieces.iter().enumerate() {
            let m = code(i, k, piece, placer.rest(), frames[k].stream);
            placer.place(&m);
        }
        return Ok(placer.finish());
    }
    // A slot holds a piece's payload (a compact frame's whole frame: its ordinary header
    // and chunk at most).
    let slot = |&(k, (c, _)): &(usize, Piece<'_>)| c.len() + frames[k].compact.unwrap_or(0);
    let cs = pieces.iter().map(slot).max().unwrap_or(0);
    let need = (SLOTS_PER_WORKER * workers).min(pieces.len()) * cs;
    let mut cache = std::mem::take(&mut *BATCH_BUF.lock().unwrap_or_else(|e| e.into_inner()));
    if cache.len() < need {
        cache = zeroed_vec(need)?;
    }
    let slots: Vec<Mutex<&mut [u8]>> = cache[..need].chunks_mut(cs).map(Mutex::new).collect();
    let spread = Spread {
        pieces: &pieces,
        state: Mutex::new(SpreadState {
            placer,
            ready: (0..pieces.len()).map(|_| None).collect(),
            placed: 0,
            free: (0..slots.len()).rev().collect(),
            waiting: 0,
            stopped: false,
        }),
        slots,
        next: AtomicUsize::new(0),
        wake: Condvar::new(),
    };
    pool::pool(threads)?.install(|| {
        (0..workers)
            .into_par_iter()
            .for_each(|_| spread.work(&code))
    });
    let Spread { state, slots, .. } = spread;
    let placer = state.into_inner().unwrap_or_else(|e| e.into_inner()).placer;
    drop(slots);
    if need <= BATCH_CACHE_MAX {
        *BATCH_BUF.lock().unwrap_or_else(|e| e.into_inner()) = cache;
    }
    Ok(placer.finish())
}

/// Slots per worker for [`compress_frames`]' payloads on their way into place.
const SLOTS_PER_WORKER: usize = 4;

/// The pieces of [`compress_frames`] coded by several workers with no barrier between
/// them. Each worker takes the next piece in order and codes it: straight into its place
/// in the output when every piece before it is placed (the piece at the front: no other
/// worker places anything until it is), into a free slot otherwise. The worker that
/// completes the run of coded pieces at the front places them and copies their payloads
/// from the slots into place (the slots stay in the caches). So the output is written
/// once, and a worker waits only when every slot holds a payload behind a piece still
/// being coded. The piece at the front never waits, so the work always goes on.
struct Spread<'s, 'p, 'd, 'f> {
    pieces: &'s [(usize, Piece<'p>)],
    slots: Vec<Mutex<&'s mut [u8]>>,
    /// The next piece to take.
    next: AtomicUsize,
    state: Mutex<SpreadState<'d, 'f>>,
    /// Signalled when a slot is freed or the front moves (or the work stops).
    wake: Condvar,
}

/// What [`Spread`]'s workers share under its lock.
struct SpreadState<'d, 'f> {
    placer: Placer<'d, 'f>,
    /// Pieces coded into a slot and not yet placed: their chunk and slot.
    ready: Vec<Option<(ChunkMeta, usize)>>,
    /// Pieces placed so far (the piece at the front).
    placed: usize,
    /// Slots not in use.
    free: Vec<usize>,
    /// Workers waiting for a slot or for the front.
    waiting: usize,
    /// A worker panicked: the others stop waiting and end.
    stopped: bool,
}

/// Tells the other workers of a [`Spread`] to stop when a worker unwinds.
struct StopOnPanic<'a, 'd, 'f>(&'a Mutex<SpreadState<'d, 'f>>, &'a Condvar);

impl Drop for StopOnPanic<'_, '_, '_> {
    fn drop(&mut self) {
        if std::thread::panicking() {
            self.0.lock().unwrap_or_else(|e| e.into_inner()).stopped = true;
            self.1.notify_all();
        }
    }
}

impl<'d, 'f> Spread<'_, '_, 'd, 'f> {
    fn lock(&self) -> MutexGuard<'_, SpreadState<'d, 'f>> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// One worker: takes pieces until none is left. `code(i, frame, piece, out, stream)`
    /// codes piece `i` into the start of `out`.
    fn work(&self, code: &(impl Fn(usize, usize, Piece<'_>, &mut [u8], bool) -> ChunkMeta + Sync)) {
        let _stop = StopOnPanic(&self.state, &self.wake);
        // (slot, payload size, place, streamed)
        let mut copies: Vec<(usize, usize, &'d mut [u8], bool)> = Vec::new();
        loop {
            let i = self.next.fetch_add(1, Ordering::Relaxed);
            let Some(&(k, piece)) = self.pieces.get(i) else {
                return;
            };
            let mut st = self.lock();
            let slot = loop {
                if st.stopped {
                    return;
                }
                if st.placed == i {
                    break None;
                }
                if let Some(s) = st.free.pop() {
                    break Some(s);
                }
                st.waiting += 1;
                st = self.wake.wait(st).unwrap_or_else(|e| e.into_inner());
                st.waiting -= 1;
            };
            let front = st.placed;
            match slot {
                None => {
                    let stream = st.placer.frames[k].stream;
                    st.placer.open();
                    let rest = std::mem::take(&mut st.placer.rest);
                    drop(st);
                    let m = code(i, k, piece, rest, stream);
                    st = self.lock();
                    st.placer.rest = rest;
                    st.placer.place(&m);
                    st.placed += 1;
                }
                Some(s) => {
                    drop(st);
                    let mut buf = self.slots[s].lock().unwrap_or_else(|e| e.into_inner());
                    // The slots are reused and stay in the caches: plain stores.
                    let m = code(i, k, piece, &mut buf, false);
                    drop(buf);
                    st = self.lock();
                    st.ready[i] = Some((m, s));
                }
            }
            // Place the pieces now at the front; their payloads are copied after the lock.
            loop {
                let p = st.placed;
                let Some((m, s)) = st.ready.get_mut(p).and_then(Option::take) else {
                    break;
                };
                let stream = st.placer.frames[self.pieces[p].0].stream;
                copies.push((s, m.size, st.placer.place(&m), stream));
                st.placed += 1;
            }
            let moved = st.placed != front;
            if moved && st.waiting > 0 {
                self.wake.notify_all();
            }
            drop(st);
            if copies.is_empty() {
                continue;
            }
            let mut done = Vec::with_capacity(copies.len());
            for (s, size, place, stream) in copies.drain(..) {
                let buf = self.slots[s].lock().unwrap_or_else(|e| e.into_inner());
                copy_raw(&buf[..size], place, stream);
                done.push(s);
            }
            let mut st = self.lock();
            st.free.extend(done);
            if st.waiting > 0 {
                self.wake.notify_all();
            }
        }
    }
}

/// Asks Linux to back a large fresh allocation with transparent huge pages where the system
/// allows it (`madvise` mode): a frame's output is written once, front to back, and 4 KiB
/// page faults (one per 4 KiB written, each with its own zeroing and accounting) cost more
/// than the coding on a 45 MB output. Advice only: failure changes nothing.
#[cfg(target_os = "linux")]
fn advise_huge_pages(ptr: *mut u8, n: usize) {
    const HUGE_MIN: usize = 4 << 20;
    const PAGE: usize = 4096;
    if n < HUGE_MIN {
        return;
    }
    let start = (ptr as usize).next_multiple_of(PAGE);
    let end = (ptr as usize + n) & !(PAGE - 1);
    if end > start {
        // SAFETY: [start, end) lies within the allocation just made, page-aligned; the
        // advice does not change the memory's contents or validity.
        unsafe { libc::madvise(start as *mut libc::c_void, end - start, libc::MADV_HUGEPAGE) };
    }
}

#[cfg(not(target_os = "linux"))]
fn advise_huge_pages(_ptr: *mut u8, _n: usize) {}

/// A zero-filled vector of `n` bytes, or `Err(Alloc)`; fresh pages come zeroed from the
/// allocator instead of being written.
pub fn zeroed_vec(n: usize) -> Result<Vec<u8>> {
    if n == 0 {
        return Ok(Vec::new());
    }
    let layout = std::alloc::Layout::array::<u8>(n).map_err(|_| Error::Alloc)?;
    // SAFETY: `layout` has a nonzero size.
    let ptr = unsafe { std::alloc::alloc_zeroed(layout) };
    if ptr.is_null() {
        return Err(Error::Alloc);
    }
    advise_huge_pages(ptr, n);
    // SAFETY: `ptr` was allocated by the global allocator with the layout of `n` u8s, and
    // all `n` bytes are initialised (zero).
    Ok(unsafe { Vec::from_raw_parts(ptr, n, n) })
}

/// The frame's exact header size and the room its payloads may need (the whole elements).
fn frame_room(header: &Header) -> Result<(usize, usize)> {
    let hsize = header.header_size().ok_or(Error::SrcTooLarge)?;
    let hsize = usize::try_from(hsize).map_err(|_| Error::SrcTooLarge)?;
    let body = (header.original_size - header.tail_len as u64) as usize;
    hsize.checked_add(body).ok_or(Error::SrcTooLarge)?;
    Ok((hsize, body))
}

/// Compresses into `dst`, which must hold the header plus the whole elements of `src`
/// (see [`frame_room`]), with [`compress_frames`].
fn compress_in_place(
    plan: FramePlan<'_>,
    threads: u32,
    dst: &mut [u8],
    large: bool,
) -> Result<usize> {
    let sizes = compress_frames(std::slice::from_ref(&plan), threads, dst, large)?;
    sizes.first().copied().ok_or(Error::Internal)
}

/// Compresses into a new vector. For a delta frame, `base` is what `src` is XORed with (of
/// its length) and `base_hash` its hash.
pub fn compress_vec(
    src: &[u8],
    base: Option<&[u8]>,
    metadata: &[u8],
    opts: &Options,
    base_hash: Option<u64>,
) -> Result<Vec<u8>> {
    let header = header_for(src.len(), metadata, opts, base_hash)?;
    let (hsize, body) = frame_room(&header)?;
    let mut v = zeroed_vec(hsize + body)?;
    let plan = FramePlan {
        src,
        base,
        metadata,
        opts: opts.clone(),
        base_hash,
        adaptive: true,
    };
    let n = compress_in_place(plan, opts.threads, &mut v, false)?;
    v.truncate(n);
    v.shrink_to_fit();
    Ok(v)
}

/// Compresses into `dst`; returns the frame size. `dst` is untouched on error. `large`:
/// `dst` is part of an output too large to stay in the caches (see [`copy_raw`]).
pub fn compress_into(
    src: &[u8],
    base: Option<&[u8]>,
    metadata: &[u8],
    opts: &Options,
    base_hash: Option<u64>,
    dst: &mut [u8],
    large: bool,
) -> Result<usize> {
    let header = header_for(src.len(), metadata, opts, base_hash)?;
    let (hsize, body) = frame_room(&header)?;
    if dst.len() >= hsize + body {
        let plan = FramePlan {
            src,
            base,
            metadata,
            opts: opts.clone(),
            base_hash,
            adaptive: true,
        };
        return compress_in_place(plan, opts.threads, dst, large);
    }
    // Smaller than the worst case: code aside, then copy if the frame fits.
    let v = compress_vec(src, base, metadata, opts, base_hash)?;
    if v.len() > dst.len() {
        return Err(Error::DstTooSmall);
    }
    dst[..v.len()].copy_from_slice(&v);
    Ok(v.len())
}

/// Decodes chunk `i` of `frame` into `dst` (exactly the chunk's length), checking its
/// checksum first. With `base`, the same bytes of a delta frame's (checked) base, `dst`
/// receives the original bytes (see [`decode_verified_chunk_with`]). `large`: `dst` is
/// part of an output too large to stay in the caches.
pub fn decode_chunk_with(
    frame: &Frame<'_>,
    i: usize,
    dst: &mut [u8],
    base: Option<&[u8]>,
    large: bool,
) -> Result<()> {
    verify_chunk(frame, i)?;
    decode_verified_chunk_with(frame, i, dst, base, large)
}

/// [`decode_verified_chunk`], then, with `base` (the chunk's bytes of a delta frame's
/// base), the XOR that gives the original bytes. The difference is decoded into a
/// per-thread buffer that stays in the caches, and `dst` is written once, by the XOR
/// (around the caches for a large output), instead of being written by the merge, then
/// read back and written again by a separate XOR pass.
pub fn decode_verified_chunk_with(
    frame: &Frame<'_>,
    i: usize,
    dst: &mut [u8],
    base: Option<&[u8]>,
    large: bool,
) -> Result<()> {
    let Some(base) = base else {
        return decode_verified_chunk(frame, i, dst, large);
    };
    if base.len() != dst.len() {
        return Err(Error::Internal);
    }
    let stream = large || frame.header().original_size >= STREAM_OUTPUT_MIN;
    XORED.with(|x| {
        let mut fresh = Vec::new();
        let mut held = x.try_borrow_mut();
        // Re-entered on this thread (cannot happen today): use a fresh buffer.
        let buf = match held.as_deref_mut() {
            Ok(b) => b,
            Err(_) => &mut fresh,
        };
        if buf.len() < dst.len() {
            buf.resize(dst.len(), 0);
        }
        let diff = &mut buf[..dst.len()];
        decode_chunk_planes(frame, i, diff, false)?;
        delta::xor_to(dst, diff, base, stream);
        Ok(())
    })
}

/// Decodes chunk `i` of `frame`, whose checksum [`verify_chunk`] has already checked, into
/// `dst` (exactly the chunk's length). `large`: `dst` is part of an output too large to
/// stay in the caches.
pub fn decode_verified_chunk(
    frame: &Frame<'_>,
    i: usize,
    dst: &mut [u8],
    large: bool,
) -> Result<()> {
    let stream = large || frame.header().original_size >= STREAM_OUTPUT_MIN;
    decode_chunk_planes(frame, i, dst, stream)
}

/// Decodes chunk `i`'s planes and merges them into `dst`; with `stream`, the merge writes
/// `dst` with non-temporal stores where it can.
fn decode_chunk_planes(frame: &Frame<'_>, i: usize, dst: &mut [u8], stream: bool) -> Result<()> {
    if let Some(codec) = frame.joined() {
        return compact::decode_joined(frame, codec, dst);
    }
    let h = frame.header();
    let payload = frame.chunk_payload(i);
    if h.planes == 1 {
        let e = frame.planes(i).next().ok_or(Error::Internal)?;
        return codec::decode_plane(e.codec, payload, dst);
    }
    // (`n` is at least 1: a chunk holds whole elements, at least one.)
    let n = (dst.len() / h.planes).max(1);
    with_scratch(dst.len(), |buf| {
        // Coded planes are decoded into the scratch buffer; raw planes are merged straight
        // from the payload, which the Huffman decoder asks the caches for as it goes.
        let warm = raw_span(frame, i);
        codec::decode_planes(
            coded_planes(frame, i, buf, n),
            payload.get(warm).unwrap_or(&[]),
        )?;
        merge_chunk(frame, i, buf, n, dst, stream);
        Ok(())
    })
}

/// Chunk `i`'s planes as `(codec, payload, slot)`, the slots `n`-byte pieces of `buf`.
fn coded_planes<'a>(
    frame: &'a Frame<'_>,
    i: usize,
    buf: &'a mut [u8],
    n: usize,
) -> impl Iterator<Item = (Codec, &'a [u8], &'a mut [u8])> + 'a {
    let payload = frame.chunk_payload(i);
    let mut at = 0usize;
    frame
        .planes(i)
        .zip(buf.chunks_exact_mut(n))
        .map(move |(e, slot)| {
            let p = &payload[at..at + e.size as usize];
            at += p.len();
            (e.codec, p, slot)
        })
}

/// Where chunk `i`'s raw planes lie in its payload, from the first to the last: the merge
/// reads them after the coded planes are decoded (empty if there are none).
fn raw_span(frame: &Frame<'_>, i: usize) -> std::ops::Range<usize> {
    let mut warm = (usize::MAX, 0);
    let mut at = 0usize;
    for e in frame.planes(i) {
        if e.codec == Codec::Raw {
            warm = (warm.0.min(at), at + e.size as usize);
        }
        at += e.size as usize;
    }
    warm.0.min(warm.1)..warm.1
}

/// Merges chunk `i`'s planes into `dst`: the coded ones from their `n`-byte slots in `buf`,
/// the raw ones from the payload.
fn merge_chunk(frame: &Frame<'_>, i: usize, buf: &[u8], n: usize, dst: &mut [u8], stream: bool) {
    let h = frame.header();
    let payload = frame.chunk_payload(i);
    let mut views: [&[u8]; 8] = [&[]; 8];
    let mut at = 0usize;
    for ((e, slot), view) in frame.planes(i).zip(buf.chunks_exact(n)).zip(&mut views) {
        let p = &payload[at..at + e.size as usize];
        at += p.len();
        *view = if e.codec == Codec::Raw { p } else { slot };
    }
    let dtype = frame.layout(i).transform_dtype(h.dtype);
    transform::merge_planes_with(dtype, &views[..h.planes], dst, stream);
}

/// A chunk to decode: its frame, its index and its output (exactly the chunk's length).
pub(crate) type ChunkOut<'f, 'a, 'd> = (&'f Frame<'a>, usize, &'d mut [u8]);

/// [`decode_verified_chunk`] of two chunks (checked) of the same frame or of two frames,
/// each with its own result, as if decoded one after the other (each whether or not the
/// other fails): the same outputs and errors. Where each has a Huffman plane, the first of
/// each are decoded together ([`codec::huffman::decode_pair_warming`]: eight chains of
/// lookups instead of four; MiniLM on one core, exponent planes 3.8 -> 4.2 Gsymbols/s for
/// bf16, 1.8 -> 2.0 for fp16), whether the chunks are neighbours in one frame or in two
/// (the tensors of a safetensors archive, the frames of a stream).
pub(crate) fn decode_verified_chunks_paired(
    a: ChunkOut<'_, '_, '_>,
    b: ChunkOut<'_, '_, '_>,
    large: bool,
) -> (Result<()>, Result<()>) {
    let stream = |f: &Frame<'_>| large || f.header().original_size >= STREAM_OUTPUT_MIN;
    let (sa, sb) = (stream(a.0), stream(b.0));
    match decode_chunk_pair_planes((a.0, a.1, &mut *a.2), (b.0, b.1, &mut *b.2), sa, sb) {
        Some(Ok(())) => (Ok(()), Ok(())),
        // Not a pair, or an error: one after the other, for the same outputs and errors.
        _ => (
            decode_chunk_planes(a.0, a.1, a.2, sa),
            decode_chunk_planes(b.0, b.1, b.2, sb),
        ),
    }
}

/// The paired decode of [`decode_verified_chunks_paired`]; `None` where the chunks do not
/// both have a Huffman plane (nothing is written then), an error where decoding failed
/// (both outputs untouched).
fn decode_chunk_pair_planes(
    a: ChunkOut<'_, '_, '_>,
    b: ChunkOut<'_, '_, '_>,
    stream_a: bool,
    stream_b: bool,
) -> Option<Result<()>> {
    let ((fa, i, d0), (fb, j, d1)) = (a, b);
    let (pla, plb) = (fa.header().planes, fb.header().planes);
    if fa.joined().is_some() || fb.joined().is_some() || pla == 1 || plb == 1 {
        return None;
    }
    // The first Huffman plane of a chunk: its index and payload.
    fn huffman<'p>(frame: &'p Frame<'_>, i: usize) -> Option<(usize, &'p [u8])> {
        let mut at = 0usize;
        let payload = frame.chunk_payload(i);
        frame.planes(i).enumerate().find_map(|(k, e)| {
            let p = at..at + e.size as usize;
            at = p.end;
            (e.codec == Codec::Huffman).then(|| (k, &payload[p]))
        })
    }
    let ((ka, pa), (kb, pb)) = (huffman(fa, i)?, huffman(fb, j)?);
    let (na, nb) = ((d0.len() / pla).max(1), (d1.len() / plb).max(1));
    Some(with_scratch(na * pla + nb * plb, |buf| {
        let (ba, bb) = buf.split_at_mut(na * pla);
        let (ra, rb) = (raw_span(fa, i), raw_span(fb, j));
        let mut warm_a = fa.chunk_payload(i).get(ra).unwrap_or(&[]);
        let mut warm_b = fb.chunk_payload(j).get(rb).unwrap_or(&[]);
        codec::huffman::decode_pair_warming(
            pa,
            &mut ba[ka * na..(ka + 1) * na],
            pb,
            &mut bb[kb * nb..(kb + 1) * nb],
            &mut warm_a,
            &mut warm_b,
        )?;
        codec::decode_planes(
            coded_planes(fa, i, ba, na)
                .enumerate()
                .filter(|(k, _)| *k != ka)
                .map(|(_, x)| x),
            warm_a,
        )?;
        codec::decode_planes(
            coded_planes(fb, j, bb, nb)
                .enumerate()
                .filter(|(k, _)| *k != kb)
                .map(|(_, x)| x),
            warm_b,
        )?;
        merge_chunk(fa, i, ba, na, d0, stream_a);
        merge_chunk(fb, j, bb, nb, d1, stream_b);
        Ok(())
    }))
}

/// Whether `chunks` chunks decoded on `threads` workers are handed out two at a time
/// ([`decode_verified_chunks_paired`]): on one worker, or where the pairs still leave each
/// worker several jobs to balance with.
pub(crate) fn pairs_pay(chunks: usize, threads: u32) -> bool {
    let w = pool::workers(threads);
    chunks >= 2 && (w <= 1 || chunks >= 8 * w)
}

/// Outputs at least this large are written with non-temporal stores where the merge can:
/// they cannot stay in the caches anyway, and skipping the read-for-ownership of every
/// destination line saves a third of the write traffic.
const STREAM_OUTPUT_MIN: u64 = 16 << 20;

/// Checks chunk `i`'s checksum (a compact frame's checksum, over the whole frame, was
/// checked when it was parsed).
pub fn verify_chunk(frame: &Frame<'_>, i: usize) -> Result<()> {
    if frame.is_compact() {
        return Ok(());
    }
    if frame::checksum(frame.chunk_payload(i)) == frame.chunk_checksum(i) {
        Ok(())
    } else {
        Err(Error::Checksum)
    }
}

/// Checks every chunk's checksum without decoding.
pub fn verify_frame(frame: &Frame<'_>) -> Result<()> {
    verify_frame_with(frame, 1)
}

/// [`verify_frame`] on `threads` workers (0 = all cores): one contiguous share
/// of the chunks per worker.
pub fn verify_frame_with(frame: &Frame<'_>, threads: u32) -> Result<()> {
    let n = frame.chunk_count();
    let workers = pool::workers(threads);
    if workers <= 1 || n <= 1 {
        return (0..n).try_for_each(|i| verify_chunk(frame, i));
    }
    let share = n.div_ceil(workers);
    let shares: Vec<std::ops::Range<usize>> = (0..n)
        .step_by(share)
        .map(|a| a..(a + share).min(n))
        .collect();
    par_map(threads, shares, |mut r| {
        r.try_for_each(|i| verify_chunk(frame, i))
    })?
    .into_iter()
    .collect()
}

/// The first of `frames` with a chunk whose checksum does not match, or `None`: every chunk
/// of every frame checked in one dispatch over `threads` workers (contiguous shares of all
/// the chunks), so that several small frames cost no more dispatches than one large one.
pub(crate) fn first_bad_frame(frames: &[&Frame<'_>], threads: u32) -> Result<Option<usize>> {
    let chunks: Vec<(usize, usize)> = frames
        .iter()
        .enumerate()
        .flat_map(|(k, f)| (0..f.chunk_count()).map(move |i| (k, i)))
        .collect();
    let first = |share: &[(usize, usize)]| {
        share
            .iter()
            .find(|&&(k, i)| verify_chunk(frames[k], i).is_err())
            .map(|&(k, _)| k)
    };
    let workers = pool::workers(threads);
    if workers <= 1 || chunks.len() <= 1 {
        return Ok(first(&chunks));
    }
    let shares: Vec<&[(usize, usize)]> = chunks.chunks(chunks.len().div_ceil(workers)).collect();
    Ok(par_map(threads, shares, first)?.into_iter().flatten().min())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::options::DType;
    use crate::test_rng::step;

    #[test]
    fn streamed_raw_planes_give_the_same_chunk() {
        // bf16 with peaked exponents and random sign-mantissa bytes (a coded plane, then a
        // raw one), and one-plane random bytes (raw): every output offset mod 32, both ways
        // of storing raw planes, the same bytes and checksum.
        let mut seed = 3;
        let n = if cfg!(miri) { 1000 } else { 40_000 };
        let bf16: Vec<u8> = (0..n)
            .flat_map(|_| {
                let r = step(&mut seed);
                let e = 120 + (r % 5) as u16;
                ((e << 7) | ((r >> 8) as u16 & 0x807F)).to_le_bytes()
            })
            .collect();
        let random: Vec<u8> = (0..n).map(|_| step(&mut seed) as u8).collect();
        for (dtype, src) in [(DType::Bf16, &bf16), (DType::Int8, &random)] {
            let opts = Options::new(dtype);
            let planes = opts.planes();
            let mut want: Option<(Vec<u8>, u64)> = None;
            for off in 0..32 {
                for stream in [false, true] {
                    let mut out = vec![0u8; src.len() + off + 8];
                    let m = encode_chunk_into(
                        src,
                        &opts,
                        planes,
                        &mut out[off..],
                        stream,
                        false,
                        false,
                    );
                    let bytes = out[off..off + m.size].to_vec();
                    assert_eq!(
                        m.entry.checksum,
                        frame::checksum(&bytes),
                        "{dtype:?} +{off}"
                    );
                    if planes == 2 {
                        assert_eq!(m.entry.planes[1].codec, Codec::Raw);
                    }
                    match &want {
                        None => want = Some((bytes, m.entry.checksum)),
                        Some(w) => assert_eq!(w, &(bytes, m.entry.checksum), "{dtype:?} +{off}"),
                    }
                }
            }
        }
    }

    #[test]
    fn chunks_decoded_in_pairs_equal_chunks_decoded_one_at_a_time() {
        // Whole frames (decoded two chunks at a time) against their chunks decoded one by
        // one: bf16, fp16 and fp32 with peaked exponents, chunks whose planes are long
        // enough to be decoded together and chunks too small for it, an odd number of
        // chunks and a tail; then with a byte of one chunk's payload changed (the
        // checksums are not checked here): the same error and the same output bytes.
        let mut seed = 23;
        let mut errors = 0;
        let elems = if cfg!(miri) { 2000 } else { 5 * 16384 + 999 };
        let vals: Vec<f32> = (0..elems)
            .map(|_| {
                let r = step(&mut seed);
                let m = 1.0 + (r % 1000) as f32 / 1000.0;
                let e = [0.5f32, 0.25, 0.125, 0.0625][(r >> 20) as usize % 4];
                if r >> 40 & 1 == 1 {
                    -m * e
                } else {
                    m * e
                }
            })
            .collect();
        let f32s: Vec<u8> = vals.iter().flat_map(|v| v.to_le_bytes()).collect();
        let bf16: Vec<u8> = vals
            .iter()
            .flat_map(|v| ((v.to_bits() >> 16) as u16).to_le_bytes())
            .collect();
        let f16: Vec<u8> = f32s
            .chunks(2)
            .flat_map(|c| [c[0], c[1] & 0x7F | 0x38])
            .collect();
        for (dtype, src) in [
            (DType::Bf16, &bf16),
            (DType::Fp16, &f16),
            (DType::Fp32, &f32s),
        ] {
            for (cs, extra) in [(64 * 1024, 1usize), (4096, 3)] {
                let src = &src[..src.len() - extra];
                let opts = Options {
                    chunk_size: cs,
                    threads: 1,
                    ..Options::new(dtype)
                };
                let v = compress_vec(src, None, &[], &opts, None).unwrap();
                for damage in [None, Some(0usize), Some(1), Some(2), Some(3)] {
                    let mut v = v.clone();
                    if let Some(i) = damage {
                        let f = Frame::parse(&v).unwrap();
                        let p = f.chunk_payload(i % f.chunk_count());
                        // Within the first plane, the Huffman-coded exponents.
                        let at = p.as_ptr() as usize - v.as_ptr() as usize + 8 + i * p.len() / 16;
                        v[at] ^= 0x5A;
                    }
                    let f = Frame::parse(&v).unwrap();
                    let h = f.header();
                    let mut want = vec![0x55u8; src.len()];
                    let body = src.len() - h.tail_len;
                    want[body..].copy_from_slice(&h.tail[..h.tail_len]);
                    // (Every chunk is decoded, the first error returned.)
                    let mut want_r = Ok(());
                    for i in 0..f.chunk_count() {
                        let r = f.chunk_range(i);
                        let d = &mut want[r.start as usize..r.end as usize];
                        want_r = want_r.and(decode_verified_chunk(&f, i, d, false));
                    }
                    errors += want_r.is_err() as usize;
                    if damage.is_none() {
                        assert_eq!(want_r, Ok(()));
                        assert!(want == src);
                    }
                    for threads in [1, 2] {
                        let mut out = vec![0x55u8; src.len()];
                        let r = crate::pipeline::decode_verified_whole(
                            &f, None, &mut out, threads, false,
                        );
                        let what = format!("{dtype:?} {cs} {damage:?} threads {threads}");
                        assert_eq!(r, want_r, "{what}");
                        assert!(out == want, "{what}");
                    }
                }
            }
        }
        // The changed bytes made errors.
        assert!(errors >= 4, "{errors}");
    }

    #[test]
    fn delta_chunks_xored_as_decoded_equal_the_difference_xored_after() {
        // A delta frame's chunks decoded with their base (the XOR made from the decoded
        // difference straight into the output) against the difference decoded alone and
        // XORed afterwards: every chunk, both ways of storing the output, every offset mod
        // 32 of the output; and whole frames on 1 and 2 threads, tail included.
        let mut seed = 11;
        let n = if cfg!(miri) { 3000 } else { 300_001 };
        let base: Vec<u8> = (0..n).map(|_| step(&mut seed) as u8).collect();
        let mut src = base.clone();
        for (i, b) in src.iter_mut().enumerate() {
            if i % 7 == 0 {
                *b ^= step(&mut seed) as u8 & 3;
            }
        }
        for dtype in [DType::Bf16, DType::Fp32, DType::Int8] {
            let opts = Options {
                chunk_size: 64 * 1024,
                ..Options::new(dtype)
            };
            let v = compress_vec(&src, Some(&base), &[], &opts, Some(1)).unwrap();
            let f = Frame::parse(&v).unwrap();
            for i in 0..f.chunk_count() {
                let r = f.chunk_range(i);
                let (a, b) = (r.start as usize, r.end as usize);
                let mut want = vec![0u8; b - a];
                decode_verified_chunk(&f, i, &mut want, false).unwrap();
                delta::xor_in_place(&mut want, &base[a..b]);
                assert_eq!(want, &src[a..b], "{dtype:?} chunk {i}");
                for large in [false, true] {
                    for off in [0, 1, 5, 16, 31] {
                        let mut out = vec![0x33u8; b - a + off + 1];
                        let d = &mut out[off..off + b - a];
                        decode_chunk_with(&f, i, d, Some(&base[a..b]), large).unwrap();
                        assert_eq!(d, &want[..], "{dtype:?} chunk {i} +{off} {large}");
                        assert!(out[..off].iter().all(|&x| x == 0x33));
                        assert_eq!(out[off + b - a], 0x33);
                    }
                }
            }
            for threads in [1, 2] {
                let mut out = vec![0u8; n];
                crate::pipeline::decode_verified_whole(&f, Some(&base), &mut out, threads, false)
                    .unwrap();
                assert_eq!(out, src, "{dtype:?} threads {threads}");
            }
            // A base of another length is refused before anything is written.
            let mut out = vec![0x44u8; n];
            assert_eq!(
                crate::pipeline::decode_verified_whole(&f, Some(&base[1..]), &mut out, 1, false),
                Err(Error::Internal)
            );
            assert!(out.iter().all(|&x| x == 0x44));
        }
    }

    #[test]
    fn frames_coded_together_equal_frames_coded_alone() {
        // Frames of every size class (empty, a tail only, under one chunk, several chunks
        // with a partial last one), plain, delta and with metadata, coded together on 1, 2
        // and all threads: the concatenation of the frames coded one by one; too little
        // room is refused before anything is written.
        let mut seed = 5;
        let n = if cfg!(miri) { 5000 } else { 200_003 };
        let data: Vec<u8> = (0..n)
            .flat_map(|_| {
                let r = step(&mut seed);
                ((120 + (r % 7) as u16) << 7 | (r >> 9) as u16 & 0x807F).to_le_bytes()
            })
            .collect();
        let base: Vec<u8> = data
            .iter()
            .map(|&b| b ^ (step(&mut seed) as u8 & 1))
            .collect();
        let opts = Options {
            chunk_size: 16 * 1024,
            ..Options::new(DType::Bf16)
        };
        let cuts = [
            (0, 0),
            (0, 1),
            (1, 2001),
            (2001, 2001 + 80_000),
            (90_000, 2 * n),
        ];
        let plans: Vec<FramePlan<'_>> = cuts
            .iter()
            .enumerate()
            .map(|(k, &(a, b))| FramePlan {
                src: &data[a..b],
                base: (k % 2 == 1).then(|| &base[a..b]),
                metadata: if k == 3 { b"meta" } else { &[] },
                opts: opts.clone(),
                base_hash: (k % 2 == 1).then_some(k as u64),
                adaptive: true,
            })
            .collect();
        let mut want = Vec::new();
        let mut sizes = Vec::new();
        for p in &plans {
            let v = compress_vec(p.src, p.base, p.metadata, &p.opts, p.base_hash).unwrap();
            sizes.push(v.len());
            want.extend_from_slice(&v);
        }
        let room: usize = plans
            .iter()
            .map(|p| {
                let h = header_for(p.src.len(), p.metadata, &p.opts, p.base_hash).unwrap();
                let (hs, body) = frame_room(&h).unwrap();
                hs + body
            })
            .sum();
        for threads in [1, 2, 0] {
            for large in [false, true] {
                let mut out = vec![0u8; room];
                let got = compress_frames(&plans, threads, &mut out, large).unwrap();
                assert_eq!(got, sizes, "threads {threads}");
                assert_eq!(&out[..want.len()], &want[..], "threads {threads}");
            }
            let mut out = vec![0x77u8; room - 1];
            assert_eq!(
                compress_frames(&plans, threads, &mut out, false),
                Err(Error::DstTooSmall)
            );
            assert!(out.iter().all(|&b| b == 0x77));
        }
    }

    /// Frames for the scheduling tests: 60 of many sizes (compact ones, one chunk, several
    /// with a short last chunk), every fourth a delta, bf16 in 4 KiB chunks.
    fn mixed_plans<'a>(data: &'a [u8], base: &'a [u8]) -> Vec<FramePlan<'a>> {
        let opts = Options {
            chunk_size: 4096,
            ..Options::new(DType::Bf16)
        };
        let mut at = 0;
        (0..60)
            .map(|k| {
                let len = [6, 30_000, 700, 4096, 9000, 12_290][k % 6] + 2 * (k % 5);
                let (a, b) = (at, at + len);
                at = b;
                FramePlan {
                    src: &data[a..b],
                    base: (k % 4 == 1).then(|| &base[a..b]),
                    metadata: &[],
                    opts: opts.clone(),
                    base_hash: (k % 4 == 1).then_some(k as u64),
                    adaptive: true,
                }
            })
            .collect()
    }

    fn mixed_data() -> (Vec<u8>, Vec<u8>) {
        let mut seed = 11;
        let data: Vec<u8> = (0..300_000)
            .flat_map(|_| {
                let r = step(&mut seed);
                ((120 + (r % 7) as u16) << 7 | (r >> 9) as u16 & 0x807F).to_le_bytes()
            })
            .collect();
        let base = data
            .iter()
            .map(|&b| b ^ (step(&mut seed) as u8 & 3))
            .collect();
        (data, base)
    }

    fn room_of(plans: &[FramePlan<'_>]) -> usize {
        plans
            .iter()
            .map(|p| {
                let h = header_for(p.src.len(), p.metadata, &p.opts, p.base_hash).unwrap();
                let (hs, body) = frame_room(&h).unwrap();
                hs + body
            })
            .sum()
    }

    #[test]
    fn pieces_finished_out_of_order_are_placed_in_order() {
        // Some pieces take far longer than the rest, so that later pieces finish first,
        // fill every slot and wait for one, and pieces at the front are coded in place
        // while others are in slots: the frames are those coded on one thread.
        let (data, base) = mixed_data();
        let plans = mixed_plans(&data, &base);
        let room = room_of(&plans);
        let mut want = vec![0u8; room];
        let sizes = compress_frames(&plans, 1, &mut want, false).unwrap();
        let total: usize = sizes.iter().sum();
        let slow = |i: usize| {
            if i % 13 == 2 || i % 29 == 0 {
                std::thread::sleep(std::time::Duration::from_millis(3));
            }
        };
        let stuck = |i: usize| {
            // The first piece holds the front until every other piece is coded.
            if i == 0 {
                std::thread::sleep(std::time::Duration::from_millis(40));
            }
        };
        for threads in [2, 3, 0] {
            for large in [false, true] {
                for hook in [&slow as &(dyn Fn(usize) + Sync), &stuck, &|_| {}] {
                    let mut out = vec![0x5Au8; room];
                    let got = compress_frames_hooked(&plans, threads, &mut out, large, hook);
                    assert_eq!(got.unwrap(), sizes, "threads {threads}");
                    assert_eq!(out[..total], want[..total], "threads {threads}");
                }
            }
        }
    }

    #[test]
    fn a_piece_that_panics_ends_the_call_with_its_panic() {
        // The other workers stop waiting (none is left blocked), the panic reaches the
        // caller, and the next call codes as before.
        let (data, base) = mixed_data();
        let plans = mixed_plans(&data, &base);
        let room = room_of(&plans);
        let mut want = vec![0u8; room];
        let sizes = compress_frames(&plans, 1, &mut want, false).unwrap();
        for at in [0, 1, 7, 40] {
            let hook = |i: usize| {
                if i == at {
                    panic!("piece {i}");
                }
                // Later pieces fill the slots meanwhile.
                if i < at {
                    std::thread::sleep(std::time::Duration::from_millis(1));
                }
            };
            let mut out = vec![0u8; room];
            let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                compress_frames_hooked(&plans, 2, &mut out, false, &hook)
            }));
            let msg = r.unwrap_err();
            assert_eq!(
                msg.downcast_ref::<String>().unwrap(),
                &format!("piece {at}")
            );
        }
        let mut out = vec![0u8; room];
        assert_eq!(compress_frames(&plans, 2, &mut out, false).unwrap(), sizes);
        assert_eq!(out, want);
    }

    #[test]
    fn raw_copies_every_length_and_alignment() {
        let src: Vec<u8> = (0..300u32).map(|i| (i * 7 + 1) as u8).collect();
        for len in [0usize, 1, 31, 32, 33, 63, 64, 65, 100, 250] {
            for off in 0..33 {
                for stream in [false, true] {
                    let mut dst = vec![0u8; len + off + 1];
                    copy_raw(&src[3..3 + len], &mut dst[off..off + len], stream);
                    assert_eq!(&dst[off..off + len], &src[3..3 + len], "len={len} +{off}");
                    assert!(dst[..off].iter().all(|&b| b == 0));
                    assert_eq!(dst[off + len], 0);
                }
            }
        }
    }

    #[test]
    fn ans_is_tried_on_small_frames_of_one_chunk_only() {
        // bf16 whose exponents take three values (3/5, 3/10, 1/10: 1.30 bits of order-0
        // entropy, 1.40 with Huffman's 1, 2 and 2 bits), sign and mantissa random.
        let mut seed = 11;
        let mut bf16 = |count: usize| -> Vec<u8> {
            (0..count)
                .flat_map(|_| {
                    let r = step(&mut seed);
                    let e = match r % 10 {
                        0..=5 => 120u16,
                        6..=8 => 121,
                        _ => 122,
                    };
                    ((e << 7) | ((r >> 8) as u16 & 0x807F)).to_le_bytes()
                })
                .collect()
        };
        let exponents = |frame: &[u8], i: usize| -> PlaneEntry {
            let f = Frame::parse(frame).unwrap();
            let first = f.planes(i).next().unwrap();
            first
        };
        let opts = Options::new(DType::Bf16);
        // 8192 elements: planes of 8 KiB, one chunk. ANS beats Huffman on the exponents.
        let small = bf16(8192);
        let alone = crate::compress(&small, &opts).unwrap();
        assert_eq!(crate::decompress(&alone).unwrap(), small);
        let ans = exponents(&alone, 0);
        assert!(matches!(ans.codec, Codec::Ans | Codec::AnsWide), "{ans:?}");
        // The same bytes as the last chunk of a longer frame: Huffman, larger.
        let mut long = bf16(32 * 1024);
        long.extend_from_slice(&small);
        let two = Options {
            chunk_size: 64 * 1024,
            ..opts.clone()
        };
        let frame = crate::compress(&long, &two).unwrap();
        assert_eq!(crate::decompress(&frame).unwrap(), long);
        assert_eq!(Frame::parse(&frame).unwrap().chunk_count(), 2);
        let last = exponents(&frame, 1);
        assert_eq!(last.codec, Codec::Huffman);
        assert!(ans.size < last.size, "{ans:?} {last:?}");
        // The chunk count decides, not the chunk size: alone with that chunk size, ANS.
        let alone = crate::compress(&small, &two).unwrap();
        assert_eq!(exponents(&alone, 0), ans);
        // Planes under 4 KiB are not tried, though ANS would win there too (level max).
        let tiny = &small[..2 * 4064];
        let frame = crate::compress(tiny, &opts).unwrap();
        assert_eq!(exponents(&frame, 0).codec, Codec::Huffman);
        let max = Options {
            level: Level::Max,
            ..opts.clone()
        };
        // (A compact frame there, whose planes the adaptive codec 10 codes smaller still.)
        let frame = crate::compress(tiny, &max).unwrap();
        let codec = exponents(&frame, 0).codec;
        assert!(
            matches!(codec, Codec::Ans | Codec::AnsWide | Codec::Adaptive),
            "{codec:?}"
        );
    }

    #[test]
    fn fp16_default_level_chooses_from_exact_first_planes() {
        // fp16 chunks whose negative elements' exponents sit 0, 1 or 2 above the positive
        // ones' (with the sign in the first plane, layout 1 gains where they differ; where
        // they do not, the layouts are within noise of each other), mantissas random, so
        // that both layouts' second planes are stored raw and the first planes decide. The
        // default level counts those exactly, as the max level does: the same layout on
        // every chunk.
        let mut seed = 5;
        let chunk = 128 * 1024;
        let src: Vec<u8> = (0..6 * chunk)
            .flat_map(|i| {
                let r = step(&mut seed);
                let neg = r & 1;
                let e = 10 + (r >> 8) % 4 + neg * ((i / chunk) as u64 % 3);
                let w = (neg as u16) << 15 | (e as u16) << 10 | (r >> 16) as u16 & 0x3FF;
                w.to_le_bytes()
            })
            .collect();
        let layouts = |level| {
            let opts = Options {
                level,
                ..Options::new(DType::Fp16)
            };
            let frame = crate::compress(&src, &opts).unwrap();
            assert_eq!(crate::decompress(&frame).unwrap(), src);
            let f = Frame::parse(&frame).unwrap();
            (0..f.chunk_count())
                .map(|i| f.layout(i))
                .collect::<Vec<_>>()
        };
        // No window of 16 values holds their exponent planes: the exact count is taken.
        assert!(!transform::counts_first_in_split(
            DType::Fp16,
            2,
            &src[..2 * chunk]
        ));
        let default = layouts(Level::Default);
        assert_eq!(default, layouts(Level::Max));
        assert!(default.contains(&Layout::Dtype) && default.contains(&Layout::Bytes));
    }
}
