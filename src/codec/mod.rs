//! Codecs for one plane-chunk, and the choice between them.
//!
//! Codecs know bytes only, never dtypes. Each plane-chunk is coded on its own; the frame
//! records which codec was used and the coded size.

pub mod adaptive;
pub mod ans;
pub mod blocks;
pub(crate) mod histogram;
pub mod huffman;
pub mod lanes;
mod lz;
pub mod sparse;

pub use histogram::{histogram, histogram_portable, Histogram};

use std::cell::RefCell;

use crate::error::{Error, Result};
use crate::options::{DType, Level, Method, Options, Target, DEFAULT_THRESHOLD};

/// Codec identifiers as stored in the frame's chunk table.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum Codec {
    /// The plane's bytes as they are.
    Raw = 0,
    /// A plane that is one repeated byte: the payload is that byte.
    Run = 1,
    /// zipnn's canonical Huffman coder (docs/FORMAT.md, "Huffman payload").
    Huffman = 2,
    /// One zstd frame.
    Zstd = 3,
    /// One lz4 block.
    Lz4 = 4,
    /// One snappy block (raw format, not the framing format).
    Snappy = 5,
    /// zipnn's interleaved rANS coder (docs/FORMAT.md, "ANS payload"), sixteen states.
    Ans = 6,
    /// The same rANS code with thirty-two states, which SIMD decoders run in parallel
    /// (docs/FORMAT.md, "ANS payload").
    AnsWide = 7,
    /// Huffman in blocks: the plane cut into blocks of 256 KiB, each with its own table
    /// (docs/FORMAT.md section 7.6).
    HuffmanBlocks = 8,
    /// A mostly zero plane as the gaps between its nonzero bytes and those bytes
    /// (docs/FORMAT.md section 7.7): the planes of a delta frame.
    Sparse = 9,
    /// A binary range coder with adaptive probabilities, no table, the input in up to eight
    /// segments that may take the one before as context (docs/FORMAT.md section 13): small
    /// frames at the max level.
    Adaptive = 10,
    /// Huffman in 128 lanes (docs/FORMAT.md section 14), which AVX-512 decodes 32 or 64
    /// symbols at a time: planes written for [`crate::Target::Avx512`].
    HuffmanLanes = 11,
}

impl Codec {
    /// The codec for a stored identifier.
    pub fn from_code(code: u8) -> Result<Codec> {
        Ok(match code {
            0 => Codec::Raw,
            1 => Codec::Run,
            2 => Codec::Huffman,
            3 => Codec::Zstd,
            4 => Codec::Lz4,
            5 => Codec::Snappy,
            6 => Codec::Ans,
            7 => Codec::AnsWide,
            8 => Codec::HuffmanBlocks,
            9 => Codec::Sparse,
            10 => Codec::Adaptive,
            11 => Codec::HuffmanLanes,
            _ => return Err(Error::UnsupportedCodec),
        })
    }

    /// The first frame format version whose frames may hold this codec: 2 for codecs 7
    /// to 10, 1 for the others. A frame of an earlier version holding it is
    /// `UnsupportedCodec`.
    pub fn min_version(self) -> u8 {
        match self {
            Codec::AnsWide
            | Codec::HuffmanBlocks
            | Codec::Sparse
            | Codec::Adaptive
            | Codec::HuffmanLanes => 2,
            _ => 1,
        }
    }

    /// Lower-case name for tools.
    pub fn name(self) -> &'static str {
        match self {
            Codec::Raw => "raw",
            Codec::Run => "run",
            Codec::Huffman => "huffman",
            Codec::Zstd => "zstd",
            Codec::Lz4 => "lz4",
            Codec::Snappy => "snappy",
            Codec::Ans => "ans",
            Codec::AnsWide => "ans32",
            Codec::HuffmanBlocks => "huffman-blocks",
            Codec::Sparse => "sparse",
            Codec::Adaptive => "adaptive",
            Codec::HuffmanLanes => "huffman-lanes",
        }
    }
}

/// What a plane holds, which sets how much its coding must save to be kept (method `auto`
/// at the fast and default levels; the max level keeps any saving).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// The first plane of a float layout (the exponent), and every plane of data with no
    /// float layout (int8, uint8, fp8, raw): coding is kept where it saves at least 1/256 of
    /// the plane (and 2 bytes). zstd keeps a block's coding where it saves 1/64; coding
    /// more of the near-random blocks of quantized weights is what an order-0 coder has
    /// over it there (packed 4-bit GGUF payload: 99.48% of the size at 1/64, 99.45% at 1/256,
    /// 99.43% with any saving).
    Main,
    /// Every other plane of a float layout (bf16, fp16, fp32, fp64): mantissa bytes, near
    /// random in trained weights, where coding saves little and costs decoding speed; coding
    /// is kept only below the `threshold` option (default 0.95).
    Mantissa,
}

impl Role {
    /// The role of plane `k` of `dtype`'s planes.
    pub fn of(dtype: DType, k: usize) -> Role {
        let float = matches!(dtype, DType::Bf16 | DType::Fp16 | DType::Fp32 | DType::Fp64);
        if float && k > 0 {
            Role::Mantissa
        } else {
            Role::Main
        }
    }
}

/// Whether `dtype` has no float layout: its planes are bytes an LZ coder is the natural
/// competitor for, so the default level measures zstd on each of them.
fn byte_data(dtype: DType) -> bool {
    !matches!(dtype, DType::Bf16 | DType::Fp16 | DType::Fp32 | DType::Fp64)
}

/// The zstd level of the max level: at least 19, zstd's own strongest regular level.
const MAX_LEVEL_ZSTD: i32 = 19;

/// Coded sizes must be strictly below this to be kept (see [`Role`]).
fn limit(n: usize, opts: &Options, role: Role) -> usize {
    match (opts.method, opts.level, role) {
        (Method::Auto, Level::Max, _) => n,
        (Method::Auto, _, Role::Main) => n.saturating_sub(n / 256 + 2),
        _ => (((opts.threshold as f64) * n as f64).ceil() as usize).min(n),
    }
}

