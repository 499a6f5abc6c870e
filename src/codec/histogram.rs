//! Order-0 byte histograms: what every choice of codec and every entropy code starts from.

/// Byte counts of one plane-chunk: `h[b]` is the number of bytes equal to `b`.
pub type Histogram = [u32; 256];

/// Order-0 byte histogram of `src`.
///
/// Exponent planes are peaked: a handful of values make up nearly every byte, and a scalar
/// count then waits on the same few counters (each byte is a load, an add and a store to
/// one of them). Where AVX2 is available and a spread sample of the input finds a window of
/// 16 consecutive values holding nearly all of it, the window's values are counted 32 bytes
/// at a time with vector table look-ups (`avx2::Window`) and only the bytes outside it one
/// by one (with vector compares, the first such count, 2.5 to 3 times faster on MiniLM's
/// exponent planes); otherwise, the portable count.
pub fn histogram(src: &[u8]) -> Histogram {
    #[cfg(target_arch = "x86_64")]
    {
        if src.len() >= WINDOW_MIN && std::is_x86_feature_detected!("avx2") {
            if let Some(base) = window_base(src) {
                // SAFETY: AVX2 is available (checked above); `base <= 256 - WINDOW`.
                return unsafe { avx2::histogram_window(src, base) };
            }
        }
    }
    histogram_portable(src)
}

/// Inputs shorter than this are counted by the portable code.
#[cfg_attr(not(target_arch = "x86_64"), allow(dead_code))]
pub(crate) const WINDOW_MIN: usize = 8 * 1024;
/// Width of the vector-counted window of byte values.
#[cfg_attr(not(target_arch = "x86_64"), allow(dead_code))]
pub(crate) const WINDOW: usize = 16;

