//! Canonical, length-limited Huffman coder for one plane-chunk.
//!
//! The byte format is described in docs/FORMAT.md ("Huffman payload"). In short: a header
//! with the code lengths of the used symbol range (4 bits each), the bit sizes of the first
//! three of four streams, then the four streams as one LSB-first bit sequence. Stream `k`
//! codes the `k`-th contiguous quarter of the input, so the decoder can run the four streams
//! in lockstep, each writing its own region of the output.
//!
//! Decoding uses a 2^11-entry table whose entries hold up to seven symbols: every symbol whose
//! code fits, one after another, in the next 11 bits. Skewed planes (exponent bytes) thus
//! decode three or four symbols per lookup.

mod decoder;
mod encoder;
mod lengths;
#[cfg(test)]
mod tests;

pub(crate) use decoder::read_lengths;
pub use decoder::{decode, decode_pair_warming, decode_warming};
use encoder::encode_with;
use lengths::code_lengths;
pub(crate) use lengths::{canonical_codes, code_lengths_within, reverse};

/// Maximum code length in bits.
pub const MAX_CODE_LEN: u32 = 11;

const TABLE_BITS: u32 = MAX_CODE_LEN;
const TABLE_SIZE: usize = 1 << TABLE_BITS;
const TABLE_MASK: u64 = TABLE_SIZE as u64 - 1;
/// Bytes of the stream-size fields (three u32).
const SIZE_FIELDS: usize = 12;

/// Order-0 histogram of `src` (the same count the engine uses: `codec::histogram`).
pub fn histogram(src: &[u8]) -> [u32; 256] {
    super::histogram(src)
}

/// Exact size in bytes that `encode` will append for this input, computed from the histogram
/// alone. `n` is src.len().
pub fn encoded_size(hist: &[u32; 256], n: usize) -> usize {
    debug_assert_eq!(hist.iter().map(|&c| c as usize).sum::<usize>(), n);
    Plan::new(hist).map_or(0, |p| p.size)
}

/// A code built from a histogram: what both the size estimate and the encoder need, so the
/// code lengths are computed once per plane.
pub(crate) struct Plan {
    lens: [u8; 256],
    min: usize,
    max: usize,
    /// Exact payload size in bytes (header included).
    pub size: usize,
}

impl Plan {
    /// The code for a histogram; `None` for an empty input.
    pub fn new(hist: &[u32; 256]) -> Option<Plan> {
        let (min, max) = symbol_range(hist)?;
        let lens = code_lengths(hist);
        let bits: u64 = hist
            .iter()
            .zip(lens.iter())
            .map(|(&c, &l)| c as u64 * l as u64)
            .sum();
        Some(Plan {
            lens,
            min,
            max,
            size: header_len(min, max) + bits.div_ceil(8) as usize,
        })
    }
}

impl Plan {
    /// How many of the plane's symbols (`hist` is the plane's histogram) have codes longer
    /// than `bits`.
    pub(crate) fn symbols_longer_than(&self, hist: &[u32; 256], bits: u8) -> u64 {
        (0..256)
            .filter(|&s| self.lens[s] > bits)
            .map(|s| u64::from(hist[s]))
            .sum()
    }

    /// [`Plan::new`] where its size can come below `limit` bytes; `None` where a lower bound
    /// shows it cannot (or for an empty input), without building the code. `n` is the
    /// histogram's total. The bound is the symbol range's header plus the order-0 entropy,
    /// which no prefix code goes below, taken low enough to cover the fixed-point logarithms
    /// (each at most 2^-10 relative below the true one: the entropy they give is at most
    /// 0.0015 bits a symbol above it; 0.004 and one bit are taken off). So the result is
    /// the same as `Plan::new(hist).filter(|p| p.size < limit)`, and near-random planes
    /// (the mantissa planes of small chunks, up to 256 symbols in a few hundred bytes,
    /// which would need package-merge) are refused for the cost of one pass over the counts.
    pub fn below(hist: &[u32; 256], n: usize, limit: usize) -> Option<Plan> {
        let (min, max) = symbol_range(hist)?;
        let header = header_len(min, max);
        if header >= limit {
            return None;
        }
        // The entropy is at most log2 of the symbol range's width: where even that stays
        // below the limit (exponent planes), the bound cannot refuse and is not computed.
        let width_bits = (max - min + 1).next_power_of_two().trailing_zeros() as usize;
        if header + (n * width_bits).div_ceil(8) < limit {
            return Plan::new(hist).filter(|p| p.size < limit);
        }
        let bits_q16 = super::histogram::order0_stats(hist, n).bits_q16;
        let margin = (n as u64).saturating_mul(263).saturating_add(1 << 16);
        let low = (bits_q16.saturating_sub(margin) >> 16) / 8;
        if header as u64 + low >= limit as u64 {
            return None;
        }
        Plan::new(hist).filter(|p| p.size < limit)
    }
}

/// Appends the Huffman-coded form of `src` (whose histogram is `hist`) to `dst`.
pub fn encode(src: &[u8], hist: &[u32; 256], dst: &mut Vec<u8>) {
    let Some(plan) = Plan::new(hist) else {
        debug_assert!(src.is_empty());
        return;
    };
    let start = dst.len();
    // 8 bytes of slack let the writer use full-word stores to the end.
    dst.resize(start + plan.size + 8, 0);
    let w = encode_into(src, &plan, &mut dst[start..]);
    debug_assert_eq!(w, plan.size);
    dst.truncate(start + plan.size);
}

/// Writes the Huffman-coded form of `src` (coded with `plan`, built from its histogram) at the
/// start of `out`, which must hold at least `plan.size` bytes; returns `plan.size`. Bytes of
/// `out` past that (up to 8) may be overwritten with garbage.
pub(crate) fn encode_into(src: &[u8], plan: &Plan, out: &mut [u8]) -> usize {
    encode_with(src, plan, out, true)
}

/// Smallest and largest symbol with a nonzero count.
fn symbol_range(hist: &[u32; 256]) -> Option<(usize, usize)> {
    let min = hist.iter().position(|&c| c != 0)?;
    let max = 255 - hist.iter().rev().position(|&c| c != 0)?;
    Some((min, max))
}

fn header_len(min: usize, max: usize) -> usize {
    2 + (max - min + 1).div_ceil(2) + SIZE_FIELDS
}

/// A zero-filled `T` allocated on the heap directly (the coder's tables are too large for a
/// worker thread's stack).
///
/// # Safety
/// All-zero bytes must be a valid `T`, and `T` must not be zero-sized.
unsafe fn zeroed_box<T>() -> Box<T> {
    let layout = std::alloc::Layout::new::<T>();
    // SAFETY: the layout is not zero-sized and all-zero bytes are a valid `T` (the caller's
    // contract); a null result is handled.
    unsafe {
        let p = std::alloc::alloc_zeroed(layout).cast::<T>();
        if p.is_null() {
            std::alloc::handle_alloc_error(layout);
        }
        Box::from_raw(p)
    }
}