/// Codes one plane, appending its payload to `out`, and returns the codec used.
/// The payload is never longer than the plane; with a codec other than `Raw` and `Run` it
/// is shorter than the plane's limit (see [`Role`]; the plane is taken as plane 0 of
/// `opts.dtype`).
pub fn encode_plane(plane: &[u8], opts: &Options, out: &mut Vec<u8>) -> Codec {
    debug_assert!(!plane.is_empty());
    let start = out.len();
    out.resize(start + plane.len(), 0);
    let (codec, size) = code_plane(plane, None, opts, Role::Main, &mut out[start..]);
    if codec == Codec::Raw {
        out[start..].copy_from_slice(plane);
    }
    out.truncate(start + size);
    codec
}

/// The near-random test samples this many blocks of `SAMPLE_BLOCK` bytes, evenly spaced.
const SAMPLE_BLOCKS: usize = 32;
const SAMPLE_BLOCK: usize = 128;
/// Planes shorter than this are always counted in full: one sample's length, 4 KiB, where
/// the sample is the whole plane (its blocks side by side). From there up the sample
/// decides, on the short planes too: the mantissa planes of the short last chunk of every
/// tensor of an archive (MiniLM bf16: 25 planes of 16 KiB) were counted in full, which took
/// 14k cycles each against about 3k for the sample and the near-random LZ probe, for the
/// same codec on every corpus file.
const SAMPLE_MIN: usize = SAMPLE_BLOCKS * SAMPLE_BLOCK;
/// A sample of `SAMPLE_BLOCKS * SAMPLE_BLOCK = 2^12` bytes whose squared counts sum to at
/// most this has a collision (Rényi order-2) entropy of at least 7.8 bits per byte:
/// `floor(2^24 / 2^7.8)`. Shannon entropy is never below the collision entropy, and a
/// Huffman code never below the Shannon entropy, so such a sample codes to at least
/// 7.8 / 8 = 0.975 of raw: above the default threshold of mantissa planes. (The count
/// of a sample includes each byte paired with itself, so the test is conservative: a
/// uniform random sample sums to about 69632.)
const NEAR_RANDOM_SQUARES: u64 = 75_281;

/// Whether a spread sample of `plane` (at least `SAMPLE_MIN` bytes) looks like random
/// bytes to an order-0 coder (its squared counts at most `squares`, see
/// `NEAR_RANDOM_SQUARES`). Integer arithmetic only, so the decision, like every choice the
/// encoder makes, depends on the input alone.
fn near_random(plane: &[u8]) -> bool {
    debug_assert!(plane.len() >= SAMPLE_MIN);
    let mut h = [0u32; 256];
    let step = (plane.len() - SAMPLE_BLOCK) / (SAMPLE_BLOCKS - 1);
    for k in 0..SAMPLE_BLOCKS {
        for &b in &plane[k * step..k * step + SAMPLE_BLOCK] {
            h[b as usize] += 1;
        }
    }
    h.iter().map(|&c| c as u64 * c as u64).sum::<u64>() <= NEAR_RANDOM_SQUARES
}

/// Whether a mantissa plane at the fast or default level is near-random (see
/// [`code_plane`]), so that it can be stored raw without being counted.
pub(crate) fn skips_as_random(plane: &[u8], opts: &Options, role: Role) -> bool {
    role == Role::Mantissa
        && near_random_mantissa(plane, opts)
        && !(opts.level == Level::Default
            && lz::spread_probe_says_lz_wins(
                plane,
                plane.len() - plane.len() / 40,
                lz::Probe::NEAR_RANDOM,
            ))
}

/// Codes one plane into the start of `out` (at least `plane.len()` bytes; bytes past the
/// payload may be overwritten) and returns the codec and the payload's size. `hist` is the
/// plane's exact byte histogram when the caller already has it (it is not counted again).
/// A `Raw` result is not copied: `out` then holds garbage and the caller stores the plane.
///
/// At the fast and default levels (method `auto`), a mantissa plane of at least 4 KiB
/// (`SAMPLE_MIN`) that a 4 KiB spread sample shows to be near-random for an order-0 coder
/// (a coded size of at least 0.975 of raw, see `NEAR_RANDOM_SQUARES`) is stored raw
/// without being counted: the bf16 sign-mantissa plane, the low mantissa bytes of fp32.
/// At the default level the
/// spread LZ probe still runs first, so data with repeats is not missed. Any compressible
/// stretch long enough to change the decision (a few KiB) shows up in the sample; the max
/// level always counts, and so does every level on the other planes.
pub(crate) fn code_plane(
    plane: &[u8],
    hist: Option<&Histogram>,
    opts: &Options,
    role: Role,
    out: &mut [u8],
) -> (Codec, usize) {
    code_chunk_plane(plane, hist, opts, role, false, out)
}

/// [`code_plane`] for a plane of a frame's chunk; `alone`: the chunk is the frame's only
/// one. The default level tries ANS on a plane under 32 KiB only where `alone`
/// ([`choose_default`]): on a small frame that can decide whether it beats another coder,
/// while the short last chunk of a longer frame (of every tensor of an archive) is too
/// little of the frame for the trial to pay for its time.
pub(crate) fn code_chunk_plane(
    plane: &[u8],
    hist: Option<&Histogram>,
    opts: &Options,
    role: Role,
    alone: bool,
    out: &mut [u8],
) -> (Codec, usize) {
    let n = plane.len();
    if skips_as_random(plane, opts, role) {
        return (Codec::Raw, n);
    }
    match hist {
        Some(h) => choose(plane, h, None, opts, role, alone, out),
        // A plane that may be coded in blocks is counted block by block, the plane's
        // histogram being their sum.
        None if in_blocks(plane.len(), opts) => {
            let (blocks, h) = blocks::Blocks::plan(plane);
            choose(plane, &h, Some(blocks), opts, role, alone, out)
        }
        None => choose(plane, &histogram(plane), None, opts, role, alone, out),
    }
}

/// Whether a plane of `n` bytes of `opts.dtype` is also planned as Huffman in blocks (codec
/// 8): byte data at the default level of method auto, longer than one block.
fn in_blocks(n: usize, opts: &Options) -> bool {
    opts.method == Method::Auto
        && opts.level == Level::Default
        && byte_data(opts.dtype)
        && n > blocks::BLOCK
}

