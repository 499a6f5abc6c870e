//! Decoder: the frequency table, the decoding table, the states run forwards.

use super::model::{read_freqs, read_freqs_rice, TABLE_LENGTHS, TABLE_RICE};
use super::{FIXED, L, MAX_SCALE, MIN_SCALE, STATES};
use crate::error::{Error, Result};

/// `decode`, with the SIMD fast path allowed or not (tests run both).
pub(super) fn decode_impl(src: &[u8], dst: &mut [u8], allow_simd: bool) -> Result<()> {
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
        (i, pos) = unsafe { super::x86::run_avx2(tab, S, stream, dst, x) };
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
