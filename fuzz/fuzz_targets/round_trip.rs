//! Arbitrary bytes under options derived from the first bytes (dtype, method, level,
//! threads, chunk_size, threshold, bg_partitions, zstd/lz4 levels, metadata length):
//! compress, then every decoding path must give the input back, and the frame's
//! information must match the options.
#![no_main]

use libfuzzer_sys::fuzz_target;
use zipnn::*;

fuzz_target!(|data: &[u8]| {
    let Some((opts, meta, src)) = zipnn_fuzz::derive_options(data) else {
        return;
    };
    let frame = compress_with_metadata(src, meta, &opts).expect("valid options must compress");
    let bound = compress_bound(src.len(), &opts).unwrap() + meta.len();
    assert!(
        frame.len() <= bound,
        "frame {} above bound {bound}",
        frame.len()
    );
    // compress_into with exactly the frame's length writes the same frame.
    let mut dst = vec![0u8; frame.len()];
    assert_eq!(compress_into(src, meta, &opts, &mut dst), Ok(frame.len()));
    assert_eq!(dst, frame, "compress_into differs from compress");
    // The output does not depend on the thread count.
    let other = Options {
        threads: 1 - opts.threads.min(1),
        ..opts.clone()
    };
    assert_eq!(compress_with_metadata(src, meta, &other).unwrap(), frame);

    let info = frame_info(&frame).unwrap();
    assert_eq!(info.dtype, opts.dtype);
    assert_eq!(info.planes as usize, opts.planes());
    assert_eq!(info.chunk_size, opts.chunk_size);
    assert_eq!(info.original_size, src.len() as u64);
    assert_eq!(info.frame_size, frame.len() as u64);
    assert_eq!(info.metadata_size, meta.len() as u64);
    assert_eq!(info.flags & 1 != 0, !meta.is_empty());
    let body = src.len() as u64 - src.len() as u64 % info.planes as u64;
    assert_eq!(info.chunk_count, body.div_ceil(opts.chunk_size as u64));
    assert_eq!(metadata(&frame).unwrap(), meta);

    let out = zipnn_fuzz::exercise(&frame).expect("own frame does not decode");
    assert_eq!(out, src, "round trip changed the data");
});