/// What [`code_plane`] would make of a plane with histogram `hist`, estimated without
/// coding it: its order-0 entropy plus a table of half a byte per used symbol, where that
/// stays below the plane's limit, else the plane's length (1 for a run). LZ codecs are not
/// counted. The layout choice compares layouts with it; being integer arithmetic on counts,
/// it gives the same answer on every machine.
pub(crate) fn order0_cost(hist: &Histogram, n: usize, opts: &Options, role: Role) -> usize {
    if n == 0 {
        return 0;
    }
    let stats = histogram::order0_stats(hist, n);
    if stats.single {
        return 1;
    }
    let size = stats.bits_q16.div_ceil(8 << 16) as usize + stats.used / 2 + 16;
    if size < limit(n, opts, role) {
        size
    } else {
        n
    }
}

/// [`order0_cost`] of a plane of `n` bytes, estimated from the histogram `hist` of `m` of
/// its bytes (a spread sample): the sample's entropy scaled to the plane, plus the table of
/// the symbols the sample saw.
pub(crate) fn order0_cost_sampled(
    hist: &Histogram,
    m: usize,
    n: usize,
    opts: &Options,
    role: Role,
) -> usize {
    if m == 0 || n == 0 {
        return 0;
    }
    let stats = histogram::order0_stats(hist, m);
    if stats.single {
        return 1;
    }
    let entropy = (stats.bits_q16 as u128 * n as u128 / m as u128).div_ceil(8 << 16) as usize;
    let size = entropy + stats.used / 2 + 16;
    if size < limit(n, opts, role) {
        size
    } else {
        n
    }
}

/// Whether a mantissa plane is near-random to the spread sample at the fast and default
/// levels, so that [`code_plane`] may store it raw without counting it (unless the LZ probe
/// finds repeats).
pub(crate) fn near_random_mantissa(plane: &[u8], opts: &Options) -> bool {
    opts.threshold <= DEFAULT_THRESHOLD
        && opts.method == Method::Auto
        && matches!(opts.level, Level::Fast | Level::Default)
        && plane.len() >= SAMPLE_MIN
        && near_random(plane)
}

thread_local! {
    /// Per-thread buffer for LZ payloads and probes (reused, so no allocation per plane).
    static LZ_BUF: RefCell<Vec<u8>> = const { RefCell::new(Vec::new()) };
}

/// Runs `f` with this thread's LZ buffer, emptied (a fresh one if it is in use).
fn with_lz_buf<R>(f: impl FnOnce(&mut Vec<u8>) -> R) -> R {
    LZ_BUF.with(|b| match b.try_borrow_mut() {
        Ok(mut v) => {
            v.clear();
            f(&mut v)
        }
        Err(_) => f(&mut Vec::new()),
    })
}

/// A plane written for [`Target::Avx512`] keeps the lanes (codec 11) where they cost at
/// most `1 / LANES_SLACK` more than codec 2.
const LANES_SLACK: usize = 100;

/// One plane being coded: its bytes, histogram and options, where its payload goes, and
/// the size a payload must stay below to be kept.
struct Job<'a> {
    plane: &'a [u8],
    hist: &'a Histogram,
    opts: &'a Options,
    out: &'a mut [u8],
    limit: usize,
    /// The plane planned as Huffman in blocks, where the caller already did it.
    blocks: Option<blocks::Blocks>,
    /// The limit of an LZ payload: the plane's length for a main plane (see `Role`), whose
    /// LZ codec applies the same rule to its blocks inside; `limit` otherwise.
    lz_limit: usize,
    zstd_level: i32,
    /// The plane's chunk is its frame's only one (see [`code_chunk_plane`]).
    alone: bool,
}

impl Job<'_> {
    /// `codec`'s LZ payload in `out` if it is shorter than `bound`.
    fn lz(&mut self, codec: Codec, bound: usize) -> Option<(Codec, usize)> {
        let (plane, out) = (self.plane, &mut *self.out);
        let opts = Options {
            zstd_level: self.zstd_level,
            ..self.opts.clone()
        };
        with_lz_buf(|buf| {
            lz::encode(codec, plane, &opts, buf, bound).then(|| {
                out[..buf.len()].copy_from_slice(buf);
                (codec, buf.len())
            })
        })
    }

    /// The smallest of `codecs` (ANS codecs) in `out`, if one comes below `bound`.
    fn ans(&mut self, codecs: &[Codec], bound: usize) -> Option<(Codec, usize)> {
        let mut best: Option<(Codec, usize)> = None;
        for &codec in codecs {
            let bound = best.map_or(bound, |b| b.1);
            let (plane, hist, out) = (self.plane, self.hist, &mut *self.out);
            let won = with_lz_buf(|buf| {
                let size = match codec {
                    Codec::Ans => ans::encode(plane, hist, buf),
                    _ => ans::encode_wide(plane, hist, buf),
                };
                (size < bound).then(|| {
                    out[..size].copy_from_slice(&buf[..size]);
                    size
                })
            });
            if let Some(size) = won {
                best = Some((codec, size));
            }
        }
        best
    }

    /// Huffman with `plan` in `out`; for [`Target::Avx512`], in lanes (codec 11) where
    /// that applies, costs at most `LANES_SLACK` more, and at most a quarter of the
    /// symbols have codes longer than the lanes' 7 bits (they go to the side list: on the
    /// GGUF int8 quants, 40% of them, the lanes decoded no faster and took four times as
    /// long to code; fp16 exponent planes have 2-11%).
    fn huffman(&mut self, plan: &huffman::Plan) -> (Codec, usize) {
        let n = self.plane.len();
        if self.opts.target == Target::Avx512
            && n >= lanes::MIN_PLANE
            && plan.symbols_longer_than(self.hist, lanes::MAX_LEN as u8) <= n as u64 / 4
        {
            let (plane, hist, out) = (self.plane, self.hist, &mut *self.out);
            let bound = plan.size + plan.size / LANES_SLACK;
            let won = with_lz_buf(|buf| {
                let size = lanes::encode(plane, hist, buf)?;
                (size <= bound && size <= out.len()).then(|| {
                    out[..size].copy_from_slice(buf);
                    size
                })
            });
            if let Some(size) = won {
                return (Codec::HuffmanLanes, size);
            }
        }
        (
            Codec::Huffman,
            huffman::encode_into(self.plane, plan, self.out),
        )
    }
}

