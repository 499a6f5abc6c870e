//! The push-style contexts: [`Compressor`] and [`Decompressor`] take input piece by piece
//! and an output buffer, and report how much they consumed and wrote.

use super::format::{
    check_block_size, index_len, max_frame_size, parse_index, parse_stream_header, parse_trailer,
    write_stream_header, write_tail, Entry, INDEX_MAGIC, STREAM_HEADER_SIZE, TRAILER_SIZE,
};
use crate::error::{Error, Result};
use crate::frame::{self, compact, FIXED_HEADER_SIZE};
use crate::refformat;
use crate::{DecompressOptions, Options};

/// A buffer of bytes waiting to be handed to the caller: `buf[pos..len]`.
#[derive(Debug, Default)]
struct Pending {
    buf: Vec<u8>,
    pos: usize,
    len: usize,
}

impl Pending {
    fn is_empty(&self) -> bool {
        self.pos == self.len
    }

    /// Copies as much as fits into `out`; returns the count.
    fn drain(&mut self, out: &mut [u8]) -> usize {
        let n = (self.len - self.pos).min(out.len());
        out[..n].copy_from_slice(&self.buf[self.pos..self.pos + n]);
        self.pos += n;
        n
    }

    /// A writable buffer of at least `n` bytes (grown only, never shrunk); the caller then
    /// calls [`Pending::set`].
    fn room(&mut self, n: usize) -> Result<&mut [u8]> {
        grow_zeroed(&mut self.buf, n, 0)?;
        Ok(&mut self.buf[..n])
    }

    fn set(&mut self, len: usize) {
        self.pos = 0;
        self.len = len;
    }
}

/// Grows `buf` to at least `n` initialised bytes (never shrinks it), keeping its first
/// `keep`: into a new buffer of fresh zeroed pages, huge where large
/// ([`crate::zeroed_vec`]), not zeros written over new pages by `resize`. A stream's
/// buffers are a block or a frame long, and their 4 KiB page faults cost a sixth of a whole
/// stream compression in memory.
fn grow_zeroed(buf: &mut Vec<u8>, n: usize, keep: usize) -> Result<()> {
    if buf.len() < n {
        let mut fresh = crate::zeroed_vec(n)?;
        fresh[..keep].copy_from_slice(&buf[..keep]);
        *buf = fresh;
    }
    Ok(())
}

/// The bytes of the structure a [`Decompressor`] is gathering (`len` of them at the start of
/// `buf`). Emptied between structures without giving up `buf`'s bytes, which stay
/// initialized, so that [`Gather::read_from`] reads over them: only the buffer's growth is
/// ever zero-filled. Zero-filling what each read could fill cost a fifth of a whole stream
/// decompression, and many times that from a pipe, whose short reads zero-filled the rest
/// of the frame again each time.
#[derive(Debug, Default)]
struct Gather {
    buf: Vec<u8>,
    len: usize,
}

impl Gather {
    fn len(&self) -> usize {
        self.len
    }

    fn is_empty(&self) -> bool {
        self.len == 0
    }

    fn bytes(&self) -> &[u8] {
        &self.buf[..self.len]
    }

    fn clear(&mut self) {
        self.len = 0;
    }

    /// Room for `total` bytes in all, or `Alloc`.
    fn reserve(&mut self, total: usize) -> Result<()> {
        if self.buf.capacity() < total {
            grow_zeroed(&mut self.buf, total, self.len)?;
        }
        Ok(())
    }

    fn extend_from_slice(&mut self, b: &[u8]) {
        let end = self.len + b.len();
        let inside = b.len().min(self.buf.len() - self.len);
        self.buf[self.len..self.len + inside].copy_from_slice(&b[..inside]);
        self.buf.extend_from_slice(&b[inside..]);
        self.len = end;
    }

    /// Reads from `r` until `want` more bytes are here or `r` ends (retrying on
    /// `Interrupted`); returns the count. An error after some bytes ends the call with them.
    fn read_from(&mut self, r: &mut dyn std::io::Read, want: usize) -> std::io::Result<usize> {
        let end = self.len + want;
        grow_zeroed(&mut self.buf, end, self.len).map_err(super::io_error)?;
        let mut got = 0;
        let res = loop {
            match r.read(&mut self.buf[self.len + got..end]) {
                Ok(0) => break Ok(got),
                Ok(n) => {
                    got += n;
                    if got == want {
                        break Ok(got);
                    }
                }
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(_) if got > 0 => break Ok(got),
                Err(e) => break Err(e),
            }
        };
        self.len += got;
        res
    }
}

