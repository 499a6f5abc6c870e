//! Helpers shared by the fuzz targets: checksum resealers (so that mutated frames, streams
//! and archives reach the decoders instead of stopping at the checksums), options derived
//! from input bytes, and the cross-checks every decoded frame must pass.
//!
//! The stream_decode and safetensors targets are written in tests/regressions/harness.rs,
//! included here, so that tests/regressions/main.rs replays their seeds and crash inputs
//! through exactly the same code.

use std::ffi::c_void;

use zipnn::capi;
use zipnn::*;

#[path = "../../tests/regressions/harness.rs"]
mod harness;
pub use harness::{reseal, reseal_archive, reseal_stream, safetensors, stream_decode, MAX_OUT};

/// Largest chunk buffer handed to `decompress_chunk`.
const MAX_CHUNK_BUF: usize = 1 << 20;

/// Bytes of input consumed by [`derive_options`].
pub const OPTION_BYTES: usize = 8;

/// Options from the first [`OPTION_BYTES`] bytes (always valid ones), plus the metadata
/// and the data to compress taken from the rest.
pub fn derive_options(data: &[u8]) -> Option<(Options, &[u8], &[u8])> {
    if data.len() < OPTION_BYTES {
        return None;
    }
    let (b, rest) = data.split_at(OPTION_BYTES);
    let dtype = DType::ALL[b[0] as usize % DType::ALL.len()];
    let method = Method::ALL[b[1] as usize % Method::ALL.len()];
    let level = [Level::Fast, Level::Default, Level::Max][b[2] as usize % 3];
    let threads = ((b[2] >> 2) & 1) as u32; // 0 = all cores, 1 = calling thread
    let target = Target::ALL[((b[2] >> 3) & 1) as usize];
    let chunk_size = if b[3] >= 250 {
        1 << 16
    } else {
        1024 * (1 + (b[3] as u32 % 8))
    };
    let threshold = (b[4] as f32 + 1.0) / 256.0;
    let bg_partitions = if dtype == DType::Raw {
        [1, 2, 4, 8][b[5] as usize % 4]
    } else {
        1
    };
    let zstd_level = match (b[6] % 20) as i32 - 7 {
        0 => 1,
        l => l,
    };
    let lz4_level = 1 + (b[7] % 12) as i32;
    let meta_len = ((b[5] >> 2) as usize).min(rest.len());
    let (metadata, src) = rest.split_at(meta_len);
    let opts = Options {
        dtype,
        method,
        level,
        threads,
        chunk_size,
        zstd_level,
        lz4_level,
        threshold,
        bg_partitions,
        // Lossless: the round-trip target checks the bytes come back exactly.
        lossy: zipnn::Lossy::None,
        target,
    };
    Some((opts, metadata, src))
}

