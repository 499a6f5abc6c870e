//! Compressing one input into one output, and back.
//!
//! Compression: a safetensors file (it looks like one and parses in full) becomes an
//! archive (docs/FORMAT.md section 12; the file is held in memory); anything else becomes a
//! stream (section 11; about two blocks in memory whatever the size).
//! Decompression goes by the magic number: stream, archive or a single frame.

use std::io::{Cursor, Read, Write};

use zipnn::container::safetensors::{self, Archive, SafeTensors, ARCHIVE_MAGIC, MAX_HEADER};
use zipnn::stream::{Reader, Writer, STREAM_MAGIC};
use zipnn::{DecompressOptions, Options};

use crate::fail::Failure;
use crate::io::{copy, read_up_to, Counted, Input};
use crate::progress::Progress;

/// What a compression or decompression did.
pub struct Outcome {
    pub read: u64,
    pub written: u64,
    /// "stream (bf16)", "archive (103 tensors)", ...
    pub what: String,
}

/// Which container a zipnn file is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Stream,
    Archive,
    Frame,
}

/// The container a file starting with `head` is, or why it is none.
pub fn sniff(head: &[u8], name: &str) -> Result<Kind, Failure> {
    let magics = [
        (STREAM_MAGIC, Kind::Stream),
        (ARCHIVE_MAGIC, Kind::Archive),
        (zipnn::frame::MAGIC, Kind::Frame),
    ];
    if head.len() >= 4 {
        for (m, k) in magics {
            if head[..4] == m {
                return Ok(k);
            }
        }
    } else if head.is_empty() {
        return Err(Failure::data(name, "empty input: not zipnn data"));
    } else if magics.iter().any(|(m, _)| m.starts_with(head)) {
        return Err(Failure::lib(name, zipnn::Error::Truncated));
    }
    Err(Failure::data(
        name,
        "not zipnn data (unknown magic number; expected a stream, archive or frame)",
    ))
}

/// Compresses `input` into `out` (named `out_name` in messages). `progress` advances with
/// the input bytes read (the caller wraps `input.reader`).
pub fn compress(
    input: &mut Input,
    out: &mut dyn Write,
    out_name: &str,
    opts: &Options,
    block_size: u32,
    progress: &Progress,
) -> Result<Outcome, Failure> {
    let name = input.name.clone();
    let rd = |e: std::io::Error| Failure::io(&name, &e);
    // Enough of the input to tell a safetensors file: its header length, the JSON header.
    let mut head = Vec::new();
    read_up_to(&mut input.reader, &mut head, 9).map_err(rd)?;
    let mut candidate = false;
    if head.len() == 9 && head[8] == b'{' {
        let n = u64::from_le_bytes(head[..8].try_into().unwrap_or([0xff; 8]));
        let fits = input
            .size
            .map_or(true, |s| n.checked_add(8).is_some_and(|e| e <= s));
        if (2..=MAX_HEADER).contains(&n) && fits {
            read_up_to(&mut input.reader, &mut head, 8 + n as usize).map_err(rd)?;
            candidate = safetensors::looks_like_safetensors(&head);
        }
    }
    if candidate {
        if let Some(size) = input.size {
            let more = (size as usize).saturating_sub(head.len());
            head.try_reserve_exact(more)
                .map_err(|_| Failure::lib(&name, zipnn::Error::Alloc))?;
        }
        input.reader.read_to_end(&mut head).map_err(rd)?;
        if let Ok(st) = SafeTensors::parse(&head) {
            let count = st.tensors.len();
            progress.set_message(format!("{count} tensors"));
            let ar = safetensors::compress(&head, opts).map_err(|e| Failure::lib(&name, e))?;
            out.write_all(&ar).map_err(|e| Failure::io(out_name, &e))?;
            return Ok(Outcome {
                read: head.len() as u64,
                written: ar.len() as u64,
                what: format!("safetensors archive, {count} tensors"),
            });
        }
        // Not valid safetensors after all: compress it as plain bytes.
    }
    let mut counted = Counted {
        inner: out,
        count: 0,
    };
    let mut w = Writer::new(&mut counted, opts, block_size).map_err(|e| Failure::lib(&name, e))?;
    w.write_all(&head).map_err(|e| Failure::io(out_name, &e))?;
    let rest = copy(&mut input.reader, &name, &mut w, out_name)?;
    w.finish().map_err(|e| Failure::io(out_name, &e))?;
    Ok(Outcome {
        read: head.len() as u64 + rest,
        written: counted.count,
        what: format!("{} stream", opts.dtype.name()),
    })
}

