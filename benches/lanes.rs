//! Wide Huffman layouts measured against the format's Huffman decoder (codec 2) on real
//! planes: the prototypes behind codec 11 (docs/FORMAT.md section 14, the register layout
//! with its ends pooled) and the layouts measured against it. The codec itself lives in
//! src/codec/lanes; these are the prototypes as they were measured.
//!
//! ```text
//! taskset -c 1 cargo bench --bench lanes -- FILE DTYPE [RUNS]
//! ```
//!
//! FILE holds little-endian values of DTYPE (bf16, fp16 or fp32), for example
//! `minilm.bf16.raw` from the shared corpus. The first 64 MiB are cut into 256 KiB chunks,
//! each chunk is split into planes as the format does, and the plane with the fewest bits
//! of entropy (the exponents) is kept unless it holds one value (a run in the format). Every layout codes all those planes; the decoders
//! are timed over all of them (best of RUNS, default 15, CPU time of this thread) and
//! checked to give the planes back.
//!
//! The layouts, `N` lanes each, symbol `j` in lane `j mod N` (so a step of all lanes
//! writes `N` consecutive output bytes), refills taken in lane order from one shared
//! stream:
//! - **gather**: 32-bit lanes, 16-bit refills while fewer than 11 bits are left, one
//!   symbol a lane and step looked up in the 11-bit table of the plane's code (codec 2's
//!   lengths) with AVX-512 gathers;
//! - **register**: 16-bit lanes, byte refills while fewer than 8 bits are left, a code of
//!   at most 7 bits over the common symbols and an escape, looked up in two 128-byte
//!   tables with byte permutes (AVX-512 VBMI); symbols whose codes in codec 2 are longer
//!   than 7 bits are coded as the escape and patched in afterwards from a side list
//!   (sized as a codec 2 payload of those symbols);
//! - **register, ends pooled** (sizes only): the same, with the vectors stopping K steps
//!   early and the bits left in the lanes' buffers carrying the last symbols.

#![allow(clippy::needless_range_loop)]

mod planes;

use planes::thread_time;
use zipnn::codec::huffman;

/// Longest code of the gather layout (codec 2's limit).
const MAX_LEN: u32 = 11;
/// Longest code of the register layout's main code.
const REG_LEN: u32 = 7;

