//! `info` (what a zipnn file holds) and `verify` (every checksum, nothing written).

use std::fs::File;
use std::io::{self, Cursor, Read, Seek, SeekFrom, Write};
use std::path::Path;

use serde_json::{json, Value};
use zipnn::container::safetensors::{Archive, Stored, ARCHIVE_FLAG_DELTA, ARCHIVE_FLAG_TIES};
use zipnn::stream::{Reader, StreamReader};
use zipnn::{DecompressOptions, Frame, Lossy};

use crate::args::{Common, InfoArgs, VerifyArgs};
use crate::codec::{
    check_archive, lossy_name, sniff, tensor_failure, with_archive, Base, Kind, SNIFF_BYTES,
};
use crate::fail::{Code, Failure};
use crate::io::{
    input_name, is_dash, open_input, read_all, read_base, read_up_to, Input, STDOUT_NAME,
};
use crate::progress::{Progress, ProgressRead};
use crate::table::{ratio, ratio_json, Table};

trait Src: Read + Seek {}
impl<T: Read + Seek> Src for T {}

/// An input that can seek: a file, or standard input read into memory.
fn open_seekable(p: &Path) -> Result<(String, Box<dyn Src>), Failure> {
    let mut input = open_input(p)?;
    let name = input.name.clone();
    if is_dash(p) {
        let bytes = read_all(&mut input)?;
        return Ok((name, Box::new(Cursor::new(bytes))));
    }
    let f = File::open(p).map_err(|e| Failure::io(&name, &e))?;
    Ok((name, Box::new(f)))
}

/// Writes `s` and a newline to standard output.
fn emit(s: &str) -> io::Result<()> {
    let mut out = io::stdout().lock();
    writeln!(out, "{s}")?;
    out.flush()
}

pub fn info(a: &InfoArgs, _common: &Common) -> Result<Code, Failure> {
    let mut code = Code::Ok;
    let mut docs = Vec::new();
    let mut first = true;
    // A reader that stops early (`zipnn info m.znn | head`) ends the output quietly.
    let out_err = |e: io::Error, code: Code| match e.kind() {
        io::ErrorKind::BrokenPipe => Ok(code),
        _ => Err(Failure::io(STDOUT_NAME, &e)),
    };
    for p in &a.inputs {
        match info_one(p) {
            Ok((text, doc)) => {
                if a.json {
                    docs.push(doc);
                } else {
                    let sep = if first { "" } else { "\n" };
                    if let Err(e) = emit(&format!("{sep}{text}")) {
                        return out_err(e, code);
                    }
                    first = false;
                }
            }
            Err(f) => {
                f.report();
                code = code.max(f.code);
            }
        }
    }
    if a.json {
        let s = serde_json::to_string_pretty(&Value::Array(docs))
            .map_err(|e| Failure::usage(format!("JSON output: {e}")))?;
        if let Err(e) = emit(&s) {
            return out_err(e, code);
        }
    }
    Ok(code)
}

/// The table and the JSON object for one file.
fn info_one(p: &Path) -> Result<(String, Value), Failure> {
    let (name, mut src) = open_seekable(p)?;
    let io_err = |e: io::Error| Failure::io(&name, &e);
    let lib = |e| Failure::lib(&name, e);
    let mut head = Vec::new();
    read_up_to(&mut src, &mut head, SNIFF_BYTES).map_err(io_err)?;
    let kind = sniff(&head, &name)?;
    src.seek(SeekFrom::Start(0)).map_err(io_err)?;
    let file_len = if is_dash(p) {
        None
    } else {
        std::fs::metadata(p)
            .ok()
            .filter(|m| m.is_file())
            .map(|m| m.len())
    };
    match (kind, file_len) {
        (Kind::Stream, _) => stream_info(&name, src),
        // Only the header, the index and each frame's fixed header are read.
        (Kind::Archive, Some(len)) => {
            archive_info(&name, &Archive::open_file(p).map_err(lib)?, len)
        }
        (Kind::Archive | Kind::Frame | Kind::Reference, _) => {
            let mut bytes = Vec::new();
            src.read_to_end(&mut bytes).map_err(io_err)?;
            match kind {
                Kind::Archive => {
                    let ar = Archive::open(&bytes).map_err(lib)?;
                    archive_info(&name, &ar, bytes.len() as u64)
                }
                Kind::Reference => reference_info(&name, &bytes),
                _ => frame_info(&name, &bytes),
            }
        }
    }
}

