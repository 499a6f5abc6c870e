//! Delta against a base of the same length: the frame codes `input XOR base` and records
//! the base's XXH3-64, so a different base is refused rather than silently misapplied
//! (docs/FORMAT.md section 3.2).

use crate::error::{Error, Result};
use crate::frame::checksum;

/// The hash a delta frame records for its base.
pub fn base_hash(base: &[u8]) -> u64 {
    checksum(base)
}

/// `dst ^= base`, element-wise over equal lengths.
pub fn xor_in_place(dst: &mut [u8], base: &[u8]) {
    debug_assert_eq!(dst.len(), base.len());
    let mut d = dst.chunks_exact_mut(8);
    let mut b = base.chunks_exact(8);
    for (x, y) in (&mut d).zip(&mut b) {
        let v = u64::from_ne_bytes(x[..8].try_into().unwrap_or([0; 8]))
            ^ u64::from_ne_bytes(y.try_into().unwrap_or([0; 8]));
        x.copy_from_slice(&v.to_ne_bytes());
    }
    for (x, y) in d.into_remainder().iter_mut().zip(b.remainder()) {
        *x ^= y;
    }
}

/// Checks that `base` is the one a frame with `hash` over `len` bytes was made against.
pub fn check_base(base: &[u8], len: u64, hash: u64) -> Result<()> {
    if base.len() as u64 != len || base_hash(base) != hash {
        return Err(Error::BaseMismatch);
    }
    Ok(())
}
