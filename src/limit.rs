//! How much to allocate for what a frame or an archive declares, decided before anything
//! is allocated: the caller's limit, then the verify-first rule. Every entry point that
//! allocates a declared size goes through here (the C ABI's `*_alloc_size` calls, and
//! through them every SDK), so the rule has one home.
//!
//! The rule: a declared size above the caller's `max_size` is [`Error::LimitExceeded`];
//! one that this platform cannot allocate is [`Error::SrcTooLarge`]; and when the output
//! is at least [`PRE_VERIFY_RATIO`] times the bytes that declare it, every checksum is
//! verified first, so that a damaged frame declaring a huge size fails with
//! [`Error::Checksum`] without the allocation. Below the ratio the allocation is at most that
//! multiple of the input, and the checksums are checked once, by the decode itself (before
//! it writes). Weights compress to between 1x and 3x, so only very compressible data (long
//! constant runs), whose checksums cost little beside their output, is checked twice.
//!
//! Checksums are no defence against a crafted frame: a valid one can declare millions of
//! times its length (a constant 64 MiB chunk is 14 bytes of table and one payload byte).
//! The limit is. The SDKs and the CLI apply [`DEFAULT_FILE_LIMIT`] to archives and frames
//! they read from files unless the caller sets another.

use crate::container::safetensors::{Archive, Stored};
use crate::error::{Error, Result};
use crate::DecompressOptions;

/// Outputs of at least this many times the bytes that declare them are verified before
/// they are allocated.
pub const PRE_VERIFY_RATIO: u64 = 8;

/// The decompression limit applied by default to archives and frames read from files
/// (4 GiB: larger than the largest tensor of today's public models): a stranger's file
/// cannot make a process allocate more with default settings. Pass a larger limit (or
/// `u64::MAX` for none) to read larger ones.
pub const DEFAULT_FILE_LIMIT: u64 = 4 << 30;

/// The limit to use for input read from a file: the caller's, or [`DEFAULT_FILE_LIMIT`]
/// when it is 0 ("not set").
pub const fn file_limit(max_size: u64) -> u64 {
    if max_size == 0 {
        DEFAULT_FILE_LIMIT
    } else {
        max_size
    }
}

/// Applies the rule to `declared` output bytes held in `stored` bytes, with `verify`
/// checking every checksum of those bytes; returns the size to allocate.
fn checked(
    declared: u64,
    stored: u64,
    max_size: u64,
    verify: impl FnOnce() -> Result<()>,
) -> Result<usize> {
    if max_size != 0 && declared > max_size {
        return Err(Error::LimitExceeded);
    }
    let n = usize::try_from(declared).map_err(|_| Error::SrcTooLarge)?;
    if n > isize::MAX as usize {
        return Err(Error::SrcTooLarge);
    }
    if declared / PRE_VERIFY_RATIO >= stored {
        verify()?;
    }
    Ok(n)
}

/// The size to allocate for decoding the one frame that fills `frame` (a delta frame
/// too: the base is not needed here). The limit is checked from the fixed header before
/// anything else, then the header and chunk table, then (see the module) the checksums.
pub fn frame_alloc_size(frame: &[u8], opts: &DecompressOptions) -> Result<usize> {
    if crate::refformat::is_reference(frame) {
        // Frames of the reference package: no checksums, so "verify" is its structural
        // check, which decodes every block.
        let declared = crate::refformat::info(frame)?.original_size;
        return checked(declared, frame.len() as u64, opts.max_size, || {
            crate::refformat::check(frame)
        });
    }
    let f = crate::pipeline::parse_whole(frame, opts)?;
    checked(
        f.header().original_size,
        frame.len() as u64,
        opts.max_size,
        || crate::engine::verify_frame_with(&f, opts.threads),
    )
}

