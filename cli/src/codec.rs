//! Compressing one input into one output, and back.
//!
//! Compression: a safetensors file (it looks like one and parses in full) becomes an
//! archive (docs/FORMAT.md section 12; the file is held in memory); anything else becomes a
//! stream (section 11; about two blocks in memory whatever the size), or, against a
//! `--base`, a single delta frame (streams never carry deltas; the file is held in memory).
//! Decompression goes by the magic number: stream, archive or a single frame.

use std::io::{Cursor, Read, Write};

use zipnn::container::safetensors::{
    self, Archive, SafeTensors, Stored, ARCHIVE_FLAG_DELTA, ARCHIVE_MAGIC, MAX_HEADER,
};
use zipnn::stream::{Reader, Writer, DEFAULT_BLOCK_SIZE, STREAM_MAGIC};
use zipnn::{DType, DecompressOptions, Error, Lossy, Options};

use crate::fail::Failure;
use crate::io::{copy, fill, read_rest, read_up_to, Counted, Input};
use crate::progress::Progress;

/// What a compression or decompression did.
pub struct Outcome {
    pub read: u64,
    pub written: u64,
    /// "stream (bf16)", "archive (103 tensors)", ...
    pub what: String,
}

/// The `--base` file: the base model a delta is made against.
pub struct Base<'a> {
    /// For messages.
    pub name: String,
    pub bytes: &'a [u8],
    /// Its tensors, if it is a safetensors file.
    pub st: Option<SafeTensors<'a>>,
}

impl<'a> Base<'a> {
    pub fn new(name: &str, bytes: &'a [u8]) -> Base<'a> {
        let st = safetensors::looks_like_safetensors(bytes)
            .then(|| SafeTensors::parse(bytes).ok())
            .flatten();
        Base {
            name: name.to_string(),
            bytes,
            st,
        }
    }

    /// The message for a delta that was not made against this base.
    fn mismatch(&self) -> String {
        format!("--base {} is not the base it was made against", self.name)
    }
}

/// A library error about `file`; a base mismatch names the `--base` file.
pub fn lib_failure(file: &str, base: Option<&Base<'_>>, e: Error) -> Failure {
    let mut f = Failure::lib(file, e);
    if let (Error::BaseMismatch, Some(b)) = (e, base) {
        f.msg = b.mismatch();
    }
    f
}

/// How a lossy mode is given on the command line.
pub fn lossy_flag(l: Lossy) -> String {
    match l {
        Lossy::None => String::new(),
        Lossy::Mantissa { bits } => format!("--lossy-mantissa {bits}"),
        Lossy::Integer { factor } => format!("--lossy-integer {factor}"),
    }
}

/// How `info` shows a lossy mode: `mantissa:3`, `integer:27`, or `-` (lossless).
pub fn lossy_name(l: Lossy) -> String {
    match l {
        Lossy::None => "-".into(),
        Lossy::Mantissa { bits } => format!("mantissa:{bits}"),
        Lossy::Integer { factor } => format!("integer:{factor}"),
    }
}

/// The one-line warning that compression with `l` loses information.
pub fn lossy_warning(l: Lossy) -> String {
    let what = match l {
        Lossy::None => return String::new(),
        Lossy::Mantissa { bits } => format!("float values are rounded to {bits} mantissa bits"),
        Lossy::Integer { factor } => {
            format!("float values are rounded to multiples of 2^-{factor}")
        }
    };
    format!(
        "zipnn: warning: {}: the output is LOSSY ({what}); it will not decompress to the input bit for bit",
        lossy_flag(l)
    )
}

/// Width and mantissa bits of a float dtype.
pub fn float_bits(d: DType) -> Option<(u32, u32)> {
    match d {
        DType::Bf16 => Some((16, 7)),
        DType::Fp16 => Some((16, 10)),
        DType::Fp32 => Some((32, 23)),
        DType::Fp64 => Some((64, 52)),
        _ => None,
    }
}

/// A plain file is coded with the `--dtype` given: the lossy mode must suit it.
fn check_plain_lossy(name: &str, opts: &Options) -> Result<(), Failure> {
    if opts.lossy.check(opts.dtype).is_ok() {
        return Ok(());
    }
    let flag = lossy_flag(opts.lossy);
    let d = opts.dtype.name();
    let msg = match (float_bits(opts.dtype), opts.lossy) {
        (None, _) => format!(
            "{flag}: not a safetensors file, so it needs a float --dtype (bf16, fp16, fp32 or fp64), not {d}"
        ),
        (Some((_, m)), Lossy::Mantissa { .. }) => {
            format!("{flag}: {d} has {m} mantissa bits: keep fewer")
        }
        (Some((w, _)), _) => format!("{flag}: at most {} for {d}", w - 2),
    };
    Err(Failure::usage_at(name, msg))
}

/// Which container a zipnn file is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Stream,
    /// A zipnn archive, or a safetensors file the reference package stored tensors of.
    Archive,
    Frame,
    /// Frames the reference package (zipnn 0.5.x) wrote: one, or a streamed sequence.
    Reference,
}

