//! `zipnn_options`, its initialiser and its conversion to [`Options`], and what the library
//! knows about each dtype.

use std::ffi::{c_char, CString};
use std::mem::size_of;
use std::sync::OnceLock;

use super::boundary::MAX_STRUCT_SIZE;
use super::status::zipnn_status;
use crate::error::Error;
use crate::options::{
    DType, Level, Lossy, Method, Options, Target, DEFAULT_LZ4_LEVEL, DEFAULT_THRESHOLD,
    DEFAULT_ZSTD_LEVEL,
};
use crate::DecompressOptions;

/// Bytes of no known type (grouped into `bg_partitions` planes).
pub const ZIPNN_DTYPE_RAW: u32 = 0;
/// bfloat16.
pub const ZIPNN_DTYPE_BF16: u32 = 1;
/// IEEE 754 binary16.
pub const ZIPNN_DTYPE_FP16: u32 = 2;
/// IEEE 754 binary32.
pub const ZIPNN_DTYPE_FP32: u32 = 3;
/// IEEE 754 binary64.
pub const ZIPNN_DTYPE_FP64: u32 = 4;
/// 8-bit float e4m3fn.
pub const ZIPNN_DTYPE_FP8_E4M3: u32 = 5;
/// 8-bit float e5m2.
pub const ZIPNN_DTYPE_FP8_E5M2: u32 = 6;
/// Signed 8-bit integers.
pub const ZIPNN_DTYPE_INT8: u32 = 7;
/// Unsigned 8-bit integers.
pub const ZIPNN_DTYPE_UINT8: u32 = 8;

/// Per plane-chunk, the smallest coding that pays (the default).
pub const ZIPNN_METHOD_AUTO: u32 = 0;
/// Huffman for every plane-chunk (raw or run where it does not pay).
pub const ZIPNN_METHOD_HUFFMAN: u32 = 1;
/// zstd for every plane-chunk (raw or run where it does not pay).
pub const ZIPNN_METHOD_ZSTD: u32 = 2;
/// lz4 for every plane-chunk (raw or run where it does not pay).
pub const ZIPNN_METHOD_LZ4: u32 = 3;
/// snappy for every plane-chunk (raw or run where it does not pay).
pub const ZIPNN_METHOD_SNAPPY: u32 = 4;
/// No entropy coding: planes stored raw (constant planes still collapse to runs).
pub const ZIPNN_METHOD_RAW: u32 = 5;

/// The default level (same as 2).
pub const ZIPNN_LEVEL_DEFAULT: i32 = 0;
/// Fastest: Huffman, run or raw per plane-chunk.
pub const ZIPNN_LEVEL_FAST: i32 = 1;
/// Smallest: Huffman, ANS and lz4 on every plane-chunk, zstd and snappy where lz4 finds
/// repeats; any coding smaller than raw is kept (the threshold does not apply).
pub const ZIPNN_LEVEL_MAX: i32 = 3;

/// Lossless (the default).
pub const ZIPNN_LOSSY_NONE: u32 = 0;
/// Fixed point: `q = round_half_even(x * 2^lossy_param)` stored as an integer of the
/// dtype's width; absolute error at most `2^-(lossy_param+1)` plus half an ulp. Data that
/// does not fit is coded losslessly instead (the frame then says lossless).
pub const ZIPNN_LOSSY_INTEGER: u32 = 1;
/// Keep `lossy_param` mantissa bits, round to nearest even: relative error at most
/// `2^-(lossy_param+1)`.
pub const ZIPNN_LOSSY_MANTISSA: u32 = 2;

/// Frames laid out to decode fast on every processor (the default).
pub const ZIPNN_TARGET_ANY: u32 = 0;
/// Frames laid out for x86-64 processors with AVX-512 VBMI and VBMI2 (AMD Zen 4 and later,
/// Intel Ice Lake and later), which decode them faster than `ZIPNN_TARGET_ANY` frames; any
/// other processor decodes them correctly, to the same bytes, but slower.
pub const ZIPNN_TARGET_AVX512: u32 = 1;

/// The decompression limit that an archive opened from a file gets when
/// `max_decompressed_size` is 0: 4 GiB, above the largest tensor of today's public models,
/// so that a stranger's file cannot make the process allocate more with default settings.
pub const ZIPNN_DEFAULT_FILE_LIMIT: u64 = 4294967296;
/// `max_decompressed_size` for no limit at all.
pub const ZIPNN_NO_LIMIT: u64 = 0xFFFF_FFFF_FFFF_FFFF;

