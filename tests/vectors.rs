//! Golden vectors (tests/vectors): frames that pin the format. `valid/` holds what the
//! encoder writes today (format version 2), `v1/` the frames of format version 1, which
//! every decoder must still read. Every valid frame must decode to its stored input; every
//! invalid one must give its listed error. The manifest is a tab-separated file so that
//! every SDK can read it without a JSON parser. Delta frames, which need their base, are
//! listed apart in `delta.tsv` (name, dtype, input, base, frame).
//!
//! `ZIPNN_BLESS=1 cargo test --test vectors` rewrites the vectors of `valid/` and
//! `invalid/`; do that only for a new format version (then keep the old frames too, as
//! `v1/` keeps version 1's), never to make a failing test pass.

mod common;

use std::path::{Path, PathBuf};

use common::{make, Kind};
use zipnn::*;

fn dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/vectors")
}

struct Case {
    name: String,
    dtype: DType,
    method: Method,
    level: Level,
    chunk_size: u32,
    bg_partitions: u32,
    input: Vec<u8>,
    metadata: Vec<u8>,
    lossy: Lossy,
    target: Target,
}

fn cases() -> Vec<Case> {
    let mut v = Vec::new();
    let mut add = |name: &str, dtype: DType, method: Method, kind: Kind, n: usize| {
        v.push(Case {
            name: name.to_string(),
            dtype,
            method,
            level: Level::Default,
            chunk_size: 1024,
            bg_partitions: 1,
            input: make(dtype, kind, n, name.len() as u64 * 97 + n as u64),
            metadata: Vec::new(),
            lossy: Lossy::None,
            target: Target::Any,
        });
    };
    add("empty", DType::Raw, Method::Auto, Kind::Zero, 0);
    add("one-byte", DType::Bf16, Method::Auto, Kind::Gaussian, 1);
    add(
        "bf16-huffman",
        DType::Bf16,
        Method::Huffman,
        Kind::Gaussian,
        3001,
    );
    add(
        "bf16-special",
        DType::Bf16,
        Method::Auto,
        Kind::Special,
        2048,
    );
    add("fp16-auto", DType::Fp16, Method::Auto, Kind::Gaussian, 2500);
    add("fp32-auto", DType::Fp32, Method::Auto, Kind::Gaussian, 4099);
    add("fp64-auto", DType::Fp64, Method::Auto, Kind::Gaussian, 4096);
    add(
        "fp8e4m3-auto",
        DType::Fp8E4M3,
        Method::Auto,
        Kind::Gaussian,
        2000,
    );
    add(
        "fp8e5m2-auto",
        DType::Fp8E5M2,
        Method::Auto,
        Kind::Gaussian,
        2000,
    );
    add("int8-zstd", DType::Int8, Method::Zstd, Kind::Pattern, 3000);
    add("uint8-lz4", DType::Uint8, Method::Lz4, Kind::Pattern, 3000);
    add(
        "raw-snappy",
        DType::Raw,
        Method::Snappy,
        Kind::Pattern,
        3000,
    );
    add("raw-random", DType::Raw, Method::Auto, Kind::Random, 1500);
    add(
        "fp32-zero-runs",
        DType::Fp32,
        Method::Auto,
        Kind::Zero,
        2048,
    );
    add(
        "fp32-method-raw",
        DType::Fp32,
        Method::Raw,
        Kind::Gaussian,
        1030,
    );
    v.push(Case {
        name: "raw-bg4-meta".into(),
        dtype: DType::Raw,
        method: Method::Auto,
        level: Level::Default,
        chunk_size: 2048,
        bg_partitions: 4,
        input: make(DType::Fp32, Kind::Gaussian, 5003, 5),
        metadata: br#"{"shape":[1250],"dtype":"float32"}"#.to_vec(),
        lossy: Lossy::None,
        target: Target::Any,
    });
    // Level max: ANS planes (codec 7).
    v.push(Case {
        name: "bf16-max-ans".into(),
        dtype: DType::Bf16,
        method: Method::Auto,
        level: Level::Max,
        chunk_size: 65536,
        bg_partitions: 1,
        input: make(DType::Bf16, Kind::Gaussian, 70_000, 77),
        metadata: Vec::new(),
        lossy: Lossy::None,
        target: Target::Any,
    });
    // fp16 whose sign follows its exponent (as in a tensor of block scales, where the
    // negative values have their own magnitudes): plain grouping (layout 1), which keeps
    // the sign with the exponent, codes smaller than layout 0.
    let mut r = common::Rng(41);
    let fp16_bytes: Vec<u8> = (0..3000u32)
        .flat_map(|_| {
            let e = 8 + (r.next() % 6) as u16;
            let v = (e & 1) << 15 | e << 10 | (r.next() & 0x3FF) as u16;
            v.to_le_bytes()
        })
        .collect();
    v.push(Case {
        name: "fp16-layout-bytes".into(),
        dtype: DType::Fp16,
        method: Method::Auto,
        level: Level::Default,
        chunk_size: 2048,
        bg_partitions: 1,
        input: fp16_bytes,
        metadata: Vec::new(),
        lossy: Lossy::None,
        target: Target::Any,
    });
    // uint8 at the automatic chunk size (2 MiB for one-byte elements, chunk_size 0 in the
    // manifest): 256 KiB of geometric values (2 bits each; zstd codes them to about a third
    // more) and 2 KiB of other values, so a table per 256 KiB block (codec 8) codes smaller
    // than one table for the plane and than zstd.
    let mut r = common::Rng(43);
    let mut blocks: Vec<u8> = (0..262_144)
        .map(|_| (r.next().trailing_zeros() as u8).min(15))
        .collect();
    blocks.extend((0..2048).map(|_| 200 + (r.below(4) * r.below(5)) as u8));
    v.push(Case {
        name: "uint8-blocks".into(),
        dtype: DType::Uint8,
        method: Method::Auto,
        level: Level::Default,
        chunk_size: 0,
        bg_partitions: 1,
        input: blocks,
        metadata: Vec::new(),
        lossy: Lossy::None,
        target: Target::Any,
    });
    // Compact frames (flag bit 3, docs/FORMAT.md 3.4; `empty` and `one-byte` are compact
    // too): int64 shape constants, whose eight planes are joined and coded with zstd; bf16
    // planes coded one by one; uint8 with method zstd (a zstd payload without its magic).
    let dims = [
        1i64, 3, 64, 128, 256, 512, -1, 0, 2, 320, 160, 80, 40, 20, 10,
    ];
    let mut r = common::Rng(47);
    let mut shapes = Vec::new();
    while shapes.len() < 5056 {
        for _ in 0..1 + r.below(4) {
            shapes.extend_from_slice(&dims[r.below(dims.len() as u64) as usize].to_le_bytes());
        }
    }
    shapes.truncate(5056);
    for (name, dtype, method, bg, input) in [
        ("compact-raw8-joined", DType::Raw, Method::Auto, 8, shapes),
        (
            "compact-bf16-planes",
            DType::Bf16,
            Method::Auto,
            1,
            make(DType::Bf16, Kind::Gaussian, 1537, 49),
        ),
        (
            "compact-uint8-zstd",
            DType::Uint8,
            Method::Zstd,
            1,
            make(DType::Uint8, Kind::Pattern, 3000, 51),
        ),
    ] {
        v.push(Case {
            name: name.into(),
            dtype,
            method,
            level: Level::Default,
            chunk_size: 0,
            bg_partitions: bg,
            input,
            metadata: Vec::new(),
            lossy: Lossy::None,
            target: Target::Any,
        });
    }
    // A compact frame at the max level with codec 10 (adaptive, docs/FORMAT.md section 13):
    // fp32 tensors of a few hundred values each at their own scales, one after the other,
    // whose planes are coded as adaptive segments, the second with the first as context.
    let mut r = common::Rng(53);
    let mut tensors = Vec::new();
    while tensors.len() < 4 * 3000 {
        let scale = 0.5f64.powi(r.below(9) as i32);
        for _ in 0..16 + r.below(300) {
            tensors.extend_from_slice(&((r.gauss() * scale) as f32).to_le_bytes());
        }
    }
    tensors.truncate(4 * 3000);
    v.push(Case {
        name: "compact-fp32-adaptive".into(),
        dtype: DType::Fp32,
        method: Method::Auto,
        level: Level::Max,
        chunk_size: 0,
        bg_partitions: 1,
        input: tensors,
        metadata: Vec::new(),
        lossy: Lossy::None,
        target: Target::Any,
    });
    // Lossy frames (flag bit 2). The stored input is what the frame decodes to: the
    // lossy step is idempotent, so coding it again gives the same frame.
    for (name, dtype, lossy) in [
        ("bf16-mantissa3", DType::Bf16, Lossy::Mantissa { bits: 3 }),
        ("fp32-integer20", DType::Fp32, Lossy::Integer { factor: 20 }),
    ] {
        let o = Options {
            chunk_size: 1024,
            lossy,
            ..Options::new(dtype)
        };
        let raw = make(dtype, Kind::Gaussian, 3002, 31);
        let input = decompress(&compress(&raw, &o).unwrap()).unwrap();
        assert_ne!(input, raw, "{name}: the lossy step must change something");
        v.push(Case {
            name: name.into(),
            dtype,
            method: Method::Auto,
            level: Level::Default,
            chunk_size: 1024,
            bg_partitions: 1,
            input,
            metadata: Vec::new(),
            lossy,
            target: Target::Any,
        });
    }
    // Huffman in 128 lanes (codec 11, docs/FORMAT.md section 14): bf16 written for AVX-512,
    // two chunks of exponent planes in lanes with escapes, and a short last chunk.
    v.push(Case {
        name: "bf16-lanes".into(),
        dtype: DType::Bf16,
        method: Method::Auto,
        level: Level::Default,
        chunk_size: 65536,
        bg_partitions: 1,
        input: make(DType::Bf16, Kind::Gaussian, 150_001, 53),
        metadata: Vec::new(),
        lossy: Lossy::None,
        target: Target::Avx512,
    });
    v
}