/// Decompresses `input` into `out` with `threads` decoding threads.
pub fn decompress(
    input: &mut Input,
    out: &mut dyn Write,
    out_name: &str,
    threads: u32,
    progress: &Progress,
) -> Result<Outcome, Failure> {
    let name = input.name.clone();
    let mut head = Vec::new();
    read_up_to(&mut input.reader, &mut head, 4).map_err(|e| Failure::io(&name, &e))?;
    let kind = sniff(&head, &name)?;
    let dopts = DecompressOptions {
        threads,
        max_size: 0,
    };
    let lib = |e| Failure::lib(&name, e);
    let wr = |e: std::io::Error| Failure::io(out_name, &e);
    match kind {
        Kind::Stream => {
            let mut src = CountRead {
                inner: Cursor::new(head).chain(&mut input.reader),
                count: 0,
            };
            let mut r = Reader::with_options(&mut src, &dopts);
            let written = copy(&mut r, &name, out, out_name)?;
            drop(r);
            Ok(Outcome {
                read: src.count,
                written,
                what: "stream".into(),
            })
        }
        Kind::Archive => {
            input
                .reader
                .read_to_end(&mut head)
                .map_err(|e| Failure::io(&name, &e))?;
            let ar = Archive::open(&head).map_err(lib)?;
            check_archive(&ar).map_err(|(t, e)| tensor_failure(&name, &t, e))?;
            progress.set_message(format!("{} tensors", ar.tensors().len()));
            let written = restore_archive(&ar, threads, out, &name, out_name)?;
            Ok(Outcome {
                read: head.len() as u64,
                written,
                what: format!("safetensors archive, {} tensors", ar.tensors().len()),
            })
        }
        Kind::Frame => {
            input
                .reader
                .read_to_end(&mut head)
                .map_err(|e| Failure::io(&name, &e))?;
            let data = zipnn::decompress_with(&head, &dopts).map_err(lib)?;
            out.write_all(&data).map_err(wr)?;
            Ok(Outcome {
                read: head.len() as u64,
                written: data.len() as u64,
                what: "frame".into(),
            })
        }
    }
}

/// A reader that counts what passes through it (the compressed size of a stream).
struct CountRead<R> {
    inner: R,
    count: u64,
}

impl<R: Read> Read for CountRead<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.count += n as u64;
        Ok(n)
    }
}

/// A failure in one tensor of an archive.
pub fn tensor_failure(file: &str, tensor: &str, e: zipnn::Error) -> Failure {
    let mut f = Failure::lib(file, e);
    f.msg = format!("tensor {tensor:?}: {}", f.msg);
    f
}

/// Checks every tensor's frame of an opened archive (header and chunk checksums, and that
/// it decodes to the tensor's byte length) without decoding; names the first bad tensor.
pub fn check_archive(ar: &Archive<'_>) -> Result<(), (String, zipnn::Error)> {
    for t in ar.tensors() {
        let fail = |e| (t.name.clone(), e);
        let f = ar.frame(&t.name).map_err(fail)?;
        zipnn::verify(&f).map_err(fail)?;
        let info = zipnn::frame_info(&f).map_err(fail)?;
        if info.original_size != t.data_offsets.1 - t.data_offsets.0 {
            return Err(fail(zipnn::Error::Corrupt));
        }
    }
    Ok(())
}

/// Writes the original safetensors file of an archive to `out`, one tensor at a time
/// (memory: the largest tensor); returns the bytes written.
pub fn restore_archive(
    ar: &Archive<'_>,
    threads: u32,
    out: &mut dyn Write,
    in_name: &str,
    out_name: &str,
) -> Result<u64, Failure> {
    let wr = |e: std::io::Error| Failure::io(out_name, &e);
    let json = ar.header_json();
    out.write_all(&(json.len() as u64).to_le_bytes())
        .map_err(wr)?;
    out.write_all(json).map_err(wr)?;
    let mut written = 8 + json.len() as u64;
    let largest = ar
        .tensors()
        .iter()
        .map(|t| t.data_offsets.1 - t.data_offsets.0)
        .max()
        .unwrap_or(0);
    let mut buf = Vec::new();
    buf.try_reserve_exact(largest as usize)
        .map_err(|_| Failure::lib(in_name, zipnn::Error::Alloc))?;
    buf.resize(largest as usize, 0);
    let dopts = DecompressOptions {
        threads,
        max_size: 0,
    };
    for (i, t) in ar.tensors().iter().enumerate() {
        let len = (t.data_offsets.1 - t.data_offsets.0) as usize;
        let bad = |e| tensor_failure(in_name, &t.name, e);
        let n = ar
            .decode_at(i, None, &mut buf[..len], &dopts)
            .map_err(bad)?;
        if n != len {
            return Err(bad(zipnn::Error::Corrupt));
        }
        out.write_all(&buf[..n]).map_err(wr)?;
        written += n as u64;
    }
    Ok(written)
}

/// The original safetensors file of an archive, in memory (for bench).
pub fn restore_archive_into(ar: &Archive<'_>, threads: u32, dst: &mut [u8]) -> zipnn::Result<()> {
    let json = ar.header_json();
    let data_at = 8 + json.len();
    dst[..8].copy_from_slice(&(json.len() as u64).to_le_bytes());
    dst[8..data_at].copy_from_slice(json);
    let dopts = DecompressOptions {
        threads,
        max_size: 0,
    };
    for (i, t) in ar.tensors().iter().enumerate() {
        let (b, e) = (
            data_at + t.data_offsets.0 as usize,
            data_at + t.data_offsets.1 as usize,
        );
        let n = ar.decode_at(i, None, &mut dst[b..e], &dopts)?;
        if n != e - b {
            return Err(zipnn::Error::Corrupt);
        }
    }
    Ok(())
}
