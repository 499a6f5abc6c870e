//! XXH3-64 (seed 0) with the long-input loop vectorised for AVX2, chosen at run time.
//! `xxhash_rust` picks its SIMD width when it is compiled, which for a portable build is
//! SSE2: about 12 GB/s on this project's VM, against 50 GB/s here (cache-resident input),
//! and the decoder's checksum pass was a tenth of a bf16 decompression. (An AVX-512 loop
//! measured no faster than AVX2 there, and needs Rust 1.89.) Inputs of at most 240 bytes,
//! and CPUs without AVX2, go to `xxhash_rust`; the AVX2 path and a scalar rendering of the
//! same loop are checked against it in the tests below.
//!
//! The long-input algorithm (the XXH3 specification): 8 64-bit accumulators; each 64-byte
//! stripe adds, per 8-byte lane `i`, the lane's data to accumulator `i ^ 1` and the product
//! of the two 32-bit halves of `data ^ secret` to accumulator `i`; the secret advances 8
//! bytes per stripe, and after every 16 stripes (a block) the accumulators are scrambled.
//! The last stripe is taken from the input's last 64 bytes; then the accumulators are
//! merged into one value.
// Elsewhere than on x86-64 every hash is xxhash_rust's: this file's own loop, its
// constants and its merge then serve only the tests that check them against it.
#![cfg_attr(not(target_arch = "x86_64"), allow(dead_code))]

use super::le64;
use xxhash_rust::const_xxh3::const_custom_default_secret;

/// The default secret (seed 0 leaves it unchanged).
const SECRET: [u8; 192] = const_custom_default_secret(0);
const STRIPE: usize = 64;
/// Stripes per block: (secret length - 64) / 8.
const STRIPES_PER_BLOCK: usize = (SECRET.len() - STRIPE) / 8;
const BLOCK: usize = STRIPE * STRIPES_PER_BLOCK;
/// Inputs longer than this take the long (accumulator) path.
const MID_MAX: usize = 240;

const PRIME32_1: u64 = 0x9E37_79B1;
const PRIME32_2: u64 = 0x85EB_CA77;
const PRIME32_3: u64 = 0xC2B2_AE3D;
const PRIME64_1: u64 = 0x9E37_79B1_85EB_CA87;
const PRIME64_2: u64 = 0xC2B2_AE3D_27D4_EB4F;
const PRIME64_3: u64 = 0x1656_67B1_9E37_79F9;
const PRIME64_4: u64 = 0x85EB_CA77_C2B2_AE63;
const PRIME64_5: u64 = 0x27D4_EB2F_1656_67C5;
const PRIME_MX1: u64 = 0x1656_6791_9E37_79F9;

/// XXH3-64 of `bytes` with seed 0 (equal to `xxhash_rust::xxh3::xxh3_64`).
pub fn xxh3_64(bytes: &[u8]) -> u64 {
    #[cfg(target_arch = "x86_64")]
    {
        if bytes.len() > MID_MAX && std::is_x86_feature_detected!("avx2") {
            // SAFETY: the CPU supports AVX2 (checked just above).
            return unsafe { long_avx2(bytes) };
        }
    }
    xxhash_rust::xxh3::xxh3_64(bytes)
}

const INIT: [u64; 8] = [
    PRIME32_3, PRIME64_1, PRIME64_2, PRIME64_3, PRIME64_4, PRIME32_2, PRIME64_5, PRIME32_1,
];

/// The final merge of the accumulators (shared by every width).
fn merge(acc: &[u64; 8], len: usize) -> u64 {
    let mut r = (len as u64).wrapping_mul(PRIME64_1);
    for i in 0..4 {
        let a = acc[2 * i] ^ le64(&SECRET, 11 + 16 * i);
        let b = acc[2 * i + 1] ^ le64(&SECRET, 11 + 16 * i + 8);
        let p = a as u128 * b as u128;
        r = r.wrapping_add((p as u64) ^ ((p >> 64) as u64));
    }
    r ^= r >> 37;
    r = r.wrapping_mul(PRIME_MX1);
    r ^ (r >> 32)
}

