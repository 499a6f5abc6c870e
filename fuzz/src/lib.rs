//! Helpers shared by the fuzz targets: a checksum resealer (so that mutated frames reach
//! the chunk decoders instead of stopping at the checksums), options derived from input
//! bytes, and the cross-checks every decoded frame must pass.

use std::ffi::c_void;

use zipnn::capi;
use zipnn::*;

/// The largest output the targets decode. Frames may legitimately declare far more (a run
/// plane of 64 MiB codes to one byte); those are refused through the caller limit, which
/// is itself under test.
pub const MAX_OUT: u64 = 1 << 26;

/// Largest chunk buffer handed to `decompress_chunk`.
const MAX_CHUNK_BUF: usize = 1 << 20;

fn le32(b: &[u8], at: usize) -> u32 {
    u32::from_le_bytes(b[at..at + 4].try_into().unwrap())
}

fn le64(b: &[u8], at: usize) -> u64 {
    u64::from_le_bytes(b[at..at + 8].try_into().unwrap())
}

/// Rewrites the fixed-header checksum, every chunk checksum whose payload lies inside
/// `f`, and the header checksum, as a hostile encoder would. Never panics on any input.
pub fn reseal(f: &mut [u8]) {
    if f.len() < frame::FIXED_HEADER_SIZE || f[0..4] != frame::MAGIC {
        return;
    }
    let sum = frame::fixed_checksum(&f[..36]);
    f[36..40].copy_from_slice(&sum.to_le_bytes());
    let planes = f[7] as u64;
    let cs = le32(f, 8) as u64;
    if planes == 0 || cs == 0 {
        return;
    }
    let size = le64(f, 16);
    let meta = le32(f, 32) as u64;
    let chunks = (size - size % planes).div_ceil(cs);
    let entry = 8 + 5 * planes;
    let Some(hs) = chunks
        .checked_mul(entry)
        .and_then(|t| t.checked_add(40 + meta))
    else {
        return;
    };
    if hs.checked_add(8).is_none_or(|end| end > f.len() as u64) {
        return;
    }
    let (hs, entry, meta_end) = (hs as usize, entry as usize, 40 + meta as usize);
    let mut at = hs + 8;
    for c in 0..chunks as usize {
        let e = meta_end + c * entry;
        let size: usize = (0..planes as usize)
            .map(|p| le32(f, e + 8 + 5 * p + 1) as usize)
            .sum();
        if at + size > f.len() {
            break;
        }
        let sum = frame::checksum(&f[at..at + size]);
        f[e..e + 8].copy_from_slice(&sum.to_le_bytes());
        at += size;
    }
    let sum = frame::checksum(&f[..hs]);
    f[hs..hs + 8].copy_from_slice(&sum.to_le_bytes());
}

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