/// Archive flags as `0x03 (ties, delta)`.
fn archive_flags(flags: u8) -> String {
    let mut names = Vec::new();
    if flags & ARCHIVE_FLAG_TIES != 0 {
        names.push("ties");
    }
    if flags & ARCHIVE_FLAG_DELTA != 0 {
        names.push("delta");
    }
    if names.is_empty() {
        names.push("none");
    }
    format!("0x{flags:02x} ({})", names.join(", "))
}

/// A lossy mode in JSON: `null` for none, else the `info` spelling.
fn lossy_json(l: Lossy) -> Value {
    match l {
        Lossy::None => Value::Null,
        l => json!(lossy_name(l)),
    }
}

fn hash_json(h: Option<u64>) -> Value {
    h.map_or(Value::Null, |h| json!(format!("{h:016x}")))
}

fn archive_info(name: &str, ar: &Archive<'_>, comp_total: u64) -> Result<(String, Value), Failure> {
    let mut t = Table::new(&[
        ("tensor", false),
        ("dtype", false),
        ("shape", false),
        ("stored", false),
        ("lossy", false),
        ("original", true),
        ("compressed", true),
        ("ratio", true),
    ]);
    let mut rows = Vec::new();
    let (mut tied, mut deltas, mut lossy) = (0, 0, 0);
    for (i, ti) in ar.tensors().iter().enumerate() {
        let bad = |e| tensor_failure(name, &ti.name, None, e);
        // A tied tensor has no frame of its own (its bytes are its original's).
        let (stored, tied_to, comp) =
            match ar.stored(i).ok_or_else(|| bad(zipnn::Error::Corrupt))? {
                Stored::Tied(j) => {
                    tied += 1;
                    let to = ar.tensors()[j].name.clone();
                    (format!("tied->{to}"), Some(to), 0)
                }
                Stored::Frame { size, .. } => (String::new(), None, size),
                // Left as it was by the reference package's safetensors script.
                Stored::Plain { size, .. } => ("plain".to_string(), None, size),
            };
        let h = ar.frame_header_at(i).map_err(bad)?;
        let stored = match (stored.is_empty(), h.base_hash.is_some()) {
            (false, _) => stored,
            (true, true) => {
                deltas += 1;
                "delta".into()
            }
            (true, false) => "frame".into(),
        };
        if tied_to.is_none() && h.lossy != Lossy::None {
            lossy += 1;
        }
        let orig = ti.data_offsets.1 - ti.data_offsets.0;
        let shape = format!(
            "[{}]",
            ti.shape
                .iter()
                .map(u64::to_string)
                .collect::<Vec<_>>()
                .join(", ")
        );
        t.row(vec![
            ti.name.clone(),
            ti.dtype.clone(),
            shape,
            stored.clone(),
            lossy_name(h.lossy),
            orig.to_string(),
            comp.to_string(),
            ratio(comp, orig),
        ]);
        let kind = if tied_to.is_some() {
            "tied"
        } else {
            stored.as_str()
        };
        rows.push(json!({
            "name": ti.name, "dtype": ti.dtype, "shape": ti.shape,
            "stored": kind, "tied_to": tied_to, "lossy": lossy_json(h.lossy),
            "base_hash": hash_json(h.base_hash),
            "original_size": orig, "compressed_size": comp, "ratio": ratio_json(comp, orig),
        }));
    }
    let json_len = ar.header_json().len() as u64;
    let orig_total = ar.restored_size();
    let n = ar.tensors().len();
    t.row(vec![
        format!("total ({n} tensors, file sizes)"),
        String::new(),
        String::new(),
        String::new(),
        String::new(),
        orig_total.to_string(),
        comp_total.to_string(),
        ratio(comp_total, orig_total),
    ]);
    let mut text = if ar.is_reference() {
        format!(
            "{name}: safetensors file written by the reference package (zipnn 0.5.x), {n} \
             tensors as the original file has them, no checksums (stored: frame = its \
             frame, plain = kept as it was); `zipnn convert` rewrites it as an archive\n"
        )
    } else {
        format!(
            "{name}: zipnn safetensors archive, {n} tensors, JSON header {json_len} bytes, flags {}\n",
            archive_flags(ar.flags())
        )
    };
    if tied > 0 {
        text.push_str(&format!(
            "{tied} tied tensors are stored once (stored: tied->NAME)\n"
        ));
    }
    if deltas > 0 {
        text.push_str(&format!(
            "{deltas} tensors are deltas against a base model: decompressing needs --base\n"
        ));
    }
    if lossy > 0 {
        text.push_str(&format!(
            "{lossy} tensors are LOSSY: they do not decompress bit for bit\n"
        ));
    }
    text.push_str(&t.render());
    let format = if ar.is_reference() {
        "reference-safetensors"
    } else {
        "archive"
    };
    let doc = json!({
        "file": name, "format": format, "tensor_count": n, "json_header_size": json_len,
        "flags": ar.flags(), "tied_count": tied, "delta_count": deltas, "lossy_count": lossy,
        "original_size": orig_total, "compressed_size": comp_total,
        "ratio": ratio_json(comp_total, orig_total), "tensors": rows,
    });
    Ok((text, doc))
}

