//! Decode speed of codec 11 (Huffman in 128 lanes) with each loop this processor runs
//! (portable, AVX2, AVX-512), against codec 2 (Huffman in four streams) on the same planes.
//!
//! ```text
//! taskset -c 1 cargo bench --bench lanes_paths -- FILE DTYPE [RUNS]
//! ```
//!
//! FILE holds little-endian values of DTYPE (bf16, fp16 or fp32), for example
//! `minilm.bf16.raw` from the shared corpus. The first 64 MiB are cut into 256 KiB chunks,
//! each chunk is split into planes as the format does, and the plane with the fewest bits
//! of entropy (the exponents) is kept unless it holds one value. Each plane is coded with
//! codec 2 and, where the lanes apply, codec 11; every decoder is checked to give the
//! planes back, then timed over all of them: RUNS rounds (default 15) that run each decoder
//! once in turn, the best round of each kept (CPU time of this thread).

mod planes;

use planes::thread_time;
use zipnn::codec::huffman;
use zipnn::codec::lanes::{self, Path};

fn main() {
    let Some((file, all, runs)) = planes::from_args("lanes_paths") else {
        return;
    };
    // The planes the lanes apply to, with both payloads.
    let mut planes = Vec::new();
    for p in &all {
        if let Some(l) = lanes::encode_plane(p) {
            let mut two = Vec::new();
            huffman::encode(p, &huffman::histogram(p), &mut two);
            planes.push((p, two, l));
        }
    }
    let symbols: usize = planes.iter().map(|(p, _, _)| p.len()).sum();
    let two_bytes: usize = planes.iter().map(|(_, t, _)| t.len()).sum();
    let lane_bytes: usize = planes.iter().map(|(_, _, l)| l.len()).sum();
    println!(
        "{}: {} of {} exponent planes in lanes, {symbols} symbols; codec 2 {two_bytes} bytes, \
         codec 11 {lane_bytes} bytes ({:+.3}%)",
        file,
        planes.len(),
        all.len(),
        (lane_bytes as f64 / two_bytes as f64 - 1.0) * 100.0
    );
    let mut out = vec![0u8; planes.iter().map(|(p, _, _)| p.len()).max().unwrap_or(0)];
    // Decoder 0 is codec 2, the others the lanes' paths this processor runs.
    let paths: Vec<Path> = Path::all().into_iter().filter(|p| p.available()).collect();
    let decode = |d: usize, out: &mut [u8]| {
        for (p, two, l) in &planes {
            let o = &mut out[..p.len()];
            match d {
                0 => huffman::decode(two, o).expect("codec 2 decodes"),
                _ => lanes::decode_with(l, o, paths[d - 1]).expect("codec 11 decodes"),
            }
        }
    };
    for d in 0..=paths.len() {
        for (p, two, l) in &planes {
            out.fill(0);
            let o = &mut out[..p.len()];
            match d {
                0 => huffman::decode(two, o).expect("codec 2 decodes"),
                _ => lanes::decode_with(l, o, paths[d - 1]).expect("codec 11 decodes"),
            }
            assert!(o == &p[..], "decoder {d} differs");
        }
    }
    let mut best = vec![f64::INFINITY; paths.len() + 1];
    for _ in 0..runs.max(1) {
        for (d, b) in best.iter_mut().enumerate() {
            let t = thread_time();
            decode(d, &mut out);
            *b = b.min(thread_time() - t);
        }
    }
    let name = |d: usize| match d {
        0 => "codec 2".to_string(),
        _ => format!("lanes {:?}", paths[d - 1]),
    };
    for (d, &t) in best.iter().enumerate() {
        println!(
            "{:<16} {:6.2} Gsymbols/s  x{:.2} codec 2",
            name(d),
            symbols as f64 / t / 1e9,
            best[0] / t
        );
    }
    for p in Path::all().into_iter().filter(|p| !p.available()) {
        println!("lanes {p:?}: not run (this processor lacks it)");
    }
}
