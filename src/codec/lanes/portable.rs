//! The lanes with scalar code: what every processor runs where no vector loop applies.

use super::{LaneEnd, LANES, TABLE};
use crate::error::{Error, Result};

/// Runs `steps` steps of all lanes over `stream` (bytes past its end read as zero),
/// writing symbols `0 .. steps * LANES` of `dst`.
pub(super) fn run_lanes(
    stream: &[u8],
    table: &[u16; TABLE],
    steps: usize,
    dst: &mut [u8],
) -> LaneEnd {
    let byte = |p: usize| u32::from(stream.get(p).copied().unwrap_or(0));
    let mut buf = [0u32; LANES];
    let mut left = [8u32; LANES];
    for (i, b) in buf.iter_mut().enumerate() {
        *b = byte(i);
    }
    let mut pos = LANES;
    for (t, out) in dst[..steps * LANES].chunks_exact_mut(LANES).enumerate() {
        for ((o, b), l) in out.iter_mut().zip(&mut buf).zip(&mut left) {
            let e = table[(*b as usize) & (TABLE - 1)];
            *o = e as u8;
            let len = u32::from(e >> 8);
            *b >>= len;
            *l -= len;
        }
        if t + 1 < steps {
            for (b, l) in buf.iter_mut().zip(&mut left) {
                if *l < 8 {
                    *b |= byte(pos) << *l;
                    pos += 1;
                    *l += 8;
                }
            }
        }
    }
    LaneEnd {
        buf: buf.map(|b| b as u16),
        left: left.map(|l| l as u16),
        pos,
        patched: 0,
        taken: 0,
    }
}

/// Replaces the escapes in `dst` by the symbols of `side`, in order; `Corrupt` unless
/// there are as many.
pub(super) fn patch(dst: &mut [u8], escape: u8, side: &[u8]) -> Result<()> {
    let mut k = 0usize;
    for d in dst.iter_mut() {
        if *d == escape {
            *d = *side.get(k).ok_or(Error::Corrupt)?;
            k += 1;
        }
    }
    if k != side.len() {
        return Err(Error::Corrupt);
    }
    Ok(())
}
