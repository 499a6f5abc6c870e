//! Interleaved rANS coder for one plane-chunk (used at the max level).
//!
//! The byte format is described in docs/FORMAT-ans.md ("ANS payload"). In short: the
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

use crate::error::{Error, Result};

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
/// Bits of the length prefix of each stored frequency.
const LEN_BITS: u32 = 4;
/// Fractional bits of the fixed-point log2 used to estimate sizes.
const LOG_FRAC: u32 = 24;

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

/// `encode`; `small_buf` starts with a minimal word buffer (tests its growth).
fn encode_impl(src: &[u8], hist: &[u32; 256], dst: &mut Vec<u8>, small_buf: bool) -> usize {
    let n = src.len();
    debug_assert_eq!(hist, &histogram(src));
    let Some(model) = choose_model(hist, n) else {
        return 0;
    };
    let start = dst.len();
    dst.push(model.table.kind() << 4 | model.scale as u8);
    dst.push(model.min as u8);
    dst.push(model.max as u8);
    if model.min == model.max {
        return FIXED;
    }
    write_freqs(&model, dst);

    // Encoder tables: per symbol its renormalisation bound, reciprocal and offsets.
    let scale = model.scale;
    let m_total = 1u32 << scale;
    let mut enc = [EncSym::default(); 256];
    let mut cum = 0u32;
    for (e, &f) in enc.iter_mut().zip(model.freq.iter()) {
        if f != 0 {
            *e = EncSym::new(f, cum, scale, m_total);
            cum += f;
        }
    }
    debug_assert_eq!(cum, m_total);

    // Encode backwards: symbol i with state i % 16. The words are produced in reverse stream
    // order, so they are written backwards from the end of `buf`, which starts at about the
    // estimated size and doubles if needed (a group of 16 symbols emits at most 16 words, and
    // `put` writes one scratch word below the last one).
    let k = n.min(STATES);
    let mut x = [L; STATES];
    let initial = if small_buf { 0 } else { model.estimate / 2 };
    let mut buf = vec![0u16; initial + 4 * STATES];
    let mut w = buf.len();
    let mut i = n;
    // Ragged end first so the main loop handles whole groups of 16.
    while i % STATES != 0 {
        i -= 1;
        let j = i % STATES;
        x[j] = enc[src[i] as usize].put(x[j], &mut buf, &mut w);
    }
    while i > 0 {
        if w <= STATES {
            let used = buf.len() - w;
            let mut bigger = vec![0u16; 2 * buf.len()];
            let nw = bigger.len() - used;
            bigger[nw..].copy_from_slice(&buf[w..]);
            (buf, w) = (bigger, nw);
        }
        i -= STATES;
        let g: &[u8; STATES] = src[i..i + STATES]
            .try_into()
            .unwrap_or_else(|_| unreachable!());
        let p = buf.as_mut_ptr();
        for j in (0..STATES).rev() {
            // SAFETY: w > STATES before the group and each step lowers it by at most one, so
            // every write at w - 1 is within `buf`.
            x[j] = unsafe { enc[g[j] as usize].put_raw(x[j], p, &mut w) };
        }
    }
    let words = &buf[w..];
    dst.reserve(4 * k + 2 * words.len());
    for &xj in &x[..k] {
        dst.extend_from_slice(&xj.to_le_bytes());
    }
    for &wd in words {
        dst.extend_from_slice(&wd.to_le_bytes());
    }
    dst.len() - start
}

/// Decodes `src` (exactly the bytes `encode` appended) into `dst`, whose length is the number
/// of symbols that were encoded. Any malformed input is `Err(Corrupt)`.
pub fn decode(src: &[u8], dst: &mut [u8]) -> Result<()> {
    decode_impl(src, dst, true)
}

