//! Command-line arguments (clap derive).

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};
use zipnn::stream::{DEFAULT_BLOCK_SIZE, MAX_BLOCK_SIZE, MIN_BLOCK_SIZE};
use zipnn::{DType, Level, Lossy, Method, Options, Target, MAX_CHUNK_SIZE, MIN_CHUNK_SIZE};

use crate::fail::Failure;

const EXIT_CODES: &str = "\
Exit codes:
  0  success
  1  bad data: not zipnn data, truncated, corrupt, checksum mismatch, round-trip mismatch,
     a delta without --base or with the wrong base
  2  usage: bad arguments or options, unknown file suffix, refusing a terminal, a --base
     that does not fit the input, a lossy option that does not fit the dtype
  3  I/O or system: missing file, permission denied, disk full, out of memory
  4  an output file exists (use -f to overwrite)
With several files, zipnn goes on after a failure and exits with the largest code seen.";

/// Lossless compression for neural-network weights.
///
/// Plain files are written as zipnn streams (any size, bounded memory); safetensors files
/// as archives that keep the JSON header readable and code each tensor with its own dtype.
/// `-` as an input means standard input, as an output standard output.
#[derive(Debug, Parser)]
#[command(name = "zipnn", version, after_help = EXIT_CODES, after_long_help = EXIT_CODES)]
pub struct Cli {
    /// No progress bar and no per-file summary (errors are still printed)
    #[arg(short, long, global = true)]
    pub quiet: bool,

    /// Worker threads (0 = all cores)
    #[arg(short = 'T', long, global = true, value_name = "N", default_value_t = 0,
          value_parser = clap::value_parser!(u32).range(0..=1024))]
    pub threads: u32,

    #[command(subcommand)]
    pub cmd: Cmd,
}

/// The options every command shares.
#[derive(Debug, Clone, Copy)]
pub struct Common {
    pub quiet: bool,
    /// As given: 0 = all cores.
    pub threads: u32,
}

impl Common {
    /// The thread budget as a count.
    pub fn thread_budget(&self) -> usize {
        if self.threads == 0 {
            std::thread::available_parallelism().map_or(1, |n| n.get())
        } else {
            self.threads as usize
        }
    }
}

impl Cli {
    pub fn common(&self) -> Common {
        Common {
            quiet: self.quiet,
            threads: self.threads,
        }
    }
}

#[derive(Debug, Subcommand)]
pub enum Cmd {
    /// Compress files (FILE -> FILE.znn)
    #[command(after_help = EXIT_CODES)]
    Compress(CompressArgs),
    /// Decompress .znn files (FILE.znn -> FILE)
    #[command(after_help = EXIT_CODES)]
    Decompress(DecompressArgs),
    /// Show what zipnn files hold: tensors, frames or chunks, with sizes and ratios
    #[command(after_help = EXIT_CODES)]
    Info(InfoArgs),
    /// Check every checksum of zipnn files without writing anything
    #[command(after_help = EXIT_CODES)]
    Verify(VerifyArgs),
    /// Compress and decompress files in memory: ratio, speed, round-trip check
    #[command(after_help = EXIT_CODES)]
    Bench(BenchArgs),
    /// Rewrite files the reference package (zipnn 0.5.x) wrote in zipnn's format, with
    /// checksums, under the same names
    #[command(after_help = EXIT_CODES)]
    Convert(ConvertArgs),
}

#[derive(Debug, Args)]
pub struct ConvertArgs {
    /// Files the reference package wrote: its .znn files (frames, streamed frames, tensor
    /// frames, deltas), its compressed safetensors files, model.safetensors.znn;
    /// directories with -r. Each is replaced by its conversion (frames become a zipnn
    /// frame, safetensors files a zipnn archive) once that decodes to the same bytes
    #[arg(value_name = "FILE", required = true)]
    pub inputs: Vec<PathBuf>,