/// The start of a window of `WINDOW` consecutive byte values that holds at least 31/32 of
/// a sample of `src` (16 blocks of 64 bytes, evenly spaced), if there is one.
#[cfg_attr(not(target_arch = "x86_64"), allow(dead_code))]
pub(crate) fn window_base(src: &[u8]) -> Option<u8> {
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
pub(crate) fn best_window(h: &[u32; 256]) -> Option<u8> {
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

/// `log2(1 + i / 2^LOG_BITS)` in 16-bit fixed point, for the mantissa of [`log2_q16`].
const LOG_BITS: u32 = 10;
const LOG_TABLE: [u32; 1 << LOG_BITS] = {
    let mut t = [0u32; 1 << LOG_BITS];
    let mut i = 0;
    while i < t.len() {
        // log2 of m = 1 + i / 1024 in [1, 2) by repeated squaring, 16 fraction bits.
        let mut m: u64 = (1 << 30) + ((i as u64) << (30 - LOG_BITS));
        let mut frac = 0u32;
        let mut k = 0;
        while k < 16 {
            m = (m * m) >> 30;
            frac <<= 1;
            if m >= 2 << 30 {
                m >>= 1;
                frac |= 1;
            }
            k += 1;
        }
        t[i] = frac;
        i += 1;
    }
    t
};

/// `log2(v)` in 16-bit fixed point (integer only, so every machine gets the same value),
/// for `v >= 1`; accurate to about 2^-10 relative.
const fn log2_q16(v: u32) -> u64 {
    let e = 31 - v.leading_zeros();
    let mantissa = if e >= LOG_BITS {
        (v >> (e - LOG_BITS)) & ((1 << LOG_BITS) - 1)
    } else {
        (v << (LOG_BITS - e)) & ((1 << LOG_BITS) - 1)
    };
    ((e as u64) << 16) + LOG_TABLE[mantissa as usize] as u64
}

/// The order-0 entropy of the `n` bytes counted in `hist`, in bytes (rounded up): the
/// size an ideal order-0 coder reaches, which Huffman approaches within a few tenths of a
/// percent on weights and ANS more closely.
#[cfg(test)]
pub fn entropy_bytes(hist: &Histogram, n: usize) -> usize {
    order0_stats(hist, n).bits_q16.div_ceil(8 << 16) as usize
}

/// What [`order0_stats`] finds in a histogram.
pub struct Order0 {
    /// The order-0 entropy in bits, with 16 fraction bits.
    pub bits_q16: u64,
    /// The number of byte values counted at least once.
    pub used: usize,
    /// Whether one byte value holds all `n` counts.
    pub single: bool,
}

/// Counts up to this use [`C_LOG_C`] (those of the samples the encoder's choices count).
const SMALL_COUNT: usize = 4096;

/// `c * log2_q16(c)` for `c <= SMALL_COUNT` (0 for 0), computed at build time: the entropy
/// of a sample's histogram in one table load per value (the same values as computing them).
static C_LOG_C: [u32; SMALL_COUNT + 1] = {
    let mut t = [0u32; SMALL_COUNT + 1];
    let mut c = 1;
    while c <= SMALL_COUNT {
        t[c] = (c as u64 * log2_q16(c as u32)) as u32;
        c += 1;
    }
    t
};

/// `c * log2_q16(c)`, 0 for 0.
#[inline(always)]
fn c_log_c(c: u32) -> u64 {
    match C_LOG_C.get(c as usize) {
        Some(&v) => v as u64,
        None => c as u64 * log2_q16(c),
    }
}

/// The order-0 entropy of the `n` bytes counted in `hist` (as [`entropy_bits_q16`]), the
/// values used, and whether one value holds them all, in one pass over the counts.
pub fn order0_stats(hist: &Histogram, n: usize) -> Order0 {
    if n == 0 {
        return Order0 {
            bits_q16: 0,
            used: 0,
            single: false,
        };
    }
    let parts: u64 = if n <= SMALL_COUNT {
        // Every count is at most n: one table load each, no branch.
        hist.iter()
            .map(|&c| C_LOG_C[(c as usize).min(SMALL_COUNT)] as u64)
            .sum()
    } else {
        hist.iter().map(|&c| c_log_c(c)).sum()
    };
    let used = hist.iter().filter(|&&c| c > 0).count();
    let single = hist.iter().any(|&c| c as usize == n);
    Order0 {
        bits_q16: (n as u64 * log2_q16(n as u32)).saturating_sub(parts),
        used,
        single,
    }
}

/// The AVX2 count of a window of byte values, chosen at run time.
#[cfg(target_arch = "x86_64")]
pub(crate) mod avx2 {
    use super::{Histogram, WINDOW};
    use std::arch::x86_64::*;

    /// The histogram of `src`, counting the values `base .. base + WINDOW` with vector
    /// table look-ups ([`Window`]) and every other byte one by one.
    ///
    /// # Safety
    /// The CPU must support AVX2; `base as usize + WINDOW <= 256`.
    #[target_feature(enable = "avx2")]
    pub unsafe fn histogram_window(src: &[u8], base: u8) -> Histogram {
        debug_assert!(base as usize + WINDOW <= 256);
        let mut out = [0u32; 256];
        let whole = src.len() / 32 * 32;
        // SAFETY: the caller's AVX2 (and every call below).
        let mut window = unsafe { Window::new(base) };
        for group in src[..whole].chunks(32 * GROUP) {
            // SAFETY: `group` is whole vectors, at most `GROUP` of them.
            unsafe { window.count(group, &mut out) };
        }
        window.finish(&mut out);
        for &b in &src[whole..] {
            out[b as usize] += 1;
        }
        out
    }

    /// The most 32-byte vectors that one call of [`Window::count`] takes: what a 4-bit
    /// field counts before it would overflow.
    pub(crate) const GROUP: usize = 15;

    /// The vector count of the window of byte values `base .. base + WINDOW`.
    ///
    /// A byte's offset in the window indexes (`vpshufb`) eight tables, one per pair of
    /// values `2j, 2j + 1`, which give 0x01 for the first and 0x10 for the second: added
    /// into eight accumulators, each byte of which then holds the pair's two counts in its
    /// two 4-bit halves, good for [`GROUP`] vectors, after which they are folded into
    /// 64-bit sums. Two vector operations per pair of values, where a compare and a
    /// subtraction per value into sixteen 8-bit accumulators took four, and the loop fits
    /// in AVX2's sixteen registers (eight accumulators, the offset, the constants and
    /// some of the tables), where that one needed more and spilled every vector.
    /// The offset is `(v - base) + 0x70` with unsigned saturation, so bytes outside the
    /// window get bit 7 set, which `vpshufb` maps to 0 and `vpmovmskb` reports; those are
    /// counted one by one.
    ///
    /// Measured on Zen 3, one core: stand-alone copies of both loops counted 3840 bytes of
    /// MiniLM bf16's plane 0 from L1 in 2.5 (this one) against 5.9 ns per 32 bytes; one
    /// compression of MiniLM fp32 (callgrind of `zipnn bench -q -T 1 -n 1 -t fp32`) ran
    /// 28.3M instructions in [`histogram_window`] against 38.5M.
    pub(crate) struct Window {
        tables: [__m256i; 8],
        vbase: __m256i,
        off: __m256i,
        /// Per pair: the sum of the low fields, then of whole bytes (low + 16 * high).
        sums: [__m256i; 16],
        base: u8,
    }

    impl Window {
        /// # Safety
        /// The CPU must support AVX2; `base as usize + WINDOW <= 256`. (Always inlined,
        /// into functions that enable AVX2.)
        #[inline(always)]
        pub(crate) unsafe fn new(base: u8) -> Window {
            debug_assert!(base as usize + WINDOW <= 256);
            let mut t = [[0u8; 32]; 8];
            for (j, table) in t.iter_mut().enumerate() {
                for lane in [0, 16] {
                    table[lane + 2 * j] = 0x01;
                    table[lane + 2 * j + 1] = 0x10;
                }
            }
            // SAFETY: the caller's AVX2; each table has 32 readable bytes.
            unsafe {
                Window {
                    tables: t.map(|b| _mm256_loadu_si256(b.as_ptr().cast())),
                    vbase: _mm256_set1_epi8(base as i8),
                    off: _mm256_set1_epi8(0x70),
                    sums: [_mm256_setzero_si256(); 16],
                    base,
                }
            }
        }

        /// Counts `src` (whole 32-byte vectors, at most [`GROUP`] of them): its bytes in the
        /// window into the window's sums, the others into `hist`.
        ///
        /// # Safety
        /// The CPU must support AVX2. (Always inlined, into functions that enable AVX2.)
        #[inline(always)]
        pub(crate) unsafe fn count(&mut self, src: &[u8], hist: &mut Histogram) {
            debug_assert!(src.len() % 32 == 0 && src.len() <= 32 * GROUP);
            let mut acc = [_mm256_setzero_si256(); 8];
            for (k, v) in src.chunks_exact(32).enumerate() {
                // SAFETY: `v` has 32 readable bytes; the caller's AVX2.
                let idx = unsafe {
                    let v = _mm256_loadu_si256(v.as_ptr().cast());
                    _mm256_adds_epu8(_mm256_sub_epi8(v, self.vbase), self.off)
                };
                for (a, t) in acc.iter_mut().zip(&self.tables) {
                    *a = _mm256_add_epi8(*a, _mm256_shuffle_epi8(*t, idx));
                }
                let mut m = _mm256_movemask_epi8(idx) as u32;
                while m != 0 {
                    hist[src[32 * k + m.trailing_zeros() as usize] as usize] += 1;
                    m &= m - 1;
                }
            }
            // SAFETY: the caller's AVX2.
            unsafe { fold_fields(&acc, &mut self.sums) };
        }

        /// Adds the window's counts to `hist`.
        pub(crate) fn finish(&self, hist: &mut Histogram) {
            let total = |v: &__m256i| {
                // SAFETY: a 256-bit vector is four u64s, any bits valid.
                let t: [u64; 4] = unsafe { std::mem::transmute(*v) };
                t.iter().sum::<u64>()
            };
            for (j, s) in self.sums.chunks_exact(2).enumerate() {
                let (low, all) = (total(&s[0]), total(&s[1]));
                let k = self.base as usize + 2 * j;
                hist[k] += low as u32;
                hist[k + 1] += ((all - low) / 16) as u32;
            }
        }
    }

    /// Adds the 4-bit fields of the accumulators of [`Window::count`] into its sums.
    ///
    /// # Safety
    /// The CPU must support AVX2.
    #[inline]
    #[target_feature(enable = "avx2")]
    unsafe fn fold_fields(acc: &[__m256i; 8], sums: &mut [__m256i; 16]) {
        let zero = _mm256_setzero_si256();
        let low = _mm256_set1_epi8(0x0F);
        for (a, s) in acc.iter().zip(sums.chunks_exact_mut(2)) {
            s[0] = _mm256_add_epi64(s[0], _mm256_sad_epu8(_mm256_and_si256(*a, low), zero));
            s[1] = _mm256_add_epi64(s[1], _mm256_sad_epu8(*a, zero));
        }
    }

    /// The sum of the 32 8-bit counters in `a`.
    ///
    /// # Safety
    /// The CPU must support AVX2.
    #[inline]
    #[target_feature(enable = "avx2")]
    pub(crate) unsafe fn fold(a: __m256i) -> u32 {
        // Sums of the 8-bit counters, 64 bits per 128-bit quarter.
        let s = _mm256_sad_epu8(a, _mm256_setzero_si256());
        let mut t = [0u64; 4];
        // SAFETY: `t` has 32 writable bytes.
        unsafe { _mm256_storeu_si256(t.as_mut_ptr().cast(), s) };
        (t[0] + t[1] + t[2] + t[3]) as u32
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_rng::step;

    #[test]
    fn entropy_is_close_to_the_float_value() {
        for v in [1u32, 2, 3, 5, 1000, 4095, 65535, 1 << 26, u32::MAX] {
            let got = log2_q16(v) as f64 / 65536.0;
            assert!((got - (v as f64).log2()).abs() < 2e-3, "{v}: {got}");
        }
        let mut seed = 3;
        for spread in [1u64, 2, 7, 256] {
            let src: Vec<u8> = (0..100_000)
                .map(|_| (step(&mut seed) % spread) as u8)
                .collect();
            let h = histogram_portable(&src);
            let want: f64 = h
                .iter()
                .filter(|&&c| c > 0)
                .map(|&c| c as f64 * (src.len() as f64 / c as f64).log2())
                .sum::<f64>()
                / 8.0;
            let got = entropy_bytes(&h, src.len()) as f64;
            assert!(
                (got - want).abs() <= 2.0 + want * 1e-3,
                "{spread}: {got} vs {want}"
            );
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
                        let r = step(&mut seed);
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
                    if std::is_x86_feature_detected!("avx2") && n > 0 {
                        for base in [0u8, lo.min(240), 240] {
                            // SAFETY: AVX2 checked; base + 16 <= 256.
                            assert_eq!(unsafe { avx2::histogram_window(&src, base) }, h);
                        }
                    }
                }
            }
        }
    }
}
