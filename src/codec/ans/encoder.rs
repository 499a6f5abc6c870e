//! Encoder: the symbols coded backwards into the interleaved states.

use super::model::{choose_model, write_freqs};
use super::{histogram, tail_len, FIXED, L};

/// Words the word buffer keeps free below the write index before a group, on top of the
/// group's own (the AVX2 path stores eight words at a time below the index).
const SLACK: usize = 8;

/// The encoder's code paths: the same bytes from each.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EncPath {
    /// One state after the other, any CPU.
    Scalar,
    /// Eight states per AVX2 vector (`encoder_x86`).
    Avx2,
}

impl EncPath {
    /// The paths this CPU runs, scalar first.
    pub fn available() -> Vec<EncPath> {
        #[cfg_attr(not(target_arch = "x86_64"), allow(unused_mut))]
        let mut v = vec![EncPath::Scalar];
        #[cfg(target_arch = "x86_64")]
        if super::encoder_x86::available() {
            v.push(EncPath::Avx2);
        }
        v
    }

    /// The fastest path on this CPU.
    pub(super) fn best() -> EncPath {
        #[cfg(target_arch = "x86_64")]
        if super::encoder_x86::available() {
            return EncPath::Avx2;
        }
        EncPath::Scalar
    }
}

/// Codes the groups of `STATES` symbols in `src` (from the last group to the first) into the
/// states `x`, one state at a time, writing the words backwards below `buf[*w]`; needs
/// `*w >= src.len() + SLACK`.
fn scalar_groups<const STATES: usize>(
    x: &mut [u32; STATES],
    src: &[u8],
    enc: &[EncSym; 256],
    buf: &mut [u16],
    w: &mut usize,
) {
    assert!(src.len() % STATES == 0 && *w <= buf.len() && *w >= src.len() + SLACK);
    let p = buf.as_mut_ptr();
    for g in src.chunks_exact(STATES).rev() {
        let g: &[u8; STATES] = g.try_into().unwrap_or_else(|_| unreachable!());
        for j in (0..STATES).rev() {
            // SAFETY: *w >= STATES + SLACK before each group (checked above for the first,
            // and each group lowers it by at most STATES) and each step lowers it by at most
            // one, so every write at *w - 1 is within `buf`.
            x[j] = unsafe { enc[g[j] as usize].put_raw(x[j], p, w) };
        }
    }
}

