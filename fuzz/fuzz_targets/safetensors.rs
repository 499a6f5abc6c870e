//! Arbitrary bytes as a safetensors file (a file that parses must compress into an
//! archive that lists the same tensors, decodes each and restores the file byte for
//! byte) and as an archive (opened, listed, every tensor decoded, the file restored; the
//! per-tensor and whole-file results must agree). Archives are also tried with every
//! checksum resealed. The first byte chooses the compression options. The logic is in
//! tests/regressions/harness.rs.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| zipnn_fuzz::safetensors(data));
