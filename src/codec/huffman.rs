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

use crate::error::{Error, Result};

/// Maximum code length in bits.
pub const MAX_CODE_LEN: u32 = 11;

const TABLE_BITS: u32 = MAX_CODE_LEN;
const TABLE_SIZE: usize = 1 << TABLE_BITS;
const TABLE_MASK: u64 = TABLE_SIZE as u64 - 1;
/// Bytes of the stream-size fields (three u32).
const SIZE_FIELDS: usize = 12;
/// Most symbols one multi-symbol table entry holds.
const MAX_ENTRY_SYMS: u32 = 6;
/// Table lookups per bit-buffer refill: a refill yields at least 57 valid bits.
const LOOKUPS_PER_REFILL: usize = 5;
/// Most bytes a fast-path round advances one stream's input (5 * 11 = 55 bits < 7 bytes + 7).
const ROUND_MAX_IN: usize = 7;
/// Most symbols a fast-path round writes.
const ROUND_MAX_OUT: usize = LOOKUPS_PER_REFILL * MAX_ENTRY_SYMS as usize;
/// Output bytes a fast-path round may touch past its start (last store is 8 bytes wide).
const ROUND_OUT_REACH: usize = (LOOKUPS_PER_REFILL - 1) * MAX_ENTRY_SYMS as usize + 8;

