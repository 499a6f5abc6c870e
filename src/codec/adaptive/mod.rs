//! Codec 10 (`adaptive`, docs/FORMAT.md section 13): a binary range coder whose
//! probabilities adapt as it goes, so no table is sent. Used at the max level on small
//! planes, where a static table costs a share of the payload and the data's statistics drift
//! along the plane (the exponents of a file of many small tensors).
//!
//! The input is cut into `k` equal segments (the planes of a chunk coded joined, or one
//! plane); each segment is stored as it is or coded byte by byte, each byte as eight binary
//! decisions down a tree of 255 nodes, most significant bit first. Each node holds a 15-bit
//! probability and a count of the decisions it has seen; it adapts by `1/2^s` of the error,
//! with `s` growing with the count (a fast start, like a count of its own) up to the
//! segment's limit. A segment may take the byte at the same position of the segment before
//! it as context (a tree per value of that byte): the exponent of the same element for a
//! float's top mantissa byte.
//!
//! Payload: `k` (one byte, 1..=8, dividing the input's length), one mode byte per segment
//! (0: stored; otherwise bit 6 set, bits 0-2 the rate limit minus one, bits 3-4 the start,
//! bit 5 the context), the stored segments' bytes in order, then one range-coded stream for
//! the coded segments in order, which the decoder must end exactly on, with its code value
//! at zero.

#[cfg(test)]
mod tests;

use crate::error::{Error, Result};

/// Bits of a probability: `p` is the chance of a 0 in units of `2^-15`, in `1..2^15`.
const PROB_BITS: u32 = 15;
const HALF: u16 = 1 << (PROB_BITS - 1);
/// The range coder renormalises (one byte) when its range falls below this.
const TOP: u32 = 1 << 24;
/// Most segments of a payload.
pub const MAX_SEGMENTS: usize = 8;
/// Mode bit of a coded segment (a mode without it must be 0: stored).
pub const CODED: u8 = 0x40;
/// Mode bit: the segment takes the byte of the segment before it as context.
pub const CONTEXT: u8 = 0x20;
/// The counts a segment's nodes start from, by mode bits 3-4: their first shifts are
/// 1, 3, 5 and 8 (a fast start, or slower ones for bits near even odds).
const START: [u8; 4] = [0, 6, 30, 254];

/// A coded segment's mode: rate limit `limit` (1..=8), start `start` (0..=3), context.
pub const fn mode(limit: u8, start: u8, context: bool) -> u8 {
    CODED | (start << 3) | (limit - 1) | if context { CONTEXT } else { 0 }
}

/// The shift of a node that has seen `count` decisions, before its segment's limit:
/// `floor(log2(count + 2))`, so the first decisions move it as a count of its own would
/// (by 1/2, 1/2, 1/4, ... of the error).
const fn shift_of(count: u8) -> u8 {
    (u16::BITS - 1 - (count as u16 + 2).leading_zeros()) as u8
}

/// The nodes of one segment's trees (one tree, or one per context value): each a 15-bit
/// probability (bits 8-22) and the count of decisions it has seen, up to 255 (bits 0-7).
struct Model {
    nodes: Vec<u32>,
    /// The shift of a node by its count: [`shift_of`], at most the segment's limit.
    shifts: [u8; 256],
}

impl Model {
    fn new(mode: u8) -> Model {
        let trees = if mode & CONTEXT != 0 { 256 } else { 1 };
        let limit = (mode & 7) + 1;
        let start = START[(mode >> 3 & 3) as usize];
        let mut shifts = [0u8; 256];
        for (c, s) in shifts.iter_mut().enumerate() {
            *s = shift_of(c as u8).min(limit);
        }
        Model {
            nodes: vec![(HALF as u32) << 8 | start as u32; trees * 256],
            shifts,
        }
    }

    /// Node `i`'s probability of a 0.
    #[inline(always)]
    fn prob(&self, i: usize) -> u32 {
        self.nodes[i] >> 8
    }

    /// Adapts node `i` to `bit`.
    #[inline(always)]
    fn update(&mut self, i: usize, bit: u32) {
        let node = self.nodes[i];
        let (p, c) = (node >> 8, node & 0xFF);
        let s = self.shifts[c as usize] as u32;
        let p = if bit == 0 {
            p + (((1 << PROB_BITS) - p) >> s)
        } else {
            p - (p >> s)
        };
        self.nodes[i] = p << 8 | (c + (c < 255) as u32);
    }
}

/// Whether `mode` is a valid mode byte for segment `j`.
fn valid_mode(mode: u8, j: usize) -> bool {
    mode == 0 || (mode & 0x80 == 0 && mode & CODED != 0 && (mode & CONTEXT == 0 || j > 0))
}

