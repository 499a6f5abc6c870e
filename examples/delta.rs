//! Delta compression of a fine-tune against its base model, tensor by tensor, with the
//! order-0 bound of the XOR for comparison.
//!
//! cargo run --release --example delta -- BASE.safetensors FINETUNE.safetensors [--level max]
//!
//! For each file pair it prints the archive ratio without and with the base, the
//! per-chunk order-0 entropy bound of the XOR (planes as the dtype's transform groups
//! them), and compress / decompress speed of the delta archive. Every archive is checked to
//! restore the fine-tune byte for byte.

use std::time::Instant;

use zipnn::container::safetensors::{self, Archive, SafeTensors};
use zipnn::{DType, Level, Options};

/// Order-0 entropy in bytes of each plane of each 256 KiB chunk of `x` grouped by `planes`.
fn bound(x: &[u8], planes: usize) -> f64 {
    let mut total = 0.0;
    for chunk in x.chunks(256 * 1024) {
        for p in 0..planes {
            let mut h = [0u64; 256];
            let mut n = 0u64;
            for e in chunk.chunks_exact(planes) {
                h[e[p] as usize] += 1;
                n += 1;
            }
            total += h
                .iter()
                .filter(|&&c| c > 0)
                .map(|&c| -(c as f64) * (c as f64 / n as f64).log2())
                .sum::<f64>()
                / 8.0;
        }
    }
    total
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let files: Vec<&String> = args
        .iter()
        .filter(|a| !a.starts_with("--") && *a != "max")
        .collect();
    let level = if args.iter().any(|a| a == "max") {
        Level::Max
    } else {
        Level::Default
    };
    let [base_path, ft_path] = files[..] else {
        eprintln!("usage: delta BASE.safetensors FINETUNE.safetensors [--level max]");
        std::process::exit(2);
    };
    let base = std::fs::read(base_path).expect("read base");
    let ft = std::fs::read(ft_path).expect("read fine-tune");
    let opts = Options {
        level,
        threads: 1,
        ..Options::new(DType::Raw)
    };
    let t = Instant::now();
    let plain = safetensors::compress(&ft, &opts).expect("compress");
    let pt = t.elapsed().as_secs_f64();
    let t = Instant::now();
    let delta = safetensors::compress_with_base(&ft, Some(&base), &opts).expect("delta");
    let ct = t.elapsed().as_secs_f64();
    let b = SafeTensors::parse(&base).unwrap();
    let t = Instant::now();
    let back = Archive::open(&delta)
        .unwrap()
        .restore_with_base(Some(&b))
        .expect("restore");
    let dt = t.elapsed().as_secs_f64();
    assert_eq!(back, ft, "delta archive must restore the fine-tune exactly");
    let f = SafeTensors::parse(&ft).unwrap();
    let xor_bound: f64 = f
        .tensors
        .iter()
        .map(|t| {
            let x: Vec<u8> = match b.matching(t) {
                Some(bb) => f.bytes(t).iter().zip(bb).map(|(a, b)| a ^ b).collect(),
                None => f.bytes(t).to_vec(),
            };
            let planes = match t.dtype.as_str() {
                "BF16" | "F16" => 2,
                "F32" => 4,
                "F64" => 8,
                _ => 1,
            };
            bound(&x, planes)
        })
        .sum();
    let n = ft.len() as f64;
    println!("| fine-tune | level | plain archive | plain comp MB/s | delta archive | XOR order-0 bound | delta comp MB/s | delta decomp MB/s |");
    println!("|---|---|---|---|---|---|---|---|");
    println!(
        "| {} | {:?} | {:.4} | {:.0} | {:.4} | {:.4} | {:.0} | {:.0} |",
        ft_path.rsplit('/').next().unwrap_or(ft_path),
        level,
        plain.len() as f64 / n,
        n / pt / 1e6,
        delta.len() as f64 / n,
        xor_bound / n,
        n / ct / 1e6,
        n / dt / 1e6
    );
}
