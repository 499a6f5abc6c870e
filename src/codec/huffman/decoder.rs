//! Decoder: multi-symbol table lookups, the four streams interleaved.

use super::lengths::reverse;
use super::{zeroed_box, MAX_CODE_LEN, SIZE_FIELDS, TABLE_BITS, TABLE_MASK, TABLE_SIZE};
use crate::error::{Error, Result};

/// Most symbols one multi-symbol table entry holds.
pub(super) const MAX_ENTRY_SYMS: u32 = 6;
/// Table lookups per bit-buffer refill: a refill yields at least 57 valid bits.
const LOOKUPS_PER_REFILL: usize = 5;
/// Most bytes a fast-path round advances one stream's input (5 * 11 = 55 bits < 7 bytes + 7).
const ROUND_MAX_IN: usize = 7;
/// Most symbols a fast-path round writes.
const ROUND_MAX_OUT: usize = LOOKUPS_PER_REFILL * MAX_ENTRY_SYMS as usize;
/// Output bytes a fast-path round may touch past its start (last store is 8 bytes wide).
const ROUND_OUT_REACH: usize = (LOOKUPS_PER_REFILL - 1) * MAX_ENTRY_SYMS as usize + 8;

/// Decodes `src` (exactly the bytes `encode` appended) into `dst`, whose length is the number
/// of symbols that were encoded.
pub fn decode(src: &[u8], dst: &mut [u8]) -> Result<()> {
    decode_warming(src, dst, &mut &[][..])
}

/// [`decode`], asking the processor along the way to bring the bytes of `warm` into the
/// caches: bytes the caller reads next, such as the raw planes that the merge reads from the
/// payload. A few cache lines are asked for per round of lookups, which leave the memory
/// idle while they wait on each other; `warm` is left holding the bytes not asked for yet.
/// (MiniLM on one core, the raw plane of each chunk asked for while its exponent plane
/// decodes, so that the merge finds it in the caches: bf16 decompression 4-7% faster, fp16
/// 0.5-2%.)
pub fn decode_warming(src: &[u8], dst: &mut [u8], warm: &mut &[u8]) -> Result<()> {
    let Some(mut st) = start(src, dst)? else {
        return Ok(());
    };
    Tables::with(|tables| {
        if !st.fill_table(tables, dst) {
            return;
        }
        lockstep(st.payload, dst, &tables.multi, &mut st.cur, &st.oe, warm);
        st.finish(dst, tables);
    });
    st.check()
}

/// [`decode`] symbol by symbol with the single-symbol table (no multi-symbol entries, no
/// fast rounds): the reference the tests hold the fast paths to, output and errors.
#[cfg(test)]
pub(super) fn decode_one_at_a_time(src: &[u8], dst: &mut [u8]) -> Result<()> {
    let Some(mut st) = start(src, dst)? else {
        return Ok(());
    };
    let mut tables = Tables::boxed();
    tables.build_single(&st.hdr.lens);
    decode_short(st.payload, dst, &tables.single, &mut st.cur, &st.oe);
    st.check()
}

/// [`decode_warming`] of two plane-chunks, `a` into `da` then `b` into `db`: the same
/// output and the same error. Where both planes are long enough to be worth it, their
/// eight streams run interleaved in one loop, each plane with its own table, so that the
/// core has eight independent chains of lookups instead of four.
pub fn decode_pair_warming<'w>(
    a: &[u8],
    da: &mut [u8],
    b: &[u8],
    db: &mut [u8],
    warm_a: &mut &'w [u8],
    warm_b: &mut &'w [u8],
) -> Result<()> {
    let mut sa = match start(a, da)? {
        Some(s) if s.n >= SHORT => s,
        _ => {
            decode_warming(a, da, warm_a)?;
            return decode_warming(b, db, warm_b);
        }
    };
    let mut sb = match start(b, db) {
        Ok(Some(s)) if s.n >= SHORT => s,
        // As one after the other: `a` decoded first, then `b`'s result.
        _ => {
            decode_warming(a, da, warm_a)?;
            return decode_warming(b, db, warm_b);
        }
    };
    Tables::with_pair(|ta, tb| {
        // Each plane gets a table already built for its code where there is one.
        let (ta, tb) = if ta.lens != sa.hdr.lens && tb.lens == sa.hdr.lens {
            (tb, ta)
        } else {
            (ta, tb)
        };
        if ta.lens != sa.hdr.lens {
            ta.build(&sa.hdr.lens);
        }
        let same = sb.hdr.lens == sa.hdr.lens;
        if !same && tb.lens != sb.hdr.lens {
            tb.build(&sb.hdr.lens);
        }
        let tb: &Tables = if same { ta } else { tb };
        pair_lockstep(
            &mut sa,
            da,
            &ta.multi,
            &mut sb,
            db,
            &tb.multi,
            [warm_a, warm_b],
        );
        lockstep(sa.payload, da, &ta.multi, &mut sa.cur, &sa.oe, warm_a);
        sa.finish(da, ta);
        lockstep(sb.payload, db, &tb.multi, &mut sb.cur, &sb.oe, warm_b);
        sb.finish(db, tb);
    });
    sa.check()?;
    sb.check()
}

/// The four streams of one plane-chunk being decoded.
struct Streams<'a> {
    hdr: Header,
    payload: &'a [u8],
    n: usize,
    /// Where stream 1, 2, 3 begin (bits).
    ends: [usize; 3],
    cur: [Cursor; 4],
    oe: [usize; 4],
}

