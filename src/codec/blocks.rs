//! Codec 8, Huffman in blocks: a plane cut into blocks of [`BLOCK`] bytes, each coded on its
//! own (a codec 2 payload with its own table, a run, or its bytes as they are), behind a table
//! of the blocks' sizes (docs/FORMAT.md section 7.6).
//!
//! It lets a plane-chunk be long (so that zstd, measured on the same plane, sees repeats far
//! apart) without giving up the local adaptivity of short chunks: one Huffman table for
//! 2 MiB of packed 4-bit GGUF payload codes to 100.0% of raw, a table per 256 KiB to 99.44%.

use super::histogram::{histogram, Histogram};
use super::huffman::{self, Plan};
use crate::error::{Error, Result};

/// Bytes per block (the last block of a plane may be shorter).
pub const BLOCK: usize = 256 * 1024;
/// Bytes of one entry of the size table (u32).
const ENTRY: usize = 4;

/// How one block is coded.
enum Kind {
    Raw,
    Run(u8),
    Huffman(Box<Plan>),
}

/// A coding of a whole plane in blocks: what [`Blocks::plan`] found, kept so that
/// [`Blocks::encode_into`] codes each block once.
pub(crate) struct Blocks {
    kinds: Vec<Kind>,
    /// The payload's exact size: the size table plus every block's payload.
    pub size: usize,
}

/// The number of blocks of a plane of `n` bytes.
fn block_count(n: usize) -> usize {
    n.div_ceil(BLOCK)
}

/// A block of `len` bytes keeps its Huffman payload only where that saves at least
/// `len / 256 + 2` bytes (the rule of a main plane at the default level); else it is raw.
fn block_limit(len: usize) -> usize {
    len.saturating_sub(len / 256 + 2)
}

impl Blocks {
    /// Plans the coding of `plane` block by block, and returns it with the histogram of the
    /// whole plane (the sum of the blocks').
    pub fn plan(plane: &[u8]) -> (Blocks, Histogram) {
        let mut total = [0u32; 256];
        let mut kinds = Vec::with_capacity(block_count(plane.len()));
        let mut size = ENTRY * block_count(plane.len());
        for block in plane.chunks(BLOCK) {
            let h = histogram(block);
            for (t, &c) in total.iter_mut().zip(h.iter()) {
                *t += c;
            }
            let kind = if h[block[0] as usize] as usize == block.len() {
                Kind::Run(block[0])
            } else {
                match Plan::new(&h) {
                    Some(p) if p.size < block_limit(block.len()) => Kind::Huffman(Box::new(p)),
                    _ => Kind::Raw,
                }
            };
            size += match &kind {
                Kind::Raw => block.len(),
                Kind::Run(_) => 1,
                Kind::Huffman(p) => p.size,
            };
            kinds.push(kind);
        }
        (Blocks { kinds, size }, total)
    }

    /// Writes the payload of `plane` (the plane this was planned for) at the start of
    /// `out`, which must hold at least `self.size + 8` bytes (the Huffman writer may store
    /// up to 8 bytes past its payload); returns `self.size`.
    pub fn encode_into(&self, plane: &[u8], out: &mut [u8]) -> usize {
        let table = ENTRY * self.kinds.len();
        let mut at = table;
        for (i, (block, kind)) in plane.chunks(BLOCK).zip(&self.kinds).enumerate() {
            let size = match kind {
                Kind::Raw => {
                    out[at..at + block.len()].copy_from_slice(block);
                    block.len()
                }
                Kind::Run(b) => {
                    out[at] = *b;
                    1
                }
                Kind::Huffman(p) => huffman::encode_into(block, p, &mut out[at..]),
            };
            out[ENTRY * i..ENTRY * (i + 1)].copy_from_slice(&(size as u32).to_le_bytes());
            at += size;
        }
        debug_assert_eq!(at, self.size);
        at
    }
}

