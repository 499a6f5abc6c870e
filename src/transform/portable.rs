//! The transforms in plain Rust: the reference the SIMD paths are tested against, and the
//! path for dtypes and processors they do not cover.

use crate::options::DType;

/// [`split`](super::split) without SIMD (also what the SIMD paths are tested against).
pub fn split_portable(dtype: DType, planes: usize, src: &[u8], out: &mut [u8]) {
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

/// [`merge_planes`](super::merge_planes) without SIMD (also what the SIMD paths are tested against).
pub fn merge_portable(dtype: DType, planes: &[&[u8]], dst: &mut [u8]) {
    match (dtype, planes) {
        (DType::Bf16, &[p0, p1]) => {
            for ((e, sm), b) in p0.iter().zip(p1.iter()).zip(dst.chunks_exact_mut(2)) {
                let v = ((*sm as u16 & 0x80) << 8) | ((*e as u16) << 7) | (*sm as u16 & 0x7F);
                b.copy_from_slice(&v.to_le_bytes());
            }
        }
        (DType::Fp16, &[p0, p1]) => {
            for ((hi, lo), b) in p0.iter().zip(p1.iter()).zip(dst.chunks_exact_mut(2)) {
                let v = (((*hi as u16) << 8) | *lo as u16).rotate_right(1);
                b.copy_from_slice(&v.to_le_bytes());
            }
        }
        (DType::Fp32, &[p0, p1, p2, p3]) => {
            let it = p0.iter().zip(p1).zip(p2.iter().zip(p3));
            for (((e, sm), (m2, m3)), b) in it.zip(dst.chunks_exact_mut(4)) {
                let (e, sm) = (*e as u32, *sm as u32);
                let v = ((sm & 0x80) << 24)
                    | (e << 23)
                    | ((sm & 0x7F) << 16)
                    | ((*m2 as u32) << 8)
                    | *m3 as u32;
                b.copy_from_slice(&v.to_le_bytes());
            }
        }
        _ => ungroup(planes, dst),
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

fn ungroup(planes: &[&[u8]], dst: &mut [u8]) {
    if let [p] = planes {
        dst.copy_from_slice(p);
        return;
    }
    let np = planes.len();
    for (i, e) in dst.chunks_exact_mut(np).enumerate() {
        for (k, byte) in e.iter_mut().rev().enumerate() {
            *byte = planes[k][i];
        }
    }
}
