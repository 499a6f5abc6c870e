//! The `zipnn` binary, run as a user would: exit codes, messages, files on disk.

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

const BF16: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../tests/data/minilm-l0-ffn-in.bf16"
);
const FP32: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../tests/data/minilm-l0-query.fp32"
);
const FP16: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../tests/data/minilm-l0-query.fp16"
);

fn zipnn(dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_zipnn"))
        .args(args)
        .current_dir(dir)
        .stdin(Stdio::null())
        .output()
        .expect("run zipnn")
}

/// Runs zipnn with `input` on standard input.
fn zipnn_stdin(dir: &Path, args: &[&str], input: &[u8]) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_zipnn"))
        .args(args)
        .current_dir(dir)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn zipnn");
    let mut stdin = child.stdin.take().unwrap();
    let data = input.to_vec();
    let feeder = std::thread::spawn(move || {
        let _ = stdin.write_all(&data);
    });
    let out = child.wait_with_output().expect("wait zipnn");
    feeder.join().unwrap();
    out
}

fn code(o: &Output) -> i32 {
    o.status.code().expect("exit code")
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

#[track_caller]
fn ok(o: &Output) {
    assert_eq!(code(o), 0, "stderr: {}", stderr(o));
}

fn tmp() -> tempfile::TempDir {
    tempfile::tempdir().unwrap()
}

/// Files in `dir` (names only, sorted), to see that nothing was left behind.
fn listing(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    v.sort();
    v
}

/// A small safetensors file: a BF16 matrix, an F32 matrix and an I64 vector, with metadata.
fn safetensors_file() -> Vec<u8> {
    let a = fs::read(BF16).unwrap(); // 1536 x 384 bf16
    let b = fs::read(FP32).unwrap(); // 384 x 384 fp32
    let c: Vec<u8> = [7i64, -1, 1 << 40]
        .iter()
        .flat_map(|v| v.to_le_bytes())
        .collect();
    let (ea, eb) = (a.len(), a.len() + b.len());
    let ec = eb + c.len();
    let mut header = format!(
        r#"{{"__metadata__":{{"format":"pt"}},"ffn.weight":{{"dtype":"BF16","shape":[1536,384],"data_offsets":[0,{ea}]}},"query.weight":{{"dtype":"F32","shape":[384,384],"data_offsets":[{ea},{eb}]}},"steps":{{"dtype":"I64","shape":[3],"data_offsets":[{eb},{ec}]}}}}"#
    );
    while header.len() % 8 != 0 {
        header.push(' ');
    }
    let mut f = (header.len() as u64).to_le_bytes().to_vec();
    f.extend_from_slice(header.as_bytes());
    f.extend_from_slice(&a);
    f.extend_from_slice(&b);
    f.extend_from_slice(&c);
    f
}

fn flip_byte(path: &Path, at: usize) {
    let mut b = fs::read(path).unwrap();
    b[at] ^= 0x10;
    fs::write(path, b).unwrap();
}

#[test]
fn plain_file_round_trip_with_dtype() {
    let d = tmp();
    let orig = fs::read(BF16).unwrap();
    fs::write(d.path().join("w.bf16"), &orig).unwrap();
    let o = zipnn(d.path(), &["compress", "--dtype", "bf16", "w.bf16"]);
    ok(&o);
    assert!(stderr(&o).contains("w.bf16.znn"), "{}", stderr(&o));
    let z = fs::read(d.path().join("w.bf16.znn")).unwrap();
    assert_eq!(&z[..4], b"\x89ZNS", "plain files are streams");
    // bf16 weights compress to about 0.67; as raw bytes they would not get near that.
    assert!(
        (z.len() as f64) < 0.7 * orig.len() as f64,
        "{} of {}",
        z.len(),
        orig.len()
    );
    let raw = zipnn(d.path(), &["compress", "w.bf16", "-o", "raw.znn"]);
    ok(&raw);
    assert!(fs::metadata(d.path().join("raw.znn")).unwrap().len() > z.len() as u64);

    // The input is kept; decompressing next to it needs -f, or the input moved away.
    assert_eq!(fs::read(d.path().join("w.bf16")).unwrap(), orig);
    fs::rename(d.path().join("w.bf16"), d.path().join("orig")).unwrap();
    ok(&zipnn(d.path(), &["decompress", "w.bf16.znn"]));
    assert_eq!(fs::read(d.path().join("w.bf16")).unwrap(), orig);
    assert!(d.path().join("w.bf16.znn").exists(), "inputs are kept");

    // Every dtype, level and thread count round-trips; the output does not depend on -T.
    let fp16 = fs::read(FP16).unwrap();
    fs::write(d.path().join("q.fp16"), &fp16).unwrap();
    let mut first: Option<Vec<u8>> = None;
    for (t, level) in [("1", "fast"), ("2", "default"), ("1", "max"), ("2", "max")] {
        let o = zipnn(
            d.path(),
            &[
                "-T", t, "compress", "-t", "fp16", "-l", level, "q.fp16", "-o", "q.znn", "-f",
            ],
        );
        ok(&o);
        let z = fs::read(d.path().join("q.znn")).unwrap();
        if level == "max" {
            match &first {
                None => first = Some(z.clone()),
                Some(f) => assert_eq!(f, &z, "-T changed the output"),
            }
        }
        ok(&zipnn(
            d.path(),
            &["decompress", "q.znn", "-o", "q.back", "-f"],
        ));
        assert_eq!(
            fs::read(d.path().join("q.back")).unwrap(),
            fp16,
            "{t} {level}"
        );
    }
    for dt in [
        "fp32", "fp64", "fp8_e4m3", "fp8_e5m2", "int8", "uint8", "raw",
    ] {
        ok(&zipnn(
            d.path(),
            &[
                "compress",
                "-q",
                "-t",
                dt,
                "q.fp16",
                "-o",
                "q.znn",
                "-f",
                "--chunk-size",
                "64K",
            ],
        ));
        ok(&zipnn(
            d.path(),
            &["decompress", "-q", "q.znn", "-o", "q.back", "-f"],
        ));
        assert_eq!(fs::read(d.path().join("q.back")).unwrap(), fp16, "{dt}");
    }
}

#[test]
fn safetensors_round_trip_info_and_verify() {
    let d = tmp();
    let st = safetensors_file();
    fs::write(d.path().join("m.safetensors"), &st).unwrap();
    let o = zipnn(d.path(), &["compress", "m.safetensors"]);
    ok(&o);
    assert!(stderr(&o).contains("3 tensors"), "{}", stderr(&o));
    let z = fs::read(d.path().join("m.safetensors.znn")).unwrap();
    assert_eq!(&z[..4], b"\x89ZNT", "safetensors files are archives");
    assert!(z.len() < st.len());

    let o = zipnn(d.path(), &["info", "m.safetensors.znn"]);
    ok(&o);
    let text = stdout(&o);
    for want in [
        "archive, 3 tensors",
        "ffn.weight",
        "query.weight",
        "steps",
        "BF16",
        "F32",
        "I64",
        "[1536, 384]",
        "1179648",
        "total (3 tensors",
    ] {
        assert!(text.contains(want), "{want:?} missing from:\n{text}");
    }
    // The BF16 row carries its ratio (about 0.67), the total row the file sizes' ratio.
    let ffn = text.lines().find(|l| l.starts_with("ffn.weight")).unwrap();
    let r: f64 = ffn.split_whitespace().last().unwrap().parse().unwrap();
    assert!(r > 0.5 && r < 0.7, "{ffn}");
    let total = text.lines().last().unwrap();
    assert!(total.contains(&st.len().to_string()) && total.contains(&z.len().to_string()));

    let o = zipnn(d.path(), &["info", "--json", "m.safetensors.znn"]);
    ok(&o);
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let doc = &v[0];
    assert_eq!(doc["format"], "archive");
    assert_eq!(doc["original_size"], st.len() as u64);
    assert_eq!(doc["compressed_size"], z.len() as u64);
    let names: Vec<&str> = doc["tensors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["ffn.weight", "query.weight", "steps"]);
    assert_eq!(doc["tensors"][1]["dtype"], "F32");

    let o = zipnn(d.path(), &["verify", "m.safetensors.znn"]);
    ok(&o);
    assert!(stdout(&o).contains("OK"), "{}", stdout(&o));

    ok(&zipnn(
        d.path(),
        &["decompress", "m.safetensors.znn", "-o", "back.safetensors"],
    ));
    assert_eq!(fs::read(d.path().join("back.safetensors")).unwrap(), st);

    // Not a valid safetensors file after all (a hole in the data): compressed as bytes.
    let mut bad = st.clone();
    bad.truncate(st.len() - 8);
    fs::write(d.path().join("bad.safetensors"), &bad).unwrap();
    ok(&zipnn(d.path(), &["compress", "bad.safetensors"]));
    let z = fs::read(d.path().join("bad.safetensors.znn")).unwrap();
    assert_eq!(&z[..4], b"\x89ZNS");
    ok(&zipnn(
        d.path(),
        &["decompress", "bad.safetensors.znn", "-o", "bad.back"],
    ));
    assert_eq!(fs::read(d.path().join("bad.back")).unwrap(), bad);
}

#[test]
fn standard_input_and_output() {
    let d = tmp();
    let orig = fs::read(FP32).unwrap();
    fs::write(d.path().join("in.fp32"), &orig).unwrap();

    // zipnn compress - -o x.znn
    let o = zipnn_stdin(
        d.path(),
        &["compress", "-t", "fp32", "-", "-o", "x.znn"],
        &orig,
    );
    ok(&o);
    assert!(o.stdout.is_empty());
    // zipnn decompress x.znn -o -
    let o = zipnn(d.path(), &["decompress", "x.znn", "-o", "-"]);
    ok(&o);
    assert_eq!(o.stdout, orig);
    // zipnn compress -c IN > out, then zipnn decompress < out > back
    let o = zipnn(d.path(), &["compress", "-t", "fp32", "-c", "in.fp32"]);
    ok(&o);
    assert_eq!(
        o.stdout,
        fs::read(d.path().join("x.znn")).unwrap(),
        "same bytes either way"
    );
    let o = zipnn_stdin(d.path(), &["decompress"], &o.stdout);
    ok(&o);
    assert_eq!(o.stdout, orig);
    // A safetensors file through pipes becomes an archive and comes back whole.
    let st = safetensors_file();
    let o = zipnn_stdin(d.path(), &["compress", "-q"], &st);
    ok(&o);
    assert_eq!(&o.stdout[..4], b"\x89ZNT");
    let o = zipnn_stdin(d.path(), &["decompress", "-q", "-"], &o.stdout);
    ok(&o);
    assert_eq!(o.stdout, st);
    // verify and info read standard input too.
    let z = fs::read(d.path().join("x.znn")).unwrap();
    ok(&zipnn_stdin(d.path(), &["verify", "-"], &z));
    let o = zipnn_stdin(d.path(), &["info", "-"], &z);
    ok(&o);
    assert!(
        stdout(&o).contains("zipnn stream, dtype fp32"),
        "{}",
        stdout(&o)
    );
    assert_eq!(listing(d.path()), ["in.fp32", "x.znn"]);
}

#[test]
fn refuses_to_overwrite_without_force() {
    let d = tmp();
    fs::write(d.path().join("a.bin"), b"first version of the data").unwrap();
    ok(&zipnn(d.path(), &["compress", "a.bin"]));
    let before = fs::read(d.path().join("a.bin.znn")).unwrap();
    fs::write(d.path().join("a.bin"), b"second, different version").unwrap();

    let o = zipnn(d.path(), &["compress", "a.bin"]);
    assert_eq!(code(&o), 4);
    assert!(
        stderr(&o).contains("zipnn: a.bin.znn: already exists"),
        "{}",
        stderr(&o)
    );
    assert_eq!(fs::read(d.path().join("a.bin.znn")).unwrap(), before);
    assert_eq!(
        listing(d.path()),
        ["a.bin", "a.bin.znn"],
        "no temporary file left"
    );

    // Decompressing onto an existing file is refused the same way.
    let o = zipnn(d.path(), &["decompress", "a.bin.znn"]);
    assert_eq!(code(&o), 4);
    assert!(
        stderr(&o).contains("zipnn: a.bin: already exists"),
        "{}",
        stderr(&o)
    );
    assert_eq!(
        fs::read(d.path().join("a.bin")).unwrap(),
        b"second, different version"
    );

    // -f overwrites.
    ok(&zipnn(d.path(), &["compress", "-f", "a.bin"]));
    assert_ne!(fs::read(d.path().join("a.bin.znn")).unwrap(), before);
    ok(&zipnn(
        d.path(),
        &["decompress", "-f", "a.bin.znn", "-o", "a.bin"],
    ));
    assert_eq!(
        fs::read(d.path().join("a.bin")).unwrap(),
        b"second, different version"
    );
}

#[test]
fn missing_input_is_an_io_error() {
    let d = tmp();
    for cmd in ["compress", "decompress", "info", "verify", "bench"] {
        let o = zipnn(d.path(), &[cmd, "nope.znn"]);
        assert_eq!(code(&o), 3, "{cmd}: {}", stderr(&o));
        assert!(
            stderr(&o).starts_with("zipnn: nope.znn: No such file or directory"),
            "{cmd}: {}",
            stderr(&o)
        );
    }
    assert!(listing(d.path()).is_empty(), "{:?}", listing(d.path()));
    // With several inputs the others are still done, and the exit code is the worst.
    fs::write(d.path().join("b.bin"), b"some bytes").unwrap();
    let o = zipnn(d.path(), &["compress", "-q", "nope.bin", "b.bin"]);
    assert_eq!(code(&o), 3);
    assert!(d.path().join("b.bin.znn").exists());
}

/// Damaged input: decompress and verify fail with the data exit code and leave no output.
#[track_caller]
fn assert_corrupt_fails(dir: &Path, name: &str) {
    let before = listing(dir);
    let o = zipnn(dir, &["decompress", name, "-o", "out"]);
    assert_eq!(code(&o), 1, "{}", stderr(&o));
    assert!(
        stderr(&o).starts_with(&format!("zipnn: {name}: ")),
        "{}",
        stderr(&o)
    );
    assert_eq!(listing(dir), before, "no output or temporary file left");
    let o = zipnn(dir, &["verify", name]);
    assert_eq!(code(&o), 1, "{}", stderr(&o));
    assert!(
        stderr(&o).starts_with(&format!("zipnn: {name}: ")),
        "{}",
        stderr(&o)
    );
}

#[test]
fn corrupt_input_fails_with_the_data_code_and_leaves_nothing() {
    let d = tmp();
    let p = d.path();
    fs::write(p.join("w.bf16"), fs::read(BF16).unwrap()).unwrap();
    ok(&zipnn(
        p,
        &["compress", "-t", "bf16", "--block-size", "256K", "w.bf16"],
    ));
    let len = fs::metadata(p.join("w.bf16.znn")).unwrap().len() as usize;
    fs::copy(p.join("w.bf16.znn"), p.join("payload.znn")).unwrap();
    flip_byte(&p.join("payload.znn"), len / 2);
    assert_corrupt_fails(p, "payload.znn");
    let o = zipnn(p, &["verify", "payload.znn"]);
    assert!(stderr(&o).contains("checksum mismatch"), "{}", stderr(&o));

    // A damaged index or trailer, a truncated stream, a foreign file.
    fs::copy(p.join("w.bf16.znn"), p.join("trailer.znn")).unwrap();
    flip_byte(&p.join("trailer.znn"), len - 20);
    assert_corrupt_fails(p, "trailer.znn");
    let z = fs::read(p.join("w.bf16.znn")).unwrap();
    fs::write(p.join("short.znn"), &z[..len - 100]).unwrap();
    assert_corrupt_fails(p, "short.znn");
    fs::write(p.join("foreign.znn"), b"PK\x03\x04 not ours at all").unwrap();
    assert_corrupt_fails(p, "foreign.znn");
    let o = zipnn(p, &["info", "foreign.znn"]);
    assert_eq!(code(&o), 1);
    assert!(stderr(&o).contains("not zipnn data"), "{}", stderr(&o));

    // An archive: a byte of the last tensor's frame, and one of the JSON header.
    fs::write(p.join("m.safetensors"), safetensors_file()).unwrap();
    ok(&zipnn(p, &["compress", "m.safetensors"]));
    let alen = fs::metadata(p.join("m.safetensors.znn")).unwrap().len() as usize;
    fs::copy(p.join("m.safetensors.znn"), p.join("tensor.znn")).unwrap();
    flip_byte(&p.join("tensor.znn"), alen - 300);
    assert_corrupt_fails(p, "tensor.znn");
    let o = zipnn(p, &["verify", "tensor.znn"]);
    assert!(
        stderr(&o).contains("tensor \"query.weight\""),
        "{}",
        stderr(&o)
    );
    fs::copy(p.join("m.safetensors.znn"), p.join("header.znn")).unwrap();
    flip_byte(&p.join("header.znn"), 60);
    assert_corrupt_fails(p, "header.znn");

    // A single frame (as the library and the SDKs write them).
    let frame = zipnn::compress(
        &fs::read(BF16).unwrap(),
        &zipnn::Options::new(zipnn::DType::Bf16),
    )
    .unwrap();
    fs::write(p.join("one.znn"), &frame).unwrap();
    ok(&zipnn(p, &["verify", "one.znn"]));
    fs::copy(p.join("one.znn"), p.join("frame.znn")).unwrap();
    flip_byte(&p.join("frame.znn"), frame.len() - 10);
    assert_corrupt_fails(p, "frame.znn");

    // Writing to standard output: the damaged stream still fails with the data code.
    let o = zipnn(p, &["decompress", "-c", "payload.znn"]);
    assert_eq!(code(&o), 1);
}

#[test]
fn single_frames_decompress_and_show_their_chunks() {
    let d = tmp();
    let orig = fs::read(BF16).unwrap();
    let opts = zipnn::Options {
        chunk_size: 256 * 1024,
        ..zipnn::Options::new(zipnn::DType::Bf16)
    };
    let frame = zipnn::compress(&orig, &opts).unwrap();
    fs::write(d.path().join("f.znn"), &frame).unwrap();
    ok(&zipnn(d.path(), &["decompress", "f.znn"]));
    assert_eq!(fs::read(d.path().join("f")).unwrap(), orig);
    let o = zipnn(d.path(), &["info", "f.znn"]);
    ok(&o);
    let text = stdout(&o);
    assert!(
        text.contains("zipnn frame, dtype bf16, 5 chunks of 262144 bytes"),
        "{text}"
    );
    assert!(text.contains("huffman"), "{text}");
    let total = text.lines().last().unwrap();
    assert!(
        total.starts_with("total") && total.contains(&frame.len().to_string()),
        "{text}"
    );
}

#[test]
fn stream_info_lists_frames() {
    let d = tmp();
    fs::write(d.path().join("w"), fs::read(BF16).unwrap()).unwrap();
    ok(&zipnn(
        d.path(),
        &["compress", "-t", "bf16", "--block-size", "512K", "w"],
    ));
    let o = zipnn(d.path(), &["info", "w.znn"]);
    ok(&o);
    let text = stdout(&o);
    // 1179648 bytes in blocks of 524288: three frames, the last 131072 bytes.
    assert!(
        text.contains("zipnn stream, dtype bf16, 3 frames of 524288 bytes"),
        "{text}"
    );
    assert!(
        text.lines()
            .any(|l| l.trim_start().starts_with("2 ") && l.contains("131072")),
        "{text}"
    );
    let o = zipnn(d.path(), &["info", "--json", "w.znn"]);
    ok(&o);
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v[0]["frame_count"], 3);
    assert_eq!(v[0]["original_size"], 1179648);
    assert_eq!(v[0]["frames"][2]["original_size"], 131072);
}

fn write_tree(root: &Path, files: &[(&str, &[u8])]) {
    for (name, data) in files {
        let p = root.join(name);
        fs::create_dir_all(p.parent().unwrap()).unwrap();
        fs::write(p, data).unwrap();
    }
}

#[test]
fn directories_recurse_and_mirror() {
    let d = tmp();
    let p = d.path();
    let bf16 = fs::read(BF16).unwrap();
    let st = safetensors_file();
    let files: Vec<(&str, &[u8])> = vec![
        ("model/a.bin", &bf16),
        ("model/sub/b.safetensors", &st),
        ("model/sub/deeper/c.txt", b"hello"),
        ("model/empty", b""),
    ];
    write_tree(p, &files);
    fs::write(p.join("model/old.znn"), b"already compressed").unwrap();

    // Without -r a directory is a usage error.
    let o = zipnn(p, &["compress", "model"]);
    assert_eq!(code(&o), 2);
    assert!(
        stderr(&o).contains("zipnn: model: is a directory"),
        "{}",
        stderr(&o)
    );

    // -r -o DIR mirrors the tree; .znn files are skipped.
    ok(&zipnn(
        p,
        &["-T", "2", "compress", "-r", "model", "-o", "packed", "-q"],
    ));
    let mut got = Vec::new();
    walk(&p.join("packed"), &p.join("packed"), &mut got);
    assert_eq!(
        got,
        [
            "a.bin.znn",
            "empty.znn",
            "sub/b.safetensors.znn",
            "sub/deeper/c.txt.znn"
        ]
    );
    assert_eq!(
        &fs::read(p.join("packed/sub/b.safetensors.znn")).unwrap()[..4],
        b"\x89ZNT"
    );

    // Decompress -r takes only .znn files.
    fs::write(p.join("packed/notes.txt"), b"not compressed").unwrap();
    ok(&zipnn(
        p,
        &["decompress", "-r", "packed", "-o", "unpacked", "-q"],
    ));
    for (name, data) in &files {
        let rel = name.strip_prefix("model/").unwrap();
        assert_eq!(
            &fs::read(p.join("unpacked").join(rel)).unwrap(),
            data,
            "{rel}"
        );
    }
    assert!(!p.join("unpacked/notes.txt").exists());

    // Without -o, outputs go next to the inputs.
    ok(&zipnn(p, &["compress", "-r", "-q", "model"]));
    assert!(p.join("model/sub/deeper/c.txt.znn").exists());
    assert!(p.join("model/a.bin.znn").exists());
    assert!(!p.join("model/old.znn.znn").exists());
    // A second run refuses every existing output, and says which.
    let o = zipnn(p, &["compress", "-r", "model"]);
    assert_eq!(code(&o), 4);
    assert!(
        stderr(&o).contains("model/sub/deeper/c.txt.znn: already exists"),
        "{}",
        stderr(&o)
    );
}

/// Every file under `root` (relative names) with its bytes.
fn tree(root: &Path) -> Vec<(String, Vec<u8>)> {
    let mut names = Vec::new();
    walk(root, root, &mut names);
    names
        .into_iter()
        .map(|n| {
            let b = fs::read(root.join(&n)).unwrap();
            (n, b)
        })
        .collect()
}

#[test]
fn model_folders_compress_weights_only_and_restore_byte_for_byte() {
    let d = tmp();
    let p = d.path();
    let st = safetensors_file();
    let mut st2 = st.clone();
    let n = st2.len();
    st2[n - 9] ^= 1; // another shard: other bytes
    let index = "{\n  \"metadata\": {\"total_size\": 5},\n  \"weight_map\": {\n    \"ffn.weight\": \"model-00001-of-00002.safetensors\",\n    \"query.weight\": \"model-00002-of-00002.safetensors\"\n  }\n}\n";
    let files: Vec<(&str, &[u8])> = vec![
        ("m/config.json", b"{\"model_type\": \"bert\"}"),
        ("m/tokenizer.json", b"{\"version\": \"1.0\"}"),
        ("m/model-00001-of-00002.safetensors", &st),
        ("m/model-00002-of-00002.safetensors", &st2),
        ("m/model.safetensors.index.json", index.as_bytes()),
        ("m/sub/notes.txt", b"left as it is"),
    ];
    write_tree(p, &files);
    let original = tree(&p.join("m"));

    // -o: a complete compressed folder; only the weights are compressed.
    let o = zipnn(p, &["-T", "2", "compress", "-r", "m", "-o", "c"]);
    ok(&o);
    assert!(
        stderr(&o).contains("index, 2 shard names rewritten to X.safetensors.znn"),
        "{}",
        stderr(&o)
    );
    let packed = tree(&p.join("c"));
    let names: Vec<&str> = packed.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(
        names,
        [
            "config.json",
            "model-00001-of-00002.safetensors.znn",
            "model-00002-of-00002.safetensors.znn",
            "model.safetensors.index.json",
            "sub/notes.txt",
            "tokenizer.json"
        ]
    );
    for (name, bytes) in &packed {
        if name.ends_with(".znn") {
            assert_eq!(&bytes[..4], b"\x89ZNT", "{name}");
        } else if name.ends_with(".index.json") {
            assert_eq!(
                String::from_utf8(bytes.clone()).unwrap(),
                index.replace(".safetensors\"", ".safetensors.znn\"")
            );
        } else {
            assert_eq!(
                Some(bytes),
                original.iter().find(|(n, _)| n == name).map(|x| &x.1)
            );
        }
    }
    // Again without -f: every output exists, copies and index included.
    let o = zipnn(p, &["compress", "-r", "m", "-o", "c"]);
    assert_eq!(code(&o), 4);
    assert!(
        stderr(&o).contains("c/config.json: already exists"),
        "{}",
        stderr(&o)
    );
    assert_eq!(tree(&p.join("c")), packed);

    // -o back: the original folder, byte for byte.
    ok(&zipnn(p, &["decompress", "-r", "c", "-o", "r", "-q"]));
    assert_eq!(tree(&p.join("r")), original);

    // In place, decompressing also gives the index its plain names back.
    ok(&zipnn(p, &["decompress", "-r", "c", "-q"]));
    let both = tree(&p.join("c"));
    assert_eq!(both.len(), 8);
    for (name, bytes) in &original {
        assert_eq!(
            Some(bytes),
            both.iter().find(|(n, _)| n == name).map(|x| &x.1),
            "{name}"
        );
    }

    // In place, compressing keeps the plain weights and the index naming them; without
    // them, the folder decompresses back to the original.
    ok(&zipnn(p, &["compress", "-r", "m", "-q"]));
    assert_eq!(
        fs::read(p.join("m/model.safetensors.index.json")).unwrap(),
        index.as_bytes()
    );
    assert!(!p.join("m/config.json.znn").exists());
    for s in [
        "model-00001-of-00002.safetensors",
        "model-00002-of-00002.safetensors",
    ] {
        fs::remove_file(p.join("m").join(s)).unwrap();
    }
    ok(&zipnn(p, &["decompress", "-r", "m", "-q"]));
    let restored: Vec<_> = tree(&p.join("m"))
        .into_iter()
        .filter(|(n, _)| !n.ends_with(".znn"))
        .collect();
    assert_eq!(restored, original);

    // An index that cannot be restored exactly is refused, and said so.
    write_tree(
        p,
        &[
            ("bad/config.json", b"{}"),
            ("bad/model.safetensors", &st),
            ("bad/model.safetensors.index.json", b"{\"weight_map\": 3}"),
        ],
    );
    let o = zipnn(p, &["compress", "-r", "bad", "-o", "badout"]);
    assert_eq!(code(&o), 1);
    assert!(
        stderr(&o).contains("bad/model.safetensors.index.json: not a valid index file"),
        "{}",
        stderr(&o)
    );
}

#[test]
fn model_folders_keep_the_index_when_a_shard_fails() {
    let d = tmp();
    let p = d.path();
    let st = safetensors_file();
    let index = br#"{"weight_map": {"w": "a.safetensors", "v": "b.safetensors"}}"#;
    write_tree(
        p,
        &[
            ("m/config.json", b"{}"),
            ("m/a.safetensors", &st),
            ("m/b.safetensors", &st),
            ("m/model.safetensors.index.json", index),
        ],
    );
    ok(&zipnn(p, &["compress", "-q", "-r", "m", "-o", "c"]));
    let packed_index = fs::read(p.join("c/model.safetensors.index.json")).unwrap();
    assert_ne!(packed_index, index);
    let arc = p.join("c/b.safetensors.znn");
    let n = fs::metadata(&arc).unwrap().len() as usize;
    flip_byte(&arc, n - 100);
    let o = zipnn(p, &["decompress", "-r", "c"]);
    assert_eq!(code(&o), 1, "{}", stderr(&o));
    assert!(
        stderr(&o).contains("c/model.safetensors.index.json: not rewritten"),
        "{}",
        stderr(&o)
    );
    assert_eq!(
        fs::read(p.join("c/model.safetensors.index.json")).unwrap(),
        packed_index
    );
    assert!(!p.join("c/b.safetensors").exists());
    assert_eq!(fs::read(p.join("c/a.safetensors")).unwrap(), st);
}

#[test]
fn model_folders_half_compressed_come_out_whole() {
    let d = tmp();
    let p = d.path();
    let st = safetensors_file();
    write_tree(
        p,
        &[
            ("m/config.json", b"{}"),
            ("m/a.safetensors", &st),
            ("m/b.safetensors", &st),
        ],
    );
    // b is compressed already (its plain file gone), a not yet.
    ok(&zipnn(p, &["compress", "-q", "m/b.safetensors"]));
    fs::remove_file(p.join("m/b.safetensors")).unwrap();
    ok(&zipnn(p, &["compress", "-q", "-r", "m", "-o", "c"]));
    let c: Vec<String> = tree(&p.join("c")).into_iter().map(|(n, _)| n).collect();
    assert_eq!(c, ["a.safetensors.znn", "b.safetensors.znn", "config.json"]);
    assert_eq!(
        fs::read(p.join("c/b.safetensors.znn")).unwrap(),
        fs::read(p.join("m/b.safetensors.znn")).unwrap()
    );
    // And the other way: a plain shard without its archive is copied.
    fs::remove_file(p.join("c/a.safetensors.znn")).unwrap();
    fs::write(p.join("c/a.safetensors"), &st).unwrap();
    ok(&zipnn(p, &["decompress", "-q", "-r", "c", "-o", "r"]));
    let r = tree(&p.join("r"));
    let names: Vec<&str> = r.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(names, ["a.safetensors", "b.safetensors", "config.json"]);
    assert!(r[0].1 == st && r[1].1 == st);
}

fn walk(root: &Path, dir: &Path, out: &mut Vec<String>) {
    let mut entries: Vec<PathBuf> = fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    entries.sort();
    for e in entries {
        if e.is_dir() {
            walk(root, &e, out);
        } else {
            out.push(e.strip_prefix(root).unwrap().to_string_lossy().into_owned());
        }
    }
}

#[test]
fn bench_prints_ratio_and_speed() {
    let d = tmp();
    fs::write(d.path().join("m.safetensors"), safetensors_file()).unwrap();
    let o = zipnn(
        d.path(),
        &["bench", "-t", "bf16", "-n", "1", BF16, "m.safetensors"],
    );
    ok(&o);
    let text = stdout(&o);
    assert!(
        text.contains("ratio") && text.contains("comp MB/s"),
        "{text}"
    );
    let row = text
        .lines()
        .find(|l| l.contains("minilm-l0-ffn-in.bf16"))
        .unwrap();
    assert!(
        row.contains("stream") && row.contains("bf16") && row.contains("round trip ok"),
        "{row}"
    );
    assert!(row.contains("1179648"), "{row}");
    let ratio: f64 = row
        .split_whitespace()
        .find(|w| w.starts_with("0."))
        .unwrap()
        .parse()
        .unwrap();
    assert!(ratio > 0.6 && ratio < 0.7, "{row}");
    // The stream bench codes is the one compress writes, to the byte count.
    let words: Vec<&str> = row.split_whitespace().collect();
    let at = words.iter().position(|w| *w == "1179648").unwrap();
    ok(&zipnn(
        d.path(),
        &["compress", "-q", "-t", "bf16", "-o", "s.znn", BF16],
    ));
    let written = fs::metadata(d.path().join("s.znn")).unwrap().len();
    assert_eq!(words[at + 1], written.to_string(), "{row}");
    fs::remove_file(d.path().join("s.znn")).unwrap();
    // Timed by the busiest thread's CPU time: the same rows, said under the table.
    let o = zipnn(
        d.path(),
        &[
            "bench", "-t", "bf16", "-n", "2", "-T", "2", "--clock", "cpu", BF16,
        ],
    );
    ok(&o);
    let cpu = stdout(&o);
    assert!(cpu.contains("(busiest thread's CPU time)"), "{cpu}");
    let same = cpu.lines().any(|l| {
        let w: Vec<&str> = l.split_whitespace().collect();
        w.len() == words.len() && w[..at + 3] == words[..at + 3] && l.ends_with("round trip ok")
    });
    assert!(same, "{cpu}");
    let row = text
        .lines()
        .find(|l| l.starts_with("m.safetensors"))
        .unwrap();
    assert!(
        row.contains("archive (3 tensors)") && row.contains("BF16,F32,I64"),
        "{row}"
    );
    assert!(
        listing(d.path()) == ["m.safetensors"],
        "bench writes no file"
    );
}

#[test]
fn usage_errors() {
    let d = tmp();
    let p = d.path();
    fs::write(p.join("a.bin"), b"data").unwrap();
    // No .znn suffix and no -o.
    let o = zipnn(p, &["decompress", "a.bin"]);
    assert_eq!(code(&o), 2);
    assert!(
        stderr(&o).contains("zipnn: a.bin: unknown suffix"),
        "{}",
        stderr(&o)
    );
    // Bad values, conflicting flags, unknown commands.
    for args in [
        &["compress", "--dtype", "fp12", "a.bin"][..],
        &["compress", "--level", "9", "a.bin"],
        &["compress", "--chunk-size", "100", "a.bin"],
        &["compress", "-t", "fp32", "--chunk-size", "1026", "a.bin"],
        &["compress", "--block-size", "1G", "a.bin"],
        &["compress", "--target", "avx2", "a.bin"],
        &["compress", "--target", "1", "a.bin"],
        &["bench", "--target", "neon", "a.bin"],
        &["convert", "--target", "", "a.bin"],
        &["compress", "-c", "-o", "x", "a.bin"],
        &["compress", "-c", "a.bin", "a.bin"],
        &["frobnicate"],
        &["info"],
    ] {
        let o = zipnn(p, args);
        assert_eq!(code(&o), 2, "{args:?}: {}", stderr(&o));
        assert!(!stderr(&o).is_empty());
    }
    assert_eq!(listing(p), ["a.bin"]);
    // The exit codes are in the help.
    let o = zipnn(p, &["--help"]);
    ok(&o);
    assert!(stdout(&o).contains("Exit codes:") && stdout(&o).contains("4  an output file exists"));
    let o = zipnn(p, &["compress", "--help"]);
    assert!(stdout(&o).contains("--dtype") && stdout(&o).contains("fp8_e4m3"));
}

#[test]
fn target_is_accepted_everywhere_that_compresses_and_round_trips() {
    let d = tmp();
    let p = d.path();
    let orig = fs::read(BF16).unwrap();
    fs::write(p.join("w.bf16"), &orig).unwrap();
    fs::write(p.join("m.safetensors"), safetensors_file()).unwrap();
    // Frames for any target decode on every processor to the same bytes.
    for (target, level) in [
        ("any", "default"),
        ("avx512", "fast"),
        ("avx512", "default"),
        ("avx512", "max"),
    ] {
        ok(&zipnn(
            p,
            &[
                "compress", "-q", "-t", "bf16", "-l", level, "--target", target, "w.bf16", "-o",
                "w.znn", "-f",
            ],
        ));
        ok(&zipnn(
            p,
            &["decompress", "-q", "w.znn", "-o", "w.back", "-f"],
        ));
        assert_eq!(
            fs::read(p.join("w.back")).unwrap(),
            orig,
            "{target} {level}"
        );
        ok(&zipnn(
            p,
            &[
                "compress",
                "-q",
                "-l",
                level,
                "--target",
                target,
                "m.safetensors",
                "-o",
                "m.znn",
                "-f",
            ],
        ));
        ok(&zipnn(p, &["verify", "m.znn"]));
        ok(&zipnn(
            p,
            &["decompress", "-q", "m.znn", "-o", "m.back", "-f"],
        ));
        assert_eq!(
            fs::read(p.join("m.back")).unwrap(),
            safetensors_file(),
            "{target} {level}"
        );
    }
    // Without the flag the target is any: the same bytes as --target any.
    ok(&zipnn(
        p,
        &["compress", "-q", "-t", "bf16", "w.bf16", "-o", "a.znn"],
    ));
    ok(&zipnn(
        p,
        &[
            "compress", "-q", "-t", "bf16", "--target", "any", "w.bf16", "-o", "b.znn",
        ],
    ));
    assert_eq!(
        fs::read(p.join("a.znn")).unwrap(),
        fs::read(p.join("b.znn")).unwrap()
    );
    // bench says which target it measured.
    let o = zipnn(
        p,
        &[
            "bench", "-t", "bf16", "-n", "1", "--target", "avx512", "w.bf16",
        ],
    );
    ok(&o);
    assert!(
        stdout(&o).contains("; target avx512") && stdout(&o).contains("round trip ok"),
        "{}",
        stdout(&o)
    );
    let o = zipnn(p, &["bench", "-t", "bf16", "-n", "1", "w.bf16"]);
    ok(&o);
    assert!(!stdout(&o).contains("target"), "{}", stdout(&o));
    // The help of each command that compresses documents it.
    for cmd in ["compress", "bench", "convert"] {
        let o = zipnn(p, &[cmd, "--help"]);
        ok(&o);
        let help = stdout(&o);
        assert!(
            help.contains("--target") && help.contains("avx512") && help.contains("Ice Lake"),
            "{cmd}: {help}"
        );
    }
}

/// A safetensors file of `tensors` (name, dtype, shape, bytes), in that order.
fn build_st(tensors: &[(&str, &str, &[u64], &[u8])]) -> Vec<u8> {
    let mut entries = Vec::new();
    let mut at = 0;
    for (name, dtype, shape, bytes) in tensors {
        let shape: Vec<String> = shape.iter().map(u64::to_string).collect();
        entries.push(format!(
            r#""{name}":{{"dtype":"{dtype}","shape":[{}],"data_offsets":[{at},{}]}}"#,
            shape.join(","),
            at + bytes.len()
        ));
        at += bytes.len();
    }
    let mut header = format!("{{{}}}", entries.join(","));
    while header.len() % 8 != 0 {
        header.push(' ');
    }
    let mut f = (header.len() as u64).to_le_bytes().to_vec();
    f.extend_from_slice(header.as_bytes());
    for (_, _, _, bytes) in tensors {
        f.extend_from_slice(bytes);
    }
    f
}

/// A "fine-tune" of `base` (elements of `esize` bytes): the lowest mantissa bit of every
/// third element flipped.
fn nudge(base: &[u8], esize: usize) -> Vec<u8> {
    let mut v = base.to_vec();
    for e in v.chunks_exact_mut(esize).step_by(3) {
        e[0] ^= 1;
    }
    v
}

/// A base model, a fine-tune of it (every tensor of the base nudged, plus a new tensor),
/// and another base (one byte of "ffn.weight" differs).
fn base_and_finetune() -> (Vec<u8>, Vec<u8>, Vec<u8>) {
    let ffn = fs::read(BF16).unwrap(); // 1536 x 384 bf16
    let query = fs::read(FP32).unwrap(); // 384 x 384 fp32
    let head = fs::read(FP16).unwrap(); // 384 x 384 fp16
    let steps: Vec<u8> = [7i64, -1].iter().flat_map(|v| v.to_le_bytes()).collect();
    let (s1, s2): (&[u64], &[u64]) = (&[1536, 384], &[384, 384]);
    let base = build_st(&[
        ("ffn.weight", "BF16", s1, &ffn),
        ("query.weight", "F32", s2, &query),
        ("steps", "I64", &[2], &steps),
    ]);
    let mut other_ffn = ffn.clone();
    other_ffn[1000] ^= 0x40;
    let other = build_st(&[
        ("ffn.weight", "BF16", s1, &other_ffn),
        ("query.weight", "F32", s2, &query),
        ("steps", "I64", &[2], &steps),
    ]);
    let ft = build_st(&[
        ("ffn.weight", "BF16", s1, &nudge(&ffn, 2)),
        ("query.weight", "F32", s2, &nudge(&query, 4)),
        ("steps", "I64", &[2], &steps),
        ("new_head", "F16", s2, &head),
    ]);
    (base, ft, other)
}

/// The line of `text` that starts with `name` (a table row).
#[track_caller]
fn row<'a>(text: &'a str, name: &str) -> &'a str {
    text.lines()
        .find(|l| l.starts_with(&format!("{name} ")))
        .unwrap_or_else(|| panic!("no row {name:?} in:\n{text}"))
}