/// Order-0 histogram of `src` (the same count the engine uses: `transform::histogram`).
pub fn histogram(src: &[u8]) -> [u32; 256] {
    crate::transform::histogram(src)
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

/// [`encode_into`]; `allow_pairs` false forces the one-symbol-per-lookup path (the tests
/// check that both give the same bytes).
fn encode_with(src: &[u8], plan: &Plan, out: &mut [u8], allow_pairs: bool) -> usize {
    let n = src.len();
    let (min, max, lens) = (plan.min, plan.max, &plan.lens);
    assert!(out.len() >= plan.size);
    let codes = canonical_codes(lens);

    // Header: symbol range and 4-bit code lengths.
    out[0] = min as u8;
    out[1] = max as u8;
    let mut at = 2;
    for pair in lens[min..=max].chunks(2) {
        let hi = if pair.len() == 2 { pair[1] } else { 0 };
        out[at] = pair[0] | (hi << 4);
        at += 1;
    }
    let sizes_at = at;
    let payload_at = at + SIZE_FIELDS;

    // Encoder table: bit-reversed code in bits 8.., length in bits 0..8.
    let mut enc = [0u32; 256];
    for s in 0..256 {
        if lens[s] != 0 {
            enc[s] = (reverse(codes[s], lens[s] as u32) << 8) | lens[s] as u32;
        }
    }
    let payload_len = plan.size - payload_at;
    let body = &mut out[payload_at..];

    let mut w = BitWriter {
        acc: 0,
        nbits: 0,
        pos: 0,
    };
    let q = n.div_ceil(4);
    let mut bounds = [0u64; 3];
    let used = lens.iter().filter(|&&l| l != 0).count();
    let mut pairs = (allow_pairs && used * used * PAIR_FILL_COST <= n && n >= PAIR_MIN_LEN)
        .then(|| PAIRS.with(|p| p.try_borrow_mut().ok().map(|mut t| t.take())))
        .flatten()
        .map(|t| t.unwrap_or_else(PairTables::new));
    if let Some(t) = pairs.as_mut() {
        t.fill(&enc, lens);
    }
    for k in 0..4 {
        let seg = &src[(k * q).min(n)..((k + 1) * q).min(n)];
        let seg = match pairs.as_ref() {
            Some(t) => w.put_pairs(seg, t, body),
            None => seg,
        };
        w.put_all(seg, &enc, body);
        if k < 3 {
            bounds[k] = w.pos as u64 * 8 + w.nbits as u64;
        }
    }
    if w.nbits > 0 {
        body[w.pos] = w.acc as u8;
        w.pos += 1;
    }
    debug_assert_eq!(w.pos, payload_len);
    if let Some(t) = pairs {
        PAIRS.with(|p| {
            if let Ok(mut slot) = p.try_borrow_mut() {
                *slot = Some(t);
            }
        });
    }
    let sizes = [bounds[0], bounds[1] - bounds[0], bounds[2] - bounds[1]];
    for (k, &s) in sizes.iter().enumerate() {
        out[sizes_at + 4 * k..sizes_at + 4 * k + 4].copy_from_slice(&(s as u32).to_le_bytes());
    }
    plan.size
}

/// Decodes `src` (exactly the bytes `encode` appended) into `dst`, whose length is the number
/// of symbols that were encoded.
pub fn decode(src: &[u8], dst: &mut [u8]) -> Result<()> {
    let n = dst.len();
    if n == 0 {
        return if src.is_empty() {
            Ok(())
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
        return Ok(());
    }

    let s1 = hdr.sizes[0] as usize;
    let s2 = s1 + hdr.sizes[1] as usize;
    let s3 = s2 + hdr.sizes[2] as usize;
    let mut cur = [0, 1, 2, 3].map(|k| Cursor {
        bp: [0, s1, s2, s3][k],
        op: seg(k).0,
    });
    let oe = [0, 1, 2, 3].map(|k| seg(k).1);
    Tables::with(|tables| {
        tables.build(&hdr.lens);
        lockstep(payload, dst, &tables.multi, &mut cur, &oe);
        for k in 0..4 {
            finish_stream(payload, dst, tables, &mut cur[k], oe[k]);
        }
    });
    let bp = cur.map(|c| c.bp);

    // Every stream must end exactly where the next begins; the last one must end in the
    // last byte, followed only by zero padding bits.
    if bp[0] != s1 || bp[1] != s2 || bp[2] != s3 {
        return Err(Error::Corrupt);
    }
    let end = bp[3];
    if end > p * 8 || end.div_ceil(8) != p {
        return Err(Error::Corrupt);
    }
    if end % 8 != 0 && payload[p - 1] >> (end % 8) != 0 {
        return Err(Error::Corrupt);
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Code construction

/// Smallest and largest symbol with a nonzero count.
fn symbol_range(hist: &[u32; 256]) -> Option<(usize, usize)> {
    let min = hist.iter().position(|&c| c != 0)?;
    let max = 255 - hist.iter().rev().position(|&c| c != 0)?;
    Some((min, max))
}

fn header_len(min: usize, max: usize) -> usize {
    2 + (max - min + 1).div_ceil(2) + SIZE_FIELDS
}

/// Optimal code lengths under the `MAX_CODE_LEN` limit (package-merge); 0 for unused symbols.
/// A lone symbol gets length 1.
fn code_lengths(hist: &[u32; 256]) -> [u8; 256] {
    let mut lens = [0u8; 256];
    // Used symbols sorted by (count, symbol); keys are unique so the order is deterministic.
    let mut keys = [0u64; 256];
    let mut m = 0;
    for (s, &c) in hist.iter().enumerate() {
        if c != 0 {
            keys[m] = ((c as u64) << 8) | s as u64;
            m += 1;
        }
    }
    let keys = &mut keys[..m];
    keys.sort_unstable();
    match m {
        0 => return lens,
        1 => {
            lens[(keys[0] & 0xFF) as usize] = 1;
            return lens;
        }
        _ => {}
    }

    // Plain Huffman first (two queues over the sorted leaves); it is optimal whenever its
    // longest code is within the limit. Otherwise fall back to package-merge.
    let mut weight = [0u64; 512];
    let mut parent = [0u16; 512];
    for (w, &k) in weight.iter_mut().zip(keys.iter()) {
        *w = k >> 8;
    }
    let (mut next_leaf, mut next_node) = (0, m);
    for node in m..2 * m - 1 {
        let mut pick = || {
            let take_leaf =
                next_node == node || (next_leaf < m && weight[next_leaf] <= weight[next_node]);
            if take_leaf {
                next_leaf += 1;
                next_leaf - 1
            } else {
                next_node += 1;
                next_node - 1
            }
        };
        let (a, b) = (pick(), pick());
        weight[node] = weight[a] + weight[b];
        parent[a] = node as u16;
        parent[b] = node as u16;
    }
    // Parents come after their children, so depths resolve from the root down.
    let mut depth = [0u8; 512];
    let mut longest = 0;
    for i in (0..2 * m - 2).rev() {
        depth[i] = depth[parent[i] as usize] + 1;
        longest = longest.max(depth[i]);
    }
    if longest as u32 <= MAX_CODE_LEN {
        for i in 0..m {
            lens[(keys[i] & 0xFF) as usize] = depth[i];
        }
        return lens;
    }
    package_merge(keys, &mut lens);
    lens
}

/// Optimal lengths within `MAX_CODE_LEN` for the used symbols, given as (count << 8 | symbol)
/// keys in ascending order (at least two of them).
fn package_merge(keys: &[u64], lens: &mut [u8; 256]) {
    const L: usize = MAX_CODE_LEN as usize;
    let m = keys.len();
    let leaf = |i: usize| keys[i] >> 8;
    // Lists per level, from the deepest (index L-1: the leaves alone) up to index 0. Each
    // list is the merge, by weight, of the leaves and the pairs of the list below it.
    // `is_leaf[d][i]` tells whether item i of list d is a leaf (else a package).
    let mut is_leaf = [[false; 512]; L];
    let mut list_len = [0usize; L];
    let mut prev = [0u64; 512];
    let mut cur = [0u64; 512];
    for i in 0..m {
        prev[i] = leaf(i);
        is_leaf[L - 1][i] = true;
    }
    list_len[L - 1] = m;
    for d in (0..L - 1).rev() {
        let packages = list_len[d + 1] / 2;
        let (mut i, mut j, mut o) = (0, 0, 0);
        while i < m || j < packages {
            let take_leaf = j == packages || (i < m && leaf(i) <= prev[2 * j] + prev[2 * j + 1]);
            if take_leaf {
                cur[o] = leaf(i);
                is_leaf[d][o] = true;
                i += 1;
            } else {
                cur[o] = prev[2 * j] + prev[2 * j + 1];
                j += 1;
            }
            o += 1;
        }
        list_len[d] = o;
        std::mem::swap(&mut prev, &mut cur);
    }
    // Select the first 2m-2 items of the top list; each selected package selects two items of
    // the list below. A symbol's length is the number of lists in which it is selected; the
    // selected leaves of a list are always its lightest ones.
    let mut take = 2 * m - 2;
    for d in 0..L {
        debug_assert!(take <= list_len[d]);
        let take_here = take.min(list_len[d]);
        let leaves = is_leaf[d][..take_here].iter().filter(|&&b| b).count();
        for &k in &keys[..leaves] {
            lens[(k & 0xFF) as usize] += 1;
        }
        take = 2 * (take_here - leaves);
    }
}

/// Canonical codes (most significant bit first) for the lengths: codes are assigned in order
/// of (length, symbol value), consecutive within a length.
fn canonical_codes(lens: &[u8; 256]) -> [u32; 256] {
    let mut count = [0u32; MAX_CODE_LEN as usize + 1];
    for &l in lens.iter() {
        count[l as usize] += 1;
    }
    count[0] = 0;
    let mut next = [0u32; MAX_CODE_LEN as usize + 1];
    let mut code = 0u32;
    for l in 1..=MAX_CODE_LEN as usize {
        code = (code + count[l - 1]) << 1;
        next[l] = code;
    }
    let mut codes = [0u32; 256];
    for s in 0..256 {
        let l = lens[s] as usize;
        if l != 0 {
            codes[s] = next[l];
            next[l] += 1;
        }
    }
    codes
}

/// The low `len` bits of `code`, reversed.
fn reverse(code: u32, len: u32) -> u32 {
    code.reverse_bits() >> (32 - len)
}

// ---------------------------------------------------------------------------------------------
// Encoder

struct BitWriter {
    acc: u64,
    /// Bits pending in `acc`; below 8 between calls.
    nbits: u32,
    /// Bytes completed in the output.
    pos: usize,
}

impl BitWriter {
    /// Appends the codes of `seg`. Full-word stores are used while `out` has 8 bytes of room
    /// past the current position; the last bytes are stored one word piece at a time.
    fn put_all(&mut self, seg: &[u8], enc: &[u32; 256], out: &mut [u8]) {
        #[cfg(target_arch = "x86_64")]
        {
            if std::is_x86_feature_detected!("bmi2") {
                // SAFETY: the CPU supports BMI2 (checked just above).
                unsafe { self.put_all_bmi2(seg, enc, out) };
                return;
            }
        }
        self.put_all_generic(seg, enc, out);
    }

    /// `put_all_generic` compiled with BMI2's flag-free variable shifts.
    ///
    /// # Safety
    /// The CPU must support BMI2.
    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "bmi2")]
    unsafe fn put_all_bmi2(&mut self, seg: &[u8], enc: &[u32; 256], out: &mut [u8]) {
        self.put_all_generic(seg, enc, out);
    }

    #[inline(always)]
    fn put_all_generic(&mut self, seg: &[u8], enc: &[u32; 256], out: &mut [u8]) {
        let (mut acc, mut nbits, mut pos) = (self.acc, self.nbits, self.pos);
        // Five codes (at most 55 bits) on top of at most 7 pending bits fit in 64. They are
        // first joined in a small tree, which keeps the dependency chain through `acc` short.
        // A group advances `pos` by at most 62 / 8 = 7 bytes and stores 8 bytes at `pos`.
        let mut groups = seg.chunks_exact(GROUP);
        loop {
            // Groups that fit in `out` without any bound check.
            let room = out.len().saturating_sub(pos + 8) / 7 + usize::from(pos + 8 <= out.len());
            let mut n = room.min(groups.len());
            if n == 0 {
                break;
            }
            let dst = out.as_mut_ptr();
            while n > 0 {
                n -= 1;
                let Some(c) = groups.next() else { break };
                let [e0, e1, e2, e3, e4] = [c[0], c[1], c[2], c[3], c[4]].map(|s| enc[s as usize]);
                let (l0, l1, l2, l3) = (e0 & 0xFF, e1 & 0xFF, e2 & 0xFF, e3 & 0xFF);
                let p01 = (e0 >> 8) as u64 | ((e1 >> 8) as u64) << l0;
                let p23 = (e2 >> 8) as u64 | ((e3 >> 8) as u64) << l2;
                let l01 = l0 + l1;
                let l0123 = l01 + l2 + l3;
                let g = p01 | p23 << l01 | ((e4 >> 8) as u64) << l0123;
                acc |= g << nbits;
                nbits += l0123 + (e4 & 0xFF);
                // SAFETY: `room` groups were checked to fit: before each, pos + 8 <= out.len().
                unsafe { dst.add(pos).cast::<u64>().write_unaligned(acc.to_le()) };
                pos += (nbits >> 3) as usize;
                acc >>= nbits & !7;
                nbits &= 7;
            }
        }
        // Whatever is left (the last few symbols, or everything if `out` is too tight, which
        // happens only for a histogram that does not match `seg`): one at a time, checked.
        let rest = groups.len() * GROUP;
        let tail = &seg[seg.len() - groups.remainder().len() - rest..];
        for chunk in tail.chunks(GROUP) {
            for &s in chunk {
                let e = enc[s as usize];
                acc |= ((e >> 8) as u64) << nbits;
                nbits += e & 0xFF;
            }
            let room = out.len().saturating_sub(pos).min(8);
            out[pos..pos + room].copy_from_slice(&acc.to_le_bytes()[..room]);
            pos += (nbits >> 3) as usize;
            acc = if nbits >= 8 { acc >> (nbits & !7) } else { acc };
            nbits &= 7;
        }
        self.acc = acc;
        self.nbits = nbits;
        self.pos = pos;
    }
}

/// Symbols the encoder joins before one store.
const GROUP: usize = 5;

/// Planes of `n` symbols with `m` distinct ones are coded two symbols per lookup when
/// `m * m * PAIR_FILL_COST <= n`: filling the `m * m` pair entries must stay small next to
/// the lookups it saves (m <= 128 for a 128 KiB plane: bf16/fp32 exponents, fp16's e5 m3).
const PAIR_FILL_COST: usize = 8;
/// Planes shorter than this are not worth filling the pair table for.
const PAIR_MIN_LEN: usize = 16 * 1024;

thread_local! {
    /// Per-thread pair tables (320 KiB, allocated on first use and reused).
    static PAIRS: std::cell::RefCell<Option<Box<PairTables>>> =
        const { std::cell::RefCell::new(None) };
}

/// Codes of symbol pairs, indexed by the two bytes read as a little-endian u16 (first symbol
/// in the low byte). Only the entries of the current plane's symbols are filled; others
/// hold stale values and are never read, since the plane contains no other symbols. One
/// allocation, so that the encoder addresses both arrays from one register.
struct PairTables {
    /// The first code's bits, then the second's (bit-reversed, LSB first).
    code: [u32; 1 << 16],
    /// Total length of the two codes.
    len: [u8; 1 << 16],
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

impl PairTables {
    fn new() -> Box<PairTables> {
        // SAFETY: `PairTables` is plain integers, for which all-zero bytes are a valid value.
        unsafe { zeroed_box() }
    }

    fn fill(&mut self, enc: &[u32; 256], lens: &[u8; 256]) {
        let used: Vec<usize> = (0..256).filter(|&s| lens[s] != 0).collect();
        for &b in &used {
            let (cb, lb) = (enc[b] >> 8, enc[b] & 0xFF);
            for &a in &used {
                let (ca, la) = (enc[a] >> 8, enc[a] & 0xFF);
                let i = a | b << 8;
                self.code[i] = ca | cb << la;
                self.len[i] = (la + lb) as u8;
            }
        }
    }
}

impl BitWriter {
    /// Codes the leading whole groups of eight symbols of `seg` with pair lookups while `out`
    /// has room for two word stores, and returns the symbols left for [`BitWriter::put_all`].
    fn put_pairs<'a>(&mut self, seg: &'a [u8], t: &PairTables, out: &mut [u8]) -> &'a [u8] {
        #[cfg(target_arch = "x86_64")]
        {
            if std::is_x86_feature_detected!("bmi2") {
                // SAFETY: the CPU supports BMI2 (checked just above).
                return unsafe { self.put_pairs_bmi2(seg, t, out) };
            }
        }
        self.put_pairs_generic(seg, t, out)
    }

    /// `put_pairs_generic` compiled with BMI2's flag-free variable shifts.
    ///
    /// # Safety
    /// The CPU must support BMI2.
    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "bmi2")]
    unsafe fn put_pairs_bmi2<'a>(
        &mut self,
        seg: &'a [u8],
        t: &PairTables,
        out: &mut [u8],
    ) -> &'a [u8] {
        self.put_pairs_generic(seg, t, out)
    }

    #[inline(always)]
    fn put_pairs_generic<'a>(&mut self, seg: &'a [u8], t: &PairTables, out: &mut [u8]) -> &'a [u8] {
        let (mut acc, mut nbits, mut pos) = (self.acc, self.nbits, self.pos);
        let groups = seg.len() / 8;
        let mut g = 0;
        let src = seg.as_ptr();
        let dst = out.as_mut_ptr();
        loop {
            // Each group stores at most twice and advances `pos` by at most 11 bytes, so
            // while pos + 24 <= out.len() one more group fits: count them up front.
            let room = match out.len().checked_sub(pos + 24) {
                Some(r) => r / 11 + 1,
                None => 0,
            };
            let run = room.min(groups - g);
            if run == 0 {
                break;
            }
            // Pointers rather than a group index and an output offset: two fewer registers
            // live in the loop, which spills less (MiniLM bf16, one thread: compression
            // 2616 -> 2732 MB/s).
            // SAFETY: g + run <= groups, so the groups' bytes lie within `seg`; `pos` is
            // within `out`.
            let (mut sp, end, mut op) =
                unsafe { (src.add(8 * g), src.add(8 * (g + run)), dst.add(pos)) };
            while sp < end {
                // Four 16-bit loads (the pairs' indices) cost fewer operations than one
                // 64-bit load taken apart with shifts.
                // SAFETY: sp + 8 <= end, within `seg`.
                let i = [0, 2, 4, 6]
                    .map(|k| unsafe { sp.add(k).cast::<u16>().read_unaligned().to_le() });
                // SAFETY: as above (at most `end`).
                sp = unsafe { sp.add(8) };
                let [c0, c1, c2, c3] = i.map(|i| t.code[i as usize] as u64);
                let [l0, l1, l2, l3] = i.map(|i| t.len[i as usize] as u32);
                let l01 = l0 + l1;
                let total = l01 + l2 + l3;
                if nbits + total <= 63 {
                    // Usual case (short codes): all eight codes in one store.
                    let w = (c0 | c1 << l0) | (c2 | c3 << l2) << l01;
                    acc |= w << nbits;
                    nbits += total;
                    // SAFETY: op + 24 <= out's end (`room`).
                    unsafe { op.cast::<u64>().write_unaligned(acc.to_le()) };
                } else {
                    // Long codes: two stores of at most 44 bits on top of 7 pending bits.
                    acc |= (c0 | c1 << l0) << nbits;
                    nbits += l01;
                    // SAFETY: as above.
                    unsafe {
                        op.cast::<u64>().write_unaligned(acc.to_le());
                        op = op.add((nbits >> 3) as usize);
                    }
                    acc >>= nbits & !7;
                    nbits &= 7;
                    acc |= (c2 | c3 << l2) << nbits;
                    nbits += l2 + l3;
                    // SAFETY: op advanced by at most 6 bytes, so op + 8 <= out's end.
                    unsafe { op.cast::<u64>().write_unaligned(acc.to_le()) };
                }
                // SAFETY: at most 11 bytes per group, within `room`.
                op = unsafe { op.add((nbits >> 3) as usize) };
                acc >>= nbits & !7;
                nbits &= 7;
            }
            g += run;
            // SAFETY: `op` was derived from `dst` and only moved forward within `out`.
            pos = unsafe { op.offset_from(dst) } as usize;
        }
        self.acc = acc;
        self.nbits = nbits;
        self.pos = pos;
        &seg[8 * g..]
    }
}

