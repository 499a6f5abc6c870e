//! Safetensors archives: compress a safetensors file tensor by tensor, open an archive
//! from memory or from a file, list its tensors and decode one into a caller's buffer.

use std::borrow::Cow;
use std::ffi::{c_char, c_void, CStr};
use std::mem::size_of;

use super::boundary::{declared_size, in_buf, in_out_bufs, out_buf, overlaps, write_sized};
use super::options::{read_options, to_decompress_options, to_options_unchecked, zipnn_options};
use super::status::zipnn_status;
use crate::container::safetensors::{self, Archive, BaseModel, Stored};
use crate::error::Error;
use crate::DecompressOptions;

/// Tensor flag: the tensor repeats an earlier tensor's bytes and is stored once
/// (`zipnn_tensor_info.tied_to` names that tensor).
pub const ZIPNN_TENSOR_TIED: u32 = 1;
/// Tensor flag: the tensor is a delta against the base model's tensor of the same name; it
/// decodes only after `zipnn_archive_set_base_*()`.
pub const ZIPNN_TENSOR_DELTA: u32 = 2;
/// Tensor flag: the tensor went through a lossy step (`lossy_mode`, `lossy_param`).
pub const ZIPNN_TENSOR_LOSSY: u32 = 4;

/// An opened safetensors archive (opaque). Read-only after opening: many threads may call
/// `zipnn_archive_tensor_info()` and `zipnn_archive_decode()` on one handle at once, but
/// `zipnn_archive_set_base_*()` and `zipnn_archive_free()` must not race with anything.
pub struct zipnn_archive {
    archive: Archive<'static>,
    /// Each tensor's name and safetensors dtype, NUL-terminated.
    names: Vec<Vec<u8>>,
    dtypes: Vec<Vec<u8>>,
    /// The base model of a delta archive: borrowed from the caller (valid until the handle
    /// is freed or the base replaced, which the 'static stands for) or read from a file.
    base: Option<BaseModel<'static>>,
    opts: DecompressOptions,
    /// The caller's archive bytes for a handle opened from memory (empty for a file), so
    /// that an output buffer overlapping them is refused.
    mem: (*const u8, usize),
}

impl zipnn_archive {
    fn new(
        archive: Archive<'static>,
        opts: DecompressOptions,
        mem: &'static [u8],
    ) -> Box<zipnn_archive> {
        let nul = |s: &str| {
            let mut v = s.as_bytes().to_vec();
            v.push(0);
            v
        };
        let names = archive.tensors().iter().map(|t| nul(&t.name)).collect();
        let dtypes = archive.tensors().iter().map(|t| nul(&t.dtype)).collect();
        Box::new(zipnn_archive {
            archive,
            names,
            dtypes,
            base: None,
            opts,
            mem: (mem.as_ptr(), mem.len()),
        })
    }

    /// Whether `dst` overlaps memory the handle reads: the archive opened from memory or a
    /// borrowed base.
    fn overlaps_input(&self, dst: *const c_void, dst_len: usize) -> bool {
        let base = self.base.as_ref().map_or(&[][..], |b| b.bytes());
        overlaps(self.mem.0 as *const c_void, self.mem.1, dst, dst_len)
            || overlaps(base.as_ptr() as *const c_void, base.len(), dst, dst_len)
    }
}