/// How many bytes [`sniff`] looks at.
pub const SNIFF_BYTES: usize = 9;

/// The container a file starting with `head` is, or why it is none.
pub fn sniff(head: &[u8], name: &str) -> Result<Kind, Failure> {
    let magics = [
        (STREAM_MAGIC, Kind::Stream),
        (ARCHIVE_MAGIC, Kind::Archive),
        (zipnn::frame::MAGIC, Kind::Frame),
    ];
    if zipnn::refformat::is_reference(head) {
        return Ok(Kind::Reference);
    }
    // A safetensors file (its header length, then the JSON header): only one whose tensors
    // the reference package stored as its frames is read (as an archive).
    if head.len() >= SNIFF_BYTES && head[8] == b'{' {
        return Ok(Kind::Archive);
    }
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

/// Compresses `input` into `out` (named `out_name` in messages), against `base` if
/// given. `progress` advances with the input bytes read (the caller wraps `input.reader`).
pub fn compress(
    input: &mut Input,
    out: &mut dyn Write,
    out_name: &str,
    opts: &Options,
    block_size: u32,
    base: Option<&Base<'_>>,
    progress: &Progress,
) -> Result<Outcome, Failure> {
    let name = input.name.clone();
    let rd = |e: std::io::Error| Failure::io(&name, &e);
    let lib = |e| lib_failure(&name, base, e);
    let wr = |e: std::io::Error| Failure::io(out_name, &e);
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
        read_rest(input, &mut head)?;
        if let Ok(st) = SafeTensors::parse(&head) {
            let count = st.tensors.len();
            progress.set_message(format!("{count} tensors"));
            let base_file = match base {
                None => None,
                Some(b) if b.st.is_some() => Some(b.bytes),
                Some(b) => {
                    return Err(Failure::usage_at(
                        &name,
                        format!(
                            "--base {} is not a safetensors file: a safetensors file is coded \
                             tensor by tensor against the base model's safetensors file",
                            b.name
                        ),
                    ))
                }
            };
            let ar = safetensors::compress_with_base(&head, base_file, opts).map_err(lib)?;
            let a = Archive::open(&ar).map_err(lib)?;
            let counts = stored_counts(&a).map_err(lib)?;
            out.write_all(&ar).map_err(wr)?;
            let mut what = format!("safetensors archive, {count} tensors");
            if counts.tied > 0 {
                what.push_str(&format!(", {} tied", counts.tied));
            }
            if let Some(b) = base {
                what.push_str(&format!(", {} deltas against {}", counts.deltas, b.name));
            }
            if counts.lossy > 0 {
                what.push_str(&format!(", {} lossy", counts.lossy));
            }
            return Ok(Outcome {
                read: head.len() as u64,
                written: ar.len() as u64,
                what,
            });
        }
        // Not valid safetensors after all: compress it as plain bytes.
    }
    check_plain_lossy(&name, opts)?;
    if let Some(b) = base {
        // A stream's frames are never deltas (docs/FORMAT.md 11.2): one delta frame of the
        // whole file, in memory.
        read_rest(input, &mut head)?;
        if head.len() != b.bytes.len() {
            return Err(Failure::usage_at(
                &name,
                format!(
                    "--base {} has {} bytes and the input {}: a file that is not safetensors \
                     is coded against a base of the same length",
                    b.name,
                    b.bytes.len(),
                    head.len()
                ),
            ));
        }
        let frame = zipnn::compress_delta(&head, b.bytes, opts).map_err(lib)?;
        out.write_all(&frame).map_err(wr)?;
        return Ok(Outcome {
            read: head.len() as u64,
            written: frame.len() as u64,
            what: match opts.lossy {
                Lossy::None => format!("{} delta frame against {}", opts.dtype.name(), b.name),
                l => format!(
                    "{} delta frame against {}, lossy {}",
                    opts.dtype.name(),
                    b.name,
                    lossy_name(l)
                ),
            },
        });
    }
    let mut counted = Counted {
        inner: out,
        count: 0,
    };
    let mut w = Writer::new(&mut counted, opts, block_size).map_err(lib)?;
    let read = copy_blocks(head, &mut input.reader, &name, &mut w, out_name, block_size)?;
    w.finish().map_err(wr)?;
    Ok(Outcome {
        read,
        written: counted.count,
        what: match opts.lossy {
            Lossy::None => format!("{} stream", opts.dtype.name()),
            l => format!("{} stream, lossy {}", opts.dtype.name(), lossy_name(l)),
        },
    })
}

