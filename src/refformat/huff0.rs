//! Huffman blocks of reference frames: a Huffman tree description followed by four
//! backward bitstreams behind a six-byte jump table (the layout RFC 8878 section 4.2 gives
//! for compressed literals, used here on its own with the regenerated size known from the
//! frame).

use super::bits::Backward;
use super::fse;
use crate::error::{Error, Result};

/// Longest code length (and largest table log) a tree description may give.
const MAX_CODE_BITS: u32 = 12;
/// At most this many weights are described (the last symbol's weight is implied).
const MAX_WEIGHTS: usize = 255;

/// A single-symbol decoding table: `1 << bits` entries, each the symbol and its code
/// length, indexed by the next `bits` bits of a stream.
pub(super) struct Table {
    bits: u32,
    /// `symbol | length << 8` per entry.
    entries: Vec<u16>,
}

/// Reads a Huffman tree description from the front of `src`; returns the table and the
/// description's length.
pub(super) fn read_table(src: &[u8]) -> Result<(Table, usize)> {
    let head = *src.first().ok_or(Error::Corrupt)? as usize;
    let mut weights: Vec<u8> = Vec::with_capacity(256);
    let used = if head < 128 {
        // FSE-compressed weights, `head` bytes of them.
        let body = src.get(1..1 + head).ok_or(Error::Corrupt)?;
        if head == 0 {
            return Err(Error::Corrupt);
        }
        fse::decode_weights(body, &mut weights, MAX_WEIGHTS)?;
        1 + head
    } else {
        // Weights as 4-bit numbers, two per byte, high nibble first.
        let count = head - 127;
        let bytes = count.div_ceil(2);
        let body = src.get(1..1 + bytes).ok_or(Error::Corrupt)?;
        for i in 0..count {
            let b = body[i / 2];
            weights.push(if i % 2 == 0 { b >> 4 } else { b & 15 });
        }
        1 + bytes
    };
    Ok((Table::from_weights(&mut weights)?, used))
}

impl Table {
    /// Completes the weights with the implied last one and builds the table.
    fn from_weights(weights: &mut Vec<u8>) -> Result<Table> {
        if weights.is_empty() || weights.len() > MAX_WEIGHTS {
            return Err(Error::Corrupt);
        }
        let mut rank = [0u32; MAX_CODE_BITS as usize + 2];
        let mut total: u32 = 0;
        for &w in weights.iter() {
            if w as u32 > MAX_CODE_BITS {
                return Err(Error::Corrupt);
            }
            rank[w as usize] += 1;
            total += (1u32 << w) >> 1;
        }
        if total == 0 {
            return Err(Error::Corrupt);
        }
        let bits = 32 - total.leading_zeros();
        if bits > MAX_CODE_BITS {
            return Err(Error::Corrupt);
        }
        // The last weight fills the table up to the next power of two.
        let rest = (1u32 << bits) - total;
        if !rest.is_power_of_two() {
            return Err(Error::Corrupt);
        }
        let last = rest.trailing_zeros() + 1;
        weights.push(last as u8);
        rank[last as usize] += 1;
        // A complete prefix code has an even number (at least two) of longest codes.
        if rank[1] < 2 || rank[1] % 2 != 0 {
            return Err(Error::Corrupt);
        }
        // Codes of weight w take (1 << w) / 2 entries; lower weights come first.
        let mut start = [0u32; MAX_CODE_BITS as usize + 2];
        let mut at = 0u32;
        for w in 1..=bits as usize {
            start[w] = at;
            at += rank[w] << (w - 1);
        }
        let mut entries = vec![0u16; 1 << bits];
        for (symbol, &w) in weights.iter().enumerate() {
            if w == 0 {
                continue;
            }
            let len = bits + 1 - w as u32;
            let n = 1u32 << (w - 1);
            let from = start[w as usize] as usize;
            entries[from..from + n as usize].fill(symbol as u16 | (len as u16) << 8);
            start[w as usize] += n;
        }
        Ok(Table { bits, entries })
    }

