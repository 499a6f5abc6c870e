//! x86-64 fast paths of the decoder: the states in vectors of eight (AVX2) or sixteen
//! (AVX-512) lanes, `V` independent vectors per group of `8 * V` or `16 * V` symbols.
//!
//! A group decodes its vectors in state order. Each vector looks its lanes' slots up with one
//! gather, computes the next states, and lanes whose state fell below `L` take the next words
//! of the shared stream in lane order (a prefix count of the lanes that need one). The
//! vectors of a group depend on each other only through the stream position, so their
//! gathers overlap.

use super::{L, MAX_SCALE};
use std::arch::x86_64::*;

/// Decodes whole groups of `8 * V` symbols with AVX2 while `16 * V` stream bytes (the most a
/// group can take) remain; returns (symbols decoded, stream bytes consumed) and leaves the
/// states in `x` (`8 * V` of them).
///
/// # Safety
/// The CPU must support AVX2 and POPCNT; `x.len() == 8 * V`.
#[target_feature(enable = "avx2,popcnt")]
pub(super) unsafe fn run_avx2<const V: usize>(
    tab: &[u32; 1 << MAX_SCALE],
    scale: u32,
    stream: &[u8],
    dst: &mut [u8],
    x: &mut [u32],
) -> (usize, usize) {
    debug_assert_eq!(x.len(), 8 * V);
    let n = dst.len();
    let mut pos = 0usize;
    let mut i = 0usize;
    // SAFETY (all loads and stores below): `x` has 8V u32; the gathers index `tab` with
    // `state & (2^scale - 1)` < 4096 = tab.len(); each group writes dst[i..i + 8V] with
    // i + 8V <= n, and vector v reads 16 stream bytes at a position within
    // [pos, pos + 16v], below pos + 16V <= stream.len().
    let mut xs = [_mm256_setzero_si256(); V];
    for (v, xv) in xs.iter_mut().enumerate() {
        *xv = _mm256_loadu_si256(x.as_ptr().add(8 * v).cast());
    }
    let mask = _mm256_set1_epi32(((1u32 << scale) - 1) as i32);
    let f_mask = _mm256_set1_epi32(0xFFF);
    let sh = _mm_cvtsi32_si128(scale as i32);
    let zero = _mm256_setzero_si256();
    // Byte 0 of each 32-bit lane to bytes 0..3 of its 128-bit half.
    let pick = _mm256_setr_epi8(
        0, 4, 8, 12, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, 0, 4, 8, 12, -1, -1, -1, -1,
        -1, -1, -1, -1, -1, -1, -1, -1,
    );
    let gather_lo = _mm256_setr_epi32(0, 4, 1, 1, 1, 1, 1, 1);
    let base = tab.as_ptr() as *const i32;
    let src = stream.as_ptr();
    let out = dst.as_mut_ptr();
    while i + 8 * V <= n && pos + 16 * V <= stream.len() {
        for (v, xv) in xs.iter_mut().enumerate() {
            let x = *xv;
            let e = _mm256_i32gather_epi32::<4>(base, _mm256_and_si256(x, mask));
            let f = _mm256_and_si256(e, f_mask);
            let bias = _mm256_srli_epi32::<20>(e);
            let y = _mm256_add_epi32(_mm256_mullo_epi32(f, _mm256_srl_epi32(x, sh)), bias);
            // Symbols: bits 12..20 of each lane, stored as 8 bytes.
            let sy = _mm256_permutevar8x32_epi32(
                _mm256_shuffle_epi8(_mm256_srli_epi32::<12>(e), pick),
                gather_lo,
            );
            _mm_storel_epi64(out.add(i + 8 * v).cast(), _mm256_castsi256_si128(sy));
            // Renormalise: lanes with y < 2^16 take the next words in lane order.
            let need = _mm256_cmpeq_epi32(_mm256_srli_epi32::<16>(y), zero);
            let m = _mm256_movemask_ps(_mm256_castsi256_ps(need)) as u32;
            let w = _mm256_cvtepu16_epi32(_mm_loadu_si128(src.add(pos).cast()));
            // Exclusive prefix count of the taking lanes (need is -1 or 0 per lane).
            let c1 = _mm256_add_epi32(need, _mm256_slli_si256::<4>(need));
            let c2 = _mm256_add_epi32(c1, _mm256_slli_si256::<8>(c1));
            let lo3 = _mm256_shuffle_epi32::<0xFF>(c2);
            let carry = _mm256_permute2x128_si256::<0x08>(lo3, lo3);
            let idx = _mm256_sub_epi32(need, _mm256_add_epi32(c2, carry));
            let wv = _mm256_permutevar8x32_epi32(w, idx);
            let taken = _mm256_or_si256(_mm256_slli_epi32::<16>(y), wv);
            *xv = _mm256_blendv_epi8(y, taken, need);
            pos += 2 * m.count_ones() as usize;
        }
        i += 8 * V;
    }
    for (v, xv) in xs.iter().enumerate() {
        _mm256_storeu_si256(x.as_mut_ptr().add(8 * v).cast(), *xv);
    }
    (i, pos)
}

