//! Safetensors archives: byte-exact round trips with every dtype, one tensor by name,
//! and clear errors for malformed files.

mod common;

use common::{make, Kind};
use zipnn::container::safetensors::{self, Archive, SafeTensors};
use zipnn::{DType, Error, Options};

/// Builds a safetensors file from (name, dtype string, shape, bytes), padding the header
/// with spaces to a multiple of 8 like the reference writer.
fn build(tensors: &[(&str, &str, Vec<u64>, Vec<u8>)], metadata: Option<&str>) -> Vec<u8> {
    let mut json = String::from("{");
    if let Some(m) = metadata {
        json += &format!("\"__metadata__\":{m},");
    }
    let mut off = 0usize;
    for (i, (name, dtype, shape, bytes)) in tensors.iter().enumerate() {
        let shape: Vec<String> = shape.iter().map(|d| d.to_string()).collect();
        json += &format!(
            "{}\"{name}\":{{\"dtype\":\"{dtype}\",\"shape\":[{}],\"data_offsets\":[{off},{}]}}",
            if i > 0 { "," } else { "" },
            shape.join(","),
            off + bytes.len()
        );
        off += bytes.len();
    }
    json += "}";
    while json.len() % 8 != 0 {
        json.push(' ');
    }
    let mut f = (json.len() as u64).to_le_bytes().to_vec();
    f.extend_from_slice(json.as_bytes());
    for (_, _, _, b) in tensors {
        f.extend_from_slice(b);
    }
    f
}

