//! Dtypes, methods, levels and the options that steer compression.

use crate::error::{Error, Result};

/// Chunk size of the automatic choice (`chunk_size` 0) for every case but the next: 256 KiB.
pub const DEFAULT_CHUNK_SIZE: u32 = 256 * 1024;
/// Chunk size of the automatic choice for one-byte elements (int8, uint8, fp8, raw in one
/// plane) at the default level of method auto: 2 MiB, so that zstd, measured on each plane,
/// finds repeats farther apart than 256 KiB (GGUF int8 quants 94.23% -> 94.13%, ONNX uint8
/// 70.02% -> 69.37% of the size), while codec 8 keeps a Huffman table per 256 KiB for
/// near-random bytes (docs/FORMAT.md section 5).
pub const BYTE_CHUNK_SIZE: u32 = 2 * 1024 * 1024;
/// Smallest accepted chunk size.
pub const MIN_CHUNK_SIZE: u32 = 1024;
/// Largest accepted chunk size (64 MiB); decoders refuse frames above it.
pub const MAX_CHUNK_SIZE: u32 = 64 * 1024 * 1024;
/// Default compression threshold: a coded plane-chunk is kept only below this fraction of raw.
pub const DEFAULT_THRESHOLD: f32 = 0.95;
/// Default zstd level.
pub const DEFAULT_ZSTD_LEVEL: i32 = 3;
/// Default lz4 level (1 = the fast compressor; 2..=12 = lz4hc at that level).
pub const DEFAULT_LZ4_LEVEL: i32 = 1;
/// Largest accepted metadata block.
pub const MAX_METADATA_SIZE: usize = 1 << 20;

/// The element type of the input, which selects the bit transform.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
#[repr(u8)]
pub enum DType {
    /// Bytes of no known type; grouped into `bg_partitions` planes.
    #[default]
    Raw = 0,
    /// bfloat16.
    Bf16 = 1,
    /// IEEE 754 binary16.
    Fp16 = 2,
    /// IEEE 754 binary32.
    Fp32 = 3,
    /// IEEE 754 binary64.
    Fp64 = 4,
    /// 8-bit float, 4 exponent bits, 3 mantissa bits (OCP e4m3fn).
    Fp8E4M3 = 5,
    /// 8-bit float, 5 exponent bits, 2 mantissa bits.
    Fp8E5M2 = 6,
    /// Signed 8-bit integer.
    Int8 = 7,
    /// Unsigned 8-bit integer.
    Uint8 = 8,
}

impl DType {
    /// Every dtype, in code order.
    pub const ALL: [DType; 9] = [
        DType::Raw,
        DType::Bf16,
        DType::Fp16,
        DType::Fp32,
        DType::Fp64,
        DType::Fp8E4M3,
        DType::Fp8E5M2,
        DType::Int8,
        DType::Uint8,
    ];

    /// The dtype with this code.
    pub fn from_code(code: u32) -> Result<DType> {
        DType::ALL
            .get(code as usize)
            .copied()
            .ok_or(Error::UnsupportedDtype)
    }

    /// The dtype's code in options and frames.
    pub const fn code(self) -> u8 {
        self as u8
    }

    /// Bytes per element (raw bytes: 1, before `bg_partitions` is applied).
    pub const fn element_size(self) -> usize {
        match self {
            DType::Raw | DType::Fp8E4M3 | DType::Fp8E5M2 | DType::Int8 | DType::Uint8 => 1,
            DType::Bf16 | DType::Fp16 => 2,
            DType::Fp32 => 4,
            DType::Fp64 => 8,
        }
    }

    /// The lower-case name used in docs, tools and bindings.
    pub const fn name(self) -> &'static str {
        match self {
            DType::Raw => "raw",
            DType::Bf16 => "bf16",
            DType::Fp16 => "fp16",
            DType::Fp32 => "fp32",
            DType::Fp64 => "fp64",
            DType::Fp8E4M3 => "fp8_e4m3",
            DType::Fp8E5M2 => "fp8_e5m2",
            DType::Int8 => "int8",
            DType::Uint8 => "uint8",
        }
    }
}

/// Which codec codes the planes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
#[repr(u8)]
pub enum Method {
    /// Per plane-chunk, the smallest coding that pays (see [`Level`]).
    #[default]
    Auto = 0,
    /// Huffman on every plane-chunk (raw or run where it does not pay).
    Huffman = 1,
    /// zstd on every plane-chunk (raw or run where it does not pay).
    Zstd = 2,
    /// lz4 on every plane-chunk (raw or run where it does not pay).
    Lz4 = 3,
    /// snappy on every plane-chunk (raw or run where it does not pay).
    Snappy = 4,
    /// No coding: planes are stored raw (runs still collapse).
    Raw = 5,
}

impl Method {
    /// Every method, in code order.
    pub const ALL: [Method; 6] = [
        Method::Auto,
        Method::Huffman,
        Method::Zstd,
        Method::Lz4,
        Method::Snappy,
        Method::Raw,
    ];

