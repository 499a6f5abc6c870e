//! Destination buffers of every wrong size. A frame (the input itself when it decodes,
//! else the input compressed under options from its first bytes) is decoded into buffers
//! of 0, 1, size - 1 and a fuzzer-chosen size: too small must be DstTooSmall with the
//! buffer untouched and nothing written to the C ABI's out-parameter; large enough must
//! write exactly the output and nothing past it.
#![no_main]

use std::ffi::c_void;

use libfuzzer_sys::fuzz_target;
use zipnn::*;

fn check_sizes(frame: &[u8], out: &[u8], pick: usize) {
    let n = out.len();
    let mut sizes = vec![0, 1, n.saturating_sub(1), n, n + 1, pick % (n + 2)];
    sizes.dedup();
    for cap in sizes {
        let mut dst = vec![0xC3u8; cap];
        let r = decompress_into(frame, &mut dst);
        let mut c_dst = vec![0xC3u8; cap];
        let mut written = usize::MAX;
        let st = capi::zipnn_decompress(
            frame.as_ptr().cast::<c_void>(),
            frame.len(),
            if cap == 0 {
                std::ptr::null_mut()
            } else {
                c_dst.as_mut_ptr().cast::<c_void>()
            },
            cap,
            &mut written,
        );
        if cap < n {
            assert_eq!(r, Err(Error::DstTooSmall), "cap {cap} < {n}");
            assert!(dst.iter().all(|&b| b == 0xC3), "short dst written");
            assert_eq!(st, Error::DstTooSmall.code());
            assert_eq!(written, usize::MAX);
            assert!(c_dst.iter().all(|&b| b == 0xC3), "short C dst written");
        } else {
            assert_eq!(r, Ok(n));
            assert_eq!(&dst[..n], out);
            assert!(
                dst[n..].iter().all(|&b| b == 0xC3),
                "written past the output"
            );
            assert_eq!(st, 0);
            assert_eq!(written, n);
            assert_eq!(&c_dst[..n], out);
            assert!(c_dst[n..].iter().all(|&b| b == 0xC3));
        }
    }
    // Per chunk, the same rules.
    let info = frame_info(frame).unwrap();
    for c in 0..info.chunk_count.min(16) {
        let start = c as usize * info.chunk_size as usize;
        let len = (info.chunk_size as usize).min(n - n % info.planes as usize - start);
        let mut short = vec![0xC3u8; len - 1];
        assert_eq!(
            decompress_chunk(frame, c, &mut short),
            Err(Error::DstTooSmall)
        );
        assert!(short.iter().all(|&b| b == 0xC3));
        let mut exact = vec![0u8; len + 1];
        assert_eq!(decompress_chunk(frame, c, &mut exact), Ok(len));
        assert_eq!(&exact[..len], &out[start..start + len]);
    }
}

fuzz_target!(|data: &[u8]| {
    let pick = data.len().wrapping_mul(31) ^ data.first().copied().unwrap_or(0) as usize;
    let limited = DecompressOptions {
        threads: 1,
        max_size: zipnn_fuzz::MAX_OUT,
    };
    if let Ok(out) = decompress_with(data, &limited) {
        check_sizes(data, &out, pick);
        return;
    }
    let Some((opts, meta, src)) = zipnn_fuzz::derive_options(data) else {
        return;
    };
    let frame = compress_with_metadata(src, meta, &opts).unwrap();
    check_sizes(&frame, src, pick);
    // compress_into: too small a buffer is DstTooSmall and leaves it untouched.
    if !frame.is_empty() {
        let mut short = vec![0xC3u8; frame.len() - 1];
        assert_eq!(
            compress_into(src, meta, &opts, &mut short),
            Err(Error::DstTooSmall)
        );
        assert!(
            short.iter().all(|&b| b == 0xC3),
            "short compress dst written"
        );
    }
});
