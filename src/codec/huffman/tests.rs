use super::decoder::*;
use super::encoder::*;
use super::lengths::*;
use super::*;
use crate::error::Error;

use crate::test_rng::Rng;

fn round_trip(src: &[u8]) -> Vec<u8> {
    let hist = histogram(src);
    let mut enc = vec![0xEE; 3];
    encode(src, &hist, &mut enc);
    assert_eq!(
        enc.len() - 3,
        encoded_size(&hist, src.len()),
        "encoded_size"
    );
    assert_eq!(&enc[..3], &[0xEE; 3]);
    let enc = enc[3..].to_vec();
    let mut back = vec![0u8; src.len()];
    decode(&enc, &mut back).expect("decode");
    assert!(back == src, "round trip mismatch, n={}", src.len());
    enc
}

fn exponent_plane(rng: &mut Rng, n: usize) -> Vec<u8> {
    (0..n)
        .map(|_| {
            let x = (rng.gauss() * 0.02) as f32;
            ((x.to_bits() >> 23) & 0xFF) as u8
        })
        .collect()
}

fn lens_of(src: &[u8]) -> [u8; 256] {
    code_lengths(&histogram(src))
}

#[test]
fn histogram_counts() {
    let mut rng = Rng(7);
    for n in [0, 1, 7, 8, 9, 1000] {
        let v: Vec<u8> = (0..n).map(|_| rng.next() as u8).collect();
        let mut h = [0u32; 256];
        for &b in &v {
            h[b as usize] += 1;
        }
        assert_eq!(histogram(&v), h);
    }
}

#[test]
fn sizes() {
    let mut rng = Rng(1);
    for n in [
        1usize,
        2,
        3,
        4,
        5,
        7,
        8,
        9,
        15,
        16,
        17,
        100,
        4095,
        65536,
        262144 + 3,
    ] {
        let skew = exponent_plane(&mut rng, n);
        round_trip(&skew);
        let uni: Vec<u8> = (0..n).map(|_| rng.next() as u8).collect();
        round_trip(&uni);
        let few: Vec<u8> = (0..n).map(|_| (rng.next() % 3) as u8 * 40).collect();
        round_trip(&few);
    }
}

#[test]
fn empty() {
    let hist = histogram(&[]);
    assert_eq!(encoded_size(&hist, 0), 0);
    let mut enc = Vec::new();
    encode(&[], &hist, &mut enc);
    assert!(enc.is_empty());
    assert_eq!(decode(&[], &mut []), Ok(()));
    assert_eq!(decode(&[0], &mut []), Err(Error::Corrupt));
    assert_eq!(decode(&[], &mut [0]), Err(Error::Corrupt));
}

#[test]
fn single_symbol() {
    for n in [1usize, 2, 7, 8, 9, 100, 4097, 100_000] {
        for sym in [0u8, 77, 255] {
            let src = vec![sym; n];
            let enc = round_trip(&src);
            assert_eq!(
                enc.len(),
                header_len(sym as usize, sym as usize) + n.div_ceil(8)
            );
        }
    }
}

#[test]
fn two_symbols() {
    let mut rng = Rng(2);
    for n in [2usize, 3, 5, 64, 1000, 65537] {
        let src: Vec<u8> = (0..n)
            .map(|_| if rng.below(10) == 0 { 3 } else { 250 })
            .collect();
        let mut src = src;
        src[0] = 3;
        src[n - 1] = 250;
        round_trip(&src);
        assert_eq!(lens_of(&src)[3], 1);
        assert_eq!(lens_of(&src)[250], 1);
    }
}

#[test]
fn uniform_all_symbols() {
    let mut rng = Rng(3);
    let src: Vec<u8> = (0..300_000).map(|_| rng.next() as u8).collect();
    let enc = round_trip(&src);
    assert!(enc.len() <= 300_000 + 200);
    let src: Vec<u8> = (0..256 * 40).map(|i| i as u8).collect();
    let enc = round_trip(&src);
    assert_eq!(enc.len(), 2 + 128 + 12 + 256 * 40);
}