/// Chooses the codec of one plane whose byte histogram is `hist` and codes it into the
/// start of `out` (see [`code_plane`]); returns the codec and the payload's size.
fn choose(
    plane: &[u8],
    hist: &Histogram,
    blocks: Option<blocks::Blocks>,
    opts: &Options,
    role: Role,
    alone: bool,
    out: &mut [u8],
) -> (Codec, usize) {
    let n = plane.len();
    debug_assert!(n > 0 && out.len() >= n);
    let first = plane[0];
    if hist[first as usize] as usize == n {
        out[0] = first;
        return (Codec::Run, 1);
    }
    let limit = limit(n, opts, role);
    let zstd_level = if opts.method == Method::Auto && opts.level == Level::Max {
        opts.zstd_level.max(MAX_LEVEL_ZSTD)
    } else {
        opts.zstd_level
    };
    let lz_limit = if opts.method == Method::Auto && role == Role::Main {
        n
    } else {
        limit
    };
    let mut job = Job {
        plane,
        hist,
        opts,
        out,
        limit,
        blocks,
        lz_limit,
        zstd_level,
        alone,
    };
    let coded = match opts.method {
        Method::Raw => None,
        Method::Huffman => huffman::Plan::below(hist, n, limit).map(|p| job.huffman(&p)),
        Method::Zstd => job.lz(Codec::Zstd, limit),
        Method::Lz4 => job.lz(Codec::Lz4, limit),
        Method::Snappy => job.lz(Codec::Snappy, limit),
        Method::Auto => match opts.level {
            Level::Fast => choose_fast(&mut job),
            Level::Default => choose_default(&mut job),
            Level::Max => choose_max(&mut job),
        },
    };
    // The LZ codecs and codec 8 apply the main plane's rule to their own blocks.
    let own_rule = |c: Codec| {
        matches!(
            c,
            Codec::Zstd | Codec::Lz4 | Codec::Snappy | Codec::HuffmanBlocks
        )
    };
    match coded {
        Some((codec, size)) if size < limit || (own_rule(codec) && size < lz_limit) => {
            (codec, size)
        }
        _ => (Codec::Raw, n),
    }
}

/// Level fast: Huffman where it pays.
fn choose_fast(job: &mut Job<'_>) -> Option<(Codec, usize)> {
    let plan = huffman::Plan::below(job.hist, job.plane.len(), job.limit)?;
    Some(job.huffman(&plan))
}

/// The lz4 size below which zstd is worth trying on a plane whose order-0 size is
/// `order0`: 1.9 times it. lz4 has no entropy stage, so where it finds repeats zstd (LZ
/// with Huffman literals) may beat an order-0 coder even though lz4 alone does not: on the
/// corpus zstd won only on planes with lz4 at most 1.81 times the order-0 size, while the
/// exponent planes of trained weights, where lz4's many short matches are worth less than
/// entropy coding, sit at 2.0 and above.
fn lz_worth_trying(order0: usize) -> usize {
    order0.saturating_mul(19) / 10
}

/// Level default: Huffman, or zstd where it is smaller. On data with no float layout zstd
/// is always measured; on float planes only where lz4 on a spread sample of the plane
/// finds repeats: below 1.9 times Huffman's size for the same bytes ([`lz_worth_trying`],
/// the max level's test on a sample).
///
/// A plane of byte data longer than one block of codec 8 ([`blocks::BLOCK`], 256 KiB, the
/// automatic chunk size of byte data at this level is larger, see
/// [`Options::resolved_chunk_size`]) is also planned as Huffman in blocks, a table per
/// block: of the two Huffman codings the smaller is zstd's bound and, where zstd does not
/// beat it, the payload. So a long plane keeps what zstd finds across it and what a table
/// per 256 KiB finds in near-random packed bytes.
fn choose_default(job: &mut Job<'_>) -> Option<(Codec, usize)> {
    if in_blocks(job.plane.len(), job.opts) {
        return choose_default_blocks(job);
    }
    // Plans that cannot come below the limit are not built (`Plan::below`): the same
    // decisions as with every plan built.
    let plan = huffman::Plan::below(job.hist, job.plane.len(), job.limit);
    let huff = plan.as_ref().map_or(job.limit, |p| p.size.min(job.limit));
    // Where Huffman pays, zstd is tried where lz4 found repeats worth it on the sample
    // (`lz_worth_trying`, and below 0.995 of raw); elsewhere where lz4 beats the limit.
    let n = job.plane.len();
    let probe = if huff < job.limit {
        lz_worth_trying(huff).min(n - n / 200)
    } else {
        huff
    };
    let bytes = byte_data(job.opts.dtype);
    if bytes || lz::spread_probe_says_lz_wins(job.plane, probe, lz::Probe::COUNTED) {
        // zstd applies the same rule to its own blocks and stores the others raw (which
        // decode as fast as a raw plane), so its payload is kept with any saving.
        let bound = if huff < job.limit { huff } else { job.lz_limit };
        if !bytes && n >= SMALL_ANS {
            // Float planes of 32 KiB and more that the probe passes are tried at zstd level
            // 2 at most (its double hash, in less time than level 3's): on the corpus files
            // within 0.02 pp of level 3, either way, except the 0.2 MB of GGUF fp32 norms
            // (+0.08 pp). Shorter planes, whose time does not show, keep the level.
            job.zstd_level = job.zstd_level.min(FLOAT_TRIAL_ZSTD);
        }
        if let Some(z) = job.lz(Codec::Zstd, bound) {
            return Some(z);
        }
    }
    let plan = plan.filter(|p| p.size < job.limit);
    // A plane of ALONE_ANS_MIN to SMALL_ANS bytes of a frame of one chunk (a small input
    // or tensor) also tries ANS where its estimate comes near Huffman's size, as the max
    // level does: it gets closer to the order-0 bound on the skewed exponent planes of
    // small tensors (ISNet's fp32 biases: 49 018 -> 48 977 bytes, below the reference's
    // 49 017). Not on the short last chunk of a longer frame: on every tensor of a
    // safetensors archive that cost a fifth of the archive's compression time (MiniLM bf16
    // fine-tune, one thread: 2575 -> 2017 MB/s) for 1 KB of 30 MB. Nor on planes under
    // ALONE_ANS_MIN bytes: on the bias and norm tensors of that archive (one chunk each,
    // planes of 384 and 1536 bytes) ANS never won (its table and final states cost 60 to
    // 120 bytes above the entropy there), and the estimate alone (the model quantised at
    // five scales) took 9% of the archive's compression instructions. The estimate is made
    // only where ANS can win: its payload is at least the plane's order-0 entropy plus 2
    // bytes per state (each ends as a 32-bit word and starts with two of the plane's bytes
    // in its low 16 bits).
    let bound = plan.as_ref().map_or(job.limit, |p| p.size);
    if job.alone && (ALONE_ANS_MIN..SMALL_ANS).contains(&n) {
        let entropy = histogram::order0_stats(job.hist, n)
            .bits_q16
            .div_ceil(8 << 16) as usize;
        if entropy + 2 * ans::STATES < bound && ans::estimated_size(job.hist, n) < bound + 64 {
            if let Some(a) = job.ans(&[Codec::AnsWide, Codec::Ans], bound) {
                return Some(a);
            }
        }
    }
    Some(job.huffman(&plan?))
}