/// Options for compression and decompression.
///
/// Initialise with `zipnn_options_init()` (or `ZIPNN_OPTIONS_INIT`), then change fields.
/// A field left 0 takes its default. `struct_size` lets the struct grow: a caller built
/// against an older, shorter struct passes its own size and the missing fields take their
/// defaults; a larger size is accepted when the bytes this library does not know are zero.
/// Plain data: safe to share between threads when nobody writes to it.
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct zipnn_options {
    /// `sizeof(zipnn_options)` as the caller was compiled; set by `zipnn_options_init()`.
    pub struct_size: u32,
    /// `ZIPNN_DTYPE_*` of the input (default `ZIPNN_DTYPE_RAW`).
    pub dtype: u32,
    /// `ZIPNN_METHOD_*` (default `ZIPNN_METHOD_AUTO`).
    pub method: u32,
    /// `ZIPNN_LEVEL_*`: 0 = default, 1 = fast, 2 = default, 3 = max.
    pub level: i32,
    /// Worker threads: 0 = all cores, 1 = only the calling thread.
    pub threads: u32,
    /// Input bytes per chunk: 0 (the default) = automatic, 2097152 for one-byte elements
    /// (int8, uint8, fp8, raw in one partition) at the default level of
    /// `ZIPNN_METHOD_AUTO`, 262144 otherwise; else 1024..=67108864 and a multiple of the
    /// element size. A frame records the size it was written with
    /// (`zipnn_frame_info.chunk_size`).
    pub chunk_size: u32,
    /// zstd level: 0 = 3; else -7..=22.
    pub zstd_level: i32,
    /// lz4 level: 0 = 1 (fast); 2..=12 = lz4hc.
    pub lz4_level: i32,
    /// A coded plane-chunk is kept only below this fraction of raw: 0 = 0.95; else (0, 1].
    /// Not applied at `ZIPNN_LEVEL_MAX` with `ZIPNN_METHOD_AUTO`, which keeps any saving.
    pub threshold: f32,
    /// For `ZIPNN_DTYPE_RAW`: group bytes into 1, 2, 4 or 8 planes (0 = 1). Must be 0 or 1
    /// for other dtypes.
    pub bg_partitions: u32,
    /// Decompression: refuse outputs larger than this many bytes (`LIMIT_EXCEEDED`).
    /// 0 = no limit, except for archives opened from a file, where 0 means
    /// `ZIPNN_DEFAULT_FILE_LIMIT`; `ZIPNN_NO_LIMIT` is no limit anywhere.
    pub max_decompressed_size: u64,
    /// `ZIPNN_LOSSY_*`: an opt-in lossy step (bf16, fp16, fp32, fp64 only); 0 = lossless.
    pub lossy_mode: u32,
    /// For `ZIPNN_LOSSY_INTEGER` the factor (fractional bits: at most 14 for 16-bit dtypes,
    /// 30 for fp32, 62 for fp64; the reference package's default is 27); for
    /// `ZIPNN_LOSSY_MANTISSA` the mantissa bits kept (below 7, 10, 23, 52 for bf16, fp16,
    /// fp32, fp64).
    pub lossy_param: u32,
    /// `ZIPNN_TARGET_*`: the processors the frames are laid out to decode fastest on
    /// (default `ZIPNN_TARGET_ANY`). Frames of every target decode on every processor to
    /// the same bytes; only the speed differs. Ignored by decompression.
    pub target: u32,
    /// Must be zero.
    pub reserved: [u32; 5],
}

impl Default for zipnn_options {
    fn default() -> Self {
        zipnn_options {
            struct_size: size_of::<zipnn_options>() as u32,
            dtype: ZIPNN_DTYPE_RAW,
            method: ZIPNN_METHOD_AUTO,
            level: ZIPNN_LEVEL_DEFAULT,
            threads: 0,
            chunk_size: 0,
            zstd_level: DEFAULT_ZSTD_LEVEL,
            lz4_level: DEFAULT_LZ4_LEVEL,
            threshold: DEFAULT_THRESHOLD,
            bg_partitions: 1,
            max_decompressed_size: 0,
            lossy_mode: ZIPNN_LOSSY_NONE,
            lossy_param: 0,
            target: ZIPNN_TARGET_ANY,
            reserved: [0; 5],
        }
    }
}

