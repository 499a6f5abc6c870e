//! The codec 11 encoder: the code, the steps the vectors run, the stream in the order the
//! decoder takes it.
//!
//! Two passes over the plane. The first runs the lanes' bit counts forward as the decoder
//! does (a lane holds `c` bits after a step and takes a byte when `c < 8`): which lanes
//! take a byte after each step, the counts after the last steps (from which `K` is chosen),
//! and the escaped symbols. The second runs the steps backward with each lane holding the
//! next 16 bits of its own bit string (its codes, then its share of the tail): the byte a
//! lane takes after step `t` is those bits from bit `c`, and each step's bytes go, in lane
//! order, where that step's refills sit in the stream. Both passes have a portable loop, an
//! AVX-512 one (VBMI, VBMI2) and an AVX2 one (where AVX-512's does not run), chosen at run
//! time ([`Path`] names them), which write the same bytes.

use std::cell::RefCell;

use super::{Path, FIXED, LANES, MAX_K, MAX_LEN, TABLE};
use crate::codec::huffman;

#[cfg(target_arch = "x86_64")]
#[path = "encoder_avx2.rs"]
mod avx2;
#[cfg(test)]
#[path = "encoder_tests.rs"]
mod tests;
#[cfg(target_arch = "x86_64")]
#[path = "encoder_x86.rs"]
mod x86;

/// The lanes' code for a histogram: lengths of at most 7 bits over the symbols kept, and
/// the escape that stands for the others (`None` when no symbol is escaped).
struct Code {
    lens: [u8; 256],
    escape: Option<u8>,
    escaped: [bool; 256],
    /// The side list's code (over the escaped symbols' counts), with an escape.
    side: Option<huffman::Plan>,
}

/// The smaller of two codes: every symbol within 7 bits (where at most 128 are used), or
/// the symbols whose codec 2 code is longer than 7 bits escaped.
fn plan_code(hist: &[u32; 256]) -> Code {
    let used = hist.iter().filter(|&&c| c != 0).count();
    let cost = |lens: &[u8; 256], h: &[u32; 256]| -> u64 {
        (0..256).map(|s| u64::from(h[s]) * u64::from(lens[s])).sum()
    };
    let full = huffman::code_lengths_within(hist, huffman::MAX_CODE_LEN);
    let mut escaped = [false; 256];
    for s in 0..256 {
        escaped[s] = u32::from(full[s]) > MAX_LEN;
    }
    let rare: u64 = (0..256)
        .filter(|&s| escaped[s])
        .map(|s| u64::from(hist[s]))
        .sum();
    let plain = (used <= TABLE).then(|| {
        let lens = huffman::code_lengths_within(hist, MAX_LEN);
        (cost(&lens, hist), lens)
    });
    if rare == 0 {
        if let Some((_, lens)) = plain {
            return Code {
                lens,
                escape: None,
                escaped: [false; 256],
                side: None,
            };
        }
    }
    // An escape value never stands for itself: an unused value, else an escaped one.
    let escape = (0..256)
        .find(|&s| hist[s] == 0)
        .or_else(|| (0..256).find(|&s| escaped[s]))
        .expect("256 used values cannot all have codes of 7 bits") as u8;
    let mut main = *hist;
    let mut side = [0u32; 256];
    for s in 0..256 {
        if escaped[s] {
            side[s] = main[s];
            main[s] = 0;
        }
    }
    main[escape as usize] += rare as u32;
    let lens = huffman::code_lengths_within(&main, MAX_LEN);
    // The side list's size, as `huffman::encoded_size` gives it.
    let side_plan = huffman::Plan::new(&side);
    let side_bits = side_plan.as_ref().map_or(0, |p| p.size) as u64 * 8 + 8 * FIXED as u64;
    let with_escape = cost(&lens, &main) + side_bits;
    match plain {
        Some((bits, plain)) if bits <= with_escape => Code {
            lens: plain,
            escape: None,
            escaped: [false; 256],
            side: None,
        },
        _ => Code {
            lens,
            escape: Some(escape),
            escaped,
            side: side_plan,
        },
    }
}

/// Each value's code (bit-reversed: first bit lowest) and length, escaped values given the
/// escape's; unused values length 0.
type Lut = [(u8, u8); 256];

/// The encoder's buffers, kept by each thread.
#[derive(Default)]
struct Buffers {
    /// After each step, the lanes that take a byte: bit `i % 64` of word `i / 64`.
    takes: Vec<[u64; 2]>,
    /// The bits each lane holds after each of the last `MAX_K + 1` steps (before refills);
    /// the AVX2 passes keep them after every step.
    last: Vec<u8>,
    /// The escaped symbols in plane order (64 bytes of slack for vector stores).
    rare: Vec<u8>,
    /// The tail's bits (8 zero bytes after them).
    tail: Vec<u8>,
}