#[test]
fn delta_archives_round_trip_with_their_base_only() {
    let d = tmp();
    let p = d.path();
    let (base, ft, other) = base_and_finetune();
    fs::write(p.join("base.safetensors"), &base).unwrap();
    fs::write(p.join("ft.safetensors"), &ft).unwrap();
    fs::write(p.join("other.safetensors"), &other).unwrap();
    fs::write(p.join("a.bin"), b"not a model").unwrap();

    let o = zipnn(
        p,
        &["compress", "--base", "base.safetensors", "ft.safetensors"],
    );
    ok(&o);
    assert!(
        stderr(&o).contains("3 deltas against base.safetensors"),
        "{}",
        stderr(&o)
    );
    ok(&zipnn(
        p,
        &["compress", "-q", "ft.safetensors", "-o", "plain.znn"],
    ));
    let delta = fs::metadata(p.join("ft.safetensors.znn")).unwrap().len();
    let plain = fs::metadata(p.join("plain.znn")).unwrap().len();
    assert!(delta * 2 < plain, "delta {delta} vs plain {plain}");

    // info needs no base: which tensors are deltas, and the archive's flags.
    let o = zipnn(p, &["info", "ft.safetensors.znn"]);
    ok(&o);
    let text = stdout(&o);
    assert!(text.contains("flags 0x02 (delta)"), "{text}");
    assert!(text.contains("3 tensors are deltas"), "{text}");
    for (name, stored) in [
        ("ffn.weight", "delta"),
        ("query.weight", "delta"),
        ("steps", "delta"),
        ("new_head", "frame"),
    ] {
        let cols: Vec<&str> = row(&text, name).split_whitespace().collect();
        assert!(cols.contains(&stored), "{name}: {cols:?}");
    }
    let o = zipnn(p, &["info", "--json", "ft.safetensors.znn"]);
    ok(&o);
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v[0]["delta_count"], 3);
    assert_eq!(v[0]["flags"], 2);
    assert_eq!(v[0]["tensors"][0]["stored"], "delta");
    assert!(v[0]["tensors"][0]["base_hash"].is_string());
    assert_eq!(v[0]["tensors"][3]["stored"], "frame");
    assert!(v[0]["tensors"][3]["base_hash"].is_null());

    // Without the base, or with another one: exit 1, a clear message, no output.
    let before = listing(p);
    let o = zipnn(p, &["decompress", "ft.safetensors.znn", "-o", "out"]);
    assert_eq!(code(&o), 1, "{}", stderr(&o));
    assert_eq!(
        stderr(&o),
        "zipnn: ft.safetensors.znn: this file is a delta against a base model: pass --base\n"
    );
    for (wrong, why) in [("other.safetensors", ""), ("a.bin", "not a safetensors")] {
        let o = zipnn(
            p,
            &[
                "decompress",
                "ft.safetensors.znn",
                "-o",
                "out",
                "--base",
                wrong,
            ],
        );
        assert_eq!(code(&o), 1, "{}", stderr(&o));
        let e = stderr(&o);
        assert!(
            e.starts_with("zipnn: ft.safetensors.znn: ")
                && e.contains(&format!(
                    "--base {wrong} is not the base it was made against"
                ))
                && e.contains(why),
            "{e}"
        );
    }
    let o = zipnn(p, &["decompress", "-c", "ft.safetensors.znn"]);
    assert_eq!(code(&o), 1);
    assert!(o.stdout.is_empty(), "nothing written before the check");
    assert_eq!(listing(p), before, "no output or temporary file left");

    // With it: byte for byte, from a file and from standard input.
    let o = zipnn(
        p,
        &[
            "decompress",
            "ft.safetensors.znn",
            "-o",
            "out",
            "--base",
            "base.safetensors",
        ],
    );
    ok(&o);
    assert!(stderr(&o).contains("3 deltas"), "{}", stderr(&o));
    assert_eq!(fs::read(p.join("out")).unwrap(), ft);
    let z = fs::read(p.join("ft.safetensors.znn")).unwrap();
    let o = zipnn_stdin(p, &["decompress", "--base", "base.safetensors"], &z);
    ok(&o);
    assert_eq!(o.stdout, ft);

    // verify needs no base; given one, it checks it.
    let o = zipnn(p, &["verify", "ft.safetensors.znn"]);
    ok(&o);
    assert!(
        stdout(&o).contains("3 deltas (base not checked)"),
        "{}",
        stdout(&o)
    );
    let o = zipnn(
        p,
        &["verify", "ft.safetensors.znn", "--base", "base.safetensors"],
    );
    ok(&o);
    let o = zipnn(
        p,
        &[
            "verify",
            "ft.safetensors.znn",
            "--base",
            "other.safetensors",
        ],
    );
    assert_eq!(code(&o), 1);
    assert!(
        stderr(&o).contains("tensor \"ffn.weight\": --base other.safetensors is not the base"),
        "{}",
        stderr(&o)
    );

    // A safetensors input needs a safetensors base.
    let o = zipnn(
        p,
        &[
            "compress",
            "ft.safetensors",
            "--base",
            "a.bin",
            "-o",
            "x.znn",
        ],
    );
    assert_eq!(code(&o), 2, "{}", stderr(&o));
    assert!(
        stderr(&o).contains("--base a.bin is not a safetensors file"),
        "{}",
        stderr(&o)
    );
    assert!(!p.join("x.znn").exists());
    // A missing base is an I/O error.
    let o = zipnn(
        p,
        &[
            "decompress",
            "ft.safetensors.znn",
            "-o",
            "y",
            "--base",
            "nope",
        ],
    );
    assert_eq!(code(&o), 3, "{}", stderr(&o));

    // bench compresses against the base the same way.
    let o = zipnn(
        p,
        &[
            "bench",
            "-n",
            "1",
            "--base",
            "base.safetensors",
            "ft.safetensors",
        ],
    );
    ok(&o);
    let r = row(&stdout(&o), "ft.safetensors").to_string();
    assert!(
        r.contains("3 deltas") && r.contains(&delta.to_string()) && r.contains("round trip ok"),
        "{r}"
    );
}