/// Frames an earlier encoder wrote, kept when the encoder changed: they must still decode to
/// their input, but are no longer what `compress` gives. (name, dtype, method, chunk size,
/// bg_partitions, input file, frame file.) Every case of [`cases`] that existed then, as
/// format version 1 wrote it, is in `v1/` under the case's name with `-v1` appended.
const LEGACY: &[(&str, DType, Method, u32, u32, &str, &str)] = &[
    // Level max before ANS frequency tables of kind 1 (Rice-coded differences) existed:
    // every ANS plane has a kind-0 table.
    (
        "bf16-max-ans-lengths",
        DType::Bf16,
        Method::Auto,
        65536,
        1,
        "inputs/bf16-max-ans.bin",
        "v1/bf16-max-ans-lengths.znn",
    ),
    // Format 2 before compact frames (docs/FORMAT.md 3.4): the empty input and one byte in
    // an ordinary frame of no chunk.
    (
        "empty-ordinary",
        DType::Raw,
        Method::Auto,
        1024,
        1,
        "inputs/empty.bin",
        "legacy/empty-ordinary.znn",
    ),
    (
        "one-byte-ordinary",
        DType::Bf16,
        Method::Auto,
        1024,
        1,
        "inputs/one-byte.bin",
        "legacy/one-byte-ordinary.znn",
    ),
    // Level max of format 2 before it wrote codec 7: the ANS planes are codec 6.
    (
        "bf16-max-ans-ans16",
        DType::Bf16,
        Method::Auto,
        65536,
        1,
        "inputs/bf16-max-ans.bin",
        "legacy/bf16-max-ans-ans16.znn",
    ),
];

