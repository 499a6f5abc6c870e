//! `convert`: files the reference package (zipnn 0.5.x) wrote, rewritten in place in
//! zipnn's format (with checksums) under the same names.
//!
//! Its frames (`.znn` files: one frame or streamed frames, tensor frames, deltas) become
//! one zipnn frame; its compressed safetensors files and `model.safetensors.znn` become
//! zipnn archives. The converted data is decoded and compared with what the original
//! decodes to before the original is replaced.

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

use zipnn::container::reference::{convert, Converted};
use zipnn::container::safetensors::Archive;
use zipnn::{refformat, DecompressOptions, Error, Options};

use crate::args::{Common, ConvertArgs};
use crate::fail::{Code, Failure};
use crate::io::{is_temp_name, read_base, Dest, Sink};

pub fn run(a: &ConvertArgs, common: &Common) -> Result<Code, Failure> {
    let base = a.base.as_deref().map(read_base).transpose()?;
    let opts = Options {
        level: a.level.level(),
        threads: common.threads,
        target: a.target.target(),
        ..Options::default()
    };
    let mut code = Code::Ok;
    let mut fail = |f: Failure| {
        f.report();
        code = code.max(f.code);
    };
    let mut files = Vec::new();
    for p in &a.inputs {
        if p.is_dir() {
            if !a.recursive {
                fail(Failure::usage_at(p.display(), "is a directory (use -r)"));
                continue;
            }
            walk(p, &mut files, &mut fail);
        } else {
            files.push((p.clone(), true));
        }
    }
    let (mut done, mut skipped) = (0, 0);
    for (p, named) in files {
        let name = p.display().to_string();
        match convert_one(&p, base.as_ref().map(|(_, b)| &b[..]), &opts) {
            Ok(Some(what)) => {
                done += 1;
                if !common.quiet {
                    println!("{name}: {what}");
                }
            }
            // Under -r, files the reference package did not write are left alone.
            Ok(None) if !named => skipped += 1,
            Ok(None) => fail(Failure::data(
                &name,
                "not written by the reference package (zipnn 0.5.x): nothing to convert",
            )),
            Err(f) => fail(f),
        }
    }
    if a.recursive && !common.quiet {
        println!("{done} files converted, {skipped} left as they were");
    }
    Ok(code)
}

/// Regular files under `dir`, sorted, with `false`: found by walking, not named.
fn walk(dir: &Path, files: &mut Vec<(PathBuf, bool)>, fail: &mut dyn FnMut(Failure)) {
    let entries = match fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) => return fail(Failure::io(dir.display(), &e)),
    };
    let mut v: Vec<_> = entries.filter_map(|e| e.ok()).collect();
    v.sort_by_key(|e| e.file_name());
    for e in v {
        let p = e.path();
        let Ok(ft) = e.file_type() else { continue };
        if ft.is_dir() {
            walk(&p, files, fail);
        } else if ft.is_file() && !is_temp_name(&p) {
            files.push((p, false));
        }
    }
}

/// Whether `head` (a file's first bytes) may be the reference package's.
fn may_be_reference(head: &[u8]) -> bool {
    refformat::is_reference(head) || (head.len() > 8 && head[8] == b'{')
}

/// Converts one file in place; `None` if the reference package did not write it.
fn convert_one(p: &Path, base: Option<&[u8]>, opts: &Options) -> Result<Option<String>, Failure> {
    let name = p.display().to_string();
    let lib = |e| Failure::lib(&name, e);
    let mut head = Vec::new();
    {
        use std::io::Read;
        let f = fs::File::open(p).map_err(|e| Failure::io(&name, &e))?;
        f.take(9)
            .read_to_end(&mut head)
            .map_err(|e| Failure::io(&name, &e))?;
    }
    if !may_be_reference(&head) {
        return Ok(None);
    }
    let src = fs::read(p).map_err(|e| Failure::io(&name, &e))?;
    let (kind, out) = match convert(&src, base, opts) {
        Ok(r) => r,
        Err(Error::BadMagic) if !refformat::is_reference(&src) => return Ok(None),
        Err(Error::BaseRequired) => {
            return Err(Failure::usage_at(
                &name,
                "a delta of the reference package: give the base it was made against (--base)",
            ))
        }
        Err(e) => return Err(lib(e)),
    };
    // The original is replaced only by data that decodes to the same bytes.
    let same = match kind {
        Converted::Frame => {
            let d = DecompressOptions::default();
            let (a, b) = match base {
                Some(b) => (
                    refformat::decompress_delta(&src, b, &d),
                    zipnn::decompress_delta(&out, b),
                ),
                None => (refformat::decompress(&src, &d), zipnn::decompress(&out)),
            };
            a.map_err(lib)? == b.map_err(lib)?
        }
        Converted::Archive => {
            let a = Archive::open(&src).and_then(|a| a.restore()).map_err(lib)?;
            let b = Archive::open(&out).and_then(|a| a.restore()).map_err(lib)?;
            a == b
        }
    };
    if !same {
        return Err(lib(Error::Internal));
    }
    let perms = fs::metadata(p).ok().map(|m| m.permissions());
    let mut sink = Sink::open(&Dest::File(p.to_path_buf()), true)?;
    sink.write_all(&out).map_err(|e| Failure::io(&name, &e))?;
    sink.commit(perms)?;
    let what = match kind {
        Converted::Frame => "zipnn frame",
        Converted::Archive => "zipnn safetensors archive",
    };
    Ok(Some(format!(
        "reference package's file -> {what} (checksummed), {} -> {} bytes",
        src.len(),
        out.len()
    )))
}
