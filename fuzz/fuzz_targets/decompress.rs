//! Arbitrary bytes into every decoding entry point: never a panic, and the entry points
//! agree. Inputs that start with the magic are also tried with every checksum resealed,
//! so that mutations reach the chunk decoders (Huffman, zstd, lz4, snappy, run, raw).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    zipnn_fuzz::exercise(data);
    if data.starts_with(&zipnn::frame::MAGIC) {
        let mut sealed = data.to_vec();
        zipnn_fuzz::reseal(&mut sealed);
        zipnn_fuzz::exercise(&sealed);
    }
});
