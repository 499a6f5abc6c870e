//! The encoder's passes against each other and against the first encoder (kept here as
//! the reference): the portable and the vector passes write the same bytes as it on every
//! kind of plane.

use super::super::tests::{kinds, wide};
use super::*;
use crate::test_rng::Rng;

/// The first encoder of codec 11, lane after lane, as it was written before the passes:
/// the reference for the bytes.
mod reference {
    use std::cell::RefCell;

    use crate::codec::huffman;
    use crate::codec::lanes::{FIXED, LANES, MAX_K, MAX_LEN, TABLE};

    pub(super) use self::reference_encode as encode;

    /// The lanes' code for a histogram: lengths of at most 7 bits over the symbols kept, and
    /// the escape that stands for the others (`None` when no symbol is escaped).
    struct OldCode {
        lens: [u8; 256],
        escape: Option<u8>,
        escaped: [bool; 256],
    }

    /// The smaller of two codes: every symbol within 7 bits (where at most 128 are used), or
    /// the symbols whose codec 2 code is longer than 7 bits escaped.
    fn old_plan_code(hist: &[u32; 256]) -> OldCode {
        let used = hist.iter().filter(|&&c| c != 0).count();
        let cost = |lens: &[u8; 256], h: &[u32; 256]| -> u64 {
            (0..256).map(|s| u64::from(h[s]) * u64::from(lens[s])).sum()
        };
        let full = huffman::code_lengths_within(hist, huffman::MAX_CODE_LEN);
        let mut escaped = [false; 256];
        for s in 0..256 {
            escaped[s] = u32::from(full[s]) > MAX_LEN;
        }
        let rare: u64 = (0..256)
            .filter(|&s| escaped[s])
            .map(|s| u64::from(hist[s]))
            .sum();
        let plain = (used <= TABLE).then(|| {
            let lens = huffman::code_lengths_within(hist, MAX_LEN);
            (cost(&lens, hist), lens)
        });
        if rare == 0 {
            if let Some((_, lens)) = plain {
                return OldCode {
                    lens,
                    escape: None,
                    escaped: [false; 256],
                };
            }
        }
        // An escape value never stands for itself: an unused value, else an escaped one.
        let escape = (0..256)
            .find(|&s| hist[s] == 0)
            .or_else(|| (0..256).find(|&s| escaped[s]))
            .expect("256 used values cannot all have codes of 7 bits") as u8;
        let mut main = *hist;
        let mut side = [0u32; 256];
        for s in 0..256 {
            if escaped[s] {
                side[s] = main[s];
                main[s] = 0;
            }
        }
        main[escape as usize] += rare as u32;
        let lens = huffman::code_lengths_within(&main, MAX_LEN);
        let side_bits = huffman::encoded_size(&side, rare as usize) as u64 * 8 + 8 * FIXED as u64;
        let with_escape = cost(&lens, &main) + side_bits;
        match plain {
            Some((bits, plain)) if bits <= with_escape => OldCode {
                lens: plain,
                escape: None,
                escaped: [false; 256],
            },
            _ => OldCode {
                lens,
                escape: Some(escape),
                escaped,
            },
        }
    }

    /// Appends the codec 11 payload of `plane` (whose histogram is `hist`, with at least two
    /// values) to `out` and returns its size; `None` (nothing appended) where the plane is too
    /// short for lanes or no `K` up to 255 lets the tail fill the lanes' bits.
    pub(super) fn reference_encode(
        plane: &[u8],
        hist: &[u32; 256],
        out: &mut Vec<u8>,
    ) -> Option<usize> {
        let n = plane.len();
        let whole = n / LANES;
        if whole < 2 {
            return None;
        }
        let code = old_plan_code(hist);
        // Each value's code (bit-reversed, first bit lowest) and length, escapes folded in.
        let codes = huffman::canonical_codes(&code.lens);
        let mut lut = [(0u64, 0u32); 256];
        for (s, e) in lut.iter_mut().enumerate() {
            let m = match code.escape {
                Some(esc) if code.escaped[s] => esc as usize,
                _ => s,
            };
            let l = u32::from(code.lens[m]);
            if l > 0 {
                *e = (u64::from(huffman::reverse(codes[m], l)), l);
            }
        }
        ENCODER.with(|e| {
            let mut own = (Vec::new(), Vec::new());
            let mut guard = e.try_borrow_mut();
            let (lanes, takes) = match guard.as_deref_mut() {
                Ok((a, b)) => (a, b),
                Err(_) => (&mut own.0, &mut own.1),
            };
            let steps = choose_steps(plane, &lut, takes)?;
            let start = out.len();
            write_header(&code, whole - steps, plane, out);
            write_stream(plane, &lut, steps, takes, lanes, out);
            Some(out.len() - start)
        })
    }

