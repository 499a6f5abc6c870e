//! Inputs and outputs: files or standard input/output; outputs are written to a temporary
//! file next to the final one and renamed into place only on success, so that a failure
//! never leaves a partial output behind.

use std::fs::{self, File, Permissions};
use std::io::{self, IsTerminal, Read, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use crate::fail::Failure;

/// The suffix of compressed files.
pub const SUFFIX: &str = ".znn";

/// What `-` stands for in messages.
pub const STDIN_NAME: &str = "<stdin>";
pub const STDOUT_NAME: &str = "<stdout>";

/// Whether a path argument is `-` (standard input or output).
pub fn is_dash(p: &Path) -> bool {
    p.as_os_str() == "-"
}

/// An input name for messages.
pub fn input_name(p: &Path) -> String {
    if is_dash(p) {
        STDIN_NAME.to_string()
    } else {
        p.display().to_string()
    }
}

/// An open input.
pub struct Input {
    /// For messages.
    pub name: String,
    pub reader: Box<dyn Read + Send>,
    /// Length, when known (files).
    pub size: Option<u64>,
    /// The file's permissions, given to its output.
    pub perms: Option<Permissions>,
    /// The path of a regular file (which can be opened again to read parts of it).
    pub path: Option<PathBuf>,
}

/// Opens a file or standard input (`-`). A directory is a usage error (it needs -r);
/// standard input that is a terminal is refused.
pub fn open_input(p: &Path) -> Result<Input, Failure> {
    if is_dash(p) {
        let stdin = io::stdin();
        if stdin.is_terminal() {
            return Err(Failure::usage_at(
                STDIN_NAME,
                "is a terminal; refusing to read data from it (give a file or redirect input)",
            ));
        }
        return Ok(Input {
            name: STDIN_NAME.to_string(),
            reader: Box::new(stdin),
            size: None,
            perms: None,
            path: None,
        });
    }
    let name = input_name(p);
    let f = File::open(p).map_err(|e| Failure::io(&name, &e))?;
    let meta = f.metadata().map_err(|e| Failure::io(&name, &e))?;
    if meta.is_dir() {
        return Err(Failure::usage_at(
            &name,
            "is a directory (use -r to recurse)",
        ));
    }
    Ok(Input {
        name,
        size: meta.is_file().then_some(meta.len()),
        perms: Some(meta.permissions()),
        path: meta.is_file().then(|| p.to_path_buf()),
        reader: Box::new(f),
    })
}

/// Reads a `--base` file whole: its name for messages and its bytes.
pub fn read_base(p: &Path) -> Result<(String, Vec<u8>), Failure> {
    if is_dash(p) {
        return Err(Failure::usage(
            "--base must name a file, not standard input",
        ));
    }
    let mut input = open_input(p)?;
    let bytes = read_all(&mut input)?;
    Ok((input.name, bytes))
}

/// Reads until `buf` holds `n` bytes or the input ends.
pub fn read_up_to(r: &mut dyn Read, buf: &mut Vec<u8>, n: usize) -> io::Result<()> {
    if buf.len() < n {
        let want = (n - buf.len()) as u64;
        r.take(want).read_to_end(buf)?;
    }
    Ok(())
}

/// Reads a whole input into memory (size known: one allocation).
pub fn read_all(input: &mut Input) -> Result<Vec<u8>, Failure> {
    let mut v = Vec::new();
    read_rest(input, &mut v)?;
    Ok(v)
}

/// Reads from `r` into `buf[at..]` until `buf` is full or `r` ends, retrying on
/// `Interrupted`; returns how much of `buf` is filled (less than its length only at the
/// end of the input).
pub fn fill(r: &mut dyn Read, buf: &mut [u8], mut at: usize) -> io::Result<usize> {
    while at < buf.len() {
        match r.read(&mut buf[at..]) {
            Ok(0) => break,
            Ok(n) => at += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(at)
}

/// Reads the rest of `input` after the `head` already read from it, appending it to
/// `head`. When the input's size is known, the bytes go into one buffer of that size made
/// by [`zipnn::zeroed_vec`] (fresh pages, huge where large): `read_to_end` into spare
/// capacity would write zeros over every page first, which cost a third of a whole
/// `zipnn compress` of a 45 MB file. A file that turns out shorter or longer than its size
/// is read to its end all the same.
pub fn read_rest(input: &mut Input, head: &mut Vec<u8>) -> Result<(), Failure> {
    let name = &input.name;
    let rd = |e: io::Error| Failure::io(name, &e);
    if let Some(size) = input.size.and_then(|s| usize::try_from(s).ok()) {
        if size > head.len() {
            let mut all = zipnn::zeroed_vec(size).map_err(|e| Failure::lib(name, e))?;
            all[..head.len()].copy_from_slice(head);
            let at = fill(&mut *input.reader, &mut all, head.len()).map_err(rd)?;
            all.truncate(at);
            *head = all;
            if at < size {
                return Ok(());
            }
        }
    }
    input.reader.read_to_end(head).map_err(rd)?;
    Ok(())
}

/// Where an output goes.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Dest {
    Stdout,
    File(PathBuf),
}

impl Dest {
    pub fn name(&self) -> String {
        match self {
            Dest::Stdout => STDOUT_NAME.to_string(),
            Dest::File(p) => p.display().to_string(),
        }
    }
}

/// An output being written: standard output, or a temporary file renamed over the final
/// name by [`Sink::commit`] (and removed if the sink is dropped before).
pub enum Sink {
    Stdout(io::StdoutLock<'static>),
    File(OutFile),
}

impl Sink {
    /// Opens `dest`. Without `force` an existing file is [`Failure::exists`].
    pub fn open(dest: &Dest, force: bool) -> Result<Sink, Failure> {
        Ok(match dest {
            Dest::Stdout => Sink::Stdout(io::stdout().lock()),
            Dest::File(p) => Sink::File(OutFile::create(p, force)?),
        })
    }

    /// Finishes the output: flushes, gives a file `perms`, renames it into place.
    pub fn commit(self, perms: Option<Permissions>) -> Result<(), Failure> {
        match self {
            Sink::Stdout(mut s) => s.flush().map_err(|e| Failure::io(STDOUT_NAME, &e)),
            Sink::File(f) => f.commit(perms),
        }
    }
}

impl Write for Sink {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self {
            Sink::Stdout(s) => s.write(buf),
            Sink::File(f) => f.file.write(buf),
        }
    }

    fn write_all(&mut self, buf: &[u8]) -> io::Result<()> {
        match self {
            Sink::Stdout(s) => s.write_all(buf),
            Sink::File(f) => f.file.write_all(buf),
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        match self {
            Sink::Stdout(s) => s.flush(),
            Sink::File(f) => f.file.flush(),
        }
    }
}

/// A temporary file next to `path`, renamed to it on commit.
pub struct OutFile {
    path: PathBuf,
    tmp: PathBuf,
    file: File,
    force: bool,
    committed: bool,
    /// The output is a device, pipe or socket (`/dev/null`, a FIFO): written in place,
    /// never replaced by a rename.
    direct: bool,
}

fn exists(p: &Path) -> bool {
    fs::symlink_metadata(p).is_ok()
}

impl OutFile {
    fn create(path: &Path, force: bool) -> Result<OutFile, Failure> {
        let name = path.display().to_string();
        if let Ok(m) = fs::metadata(path) {
            if m.is_dir() {
                return Err(Failure::usage_at(&name, "is a directory"));
            }
            if !m.is_file() {
                // A device or a pipe (`-o /dev/null`): written as it is, as `cat > x` would;
                // a temporary file renamed over it would replace the device itself.
                let file = File::options()
                    .write(true)
                    .open(path)
                    .map_err(|e| Failure::io(&name, &e))?;
                return Ok(OutFile {
                    path: path.to_path_buf(),
                    tmp: PathBuf::new(),
                    file,
                    force,
                    committed: false,
                    direct: true,
                });
            }
        }
        if !force && exists(path) {
            return Err(Failure::exists(&name));
        }
        static COUNTER: AtomicU64 = AtomicU64::new(0);
        let n = COUNTER.fetch_add(1, Ordering::Relaxed);
        let base = path
            .file_name()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_default();
        let tmp = path.with_file_name(format!(".{base}.{}-{n}.zipnn-tmp", std::process::id()));
        let file = File::options()
            .write(true)
            .create_new(true)
            .open(&tmp)
            .map_err(|e| Failure::io(&name, &e))?;
        Ok(OutFile {
            path: path.to_path_buf(),
            tmp,
            file,
            force,
            committed: false,
            direct: false,
        })
    }

    fn commit(mut self, perms: Option<Permissions>) -> Result<(), Failure> {
        let name = self.path.display().to_string();
        self.file.flush().map_err(|e| Failure::io(&name, &e))?;
        if self.direct {
            self.committed = true;
            return Ok(());
        }
        if let Some(p) = perms {
            // Best effort, as cp and zstd do: the data is what matters.
            let _ = self.file.set_permissions(p);
        }
        if !self.force && exists(&self.path) {
            return Err(Failure::exists(&name));
        }
        fs::rename(&self.tmp, &self.path).map_err(|e| Failure::io(&name, &e))?;
        self.committed = true;
        Ok(())
    }
}

impl Drop for OutFile {
    fn drop(&mut self) {
        if !self.committed && !self.direct {
            let _ = fs::remove_file(&self.tmp);
        }
    }
}

/// Whether a file name is one of our temporary outputs (skipped when walking trees).
pub fn is_temp_name(p: &Path) -> bool {
    p.file_name()
        .and_then(|s| s.to_str())
        .is_some_and(|s| s.starts_with('.') && s.ends_with(".zipnn-tmp"))
}

/// Copies `r` to `w` until `r` ends through a buffer of `buf_size` bytes, naming the side
/// that failed; returns the byte count.
pub fn copy(
    r: &mut dyn Read,
    r_name: &str,
    w: &mut dyn Write,
    w_name: &str,
    buf_size: usize,
) -> Result<u64, Failure> {
    let mut buf = zipnn::zeroed_vec(buf_size).map_err(|e| Failure::lib(r_name, e))?;
    let mut total = 0u64;
    loop {
        let n = match r.read(&mut buf) {
            Ok(0) => return Ok(total),
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(Failure::io(r_name, &e)),
        };
        w.write_all(&buf[..n])
            .map_err(|e| Failure::io(w_name, &e))?;
        total += n as u64;
    }
}

/// A writer that counts what passes through it.
pub struct Counted<W> {
    pub inner: W,
    pub count: u64,
}

impl<W: Write> Write for Counted<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.count += n as u64;
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn input(bytes: Vec<u8>, size: Option<u64>) -> Input {
        Input {
            name: "test".into(),
            reader: Box::new(io::Cursor::new(bytes)),
            size,
            perms: None,
            path: None,
        }
    }

    /// Whatever size the input declares, `read_rest` returns exactly its bytes after the
    /// head: a file can shrink or grow between its metadata and its reading.
    #[test]
    fn read_rest_reads_to_the_end_whatever_the_declared_size() {
        let data: Vec<u8> = (0..10_000u32).map(|i| (i * 7 % 251) as u8).collect();
        for head_len in [0usize, 9, 100] {
            for size in [
                None,
                Some(0),
                Some(50),
                Some(9_000),
                Some(10_000),
                Some(12_000),
            ] {
                let mut inp = input(data[head_len..].to_vec(), size);
                let mut head = data[..head_len].to_vec();
                read_rest(&mut inp, &mut head).unwrap();
                assert_eq!(head, data, "head {head_len}, size {size:?}");
            }
        }
    }

    /// A read error is reported, not taken for the end of the input.
    #[test]
    fn read_rest_reports_read_errors() {
        struct Fails;
        impl Read for Fails {
            fn read(&mut self, _: &mut [u8]) -> io::Result<usize> {
                Err(io::Error::other("disk on fire"))
            }
        }
        for size in [None, Some(100)] {
            let mut inp = input(Vec::new(), size);
            inp.reader = Box::new(Fails);
            let mut head = b"abc".to_vec();
            let e = read_rest(&mut inp, &mut head).unwrap_err();
            assert!(e.msg.contains("disk on fire"), "{}", e.msg);
        }
    }
}
