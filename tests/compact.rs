//! Compact frames (docs/FORMAT.md 3.4): written for every input of at most one chunk of at
//! most 64 KiB with no metadata, delta or lossy step; round trips around the limit for
//! every dtype and level; every truncation and every single-bit flip an error that leaves
//! the output untouched; tampered frames with a valid checksum never panic.

mod common;

use common::{make, Kind, Rng};
use zipnn::frame::compact::{self, Measured};
use zipnn::*;

const LIMIT: usize = frame::COMPACT_MAX_BODY;

fn opts(dtype: DType, bg: u32, level: Level) -> Options {
    Options {
        bg_partitions: bg,
        level,
        ..Options::new(dtype)
    }
}

/// (dtype, bg_partitions) for every dtype, raw in every grouping.
fn dtypes() -> Vec<(DType, u32)> {
    let mut v: Vec<(DType, u32)> = DType::ALL.iter().map(|&d| (d, 1)).collect();
    v.extend([(DType::Raw, 2), (DType::Raw, 4), (DType::Raw, 8)]);
    v
}

/// Whole elements of `planes` bytes in `len` bytes.
fn body(len: usize, planes: usize) -> usize {
    len - len % planes
}

/// int64 shape constants as ONNX models hold them: small values, repeated tuples.
fn shapes(n: usize) -> Vec<u8> {
    let dims = [
        1i64, 3, 64, 128, 256, 512, -1, 0, 2, 320, 160, 80, 40, 20, 10,
    ];
    let mut r = Rng(7);
    let mut out = Vec::new();
    while out.len() < n {
        let k = 1 + r.below(4) as usize;
        for _ in 0..k {
            out.extend_from_slice(&dims[r.below(dims.len() as u64) as usize].to_le_bytes());
        }
    }
    out.truncate(n);
    out
}

#[test]
fn round_trips_around_the_limit_for_every_dtype_and_level() {
    let mut sizes: Vec<usize> = (0..=17).collect();
    sizes.extend([100, 1023, 1024, 1025, 5056, 4096 + 3]);
    for d in [0usize, 1, 7, 8, 9, 15] {
        sizes.push(LIMIT - d);
        sizes.push(LIMIT + d);
    }
    for (dtype, bg) in dtypes() {
        for &n in &sizes {
            for level in [Level::Fast, Level::Default, Level::Max] {
                // The max level's trials on 64 KiB are slow: two sizes there.
                if level == Level::Max && n > 8192 && n != LIMIT && n != LIMIT + 1 {
                    continue;
                }
                let o = opts(dtype, bg, level);
                let planes = o.planes();
                let kind = [Kind::Gaussian, Kind::Pattern, Kind::Random][n % 3];
                let src = make(dtype, kind, n, n as u64 + dtype as u64);
                let f = compress(&src, &o).unwrap();
                let name = format!("{dtype:?}/bg{bg}/{n}/{level:?}");
                assert_eq!(decompress(&f).unwrap(), src, "{name}");
                let info = frame_info(&f).unwrap();
                let is_compact = info.flags & frame::FLAG_COMPACT != 0;
                assert_eq!(is_compact, body(n, planes) <= LIMIT, "{name}");
                assert_eq!(info.frame_size, f.len() as u64, "{name}");
                assert_eq!(info.original_size, n as u64, "{name}");
                assert_eq!(info.planes as usize, planes, "{name}");
                if !is_compact {
                    continue;
                }
                assert_eq!(
                    info.chunk_size as usize,
                    frame::COMPACT_CHUNK_SIZE,
                    "{name}"
                );
                assert_eq!(info.chunk_count, (body(n, planes) > 0) as u64, "{name}");
                // Never longer than the plane payloads could be stored raw behind the
                // longest compact header.
                assert!(f.len() <= n + compact::COMPACT_MAX_HEADER + 4, "{name}");
                assert_eq!(compact::measure(&f).unwrap(), Measured::Len(f.len()));
                let mut out = vec![0u8; n];
                assert_eq!(decompress_into(&f, &mut out).unwrap(), n, "{name}");
                assert_eq!(out, src, "{name}");
                verify(&f).unwrap();
                if info.chunk_count == 1 {
                    let mut chunk = vec![0u8; info.chunk_size as usize];
                    let m = decompress_chunk(&f, 0, &mut chunk).unwrap();
                    assert_eq!(&chunk[..m], &src[..body(n, planes)], "{name}");
                }
            }
        }
    }
}

