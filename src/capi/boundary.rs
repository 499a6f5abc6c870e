//! Panic containment and pointer checks shared by every exported function.

use std::ffi::c_void;
use std::panic::{catch_unwind, AssertUnwindSafe};

use crate::error::Error;

/// Runs `f`, turning a panic into `on_panic`.
pub(crate) fn guard<T>(on_panic: T, f: impl FnOnce() -> T) -> T {
    catch_unwind(AssertUnwindSafe(f)).unwrap_or(on_panic)
}

/// Wraps the body of an exported function that returns a status: `Err(e)` becomes
/// `e.code()`, and a panic becomes `ZIPNN_ERROR_INTERNAL_PANIC`.
macro_rules! ffi_status {
    ($body:block) => {
        $crate::capi::boundary::guard($crate::error::Error::InternalPanic.code(), || {
            let body = || -> ::std::result::Result<(), $crate::error::Error> { $body };
            match body() {
                Ok(()) => $crate::capi::status::ZIPNN_OK,
                Err(e) => e.code(),
            }
        })
    };
}

/// An out-parameter from C, checked non-NULL: [`Out::set`] writes the result through it.
/// Made by [`out_ptr!`]; written only on success, at the end of a call.
pub(crate) struct Out<'a, T> {
    ptr: std::ptr::NonNull<T>,
    _borrow: std::marker::PhantomData<&'a mut T>,
}

impl<T> Out<'_, T> {
    /// `Err(NullPointer)` for NULL.
    ///
    /// # Safety
    /// If `p` is not NULL it must point to a writable, suitably aligned `T` for the call.
    pub(crate) unsafe fn new(p: *mut T) -> Result<Self, Error> {
        let ptr = std::ptr::NonNull::new(p).ok_or(Error::NullPointer)?;
        Ok(Out {
            ptr,
            _borrow: std::marker::PhantomData,
        })
    }

    /// Writes `v` (the previous contents, possibly uninitialised, are not read or dropped).
    pub(crate) fn set(self, v: T) {
        // SAFETY: `new`'s contract: non-NULL and writable for the call.
        unsafe { self.ptr.as_ptr().write(v) }
    }
}

/// The out-parameter `$p`, checked: NULL returns `Err(Error::NullPointer)` from the
/// enclosing body; otherwise an [`Out`] to write the result through with `.set(v)`.
macro_rules! out_ptr {
    ($p:expr) => {{
        // SAFETY: every exported function's contract: a non-NULL out-parameter points to a
        // writable value of its type for the duration of the call.
        unsafe { $crate::capi::boundary::Out::new($p) }?
    }};
}

/// The object behind a handle or input-struct pointer `$p`, as a shared reference: NULL
/// returns `Err(Error::NullPointer)` from the enclosing body.
macro_rules! ref_ptr {
    ($p:expr) => {{
        // SAFETY: every exported function's contract: a non-NULL handle is live (from its
        // `_new`/`_open` function, not yet freed) and not written by another thread now.
        unsafe { $p.as_ref() }.ok_or($crate::error::Error::NullPointer)?
    }};
}

/// As [`ref_ptr!`], as an exclusive reference (a handle that this call changes).
macro_rules! mut_ptr {
    ($p:expr) => {{
        // SAFETY: as in `ref_ptr!`, and the handle is used by no other thread now.
        unsafe { $p.as_mut() }.ok_or($crate::error::Error::NullPointer)?
    }};
}

/// An input buffer from C: `(NULL, 0)` is empty, `(NULL, n > 0)` is an error.
///
/// # Safety
/// If `ptr` is not NULL it must point to `len` readable bytes that stay valid and unchanged
/// for `'a`.
pub(crate) unsafe fn in_buf<'a>(ptr: *const c_void, len: usize) -> Result<&'a [u8], Error> {
    if len == 0 {
        return Ok(&[]);
    }
    if ptr.is_null() {
        return Err(Error::NullPointer);
    }
    if len > isize::MAX as usize {
        return Err(Error::InvalidParam);
    }
    // SAFETY: non-NULL and, by the caller's contract, valid for `len` bytes.
    Ok(unsafe { std::slice::from_raw_parts(ptr as *const u8, len) })
}

