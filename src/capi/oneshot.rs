//! One-shot compression and decompression between caller buffers.

use std::ffi::c_void;

use super::boundary::{in_buf, in_out_bufs, out_buf, overlaps};
use super::options::{read_options, to_decompress_options, to_options, zipnn_options};
use super::status::zipnn_status;
use crate::error::Error;

/// Writes to `*out_bound` the largest frame `zipnn_compress()` can write for `src_size`
/// bytes with `opts` (NULL = defaults) and no metadata; add `metadata_size` for
/// `zipnn_compress_with_metadata()`. Errors: `NULL_POINTER` (`out_bound`), the option
/// errors of `zipnn_compress()`, `SRC_TOO_LARGE` (the bound overflows). Thread-safe.
#[no_mangle]
#[must_use]
pub extern "C" fn zipnn_compress_bound(
    opts: *const zipnn_options,
    src_size: usize,
    out_bound: *mut usize,
) -> zipnn_status {
    ffi_status!({
        let o = to_options(&read_options(opts)?)?;
        let out_bound = out_ptr!(out_bound);
        out_bound.set(crate::compress_bound(src_size, &o)?);
        Ok(())
    })
}

/// Compresses `src_size` bytes at `src` into one frame at `dst`.
///
/// `opts` may be NULL (defaults). On `ZIPNN_OK`, `*out_written` is the frame's length;
/// on error nothing is written to `*out_written` or `dst`. `dst_capacity` of
/// `zipnn_compress_bound()` is always enough; less gives `ZIPNN_ERROR_DST_TOO_SMALL` when
/// the frame does not fit. Errors: `NULL_POINTER` (`src`/`dst` NULL with a nonzero size, or
/// `out_written` NULL), `INVALID_PARAM` (bad option, nonzero reserved field, overlapping
/// buffers), `UNSUPPORTED_DTYPE`, `UNSUPPORTED_METHOD`, `DST_TOO_SMALL`, `ALLOC`,
/// `INTERNAL_PANIC`. `src` is never written. Thread-safe; `opts.threads` workers are used.
#[no_mangle]
#[must_use]
pub extern "C" fn zipnn_compress(
    opts: *const zipnn_options,
    src: *const c_void,
    src_size: usize,
    dst: *mut c_void,
    dst_capacity: usize,
    out_written: *mut usize,
) -> zipnn_status {
    zipnn_compress_with_metadata(
        opts,
        std::ptr::null(),
        0,
        src,
        src_size,
        dst,
        dst_capacity,
        out_written,
    )
}

/// As `zipnn_compress()`, and stores `metadata_size` bytes at `metadata` (at most 1 MiB;
/// for example a tensor's shape) in the frame, for `zipnn_get_metadata()`. The frame needs
/// up to `zipnn_compress_bound() + metadata_size` bytes. Same errors; `metadata` over 1 MiB
/// is `INVALID_PARAM`. Thread-safe.
#[no_mangle]
#[must_use]
#[allow(clippy::too_many_arguments)]
pub extern "C" fn zipnn_compress_with_metadata(
    opts: *const zipnn_options,
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
            || overlaps(metadata, metadata_size, dst, dst_capacity)
        {
            return Err(Error::InvalidParam);
        }
        // SAFETY: the caller's contract: `src`, `metadata` readable and `dst` writable for
        // their sizes, and `dst` does not overlap them (checked above).
        let (src, meta, dst) = unsafe {
            (
                in_buf(src, src_size)?,
                in_buf(metadata, metadata_size)?,
                out_buf(dst, dst_capacity)?,
            )
        };
        out_written.set(crate::compress_into(src, meta, &o, dst)?);
        Ok(())
    })
}

/// Decompresses the one frame that fills `src` exactly into `dst`.
///
/// On `ZIPNN_OK`, `*out_written` is the original size; on error it is not written. Every
/// checksum is verified before `dst` is written, so a damaged frame leaves `dst` as it was
/// (only a frame crafted to pass its checksums can fail after writing began). Errors:
/// `NULL_POINTER`, `INVALID_PARAM` (overlapping buffers), `DST_TOO_SMALL`, `BAD_MAGIC`,
/// `UNSUPPORTED_VERSION`, `UNSUPPORTED_FLAGS`, `UNSUPPORTED_DTYPE`, `UNSUPPORTED_CODEC`,
/// `TRUNCATED`, `CORRUPT` (also for bytes after the frame), `CHECKSUM`, `ALLOC`,
/// `INTERNAL_PANIC`, and `BASE_REQUIRED` for a delta frame (see
/// `zipnn_decompress_delta()`). Thread-safe; uses all cores.
#[no_mangle]
#[must_use]
pub extern "C" fn zipnn_decompress(
    src: *const c_void,
    src_size: usize,
    dst: *mut c_void,
    dst_capacity: usize,
    out_written: *mut usize,
) -> zipnn_status {
    zipnn_decompress_with_options(
        std::ptr::null(),
        src,
        src_size,
        dst,
        dst_capacity,
        out_written,
    )
}

/// As `zipnn_decompress()`, with `opts` (NULL = defaults) giving `threads` and
/// `max_decompressed_size` (a larger frame gives `ZIPNN_ERROR_LIMIT_EXCEEDED` before
/// anything is decoded); the compression fields are ignored. Thread-safe.
#[no_mangle]
#[must_use]
pub extern "C" fn zipnn_decompress_with_options(
    opts: *const zipnn_options,
    src: *const c_void,
    src_size: usize,
    dst: *mut c_void,
    dst_capacity: usize,
    out_written: *mut usize,
) -> zipnn_status {
    ffi_status!({
        let o = to_decompress_options(&read_options(opts)?)?;
        let out_written = out_ptr!(out_written);
        // SAFETY: the caller's contract: `src` readable and `dst` writable for their sizes.
        let (src, dst) = unsafe { in_out_bufs(src, src_size, dst, dst_capacity)? };
        out_written.set(crate::decompress_into_with(src, dst, &o)?);
        Ok(())
    })
}

/// Test only (feature `test-panic`): panics inside the boundary and so returns
/// `ZIPNN_ERROR_INTERNAL_PANIC`.
#[cfg(feature = "test-panic")]
#[no_mangle]
pub extern "C" fn zipnn_test_panic() -> zipnn_status {
    ffi_status!({
        if std::hint::black_box(true) {
            panic!("zipnn_test_panic");
        }
        Ok(())
    })
}
