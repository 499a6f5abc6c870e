//! Frames written for `Target::Avx512`: Huffman planes in 128 lanes (codec 11) where they
//! apply, the same bytes back from every decoding path.

mod common;

use common::{build_safetensors, make, Kind, KINDS};
use zipnn::container::safetensors;
use zipnn::*;

fn avx512(dtype: DType, level: Level, method: Method) -> Options {
    Options {
        level,
        method,
        target: Target::Avx512,
        ..Options::new(dtype)
    }
}

/// How many plane-chunks of `frame` have codec 11.
fn lanes_planes(frame: &[u8]) -> usize {
    let f = Frame::parse(frame).expect("a frame");
    (0..f.chunk_count())
        .map(|i| {
            f.planes(i)
                .filter(|e| e.codec == Codec::HuffmanLanes)
                .count()
        })
        .sum()
}

#[test]
fn every_dtype_level_and_kind_round_trips() {
    let levels = [Level::Fast, Level::Default, Level::Max];
    for dtype in [
        DType::Bf16,
        DType::Fp16,
        DType::Fp32,
        DType::Fp64,
        DType::Int8,
        DType::Raw,
    ] {
        for kind in KINDS {
            for n in [0, 5000, 60_000, 300_001] {
                let src = make(dtype, kind, n, 7);
                for level in levels {
                    for method in [Method::Auto, Method::Huffman] {
                        let o = avx512(dtype, level, method);
                        let frame = compress(&src, &o).expect("compresses");
                        assert_eq!(
                            decompress(&frame).expect("decodes"),
                            src,
                            "{o:?} {kind:?} {n}"
                        );
                        let one = DecompressOptions {
                            threads: 1,
                            ..Default::default()
                        };
                        let mut out = vec![0u8; n];
                        decompress_into_with(&frame, &mut out, &one).expect("decodes");
                        assert!(out == src);
                    }
                }
            }
        }
    }
}

#[test]
fn exponent_planes_are_laid_out_in_lanes() {
    for dtype in [DType::Bf16, DType::Fp16, DType::Fp32] {
        let src = make(dtype, Kind::Gaussian, 1 << 20, 3);
        let any = compress(&src, &Options::new(dtype)).expect("compresses");
        let frame =
            compress(&src, &avx512(dtype, Level::Default, Method::Auto)).expect("compresses");
        assert_eq!(lanes_planes(&any), 0, "{dtype:?}");
        // Every chunk's exponent plane.
        let chunks = Frame::parse(&frame).expect("a frame").chunk_count();
        assert!(lanes_planes(&frame) >= chunks, "{dtype:?}");
        // Within a fraction of a percent of the default target's size.
        assert!(
            (frame.len() as f64) < any.len() as f64 * 1.003,
            "{dtype:?}: {} against {}",
            frame.len(),
            any.len()
        );
        assert_eq!(decompress(&frame).expect("decodes"), src);
        // The two targets write different frames of the same data.
        assert_ne!(frame, any);
    }
}

#[test]
fn lossy_delta_and_archives_round_trip() {
    let src = make(DType::Bf16, Kind::Gaussian, 600_000, 1);
    let base = make(DType::Bf16, Kind::Gaussian, 600_000, 2);
    let o = avx512(DType::Bf16, Level::Default, Method::Auto);
    let delta = compress_delta(&src, &base, &o).expect("compresses");
    assert_eq!(decompress_delta(&delta, &base).expect("decodes"), src);
    let lossy = Options {
        lossy: Lossy::Mantissa { bits: 3 },
        ..o.clone()
    };
    let frame = compress(&src, &lossy).expect("compresses");
    assert!(lanes_planes(&frame) > 0);
    assert_eq!(decompress(&frame).expect("decodes").len(), src.len());
    let file = build_safetensors(
        &[
            ("a", "BF16", vec![300_000], src.clone()),
            (
                "b",
                "F32",
                vec![150_000],
                make(DType::Fp32, Kind::Gaussian, 600_000, 4),
            ),
        ],
        None,
    );
    let archive = safetensors::compress(&file, &o).expect("compresses");
    assert_eq!(safetensors::decompress(&archive).expect("decodes"), file);
    let opened = safetensors::Archive::open(&archive).expect("opens");
    assert_eq!(opened.tensor("a").expect("decodes"), src);
}
