//! What the `stream_decode` and `safetensors` fuzz targets do with one input, shared by the
//! targets (fuzz/src/lib.rs includes this file) and by tests/regressions/main.rs, which
//! runs every committed seed and crash input through the same code.
//!
//! - [`stream_decode`]: byte 0 chooses piece sizes, output buffer sizes and threads; the
//!   rest goes to every stream decoder (push [`Decompressor`], [`Reader`], the C ABI
//!   `zipnn_dstream_*` handles, [`StreamReader`] random access and the C ABI
//!   `zipnn_get_stream_info` / `zipnn_stream_decode_range`). They must never panic, must
//!   agree with each other whatever the piece sizes, and a stream that decodes must read
//!   back the same through random access. Inputs that start with the stream magic are
//!   tried again with every checksum resealed; other inputs are compressed as a stream
//!   (options from their first bytes) and must round trip, whatever the piece sizes.
//! - [`safetensors`]: byte 0 chooses compression options; the rest is parsed as a
//!   safetensors file (which, when valid, must compress into an archive that restores it
//!   byte for byte) and opened as an archive (each tensor decoded, the whole file
//!   restored, and the two must agree); archives are tried again resealed.

use std::ffi::c_void;
use std::io::{self, Cursor, Read};

use zipnn::capi;
use zipnn::container::safetensors::{self as st, Archive, SafeTensors};
use zipnn::frame;
use zipnn::stream::{
    error_of, Compressor, Decompressor, Reader, StreamReader, Writer, STREAM_MAGIC, TRAILER_SIZE,
};
use zipnn::*;

/// The largest output the targets decode. Inputs may legitimately declare far more (a run
/// plane of 64 MiB codes to one byte); those are refused through the caller limit, which
/// is itself under test, or not decoded.
pub const MAX_OUT: u64 = 1 << 26;

/// The largest output buffer handed to a decoder in one call.
const OUT_BUF: usize = 1 << 16;

fn le32(b: &[u8], at: usize) -> u32 {
    u32::from_le_bytes(b[at..at + 4].try_into().unwrap())
}

fn le64(b: &[u8], at: usize) -> u64 {
    u64::from_le_bytes(b[at..at + 8].try_into().unwrap())
}

/// Rewrites the fixed-header checksum, every chunk checksum whose payload lies inside
/// `f`, and the header checksum, as a hostile encoder would. Never panics on any input.
pub fn reseal(f: &mut [u8]) {
    if f.len() < frame::FIXED_HEADER_SIZE || f[0..4] != frame::MAGIC {
        return;
    }
    let sum = frame::fixed_checksum(&f[..36]);
    f[36..40].copy_from_slice(&sum.to_le_bytes());
    let planes = f[7] as u64;
    let cs = le32(f, 8) as u64;
    if planes == 0 || cs == 0 {
        return;
    }
    let size = le64(f, 16);
    // A delta frame has its base hash between the fixed header and the metadata.
    let fixed = 40 + 8 * (f[5] & frame::FLAG_DELTA != 0) as u64;
    let meta = le32(f, 32) as u64;
    let chunks = (size - size % planes).div_ceil(cs);
    // Version 2 has a layout byte after each chunk checksum (docs/FORMAT.md section 4).
    let layout = (f[4] >= 2) as u64;
    let entry = 8 + layout + 5 * planes;
    let Some(hs) = chunks
        .checked_mul(entry)
        .and_then(|t| t.checked_add(fixed + meta))
    else {
        return;
    };
    if hs.checked_add(8).map_or(true, |end| end > f.len() as u64) {
        return;
    }
    let (hs, entry, meta_end) = (hs as usize, entry as usize, (fixed + meta) as usize);
    let layout = layout as usize;
    let mut at = hs + 8;
    for c in 0..chunks as usize {
        let e = meta_end + c * entry;
        let size: usize = (0..planes as usize)
            .map(|p| le32(f, e + 8 + layout + 5 * p + 1) as usize)
            .sum();
        if at + size > f.len() {
            break;
        }
        let sum = frame::checksum(&f[at..at + size]);
        f[e..e + 8].copy_from_slice(&sum.to_le_bytes());
        at += size;
    }
    let sum = frame::checksum(&f[..hs]);
    f[hs..hs + 8].copy_from_slice(&sum.to_le_bytes());
}

