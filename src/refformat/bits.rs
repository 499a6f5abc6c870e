//! Bit readers for the entropy blocks of reference frames (RFC 8878 section 4.1): a forward,
//! least-significant-bit-first reader for FSE table descriptions, and a backward reader for
//! the bitstreams that are written forward and read from their end.

use crate::error::{Error, Result};

/// Reads a bit-packed header from the front of a byte slice, least significant bit first.
/// Reading past the end gives zero bits and is remembered (see [`Forward::overrun`]).
pub(super) struct Forward<'a> {
    data: &'a [u8],
    /// Bits consumed from the start.
    pos: usize,
}

impl<'a> Forward<'a> {
    pub(super) fn new(data: &'a [u8]) -> Self {
        Forward { data, pos: 0 }
    }

    /// The next `n` (at most 32) bits, without consuming them.
    pub(super) fn peek(&self, n: u32) -> u32 {
        debug_assert!(n <= 32);
        let mut v: u64 = 0;
        let first = self.pos / 8;
        for k in 0..5 {
            if let Some(&b) = self.data.get(first + k) {
                v |= (b as u64) << (8 * k);
            }
        }
        ((v >> (self.pos % 8)) & ((1u64 << n) - 1)) as u32
    }

    pub(super) fn skip(&mut self, n: u32) {
        self.pos += n as usize;
    }

    /// Whether more bits were consumed than the slice holds.
    pub(super) fn overrun(&self) -> bool {
        self.pos > self.data.len() * 8
    }

    /// Bytes touched so far (a partly read byte counts whole).
    pub(super) fn bytes_used(&self) -> usize {
        self.pos.div_ceil(8)
    }
}

/// Reads a backward bitstream: the writer's last byte holds a 1 bit above the last written
/// bit, and reading starts just below that marker and moves towards the first byte. Values
/// are read most significant bit first. Bits beyond the start read as zero; `remaining`
/// says how many real bits are left, so a decoder can tell an exact end from an overrun.
pub(super) struct Backward<'a> {
    data: &'a [u8],
    /// Real bits not yet consumed: bits `0..remaining` of the stream taken as one
    /// little-endian integer.
    remaining: usize,
    /// The 64 bits starting at bit `8 * base`, valid when `base + 8 <= data.len()`;
    /// otherwise the whole (short) stream, zero-extended.
    container: u64,
    base: usize,
}

impl<'a> Backward<'a> {
    /// Starts a reader; the last byte must hold the end marker (a zero last byte, or an
    /// empty stream, is corrupt).
    pub(super) fn new(data: &'a [u8]) -> Result<Self> {
        let last = *data.last().ok_or(Error::Corrupt)?;
        if last == 0 {
            return Err(Error::Corrupt);
        }
        let marker = 7 - last.leading_zeros() as usize;
        let remaining = (data.len() - 1) * 8 + marker;
        let mut r = Backward {
            data,
            remaining,
            container: 0,
            base: 0,
        };
        r.load();
        Ok(r)
    }

    /// Loads the container so that it holds the highest unread bits (at least 57 of them
    /// when that many remain).
    #[inline]
    fn load(&mut self) {
        if self.data.len() >= 8 {
            let top = self.remaining.saturating_sub(64).div_ceil(8);
            let base = top.min(self.data.len() - 8);
            let mut a = [0u8; 8];
            a.copy_from_slice(&self.data[base..base + 8]);
            self.container = u64::from_le_bytes(a);
            self.base = base;
        } else {
            let mut a = [0u8; 8];
            a[..self.data.len()].copy_from_slice(self.data);
            self.container = u64::from_le_bytes(a);
            self.base = 0;
        }
    }

    /// Real bits left to read.
    #[inline]
    pub(super) fn remaining(&self) -> usize {
        self.remaining
    }

    /// Refills the container when fewer than 57 unread bits are in it.
    #[inline]
    pub(super) fn refill(&mut self) {
        if self.remaining - 8 * self.base < 57 && self.base > 0 {
            self.load();
        }
    }

    /// The next `n` (1..=56) bits, most significant first, zero-filled past the start.
    /// The caller has refilled so that the container holds them (or the stream start is
    /// within them).
    #[inline]
    pub(super) fn peek(&self, n: u32) -> u32 {
        let have = self.remaining - 8 * self.base;
        let mask = (1u64 << n) - 1;
        if have >= n as usize {
            ((self.container >> (have - n as usize)) & mask) as u32
        } else {
            // Only happens at the start of the stream (base is 0): pad with zeros.
            ((self.container << (n as usize - have)) & mask) as u32
        }
    }

    /// Consumes `n` bits; reading past the start is an error.
    #[inline]
    pub(super) fn consume(&mut self, n: u32) -> Result<()> {
        self.remaining = self
            .remaining
            .checked_sub(n as usize)
            .ok_or(Error::Corrupt)?;
        Ok(())
    }

    /// Reads `n` (0..=32) bits. Past the start the missing bits read as zero and the result
    /// says `false` (the stream overran), as the FSE weight decoder needs to know.
    pub(super) fn read_or_overrun(&mut self, n: u32) -> (u32, bool) {
        if n == 0 {
            return (0, true);
        }
        self.refill();
        let v = self.peek(n);
        if (n as usize) <= self.remaining {
            self.remaining -= n as usize;
            (v, true)
        } else {
            self.remaining = 0;
            (v, false)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn forward_reads_lsb_first_and_notes_overrun() {
        let mut r = Forward::new(&[0b1010_0110, 0xff]);
        assert_eq!(r.peek(3), 0b110);
        r.skip(3);
        assert_eq!(r.peek(5), 0b10100);
        r.skip(5);
        assert_eq!(r.peek(12), 0xff);
        assert_eq!(r.bytes_used(), 1);
        r.skip(9);
        assert!(r.overrun());
    }

    #[test]
    fn backward_reads_from_the_marker_down() {
        // Bits written: 101 then 0011, then the marker: byte = 1_0011_101? Written forward
        // LSB first, so the first value sits lowest: 0b1_0011_101.
        let data = [0b1001_1101u8];
        let mut r = Backward::new(&data).unwrap();
        assert_eq!(r.remaining(), 7);
        assert_eq!(r.peek(4), 0b0011);
        r.consume(4).unwrap();
        assert_eq!(r.peek(3), 0b101);
        r.consume(3).unwrap();
        assert_eq!(r.remaining(), 0);
        assert_eq!(r.consume(1), Err(Error::Corrupt));
        assert!(Backward::new(&[0x12, 0]).is_err());
        assert!(Backward::new(&[]).is_err());
    }

    #[test]
    fn backward_long_stream_matches_bit_by_bit() {
        let data: Vec<u8> = (0..40u32).map(|i| (i * 37 + 11) as u8 | 0x80).collect();
        let total = (data.len() - 1) * 8 + 7;
        let bit = |i: usize| (data[i / 8] >> (i % 8)) & 1;
        let mut r = Backward::new(&data).unwrap();
        let mut pos = total;
        let mut n = 1;
        while pos > 0 {
            let k = n.min(pos as u32);
            r.refill();
            let v = r.peek(k);
            let mut want = 0u32;
            for j in 0..k as usize {
                want = (want << 1) | bit(pos - 1 - j) as u32;
            }
            assert_eq!(v, want, "at {pos}");
            r.consume(k).unwrap();
            pos -= k as usize;
            n = n % 13 + 1;
        }
        assert_eq!(r.remaining(), 0);
    }
}
