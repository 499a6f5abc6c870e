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

use crate::options::DType;

/// Per-plane byte histograms filled by [`split_counting`].
pub type Histogram = [u32; 256];

/// Splits `src` (whole elements of `planes` bytes each, little-endian) into planes in `out`.
/// `out.len()` must equal `src.len()`, which must be a multiple of `planes`.
pub fn split(dtype: DType, planes: usize, src: &[u8], out: &mut [u8]) {
    debug_assert_eq!(src.len(), out.len());
    debug_assert_eq!(src.len() % planes, 0);
    #[cfg(target_arch = "x86_64")]
    {
        if simd::available() && simd::split(dtype, src, out) {
            return;
        }
    }
    split_portable(dtype, planes, src, out)
}

/// [`split`] without SIMD (also what the SIMD paths are tested against).
pub fn split_portable(dtype: DType, planes: usize, src: &[u8], out: &mut [u8]) {
    let n = src.len() / planes;
    match dtype {
        DType::Bf16 => {
            let (p0, p1) = out.split_at_mut(n);
            for ((e, sm), b) in p0.iter_mut().zip(p1.iter_mut()).zip(src.chunks_exact(2)) {
                let v = u16::from_le_bytes([b[0], b[1]]);
                *e = (v >> 7) as u8;
                *sm = ((v >> 8) as u8 & 0x80) | (v as u8 & 0x7F);
            }
        }
        DType::Fp16 => {
            let (p0, p1) = out.split_at_mut(n);
            for ((hi, lo), b) in p0.iter_mut().zip(p1.iter_mut()).zip(src.chunks_exact(2)) {
                let v = u16::from_le_bytes([b[0], b[1]]).rotate_left(1);
                *hi = (v >> 8) as u8;
                *lo = v as u8;
            }
        }
        DType::Fp32 => {
            let (p0, rest) = out.split_at_mut(n);
            let (p1, rest) = rest.split_at_mut(n);
            let (p2, p3) = rest.split_at_mut(n);
            for (i, b) in src.chunks_exact(4).enumerate() {
                let v = u32::from_le_bytes([b[0], b[1], b[2], b[3]]);
                p0[i] = (v >> 23) as u8;
                p1[i] = ((v >> 24) as u8 & 0x80) | ((v >> 16) as u8 & 0x7F);
                p2[i] = (v >> 8) as u8;
                p3[i] = v as u8;
            }
        }
        _ => group(planes, src, out),
    }
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
/// `codec::encode_plane_into`).
///
/// For bf16 and fp16 with AVX2, when plane 0 has a window of 16 values holding nearly
/// all of it (judged from the chunk's first elements), the window is counted
/// inside the split's loop: the split waits on memory, so the compares are nearly free
/// (measured on MiniLM bf16, one thread: the two together 1.4 times faster than the split
/// followed by [`histogram`], and compression 2250 -> 2460 MB/s).
/// Otherwise the split, then [`histogram`] of plane 0.
pub fn split_counting_first(dtype: DType, planes: usize, src: &[u8], out: &mut [u8]) -> Histogram {
    debug_assert_eq!(src.len(), out.len());
    debug_assert_eq!(src.len() % planes, 0);
    let n = src.len() / planes;
    #[cfg(target_arch = "x86_64")]
    {
        let rot = dtype == DType::Fp16;
        if (dtype == DType::Bf16 || rot) && n >= WINDOW_MIN && simd::available() {
            // The sample is the chunk's first elements, which the split reads next anyway:
            // a spread sample would wait on memory (and the TLB) for nothing else. A window
            // that fits the start but not the rest costs speed only: the count is exact.
            let mut h = [0u32; 256];
            for e in src[..2 * FIRST_SAMPLE].chunks_exact(2) {
                h[planes16(u16::from_le_bytes([e[0], e[1]]), rot).0 as usize] += 1;
            }
            if let Some(base) = best_window(&h) {
                // SAFETY: AVX2 is available (checked above); `base <= 256 - WINDOW`.
                return unsafe { simd::split16_counting(rot, src, out, base) };
            }
        }
    }
    split(dtype, planes, src, out);
    histogram(&out[..n])
}

/// Order-0 byte histogram of `src`.
///
/// Exponent planes are peaked: a handful of values make up nearly every byte, and a scalar
/// count then waits on the same few counters (each byte is a load, an add and a store to
/// one of them). Where AVX2 is available and a spread sample of the input finds a window of
/// 16 consecutive values holding nearly all of it, the window's values are counted 32 bytes
/// at a time with vector compares and only the bytes outside it one by one (2.5 to 3 times
/// faster on MiniLM's exponent planes); otherwise, the portable count.
pub fn histogram(src: &[u8]) -> Histogram {
    #[cfg(target_arch = "x86_64")]
    {
        if src.len() >= WINDOW_MIN && simd::available() {
            if let Some(base) = window_base(src) {
                // SAFETY: AVX2 is available (checked above); `base <= 256 - WINDOW`.
                return unsafe { simd::histogram_window(src, base) };
            }
        }
    }
    histogram_portable(src)
}

/// Inputs shorter than this are counted by the portable code.
#[cfg_attr(not(target_arch = "x86_64"), allow(dead_code))]
const WINDOW_MIN: usize = 8 * 1024;
/// Elements sampled by [`split_counting_first`] to choose its window.
#[cfg_attr(not(target_arch = "x86_64"), allow(dead_code))]
const FIRST_SAMPLE: usize = 1024;
/// Width of the vector-counted window of byte values.
#[cfg_attr(not(target_arch = "x86_64"), allow(dead_code))]
const WINDOW: usize = 16;

/// The start of a window of `WINDOW` consecutive byte values that holds at least 31/32 of
/// a sample of `src` (16 blocks of 64 bytes, evenly spaced), if there is one.
#[cfg_attr(not(target_arch = "x86_64"), allow(dead_code))]
fn window_base(src: &[u8]) -> Option<u8> {
    const BLOCKS: usize = 16;
    const BLOCK: usize = 64;
    debug_assert!(src.len() >= BLOCKS * BLOCK);
    let mut h = [0u32; 256];
    let step = (src.len() - BLOCK) / (BLOCKS - 1);
    for k in 0..BLOCKS {
        for &b in &src[k * step..k * step + BLOCK] {
            h[b as usize] += 1;
        }
    }
    best_window(&h)
}

/// The start of a window of `WINDOW` consecutive byte values that holds at least 31/32 of
/// the sample counted in `h`, if there is one.
#[cfg_attr(not(target_arch = "x86_64"), allow(dead_code))]
fn best_window(h: &[u32; 256]) -> Option<u8> {
    let mut sum: u32 = h[..WINDOW].iter().sum();
    let (mut best, mut best_sum) = (0, sum);
    for base in 1..=256 - WINDOW {
        sum = sum + h[base + WINDOW - 1] - h[base - 1];
        if sum > best_sum {
            (best, best_sum) = (base, sum);
        }
    }
    let total: u32 = h.iter().sum();
    (best_sum * 32 >= total * 31).then_some(best as u8)
}

/// [`histogram`] without SIMD (four sub-counters so that runs of one value do not
/// serialise on one counter; also what the SIMD path is tested against).
pub fn histogram_portable(src: &[u8]) -> Histogram {
    let mut h = [[0u32; 256]; 4];
    let mut chunks = src.chunks_exact(8);
    for c in &mut chunks {
        let v = u64::from_le_bytes([c[0], c[1], c[2], c[3], c[4], c[5], c[6], c[7]]);
        h[0][(v & 0xFF) as usize] += 1;
        h[1][((v >> 8) & 0xFF) as usize] += 1;
        h[2][((v >> 16) & 0xFF) as usize] += 1;
        h[3][((v >> 24) & 0xFF) as usize] += 1;
        h[0][((v >> 32) & 0xFF) as usize] += 1;
        h[1][((v >> 40) & 0xFF) as usize] += 1;
        h[2][((v >> 48) & 0xFF) as usize] += 1;
        h[3][(v >> 56) as usize] += 1;
    }
    for &b in chunks.remainder() {
        h[0][b as usize] += 1;
    }
    let mut out = [0u32; 256];
    for t in &h {
        for (o, &c) in out.iter_mut().zip(t.iter()) {
            *o = o.wrapping_add(c);
        }
    }
    out
}

/// The two planes of one bf16 (`rot == false`) or fp16 (`rot == true`) element.
#[cfg_attr(not(target_arch = "x86_64"), allow(dead_code))]
#[inline(always)]
fn planes16(v: u16, rot: bool) -> (u8, u8) {
    if rot {
        let r = v.rotate_left(1);
        ((r >> 8) as u8, r as u8)
    } else {
        ((v >> 7) as u8, ((v >> 8) as u8 & 0x80) | (v as u8 & 0x7F))
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
        if simd::available() && simd::merge(dtype, planes, dst, stream) {
            return;
        }
    }
    let _ = stream;
    merge_portable(dtype, planes, dst)
}

/// [`merge_planes`] without SIMD (also what the SIMD paths are tested against).
pub fn merge_portable(dtype: DType, planes: &[&[u8]], dst: &mut [u8]) {
    match (dtype, planes) {
        (DType::Bf16, &[p0, p1]) => {
            for ((e, sm), b) in p0.iter().zip(p1.iter()).zip(dst.chunks_exact_mut(2)) {
                let v = ((*sm as u16 & 0x80) << 8) | ((*e as u16) << 7) | (*sm as u16 & 0x7F);
                b.copy_from_slice(&v.to_le_bytes());
            }
        }
        (DType::Fp16, &[p0, p1]) => {
            for ((hi, lo), b) in p0.iter().zip(p1.iter()).zip(dst.chunks_exact_mut(2)) {
                let v = (((*hi as u16) << 8) | *lo as u16).rotate_right(1);
                b.copy_from_slice(&v.to_le_bytes());
            }
        }
        (DType::Fp32, &[p0, p1, p2, p3]) => {
            let it = p0.iter().zip(p1).zip(p2.iter().zip(p3));
            for (((e, sm), (m2, m3)), b) in it.zip(dst.chunks_exact_mut(4)) {
                let (e, sm) = (*e as u32, *sm as u32);
                let v = ((sm & 0x80) << 24)
                    | (e << 23)
                    | ((sm & 0x7F) << 16)
                    | ((*m2 as u32) << 8)
                    | *m3 as u32;
                b.copy_from_slice(&v.to_le_bytes());
            }
        }
        _ => ungroup(planes, dst),
    }
}

/// Plain byte grouping: plane k holds byte (planes-1-k) of every element (most significant
/// byte first, as for the float layouts).
fn group(planes: usize, src: &[u8], out: &mut [u8]) {
    if planes == 1 {
        out.copy_from_slice(src);
        return;
    }
    let n = src.len() / planes;
    for (i, e) in src.chunks_exact(planes).enumerate() {
        for (k, byte) in e.iter().rev().enumerate() {
            out[k * n + i] = *byte;
        }
    }
}

fn ungroup(planes: &[&[u8]], dst: &mut [u8]) {
    if let [p] = planes {
        dst.copy_from_slice(p);
        return;
    }
    let np = planes.len();
    for (i, e) in dst.chunks_exact_mut(np).enumerate() {
        for (k, byte) in e.iter_mut().rev().enumerate() {
            *byte = planes[k][i];
        }
    }
}

/// AVX2 versions of the 16- and 32-bit moves, chosen at run time.
#[cfg(target_arch = "x86_64")]
mod simd {
    use crate::options::DType;
    use std::arch::x86_64::*;

    /// Whether the CPU has AVX2 (cached by the standard library).
    #[inline]
    pub fn available() -> bool {
        std::is_x86_feature_detected!("avx2")
    }

    /// The histogram of `src`, counting the values `base .. base + WINDOW` with vector
    /// compares (one 8-bit counter vector per value, folded into the totals every 255
    /// vectors) and every other byte one by one.
    ///
    /// # Safety
    /// The CPU must support AVX2; `base as usize + WINDOW <= 256`.
    #[target_feature(enable = "avx2")]
    pub unsafe fn histogram_window(src: &[u8], base: u8) -> super::Histogram {
        use super::WINDOW;
        debug_assert!(base as usize + WINDOW <= 256);
        let mut out = [0u32; 256];
        let n = src.len();
        let whole = n / 32 * 32;
        let vbase = _mm256_set1_epi8(base as i8);
        let flip = _mm256_set1_epi8(i8::MIN);
        // Outside the window: (v - base) >= WINDOW unsigned, i.e. as a signed compare
        // after flipping the top bit: ((v - base) ^ 0x80) > (WINDOW - 1) ^ 0x80.
        let last = _mm256_set1_epi8((((WINDOW - 1) as u8) ^ 0x80) as i8);
        let mut i = 0;
        while i < whole {
            let end = (i + 32 * 255).min(whole);
            let mut acc = [_mm256_setzero_si256(); WINDOW];
            while i < end {
                // SAFETY: i + 32 <= whole <= n.
                let v = unsafe { _mm256_loadu_si256(src.as_ptr().add(i).cast()) };
                let d = _mm256_sub_epi8(v, vbase);
                for (k, a) in acc.iter_mut().enumerate() {
                    // -1 in every lane equal to k: subtracting counts it.
                    *a = _mm256_sub_epi8(*a, _mm256_cmpeq_epi8(d, _mm256_set1_epi8(k as i8)));
                }
                let outside = _mm256_cmpgt_epi8(_mm256_xor_si256(d, flip), last);
                let mut m = _mm256_movemask_epi8(outside) as u32;
                while m != 0 {
                    out[src[i + m.trailing_zeros() as usize] as usize] += 1;
                    m &= m - 1;
                }
                i += 32;
            }
            for (k, a) in acc.iter().enumerate() {
                // SAFETY: the caller's AVX2.
                out[base as usize + k] += unsafe { fold(*a) };
            }
        }
        for &b in &src[whole..] {
            out[b as usize] += 1;
        }
        out
    }

    /// AVX2 split for bf16, fp16 and fp32; false (nothing written) for other dtypes.
    pub fn split(dtype: DType, src: &[u8], out: &mut [u8]) -> bool {
        if !available() {
            return false;
        }
        match dtype {
            // SAFETY: AVX2 is available (checked above).
            DType::Bf16 | DType::Fp16 => unsafe { split16(dtype == DType::Fp16, src, out) },
            // SAFETY: as above.
            DType::Fp32 => unsafe { split32(src, out) },
            _ => return false,
        }
        true
    }

    /// AVX2 merge for bf16, fp16 and fp32; false (nothing written) for other dtypes.
    /// With `stream`, elements up to the first 32-byte-aligned one are merged by the
    /// portable code and the rest written with non-temporal stores (when the element size
    /// allows alignment at all).
    pub fn merge(dtype: DType, planes: &[&[u8]], dst: &mut [u8], stream: bool) -> bool {
        if !available() {
            return false;
        }
        let es = planes.len();
        let n = dst.len() / es.max(1);
        let mis = dst.as_ptr() as usize % 32;
        let (head, stream) = if stream && mis % es == 0 {
            (((32 - mis) % 32 / es).min(n), true)
        } else {
            (0, false)
        };
        let (d0, d1) = dst.split_at_mut(head * es);
        match (dtype, planes) {
            (DType::Bf16 | DType::Fp16, &[p0, p1]) => {
                let (a, b) = (p0.split_at(head), p1.split_at(head));
                super::merge_portable(dtype, &[a.0, b.0], d0);
                // SAFETY: AVX2 is available (checked above); `d1` starts 32-byte aligned
                // when `stream` is set.
                unsafe { merge16(dtype == DType::Fp16, a.1, b.1, d1, stream) }
            }
            (DType::Fp32, &[p0, p1, p2, p3]) => {
                let [a, b, c, d] = [p0, p1, p2, p3].map(|p| p.split_at(head));
                super::merge_portable(dtype, &[a.0, b.0, c.0, d.0], d0);
                // SAFETY: as above.
                unsafe { merge32([a.1, b.1, c.1, d.1], d1, stream) }
            }
            _ => return false,
        }
        true
    }

    /// How far ahead of a sequential read `prefetch` asks for data: one 4 KiB page. The
    /// hardware prefetchers stop at page boundaries, so every new page of a large input
    /// (read from memory, not cache) started with a miss; measured on this project's VM,
    /// compression (whose split is the first to read the input) ran about 5% faster with
    /// it in the splits. (In the merge and the checksum pass it measured no better.)
    const PREFETCH_AHEAD: usize = 4096;

    /// Hints that the cache line `PREFETCH_AHEAD` bytes past `p` will be read soon. Never
    /// faults, whatever the address.
    #[inline(always)]
    fn prefetch(p: *const u8) {
        // SAFETY: a prefetch is only a hint: it reads nothing architecturally and does not
        // fault on any address (SSE, part of x86_64).
        unsafe { _mm_prefetch::<_MM_HINT_T0>(p.wrapping_add(PREFETCH_AHEAD).cast()) };
    }

    /// Stores 32 bytes at `p`: non-temporal when `stream` (then `p` is 32-byte aligned).
    ///
    /// # Safety
    /// The CPU must support AVX2; `p` must have 32 writable bytes.
    #[inline]
    #[target_feature(enable = "avx2")]
    unsafe fn store(p: *mut u8, v: __m256i, stream: bool) {
        // SAFETY: the caller's contract; aligned when streaming.
        unsafe {
            if stream {
                _mm256_stream_si256(p.cast(), v)
            } else {
                _mm256_storeu_si256(p.cast(), v)
            }
        }
    }

    /// # Safety
    /// The CPU must support AVX2.
    #[target_feature(enable = "avx2")]
    unsafe fn split16(rot: bool, src: &[u8], out: &mut [u8]) {
        // SAFETY: the caller's AVX2; the base is unused without counting.
        unsafe { split16_impl::<false>(rot, src, out, 0) };
    }

    /// [`split16`] that also returns plane 0's histogram, counted while the plane is
    /// still in registers, with the vector window of [`histogram_window`] at `base`.
    /// The split waits on memory (the input is read once, from RAM), so the compares run
    /// in its shadow.
    ///
    /// # Safety
    /// The CPU must support AVX2; `base as usize + WINDOW <= 256`.
    #[target_feature(enable = "avx2")]
    pub unsafe fn split16_counting(
        rot: bool,
        src: &[u8],
        out: &mut [u8],
        base: u8,
    ) -> super::Histogram {
        // SAFETY: the caller's contract.
        unsafe { split16_impl::<true>(rot, src, out, base) }
    }

    /// # Safety
    /// The CPU must support AVX2; with `COUNT`, `base as usize + WINDOW <= 256`.
    #[inline]
    #[target_feature(enable = "avx2")]
    unsafe fn split16_impl<const COUNT: bool>(
        rot: bool,
        src: &[u8],
        out: &mut [u8],
        base: u8,
    ) -> super::Histogram {
        use super::WINDOW;
        debug_assert!(!COUNT || base as usize + WINDOW <= 256);
        let mut hist = [0u32; 256];
        let n = src.len() / 2;
        let (p0, p1) = out.split_at_mut(n);
        let blocks = n / 32;
        let lo8 = _mm256_set1_epi16(0x00FF);
        let m80 = _mm256_set1_epi16(0x0080);
        let m7f = _mm256_set1_epi16(0x007F);
        let vbase = _mm256_set1_epi8(base as i8);
        let flip = _mm256_set1_epi8(i8::MIN);
        // See `histogram_window`: outside the window as a signed compare.
        let last = _mm256_set1_epi8((((WINDOW - 1) as u8) ^ 0x80) as i8);
        let mut i = 0;
        while i < blocks {
            // 8-bit counters: fold them every 255 blocks.
            let end = if COUNT { (i + 255).min(blocks) } else { blocks };
            let mut acc = [_mm256_setzero_si256(); WINDOW];
            while i < end {
                // SAFETY: block i covers src bytes [64i, 64i + 64) and plane bytes
                // [32i, 32i + 32), all in bounds since 32 * blocks <= n.
                unsafe {
                    let s = src.as_ptr().add(64 * i);
                    prefetch(s);
                    let a = _mm256_loadu_si256(s.cast());
                    let b = _mm256_loadu_si256(s.add(32).cast());
                    let (ea, sa, eb, sb) = if rot {
                        // r = rotl(v, 1): hi byte = v >> 7, lo byte = (v << 1) | (v >> 15).
                        let f = |v: __m256i| {
                            let hi = _mm256_and_si256(_mm256_srli_epi16::<7>(v), lo8);
                            let lo = _mm256_and_si256(
                                _mm256_or_si256(
                                    _mm256_slli_epi16::<1>(v),
                                    _mm256_srli_epi16::<15>(v),
                                ),
                                lo8,
                            );
                            (hi, lo)
                        };
                        let (x, y) = f(a);
                        let (z, w) = f(b);
                        (x, y, z, w)
                    } else {
                        let f = |v: __m256i| {
                            let e = _mm256_and_si256(_mm256_srli_epi16::<7>(v), lo8);
                            let sm = _mm256_or_si256(
                                _mm256_and_si256(_mm256_srli_epi16::<8>(v), m80),
                                _mm256_and_si256(v, m7f),
                            );
                            (e, sm)
                        };
                        let (x, y) = f(a);
                        let (z, w) = f(b);
                        (x, y, z, w)
                    };
                    // packus interleaves 128-bit lanes; permute them back into order.
                    let e = _mm256_permute4x64_epi64::<0b11_01_10_00>(_mm256_packus_epi16(ea, eb));
                    let sm = _mm256_permute4x64_epi64::<0b11_01_10_00>(_mm256_packus_epi16(sa, sb));
                    _mm256_storeu_si256(p0.as_mut_ptr().add(32 * i).cast(), e);
                    _mm256_storeu_si256(p1.as_mut_ptr().add(32 * i).cast(), sm);
                    if COUNT {
                        let d = _mm256_sub_epi8(e, vbase);
                        for (k, a) in acc.iter_mut().enumerate() {
                            // -1 in every lane equal to k: subtracting counts it.
                            *a = _mm256_sub_epi8(
                                *a,
                                _mm256_cmpeq_epi8(d, _mm256_set1_epi8(k as i8)),
                            );
                        }
                        let outside = _mm256_cmpgt_epi8(_mm256_xor_si256(d, flip), last);
                        let mut m = _mm256_movemask_epi8(outside) as u32;
                        while m != 0 {
                            hist[p0[32 * i + m.trailing_zeros() as usize] as usize] += 1;
                            m &= m - 1;
                        }
                    }
                }
                i += 1;
            }
            if COUNT {
                for (k, a) in acc.iter().enumerate() {
                    // SAFETY: the caller's AVX2.
                    hist[base as usize + k] += unsafe { fold(*a) };
                }
            }
        }
        let done = 32 * blocks;
        for i in done..n {
            let v = u16::from_le_bytes([src[2 * i], src[2 * i + 1]]);
            (p0[i], p1[i]) = super::planes16(v, rot);
            if COUNT {
                hist[p0[i] as usize] += 1;
            }
        }
        hist
    }

    /// The sum of the 32 8-bit counters in `a`.
    ///
    /// # Safety
    /// The CPU must support AVX2.
    #[inline]
    #[target_feature(enable = "avx2")]
    unsafe fn fold(a: __m256i) -> u32 {
        // Sums of the 8-bit counters, 64 bits per 128-bit quarter.
        let s = _mm256_sad_epu8(a, _mm256_setzero_si256());
        let mut t = [0u64; 4];
        // SAFETY: `t` has 32 writable bytes.
        unsafe { _mm256_storeu_si256(t.as_mut_ptr().cast(), s) };
        (t[0] + t[1] + t[2] + t[3]) as u32
    }

    /// # Safety
    /// The CPU must support AVX2.
    #[target_feature(enable = "avx2")]
    unsafe fn merge16(rot: bool, p0: &[u8], p1: &[u8], dst: &mut [u8], stream: bool) {
        let n = dst.len() / 2;
        let blocks = n / 16;
        let m80 = _mm256_set1_epi16(0x0080);
        let m7f = _mm256_set1_epi16(0x007F);
        for i in 0..blocks {
            // SAFETY: block i reads plane bytes [16i, 16i + 16) and writes dst bytes
            // [32i, 32i + 32), in bounds since 16 * blocks <= n.
            unsafe {
                let a = _mm256_cvtepu8_epi16(_mm_loadu_si128(p0.as_ptr().add(16 * i).cast()));
                let b = _mm256_cvtepu8_epi16(_mm_loadu_si128(p1.as_ptr().add(16 * i).cast()));
                let v = if rot {
                    // v = rotr((hi << 8) | lo, 1)
                    let r = _mm256_or_si256(_mm256_slli_epi16::<8>(a), b);
                    _mm256_or_si256(_mm256_srli_epi16::<1>(r), _mm256_slli_epi16::<15>(r))
                } else {
                    _mm256_or_si256(
                        _mm256_or_si256(
                            _mm256_slli_epi16::<8>(_mm256_and_si256(b, m80)),
                            _mm256_slli_epi16::<7>(a),
                        ),
                        _mm256_and_si256(b, m7f),
                    )
                };
                store(dst.as_mut_ptr().add(32 * i), v, stream);
            }
        }
        if stream {
            // Order the non-temporal stores before anything that follows.
            _mm_sfence();
        }
        for i in 16 * blocks..n {
            let (hi, lo) = (p0[i] as u16, p1[i] as u16);
            let v = if rot {
                ((hi << 8) | lo).rotate_right(1)
            } else {
                ((lo & 0x80) << 8) | (hi << 7) | (lo & 0x7F)
            };
            dst[2 * i..2 * i + 2].copy_from_slice(&v.to_le_bytes());
        }
    }

    /// # Safety
    /// The CPU must support AVX2.
    #[target_feature(enable = "avx2")]
    unsafe fn split32(src: &[u8], out: &mut [u8]) {
        // The bit move, then a byte shuffle that gathers byte k of each element.
        let n = src.len() / 4;
        let blocks = n / 8;
        let mexp = _mm256_set1_epi32(0x7F80_0000);
        let msgn = _mm256_set1_epi32(0x8000_0000u32 as i32);
        let mman = _mm256_set1_epi32(0x007F_0000);
        let low = _mm256_set1_epi32(0x0000_FFFF);
        // Within each 128-bit lane: bytes 3 of the four elements, then bytes 2, 1, 0.
        let shuf = _mm256_setr_epi8(
            3, 7, 11, 15, 2, 6, 10, 14, 1, 5, 9, 13, 0, 4, 8, 12, 3, 7, 11, 15, 2, 6, 10, 14, 1, 5,
            9, 13, 0, 4, 8, 12,
        );
        let perm = _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7);
        for i in 0..blocks {
            // SAFETY: block i reads src bytes [32i, 32i + 32) and writes 8 bytes at 8i of
            // each plane; all in bounds since 8 * blocks <= n.
            unsafe {
                if i % 2 == 0 {
                    prefetch(src.as_ptr().add(32 * i));
                }
                let v = _mm256_loadu_si256(src.as_ptr().add(32 * i).cast());
                // w = e8 << 24 | (s m7) << 16 | low 16 bits.
                let w = _mm256_or_si256(
                    _mm256_or_si256(
                        _mm256_slli_epi32::<1>(_mm256_and_si256(v, mexp)),
                        _mm256_and_si256(v, _mm256_or_si256(mman, low)),
                    ),
                    _mm256_srli_epi32::<8>(_mm256_and_si256(v, msgn)),
                );
                let g = _mm256_permutevar8x32_epi32(_mm256_shuffle_epi8(w, shuf), perm);
                let mut t = [0u64; 4];
                _mm256_storeu_si256(t.as_mut_ptr().cast(), g);
                for (k, &x) in t.iter().enumerate() {
                    out.as_mut_ptr()
                        .add(k * n + 8 * i)
                        .cast::<u64>()
                        .write_unaligned(x);
                }
            }
        }
        for i in 8 * blocks..n {
            let b = &src[4 * i..4 * i + 4];
            let v = u32::from_le_bytes([b[0], b[1], b[2], b[3]]);
            out[i] = (v >> 23) as u8;
            out[n + i] = ((v >> 24) as u8 & 0x80) | ((v >> 16) as u8 & 0x7F);
            out[2 * n + i] = (v >> 8) as u8;
            out[3 * n + i] = v as u8;
        }
    }

    /// # Safety
    /// The CPU must support AVX2.
    #[target_feature(enable = "avx2")]
    unsafe fn merge32(p: [&[u8]; 4], dst: &mut [u8], stream: bool) {
        let n = dst.len() / 4;
        let blocks = n / 8;
        let m80 = _mm256_set1_epi32(0x8000_0000u32 as i32);
        let m7f = _mm256_set1_epi32(0x007F_0000);
        let low = _mm256_set1_epi32(0x0000_FFFF);
        // Inverse of split32's gather: element j's bytes 3, 2, 1, 0 come from planes 0..3.
        let perm = _mm256_setr_epi32(0, 2, 4, 6, 1, 3, 5, 7);
        let shuf = _mm256_setr_epi8(
            12, 8, 4, 0, 13, 9, 5, 1, 14, 10, 6, 2, 15, 11, 7, 3, 12, 8, 4, 0, 13, 9, 5, 1, 14, 10,
            6, 2, 15, 11, 7, 3,
        );
        for i in 0..blocks {
            // SAFETY: block i reads 8 bytes at 8i of each plane and writes dst bytes
            // [32i, 32i + 32); in bounds since 8 * blocks <= n.
            unsafe {
                let t =
                    [0, 1, 2, 3].map(|k| p[k].as_ptr().add(8 * i).cast::<u64>().read_unaligned());
                let g = _mm256_loadu_si256(t.as_ptr().cast());
                let w = _mm256_shuffle_epi8(_mm256_permutevar8x32_epi32(g, perm), shuf);
                // w = e8 << 24 | (s m7) << 16 | low 16 bits; undo the bit move.
                let v = _mm256_or_si256(
                    _mm256_or_si256(
                        _mm256_and_si256(_mm256_slli_epi32::<8>(w), m80),
                        _mm256_and_si256(_mm256_srli_epi32::<1>(w), _mm256_set1_epi32(0x7F80_0000)),
                    ),
                    _mm256_and_si256(w, _mm256_or_si256(m7f, low)),
                );
                store(dst.as_mut_ptr().add(32 * i), v, stream);
            }
        }
        if stream {
            // Order the non-temporal stores before anything that follows.
            _mm_sfence();
        }
        for i in 8 * blocks..n {
            let (e, sm) = (p[0][i] as u32, p[1][i] as u32);
            let v = ((sm & 0x80) << 24)
                | (e << 23)
                | ((sm & 0x7F) << 16)
                | ((p[2][i] as u32) << 8)
                | p[3][i] as u32;
            dst[4 * i..4 * i + 4].copy_from_slice(&v.to_le_bytes());
        }
    }
}

