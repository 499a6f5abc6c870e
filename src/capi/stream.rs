//! Streaming compression and decompression contexts, and random access to an in-memory
//! stream (docs/FORMAT.md section 11).

use std::cell::Cell;
use std::ffi::{c_int, c_void};
use std::io::Cursor;
use std::marker::PhantomData;
use std::mem::size_of;

use super::boundary::{declared_size, in_buf, in_out_bufs, out_buf, write_sized};
use super::options::{read_options, to_decompress_options, to_options, zipnn_options};
use super::status::zipnn_status;
use crate::error::Error;
use crate::stream::{Compressor, Decompressor, StreamReader};

/// Default stream block size (8 MiB of input per frame), used when `block_size` is 0.
pub const ZIPNN_STREAM_DEFAULT_BLOCK_SIZE: u32 = 8388608;
/// Smallest stream block size.
pub const ZIPNN_STREAM_MIN_BLOCK_SIZE: u32 = 1024;
/// Largest stream block size (256 MiB).
pub const ZIPNN_STREAM_MAX_BLOCK_SIZE: u32 = 268435456;

/// A streaming compression context (opaque). Create with `zipnn_cstream_new()`, free with
/// `zipnn_cstream_free()`. A context must not be used by two threads at once, but
/// different contexts may be used concurrently.
pub struct zipnn_cstream {
    inner: Compressor,
    _not_sync: PhantomData<Cell<()>>,
}

/// A streaming decompression context (opaque). Create with `zipnn_dstream_new()`, free
/// with `zipnn_dstream_free()`. A context must not be used by two threads at once, but
/// different contexts may be used concurrently.
pub struct zipnn_dstream {
    inner: Decompressor,
    _not_sync: PhantomData<Cell<()>>,
}

/// What a stream's header, index and trailer say. Set `struct_size` to
/// `sizeof(zipnn_stream_info)` before passing it to `zipnn_get_stream_info()`; the library
/// fills the fields it knows that fit. Plain data.
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct zipnn_stream_info {
    /// `sizeof(zipnn_stream_info)` as the caller was compiled (set by the caller).
    pub struct_size: u32,
    /// Stream format version.
    pub format_version: u32,
    /// Input bytes per frame (the last frame may hold fewer).
    pub block_size: u32,
    /// Zero.
    pub reserved: u32,
    /// Number of frames.
    pub frame_count: u64,
    /// Length of the original data.
    pub original_size: u64,
    /// Length of the whole stream in bytes.
    pub stream_size: u64,
}

/// Creates a streaming compression context that codes each `block_size` bytes of input
/// (0 = `ZIPNN_STREAM_DEFAULT_BLOCK_SIZE`; else `ZIPNN_STREAM_MIN_BLOCK_SIZE` ..=
/// `ZIPNN_STREAM_MAX_BLOCK_SIZE`, best a multiple of `opts.chunk_size`) into one frame with
/// `opts` (NULL = defaults; `opts.threads` workers code each block). The options are
/// copied. On `ZIPNN_OK`, `*out` is the new context; on error it is not written. The
/// context holds about twice `block_size` bytes whatever the stream's length. Errors:
/// `NULL_POINTER` (`out`), `INVALID_PARAM` (bad option or block size),
/// `UNSUPPORTED_DTYPE`, `UNSUPPORTED_METHOD`, `ALLOC`, `INTERNAL_PANIC`. Thread-safe.
#[no_mangle]
#[must_use]
pub extern "C" fn zipnn_cstream_new(
    opts: *const zipnn_options,
    block_size: usize,
    out: *mut *mut zipnn_cstream,
) -> zipnn_status {
    ffi_status!({
        let o = to_options(&read_options(opts)?)?;
        let out = out_ptr!(out);
        let bs = match block_size {
            0 => ZIPNN_STREAM_DEFAULT_BLOCK_SIZE,
            n => u32::try_from(n).map_err(|_| Error::InvalidParam)?,
        };
        let cs = Box::new(zipnn_cstream {
            inner: Compressor::new(&o, bs)?,
            _not_sync: PhantomData,
        });
        out.set(Box::into_raw(cs));
        Ok(())
    })
}

