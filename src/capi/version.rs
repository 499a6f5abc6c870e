//! Library and format versions.

use std::ffi::c_char;

const fn parse(s: &str) -> u32 {
    let b = s.as_bytes();
    let mut i = 0;
    let mut v = 0u32;
    while i < b.len() && b[i].is_ascii_digit() {
        v = v * 10 + (b[i] - b'0') as u32;
        i += 1;
    }
    v
}

const MAJOR: u32 = parse(env!("CARGO_PKG_VERSION_MAJOR"));
const MINOR: u32 = parse(env!("CARGO_PKG_VERSION_MINOR"));
const PATCH: u32 = parse(env!("CARGO_PKG_VERSION_PATCH"));

/// The library version as `MAJOR * 10000 + MINOR * 100 + PATCH` (equal to the header's
/// `ZIPNN_VERSION_NUMBER` when header and library match). Thread-safe.
#[no_mangle]
pub extern "C" fn zipnn_version_number() -> u32 {
    MAJOR * 10000 + MINOR * 100 + PATCH
}

/// The library version as a static string, e.g. "0.1.0". Never NULL, never to be freed.
/// Thread-safe.
#[no_mangle]
pub extern "C" fn zipnn_version_string() -> *const c_char {
    concat!(env!("CARGO_PKG_VERSION"), "\0").as_ptr() as *const c_char
}

/// The frame format version this library writes (it also reads every earlier one).
/// Thread-safe.
#[no_mangle]
pub extern "C" fn zipnn_format_version() -> u32 {
    crate::frame::VERSION as u32
}