/// Rewrites every checksum of a stream: its header's, each frame's (see [`reseal`]), the
/// index checksum in the trailer and the trailer's own. Never panics on any input.
pub fn reseal_stream(s: &mut [u8]) {
    if s.len() < 16 || s[..4] != STREAM_MAGIC {
        return;
    }
    let sum = frame::checksum(&s[..12]) as u32;
    s[12..16].copy_from_slice(&sum.to_le_bytes());
    let mut at = 16;
    while s.len() >= at + 4 && s[at..at + 4] == frame::MAGIC {
        reseal(&mut s[at..]);
        match frame_info(&s[at..]) {
            Ok(i) => at += i.frame_size as usize,
            Err(_) => break,
        }
    }
    if s.len() < at + TRAILER_SIZE {
        return;
    }
    let t = s.len() - TRAILER_SIZE;
    let io = le64(s, t);
    let index_at = if (16..=t as u64).contains(&io) {
        io as usize
    } else {
        at.min(t)
    };
    let sum = frame::checksum(&s[index_at..t]);
    s[t + 24..t + 32].copy_from_slice(&sum.to_le_bytes());
    let sum = frame::checksum(&s[t..t + 32]) as u32;
    s[t + 32..t + 36].copy_from_slice(&sum.to_le_bytes());
}

/// Rewrites every checksum of a safetensors archive: the body checksum, the fixed header
/// checksum and each tensor frame's (located through the index). Never panics.
pub fn reseal_archive(a: &mut [u8]) {
    if a.len() < st::FIXED_SIZE || a[..4] != st::ARCHIVE_MAGIC {
        return;
    }
    let json_len = le64(a, 8);
    let count = le32(a, 24) as u64;
    let body_end = count
        .checked_mul(st::ENTRY_SIZE as u64)
        .and_then(|x| x.checked_add(json_len))
        .and_then(|x| x.checked_add(st::FIXED_SIZE as u64))
        .filter(|&e| e <= a.len() as u64);
    if let Some(end) = body_end {
        let sum = frame::checksum(&a[st::FIXED_SIZE..end as usize]);
        a[32..40].copy_from_slice(&sum.to_le_bytes());
    }
    let sum = frame::checksum(&a[..40]);
    a[40..48].copy_from_slice(&sum.to_le_bytes());
    let Some(end) = body_end else { return };
    let (mut at, index) = (end, end as usize - count as usize * st::ENTRY_SIZE);
    for i in 0..count as usize {
        let size = le64(a, index + i * st::ENTRY_SIZE + 16);
        let Some(next) = at.checked_add(size).filter(|&n| n <= a.len() as u64) else {
            return;
        };
        reseal(&mut a[at as usize..next as usize]);
        at = next;
    }
}

/// A deterministic schedule of sizes (input pieces, output buffers): `mode` picks the
/// range (mode 0: everything at once), a xorshift seeded from the input picks within it.
/// Never 0.
pub struct Sizes {
    mode: u8,
    state: u64,
}

impl Sizes {
    pub fn new(mode: u8, seed: u64) -> Sizes {
        Sizes {
            mode: mode % 8,
            state: seed | 1,
        }
    }

    pub fn next(&mut self) -> usize {
        self.state ^= self.state << 13;
        self.state ^= self.state >> 7;
        self.state ^= self.state << 17;
        let r = self.state as usize;
        match self.mode {
            0 => usize::MAX,
            1 => 1,
            2 => 1 + r % 7,
            3 => 1 + r % 64,
            4 => 1 + r % 1024,
            5 => 1 + r % 16384,
            6 => [1, 4, 40, 48, 1023, 1024, 1025, 65536][r % 8],
            _ => 1 + r % (1 << 20),
        }
    }
}