#[test]
fn plain_files_against_a_base_are_one_delta_frame() {
    let d = tmp();
    let p = d.path();
    let base = fs::read(BF16).unwrap();
    let ft = nudge(&base, 2);
    let mut other = base.clone();
    other[5] ^= 1;
    fs::write(p.join("base.bf16"), &base).unwrap();
    fs::write(p.join("ft.bf16"), &ft).unwrap();
    fs::write(p.join("other.bf16"), &other).unwrap();
    fs::write(p.join("short.bf16"), &base[..1000]).unwrap();

    ok(&zipnn(
        p,
        &["compress", "-t", "bf16", "--base", "base.bf16", "ft.bf16"],
    ));
    ok(&zipnn(
        p,
        &["compress", "-q", "-t", "bf16", "ft.bf16", "-o", "plain.znn"],
    ));
    let z = fs::read(p.join("ft.bf16.znn")).unwrap();
    assert_eq!(&z[..4], b"\x89ZNN", "a single frame, not a stream");
    let plain = fs::metadata(p.join("plain.znn")).unwrap().len() as usize;
    assert!(z.len() * 2 < plain, "delta {} vs plain {plain}", z.len());

    let o = zipnn(p, &["info", "ft.bf16.znn"]);
    ok(&o);
    assert!(
        stdout(&o).contains("a delta against a base model"),
        "{}",
        stdout(&o)
    );
    ok(&zipnn(p, &["verify", "ft.bf16.znn"]));
    ok(&zipnn(p, &["verify", "ft.bf16.znn", "--base", "base.bf16"]));

    let o = zipnn(p, &["decompress", "ft.bf16.znn", "-o", "back"]);
    assert_eq!(code(&o), 1);
    assert_eq!(
        stderr(&o),
        "zipnn: ft.bf16.znn: this file is a delta against a base model: pass --base\n"
    );
    for wrong in ["other.bf16", "short.bf16"] {
        let o = zipnn(
            p,
            &["decompress", "ft.bf16.znn", "-o", "back", "--base", wrong],
        );
        assert_eq!(code(&o), 1);
        assert_eq!(
            stderr(&o),
            format!("zipnn: ft.bf16.znn: --base {wrong} is not the base it was made against\n")
        );
    }
    assert!(!p.join("back").exists());
    ok(&zipnn(
        p,
        &[
            "decompress",
            "ft.bf16.znn",
            "-o",
            "back",
            "--base",
            "base.bf16",
        ],
    ));
    assert_eq!(fs::read(p.join("back")).unwrap(), ft);

    // A base of another length is refused before anything is written.
    let o = zipnn(
        p,
        &[
            "compress",
            "-t",
            "bf16",
            "--base",
            "short.bf16",
            "ft.bf16",
            "-o",
            "x.znn",
        ],
    );
    assert_eq!(code(&o), 2, "{}", stderr(&o));
    assert!(stderr(&o).contains("same length"), "{}", stderr(&o));
    assert!(!p.join("x.znn").exists());

    let o = zipnn(
        p,
        &[
            "bench",
            "-n",
            "1",
            "-t",
            "bf16",
            "--base",
            "base.bf16",
            "ft.bf16",
        ],
    );
    ok(&o);
    let r = row(&stdout(&o), "ft.bf16").to_string();
    assert!(
        r.contains("delta frame") && r.contains("round trip ok"),
        "{r}"
    );
}

