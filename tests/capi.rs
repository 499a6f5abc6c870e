//! The C ABI called from Rust with hostile arguments: every check asserts the exact status
//! and that out-parameters and buffers are untouched on failure.

mod common;

use std::ffi::{c_void, CStr};
use std::mem::size_of;
use std::ptr::{null, null_mut};

use common::{make, Kind};
use zipnn::capi::*;
use zipnn::DType;

fn p(b: &[u8]) -> *const c_void {
    b.as_ptr() as *const c_void
}

fn pm(b: &mut [u8]) -> *mut c_void {
    b.as_mut_ptr() as *mut c_void
}

fn defaults() -> zipnn_options {
    // Start from garbage to prove that init writes every field.
    let mut o = zipnn_options {
        struct_size: 0,
        chunk_size: 7,
        lossy_mode: 9,
        lossy_param: 9,
        target: 9,
        reserved: [9; 5],
        ..Default::default()
    };
    zipnn_options_init(&mut o);
    o
}

/// `zipnn_compress_bound`, which must succeed.
fn bound_c(o: *const zipnn_options, n: usize) -> usize {
    let mut b = SENTINEL;
    assert_eq!(zipnn_compress_bound(o, n, &mut b), ZIPNN_OK);
    b
}

fn compress_c(o: Option<&zipnn_options>, src: &[u8]) -> Vec<u8> {
    let op = o.map_or(null(), |o| o as *const _);
    let bound = bound_c(op, src.len());
    assert!(bound >= src.len());
    let mut dst = vec![0u8; bound];
    let mut n = 0usize;
    assert_eq!(
        zipnn_compress(op, p(src), src.len(), pm(&mut dst), dst.len(), &mut n),
        ZIPNN_OK
    );
    dst.truncate(n);
    dst
}

/// `zipnn_get_frame_info` of the frame in the first `n` bytes of `frame`, which must succeed.
fn info_c(frame: &[u8], n: usize) -> zipnn_frame_info {
    let mut info = zipnn_frame_info {
        struct_size: size_of::<zipnn_frame_info>() as u32,
        ..Default::default()
    };
    assert_eq!(zipnn_get_frame_info(p(frame), n, &mut info), ZIPNN_OK);
    info
}

const SENTINEL: usize = 0xDEAD_BEEF;

#[test]
fn init_fills_defaults_and_null_is_ignored() {
    let o = defaults();
    assert_eq!(o.struct_size as usize, size_of::<zipnn_options>());
    assert_eq!(o.chunk_size, 0); // automatic
    assert_eq!(o.zstd_level, 3);
    assert_eq!(o.threshold, 0.95);
    assert_eq!(o.dtype, ZIPNN_DTYPE_RAW);
    assert_eq!(o.method, ZIPNN_METHOD_AUTO);
    assert_eq!(o.target, ZIPNN_TARGET_ANY);
    assert_eq!(o.reserved, [0; 5]);
    zipnn_options_init(null_mut());
}

#[test]
fn round_trip_every_dtype_with_null_and_explicit_options() {
    for (code, dtype) in [
        (ZIPNN_DTYPE_RAW, DType::Raw),
        (ZIPNN_DTYPE_BF16, DType::Bf16),
        (ZIPNN_DTYPE_FP16, DType::Fp16),
        (ZIPNN_DTYPE_FP32, DType::Fp32),
        (ZIPNN_DTYPE_FP64, DType::Fp64),
        (ZIPNN_DTYPE_FP8_E4M3, DType::Fp8E4M3),
        (ZIPNN_DTYPE_FP8_E5M2, DType::Fp8E5M2),
        (ZIPNN_DTYPE_INT8, DType::Int8),
        (ZIPNN_DTYPE_UINT8, DType::Uint8),
    ] {
        let src = make(dtype, Kind::Gaussian, 30_001, 4);
        let mut o = defaults();
        o.dtype = code;
        o.chunk_size = 8192;
        let mut avx512 = o;
        avx512.target = ZIPNN_TARGET_AVX512;
        for frame in [
            compress_c(Some(&o), &src),
            compress_c(Some(&avx512), &src),
            compress_c(None, &src),
        ] {
            let mut size = 0u64;
            assert_eq!(
                zipnn_get_decompressed_size(p(&frame), frame.len(), &mut size),
                ZIPNN_OK
            );
            assert_eq!(size, src.len() as u64);
            let mut out = vec![0u8; src.len()];
            let mut n = SENTINEL;
            assert_eq!(
                zipnn_decompress(p(&frame), frame.len(), pm(&mut out), out.len(), &mut n),
                ZIPNN_OK
            );
            assert_eq!(n, src.len());
            assert_eq!(out, src);
            assert_eq!(zipnn_verify(p(&frame), frame.len()), ZIPNN_OK);
        }
    }
}