/// Options from two input bytes (always valid), with small chunks and blocks so that
/// short inputs cross many chunk and block boundaries.
pub fn stream_options(a: u8, b: u8) -> (Options, u32) {
    let opts = Options {
        dtype: DType::ALL[a as usize % DType::ALL.len()],
        method: Method::ALL[(a as usize / 16) % Method::ALL.len()],
        level: [Level::Fast, Level::Default, Level::Max][b as usize % 3],
        threads: 1,
        chunk_size: 1024 * (1 + (b as u32 / 3) % 4),
        bg_partitions: [1, 2, 4, 8][(b as usize / 12) % 4],
        ..Options::default()
    };
    let opts = Options {
        bg_partitions: if opts.dtype == DType::Raw {
            opts.bg_partitions
        } else {
            1
        },
        ..opts
    };
    let block = 1024 * (1 + (b as u32 / 48) % 5) + (b as u32 % 2) * 512;
    (opts, block)
}

/// Decodes `s` with a push [`Decompressor`]: input in pieces from `pieces`, output into
/// buffers from `outs`. Checks progress, sticky errors and the running totals.
fn push_decode(
    s: &[u8],
    opts: &DecompressOptions,
    pieces: &mut Sizes,
    outs: &mut Sizes,
) -> Result<Vec<u8>> {
    let mut d = Decompressor::with_options(opts);
    let mut out = Vec::new();
    let mut buf = vec![0u8; OUT_BUF];
    let mut at = 0;
    loop {
        let n = pieces.next().min(s.len() - at);
        let mut p = &s[at..at + n];
        loop {
            let cap = outs.next().min(buf.len());
            let r = d.decompress(p, &mut buf[..cap]);
            let (c, w) = match r {
                Ok(cw) => cw,
                Err(e) => {
                    // Sticky, and `finish` says the same.
                    assert_eq!(d.decompress(p, &mut buf[..cap]), Err(e));
                    assert_eq!(d.finish(), Err(e));
                    return Err(e);
                }
            };
            assert!(
                c <= p.len() && w <= cap,
                "consumed {c} of {}, wrote {w} of {cap}",
                p.len()
            );
            assert!(c > 0 || w > 0 || p.is_empty(), "no progress");
            out.extend_from_slice(&buf[..w]);
            assert!(out.len() as u64 <= d.total_out());
            p = &p[c..];
            if p.is_empty() && w == 0 {
                break;
            }
        }
        at += n;
        if at == s.len() {
            break;
        }
    }
    assert_eq!(out.len() as u64, d.total_out(), "bytes left waiting");
    d.finish()?;
    assert!(d.is_done());
    // Bytes after a complete stream are an error.
    assert_eq!(d.decompress(&[0], &mut buf[..1]), Err(Error::Corrupt));
    Ok(out)
}

/// A reader that gives out `s` in pieces from a schedule.
struct PieceReader<'a> {
    s: &'a [u8],
    sizes: Sizes,
}

impl Read for PieceReader<'_> {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        let n = self.sizes.next().min(out.len()).min(self.s.len());
        out[..n].copy_from_slice(&self.s[..n]);
        self.s = &self.s[n..];
        Ok(n)
    }
}

fn zipnn_err(e: &io::Error) -> Error {
    error_of(e).unwrap_or_else(|| panic!("io error without a zipnn error: {e}"))
}

/// Decodes `s` through the [`Reader`] adapter.
fn reader_decode(
    s: &[u8],
    opts: &DecompressOptions,
    pieces: Sizes,
    outs: &mut Sizes,
) -> Result<Vec<u8>> {
    let mut r = Reader::with_options(PieceReader { s, sizes: pieces }, opts);
    let mut out = Vec::new();
    let mut buf = vec![0u8; OUT_BUF];
    loop {
        let cap = outs.next().min(buf.len());
        match r.read(&mut buf[..cap]) {
            Ok(0) => return Ok(out),
            Ok(n) => out.extend_from_slice(&buf[..n]),
            Err(e) => return Err(zipnn_err(&e)),
        }
    }
}