/// Most original bytes [`Decompressor`] decodes in one batch of whole frames.
const BATCH_OUTPUT: usize = 64 << 20;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum CState {
    Running,
    Finishing,
    Done,
}

/// A streaming compressor: takes input piece by piece with [`Compressor::compress`], and
/// ends the stream with [`Compressor::finish`].
///
/// It holds one block of input and one frame of output (about `2 * block_size` bytes in
/// all, plus the index: 16 bytes per block) whatever the stream's length. The output does
/// not depend on how the input is cut into pieces. After an error the compressor returns
/// the same error from every call.
#[derive(Debug)]
pub struct Compressor {
    opts: Options,
    block_size: usize,
    block: Vec<u8>,
    out: Pending,
    entries: Vec<Entry>,
    /// Stream bytes produced so far (header and frames).
    stream_pos: u64,
    total_in: u64,
    state: CState,
    failed: Option<Error>,
}

impl Compressor {
    /// A compressor that codes each block of `block_size` input bytes
    /// ([`MIN_BLOCK_SIZE`]..=[`MAX_BLOCK_SIZE`]; [`DEFAULT_BLOCK_SIZE`] is a good choice)
    /// into one frame with `opts`. A block size that is a multiple of `opts.chunk_size`
    /// keeps every chunk whole.
    pub fn new(opts: &Options, block_size: u32) -> Result<Compressor> {
        opts.validate()?;
        check_block_size(block_size)?;
        let mut out = Pending::default();
        let h = write_stream_header(block_size);
        out.room(h.len())?.copy_from_slice(&h);
        out.set(h.len());
        Ok(Compressor {
            opts: opts.clone(),
            block_size: block_size as usize,
            block: Vec::new(),
            out,
            entries: Vec::new(),
            stream_pos: STREAM_HEADER_SIZE as u64,
            total_in: 0,
            state: CState::Running,
            failed: None,
        })
    }

    /// The block size.
    pub fn block_size(&self) -> u32 {
        self.block_size as u32
    }

    /// Takes bytes from `input` and writes stream bytes to `output`; returns
    /// `(consumed, written)`. Call again with the rest of the input (and room in `output`)
    /// until everything is consumed; any output buffer of at least one byte makes progress.
    /// Errors: `InvalidParam` after [`Compressor::finish`] was called, `Alloc`.
    pub fn compress(&mut self, input: &[u8], output: &mut [u8]) -> Result<(usize, usize)> {
        if let Some(e) = self.failed {
            return Err(e);
        }
        if self.state != CState::Running {
            return Err(Error::InvalidParam);
        }
        let r = self.compress_inner(input, output);
        if let Err(e) = r {
            self.failed = Some(e);
        }
        r
    }

    fn compress_inner(&mut self, input: &[u8], output: &mut [u8]) -> Result<(usize, usize)> {
        let (mut c, mut w) = (0, 0);
        loop {
            w += self.out.drain(&mut output[w..]);
            // A whole block in the input is coded from there, not copied into the block
            // first: into `output` when it holds the frame's bound, else into `out`.
            if self.block.is_empty() && self.out.is_empty() && input.len() - c >= self.block_size {
                let block = &input[c..c + self.block_size];
                let bound = crate::compress_bound(block.len(), &self.opts)?;
                let n = if output.len() - w >= bound {
                    // Straight into the caller's output, which is written out, not reread.
                    let out = &mut output[w..];
                    let n =
                        crate::pipeline::compress_into(block, None, &[], &self.opts, out, true)?;
                    w += n;
                    n
                } else {
                    self.encode_into_out(block)?
                };
                self.record(n, block.len());
                c += self.block_size;
                continue;
            }
            // Input goes into the block even while coded bytes wait for room (but a whole
            // block waits for the fast path above).
            let whole = self.block.is_empty() && input.len() - c >= self.block_size;
            if c < input.len() && self.block.len() < self.block_size && !whole {
                if self.block.capacity() < self.block_size {
                    // Fresh pages, huge where large, that the block's bytes are copied into.
                    let mut fresh = crate::zeroed_vec(self.block_size)?;
                    fresh.clear();
                    fresh.extend_from_slice(&self.block);
                    self.block = fresh;
                }
                let take = (self.block_size - self.block.len()).min(input.len() - c);
                self.block.extend_from_slice(&input[c..c + take]);
                c += take;
            }
            if self.block.len() == self.block_size && self.out.is_empty() {
                self.encode_block()?;
                continue;
            }
            break;
        }
        Ok((c, w))
    }

