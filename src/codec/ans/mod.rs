//! Interleaved rANS coder for one plane-chunk (used at the max level).
//!
//! The byte format is described in docs/FORMAT.md ("ANS payload"). In short: the
//! frequency scale, the used symbol range and the quantised frequencies (a compact bit-packed
//! table), then the final states of interleaved rANS coders (32-bit states, renormalised 16
//! bits at a time), then one shared stream of 16-bit words. Codec 6 has sixteen states;
//! codec 7 has thirty-two and keeps the last 64 symbols of a plane in the final states.
//! Symbol `i` belongs to state `i % K`; the decoder reads the words in stream order, so the
//! states decode in lockstep with no per-state stream pointers, eight states per AVX2
//! vector or sixteen per AVX-512 vector (`x86`), or one by one (the portable path).
//!
//! The encoder codes the symbols backwards, one group of `K` at a time, eight states per
//! AVX2 vector where the processor has AVX2 (`encoder_x86`), else one by one; both paths
//! give the same bytes.
//!
//! The frequencies sum to `M = 2^scale` with `scale` in 8..=12, chosen per plane-chunk to
//! minimise the coded size (table plus data). Decoding uses one `M`-entry table of 32-bit
//! entries (symbol, frequency, offset in the symbol's range): at most 16 KiB.
//!
//! The coded size depends on the order of the symbols, not only on their histogram, so this
//! coder offers [`estimated_size`] (a close estimate from the histogram) and [`encode`]
//! returns the actual size.

mod decoder;
mod encoder;
#[cfg(target_arch = "x86_64")]
mod encoder_x86;
mod model;
#[cfg(test)]
mod tests;
#[cfg(target_arch = "x86_64")]
mod x86;

use decoder::decode_impl;
use encoder::encode_impl;
#[doc(hidden)]
pub use encoder::EncPath;
use model::choose_model;

use crate::error::{Error, Result};

/// Smallest frequency scale (log2 of the frequency total); 2^8 leaves room for 256 symbols.
pub const MIN_SCALE: u32 = 8;
/// Largest frequency scale.
pub const MAX_SCALE: u32 = 12;
/// Interleaved states of codec 6 (`Ans`; fewer when there are fewer symbols).
pub const STATES: usize = 16;
/// Interleaved states of codec 7 (`AnsWide`): twice as many independent decoding chains,
/// which AVX2 and AVX-512 decoders run in parallel.
pub const WIDE_STATES: usize = 32;
/// Lower bound of the normalised state interval `[L, 2^32)`.
const L: u32 = 1 << 16;
/// Fixed header bytes: scale, min_sym, max_sym.
const FIXED: usize = 3;

// ---------------------------------------------------------------------------------------------
// Public API

/// Estimated size in bytes that `encode` will append for `n` symbols with histogram `hist`.
///
/// The estimate is the exact header size plus the model's information content of the data,
/// rounded up, plus a small allowance for the coder's rounding; the actual size is usually a
/// few bytes below it and practically never above. `0` for `n = 0`.
pub fn estimated_size(hist: &[u32; 256], n: usize) -> usize {
    estimate(hist, n, STATES)
}

/// [`estimated_size`] for [`encode_wide`].
pub fn estimated_size_wide(hist: &[u32; 256], n: usize) -> usize {
    estimate(hist, n, WIDE_STATES)
}

fn estimate(hist: &[u32; 256], n: usize, states: usize) -> usize {
    debug_assert_eq!(hist.iter().map(|&c| c as usize).sum::<usize>(), n);
    choose_model(hist, n, states).map_or(0, |m| m.estimate)
}

/// Appends the rANS-coded form of `src` (whose histogram is `hist`) to `dst` in the layout
/// of codec 6 (sixteen states) and returns the number of bytes appended. Deterministic: the
/// output depends only on `src`.
pub fn encode(src: &[u8], hist: &[u32; 256], dst: &mut Vec<u8>) -> usize {
    encode_impl::<STATES, false>(src, hist, dst, false, EncPath::best())
}

/// [`encode`] in the layout of codec 7 (thirty-two states).
pub fn encode_wide(src: &[u8], hist: &[u32; 256], dst: &mut Vec<u8>) -> usize {
    encode_impl::<WIDE_STATES, true>(src, hist, dst, false, EncPath::best())
}

/// [`encode`] (`wide` false) or [`encode_wide`] on encoder path `path` (for benchmarks and
/// tests); `InvalidParam` where this processor does not run it.
#[doc(hidden)]
pub fn encode_with(
    src: &[u8],
    hist: &[u32; 256],
    dst: &mut Vec<u8>,
    wide: bool,
    path: EncPath,
) -> Result<usize> {
    if !EncPath::available().contains(&path) {
        return Err(Error::InvalidParam);
    }
    Ok(if wide {
        encode_impl::<WIDE_STATES, true>(src, hist, dst, false, path)
    } else {
        encode_impl::<STATES, false>(src, hist, dst, false, path)
    })
}