#[test]
fn every_method_writes_compact_frames_that_round_trip() {
    for (dtype, bg) in dtypes() {
        for method in Method::ALL {
            let o = Options {
                method,
                ..opts(dtype, bg, Level::Default)
            };
            let src = make(dtype, Kind::Pattern, 3000, 5);
            let f = compress(&src, &o).unwrap();
            let p = Frame::parse(&f).unwrap();
            assert!(p.is_compact(), "{dtype:?}/{method:?}");
            assert_eq!(decompress(&f).unwrap(), src, "{dtype:?}/{method:?}");
            // The chunk's stored bytes are the ones just before the frame's checksum: its
            // payload as parsed, without the magic number of each zstd plane.
            let mut stored = Vec::new();
            let mut at = 0;
            for e in p.planes(0) {
                let plane = &p.chunk_payload(0)[at..at + e.size as usize];
                at += e.size as usize;
                let skip = if e.codec == Codec::Zstd { 4 } else { 0 };
                stored.extend_from_slice(&plane[skip..]);
            }
            assert_eq!(p.chunk_stored_size(0), stored.len() as u64);
            assert_eq!(
                &f[f.len() - 4 - stored.len()..f.len() - 4],
                &stored[..],
                "{dtype:?}/{method:?}"
            );
        }
    }
}

#[test]
fn shape_constants_are_coded_joined_and_beat_zstd() {
    let src = shapes(5056);
    for (level, zstd_level) in [(Level::Default, 3), (Level::Max, 19)] {
        let o = opts(DType::Raw, 8, level);
        let f = compress(&src, &o).unwrap();
        let parsed = Frame::parse(&f).unwrap();
        assert!(parsed.joined().is_some(), "{level:?}: not joined");
        assert_eq!(decompress(&f).unwrap(), src);
        let z = zstd_size(&src, zstd_level);
        assert!(f.len() <= z, "{level:?}: {} bytes, zstd {z}", f.len());
    }
}

/// zstd at `level` on `src`, through the library's own zstd codec (method zstd, one plane).
fn zstd_size(src: &[u8], level: i32) -> usize {
    let o = Options {
        method: Method::Zstd,
        zstd_level: level,
        threshold: 1.0,
        ..Options::new(DType::Uint8)
    };
    let f = compress(src, &o).unwrap();
    let p = Frame::parse(&f).unwrap();
    // The compact frame stores zstd without its 4-byte magic: count it back.
    p.chunk_payload(0).len()
}

/// Compact frames of every form: empty, tail only, per-plane (raw, run, Huffman, zstd, in
/// both layouts), joined.
fn sample_frames() -> Vec<(String, Vec<u8>, Vec<u8>)> {
    let mut out = Vec::new();
    let mut add = |name: &str, src: Vec<u8>, o: Options| {
        let f = compress(&src, &o).unwrap();
        assert!(Frame::parse(&f).unwrap().is_compact(), "{name}");
        out.push((name.to_string(), src, f));
    };
    add("empty", Vec::new(), opts(DType::Raw, 1, Level::Default));
    add("tail", vec![1, 2, 3], opts(DType::Fp32, 1, Level::Default));
    add(
        "bf16",
        make(DType::Bf16, Kind::Gaussian, 1538, 3),
        opts(DType::Bf16, 1, Level::Default),
    );
    add(
        "fp32-max",
        make(DType::Fp32, Kind::Gaussian, 2051, 4),
        opts(DType::Fp32, 1, Level::Max),
    );
    add(
        "i64-joined",
        shapes(5056),
        opts(DType::Raw, 8, Level::Default),
    );
    add(
        "uint8-zstd",
        make(DType::Uint8, Kind::Pattern, 3000, 6),
        Options {
            method: Method::Zstd,
            ..Options::new(DType::Uint8)
        },
    );
    add(
        "zeros",
        vec![0u8; 4000],
        opts(DType::Fp16, 1, Level::Default),
    );
    out
}

#[test]
fn sample_frames_cover_every_form() {
    let frames = sample_frames();
    let joined = |n: &str| {
        let f = &frames.iter().find(|f| f.0 == n).unwrap().2;
        Frame::parse(f).unwrap().joined()
    };
    assert!(joined("i64-joined").is_some());
    assert!(joined("bf16").is_none());
    let zstd = &frames.iter().find(|f| f.0 == "uint8-zstd").unwrap().2;
    let p = Frame::parse(zstd).unwrap();
    assert_eq!(p.planes(0).next().unwrap().codec, Codec::Zstd);
}

