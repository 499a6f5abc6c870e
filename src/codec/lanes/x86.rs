//! The lanes with AVX-512: four vectors of 32 16-bit lanes, each step's 128 lookups as eight
//! byte permutes over the table held in registers (VBMI), refills as word expands (VBMI2).

use std::arch::x86_64::*;

use super::{LaneEnd, LANES, TABLE};

/// Whether this processor runs the vector loops.
pub(super) fn available() -> bool {
    is_x86_feature_detected!("avx512f")
        && is_x86_feature_detected!("avx512bw")
        && is_x86_feature_detected!("avx512vbmi")
        && is_x86_feature_detected!("avx512vbmi2")
        && is_x86_feature_detected!("popcnt")
}

/// [`super::portable::run_lanes`] with AVX-512; the same result, except that with
/// `escapes` (the escape and the side list, with 64 bytes after its end) the escapes the
/// vectors decode are replaced by the side list's symbols as they go (`LaneEnd::patched`
/// of them). `warm`: bytes the caller reads next, asked for two cache lines a step.
pub(super) fn run_lanes(
    stream: &[u8],
    table: &[u16; TABLE],
    steps: usize,
    dst: &mut [u8],
    escapes: Option<(u8, &[u8])>,
    warm: &[u8],
) -> LaneEnd {
    assert!(available() && steps >= 1 && steps * LANES <= dst.len());
    let sym: [u8; TABLE] = std::array::from_fn(|i| table[i] as u8);
    let len: [u8; TABLE] = std::array::from_fn(|i| (table[i] >> 8) as u8);
    // SAFETY: the features were checked; the output's length was checked; the side list
    // has 64 bytes after its end.
    unsafe {
        match escapes {
            Some((e, side)) => {
                assert!(side.len() >= 64);
                lanes::<true>(stream, &sym, &len, steps, dst, e, side, warm)
            }
            None => lanes::<false>(stream, &sym, &len, steps, dst, 0, &[0; 64], warm),
        }
    }
}

/// 32 bytes of `stream` from `pos`, zeros past its end.
#[inline]
#[target_feature(enable = "avx")]
fn load32(stream: &[u8], pos: usize) -> __m256i {
    if pos + 32 <= stream.len() {
        // SAFETY: 32 bytes at pos are inside the stream.
        unsafe { _mm256_loadu_si256(stream.as_ptr().add(pos).cast()) }
    } else {
        let mut b = [0u8; 32];
        if pos < stream.len() {
            b[..stream.len() - pos].copy_from_slice(&stream[pos..]);
        }
        // SAFETY: 32 bytes of a local array.
        unsafe { _mm256_loadu_si256(b.as_ptr().cast()) }
    }
}

#[allow(clippy::too_many_arguments)]
#[target_feature(enable = "avx512f,avx512bw,avx512vl,avx512vbmi,avx512vbmi2,popcnt")]
fn lanes<const PATCH: bool>(
    stream: &[u8],
    sym: &[u8; TABLE],
    len: &[u8; TABLE],
    steps: usize,
    dst: &mut [u8],
    escape: u8,
    side: &[u8],
    warm: &[u8],
) -> LaneEnd {
    const V: usize = LANES / 32;
    // SAFETY: the tables are 128 bytes.
    let (s0, s1, l0, l1) = unsafe {
        (
            _mm512_loadu_si512(sym.as_ptr().cast()),
            _mm512_loadu_si512(sym[64..].as_ptr().cast()),
            _mm512_loadu_si512(len.as_ptr().cast()),
            _mm512_loadu_si512(len[64..].as_ptr().cast()),
        )
    };
    let byte = _mm512_set1_epi16(0xFF);
    let eight = _mm512_set1_epi16(8);
    let mut pos = 0usize;
    let mut buf = [_mm512_setzero_si512(); V];
    let mut left = [eight; V];
    for b in buf.iter_mut() {
        *b = _mm512_cvtepu8_epi16(load32(stream, pos));
        pos += 32;
    }
    let out = dst.as_mut_ptr();
    let esc = _mm256_set1_epi8(escape as i8);
    // The side list's symbols taken; loads clamp at its end (64 bytes of padding follow).
    let (mut k, last) = (0usize, side.len() - 64);
    let (mut pf, pf_end) = (warm.as_ptr(), warm.as_ptr_range().end);
    for t in 0..steps {
        if pf < pf_end {
            // A prefetch reads nothing and never faults, whatever the address.
            _mm_prefetch::<_MM_HINT_T0>(pf.cast());
            _mm_prefetch::<_MM_HINT_T0>(pf.wrapping_add(64).cast());
            pf = pf.wrapping_add(128);
        }
        let mut need = [0u32; V];
        for v in 0..V {
            let s = _mm512_permutex2var_epi8(s0, buf[v], s1);
            let l = _mm512_and_si512(_mm512_permutex2var_epi8(l0, buf[v], l1), byte);
            let mut b = _mm512_cvtepi16_epi8(s);
            if PATCH {
                let m = _mm256_cmpeq_epi8_mask(b, esc);
                // SAFETY: 32 bytes at min(k, last) <= side.len() - 64.
                let r = unsafe { _mm256_loadu_si256(side.as_ptr().add(k.min(last)).cast()) };
                b = _mm256_mask_expand_epi8(b, m, r);
                k += m.count_ones() as usize;
            }
            // SAFETY: t < steps and steps * LANES <= dst.len().
            unsafe { _mm256_storeu_si256(out.add(t * LANES + 32 * v).cast(), b) };
            buf[v] = _mm512_srlv_epi16(buf[v], l);
            left[v] = _mm512_sub_epi16(left[v], l);
            need[v] = _mm512_cmplt_epu16_mask(left[v], eight);
        }
        if t + 1 == steps {
            break;
        }
        for v in 0..V {
            let w = _mm512_maskz_expand_epi16(need[v], _mm512_cvtepu8_epi16(load32(stream, pos)));
            buf[v] = _mm512_or_si512(buf[v], _mm512_sllv_epi16(w, left[v]));
            left[v] = _mm512_mask_add_epi16(left[v], need[v], left[v], eight);
            pos += need[v].count_ones() as usize;
        }
    }
    let mut end = LaneEnd {
        buf: [0; LANES],
        left: [0; LANES],
        pos,
        patched: if PATCH { steps * LANES } else { 0 },
        taken: k,
    };
    for v in 0..V {
        // SAFETY: 32 u16 at 32 v < LANES.
        unsafe {
            _mm512_storeu_si512(end.buf[32 * v..].as_mut_ptr().cast(), buf[v]);
            _mm512_storeu_si512(end.left[32 * v..].as_mut_ptr().cast(), left[v]);
        }
    }
    end
}