/// Fills `*opts` with the defaults, `struct_size` included. NULL is ignored. Thread-safe.
#[no_mangle]
pub extern "C" fn zipnn_options_init(opts: *mut zipnn_options) {
    super::boundary::guard((), || {
        if !opts.is_null() {
            // SAFETY: the caller passes a pointer to a writable zipnn_options.
            unsafe { opts.write(zipnn_options::default()) };
        }
    })
}

/// The library's name of a `ZIPNN_DTYPE_*` ("raw", "bf16", "fp16", "fp32", "fp64",
/// "fp8_e4m3", "fp8_e5m2", "int8", "uint8"): a static NUL-terminated string, never to be
/// freed; NULL for a code this library does not know. Thread-safe.
#[no_mangle]
pub extern "C" fn zipnn_dtype_name(dtype: u32) -> *const c_char {
    static NAMES: OnceLock<Vec<CString>> = OnceLock::new();
    super::boundary::guard(std::ptr::null(), || {
        let names = NAMES.get_or_init(|| {
            DType::ALL
                .iter()
                .map(|d| CString::new(d.name()).unwrap_or_default())
                .collect()
        });
        match DType::from_code(dtype) {
            Ok(d) => names[d as usize].as_ptr(),
            Err(_) => std::ptr::null(),
        }
    })
}

/// Writes to `*out_size` the bytes per element of a `ZIPNN_DTYPE_*` (1 for
/// `ZIPNN_DTYPE_RAW`). Errors: `NULL_POINTER`, `UNSUPPORTED_DTYPE`. Thread-safe.
#[no_mangle]
#[must_use]
pub extern "C" fn zipnn_dtype_element_size(dtype: u32, out_size: *mut usize) -> zipnn_status {
    ffi_status!({
        let out_size = out_ptr!(out_size);
        out_size.set(DType::from_code(dtype)?.element_size());
        Ok(())
    })
}

/// Reads a caller's options (NULL = defaults), honouring `struct_size`.
pub(crate) fn read_options(opts: *const zipnn_options) -> Result<zipnn_options, Error> {
    if opts.is_null() {
        return Ok(zipnn_options::default());
    }
    // SAFETY: the caller passes a pointer to at least a `struct_size` field.
    let declared = unsafe { (opts as *const u32).read_unaligned() } as usize;
    let ours = size_of::<zipnn_options>();
    // Capped: an uninitialised struct must fail, not make us read far past it.
    if !(8..=MAX_STRUCT_SIZE).contains(&declared) {
        return Err(Error::InvalidParam);
    }
    if declared > ours {
        // SAFETY: the caller declares `declared` readable bytes.
        let tail =
            unsafe { std::slice::from_raw_parts((opts as *const u8).add(ours), declared - ours) };
        if tail.iter().any(|&b| b != 0) {
            return Err(Error::InvalidParam);
        }
    }
    let mut o = zipnn_options::default();
    let n = declared.min(ours);
    // SAFETY: copies the `n` bytes the caller declared into a local of at least `n` bytes;
    // every bit pattern is valid for this plain-data struct.
    unsafe {
        std::ptr::copy_nonoverlapping(
            opts as *const u8,
            &mut o as *mut zipnn_options as *mut u8,
            n,
        )
    };
    o.struct_size = ours as u32;
    if o.reserved.iter().any(|&r| r != 0) {
        return Err(Error::InvalidParam);
    }
    Ok(o)
}

/// Converts C options to the library's compression options.
pub(crate) fn to_options(o: &zipnn_options) -> Result<Options, Error> {
    let opts = to_options_unchecked(o)?;
    opts.validate()?;
    Ok(opts)
}