fn frame_info(name: &str, bytes: &[u8]) -> Result<(String, Value), Failure> {
    let lib = |e| Failure::lib(name, e);
    let info = zipnn::frame_info(bytes).map_err(lib)?;
    let f = Frame::parse(bytes).map_err(lib)?;
    if info.frame_size != bytes.len() as u64 {
        return Err(Failure::data(name, "bytes after the frame"));
    }
    let mut t = Table::new(&[
        ("chunk", true),
        ("original", true),
        ("compressed", true),
        ("ratio", true),
        ("codecs (per plane)", false),
    ]);
    let mut rows = Vec::new();
    for i in 0..f.chunk_count() {
        let r = f.chunk_range(i);
        let orig = r.end - r.start;
        let planes: Vec<_> = f.planes(i).collect();
        let comp = f.chunk_stored_size(i);
        // A compact frame's joined chunk: its planes concatenated, coded as one.
        let codecs: Vec<&str> = match f.joined() {
            Some(c) => vec![c.name(), "(planes joined)"],
            None => planes.iter().map(|p| p.codec.name()).collect(),
        };
        t.row(vec![
            i.to_string(),
            orig.to_string(),
            comp.to_string(),
            ratio(comp, orig),
            codecs.join(" "),
        ]);
        rows.push(json!({
            "original_size": orig, "compressed_size": comp, "ratio": ratio_json(comp, orig),
            "codecs": codecs,
        }));
    }
    t.row(vec![
        "total".into(),
        info.original_size.to_string(),
        info.frame_size.to_string(),
        ratio(info.frame_size, info.original_size),
        String::new(),
    ]);
    let compact = info.flags & zipnn::frame::FLAG_COMPACT != 0;
    let mut text = format!(
        "{name}: zipnn {}frame, dtype {}, {} chunks of {} bytes, {} planes, metadata {} bytes, lossy {}\n",
        if compact { "compact " } else { "" },
        info.dtype.name(),
        info.chunk_count,
        info.chunk_size,
        info.planes,
        info.metadata_size,
        lossy_name(info.lossy),
    );
    if let Some(h) = info.base_hash {
        text.push_str(&format!(
            "a delta against a base model (base hash {h:016x}): decompressing needs --base\n"
        ));
    }
    text.push_str(&t.render());
    let doc = json!({
        "file": name, "format": "frame", "compact": compact, "dtype": info.dtype.name(),
        "chunk_size": info.chunk_size, "planes": info.planes, "metadata_size": info.metadata_size,
        "lossy": lossy_json(info.lossy), "delta": info.base_hash.is_some(),
        "base_hash": hash_json(info.base_hash),
        "original_size": info.original_size, "compressed_size": info.frame_size,
        "ratio": ratio_json(info.frame_size, info.original_size), "chunks": rows,
    });
    Ok((text, doc))
}

