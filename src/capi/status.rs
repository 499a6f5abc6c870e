//! Status codes and their messages.

use std::ffi::c_char;

use crate::error::Error;

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
/// An internal invariant failed.
pub const ZIPNN_ERROR_INTERNAL: zipnn_status = -50;
/// A panic was caught at the API boundary.
pub const ZIPNN_ERROR_INTERNAL_PANIC: zipnn_status = -51;
/// The input is not a valid safetensors file.
pub const ZIPNN_ERROR_BAD_SAFETENSORS: zipnn_status = -60;

/// A static, NUL-terminated English message for `status`; "unknown status" for values that
/// are not codes. Never NULL, never to be freed. Thread-safe.
#[no_mangle]
pub extern "C" fn zipnn_error_string(status: zipnn_status) -> *const c_char {
    let s = match Error::from_code(status) {
        Some(e) => e.message_nul(),
        None if status == ZIPNN_OK => "ok\0",
        None => "unknown status\0",
    };
    s.as_ptr() as *const c_char
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::ffi::CStr;

    /// The generated header (made from the constants above) defines exactly the list's
    /// errors, by name and value, in its order.
    #[test]
    fn the_header_defines_the_error_list() {
        let h = include_str!("../../include/zipnn.h");
        let defined: Vec<(String, i32)> = h
            .lines()
            .filter_map(|l| l.strip_prefix("#define ZIPNN_ERROR_"))
            .map(|rest| {
                let (name, value) = rest.split_once(' ').expect("#define NAME VALUE");
                let value = value.trim().trim_start_matches('(').trim_end_matches(')');
                (
                    format!("ZIPNN_ERROR_{name}"),
                    value.parse().expect("a number"),
                )
            })
            .collect();
        let listed: Vec<(String, i32)> = Error::ALL
            .iter()
            .map(|e| (e.c_name().to_string(), e.code()))
            .collect();
        assert_eq!(defined, listed);
    }

    #[test]
    fn every_error_has_the_list_message() {
        for e in Error::ALL {
            // SAFETY: zipnn_error_string returns a static NUL-terminated string.
            let s = unsafe { CStr::from_ptr(zipnn_error_string(e.code())) };
            assert_eq!(s.to_str().unwrap(), e.message());
        }
        for (code, want) in [(0, "ok"), (-1000, "unknown status"), (1, "unknown status")] {
            // SAFETY: as above.
            let s = unsafe { CStr::from_ptr(zipnn_error_string(code)) };
            assert_eq!(s.to_str().unwrap(), want);
        }
    }
}
