//! The encoder's two passes with AVX2: a step's 128 lanes as four vectors of bytes. AVX2
//! has no byte permute over a 256-entry table, so lookups take a *window* of the values:
//! the values the code keeps (every value but the escaped ones) lie in `16 g` consecutive
//! values from `base`, looked up with `g` 16-entry byte shuffles; every value outside the
//! window is escaped or unused, and reads as the escape's entry. The first pass keeps the
//! bits every lane holds after every step (`held`), so that the second looks nothing up but
//! the codes: it shifts the lanes' 16-bit words by multiplications (AVX2 has no 16-bit
//! variable shifts) and moves each step's bytes into place with byte shuffles, eight lanes
//! at a time. The same results as the portable loops in `encoder.rs`.

use std::arch::x86_64::*;

use super::{Lut, Path, LANES};

/// The values looked up: `groups` tables of 16 from `base` (wrapping), entries stored
/// XORed with the entry of the values outside the window.
pub(super) struct Window {
    base: u8,
    groups: usize,
}

impl Window {
    /// The window of the values `kept`, outside which every used value has one entry.
    pub(super) fn new(kept: &[bool; 256]) -> Window {
        let first = kept.iter().position(|&k| k).unwrap_or(0);
        let last = kept.iter().rposition(|&k| k).unwrap_or(0);
        Window {
            base: first as u8,
            groups: (last - first) / 16 + 1,
        }
    }

    /// `table`'s entries of the window's values, XORed with `outside`.
    fn pieces(&self, table: &[u8; 256], outside: u8) -> [[u8; 16]; 16] {
        std::array::from_fn(|g| {
            std::array::from_fn(|j| {
                table[usize::from(self.base.wrapping_add((16 * g + j) as u8))] ^ outside
            })
        })
    }
}

/// Byte shuffles (one 64-bit word each) that move the bytes of an 8-byte load set in an
/// 8-bit mask, in order, to the top of the word (`HIGH`) or its bottom, and zero the rest.
const fn packing(high: bool) -> [u64; 256] {
    let mut t = [0u64; 256];
    let mut m = 0;
    while m < 256 {
        let n = (m as u32).count_ones() as usize;
        let (mut k, mut i) = (if high { 8 - n } else { 0 }, 0);
        let mut w = 0x8080_8080_8080_8080u64;
        while i < 8 {
            if m >> i & 1 == 1 {
                w &= !(0xFFu64 << (8 * k));
                w |= (i as u64) << (8 * k);
                k += 1;
            }
            i += 1;
        }
        t[m] = w;
        m += 1;
    }
    t
}

static PACK_HIGH: [u64; 256] = packing(true);
static PACK_LOW: [u64; 256] = packing(false);

/// A window's tables in registers (each piece in both halves), and its first value.
struct Tables<const N: usize> {
    base: __m256i,
    groups: usize,
    pieces: [[__m256i; 16]; N],
    outside: [__m256i; N],
}

#[inline]
#[target_feature(enable = "avx2")]
fn tables<const N: usize>(w: &Window, tables: [&[u8; 256]; N], outside: [u8; N]) -> Tables<N> {
    Tables {
        base: _mm256_set1_epi8(w.base as i8),
        groups: w.groups,
        pieces: std::array::from_fn(|k| {
            let p = w.pieces(tables[k], outside[k]);
            // SAFETY: 16 bytes of a piece.
            std::array::from_fn(|g| unsafe {
                _mm256_broadcastsi128_si256(_mm_loadu_si128(p[g].as_ptr().cast()))
            })
        }),
        outside: std::array::from_fn(|k| _mm256_set1_epi8(outside[k] as i8)),
    }
}

/// The entries of the bytes of `x` in each table.
#[inline]
#[target_feature(enable = "avx2")]
fn lookup<const N: usize>(t: &Tables<N>, x: __m256i) -> [__m256i; N] {
    let (sixteen, top) = (_mm256_set1_epi8(16), _mm256_set1_epi8(0x70));
    let mut y = _mm256_sub_epi8(x, t.base);
    let mut r = [_mm256_setzero_si256(); N];
    for g in 0..t.groups {
        // Values of this group: 0x70 to 0x7F, a shuffle's index; the others 0x80 and up
        // (the shuffle gives 0).
        let idx = _mm256_adds_epu8(y, top);
        for (r, pieces) in r.iter_mut().zip(&t.pieces) {
            *r = _mm256_or_si256(*r, _mm256_shuffle_epi8(pieces[g], idx));
        }
        y = _mm256_sub_epi8(y, sixteen);
    }
    std::array::from_fn(|k| _mm256_xor_si256(r[k], t.outside[k]))
}

/// The top bits of the bytes of `x` (`vpmovmskb`), out of the compiler's sight: LLVM reads
/// the intrinsic as a vector of booleans and, counting or shifting its bits, took the
/// bytes out one at a time (`vpextrb`, twice as slow a first pass).
#[inline]
#[target_feature(enable = "avx2")]
fn movemask(x: __m256i) -> u32 {
    let m: u32;
    // SAFETY: one instruction of AVX2 (enabled here) from a register to a register.
    unsafe {
        std::arch::asm!(
            "vpmovmskb {m:e}, {x}",
            x = in(ymm_reg) x,
            m = out(reg) m,
            options(pure, nomem, nostack, preserves_flags)
        )
    };
    m
}