/// `info` of frames the reference package wrote: one frame, or a streamed sequence.
fn reference_info(name: &str, bytes: &[u8]) -> Result<(String, Value), Failure> {
    use zipnn::refformat::{self, DeltaKind, InputKind};
    let lib = |e| Failure::lib(name, e);
    let info = refformat::info(bytes).map_err(lib)?;
    let frames = refformat::frames(bytes).map_err(lib)?;
    let h = info.first;
    let mut t = Table::new(&[
        ("frame", true),
        ("chunks", true),
        ("original", true),
        ("compressed", true),
        ("ratio", true),
        ("blocks raw/huffman/run", false),
    ]);
    let mut rows = Vec::new();
    for (i, f) in frames.iter().enumerate() {
        let (orig, comp) = (f.header().original_size, f.frame_size());
        let b = f.block_counts();
        t.row(vec![
            i.to_string(),
            f.chunk_count().to_string(),
            orig.to_string(),
            comp.to_string(),
            ratio(comp, orig),
            format!("{}/{}/{}", b[0], b[1], b[2]),
        ]);
        rows.push(json!({
            "chunk_count": f.chunk_count(), "original_size": orig, "compressed_size": comp,
            "ratio": ratio_json(comp, orig), "blocks": {"raw": b[0], "huffman": b[1], "run": b[2]},
        }));
    }
    t.row(vec![
        "total".into(),
        info.chunk_count.to_string(),
        info.original_size.to_string(),
        info.size.to_string(),
        ratio(info.size, info.original_size),
        format!("{}/{}/{}", info.blocks[0], info.blocks[1], info.blocks[2]),
    ]);
    let input = match (h.kind, &info.shape) {
        (InputKind::Torch, Some(s)) => format!("a torch tensor of shape {s:?}"),
        (InputKind::Numpy, Some(s)) => format!("a numpy array of shape {s:?}"),
        _ => "bytes".to_string(),
    };
    let delta = match h.delta {
        DeltaKind::None => None,
        DeltaKind::Byte => Some("byte"),
        DeltaKind::File => Some("file"),
    };
    let [a, b, c] = h.version;
    let mut text = format!(
        "{name}: written by the reference package (zipnn {a}.{b}.{c}), dtype {}, {input}, {} \
         frame{}{}, chunks of {} bytes\n\
         it has no checksum: a changed byte may decode to different data; `zipnn convert` \
         rewrites it with checksums\n",
        h.dtype.name(),
        info.frames,
        if info.frames == 1 { "" } else { "s" },
        if h.streaming_log.is_some() {
            " (streamed)"
        } else {
            ""
        },
        h.chunk_size(),
    );
    if delta.is_some() {
        text.push_str("a delta (XOR) against a base: decompressing needs --base\n");
    }
    text.push_str(&t.render());
    let doc = json!({
        "file": name, "format": "reference", "writer_version": format!("{a}.{b}.{c}"),
        "dtype": h.dtype.name(), "dtype_code": h.dtype_code,
        "input": match h.kind { InputKind::Byte => "bytes", InputKind::Torch => "torch", InputKind::Numpy => "numpy" },
        "shape": info.shape, "delta": delta, "streamed": h.streaming_log.is_some(),
        "chunk_size": h.chunk_size(), "frame_count": info.frames,
        "original_size": info.original_size, "compressed_size": info.size,
        "ratio": ratio_json(info.size, info.original_size), "checksum": false, "frames": rows,
    });
    Ok((text, doc))
}

