//! Codec 9 (`sparse`, docs/FORMAT.md section 7.7): a plane that is mostly zero bytes, as
//! the gaps between its nonzero bytes and those bytes, two streams each coded raw, as a
//! run or with zipnn's Huffman code. The XOR of a fine-tune with its base is such a plane
//! where the weights moved little: zstd codes it as a sequence per nonzero byte, which is
//! slow to decode (a third of a delta archive's decoding time) and codes the gaps with
//! less care than an entropy coder of gap lengths.
//!
//! Payload: a 14-byte head (the gap stream's codec, the value stream's codec, the number
//! of gap symbols `g`, of values `v`, and the gap stream's payload size, u32 little-endian
//! each), the gap stream's payload, then the value stream's. Each nonzero byte of the
//! plane is preceded by the count of zero bytes since the previous one (or since the
//! start), written as that many 255s as fit (each: 255 zero bytes, no value) and then the
//! rest (0-254, followed by the value). Zero bytes after the last nonzero one are implied
//! by the plane's length.

use std::cell::RefCell;

use super::{code_chunk_plane, decode_plane, huffman, limit, Codec, Histogram, Role};
use crate::error::{Error, Result};
use crate::options::{Level, Method, Options};

/// Bytes before the two streams' payloads.
const HEAD: usize = 14;
/// A gap symbol that stands for 255 zero bytes and no value.
const ESCAPE: u8 = 255;

thread_local! {
    /// Per-thread buffers for the two streams (encoding: their symbols and one coded
    /// payload; decoding: their symbols), reused.
    static STREAMS: RefCell<(Vec<u8>, Vec<u8>, Vec<u8>)> =
        const { RefCell::new((Vec::new(), Vec::new(), Vec::new())) };
}

/// Runs `f` with this thread's stream buffers (fresh ones if they are in use).
fn with_streams<R>(f: impl FnOnce(&mut (Vec<u8>, Vec<u8>, Vec<u8>)) -> R) -> R {
    STREAMS.with(|s| match s.try_borrow_mut() {
        Ok(mut b) => f(&mut b),
        Err(_) => f(&mut (Vec::new(), Vec::new(), Vec::new())),
    })
}

/// Appends the gap symbols and the nonzero bytes of `plane` to `gaps` and `values`.
fn split(plane: &[u8], gaps: &mut Vec<u8>, values: &mut Vec<u8>) {
    let mut next = 0usize; // the position after the last nonzero byte
    let mut push = |p: usize, b: u8| {
        let mut gap = p - next;
        while gap >= ESCAPE as usize {
            gaps.push(ESCAPE);
            gap -= ESCAPE as usize;
        }
        gaps.push(gap as u8);
        values.push(b);
        next = p + 1;
    };
    // Eight bytes at a time: most words of a sparse plane are zero.
    let words = plane.chunks_exact(8);
    let tail_at = plane.len() - words.remainder().len();
    for (w, word) in words.enumerate() {
        let mut x = u64::from_le_bytes(word.try_into().unwrap_or([0; 8]));
        while x != 0 {
            let k = (x.trailing_zeros() / 8) as usize;
            push(8 * w + k, word[k]);
            x &= !(0xFFu64 << (8 * k));
        }
    }
    for (k, &b) in plane[tail_at..].iter().enumerate() {
        if b != 0 {
            push(tail_at + k, b);
        }
    }
}

/// Codes one stream at the end of `out`: a run, Huffman where it is shorter, else raw.
/// Returns its codec.
fn code_stream(s: &[u8], out: &mut Vec<u8>) -> Codec {
    let hist = super::histogram(s);
    if hist[s[0] as usize] as usize == s.len() {
        out.push(s[0]);
        return Codec::Run;
    }
    match huffman::Plan::new(&hist) {
        Some(p) if p.size < s.len() => {
            let start = out.len();
            out.resize(start + p.size + 8, 0);
            let w = huffman::encode_into(s, &p, &mut out[start..]);
            out.truncate(start + w);
            Codec::Huffman
        }
        _ => {
            out.extend_from_slice(s);
            Codec::Raw
        }
    }
}

/// Writes the sparse payload of `plane` at the start of `out` (at least `plane.len()`
/// bytes) if it is shorter than `bound` bytes, and returns its size. `None` for a plane
/// with no nonzero byte (a run).
pub(crate) fn encode_into(plane: &[u8], bound: usize, out: &mut [u8]) -> Option<usize> {
    with_streams(|(gaps, values, coded)| {
        gaps.clear();
        values.clear();
        coded.clear();
        split(plane, gaps, values);
        if values.is_empty() {
            return None;
        }
        coded.resize(HEAD, 0);
        let gc = code_stream(gaps, coded);
        let gap_size = coded.len() - HEAD;
        let vc = code_stream(values, coded);
        coded[0] = gc as u8;
        coded[1] = vc as u8;
        coded[2..6].copy_from_slice(&(gaps.len() as u32).to_le_bytes());
        coded[6..10].copy_from_slice(&(values.len() as u32).to_le_bytes());
        coded[10..14].copy_from_slice(&(gap_size as u32).to_le_bytes());
        let size = coded.len();
        if size >= bound || size > out.len() {
            return None;
        }
        out[..size].copy_from_slice(coded);
        Some(size)
    })
}