#[test]
fn every_truncation_and_bit_flip_is_an_error_that_writes_nothing() {
    for (name, src, f) in sample_frames() {
        let mut out = vec![0x77u8; src.len() + 8];
        let mut chunk = vec![0x77u8; frame::COMPACT_CHUNK_SIZE];
        for cut in 0..f.len() {
            let t = &f[..cut];
            assert!(decompress(t).is_err(), "{name}: cut {cut}");
            assert!(
                decompress_into(t, &mut out).is_err(),
                "{name}: into, cut {cut}"
            );
            assert!(frame_info(t).is_err(), "{name}: info, cut {cut}");
            assert!(verify(t).is_err(), "{name}: verify, cut {cut}");
            assert!(
                decompress_chunk(t, 0, &mut chunk).is_err(),
                "{name}: chunk, cut {cut}"
            );
        }
        let mut bad = f.clone();
        for byte in 0..f.len() {
            for bit in 0..8 {
                bad[byte] ^= 1 << bit;
                let at = format!("{name}: flip {byte}.{bit}");
                assert!(decompress(&bad).is_err(), "{at}");
                assert!(decompress_into(&bad, &mut out).is_err(), "{at}");
                assert!(frame_info(&bad).is_err(), "{at}");
                assert!(verify(&bad).is_err(), "{at}");
                assert!(decompress_chunk(&bad, 0, &mut chunk).is_err(), "{at}");
                bad[byte] ^= 1 << bit;
            }
        }
        assert!(out.iter().all(|&b| b == 0x77), "{name}: output written");
        assert!(chunk.iter().all(|&b| b == 0x77), "{name}: chunk written");
        assert_eq!(decompress(&f).unwrap(), src);
    }
}

/// Rewrites a compact frame's checksum (at the end its header now says), as a hostile
/// encoder would; false where the header no longer gives a length within `f`.
fn reseal(f: &mut Vec<u8>) -> bool {
    match compact::measure(f) {
        Ok(Measured::Len(n)) if n <= f.len() => {
            f.truncate(n);
            let sum = frame::checksum(&f[..n - 4]) as u32;
            f[n - 4..].copy_from_slice(&sum.to_le_bytes());
            true
        }
        _ => false,
    }
}

#[test]
fn tampered_frames_with_a_valid_checksum_never_panic() {
    let mut rng = Rng(0xC0);
    for (name, src, f) in sample_frames() {
        let mut out = vec![0x55u8; src.len()];
        for round in 0..2000 {
            let mut bad = f.clone();
            for _ in 0..1 + round % 3 {
                let at = 6 + rng.below((f.len() - 10) as u64) as usize;
                bad[at] = rng.next() as u8;
            }
            if !reseal(&mut bad) {
                continue;
            }
            match decompress(&bad) {
                Ok(o) => assert!(o.len() <= LIMIT + 7, "{name}"),
                Err(e) => assert!(
                    matches!(
                        e,
                        Error::Corrupt | Error::UnsupportedDtype | Error::UnsupportedCodec
                    ),
                    "{name}: round {round}: {e:?}"
                ),
            }
            if let Ok(n) = decompress_into(&bad, &mut out) {
                assert!(n <= out.len());
            }
        }
    }
}

/// A compact frame from its parts, sealed.
fn sealed(mut f: Vec<u8>) -> Vec<u8> {
    let sum = frame::checksum(&f) as u32;
    f.extend_from_slice(&sum.to_le_bytes());
    f
}