/// `encode`; `small_buf` starts with a minimal word buffer (tests its growth).
pub(super) fn encode_impl<const STATES: usize, const WIDE: bool>(
    src: &[u8],
    hist: &[u32; 256],
    dst: &mut Vec<u8>,
    small_buf: bool,
    path: EncPath,
) -> usize {
    let n = src.len();
    debug_assert_eq!(hist, &histogram(src));
    let Some(model) = choose_model(hist, n, STATES) else {
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

    // Encode backwards: symbol i with state i % STATES. The words are produced in reverse stream
    // order, so they are written backwards from the end of `buf`, which starts at about the
    // estimated size and doubles if needed (a group of STATES symbols emits at most STATES words, and
    // `put` writes one scratch word below the last one).
    // With a tail (codec 7, n >= 3 * STATES), the last 2 * STATES symbols are not coded:
    // state j starts from L plus symbols main + 2j and main + 2j + 1, which the decoder
    // finds in its final states (bits that would otherwise be a constant L).
    let tail = tail_len::<STATES, WIDE>(n);
    let main = n - tail;
    let mut x = [L; STATES];
    if tail > 0 {
        for (j, xj) in x.iter_mut().enumerate() {
            *xj = L | src[main + 2 * j] as u32 | (src[main + 2 * j + 1] as u32) << 8;
        }
    }
    let k = main.min(STATES);
    let n = main;
    let initial = if small_buf { 0 } else { model.estimate / 2 };
    let mut buf = vec![0u16; initial + 4 * STATES];
    let mut w = buf.len();
    let mut i = n;
    // Ragged end first so the main loop handles whole groups of STATES.
    while !i.is_multiple_of(STATES) {
        i -= 1;
        let j = i % STATES;
        x[j] = enc[src[i] as usize].put(x[j], &mut buf, &mut w);
    }
    #[cfg(target_arch = "x86_64")]
    let table = (path == EncPath::Avx2 && i > 0).then(|| {
        let mut t = [super::encoder_x86::Entry::default(); 256];
        let mut cum = 0u32;
        for (e, &f) in t.iter_mut().zip(model.freq.iter()) {
            if f != 0 {
                *e = super::encoder_x86::Entry::new(f, cum, scale);
                cum += f;
            }
        }
        t
    });
    while i > 0 {
        if w < STATES + SLACK {
            let used = buf.len() - w;
            let mut bigger = vec![0u16; 2 * buf.len()];
            let nw = bigger.len() - used;
            bigger[nw..].copy_from_slice(&buf[w..]);
            (buf, w) = (bigger, nw);
        }
        // As many groups as the buffer surely holds (each emits at most STATES words).
        let lo = i - (i / STATES).min((w - SLACK) / STATES) * STATES;
        let groups = &src[lo..i];
        match path {
            #[cfg(target_arch = "x86_64")]
            EncPath::Avx2 => {
                let t = table.as_ref().unwrap_or_else(|| unreachable!());
                super::encoder_x86::encode_groups(&mut x, groups, t, &mut buf, &mut w);
            }
            _ => scalar_groups(&mut x, groups, &enc, &mut buf, &mut w),
        }
        i = lo;
    }
    let words = &buf[w..];
    dst.reserve(4 * k + 2 * words.len());
    if WIDE {
        write_packed_states(&x[..k], dst);
    } else {
        for &xj in &x[..k] {
            dst.extend_from_slice(&xj.to_le_bytes());
        }
    }
    // Resized and filled by pairs (a plain copy once compiled), not pushed word by word: the
    // pushes took as long as the AVX2 loop itself (`perf record`, MiniLM bf16 at the max level).
    let at = dst.len();
    dst.resize(at + 2 * words.len(), 0);
    for (d, &wd) in dst[at..].chunks_exact_mut(2).zip(words) {
        d.copy_from_slice(&wd.to_le_bytes());
    }
    dst.len() - start
}

/// Writes codec 7's initial states packed (see `decoder::read_packed_states`): a state of
/// `b + 17` bits takes 4 + b + 16 bits instead of 32, some 27.5 on average (rANS states are
/// spread evenly in log scale over [2^16, 2^32)).
fn write_packed_states(x: &[u32], dst: &mut Vec<u8>) {
    let (mut acc, mut nbits) = (0u64, 0u32);
    let mut put = |v: u64, n: u32, dst: &mut Vec<u8>| {
        acc |= v << nbits;
        nbits += n;
        while nbits >= 8 {
            dst.push(acc as u8);
            acc >>= 8;
            nbits -= 8;
        }
    };
    for &xj in x {
        debug_assert!(xj >= L);
        let below = 31 - xj.leading_zeros();
        put((below - 16) as u64, 4, dst);
        put((xj & ((1 << below) - 1)) as u64, below, dst);
    }
    put(0, 7, dst);
}

/// Shift of the encoder's reciprocals: `floor(x / f) = (x * rcp) >> RCP_SHIFT` exactly for
/// every 32-bit `x` and every `f < 2^12`, with `rcp = ceil(2^RCP_SHIFT / f)` (see `EncSym::new`).
pub(super) const RCP_SHIFT: u32 = 44;

#[derive(Clone, Copy, Default)]
pub(super) struct EncSym {
    /// States at or above this emit 16 bits before coding the symbol: `f << (32 - scale)`.
    x_max: u64,
    /// `ceil(2^RCP_SHIFT / f)`.
    pub(super) rcp: u64,
    /// Cumulative frequency of the symbol.
    cum: u32,
    /// `M - f`.
    cmpl: u32,
}

impl EncSym {
    pub(super) fn new(f: u32, cum: u32, scale: u32, m_total: u32) -> EncSym {
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

    /// The coding step without the renormalisation (for the tests of the x86 path).
    #[cfg(all(test, target_arch = "x86_64"))]
    pub(super) fn step(&self, x: u32) -> u32 {
        let q = ((x as u128 * self.rcp as u128) >> RCP_SHIFT) as u32;
        x.wrapping_add(self.cum)
            .wrapping_add(q.wrapping_mul(self.cmpl))
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
