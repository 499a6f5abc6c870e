//! AVX2 versions of the 16- and 32-bit moves, chosen at run time.

use super::layout::Pairs;
use crate::codec::histogram::avx2::{fold, Window, GROUP};
use crate::codec::histogram::WINDOW;
use crate::codec::Histogram;
use crate::options::DType;
use std::arch::x86_64::*;

/// Whether the CPU has AVX2 (cached by the standard library).
#[inline]
pub fn available() -> bool {
    std::is_x86_feature_detected!("avx2")
}

/// The 16-bit moves: bf16's and fp16's layouts, and plain grouping.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Move16 {
    /// `e8 | s m7`.
    Bf16,
    /// `e5 m3 | m7 s` (rotate left by one).
    Fp16,
    /// The high byte, the low byte.
    Plain,
}

impl Move16 {
    /// The move for `dtype` with `planes` planes, if it is a 16-bit one.
    pub fn of(dtype: DType, planes: usize) -> Option<Move16> {
        match (dtype, planes) {
            (DType::Bf16, _) => Some(Move16::Bf16),
            (DType::Fp16, _) => Some(Move16::Fp16),
            (DType::Raw, 2) => Some(Move16::Plain),
            _ => None,
        }
    }
}

/// AVX2 split for bf16, fp16, fp32 and raw data in 2 or 4 planes; false (nothing written)
/// for other dtypes.
pub fn split(dtype: DType, planes: usize, src: &[u8], out: &mut [u8]) -> bool {
    if !available() {
        return false;
    }
    if let Some(mode) = Move16::of(dtype, planes) {
        // SAFETY: AVX2 is available (checked above).
        unsafe { split16(mode, src, out) };
        return true;
    }
    match (dtype, planes) {
        // SAFETY: as above.
        (DType::Fp32, _) => unsafe { split32(false, src, out) },
        // SAFETY: as above.
        (DType::Raw, 4) => unsafe { split32(true, src, out) },
        _ => return false,
    }
    true
}

