//! Per-dtype bit moves and byte grouping, exactly reversible.
//!
//! A chunk of `n` whole elements of `p` bytes becomes `p` planes of `n` bytes each, stored one
//! after another in one buffer: plane `k` is `planes[k * n..(k + 1) * n]`. Plane 0 holds the
//! most significant field (the exponent for floats). The layouts, and the measurements that
//! chose them, are in docs/FORMAT.md ("Transforms") and docs/LAYOUTS.md.
//!
//! | dtype | element bits (msb first) | planes |
//! |---|---|---|
//! | bf16 | `s e8 m7` | `e8`, `s m7` |
//! | fp16 | `s e5 m10` | `e5 m[9:7]`, `m[6:0] s` (sign moved to the lsb) |
//! | fp32 | `s e8 m23` | `e8`, `s m[22:16]`, `m[15:8]`, `m[7:0]` |
//! | fp64 | `s e11 m52` | bytes 7, 6, ..., 0 (no bit move) |
//! | fp8, int8, uint8 | one byte | the byte |
//! | raw with `p` partitions | `p` bytes | bytes `p-1`, ..., 0 of each `p`-byte group |
//!
//! This file chooses a path; `portable.rs` holds the plain code (and the reference the
//! vector code is tested against), `avx2.rs` the AVX2 code. Byte histograms are the
//! codecs' business (`codec::histogram`); the split only counts alongside where that is
//! cheaper.

use crate::options::DType;

#[cfg(target_arch = "x86_64")]
mod avx2;
mod layout;
mod portable;

pub use layout::{
    bytes_first_plane, count_first_and_pairs, has_bytes_layout, negative_pairs, second_planes,
    to_bytes_layout, Layout, Pairs, TopSample,
};
pub use portable::{merge_portable, split_portable};

use crate::codec::histogram;
#[cfg(target_arch = "x86_64")]
use crate::codec::histogram::{best_window, WINDOW_MIN};
use crate::codec::Histogram;

/// Splits `src` (whole elements of `planes` bytes each, little-endian) into planes in `out`.
/// `out.len()` must equal `src.len()`, which must be a multiple of `planes`.
pub fn split(dtype: DType, planes: usize, src: &[u8], out: &mut [u8]) {
    debug_assert_eq!(src.len(), out.len());
    debug_assert_eq!(src.len() % planes, 0);
    #[cfg(target_arch = "x86_64")]
    {
        if avx2::available() && avx2::split(dtype, planes, src, out) {
            return;
        }
    }
    split_portable(dtype, planes, src, out)
}

/// [`split`], and each plane's byte histogram: `hist[k]` is overwritten with plane `k`'s
/// counts (`hist.len() >= planes`).
///
/// Measured on MiniLM bf16 (256 KiB chunks, this project's 2-core VM): a SIMD split
/// followed by one counting pass per plane (planes still in L1/L2) runs at 3.2 GB/s, while
/// a single fused pass that counts while it moves bits ran at 1.2 GB/s: the counters'
/// read-modify-write chains, not the loads, bound both, and the fused loop's extra work sits
/// on the same ports. So the passes stay separate behind this one entry point.
pub fn split_counting(
    dtype: DType,
    planes: usize,
    src: &[u8],
    out: &mut [u8],
    hist: &mut [Histogram],
) {
    debug_assert_eq!(src.len(), out.len());
    debug_assert_eq!(src.len() % planes, 0);
    debug_assert!(hist.len() >= planes);
    let n = src.len() / planes;
    split(dtype, planes, src, out);
    if n == 0 {
        hist[..planes].iter_mut().for_each(|h| *h = [0; 256]);
        return;
    }
    for (h, plane) in hist.iter_mut().zip(out.chunks_exact(n)) {
        *h = histogram(plane);
    }
}