/// What one tensor of an archive is. Set `struct_size` to `sizeof(zipnn_tensor_info)`
/// before the call; the library fills the fields that fit. The pointers belong to the
/// archive handle and stay valid until `zipnn_archive_free()`.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct zipnn_tensor_info {
    /// `sizeof(zipnn_tensor_info)` as the caller was compiled (set by the caller).
    pub struct_size: u32,
    /// `ZIPNN_DTYPE_*` the tensor is coded with (`ZIPNN_DTYPE_RAW` for integer and bool
    /// tensors).
    pub dtype: u32,
    /// The tensor's name (`name_len` bytes, then a NUL; a name may itself contain NULs).
    pub name: *const c_char,
    /// Length of `name` in bytes, without the final NUL.
    pub name_len: usize,
    /// The safetensors dtype string ("BF16", "F32", "I64", ...), NUL-terminated.
    pub safetensors_dtype: *const c_char,
    /// `ndim` dimensions (NULL when `ndim` is 0: a scalar).
    pub shape: *const u64,
    /// Number of dimensions.
    pub ndim: u32,
    /// `ZIPNN_TENSOR_*` bits.
    pub flags: u32,
    /// Byte offset of the tensor in the original file's data section.
    pub data_offset: u64,
    /// The tensor's length in bytes (what `zipnn_archive_decode()` writes).
    pub size: u64,
    /// Length of its frame in the archive (0 for a tied tensor).
    pub compressed_size: u64,
    /// For a tied tensor, the index of the tensor it repeats; otherwise `UINT64_MAX`.
    pub tied_to: u64,
    /// `ZIPNN_LOSSY_*` of the tensor's frame.
    pub lossy_mode: u32,
    /// The lossy mode's parameter.
    pub lossy_param: u32,
}

/// A C string argument as UTF-8 (a path): NULL is `NULL_POINTER`, invalid UTF-8
/// `INVALID_PARAM`.
///
/// # Safety
/// If non-NULL, `p` must point to a NUL-terminated string.
unsafe fn c_str<'a>(p: *const c_char) -> Result<&'a str, Error> {
    if p.is_null() {
        return Err(Error::NullPointer);
    }
    // SAFETY: non-NULL and NUL-terminated by the caller's contract.
    unsafe { CStr::from_ptr(p) }
        .to_str()
        .map_err(|_| Error::InvalidParam)
}

/// Opens an archive held in memory. The archive is **borrowed**: `src` must stay valid and
/// unchanged until `zipnn_archive_free()`. Its header, JSON and index are validated now;
/// tensors are decoded on demand. `opts` (NULL = defaults) gives `threads` and
/// `max_decompressed_size` for every decode; it is copied. On `ZIPNN_OK`, `*out` is the new
/// handle. Errors: `NULL_POINTER`, `INVALID_PARAM`, `BAD_MAGIC`, `UNSUPPORTED_VERSION`,
/// `UNSUPPORTED_FLAGS`, `TRUNCATED`, `CORRUPT`, `CHECKSUM`, `ALLOC`. Thread-safe.
#[no_mangle]
#[must_use]
pub extern "C" fn zipnn_archive_open_memory(
    src: *const c_void,
    src_size: usize,
    opts: *const zipnn_options,
    out: *mut *mut zipnn_archive,
) -> zipnn_status {
    ffi_status!({
        let o = to_decompress_options(&read_options(opts)?)?;
        let out = out_ptr!(out);
        // SAFETY: the caller's contract: `src` readable, valid and unchanged until the
        // handle is freed, which is what the 'static borrow stands for.
        let src: &'static [u8] = unsafe { in_buf(src, src_size)? };
        let h = zipnn_archive::new(Archive::open(src)?, o, src);
        out.set(Box::into_raw(h));
        Ok(())
    })
}

/// Opens an archive file (`path`: NUL-terminated UTF-8). Only its header and index are
/// read now; each decode reads just that tensor's frame, so memory stays at one tensor.
/// `opts` as for `zipnn_archive_open_memory()`, except that `max_decompressed_size` 0 (and
/// NULL `opts`) means `ZIPNN_DEFAULT_FILE_LIMIT` here: a stranger's file cannot make the
/// `*_alloc_size` calls, and so the SDKs, allocate more than that by default
/// (`ZIPNN_NO_LIMIT` lifts it). Errors: as that function, plus `IO` (the file cannot be
/// opened or read). Thread-safe.
#[no_mangle]
#[must_use]
pub extern "C" fn zipnn_archive_open_file(
    path: *const c_char,
    opts: *const zipnn_options,
    out: *mut *mut zipnn_archive,
) -> zipnn_status {
    ffi_status!({
        let mut o = to_decompress_options(&read_options(opts)?)?;
        o.max_size = crate::limit::file_limit(o.max_size);
        let out = out_ptr!(out);
        // SAFETY: the caller passes a NUL-terminated string.
        let path = unsafe { c_str(path)? };
        let h = zipnn_archive::new(Archive::open_file(path)?, o, &[]);
        out.set(Box::into_raw(h));
        Ok(())
    })
}

