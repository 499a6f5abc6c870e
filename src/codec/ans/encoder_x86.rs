//! x86-64 fast path of the encoder: the states of a group in vectors of eight (AVX2), `V`
//! vectors per group of `8 * V` symbols (two for codec 6, four for codec 7). The same words
//! in the same order as the scalar loop in `encoder.rs`, so the same bytes.
//!
//! Per vector: eight scalar loads of 16-byte table entries put together with a 4x4
//! transpose (no gathers, slow on AMD Zen 3, as in the decoder), the renormalisation as a
//! compare of the states' top halves, the division by the frequency as a multiply-high by a
//! 32-bit magic (below), and the emitted words (the low halves of the states that emit)
//! moved in lane order to the top of a 16-byte store that ends at the write index, which
//! then moves down by their number. The vectors of a group are stored from the last state to
//! the first, as the scalar loop writes them.
//!
//! Measured on AMD EPYC Zen 3, one core (`taskset -c 1 cargo bench --bench ans_paths --
//! minilm.bf16.raw bf16`, 128 Ki-symbol planes): codec 6 1.20-1.27 Gsymbols/s and codec 7
//! 1.20-1.24 against 0.35-0.37 for the scalar loop. The same loop with four gathers per
//! vector instead of the loads ran at 0.48.
//!
//! Division. `vpmuludq` multiplies 32 by 32 bits, and a reciprocal exact for every 32-bit
//! dividend needs 33 bits in general, so the quotient uses Granlund and Montgomery's
//! 33-bit-magic form ("Division by invariant integers using multiplication", 1994, fig. 4.1):
//! with `l = ceil(log2 f)`, `m = floor(2^32 (2^l - f) / f) + 1` (below 2^32) and
//! `t = (x * m) >> 32`, `floor(x / f) = (t + ((x - t) >> 1)) >> (l - 1)` for `f >= 2` and
//! every `x < 2^32`. For `f = 1` the entry instead holds `m = 2^32 - 1` and shift 0, which
//! gives `x - 1` for `x >= 1` (every renormalised state is at least 1); the one missing
//! multiple of `M - f` is added to the entry's offset instead.

use std::arch::x86_64::*;

/// Whether this processor runs the AVX2 encoder.
pub(super) fn available() -> bool {
    std::arch::is_x86_feature_detected!("avx2") && std::arch::is_x86_feature_detected!("popcnt")
}

/// Per symbol, four 32-bit slots: the magic `m`, `(x_max >> 16) - 1` (states whose top half
/// is above it emit), `M - f`, and the offset (`cum`, plus `M - f` for `f = 1`) in the low
/// 16 bits with the final shift `l - 1` in the top five (where the compiler sees that it is
/// below 32: with it at bit 16, LLVM guarded `vpsrlvd` against larger shifts with three more
/// instructions).
#[repr(C, align(16))]
#[derive(Clone, Copy, Default)]
pub(super) struct Entry(pub(super) [u32; 4]);

impl Entry {
    /// The entry of a symbol of frequency `f` (`1 <= f < 2^scale`, `scale <= 12`) and
    /// cumulative frequency `cum`.
    pub(super) fn new(f: u32, cum: u32, scale: u32) -> Entry {
        debug_assert!(f >= 1 && f < 1 << scale && scale <= 12);
        let m_total = 1u32 << scale;
        let cmpl = m_total - f;
        let x_max = f << (32 - scale);
        let (magic, shift, off) = if f == 1 {
            (u32::MAX, 0, cum + cmpl)
        } else {
            let l = 32 - (f - 1).leading_zeros();
            let magic = (((1u64 << 32) * ((1u64 << l) - f as u64)) / f as u64 + 1) as u32;
            (magic, l - 1, cum)
        };
        debug_assert!(off < 1 << 16);
        Entry([magic, (x_max >> 16) - 1, cmpl, off | shift << 27])
    }

