//! The lanes with AVX2: eight vectors of 16 16-bit lanes. Each step looks up 32 lanes at a
//! time, their indices packed into bytes: eight 16-entry byte shuffles per table, blended by
//! the index's bits 4 to 6. The shifts by the codes' lengths are multiplications (AVX2 has
//! no 16-bit variable shifts): the table gives `2^(16 - len)` and a lane keeps `2^left`
//! instead of `left`, so both shift right with one high-half multiply each, and a refill's
//! byte moves into place with one low-half multiply. Refills are byte shuffles from a table
//! of 256 expansions, eight lanes at a time.

use std::arch::x86_64::*;

use super::{LaneEnd, LANES, TABLE};

/// Whether this processor runs the AVX2 loop.
pub(super) fn available() -> bool {
    is_x86_feature_detected!("avx2") && is_x86_feature_detected!("popcnt")
}

/// [`super::portable::run_lanes`] with AVX2; the same result, except that with `escapes`
/// (the escape and the side list, zeros after its end) the escapes the vectors decode are
/// replaced by the side list's symbols as they go (`LaneEnd::patched` of them, taking
/// `LaneEnd::taken`). `warm`: bytes the caller reads next, asked for two cache lines a
/// step.
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
    // Every entry of a table has a length of 1 to 7 (the code is complete).
    let mul: [u8; TABLE] = std::array::from_fn(|i| 1u8 << (8 - (table[i] >> 8).clamp(1, 7)));
    // SAFETY: the features were checked, and the output's length.
    unsafe {
        match escapes {
            Some((e, side)) => {
                assert!(side.len() >= 64);
                lanes::<true>(stream, &sym, &mul, steps, dst, e, side, warm)
            }
            None => lanes::<false>(stream, &sym, &mul, steps, dst, 0, &[0; 64], warm),
        }
    }
}

/// Byte shuffles that move the first bytes of a 16-byte load into the low bytes of the
/// 16-bit lanes set in an 8-bit mask, in order, and zero the rest.
static EXPAND: [[u8; 16]; 256] = {
    let mut t = [[0x80u8; 16]; 256];
    let mut m = 0;
    while m < 256 {
        let (mut k, mut lane) = (0u8, 0);
        while lane < 8 {
            if m >> lane & 1 == 1 {
                t[m][2 * lane] = k;
                k += 1;
            }
            lane += 1;
        }
        m += 1;
    }
    t
};

/// Byte shuffles (one 64-bit word each) that move the first bytes of an 8-byte load to
/// the bytes set in an 8-bit mask, in order, and zero the rest.
static PLACE: [u64; 256] = {
    let mut t = [0u64; 256];
    let mut m = 0;
    while m < 256 {
        let (mut k, mut i) = (0u64, 0);
        while i < 8 {
            let b = if m >> i & 1 == 1 {
                k += 1;
                k - 1
            } else {
                0x80
            };
            t[m] |= b << (8 * i);
            i += 1;
        }
        m += 1;
    }
    t
};

/// `s` with its bytes set in `eq` (`e`, one bit a byte) replaced by the side list's
/// symbols from `k` on (`k` advanced past them); loads clamp at `last`, 64 bytes before the
/// side list's end.
#[inline]
#[target_feature(enable = "avx2,popcnt")]
fn patch32(s: __m256i, eq: __m256i, e: u32, side: &[u8], k: &mut usize, last: usize) -> __m256i {
    let mut words = [0u64; 4];
    let mut ctrl = [0u64; 4];
    for g in 0..4 {
        let before = (e & ((1u64 << (8 * g)) - 1) as u32).count_ones() as usize;
        let at = (*k + before).min(last);
        words[g] = u64::from_le_bytes(side[at..at + 8].try_into().expect("8 bytes"));
        ctrl[g] = PLACE[((e >> (8 * g)) & 0xFF) as usize];
    }
    *k += e.count_ones() as usize;
    // SAFETY: 32 bytes of local arrays.
    let (w, c) = unsafe {
        (
            _mm256_loadu_si256(words.as_ptr().cast()),
            _mm256_loadu_si256(ctrl.as_ptr().cast()),
        )
    };
    // The second word of each half indexes that half's bytes 8 to 15 (0x80 stays above 0x7F).
    let c = _mm256_add_epi8(
        c,
        _mm256_set_epi64x(0x0808_0808_0808_0808, 0, 0x0808_0808_0808_0808, 0),
    );
    _mm256_blendv_epi8(s, _mm256_shuffle_epi8(w, c), eq)
}

