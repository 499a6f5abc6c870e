//! [`StreamReader`]: random access to a stream in a seekable reader.

use std::io::{self, Read, Seek, SeekFrom};

use super::format::{
    index_len, parse_index, parse_stream_header, parse_trailer, Entry, StreamInfo,
    INDEX_HEADER_SIZE, STREAM_HEADER_SIZE, STREAM_VERSION, TRAILER_SIZE,
};
use crate::error::{Error, Result};
use crate::frame::{self, Frame, FIXED_HEADER_SIZE};
use crate::DecompressOptions;

/// Random access to a stream in a seekable reader (a file, or `io::Cursor` over bytes).
///
/// [`StreamReader::open`] reads the header, the trailer and the index (and checks them);
/// [`StreamReader::read_range_into`] then reads and decodes only the frames, and within
/// them only the chunks, that cover the range asked for. Memory: one frame (or a run of
/// whole frames of up to 32 MiB, read and decoded together) and one chunk at a time, plus
/// 24 bytes per frame for the index.
#[derive(Debug)]
pub struct StreamReader<R: Read + Seek> {
    inner: R,
    info: StreamInfo,
    entries: Vec<Entry>,
    /// Stream offset of each frame.
    offsets: Vec<u64>,
    buf: Vec<u8>,
    loaded: Option<usize>,
    scratch: Vec<u8>,
    opts: DecompressOptions,
}

/// One frame of a stream, as the index places it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FrameEntry {
    /// Offset of the frame in the stream.
    pub offset: u64,
    /// Length of the frame.
    pub size: u64,
    /// Length of the block it decodes to.
    pub original_size: u64,
}

fn read_exact_at<R: Read + Seek>(r: &mut R, at: u64, buf: &mut [u8]) -> Result<()> {
    r.seek(SeekFrom::Start(at)).map_err(|_| Error::Io)?;
    r.read_exact(buf).map_err(|e| {
        if e.kind() == io::ErrorKind::UnexpectedEof {
            Error::Truncated
        } else {
            Error::Io
        }
    })
}

impl<R: Read + Seek> StreamReader<R> {
    /// Reads and checks the stream's header, trailer and index.
    pub fn open(mut inner: R) -> Result<StreamReader<R>> {
        let len = inner.seek(SeekFrom::End(0)).map_err(|_| Error::Io)?;
        let mut head = [0u8; STREAM_HEADER_SIZE];
        let hn = (len as usize).min(STREAM_HEADER_SIZE);
        read_exact_at(&mut inner, 0, &mut head[..hn])?;
        let block_size = parse_stream_header(&head[..hn])?;
        let min_len = (STREAM_HEADER_SIZE + INDEX_HEADER_SIZE + TRAILER_SIZE) as u64;
        if len < min_len {
            return Err(Error::Truncated);
        }
        let mut tr = [0u8; TRAILER_SIZE];
        read_exact_at(&mut inner, len - TRAILER_SIZE as u64, &mut tr)?;
        let t = parse_trailer(&tr)?;
        let ilen = index_len(t.frame_count).ok_or(Error::Corrupt)?;
        let consistent = t.index_offset >= STREAM_HEADER_SIZE as u64
            && t.index_offset.checked_add(ilen) == Some(len - TRAILER_SIZE as u64);
        if !consistent {
            return Err(Error::Corrupt);
        }
        let mut index = Vec::new();
        index
            .try_reserve_exact(ilen as usize)
            .map_err(|_| Error::Alloc)?;
        index.resize(ilen as usize, 0);
        read_exact_at(&mut inner, t.index_offset, &mut index)?;
        let entries = parse_index(&index, &t, block_size)?;
        let mut offsets = Vec::with_capacity(entries.len());
        let mut at = STREAM_HEADER_SIZE as u64;
        for e in &entries {
            offsets.push(at);
            at += e.0;
        }
        Ok(StreamReader {
            inner,
            info: StreamInfo {
                version: STREAM_VERSION,
                block_size,
                frame_count: t.frame_count,
                original_size: t.original_size,
                stream_size: len,
            },
            entries,
            offsets,
            buf: Vec::new(),
            loaded: None,
            scratch: Vec::new(),
            opts: DecompressOptions::default(),
        })
    }

    /// Sets the decoding threads (see [`DecompressOptions`]; `max_size` is ignored).
    pub fn set_threads(&mut self, threads: u32) {
        self.opts.threads = threads;
    }

    /// What the header, index and trailer say.
    pub fn info(&self) -> StreamInfo {
        self.info
    }

    /// Length of the original data.
    pub fn original_size(&self) -> u64 {
        self.info.original_size
    }