fn bf16_values(b: &[u8]) -> Vec<f32> {
    b.chunks_exact(2)
        .map(|e| f32::from_bits((u16::from_le_bytes([e[0], e[1]]) as u32) << 16))
        .collect()
}

fn f32_values(b: &[u8]) -> Vec<f32> {
    b.chunks_exact(4)
        .map(|e| f32::from_le_bytes([e[0], e[1], e[2], e[3]]))
        .collect()
}

#[test]
fn lossy_mantissa_rounds_float_tensors_within_the_bound() {
    let d = tmp();
    let p = d.path();
    let st = safetensors_file();
    fs::write(p.join("m.safetensors"), &st).unwrap();
    let o = zipnn(p, &["compress", "--lossy-mantissa", "3", "m.safetensors"]);
    ok(&o);
    let warning = stderr(&o).lines().filter(|l| l.contains("warning")).count();
    assert_eq!(warning, 1, "{}", stderr(&o));
    assert!(stderr(&o).contains("LOSSY"), "{}", stderr(&o));
    let o = zipnn(
        p,
        &[
            "compress",
            "-q",
            "--lossy-mantissa",
            "3",
            "m.safetensors",
            "-o",
            "q.znn",
        ],
    );
    ok(&o);
    assert!(o.stderr.is_empty(), "-q: no warning: {}", stderr(&o));
    let lossless = fs::metadata(p.join("q.znn")).unwrap().len();
    ok(&zipnn(p, &["compress", "m.safetensors", "-o", "exact.znn"]));
    assert!(lossless < fs::metadata(p.join("exact.znn")).unwrap().len());

    let o = zipnn(p, &["info", "m.safetensors.znn"]);
    ok(&o);
    let text = stdout(&o);
    assert!(text.contains("2 tensors are LOSSY"), "{text}");
    // Columns from the right (a shape is two words): ratio, compressed, original, lossy.
    let lossy_col = |name: &str| {
        let cols: Vec<&str> = row(&text, name).split_whitespace().rev().collect();
        cols[3].to_string()
    };
    assert_eq!(lossy_col("ffn.weight"), "mantissa:3");
    assert_eq!(lossy_col("query.weight"), "mantissa:3");
    assert_eq!(lossy_col("steps"), "-");
    let o = zipnn(p, &["info", "--json", "m.safetensors.znn"]);
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v[0]["tensors"][0]["lossy"], "mantissa:3");
    assert!(v[0]["tensors"][2]["lossy"].is_null());

    // Decoded: the header and the I64 tensor exact, floats within 2^-(3+1) relative.
    ok(&zipnn(
        p,
        &["decompress", "m.safetensors.znn", "-o", "back"],
    ));
    let back = fs::read(p.join("back")).unwrap();
    assert_eq!(back.len(), st.len());
    let a_len = fs::metadata(BF16).unwrap().len() as usize;
    let b_len = fs::metadata(FP32).unwrap().len() as usize;
    let data = st.len() - a_len - b_len - 24;
    assert_eq!(back[..data], st[..data], "header");
    assert_eq!(back[st.len() - 24..], st[st.len() - 24..], "I64 tensor");
    let bound = 2f32.powi(-4);
    let pairs = bf16_values(&st[data..data + a_len])
        .into_iter()
        .zip(bf16_values(&back[data..data + a_len]))
        .chain(
            f32_values(&st[data + a_len..data + a_len + b_len])
                .into_iter()
                .zip(f32_values(&back[data + a_len..data + a_len + b_len])),
        );
    let mut changed = 0;
    for (x, y) in pairs {
        assert!((x - y).abs() <= bound * x.abs(), "{x} -> {y}");
        changed += (x != y) as usize;
    }
    assert!(changed > 1000, "values were rounded ({changed})");

    // bench checks the same bound and reports the largest error.
    let o = zipnn(
        p,
        &["bench", "-n", "1", "--lossy-mantissa", "3", "m.safetensors"],
    );
    ok(&o);
    assert!(
        stdout(&o).contains("lossy ok, max rel err"),
        "{}",
        stdout(&o)
    );

    // A plain file: the integer mode with a float --dtype; not with raw bytes.
    fs::write(p.join("q.fp32"), fs::read(FP32).unwrap()).unwrap();
    ok(&zipnn(
        p,
        &[
            "compress",
            "-q",
            "-t",
            "fp32",
            "--lossy-integer",
            "20",
            "q.fp32",
        ],
    ));
    let o = zipnn(p, &["info", "q.fp32.znn"]);
    assert!(stdout(&o).contains("integer:20"), "{}", stdout(&o));
    ok(&zipnn(p, &["decompress", "q.fp32.znn", "-o", "q.back"]));
    let orig = f32_values(&fs::read(FP32).unwrap());
    let back = f32_values(&fs::read(p.join("q.back")).unwrap());
    for (x, y) in orig.iter().zip(&back) {
        assert!(
            (x - y).abs() <= 2f32.powi(-21) + x.abs() * 2f32.powi(-24),
            "{x} -> {y}"
        );
    }
    let o = zipnn(
        p,
        &["compress", "--lossy-mantissa", "3", "q.fp32", "-o", "r.znn"],
    );
    assert_eq!(code(&o), 2, "{}", stderr(&o));
    assert!(
        stderr(&o).contains("needs a float --dtype"),
        "{}",
        stderr(&o)
    );
    let o = zipnn(
        p,
        &[
            "compress",
            "-t",
            "bf16",
            "--lossy-mantissa",
            "7",
            "q.fp32",
            "-o",
            "r.znn",
        ],
    );
    assert_eq!(code(&o), 2, "{}", stderr(&o));
    assert!(!p.join("r.znn").exists());
    let o = zipnn(
        p,
        &[
            "compress",
            "--lossy-mantissa",
            "3",
            "--lossy-integer",
            "9",
            "q.fp32",
        ],
    );
    assert_eq!(code(&o), 2, "{}", stderr(&o));
}

