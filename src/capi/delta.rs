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

/// Writes to `*out_bound` a size of `dst` that is always enough for `zipnn_convert()` of
/// `src` with `opts` (NULL = defaults). Errors: `NULL_POINTER`, `INVALID_PARAM`,
/// `BAD_MAGIC` (not written by the reference package), the frame errors of
/// `zipnn_decompress()` for a damaged input. Thread-safe.
#[no_mangle]
#[must_use]
pub extern "C" fn zipnn_convert_bound(
    opts: *const zipnn_options,
    src: *const c_void,
    src_size: usize,
    out_bound: *mut usize,
) -> zipnn_status {
    ffi_status!({
        let o = to_options(&read_options(opts)?)?;
        if out_bound.is_null() {
            return Err(Error::NullPointer);
        }
        // SAFETY: the caller's contract: `src` readable for `src_size` bytes.
        let src = unsafe { in_buf(src, src_size)? };
        let n = crate::container::reference::convert_bound(src, &o)?;
        // SAFETY: checked non-NULL above.
        unsafe { out_bound.write(n) };
        Ok(())
    })
}

/// Rewrites what the reference package (PyPI zipnn 0.5.x) wrote in zipnn's format, with
/// checksums, into `dst`: its frames of bytes (one, or a streamed sequence: its `.znn`
/// files) become one zipnn frame of the same dtype; its frames of a torch tensor or numpy
/// array a zipnn frame whose metadata gives the array's dtype and shape (as the Python
/// binding writes it); a delta frame a zipnn delta frame against `base` (the base it was
/// made against; `BASE_REQUIRED` when `base_size` is 0); its compressed safetensors files
/// and `model.safetensors.znn` a zipnn archive of the original safetensors file. `opts`
/// (NULL = defaults) gives level, method, chunk size and threads; each input keeps its own
/// dtype. `dst` of `zipnn_convert_bound()` bytes is always enough. On error neither `dst`
/// nor `*out_written` is written. Errors: `NULL_POINTER`,
/// `INVALID_PARAM` (bad option, overlapping buffers), `BAD_MAGIC` (not the reference
/// package's), `BASE_REQUIRED`, `BASE_MISMATCH`, `DST_TOO_SMALL`, `ALLOC`, and the errors of
/// decoding the input. `src` and `base` are never written. Thread-safe.
#[no_mangle]
#[must_use]
#[allow(clippy::too_many_arguments)]
pub extern "C" fn zipnn_convert(
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
        let o = to_options(&read_options(opts)?)?;
        if out_written.is_null() {
            return Err(Error::NullPointer);
        }
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
        let base = (!base.is_empty()).then_some(base);
        let (_, v) = crate::container::reference::convert(src, base, &o)?;
        let d = dst.get_mut(..v.len()).ok_or(Error::DstTooSmall)?;
        d.copy_from_slice(&v);
        // SAFETY: checked non-NULL above.
        unsafe { out_written.write(v.len()) };
        Ok(())
    })
}
