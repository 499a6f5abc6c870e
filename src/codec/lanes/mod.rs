//! Huffman in 128 lanes (codec 11): a plane's symbols dealt out to 128 lanes that decode
//! side by side, for decoders that look up 32 or 64 symbols with one instruction.
//!
//! The byte format is docs/FORMAT.md section 14. In short: a code of at most 7 bits (so a
//! lookup table has 128 entries and fits two AVX-512 registers), in which the symbols that
//! would need longer codes share one *escape* value and are listed in a side list (a codec 2
//! payload); symbol `j` of the plane is decoded by lane `j mod 128`; every lane holds up to
//! 15 bits and takes the next byte of one shared stream, in lane order, whenever it has
//! fewer than 8 after a step. The vectors stop `K` steps before the plane's last whole
//! step; the last symbols are coded in the bits left in the lanes, then in the stream's
//! last bytes, so that the lanes waste no padding.
//!
//! The encoder uses this codec only where the writer asked for it ([`crate::Target`]): on
//! x86-64 with AVX-512 VBMI and VBMI2 the lanes decode about twice as fast as codec 2's
//! four streams; with AVX2 alone at 0.5 to 1.1 times codec 2's speed, elsewhere with the
//! portable loop, several times slower; identically ([`Path`] names the loops).

#[cfg(target_arch = "x86_64")]
mod avx2;
mod encoder;
mod portable;
#[cfg(test)]
mod tests;
#[cfg(target_arch = "x86_64")]
mod x86;

use std::cell::RefCell;
use std::ops::Range;

use crate::codec::huffman;
use crate::error::{Error, Result};
pub(crate) use encoder::encode;

/// Lanes, the symbols of one step.
pub(crate) const LANES: usize = 128;
/// Longest code of the lanes' code.
pub(crate) const MAX_LEN: u32 = 7;
const TABLE: usize = 1 << MAX_LEN;
/// Largest `K`, the steps the vectors stop early (one header byte).
const MAX_K: usize = 255;
/// Bytes of the header after the code lengths: escape, `K`, the side list's count and size.
const FIXED: usize = 1 + 1 + 4 + 4;
/// The smallest plane the encoder codes in lanes: below this, the tail and the fixed costs
/// are too large a share.
pub(crate) const MIN_PLANE: usize = 4096;

/// A parsed header.
struct Header {
    lens: [u8; 256],
    escape: u8,
    /// Vector steps: `n / LANES - K`, at least 1.
    steps: usize,
    /// Escaped symbols (the side list's length).
    rare: usize,
    side: Range<usize>,
    stream: Range<usize>,
}

fn parse(src: &[u8], n: usize) -> Result<Header> {
    let (lens, at, _) = huffman::read_lengths(src, MAX_LEN)?;
    if src.len() < at + FIXED {
        return Err(Error::Corrupt);
    }
    let escape = src[at];
    let k = src[at + 1] as usize;
    let word = |i: usize| u32::from_le_bytes([src[i], src[i + 1], src[i + 2], src[i + 3]]) as usize;
    let (rare, side_len) = (word(at + 2), word(at + 6));
    let whole = n / LANES;
    if whole < k + 1 || rare > n || (rare == 0) != (side_len == 0) || (rare == 0 && escape != 0) {
        return Err(Error::Corrupt);
    }
    let side_at = at + FIXED;
    if src.len() - side_at < side_len {
        return Err(Error::Corrupt);
    }
    Ok(Header {
        lens,
        escape,
        steps: whole - k,
        rare,
        side: side_at..side_at + side_len,
        stream: side_at + side_len..src.len(),
    })
}

/// The decoding table of a code: entry `i` (the next 7 bits, first bit lowest) holds the
/// symbol in its low byte and the code's length in the high byte.
fn table(lens: &[u8; 256]) -> [u16; TABLE] {
    let codes = huffman::canonical_codes(lens);
    let mut t = [0u16; TABLE];
    for s in 0..256 {
        let l = lens[s] as u32;
        if l == 0 {
            continue;
        }
        // A lone symbol has the one-bit code 0: half the entries; the other half are never
        // reached by a valid payload and decode as the same symbol.
        let r = huffman::reverse(codes[s], l) as usize;
        for i in (r..TABLE).step_by(1 << l) {
            t[i] = s as u16 | (l as u16) << 8;
        }
    }
    if lens.iter().filter(|&&l| l != 0).count() == 1 {
        let e = t[0];
        t.iter_mut().for_each(|x| *x = e);
    }
    t
}

