//! Streams (src/stream, docs/FORMAT.md section 11): push-style round trips with odd piece
//! sizes, the io adapters, random access against the full decode, damaged streams, and the
//! C ABI stream handles driven from Rust.

mod common;

use std::io::{Cursor, Read, Write};

use common::{make, Kind, Rng};
use zipnn::stream::{
    error_of, Compressor, Decompressor, Reader, StreamReader, Writer, DEFAULT_BLOCK_SIZE,
    MIN_BLOCK_SIZE, TRAILER_SIZE,
};
use zipnn::{DType, Error, Options};

/// Small blocks and chunks so that short inputs cross many chunk and block boundaries.
fn small_opts(dtype: DType) -> Options {
    Options {
        chunk_size: 1024,
        ..Options::new(dtype)
    }
}

/// A piece-size schedule: fixed sizes, or random ones when `piece == 0`.
struct Pieces {
    fixed: usize,
    rng: Rng,
}

impl Pieces {
    fn new(fixed: usize, seed: u64) -> Pieces {
        Pieces {
            fixed,
            rng: Rng(seed | 1),
        }
    }
    fn next(&mut self) -> usize {
        if self.fixed > 0 {
            self.fixed
        } else {
            1 + (self.rng.next() % 9000) as usize
        }
    }
}

/// Compresses with input pieces and output buffers of the given sizes (0 = random).
fn compress_pieces(data: &[u8], opts: &Options, block: u32, inp: usize, out: usize) -> Vec<u8> {
    let mut c = Compressor::new(opts, block).unwrap();
    let (mut ip, mut op) = (Pieces::new(inp, 11), Pieces::new(out, 13));
    let mut stream = Vec::new();
    let mut at = 0;
    while at < data.len() {
        let n = ip.next().min(data.len() - at);
        let mut piece = &data[at..at + n];
        while !piece.is_empty() {
            let mut buf = vec![0u8; op.next()];
            let (cn, wn) = c.compress(piece, &mut buf).unwrap();
            stream.extend_from_slice(&buf[..wn]);
            piece = &piece[cn..];
        }
        at += n;
    }
    loop {
        let mut buf = vec![0u8; op.next()];
        let (wn, done) = c.finish(&mut buf).unwrap();
        stream.extend_from_slice(&buf[..wn]);
        if done {
            break;
        }
    }
    assert!(c.is_done());
    assert_eq!(
        c.compress(b"x", &mut [0u8; 16]).unwrap_err(),
        Error::InvalidParam
    );
    stream
}

/// Decompresses with input pieces and output buffers of the given sizes (0 = random).
fn decompress_pieces(stream: &[u8], inp: usize, out: usize) -> zipnn::Result<Vec<u8>> {
    let mut d = Decompressor::new();
    let (mut ip, mut op) = (Pieces::new(inp, 17), Pieces::new(out, 19));
    let mut data = Vec::new();
    let mut at = 0;
    loop {
        let n = ip.next().min(stream.len() - at);
        let mut piece = &stream[at..at + n];
        loop {
            let mut buf = vec![0u8; op.next()];
            let (cn, wn) = d.decompress(piece, &mut buf)?;
            data.extend_from_slice(&buf[..wn]);
            piece = &piece[cn..];
            if piece.is_empty() && wn == 0 {
                break;
            }
        }
        at += n;
        if at == stream.len() {
            break;
        }
    }
    d.finish()?;
    assert!(d.is_done());
    Ok(data)
}

fn whole(data: &[u8], opts: &Options, block: u32) -> Vec<u8> {
    let mut w = Writer::new(Vec::new(), opts, block).unwrap();
    w.write_all(data).unwrap();
    w.finish().unwrap()
}

#[test]
fn piece_sizes_across_chunk_and_block_boundaries() {
    let data = make(DType::Bf16, Kind::Gaussian, 50_001, 1); // odd length: a tail byte
    let opts = small_opts(DType::Bf16);
    let block = 4096 + 2; // not a multiple of the chunk size
    let reference = whole(&data, &opts, block);
    for inp in [1, 7, 4093, 65537, 0] {
        for out in [1, 7, 4093, 65537, 0] {
            let s = compress_pieces(&data, &opts, block, inp, out);
            assert_eq!(s, reference, "compress in {inp} out {out}");
            let back = decompress_pieces(&s, inp, out).unwrap();
            assert_eq!(back, data, "decompress in {inp} out {out}");
        }
    }
}

#[test]
fn every_dtype_and_kind_round_trips() {
    for dtype in DType::ALL {
        for kind in [Kind::Gaussian, Kind::Random, Kind::Zero, Kind::Special] {
            for n in [0usize, 1, 3, 1023, 1024, 8191, 8192, 8193, 30_000] {
                let data = make(dtype, kind, n, n as u64 + 5);
                let opts = small_opts(dtype);
                let s = compress_pieces(&data, &opts, 8192, 0, 0);
                assert_eq!(
                    decompress_pieces(&s, 0, 0).unwrap(),
                    data,
                    "{dtype:?} {kind:?} {n}"
                );
                let mut r = StreamReader::open(Cursor::new(&s)).unwrap();
                assert_eq!(r.original_size(), data.len() as u64);
                assert_eq!(r.read_range(0, data.len()).unwrap(), data);
            }
        }
    }
}

#[test]
fn empty_input_is_a_64_byte_stream() {
    let s = compress_pieces(&[], &Options::default(), DEFAULT_BLOCK_SIZE, 1, 1);
    assert_eq!(s.len(), 16 + 8 + TRAILER_SIZE);
    assert_eq!(decompress_pieces(&s, 1, 1).unwrap(), Vec::<u8>::new());
    let mut r = StreamReader::open(Cursor::new(&s)).unwrap();
    assert_eq!(r.info().frame_count, 0);
    assert_eq!(r.read_range(0, 10).unwrap(), Vec::<u8>::new());
    assert_eq!(r.read_range(1, 1).unwrap_err(), Error::InvalidParam);
}

