//! Round trips through the Rust API: every dtype, codec and level, at the sizes where
//! chunking and tails go wrong, on weights-like and adversarial data.

mod common;

use common::{make, Kind, KINDS};
use zipnn::*;

const CS: u32 = 4096;

fn opts(dtype: DType, method: Method, level: Level) -> Options {
    Options {
        method,
        level,
        chunk_size: CS,
        ..Options::new(dtype)
    }
}

fn check(src: &[u8], o: &Options) -> Vec<u8> {
    let frame = compress(src, o).unwrap_or_else(|e| panic!("compress {o:?}: {e}"));
    assert!(
        frame.len() <= compress_bound(src.len(), o).unwrap(),
        "bound exceeded for {o:?}"
    );
    let back = decompress(&frame).unwrap();
    assert!(back == src, "round trip failed: {o:?} len={}", src.len());
    // The into-buffer forms agree.
    let mut dst = vec![0u8; compress_bound(src.len(), o).unwrap()];
    let n = compress_into(src, &[], o, &mut dst).unwrap();
    assert_eq!(&dst[..n], &frame[..], "compress_into differs: {o:?}");
    let mut out = vec![0u8; src.len() + 3];
    assert_eq!(decompress_into(&frame, &mut out).unwrap(), src.len());
    assert_eq!(&out[..src.len()], src);
    frame
}

#[test]
fn every_dtype_and_method_at_edge_sizes() {
    let cs = CS as usize;
    for dtype in DType::ALL {
        let e = dtype.element_size();
        let sizes = [
            0,
            1,
            e,
            e + 1,
            333,
            cs - 1,
            cs,
            cs + 1,
            cs - e,
            cs + e,
            5 * cs + 3,
            17 * cs,
        ];
        for method in Method::ALL {
            for &n in &sizes {
                for kind in KINDS {
                    let src = make(dtype, kind, n, n as u64 * 31 + 7);
                    check(&src, &opts(dtype, method, Level::Default));
                }
            }
        }
    }
}

#[test]
fn every_level_and_raw_partitions() {
    for level in [Level::Fast, Level::Default, Level::Max] {
        for p in [1u32, 2, 4, 8] {
            for kind in KINDS {
                let src = make(DType::Fp32, kind, 3 * CS as usize + 5, 99);
                let o = Options {
                    bg_partitions: p,
                    ..opts(DType::Raw, Method::Auto, level)
                };
                check(&src, &o);
            }
        }
        for dtype in DType::ALL {
            let src = make(dtype, Kind::Gaussian, 40_000, 5);
            check(&src, &opts(dtype, Method::Auto, level));
        }
    }
}

#[test]
fn default_chunk_size_many_chunks() {
    let n = 3 * DEFAULT_CHUNK_SIZE as usize + 1234;
    for dtype in [DType::Bf16, DType::Fp32, DType::Fp16] {
        let src = make(dtype, Kind::Gaussian, n, 11);
        let frame = check(&src, &Options::new(dtype));
        let info = frame_info(&frame).unwrap();
        assert_eq!(info.chunk_count, 4);
        assert_eq!(info.original_size, n as u64);
        assert_eq!(info.frame_size, frame.len() as u64);
    }
}

#[test]
fn automatic_chunk_size_is_recorded() {
    // One-byte elements at the default level of method auto: 2 MiB chunks; every other
    // case 256 KiB; a chunk size given is kept. The frame says what it was written with.
    let n = 2 * BYTE_CHUNK_SIZE as usize + 5000;
    for dtype in DType::ALL {
        let src = make(dtype, Kind::Gaussian, n, 5);
        for level in [Level::Fast, Level::Default, Level::Max] {
            for (method, given) in [
                (Method::Auto, 0),
                (Method::Huffman, 0),
                (Method::Auto, 8192),
            ] {
                let o = Options {
                    level,
                    method,
                    chunk_size: given,
                    ..Options::new(dtype)
                };
                let want = match given {
                    0 if dtype.element_size() == 1
                        && level == Level::Default
                        && method == Method::Auto =>
                    {
                        BYTE_CHUNK_SIZE
                    }
                    0 => DEFAULT_CHUNK_SIZE,
                    g => g,
                };
                assert_eq!(o.resolved_chunk_size(), want);
                if level == Level::Max || (given != 0 && dtype != DType::Uint8) {
                    continue; // the slow or the uninteresting cases: the rule alone
                }
                let frame = check(&src, &o);
                let info = frame_info(&frame).unwrap();
                assert_eq!(info.chunk_size, want, "{dtype:?} {level:?} {method:?}");
                assert_eq!(info.chunk_count, (n / want as usize + 1) as u64);
            }
        }
    }
    // Raw bytes in more than one partition are not one-byte elements.
    let o = Options {
        bg_partitions: 2,
        ..Options::new(DType::Raw)
    };
    assert_eq!(o.resolved_chunk_size(), DEFAULT_CHUNK_SIZE);
}

