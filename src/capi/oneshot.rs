//! One-shot compression and decompression into caller buffers, and frame inspection.

use std::ffi::c_void;
use std::mem::size_of;

use super::boundary::{declared_size, in_buf, in_out_bufs, out_buf, overlaps, write_sized};
use super::options::{
    read_options, to_decompress_options, to_options, zipnn_frame_info, zipnn_options,
};
use super::status::zipnn_status;
use crate::error::Error;

/// The largest frame `zipnn_compress()` can write for `src_size` bytes with `opts`
/// (NULL = defaults) and no metadata; add `metadata_size` for
/// `zipnn_compress_with_metadata()`. Returns 0 when the options are invalid or the size
/// overflows. Thread-safe.
#[no_mangle]
#[must_use]
pub extern "C" fn zipnn_compress_bound(src_size: usize, opts: *const zipnn_options) -> usize {
    super::boundary::guard(0, || {
        read_options(opts)
            .and_then(|o| to_options(&o))
            .and_then(|o| crate::compress_bound(src_size, &o))
            .unwrap_or(0)
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
        if out_written.is_null() {
            return Err(Error::NullPointer);
        }
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
        let n = crate::compress_into(src, meta, &o, dst)?;
        // SAFETY: checked non-NULL above; the caller passes a writable size_t.
        unsafe { out_written.write(n) };
        Ok(())
    })
}

/// Writes the decompressed size that the frame at `src` declares to `*out_size`. The
/// header and its checksum are validated; chunks are not decoded. Errors: `NULL_POINTER`,
/// `BAD_MAGIC`, `UNSUPPORTED_VERSION`, `UNSUPPORTED_FLAGS`, `UNSUPPORTED_DTYPE`,
/// `UNSUPPORTED_CODEC`, `TRUNCATED`, `CORRUPT`, `CHECKSUM`. Thread-safe.
#[no_mangle]
#[must_use]
pub extern "C" fn zipnn_get_decompressed_size(
    src: *const c_void,
    src_size: usize,
    out_size: *mut u64,
) -> zipnn_status {
    ffi_status!({
        if out_size.is_null() {
            return Err(Error::NullPointer);
        }
        // SAFETY: the caller's contract: `src` readable for `src_size` bytes.
        let src = unsafe { in_buf(src, src_size)? };
        let n = crate::decompressed_size(src)?;
        // SAFETY: checked non-NULL above.
        unsafe { out_size.write(n) };
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
/// `INTERNAL_PANIC`. Thread-safe; uses all cores.
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
        if out_written.is_null() {
            return Err(Error::NullPointer);
        }
        // SAFETY: the caller's contract: `src` readable and `dst` writable for their sizes.
        let (src, dst) = unsafe { in_out_bufs(src, src_size, dst, dst_capacity)? };
        let n = crate::decompress_into_with(src, dst, &o)?;
        // SAFETY: checked non-NULL above.
        unsafe { out_written.write(n) };
        Ok(())
    })
}

/// Decodes chunk `chunk_index` of the frame at `src` alone into `dst` (random access).
/// Chunk `i` is original bytes `[i * chunk_size, i * chunk_size + *out_written)`; the last
/// `original_size % planes` bytes of the original belong to no chunk. On `ZIPNN_OK`,
/// `*out_written` is the chunk's length. `src` must start with a frame; bytes after the
/// frame are ignored (so a frame inside a larger file can be read in place). Errors: as
/// `zipnn_decompress()` (but not for bytes after the frame), plus `INVALID_PARAM` for an
/// index past the last chunk. Only this chunk's checksum is verified. Thread-safe; uses the
/// calling thread.
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
        if out_written.is_null() {
            return Err(Error::NullPointer);
        }
        // SAFETY: the caller's contract: `src` readable and `dst` writable for their sizes.
        let (src, dst) = unsafe { in_out_bufs(src, src_size, dst, dst_capacity)? };
        let n = crate::decompress_chunk(src, chunk_index, dst)?;
        // SAFETY: checked non-NULL above.
        unsafe { out_written.write(n) };
        Ok(())
    })
}

/// Fills `*info` from the header of the frame that starts at `src` (bytes after the frame
/// are allowed). The caller sets `info->struct_size` to `sizeof(zipnn_frame_info)` first
/// (a value below 8 is `INVALID_PARAM`); fields beyond it are not written. On error
/// `*info` is left as it was. Errors: `NULL_POINTER`, `INVALID_PARAM`, and the frame errors
/// of `zipnn_get_decompressed_size()`. Thread-safe.
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
        };
        // SAFETY: the caller declared `declared` writable bytes at `info`.
        unsafe { write_sized(info, declared, &out) };
        Ok(())
    })
}

/// Copies the metadata block of the frame that starts at `src` (bytes after the frame are
/// ignored) into `dst` and writes its length to
/// `*out_written` (0 when the frame has none). `DST_TOO_SMALL` when it does not fit (the
/// size is in `zipnn_frame_info.metadata_size`). Other errors as
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
        if out_written.is_null() {
            return Err(Error::NullPointer);
        }
        // SAFETY: the caller's contract: `src` readable and `dst` writable for their sizes.
        let (src, dst) = unsafe { in_out_bufs(src, src_size, dst, dst_capacity)? };
        let meta = crate::metadata(src)?;
        if meta.len() > dst.len() {
            return Err(Error::DstTooSmall);
        }
        dst[..meta.len()].copy_from_slice(meta);
        // SAFETY: checked non-NULL above.
        unsafe { out_written.write(meta.len()) };
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