/// A small deterministic generator for this crate's unit tests.
#[cfg(test)]
pub(crate) fn lcg(seed: &mut u64) -> u64 {
    *seed = seed
        .wrapping_mul(6364136223846793005)
        .wrapping_add(1442695040888963407);
    *seed >> 11
}

#[cfg(test)]
mod tests {
    use super::*;

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
                    let src: Vec<u8> = (0..n * planes).map(|_| lcg(&mut seed) as u8).collect();
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
        for dtype in [
            DType::Bf16,
            DType::Fp16,
            DType::Fp32,
            DType::Fp64,
            DType::Raw,
        ] {
            let planes = if dtype == DType::Raw {
                4
            } else {
                dtype.element_size()
            };
            for n in [0usize, 1, 7, 15, 16, 17, 31, 32, 33, 63, 64, 65, 200, 1031] {
                let src: Vec<u8> = (0..n * planes).map(|_| lcg(&mut seed) as u8).collect();
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
    fn histogram_paths_agree() {
        // Peaked data (the windowed vector count), with bytes outside the window, windows
        // at both ends of the byte range, lengths around the vector width and past the
        // 255-vector fold of the 8-bit counters; and spread data (the portable count).
        let mut seed = 5;
        let sizes: &[usize] = if cfg!(miri) {
            // scripts/miri.sh: the vector loop, its tail and one fold of the counters.
            &[0, 31, 8 * 1024 + 31]
        } else {
            &[
                0,
                1,
                31,
                8 * 1024,
                8 * 1024 + 31,
                32 * 255 + 7,
                70_001,
                131_072,
            ]
        };
        for &n in sizes {
            for (lo, rare) in [(0u8, 64u64), (120, 64), (240, 64), (100, 4), (0, 1)] {
                let src: Vec<u8> = (0..n)
                    .map(|_| {
                        let r = lcg(&mut seed);
                        if r % rare == 0 {
                            (r >> 8) as u8
                        } else {
                            lo.wrapping_add((r >> 8) as u8 % 16)
                        }
                    })
                    .collect();
                let mut h = [0u32; 256];
                for &b in &src {
                    h[b as usize] += 1;
                }
                assert_eq!(histogram(&src), h, "n={n} lo={lo} rare={rare}");
                assert_eq!(histogram_portable(&src), h);
                #[cfg(target_arch = "x86_64")]
                {
                    if simd::available() && n > 0 {
                        for base in [0u8, lo.min(240), 240] {
                            // SAFETY: AVX2 checked; base + 16 <= 256.
                            assert_eq!(unsafe { simd::histogram_window(&src, base) }, h);
                        }
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
                            let r = lcg(&mut seed);
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
                            let mut b = lcg(&mut seed).to_le_bytes()[..es].to_vec();
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