// ---------------------------------------------------------------------------------------------
// Decoder

struct Header {
    lens: [u8; 256],
    /// The symbol, if the code has exactly one.
    single: Option<u8>,
    /// Bit sizes of streams 0, 1, 2.
    sizes: [u64; 3],
    payload_at: usize,
}

fn parse_header(src: &[u8]) -> Result<Header> {
    if src.len() < 2 {
        return Err(Error::Corrupt);
    }
    let (min, max) = (src[0] as usize, src[1] as usize);
    if min > max {
        return Err(Error::Corrupt);
    }
    let span = max - min + 1;
    let len_bytes = span.div_ceil(2);
    let payload_at = 2 + len_bytes + SIZE_FIELDS;
    if src.len() < payload_at {
        return Err(Error::Corrupt);
    }
    let mut lens = [0u8; 256];
    for j in 0..span {
        let l = (src[2 + j / 2] >> (4 * (j & 1))) & 15;
        if l as u32 > MAX_CODE_LEN {
            return Err(Error::Corrupt);
        }
        lens[min + j] = l;
    }
    if span % 2 == 1 && src[2 + len_bytes - 1] >> 4 != 0 {
        return Err(Error::Corrupt);
    }
    if lens[min] == 0 || lens[max] == 0 {
        return Err(Error::Corrupt);
    }
    let used = lens.iter().filter(|&&l| l != 0).count();
    let single = if used == 1 {
        if lens[min] != 1 {
            return Err(Error::Corrupt);
        }
        Some(min as u8)
    } else {
        let kraft: u32 = lens
            .iter()
            .filter(|&&l| l != 0)
            .map(|&l| 1u32 << (MAX_CODE_LEN - l as u32))
            .sum();
        if kraft != TABLE_SIZE as u32 {
            return Err(Error::Corrupt);
        }
        None
    };
    let at = 2 + len_bytes;
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
struct Tables {
    /// Single-symbol entries: symbol in bits 0..8, code length in bits 8..12.
    single: [u16; TABLE_SIZE],
    /// Multi-symbol entries (see [`entry`]).
    multi: [u64; TABLE_SIZE],
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
}

impl Tables {
    fn boxed() -> Box<Tables> {
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

    /// Fills the tables for a complete code (Kraft sum exactly 1; at least two symbols).
    fn build(&mut self, lens: &[u8; 256]) {
        let codes = canonical_codes(lens);
        let mut min_len = MAX_CODE_LEN;
        // The used symbols with their lengths and bit-reversed codes (as they appear in the
        // stream, first bit lowest).
        let mut used = [(0u8, 0u32, 0u32); 256];
        let mut count = 0usize;
        for s in 0..256 {
            let l = lens[s] as u32;
            if l == 0 {
                continue;
            }
            min_len = min_len.min(l);
            let e = s as u16 | (l as u16) << 8;
            let c = reverse(codes[s], l);
            used[count] = (s as u8, l, c);
            count += 1;
            let mut i = c as usize;
            while i < TABLE_SIZE {
                self.single[i] = e;
                i += 1 << l;
            }
        }
        if 2 * min_len > TABLE_BITS {
            // No two codes fit in one window: one symbol per entry.
            for (m, &t) in self.multi.iter_mut().zip(self.single.iter()) {
                *m = entry((t & 0xFF) as u64, 1, (t >> 8) as u64);
            }
        } else if MAX_CODE_LEN / min_len <= MAX_ENTRY_SYMS {
            // At most MAX_ENTRY_SYMS codes fit in a window, so no entry is ever cut short.
            self.build_levels(min_len, &used[..count]);
        } else {
            multi_table(&self.single, &mut self.multi);
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
            for &(sym, l, c) in used {
                if l > a {
                    continue;
                }
                let head = entry(sym as u64, 1, l as u64);
                for (r, &rest) in lower[1 << (a - l)..2 << (a - l)].iter().enumerate() {
                    // The symbol first, then the rest's symbols one byte up; counts and
                    // lengths add.
                    dst[c as usize | r << l] =
                        ((rest & SYM_BYTES) << 8) + (rest & !SYM_BYTES) + head;
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

/// The symbol bytes of an entry.
const SYM_BYTES: u64 = ((1 << (8 * MAX_ENTRY_SYMS)) - 1) << 8;

/// The multi-symbol table by direct search (codes that may fit more than `MAX_ENTRY_SYMS`
/// times in a window): entry `i` holds the longest run of at most `MAX_ENTRY_SYMS` symbols
/// whose codes, one after another, fit in the 11 bits of `i`.
fn multi_table(single: &[u16; TABLE_SIZE], multi: &mut [u64; TABLE_SIZE]) {
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

/// Valid stream bits kept in the bit buffer after a refill; bit `SENTINEL` is set above them
/// so that the bits consumed in a round can be read back from the buffer's leading zeros.
const SENTINEL: u32 = 56;

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
) {
    let mut bp = cur.map(|c| c.bp);
    // SAFETY: each op is within the output (caller's contract).
    let mut op = cur.map(|c| unsafe { out.add(c.op) });
    for _ in 0..rounds {
        let mut buf = [0u64; K];
        for k in 0..K {
            let b = bp[k];
            // SAFETY: 8 readable bytes at this offset (caller's contract).
            let raw =
                u64::from_le(unsafe { src.add(b >> 3).cast::<u64>().read_unaligned() }) >> (b & 7);
            // 57 or more valid bits; keep 56 (the lookups read at most 55) and the sentinel.
            buf[k] = (raw & ((1 << SENTINEL) - 1)) | 1 << SENTINEL;
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
        for k in 0..K {
            // The bits consumed, read back from the sentinel's position.
            bp[k] += (buf[k].leading_zeros() - (63 - SENTINEL)) as usize;
        }
    }
    for k in 0..K {
        // SAFETY: op[k] only moved forward within the same output.
        cur[k] = Cursor {
            bp: bp[k],
            op: unsafe { op[k].offset_from(out) } as usize,
        };
    }
}

/// Runs all four streams in lockstep for as long as each can run fast rounds.
fn lockstep(
    payload: &[u8],
    dst: &mut [u8],
    multi: &[u64; TABLE_SIZE],
    cur: &mut [Cursor; 4],
    oe: &[usize; 4],
) {
    #[cfg(target_arch = "x86_64")]
    {
        if std::is_x86_feature_detected!("bmi2") {
            // SAFETY: the CPU supports BMI2 (checked just above).
            unsafe { lockstep_bmi2(payload, dst, multi, cur, oe) };
            return;
        }
    }
    lockstep_generic(payload, dst, multi, cur, oe);
}

/// `lockstep_generic` compiled with BMI2's flag-free variable shifts.
///
/// # Safety
/// The CPU must support BMI2.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "bmi2")]
unsafe fn lockstep_bmi2(
    payload: &[u8],
    dst: &mut [u8],
    multi: &[u64; TABLE_SIZE],
    cur: &mut [Cursor; 4],
    oe: &[usize; 4],
) {
    lockstep_generic(payload, dst, multi, cur, oe);
}

#[inline(always)]
fn lockstep_generic(
    payload: &[u8],
    dst: &mut [u8],
    multi: &[u64; TABLE_SIZE],
    cur: &mut [Cursor; 4],
    oe: &[usize; 4],
) {
    let p = payload.len();
    debug_assert!(oe.iter().all(|&e| e <= dst.len()));
    let src = payload.as_ptr();
    let out = dst.as_mut_ptr();
    loop {
        let mut rounds = usize::MAX;
        for k in 0..4 {
            rounds = rounds.min(fast_rounds(p, cur[k].bp, cur[k].op, oe[k]));
        }
        if rounds == 0 {
            return;
        }
        // SAFETY: `fast_rounds` guaranteed `rounds` rounds for every stream: each round
        // starts with 8 payload bytes readable at bp >> 3 and ROUND_OUT_REACH output bytes
        // writable at op within the stream's region (oe <= dst.len()).
        unsafe { run_rounds(src, out, multi, cur, rounds) };
    }
}

/// Decodes the rest of one stream: fast rounds while possible, then symbol by symbol.
fn finish_stream(payload: &[u8], dst: &mut [u8], t: &Tables, c: &mut Cursor, oe: usize) {
    debug_assert!(oe <= dst.len());
    loop {
        let rounds = fast_rounds(payload.len(), c.bp, c.op, oe);
        if rounds == 0 {
            break;
        }
        let one: &mut [Cursor; 1] = std::slice::from_mut(c)
            .try_into()
            .unwrap_or_else(|_| unreachable!());
        // SAFETY: `fast_rounds` checked the payload and output bounds for these rounds.
        unsafe { run_rounds(payload.as_ptr(), dst.as_mut_ptr(), &t.multi, one, rounds) };
    }
    let (mut b, mut o) = (c.bp, c.op);
    while o < oe {
        let e = t.single[(load_padded(payload, b) & TABLE_MASK) as usize];
        dst[o] = e as u8;
        b += (e >> 8) as usize;
        o += 1;
    }
    c.bp = b;
    c.op = o;
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
        fn gauss(&mut self) -> f64 {
            let u1 = ((self.next() >> 11) as f64 + 1.0) / (1u64 << 53) as f64;
            let u2 = (self.next() >> 11) as f64 / (1u64 << 53) as f64;
            (-2.0 * u1.ln()).sqrt() * (2.0 * std::f64::consts::PI * u2).cos()
        }
    }

    fn round_trip(src: &[u8]) -> Vec<u8> {
        let hist = histogram(src);
        let mut enc = vec![0xEE; 3];
        encode(src, &hist, &mut enc);
        assert_eq!(
            enc.len() - 3,
            encoded_size(&hist, src.len()),
            "encoded_size"
        );
        assert_eq!(&enc[..3], &[0xEE; 3]);
        let enc = enc[3..].to_vec();
        let mut back = vec![0u8; src.len()];
        decode(&enc, &mut back).expect("decode");
        assert!(back == src, "round trip mismatch, n={}", src.len());
        enc
    }

    fn exponent_plane(rng: &mut Rng, n: usize) -> Vec<u8> {
        (0..n)
            .map(|_| {
                let x = (rng.gauss() * 0.02) as f32;
                ((x.to_bits() >> 23) & 0xFF) as u8
            })
            .collect()
    }

    fn lens_of(src: &[u8]) -> [u8; 256] {
        code_lengths(&histogram(src))
    }

    #[test]
    fn histogram_counts() {
        let mut rng = Rng(7);
        for n in [0, 1, 7, 8, 9, 1000] {
            let v: Vec<u8> = (0..n).map(|_| rng.next() as u8).collect();
            let mut h = [0u32; 256];
            for &b in &v {
                h[b as usize] += 1;
            }
            assert_eq!(histogram(&v), h);
        }
    }

    #[test]
    fn sizes() {
        let mut rng = Rng(1);
        for n in [
            1usize,
            2,
            3,
            4,
            5,
            7,
            8,
            9,
            15,
            16,
            17,
            100,
            4095,
            65536,
            262144 + 3,
        ] {
            let skew = exponent_plane(&mut rng, n);
            round_trip(&skew);
            let uni: Vec<u8> = (0..n).map(|_| rng.next() as u8).collect();
            round_trip(&uni);
            let few: Vec<u8> = (0..n).map(|_| (rng.next() % 3) as u8 * 40).collect();
            round_trip(&few);
        }
    }

    #[test]
    fn empty() {
        let hist = histogram(&[]);
        assert_eq!(encoded_size(&hist, 0), 0);
        let mut enc = Vec::new();
        encode(&[], &hist, &mut enc);
        assert!(enc.is_empty());
        assert_eq!(decode(&[], &mut []), Ok(()));
        assert_eq!(decode(&[0], &mut []), Err(Error::Corrupt));
        assert_eq!(decode(&[], &mut [0]), Err(Error::Corrupt));
    }

    #[test]
    fn single_symbol() {
        for n in [1usize, 2, 7, 8, 9, 100, 4097, 100_000] {
            for sym in [0u8, 77, 255] {
                let src = vec![sym; n];
                let enc = round_trip(&src);
                assert_eq!(
                    enc.len(),
                    header_len(sym as usize, sym as usize) + n.div_ceil(8)
                );
            }
        }
    }

    #[test]
    fn two_symbols() {
        let mut rng = Rng(2);
        for n in [2usize, 3, 5, 64, 1000, 65537] {
            let src: Vec<u8> = (0..n)
                .map(|_| if rng.below(10) == 0 { 3 } else { 250 })
                .collect();
            let mut src = src;
            src[0] = 3;
            src[n - 1] = 250;
            round_trip(&src);
            assert_eq!(lens_of(&src)[3], 1);
            assert_eq!(lens_of(&src)[250], 1);
        }
    }

    #[test]
    fn uniform_all_symbols() {
        let mut rng = Rng(3);
        let src: Vec<u8> = (0..300_000).map(|_| rng.next() as u8).collect();
        let enc = round_trip(&src);
        assert!(enc.len() <= 300_000 + 200);
        let src: Vec<u8> = (0..256 * 40).map(|i| i as u8).collect();
        let enc = round_trip(&src);
        assert_eq!(enc.len(), 2 + 128 + 12 + 256 * 40);
    }

    #[test]
    fn skewed() {
        let mut rng = Rng(4);
        let src = exponent_plane(&mut rng, 262144);
        let enc = round_trip(&src);
        assert!(enc.len() < 262144 * 3 / 8, "{}", enc.len());
        // Geometric.
        let src: Vec<u8> = (0..200_000)
            .map(|_| (rng.next() | 1 << 60).trailing_zeros() as u8)
            .collect();
        round_trip(&src);
        // Geometric over all 256 values with ratio 0.97.
        let src: Vec<u8> = (0..200_000)
            .map(|_| {
                let u = ((rng.next() >> 11) as f64 + 1.0) / (1u64 << 53) as f64;
                ((u.ln() / 0.97f64.ln()) as u64).min(255) as u8
            })
            .collect();
        round_trip(&src);
    }

    #[test]
    fn length_limit() {
        // Fibonacci frequencies: unlimited Huffman would need ~25-bit codes.
        let mut src = Vec::new();
        let (mut a, mut b) = (1usize, 1usize);
        for s in 0..26u8 {
            src.resize(src.len() + a, s);
            (a, b) = (b, a + b);
        }
        let mut rng = Rng(5);
        for i in (1..src.len()).rev() {
            src.swap(i, rng.below(i as u64 + 1) as usize);
        }
        let lens = lens_of(&src);
        assert_eq!(*lens.iter().max().unwrap() as u32, MAX_CODE_LEN);
        let kraft: u32 = lens
            .iter()
            .filter(|&&l| l != 0)
            .map(|&l| 1 << (11 - l))
            .sum();
        assert_eq!(kraft, 2048);
        round_trip(&src);
        // Optimality in a small case versus a brute-force-free check: two equal symbols.
        let lens = lens_of(&[1, 2, 1, 2]);
        assert_eq!((lens[1], lens[2]), (1, 1));
    }

    #[test]
    fn huffman_and_package_merge_agree_on_cost() {
        let mut rng = Rng(11);
        for _ in 0..300 {
            let mut hist = [0u32; 256];
            let used = 2 + rng.below(255) as usize;
            for _ in 0..used {
                let bits = rng.below(12);
                hist[rng.below(256) as usize] = 1 + rng.below(1 << bits) as u32;
            }
            let lens = code_lengths(&hist);
            let mut keys: Vec<u64> = (0..256)
                .filter(|&s| hist[s] != 0)
                .map(|s| (hist[s] as u64) << 8 | s as u64)
                .collect();
            keys.sort_unstable();
            if keys.len() < 2 {
                continue;
            }
            let mut pm = [0u8; 256];
            package_merge(&keys, &mut pm);
            let cost =
                |l: &[u8; 256]| -> u64 { (0..256).map(|s| hist[s] as u64 * l[s] as u64).sum() };
            assert_eq!(cost(&lens), cost(&pm));
            for l in [lens, pm] {
                let kraft: u32 = l.iter().filter(|&&x| x != 0).map(|&x| 1 << (11 - x)).sum();
                assert_eq!(kraft, 2048);
                assert!(l.iter().all(|&x| x as u32 <= MAX_CODE_LEN));
                assert!((0..256).all(|s| (hist[s] != 0) == (l[s] != 0)));
            }
        }
    }

    #[test]
    fn lengths_pushed_to_the_limit() {
        // Ten symbols with halving frequencies want lengths 1..=10; 246 rare symbols would
        // then want ~18 bits, so the limit makes most codes exactly 11 bits long.
        let mut src = Vec::new();
        for s in 0..10u8 {
            src.resize(src.len() + (1 << (20 - s)), s);
        }
        src.extend(10..=255u8);
        let mut rng = Rng(10);
        for i in (1..src.len()).rev() {
            src.swap(i, rng.below(i as u64 + 1) as usize);
        }
        let lens = lens_of(&src);
        assert_eq!(*lens.iter().max().unwrap() as u32, MAX_CODE_LEN);
        assert!(lens.iter().filter(|&&l| l == 11).count() >= 200);
        round_trip(&src);
        // Every used symbol at 11 bits is impossible with 256 symbols (the code would be
        // incomplete), but decoding tables must cover the full range for mixed lengths 1..=11.
        let mut lens = [0u8; 256];
        for l in 1..=10u8 {
            lens[l as usize] = l;
        }
        lens[11] = 11;
        lens[12] = 11;
        let mut t = Tables::boxed();
        t.build(&lens);
        assert!(t.single.iter().all(|&e| (e >> 8) != 0));
    }

    #[test]
    fn fast_multi_table_matches_the_reference() {
        let mut rng = Rng(12);
        for _ in 0..200 {
            let n = 1 + rng.below(5000) as usize;
            let src: Vec<u8> = match rng.below(3) {
                0 => exponent_plane(&mut rng, n),
                1 => (0..n).map(|_| (rng.below(6) * 3) as u8).collect(),
                _ => (0..n).map(|_| rng.next() as u8).collect(),
            };
            let lens = lens_of(&src);
            if lens.iter().filter(|&&l| l != 0).count() < 2 {
                continue;
            }
            let min = *lens.iter().filter(|&&l| l != 0).min().unwrap() as u32;
            if MAX_CODE_LEN / min > MAX_ENTRY_SYMS {
                continue;
            }
            let mut t = Tables::boxed();
            t.build(&lens);
            let mut reference = [0u64; TABLE_SIZE];
            multi_table(&t.single, &mut reference);
            assert!(t.multi == reference);
        }
    }

    #[test]
    fn pair_path_writes_the_same_bytes() {
        let mut rng = Rng(13);
        let mut planes: Vec<Vec<u8>> = vec![
            exponent_plane(&mut rng, 131072),
            exponent_plane(&mut rng, PAIR_MIN_LEN + 13),
            (0..70_001).map(|_| (rng.below(64) * 4) as u8).collect(),
            vec![7; 40_000],
        ];
        // Long codes in clusters: the split-store branch.
        let mut skew: Vec<u8> = (0..100_000)
            .map(|_| {
                if rng.below(50) == 0 {
                    1 + rng.below(60) as u8
                } else {
                    0
                }
            })
            .collect();
        for i in (0..skew.len()).step_by(997) {
            for b in &mut skew[i..(i + 16).min(100_000)] {
                *b = 1 + rng.below(60) as u8;
            }
        }
        planes.push(skew);
        for src in &planes {
            let hist = histogram(src);
            let plan = Plan::new(&hist).unwrap();
            let mut a = vec![0u8; plan.size + 8];
            let mut b = vec![0u8; plan.size + 8];
            encode_with(src, &plan, &mut a, true);
            encode_with(src, &plan, &mut b, false);
            assert!(a[..plan.size] == b[..plan.size], "n={}", src.len());
            let mut back = vec![0u8; src.len()];
            decode(&a[..plan.size], &mut back).unwrap();
            assert!(&back == src);
        }
    }

    fn corrupt_checks(rng: &mut Rng, src: &[u8]) {
        let hist = histogram(src);
        let mut enc = Vec::new();
        encode(src, &hist, &mut enc);
        let mut out = vec![0u8; src.len()];
        for cut in 0..enc.len() {
            assert!(decode(&enc[..cut], &mut out).is_err(), "truncated at {cut}");
        }
        let mut longer = enc.clone();
        longer.push(0);
        assert!(decode(&longer, &mut out).is_err());
        for _ in 0..200 {
            let mut bad = enc.clone();
            let flips = 1 + rng.below(3);
            for _ in 0..flips {
                let i = rng.below(bad.len() as u64) as usize;
                bad[i] ^= 1 << rng.below(8);
            }
            let _ = decode(&bad, &mut out);
            assert_eq!(out.len(), src.len());
        }
        if src.len() > 1 {
            let mut short = vec![0u8; src.len() - 1];
            let _ = decode(&enc, &mut short);
        }
        let mut long = vec![0u8; src.len() + 1];
        let _ = decode(&enc, &mut long);
    }

    #[test]
    fn corruption_never_panics() {
        let mut rng = Rng(6);
        for iter in 0..150 {
            let n = 1 + rng.below(if iter % 10 == 0 { 5000 } else { 300 }) as usize;
            let kind = rng.below(4);
            let src: Vec<u8> = match kind {
                0 => (0..n).map(|_| rng.next() as u8).collect(),
                1 => exponent_plane(&mut rng, n),
                2 => (0..n).map(|_| (rng.below(3)) as u8).collect(),
                _ => vec![9; n],
            };
            corrupt_checks(&mut rng, &src);
        }
    }

    #[test]
    fn random_bytes_never_panic() {
        let mut rng = Rng(8);
        for _ in 0..20000 {
            let len = rng.below(300) as usize;
            let mut src: Vec<u8> = (0..len).map(|_| rng.next() as u8).collect();
            if len >= 2 && rng.below(2) == 0 {
                // Plausible symbol range so more inputs get past the header checks.
                src[0] = rng.below(4) as u8;
                src[1] = src[0] + rng.below(4) as u8;
            }
            let mut dst = vec![0u8; rng.below(1000) as usize];
            let _ = decode(&src, &mut dst);
        }
    }

    #[test]
    fn valid_header_random_streams_never_panic() {
        // A valid code header followed by random stream sizes and bits.
        let mut rng = Rng(9);
        let base: Vec<u8> = exponent_plane(&mut rng, 3000);
        let hist = histogram(&base);
        let mut enc = Vec::new();
        encode(&base, &hist, &mut enc);
        let (min, max) = symbol_range(&hist).unwrap();
        let h = 2 + (max - min + 1).div_ceil(2);
        for _ in 0..3000 {
            let plen = rng.below(2000) as usize;
            let mut v = enc[..h].to_vec();
            for _ in 0..3 {
                let s = rng.below(plen as u64 * 8 / 3 + 2) as u32;
                v.extend_from_slice(&s.to_le_bytes());
            }
            v.extend((0..plen).map(|_| rng.next() as u8));
            let mut dst = vec![0u8; rng.below(5000) as usize];
            let _ = decode(&v, &mut dst);
        }
    }
}
