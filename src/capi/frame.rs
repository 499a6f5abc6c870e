//! Reading a frame without decoding it all: its header, its metadata, its checksums, the
//! size to allocate for it, and random access to one chunk.

use std::ffi::c_void;
use std::mem::size_of;

use super::boundary::{declared_size, in_buf, in_out_bufs, write_sized};
use super::options::{read_options, to_decompress_options, zipnn_options};
use super::status::zipnn_status;
use crate::error::Error;

/// Frame flag (`zipnn_frame_info.flags`): the frame carries a caller's metadata block.
pub const ZIPNN_FRAME_FLAG_METADATA: u32 = 1;
/// Frame flag: the frame is a delta against a base (`zipnn_decompress_delta()`).
pub const ZIPNN_FRAME_FLAG_DELTA: u32 = 2;
/// Frame flag: the data went through a lossy step (`lossy_mode`, `lossy_param`).
pub const ZIPNN_FRAME_FLAG_LOSSY: u32 = 4;
/// Frame flag: the frame is in the compact form the library writes for small inputs (one
/// chunk of at most 64 KiB, no metadata, delta or lossy step; docs/FORMAT.md 3.4). It
/// decodes like any other frame; `chunk_size` then reads 65536.
pub const ZIPNN_FRAME_FLAG_COMPACT: u32 = 8;

/// Outputs of at least this many times the bytes that declare them are verified before
/// the `*_alloc_size` calls return (so a damaged frame that declares a huge size fails
/// there, before anything is allocated).
pub const ZIPNN_PRE_VERIFY_RATIO: u32 = 8;

/// What a frame's header says. Set `struct_size` to `sizeof(zipnn_frame_info)` before
/// passing it to `zipnn_get_frame_info()`; the library fills the fields it knows that fit.
/// Plain data.
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct zipnn_frame_info {
    /// `sizeof(zipnn_frame_info)` as the caller was compiled (set by the caller).
    pub struct_size: u32,
    /// Frame format version.
    pub format_version: u32,
    /// `ZIPNN_DTYPE_*` the frame was coded with.
    pub dtype: u32,
    /// `ZIPNN_FRAME_FLAG_*` bits.
    pub flags: u32,
    /// Planes per chunk (bytes per element, or the raw byte-grouping partitions).
    pub planes: u32,
    /// Input bytes per chunk, as the frame was written (the automatic choice resolved:
    /// see `zipnn_options.chunk_size`).
    pub chunk_size: u32,
    /// Length of the original data.
    pub original_size: u64,
    /// Number of chunks.
    pub chunk_count: u64,
    /// Length of the frame in bytes (bytes after it in the buffer are not part of it).
    pub frame_size: u64,
    /// Length of the caller's metadata block.
    pub metadata_size: u64,
    /// `ZIPNN_LOSSY_*` the data went through (`ZIPNN_LOSSY_NONE`: bit-exact).
    pub lossy_mode: u32,
    /// The lossy mode's parameter (factor or mantissa bits kept).
    pub lossy_param: u32,
    /// For a delta frame (`ZIPNN_FRAME_FLAG_DELTA`): XXH3-64 of the base it needs; else 0.
    pub base_hash: u64,
    /// `ZIPNN_FORMAT_ZIPNN`, or `ZIPNN_FORMAT_REFERENCE` for what the reference package
    /// (PyPI zipnn 0.5.x) wrote: one frame or a streamed sequence of them, without
    /// checksums (`original_size`, `chunk_count` and `frame_size` are then the whole
    /// sequence's).
    pub format: u32,
    /// Reference frames: what the writer was handed, `ZIPNN_INPUT_BYTES`,
    /// `ZIPNN_INPUT_TORCH` or `ZIPNN_INPUT_NUMPY` (the last two carry a shape:
    /// `zipnn_get_shape()`); 0 for zipnn frames.
    pub input_format: u32,
}

/// `zipnn_frame_info.format`: this library's frame.
pub const ZIPNN_FORMAT_ZIPNN: u32 = 0;
/// `zipnn_frame_info.format`: written by the reference package (docs/REFERENCE-FORMAT.md).
pub const ZIPNN_FORMAT_REFERENCE: u32 = 1;
/// `zipnn_frame_info.input_format`: a reference frame of bytes.
pub const ZIPNN_INPUT_BYTES: u32 = 1;
/// `zipnn_frame_info.input_format`: a reference frame of a torch tensor (with its shape).
pub const ZIPNN_INPUT_TORCH: u32 = 2;
/// `zipnn_frame_info.input_format`: a reference frame of a numpy array (with its shape).
pub const ZIPNN_INPUT_NUMPY: u32 = 3;