/// Parses a plane-chunk's header and decodes the planes that need no table (empty, or one
/// symbol: `None`); the four streams to decode otherwise.
fn start<'a>(src: &'a [u8], dst: &mut [u8]) -> Result<Option<Streams<'a>>> {
    let n = dst.len();
    if n == 0 {
        return if src.is_empty() {
            Ok(None)
        } else {
            Err(Error::Corrupt)
        };
    }
    let hdr = parse_header(src)?;
    let payload = &src[hdr.payload_at..];
    let p = payload.len();
    let q = n.div_ceil(4);
    let seg = |k: usize| ((k * q).min(n), ((k + 1) * q).min(n));

    if let Some(sym) = hdr.single {
        // One symbol with the 1-bit code 0: every stream is all zero bits, one per symbol.
        for k in 0..3 {
            let (a, b) = seg(k);
            if hdr.sizes[k] != (b - a) as u64 {
                return Err(Error::Corrupt);
            }
        }
        if p != n.div_ceil(8) || payload.iter().any(|&b| b != 0) {
            return Err(Error::Corrupt);
        }
        dst.fill(sym);
        return Ok(None);
    }

    let s1 = hdr.sizes[0] as usize;
    let s2 = s1 + hdr.sizes[1] as usize;
    let s3 = s2 + hdr.sizes[2] as usize;
    let cur = [0, 1, 2, 3].map(|k| Cursor {
        bp: [0, s1, s2, s3][k],
        op: seg(k).0,
    });
    let oe = [0, 1, 2, 3].map(|k| seg(k).1);
    Ok(Some(Streams {
        hdr,
        payload,
        n,
        ends: [s1, s2, s3],
        cur,
        oe,
    }))
}

impl Streams<'_> {
    /// Makes `tables.multi` the table of this plane's code, or, for a short plane, decodes
    /// it whole with the single-symbol table and returns false.
    fn fill_table(&mut self, tables: &mut Tables, dst: &mut [u8]) -> bool {
        // The tables depend only on the code lengths: consecutive chunks of a tensor often
        // share them (a valid code never has all lengths zero, as fresh tables do).
        if tables.lens != self.hdr.lens && self.n < SHORT {
            // A short plane (the streams of a sparse plane, codec 9): the single-symbol
            // table, a tenth of the multi-symbol table's building time, which is longer
            // than decoding a few thousand symbols.
            if tables.single_lens != self.hdr.lens {
                tables.build_single(&self.hdr.lens);
            }
            decode_short(self.payload, dst, &tables.single, &mut self.cur, &self.oe);
            return false;
        }
        if tables.lens != self.hdr.lens {
            tables.build(&self.hdr.lens);
        }
        true
    }

    /// Decodes the last symbols of each stream, which the fast rounds leave.
    fn finish(&mut self, dst: &mut [u8], tables: &Tables) {
        for k in 0..4 {
            finish_stream(self.payload, dst, tables, &mut self.cur[k], self.oe[k]);
        }
    }

    /// Checks where the streams ended: every stream must end exactly where the next
    /// begins; the last one must end in the last byte, followed only by zero padding bits.
    fn check(&self) -> Result<()> {
        let bp = self.cur.map(|c| c.bp);
        if bp[..3] != self.ends {
            return Err(Error::Corrupt);
        }
        let p = self.payload.len();
        let end = bp[3];
        if end > p * 8 || end.div_ceil(8) != p {
            return Err(Error::Corrupt);
        }
        if end % 8 != 0 && self.payload[p - 1] >> (end % 8) != 0 {
            return Err(Error::Corrupt);
        }
        Ok(())
    }
}
struct Header {
    lens: [u8; 256],
    /// The symbol, if the code has exactly one.
    single: Option<u8>,
    /// Bit sizes of streams 0, 1, 2.
    sizes: [u64; 3],
    payload_at: usize,
}

/// Reads the code lengths at the start of a payload (docs/FORMAT.md section 7.2: `min_sym`,
/// `max_sym`, 4-bit lengths), of at most `limit` bits, checked as section 7.5 says: both
/// ends used, the unused nibble zero, a lone symbol of length 1 or else a complete code.
/// Returns the lengths, the offset after them, and the symbol of a one-symbol code.
pub(crate) fn read_lengths(src: &[u8], limit: u32) -> Result<([u8; 256], usize, Option<u8>)> {
    if src.len() < 2 {
        return Err(Error::Corrupt);
    }
    let (min, max) = (src[0] as usize, src[1] as usize);
    if min > max {
        return Err(Error::Corrupt);
    }
    let span = max - min + 1;
    let at = 2 + span.div_ceil(2);
    if src.len() < at {
        return Err(Error::Corrupt);
    }
    let mut lens = [0u8; 256];
    for j in 0..span {
        let l = (src[2 + j / 2] >> (4 * (j & 1))) & 15;
        if l as u32 > limit {
            return Err(Error::Corrupt);
        }
        lens[min + j] = l;
    }
    if span % 2 == 1 && src[at - 1] >> 4 != 0 {
        return Err(Error::Corrupt);
    }
    if lens[min] == 0 || lens[max] == 0 {
        return Err(Error::Corrupt);
    }
    let used = lens[min..=max].iter().filter(|&&l| l != 0).count();
    if used == 1 {
        return match lens[min] {
            1 => Ok((lens, at, Some(min as u8))),
            _ => Err(Error::Corrupt),
        };
    }
    let kraft: u32 = lens[min..=max]
        .iter()
        .filter(|&&l| l != 0)
        .map(|&l| 1u32 << (limit - l as u32))
        .sum();
    if kraft != 1 << limit {
        return Err(Error::Corrupt);
    }
    Ok((lens, at, None))
}

