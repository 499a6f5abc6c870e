//! Finite State Entropy decoding, as far as Huffman weights need it (RFC 8878 sections 4.1
//! and 4.2.1.2): the table description, the decoding table, and the two interleaved states
//! that decode the weights.

use super::bits::{Backward, Forward};
use crate::error::{Error, Result};

/// Largest accuracy log allowed for the FSE table of Huffman weights.
const WEIGHTS_MAX_ACCURACY: u32 = 6;
/// Largest symbol (weight value) such a table may describe.
const WEIGHTS_MAX_SYMBOL: usize = 12;

#[derive(Clone, Copy, Default)]
struct Cell {
    symbol: u8,
    bits: u8,
    base: u16,
}

/// A decoding table built from a table description.
struct Table {
    accuracy: u32,
    cells: Vec<Cell>,
}

/// Reads a table description from the front of `src` (symbols up to `max_symbol`,
/// accuracy log up to `max_accuracy`); returns the normalized counts (-1 = "less than 1")
/// and the number of bytes the description takes.
fn read_counts(src: &[u8], max_symbol: usize, max_accuracy: u32) -> Result<(Vec<i16>, u32, usize)> {
    let mut r = Forward::new(src);
    let accuracy = r.peek(4) + 5;
    r.skip(4);
    if accuracy > max_accuracy {
        return Err(Error::Corrupt);
    }
    let mut counts: Vec<i16> = Vec::with_capacity(max_symbol + 1);
    // Probability points still to hand out, plus one.
    let mut remaining: i32 = (1 << accuracy) + 1;
    let mut threshold: i32 = 1 << accuracy;
    let mut nbits: u32 = accuracy + 1;
    let mut previous_zero = false;
    while remaining > 1 {
        if previous_zero {
            // Runs of zero-probability symbols: 2-bit repeat counts, 3 meaning "and more".
            loop {
                let flag = r.peek(2) as usize;
                r.skip(2);
                counts.resize(counts.len() + flag, 0);
                if counts.len() > max_symbol + 1 || r.overrun() {
                    return Err(Error::Corrupt);
                }
                if flag != 3 {
                    break;
                }
            }
        }
        if counts.len() > max_symbol {
            return Err(Error::Corrupt);
        }
        // A value below `max` needs one bit less than the others.
        let max = (2 * threshold - 1) - remaining;
        let low = r.peek(nbits - 1) as i32;
        let value = if low < max {
            r.skip(nbits - 1);
            low
        } else {
            let v = r.peek(nbits) as i32;
            r.skip(nbits);
            if v >= threshold {
                v - max
            } else {
                v
            }
        };
        let count = value - 1;
        remaining -= count.abs();
        if remaining < 1 || r.overrun() {
            return Err(Error::Corrupt);
        }
        counts.push(count as i16);
        previous_zero = count == 0;
        while remaining < threshold {
            nbits -= 1;
            threshold >>= 1;
        }
    }
    if remaining != 1 || counts.len() < 2 {
        return Err(Error::Corrupt);
    }
    Ok((counts, accuracy, r.bytes_used()))
}

impl Table {
    /// Builds the decoding table of a table description (RFC 8878 4.1.1).
    fn build(counts: &[i16], accuracy: u32) -> Result<Table> {
        let size = 1usize << accuracy;
        let mut cells = vec![Cell::default(); size];
        let mut next = vec![0u32; counts.len()];
        let mut high = size - 1;
        for (s, &c) in counts.iter().enumerate() {
            if c == -1 {
                cells[high].symbol = s as u8;
                high = high.checked_sub(1).ok_or(Error::Corrupt)?;
                next[s] = 1;
            } else {
                next[s] = c.max(0) as u32;
            }
        }
        let step = (size >> 1) + (size >> 3) + 3;
        let mask = size - 1;
        let mut pos = 0usize;
        for (s, &c) in counts.iter().enumerate() {
            for _ in 0..c.max(0) {
                cells[pos].symbol = s as u8;
                loop {
                    pos = (pos + step) & mask;
                    if pos <= high {
                        break;
                    }
                }
            }
        }
        if pos != 0 {
            return Err(Error::Corrupt);
        }
        for cell in cells.iter_mut() {
            let s = cell.symbol as usize;
            let state = next[s];
            next[s] += 1;
            // state >= 1 here: every symbol placed has a count >= 1 (or -1, counted as 1).
            let bits = accuracy - (31 - state.leading_zeros());
            cell.bits = bits as u8;
            cell.base = ((state << bits) as usize - size) as u16;
        }
        Ok(Table { accuracy, cells })
    }
}

/// Decodes FSE-compressed Huffman weights from `src` (the bytes the tree description's
/// header byte announces). Returns the weights of all symbols but the last.
pub(super) fn decode_weights(src: &[u8], out: &mut Vec<u8>, max_out: usize) -> Result<()> {
    let (counts, accuracy, used) = read_counts(src, WEIGHTS_MAX_SYMBOL, WEIGHTS_MAX_ACCURACY)?;
    let table = Table::build(&counts, accuracy)?;
    let stream = src.get(used..).ok_or(Error::Corrupt)?;
    let mut r = Backward::new(stream)?;
    let (s1, ok1) = r.read_or_overrun(table.accuracy);
    let (s2, ok2) = r.read_or_overrun(table.accuracy);
    if !(ok1 && ok2) {
        return Err(Error::Corrupt);
    }
    let mut states = [s1 as usize, s2 as usize];
    // The states take turns; when an update reads past the start of the stream, the other
    // state's symbol is the last one.
    let mut turn = 0;
    loop {
        if out.len() + 2 > max_out {
            return Err(Error::Corrupt);
        }
        let cell = table.cells[states[turn]];
        out.push(cell.symbol);
        let (low, ok) = r.read_or_overrun(cell.bits as u32);
        states[turn] = cell.base as usize + low as usize;
        if !ok {
            out.push(table.cells[states[1 - turn]].symbol);
            return Ok(());
        }
        turn = 1 - turn;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_must_add_up() {
        // Accuracy 5 (low nibble 0), then counts that overshoot: a single symbol with all
        // 32 points is fine, anything left over is not.
        assert!(read_counts(&[0x00], 12, 6).is_err());
        // Accuracy log 7 is above the weights' limit.
        assert!(read_counts(&[0x02, 0, 0, 0], 12, 6).is_err());
    }

    #[test]
    fn spread_covers_the_table() {
        let counts = [18i16, 9, 3, -1, 1];
        let t = Table::build(&counts, 5).unwrap();
        let mut seen = [0usize; 5];
        for c in &t.cells {
            seen[c.symbol as usize] += 1;
            assert!(c.bits as u32 <= 5);
            assert!((c.base as usize) < 32);
        }
        assert_eq!(seen, [18, 9, 3, 1, 1]);
        assert_eq!(t.cells[31].symbol, 3);
    }
}
