//! zipnn: lossless compression for neural-network weights.
//!
//! Each float's bits are moved so that every field fills whole bytes, byte `k` of every
//! element goes to plane `k`, and each plane of each chunk is entropy-coded on its own
//! (Huffman by default), falling back to raw where coding does not pay. Chunks are
//! independent: they are coded in parallel and any one can be decoded alone.
//!
//! ```
//! use zipnn::{compress, decompress, DType, Options};
//! let weights: Vec<u8> = (0..4096u32).flat_map(|i| ((i as f32).sin() * 0.02).to_le_bytes()).collect();
//! let frame = compress(&weights, &Options::new(DType::Fp32)).unwrap();
//! assert!(frame.len() < weights.len());
//! assert_eq!(decompress(&frame).unwrap(), weights);
//! ```
//!
//! The C ABI in [`capi`] wraps exactly this API; docs/FORMAT.md specifies the frame.

#![warn(missing_docs)]

pub mod capi;
pub mod codec;
pub mod container;
mod delta;
mod engine;
pub mod error;
pub mod frame;
mod lossy;
mod options;
pub mod stream;
pub mod transform;

pub use codec::Codec;
pub use error::{Error, Result};
pub use frame::Frame;
pub use options::{
    DType, Level, Lossy, Method, Options, DEFAULT_CHUNK_SIZE, DEFAULT_LZ4_LEVEL, DEFAULT_THRESHOLD,
    DEFAULT_ZSTD_LEVEL, MAX_CHUNK_SIZE, MAX_METADATA_SIZE, MIN_CHUNK_SIZE,
};

/// Options for decompression.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct DecompressOptions {
    /// Worker threads; 0 = all cores, 1 = the calling thread only.
    pub threads: u32,
    /// Refuse frames whose decompressed size is above this many bytes; 0 = no limit.
    pub max_size: u64,
}

/// What a frame header says, without decoding any chunk.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FrameInfo {
    /// Format version of the frame.
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

/// Applies the lossy step and the delta: the bytes to code, the options with the lossy
/// mode actually applied, and the base hash for the header.
fn prepare<'s>(
    src: &'s [u8],
    base: Option<&[u8]>,
    opts: &Options,
) -> Result<(std::borrow::Cow<'s, [u8]>, Options, Option<u64>)> {
    opts.validate()?;
    let (data, applied) = lossy::apply(src, opts.dtype, opts.lossy);
    let o = Options {
        lossy: applied,
        ..opts.clone()
    };
    match base {
        None => Ok((data, o, None)),
        Some(b) if b.len() != src.len() => Err(Error::BaseMismatch),
        Some(b) => Ok((
            std::borrow::Cow::Owned(delta::xor(&data, b)),
            o,
            Some(delta::base_hash(b)),
        )),
    }
}

/// The largest frame [`compress`] can produce for `src_len` bytes of input with these
/// options and no metadata (add the metadata's length when there is some).
pub fn compress_bound(src_len: usize, opts: &Options) -> Result<usize> {
    engine::compress_bound(src_len, opts)
}

/// Compresses `src` into a new frame.
pub fn compress(src: &[u8], opts: &Options) -> Result<Vec<u8>> {
    compress_with_metadata(src, &[], opts)
}

/// Compresses `src` into a new frame that carries `metadata` (at most
/// [`MAX_METADATA_SIZE`] bytes, for example a tensor's shape) for the caller.
pub fn compress_with_metadata(src: &[u8], metadata: &[u8], opts: &Options) -> Result<Vec<u8>> {
    let (data, o, _) = prepare(src, None, opts)?;
    engine::compress_vec(&data, metadata, &o, None)
}

/// Compresses `src` (with optional `metadata`) into `dst` and returns the frame's length.
/// `dst` of [`compress_bound`] bytes (plus the metadata's length) is always enough; on
/// error, `dst` is left as it was.
pub fn compress_into(src: &[u8], metadata: &[u8], opts: &Options, dst: &mut [u8]) -> Result<usize> {
    let (data, o, _) = prepare(src, None, opts)?;
    engine::compress_into(&data, metadata, &o, None, dst)
}

/// Compresses `src` as a delta against `base` (same length, e.g. the same tensor of the
/// base model): the frame codes `src XOR base` and records the base's hash, so it can only
/// be decompressed with that base ([`decompress_delta`]).
pub fn compress_delta(src: &[u8], base: &[u8], opts: &Options) -> Result<Vec<u8>> {
    let (data, o, h) = prepare(src, Some(base), opts)?;
    engine::compress_vec(&data, &[], &o, h)
}

/// [`compress_delta`] with metadata, into `dst` (see [`compress_into`]); returns the
/// frame's length.
pub fn compress_delta_into(
    src: &[u8],
    base: &[u8],
    metadata: &[u8],
    opts: &Options,
    dst: &mut [u8],
) -> Result<usize> {
    let (data, o, h) = prepare(src, Some(base), opts)?;
    engine::compress_into(&data, metadata, &o, h, dst)
}

/// Decompresses one whole frame (and nothing after it) into a new vector.
pub fn decompress(frame: &[u8]) -> Result<Vec<u8>> {
    decompress_with(frame, &DecompressOptions::default())
}

/// Decompresses one whole frame into a new vector, with options.
pub fn decompress_with(frame: &[u8], opts: &DecompressOptions) -> Result<Vec<u8>> {
    decode_vec(frame, None, opts)
}