    /// The most vector steps (the fewest stopped early, at most 255) whose tail has at least
    /// as many bits as the lanes hold after them, running the lanes as the decoder does; and
    /// after each step, the lanes that take a byte (a bit each).
    fn choose_steps(plane: &[u8], lut: &[(u64, u32); 256], takes: &mut Vec<u128>) -> Option<usize> {
        let whole = plane.len() / LANES;
        let bits = |s: &[u8]| s.iter().map(|&b| u64::from(lut[b as usize].1)).sum::<u64>();
        // The bits held after each step (before the refills).
        let mut left = [8u32; LANES];
        let mut room = Vec::with_capacity(whole);
        takes.clear();
        for step in plane.chunks_exact(LANES).take(whole) {
            let mut r = 0;
            let mut m = 0u128;
            for (i, (l, &s)) in left.iter_mut().zip(step).enumerate() {
                *l -= lut[s as usize].1;
                r += *l;
                let take = *l < 8;
                m |= u128::from(take) << i;
                *l += u32::from(take) * 8;
            }
            room.push(u64::from(r));
            takes.push(m);
        }
        let mut tail = bits(&plane[whole * LANES..]);
        for s in (whole.saturating_sub(MAX_K).max(1)..=whole).rev() {
            if tail >= room[s - 1] {
                return Some(s);
            }
            tail += bits(&plane[(s - 1) * LANES..s * LANES]);
        }
        None
    }

    thread_local! {
        /// The encoder's buffers: the lanes' bytes, lane after lane, and the refills.
        static ENCODER: RefCell<(Vec<u8>, Vec<u128>)> = const { RefCell::new((Vec::new(), Vec::new())) };
    }

    /// Appends the stream: the lanes' bytes in the order the decoder takes them (`takes`: the
    /// lanes that take one after each step), the tail's first bits in the lanes' last bytes,
    /// then the rest of the tail.
    fn write_stream(
        plane: &[u8],
        lut: &[(u64, u32); 256],
        steps: usize,
        takes: &[u128],
        lanes: &mut Vec<u8>,
        out: &mut Vec<u8>,
    ) {
        // Bytes each lane takes: one first, then one a refill.
        let mut count = [1usize; LANES];
        for m in &takes[..steps - 1] {
            let mut m = *m;
            while m != 0 {
                count[m.trailing_zeros() as usize] += 1;
                m &= m - 1;
            }
        }
        let mut lane_at = [0usize; LANES + 1];
        for i in 0..LANES {
            lane_at[i + 1] = lane_at[i] + count[i];
        }
        // The tail's bits, of which lane i's last byte takes the `left` bits after its codes.
        let mut tail = BitWriter::default();
        for &s in &plane[steps * LANES..] {
            let (c, l) = lut[s as usize];
            tail.put(c, l);
        }
        let total = tail.len;
        let tail = tail.finish();
        let bits_at = |from: usize, m: u32| -> u64 {
            let mut v = 0u64;
            for j in 0..m as usize {
                let b = from + j;
                v |= u64::from(tail.get(b / 8).map_or(0, |x| x >> (b % 8) & 1)) << j;
            }
            v
        };
        // Each lane's bytes, lane after lane (8 bytes of slack for whole-word stores).
        lanes.clear();
        lanes.resize(lane_at[LANES] + 8, 0);
        let mut used = 0usize;
        for i in 0..LANES {
            let mut p = lane_at[i];
            let (mut acc, mut have, mut bits) = (0u64, 0u32, 0usize);
            for t in 0..steps {
                let (c, l) = lut[plane[t * LANES + i] as usize];
                acc |= c << have;
                have += l;
                bits += l as usize;
                // At most one byte fills (fewer than 8 bits were held, a code has at most 7).
                let full = have >= 8;
                lanes[p] = acc as u8;
                p += usize::from(full);
                acc >>= 8 * u32::from(full);
                have -= 8 * u32::from(full);
            }
            let m = (count[i] * 8 - bits) as u32;
            acc |= bits_at(used, m) << have;
            have += m;
            used += m as usize;
            while have >= 8 {
                lanes[p] = acc as u8;
                p += 1;
                acc >>= 8;
                have -= 8;
            }
            debug_assert_eq!((p, have), (lane_at[i + 1], 0));
        }
        // In the decoder's order.
        let mut next = lane_at;
        for (i, n) in next.iter_mut().take(LANES).enumerate() {
            out.push(lanes[*n]);
            *n += 1;
            debug_assert_eq!(*n - 1, lane_at[i]);
        }
        for m in &takes[..steps - 1] {
            let mut m = *m;
            while m != 0 {
                let i = m.trailing_zeros() as usize;
                out.push(lanes[next[i]]);
                next[i] += 1;
                m &= m - 1;
            }
        }
        let mut rest = BitWriter::default();
        while used < total {
            let m = (total - used).min(32) as u32;
            rest.put(bits_at(used, m), m);
            used += m as usize;
        }
        out.extend_from_slice(&rest.finish());
    }