/// 32 bytes of `src` from `at`.
#[inline]
#[target_feature(enable = "avx2")]
fn load(src: &[u8], at: usize) -> __m256i {
    assert!(at + 32 <= src.len());
    // SAFETY: checked above.
    unsafe { _mm256_loadu_si256(src.as_ptr().add(at).cast()) }
}

/// [`super::scan`] with AVX2, writing the bits each lane holds after every step, before
/// the refills, to `held` (a row of `LANES` a step): `flagged` holds each value's length,
/// with the top bit set for the escaped values, `window` holds the values not escaped.
pub(super) fn scan(
    plane: &[u8],
    flagged: &[u8; 256],
    window: &Window,
    escapes: bool,
    takes: &mut [[u64; 2]],
    held: &mut [u8],
    rare: &mut [u8],
) -> usize {
    let whole = takes.len();
    assert!(
        Path::Avx2.available()
            && whole * LANES <= plane.len()
            && held.len() >= whole * LANES
            && (!escapes || rare.len() >= whole * LANES + 64)
    );
    // Every value outside the window is escaped (or unused): the escape's entry.
    let outside = if escapes {
        let esc = (0..256).find(|&s| flagged[s] & 0x80 != 0);
        esc.map_or(0, |s| flagged[s])
    } else {
        0
    };
    // SAFETY: the features and the lengths were checked.
    unsafe {
        if escapes {
            scan_with::<true>(plane, flagged, window, outside, takes, held, rare)
        } else {
            scan_with::<false>(plane, flagged, window, outside, takes, held, rare)
        }
    }
}

#[target_feature(enable = "avx2,popcnt")]
fn scan_with<const ESC: bool>(
    plane: &[u8],
    flagged: &[u8; 256],
    window: &Window,
    outside: u8,
    takes: &mut [[u64; 2]],
    held: &mut [u8],
    rare: &mut [u8],
) -> usize {
    let t = tables(window, [flagged], [outside]);
    let (len, eight) = (_mm256_set1_epi8(0x7F), _mm256_set1_epi8(8));
    let mut c = [eight; 4];
    let mut nr = 0usize;
    for (step, m) in takes.iter_mut().enumerate() {
        let mut bits = [0u32; 4];
        for (v, c) in c.iter_mut().enumerate() {
            let at = step * LANES + 32 * v;
            let x = load(plane, at);
            let [e] = lookup(&t, x);
            *c = _mm256_sub_epi8(*c, _mm256_and_si256(e, len));
            // SAFETY: `held` holds a row for every step (checked by the caller).
            unsafe { _mm256_storeu_si256(held.as_mut_ptr().add(at).cast(), *c) };
            let take = _mm256_cmpgt_epi8(eight, *c);
            bits[v] = movemask(take);
            *c = _mm256_add_epi8(*c, _mm256_and_si256(take, eight));
            if ESC {
                let esc = movemask(e);
                if esc != 0 {
                    for g in 0..4 {
                        let m = (esc >> (8 * g)) & 0xFF;
                        // SAFETY: 8 bytes of the plane inside the step; `nr` is at most
                        // `at + 8 g`, and `rare` has 64 bytes more than the steps.
                        unsafe {
                            let b = _mm_loadl_epi64(plane.as_ptr().add(at + 8 * g).cast());
                            let ctrl = _mm_cvtsi64_si128(PACK_LOW[m as usize] as i64);
                            _mm_storel_epi64(
                                rare.as_mut_ptr().add(nr).cast(),
                                _mm_shuffle_epi8(b, ctrl),
                            );
                        }
                        nr += m.count_ones() as usize;
                    }
                }
            }
        }
        *m = [
            u64::from(bits[0]) | u64::from(bits[1]) << 32,
            u64::from(bits[2]) | u64::from(bits[3]) << 32,
        ];
    }
    nr
}

/// [`super::write_lanes`] with AVX2: `held` holds the bits each lane holds after every
/// step, before the refills (the rows [`scan`] writes); `window` holds the values not
/// escaped, and `escape` is the escape (with escapes).
#[allow(clippy::too_many_arguments)]
pub(super) fn write_lanes(
    plane: &[u8],
    lut: &Lut,
    window: &Window,
    escape: Option<u8>,
    takes: &[[u64; 2]],
    steps: usize,
    held: &[u8],
    f_end: &[u16; LANES],
    stream: &mut [u8],
) {
    assert!(
        Path::Avx2.available()
            && steps >= 1
            && takes.len() >= steps
            && steps * LANES <= plane.len()
            && held.len() >= steps * LANES
    );
    assert_eq!(stream.len(), super::stream_len(takes, steps));
    // SAFETY: the features and the lengths were checked.
    unsafe {
        write_with(
            plane, lut, window, escape, takes, steps, held, f_end, stream,
        )
    }
}