/// What the lanes hold after the vector steps: for each lane its bits (lowest first) and
/// their count, and how many stream bytes they took.
pub(crate) struct LaneEnd {
    pub buf: [u16; LANES],
    pub left: [u16; LANES],
    pub pos: usize,
    /// The symbols before this one have their escapes replaced already...
    pub patched: usize,
    /// ...by this many symbols of the side list.
    pub taken: usize,
}

thread_local! {
    /// Per-thread buffers: the side list and the tail's bits.
    static SCRATCH: RefCell<(Vec<u8>, Vec<u8>)> = const { RefCell::new((Vec::new(), Vec::new())) };
}

/// Decodes a codec 11 payload into `dst` (the plane, `dst.len()` symbols).
pub fn decode(src: &[u8], dst: &mut [u8]) -> Result<()> {
    decode_warming(src, dst, &mut &[][..])
}

/// [`decode`], asking the processor along the way to bring the bytes of `warm` into the
/// caches (bytes the caller reads next, as [`huffman::decode_warming`] does); `warm` is left
/// holding the bytes not asked for.
pub fn decode_warming(src: &[u8], dst: &mut [u8], warm: &mut &[u8]) -> Result<()> {
    decode_using(src, dst, vectors(), warm)
}

/// A loop that runs the lanes' vector steps; all give the same output and errors.
#[doc(hidden)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Path {
    /// Scalar code, on every processor.
    Portable,
    /// x86-64 with AVX2 (and POPCNT).
    Avx2,
    /// x86-64 with AVX-512 VBMI and VBMI2.
    Avx512,
}

impl Path {
    /// Every path, slowest first.
    pub fn all() -> [Path; 3] {
        [Path::Portable, Path::Avx2, Path::Avx512]
    }

    /// Whether this processor runs the path.
    pub fn available(self) -> bool {
        match self {
            Path::Portable => true,
            #[cfg(target_arch = "x86_64")]
            Path::Avx2 => avx2::available(),
            #[cfg(target_arch = "x86_64")]
            Path::Avx512 => x86::available(),
            #[cfg(not(target_arch = "x86_64"))]
            _ => false,
        }
    }
}

/// The fastest path this processor runs.
fn vectors() -> Path {
    static BEST: std::sync::OnceLock<Path> = std::sync::OnceLock::new();
    *BEST.get_or_init(|| {
        Path::all()
            .into_iter()
            .rev()
            .find(|p| p.available())
            .unwrap_or(Path::Portable)
    })
}

/// Codes `plane` in lanes, if they apply (for benchmarks: [`decode_with`] decodes it).
#[doc(hidden)]
pub fn encode_plane(plane: &[u8]) -> Option<Vec<u8>> {
    let mut out = Vec::new();
    encode(plane, &huffman::histogram(plane), &mut out)?;
    Some(out)
}

/// [`decode`] with the lanes' steps run by `path`; `InvalidParam` where this processor
/// does not run it.
#[doc(hidden)]
pub fn decode_with(src: &[u8], dst: &mut [u8], path: Path) -> Result<()> {
    if !path.available() {
        return Err(Error::InvalidParam);
    }
    decode_using(src, dst, path, &mut &[][..])
}

