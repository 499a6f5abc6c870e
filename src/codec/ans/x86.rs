//! x86-64 fast paths of the decoder: the states in vectors of eight (AVX2) or sixteen
//! (AVX-512) lanes, `V` independent vectors per group of `8 * V` or `16 * V` symbols.
//!
//! A group decodes its vectors in state order. Each vector looks its lanes' slots up with one
//! gather (or, on AVX2, eight scalar loads where gathers are slow), computes the next
//! states, and lanes whose state fell below `L` take the next words of the shared stream in
//! lane order (a prefix count of the lanes that need one). The vectors of a group depend on
//! each other only through the stream position, so their lookups overlap.

use super::{L, MAX_SCALE};
use std::arch::x86_64::*;

/// For each movemask `m` of eight lanes, lane `j`'s word in the stream when it takes one:
/// the number of taking lanes below it (an exclusive prefix count).
static PREFIX: [[u8; 8]; 256] = prefix_counts();

const fn prefix_counts() -> [[u8; 8]; 256] {
    let mut t = [[0u8; 8]; 256];
    let mut m = 0;
    while m < 256 {
        let mut c = 0u8;
        let mut j = 0;
        while j < 8 {
            t[m][j] = c;
            c += (m >> j & 1) as u8;
            j += 1;
        }
        m += 1;
    }
    t
}

/// The table entries at the eight indices `idx` (each below 2^MAX_SCALE): with one gather,
/// or (`LOADS`) with eight scalar loads put together in a vector. On AMD Zen 3 a gather of
/// eight lanes costs more than the loads and inserts (the whole decoder 1.27 against
/// 1.66 Gsymbols/s on MiniLM bf16 planes).
///
/// # Safety
/// AVX2; `base` points to 2^MAX_SCALE entries and every lane of `idx` is below that.
#[inline(always)]
unsafe fn lookup<const LOADS: bool>(base: *const i32, idx: __m256i) -> __m256i {
    if !LOADS {
        return _mm256_i32gather_epi32::<4>(base, idx);
    }
    // Two indices per 64-bit move to a general register (four moves, not eight).
    let lo = _mm256_castsi256_si128(idx);
    let hi = _mm256_extracti128_si256::<1>(idx);
    let q = [
        _mm_cvtsi128_si64(lo) as u64,
        _mm_extract_epi64::<1>(lo) as u64,
        _mm_cvtsi128_si64(hi) as u64,
        _mm_extract_epi64::<1>(hi) as u64,
    ];
    let at = |k: usize| *base.add((q[k / 2] >> (32 * (k % 2))) as u32 as usize);
    let a = _mm_cvtsi32_si128(at(0));
    let a = _mm_insert_epi32::<1>(a, at(1));
    let a = _mm_insert_epi32::<2>(a, at(2));
    let a = _mm_insert_epi32::<3>(a, at(3));
    let b = _mm_cvtsi32_si128(at(4));
    let b = _mm_insert_epi32::<1>(b, at(5));
    let b = _mm_insert_epi32::<2>(b, at(6));
    let b = _mm_insert_epi32::<3>(b, at(7));
    _mm256_inserti128_si256::<1>(_mm256_castsi128_si256(a), b)
}

/// The next states of eight states `x` whose table entries are `e` (scale in `sh`):
/// lanes whose state falls below `L` take the next words of the stream at `src + *pos` in
/// lane order, and `*pos` moves past them.
///
/// # Safety
/// AVX2 and POPCNT; 16 bytes are readable at `src + *pos`.
#[inline(always)]
unsafe fn next_states(
    x: __m256i,
    e: __m256i,
    sh: __m128i,
    src: *const u8,
    pos: &mut usize,
) -> __m256i {
    let f = _mm256_and_si256(e, _mm256_set1_epi32(0xFFF));
    let bias = _mm256_srli_epi32::<20>(e);
    let y = _mm256_add_epi32(_mm256_mullo_epi32(f, _mm256_srl_epi32(x, sh)), bias);
    let need = _mm256_cmpeq_epi32(_mm256_srli_epi32::<16>(y), _mm256_setzero_si256());
    let m = _mm256_movemask_ps(_mm256_castsi256_ps(need)) as u32;
    let w = _mm256_cvtepu16_epi32(_mm_loadu_si128(src.add(*pos).cast()));
    // m < 256: PREFIX has the row.
    let idx = _mm256_cvtepu8_epi32(_mm_loadl_epi64(PREFIX.as_ptr().add(m as usize).cast()));
    let wv = _mm256_permutevar8x32_epi32(w, idx);
    let taken = _mm256_or_si256(_mm256_slli_epi32::<16>(y), wv);
    *pos += 2 * m.count_ones() as usize;
    _mm256_blendv_epi8(y, taken, need)
}