/// Decodes a codec 8 payload into `dst`, whose length is the plane's. Every size in the
/// table must fit its block (its length for a raw block, 1 for a run, else at least 2 and
/// below the block's length, a codec 2 payload), and the blocks' payloads must fill the rest
/// of the payload exactly; else `Corrupt`.
pub fn decode(payload: &[u8], dst: &mut [u8]) -> Result<()> {
    let blocks = block_count(dst.len());
    let table_len = ENTRY * blocks;
    if payload.len() < table_len {
        return Err(Error::Corrupt);
    }
    let (table, mut rest) = payload.split_at(table_len);
    for (entry, block) in table.chunks_exact(ENTRY).zip(dst.chunks_mut(BLOCK)) {
        let size = u32::from_le_bytes(entry.try_into().unwrap()) as usize;
        if size == 0 || size > block.len() || size > rest.len() {
            return Err(Error::Corrupt);
        }
        let (coded, next) = rest.split_at(size);
        if size == block.len() {
            block.copy_from_slice(coded);
        } else if size == 1 {
            block.fill(coded[0]);
        } else {
            huffman::decode(coded, block)?;
        }
        rest = next;
    }
    if rest.is_empty() {
        Ok(())
    } else {
        Err(Error::Corrupt)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Bytes whose statistics change every block: block `k` draws from 16 values starting
    /// at `16 * k`, skewed; then a run and a random stretch.
    fn shifting(n: usize) -> Vec<u8> {
        let mut seed = 0x9E37_79B9_7F4A_7C15u64;
        (0..n)
            .map(|i| {
                let s = crate::test_rng::step(&mut seed);
                let k = i / BLOCK;
                match k % 4 {
                    2 => 7,
                    3 => s as u8,
                    _ => (16 * k as u64 + (s % 4) * (s % 5 + 1) % 16) as u8,
                }
            })
            .collect()
    }

    fn encode(plane: &[u8]) -> Vec<u8> {
        let (b, h) = Blocks::plan(plane);
        assert_eq!(h, histogram(plane));
        let mut out = vec![0u8; b.size + 8];
        assert_eq!(b.encode_into(plane, &mut out), b.size);
        out.truncate(b.size);
        out
    }

    #[test]
    fn round_trips_with_every_kind_of_block() {
        for n in [1, 2, 1000, BLOCK, BLOCK + 1, 4 * BLOCK + 77] {
            let plane = shifting(n);
            let payload = encode(&plane);
            let mut back = vec![0u8; n];
            decode(&payload, &mut back).unwrap();
            assert!(back == plane, "{n}");
        }
        // Every kind occurs: Huffman, run, raw.
        let payload = encode(&shifting(4 * BLOCK));
        let sizes: Vec<u32> = payload[..16]
            .chunks(4)
            .map(|e| u32::from_le_bytes(e.try_into().unwrap()))
            .collect();
        assert!(sizes[0] > 1 && (sizes[0] as usize) < BLOCK / 2, "{sizes:?}");
        assert_eq!(&sizes[2..], &[1, BLOCK as u32]);
    }

    #[test]
    fn a_table_per_block_beats_one_table() {
        let plane = shifting(2 * BLOCK);
        let one = Plan::new(&histogram(&plane)).unwrap().size;
        assert!(encode(&plane).len() < one - one / 10);
    }

    #[test]
    fn damaged_payloads_are_errors_never_panics() {
        let plane = shifting(4 * BLOCK + 500);
        let good = encode(&plane);
        let mut dst = vec![0u8; plane.len()];
        // Every truncation, every extension.
        for cut in (0..good.len()).step_by(4099).chain([good.len() - 1]) {
            assert_eq!(decode(&good[..cut], &mut dst), Err(Error::Corrupt), "{cut}");
        }
        let mut longer = good.clone();
        longer.push(0);
        assert_eq!(decode(&longer, &mut dst), Err(Error::Corrupt));
        // Sizes out of range: zero, past the block, past the payload, a run size for a raw
        // block.
        for (entry, value) in [(0, 0u32), (0, BLOCK as u32 + 1), (4, u32::MAX), (3, 1)] {
            let mut bad = good.clone();
            bad[4 * entry..4 * entry + 4].copy_from_slice(&value.to_le_bytes());
            assert_eq!(
                decode(&bad, &mut dst),
                Err(Error::Corrupt),
                "{entry} {value}"
            );
        }
        // The wrong plane length for the payload.
        let mut short = vec![0u8; plane.len() - 1];
        assert!(decode(&good, &mut short).is_err());
        // Flips anywhere: an error or bytes of the right length, never a panic.
        let mut s = 7u64;
        for _ in 0..2000 {
            s = s
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            let mut bad = good.clone();
            let at = (s >> 33) as usize % bad.len();
            bad[at] ^= 1 << ((s >> 20) % 8);
            let _ = decode(&bad, &mut dst);
        }
        decode(&good, &mut dst).unwrap();
        assert!(dst == plane);
    }
}