/// The long path in plain Rust (the reference the vector paths mirror; used by the tests).
#[cfg(test)]
fn long_scalar(input: &[u8]) -> u64 {
    let stripe = |acc: &mut [u64; 8], data: &[u8], key: &[u8]| {
        for i in 0..8 {
            let d = le64(data, 8 * i);
            let k = d ^ le64(key, 8 * i);
            acc[i ^ 1] = acc[i ^ 1].wrapping_add(d);
            acc[i] = acc[i].wrapping_add((k & 0xFFFF_FFFF) * (k >> 32));
        }
    };
    let len = input.len();
    let mut acc = INIT;
    let blocks = (len - 1) / BLOCK;
    for b in 0..blocks {
        for s in 0..STRIPES_PER_BLOCK {
            stripe(&mut acc, &input[b * BLOCK + s * STRIPE..], &SECRET[8 * s..]);
        }
        for (i, a) in acc.iter_mut().enumerate() {
            let k = le64(&SECRET, SECRET.len() - STRIPE + 8 * i);
            *a = ((*a ^ (*a >> 47)) ^ k).wrapping_mul(PRIME32_1);
        }
    }
    let last = ((len - 1) - BLOCK * blocks) / STRIPE;
    for s in 0..last {
        stripe(
            &mut acc,
            &input[blocks * BLOCK + s * STRIPE..],
            &SECRET[8 * s..],
        );
    }
    stripe(
        &mut acc,
        &input[len - STRIPE..],
        &SECRET[SECRET.len() - STRIPE - 7..],
    );
    merge(&acc, len)
}

#[cfg(target_arch = "x86_64")]
use std::arch::x86_64::*;

/// # Safety
/// The CPU must support AVX2; `input.len() > MID_MAX`.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
unsafe fn long_avx2(input: &[u8]) -> u64 {
    let p = input.as_ptr();
    // SAFETY: the caller's AVX2 and length; stripes are asked for at offsets with
    // offset + 64 <= len, which `p` has.
    unsafe { long_avx2_by(input.len(), |at| p.add(at)) }
}

/// XXH3-64 (seed 0) of the concatenation of `parts`, without concatenating them (equal to
/// `xxh3_64` of the joined bytes): a chunk's checksum can read each plane from wherever
/// it is warm.
pub fn xxh3_64_parts(parts: &[&[u8]]) -> u64 {
    #[cfg(target_arch = "x86_64")]
    {
        let len: usize = parts.iter().map(|p| p.len()).sum();
        if len > MID_MAX && std::is_x86_feature_detected!("avx2") {
            let mut cur = Parts {
                parts,
                k: 0,
                start: 0,
                tmp: [0; STRIPE],
            };
            // SAFETY: the CPU supports AVX2 (checked just above); `Parts::stripe` returns a
            // pointer to 64 readable bytes for every offset with offset + 64 <= len.
            return unsafe { long_avx2_by(len, |at| cur.stripe(at)) };
        }
    }
    let mut h = xxhash_rust::xxh3::Xxh3::new();
    for p in parts {
        h.update(p);
    }
    h.digest()
}

/// [`xxh3_64_parts`], also copying each part `k` that has a destination `copies[k]` (of
/// its length) there, with non-temporal stores (AVX2) as its stripes are hashed: the bytes
/// are read once, for both, and the copy goes around the caches into an output too large
/// to stay in them. Equal to copying each part and then hashing the parts.
pub fn xxh3_64_parts_copying(parts: &[&[u8]], copies: &mut [Option<&mut [u8]>]) -> u64 {
    assert_eq!(parts.len(), copies.len());
    for (p, c) in parts.iter().zip(copies.iter()) {
        if let Some(d) = c {
            assert_eq!(p.len(), d.len());
        }
    }
    #[cfg(target_arch = "x86_64")]
    {
        let len: usize = parts.iter().map(|p| p.len()).sum();
        if len > MID_MAX && std::is_x86_feature_detected!("avx2") {
            // SAFETY: the CPU supports AVX2 (checked just above); len > MID_MAX.
            return unsafe { long_avx2_copying(parts, copies, len) };
        }
    }
    for (p, c) in parts.iter().zip(copies.iter_mut()) {
        if let Some(d) = c {
            d.copy_from_slice(p);
        }
    }
    xxh3_64_parts(parts)
}

