//! Corruption sweeps over the files the reference package wrote (tests/reference-vectors).
//! A reference frame has no checksum, so a flipped bit can decode to other bytes: what must
//! hold is that nothing panics, nothing decodes to a length other than the one the damaged
//! frame declares, a caller's buffer is left as it was on error, every truncation is an
//! error, and flips in the fields the decoder checks (magic, version, dtype and modes,
//! input format, delta, lossy fields, frame length) are errors.

mod common;

use std::path::Path;

use common::Rng;
use zipnn::stream::Decompressor;
use zipnn::*;

fn vectors() -> Vec<(String, Vec<u8>)> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/reference-vectors");
    let mut out = Vec::new();
    for sub in ["", "hf"] {
        for e in std::fs::read_dir(dir.join(sub)).unwrap() {
            let p = e.unwrap().path();
            let name = p.file_name().unwrap().to_string_lossy().into_owned();
            if name.ends_with(".znn") {
                out.push((name, std::fs::read(&p).unwrap()));
            }
        }
    }
    out.sort();
    assert_eq!(out.len(), 32, "the reference frames and streamed files");
    out
}

/// Decodes `data` every way; whatever happens, it must not panic and a decode must give
/// exactly the size the (damaged) input declares. Returns whether it decoded.
fn exercise(name: &str, data: &[u8]) -> bool {
    let opts = DecompressOptions {
        threads: 1,
        max_size: 1 << 26,
    };
    let size = decompressed_size(data);
    let whole = decompress_with(data, &opts);
    if let Ok(v) = &whole {
        assert_eq!(size, Ok(v.len() as u64), "{name}: decoded length");
        let mut dst = vec![0u8; v.len()];
        assert_eq!(decompress_into(data, &mut dst), Ok(v.len()), "{name}");
        assert_eq!(&dst, v, "{name}");
    } else if let Ok(n) = size {
        // A failed decode leaves the caller's buffer as it was.
        if n <= 1 << 24 {
            let mut dst = vec![0x5au8; n as usize];
            assert!(decompress_into(data, &mut dst).is_err(), "{name}");
            assert!(
                dst.iter().all(|&b| b == 0x5a),
                "{name}: dst written on error"
            );
        }
    }
    let _ = frame_info(data);
    let _ = verify(data);
    whole.is_ok()
}

/// Header bytes whose flips the decoder must refuse (but for the aliases noted where they
/// are checked): magic, version major and minor, byte and bit modes, input format, delta
/// kind, lossy fields, dtype code, frame length. (Byte 4 is the patch version, 7 a method
/// label, 13 the streaming byte, 14 the chunk log and 16..24 the original length: a flip
/// there can leave a frame that decodes.)
const CHECKED: [usize; 20] = [
    0, 1, 2, 3, 5, 8, 9, 10, 11, 12, 15, 24, 25, 26, 27, 28, 29, 30, 31, 6,
];

#[test]
fn header_bit_flips_never_panic_and_checked_fields_are_errors() {
    let mut accepted = 0;
    let mut total = 0;
    for (name, frame) in vectors() {
        let fp8 = matches!(frame[15], 29 | 30);
        // The header, the shape and the start of the tables (of large frames the header
        // alone: each flip decodes the whole frame).
        let end = if frame.len() > 64 << 10 {
            32
        } else {
            frame.len().min(32 + 64)
        };
        let mut bad = frame.clone();
        for byte in 0..end {
            for bit in 0..8 {
                bad[byte] ^= 1 << bit;
                let ok = exercise(&name, &bad);
                // 4 and 5 both name float16, byte 6 means nothing for FP8, a delta turned
                // into a plain frame decodes (to the XOR with its base), and torch and numpy
                // frames are laid out alike.
                let alias = (byte == 15 && matches!((frame[15], bad[15]), (4, 5) | (5, 4)))
                    || (byte == 9 && bad[9] == 0)
                    || (byte == 8 && matches!((frame[8], bad[8]), (2, 3) | (3, 2)));
                let must_fail = CHECKED.contains(&byte) && !(byte == 6 && fp8) && !alias;
                assert!(
                    !(ok && must_fail),
                    "{name}: flip at byte {byte} bit {bit} accepted"
                );
                accepted += ok as usize;
                total += 1;
                bad[byte] ^= 1 << bit;
            }
        }
    }
    println!("header and table flips: {accepted} of {total} still decode (no checksum)");
}

#[test]
fn payload_bit_flips_never_panic_or_change_the_length() {
    let mut rng = Rng(0x5eed);
    let mut accepted = 0;
    let mut total = 0;
    for (name, frame) in vectors() {
        if frame.len() <= 40 {
            continue;
        }
        let mut bad = frame.clone();
        for _ in 0..150 {
            let at = 32 + rng.next() as usize % (frame.len() - 32);
            let bit = rng.next() % 8;
            bad[at] ^= 1 << bit;
            accepted += exercise(&name, &bad) as usize;
            total += 1;
            bad[at] ^= 1 << bit;
        }
    }
    println!("payload flips: {accepted} of {total} still decode (no checksum)");
}

#[test]
fn every_truncation_is_an_error() {
    for (name, frame) in vectors() {
        // A streamed file cut between two of its frames is a shorter streamed file: the
        // format has no end marker (nor total length).
        let mut boundaries = Vec::new();
        let mut end = 0;
        for f in zipnn::refformat::frames(&frame).unwrap() {
            end += f.frame_size() as usize;
            boundaries.push(end);
        }
        // Every cut of the small ones; of the large ones, cuts across the header, tables
        // and a spread of payload lengths.
        let cuts: Vec<usize> = if frame.len() < 4096 {
            (0..frame.len()).collect()
        } else {
            (0..200)
                .chain((200..frame.len()).step_by(997))
                .chain([frame.len() - 1])
                .collect()
        };
        for cut in cuts {
            if boundaries.contains(&cut) {
                continue;
            }
            let part = &frame[..cut];
            assert!(decompress(part).is_err(), "{name}: prefix {cut}");
            assert!(verify(part).is_err(), "{name}: prefix {cut}");
            // The stream decoder: not complete.
            let mut d = Decompressor::new();
            let mut out = vec![0u8; 1 << 16];
            let mut at = 0;
            // Feed everything, taking the output as it comes.
            while let Ok((c, w)) = d.decompress(&part[at..], &mut out) {
                at += c;
                if c == 0 && w == 0 {
                    break;
                }
            }
            assert!(
                d.finish().is_err(),
                "{name}: stream decoder accepted prefix {cut}"
            );
        }
    }
}

#[test]
fn damaged_reference_safetensors_never_panic() {
    use zipnn::container::safetensors::Archive;
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/reference-vectors");
    let mut rng = Rng(77);
    for name in ["st.meta.znn.safetensors", "st.nometa.znn.safetensors"] {
        let file = std::fs::read(dir.join(name)).unwrap();
        let mut bad = file.clone();
        for _ in 0..400 {
            let at = rng.next() as usize % file.len();
            let bit = rng.next() % 8;
            bad[at] ^= 1 << bit;
            if let Ok(a) = Archive::open(&bad) {
                let _ = a.restore();
                for t in a.tensors() {
                    if let Ok(v) = a.tensor(&t.name) {
                        assert_eq!(v.len() as u64, t.data_offsets.1 - t.data_offsets.0);
                    }
                }
            }
            bad[at] ^= 1 << bit;
        }
        for cut in (0..file.len()).step_by(37) {
            assert!(
                Archive::open(&file[..cut])
                    .and_then(|a| a.restore())
                    .is_err(),
                "{name}: {cut}"
            );
        }
    }
}
