//! Delta frames (against a base of the same length) and the lossy modes: exact round trips
//! with the right base, clear errors without it or with another, and the documented error
//! bounds of each lossy mode on Gaussian and real-shaped data.

mod common;

use common::{make, Kind, Rng};
use zipnn::{
    compress, compress_delta, decompress, decompress_chunk, decompress_chunk_delta,
    decompress_delta, decompress_delta_into_with, frame_info, verify, DType, Error, Lossy, Options,
};

const FLOATS: [DType; 4] = [DType::Bf16, DType::Fp16, DType::Fp32, DType::Fp64];

/// A "fine-tune" of `base`: a small random nudge to the low mantissa byte of a third of
/// the elements.
fn nudge(base: &[u8], esize: usize, seed: u64) -> Vec<u8> {
    let mut r = Rng(seed | 1);
    let mut v = base.to_vec();
    for e in v.chunks_exact_mut(esize) {
        if r.next() % 3 == 0 {
            e[0] ^= (r.next() % 4) as u8;
        }
    }
    v
}

#[test]
fn delta_round_trips_and_shrinks_every_dtype() {
    for dtype in DType::ALL {
        let esize = dtype.element_size();
        let base = make(dtype, Kind::Gaussian, 400_003, 11);
        let ft = nudge(&base, esize, 12);
        let opts = Options {
            chunk_size: 16 * 1024 * esize as u32,
            ..Options::new(dtype)
        };
        let plain = compress(&ft, &opts).unwrap();
        let delta = compress_delta(&ft, &base, &opts).unwrap();
        assert!(
            delta.len() < plain.len() / 2,
            "{dtype:?}: {} vs {}",
            delta.len(),
            plain.len()
        );
        assert_eq!(decompress_delta(&delta, &base).unwrap(), ft, "{dtype:?}");
        let info = frame_info(&delta).unwrap();
        assert_eq!(info.base_hash, Some(zipnn::frame::checksum(&base)));
        assert_eq!(
            info.flags & zipnn::frame::FLAG_DELTA,
            zipnn::frame::FLAG_DELTA
        );
        assert!(verify(&delta).is_ok());
        // Chunks decode alone with the base.
        let cs = opts.chunk_size as usize;
        let mut c = vec![0u8; cs];
        let n = decompress_chunk_delta(&delta, &base, 1, &mut c).unwrap();
        assert_eq!(&c[..n], &ft[cs..cs + n], "{dtype:?}");
        assert_eq!(
            decompress_chunk(&delta, 1, &mut c),
            Err(Error::BaseRequired)
        );
        // A plain frame ignores a base it does not need.
        assert_eq!(decompress_delta(&plain, &base).unwrap(), ft);
    }
}

#[test]
fn delta_frames_refuse_a_missing_or_different_base_without_writing() {
    let base = make(DType::Bf16, Kind::Gaussian, 50_000, 3);
    let ft = nudge(&base, 2, 4);
    let delta = compress_delta(&ft, &base, &Options::new(DType::Bf16)).unwrap();
    assert_eq!(decompress(&delta), Err(Error::BaseRequired));
    let mut other = base.clone();
    other[31_337] ^= 1;
    assert_eq!(decompress_delta(&delta, &other), Err(Error::BaseMismatch));
    assert_eq!(
        decompress_delta(&delta, &base[1..]),
        Err(Error::BaseMismatch)
    );
    let mut dst = vec![0x5Au8; ft.len()];
    assert_eq!(
        decompress_delta_into_with(&delta, &other, &mut dst, &Default::default()),
        Err(Error::BaseMismatch)
    );
    assert!(dst.iter().all(|&b| b == 0x5A), "dst must be untouched");
    // Compressing against a base of another length is refused.
    assert_eq!(
        compress_delta(&ft, &base[..100], &Options::new(DType::Bf16)),
        Err(Error::BaseMismatch)
    );
}

/// Gaussian values of a float dtype, as bytes and as f64.
fn gaussian(dtype: DType, n: usize, seed: u64, scale: f64) -> (Vec<u8>, Vec<f64>) {
    let mut r = Rng(seed | 1);
    let mut bytes = Vec::new();
    let mut vals = Vec::new();
    for _ in 0..n {
        let x = r.gauss() * scale;
        let (b, v): (Vec<u8>, f64) = match dtype {
            DType::Bf16 => {
                let h = half::bf16::from_f64(x);
                (h.to_bits().to_le_bytes().to_vec(), h.to_f64())
            }
            DType::Fp16 => {
                let h = half::f16::from_f64(x);
                (h.to_bits().to_le_bytes().to_vec(), h.to_f64())
            }
            DType::Fp32 => ((x as f32).to_le_bytes().to_vec(), x as f32 as f64),
            _ => (x.to_le_bytes().to_vec(), x),
        };
        bytes.extend(b);
        vals.push(v);
    }
    (bytes, vals)
}

