//! Codec 10 (adaptive, docs/FORMAT.md section 13) on its own: arbitrary bytes as a payload
//! for an output of a length the input picks never panic and never write past the output;
//! arbitrary bytes coded in one to eight segments decode back to themselves.
#![no_main]

use libfuzzer_sys::fuzz_target;
use zipnn::codec::adaptive;
use zipnn::Error;

fuzz_target!(|data: &[u8]| {
    let Some((&head, rest)) = data.split_first() else {
        return;
    };
    // As a payload: an output of 0 to 1023 bytes, with a guard after it.
    let len = (head as usize) << 2 | rest.len() & 3;
    let mut out = vec![0xA5u8; len + 16];
    match adaptive::decode(rest, &mut out[..len]) {
        Ok(()) | Err(Error::Corrupt) => {}
        Err(e) => panic!("unexpected error {e:?}"),
    }
    assert!(out[len..].iter().all(|&b| b == 0xA5));
    // As an input: k segments (the bytes that fit), coded and decoded.
    let k = 1 + (head as usize) % adaptive::MAX_SEGMENTS;
    let src = &rest[..rest.len() - rest.len() % k];
    let mut payload = Vec::new();
    let size = adaptive::encode(src, k, usize::MAX, &mut payload).expect("no bound");
    assert_eq!(size, payload.len());
    let mut back = vec![0u8; src.len()];
    adaptive::decode(&payload, &mut back).expect("own payload");
    assert_eq!(back, src);
});