/// `decode`, with the SIMD fast path allowed or not (tests run both).
fn decode_impl(src: &[u8], dst: &mut [u8], allow_simd: bool) -> Result<()> {
    let n = dst.len();
    if n == 0 {
        return if src.is_empty() {
            Ok(())
        } else {
            Err(Error::Corrupt)
        };
    }
    if src.len() < FIXED {
        return Err(Error::Corrupt);
    }
    let scale = (src[0] & 0x0F) as u32;
    let kind = src[0] >> 4;
    let (min, max) = (src[1] as usize, src[2] as usize);
    if !(MIN_SCALE..=MAX_SCALE).contains(&scale) || kind > TABLE_RICE || min > max {
        return Err(Error::Corrupt);
    }
    if min == max {
        if src.len() != FIXED || kind != TABLE_LENGTHS {
            return Err(Error::Corrupt);
        }
        dst.fill(min as u8);
        return Ok(());
    }
    let (freq, table_end) = if kind == TABLE_RICE {
        read_freqs_rice(src, scale, min, max)?
    } else {
        read_freqs(src, scale, min, max)?
    };

    // Decoder table: per slot, the symbol, its frequency and the slot's offset from the
    // symbol's cumulative frequency (`bias << 20 | sym << 12 | f`; all fit as f < M <= 2^12).
    let mut tab = [0u32; 1 << MAX_SCALE];
    let mut cum = 0usize;
    for (s, &f) in freq.iter().enumerate().take(max + 1).skip(min) {
        let f = f as usize;
        for (b, e) in tab[cum..cum + f].iter_mut().enumerate() {
            *e = ((b as u32) << 20) | ((s as u32) << 12) | f as u32;
        }
        cum += f;
    }
    debug_assert_eq!(cum, 1usize << scale);

    let k = n.min(STATES);
    let states_end = table_end + 4 * k;
    if src.len() < states_end || (src.len() - states_end) % 2 != 0 {
        return Err(Error::Corrupt);
    }
    let mut x = [L; STATES];
    for (j, xj) in x[..k].iter_mut().enumerate() {
        let b = &src[table_end + 4 * j..table_end + 4 * j + 4];
        *xj = u32::from_le_bytes([b[0], b[1], b[2], b[3]]);
        if *xj < L {
            return Err(Error::Corrupt);
        }
    }
    let stream = &src[states_end..];
    let pos = match scale {
        8 => run::<8>(&tab, stream, dst, &mut x, allow_simd),
        9 => run::<9>(&tab, stream, dst, &mut x, allow_simd),
        10 => run::<10>(&tab, stream, dst, &mut x, allow_simd),
        11 => run::<11>(&tab, stream, dst, &mut x, allow_simd),
        _ => run::<12>(&tab, stream, dst, &mut x, allow_simd),
    }?;
    if pos != stream.len() || x.iter().any(|&xj| xj != L) {
        return Err(Error::Corrupt);
    }
    Ok(())
}

/// Order-0 histogram of `src` (for checks and tests; the library has its own).
fn histogram(src: &[u8]) -> [u32; 256] {
    let mut h = [0u32; 256];
    for &b in src {
        h[b as usize] += 1;
    }
    h
}

// ---------------------------------------------------------------------------------------------
// Model: frequency scale and quantised frequencies

struct Model {
    scale: u32,
    min: usize,
    max: usize,
    /// Quantised frequencies, summing to 2^scale (a lone symbol: all zero).
    freq: [u32; 256],
    /// How the frequency table is stored.
    table: Table,
    /// Estimated total payload size in bytes.
    estimate: usize,
}

/// Frequency table kind 0: per symbol, a 4-bit bit length and the bits below the leading 1.
const TABLE_LENGTHS: u8 = 0;
/// Frequency table kind 1: a 4-bit Rice parameter, then per symbol the Rice code of the
/// zigzagged difference from the previous symbol's frequency.
const TABLE_RICE: u8 = 1;

/// The stored form of a model's frequency table.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Table {
    /// Kind 0 (best for peaked tables: exponent planes).
    Lengths,
    /// Kind 1 with this Rice parameter (best for smooth, flat tables: mantissa planes,
    /// where neighbouring frequencies differ by a few units).
    Rice(u32),
}

impl Table {
    fn kind(self) -> u8 {
        match self {
            Table::Lengths => TABLE_LENGTHS,
            Table::Rice(_) => TABLE_RICE,
        }
    }
}

