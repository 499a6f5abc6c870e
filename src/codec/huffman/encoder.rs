//! Encoder: codes one symbol at a time, or two per lookup for planes with few symbols.

use super::lengths::{canonical_codes, reverse};
use super::{zeroed_box, Plan, SIZE_FIELDS};

/// [`encode_into`]; `allow_pairs` false forces the one-symbol-per-lookup path (the tests
/// check that both give the same bytes).
pub(super) fn encode_with(src: &[u8], plan: &Plan, out: &mut [u8], allow_pairs: bool) -> usize {
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
    // Groups of sixteen symbols where the codes average at most WIDE_MAX_BITS bits.
    let wide = (payload_len as u64) * 8 <= WIDE_MAX_BITS * n as u64;
    for k in 0..4 {
        let seg = &src[(k * q).min(n)..((k + 1) * q).min(n)];
        let seg = match pairs.as_ref() {
            Some(t) if wide => {
                let rest = w.put_pairs_wide(seg, t, body);
                w.put_pairs(rest, t, body)
            }
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

/// Planes whose codes average at most this many bits per symbol are coded sixteen symbols
/// per store ([`BitWriter::put_pairs_wide`]): their codes nearly always fit in one 64-bit
/// store with the pending bits (16 * 3 = 48 bits on average, at most 56 allowed).
pub(super) const WIDE_MAX_BITS: u64 = 3;

/// Planes of `n` symbols with `m` distinct ones are coded two symbols per lookup when
/// `m * m * PAIR_FILL_COST <= n`: filling the `m * m` pair entries must stay small next to
/// the lookups it saves (m <= 128 for a 128 KiB plane: bf16/fp32 exponents, fp16's e5 m3).
const PAIR_FILL_COST: usize = 8;
/// Planes shorter than this are not worth filling the pair table for.
pub(super) const PAIR_MIN_LEN: usize = 16 * 1024;

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

impl PairTables {
    fn new() -> Box<PairTables> {
        // SAFETY: `PairTables` is plain integers, for which all-zero bytes are a valid value.
        unsafe { zeroed_box() }
    }

    fn fill(&mut self, enc: &[u32; 256], lens: &[u8; 256]) {
        // The used symbols, on the stack (a vector here was an allocation per plane).
        let mut symbols = [0usize; 256];
        let mut m = 0;
        for (s, &l) in lens.iter().enumerate() {
            symbols[m] = s;
            m += (l != 0) as usize;
        }
        let used = &symbols[..m];
        for &b in used {
            let (cb, lb) = (enc[b] >> 8, enc[b] & 0xFF);
            for &a in used {
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

    /// [`BitWriter::put_pairs`] with groups of sixteen symbols, joined into one store where
    /// their codes and the pending bits fit in 64 bits (else coded again as two groups of
    /// eight): fewer operations per symbol where the codes are short (`WIDE_MAX_BITS`),
    /// the same bytes. Returns the symbols left (under sixteen, or those that did not fit).
    fn put_pairs_wide<'a>(&mut self, seg: &'a [u8], t: &PairTables, out: &mut [u8]) -> &'a [u8] {
        #[cfg(target_arch = "x86_64")]
        {
            if std::is_x86_feature_detected!("bmi2") {
                // SAFETY: the CPU supports BMI2 (checked just above).
                return unsafe { self.put_pairs_wide_bmi2(seg, t, out) };
            }
        }
        self.put_pairs_wide_generic(seg, t, out)
    }

    /// `put_pairs_wide_generic` compiled with BMI2's flag-free variable shifts.
    ///
    /// # Safety
    /// The CPU must support BMI2.
    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "bmi2")]
    unsafe fn put_pairs_wide_bmi2<'a>(
        &mut self,
        seg: &'a [u8],
        t: &PairTables,
        out: &mut [u8],
    ) -> &'a [u8] {
        self.put_pairs_wide_generic(seg, t, out)
    }

    #[inline(always)]
    fn put_pairs_wide_generic<'a>(
        &mut self,
        seg: &'a [u8],
        t: &PairTables,
        out: &mut [u8],
    ) -> &'a [u8] {
        let (mut acc, mut nbits, mut pos) = (self.acc, self.nbits, self.pos);
        let groups = seg.len() / 16;
        let mut g = 0;
        let src = seg.as_ptr();
        let dst = out.as_mut_ptr();
        loop {
            // A group stores at most four times (as two groups of eight) and advances `pos`
            // by at most 22 bytes, so while pos + 40 <= out.len() one more group fits.
            let room = match out.len().checked_sub(pos + 40) {
                Some(r) => r / 22 + 1,
                None => 0,
            };
            let run = room.min(groups - g);
            if run == 0 {
                break;
            }
            // SAFETY: g + run <= groups, so the groups' bytes lie within `seg`; `pos` is
            // within `out`.
            let (mut sp, end, mut op) =
                unsafe { (src.add(16 * g), src.add(16 * (g + run)), dst.add(pos)) };
            while sp < end {
                // SAFETY: sp + 16 <= end, within `seg`.
                let i = [0, 2, 4, 6, 8, 10, 12, 14]
                    .map(|k| unsafe { sp.add(k).cast::<u16>().read_unaligned().to_le() });
                let [c0, c1, c2, c3, c4, c5, c6, c7] = i.map(|i| t.code[i as usize] as u64);
                let [l0, l1, l2, l3, l4, l5, l6, l7] = i.map(|i| t.len[i as usize] as u32);
                let (l01, l45) = (l0 + l1, l4 + l5);
                let lo = l01 + l2 + l3;
                let total = lo + l45 + l6 + l7;
                // Joined and stored before the test (which then only decides how far to
                // move on), so that no index or code stays live past it. Where the codes
                // overflow 64 bits the store is redone below.
                let w = (c0 | c1 << l0) | (c2 | c3 << l2) << l01;
                let w = w | ((c4 | c5 << l4) | (c6 | c7 << l6) << l45).wrapping_shl(lo);
                let joined = acc | w << nbits;
                // SAFETY: op + 40 <= out's end (`room`).
                unsafe { op.cast::<u64>().write_unaligned(joined.to_le()) };
                if nbits + total <= 63 {
                    nbits += total;
                    // SAFETY: at most 7 bytes, within `room`.
                    op = unsafe { op.add((nbits >> 3) as usize) };
                    acc = joined >> (nbits & !7);
                    nbits &= 7;
                } else {
                    // SAFETY: sp + 16 <= end; each group of eight advances `op` by at most
                    // 11 bytes and needs 24 bytes of room, within `room`.
                    (acc, nbits, op) = unsafe { put_group16_long(sp, t, acc, nbits, op) };
                }
                // SAFETY: as above (at most `end`).
                sp = unsafe { sp.add(16) };
            }
            g += run;
            // SAFETY: `op` was derived from `dst` and only moved forward within `out`.
            pos = unsafe { op.offset_from(dst) } as usize;
        }
        self.acc = acc;
        self.nbits = nbits;
        self.pos = pos;
        &seg[16 * g..]
    }
}