/// The accumulators of the long path and the stripe within the block.
#[cfg(target_arch = "x86_64")]
struct Acc {
    a0: __m256i,
    a1: __m256i,
    s: usize,
}

#[cfg(target_arch = "x86_64")]
impl Acc {
    /// The accumulators' starting values.
    ///
    /// # Safety
    /// The CPU must support AVX2 (only called from functions that enable it).
    #[inline(always)]
    unsafe fn new() -> Acc {
        // SAFETY: AVX2 (the caller's); INIT has 8 u64s.
        unsafe {
            Acc {
                a0: _mm256_loadu_si256(INIT.as_ptr().cast()),
                a1: _mm256_loadu_si256(INIT.as_ptr().add(4).cast()),
                s: 0,
            }
        }
    }

    /// Adds the stripe at `d` (64 readable bytes) with key `k` (64 readable bytes).
    ///
    /// # Safety
    /// The CPU must support AVX2 (only called from functions that enable it).
    #[inline(always)]
    unsafe fn add(&mut self, d: *const u8, k: *const u8) {
        // SAFETY: the caller's 64 readable bytes at `d` and at `k`, and AVX2.
        unsafe {
            for (acc, off) in [(&mut self.a0, 0usize), (&mut self.a1, 32)] {
                let dv = _mm256_loadu_si256(d.add(off).cast());
                let kv = _mm256_xor_si256(dv, _mm256_loadu_si256(k.add(off).cast()));
                let prod = _mm256_mul_epu32(kv, _mm256_srli_epi64::<32>(kv));
                let sw = _mm256_shuffle_epi32::<0b01_00_11_10>(dv);
                *acc = _mm256_add_epi64(*acc, _mm256_add_epi64(sw, prod));
            }
        }
    }

    /// Adds the next regular stripe, at `d`, and scrambles after the last of a block.
    ///
    /// # Safety
    /// As [`Acc::add`].
    #[inline(always)]
    unsafe fn next(&mut self, d: *const u8) {
        let sp = SECRET.as_ptr();
        // SAFETY: the caller's contract; 8 * s + 64 <= 184 for s < 16.
        unsafe { self.add(d, sp.add(8 * self.s)) };
        self.s += 1;
        if self.s == STRIPES_PER_BLOCK {
            self.s = 0;
            // SAFETY: the caller's AVX2.
            unsafe { self.scramble() };
        }
    }

    /// Scrambles the accumulators at the end of a block.
    ///
    /// # Safety
    /// As [`Acc::new`].
    #[inline(always)]
    unsafe fn scramble(&mut self) {
        let sp = SECRET.as_ptr();
        // SAFETY: AVX2 (the caller's); the scramble key is the secret's last 64 bytes.
        unsafe {
            let prime = _mm256_set1_epi64x(PRIME32_1 as i64);
            let scramble = |acc: __m256i, k: __m256i| {
                let x = _mm256_xor_si256(_mm256_xor_si256(acc, _mm256_srli_epi64::<47>(acc)), k);
                let lo = _mm256_mul_epu32(x, prime);
                let hi = _mm256_mul_epu32(_mm256_srli_epi64::<32>(x), prime);
                _mm256_add_epi64(lo, _mm256_slli_epi64::<32>(hi))
            };
            let sk0 = _mm256_loadu_si256(sp.add(SECRET.len() - STRIPE).cast());
            let sk1 = _mm256_loadu_si256(sp.add(SECRET.len() - STRIPE + 32).cast());
            self.a0 = scramble(self.a0, sk0);
            self.a1 = scramble(self.a1, sk1);
        }
    }

    /// Adds the last stripe, at `d` (the input's last 64 bytes), with its own key, and
    /// merges the accumulators into the hash of `len` bytes.
    ///
    /// # Safety
    /// As [`Acc::add`].
    #[inline(always)]
    unsafe fn finish(mut self, d: *const u8, len: usize) -> u64 {
        let mut out = [0u64; 8];
        // SAFETY: the caller's 64 readable bytes at `d` and AVX2; the final key is at the
        // secret's end less 71 bytes.
        unsafe {
            self.add(d, SECRET.as_ptr().add(SECRET.len() - STRIPE - 7));
            _mm256_storeu_si256(out.as_mut_ptr().cast(), self.a0);
            _mm256_storeu_si256(out.as_mut_ptr().add(4).cast(), self.a1);
        }
        merge(&out, len)
    }
}