thread_local! {
    static ENCODER: RefCell<Buffers> = RefCell::new(Buffers::default());
}

/// Grows `v` to at least `n` elements (what it held before is overwritten by its users).
fn at_least<T: Copy + Default>(v: &mut Vec<T>, n: usize) -> &mut [T] {
    if v.len() < n {
        v.resize(n, T::default());
    }
    &mut v[..n]
}

/// Appends the codec 11 payload of `plane` (whose histogram is `hist`, with at least two
/// values) to `out` and returns its size; `None` (nothing appended) where the plane is too
/// short for lanes or no `K` up to 255 lets the tail fill the lanes' bits.
pub(crate) fn encode(plane: &[u8], hist: &[u32; 256], out: &mut Vec<u8>) -> Option<usize> {
    encode_using(plane, hist, out, super::vectors())
}

/// [`encode`] with the passes of `path` (which this processor runs: the decoder's loops and
/// the encoder's passes of a path need the same features).
fn encode_using(plane: &[u8], hist: &[u32; 256], out: &mut Vec<u8>, path: Path) -> Option<usize> {
    assert!(path.available());
    let n = plane.len();
    let whole = n / LANES;
    if whole < 2 {
        return None;
    }
    let code = plan_code(hist);
    let codes = huffman::canonical_codes(&code.lens);
    let mut lut: Lut = [(0, 0); 256];
    for (s, e) in lut.iter_mut().enumerate() {
        let m = match code.escape {
            Some(esc) if code.escaped[s] => esc as usize,
            _ => s,
        };
        let l = u32::from(code.lens[m]);
        if l > 0 {
            *e = (huffman::reverse(codes[m], l) as u8, l as u8);
        }
    }
    let mut run = |b: &mut Buffers| -> Option<usize> {
        let keep = whole.min(MAX_K + 1);
        let escapes = code.escape.is_some();
        let takes = at_least(&mut b.takes, whole);
        // The AVX2 passes keep the rows of every step.
        let from = if path == Path::Avx2 { 0 } else { whole - keep };
        let last = at_least(&mut b.last, (whole - from) * LANES);
        let rare = at_least(&mut b.rare, if escapes { n + 64 } else { 0 });
        let mut nr = scan(plane, &lut, &code, from, takes, last, rare, path);
        if escapes {
            for &s in &plane[whole * LANES..] {
                rare[nr] = s;
                nr += usize::from(code.escaped[s as usize]);
            }
        }
        let steps = choose_steps(plane, &lut, from, last)?;
        let start = out.len();
        write_header(&code, whole - steps, &rare[..nr], out);
        let passes = Passes {
            plane,
            lut: &lut,
            code: &code,
            takes: &takes[..steps],
            from,
            last,
            path,
        };
        write_stream(&passes, steps, &mut b.tail, out);
        Some(out.len() - start)
    };
    ENCODER.with(|e| match e.try_borrow_mut() {
        Ok(mut b) => run(&mut b),
        Err(_) => run(&mut Buffers::default()),
    })
}

/// The first pass over the plane's whole steps: the lanes that take a byte after each step
/// (`takes`), the bits the lanes hold after each step from `from` on, before the refills
/// (`last`, a row of `LANES` a step), and with `escapes` the escaped symbols in plane order
/// (`rare`, at least 64 bytes longer than the steps); returns how many.
#[allow(clippy::too_many_arguments)]
fn scan(
    plane: &[u8],
    lut: &Lut,
    code: &Code,
    from: usize,
    takes: &mut [[u64; 2]],
    last: &mut [u8],
    rare: &mut [u8],
    path: Path,
) -> usize {
    let (escaped, escapes) = (&code.escaped, code.escape.is_some());
    // Lengths with the escaped values' top bit set.
    let flagged: [u8; 256] = std::array::from_fn(|s| lut[s].1 | u8::from(escaped[s]) << 7);
    #[cfg(target_arch = "x86_64")]
    match path {
        Path::Avx512 => return x86::scan(plane, &flagged, escapes, from, takes, last, rare),
        Path::Avx2 => {
            assert_eq!(from, 0);
            let window = avx2::Window::new(&kept(code));
            return avx2::scan(plane, &flagged, &window, escapes, takes, last, rare);
        }
        Path::Portable => {}
    }
    let _ = path;
    let mut c = [8u8; LANES];
    for (t, (row, m)) in plane.chunks_exact(LANES).zip(takes.iter_mut()).enumerate() {
        for (h, (c, row)) in c.chunks_exact_mut(64).zip(row.chunks_exact(64)).enumerate() {
            let mut bits = 0u64;
            for (j, (c, &s)) in c.iter_mut().zip(row).enumerate() {
                let v = *c - (flagged[s as usize] & 127);
                let take = v < 8;
                bits |= u64::from(take) << j;
                *c = v + 8 * u8::from(take);
            }
            m[h] = bits;
        }
        if t >= from {
            let row = &mut last[(t - from) * LANES..][..LANES];
            for (i, (r, &c)) in row.iter_mut().zip(&c).enumerate() {
                *r = c - 8 * ((m[i / 64] >> (i % 64)) as u8 & 1);
            }
        }
    }
    let mut nr = 0;
    if escapes {
        for &s in &plane[..takes.len() * LANES] {
            rare[nr] = s;
            nr += usize::from(escaped[s as usize]);
        }
    }
    nr
}