fn parse_header(src: &[u8]) -> Result<Header> {
    let (lens, at, single) = read_lengths(src, MAX_CODE_LEN)?;
    let payload_at = at + SIZE_FIELDS;
    if src.len() < payload_at {
        return Err(Error::Corrupt);
    }
    let mut sizes = [0u64; 3];
    for (k, s) in sizes.iter_mut().enumerate() {
        let b = &src[at + 4 * k..at + 4 * k + 4];
        *s = u32::from_le_bytes([b[0], b[1], b[2], b[3]]) as u64;
    }
    let payload_bits = (src.len() - payload_at) as u64 * 8;
    if sizes.iter().sum::<u64>() > payload_bits {
        return Err(Error::Corrupt);
    }
    Ok(Header {
        lens,
        single,
        sizes,
        payload_at,
    })
}

/// Decoding tables for one code, indexed by the next 11 stream bits (least significant bit
/// = first stream bit). Built in place in a per-thread buffer: nothing is zeroed or copied
/// per plane-chunk (a complete code writes every entry).
pub(super) struct Tables {
    /// Single-symbol entries: symbol in bits 0..8, code length in bits 8..12. Filled only
    /// where the multi-symbol table is built from it (codes with very short or no two
    /// fitting codes); the common path builds `multi` directly.
    pub(super) single: [u16; TABLE_SIZE],
    /// The code length of each symbol (0 if unused) of the code `multi` is for.
    lens: [u8; 256],
    /// The code lengths of the code `single` is complete for (all zero: none).
    single_lens: [u8; 256],
    /// Multi-symbol entries (see [`entry`]).
    pub(super) multi: [u64; TABLE_SIZE],
    /// Scratch for [`Tables::build`]: the greedy decodes of the shorter windows.
    levels: [u64; TABLE_SIZE],
}

/// A multi-symbol entry: the total code length in bits 0..8 (so that the entry itself is a
/// valid shift count: `shrx` uses its low six bits), up to `MAX_ENTRY_SYMS` symbols in
/// bytes 1..7 (first symbol lowest) and the symbol count in byte 7.
#[inline(always)]
const fn entry(syms: u64, count: u64, len: u64) -> u64 {
    count << 56 | syms << 8 | len
}

thread_local! {
    /// Per-thread decoding tables (36 KiB, allocated on first use and reused).
    static TABLES: std::cell::RefCell<Option<Box<Tables>>> =
        const { std::cell::RefCell::new(None) };
    /// The second plane's tables of [`decode_pair_warming`].
    static TABLES_B: std::cell::RefCell<Option<Box<Tables>>> =
        const { std::cell::RefCell::new(None) };
}

impl Tables {
    pub(super) fn boxed() -> Box<Tables> {
        // SAFETY: `Tables` is plain integers, for which all-zero bytes are a valid value.
        unsafe { zeroed_box() }
    }

    /// Runs `f` with this thread's tables (fresh ones if they are in use).
    fn with<R>(f: impl FnOnce(&mut Tables) -> R) -> R {
        TABLES.with(|slot| match slot.try_borrow_mut() {
            Ok(mut t) => f(t.get_or_insert_with(Tables::boxed)),
            Err(_) => f(&mut Tables::boxed()),
        })
    }

    /// Runs `f` with this thread's tables and a second set kept for the second plane of
    /// a pair (fresh ones where they are in use).
    fn with_pair<R>(f: impl FnOnce(&mut Tables, &mut Tables) -> R) -> R {
        Tables::with(|a| {
            TABLES_B.with(|slot| match slot.try_borrow_mut() {
                Ok(mut b) => f(a, b.get_or_insert_with(Tables::boxed)),
                Err(_) => f(a, &mut Tables::boxed()),
            })
        })
    }

    /// Fills the tables for a complete code (Kraft sum exactly 1; at least two symbols).
    pub(super) fn build(&mut self, lens: &[u8; 256]) {
        self.lens = *lens;
        let (used, count, min_len) = used_codes(lens);
        let used = &used[..count];
        if 2 * min_len > TABLE_BITS {
            // No two codes fit in one window: one symbol per entry.
            self.fill_single(used);
            self.single_lens = *lens;
            for (m, &t) in self.multi.iter_mut().zip(self.single.iter()) {
                *m = entry((t & 0xFF) as u64, 1, (t >> 8) as u64);
            }
        } else if MAX_CODE_LEN / min_len <= MAX_ENTRY_SYMS {
            // At most MAX_ENTRY_SYMS codes fit in a window, so no entry is ever cut short.
            self.build_levels(min_len, used);
        } else {
            self.fill_single(used);
            self.single_lens = *lens;
            multi_table(&self.single, &mut self.multi);
        }
    }

    /// Fills only `single` for a complete code (at least two symbols).
    fn build_single(&mut self, lens: &[u8; 256]) {
        let (used, count, _) = used_codes(lens);
        self.fill_single(&used[..count]);
        self.single_lens = *lens;
    }