/// [`xxh3_64_parts_copying`]'s long path: the stripes that lie inside one part are hashed
/// from it directly, a block at a time, and a copied part's bytes are copied right after
/// the stripes that read them (from the first level cache); stripes that straddle parts
/// are gathered.
///
/// # Safety
/// The CPU must support AVX2; `len` is the parts' total length, above `MID_MAX`.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
unsafe fn long_avx2_copying(parts: &[&[u8]], copies: &mut [Option<&mut [u8]>], len: usize) -> u64 {
    debug_assert!(len > MID_MAX);
    // SAFETY: AVX2 (the caller's).
    let mut acc = unsafe { Acc::new() };
    // Regular stripes: those ending before the last byte.
    let stripes = (len - 1) / STRIPE;
    let mut gather = Parts {
        parts,
        k: 0,
        start: 0,
        tmp: [0; STRIPE],
    };
    let mut j = 0;
    let mut start = 0;
    for (p, copy) in parts.iter().zip(copies.iter_mut()) {
        let end = start + p.len();
        let mut copied = 0;
        // Stripes starting in this part: whole ones from the part, the last maybe gathered.
        while j < stripes && STRIPE * j < end {
            let at = STRIPE * j - start;
            if at + STRIPE <= p.len() {
                // A run of whole stripes, at most to the block's end.
                let run = ((p.len() - at) / STRIPE)
                    .min(stripes - j)
                    .min(STRIPES_PER_BLOCK - acc.s);
                for i in 0..run {
                    // SAFETY: at + 64 * (i + 1) <= p.len(); AVX2.
                    unsafe { acc.next(p.as_ptr().add(at + STRIPE * i)) };
                }
                j += run;
                if let Some(d) = copy.as_deref_mut() {
                    // SAFETY: AVX2.
                    copied = unsafe { copy_stream_range(p, d, copied, at + STRIPE * run) };
                }
            } else {
                // SAFETY: 64 readable bytes at the gathered stripe; AVX2.
                unsafe { acc.next(gather.stripe(STRIPE * j)) };
                j += 1;
            }
        }
        if let Some(d) = copy.as_deref_mut() {
            // SAFETY: AVX2.
            unsafe { copy_stream_range(p, d, copied, p.len()) };
        }
        start = end;
    }
    // SAFETY: the last 64 bytes (len > 64), gathered if they straddle; AVX2. SSE2's fence
    // orders the non-temporal stores before anything that follows.
    unsafe {
        _mm_sfence();
        acc.finish(gather.stripe(len - STRIPE), len)
    }
}

/// Copies `src[off..stop]` to the same place of `dst` (of `src`'s length), with 32-byte
/// non-temporal stores from the first 32-byte aligned byte of `dst` on: plain copies
/// before it and, where `stop` is the end, after the last whole store. Returns how far it
/// copied (`stop`, or less by under 32 bytes that wait for a later call).
///
/// # Safety
/// The CPU must support AVX2.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
#[inline]
unsafe fn copy_stream_range(src: &[u8], dst: &mut [u8], off: usize, stop: usize) -> usize {
    let aligned = ((dst.as_ptr() as usize).wrapping_neg() % 32).min(src.len());
    let mut o = off;
    if o < aligned {
        let e = aligned.min(stop);
        dst[o..e].copy_from_slice(&src[o..e]);
        o = e;
    }
    if o >= aligned {
        while o + 32 <= stop {
            // SAFETY: o + 32 <= stop <= len for both; `dst + o` is 32-byte aligned (o
            // starts at `aligned` and moves by 32).
            unsafe {
                let v = _mm256_loadu_si256(src.as_ptr().add(o).cast());
                _mm256_stream_si256(dst.as_mut_ptr().add(o).cast(), v);
            }
            o += 32;
        }
    }
    if stop == src.len() && o < stop {
        dst[o..stop].copy_from_slice(&src[o..stop]);
        o = stop;
    }
    o
}