    /// `floor(x / f)` computed as the vector loop does (for the tests), where `f >= 2`;
    /// `x - 1` for `f = 1`.
    #[cfg(test)]
    pub(super) fn quotient(&self, x: u32) -> u32 {
        let t = ((x as u64 * self.0[0] as u64) >> 32) as u32;
        (t + ((x - t) >> 1)) >> (self.0[3] >> 27)
    }
}

/// Byte shuffles of eight 16-bit words: for each 8-bit mask, the words whose bits are set,
/// in order, moved to the top of the 16 bytes (the rest zero).
static PACK: [[u8; 16]; 256] = packing();

const fn packing() -> [[u8; 16]; 256] {
    let mut t = [[0x80u8; 16]; 256];
    let mut m = 0;
    while m < 256 {
        let n = (m as u32).count_ones() as usize;
        let (mut k, mut i) = (8 - n, 0);
        while i < 8 {
            if m >> i & 1 == 1 {
                t[m][2 * k] = 2 * i as u8;
                t[m][2 * k + 1] = 2 * i as u8 + 1;
                k += 1;
            }
            i += 1;
        }
        m += 1;
    }
    t
}

/// Codes the groups of `STATES` symbols in `src` (from the last group to the first) into the
/// states `x`, writing the words backwards below `buf[*w]` as `encoder::put_raw` does.
/// Needs AVX2 ([`available`]), `STATES` a multiple of 8 and `*w >= src.len() + 8` (each group
/// lowers `*w` by at most `STATES`, and a store writes eight words below the index).
pub(super) fn encode_groups<const STATES: usize>(
    x: &mut [u32; STATES],
    src: &[u8],
    table: &[Entry; 256],
    buf: &mut [u16],
    w: &mut usize,
) {
    assert!(
        available()
            && STATES % 8 == 0
            && src.len() % STATES == 0
            && *w <= buf.len()
            && *w >= src.len() + 8
    );
    // SAFETY: AVX2 and POPCNT were checked; the bounds on `*w` keep every store within `buf`
    // (see `groups`).
    unsafe {
        match STATES / 8 {
            2 => groups::<2>(x.as_mut_ptr(), src, table, buf.as_mut_ptr(), w),
            4 => groups::<4>(x.as_mut_ptr(), src, table, buf.as_mut_ptr(), w),
            _ => unreachable!("16 or 32 states"),
        }
    }
}

/// [`encode_groups`] with `V` vectors of eight states.
///
/// # Safety
/// AVX2 and POPCNT; `x` points to `8 * V` states; `buf` to at least `*w` words, with
/// `*w >= src.len() + 8` and `src.len()` a multiple of `8 * V`.
#[target_feature(enable = "avx2,popcnt")]
unsafe fn groups<const V: usize>(
    x: *mut u32,
    src: &[u8],
    table: &[Entry; 256],
    buf: *mut u16,
    w: &mut usize,
) {
    let k = 8 * V;
    // SAFETY: `x` holds `8 * V` states (the caller's contract).
    let mut xs: [__m256i; V] =
        std::array::from_fn(|v| unsafe { _mm256_loadu_si256(x.add(8 * v).cast()) });
    let tp = table.as_ptr();
    let mut at = *w;
    let mut i = src.len();
    while i > 0 {
        i -= k;
        // The last vector first: its words go above those of the vectors below it. Each
        // vector's states depend only on its own, so the vectors overlap but for `at`.
        // Written out (constant indices): as a loop over `v`, LLVM kept the states in memory.
        let g = &src[i..i + k];
        // SAFETY: the caller's contract; at >= i + k + 8 before the group (`at` started at
        // or above src.len() + 8 and drops by at most k per group), so at >= 8 (v + 1) + 8
        // before vector v.
        unsafe {
            if V == 4 {
                xs[3] = vector(xs[3], &g[24..32], tp, buf, &mut at);
                xs[2] = vector(xs[2], &g[16..24], tp, buf, &mut at);
            }
            xs[1] = vector(xs[1], &g[8..16], tp, buf, &mut at);
            xs[0] = vector(xs[0], &g[..8], tp, buf, &mut at);
        }
    }
    *w = at;
    for (v, xv) in xs.iter().enumerate() {
        // SAFETY: as the loads above.
        unsafe { _mm256_storeu_si256(x.add(8 * v).cast(), *xv) };
    }
}