    /// Fills `single` for the codes in `used` (symbol, length, bit-reversed code).
    pub(super) fn fill_single(&mut self, used: &[(u8, u32, u32)]) {
        for &(s, l, c) in used {
            let e = s as u16 | (l as u16) << 8;
            let mut i = c as usize;
            while i < TABLE_SIZE {
                self.single[i] = e;
                i += 1 << l;
            }
        }
    }

    /// The multi-symbol table bottom up, for codes whose windows never hold more than
    /// `MAX_ENTRY_SYMS` codes. `levels[2^a + j]` (`a` = 0..=10) is the greedy decode of the
    /// `a`-bit window `j`; the 11-bit level is `multi` itself. A window's entry is its first
    /// code's symbol followed by the entry of the bits left after that code. So, symbol by
    /// symbol, the windows that start with code `c` of length `l` are `c | r << l` for
    /// every `(a - l)`-bit window `r`, and their entries are the symbol prepended to level
    /// `a - l`'s entries, read in order: a few operations per entry and no table walk. Only
    /// the levels `a <= 11 - min_len` are needed below `multi`. `used` lists the code's
    /// symbols with their lengths and bit-reversed codes.
    fn build_levels(&mut self, min_len: u32, used: &[(u8, u32, u32)]) {
        /// Fills the level of `a` bits (`dst`, `2^a` entries) from the lower levels.
        #[inline(always)]
        fn level(dst: &mut [u64], lower: &[u64], a: u32, used: &[(u8, u32, u32)]) {
            assert_eq!(dst.len(), 1 << a);
            // (`used` is in canonical order: shortest codes first.)
            for &(sym, l, c) in used {
                if l > a {
                    break;
                }
                debug_assert!(c < 1 << l);
                let head = entry(sym as u64, 1, l as u64);
                for (r, &rest) in lower[1 << (a - l)..2 << (a - l)].iter().enumerate() {
                    // The symbol first, then the rest's symbols one byte up; counts and
                    // lengths add.
                    let e = ((rest & SYM_BYTES) << 8) + (rest & !SYM_BYTES) + head;
                    // SAFETY: `c` is a code of `l` bits and `r < 2^(a - l)`, so the index
                    // is below 2^a = dst.len() (asserted above). (The bound check cost a
                    // fifth of the table build.)
                    unsafe { *dst.get_unchecked_mut(c as usize | r << l) = e };
                }
            }
        }
        let Tables { multi, levels, .. } = self;
        // The empty window decodes to nothing.
        levels[1] = 0;
        for a in 1..=TABLE_BITS - min_len {
            // Levels below `a` are in `lower`, level `a` goes to the start of `upper`.
            let (lower, upper) = levels.split_at_mut(1 << a);
            let dst = &mut upper[..1 << a];
            // Windows whose first code is longer than `a` bits decode to nothing.
            dst.fill(0);
            level(dst, lower, a, used);
        }
        level(&mut multi[..], levels, TABLE_BITS, used);
    }
}

/// The used symbols of a code with their lengths and bit-reversed codes (as they appear in
/// the stream, first bit lowest), in canonical order (by length, then symbol), how many
/// there are, and the shortest length. The same codes as `canonical_codes`, in one pass
/// over the used symbols (the lengths read eight at a time, runs of unused symbols
/// skipped) instead of three over all 256: a table build's share of MiniLM's decoding
/// was 5-7%, about a sixth of it here.
pub(super) fn used_codes(lens: &[u8; 256]) -> ([(u8, u32, u32); 256], usize, u32) {
    const L: usize = MAX_CODE_LEN as usize + 1;
    let mut count = [0u32; L];
    for_each_used(lens, |_, l| count[l as usize] += 1);
    // Each length's first canonical code and first place in the list.
    let (mut next, mut at) = ([0u32; L], [0usize; L]);
    let (mut code, mut place) = (0u32, 0usize);
    let mut min_len = MAX_CODE_LEN;
    for l in 1..L {
        code = (code + count[l - 1]) << 1;
        next[l] = code;
        at[l] = place;
        place += count[l] as usize;
        if count[l] != 0 {
            min_len = min_len.min(l as u32);
        }
    }
    let mut used = [(0u8, 0u32, 0u32); 256];
    for_each_used(lens, |s, l| {
        let l = l as usize;
        used[at[l]] = (s as u8, l as u32, reverse(next[l], l as u32));
        next[l] += 1;
        at[l] += 1;
    });
    (used, place, min_len)
}

/// Calls `f(symbol, length)` for each used symbol of `lens` in order, reading the lengths
/// eight at a time and skipping runs of unused symbols.
#[inline(always)]
fn for_each_used(lens: &[u8; 256], mut f: impl FnMut(usize, u8)) {
    for (w, b) in lens.chunks_exact(8).enumerate() {
        if u64::from_le_bytes([b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7]]) == 0 {
            continue;
        }
        for (j, &l) in b.iter().enumerate() {
            if l != 0 {
                f(8 * w + j, l);
            }
        }
    }
}

/// Planes shorter than this (symbols) whose code differs from the last one decoded on the
/// thread are decoded with the single-symbol table ([`decode_short`]).
const SHORT: usize = 8192;