/// The cases whose frames format version 1 wrote are in `v1/`.
const V1_CASES: &[&str] = &[
    "empty",
    "one-byte",
    "bf16-huffman",
    "bf16-special",
    "fp16-auto",
    "fp32-auto",
    "fp64-auto",
    "fp8e4m3-auto",
    "fp8e5m2-auto",
    "int8-zstd",
    "uint8-lz4",
    "raw-snappy",
    "raw-random",
    "fp32-zero-runs",
    "fp32-method-raw",
    "raw-bg4-meta",
    "bf16-max-ans",
    "bf16-mantissa3",
    "fp32-integer20",
];

/// The layouts of a frame's chunks.
fn layouts(frame: &[u8]) -> Vec<transform::Layout> {
    let f = Frame::parse(frame).unwrap();
    (0..f.chunk_count()).map(|i| f.layout(i)).collect()
}

/// The kind of an ANS payload's frequency table (docs/FORMAT.md 8.2): the high nibble of
/// its first byte.
fn ans_table_kinds(frame: &[u8]) -> Vec<u8> {
    let f = Frame::parse(frame).unwrap();
    let mut kinds = Vec::new();
    for i in 0..f.chunk_count() {
        let payload = f.chunk_payload(i);
        let mut at = 0;
        for p in f.planes(i) {
            if matches!(p.codec, Codec::Ans | Codec::AnsWide) {
                kinds.push(payload[at] >> 4);
            }
            at += p.size as usize;
        }
    }
    kinds
}