#[test]
fn empty_input_as_null_and_zero() {
    let mut dst = vec![0u8; bound_c(null(), 0)];
    let mut n = SENTINEL;
    assert_eq!(
        zipnn_compress(null(), null(), 0, pm(&mut dst), dst.len(), &mut n),
        ZIPNN_OK
    );
    let frame = &dst[..n];
    let mut m = SENTINEL;
    assert_eq!(
        zipnn_decompress(p(frame), frame.len(), null_mut(), 0, &mut m),
        ZIPNN_OK
    );
    assert_eq!(m, 0);
}

#[test]
fn null_pointers() {
    let src = [1u8; 100];
    let mut dst = vec![0u8; 1000];
    let mut n = SENTINEL;
    assert_eq!(
        zipnn_compress(null(), null(), 10, pm(&mut dst), dst.len(), &mut n),
        ZIPNN_ERROR_NULL_POINTER
    );
    assert_eq!(
        zipnn_compress(null(), p(&src), src.len(), null_mut(), 10, &mut n),
        ZIPNN_ERROR_NULL_POINTER
    );
    assert_eq!(
        zipnn_compress(
            null(),
            p(&src),
            src.len(),
            pm(&mut dst),
            dst.len(),
            null_mut()
        ),
        ZIPNN_ERROR_NULL_POINTER
    );
    assert_eq!(n, SENTINEL);
    let frame = compress_c(None, &src);
    assert_eq!(
        zipnn_decompress(p(&frame), frame.len(), pm(&mut dst), dst.len(), null_mut()),
        ZIPNN_ERROR_NULL_POINTER
    );
    assert_eq!(
        zipnn_decompress(null(), 5, pm(&mut dst), dst.len(), &mut n),
        ZIPNN_ERROR_NULL_POINTER
    );
    assert_eq!(
        zipnn_decompress(p(&frame), frame.len(), null_mut(), 100, &mut n),
        ZIPNN_ERROR_NULL_POINTER
    );
    assert_eq!(
        zipnn_get_decompressed_size(p(&frame), frame.len(), null_mut()),
        ZIPNN_ERROR_NULL_POINTER
    );
    assert_eq!(
        zipnn_get_frame_info(p(&frame), frame.len(), null_mut()),
        ZIPNN_ERROR_NULL_POINTER
    );
    assert_eq!(zipnn_verify(null(), 3), ZIPNN_ERROR_NULL_POINTER);
    assert_eq!(n, SENTINEL);
}

#[test]
fn destination_too_small_leaves_everything_untouched() {
    let src = make(DType::Bf16, Kind::Gaussian, 50_000, 8);
    let mut o = defaults();
    o.dtype = ZIPNN_DTYPE_BF16;
    let frame = compress_c(Some(&o), &src);
    let mut dst = vec![0x5Au8; frame.len() - 1];
    let mut n = SENTINEL;
    assert_eq!(
        zipnn_compress(&o, p(&src), src.len(), pm(&mut dst), dst.len(), &mut n),
        ZIPNN_ERROR_DST_TOO_SMALL
    );
    assert!(dst.iter().all(|&b| b == 0x5A));
    assert_eq!(n, SENTINEL);
    // Exactly the frame's size is enough.
    let mut exact = vec![0u8; frame.len()];
    assert_eq!(
        zipnn_compress(&o, p(&src), src.len(), pm(&mut exact), exact.len(), &mut n),
        ZIPNN_OK
    );
    assert_eq!(exact, frame);
    let mut out = vec![0x5Au8; src.len() - 1];
    let mut m = SENTINEL;
    assert_eq!(
        zipnn_decompress(p(&frame), frame.len(), pm(&mut out), out.len(), &mut m),
        ZIPNN_ERROR_DST_TOO_SMALL
    );
    assert!(out.iter().all(|&b| b == 0x5A));
    assert_eq!(m, SENTINEL);
}

