//! Decoded values against the originals when a lossy mode was used (for `bench`): each
//! element must be within the mode's documented bound (docs/FORMAT.md section 3.1), and the
//! largest error is reported.

use zipnn::{DType, Lossy};

use crate::codec::float_bits;

/// The value of one little-endian element of a float dtype.
fn value(dtype: DType, e: &[u8]) -> f64 {
    match dtype {
        DType::Bf16 => f32::from_bits((u16::from_le_bytes([e[0], e[1]]) as u32) << 16) as f64,
        DType::Fp16 => f16_to_f64(u16::from_le_bytes([e[0], e[1]])),
        DType::Fp32 => f32::from_le_bytes([e[0], e[1], e[2], e[3]]) as f64,
        _ => f64::from_le_bytes([e[0], e[1], e[2], e[3], e[4], e[5], e[6], e[7]]),
    }
}

/// IEEE binary16 to f64 (exact).
fn f16_to_f64(h: u16) -> f64 {
    let sign = if h & 0x8000 != 0 { -1.0 } else { 1.0 };
    let e = ((h >> 10) & 0x1f) as i32;
    let f = (h & 0x3ff) as f64;
    sign * match e {
        0 => f * 2f64.powi(-24),
        31 if f == 0.0 => f64::INFINITY,
        31 => f64::NAN,
        _ => (1.0 + f / 1024.0) * 2f64.powi(e - 15),
    }
}

/// The binary exponent of a finite, nonzero f64.
fn exponent(v: f64) -> i32 {
    ((v.to_bits() >> 52) & 0x7ff) as i32 - 1023
}

/// Compares `back` (decoded) with `orig` (the input) for data of `dtype` coded with
/// `lossy`. Without a lossy mode, or for a dtype it does not apply to, the bytes must be
/// equal. Otherwise every finite value must be within the mode's bound (non-finite values
/// and bytes past the last whole element unchanged). Returns the largest error seen:
/// relative for the mantissa mode, absolute for the integer mode; or what is wrong.
pub fn compare(dtype: DType, lossy: Lossy, orig: &[u8], back: &[u8]) -> Result<f64, String> {
    if orig.len() != back.len() {
        return Err(format!(
            "{} bytes decoded, {} expected",
            back.len(),
            orig.len()
        ));
    }
    let first_diff = |a: &[u8], b: &[u8]| a.iter().zip(b).position(|(x, y)| x != y);
    let floats = float_bits(dtype).filter(|_| lossy != Lossy::None);
    let Some((width, m)) = floats else {
        return match first_diff(orig, back) {
            None => Ok(0.0),
            Some(i) => Err(format!("byte {i} differs")),
        };
    };
    let esize = width as usize / 8;
    let body = orig.len() / esize * esize;
    if let Some(i) = first_diff(&orig[body..], &back[body..]) {
        return Err(format!("byte {} differs", body + i));
    }
    // The smallest normal exponent.
    let emin: i32 = match dtype {
        DType::Fp16 => -14,
        DType::Fp64 => -1022,
        _ => -126,
    };
    let half_ulp = |v: f64| {
        let e = if v == 0.0 {
            emin
        } else {
            exponent(v).max(emin)
        };
        2f64.powi(e - m as i32 - 1)
    };
    let mut worst = 0f64;
    let pairs = orig[..body]
        .chunks_exact(esize)
        .zip(back[..body].chunks_exact(esize));
    for (k, (a, b)) in pairs.enumerate() {
        let (x, y) = (value(dtype, a), value(dtype, b));
        if !x.is_finite() {
            if a != b {
                return Err(format!("element {k}: {x} was not kept"));
            }
            continue;
        }
        let err = (x - y).abs();
        let (ok, e) = match lossy {
            Lossy::Mantissa { bits } if x.abs() >= 2f64.powi(emin) => {
                let rel = err / x.abs();
                (rel <= 2f64.powi(-(bits as i32) - 1), rel)
            }
            // Subnormals keep fewer significant bits: an absolute bound.
            Lossy::Mantissa { bits } => (err <= 2f64.powi(emin - bits as i32 - 1), 0.0),
            Lossy::Integer { factor } => {
                let bound = 2f64.powi(-(factor as i32) - 1) + half_ulp(x).max(half_ulp(y));
                (err <= bound, err)
            }
            Lossy::None => (err == 0.0, 0.0),
        };
        if !ok {
            return Err(format!("element {k}: {x} decoded as {y}"));
        }
        worst = worst.max(e);
    }
    Ok(worst)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fp16_values() {
        assert_eq!(f16_to_f64(0x3c00), 1.0);
        assert_eq!(f16_to_f64(0xc000), -2.0);
        assert_eq!(f16_to_f64(0x0001), 2f64.powi(-24));
        assert_eq!(f16_to_f64(0x7c00), f64::INFINITY);
        assert!(f16_to_f64(0x7e00).is_nan());
        assert_eq!(f16_to_f64(0x3555), 0.333251953125);
    }

    #[test]
    fn bounds() {
        let one = 1.0f32.to_le_bytes();
        let near = 1.0625f32.to_le_bytes(); // 2^-4 relative
        let m = |bits| Lossy::Mantissa { bits };
        assert_eq!(compare(DType::Fp32, m(3), &one, &near), Ok(0.0625));
        assert!(compare(DType::Fp32, m(4), &one, &near).is_err());
        assert!(compare(DType::Fp32, Lossy::None, &one, &near).is_err());
        assert_eq!(compare(DType::Int8, m(3), &[1, 2], &[1, 2]), Ok(0.0));
        let i = Lossy::Integer { factor: 3 };
        assert_eq!(compare(DType::Fp32, i, &one, &near), Ok(0.0625));
        let far = 1.125f32.to_le_bytes();
        assert!(compare(DType::Fp32, i, &one, &far).is_err());
    }
}
