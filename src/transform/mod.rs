//! Per-dtype bit moves and byte grouping, exactly reversible.
//!
//! A chunk of `n` whole elements of `p` bytes becomes `p` planes of `n` bytes each, stored one
//! after another in one buffer: plane `k` is `planes[k * n..(k + 1) * n]`. Plane 0 holds the
//! most significant field (the exponent for floats). The layouts, and the measurements that
//! chose them, are in docs/FORMAT.md ("Transforms") and docs/LAYOUTS.md.
//!
//! | dtype | element bits (msb first) | planes |
//! |---|---|---|
//! | bf16 | `s e8 m7` | `e8`, `s m7` |
//! | fp16 | `s e5 m10` | `e5 m[9:7]`, `m[6:0] s` (sign moved to the lsb) |
//! | fp32 | `s e8 m23` | `e8`, `s m[22:16]`, `m[15:8]`, `m[7:0]` |
//! | fp64 | `s e11 m52` | bytes 7, 6, ..., 0 (no bit move) |
//! | fp8, int8, uint8 | one byte | the byte |
//! | raw with `p` partitions | `p` bytes | bytes `p-1`, ..., 0 of each `p`-byte group |

use crate::options::DType;

/// Splits `src` (whole elements of `planes` bytes each, little-endian) into planes in `out`.
/// `out.len()` must equal `src.len()`, which must be a multiple of `planes`.
pub fn split(dtype: DType, planes: usize, src: &[u8], out: &mut [u8]) {
    debug_assert_eq!(src.len(), out.len());
    debug_assert_eq!(src.len() % planes, 0);
    let n = src.len() / planes;
    match dtype {
        DType::Bf16 => {
            let (p0, p1) = out.split_at_mut(n);
            for ((e, sm), b) in p0.iter_mut().zip(p1.iter_mut()).zip(src.chunks_exact(2)) {
                let v = u16::from_le_bytes([b[0], b[1]]);
                *e = (v >> 7) as u8;
                *sm = ((v >> 8) as u8 & 0x80) | (v as u8 & 0x7F);
            }
        }
        DType::Fp16 => {
            let (p0, p1) = out.split_at_mut(n);
            for ((hi, lo), b) in p0.iter_mut().zip(p1.iter_mut()).zip(src.chunks_exact(2)) {
                let v = u16::from_le_bytes([b[0], b[1]]).rotate_left(1);
                *hi = (v >> 8) as u8;
                *lo = v as u8;
            }
        }
        DType::Fp32 => {
            let (p0, rest) = out.split_at_mut(n);
            let (p1, rest) = rest.split_at_mut(n);
            let (p2, p3) = rest.split_at_mut(n);
            for (i, b) in src.chunks_exact(4).enumerate() {
                let v = u32::from_le_bytes([b[0], b[1], b[2], b[3]]);
                p0[i] = (v >> 23) as u8;
                p1[i] = ((v >> 24) as u8 & 0x80) | ((v >> 16) as u8 & 0x7F);
                p2[i] = (v >> 8) as u8;
                p3[i] = v as u8;
            }
        }
        _ => group(planes, src, out),
    }
}

/// Inverse of [`split`]: rebuilds whole elements in `dst` from the planes in `planes_buf`.
pub fn merge(dtype: DType, planes: usize, planes_buf: &[u8], dst: &mut [u8]) {
    debug_assert_eq!(planes_buf.len(), dst.len());
    debug_assert_eq!(dst.len() % planes, 0);
    let n = dst.len() / planes;
    match dtype {
        DType::Bf16 => {
            let (p0, p1) = planes_buf.split_at(n);
            for ((e, sm), b) in p0.iter().zip(p1.iter()).zip(dst.chunks_exact_mut(2)) {
                let v = ((*sm as u16 & 0x80) << 8) | ((*e as u16) << 7) | (*sm as u16 & 0x7F);
                b.copy_from_slice(&v.to_le_bytes());
            }
        }
        DType::Fp16 => {
            let (p0, p1) = planes_buf.split_at(n);
            for ((hi, lo), b) in p0.iter().zip(p1.iter()).zip(dst.chunks_exact_mut(2)) {
                let v = (((*hi as u16) << 8) | *lo as u16).rotate_right(1);
                b.copy_from_slice(&v.to_le_bytes());
            }
        }
        DType::Fp32 => {
            let (p0, rest) = planes_buf.split_at(n);
            let (p1, rest) = rest.split_at(n);
            let (p2, p3) = rest.split_at(n);
            for (i, b) in dst.chunks_exact_mut(4).enumerate() {
                let (e, sm) = (p0[i] as u32, p1[i] as u32);
                let v = ((sm & 0x80) << 24)
                    | (e << 23)
                    | ((sm & 0x7F) << 16)
                    | ((p2[i] as u32) << 8)
                    | p3[i] as u32;
                b.copy_from_slice(&v.to_le_bytes());
            }
        }
        _ => ungroup(planes, planes_buf, dst),
    }
}