#[test]
fn skewed() {
    let mut rng = Rng(4);
    let src = exponent_plane(&mut rng, 262144);
    let enc = round_trip(&src);
    assert!(enc.len() < 262144 * 3 / 8, "{}", enc.len());
    // Geometric.
    let src: Vec<u8> = (0..200_000)
        .map(|_| (rng.next() | 1 << 60).trailing_zeros() as u8)
        .collect();
    round_trip(&src);
    // Geometric over all 256 values with ratio 0.97.
    let src: Vec<u8> = (0..200_000)
        .map(|_| {
            let u = ((rng.next() >> 11) as f64 + 1.0) / (1u64 << 53) as f64;
            ((u.ln() / 0.97f64.ln()) as u64).min(255) as u8
        })
        .collect();
    round_trip(&src);
}

#[test]
fn length_limit() {
    // Fibonacci frequencies: unlimited Huffman would need ~25-bit codes.
    let mut src = Vec::new();
    let (mut a, mut b) = (1usize, 1usize);
    for s in 0..26u8 {
        src.resize(src.len() + a, s);
        (a, b) = (b, a + b);
    }
    let mut rng = Rng(5);
    for i in (1..src.len()).rev() {
        src.swap(i, rng.below(i as u64 + 1) as usize);
    }
    let lens = lens_of(&src);
    assert_eq!(*lens.iter().max().unwrap() as u32, MAX_CODE_LEN);
    let kraft: u32 = lens
        .iter()
        .filter(|&&l| l != 0)
        .map(|&l| 1 << (11 - l))
        .sum();
    assert_eq!(kraft, 2048);
    round_trip(&src);
    // Optimality in a small case versus a brute-force-free check: two equal symbols.
    let lens = lens_of(&[1, 2, 1, 2]);
    assert_eq!((lens[1], lens[2]), (1, 1));
}

#[test]
fn huffman_and_package_merge_agree_on_cost() {
    let mut rng = Rng(11);
    for _ in 0..300 {
        let mut hist = [0u32; 256];
        let used = 2 + rng.below(255) as usize;
        for _ in 0..used {
            let bits = rng.below(12);
            hist[rng.below(256) as usize] = 1 + rng.below(1 << bits) as u32;
        }
        let lens = code_lengths(&hist);
        let mut keys: Vec<u64> = (0..256)
            .filter(|&s| hist[s] != 0)
            .map(|s| (hist[s] as u64) << 8 | s as u64)
            .collect();
        keys.sort_unstable();
        if keys.len() < 2 {
            continue;
        }
        let mut pm = [0u8; 256];
        package_merge(&keys, &mut pm, MAX_CODE_LEN);
        let cost = |l: &[u8; 256]| -> u64 { (0..256).map(|s| hist[s] as u64 * l[s] as u64).sum() };
        assert_eq!(cost(&lens), cost(&pm));
        for l in [lens, pm] {
            let kraft: u32 = l.iter().filter(|&&x| x != 0).map(|&x| 1 << (11 - x)).sum();
            assert_eq!(kraft, 2048);
            assert!(l.iter().all(|&x| x as u32 <= MAX_CODE_LEN));
            assert!((0..256).all(|s| (hist[s] != 0) == (l[s] != 0)));
        }
    }
}

#[test]
fn lengths_pushed_to_the_limit() {
    // Ten symbols with halving frequencies want lengths 1..=10; 246 rare symbols would
    // then want ~18 bits, so the limit makes most codes exactly 11 bits long.
    let mut src = Vec::new();
    for s in 0..10u8 {
        src.resize(src.len() + (1 << (20 - s)), s);
    }
    src.extend(10..=255u8);
    let mut rng = Rng(10);
    for i in (1..src.len()).rev() {
        src.swap(i, rng.below(i as u64 + 1) as usize);
    }
    let lens = lens_of(&src);
    assert_eq!(*lens.iter().max().unwrap() as u32, MAX_CODE_LEN);
    assert!(lens.iter().filter(|&&l| l == 11).count() >= 200);
    round_trip(&src);
    // Every used symbol at 11 bits is impossible with 256 symbols (the code would be
    // incomplete), but decoding tables must cover the full range for mixed lengths 1..=11.
    let mut lens = [0u8; 256];
    for l in 1..=10u8 {
        lens[l as usize] = l;
    }
    lens[11] = 11;
    lens[12] = 11;
    let mut t = Tables::boxed();
    t.build(&lens);
    assert!(t.single.iter().all(|&e| (e >> 8) != 0));
}