#[test]
fn bad_options() {
    let src = [0u8; 64];
    let mut dst = vec![0u8; 4096];
    type Edit = Box<dyn Fn(&mut zipnn_options)>;
    let cases: Vec<(Edit, i32)> = vec![
        (Box::new(|o| o.struct_size = 0), ZIPNN_ERROR_INVALID_PARAM),
        (Box::new(|o| o.struct_size = 4), ZIPNN_ERROR_INVALID_PARAM),
        (Box::new(|o| o.reserved[4] = 1), ZIPNN_ERROR_INVALID_PARAM),
        (Box::new(|o| o.target = 2), ZIPNN_ERROR_INVALID_PARAM),
        (Box::new(|o| o.target = u32::MAX), ZIPNN_ERROR_INVALID_PARAM),
        (Box::new(|o| o.lossy_mode = 3), ZIPNN_ERROR_INVALID_PARAM),
        // Lossy modes are for float dtypes only (the default dtype is raw).
        (
            Box::new(|o| o.lossy_mode = ZIPNN_LOSSY_MANTISSA),
            ZIPNN_ERROR_INVALID_PARAM,
        ),
        (
            Box::new(|o| {
                o.dtype = ZIPNN_DTYPE_BF16;
                o.lossy_mode = ZIPNN_LOSSY_MANTISSA;
                o.lossy_param = 7;
            }),
            ZIPNN_ERROR_INVALID_PARAM,
        ),
        (
            Box::new(|o| {
                o.dtype = ZIPNN_DTYPE_FP32;
                o.lossy_mode = ZIPNN_LOSSY_INTEGER;
                o.lossy_param = 31;
            }),
            ZIPNN_ERROR_INVALID_PARAM,
        ),
        (Box::new(|o| o.dtype = 99), ZIPNN_ERROR_UNSUPPORTED_DTYPE),
        (Box::new(|o| o.method = 99), ZIPNN_ERROR_UNSUPPORTED_METHOD),
        (Box::new(|o| o.level = 9), ZIPNN_ERROR_INVALID_PARAM),
        (Box::new(|o| o.level = -1), ZIPNN_ERROR_INVALID_PARAM),
        (Box::new(|o| o.chunk_size = 100), ZIPNN_ERROR_INVALID_PARAM),
        (Box::new(|o| o.threshold = 2.0), ZIPNN_ERROR_INVALID_PARAM),
        (Box::new(|o| o.threshold = -0.5), ZIPNN_ERROR_INVALID_PARAM),
        (Box::new(|o| o.bg_partitions = 3), ZIPNN_ERROR_INVALID_PARAM),
        (
            Box::new(|o| {
                o.bg_partitions = 2;
                o.dtype = ZIPNN_DTYPE_BF16
            }),
            ZIPNN_ERROR_INVALID_PARAM,
        ),
        (Box::new(|o| o.zstd_level = 40), ZIPNN_ERROR_INVALID_PARAM),
        (Box::new(|o| o.lz4_level = 13), ZIPNN_ERROR_INVALID_PARAM),
        (Box::new(|o| o.threads = 100_000), ZIPNN_ERROR_INVALID_PARAM),
    ];
    for (i, (f, want)) in cases.iter().enumerate() {
        let mut o = defaults();
        f(&mut o);
        let mut n = SENTINEL;
        let got = zipnn_compress(&o, p(&src), src.len(), pm(&mut dst), dst.len(), &mut n);
        assert_eq!(got, *want, "case {i}");
        assert_eq!(n, SENTINEL);
        // The bound refuses the same options with the same status.
        let mut b = SENTINEL;
        let st = zipnn_compress_bound(&o, 10, &mut b);
        if *want == ZIPNN_OK {
            assert_eq!(st, ZIPNN_OK, "case {i}");
        } else {
            assert_eq!((st, b), (*want, SENTINEL), "case {i}");
        }
    }
}