/// Frees a context from `zipnn_cstream_new()`. NULL is a no-op. The context must not be
/// used afterwards, nor by another thread during the call.
#[no_mangle]
pub extern "C" fn zipnn_cstream_free(cs: *mut zipnn_cstream) {
    super::boundary::guard((), || {
        if !cs.is_null() {
            // SAFETY: `cs` came from Box::into_raw in zipnn_cstream_new and is freed once.
            drop(unsafe { Box::from_raw(cs) });
        }
    })
}

/// Takes input from `src` and writes stream bytes to `dst`: on `ZIPNN_OK`,
/// `*src_consumed` input bytes were taken and `*dst_written` bytes written (either may be
/// 0). Call again with the rest of the input, and with more room when `dst` filled up;
/// bytes are written only when a whole block (`block_size` of input) has been coded, so
/// any `dst_capacity` of at least 1 makes progress. The output does not depend on how the
/// input is cut. Then call `zipnn_cstream_finish()`. On error nothing is written to the
/// out-parameters, and the context returns that error from every later call (free it).
/// Errors: `NULL_POINTER` (`cs`, the out-parameters, or a NULL buffer with a nonzero
/// size), `INVALID_PARAM` (overlapping buffers, or called after
/// `zipnn_cstream_finish()`), `ALLOC`, `INTERNAL_PANIC`. Not thread-safe for one context.
#[no_mangle]
#[must_use]
pub extern "C" fn zipnn_cstream_compress(
    cs: *mut zipnn_cstream,
    src: *const c_void,
    src_size: usize,
    src_consumed: *mut usize,
    dst: *mut c_void,
    dst_capacity: usize,
    dst_written: *mut usize,
) -> zipnn_status {
    ffi_status!({
        let c = &mut mut_ptr!(cs).inner;
        let (src_consumed, dst_written) = (out_ptr!(src_consumed), out_ptr!(dst_written));
        // SAFETY: the caller's contract: `src` readable and `dst` writable for their sizes.
        let (src, dst) = unsafe { in_out_bufs(src, src_size, dst, dst_capacity)? };
        let (n, w) = c.compress(src, dst)?;
        src_consumed.set(n);
        dst_written.set(w);
        Ok(())
    })
}

/// Ends the stream: codes the last partial block, then writes the index and trailer. On
/// `ZIPNN_OK`, `*dst_written` bytes were written to `dst` and `*done` is 1 when the stream
/// is complete, 0 when more room is needed (call again). After the first call,
/// `zipnn_cstream_compress()` is `INVALID_PARAM`; calls after `*done` is 1 write nothing
/// and set `*done` to 1 again. On error nothing is written to the out-parameters and the
/// context returns that error from every later call. Errors: `NULL_POINTER` (`cs`, the
/// out-parameters, or `dst` NULL with a nonzero capacity), `ALLOC`, `INTERNAL_PANIC`, or
/// the context's earlier error. Not thread-safe for one context.
#[no_mangle]
#[must_use]
pub extern "C" fn zipnn_cstream_finish(
    cs: *mut zipnn_cstream,
    dst: *mut c_void,
    dst_capacity: usize,
    dst_written: *mut usize,
    done: *mut c_int,
) -> zipnn_status {
    ffi_status!({
        let c = &mut mut_ptr!(cs).inner;
        let (dst_written, done) = (out_ptr!(dst_written), out_ptr!(done));
        // SAFETY: the caller's contract: `dst` writable for `dst_capacity` bytes.
        let dst = unsafe { out_buf(dst, dst_capacity)? };
        let (w, d) = c.finish(dst)?;
        dst_written.set(w);
        done.set(d as c_int);
        Ok(())
    })
}