/// Decodes the four streams symbol by symbol with the single-symbol table, interleaved.
fn decode_short(
    payload: &[u8],
    dst: &mut [u8],
    single: &[u16; TABLE_SIZE],
    cur: &mut [Cursor; 4],
    oe: &[usize; 4],
) {
    // All four while each has symbols left (the first three are equal, the last at most
    // as long), then the rest one by one.
    let common = (0..4).map(|k| oe[k] - cur[k].op).min().unwrap_or(0);
    let (mut b, mut o) = (cur.map(|c| c.bp), cur.map(|c| c.op));
    for _ in 0..common {
        for k in 0..4 {
            let t = single[(load_padded(payload, b[k]) & TABLE_MASK) as usize];
            dst[o[k]] = t as u8;
            b[k] += (t >> 8) as usize;
            o[k] += 1;
        }
    }
    for k in 0..4 {
        while o[k] < oe[k] {
            let t = single[(load_padded(payload, b[k]) & TABLE_MASK) as usize];
            dst[o[k]] = t as u8;
            b[k] += (t >> 8) as usize;
            o[k] += 1;
        }
        cur[k] = Cursor { bp: b[k], op: o[k] };
    }
}

/// The symbol bytes of an entry.
const SYM_BYTES: u64 = ((1 << (8 * MAX_ENTRY_SYMS)) - 1) << 8;

/// The multi-symbol table by direct search (codes that may fit more than `MAX_ENTRY_SYMS`
/// times in a window): entry `i` holds the longest run of at most `MAX_ENTRY_SYMS` symbols
/// whose codes, one after another, fit in the 11 bits of `i`.
pub(super) fn multi_table(single: &[u16; TABLE_SIZE], multi: &mut [u64; TABLE_SIZE]) {
    for (i, m) in multi.iter_mut().enumerate() {
        let mut rem = i;
        let mut avail = TABLE_BITS;
        let mut syms = 0u64;
        let mut cnt = 0u32;
        while cnt < MAX_ENTRY_SYMS {
            // Bits past `avail` are zeros here; the entry is valid only if the code fits.
            let t = single[rem & (TABLE_SIZE - 1)];
            let l = (t >> 8) as u32;
            if l > avail {
                break;
            }
            syms |= ((t & 0xFF) as u64) << (8 * cnt);
            cnt += 1;
            avail -= l;
            rem >>= l;
        }
        *m = entry(syms, cnt as u64, (TABLE_BITS - avail) as u64);
    }
}

#[inline(always)]
fn load64(p: &[u8], i: usize) -> u64 {
    let b = &p[i..i + 8];
    u64::from_le_bytes([b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7]])
}

/// The stream bits from bit `bp` on (at least 57 valid), zeros past the end of `p`.
#[inline]
fn load_padded(p: &[u8], bp: usize) -> u64 {
    let i = bp >> 3;
    if i + 8 <= p.len() {
        load64(p, i) >> (bp & 7)
    } else {
        let mut b = [0u8; 8];
        if i < p.len() {
            b[..p.len() - i].copy_from_slice(&p[i..]);
        }
        u64::from_le_bytes(b) >> (bp & 7)
    }
}

/// How many fast rounds a stream can run without any bound being hit.
#[inline(always)]
fn fast_rounds(p: usize, bp: usize, op: usize, oe: usize) -> usize {
    let i = bp >> 3;
    if i + 8 > p || op + ROUND_OUT_REACH > oe {
        return 0;
    }
    ((p - 8 - i) / ROUND_MAX_IN + 1).min((oe - ROUND_OUT_REACH - op) / ROUND_MAX_OUT + 1)
}

/// A stream's decoding position: next bit of the payload, next output byte.
#[derive(Clone, Copy)]
struct Cursor {
    bp: usize,
    op: usize,
}

/// The bit set in the bit buffer after a refill, above the bits a round's lookups read
/// (at most 55 of the 57 or more valid ones), so that the bits consumed in the round can be
/// read back from the buffer's leading zeros. The top bit: setting it takes one OR, and the
/// leading zeros are the bits consumed as they are (bits 55..62 are stream bits that no
/// lookup of the round reaches).
const SENTINEL: u32 = 63;