/// Picks the scale (and its quantised frequencies) with the smallest estimated size; ties go
/// to the smaller scale (a smaller decoding table). `None` for `n = 0`.
fn choose_model(hist: &[u32; 256], n: usize) -> Option<Model> {
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
    let k = n.min(STATES);
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
        if best.as_ref().map_or(true, |b| estimate < b.estimate) {
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
fn normalise(hist: &[u32; 256], n: usize, scale: u32) -> [u32; 256] {
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
static LOG2_TABLE: [u32; 1 << MAX_SCALE] = {
    let mut t = [0u32; 1 << MAX_SCALE];
    let mut v = 1;
    while v < t.len() {
        t[v] = log2_fixed(v as u32) as u32;
        v += 1;
    }
    t
};

/// `log2(v)` in `LOG_FRAC`-bit fixed point, for `v >= 1`, by repeated squaring (integer only).
const fn log2_fixed(v: u32) -> u64 {
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
fn bit_len(f: u32) -> u32 {
    32 - f.leading_zeros()
}

/// Bits of the stored frequency table: symbols `min .. max` (the last one is implied).
fn freq_table_bits(freq: &[u32; 256], min: usize, max: usize) -> u64 {
    freq[min..max]
        .iter()
        .map(|&f| (LEN_BITS + bit_len(f).saturating_sub(1)) as u64)
        .sum()
}

/// The zigzag form of a frequency difference: 0, -1, 1, -2, 2, ... become 0, 1, 2, 3, 4, ...
fn zigzag(d: i64) -> u64 {
    if d >= 0 {
        2 * d as u64
    } else {
        (-2 * d - 1) as u64
    }
}

/// The differences a Rice table stores: for each symbol `min .. max` (not `max`), the
/// zigzagged difference from the previous symbol's frequency (0 before `min`).
fn rice_values(freq: &[u32; 256], min: usize, max: usize) -> impl Iterator<Item = u64> + '_ {
    (min..max).map(move |s| {
        let prev = if s == min { 0 } else { freq[s - 1] as i64 };
        zigzag(freq[s] as i64 - prev)
    })
}

/// The best Rice parameter for a kind-1 table and the table's bits with it (the 4-bit
/// parameter included). Ties go to the smaller parameter.
fn rice_table_bits(freq: &[u32; 256], min: usize, max: usize, scale: u32) -> (u32, u64) {
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
fn write_freqs(model: &Model, dst: &mut Vec<u8>) {
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
fn read_freqs(src: &[u8], scale: u32, min: usize, max: usize) -> Result<([u32; 256], usize)> {
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
fn read_freqs_rice(src: &[u8], scale: u32, min: usize, max: usize) -> Result<([u32; 256], usize)> {
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

// ---------------------------------------------------------------------------------------------
// Encoding

/// Shift of the encoder's reciprocals: `floor(x / f) = (x * rcp) >> RCP_SHIFT` exactly for
/// every 32-bit `x` and every `f < 2^12`, with `rcp = ceil(2^RCP_SHIFT / f)` (see `EncSym::new`).
const RCP_SHIFT: u32 = 44;

#[derive(Clone, Copy, Default)]
struct EncSym {
    /// States at or above this emit 16 bits before coding the symbol: `f << (32 - scale)`.
    x_max: u64,
    /// `ceil(2^RCP_SHIFT / f)`.
    rcp: u64,
    /// Cumulative frequency of the symbol.
    cum: u32,
    /// `M - f`.
    cmpl: u32,
}

impl EncSym {
    fn new(f: u32, cum: u32, scale: u32, m_total: u32) -> EncSym {
        // Round-up reciprocal (Granlund-Montgomery): with rcp = ceil(2^k / f) = (2^k + e) / f,
        // 0 <= e < f, x * rcp / 2^k = x / f + x * e / (f * 2^k), and the second term is below
        // 1 / f (so the floor is unchanged) whenever x * e < 2^k, true for x < 2^32,
        // e < f <= 2^12 and k = 44.
        debug_assert!((1..(1 << 12)).contains(&f));
        EncSym {
            x_max: (f as u64) << (32 - scale),
            rcp: (1u64 << RCP_SHIFT).div_ceil(f as u64),
            cum,
            cmpl: m_total - f,
        }
    }

    /// Codes one symbol into state `x`, first emitting 16 bits if needed: the word goes to
    /// `buf[*w - 1]` and `*w` moves down (branch-free; `buf[*w - 1]` is scratch otherwise).
    #[inline(always)]
    fn put(&self, x: u32, buf: &mut [u16], w: &mut usize) -> u32 {
        assert!(*w >= 1 && *w <= buf.len());
        // SAFETY: w - 1 is within `buf` (checked just above).
        unsafe { self.put_raw(x, buf.as_mut_ptr(), w) }
    }

    /// [`EncSym::put`] writing through a pointer, without a bounds check.
    ///
    /// # Safety
    /// `buf + (*w - 1)` must be within the word buffer (`*w >= 1`).
    #[inline(always)]
    unsafe fn put_raw(&self, x: u32, buf: *mut u16, w: &mut usize) -> u32 {
        let emit = x as u64 >= self.x_max;
        // SAFETY: the caller's contract.
        unsafe { buf.add(*w - 1).write(x as u16) };
        *w -= emit as usize;
        let x = if emit { x >> 16 } else { x };
        let q = ((x as u128 * self.rcp as u128) >> RCP_SHIFT) as u32;
        // x' = q * M + (x - q * f) + cum = x + cum + q * (M - f)
        x.wrapping_add(self.cum)
            .wrapping_add(q.wrapping_mul(self.cmpl))
    }
}

// ---------------------------------------------------------------------------------------------
// Decoding

/// One decoding step of state `x` (without renormalisation) at scale `S`.
#[inline(always)]
fn step<const S: u32>(tab: &[u32; 1 << MAX_SCALE], x: u32) -> (u32, u8) {
    let e = tab[(x & ((1 << S) - 1)) as usize];
    // f * (x >> S) + (slot - cum): below 2^32 for every 32-bit x, because the table is built
    // from frequencies that sum exactly to 2^S.
    let x = (e & 0xFFF) * (x >> S) + (e >> 20);
    (x, (e >> 12) as u8)
}

/// Decodes `dst.len()` symbols at scale `S`, reading words from `stream`; returns the stream
/// bytes consumed. `Err` if the stream runs out.
fn run<const S: u32>(
    tab: &[u32; 1 << MAX_SCALE],
    stream: &[u8],
    dst: &mut [u8],
    x: &mut [u32; STATES],
    allow_simd: bool,
) -> Result<usize> {
    let n = dst.len();
    let mut pos = 0usize;
    let mut i = 0usize;
    #[cfg(not(target_arch = "x86_64"))]
    let _ = allow_simd;
    #[cfg(target_arch = "x86_64")]
    if allow_simd
        && std::arch::is_x86_feature_detected!("avx2")
        && std::arch::is_x86_feature_detected!("popcnt")
    {
        // SAFETY: AVX2 and POPCNT are available.
        (i, pos) = unsafe { simd::run_avx2(tab, S, stream, dst, x) };
    }
    // Fast path: whole groups of 16 symbols while 32 stream bytes (16 words, the most a group
    // can take) remain.
    for out in dst[i..].chunks_exact_mut(STATES) {
        let Some(b) = stream.get(pos..pos + 2 * STATES) else {
            break;
        };
        let b: &[u8; 2 * STATES] = b.try_into().map_err(|_| Error::Internal)?;
        let out: &mut [u8; STATES] = out.try_into().map_err(|_| Error::Internal)?;
        // Offset of the next unread word in `b`; at most 30 before each read.
        let mut o = 0usize;
        for j in 0..STATES {
            let (y, s) = step::<S>(tab, x[j]);
            out[j] = s;
            let need = y < L;
            let wo = o & (2 * STATES - 2);
            let v = (y << 16) | u16::from_le_bytes([b[wo], b[wo + 1]]) as u32;
            x[j] = if need { v } else { y };
            o += (need as usize) << 1;
        }
        pos += o;
        i += STATES;
    }
    // Careful path for the rest.
    while i < n {
        let j = i % STATES;
        let (mut xj, s) = step::<S>(tab, x[j]);
        dst[i] = s;
        if xj < L {
            let b = stream.get(pos..pos + 2).ok_or(Error::Corrupt)?;
            xj = (xj << 16) | u16::from_le_bytes([b[0], b[1]]) as u32;
            pos += 2;
        }
        x[j] = xj;
        i += 1;
    }
    Ok(pos)
}

#[cfg(target_arch = "x86_64")]
mod simd {
    use super::{MAX_SCALE, STATES};
    use std::arch::x86_64::*;

    /// The AVX2 fast path: states 0-7 and 8-15 in two vectors. Decodes whole groups of 16
    /// symbols while at least 32 stream bytes remain; returns (symbols decoded, stream bytes
    /// consumed) and leaves the states in `x`.
    ///
    /// # Safety
    /// The CPU must support AVX2 and POPCNT.
    #[target_feature(enable = "avx2,popcnt")]
    pub(super) unsafe fn run_avx2(
        tab: &[u32; 1 << MAX_SCALE],
        scale: u32,
        stream: &[u8],
        dst: &mut [u8],
        x: &mut [u32; STATES],
    ) -> (usize, usize) {
        let n = dst.len();
        let mut pos = 0usize;
        let mut i = 0usize;
        // SAFETY (all loads and stores below): `x` has 16 u32; the gathers index `tab` with
        // `state & (2^scale - 1)` < 4096 = tab.len(); each group writes dst[i..i + 16] with
        // i + 16 <= n, and reads stream[pos..pos + 16] and stream[pos2..pos2 + 16] with
        // pos <= pos2 <= pos + 16 and pos + 32 <= stream.len().
        let mut xa = _mm256_loadu_si256(x.as_ptr().cast());
        let mut xb = _mm256_loadu_si256(x.as_ptr().add(8).cast());
        let mask = _mm256_set1_epi32(((1u32 << scale) - 1) as i32);
        let f_mask = _mm256_set1_epi32(0xFFF);
        let sh = _mm_cvtsi32_si128(scale as i32);
        let zero = _mm256_setzero_si256();
        // Byte 0 of each 32-bit lane to bytes 0..3 of its 128-bit half.
        let pick = _mm256_setr_epi8(
            0, 4, 8, 12, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, 0, 4, 8, 12, -1, -1, -1,
            -1, -1, -1, -1, -1, -1, -1, -1, -1,
        );
        let gather_lo = _mm256_setr_epi32(0, 4, 1, 1, 1, 1, 1, 1);
        let base = tab.as_ptr() as *const i32;
        let src = stream.as_ptr();
        let out = dst.as_mut_ptr();

        macro_rules! half {
            ($x:ident, $o:expr) => {{
                let e = _mm256_i32gather_epi32::<4>(base, _mm256_and_si256($x, mask));
                let f = _mm256_and_si256(e, f_mask);
                let bias = _mm256_srli_epi32::<20>(e);
                let y = _mm256_add_epi32(_mm256_mullo_epi32(f, _mm256_srl_epi32($x, sh)), bias);
                // Symbols: bits 12..20 of each lane, stored as 8 bytes.
                let sy = _mm256_permutevar8x32_epi32(
                    _mm256_shuffle_epi8(_mm256_srli_epi32::<12>(e), pick),
                    gather_lo,
                );
                _mm_storel_epi64(out.add(i + $o).cast(), _mm256_castsi256_si128(sy));
                // Renormalise: lanes with y < 2^16 take the next words in lane order.
                let need = _mm256_cmpeq_epi32(_mm256_srli_epi32::<16>(y), zero);
                let m = _mm256_movemask_ps(_mm256_castsi256_ps(need)) as usize;
                let w = _mm256_cvtepu16_epi32(_mm_loadu_si128(src.add(pos).cast()));
                // Exclusive prefix count of the taking lanes (need is -1 or 0 per lane).
                let c1 = _mm256_add_epi32(need, _mm256_slli_si256::<4>(need));
                let c2 = _mm256_add_epi32(c1, _mm256_slli_si256::<8>(c1));
                let lo3 = _mm256_shuffle_epi32::<0xFF>(c2);
                let carry = _mm256_permute2x128_si256::<0x08>(lo3, lo3);
                let idx = _mm256_sub_epi32(need, _mm256_add_epi32(c2, carry));
                let wv = _mm256_permutevar8x32_epi32(w, idx);
                let v = _mm256_or_si256(_mm256_slli_epi32::<16>(y), wv);
                $x = _mm256_blendv_epi8(y, v, need);
                pos += 2 * m.count_ones() as usize;
            }};
        }

        while i + STATES <= n && pos + 2 * STATES <= stream.len() {
            half!(xa, 0);
            half!(xb, 8);
            i += STATES;
        }
        _mm256_storeu_si256(x.as_mut_ptr().cast(), xa);
        _mm256_storeu_si256(x.as_mut_ptr().add(8).cast(), xb);
        (i, pos)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Rng(u64);
    impl Rng {
        fn next(&mut self) -> u64 {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            self.0
        }
        fn below(&mut self, n: u64) -> u64 {
            self.next() % n
        }
        fn unit(&mut self) -> f64 {
            (self.next() >> 11) as f64 / (1u64 << 53) as f64
        }
        fn gauss(&mut self) -> f64 {
            let u = self.unit().max(1e-300);
            let v = self.unit();
            (-2.0 * u.ln()).sqrt() * (2.0 * std::f64::consts::PI * v).cos()
        }
    }

    fn gaussian_exponents(rng: &mut Rng, n: usize) -> Vec<u8> {
        (0..n)
            .map(|_| {
                let f = (rng.gauss() * 0.02) as f32;
                ((f.to_bits() >> 23) & 0xFF) as u8
            })
            .collect()
    }

    fn geometric(rng: &mut Rng, n: usize) -> Vec<u8> {
        (0..n)
            .map(|_| {
                let mut k = 0u8;
                while k < 255 && rng.below(4) != 0 {
                    k += 1;
                }
                k
            })
            .collect()
    }

    fn entropy_bits(h: &[u32; 256], n: usize) -> f64 {
        let n = n as f64;
        h.iter()
            .filter(|&&c| c > 0)
            .map(|&c| -(c as f64) * (c as f64 / n).log2())
            .sum()
    }

    fn enc(src: &[u8]) -> Vec<u8> {
        let h = histogram(src);
        let mut v = vec![0xAA];
        let got = encode(src, &h, &mut v);
        assert_eq!(got, v.len() - 1);
        v.remove(0);
        v
    }

    fn roundtrip(src: &[u8]) -> Vec<u8> {
        let h = histogram(src);
        let coded = enc(src);
        let est = estimated_size(&h, src.len());
        assert!(
            coded.len() <= est,
            "estimate {est} < actual {}",
            coded.len()
        );
        assert_eq!(coded, enc(src), "not deterministic");
        let mut small = Vec::new();
        encode_impl(src, &h, &mut small, true);
        assert_eq!(coded, small, "buffer growth changed the output");
        for simd in [false, true] {
            let mut out = vec![0u8; src.len()];
            decode_impl(&coded, &mut out, simd).unwrap();
            assert!(out == src, "mismatch n={} simd={simd}", src.len());
        }
        coded
    }

    const SIZES: [usize; 9] = [1, 2, 3, 5, 16, 100, 4095, 65536, 262147];

    /// Under Miri (scripts/miri.sh) the tests run at sizes its interpreter finishes in
    /// minutes, not hours: still long enough for the AVX2 path (16 symbols and 32 stream
    /// bytes per group) and every careful-path tail.
    fn sizes() -> &'static [usize] {
        if cfg!(miri) {
            &SIZES[..6]
        } else {
            &SIZES
        }
    }

    /// `full` normally, `miri` under Miri.
    fn scaled(full: usize, miri: usize) -> usize {
        if cfg!(miri) {
            miri
        } else {
            full
        }
    }

    #[test]
    fn empty() {
        assert!(enc(&[]).is_empty());
        assert_eq!(estimated_size(&[0; 256], 0), 0);
        assert_eq!(decode(&[], &mut []), Ok(()));
        assert_eq!(decode(&[8], &mut []), Err(Error::Corrupt));
        assert_eq!(decode(&[], &mut [0]), Err(Error::Corrupt));
    }

    #[test]
    fn roundtrip_distributions() {
        let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
        for &n in sizes() {
            let uniform: Vec<u8> = (0..n).map(|_| rng.next() as u8).collect();
            let two: Vec<u8> = (0..n)
                .map(|_| if rng.below(3) == 0 { 7 } else { 200 })
                .collect();
            let geo = geometric(&mut rng, n);
            let gexp = gaussian_exponents(&mut rng, n);
            let skew: Vec<u8> = (0..n)
                .map(|_| {
                    if rng.below(10000) == 0 {
                        rng.next() as u8
                    } else {
                        0x7F
                    }
                })
                .collect();
            let ramp: Vec<u8> = (0..n).map(|i| (i % 256) as u8).collect();
            for src in [uniform, two, geo, gexp, skew, ramp] {
                roundtrip(&src);
            }
        }
    }

    #[test]
    fn single_symbol() {
        for &n in sizes() {
            for b in [0u8, 0x55, 255] {
                let src = vec![b; n];
                let coded = roundtrip(&src);
                assert_eq!(coded, [MIN_SCALE as u8, b, b]);
            }
        }
    }

    #[test]
    fn extremes_of_symbol_range() {
        for src in [
            vec![0u8, 255],
            vec![255, 0, 0, 0],
            vec![0, 1],
            vec![254, 255, 255],
        ] {
            roundtrip(&src);
        }
        // All 256 symbols, one rare.
        let mut src: Vec<u8> = (0..scaled(100_000, 3000))
            .map(|i| (i % 255) as u8)
            .collect();
        src[5] = 255;
        roundtrip(&src);
    }

    #[test]
    fn rare_symbols_in_one_lane() {
        // Every symbol of state 0 is rare (costs about 12 bits); the rest is one symbol.
        let ns: &[usize] = if cfg!(miri) {
            &[1024]
        } else {
            &[4096, 100_000]
        };
        for &n in ns {
            let src: Vec<u8> = (0..n)
                .map(|i| {
                    if i % STATES == 0 {
                        1 + (i / STATES % 255) as u8
                    } else {
                        0
                    }
                })
                .collect();
            roundtrip(&src);
            let src: Vec<u8> = (0..n)
                .map(|i| if i % 4096 < 255 { i as u8 } else { 9 })
                .collect();
            roundtrip(&src);
        }
    }

    #[test]
    fn ratio_near_entropy() {
        let mut rng = Rng(42);
        let n = 262144;
        let src = gaussian_exponents(&mut rng, n);
        let h = histogram(&src);
        let coded = roundtrip(&src);
        let (min, max) = (
            src.iter().min().copied().unwrap(),
            src.iter().max().copied().unwrap(),
        );
        // Header: 3 bytes, at most 16 bits per stored frequency, 16 states.
        let header = 3 + 2 * (max - min) as usize + 4 * STATES;
        let bound = entropy_bits(&h, n) / 8.0 * 1.001 + header as f64;
        assert!(
            (coded.len() as f64) <= bound,
            "coded {} > bound {bound:.1}",
            coded.len()
        );
    }

    fn check_no_panic(src: &[u8], n: usize) {
        let mut out = vec![0u8; n];
        let _ = decode_impl(src, &mut out, false);
        let _ = decode_impl(src, &mut out, true);
    }

    #[test]
    fn truncations_rejected() {
        let mut rng = Rng(7);
        for &n in &[1usize, 3, 17, 100, scaled(5000, 300)] {
            let src = gaussian_exponents(&mut rng, n);
            let coded = enc(&src);
            for cut in 0..coded.len() {
                let mut out = vec![0u8; n];
                assert_eq!(
                    decode_impl(&coded[..cut], &mut out, true),
                    Err(Error::Corrupt)
                );
                assert_eq!(
                    decode_impl(&coded[..cut], &mut out, false),
                    Err(Error::Corrupt)
                );
            }
            // Trailing bytes are rejected too.
            let mut long = coded.clone();
            long.extend_from_slice(&[0, 0]);
            let mut out = vec![0u8; n];
            assert_eq!(decode(&long, &mut out), Err(Error::Corrupt));
            // Wrong symbol counts never panic.
            for m in [0, n.saturating_sub(1), n + 1, 2 * n + 40] {
                check_no_panic(&coded, m);
            }
        }
    }

    #[test]
    fn byte_flips_never_panic() {
        let mut rng = Rng(99);
        for &n in &[5usize, 40, 1000, scaled(70_000, 300)] {
            for src in [gaussian_exponents(&mut rng, n), geometric(&mut rng, n)] {
                let coded = enc(&src);
                for _ in 0..scaled(300, 6) {
                    let mut bad = coded.clone();
                    for _ in 0..1 + rng.below(3) {
                        let p = rng.below(bad.len() as u64) as usize;
                        bad[p] ^= 1 + rng.below(255) as u8;
                    }
                    let mut out = vec![0u8; n];
                    for simd in [false, true] {
                        if decode_impl(&bad, &mut out, simd).is_ok() {
                            assert_eq!(out.len(), n);
                        }
                    }
                }
            }
        }
    }

    #[test]
    fn random_bytes_never_panic() {
        let mut rng = Rng(1234);
        for _ in 0..scaled(3000, 150) {
            let len = rng.below(200) as usize;
            let mut src: Vec<u8> = (0..len).map(|_| rng.next() as u8).collect();
            if len >= 3 && rng.below(2) == 0 {
                // Plausible header so decoding gets past the first checks.
                src[0] = (MIN_SCALE + rng.below(5) as u32) as u8;
                src[1] = rng.below(4) as u8;
                src[2] = src[1] + rng.below(4) as u8;
            }
            let n = rng.below(300) as usize;
            check_no_panic(&src, n);
        }
    }

    /// Bytes whose distribution is flat with a smooth trend, like a float plane of sign and
    /// top mantissa bits: the case for kind-1 (Rice) tables.
    fn sloped(rng: &mut Rng, n: usize) -> Vec<u8> {
        (0..n)
            .map(|_| {
                let a = rng.below(256);
                let b = rng.below(256);
                (a.min(b) ^ (rng.below(2) << 7)) as u8
            })
            .collect()
    }

    #[test]
    fn rice_tables_for_flat_planes() {
        let mut rng = Rng(31);
        for n in [300usize, 5000, 65536, 131072] {
            let src = sloped(&mut rng, n);
            let coded = roundtrip(&src);
            if n >= 65536 {
                assert_eq!(coded[0] >> 4, TABLE_RICE, "n={n}");
                assert!(coded.len() < n, "n={n}: {}", coded.len());
            }
        }
        // Peaked planes keep kind-0 tables.
        let coded = roundtrip(&gaussian_exponents(&mut rng, 131072));
        assert_eq!(coded[0] >> 4, TABLE_LENGTHS);
    }

    #[test]
    fn rice_table_validation() {
        let mut rng = Rng(32);
        let src = sloped(&mut rng, 65536);
        let coded = enc(&src);
        assert_eq!(coded[0] >> 4, TABLE_RICE);
        let mut out = vec![0u8; src.len()];
        // Unknown table kinds.
        for kind in [2u8, 15] {
            let mut bad = coded.clone();
            bad[0] = kind << 4 | (bad[0] & 0x0F);
            assert_eq!(decode(&bad, &mut out), Err(Error::Corrupt));
        }
        // A single symbol must say kind 0.
        let mut one = vec![0u8; 100];
        assert_eq!(
            decode(&[TABLE_RICE << 4 | 8, 5, 5], &mut one),
            Err(Error::Corrupt)
        );
        assert_eq!(decode(&[8, 5, 5], &mut one), Ok(()));
        // Hand-made tables over symbols 0..=2 at scale 8 (M = 256) with k = 0: each
        // zigzagged difference is that many one bits and a zero bit.
        let table = |zs: &[u64], pad_one: bool| -> Vec<u8> {
            let mut bits: Vec<u8> = vec![0, 0, 0, 0]; // k = 0
            for &z in zs {
                bits.extend(std::iter::repeat(1).take(z as usize));
                bits.push(0);
            }
            let used = bits.len();
            while bits.len() % 8 != 0 {
                bits.push(0);
            }
            if pad_one {
                assert!(bits.len() > used, "no padding bit to set");
                let last = bits.len() - 1;
                bits[last] = 1;
            }
            let mut v = vec![TABLE_RICE << 4 | 8, 0, 2];
            v.extend(
                bits.chunks(8)
                    .map(|c| c.iter().rev().fold(0, |a, &b| a << 1 | b)),
            );
            v
        };
        // 100, then -1: f = 100, 99 and 57 implied.
        let good = table(&[200, 1], false);
        let (f, end) = read_freqs_rice(&good, 8, 0, 2).unwrap();
        assert_eq!((f[0], f[1], f[2], end), (100, 99, 57, good.len()));
        let bad = |v: &[u8]| assert_eq!(read_freqs_rice(v, 8, 0, 2), Err(Error::Corrupt));
        bad(&table(&[200, 1], true)); // nonzero padding
        bad(&good[..good.len() - 1]); // cut short
        bad(&table(&[0, 2], false)); // f[min] = 0
        bad(&table(&[200, 400], false)); // 100 + 200 = 300 > M
        bad(&table(&[200, 201], false)); // a negative frequency
        bad(&table(&[600, 1], false)); // a unary run longer than any valid difference
        let mut v = vec![TABLE_RICE << 4 | 8, 0, 2];
        v.extend([0xFF; 80]);
        bad(&v); // k = 15 and ones without end
    }

    #[test]
    fn reciprocals_divide_exactly() {
        let mut rng = Rng(77);
        for f in (1..(1u32 << MAX_SCALE)).step_by(scaled(1, 61)) {
            let e = EncSym::new(f, 0, MAX_SCALE, 1 << MAX_SCALE);
            let mut xs = vec![0u32, 1, f - 1, f, f + 1, u32::MAX, u32::MAX - 1];
            xs.extend((0..64).map(|_| rng.next() as u32));
            let top = u32::MAX / f * f;
            xs.extend([top, top - 1, top.wrapping_sub(f), top - f + 1]);
            for x in xs {
                let q = ((x as u128 * e.rcp as u128) >> RCP_SHIFT) as u32;
                assert_eq!(q, x / f, "x={x} f={f}");
            }
        }
    }

    #[test]
    fn log2_fixed_is_accurate() {
        for v in [1u32, 2, 3, 5, 1000, 4095, 65535] {
            let got = log2_fixed(v) as f64 / (1u64 << LOG_FRAC) as f64;
            assert!((got - (v as f64).log2()).abs() < 1e-6, "{v}");
        }
    }

    #[test]
    fn normalise_sums_to_total() {
        let mut rng = Rng(5);
        for _ in 0..scaled(200, 8) {
            let mut h = [0u32; 256];
            let used = 1 + rng.below(256) as usize;
            for c in h.iter_mut().take(used) {
                *c = if rng.below(4) == 0 {
                    1
                } else {
                    rng.below(100_000) as u32 + 1
                };
            }
            let n: usize = h.iter().map(|&c| c as usize).sum();
            for scale in MIN_SCALE..=MAX_SCALE {
                let f = normalise(&h, n, scale);
                assert_eq!(f.iter().map(|&x| x as u64).sum::<u64>(), 1 << scale);
                for s in 0..256 {
                    assert_eq!(f[s] == 0, h[s] == 0);
                }
            }
        }
    }
}