fn main() {
    let Some((_, planes, runs)) = planes::from_args("lanes") else {
        return;
    };
    let symbols: usize = planes.iter().map(Vec::len).sum();
    let mut coded = Vec::with_capacity(planes.len());
    for p in &planes {
        let mut v = Vec::new();
        huffman::encode(p, &huffman::histogram(p), &mut v);
        coded.push(v);
    }
    let base_bytes: usize = coded.iter().map(Vec::len).sum();
    let mut out = vec![0u8; planes.iter().map(Vec::len).max().unwrap_or(0) + 4096];
    let t = best_of(runs, || {
        for (c, p) in coded.iter().zip(&planes) {
            huffman::decode(c, &mut out[..p.len()]).expect("codec 2 decodes");
        }
    });
    println!(
        "{} plane-chunks, {symbols} symbols; codec 2: {base_bytes} bytes, {:.2} Gsymbols/s",
        planes.len(),
        symbols as f64 / t / 1e9
    );
    let row = |name: &str, lanes: usize, bytes: usize, speed: Option<f64>| {
        let speed = speed.map_or("(not run: needs AVX-512)".to_string(), |s| {
            format!("{:.2} Gsymbols/s", symbols as f64 / s / 1e9)
        });
        println!(
            "{name:<22} {lanes:>3} lanes: {bytes} bytes ({:+.4}%), {speed}",
            (bytes as f64 / base_bytes as f64 - 1.0) * 100.0
        );
    };

    for lanes in [32, 48, 64] {
        let g: Vec<Gather> = planes
            .iter()
            .zip(&coded)
            .map(|(p, c)| Gather::encode(p, c, lanes))
            .collect();
        for (x, p) in g.iter().zip(&planes) {
            x.decode_scalar(&mut out[..p.len()]);
            assert!(
                out[..p.len()] == p[..],
                "gather layout: scalar decode differs"
            );
        }
        let bytes = g.iter().map(|x| x.bytes).sum();
        let speed = x86::gather_available().then(|| {
            for (x, p) in g.iter().zip(&planes) {
                x86::gather_decode(x, &mut out);
                assert!(
                    out[..p.len()] == p[..],
                    "gather layout: vector decode differs"
                );
            }
            best_of(runs, || {
                g.iter().for_each(|x| x86::gather_decode(x, &mut out))
            })
        });
        row("gather", lanes, bytes, speed);
    }
    for lanes in [32, 64, 128] {
        let r: Vec<Register> = planes.iter().map(|p| Register::encode(p, lanes)).collect();
        let bytes = r.iter().map(|x| x.bytes).sum();
        let speed = x86::register_available().then(|| {
            let mut rare = Vec::new();
            for (x, p) in r.iter().zip(&planes) {
                x86::register_decode(x, &mut out, &mut rare);
                assert!(
                    out[..p.len()] == p[..],
                    "register layout: vector decode differs"
                );
            }
            best_of(runs, || {
                r.iter()
                    .for_each(|x| x86::register_decode(x, &mut out, &mut rare))
            })
        });
        row("register", lanes, bytes, speed);
        let speed = (x86::avx2_available() && lanes <= 64).then(|| {
            let mut rare = Vec::new();
            for (x, p) in r.iter().zip(&planes) {
                x86::register_decode_avx2(x, &mut out, &mut rare);
                assert!(
                    out[..p.len()] == p[..],
                    "register layout: AVX2 decode differs"
                );
            }
            best_of(runs, || {
                r.iter()
                    .for_each(|x| x86::register_decode_avx2(x, &mut out, &mut rare))
            })
        });
        if lanes <= 64 {
            row("register, AVX2 only", lanes, bytes, speed);
        }
        // A plane where no K fits keeps its codec 2 size.
        let (mut pooled, mut most_k) = (0, 0);
        for (x, c) in r.iter().zip(&coded) {
            let (bytes, k) = x.pooled_bytes().unwrap_or((c.len(), 0));
            pooled += bytes;
            most_k = most_k.max(k);
        }
        println!(
            "{:<22} {lanes:>3} lanes: {pooled} bytes ({:+.4}%), sizes only, K at most {most_k}",
            "register, ends pooled",
            (pooled as f64 / base_bytes as f64 - 1.0) * 100.0
        );
    }
}

/// Best run time in seconds of `f` (CPU time of this thread).
fn best_of(runs: usize, mut f: impl FnMut()) -> f64 {
    (0..runs.max(1))
        .map(|_| {
            let t = thread_time();
            f();
            thread_time() - t
        })
        .fold(f64::INFINITY, f64::min)
}

/// Code lengths of a Huffman code of `hist` limited to `limit` bits (package-merge).
fn limited_lengths(hist: &[u32; 256], limit: u32) -> [u8; 256] {
    let mut syms: Vec<usize> = (0..256).filter(|&s| hist[s] > 0).collect();
    syms.sort_by_key(|&s| (hist[s], s));
    let mut lens = [0u8; 256];
    if syms.len() == 1 {
        lens[syms[0]] = 1;
        return lens;
    }
    // Each item: weight and how many times each symbol is inside it.
    let leaves: Vec<(u64, Vec<u16>)> = syms
        .iter()
        .map(|&s| {
            let mut c = vec![0u16; 256];
            c[s] = 1;
            (u64::from(hist[s]), c)
        })
        .collect();
    let mut list = leaves.clone();
    for _ in 1..limit {
        let packages = list.chunks_exact(2).map(|p| {
            let c = p[0].1.iter().zip(&p[1].1).map(|(a, b)| a + b).collect();
            (p[0].0 + p[1].0, c)
        });
        let mut merged = leaves.clone();
        merged.extend(packages);
        merged.sort_by_key(|x| x.0);
        list = merged;
    }
    for item in &list[..2 * (syms.len() - 1)] {
        for s in 0..256 {
            lens[s] += item.1[s] as u8;
        }
    }
    lens
}

/// Canonical codes of `lens`, bit-reversed for LSB-first reading.
fn canonical(lens: &[u8; 256]) -> [u32; 256] {
    let mut codes = [0u32; 256];
    let mut code = 0u32;
    for len in 1..=MAX_LEN {
        for s in 0..256 {
            if u32::from(lens[s]) == len {
                codes[s] = code.reverse_bits() >> (32 - len);
                code += 1;
            }
        }
        code <<= 1;
    }
    codes
}