#[test]
fn tied_tensors_are_shown_and_restored_also_against_a_base() {
    let d = tmp();
    let p = d.path();
    let embed = fs::read(BF16).unwrap();
    let query = fs::read(FP32).unwrap();
    let s: &[u64] = &[1536, 384];
    let tied = build_st(&[
        ("embed", "BF16", s, &embed),
        ("query", "F32", &[384, 384], &query),
        ("lm_head", "BF16", s, &embed),
    ]);
    fs::write(p.join("tied.safetensors"), &tied).unwrap();
    let o = zipnn(p, &["compress", "tied.safetensors"]);
    ok(&o);
    assert!(stderr(&o).contains("1 tied"), "{}", stderr(&o));
    let o = zipnn(p, &["info", "tied.safetensors.znn"]);
    ok(&o);
    let text = stdout(&o);
    assert!(text.contains("flags 0x01 (ties)"), "{text}");
    // Columns from the right: ratio, compressed, original, lossy, stored.
    let cols: Vec<&str> = row(&text, "lm_head").split_whitespace().rev().collect();
    assert_eq!(cols[4], "tied->embed", "{text}");
    assert_eq!(cols[1], "0", "no frame of its own: {text}");
    let o = zipnn(p, &["info", "--json", "tied.safetensors.znn"]);
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v[0]["tensors"][2]["stored"], "tied");
    assert_eq!(v[0]["tensors"][2]["tied_to"], "embed");
    ok(&zipnn(p, &["verify", "tied.safetensors.znn"]));
    ok(&zipnn(
        p,
        &["decompress", "tied.safetensors.znn", "-o", "back"],
    ));
    assert_eq!(fs::read(p.join("back")).unwrap(), tied);

    // Tied in the fine-tune but not in the base: lm_head is decoded as embed was coded
    // (a delta against the base's embed, not its lm_head).
    let untied: Vec<u8> = embed.iter().rev().copied().collect();
    let base = build_st(&[
        ("embed", "BF16", s, &embed),
        ("query", "F32", &[384, 384], &query),
        ("lm_head", "BF16", s, &untied),
    ]);
    let ft_embed = nudge(&embed, 2);
    let ft = build_st(&[
        ("embed", "BF16", s, &ft_embed),
        ("query", "F32", &[384, 384], &nudge(&query, 4)),
        ("lm_head", "BF16", s, &ft_embed),
    ]);
    fs::write(p.join("base.safetensors"), &base).unwrap();
    fs::write(p.join("ft.safetensors"), &ft).unwrap();
    ok(&zipnn(
        p,
        &[
            "compress",
            "-q",
            "--base",
            "base.safetensors",
            "ft.safetensors",
        ],
    ));
    let o = zipnn(p, &["info", "ft.safetensors.znn"]);
    let text = stdout(&o);
    assert!(text.contains("flags 0x03 (ties, delta)"), "{text}");
    assert!(row(&text, "embed").contains(" delta "), "{text}");
    assert!(row(&text, "lm_head").contains("tied->embed"), "{text}");
    ok(&zipnn(
        p,
        &[
            "decompress",
            "ft.safetensors.znn",
            "-o",
            "ft.back",
            "--base",
            "base.safetensors",
        ],
    ));
    assert_eq!(fs::read(p.join("ft.back")).unwrap(), ft);
}