    fn encode_block(&mut self) -> Result<()> {
        let block = std::mem::take(&mut self.block);
        let r = self.encode_into_out(&block);
        self.block = block;
        let n = r?;
        self.record(n, self.block.len());
        self.block.clear();
        Ok(())
    }

    /// Codes `block` into `out` (empty); returns the frame's length.
    fn encode_into_out(&mut self, block: &[u8]) -> Result<usize> {
        let bound = crate::compress_bound(block.len(), &self.opts)?;
        let room = self.out.room(bound)?;
        let n = crate::compress_into(block, &[], &self.opts, room)?;
        self.out.set(n);
        Ok(n)
    }

    /// Counts a frame of `n` bytes coded from `len` input bytes.
    fn record(&mut self, n: usize, len: usize) {
        self.entries.push((n as u64, len as u64));
        self.stream_pos += n as u64;
        self.total_in += len as u64;
    }

    /// Coded bytes waiting to be given out.
    pub(super) fn pending(&self) -> &[u8] {
        &self.out.buf[self.out.pos..self.out.len]
    }

    /// Marks the first `n` bytes of [`Compressor::pending`] as given out.
    pub(super) fn consume(&mut self, n: usize) {
        self.out.pos += n.min(self.out.len - self.out.pos);
    }

    /// Ends the stream: codes the last block, then writes the index and trailer. Returns
    /// `(written, done)`; call again with more room until `done` is true. After the first
    /// call, [`Compressor::compress`] is an error.
    pub fn finish(&mut self, output: &mut [u8]) -> Result<(usize, bool)> {
        if let Some(e) = self.failed {
            return Err(e);
        }
        let r = self.finish_inner(output);
        if let Err(e) = r {
            self.failed = Some(e);
        }
        r
    }

    fn finish_inner(&mut self, output: &mut [u8]) -> Result<(usize, bool)> {
        if self.state == CState::Running {
            self.state = CState::Finishing;
        }
        let mut w = 0;
        loop {
            w += self.out.drain(&mut output[w..]);
            if !self.out.is_empty() {
                return Ok((w, false));
            }
            if self.state == CState::Done {
                return Ok((w, true));
            }
            if !self.block.is_empty() {
                self.encode_block()?;
                continue;
            }
            let tail = write_tail(&self.entries, self.stream_pos, self.total_in)?;
            self.out.room(tail.len())?.copy_from_slice(&tail);
            self.out.set(tail.len());
            self.state = CState::Done;
        }
    }