    /// Where frame `i` is and what it holds, from the index (`None` past the last frame).
    pub fn frame_entry(&self, i: usize) -> Option<FrameEntry> {
        let (size, original_size) = *self.entries.get(i)?;
        Some(FrameEntry {
            offset: self.offsets[i],
            size,
            original_size,
        })
    }

    /// The fixed header of frame `i` (its dtype, chunking, lossy mode), read and checked
    /// without the rest of the frame. `NotFound` past the last frame.
    pub fn frame_header(&mut self, i: usize) -> Result<frame::Header> {
        let e = self.frame_entry(i).ok_or(Error::NotFound)?;
        // With the base hash of a delta frame: the index holds no frame under that size.
        // (A compact frame may be shorter: its head is all there is to read.)
        let mut fixed = [0u8; FIXED_HEADER_SIZE + frame::BASE_HASH_SIZE];
        let n = fixed.len().min(e.size as usize);
        read_exact_at(&mut self.inner, e.offset, &mut fixed[..n])?;
        let h = frame::parse_fixed(&fixed[..n])?;
        if h.original_size != e.original_size {
            return Err(Error::Corrupt);
        }
        Ok(h)
    }

    /// The underlying reader.
    pub fn into_inner(self) -> R {
        self.inner
    }

    /// Original bytes `[offset, offset + len)`, cut at the end of the data. `offset` past
    /// the end is `InvalidParam`.
    pub fn read_range(&mut self, offset: u64, len: usize) -> Result<Vec<u8>> {
        let total = self.info.original_size;
        if offset > total {
            return Err(Error::InvalidParam);
        }
        let n = (len as u64).min(total - offset) as usize;
        let mut v = crate::zeroed_vec(n)?;
        self.read_range_into(offset, &mut v)?;
        Ok(v)
    }

    /// Decodes original bytes from `offset` into `dst`, up to its length or the end of the
    /// data, and returns the count. `offset` past the end is `InvalidParam`. Only the
    /// frames and chunks that cover the range are read, checked and decoded.
    pub fn read_range_into(&mut self, offset: u64, dst: &mut [u8]) -> Result<usize> {
        let total = self.info.original_size;
        if offset > total {
            return Err(Error::InvalidParam);
        }
        let len = (dst.len() as u64).min(total - offset) as usize;
        let end = offset + len as u64;
        let bs = self.info.block_size as u64;
        // Whole frames into a range too large to stay in the caches are written around them.
        let large = len >= crate::pipeline::LARGE_OUTPUT;
        let mut pos = offset;
        while pos < end {
            let fi = (pos / bs) as usize;
            let fstart = fi as u64 * bs;
            let forig = self.entries[fi].1;
            let a = pos - fstart;
            let b = end.min(fstart + forig) - fstart;
            if a == 0 {
                // A run of whole frames: read at once, decoded together.
                let run = self.whole_run(fi, end);
                if run > 1 {
                    let at = (pos - offset) as usize;
                    let n = self.decode_run(fi, run, &mut dst[at..], large)?;
                    pos = fstart + self.entries[fi..fi + n].iter().map(|e| e.1).sum::<u64>();
                    if n > 0 {
                        continue;
                    }
                }
            }
            let out = &mut dst[(pos - offset) as usize..(fstart + b - offset) as usize];
            self.load(fi)?;
            if a == 0 && b == forig {
                // load() checked the frame's original size against the index: `out` holds it.
                let f = crate::pipeline::parse_whole(&self.buf, &self.opts)?;
                crate::pipeline::check_base(f.header(), None)?;
                crate::engine::verify_frame_with(&f, self.opts.threads)?;
                crate::pipeline::decode_verified_whole(&f, None, out, self.opts.threads, large)?;
            } else {
                let f = Frame::parse(&self.buf)?;
                decode_part(&f, a, b, out, &mut self.scratch)?;
            }
            pos = fstart + b;
        }
        Ok(len)
    }

    /// How many frames from `i` on are whole before original byte `end`, up to
    /// [`RUN_BYTES`] of stream bytes (at least one frame if frame `i` is whole).
    fn whole_run(&self, i: usize, end: u64) -> usize {
        let bs = self.info.block_size as u64;
        let mut bytes = 0u64;
        let mut k = i;
        while k < self.entries.len() {
            let (size, orig) = self.entries[k];
            let whole = k as u64 * bs + orig <= end;
            if !whole || (k > i && bytes + size > RUN_BYTES) {
                break;
            }
            bytes += size;
            k += 1;
        }
        k - i
    }