/// Runs `rounds` rounds of every stream in `cur`. A round of a stream is one refill of its
/// bit buffer and `LOOKUPS_PER_REFILL` multi-symbol lookups; the streams' lookups are
/// interleaved one by one, so that the core always has `K` independent dependency chains
/// (load, shift) in program order instead of relying on its scheduler to reach into the
/// next stream's round (measured on MiniLM: bf16 exponent planes 2.96 → 3.55 Gsymbols/s,
/// fp16 1.41 → 1.75, one core).
///
/// # Safety
/// `fast_rounds` must allow `rounds` rounds for every stream of `cur`, with `src` the
/// payload's start and `out` the output's: each round starts with 8 readable payload bytes
/// at `bp >> 3` and `ROUND_OUT_REACH` writable output bytes at `op`.
#[inline(always)]
unsafe fn run_rounds<const K: usize>(
    src: *const u8,
    out: *mut u8,
    multi: &[u64; TABLE_SIZE],
    cur: &mut [Cursor; K],
    rounds: usize,
    warm: &mut &[u8],
) {
    // The bit positions change once per round; they live in memory (volatile accesses)
    // so that the four bit buffers and output positions, updated on every lookup, keep
    // the registers (with them in registers too, 16 are not enough and the compiler
    // spilled an output position instead: MiniLM bf16 exponent planes 3.44 -> 3.56
    // Gsymbols/s on one core).
    let mut bp = cur.map(|c| c.bp);
    let bpp = bp.as_mut_ptr();
    // SAFETY: each op is within the output (caller's contract).
    let mut op = cur.map(|c| unsafe { out.add(c.op) });
    let (mut pf, pf_end) = (warm.as_ptr(), warm.as_ptr_range().end);
    for _ in 0..rounds {
        if pf < pf_end {
            prefetch(pf);
            prefetch(pf.wrapping_add(64));
            pf = pf.wrapping_add(WARM_PER_ROUND);
        }
        let mut buf = [0u64; K];
        for (k, bk) in buf.iter_mut().enumerate() {
            // SAFETY: k < K, within `bp`.
            let b = unsafe { bpp.add(k).read_volatile() };
            // SAFETY: 8 readable bytes at this offset (caller's contract).
            let raw =
                u64::from_le(unsafe { src.add(b >> 3).cast::<u64>().read_unaligned() }) >> (b & 7);
            // 57 or more valid bits; the lookups read at most 55 of them.
            *bk = raw | 1 << SENTINEL;
        }
        for _ in 0..LOOKUPS_PER_REFILL {
            for k in 0..K {
                let e = multi[(buf[k] & TABLE_MASK) as usize];
                // SAFETY: `op` advances at most MAX_ENTRY_SYMS per lookup, so this 8-byte
                // store ends within ROUND_OUT_REACH bytes of the round's start (caller's
                // contract). Bytes past the entry's symbols are overwritten by the next
                // store or lie past the stream's end.
                unsafe {
                    op[k]
                        .cast::<u64>()
                        .write_unaligned(e.rotate_right(8).to_le())
                };
                // The entry's low six bits are its code length (`wrapping_shr` masks to them).
                buf[k] = buf[k].wrapping_shr(e as u32);
                // SAFETY: within the same bound as above.
                op[k] = unsafe { op[k].add((e >> 56) as usize) };
            }
        }
        for (k, bk) in buf.iter().enumerate() {
            // The bits consumed, read back from the sentinel's position.
            let used = bk.leading_zeros() as usize;
            // SAFETY: k < K, within `bp`.
            unsafe { bpp.add(k).write_volatile(bpp.add(k).read_volatile() + used) };
        }
    }
    // (`pf` may have passed the end by less than a round's step.)
    *warm = &warm[(pf as usize - warm.as_ptr() as usize).min(warm.len())..];
    for k in 0..K {
        // SAFETY: op[k] only moved forward within the same output.
        cur[k] = Cursor {
            bp: bp[k],
            op: unsafe { op[k].offset_from(out) } as usize,
        };
    }
}

/// Runs the four streams in lockstep for as long as each can run fast rounds, then the
/// ones that still can.
fn lockstep(
    payload: &[u8],
    dst: &mut [u8],
    multi: &[u64; TABLE_SIZE],
    cur: &mut [Cursor; 4],
    oe: &[usize; 4],
    warm: &mut &[u8],
) {
    #[cfg(target_arch = "x86_64")]
    {
        if std::is_x86_feature_detected!("bmi2") && std::is_x86_feature_detected!("lzcnt") {
            // SAFETY: the CPU supports BMI2 and LZCNT (checked just above).
            unsafe { lockstep_bmi2(payload, dst, multi, cur, oe, warm) };
            return;
        }
    }
    lockstep_generic(payload, dst, multi, cur, oe, warm);
}

/// `lockstep_generic` compiled with BMI2's flag-free variable shifts and LZCNT (one
/// instruction for the bits consumed per round instead of BSR and two more; bf16 exponent
/// planes 3.44 -> 3.59 Gsymbols/s on one core).
///
/// # Safety
/// The CPU must support BMI2 and LZCNT.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "bmi2,lzcnt")]
unsafe fn lockstep_bmi2(
    payload: &[u8],
    dst: &mut [u8],
    multi: &[u64; TABLE_SIZE],
    cur: &mut [Cursor; 4],
    oe: &[usize; 4],
    warm: &mut &[u8],
) {
    lockstep_generic(payload, dst, multi, cur, oe, warm);
}

#[inline(always)]
fn lockstep_generic(
    payload: &[u8],
    dst: &mut [u8],
    multi: &[u64; TABLE_SIZE],
    cur: &mut [Cursor; 4],
    oe: &[usize; 4],
    warm: &mut &[u8],
) {
    let p = payload.len();
    debug_assert!(oe.iter().all(|&e| e <= dst.len()));
    let src = payload.as_ptr();
    let out = dst.as_mut_ptr();
    loop {
        // The streams that can still run fast rounds, and how many all of them can run.
        let mut active = [0usize; 4];
        let mut count = 0;
        let mut rounds = usize::MAX;
        for k in 0..4 {
            let r = fast_rounds(p, cur[k].bp, cur[k].op, oe[k]);
            if r > 0 {
                active[count] = k;
                count += 1;
                rounds = rounds.min(r);
            }
        }
        // SAFETY: `fast_rounds` guaranteed `rounds` rounds for every stream run: each round
        // starts with 8 payload bytes readable at bp >> 3 and ROUND_OUT_REACH output bytes
        // writable at op within the stream's region (oe <= dst.len()).
        unsafe {
            match count {
                0 => return,
                4 => run_rounds(src, out, multi, cur, rounds, warm),
                // Once one stream is near its end, the others go on interleaved as long as
                // they can (rather than each alone, at a quarter of the speed).
                3 => run_subset::<3>(src, out, multi, cur, &active, rounds, warm),
                2 => run_subset::<2>(src, out, multi, cur, &active, rounds, warm),
                _ => run_subset::<1>(src, out, multi, cur, &active, rounds, warm),
            }
        }
    }
}