/// The sixteen symbols at `sp` as two groups of eight, each as [`BitWriter::put_pairs`]
/// codes it: the rare case of [`BitWriter::put_pairs_wide`], out of line so that its loop
/// keeps its registers for the usual case.
///
/// # Safety
/// `sp` must point to 16 readable bytes and `op` to 40 writable ones.
#[cold]
#[inline(never)]
unsafe fn put_group16_long(
    sp: *const u8,
    t: &PairTables,
    mut acc: u64,
    mut nbits: u32,
    mut op: *mut u8,
) -> (u64, u32, *mut u8) {
    for half in [0, 8] {
        // SAFETY: the caller's 16 readable bytes.
        let i = [0, 2, 4, 6]
            .map(|k| unsafe { sp.add(half + k).cast::<u16>().read_unaligned().to_le() });
        let [c0, c1, c2, c3] = i.map(|i| t.code[i as usize] as u64);
        let [l0, l1, l2, l3] = i.map(|i| t.len[i as usize] as u32);
        // Two stores of at most 44 bits on top of 7 pending bits (as put_pairs's long case).
        for (w, l) in [(c0 | c1 << l0, l0 + l1), (c2 | c3 << l2, l2 + l3)] {
            acc |= w << nbits;
            nbits += l;
            // SAFETY: each store advances `op` by at most 6 bytes, four of them within the
            // caller's 40 bytes.
            unsafe {
                op.cast::<u64>().write_unaligned(acc.to_le());
                op = op.add((nbits >> 3) as usize);
            }
            acc >>= nbits & !7;
            nbits &= 7;
        }
    }
    (acc, nbits, op)
}
