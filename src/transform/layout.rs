//! The layouts a chunk may use (docs/FORMAT.md section 6) and what the encoder needs to
//! choose between them: the count of the negative elements' exponent bytes, from which,
//! with layout 0's first plane, the exact histogram of layout 1's first plane follows, and
//! the move from one layout's planes to the other's.

use crate::codec::Histogram;
use crate::error::{Error, Result};
use crate::options::DType;

/// How a chunk's elements are cut into planes (docs/FORMAT.md section 6). A frame of format
/// version 2 records one per chunk, so the encoder can take, chunk by chunk, the layout whose
/// planes code smaller.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
#[repr(u8)]
pub enum Layout {
    /// The dtype's own layout: the bit moves of the table in section 6.
    #[default]
    Dtype = 0,
    /// Plain byte grouping: plane `k` holds byte `P - 1 - k` of every element (the sign and
    /// the exponent's high bits in plane 0). Offered for bf16, fp16 and fp32, whose layout 0
    /// moves bits; for every other dtype layout 0 already is plain grouping.
    Bytes = 1,
}

impl Layout {
    /// The layout stored as `code` in a chunk of `dtype` (`Corrupt` if that dtype does not
    /// offer it).
    pub fn from_code(code: u8, dtype: DType) -> Result<Layout> {
        match code {
            0 => Ok(Layout::Dtype),
            1 if has_bytes_layout(dtype) => Ok(Layout::Bytes),
            _ => Err(Error::Corrupt),
        }
    }

    /// The dtype whose own layout cuts elements the way this layout does for `dtype` (plain
    /// grouping is the raw dtype's layout).
    pub fn transform_dtype(self, dtype: DType) -> DType {
        match self {
            Layout::Dtype => dtype,
            Layout::Bytes => DType::Raw,
        }
    }
}

/// Whether `dtype` offers [`Layout::Bytes`] besides its own layout.
pub fn has_bytes_layout(dtype: DType) -> bool {
    matches!(dtype, DType::Bf16 | DType::Fp16 | DType::Fp32)
}

/// Over the negative elements, the histogram of plane 0 of layout 0 (`e`, the exponent
/// byte: bits 14..7 of a 16-bit element, 30..23 of a 32-bit one) shifted right by one: with
/// plane 0's own histogram, it gives layout 1's plane 0 (`s e[7:1]`) exactly
/// ([`bytes_first_plane`]).
pub type Pairs = [u32; 128];

/// The sign of each element, from layout 0's second plane (`s m7` for bf16 and fp32,
/// `m7 s` for fp16).
#[inline(always)]
fn sign_of(dtype: DType, p1: u8) -> u32 {
    if dtype == DType::Fp16 {
        (p1 & 1) as u32
    } else {
        (p1 >> 7) as u32
    }
}