    /// Whether the stream is complete and every byte of it has been written out.
    pub fn is_done(&self) -> bool {
        self.state == CState::Done && self.out.is_empty()
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    /// Gathering the stream header.
    Header,
    /// Gathering four bytes: a frame's magic or the index's.
    Peek,
    /// Gathering the first six bytes of a frame, which say whether it is compact.
    FrameStart,
    /// Gathering a compact frame's header, up to its payload (docs/FORMAT.md 3.4).
    FrameCompact,
    /// Gathering a frame's fixed header.
    FrameFixed,
    /// Gathering a frame's whole header (through the header checksum).
    FrameHeader,
    /// Gathering the rest of the frame.
    FrameBody,
    /// Gathering the index and the trailer.
    Index,
    /// Gathering the header of a frame the reference package wrote.
    RefHeader,
    /// Gathering the rest of that frame.
    RefBody,
    /// The trailer has been checked.
    Done,
}

/// A streaming decompressor: give it stream bytes piece by piece with
/// [`Decompressor::decompress`] and take the original bytes as they come; then
/// [`Decompressor::finish`] tells whether the stream was complete.
///
/// Everything is validated as it arrives (stream header, each frame's header and chunk
/// checksums before any of the frame's output is given out, the index against the frames
/// seen, the trailer), so bad input is reported at the first bad structure. It holds one
/// frame of input and one block of output (about `2 * block_size` bytes) plus 16 bytes per
/// frame seen. After an error it returns the same error from every call.
///
/// It also reads what the reference package wrote (PyPI zipnn 0.5.x: one frame, or a
/// streamed sequence of frames, as in its `.znn` files; docs/REFERENCE-FORMAT.md). Such a
/// frame has no checksum and its planes are stored one after another, so each frame is
/// held whole before its output is given out; its declared size is checked against
/// `max_size`, and its length against the most its header allows, before that.
#[derive(Debug)]
pub struct Decompressor {
    opts: DecompressOptions,
    block_size: u64,
    acc: Gather,
    need: usize,
    phase: Phase,
    header: Option<frame::Header>,
    out: Pending,
    entries: Vec<Entry>,
    /// Stream bytes in completed structures (header and frames).
    stream_pos: u64,
    total_out: u64,
    failed: Option<Error>,
    /// The first frame's header, when the input is in the reference package's format.
    reference: Option<refformat::Header>,
}

impl Default for Decompressor {
    fn default() -> Self {
        Decompressor::new()
    }
}

impl Decompressor {
    /// A decompressor with default options (all cores, no size limit).
    pub fn new() -> Decompressor {
        Decompressor::with_options(&DecompressOptions::default())
    }

    /// A decompressor with `opts`: `threads` decode each frame's chunks; a stream whose
    /// original size passes `max_size` (when nonzero) is `LimitExceeded` as soon as a
    /// frame would pass it.
    pub fn with_options(opts: &DecompressOptions) -> Decompressor {
        Decompressor {
            opts: *opts,
            block_size: 0,
            acc: Gather::default(),
            need: STREAM_HEADER_SIZE,
            phase: Phase::Header,
            header: None,
            out: Pending::default(),
            entries: Vec::new(),
            stream_pos: 0,
            total_out: 0,
            failed: None,
            reference: None,
        }
    }

    /// Takes stream bytes from `input` and writes original bytes to `output`; returns
    /// `(consumed, written)`. Call again with the rest of the input; with an empty input it
    /// gives out decoded bytes still waiting. Errors are those of the stream and frame
    /// formats (`BadMagic`, `UnsupportedVersion`, `Checksum`, `Corrupt`, ...), `Corrupt`
    /// for bytes after the trailer, `LimitExceeded` and `Alloc`.
    pub fn decompress(&mut self, input: &[u8], output: &mut [u8]) -> Result<(usize, usize)> {
        if let Some(e) = self.failed {
            return Err(e);
        }
        let r = self.decompress_inner(input, output);
        if let Err(e) = r {
            self.failed = Some(e);
        }
        r
    }

    fn decompress_inner(&mut self, input: &[u8], output: &mut [u8]) -> Result<(usize, usize)> {
        let (mut c, mut w) = (0, 0);
        // Where the current structure starts in `input` while all of it so far is there:
        // it is checked (and a frame decoded) from `input` itself, not copied into `acc`.
        let mut from: Option<usize> = None;
        loop {
            w += self.out.drain(&mut output[w..]);
            if !self.out.is_empty() {
                break;
            }
            if self.phase == Phase::Done {
                if c < input.len() {
                    return Err(Error::Corrupt);
                }
                break;
            }
            if self.acc.is_empty() && from.is_none() && self.phase == Phase::Peek {
                // Several whole frames here and room for them: decoded in one go.
                let (used, n) = self.whole_frames(&input[c..], &mut output[w..])?;
                c += used;
                w += n;
            }
            if self.acc.is_empty() && from.is_none() {
                from = Some(c);
            }
            if let Some(s) = from {
                if input.len() - s >= self.need {
                    c = s + self.need;
                    let (done, n) = self.advance(&input[s..c], &mut output[w..])?;
                    w += n;
                    if done {
                        from = None;
                    }
                    continue;
                }
                // The rest of the structure comes in a later call: keep what is here.
                let have = &input[s..];
                self.acc.reserve(self.need)?;
                self.acc.extend_from_slice(have);
                c = input.len();
                if self.phase == Phase::Header {
                    self.reject_early()?;
                }
                break;
            }
            let take = (self.need - self.acc.len()).min(input.len() - c);
            if take > 0 {
                // Exactly what this structure needs, so the buffer never grows past one
                // frame (its capacity is kept from frame to frame).
                self.acc.reserve(self.need)?;
                self.acc.extend_from_slice(&input[c..c + take]);
                c += take;
            }
            if self.acc.len() < self.need {
                if self.phase == Phase::Header {
                    self.reject_early()?;
                }
                break;
            }
            let acc = std::mem::take(&mut self.acc);
            let r = self.advance(acc.bytes(), &mut output[w..]);
            self.acc = acc;
            let (done, n) = r?;
            w += n;
            if done {
                self.acc.clear();
            }
        }
        if self.phase == Phase::Done {
            self.acc = Gather::default();
        }
        Ok((c, w))
    }

