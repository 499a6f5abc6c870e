//! Criterion throughput benches for the hot paths (issue #3 item 6). All data is synthetic
//! and generated here, so no files are needed:
//!
//! cargo bench --bench codecs [-- FILTER]
//!
//! Groups: `huffman` (encode/decode on a bf16-like exponent plane and on random bytes),
//! `histogram`, `transform` (split/merge for bf16, fp16, fp32) and `frame` (whole
//! compress/decompress of 4 MiB of Gaussian bf16 weights on one thread).

use criterion::{black_box, criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use zipnn::codec::huffman;
use zipnn::{transform, DType, DecompressOptions, Options};

/// Deterministic xorshift generator.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    /// Standard normal (Box-Muller).
    fn gauss(&mut self) -> f64 {
        let u1 = ((self.next() >> 11) as f64 + 1.0) / (1u64 << 53) as f64;
        let u2 = (self.next() >> 11) as f64 / (1u64 << 53) as f64;
        (-2.0 * u1.ln()).sqrt() * (2.0 * std::f64::consts::PI * u2).cos()
    }
}

/// `n` weights like a trained layer's (normal, std 0.02), as little-endian `dtype` bytes.
fn weights(dtype: DType, n: usize) -> Vec<u8> {
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    let mut out = Vec::with_capacity(n * dtype.element_size());
    for _ in 0..n {
        let x = (rng.gauss() * 0.02) as f32;
        match dtype {
            DType::Bf16 => out.extend_from_slice(&((x.to_bits() >> 16) as u16).to_le_bytes()),
            DType::Fp16 => out.extend_from_slice(&f32_to_f16(x).to_le_bytes()),
            _ => out.extend_from_slice(&x.to_le_bytes()),
        }
    }
    out
}

/// Round-toward-zero f32 -> f16 for normal and subnormal values near zero (enough for data).
fn f32_to_f16(x: f32) -> u16 {
    let b = x.to_bits();
    let sign = ((b >> 16) & 0x8000) as u16;
    let e = ((b >> 23) & 0xFF) as i32 - 127 + 15;
    let m = b & 0x7F_FFFF;
    if e <= 0 {
        if e < -10 {
            return sign;
        }
        return sign | (((m | 0x80_0000) >> (14 - e)) as u16);
    }
    sign | ((e as u16) << 10) | ((m >> 13) as u16)
}

fn random_bytes(n: usize) -> Vec<u8> {
    let mut rng = Rng(42);
    (0..n).map(|_| rng.next() as u8).collect()
}

/// Plane-chunk size of a 256 KiB bf16 chunk.
const PLANE: usize = 128 * 1024;

fn bench_huffman(c: &mut Criterion) {
    let w = weights(DType::Bf16, PLANE);
    let mut planes = vec![0u8; w.len()];
    transform::split(DType::Bf16, 2, &w, &mut planes);
    let exponent = planes[..PLANE].to_vec();
    let mut g = c.benchmark_group("huffman");
    g.throughput(Throughput::Bytes(PLANE as u64));
    for (name, data) in [("exponent", exponent), ("random", random_bytes(PLANE))] {
        let hist = huffman::histogram(&data);
        let mut enc = Vec::with_capacity(2 * PLANE);
        g.bench_function(BenchmarkId::new("encode", name), |b| {
            b.iter(|| {
                enc.clear();
                huffman::encode(black_box(&data), &hist, &mut enc);
            })
        });
        enc.clear();
        huffman::encode(&data, &hist, &mut enc);
        let mut out = vec![0u8; PLANE];
        huffman::decode(&enc, &mut out).unwrap();
        assert_eq!(out, data);
        g.bench_function(BenchmarkId::new("decode", name), |b| {
            b.iter(|| huffman::decode(black_box(&enc), &mut out).unwrap())
        });
    }
    g.finish();
}

fn bench_histogram(c: &mut Criterion) {
    let w = weights(DType::Bf16, PLANE);
    let mut planes = vec![0u8; w.len()];
    transform::split(DType::Bf16, 2, &w, &mut planes);
    let mut g = c.benchmark_group("histogram");
    g.throughput(Throughput::Bytes(PLANE as u64));
    for (name, data) in [
        ("exponent", planes[..PLANE].to_vec()),
        ("random", random_bytes(PLANE)),
    ] {
        g.bench_function(name, |b| b.iter(|| huffman::histogram(black_box(&data))));
    }
    g.finish();
}

fn bench_transform(c: &mut Criterion) {
    let mut g = c.benchmark_group("transform");
    for dtype in [DType::Bf16, DType::Fp16, DType::Fp32] {
        let planes = dtype.element_size();
        let src = weights(dtype, 256 * 1024 / planes);
        let mut split = vec![0u8; src.len()];
        let mut back = vec![0u8; src.len()];
        transform::split(dtype, planes, &src, &mut split);
        transform::merge(dtype, planes, &split, &mut back);
        assert_eq!(back, src);
        g.throughput(Throughput::Bytes(src.len() as u64));
        g.bench_function(BenchmarkId::new("split", dtype.name()), |b| {
            b.iter(|| transform::split(dtype, planes, black_box(&src), &mut split))
        });
        g.bench_function(BenchmarkId::new("merge", dtype.name()), |b| {
            b.iter(|| transform::merge(dtype, planes, black_box(&split), &mut back))
        });
    }
    g.finish();
}

fn bench_frame(c: &mut Criterion) {
    let src = weights(DType::Bf16, 2 * 1024 * 1024);
    let opts = Options {
        threads: 1,
        ..Options::new(DType::Bf16)
    };
    let dopts = DecompressOptions {
        threads: 1,
        ..Default::default()
    };
    let mut frame = vec![0u8; zipnn::compress_bound(src.len(), &opts).unwrap()];
    let mut back = vec![0u8; src.len()];
    let mut g = c.benchmark_group("frame");
    g.throughput(Throughput::Bytes(src.len() as u64));
    g.sample_size(30);
    let mut size = zipnn::compress_into(&src, &[], &opts, &mut frame).unwrap();
    zipnn::decompress_into_with(&frame[..size], &mut back, &dopts).unwrap();
    assert_eq!(back, src);
    g.bench_function("compress/bf16_gauss_4MiB", |b| {
        b.iter(|| size = zipnn::compress_into(black_box(&src), &[], &opts, &mut frame).unwrap())
    });
    g.bench_function("decompress/bf16_gauss_4MiB", |b| {
        b.iter(|| {
            zipnn::decompress_into_with(black_box(&frame[..size]), &mut back, &dopts).unwrap()
        })
    });
    assert_eq!(back, src);
    g.finish();
}

criterion_group!(
    benches,
    bench_huffman,
    bench_histogram,
    bench_transform,
    bench_frame
);
criterion_main!(benches);
