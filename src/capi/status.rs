//! Status codes and their messages.

use std::ffi::c_char;

/// A status: `ZIPNN_OK` (0) or a negative error code. Values are stable and never reused.
pub type zipnn_status = i32;

/// Success.
pub const ZIPNN_OK: zipnn_status = 0;
/// A required pointer argument is NULL.
pub const ZIPNN_ERROR_NULL_POINTER: zipnn_status = -1;
/// An option or argument is out of range, a reserved field is not zero, or buffers overlap.
pub const ZIPNN_ERROR_INVALID_PARAM: zipnn_status = -2;
/// The dtype is not one this library knows (in options or in a frame).
pub const ZIPNN_ERROR_UNSUPPORTED_DTYPE: zipnn_status = -3;
/// The method is not one this library knows.
pub const ZIPNN_ERROR_UNSUPPORTED_METHOD: zipnn_status = -4;
/// The frame is a delta against a base model and no base was given.
pub const ZIPNN_ERROR_BASE_REQUIRED: zipnn_status = -5;
/// The base given is not the one the delta frame was made against (length or hash).
pub const ZIPNN_ERROR_BASE_MISMATCH: zipnn_status = -6;
/// No tensor of that name is in the archive.
pub const ZIPNN_ERROR_NOT_FOUND: zipnn_status = -7;
/// The destination buffer is too small.
pub const ZIPNN_ERROR_DST_TOO_SMALL: zipnn_status = -10;
/// The source is larger than the format or this platform can handle.
pub const ZIPNN_ERROR_SRC_TOO_LARGE: zipnn_status = -11;
/// The frame declares more output than the caller's `max_decompressed_size`.
pub const ZIPNN_ERROR_LIMIT_EXCEEDED: zipnn_status = -12;
/// The input is not a zipnn frame.
pub const ZIPNN_ERROR_BAD_MAGIC: zipnn_status = -20;
/// The frame's format version is unknown to this library.
pub const ZIPNN_ERROR_UNSUPPORTED_VERSION: zipnn_status = -21;
/// The frame sets flags unknown to this library.
pub const ZIPNN_ERROR_UNSUPPORTED_FLAGS: zipnn_status = -22;
/// The frame uses a codec unknown to this library.
pub const ZIPNN_ERROR_UNSUPPORTED_CODEC: zipnn_status = -23;
/// The input ends before the frame does.
pub const ZIPNN_ERROR_TRUNCATED: zipnn_status = -30;
/// The frame is malformed.
pub const ZIPNN_ERROR_CORRUPT: zipnn_status = -31;
/// A header or chunk checksum does not match.
pub const ZIPNN_ERROR_CHECKSUM: zipnn_status = -32;
/// Memory allocation failed.
pub const ZIPNN_ERROR_ALLOC: zipnn_status = -40;
/// A file could not be opened or read.
pub const ZIPNN_ERROR_IO: zipnn_status = -41;
/// The input is not a valid safetensors file.
pub const ZIPNN_ERROR_BAD_SAFETENSORS: zipnn_status = -60;
/// An internal invariant failed.
pub const ZIPNN_ERROR_INTERNAL: zipnn_status = -50;
/// A panic was caught at the API boundary.
pub const ZIPNN_ERROR_INTERNAL_PANIC: zipnn_status = -51;

/// A static, NUL-terminated English message for `status`; "unknown status" for values that
/// are not codes. Never NULL, never to be freed. Thread-safe.
#[no_mangle]
pub extern "C" fn zipnn_error_string(status: zipnn_status) -> *const c_char {
    let s: &'static [u8] = match status {
        ZIPNN_OK => b"ok\0",
        -1 => b"a required pointer argument is NULL\0",
        -2 => b"invalid parameter or option\0",
        -3 => b"unsupported dtype\0",
        -4 => b"unsupported method\0",
        -5 => b"the frame is a delta against a base model: the base is required\0",
        -6 => b"the base is not the one the delta was made against\0",
        -7 => b"no tensor of that name\0",
        -10 => b"destination buffer is too small\0",
        -11 => b"source is too large\0",
        -12 => b"decompressed size exceeds the caller's limit\0",
        -20 => b"not a zipnn frame (bad magic number)\0",
        -21 => b"unsupported frame format version\0",
        -22 => b"frame uses unsupported flags\0",
        -23 => b"frame uses an unsupported codec\0",
        -30 => b"frame is truncated\0",
        -31 => b"frame is corrupt\0",
        -32 => b"checksum mismatch: the frame is corrupt\0",
        -40 => b"memory allocation failed\0",
        -41 => b"a file could not be opened or read\0",
        -60 => b"the input is not a valid safetensors file\0",
        -50 => b"internal error\0",
        -51 => b"internal error: a panic was caught at the API boundary\0",
        _ => b"unknown status\0",
    };
    s.as_ptr() as *const c_char
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::Error;
    use std::ffi::CStr;

    #[test]
    fn constants_match_the_rust_errors() {
        let pairs = [
            (ZIPNN_ERROR_NULL_POINTER, Error::NullPointer),
            (ZIPNN_ERROR_INVALID_PARAM, Error::InvalidParam),
            (ZIPNN_ERROR_UNSUPPORTED_DTYPE, Error::UnsupportedDtype),
            (ZIPNN_ERROR_UNSUPPORTED_METHOD, Error::UnsupportedMethod),
            (ZIPNN_ERROR_BASE_REQUIRED, Error::BaseRequired),
            (ZIPNN_ERROR_BASE_MISMATCH, Error::BaseMismatch),
            (ZIPNN_ERROR_NOT_FOUND, Error::NotFound),
            (ZIPNN_ERROR_DST_TOO_SMALL, Error::DstTooSmall),
            (ZIPNN_ERROR_SRC_TOO_LARGE, Error::SrcTooLarge),
            (ZIPNN_ERROR_LIMIT_EXCEEDED, Error::LimitExceeded),
            (ZIPNN_ERROR_BAD_MAGIC, Error::BadMagic),
            (ZIPNN_ERROR_UNSUPPORTED_VERSION, Error::UnsupportedVersion),
            (ZIPNN_ERROR_UNSUPPORTED_FLAGS, Error::UnsupportedFlags),
            (ZIPNN_ERROR_UNSUPPORTED_CODEC, Error::UnsupportedCodec),
            (ZIPNN_ERROR_TRUNCATED, Error::Truncated),
            (ZIPNN_ERROR_CORRUPT, Error::Corrupt),
            (ZIPNN_ERROR_CHECKSUM, Error::Checksum),
            (ZIPNN_ERROR_ALLOC, Error::Alloc),
            (ZIPNN_ERROR_IO, Error::Io),
            (ZIPNN_ERROR_INTERNAL, Error::Internal),
            (ZIPNN_ERROR_INTERNAL_PANIC, Error::InternalPanic),
            (ZIPNN_ERROR_BAD_SAFETENSORS, Error::BadSafetensors),
        ];
        assert_eq!(pairs.len(), Error::ALL.len());
        for (c, e) in pairs {
            assert_eq!(c, e.code(), "{e:?}");
        }
    }

    #[test]
    fn every_error_has_the_rust_message() {
        for e in Error::ALL {
            // SAFETY: zipnn_error_string returns a static NUL-terminated string.
            let s = unsafe { CStr::from_ptr(zipnn_error_string(e.code())) };
            assert_eq!(s.to_str().unwrap(), e.message());
        }
        // SAFETY: as above.
        let s = unsafe { CStr::from_ptr(zipnn_error_string(-1000)) };
        assert_eq!(s.to_str().unwrap(), "unknown status");
    }
}