/// [`decode_warming`] with the vector steps run by `path` (which this processor runs).
fn decode_using(src: &[u8], dst: &mut [u8], path: Path, warm: &mut &[u8]) -> Result<()> {
    let n = dst.len();
    let h = parse(src, n)?;
    let table = table(&h.lens);
    let stream = &src[h.stream.clone()];
    let mut run = |side: &mut Vec<u8>, bits: &mut Vec<u8>, dst: &mut [u8]| -> Result<()> {
        if h.rare > 0 {
            side.clear();
            side.resize(h.rare + 64, 0);
            huffman::decode(&src[h.side.clone()], &mut side[..h.rare])?;
        }
        let escapes = (h.rare > 0).then(|| (h.escape, &side[..]));
        let end = run_lanes(stream, &table, h.steps, dst, path, escapes, warm);
        if end.pos > stream.len() || end.taken > h.rare {
            return Err(Error::Corrupt);
        }
        decode_tail(&end, &stream[end.pos..], &table, h.steps * LANES, dst, bits)?;
        if h.rare > 0 {
            portable::patch(&mut dst[end.patched..], h.escape, &side[end.taken..h.rare])?;
        }
        Ok(())
    };
    SCRATCH.with(|s| match s.try_borrow_mut() {
        Ok(mut g) => {
            let (side, bits) = &mut *g;
            run(side, bits, dst)
        }
        Err(_) => run(&mut Vec::new(), &mut Vec::new(), dst),
    })
}

/// The vector steps, with the loop of `path` (the portable one leaves the escapes as they
/// are and asks for nothing; the vector loops patch them as they go).
fn run_lanes(
    stream: &[u8],
    table: &[u16; TABLE],
    steps: usize,
    dst: &mut [u8],
    path: Path,
    escapes: Option<(u8, &[u8])>,
    warm: &mut &[u8],
) -> LaneEnd {
    debug_assert!(steps >= 1 && steps * LANES <= dst.len());
    #[cfg(target_arch = "x86_64")]
    if path != Path::Portable {
        let asked = warm.len().min(steps * 128);
        let end = match path {
            Path::Avx512 => x86::run_lanes(stream, table, steps, dst, escapes, &warm[..asked]),
            _ => avx2::run_lanes(stream, table, steps, dst, escapes, &warm[..asked]),
        };
        *warm = &warm[asked..];
        return end;
    }
    let _ = (path, escapes, warm);
    portable::run_lanes(stream, table, steps, dst)
}

/// Decodes the symbols from `from` on: their codes fill the bits left in the lanes, in lane
/// order, then the stream's bytes after the lanes' (`rest`), which must end where they do
/// (the unused bits of the last byte zero).
fn decode_tail(
    end: &LaneEnd,
    rest: &[u8],
    table: &[u16; TABLE],
    from: usize,
    dst: &mut [u8],
    bits: &mut Vec<u8>,
) -> Result<()> {
    let count = dst.len() - from;
    // The bits the tail may take: every symbol's code at its longest.
    let most = count * MAX_LEN as usize;
    bits.clear();
    let (mut acc, mut have) = (0u64, 0u32);
    let mut room = 0usize;
    for (&b, &l) in end.buf.iter().zip(&end.left) {
        acc |= (u64::from(b) & ((1 << l) - 1)) << have;
        have += u32::from(l);
        room += usize::from(l);
        while have >= 8 {
            bits.push(acc as u8);
            acc >>= 8;
            have -= 8;
        }
    }
    // The stream's bytes join the lanes' bits at bit `room`.
    let take = rest.len().min(most.saturating_sub(room) / 8 + 1);
    for &b in &rest[..take] {
        acc |= u64::from(b) << have;
        bits.push(acc as u8);
        acc >>= 8;
    }
    if have > 0 {
        bits.push(acc as u8);
    }
    let valid = room + 8 * take;
    bits.resize(bits.len() + 8, 0);
    // Eight symbols a load: 57 bits or more after it, 56 at most taken. Bits past `valid`
    // read as zero; a group that ends past it is an error.
    let mut at = 0usize;
    for group in dst[from..].chunks_mut(8) {
        let w = u64::from_le_bytes(bits[at / 8..at / 8 + 8].try_into().expect("8 bytes"));
        let mut w = w >> (at % 8);
        for d in group {
            let e = table[(w as usize) & (TABLE - 1)];
            *d = e as u8;
            w >>= e >> 8;
            at += usize::from(e >> 8);
        }
        if at > valid {
            return Err(Error::Corrupt);
        }
    }
    // The tail fills the lanes' bits and ends in the stream's last byte.
    if at < room || (at - room).div_ceil(8) != rest.len() {
        return Err(Error::Corrupt);
    }
    let used = at - room;
    if used % 8 != 0 && rest[rest.len() - 1] >> (used % 8) != 0 {
        return Err(Error::Corrupt);
    }
    Ok(())
}
