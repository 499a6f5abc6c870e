//! x86-64 fast paths of the decoder (AVX2).

use super::{MAX_SCALE, STATES};
use std::arch::x86_64::*;

/// The AVX2 fast path: states 0-7 and 8-15 in two vectors. Decodes whole groups of 16
/// symbols while at least 32 stream bytes remain; returns (symbols decoded, stream bytes
/// consumed) and leaves the states in `x`.
///
/// # Safety
/// The CPU must support AVX2 and POPCNT.
#[target_feature(enable = "avx2,popcnt")]
pub(super) unsafe fn run_avx2(
    tab: &[u32; 1 << MAX_SCALE],
    scale: u32,
    stream: &[u8],
    dst: &mut [u8],
    x: &mut [u32; STATES],
) -> (usize, usize) {
    let n = dst.len();
    let mut pos = 0usize;
    let mut i = 0usize;
    // SAFETY (all loads and stores below): `x` has 16 u32; the gathers index `tab` with
    // `state & (2^scale - 1)` < 4096 = tab.len(); each group writes dst[i..i + 16] with
    // i + 16 <= n, and reads stream[pos..pos + 16] and stream[pos2..pos2 + 16] with
    // pos <= pos2 <= pos + 16 and pos + 32 <= stream.len().
    let mut xa = _mm256_loadu_si256(x.as_ptr().cast());
    let mut xb = _mm256_loadu_si256(x.as_ptr().add(8).cast());
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

    macro_rules! half {
        ($x:ident, $o:expr) => {{
            let e = _mm256_i32gather_epi32::<4>(base, _mm256_and_si256($x, mask));
            let f = _mm256_and_si256(e, f_mask);
            let bias = _mm256_srli_epi32::<20>(e);
            let y = _mm256_add_epi32(_mm256_mullo_epi32(f, _mm256_srl_epi32($x, sh)), bias);
            // Symbols: bits 12..20 of each lane, stored as 8 bytes.
            let sy = _mm256_permutevar8x32_epi32(
                _mm256_shuffle_epi8(_mm256_srli_epi32::<12>(e), pick),
                gather_lo,
            );
            _mm_storel_epi64(out.add(i + $o).cast(), _mm256_castsi256_si128(sy));
            // Renormalise: lanes with y < 2^16 take the next words in lane order.
            let need = _mm256_cmpeq_epi32(_mm256_srli_epi32::<16>(y), zero);
            let m = _mm256_movemask_ps(_mm256_castsi256_ps(need)) as usize;
            let w = _mm256_cvtepu16_epi32(_mm_loadu_si128(src.add(pos).cast()));
            // Exclusive prefix count of the taking lanes (need is -1 or 0 per lane).
            let c1 = _mm256_add_epi32(need, _mm256_slli_si256::<4>(need));
            let c2 = _mm256_add_epi32(c1, _mm256_slli_si256::<8>(c1));
            let lo3 = _mm256_shuffle_epi32::<0xFF>(c2);
            let carry = _mm256_permute2x128_si256::<0x08>(lo3, lo3);
            let idx = _mm256_sub_epi32(need, _mm256_add_epi32(c2, carry));
            let wv = _mm256_permutevar8x32_epi32(w, idx);
            let v = _mm256_or_si256(_mm256_slli_epi32::<16>(y), wv);
            $x = _mm256_blendv_epi8(y, v, need);
            pos += 2 * m.count_ones() as usize;
        }};
    }

    while i + STATES <= n && pos + 2 * STATES <= stream.len() {
        half!(xa, 0);
        half!(xb, 8);
        i += STATES;
    }
    _mm256_storeu_si256(x.as_mut_ptr().cast(), xa);
    _mm256_storeu_si256(x.as_mut_ptr().add(8).cast(), xb);
    (i, pos)
}