/// Runs the eight streams of two planes in lockstep for as long as each can run fast
/// rounds (the streams of one plane end together, so the rest is little).
#[allow(clippy::too_many_arguments)]
fn pair_lockstep(
    sa: &mut Streams<'_>,
    da: &mut [u8],
    ta: &[u64; TABLE_SIZE],
    sb: &mut Streams<'_>,
    db: &mut [u8],
    tb: &[u64; TABLE_SIZE],
    warm: [&mut &[u8]; 2],
) {
    #[cfg(target_arch = "x86_64")]
    {
        if std::is_x86_feature_detected!("bmi2") && std::is_x86_feature_detected!("lzcnt") {
            // SAFETY: the CPU supports BMI2 and LZCNT (checked just above).
            unsafe { pair_lockstep_bmi2(sa, da, ta, sb, db, tb, warm) };
            return;
        }
    }
    pair_lockstep_generic(sa, da, ta, sb, db, tb, warm);
}

/// `pair_lockstep_generic` compiled with BMI2 and LZCNT (as [`lockstep_bmi2`]).
///
/// # Safety
/// The CPU must support BMI2 and LZCNT.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "bmi2,lzcnt")]
#[allow(clippy::too_many_arguments)]
unsafe fn pair_lockstep_bmi2(
    sa: &mut Streams<'_>,
    da: &mut [u8],
    ta: &[u64; TABLE_SIZE],
    sb: &mut Streams<'_>,
    db: &mut [u8],
    tb: &[u64; TABLE_SIZE],
    warm: [&mut &[u8]; 2],
) {
    pair_lockstep_generic(sa, da, ta, sb, db, tb, warm);
}

#[inline(always)]
#[allow(clippy::too_many_arguments)]
fn pair_lockstep_generic(
    sa: &mut Streams<'_>,
    da: &mut [u8],
    ta: &[u64; TABLE_SIZE],
    sb: &mut Streams<'_>,
    db: &mut [u8],
    tb: &[u64; TABLE_SIZE],
    warm: [&mut &[u8]; 2],
) {
    debug_assert!(sa.oe.iter().all(|&e| e <= da.len()));
    debug_assert!(sb.oe.iter().all(|&e| e <= db.len()));
    let mut warm = warm;
    let (pa, pb) = (sa.payload.len(), sb.payload.len());
    let src = [sa.payload.as_ptr(), sb.payload.as_ptr()];
    let out = [da.as_mut_ptr(), db.as_mut_ptr()];
    loop {
        let mut rounds = usize::MAX;
        for k in 0..4 {
            let (a, b) = (&sa.cur[k], &sb.cur[k]);
            rounds = rounds
                .min(fast_rounds(pa, a.bp, a.op, sa.oe[k]))
                .min(fast_rounds(pb, b.bp, b.op, sb.oe[k]));
        }
        if rounds == 0 {
            return;
        }
        let mut cur: [Cursor; 8] = std::array::from_fn(|k| [&sa.cur, &sb.cur][k / 4][k % 4]);
        // SAFETY: `fast_rounds` guaranteed `rounds` rounds for every stream: each round
        // starts with 8 payload bytes readable at bp >> 3 of its plane's payload and
        // ROUND_OUT_REACH output bytes writable at op within its plane's output.
        unsafe { run_rounds_pair(src, out, [ta, tb], &mut cur, rounds, &mut warm) };
        for (k, c) in cur.into_iter().enumerate() {
            [&mut sa.cur, &mut sb.cur][k / 4][k % 4] = c;
        }
    }
}