/// Frees a handle (NULL is ignored). Pointers from `zipnn_archive_tensor_info()` and
/// `zipnn_archive_header_json()` die with it.
#[no_mangle]
pub extern "C" fn zipnn_archive_free(a: *mut zipnn_archive) {
    super::boundary::guard((), || {
        if !a.is_null() {
            // SAFETY: `a` came from Box::into_raw in zipnn_archive_open_* and is freed once.
            drop(unsafe { Box::from_raw(a) });
        }
    })
}

/// Gives a delta archive its base: the base model's safetensors file (uncompressed), held
/// in memory and **borrowed** until the handle is freed or another base is set. Delta
/// tensors are matched to the base by name; a base whose tensor differs gives
/// `BASE_MISMATCH` at decode time. Errors: `NULL_POINTER`, `BAD_SAFETENSORS`. Not
/// thread-safe with other calls on the same handle.
#[no_mangle]
#[must_use]
pub extern "C" fn zipnn_archive_set_base_memory(
    a: *mut zipnn_archive,
    base: *const c_void,
    base_size: usize,
) -> zipnn_status {
    ffi_status!({
        let h = mut_ptr!(a);
        // SAFETY: the caller's contract: `base` readable for `base_size` bytes, valid and
        // unchanged until the handle is freed or the base replaced (the 'static borrow).
        let b: &'static [u8] = unsafe { in_buf(base, base_size)? };
        h.base = Some(BaseModel::new(Cow::Borrowed(b))?);
        Ok(())
    })
}

/// As `zipnn_archive_set_base_memory()`, reading the base safetensors file at `path` into
/// memory owned by the handle. Errors: also `IO`.
#[no_mangle]
#[must_use]
pub extern "C" fn zipnn_archive_set_base_file(
    a: *mut zipnn_archive,
    path: *const c_char,
) -> zipnn_status {
    ffi_status!({
        let h = mut_ptr!(a);
        // SAFETY: the caller passes a NUL-terminated string.
        let path = unsafe { c_str(path)? };
        h.base = Some(BaseModel::read_file(path)?);
        Ok(())
    })
}

/// Writes the number of tensors to `*out_count`. Errors: `NULL_POINTER`.
#[no_mangle]
#[must_use]
pub extern "C" fn zipnn_archive_tensor_count(
    a: *const zipnn_archive,
    out_count: *mut usize,
) -> zipnn_status {
    ffi_status!({
        let h = ref_ptr!(a);
        let out_count = out_ptr!(out_count);
        out_count.set(h.archive.tensors().len());
        Ok(())
    })
}

/// Finds the tensor named by the `name_len` bytes at `name` (no NUL needed) and writes its
/// index to `*out_index`. Errors: `NULL_POINTER`, `NOT_FOUND`. Thread-safe.
#[no_mangle]
#[must_use]
pub extern "C" fn zipnn_archive_find(
    a: *const zipnn_archive,
    name: *const c_char,
    name_len: usize,
    out_index: *mut usize,
) -> zipnn_status {
    ffi_status!({
        let h = ref_ptr!(a);
        let out_index = out_ptr!(out_index);
        // SAFETY: the caller's contract: `name` readable for `name_len` bytes.
        let name = unsafe { in_buf(name as *const c_void, name_len)? };
        // Names are UTF-8 (JSON strings): other bytes name no tensor.
        let name = std::str::from_utf8(name).map_err(|_| Error::NotFound)?;
        let i = h.archive.index_of(name)?;
        out_index.set(i);
        Ok(())
    })
}