    /// Reads from `r` into the buffer of the structure being gathered until it holds the
    /// bytes it needs or `r` ends; returns the count (0: the end of `r`). Then
    /// [`Decompressor::decompress`] with an empty input goes on with them. The bytes are
    /// read over the buffer's earlier contents (see [`Gather`]); an error after some bytes
    /// were read ends the call with those bytes (the next call reads again).
    pub(super) fn fill_from(&mut self, r: &mut dyn std::io::Read) -> std::io::Result<usize> {
        let want = self.need.saturating_sub(self.acc.len());
        if want == 0 {
            return Ok(0);
        }
        self.acc.read_from(r, want)
    }

    /// At a frame boundary with the next frames whole in `input` and room for their bytes
    /// in `output`: decodes them together ([`crate::pipeline::decode_checked_first`]: the
    /// checks of all their chunks in one dispatch over the threads, then all their chunks
    /// in another), instead of two dispatches per frame. Returns `(consumed, written)`;
    /// `(0, 0)` (nothing done) unless two frames or more pass every check the frame by
    /// frame path makes, so that a frame that fails one, and the error it gives, is left
    /// to that path. Frames before one with a bad checksum are decoded and taken.
    fn whole_frames(&mut self, input: &[u8], output: &mut [u8]) -> Result<(usize, usize)> {
        let mut frames = Vec::new();
        let (mut used, mut out) = (0usize, 0usize);
        let mut last = self.entries.last().map(|e| e.1);
        while out < BATCH_OUTPUT {
            let Some(f) = self.next_whole(&input[used..], output.len() - out, out as u64, last)
            else {
                break;
            };
            let o = f.header().original_size;
            used += f.frame_size() as usize;
            out += o as usize;
            last = Some(o);
            frames.push(f);
        }
        if frames.len() < 2 {
            return Ok((0, 0));
        }
        let large = output.len() >= crate::pipeline::LARGE_OUTPUT;
        let mut outs = Vec::with_capacity(frames.len());
        let mut rest: &mut [u8] = output;
        for f in &frames {
            let (d, r) = std::mem::take(&mut rest).split_at_mut(f.header().original_size as usize);
            outs.push(d);
            rest = r;
        }
        let good = crate::pipeline::decode_checked_first(&frames, outs, self.opts.threads, large)?;
        let (mut used, mut out) = (0usize, 0usize);
        for f in &frames[..good] {
            let (size, o) = (f.frame_size(), f.header().original_size);
            self.entries.push((size, o));
            self.stream_pos += size;
            self.total_out += o;
            used += size as usize;
            out += o as usize;
        }
        Ok((used, out))
    }

