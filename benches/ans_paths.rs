//! Decode speed of codec 7 (rANS, thirty-two states; the max level) with each loop this
//! processor runs, one plane at a time and two planes of a chunk together.
//!
//! ```text
//! taskset -c 1 cargo bench --bench ans_paths -- FILE DTYPE [RUNS]
//! ```
//!
//! FILE holds little-endian values of DTYPE (bf16, fp16 or fp32), for example
//! `minilm.bf16.raw` from the shared corpus. The first 32 MiB are cut into 256 KiB chunks,
//! each chunk is split into planes as the format does, and every plane is coded with codec
//! 7; planes are paired within a chunk as the decoder pairs them. Every loop is checked to
//! give the planes back, then timed: RUNS rounds (default 15) that run each loop once in
//! turn, the best round of each kept (CPU time of this thread).

// The command line and the clock; not the exponent planes (all planes are decoded here).
#[allow(dead_code)]
mod planes;

use planes::thread_time;
use zipnn::codec::ans::{self, Path};
use zipnn::codec::huffman;

fn main() {
    let Some((file, dtype, data, runs)) = planes::args("ans_paths") else {
        return;
    };
    let data = &data[..data.len().min(32 << 20)];
    // (plane, payload) pairs: planes 0 and 1 of a chunk, 2 and 3, ...
    let k = dtype.element_size();
    let mut split = vec![0u8; 256 << 10];
    let mut pairs = Vec::new();
    for c in data.chunks(256 << 10) {
        let m = c.len() / k;
        zipnn::transform::split(dtype, k, c, &mut split[..c.len()]);
        let coded: Vec<(Vec<u8>, Vec<u8>)> = (0..k)
            .map(|p| {
                let plane = split[p * m..(p + 1) * m].to_vec();
                let mut out = Vec::new();
                ans::encode_wide(&plane, &huffman::histogram(&plane), &mut out);
                (plane, out)
            })
            .collect();
        for two in coded.chunks_exact(2) {
            pairs.push((two[0].clone(), two[1].clone()));
        }
    }
    let symbols: usize = pairs.iter().map(|(a, b)| a.0.len() + b.0.len()).sum();
    let bytes: usize = pairs.iter().map(|(a, b)| a.1.len() + b.1.len()).sum();
    println!(
        "{file}: {} planes, {symbols} symbols, codec 7 {bytes} bytes",
        2 * pairs.len()
    );
    let loops: Vec<(Path, bool)> = Path::available()
        .into_iter()
        .flat_map(|p| [(p, false), (p, true)])
        .collect();
    let (mut da, mut db) = (vec![0u8; 256 << 10], vec![0u8; 256 << 10]);
    let mut decode = |(path, pair): (Path, bool), check: bool| {
        for (a, b) in &pairs {
            let (oa, ob) = (&mut da[..a.0.len()], &mut db[..b.0.len()]);
            if pair {
                ans::decode_wide_pair_with(&a.1, oa, &b.1, ob, path).expect("decodes");
            } else {
                ans::decode_wide_with(&a.1, oa, path).expect("decodes");
                ans::decode_wide_with(&b.1, ob, path).expect("decodes");
            }
            assert!(
                !check || (*oa == a.0[..] && *ob == b.0[..]),
                "{path:?} differs"
            );
        }
    };
    for &l in &loops {
        decode(l, true);
    }
    let mut best = vec![f64::INFINITY; loops.len()];
    for _ in 0..runs.max(1) {
        for (b, &l) in best.iter_mut().zip(&loops) {
            let t = thread_time();
            decode(l, false);
            *b = b.min(thread_time() - t);
        }
    }
    for (&(path, pair), &t) in loops.iter().zip(&best) {
        let how = if pair { "pairs" } else { "one by one" };
        println!(
            "{:<24} {:6.2} Gsymbols/s",
            format!("{path:?}, {how}"),
            symbols as f64 / t / 1e9
        );
    }
}
