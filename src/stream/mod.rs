//! Streams: input of any length compressed block by block with bounded memory, and an
//! index at the end for random access. docs/FORMAT.md section 11 describes every byte.
//!
//! A stream is a stream header, one frame (docs/FORMAT.md sections 2-7) per block of
//! `block_size` input bytes (the last block may be shorter), an index (one entry per
//! frame) and a fixed-size trailer at the very end.
//!
//! - [`Compressor`] and [`Decompressor`] are push-style contexts in the zstd idiom: give
//!   them input piece by piece and an output buffer, and they report how much they
//!   consumed and wrote. Their memory is O(`block_size`) whatever the stream's length.
//! - [`Writer`] and [`Reader`] adapt them to [`std::io::Write`] and [`std::io::Read`].
//! - [`StreamReader`] reads the trailer and index of a seekable stream and decodes any
//!   byte range by decoding only the chunks that cover it.
//!
//! ```
//! use std::io::{Read, Write};
//! use zipnn::stream::{Reader, StreamReader, Writer, DEFAULT_BLOCK_SIZE};
//! use zipnn::{DType, Options};
//! let data: Vec<u8> = (0..100_000u32).flat_map(|i| ((i as f32).cos() * 0.02).to_le_bytes()).collect();
//! let mut w = Writer::new(Vec::new(), &Options::new(DType::Fp32), DEFAULT_BLOCK_SIZE).unwrap();
//! w.write_all(&data).unwrap();
//! let stream = w.finish().unwrap();
//! let mut back = Vec::new();
//! Reader::new(&stream[..]).read_to_end(&mut back).unwrap();
//! assert_eq!(back, data);
//! let mut r = StreamReader::open(std::io::Cursor::new(&stream)).unwrap();
//! assert_eq!(r.read_range(1000, 50).unwrap(), &data[1000..1050]);
//! ```

use std::io::{self, Read, Seek, SeekFrom, Write};

use crate::error::{Error, Result};
use crate::frame::{self, checksum, Frame, FIXED_HEADER_SIZE};
use crate::{DecompressOptions, Options};

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

fn le32(b: &[u8], at: usize) -> u32 {
    u32::from_le_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]])
}

fn le64(b: &[u8], at: usize) -> u64 {
    let mut a = [0u8; 8];
    a.copy_from_slice(&b[at..at + 8]);
    u64::from_le_bytes(a)
}

fn check_block_size(block_size: u32) -> Result<()> {
    if (MIN_BLOCK_SIZE..=MAX_BLOCK_SIZE).contains(&block_size) {
        Ok(())
    } else {
        Err(Error::InvalidParam)
    }
}

/// The largest frame a valid stream can hold for a block of `len` bytes: a header with no
/// metadata and chunks of at least the smallest chunk size with 8 planes, plus payloads
/// no longer than the block.
fn max_frame_size(len: u64) -> u64 {
    let chunks = len.div_ceil(crate::MIN_CHUNK_SIZE as u64);
    let entry = (frame::CHUNK_CHECKSUM_SIZE + 8 * frame::PLANE_ENTRY_SIZE) as u64;
    (FIXED_HEADER_SIZE + frame::BASE_HASH_SIZE + frame::HEADER_CHECKSUM_SIZE) as u64
        + chunks * entry
        + len
}