    /// For a new decompressor and a whole stream of this library's format in `input`: its
    /// frames and original length, if every structure passes the checks
    /// [`Decompressor::decompress`] makes of it (the stream header, each frame's header
    /// against the stream and the size limit, the index and trailer against the frames,
    /// nothing after the trailer), all but the chunk checksums, which the caller checks
    /// before decoding. `None` for anything else (a stream in the reference package's
    /// format too), whose error the frame by frame path reports. The decompressor is spent.
    pub(super) fn plan_whole<'b>(
        &mut self,
        input: &'b [u8],
    ) -> Option<(Vec<frame::Frame<'b>>, u64)> {
        if self.phase != Phase::Header || refformat::is_reference(input) {
            return None;
        }
        self.phase = Phase::Done;
        let header = input.get(..STREAM_HEADER_SIZE)?;
        self.block_size = parse_stream_header(header).ok()? as u64;
        let mut pos = STREAM_HEADER_SIZE;
        let (mut frames, mut entries) = (Vec::new(), Vec::new());
        let mut total = 0u64;
        while input.get(pos..pos + 4) == Some(&frame::MAGIC[..]) {
            let last = entries.last().map(|e: &Entry| e.1);
            let f = self.next_whole(&input[pos..], usize::MAX, total, last)?;
            let (size, o) = (f.frame_size(), f.header().original_size);
            entries.push((size, o));
            frames.push(f);
            pos += size as usize; // the frame lies within `input`
            total += o;
        }
        let rest = &input[pos..];
        let need = index_len(entries.len() as u64)? + TRAILER_SIZE as u64;
        if rest.get(..4) != Some(&INDEX_MAGIC[..]) || rest.len() as u64 != need {
            return None;
        }
        let (index, tr) = rest.split_at(rest.len() - TRAILER_SIZE);
        let t = parse_trailer(tr).ok()?;
        let good = t.frame_count == entries.len() as u64
            && parse_index(index, &t, self.block_size as u32).ok()? == entries
            && t.index_offset == pos as u64
            && t.original_size == total;
        good.then_some((frames, total))
    }