/// AVX2 merge for bf16, fp16, fp32 and raw data in 2 or 4 planes; false (nothing written)
/// for other dtypes.
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
        (DType::Bf16 | DType::Fp16 | DType::Raw, &[p0, p1]) => {
            let (a, b) = (p0.split_at(head), p1.split_at(head));
            super::merge_portable(dtype, &[a.0, b.0], d0);
            let mode = Move16::of(dtype, 2).unwrap_or(Move16::Plain);
            // SAFETY: AVX2 is available (checked above); `d1` starts 32-byte aligned
            // when `stream` is set.
            unsafe { merge16(mode, a.1, b.1, d1, stream) }
        }
        (DType::Fp32 | DType::Raw, &[p0, p1, p2, p3]) => {
            let [a, b, c, d] = [p0, p1, p2, p3].map(|p| p.split_at(head));
            super::merge_portable(dtype, &[a.0, b.0, c.0, d.0], d0);
            // SAFETY: as above.
            unsafe { merge32(dtype == DType::Raw, [a.1, b.1, c.1, d.1], d1, stream) }
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
unsafe fn split16(mode: Move16, src: &[u8], out: &mut [u8]) {
    // SAFETY: the caller's AVX2; the base is unused without counting.
    unsafe {
        match mode {
            Move16::Bf16 => split16_impl::<false, BF16>(mode, src, out, 0),
            Move16::Fp16 => split16_impl::<false, FP16>(mode, src, out, 0),
            Move16::Plain => split16_impl::<false, PLAIN>(mode, src, out, 0),
        }
    };
}

/// [`Move16`] as a constant parameter of `split16_impl`, so that its loop has no branch
/// on the move.
const BF16: u8 = 0;
const FP16: u8 = 1;
const PLAIN: u8 = 2;

/// [`split16`] that also returns plane 0's histogram, with the vector window of
/// [`histogram_window`] at `base`: in groups of [`GROUP`] blocks, the split of a group,
/// then the count ([`Window`]) of the 480 plane-0 bytes it has just written, from L1. The
/// split waits on memory (the input is read once, from RAM), so the count runs in its
/// shadow.
///
/// (The count was in the split's loop itself, with sixteen 8-bit compare accumulators:
/// more than AVX2's sixteen registers with the split's, so it spilled every block.)
/// Measured on MiniLM bf16 (Zen 3, one core): one default compression (callgrind of
/// `zipnn bench -q -T 1 -n 1 -t bf16`) ran 72.4M instructions in this function before,
/// 48.0M now; `zipnn bench -q -T 1 -n 7 --clock cpu -t bf16` (`taskset -c 0`, medians of
/// five runs interleaved with the old build): compression 2662 -> 3043 MB/s, with `-l fast`
/// 3082 -> 3547 MB/s.
///
/// # Safety
/// The CPU must support AVX2; `base as usize + WINDOW <= 256`.
#[target_feature(enable = "avx2")]
pub unsafe fn split16_counting(mode: Move16, src: &[u8], out: &mut [u8], base: u8) -> Histogram {
    if wide_registers() {
        // SAFETY: the caller's AVX2; AVX-512 F, BW and VL checked just above.
        return unsafe { split16_counting_wide(mode, src, out, base) };
    }
    // SAFETY: the caller's contract.
    unsafe {
        match mode {
            Move16::Bf16 => split16_impl::<true, BF16>(mode, src, out, base),
            Move16::Fp16 => split16_impl::<true, FP16>(mode, src, out, base),
            Move16::Plain => split16_impl::<true, PLAIN>(mode, src, out, base),
        }
    }
}

/// Whether the CPU has the AVX-512 extensions (F, BW, VL) that give the AVX2 code of
/// [`split16_counting`] thirty-two vector registers instead of sixteen (cached by the
/// standard library).
#[inline]
fn wide_registers() -> bool {
    std::is_x86_feature_detected!("avx512f")
        && std::is_x86_feature_detected!("avx512bw")
        && std::is_x86_feature_detected!("avx512vl")
}

/// [`split16_counting`] compiled for AVX-512 (the same 256-bit code, with thirty-two
/// registers). It was added when the count ran inside the split's loop and spilled with
/// AVX2's sixteen; the split and the count of each group now fit in sixteen (measured
/// with AVX2 on Zen 3, MiniLM bf16, one default compression: 72.4M instructions in the
/// split before, 48.0M now, see there). What the thirty-two registers still gain has not
/// been measured.
///
/// # Safety
/// The CPU must support AVX2 and AVX-512 F, BW and VL; `base as usize + WINDOW <= 256`.
#[target_feature(enable = "avx2,avx512f,avx512bw,avx512vl")]
unsafe fn split16_counting_wide(mode: Move16, src: &[u8], out: &mut [u8], base: u8) -> Histogram {
    // SAFETY: the caller's contract.
    unsafe {
        match mode {
            Move16::Bf16 => split16_impl::<true, BF16>(mode, src, out, base),
            Move16::Fp16 => split16_impl::<true, FP16>(mode, src, out, base),
            Move16::Plain => split16_impl::<true, PLAIN>(mode, src, out, base),
        }
    }
}

/// # Safety
/// The CPU must support AVX2; with `COUNT`, `base as usize + WINDOW <= 256`; `MODE` is
/// `mode`'s constant. Always inlined, and only into functions that enable AVX2 (and, for
/// [`split16_counting_wide`], AVX-512), whose registers its loop then gets.
#[inline(always)]
unsafe fn split16_impl<const COUNT: bool, const MODE: u8>(
    mode: Move16,
    src: &[u8],
    out: &mut [u8],
    base: u8,
) -> Histogram {
    debug_assert!(!COUNT || base as usize + WINDOW <= 256);
    let mut hist = [0u32; 256];
    let n = src.len() / 2;
    let (p0, p1) = out.split_at_mut(n);
    let blocks = n / 32;
    let lo8 = _mm256_set1_epi16(0x00FF);
    let m80 = _mm256_set1_epi16(0x0080);
    let m7f = _mm256_set1_epi16(0x007F);
    // SAFETY: the caller's AVX2 and window (unused without counting).
    let mut window = unsafe { Window::new(if COUNT { base } else { 0 }) };
    // With counting, groups of blocks: the split of a group, then the count of the plane-0
    // bytes it has just written, from L1 (see `split16_counting`).
    let group = if COUNT { GROUP } else { blocks };
    let mut i = 0;
    while i < blocks {
        let start = i;
        let end = (i + group).min(blocks);
        while i < end {
            // SAFETY: block i covers src bytes [64i, 64i + 64) and plane bytes
            // [32i, 32i + 32), all in bounds since 32 * blocks <= n.
            unsafe {
                let s = src.as_ptr().add(64 * i);
                prefetch(s);
                let a = _mm256_loadu_si256(s.cast());
                let b = _mm256_loadu_si256(s.add(32).cast());
                let (ea, sa, eb, sb) = if MODE == PLAIN {
                    let f = |v: __m256i| (_mm256_srli_epi16::<8>(v), _mm256_and_si256(v, lo8));
                    let (x, y) = f(a);
                    let (z, w) = f(b);
                    (x, y, z, w)
                } else if MODE == FP16 {
                    // r = rotl(v, 1): hi byte = v >> 7, lo byte = (v << 1) | (v >> 15).
                    let f = |v: __m256i| {
                        let hi = _mm256_and_si256(_mm256_srli_epi16::<7>(v), lo8);
                        let lo = _mm256_and_si256(
                            _mm256_or_si256(_mm256_slli_epi16::<1>(v), _mm256_srli_epi16::<15>(v)),
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
            }
            i += 1;
        }
        if COUNT {
            // SAFETY: the caller's AVX2; blocks start..end are at most `GROUP` vectors.
            unsafe { window.count(&p0[32 * start..32 * end], &mut hist) };
        }
    }
    if COUNT {
        window.finish(&mut hist);
    }
    let done = 32 * blocks;
    for i in done..n {
        let v = u16::from_le_bytes([src[2 * i], src[2 * i + 1]]);
        (p0[i], p1[i]) = super::planes16(v, mode);
        if COUNT {
            hist[p0[i] as usize] += 1;
        }
    }
    hist
}

/// Over the elements whose sign is set (bit 7 of `sm`, or bit 0 with `low_sign`), the
/// histogram of `e >> 1`: the pairs `pair .. pair + 8` counted with vector compares, the
/// others one by one (as `histogram_window` counts bytes).
///
/// # Safety
/// The CPU must support AVX2; `pair as usize + 8 <= 128`; `sm.len() == e.len()`.
#[target_feature(enable = "avx2")]
pub unsafe fn count_negative_pairs(e: &[u8], sm: &[u8], low_sign: bool, pair: u8) -> Pairs {
    const PAIRS: usize = WINDOW / 2;
    debug_assert!(pair as usize + PAIRS <= 128);
    assert_eq!(e.len(), sm.len());
    let mut out = [0u32; 128];
    let n = e.len();
    let whole = n / 32 * 32;
    let vbase = _mm256_set1_epi8(pair as i8);
    let flip = _mm256_set1_epi8(i8::MIN);
    let last = _mm256_set1_epi8((((PAIRS - 1) as u8) ^ 0x80) as i8);
    let one8 = _mm256_set1_epi8(1);
    let low7 = _mm256_set1_epi8(0x7F);
    let mut i = 0;
    while i < whole {
        let end = (i + 32 * 255).min(whole);
        let mut acc = [_mm256_setzero_si256(); PAIRS];
        while i < end {
            // SAFETY: i + 32 <= whole <= n for both slices.
            let (v, s) = unsafe {
                (
                    _mm256_loadu_si256(e.as_ptr().add(i).cast()),
                    _mm256_loadu_si256(sm.as_ptr().add(i).cast()),
                )
            };
            let neg = if low_sign {
                _mm256_cmpeq_epi8(_mm256_and_si256(s, one8), one8)
            } else {
                _mm256_cmpgt_epi8(_mm256_setzero_si256(), s)
            };
            // The pair index, from 0: (e >> 1) - pair, within each byte.
            let d = _mm256_sub_epi8(_mm256_and_si256(_mm256_srli_epi16::<1>(v), low7), vbase);
            // Positive lanes get bit 7 set, so that they match no k < PAIRS.
            let dn = _mm256_or_si256(d, _mm256_andnot_si256(neg, flip));
            for (k, a) in acc.iter_mut().enumerate() {
                *a = _mm256_sub_epi8(*a, _mm256_cmpeq_epi8(dn, _mm256_set1_epi8(k as i8)));
            }
            let outside = _mm256_and_si256(_mm256_cmpgt_epi8(_mm256_xor_si256(d, flip), last), neg);
            let mut m = _mm256_movemask_epi8(outside) as u32;
            while m != 0 {
                out[(e[i + m.trailing_zeros() as usize] >> 1) as usize] += 1;
                m &= m - 1;
            }
            i += 32;
        }
        for (k, a) in acc.iter().enumerate() {
            // SAFETY: the caller's AVX2.
            out[pair as usize + k] += unsafe { fold(*a) };
        }
    }
    for j in whole..n {
        let negative = if low_sign { sm[j] & 1 } else { sm[j] >> 7 };
        out[(e[j] >> 1) as usize] += negative as u32;
    }
    out
}

/// # Safety
/// The CPU must support AVX2.
#[target_feature(enable = "avx2")]
unsafe fn merge16(mode: Move16, p0: &[u8], p1: &[u8], dst: &mut [u8], stream: bool) {
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
            let v = if mode == Move16::Plain {
                _mm256_or_si256(_mm256_slli_epi16::<8>(a), b)
            } else if mode == Move16::Fp16 {
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
        let v = if mode == Move16::Plain {
            (hi << 8) | lo
        } else if mode == Move16::Fp16 {
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
unsafe fn split32(plain: bool, src: &[u8], out: &mut [u8]) {
    // The bit move, then a byte shuffle that gathers byte k of each element.
    let n = src.len() / 4;
    let blocks = n / 8;
    let mexp = _mm256_set1_epi32(0x7F80_0000);
    let msgn = _mm256_set1_epi32(0x8000_0000u32 as i32);
    let mman = _mm256_set1_epi32(0x007F_0000);
    let low = _mm256_set1_epi32(0x0000_FFFF);
    // Within each 128-bit lane: bytes 3 of the four elements, then bytes 2, 1, 0.
    let shuf = _mm256_setr_epi8(
        3, 7, 11, 15, 2, 6, 10, 14, 1, 5, 9, 13, 0, 4, 8, 12, 3, 7, 11, 15, 2, 6, 10, 14, 1, 5, 9,
        13, 0, 4, 8, 12,
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
            // w = e8 << 24 | (s m7) << 16 | low 16 bits (or v itself for plain grouping).
            let w = if plain {
                v
            } else {
                _mm256_or_si256(
                    _mm256_or_si256(
                        _mm256_slli_epi32::<1>(_mm256_and_si256(v, mexp)),
                        _mm256_and_si256(v, _mm256_or_si256(mman, low)),
                    ),
                    _mm256_srli_epi32::<8>(_mm256_and_si256(v, msgn)),
                )
            };
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
        if plain {
            for k in 0..4 {
                out[k * n + i] = b[3 - k];
            }
            continue;
        }
        out[i] = (v >> 23) as u8;
        out[n + i] = ((v >> 24) as u8 & 0x80) | ((v >> 16) as u8 & 0x7F);
        out[2 * n + i] = (v >> 8) as u8;
        out[3 * n + i] = v as u8;
    }
}

/// # Safety
/// The CPU must support AVX2.
#[target_feature(enable = "avx2")]
unsafe fn merge32(plain: bool, p: [&[u8]; 4], dst: &mut [u8], stream: bool) {
    // 32 elements a block: 32 bytes of each plane, the bit move undone on the first two
    // planes' bytes, then a byte transpose by unpacks (within 128-bit lanes) and lane
    // permutes. (Gathering 8 bytes of each plane through memory into one vector, 8
    // elements a block, stalled on the store forwarding: MiniLM fp32's merge ran at about
    // 15 GB/s against bf16's 20.)
    let n = dst.len() / 4;
    let blocks = n / 32;
    let m80 = _mm256_set1_epi8(0x80u8 as i8);
    let m7f = _mm256_set1_epi8(0x7F);
    for i in 0..blocks {
        // SAFETY: block i reads plane bytes [32i, 32i + 32) and writes dst bytes
        // [128i, 128i + 128); in bounds since 32 * blocks <= n.
        unsafe {
            let [a, b, c, d] = p.map(|q| _mm256_loadu_si256(q.as_ptr().add(32 * i).cast()));
            // Element bytes 3, 2 (high first): `e8`, `s m7`; stored: `s e7..e1`, `e0 m7`.
            let (hi, lo) = if plain {
                (a, b)
            } else {
                (
                    _mm256_or_si256(
                        _mm256_and_si256(b, m80),
                        _mm256_and_si256(_mm256_srli_epi16::<1>(a), m7f),
                    ),
                    _mm256_or_si256(
                        _mm256_and_si256(_mm256_slli_epi16::<7>(a), m80),
                        _mm256_and_si256(b, m7f),
                    ),
                )
            };
            // Bytes 0, 1 and 2, 3 of each element side by side, then whole elements:
            // w0 holds elements 0..4 (lane 0) and 16..20 (lane 1), w1 4..8 and 20..24,
            // w2 8..12 and 24..28, w3 12..16 and 28..32.
            let (dc_lo, dc_hi) = (_mm256_unpacklo_epi8(d, c), _mm256_unpackhi_epi8(d, c));
            let (hl_lo, hl_hi) = (_mm256_unpacklo_epi8(lo, hi), _mm256_unpackhi_epi8(lo, hi));
            let w0 = _mm256_unpacklo_epi16(dc_lo, hl_lo);
            let w1 = _mm256_unpackhi_epi16(dc_lo, hl_lo);
            let w2 = _mm256_unpacklo_epi16(dc_hi, hl_hi);
            let w3 = _mm256_unpackhi_epi16(dc_hi, hl_hi);
            let o = dst.as_mut_ptr().add(128 * i);
            store(o, _mm256_permute2x128_si256::<0x20>(w0, w1), stream);
            store(o.add(32), _mm256_permute2x128_si256::<0x20>(w2, w3), stream);
            store(o.add(64), _mm256_permute2x128_si256::<0x31>(w0, w1), stream);
            store(o.add(96), _mm256_permute2x128_si256::<0x31>(w2, w3), stream);
        }
    }
    if stream {
        // Order the non-temporal stores before anything that follows.
        _mm_sfence();
    }
    for i in 32 * blocks..n {
        if plain {
            for k in 0..4 {
                dst[4 * i + 3 - k] = p[k][i];
            }
            continue;
        }
        let (e, sm) = (p[0][i] as u32, p[1][i] as u32);
        let v = ((sm & 0x80) << 24)
            | (e << 23)
            | ((sm & 0x7F) << 16)
            | ((p[2][i] as u32) << 8)
            | p[3][i] as u32;
        dst[4 * i..4 * i + 4].copy_from_slice(&v.to_le_bytes());
    }
}