/// Decodes whole groups of `8 * V` symbols with AVX2 while `16 * V` stream bytes (the most a
/// group can take) remain; returns (symbols decoded, stream bytes consumed) and leaves the
/// states in `x` (`8 * V` of them). The table lookups use gathers, or scalar loads with
/// `LOADS` ([`lookup`]).
///
/// # Safety
/// The CPU must support AVX2 and POPCNT; `x.len() == 8 * V`.
#[target_feature(enable = "avx2,popcnt")]
pub(super) unsafe fn run_avx2<const V: usize, const LOADS: bool>(
    tab: &[u32; 1 << MAX_SCALE],
    scale: u32,
    stream: &[u8],
    dst: &mut [u8],
    x: &mut [u32],
) -> (usize, usize) {
    debug_assert_eq!(x.len(), 8 * V);
    let n = dst.len();
    let mut pos = 0usize;
    let mut i = 0usize;
    // SAFETY (all loads and stores below): `x` has 8V u32; the lookups index `tab` with
    // `state & (2^scale - 1)` < 4096 = tab.len(); each group writes dst[i..i + 8V] with
    // i + 8V <= n, and vector v reads 16 stream bytes at a position within
    // [pos, pos + 16v], below pos + 16V <= stream.len().
    let mut xs = [_mm256_setzero_si256(); V];
    for (v, xv) in xs.iter_mut().enumerate() {
        *xv = _mm256_loadu_si256(x.as_ptr().add(8 * v).cast());
    }
    let mask = _mm256_set1_epi32(((1u32 << scale) - 1) as i32);
    let sh = _mm_cvtsi32_si128(scale as i32);
    // Byte 0 of each 32-bit lane to bytes 0..3 of its 128-bit half.
    let pick = _mm256_setr_epi8(
        0, 4, 8, 12, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, 0, 4, 8, 12, -1, -1, -1, -1,
        -1, -1, -1, -1, -1, -1, -1, -1,
    );
    let gather_lo = _mm256_setr_epi32(0, 4, 1, 1, 1, 1, 1, 1);
    let base = tab.as_ptr() as *const i32;
    let src = stream.as_ptr();
    let out = dst.as_mut_ptr();
    while i + 8 * V <= n && pos + 16 * V <= stream.len() {
        // The lookups first, so that they are all in flight together (the vectors depend
        // on each other only through the stream position).
        let es: [__m256i; V] =
            std::array::from_fn(|v| lookup::<LOADS>(base, _mm256_and_si256(xs[v], mask)));
        for (v, (xv, e)) in xs.iter_mut().zip(es).enumerate() {
            // Symbols: bits 12..20 of each lane, stored as 8 bytes.
            let sy = _mm256_permutevar8x32_epi32(
                _mm256_shuffle_epi8(_mm256_srli_epi32::<12>(e), pick),
                gather_lo,
            );
            _mm_storel_epi64(out.add(i + 8 * v).cast(), _mm256_castsi256_si128(sy));
            *xv = next_states(*xv, e, sh, src, &mut pos);
        }
        i += 8 * V;
    }
    for (v, xv) in xs.iter().enumerate() {
        _mm256_storeu_si256(x.as_mut_ptr().add(8 * v).cast(), *xv);
    }
    (i, pos)
}