/// [`run_avx2`] with AVX-512: vectors of sixteen states, `x.len() == 16 * V`. The words go
/// to the taking lanes with one expand; the symbols are narrowed with one `vpmovdb`.
///
/// # Safety
/// The CPU must support AVX-512 F and POPCNT; `x.len() == 16 * V`.
#[target_feature(enable = "avx512f,popcnt")]
pub(super) unsafe fn run_avx512<const V: usize>(
    tab: &[u32; 1 << MAX_SCALE],
    scale: u32,
    stream: &[u8],
    dst: &mut [u8],
    x: &mut [u32],
) -> (usize, usize) {
    debug_assert_eq!(x.len(), 16 * V);
    let n = dst.len();
    let mut pos = 0usize;
    let mut i = 0usize;
    // SAFETY (all loads and stores below): `x` has 16V u32; the gathers index `tab` with
    // `state & (2^scale - 1)` < 4096 = tab.len(); each group writes dst[i..i + 16V] with
    // i + 16V <= n, and vector v reads 32 stream bytes at a position within
    // [pos, pos + 32v], below pos + 32V <= stream.len().
    let mut xs = [_mm512_setzero_si512(); V];
    for (v, xv) in xs.iter_mut().enumerate() {
        *xv = _mm512_loadu_si512(x.as_ptr().add(16 * v).cast());
    }
    let mask = _mm512_set1_epi32(((1u32 << scale) - 1) as i32);
    let f_mask = _mm512_set1_epi32(0xFFF);
    let sh = _mm_cvtsi32_si128(scale as i32);
    let low = _mm512_set1_epi32(L as i32);
    let base = tab.as_ptr() as *const i32;
    let src = stream.as_ptr();
    let out = dst.as_mut_ptr();
    while i + 16 * V <= n && pos + 32 * V <= stream.len() {
        for (v, xv) in xs.iter_mut().enumerate() {
            let x = *xv;
            let e = _mm512_i32gather_epi32::<4>(_mm512_and_si512(x, mask), base);
            let f = _mm512_and_si512(e, f_mask);
            let bias = _mm512_srli_epi32::<20>(e);
            let y = _mm512_add_epi32(_mm512_mullo_epi32(f, _mm512_srl_epi32(x, sh)), bias);
            // Symbols: bits 12..20 of each lane, narrowed to 16 bytes.
            let sy = _mm512_cvtepi32_epi8(_mm512_srli_epi32::<12>(e));
            _mm_storeu_si128(out.add(i + 16 * v).cast(), sy);
            // Renormalise: lanes with y < 2^16 take the next words in lane order.
            let need = _mm512_cmplt_epu32_mask(y, low);
            let w = _mm512_cvtepu16_epi32(_mm256_loadu_si256(src.add(pos).cast()));
            let wv = _mm512_maskz_expand_epi32(need, w);
            *xv = _mm512_mask_or_epi32(y, need, _mm512_slli_epi32::<16>(y), wv);
            pos += 2 * (need as u32).count_ones() as usize;
        }
        i += 16 * V;
    }
    for (v, xv) in xs.iter().enumerate() {
        _mm512_storeu_si512(x.as_mut_ptr().add(16 * v).cast(), *xv);
    }
    (i, pos)
}

