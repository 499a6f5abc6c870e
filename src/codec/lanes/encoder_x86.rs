//! The encoder's two passes with AVX-512: a step's 128 lanes as two vectors of bytes (the
//! first pass) or four of 16-bit words (the second); lengths and codes looked up by byte
//! permutes over 256-entry tables held in registers (VBMI), each step's bytes compressed
//! into place (VBMI2). The same results as the portable loops in `encoder.rs`.

use std::arch::x86_64::*;

use super::{Lut, Path, LANES};

/// A 256-byte table in four registers.
type Table = [__m512i; 4];

#[inline]
#[target_feature(enable = "avx512f")]
fn load_table(t: &[u8; 256]) -> Table {
    // SAFETY: 4 * 64 bytes of the table.
    std::array::from_fn(|k| unsafe { _mm512_loadu_si512(t[64 * k..].as_ptr().cast()) })
}

/// Each byte of `x` looked up in `t`; `high`: the bytes of `x` of 128 and up.
#[inline]
#[target_feature(enable = "avx512f,avx512bw,avx512vbmi")]
fn lookup(t: &Table, x: __m512i, high: __mmask64) -> __m512i {
    let lo = _mm512_permutex2var_epi8(t[0], x, t[1]);
    let hi = _mm512_permutex2var_epi8(t[2], x, t[3]);
    _mm512_mask_blend_epi8(high, lo, hi)
}

/// 64 bytes of `src` from `at`.
#[inline]
#[target_feature(enable = "avx512f")]
fn load(src: &[u8], at: usize) -> __m512i {
    assert!(at + 64 <= src.len());
    // SAFETY: checked above.
    unsafe { _mm512_loadu_si512(src.as_ptr().add(at).cast()) }
}

/// [`super::scan`] with AVX-512: `flagged` holds each value's length, with the top bit set
/// for the escaped values.
pub(super) fn scan(
    plane: &[u8],
    flagged: &[u8; 256],
    escapes: bool,
    from: usize,
    takes: &mut [[u64; 2]],
    last: &mut [u8],
    rare: &mut [u8],
) -> usize {
    let whole = takes.len();
    assert!(
        Path::Avx512.available()
            && whole * LANES <= plane.len()
            && from <= whole
            && last.len() >= (whole - from) * LANES
            && (!escapes || rare.len() >= whole * LANES + 64)
    );
    // SAFETY: the features and the lengths were checked.
    unsafe {
        if escapes {
            scan_with::<true>(plane, flagged, from, takes, last, rare)
        } else {
            scan_with::<false>(plane, flagged, from, takes, last, rare)
        }
    }
}

#[target_feature(enable = "avx512f,avx512bw,avx512vbmi,avx512vbmi2,popcnt")]
fn scan_with<const ESC: bool>(
    plane: &[u8],
    flagged: &[u8; 256],
    from: usize,
    takes: &mut [[u64; 2]],
    last: &mut [u8],
    rare: &mut [u8],
) -> usize {
    let t = load_table(flagged);
    let (len, eight) = (_mm512_set1_epi8(0x7F), _mm512_set1_epi8(8));
    let mut c = [eight; 2];
    let mut nr = 0usize;
    for (step, m) in takes.iter_mut().enumerate() {
        for h in 0..2 {
            let x = load(plane, step * LANES + 64 * h);
            let e = lookup(&t, x, _mm512_movepi8_mask(x));
            c[h] = _mm512_sub_epi8(c[h], _mm512_and_si512(e, len));
            let take = _mm512_cmplt_epu8_mask(c[h], eight);
            if step >= from {
                let at = (step - from) * LANES + 64 * h;
                // SAFETY: the caller checked that `last` holds the rows from `from` on.
                unsafe { _mm512_storeu_si512(last.as_mut_ptr().add(at).cast(), c[h]) };
            }
            c[h] = _mm512_mask_add_epi8(c[h], take, c[h], eight);
            m[h] = take;
            if ESC {
                let esc = _mm512_movepi8_mask(e);
                // SAFETY: nr <= step * LANES + 64 * h, and `rare` has 64 bytes more than
                // the steps.
                unsafe {
                    _mm512_storeu_si512(
                        rare.as_mut_ptr().add(nr).cast(),
                        _mm512_maskz_compress_epi8(esc, x),
                    )
                };
                nr += esc.count_ones() as usize;
            }
        }
    }
    nr
}

/// [`super::write_lanes`] with AVX-512.
pub(super) fn write_lanes(
    plane: &[u8],
    lut: &Lut,
    takes: &[[u64; 2]],
    steps: usize,
    c_end: &[u8; LANES],
    f_end: &[u16; LANES],
    stream: &mut [u8],
) {
    assert!(
        Path::Avx512.available()
            && steps >= 1
            && takes.len() >= steps
            && steps * LANES <= plane.len()
    );
    assert_eq!(stream.len(), super::stream_len(takes, steps));
    // SAFETY: the features and the lengths were checked.
    unsafe { write_with(plane, lut, takes, steps, c_end, f_end, stream) }
}