/// Fills `*info` for tensor `index` (0-based, in the order of the data section). Errors:
/// `NULL_POINTER`, `INVALID_PARAM` (`struct_size` below 8), `NOT_FOUND` (index out of
/// range), `IO`, and frame errors for a damaged frame header. Thread-safe.
#[no_mangle]
#[must_use]
pub extern "C" fn zipnn_archive_tensor_info(
    a: *const zipnn_archive,
    index: usize,
    info: *mut zipnn_tensor_info,
) -> zipnn_status {
    ffi_status!({
        let h = ref_ptr!(a);
        // SAFETY: the caller passes a zipnn_tensor_info whose first field is struct_size.
        let declared = unsafe { declared_size(info)? };
        let t = h.archive.tensors().get(index).ok_or(Error::NotFound)?;
        let fh = h.archive.frame_header_at(index)?;
        let stored = h.archive.stored(index).ok_or(Error::NotFound)?;
        let mut flags = 0;
        if fh.base_hash.is_some() {
            flags |= ZIPNN_TENSOR_DELTA;
        }
        if fh.lossy != crate::Lossy::None {
            flags |= ZIPNN_TENSOR_LOSSY;
        }
        let (compressed_size, tied_to) = match stored {
            Stored::Frame { size, .. } | Stored::Plain { size, .. } => (size, u64::MAX),
            Stored::Tied(j) => {
                flags |= ZIPNN_TENSOR_TIED;
                (0, j as u64)
            }
        };
        let v = zipnn_tensor_info {
            struct_size: size_of::<zipnn_tensor_info>() as u32,
            dtype: fh.dtype as u32,
            name: h.names[index].as_ptr() as *const c_char,
            name_len: t.name.len(),
            safetensors_dtype: h.dtypes[index].as_ptr() as *const c_char,
            shape: if t.shape.is_empty() {
                std::ptr::null()
            } else {
                t.shape.as_ptr()
            },
            ndim: t.shape.len() as u32,
            flags,
            data_offset: t.data_offsets.0,
            size: t.data_offsets.1 - t.data_offsets.0,
            compressed_size,
            tied_to,
            lossy_mode: fh.lossy.code() as u32,
            lossy_param: fh.lossy.param() as u32,
        };
        // SAFETY: the caller declared `declared` writable bytes at `info`.
        unsafe { write_sized(info, declared, &v) };
        Ok(())
    })
}

/// Decodes tensor `index` alone into `dst` (at least its `size` bytes) and writes the
/// length to `*out_written`. Only this tensor's frame is read and checked; a damaged frame
/// leaves `dst` as it was. Errors: `NULL_POINTER`, `INVALID_PARAM` (`dst` overlaps the
/// archive or base memory the handle borrows), `NOT_FOUND`, `DST_TOO_SMALL`,
/// `LIMIT_EXCEEDED`, `BASE_REQUIRED` / `BASE_MISMATCH` (delta tensors), `IO`, and the
/// frame errors of `zipnn_decompress()`. Thread-safe.
#[no_mangle]
#[must_use]
pub extern "C" fn zipnn_archive_decode(
    a: *const zipnn_archive,
    index: usize,
    dst: *mut c_void,
    dst_capacity: usize,
    out_written: *mut usize,
) -> zipnn_status {
    ffi_status!({
        let h = ref_ptr!(a);
        let out_written = out_ptr!(out_written);
        if h.overlaps_input(dst, dst_capacity) {
            return Err(Error::InvalidParam);
        }
        // SAFETY: the caller's contract: `dst` writable for `dst_capacity` bytes, and it
        // overlaps nothing the handle reads (checked above).
        let dst = unsafe { out_buf(dst, dst_capacity)? };
        let base = h.base.as_ref().map(BaseModel::view);
        let n = h.archive.decode_at(index, base.as_ref(), dst, &h.opts)?;
        out_written.set(n);
        Ok(())
    })
}

