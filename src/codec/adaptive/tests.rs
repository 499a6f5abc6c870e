use super::*;

fn rng(seed: &mut u64) -> u64 {
    crate::test_rng::step(seed)
}

/// Exponent-like bytes (a few values, skewed) and, per element, a byte that depends on
/// them (its top bits follow the exponent), as the first two planes of small fp32 tensors.
fn planes(n: usize) -> Vec<u8> {
    let mut seed = 0x0123_4567_89AB_CDEFu64;
    let mut exp = Vec::with_capacity(n);
    let mut top = Vec::with_capacity(n);
    for _ in 0..n {
        let r = rng(&mut seed);
        let e = 120 + (r % 4) as u8 + ((r >> 8) % 3) as u8 * ((r >> 12) % 2) as u8;
        exp.push(e);
        top.push(((e & 3) << 5) | ((r >> 20) as u8 & 0x1F));
    }
    [exp, top].concat()
}

fn round_trip(src: &[u8], k: usize) -> Vec<u8> {
    let mut out = vec![0xEE];
    let size = encode(src, k, usize::MAX, &mut out).unwrap();
    assert_eq!(size, out.len() - 1);
    let mut back = vec![0u8; src.len()];
    decode(&out[1..], &mut back).unwrap();
    assert_eq!(back, src, "k={k}");
    out.remove(0);
    out
}

#[test]
fn round_trips() {
    let mut seed = 7u64;
    let uniform: Vec<u8> = (0..20_000).map(|_| rng(&mut seed) as u8).collect();
    let skewed: Vec<u8> = (0..20_000)
        .map(|_| {
            let r = rng(&mut seed);
            (r % 5) as u8 * ((r >> 9) % 3) as u8
        })
        .collect();
    let every: Vec<u8> = (0..=255u8).collect();
    for (src, k) in [
        (&[][..], 1),
        (&[9][..], 1),
        (&every[..], 1),
        (&every[..], 8),
        (&uniform[..], 1),
        (&uniform[..], 4),
        (&skewed[..], 1),
        (&skewed[..], 2),
        (&skewed[..], 5),
        (&planes(10_000)[..], 2),
    ] {
        round_trip(src, k);
    }
    // Every mode on every byte value, and coded segments around stored ones.
    let both: Vec<u8> = every.iter().chain(every.iter().rev()).copied().collect();
    for limit in 1..=8 {
        for start in 0..4 {
            for modes in [
                [mode(limit, start, false), mode(limit, start, true)],
                [0, mode(limit, start, true)],
                [mode(limit, start, false), 0],
            ] {
                let mut out = Vec::new();
                encode_with(&both, &modes, &mut out);
                let mut back = vec![0u8; both.len()];
                decode(&out, &mut back).unwrap();
                assert_eq!(back, both, "{modes:?}");
            }
        }
    }
    // Random bytes are stored: the payload is the bytes and three header bytes... one per
    // segment and the count.
    assert_eq!(round_trip(&uniform, 4).len(), uniform.len() + 5);
    assert_eq!(round_trip(&[], 1), [1, 0]);
    // A bound the estimate reaches: nothing is written.
    let mut out = vec![7];
    assert_eq!(encode(&skewed, 1, 1000, &mut out), None);
    assert_eq!(out, [7]);
    let size = round_trip(&skewed, 1).len();
    assert_eq!(encode(&skewed, 1, size + 64, &mut out), Some(size));
}

#[test]
fn integer_logarithms() {
    assert_eq!(log2_q16(1), 0);
    assert_eq!(log2_q16(2), 1 << 16);
    assert_eq!(log2_q16(4096), 12 << 16);
    // log2(3) = 1.5849625..., log2(10) = 3.3219280...
    assert_eq!(log2_q16(3), 103_872);
    assert_eq!(log2_q16(10), 217_705);
    assert_eq!(COST[4096], 0);
    assert_eq!(COST[2048], 1 << 16);
}