fn values(dtype: DType, bytes: &[u8]) -> Vec<f64> {
    bytes
        .chunks_exact(dtype.element_size())
        .map(|e| match dtype {
            DType::Bf16 => half::bf16::from_bits(u16::from_le_bytes([e[0], e[1]])).to_f64(),
            DType::Fp16 => half::f16::from_bits(u16::from_le_bytes([e[0], e[1]])).to_f64(),
            DType::Fp32 => f32::from_le_bytes([e[0], e[1], e[2], e[3]]) as f64,
            _ => f64::from_le_bytes(e.try_into().unwrap()),
        })
        .collect()
}

/// Half an ulp of `x` in a dtype with `m` mantissa bits (normal range).
fn half_ulp(x: f64, m: i32) -> f64 {
    if x == 0.0 {
        return 0.0;
    }
    2f64.powi(x.abs().log2().floor() as i32 - m - 1)
}

#[test]
fn mantissa_rounding_meets_its_relative_bound() {
    for dtype in FLOATS {
        let m = match dtype {
            DType::Bf16 => 7,
            DType::Fp16 => 10,
            DType::Fp32 => 23,
            _ => 52,
        };
        for bits in [0u8, 1, 3, 5] {
            let (bytes, xs) = gaussian(dtype, 20_000, 5 + bits as u64, 0.02);
            let opts = Options {
                lossy: Lossy::Mantissa { bits },
                ..Options::new(dtype)
            };
            let frame = compress(&bytes, &opts).unwrap();
            let lossless = compress(&bytes, &Options::new(dtype)).unwrap();
            assert!(frame.len() < lossless.len(), "{dtype:?} {bits}");
            assert_eq!(frame_info(&frame).unwrap().lossy, Lossy::Mantissa { bits });
            let back = values(dtype, &decompress(&frame).unwrap());
            let bound = 2f64.powi(-(bits as i32) - 1);
            for (x, y) in xs.iter().zip(&back) {
                // fp16 subnormals (|x| < 2^-14) keep fewer significant bits: absolute bound.
                let tiny = dtype == DType::Fp16 && x.abs() < 2f64.powi(-14);
                if tiny {
                    assert!((x - y).abs() <= 2f64.powi(-24 - 1 + (m - bits as i32)));
                } else {
                    assert!(
                        (x - y).abs() <= bound * x.abs(),
                        "{dtype:?} {bits}: {x} -> {y}"
                    );
                }
                assert_eq!(x.is_sign_negative(), y.is_sign_negative());
            }
        }
    }
}

#[test]
fn integer_mode_meets_its_absolute_bound() {
    for (dtype, factor) in [
        (DType::Bf16, 12u8),
        (DType::Fp16, 13),
        (DType::Fp32, 27),
        (DType::Fp32, 20),
        (DType::Fp64, 40),
    ] {
        let m = match dtype {
            DType::Bf16 => 7,
            DType::Fp16 => 10,
            DType::Fp32 => 23,
            _ => 52,
        };
        let (bytes, xs) = gaussian(dtype, 30_001, factor as u64, 0.5 / (1 << (15 - 12)) as f64);
        let opts = Options {
            lossy: Lossy::Integer { factor },
            ..Options::new(dtype)
        };
        let frame = compress(&bytes, &opts).unwrap();
        assert_eq!(
            frame_info(&frame).unwrap().lossy,
            Lossy::Integer { factor },
            "{dtype:?}"
        );
        let back = values(dtype, &decompress(&frame).unwrap());
        let q = 2f64.powi(-(factor as i32) - 1);
        for (x, y) in xs.iter().zip(&back) {
            let bound = q + half_ulp(*y, m);
            assert!((x - y).abs() <= bound, "{dtype:?} f={factor}: {x} -> {y}");
        }
    }
}

#[test]
fn integer_mode_falls_back_to_lossless_when_values_do_not_fit() {
    // |x| up to 16 does not fit 2^27 fixed point in an i32 (limit 2^4): lossless instead.
    let (bytes, _) = gaussian(DType::Fp32, 5000, 9, 8.0);
    let opts = Options {
        lossy: Lossy::Integer { factor: 27 },
        ..Options::new(DType::Fp32)
    };
    let frame = compress(&bytes, &opts).unwrap();
    assert_eq!(frame_info(&frame).unwrap().lossy, Lossy::None);
    assert_eq!(decompress(&frame).unwrap(), bytes);
    // NaN anywhere: lossless too.
    let mut with_nan = make(DType::Fp32, Kind::Gaussian, 4000, 1);
    with_nan[400..404].copy_from_slice(&f32::NAN.to_le_bytes());
    let frame = compress(&with_nan, &opts).unwrap();
    assert_eq!(frame_info(&frame).unwrap().lossy, Lossy::None);
    assert_eq!(decompress(&frame).unwrap(), with_nan);
}