/// [`split`], and plane 0's byte histogram (the exponent plane of the float layouts,
/// which is always counted, unlike the near-random mantissa planes; see
/// `codec::code_plane`).
///
/// For bf16 and fp16 with AVX2, when plane 0 has a window of 16 values holding nearly
/// all of it (judged from the chunk's first elements), the window is counted
/// inside the split, each group of 480 elements' plane 0 right after the group is split,
/// from L1: the split waits on memory, so the count runs in its shadow (measured on MiniLM
/// bf16, one thread: counting inside the split's loop itself, the two together were 1.4
/// times faster than the split followed by [`histogram`], compression 2250 -> 2460 MB/s;
/// the groups, on Zen 3, then took compression from 2662 to 3043 MB/s, see
/// `avx2::split16_counting`). Otherwise the split, then [`histogram`] of plane 0.
pub fn split_counting_first(dtype: DType, planes: usize, src: &[u8], out: &mut [u8]) -> Histogram {
    split_counting_first_in(dtype, Layout::Dtype, planes, src, out)
}

/// [`split_counting_first`] into the planes of `layout` (for [`Layout::Bytes`], plain
/// grouping, whose plane 0 of bf16 and fp16 is counted inside the split the same way).
pub fn split_counting_first_in(
    dtype: DType,
    layout: Layout,
    planes: usize,
    src: &[u8],
    out: &mut [u8],
) -> Histogram {
    let n = src.len() / planes;
    split_maybe_counting(dtype, layout, planes, src, out).unwrap_or_else(|| histogram(&out[..n]))
}

/// [`split`] into the planes of `layout`, and plane 0's histogram where it is counted inside
/// the split (see [`split_counting_first`]); `None` where it would be a pass of its
/// own after the split, which the caller may then skip.
fn split_maybe_counting(
    dtype: DType,
    layout: Layout,
    planes: usize,
    src: &[u8],
    out: &mut [u8],
) -> Option<Histogram> {
    debug_assert_eq!(src.len(), out.len());
    debug_assert_eq!(src.len() % planes, 0);
    #[cfg(target_arch = "x86_64")]
    {
        if let Some((mode, base)) = split_window(dtype, layout, planes, src) {
            // SAFETY: `split_window` found AVX2 available; `base <= 256 - WINDOW`.
            return Some(unsafe { avx2::split16_counting(mode, src, out, base) });
        }
    }
    split(layout.transform_dtype(dtype), planes, src, out);
    None
}

/// The move and the window of plane-0 values that [`split_counting_first_in`] counts inside
/// the split of `src` into `layout`'s planes, where it does (16-bit elements, AVX2, a window
/// of 16 values holding nearly all of the chunk's first elements' plane 0).
#[cfg(target_arch = "x86_64")]
fn split_window(
    dtype: DType,
    layout: Layout,
    planes: usize,
    src: &[u8],
) -> Option<(avx2::Move16, u8)> {
    let n = src.len() / planes;
    let mode = match layout {
        Layout::Dtype => avx2::Move16::of(dtype, planes).filter(|_| dtype != DType::Raw),
        Layout::Bytes => (planes == 2).then_some(avx2::Move16::Plain),
    };
    let mode = mode.filter(|_| n >= WINDOW_MIN && avx2::available())?;
    // The sample is the chunk's first elements, which the split reads next anyway: a
    // spread sample would wait on memory (and the TLB) for nothing else. A window that fits
    // the start but not the rest costs speed only: the count is exact.
    let mut h = [0u32; 256];
    for e in src[..2 * FIRST_SAMPLE].chunks_exact(2) {
        h[planes16(u16::from_le_bytes([e[0], e[1]]), mode).0 as usize] += 1;
    }
    best_window(&h).map(|base| (mode, base))
}

/// Whether [`split_counting_first`] counts plane 0 of the elements `src` of `dtype` inside
/// the split (see there), rather than in a pass of its own after it.
pub fn counts_first_in_split(dtype: DType, planes: usize, src: &[u8]) -> bool {
    #[cfg(target_arch = "x86_64")]
    {
        split_window(dtype, Layout::Dtype, planes, src).is_some()
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        let _ = (dtype, planes, src);
        false
    }
}

