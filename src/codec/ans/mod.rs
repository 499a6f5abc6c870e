//! Interleaved rANS coder for one plane-chunk (used at the max level).
//!
//! The byte format is described in docs/FORMAT.md ("ANS payload"). In short: the
//! frequency scale, the used symbol range and the quantised frequencies (a compact bit-packed
//! table), then the final states of sixteen interleaved rANS coders (32-bit states,
//! renormalised 16 bits at a time), then one shared stream of 16-bit words. Symbol `i` belongs
//! to state `i % 16`; the decoder reads the words in stream order, so the states decode in
//! lockstep with no per-state stream pointers (and, with AVX2, eight states per vector).
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
mod model;
#[cfg(test)]
mod tests;
#[cfg(target_arch = "x86_64")]
mod x86;

use decoder::decode_impl;
use encoder::encode_impl;
use model::choose_model;

use crate::error::Result;

/// Smallest frequency scale (log2 of the frequency total); 2^8 leaves room for 256 symbols.
pub const MIN_SCALE: u32 = 8;
/// Largest frequency scale.
pub const MAX_SCALE: u32 = 12;
/// Number of interleaved rANS states (fewer when there are fewer symbols).
const STATES: usize = 16;
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
    debug_assert_eq!(hist.iter().map(|&c| c as usize).sum::<usize>(), n);
    match choose_model(hist, n) {
        None => 0,
        Some(m) => m.estimate,
    }
}

/// Appends the rANS-coded form of `src` (whose histogram is `hist`) to `dst` and returns the
/// number of bytes appended. Deterministic: the output depends only on `src`.
pub fn encode(src: &[u8], hist: &[u32; 256], dst: &mut Vec<u8>) -> usize {
    encode_impl(src, hist, dst, false)
}

/// Decodes `src` (exactly the bytes `encode` appended) into `dst`, whose length is the number
/// of symbols that were encoded. Any malformed input is `Err(Corrupt)`.
pub fn decode(src: &[u8], dst: &mut [u8]) -> Result<()> {
    decode_impl(src, dst, true)
}

/// Order-0 histogram of `src` (for checks and tests; the library has its own).
fn histogram(src: &[u8]) -> [u32; 256] {
    let mut h = [0u32; 256];
    for &b in src {
        h[b as usize] += 1;
    }
    h
}
