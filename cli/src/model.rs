//! Model folders under `-r`: a directory holding `config.json`, `model_index.json` or a
//! `*.safetensors.index.json` index, with safetensors weights somewhere below it. In such a
//! tree only the weights are compressed (`X.safetensors` -> `X.safetensors.znn`); the other
//! files (configuration, tokenizer, ...) are left as they are, or copied unchanged under
//! `-o DIR` so that the output is a complete model folder; an index file names the shard
//! files the output folder holds (docs/CLI.md, "Model folders").

use std::collections::HashSet;
use std::path::{Path, PathBuf};

/// Suffix of the plain weights of a model folder.
pub const WEIGHTS: &str = ".safetensors";
/// Suffix of the compressed weights of a model folder.
pub const COMPRESSED_WEIGHTS: &str = ".safetensors.znn";
/// Suffix of a sharded checkpoint's index (`model.safetensors.index.json`, with variants).
pub const INDEX: &str = ".safetensors.index.json";

fn file_name(p: &Path) -> &str {
    p.file_name().and_then(|s| s.to_str()).unwrap_or("")
}

/// Whether a file's presence makes its directory a model folder.
fn is_marker(rel: &Path) -> bool {
    let n = file_name(rel);
    n == "config.json" || n == "model_index.json" || is_index(rel)
}

/// Whether `p` is a sharded checkpoint's index file.
pub fn is_index(p: &Path) -> bool {
    let n = file_name(p);
    n.len() > INDEX.len() && n.ends_with(INDEX)
}

/// Plain safetensors weights (`X.safetensors`).
pub fn is_plain_weights(p: &Path) -> bool {
    let n = file_name(p);
    n.len() > WEIGHTS.len() && n.ends_with(WEIGHTS)
}

/// Compressed safetensors weights (`X.safetensors.znn`).
pub fn is_compressed_weights(p: &Path) -> bool {
    let n = file_name(p);
    n.len() > COMPRESSED_WEIGHTS.len() && n.ends_with(COMPRESSED_WEIGHTS)
}

/// The files of a walked tree (paths relative to its root) that lie in a model folder:
/// below a directory with a marker file that also has weights (`compressed`: `.znn`
/// weights) somewhere below it.
pub fn model_files(files: &[PathBuf], compressed: bool) -> HashSet<PathBuf> {
    let weights = |p: &Path| {
        if compressed {
            is_compressed_weights(p)
        } else {
            is_plain_weights(p)
        }
    };
    let roots: Vec<&Path> = files
        .iter()
        .filter(|p| is_marker(p))
        .filter_map(|p| p.parent())
        .filter(|dir| files.iter().any(|f| f.starts_with(dir) && weights(f)))
        .collect();
    files
        .iter()
        .filter(|f| roots.iter().any(|dir| f.starts_with(dir)))
        .cloned()
        .collect()
}

/// Which way an index file is rewritten.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    /// `X.safetensors` -> `X.safetensors.znn`.
    ToCompressed,
    /// `X.safetensors.znn` -> `X.safetensors`.
    ToPlain,
}

/// The index file `text` with its shard names rewritten: every JSON string in a value
/// position (not an object key) whose value is one of the `weight_map`'s file names ending
/// in `.safetensors` (or `.safetensors.znn` for [`Direction::ToPlain`]) gains (or loses)
/// the `.znn` suffix; every other byte stays as it is. Also returns how many distinct
/// shard names changed. A change is refused (with the reason) unless the rewrite in the
/// other direction gives `text` back byte for byte, so that decompressing the folder restores the index
/// exactly.
pub fn rewrite_index(text: &[u8], dir: Direction) -> Result<(Vec<u8>, usize), String> {
    let out = rewrite_once(text, dir)?;
    if out.1 == 0 {
        return Ok(out); // nothing named that way: the same bytes
    }
    let back_dir = match dir {
        Direction::ToCompressed => Direction::ToPlain,
        Direction::ToPlain => Direction::ToCompressed,
    };
    if rewrite_once(&out.0, back_dir)?.0 != text {
        return Err(
            "its shard names cannot be rewritten reversibly (the index names both X.safetensors \
             and X.safetensors.znn files)"
                .into(),
        );
    }
    Ok(out)
}

