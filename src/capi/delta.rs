//! Delta compression against a base of the same length (for example the same tensor of
//! the base model a fine-tune came from).

use std::ffi::c_void;

use super::boundary::{in_buf, in_out_bufs, out_buf, overlaps};
use super::options::{read_options, to_decompress_options, to_options, zipnn_options};
use super::status::zipnn_status;
use crate::error::Error;

/// Compresses `src` as a delta against `base` (exactly `src_size` bytes): the frame codes
/// `src XOR base` and records the base's XXH3-64, so only `zipnn_decompress_delta()` with
/// the same base restores it. `metadata` may be NULL when `metadata_size` is 0. `dst` of
/// `zipnn_compress_bound() + metadata_size` bytes is always enough. Errors: those of
/// `zipnn_compress_with_metadata()`, plus `BASE_MISMATCH` when `base_size != src_size`.
/// `src`, `base` and `metadata` are never written. Thread-safe.
#[no_mangle]
#[must_use]
#[allow(clippy::too_many_arguments)]
pub extern "C" fn zipnn_compress_delta(
    opts: *const zipnn_options,
    base: *const c_void,
    base_size: usize,
    metadata: *const c_void,
    metadata_size: usize,
    src: *const c_void,
    src_size: usize,
    dst: *mut c_void,
    dst_capacity: usize,
    out_written: *mut usize,
) -> zipnn_status {
    ffi_status!({
        let o = to_options(&read_options(opts)?)?;
        let out_written = out_ptr!(out_written);
        if overlaps(src, src_size, dst, dst_capacity)
            || overlaps(base, base_size, dst, dst_capacity)
            || overlaps(metadata, metadata_size, dst, dst_capacity)
        {
            return Err(Error::InvalidParam);
        }
        // SAFETY: the caller's contract: inputs readable and `dst` writable for their sizes,
        // and `dst` overlaps none of them (checked above).
        let (src, base, meta, dst) = unsafe {
            (
                in_buf(src, src_size)?,
                in_buf(base, base_size)?,
                in_buf(metadata, metadata_size)?,
                out_buf(dst, dst_capacity)?,
            )
        };
        out_written.set(crate::compress_delta_into(src, base, meta, &o, dst)?);
        Ok(())
    })
}

/// Decompresses the one frame that fills `src` into `dst`, with `base` for a delta frame
/// (a frame that is not a delta decodes as with `zipnn_decompress_with_options()`, and
/// `base` is not read). The base's length and hash are checked before `dst` is written:
/// a different base is `BASE_MISMATCH`, never wrong output; an empty base (`base_size` 0)
/// for a frame that is not empty is `BASE_REQUIRED`. `zipnn_decompress()` of a delta
/// frame is `BASE_REQUIRED`. `opts` as for `zipnn_decompress_with_options()`. Other errors
/// as `zipnn_decompress()`. Thread-safe.
#[no_mangle]
#[must_use]
#[allow(clippy::too_many_arguments)]
pub extern "C" fn zipnn_decompress_delta(
    opts: *const zipnn_options,
    base: *const c_void,
    base_size: usize,
    src: *const c_void,
    src_size: usize,
    dst: *mut c_void,
    dst_capacity: usize,
    out_written: *mut usize,
) -> zipnn_status {
    ffi_status!({
        let o = to_decompress_options(&read_options(opts)?)?;
        let out_written = out_ptr!(out_written);
        if overlaps(src, src_size, dst, dst_capacity)
            || overlaps(base, base_size, dst, dst_capacity)
        {
            return Err(Error::InvalidParam);
        }
        // SAFETY: the caller's contract: `src` and `base` readable and `dst` writable for
        // their sizes, with no overlap with `dst` (checked above).
        let (src, base, dst) = unsafe {
            (
                in_buf(src, src_size)?,
                in_buf(base, base_size)?,
                out_buf(dst, dst_capacity)?,
            )
        };
        out_written.set(crate::decompress_delta_into_with(src, base, dst, &o)?);
        Ok(())
    })
}

/// Random access to a delta frame: decodes chunk `chunk_index` of the frame at `src` alone
/// into `dst`, with `base`, the whole base the frame was made against (its length and hash
/// are checked first, so the whole base is read on every call: `BASE_MISMATCH` for
/// another base, never wrong output). A frame that is not a delta decodes as with
/// `zipnn_decompress_chunk()` and `base` is not read. Otherwise as
/// `zipnn_decompress_chunk()`. Thread-safe; uses the calling thread.
#[no_mangle]
#[must_use]
#[allow(clippy::too_many_arguments)]
pub extern "C" fn zipnn_decompress_delta_chunk(
    base: *const c_void,
    base_size: usize,
    src: *const c_void,
    src_size: usize,
    chunk_index: u64,
    dst: *mut c_void,
    dst_capacity: usize,
    out_written: *mut usize,
) -> zipnn_status {
    ffi_status!({
        let out_written = out_ptr!(out_written);
        if overlaps(base, base_size, dst, dst_capacity) {
            return Err(Error::InvalidParam);
        }
        // SAFETY: the caller's contract: `src` and `base` readable and `dst` writable for
        // their sizes, with no overlap with `dst` (checked above and by in_out_bufs).
        let (base, (src, dst)) = unsafe {
            (
                in_buf(base, base_size)?,
                in_out_bufs(src, src_size, dst, dst_capacity)?,
            )
        };
        out_written.set(crate::decompress_chunk_delta(src, base, chunk_index, dst)?);
        Ok(())
    })
}
