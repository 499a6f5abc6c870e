use super::*;
use crate::test_rng::Rng;

/// Exponent bytes of fp32 values of a normal distribution: ~40 values, a few rare.
fn exponents(rng: &mut Rng, n: usize, scale: f64) -> Vec<u8> {
    (0..n)
        .map(|_| (((rng.gauss() * scale) as f32).to_bits() >> 23) as u8)
        .collect()
}

/// Every value used, skewed: most symbols need codes longer than 7 bits.
pub(super) fn wide(rng: &mut Rng, n: usize) -> Vec<u8> {
    (0..n)
        .map(|_| {
            if rng.below(4) == 0 {
                rng.below(256) as u8
            } else {
                (rng.gauss() * 6.0) as i32 as u8
            }
        })
        .collect()
}

/// The planes of `n` bytes most tests run on: exponents of two scales, `wide`, and two
/// values of which one is rare (drawn from `rng` in that order).
pub(super) fn kinds(rng: &mut Rng, n: usize) -> [Vec<u8>; 4] {
    let two: Vec<u8> = (0..n).map(|i| if i % 97 == 5 { 200 } else { 3 }).collect();
    [
        exponents(rng, n, 0.02),
        exponents(rng, n, 1e-30),
        wide(rng, n),
        two,
    ]
}

fn encoded(plane: &[u8]) -> Option<Vec<u8>> {
    let mut out = vec![0xAB; 5];
    let size = encode(plane, &huffman::histogram(plane), &mut out)?;
    assert_eq!(out.len(), 5 + size);
    assert_eq!(out[..5], [0xAB; 5], "encode appends");
    Some(out[5..].to_vec())
}

/// Decodes with every loop this processor runs (each forced, the portable one first);
/// all must give the same result and the same bytes.
fn decode_both(payload: &[u8], n: usize) -> Result<Vec<u8>> {
    let mut a = vec![0x5A; n];
    let ra = decode_using(payload, &mut a, Path::Portable, &mut &[][..]);
    for path in Path::all().into_iter().skip(1).filter(|p| p.available()) {
        let mut b = vec![0x5A; n];
        let rb = decode_using(payload, &mut b, path, &mut &[][..]);
        assert_eq!(ra, rb, "portable and {path:?} results differ");
        if ra.is_ok() {
            assert!(a == b, "portable and {path:?} outputs differ");
        }
    }
    ra.map(|()| a)
}

fn round_trip(plane: &[u8]) -> Vec<u8> {
    try_round_trip(plane).expect("lanes apply")
}

/// [`round_trip`] where the lanes may not apply (short planes).
fn try_round_trip(plane: &[u8]) -> Option<Vec<u8>> {
    let payload = encoded(plane)?;
    let back = decode_both(&payload, plane.len()).expect("decodes");
    assert!(back == plane, "round trip differs, n = {}", plane.len());
    Some(payload)
}

#[test]
fn planes_of_every_kind_and_length_round_trip() {
    let mut rng = Rng(11);
    let mut short = 0;
    for n in [
        256,
        257,
        383,
        1000,
        2048,
        4096,
        4097,
        65536,
        65536 + 77,
        131072,
    ] {
        for plane in kinds(&mut rng, n) {
            match try_round_trip(&plane) {
                Some(_) => {}
                None if n < MIN_PLANE => short += 1,
                None => panic!("planes of {n} bytes are laid out"),
            }
        }
    }
    // Short planes are laid out where their tail can fill the lanes, not always.
    assert!(short > 0 && short < 20, "{short}");
}

#[test]
fn too_short_planes_are_not_laid_out() {
    let plane: Vec<u8> = (0..255).map(|i| (i % 3) as u8).collect();
    assert!(encoded(&plane).is_none());
}