/// The lengths that a codec 2 payload carries in its header.
fn codec2_lengths(payload: &[u8]) -> [u8; 256] {
    let (min, max) = (payload[0] as usize, payload[1] as usize);
    let mut lens = [0u8; 256];
    for j in 0..=max - min {
        let b = payload[2 + j / 2];
        lens[min + j] = if j % 2 == 0 { b & 15 } else { b >> 4 };
    }
    lens
}

/// Each lane's codes as a bit string cut into `unit`-bit pieces (the last one padded).
fn lane_units(
    src: &[u8],
    lanes: usize,
    lens: &[u8; 256],
    codes: &[u32; 256],
    unit: u32,
) -> Vec<Vec<u32>> {
    let mut out = vec![Vec::new(); lanes];
    let mut acc = vec![0u64; lanes];
    let mut bits = vec![0u32; lanes];
    for (j, &s) in src.iter().enumerate() {
        let i = j % lanes;
        acc[i] |= u64::from(codes[s as usize]) << bits[i];
        bits[i] += u32::from(lens[s as usize]);
        while bits[i] >= unit {
            out[i].push((acc[i] & ((1 << unit) - 1)) as u32);
            acc[i] >>= unit;
            bits[i] -= unit;
        }
    }
    for i in 0..lanes {
        if bits[i] > 0 {
            out[i].push(acc[i] as u32);
        }
    }
    out
}

/// The shared stream: every lane's first unit, then after each step but the last, the next
/// unit of each lane (in lane order) that has fewer than `low` bits left; units past a
/// lane's end are zero, and zero units at the very end are left out (a decoder reads zeros
/// past the end).
fn interleave(
    src: &[u8],
    lanes: usize,
    lens: &[u8; 256],
    units: &[Vec<u32>],
    unit: u32,
    low: u32,
) -> Vec<u32> {
    let mut stream: Vec<u32> = units
        .iter()
        .map(|u| u.first().copied().unwrap_or(0))
        .collect();
    let mut next = vec![1usize; lanes];
    let mut left = vec![unit; lanes];
    let steps = src.len().div_ceil(lanes);
    for t in 0..steps {
        for i in 0..lanes {
            if let Some(&s) = src.get(t * lanes + i) {
                left[i] -= u32::from(lens[s as usize]);
            }
        }
        if t + 1 == steps {
            break;
        }
        for i in 0..lanes {
            if left[i] < low {
                stream.push(units[i].get(next[i]).copied().unwrap_or(0));
                next[i] += 1;
                left[i] += unit;
            }
        }
    }
    while stream.last() == Some(&0) {
        stream.pop();
    }
    stream
}

/// A plane in the gather layout.
struct Gather {
    /// The shared stream of 16-bit units, with 64 zero bytes after it.
    stream: Vec<u8>,
    /// 2^11 entries: symbol | length << 8.
    table: Vec<u32>,
    lanes: usize,
    n: usize,
    /// Payload size: codec 2's header without its stream sizes, and the stream.
    bytes: usize,
}

impl Gather {
    fn encode(plane: &[u8], codec2: &[u8], lanes: usize) -> Gather {
        let lens = codec2_lengths(codec2);
        let codes = canonical(&lens);
        let units = lane_units(plane, lanes, &lens, &codes, 16);
        let stream = interleave(plane, lanes, &lens, &units, 16, MAX_LEN);
        let mut table = vec![0u32; 1 << MAX_LEN];
        for s in 0..256 {
            let len = u32::from(lens[s]);
            if len > 0 {
                for i in (codes[s] as usize..1 << MAX_LEN).step_by(1 << len) {
                    table[i] = s as u32 | len << 8;
                }
            }
        }
        let header = 2 + (codec2[1] - codec2[0]) as usize / 2 + 1;
        let mut bytes: Vec<u8> = stream
            .iter()
            .flat_map(|&u| (u as u16).to_le_bytes())
            .collect();
        let len = bytes.len();
        bytes.resize(len + 64, 0);
        Gather {
            stream: bytes,
            table,
            lanes,
            n: plane.len(),
            bytes: header + len,
        }
    }