    /// Reads frames `i .. i + run` (consecutive in the stream) with one read, checks their
    /// headers against the index, and decodes them into the front of `dst` with
    /// [`crate::pipeline::decode_checked_first`] (every checksum first, then all their
    /// chunks at once). Returns how many were decoded: all, or those before the first with
    /// a bad checksum, which the caller then reads alone to report its error.
    fn decode_run(&mut self, i: usize, run: usize, dst: &mut [u8], large: bool) -> Result<usize> {
        self.loaded = None;
        let start = self.offsets[i];
        let len = self.entries[i..i + run].iter().map(|e| e.0).sum::<u64>() as usize;
        read_len(&mut self.buf, len)?;
        read_exact_at(&mut self.inner, start, &mut self.buf)?;
        let mut frames = Vec::with_capacity(run);
        let mut outs = Vec::with_capacity(run);
        let (mut at, mut rest) = (0usize, dst);
        for &(size, orig) in &self.entries[i..i + run] {
            let bytes = &self.buf[at..at + size as usize];
            at += size as usize;
            // A compact frame's checksum is checked when it is parsed: one that fails it
            // ends the run, and the caller reads it alone to report its error.
            let f = match crate::pipeline::parse_whole(bytes, &self.opts) {
                Err(Error::Checksum) if !frames.is_empty() => break,
                r => r?,
            };
            let h = f.header();
            if h.original_size != orig || h.metadata_size != 0 {
                return Err(Error::Corrupt);
            }
            crate::pipeline::check_base(h, None)?;
            let (d, r) = std::mem::take(&mut rest).split_at_mut(orig as usize);
            rest = r;
            frames.push(f);
            outs.push(d);
        }
        crate::pipeline::decode_checked_first(&frames, outs, self.opts.threads, large)
    }

    /// Reads frame `i` into `buf` and checks its header against the index.
    fn load(&mut self, i: usize) -> Result<()> {
        if self.loaded == Some(i) {
            return Ok(());
        }
        self.loaded = None;
        let (size, orig) = self.entries[i];
        let size = size as usize; // bounded by max_frame_size(block_size)
        read_len(&mut self.buf, size)?;
        read_exact_at(&mut self.inner, self.offsets[i], &mut self.buf)?;
        let f = Frame::parse(&self.buf)?;
        let h = f.header();
        if f.frame_size() != size as u64 || h.original_size != orig || h.metadata_size != 0 {
            return Err(Error::Corrupt);
        }
        self.loaded = Some(i);
        Ok(())
    }
}

/// Makes `buf` exactly `len` bytes long for reading over, without writing zeros over bytes
/// it already holds: shorter or as long, it is cut; within its capacity, only the growth is
/// zero-filled; beyond it, it becomes a new buffer of fresh zeroed pages (huge where large,
/// [`crate::zeroed_vec`]). Zeroing a run of frames before each read cost about 6% of a whole
/// stream decompression in memory.
fn read_len(buf: &mut Vec<u8>, len: usize) -> Result<()> {
    if buf.len() >= len {
        buf.truncate(len);
    } else if buf.capacity() >= len {
        buf.resize(len, 0);
    } else {
        *buf = crate::zeroed_vec(len)?;
    }
    Ok(())
}

/// Most stream bytes [`StreamReader::read_range_into`] reads at once for a run of whole
/// frames (or one larger frame).
const RUN_BYTES: u64 = 32 << 20;

/// Decodes bytes `[a, b)` of frame `f`'s original into `out` (`b - a` bytes), decoding only
/// the chunks that overlap the range.
fn decode_part(f: &Frame<'_>, a: u64, b: u64, out: &mut [u8], scratch: &mut Vec<u8>) -> Result<()> {
    let h = f.header();
    let body = h.body_size();
    let cs = h.chunk_size as u64;
    if a < body {
        let first = (a / cs) as usize;
        let last = (b.min(body).div_ceil(cs)) as usize;
        for i in first..last {
            let r = f.chunk_range(i);
            let (lo, hi) = (a.max(r.start), b.min(r.end));
            let dst = &mut out[(lo - a) as usize..(hi - a) as usize];
            if lo == r.start && hi == r.end {
                crate::pipeline::decode_chunk_checked(f, i, None, dst)?;
            } else {
                // Checksum before the scratch buffer grows to the chunk's length.
                crate::engine::verify_chunk(f, i)?;
                let n = (r.end - r.start) as usize;
                if scratch.len() < n {
                    scratch.resize(n, 0);
                }
                crate::pipeline::decode_chunk_checked(f, i, None, &mut scratch[..n])?;
                let from = (lo - r.start) as usize;
                dst.copy_from_slice(&scratch[from..from + dst.len()]);
            }
        }
    }
    for x in a.max(body)..b {
        out[(x - a) as usize] = h.tail[(x - body) as usize];
    }
    Ok(())
}