/// Range encoder (carry propagated through a cached byte and a run of 0xFF bytes). The
/// first byte it would write is always 0 and is left out.
struct Encoder<'a> {
    low: u64,
    range: u32,
    cache: u8,
    pending: u64,
    first: bool,
    out: &'a mut Vec<u8>,
}

impl<'a> Encoder<'a> {
    fn new(out: &'a mut Vec<u8>) -> Encoder<'a> {
        Encoder {
            low: 0,
            range: u32::MAX,
            cache: 0,
            pending: 1,
            first: true,
            out,
        }
    }

    fn shift_low(&mut self) {
        if (self.low as u32) < 0xFF00_0000 || self.low >> 32 != 0 {
            let carry = (self.low >> 32) as u8;
            let mut byte = self.cache;
            while self.pending > 0 {
                if !std::mem::take(&mut self.first) {
                    self.out.push(byte.wrapping_add(carry));
                }
                byte = 0xFF;
                self.pending -= 1;
            }
            self.cache = (self.low >> 24) as u8;
        }
        self.pending += 1;
        self.low = (self.low & 0x00FF_FFFF) << 8;
    }

    #[inline(always)]
    fn encode(&mut self, bit: u32, p: u32) {
        let bound = (self.range >> PROB_BITS) * p;
        if bit == 0 {
            self.range = bound;
        } else {
            self.low += bound as u64;
            self.range -= bound;
        }
        while self.range < TOP {
            self.range <<= 8;
            self.shift_low();
        }
    }

    fn finish(mut self) {
        for _ in 0..5 {
            self.shift_low();
        }
    }
}

/// Codes segment `seg` (with `ctx`, the segment before it, where its mode takes context).
fn encode_segment(e: &mut Encoder<'_>, seg: &[u8], ctx: &[u8], mode: u8) {
    let mut m = Model::new(mode);
    let with_ctx = mode & CONTEXT != 0;
    for (i, &b) in seg.iter().enumerate() {
        let base = if with_ctx { (ctx[i] as usize) << 8 } else { 0 };
        let mut node = 1usize;
        for k in (0..8).rev() {
            let bit = (b >> k) as u32 & 1;
            e.encode(bit, m.prob(base + node));
            m.update(base + node, bit);
            node = node << 1 | bit as usize;
        }
    }
}

/// Appends the payload of `src` cut into `modes.len()` segments with those modes (valid
/// ones, see the module's documentation) to `out`.
pub fn encode_with(src: &[u8], modes: &[u8], out: &mut Vec<u8>) {
    let k = modes.len();
    debug_assert!((1..=MAX_SEGMENTS).contains(&k) && src.len() % k == 0);
    let s = src.len() / k;
    out.push(k as u8);
    out.extend_from_slice(modes);
    for (j, &mode) in modes.iter().enumerate() {
        debug_assert!(valid_mode(mode, j));
        if mode == 0 {
            out.extend_from_slice(&src[j * s..(j + 1) * s]);
        }
    }
    if modes.iter().all(|&m| m == 0) {
        return;
    }
    let mut e = Encoder::new(out);
    for (j, &mode) in modes.iter().enumerate() {
        if mode != 0 {
            let ctx = if j > 0 { &src[(j - 1) * s..j * s] } else { &[] };
            encode_segment(&mut e, &src[j * s..(j + 1) * s], ctx, mode);
        }
    }
    e.finish();
}

/// Context is tried only where the segment before has at most this many distinct bytes:
/// each value has a tree to learn (the exponents of a float plane, a few dozen values).
const CONTEXT_VALUES: usize = 32;

/// `floor(65536 * log2(x))` for `x >= 1`, in integer arithmetic (so the encoder's choices
/// are the same on every machine).
const fn log2_q16(x: u32) -> u32 {
    let int = 31 - x.leading_zeros();
    // x / 2^int in Q16, in [1, 2); each squaring gives one bit of the fraction.
    let mut y = ((x as u64) << 16) >> int;
    let mut r = int << 16;
    let mut bit = 1 << 15;
    while bit > 0 {
        y = (y * y) >> 16;
        if y >= 2 << 16 {
            y >>= 1;
            r |= bit;
        }
        bit >>= 1;
    }
    r
}

/// The cost in bits (Q16) of a decision of probability `q / 4096`.
static COST: [u32; 4097] = {
    let mut t = [0u32; 4097];
    let mut q = 1;
    while q <= 4096 {
        t[q] = (12 << 16) - log2_q16(q as u32);
        q += 1;
    }
    t[0] = t[1];
    t
};

/// The modes the encoder weighs for a segment without and with context: fast starts for
/// skewed bytes, slow ones for bits near even odds, limits around 1/64 and 1/128.
const CANDIDATES: [u8; 4] = [
    mode(4, 0, false),
    mode(5, 0, false),
    mode(6, 1, false),
    mode(7, 1, false),
];
const CONTEXT_CANDIDATES: [u8; 2] = [mode(6, 1, true), mode(6, 3, true)];

/// The ideal code lengths (bits, Q16) of `seg` under each of `modes` (all with context or
/// all without), computed side by side in one pass: `ctx[i]` is byte `i`'s tree (dense,
/// below `trees`).
fn estimate<const M: usize>(seg: &[u8], ctx: &[u8], trees: usize, modes: &[u8; M]) -> [u64; M] {
    let mut shifts = [[0u8; 256]; M];
    let mut init = [0u32; M];
    for (m, &mode) in modes.iter().enumerate() {
        let model = Model::new(mode & !CONTEXT);
        shifts[m] = model.shifts;
        init[m] = model.nodes[0];
    }
    let mut nodes: Vec<[u32; M]> = vec![init; trees * 256];
    let mut cost = [0u64; M];
    for (i, &b) in seg.iter().enumerate() {
        let base = if ctx.is_empty() {
            0
        } else {
            (ctx[i] as usize) << 8
        };
        let mut node = 1usize;
        for k in (0..8).rev() {
            let bit = (b >> k) as u32 & 1;
            let states = &mut nodes[base + node];
            for m in 0..M {
                let (p, c) = (states[m] >> 8, states[m] & 0xFF);
                let q = if bit == 0 { p } else { (1 << PROB_BITS) - p };
                cost[m] += COST[(q >> 3) as usize] as u64;
                let s = shifts[m][c as usize] as u32;
                let p = if bit == 0 {
                    p + (((1 << PROB_BITS) - p) >> s)
                } else {
                    p - (p >> s)
                };
                states[m] = p << 8 | (c + (c < 255) as u32);
            }
            node = node << 1 | bit as usize;
        }
    }
    cost
}

/// The mode that should code `seg` (with `ctx`, the segment before it, or none) smallest,
/// by the ideal code lengths of the candidate modes ([`estimate`]), and its estimated size
/// (the ideal length and four bytes); 0 (stored) and the segment's length where none comes
/// below it.
fn best_mode(seg: &[u8], ctx: &[u8]) -> (u8, usize) {
    let bytes = |bits_q16: u64| (bits_q16 >> 19) as usize + 4;
    let costs = estimate(seg, &[], 1, &CANDIDATES);
    let mut best = (seg.len(), 0u8);
    for (&c, &m) in costs.iter().zip(&CANDIDATES) {
        best = best.min((bytes(c), m));
    }
    if !ctx.is_empty() {
        // Context values numbered densely, in the order of the byte values.
        let mut index = [u8::MAX; 256];
        ctx.iter().for_each(|&c| index[c as usize] = 0);
        let mut trees = 0usize;
        for slot in index.iter_mut().filter(|s| **s == 0) {
            *slot = trees as u8;
            trees += 1;
        }
        if trees <= CONTEXT_VALUES {
            let dense: Vec<u8> = ctx.iter().map(|&c| index[c as usize]).collect();
            let costs = estimate(seg, &dense, trees, &CONTEXT_CANDIDATES);
            for (&c, &m) in costs.iter().zip(&CONTEXT_CANDIDATES) {
                best = best.min((bytes(c), m));
            }
        }
    }
    if best.0 < seg.len() {
        (best.1, best.0)
    } else {
        (0, seg.len())
    }
}

/// Appends the payload of `src` in `k` segments (1..=8, dividing its length) to `out`,
/// each segment with the mode whose ideal code length is the smallest (stored where none
/// is below its length), and returns the payload's size; or, where the payload's estimated
/// size is `bound` or more, appends nothing and returns `None` (so a caller that has a
/// payload of `bound` bytes does not pay for a coding that cannot win).
pub fn encode(src: &[u8], k: usize, bound: usize, out: &mut Vec<u8>) -> Option<usize> {
    let s = src.len() / k;
    let mut modes = [0u8; MAX_SEGMENTS];
    let mut estimate = 1 + k;
    for (j, mode) in modes[..k].iter_mut().enumerate() {
        let seg = &src[j * s..(j + 1) * s];
        let ctx = if j > 0 {
            &src[(j - 1) * s..j * s]
        } else {
            &[][..]
        };
        let size;
        (*mode, size) = best_mode(seg, ctx);
        estimate += size;
    }
    if estimate >= bound {
        return None;
    }
    let start = out.len();
    encode_with(src, &modes[..k], out);
    Some(out.len() - start)
}

/// Range decoder over a payload's stream: reads past its end are errors.
struct Decoder<'a> {
    code: u32,
    range: u32,
    src: &'a [u8],
    at: usize,
}

