//! Delta against a base of the same length: the frame codes `input XOR base` and records
//! the base's XXH3-64, so a different base is refused rather than silently misapplied
//! (docs/FORMAT.md section 3.2).

use crate::error::{Error, Result};
use crate::frame::checksum;

/// The automatic chunk size of a delta frame at the default level (at least; one-byte
/// dtypes keep their 2 MiB). The difference from a base is mostly zero bytes, coded sparse
/// (codec 9) in few symbols, where the per-chunk costs (two Huffman tables per sparse
/// plane) weigh more than in a plain frame: MiniLM bf16 fine-tune delta archive, one
/// thread, 256 KiB -> 1 MiB chunks: decompress 2284 -> 2671 MB/s, 8 877 069 -> 8 835 224
/// bytes (2 MiB: 2672 MB/s, 8 830 751 bytes).
pub(crate) const CHUNK_SIZE: usize = 1 << 20;

/// The hash a delta frame records for its base.
pub fn base_hash(base: &[u8]) -> u64 {
    checksum(base)
}

/// `dst ^= base`, element-wise over equal lengths.
pub fn xor_in_place(dst: &mut [u8], base: &[u8]) {
    debug_assert_eq!(dst.len(), base.len());
    let mut d = dst.chunks_exact_mut(8);
    let mut b = base.chunks_exact(8);
    for (x, y) in (&mut d).zip(&mut b) {
        let v = u64::from_ne_bytes(x[..8].try_into().unwrap_or([0; 8]))
            ^ u64::from_ne_bytes(y.try_into().unwrap_or([0; 8]));
        x.copy_from_slice(&v.to_ne_bytes());
    }
    for (x, y) in d.into_remainder().iter_mut().zip(b.remainder()) {
        *x ^= y;
    }
}

/// Checks that `base` is the one a frame with `hash` over `len` bytes was made against.
pub fn check_base(base: &[u8], len: u64, hash: u64) -> Result<()> {
    if base.len() as u64 != len || base_hash(base) != hash {
        return Err(Error::BaseMismatch);
    }
    Ok(())
}

/// `dst = a ^ b`, element-wise over equal lengths: the last step of decoding a delta chunk,
/// from its decoded difference `a` (in the caches) and the base `b` straight into the
/// output, which is written once. With `stream` (and AVX2), `dst` is written with
/// non-temporal stores: an output too large for the caches then costs no read of its
/// lines before they are written.
pub fn xor_to(dst: &mut [u8], a: &[u8], b: &[u8], stream: bool) {
    assert!(a.len() == dst.len() && b.len() == dst.len());
    #[cfg(target_arch = "x86_64")]
    {
        if std::is_x86_feature_detected!("avx2") {
            // SAFETY: the CPU supports AVX2 (checked just above); the lengths are equal.
            unsafe { xor_to_avx2(dst, a, b, stream) };
            return;
        }
    }
    let _ = stream;
    xor_to_portable(dst, a, b);
}

/// [`xor_to`] eight bytes at a time.
fn xor_to_portable(dst: &mut [u8], a: &[u8], b: &[u8]) {
    let mut d = dst.chunks_exact_mut(8);
    let (mut x, mut y) = (a.chunks_exact(8), b.chunks_exact(8));
    for ((o, p), q) in (&mut d).zip(&mut x).zip(&mut y) {
        let v = u64::from_ne_bytes(p.try_into().unwrap_or([0; 8]))
            ^ u64::from_ne_bytes(q.try_into().unwrap_or([0; 8]));
        o.copy_from_slice(&v.to_ne_bytes());
    }
    let rest = d
        .into_remainder()
        .iter_mut()
        .zip(x.remainder())
        .zip(y.remainder());
    for ((o, p), q) in rest {
        *o = p ^ q;
    }
}

/// [`xor_to`] with 32-byte vectors, non-temporal stores from the first 32-byte aligned byte
/// of `dst` when `stream` (then a store fence).
///
/// # Safety
/// The CPU must support AVX2; the three slices have the same length.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
unsafe fn xor_to_avx2(dst: &mut [u8], a: &[u8], b: &[u8], stream: bool) {
    use std::arch::x86_64::*;
    let len = dst.len();
    let head = if stream {
        ((dst.as_ptr() as usize).wrapping_neg() % 32).min(len)
    } else {
        0
    };
    xor_to_portable(&mut dst[..head], &a[..head], &b[..head]);
    let blocks = (len - head) / 32;
    let (pa, pb, pd) = (a.as_ptr(), b.as_ptr(), dst.as_mut_ptr());
    for i in 0..blocks {
        let at = head + 32 * i;
        // SAFETY: at + 32 <= head + 32 * blocks <= len for all three slices; with `stream`,
        // `pd + at` is 32-byte aligned (`head` aligns it).
        unsafe {
            let v = _mm256_xor_si256(
                _mm256_loadu_si256(pa.add(at).cast()),
                _mm256_loadu_si256(pb.add(at).cast()),
            );
            if stream {
                _mm256_stream_si256(pd.add(at).cast(), v);
            } else {
                _mm256_storeu_si256(pd.add(at).cast(), v);
            }
        }
    }
    if stream {
        // Order the non-temporal stores before anything that follows.
        _mm_sfence();
    }
    let done = head + 32 * blocks;
    xor_to_portable(&mut dst[done..], &a[done..], &b[done..]);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn xor_to_is_xor_in_place_at_every_length_and_alignment() {
        let a: Vec<u8> = (0..400u32).map(|i| (i * 37 + 11) as u8).collect();
        let b: Vec<u8> = (0..400u32).map(|i| (i * 101 + 3) as u8).collect();
        for len in [0usize, 1, 7, 8, 31, 32, 33, 64, 95, 200, 333] {
            for off in 0..33 {
                let mut want = a[1..1 + len].to_vec();
                xor_in_place(&mut want, &b[2..2 + len]);
                for stream in [false, true] {
                    let mut dst = vec![0xA5u8; len + off + 1];
                    xor_to(
                        &mut dst[off..off + len],
                        &a[1..1 + len],
                        &b[2..2 + len],
                        stream,
                    );
                    assert_eq!(&dst[off..off + len], &want[..], "len={len} +{off} {stream}");
                    assert!(dst[..off].iter().all(|&x| x == 0xA5));
                    assert_eq!(dst[off + len], 0xA5);
                }
            }
        }
    }
}