/// Runs every decoding entry point on `data` and checks that they agree with each other.
/// Returns the decoded bytes when the frame decodes.
pub fn exercise(data: &[u8]) -> Option<Vec<u8>> {
    let limited = DecompressOptions {
        threads: 1,
        max_size: MAX_OUT,
    };
    let whole = decompress_with(data, &limited);
    let size = decompressed_size(data);
    let info = frame_info(data);
    match (&info, &size) {
        (Ok(i), Ok(s)) => assert_eq!(i.original_size, *s),
        (Err(a), Err(b)) => assert_eq!(a, b, "frame_info and decompressed_size disagree"),
        _ => panic!("frame_info {info:?} vs decompressed_size {size:?}"),
    }
    if whole == Err(Error::LimitExceeded) {
        let declared = frame::parse_fixed(data).expect("limit hit on an unparsable header");
        assert!(declared.original_size > MAX_OUT);
    }
    // The C ABI must give the same answer into a caller buffer.
    let cap = match &size {
        Ok(n) if *n <= MAX_OUT => *n as usize,
        _ => 64,
    };
    let mut c_dst = vec![0u8; cap];
    let mut c_written = usize::MAX;
    let c_opts = capi::zipnn_options {
        threads: 1,
        max_decompressed_size: MAX_OUT,
        ..capi::zipnn_options::default()
    };
    let st = capi::zipnn_decompress_with_options(
        &c_opts,
        data.as_ptr().cast::<c_void>(),
        data.len(),
        c_dst.as_mut_ptr().cast::<c_void>(),
        c_dst.len(),
        &mut c_written,
    );
    match &whole {
        Ok(out) => {
            assert_eq!(st, 0, "C ABI failed on a frame Rust decodes");
            assert_eq!(c_written, out.len());
            assert_eq!(&c_dst[..], &out[..]);
        }
        Err(e) => {
            assert_ne!(st, 0, "C ABI decoded a frame Rust refuses ({e:?})");
            assert_eq!(c_written, usize::MAX, "out_written written on error");
            assert_ne!(st, Error::InternalPanic.code(), "panic behind the C ABI");
        }
    }
    let Ok(out) = whole else {
        // Still poke the random-access paths of a frame whose header parses.
        if let Ok(i) = info {
            let mut buf = vec![0u8; (i.chunk_size as usize).min(MAX_CHUNK_BUF)];
            for c in 0..i.chunk_count.min(64) {
                let _ = decompress_chunk(data, c, &mut buf);
            }
            let _ = metadata(data);
            let _ = verify(data);
        }
        let mut small = [0u8; 64];
        let _ = decompress_into(data, &mut small);
        return None;
    };
    let info = info.unwrap();
    assert_eq!(out.len() as u64, info.original_size);
    assert_eq!(info.frame_size, data.len() as u64);
    assert_eq!(verify(data), Ok(()), "decodes but does not verify");
    assert_eq!(metadata(data).unwrap().len() as u64, info.metadata_size);
    assert_eq!(info.dtype.code() as u32, data[6] as u32);
    // Other thread counts and the unlimited entry point give the same bytes.
    let all = DecompressOptions {
        threads: 0,
        max_size: 0,
    };
    assert_eq!(decompress_with(data, &all).as_ref(), Ok(&out));
    assert_eq!(decompress(data).as_ref(), Ok(&out));
    // A limit of exactly the size is enough; one byte less is not.
    let exact = DecompressOptions {
        threads: 1,
        max_size: out.len() as u64,
    };
    if !out.is_empty() {
        assert_eq!(decompress_with(data, &exact).as_ref(), Ok(&out));
    }
    if out.len() > 1 {
        // (a limit of 0 means none, so a one-byte output has no limit below it)
        let under = DecompressOptions {
            threads: 1,
            max_size: out.len() as u64 - 1,
        };
        assert_eq!(decompress_with(data, &under), Err(Error::LimitExceeded));
    }
    // Into a larger buffer: exactly the output written, the rest untouched.
    let mut dst = vec![0xA5u8; out.len() + 3];
    assert_eq!(decompress_into(data, &mut dst), Ok(out.len()));
    assert_eq!(&dst[..out.len()], &out[..]);
    assert!(dst[out.len()..].iter().all(|&b| b == 0xA5));
    // Into a buffer one byte short: DstTooSmall and nothing written.
    if !out.is_empty() {
        let mut short = vec![0x5Au8; out.len() - 1];
        assert_eq!(decompress_into(data, &mut short), Err(Error::DstTooSmall));
        assert!(short.iter().all(|&b| b == 0x5A), "short dst was written");
    }
    // Every chunk alone equals its slice of the whole.
    let cs = info.chunk_size as usize;
    let mut buf = vec![0u8; cs.min(out.len().max(1))];
    let mut covered = 0usize;
    for c in 0..info.chunk_count {
        let n = decompress_chunk(data, c, &mut buf).expect("chunk of a good frame fails");
        let start = c as usize * cs;
        assert_eq!(&buf[..n], &out[start..start + n]);
        covered += n;
        if n > 0 {
            let mut short = vec![0u8; n - 1];
            assert_eq!(
                decompress_chunk(data, c, &mut short),
                Err(Error::DstTooSmall)
            );
        }
    }
    assert_eq!(
        covered as u64,
        info.original_size - info.original_size % info.planes as u64
    );
    assert_eq!(
        decompress_chunk(data, info.chunk_count, &mut buf),
        Err(Error::InvalidParam)
    );
    Some(out)
}
