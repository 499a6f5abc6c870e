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
mod engine;
pub mod error;
pub mod frame;
mod options;
pub mod stream;
pub mod transform;

pub use codec::Codec;
pub use error::{Error, Result};
pub use frame::Frame;
pub use options::{
    DType, Level, Method, Options, DEFAULT_CHUNK_SIZE, DEFAULT_LZ4_LEVEL, DEFAULT_THRESHOLD,
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
}

/// The largest frame [`compress`] can produce for `src_len` bytes of input with these
/// options and no metadata (add the metadata's length when there is some).
pub fn compress_bound(src_len: usize, opts: &Options) -> Result<usize> {
    engine::compress_bound(src_len, opts)
}

/// Compresses `src` into a new frame.
pub fn compress(src: &[u8], opts: &Options) -> Result<Vec<u8>> {
    engine::compress_vec(src, &[], opts)
}

/// Compresses `src` into a new frame that carries `metadata` (at most
/// [`MAX_METADATA_SIZE`] bytes, for example a tensor's shape) for the caller.
pub fn compress_with_metadata(src: &[u8], metadata: &[u8], opts: &Options) -> Result<Vec<u8>> {
    engine::compress_vec(src, metadata, opts)
}

/// Compresses `src` (with optional `metadata`) into `dst` and returns the frame's length.
/// `dst` of [`compress_bound`] bytes (plus the metadata's length) is always enough; on
/// error, `dst` is left as it was.
pub fn compress_into(src: &[u8], metadata: &[u8], opts: &Options, dst: &mut [u8]) -> Result<usize> {
    engine::compress_into(src, metadata, opts, dst)
}

/// Decompresses one whole frame (and nothing after it) into a new vector.
pub fn decompress(frame: &[u8]) -> Result<Vec<u8>> {
    decompress_with(frame, &DecompressOptions::default())
}

/// Decompresses one whole frame into a new vector, with options.
pub fn decompress_with(frame: &[u8], opts: &DecompressOptions) -> Result<Vec<u8>> {
    let f = parse_whole(frame, opts)?;
    let n = usize::try_from(f.header().original_size).map_err(|_| Error::SrcTooLarge)?;
    decode_new(&f, n, opts.threads)
}

/// Decodes a parsed whole frame of `n` original bytes into a new vector. The checksums are
/// checked (once) before the output is allocated, so a damaged frame that declares a huge
/// size does not get it allocated.
pub(crate) fn decode_new(f: &Frame<'_>, n: usize, threads: u32) -> Result<Vec<u8>> {
    engine::verify_frame(f)?;
    let mut out = engine::zeroed_vec(n)?;
    engine::decode_verified_frame(f, &mut out, threads)?;
    Ok(out)
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
    let f = parse_whole(frame, opts)?;
    let n = f.header().original_size;
    if n > dst.len() as u64 {
        return Err(Error::DstTooSmall);
    }
    let n = n as usize;
    engine::decode_frame(&f, &mut dst[..n], opts.threads)?;
    Ok(n)
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
    let f = Frame::parse(src)?;
    if index >= f.chunk_count() as u64 {
        return Err(Error::InvalidParam);
    }
    let i = index as usize;
    let len = f.header().chunk_len(index);
    if dst.len() < len {
        return Err(Error::DstTooSmall);
    }
    engine::decode_chunk(&f, i, &mut dst[..len])?;
    Ok(len)
}

/// Checks a whole frame's header and chunk checksums without decoding.
pub fn verify(src: &[u8]) -> Result<()> {
    let f = parse_whole(src, &DecompressOptions::default())?;
    engine::verify_frame(&f)
}

/// The library version, from Cargo.toml.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");