#[test]
fn malformed_compact_frames_give_their_errors() {
    let head = |flags: u8, dtype: u8, form: u8| {
        let mut v = frame::MAGIC.to_vec();
        v.extend([frame::VERSION, flags, dtype, form]);
        v
    };
    // Four bytes of uint8, one raw plane.
    let plain = |flags: u8, dtype: u8, form: u8, rest: &[u8]| {
        let mut v = head(flags, dtype, form);
        v.push(4);
        v.extend_from_slice(rest);
        sealed(v)
    };
    let ok = plain(0x08, 8, 0, &[0, 1, 2, 3, 4]);
    assert_eq!(decompress(&ok).unwrap(), [1, 2, 3, 4]);
    let cases: Vec<(&str, Vec<u8>, Error)> = vec![
        (
            "with metadata flag",
            plain(0x09, 8, 0, &[0, 1, 2, 3, 4]),
            Error::Corrupt,
        ),
        (
            "with delta flag",
            plain(0x0A, 8, 0, &[0, 1, 2, 3, 4]),
            Error::Corrupt,
        ),
        (
            "with lossy flag",
            plain(0x0C, 8, 0, &[0, 1, 2, 3, 4]),
            Error::Corrupt,
        ),
        (
            "unknown flag",
            plain(0x18, 8, 0, &[0, 1, 2, 3, 4]),
            Error::UnsupportedFlags,
        ),
        (
            "unknown dtype",
            plain(0x08, 42, 0, &[0, 1, 2, 3, 4]),
            Error::UnsupportedDtype,
        ),
        (
            "planes of another dtype",
            plain(0x08, 8, 1, &[0, 1, 2, 3, 4]),
            Error::Corrupt,
        ),
        (
            "layout 1 of uint8",
            plain(0x08, 8, 4, &[0, 1, 2, 3, 4]),
            Error::Corrupt,
        ),
        (
            "codec bits per plane",
            plain(0x08, 8, 0x30, &[0, 1, 2, 3, 4]),
            Error::Corrupt,
        ),
        (
            "unknown codec",
            plain(0x08, 8, 0, &[0xEE, 1, 9]),
            Error::UnsupportedCodec,
        ),
        (
            "run of 2 bytes",
            plain(0x08, 8, 0, &[1, 2, 9]),
            Error::UnsupportedCodec,
        ),
        (
            "huffman as long as the plane",
            plain(0x08, 8, 0, &[2, 4, 1, 2, 3, 4]),
            Error::Corrupt,
        ),
        (
            "bad huffman",
            plain(0x08, 8, 0, &[2, 2, 0xFF, 0xFF]),
            Error::Corrupt,
        ),
        (
            "trailing byte",
            {
                let mut v = ok.clone();
                v.push(0);
                v
            },
            Error::Corrupt,
        ),
        (
            "checksum",
            {
                let mut v = ok.clone();
                v[10] ^= 1;
                v
            },
            Error::Checksum,
        ),
    ];
    for (name, f, want) in cases {
        // "run of 2 bytes": codec 1's implied size is one byte, so the frame's last two
        // bytes are not its checksum: a frame of another length, and a checksum error.
        let want = if name == "run of 2 bytes" {
            Error::Checksum
        } else {
            want
        };
        assert_eq!(decompress(&f), Err(want), "{name}");
    }
    // A size varint longer than three bytes, or not in its shortest form.
    let mut v = head(0x08, 8, 0);
    v.extend([0x84, 0x80, 0x80, 0x00]);
    assert_eq!(decompress(&sealed(v)), Err(Error::Corrupt));
    let mut v = head(0x08, 8, 0);
    v.extend([0x84, 0x00, 0, 1, 2, 3, 4]);
    assert_eq!(decompress(&sealed(v)), Err(Error::Corrupt));
    // A body above 64 KiB.
    let mut v = head(0x08, 8, 1 << 3);
    v.extend([0x81, 0x80, 0x04, 1, 0]);
    assert_eq!(decompress(&sealed(v)), Err(Error::Corrupt));
}

#[test]
fn frames_that_may_not_be_compact_are_ordinary() {
    let src = make(DType::Bf16, Kind::Gaussian, 2000, 1);
    let o = Options::new(DType::Bf16);
    let with_meta = compress_with_metadata(&src, b"m", &o).unwrap();
    assert!(!Frame::parse(&with_meta).unwrap().is_compact());
    let lossy = Options {
        lossy: Lossy::Mantissa { bits: 3 },
        ..o.clone()
    };
    assert!(!Frame::parse(&compress(&src, &lossy).unwrap())
        .unwrap()
        .is_compact());
    let base = make(DType::Bf16, Kind::Gaussian, 2000, 2);
    let delta = compress_delta(&src, &base, &o).unwrap();
    assert!(!Frame::parse(&delta).unwrap().is_compact());
    assert_eq!(decompress_delta(&delta, &base).unwrap(), src);
    // Two chunks of 1 KiB: ordinary.
    let two = Options {
        chunk_size: 1024,
        ..o.clone()
    };
    assert!(!Frame::parse(&compress(&src, &two).unwrap())
        .unwrap()
        .is_compact());
    // A compact frame given a base decodes as the plain frame it is.
    let plain = compress(&src, &o).unwrap();
    assert!(Frame::parse(&plain).unwrap().is_compact());
    assert_eq!(decompress_delta(&plain, &base).unwrap(), src);
}