/// The codec of every plane-chunk of a frame.
fn codecs(frame: &[u8]) -> Vec<Codec> {
    let f = Frame::parse(frame).unwrap();
    (0..f.chunk_count())
        .flat_map(|i| f.planes(i).collect::<Vec<_>>())
        .map(|p| p.codec)
        .collect()
}

/// A format 2 frame whose chunks all have layout 0, rewritten as format 1: the same header
/// fields, chunk entries and payloads, the entries without their layout byte.
fn as_version_1(frame: &[u8]) -> Vec<u8> {
    let f = Frame::parse(frame).unwrap();
    let mut h = *f.header();
    h.version = 1;
    let entries: Vec<frame::ChunkEntry> = (0..f.chunk_count())
        .map(|i| {
            let mut e = frame::ChunkEntry {
                checksum: f.chunk_checksum(i),
                ..Default::default()
            };
            assert_eq!(f.layout(i), e.layout);
            for (d, p) in e.planes.iter_mut().zip(f.planes(i)) {
                *d = p;
            }
            e
        })
        .collect();
    let mut out = vec![0u8; h.header_size().unwrap() as usize];
    h.write(f.metadata(), entries, &mut out);
    for i in 0..f.chunk_count() {
        out.extend_from_slice(f.chunk_payload(i));
    }
    out
}

/// Rewrites the fixed header's checksum and the header checksum after an edit, as a
/// (future or hostile) encoder would write them.
fn reseal_header(f: &mut [u8]) {
    let sum = frame::fixed_checksum(&f[..36]);
    f[36..40].copy_from_slice(&sum.to_le_bytes());
    let meta = u32::from_le_bytes(f[32..36].try_into().unwrap()) as usize;
    let planes = (f[7] as usize).max(1);
    let size = u64::from_le_bytes(f[16..24].try_into().unwrap()) as usize;
    let cs = (u32::from_le_bytes(f[8..12].try_into().unwrap()) as usize).max(1);
    let entry = if f[4] == 1 { 8 } else { 9 } + 5 * planes;
    let hs = 40 + meta + (size - size % planes).div_ceil(cs) * entry;
    if hs + 8 <= f.len() {
        let sum = frame::checksum(&f[..hs]);
        f[hs..hs + 8].copy_from_slice(&sum.to_le_bytes());
    }
}