/// A cursor over the concatenation of some slices, handing out 64-byte stripes.
#[cfg_attr(not(target_arch = "x86_64"), allow(dead_code))]
struct Parts<'a> {
    parts: &'a [&'a [u8]],
    /// The part holding the last stripe's start, and that part's offset.
    k: usize,
    start: usize,
    /// A stripe that straddles parts, gathered.
    tmp: [u8; STRIPE],
}

#[cfg_attr(not(target_arch = "x86_64"), allow(dead_code))]
impl Parts<'_> {
    /// A pointer to the 64 bytes at offset `at` of the concatenation (`at + 64` at most the
    /// total length). Offsets are asked for in increasing order, except that the last may
    /// go back at most one stripe.
    #[inline(always)]
    fn stripe(&mut self, at: usize) -> *const u8 {
        while at < self.start {
            self.k -= 1;
            self.start -= self.parts[self.k].len();
        }
        while at >= self.start + self.parts[self.k].len() {
            self.start += self.parts[self.k].len();
            self.k += 1;
        }
        let p = self.parts[self.k];
        let off = at - self.start;
        if off + STRIPE <= p.len() {
            return p[off..].as_ptr();
        }
        // Straddles: gather from this part on.
        let mut got = 0;
        let mut k = self.k;
        let mut from = off;
        while got < STRIPE {
            let src = &self.parts[k][from..];
            let take = src.len().min(STRIPE - got);
            self.tmp[got..got + take].copy_from_slice(&src[..take]);
            got += take;
            k += 1;
            from = 0;
        }
        self.tmp.as_ptr()
    }
}

