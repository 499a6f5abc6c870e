//! `zipnn` on the files the reference package (PyPI zipnn 0.5.4) wrote: every vector of
//! tests/reference-vectors/manifest.tsv decompresses to its content, `info` and `verify`
//! say what the file is (and that it has no checksum), `convert` rewrites it.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

fn vectors() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/reference-vectors")
}

fn zipnn(dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_zipnn"))
        .args(args)
        .current_dir(dir)
        .stdin(Stdio::null())
        .output()
        .expect("run zipnn")
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// (file, kind, original, delta_base) of every manifest row.
fn manifest() -> Vec<(String, String, String, String)> {
    let t = fs::read_to_string(vectors().join("manifest.tsv")).unwrap();
    let mut lines = t.lines();
    let head: Vec<&str> = lines.next().unwrap().split('\t').collect();
    let col = |n: &str| head.iter().position(|h| *h == n).unwrap();
    let (f, k, o, b) = (col("file"), col("kind"), col("original"), col("delta_base"));
    let rows: Vec<_> = lines
        .filter(|l| !l.is_empty())
        .map(|l| {
            let c: Vec<&str> = l.split('\t').collect();
            (
                c[f].to_string(),
                c[k].to_string(),
                c[o].to_string(),
                c[b].to_string(),
            )
        })
        .collect();
    assert_eq!(rows.len(), 34);
    rows
}

/// The bytes `inputs/X` or `inputs/X[A:B]` names.
fn content(spec: &str) -> Vec<u8> {
    let (name, range) = match spec.find('[') {
        Some(i) => (&spec[..i], Some(&spec[i + 1..spec.len() - 1])),
        None => (spec, None),
    };
    let all = fs::read(vectors().join(name)).unwrap();
    match range {
        None => all,
        Some(r) => {
            let (a, b) = r.split_once(':').unwrap();
            all[a.parse::<usize>().unwrap()..b.parse::<usize>().unwrap()].to_vec()
        }
    }
}

#[test]
fn every_vector_decompresses_and_verifies() {
    let dir = tempfile::tempdir().unwrap();
    for (file, kind, original, base) in manifest() {
        let src = vectors().join(&file);
        let src = src.to_str().unwrap();
        let out = dir.path().join("out");
        let _ = fs::remove_file(&out);
        let mut args = vec!["decompress", "-q", src, "-o", "out"];
        let base_path = dir.path().join("base");
        if base != "-" {
            fs::write(&base_path, content(&base)).unwrap();
            args.extend(["--base", "base"]);
        }
        let o = zipnn(dir.path(), &args);
        assert_eq!(o.status.code(), Some(0), "{file}: {}", text(&o.stderr));
        assert!(fs::read(&out).unwrap() == content(&original), "{file}");
        let o = zipnn(dir.path(), &["verify", src]);
        assert_eq!(o.status.code(), Some(0), "{file}: {}", text(&o.stderr));
        let said = text(&o.stdout);
        assert!(said.contains("NO checksum"), "{file}: {said}");
        let o = zipnn(dir.path(), &["info", src]);
        assert_eq!(o.status.code(), Some(0), "{file}: {}", text(&o.stderr));
        assert!(text(&o.stdout).contains("reference package"), "{file}");
        let o = zipnn(dir.path(), &["info", "--json", src]);
        let doc: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
        let format = doc[0]["format"].as_str().unwrap().to_string();
        let want = if kind == "safetensors" {
            "reference-safetensors"
        } else {
            "reference"
        };
        assert_eq!(format, want, "{file}");
        // A delta without its base is bad data.
        if base != "-" {
            let o = zipnn(dir.path(), &["decompress", "-q", "-f", src, "-o", "out"]);
            assert_eq!(o.status.code(), Some(1), "{file}");
        }
    }
}

#[test]
fn convert_rewrites_in_place_and_walks_trees() {
    let dir = tempfile::tempdir().unwrap();
    let tree = dir.path().join("tree");
    fs::create_dir_all(tree.join("hf")).unwrap();
    let rows = manifest();
    for (file, _, _, _) in &rows {
        fs::copy(vectors().join(file), tree.join(file)).unwrap();
    }
    fs::write(tree.join("notes.txt"), b"not a reference file").unwrap();
    fs::write(
        dir.path().join("base"),
        content("inputs/bf16.bin[0:307200]"),
    )
    .unwrap();
    // One file named on the command line.
    let o = zipnn(dir.path(), &["convert", "tree/byte.f32.znn"]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o.stderr));
    let o = zipnn(dir.path(), &["info", "--json", "tree/byte.f32.znn"]);
    let doc: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(doc[0]["format"], "frame");
    // A delta needs its base.
    let o = zipnn(dir.path(), &["convert", "tree/delta.bf16.znn"]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o.stderr));
    assert!(text(&o.stderr).contains("--base"));
    // A file that is not the reference package's, named: bad data.
    let o = zipnn(dir.path(), &["convert", "tree/notes.txt"]);
    assert_eq!(o.status.code(), Some(1));
    // The whole tree (the already converted file and notes.txt are left as they are).
    let o = zipnn(dir.path(), &["convert", "-r", "--base", "base", "tree"]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o.stderr));
    assert!(
        text(&o.stdout).contains("33 files converted, 2 left"),
        "{}",
        text(&o.stdout)
    );
    assert_eq!(
        fs::read(tree.join("notes.txt")).unwrap(),
        b"not a reference file"
    );
    for (file, kind, original, base) in &rows {
        let p = tree.join(file);
        let name = p.to_str().unwrap();
        let o = zipnn(dir.path(), &["verify", name]);
        assert_eq!(o.status.code(), Some(0), "{file}: {}", text(&o.stderr));
        assert!(!text(&o.stdout).contains("NO checksum"), "{file}");
        let out = dir.path().join("out");
        let mut args = vec!["decompress", "-q", "-f", name, "-o", "out"];
        if base != "-" {
            args.extend(["--base", "base"]);
        }
        let o = zipnn(dir.path(), &args);
        assert_eq!(o.status.code(), Some(0), "{file}: {}", text(&o.stderr));
        let want = content(original);
        assert!(fs::read(&out).unwrap() == want, "{file} ({kind})");
    }
}
