//! Safetensors archives: byte-exact round trips with every dtype, one tensor by name,
//! and clear errors for malformed files.

mod common;

use common::{build_safetensors as build, make, Kind};
use zipnn::container::safetensors::{self, Archive, SafeTensors};
use zipnn::{DType, Error, Options};

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
    // Every tensor decoded at once from a damaged archive that still opens: an error and
    // no output touched (every frame and checksum is checked before any is written).
    let st = SafeTensors::parse(&file).unwrap();
    let lens: Vec<usize> = st
        .tensors
        .iter()
        .map(|t| (t.data_offsets.1 - t.data_offsets.0) as usize)
        .collect();
    let mut opened = 0;
    for _ in 0..500 {
        let mut bad = archive.clone();
        let at = (rng.next() as usize) % bad.len();
        bad[at] ^= 1 << (rng.next() % 8);
        let Ok(a) = Archive::open(&bad) else { continue };
        opened += 1;
        let mut outs: Vec<Vec<u8>> = lens.iter().map(|&n| vec![0x5Au8; n]).collect();
        let jobs = outs
            .iter_mut()
            .enumerate()
            .map(|(i, o)| (i, &mut o[..]))
            .collect();
        let d = zipnn::DecompressOptions::default();
        assert!(a.decode_many(jobs, None, &d).is_err(), "flip at {at}");
        assert!(outs.iter().flatten().all(|&x| x == 0x5A), "flip at {at}");
    }
    assert!(opened > 100, "{opened}");
}

#[test]
fn tied_tensors_are_stored_once_and_restored() {
    let w = make(DType::Bf16, Kind::Gaussian, 20000, 7);
    let other = make(DType::Bf16, Kind::Gaussian, 20000, 8);
    let file = build(
        &[
            ("embed", "BF16", vec![10000], w.clone()),
            ("middle", "BF16", vec![10000], other.clone()),
            ("lm_head", "BF16", vec![10000], w.clone()),
            // Same bytes, another dtype: not a tie (its frame is coded for its own dtype).
            ("as_i16", "I16", vec![10000], w.clone()),
        ],
        None,
    );
    let untied = build(
        &[
            ("embed", "BF16", vec![10000], w.clone()),
            ("middle", "BF16", vec![10000], other),
        ],
        None,
    );
    let archive = safetensors::compress(&file, &Options::default()).unwrap();
    let two = safetensors::compress(&untied, &Options::default()).unwrap();
    // The tie costs an index entry, not a frame; the I16 copy has its own frame.
    let i16_opts = Options {
        bg_partitions: 2,
        ..Options::new(DType::Raw)
    };
    let i16_frame = zipnn::compress(&w, &i16_opts).unwrap().len();
    assert!(
        archive.len() < two.len() + i16_frame + 400,
        "{} vs {} + {i16_frame}",
        archive.len(),
        two.len()
    );
    assert_eq!(
        archive[5] & safetensors::ARCHIVE_FLAG_TIES,
        safetensors::ARCHIVE_FLAG_TIES
    );
    let a = Archive::open(&archive).unwrap();
    assert_eq!(a.stored(2), Some(safetensors::Stored::Tied(0)));
    assert!(matches!(
        a.stored(3),
        Some(safetensors::Stored::Frame { .. })
    ));
    assert_eq!(a.tensor("lm_head").unwrap(), w);
    assert_eq!(a.tensor("as_i16").unwrap(), w);
    assert_eq!(a.restore().unwrap(), file);
    // A reference to a later tensor, or to itself, is corrupt.
    let entry = safetensors::FIXED_SIZE + a.header_json().len() + 2 * safetensors::ENTRY_SIZE + 16;
    let mut bad = archive.clone();
    bad[entry..entry + 8].copy_from_slice(&(safetensors::REF_BIT | 2).to_le_bytes());
    let body_end = safetensors::FIXED_SIZE + a.header_json().len() + 4 * safetensors::ENTRY_SIZE;
    // Each tensor's frame is coded for its own dtype, so with a lossy mode the I16 copy
    // stays exact while the BF16 original is rounded.
    let lossy = Options {
        lossy: zipnn::Lossy::Mantissa { bits: 2 },
        ..Options::default()
    };
    let la = safetensors::compress(&file, &lossy).unwrap();
    assert_eq!(Archive::open(&la).unwrap().tensor("as_i16").unwrap(), w);
    let sum = zipnn::frame::checksum(&bad[safetensors::FIXED_SIZE..body_end]);
    bad[32..40].copy_from_slice(&sum.to_le_bytes());
    let fixed_sum = zipnn::frame::checksum(&bad[..40]);
    bad[40..48].copy_from_slice(&fixed_sum.to_le_bytes());
    assert_eq!(Archive::open(&bad).unwrap_err(), Error::Corrupt);
}