#[test]
fn lossy_modes_are_checked_against_the_dtype() {
    let bad = [
        (DType::Raw, Lossy::Mantissa { bits: 1 }),
        (DType::Int8, Lossy::Integer { factor: 1 }),
        (DType::Bf16, Lossy::Mantissa { bits: 7 }),
        (DType::Fp16, Lossy::Integer { factor: 15 }),
        (DType::Fp32, Lossy::Integer { factor: 31 }),
        (DType::Fp64, Lossy::Mantissa { bits: 52 }),
    ];
    for (dtype, lossy) in bad {
        let opts = Options {
            lossy,
            ..Options::new(dtype)
        };
        assert_eq!(
            compress(&[0u8; 64], &opts),
            Err(Error::InvalidParam),
            "{dtype:?} {lossy:?}"
        );
    }
}

#[test]
fn lossless_frames_stay_bit_exact_with_specials() {
    for dtype in FLOATS {
        let data = make(dtype, Kind::Special, 10_000, 2);
        let frame = compress(&data, &Options::new(dtype)).unwrap();
        assert_eq!(frame_info(&frame).unwrap().lossy, Lossy::None);
        assert_eq!(decompress(&frame).unwrap(), data);
        // Mantissa rounding keeps NaN payloads and infinities as they are.
        let opts = Options {
            lossy: Lossy::Mantissa { bits: 2 },
            ..Options::new(dtype)
        };
        let back = decompress(&compress(&data, &opts).unwrap()).unwrap();
        for (a, b) in data
            .chunks_exact(dtype.element_size())
            .zip(back.chunks_exact(dtype.element_size()))
        {
            let x = values(dtype, a)[0];
            if !x.is_finite() {
                assert_eq!(a, b, "{dtype:?}");
            }
        }
    }
}

#[test]
fn damaged_delta_and_lossy_frames_are_errors() {
    let base = make(DType::Fp32, Kind::Gaussian, 3 * 1024 + 4, 21);
    let ft = nudge(&base, 4, 22);
    let small = |lossy| Options {
        chunk_size: 1024,
        lossy,
        ..Options::new(DType::Fp32)
    };
    let (vals, _) = gaussian(DType::Fp32, 800, 23, 0.1);
    let frames = [
        (
            "delta",
            compress_delta(&ft, &base, &small(Lossy::None)).unwrap(),
        ),
        (
            "delta+mantissa",
            compress_delta(&ft, &base, &small(Lossy::Mantissa { bits: 4 })).unwrap(),
        ),
        (
            "integer",
            compress(&vals, &small(Lossy::Integer { factor: 20 })).unwrap(),
        ),
    ];
    for (name, frame) in &frames {
        let good = decompress_delta(frame, &base[..]).or_else(|_| decompress(frame));
        let good = good.unwrap_or_else(|e| panic!("{name}: {e}"));
        let decode = |f: &[u8]| {
            if name.starts_with("delta") {
                decompress_delta(f, &base)
            } else {
                decompress(f)
            }
        };
        let header_len = zipnn::Frame::parse(frame).unwrap().frame_size() as usize
            - (0..zipnn::Frame::parse(frame).unwrap().chunk_count())
                .map(|i| zipnn::Frame::parse(frame).unwrap().chunk_payload(i).len())
                .sum::<usize>();
        let mut bad = frame.clone();
        for byte in 0..header_len {
            for bit in 0..8 {
                bad[byte] ^= 1 << bit;
                assert!(decode(&bad).is_err(), "{name}: byte {byte} bit {bit}");
                bad[byte] ^= 1 << bit;
            }
        }
        for cut in 0..frame.len() {
            assert!(decode(&frame[..cut]).is_err(), "{name}: prefix {cut}");
        }
        assert_eq!(decode(frame).unwrap(), good);
    }
}

#[test]
fn lossy_streams_decode_to_values_sequentially_and_by_range() {
    use std::io::{Cursor, Read, Write};
    use zipnn::stream::{Reader, StreamReader, Writer};
    let (bytes, xs) = gaussian(DType::Fp32, 300_000, 41, 0.3);
    let opts = Options {
        lossy: Lossy::Integer { factor: 22 },
        ..Options::new(DType::Fp32)
    };
    let mut w = Writer::new(Vec::new(), &opts, 256 * 1024).unwrap();
    w.write_all(&bytes).unwrap();
    let stream = w.finish().unwrap();
    let mut back = Vec::new();
    Reader::new(&stream[..]).read_to_end(&mut back).unwrap();
    let vals = values(DType::Fp32, &back);
    assert_eq!(vals.len(), xs.len());
    for (x, y) in xs.iter().zip(&vals) {
        assert!(
            (x - y).abs() <= 2f64.powi(-23) + half_ulp(*y, 23),
            "{x} -> {y}"
        );
    }
    // A range across a block boundary, starting and ending inside chunks.
    let mut r = StreamReader::open(Cursor::new(&stream[..])).unwrap();
    let (off, len) = (256 * 1024 - 4 * 1001, 4 * 3000);
    assert_eq!(
        r.read_range(off as u64, len).unwrap(),
        &back[off..off + len]
    );
}
