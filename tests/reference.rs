//! Files written by the reference package (PyPI zipnn 0.5.4): every vector listed in
//! tests/reference-vectors/manifest.tsv decodes to its listed content.

use std::path::{Path, PathBuf};

use zipnn::refformat::{self, DeltaKind, InputKind};
use zipnn::{DType, DecompressOptions, Error};

fn dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/reference-vectors")
}

/// One manifest row.
struct Row {
    file: String,
    kind: String,
    original: String,
    dtype: String,
    shape: String,
    delta_base: String,
}

fn manifest() -> Vec<Row> {
    let text = std::fs::read_to_string(dir().join("manifest.tsv")).unwrap();
    let mut lines = text.lines();
    let head: Vec<&str> = lines.next().unwrap().split('\t').collect();
    let col = |name: &str| head.iter().position(|h| *h == name).unwrap();
    let (f, k, o, d, s, b) = (
        col("file"),
        col("kind"),
        col("original"),
        col("dtype"),
        col("shape"),
        col("delta_base"),
    );
    let rows: Vec<Row> = lines
        .filter(|l| !l.is_empty())
        .map(|l| {
            let c: Vec<&str> = l.split('\t').collect();
            Row {
                file: c[f].into(),
                kind: c[k].into(),
                original: c[o].into(),
                dtype: c[d].into(),
                shape: c[s].into(),
                delta_base: c[b].into(),
            }
        })
        .collect();
    assert_eq!(rows.len(), 34, "the manifest lists 34 vectors");
    rows
}

/// The bytes an `inputs/X` or `inputs/X[A:B]` reference names.
fn content(spec: &str) -> Vec<u8> {
    let (name, range) = match spec.find('[') {
        Some(i) => (&spec[..i], Some(&spec[i + 1..spec.len() - 1])),
        None => (spec, None),
    };
    let all = std::fs::read(dir().join(name)).unwrap();
    match range {
        None => all,
        Some(r) => {
            let (a, b) = r.split_once(':').unwrap();
            all[a.parse::<usize>().unwrap()..b.parse::<usize>().unwrap()].to_vec()
        }
    }
}

fn dtype_of(name: &str) -> DType {
    match name.split_whitespace().next().unwrap() {
        "bfloat16" => DType::Bf16,
        "float32" => DType::Fp32,
        "float16" => DType::Fp16,
        "float8_e4m3fn" => DType::Fp8E4M3,
        "float8_e5m2" => DType::Fp8E5M2,
        other => panic!("dtype {other}"),
    }
}

fn shape_of(text: &str) -> Vec<u64> {
    let inner = text.trim_start_matches('[').trim_end_matches(']');
    inner
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|s| s.parse().unwrap())
        .collect()
}

fn read(row: &Row) -> Vec<u8> {
    std::fs::read(dir().join(&row.file)).unwrap()
}