    /// Decodes one stream into `out` (exactly `out.len()` symbols); the stream must end
    /// exactly where the last symbol does.
    fn decode_stream(&self, src: &[u8], out: &mut [u8]) -> Result<()> {
        let mut r = Backward::new(src)?;
        let bits = self.bits;
        let e = &self.entries[..];
        let mut at = 0;
        // Four symbols per refill while the stream holds plenty of bits (four codes take
        // at most 48).
        while at + 4 <= out.len() && r.remaining() >= 64 {
            r.refill();
            for o in &mut out[at..at + 4] {
                let entry = e[r.peek(bits) as usize];
                *o = entry as u8;
                r.consume((entry >> 8) as u32)?;
            }
            at += 4;
        }
        // Then one at a time, up to the stream's start.
        for o in &mut out[at..] {
            r.refill();
            let entry = e[r.peek(bits) as usize];
            *o = entry as u8;
            r.consume((entry >> 8) as u32)?;
        }
        if r.remaining() != 0 {
            return Err(Error::Corrupt);
        }
        Ok(())
    }
}

/// Decodes a Huffman block (tree description, jump table, four streams) into `out`,
/// which has exactly the block's regenerated size.
pub(super) fn decode_block(src: &[u8], out: &mut [u8]) -> Result<()> {
    let (table, used) = read_table(src)?;
    let body = &src[used..];
    decode_four(&table, body, out)
}

fn decode_four(table: &Table, body: &[u8], out: &mut [u8]) -> Result<()> {
    let n = out.len();
    // Four streams need room for their jump table and a byte each; a short block cannot
    // have been split (the writer stores tiny planes raw).
    if body.len() < 10 || n < 4 {
        return Err(Error::Corrupt);
    }
    let l1 = u16::from_le_bytes([body[0], body[1]]) as usize;
    let l2 = u16::from_le_bytes([body[2], body[3]]) as usize;
    let l3 = u16::from_le_bytes([body[4], body[5]]) as usize;
    let streams = &body[6..];
    let l4 = streams
        .len()
        .checked_sub(l1 + l2 + l3)
        .ok_or(Error::Corrupt)?;
    if l1 == 0 || l2 == 0 || l3 == 0 || l4 == 0 {
        return Err(Error::Corrupt);
    }
    let seg = n.div_ceil(4);
    if 3 * seg > n {
        return Err(Error::Corrupt);
    }
    let (s1, rest) = streams.split_at(l1);
    let (s2, rest) = rest.split_at(l2);
    let (s3, s4) = rest.split_at(l3);
    let (o1, rest) = out.split_at_mut(seg);
    let (o2, rest) = rest.split_at_mut(seg);
    let (o3, o4) = rest.split_at_mut(seg);
    table.decode_stream(s1, o1)?;
    table.decode_stream(s2, o2)?;
    table.decode_stream(s3, o3)?;
    table.decode_stream(s4, o4)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn direct_weights_build_a_complete_code() {
        // Symbols 0..4 with weights 4, 3, 2, 0, 1 and the implied last one.
        // total = 8 + 4 + 2 + 0 + 1 = 15 -> 4 bits, rest 1 -> last weight 1.
        let desc = [127 + 5, 0x43, 0x20, 0x10];
        let (t, used) = read_table(&desc).unwrap();
        assert_eq!(used, 4);
        assert_eq!(t.bits, 4);
        let len = |s: u16| t.entries.iter().filter(|&&e| e & 0xff == s).count();
        assert_eq!(
            [len(0), len(1), len(2), len(3), len(4), len(5)],
            [8, 4, 2, 0, 1, 1]
        );
        // Lowest weights first: the two 4-bit codes come first.
        assert_eq!(t.entries[0] & 0xff, 4);
        assert_eq!(t.entries[1] & 0xff, 5);
        assert_eq!(t.entries[15] >> 8, 1);
    }

    #[test]
    fn incomplete_codes_are_refused() {
        // Weights 2 and 2 and 2: total 6, rest 2 -> last weight 2, but then no code of
        // weight 1 exists: refused.
        assert!(read_table(&[127 + 3, 0x22, 0x20]).is_err());
        // A weight above the limit.
        assert!(read_table(&[127 + 1, 0xd0]).is_err());
        // Truncated descriptions.
        assert!(read_table(&[127 + 5, 0x11]).is_err());
        assert!(read_table(&[5, 1, 2]).is_err());
        assert!(read_table(&[]).is_err());
    }
}