/// Appends the sparse payload of `plane` to `out` (whatever its size); false, with `out`
/// unchanged, for a plane with no nonzero byte.
pub fn encode(plane: &[u8], out: &mut Vec<u8>) -> bool {
    let start = out.len();
    out.resize(start + plane.len() + HEAD + 16, 0);
    match encode_into(plane, usize::MAX, &mut out[start..]) {
        Some(size) => {
            out.truncate(start + size);
            true
        }
        None => {
            out.truncate(start);
            false
        }
    }
}

/// Decodes a sparse payload into `dst`, whose length is the plane's. Any payload that is
/// not exactly one a valid encoder could write for some plane of that length is `Corrupt`
/// (except values of zero, which decode as zero bytes).
pub fn decode(src: &[u8], dst: &mut [u8]) -> Result<()> {
    let n = dst.len();
    if src.len() < HEAD {
        return Err(Error::Corrupt);
    }
    let le = |at: usize| u32::from_le_bytes([src[at], src[at + 1], src[at + 2], src[at + 3]]);
    let (g, v, gap_size) = (le(2) as usize, le(6) as usize, le(10) as usize);
    // At least one value; a value per gap symbol that is not an escape, and each escape
    // stands for 255 of the plane's bytes, so there are at most `n` of either.
    if v == 0 || v > g || v > n || g > n || gap_size > src.len() - HEAD {
        return Err(Error::Corrupt);
    }
    let stream_codec = |b: u8| match Codec::from_code(b) {
        Ok(c @ (Codec::Raw | Codec::Run | Codec::Huffman)) => Ok(c),
        _ => Err(Error::Corrupt),
    };
    let (gc, vc) = (stream_codec(src[0])?, stream_codec(src[1])?);
    let (gp, vp) = src[HEAD..].split_at(gap_size);
    with_streams(|(gaps, values, _)| {
        gaps.resize(g, 0);
        values.resize(v, 0);
        let (gaps, values) = (&mut gaps[..g], &mut values[..v]);
        decode_plane(gc, gp, gaps)?;
        decode_plane(vc, vp, values)?;
        if gaps[g - 1] == ESCAPE {
            return Err(Error::Corrupt);
        }
        dst.fill(0);
        scatter(gaps, values, dst)
    })
}

/// Writes `values` into `dst` (all zero) after the gaps `gaps` codes.
fn scatter(gaps: &[u8], values: &[u8], dst: &mut [u8]) -> Result<()> {
    let n = dst.len();
    let mut at = 0usize;
    let mut next = values.iter();
    for &g in gaps {
        at += g as usize;
        if g == ESCAPE {
            if at >= n {
                return Err(Error::Corrupt);
            }
            continue;
        }
        match (dst.get_mut(at), next.next()) {
            (Some(d), Some(&b)) => *d = b,
            _ => return Err(Error::Corrupt),
        }
        at += 1;
    }
    if next.next().is_some() {
        return Err(Error::Corrupt);
    }
    Ok(())
}

/// Planes with at least this share of zero bytes, in 1/16ths, are tried as sparse.
const SPARSE_FROM_16THS: usize = 11;