/// [`split`] of bf16, fp16 or fp32 (layout 0), plane 0's histogram, and the negative
/// elements' plane-0 pairs ([`Pairs`]): what the choice of layout needs
/// ([`bytes_first_plane`]). Plane 0 is counted as by [`split_counting_first`] (inside the
/// split for bf16 and fp16), the pairs by vector compares in the same window of values;
/// where there is no such window, both are counted in one pass over the elements
/// ([`layout::count_first_and_pairs`]).
pub fn split_counting_layout(
    dtype: DType,
    planes: usize,
    src: &[u8],
    out: &mut [u8],
) -> (Histogram, Pairs) {
    debug_assert!(has_bytes_layout(dtype));
    #[cfg(target_arch = "x86_64")]
    {
        let n = src.len() / planes;
        if n >= WINDOW_MIN && avx2::available() {
            let mut first = None;
            if let Some(mode) = avx2::Move16::of(dtype, planes) {
                let mut h = [0u32; 256];
                for e in src[..2 * FIRST_SAMPLE].chunks_exact(2) {
                    h[planes16(u16::from_le_bytes([e[0], e[1]]), mode).0 as usize] += 1;
                }
                if let Some(base) = best_window(&h) {
                    // SAFETY: AVX2 is available (checked above); `base <= 256 - WINDOW`.
                    first = Some(unsafe { avx2::split16_counting(mode, src, out, base) });
                }
            }
            if first.is_none() {
                split(dtype, planes, src, out);
                if let Some(base) = histogram::window_base(&out[..n]) {
                    // SAFETY: AVX2 is available (checked above); `base <= 256 - WINDOW`.
                    first = Some(unsafe { histogram::avx2::histogram_window(&out[..n], base) });
                }
            }
            let (p0, rest) = out.split_at(n);
            return match first {
                Some(h) if best_window(&h).is_some() => {
                    let pairs = negative_pairs(dtype, p0, &rest[..n], &h);
                    (h, pairs)
                }
                _ => layout::count_first_and_pairs(dtype, src),
            };
        }
    }
    split(dtype, planes, src, out);
    layout::count_first_and_pairs(dtype, src)
}

/// Elements sampled by [`split_counting_first`] to choose its window.
#[cfg_attr(not(target_arch = "x86_64"), allow(dead_code))]
const FIRST_SAMPLE: usize = 1024;

/// The two planes of one 16-bit element under `mode`.
#[cfg(target_arch = "x86_64")]
#[inline(always)]
fn planes16(v: u16, mode: avx2::Move16) -> (u8, u8) {
    match mode {
        avx2::Move16::Fp16 => {
            let r = v.rotate_left(1);
            ((r >> 8) as u8, r as u8)
        }
        avx2::Move16::Bf16 => ((v >> 7) as u8, ((v >> 8) as u8 & 0x80) | (v as u8 & 0x7F)),
        avx2::Move16::Plain => ((v >> 8) as u8, v as u8),
    }
}

/// Inverse of [`split`]: rebuilds whole elements in `dst` from the planes in `planes_buf`.
pub fn merge(dtype: DType, planes: usize, planes_buf: &[u8], dst: &mut [u8]) {
    debug_assert_eq!(planes_buf.len(), dst.len());
    debug_assert_eq!(dst.len() % planes, 0);
    let n = dst.len() / planes;
    let mut views: [&[u8]; 8] = [&[]; 8];
    for (v, p) in views.iter_mut().zip(planes_buf.chunks_exact(n.max(1))) {
        *v = p;
    }
    merge_planes(dtype, &views[..planes], dst);
}