#[test]
fn escapes_take_the_symbols_longer_than_seven_bits() {
    let mut rng = Rng(5);
    // Every value used: the escape is one of the escaped values.
    let mut plane = wide(&mut rng, 65536);
    for (i, b) in plane.iter_mut().take(256).enumerate() {
        *b = i as u8;
    }
    let p = round_trip(&plane);
    let h = parse(&p, plane.len()).expect("parses");
    assert!(h.rare > 0 && h.rare < plane.len() / 2, "{}", h.rare);
    assert!(h.lens.iter().all(|&l| u32::from(l) <= MAX_LEN));
    // Exponents: a few escaped values, an unused escape.
    let plane = exponents(&mut rng, 65536, 0.02);
    let p = round_trip(&plane);
    let h = parse(&p, plane.len()).expect("parses");
    let hist = huffman::histogram(&plane);
    assert_eq!(hist[h.escape as usize], 0, "an unused escape");
    assert!(h.rare > 0 && h.rare < plane.len() / 50, "{}", h.rare);
}

/// Sizes: within a fraction of a percent of codec 2 on skewed planes (the ends pooled,
/// the escapes in a side list).
#[test]
fn size_is_close_to_codec_2() {
    let mut rng = Rng(9);
    for scale in [0.02, 1.0] {
        let plane = exponents(&mut rng, 131072, scale);
        let lanes = round_trip(&plane).len();
        let mut two = Vec::new();
        huffman::encode(&plane, &huffman::histogram(&plane), &mut two);
        assert!(
            lanes as f64 <= two.len() as f64 * 1.003,
            "{lanes} against {}",
            two.len()
        );
    }
}

#[test]
fn the_vectors_stop_few_steps_early() {
    let mut rng = Rng(3);
    let plane = exponents(&mut rng, 131072, 0.02);
    let p = round_trip(&plane);
    let h = parse(&p, plane.len()).expect("parses");
    let k = plane.len() / LANES - h.steps;
    assert!(k <= 8, "K = {k}");
}

/// Rejected payloads of the rules in FORMAT.md section 14.
#[test]
fn broken_rules_are_corrupt() {
    let mut rng = Rng(4);
    let plane = exponents(&mut rng, 8192, 0.02);
    let p = round_trip(&plane);
    let h = parse(&p, plane.len()).expect("parses");
    let at = 2 + (p[1] - p[0]) as usize / 2 + 1;
    let n = plane.len();
    let bad = |edit: &dyn Fn(&mut Vec<u8>)| {
        let mut q = p.clone();
        edit(&mut q);
        decode_both(&q, n)
    };
    // A trailing byte; a stream one byte short.
    assert_eq!(bad(&|q| q.push(0)), Err(Error::Corrupt));
    assert_eq!(
        bad(&|q| {
            q.pop();
        }),
        Err(Error::Corrupt)
    );
    // K so large that no vector step is left.
    assert_eq!(bad(&|q| q[at + 1] = (n / LANES) as u8), Err(Error::Corrupt));
    // The side list's count off by one either way.
    let rare = |d: i64| {
        move |q: &mut Vec<u8>| {
            let r = (h.rare as i64 + d) as u32;
            q[at + 2..at + 6].copy_from_slice(&r.to_le_bytes());
        }
    };
    assert_eq!(bad(&rare(1)), Err(Error::Corrupt));
    assert_eq!(bad(&rare(-1)), Err(Error::Corrupt));
    // A code length above 7.
    assert_eq!(bad(&|q| q[2] = q[2] & 0xF0 | 8), Err(Error::Corrupt));
    // Nonzero bits after the tail's last code (where the last byte has unused bits).
    let last = *p.last().expect("a stream");
    if last < 0x80 {
        let top = 0x80 >> last.leading_zeros().min(7);
        let r = bad(&|q| *q.last_mut().expect("a stream") |= 0x80);
        assert!(top == 0 || r.is_err());
    }
    // With no side list, the escape must be zero.
    let two: Vec<u8> = (0..8192).map(|i| (i % 5 == 0) as u8).collect();
    let p2 = round_trip(&two);
    let at2 = 2 + (p2[1] - p2[0]) as usize / 2 + 1;
    assert_eq!(p2[at2 + 2..at2 + 10], [0; 8]);
    let mut q = p2.clone();
    q[at2] = 9;
    assert_eq!(decode_both(&q, two.len()), Err(Error::Corrupt));
}

