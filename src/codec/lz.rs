//! The LZ-family codecs: zstd (zstd-sys), lz4 (lz4-sys) and snappy (the `snap` crate).
//!
//! snappy comes from `snap`: pure Rust (no second C toolchain dependency), a memory-safe
//! decoder for untrusted input, maintained, and it speaks the standard snappy block format.

use std::cell::RefCell;
use std::ffi::{c_char, c_int, c_void};

use super::Codec;
use crate::error::{Error, Result};
use crate::options::Options;

struct ZstdCtx {
    c: *mut zstd_sys::ZSTD_CCtx,
    d: *mut zstd_sys::ZSTD_DCtx,
}

impl ZstdCtx {
    fn new() -> Self {
        // SAFETY: plain constructors; NULL results are checked where used.
        unsafe {
            ZstdCtx {
                c: zstd_sys::ZSTD_createCCtx(),
                d: zstd_sys::ZSTD_createDCtx(),
            }
        }
    }
}

impl Drop for ZstdCtx {
    fn drop(&mut self) {
        // SAFETY: the pointers came from the matching create functions (or are NULL, which
        // the free functions accept) and are freed once.
        unsafe {
            zstd_sys::ZSTD_freeCCtx(self.c);
            zstd_sys::ZSTD_freeDCtx(self.d);
        }
    }
}

thread_local! {
    static ZSTD: RefCell<ZstdCtx> = RefCell::new(ZstdCtx::new());
}

/// Appends `codec`'s payload for `plane` to `out` if it is shorter than `bound` bytes;
/// otherwise leaves `out` as it was and returns false.
pub fn encode(codec: Codec, plane: &[u8], opts: &Options, out: &mut Vec<u8>, bound: usize) -> bool {
    if bound <= 1 {
        return false;
    }
    let cap = bound - 1; // a result must be strictly shorter than `bound`
    let start = out.len();
    let size = match codec {
        Codec::Zstd => {
            out.reserve(cap);
            let dst = out.spare_capacity_mut();
            ZSTD.with(|z| {
                let z = z.borrow();
                if z.c.is_null() {
                    return None;
                }
                // SAFETY: `dst` has at least `cap` writable bytes, `plane` is a valid slice,
                // and the context is owned by this thread.
                let r = unsafe {
                    zstd_sys::ZSTD_compressCCtx(
                        z.c,
                        dst.as_mut_ptr() as *mut c_void,
                        cap,
                        plane.as_ptr() as *const c_void,
                        plane.len(),
                        opts.zstd_level,
                    )
                };
                // SAFETY: pure function on a return code.
                (unsafe { zstd_sys::ZSTD_isError(r) } == 0).then_some(r)
            })
        }
        Codec::Lz4 => {
            let cap = cap.min(c_int::MAX as usize);
            out.reserve(cap);
            let dst = out.spare_capacity_mut();
            // SAFETY: `dst` has at least `cap` writable bytes; plane lengths are below
            // 64 MiB (MAX_CHUNK_SIZE), so they fit in c_int.
            let r = unsafe {
                if opts.lz4_level <= 1 {
                    lz4_sys::LZ4_compress_default(
                        plane.as_ptr() as *const c_char,
                        dst.as_mut_ptr() as *mut c_char,
                        plane.len() as c_int,
                        cap as c_int,
                    )
                } else {
                    lz4_sys::LZ4_compress_HC(
                        plane.as_ptr() as *const c_char,
                        dst.as_mut_ptr() as *mut c_char,
                        plane.len() as c_int,
                        cap as c_int,
                        opts.lz4_level,
                    )
                }
            };
            (r > 0).then_some(r as usize)
        }
        Codec::Snappy => {
            // snap wants room for its worst case; the bytes past the result are cut.
            out.resize(start + snap::raw::max_compress_len(plane.len()), 0);
            let r = snap::raw::Encoder::new().compress(plane, &mut out[start..]);
            return match r {
                Ok(n) if n < bound => {
                    out.truncate(start + n);
                    true
                }
                _ => {
                    out.truncate(start);
                    false
                }
            };
        }
        _ => None,
    };
    match size {
        Some(n) if n < bound => {
            // SAFETY: the codec initialised exactly `n` bytes of the spare capacity.
            unsafe { out.set_len(start + n) };
            true
        }
        _ => false,
    }
}

/// Decodes an LZ-family payload into `dst`, which must come out exactly full.
pub fn decode(codec: Codec, payload: &[u8], dst: &mut [u8]) -> Result<()> {
    let n = match codec {
        Codec::Zstd => ZSTD.with(|z| {
            let z = z.borrow();
            if z.d.is_null() {
                return Err(Error::Alloc);
            }
            // SAFETY: `dst` and `payload` are valid slices for their lengths; zstd never
            // writes past `dst.len()` and the context is owned by this thread.
            let r = unsafe {
                zstd_sys::ZSTD_decompressDCtx(
                    z.d,
                    dst.as_mut_ptr() as *mut c_void,
                    dst.len(),
                    payload.as_ptr() as *const c_void,
                    payload.len(),
                )
            };
            // SAFETY: pure function on a return code.
            if unsafe { zstd_sys::ZSTD_isError(r) } != 0 {
                Err(Error::Corrupt)
            } else {
                Ok(r)
            }
        })?,
        Codec::Lz4 => {
            if payload.len() > c_int::MAX as usize || dst.len() > c_int::MAX as usize {
                return Err(Error::Corrupt);
            }
            // SAFETY: LZ4_decompress_safe reads at most `payload.len()` bytes and writes at
            // most `dst.len()` bytes, whatever the payload holds.
            let r = unsafe {
                lz4_sys::LZ4_decompress_safe(
                    payload.as_ptr() as *const c_char,
                    dst.as_mut_ptr() as *mut c_char,
                    payload.len() as c_int,
                    dst.len() as c_int,
                )
            };
            if r < 0 {
                return Err(Error::Corrupt);
            }
            r as usize
        }
        Codec::Snappy => {
            let len = snap::raw::decompress_len(payload).map_err(|_| Error::Corrupt)?;
            if len != dst.len() {
                return Err(Error::Corrupt);
            }
            snap::raw::Decoder::new()
                .decompress(payload, dst)
                .map_err(|_| Error::Corrupt)?
        }
        _ => return Err(Error::Internal),
    };
    if n != dst.len() {
        return Err(Error::Corrupt);
    }
    Ok(())
}

/// The default level's cheap test of whether an LZ codec might beat Huffman on this plane:
/// lz4 (fast) on the first `probe` bytes, against Huffman's size scaled to the same length.
pub fn probe_says_lz_wins(plane: &[u8], huffman_size: usize, probe: usize) -> bool {
    let sample = &plane[..plane.len().min(probe)];
    let huff_sample = huffman_size as f64 * sample.len() as f64 / plane.len() as f64;
    let mut buf = Vec::new();
    let opts = Options::default();
    let bound = huff_sample.floor() as usize;
    encode(Codec::Lz4, sample, &opts, &mut buf, bound)
}