/// Two planes of thirty-two states each decoded in one AVX2 loop with scalar table loads
/// ([`lookup`]): per group of 32 symbols, four vectors of each plane, whose lookups are
/// all in flight together; each plane's 32 symbols are narrowed with two packs and stored
/// with one store. Runs while both planes have a whole group of symbols and 64 stream
/// bytes left; returns (symbols decoded in each plane, stream bytes consumed in plane 0,
/// in plane 1) and leaves the states in `x`.
///
/// # Safety
/// The CPU must support AVX2 and POPCNT.
#[target_feature(enable = "avx2,popcnt")]
pub(super) unsafe fn run_avx2_pair(
    tab: [&[u32; 1 << MAX_SCALE]; 2],
    scale: [u32; 2],
    stream: [&[u8]; 2],
    dst: [&mut [u8]; 2],
    x: [&mut [u32; 32]; 2],
) -> (usize, usize, usize) {
    let n = dst[0].len().min(dst[1].len());
    // The stream positions in two variables, not an array (which the compiler may keep in
    // a vector register, on the critical path).
    let (mut pa, mut pb) = (0usize, 0usize);
    let mut i = 0usize;
    // SAFETY (all loads and stores below): each `x[p]` has 32 u32; the lookups index
    // `tab[p]` with `state & (2^scale[p] - 1)` < 4096 = tab[p].len(); each group writes
    // dst[p][i..i + 32] with i + 32 <= n, and vector v of plane p reads 16 stream bytes at
    // a position within [pos, pos + 16v], below pos + 64 <= stream[p].len().
    let load = |x: &[u32; 32]| -> [__m256i; 4] {
        std::array::from_fn(|v| _mm256_loadu_si256(x.as_ptr().add(8 * v).cast()))
    };
    let (mut xa, mut xb) = (load(x[0]), load(x[1]));
    let (ma, mb) = (
        _mm256_set1_epi32(((1u32 << scale[0]) - 1) as i32),
        _mm256_set1_epi32(((1u32 << scale[1]) - 1) as i32),
    );
    let (sa, sb) = (
        _mm_cvtsi32_si128(scale[0] as i32),
        _mm_cvtsi32_si128(scale[1] as i32),
    );
    let (ta, tb) = (tab[0].as_ptr() as *const i32, tab[1].as_ptr() as *const i32);
    let (src_a, src_b) = (stream[0].as_ptr(), stream[1].as_ptr());
    let (len_a, len_b) = (stream[0].len(), stream[1].len());
    let (out_a, out_b) = (dst[0].as_mut_ptr(), dst[1].as_mut_ptr());
    while i + 32 <= n && pa + 64 <= len_a && pb + 64 <= len_b {
        let mut ea = [_mm256_setzero_si256(); 4];
        let mut eb = [_mm256_setzero_si256(); 4];
        for v in 0..4 {
            ea[v] = lookup::<true>(ta, _mm256_and_si256(xa[v], ma));
        }
        for v in 0..4 {
            eb[v] = lookup::<true>(tb, _mm256_and_si256(xb[v], mb));
        }
        store_symbols(&ea, out_a.add(i));
        for v in 0..4 {
            xa[v] = next_states(xa[v], ea[v], sa, src_a, &mut pa);
        }
        store_symbols(&eb, out_b.add(i));
        for v in 0..4 {
            xb[v] = next_states(xb[v], eb[v], sb, src_b, &mut pb);
        }
        i += 32;
    }
    for (xp, x) in [xa, xb].iter().zip(x) {
        for (v, xv) in xp.iter().enumerate() {
            _mm256_storeu_si256(x.as_mut_ptr().add(8 * v).cast(), *xv);
        }
    }
    (i, pa, pb)
}

/// Stores the symbols of four vectors of table entries `e` (bits 12..20 of each lane) as 32
/// bytes at `out`, in state order: narrowed with two packs, put in order with one permute.
///
/// # Safety
/// AVX2; 32 bytes are writable at `out`.
#[inline(always)]
unsafe fn store_symbols(e: &[__m256i; 4], out: *mut u8) {
    let s = e.map(|e| _mm256_and_si256(_mm256_srli_epi32::<12>(e), _mm256_set1_epi32(0xFF)));
    // Per 128-bit half: four symbols of each vector from its lanes 0..3 (low half) or
    // 4..7 (high half), vector by vector; the permute interleaves the halves.
    let ab = _mm256_packus_epi32(s[0], s[1]);
    let cd = _mm256_packus_epi32(s[2], s[3]);
    let order = _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7);
    let sy = _mm256_permutevar8x32_epi32(_mm256_packus_epi16(ab, cd), order);
    _mm256_storeu_si256(out.cast(), sy);
}

