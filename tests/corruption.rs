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
fn random_bytes_behind_a_valid_magic_are_errors_and_the_readers_agree() {
    let mut rng = Rng(777);
    let mut seen = std::collections::HashMap::new();
    for _ in 0..20_000 {
        let len = (rng.next() % 200) as usize;
        let mut b: Vec<u8> = (0..len).map(|_| rng.next() as u8).collect();
        if b.len() >= 5 {
            b[..4].copy_from_slice(&frame::MAGIC);
            b[4] = frame::VERSION;
        }
        // Random bytes never pass the header checksums: both readers refuse them, with
        // the same error (they parse the same header).
        let d = decompress(&b).expect_err("random bytes decoded");
        let i = frame_info(&b).expect_err("random bytes have a frame header");
        assert_eq!(d, i, "{b:02x?}");
        *seen.entry(d).or_insert(0) += 1;
    }
    // Every path was taken: short inputs end early, longer ones fail the fixed checksum;
    // with flag bit 3 (a compact frame, docs/FORMAT.md 3.4) and an unknown flag they are
    // refused for it, and the others fail their checksum or end early too.
    for (e, min) in [
        (Error::Truncated, 100),
        (Error::Checksum, 6_000),
        (Error::UnsupportedFlags, 6_000),
    ] {
        assert!(seen.get(&e).is_some_and(|&n| n > min), "{e:?}: {seen:?}");
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
    // The chunk checksum, the layout (format version 2) and the plane entries.
    let planes_at = if frame[4] == 1 { 8 } else { 9 };
    let entry = planes_at + 5 * planes;
    let payload_start = meta_end + chunks * entry + 8;
    let mut at = payload_start;
    for c in 0..chunks {
        let e = meta_end + c * entry;
        let size: usize = (0..planes)
            .map(|p| {
                let q = e + planes_at + 5 * p + 1;
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

// --- Additions (issue #9): codec coverage, thousands of payload bits, chunk-level sweeps ---

/// One frame per dtype x method (plus raw byte grouping), with data chosen so that every
/// forced method really codes at least one plane-chunk with its codec (`frames()` alone
/// misses some, e.g. raw bytes under forced Huffman), and a metadata block.
fn coverage_frames() -> Vec<(String, Vec<u8>, Vec<u8>)> {
    let mut out = Vec::new();
    let kinds = [Kind::Gaussian, Kind::Pattern, Kind::Special, Kind::Random];
    for dtype in DType::ALL {
        for method in Method::ALL {
            let bgs: &[u32] = if dtype == DType::Raw { &[1, 4] } else { &[1] };
            for &bg in bgs {
                let o = Options {
                    method,
                    chunk_size: 1024,
                    bg_partitions: bg,
                    ..Options::new(dtype)
                };
                let found = kinds.iter().find_map(|&kind| {
                    let seed = dtype as u64 * 31 + method as u64 * 7 + kind as u64;
                    let src = make(dtype, kind, 3 * 1024 + 5, seed);
                    let f = compress_with_metadata(&src, b"meta", &o).unwrap();
                    let ok = forced_codec(method).map_or(true, |c| codecs_in(&f).contains(&c));
                    ok.then(|| (format!("{dtype:?}/{method:?}/bg{bg}/{kind:?}"), src, f))
                });
                out.push(found.unwrap_or_else(|| {
                    panic!("no test data makes {dtype:?}/{method:?}/bg{bg} use its codec")
                }));
            }
        }
    }
    out
}

/// The codecs a frame's chunk table uses.
fn codecs_in(frame: &[u8]) -> Vec<Codec> {
    let f = Frame::parse(frame).unwrap();
    let mut v: Vec<Codec> = (0..f.chunk_count())
        .flat_map(|i| f.planes(i).map(|p| p.codec).collect::<Vec<_>>())
        .collect();
    v.sort_by_key(|c| *c as u8);
    v.dedup();
    v
}

/// The codec a forced method must put in at least one plane-chunk.
fn forced_codec(method: Method) -> Option<Codec> {
    match method {
        Method::Huffman => Some(Codec::Huffman),
        Method::Zstd => Some(Codec::Zstd),
        Method::Lz4 => Some(Codec::Lz4),
        Method::Snappy => Some(Codec::Snappy),
        Method::Raw => Some(Codec::Raw),
        Method::Auto => None,
    }
}

#[test]
fn sweeps_cover_every_dtype_and_codec() {
    let mut seen = std::collections::HashSet::new();
    for (name, _src, frame) in coverage_frames() {
        let used = codecs_in(&frame);
        let method = Method::ALL
            .into_iter()
            .find(|m| name.split('/').nth(1) == Some(&format!("{m:?}")))
            .unwrap();
        if let Some(c) = forced_codec(method) {
            assert!(
                used.contains(&c),
                "{name}: the sweep frame never uses {c:?} (uses {used:?})"
            );
        }
        for c in used {
            seen.insert((name.split('/').next().unwrap().to_string(), c as u8));
        }
    }
    // Every dtype is swept with every entropy codec, raw and run somewhere.
    for dtype in DType::ALL {
        for c in [
            Codec::Huffman,
            Codec::Zstd,
            Codec::Lz4,
            Codec::Snappy,
            Codec::Raw,
        ] {
            assert!(
                seen.contains(&(format!("{dtype:?}"), c as u8)),
                "{dtype:?} x {c:?} not swept"
            );
        }
    }
    assert!(
        seen.iter().any(|(_, c)| *c == Codec::Run as u8),
        "no run plane swept"
    );
}

/// Flips `bits` payload bits of every sweep frame (every payload bit when there are fewer)
/// and checks the whole-frame and per-chunk entry points.
fn payload_sweep(bits_per_frame: usize) {
    let mut rng = Rng(0xF11B);
    for (name, src, frame) in coverage_frames() {
        let f = Frame::parse(&frame).unwrap();
        let cs = f.header().chunk_size;
        let chunk_of = {
            let mut ends = Vec::new();
            let mut at = frame.len() - payload_len(&frame);
            for i in 0..f.chunk_count() {
                at += f.chunk_payload(i).len();
                ends.push(at);
            }
            move |byte: usize| ends.iter().position(|&e| byte < e).unwrap()
        };
        let payload = payload_len(&frame);
        let start = frame.len() - payload;
        let total = payload * 8;
        let picks: Vec<usize> = if total <= bits_per_frame {
            (0..total).collect()
        } else {
            (0..bits_per_frame)
                .map(|_| (rng.next() % total as u64) as usize)
                .collect()
        };
        let mut bad = frame.clone();
        let mut out = vec![0x77u8; src.len()];
        let mut chunk = vec![0u8; cs];
        for bit in picks {
            let at = start + bit / 8;
            bad[at] ^= 1 << (bit % 8);
            assert_eq!(decompress(&bad), Err(Error::Checksum), "{name}: bit {bit}");
            assert_eq!(
                decompress_into(&bad, &mut out),
                Err(Error::Checksum),
                "{name}: into, bit {bit}"
            );
            assert!(out.iter().all(|&b| b == 0x77), "{name}: dst written");
            assert_eq!(verify(&bad), Err(Error::Checksum), "{name}: verify");
            // Only the damaged chunk fails; the others still decode alone.
            let hit = chunk_of(at);
            for c in 0..f.chunk_count() {
                let r = decompress_chunk(&bad, c as u64, &mut chunk);
                if c == hit {
                    assert_eq!(r, Err(Error::Checksum), "{name}: chunk {c}");
                } else {
                    let n = r.unwrap_or_else(|e| panic!("{name}: chunk {c}: {e:?}"));
                    let s = c * cs;
                    assert_eq!(&chunk[..n], &src[s..s + n], "{name}: chunk {c}");
                }
            }
            bad[at] ^= 1 << (bit % 8);
        }
        assert_eq!(bad, frame);
    }
}

#[test]
fn thousands_of_payload_bit_flips_per_frame() {
    payload_sweep(3000);
}

#[test]
fn every_truncation_of_every_entry_point_is_an_error() {
    for (name, _src, frame) in coverage_frames() {
        let info = frame_info(&frame).unwrap();
        let mut chunk = vec![0u8; info.chunk_size as usize];
        let mut out = vec![0u8; info.original_size as usize];
        for cut in 0..frame.len() {
            let t = &frame[..cut];
            assert!(decompress_into(t, &mut out).is_err(), "{name}: into {cut}");
            assert!(verify(t).is_err(), "{name}: verify {cut}");
            assert!(decompressed_size(t).is_err(), "{name}: size {cut}");
            assert!(metadata(t).is_err(), "{name}: metadata {cut}");
            for c in 0..info.chunk_count {
                assert!(
                    decompress_chunk(t, c, &mut chunk).is_err(),
                    "{name}: chunk {c} at {cut}"
                );
            }
        }
    }
}

#[test]
fn every_header_bit_flip_fails_every_entry_point() {
    for (name, src, frame) in coverage_frames() {
        let header_len = frame.len() - payload_len(&frame);
        let info = frame_info(&frame).unwrap();
        let mut chunk = vec![0u8; info.chunk_size as usize];
        let mut bad = frame.clone();
        for byte in 0..header_len {
            for bit in 0..8 {
                bad[byte] ^= 1 << bit;
                assert!(frame_info(&bad).is_err(), "{name}: info {byte}.{bit}");
                assert!(verify(&bad).is_err(), "{name}: verify {byte}.{bit}");
                for c in 0..info.chunk_count {
                    // Never a success with other bytes.
                    if let Ok(n) = decompress_chunk(&bad, c, &mut chunk) {
                        let s = c as usize * info.chunk_size as usize;
                        panic!("{name}: chunk {c} decoded {n} bytes (src {:?}) after a header flip at {byte}.{bit}", &src[s..s + 4.min(n)]);
                    }
                }
                bad[byte] ^= 1 << bit;
            }
        }
    }
}

#[test]
fn tampered_payloads_of_every_codec_never_panic() {
    // As `tampered_payloads_with_valid_checksums_never_panic`, over every dtype x codec,
    // through the whole-frame, into and per-chunk decoders.
    let mut rng = Rng(0x5EA1);
    for (name, src, frame) in coverage_frames() {
        let payload = payload_len(&frame);
        let start = frame.len() - payload;
        let info = frame_info(&frame).unwrap();
        let mut chunk = vec![0u8; info.chunk_size as usize];
        let mut out = vec![0u8; src.len()];
        for round in 0..300 {
            let mut bad = frame.clone();
            for _ in 0..1 + round % 4 {
                let at = start + (rng.next() as usize % payload);
                bad[at] = rng.next() as u8;
            }
            reseal(&mut bad);
            match decompress(&bad) {
                Ok(o) => assert_eq!(o.len(), src.len(), "{name}: wrong length"),
                Err(e) => assert_eq!(e, Error::Corrupt, "{name}: round {round}"),
            }
            match decompress_into(&bad, &mut out) {
                Ok(n) => assert_eq!(n, src.len()),
                Err(e) => assert_eq!(e, Error::Corrupt, "{name}: into, round {round}"),
            }
            for c in 0..info.chunk_count {
                if let Err(e) = decompress_chunk(&bad, c, &mut chunk) {
                    assert_eq!(e, Error::Corrupt, "{name}: chunk {c}, round {round}");
                }
            }
        }
    }
}

/// A uint8 frame whose planes are codec 8 (Huffman in blocks): chunks of 1 MiB, each four
/// blocks of 256 KiB whose values shift from block to block.
fn blocks_frame() -> (Vec<u8>, Vec<u8>) {
    let mut rng = Rng(0xB10C);
    let n = 2 * 1024 * 1024 + 300_000;
    let src: Vec<u8> = (0..n)
        .map(|i| (i / (256 * 1024)) as u8 * 16 + (rng.next().trailing_zeros() as u8).min(15))
        .collect();
    let o = Options {
        chunk_size: 1024 * 1024,
        ..Options::new(DType::Uint8)
    };
    let frame = compress(&src, &o).unwrap();
    assert!(codecs_in(&frame).contains(&Codec::HuffmanBlocks));
    (src, frame)
}

#[test]
fn tampered_codec_8_payloads_are_errors_never_panics() {
    let (src, frame) = blocks_frame();
    let f = Frame::parse(&frame).unwrap();
    let start = frame.len() - payload_len(&frame);
    // The start of every chunk's payload: its size table (four u32 for a whole chunk).
    let tables: Vec<usize> = (0..f.chunk_count())
        .scan(start, |at, i| {
            let here = *at;
            *at += f.chunk_payload(i).len();
            Some(here)
        })
        .collect();
    let mut out = vec![0x55u8; src.len()];
    let mut check = |bad: &mut Vec<u8>, what: &str, must_fail: bool| {
        reseal(bad);
        match decompress(bad) {
            Ok(o) => {
                assert!(!must_fail, "{what}: decoded");
                assert_eq!(o.len(), src.len(), "{what}: wrong length");
            }
            Err(e) => assert_eq!(e, Error::Corrupt, "{what}"),
        }
        if let Err(e) = decompress_into(bad, &mut out) {
            assert_eq!(e, Error::Corrupt, "{what}: into");
        }
    };
    // Sizes in the table out of range: 0, past the block, past the payload, a run's size
    // for a coded block, one byte moved from one block to the next (in the two whole
    // chunks, of four blocks each).
    for &t in &tables[..2] {
        for (k, value) in [(0, 0u32), (1, 256 * 1024 + 1), (2, u32::MAX), (0, 1)] {
            let mut bad = frame.clone();
            bad[t + 4 * k..t + 4 * k + 4].copy_from_slice(&value.to_le_bytes());
            check(
                &mut bad,
                &format!("table at {t}, entry {k} = {value}"),
                true,
            );
        }
        let mut bad = frame.clone();
        let a = u32::from_le_bytes(bad[t..t + 4].try_into().unwrap());
        let b = u32::from_le_bytes(bad[t + 4..t + 8].try_into().unwrap());
        bad[t..t + 4].copy_from_slice(&(a - 1).to_le_bytes());
        bad[t + 4..t + 8].copy_from_slice(&(b + 1).to_le_bytes());
        check(&mut bad, &format!("table at {t}, a byte moved"), true);
    }
    // Random bytes anywhere in the payloads, tables included.
    let mut rng = Rng(0x8B10);
    let payload = frame.len() - start;
    for round in 0..400 {
        let mut bad = frame.clone();
        for _ in 0..1 + round % 3 {
            let at = if round % 2 == 0 {
                tables[round % tables.len()] + rng.next() as usize % 16
            } else {
                start + rng.next() as usize % payload
            };
            bad[at] = rng.next() as u8;
        }
        check(&mut bad, &format!("round {round}"), false);
    }
    assert!(decompress(&frame).unwrap() == src);
}

/// The codec 9 (sparse) plane payloads of a bf16 delta frame (a fine-tune that moved one
/// byte in about 30 by a bit), with their plane lengths.
fn sparse_planes() -> Vec<(Vec<u8>, usize)> {
    let base = make(DType::Bf16, Kind::Gaussian, 600_000, 9);
    let mut ft = base.clone();
    let mut rng = Rng(0x5BA5E);
    for b in ft.iter_mut() {
        if rng.next() % 30 == 0 {
            *b ^= 1 << (rng.next() % 3);
        }
    }
    let frame = compress_delta(&ft, &base, &Options::new(DType::Bf16)).unwrap();
    assert!(decompress_delta(&frame, &base).unwrap() == ft);
    let f = Frame::parse(&frame).unwrap();
    let mut out = Vec::new();
    for i in 0..f.chunk_count() {
        let n = f.header().chunk_len(i as u64) / f.header().planes;
        let mut at = 0;
        for p in f.planes(i) {
            let payload = &f.chunk_payload(i)[at..at + p.size as usize];
            at += p.size as usize;
            if p.codec == Codec::Sparse {
                out.push((payload.to_vec(), n));
            }
        }
    }
    assert!(!out.is_empty());
    out
}

#[test]
fn tampered_codec_9_payloads_are_errors_never_panics() {
    let planes = sparse_planes();
    let mut rng = Rng(0x9C0D);
    let mut decoded = 0;
    for (k, (good, n)) in planes.iter().enumerate() {
        let mut dst = vec![0u8; *n];
        codec::decode_plane(Codec::Sparse, good, &mut dst).unwrap();
        for round in 0..300 {
            let mut bad = good.clone();
            for _ in 0..1 + round % 3 {
                // Half the rounds in the 14-byte head (codecs, counts, the gap stream's
                // size), the others anywhere.
                let at = if round % 2 == 0 {
                    rng.next() as usize % 14
                } else {
                    rng.next() as usize % bad.len()
                };
                bad[at] = rng.next() as u8;
            }
            match codec::decode_plane(Codec::Sparse, &bad, &mut dst) {
                Ok(()) => decoded += 1,
                Err(e) => assert_eq!(e, Error::Corrupt, "plane {k}, round {round}"),
            }
        }
        // Cut short at every length of the head and a few past it.
        for cut in (0..20).chain([good.len() / 2, good.len() - 1]) {
            assert_eq!(
                codec::decode_plane(Codec::Sparse, &good[..cut], &mut dst),
                Err(Error::Corrupt),
                "plane {k}, cut {cut}"
            );
        }
    }
    // Most tampering is caught by the payload's own rules, not only by the checksums.
    assert!(decoded < planes.len() * 300 / 2, "{decoded}");
}