/// Decodes a codec 6 payload (exactly the bytes `encode` appended) into `dst`, whose length
/// is the number of symbols that were encoded. Any malformed input is `Err(Corrupt)`.
pub fn decode(src: &[u8], dst: &mut [u8]) -> Result<()> {
    decode_impl::<STATES, false>(src, dst, Path::best(STATES))
}

/// Decodes a codec 7 payload ([`encode_wide`]'s output); as [`decode`].
pub fn decode_wide(src: &[u8], dst: &mut [u8]) -> Result<()> {
    decode_impl::<WIDE_STATES, true>(src, dst, Path::best(WIDE_STATES))
}

/// Decodes two codec 7 payloads, `a` into `da` and `b` into `db` (two planes of one
/// chunk), faster than two calls of [`decode_wide`] where the CPU can run them together;
/// the same output and errors.
pub fn decode_wide_pair(a: &[u8], da: &mut [u8], b: &[u8], db: &mut [u8]) -> Result<()> {
    decoder::decode_pair_impl(a, da, b, db, Path::best(WIDE_STATES))
}

/// [`decode_wide`] on `path` (for benchmarks and tests); `InvalidParam` where this
/// processor does not run it.
#[doc(hidden)]
pub fn decode_wide_with(src: &[u8], dst: &mut [u8], path: Path) -> Result<()> {
    if !Path::available().contains(&path) {
        return Err(Error::InvalidParam);
    }
    decode_impl::<WIDE_STATES, true>(src, dst, path)
}

/// [`decode_wide_pair`] on `path` (for benchmarks and tests); `InvalidParam` where this
/// processor does not run it.
#[doc(hidden)]
pub fn decode_wide_pair_with(
    a: &[u8],
    da: &mut [u8],
    b: &[u8],
    db: &mut [u8],
    path: Path,
) -> Result<()> {
    if !Path::available().contains(&path) {
        return Err(Error::InvalidParam);
    }
    decoder::decode_pair_impl(a, da, b, db, path)
}

/// Symbols of an `n`-symbol plane that `K` states with a tail (codec 7) carry in their
/// final states instead of coding them: two per state once `n >= 3K`, else none.
const fn tail_len<const K: usize, const WIDE: bool>(n: usize) -> usize {
    if WIDE && n >= 3 * K {
        2 * K
    } else {
        0
    }
}

/// The decoder's code paths. Every path gives the same output and the same errors; the
/// tests run each one the CPU supports.
#[doc(hidden)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Path {
    /// Scalar code, any CPU.
    Portable,
    /// AVX2 gathers, eight states per vector.
    Avx2,
    /// AVX2 with scalar table loads instead of gathers, and codec 7's two planes of a
    /// chunk in one loop.
    Avx2Loads,
    /// AVX-512 gathers, sixteen states per vector.
    Avx512,
}

impl Path {
    /// The paths this CPU can run, portable first.
    pub fn available() -> Vec<Path> {
        #[cfg_attr(not(target_arch = "x86_64"), allow(unused_mut))]
        let mut v = vec![Path::Portable];
        #[cfg(target_arch = "x86_64")]
        {
            if std::arch::is_x86_feature_detected!("avx2")
                && std::arch::is_x86_feature_detected!("popcnt")
            {
                v.push(Path::Avx2);
                v.push(Path::Avx2Loads);
                // Miri interprets AVX2 but not AVX-512.
                if !cfg!(miri) && std::arch::is_x86_feature_detected!("avx512f") {
                    v.push(Path::Avx512);
                }
            }
        }
        v
    }

    /// The fastest path for `states` states on this CPU. Sixteen states fill only one
    /// AVX-512 vector, whose gathers then have nothing to overlap with: two AVX2 vectors
    /// decode them faster (measured on AMD Zen 4: 1.14 against 1.01 Gsymbols/s), so
    /// AVX-512 is used for thirty-two states only (1.87 against 1.73 Gsymbols/s with four
    /// AVX2 vectors). Without AVX-512, thirty-two states take scalar loads instead of
    /// gathers (measured on AMD Zen 3, MiniLM bf16 planes two at a time: 1.9 against 1.27
    /// Gsymbols/s).
    fn best(states: usize) -> Path {
        let v = Path::available();
        if v.contains(&Path::Avx512) && states == WIDE_STATES {
            Path::Avx512
        } else if !v.contains(&Path::Avx2) {
            Path::Portable
        } else if states == WIDE_STATES {
            Path::Avx2Loads
        } else {
            Path::Avx2
        }
    }
}

/// Order-0 histogram of `src` (for checks and tests; the library has its own).
fn histogram(src: &[u8]) -> [u32; 256] {
    let mut h = [0u32; 256];
    for &b in src {
        h[b as usize] += 1;
    }
    h
}
