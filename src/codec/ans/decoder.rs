//! Decoder: the frequency table, the decoding table, the states run forwards.

use super::model::{read_freqs, read_freqs_rice, TABLE_LENGTHS, TABLE_RICE};
use super::{tail_len, Path, FIXED, L, MAX_SCALE, MIN_SCALE, WIDE_STATES};
use crate::error::{Error, Result};

/// Decodes a payload of `K` interleaved states (16 for codec 6, 32 for codec 7) on `path`.
pub(super) fn decode_impl<const K: usize, const WIDE: bool>(
    src: &[u8],
    dst: &mut [u8],
    path: Path,
) -> Result<()> {
    let mut tab = [0u32; 1 << MAX_SCALE];
    let Some(mut r) = prepare::<K, WIDE>(src, dst, &mut tab)? else {
        return Ok(());
    };
    let pos = run_at::<K>(&tab, r.scale, r.stream, &mut dst[..r.main], &mut r.x, path)?;
    finish(&r, pos, dst)
}

/// Decodes two codec 7 payloads: `a` into `da` and `b` into `db`, with the same result
/// and errors as two calls of [`decode_impl`]. On AVX-512 and `Avx2Loads` the two planes
/// run in one loop, which keeps twice as many lookups in flight (each plane's states only
/// wait on their own table lookups); on other paths they decode one after the other.
pub(super) fn decode_pair_impl(
    a: &[u8],
    da: &mut [u8],
    b: &[u8],
    db: &mut [u8],
    path: Path,
) -> Result<()> {
    const K: usize = WIDE_STATES;
    if !matches!(path, Path::Avx512 | Path::Avx2Loads) {
        decode_impl::<K, true>(a, da, path)?;
        return decode_impl::<K, true>(b, db, path);
    }
    let mut ta = [0u32; 1 << MAX_SCALE];
    let Some(mut ra) = prepare::<K, true>(a, da, &mut ta)? else {
        return decode_impl::<K, true>(b, db, path);
    };
    let mut tb = [0u32; 1 << MAX_SCALE];
    let Some(mut rb) = prepare::<K, true>(b, db, &mut tb)? else {
        let pos = run_at::<K>(
            &ta,
            ra.scale,
            ra.stream,
            &mut da[..ra.main],
            &mut ra.x,
            path,
        )?;
        return finish(&ra, pos, da);
    };
    #[cfg(target_arch = "x86_64")]
    let (i, pa, pb) = {
        let tabs = [&ta, &tb];
        let scales = [ra.scale, rb.scale];
        let streams = [ra.stream, rb.stream];
        let dsts = [&mut da[..ra.main], &mut db[..rb.main]];
        let xs = [&mut ra.x, &mut rb.x];
        // SAFETY: `path` is `Avx512` only where AVX-512 F and POPCNT run, `Avx2Loads` only
        // where AVX2 and POPCNT run (Path::available, or a test that took it from there).
        unsafe {
            if path == Path::Avx512 {
                super::x86::run_avx512_pair(tabs, scales, streams, dsts, xs)
            } else {
                super::x86::run_avx2_pair(tabs, scales, streams, dsts, xs)
            }
        }
    };
    #[cfg(not(target_arch = "x86_64"))]
    let (i, pa, pb) = (0usize, 0usize, 0usize);
    // Each plane goes on alone from where the joint loop stopped (`i` is a multiple of K).
    let pa = pa
        + run_at::<K>(
            &ta,
            ra.scale,
            &ra.stream[pa..],
            &mut da[i..ra.main],
            &mut ra.x,
            path,
        )?;
    finish(&ra, pa, da)?;
    let pb = pb
        + run_at::<K>(
            &tb,
            rb.scale,
            &rb.stream[pb..],
            &mut db[i..rb.main],
            &mut rb.x,
            path,
        )?;
    finish(&rb, pb, db)
}

/// A payload whose header has been read, ready to decode.
pub(super) struct Ready<'a, const K: usize> {
    /// Frequency scale.
    scale: u32,
    /// Quantised frequency of each symbol (the tail's symbols are checked against it).
    freq: [u32; 256],
    /// The initial states (`L` past the first `main.min(K)`).
    x: [u32; K],
    /// The word stream.
    stream: &'a [u8],
    /// Symbols decoded from the stream; the rest are the tail.
    main: usize,
}

