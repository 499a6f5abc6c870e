//! Arbitrary bytes into every stream decoder (push Decompressor, io::Reader, the C ABI
//! stream handles, StreamReader and the C ABI random-access calls), in piece and output
//! sizes chosen by the first byte: never a panic or an over-read, and all of them agree; a
//! stream that decodes reads back the same at random. Streams are also tried with every
//! checksum resealed; other inputs are compressed as streams in pieces and must round
//! trip. The logic is in tests/regressions/harness.rs.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| zipnn_fuzz::stream_decode(data));