/// Fills `*info` from the header of the frame that starts at `src` (bytes after the frame
/// are allowed). The caller sets `info->struct_size` to `sizeof(zipnn_frame_info)` first
/// (below 8 or above 1024 is `INVALID_PARAM`); fields beyond it are not written. On error
/// `*info` is left as it was. Errors: `NULL_POINTER`, `INVALID_PARAM`, and the frame
/// errors of `zipnn_get_decompressed_size()`. Thread-safe.
#[no_mangle]
#[must_use]
pub extern "C" fn zipnn_get_frame_info(
    src: *const c_void,
    src_size: usize,
    info: *mut zipnn_frame_info,
) -> zipnn_status {
    ffi_status!({
        // SAFETY: the caller passes a zipnn_frame_info whose first field is struct_size.
        let declared = unsafe { declared_size(info)? };
        // SAFETY: the caller's contract: `src` readable for `src_size` bytes.
        let src = unsafe { in_buf(src, src_size)? };
        let fi = crate::frame_info(src)?;
        let input_format = match fi.format {
            crate::FrameFormat::Zipnn => 0,
            crate::FrameFormat::Reference => match crate::refformat::info_prefix(src)?.first.kind {
                crate::refformat::InputKind::Byte => ZIPNN_INPUT_BYTES,
                crate::refformat::InputKind::Torch => ZIPNN_INPUT_TORCH,
                crate::refformat::InputKind::Numpy => ZIPNN_INPUT_NUMPY,
            },
        };
        let out = zipnn_frame_info {
            struct_size: size_of::<zipnn_frame_info>() as u32,
            format_version: fi.version as u32,
            dtype: fi.dtype as u32,
            flags: fi.flags as u32,
            planes: fi.planes,
            chunk_size: fi.chunk_size,
            original_size: fi.original_size,
            chunk_count: fi.chunk_count,
            frame_size: fi.frame_size,
            metadata_size: fi.metadata_size,
            lossy_mode: fi.lossy.code() as u32,
            lossy_param: fi.lossy.param() as u32,
            base_hash: fi.base_hash.unwrap_or(0),
            format: match fi.format {
                crate::FrameFormat::Zipnn => ZIPNN_FORMAT_ZIPNN,
                crate::FrameFormat::Reference => ZIPNN_FORMAT_REFERENCE,
            },
            input_format,
        };
        // SAFETY: the caller declared `declared` writable bytes at `info`.
        unsafe { write_sized(info, declared, &out) };
        Ok(())
    })
}

/// Writes the shape of the tensor that the reference frame at `src` holds (a frame the
/// reference package wrote from a torch tensor or numpy array) to `dims`, one `uint64_t`
/// per dimension, and the number of dimensions to `*out_ndim` (0 for a 0-d tensor).
/// `NOT_FOUND` for a frame that carries no shape (zipnn frames, reference frames of
/// bytes); `DST_TOO_SMALL` when `capacity` is below the number of dimensions (at most 64).
/// On error nothing is written. Other errors as `zipnn_get_decompressed_size()`.
/// Thread-safe.
#[no_mangle]
#[must_use]
pub extern "C" fn zipnn_get_shape(
    src: *const c_void,
    src_size: usize,
    dims: *mut u64,
    capacity: usize,
    out_ndim: *mut usize,
) -> zipnn_status {
    ffi_status!({
        let out_ndim = out_ptr!(out_ndim);
        if dims.is_null() && capacity > 0 {
            return Err(Error::NullPointer);
        }
        // SAFETY: the caller's contract: `src` readable for `src_size` bytes.
        let src = unsafe { in_buf(src, src_size)? };
        let shape = crate::tensor_shape(src)?.ok_or(Error::NotFound)?;
        if shape.len() > capacity {
            return Err(Error::DstTooSmall);
        }
        for (k, &d) in shape.iter().enumerate() {
            // SAFETY: the caller's contract: `dims` writable for `capacity` u64s, and
            // k < shape.len() <= capacity.
            unsafe { dims.add(k).write(d) };
        }
        out_ndim.set(shape.len());
        Ok(())
    })
}

/// Writes the decompressed size that the frame at `src` declares to `*out_size`. The
/// header and its checksum are validated; chunks are not decoded. To size a buffer for
/// data from elsewhere, use `zipnn_decompress_alloc_size()`, which also applies the limit
/// and the checksums. Errors: `NULL_POINTER`, `BAD_MAGIC`, `UNSUPPORTED_VERSION`,
/// `UNSUPPORTED_FLAGS`, `UNSUPPORTED_DTYPE`, `UNSUPPORTED_CODEC`, `TRUNCATED`, `CORRUPT`,
/// `CHECKSUM`. Thread-safe.
#[no_mangle]
#[must_use]
pub extern "C" fn zipnn_get_decompressed_size(
    src: *const c_void,
    src_size: usize,
    out_size: *mut u64,
) -> zipnn_status {
    ffi_status!({
        let out_size = out_ptr!(out_size);
        // SAFETY: the caller's contract: `src` readable for `src_size` bytes.
        let src = unsafe { in_buf(src, src_size)? };
        out_size.set(crate::decompressed_size(src)?);
        Ok(())
    })
}