#[test]
fn exact_block_multiple_has_no_empty_frame() {
    let data = make(DType::Fp32, Kind::Gaussian, 3 * 4096, 3);
    let s = whole(&data, &small_opts(DType::Fp32), 4096);
    let r = StreamReader::open(Cursor::new(&s)).unwrap();
    assert_eq!(r.info().frame_count, 3);
    assert_eq!(decompress_pieces(&s, 0, 0).unwrap(), data);
}

#[test]
fn frames_are_listed_from_the_index() {
    let data = make(DType::Fp32, Kind::Gaussian, 3 * 4096 + 100, 3);
    let opts = small_opts(DType::Fp32);
    let s = whole(&data, &opts, 4096);
    let mut r = StreamReader::open(Cursor::new(&s)).unwrap();
    let mut at = 16;
    for i in 0..4 {
        let e = r.frame_entry(i).unwrap();
        assert_eq!(e.offset, at, "frame {i}");
        assert_eq!(e.original_size, if i < 3 { 4096 } else { 100 });
        let frame = &s[e.offset as usize..(e.offset + e.size) as usize];
        assert_eq!(
            zipnn::decompress(frame).unwrap(),
            &data[i * 4096..][..e.original_size as usize]
        );
        let h = r.frame_header(i).unwrap();
        assert_eq!((h.dtype, h.original_size), (DType::Fp32, e.original_size));
        // The last frame, of 100 bytes, is compact (docs/FORMAT.md 3.4).
        let cs = if i < 3 {
            opts.chunk_size as usize
        } else {
            zipnn::frame::COMPACT_CHUNK_SIZE
        };
        assert_eq!(h.chunk_size, cs);
        at += e.size;
    }
    assert_eq!(r.frame_entry(4), None);
    assert_eq!(r.frame_header(4).unwrap_err(), Error::NotFound);
    // A damaged fixed header is reported, not described.
    let mut bad = s.clone();
    bad[16 + 20] ^= 1;
    let mut r = StreamReader::open(Cursor::new(&bad)).unwrap();
    assert_eq!(r.frame_header(0).unwrap_err(), Error::Checksum);
}

#[test]
fn io_adapters_round_trip() {
    let data = make(DType::Fp16, Kind::Gaussian, 200_000, 4);
    let opts = small_opts(DType::Fp16);
    let mut w = Writer::new(Vec::new(), &opts, 16384).unwrap();
    for piece in data.chunks(777) {
        w.write_all(piece).unwrap();
    }
    w.flush().unwrap();
    let s = w.finish().unwrap();
    let mut back = Vec::new();
    Reader::new(&s[..]).read_to_end(&mut back).unwrap();
    assert_eq!(back, data);
    // Small reads.
    let mut r = Reader::new(&s[..]);
    let mut back = Vec::new();
    let mut buf = [0u8; 5];
    loop {
        let n = r.read(&mut buf).unwrap();
        if n == 0 {
            break;
        }
        back.extend_from_slice(&buf[..n]);
    }
    assert_eq!(back, data);
}

/// A source that gives at most a few bytes per read (sizes cycling through `sizes`), an
/// `Interrupted` every third call, and from byte `fail_at` on, errors only.
struct Trickle<'a> {
    src: &'a [u8],
    at: usize,
    calls: usize,
    sizes: &'a [usize],
    fail_at: usize,
}

impl Read for Trickle<'_> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        self.calls += 1;
        if self.calls % 3 == 0 {
            return Err(std::io::ErrorKind::Interrupted.into());
        }
        if self.at >= self.fail_at {
            return Err(std::io::Error::other("the source failed"));
        }
        let n = buf
            .len()
            .min(self.sizes[self.calls % self.sizes.len()])
            .min(self.src.len() - self.at)
            .min(self.fail_at - self.at);
        buf[..n].copy_from_slice(&self.src[self.at..self.at + n]);
        self.at += n;
        Ok(n)
    }
}

#[test]
fn reader_over_short_reads_and_frames_of_every_size() {
    // Blocks of zeros, weights and random bytes: frames far smaller and larger than the one
    // before, so that each structure is read over the bytes of a longer or shorter one.
    let block = 4096;
    let mut data = Vec::new();
    for i in 0..30u64 {
        let kind = [Kind::Zero, Kind::Gaussian, Kind::Random][(i % 3) as usize];
        data.extend(make(DType::Bf16, kind, block, i));
    }
    data.extend(make(DType::Bf16, Kind::Gaussian, 1000, 99)); // a short last block
    let s = whole(&data, &small_opts(DType::Bf16), block as u32);
    for sizes in [&[1usize][..], &[7, 1, 3000], &[100_000], &[5000, 2, 65_536]] {
        let src = Trickle {
            src: &s,
            at: 0,
            calls: 0,
            sizes,
            fail_at: usize::MAX,
        };
        let mut back = Vec::new();
        Reader::new(src).read_to_end(&mut back).unwrap();
        assert!(back == data, "reads of {sizes:?} bytes");
    }
    // A source that fails: the error comes out, after only exact bytes.
    for fail_at in [0, 10, 64, 5000, s.len() / 2, s.len() - 1] {
        let src = Trickle {
            src: &s,
            at: 0,
            calls: 0,
            sizes: &[3000],
            fail_at,
        };
        let mut r = Reader::new(src);
        let mut back = Vec::new();
        let e = r.read_to_end(&mut back).unwrap_err();
        assert_eq!(e.to_string(), "the source failed", "failing at {fail_at}");
        assert!(data.starts_with(&back), "failing at {fail_at}");
    }
}