/// Decodes `count` tensors at once: tensor `indices[k]` into `dsts[k]` (writable for
/// `capacities[k]` bytes, at least the tensor's size), its length written to
/// `out_written[k]`. The chunks of all their frames are spread over the handle's threads,
/// so that many small tensors keep every core busy (a `zipnn_archive_decode()` call per
/// tensor runs the threads only within each tensor). Every index, capacity and pointer is
/// checked before anything is read; each batch of frames (about 64 MiB from a file, all
/// of them from memory) has every checksum and base checked before any of it is written.
/// On error, outputs of earlier batches may hold their tensors, the others are untouched,
/// and `out_written` is not written. `count` = 0 does nothing (the arrays may then be
/// NULL). Errors: `NULL_POINTER`, `INVALID_PARAM` (two outputs overlap, or one overlaps
/// the archive or base memory the handle borrows), and those of `zipnn_archive_decode()`.
/// Thread-safe.
#[no_mangle]
#[must_use]
pub extern "C" fn zipnn_archive_decode_many(
    a: *const zipnn_archive,
    indices: *const usize,
    dsts: *const *mut c_void,
    capacities: *const usize,
    count: usize,
    out_written: *mut usize,
) -> zipnn_status {
    ffi_status!({
        let h = ref_ptr!(a);
        if count == 0 {
            return Ok(());
        }
        if indices.is_null() || dsts.is_null() || capacities.is_null() || out_written.is_null() {
            return Err(Error::NullPointer);
        }
        if count > isize::MAX as usize / size_of::<usize>() {
            return Err(Error::InvalidParam);
        }
        // Copied before any output is made: an array may lie inside an output.
        // SAFETY: the caller's contract: the three arrays hold `count` readable entries
        // (checked non-NULL above).
        let (idx, ptrs, caps) = unsafe {
            (
                std::slice::from_raw_parts(indices, count).to_vec(),
                std::slice::from_raw_parts(dsts, count).to_vec(),
                std::slice::from_raw_parts(capacities, count).to_vec(),
            )
        };
        // The outputs must not overlap each other or what the handle reads.
        let mut spans: Vec<(usize, usize)> = ptrs
            .iter()
            .zip(&caps)
            .filter(|(_, &c)| c > 0)
            .map(|(&p, &c)| (p as usize, c))
            .collect();
        spans.sort_unstable();
        if spans
            .windows(2)
            .any(|w| w[0].0.saturating_add(w[0].1) > w[1].0)
            || ptrs
                .iter()
                .zip(&caps)
                .any(|(&p, &c)| h.overlaps_input(p, c))
        {
            return Err(Error::InvalidParam);
        }
        let mut jobs = Vec::with_capacity(count);
        for ((&i, &p), &c) in idx.iter().zip(&ptrs).zip(&caps) {
            // SAFETY: the caller's contract: `p` writable for `c` bytes; the outputs overlap
            // neither each other nor anything the handle reads (checked above).
            jobs.push((i, unsafe { out_buf(p, c)? }));
        }
        let sizes = jobs
            .iter()
            .map(|&(i, _)| {
                let t = h.archive.tensors().get(i).ok_or(Error::NotFound)?;
                Ok((t.data_offsets.1 - t.data_offsets.0) as usize)
            })
            .collect::<Result<Vec<usize>, Error>>()?;
        let base = h.base.as_ref().map(BaseModel::view);
        h.archive.decode_many(jobs, base.as_ref(), &h.opts)?;
        // SAFETY: `out_written` holds `count` writable entries (the caller's contract,
        // non-NULL checked above), written only now, on success.
        let written = unsafe { std::slice::from_raw_parts_mut(out_written, count) };
        written.copy_from_slice(&sizes);
        Ok(())
    })
}