/// Invalid frames made from a valid one, with the error each must give.
fn invalid(valid: &[u8]) -> Vec<(&'static str, Vec<u8>, Error)> {
    let mut out = Vec::new();
    let mut f = valid.to_vec();
    f[0] = b'P';
    out.push(("bad-magic", f, Error::BadMagic));
    let mut f = valid.to_vec();
    f[4] = frame::VERSION + 1;
    out.push(("version-3", f, Error::UnsupportedVersion));
    let mut f = valid.to_vec();
    f[5] |= 0x40;
    reseal_header(&mut f);
    out.push(("unknown-flag", f, Error::UnsupportedFlags));
    let mut f = valid.to_vec();
    f[6] = 42;
    reseal_header(&mut f);
    out.push(("unknown-dtype", f, Error::UnsupportedDtype));
    let mut f = valid.to_vec();
    f[23] ^= 0x40; // the top byte of original_size: a damaged size, not a short input
    out.push(("size-bit-flip", f, Error::Checksum));
    let mut f = valid.to_vec();
    f[14] = 1; // a reserved field, with both checksums right
    reseal_header(&mut f);
    out.push(("reserved-nonzero", f, Error::Corrupt));
    let mut f = valid.to_vec();
    f[12] = 2; // a lossy mode without the lossy flag
    f[13] = 5;
    reseal_header(&mut f);
    out.push(("lossy-without-flag", f, Error::Corrupt));
    out.push(("truncated-header", valid[..30].to_vec(), Error::Truncated));
    out.push((
        "truncated-payload",
        valid[..valid.len() - 1].to_vec(),
        Error::Truncated,
    ));
    let mut f = valid.to_vec();
    f.push(0);
    out.push(("trailing-byte", f, Error::Corrupt));
    let mut f = valid.to_vec();
    let last = f.len() - 1;
    f[last] ^= 0x20;
    out.push(("payload-bit-flip", f, Error::Checksum));
    let mut f = valid.to_vec();
    f[41] ^= 0x01; // in the chunk table
    out.push(("table-bit-flip", f, Error::Checksum));
    // An unknown codec id with a correct header checksum: a future codec.
    let mut f = valid.to_vec();
    let meta = u32::from_le_bytes(f[32..36].try_into().unwrap()) as usize;
    f[40 + meta + 9] = 0xEE;
    reseal_header(&mut f);
    out.push(("unknown-codec", f, Error::UnsupportedCodec));
    // A layout the dtype does not offer, with a correct header checksum.
    let mut f = valid.to_vec();
    f[40 + meta + 8] = 2;
    reseal_header(&mut f);
    out.push(("unknown-layout", f, Error::Corrupt));
    out
}

/// One invalid golden vector: adds its manifest line, writes `made` as its file when
/// blessing, and checks that the file on disk gives `want`; returns the file's bytes.
fn invalid_vector(
    d: &Path,
    bless: bool,
    manifest: &mut String,
    name: &str,
    made: &[u8],
    want: Error,
) -> Vec<u8> {
    let frm = format!("invalid/{name}.znn");
    *manifest += &format!(
        "{name}\tinvalid\t-\t-\t-\t-\t-\t{frm}\t{}\n",
        error_name(want)
    );
    if bless {
        std::fs::create_dir_all(d.join("invalid")).unwrap();
        std::fs::write(d.join(&frm), made).unwrap();
    }
    let golden = std::fs::read(d.join(&frm)).expect("invalid vector missing");
    assert_eq!(decompress(&golden), Err(want), "{name}");
    golden
}

fn error_name(e: Error) -> String {
    format!("{e:?}")
}