#[test]
fn fast_multi_table_matches_the_reference() {
    let mut rng = Rng(12);
    for _ in 0..200 {
        let n = 1 + rng.below(5000) as usize;
        let src: Vec<u8> = match rng.below(3) {
            0 => exponent_plane(&mut rng, n),
            1 => (0..n).map(|_| (rng.below(6) * 3) as u8).collect(),
            _ => (0..n).map(|_| rng.next() as u8).collect(),
        };
        let lens = lens_of(&src);
        if lens.iter().filter(|&&l| l != 0).count() < 2 {
            continue;
        }
        let min = *lens.iter().filter(|&&l| l != 0).min().unwrap() as u32;
        if MAX_CODE_LEN / min > MAX_ENTRY_SYMS {
            continue;
        }
        let mut t = Tables::boxed();
        t.build(&lens);
        let codes = canonical_codes(&lens);
        let used: Vec<(u8, u32, u32)> = (0..256)
            .filter(|&s| lens[s] != 0)
            .map(|s| (s as u8, lens[s] as u32, reverse(codes[s], lens[s] as u32)))
            .collect();
        t.fill_single(&used);
        let mut reference = [0u64; TABLE_SIZE];
        multi_table(&t.single, &mut reference);
        assert!(t.multi == reference);
    }
}

#[test]
fn used_codes_are_the_canonical_codes_in_canonical_order() {
    // The table builds take the codes from `used_codes`; `canonical_codes` (the encoder's)
    // is the reference: the same codes, listed by length, then symbol.
    let mut rng = Rng(21);
    for round in 0..400 {
        let n = 1 + rng.below(20000) as usize;
        let src: Vec<u8> = match round % 5 {
            0 => exponent_plane(&mut rng, n),
            1 => (0..n).map(|_| (rng.below(6) * 3) as u8).collect(),
            2 => (0..n).map(|_| rng.next() as u8).collect(),
            3 => (0..n).map(|_| (216 + rng.below(40)) as u8).collect(),
            _ => (0..n).map(|_| (rng.below(2) * 255) as u8).collect(),
        };
        let lens = lens_of(&src);
        let codes = canonical_codes(&lens);
        let mut want: Vec<(u8, u32, u32)> = (0..256)
            .filter(|&s| lens[s] != 0)
            .map(|s| (s as u8, lens[s] as u32, reverse(codes[s], lens[s] as u32)))
            .collect();
        want.sort_by_key(|&(s, l, _)| (l, s));
        let (used, count, min_len) = used_codes(&lens);
        assert_eq!(&used[..count], &want[..], "round {round}");
        let shortest = want.iter().map(|w| w.1).min().unwrap_or(MAX_CODE_LEN);
        assert_eq!(min_len, shortest, "round {round}");
    }
}

#[test]
fn pair_path_writes_the_same_bytes() {
    let mut rng = Rng(13);
    let mut planes: Vec<Vec<u8>> = vec![
        exponent_plane(&mut rng, 131072),
        exponent_plane(&mut rng, PAIR_MIN_LEN + 13),
        (0..70_001).map(|_| (rng.below(64) * 4) as u8).collect(),
        vec![7; 40_000],
    ];
    // Long codes in clusters: the split-store branch.
    let mut skew: Vec<u8> = (0..100_000)
        .map(|_| {
            if rng.below(50) == 0 {
                1 + rng.below(60) as u8
            } else {
                0
            }
        })
        .collect();
    for i in (0..skew.len()).step_by(997) {
        for b in &mut skew[i..(i + 16).min(100_000)] {
            *b = 1 + rng.below(60) as u8;
        }
    }
    planes.push(skew);
    let mut wide = 0;
    for src in &planes {
        let hist = histogram(src);
        let plan = Plan::new(&hist).unwrap();
        // Planes of short codes take the sixteen-symbol path (the skewed one with its
        // clusters of long codes, too: its split-store branch).
        wide += usize::from(plan.size as u64 * 8 <= WIDE_MAX_BITS * src.len() as u64);
        let mut a = vec![0u8; plan.size + 8];
        let mut b = vec![0u8; plan.size + 8];
        encode_with(src, &plan, &mut a, true);
        encode_with(src, &plan, &mut b, false);
        assert!(a[..plan.size] == b[..plan.size], "n={}", src.len());
        let mut back = vec![0u8; src.len()];
        decode(&a[..plan.size], &mut back).unwrap();
        assert!(&back == src);
    }
    assert!(wide >= 2 && wide < planes.len(), "{wide} wide planes");
}