/// The frame that holds tensor `i`'s bytes: its length (a tied tensor's is its
/// original's).
fn frame_len(a: &Archive<'_>, i: usize) -> Result<u64> {
    match a.stored(i).ok_or(Error::NotFound)? {
        Stored::Frame { size, .. } | Stored::Plain { size, .. } => Ok(size),
        Stored::Tied(j) => match a.stored(j) {
            Some(Stored::Frame { size, .. } | Stored::Plain { size, .. }) => Ok(size),
            _ => Err(Error::Corrupt),
        },
    }
}

/// Tensor `i`'s frame, verified, must declare the tensor's `n` bytes.
fn verify_tensor(a: &Archive<'_>, i: usize, n: u64) -> Result<()> {
    let f = a.frame_at(i)?;
    crate::verify(&f)?;
    if crate::decompressed_size(&f)? != n {
        return Err(Error::Corrupt);
    }
    Ok(())
}

/// Tensor `i`'s frame header must declare the tensor's `n` bytes (read without the rest of
/// the frame).
fn check_tensor_header(a: &Archive<'_>, i: usize, n: u64) -> Result<()> {
    if a.frame_header_at(i)?.original_size != n {
        return Err(Error::Corrupt);
    }
    Ok(())
}

/// The size to allocate for decoding tensor `i` of an archive (`NotFound` past the end).
/// Its frame header must declare the tensor's length (`Corrupt` otherwise); when the
/// tensor is at least [`PRE_VERIFY_RATIO`] times its frame, the frame is read and verified.
pub fn tensor_alloc_size(a: &Archive<'_>, i: usize, opts: &DecompressOptions) -> Result<usize> {
    let t = a.tensors().get(i).ok_or(Error::NotFound)?;
    let n = t.data_offsets.1 - t.data_offsets.0;
    let stored = frame_len(a, i)?;
    let mut verified = false;
    let size = checked(n, stored, opts.max_size, || {
        verified = true;
        verify_tensor(a, i, n)
    })?;
    if !verified {
        check_tensor_header(a, i, n)?;
    }
    Ok(size)
}

/// The size to allocate for restoring the whole original file of an archive: its length
/// against the limit, every frame header against its tensor's length, and every frame
/// verified when the file is at least [`PRE_VERIFY_RATIO`] times the frames and header
/// that declare it.
pub fn restore_alloc_size(a: &Archive<'_>, opts: &DecompressOptions) -> Result<usize> {
    let mut stored = a.header_json().len() as u64;
    let mut frames = Vec::new();
    for (i, t) in a.tensors().iter().enumerate() {
        match a.stored(i) {
            Some(Stored::Frame { size, .. }) => {
                stored = stored.saturating_add(size);
                frames.push((i, t.data_offsets.1 - t.data_offsets.0));
            }
            // Bytes kept as they are (files of the reference package) count as stored.
            Some(Stored::Plain { size, .. }) => stored = stored.saturating_add(size),
            _ => {}
        }
    }
    let mut verified = false;
    let size = checked(a.restored_size(), stored, opts.max_size, || {
        verified = true;
        frames.iter().try_for_each(|&(i, n)| verify_tensor(a, i, n))
    })?;
    if !verified {
        frames
            .iter()
            .try_for_each(|&(i, n)| check_tensor_header(a, i, n))?;
    }
    Ok(size)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_rule_in_order_limit_size_then_verify() {
        let fail = || Err(Error::Checksum);
        // Over the limit: refused before anything else.
        assert_eq!(checked(100, 1, 99, fail), Err(Error::LimitExceeded));
        // At the ratio: verified; below it: not.
        assert_eq!(checked(80, 10, 0, fail), Err(Error::Checksum));
        assert_eq!(checked(79, 10, 0, fail), Ok(79));
        assert_eq!(checked(80, 10, 80, || Ok(())), Ok(80));
        // Not addressable.
        assert_eq!(checked(u64::MAX, 1, 0, || Ok(())), Err(Error::SrcTooLarge));
        assert_eq!(file_limit(0), DEFAULT_FILE_LIMIT);
        assert_eq!(file_limit(5), 5);
    }
}