#[test]
fn an_input_is_never_its_own_output() {
    let d = tmp();
    let p = d.path();
    let st = safetensors_file();
    fs::write(p.join("m.safetensors"), &st).unwrap();
    fs::create_dir(p.join("sub")).unwrap();
    // The same file by its name, through another path, and through a hard link.
    fs::hard_link(p.join("m.safetensors"), p.join("link.safetensors")).unwrap();
    for out in ["m.safetensors", "sub/../m.safetensors", "link.safetensors"] {
        let o = zipnn(
            p,
            &[
                "compress",
                "-f",
                "--lossy-mantissa",
                "3",
                "-o",
                out,
                "m.safetensors",
            ],
        );
        assert_eq!(code(&o), 2, "-o {out}: {}", stderr(&o));
        assert!(stderr(&o).contains("is the input itself"), "{}", stderr(&o));
        assert_eq!(fs::read(p.join("m.safetensors")).unwrap(), st, "-o {out}");
    }
    ok(&zipnn(p, &["compress", "m.safetensors"]));
    let o = zipnn(
        p,
        &[
            "decompress",
            "-f",
            "-o",
            "m.safetensors.znn",
            "m.safetensors.znn",
        ],
    );
    assert_eq!(code(&o), 2, "{}", stderr(&o));
    assert_eq!(
        listing(p),
        [
            "link.safetensors",
            "m.safetensors",
            "m.safetensors.znn",
            "sub"
        ]
    );
}

