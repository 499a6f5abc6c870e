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
pub mod limit;
mod lossy;
mod options;
mod pipeline;
pub mod refformat;
pub mod stream;
#[cfg(test)]
mod test_rng;
pub mod transform;

pub use codec::Codec;
pub use error::{Error, Result};
pub use frame::Frame;
pub use options::{
    DType, Level, Lossy, Method, Options, Target, BYTE_CHUNK_SIZE, DEFAULT_CHUNK_SIZE,
    DEFAULT_LZ4_LEVEL, DEFAULT_THRESHOLD, DEFAULT_ZSTD_LEVEL, MAX_CHUNK_SIZE, MAX_METADATA_SIZE,
    MIN_CHUNK_SIZE,
};
pub use pipeline::{DecompressOptions, FrameFormat, FrameInfo};

/// A vector of `n` zero bytes for data that is about to be written over (a file read
/// whole, an output buffer), or `Err(Alloc)` instead of aborting: fresh pages come zeroed
/// from the allocator rather than being written twice, and large ones are advised to be
/// huge pages on Linux. The library's own outputs are made this way.
pub fn zeroed_vec(n: usize) -> Result<Vec<u8>> {
    engine::zeroed_vec(n)
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
    pipeline::compress_vec(src, None, metadata, opts)
}

/// Compresses `src` (with optional `metadata`) into `dst` and returns the frame's length.
/// `dst` of [`compress_bound`] bytes (plus the metadata's length) is always enough; on
/// error, `dst` is left as it was.
pub fn compress_into(src: &[u8], metadata: &[u8], opts: &Options, dst: &mut [u8]) -> Result<usize> {
    pipeline::compress_into(src, None, metadata, opts, dst, false)
}

/// Compresses `src` as a delta against `base` (same length, e.g. the same tensor of the
/// base model): the frame codes `src XOR base` and records the base's hash, so it can only
/// be decompressed with that base ([`decompress_delta`]).
pub fn compress_delta(src: &[u8], base: &[u8], opts: &Options) -> Result<Vec<u8>> {
    pipeline::compress_vec(src, Some(base), &[], opts)
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
    pipeline::compress_into(src, Some(base), metadata, opts, dst, false)
}

/// Decompresses one whole frame (and nothing after it) into a new vector.
///
/// What the reference package (PyPI zipnn 0.5.x) wrote decodes too: one of its frames, or
/// its streamed frames one after another ([`refformat`]; they have no checksum).
pub fn decompress(frame: &[u8]) -> Result<Vec<u8>> {
    decompress_with(frame, &DecompressOptions::default())
}

/// Decompresses one whole frame into a new vector, with options.
pub fn decompress_with(frame: &[u8], opts: &DecompressOptions) -> Result<Vec<u8>> {
    pipeline::decode_vec(frame, None, opts)
}

/// Decompresses a delta frame with the base it was made against (a frame that is not a
/// delta decodes as usual and `base` is not looked at). A different base is
/// `BaseMismatch`; plain [`decompress`] of a delta frame is `BaseRequired`.
pub fn decompress_delta(frame: &[u8], base: &[u8]) -> Result<Vec<u8>> {
    pipeline::decode_vec(frame, Some(base), &DecompressOptions::default())
}

/// [`decompress_delta`] with options.
pub fn decompress_delta_with(
    frame: &[u8],
    base: &[u8],
    opts: &DecompressOptions,
) -> Result<Vec<u8>> {
    pipeline::decode_vec(frame, Some(base), opts)
}

/// [`decompress_delta`] into `dst` (see [`decompress_into`]).
pub fn decompress_delta_into_with(
    frame: &[u8],
    base: &[u8],
    dst: &mut [u8],
    opts: &DecompressOptions,
) -> Result<usize> {
    pipeline::decode_into(frame, Some(base), dst, opts)
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
    pipeline::decode_into(frame, None, dst, opts)
}

/// The decompressed size a frame declares (its header is validated, chunks are not).
pub fn decompressed_size(frame: &[u8]) -> Result<u64> {
    pipeline::decompressed_size(frame)
}

/// What the frame at the start of `src` says about itself. Bytes after the frame are
/// allowed (see `frame_size`).
pub fn frame_info(src: &[u8]) -> Result<FrameInfo> {
    pipeline::frame_info(src)
}

/// The caller's metadata block stored in the frame (empty if none).
pub fn metadata(src: &[u8]) -> Result<&[u8]> {
    if refformat::is_reference(src) {
        // A reference frame carries no caller metadata (its shape: refformat::info).
        refformat::info_prefix(src)?;
        return Ok(&[]);
    }
    Ok(Frame::parse(src)?.metadata())
}

/// The shape of the tensor a reference frame holds (written by the reference package
/// from a torch tensor or numpy array; see [`refformat`]); `None` for frames without one.
pub fn tensor_shape(src: &[u8]) -> Result<Option<Vec<u64>>> {
    if refformat::is_reference(src) {
        return Ok(refformat::info_prefix(src)?.shape);
    }
    Frame::parse(src)?;
    Ok(None)
}

/// Decodes chunk `index` alone into `dst` and returns the number of bytes written. Chunk
/// `i` holds original bytes `i * chunk_size ..` up to `chunk_size` of them; the trailing
/// bytes that do not form a whole element are not part of any chunk (see [`Frame`]).
pub fn decompress_chunk(src: &[u8], index: u64, dst: &mut [u8]) -> Result<usize> {
    pipeline::decode_chunk(src, None, index, dst)
}

/// [`decompress_chunk`] of a delta frame, with its whole base.
pub fn decompress_chunk_delta(
    src: &[u8],
    base: &[u8],
    index: u64,
    dst: &mut [u8],
) -> Result<usize> {
    pipeline::decode_chunk(src, Some(base), index, dst)
}

/// Checks a whole frame's header and chunk checksums without decoding. A reference
/// frame has no checksum to check: its structure is checked and every block decoded
/// (which cannot tell a changed payload byte, see [`refformat`]).
pub fn verify(src: &[u8]) -> Result<()> {
    pipeline::verify(src)
}

/// [`verify`], and also that every chunk's payload decodes: each chunk is decoded alone
/// into a scratch buffer of one chunk (at most [`MAX_CHUNK_SIZE`] bytes), so memory does
/// not grow with the frame. A delta frame needs no base for this (the payload decodes to
/// the XOR with the base). What `zipnn verify` runs.
pub fn verify_decodes(src: &[u8]) -> Result<()> {
    pipeline::verify_decodes(src)
}

/// The library version, from Cargo.toml.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");
