//! The C ABI: the only place with `extern "C"` and `#[no_mangle]`.
//!
//! Conventions (README "API conventions"): every function returns a `zipnn_status`
//! (0 = `ZIPNN_OK`, negative = error) unless it returns a size, string or number; sizes come
//! back through out-parameters that are written only on success; input buffers are `const`
//! and never written; `(NULL, 0)` is an empty buffer and `(NULL, n > 0)` is
//! `ZIPNN_ERROR_NULL_POINTER`; a panic never crosses the boundary
//! (`ZIPNN_ERROR_INTERNAL_PANIC`). Functions without a handle are safe to call from many
//! threads at once: none keeps state between calls. A stream handle (`zipnn_cstream`,
//! `zipnn_dstream`) must not be used by two threads at once; different handles may be.

#![allow(non_camel_case_types)]
#![allow(clippy::not_unsafe_ptr_arg_deref)]
#![deny(missing_docs)]
#![deny(unsafe_op_in_unsafe_fn)]
#![deny(clippy::undocumented_unsafe_blocks)]

#[macro_use]
mod boundary;
// The tiers, in the header's reading order (cbindgen keeps the order of these declarations;
// the blank lines keep rustfmt from sorting them).
mod version;

mod status;

mod options;

mod oneshot;

mod frame;

mod stream;

mod delta;

mod archive;

pub use archive::*;
pub use delta::*;
pub use frame::*;
pub use oneshot::*;
pub use options::*;
pub use status::*;
pub use stream::*;
pub use version::*;
