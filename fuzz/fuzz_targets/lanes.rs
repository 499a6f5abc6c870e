//! Codec 11 (Huffman in 128 lanes, docs/FORMAT.md section 14) on its own: arbitrary bytes
//! as a payload for an output of a length the input picks never panic, never give an error
//! other than `Corrupt`, and never write past the output; arbitrary bytes made into skewed
//! planes and compressed for target avx512 decode back to themselves.
#![no_main]

use libfuzzer_sys::fuzz_target;
use zipnn::codec::lanes;
use zipnn::{DType, Error, Options, Target};

fuzz_target!(|data: &[u8]| {
    let [lo, head, rest @ ..] = data else {
        return;
    };
    let head = *head;
    // As a payload: an output of the length the first two bytes give (up to 65535 bytes),
    // with a guard after it.
    let len = usize::from(u16::from_le_bytes([*lo, head]));
    let mut out = vec![0xA5u8; len + 16];
    match lanes::decode(rest, &mut out[..len]) {
        Ok(()) | Err(Error::Corrupt) => {}
        Err(e) => panic!("unexpected error {e:?}"),
    }
    assert!(out[len..].iter().all(|&b| b == 0xA5));
    // As an input: each byte's low bits widened to a bf16 exponent near 120, so that the
    // exponent planes are skewed as real ones and long enough for lanes; repeated to at
    // least 16 KiB.
    if rest.is_empty() {
        return;
    }
    let mut src = Vec::new();
    while src.len() < 16384 {
        for &b in rest {
            let e = 118 + (b & 7).trailing_zeros() as u16 + (b >> 6) as u16;
            src.extend_from_slice(
                &(e << 7 | u16::from(b & 0x7F) | u16::from(head & 1) << 15).to_le_bytes(),
            );
        }
    }
    let opts = Options {
        target: Target::Avx512,
        threads: 1,
        ..Options::new(DType::Bf16)
    };
    let frame = zipnn::compress(&src, &opts).expect("compresses");
    assert_eq!(zipnn::decompress(&frame).expect("own frame"), src);
});