    /// The header and the side list.
    fn write_header(code: &OldCode, k: usize, plane: &[u8], out: &mut Vec<u8>) {
        let used: Vec<usize> = (0..256).filter(|&s| code.lens[s] != 0).collect();
        let (min, max) = (used[0], used[used.len() - 1]);
        out.push(min as u8);
        out.push(max as u8);
        for j in (0..=max - min).step_by(2) {
            let hi = if min + j < max {
                code.lens[min + j + 1]
            } else {
                0
            };
            out.push(code.lens[min + j] | hi << 4);
        }
        let mut rare = Vec::new();
        if code.escape.is_some() {
            // Few bytes are escaped (codes longer than 7 bits): the branch is well predicted.
            for &s in plane {
                if code.escaped[s as usize] {
                    rare.push(s);
                }
            }
        }
        out.push(if rare.is_empty() {
            0
        } else {
            code.escape.unwrap_or(0)
        });
        out.push(k as u8);
        out.extend_from_slice(&(rare.len() as u32).to_le_bytes());
        let mut side = Vec::new();
        if !rare.is_empty() {
            huffman::encode(&rare, &huffman::histogram(&rare), &mut side);
        }
        out.extend_from_slice(&(side.len() as u32).to_le_bytes());
        out.extend_from_slice(&side);
    }

    /// Bits written lowest first.
    #[derive(Default)]
    struct BitWriter {
        bytes: Vec<u8>,
        acc: u64,
        have: u32,
        len: usize,
    }

    impl BitWriter {
        fn put(&mut self, code: u64, len: u32) {
            self.acc |= code << self.have;
            self.have += len;
            self.len += len as usize;
            while self.have >= 8 {
                self.bytes.push(self.acc as u8);
                self.acc >>= 8;
                self.have -= 8;
            }
        }

        fn finish(mut self) -> Vec<u8> {
            if self.have > 0 {
                self.bytes.push(self.acc as u8);
            }
            self.bytes
        }
    }
}

/// Values around `center` (wrapping), spread by `spread`.
fn around(rng: &mut Rng, n: usize, center: u8, spread: f64) -> Vec<u8> {
    (0..n)
        .map(|_| center.wrapping_add((rng.gauss() * spread) as i32 as u8))
        .collect()
}

/// The plane's payload from the reference, the portable passes and (where the processor
/// has them) the vector passes, which must all be the same; `None` where the lanes do not
/// apply.
fn payloads_agree(plane: &[u8]) -> Option<Vec<u8>> {
    let hist = huffman::histogram(plane);
    let mut want = vec![0xCD; 3];
    let size = reference::encode(plane, &hist, &mut want);
    for path in Path::all().into_iter().filter(|p| p.available()) {
        let mut got = vec![0xCD; 3];
        let s = encode_using(plane, &hist, &mut got, path);
        assert_eq!(s, size, "n = {}, {path:?}", plane.len());
        assert!(
            got == want,
            "payloads differ: n = {}, {path:?}",
            plane.len()
        );
    }
    size.map(|s| {
        assert_eq!(want.len(), 3 + s);
        want.split_off(3)
    })
}