/// Decodes `s` through the C ABI stream handles, checking that out-parameters are left
/// alone on error.
fn capi_decode(s: &[u8], threads: u32, pieces: &mut Sizes, outs: &mut Sizes) -> Result<Vec<u8>> {
    let opts = capi::zipnn_options {
        threads,
        max_decompressed_size: MAX_OUT,
        ..capi::zipnn_options::default()
    };
    let mut ds: *mut capi::zipnn_dstream = std::ptr::null_mut();
    assert_eq!(capi::zipnn_dstream_new(&opts, &mut ds), 0);
    let mut out = Vec::new();
    let mut buf = vec![0u8; OUT_BUF];
    let mut at = 0;
    let status = 'feed: loop {
        let n = pieces.next().min(s.len() - at);
        let mut p = &s[at..at + n];
        loop {
            let cap = outs.next().min(buf.len());
            let (mut c, mut w) = (usize::MAX, usize::MAX);
            let status = capi::zipnn_dstream_decompress(
                ds,
                p.as_ptr().cast::<c_void>(),
                p.len(),
                &mut c,
                buf.as_mut_ptr().cast::<c_void>(),
                cap,
                &mut w,
            );
            if status != 0 {
                assert_eq!(
                    (c, w),
                    (usize::MAX, usize::MAX),
                    "out-parameters written on error"
                );
                break 'feed status;
            }
            assert!(c <= p.len() && w <= cap);
            out.extend_from_slice(&buf[..w]);
            p = &p[c..];
            if p.is_empty() && w == 0 {
                break;
            }
        }
        at += n;
        if at == s.len() {
            break capi::zipnn_dstream_finish(ds);
        }
    };
    capi::zipnn_dstream_free(ds);
    assert_ne!(
        status,
        Error::InternalPanic.code(),
        "panic behind the C ABI"
    );
    if status == 0 {
        Ok(out)
    } else {
        Err(Error::from_code(status).expect("unknown status"))
    }
}

/// Random access on a stream that decodes to `out` (or, with `out` None, one that did not
/// decode): ranges chosen by `pick` must equal the sequential decode.
fn random_access(s: &[u8], out: Option<&[u8]>, threads: u32, pick: &mut Sizes) {
    let opened = StreamReader::open(Cursor::new(s));
    let mut c_info = capi::zipnn_stream_info {
        struct_size: std::mem::size_of::<capi::zipnn_stream_info>() as u32,
        ..Default::default()
    };
    let c_st = capi::zipnn_get_stream_info(s.as_ptr().cast::<c_void>(), s.len(), &mut c_info);
    let mut r = match opened {
        Ok(r) => r,
        Err(e) => {
            assert_eq!(
                c_st,
                e.code(),
                "zipnn_get_stream_info disagrees with StreamReader"
            );
            assert!(out.is_none(), "a stream that decodes does not open: {e:?}");
            return;
        }
    };
    r.set_threads(threads);
    let info = r.info();
    assert_eq!(c_st, 0);
    assert_eq!(
        (
            c_info.format_version,
            c_info.block_size,
            c_info.frame_count,
            c_info.original_size,
            c_info.stream_size
        ),
        (
            info.version as u32,
            info.block_size,
            info.frame_count,
            info.original_size,
            info.stream_size
        )
    );
    assert_eq!(info.stream_size, s.len() as u64);
    let total = info.original_size;
    if let Some(out) = out {
        assert_eq!(total, out.len() as u64);
        assert_eq!(info.frame_count, total.div_ceil(info.block_size as u64));
    }
    // Past the end: InvalidParam; at the end: nothing.
    if total < u64::MAX {
        let e = r.read_range(total + 1, 1).unwrap_err();
        assert_eq!(e, Error::InvalidParam);
    }
    assert_eq!(r.read_range(total, 10).unwrap(), Vec::<u8>::new());
    // The whole data, when small enough: equal to the sequential decode, and if random
    // access reads all of it, the sequential decoders must have accepted it too.
    if total <= MAX_OUT {
        let whole = r.read_range(0, total as usize);
        match (&whole, out) {
            (Ok(w), Some(o)) => assert!(w == o, "random access differs"),
            (Err(e), Some(_)) => panic!("random access fails on a stream that decodes: {e}"),
            (Ok(_), None) => panic!("random access reads a whole stream the decoders refuse"),
            (Err(_), None) => {}
        }
    }
    if total == 0 {
        return;
    }
    // Some ranges, in both the Rust and the C API.
    for _ in 0..4 {
        let off = pick.next() as u64 * 7919 % total;
        let len = pick.next().min(1 << 18);
        let mut dst = vec![0xA5u8; len + 2];
        let got = r.read_range_into(off, &mut dst[..len]);
        let want = ((total - off) as usize).min(len);
        let mut c_dst = vec![0xA5u8; len + 2];
        let mut c_n = usize::MAX;
        let c_st = capi::zipnn_stream_decode_range(
            s.as_ptr().cast::<c_void>(),
            s.len(),
            off,
            c_dst.as_mut_ptr().cast::<c_void>(),
            len,
            &mut c_n,
        );
        match got {
            Ok(n) => {
                assert_eq!(n, want);
                assert_eq!(c_st, 0);
                assert_eq!(c_n, n);
                assert_eq!(&c_dst[..n], &dst[..n]);
                if let Some(o) = out {
                    assert!(
                        dst[..n] == o[off as usize..off as usize + n],
                        "range {off}+{n} differs"
                    );
                }
            }
            Err(e) => {
                assert!(out.is_none(), "range {off}+{len} of a good stream: {e:?}");
                assert_eq!(c_st, e.code());
                assert_eq!(c_n, usize::MAX, "out_written written on error");
            }
        }
        assert!(
            dst[len..].iter().all(|&b| b == 0xA5),
            "written past the range"
        );
        assert!(
            c_dst[len..].iter().all(|&b| b == 0xA5),
            "C ABI wrote past the range"
        );
    }
}