/// [`run_rounds`] of eight streams, four of each of two planes: stream `k` reads
/// `src[k / 4]`, writes `out[k / 4]` and looks up `multi[k / 4]`. `warm` as for
/// [`run_rounds`], one per plane (two cache lines of each per round).
///
/// # Safety
/// As for [`run_rounds`], for each stream with its plane's payload and output.
#[inline(always)]
unsafe fn run_rounds_pair(
    src: [*const u8; 2],
    out: [*mut u8; 2],
    multi: [&[u64; TABLE_SIZE]; 2],
    cur: &mut [Cursor; 8],
    rounds: usize,
    warm: &mut [&mut &[u8]; 2],
) {
    const K: usize = 8;
    // Eight bit buffers, eight output positions and the tables' addresses do not fit in
    // 16 registers, and left to itself the compiler spilled bit buffers, which are on the
    // chains. So the bit positions live in memory (as in `run_rounds`), and so do the
    // output positions but the first `REG_OPS` (MiniLM exponent planes on one core,
    // Gsymbols/s against four streams' 3.8 (bf16) and 1.8 (fp16): all in registers 3.4
    // and 1.6, none 4.1 and 1.9, two 4.3 and 2.0, one or three or four less than two).
    const REG_OPS: usize = 2;
    let mut bp = cur.map(|c| c.bp);
    let bpp = bp.as_mut_ptr();
    // SAFETY: each op is within its output (caller's contract).
    let mut op: [*mut u8; K] = std::array::from_fn(|k| unsafe { out[k / 4].add(cur[k].op) });
    let mut pf = [warm[0].as_ptr(), warm[1].as_ptr()];
    let pf_end = [warm[0].as_ptr_range().end, warm[1].as_ptr_range().end];
    for _ in 0..rounds {
        for g in 0..2 {
            if pf[g] < pf_end[g] {
                prefetch(pf[g]);
                prefetch(pf[g].wrapping_add(64));
                pf[g] = pf[g].wrapping_add(WARM_PER_ROUND);
            }
        }
        let mut buf = [0u64; K];
        for (k, bk) in buf.iter_mut().enumerate() {
            // SAFETY: k < K, within `bp`.
            let b = unsafe { bpp.add(k).read_volatile() };
            // SAFETY: 8 readable bytes at this offset (caller's contract).
            let raw =
                u64::from_le(unsafe { src[k / 4].add(b >> 3).cast::<u64>().read_unaligned() })
                    >> (b & 7);
            *bk = raw | 1 << SENTINEL;
        }
        for _ in 0..LOOKUPS_PER_REFILL {
            for k in 0..K {
                let e = multi[k / 4][(buf[k] & TABLE_MASK) as usize];
                // SAFETY: the store and the advance are within the same bounds as in
                // `run_rounds` (caller's contract); k < K, within `op`.
                unsafe {
                    if k < REG_OPS {
                        op[k]
                            .cast::<u64>()
                            .write_unaligned(e.rotate_right(8).to_le());
                        op[k] = op[k].add((e >> 56) as usize);
                    } else {
                        let opp = op.as_mut_ptr().add(k);
                        let o = opp.read_volatile();
                        o.cast::<u64>().write_unaligned(e.rotate_right(8).to_le());
                        opp.write_volatile(o.add((e >> 56) as usize));
                    }
                }
                buf[k] = buf[k].wrapping_shr(e as u32);
            }
        }
        for (k, bk) in buf.iter().enumerate() {
            let used = bk.leading_zeros() as usize;
            // SAFETY: k < K, within `bp`.
            unsafe { bpp.add(k).write_volatile(bpp.add(k).read_volatile() + used) };
        }
    }
    for g in 0..2 {
        let w = &mut *warm[g];
        *w = &w[(pf[g] as usize - w.as_ptr() as usize).min(w.len())..];
    }
    for k in 0..K {
        // SAFETY: op[k] only moved forward within the same output.
        cur[k] = Cursor {
            bp: bp[k],
            op: unsafe { op[k].offset_from(out[k / 4]) } as usize,
        };
    }
}

/// [`run_rounds`] on the streams `active[..K]` of `cur`.
///
/// # Safety
/// As for [`run_rounds`], for each of those streams.
#[inline(always)]
unsafe fn run_subset<const K: usize>(
    src: *const u8,
    out: *mut u8,
    multi: &[u64; TABLE_SIZE],
    cur: &mut [Cursor; 4],
    active: &[usize; 4],
    rounds: usize,
    warm: &mut &[u8],
) {
    let mut sub: [Cursor; K] = std::array::from_fn(|j| cur[active[j]]);
    // SAFETY: the caller's contract.
    unsafe { run_rounds(src, out, multi, &mut sub, rounds, warm) };
    for (j, c) in sub.into_iter().enumerate() {
        cur[active[j]] = c;
    }
}

/// Bytes of [`decode_warming`]'s `warm` asked for per round of lookups (two cache lines).
/// A round of four streams decodes at most 120 symbols (five lookups of at most six each),
/// so a plane of `n` symbols asks for more than `n` bytes: all of a raw plane of the same
/// chunk.
const WARM_PER_ROUND: usize = 128;

/// Asks for the cache line holding `p` to be brought into the caches. Never faults,
/// whatever the address.
#[inline(always)]
fn prefetch(p: *const u8) {
    #[cfg(target_arch = "x86_64")]
    // SAFETY: a prefetch is only a hint: it reads nothing architecturally and does not
    // fault on any address (SSE, part of x86_64).
    unsafe {
        std::arch::x86_64::_mm_prefetch::<{ std::arch::x86_64::_MM_HINT_T0 }>(p.cast())
    };
    #[cfg(not(target_arch = "x86_64"))]
    let _ = p;
}

/// Decodes the last symbols of one stream, which the fast rounds leave (fewer than a round's
/// reach): whole multi-symbol entries while eight output bytes are left in the stream's
/// part of `dst` (the same symbols and bits as one at a time: an entry holds the symbols
/// that single lookups from the same bits would give), then one at a time.
fn finish_stream(payload: &[u8], dst: &mut [u8], t: &Tables, c: &mut Cursor, oe: usize) {
    debug_assert!(oe <= dst.len());
    let (mut b, mut o) = (c.bp, c.op);
    while o + 8 <= oe {
        let e = t.multi[(load_padded(payload, b) & TABLE_MASK) as usize];
        let count = (e >> 56) as usize;
        if count == 0 {
            break;
        }
        // At most MAX_ENTRY_SYMS symbols; the bytes past them are overwritten next.
        dst[o..o + 8].copy_from_slice(&(e >> 8).to_le_bytes());
        o += count;
        b += (e & 0xFF) as usize;
    }
    // The last symbols one at a time: the first symbol of a multi-symbol entry and its
    // code's length.
    while o < oe {
        let sym = (t.multi[(load_padded(payload, b) & TABLE_MASK) as usize] >> 8) as u8;
        dst[o] = sym;
        b += t.lens[sym as usize] as usize;
        o += 1;
    }
    c.bp = b;
    c.op = o;
}