#[test]
fn struct_size_lets_the_options_grow_and_shrink() {
    let src = make(DType::Fp32, Kind::Gaussian, 10_000, 3);
    let mut dst = vec![0u8; 20_000];
    // An older caller that only knew the first six fields: the rest take defaults.
    let mut old = defaults();
    old.struct_size = 24;
    old.dtype = ZIPNN_DTYPE_FP32;
    old.zstd_level = 999; // beyond its struct_size: must be ignored
    let mut n = 0;
    assert_eq!(
        zipnn_compress(&old, p(&src), src.len(), pm(&mut dst), dst.len(), &mut n),
        ZIPNN_OK
    );
    let info = info_c(&dst, n);
    assert_eq!(info.dtype, ZIPNN_DTYPE_FP32);
    // A caller from before `target`: the garbage past its struct_size is not read, so the
    // target is ZIPNN_TARGET_ANY and the frame is the one of the default options.
    let mut pre_target = defaults();
    pre_target.struct_size = std::mem::offset_of!(zipnn_options, target) as u32;
    pre_target.target = 0xFFFF_FFFF;
    let mut m = 0;
    let mut dst2 = vec![0u8; 20_000];
    assert_eq!(
        zipnn_compress(
            &pre_target,
            p(&src),
            src.len(),
            pm(&mut dst2),
            dst2.len(),
            &mut m
        ),
        ZIPNN_OK
    );
    let reference = compress_c(None, &src);
    assert_eq!(&dst2[..m], &reference[..]);
    // A newer caller with a longer struct: a zero tail is accepted, a nonzero one is not.
    #[repr(C)]
    struct Newer {
        o: zipnn_options,
        extra: [u32; 4],
    }
    let mut newer = Newer {
        o: defaults(),
        extra: [0; 4],
    };
    newer.o.struct_size = size_of::<Newer>() as u32;
    let op = &newer as *const Newer as *const zipnn_options;
    assert_eq!(
        zipnn_compress(op, p(&src), src.len(), pm(&mut dst), dst.len(), &mut n),
        ZIPNN_OK
    );
    newer.extra[2] = 1;
    let op = &newer as *const Newer as *const zipnn_options;
    assert_eq!(
        zipnn_compress(op, p(&src), src.len(), pm(&mut dst), dst.len(), &mut n),
        ZIPNN_ERROR_INVALID_PARAM
    );
}

#[test]
fn overlapping_buffers_are_rejected() {
    let mut buf = vec![0u8; 10_000];
    let mut n = SENTINEL;
    let src = buf.as_ptr() as *const c_void;
    assert_eq!(
        zipnn_compress(null(), src, 1000, pm(&mut buf[500..]), 5000, &mut n),
        ZIPNN_ERROR_INVALID_PARAM
    );
    assert_eq!(n, SENTINEL);
}