/// Writes `head` and then the rest of `r` to `w` in pieces of exactly `block` bytes (the
/// last one shorter): the stream writer codes each block straight from the piece, with no
/// copy into a block buffer of its own. Returns the bytes read, `head` included. The piece
/// buffer is made zero-filled once and then read over piece after piece (zeroing 8 MiB
/// before each read cost a few percent of a whole compression).
fn copy_blocks(
    head: Vec<u8>,
    r: &mut dyn Read,
    r_name: &str,
    w: &mut dyn Write,
    w_name: &str,
    block: u32,
) -> Result<u64, Failure> {
    let block = block as usize;
    let mut buf = head;
    // The first piece: `head`, then bytes read after it (all of `head` if it is longer).
    let mut at = buf.len();
    let mut piece = block.max(at);
    if buf.len() < piece {
        // Fresh zeroed pages rather than zeros written over them.
        let mut fresh = zipnn::zeroed_vec(piece).map_err(|e| Failure::lib(r_name, e))?;
        fresh[..at].copy_from_slice(&buf);
        buf = fresh;
    }
    let mut total = 0u64;
    loop {
        // Fill the piece up to `piece` bytes, or to the end of the input.
        at = fill(r, &mut buf[..piece], at).map_err(|e| Failure::io(r_name, &e))?;
        let end = at < piece;
        w.write_all(&buf[..at])
            .map_err(|e| Failure::io(w_name, &e))?;
        total += at as u64;
        if end {
            return Ok(total);
        }
        at = 0;
        piece = block;
    }
}

/// How the tensors of an archive are stored.
#[derive(Debug, Default, Clone, Copy)]
pub struct Counts {
    /// References to an earlier tensor with the same bytes.
    pub tied: usize,
    /// Frames that are deltas against a base model.
    pub deltas: usize,
    /// Frames with a lossy step.
    pub lossy: usize,
}

/// Counts ties, deltas and lossy frames from the index and the frames' fixed headers.
pub fn stored_counts(ar: &Archive<'_>) -> zipnn::Result<Counts> {
    let mut c = Counts::default();
    for i in 0..ar.tensors().len() {
        if let Some(Stored::Tied(_)) = ar.stored(i) {
            c.tied += 1;
            continue;
        }
        let h = ar.frame_header_at(i)?;
        c.deltas += h.base_hash.is_some() as usize;
        c.lossy += (h.lossy != Lossy::None) as usize;
    }
    Ok(c)
}

