//! Opt-in lossy steps applied to the values before the lossless pipeline, and their inverse
//! (docs/FORMAT.md section 3.1). Only whole elements are touched; trailing bytes that do not
//! form an element pass through unchanged.

use std::borrow::Cow;

use half::{bf16, f16};

use crate::options::{DType, Lossy};

/// Applies `lossy` to `src`. Returns the bytes to code and the mode actually applied: an
/// integer mode whose values do not all fit falls back to [`Lossy::None`] (the data is then
/// coded losslessly), as the frame header will record.
pub fn apply(src: &[u8], dtype: DType, lossy: Lossy) -> (Cow<'_, [u8]>, Lossy) {
    match lossy {
        Lossy::None => (Cow::Borrowed(src), Lossy::None),
        Lossy::Mantissa { bits } => {
            let mut v = src.to_vec();
            round_mantissa(&mut v, dtype, bits);
            (Cow::Owned(v), lossy)
        }
        Lossy::Integer { factor } => match to_integers(src, dtype, factor) {
            Some(v) => (Cow::Owned(v), lossy),
            None => (Cow::Borrowed(src), Lossy::None),
        },
    }
}

/// Undoes the coding-side form of `lossy` in place: integers back to values for the integer
/// mode; nothing for the others (a rounded mantissa is already a value of the dtype).
pub fn undo(buf: &mut [u8], dtype: DType, lossy: Lossy) {
    if let Lossy::Integer { factor } = lossy {
        from_integers(buf, dtype, factor);
    }
}

/// Mantissa width of the float dtypes the lossy modes accept.
fn mantissa_bits(dtype: DType) -> u32 {
    match dtype {
        DType::Bf16 => 7,
        DType::Fp16 => 10,
        DType::Fp32 => 23,
        DType::Fp64 => 52,
        _ => 0,
    }
}

/// Rounds one float's bit pattern (`width` bits, `m` mantissa bits) to `keep` mantissa
/// bits, ties to even. NaN and infinity are kept; a finite value that would round up to
/// infinity is truncated instead (it stays the largest value with `keep` bits).
fn round_bits(x: u64, width: u32, m: u32, keep: u32) -> u64 {
    let exp_mask = ((1u64 << (width - 1 - m)) - 1) << m;
    if x & exp_mask == exp_mask {
        return x;
    }
    let drop = m - keep;
    if drop == 0 {
        return x;
    }
    let low = (1u64 << drop) - 1;
    let r = (x + (low >> 1) + ((x >> drop) & 1)) & !low;
    if r & exp_mask == exp_mask {
        x & !low
    } else {
        r
    }
}

/// Keeps `bits` mantissa bits of every whole element, rounding to nearest even.
pub fn round_mantissa(buf: &mut [u8], dtype: DType, bits: u8) {
    let m = mantissa_bits(dtype);
    let keep = bits as u32;
    if m == 0 || keep >= m {
        return;
    }
    match dtype.element_size() {
        2 => buf.chunks_exact_mut(2).for_each(|e| {
            let x = u16::from_le_bytes([e[0], e[1]]) as u64;
            e.copy_from_slice(&(round_bits(x, 16, m, keep) as u16).to_le_bytes());
        }),
        4 => buf.chunks_exact_mut(4).for_each(|e| {
            let x = u32::from_le_bytes([e[0], e[1], e[2], e[3]]) as u64;
            e.copy_from_slice(&(round_bits(x, 32, m, keep) as u32).to_le_bytes());
        }),
        8 => buf.chunks_exact_mut(8).for_each(|e| {
            let mut a = [0u8; 8];
            a.copy_from_slice(e);
            let x = u64::from_le_bytes(a);
            e.copy_from_slice(&round_bits(x, 64, m, keep).to_le_bytes());
        }),
        _ => {}
    }
}

/// Reads element `e` of a float dtype as f64 (exact for every dtype here).
fn value(dtype: DType, e: &[u8]) -> f64 {
    match dtype {
        DType::Bf16 => bf16::from_bits(u16::from_le_bytes([e[0], e[1]])).to_f64(),
        DType::Fp16 => f16::from_bits(u16::from_le_bytes([e[0], e[1]])).to_f64(),
        DType::Fp32 => f32::from_le_bytes([e[0], e[1], e[2], e[3]]) as f64,
        _ => {
            let mut a = [0u8; 8];
            a.copy_from_slice(e);
            f64::from_le_bytes(a)
        }
    }
}