#[test]
fn gaussian_weights_compress_like_weights() {
    // N(0, 0.02) bf16: the exponent plane carries ~2.6 bits, the rest is near random, so
    // the ratio sits near 0.66; fp32 near 0.83.
    let n = 1 << 20;
    let bf = make(DType::Bf16, Kind::Gaussian, n, 3);
    let r = compress(&bf, &Options::new(DType::Bf16)).unwrap().len() as f64 / n as f64;
    assert!((0.60..0.70).contains(&r), "bf16 ratio {r}");
    let f = make(DType::Fp32, Kind::Gaussian, n, 3);
    let r = compress(&f, &Options::new(DType::Fp32)).unwrap().len() as f64 / n as f64;
    assert!((0.78..0.86).contains(&r), "fp32 ratio {r}");
    // Zeros collapse to runs: header and table only.
    let z = vec![0u8; n];
    assert!(compress(&z, &Options::new(DType::Bf16)).unwrap().len() < 1000);
    // Random bytes stay raw: never larger than the bound.
    let rnd = make(DType::Raw, Kind::Random, n, 3);
    let o = Options::default();
    assert!(compress(&rnd, &o).unwrap().len() <= compress_bound(n, &o).unwrap());
}

#[test]
fn output_is_identical_at_every_thread_count() {
    let src = make(DType::Bf16, Kind::Gaussian, 40 * CS as usize + 3, 17);
    let base = compress(
        &src,
        &Options {
            threads: 1,
            ..opts(DType::Bf16, Method::Auto, Level::Max)
        },
    )
    .unwrap();
    for threads in [0, 2, 3, 8] {
        let o = Options {
            threads,
            ..opts(DType::Bf16, Method::Auto, Level::Max)
        };
        assert_eq!(compress(&src, &o).unwrap(), base, "threads={threads}");
        let d = DecompressOptions {
            threads,
            max_size: 0,
        };
        assert_eq!(decompress_with(&base, &d).unwrap(), src);
    }
}

#[test]
fn input_is_never_written() {
    let src = make(DType::Fp32, Kind::Gaussian, 50_000, 1);
    let copy = src.clone();
    let frame = compress(&src, &Options::new(DType::Fp32)).unwrap();
    assert_eq!(src, copy);
    let fcopy = frame.clone();
    decompress(&frame).unwrap();
    assert_eq!(frame, fcopy);
}

#[test]
fn metadata_travels_and_chunks_decode_alone() {
    let src = make(DType::Bf16, Kind::Gaussian, 10 * CS as usize + 1, 2);
    let meta = br#"{"shape":[20481],"dtype":"bf16"}"#;
    let o = opts(DType::Bf16, Method::Auto, Level::Default);
    let frame = compress_with_metadata(&src, meta, &o).unwrap();
    assert_eq!(metadata(&frame).unwrap(), meta);
    assert_eq!(decompress(&frame).unwrap(), src);
    let info = frame_info(&frame).unwrap();
    assert_eq!(info.metadata_size, meta.len() as u64);
    let f = Frame::parse(&frame).unwrap();
    let mut buf = vec![0u8; CS as usize];
    for i in 0..info.chunk_count {
        let n = decompress_chunk(&frame, i, &mut buf).unwrap();
        let r = f.chunk_range(i as usize);
        assert_eq!(
            &buf[..n],
            &src[r.start as usize..r.end as usize],
            "chunk {i}"
        );
    }
    assert_eq!(
        decompress_chunk(&frame, info.chunk_count, &mut buf),
        Err(Error::InvalidParam)
    );
    let mut small = [0u8; 10];
    assert_eq!(
        decompress_chunk(&frame, 0, &mut small),
        Err(Error::DstTooSmall)
    );
    let too_big = vec![0u8; MAX_METADATA_SIZE + 1];
    assert_eq!(
        compress_with_metadata(&src, &too_big, &o),
        Err(Error::InvalidParam)
    );
}

#[test]
fn bad_options_are_rejected() {
    let src = [0u8; 16];
    let bad = [
        Options {
            chunk_size: 100,
            ..Options::default()
        },
        Options {
            chunk_size: MAX_CHUNK_SIZE + 8,
            ..Options::default()
        },
        Options {
            chunk_size: 1026,
            ..Options::new(DType::Fp32)
        },
        Options {
            bg_partitions: 3,
            ..Options::default()
        },
        Options {
            bg_partitions: 2,
            ..Options::new(DType::Bf16)
        },
        Options {
            threshold: 0.0,
            ..Options::default()
        },
        Options {
            threshold: 1.5,
            ..Options::default()
        },
        Options {
            threshold: f32::NAN,
            ..Options::default()
        },
        Options {
            zstd_level: 23,
            ..Options::default()
        },
        Options {
            lz4_level: 13,
            ..Options::default()
        },
    ];
    for o in bad {
        assert_eq!(compress(&src, &o), Err(Error::InvalidParam), "{o:?}");
    }
    assert_eq!(DType::from_code(9), Err(Error::UnsupportedDtype));
    assert_eq!(Method::from_code(6), Err(Error::UnsupportedMethod));
    assert_eq!(Level::from_code(4), Err(Error::InvalidParam));
}