/// [`Pairs`] of layout 0's first two planes `p0` and `p1` of `dtype` (bf16, fp16, fp32),
/// whose plane 0 has histogram `first`. With AVX2, where 16 consecutive values hold nearly
/// all of plane 0, their 8 pairs are counted with vector compares (about a third of the
/// work of counting plane 0 itself).
pub fn negative_pairs(dtype: DType, p0: &[u8], p1: &[u8], first: &Histogram) -> Pairs {
    debug_assert!(has_bytes_layout(dtype));
    #[cfg(target_arch = "x86_64")]
    {
        use crate::codec::histogram::{best_window, WINDOW_MIN};
        if p0.len() >= WINDOW_MIN && super::avx2::available() {
            if let Some(base) = best_window(first) {
                let pair = (base >> 1).min(128 - 8);
                let low_sign = dtype == DType::Fp16;
                // SAFETY: AVX2 is available (checked above); `pair + 8 <= 128`.
                return unsafe { super::avx2::count_negative_pairs(p0, p1, low_sign, pair) };
            }
        }
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = first;
    let mut h = [[0u32; 128]; 2];
    let mut pairs = p0.chunks_exact(2).zip(p1.chunks_exact(2));
    for (e, s) in &mut pairs {
        h[0][(e[0] >> 1) as usize] += sign_of(dtype, s[0]);
        h[1][(e[1] >> 1) as usize] += sign_of(dtype, s[1]);
    }
    if p0.len() % 2 == 1 {
        let i = p0.len() - 1;
        h[0][(p0[i] >> 1) as usize] += sign_of(dtype, p1[i]);
    }
    let mut out = [0u32; 128];
    for (o, (a, b)) in out.iter_mut().zip(h[0].iter().zip(h[1].iter())) {
        *o = a + b;
    }
    out
}

/// Plane 0's histogram and the [`Pairs`] of `dtype`'s (bf16, fp16, fp32) layout 0, counted
/// in one pass over the elements `src` themselves: for all three, the sign and plane 0 are
/// the element's top nine bits (bits 15..7 of a 16-bit element, 31..23 of a 32-bit one), so
/// one count of those (four tables of 512 counters, so that equal neighbours do not wait on
/// one counter) gives both. Used where plane 0 has no narrow window of values for the
/// vector counts (fp16's `e5 m3`).
pub fn count_first_and_pairs(dtype: DType, src: &[u8]) -> (Histogram, Pairs) {
    debug_assert!(has_bytes_layout(dtype));
    let mut h = [[0u32; 512]; 4];
    let mut words = src.chunks_exact(8);
    if dtype == DType::Fp32 {
        for w in &mut words {
            let v = u64::from_le_bytes([w[0], w[1], w[2], w[3], w[4], w[5], w[6], w[7]]);
            h[0][((v >> 23) & 511) as usize] += 1;
            h[1][((v >> 55) & 511) as usize] += 1;
        }
    } else {
        for w in &mut words {
            let v = u64::from_le_bytes([w[0], w[1], w[2], w[3], w[4], w[5], w[6], w[7]]);
            h[0][((v >> 7) & 511) as usize] += 1;
            h[1][((v >> 23) & 511) as usize] += 1;
            h[2][((v >> 39) & 511) as usize] += 1;
            h[3][((v >> 55) & 511) as usize] += 1;
        }
    }
    let es = dtype.element_size();
    for e in words.remainder().chunks_exact(es) {
        let top = u16::from_le_bytes([e[es - 2], e[es - 1]]);
        h[0][(top >> 7) as usize] += 1;
    }
    let mut first = [0u32; 256];
    let mut pairs = [0u32; 128];
    for t in &h {
        for e in 0..256 {
            first[e] += t[e] + t[256 + e];
            pairs[e >> 1] += t[256 + e];
        }
    }
    (first, pairs)
}

/// Elements per block of [`TopSample`].
const SAMPLE_RUN: usize = 64;
/// [`TopSample`] counts one block of [`SAMPLE_RUN`] elements in this many.
const SAMPLE_EVERY: usize = 64;

/// Counts, over a spread sample of a chunk's elements, of the two bytes' worth of bits that
/// make the first two planes of both layouts of bf16, fp16 and fp32: in all three, the
/// element's top 16 bits `w` hold them (layout 0's plane 0 is bits 14..7 of `w`, its plane
/// 1 the sign with bits 6..0, fp16 with bit 7 too; layout 1's planes are `w`'s two bytes).
/// The default level chooses each chunk's layout from it: one count of two small tables in
/// every [`SAMPLE_EVERY`]th block of [`SAMPLE_RUN`] elements, evenly spread over the chunk,
/// instead of exact counts of both layouts over every element (which the max level does).
pub struct TopSample {
    /// By `w >> 7`: the sign above layout 0's plane 0.
    top: [u32; 512],
    /// By the sign above `w`'s low byte.
    low: [u32; 512],
    /// Elements counted.
    pub count: usize,
}

impl TopSample {
    /// The sample of the elements `src` of `dtype` (bf16, fp16, fp32); chunks of at most
    /// `SAMPLE_EVERY` blocks are counted whole.
    pub fn of(dtype: DType, src: &[u8]) -> TopSample {
        Self::count::<true>(dtype, src)
    }

    /// [`TopSample::of`] with only what the second planes need (their histograms from
    /// [`TopSample::planes`]; the first planes' come out empty): for a caller that has the
    /// first planes' exact counts ([`count_first_and_pairs`]).
    pub fn of_second(dtype: DType, src: &[u8]) -> TopSample {
        Self::count::<false>(dtype, src)
    }

    /// The sample, with the table of the first planes where `TOP`.
    fn count<const TOP: bool>(dtype: DType, src: &[u8]) -> TopSample {
        debug_assert!(has_bytes_layout(dtype));
        let es = dtype.element_size();
        let (run, stride) = Self::spacing(dtype, src.len());
        let mut t = TopSample {
            top: [0; 512],
            low: [0; 512],
            count: 0,
        };
        for block in src.chunks(stride) {
            let block = &block[..block.len().min(run)];
            if es == 2 {
                t.count_block::<2, TOP>(block);
            } else {
                t.count_block::<4, TOP>(block);
            }
        }
        t
    }

    /// Asks the caches for the lines that [`TopSample::of`] will read in `chunk` (a prefetch
    /// is only a hint: it reads nothing architecturally and never faults).
    pub fn prefetch(dtype: DType, chunk: &[u8]) {
        #[cfg(target_arch = "x86_64")]
        {
            let (run, stride) = Self::spacing(dtype, chunk.len());
            let at = chunk.as_ptr();
            for block in (0..chunk.len()).step_by(stride) {
                let len = run.min(chunk.len() - block);
                // Every line the block touches, from the one it starts in: a block that does
                // not start a line (the tensors of a safetensors file start anywhere) spans
                // one line more than its length.
                let skew = (at as usize + block) % 64;
                for line in (0..skew + len).step_by(64) {
                    // SAFETY: a prefetch reads nothing architecturally and does not fault on
                    // any address (SSE, part of x86_64); the pointer is never dereferenced.
                    unsafe {
                        use std::arch::x86_64::{_mm_prefetch, _MM_HINT_T0};
                        let p = at.wrapping_add(block + line).wrapping_sub(skew);
                        _mm_prefetch::<_MM_HINT_T0>(p.cast());
                    }
                }
            }
        }
        #[cfg(not(target_arch = "x86_64"))]
        let _ = (dtype, chunk);
    }

    /// The bytes of a sampled block and the distance between sampled blocks, for a chunk of
    /// `len` bytes of `dtype`.
    fn spacing(dtype: DType, len: usize) -> (usize, usize) {
        let run = SAMPLE_RUN * dtype.element_size();
        let stride = if len <= run * SAMPLE_EVERY {
            run
        } else {
            run * SAMPLE_EVERY
        };
        (run, stride)
    }

    /// Counts the elements of `ES` bytes in `block` (in the table of the first planes only
    /// where `TOP`).
    #[inline(always)]
    fn count_block<const ES: usize, const TOP: bool>(&mut self, block: &[u8]) {
        let elements = block.chunks_exact(ES);
        self.count += elements.len();
        for e in elements {
            let w = u16::from_le_bytes([e[ES - 2], e[ES - 1]]) as usize;
            if TOP {
                self.top[w >> 7] += 1;
            }
            self.low[(w >> 15) << 8 | (w & 0xFF)] += 1;
        }
    }

    /// The histograms of the sampled elements' first two planes under `layout`.
    pub fn planes(&self, dtype: DType, layout: Layout) -> (Histogram, Histogram) {
        let (top, low) = (&self.top, &self.low);
        let (mut p0, mut p1) = ([0u32; 256], [0u32; 256]);
        // Each plane value gathers two counts of the tables (written as plain loops over
        // arrays, which the compiler turns into vector adds).
        match layout {
            Layout::Dtype => {
                // Plane 0 is `w`'s bits 14..7, whatever the sign above them.
                for (b, p) in p0.iter_mut().enumerate() {
                    *p = top[b] + top[256 + b];
                }
                // Plane 1 is the sign with bits 6..0 of `w` (bit 7, the exponent's low bit
                // for bf16 and fp32, is not in it): above them, or below them for fp16.
                for s in 0..2 {
                    let (a, b) = low[256 * s..256 * s + 256].split_at(128);
                    if dtype == DType::Fp16 {
                        for (j, (x, y)) in a.iter().zip(b).enumerate() {
                            p1[2 * j + s] = x + y;
                        }
                    } else {
                        for (p, (x, y)) in
                            p1[128 * s..128 * s + 128].iter_mut().zip(a.iter().zip(b))
                        {
                            *p = x + y;
                        }
                    }
                }
            }
            Layout::Bytes => {
                // Plane 0 is `w`'s high byte: the sign and bits 14..8.
                for (p, t) in p0.iter_mut().zip(top.chunks_exact(2)) {
                    *p = t[0] + t[1];
                }
                // Plane 1 is `w`'s low byte, whatever the sign.
                for (b, p) in p1.iter_mut().enumerate() {
                    *p = low[b] + low[256 + b];
                }
            }
        }
        (p0, p1)
    }
}

/// The histogram of layout 1's plane 0 (`s e[7:1]`, the element's top byte) from layout 0's
/// (`first`) and the negative elements' [`Pairs`].
pub fn bytes_first_plane(first: &Histogram, negative: &Pairs) -> Histogram {
    let mut out = [0u32; 256];
    for (p, &neg) in negative.iter().enumerate() {
        out[p] = first[2 * p] + first[2 * p + 1] - neg;
        out[128 + p] = neg;
    }
    out
}

/// The histograms of the second plane of layout 0 (`p1` itself) and of layout 1 (the
/// exponent's low bit, the byte of `p0`'s bit 0, above the seven bits of `p1` that are not
/// the sign), from layout 0's first two planes of `dtype` (bf16, fp16, fp32).
pub fn second_planes(dtype: DType, p0: &[u8], p1: &[u8]) -> (Histogram, Histogram) {
    debug_assert!(has_bytes_layout(dtype));
    let mut joint = [0u32; 512];
    for (&e, &sm) in p0.iter().zip(p1) {
        joint[((e & 1) as usize) << 8 | sm as usize] += 1;
    }
    let mut dtype_second = [0u32; 256];
    let mut bytes_second = [0u32; 256];
    for (k, &c) in joint.iter().enumerate() {
        let (e0, sm) = (k >> 8, k & 0xFF);
        dtype_second[sm] += c;
        let rest = if dtype == DType::Fp16 {
            sm >> 1
        } else {
            sm & 0x7F
        };
        bytes_second[e0 << 7 | rest] += c;
    }
    (dtype_second, bytes_second)
}

/// Turns layout 0's first two planes of `dtype` (bf16, fp16, fp32) into layout 1's, in
/// place: the sign moves into plane 0 and the exponent's low bit into plane 1.
pub fn to_bytes_layout(dtype: DType, p0: &mut [u8], p1: &mut [u8]) {
    debug_assert!(has_bytes_layout(dtype));
    if dtype == DType::Fp16 {
        // p0 = e5 m[9:7], p1 = m[6:0] s  ->  s e5 m[9:8], m[7:0]
        for (a, b) in p0.iter_mut().zip(p1.iter_mut()) {
            let (e, sm) = (*a, *b);
            *a = (sm << 7) | (e >> 1);
            *b = (e << 7) | (sm >> 1);
        }
    } else {
        // p0 = e8, p1 = s m7  ->  s e[7:1], e0 m7
        for (a, b) in p0.iter_mut().zip(p1.iter_mut()) {
            let (e, sm) = (*a, *b);
            *a = (sm & 0x80) | (e >> 1);
            *b = (e << 7) | (sm & 0x7F);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_rng::step as lcg;
    use crate::transform::split;

    #[test]
    fn codes_are_checked_per_dtype() {
        for dtype in DType::ALL {
            assert_eq!(Layout::from_code(0, dtype), Ok(Layout::Dtype));
            let bytes = Layout::from_code(1, dtype);
            if has_bytes_layout(dtype) {
                assert_eq!(bytes, Ok(Layout::Bytes));
            } else {
                assert_eq!(bytes, Err(Error::Corrupt), "{dtype:?}");
            }
            assert_eq!(Layout::from_code(2, dtype), Err(Error::Corrupt));
        }
    }

    #[test]
    fn negative_pairs_vector_and_plain_counts_agree() {
        // Peaked exponents with both signs (the vector window, with values outside it, at
        // odd and even bases) and spread ones (no window), around the vector block and past
        // the counters' fold.
        let mut seed = 5;
        let sizes: &[usize] = if cfg!(miri) {
            &[0, 33]
        } else {
            &[0, 1, 33, 8 * 1024 + 33, 32 * 255 * 3 + 5, 131_072]
        };
        for dtype in [DType::Bf16, DType::Fp16, DType::Fp32] {
            let es = dtype.element_size();
            for &n in sizes {
                for (rare, lo) in [(64u64, 112u8), (64, 113), (64, 240), (1, 0)] {
                    let src: Vec<u8> = (0..n)
                        .flat_map(|_| {
                            let r = lcg(&mut seed);
                            let e = if r % rare == 0 {
                                (r >> 8) as u8
                            } else {
                                lo.wrapping_add((r >> 8) as u8 % 16)
                            };
                            // Bits 14..7 are plane 0 of layout 0 for all three dtypes.
                            let top = ((r >> 20) as u16 & 1) << 15
                                | (e as u16) << 7
                                | (r >> 24) as u16 & 0x7F;
                            let mut b = lcg(&mut seed).to_le_bytes()[..es].to_vec();
                            b[es - 2..].copy_from_slice(&top.to_le_bytes());
                            b
                        })
                        .collect();
                    let mut planes = vec![0u8; src.len()];
                    split(dtype, es, &src, &mut planes);
                    let (p0, rest) = planes.split_at(n);
                    let first = crate::codec::histogram_portable(p0);
                    let mut want = [0u32; 128];
                    for (&e, &s) in p0.iter().zip(&rest[..n]) {
                        want[(e >> 1) as usize] += sign_of(dtype, s);
                    }
                    let got = negative_pairs(dtype, p0, &rest[..n], &first);
                    assert!(got == want, "{dtype:?} n={n} rare={rare} lo={lo}");
                    let (h, pairs) = count_first_and_pairs(dtype, &src);
                    assert!(h == first && pairs == want, "{dtype:?} n={n}");
                    let mut moved = vec![0u8; src.len()];
                    let (h, pairs) =
                        crate::transform::split_counting_layout(dtype, es, &src, &mut moved);
                    assert_eq!(moved, planes);
                    assert!(h == first && pairs == want, "{dtype:?} n={n}");
                }
            }
        }
    }

    #[test]
    fn sampled_planes_match_both_layouts_planes() {
        // Chunks short enough to be counted whole: the sample's plane histograms are the
        // planes' own, under both layouts.
        let mut seed = 11;
        for dtype in [DType::Bf16, DType::Fp16, DType::Fp32] {
            let es = dtype.element_size();
            for n in [0usize, 1, 63, 64, SAMPLE_RUN * SAMPLE_EVERY] {
                let src: Vec<u8> = (0..n * es).map(|_| lcg(&mut seed) as u8).collect();
                let sample = TopSample::of(dtype, &src);
                assert_eq!(sample.count, n);
                let second = TopSample::of_second(dtype, &src);
                assert_eq!(second.count, n);
                for (layout, planes_of) in [(Layout::Dtype, dtype), (Layout::Bytes, DType::Raw)] {
                    let mut planes = vec![0u8; src.len()];
                    split(planes_of, es, &src, &mut planes);
                    let (h0, h1) = sample.planes(dtype, layout);
                    assert_eq!(h0, crate::codec::histogram_portable(&planes[..n]));
                    assert_eq!(h1, crate::codec::histogram_portable(&planes[n..2 * n]));
                    assert_eq!(second.planes(dtype, layout).1, h1);
                }
            }
            // Longer chunks: one block of SAMPLE_RUN elements in SAMPLE_EVERY, the last
            // one cut short.
            let n = SAMPLE_RUN * SAMPLE_EVERY * 3 + 10;
            let src: Vec<u8> = (0..n * es).map(|_| lcg(&mut seed) as u8).collect();
            assert_eq!(TopSample::of(dtype, &src).count, 3 * SAMPLE_RUN + 10);
        }
    }

    #[test]
    fn moved_planes_and_counts_match_plain_grouping() {
        let mut seed = 3;
        for dtype in [DType::Bf16, DType::Fp16, DType::Fp32] {
            let es = dtype.element_size();
            for n in [0usize, 1, 2, 7, 1000] {
                let src: Vec<u8> = (0..n * es).map(|_| lcg(&mut seed) as u8).collect();
                let mut moved = vec![0u8; src.len()];
                split(dtype, es, &src, &mut moved);
                let (p0, rest) = moved.split_at_mut(n);
                let h0 = crate::codec::histogram_portable(p0);
                let h1 = bytes_first_plane(&h0, &negative_pairs(dtype, p0, &rest[..n], &h0));
                let (s0, s1) = second_planes(dtype, p0, &rest[..n]);
                assert_eq!(s0, crate::codec::histogram_portable(&rest[..n]));
                to_bytes_layout(dtype, p0, &mut rest[..n]);
                let mut plain = vec![0u8; src.len()];
                split(DType::Raw, es, &src, &mut plain);
                assert_eq!(moved, plain, "{dtype:?} n={n}");
                assert_eq!(h1, crate::codec::histogram_portable(&plain[..n]));
                assert_eq!(s1, crate::codec::histogram_portable(&plain[n..2 * n]));
            }
        }
    }
}