/// The stream header for `block_size`.
fn write_stream_header(block_size: u32) -> [u8; STREAM_HEADER_SIZE] {
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
fn parse_stream_header(src: &[u8]) -> Result<u32> {
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
struct Trailer {
    index_offset: u64,
    frame_count: u64,
    original_size: u64,
    index_checksum: u64,
}

fn write_trailer(t: &Trailer) -> [u8; TRAILER_SIZE] {
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

fn parse_trailer(b: &[u8]) -> Result<Trailer> {
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
type Entry = (u64, u64);

fn index_len(frames: u64) -> Option<u64> {
    frames
        .checked_mul(INDEX_ENTRY_SIZE as u64)?
        .checked_add(INDEX_HEADER_SIZE as u64)
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
fn parse_index(index: &[u8], t: &Trailer, block_size: u32) -> Result<Vec<Entry>> {
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
        if !size_ok || f < (FIXED_HEADER_SIZE + 8) as u64 || f > max_frame_size(o) {
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
        if self.buf.len() < n {
            self.buf
                .try_reserve_exact(n - self.buf.len())
                .map_err(|_| Error::Alloc)?;
            self.buf.resize(n, 0);
        }
        Ok(&mut self.buf[..n])
    }

    fn set(&mut self, len: usize) {
        self.pos = 0;
        self.len = len;
    }
}

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
            // Input goes into the block even while coded bytes wait for room.
            if c < input.len() && self.block.len() < self.block_size {
                if self.block.capacity() < self.block_size {
                    self.block
                        .try_reserve_exact(self.block_size)
                        .map_err(|_| Error::Alloc)?;
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
        let bound = crate::compress_bound(self.block.len(), &self.opts)?;
        let room = self.out.room(bound)?;
        let n = crate::compress_into(&self.block, &[], &self.opts, room)?;
        self.out.set(n);
        self.entries.push((n as u64, self.block.len() as u64));
        self.stream_pos += n as u64;
        self.total_in += self.block.len() as u64;
        self.block.clear();
        Ok(())
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
            let mut tail = Vec::new();
            tail.try_reserve_exact(
                INDEX_HEADER_SIZE + INDEX_ENTRY_SIZE * self.entries.len() + TRAILER_SIZE,
            )
            .map_err(|_| Error::Alloc)?;
            write_index(&self.entries, &mut tail);
            let t = Trailer {
                index_offset: self.stream_pos,
                frame_count: self.entries.len() as u64,
                original_size: self.total_in,
                index_checksum: checksum(&tail),
            };
            tail.extend_from_slice(&write_trailer(&t));
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
    /// Gathering a frame's fixed header.
    FrameFixed,
    /// Gathering a frame's whole header (through the header checksum).
    FrameHeader,
    /// Gathering the rest of the frame.
    FrameBody,
    /// Gathering the index and the trailer.
    Index,
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
#[derive(Debug)]
pub struct Decompressor {
    opts: DecompressOptions,
    block_size: u64,
    acc: Vec<u8>,
    need: usize,
    phase: Phase,
    header: Option<frame::Header>,
    out: Pending,
    entries: Vec<Entry>,
    /// Stream bytes in completed structures (header and frames).
    stream_pos: u64,
    total_out: u64,
    failed: Option<Error>,
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
            acc: Vec::new(),
            need: STREAM_HEADER_SIZE,
            phase: Phase::Header,
            header: None,
            out: Pending::default(),
            entries: Vec::new(),
            stream_pos: 0,
            total_out: 0,
            failed: None,
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
            let take = (self.need - self.acc.len()).min(input.len() - c);
            if take > 0 {
                // Exactly what this structure needs, so the buffer never grows past one
                // frame (its capacity is kept from frame to frame).
                let want = self.need - self.acc.len();
                self.acc.try_reserve_exact(want).map_err(|_| Error::Alloc)?;
                self.acc.extend_from_slice(&input[c..c + take]);
                c += take;
            }
            if self.acc.len() < self.need {
                if self.phase == Phase::Header {
                    // Reject a wrong magic or version without waiting for the whole header.
                    match parse_stream_header(&self.acc) {
                        Err(Error::Truncated) | Ok(_) => {}
                        Err(e) => return Err(e),
                    }
                }
                break;
            }
            self.advance()?;
        }
        Ok((c, w))
    }

    /// The bytes for the current phase are all in `acc`: check them and move on.
    fn advance(&mut self) -> Result<()> {
        match self.phase {
            Phase::Header => {
                self.block_size = parse_stream_header(&self.acc)? as u64;
                self.stream_pos = STREAM_HEADER_SIZE as u64;
                self.acc.clear();
                self.phase = Phase::Peek;
                self.need = 4;
            }
            Phase::Peek => {
                if self.acc[..] == frame::MAGIC {
                    self.phase = Phase::FrameFixed;
                    self.need = FIXED_HEADER_SIZE;
                } else if self.acc[..] == INDEX_MAGIC {
                    let n = self.entries.len() as u64;
                    let len = index_len(n).ok_or(Error::Corrupt)? + TRAILER_SIZE as u64;
                    self.need = usize::try_from(len).map_err(|_| Error::SrcTooLarge)?;
                    self.phase = Phase::Index;
                } else {
                    return Err(Error::BadMagic);
                }
            }
            Phase::FrameFixed => {
                let h = frame::parse_fixed(&self.acc)?;
                let o = h.original_size;
                let after_short = self.entries.last().is_some_and(|e| e.1 != self.block_size);
                if h.metadata_size != 0 || o == 0 || o > self.block_size || after_short {
                    return Err(Error::Corrupt);
                }
                if self.opts.max_size != 0 && self.total_out + o > self.opts.max_size {
                    return Err(Error::LimitExceeded);
                }
                let hs = h.header_size().ok_or(Error::Corrupt)?;
                self.need = hs as usize; // at most max_frame_size(block_size)
                self.header = Some(h);
                self.phase = Phase::FrameHeader;
            }
            Phase::FrameHeader => {
                let h = self.header.ok_or(Error::Internal)?;
                let sum_at = self.need - frame::HEADER_CHECKSUM_SIZE;
                if checksum(&self.acc[..sum_at]) != le64(&self.acc, sum_at) {
                    return Err(Error::Checksum);
                }
                let mut body = 0u64;
                for entry in self.acc[FIXED_HEADER_SIZE..sum_at].chunks_exact(h.entry_size()) {
                    for p in entry[frame::CHUNK_CHECKSUM_SIZE..].chunks_exact(5) {
                        body += le32(p, 1) as u64;
                    }
                }
                if body > h.body_size() {
                    return Err(Error::Corrupt);
                }
                self.need += body as usize;
                self.phase = Phase::FrameBody;
            }
            Phase::FrameBody => {
                let o = self.header.ok_or(Error::Internal)?.original_size as usize;
                let f = crate::parse_whole(&self.acc, &DecompressOptions::default())?;
                if f.header().original_size != o as u64 {
                    return Err(Error::Internal);
                }
                // A delta frame cannot be decoded here (streams carry no base); checksums
                // before the output buffer grows to the frame's declared size.
                crate::check_base(f.header(), None)?;
                crate::engine::verify_frame(&f)?;
                let room = self.out.room(o)?;
                crate::decode_verified_whole(&f, None, room, self.opts.threads)?;
                let n = o;
                self.out.set(n);
                self.entries.push((self.acc.len() as u64, n as u64));
                self.stream_pos += self.acc.len() as u64;
                self.total_out += n as u64;
                self.acc.clear();
                self.header = None;
                self.phase = Phase::Peek;
                self.need = 4;
            }
            Phase::Index => {
                let (index, tr) = self.acc.split_at(self.need - TRAILER_SIZE);
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
                self.acc = Vec::new();
                self.phase = Phase::Done;
            }
            Phase::Done => return Err(Error::Internal),
        }
        Ok(())
    }

    /// Whether the whole stream (through its trailer) has been checked and every original
    /// byte given out.
    pub fn is_done(&self) -> bool {
        self.phase == Phase::Done && self.out.is_empty()
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
        if self.phase != Phase::Done {
            return Err(Error::Truncated);
        }
        Ok(())
    }

    /// Original bytes given out so far, or decoded and waiting.
    pub fn total_out(&self) -> u64 {
        self.total_out
    }
}

/// An [`io::Error`] carrying a zipnn [`Error`] (kind `InvalidData`); [`error_of`] gets it
/// back.
pub fn io_error(e: Error) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, e)
}

/// The zipnn [`Error`] inside an [`io::Error`] from this module, if there is one (there is
/// none for errors of the underlying reader or writer).
pub fn error_of(e: &io::Error) -> Option<Error> {
    e.get_ref()
        .and_then(|inner| inner.downcast_ref::<Error>())
        .copied()
}

const IO_BUF: usize = 256 * 1024;

/// An [`io::Write`] that compresses into a stream written to `W`. Call
/// [`Writer::finish`] at the end: dropping a `Writer` leaves the stream unfinished (a
/// reader then reports `Truncated`).
#[derive(Debug)]
pub struct Writer<W: Write> {
    inner: W,
    c: Compressor,
    buf: Vec<u8>,
}

impl<W: Write> Writer<W> {
    /// A writer that compresses with `opts` and `block_size` (see [`Compressor::new`]).
    pub fn new(inner: W, opts: &Options, block_size: u32) -> Result<Writer<W>> {
        Ok(Writer {
            inner,
            c: Compressor::new(opts, block_size)?,
            buf: vec![0; IO_BUF],
        })
    }

    /// The underlying writer.
    pub fn get_ref(&self) -> &W {
        &self.inner
    }

    /// Writes the last frame, the index and the trailer, flushes, and returns the
    /// underlying writer.
    pub fn finish(mut self) -> io::Result<W> {
        loop {
            let (w, done) = self.c.finish(&mut self.buf).map_err(io_error)?;
            self.inner.write_all(&self.buf[..w])?;
            if done {
                break;
            }
        }
        self.inner.flush()?;
        Ok(self.inner)
    }
}

impl<W: Write> Write for Writer<W> {
    fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        let mut c = 0;
        while c < data.len() {
            let (cc, w) = self
                .c
                .compress(&data[c..], &mut self.buf)
                .map_err(io_error)?;
            self.inner.write_all(&self.buf[..w])?;
            c += cc;
        }
        Ok(c)
    }

    /// Writes out the frames coded so far. A partly filled block stays buffered: only the
    /// stream's last frame may be shorter than the block size.
    fn flush(&mut self) -> io::Result<()> {
        loop {
            let (_, w) = self.c.compress(&[], &mut self.buf).map_err(io_error)?;
            if w == 0 {
                break;
            }
            self.inner.write_all(&self.buf[..w])?;
        }
        self.inner.flush()
    }
}

/// An [`io::Read`] that decompresses the stream read from `R`. Reading past the end checks
/// that the stream was complete (`Truncated` otherwise, as an `InvalidData` error; see
/// [`error_of`]) and that nothing follows it (`Corrupt`).
#[derive(Debug)]
pub struct Reader<R: Read> {
    inner: R,
    d: Decompressor,
    buf: Vec<u8>,
    pos: usize,
    len: usize,
    eof: bool,
}

impl<R: Read> Reader<R> {
    /// A reader with default decompression options.
    pub fn new(inner: R) -> Reader<R> {
        Reader::with_options(inner, &DecompressOptions::default())
    }

    /// A reader with `opts` (see [`Decompressor::with_options`]).
    pub fn with_options(inner: R, opts: &DecompressOptions) -> Reader<R> {
        Reader {
            inner,
            d: Decompressor::with_options(opts),
            buf: vec![0; IO_BUF],
            pos: 0,
            len: 0,
            eof: false,
        }
    }

    /// The underlying reader.
    pub fn into_inner(self) -> R {
        self.inner
    }
}

impl<R: Read> Read for Reader<R> {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        if out.is_empty() {
            return Ok(0);
        }
        loop {
            let (c, w) = self
                .d
                .decompress(&self.buf[self.pos..self.len], out)
                .map_err(io_error)?;
            self.pos += c;
            if w > 0 {
                return Ok(w);
            }
            if self.pos == self.len {
                if self.eof {
                    self.d.finish().map_err(io_error)?;
                    return Ok(0);
                }
                self.len = self.inner.read(&mut self.buf)?;
                self.pos = 0;
                self.eof = self.len == 0;
            }
        }
    }
}

/// Random access to a stream in a seekable reader (a file, or `io::Cursor` over bytes).
///
/// [`StreamReader::open`] reads the header, the trailer and the index (and checks them);
/// [`StreamReader::read_range_into`] then reads and decodes only the frames, and within
/// them only the chunks, that cover the range asked for. Memory: one frame and one chunk
/// at a time, plus 24 bytes per frame for the index.
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

fn read_exact_at<R: Read + Seek>(r: &mut R, at: u64, buf: &mut [u8]) -> io::Result<()> {
    r.seek(SeekFrom::Start(at))?;
    r.read_exact(buf).map_err(|e| {
        if e.kind() == io::ErrorKind::UnexpectedEof {
            io_error(Error::Truncated)
        } else {
            e
        }
    })
}

impl<R: Read + Seek> StreamReader<R> {
    /// Reads and checks the stream's header, trailer and index.
    pub fn open(mut inner: R) -> io::Result<StreamReader<R>> {
        let len = inner.seek(SeekFrom::End(0))?;
        let mut head = [0u8; STREAM_HEADER_SIZE];
        let hn = (len as usize).min(STREAM_HEADER_SIZE);
        read_exact_at(&mut inner, 0, &mut head[..hn])?;
        let block_size = parse_stream_header(&head[..hn]).map_err(io_error)?;
        let min_len = (STREAM_HEADER_SIZE + INDEX_HEADER_SIZE + TRAILER_SIZE) as u64;
        if len < min_len {
            return Err(io_error(Error::Truncated));
        }
        let mut tr = [0u8; TRAILER_SIZE];
        read_exact_at(&mut inner, len - TRAILER_SIZE as u64, &mut tr)?;
        let t = parse_trailer(&tr).map_err(io_error)?;
        let ilen = index_len(t.frame_count).ok_or(io_error(Error::Corrupt))?;
        let consistent = t.index_offset >= STREAM_HEADER_SIZE as u64
            && t.index_offset.checked_add(ilen) == Some(len - TRAILER_SIZE as u64);
        if !consistent {
            return Err(io_error(Error::Corrupt));
        }
        let mut index = Vec::new();
        index
            .try_reserve_exact(ilen as usize)
            .map_err(|_| io_error(Error::Alloc))?;
        index.resize(ilen as usize, 0);
        read_exact_at(&mut inner, t.index_offset, &mut index)?;
        let entries = parse_index(&index, &t, block_size).map_err(io_error)?;
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

    /// The underlying reader.
    pub fn into_inner(self) -> R {
        self.inner
    }

    /// Original bytes `[offset, offset + len)`, cut at the end of the data. `offset` past
    /// the end is `InvalidParam`.
    pub fn read_range(&mut self, offset: u64, len: usize) -> io::Result<Vec<u8>> {
        let total = self.info.original_size;
        if offset > total {
            return Err(io_error(Error::InvalidParam));
        }
        let n = (len as u64).min(total - offset) as usize;
        let mut v = Vec::new();
        v.try_reserve_exact(n).map_err(|_| io_error(Error::Alloc))?;
        v.resize(n, 0);
        self.read_range_into(offset, &mut v)?;
        Ok(v)
    }

    /// Decodes original bytes from `offset` into `dst`, up to its length or the end of the
    /// data, and returns the count. `offset` past the end is `InvalidParam`. Only the
    /// frames and chunks that cover the range are read, checked and decoded.
    pub fn read_range_into(&mut self, offset: u64, dst: &mut [u8]) -> io::Result<usize> {
        let total = self.info.original_size;
        if offset > total {
            return Err(io_error(Error::InvalidParam));
        }
        let len = (dst.len() as u64).min(total - offset) as usize;
        let end = offset + len as u64;
        let bs = self.info.block_size as u64;
        let mut pos = offset;
        while pos < end {
            let fi = (pos / bs) as usize;
            let fstart = fi as u64 * bs;
            let forig = self.entries[fi].1;
            let a = pos - fstart;
            let b = end.min(fstart + forig) - fstart;
            let out = &mut dst[(pos - offset) as usize..(fstart + b - offset) as usize];
            self.load(fi)?;
            if a == 0 && b == forig {
                crate::decompress_into_with(&self.buf, out, &self.opts).map_err(io_error)?;
            } else {
                let f = Frame::parse(&self.buf).map_err(io_error)?;
                decode_part(&f, a, b, out, &mut self.scratch).map_err(io_error)?;
            }
            pos = fstart + b;
        }
        Ok(len)
    }

    /// Reads frame `i` into `buf` and checks its header against the index.
    fn load(&mut self, i: usize) -> io::Result<()> {
        if self.loaded == Some(i) {
            return Ok(());
        }
        self.loaded = None;
        let (size, orig) = self.entries[i];
        let size = size as usize; // bounded by max_frame_size(block_size)
        self.buf.clear();
        self.buf
            .try_reserve_exact(size)
            .map_err(|_| io_error(Error::Alloc))?;
        self.buf.resize(size, 0);
        read_exact_at(&mut self.inner, self.offsets[i], &mut self.buf)?;
        let f = Frame::parse(&self.buf).map_err(io_error)?;
        let h = f.header();
        if f.frame_size() != size as u64 || h.original_size != orig || h.metadata_size != 0 {
            return Err(io_error(Error::Corrupt));
        }
        self.loaded = Some(i);
        Ok(())
    }
}

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
                crate::decode_chunk_checked(f, i, None, dst)?;
            } else {
                // Checksum before the scratch buffer grows to the chunk's length.
                crate::engine::verify_chunk(f, i)?;
                let n = (r.end - r.start) as usize;
                if scratch.len() < n {
                    scratch.resize(n, 0);
                }
                crate::decode_chunk_checked(f, i, None, &mut scratch[..n])?;
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

#[cfg(test)]
mod tests {
    use super::*;

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