#[test]
fn frame_errors_have_exact_codes() {
    let src = make(DType::Bf16, Kind::Gaussian, 20_000, 5);
    let mut o = defaults();
    o.dtype = ZIPNN_DTYPE_BF16;
    o.chunk_size = 4096;
    let frame = compress_c(Some(&o), &src);
    let mut out = vec![0u8; src.len()];
    let dec = |f: &[u8], out: &mut [u8]| {
        let mut n = SENTINEL;
        let s = zipnn_decompress(p(f), f.len(), pm(out), out.len(), &mut n);
        if s != ZIPNN_OK {
            assert_eq!(n, SENTINEL);
        }
        s
    };
    let mut bad = frame.clone();
    bad[0] ^= 1;
    assert_eq!(dec(&bad, &mut out), ZIPNN_ERROR_BAD_MAGIC);
    let mut bad = frame.clone();
    bad[4] = zipnn::frame::VERSION + 1;
    assert_eq!(dec(&bad, &mut out), ZIPNN_ERROR_UNSUPPORTED_VERSION);
    // Damage anywhere in the fixed header is a checksum error, never a misread field:
    // flags, dtype, and the size fields (a damaged size is not mistaken for truncation).
    // (Frames with unknown flags or dtypes and right checksums: tests/vectors.)
    for at in [5, 6, 8, 17, 23, 33] {
        let mut bad = frame.clone();
        bad[at] ^= 0x40;
        assert_eq!(dec(&bad, &mut out), ZIPNN_ERROR_CHECKSUM, "byte {at}");
    }
    let mut bad = frame.clone();
    let last = bad.len() - 1;
    bad[last] ^= 0x01; // payload
    out.fill(0x77);
    assert_eq!(dec(&bad, &mut out), ZIPNN_ERROR_CHECKSUM);
    assert!(
        out.iter().all(|&b| b == 0x77),
        "a damaged frame must not write to dst"
    );
    assert_eq!(
        dec(&frame[..frame.len() - 1], &mut out),
        ZIPNN_ERROR_TRUNCATED
    );
    assert_eq!(dec(&frame[..10], &mut out), ZIPNN_ERROR_TRUNCATED);
    let mut long = frame.clone();
    long.extend_from_slice(&[0, 0]);
    assert_eq!(dec(&long, &mut out), ZIPNN_ERROR_CORRUPT);
    assert_eq!(dec(&frame, &mut out), ZIPNN_OK);
    assert_eq!(out, src);
}

#[test]
fn limit_frame_info_metadata_and_chunks() {
    let src = make(DType::Fp16, Kind::Gaussian, 20_001, 5);
    let meta = b"shape=[10000]";
    let mut o = defaults();
    o.dtype = ZIPNN_DTYPE_FP16;
    o.chunk_size = 4096;
    let mut dst = vec![0u8; bound_c(&o, src.len()) + meta.len()];
    let mut n = 0;
    assert_eq!(
        zipnn_compress_with_metadata(
            &o,
            p(meta),
            meta.len(),
            p(&src),
            src.len(),
            pm(&mut dst),
            dst.len(),
            &mut n
        ),
        ZIPNN_OK
    );
    let frame = &dst[..n];
    let info = info_c(frame, n);
    assert_eq!(info.format_version, zipnn_format_version());
    assert_eq!(info.original_size, src.len() as u64);
    assert_eq!(info.chunk_count, 5);
    assert_eq!(info.frame_size, n as u64);
    assert_eq!(info.metadata_size, meta.len() as u64);
    assert_eq!(info.planes, 2);
    let mut bad_info = zipnn_frame_info::default();
    assert_eq!(
        zipnn_get_frame_info(p(frame), n, &mut bad_info),
        ZIPNN_ERROR_INVALID_PARAM
    );
    let mut m = [0u8; 64];
    let mut mn = 0;
    assert_eq!(
        zipnn_get_metadata(p(frame), n, pm(&mut m), m.len(), &mut mn),
        ZIPNN_OK
    );
    assert_eq!(&m[..mn], meta);
    assert_eq!(
        zipnn_get_metadata(p(frame), n, pm(&mut m), 3, &mut mn),
        ZIPNN_ERROR_DST_TOO_SMALL
    );
    let mut lim = defaults();
    lim.max_decompressed_size = src.len() as u64 - 1;
    let mut out = vec![0u8; src.len()];
    let mut w = SENTINEL;
    assert_eq!(
        zipnn_decompress_with_options(&lim, p(frame), n, pm(&mut out), out.len(), &mut w),
        ZIPNN_ERROR_LIMIT_EXCEEDED
    );
    lim.max_decompressed_size = src.len() as u64;
    lim.threads = 1;
    assert_eq!(
        zipnn_decompress_with_options(&lim, p(frame), n, pm(&mut out), out.len(), &mut w),
        ZIPNN_OK
    );
    let mut chunk = vec![0u8; 4096];
    for i in 0..info.chunk_count {
        let mut cn = 0;
        assert_eq!(
            zipnn_decompress_chunk(p(frame), n, i, pm(&mut chunk), chunk.len(), &mut cn),
            ZIPNN_OK
        );
        let at = (i * 4096) as usize;
        assert_eq!(&chunk[..cn], &src[at..at + cn]);
    }
    let mut cn = SENTINEL;
    assert_eq!(
        zipnn_decompress_chunk(p(frame), n, 5, pm(&mut chunk), chunk.len(), &mut cn),
        ZIPNN_ERROR_INVALID_PARAM
    );
    assert_eq!(cn, SENTINEL);
}