#[test]
fn golden_vectors() {
    let d = dir();
    let bless = std::env::var_os("ZIPNN_BLESS").is_some();
    let mut manifest = String::from(
        "# name\tkind\tdtype\tmethod\tchunk_size\tbg_partitions\tinput\tframe\texpect\n",
    );
    let all = cases();
    for c in &all {
        let o = Options {
            method: c.method,
            level: c.level,
            chunk_size: c.chunk_size,
            bg_partitions: c.bg_partitions,
            lossy: c.lossy,
            target: c.target,
            ..Options::new(c.dtype)
        };
        let frame = compress_with_metadata(&c.input, &c.metadata, &o).unwrap();
        let (inp, frm) = (
            format!("inputs/{}.bin", c.name),
            format!("valid/{}.znn", c.name),
        );
        manifest += &format!(
            "{}\tvalid\t{}\t{:?}\t{}\t{}\t{inp}\t{frm}\tOk\n",
            c.name,
            c.dtype.name(),
            c.method,
            c.chunk_size,
            c.bg_partitions
        );
        if bless {
            std::fs::create_dir_all(d.join("inputs")).unwrap();
            std::fs::create_dir_all(d.join("valid")).unwrap();
            std::fs::write(d.join(&inp), &c.input).unwrap();
            std::fs::write(d.join(&frm), &frame).unwrap();
        }
        let golden = std::fs::read(d.join(&frm)).expect("golden frame missing");
        let input = std::fs::read(d.join(&inp)).expect("golden input missing");
        assert_eq!(
            decompress(&golden).unwrap(),
            input,
            "{}: golden frame no longer decodes to its input",
            c.name
        );
        assert_eq!(metadata(&golden).unwrap(), &c.metadata[..]);
        if c.level == Level::Max && !c.name.ends_with("-adaptive") {
            // Both kinds of ANS frequency table: exponent planes (kind 0) and mantissa
            // planes coded just below raw (kind 1).
            let kinds = ans_table_kinds(&golden);
            assert!(
                kinds.contains(&0),
                "{}: no ANS plane with a kind-0 table",
                c.name
            );
            assert!(
                kinds.contains(&1),
                "{}: no ANS plane with a kind-1 table",
                c.name
            );
            assert!(
                codecs(&golden).contains(&Codec::AnsWide),
                "{}: no plane of codec 7",
                c.name
            );
        }
        if c.name == "bf16-lanes" {
            let lanes = codecs(&golden)
                .iter()
                .filter(|&&k| k == Codec::HuffmanLanes)
                .count();
            assert!(lanes >= 2, "{}: {lanes} planes of codec 11", c.name);
        }
        if c.name == "uint8-blocks" {
            assert_eq!(codecs(&golden), [Codec::HuffmanBlocks], "{}", c.name);
            assert_eq!(frame_info(&golden).unwrap().chunk_size, BYTE_CHUNK_SIZE);
        }
        if c.name.starts_with("compact-") || c.name == "empty" || c.name == "one-byte" {
            let f = Frame::parse(&golden).unwrap();
            assert!(f.is_compact(), "{}: not compact", c.name);
            assert_eq!(
                f.joined().is_some(),
                c.name.ends_with("-joined") || c.name.ends_with("-adaptive"),
                "{}",
                c.name
            );
            if c.name.ends_with("-adaptive") {
                let p = f.chunk_payload(0);
                assert_eq!(f.joined(), Some(Codec::Adaptive), "{}", c.name);
                assert!(p[0] == 4 && p[2] & codec::adaptive::CONTEXT != 0, "{p:?}");
            }
            if c.name.ends_with("-zstd") {
                assert_eq!(codecs(&golden), [Codec::Zstd], "{}", c.name);
            }
        }
        if c.name == "fp16-layout-bytes" {
            assert!(
                layouts(&golden).contains(&transform::Layout::Bytes),
                "{}: no chunk of layout 1",
                c.name
            );
        }
        if V1_CASES.contains(&c.name.as_str()) {
            let frm = format!("v1/{}-v1.znn", c.name);
            manifest += &format!(
                "{}-v1\tvalid\t{}\t{:?}\t{}\t{}\t{inp}\t{frm}\tOk\n",
                c.name,
                c.dtype.name(),
                c.method,
                c.chunk_size,
                c.bg_partitions
            );
            let v1 = std::fs::read(d.join(&frm)).expect("version 1 frame missing");
            assert_eq!(v1[4], 1, "{frm}");
            assert_eq!(decompress(&v1).unwrap(), input, "{frm}");
            assert_eq!(metadata(&v1).unwrap(), &c.metadata[..]);
            assert_eq!(frame_info(&v1).unwrap().version, 1);
        }
        // The encoder is deterministic; a change here means the encoder changed.
        assert_eq!(
            frame, golden,
            "{}: the encoder's output changed; if on purpose, bless new vectors and keep the old",
            c.name
        );
    }
    for &(name, dtype, method, chunk_size, bg, inp, frm) in LEGACY {
        manifest += &format!(
            "{name}\tvalid\t{}\t{method:?}\t{chunk_size}\t{bg}\t{inp}\t{frm}\tOk\n",
            dtype.name()
        );
        let golden = std::fs::read(d.join(frm)).expect("legacy frame missing");
        let input = std::fs::read(d.join(inp)).expect("legacy input missing");
        assert_eq!(decompress(&golden).unwrap(), input, "{name}");
    }
    let base = std::fs::read(d.join("valid/fp32-auto.znn")).unwrap_or_else(|_| {
        let c = &all[5];
        compress(&c.input, &Options::new(c.dtype)).unwrap()
    });
    for (name, f, want) in invalid(&base) {
        invalid_vector(&d, bless, &mut manifest, name, &f, want);
    }
    // Compact frames (docs/FORMAT.md 3.4): a flipped payload bit is a checksum error; the
    // compact flag with the lossy flag, resealed, is corrupt.
    let compact = std::fs::read(d.join("valid/compact-raw8-joined.znn")).unwrap();
    let mut flipped = compact.clone();
    flipped[compact.len() - 10] ^= 0x04;
    let mut lossy = compact[..compact.len() - 4].to_vec();
    lossy[5] |= 0x04;
    let sum = frame::checksum(&lossy) as u32;
    lossy.extend_from_slice(&sum.to_le_bytes());
    // An adaptive payload (codec 10) whose last byte is changed, resealed: its range coder
    // ends with a nonzero code value, which is corrupt.
    let adaptive = std::fs::read(d.join("valid/compact-fp32-adaptive.znn")).unwrap();
    let mut bad_end = adaptive[..adaptive.len() - 4].to_vec();
    *bad_end.last_mut().unwrap() ^= 0x01;
    let sum = frame::checksum(&bad_end) as u32;
    bad_end.extend_from_slice(&sum.to_le_bytes());
    // A codec 11 plane (docs/FORMAT.md section 14) whose escape count is one too many,
    // with every checksum right: its output has one escape fewer, which is corrupt.
    let lanes = std::fs::read(d.join("valid/bf16-lanes.znn")).unwrap();
    let mut bad_count = lanes.clone();
    {
        let f = Frame::parse(&lanes).unwrap();
        assert_eq!(f.planes(0).next().unwrap().codec, Codec::HuffmanLanes);
        let chunk = f.chunk_payload(0);
        let at = chunk.as_ptr() as usize - lanes.as_ptr() as usize;
        let count_at = at + 2 + (chunk[1] - chunk[0]) as usize / 2 + 1 + 2;
        let r = u32::from_le_bytes(lanes[count_at..count_at + 4].try_into().unwrap());
        assert!(r > 0, "bf16-lanes: no escapes in its first plane");
        bad_count[count_at..count_at + 4].copy_from_slice(&(r + 1).to_le_bytes());
        let sum = frame::checksum(&bad_count[at..at + chunk.len()]);
        let entry = 40 + u32::from_le_bytes(lanes[32..36].try_into().unwrap()) as usize;
        bad_count[entry..entry + 8].copy_from_slice(&sum.to_le_bytes());
        reseal_header(&mut bad_count);
    }
    for (name, f, want) in [
        ("lanes-escape-count", bad_count, Error::Corrupt),
        ("compact-payload-bit-flip", flipped, Error::Checksum),
        ("compact-with-lossy-flag", lossy, Error::Corrupt),
        ("compact-adaptive-bad-end", bad_end, Error::Corrupt),
    ] {
        invalid_vector(&d, bless, &mut manifest, name, &f, want);
    }
    // A delta frame: without its base every decoder must say the base is required.
    let c = &all[5];
    let mut other = c.input.clone();
    other.iter_mut().step_by(7).for_each(|b| *b ^= 1);
    let delta = compress_delta(&c.input, &other, &Options::new(c.dtype)).unwrap();
    let golden = invalid_vector(
        &d,
        bless,
        &mut manifest,
        "delta-without-base",
        &delta,
        Error::BaseRequired,
    );
    assert_eq!(decompress_delta(&golden, &other).unwrap(), c.input);
    // The same delta as the encoder writes it today, with its base, for every SDK:
    // tests/vectors/delta.tsv lists (name, dtype, input, base, frame). Decoded with its base
    // it gives the input; without a base it is BaseRequired; with another base of the same
    // length, BaseMismatch.
    let (dinp, dbase, dfrm) = (
        "inputs/fp32-auto.bin",
        "inputs/fp32-auto-delta-base.bin",
        "valid/fp32-auto-delta.znn",
    );
    let delta_manifest = format!(
        "# name\tdtype\tinput\tbase\tframe\nfp32-auto-delta\t{}\t{dinp}\t{dbase}\t{dfrm}\n",
        c.dtype.name()
    );
    if bless {
        std::fs::write(d.join(dbase), &other).unwrap();
        std::fs::write(d.join(dfrm), &delta).unwrap();
        std::fs::write(d.join("delta.tsv"), &delta_manifest).unwrap();
    }
    let golden = std::fs::read(d.join(dfrm)).expect("delta frame missing");
    let base = std::fs::read(d.join(dbase)).expect("delta base missing");
    assert_eq!(base, other);
    assert_eq!(
        golden, delta,
        "the delta encoder's output changed; if on purpose, bless new vectors and keep the old"
    );
    assert_eq!(decompress_delta(&golden, &base).unwrap(), c.input);
    assert_eq!(decompress(&golden), Err(Error::BaseRequired));
    let mut wrong = base.clone();
    wrong[0] ^= 1;
    assert_eq!(decompress_delta(&golden, &wrong), Err(Error::BaseMismatch));
    assert_eq!(
        std::fs::read_to_string(d.join("delta.tsv")).unwrap(),
        delta_manifest
    );
    // Codecs 7 and 8 exist from format 2 on: in a format 1 frame they are an unsupported
    // codec.
    for (name, from) in [
        ("codec-7-in-v1", "valid/bf16-max-ans.znn"),
        ("codec-8-in-v1", "valid/uint8-blocks.znn"),
    ] {
        let v2 = std::fs::read(d.join(from)).unwrap();
        let golden = invalid_vector(
            &d,
            bless,
            &mut manifest,
            name,
            &as_version_1(&v2),
            Error::UnsupportedCodec,
        );
        assert_eq!(golden[4], 1);
    }
    // The same rewriting of frames without codecs 7 and 8 gives valid frames: the
    // version is what makes them errors.
    for c in ["bf16-huffman", "fp32-auto"] {
        let v2 = std::fs::read(d.join(format!("valid/{c}.znn"))).unwrap();
        let v1 = as_version_1(&v2);
        assert_eq!(v1[4], 1);
        assert_eq!(decompress(&v1).unwrap(), decompress(&v2).unwrap(), "{c}");
    }
    if bless {
        std::fs::write(d.join("manifest.tsv"), &manifest).unwrap();
    }
    assert_eq!(
        std::fs::read_to_string(d.join("manifest.tsv")).unwrap(),
        manifest
    );
}
