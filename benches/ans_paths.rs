//! Decode speed of codec 7 (rANS, thirty-two states; the max level) with each loop this
//! processor runs, one plane at a time and two planes of a chunk together; then the encode
//! speed of codecs 6 and 7 with each encoder path (the same bytes from each, checked).
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
//! turn, the best round of each kept (CPU time of this thread). The encoders are timed the
//! same way on the same planes (histograms computed beforehand, not timed).

// The command line and the clock; not the exponent planes (all planes are decoded here).
#[allow(dead_code)]
mod planes;

use planes::thread_time;
use zipnn::codec::ans::{self, EncPath, Path};
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

    // Encoding: every plane with each encoder path, codec 6 and codec 7.
    let planes: Vec<(&[u8], [u32; 256])> = pairs
        .iter()
        .flat_map(|(a, b)| [&a.0, &b.0])
        .map(|p| (&p[..], huffman::histogram(p)))
        .collect();
    // Codec 6 with each path (scalar first), then codec 7.
    let encoders: Vec<(EncPath, bool)> = [false, true]
        .into_iter()
        .flat_map(|wide| EncPath::available().into_iter().map(move |p| (p, wide)))
        .collect();
    let mut out = Vec::with_capacity(1 << 20);
    // Each plane's payload (appended to `out`; checked against the scalar path's).
    let encode = |(path, wide): (EncPath, bool), out: &mut Vec<u8>| {
        out.clear();
        for (p, h) in &planes {
            ans::encode_with(p, h, out, wide, path).expect("runs here");
        }
    };
    let mut want = Vec::new();
    for &(path, wide) in &encoders {
        encode((path, wide), &mut out);
        if path == EncPath::Scalar {
            want = out.clone();
        }
        assert!(out == want, "{path:?} differs from the scalar encoder");
    }
    let mut best = vec![f64::INFINITY; encoders.len()];
    for _ in 0..runs.max(1) {
        for (b, &e) in best.iter_mut().zip(&encoders) {
            let t = thread_time();
            encode(e, &mut out);
            *b = b.min(thread_time() - t);
        }
    }
    for (&(path, wide), &t) in encoders.iter().zip(&best) {
        println!(
            "{:<24} {:6.2} Gsymbols/s",
            format!("encode {path:?}, codec {}", if wide { 7 } else { 6 }),
            symbols as f64 / t / 1e9
        );
    }
}