/// Creates a streaming decompression context. `opts` (NULL = defaults) gives `threads`
/// (workers per frame) and `max_decompressed_size` (a stream whose output passes it is
/// `LIMIT_EXCEEDED`, found before the frame that passes it is decoded); the compression
/// fields are ignored. On `ZIPNN_OK`, `*out` is the new context; on error it is not
/// written. The context holds about twice the stream's block size (at most 256 MiB
/// each). Errors: `NULL_POINTER`, `INVALID_PARAM`, `ALLOC`, `INTERNAL_PANIC`. Thread-safe.
#[no_mangle]
#[must_use]
pub extern "C" fn zipnn_dstream_new(
    opts: *const zipnn_options,
    out: *mut *mut zipnn_dstream,
) -> zipnn_status {
    ffi_status!({
        let o = to_decompress_options(&read_options(opts)?)?;
        let out = out_ptr!(out);
        let ds = Box::new(zipnn_dstream {
            inner: Decompressor::with_options(&o),
            _not_sync: PhantomData,
        });
        out.set(Box::into_raw(ds));
        Ok(())
    })
}

/// Frees a context from `zipnn_dstream_new()`. NULL is a no-op. The context must not be
/// used afterwards, nor by another thread during the call.
#[no_mangle]
pub extern "C" fn zipnn_dstream_free(ds: *mut zipnn_dstream) {
    super::boundary::guard((), || {
        if !ds.is_null() {
            // SAFETY: `ds` came from Box::into_raw in zipnn_dstream_new and is freed once.
            drop(unsafe { Box::from_raw(ds) });
        }
    })
}

/// Takes stream bytes from `src` and writes original bytes to `dst`: on `ZIPNN_OK`,
/// `*src_consumed` bytes were taken and `*dst_written` written. Call again with the rest
/// of the input; call with `src_size` 0 to take decoded bytes still waiting, until
/// `*dst_written` is 0. Each frame is checked (header and chunk checksums) before any of
/// its bytes are written; the index and trailer are checked against the frames seen. At
/// the end call `zipnn_dstream_finish()`. On error nothing is written to the
/// out-parameters and the context returns that error from every later call. Errors:
/// `NULL_POINTER`, `INVALID_PARAM` (overlapping buffers), `BAD_MAGIC`,
/// `UNSUPPORTED_VERSION`, `UNSUPPORTED_FLAGS`, `UNSUPPORTED_DTYPE`, `UNSUPPORTED_CODEC`,
/// `CORRUPT` (also for bytes after the trailer), `CHECKSUM`, `LIMIT_EXCEEDED`, `ALLOC`,
/// `INTERNAL_PANIC`. Not thread-safe for one context.
#[no_mangle]
#[must_use]
pub extern "C" fn zipnn_dstream_decompress(
    ds: *mut zipnn_dstream,
    src: *const c_void,
    src_size: usize,
    src_consumed: *mut usize,
    dst: *mut c_void,
    dst_capacity: usize,
    dst_written: *mut usize,
) -> zipnn_status {
    ffi_status!({
        let d = &mut mut_ptr!(ds).inner;
        let (src_consumed, dst_written) = (out_ptr!(src_consumed), out_ptr!(dst_written));
        // SAFETY: the caller's contract: `src` readable and `dst` writable for their sizes.
        let (src, dst) = unsafe { in_out_bufs(src, src_size, dst, dst_capacity)? };
        let (n, w) = d.decompress(src, dst)?;
        src_consumed.set(n);
        dst_written.set(w);
        Ok(())
    })
}

/// `ZIPNN_OK` when the whole stream, through its trailer, has been checked and every
/// original byte written out. Errors: `NULL_POINTER`, `TRUNCATED` (the stream is not
/// complete yet, or ended early), `DST_TOO_SMALL` (decoded bytes are still waiting: call
/// `zipnn_dstream_decompress()` with `src_size` 0), or the context's earlier error. Does
/// not change the context. Not thread-safe for one context.
#[no_mangle]
#[must_use]
pub extern "C" fn zipnn_dstream_finish(ds: *const zipnn_dstream) -> zipnn_status {
    ffi_status!({ ref_ptr!(ds).inner.finish() })
}