/// The integer mode's forward step: `q = round_half_even(x * 2^factor)` as a signed integer
/// of the element's width, or `None` if any value is not finite or any `q` does not fit.
fn to_integers(src: &[u8], dtype: DType, factor: u8) -> Option<Vec<u8>> {
    let w = dtype.element_size();
    let width = 8 * w as i32;
    let scale = 2f64.powi(factor as i32);
    let max = 2f64.powi(width - 1) - 1.0;
    let mut out = src.to_vec();
    for e in out.chunks_exact_mut(w) {
        let x = value(dtype, e);
        if !x.is_finite() {
            return None;
        }
        // x * 2^factor is exact in f64 for every dtype here except fp64 values whose
        // product leaves f64's range, which the range check then rejects.
        let q = (x * scale).round_ties_even();
        if q.abs() > max {
            return None;
        }
        match w {
            2 => e.copy_from_slice(&(q as i16).to_le_bytes()),
            4 => e.copy_from_slice(&(q as i32).to_le_bytes()),
            _ => e.copy_from_slice(&(q as i64).to_le_bytes()),
        }
    }
    Some(out)
}

/// The integer mode's inverse, in place: `q / 2^factor`, rounded to the dtype (nearest,
/// ties to even).
fn from_integers(buf: &mut [u8], dtype: DType, factor: u8) {
    let inv = 2f64.powi(-(factor as i32));
    match dtype {
        DType::Bf16 | DType::Fp16 => buf.chunks_exact_mut(2).for_each(|e| {
            let q = i16::from_le_bytes([e[0], e[1]]);
            // |q| < 2^15 and factor <= 14: q * 2^-factor is exact in f32.
            let v = q as f32 * inv as f32;
            let bits = if dtype == DType::Bf16 {
                bf16::from_f32(v).to_bits()
            } else {
                f16::from_f32(v).to_bits()
            };
            e.copy_from_slice(&bits.to_le_bytes());
        }),
        DType::Fp32 => buf.chunks_exact_mut(4).for_each(|e| {
            let q = i32::from_le_bytes([e[0], e[1], e[2], e[3]]);
            // q * 2^-factor is exact in f64; the cast to f32 rounds to nearest even.
            e.copy_from_slice(&((q as f64 * inv) as f32).to_le_bytes());
        }),
        DType::Fp64 => buf.chunks_exact_mut(8).for_each(|e| {
            let mut a = [0u8; 8];
            a.copy_from_slice(e);
            // The cast rounds to nearest even; the power-of-two scale is then exact.
            let q = i64::from_le_bytes(a) as f64;
            e.copy_from_slice(&(q * inv).to_le_bytes());
        }),
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mantissa_rounding_is_nearest_even_and_keeps_specials() {
        // bf16 1.0 = 0x3F80; keep 0 bits of 7.
        assert_eq!(round_bits(0x3F80, 16, 7, 0), 0x3F80);
        // 1.5 (0x3FC0) is a tie between 1.0 and 2.0: even mantissa (0) wins -> 2.0 (0x4000).
        assert_eq!(round_bits(0x3FC0, 16, 7, 0), 0x4000);
        // 1.25 rounds down to 1.0; 1.75 up to 2.0.
        assert_eq!(round_bits(0x3FA0, 16, 7, 0), 0x3F80);
        assert_eq!(round_bits(0x3FE0, 16, 7, 0), 0x4000);
        // Infinity and NaN are unchanged.
        assert_eq!(round_bits(0x7F80, 16, 7, 0), 0x7F80);
        assert_eq!(round_bits(0x7FC1, 16, 7, 0), 0x7FC1);
        // The largest finite bf16 would round to infinity: truncated instead.
        assert_eq!(round_bits(0x7F7F, 16, 7, 2), 0x7F60);
        // Sign is kept.
        assert_eq!(round_bits(0xBFC0, 16, 7, 0), 0xC000);
    }

    #[test]
    fn integers_round_trip_within_the_bound() {
        let xs: Vec<f32> = (0..1000).map(|i| ((i as f32) * 0.37).sin() * 3.0).collect();
        let bytes: Vec<u8> = xs.iter().flat_map(|x| x.to_le_bytes()).collect();
        let (q, applied) = apply(&bytes, DType::Fp32, Lossy::Integer { factor: 20 });
        assert_eq!(applied, Lossy::Integer { factor: 20 });
        let mut back = q.into_owned();
        undo(&mut back, DType::Fp32, applied);
        for (x, e) in xs.iter().zip(back.chunks_exact(4)) {
            let y = f32::from_le_bytes([e[0], e[1], e[2], e[3]]);
            assert!(((*x as f64) - (y as f64)).abs() <= 2f64.powi(-21) + 1e-12);
        }
        // Out of range: falls back to lossless.
        let big = 5000.0f32.to_le_bytes();
        let (same, applied) = apply(&big, DType::Fp32, Lossy::Integer { factor: 20 });
        assert_eq!(applied, Lossy::None);
        assert_eq!(&*same, &big);
        let nan = f32::NAN.to_le_bytes();
        assert_eq!(
            apply(&nan, DType::Fp32, Lossy::Integer { factor: 1 }).1,
            Lossy::None
        );
    }
}