/// A base model and a "fine-tune" of it: small perturbations of most tensors, one tensor
/// with another shape, one missing from the base.
fn base_and_finetune() -> (Vec<u8>, Vec<u8>) {
    let base_w = make(DType::Bf16, Kind::Gaussian, 40000, 1);
    let mut ft_w = base_w.clone();
    for (i, e) in ft_w.chunks_exact_mut(2).enumerate() {
        if i % 3 == 0 {
            e[0] ^= 1; // a nudge in the last mantissa bit
        }
    }
    let base_f = make(DType::Fp32, Kind::Gaussian, 8000, 2);
    let mut ft_f = base_f.clone();
    for e in ft_f.chunks_exact_mut(4) {
        e[0] = e[0].wrapping_add(3);
    }
    let base = build(
        &[
            ("w", "BF16", vec![200, 100], base_w),
            ("f", "F32", vec![2000], base_f),
            (
                "reshaped",
                "F32",
                vec![10, 10],
                make(DType::Fp32, Kind::Gaussian, 400, 3),
            ),
        ],
        None,
    );
    let ft = build(
        &[
            ("w", "BF16", vec![200, 100], ft_w),
            ("f", "F32", vec![2000], ft_f),
            (
                "reshaped",
                "F32",
                vec![100],
                make(DType::Fp32, Kind::Gaussian, 400, 4),
            ),
            (
                "new_head",
                "F16",
                vec![500],
                make(DType::Fp16, Kind::Gaussian, 1000, 5),
            ),
        ],
        Some(r#"{"format":"pt"}"#),
    );
    (base, ft)
}

#[test]
fn delta_archives_need_their_base() {
    let (base, ft) = base_and_finetune();
    let plain = safetensors::compress(&ft, &Options::default()).unwrap();
    let delta = safetensors::compress_with_base(&ft, Some(&base), &Options::default()).unwrap();
    assert!(
        delta.len() * 2 < plain.len(),
        "{} vs {}",
        delta.len(),
        plain.len()
    );
    let b = SafeTensors::parse(&base).unwrap();
    let a = Archive::open(&delta).unwrap();
    assert_eq!(
        a.flags() & safetensors::ARCHIVE_FLAG_DELTA,
        safetensors::ARCHIVE_FLAG_DELTA
    );
    assert_eq!(a.restore_with_base(Some(&b)).unwrap(), ft);
    assert_eq!(
        safetensors::decompress_with_base(&delta, &base).unwrap(),
        ft
    );
    // Tensors matched by name, dtype and shape are deltas; the others are plain.
    let is_delta = |i: usize| a.frame_header_at(i).unwrap().base_hash.is_some();
    let names: Vec<&str> = a.tensors().iter().map(|t| t.name.as_str()).collect();
    for (i, n) in names.iter().enumerate() {
        assert_eq!(is_delta(i), matches!(*n, "w" | "f"), "{n}");
    }
    // Without the base: plain tensors decode, deltas and the whole file do not.
    let f = SafeTensors::parse(&ft).unwrap();
    let head = f.tensors.iter().find(|t| t.name == "new_head").unwrap();
    assert_eq!(a.tensor("new_head").unwrap(), f.bytes(head));
    assert_eq!(a.tensor("w").unwrap_err(), Error::BaseRequired);
    assert_eq!(a.restore().unwrap_err(), Error::BaseRequired);
    // Another base (one byte of "w" differs): refused, and the output is untouched.
    let mut other = base.clone();
    let n = other.len();
    other[n - 8400 - 100] ^= 0x40; // inside "w" (followed by 8000 + 400 bytes)
    let ob = SafeTensors::parse(&other).unwrap();
    let mut dst = vec![0xAAu8; 40000];
    let w = a.index_of("w").unwrap();
    assert_eq!(
        a.decode_at(w, Some(&ob), &mut dst, &Default::default())
            .unwrap_err(),
        Error::BaseMismatch
    );
    assert!(dst.iter().all(|&x| x == 0xAA));
    assert_eq!(
        a.restore_with_base(Some(&ob)).unwrap_err(),
        Error::BaseMismatch
    );
    // A tied copy of a delta tensor decodes with its original's base tensor.
    let f = SafeTensors::parse(&ft).unwrap();
    let mut with_tie: Vec<(&str, &str, Vec<u64>, Vec<u8>)> = f
        .tensors
        .iter()
        .map(|t| {
            (
                t.name.as_str(),
                t.dtype.as_str(),
                t.shape.clone(),
                f.bytes(t).to_vec(),
            )
        })
        .collect();
    let w_bytes = with_tie[with_tie.iter().position(|t| t.0 == "w").unwrap()]
        .3
        .clone();
    with_tie.push(("w_tied", "BF16", vec![200, 100], w_bytes.clone()));
    let tied_file = build(&with_tie, None);
    let ta = safetensors::compress_with_base(&tied_file, Some(&base), &Options::default()).unwrap();
    let ta = Archive::open(&ta).unwrap();
    assert!(matches!(
        ta.stored(ta.index_of("w_tied").unwrap()),
        Some(safetensors::Stored::Tied(_))
    ));
    assert_eq!(ta.tensor_with_base("w_tied", Some(&b)).unwrap(), w_bytes);
    assert_eq!(ta.restore_with_base(Some(&b)).unwrap(), tied_file);
    // A base without the tensor at all is a mismatch too.
    let empty = build(&[], None);
    let eb = SafeTensors::parse(&empty).unwrap();
    assert_eq!(
        a.tensor_with_base("w", Some(&eb)).unwrap_err(),
        Error::BaseMismatch
    );
}

#[test]
fn archives_open_from_files_read_only_what_they_decode() {
    let file = sample();
    let archive = safetensors::compress(&file, &Options::default()).unwrap();
    let dir = std::env::temp_dir().join(format!("zipnn-st-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("sample.znn");
    std::fs::write(&path, &archive).unwrap();
    let a = Archive::open_file(&path).unwrap();
    let m = Archive::open(&archive).unwrap();
    assert_eq!(a.tensors(), m.tensors());
    assert_eq!(a.header_json(), m.header_json());
    for t in m.tensors() {
        assert_eq!(
            a.tensor(&t.name).unwrap(),
            m.tensor(&t.name).unwrap(),
            "{}",
            t.name
        );
    }
    assert_eq!(a.restore().unwrap(), file);
    assert_eq!(
        Archive::open_file(dir.join("missing.znn")).unwrap_err(),
        Error::Io
    );
    // A truncated file is caught at open (frames end before the index says).
    std::fs::write(&path, &archive[..archive.len() - 1]).unwrap();
    assert_eq!(Archive::open_file(&path).unwrap_err(), Error::Truncated);
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn lossy_archives_touch_only_float_tensors() {
    let file = sample();
    let opts = Options {
        lossy: zipnn::Lossy::Mantissa { bits: 3 },
        ..Options::default()
    };
    let archive = safetensors::compress(&file, &opts).unwrap();
    let st = SafeTensors::parse(&file).unwrap();
    let a = Archive::open(&archive).unwrap();
    for (i, t) in st.tensors.iter().enumerate() {
        let lossy = a.frame_header_at(i).unwrap().lossy;
        let float = matches!(t.dtype.as_str(), "BF16" | "F16" | "F32" | "F64");
        let want = if float {
            zipnn::Lossy::Mantissa { bits: 3 }
        } else {
            zipnn::Lossy::None
        };
        assert_eq!(lossy, want, "{}", t.name);
        if !float {
            assert_eq!(a.tensor(&t.name).unwrap(), st.bytes(t), "{}", t.name);
        }
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

fn data(name: &str) -> Vec<u8> {
    std::fs::read(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/data")
            .join(name),
    )
    .unwrap()
}

#[test]
fn committed_files_from_the_reference_writer_round_trip() {
    // Written by the safetensors package (tests/data/make_safetensors.py).
    let file = data("every-dtype.safetensors");
    let st = SafeTensors::parse(&file).unwrap();
    let dtypes: std::collections::BTreeSet<&str> =
        st.tensors.iter().map(|t| t.dtype.as_str()).collect();
    for d in [
        "BF16", "F16", "F32", "F64", "F8_E4M3", "F8_E5M2", "I8", "U8", "I16", "I32", "I64", "BOOL",
    ] {
        assert!(dtypes.contains(d), "{d} missing from the committed file");
    }
    let archive = safetensors::compress(&file, &Options::default()).unwrap();
    assert_eq!(safetensors::decompress(&archive).unwrap(), file);
    let a = Archive::open(&archive).unwrap();
    for (i, t) in st.tensors.iter().enumerate() {
        assert_eq!(a.tensor(&t.name).unwrap(), st.bytes(t), "{}", t.name);
        if t.name == "lm_head.bf16" {
            let j = a.index_of("emb.bf16").unwrap();
            assert_eq!(a.stored(i), Some(safetensors::Stored::Tied(j)));
        }
    }
    // The fine-tune against its base: smaller, exact, and only with that base.
    let (base, fine) = (data("base.safetensors"), data("finetune.safetensors"));
    let plain = safetensors::compress(&fine, &Options::default()).unwrap();
    let delta = safetensors::compress_with_base(&fine, Some(&base), &Options::default()).unwrap();
    assert!(
        delta.len() < plain.len(),
        "{} vs {}",
        delta.len(),
        plain.len()
    );
    assert_eq!(
        safetensors::decompress_with_base(&delta, &base).unwrap(),
        fine
    );
    assert_eq!(
        safetensors::decompress(&delta).unwrap_err(),
        Error::BaseRequired
    );
    assert_eq!(
        safetensors::decompress_with_base(&delta, &file).unwrap_err(),
        Error::BaseMismatch
    );
}

#[test]
fn archives_are_coded_in_place_into_a_buffer_of_the_bound() {
    let file = sample();
    let (base, fine) = base_and_finetune();
    let opts = Options::default();
    for (f, b) in [(&file, None), (&fine, Some(base.as_slice()))] {
        let want = safetensors::compress_with_base(f, b, &opts).unwrap();
        let bound = safetensors::compress_bound(f, &opts).unwrap();
        assert!(want.len() <= bound);
        // Exactly the bound: the same archive, written in place.
        let mut dst = vec![0xABu8; bound];
        let n = safetensors::compress_with_base_into(f, b, &opts, &mut dst).unwrap();
        assert_eq!(&dst[..n], &want[..]);
        let back = match b {
            Some(b) => safetensors::decompress_with_base(&dst[..n], b),
            None => safetensors::decompress(&dst[..n]),
        };
        assert_eq!(back.unwrap(), *f);
        // One byte short of the bound: refused before anything is written.
        let mut short = vec![0xABu8; bound - 1];
        assert_eq!(
            safetensors::compress_with_base_into(f, b, &opts, &mut short),
            Err(Error::DstTooSmall)
        );
        assert!(short.iter().all(|&x| x == 0xAB));
    }
    // A malformed file: an error, and the buffer untouched.
    let mut dst = vec![0xABu8; 1 << 16];
    assert!(safetensors::compress_with_base_into(&file[..7], None, &opts, &mut dst).is_err());
    assert!(dst.iter().all(|&x| x == 0xAB));
}

#[test]
fn an_archive_of_many_tensors_finds_matches_and_restores_each() {
    // 100 000 small tensors (the header limit allows far more): names are looked up and
    // matched against the base by hash, so this runs in about the time of plain
    // compression (it took minutes when every lookup scanned the whole list).
    const N: usize = 100_000;
    let names: Vec<String> = (0..N).map(|i| format!("layer.{i}.w")).collect();
    let tensor = |i: usize, salt: u16| {
        let v: Vec<u8> = (0..4u16)
            .flat_map(|k| (0x3C00 + (i as u16).wrapping_mul(7) + k + salt).to_le_bytes())
            .collect();
        v
    };
    let file_of = |salt: u16| {
        let ts: Vec<(&str, &str, Vec<u64>, Vec<u8>)> = names
            .iter()
            .enumerate()
            .map(|(i, n)| (n.as_str(), "BF16", vec![4], tensor(i, salt)))
            .collect();
        build(&ts, None)
    };
    let (base, fine) = (file_of(0), file_of(1));
    let opts = Options {
        threads: 1,
        ..Options::default()
    };
    let ar = safetensors::compress_with_base(&fine, Some(&base), &opts).unwrap();
    let a = Archive::open(&ar).unwrap();
    let b = SafeTensors::parse(&base).unwrap();
    assert_eq!(a.tensors().len(), N);
    // Every name is found at its place (data order is name order here).
    for (i, t) in a.tensors().iter().enumerate() {
        assert_eq!(a.index_of(&t.name).unwrap(), i);
    }
    assert_eq!(a.index_of("layer.100000.w").unwrap_err(), Error::NotFound);
    // Every tensor was matched to its base: all are deltas, and decode with it.
    for i in (0..N).step_by(9973) {
        let name = &names[i];
        assert!(a
            .frame_header_at(a.index_of(name).unwrap())
            .unwrap()
            .base_hash
            .is_some());
        assert_eq!(a.tensor_with_base(name, Some(&b)).unwrap(), tensor(i, 1));
    }
    assert_eq!(a.restore_with_base(Some(&b)).unwrap(), fine);
}

#[test]
fn tensor_ranges_decode_as_the_file_holds_them_at_any_thread_count() {
    // Small tensors (coded several at once with more than one worker), large ones (more
    // than one chunk), ties inside and across ranges, deltas.
    let big = make(DType::Bf16, Kind::Gaussian, 700_000, 1);
    let mut ts: Vec<(String, &str, Vec<u64>, Vec<u8>)> = Vec::new();
    for i in 0..40 {
        let n = [6, 2000, 40_000, 300_000][i % 4];
        ts.push((
            format!("t{i}"),
            "BF16",
            vec![n as u64 / 2],
            make(DType::Bf16, Kind::Gaussian, n, i as u64 + 9),
        ));
        if i % 7 == 3 {
            ts.push((
                format!("tie{i}"),
                "BF16",
                ts[i / 2].2.clone(),
                ts[i / 2].3.clone(),
            ));
        }
    }
    ts.push(("big".into(), "BF16", vec![350_000], big.clone()));
    ts.push(("big_tie".into(), "BF16", vec![350_000], big));
    let fix = |ts: &[(String, &str, Vec<u64>, Vec<u8>)]| {
        let v: Vec<(&str, &str, Vec<u64>, Vec<u8>)> = ts
            .iter()
            .map(|(n, d, s, b)| (n.as_str(), *d, s.clone(), b.clone()))
            .collect();
        build(&v, None)
    };
    // The base differs from the file in the low bit of every element of every fifth tensor.
    let mut based = ts.clone();
    for (i, t) in based.iter_mut().enumerate().filter(|(i, _)| i % 5 == 0) {
        for (k, b) in t.3.iter_mut().enumerate() {
            *b ^= (k % 2 == 0) as u8 ^ (i as u8 & 1);
        }
    }
    let (file, base) = (fix(&ts), fix(&based));
    let st = SafeTensors::parse(&file).unwrap();
    let b = SafeTensors::parse(&base).unwrap();
    let head = file.len() - st.data.len();
    for with_base in [None, Some(&base[..])] {
        let want = safetensors::compress_with_base(
            &file,
            with_base,
            &Options {
                threads: 1,
                ..Options::default()
            },
        )
        .unwrap();
        for threads in [2, 3, 0] {
            let o = Options {
                threads,
                ..Options::default()
            };
            assert_eq!(
                safetensors::compress_with_base(&file, with_base, &o).unwrap(),
                want,
                "threads {threads}"
            );
        }
        let a = Archive::open(&want).unwrap();
        let n = a.tensors().len();
        for threads in [1, 2] {
            let d = zipnn::DecompressOptions {
                threads,
                max_size: 0,
            };
            for (lo, hi) in [
                (0, n),
                (0, 1),
                (3, 17),
                (10, n),
                (n - 2, n),
                (5, 5),
                (n - 1, n),
            ] {
                let (s, e) = if lo == hi {
                    (0, 0)
                } else {
                    (
                        a.tensors()[lo].data_offsets.0 as usize,
                        a.tensors()[hi - 1].data_offsets.1 as usize,
                    )
                };
                let mut out = vec![0xA5u8; e - s];
                let base = with_base.map(|_| &b);
                a.decode_tensors(lo..hi, base, &mut out, &d).unwrap();
                assert_eq!(
                    out,
                    &file[head + s..head + e],
                    "{lo}..{hi}, threads {threads}"
                );
            }
            // Every tensor into a buffer of its own (3 bytes longer), in another order than
            // the file's, at once: the same bytes, the extra bytes untouched.
            let base = with_base.map(|_| &b);
            let order: Vec<usize> = (0..n).rev().step_by(2).chain((0..n).step_by(2)).collect();
            let len = |i: usize| {
                let (s, e) = a.tensors()[i].data_offsets;
                (s as usize, e as usize)
            };
            let mut outs: Vec<Vec<u8>> = order
                .iter()
                .map(|&i| vec![0xA5u8; len(i).1 - len(i).0 + 3])
                .collect();
            let jobs = order
                .iter()
                .copied()
                .zip(outs.iter_mut().map(|o| &mut o[..]))
                .collect();
            a.decode_many(jobs, base, &d).unwrap();
            for (&i, o) in order.iter().zip(&outs) {
                let (s, e) = len(i);
                assert_eq!(&o[..e - s], &file[head + s..head + e], "tensor {i}");
                assert_eq!(o[e - s..], [0xA5; 3], "tensor {i}");
            }
            // An output too short or an unknown tensor is refused before anything is
            // written; a delta tensor without its base too.
            let big = (0..n).max_by_key(|&i| len(i).1 - len(i).0).unwrap();
            let mut one = [0x11u8; 10];
            let mut short = vec![0x11u8; len(big).1 - len(big).0 - 1];
            let jobs = vec![(0, &mut one[..]), (big, &mut short[..])];
            assert_eq!(a.decode_many(jobs, base, &d), Err(Error::DstTooSmall));
            let jobs = vec![(0, &mut one[..]), (n, &mut short[..])];
            assert_eq!(a.decode_many(jobs, base, &d), Err(Error::NotFound));
            assert!(one.iter().chain(&short).all(|&x| x == 0x11));
            if with_base.is_some() {
                let mut all: Vec<Vec<u8>> =
                    (0..n).map(|i| vec![0x22u8; len(i).1 - len(i).0]).collect();
                let jobs = all
                    .iter_mut()
                    .enumerate()
                    .map(|(i, o)| (i, &mut o[..]))
                    .collect();
                assert_eq!(a.decode_many(jobs, None, &d), Err(Error::BaseRequired));
                assert!(all.iter().flatten().all(|&x| x == 0x22));
            }
            // A wrong length or range is refused.
            let mut out = vec![0u8; 3];
            assert_eq!(
                a.decode_tensors(0..1, with_base.map(|_| &b), &mut out, &d),
                Err(Error::InvalidParam)
            );
            assert_eq!(
                a.decode_tensors(0..n + 1, None, &mut out, &d),
                Err(Error::InvalidParam)
            );
        }
    }
}