/// The most vector steps (the fewest stopped early, at most 255) whose tail has at least
/// as many bits as the lanes hold after them (`last`: the lanes' bits after each step from
/// `from` on).
fn choose_steps(plane: &[u8], lut: &Lut, from: usize, last: &[u8]) -> Option<usize> {
    let whole = plane.len() / LANES;
    let bits = |s: &[u8]| s.iter().map(|&b| u64::from(lut[b as usize].1)).sum::<u64>();
    let mut tail = bits(&plane[whole * LANES..]);
    for s in (whole.saturating_sub(MAX_K).max(1)..=whole).rev() {
        let room: u64 = last[(s - 1 - from) * LANES..][..LANES]
            .iter()
            .map(|&c| u64::from(c))
            .sum();
        if tail >= room {
            return Some(s);
        }
        tail += bits(&plane[(s - 1) * LANES..s * LANES]);
    }
    None
}

/// The values a code keeps (its lengths not 0, not escaped): the AVX2 passes' window.
#[cfg(target_arch = "x86_64")]
fn kept(code: &Code) -> [bool; 256] {
    std::array::from_fn(|s| code.lens[s] != 0 && !code.escaped[s] && Some(s as u8) != code.escape)
}

/// What the second pass takes from the first.
struct Passes<'a> {
    plane: &'a [u8],
    lut: &'a Lut,
    #[cfg_attr(not(target_arch = "x86_64"), allow(dead_code))]
    code: &'a Code,
    /// The lanes that take a byte after each step (at least up to the last step).
    takes: &'a [[u64; 2]],
    /// The first step of `last`'s rows.
    from: usize,
    /// The bits each lane holds after each step from `from` on, before the refills.
    last: &'a [u8],
    path: Path,
}

/// `m` bits (up to 57) of `bits` from bit `at`, which has 8 bytes after bit `at`'s byte.
fn bits_at(bits: &[u8], at: usize, m: u32) -> u64 {
    let w = u64::from_le_bytes(bits[at / 8..at / 8 + 8].try_into().expect("8 bytes"));
    (w >> (at % 8)) & ((1u64 << m) - 1)
}

/// Appends the stream: the lanes' bytes in the order the decoder takes them (`takes`: the
/// lanes that take one after each step; `c_end`: the bits each lane holds after the last
/// step), the tail's first bits in the lanes' last bytes, then the rest of the tail.
fn write_stream(p: &Passes, steps: usize, tail: &mut Vec<u8>, out: &mut Vec<u8>) {
    let (plane, lut, takes) = (p.plane, p.lut, p.takes);
    let c_end: &[u8; LANES] = p.last[(steps - 1 - p.from) * LANES..][..LANES]
        .try_into()
        .expect("a step's counts");
    // The tail's bits, of which lane i's last byte takes the `c_end[i]` after its codes.
    tail.clear();
    let (mut acc, mut have, mut total) = (0u64, 0u32, 0usize);
    for &s in &plane[steps * LANES..] {
        let (c, l) = lut[s as usize];
        acc |= u64::from(c) << have;
        have += u32::from(l);
        total += usize::from(l);
        if have >= 32 {
            tail.extend_from_slice(&(acc as u32).to_le_bytes());
            acc >>= 32;
            have -= 32;
        }
    }
    tail.extend_from_slice(&acc.to_le_bytes()[..have.div_ceil(8) as usize]);
    tail.extend_from_slice(&[0; 8]);
    // Each lane's bits after its codes: its share of the tail.
    let mut f_end = [0u16; LANES];
    let mut used = 0usize;
    for (f, &c) in f_end.iter_mut().zip(c_end) {
        *f = bits_at(tail, used, u32::from(c)) as u16;
        used += usize::from(c);
    }
    debug_assert!(used <= total);
    let len = stream_len(takes, steps);
    let start = out.len();
    out.resize(start + len, 0);
    let stream = &mut out[start..];
    match p.path {
        #[cfg(target_arch = "x86_64")]
        Path::Avx512 => x86::write_lanes(plane, lut, takes, steps, c_end, &f_end, stream),
        #[cfg(target_arch = "x86_64")]
        Path::Avx2 => {
            let window = avx2::Window::new(&kept(p.code));
            avx2::write_lanes(
                plane,
                lut,
                &window,
                p.code.escape,
                takes,
                steps,
                p.last,
                &f_end,
                stream,
            );
        }
        _ => write_lanes(plane, lut, takes, steps, c_end, &f_end, stream),
    }
    // The rest of the tail, from bit `used` on.
    for k in 0..(total - used).div_ceil(8) {
        out.push(bits_at(tail, used + 8 * k, 8) as u8);
    }
}

