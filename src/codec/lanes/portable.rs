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
        // Each lane's refill right after its lookup: the lanes take their bytes in lane
        // order all the same, and each lane's state is read and written once a step.
        let refill = u32::from(t + 1 < steps);
        for ((o, b), l) in out.iter_mut().zip(&mut buf).zip(&mut left) {
            let e = table[(*b as usize) & (TABLE - 1)];
            *o = e as u8;
            let len = u32::from(e >> 8);
            let (v, c) = (*b >> len, *l - len);
            // Without a branch on the refill, which half the lanes take at random.
            let need = u32::from(c < 8) & refill;
            *b = v | (byte(pos) * need) << c;
            pos += need as usize;
            *l = c + 8 * need;
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
    const ONES: u64 = u64::from_ne_bytes([1; 8]);
    const HIGHS: u64 = u64::from_ne_bytes([0x80; 8]);
    let pattern = u64::from_ne_bytes([escape; 8]);
    let mut k = 0usize;
    let mut put = |d: &mut u8| -> Result<()> {
        if *d == escape {
            *d = *side.get(k).ok_or(Error::Corrupt)?;
            k += 1;
        }
        Ok(())
    };
    // Eight bytes at a time: most words hold no escape (a zero byte of `w ^ pattern`, which
    // the test finds exactly) and are passed over.
    let mut words = dst.chunks_exact_mut(8);
    for word in &mut words {
        let w = u64::from_ne_bytes((&*word).try_into().expect("8 bytes")) ^ pattern;
        if w.wrapping_sub(ONES) & !w & HIGHS != 0 {
            word.iter_mut().try_for_each(&mut put)?;
        }
    }
    words.into_remainder().iter_mut().try_for_each(&mut put)?;
    if k != side.len() {
        return Err(Error::Corrupt);
    }
    Ok(())
}