#[test]
fn random_access_equals_the_full_decode() {
    let mut rng = Rng(77);
    for (dtype, n, block) in [
        (DType::Bf16, 100_001usize, 8192u32),
        (DType::Fp32, 65_536, 4100),
        (DType::Fp64, 40_003, MIN_BLOCK_SIZE),
        (DType::Uint8, 70_000, 65536),
    ] {
        let data = make(dtype, Kind::Gaussian, n, n as u64);
        let s = whole(&data, &small_opts(dtype), block);
        let mut r = StreamReader::open(Cursor::new(&s)).unwrap();
        assert_eq!(r.info().block_size, block);
        assert_eq!(r.info().stream_size, s.len() as u64);
        for _ in 0..300 {
            let a = (rng.next() % (n as u64 + 1)) as usize;
            let len = match rng.next() % 4 {
                0 => (rng.next() % 16) as usize,
                1 => (rng.next() % 3000) as usize,
                2 => (rng.next() % 40_000) as usize,
                _ => n,
            };
            let got = r.read_range(a as u64, len).unwrap();
            let b = (a + len).min(n);
            assert_eq!(got, &data[a..b], "{dtype:?} [{a}, {b})");
        }
        // Every frame boundary, each way.
        let bs = block as usize;
        for k in (0..n).step_by(bs).skip(1) {
            assert_eq!(r.read_range(k as u64 - 3, 6).unwrap(), &data[k - 3..k + 3]);
        }
        assert_eq!(
            r.read_range(n as u64 + 1, 1).unwrap_err(),
            Error::InvalidParam
        );
    }
}

/// The stream's first error when fed to the push decompressor in one piece.
fn push_error(s: &[u8]) -> Error {
    decompress_pieces(s, 0, 0).unwrap_err()
}

#[test]
fn truncated_streams_are_errors() {
    let data = make(DType::Bf16, Kind::Gaussian, 20_000, 8);
    let s = whole(&data, &small_opts(DType::Bf16), 4096);
    for cut in 0..s.len() {
        let t = &s[..cut];
        assert_eq!(
            decompress_pieces(t, 0, 0).unwrap_err(),
            Error::Truncated,
            "cut {cut}"
        );
        let e = StreamReader::open(Cursor::new(t)).unwrap_err();
        assert_ne!(e, Error::Io, "cut {cut}");
        let mut back = Vec::new();
        let e = Reader::new(t).read_to_end(&mut back).unwrap_err();
        assert_eq!(error_of(&e), Some(Error::Truncated));
    }
    // Bytes after the trailer.
    let mut longer = s.clone();
    longer.push(0);
    assert_eq!(push_error(&longer), Error::Corrupt);
}

#[test]
fn corrupted_streams_are_errors_never_panics() {
    let data = make(DType::Fp32, Kind::Gaussian, 12_000, 9);
    let s = whole(&data, &small_opts(DType::Fp32), 4096);
    // Every single byte flipped: push decoding and random access report an error (or, for
    // a byte no checksum covers, still give the right data).
    for i in 0..s.len() {
        let mut bad = s.clone();
        bad[i] ^= 0x40;
        if let Ok(back) = decompress_pieces(&bad, 0, 0) {
            panic!("flip at {i} accepted ({} bytes)", back.len());
        }
        if let Ok(mut r) = StreamReader::open(Cursor::new(&bad)) {
            // The header, index and trailer are intact: the damage is inside a frame.
            let got = r.read_range(0, data.len());
            assert!(got.is_err(), "flip at {i} read back");
        }
    }
    // Specific structures.
    let mut bad = s.clone();
    bad[0] = b'P';
    assert_eq!(push_error(&bad), Error::BadMagic);
    let mut bad = s.clone();
    bad[4] = 2;
    assert_eq!(push_error(&bad), Error::UnsupportedVersion);
    let mut bad = s.clone();
    bad[9] ^= 1; // block size, under the header checksum
    assert_eq!(push_error(&bad), Error::Checksum);
    let mut bad = s.clone();
    let n = bad.len();
    bad[n - 1] ^= 1; // end magic
    let e = StreamReader::open(Cursor::new(&bad)).unwrap_err();
    assert_eq!(e, Error::BadMagic);
    let mut bad = s.clone();
    bad[n - 30] ^= 1; // trailer field
    let e = StreamReader::open(Cursor::new(&bad)).unwrap_err();
    assert_eq!(e, Error::Checksum);
    // Garbage of many lengths.
    let mut rng = Rng(5);
    for len in 0..200 {
        let g: Vec<u8> = (0..len).map(|_| rng.next() as u8).collect();
        assert!(decompress_pieces(&g, 0, 0).is_err());
        assert!(StreamReader::open(Cursor::new(&g)).is_err());
    }
}

#[test]
fn a_frame_removed_or_swapped_is_caught() {
    let data = make(DType::Bf16, Kind::Gaussian, 3 * 4096, 10); // three 4096-byte blocks
    let s = whole(&data, &small_opts(DType::Bf16), 4096);
    let r = StreamReader::open(Cursor::new(&s)).unwrap();
    assert_eq!(r.info().frame_count, 3);
    let f0 = zipnn::frame_info(&s[16..]).unwrap().frame_size as usize;
    let f1 = zipnn::frame_info(&s[16 + f0..]).unwrap().frame_size as usize;
    // Drop frame 1.
    let mut cut = s[..16 + f0].to_vec();
    cut.extend_from_slice(&s[16 + f0 + f1..]);
    assert_eq!(push_error(&cut), Error::Corrupt);
    // Swap frames 0 and 1 (the same length or not, the index or content differs).
    let mut sw = s[..16].to_vec();
    sw.extend_from_slice(&s[16 + f0..16 + f0 + f1]);
    sw.extend_from_slice(&s[16..16 + f0]);
    sw.extend_from_slice(&s[16 + f0 + f1..]);
    if f0 != f1 {
        assert!(decompress_pieces(&sw, 0, 0).is_err());
    }
}