    /// Recurse into directories: the files the reference package wrote are converted,
    /// other files are left as they are
    #[arg(short, long)]
    pub recursive: bool,

    /// The base a delta of the reference package was made against (needed for deltas;
    /// the converted delta needs it too)
    #[arg(long, value_name = "FILE")]
    pub base: Option<PathBuf>,

    /// Effort of the new coding (see compress --level)
    #[arg(short, long, value_enum, default_value_t = LevelArg::Default)]
    pub level: LevelArg,

    /// The processors the new coding is laid out to decode fastest on: any (fast on every
    /// processor) or avx512 (faster on x86-64 with AVX-512 VBMI and VBMI2: AMD Zen 4 and
    /// later, Intel Ice Lake and later; slower on other processors). Every conversion decodes
    /// on every processor to the same bytes
    #[arg(long, value_enum, default_value_t = TargetArg::Any)]
    pub target: TargetArg,
}

/// Where outputs go, and what may be overwritten.
#[derive(Debug, Args)]
pub struct OutputArgs {
    /// Files to read ("-" = standard input); directories with -r
    #[arg(value_name = "FILE", default_value = "-")]
    pub inputs: Vec<PathBuf>,

    /// Output file ("-" = standard output); with several inputs or -r, a directory
    /// (created if missing) under which the inputs' trees are mirrored
    #[arg(short, long, value_name = "OUT")]
    pub output: Option<PathBuf>,

    /// Write to standard output
    #[arg(short = 'c', long)]
    pub stdout: bool,

    /// Overwrite existing output files
    #[arg(short, long)]
    pub force: bool,

    /// Keep input files (always: zipnn never deletes its inputs)
    #[arg(short, long)]
    pub keep: bool,

    /// Recurse into directories; in a model folder (config.json, model_index.json or a
    /// *.safetensors.index.json next to safetensors weights) only the weights are
    /// (de)compressed, other files left (or copied under -o), the index's shard names rewritten
    #[arg(short, long)]
    pub recursive: bool,
}

#[derive(Debug, Args)]
pub struct CompressArgs {
    #[command(flatten)]
    pub out: OutputArgs,
    #[command(flatten)]
    pub codec: CodecArgs,
    /// Code the input as a delta against this base model: safetensors tensor by tensor
    /// (against a safetensors base), a plain file as one frame (against a base of its
    /// length). Decompressing needs the same base
    #[arg(long, value_name = "FILE")]
    pub base: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct DecompressArgs {
    #[command(flatten)]
    pub out: OutputArgs,
    /// The base model a delta was compressed against (files that are no deltas ignore it)
    #[arg(long, value_name = "FILE")]
    pub base: Option<PathBuf>,
    /// Refuse a tensor of an archive, or a single frame, that declares more than this
    /// (both are decoded in memory; streams need no limit). Default 4G, so that a
    /// stranger's file cannot exhaust memory; K/M/G suffixes, "none" for no limit
    #[arg(long, value_name = "BYTES", value_parser = parse_limit)]
    pub max_size: Option<u64>,
}

impl DecompressArgs {
    /// The limit in bytes (`u64::MAX`: none).
    pub fn max_size(&self) -> u64 {
        self.max_size.unwrap_or(zipnn::limit::DEFAULT_FILE_LIMIT)
    }
}

/// How to compress.
#[derive(Debug, Clone, Args)]
pub struct CodecArgs {
    /// Element type of plain files (safetensors tensors use their own dtypes)
    #[arg(short = 't', long, value_enum, default_value_t = DtypeArg::Raw)]
    pub dtype: DtypeArg,

    /// Effort: fast (Huffman only), default (+ zstd where a probe finds repeats),
    /// max (every codec on every plane-chunk)
    #[arg(short, long, value_enum, default_value_t = LevelArg::Default)]
    pub level: LevelArg,

    /// One codec for every plane instead of choosing per plane-chunk
    #[arg(short, long, value_enum, default_value_t = MethodArg::Auto)]
    pub method: MethodArg,