    /// The method with this code.
    pub fn from_code(code: u32) -> Result<Method> {
        Method::ALL
            .get(code as usize)
            .copied()
            .ok_or(Error::UnsupportedMethod)
    }
}

/// Compression effort for [`Method::Auto`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Level {
    /// Huffman, run or raw per plane-chunk; no LZ codec is tried.
    Fast,
    /// Huffman, run or raw, and zstd where a quick probe says it will win.
    #[default]
    Default,
    /// The smallest of Huffman, ANS and lz4 per plane-chunk, and zstd and snappy where
    /// lz4 finds repeats worth trying them; any coding smaller than raw is kept (the
    /// threshold does not apply).
    Max,
}

impl Level {
    /// The level for a numeric value: 0 = default, 1 = fast, 2 = default, 3 = max.
    pub fn from_code(code: i32) -> Result<Level> {
        match code {
            0 | 2 => Ok(Level::Default),
            1 => Ok(Level::Fast),
            3 => Ok(Level::Max),
            _ => Err(Error::InvalidParam),
        }
    }
}

/// Options for compression (and the thread count for decompression).
#[derive(Debug, Clone, PartialEq)]
pub struct Options {
    /// Element type of the input.
    pub dtype: DType,
    /// Codec choice.
    pub method: Method,
    /// Effort for `Method::Auto`.
    pub level: Level,
    /// Worker threads; 0 = all cores, 1 = the calling thread only.
    pub threads: u32,
    /// Bytes of input per chunk; a multiple of the element size in
    /// `MIN_CHUNK_SIZE..=MAX_CHUNK_SIZE`, or 0 (the default) for the automatic choice
    /// ([`Options::resolved_chunk_size`]).
    pub chunk_size: u32,
    /// zstd level, 1..=22 (negative levels down to -7 are zstd's fast modes).
    pub zstd_level: i32,
    /// lz4 level: 1 = fast, 2..=12 = lz4hc.
    pub lz4_level: i32,
    /// A coded plane-chunk is kept only when smaller than this fraction of raw; in (0, 1].
    /// Not applied at [`Level::Max`] with [`Method::Auto`], which keeps any saving.
    pub threshold: f32,
    /// For `DType::Raw`: group bytes into this many planes (1, 2, 4 or 8). Must be 1 for
    /// any other dtype.
    pub bg_partitions: u32,
    /// Lossy pre-processing; [`Lossy::None`] (the default) keeps the data bit-exact.
    pub lossy: Lossy,
    /// The processors the frame is laid out to decode fastest on; [`Target::Any`] (the
    /// default) decodes fast on every processor.
    pub target: Target,
}

/// The processors whose decoding speed a frame is laid out for. Every target's frames
/// decode on every processor, to the same bytes; only the speed differs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Target {
    /// Codes that decode fast on every processor (the default).
    #[default]
    Any,
    /// Huffman planes in 128 lanes (codec 11, docs/FORMAT.md section 14), which x86-64
    /// processors with AVX-512 VBMI and VBMI2 (AMD Zen 4 on, Intel Ice Lake on) decode
    /// faster than [`Target::Any`]'s codes, and every other processor slower.
    Avx512,
}

impl Target {
    /// Every target, in code order.
    pub const ALL: [Target; 2] = [Target::Any, Target::Avx512];

    /// The target with this code: 0 any, 1 AVX-512.
    pub fn from_code(code: u32) -> Result<Target> {
        Target::ALL
            .get(code as usize)
            .copied()
            .ok_or(Error::InvalidParam)
    }
}

/// An opt-in lossy step applied to the values before the lossless pipeline. The frame
/// records it (header bytes 12-13, flag bit 2), so `frame_info` and `zipnn info` report it.
/// docs/FORMAT.md section 3.1 defines each mode exactly and gives its error bound.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Lossy {
    /// Lossless (the default).
    #[default]
    None,
    /// Fixed point: each value `x` is stored as the integer `q = round_half_even(x * 2^factor)`
    /// of the dtype's width and decoded as `q / 2^factor` rounded to the dtype, so the
    /// absolute error is at most `2^-(factor+1)` plus half an ulp of the dtype. Only for
    /// bf16, fp16, fp32 and fp64; if any value is not finite or `q` does not fit the
    /// signed integer of the dtype's width, the data is coded losslessly instead.
    /// The reference package's default factor is 27 (meant for fp32).
    Integer {
        /// Fractional bits kept: 0..=14 for 16-bit dtypes, 0..=30 for fp32, 0..=62 for fp64.
        factor: u8,
    },
    /// Keeps `bits` mantissa bits, rounding to nearest, ties to even: the relative error of
    /// every finite value is at most `2^-(bits+1)`. NaN and infinity are kept; a value that
    /// would round up to infinity is truncated instead. Only for bf16, fp16, fp32 and fp64,
    /// with `bits` below the dtype's mantissa width (7, 10, 23, 52).
    Mantissa {
        /// Mantissa bits kept.
        bits: u8,
    },
}