/// Stream offsets of every frame of `s` (a stream), from the stream header on.
fn frame_offsets(s: &[u8]) -> Vec<usize> {
    let r = StreamReader::open(Cursor::new(s)).unwrap();
    (0..r.info().frame_count as usize)
        .map(|i| r.frame_entry(i).unwrap().offset as usize)
        .collect()
}

#[test]
fn whole_frames_at_once_decode_as_frame_by_frame() {
    // Frames given whole with room for all of them (decoded together: every checksum first,
    // then all their chunks) against one piece at a time (frame by frame): the same bytes;
    // with a frame damaged, the same error, the frames before it written and the output
    // after them untouched; the same for random access over the whole range.
    let block = 4096;
    let data = make(DType::Bf16, Kind::Gaussian, 9 * block + 1001, 21);
    let s = whole(&data, &small_opts(DType::Bf16), block as u32);
    let offs = frame_offsets(&s);
    assert_eq!(offs.len(), 10);
    for threads in [1, 2, 0] {
        let dopts = zipnn::DecompressOptions {
            threads,
            max_size: 0,
        };
        let mut d = Decompressor::with_options(&dopts);
        let mut out = vec![0xAAu8; data.len() + 7];
        let (c, w) = d.decompress(&s, &mut out).unwrap();
        assert_eq!((c, w), (s.len(), data.len()), "threads {threads}");
        assert_eq!(&out[..w], &data[..]);
        assert_eq!(out[w..], [0xAA; 7]);
        d.finish().unwrap();
        let mut r = StreamReader::open(Cursor::new(&s)).unwrap();
        r.set_threads(threads);
        let mut back = vec![0u8; data.len()];
        assert_eq!(r.read_range_into(0, &mut back).unwrap(), data.len());
        assert_eq!(back, data);
        // A payload byte of frame `k` flipped.
        for k in [0usize, 1, 4, 9] {
            let mut bad = s.clone();
            bad[offs[k] + 200] ^= 0x10;
            let seq = decompress_pieces(&bad, 1, 1).unwrap_err();
            assert_eq!(seq, Error::Checksum, "frame {k}");
            let mut d = Decompressor::with_options(&dopts);
            let mut out = vec![0xAAu8; data.len()];
            assert_eq!(d.decompress(&bad, &mut out), Err(seq), "frame {k}");
            assert_eq!(&out[..k * block], &data[..k * block], "frame {k}");
            assert!(out[k * block..].iter().all(|&b| b == 0xAA), "frame {k}");
            let mut r = StreamReader::open(Cursor::new(&bad)).unwrap();
            r.set_threads(threads);
            let mut back = vec![0xAAu8; data.len()];
            assert_eq!(r.read_range_into(0, &mut back), Err(seq), "frame {k}");
            assert_eq!(&back[..k * block], &data[..k * block], "frame {k}");
            assert!(back[k * block..].iter().all(|&b| b == 0xAA), "frame {k}");
        }
        // The size limit passed in the middle of the frames: the frames under it given out.
        let limit = 3 * block as u64 + 10;
        let lim = zipnn::DecompressOptions {
            threads,
            max_size: limit,
        };
        let mut d = Decompressor::with_options(&lim);
        let mut out = vec![0xAAu8; data.len()];
        assert_eq!(d.decompress(&s, &mut out), Err(Error::LimitExceeded));
        assert_eq!(&out[..3 * block], &data[..3 * block]);
        assert!(out[3 * block..].iter().all(|&b| b == 0xAA));
        // Room for some frames only: those decoded at once, the rest as room comes.
        let mut d = Decompressor::with_options(&dopts);
        let mut got = Vec::new();
        let mut at = 0;
        while !d.is_done() {
            let mut out = vec![0u8; 3 * block + 100];
            let (c, w) = d.decompress(&s[at..], &mut out).unwrap();
            at += c;
            got.extend_from_slice(&out[..w]);
        }
        assert_eq!(got, data);
    }
}

#[test]
fn decompress_limit() {
    let data = make(DType::Bf16, Kind::Gaussian, 10_000, 12);
    let s = whole(&data, &small_opts(DType::Bf16), 4096);
    let opts = zipnn::DecompressOptions {
        threads: 1,
        max_size: 5_000,
    };
    let mut d = Decompressor::with_options(&opts);
    let mut out = vec![0u8; 30_000];
    assert_eq!(
        d.decompress(&s, &mut out).unwrap_err(),
        Error::LimitExceeded
    );
    // The error sticks.
    assert_eq!(
        d.decompress(&[], &mut out).unwrap_err(),
        Error::LimitExceeded
    );
    assert_eq!(d.finish().unwrap_err(), Error::LimitExceeded);
}