/// Reads the header of a payload for `dst.len()` symbols and fills `tab`, the decoding
/// table. `None` when nothing is left to decode (no symbols, or a single symbol value,
/// already written to `dst`).
fn prepare<'a, const K: usize, const WIDE: bool>(
    src: &'a [u8],
    dst: &mut [u8],
    tab: &mut [u32; 1 << MAX_SCALE],
) -> Result<Option<Ready<'a, K>>> {
    let n = dst.len();
    if n == 0 {
        return if src.is_empty() {
            Ok(None)
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
        return Ok(None);
    }
    let (freq, table_end) = if kind == TABLE_RICE {
        read_freqs_rice(src, scale, min, max)?
    } else {
        read_freqs(src, scale, min, max)?
    };

    // Decoder table: per slot, the symbol, its frequency and the slot's offset from the
    // symbol's cumulative frequency (`bias << 20 | sym << 12 | f`; all fit as f < M <= 2^12).
    let mut cum = 0usize;
    for (s, &f) in freq.iter().enumerate().take(max + 1).skip(min) {
        let f = f as usize;
        for (b, e) in tab[cum..cum + f].iter_mut().enumerate() {
            *e = ((b as u32) << 20) | ((s as u32) << 12) | f as u32;
        }
        cum += f;
    }
    debug_assert_eq!(cum, 1usize << scale);

    // Symbols past `main` are the tail (codec 7): they come out of the final states.
    let main = n - tail_len::<K, WIDE>(n);
    let k = main.min(K);
    let mut x = [L; K];
    let states_end = if WIDE {
        read_packed_states(src, table_end, &mut x[..k])?
    } else {
        let end = table_end + 4 * k;
        for (j, xj) in x[..k].iter_mut().enumerate() {
            let b = src
                .get(table_end + 4 * j..table_end + 4 * j + 4)
                .ok_or(Error::Corrupt)?;
            *xj = u32::from_le_bytes([b[0], b[1], b[2], b[3]]);
            if *xj < L {
                return Err(Error::Corrupt);
            }
        }
        end
    };
    if src.len() < states_end || !(src.len() - states_end).is_multiple_of(2) {
        return Err(Error::Corrupt);
    }
    Ok(Some(Ready {
        scale,
        freq,
        x,
        stream: &src[states_end..],
        main,
    }))
}

/// Checks that the stream was used up (`pos` bytes read) and the states came back to
/// where the encoder started, and writes the tail into `dst[r.main..]`.
fn finish<const K: usize>(r: &Ready<'_, K>, pos: usize, dst: &mut [u8]) -> Result<()> {
    if pos != r.stream.len() {
        return Err(Error::Corrupt);
    }
    let tail = &mut dst[r.main..];
    if tail.is_empty() {
        // Every state back at the encoder's initial value.
        if r.x.iter().any(|&xj| xj != L) {
            return Err(Error::Corrupt);
        }
    } else {
        // Each state back at L plus two tail symbols, each one with a nonzero frequency.
        for (xj, pair) in r.x.iter().zip(tail.chunks_exact_mut(2)) {
            let (a, b) = ((xj & 0xFF) as usize, (xj >> 8 & 0xFF) as usize);
            if xj >> 16 != 1 || r.freq[a] == 0 || r.freq[b] == 0 {
                return Err(Error::Corrupt);
            }
            pair[0] = a as u8;
            pair[1] = b as u8;
        }
    }
    Ok(())
}

/// [`run`] at a scale known at run time.
fn run_at<const K: usize>(
    tab: &[u32; 1 << MAX_SCALE],
    scale: u32,
    stream: &[u8],
    dst: &mut [u8],
    x: &mut [u32; K],
    path: Path,
) -> Result<usize> {
    match scale {
        8 => run::<8, K>(tab, stream, dst, x, path),
        9 => run::<9, K>(tab, stream, dst, x, path),
        10 => run::<10, K>(tab, stream, dst, x, path),
        11 => run::<11, K>(tab, stream, dst, x, path),
        _ => run::<12, K>(tab, stream, dst, x, path),
    }
}

