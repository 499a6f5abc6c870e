//! Regression inputs found by fuzzing (scripts/fuzz.sh): every `*.znn` file in this
//! directory is fed to every decoding entry point, which must not panic and must agree.
//! A crash found by a fuzz target goes here as `<target>-<short description>.znn` (the
//! artifact from fuzz/artifacts/<target>/), plus a named test below when it needs more
//! than "does not panic". No fuzz campaign so far has found a library crash, so the
//! directory holds no inputs yet; the golden invalid vectors are run as a baseline.

use std::path::Path;

use zipnn::*;

fn check(name: &str, data: &[u8]) {
    let limited = DecompressOptions {
        threads: 1,
        max_size: 1 << 26,
    };
    let whole = decompress_with(data, &limited);
    let info = frame_info(data);
    assert_eq!(
        decompressed_size(data).ok(),
        info.as_ref().ok().map(|i| i.original_size),
        "{name}"
    );
    if let Ok(out) = &whole {
        assert_eq!(verify(data), Ok(()), "{name}");
        let mut dst = vec![0u8; out.len()];
        assert_eq!(decompress_into(data, &mut dst), Ok(out.len()), "{name}");
        assert_eq!(&dst, out, "{name}");
    }
    if let Ok(i) = info {
        let _ = metadata(data);
        let mut buf = vec![0u8; (i.chunk_size as usize).min(1 << 20)];
        for c in 0..i.chunk_count.min(4096) {
            let _ = decompress_chunk(data, c, &mut buf);
        }
    }
    let mut small = [0u8; 64];
    let _ = decompress_into(data, &mut small);
}

fn files(dir: &Path) -> Vec<(String, Vec<u8>)> {
    let mut v: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "znn"))
        .map(|p| (p.display().to_string(), std::fs::read(&p).unwrap()))
        .collect();
    v.sort();
    v
}

#[test]
fn fuzz_regressions_never_panic() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    for (name, data) in files(&root.join("tests/regressions")) {
        check(&name, &data);
    }
    for (name, data) in files(&root.join("tests/vectors/invalid")) {
        check(&name, &data);
    }
}