    /// The processors the output is laid out to decode fastest on: any (fast on every
    /// processor) or avx512 (faster on x86-64 with AVX-512 VBMI and VBMI2: AMD Zen 4 and
    /// later, Intel Ice Lake and later; slower on other processors). Every output decodes
    /// on every processor to the same bytes
    #[arg(long, value_enum, default_value_t = TargetArg::Any)]
    pub target: TargetArg,

    /// Input bytes per chunk (the unit of parallelism and random access); K/M suffixes.
    /// Default: 2M for one-byte dtypes (int8, uint8, fp8, raw) at the default level and
    /// method, 256K otherwise
    #[arg(long, value_name = "BYTES", value_parser = parse_size)]
    pub chunk_size: Option<u32>,

    /// Input bytes per stream frame (plain files; about two blocks are held in memory);
    /// K/M suffixes
    #[arg(long, value_name = "BYTES", value_parser = parse_size)]
    pub block_size: Option<u32>,

    /// LOSSY: round float values to BITS mantissa bits (relative error at most
    /// 2^-(BITS+1)); float tensors of archives, or plain files with a float --dtype
    #[arg(long, value_name = "BITS", conflicts_with = "lossy_integer",
          value_parser = clap::value_parser!(u8).range(0..=51))]
    pub lossy_mantissa: Option<u8>,

    /// LOSSY: store float values as integer multiples of 2^-FACTOR (absolute error at most
    /// 2^-(FACTOR+1) plus half an ulp); data that does not fit stays lossless
    #[arg(long, value_name = "FACTOR",
          value_parser = clap::value_parser!(u8).range(0..=62))]
    pub lossy_integer: Option<u8>,
}

impl CodecArgs {
    /// Library options, checked; the message names the bad flag.
    pub fn options(&self, threads: u32) -> Result<Options, Failure> {
        let dtype = self.dtype.dtype();
        // Not given: 0, the library's automatic choice.
        let chunk_size = self.chunk_size.unwrap_or(0);
        if self.chunk_size.is_some() && !(MIN_CHUNK_SIZE..=MAX_CHUNK_SIZE).contains(&chunk_size) {
            return Err(Failure::usage(format!(
                "--chunk-size {chunk_size}: must be {MIN_CHUNK_SIZE} ..= {MAX_CHUNK_SIZE}"
            )));
        }
        if chunk_size as usize % dtype.element_size() != 0 {
            return Err(Failure::usage(format!(
                "--chunk-size {chunk_size}: must be a multiple of the {} element size ({})",
                dtype.name(),
                dtype.element_size()
            )));
        }
        let opts = Options {
            method: self.method.method(),
            level: self.level.level(),
            threads,
            chunk_size,
            target: self.target.target(),
            ..Options::new(dtype)
        };
        opts.validate()
            .map_err(|e| Failure::usage(format!("invalid options: {e}")))?;
        // The lossy mode is checked against each input's dtype when it is known (a
        // safetensors file applies it to the float tensors it suits).
        Ok(Options {
            lossy: self.lossy(),
            ..opts
        })
    }

    /// The lossy mode asked for ([`Lossy::None`] unless a --lossy-* option is given).
    pub fn lossy(&self) -> Lossy {
        match (self.lossy_mantissa, self.lossy_integer) {
            (Some(bits), _) => Lossy::Mantissa { bits },
            (None, Some(factor)) => Lossy::Integer { factor },
            (None, None) => Lossy::None,
        }
    }

    /// The stream block size, checked.
    pub fn block_size(&self) -> Result<u32, Failure> {
        let b = self.block_size.unwrap_or(DEFAULT_BLOCK_SIZE);
        if !(MIN_BLOCK_SIZE..=MAX_BLOCK_SIZE).contains(&b) {
            return Err(Failure::usage(format!(
                "--block-size {b}: must be {MIN_BLOCK_SIZE} ..= {MAX_BLOCK_SIZE}"
            )));
        }
        Ok(b)
    }
}

