//! Peak memory of streaming: compresses GBs of generated bf16 weights through
//! `stream::Compressor`, feeds the stream straight into `stream::Decompressor`, checks
//! every decoded byte against the generator, and prints peak RSS (VmHWM) and MB/s.
//! Neither the input nor the stream is ever held whole: memory is O(block size).
//!
//! cargo run --release --example stream_rss [-- GB [BLOCK_SIZE [THREADS]]]
//!
//! Defaults: 4 GB (10^9 bytes each), the default block size (8 MiB), all cores.

use std::time::{Duration, Instant};
use zipnn::stream::{Compressor, Decompressor, DEFAULT_BLOCK_SIZE};
use zipnn::{DType, DecompressOptions, Options};

/// Deterministic bf16 weights, N(0, 0.02)-like: a 64 Ki-entry table of Gaussian values
/// indexed by a xorshift generator, so that generating is much faster than coding.
struct Gen {
    table: Vec<[u8; 2]>,
    state: u64,
}

impl Gen {
    fn new(seed: u64) -> Gen {
        let mut g = Gen {
            table: Vec::new(),
            state: seed | 1,
        };
        let mut t = Vec::with_capacity(1 << 16);
        for _ in 0..1 << 16 {
            let u = (g.next() >> 11) as f64 / (1u64 << 53) as f64;
            let v = (g.next() >> 11) as f64 / (1u64 << 53) as f64;
            let x = (-2.0 * u.max(1e-300).ln()).sqrt() * (2.0 * std::f64::consts::PI * v).cos();
            let bits = ((x * 0.02) as f32).to_bits();
            t.push(((bits >> 16) as u16).to_le_bytes());
        }
        g.table = t;
        g
    }

    fn next(&mut self) -> u64 {
        self.state ^= self.state >> 12;
        self.state ^= self.state << 25;
        self.state ^= self.state >> 27;
        self.state.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    /// Fills `buf` (even length) with the next elements.
    fn fill(&mut self, buf: &mut [u8]) {
        for pair in buf.chunks_exact_mut(8) {
            let r = self.next();
            for (k, e) in pair.chunks_exact_mut(2).enumerate() {
                e.copy_from_slice(&self.table[((r >> (16 * k)) & 0xFFFF) as usize]);
            }
        }
    }
}

fn vm_hwm_kib() -> u64 {
    let s = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    s.lines()
        .find(|l| l.starts_with("VmHWM:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let gb: f64 = args.first().map_or(4.0, |a| a.parse().expect("GB"));
    let block: u32 = args
        .get(1)
        .map_or(DEFAULT_BLOCK_SIZE, |a| a.parse().expect("BLOCK_SIZE"));
    let threads: u32 = args.get(2).map_or(0, |a| a.parse().expect("THREADS"));
    let total = ((gb * 1e9) as u64) & !7;
    let opts = Options {
        threads,
        ..Options::new(DType::Bf16)
    };
    let mut c = Compressor::new(&opts, block).expect("compressor");
    let mut d = Decompressor::with_options(&DecompressOptions {
        threads,
        max_size: 0,
    });
    let (mut src_gen, mut check_gen) = (Gen::new(42), Gen::new(42));
    const PIECE: usize = 1 << 20;
    let mut input = vec![0u8; PIECE];
    let mut stream = vec![0u8; PIECE];
    let mut out = vec![0u8; PIECE];
    let mut expect = vec![0u8; PIECE];
    let (mut t_c, mut t_d) = (Duration::ZERO, Duration::ZERO);
    let (mut fed, mut stream_len, mut checked) = (0u64, 0u64, 0u64);
    let mut finished = false;
    let start = Instant::now();

    // Feed decoded bytes to the checker.
    let mut check = |bytes: &[u8], checked: &mut u64| {
        let mut at = 0;
        while at < bytes.len() {
            let off = (*checked % PIECE as u64) as usize;
            if off == 0 {
                check_gen.fill(&mut expect);
            }
            let n = (PIECE - off).min(bytes.len() - at);
            assert!(
                bytes[at..at + n] == expect[off..off + n],
                "mismatch near byte {checked}"
            );
            at += n;
            *checked += n as u64;
        }
    };

    let mut pending = 0usize; // input bytes in `input` not yet consumed
    let mut in_pos = 0usize;
    while !finished {
        // Compress one step.
        let t = Instant::now();
        let w = if fed < total || pending > 0 {
            if pending == 0 {
                let n = (total - fed).min(PIECE as u64) as usize;
                src_gen.fill(&mut input[..n]);
                fed += n as u64;
                pending = n;
                in_pos = 0;
            }
            let (cn, w) = c
                .compress(&input[in_pos..in_pos + pending], &mut stream)
                .expect("compress");
            in_pos += cn;
            pending -= cn;
            w
        } else {
            let (w, done) = c.finish(&mut stream).expect("finish");
            finished = done;
            w
        };
        t_c += t.elapsed();
        stream_len += w as u64;
        // Decompress what came out.
        let mut s = &stream[..w];
        loop {
            let t = Instant::now();
            let (cn, wn) = d.decompress(s, &mut out).expect("decompress");
            t_d += t.elapsed();
            s = &s[cn..];
            check(&out[..wn], &mut checked);
            if s.is_empty() && wn == 0 {
                break;
            }
        }
    }
    d.finish().expect("stream complete");
    assert_eq!(checked, total);
    let wall = start.elapsed().as_secs_f64();
    let mb = total as f64 / 1e6;
    let hwm = vm_hwm_kib();
    println!(
        "input {:.2} GB bf16, block {} KiB, threads {}",
        total as f64 / 1e9,
        block / 1024,
        if threads == 0 {
            "all".to_string()
        } else {
            threads.to_string()
        }
    );
    println!(
        "stream {:.2} GB, ratio {:.4} (stream/input)",
        stream_len as f64 / 1e9,
        stream_len as f64 / total as f64
    );
    println!(
        "compress {:.0} MB/s, decompress {:.0} MB/s (time inside the calls); wall {:.1} s",
        mb / t_c.as_secs_f64(),
        mb / t_d.as_secs_f64(),
        wall
    );
    println!(
        "peak RSS (VmHWM) {:.1} MiB; every byte checked",
        hwm as f64 / 1024.0
    );
}
