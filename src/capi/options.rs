//! `zipnn_options`, its initialiser and its conversion to [`Options`], plus the frame
//! information struct.

use std::mem::size_of;

use crate::error::Error;
use crate::options::{
    DType, Level, Lossy, Method, Options, DEFAULT_CHUNK_SIZE, DEFAULT_LZ4_LEVEL, DEFAULT_THRESHOLD,
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
    /// Input bytes per chunk: 0 = 262144; else 1024..=67108864 and a multiple of the
    /// element size.
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
    /// Decompression: refuse frames larger than this many bytes (0 = no limit).
    pub max_decompressed_size: u64,
    /// `ZIPNN_LOSSY_*`: an opt-in lossy step (bf16, fp16, fp32, fp64 only); 0 = lossless.
    pub lossy_mode: u32,
    /// For `ZIPNN_LOSSY_INTEGER` the factor (fractional bits: at most 14 for 16-bit dtypes,
    /// 30 for fp32, 62 for fp64; the reference package's default is 27); for
    /// `ZIPNN_LOSSY_MANTISSA` the mantissa bits kept (below 7, 10, 23, 52 for bf16, fp16,
    /// fp32, fp64).
    pub lossy_param: u32,
    /// Must be zero.
    pub reserved: [u32; 6],
}

impl Default for zipnn_options {
    fn default() -> Self {
        zipnn_options {
            struct_size: size_of::<zipnn_options>() as u32,
            dtype: ZIPNN_DTYPE_RAW,
            method: ZIPNN_METHOD_AUTO,
            level: ZIPNN_LEVEL_DEFAULT,
            threads: 0,
            chunk_size: DEFAULT_CHUNK_SIZE,
            zstd_level: DEFAULT_ZSTD_LEVEL,
            lz4_level: DEFAULT_LZ4_LEVEL,
            threshold: DEFAULT_THRESHOLD,
            bg_partitions: 1,
            max_decompressed_size: 0,
            lossy_mode: ZIPNN_LOSSY_NONE,
            lossy_param: 0,
            reserved: [0; 6],
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

/// Reads a caller's options (NULL = defaults), honouring `struct_size`.
pub(crate) fn read_options(opts: *const zipnn_options) -> Result<zipnn_options, Error> {
    if opts.is_null() {
        return Ok(zipnn_options::default());
    }
    // SAFETY: the caller passes a pointer to at least a `struct_size` field.
    let declared = unsafe { (opts as *const u32).read_unaligned() } as usize;
    let ours = size_of::<zipnn_options>();
    if declared < 8 {
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
        chunk_size: or(o.chunk_size, DEFAULT_CHUNK_SIZE),
        zstd_level: or(o.zstd_level, DEFAULT_ZSTD_LEVEL),
        lz4_level: or(o.lz4_level, DEFAULT_LZ4_LEVEL),
        threshold: or(o.threshold, DEFAULT_THRESHOLD),
        bg_partitions: or(o.bg_partitions, 1),
        lossy,
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

/// What a frame's header says. Set `struct_size` to `sizeof(zipnn_frame_info)` before
/// passing it to `zipnn_get_frame_info()`; the library fills the fields it knows that fit.
/// Plain data.
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct zipnn_frame_info {
    /// `sizeof(zipnn_frame_info)` as the caller was compiled (set by the caller).
    pub struct_size: u32,
    /// Frame format version.
    pub format_version: u32,
    /// `ZIPNN_DTYPE_*` the frame was coded with.
    pub dtype: u32,
    /// Frame flags (bit 0: metadata present; bit 1: delta against a base; bit 2: lossy).
    pub flags: u32,
    /// Planes per chunk (bytes per element, or the raw byte-grouping partitions).
    pub planes: u32,
    /// Input bytes per chunk.
    pub chunk_size: u32,
    /// Length of the original data.
    pub original_size: u64,
    /// Number of chunks.
    pub chunk_count: u64,
    /// Length of the frame in bytes (bytes after it in the buffer are not part of it).
    pub frame_size: u64,
    /// Length of the caller's metadata block.
    pub metadata_size: u64,
    /// `ZIPNN_LOSSY_*` the data went through (`ZIPNN_LOSSY_NONE`: bit-exact).
    pub lossy_mode: u32,
    /// The lossy mode's parameter (factor or mantissa bits kept).
    pub lossy_param: u32,
    /// For a delta frame (flags bit 1): XXH3-64 of the base it needs; else 0.
    pub base_hash: u64,
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
        assert_eq!(size_of::<zipnn_options>(), 80);
    }
}
