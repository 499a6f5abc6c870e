//! Test data shared by the integration tests: deterministic generators, no files.
#![allow(dead_code)]

use zipnn::DType;

#[path = "../../src/test_rng.rs"]
mod test_rng;
pub use test_rng::Rng;

/// Kinds of data the round-trip tests run on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// Weights-like: N(0, 0.02).
    Gaussian,
    /// Uniform random bytes.
    Random,
    /// All zero bytes.
    Zero,
    /// NaN, infinities, denormals, signed zeros, mixed with Gaussian values.
    Special,
    /// Small integers with repeats (LZ-friendly).
    Pattern,
}

pub const KINDS: [Kind; 5] = [
    Kind::Gaussian,
    Kind::Random,
    Kind::Zero,
    Kind::Special,
    Kind::Pattern,
];

fn f32_to_bf16(x: f32) -> u16 {
    (x.to_bits() >> 16) as u16
}

fn f32_to_f16(x: f32) -> u16 {
    // Truncating conversion, enough for test data (keeps NaN a NaN, infinities infinite).
    let b = x.to_bits();
    let sign = ((b >> 16) & 0x8000) as u16;
    let exp = ((b >> 23) & 0xFF) as i32;
    let man = b & 0x7F_FFFF;
    if exp == 0xFF {
        return sign | 0x7C00 | if man != 0 { 0x200 } else { 0 };
    }
    let e = exp - 127 + 15;
    if e >= 0x1F {
        sign | 0x7C00
    } else if e <= 0 {
        if e < -10 {
            sign
        } else {
            let m = (man | 0x80_0000) >> (14 - e);
            sign | m as u16
        }
    } else {
        sign | ((e as u16) << 10) | (man >> 13) as u16
    }
}

fn special_f64(i: usize, g: f64) -> f64 {
    match i % 9 {
        0 => f64::NAN,
        1 => f64::INFINITY,
        2 => f64::NEG_INFINITY,
        3 => f64::MIN_POSITIVE / 3.0, // denormal
        4 => -0.0,
        5 => f64::from_bits(1), // smallest denormal
        _ => g,
    }
}

/// `n` bytes of `kind` data laid out as `dtype` elements (a partial element at the end if
/// `n` is not a multiple of the element size).
pub fn make(dtype: DType, kind: Kind, n: usize, seed: u64) -> Vec<u8> {
    let mut r = Rng(seed | 1);
    let esize = dtype.element_size();
    let mut out = Vec::with_capacity(n + 8);
    let mut i = 0usize;
    while out.len() < n {
        let g = r.gauss() * 0.02;
        let v = match kind {
            Kind::Gaussian => g,
            Kind::Special => {
                let s = special_f64(i, g);
                // Denormals of the narrow types, too.
                if i % 9 == 7 {
                    1e-41
                } else if i % 9 == 8 {
                    6e-8
                } else {
                    s
                }
            }
            _ => 0.0,
        };
        i += 1;
        match kind {
            Kind::Random => out.extend_from_slice(&r.next().to_le_bytes()[..esize]),
            Kind::Zero => out.resize(out.len() + esize, 0),
            Kind::Pattern => {
                let b = ((i / 7) % 13) as u8;
                out.resize(out.len() + esize, b)
            }
            Kind::Gaussian | Kind::Special => match dtype {
                DType::Bf16 => out.extend_from_slice(&f32_to_bf16(v as f32).to_le_bytes()),
                DType::Fp16 => out.extend_from_slice(&f32_to_f16(v as f32).to_le_bytes()),
                DType::Fp32 => out.extend_from_slice(&(v as f32).to_le_bytes()),
                DType::Fp64 => out.extend_from_slice(&v.to_le_bytes()),
                DType::Fp8E4M3 | DType::Fp8E5M2 => {
                    // Top byte of the fp16/bf16 bit pattern: a plausible 8-bit float.
                    let h = if dtype == DType::Fp8E5M2 {
                        f32_to_f16(v as f32)
                    } else {
                        f32_to_bf16(v as f32)
                    };
                    out.push((h >> 8) as u8)
                }
                DType::Int8 | DType::Uint8 | DType::Raw => {
                    out.push((v * 2000.0).clamp(-128.0, 127.0) as i8 as u8)
                }
            },
        }
    }
    out.truncate(n);
    out
}

/// Builds a safetensors file from (name, dtype string, shape, bytes), padding the header
/// with spaces to a multiple of 8 like the reference writer.
pub fn build_safetensors(
    tensors: &[(&str, &str, Vec<u64>, Vec<u8>)],
    metadata: Option<&str>,
) -> Vec<u8> {
    let mut json = String::from("{");
    if let Some(m) = metadata {
        json += &format!("\"__metadata__\":{m}");
    }
    let mut off = 0usize;
    for (i, (name, dtype, shape, bytes)) in tensors.iter().enumerate() {
        let shape: Vec<String> = shape.iter().map(|d| d.to_string()).collect();
        json += &format!(
            "{}\"{name}\":{{\"dtype\":\"{dtype}\",\"shape\":[{}],\"data_offsets\":[{off},{}]}}",
            if i > 0 || metadata.is_some() { "," } else { "" },
            shape.join(","),
            off + bytes.len()
        );
        off += bytes.len();
    }
    json += "}";
    while json.len() % 8 != 0 {
        json.push(' ');
    }
    let mut f = (json.len() as u64).to_le_bytes().to_vec();
    f.extend_from_slice(json.as_bytes());
    for (_, _, _, b) in tensors {
        f.extend_from_slice(b);
    }
    f
}