/// The lowest `n` bits (`n` at most 64).
#[inline]
fn low(n: u32) -> u64 {
    u64::MAX.checked_shr(64 - n).unwrap_or(0)
}

#[target_feature(enable = "avx512f,avx512bw,avx512vbmi,avx512vbmi2,popcnt")]
fn write_with(
    plane: &[u8],
    lut: &Lut,
    takes: &[[u64; 2]],
    steps: usize,
    c_end: &[u8; LANES],
    f_end: &[u16; LANES],
    stream: &mut [u8],
) {
    // Each value's length, and its code in the top bits of a byte: a lane's word is the
    // length in its low byte and the code in its high one, so that one double shift by
    // the word (which counts only its low 4 bits) puts the code before the lane's bits.
    let lens = load_table(&std::array::from_fn(|s| lut[s].1));
    let highs = load_table(&std::array::from_fn(|s| {
        let (c, l) = lut[s];
        c.checked_shl(8 - u32::from(l)).unwrap_or(0)
    }));
    let index = |f: fn(u8) -> u8| -> __m512i {
        let b: [u8; 64] = std::array::from_fn(|k| f(k as u8));
        // SAFETY: 64 bytes.
        unsafe { _mm512_loadu_si512(b.as_ptr().cast()) }
    };
    // Words of lanes 0..32 and 32..64 of a half: its lengths and high bytes side by side.
    let words_lo = index(|k| k / 2 + (k & 1) * 64);
    let words_hi = index(|k| 32 + k / 2 + (k & 1) * 64);
    // The low bytes of two vectors of words.
    let even = index(|k| 2 * k);
    let eight = _mm512_set1_epi16(8);
    // SAFETY (loads): 4 * 32 words of `f_end`, 4 * 32 bytes of `c_end`.
    let mut f: [__m512i; 4] =
        std::array::from_fn(|v| unsafe { _mm512_loadu_si512(f_end[32 * v..].as_ptr().cast()) });
    let mut c: [__m512i; 4] = std::array::from_fn(|v| unsafe {
        _mm512_cvtepu8_epi16(_mm256_loadu_si256(c_end[32 * v..].as_ptr().cast()))
    });
    let out = stream.as_mut_ptr();
    let mut pos = stream.len();
    for t in (0..steps).rev() {
        if t + 1 < steps {
            let [lo, hi] = takes[t];
            let (a, b) = (lo.count_ones(), hi.count_ones());
            pos -= (a + b) as usize;
            // Rotating a lane's word by `c` (below 8 where it takes a byte) puts its next
            // 8 bits lowest.
            let e: [__m512i; 4] = std::array::from_fn(|v| _mm512_shrdv_epi16(f[v], f[v], c[v]));
            let b0 = _mm512_permutex2var_epi8(e[0], even, e[1]);
            let b1 = _mm512_permutex2var_epi8(e[2], even, e[3]);
            // SAFETY: the step's bytes, pos..pos + a + b, are inside the stream (its
            // length was checked against the refills).
            unsafe {
                _mm512_mask_storeu_epi8(
                    out.add(pos).cast(),
                    low(a),
                    _mm512_maskz_compress_epi8(lo, b0),
                );
                _mm512_mask_storeu_epi8(
                    out.add(pos + a as usize).cast(),
                    low(b),
                    _mm512_maskz_compress_epi8(hi, b1),
                );
            }
        }
        let prev = if t > 0 { takes[t - 1] } else { [0; 2] };
        let k = [
            prev[0] as u32,
            (prev[0] >> 32) as u32,
            prev[1] as u32,
            (prev[1] >> 32) as u32,
        ];
        for h in 0..2 {
            let x = load(plane, t * LANES + 64 * h);
            let high = _mm512_movepi8_mask(x);
            let (l, g) = (lookup(&lens, x, high), lookup(&highs, x, high));
            for (j, idx) in [words_lo, words_hi].into_iter().enumerate() {
                let v = 2 * h + j;
                let w = _mm512_permutex2var_epi8(l, idx, g);
                f[v] = _mm512_shldv_epi16(f[v], w, w);
                // The low byte counts (the high one is never used).
                c[v] = _mm512_add_epi8(c[v], w);
                c[v] = _mm512_mask_sub_epi16(c[v], k[v], c[v], eight);
            }
        }
    }
    debug_assert_eq!(pos, LANES);
    // SAFETY: the stream holds at least LANES bytes.
    unsafe {
        _mm512_storeu_si512(out.cast(), _mm512_permutex2var_epi8(f[0], even, f[1]));
        _mm512_storeu_si512(
            out.add(64).cast(),
            _mm512_permutex2var_epi8(f[2], even, f[3]),
        );
    }
}