/// Points `*out_json` at the original JSON header (verbatim, `*out_len` bytes, not
/// NUL-terminated), owned by the handle. Errors: `NULL_POINTER`.
#[no_mangle]
#[must_use]
pub extern "C" fn zipnn_archive_header_json(
    a: *const zipnn_archive,
    out_json: *mut *const c_char,
    out_len: *mut usize,
) -> zipnn_status {
    ffi_status!({
        let h = ref_ptr!(a);
        let (out_json, out_len) = (out_ptr!(out_json), out_ptr!(out_len));
        let j = h.archive.header_json();
        out_json.set(j.as_ptr() as *const c_char);
        out_len.set(j.len());
        Ok(())
    })
}

/// Writes the length of the original safetensors file to `*out_size`. Errors:
/// `NULL_POINTER`.
#[no_mangle]
#[must_use]
pub extern "C" fn zipnn_archive_restored_size(
    a: *const zipnn_archive,
    out_size: *mut u64,
) -> zipnn_status {
    ffi_status!({
        let h = ref_ptr!(a);
        let out_size = out_ptr!(out_size);
        out_size.set(h.archive.restored_size());
        Ok(())
    })
}

/// Restores the whole original safetensors file, byte for byte, into `dst` (at least
/// `zipnn_archive_restored_size()` bytes). Errors: as `zipnn_archive_decode()`. On error
/// `dst` may hold part of the file. Thread-safe.
#[no_mangle]
#[must_use]
pub extern "C" fn zipnn_archive_restore(
    a: *const zipnn_archive,
    dst: *mut c_void,
    dst_capacity: usize,
    out_written: *mut usize,
) -> zipnn_status {
    ffi_status!({
        let h = ref_ptr!(a);
        let out_written = out_ptr!(out_written);
        if h.overlaps_input(dst, dst_capacity) {
            return Err(Error::InvalidParam);
        }
        // SAFETY: the caller's contract: `dst` writable for `dst_capacity` bytes, and it
        // overlaps nothing the handle reads (checked above).
        let dst = unsafe { out_buf(dst, dst_capacity)? };
        let base = h.base.as_ref().map(BaseModel::view);
        let n = h.archive.restore_into(base.as_ref(), dst, &h.opts)?;
        out_written.set(n);
        Ok(())
    })
}

/// Writes to `*out_size` how many bytes to allocate for decoding tensor `index`, after
/// checking, before anything is allocated: the handle's `max_decompressed_size`
/// (`LIMIT_EXCEEDED`; for an archive opened from a file, `ZIPNN_DEFAULT_FILE_LIMIT` unless
/// the caller set another), that its frame declares the tensor's length (`CORRUPT`), that
/// the size is addressable (`SRC_TOO_LARGE`), and, when the tensor is at least
/// `ZIPNN_PRE_VERIFY_RATIO` times its frame, every checksum of the frame (`CHECKSUM`; the
/// frame is read from the file for it). This is the call to make before allocating for
/// `zipnn_archive_decode()` (the SDKs do). Errors: `NULL_POINTER`, `NOT_FOUND`, `IO`, and
/// those above. Thread-safe.
#[no_mangle]
#[must_use]
pub extern "C" fn zipnn_archive_decode_alloc_size(
    a: *const zipnn_archive,
    index: usize,
    out_size: *mut usize,
) -> zipnn_status {
    ffi_status!({
        let h = ref_ptr!(a);
        let out_size = out_ptr!(out_size);
        out_size.set(crate::limit::tensor_alloc_size(&h.archive, index, &h.opts)?);
        Ok(())
    })
}