#[test]
fn bad_compressor_arguments() {
    let o = Options::default();
    assert_eq!(Compressor::new(&o, 0).unwrap_err(), Error::InvalidParam);
    assert_eq!(Compressor::new(&o, 1023).unwrap_err(), Error::InvalidParam);
    assert_eq!(
        Compressor::new(&o, (256 << 20) + 1).unwrap_err(),
        Error::InvalidParam
    );
    let bad = Options {
        chunk_size: 5,
        ..Options::default()
    };
    assert_eq!(
        Compressor::new(&bad, DEFAULT_BLOCK_SIZE).unwrap_err(),
        Error::InvalidParam
    );
    // Zero-sized output buffers still let input in until a block is full.
    let mut c = Compressor::new(&small_opts(DType::Raw), 2048).unwrap();
    assert_eq!(c.compress(&[1; 100], &mut []).unwrap(), (100, 0));
    let d = Decompressor::new();
    assert_eq!(d.finish().unwrap_err(), Error::Truncated);
}

mod capi {
    use super::*;
    use std::ffi::{c_int, c_void};
    use std::ptr::{null, null_mut};
    use zipnn::capi::*;

    fn opts_bf16() -> zipnn_options {
        zipnn_options {
            dtype: ZIPNN_DTYPE_BF16,
            chunk_size: 1024,
            ..Default::default()
        }
    }

    /// Compresses through a C stream context with `dst` buffers of `cap` bytes.
    fn c_compress(data: &[u8], block: usize, piece: usize, cap: usize) -> Vec<u8> {
        let mut cs: *mut zipnn_cstream = null_mut();
        assert_eq!(zipnn_cstream_new(&opts_bf16(), block, &mut cs), ZIPNN_OK);
        let mut out = Vec::new();
        let mut buf = vec![0u8; cap];
        for p in data.chunks(piece) {
            let mut at = 0;
            while at < p.len() {
                let (mut c, mut w) = (usize::MAX, usize::MAX);
                let s = zipnn_cstream_compress(
                    cs,
                    p[at..].as_ptr() as *const c_void,
                    p.len() - at,
                    &mut c,
                    buf.as_mut_ptr() as *mut c_void,
                    cap,
                    &mut w,
                );
                assert_eq!(s, ZIPNN_OK);
                out.extend_from_slice(&buf[..w]);
                at += c;
            }
        }
        loop {
            let (mut w, mut done): (usize, c_int) = (0, -1);
            let s =
                zipnn_cstream_finish(cs, buf.as_mut_ptr() as *mut c_void, cap, &mut w, &mut done);
            assert_eq!(s, ZIPNN_OK);
            out.extend_from_slice(&buf[..w]);
            if done == 1 {
                break;
            }
            assert_eq!(done, 0);
        }
        zipnn_cstream_free(cs);
        out
    }