fn corrupt_checks(rng: &mut Rng, src: &[u8]) {
    let hist = histogram(src);
    let mut enc = Vec::new();
    encode(src, &hist, &mut enc);
    let mut out = vec![0u8; src.len()];
    for cut in 0..enc.len() {
        assert!(decode(&enc[..cut], &mut out).is_err(), "truncated at {cut}");
    }
    let mut longer = enc.clone();
    longer.push(0);
    assert!(decode(&longer, &mut out).is_err());
    for _ in 0..200 {
        let mut bad = enc.clone();
        let flips = 1 + rng.below(3);
        for _ in 0..flips {
            let i = rng.below(bad.len() as u64) as usize;
            bad[i] ^= 1 << rng.below(8);
        }
        let _ = decode(&bad, &mut out);
        assert_eq!(out.len(), src.len());
    }
    if src.len() > 1 {
        let mut short = vec![0u8; src.len() - 1];
        let _ = decode(&enc, &mut short);
    }
    let mut long = vec![0u8; src.len() + 1];
    let _ = decode(&enc, &mut long);
}

#[test]
fn corruption_never_panics() {
    let mut rng = Rng(6);
    for iter in 0..150 {
        let n = 1 + rng.below(if iter % 10 == 0 { 5000 } else { 300 }) as usize;
        let kind = rng.below(4);
        let src: Vec<u8> = match kind {
            0 => (0..n).map(|_| rng.next() as u8).collect(),
            1 => exponent_plane(&mut rng, n),
            2 => (0..n).map(|_| (rng.below(3)) as u8).collect(),
            _ => vec![9; n],
        };
        corrupt_checks(&mut rng, &src);
    }
}

#[test]
fn random_bytes_never_panic() {
    let mut rng = Rng(8);
    for _ in 0..20000 {
        let len = rng.below(300) as usize;
        let mut src: Vec<u8> = (0..len).map(|_| rng.next() as u8).collect();
        if len >= 2 && rng.below(2) == 0 {
            // Plausible symbol range so more inputs get past the header checks.
            src[0] = rng.below(4) as u8;
            src[1] = src[0] + rng.below(4) as u8;
        }
        let mut dst = vec![0u8; rng.below(1000) as usize];
        let _ = decode(&src, &mut dst);
    }
}

/// A plane of `plen` random stream bytes behind a valid code header `header`, with three
/// random stream sizes (anywhere up to a little past the bytes there are).
fn random_streams(header: &[u8], plen: usize, rng: &mut Rng) -> Vec<u8> {
    let mut v = header.to_vec();
    for _ in 0..3 {
        let s = rng.below(plen as u64 * 8 / 3 + 2) as u32;
        v.extend_from_slice(&s.to_le_bytes());
    }
    v.extend((0..plen).map(|_| rng.next() as u8));
    v
}

#[test]
fn valid_header_random_streams_never_panic() {
    // A valid code header followed by random stream sizes and bits.
    let mut rng = Rng(9);
    let base: Vec<u8> = exponent_plane(&mut rng, 3000);
    let hist = histogram(&base);
    let mut enc = Vec::new();
    encode(&base, &hist, &mut enc);
    let (min, max) = symbol_range(&hist).unwrap();
    let h = 2 + (max - min + 1).div_ceil(2);
    for _ in 0..3000 {
        let plen = rng.below(2000) as usize;
        let v = random_streams(&enc[..h], plen, &mut rng);
        let mut dst = vec![0u8; rng.below(5000) as usize];
        let _ = decode(&v, &mut dst);
    }
}

