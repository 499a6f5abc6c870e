//! Regression inputs found by fuzzing (scripts/fuzz.sh), and the seed corpora of the
//! stream and safetensors targets.
//!
//! A crash found by a fuzz target goes here as the artifact from fuzz/artifacts/<target>/:
//! - `<target>-<short description>.znn` for the frame targets (decompress, frame_info,
//!   decompress_dst_too_small, round_trip): fed to every decoding entry point, which must
//!   not panic and must agree;
//! - `stream_decode-<short description>` and `safetensors-<short description>`: run
//!   through the target's own code (harness.rs, shared with fuzz/src/lib.rs), so the test
//!   checks exactly what the fuzzer checked;
//!
//! plus a named test when it needs more than that. The golden invalid vectors are run as
//! a baseline.
//!
//! `seeds/<target>/` holds small valid streams, safetensors files and archives (written
//! by `ZIPNN_BLESS=1 cargo test --test regressions`, from tests/vectors and generated
//! data) that seed the fuzz corpora; each must pass its target's checks *and* decode.

#[path = "../common/mod.rs"]
mod common;
mod harness;

use std::path::{Path, PathBuf};

use common::{make, Kind};
use zipnn::container::safetensors::{self as st, Archive, SafeTensors};
use zipnn::*;

fn check(name: &str, data: &[u8]) {
    let limited = DecompressOptions {
        threads: 1,
        max_size: 1 << 26,
    };
    let whole = decompress_with(data, &limited);
    let info = frame_info(data);
    assert_eq!(
        decompressed_size(data).ok(),
        info.as_ref().ok().map(|i| i.original_size),
        "{name}"
    );
    if let Ok(out) = &whole {
        assert_eq!(verify(data), Ok(()), "{name}");
        let mut dst = vec![0u8; out.len()];
        assert_eq!(decompress_into(data, &mut dst), Ok(out.len()), "{name}");
        assert_eq!(&dst, out, "{name}");
    }
    if let Ok(i) = info {
        let _ = metadata(data);
        let mut buf = vec![0u8; (i.chunk_size as usize).min(1 << 20)];
        for c in 0..i.chunk_count.min(4096) {
            let _ = decompress_chunk(data, c, &mut buf);
        }
    }
    let mut small = [0u8; 64];
    let _ = decompress_into(data, &mut small);
}

/// Files in `dir` whose name passes `keep`, as (file name, bytes), sorted by name.
fn files(dir: &Path, keep: impl Fn(&str) -> bool) -> Vec<(String, Vec<u8>)> {
    let mut v: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.is_file())
        .filter_map(|p| {
            let name = p.file_name()?.to_str()?.to_string();
            keep(&name).then(|| (name, std::fs::read(&p).unwrap()))
        })
        .collect();
    v.sort();
    v
}

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).to_path_buf()
}

fn is_znn(name: &str) -> bool {
    name.ends_with(".znn")
}

/// The regression inputs of `tests/regressions` whose name passes `keep`; there must be
/// some (a loop over nothing would check nothing).
fn regressions(keep: impl Fn(&str) -> bool) -> Vec<(String, Vec<u8>)> {
    let dir = root().join("tests/regressions");
    let v = files(&dir, keep);
    assert!(
        !v.is_empty(),
        "no regression inputs found in {}",
        dir.display()
    );
    v
}

#[test]
fn fuzz_regressions_never_panic() {
    for (name, data) in regressions(is_znn) {
        check(&name, &data);
    }
    let invalid = files(&root().join("tests/vectors/invalid"), is_znn);
    assert!(
        invalid.len() >= 10,
        "the golden invalid vectors are missing"
    );
    for (name, data) in invalid {
        check(&name, &data);
        assert!(decompress(&data).is_err(), "{name} decodes");
    }
}

#[test]
fn stream_and_safetensors_regressions() {
    for (name, data) in regressions(|n| n.starts_with("stream_decode-")) {
        eprintln!("{name}");
        harness::stream_decode(&data);
    }
    for (name, data) in regressions(|n| n.starts_with("safetensors-")) {
        eprintln!("{name}");
        harness::safetensors(&data);
    }
}