#[test]
fn versions_agree_with_cargo_and_the_header() {
    let v = env!("CARGO_PKG_VERSION");
    // SAFETY: static NUL-terminated string.
    let s = unsafe { CStr::from_ptr(zipnn_version_string()) };
    assert_eq!(s.to_str().unwrap(), v);
    let parts: Vec<u32> = v.split('.').map(|x| x.parse().unwrap()).collect();
    assert_eq!(
        zipnn_version_number(),
        parts[0] * 10000 + parts[1] * 100 + parts[2]
    );
    let header =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/include/zipnn.h")).unwrap();
    for (name, val) in [
        ("ZIPNN_VERSION_MAJOR", parts[0]),
        ("ZIPNN_VERSION_MINOR", parts[1]),
        ("ZIPNN_VERSION_PATCH", parts[2]),
    ] {
        assert!(
            header.contains(&format!("#define {name} {val}\n")),
            "{name} in include/zipnn.h does not match Cargo.toml ({v})"
        );
    }
    assert!(header.contains(&format!("#define ZIPNN_VERSION_STRING \"{v}\"")));
}

#[test]
fn error_strings_are_distinct_and_static() {
    let codes = [
        ZIPNN_OK,
        ZIPNN_ERROR_NULL_POINTER,
        ZIPNN_ERROR_INVALID_PARAM,
        ZIPNN_ERROR_UNSUPPORTED_DTYPE,
        ZIPNN_ERROR_UNSUPPORTED_METHOD,
        ZIPNN_ERROR_DST_TOO_SMALL,
        ZIPNN_ERROR_SRC_TOO_LARGE,
        ZIPNN_ERROR_LIMIT_EXCEEDED,
        ZIPNN_ERROR_BAD_MAGIC,
        ZIPNN_ERROR_UNSUPPORTED_VERSION,
        ZIPNN_ERROR_UNSUPPORTED_FLAGS,
        ZIPNN_ERROR_UNSUPPORTED_CODEC,
        ZIPNN_ERROR_TRUNCATED,
        ZIPNN_ERROR_CORRUPT,
        ZIPNN_ERROR_CHECKSUM,
        ZIPNN_ERROR_ALLOC,
        ZIPNN_ERROR_INTERNAL,
        ZIPNN_ERROR_INTERNAL_PANIC,
    ];
    let mut seen = std::collections::HashSet::new();
    for c in codes {
        // SAFETY: static NUL-terminated string.
        let s = unsafe { CStr::from_ptr(zipnn_error_string(c)) }
            .to_str()
            .unwrap();
        assert!(seen.insert(s.to_string()), "duplicate message for {c}");
    }
}

#[cfg(feature = "test-panic")]
#[test]
fn panics_become_a_status() {
    assert_eq!(zipnn_test_panic(), ZIPNN_ERROR_INTERNAL_PANIC);
}