/// Decompresses `input` into `out` with `threads` decoding threads; `base` is needed for
/// deltas (and not looked at otherwise). With `check_first` (an output that cannot be
/// taken back), an archive is checked whole before its first byte is written. `max_size`
/// bounds what is decoded in memory: each tensor of an archive, a single frame
/// (`u64::MAX`: no limit); a stream needs none.
#[allow(clippy::too_many_arguments)]
pub fn decompress(
    input: &mut Input,
    out: &mut dyn Write,
    out_name: &str,
    check_first: bool,
    threads: u32,
    max_size: u64,
    base: Option<&Base<'_>>,
    progress: &Progress,
) -> Result<Outcome, Failure> {
    let name = input.name.clone();
    let mut head = Vec::new();
    read_up_to(&mut input.reader, &mut head, SNIFF_BYTES).map_err(|e| Failure::io(&name, &e))?;
    let kind = sniff(&head, &name)?;
    let dopts = DecompressOptions { threads, max_size };
    let wr = |e: std::io::Error| Failure::io(out_name, &e);
    match kind {
        Kind::Stream => {
            let mut src = CountRead {
                inner: Cursor::new(head).chain(&mut input.reader),
                count: 0,
            };
            let stream_opts = DecompressOptions {
                threads,
                max_size: 0,
            };
            let mut r = Reader::with_options(&mut src, &stream_opts);
            // Pieces of a whole default block: each frame is decoded straight into it.
            let written = copy(&mut r, &name, out, out_name, DEFAULT_BLOCK_SIZE as usize)?;
            drop(r);
            Ok(Outcome {
                read: src.count,
                written,
                what: "stream".into(),
            })
        }
        Kind::Archive => {
            let ((written, counts, n), read) = with_archive(input, head, |ar, from_file| {
                let frames = from_file.then_some(progress);
                // Output that cannot be taken back is checked whole first; a file is
                // written aside and removed on error, so decoding checks as it goes.
                let counts = if check_first {
                    check_archive(ar, &name, base, true, false, None)?
                } else {
                    let c = stored_counts(ar).map_err(|e| Failure::lib(&name, e))?;
                    match base {
                        _ if c.deltas == 0 => {}
                        None => return Err(Failure::lib(&name, Error::BaseRequired)),
                        Some(b) if b.st.is_none() => {
                            return Err(Failure::data(
                                &name,
                                format!("{} (it is not a safetensors file)", b.mismatch()),
                            ))
                        }
                        Some(_) => {}
                    }
                    c
                };
                progress.set_message(format!("{} tensors", ar.tensors().len()));
                let written = restore_archive(ar, base, &dopts, out, &name, out_name, frames)?;
                Ok((written, counts, ar.tensors().len()))
            })?;
            let mut what = format!("safetensors archive, {n} tensors");
            if counts.deltas > 0 {
                what.push_str(&format!(", {} deltas", counts.deltas));
            }
            Ok(Outcome {
                read,
                written,
                what,
            })
        }
        Kind::Frame | Kind::Reference => {
            read_rest(input, &mut head)?;
            let data = match base {
                Some(b) => zipnn::decompress_delta_with(&head, b.bytes, &dopts),
                None => zipnn::decompress_with(&head, &dopts),
            }
            .map_err(|e| match e {
                Error::LimitExceeded => {
                    let declared = zipnn::decompressed_size(&head).ok();
                    over_limit(&name, "the frame", declared, max_size)
                }
                e => lib_failure(&name, base, e),
            })?;
            out.write_all(&data).map_err(wr)?;
            let info = zipnn::frame_info(&head).ok();
            let delta = info.is_some_and(|i| i.flags & zipnn::frame::FLAG_DELTA != 0);
            let what = match (kind, delta) {
                (Kind::Reference, false) => "reference-package frame (no checksum)",
                (Kind::Reference, true) => "reference-package delta frame (no checksum)",
                (_, true) => "delta frame",
                (_, false) => "frame",
            };
            Ok(Outcome {
                read: head.len() as u64,
                written: data.len() as u64,
                what: what.into(),
            })
        }
    }
}