/// [`code_chunk_plane`] for a plane of a delta frame (`input XOR base`): where most of its bytes
/// are zero (at least 11/16), also tried as sparse (codec 9) at the default and max levels
/// of method `auto`, which keeps the smaller. At the default level a sparse payload no
/// longer than an eighth of the plane, which no order-0 code reaches (at least one bit a
/// byte), is kept without trying the others (zstd came out smaller on 2% of the planes of
/// the MiniLM fine-tunes, by 0.05% of their size).
pub(crate) fn code_xor_plane(
    plane: &[u8],
    hist: Option<&Histogram>,
    opts: &Options,
    role: Role,
    alone: bool,
    out: &mut [u8],
) -> (Codec, usize) {
    let code_plane = |out: &mut [u8]| code_chunk_plane(plane, hist, opts, role, alone, out);
    let n = plane.len();
    let tried = opts.method == Method::Auto && matches!(opts.level, Level::Default | Level::Max);
    if !tried || n < 64 {
        return code_plane(out);
    }
    let zeros = match hist {
        Some(h) => h[0] as usize,
        None => plane.iter().filter(|&&b| b == 0).count(),
    };
    if zeros * 16 < n * SPARSE_FROM_16THS || zeros == n {
        return code_plane(out);
    }
    let keep = limit(n, opts, role);
    let Some(sparse) = encode_into(plane, keep, out) else {
        return code_plane(out);
    };
    if opts.level == Level::Default && sparse <= n / 8 {
        return (Codec::Sparse, sparse);
    }
    // The others are coded into `out` too: the sparse payload is made again if it wins.
    let (codec, size) = code_plane(out);
    if sparse < size {
        let again = encode_into(plane, keep, out);
        debug_assert_eq!(again, Some(sparse));
        return (Codec::Sparse, sparse);
    }
    (codec, size)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `n` bytes of which about one in `every` is nonzero (values skewed to small ones),
    /// with a long zero stretch in the middle.
    fn sparse_plane(n: usize, every: u64, seed: u64) -> Vec<u8> {
        let mut s = seed;
        (0..n)
            .map(|i| {
                let r = crate::test_rng::step(&mut s);
                if (n / 3..n / 3 + 2000).contains(&i) || r % every != 0 {
                    0
                } else {
                    [1u8, 1, 1, 2, 3, 7, 128, 255][(r >> 20) as usize % 8]
                }
            })
            .collect()
    }

    #[test]
    fn round_trips_at_every_density_and_length() {
        for n in [1usize, 7, 8, 9, 255, 256, 257, 1000, 65536 + 3] {
            for every in [1u64, 2, 5, 40, 300, 5000] {
                let plane = sparse_plane(n, every, n as u64 * 31 + every);
                let mut out = Vec::new();
                if !encode(&plane, &mut out) {
                    assert!(plane.iter().all(|&b| b == 0));
                    continue;
                }
                let mut back = vec![0xA5u8; n];
                decode(&out, &mut back).unwrap();
                assert_eq!(back, plane, "n={n} every={every}");
            }
        }
        // Nonzero bytes at the very ends, and gaps of exactly 254, 255 and 510.
        let mut plane = vec![0u8; 2000];
        for p in [0usize, 255, 511, 1022, 1999] {
            plane[p] = 9;
        }
        let mut out = Vec::new();
        assert!(encode(&plane, &mut out));
        let mut back = vec![1u8; 2000];
        decode(&out, &mut back).unwrap();
        assert_eq!(back, plane);
    }

    #[test]
    fn streams_take_the_smallest_coding() {
        // One value repeated (a run), gaps all different (raw or Huffman).
        let mut plane = vec![0u8; 4096];
        for k in 0..60 {
            plane[k * (k + 3)] = 5;
        }
        let mut out = Vec::new();
        assert!(encode(&plane, &mut out));
        assert_eq!(out[1], Codec::Run as u8);
        let mut back = vec![0u8; 4096];
        decode(&out, &mut back).unwrap();
        assert_eq!(back, plane);
        // Mostly small gaps of a skewed law: Huffman.
        let plane = sparse_plane(100_000, 20, 7);
        out.clear();
        assert!(encode(&plane, &mut out));
        assert_eq!(out[0], Codec::Huffman as u8);
        assert_eq!(out[1], Codec::Huffman as u8);
        // All zero: nothing to code.
        out.clear();
        assert!(!encode(&[0u8; 100], &mut out));
        assert!(out.is_empty());
    }

    #[test]
    fn bad_payloads_are_errors_never_panics() {
        let plane = sparse_plane(5000, 30, 3);
        let mut good = Vec::new();
        assert!(encode(&plane, &mut good));
        let mut dst = vec![0u8; 5000];
        // Truncated, extended, wrong plane length.
        for cut in 0..good.len() {
            assert!(decode(&good[..cut], &mut dst).is_err(), "cut {cut}");
        }
        let mut long = good.clone();
        long.push(0);
        assert!(decode(&long, &mut dst).is_err());
        // The plane's length is the frame's: a shorter plane that still holds the last
        // nonzero byte decodes (zeros after it are implied), one that does not is an error.
        let last = plane.iter().rposition(|&b| b != 0).unwrap();
        assert!(decode(&good, &mut vec![0u8; last]).is_err());
        let mut shorter = vec![0u8; last + 1];
        decode(&good, &mut shorter).unwrap();
        assert_eq!(shorter, plane[..last + 1]);
        // Counts and codecs out of range.
        for (at, v) in [
            (0usize, 3u8),
            (1, 10),
            (0, 9),
            (2, 0),
            (6, 0),
            (10, 0xFF),
            (13, 0x80),
        ] {
            let mut f = good.clone();
            f[at] = v;
            assert!(decode(&f, &mut dst).is_err(), "byte {at} = {v}");
        }
        // Every single bit flip: an error or some plane, never a panic.
        for i in 0..good.len() * 8 {
            let mut f = good.clone();
            f[i / 8] ^= 1 << (i % 8);
            let _ = decode(&f, &mut dst);
        }
        // A trailing escape, and an escape past the end.
        // Raw streams by hand: gaps [10, 255], one value.
        let mut hand = vec![0u8, 0, 2, 0, 0, 0, 1, 0, 0, 0, 2, 0, 0, 0];
        hand.extend_from_slice(&[10, 255, 1]);
        assert_eq!(decode(&hand, &mut vec![0u8; 600]), Err(Error::Corrupt));
        let mut hand = vec![0u8, 0, 2, 0, 0, 0, 1, 0, 0, 0, 2, 0, 0, 0];
        hand.extend_from_slice(&[255, 0, 1]);
        let mut d = vec![0u8; 256];
        decode(&hand, &mut d).unwrap();
        assert_eq!(d[255], 1);
        assert_eq!(decode(&hand, &mut vec![0u8; 255]), Err(Error::Corrupt));
    }

    #[test]
    fn delta_frames_code_sparse_planes_in_version_2_only() {
        use crate::options::DType;
        // A bf16 base and a fine-tune that moved one element in 40 by a few ulps.
        let mut s = 0x2545_F491_4F6C_DD1Du64;
        let base: Vec<u8> = (0..700_000)
            .flat_map(|_| {
                let r = crate::test_rng::step(&mut s);
                (0x3C00u16 | (r as u16 & 0x03FF) | ((r >> 20) as u16 & 0x8000)).to_le_bytes()
            })
            .collect();
        let mut ft = base.clone();
        for k in (0..ft.len()).step_by(80) {
            ft[k] ^= 1 + (k as u8 & 3);
        }
        let opts = Options::new(DType::Bf16);
        let frame = crate::compress_delta(&ft, &base, &opts).unwrap();
        let f = crate::frame::Frame::parse(&frame).unwrap();
        // Automatic chunks of a delta frame are 1 MiB; a plain frame's 256 KiB.
        assert_eq!(f.header().chunk_size, crate::delta::CHUNK_SIZE);
        let codecs: Vec<Codec> = (0..f.chunk_count())
            .flat_map(|i| f.planes(i).map(|p| p.codec))
            .collect();
        assert!(codecs.contains(&Codec::Sparse), "{codecs:?}");
        assert!(frame.len() <= crate::compress_bound(ft.len(), &opts).unwrap());
        assert!(crate::decompress_delta(&frame, &base).unwrap() == ft);
        let plain = crate::compress(&ft, &opts).unwrap();
        let p = crate::frame::Frame::parse(&plain).unwrap();
        assert_eq!(p.header().chunk_size, 256 * 1024);
        // An explicit chunk size is kept.
        let small = Options {
            chunk_size: 64 * 1024,
            ..opts.clone()
        };
        let frame64 = crate::compress_delta(&ft, &base, &small).unwrap();
        let f64k = crate::frame::Frame::parse(&frame64).unwrap();
        assert_eq!(f64k.header().chunk_size, 64 * 1024);
        assert!(crate::decompress_delta(&frame64, &base).unwrap() == ft);
        // Codec 9 in a frame of version 1 is not a codec of that version.
        let v1 = super::super::tests::as_version_1(&frame);
        assert_eq!(
            crate::decompress_delta(&v1, &base),
            Err(Error::UnsupportedCodec)
        );
    }

    #[test]
    fn xor_planes_choose_sparse_only_where_it_is_smaller() {
        let opts = Options::default();
        let plane = sparse_plane(131072, 50, 11);
        let mut out = vec![0u8; plane.len()];
        let (codec, size) = code_xor_plane(&plane, None, &opts, Role::Main, true, &mut out);
        assert_eq!(codec, Codec::Sparse);
        let mut back = vec![0u8; plane.len()];
        decode_plane(codec, &out[..size], &mut back).unwrap();
        assert_eq!(back, plane);
        // Dense planes and the fast level keep the usual choice.
        let dense = sparse_plane(131072, 2, 12);
        let (codec, _) = code_xor_plane(&dense, None, &opts, Role::Main, true, &mut out);
        assert_ne!(codec, Codec::Sparse);
        let fast = Options {
            level: Level::Fast,
            ..Options::default()
        };
        let (codec, _) = code_xor_plane(&plane, None, &fast, Role::Main, true, &mut out);
        assert_eq!(codec, Codec::Huffman);
        // Level max keeps the smaller of sparse and the rest.
        let max = Options {
            level: Level::Max,
            ..Options::default()
        };
        let (codec, size) = code_xor_plane(&plane, None, &max, Role::Main, true, &mut out);
        decode_plane(codec, &out[..size], &mut back).unwrap();
        assert_eq!(back, plane);
        let mut sparse = Vec::new();
        assert!(encode(&plane, &mut sparse));
        assert!(size <= sparse.len());
    }
}