#[test]
fn both_passes_write_the_reference_bytes() {
    let mut rng = Rng(33);
    let (mut laid, mut short, mut escaped) = (0, 0, 0);
    for n in [
        256,
        257,
        383,
        1000,
        2048,
        4095,
        4096,
        4097,
        8191,
        12345,
        65536,
        65536 + 77,
        131072,
        300_001,
    ] {
        let four: Vec<u8> = (0..n).map(|_| rng.below(4) as u8 + 126).collect();
        let flat: Vec<u8> = (0..n).map(|_| rng.below(256) as u8).collect();
        let [a, b, c, two] = kinds(&mut rng, n);
        for plane in [
            a,
            b,
            c,
            two,
            four,
            flat,
            around(&mut rng, n, 128, 3.0),
            around(&mut rng, n, 250, 20.0),
            around(&mut rng, n, 60, 0.7),
        ] {
            match payloads_agree(&plane) {
                Some(p) => {
                    laid += 1;
                    let h = super::super::parse(&p, n).expect("parses");
                    escaped += usize::from(h.rare > 0);
                }
                None => short += 1,
            }
        }
    }
    // Every kind: laid out and not, with and without escapes.
    assert!(
        laid > 80 && short > 0 && escaped > 20,
        "{laid} {short} {escaped}"
    );
}

#[test]
fn random_planes_give_the_reference_bytes() {
    let mut rng = Rng(77);
    for _ in 0..60 {
        let n = 256 + rng.below(40_000) as usize;
        let center = rng.below(256) as u8;
        let spread = 0.3 + rng.unit() * 40.0;
        let mut plane = around(&mut rng, n, center, spread);
        // Now and then a run of one value or of random bytes.
        let at = rng.below(n as u64) as usize;
        let run = (rng.below(5000) as usize).min(n - at);
        let v = rng.below(256) as u8;
        let random = rng.below(2) == 0;
        for b in &mut plane[at..at + run] {
            *b = if random { rng.below(256) as u8 } else { v };
        }
        if plane.iter().any(|&b| b != plane[0]) {
            payloads_agree(&plane);
        }
    }
}

#[test]
fn encode_appends_the_chosen_passes_bytes() {
    let mut rng = Rng(8);
    let plane = wide(&mut rng, 70_000);
    let want = payloads_agree(&plane).expect("laid out");
    let mut out = vec![1, 2, 3];
    let size = encode(&plane, &huffman::histogram(&plane), &mut out).expect("laid out");
    assert_eq!(size, want.len());
    assert_eq!(out[..3], [1, 2, 3]);
    assert!(out[3..] == want[..]);
}

/// The AVX2 passes look values up in a window of 16 to 256 values holding the kept ones:
/// windows of every width, from several first values (wrapping past 255), with and without
/// values escaped outside them, give the reference bytes.
#[test]
fn windows_of_every_width_give_the_reference_bytes() {
    let mut rng = Rng(5);
    let mut escaped = 0;
    for width in [
        1u32, 2, 15, 16, 17, 31, 32, 33, 48, 64, 100, 128, 129, 200, 256,
    ] {
        for base in [0u8, 77, 200, 250] {
            for rare in [0, 3, 40] {
                let n = 20_000 + rng.below(3000) as usize;
                let plane: Vec<u8> = (0..n)
                    .map(|_| {
                        if rng.below(1000) < rare {
                            rng.below(256) as u8
                        } else {
                            // Skewed toward the window's ends, both of which occur.
                            let k = (rng.unit() * rng.unit() * f64::from(width)) as u32;
                            let k = if rng.below(2) == 0 {
                                k
                            } else {
                                width - 1 - k.min(width - 1)
                            };
                            base.wrapping_add(k as u8)
                        }
                    })
                    .collect();
                if plane.iter().all(|&b| b == plane[0]) {
                    continue;
                }
                if let Some(p) = payloads_agree(&plane) {
                    let h = super::super::parse(&p, n).expect("parses");
                    escaped += usize::from(h.rare > 0);
                }
            }
        }
    }
    assert!(escaped > 20, "{escaped}");
}