    /// One lane at a time, one symbol a lookup: what a decoder without vectors does.
    fn decode_scalar(&self, dst: &mut [u8]) {
        // Units past the end read as zero, as in the vector decoders.
        let byte = |p: usize| self.stream.get(p).copied().unwrap_or(0);
        let unit = |p: usize| u32::from(u16::from_le_bytes([byte(p), byte(p + 1)]));
        let mut pos = 0;
        let mut buf = vec![0u32; self.lanes];
        let mut left = vec![16u32; self.lanes];
        for b in buf.iter_mut() {
            *b = unit(pos);
            pos += 2;
        }
        let steps = self.n.div_ceil(self.lanes);
        for t in 0..steps {
            for i in 0..self.lanes {
                let e = self.table[(buf[i] & ((1 << MAX_LEN) - 1)) as usize];
                if let Some(d) = dst.get_mut(t * self.lanes + i) {
                    *d = e as u8;
                }
                buf[i] >>= e >> 8;
                left[i] -= e >> 8;
            }
            for i in 0..self.lanes {
                if left[i] < MAX_LEN {
                    buf[i] |= unit(pos) << left[i];
                    pos += 2;
                    left[i] += 16;
                }
            }
        }
    }
}

/// A plane in the register layout (decoded only by the x86-64 prototypes).
#[cfg_attr(not(target_arch = "x86_64"), allow(dead_code))]
struct Register {
    /// The shared stream of bytes, with 64 zero bytes after it.
    stream: Vec<u8>,
    sym: [u8; 128],
    len: [u8; 128],
    escape: u8,
    /// The escaped symbols as a codec 2 payload, and how many there are.
    side_payload: Vec<u8>,
    rare_count: usize,
    lanes: usize,
    n: usize,
    /// Main lengths (the escape included), for sizing the pooled ends.
    main: [u8; 256],
    plane: Vec<u8>,
    /// Header (main lengths, escape), stream, and the side list as a codec 2 payload.
    bytes: usize,
    side: usize,
    header: usize,
}

impl Register {
    fn encode(plane: &[u8], lanes: usize) -> Register {
        let hist = huffman::histogram(plane);
        let full = limited_lengths(&hist, MAX_LEN);
        let escaped = |s: u8| u32::from(full[s as usize]) > REG_LEN;
        // A value that never stands for itself in the main stream: an unused one, or one
        // that is always escaped; with nothing escaped it is never decoded or patched.
        let escape = (0..256)
            .find(|&s| hist[s] == 0)
            .or_else(|| (0..256).find(|&s| escaped(s as u8)))
            .unwrap_or(0) as u8;
        let mut main_hist = [0u32; 256];
        let mut rare = Vec::new();
        let mapped: Vec<u8> = plane
            .iter()
            .map(|&s| {
                if escaped(s) {
                    rare.push(s);
                    escape
                } else {
                    s
                }
            })
            .collect();
        for &s in &mapped {
            main_hist[s as usize] += 1;
        }
        let main = limited_lengths(&main_hist, REG_LEN);
        let codes = canonical(&main);
        let (mut sym, mut len) = ([0u8; 128], [0u8; 128]);
        for s in 0..256 {
            let l = u32::from(main[s]);
            if l > 0 {
                for i in (codes[s] as usize..128).step_by(1 << l) {
                    sym[i] = s as u8;
                    len[i] = l as u8;
                }
            }
        }
        let units = lane_units(&mapped, lanes, &main, &codes, 8);
        let stream: Vec<u8> = interleave(&mapped, lanes, &main, &units, 8, 8)
            .into_iter()
            .map(|u| u as u8)
            .collect();
        let mut side = Vec::new();
        if !rare.is_empty() {
            huffman::encode(&rare, &huffman::histogram(&rare), &mut side);
        }
        let used: Vec<usize> = (0..256).filter(|&s| main[s] > 0).collect();
        let header = 2 + (used[used.len() - 1] - used[0] + 1).div_ceil(2) + 1;
        let len_stream = stream.len();
        let mut stream = stream;
        stream.resize(len_stream + 64, 0);
        Register {
            stream,
            sym,
            len,
            escape,
            rare_count: rare.len(),
            side_payload: side.clone(),
            lanes,
            n: plane.len(),
            main,
            plane: mapped,
            bytes: header + len_stream + side.len(),
            side: side.len(),
            header,
        }
    }