#[test]
fn every_frame_vector_decodes_to_its_content() {
    let opts = DecompressOptions::default();
    let mut seen = 0;
    for row in manifest() {
        if matches!(
            row.kind.as_str(),
            "safetensors" | "zipnn-hf" | "delta" | "delta-file"
        ) {
            continue;
        }
        let src = read(&row);
        let want = content(&row.original);
        assert!(refformat::is_reference(&src), "{}", row.file);
        let got =
            refformat::decompress(&src, &opts).unwrap_or_else(|e| panic!("{}: {e}", row.file));
        assert!(got == want, "{}: decoded bytes differ", row.file);
        // One thread and several give the same bytes.
        let one = DecompressOptions { threads: 1, ..opts };
        assert!(
            refformat::decompress(&src, &one).unwrap() == want,
            "{}",
            row.file
        );
        let info = refformat::info(&src).unwrap();
        assert_eq!(info.original_size, want.len() as u64, "{}", row.file);
        assert_eq!(
            refformat::decompressed_size(&src).unwrap(),
            want.len() as u64
        );
        assert_eq!(info.first.dtype, dtype_of(&row.dtype), "{}", row.file);
        let streamed = row.kind.ends_with("streaming");
        assert_eq!(info.first.streaming_log.is_some(), streamed, "{}", row.file);
        assert_eq!(
            info.frames > 1,
            streamed && want.len() > 128 << 10,
            "{}",
            row.file
        );
        match row.kind.as_str() {
            "torch" | "numpy" => {
                assert_eq!(
                    info.shape.as_deref(),
                    Some(&shape_of(&row.shape)[..]),
                    "{}",
                    row.file
                );
                let kind = if row.kind == "torch" {
                    InputKind::Torch
                } else {
                    InputKind::Numpy
                };
                assert_eq!(info.first.kind, kind);
            }
            _ => {
                assert_eq!(info.shape, None);
                assert_eq!(info.first.kind, InputKind::Byte);
            }
        }
        // Into a buffer of exactly the size, and one byte short.
        let mut dst = vec![0xa5u8; want.len() + 3];
        let n = refformat::decompress_into(&src, &mut dst, &opts).unwrap();
        assert_eq!(n, want.len());
        assert!(dst[..n] == want[..] && dst[n..] == [0xa5; 3]);
        if !want.is_empty() {
            let mut short = vec![0xa5u8; want.len() - 1];
            assert_eq!(
                refformat::decompress_into(&src, &mut short, &opts),
                Err(Error::DstTooSmall)
            );
            assert!(short.iter().all(|&b| b == 0xa5));
        }
        // A limit below the size is refused before decoding (0 means no limit).
        if want.len() > 1 {
            let lim = DecompressOptions {
                max_size: want.len() as u64 - 1,
                ..opts
            };
            assert_eq!(refformat::decompress(&src, &lim), Err(Error::LimitExceeded));
        }
        seen += 1;
    }
    assert_eq!(seen, 29);
}

#[test]
fn delta_vectors_decode_with_their_base() {
    let opts = DecompressOptions::default();
    let mut seen = 0;
    for row in manifest().iter().filter(|r| r.kind.starts_with("delta")) {
        let src = read(row);
        let want = content(&row.original);
        let base = content(&row.delta_base);
        let info = refformat::info(&src).unwrap();
        let kind = if row.kind == "delta" {
            DeltaKind::Byte
        } else {
            DeltaKind::File
        };
        assert_eq!(info.first.delta, kind);
        assert_eq!(refformat::decompress(&src, &opts), Err(Error::BaseRequired));
        let got = refformat::decompress_delta(&src, &base, &opts).unwrap();
        assert!(got == want, "{}", row.file);
        assert_eq!(
            refformat::decompress_delta(&src, &base[1..], &opts),
            Err(Error::BaseMismatch)
        );
        seen += 1;
    }
    assert_eq!(seen, 2);
}

#[test]
fn hf_vector_is_the_whole_file() {
    let row = manifest()
        .into_iter()
        .find(|r| r.kind == "zipnn-hf")
        .unwrap();
    let got = refformat::decompress(&read(&row), &DecompressOptions::default()).unwrap();
    assert!(got == content(&row.original));
}

#[test]
fn truncated_and_extended_vectors_are_refused() {
    for row in manifest() {
        if matches!(row.kind.as_str(), "safetensors") {
            continue;
        }
        let src = read(&row);
        let opts = DecompressOptions::default();
        for cut in [src.len() - 1, src.len() / 2, 31, 2, 1] {
            if cut >= src.len() {
                continue;
            }
            assert!(
                refformat::decompress(&src[..cut], &opts).is_err(),
                "{} cut {cut}",
                row.file
            );
        }
        let mut longer = src.clone();
        longer.push(0);
        assert!(
            refformat::decompress(&longer, &opts).is_err(),
            "{}",
            row.file
        );
    }
}

/// More frames written by the reference package, in a folder named by
/// `ZIPNN_REFERENCE_EXTRA`: each `NAME.znn` must decode to `NAME.bin`. Run by hand:
/// `ZIPNN_REFERENCE_EXTRA=DIR cargo test --release --test reference -- --ignored`.
#[test]
#[ignore]
fn extra_folder_decodes() {
    let dir = std::env::var("ZIPNN_REFERENCE_EXTRA").expect("set ZIPNN_REFERENCE_EXTRA");
    let mut n = 0;
    for e in std::fs::read_dir(&dir).unwrap() {
        let p = e.unwrap().path();
        if p.extension().and_then(|x| x.to_str()) != Some("znn") {
            continue;
        }
        let src = std::fs::read(&p).unwrap();
        let want = std::fs::read(p.with_extension("bin")).unwrap();
        let got = refformat::decompress(&src, &DecompressOptions::default())
            .unwrap_or_else(|e| panic!("{}: {e}", p.display()));
        assert!(got == want, "{}", p.display());
        n += 1;
    }
    assert!(n > 0);
    println!("{n} frames decoded");
}