/// Decompresses a delta frame with the base it was made against (a frame that is not a
/// delta decodes as usual and `base` is not looked at). A different base is
/// `BaseMismatch`; plain [`decompress`] of a delta frame is `BaseRequired`.
pub fn decompress_delta(frame: &[u8], base: &[u8]) -> Result<Vec<u8>> {
    decode_vec(frame, Some(base), &DecompressOptions::default())
}

/// [`decompress_delta`] with options.
pub fn decompress_delta_with(
    frame: &[u8],
    base: &[u8],
    opts: &DecompressOptions,
) -> Result<Vec<u8>> {
    decode_vec(frame, Some(base), opts)
}

/// [`decompress_delta`] into `dst` (see [`decompress_into`]).
pub fn decompress_delta_into_with(
    frame: &[u8],
    base: &[u8],
    dst: &mut [u8],
    opts: &DecompressOptions,
) -> Result<usize> {
    decode_into(frame, Some(base), dst, opts)
}

fn decode_vec(frame: &[u8], base: Option<&[u8]>, opts: &DecompressOptions) -> Result<Vec<u8>> {
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
    engine::decode_verified_frame(f, &mut out, threads)?;
    undo_steps(f.header(), base, &mut out);
    Ok(out)
}

fn decode_into(
    frame: &[u8],
    base: Option<&[u8]>,
    dst: &mut [u8],
    opts: &DecompressOptions,
) -> Result<usize> {
    let f = parse_whole(frame, opts)?;
    let n = f.header().original_size;
    if n > dst.len() as u64 {
        return Err(Error::DstTooSmall);
    }
    check_base(f.header(), base)?;
    let n = n as usize;
    decode_checked(&f, base, &mut dst[..n], opts.threads)?;
    Ok(n)
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

/// Decodes a whole frame whose base was checked, then undoes the delta and the lossy step.
fn decode_checked(f: &Frame<'_>, base: Option<&[u8]>, dst: &mut [u8], threads: u32) -> Result<()> {
    engine::decode_frame(f, dst, threads)?;
    undo_steps(f.header(), base, dst);
    Ok(())
}

/// Decodes a whole frame whose chunk checksums and base were checked, then undoes the
/// delta and the lossy step.
pub(crate) fn decode_verified_whole(
    f: &Frame<'_>,
    base: Option<&[u8]>,
    dst: &mut [u8],
    threads: u32,
) -> Result<()> {
    engine::decode_verified_frame(f, dst, threads)?;
    undo_steps(f.header(), base, dst);
    Ok(())
}

/// After decoding a whole frame: XOR with the base of a delta frame, then undo the lossy
/// step.
fn undo_steps(h: &frame::Header, base: Option<&[u8]>, dst: &mut [u8]) {
    if let (Some(_), Some(b)) = (h.base_hash, base) {
        delta::xor_in_place(dst, b);
    }
    lossy::undo(dst, h.dtype, h.lossy);
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
    engine::decode_chunk(f, i, dst)?;
    if let (Some(_), Some(b)) = (h.base_hash, base) {
        let start = f.chunk_range(i).start as usize;
        delta::xor_in_place(dst, &b[start..start + dst.len()]);
    }
    lossy::undo(dst, h.dtype, h.lossy);
    Ok(())
}

/// Decompresses one whole frame into `dst` and returns the number of bytes written
/// (the original size). `dst` must hold at least that many bytes; a damaged frame leaves
/// `dst` as it was.
pub fn decompress_into(frame: &[u8], dst: &mut [u8]) -> Result<usize> {
    decompress_into_with(frame, dst, &DecompressOptions::default())
}

/// [`decompress_into`] with options.
pub fn decompress_into_with(
    frame: &[u8],
    dst: &mut [u8],
    opts: &DecompressOptions,
) -> Result<usize> {
    decode_into(frame, None, dst, opts)
}

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

/// The decompressed size a frame declares (its header is validated, chunks are not).
pub fn decompressed_size(frame: &[u8]) -> Result<u64> {
    Ok(Frame::parse(frame)?.header().original_size)
}

/// What the frame at the start of `src` says about itself. Bytes after the frame are
/// allowed (see `frame_size`).
pub fn frame_info(src: &[u8]) -> Result<FrameInfo> {
    let f = Frame::parse(src)?;
    let h = f.header();
    Ok(FrameInfo {
        version: frame::VERSION,
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

/// The caller's metadata block stored in the frame (empty if none).
pub fn metadata(src: &[u8]) -> Result<&[u8]> {
    Ok(Frame::parse(src)?.metadata())
}

/// Decodes chunk `index` alone into `dst` and returns the number of bytes written. Chunk
/// `i` holds original bytes `i * chunk_size ..` up to `chunk_size` of them; the trailing
/// bytes that do not form a whole element are not part of any chunk (see [`Frame`]).
pub fn decompress_chunk(src: &[u8], index: u64, dst: &mut [u8]) -> Result<usize> {
    chunk(src, None, index, dst)
}

/// [`decompress_chunk`] of a delta frame, with its whole base.
pub fn decompress_chunk_delta(
    src: &[u8],
    base: &[u8],
    index: u64,
    dst: &mut [u8],
) -> Result<usize> {
    chunk(src, Some(base), index, dst)
}

fn chunk(src: &[u8], base: Option<&[u8]>, index: u64, dst: &mut [u8]) -> Result<usize> {
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

/// Checks a whole frame's header and chunk checksums without decoding.
pub fn verify(src: &[u8]) -> Result<()> {
    let f = parse_whole(src, &DecompressOptions::default())?;
    engine::verify_frame(&f)
}

/// The library version, from Cargo.toml.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");
