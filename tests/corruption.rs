//! Corruption sweeps: every header bit flipped, thousands of payload bits flipped, every
//! truncation. Each must be an error: never a panic, never success with other output.

mod common;

use common::{make, Kind, Rng};
use zipnn::*;

fn frames() -> Vec<(String, Vec<u8>, Vec<u8>)> {
    let mut out = Vec::new();
    for dtype in DType::ALL {
        for method in Method::ALL {
            let kind =
                if method == Method::Zstd || method == Method::Lz4 || method == Method::Snappy {
                    Kind::Pattern
                } else {
                    Kind::Gaussian
                };
            let src = make(dtype, kind, 3 * 1024 + 3, dtype as u64 + 10 * method as u64);
            let o = Options {
                method,
                chunk_size: 1024,
                ..Options::new(dtype)
            };
            let f = compress_with_metadata(&src, b"meta", &o).unwrap();
            out.push((format!("{dtype:?}/{method:?}"), src, f));
        }
    }
    out
}

fn payload_len(frame: &[u8]) -> usize {
    let f = Frame::parse(frame).unwrap();
    (0..f.chunk_count()).map(|i| f.chunk_payload(i).len()).sum()
}

#[test]
fn every_header_bit_flip_is_an_error() {
    for (name, _src, frame) in frames() {
        let header_len = frame.len() - payload_len(&frame);
        let mut bad = frame.clone();
        for byte in 0..header_len {
            for bit in 0..8 {
                bad[byte] ^= 1 << bit;
                let r = decompress(&bad);
                assert!(r.is_err(), "{name}: flip at byte {byte} bit {bit} accepted");
                bad[byte] ^= 1 << bit;
            }
        }
    }
}

#[test]
fn payload_bit_flips_are_checksum_errors() {
    let mut rng = Rng(12345);
    for (name, _src, frame) in frames() {
        let payload = payload_len(&frame);
        let start = frame.len() - payload;
        let mut bad = frame.clone();
        for _ in 0..60 {
            let at = start + (rng.next() as usize % payload);
            let bit = rng.next() % 8;
            bad[at] ^= 1 << bit;
            assert_eq!(decompress(&bad), Err(Error::Checksum), "{name}: byte {at}");
            bad[at] ^= 1 << bit;
        }
    }
}

#[test]
fn every_truncation_is_an_error() {
    for (name, src, frame) in frames() {
        for cut in 0..frame.len() {
            assert!(decompress(&frame[..cut]).is_err(), "{name}: prefix {cut}");
            assert!(frame_info(&frame[..cut]).is_err() || cut >= frame.len());
        }
        assert_eq!(decompress(&frame).unwrap(), src);
    }
}

#[test]
fn random_bytes_behind_a_valid_magic_never_panic() {
    let mut rng = Rng(777);
    for _ in 0..20_000 {
        let len = (rng.next() % 200) as usize;
        let mut b: Vec<u8> = (0..len).map(|_| rng.next() as u8).collect();
        if b.len() >= 5 {
            b[..4].copy_from_slice(&frame::MAGIC);
            b[4] = frame::VERSION;
        }
        let _ = decompress(&b);
        let _ = frame_info(&b);
    }
}

/// Rewrites every checksum so that a tampered frame passes them, as an attacker would.
fn reseal(frame: &mut [u8]) {
    // Layout from the fixed header (docs/FORMAT.md): tampering touched payload bytes only.
    let planes = frame[7] as usize;
    let meta_end = 40 + u32::from_le_bytes(frame[32..36].try_into().unwrap()) as usize;
    let size = u64::from_le_bytes(frame[16..24].try_into().unwrap()) as usize;
    let cs = u32::from_le_bytes(frame[8..12].try_into().unwrap()) as usize;
    let chunks = (size - size % planes).div_ceil(cs);
    let entry = 8 + 5 * planes;
    let payload_start = meta_end + chunks * entry + 8;
    let mut at = payload_start;
    for c in 0..chunks {
        let e = meta_end + c * entry;
        let size: usize = (0..planes)
            .map(|p| {
                let q = e + 8 + 5 * p + 1;
                u32::from_le_bytes(frame[q..q + 4].try_into().unwrap()) as usize
            })
            .sum();
        let sum = frame::checksum(&frame[at..at + size]);
        frame[e..e + 8].copy_from_slice(&sum.to_le_bytes());
        at += size;
    }
    let hs = payload_start - 8;
    let sum = frame::checksum(&frame[..hs]);
    frame[hs..hs + 8].copy_from_slice(&sum.to_le_bytes());
}

#[test]
fn tampered_payloads_with_valid_checksums_never_panic() {
    let mut rng = Rng(4242);
    for (name, src, frame) in frames() {
        let payload = payload_len(&frame);
        let start = frame.len() - payload;
        for round in 0..200 {
            let mut bad = frame.clone();
            for _ in 0..1 + round % 4 {
                let at = start + (rng.next() as usize % payload);
                bad[at] = rng.next() as u8;
            }
            reseal(&mut bad);
            assert!(
                Frame::parse(&bad).is_ok(),
                "{name}: reseal broke the header"
            );
            match decompress(&bad) {
                Ok(out) => assert_eq!(out.len(), src.len(), "{name}: wrong length"),
                Err(e) => assert!(
                    matches!(e, Error::Corrupt),
                    "{name}: tampered payload gave {e:?}"
                ),
            }
        }
    }
}