/// [`run_avx2`] with AVX-512: vectors of sixteen states, `x.len() == 16 * V`. The words go
/// to the taking lanes with one expand; the symbols are narrowed with one `vpmovdb`.
///
/// # Safety
/// The CPU must support AVX-512 F and POPCNT; `x.len() == 16 * V`.
#[target_feature(enable = "avx512f,popcnt")]
pub(super) unsafe fn run_avx512<const V: usize>(
    tab: &[u32; 1 << MAX_SCALE],
    scale: u32,
    stream: &[u8],
    dst: &mut [u8],
    x: &mut [u32],
) -> (usize, usize) {
    debug_assert_eq!(x.len(), 16 * V);
    let n = dst.len();
    let mut pos = 0usize;
    let mut i = 0usize;
    // SAFETY (all loads and stores below): `x` has 16V u32; the gathers index `tab` with
    // `state & (2^scale - 1)` < 4096 = tab.len(); each group writes dst[i..i + 16V] with
    // i + 16V <= n, and vector v reads 32 stream bytes at a position within
    // [pos, pos + 32v], below pos + 32V <= stream.len().
    let mut xs = [_mm512_setzero_si512(); V];
    for (v, xv) in xs.iter_mut().enumerate() {
        *xv = _mm512_loadu_si512(x.as_ptr().add(16 * v).cast());
    }
    let mask = _mm512_set1_epi32(((1u32 << scale) - 1) as i32);
    let f_mask = _mm512_set1_epi32(0xFFF);
    let sh = _mm_cvtsi32_si128(scale as i32);
    let low = _mm512_set1_epi32(L as i32);
    let base = tab.as_ptr() as *const i32;
    let src = stream.as_ptr();
    let out = dst.as_mut_ptr();
    while i + 16 * V <= n && pos + 32 * V <= stream.len() {
        for (v, xv) in xs.iter_mut().enumerate() {
            let x = *xv;
            let e = _mm512_i32gather_epi32::<4>(_mm512_and_si512(x, mask), base);
            let f = _mm512_and_si512(e, f_mask);
            let bias = _mm512_srli_epi32::<20>(e);
            let y = _mm512_add_epi32(_mm512_mullo_epi32(f, _mm512_srl_epi32(x, sh)), bias);
            // Symbols: bits 12..20 of each lane, narrowed to 16 bytes.
            let sy = _mm512_cvtepi32_epi8(_mm512_srli_epi32::<12>(e));
            _mm_storeu_si128(out.add(i + 16 * v).cast(), sy);
            // Renormalise: lanes with y < 2^16 take the next words in lane order.
            let need = _mm512_cmplt_epu32_mask(y, low);
            let w = _mm512_cvtepu16_epi32(_mm256_loadu_si256(src.add(pos).cast()));
            let wv = _mm512_maskz_expand_epi32(need, w);
            *xv = _mm512_mask_or_epi32(y, need, _mm512_slli_epi32::<16>(y), wv);
            pos += 2 * (need as u32).count_ones() as usize;
        }
        i += 16 * V;
    }
    for (v, xv) in xs.iter().enumerate() {
        _mm512_storeu_si512(x.as_mut_ptr().add(16 * v).cast(), *xv);
    }
    (i, pos)
}