    fn c_decompress(stream: &[u8], piece: usize, cap: usize) -> Result<Vec<u8>, zipnn_status> {
        let mut ds: *mut zipnn_dstream = null_mut();
        assert_eq!(zipnn_dstream_new(null(), &mut ds), ZIPNN_OK);
        let mut out = Vec::new();
        let mut buf = vec![0u8; cap];
        let mut res = Ok(());
        'outer: for p in stream.chunks(piece) {
            let mut at = 0;
            loop {
                let (mut c, mut w) = (0usize, 0usize);
                let s = zipnn_dstream_decompress(
                    ds,
                    p[at..].as_ptr() as *const c_void,
                    p.len() - at,
                    &mut c,
                    buf.as_mut_ptr() as *mut c_void,
                    cap,
                    &mut w,
                );
                if s != ZIPNN_OK {
                    res = Err(s);
                    break 'outer;
                }
                out.extend_from_slice(&buf[..w]);
                at += c;
                if at == p.len() && w == 0 {
                    break;
                }
            }
        }
        if res.is_ok() {
            let s = zipnn_dstream_finish(ds);
            if s != ZIPNN_OK {
                res = Err(s);
            }
        }
        zipnn_dstream_free(ds);
        res.map(|_| out)
    }

    #[test]
    fn c_round_trip_with_small_buffers() {
        let data = make(DType::Bf16, Kind::Gaussian, 40_001, 21);
        let reference = whole(&data, &small_opts(DType::Bf16), 4096);
        for (piece, cap) in [(1, 1), (7, 13), (4093, 100), (65537, 65537)] {
            let s = c_compress(&data, 4096, piece, cap);
            assert_eq!(s, reference, "piece {piece} cap {cap}");
            assert_eq!(c_decompress(&s, piece, cap).unwrap(), data);
        }
        assert_eq!(
            c_decompress(&reference[..reference.len() - 1], 100, 100).unwrap_err(),
            ZIPNN_ERROR_TRUNCATED
        );
        let mut bad = reference.clone();
        bad[30] ^= 1;
        assert!(c_decompress(&bad, 100, 100).is_err());
    }

    #[test]
    fn c_info_and_random_access() {
        let data = make(DType::Bf16, Kind::Gaussian, 50_000, 22);
        let s = c_compress(&data, 8192, 5000, 4096);
        let mut info = zipnn_stream_info {
            struct_size: std::mem::size_of::<zipnn_stream_info>() as u32,
            ..Default::default()
        };
        let sp = s.as_ptr() as *const c_void;
        assert_eq!(zipnn_get_stream_info(sp, s.len(), &mut info), ZIPNN_OK);
        assert_eq!(info.block_size, 8192);
        assert_eq!(info.frame_count, 7);
        assert_eq!(info.original_size, 50_000);
        assert_eq!(info.stream_size, s.len() as u64);
        assert_eq!(info.format_version, 1);
        let mut rng = Rng(3);
        let mut buf = vec![0u8; 20_000];
        for _ in 0..200 {
            let off = rng.next() % 50_001;
            let len = (rng.next() % 20_000) as usize;
            let mut w = usize::MAX;
            let st = zipnn_stream_decode_range(
                sp,
                s.len(),
                off,
                buf.as_mut_ptr() as *mut c_void,
                len,
                &mut w,
            );
            assert_eq!(st, ZIPNN_OK);
            let end = (off as usize + len).min(50_000);
            assert_eq!(w, end - off as usize);
            assert_eq!(&buf[..w], &data[off as usize..end]);
        }
        let mut w = 7usize;
        let bp = buf.as_mut_ptr() as *mut c_void;
        assert_eq!(
            zipnn_stream_decode_range(sp, s.len(), 50_001, bp, 1, &mut w),
            ZIPNN_ERROR_INVALID_PARAM
        );
        assert_eq!(w, 7, "out-param untouched on error");
        assert_eq!(
            zipnn_stream_decode_range(sp, s.len() - 1, 0, bp, 1, &mut w),
            ZIPNN_ERROR_BAD_MAGIC
        );
        assert_eq!(
            zipnn_stream_decode_range(sp, s.len(), 0, bp, 1, null_mut()),
            ZIPNN_ERROR_NULL_POINTER
        );
        assert_eq!(
            zipnn_stream_decode_range(null(), 5, 0, bp, 1, &mut w),
            ZIPNN_ERROR_NULL_POINTER
        );
        // Overlapping buffers.
        let mut copy = s.clone();
        let cp = copy.as_mut_ptr();
        assert_eq!(
            zipnn_stream_decode_range(
                cp as *const c_void,
                s.len(),
                0,
                cp as *mut c_void,
                10,
                &mut w
            ),
            ZIPNN_ERROR_INVALID_PARAM
        );
        // struct_size too small; info untouched on error.
        let mut small = zipnn_stream_info {
            struct_size: 4,
            ..Default::default()
        };
        assert_eq!(
            zipnn_get_stream_info(sp, s.len(), &mut small),
            ZIPNN_ERROR_INVALID_PARAM
        );
        assert_eq!(
            zipnn_get_stream_info(sp, s.len(), null_mut()),
            ZIPNN_ERROR_NULL_POINTER
        );
        let mut before = info;
        before.block_size = 1;
        let mut after = before;
        assert_eq!(
            zipnn_get_stream_info(sp, 10, &mut after),
            ZIPNN_ERROR_TRUNCATED
        );
        assert_eq!(after, before);
        // A shorter struct_size gets only its fields.
        let mut short = zipnn_stream_info {
            struct_size: 12,
            ..Default::default()
        };
        assert_eq!(zipnn_get_stream_info(sp, s.len(), &mut short), ZIPNN_OK);
        assert_eq!((short.block_size, short.frame_count), (8192, 0));
    }

    #[test]
    fn c_hostile_arguments() {
        zipnn_cstream_free(null_mut());
        zipnn_dstream_free(null_mut());
        assert_eq!(
            zipnn_cstream_new(null(), 0, null_mut()),
            ZIPNN_ERROR_NULL_POINTER
        );
        assert_eq!(
            zipnn_dstream_new(null(), null_mut()),
            ZIPNN_ERROR_NULL_POINTER
        );
        let mut cs: *mut zipnn_cstream = null_mut();
        assert_eq!(
            zipnn_cstream_new(null(), 5, &mut cs),
            ZIPNN_ERROR_INVALID_PARAM
        );
        assert_eq!(
            zipnn_cstream_new(null(), 1 << 40, &mut cs),
            ZIPNN_ERROR_INVALID_PARAM
        );
        assert!(cs.is_null(), "out untouched on error");
        let mut bad = zipnn_options {
            dtype: 99,
            ..Default::default()
        };
        assert_eq!(
            zipnn_cstream_new(&bad, 0, &mut cs),
            ZIPNN_ERROR_UNSUPPORTED_DTYPE
        );
        bad = zipnn_options::default();
        bad.reserved[0] = 1;
        assert_eq!(
            zipnn_cstream_new(&bad, 0, &mut cs),
            ZIPNN_ERROR_INVALID_PARAM
        );
        let mut ds: *mut zipnn_dstream = null_mut();
        assert_eq!(zipnn_dstream_new(&bad, &mut ds), ZIPNN_ERROR_INVALID_PARAM);

        let (mut c, mut w, mut done) = (0usize, 0usize, 0 as c_int);
        let mut buf = [0u8; 64];
        let bp = buf.as_mut_ptr() as *mut c_void;
        let src = [1u8; 10];
        let sp = src.as_ptr() as *const c_void;
        // NULL handles.
        assert_eq!(
            zipnn_cstream_compress(null_mut(), sp, 10, &mut c, bp, 64, &mut w),
            ZIPNN_ERROR_NULL_POINTER
        );
        assert_eq!(
            zipnn_cstream_finish(null_mut(), bp, 64, &mut w, &mut done),
            ZIPNN_ERROR_NULL_POINTER
        );
        assert_eq!(
            zipnn_dstream_decompress(null_mut(), sp, 10, &mut c, bp, 64, &mut w),
            ZIPNN_ERROR_NULL_POINTER
        );
        assert_eq!(zipnn_dstream_finish(null()), ZIPNN_ERROR_NULL_POINTER);

        assert_eq!(zipnn_cstream_new(null(), 0, &mut cs), ZIPNN_OK);
        assert!(!cs.is_null());
        // NULL buffers with sizes, NULL out-params.
        assert_eq!(
            zipnn_cstream_compress(cs, null(), 10, &mut c, bp, 64, &mut w),
            ZIPNN_ERROR_NULL_POINTER
        );
        assert_eq!(
            zipnn_cstream_compress(cs, sp, 10, null_mut(), bp, 64, &mut w),
            ZIPNN_ERROR_NULL_POINTER
        );
        assert_eq!(
            zipnn_cstream_compress(cs, sp, 10, &mut c, null_mut(), 64, &mut w),
            ZIPNN_ERROR_NULL_POINTER
        );
        assert_eq!(
            zipnn_cstream_finish(cs, bp, 64, &mut w, null_mut()),
            ZIPNN_ERROR_NULL_POINTER
        );
        // (NULL, 0) buffers are empty: progress with a zero-capacity dst.
        assert_eq!(
            zipnn_cstream_compress(cs, sp, 10, &mut c, null_mut(), 0, &mut w),
            ZIPNN_OK
        );
        assert_eq!((c, w), (10, 0));
        assert_eq!(
            zipnn_cstream_compress(cs, null(), 0, &mut c, bp, 64, &mut w),
            ZIPNN_OK
        );
        assert_eq!((c, w), (0, 16)); // the stream header
                                     // Finish with a one-byte buffer many times.
        let mut stream = buf[..16].to_vec();
        let mut calls = 0;
        loop {
            let mut one = [0u8; 1];
            let s = zipnn_cstream_finish(cs, one.as_mut_ptr() as *mut c_void, 1, &mut w, &mut done);
            assert_eq!(s, ZIPNN_OK);
            stream.extend_from_slice(&one[..w]);
            calls += 1;
            if done == 1 {
                break;
            }
        }
        assert!(calls > 50);
        assert_eq!(
            zipnn_cstream_compress(cs, sp, 10, &mut c, bp, 64, &mut w),
            ZIPNN_ERROR_INVALID_PARAM
        );
        zipnn_cstream_free(cs);
        // The stream decodes, one byte at a time in and out.
        assert_eq!(c_decompress(&stream, 1, 1).unwrap(), src);

        // Decompressor: garbage is BAD_MAGIC, and the error sticks.
        assert_eq!(zipnn_dstream_new(null(), &mut ds), ZIPNN_OK);
        assert_eq!(
            zipnn_dstream_decompress(ds, sp, 10, &mut c, bp, 64, &mut w),
            ZIPNN_ERROR_BAD_MAGIC
        );
        assert_eq!(
            zipnn_dstream_decompress(ds, null(), 0, &mut c, bp, 64, &mut w),
            ZIPNN_ERROR_BAD_MAGIC
        );
        assert_eq!(zipnn_dstream_finish(ds), ZIPNN_ERROR_BAD_MAGIC);
        zipnn_dstream_free(ds);
        // An unfinished stream is TRUNCATED at finish.
        assert_eq!(zipnn_dstream_new(null(), &mut ds), ZIPNN_OK);
        assert_eq!(zipnn_dstream_finish(ds), ZIPNN_ERROR_TRUNCATED);
        zipnn_dstream_free(ds);
    }
}