impl Lossy {
    /// The frame header's code for this mode (byte 12): 0 none, 1 integer, 2 mantissa.
    pub fn code(self) -> u8 {
        match self {
            Lossy::None => 0,
            Lossy::Integer { .. } => 1,
            Lossy::Mantissa { .. } => 2,
        }
    }

    /// The mode's parameter (byte 13): the factor or the kept mantissa bits.
    pub fn param(self) -> u8 {
        match self {
            Lossy::None => 0,
            Lossy::Integer { factor } => factor,
            Lossy::Mantissa { bits } => bits,
        }
    }

    /// The mode for a code and parameter, checked against the dtype.
    pub fn from_code(code: u8, param: u8, dtype: DType) -> Result<Lossy> {
        let l = Lossy::from_code_any(code, param)?;
        l.check(dtype)?;
        Ok(l)
    }

    /// The mode for a code and parameter, not yet checked against a dtype.
    pub fn from_code_any(code: u8, param: u8) -> Result<Lossy> {
        Ok(match code {
            0 if param == 0 => Lossy::None,
            1 => Lossy::Integer { factor: param },
            2 => Lossy::Mantissa { bits: param },
            _ => return Err(Error::InvalidParam),
        })
    }

    /// Checks the mode against a dtype.
    pub fn check(self, dtype: DType) -> Result<()> {
        let (width, mantissa) = match dtype {
            DType::Bf16 => (16, 7),
            DType::Fp16 => (16, 10),
            DType::Fp32 => (32, 23),
            DType::Fp64 => (64, 52),
            _ if self == Lossy::None => return Ok(()),
            _ => return Err(Error::InvalidParam),
        };
        let ok = match self {
            Lossy::None => true,
            Lossy::Integer { factor } => factor <= width - 2,
            Lossy::Mantissa { bits } => bits < mantissa,
        };
        if ok {
            Ok(())
        } else {
            Err(Error::InvalidParam)
        }
    }
}

impl Default for Options {
    fn default() -> Self {
        Options {
            dtype: DType::Raw,
            method: Method::Auto,
            level: Level::Default,
            threads: 0,
            chunk_size: 0,
            zstd_level: DEFAULT_ZSTD_LEVEL,
            lz4_level: DEFAULT_LZ4_LEVEL,
            threshold: DEFAULT_THRESHOLD,
            bg_partitions: 1,
            lossy: Lossy::None,
            target: Target::Any,
        }
    }
}

impl Options {
    /// Default options for a dtype.
    pub fn new(dtype: DType) -> Self {
        Options {
            dtype,
            ..Options::default()
        }
    }

    /// Bytes per element after `bg_partitions` (the number of planes per chunk).
    pub fn planes(&self) -> usize {
        match self.dtype {
            DType::Raw => self.bg_partitions as usize,
            d => d.element_size(),
        }
    }

    /// The chunk size a frame gets: `chunk_size`, or where that is 0 the automatic choice,
    /// [`BYTE_CHUNK_SIZE`] (2 MiB) for one-byte elements (one plane) at the default level of
    /// method auto, else [`DEFAULT_CHUNK_SIZE`] (256 KiB). Level fast keeps 256 KiB (it codes
    /// Huffman only, which a longer chunk does not help); level max too (its codings of
    /// 256 KiB chunks meet their targets).
    pub fn resolved_chunk_size(&self) -> u32 {
        match self.chunk_size {
            0 if self.planes() == 1
                && self.method == Method::Auto
                && self.level == Level::Default =>
            {
                BYTE_CHUNK_SIZE
            }
            0 => DEFAULT_CHUNK_SIZE,
            cs => cs,
        }
    }

    /// Checks every field; `Err(InvalidParam)` names no field, so keep values in range.
    pub fn validate(&self) -> Result<()> {
        match (self.dtype, self.bg_partitions) {
            (DType::Raw, 1 | 2 | 4 | 8) => {}
            (_, 1) => {}
            _ => return Err(Error::InvalidParam),
        }
        let cs = self.resolved_chunk_size();
        if !(MIN_CHUNK_SIZE..=MAX_CHUNK_SIZE).contains(&cs) || cs as usize % self.planes() != 0 {
            return Err(Error::InvalidParam);
        }
        if !(-7..=22).contains(&self.zstd_level) || self.zstd_level == 0 {
            return Err(Error::InvalidParam);
        }
        if !(1..=12).contains(&self.lz4_level) {
            return Err(Error::InvalidParam);
        }
        if !(self.threshold > 0.0 && self.threshold <= 1.0) {
            return Err(Error::InvalidParam);
        }
        if self.threads > 1024 {
            return Err(Error::InvalidParam);
        }
        self.lossy.check(self.dtype)
    }
}