/// Reads codec 7's initial states, packed from byte `at` (docs/FORMAT.md 8.7): per state a
/// 4-bit field `b`, then the `b + 16` bits of the state below its leading one (the state has
/// `b + 17` bits), least significant bit first; zero bits pad the section to a byte. Returns
/// the offset of the first byte after it.
fn read_packed_states(src: &[u8], at: usize, x: &mut [u32]) -> Result<usize> {
    let (mut acc, mut nbits, mut pos) = (0u64, 0u32, at);
    let mut take = |want: u32| -> Result<u32> {
        while nbits < want {
            let &b = src.get(pos).ok_or(Error::Corrupt)?;
            acc |= (b as u64) << nbits;
            nbits += 8;
            pos += 1;
        }
        let v = (acc & ((1u64 << want) - 1)) as u32;
        acc >>= want;
        nbits -= want;
        Ok(v)
    };
    for xj in x.iter_mut() {
        let below = take(4)? + 16;
        *xj = 1 << below | take(below)?;
    }
    // The padding bits of the last byte must be zero.
    if take(0)? != 0 || acc != 0 {
        return Err(Error::Corrupt);
    }
    Ok(pos)
}

/// One decoding step of state `x` (without renormalisation) at scale `SCALE`.
#[inline(always)]
fn step<const SCALE: u32>(tab: &[u32; 1 << MAX_SCALE], x: u32) -> (u32, u8) {
    let e = tab[(x & ((1 << SCALE) - 1)) as usize];
    // f * (x >> SCALE) + (slot - cum): below 2^32 for every 32-bit x, because the table is
    // built from frequencies that sum exactly to 2^SCALE.
    let x = (e & 0xFFF) * (x >> SCALE) + (e >> 20);
    (x, (e >> 12) as u8)
}

/// Decodes `dst.len()` symbols at scale `SCALE` with `K` states, reading words from `stream`;
/// returns the stream bytes consumed. `Err` if the stream runs out.
fn run<const SCALE: u32, const K: usize>(
    tab: &[u32; 1 << MAX_SCALE],
    stream: &[u8],
    dst: &mut [u8],
    x: &mut [u32; K],
    path: Path,
) -> Result<usize> {
    let n = dst.len();
    // SAFETY: `path` was chosen (or checked, when a test forces it) for this CPU: `Avx2`
    // and `Avx2Loads` only where AVX2 and POPCNT run, `Avx512` only where AVX-512 F runs as
    // well. The vector counts match `K` (8 or 16 states per vector).
    #[cfg(target_arch = "x86_64")]
    let (mut i, mut pos) = unsafe {
        match (path, K) {
            (Path::Avx2, 16) => super::x86::run_avx2::<2, false>(tab, SCALE, stream, dst, x),
            (Path::Avx2, 32) => super::x86::run_avx2::<4, false>(tab, SCALE, stream, dst, x),
            (Path::Avx2Loads, 16) => super::x86::run_avx2::<2, true>(tab, SCALE, stream, dst, x),
            (Path::Avx2Loads, 32) => super::x86::run_avx2::<4, true>(tab, SCALE, stream, dst, x),
            (Path::Avx512, 16) => super::x86::run_avx512::<1>(tab, SCALE, stream, dst, x),
            (Path::Avx512, 32) => super::x86::run_avx512::<2>(tab, SCALE, stream, dst, x),
            _ => (0, 0),
        }
    };
    #[cfg(not(target_arch = "x86_64"))]
    let (mut i, mut pos, _) = (0usize, 0usize, path);
    // Portable fast path: whole groups of K symbols while 2K stream bytes (K words, the most
    // a group can take) remain.
    for out in dst[i..].chunks_exact_mut(K) {
        let Some(b) = stream.get(pos..pos + 2 * K) else {
            break;
        };
        // Offset of the next unread word in `b`; at most 2K - 2 before each read.
        let mut o = 0usize;
        for j in 0..K {
            let (y, s) = step::<SCALE>(tab, x[j]);
            out[j] = s;
            let need = y < L;
            let wo = o & (2 * K - 2);
            let v = (y << 16) | u16::from_le_bytes([b[wo], b[wo + 1]]) as u32;
            x[j] = if need { v } else { y };
            o += (need as usize) << 1;
        }
        pos += o;
        i += K;
    }
    // Careful path for the rest.
    while i < n {
        let j = i % K;
        let (mut xj, s) = step::<SCALE>(tab, x[j]);
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
