//! Arbitrary bytes into the decoder of frames the reference package wrote
//! (`zipnn::refformat`): never a panic, never more output than the frames declare, a
//! caller's buffer untouched on error, and the entry points agree. An input that starts
//! with the reference magic is also tried with its first frame's length (header bytes
//! 24..32) set to the input's length, so that mutations of the tables and blocks reach
//! the Huffman and FSE decoders instead of stopping at the length check.
#![no_main]

use libfuzzer_sys::fuzz_target;
use zipnn::refformat;
use zipnn::{DecompressOptions, Error};

/// Largest output decoded (larger declared sizes must be refused by the limit).
const MAX_OUT: u64 = 1 << 26;

fn exercise(data: &[u8]) {
    let one = DecompressOptions {
        threads: 1,
        max_size: MAX_OUT,
    };
    let info = refformat::info(data);
    let size = refformat::decompressed_size(data);
    assert_eq!(info.as_ref().map(|i| i.original_size).ok(), size.ok());
    let out = refformat::decompress(data, &one);
    let Ok(info) = info else {
        assert!(out.is_err());
        return;
    };
    assert_eq!(info.size, data.len() as u64);
    if info.original_size > MAX_OUT {
        assert_eq!(out, Err(Error::LimitExceeded));
        return;
    }
    let delta = info.first.delta != refformat::DeltaKind::None;
    match out {
        Ok(v) => {
            assert!(!delta);
            assert_eq!(v.len() as u64, info.original_size);
            // Several threads give the same bytes.
            let all = DecompressOptions {
                threads: 0,
                max_size: MAX_OUT,
            };
            assert_eq!(refformat::decompress(data, &all).as_ref(), Ok(&v));
            let mut dst = vec![0x5au8; v.len() + 1];
            assert_eq!(
                refformat::decompress_into(data, &mut dst, &one),
                Ok(v.len())
            );
            assert_eq!(&dst[..v.len()], &v[..]);
            if !v.is_empty() {
                let mut short = vec![0x5au8; v.len() - 1];
                assert_eq!(
                    refformat::decompress_into(data, &mut short, &one),
                    Err(Error::DstTooSmall)
                );
                assert!(short.iter().all(|&b| b == 0x5a));
            }
        }
        Err(e) => {
            if delta && e == Error::BaseRequired {
                // A base of the right length: XOR of the plain decode.
                let base = vec![0xffu8; info.original_size as usize];
                if let Ok(v) = refformat::decompress_delta(data, &base, &one) {
                    assert_eq!(v.len(), base.len());
                }
                return;
            }
            // A failed decode leaves the caller's buffer as it was.
            let mut dst = vec![0x5au8; info.original_size as usize];
            assert!(refformat::decompress_into(data, &mut dst, &one).is_err());
            assert!(dst.iter().all(|&b| b == 0x5a));
        }
    }
}

fuzz_target!(|data: &[u8]| {
    exercise(data);
    if data.len() >= refformat::HEADER_SIZE && refformat::is_reference(data) {
        let mut fixed = data.to_vec();
        fixed[24..32].copy_from_slice(&(data.len() as u64).to_le_bytes());
        exercise(&fixed);
    }
});
