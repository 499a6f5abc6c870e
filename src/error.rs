//! The library's error type. Every variant maps to one stable, negative C status code
//! (see `src/capi/status.rs` and `include/zipnn.h`).

use std::fmt;

/// Everything that can go wrong in a zipnn call.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Error {
    /// A required pointer was NULL (C ABI only).
    NullPointer,
    /// An option or argument is out of range, or a reserved field is not zero.
    InvalidParam,
    /// The dtype is not one this library knows.
    UnsupportedDtype,
    /// The method (codec choice) is not one this library knows.
    UnsupportedMethod,
    /// The frame is a delta against a base model and no base was given.
    BaseRequired,
    /// The base given is not the one the delta frame was made against (its length or
    /// hash differs).
    BaseMismatch,
    /// No tensor of that name is in the archive.
    NotFound,
    /// The destination buffer is too small for the result.
    DstTooSmall,
    /// The input is larger than the format can describe.
    SrcTooLarge,
    /// The frame declares more output than the caller allows.
    LimitExceeded,
    /// The input does not start with the zipnn magic number.
    BadMagic,
    /// The frame's format version is not one this decoder knows.
    UnsupportedVersion,
    /// The frame sets a flag this decoder does not know.
    UnsupportedFlags,
    /// A plane-chunk names a codec this decoder does not know.
    UnsupportedCodec,
    /// The input ends before the frame does.
    Truncated,
    /// The frame is malformed (inconsistent sizes, bad codec stream, trailing bytes).
    Corrupt,
    /// A header or chunk checksum does not match.
    Checksum,
    /// The input is not a valid safetensors file (bad header length, invalid JSON, unknown
    /// dtype string, offsets out of range, overlapping or leaving holes).
    BadSafetensors,
    /// Memory could not be allocated.
    Alloc,
    /// A file could not be opened or read.
    Io,
    /// An internal invariant failed; please report it.
    Internal,
    /// A panic was caught at the C boundary; please report it.
    InternalPanic,
}

/// `Result` with the library's [`Error`].
pub type Result<T> = std::result::Result<T, Error>;

impl Error {
    /// The stable C status code of this error (always negative).
    pub const fn code(self) -> i32 {
        match self {
            Error::NullPointer => -1,
            Error::InvalidParam => -2,
            Error::UnsupportedDtype => -3,
            Error::UnsupportedMethod => -4,
            Error::BaseRequired => -5,
            Error::BaseMismatch => -6,
            Error::NotFound => -7,
            Error::DstTooSmall => -10,
            Error::SrcTooLarge => -11,
            Error::LimitExceeded => -12,
            Error::BadMagic => -20,
            Error::UnsupportedVersion => -21,
            Error::UnsupportedFlags => -22,
            Error::UnsupportedCodec => -23,
            Error::Truncated => -30,
            Error::Corrupt => -31,
            Error::Checksum => -32,
            Error::Alloc => -40,
            Error::Io => -41,
            Error::BadSafetensors => -60,
            Error::Internal => -50,
            Error::InternalPanic => -51,
        }
    }

    /// The error for a C status code, if it is one.
    pub const fn from_code(code: i32) -> Option<Error> {
        Some(match code {
            -1 => Error::NullPointer,
            -2 => Error::InvalidParam,
            -3 => Error::UnsupportedDtype,
            -4 => Error::UnsupportedMethod,
            -5 => Error::BaseRequired,
            -6 => Error::BaseMismatch,
            -7 => Error::NotFound,
            -10 => Error::DstTooSmall,
            -11 => Error::SrcTooLarge,
            -12 => Error::LimitExceeded,
            -20 => Error::BadMagic,
            -21 => Error::UnsupportedVersion,
            -22 => Error::UnsupportedFlags,
            -23 => Error::UnsupportedCodec,
            -30 => Error::Truncated,
            -31 => Error::Corrupt,
            -32 => Error::Checksum,
            -40 => Error::Alloc,
            -41 => Error::Io,
            -60 => Error::BadSafetensors,
            -50 => Error::Internal,
            -51 => Error::InternalPanic,
            _ => return None,
        })
    }

    /// A static, human-readable message.
    pub const fn message(self) -> &'static str {
        match self {
            Error::NullPointer => "a required pointer argument is NULL",
            Error::InvalidParam => "invalid parameter or option",
            Error::UnsupportedDtype => "unsupported dtype",
            Error::UnsupportedMethod => "unsupported method",
            Error::BaseRequired => {
                "the frame is a delta against a base model: the base is required"
            }
            Error::BaseMismatch => "the base is not the one the delta was made against",
            Error::NotFound => "no tensor of that name",
            Error::DstTooSmall => "destination buffer is too small",
            Error::SrcTooLarge => "source is too large",
            Error::LimitExceeded => "decompressed size exceeds the caller's limit",
            Error::BadMagic => "not a zipnn frame (bad magic number)",
            Error::UnsupportedVersion => "unsupported frame format version",
            Error::UnsupportedFlags => "frame uses unsupported flags",
            Error::UnsupportedCodec => "frame uses an unsupported codec",
            Error::Truncated => "frame is truncated",
            Error::Corrupt => "frame is corrupt",
            Error::Checksum => "checksum mismatch: the frame is corrupt",
            Error::Alloc => "memory allocation failed",
            Error::Io => "a file could not be opened or read",
            Error::BadSafetensors => "the input is not a valid safetensors file",
            Error::Internal => "internal error",
            Error::InternalPanic => "internal error: a panic was caught at the API boundary",
        }
    }

    /// Every error, in code order (for tests and bindings).
    pub const ALL: [Error; 22] = [
        Error::NullPointer,
        Error::InvalidParam,
        Error::UnsupportedDtype,
        Error::UnsupportedMethod,
        Error::BaseRequired,
        Error::BaseMismatch,
        Error::NotFound,
        Error::DstTooSmall,
        Error::SrcTooLarge,
        Error::LimitExceeded,
        Error::BadMagic,
        Error::UnsupportedVersion,
        Error::UnsupportedFlags,
        Error::UnsupportedCodec,
        Error::Truncated,
        Error::Corrupt,
        Error::Checksum,
        Error::Alloc,
        Error::Io,
        Error::Internal,
        Error::InternalPanic,
        Error::BadSafetensors,
    ];
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.message())
    }
}

impl std::error::Error for Error {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_round_trip_and_are_unique() {
        let mut seen = std::collections::HashSet::new();
        for e in Error::ALL {
            assert!(e.code() < 0);
            assert!(seen.insert(e.code()), "duplicate code {}", e.code());
            assert_eq!(Error::from_code(e.code()), Some(e));
            assert!(!e.message().is_empty());
        }
        assert_eq!(Error::from_code(0), None);
        assert_eq!(Error::from_code(-99), None);
    }
}