#[test]
fn info_shows_hostile_tensor_names_as_visible_text() {
    let d = tmp();
    let p = d.path();
    let name = "w\u{1b}[2J\u{1b}]0;pwned\u{7}\nfake row\u{202e}";
    let json = format!(
        r#"{{{:?}:{{"dtype":"U8","shape":[4],"data_offsets":[0,4]}}}}"#,
        name
    )
    .replace("\\u{1b}", "\\u001b")
    .replace("\\u{7}", "\\u0007")
    .replace("\\u{202e}", "\\u202e");
    let mut f = (json.len() as u64).to_le_bytes().to_vec();
    f.extend_from_slice(json.as_bytes());
    f.extend_from_slice(&[1, 2, 3, 4]);
    fs::write(p.join("h.safetensors"), &f).unwrap();
    ok(&zipnn(p, &["compress", "h.safetensors"]));
    let o = zipnn(p, &["info", "h.safetensors.znn"]);
    ok(&o);
    let out = stdout(&o);
    assert!(!out.contains('\u{1b}') && !out.contains('\u{7}') && !out.contains('\u{202e}'));
    assert!(
        out.contains("w\\u{1b}[2J\\u{1b}]0;pwned\\u{7}\\u{a}fake row\\u{202e}"),
        "{out}"
    );
    assert!(!out.lines().any(|l| l.starts_with("fake row")), "{out}");
    // The JSON form escapes them as JSON does, and round-trips the name.
    let o = zipnn(p, &["info", "--json", "h.safetensors.znn"]);
    let v: serde_json::Value = serde_json::from_str(&stdout(&o)).unwrap();
    assert_eq!(v[0]["tensors"][0]["name"], name);
}

