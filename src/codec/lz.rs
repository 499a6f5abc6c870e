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

/// zstd's window limits (`ZSTD_WINDOWLOG_MIN`, and 27, the largest a decoder accepts by
/// default).
const ZSTD_WINDOWLOG_MIN: c_int = 10;
const ZSTD_WINDOWLOG_MAX: c_int = 27;
/// Planes longer than 2^21 bytes (2 MiB, the window of zstd's default level) are coded with
/// long-distance matching too: the window then covers repeats farther apart than the level's
/// own search finds (ONNX-quantized uint8 weights: 69.384% -> 69.379%).
const ZSTD_LDM_FROM: c_int = 21;

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
                // The window covers the whole plane, whatever the level: with a large
                // chunk size LZ finds repeats anywhere in a plane, and a decoder of one
                // plane holds the whole plane anyway.
                let window = plane.len().max(1).next_power_of_two().trailing_zeros() as c_int;
                let window = window.clamp(ZSTD_WINDOWLOG_MIN, ZSTD_WINDOWLOG_MAX);
                use zstd_sys::ZSTD_cParameter::{ZSTD_c_compressionLevel, ZSTD_c_windowLog};
                // SAFETY: `dst` has at least `cap` writable bytes, `plane` is a valid slice,
                // and the context is owned by this thread; the parameters are reset first,
                // so nothing from an earlier call carries over.
                let r = unsafe {
                    zstd_sys::ZSTD_CCtx_reset(
                        z.c,
                        zstd_sys::ZSTD_ResetDirective::ZSTD_reset_session_and_parameters,
                    );
                    zstd_sys::ZSTD_CCtx_setParameter(z.c, ZSTD_c_compressionLevel, opts.zstd_level);
                    zstd_sys::ZSTD_CCtx_setParameter(z.c, ZSTD_c_windowLog, window);
                    if window > ZSTD_LDM_FROM {
                        zstd_sys::ZSTD_CCtx_setParameter(
                            z.c,
                            zstd_sys::ZSTD_cParameter::ZSTD_c_enableLongDistanceMatching,
                            1,
                        );
                    }
                    zstd_sys::ZSTD_compress2(
                        z.c,
                        dst.as_mut_ptr() as *mut c_void,
                        cap,
                        plane.as_ptr() as *const c_void,
                        plane.len(),
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

/// Bytes of each block of the spread LZ probe.
const PROBE_BLOCK: usize = 256;

/// How much of a plane the spread LZ probe reads, and how hard lz4 looks.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Probe {
    /// Blocks of `PROBE_BLOCK` bytes, spread evenly over the plane.
    pub blocks: usize,
    /// lz4's acceleration: 1 looks at every position; above 1, lz4 skips ahead faster
    /// where it finds nothing (positions in a long repeat are still found).
    pub acceleration: i32,
}

impl Probe {
    /// Planes an order-0 coder gains on (exponents): 8 blocks, lz4 at its default effort.
    /// With 16 blocks this probe took a tenth of the default level's time on MiniLM fp32;
    /// with 8, no corpus file moves by more than 0.02 pp (docs/LAYOUTS.md).
    pub(crate) const COUNTED: Probe = Probe {
        blocks: 8,
        acceleration: 1,
    };
    /// Near-random mantissa planes, stored raw unless this finds repeats worth 1/40 of the
    /// plane: 16 blocks, lz4 at acceleration 4, which makes the same decisions on every
    /// corpus file as acceleration 1 (checked up to 16), in less time on random bytes.
    pub(crate) const NEAR_RANDOM: Probe = Probe {
        blocks: 16,
        acceleration: 4,
    };
}

thread_local! {
    /// The spread probe's sample and lz4 output (reused, so no allocation per plane).
    static PROBE: RefCell<(Vec<u8>, Vec<u8>)> = const { RefCell::new((Vec::new(), Vec::new())) };
}

/// The default level's cheap test of whether an LZ codec might beat Huffman's
/// `huffman_size` on this plane: lz4 (fast) on `probe.blocks` blocks of `PROBE_BLOCK`
/// bytes spread evenly over the whole plane, put together (the whole plane if it is that
/// short), against Huffman's size scaled to the same length. The blocks sit at fixed
/// fractions of the plane, so no region decides for the rest: runs and local repeats
/// anywhere show up in the blocks that fall in them, and content that repeats across the
/// plane shows up as matches between blocks.
pub(crate) fn spread_probe_says_lz_wins(plane: &[u8], huffman_size: usize, probe: Probe) -> bool {
    let n = plane.len();
    let blocks = probe.blocks.max(2);
    PROBE.with(|p| {
        let mut p = p.borrow_mut();
        let (sample, out) = &mut *p;
        sample.clear();
        if n <= PROBE_BLOCK * blocks {
            sample.extend_from_slice(plane);
        } else {
            let step = (n - PROBE_BLOCK) / (blocks - 1);
            for k in 0..blocks {
                sample.extend_from_slice(&plane[k * step..k * step + PROBE_BLOCK]);
            }
        }
        let bound = (huffman_size as u128 * sample.len() as u128 / n.max(1) as u128) as usize;
        out.clear();
        if bound <= 1 {
            return false;
        }
        out.reserve(bound);
        // SAFETY: `out` has room for `bound - 1` bytes, lz4's limit, and the sample is at
        // most `PROBE_BLOCK * blocks` bytes, far below c_int::MAX.
        let r = unsafe {
            lz4_sys::LZ4_compress_fast(
                sample.as_ptr() as *const c_char,
                out.as_mut_ptr() as *mut c_char,
                sample.len() as c_int,
                (bound - 1).min(c_int::MAX as usize) as c_int,
                probe.acceleration,
            )
        };
        r > 0 && (r as usize) < bound
    })
}
