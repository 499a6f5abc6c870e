//! Failures, their exit codes, and how they are printed: `zipnn: <file>: <message>`.

use std::fmt;
use std::io;

/// Exit codes (documented in `zipnn --help` and docs/CLI.md). Ordered: with several
/// files, the largest code seen is the exit code.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Code {
    Ok = 0,
    /// Not zipnn data, truncated, corrupt, checksum mismatch, round-trip mismatch.
    Data = 1,
    /// Bad arguments or options.
    Usage = 2,
    /// Missing file, permission, disk full, out of memory.
    Io = 3,
    /// An output file exists and -f was not given.
    Exists = 4,
}

/// The message for a delta (frame or archive) decompressed without its base.
pub const BASE_REQUIRED: &str = "this file is a delta against a base model: pass --base";

/// One failure: what it concerns (a file, or nothing for a usage error) and why.
#[derive(Debug, Clone)]
pub struct Failure {
    pub code: Code,
    pub path: Option<String>,
    pub msg: String,
}

/// The exit code for a library error.
pub fn code_of(e: zipnn::Error) -> Code {
    use zipnn::Error as E;
    match e {
        E::InvalidParam | E::UnsupportedMethod | E::NullPointer => Code::Usage,
        E::Alloc | E::Io => Code::Io,
        _ => Code::Data,
    }
}

/// An I/O error's message without Rust's " (os error N)" suffix.
pub fn io_message(e: &io::Error) -> String {
    let s = e.to_string();
    match s.rfind(" (os error ") {
        Some(i) if s.ends_with(')') => s[..i].to_string(),
        _ => s,
    }
}

impl Failure {
    pub fn new(code: Code, path: Option<String>, msg: impl Into<String>) -> Failure {
        Failure {
            code,
            path,
            msg: msg.into(),
        }
    }

    /// A usage error that concerns no file.
    pub fn usage(msg: impl Into<String>) -> Failure {
        Failure::new(Code::Usage, None, msg)
    }

    /// A usage error about one file.
    pub fn usage_at(path: impl fmt::Display, msg: impl Into<String>) -> Failure {
        Failure::new(Code::Usage, Some(path.to_string()), msg)
    }

    /// Bad data in a file.
    pub fn data(path: impl fmt::Display, msg: impl Into<String>) -> Failure {
        Failure::new(Code::Data, Some(path.to_string()), msg)
    }

    /// A library error about a file. The errors about a base model are worded for the
    /// command line (`--base`).
    pub fn lib(path: impl fmt::Display, e: zipnn::Error) -> Failure {
        let msg = match e {
            zipnn::Error::BaseRequired => BASE_REQUIRED.to_string(),
            zipnn::Error::BaseMismatch => "--base is not the base it was made against".into(),
            _ => e.to_string(),
        };
        Failure::new(code_of(e), Some(path.to_string()), msg)
    }

    /// An I/O error about a file; a zipnn error carried inside it (from the stream
    /// reader and writer) keeps its own code.
    pub fn io(path: impl fmt::Display, e: &io::Error) -> Failure {
        if let Some(z) = zipnn::stream::error_of(e) {
            return Failure::lib(path, z);
        }
        Failure::new(Code::Io, Some(path.to_string()), io_message(e))
    }

    /// An output file exists and may not be overwritten.
    pub fn exists(path: impl fmt::Display) -> Failure {
        Failure::new(
            Code::Exists,
            Some(path.to_string()),
            "already exists; not overwritten (use -f to overwrite)",
        )
    }

    /// Prints the failure on standard error.
    pub fn report(&self) {
        eprintln!("{self}");
    }
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.path {
            Some(p) => write!(f, "zipnn: {p}: {}", self.msg),
            None => write!(f, "zipnn: {}", self.msg),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_and_codes() {
        let e = io::Error::from_raw_os_error(2);
        let f = Failure::io("a.bin", &e);
        assert_eq!(f.code, Code::Io);
        assert_eq!(f.to_string(), "zipnn: a.bin: No such file or directory");
        let z = zipnn::stream::io_error(zipnn::Error::Checksum);
        let f = Failure::io("x.znn", &z);
        assert_eq!(f.code, Code::Data);
        assert!(f.to_string().starts_with("zipnn: x.znn: checksum mismatch"));
        assert_eq!(Failure::usage("bad").to_string(), "zipnn: bad");
        let f = Failure::lib("d.znn", zipnn::Error::BaseRequired);
        assert_eq!(f.code, Code::Data);
        assert_eq!(
            f.to_string(),
            "zipnn: d.znn: this file is a delta against a base model: pass --base"
        );
        assert_eq!(Failure::lib("a", zipnn::Error::Io).code, Code::Io);
        assert!(Code::Exists > Code::Io && Code::Io > Code::Usage && Code::Usage > Code::Data);
    }
}
