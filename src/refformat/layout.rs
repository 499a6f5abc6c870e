//! How the reference package lays out the bytes of one chunk: byte `i` goes to plane
//! `i % planes` (plane `k` gets `len / planes` bytes, one more when `k < len % planes`),
//! after a bit move on each whole 4-byte word of the chunk for bf16 and fp32.

/// The bit move applied before the bytes are grouped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum BitMove {
    /// Bytes as they are (fp16, fp8).
    None,
    /// Each 16-bit element `s eeeeeeee mmmmmmm` became `eeeeeeee s mmmmmmm`.
    Bf16,
    /// Each 32-bit element `s eeeeeeee m23` became `eeeeeeee s m23`.
    Fp32,
}

/// Length of plane `k` of a chunk of `len` bytes split into `planes` planes.
pub(super) fn plane_len(len: usize, planes: usize, k: usize) -> usize {
    len / planes + usize::from(k < len % planes)
}

/// Interleaves the planes of one chunk into `out` (the chunk's bytes) and undoes the bit
/// move. `planes[k]` has exactly [`plane_len`] bytes.
pub(super) fn merge(planes: &[&[u8]], bits: BitMove, out: &mut [u8]) {
    match planes.len() {
        1 => out.copy_from_slice(planes[0]),
        2 => {
            let (p0, p1) = (planes[0], planes[1]);
            let mut pairs = out.chunks_exact_mut(2);
            for ((o, &a), &b) in pairs.by_ref().zip(p0).zip(p1) {
                o[0] = a;
                o[1] = b;
            }
            if let [last] = pairs.into_remainder() {
                *last = p0[p0.len() - 1];
            }
        }
        4 => {
            let n = out.len() / 4;
            let (words, tail) = out.split_at_mut(4 * n);
            for (i, o) in words.chunks_exact_mut(4).enumerate() {
                o[0] = planes[0][i];
                o[1] = planes[1][i];
                o[2] = planes[2][i];
                o[3] = planes[3][i];
            }
            for (k, t) in tail.iter_mut().enumerate() {
                *t = planes[k][n];
            }
        }
        p => {
            for (i, o) in out.iter_mut().enumerate() {
                *o = planes[i % p][i / p];
            }
        }
    }
    unmove(bits, out);
}

/// Undoes the bit move on the whole 4-byte words of a chunk (the last 1-3 bytes of a
/// chunk whose length is not a multiple of 4 were stored as they are).
fn unmove(bits: BitMove, out: &mut [u8]) {
    let words = out.chunks_exact_mut(4);
    match bits {
        BitMove::None => {}
        BitMove::Bf16 => {
            for w in words {
                for h in w.chunks_exact_mut(2) {
                    let v = u16::from_le_bytes([h[0], h[1]]);
                    let exp = v >> 8;
                    let sign = (v >> 7) & 1;
                    let o = sign << 15 | exp << 7 | (v & 0x7f);
                    h.copy_from_slice(&o.to_le_bytes());
                }
            }
        }
        BitMove::Fp32 => {
            for w in words {
                let v = u32::from_le_bytes([w[0], w[1], w[2], w[3]]);
                let exp = v >> 24;
                let sign = (v >> 23) & 1;
                let o = sign << 31 | exp << 23 | (v & 0x7f_ffff);
                w.copy_from_slice(&o.to_le_bytes());
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plane_lengths_add_up() {
        for len in 0..40 {
            for planes in [1, 2, 4] {
                let sum: usize = (0..planes).map(|k| plane_len(len, planes, k)).sum();
                assert_eq!(sum, len);
            }
        }
        assert_eq!(plane_len(9, 4, 0), 3);
        assert_eq!(plane_len(9, 4, 1), 2);
        assert_eq!(plane_len(7, 2, 0), 4);
    }

    #[test]
    fn bf16_words_and_tail() {
        // The reference stores bf16 1.0, -1.0, 2.0, 0.0, 0.5 as these planes (the last
        // element is past the last whole word and stays as it was).
        let p0 = [0x00, 0x80, 0x00, 0x00, 0x00];
        let p1 = [0x7f, 0x7f, 0x80, 0x00, 0x3f];
        let mut out = [0u8; 10];
        merge(&[&p0, &p1], BitMove::Bf16, &mut out);
        assert_eq!(
            out,
            [0x80, 0x3f, 0x80, 0xbf, 0x00, 0x40, 0x00, 0x00, 0x00, 0x3f]
        );
    }

    #[test]
    fn fp32_words_and_tail() {
        // 1.0 and -2.5 as the reference moves their bits, plus one tail byte.
        let planes: [&[u8]; 4] = [
            &[0x00, 0x00, 0x66],
            &[0x00, 0x00],
            &[0x00, 0xa0],
            &[0x7f, 0x80],
        ];
        let mut out = [0u8; 9];
        merge(&planes, BitMove::Fp32, &mut out);
        assert_eq!(out, [0, 0, 0x80, 0x3f, 0, 0, 0x20, 0xc0, 0x66]);
    }
}