#[test]
fn the_main_entry_points_read_reference_frames() {
    for row in manifest() {
        if matches!(row.kind.as_str(), "safetensors") {
            continue;
        }
        let src = read(&row);
        let want = content(&row.original);
        let delta = row.kind.starts_with("delta");
        let info = zipnn::frame_info(&src).unwrap();
        assert_eq!(info.format, zipnn::FrameFormat::Reference, "{}", row.file);
        assert_eq!(info.original_size, want.len() as u64);
        assert_eq!(info.frame_size, src.len() as u64);
        assert_eq!(info.flags & zipnn::frame::FLAG_DELTA != 0, delta);
        assert_eq!(zipnn::decompressed_size(&src), Ok(want.len() as u64));
        assert_eq!(zipnn::metadata(&src), Ok(&[][..]));
        let shape = zipnn::tensor_shape(&src).unwrap();
        match row.kind.as_str() {
            "torch" | "numpy" => assert_eq!(shape, Some(shape_of(&row.shape))),
            _ => assert_eq!(shape, None),
        }
        if delta {
            let base = content(&row.delta_base);
            assert_eq!(zipnn::decompress(&src), Err(Error::BaseRequired));
            assert!(zipnn::decompress_delta(&src, &base).unwrap() == want);
            let mut dst = vec![0u8; want.len()];
            let o = DecompressOptions::default();
            assert_eq!(
                zipnn::decompress_delta_into_with(&src, &base, &mut dst, &o),
                Ok(want.len())
            );
            assert!(dst == want);
        } else {
            assert!(zipnn::decompress(&src).unwrap() == want, "{}", row.file);
            let mut dst = vec![0u8; want.len()];
            assert_eq!(zipnn::decompress_into(&src, &mut dst), Ok(want.len()));
            assert!(dst == want);
            assert_eq!(zipnn::verify(&src), Ok(()));
            // Chunk by chunk, over all frames.
            let mut joined = Vec::new();
            let mut buf = vec![0u8; 1 << 18];
            for c in 0..info.chunk_count {
                let n = zipnn::decompress_chunk(&src, c, &mut buf).unwrap();
                joined.extend_from_slice(&buf[..n]);
            }
            assert!(joined == want, "{}", row.file);
            assert_eq!(
                zipnn::decompress_chunk(&src, info.chunk_count, &mut buf),
                Err(Error::InvalidParam)
            );
        }
    }
}

#[test]
fn the_stream_decoder_reads_reference_files_piece_by_piece() {
    use zipnn::stream::Decompressor;
    for row in manifest() {
        if matches!(row.kind.as_str(), "safetensors" | "delta" | "delta-file") {
            continue;
        }
        let src = read(&row);
        let want = content(&row.original);
        for piece in [1usize, 7, 4096, usize::MAX] {
            let mut d = Decompressor::new();
            let mut out = Vec::new();
            let mut buf = vec![0u8; 5000];
            for part in src.chunks(piece.min(src.len().max(1))) {
                let mut at = 0;
                while at < part.len() {
                    let (c, w) = d.decompress(&part[at..], &mut buf).unwrap();
                    out.extend_from_slice(&buf[..w]);
                    at += c;
                }
            }
            loop {
                let (_, w) = d.decompress(&[], &mut buf).unwrap();
                if w == 0 {
                    break;
                }
                out.extend_from_slice(&buf[..w]);
            }
            assert_eq!(d.finish(), Ok(()), "{} piece {piece}", row.file);
            assert!(out == want, "{} piece {piece}", row.file);
        }
        // The whole input at once, in memory: the same bytes; cut short, `Truncated` with
        // the output left as it was.
        let dopts = DecompressOptions::default();
        assert!(
            zipnn::stream::decompress(&src, &dopts).unwrap() == want,
            "{}",
            row.file
        );
        let mut back = vec![0xA5u8; want.len() + 3];
        let n = zipnn::stream::decompress_into(&src, &mut back, &dopts).unwrap();
        assert!(n == want.len() && back[..n] == want[..], "{}", row.file);
        if src.len() > 33 {
            let mut back = vec![0xA5u8; want.len()];
            let r = zipnn::stream::decompress_into(&src[..src.len() - 1], &mut back, &dopts);
            assert_eq!(r, Err(Error::Truncated), "{}", row.file);
            assert!(back.iter().all(|&b| b == 0xA5), "{}", row.file);
        }
        // Cut short: not complete.
        if src.len() > 33 {
            let mut d = Decompressor::new();
            let mut buf = vec![0u8; want.len() + 1];
            let _ = d.decompress(&src[..src.len() - 1], &mut buf);
            assert_eq!(d.finish(), Err(Error::Truncated), "{}", row.file);
        }
        // Limits before holding the frame.
        if want.len() > 1 {
            let o = DecompressOptions {
                threads: 1,
                max_size: want.len() as u64 - 1,
            };
            let mut d = Decompressor::with_options(&o);
            let mut buf = vec![0u8; 64];
            let r = d.decompress(&src, &mut buf);
            assert!(
                r == Err(Error::LimitExceeded) || d.finish().is_err(),
                "{}",
                row.file
            );
        }
    }
}