// --- Inputs found by review (issue 17, item 7), kept as regression inputs ---------------

/// A delta frame of 3000 bf16 bytes in 1 KiB chunks, and its base.
fn delta_frame() -> (Vec<u8>, Vec<u8>) {
    let base = make(DType::Bf16, Kind::Gaussian, 3000, 3);
    let mut ft = base.clone();
    for i in (0..ft.len()).step_by(7) {
        ft[i] ^= 1;
    }
    let o = Options {
        chunk_size: 1024,
        ..Options::new(DType::Bf16)
    };
    (compress_delta(&ft, &base, &o).unwrap(), base)
}

/// An archive where tensor "b" is tied to "a" although their dtype strings differ (an
/// encoder never writes that: FORMAT.md section 12 says `CORRUPT`), checksums resealed.
fn tie_of_another_dtype() -> Vec<u8> {
    let w = make(DType::Bf16, Kind::Gaussian, 512, 4);
    let file = common::build_safetensors(
        &[
            ("a", "BF16", vec![256], w.clone()),
            ("b", "BF16", vec![256], w),
        ],
        None,
    );
    let mut ar = st::compress(&file, &Options::new(DType::Raw)).unwrap();
    assert_eq!(
        ar[5] & st::ARCHIVE_FLAG_TIES,
        st::ARCHIVE_FLAG_TIES,
        "b is tied to a"
    );
    // "b" in the JSON becomes F16 (`"BF16"` -> `"F16" `: same length, valid JSON, same
    // byte length of the tensor), so only the dtype strings differ.
    let json_len = u64::from_le_bytes(ar[8..16].try_into().unwrap()) as usize;
    let json = &mut ar[st::FIXED_SIZE..st::FIXED_SIZE + json_len];
    let needle = br#""b":{"dtype":"BF16""#;
    let at = json
        .windows(needle.len())
        .position(|w| w == needle)
        .unwrap()
        + 12;
    json[at..at + 6].copy_from_slice(br#""F16" "#);
    harness::reseal_archive(&mut ar);
    ar
}

fn review_inputs() -> Vec<(String, Vec<u8>)> {
    let (frame, _) = delta_frame();
    let mut stream = vec![0x09];
    stream.extend_from_slice(&wrap_frame(&frame));
    let mut archive = vec![0x05];
    archive.extend_from_slice(&tie_of_another_dtype());
    vec![
        ("frame_info-delta-chunk-without-base.znn".into(), frame),
        ("stream_decode-delta-frame-in-stream".into(), stream),
        ("safetensors-tie-of-another-dtype".into(), archive),
    ]
}

#[test]
fn review_inputs_are_current_and_refused_as_the_format_says() {
    let dir = root().join("tests/regressions");
    for (name, bytes) in review_inputs() {
        let path = dir.join(&name);
        if bless() {
            std::fs::write(&path, &bytes).unwrap();
        }
        let on_disk = std::fs::read(&path).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert!(
            on_disk == bytes,
            "{name} is stale: rerun with ZIPNN_BLESS=1"
        );
    }
    // A delta frame: every chunk without the base is BASE_REQUIRED; with it, the data.
    let (frame, base) = delta_frame();
    let mut buf = vec![0u8; 1024];
    for i in 0..frame_info(&frame).unwrap().chunk_count {
        assert_eq!(
            decompress_chunk(&frame, i, &mut buf),
            Err(Error::BaseRequired)
        );
        assert!(decompress_chunk_delta(&frame, &base, i, &mut buf).is_ok());
    }
    // A delta frame in a stream: BASE_REQUIRED from the sequential decoders (it was
    // TRUNCATED) and from random access (FORMAT.md section 11.2).
    let stream = wrap_frame(&frame);
    let mut out = Vec::new();
    let r = std::io::Read::read_to_end(&mut stream::Reader::new(&stream[..]), &mut out);
    assert_eq!(
        r.map_err(|e| stream::error_of(&e)),
        Err(Some(Error::BaseRequired))
    );
    let mut d = stream::Decompressor::new();
    let mut big = vec![0u8; 1 << 16];
    assert_eq!(d.decompress(&stream, &mut big), Err(Error::BaseRequired));
    let mut r = stream::StreamReader::open(std::io::Cursor::new(&stream[..])).unwrap();
    assert_eq!(r.read_range_into(0, &mut buf), Err(Error::BaseRequired));
    // A tie between tensors of different dtype strings: CORRUPT (it verified OK).
    assert_eq!(
        Archive::open(&tie_of_another_dtype()).err(),
        Some(Error::Corrupt)
    );
}

// --- Seeds ----------------------------------------------------------------------------------

fn bless() -> bool {
    std::env::var_os("ZIPNN_BLESS").is_some_and(|v| v == "1")
}

/// A stream of `data`, compressed whole.
fn stream_of(data: &[u8], opts: &Options, block: u32) -> Vec<u8> {
    let mut w = stream::Writer::new(Vec::new(), opts, block).unwrap();
    std::io::Write::write_all(&mut w, data).unwrap();
    w.finish().unwrap()
}

/// A one-frame stream around a golden frame (its checksums computed by the harness's
/// resealer).
fn wrap_frame(frame: &[u8]) -> Vec<u8> {
    let size = frame_info(frame).unwrap().original_size;
    let block = size.max(1024) as u32;
    let mut s = stream::STREAM_MAGIC.to_vec();
    s.extend_from_slice(&[stream::STREAM_VERSION, 0, 0, 0]);
    s.extend_from_slice(&block.to_le_bytes());
    s.extend_from_slice(&[0; 4]);
    s.extend_from_slice(frame);
    s.extend_from_slice(&stream::INDEX_MAGIC);
    s.extend_from_slice(&[0; 4]);
    s.extend_from_slice(&(frame.len() as u64).to_le_bytes());
    s.extend_from_slice(&size.to_le_bytes());
    s.extend_from_slice(&(16 + frame.len() as u64).to_le_bytes());
    s.extend_from_slice(&1u64.to_le_bytes());
    s.extend_from_slice(&size.to_le_bytes());
    s.extend_from_slice(&[0; 12]);
    s.extend_from_slice(&stream::END_MAGIC);
    harness::reseal_stream(&mut s);
    s
}

/// Seeds of the stream_decode target: (file name, control byte + stream, or control byte +
/// two option bytes + data for the round-trip branch).
fn stream_seeds() -> Vec<(String, Vec<u8>)> {
    let mut v = Vec::new();
    let mut add = |name: &str,
                   ctl: u8,
                   dtype: DType,
                   method: Method,
                   level: Level,
                   kind: Kind,
                   n: usize,
                   chunk: u32,
                   block: u32| {
        let opts = Options {
            method,
            level,
            chunk_size: chunk,
            bg_partitions: if dtype == DType::Raw { 2 } else { 1 },
            ..Options::new(dtype)
        };
        let data = make(dtype, kind, n, n as u64 * 31 + ctl as u64);
        let mut seed = vec![ctl];
        seed.extend_from_slice(&stream_of(&data, &opts, block));
        v.push((format!("{name}.zns"), seed));
    };
    add(
        "empty",
        0x00,
        DType::Raw,
        Method::Auto,
        Level::Default,
        Kind::Zero,
        0,
        1024,
        1024,
    );
    add(
        "bf16-gauss",
        0x09,
        DType::Bf16,
        Method::Auto,
        Level::Default,
        Kind::Gaussian,
        5000,
        1024,
        2048,
    );
    add(
        "fp32-exact-blocks",
        0x12,
        DType::Fp32,
        Method::Huffman,
        Level::Fast,
        Kind::Gaussian,
        3072,
        1024,
        1024,
    );
    add(
        "raw-zstd",
        0x1b,
        DType::Raw,
        Method::Zstd,
        Level::Default,
        Kind::Pattern,
        2500,
        2048,
        1536,
    );
    add(
        "uint8-lz4",
        0x24,
        DType::Uint8,
        Method::Lz4,
        Level::Default,
        Kind::Pattern,
        3000,
        1024,
        1024,
    );
    add(
        "fp16-snappy",
        0x2d,
        DType::Fp16,
        Method::Snappy,
        Level::Default,
        Kind::Pattern,
        3000,
        1024,
        1280,
    );
    add(
        "fp32-zero-runs",
        0x36,
        DType::Fp32,
        Method::Auto,
        Level::Default,
        Kind::Zero,
        4096,
        1024,
        4096,
    );
    add(
        "bf16-max",
        0x40,
        DType::Bf16,
        Method::Auto,
        Level::Max,
        Kind::Gaussian,
        8192,
        4096,
        8192,
    );
    add(
        "fp8-special",
        0x7f,
        DType::Fp8E4M3,
        Method::Auto,
        Level::Default,
        Kind::Special,
        1500,
        1024,
        1024,
    );
    add(
        "int8-raw",
        0x3f,
        DType::Int8,
        Method::Raw,
        Level::Default,
        Kind::Random,
        2100,
        1024,
        1024,
    );
    // ANS at a small size: a skewed byte distribution (Huffman needs a bit per symbol).
    let mut rng = common::Rng(5);
    let skewed: Vec<u8> = (0..3000)
        .map(|_| match rng.next() % 20 {
            0 => 1,
            1 => 0x40,
            _ => 0x3C,
        })
        .collect();
    let opts = Options {
        level: Level::Max,
        chunk_size: 1024,
        ..Options::new(DType::Uint8)
    };
    let mut seed = vec![0x52];
    seed.extend_from_slice(&stream_of(&skewed, &opts, 2048));
    v.push(("uint8-skewed-ans.zns".to_string(), seed));
    // Every golden frame that can stand alone in a stream (no metadata, not empty), but
    // not the large ones (slow to fuzz; the ANS frame is covered above).
    let dir = root().join("tests/vectors/valid");
    for (i, (name, frame)) in files(&dir, is_znn).into_iter().enumerate() {
        let info = frame_info(&frame).unwrap();
        if info.metadata_size == 0 && info.original_size > 0 && frame.len() <= 16384 {
            let mut seed = vec![(i * 37) as u8];
            seed.extend_from_slice(&wrap_frame(&frame));
            v.push((
                format!("vector-{}.zns", name.trim_end_matches(".znn")),
                seed,
            ));
        }
    }
    // The round-trip branch: two option bytes (see harness::stream_options), then data.
    for (name, ctl, a, b, dtype, kind, n) in [
        (
            "rt-bf16",
            0x0a,
            1u8,
            0x31u8,
            DType::Bf16,
            Kind::Gaussian,
            3000,
        ),
        (
            "rt-raw-bg4",
            0x15,
            0x20,
            0x19,
            DType::Raw,
            Kind::Pattern,
            2600,
        ),
        (
            "rt-fp32-max",
            0x23,
            3,
            0x62,
            DType::Fp32,
            Kind::Special,
            2048,
        ),
    ] {
        let mut seed = vec![ctl, a, b];
        seed.extend_from_slice(&make(dtype, kind, n, n as u64));
        v.push((format!("{name}.bin"), seed));
    }
    v
}

/// Seeds of the safetensors target: (file name, control byte + safetensors file or
/// archive).
fn safetensors_seeds() -> Vec<(String, Vec<u8>)> {
    let t = |name: &'static str, s: &'static str, dt: DType, n: u64, esize: u64| {
        (
            name,
            s,
            vec![n],
            make(dt, Kind::Gaussian, (n * esize) as usize, n),
        )
    };
    let files = [
        (
            "multi-dtype",
            0x05u8,
            common::build_safetensors(
                &[
                    t("a.bf16", "BF16", DType::Bf16, 300, 2),
                    t("b.f16", "F16", DType::Fp16, 200, 2),
                    t("c.f32", "F32", DType::Fp32, 150, 4),
                    t("d.f64", "F64", DType::Fp64, 70, 8),
                    t("e.f8e4m3", "F8_E4M3", DType::Fp8E4M3, 99, 1),
                    t("f.f8e5m2", "F8_E5M2", DType::Fp8E5M2, 101, 1),
                    t("g.i8", "I8", DType::Int8, 50, 1),
                    t("h.u8", "U8", DType::Uint8, 50, 1),
                    t("i.i32", "I32", DType::Raw, 30, 4),
                    t("j.bool", "BOOL", DType::Raw, 17, 1),
                    t("k.i64", "I64", DType::Raw, 4, 8),
                    t("l.i16", "I16", DType::Raw, 9, 2),
                    t("m.u16", "U16", DType::Raw, 9, 2),
                    t("n.u32", "U32", DType::Raw, 5, 4),
                    t("o.u64", "U64", DType::Raw, 3, 8),
                    ("p.empty", "F32", vec![0, 5], vec![]),
                    ("q.scalar", "BF16", vec![], vec![0x80, 0x3F]),
                    ("r.u8-skewed", "U8", vec![1500], {
                        let mut rng = common::Rng(9);
                        (0..1500)
                            .map(|_| if rng.next() % 12 == 0 { 7 } else { 0x3C })
                            .collect()
                    }),
                ],
                Some(r#"{"format":"pt"}"#),
            ),
        ),
        (
            "layer",
            0x16,
            common::build_safetensors(
                &[
                    (
                        "w",
                        "BF16",
                        vec![32, 64],
                        make(DType::Bf16, Kind::Gaussian, 4096, 7),
                    ),
                    ("b", "BF16", vec![64], make(DType::Bf16, Kind::Zero, 128, 8)),
                ],
                None,
            ),
        ),
        ("no-tensors", 0x00, common::build_safetensors(&[], None)),
        (
            "metadata-only",
            0x27,
            common::build_safetensors(&[], Some(r#"{"a":"b"}"#)),
        ),
    ];
    let mut v = Vec::new();
    for (name, ctl, file) in files {
        let mut seed = vec![ctl];
        seed.extend_from_slice(&file);
        v.push((format!("{name}.safetensors"), seed));
        let mut seed = vec![ctl];
        seed.extend_from_slice(&st::compress(&file, &harness::archive_options(ctl)).unwrap());
        v.push((format!("{name}.znt"), seed));
    }
    v
}

fn seed_dir(target: &str) -> PathBuf {
    root().join("tests/regressions/seeds").join(target)
}

/// `ZIPNN_BLESS=1` rewrites the seed files; otherwise the committed ones are checked.
fn seeds(target: &str, make: fn() -> Vec<(String, Vec<u8>)>) -> Vec<(String, Vec<u8>)> {
    let dir = seed_dir(target);
    if bless() {
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        for (name, bytes) in make() {
            std::fs::write(dir.join(name), bytes).unwrap();
        }
    }
    let v = files(&dir, |_| true);
    assert!(!v.is_empty(), "no seeds in {}", dir.display());
    v
}

#[test]
fn stream_seeds_pass_the_target_and_decode() {
    for (name, data) in seeds("stream_decode", stream_seeds) {
        eprintln!("{name}");
        harness::stream_decode(&data);
        if name.ends_with(".zns") {
            let out = harness::check_stream(data[0], &data[1..]);
            assert!(out.is_some(), "{name} does not decode");
        }
    }
}

#[test]
fn safetensors_seeds_pass_the_target_and_decode() {
    for (name, data) in seeds("safetensors", safetensors_seeds) {
        eprintln!("{name}");
        harness::safetensors(&data);
        let f = &data[1..];
        if name.ends_with(".safetensors") {
            assert!(SafeTensors::parse(f).is_ok(), "{name} does not parse");
        } else {
            let a = Archive::open(f).unwrap();
            let file = a.restore().unwrap();
            assert!(
                SafeTensors::parse(&file).is_ok(),
                "{name} restores to a bad file"
            );
        }
    }
}