/// Opens the archive `input` holds (its first bytes, `head`, already read) and calls `f`
/// with it and whether it was opened from a file. A regular file is opened again with
/// [`Archive::open_file`], which reads frames only as they are decoded; anything else is
/// read into memory. Returns `f`'s result and the archive's length.
pub fn with_archive<T>(
    input: &mut Input,
    mut head: Vec<u8>,
    f: impl FnOnce(&Archive<'_>, bool) -> Result<T, Failure>,
) -> Result<(T, u64), Failure> {
    if let Some(p) = input.path.clone() {
        let ar = Archive::open_file(&p).map_err(|e| Failure::lib(&input.name, e))?;
        let len = std::fs::metadata(&p).map_or(0, |m| m.len());
        return Ok((f(&ar, true)?, len));
    }
    read_rest(input, &mut head)?;
    let ar = Archive::open(&head).map_err(|e| Failure::lib(&input.name, e))?;
    Ok((f(&ar, false)?, head.len() as u64))
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
pub fn tensor_failure(file: &str, tensor: &str, base: Option<&Base<'_>>, e: Error) -> Failure {
    let mut f = lib_failure(file, base, e);
    f.msg = format!("tensor {tensor:?}: {}", f.msg);
    f
}

/// Checks every frame of an opened archive (header and chunk checksums, and that it
/// declares its tensor's byte length; with `decode`, also that every chunk decodes, one at
/// a time); names the first bad tensor. A delta archive needs `base` when `need_base`; a
/// `base` given is checked against every delta (it must hold the tensor, with the hash the
/// frame records). `progress` (for an archive read from a file) advances by the frames'
/// sizes. Returns how tensors are stored.
pub fn check_archive(
    ar: &Archive<'_>,
    file: &str,
    base: Option<&Base<'_>>,
    need_base: bool,
    decode: bool,
    progress: Option<&Progress>,
) -> Result<Counts, Failure> {
    let delta = ar.flags() & ARCHIVE_FLAG_DELTA != 0;
    let base_st = match base {
        Some(b) if delta => Some(b.st.as_ref().ok_or_else(|| {
            Failure::data(
                file,
                format!("{} (it is not a safetensors file)", b.mismatch()),
            )
        })?),
        None if delta && need_base => return Err(Failure::lib(file, Error::BaseRequired)),
        _ => None,
    };
    let mut counts = Counts::default();
    for (i, t) in ar.tensors().iter().enumerate() {
        let bad = |e| tensor_failure(file, &t.name, base, e);
        // A tied tensor is checked with the tensor it repeats; a tensor kept as it is
        // (files of the reference package) has nothing to check.
        let size = match ar.stored(i) {
            Some(Stored::Frame { size, .. }) => size,
            Some(Stored::Plain { .. }) => continue,
            _ => {
                counts.tied += 1;
                continue;
            }
        };
        let f = ar.frame_at(i).map_err(bad)?;
        if decode {
            zipnn::verify_decodes(&f).map_err(bad)?;
        } else {
            zipnn::verify(&f).map_err(bad)?;
        }
        let info = zipnn::frame_info(&f).map_err(bad)?;
        if info.original_size != t.data_offsets.1 - t.data_offsets.0 {
            return Err(bad(Error::Corrupt));
        }
        counts.lossy += (info.lossy != Lossy::None) as usize;
        if let Some(hash) = info.base_hash {
            counts.deltas += 1;
            if let Some(st) = base_st {
                let ok = st.matching(t).is_some_and(|b| {
                    b.len() as u64 == info.original_size && zipnn::frame::checksum(b) == hash
                });
                if !ok {
                    return Err(bad(Error::BaseMismatch));
                }
            }
        }
        if let Some(p) = progress {
            p.inc(size);
        }
    }
    Ok(counts)
}

/// The failure for data over the `--max-size` limit: what declares how much, and how to
/// read it anyway.
pub fn over_limit(file: &str, what: &str, declared: Option<u64>, max_size: u64) -> Failure {
    let declared = declared.map_or(String::new(), |n| format!(" ({n} bytes)"));
    let default = if max_size == zipnn::limit::DEFAULT_FILE_LIMIT {
        " (the default)"
    } else {
        ""
    };
    Failure::data(
        file,
        format!(
            "{what} declares more{declared} than --max-size {max_size}{default}: \
             pass a larger --max-size (or none) to decode it"
        ),
    )
}

/// Writes the original safetensors file of an archive to `out` in pieces of about
/// [`RESTORE_PIECE`] bytes of tensors (or one larger tensor, sized through the library's
/// limit and checksum rule, [`zipnn::limit::tensor_alloc_size`]), each decoded on
/// `dopts.threads` workers across its tensors; returns the bytes written. Memory: one
/// piece. `progress` (for an archive read from a file) advances by the frames' sizes.
pub fn restore_archive(
    ar: &Archive<'_>,
    base: Option<&Base<'_>>,
    dopts: &DecompressOptions,
    out: &mut dyn Write,
    in_name: &str,
    out_name: &str,
    progress: Option<&Progress>,
) -> Result<u64, Failure> {
    let wr = |e: std::io::Error| Failure::io(out_name, &e);
    let json = ar.header_json();
    out.write_all(&(json.len() as u64).to_le_bytes())
        .map_err(wr)?;
    out.write_all(json).map_err(wr)?;
    let mut written = 8 + json.len() as u64;
    let dopts = *dopts;
    let base_st = base.and_then(|b| b.st.as_ref());
    let tensors = ar.tensors();
    let len = |i: usize| tensors[i].data_offsets.1 - tensors[i].data_offsets.0;
    let mut buf = Vec::new();
    let mut i = 0;
    while i < tensors.len() {
        let start = i;
        let mut bytes = 0u64;
        let mut frames = 0u64;
        while i < tensors.len() && (i == start || bytes + len(i) <= RESTORE_PIECE) {
            bytes += len(i);
            if let Some(Stored::Frame { size, .. }) = ar.stored(i) {
                frames += size;
            }
            i += 1;
        }
        let over = |k: usize, e: Error| match e {
            Error::LimitExceeded => over_limit(
                in_name,
                &format!("tensor {:?}", tensors[k].name),
                Some(len(k)),
                dopts.max_size,
            ),
            e => tensor_failure(in_name, &tensors[k].name, base, e),
        };
        if i == start + 1 && bytes > RESTORE_PIECE {
            // One large tensor: its size goes through the limit (and, for a tensor far
            // larger than its frame, the checksums) before it is allocated.
            zipnn::limit::tensor_alloc_size(ar, start, &dopts).map_err(|e| over(start, e))?;
        }
        let n = usize::try_from(bytes).map_err(|_| Failure::lib(in_name, Error::Alloc))?;
        if buf.len() < n {
            // Fresh zeroed pages (huge where large): resizing would write zeros over them
            // first, and the decoder writes every byte anyway.
            buf = zipnn::zeroed_vec(n).map_err(|e| Failure::lib(in_name, e))?;
        }
        if let Err(e) = ar.decode_tensors(start..i, base_st, &mut buf[..n], &dopts) {
            // Name the tensor: decode the piece's tensors one by one to find it.
            for k in start..i {
                let mut one = vec![0u8; len(k) as usize];
                ar.decode_at(k, base_st, &mut one, &dopts)
                    .map_err(|e| over(k, e))?;
            }
            return Err(Failure::lib(in_name, e));
        }
        out.write_all(&buf[..n]).map_err(wr)?;
        written += bytes;
        if let Some(p) = progress {
            p.inc(frames);
        }
    }
    Ok(written)
}

/// Tensor bytes [`restore_archive`] decodes at once.
const RESTORE_PIECE: u64 = 8 << 20;