/// As `zipnn_archive_decode_alloc_size()`, for `zipnn_archive_restore()`: the length of
/// the whole original file against the handle's limit, every frame header against its
/// tensor, and every frame verified when the file is at least `ZIPNN_PRE_VERIFY_RATIO`
/// times the archive's frames and header. Thread-safe.
#[no_mangle]
#[must_use]
pub extern "C" fn zipnn_archive_restore_alloc_size(
    a: *const zipnn_archive,
    out_size: *mut usize,
) -> zipnn_status {
    ffi_status!({
        let h = ref_ptr!(a);
        let out_size = out_ptr!(out_size);
        out_size.set(crate::limit::restore_alloc_size(&h.archive, &h.opts)?);
        Ok(())
    })
}

/// Writes to `*out_bound` the largest archive `zipnn_safetensors_compress()` can make of
/// the safetensors file at `src` with `opts`. Errors: `NULL_POINTER`, `INVALID_PARAM`,
/// `BAD_SAFETENSORS`, `SRC_TOO_LARGE`. Thread-safe.
#[no_mangle]
#[must_use]
pub extern "C" fn zipnn_safetensors_compress_bound(
    opts: *const zipnn_options,
    src: *const c_void,
    src_size: usize,
    out_bound: *mut usize,
) -> zipnn_status {
    ffi_status!({
        let o = to_options_unchecked(&read_options(opts)?)?;
        let out_bound = out_ptr!(out_bound);
        // SAFETY: the caller's contract: `src` readable for `src_size` bytes.
        let src = unsafe { in_buf(src, src_size)? };
        let n = safetensors::compress_bound(src, &o)?;
        out_bound.set(n);
        Ok(())
    })
}

/// Compresses the safetensors file at `src` into an archive at `dst`: each tensor coded
/// with its own dtype (`opts.dtype` and `opts.bg_partitions` are ignored; a lossy mode
/// applies to the float tensors whose dtype it suits and must suit one of bf16, fp16, fp32
/// and fp64), tied tensors stored once, and, when `base` is not NULL,
/// each tensor that the base file (`base_size` bytes of the base model's safetensors) has
/// with the same name, dtype and shape coded as a delta against it (`base` NULL with a
/// nonzero `base_size` is `NULL_POINTER`). Errors: `NULL_POINTER`, `INVALID_PARAM`, `BAD_SAFETENSORS` (`src` or `base`), `DST_TOO_SMALL`,
/// `ALLOC`. `src` and `base` are never written. With `dst_capacity` at least
/// `zipnn_safetensors_compress_bound()`, the tensors are coded straight into `dst` and
/// nothing the size of the archive is allocated; with less, the archive is made aside and
/// copied if it fits (`DST_TOO_SMALL` comes after the work then). Thread-safe.
#[no_mangle]
#[must_use]
#[allow(clippy::too_many_arguments)]
pub extern "C" fn zipnn_safetensors_compress(
    opts: *const zipnn_options,
    base: *const c_void,
    base_size: usize,
    src: *const c_void,
    src_size: usize,
    dst: *mut c_void,
    dst_capacity: usize,
    out_written: *mut usize,
) -> zipnn_status {
    ffi_status!({
        let o = to_options_unchecked(&read_options(opts)?)?;
        let out_written = out_ptr!(out_written);
        if overlaps(base, base_size, dst, dst_capacity) {
            return Err(Error::InvalidParam);
        }
        // SAFETY: the caller's contract; `src`/`dst` overlap is checked by in_out_bufs.
        let (src, dst) = unsafe { in_out_bufs(src, src_size, dst, dst_capacity)? };
        let base = if base.is_null() && base_size == 0 {
            None
        } else if base.is_null() {
            return Err(Error::NullPointer);
        } else {
            // SAFETY: the caller's contract: `base` readable for `base_size` bytes.
            Some(unsafe { in_buf(base, base_size)? })
        };
        let n = safetensors::compress_with_base_to(src, base, &o, dst)?;
        out_written.set(n);
        Ok(())
    })
}