fn sample() -> Vec<u8> {
    let t = |name: &'static str, st: &'static str, dt: DType, n: u64, esize: u64| {
        (
            name,
            st,
            vec![n],
            make(dt, Kind::Gaussian, (n * esize) as usize, n),
        )
    };
    build(
        &[
            t("a.bf16", "BF16", DType::Bf16, 3000, 2),
            t("b.f16", "F16", DType::Fp16, 2000, 2),
            t("c.f32", "F32", DType::Fp32, 1500, 4),
            t("d.f64", "F64", DType::Fp64, 700, 8),
            t("e.f8e4m3", "F8_E4M3", DType::Fp8E4M3, 999, 1),
            t("f.f8e5m2", "F8_E5M2", DType::Fp8E5M2, 1001, 1),
            t("g.i8", "I8", DType::Int8, 500, 1),
            t("h.u8", "U8", DType::Uint8, 499, 1),
            t("i.i32", "I32", DType::Raw, 300, 4),
            t("j.bool", "BOOL", DType::Raw, 17, 1),
            t("k.i64", "I64", DType::Raw, 40, 8),
            ("l.empty", "F32", vec![0, 5], vec![]),
            ("m.scalar", "BF16", vec![], vec![0x80, 0x3F]),
        ],
        Some(r#"{"format":"pt","note":"zipnn test"}"#),
    )
}

#[test]
fn every_dtype_round_trips_byte_for_byte() {
    let file = sample();
    let st = SafeTensors::parse(&file).unwrap();
    assert_eq!(st.tensors.len(), 13);
    let opts = Options {
        chunk_size: 1024,
        ..Options::default()
    };
    let archive = safetensors::compress(&file, &opts).unwrap();
    assert_eq!(safetensors::decompress(&archive).unwrap(), file);
    let a = Archive::open(&archive).unwrap();
    assert_eq!(a.header_json(), st.header);
    for t in st.tensors.iter() {
        let want = &st.data[t.data_offsets.0 as usize..t.data_offsets.1 as usize];
        assert_eq!(a.tensor(&t.name).unwrap(), want, "{}", t.name);
        // Each tensor is coded with its own dtype.
        let info = zipnn::frame_info(&a.frame(&t.name).unwrap()).unwrap();
        let expect = match t.dtype.as_str() {
            "BF16" => DType::Bf16,
            "F16" => DType::Fp16,
            "F32" => DType::Fp32,
            "F64" => DType::Fp64,
            "F8_E4M3" => DType::Fp8E4M3,
            "F8_E5M2" => DType::Fp8E5M2,
            "I8" => DType::Int8,
            "U8" => DType::Uint8,
            _ => DType::Raw,
        };
        assert_eq!(info.dtype, expect, "{}", t.name);
    }
    let mut small = vec![0u8; 3];
    assert_eq!(a.tensor_into("a.bf16", &mut small), Err(Error::DstTooSmall));
    assert_eq!(a.tensor("nope"), Err(Error::NotFound));
}

#[test]
fn malformed_files_are_rejected_clearly() {
    let ok = build(&[("x", "F32", vec![2], vec![0; 8])], None);
    assert!(SafeTensors::parse(&ok).is_ok());
    let cases: Vec<(&str, Vec<u8>)> = vec![
        ("too short", vec![1, 2, 3]),
        ("header length past the end", {
            let mut f = ok.clone();
            f[..8].copy_from_slice(&(1u64 << 40).to_le_bytes());
            f
        }),
        ("invalid json", {
            let mut f = ok.clone();
            f[9] = b'!';
            f
        }),
        (
            "unknown dtype",
            build(&[("x", "F33", vec![2], vec![0; 8])], None),
        ),
        (
            "shape does not match bytes",
            build(&[("x", "F32", vec![3], vec![0; 8])], None),
        ),
        ("offsets out of range", {
            let mut f = build(&[("x", "U8", vec![8], vec![0; 8])], None);
            f.truncate(f.len() - 1);
            f
        }),
        ("overlapping", {
            let json = r#"{"a":{"dtype":"U8","shape":[4],"data_offsets":[0,4]},"b":{"dtype":"U8","shape":[4],"data_offsets":[2,6]}}"#;
            let mut f = (json.len() as u64).to_le_bytes().to_vec();
            f.extend_from_slice(json.as_bytes());
            f.extend_from_slice(&[0; 6]);
            f
        }),
        ("hole", {
            let json = r#"{"a":{"dtype":"U8","shape":[4],"data_offsets":[0,4]},"b":{"dtype":"U8","shape":[2],"data_offsets":[6,8]}}"#;
            let mut f = (json.len() as u64).to_le_bytes().to_vec();
            f.extend_from_slice(json.as_bytes());
            f.extend_from_slice(&[0; 8]);
            f
        }),
        ("metadata not strings", {
            build(&[("x", "U8", vec![1], vec![0])], Some(r#"{"n":1}"#))
        }),
    ];
    for (what, f) in cases {
        assert_eq!(
            SafeTensors::parse(&f).unwrap_err(),
            Error::BadSafetensors,
            "{what}"
        );
        assert_eq!(
            safetensors::compress(&f, &Options::default()).unwrap_err(),
            Error::BadSafetensors,
            "{what}"
        );
    }
}

#[test]
fn damaged_archives_are_errors() {
    let file = sample();
    let archive = safetensors::compress(&file, &Options::default()).unwrap();
    assert_eq!(Archive::open(&archive[..3]).unwrap_err(), Error::Truncated);
    assert_eq!(
        Archive::open(b"not an archive").unwrap_err(),
        Error::BadMagic
    );
    for cut in (0..archive.len()).step_by(7) {
        assert!(
            safetensors::decompress(&archive[..cut]).is_err(),
            "prefix {cut}"
        );
    }
    let mut rng = common::Rng(99);
    for _ in 0..500 {
        let mut bad = archive.clone();
        let at = (rng.next() as usize) % bad.len();
        bad[at] ^= 1 << (rng.next() % 8);
        assert!(safetensors::decompress(&bad).is_err(), "flip at {at}");
    }
}

#[test]
fn tied_delta_tensor_decodes_against_the_base_of_the_tensor_it_repeats() {
    // The fine-tune ties "head" to "embed"; the base has them untied. The shared frame is a
    // delta against the base's "embed", so "head" must decode with those bytes.
    let embed = make(DType::Fp32, Kind::Gaussian, 4096, 1);
    let base_head = make(DType::Fp32, Kind::Gaussian, 4096, 2);
    let mut fine_embed = embed.clone();
    for b in fine_embed.iter_mut().step_by(7) {
        *b ^= 1;
    }
    let base = build(
        &[
            ("embed", "F32", vec![1024], embed),
            ("head", "F32", vec![1024], base_head),
        ],
        None,
    );
    let fine = build(
        &[
            ("embed", "F32", vec![1024], fine_embed.clone()),
            ("head", "F32", vec![1024], fine_embed.clone()),
        ],
        None,
    );
    let arc = safetensors::compress_with_base(&fine, Some(&base), &Options::default()).unwrap();
    let a = Archive::open(&arc).unwrap();
    let b = SafeTensors::parse(&base).unwrap();
    assert_eq!(a.tensor_with_base("embed", Some(&b)).unwrap(), fine_embed);
    assert_eq!(a.tensor_with_base("head", Some(&b)).unwrap(), fine_embed);
    assert_eq!(a.restore_with_base(Some(&b)).unwrap(), fine);
}