/// Every stream decoder on `s`; returns the decoded bytes when the stream decodes.
pub fn check_stream(ctl: u8, s: &[u8]) -> Option<Vec<u8>> {
    let seed = s.len() as u64 ^ ((ctl as u64) << 32) ^ 0x9E37_79B9_7F4A_7C15;
    let threads = [1, 2][(ctl >> 6) as usize & 1];
    let limited = DecompressOptions {
        threads,
        max_size: MAX_OUT,
    };
    let one_shot = push_decode(
        s,
        &limited,
        &mut Sizes::new(0, seed),
        &mut Sizes::new(0, seed),
    );
    assert!(
        !matches!(one_shot, Err(Error::Internal | Error::InternalPanic)),
        "{one_shot:?}"
    );
    if let Ok(out) = &one_shot {
        assert!(out.len() as u64 <= MAX_OUT);
    }
    let (mut im, mut om) = (ctl & 7, (ctl >> 3) & 7);
    if s.len() > 8192 {
        // Byte-by-byte decoding of a long input costs more than it finds.
        (im, om) = (im.max(3), om.max(3));
    }
    let piecewise = push_decode(
        s,
        &limited,
        &mut Sizes::new(im, seed),
        &mut Sizes::new(om, !seed),
    );
    assert_eq!(piecewise, one_shot, "piece sizes changed the result");
    let read = reader_decode(
        s,
        &limited,
        Sizes::new(om, seed),
        &mut Sizes::new(im, !seed),
    );
    assert_eq!(read, one_shot, "Reader differs from Decompressor");
    let c = capi_decode(
        s,
        threads,
        &mut Sizes::new(im ^ 1, seed),
        &mut Sizes::new(om ^ 2, !seed),
    );
    assert_eq!(c, one_shot, "C ABI differs from Decompressor");
    let mem = zipnn::stream::decompress(s, &limited);
    assert_eq!(
        mem, one_shot,
        "in-memory decoding differs from Decompressor"
    );
    if one_shot == Err(Error::LimitExceeded) {
        return None;
    }
    let out = one_shot.ok();
    random_access(s, out.as_deref(), threads, &mut Sizes::new(5, seed));
    let out = out?;
    // A good stream cut short is Truncated; one with a byte more is Corrupt.
    let short = push_decode(
        &s[..s.len() - 1],
        &limited,
        &mut Sizes::new(0, seed),
        &mut Sizes::new(0, seed),
    );
    assert_eq!(short, Err(Error::Truncated));
    let mut long = s.to_vec();
    long.push(0);
    let long = push_decode(
        &long,
        &limited,
        &mut Sizes::new(im, seed),
        &mut Sizes::new(0, seed),
    );
    assert_eq!(long, Err(Error::Corrupt));
    Some(out)
}