fn open_slice(src: &[u8]) -> Result<StreamReader<Cursor<&[u8]>>, Error> {
    StreamReader::open(Cursor::new(src))
}

/// Fills `*info` from the header, index and trailer of the stream that fills `src`
/// exactly (all three are checked; frames are not read). The caller sets
/// `info->struct_size` to `sizeof(zipnn_stream_info)` first (below 8 is `INVALID_PARAM`);
/// fields beyond it are not written. On error `*info` is left as it was. Errors:
/// `NULL_POINTER`, `INVALID_PARAM`, `BAD_MAGIC`, `UNSUPPORTED_VERSION`,
/// `UNSUPPORTED_FLAGS`, `TRUNCATED`, `CORRUPT`, `CHECKSUM`, `INTERNAL_PANIC`. Thread-safe.
#[no_mangle]
#[must_use]
pub extern "C" fn zipnn_get_stream_info(
    src: *const c_void,
    src_size: usize,
    info: *mut zipnn_stream_info,
) -> zipnn_status {
    ffi_status!({
        // SAFETY: the caller passes a zipnn_stream_info whose first field is struct_size.
        let declared = unsafe { declared_size(info)? };
        // SAFETY: the caller's contract: `src` readable for `src_size` bytes.
        let src = unsafe { in_buf(src, src_size)? };
        let si = open_slice(src)?.info();
        let out = zipnn_stream_info {
            struct_size: size_of::<zipnn_stream_info>() as u32,
            format_version: si.version as u32,
            block_size: si.block_size,
            reserved: 0,
            frame_count: si.frame_count,
            original_size: si.original_size,
            stream_size: si.stream_size,
        };
        // SAFETY: the caller declared `declared` writable bytes at `info`.
        unsafe { write_sized(info, declared, &out) };
        Ok(())
    })
}

/// Random access: decodes original bytes `[offset, offset + dst_capacity)` (cut at the
/// end of the data) of the stream that fills `src` exactly into `dst`, reading only the
/// index and the frames and chunks that cover the range; on `ZIPNN_OK`, `*out_written` is
/// the count (`min(dst_capacity, original_size - offset)`). The header, index, trailer and
/// the decoded chunks' checksums are verified. On error `*out_written` is not written and
/// `dst` may have been partly written. Errors: `NULL_POINTER`, `INVALID_PARAM`
/// (`offset` past the end, overlapping buffers), the errors of `zipnn_get_stream_info()`,
/// `UNSUPPORTED_DTYPE`, `UNSUPPORTED_CODEC`, `ALLOC`. Thread-safe; decodes whole frames
/// on all cores.
#[no_mangle]
#[must_use]
pub extern "C" fn zipnn_stream_decode_range(
    src: *const c_void,
    src_size: usize,
    offset: u64,
    dst: *mut c_void,
    dst_capacity: usize,
    out_written: *mut usize,
) -> zipnn_status {
    ffi_status!({
        let out_written = out_ptr!(out_written);
        // SAFETY: the caller's contract: `src` readable and `dst` writable for their sizes.
        let (src, dst) = unsafe { in_out_bufs(src, src_size, dst, dst_capacity)? };
        let mut r = open_slice(src)?;
        out_written.set(r.read_range_into(offset, dst)?);
        Ok(())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn constants_match_the_rust_ones() {
        assert_eq!(
            ZIPNN_STREAM_DEFAULT_BLOCK_SIZE,
            crate::stream::DEFAULT_BLOCK_SIZE
        );
        assert_eq!(ZIPNN_STREAM_MIN_BLOCK_SIZE, crate::stream::MIN_BLOCK_SIZE);
        assert_eq!(ZIPNN_STREAM_MAX_BLOCK_SIZE, crate::stream::MAX_BLOCK_SIZE);
        assert_eq!(size_of::<zipnn_stream_info>(), 40);
    }
}