    /// Payload size with the lane ends pooled: the vectors stop K steps before the last
    /// whole step (the smallest K whose tail fills the bits left in the lanes), the tail
    /// goes first into those bits, lane by lane, then on as bytes. Returns the size and K;
    /// `None` if no K fits.
    fn pooled_bytes(&self) -> Option<(usize, usize)> {
        let whole = self.n / self.lanes;
        let len = |s: u8| u32::from(self.main[s as usize]);
        for k in 1..whole.min(64) {
            let steps = whole - k;
            let mut left = vec![8u32; self.lanes];
            let mut taken = self.lanes;
            for t in 0..steps {
                for i in 0..self.lanes {
                    left[i] -= len(self.plane[t * self.lanes + i]);
                }
                if t + 1 < steps {
                    for l in left.iter_mut().filter(|l| **l < 8) {
                        *l += 8;
                        taken += 1;
                    }
                }
            }
            let room: u64 = left.iter().map(|&l| u64::from(l)).sum();
            let tail: u64 = self.plane[steps * self.lanes..]
                .iter()
                .map(|&s| u64::from(len(s)))
                .sum();
            if tail >= room {
                let bytes = self.header + taken + (tail - room).div_ceil(8) as usize + self.side;
                return Some((bytes, k));
            }
        }
        None
    }
}

#[cfg(target_arch = "x86_64")]
mod x86 {
    use super::{huffman, Gather, Register, MAX_LEN};
    use std::arch::x86_64::*;

    pub fn gather_available() -> bool {
        is_x86_feature_detected!("avx512f") && is_x86_feature_detected!("avx512bw")
    }

    pub fn register_available() -> bool {
        gather_available()
            && is_x86_feature_detected!("avx512vbmi")
            && is_x86_feature_detected!("avx512vbmi2")
    }

    pub fn avx2_available() -> bool {
        is_x86_feature_detected!("avx2")
            && is_x86_feature_detected!("bmi2")
            && is_x86_feature_detected!("popcnt")
    }

    /// [`register_decode`] with AVX2 alone: each 128-entry lookup as eight 16-entry byte
    /// shuffles, each refill expanded through a table of byte shuffles, escapes patched
    /// one at a time.
    pub fn register_decode_avx2(r: &Register, dst: &mut [u8], rare: &mut Vec<u8>) {
        assert!(avx2_available() && dst.len() >= r.n.div_ceil(r.lanes) * r.lanes);
        rare.clear();
        rare.resize(r.rare_count, 0);
        if r.rare_count > 0 {
            huffman::decode(&r.side_payload, rare).expect("side list decodes");
        }
        // SAFETY: the features were checked; the lengths are checked inside.
        unsafe {
            match r.lanes / 16 {
                2 => register_lanes_avx2::<2>(r, dst),
                _ => register_lanes_avx2::<4>(r, dst),
            }
        }
        let mut k = 0;
        for d in dst[..r.n].iter_mut().filter(|_| r.rare_count > 0) {
            if *d == r.escape {
                *d = rare[k];
                k += 1;
            }
        }
    }