/// Tensors of a safetensors file: (name, dtype, shape, bytes), sorted by name.
fn tensors_of(file: &[u8]) -> Vec<(String, String, Vec<u64>, Vec<u8>)> {
    let st = zipnn::container::safetensors::SafeTensors::parse(file).unwrap();
    let mut v: Vec<_> = st
        .tensors
        .iter()
        .map(|t| {
            (
                t.name.clone(),
                t.dtype.clone(),
                t.shape.clone(),
                st.bytes(t).to_vec(),
            )
        })
        .collect();
    v.sort();
    v
}

#[test]
fn reference_safetensors_open_as_archives_and_restore() {
    use zipnn::container::safetensors::Archive;
    let mut seen = 0;
    for row in manifest() {
        if !matches!(row.kind.as_str(), "safetensors" | "zipnn-hf") {
            continue;
        }
        let src = read(&row);
        let want = content(&row.original);
        let path = dir().join(&row.file);
        for a in [
            Archive::open(&src).unwrap(),
            Archive::open_file(&path).unwrap(),
        ] {
            // The original file, byte for byte.
            assert!(a.restore().unwrap() == want, "{}", row.file);
            assert_eq!(a.restored_size(), want.len() as u64);
            let orig = tensors_of(&want);
            assert_eq!(a.tensors().len(), orig.len());
            for (name, dtype, shape, bytes) in &orig {
                let i = a.index_of(name).unwrap();
                let t = &a.tensors()[i];
                assert_eq!((&t.dtype, &t.shape), (dtype, shape), "{name}");
                assert!(a.tensor(name).unwrap() == *bytes, "{name}");
                let mut dst = vec![0u8; bytes.len()];
                assert_eq!(a.tensor_into(name, &mut dst), Ok(bytes.len()));
                assert!(dst == *bytes);
                let h = a.frame_header_at(i).unwrap();
                assert_eq!(h.original_size, bytes.len() as u64);
            }
        }
        seen += 1;
    }
    assert_eq!(seen, 3);
}