#[test]
fn fast_paths_decode_as_one_symbol_at_a_time() {
    // The multi-symbol lookups of the fast rounds and of the streams' last symbols give
    // the same bytes and the same result as single-symbol lookups one at a time, on valid
    // planes of every kind, with bits flipped, and as random streams behind a valid header
    // (stream sizes anywhere, so streams overrun each other or stop short).
    let mut rng = Rng(22);
    let check = |src: &[u8], n: usize, what: &str| {
        let (mut a, mut b) = (vec![0x5Au8; n], vec![0x5Au8; n]);
        let ra = decode(src, &mut a);
        let rb = decode_one_at_a_time(src, &mut b);
        assert_eq!(ra, rb, "{what}");
        assert!(a == b, "{what}");
    };
    for round in 0..120 {
        let n = 1 + rng.below(if round % 4 == 0 { 70_000 } else { 3000 }) as usize;
        let src: Vec<u8> = match round % 4 {
            0 | 1 => exponent_plane(&mut rng, n),
            2 => (0..n).map(|_| rng.next() as u8).collect(),
            _ => (0..n).map(|_| (rng.below(3) * 40) as u8).collect(),
        };
        let mut enc = Vec::new();
        encode(&src, &histogram(&src), &mut enc);
        check(&enc, n, "valid");
        for _ in 0..20 {
            let mut bad = enc.clone();
            let i = rng.below(bad.len() as u64) as usize;
            bad[i] ^= 1 << rng.below(8);
            check(&bad, n, "flipped");
        }
        let (min, max) = symbol_range(&histogram(&src)).unwrap();
        let h = 2 + (max - min + 1).div_ceil(2);
        if min == max {
            continue;
        }
        for _ in 0..10 {
            let plen = rng.below(4000) as usize;
            let v = random_streams(&enc[..h], plen, &mut rng);
            check(&v, rng.below(20_000) as usize, "random streams");
        }
    }
}

#[test]
fn streams_of_different_lengths_round_trip() {
    // Quarters of very different code lengths: the streams end their fast rounds at different
    // times, so the decoder goes on with three, two and then one of them interleaved.
    let mut rng = Rng(14);
    for n in [4 * 4096usize, 4 * 30_000 + 3, 262_144] {
        let q = n.div_ceil(4);
        let src: Vec<u8> = (0..n)
            .map(|i| match i / q {
                // Rare symbols (long codes), short codes, a mix, short codes again.
                0 => 10 + rng.below(200) as u8,
                1 => rng.below(2) as u8,
                2 => {
                    if rng.below(4) == 0 {
                        10 + rng.below(200) as u8
                    } else {
                        rng.below(2) as u8
                    }
                }
                _ => rng.below(3) as u8,
            })
            .collect();
        round_trip(&src);
    }
}

#[test]
fn plan_below_equals_the_plan_filtered_by_its_limit() {
    let mut rng = Rng(11);
    for n in [1usize, 2, 5, 40, 100, 384, 1536, 4096, 16384, 70000] {
        let planes: [Vec<u8>; 4] = [
            exponent_plane(&mut rng, n),
            (0..n).map(|_| rng.next() as u8).collect(),
            (0..n).map(|_| (rng.next() % 3) as u8 * 40).collect(),
            (0..n).map(|_| (rng.next() % 200) as u8 | 0x20).collect(),
        ];
        for plane in &planes {
            let hist = histogram(plane);
            let size = Plan::new(&hist).map(|p| p.size);
            // Limits around the plan's own size (where the bound must not refuse a plan
            // that fits) and the usual ones.
            let mut limits = vec![1, n, n - n / 256, n * 95 / 100, 2 * n + 200];
            if let Some(s) = size {
                limits.extend([s.saturating_sub(1), s, s + 1]);
            }
            for limit in limits {
                let want = size.filter(|&s| s < limit);
                let got = Plan::below(&hist, n, limit).map(|p| p.size);
                assert_eq!(got, want, "n={n} limit={limit}");
            }
        }
    }
    assert!(Plan::below(&[0; 256], 0, 10).is_none());
}

#[test]
fn warming_decodes_the_same_and_asks_for_the_bytes() {
    let mut rng = Rng(11);
    // An exponent plane (several symbols per lookup) and near-uniform bytes (one).
    let planes = [
        exponent_plane(&mut rng, 131072),
        (0..131072).map(|_| rng.next() as u8).collect::<Vec<u8>>(),
    ];
    let raw: Vec<u8> = (0..131072).map(|i| i as u8).collect();
    for src in planes {
        let mut enc = Vec::new();
        encode(&src, &histogram(&src), &mut enc);
        for len in [0, 1, 100, 131072] {
            let mut warm = &raw[..len];
            let mut back = vec![0u8; src.len()];
            decode_warming(&enc, &mut back, &mut warm).expect("decode");
            assert!(back == src);
            // Every byte of a raw plane as long as the coded one is asked for.
            assert!(warm.is_empty(), "{len}: {} left", warm.len());
        }
        // A damaged payload gives the same error with or without the bytes to warm.
        let mut bad = enc.clone();
        bad.truncate(enc.len() - 1);
        let mut back = vec![0u8; src.len()];
        let mut warm = &raw[..];
        assert_eq!(
            decode_warming(&bad, &mut back, &mut warm),
            decode(&bad, &mut back)
        );
    }
}