#[allow(clippy::too_many_arguments)]
#[target_feature(enable = "avx2,popcnt")]
fn write_with(
    plane: &[u8],
    lut: &Lut,
    window: &Window,
    escape: Option<u8>,
    takes: &[[u64; 2]],
    steps: usize,
    held: &[u8],
    f_end: &[u16; LANES],
    stream: &mut [u8],
) {
    // Each value's code and `2^len`: a lane's word `f` becomes `f * 2^len + code`.
    let pow: [u8; 256] = std::array::from_fn(|s| (1u16 << lut[s].1) as u8);
    let code: [u8; 256] = std::array::from_fn(|s| lut[s].0);
    let out = escape.map_or([0, 0], |e| [pow[e as usize], code[e as usize]]);
    let t = tables(window, [&pow, &code], out);
    // `2^(16 - c)` in a word's high byte for the `c` (1 to 7) of a lane taking a byte: a
    // high multiply by it shifts the lane's word right by `c`.
    let unshift = {
        let b: [u8; 16] =
            std::array::from_fn(|c| if (1..8).contains(&c) { 1 << (8 - c) } else { 0 });
        // SAFETY: 16 bytes.
        unsafe { _mm256_broadcastsi128_si256(_mm_loadu_si128(b.as_ptr().cast())) }
    };
    let (zero, low) = (_mm256_setzero_si256(), _mm256_set1_epi16(0xFF));
    // The words of lanes 32 v + (0..8, 16..24) in f[2 v], 32 v + (8..16, 24..32) in
    // f[2 v + 1]: as the byte unpacks of 32 lanes lay them out, and as a pack puts back.
    let mut f = [zero; 8];
    for v in 0..4 {
        // SAFETY: 2 * 16 words of `f_end`.
        let (a, b) = unsafe {
            (
                _mm256_loadu_si256(f_end[32 * v..].as_ptr().cast()),
                _mm256_loadu_si256(f_end[32 * v + 16..].as_ptr().cast()),
            )
        };
        f[2 * v] = _mm256_permute2x128_si256(a, b, 0x20);
        f[2 * v + 1] = _mm256_permute2x128_si256(a, b, 0x31);
    }
    let mut bytes = [0u8; LANES];
    let base = stream.as_mut_ptr();
    let mut pos = stream.len();
    for t_ in (0..steps).rev() {
        let row = t_ * LANES;
        if t_ + 1 < steps {
            for v in 0..4 {
                let c = load(held, row + 32 * v);
                let m = _mm256_shuffle_epi8(unshift, c);
                let a = _mm256_mulhi_epu16(f[2 * v], _mm256_unpacklo_epi8(zero, m));
                let b = _mm256_mulhi_epu16(f[2 * v + 1], _mm256_unpackhi_epi8(zero, m));
                let p = _mm256_packus_epi16(_mm256_and_si256(a, low), _mm256_and_si256(b, low));
                // SAFETY: 32 bytes of `bytes`.
                unsafe { _mm256_storeu_si256(bytes[32 * v..].as_mut_ptr().cast(), p) };
            }
            // The step's bytes end where the next step's begin: eight lanes at a time from
            // the last, each group's bytes at the top of an 8-byte store whose lower bytes
            // the groups and steps before overwrite.
            let [lo, hi] = takes[t_];
            let mut end = pos;
            pos -= (lo.count_ones() + hi.count_ones()) as usize;
            for g in (0..16).rev() {
                let m = ((if g < 8 { lo } else { hi }) >> (8 * (g % 8))) & 0xFF;
                // SAFETY: `end` is at least `pos`, which is at least LANES (the lanes'
                // first bytes come before every refill), and at most the stream's length.
                unsafe {
                    let b = _mm_loadl_epi64(bytes[8 * g..].as_ptr().cast());
                    let ctrl = _mm_cvtsi64_si128(PACK_HIGH[m as usize] as i64);
                    _mm_storel_epi64(base.add(end - 8).cast(), _mm_shuffle_epi8(b, ctrl));
                }
                end -= m.count_ones() as usize;
            }
            debug_assert_eq!(end, pos);
        }
        for v in 0..4 {
            let x = load(plane, row + 32 * v);
            let [p, c] = lookup(&t, x);
            for (j, w) in [
                (0, _mm256_unpacklo_epi8(p, zero)),
                (1, _mm256_unpackhi_epi8(p, zero)),
            ] {
                let code = if j == 0 {
                    _mm256_unpacklo_epi8(c, zero)
                } else {
                    _mm256_unpackhi_epi8(c, zero)
                };
                let k = 2 * v + j;
                f[k] = _mm256_add_epi16(_mm256_mullo_epi16(f[k], w), code);
            }
        }
    }
    debug_assert_eq!(pos, LANES);
    for v in 0..4 {
        let p = _mm256_packus_epi16(
            _mm256_and_si256(f[2 * v], low),
            _mm256_and_si256(f[2 * v + 1], low),
        );
        // SAFETY: the stream holds at least LANES bytes.
        unsafe { _mm256_storeu_si256(base.add(32 * v).cast(), p) };
    }
}