#[test]
fn decompress_errors_and_limits() {
    let src = make(DType::Fp32, Kind::Gaussian, 20_000, 9);
    let frame = compress(&src, &opts(DType::Fp32, Method::Auto, Level::Default)).unwrap();
    let mut small = vec![0u8; src.len() - 1];
    let before = small.clone();
    assert_eq!(decompress_into(&frame, &mut small), Err(Error::DstTooSmall));
    assert_eq!(small, before);
    let limited = DecompressOptions {
        threads: 1,
        max_size: src.len() as u64 - 1,
    };
    assert_eq!(decompress_with(&frame, &limited), Err(Error::LimitExceeded));
    let mut trailing = frame.clone();
    trailing.push(0);
    assert_eq!(decompress(&trailing), Err(Error::Corrupt));
    // frame_info accepts bytes after the frame and says where it ends.
    assert_eq!(
        frame_info(&trailing).unwrap().frame_size,
        frame.len() as u64
    );
    assert_eq!(decompress(&[]), Err(Error::Truncated));
    assert_eq!(
        decompress(b"hello world, not a frame"),
        Err(Error::BadMagic)
    );
    for cut in 0..frame.len() {
        assert!(decompress(&frame[..cut]).is_err(), "prefix {cut} accepted");
    }
    assert_eq!(verify(&frame), Ok(()));
}

/// Property: for random dtype, options, size and data kind, the round trip is exact, the
/// frame is within the bound, and the frame's info matches the input.
#[test]
fn random_cases_round_trip() {
    let mut rng = common::Rng(2026);
    for case in 0..400 {
        let dtype = DType::ALL[(rng.next() % 9) as usize];
        let method = Method::ALL[(rng.next() % 6) as usize];
        let level = [Level::Fast, Level::Default, Level::Max][(rng.next() % 3) as usize];
        let bg = if dtype == DType::Raw {
            [1, 2, 4, 8][(rng.next() % 4) as usize]
        } else {
            1
        };
        let chunk_size = 1024 * (1 + (rng.next() % 8) as u32) * 8;
        let threshold = [0.5f32, 0.95, 1.0][(rng.next() % 3) as usize];
        let kind = KINDS[(rng.next() % KINDS.len() as u64) as usize];
        let n = match rng.next() % 4 {
            0 => (rng.next() % 16) as usize,
            1 => (rng.next() % 5000) as usize,
            _ => (rng.next() % 200_000) as usize,
        };
        let o = Options {
            method,
            level,
            bg_partitions: bg,
            chunk_size,
            threshold,
            threads: (rng.next() % 3) as u32,
            ..Options::new(dtype)
        };
        let src = make(dtype, kind, n, case);
        let frame = compress(&src, &o).unwrap_or_else(|e| panic!("case {case} {o:?}: {e}"));
        assert!(frame.len() <= compress_bound(n, &o).unwrap(), "case {case}");
        assert_eq!(
            decompress(&frame).unwrap(),
            src,
            "case {case} {o:?} {kind:?} n={n}"
        );
        let info = frame_info(&frame).unwrap();
        assert_eq!(info.original_size, n as u64);
        assert_eq!(info.dtype, dtype);
        assert_eq!(info.planes as usize, o.planes());
        // The chunk size asked for, or (method auto, default and max levels, data on which
        // LZ wins) a wider one the encoder found smaller.
        let wide = (chunk_size as u64 * 64).min(MAX_CHUNK_SIZE as u64);
        let auto = method == Method::Auto && level != Level::Fast;
        // A compact frame (one chunk of at most 64 KiB, docs/FORMAT.md 3.4) reports the
        // largest chunk it may hold.
        let compact = info.flags & frame::FLAG_COMPACT != 0;
        let body = n - n % o.planes();
        let may = body <= frame::COMPACT_MAX_BODY && body <= chunk_size as usize;
        assert_eq!(compact, may, "case {case}");
        assert!(
            info.chunk_size == chunk_size
                || (auto && info.chunk_size as u64 == wide)
                || (compact && info.chunk_size as usize == frame::COMPACT_CHUNK_SIZE),
            "case {case}: chunk size {}",
            info.chunk_size
        );
        assert_eq!(
            info.chunk_count,
            ((n - n % o.planes()) as u64).div_ceil(info.chunk_size as u64)
        );
    }
}