/// An archive whose one tensor declares 64 GiB (tests/data/hostile, valid checksums).
const BOMB: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../tests/data/hostile/bomb-64g-archive.znn"
);

#[test]
fn decompress_has_a_default_limit_for_archives_and_frames() {
    let d = tmp();
    let p = d.path();
    fs::copy(BOMB, p.join("bomb.znn")).unwrap();
    let o = zipnn(p, &["decompress", "bomb.znn"]);
    assert_eq!(code(&o), 1, "{}", stderr(&o));
    let e = stderr(&o);
    assert!(e.contains("tensor \"w\" declares more (68719476736 bytes) than --max-size 4294967296 (the default)"), "{e}");
    let o = zipnn(p, &["decompress", "--max-size", "1M", "bomb.znn"]);
    assert_eq!(code(&o), 1);
    assert!(
        stderr(&o).contains("than --max-size 1048576:"),
        "{}",
        stderr(&o)
    );
    let frame = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../tests/data/hostile/bomb-64g.znn"
    );
    fs::copy(frame, p.join("frame.znn")).unwrap();
    let o = zipnn(p, &["decompress", "frame.znn"]);
    assert_eq!(code(&o), 1);
    assert!(
        stderr(&o).contains("the frame declares more (68719476736 bytes)"),
        "{}",
        stderr(&o)
    );
    assert_eq!(listing(p), ["bomb.znn", "frame.znn"]);
    // Under the limit, an archive decodes as before.
    fs::write(p.join("m.safetensors"), safetensors_file()).unwrap();
    ok(&zipnn(p, &["compress", "m.safetensors"]));
    let o = zipnn(
        p,
        &[
            "decompress",
            "--max-size",
            "2M",
            "-o",
            "back",
            "m.safetensors.znn",
        ],
    );
    ok(&o);
    let o = zipnn(
        p,
        &[
            "decompress",
            "--max-size",
            "100K",
            "-o",
            "back2",
            "m.safetensors.znn",
        ],
    );
    assert_eq!(code(&o), 1);
    assert!(
        stderr(&o).contains("tensor \"ffn.weight\" declares more"),
        "{}",
        stderr(&o)
    );
}

/// A frame whose checksums all match but whose one Huffman payload does not decode.
fn undecodable_frame() -> Vec<u8> {
    use zipnn::{frame, Codec, DType};
    let mut f = vec![0u8; 40];
    f[0..4].copy_from_slice(&frame::MAGIC);
    f[4] = frame::VERSION;
    f[6] = DType::Raw.code();
    f[7] = 1;
    f[8..12].copy_from_slice(&1024u32.to_le_bytes());
    f[16..24].copy_from_slice(&1024u64.to_le_bytes());
    let sum = frame::fixed_checksum(&f[..36]);
    f[36..40].copy_from_slice(&sum.to_le_bytes());
    let payload = [0xFFu8; 40];
    f.extend_from_slice(&frame::checksum(&payload).to_le_bytes());
    f.push(0); // layout 0 (docs/FORMAT.md section 4)
    f.push(Codec::Huffman as u8);
    f.extend_from_slice(&(payload.len() as u32).to_le_bytes());
    let sum = frame::checksum(&f);
    f.extend_from_slice(&sum.to_le_bytes());
    f.extend_from_slice(&payload);
    f
}

#[test]
fn verify_decodes_every_chunk() {
    let d = tmp();
    let p = d.path();
    let f = undecodable_frame();
    assert_eq!(zipnn::verify(&f), Ok(()), "the checksums match");
    assert!(
        zipnn::decompress(&f).is_err(),
        "the payload does not decode"
    );
    fs::write(p.join("bad.znn"), &f).unwrap();
    let o = zipnn(p, &["verify", "bad.znn"]);
    assert_eq!(code(&o), 1, "{}", stdout(&o));
    // A sound archive: verify says what it checked.
    fs::write(p.join("m.safetensors"), safetensors_file()).unwrap();
    ok(&zipnn(p, &["compress", "m.safetensors"]));
    let o = zipnn(p, &["verify", "m.safetensors.znn"]);
    ok(&o);
    assert!(stdout(&o).contains("every chunk decoded"), "{}", stdout(&o));
}

/// An output that is a pipe or a device (`-o /dev/null`, a FIFO) is written in place, with
/// or without `-f`: a temporary file renamed over it would replace the device itself
/// (as root, `/dev/null` became a regular file).
#[cfg(unix)]
#[test]
fn outputs_that_are_pipes_or_devices_are_written_in_place() {
    use std::os::unix::fs::FileTypeExt;
    let d = tmp();
    let data = fs::read(BF16).unwrap();
    fs::write(d.path().join("a.bin"), &data).unwrap();
    let fifo = d.path().join("out.pipe");
    let st = Command::new("mkfifo").arg(&fifo).status().expect("mkfifo");
    assert!(st.success());
    for force in [false, true] {
        let reader = {
            let fifo = fifo.clone();
            std::thread::spawn(move || fs::read(fifo).unwrap())
        };
        let mut args = vec!["compress", "-t", "bf16", "a.bin", "-o", "out.pipe"];
        if force {
            args.push("-f");
        }
        let o = zipnn(d.path(), &args);
        let kind = fs::symlink_metadata(&fifo).unwrap().file_type();
        assert!(kind.is_fifo(), "the FIFO was replaced (force {force})");
        ok(&o);
        let written = reader.join().unwrap();
        let back = zipnn_stdin(d.path(), &["decompress"], &written);
        ok(&back);
        assert_eq!(back.stdout, data);
        assert_eq!(
            listing(d.path()),
            ["a.bin", "out.pipe"],
            "no temporary file"
        );
    }
    // The same for /dev/null, which must still be the device afterwards.
    ok(&zipnn(
        d.path(),
        &["compress", "a.bin", "-o", "/dev/null", "-f"],
    ));
    let kind = fs::metadata("/dev/null").unwrap().file_type();
    assert!(kind.is_char_device());
}