#[test]
fn struct_size_is_capped_so_an_uninitialised_struct_fails_safely() {
    // A struct_size far beyond the struct (garbage in an uninitialised struct) is refused
    // without reading past what the caller could own: no read of its "tail" happens.
    let src = [0u8; 64];
    let mut dst = vec![0u8; 4096];
    for size in [1025u32, 0xDEAD_BEEF, u32::MAX] {
        let mut o = defaults();
        o.struct_size = size;
        let mut n = SENTINEL;
        let st = zipnn_compress(&o, p(&src), src.len(), pm(&mut dst), dst.len(), &mut n);
        assert_eq!((st, n), (ZIPNN_ERROR_INVALID_PARAM, SENTINEL), "{size:#x}");
        let frame = compress_c(None, &src);
        let mut info = zipnn_frame_info {
            struct_size: size,
            ..Default::default()
        };
        assert_eq!(
            zipnn_get_frame_info(p(&frame), frame.len(), &mut info),
            ZIPNN_ERROR_INVALID_PARAM
        );
        assert_eq!(info.struct_size, size, "not written");
    }
    // The largest allowed size, with a zero tail, is accepted.
    #[repr(C)]
    struct Big {
        o: zipnn_options,
        tail: [u8; 1024 - 80],
    }
    let mut big = Big {
        o: defaults(),
        tail: [0; 1024 - 80],
    };
    big.o.struct_size = 1024;
    let op = &big as *const Big as *const zipnn_options;
    let mut n = SENTINEL;
    assert_eq!(
        zipnn_compress(op, p(&src), src.len(), pm(&mut dst), dst.len(), &mut n),
        ZIPNN_OK
    );
    big.tail[1024 - 81] = 1;
    let op = &big as *const Big as *const zipnn_options;
    assert_eq!(
        zipnn_compress(op, p(&src), src.len(), pm(&mut dst), dst.len(), &mut n),
        ZIPNN_ERROR_INVALID_PARAM
    );
}

#[test]
fn compress_bound_reports_errors_as_a_status() {
    let mut b = SENTINEL;
    assert_eq!(
        zipnn_compress_bound(null(), 1000, null_mut()),
        ZIPNN_ERROR_NULL_POINTER
    );
    assert_eq!(
        zipnn_compress_bound(null(), usize::MAX, &mut b),
        ZIPNN_ERROR_SRC_TOO_LARGE
    );
    assert_eq!(b, SENTINEL);
    let mut o = defaults();
    o.dtype = 99;
    assert_eq!(
        zipnn_compress_bound(&o, 10, &mut b),
        ZIPNN_ERROR_UNSUPPORTED_DTYPE
    );
    assert_eq!(b, SENTINEL);
    assert_eq!(zipnn_compress_bound(null(), 0, &mut b), ZIPNN_OK);
    assert!(b > 0 && b < 1024);
}

#[test]
fn delta_frames_have_chunk_random_access() {
    let base = make(DType::Bf16, Kind::Gaussian, 10_000, 1);
    let mut src = base.clone();
    for i in (0..src.len()).step_by(97) {
        src[i] ^= 0x21;
    }
    let mut o = defaults();
    o.dtype = ZIPNN_DTYPE_BF16;
    o.chunk_size = 1024;
    let mut frame = vec![0u8; bound_c(&o, src.len())];
    let mut n = 0;
    assert_eq!(
        zipnn_compress_delta(
            &o,
            p(&base),
            base.len(),
            null(),
            0,
            p(&src),
            src.len(),
            pm(&mut frame),
            frame.len(),
            &mut n
        ),
        ZIPNN_OK
    );
    frame.truncate(n);
    let mut chunk = vec![0u8; 1024];
    let chunks = src.len().div_ceil(1024);
    for i in 0..chunks {
        let mut w = SENTINEL;
        let st = zipnn_decompress_delta_chunk(
            p(&base),
            base.len(),
            p(&frame),
            frame.len(),
            i as u64,
            pm(&mut chunk),
            chunk.len(),
            &mut w,
        );
        assert_eq!(st, ZIPNN_OK, "chunk {i}");
        assert_eq!(&chunk[..w], &src[i * 1024..i * 1024 + w], "chunk {i}");
    }
    // Past the end; without the base; with another base: refused, nothing written.
    let mut other = base.clone();
    other[5] ^= 1;
    let cases: [(&[u8], u64, i32); 4] = [
        (&base, chunks as u64, ZIPNN_ERROR_INVALID_PARAM),
        (&[], 0, ZIPNN_ERROR_BASE_REQUIRED),
        (&other, 0, ZIPNN_ERROR_BASE_MISMATCH),
        (&base[1..], 0, ZIPNN_ERROR_BASE_MISMATCH),
    ];
    for (b, i, want) in cases {
        chunk.fill(0xAA);
        let mut w = SENTINEL;
        let st = zipnn_decompress_delta_chunk(
            p(b),
            b.len(),
            p(&frame),
            frame.len(),
            i,
            pm(&mut chunk),
            chunk.len(),
            &mut w,
        );
        assert_eq!((st, w), (want, SENTINEL));
        assert!(chunk.iter().all(|&c| c == 0xAA));
    }
    // The plain call refuses a delta frame; the delta call reads a plain one.
    let mut w = SENTINEL;
    assert_eq!(
        zipnn_decompress_chunk(
            p(&frame),
            frame.len(),
            0,
            pm(&mut chunk),
            chunk.len(),
            &mut w
        ),
        ZIPNN_ERROR_BASE_REQUIRED
    );
    let plain = compress_c(Some(&o), &src);
    let st = zipnn_decompress_delta_chunk(
        null(),
        0,
        p(&plain),
        plain.len(),
        1,
        pm(&mut chunk),
        chunk.len(),
        &mut w,
    );
    assert_eq!(st, ZIPNN_OK);
    assert_eq!(&chunk[..w], &src[1024..2048]);
}

