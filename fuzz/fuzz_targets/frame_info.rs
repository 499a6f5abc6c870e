//! Header-only entry points on arbitrary bytes (as is, with trailing bytes, and resealed):
//! frame_info, decompressed_size, metadata, verify and decompress_chunk for every index.
//! They never panic, agree with each other, and tolerate bytes after the frame where
//! documented.
#![no_main]

use libfuzzer_sys::fuzz_target;
use zipnn::*;

fn check(data: &[u8]) {
    let info = frame_info(data);
    let meta = metadata(data);
    let size = decompressed_size(data);
    let ver = verify(data);
    match &info {
        Ok(i) => {
            assert_eq!(size, Ok(i.original_size));
            assert_eq!(meta.map(|m| m.len() as u64), Ok(i.metadata_size));
            assert!(i.frame_size <= data.len() as u64);
            assert!(i.planes >= 1 && i.planes <= 8);
            assert!(i.chunk_size >= MIN_CHUNK_SIZE && i.chunk_size <= MAX_CHUNK_SIZE);
            // Bytes after the frame: the header-only calls still succeed, verify does not.
            let mut longer = data.to_vec();
            longer.push(0);
            assert_eq!(frame_info(&longer), Ok(*i));
            if i.frame_size == data.len() as u64 {
                assert_eq!(verify(&longer), Err(Error::Corrupt));
            } else {
                assert!(ver.is_err());
            }
            let mut buf = vec![0u8; (i.chunk_size as usize).min(1 << 20)];
            for c in 0..i.chunk_count.min(4096) {
                match decompress_chunk(data, c, &mut buf) {
                    Ok(n) => assert!(n <= i.chunk_size as usize),
                    Err(e) => assert!(
                        !matches!(
                            e,
                            Error::Internal | Error::InternalPanic | Error::InvalidParam
                        ),
                        "chunk {c}: {e:?}"
                    ),
                }
            }
            // A delta frame without its base is refused as such before the index is looked
            // at; otherwise an index past the last chunk is an invalid parameter.
            let past = if i.base_hash.is_some() {
                Err(Error::BaseRequired)
            } else {
                Err(Error::InvalidParam)
            };
            assert_eq!(decompress_chunk(data, i.chunk_count, &mut buf), past);
            assert_eq!(decompress_chunk(data, u64::MAX, &mut buf), past);
        }
        Err(e) => {
            assert_eq!(size.as_ref().err(), Some(e));
            assert_eq!(meta.err(), Some(*e));
            assert!(ver.is_err());
            let mut buf = [0u8; 16];
            assert!(decompress_chunk(data, 0, &mut buf).is_err());
        }
    }
}

fuzz_target!(|data: &[u8]| {
    check(data);
    if data.starts_with(&frame::MAGIC) {
        let mut sealed = data.to_vec();
        zipnn_fuzz::reseal(&mut sealed);
        check(&sealed);
    }
});