/// fp32 tensors of a small model one after the other, as a file of biases and norms holds
/// them (the ISNet fp32 constants): each a few hundred values at its own scale and offset,
/// so the planes' statistics drift along the frame.
fn small_tensors(elements: usize) -> Vec<u8> {
    let mut r = Rng(11);
    let mut out = Vec::with_capacity(4 * elements + 4096);
    while out.len() < 4 * elements {
        let len = 16 + r.below(600);
        let scale = 0.5f64.powi(r.below(9) as i32);
        let mean = if r.below(3) == 0 { 2.0 * scale } else { 0.0 };
        for _ in 0..len {
            let v = (mean + r.gauss() * scale) as f32;
            out.extend_from_slice(&v.to_le_bytes());
        }
    }
    out.truncate(4 * elements);
    out
}

#[test]
fn max_level_codes_small_drifting_tensors_adaptively() {
    let src = small_tensors(14_589);
    let mut sizes = Vec::new();
    for level in [Level::Fast, Level::Default, Level::Max] {
        let f = compress(&src, &opts(DType::Fp32, 1, level)).unwrap();
        assert_eq!(decompress(&f).unwrap(), src);
        let frame = Frame::parse(&f).unwrap();
        assert!(frame.is_compact());
        // Codec 10 at the max level only.
        assert_eq!(
            frame.joined() == Some(Codec::Adaptive),
            level == Level::Max,
            "{level:?}"
        );
        if level == Level::Max {
            // Four segments (the planes); the sign and top mantissa byte takes the
            // exponent as context.
            let p = frame.chunk_payload(0);
            assert_eq!(p[0], 4);
            assert_eq!(p[2] & codec::adaptive::CONTEXT, codec::adaptive::CONTEXT);
        }
        sizes.push(f.len());
    }
    assert!(sizes[2] + 200 < sizes[1], "{sizes:?}");
    // Every truncation of the adaptive frame is an error; every flip of its payload too
    // (the checksum), and, resealed, an error or another output, never a panic.
    let f = compress(&src, &opts(DType::Fp32, 1, Level::Max)).unwrap();
    for cut in (0..f.len()).step_by(97) {
        assert!(decompress(&f[..cut]).is_err(), "cut {cut}");
    }
    let mut r = Rng(5);
    for _ in 0..300 {
        let mut bad = f.clone();
        let at = 20 + r.below(bad.len() as u64 - 24) as usize;
        bad[at] ^= 1 << r.below(8);
        assert_eq!(decompress(&bad), Err(Error::Checksum));
        if reseal(&mut bad) {
            if let Ok(out) = decompress(&bad) {
                assert_eq!(out.len(), src.len());
            }
        }
    }
}

#[test]
fn archive_tensors_are_never_coded_adaptively() {
    // The tensor a standalone frame codes adaptively at the max level (above): in an
    // archive it gets the best of the other codings, as the adaptive decoder is too slow
    // for tensors decoded at every load of a model.
    let src = small_tensors(14_589);
    let o = opts(DType::Fp32, 1, Level::Max);
    let alone = compress(&src, &o).unwrap();
    assert_eq!(
        Frame::parse(&alone).unwrap().joined(),
        Some(Codec::Adaptive)
    );
    let file = common::build_safetensors(&[("norms", "F32", vec![14_589], src.clone())], None);
    let ar = container::safetensors::compress(&file, &o).unwrap();
    let archive = container::safetensors::Archive::open(&ar).unwrap();
    let f = archive.frame("norms").unwrap();
    let frame = Frame::parse(&f).unwrap();
    assert!(frame.is_compact());
    assert_ne!(frame.joined(), Some(Codec::Adaptive));
    assert!(frame.planes(0).all(|p| p.codec != Codec::Adaptive));
    assert!(f.len() > alone.len());
    assert_eq!(decompress(&f).unwrap(), src);
    assert_eq!(container::safetensors::decompress(&ar).unwrap(), file);
}
