//! The library's error type. Every variant maps to one stable, negative C status code.
//!
//! The list below is the one place that says which errors exist: it makes the enum, the
//! codes, the messages (`zipnn_error_string` returns them) and the C names. The header's
//! `ZIPNN_ERROR_*` constants (src/capi/status.rs) are checked against it by a test, and
//! each SDK's tests check its error table against the codes the library knows.

use std::fmt;

/// Declares [`Error`] from one list: variant, C status code, C name, message.
macro_rules! errors {
    ($( $(#[$doc:meta])* $name:ident = $code:literal, $c_name:literal, $msg:literal; )*) => {
        /// Everything that can go wrong in a zipnn call.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        #[non_exhaustive]
        pub enum Error {
            $( $(#[$doc])* $name, )*
        }

        const COUNT: usize = [$($code),*].len();

        impl Error {
            /// This error's row of the list: code, C name, message, message with a NUL.
            const fn row(self) -> (i32, &'static str, &'static str, &'static str) {
                match self {
                    $( Error::$name => ($code, $c_name, $msg, concat!($msg, "\0")), )*
                }
            }

            /// The stable C status code of this error (always negative).
            pub const fn code(self) -> i32 {
                self.row().0
            }

            /// The error for a C status code, if it is one.
            pub const fn from_code(code: i32) -> Option<Error> {
                match code {
                    $( $code => Some(Error::$name), )*
                    _ => None,
                }
            }

            /// A static, human-readable message.
            pub const fn message(self) -> &'static str {
                self.row().2
            }

            /// The message with a NUL at the end, for C.
            pub(crate) const fn message_nul(self) -> &'static str {
                self.row().3
            }

            /// The name of the status in the C header (`ZIPNN_ERROR_...`).
            pub const fn c_name(self) -> &'static str {
                self.row().1
            }

            /// Every error, in the order of the list.
            pub const ALL: [Error; COUNT] = [$( Error::$name, )*];
        }
    };
}

errors! {
    /// A required pointer was NULL (C ABI only).
    NullPointer = -1, "ZIPNN_ERROR_NULL_POINTER", "a required pointer argument is NULL";
    /// An option or argument is out of range, or a reserved field is not zero.
    InvalidParam = -2, "ZIPNN_ERROR_INVALID_PARAM", "invalid parameter or option";
    /// The dtype is not one this library knows.
    UnsupportedDtype = -3, "ZIPNN_ERROR_UNSUPPORTED_DTYPE", "unsupported dtype";
    /// The method (codec choice) is not one this library knows.
    UnsupportedMethod = -4, "ZIPNN_ERROR_UNSUPPORTED_METHOD", "unsupported method";
    /// The frame is a delta against a base model and no base was given.
    BaseRequired = -5, "ZIPNN_ERROR_BASE_REQUIRED",
        "the frame is a delta against a base model: the base is required";
    /// The base given is not the one the delta frame was made against (its length or
    /// hash differs).
    BaseMismatch = -6, "ZIPNN_ERROR_BASE_MISMATCH",
        "the base is not the one the delta was made against";
    /// No tensor of that name is in the archive.
    NotFound = -7, "ZIPNN_ERROR_NOT_FOUND", "no tensor of that name";
    /// The destination buffer is too small for the result.
    DstTooSmall = -10, "ZIPNN_ERROR_DST_TOO_SMALL", "destination buffer is too small";
    /// The input is larger than the format can describe.
    SrcTooLarge = -11, "ZIPNN_ERROR_SRC_TOO_LARGE", "source is too large";
    /// The frame declares more output than the caller allows.
    LimitExceeded = -12, "ZIPNN_ERROR_LIMIT_EXCEEDED",
        "decompressed size exceeds the caller's limit";
    /// The input does not start with the zipnn magic number.
    BadMagic = -20, "ZIPNN_ERROR_BAD_MAGIC", "not a zipnn frame (bad magic number)";
    /// The frame's format version is not one this decoder knows.
    UnsupportedVersion = -21, "ZIPNN_ERROR_UNSUPPORTED_VERSION",
        "unsupported frame format version";
    /// The frame sets a flag this decoder does not know.
    UnsupportedFlags = -22, "ZIPNN_ERROR_UNSUPPORTED_FLAGS", "frame uses unsupported flags";
    /// A plane-chunk names a codec this decoder does not know.
    UnsupportedCodec = -23, "ZIPNN_ERROR_UNSUPPORTED_CODEC", "frame uses an unsupported codec";
    /// The input ends before the frame does.
    Truncated = -30, "ZIPNN_ERROR_TRUNCATED", "frame is truncated";
    /// The frame is malformed (inconsistent sizes, bad codec stream, trailing bytes).
    Corrupt = -31, "ZIPNN_ERROR_CORRUPT", "frame is corrupt";
    /// A header or chunk checksum does not match.
    Checksum = -32, "ZIPNN_ERROR_CHECKSUM", "checksum mismatch: the frame is corrupt";
    /// Memory could not be allocated.
    Alloc = -40, "ZIPNN_ERROR_ALLOC", "memory allocation failed";
    /// A file could not be opened or read.
    Io = -41, "ZIPNN_ERROR_IO", "a file could not be opened or read";
    /// An internal invariant failed; please report it.
    Internal = -50, "ZIPNN_ERROR_INTERNAL", "internal error";
    /// A panic was caught at the C boundary; please report it.
    InternalPanic = -51, "ZIPNN_ERROR_INTERNAL_PANIC",
        "internal error: a panic was caught at the API boundary";
    /// The input is not a valid safetensors file (bad header length, invalid JSON, unknown
    /// dtype string, offsets out of range, overlapping or leaving holes).
    BadSafetensors = -60, "ZIPNN_ERROR_BAD_SAFETENSORS",
        "the input is not a valid safetensors file";
}

/// `Result` with the library's [`Error`].
pub type Result<T> = std::result::Result<T, Error>;

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
        let mut names = std::collections::HashSet::new();
        for e in Error::ALL {
            assert!(e.code() < 0);
            assert!(seen.insert(e.code()), "duplicate code {}", e.code());
            assert!(names.insert(e.c_name()), "duplicate name {}", e.c_name());
            assert!(e.c_name().starts_with("ZIPNN_ERROR_"));
            assert_eq!(Error::from_code(e.code()), Some(e));
            assert!(!e.message().is_empty());
            assert_eq!(e.message_nul(), format!("{}\0", e.message()));
        }
        assert_eq!(Error::ALL.len(), 22);
        assert_eq!(Error::from_code(0), None);
        assert_eq!(Error::from_code(-99), None);
    }
}