/// Compresses `data` as a stream with pieces and output buffers of scheduled sizes; the
/// result must not depend on them, and must decode back.
fn stream_round_trip(ctl: u8, opts: &Options, block: u32, data: &[u8]) {
    let seed = data.len() as u64 ^ ((ctl as u64) << 24);
    let mut want = Writer::new(Vec::new(), opts, block).unwrap();
    std::io::Write::write_all(&mut want, data).unwrap();
    let want = want.finish().unwrap();
    let mem = zipnn::stream::compress(data, opts, block).unwrap();
    assert!(mem == want, "in-memory stream differs from the Writer's");
    let mut c = Compressor::new(opts, block).unwrap();
    let (mut pieces, mut outs) = (Sizes::new(ctl & 7, seed), Sizes::new(ctl >> 3, !seed));
    let mut got = Vec::new();
    let mut buf = vec![0u8; OUT_BUF];
    let mut at = 0;
    while at < data.len() {
        let n = pieces.next().min(data.len() - at);
        let mut p = &data[at..at + n];
        while !p.is_empty() {
            let cap = outs.next().min(buf.len());
            let (cn, wn) = c.compress(p, &mut buf[..cap]).unwrap();
            assert!(cn > 0 || wn > 0, "no progress");
            got.extend_from_slice(&buf[..wn]);
            p = &p[cn..];
        }
        at += n;
    }
    loop {
        let cap = outs.next().min(buf.len());
        let (wn, done) = c.finish(&mut buf[..cap]).unwrap();
        got.extend_from_slice(&buf[..wn]);
        if done {
            break;
        }
    }
    assert!(c.is_done());
    assert!(got == want, "piece sizes changed the stream");
    let back = check_stream(ctl, &got).expect("own stream does not decode");
    assert!(back == data, "stream round trip changed the data");
}

/// The `stream_decode` fuzz target.
pub fn stream_decode(data: &[u8]) {
    let Some((&ctl, s)) = data.split_first() else {
        return;
    };
    check_stream(ctl, s);
    if s.starts_with(&STREAM_MAGIC) {
        let mut sealed = s.to_vec();
        reseal_stream(&mut sealed);
        if sealed != s {
            check_stream(ctl, &sealed);
        }
    } else if s.len() >= 2 && s[0] != STREAM_MAGIC[0] && s.len() - 2 <= 1 << 14 {
        let (opts, block) = stream_options(s[0], s[1]);
        stream_round_trip(ctl, &opts, block, &s[2..]);
    }
}

/// Options for compressing a parsed safetensors file, from the control byte.
pub fn archive_options(ctl: u8) -> Options {
    Options {
        method: Method::ALL[(ctl as usize >> 4) % Method::ALL.len()],
        level: [Level::Fast, Level::Default, Level::Max][ctl as usize % 3],
        threads: 1,
        chunk_size: 1024 * (1 + (ctl as u32 >> 2) % 4),
        ..Options::default()
    }
}

/// A safetensors file: when it parses, it must compress into an archive that opens with
/// the same tensors and restores it byte for byte.
fn check_file(ctl: u8, f: &[u8]) {
    let parsed = match SafeTensors::parse(f) {
        Ok(p) => p,
        Err(e) => {
            assert_eq!(e, Error::BadSafetensors);
            assert_eq!(
                st::compress(f, &archive_options(ctl)),
                Err(Error::BadSafetensors)
            );
            return;
        }
    };
    let n = le64(f, 0) as usize;
    assert!(parsed.header == &f[8..8 + n] && parsed.data == &f[8 + n..]);
    let mut at = 0;
    for t in parsed.tensors.iter() {
        assert_eq!(t.data_offsets.0, at, "tensors do not tile the data");
        at = t.data_offsets.1;
    }
    assert_eq!(at, parsed.data.len() as u64);
    let opts = archive_options(ctl);
    let archive = st::compress(f, &opts).expect("a parsed file must compress");
    let a = Archive::open(&archive).expect("own archive does not open");
    assert_eq!(a.tensors(), &parsed.tensors[..]);
    assert_eq!(a.header_json(), parsed.header);
    assert!(a.restore().unwrap() == f, "restore is not byte-exact");
    assert!(st::decompress(&archive).unwrap() == f);
    for t in a.tensors() {
        let (b, e) = (t.data_offsets.0 as usize, t.data_offsets.1 as usize);
        let want = &parsed.data[b..e];
        assert!(
            a.tensor(&t.name).unwrap() == want,
            "tensor {} differs",
            t.name
        );
        assert!(decompress(&a.frame(&t.name).unwrap()).unwrap() == want);
        if e > b {
            let mut short = vec![0x3Cu8; e - b - 1];
            assert_eq!(a.tensor_into(&t.name, &mut short), Err(Error::DstTooSmall));
            assert!(short.iter().all(|&x| x == 0x3C), "short dst written");
        }
    }
    if !parsed.tensors.iter().any(|t| t.name == "\u{0}missing") {
        assert_eq!(a.tensor("\u{0}missing"), Err(Error::NotFound));
    }
    // Cut short or with a byte more, the archive is refused.
    assert!(Archive::open(&archive[..archive.len() - 1]).is_err());
    let mut long = archive.clone();
    long.push(0);
    assert_eq!(Archive::open(&long).unwrap_err(), Error::Corrupt);
    check_archive(&archive);
}

