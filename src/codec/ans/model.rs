//! The model: frequency scale, quantised frequencies and their stored tables.

use super::{FIXED, MAX_SCALE, MIN_SCALE};
use crate::error::{Error, Result};

/// Bits of the length prefix of each stored frequency.
const LEN_BITS: u32 = 4;
/// Fractional bits of the fixed-point log2 used to estimate sizes.
pub(super) const LOG_FRAC: u32 = 24;

pub(super) struct Model {
    pub(super) scale: u32,
    pub(super) min: usize,
    pub(super) max: usize,
    /// Quantised frequencies, summing to 2^scale (a lone symbol: all zero).
    pub(super) freq: [u32; 256],
    /// How the frequency table is stored.
    pub(super) table: Table,
    /// Estimated total payload size in bytes.
    pub(super) estimate: usize,
}

/// Frequency table kind 0: per symbol, a 4-bit bit length and the bits below the leading 1.
pub(super) const TABLE_LENGTHS: u8 = 0;
/// Frequency table kind 1: a 4-bit Rice parameter, then per symbol the Rice code of the
/// zigzagged difference from the previous symbol's frequency.
pub(super) const TABLE_RICE: u8 = 1;

/// The stored form of a model's frequency table.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Table {
    /// Kind 0 (best for peaked tables: exponent planes).
    Lengths,
    /// Kind 1 with this Rice parameter (best for smooth, flat tables: mantissa planes,
    /// where neighbouring frequencies differ by a few units).
    Rice(u32),
}

impl Table {
    pub(super) fn kind(self) -> u8 {
        match self {
            Table::Lengths => TABLE_LENGTHS,
            Table::Rice(_) => TABLE_RICE,
        }
    }
}

/// Picks the scale (and its quantised frequencies) with the smallest estimated size; ties go
/// to the smaller scale (a smaller decoding table). `None` for `n = 0`.
pub(super) fn choose_model(hist: &[u32; 256], n: usize, states: usize) -> Option<Model> {
    let min = hist.iter().position(|&c| c != 0)?;
    let max = 255 - hist.iter().rev().position(|&c| c != 0)?;
    let used = hist.iter().filter(|&&c| c != 0).count();
    if used == 1 {
        return Some(Model {
            scale: MIN_SCALE,
            min,
            max,
            freq: [0; 256],
            table: Table::Lengths,
            estimate: FIXED,
        });
    }
    let k = n.min(states);
    let mut best: Option<Model> = None;
    for scale in MIN_SCALE..=MAX_SCALE {
        if (1usize << scale) < used {
            continue;
        }
        let freq = normalise(hist, n, scale);
        // Information content in LOG_FRAC fixed point: sum c * log2(M / f).
        let mut data_q: u64 = 0;
        for s in min..=max {
            let c = hist[s] as u64;
            if c != 0 {
                data_q += c * (((scale as u64) << LOG_FRAC) - LOG2_TABLE[freq[s] as usize] as u64);
            }
        }
        let data_bytes = (data_q >> LOG_FRAC).div_ceil(8) as usize;
        // The output is 4k state bytes plus 2 bytes per word; the words carry the information
        // minus what the final states hold beyond their initial 16 bits, so the data part is
        // at most the information content plus the coder's rounding (far below 1/4096 bit
        // per symbol on average, hence the allowance).
        let slack = n / (8 * 4096) + 2;
        let lengths = freq_table_bits(&freq, min, max);
        let (rice_k, rice) = rice_table_bits(&freq, min, max, scale);
        let (table, bits) = if rice < lengths {
            (Table::Rice(rice_k), rice)
        } else {
            (Table::Lengths, lengths)
        };
        let header = FIXED + bits.div_ceil(8) as usize;
        let estimate = header + 4 * k + data_bytes + slack;
        if best.as_ref().is_none_or(|b| estimate < b.estimate) {
            best = Some(Model {
                scale,
                min,
                max,
                freq,
                table,
                estimate,
            });
        }
    }
    best
}

/// Quantises the counts to frequencies summing to `2^scale`, every used symbol at least 1,
/// approximately minimising `sum c * log2(M / f)`. Integer arithmetic only (deterministic).
pub(super) fn normalise(hist: &[u32; 256], n: usize, scale: u32) -> [u32; 256] {
    let m_total = 1u64 << scale;
    let n = n as u64;
    let mut freq = [0u32; 256];
    let mut sum = 0u64;
    for s in 0..256 {
        let c = hist[s] as u64;
        if c != 0 {
            let f = ((2 * c * m_total + n) / (2 * n)).max(1);
            freq[s] = f as u32;
            sum += f;
        }
    }
    // Greedy correction. The cost change of f -> f+1 is about c / (f + 1/2) (in nats), of
    // f -> f-1 about c / (f - 1/2); compare them as exact integer cross products.
    while sum < m_total {
        // Increment the symbol with the largest gain c / (2f + 1).
        let mut best = usize::MAX;
        for s in 0..256 {
            if hist[s] != 0
                && (best == usize::MAX
                    || hist[s] as u64 * (2 * freq[best] as u64 + 1)
                        > hist[best] as u64 * (2 * freq[s] as u64 + 1))
            {
                best = s;
            }
        }
        freq[best] += 1;
        sum += 1;
    }
    while sum > m_total {
        // Decrement the symbol (with f > 1) with the smallest loss c / (2f - 1).
        let mut best = usize::MAX;
        for s in 0..256 {
            if freq[s] > 1
                && (best == usize::MAX
                    || (hist[s] as u64) * (2 * freq[best] as u64 - 1)
                        < hist[best] as u64 * (2 * freq[s] as u64 - 1))
            {
                best = s;
            }
        }
        freq[best] -= 1;
        sum -= 1;
    }
    freq
}