#[test]
fn pair_decodes_as_one_after_the_other() {
    // Planes decoded two at a time against one after the other: long planes of different
    // codes and of the same code, short ones, one symbol, empty, streams that end at
    // different times; intact, truncated, lengthened and with flipped bits; output
    // lengths that do not match. The same result, and on success the same bytes.
    let mut rng = Rng(21);
    let mut planes: Vec<Vec<u8>> = vec![
        exponent_plane(&mut rng, 131072),
        exponent_plane(&mut rng, 40_001),
        (0..65_536).map(|_| rng.next() as u8).collect(),
        (0..20_000).map(|_| rng.below(3) as u8).collect(),
        exponent_plane(&mut rng, 3000),
        vec![7; 9000],
        Vec::new(),
    ];
    let uneven: Vec<u8> = (0..50_000)
        .map(|i| {
            if i < 12_500 {
                10 + rng.below(200) as u8
            } else {
                rng.below(2) as u8
            }
        })
        .collect();
    planes.push(uneven);
    let coded: Vec<Vec<u8>> = planes
        .iter()
        .map(|p| {
            let mut enc = Vec::new();
            encode(p, &histogram(p), &mut enc);
            enc
        })
        .collect();
    // Each payload, intact and damaged, with the output length it decodes to.
    let mut cases: Vec<(Vec<u8>, usize)> = Vec::new();
    for (p, enc) in planes.iter().zip(&coded) {
        cases.push((enc.clone(), p.len()));
        if enc.is_empty() {
            continue;
        }
        cases.push((enc[..enc.len() - 1].to_vec(), p.len()));
        let mut longer = enc.clone();
        longer.push(0);
        cases.push((longer, p.len()));
        for _ in 0..3 {
            let mut bad = enc.clone();
            let i = rng.below(bad.len() as u64) as usize;
            bad[i] ^= 1 << rng.below(8);
            cases.push((bad, p.len()));
        }
        cases.push((enc.clone(), p.len() + 1));
    }
    let raw: Vec<u8> = (0..140_000).map(|i| i as u8).collect();
    for (a, na) in &cases {
        for (b, nb) in &cases {
            // Only a sample of the damaged-by-damaged combinations.
            if rng.below(4) != 0 && a != &coded[0] && b != &coded[0] {
                continue;
            }
            let (mut wa, mut wb) = (vec![0x11u8; *na], vec![0x22u8; *nb]);
            let want = decode(a, &mut wa).and_then(|()| decode(b, &mut wb));
            let (mut ga, mut gb) = (vec![0x11u8; *na], vec![0x22u8; *nb]);
            let (mut warm_a, mut warm_b) = (&raw[..*na], &raw[..*nb]);
            let got = decode_pair_warming(a, &mut ga, b, &mut gb, &mut warm_a, &mut warm_b);
            assert_eq!(got, want, "{} {} / {} {}", a.len(), na, b.len(), nb);
            if got.is_ok() {
                assert!(
                    ga == wa && gb == wb,
                    "{} {} / {} {}",
                    a.len(),
                    na,
                    b.len(),
                    nb
                );
            }
        }
    }
}

#[test]
fn pair_asks_for_both_planes_bytes() {
    let mut rng = Rng(22);
    let (pa, pb) = (
        exponent_plane(&mut rng, 131072),
        exponent_plane(&mut rng, 131072),
    );
    let (mut ea, mut eb) = (Vec::new(), Vec::new());
    encode(&pa, &histogram(&pa), &mut ea);
    encode(&pb, &histogram(&pb), &mut eb);
    let raw: Vec<u8> = (0..131072).map(|i| i as u8).collect();
    let (mut ga, mut gb) = (vec![0u8; pa.len()], vec![0u8; pb.len()]);
    let (mut warm_a, mut warm_b) = (&raw[..], &raw[..1000]);
    decode_pair_warming(&ea, &mut ga, &eb, &mut gb, &mut warm_a, &mut warm_b).unwrap();
    assert!(ga == pa && gb == pb);
    assert!(warm_a.is_empty() && warm_b.is_empty());
}