/// [`choose_default`] on a plane of byte data longer than one block: zstd over the whole
/// plane, or the smaller of one Huffman table and a table per block (codec 8), whichever is
/// smallest. Codec 8 applies the main plane's rule to its blocks (a block is coded only
/// where that saves `len / 256 + 2` bytes), so its payload is kept with any saving, as
/// zstd's is.
fn choose_default_blocks(job: &mut Job<'_>) -> Option<(Codec, usize)> {
    let (plane, n) = (job.plane, job.plane.len());
    let in_blocks = match job.blocks.take() {
        Some(b) => b,
        None => blocks::Blocks::plan(plane).0,
    };
    let plan = huffman::Plan::below(job.hist, n, job.limit);
    let one = plan.as_ref().map_or(n, |p| p.size);
    let blocked = if in_blocks.size < job.lz_limit {
        in_blocks.size
    } else {
        n
    };
    let best = one.min(blocked);
    if let Some(z) = job.lz(Codec::Zstd, best.min(job.lz_limit)) {
        return Some(z);
    }
    if best >= n {
        return None;
    }
    if let (Some(p), true) = (&plan, one <= blocked) {
        return Some(job.huffman(p));
    }
    let out = &mut *job.out;
    with_lz_buf(|buf| {
        buf.resize(in_blocks.size + 8, 0);
        let size = in_blocks.encode_into(plane, buf);
        out[..size].copy_from_slice(&buf[..size]);
        Some((Codec::HuffmanBlocks, size))
    })
}

/// The shortest plane of a frame of one chunk that the default level tries with ANS (see
/// `choose_default`).
const ALONE_ANS_MIN: usize = 4096;

/// The highest zstd level the default level tries on a float plane (see `choose_default`).
const FLOAT_TRIAL_ZSTD: i32 = 2;

/// Planes shorter than this (bytes) at level max are also tried with codec 6 (ANS with
/// sixteen states), which can beat codec 7 on them by a few bytes; at the default level,
/// such planes of a frame of one chunk are tried with both (see [`choose_default`]).
const SMALL_ANS: usize = 32 * 1024;

/// Level max: the smallest of Huffman, ANS and the LZ codecs worth trying.
fn choose_max(job: &mut Job<'_>) -> Option<(Codec, usize)> {
    let (plane, n, limit) = (job.plane, job.plane.len(), job.limit);
    let plan = huffman::Plan::new(job.hist);
    let huff = plan.as_ref().map_or(0, |p| p.size);
    // Codec 6's estimate also bounds codec 7, whose tail and packed states pay for its
    // extra states.
    let ans_estimate = ans::estimated_size(job.hist, n);
    // lz4 on every plane; then zstd (at level 19 or above) and snappy: always on data with
    // no float layout, and on float planes where lz4's size says LZ may win, that is lz4
    // below 0.995 of raw (it found repeats) and below 1.9 times the best order-0 size
    // (Huffman, or the ANS estimate; see `lz_worth_trying`); the rule skips zstd and snappy
    // on nearly every float plane, where they took two thirds of the max level's time.
    // The best LZ payload so far is kept in `out`; it must beat Huffman and the limit.
    let mut best: Option<(Codec, usize)> = None;
    let lz4 = with_lz_buf(|buf| {
        lz::encode(Codec::Lz4, plane, job.opts, buf, n).then(|| {
            if buf.len() < limit.min(huff) {
                job.out[..buf.len()].copy_from_slice(buf);
                best = Some((Codec::Lz4, buf.len()));
            }
            buf.len()
        })
    });
    let order0 = huff.min(ans_estimate);
    let promising = |size: usize| size < n - n / 200 && size < lz_worth_trying(order0);
    if byte_data(job.opts.dtype) || lz4.is_some_and(promising) {
        for codec in [Codec::Zstd, Codec::Snappy] {
            let bound = best.map_or(limit.min(huff), |b| b.1);
            if let Some(b) = job.lz(codec, bound) {
                best = Some(b);
            }
        }
    }
    // ANS gets closer to the order-0 bound than Huffman; its estimate is a close upper
    // bound, so only promising planes are coded.
    let huff_ok = plan.is_some() && huff < limit;
    let target = best
        .map_or(limit, |b| b.1)
        .min(if huff_ok { huff } else { limit });
    if ans_estimate < target + 64 {
        // Codec 7 (thirty-two states, decoded twice as fast); below SMALL_ANS bytes also
        // codec 6, whose sixteen states can come out smaller on a short plane.
        let codecs: &[Codec] = if n < SMALL_ANS {
            &[Codec::AnsWide, Codec::Ans]
        } else {
            &[Codec::AnsWide]
        };
        let bound = best.map_or(target, |b| b.1.min(target));
        if let Some(a) = job.ans(codecs, bound) {
            best = Some(a);
        }
    }
    match (best, plan) {
        (Some(b), _) => Some(b),
        (None, Some(p)) if huff < limit => Some(job.huffman(&p)),
        _ => None,
    }
}