/// Every truncation and every flipped bit of a payload decodes or fails the same way with
/// every loop, without a panic.
#[test]
fn damaged_payloads_never_panic_and_every_loop_agrees() {
    let mut rng = Rng(8);
    let plane = wide(&mut rng, 2000);
    let p = round_trip(&plane);
    for cut in 0..p.len() {
        let _ = decode_both(&p[..cut], plane.len());
    }
    for bit in 0..p.len() * 8 {
        let mut q = p.clone();
        q[bit / 8] ^= 1 << (bit % 8);
        let _ = decode_both(&q, plane.len());
    }
    for _ in 0..2000 {
        let len = rng.below(600) as usize;
        let junk: Vec<u8> = (0..len).map(|_| rng.below(256) as u8).collect();
        let _ = decode_both(&junk, 300 + rng.below(3000) as usize);
    }
}

/// The encoder's output for fixed planes: a change to the encoder that changes a byte
/// fails here (a faster encoder must write the same payloads).
#[test]
fn encoder_output_is_pinned() {
    let mut rng = Rng(21);
    let mut all = Vec::new();
    for n in [4096, 65536 + 77, 131072] {
        for plane in kinds(&mut rng, n) {
            all.extend_from_slice(&round_trip(&plane));
        }
    }
    let hash = crate::frame::checksum(&all);
    assert_eq!(
        (all.len(), hash),
        (308068, 0x436e_5d98_de5d_74d4),
        "{hash:#x}"
    );
}

/// The paths (the decoder's loops and the encoder's passes): the portable one everywhere,
/// the best one chosen where it runs, a path the processor lacks refused; on x86-64 the
/// AVX2 loop runs wherever AVX2 does (so that the tests compare it) and AVX-512's does.
#[test]
fn every_path_this_processor_runs_is_tested() {
    assert!(Path::Portable.available());
    let best = vectors();
    assert!(best.available());
    assert!(Path::all()
        .into_iter()
        .filter(|p| p.available())
        .all(|p| p as u8 <= best as u8));
    #[cfg(target_arch = "x86_64")]
    {
        assert_eq!(
            Path::Avx2.available(),
            std::arch::is_x86_feature_detected!("avx2")
                && std::arch::is_x86_feature_detected!("popcnt")
        );
        if Path::Avx512.available() {
            assert!(Path::Avx2.available());
        }
    }
    let mut rng = Rng(30);
    let plane = exponents(&mut rng, 8192, 0.02);
    let p = encoded(&plane).expect("lanes apply");
    for path in Path::all() {
        let mut out = vec![7u8; plane.len()];
        let r = decode_with(&p, &mut out, path);
        if path.available() {
            assert_eq!(r, Ok(()));
            assert!(out == plane, "{path:?}");
        } else {
            assert_eq!(r, Err(Error::InvalidParam));
            assert!(out.iter().all(|&b| b == 7));
        }
    }
}

/// Lanes that take every refill pattern: codes of every length from 1 to 7 mixed at
/// random, escapes in runs and alone, every plane length across a step; all paths agree
/// (with the vector loops patching escapes as they go and the portable one after).
#[test]
fn refills_and_escapes_of_every_pattern_agree_on_every_path() {
    let mut rng = Rng(31);
    let mut longest = 0;
    for n in [4096, 4096 + 1, 4096 + 127, 4096 + 128, 20000, 65536 + 300] {
        // Geometric: symbol s with probability about 2^-(s+1), a tail of rare symbols.
        let plane: Vec<u8> = (0..n)
            .map(|_| {
                let mut s = 0u8;
                while s < 40 && rng.below(2) == 0 {
                    s += 1;
                }
                if rng.below(50) == 0 {
                    rng.below(256) as u8
                } else {
                    s
                }
            })
            .collect();
        let p = round_trip(&plane);
        let h = parse(&p, n).expect("parses");
        assert!(h.rare > 0, "escapes at n = {n}");
        let lens = (1..=7).filter(|l| h.lens.contains(l)).count();
        assert!(lens >= 6, "{lens} lengths at n = {n}");
        longest = longest.max(*h.lens.iter().max().expect("lengths"));
    }
    assert_eq!(longest, 7);
}