/// An archive: whatever opens lists tensors that tile the data; each tensor decodes or
/// not, and restoring the whole file succeeds exactly when every tensor decodes, giving
/// the header and the tensors' bytes.
fn check_archive(src: &[u8]) {
    let a = match Archive::open(src) {
        Ok(a) => a,
        Err(e) => {
            assert!(
                !matches!(e, Error::Internal | Error::InternalPanic),
                "{e:?}"
            );
            assert_eq!(st::decompress(src), Err(e));
            return;
        }
    };
    let mut at = 0u64;
    for t in a.tensors() {
        assert_eq!(t.data_offsets.0, at);
        at = t.data_offsets.1;
    }
    let total = at;
    let hl = a.header_json().len();
    let small = total <= MAX_OUT;
    // Decoded bytes are kept only when the whole file is small; the budget bounds the
    // time spent on many large tensors.
    let mut budget = 2 * MAX_OUT;
    let mut tensors = Vec::new();
    for t in a.tensors() {
        let (b, e) = t.data_offsets;
        if e - b > budget.min(MAX_OUT) {
            continue;
        }
        budget -= e - b;
        let frame = a.frame(&t.name).unwrap();
        let got = a.tensor(&t.name);
        let limited = DecompressOptions {
            threads: 1,
            max_size: MAX_OUT,
        };
        match (&got, decompress_with(&frame, &limited)) {
            (Ok(x), Ok(y)) => assert!(*x == y, "tensor {} differs from its frame", t.name),
            (Ok(_), Err(e)) => panic!("tensor {} decodes, its frame does not: {e:?}", t.name),
            (Err(_), _) => {}
        }
        if let Ok(x) = &got {
            assert_eq!(x.len() as u64, e - b);
        }
        if small {
            tensors.push((b, got));
        }
    }
    if !small {
        return;
    }
    match a.restore() {
        Ok(file) => {
            assert_eq!(file.len() as u64, 8 + hl as u64 + total);
            assert_eq!(le64(&file, 0), hl as u64);
            assert!(&file[8..8 + hl] == a.header_json());
            for (b, got) in &tensors {
                let x = got.as_ref().expect("restore succeeds but a tensor fails");
                let at = 8 + hl + *b as usize;
                assert!(file[at..at + x.len()] == x[..], "restored bytes differ");
            }
            let parsed = SafeTensors::parse(&file).expect("restored file does not parse");
            assert_eq!(parsed.tensors, a.tensors());
        }
        Err(e) => {
            assert!(
                !matches!(e, Error::Internal | Error::InternalPanic),
                "{e:?}"
            );
            assert!(
                tensors.iter().any(|(_, g)| g.is_err()),
                "every tensor decodes, restore fails: {e:?}"
            );
        }
    }
}

/// The `safetensors` fuzz target.
pub fn safetensors(data: &[u8]) {
    let Some((&ctl, f)) = data.split_first() else {
        return;
    };
    if f.len() <= 1 << 20 {
        check_file(ctl, f);
    }
    check_archive(f);
    if f.starts_with(&st::ARCHIVE_MAGIC) {
        let mut sealed = f.to_vec();
        reseal_archive(&mut sealed);
        if sealed != f {
            check_archive(&sealed);
        }
    }
}