#[test]
fn contexts_are_send() {
    fn send<T: Send>() {}
    send::<Compressor>();
    send::<Decompressor>();
    send::<Writer<Vec<u8>>>();
    send::<Reader<&[u8]>>();
    send::<StreamReader<Cursor<Vec<u8>>>>();
    // The C handles are Send but not Sync (a context must not be used by two threads at
    // once); moving one to another thread works.
    send::<zipnn::capi::zipnn_cstream>();
    send::<zipnn::capi::zipnn_dstream>();
    let data = make(DType::Bf16, Kind::Gaussian, 10_000, 30);
    let mut c = Compressor::new(&small_opts(DType::Bf16), 4096).unwrap();
    let s = std::thread::spawn(move || {
        let mut out = vec![0u8; 20_000];
        let (n, mut w) = c.compress(&data, &mut out).unwrap();
        assert_eq!(n, data.len());
        let (w2, done) = c.finish(&mut out[w..]).unwrap();
        assert!(done);
        w += w2;
        out.truncate(w);
        out
    })
    .join()
    .unwrap();
    assert_eq!(decompress_pieces(&s, 0, 0).unwrap().len(), 10_000);
}

/// The original bytes or the zipnn error a [`Reader`] gives for `s`.
fn reader_result(s: &[u8], opts: &zipnn::DecompressOptions) -> Result<Vec<u8>, Error> {
    let mut back = Vec::new();
    match Reader::with_options(s, opts).read_to_end(&mut back) {
        Ok(_) => Ok(back),
        Err(e) => Err(error_of(&e).expect("a zipnn error")),
    }
}

/// `zipnn::stream::decompress_into` of `s` into a buffer of `room` bytes of 0xA5: its
/// result, and the buffer checked to be untouched on error.
fn in_memory_result(
    s: &[u8],
    room: usize,
    opts: &zipnn::DecompressOptions,
) -> Result<Vec<u8>, Error> {
    let mut out = vec![0xA5u8; room];
    match zipnn::stream::decompress_into(s, &mut out, opts) {
        Ok(n) => {
            assert!(out[n..].iter().all(|&b| b == 0xA5), "past the end written");
            out.truncate(n);
            Ok(out)
        }
        Err(e) => {
            assert!(out.iter().all(|&b| b == 0xA5), "{e:?}: output changed");
            Err(e)
        }
    }
}

