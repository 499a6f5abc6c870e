//! Small end-to-end cases sized for Miri (scripts/miri.sh runs this file under Miri): the
//! pure-Rust paths only (Huffman, run and raw planes, the transforms, frame parsing, the
//! engine's zeroed allocation) on the calling thread, so no FFI codec (zstd, lz4) and no
//! thread pool is involved. Also a normal (fast) test under `cargo test`.

mod common;

use common::{make, Kind, Rng};
use zipnn::*;

/// Under Miri: two chunks and a partial element; else three chunks.
const N: usize = if cfg!(miri) {
    2 * 1024 + 5
} else {
    3 * 1024 + 5
};

fn small_opts(dtype: DType, method: Method) -> Options {
    Options {
        method,
        level: Level::Fast,
        chunk_size: 1024,
        threads: 1,
        ..Options::new(dtype)
    }
}

const ONE: DecompressOptions = DecompressOptions {
    threads: 1,
    max_size: 0,
};

#[test]
fn pure_rust_round_trips_of_every_dtype() {
    for dtype in DType::ALL {
        for method in [Method::Huffman, Method::Raw, Method::Auto] {
            let kinds: &[Kind] = match (cfg!(miri), method) {
                (false, _) | (true, Method::Huffman) => {
                    &[Kind::Gaussian, Kind::Zero, Kind::Special]
                }
                (true, _) => &[Kind::Gaussian],
            };
            for &kind in kinds {
                let src = make(dtype, kind, N, dtype as u64 + 3);
                let f = compress(&src, &small_opts(dtype, method)).unwrap();
                assert_eq!(
                    decompress_with(&f, &ONE).unwrap(),
                    src,
                    "{dtype:?}/{method:?}"
                );
                let info = frame_info(&f).unwrap();
                let mut chunk = vec![0u8; 1024];
                let n = decompress_chunk(&f, info.chunk_count - 1, &mut chunk).unwrap();
                let start = (info.chunk_count as usize - 1) * 1024;
                assert_eq!(&chunk[..n], &src[start..start + n]);
            }
        }
    }
    // Raw bytes with byte grouping.
    for bg in [2, 4, 8] {
        let src = make(DType::Raw, Kind::Gaussian, N, bg as u64);
        let o = Options {
            bg_partitions: bg,
            ..small_opts(DType::Raw, Method::Huffman)
        };
        let f = compress(&src, &o).unwrap();
        assert_eq!(decompress_with(&f, &ONE).unwrap(), src);
    }
}

#[test]
fn damaged_pure_rust_frames_are_errors() {
    let src = make(DType::Bf16, Kind::Gaussian, N, 1);
    let f = compress(&src, &small_opts(DType::Bf16, Method::Huffman)).unwrap();
    let mut rng = Rng(9);
    // Truncations and flips through the parser and the checksums.
    for cut in [0, 3, 5, 39, 40, 41, f.len() / 2, f.len() - 1] {
        assert!(decompress_with(&f[..cut], &ONE).is_err());
    }
    for _ in 0..8 {
        let mut bad = f.clone();
        let at = rng.next() as usize % f.len();
        bad[at] ^= 1 << (rng.next() % 8);
        assert!(decompress_with(&bad, &ONE).is_err());
    }
    // Garbage Huffman payloads with valid checksums reach the table-driven decoder.
    let info = frame_info(&f).unwrap();
    let payload_start = 40 + info.chunk_count as usize * (9 + 5 * 2) + 8;
    for round in 0..6 {
        let mut bad = f.clone();
        for _ in 0..1 + round {
            let at = payload_start + rng.next() as usize % (f.len() - payload_start);
            bad[at] = rng.next() as u8;
        }
        reseal(&mut bad, info.chunk_count as usize, 2);
        match decompress_with(&bad, &ONE) {
            Ok(out) => assert_eq!(out.len(), src.len()),
            Err(e) => assert_eq!(e, Error::Corrupt),
        }
    }
}

/// Rewrites every chunk checksum and the header checksum (no metadata).
fn reseal(f: &mut [u8], chunks: usize, planes: usize) {
    // The chunk checksum, the layout and the plane entries (format version 2).
    let entry = 9 + 5 * planes;
    let hs = 40 + chunks * entry;
    let mut at = hs + 8;
    for c in 0..chunks {
        let e = 40 + c * entry;
        let size: usize = (0..planes)
            .map(|p| {
                let q = e + 9 + 5 * p + 1;
                u32::from_le_bytes(f[q..q + 4].try_into().unwrap()) as usize
            })
            .sum();
        let sum = frame::checksum(&f[at..at + size]);
        f[e..e + 8].copy_from_slice(&sum.to_le_bytes());
        at += size;
    }
    let sum = frame::checksum(&f[..hs]);
    f[hs..hs + 8].copy_from_slice(&sum.to_le_bytes());
}