/// Converts C options without checking them as a whole (archives check them their own
/// way: the dtype comes from each tensor).
pub(crate) fn to_options_unchecked(o: &zipnn_options) -> Result<Options, Error> {
    fn or<T: PartialEq + Default>(v: T, d: T) -> T {
        if v == T::default() {
            d
        } else {
            v
        }
    }
    let dtype = DType::from_code(o.dtype)?;
    let lossy = if o.lossy_mode > 255 || o.lossy_param > 255 {
        return Err(Error::InvalidParam);
    } else {
        Lossy::from_code_any(o.lossy_mode as u8, o.lossy_param as u8)?
    };
    let opts = Options {
        dtype,
        method: Method::from_code(o.method)?,
        level: Level::from_code(o.level)?,
        threads: o.threads,
        chunk_size: o.chunk_size,
        zstd_level: or(o.zstd_level, DEFAULT_ZSTD_LEVEL),
        lz4_level: or(o.lz4_level, DEFAULT_LZ4_LEVEL),
        threshold: or(o.threshold, DEFAULT_THRESHOLD),
        bg_partitions: or(o.bg_partitions, 1),
        lossy,
        target: Target::from_code(o.target)?,
    };
    Ok(opts)
}

/// Converts C options to the library's decompression options.
pub(crate) fn to_decompress_options(o: &zipnn_options) -> Result<DecompressOptions, Error> {
    if o.threads > 1024 {
        return Err(Error::InvalidParam);
    }
    Ok(DecompressOptions {
        threads: o.threads,
        max_size: o.max_decompressed_size,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn constants_match_the_rust_enums() {
        let dtypes = [
            ZIPNN_DTYPE_RAW,
            ZIPNN_DTYPE_BF16,
            ZIPNN_DTYPE_FP16,
            ZIPNN_DTYPE_FP32,
            ZIPNN_DTYPE_FP64,
            ZIPNN_DTYPE_FP8_E4M3,
            ZIPNN_DTYPE_FP8_E5M2,
            ZIPNN_DTYPE_INT8,
            ZIPNN_DTYPE_UINT8,
        ];
        for (c, d) in dtypes.iter().zip(DType::ALL) {
            assert_eq!(*c, d as u32);
        }
        let methods = [
            ZIPNN_METHOD_AUTO,
            ZIPNN_METHOD_HUFFMAN,
            ZIPNN_METHOD_ZSTD,
            ZIPNN_METHOD_LZ4,
            ZIPNN_METHOD_SNAPPY,
            ZIPNN_METHOD_RAW,
        ];
        for (c, m) in methods.iter().zip(Method::ALL) {
            assert_eq!(*c, m as u32);
        }
        let targets = [ZIPNN_TARGET_ANY, ZIPNN_TARGET_AVX512];
        assert_eq!(targets.len(), Target::ALL.len());
        for (c, t) in targets.iter().zip(Target::ALL) {
            assert_eq!(Target::from_code(*c), Ok(t));
        }
        assert_eq!(
            Target::from_code(targets.len() as u32),
            Err(Error::InvalidParam)
        );
        assert_eq!(zipnn_options::default().target, ZIPNN_TARGET_ANY);
        assert_eq!(
            to_options(&zipnn_options::default()).map(|o| o.target),
            Ok(Target::default())
        );
        assert_eq!(size_of::<zipnn_options>(), 80);
        // The first of the words that were reserved[6]; the layout before it is unchanged.
        assert_eq!(std::mem::offset_of!(zipnn_options, target), 56);
        assert_eq!(std::mem::offset_of!(zipnn_options, reserved), 60);
        assert_eq!(ZIPNN_DEFAULT_FILE_LIMIT, crate::limit::DEFAULT_FILE_LIMIT);
        assert_eq!(ZIPNN_NO_LIMIT, u64::MAX);
    }

    #[test]
    fn dtype_names_and_sizes_are_the_library_ones() {
        for d in DType::ALL {
            let p = zipnn_dtype_name(d as u32);
            // SAFETY: a non-NULL result is a static NUL-terminated string.
            let name = unsafe { std::ffi::CStr::from_ptr(p) }.to_str().unwrap();
            assert_eq!(name, d.name());
            let mut n = 0usize;
            assert_eq!(zipnn_dtype_element_size(d as u32, &mut n), 0);
            assert_eq!(n, d.element_size());
        }
        assert!(zipnn_dtype_name(DType::ALL.len() as u32).is_null());
        let mut n = 7usize;
        let st = zipnn_dtype_element_size(99, &mut n);
        assert_eq!((st, n), (Error::UnsupportedDtype.code(), 7));
        assert_eq!(
            zipnn_dtype_element_size(1, std::ptr::null_mut()),
            Error::NullPointer.code()
        );
    }
}