#[test]
fn in_memory_streams_are_the_writers_bytes_and_round_trip() {
    let lossy = Options {
        lossy: zipnn::Lossy::Mantissa { bits: 3 },
        ..small_opts(DType::Bf16)
    };
    let cases = [
        (DType::Bf16, small_opts(DType::Bf16)),
        (DType::Fp32, small_opts(DType::Fp32)),
        (DType::Fp16, Options::new(DType::Fp16)),
        (DType::Uint8, small_opts(DType::Uint8)),
        (DType::Bf16, lossy),
    ];
    for (dtype, opts) in cases {
        for n in [0usize, 1, 1000, 4096, 3 * 4096, 3 * 4096 + 7, 50_001] {
            let data = make(dtype, Kind::Gaussian, n, n as u64 + 40);
            for block in [MIN_BLOCK_SIZE, 4096, 4098, DEFAULT_BLOCK_SIZE] {
                let want = whole(&data, &opts, block);
                let what = format!("{dtype:?} {:?} n {n} block {block}", opts.lossy);
                // Lossy data comes back as the reader gives it.
                let back = reader_result(&want, &Default::default()).unwrap();
                if opts.lossy == zipnn::Lossy::None {
                    assert_eq!(back, data, "{what}");
                }
                for threads in [1, 2, 0] {
                    let o = Options {
                        threads,
                        ..opts.clone()
                    };
                    let s = zipnn::stream::compress(&data, &o, block).unwrap();
                    assert!(s == want, "{what} threads {threads}");
                    let bound = zipnn::stream::compress_bound(n, &o, block).unwrap();
                    assert!(bound >= s.len(), "{what}");
                    // Room for the bound, exactly the stream, one byte less.
                    for room in [bound + 5, s.len()] {
                        let mut dst = vec![0xA5u8; room];
                        let k = zipnn::stream::compress_into(&data, &o, block, &mut dst).unwrap();
                        assert!(k == s.len() && dst[..k] == s[..], "{what} room {room}");
                    }
                    let mut dst = vec![0xA5u8; s.len() - 1];
                    assert_eq!(
                        zipnn::stream::compress_into(&data, &o, block, &mut dst),
                        Err(Error::DstTooSmall),
                        "{what}"
                    );
                    assert!(dst.iter().all(|&b| b == 0xA5), "{what}");
                    let d = zipnn::DecompressOptions {
                        threads,
                        max_size: 0,
                    };
                    assert!(zipnn::stream::decompress(&s, &d).unwrap() == back, "{what}");
                    let got = in_memory_result(&s, back.len() + 9, &d).unwrap();
                    assert!(got == back, "{what} threads {threads}");
                    if !back.is_empty() {
                        let e = in_memory_result(&s, back.len() - 1, &d);
                        assert_eq!(e, Err(Error::DstTooSmall), "{what}");
                    }
                }
            }
        }
    }
    // Bad arguments, as for the writer.
    let o = Options::default();
    for block in [0, MIN_BLOCK_SIZE - 1, (256 << 20) + 1] {
        assert_eq!(
            zipnn::stream::compress_bound(10, &o, block),
            Err(Error::InvalidParam)
        );
        assert_eq!(
            zipnn::stream::compress(b"0123456789", &o, block),
            Err(Error::InvalidParam)
        );
    }
    let bad = Options {
        chunk_size: 5,
        ..Options::default()
    };
    assert_eq!(
        zipnn::stream::compress_into(b"0123", &bad, 4096, &mut [0u8; 1000]),
        Err(Error::InvalidParam)
    );
}

#[test]
fn in_memory_decoding_fails_as_the_reader_and_leaves_the_output() {
    let block = 4096;
    let data = make(DType::Bf16, Kind::Gaussian, 5 * block + 1001, 31);
    let s = whole(&data, &small_opts(DType::Bf16), block as u32);
    let d1 = zipnn::DecompressOptions {
        threads: 1,
        max_size: 0,
    };
    assert_eq!(in_memory_result(&s, data.len(), &d1).unwrap(), data);
    // Every cut: `Truncated`, as the reader says.
    for cut in 0..s.len() {
        let t = &s[..cut];
        let want = reader_result(t, &d1);
        assert_eq!(want, Err(Error::Truncated), "cut {cut}");
        assert_eq!(in_memory_result(t, data.len(), &d1), want, "cut {cut}");
        assert_eq!(zipnn::stream::decompress(t, &d1), want, "cut {cut}");
    }
    // Every byte flipped, at one and two threads: the reader's error (every byte is
    // covered by a checksum or checked against another structure), or its bytes.
    for threads in [1, 2] {
        let d = zipnn::DecompressOptions {
            threads,
            max_size: 0,
        };
        for i in 0..s.len() {
            let mut bad = s.clone();
            bad[i] ^= 0x40;
            let want = reader_result(&bad, &d);
            assert!(want.is_err(), "flip at {i} accepted");
            assert_eq!(in_memory_result(&bad, data.len(), &d), want, "flip at {i}");
        }
    }
    // A frame removed, bytes after the trailer, garbage.
    let offs = frame_offsets(&s);
    let mut cut = s[..offs[1]].to_vec();
    cut.extend_from_slice(&s[offs[2]..]);
    let mut longer = s.clone();
    longer.push(0);
    let mut rng = Rng(77);
    let garbage: Vec<Vec<u8>> = (0..100)
        .map(|len| (0..len).map(|_| rng.next() as u8).collect())
        .collect();
    for bad in [cut, longer].iter().chain(&garbage) {
        let want = reader_result(bad, &d1);
        assert!(want.is_err());
        assert_eq!(in_memory_result(bad, data.len(), &d1), want);
        assert_eq!(zipnn::stream::decompress(bad, &d1), want);
    }
    // The size limit: `LimitExceeded` before anything is written.
    for limit in [1u64, 3 * block as u64 + 10, data.len() as u64 - 1] {
        let d = zipnn::DecompressOptions {
            threads: 1,
            max_size: limit,
        };
        assert_eq!(reader_result(&s, &d), Err(Error::LimitExceeded));
        let e = in_memory_result(&s, data.len(), &d);
        assert_eq!(e, Err(Error::LimitExceeded), "limit {limit}");
    }
    let d = zipnn::DecompressOptions {
        threads: 1,
        max_size: data.len() as u64,
    };
    assert_eq!(in_memory_result(&s, data.len(), &d).unwrap(), data);
}