#[derive(Debug, Args)]
pub struct InfoArgs {
    /// zipnn files ("-" = standard input)
    #[arg(value_name = "FILE", required = true)]
    pub inputs: Vec<PathBuf>,

    /// One JSON document (an array with one object per file) instead of tables
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct VerifyArgs {
    /// zipnn files ("-" = standard input)
    #[arg(value_name = "FILE", required = true)]
    pub inputs: Vec<PathBuf>,

    /// Also check that deltas were made against this base model (not needed otherwise)
    #[arg(long, value_name = "FILE")]
    pub base: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct BenchArgs {
    /// Files to benchmark (plain or safetensors)
    #[arg(value_name = "FILE", required = true)]
    pub inputs: Vec<PathBuf>,

    #[command(flatten)]
    pub codec: CodecArgs,

    /// Runs of each direction; the fastest is reported
    #[arg(short = 'n', long, value_name = "N", default_value_t = 3,
          value_parser = clap::value_parser!(u32).range(1..=1000))]
    pub runs: u32,

    /// Compress against this base model, as compress --base does
    #[arg(long, value_name = "FILE")]
    pub base: Option<PathBuf>,

    /// How runs are timed: wall time, or the CPU time of the busiest thread of this
    /// process (what a run would take with a core for each thread, on a machine shared with
    /// other work; Linux only)
    #[arg(long, value_enum, default_value_t = ClockArg::Wall)]
    pub clock: ClockArg,
}

/// `--clock` values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ClockArg {
    #[value(name = "wall")]
    Wall,
    #[value(name = "cpu")]
    Cpu,
}

/// `--dtype` values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum DtypeArg {
    #[value(name = "bf16", alias = "bfloat16")]
    Bf16,
    #[value(name = "fp16", aliases = ["f16", "float16", "half"])]
    Fp16,
    #[value(name = "fp32", aliases = ["f32", "float32", "float"])]
    Fp32,
    #[value(name = "fp64", aliases = ["f64", "float64", "double"])]
    Fp64,
    #[value(name = "fp8_e4m3", aliases = ["f8_e4m3", "e4m3", "fp8_e4m3fn"])]
    Fp8E4M3,
    #[value(name = "fp8_e5m2", aliases = ["f8_e5m2", "e5m2"])]
    Fp8E5M2,
    #[value(name = "int8", alias = "i8")]
    Int8,
    #[value(name = "uint8", alias = "u8")]
    Uint8,
    #[value(name = "raw", alias = "bytes")]
    Raw,
}

impl DtypeArg {
    pub fn dtype(self) -> DType {
        match self {
            DtypeArg::Bf16 => DType::Bf16,
            DtypeArg::Fp16 => DType::Fp16,
            DtypeArg::Fp32 => DType::Fp32,
            DtypeArg::Fp64 => DType::Fp64,
            DtypeArg::Fp8E4M3 => DType::Fp8E4M3,
            DtypeArg::Fp8E5M2 => DType::Fp8E5M2,
            DtypeArg::Int8 => DType::Int8,
            DtypeArg::Uint8 => DType::Uint8,
            DtypeArg::Raw => DType::Raw,
        }
    }
}

/// `--level` values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LevelArg {
    #[value(alias = "1")]
    Fast,
    #[value(alias = "2")]
    Default,
    #[value(alias = "3")]
    Max,
}

impl LevelArg {
    pub fn level(self) -> Level {
        match self {
            LevelArg::Fast => Level::Fast,
            LevelArg::Default => Level::Default,
            LevelArg::Max => Level::Max,
        }
    }
}

/// `--method` values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum MethodArg {
    Auto,
    Huffman,
    Zstd,
    Lz4,
    Snappy,
    Raw,
}