/// The stream's length for `steps` steps whose refills are `takes`: the lanes' bytes, one
/// each, then the refills after every step but the last.
fn stream_len(takes: &[[u64; 2]], steps: usize) -> usize {
    LANES
        + takes[..steps - 1]
            .iter()
            .map(|m| (m[0].count_ones() + m[1].count_ones()) as usize)
            .sum::<usize>()
}

/// The second pass, portable: runs the steps `steps - 1` down to 0 with each lane's next
/// 16 bits (`f`, from `f_end` after the last step) and the bits it holds (`c`, from
/// `c_end`), writing each step's refills, then the lanes' first bytes, into `stream`
/// (exactly their length).
fn write_lanes(
    plane: &[u8],
    lut: &Lut,
    takes: &[[u64; 2]],
    steps: usize,
    c_end: &[u8; LANES],
    f_end: &[u16; LANES],
    stream: &mut [u8],
) {
    let (mut f, mut c) = (*f_end, *c_end);
    let mut pos = stream.len();
    for t in (0..steps).rev() {
        if t + 1 < steps {
            // A lane taking a byte holds fewer than 8 bits: the byte is its next 8 after
            // them.
            let m = takes[t];
            pos -= (m[0].count_ones() + m[1].count_ones()) as usize;
            let mut p = pos;
            for (h, &bits) in m.iter().enumerate() {
                let mut b = bits;
                while b != 0 {
                    let i = 64 * h + b.trailing_zeros() as usize;
                    stream[p] = (f[i] >> c[i]) as u8;
                    p += 1;
                    b &= b - 1;
                }
            }
        }
        // Before step t: its code comes first, and the byte taken after step t - 1 is
        // no longer held.
        let prev = if t > 0 { takes[t - 1] } else { [0; 2] };
        let row = &plane[t * LANES..][..LANES];
        for (i, ((f, c), &s)) in f.iter_mut().zip(c.iter_mut()).zip(row).enumerate() {
            let (code, l) = lut[s as usize];
            *f = *f << l | u16::from(code);
            *c = *c + l - 8 * ((prev[i / 64] >> (i % 64)) as u8 & 1);
        }
    }
    debug_assert_eq!(pos, LANES);
    for (b, &f) in stream.iter_mut().zip(&f) {
        *b = f as u8;
    }
}

/// The header and the side list (`rare`: the escaped symbols in plane order).
fn write_header(code: &Code, k: usize, rare: &[u8], out: &mut Vec<u8>) {
    let used: Vec<usize> = (0..256).filter(|&s| code.lens[s] != 0).collect();
    let (min, max) = (used[0], used[used.len() - 1]);
    out.push(min as u8);
    out.push(max as u8);
    for j in (0..=max - min).step_by(2) {
        let hi = if min + j < max {
            code.lens[min + j + 1]
        } else {
            0
        };
        out.push(code.lens[min + j] | hi << 4);
    }
    out.push(if rare.is_empty() {
        0
    } else {
        code.escape.unwrap_or(0)
    });
    out.push(k as u8);
    out.extend_from_slice(&(rare.len() as u32).to_le_bytes());
    // The side list: codec 2 with the code of the escaped symbols' counts, which are those
    // of `rare`.
    match (&code.side, rare.is_empty()) {
        (Some(plan), false) => {
            out.extend_from_slice(&(plan.size as u32).to_le_bytes());
            let at = out.len();
            // 8 bytes of slack for the coder's whole-word stores.
            out.resize(at + plan.size + 8, 0);
            let size = huffman::encode_into(rare, plan, &mut out[at..]);
            debug_assert_eq!(size, plan.size);
            out.truncate(at + plan.size);
        }
        _ => out.extend_from_slice(&0u32.to_le_bytes()),
    }
}