/// Two planes of thirty-two states each decoded in one AVX-512 loop: per group of 32
/// symbols, two vectors of plane 0 and two of plane 1, whose gathers overlap (a plane's
/// states wait only on its own lookups and stream). Runs while both planes have a whole
/// group of symbols and 64 stream bytes left; returns (symbols decoded in each plane,
/// stream bytes consumed in plane 0, in plane 1) and leaves the states in `x`.
///
/// # Safety
/// The CPU must support AVX-512 F and POPCNT; each `x[p].len() == 32`.
#[target_feature(enable = "avx512f,popcnt")]
pub(super) unsafe fn run_avx512_pair(
    tab: [&[u32; 1 << MAX_SCALE]; 2],
    scale: [u32; 2],
    stream: [&[u8]; 2],
    dst: [&mut [u8]; 2],
    x: [&mut [u32; 32]; 2],
) -> (usize, usize, usize) {
    let n = dst[0].len().min(dst[1].len());
    let mut pos = [0usize; 2];
    let mut i = 0usize;
    // SAFETY (all loads and stores below): each `x[p]` has 32 u32; the gathers index
    // `tab[p]` with `state & (2^scale[p] - 1)` < 4096 = tab[p].len(); each group writes
    // dst[p][i..i + 32] with i + 32 <= n, and vector v of plane p reads 32 stream bytes at
    // a position within [pos[p], pos[p] + 32v], below pos[p] + 64 <= stream[p].len().
    let mut xs = [[_mm512_setzero_si512(); 2]; 2];
    for (xp, x) in xs.iter_mut().zip(&x) {
        for (v, xv) in xp.iter_mut().enumerate() {
            *xv = _mm512_loadu_si512(x.as_ptr().add(16 * v).cast());
        }
    }
    let mask = [
        _mm512_set1_epi32(((1u32 << scale[0]) - 1) as i32),
        _mm512_set1_epi32(((1u32 << scale[1]) - 1) as i32),
    ];
    let sh = [
        _mm_cvtsi32_si128(scale[0] as i32),
        _mm_cvtsi32_si128(scale[1] as i32),
    ];
    let f_mask = _mm512_set1_epi32(0xFFF);
    let low = _mm512_set1_epi32(L as i32);
    let base = [tab[0].as_ptr() as *const i32, tab[1].as_ptr() as *const i32];
    let src = [stream[0].as_ptr(), stream[1].as_ptr()];
    let len = [stream[0].len(), stream[1].len()];
    let out = [dst[0].as_mut_ptr(), dst[1].as_mut_ptr()];
    while i + 32 <= n && pos[0] + 64 <= len[0] && pos[1] + 64 <= len[1] {
        // The four lookups first, so that they are all in flight together.
        let e = [
            [
                _mm512_i32gather_epi32::<4>(_mm512_and_si512(xs[0][0], mask[0]), base[0]),
                _mm512_i32gather_epi32::<4>(_mm512_and_si512(xs[0][1], mask[0]), base[0]),
            ],
            [
                _mm512_i32gather_epi32::<4>(_mm512_and_si512(xs[1][0], mask[1]), base[1]),
                _mm512_i32gather_epi32::<4>(_mm512_and_si512(xs[1][1], mask[1]), base[1]),
            ],
        ];
        for p in 0..2 {
            for v in 0..2 {
                let (x, e) = (xs[p][v], e[p][v]);
                let f = _mm512_and_si512(e, f_mask);
                let bias = _mm512_srli_epi32::<20>(e);
                let y = _mm512_add_epi32(_mm512_mullo_epi32(f, _mm512_srl_epi32(x, sh[p])), bias);
                let sy = _mm512_cvtepi32_epi8(_mm512_srli_epi32::<12>(e));
                _mm_storeu_si128(out[p].add(i + 16 * v).cast(), sy);
                let need = _mm512_cmplt_epu32_mask(y, low);
                let w = _mm512_cvtepu16_epi32(_mm256_loadu_si256(src[p].add(pos[p]).cast()));
                let wv = _mm512_maskz_expand_epi32(need, w);
                xs[p][v] = _mm512_mask_or_epi32(y, need, _mm512_slli_epi32::<16>(y), wv);
                pos[p] += 2 * (need as u32).count_ones() as usize;
            }
        }
        i += 32;
    }
    for (xp, x) in xs.iter().zip(x) {
        for (v, xv) in xp.iter().enumerate() {
            _mm512_storeu_si512(x.as_mut_ptr().add(16 * v).cast(), *xv);
        }
    }
    (i, pos[0], pos[1])
}