/// 16 bytes of `stream` from `pos`, zeros past its end.
#[inline]
#[target_feature(enable = "avx2")]
fn load16(stream: &[u8], pos: usize) -> __m128i {
    if pos + 16 <= stream.len() {
        // SAFETY: 16 bytes at pos are inside the stream.
        unsafe { _mm_loadu_si128(stream.as_ptr().add(pos).cast()) }
    } else {
        let mut b = [0u8; 16];
        if pos < stream.len() {
            b[..stream.len() - pos].copy_from_slice(&stream[pos..]);
        }
        // SAFETY: 16 bytes of a local array.
        unsafe { _mm_loadu_si128(b.as_ptr().cast()) }
    }
}

/// The bytes of `stream` from `pos` moved into the 16-bit lanes set in `m` (8 bits).
#[inline]
#[target_feature(enable = "avx2")]
fn expand(stream: &[u8], pos: usize, m: u32) -> __m128i {
    // SAFETY: 16 bytes of the table's row m < 256.
    let ctrl = unsafe { _mm_loadu_si128(EXPAND[m as usize].as_ptr().cast()) };
    _mm_shuffle_epi8(load16(stream, pos), ctrl)
}

/// The entries of a 128-byte table (eight 16-byte pieces, each in both halves of a
/// register) at the indices in the bytes of `idx` (below 128); `b4`, `b5`, `b6`: `idx`
/// with bits 4, 5 and 6 moved to bit 7 of each byte.
#[inline]
#[target_feature(enable = "avx2")]
fn lookup(t: &[__m256i; 8], idx: __m256i, b4: __m256i, b5: __m256i, b6: __m256i) -> __m256i {
    let r: [__m256i; 8] = std::array::from_fn(|k| _mm256_shuffle_epi8(t[k], idx));
    let a0 = _mm256_blendv_epi8(r[0], r[1], b4);
    let a1 = _mm256_blendv_epi8(r[2], r[3], b4);
    let a2 = _mm256_blendv_epi8(r[4], r[5], b4);
    let a3 = _mm256_blendv_epi8(r[6], r[7], b4);
    let c0 = _mm256_blendv_epi8(a0, a1, b5);
    let c1 = _mm256_blendv_epi8(a2, a3, b5);
    _mm256_blendv_epi8(c0, c1, b6)
}