    /// The whole frame at the start of `bytes` if it passes every check of the frame by
    /// frame path ([`Decompressor::advance`]) and its original bytes fit in `room`;
    /// `pending` original bytes come before it in this batch, after a frame of `last`
    /// original bytes.
    fn next_whole<'b>(
        &self,
        bytes: &'b [u8],
        room: usize,
        pending: u64,
        last: Option<u64>,
    ) -> Option<frame::Frame<'b>> {
        if bytes.len() < 4 || bytes[..4] != frame::MAGIC {
            return None;
        }
        let h = frame::parse_fixed(bytes).ok()?;
        let o = h.original_size;
        let after_short = last.is_some_and(|l| l != self.block_size);
        if h.base_hash.is_some() || h.metadata_size != 0 || o == 0 || o > self.block_size {
            return None;
        }
        let total = self.total_out + pending + o;
        if after_short || o > room as u64 || (self.opts.max_size != 0 && total > self.opts.max_size)
        {
            return None;
        }
        let info = frame::parse_header(bytes).ok()?;
        let size = info.frame_size();
        if info.header != h || size - info.header_size as u64 > h.body_size() {
            return None;
        }
        let whole = bytes.get(..usize::try_from(size).ok()?)?;
        let f = crate::pipeline::parse_whole(whole, &DecompressOptions::default()).ok()?;
        (f.header().original_size == o).then_some(f)
    }

    /// Checks a frame's header fields against the stream (docs/FORMAT.md 11.2) and the
    /// size limit before the rest of the frame is gathered.
    fn start_frame(&self, h: &frame::Header) -> Result<()> {
        let o = h.original_size;
        let after_short = self.entries.last().is_some_and(|e| e.1 != self.block_size);
        if h.metadata_size != 0 || o == 0 || o > self.block_size || after_short {
            return Err(Error::Corrupt);
        }
        if self.opts.max_size != 0 && self.total_out + o > self.opts.max_size {
            return Err(Error::LimitExceeded);
        }
        Ok(())
    }

    /// Rejects a wrong magic or version without waiting for the whole stream header.
    fn reject_early(&self) -> Result<()> {
        // The start of a frame of the reference package is no stream header either.
        let acc = self.acc.bytes();
        if refformat::MAGIC.starts_with(&acc[..acc.len().min(refformat::MAGIC.len())]) {
            return Ok(());
        }
        match parse_stream_header(acc) {
            Err(Error::Truncated) | Ok(_) => Ok(()),
            Err(e) => Err(e),
        }
    }

    /// `bytes` are all the current structure's bytes so far (`need` of them): checks them
    /// and moves on. A frame is decoded straight into `output` when it has room for it.
    /// Returns whether the structure is complete (its bytes are no longer needed) and the
    /// bytes written to `output`.
    fn advance(&mut self, bytes: &[u8], output: &mut [u8]) -> Result<(bool, usize)> {
        match self.phase {
            Phase::Header if refformat::is_reference(bytes) => {
                // Written by the reference package: its frames, one after another.
                self.phase = Phase::RefHeader;
                self.need = refformat::HEADER_SIZE;
            }
            Phase::Header => {
                self.block_size = parse_stream_header(bytes)? as u64;
                self.stream_pos = STREAM_HEADER_SIZE as u64;
                self.phase = Phase::Peek;
                self.need = 4;
                return Ok((true, 0));
            }
            Phase::Peek => {
                if bytes[..] == frame::MAGIC {
                    self.phase = Phase::FrameStart;
                    self.need = 6;
                } else if bytes[..] == INDEX_MAGIC {
                    let n = self.entries.len() as u64;
                    let len = index_len(n).ok_or(Error::Corrupt)? + TRAILER_SIZE as u64;
                    self.need = usize::try_from(len).map_err(|_| Error::SrcTooLarge)?;
                    self.phase = Phase::Index;
                } else {
                    return Err(Error::BadMagic);
                }
            }
            Phase::FrameStart | Phase::FrameCompact => match frame::measure_compact(bytes)? {
                None => {
                    self.phase = Phase::FrameFixed;
                    self.need = FIXED_HEADER_SIZE;
                }
                Some(compact::Measured::Need(n)) => {
                    self.phase = Phase::FrameCompact;
                    self.need = n; // at most the longest compact header
                }
                Some(compact::Measured::Len(n)) => {
                    let h = frame::parse_fixed(bytes)?;
                    self.start_frame(&h)?;
                    if n as u64 > max_frame_size(h.original_size) {
                        return Err(Error::Corrupt);
                    }
                    self.need = n;
                    self.header = Some(h);
                    self.phase = Phase::FrameBody;
                }
            },
            Phase::FrameFixed => {
                let h = match frame::parse_fixed(bytes) {
                    // The fixed header checked out, all but the base hash after it: a delta
                    // frame, which a stream never holds (docs/FORMAT.md 11.2).
                    Err(Error::Truncated) if bytes[5] & frame::FLAG_DELTA != 0 => {
                        return Err(Error::BaseRequired)
                    }
                    r => r?,
                };
                self.start_frame(&h)?;
                let hs = h.header_size().ok_or(Error::Corrupt)?;
                self.need = hs as usize; // at most max_frame_size(block_size)
                self.header = Some(h);
                self.phase = Phase::FrameHeader;
            }
            Phase::FrameHeader => {
                let h = self.header.ok_or(Error::Internal)?;
                let info = frame::parse_header(bytes)?;
                if info.header != h || info.header_size != self.need {
                    return Err(Error::Internal);
                }
                let body = info.frame_size() - info.header_size as u64;
                if body > h.body_size() {
                    return Err(Error::Corrupt);
                }
                self.need += body as usize;
                self.phase = Phase::FrameBody;
            }
            Phase::FrameBody => {
                let o = self.header.ok_or(Error::Internal)?.original_size as usize;
                let f = crate::pipeline::parse_whole(bytes, &DecompressOptions::default())?;
                if f.header().original_size != o as u64 {
                    return Err(Error::Internal);
                }
                // A delta frame cannot be decoded here (streams carry no base); checksums
                // before the output buffer grows to the frame's declared size.
                crate::pipeline::check_base(f.header(), None)?;
                crate::engine::verify_frame_with(&f, self.opts.threads)?;
                let direct = output.len() >= o;
                // Straight into a caller's buffer too large to stay in the caches: written
                // around them, as one large frame is.
                let large = direct && output.len() >= crate::pipeline::LARGE_OUTPUT;
                let dst = if direct {
                    &mut output[..o]
                } else {
                    self.out.room(o)?
                };
                crate::pipeline::decode_verified_whole(&f, None, dst, self.opts.threads, large)?;
                if !direct {
                    self.out.set(o);
                }
                self.entries.push((bytes.len() as u64, o as u64));
                self.stream_pos += bytes.len() as u64;
                self.total_out += o as u64;
                self.header = None;
                self.phase = Phase::Peek;
                self.need = 4;
                return Ok((true, if direct { o } else { 0 }));
            }
            Phase::Index => {
                let (index, tr) = bytes.split_at(self.need - TRAILER_SIZE);
                // The trailer must end where the frames seen say; if it does not, the
                // index does not match them.
                let t = parse_trailer(tr).map_err(|e| match e {
                    Error::BadMagic => Error::Corrupt,
                    e => e,
                })?;
                if t.frame_count != self.entries.len() as u64 {
                    return Err(Error::Corrupt);
                }
                let entries = parse_index(index, &t, self.block_size as u32)?;
                if entries != self.entries
                    || t.index_offset != self.stream_pos
                    || t.original_size != self.total_out
                {
                    return Err(Error::Corrupt);
                }
                self.phase = Phase::Done;
                return Ok((true, 0));
            }
            Phase::RefHeader => {
                let h = refformat::parse_header(bytes).map_err(|e| match e {
                    // After a frame, the next bytes are another frame or nothing.
                    Error::BadMagic if self.reference.is_some() => Error::Corrupt,
                    e => e,
                })?;
                if let Some(first) = self.reference {
                    let continues = first.streaming_log.is_some()
                        && h.streaming_log.is_some()
                        && h.kind == refformat::InputKind::Byte
                        && h.dtype_code == first.dtype_code
                        && h.delta == first.delta;
                    if !continues {
                        return Err(Error::Corrupt);
                    }
                }
                if h.delta != refformat::DeltaKind::None {
                    // Streams carry no base.
                    return Err(Error::BaseRequired);
                }
                let total = self.total_out.checked_add(h.original_size);
                if self.opts.max_size != 0 && total.map_or(true, |t| t > self.opts.max_size) {
                    return Err(Error::LimitExceeded);
                }
                // The frame is held whole: no more than its declared size allows.
                if !matches!(h.max_frame_size(), Some(m) if h.frame_size <= m) {
                    return Err(Error::Corrupt);
                }
                self.need = usize::try_from(h.frame_size).map_err(|_| Error::SrcTooLarge)?;
                self.reference.get_or_insert(h);
                self.phase = Phase::RefBody;
            }
            Phase::RefBody => {
                let v = refformat::decompress(bytes, &self.opts)?;
                let n = v.len();
                self.total_out += n as u64;
                self.stream_pos += bytes.len() as u64;
                let direct = output.len() >= n;
                if direct {
                    output[..n].copy_from_slice(&v);
                } else {
                    self.out.buf = v;
                    self.out.set(n);
                }
                let streamed = self.reference.is_some_and(|h| h.streaming_log.is_some());
                if streamed {
                    self.phase = Phase::RefHeader;
                    self.need = refformat::HEADER_SIZE;
                } else {
                    self.phase = Phase::Done;
                }
                return Ok((true, if direct { n } else { 0 }));
            }
            Phase::Done => return Err(Error::Internal),
        }
        Ok((false, 0))
    }

    /// Whether the input so far ends at a frame boundary of reference frames.
    fn reference_complete(&self) -> bool {
        self.reference.is_some() && self.phase == Phase::RefHeader && self.acc.is_empty()
    }

    /// Whether the whole stream (through its trailer) has been checked and every original
    /// byte given out.
    pub fn is_done(&self) -> bool {
        (self.phase == Phase::Done || self.reference_complete()) && self.out.is_empty()
    }

    /// `Ok` if the stream was complete and every byte has been given out; `Truncated` if
    /// the stream ended early; `DstTooSmall` if decoded bytes are still waiting (call
    /// [`Decompressor::decompress`] with an empty input to take them); or the earlier
    /// error.
    pub fn finish(&self) -> Result<()> {
        if let Some(e) = self.failed {
            return Err(e);
        }
        if !self.out.is_empty() {
            return Err(Error::DstTooSmall);
        }
        if self.phase != Phase::Done && !self.reference_complete() {
            return Err(Error::Truncated);
        }
        Ok(())
    }

    /// Original bytes given out so far, or decoded and waiting.
    pub fn total_out(&self) -> u64 {
        self.total_out
    }
}