impl<'a> Decoder<'a> {
    fn new(src: &'a [u8]) -> Result<Decoder<'a>> {
        let head = src.get(..4).ok_or(Error::Corrupt)?;
        Ok(Decoder {
            code: u32::from_be_bytes([head[0], head[1], head[2], head[3]]),
            range: u32::MAX,
            src,
            at: 4,
        })
    }

    /// Decodes one decision of probability `p`. A read past the stream's end takes a zero
    /// byte and counts on in `at`, which [`decode`] then finds past the end: `Corrupt`.
    #[inline(always)]
    fn decode(&mut self, p: u32) -> u32 {
        let bound = (self.range >> PROB_BITS) * p;
        // Without branches: the bits of adapted data are hard to predict.
        let bit = (self.code >= bound) as u32;
        let mask = 0u32.wrapping_sub(bit);
        self.code -= bound & mask;
        self.range = (bound & !mask) | (self.range.wrapping_sub(bound) & mask);
        while self.range < TOP {
            let b = self.src.get(self.at).copied().unwrap_or(0);
            self.at += 1;
            self.range <<= 8;
            self.code = self.code << 8 | b as u32;
        }
        bit
    }
}

/// Decodes a payload into `dst` (the input's length): `Corrupt` for a malformed payload (a
/// segment count of 0, above 8 or not dividing the length; an invalid mode; a stream that
/// ends early, goes on after the last byte or ends with a nonzero code value).
pub fn decode(payload: &[u8], dst: &mut [u8]) -> Result<()> {
    let (&k, rest) = payload.split_first().ok_or(Error::Corrupt)?;
    let k = k as usize;
    if !(1..=MAX_SEGMENTS).contains(&k) || dst.len() % k != 0 {
        return Err(Error::Corrupt);
    }
    let (modes, mut rest) = rest.split_at_checked(k).ok_or(Error::Corrupt)?;
    if modes.iter().enumerate().any(|(j, &m)| !valid_mode(m, j)) {
        return Err(Error::Corrupt);
    }
    let s = dst.len() / k;
    for (j, _) in modes.iter().enumerate().filter(|(_, &m)| m == 0) {
        let (bytes, r) = rest.split_at_checked(s).ok_or(Error::Corrupt)?;
        dst[j * s..(j + 1) * s].copy_from_slice(bytes);
        rest = r;
    }
    if modes.iter().all(|&m| m == 0) {
        return if rest.is_empty() {
            Ok(())
        } else {
            Err(Error::Corrupt)
        };
    }
    let mut d = Decoder::new(rest)?;
    for (j, &mode) in modes.iter().enumerate() {
        if mode == 0 {
            continue;
        }
        let (before, seg) = dst.split_at_mut(j * s);
        let seg = &mut seg[..s];
        let ctx = &before[before.len() - if j > 0 { s } else { 0 }..];
        decode_segment(&mut d, seg, ctx, mode);
        if d.at > rest.len() {
            return Err(Error::Corrupt);
        }
    }
    if d.at != rest.len() || d.code != 0 {
        return Err(Error::Corrupt);
    }
    Ok(())
}

/// Decodes one coded segment into `seg` (`ctx`: the segment before it).
fn decode_segment(d: &mut Decoder<'_>, seg: &mut [u8], ctx: &[u8], mode: u8) {
    let mut m = Model::new(mode);
    let with_ctx = mode & CONTEXT != 0;
    let Model { nodes, shifts } = &mut m;
    for (i, out) in seg.iter_mut().enumerate() {
        let base = if with_ctx { (ctx[i] as usize) << 8 } else { 0 };
        let Some(tree) = nodes.get_mut(base..base + 256) else {
            return;
        };
        let mut node = 1usize;
        for _ in 0..8 {
            let state = tree[node & 0xFF];
            let (p, c) = (state >> 8, state & 0xFF);
            let bit = d.decode(p);
            let s = shifts[c as usize] as u32;
            let p = if bit == 0 {
                p + (((1 << PROB_BITS) - p) >> s)
            } else {
                p - (p >> s)
            };
            tree[node & 0xFF] = p << 8 | (c + (c < 255) as u32);
            node = node << 1 | bit as usize;
        }
        *out = node as u8;
    }
}