#[test]
fn the_c_api_reads_reference_frames() {
    use std::ffi::c_void;
    use zipnn::capi::*;
    for row in manifest() {
        if matches!(row.kind.as_str(), "safetensors" | "delta" | "delta-file") {
            continue;
        }
        let src = read(&row);
        let want = content(&row.original);
        let sp = src.as_ptr() as *const c_void;
        let mut n = 0u64;
        assert_eq!(zipnn_get_decompressed_size(sp, src.len(), &mut n), ZIPNN_OK);
        assert_eq!(n, want.len() as u64);
        let mut dst = vec![0u8; want.len() + 1];
        let mut written = 0usize;
        let st = zipnn_decompress(
            sp,
            src.len(),
            dst.as_mut_ptr() as *mut c_void,
            dst.len(),
            &mut written,
        );
        assert_eq!(st, ZIPNN_OK, "{}", row.file);
        assert!(
            written == want.len() && dst[..written] == want[..],
            "{}",
            row.file
        );
        let mut info = zipnn_frame_info {
            struct_size: std::mem::size_of::<zipnn_frame_info>() as u32,
            ..Default::default()
        };
        assert_eq!(zipnn_get_frame_info(sp, src.len(), &mut info), ZIPNN_OK);
        assert_eq!(info.format, ZIPNN_FORMAT_REFERENCE);
        let kind = match row.kind.as_str() {
            "torch" => ZIPNN_INPUT_TORCH,
            "numpy" => ZIPNN_INPUT_NUMPY,
            _ => ZIPNN_INPUT_BYTES,
        };
        assert_eq!(info.input_format, kind, "{}", row.file);
        let mut dims = [0u64; 8];
        let mut ndim = 99usize;
        let st = zipnn_get_shape(sp, src.len(), dims.as_mut_ptr(), dims.len(), &mut ndim);
        if kind == ZIPNN_INPUT_BYTES {
            assert_eq!(st, ZIPNN_ERROR_NOT_FOUND);
            assert_eq!(ndim, 99);
        } else {
            assert_eq!(st, ZIPNN_OK);
            assert_eq!(&dims[..ndim], &shape_of(&row.shape)[..], "{}", row.file);
            if ndim > 0 {
                let mut small = 99usize;
                assert_eq!(
                    zipnn_get_shape(sp, src.len(), dims.as_mut_ptr(), ndim - 1, &mut small),
                    ZIPNN_ERROR_DST_TOO_SMALL
                );
                assert_eq!(small, 99);
            }
        }
        assert_eq!(zipnn_verify(sp, src.len()), ZIPNN_OK);
    }
}

#[test]
fn convert_rewrites_every_vector_in_the_checksummed_format() {
    use zipnn::container::reference::{convert, convert_bound, Converted};
    use zipnn::container::safetensors::Archive;
    let opts = zipnn::Options::default();
    for row in manifest() {
        let src = read(&row);
        let want = content(&row.original);
        let base = (row.delta_base != "-").then(|| content(&row.delta_base));
        if base.is_some() {
            assert_eq!(convert(&src, None, &opts).err(), Some(Error::BaseRequired));
        }
        let (kind, out) = convert(&src, base.as_deref(), &opts).unwrap();
        assert!(
            out.len() <= convert_bound(&src, &opts).unwrap(),
            "{}",
            row.file
        );
        match kind {
            Converted::Archive => {
                assert!(matches!(row.kind.as_str(), "safetensors" | "zipnn-hf"));
                assert!(
                    Archive::open(&out).unwrap().restore().unwrap() == want,
                    "{}",
                    row.file
                );
            }
            Converted::Frame => {
                let info = zipnn::frame_info(&out).unwrap();
                assert_eq!(info.format, zipnn::FrameFormat::Zipnn);
                assert_eq!(info.dtype, dtype_of(&row.dtype), "{}", row.file);
                assert_eq!(zipnn::verify(&out), Ok(()));
                let got = match &base {
                    Some(b) => zipnn::decompress_delta(&out, b).unwrap(),
                    None => zipnn::decompress(&out).unwrap(),
                };
                assert!(got == want, "{}", row.file);
                let meta = String::from_utf8(zipnn::metadata(&out).unwrap().to_vec()).unwrap();
                if matches!(row.kind.as_str(), "torch" | "numpy") {
                    let dims = shape_of(&row.shape)
                        .iter()
                        .map(u64::to_string)
                        .collect::<Vec<_>>()
                        .join(",");
                    assert!(meta.contains(&format!("\"shape\":[{dims}]")), "{meta}");
                    assert!(
                        meta.contains(&format!("\"lib\":\"{}\"", row.kind)),
                        "{meta}"
                    );
                } else {
                    assert_eq!(meta, "");
                }
            }
        }
    }
    // Not written by the reference package.
    let ours = zipnn::compress(&[1, 2, 3, 4], &opts).unwrap();
    assert_eq!(convert(&ours, None, &opts).err(), Some(Error::BadMagic));
    let plain = content("inputs/st.meta.safetensors");
    assert_eq!(convert(&plain, None, &opts).err(), Some(Error::BadMagic));
}