/// Two planes of thirty-two states each decoded in one AVX-512 loop: per group of 32
/// symbols, two vectors of plane 0 and two of plane 1, whose gathers overlap (a plane's
/// states wait only on its own lookups and stream). Runs while both planes have a whole
/// group of symbols and 64 stream bytes left; returns (symbols decoded in each plane,
/// stream bytes consumed in plane 0, in plane 1) and leaves the states in `x`.
///
/// # Safety
/// The CPU must support AVX-512 F and POPCNT; each `x[p].len() == 32`.
#[target_feature(enable = "avx512f,popcnt")]
pub(super) unsafe fn run_avx512_pair(
    tab: [&[u32; 1 << MAX_SCALE]; 2],
    scale: [u32; 2],
    stream: [&[u8]; 2],
    dst: [&mut [u8]; 2],
    x: [&mut [u32; 32]; 2],
) -> (usize, usize, usize) {
    let n = dst[0].len().min(dst[1].len());
    let mut pos = [0usize; 2];
    let mut i = 0usize;
    // SAFETY (all loads and stores below): each `x[p]` has 32 u32; the gathers index
    // `tab[p]` with `state & (2^scale[p] - 1)` < 4096 = tab[p].len(); each group writes
    // dst[p][i..i + 32] with i + 32 <= n, and vector v of plane p reads 32 stream bytes at
    // a position within [pos[p], pos[p] + 32v], below pos[p] + 64 <= stream[p].len().
    let mut xs = [[_mm512_setzero_si512(); 2]; 2];
    for (xp, x) in xs.iter_mut().zip(&x) {
        for (v, xv) in xp.iter_mut().enumerate() {
            *xv = _mm512_loadu_si512(x.as_ptr().add(16 * v).cast());
        }
    }
    let mask = [
        _mm512_set1_epi32(((1u32 << scale[0]) - 1) as i32),
        _mm512_set1_epi32(((1u32 << scale[1]) - 1) as i32),
    ];
    let sh = [
        _mm_cvtsi32_si128(scale[0] as i32),
        _mm_cvtsi32_si128(scale[1] as i32),
    ];
    let f_mask = _mm512_set1_epi32(0xFFF);
    let low = _mm512_set1_epi32(L as i32);
    let base = [tab[0].as_ptr() as *const i32, tab[1].as_ptr() as *const i32];
    let src = [stream[0].as_ptr(), stream[1].as_ptr()];
    let len = [stream[0].len(), stream[1].len()];
    let out = [dst[0].as_mut_ptr(), dst[1].as_mut_ptr()];
    while i + 32 <= n && pos[0] + 64 <= len[0] && pos[1] + 64 <= len[1] {
        // The four lookups first, so that they are all in flight together.
        let e = [
            [
                _mm512_i32gather_epi32::<4>(_mm512_and_si512(xs[0][0], mask[0]), base[0]),
                _mm512_i32gather_epi32::<4>(_mm512_and_si512(xs[0][1], mask[0]), base[0]),
            ],
            [
                _mm512_i32gather_epi32::<4>(_mm512_and_si512(xs[1][0], mask[1]), base[1]),
                _mm512_i32gather_epi32::<4>(_mm512_and_si512(xs[1][1], mask[1]), base[1]),
            ],
        ];
        for p in 0..2 {
            for v in 0..2 {
                let (x, e) = (xs[p][v], e[p][v]);
                let f = _mm512_and_si512(e, f_mask);
                let bias = _mm512_srli_epi32::<20>(e);
                let y = _mm512_add_epi32(_mm512_mullo_epi32(f, _mm512_srl_epi32(x, sh[p])), bias);
                let sy = _mm512_cvtepi32_epi8(_mm512_srli_epi32::<12>(e));
                _mm_storeu_si128(out[p].add(i + 16 * v).cast(), sy);
                let need = _mm512_cmplt_epu32_mask(y, low);
                let w = _mm512_cvtepu16_epi32(_mm256_loadu_si256(src[p].add(pos[p]).cast()));
                let wv = _mm512_maskz_expand_epi32(need, w);
                xs[p][v] = _mm512_mask_or_epi32(y, need, _mm512_slli_epi32::<16>(y), wv);
                pos[p] += 2 * (need as u32).count_ones() as usize;
            }
        }
        i += 32;
    }
    for (xp, x) in xs.iter().zip(x) {
        for (v, xv) in xp.iter().enumerate() {
            _mm512_storeu_si512(x.as_mut_ptr().add(16 * v).cast(), *xv);
        }
    }
    (i, pos[0], pos[1])
}