/// An output buffer from C: `(NULL, 0)` is empty, `(NULL, n > 0)` is an error.
///
/// # Safety
/// If `ptr` is not NULL it must point to `len` writable bytes that nothing else accesses
/// for `'a`.
pub(crate) unsafe fn out_buf<'a>(ptr: *mut c_void, len: usize) -> Result<&'a mut [u8], Error> {
    if len == 0 {
        return Ok(&mut []);
    }
    if ptr.is_null() {
        return Err(Error::NullPointer);
    }
    if len > isize::MAX as usize {
        return Err(Error::InvalidParam);
    }
    // SAFETY: non-NULL and, by the caller's contract, valid and exclusive for `len` bytes.
    Ok(unsafe { std::slice::from_raw_parts_mut(ptr as *mut u8, len) })
}

/// Whether two byte ranges share any byte (an input must not overlap the output).
pub(crate) fn overlaps(a: *const c_void, a_len: usize, b: *const c_void, b_len: usize) -> bool {
    if a_len == 0 || b_len == 0 {
        return false;
    }
    let (a, b) = (a as usize, b as usize);
    a < b.saturating_add(b_len) && b < a.saturating_add(a_len)
}

/// An input and an output buffer from C, checked together: they must not overlap
/// (`InvalidParam`), then each as `in_buf` / `out_buf`.
///
/// # Safety
/// As `in_buf` for `src` and `out_buf` for `dst`.
pub(crate) unsafe fn in_out_bufs<'a, 'b>(
    src: *const c_void,
    src_size: usize,
    dst: *mut c_void,
    dst_capacity: usize,
) -> Result<(&'a [u8], &'b mut [u8]), Error> {
    if overlaps(src, src_size, dst, dst_capacity) {
        return Err(Error::InvalidParam);
    }
    // SAFETY: the caller's contract, passed on; the two ranges do not overlap (above).
    unsafe { Ok((in_buf(src, src_size)?, out_buf(dst, dst_capacity)?)) }
}

/// The largest `struct_size` a caller may declare: a larger one is `InvalidParam`, so that
/// an uninitialised struct fails instead of making the library read or write far past it.
pub(crate) const MAX_STRUCT_SIZE: usize = 1024;

/// The `struct_size` a caller declared in the first field of an output struct that can
/// grow (`zipnn_frame_info`, `zipnn_stream_info`, `zipnn_tensor_info`): NULL is
/// `NullPointer`, below 8 or above [`MAX_STRUCT_SIZE`] is `InvalidParam`.
///
/// # Safety
/// If `out` is not NULL it must point to at least a `u32` `struct_size` field.
pub(crate) unsafe fn declared_size<T>(out: *const T) -> Result<usize, Error> {
    if out.is_null() {
        return Err(Error::NullPointer);
    }
    // SAFETY: non-NULL and, by the caller's contract, starts with a u32.
    let declared = unsafe { (out as *const u32).read_unaligned() } as usize;
    if !(8..=MAX_STRUCT_SIZE).contains(&declared) {
        return Err(Error::InvalidParam);
    }
    Ok(declared)
}

/// Writes `value` to a caller's growable output struct, at most `declared` bytes of it (an
/// older caller's shorter struct gets the fields it knows).
///
/// # Safety
/// `out` must point to `declared` writable bytes (what `declared_size` read).
pub(crate) unsafe fn write_sized<T: Copy>(out: *mut T, declared: usize, value: &T) {
    let n = declared.min(std::mem::size_of::<T>());
    // SAFETY: `value` is a local of size_of::<T>() >= n bytes; the caller declared
    // `declared` >= n writable bytes at `out`.
    unsafe { std::ptr::copy_nonoverlapping(value as *const T as *const u8, out as *mut u8, n) };
}