#[test]
fn safetensors_compress_with_a_null_base_of_nonzero_size_is_null_pointer() {
    let file = common::build_safetensors(&[("a", "F32", vec![4], vec![0u8; 16])], None);
    let mut dst = vec![0u8; 1 << 16];
    let mut n = SENTINEL;
    let st = zipnn_safetensors_compress(
        null(),
        null(),
        10,
        p(&file),
        file.len(),
        pm(&mut dst),
        dst.len(),
        &mut n,
    );
    assert_eq!((st, n), (ZIPNN_ERROR_NULL_POINTER, SENTINEL));
    let st = zipnn_safetensors_compress(
        null(),
        null(),
        0,
        p(&file),
        file.len(),
        pm(&mut dst),
        dst.len(),
        &mut n,
    );
    assert_eq!(st, ZIPNN_OK);
}

#[test]
fn frame_flags_are_in_the_header() {
    let mut o = defaults();
    o.dtype = ZIPNN_DTYPE_BF16;
    o.lossy_mode = ZIPNN_LOSSY_MANTISSA;
    o.lossy_param = 3;
    let src = make(DType::Bf16, Kind::Gaussian, 4096, 2);
    let meta = b"m";
    let mut frame = vec![0u8; bound_c(&o, src.len()) + 1];
    let mut n = 0;
    assert_eq!(
        zipnn_compress_with_metadata(
            &o,
            p(meta),
            1,
            p(&src),
            src.len(),
            pm(&mut frame),
            frame.len(),
            &mut n
        ),
        ZIPNN_OK
    );
    let info = info_c(&frame, n);
    assert_eq!(
        info.flags,
        ZIPNN_FRAME_FLAG_METADATA | ZIPNN_FRAME_FLAG_LOSSY
    );
    assert_eq!(info.flags & ZIPNN_FRAME_FLAG_DELTA, 0);
}

#[test]
fn small_frames_report_the_compact_flag_and_large_ones_do_not() {
    let mut o = defaults();
    o.dtype = ZIPNN_DTYPE_BF16;
    for (len, compact) in [(2usize, true), (4096, true), (65536, true), (65538, false)] {
        let src = make(DType::Bf16, Kind::Gaussian, len, 5);
        let frame = compress_c(Some(&o), &src);
        let n = frame.len();
        let info = info_c(&frame, n);
        assert_eq!(
            info.flags,
            if compact { ZIPNN_FRAME_FLAG_COMPACT } else { 0 },
            "{len}"
        );
        assert_eq!(info.original_size, len as u64);
        let mut back = vec![0u8; len];
        let mut m = 0;
        assert_eq!(
            zipnn_decompress(p(&frame), n, pm(&mut back), back.len(), &mut m),
            ZIPNN_OK
        );
        assert_eq!((m, &back), (len, &src));
    }
}