/// `log2_fixed(f)` for every frequency `f < 2^MAX_SCALE` (0 for 0), computed at compile
/// time: the model search looks up a logarithm per used symbol and scale.
pub(super) static LOG2_TABLE: [u32; 1 << MAX_SCALE] = {
    let mut t = [0u32; 1 << MAX_SCALE];
    let mut v = 1;
    while v < t.len() {
        t[v] = log2_fixed(v as u32) as u32;
        v += 1;
    }
    t
};

/// `log2(v)` in `LOG_FRAC`-bit fixed point, for `v >= 1`, by repeated squaring (integer only).
pub(super) const fn log2_fixed(v: u32) -> u64 {
    debug_assert!(v >= 1);
    let e = 31 - v.leading_zeros();
    // Mantissa in [1, 2) as Q31.
    let mut m = (v as u64) << (31 - e);
    let mut frac = 0u64;
    let mut i = 0;
    while i < LOG_FRAC {
        m = (m * m) >> 31;
        frac <<= 1;
        if m >= 1 << 32 {
            m >>= 1;
            frac |= 1;
        }
        i += 1;
    }
    ((e as u64) << LOG_FRAC) | frac
}

/// Bit length of `f` (0 for 0).
pub(super) fn bit_len(f: u32) -> u32 {
    32 - f.leading_zeros()
}

/// Bits of the stored frequency table: symbols `min .. max` (the last one is implied).
pub(super) fn freq_table_bits(freq: &[u32; 256], min: usize, max: usize) -> u64 {
    freq[min..max]
        .iter()
        .map(|&f| (LEN_BITS + bit_len(f).saturating_sub(1)) as u64)
        .sum()
}

/// The zigzag form of a frequency difference: 0, -1, 1, -2, 2, ... become 0, 1, 2, 3, 4, ...
pub(super) fn zigzag(d: i64) -> u64 {
    if d >= 0 {
        2 * d as u64
    } else {
        (-2 * d - 1) as u64
    }
}

/// The differences a Rice table stores: for each symbol `min .. max` (not `max`), the
/// zigzagged difference from the previous symbol's frequency (0 before `min`).
pub(super) fn rice_values(
    freq: &[u32; 256],
    min: usize,
    max: usize,
) -> impl Iterator<Item = u64> + '_ {
    (min..max).map(move |s| {
        let prev = if s == min { 0 } else { freq[s - 1] as i64 };
        zigzag(freq[s] as i64 - prev)
    })
}

/// The best Rice parameter for a kind-1 table and the table's bits with it (the 4-bit
/// parameter included). Ties go to the smaller parameter.
pub(super) fn rice_table_bits(freq: &[u32; 256], min: usize, max: usize, scale: u32) -> (u32, u64) {
    let mut best = (0, u64::MAX);
    for k in 0..=scale {
        let bits = LEN_BITS as u64
            + rice_values(freq, min, max)
                .map(|z| (z >> k) + 1 + k as u64)
                .sum::<u64>();
        if bits < best.1 {
            best = (k, bits);
        }
    }
    best
}

/// Writes the frequency table in the model's kind (zero-padded to a byte).
pub(super) fn write_freqs(model: &Model, dst: &mut Vec<u8>) {
    match model.table {
        Table::Lengths => write_freqs_lengths(model, dst),
        Table::Rice(k) => write_freqs_rice(model, k, dst),
    }
}

/// Kind 1: the 4-bit Rice parameter `k`, then for each symbol `min .. max` the zigzagged
/// difference `z` as `z >> k` one bits, a zero bit and the low `k` bits of `z`; LSB-first.
fn write_freqs_rice(model: &Model, k: u32, dst: &mut Vec<u8>) {
    let mut acc = 0u64;
    let mut nbits = 0u32;
    // Appends the low `n <= 32` bits of `v`.
    let mut put = |v: u64, n: u32, dst: &mut Vec<u8>| {
        acc |= (v & ((1u64 << n) - 1)) << nbits;
        nbits += n;
        while nbits >= 8 {
            dst.push(acc as u8);
            acc >>= 8;
            nbits -= 8;
        }
    };
    put(k as u64, LEN_BITS, dst);
    for z in rice_values(&model.freq, model.min, model.max) {
        let mut q = z >> k;
        while q >= 32 {
            put(u32::MAX as u64, 32, dst);
            q -= 32;
        }
        put((1 << q) - 1, q as u32 + 1, dst);
        put(z, k, dst);
    }
    put(0, 7, dst);
}