/// One vector of eight states: codes the symbols `sym` into `x`, storing the words of the
/// states that emit so that they end at `buf[*at]`, and moves `*at` down by their number.
///
/// # Safety
/// AVX2 and POPCNT (inlined into [`groups`]); `*at >= 8` and `buf` holds `*at` words; `tp`
/// points to 256 entries.
#[inline(always)]
unsafe fn vector(
    x: __m256i,
    sym: &[u8],
    tp: *const Entry,
    buf: *mut u16,
    at: &mut usize,
) -> __m256i {
    // SAFETY: AVX2 (the caller's contract) for the intrinsics throughout.
    unsafe {
        // One byte load per symbol (fewer instructions than shifting a 64-bit load).
        let sym: &[u8; 8] = sym.try_into().unwrap_or_else(|_| unreachable!());
        let e = |j: usize| tp.add(sym[j] as usize).cast::<__m128i>();
        // Every entry index is a byte, within the 256 entries.
        let r: [__m256i; 4] = std::array::from_fn(|j| {
            _mm256_inserti128_si256::<1>(
                _mm256_castsi128_si256(_mm_load_si128(e(j))),
                _mm_load_si128(e(j + 4)),
            )
        });
        let t0 = _mm256_unpacklo_epi32(r[0], r[1]);
        let t1 = _mm256_unpacklo_epi32(r[2], r[3]);
        let t2 = _mm256_unpackhi_epi32(r[0], r[1]);
        let t3 = _mm256_unpackhi_epi32(r[2], r[3]);
        let magic = _mm256_unpacklo_epi64(t0, t1);
        let bound = _mm256_unpackhi_epi64(t0, t1);
        let cmpl = _mm256_unpacklo_epi64(t2, t3);
        let last = _mm256_unpackhi_epi64(t2, t3);
        let off = _mm256_and_si256(last, _mm256_set1_epi32(0xFFFF));
        let shift = _mm256_srli_epi32::<27>(last);

        let top = _mm256_srli_epi32::<16>(x);
        let emit = _mm256_cmpgt_epi32(top, bound);
        let m = _mm256_movemask_ps(_mm256_castsi256_ps(emit)) as u8;
        // Within each 128-bit half, the low words of the four lanes to the low 8 bytes; then
        // the two halves' words together, in lane order.
        let words = _mm256_setr_epi8(
            0, 1, 4, 5, 8, 9, 12, 13, -1, -1, -1, -1, -1, -1, -1, -1, //
            0, 1, 4, 5, 8, 9, 12, 13, -1, -1, -1, -1, -1, -1, -1, -1,
        );
        let packed = _mm256_castsi256_si128(_mm256_permute4x64_epi64::<0b1000>(
            _mm256_shuffle_epi8(x, words),
        ));
        // A table row of 16 bytes; the store covers words *at - 8 .. *at.
        let sh = _mm_loadu_si128(PACK[m as usize].as_ptr().cast());
        _mm_storeu_si128(buf.add(*at - 8).cast(), _mm_shuffle_epi8(packed, sh));
        *at -= m.count_ones() as usize;

        let y = _mm256_blendv_epi8(x, top, emit);
        // t = (y * magic) >> 32: even lanes, then odd lanes, blended.
        let even = _mm256_srli_epi64::<32>(_mm256_mul_epu32(y, magic));
        let odd = _mm256_mul_epu32(_mm256_srli_epi64::<32>(y), _mm256_srli_epi64::<32>(magic));
        let t = _mm256_blend_epi32::<0b1010_1010>(even, odd);
        let q = _mm256_srlv_epi32(
            _mm256_add_epi32(t, _mm256_srli_epi32::<1>(_mm256_sub_epi32(y, t))),
            shift,
        );
        _mm256_add_epi32(_mm256_add_epi32(y, off), _mm256_mullo_epi32(q, cmpl))
    }
}