fn rewrite_once(text: &[u8], dir: Direction) -> Result<(Vec<u8>, usize), String> {
    let v: serde_json::Value =
        serde_json::from_slice(text).map_err(|e| format!("not a valid index file: {e}"))?;
    let map = v
        .get("weight_map")
        .and_then(|m| m.as_object())
        .ok_or("not a valid index file: no \"weight_map\" object")?;
    let mut names: HashSet<&str> = HashSet::new();
    for val in map.values() {
        let s = val
            .as_str()
            .ok_or("not a valid index file: a \"weight_map\" value is not a string")?;
        let wanted = match dir {
            Direction::ToCompressed => is_plain_weights(Path::new(s)),
            Direction::ToPlain => is_compressed_weights(Path::new(s)),
        };
        if wanted {
            names.insert(s);
        }
    }
    let mut out = Vec::with_capacity(text.len() + 4 * names.len());
    let mut i = 0;
    let mut last = 0;
    while i < text.len() {
        if text[i] != b'"' {
            i += 1;
            continue;
        }
        // A string token: find its closing quote (outside strings JSON has no quotes).
        let start = i;
        i += 1;
        while i < text.len() && text[i] != b'"' {
            i += if text[i] == b'\\' { 2 } else { 1 };
        }
        let end = i.min(text.len() - 1); // the closing quote (the parse above saw one)
        i = end + 1;
        let is_key = text[i..]
            .iter()
            .find(|b| !b" \t\r\n".contains(b))
            .is_some_and(|&b| b == b':');
        if is_key {
            continue;
        }
        let value: String = serde_json::from_slice(&text[start..=end])
            .map_err(|e| format!("not a valid index file: {e}"))?;
        if !names.contains(value.as_str()) {
            continue;
        }
        let raw = &text[start + 1..end];
        match dir {
            Direction::ToCompressed => {
                out.extend_from_slice(&text[last..end]);
                out.extend_from_slice(b".znn");
            }
            Direction::ToPlain => {
                let Some(stem) = raw.strip_suffix(b".znn".as_slice()) else {
                    return Err(format!(
                        "the shard name {value:?} is escaped; cannot rewrite it"
                    ));
                };
                out.extend_from_slice(&text[last..start + 1]);
                out.extend_from_slice(stem);
            }
        }
        last = end;
    }
    out.extend_from_slice(&text[last..]);
    Ok((out, names.len()))
}

#[cfg(test)]
mod tests {
    use super::*;

    const INDEX_JSON: &str = r#"{
  "metadata": {
    "total_size": 90829312
  },
  "weight_map": {
    "embeddings.LayerNorm.bias": "model-00001-of-00002.safetensors",
    "model.safetensors": "model-00002-of-00002.safetensors",
    "pooler.dense.weight": "model-00002-of-00002.safetensors"
  }
}
"#;

    #[test]
    fn index_round_trip_is_exact() {
        let (c, n) = rewrite_index(INDEX_JSON.as_bytes(), Direction::ToCompressed).unwrap();
        assert_eq!(n, 2);
        let c = String::from_utf8(c).unwrap();
        assert_eq!(
            c,
            INDEX_JSON
                .replace("-00002.safetensors\"", "-00002.safetensors.znn\"")
                .replace(
                    "-00001-of-00002.safetensors\"",
                    "-00001-of-00002.safetensors.znn\""
                )
        );
        // A key that looks like a shard name stays a key.
        assert!(c.contains("\"model.safetensors\": "));
        let (p, n) = rewrite_index(c.as_bytes(), Direction::ToPlain).unwrap();
        assert_eq!(n, 2);
        assert_eq!(p, INDEX_JSON.as_bytes());
        // Nothing to do: the same bytes.
        let (same, n) = rewrite_index(INDEX_JSON.as_bytes(), Direction::ToPlain).unwrap();
        assert_eq!((same.as_slice(), n), (INDEX_JSON.as_bytes(), 0));
    }

    #[test]
    fn escaped_and_compact_names() {
        // An escaped character inside a name, no whitespace at all.
        let text = br#"{"weight_map":{"a":"m\u00e9-1.safetensors","b":"m\u00e9-1.safetensors"}}"#;
        let (c, n) = rewrite_index(text, Direction::ToCompressed).unwrap();
        assert_eq!(n, 1);
        assert_eq!(
            c,
            br#"{"weight_map":{"a":"m\u00e9-1.safetensors.znn","b":"m\u00e9-1.safetensors.znn"}}"#
        );
        assert_eq!(rewrite_index(&c, Direction::ToPlain).unwrap().0, text);
    }

    #[test]
    fn refuses_what_it_cannot_restore() {
        // Both forms named: rewriting would merge them.
        let both = br#"{"weight_map":{"a":"x.safetensors","b":"x.safetensors.znn"}}"#;
        assert!(rewrite_index(both, Direction::ToCompressed).is_err());
        assert!(rewrite_index(both, Direction::ToPlain).is_err());
        // The .znn suffix written with an escape.
        let esc = br#"{"weight_map":{"a":"x.safetensors.zn\u006e"}}"#;
        assert!(rewrite_index(esc, Direction::ToPlain).is_err());
        for bad in [
            &b"{"[..],
            b"[]",
            br#"{"weight_map":[]}"#,
            br#"{"weight_map":{"a":1}}"#,
        ] {
            let e = rewrite_index(bad, Direction::ToCompressed).unwrap_err();
            assert!(e.starts_with("not a valid index file"), "{e}");
        }
    }

    #[test]
    fn model_trees() {
        let files: Vec<PathBuf> = [
            "bert/config.json",
            "bert/model.safetensors",
            "bert/tokenizer.json",
            "sd/model_index.json",
            "sd/unet/config.json",
            "sd/unet/w.safetensors",
            "sd/scheduler/scheduler_config.json",
            "plain/a.bin",
            "plain/config.json",
            "loose.safetensors",
        ]
        .iter()
        .map(PathBuf::from)
        .collect();
        let m = model_files(&files, false);
        let mut got: Vec<_> = m.iter().map(|p| p.to_str().unwrap()).collect();
        got.sort();
        assert_eq!(
            got,
            [
                "bert/config.json",
                "bert/model.safetensors",
                "bert/tokenizer.json",
                "sd/model_index.json",
                "sd/scheduler/scheduler_config.json",
                "sd/unet/config.json",
                "sd/unet/w.safetensors",
            ]
        );
        // Decompressing: the same trees once their weights are compressed.
        assert!(model_files(&files, true).is_empty());
    }
}