fn stream_info(name: &str, mut src: Box<dyn Src>) -> Result<(String, Value), Failure> {
    let lib = |e| Failure::lib(name, e);
    // The index gives each frame's place and size, each frame's fixed header its dtype and
    // chunking; the payloads are not read.
    let mut r = StreamReader::open(&mut src).map_err(lib)?;
    let info = r.info();
    let frames = (0..info.frame_count as usize)
        .map(|i| {
            let e = r.frame_entry(i).ok_or(zipnn::Error::Internal)?;
            Ok((e, r.frame_header(i)?))
        })
        .collect::<Result<Vec<_>, zipnn::Error>>()
        .map_err(lib)?;
    let mut t = Table::new(&[
        ("frame", true),
        ("offset", true),
        ("dtype", false),
        ("chunk size", true),
        ("chunks", true),
        ("lossy", false),
        ("original", true),
        ("compressed", true),
        ("ratio", true),
    ]);
    let mut rows = Vec::new();
    for (i, (f, h)) in frames.iter().enumerate() {
        t.row(vec![
            i.to_string(),
            f.offset.to_string(),
            h.dtype.name().to_string(),
            h.chunk_size.to_string(),
            h.chunk_count().to_string(),
            lossy_name(h.lossy),
            f.original_size.to_string(),
            f.size.to_string(),
            ratio(f.size, f.original_size),
        ]);
        rows.push(json!({
            "offset": f.offset, "dtype": h.dtype.name(), "chunk_size": h.chunk_size,
            "chunk_count": h.chunk_count(), "lossy": lossy_json(h.lossy),
            "original_size": f.original_size,
            "compressed_size": f.size, "ratio": ratio_json(f.size, f.original_size),
        }));
    }
    t.row(vec![
        "total".into(),
        String::new(),
        String::new(),
        String::new(),
        frames
            .iter()
            .map(|(_, h)| h.chunk_count())
            .sum::<u64>()
            .to_string(),
        String::new(),
        info.original_size.to_string(),
        info.stream_size.to_string(),
        ratio(info.stream_size, info.original_size),
    ]);
    let dtypes = {
        let mut d: Vec<&str> = frames.iter().map(|(_, h)| h.dtype.name()).collect();
        d.dedup();
        if d.is_empty() {
            "-".to_string()
        } else {
            d.join(",")
        }
    };
    let text = format!(
        "{name}: zipnn stream, dtype {dtypes}, {} frames of {} bytes\n{}",
        info.frame_count,
        info.block_size,
        t.render()
    );
    let doc = json!({
        "file": name, "format": "stream", "block_size": info.block_size,
        "frame_count": info.frame_count, "original_size": info.original_size,
        "compressed_size": info.stream_size,
        "ratio": ratio_json(info.stream_size, info.original_size), "frames": rows,
    });
    Ok((text, doc))
}

pub fn verify(a: &VerifyArgs, common: &Common) -> Result<Code, Failure> {
    let base_file = a.base.as_deref().map(read_base).transpose()?;
    let base = base_file.as_ref().map(|(n, b)| Base::new(n, b));
    let mut code = Code::Ok;
    for p in &a.inputs {
        match verify_one(p, common, base.as_ref()) {
            Ok(what) => {
                if !common.quiet {
                    println!("{}: OK ({what})", input_name(p));
                }
            }
            Err(f) => {
                f.report();
                code = code.max(f.code);
            }
        }
    }
    Ok(code)
}

/// Checks one file; returns what it is.
fn verify_one(p: &Path, common: &Common, base: Option<&Base<'_>>) -> Result<String, Failure> {
    let mut input: Input = open_input(p)?;
    let name = input.name.clone();
    let progress = Progress::new(input.size, common.quiet, "verify");
    input.reader = Box::new(ProgressRead::new(input.reader, progress.clone()));
    let result = verify_input(&mut input, &name, common.threads, base, &progress);
    progress.finish();
    result
}

