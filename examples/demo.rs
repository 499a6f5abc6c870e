//! The README's first command: compresses and decompresses real weight samples, checks the
//! round trip, and prints ratio and speed.
//!
//! cargo run --release --example demo [-- FILE[:DTYPE] ...] [--threads N]
//!
//! Without files it uses the samples in tests/data (dtype from the file extension).

use std::time::Instant;
use zipnn::{compress, decompress_into_with, DType, DecompressOptions, Options};

fn dtype_of(name: &str) -> Option<DType> {
    let ext = name.rsplit(['.', ':']).next()?;
    DType::ALL
        .into_iter()
        .find(|d| d.name() == ext)
        .or(match ext {
            "f32" => Some(DType::Fp32),
            "f16" => Some(DType::Fp16),
            "bin" | "raw" => Some(DType::Raw),
            _ => None,
        })
}

/// Best wall time of `runs` calls, in seconds.
fn best_of(runs: usize, mut f: impl FnMut()) -> f64 {
    (0..runs)
        .map(|_| {
            let t = Instant::now();
            f();
            t.elapsed().as_secs_f64()
        })
        .fold(f64::INFINITY, f64::min)
}

fn main() {
    let mut args: Vec<String> = std::env::args().skip(1).collect();
    let mut threads = 1u32;
    if let Some(i) = args.iter().position(|a| a == "--threads") {
        threads = args
            .get(i + 1)
            .and_then(|t| t.parse().ok())
            .unwrap_or_else(|| {
                eprintln!("--threads needs a number");
                std::process::exit(2)
            });
        args.drain(i..i + 2);
    }
    if args.is_empty() {
        let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data");
        let mut files: Vec<String> = std::fs::read_dir(dir)
            .expect("tests/data")
            .filter_map(|e| e.ok())
            .map(|e| e.path().display().to_string())
            // The raw weight samples; the safetensors files there are for the archive tests.
            .filter(|p| dtype_of(p).is_some())
            .collect();
        files.sort();
        args = files;
    }
    println!(
        "{:<24} {:>8} {:>10} {:>10} {:>7} {:>10} {:>10}  check",
        "file", "dtype", "bytes", "compressed", "ratio", "comp MB/s", "dec MB/s"
    );
    let mut failed = false;
    for arg in &args {
        let (path, dtype) = match arg.rsplit_once(':') {
            Some((p, d)) if dtype_of(d).is_some() => (p.to_string(), dtype_of(d)),
            _ => (arg.clone(), dtype_of(arg)),
        };
        let Some(dtype) = dtype else {
            eprintln!("{arg}: cannot tell the dtype; write FILE:DTYPE (e.g. w.bin:bf16)");
            std::process::exit(2);
        };
        let data = std::fs::read(&path).unwrap_or_else(|e| {
            eprintln!("{path}: {e}");
            std::process::exit(1)
        });
        let opts = Options {
            threads,
            ..Options::new(dtype)
        };
        let runs = (200_000_000 / data.len().max(1)).clamp(3, 50);
        let mut frame = Vec::new();
        let tc = best_of(runs, || frame = compress(&data, &opts).expect("compress"));
        let mut back = vec![0u8; data.len()];
        let dopts = DecompressOptions {
            threads,
            ..Default::default()
        };
        let td = best_of(runs, || {
            decompress_into_with(&frame, &mut back, &dopts).expect("decompress");
        });
        let ok = back == data;
        failed |= !ok;
        let mb = data.len() as f64 / 1e6;
        let name = std::path::Path::new(&path)
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or(path.clone());
        println!(
            "{:<24} {:>8} {:>10} {:>10} {:>7.4} {:>10.0} {:>10.0}  {}",
            name,
            dtype.name(),
            data.len(),
            frame.len(),
            frame.len() as f64 / data.len().max(1) as f64,
            mb / tc,
            mb / td,
            if ok { "round trip ok" } else { "MISMATCH" }
        );
    }
    println!("ratio = compressed / original; speed = best of several runs on {threads} thread(s)");
    if failed {
        std::process::exit(1);
    }
}