#[allow(clippy::too_many_arguments)]
#[target_feature(enable = "avx2,popcnt")]
fn lanes<const PATCH: bool>(
    stream: &[u8],
    sym: &[u8; TABLE],
    mul: &[u8; TABLE],
    steps: usize,
    dst: &mut [u8],
    escape: u8,
    side: &[u8],
    warm: &[u8],
) -> LaneEnd {
    const V: usize = LANES / 16;
    let piece = |t: &[u8; TABLE], k: usize| {
        // SAFETY: 16 bytes at 16 k < TABLE.
        _mm256_broadcastsi128_si256(unsafe { _mm_loadu_si128(t[16 * k..].as_ptr().cast()) })
    };
    let st: [__m256i; 8] = std::array::from_fn(|k| piece(sym, k));
    let mt: [__m256i; 8] = std::array::from_fn(|k| piece(mul, k));
    let zero = _mm256_setzero_si256();
    let low7 = _mm256_set1_epi16(0x7F);
    let full = _mm256_set1_epi16(256);
    let esc = _mm256_set1_epi8(escape as i8);
    // Each lane's bits, and 2^(bits held).
    let mut buf = [zero; V];
    let mut pow = [full; V];
    for (v, b) in buf.iter_mut().enumerate() {
        *b = _mm256_cvtepu8_epi16(load16(stream, 16 * v));
    }
    let mut pos = LANES;
    let out = dst.as_mut_ptr();
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
        let mut syms = [zero; V / 2];
        for p in 0..V / 2 {
            let (a, b) = (buf[2 * p], buf[2 * p + 1]);
            // Bytes: lanes 0-7 of a, of b, 8-15 of a, of b.
            let idx = _mm256_packus_epi16(_mm256_and_si256(a, low7), _mm256_and_si256(b, low7));
            let b4 = _mm256_slli_epi16::<3>(idx);
            let b5 = _mm256_slli_epi16::<2>(idx);
            let b6 = _mm256_slli_epi16::<1>(idx);
            syms[p] = _mm256_permute4x64_epi64::<0b11_01_10_00>(lookup(&st, idx, b4, b5, b6));
            let m = lookup(&mt, idx, b4, b5, b6);
            let (ma, mb) = (_mm256_unpacklo_epi8(zero, m), _mm256_unpackhi_epi8(zero, m));
            buf[2 * p] = _mm256_mulhi_epu16(a, ma);
            buf[2 * p + 1] = _mm256_mulhi_epu16(b, mb);
            pow[2 * p] = _mm256_mulhi_epu16(pow[2 * p], ma);
            pow[2 * p + 1] = _mm256_mulhi_epu16(pow[2 * p + 1], mb);
        }
        if PATCH {
            let eq: [__m256i; V / 2] = std::array::from_fn(|p| _mm256_cmpeq_epi8(syms[p], esc));
            let e = eq.map(|x| _mm256_movemask_epi8(x) as u32);
            // One branch a step: taken on most steps or on few, as the escapes are common or
            // rare.
            if e.iter().any(|&x| x != 0) {
                for p in 0..V / 2 {
                    syms[p] = patch32(syms[p], eq[p], e[p], side, &mut k, last);
                }
            }
        }
        for (p, s) in syms.iter().enumerate() {
            // SAFETY: t < steps and steps * LANES <= dst.len().
            unsafe { _mm256_storeu_si256(out.add(t * LANES + 32 * p).cast(), *s) };
        }
        if t + 1 == steps {
            break;
        }
        for p in 0..V / 2 {
            let (pa, pb) = (pow[2 * p], pow[2 * p + 1]);
            let need =
                _mm256_packs_epi16(_mm256_cmpgt_epi16(full, pa), _mm256_cmpgt_epi16(full, pb));
            // Bytes: lanes 0-7, 16-23, 8-15, 24-31.
            let bits = _mm256_movemask_epi8(need) as u32;
            let p1 = pos + (bits & 0xFF).count_ones() as usize;
            let p2 = pos + (bits & 0x00FF_00FF).count_ones() as usize;
            let p3 = pos + (bits & 0x00FF_FFFF).count_ones() as usize;
            let wa = _mm256_set_m128i(
                expand(stream, p1, bits >> 16 & 0xFF),
                expand(stream, pos, bits & 0xFF),
            );
            let wb = _mm256_set_m128i(
                expand(stream, p3, bits >> 24),
                expand(stream, p2, bits >> 8 & 0xFF),
            );
            pos += bits.count_ones() as usize;
            // The new bytes, zero in the lanes that take none, shifted above the bits held.
            buf[2 * p] = _mm256_or_si256(buf[2 * p], _mm256_mullo_epi16(wa, pa));
            buf[2 * p + 1] = _mm256_or_si256(buf[2 * p + 1], _mm256_mullo_epi16(wb, pb));
            // 2^(left + 8) where left < 8 (a power of two of 2^8 and more shifts out).
            pow[2 * p] = _mm256_max_epu16(pa, _mm256_slli_epi16::<8>(pa));
            pow[2 * p + 1] = _mm256_max_epu16(pb, _mm256_slli_epi16::<8>(pb));
        }
    }
    let mut end = LaneEnd {
        buf: [0; LANES],
        left: [0; LANES],
        pos,
        patched: if PATCH { steps * LANES } else { 0 },
        taken: k,
    };
    let mut held = [0u16; LANES];
    for v in 0..V {
        // SAFETY: 16 u16 at 16 v < LANES.
        unsafe {
            _mm256_storeu_si256(end.buf[16 * v..].as_mut_ptr().cast(), buf[v]);
            _mm256_storeu_si256(held[16 * v..].as_mut_ptr().cast(), pow[v]);
        }
    }
    for (l, h) in end.left.iter_mut().zip(held) {
        *l = h.trailing_zeros() as u16;
    }
    end
}