/// Plain byte grouping: plane k holds byte (planes-1-k) of every element (most significant
/// byte first, as for the float layouts).
fn group(planes: usize, src: &[u8], out: &mut [u8]) {
    if planes == 1 {
        out.copy_from_slice(src);
        return;
    }
    let n = src.len() / planes;
    for (i, e) in src.chunks_exact(planes).enumerate() {
        for (k, byte) in e.iter().rev().enumerate() {
            out[k * n + i] = *byte;
        }
    }
}

fn ungroup(planes: usize, planes_buf: &[u8], dst: &mut [u8]) {
    if planes == 1 {
        dst.copy_from_slice(planes_buf);
        return;
    }
    let n = dst.len() / planes;
    for (i, e) in dst.chunks_exact_mut(planes).enumerate() {
        for (k, byte) in e.iter_mut().rev().enumerate() {
            *byte = planes_buf[k * n + i];
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lcg(seed: &mut u64) -> u64 {
        *seed = seed
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        *seed >> 11
    }

    #[test]
    fn every_layout_round_trips() {
        let mut seed = 7;
        for dtype in DType::ALL {
            let parts: &[usize] = if dtype == DType::Raw {
                &[1, 2, 4, 8]
            } else {
                &[0]
            };
            for &p in parts {
                let planes = if dtype == DType::Raw {
                    p
                } else {
                    dtype.element_size()
                };
                for n in [0usize, 1, 2, 3, 17, 1000] {
                    let src: Vec<u8> = (0..n * planes).map(|_| lcg(&mut seed) as u8).collect();
                    let mut pl = vec![0u8; src.len()];
                    split(dtype, planes, &src, &mut pl);
                    let mut back = vec![0u8; src.len()];
                    merge(dtype, planes, &pl, &mut back);
                    assert_eq!(back, src, "{dtype:?} planes={planes} n={n}");
                }
            }
        }
    }

    #[test]
    fn bf16_exponent_lands_in_plane_zero() {
        // 1.0 in bf16 is 0x3F80: sign 0, exponent 127, mantissa 0.
        // -1.5 is 0xBFC0: sign 1, exponent 127, mantissa 0x40.
        let src = [0x80, 0x3F, 0xC0, 0xBF];
        let mut pl = [0u8; 4];
        split(DType::Bf16, 2, &src, &mut pl);
        assert_eq!(pl, [127, 127, 0x00, 0x80 | 0x40]);
    }

    #[test]
    fn fp32_layout_is_e8_sm7_m8_m8() {
        let v: f32 = -1.5; // 0xBFC00000
        let mut pl = [0u8; 4];
        split(DType::Fp32, 4, &v.to_le_bytes(), &mut pl);
        assert_eq!(pl, [127, 0x80 | 0x40, 0, 0]);
    }

    #[test]
    fn fp16_sign_moves_to_lsb() {
        // -1.0 in fp16 is 0xBC00: rotl1 -> 0x7801.
        let src = 0xBC00u16.to_le_bytes();
        let mut pl = [0u8; 2];
        split(DType::Fp16, 2, &src, &mut pl);
        assert_eq!(pl, [0x78, 0x01]);
    }
}