/// How a verified delta is described: whether its base was checked.
fn delta_note(base: Option<&Base<'_>>) -> String {
    match base {
        Some(b) => format!("base {} matches", b.name),
        None => "base not checked".into(),
    }
}

fn verify_input(
    input: &mut Input,
    name: &str,
    threads: u32,
    base: Option<&Base<'_>>,
    progress: &Progress,
) -> Result<String, Failure> {
    let io_err = |e: io::Error| Failure::io(name, &e);
    let mut head = Vec::new();
    read_up_to(&mut input.reader, &mut head, SNIFF_BYTES).map_err(io_err)?;
    match sniff(&head, name)? {
        Kind::Stream => {
            // The sequential decoder checks everything: the stream header, every frame's
            // header and chunk checksums (and its payloads, by decoding them), the index
            // against the frames, and the trailer.
            let opts = DecompressOptions {
                threads,
                max_size: 0,
            };
            let src = Cursor::new(head).chain(&mut input.reader);
            let mut r = Reader::with_options(src, &opts);
            let n = io::copy(&mut r, &mut io::sink()).map_err(io_err)?;
            Ok(format!("stream, {n} bytes"))
        }
        Kind::Archive => {
            let (c, _) = with_archive(input, head, |ar, from_file| {
                let c = check_archive(ar, name, base, false, true, from_file.then_some(progress))?;
                Ok((c, ar.tensors().len(), ar.is_reference()))
            })?;
            let (c, n, reference) = c;
            if reference {
                return Ok(format!(
                    "safetensors file written by the reference package, {n} tensors; it has \
                     NO checksums to verify: the frames' structure was checked and every \
                     block decoded, but a changed byte can go unnoticed (`zipnn convert` \
                     rewrites it with checksums)"
                ));
            }
            let mut what = format!("safetensors archive, {n} tensors, every chunk decoded");
            if c.tied > 0 {
                what.push_str(&format!(", {} tied", c.tied));
            }
            if c.deltas > 0 {
                what.push_str(&format!(", {} deltas ({})", c.deltas, delta_note(base)));
            }
            if c.lossy > 0 {
                what.push_str(&format!(", {} lossy", c.lossy));
            }
            Ok(what)
        }
        Kind::Reference => {
            input.reader.read_to_end(&mut head).map_err(io_err)?;
            let lib = |e| Failure::lib(name, e);
            zipnn::verify(&head).map_err(lib)?;
            let info = zipnn::frame_info(&head).map_err(lib)?;
            Ok(format!(
                "written by the reference package, {} bytes; it has NO checksum to verify: \
                 its structure was checked and every block decoded, but a changed byte can \
                 go unnoticed (`zipnn convert` rewrites it with checksums)",
                info.original_size
            ))
        }
        Kind::Frame => {
            input.reader.read_to_end(&mut head).map_err(io_err)?;
            let lib = |e| Failure::lib(name, e);
            zipnn::verify_decodes(&head).map_err(lib)?;
            let info = zipnn::frame_info(&head).map_err(lib)?;
            let mut what = format!("frame, {} bytes, every chunk decoded", info.original_size);
            if info.lossy != Lossy::None {
                what.push_str(&format!(", lossy {}", lossy_name(info.lossy)));
            }
            if let Some(h) = info.base_hash {
                if let Some(b) = base {
                    if b.bytes.len() as u64 != info.original_size
                        || zipnn::frame::checksum(b.bytes) != h
                    {
                        return Err(crate::codec::lib_failure(
                            name,
                            base,
                            zipnn::Error::BaseMismatch,
                        ));
                    }
                }
                what.push_str(&format!(", delta ({})", delta_note(base)));
            }
            Ok(what)
        }
    }
}