#[test]
fn adapts_and_uses_context() {
    // Skewed bytes code below their length; the second plane, near random alone (5 of its
    // 7 bits), codes with the first as context below what it codes alone.
    let src = planes(8_000);
    let alone = round_trip(&src[8_000..], 1).len();
    let joined = round_trip(&src, 2);
    assert_eq!(joined[2] & CONTEXT, CONTEXT, "modes {:?}", &joined[1..3]);
    let first = round_trip(&src[..8_000], 1).len();
    assert!(
        joined.len() + 300 < first + alone,
        "{} {first} {alone}",
        joined.len()
    );
    // Bytes whose statistics change along the input (three values at a time, twelve in
    // all): an adaptive model follows them, near log2(3) bits a byte, where one table for
    // the whole input needs log2(12) (7 170 bytes).
    let drift: Vec<u8> = (0..16_000u32)
        .map(|i| (i / 4000) as u8 * 16 + (i % 3) as u8)
        .collect();
    assert!(round_trip(&drift, 1).len() < 16_000 / 4);
}

#[test]
fn malformed_payloads_are_corrupt() {
    let mut dst = [0u8; 8];
    for bad in [
        &[][..],                                // no count
        &[0][..],                               // no segment
        &[9, 0, 0, 0, 0, 0, 0, 0, 0, 0][..],    // more than eight
        &[3, 0, 0, 0][..],                      // 3 does not divide 8
        &[1][..],                               // no mode
        &[1, 0x80][..],                         // a mode bit that must be zero
        &[1, 0x01][..],                         // a coded mode without its bit
        &[2, 0, 0x60][..],                      // context with no stream is still short
        &[1, mode(3, 0, true)][..],             // context on the first segment
        &[1, 0, 1, 2, 3, 4, 5, 6, 7][..],       // one stored byte short
        &[1, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9][..], // a byte after the stored segment
        &[1, mode(3, 0, false), 0, 0][..],      // a stream shorter than its first four bytes
    ] {
        assert_eq!(decode(bad, &mut dst), Err(Error::Corrupt), "{bad:?}");
    }
    let mut ok = vec![1, 0];
    ok.extend_from_slice(&[1, 2, 3, 4, 5, 6, 7, 8]);
    assert_eq!(decode(&ok, &mut dst), Ok(()));
    assert_eq!(dst, [1, 2, 3, 4, 5, 6, 7, 8]);
}

#[test]
fn every_truncation_and_bit_flip_is_caught_or_harmless() {
    let src = planes(300);
    let good = round_trip(&src, 2);
    assert!(good[1] != 0 && good[2] != 0, "both coded: {:?}", &good[..3]);
    let mut dst = vec![0u8; src.len()];
    for cut in 0..good.len() {
        assert_eq!(
            decode(&good[..cut], &mut dst),
            Err(Error::Corrupt),
            "cut {cut}"
        );
    }
    let mut longer = good.clone();
    longer.push(0);
    assert_eq!(decode(&longer, &mut dst), Err(Error::Corrupt));
    // A flipped bit is an error, or decodes to some bytes of the right length (the stream
    // cannot tell every change, and a limit the nodes never reach changes nothing): never a
    // panic, never a write past `dst`.
    let mut caught = 0;
    for at in 0..good.len() * 8 {
        let mut bad = good.clone();
        bad[at / 8] ^= 1 << (at % 8);
        let mut guarded = vec![0x5Au8; src.len() + 16];
        let r = decode(&bad, &mut guarded[..src.len()]);
        assert!(guarded[src.len()..].iter().all(|&b| b == 0x5A));
        if let Err(e) = r {
            assert_eq!(e, Error::Corrupt);
            caught += 1;
        }
    }
    // Most flips change the final state or where the stream ends.
    assert!(
        caught * 10 > good.len() * 8 * 9,
        "{caught} of {}",
        good.len() * 8
    );
}

#[test]
fn shifts_start_as_counts() {
    assert_eq!(
        [0u8, 1, 2, 5, 6, 13, 14, 254].map(shift_of),
        [1, 1, 2, 2, 3, 3, 4, 8]
    );
    assert_eq!(START.map(shift_of), [1, 3, 5, 8]);
}