    /// Shuffle controls that move the first bytes of a 16-byte load into the low bytes of
    /// the 16-bit lanes set in an 8-bit mask (other bytes zeroed).
    fn expand_table() -> &'static [[u8; 16]; 256] {
        static T: std::sync::OnceLock<[[u8; 16]; 256]> = std::sync::OnceLock::new();
        T.get_or_init(|| {
            let mut t = [[0x80u8; 16]; 256];
            for (m, row) in t.iter_mut().enumerate() {
                let mut k = 0;
                for lane in 0..8 {
                    if m >> lane & 1 == 1 {
                        row[2 * lane] = k;
                        k += 1;
                    }
                }
            }
            t
        })
    }

    /// Looks the low 7 bits of each 16-bit lane of `idx` up in the 128 bytes of `tab` (as
    /// eight broadcast 16-byte pieces); the result is in the low byte of each lane.
    #[target_feature(enable = "avx2")]
    fn lookup128(tab: &[__m256i; 8], idx: __m256i) -> __m256i {
        let low7 = _mm256_and_si256(idx, _mm256_set1_epi16(0x7F));
        let mut r = _mm256_setzero_si256();
        for (k, t) in tab.iter().enumerate() {
            // Bit 7 is set (so the shuffle gives 0) unless bits 4..6 equal k.
            let i = _mm256_adds_epu8(
                _mm256_xor_si256(low7, _mm256_set1_epi16((k as i16) << 4)),
                _mm256_set1_epi16(0x70),
            );
            r = _mm256_or_si256(r, _mm256_shuffle_epi8(*t, i));
        }
        _mm256_and_si256(r, _mm256_set1_epi16(0xFF))
    }

    /// Each 16-bit lane of `x` shifted right by the same lane of `c` (below 16).
    #[target_feature(enable = "avx2")]
    fn srlv16(x: __m256i, c: __m256i) -> __m256i {
        let low = _mm256_set1_epi32(0xFFFF);
        let lo = _mm256_srlv_epi32(_mm256_and_si256(x, low), _mm256_and_si256(c, low));
        let hi = _mm256_srlv_epi32(_mm256_andnot_si256(low, x), _mm256_srli_epi32::<16>(c));
        _mm256_or_si256(lo, _mm256_andnot_si256(low, hi))
    }

    /// Each 16-bit lane of `x` shifted left by the same lane of `c` (below 16).
    #[target_feature(enable = "avx2")]
    fn sllv16(x: __m256i, c: __m256i) -> __m256i {
        let low = _mm256_set1_epi32(0xFFFF);
        let lo = _mm256_sllv_epi32(_mm256_and_si256(x, low), _mm256_and_si256(c, low));
        let hi = _mm256_sllv_epi32(_mm256_andnot_si256(low, x), _mm256_srli_epi32::<16>(c));
        _mm256_or_si256(_mm256_and_si256(lo, low), hi)
    }

    #[target_feature(enable = "avx2,bmi2,popcnt")]
    fn register_lanes_avx2<const V: usize>(r: &Register, dst: &mut [u8]) {
        assert_eq!(r.lanes, 16 * V);
        let piece = |t: &[u8; 128], k: usize| {
            // SAFETY: 16 bytes at 16k < 128.
            let x = unsafe { _mm_loadu_si128(t[16 * k..].as_ptr().cast()) };
            _mm256_broadcastsi128_si256(x)
        };
        let sym: [__m256i; 8] = std::array::from_fn(|k| piece(&r.sym, k));
        let len: [__m256i; 8] = std::array::from_fn(|k| piece(&r.len, k));
        let ctrl = expand_table();
        let src = r.stream.as_ptr();
        let end = r.stream.len() - 64;
        let eight = _mm256_set1_epi16(8);
        let mut pos = 0usize;
        let mut buf = [_mm256_setzero_si256(); V];
        let mut left = [eight; V];
        for b in buf.iter_mut() {
            // SAFETY: 16 bytes at min(pos, end), 64 bytes of padding after end.
            *b = _mm256_cvtepu8_epi16(unsafe { _mm_loadu_si128(src.add(pos.min(end)).cast()) });
            pos += 16;
        }
        for t in 0..r.n.div_ceil(r.lanes) {
            let out = dst[t * r.lanes..].as_mut_ptr();
            for v in 0..V {
                let s = lookup128(&sym, buf[v]);
                let l = lookup128(&len, buf[v]);
                let packed = _mm256_packus_epi16(s, s);
                let packed = _mm256_permute4x64_epi64::<0b1000>(packed);
                // SAFETY: dst has room for the whole step.
                unsafe { _mm_storeu_si128(out.add(16 * v).cast(), _mm256_castsi256_si128(packed)) };
                buf[v] = srlv16(buf[v], l);
                left[v] = _mm256_sub_epi16(left[v], l);
            }
            for v in 0..V {
                let need = _mm256_cmpgt_epi16(eight, left[v]);
                let bits = _mm256_movemask_epi8(need) as u32;
                // One bit a lane: the even bits of the byte mask.
                let m = _pext_u32(bits, 0x5555_5555);
                let (m0, m1) = ((m & 0xFF) as usize, (m >> 8) as usize);
                let p1 = pos + m0.count_ones() as usize;
                // SAFETY: 16 bytes at min(pos, end) and min(p1, end); 64 bytes of padding.
                let w = unsafe {
                    let a = _mm_shuffle_epi8(
                        _mm_loadu_si128(src.add(pos.min(end)).cast()),
                        _mm_loadu_si128(ctrl[m0].as_ptr().cast()),
                    );
                    let b = _mm_shuffle_epi8(
                        _mm_loadu_si128(src.add(p1.min(end)).cast()),
                        _mm_loadu_si128(ctrl[m1].as_ptr().cast()),
                    );
                    _mm256_set_m128i(b, a)
                };
                let sh = sllv16(w, left[v]);
                buf[v] = _mm256_or_si256(buf[v], sh);
                left[v] = _mm256_add_epi16(left[v], _mm256_and_si256(need, eight));
                pos = p1 + m1.count_ones() as usize;
            }
        }
    }

    /// Decodes `g` into `dst` (room for whole steps of all lanes).
    pub fn gather_decode(g: &Gather, dst: &mut [u8]) {
        assert!(gather_available() && dst.len() >= g.n.div_ceil(g.lanes) * g.lanes);
        // SAFETY: the features were checked; the lengths are checked inside.
        unsafe {
            match g.lanes / 16 {
                2 => gather_lanes::<2>(g, dst),
                3 => gather_lanes::<3>(g, dst),
                _ => gather_lanes::<4>(g, dst),
            }
        }
    }

    #[target_feature(enable = "avx512f,avx512bw,popcnt")]
    fn gather_lanes<const V: usize>(g: &Gather, dst: &mut [u8]) {
        assert_eq!(g.lanes, 16 * V);
        let src = g.stream.as_ptr();
        let end = g.stream.len() - 64;
        let mut pos = 0usize;
        let mut buf = [_mm512_setzero_si512(); V];
        let mut left = [_mm512_set1_epi32(16); V];
        for b in buf.iter_mut() {
            // SAFETY: 32 bytes at pos <= end, with 64 bytes of padding after end.
            *b = _mm512_cvtepu16_epi32(unsafe { _mm256_loadu_si256(src.add(pos.min(end)).cast()) });
            pos += 32;
        }
        let mask = _mm512_set1_epi32((1 << MAX_LEN) - 1);
        let low = _mm512_set1_epi32(MAX_LEN as i32);
        let unit = _mm512_set1_epi32(16);
        for t in 0..g.n.div_ceil(g.lanes) {
            let out = dst[t * g.lanes..].as_mut_ptr();
            let mut need = [0u16; V];
            for v in 0..V {
                // SAFETY: indices are below 2^11 = table length.
                let e = unsafe {
                    _mm512_i32gather_epi32::<4>(
                        _mm512_and_si512(buf[v], mask),
                        g.table.as_ptr().cast(),
                    )
                };
                let l = _mm512_srli_epi32::<8>(e);
                // SAFETY: dst has room for the whole step.
                unsafe { _mm_storeu_si128(out.add(16 * v).cast(), _mm512_cvtepi32_epi8(e)) };
                buf[v] = _mm512_srlv_epi32(buf[v], l);
                left[v] = _mm512_sub_epi32(left[v], l);
                need[v] = _mm512_cmplt_epu32_mask(left[v], low);
            }
            for v in 0..V {
                // SAFETY: reads 32 bytes at min(pos, end); the stream has 64 bytes after end.
                let w = _mm512_cvtepu16_epi32(unsafe {
                    _mm256_loadu_si256(src.add(pos.min(end)).cast())
                });
                let w = _mm512_maskz_expand_epi32(need[v], w);
                buf[v] = _mm512_or_si512(buf[v], _mm512_sllv_epi32(w, left[v]));
                left[v] = _mm512_mask_add_epi32(left[v], need[v], left[v], unit);
                pos += 2 * need[v].count_ones() as usize;
            }
        }
    }

    /// Decodes `r` into `dst` (room for whole steps of all lanes): the lanes, then the side
    /// list (codec 2) into `rare`, then the escapes patched from it.
    pub fn register_decode(r: &Register, dst: &mut [u8], rare: &mut Vec<u8>) {
        assert!(register_available() && dst.len() >= r.n.div_ceil(r.lanes) * r.lanes);
        rare.clear();
        rare.resize(r.rare_count + 64, 0);
        if r.rare_count > 0 {
            huffman::decode(&r.side_payload, &mut rare[..r.rare_count]).expect("side list decodes");
        }
        // SAFETY: the features were checked; the lengths are checked inside.
        unsafe {
            match r.lanes / 32 {
                1 => register_lanes::<1>(r, dst),
                2 => register_lanes::<2>(r, dst),
                _ => register_lanes::<4>(r, dst),
            }
            if r.rare_count > 0 {
                patch(r, dst, rare);
            }
        }
    }

    #[target_feature(enable = "avx512f,avx512bw,avx512vbmi,avx512vbmi2,popcnt")]
    fn register_lanes<const V: usize>(r: &Register, dst: &mut [u8]) {
        assert_eq!(r.lanes, 32 * V);
        let src = r.stream.as_ptr();
        let end = r.stream.len() - 64;
        // SAFETY (loads below): 32 bytes at min(pos, end), 64 bytes of padding after end;
        // the tables are 128 bytes.
        let (s0, s1, l0, l1) = unsafe {
            (
                _mm512_loadu_si512(r.sym.as_ptr().cast()),
                _mm512_loadu_si512(r.sym[64..].as_ptr().cast()),
                _mm512_loadu_si512(r.len.as_ptr().cast()),
                _mm512_loadu_si512(r.len[64..].as_ptr().cast()),
            )
        };
        let byte = _mm512_set1_epi16(0xFF);
        let eight = _mm512_set1_epi16(8);
        let mut pos = 0usize;
        let mut buf = [_mm512_setzero_si512(); V];
        let mut left = [eight; V];
        for b in buf.iter_mut() {
            // SAFETY: as above.
            *b = _mm512_cvtepu8_epi16(unsafe { _mm256_loadu_si256(src.add(pos.min(end)).cast()) });
            pos += 32;
        }
        for t in 0..r.n.div_ceil(r.lanes) {
            let out = dst[t * r.lanes..].as_mut_ptr();
            let mut need = [0u32; V];
            for v in 0..V {
                let s = _mm512_permutex2var_epi8(s0, buf[v], s1);
                let l = _mm512_and_si512(_mm512_permutex2var_epi8(l0, buf[v], l1), byte);
                // SAFETY: dst has room for the whole step.
                unsafe { _mm256_storeu_si256(out.add(32 * v).cast(), _mm512_cvtepi16_epi8(s)) };
                buf[v] = _mm512_srlv_epi16(buf[v], l);
                left[v] = _mm512_sub_epi16(left[v], l);
                need[v] = _mm512_cmplt_epu16_mask(left[v], eight);
            }
            for v in 0..V {
                // SAFETY: as above.
                let w = _mm512_cvtepu8_epi16(unsafe {
                    _mm256_loadu_si256(src.add(pos.min(end)).cast())
                });
                let w = _mm512_maskz_expand_epi16(need[v], w);
                buf[v] = _mm512_or_si512(buf[v], _mm512_sllv_epi16(w, left[v]));
                left[v] = _mm512_mask_add_epi16(left[v], need[v], left[v], eight);
                pos += need[v].count_ones() as usize;
            }
        }
    }

    /// Puts the escaped symbols back, 64 output bytes per masked expand.
    #[target_feature(enable = "avx512f,avx512bw,avx512vbmi2,popcnt")]
    fn patch(r: &Register, dst: &mut [u8], side: &[u8]) {
        let esc = _mm512_set1_epi8(r.escape as i8);
        let rare = side.len() - 64;
        let (mut i, mut k) = (0usize, 0usize);
        while i + 64 <= r.n {
            let p = dst[i..].as_mut_ptr();
            // SAFETY: 64 bytes at i < n; the side list has 64 bytes after its end, and k
            // stays at most its length (each escape in the output has its symbol).
            unsafe {
                let v = _mm512_loadu_si512(p.cast());
                let m = _mm512_cmpeq_epi8_mask(v, esc);
                let v = _mm512_mask_expand_epi8(
                    v,
                    m,
                    _mm512_loadu_si512(side[k.min(rare)..].as_ptr().cast()),
                );
                _mm512_storeu_si512(p.cast(), v);
                k += m.count_ones() as usize;
            }
            i += 64;
        }
        for d in &mut dst[i..r.n] {
            if *d == r.escape {
                *d = side[k];
                k += 1;
            }
        }
    }
}

#[cfg(not(target_arch = "x86_64"))]
mod x86 {
    use super::{Gather, Register};
    pub fn gather_available() -> bool {
        false
    }
    pub fn register_available() -> bool {
        false
    }
    pub fn avx2_available() -> bool {
        false
    }
    pub fn register_decode_avx2(_: &Register, _: &mut [u8], _: &mut Vec<u8>) {}
    pub fn gather_decode(_: &Gather, _: &mut [u8]) {}
    pub fn register_decode(_: &Register, _: &mut [u8], _: &mut Vec<u8>) {}
}
