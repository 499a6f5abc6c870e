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
    /// The spread probe's lz4 state, initialised once per thread.
    static PROBE_STATE: Lz4State = Lz4State::new();
}

// lz4's "static linking only" entry point (lz4.h), compiled into lz4-sys's library but not
// declared by it.
unsafe extern "C" {
    fn LZ4_compress_fast_extState_fastReset(
        state: *mut c_void,
        src: *const c_char,
        dst: *mut c_char,
        src_size: c_int,
        dst_capacity: c_int,
        acceleration: c_int,
    ) -> c_int;
}

/// An lz4 compression state made (and zeroed) once per thread, for
/// `LZ4_compress_fast_extState_fastReset`, where `LZ4_compress_fast` zeroes a fresh 16 KiB
/// state on every call (MiniLM bf16 frame in 4 KiB chunks, one thread, best of 12: 149.3
/// -> 147.0 ms, about 0.2 us a chunk). The output is the same: lz4 zeroes the kept table
/// itself where the table type changes, the input is 4 KiB or more, or the positions near
/// its 64 KiB limit; otherwise it refuses the entries older than the current input, where
/// a zeroed table's empty slots point at position 0, whose first four bytes hash to another
/// slot (that of position 0, written first), so they never match either
/// (`fast_reset_gives_the_same_output` checks it).
struct Lz4State(*mut lz4_sys::LZ4StreamEncode);

impl Lz4State {
    fn new() -> Self {
        // SAFETY: a plain constructor (it allocates and initialises the state); NULL is
        // checked where used.
        Lz4State(unsafe { lz4_sys::LZ4_createStream() })
    }

    /// `LZ4_compress_fast(src, dst, src.len(), cap, acceleration)`: the same result and
    /// bytes, with this state.
    ///
    /// # Safety
    /// `dst` must have `cap` writable bytes; `src.len()` and `cap` must fit in c_int.
    unsafe fn compress_fast(
        &self,
        src: &[u8],
        dst: *mut u8,
        cap: usize,
        acceleration: i32,
    ) -> c_int {
        // SAFETY: the caller's contract for `dst` and the sizes; the state is this thread's
        // own, initialised by LZ4_createStream and only ever passed to lz4's compressors.
        unsafe {
            if self.0.is_null() {
                return lz4_sys::LZ4_compress_fast(
                    src.as_ptr() as *const c_char,
                    dst as *mut c_char,
                    src.len() as c_int,
                    cap as c_int,
                    acceleration,
                );
            }
            LZ4_compress_fast_extState_fastReset(
                self.0.cast(),
                src.as_ptr() as *const c_char,
                dst as *mut c_char,
                src.len() as c_int,
                cap as c_int,
                acceleration,
            )
        }
    }
}

impl Drop for Lz4State {
    fn drop(&mut self) {
        // SAFETY: the pointer came from LZ4_createStream (or is NULL, which LZ4_freeStream
        // accepts) and is freed once.
        unsafe {
            lz4_sys::LZ4_freeStream(self.0);
        }
    }
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
        let cap = (bound - 1).min(c_int::MAX as usize);
        // SAFETY: `out` has room for `cap` bytes, lz4's limit, and the sample is at most
        // `PROBE_BLOCK * blocks` bytes, far below c_int::MAX.
        let r = PROBE_STATE.with(|state| unsafe {
            state.compress_fast(sample, out.as_mut_ptr(), cap, probe.acceleration)
        });
        r > 0 && (r as usize) < bound
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_rng::Rng;

    /// The kept state gives `LZ4_compress_fast`'s result and bytes, call after call, on
    /// inputs of every length up to past 4 KiB (where lz4 resets the state itself), of
    /// random bytes, few values, runs and repeats, with room to spare and too little.
    #[test]
    fn fast_reset_gives_the_same_output() {
        let mut rng = Rng(0x1234_5678);
        let state = Lz4State::new();
        assert!(!state.0.is_null());
        let mut lens: Vec<usize> = (0..300).collect();
        lens.extend((300..5000).step_by(37));
        lens.extend([2047, 2048, 4095, 4096, 4097, 8192, 65535, 65536, 70000]);
        // Then down again: short inputs after long ones (another table type) too.
        let back: Vec<usize> = lens.iter().rev().copied().collect();
        lens.extend(back);
        for (i, &n) in lens.iter().enumerate() {
            let kind = i % 4;
            let mut src = vec![0u8; n];
            for (j, b) in src.iter_mut().enumerate() {
                *b = match kind {
                    0 => rng.next() as u8,
                    1 => rng.below(5) as u8,
                    2 => (j / 7 % 3) as u8,
                    _ => (j % 97) as u8 ^ rng.below(2) as u8,
                };
            }
            for cap in [n + n / 255 + 16, n.saturating_sub(n / 8 + 1)] {
                for acceleration in [1, 4] {
                    let mut a = vec![0u8; cap + 1];
                    let mut b = vec![0u8; cap + 1];
                    // SAFETY: both buffers have `cap` writable bytes; the sizes fit in c_int.
                    let (ra, rb) = unsafe {
                        (
                            lz4_sys::LZ4_compress_fast(
                                src.as_ptr() as *const c_char,
                                a.as_mut_ptr() as *mut c_char,
                                n as c_int,
                                cap as c_int,
                                acceleration,
                            ),
                            state.compress_fast(&src, b.as_mut_ptr(), cap, acceleration),
                        )
                    };
                    assert_eq!(
                        ra, rb,
                        "n {n} kind {kind} cap {cap} acceleration {acceleration}"
                    );
                    let len = ra.max(0) as usize;
                    assert_eq!(a[..len], b[..len], "n {n} kind {kind} cap {cap}");
                }
            }
        }
    }
}