/// Decodes one plane-chunk payload into `dst`, whose length is the plane's length.
pub fn decode_plane(codec: Codec, payload: &[u8], dst: &mut [u8]) -> Result<()> {
    match codec {
        Codec::Raw => {
            if payload.len() != dst.len() {
                return Err(Error::Corrupt);
            }
            dst.copy_from_slice(payload);
            Ok(())
        }
        Codec::Run => {
            if payload.len() != 1 {
                return Err(Error::Corrupt);
            }
            dst.fill(payload[0]);
            Ok(())
        }
        Codec::Huffman => huffman::decode(payload, dst),
        Codec::Ans => ans::decode(payload, dst),
        Codec::AnsWide => ans::decode_wide(payload, dst),
        Codec::HuffmanBlocks => blocks::decode(payload, dst),
        Codec::Sparse => sparse::decode(payload, dst),
        Codec::Adaptive => adaptive::decode(payload, dst),
        Codec::HuffmanLanes => lanes::decode(payload, dst),
        Codec::Zstd | Codec::Lz4 | Codec::Snappy => lz::decode(codec, payload, dst),
    }
}

/// Decodes the planes of one chunk, `(codec, payload, dst)` each, as [`decode_plane`]
/// would one by one (the same output and errors), except that raw planes are only checked
/// for length (the caller reads them from the payload). Codec 7 planes are decoded two
/// at a time ([`ans::decode_wide_pair`]). `warm`: bytes the caller reads next (the raw
/// planes' payload), which Huffman planes ask the processor to bring into the caches as
/// they decode ([`huffman::decode_warming`]).
pub fn decode_planes<'a>(
    planes: impl Iterator<Item = (Codec, &'a [u8], &'a mut [u8])>,
    mut warm: &[u8],
) -> Result<()> {
    let mut held: Option<(&[u8], &mut [u8])> = None;
    for (codec, payload, dst) in planes {
        match codec {
            Codec::Raw if payload.len() != dst.len() => return Err(Error::Corrupt),
            Codec::Raw => {}
            Codec::Huffman => huffman::decode_warming(payload, dst, &mut warm)?,
            Codec::HuffmanLanes => lanes::decode_warming(payload, dst, &mut warm)?,
            Codec::AnsWide => match held.take() {
                Some((a, da)) => ans::decode_wide_pair(a, da, payload, dst)?,
                None => held = Some((payload, dst)),
            },
            _ => decode_plane(codec, payload, dst)?,
        }
    }
    match held {
        Some((a, da)) => ans::decode_wide(a, da),
        None => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::options::DType;

    fn data(kind: u32, n: usize) -> Vec<u8> {
        let mut seed = 0x9E37_79B9_7F4A_7C15u64;
        (0..n)
            .map(|i| {
                let s = crate::test_rng::step(&mut seed);
                match kind {
                    0 => s as u8,                             // random
                    1 => 120 + (s % 7) as u8 * (s % 3) as u8, // skewed
                    2 => (i % 251) as u8,                     // LZ friendly
                    _ => 9,                                   // run
                }
            })
            .collect()
    }

    #[test]
    fn every_method_round_trips_every_kind() {
        for method in Method::ALL {
            for level in [Level::Fast, Level::Default, Level::Max] {
                for kind in 0..4 {
                    for n in [1usize, 2, 100, 70_000] {
                        let plane = data(kind, n);
                        let opts = Options {
                            method,
                            level,
                            ..Options::new(DType::Raw)
                        };
                        let mut out = vec![0xAA];
                        let codec = encode_plane(&plane, &opts, &mut out);
                        assert!(out.len() - 1 <= n);
                        let mut back = vec![0u8; n];
                        decode_plane(codec, &out[1..], &mut back).unwrap();
                        assert_eq!(back, plane, "{method:?} {level:?} kind={kind} n={n}");
                        if kind == 3 {
                            assert_eq!(codec, Codec::Run);
                        }
                        if kind == 0 && n > 100 {
                            assert_eq!(codec, Codec::Raw, "random data must stay raw");
                        }
                    }
                }
            }
        }
    }

    #[test]
    fn auto_picks_lz_for_lz_friendly_data_at_default_level() {
        let plane = data(2, 100_000);
        let mut out = Vec::new();
        let codec = encode_plane(&plane, &Options::default(), &mut out);
        assert_eq!(codec, Codec::Zstd);
        assert!(out.len() < 2000);
    }

    /// Codes `plane` as a plane of role `role` with `opts` and checks that it decodes;
    /// returns the codec and the payload's size.
    fn code(plane: &[u8], opts: &Options, role: Role) -> (Codec, usize) {
        let mut out = vec![0u8; plane.len()];
        let (codec, size) = code_plane(plane, None, opts, role, &mut out);
        let payload = if codec == Codec::Raw {
            plane
        } else {
            &out[..size]
        };
        let mut back = vec![0u8; plane.len()];
        decode_plane(codec, payload, &mut back).unwrap();
        assert_eq!(back, plane);
        (codec, size)
    }

    #[test]
    fn near_random_mantissa_planes_are_sampled() {
        let random = data(0, 128 * 1024);
        assert!(near_random(&random));
        assert!(!near_random(&data(1, 128 * 1024)));
        // Random and a compressible stretch of 16 KiB: the sample sees it and the plane is
        // counted and coded.
        let mut mixed = random.clone();
        mixed[40_000..56_384].fill(3);
        assert!(!near_random(&mixed));
        for level in [Level::Fast, Level::Default] {
            let opts = Options {
                level,
                ..Options::new(DType::Bf16)
            };
            assert!(skips_as_random(&random, &opts, Role::Mantissa));
            assert!(!skips_as_random(&random, &opts, Role::Main));
            assert_eq!(code(&random, &opts, Role::Mantissa).0, Codec::Raw);
            assert_ne!(code(&mixed, &opts, Role::Mantissa).0, Codec::Raw);
        }
        // Random bytes that repeat: order-0 sees noise, LZ does not. The sample repeats
        // too, so the plane is counted and the default level's probe picks zstd.
        let repeats: Vec<u8> = random[..1000]
            .iter()
            .copied()
            .cycle()
            .take(100_000)
            .collect();
        assert!(!near_random(&repeats));
        let bf16 = Options::new(DType::Bf16);
        assert_eq!(code(&repeats, &bf16, Role::Mantissa).0, Codec::Zstd);
        // Repeats far apart, in a plane the sample finds near-random: the spread probe
        // finds them (it puts blocks from across the plane side by side).
        let mut far = random.clone();
        let step = (far.len() - 256) / 15;
        for k in 1..16 {
            far.copy_within(..256, k * step);
        }
        assert!(near_random(&far));
        assert!(lz::spread_probe_says_lz_wins(
            &far,
            far.len(),
            lz::Probe::NEAR_RANDOM
        ));
    }

    #[test]
    fn short_mantissa_planes_are_sampled_too() {
        // The mantissa planes of a tensor's short last chunk: from one sample's length
        // (4 KiB, where the sample is the whole plane) up, a near-random one is stored raw
        // on the sample's word, without a count; a skewed one is still counted and coded.
        for level in [Level::Fast, Level::Default] {
            let opts = Options {
                level,
                ..Options::new(DType::Bf16)
            };
            for n in [SAMPLE_MIN, 16 * 1024, 32 * 1024 - 2] {
                let random = data(0, n);
                assert!(skips_as_random(&random, &opts, Role::Mantissa), "{n}");
                assert_eq!(code(&random, &opts, Role::Mantissa).0, Codec::Raw);
                let skewed = data(1, n);
                assert!(!skips_as_random(&skewed, &opts, Role::Mantissa), "{n}");
                assert_eq!(code(&skewed, &opts, Role::Mantissa).0, Codec::Huffman);
            }
            // Shorter planes are counted: the same codecs, from the counts.
            let random = data(0, SAMPLE_MIN - 2);
            assert!(!skips_as_random(&random, &opts, Role::Mantissa));
            assert_eq!(code(&random, &opts, Role::Mantissa).0, Codec::Raw);
        }
        // At 4 KiB the sample is the whole plane: the test sees every byte.
        let mut plane = data(0, SAMPLE_MIN);
        assert!(near_random(&plane));
        plane[SAMPLE_MIN - 300..].fill(7);
        assert!(!near_random(&plane));
    }

    #[test]
    fn byte_data_gets_what_zstd_gets_wherever_the_repeats_are() {
        // 1000 random bytes, then 100 000 zeros: no probe at the start of the plane
        // decides for the rest.
        let mut plane = data(0, 1000);
        plane.resize(101_000, 0);
        for dtype in [DType::Int8, DType::Uint8, DType::Raw] {
            let (codec, size) = code(&plane, &Options::new(dtype), Role::Main);
            assert_eq!(codec, Codec::Zstd, "{dtype:?}");
            assert!(size < 1200, "{dtype:?}: {size}");
        }
        // The zeros first, then the random bytes: the same.
        plane.rotate_left(1000);
        let (codec, size) = code(&plane, &Options::new(DType::Int8), Role::Main);
        assert_eq!((codec, size < 1200), (Codec::Zstd, true), "{size}");
    }

    #[test]
    fn long_byte_planes_keep_a_table_per_block() {
        // Two blocks of skewed bytes over different values, no repeats for LZ: one table
        // for both costs more than a table each.
        let a = data(1, blocks::BLOCK);
        let mut plane: Vec<u8> = a.iter().map(|&b| b.wrapping_add(100)).collect();
        plane.extend(&data(1, blocks::BLOCK)[..100_000]);
        for dtype in [DType::Int8, DType::Uint8, DType::Fp8E4M3, DType::Raw] {
            let opts = Options::new(dtype);
            let (codec, size) = code(&plane, &opts, Role::Main);
            assert_eq!(codec, Codec::HuffmanBlocks, "{dtype:?}");
            let one = huffman::Plan::new(&histogram(&plane)).unwrap().size;
            assert!(size < one, "{dtype:?}: {size} vs {one}");
            // Level fast (Huffman only) keeps codec 2, and float data never gets codec 8.
            let fast = Options {
                level: Level::Fast,
                ..opts
            };
            assert_eq!(code(&plane, &fast, Role::Main).0, Codec::Huffman);
        }
        assert_ne!(
            code(&plane, &Options::new(DType::Bf16), Role::Main).0,
            Codec::HuffmanBlocks
        );
        // Where the repeats are, zstd over the whole plane still wins.
        let mut lz = data(2, 2 * blocks::BLOCK);
        lz[..1000].copy_from_slice(&data(0, 1000));
        assert_eq!(
            code(&lz, &Options::new(DType::Uint8), Role::Main).0,
            Codec::Zstd
        );
    }

    #[test]
    fn limits_follow_the_role() {
        let n = 100_000;
        let auto = Options::new(DType::Fp32);
        assert_eq!(limit(n, &auto, Role::Main), n - n / 256 - 2);
        assert_eq!(limit(n, &auto, Role::Mantissa), 95_000);
        let max = Options {
            level: Level::Max,
            ..auto.clone()
        };
        assert_eq!(limit(n, &max, Role::Main), n);
        assert_eq!(limit(n, &max, Role::Mantissa), n);
        let huffman = Options {
            method: Method::Huffman,
            ..auto
        };
        assert_eq!(limit(n, &huffman, Role::Main), 95_000);
        assert_eq!(Role::of(DType::Bf16, 0), Role::Main);
        assert_eq!(Role::of(DType::Fp64, 3), Role::Mantissa);
        assert_eq!(Role::of(DType::Raw, 3), Role::Main);
    }

    #[test]
    fn threshold_is_respected() {
        let plane = data(1, 50_000);
        let opts = Options {
            threshold: 0.01,
            ..Options::new(DType::Bf16)
        };
        assert_eq!(code(&plane, &opts, Role::Mantissa).0, Codec::Raw);
        // Main planes keep what saves 1/256 whatever the threshold...
        assert_ne!(code(&plane, &opts, Role::Main).0, Codec::Raw);
        // ...with method auto; a chosen method keeps the threshold everywhere.
        let huffman = Options {
            method: Method::Huffman,
            ..opts
        };
        assert_eq!(code(&plane, &huffman, Role::Main).0, Codec::Raw);
    }

    /// With target avx512, Huffman planes go to lanes (codec 11) where at most a quarter of
    /// the symbols need codes longer than 7 bits, and stay codec 2 elsewhere.
    #[test]
    fn lanes_take_the_planes_with_few_long_codes() {
        let mut rng = crate::test_rng::Rng(17);
        // Level fast: Huffman or raw, so that zstd does not take the byte planes.
        let opts = |dtype, target| Options {
            target,
            level: Level::Fast,
            ..Options::new(dtype)
        };
        // Exponent-like bytes: a few values, long codes rare.
        let skewed: Vec<u8> = (0..65536)
            .map(|_| (120.0 + rng.gauss() * 2.0) as u8)
            .collect();
        // Bytes of a wide bell (about 7.3 bits): most symbols have codes of 8 bits and more.
        let wide: Vec<u8> = (0..65536)
            .map(|_| (128.0 + rng.gauss() * 40.0).clamp(0.0, 255.0) as u8)
            .collect();
        for dtype in [DType::Int8, DType::Bf16] {
            let any = opts(dtype, Target::Any);
            let avx = opts(dtype, Target::Avx512);
            assert_eq!(code(&skewed, &any, Role::Main).0, Codec::Huffman);
            assert_eq!(code(&skewed, &avx, Role::Main).0, Codec::HuffmanLanes);
            assert_eq!(code(&wide, &avx, Role::Main).0, Codec::Huffman, "{dtype:?}");
        }
        // Short planes stay codec 2.
        assert_eq!(
            code(
                &skewed[..4095],
                &opts(DType::Bf16, Target::Avx512),
                Role::Main
            )
            .0,
            Codec::Huffman
        );
    }

    #[test]
    fn bad_payloads_are_errors() {
        let mut dst = [0u8; 10];
        assert_eq!(
            decode_plane(Codec::Raw, &[1; 9], &mut dst),
            Err(Error::Corrupt)
        );
        assert_eq!(
            decode_plane(Codec::Run, &[1, 2], &mut dst),
            Err(Error::Corrupt)
        );
        for c in [Codec::Zstd, Codec::Lz4, Codec::Snappy] {
            assert!(decode_plane(c, &[0xFF; 7], &mut dst).is_err(), "{c:?}");
        }
        assert_eq!(Codec::from_code(8), Ok(Codec::HuffmanBlocks));
        assert_eq!(Codec::from_code(9), Ok(Codec::Sparse));
        assert_eq!(Codec::from_code(10), Ok(Codec::Adaptive));
        assert_eq!(Codec::from_code(11), Ok(Codec::HuffmanLanes));
        assert_eq!(Codec::from_code(12), Err(Error::UnsupportedCodec));
        assert_eq!(
            decode_plane(Codec::HuffmanLanes, &[0xFF; 7], &mut dst),
            Err(Error::Corrupt)
        );
        assert_eq!(
            decode_plane(Codec::Sparse, &[0xFF; 7], &mut dst),
            Err(Error::Corrupt)
        );
    }

    /// `frame` (format 2, chunks of layout 0) rewritten as a format 1 frame: the same
    /// header fields, chunk entries and payloads, the entries without their layout byte.
    pub(super) fn as_version_1(frame: &[u8]) -> Vec<u8> {
        use crate::frame::{ChunkEntry, Frame};
        let f = Frame::parse(frame).unwrap();
        let mut h = *f.header();
        h.version = 1;
        let entries: Vec<ChunkEntry> = (0..f.chunk_count())
            .map(|i| {
                let mut e = ChunkEntry {
                    checksum: f.chunk_checksum(i),
                    ..ChunkEntry::default()
                };
                assert_eq!(f.layout(i), e.layout);
                for (d, p) in e.planes.iter_mut().zip(f.planes(i)) {
                    *d = p;
                }
                e
            })
            .collect();
        let mut out = vec![0u8; h.header_size().unwrap() as usize];
        h.write(f.metadata(), entries, &mut out);
        for i in 0..f.chunk_count() {
            out.extend_from_slice(f.chunk_payload(i));
        }
        out
    }

    #[test]
    fn codec_7_only_in_version_2_frames() {
        // bf16 weights (normal, sigma 0.02): level max codes their planes with codec 7.
        let mut s = 0x2545_F491_4F6C_DD1Du64;
        let mut unit = move || {
            s ^= s << 13;
            s ^= s >> 7;
            s ^= s << 17;
            ((s >> 11) as f64 + 0.5) / (1u64 << 53) as f64
        };
        let src: Vec<u8> = (0..300_000)
            .flat_map(|_| {
                let (u, v) = (unit(), unit());
                let w = 0.02 * (-2.0 * u.ln()).sqrt() * (std::f64::consts::TAU * v).cos();
                let b = ((w as f32).to_bits() >> 16) as u16;
                b.to_le_bytes()
            })
            .collect();
        let codecs = |frame: &[u8]| -> Vec<Codec> {
            let f = crate::frame::Frame::parse(frame).unwrap();
            (0..f.chunk_count())
                .flat_map(|i| f.planes(i).map(|p| p.codec))
                .collect()
        };
        for level in [Level::Default, Level::Max] {
            let opts = Options {
                dtype: DType::Bf16,
                level,
                ..Options::default()
            };
            let frame = crate::compress(&src, &opts).unwrap();
            assert_eq!(frame[4], 2);
            assert!(crate::decompress(&frame).unwrap() == src);
            let v1 = as_version_1(&frame);
            assert_eq!(v1[4], 1);
            if codecs(&frame).contains(&Codec::AnsWide) {
                assert_eq!(level, Level::Max);
                assert_eq!(crate::decompress(&v1), Err(Error::UnsupportedCodec));
                assert_eq!(crate::verify(&v1), Err(Error::UnsupportedCodec));
            } else {
                // The same rewriting of a frame without codec 7 is a valid frame.
                assert_eq!(level, Level::Default);
                assert!(crate::decompress(&v1).unwrap() == src);
            }
        }
    }
}