/// The long path over `len > MID_MAX` bytes whose stripe at offset `at` (a multiple of 64,
/// or `len - 64`) is read from `stripe(at)`; `stripe` is called in increasing order of
/// `at`, except for the final `len - 64`.
///
/// # Safety
/// The CPU must support AVX2; each pointer `stripe` returns must have 64 readable bytes.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
#[inline]
unsafe fn long_avx2_by(len: usize, mut get: impl FnMut(usize) -> *const u8) -> u64 {
    debug_assert!(len > MID_MAX);
    let sp = SECRET.as_ptr();
    // SAFETY (every call below): stripes are asked for at offsets + 64 <= len, the last one
    // at len - 64, and `get` returns 64 readable bytes for them; the keys stay within the
    // secret's 192 bytes (8 * 15 + 64); AVX2 (the caller's).
    unsafe {
        let mut acc = Acc::new();
        let blocks = (len - 1) / BLOCK;
        for b in 0..blocks {
            for s in 0..STRIPES_PER_BLOCK {
                acc.add(get(b * BLOCK + s * STRIPE), sp.add(8 * s));
            }
            acc.scramble();
        }
        let last = ((len - 1) - BLOCK * blocks) / STRIPE;
        for s in 0..last {
            acc.add(get(blocks * BLOCK + s * STRIPE), sp.add(8 * s));
        }
        acc.finish(get(len - STRIPE), len)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_rng::step;

    fn data(n: usize) -> Vec<u8> {
        let mut s = 0x0123_4567_89AB_CDEFu64;
        (0..n).map(|_| (step(&mut s) >> 24) as u8).collect()
    }

    #[test]
    fn every_path_matches_xxhash_rust() {
        // Under Miri (scripts/miri.sh), a few lengths around each path's edges.
        let big = data(if cfg!(miri) { 3000 } else { 300_010 });
        let mut lens: Vec<usize> = if cfg!(miri) {
            vec![0, 1, 16, 17, 128, 129, 240, 241, 1024, 1025, 2049]
        } else {
            (0..2100).collect()
        };
        if !cfg!(miri) {
            lens.extend([4095, 4096, 4097, 16383, 16384, 65536 + 1, 262_144, 299_999]);
        }
        for &n in &lens {
            // Unaligned starts too.
            for off in [0usize, 3] {
                let b = &big[off..off + n];
                let want = xxhash_rust::xxh3::xxh3_64(b);
                assert_eq!(xxh3_64(b), want, "n={n}");
                if n > MID_MAX {
                    assert_eq!(long_scalar(b), want, "scalar n={n}");
                    #[cfg(target_arch = "x86_64")]
                    {
                        if std::is_x86_feature_detected!("avx2") {
                            // SAFETY: AVX2 checked; n > MID_MAX.
                            assert_eq!(unsafe { long_avx2(b) }, want, "avx2 n={n}");
                        }
                    }
                }
            }
        }
        assert_eq!(xxh3_64(&[]), 0x2D06_8005_38D3_94C2);
    }

    #[test]
    fn copying_parts_hash_as_their_concatenation_and_copy_them() {
        let big = data(if cfg!(miri) { 1500 } else { 70_000 });
        let mut seed = 7u64;
        let lens: &[usize] = if cfg!(miri) {
            &[0, 100, 241, 1400]
        } else {
            &[
                0, 1, 63, 64, 240, 241, 300, 1024, 1025, 5000, 65_537, 69_999,
            ]
        };
        for &n in lens {
            let b = &big[..n];
            let want = xxhash_rust::xxh3::xxh3_64(b);
            for round in 0..if cfg!(miri) { 3 } else { 30 } {
                // Random cuts; every other part (or every part, or none) copied, into
                // destinations at every alignment.
                let mut parts = Vec::new();
                let mut at = 0;
                while at < n {
                    let r = (step(&mut seed) >> 33) as usize;
                    let take = if r % 4 == 0 { r % 70 } else { r % 9000 }.min(n - at);
                    parts.push(&b[at..at + take]);
                    at += take;
                }
                let mut dst = vec![0xEEu8; n + 64 * parts.len()];
                let mut copies: Vec<Option<&mut [u8]>> = Vec::new();
                let mut rest: &mut [u8] = &mut dst;
                let mut spans = Vec::new();
                for (k, p) in parts.iter().enumerate() {
                    let skip = (step(&mut seed) >> 40) as usize % 33;
                    let (_, r) = std::mem::take(&mut rest).split_at_mut(skip);
                    let (d, r) = r.split_at_mut(p.len());
                    rest = r;
                    let copy = match round % 3 {
                        0 => k % 2 == 0,
                        1 => true,
                        _ => false,
                    };
                    copies.push(copy.then_some(d));
                    spans.push(copy);
                }
                assert_eq!(xxh3_64_parts_copying(&parts, &mut copies), want, "n={n}");
                for ((p, c), copied) in parts.iter().zip(&copies).zip(&spans) {
                    if *copied {
                        assert_eq!(c.as_deref().unwrap(), *p, "n={n}");
                    }
                }
            }
        }
    }

    #[test]
    fn parts_hash_as_their_concatenation() {
        let big = data(if cfg!(miri) { 1000 } else { 20_000 });
        let lens: &[usize] = if cfg!(miri) {
            &[0, 100, 241, 1000]
        } else {
            &[
                0, 1, 63, 64, 100, 240, 241, 300, 1024, 1025, 1088, 5000, 20_000,
            ]
        };
        let mut seed = 1u64;
        for &n in lens {
            let b = &big[..n];
            let want = xxhash_rust::xxh3::xxh3_64(b);
            assert_eq!(xxh3_64_parts(&[b]), want, "n={n}");
            assert_eq!(xxh3_64_parts(&[]), xxhash_rust::xxh3::xxh3_64(&[]));
            // Cuts at every stripe edge and near it, empty parts, many tiny parts.
            for cut in [0, 1, 5, 63, 64, 65, 127, 128, 1023, 1024, 1025, n / 2, n] {
                let cut = cut.min(n);
                let (x, y) = b.split_at(cut);
                assert_eq!(xxh3_64_parts(&[x, y]), want, "n={n} cut={cut}");
                assert_eq!(xxh3_64_parts(&[x, &[], y, &[]]), want, "n={n} cut={cut}");
            }
            for _ in 0..if cfg!(miri) { 2 } else { 20 } {
                let mut parts = Vec::new();
                let mut at = 0;
                while at < n {
                    let take = ((step(&mut seed) >> 33) as usize % 150).min(n - at);
                    parts.push(&b[at..at + take]);
                    at += take;
                }
                assert_eq!(xxh3_64_parts(&parts), want, "n={n} {} parts", parts.len());
            }
        }
    }
}