/// Inverse of [`split`] from planes that need not be adjacent: `planes[k]` is plane `k`
/// (each `dst.len() / planes.len()` bytes), so a decoder can merge straight from a raw
/// plane's payload without copying it first.
pub fn merge_planes(dtype: DType, planes: &[&[u8]], dst: &mut [u8]) {
    merge_planes_with(dtype, planes, dst, false)
}

/// [`merge_planes`]; with `stream`, the SIMD paths write `dst` with non-temporal stores,
/// which bypass the caches: worth it when the whole output is far larger than the caches
/// (no read-for-ownership of the destination lines, no eviction of the planes).
pub fn merge_planes_with(dtype: DType, planes: &[&[u8]], dst: &mut [u8], stream: bool) {
    debug_assert_eq!(dst.len() % planes.len(), 0);
    debug_assert!(planes.iter().all(|p| p.len() == dst.len() / planes.len()));
    #[cfg(target_arch = "x86_64")]
    {
        if avx2::available() && avx2::merge(dtype, planes, dst, stream) {
            return;
        }
    }
    let _ = stream;
    merge_portable(dtype, planes, dst)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_rng::step;

    #[test]
    fn every_layout_round_trips() {
        let mut seed = 7;
        for dtype in DType::ALL {
            let parts: &[usize] = if dtype == DType::Raw {
                &[1, 2, 4, 8]
            } else {
                &[0]
            };
            for &p in parts {
                let planes = if dtype == DType::Raw {
                    p
                } else {
                    dtype.element_size()
                };
                for n in [0usize, 1, 2, 3, 17, 1000] {
                    let src: Vec<u8> = (0..n * planes).map(|_| step(&mut seed) as u8).collect();
                    let mut pl = vec![0u8; src.len()];
                    split(dtype, planes, &src, &mut pl);
                    let mut back = vec![0u8; src.len()];
                    merge(dtype, planes, &pl, &mut back);
                    assert_eq!(back, src, "{dtype:?} planes={planes} n={n}");
                }
            }
        }
    }

    #[test]
    fn simd_and_portable_paths_agree() {
        // `split` and `merge_planes` take the AVX2 paths where the CPU has AVX2; the
        // portable functions are the reference. Odd lengths and offsets exercise the
        // scalar heads and tails around the vector blocks and the streaming alignment.
        let mut seed = 11;
        for (dtype, planes) in [
            (DType::Bf16, 2),
            (DType::Fp16, 2),
            (DType::Fp32, 4),
            (DType::Fp64, 8),
            (DType::Raw, 2),
            (DType::Raw, 4),
            (DType::Raw, 8),
        ] {
            for n in [0usize, 1, 7, 15, 16, 17, 31, 32, 33, 63, 64, 65, 200, 1031] {
                let src: Vec<u8> = (0..n * planes).map(|_| step(&mut seed) as u8).collect();
                let mut fast = vec![0u8; src.len()];
                let mut slow = vec![0u8; src.len()];
                split(dtype, planes, &src, &mut fast);
                split_portable(dtype, planes, &src, &mut slow);
                assert_eq!(fast, slow, "split {dtype:?} n={n}");
                let mut hist = [[1u32; 256]; 8];
                split_counting(dtype, planes, &src, &mut fast, &mut hist);
                assert_eq!(fast, slow);
                for k in 0..planes {
                    let mut h = [0u32; 256];
                    for &b in &slow[k * n..(k + 1) * n] {
                        h[b as usize] += 1;
                    }
                    assert_eq!(hist[k], h, "histogram {dtype:?} n={n} plane {k}");
                }
                let views: Vec<&[u8]> = (0..planes).map(|k| &slow[k * n..(k + 1) * n]).collect();
                let mut reference = vec![0u8; src.len()];
                merge_portable(dtype, &views, &mut reference);
                assert_eq!(reference, src);
                for offset in 0..4 {
                    for stream in [false, true] {
                        let mut buf = vec![0u8; src.len() + offset];
                        merge_planes_with(dtype, &views, &mut buf[offset..], stream);
                        assert_eq!(&buf[offset..], &src[..], "{dtype:?} n={n} +{offset}");
                    }
                }
            }
        }
    }

    #[test]
    fn split_counting_first_matches_split_and_count() {
        // Peaked exponents (the fused count), some outside the window, a start that differs
        // from the rest (the window is chosen from the first elements), spread values (split
        // then count), lengths around the vector block and past the counters' fold.
        let mut seed = 9;
        let sizes: &[usize] = if cfg!(miri) {
            // Past the first 1024 elements (the window sample), small enough for Miri.
            &[0, 33, 1024 + 33]
        } else {
            &[
                0,
                1,
                33,
                8 * 1024 - 1,
                8 * 1024,
                8 * 1024 + 33,
                32 * 255 * 3 + 5,
                131_072,
            ]
        };
        for dtype in [DType::Bf16, DType::Fp16, DType::Fp32, DType::Fp64] {
            let es = dtype.element_size();
            for &n in sizes {
                for (rare, shift_at) in [(64u64, usize::MAX), (4, usize::MAX), (1, 0), (64, 2000)] {
                    let src: Vec<u8> = (0..n)
                        .flat_map(|i| {
                            let r = step(&mut seed);
                            let e = if r % rare == 0 {
                                (r >> 8) as u8
                            } else {
                                let lo = if i < shift_at { 112 } else { 60 };
                                lo + (r >> 8) as u8 % 16
                            };
                            // Exponent e in the top bits of each element's high 16 bits
                            // (bf16 and fp32 e8; for fp16 the top byte after the rotation).
                            let top: u16 = if dtype == DType::Fp16 {
                                (e as u16) << 7 | (r as u16 & 0x7F) | ((r as u16) << 15)
                            } else {
                                (e as u16) << 7 | (r >> 40) as u16 & 0x807F
                            };
                            let mut b = step(&mut seed).to_le_bytes()[..es].to_vec();
                            b[es - 2..].copy_from_slice(&top.to_le_bytes());
                            b
                        })
                        .collect();
                    let mut fast = vec![0u8; src.len()];
                    let mut slow = vec![0u8; src.len()];
                    let h = split_counting_first(dtype, es, &src, &mut fast);
                    split_portable(dtype, es, &src, &mut slow);
                    assert_eq!(fast, slow, "{dtype:?} n={n}");
                    let mut want = [0u32; 256];
                    for &b in &slow[..n] {
                        want[b as usize] += 1;
                    }
                    assert_eq!(h, want, "{dtype:?} n={n} rare={rare} shift={shift_at}");
                    if !has_bytes_layout(dtype) {
                        continue;
                    }
                    // Layout 1: plain grouping, its plane 0 counted the same way.
                    let h = split_counting_first_in(dtype, Layout::Bytes, es, &src, &mut fast);
                    split_portable(DType::Raw, es, &src, &mut slow);
                    assert_eq!(fast, slow, "{dtype:?} n={n} layout 1");
                    assert_eq!(
                        h,
                        crate::codec::histogram_portable(&slow[..n]),
                        "{dtype:?} n={n}"
                    );
                }
            }
        }
    }

    #[cfg(target_arch = "x86_64")]
    #[test]
    fn avx2_counting_split_matches_portable() {
        // `avx2::split16_counting` directly, in every 16-bit move, against the portable
        // split and a plain count of plane 0: windows at several bases (the values' own,
        // just beside them, both ends of the byte range, one that holds nothing), plane-0
        // values inside and outside the window, lengths around the 32-element block, the
        // 15-block group of the count and the 255-block span of 8-bit counters.
        if !avx2::available() {
            return;
        }
        let mut seed = 13;
        let sizes: &[usize] = if cfg!(miri) {
            &[0, 1, 33, 481]
        } else {
            &[
                0,
                1,
                31,
                32,
                33,
                479,
                480,
                481,
                15 * 32 * 7 + 31,
                32 * 255 + 17,
                32 * 255 * 2 + 480,
                50_001,
            ]
        };
        for mode in [avx2::Move16::Bf16, avx2::Move16::Fp16, avx2::Move16::Plain] {
            let dtype = match mode {
                avx2::Move16::Bf16 => DType::Bf16,
                avx2::Move16::Fp16 => DType::Fp16,
                avx2::Move16::Plain => DType::Raw,
            };
            for &n in sizes {
                // Plane-0 values lo .. lo + spread, every `rare`-th anything. (One value
                // alone fills one 4-bit field of the count in every byte, every block.)
                for (lo, spread, rare) in [
                    (100u8, 16u8, 64u64),
                    (0, 16, 8),
                    (240, 16, 3),
                    (120, 16, 1),
                    (77, 1, 1000),
                    (78, 1, 1000),
                ] {
                    let src: Vec<u8> = (0..n)
                        .flat_map(|_| {
                            let r = step(&mut seed);
                            let p0 = if r % rare == 0 {
                                (r >> 8) as u8
                            } else {
                                lo.wrapping_add((r >> 8) as u8 % spread)
                            };
                            let p1 = (r >> 20) as u8;
                            // The element whose planes are (p0, p1) under `mode`.
                            let v = match mode {
                                avx2::Move16::Bf16 => {
                                    ((p1 as u16 & 0x80) << 8) | (p0 as u16) << 7 | p1 as u16 & 0x7F
                                }
                                avx2::Move16::Fp16 => {
                                    ((p0 as u16) << 8 | p1 as u16).rotate_right(1)
                                }
                                avx2::Move16::Plain => (p0 as u16) << 8 | p1 as u16,
                            };
                            v.to_le_bytes()
                        })
                        .collect();
                    let mut slow = vec![0u8; src.len()];
                    split_portable(dtype, 2, &src, &mut slow);
                    let want = crate::codec::histogram_portable(&slow[..n]);
                    for base in [lo.min(240), lo.saturating_sub(1).min(240), 0, 240, 40] {
                        let mut fast = vec![0x55u8; src.len()];
                        // SAFETY: AVX2 checked above; base <= 240 = 256 - WINDOW.
                        let h = unsafe { avx2::split16_counting(mode, &src, &mut fast, base) };
                        assert!(fast == slow, "planes {dtype:?} n={n} lo={lo} base={base}");
                        assert_eq!(h, want, "{dtype:?} n={n} lo={lo} rare={rare} base={base}");
                    }
                }
            }
        }
    }

    #[test]
    fn bf16_exponent_lands_in_plane_zero() {
        // 1.0 in bf16 is 0x3F80: sign 0, exponent 127, mantissa 0.
        // -1.5 is 0xBFC0: sign 1, exponent 127, mantissa 0x40.
        let src = [0x80, 0x3F, 0xC0, 0xBF];
        let mut pl = [0u8; 4];
        split(DType::Bf16, 2, &src, &mut pl);
        assert_eq!(pl, [127, 127, 0x00, 0x80 | 0x40]);
    }

    #[test]
    fn fp32_layout_is_e8_sm7_m8_m8() {
        let v: f32 = -1.5; // 0xBFC00000
        let mut pl = [0u8; 4];
        split(DType::Fp32, 4, &v.to_le_bytes(), &mut pl);
        assert_eq!(pl, [127, 0x80 | 0x40, 0, 0]);
    }

    #[test]
    fn fp16_sign_moves_to_lsb() {
        // -1.0 in fp16 is 0xBC00: rotl1 -> 0x7801.
        let src = 0xBC00u16.to_le_bytes();
        let mut pl = [0u8; 2];
        split(DType::Fp16, 2, &src, &mut pl);
        assert_eq!(pl, [0x78, 0x01]);
    }
}