/// Kind 0: for each symbol `min .. max` (not `max`), a 4-bit length `b` then the `b - 1`
/// bits of `f` below its leading one, LSB-first, zero-padded to a byte.
fn write_freqs_lengths(model: &Model, dst: &mut Vec<u8>) {
    let mut acc = 0u64;
    let mut nbits = 0u32;
    for &f in &model.freq[model.min..model.max] {
        let b = bit_len(f);
        debug_assert!(b < 16);
        acc |= (b as u64) << nbits;
        nbits += LEN_BITS;
        if b >= 2 {
            acc |= ((f - (1 << (b - 1))) as u64) << nbits;
            nbits += b - 1;
        }
        while nbits >= 8 {
            dst.push(acc as u8);
            acc >>= 8;
            nbits -= 8;
        }
    }
    if nbits > 0 {
        dst.push(acc as u8);
    }
}

/// Reads and validates the frequency table that starts at byte `FIXED`. Returns the
/// frequencies (the last one derived) and the offset of the first byte after the table.
pub(super) fn read_freqs(
    src: &[u8],
    scale: u32,
    min: usize,
    max: usize,
) -> Result<([u32; 256], usize)> {
    let m_total = 1u32 << scale;
    let mut freq = [0u32; 256];
    let mut pos = FIXED;
    let mut acc = 0u64;
    let mut nbits = 0u32;
    let mut take = |want: u32, pos: &mut usize| -> Result<u32> {
        while nbits < want {
            let &b = src.get(*pos).ok_or(Error::Corrupt)?;
            acc |= (b as u64) << nbits;
            nbits += 8;
            *pos += 1;
        }
        let v = (acc & ((1u64 << want) - 1)) as u32;
        acc >>= want;
        nbits -= want;
        Ok(v)
    };
    let mut sum = 0u32;
    for f in &mut freq[min..max] {
        let b = take(LEN_BITS, &mut pos)?;
        if b > scale {
            return Err(Error::Corrupt);
        }
        *f = match b {
            0 => 0,
            1 => 1,
            _ => (1 << (b - 1)) | take(b - 1, &mut pos)?,
        };
        sum += *f; // at most 255 * 2^15: no overflow
    }
    // Padding bits of the last table byte must be zero.
    if acc != 0 {
        return Err(Error::Corrupt);
    }
    if freq[min] == 0 || sum >= m_total {
        return Err(Error::Corrupt);
    }
    freq[max] = m_total - sum;
    Ok((freq, pos))
}

/// Reads and validates a kind-1 (Rice) frequency table that starts at byte `FIXED`; as
/// [`read_freqs`].
pub(super) fn read_freqs_rice(
    src: &[u8],
    scale: u32,
    min: usize,
    max: usize,
) -> Result<([u32; 256], usize)> {
    let m_total = 1u32 << scale;
    let mut freq = [0u32; 256];
    let mut pos = FIXED;
    let mut acc = 0u64;
    let mut nbits = 0u32;
    // The next `want <= 32` bits.
    let mut take = |want: u32, pos: &mut usize| -> Result<u64> {
        while nbits < want {
            let &b = src.get(*pos).ok_or(Error::Corrupt)?;
            acc |= (b as u64) << nbits;
            nbits += 8;
            *pos += 1;
        }
        let v = acc & ((1u64 << want) - 1);
        acc >>= want;
        nbits -= want;
        Ok(v)
    };
    let k = take(LEN_BITS, &mut pos)? as u32;
    // A stored difference is below M in size, so its zigzag form is below 2M.
    let max_q = (2 * m_total as u64) >> k;
    let mut prev = 0i64;
    let mut sum = 0u32;
    for f in &mut freq[min..max] {
        let mut q = 0u64;
        while take(1, &mut pos)? == 1 {
            q += 1;
            if q > max_q {
                return Err(Error::Corrupt);
            }
        }
        let z = q << k | take(k, &mut pos)?;
        let d = if z & 1 == 0 {
            (z >> 1) as i64
        } else {
            -((z >> 1) as i64) - 1
        };
        let v = prev + d;
        if !(0..m_total as i64).contains(&v) {
            return Err(Error::Corrupt);
        }
        *f = v as u32;
        prev = v;
        sum += *f;
        if sum >= m_total {
            return Err(Error::Corrupt);
        }
    }
    // Padding bits of the last table byte must be zero.
    if acc != 0 {
        return Err(Error::Corrupt);
    }
    if freq[min] == 0 {
        return Err(Error::Corrupt);
    }
    freq[max] = m_total - sum;
    Ok((freq, pos))
}