/// Writes to `*out_size` how many bytes to allocate for decompressing the one frame that
/// fills `src` (a delta frame too), after checking, in this order and before anything is
/// allocated: `opts->max_decompressed_size` (`LIMIT_EXCEEDED`; `opts` NULL = no limit), the
/// header and chunk table, that the size is addressable (`SRC_TOO_LARGE`), and, when the
/// frame declares at least `ZIPNN_PRE_VERIFY_RATIO` times its own length, every checksum
/// (`CHECKSUM`: a damaged frame declaring a huge size fails here). Smaller frames are
/// checked once, by the decompression, before it writes. This is the call to make before
/// allocating for a frame from elsewhere (the SDKs do). Errors: those of
/// `zipnn_decompress_with_options()` that come before decoding. Thread-safe.
#[no_mangle]
#[must_use]
pub extern "C" fn zipnn_decompress_alloc_size(
    opts: *const zipnn_options,
    src: *const c_void,
    src_size: usize,
    out_size: *mut usize,
) -> zipnn_status {
    ffi_status!({
        let o = to_decompress_options(&read_options(opts)?)?;
        let out_size = out_ptr!(out_size);
        // SAFETY: the caller's contract: `src` readable for `src_size` bytes.
        let src = unsafe { in_buf(src, src_size)? };
        out_size.set(crate::limit::frame_alloc_size(src, &o)?);
        Ok(())
    })
}

/// Copies the metadata block of the frame that starts at `src` (bytes after the frame are
/// ignored) into `dst` and writes its length to `*out_written` (0 when the frame has
/// none). `DST_TOO_SMALL` when it does not fit (the size is in
/// `zipnn_frame_info.metadata_size`, at most 1 MiB). Other errors as
/// `zipnn_get_decompressed_size()`. Thread-safe.
#[no_mangle]
#[must_use]
pub extern "C" fn zipnn_get_metadata(
    src: *const c_void,
    src_size: usize,
    dst: *mut c_void,
    dst_capacity: usize,
    out_written: *mut usize,
) -> zipnn_status {
    ffi_status!({
        let out_written = out_ptr!(out_written);
        // SAFETY: the caller's contract: `src` readable and `dst` writable for their sizes.
        let (src, dst) = unsafe { in_out_bufs(src, src_size, dst, dst_capacity)? };
        let meta = crate::metadata(src)?;
        if meta.len() > dst.len() {
            return Err(Error::DstTooSmall);
        }
        dst[..meta.len()].copy_from_slice(meta);
        out_written.set(meta.len());
        Ok(())
    })
}

/// Verifies the one frame that fills `src` exactly: header checksum, table, and every
/// chunk checksum, without decoding. `ZIPNN_OK` or the frame error. Thread-safe.
#[no_mangle]
#[must_use]
pub extern "C" fn zipnn_verify(src: *const c_void, src_size: usize) -> zipnn_status {
    ffi_status!({
        // SAFETY: the caller's contract: `src` readable for `src_size` bytes.
        let src = unsafe { in_buf(src, src_size)? };
        crate::verify(src)
    })
}

/// Decodes chunk `chunk_index` of the frame at `src` alone into `dst` (random access).
/// Chunk `i` is original bytes `[i * chunk_size, i * chunk_size + *out_written)`; the last
/// `original_size % planes` bytes of the original belong to no chunk. On `ZIPNN_OK`,
/// `*out_written` is the chunk's length (at most `chunk_size`). `src` must start with a
/// frame; bytes after the frame are ignored (so a frame inside a larger file can be read in
/// place). Errors: as `zipnn_decompress()` (but not for bytes after the frame), plus
/// `INVALID_PARAM` for an index past the last chunk; a delta frame is `BASE_REQUIRED` (see
/// `zipnn_decompress_delta_chunk()`). Only this chunk's checksum is verified. Thread-safe;
/// uses the calling thread.
#[no_mangle]
#[must_use]
pub extern "C" fn zipnn_decompress_chunk(
    src: *const c_void,
    src_size: usize,
    chunk_index: u64,
    dst: *mut c_void,
    dst_capacity: usize,
    out_written: *mut usize,
) -> zipnn_status {
    ffi_status!({
        let out_written = out_ptr!(out_written);
        // SAFETY: the caller's contract: `src` readable and `dst` writable for their sizes.
        let (src, dst) = unsafe { in_out_bufs(src, src_size, dst, dst_capacity)? };
        out_written.set(crate::decompress_chunk(src, chunk_index, dst)?);
        Ok(())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn constants_match_the_frame_module() {
        assert_eq!(
            ZIPNN_FRAME_FLAG_METADATA,
            crate::frame::FLAG_METADATA as u32
        );
        assert_eq!(ZIPNN_FRAME_FLAG_DELTA, crate::frame::FLAG_DELTA as u32);
        assert_eq!(ZIPNN_FRAME_FLAG_LOSSY, crate::frame::FLAG_LOSSY as u32);
        assert_eq!(ZIPNN_FRAME_FLAG_COMPACT, crate::frame::FLAG_COMPACT as u32);
        assert_eq!(
            ZIPNN_PRE_VERIFY_RATIO as u64,
            crate::limit::PRE_VERIFY_RATIO
        );
    }
}