impl MethodArg {
    pub fn method(self) -> Method {
        match self {
            MethodArg::Auto => Method::Auto,
            MethodArg::Huffman => Method::Huffman,
            MethodArg::Zstd => Method::Zstd,
            MethodArg::Lz4 => Method::Lz4,
            MethodArg::Snappy => Method::Snappy,
            MethodArg::Raw => Method::Raw,
        }
    }
}

/// `--target` values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum TargetArg {
    Any,
    #[value(name = "avx512", alias = "avx-512")]
    Avx512,
}

impl TargetArg {
    pub fn target(self) -> Target {
        match self {
            TargetArg::Any => Target::Any,
            TargetArg::Avx512 => Target::Avx512,
        }
    }
}

/// A byte count with an optional binary suffix: `262144`, `256K`, `256KiB`, `8M`, `8MiB`.
fn parse_size(s: &str) -> Result<u32, String> {
    u32::try_from(parse_size64(s)?).map_err(|_| format!("size too large: {s:?}"))
}

/// A `--max-size`: a size as [`parse_size`] takes (up to 2^64 - 1), or `none`.
fn parse_limit(s: &str) -> Result<u64, String> {
    if s.trim().eq_ignore_ascii_case("none") {
        return Ok(u64::MAX);
    }
    match parse_size64(s)? {
        0 => Err("--max-size 0: give a size, or none for no limit".into()),
        n => Ok(n),
    }
}

fn parse_size64(s: &str) -> Result<u64, String> {
    let t = s.trim();
    let digits = t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len());
    let (num, suffix) = t.split_at(digits);
    let n: u64 = num.parse().map_err(|_| format!("not a size: {s:?}"))?;
    let mult: u64 = match suffix.to_ascii_lowercase().as_str() {
        "" | "b" => 1,
        "k" | "kb" | "kib" => 1 << 10,
        "m" | "mb" | "mib" => 1 << 20,
        "g" | "gb" | "gib" => 1 << 30,
        _ => return Err(format!("unknown size suffix in {s:?} (use K, M or G)")),
    };
    n.checked_mul(mult)
        .ok_or_else(|| format!("size too large: {s:?}"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn cli_definition_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn target_reaches_the_options() {
        let parse = |args: &[&str]| -> Options {
            match Cli::try_parse_from(args).unwrap().cmd {
                Cmd::Compress(a) => a.codec.options(0).unwrap(),
                Cmd::Bench(a) => a.codec.options(0).unwrap(),
                c => panic!("{c:?}"),
            }
        };
        assert_eq!(parse(&["zipnn", "compress", "x"]).target, Target::Any);
        assert_eq!(
            parse(&["zipnn", "compress", "--target", "any", "x"]).target,
            Target::Any
        );
        assert_eq!(
            parse(&["zipnn", "compress", "--target", "avx512", "x"]).target,
            Target::Avx512
        );
        assert_eq!(
            parse(&["zipnn", "bench", "--target", "avx-512", "x"]).target,
            Target::Avx512
        );
        assert!(Cli::try_parse_from(["zipnn", "compress", "--target", "avx2", "x"]).is_err());
        match Cli::try_parse_from(["zipnn", "convert", "--target", "avx512", "x"])
            .unwrap()
            .cmd
        {
            Cmd::Convert(a) => assert_eq!(a.target.target(), Target::Avx512),
            c => panic!("{c:?}"),
        }
    }

    #[test]
    fn sizes_parse() {
        assert_eq!(parse_size("262144"), Ok(262144));
        assert_eq!(parse_size("256K"), Ok(262144));
        assert_eq!(parse_size("8MiB"), Ok(8 << 20));
        assert!(parse_size("8X").is_err());
        assert!(parse_size("").is_err());
        assert_eq!(parse_size("1g"), Ok(1 << 30));
        assert!(parse_size("8G").is_err(), "past u32");
        assert_eq!(parse_limit("8G"), Ok(8 << 30));
        assert_eq!(parse_limit("None"), Ok(u64::MAX));
        assert!(parse_limit("0").is_err());
    }
}
