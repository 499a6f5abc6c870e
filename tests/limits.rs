//! Limits: the caller's `max_size` is honoured by every entry point that sizes its output
//! from the frame, and a header declaring huge sizes allocates nothing large before it is
//! validated. Allocations are measured per thread by a counting global allocator (every
//! call here runs with `threads: 1` or is single-threaded by contract).

mod common;

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::ffi::c_void;
use std::time::{Duration, Instant};

use common::{make, Kind};
use zipnn::capi;
use zipnn::*;

struct Counting;

thread_local! {
    /// Largest single allocation made by this thread since the last `reset`.
    static LARGEST: Cell<usize> = const { Cell::new(0) };
}

fn note(size: usize) {
    // `try_with`: allocations during thread teardown must not panic.
    let _ = LARGEST.try_with(|l| l.set(l.get().max(size)));
}

// SAFETY: forwards to the system allocator unchanged; only records sizes.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        note(layout.size());
        // SAFETY: same contract as the caller's.
        unsafe { System.alloc(layout) }
    }
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        note(layout.size());
        // SAFETY: same contract as the caller's.
        unsafe { System.alloc_zeroed(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: same contract as the caller's.
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        note(new_size);
        // SAFETY: same contract as the caller's.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

/// Runs `f` and returns its result with the largest allocation it made on this thread.
fn largest_alloc<T>(f: impl FnOnce() -> T) -> (T, usize) {
    LARGEST.with(|l| l.set(0));
    let r = f();
    (r, LARGEST.with(|l| l.get()))
}

/// No entry point may allocate more than this while refusing a crafted frame.
const SMALL: usize = 64 * 1024;

const ONE: DecompressOptions = DecompressOptions {
    threads: 1,
    max_size: 0,
};

fn limited(max_size: u64) -> DecompressOptions {
    DecompressOptions {
        threads: 1,
        max_size,
    }
}

fn le32(b: &[u8], at: usize) -> u32 {
    u32::from_le_bytes(b[at..at + 4].try_into().unwrap())
}

/// Rewrites the fixed-header checksum (low 32 bits of XXH3-64 of bytes 0..36, at 36..40)
/// and, when the declared header fits in `f`, the header checksum, as tests/vectors.rs's
/// `reseal_header` does: what a hostile encoder would write.
fn reseal_header(f: &mut [u8]) {
    let sum = frame::fixed_checksum(&f[..frame::FIXED_CHECKSUM_AT]);
    f[36..40].copy_from_slice(&sum.to_le_bytes());
    let meta = le32(f, 32) as u64;
    let planes = (f[7] as u64).max(1);
    let size = u64::from_le_bytes(f[16..24].try_into().unwrap());
    let cs = (le32(f, 8) as u64).max(1);
    let hs = (size - size % planes)
        .div_ceil(cs)
        .checked_mul(if f[4] == 1 { 8 } else { 9 } + 5 * planes)
        .and_then(|t| t.checked_add(40 + meta));
    if let Some(hs) = hs.filter(|&hs| hs + 8 <= f.len() as u64) {
        let hs = hs as usize;
        let sum = frame::checksum(&f[..hs]);
        f[hs..hs + 8].copy_from_slice(&sum.to_le_bytes());
    }
}

/// A small valid frame (raw dtype, 1 plane: `original_size` can take any value).
fn small_frame() -> (Vec<u8>, Vec<u8>) {
    let src = make(DType::Raw, Kind::Gaussian, 3000, 9);
    let o = Options {
        chunk_size: 1024,
        threads: 1,
        ..Options::new(DType::Raw)
    };
    (compress(&src, &o).unwrap(), src)
}

/// `small_frame()` with `original_size` set to `size` and the fixed checksum resealed.
fn claiming(size: u64) -> Vec<u8> {
    let (mut f, _) = small_frame();
    f[16..24].copy_from_slice(&size.to_le_bytes());
    reseal_header(&mut f);
    assert!(frame::parse_fixed(&f).is_ok(), "fixed header must validate");
    f
}

/// A valid frame, every checksum right, whose chunks are all one-byte runs of 64 MiB:
/// `chunks * 64 MiB` of output from `49 + 14 * chunks` bytes. A legitimate frame, so only
/// the caller's limit can refuse it.
fn run_bomb(chunks: u64) -> Vec<u8> {
    let cs = MAX_CHUNK_SIZE;
    let mut f = vec![0u8; 40];
    f[0..4].copy_from_slice(&frame::MAGIC);
    f[4] = frame::VERSION;
    f[6] = DType::Raw.code();
    f[7] = 1;
    f[8..12].copy_from_slice(&cs.to_le_bytes());
    f[16..24].copy_from_slice(&(chunks * cs as u64).to_le_bytes());
    let sum = frame::fixed_checksum(&f[..36]);
    f[36..40].copy_from_slice(&sum.to_le_bytes());
    let payload_byte = 0u8;
    for _ in 0..chunks {
        f.extend_from_slice(&frame::checksum(&[payload_byte]).to_le_bytes());
        f.push(0); // layout 0
        f.push(Codec::Run as u8);
        f.extend_from_slice(&1u32.to_le_bytes());
    }
    let sum = frame::checksum(&f);
    f.extend_from_slice(&sum.to_le_bytes());
    f.extend(std::iter::repeat(payload_byte).take(chunks as usize));
    f
}

fn c_decompress(frame: &[u8], dst: &mut [u8], max: u64) -> (i32, usize) {
    let o = capi::zipnn_options {
        threads: 1,
        max_decompressed_size: max,
        ..capi::zipnn_options::default()
    };
    let mut w = usize::MAX;
    let st = capi::zipnn_decompress_with_options(
        &o,
        frame.as_ptr().cast::<c_void>(),
        frame.len(),
        dst.as_mut_ptr().cast::<c_void>(),
        dst.len(),
        &mut w,
    );
    (st, w)
}

#[test]
fn limit_is_honoured_by_decompress_with_and_into_with() {
    let (f, src) = small_frame();
    let n = src.len() as u64;
    for max in [1, n / 2, n - 1] {
        assert_eq!(
            decompress_with(&f, &limited(max)),
            Err(Error::LimitExceeded),
            "{max}"
        );
        let mut dst = vec![7u8; src.len()];
        assert_eq!(
            decompress_into_with(&f, &mut dst, &limited(max)),
            Err(Error::LimitExceeded)
        );
        assert!(dst.iter().all(|&b| b == 7), "dst written under the limit");
        let (st, w) = c_decompress(&f, &mut dst, max);
        assert_eq!(st, Error::LimitExceeded.code());
        assert_eq!(w, usize::MAX, "out_written written on error");
    }
    for max in [0, n, n + 1, u64::MAX] {
        assert_eq!(decompress_with(&f, &limited(max)).unwrap(), src, "{max}");
        let mut dst = vec![0u8; src.len()];
        assert_eq!(
            decompress_into_with(&f, &mut dst, &limited(max)),
            Ok(src.len())
        );
        assert_eq!(dst, src);
        let (st, w) = c_decompress(&f, &mut dst, max);
        assert_eq!((st, w), (0, src.len()));
    }
}

#[test]
fn limit_is_checked_before_the_rest_of_the_frame() {
    // The limit comes from the fixed header alone: a frame whose size exceeds it is
    // LimitExceeded even when the rest of it is missing or damaged.
    let (f, src) = small_frame();
    let max = src.len() as u64 - 1;
    assert_eq!(
        decompress_with(&f[..40], &limited(max)),
        Err(Error::LimitExceeded)
    );
    let mut damaged = f.clone();
    let last = damaged.len() - 1;
    damaged[last] ^= 1;
    assert_eq!(
        decompress_with(&damaged, &limited(max)),
        Err(Error::LimitExceeded)
    );
    // But a damaged fixed header is never trusted for the limit decision.
    let mut bad = f.clone();
    bad[16] ^= 1;
    assert_eq!(decompress_with(&bad, &limited(max)), Err(Error::Checksum));
}

#[test]
fn header_claiming_2_pow_60_bytes_fails_fast_without_allocating() {
    let huge = 1u64 << 60;
    let f = claiming(huge);
    assert_eq!(frame::parse_fixed(&f).unwrap().original_size, huge);
    let t0 = Instant::now();
    type Call = (&'static str, Box<dyn Fn(&[u8]) -> Result<()>>);
    let calls: Vec<Call> = vec![
        (
            "decompress",
            Box::new(|f| decompress_with(f, &ONE).map(drop)),
        ),
        (
            "decompress_into",
            Box::new(|f| decompress_into_with(f, &mut [0u8; 4096], &ONE).map(drop)),
        ),
        (
            "decompressed_size",
            Box::new(|f| decompressed_size(f).map(drop)),
        ),
        ("frame_info", Box::new(|f| frame_info(f).map(drop))),
        ("metadata", Box::new(|f| metadata(f).map(drop))),
        ("verify", Box::new(verify)),
        (
            "decompress_chunk",
            Box::new(|f| decompress_chunk(f, 0, &mut [0u8; 4096]).map(drop)),
        ),
    ];
    for (name, call) in &calls {
        let (r, largest) = largest_alloc(|| call(&f));
        // The chunk table such a size needs is ~2^56 bytes: the input is too short.
        assert_eq!(r, Err(Error::Truncated), "{name}");
        assert!(largest <= SMALL, "{name} allocated {largest} bytes");
    }
    // With a limit, the size is refused before the table is looked at.
    let (r, largest) = largest_alloc(|| decompress_with(&f, &limited(1 << 30)));
    assert_eq!(r, Err(Error::LimitExceeded));
    assert!(largest <= SMALL);
    // The C ABI, with a NULL/0 destination as a caller probing the size would pass.
    let mut w = usize::MAX;
    let st = capi::zipnn_decompress(
        f.as_ptr().cast::<c_void>(),
        f.len(),
        std::ptr::null_mut(),
        0,
        &mut w,
    );
    assert_eq!(st, Error::Truncated.code());
    let mut size = 0u64;
    let st = capi::zipnn_get_decompressed_size(f.as_ptr().cast::<c_void>(), f.len(), &mut size);
    assert_eq!((st, size), (Error::Truncated.code(), 0));
    let elapsed = t0.elapsed();
    assert!(
        elapsed < Duration::from_millis(200),
        "took {elapsed:?} to refuse"
    );
}

#[test]
fn every_huge_size_is_refused_without_a_large_allocation() {
    // Sizes around every power of two up to u64::MAX (u64::MAX itself: the chunk count
    // times the entry size overflows, which must be Corrupt, not a wrap).
    let mut sizes: Vec<u64> = (20..64).map(|b| 1u64 << b).collect();
    sizes.extend([
        u64::MAX,
        u64::MAX - 1,
        (1u64 << 63) + 12345,
        usize::MAX as u64 / 2,
    ]);
    for size in sizes {
        let f = claiming(size);
        let t0 = Instant::now();
        let (r, largest) = largest_alloc(|| decompress_with(&f, &ONE));
        let e = r.unwrap_err();
        assert!(
            matches!(e, Error::Truncated | Error::Corrupt | Error::SrcTooLarge),
            "size {size:#x}: {e:?}"
        );
        assert!(largest <= SMALL, "size {size:#x}: allocated {largest}");
        let (r, largest) = largest_alloc(|| frame_info(&f));
        assert!(r.is_err() && largest <= SMALL, "frame_info {size:#x}");
        let (r, largest) = largest_alloc(|| verify(&f));
        assert!(r.is_err() && largest <= SMALL, "verify {size:#x}");
        assert!(t0.elapsed() < Duration::from_millis(100), "{size:#x} slow");
    }
}

#[test]
fn huge_chunk_count_in_a_tiny_chunk_size_is_not_preallocated() {
    // 1 KiB chunks and a 1 TiB size: 2^30 table entries declared. Frame::parse must see
    // the table does not fit before reserving per-chunk state.
    let mut f = claiming(1 << 40);
    assert_eq!(le32(&f, 8), 1024);
    f.truncate(60);
    let (r, largest) = largest_alloc(|| frame_info(&f));
    assert_eq!(r, Err(Error::Truncated));
    assert!(largest <= SMALL);
}

#[test]
fn a_legitimate_run_bomb_is_stopped_only_by_the_limit() {
    // 16 chunks of 64 MiB runs: 1 GiB declared by a 288-byte frame with valid checksums.
    let chunks = 16;
    let f = run_bomb(chunks);
    assert!(f.len() < 300);
    let info = frame_info(&f).unwrap();
    assert_eq!(info.original_size, chunks * MAX_CHUNK_SIZE as u64);
    assert_eq!(info.frame_size, f.len() as u64);
    assert_eq!(verify(&f), Ok(()));
    // The header-only calls need no output-sized memory.
    let (r, largest) =
        largest_alloc(|| (frame_info(&f), verify(&f), metadata(&f).map(<[u8]>::len)));
    assert!(r.0.is_ok() && r.1.is_ok() && r.2 == Ok(0));
    assert!(largest <= SMALL, "header calls allocated {largest}");
    // With a limit below the declared size: refused before any allocation.
    for max in [1u64, 1 << 20, info.original_size - 1] {
        let (r, largest) = largest_alloc(|| decompress_with(&f, &limited(max)));
        assert_eq!(r, Err(Error::LimitExceeded));
        assert!(largest <= SMALL, "limit {max}: allocated {largest}");
        let mut dst = [0u8; 16];
        let (st, _) = c_decompress(&f, &mut dst, max);
        assert_eq!(st, Error::LimitExceeded.code());
    }
    // The C ABI and decompress_into never allocate the output: too small a buffer is
    // DstTooSmall after the header is validated.
    let mut dst = vec![0u8; 4096];
    let (r, largest) = largest_alloc(|| decompress_into_with(&f, &mut dst, &ONE));
    assert_eq!(r, Err(Error::DstTooSmall));
    assert!(largest <= SMALL);
    // One 64 MiB chunk decodes (into the caller's buffer) to zeros.
    let one = run_bomb(1);
    let mut out = vec![1u8; MAX_CHUNK_SIZE as usize];
    assert_eq!(decompress_chunk(&one, 0, &mut out), Ok(out.len()));
    assert!(out.iter().all(|&b| b == 0));
    let (whole, largest) = largest_alloc(|| decompress_with(&one, &ONE).unwrap());
    assert_eq!(whole.len(), MAX_CHUNK_SIZE as usize);
    // ...and the counting allocator does see output-sized allocations.
    assert!(
        largest >= MAX_CHUNK_SIZE as usize,
        "allocator not counting: {largest}"
    );
    assert!(whole.iter().all(|&b| b == 0));
}

#[test]
fn decompress_chunk_sizes_nothing_from_the_frame() {
    // decompress_chunk writes into the caller's buffer and needs at most one chunk
    // (<= MAX_CHUNK_SIZE): it allocates nothing output-sized.
    let f = run_bomb(4);
    let mut dst = vec![0u8; 1024];
    let (r, largest) = largest_alloc(|| decompress_chunk(&f, 3, &mut dst));
    assert_eq!(r, Err(Error::DstTooSmall));
    assert!(largest <= SMALL);
    let (r, _) = largest_alloc(|| decompress_chunk(&f, 4, &mut dst));
    assert_eq!(r, Err(Error::InvalidParam));
}

#[test]
fn metadata_size_limit_is_enforced_by_the_decoder() {
    // A fixed header declaring metadata above MAX_METADATA_SIZE is Corrupt even with
    // valid checksums, and nothing metadata-sized is allocated.
    let (mut f, _) = small_frame();
    f[5] |= frame::FLAG_METADATA;
    f[32..36].copy_from_slice(&(MAX_METADATA_SIZE as u32 + 1).to_le_bytes());
    reseal_header(&mut f);
    let (r, largest) = largest_alloc(|| frame_info(&f));
    assert_eq!(r, Err(Error::Corrupt));
    assert!(largest <= SMALL);
    // u32::MAX of metadata: Corrupt too.
    f[32..36].copy_from_slice(&u32::MAX.to_le_bytes());
    reseal_header(&mut f);
    assert_eq!(decompress(&f), Err(Error::Corrupt));
}

/// An archive of one `U8` tensor "w" whose frame is `frame` (declaring `size` bytes):
/// what a hostile writer can make with valid checksums.
fn archive_around(frame: &[u8], size: u64) -> Vec<u8> {
    use zipnn::container::safetensors::{ARCHIVE_MAGIC, ARCHIVE_VERSION, FIXED_SIZE};
    let json = format!(r#"{{"w":{{"dtype":"U8","shape":[{size}],"data_offsets":[0,{size}]}}}}"#);
    let mut body = json.into_bytes();
    while body.len() % 8 != 0 {
        body.push(b' ');
    }
    let json_len = body.len() as u64;
    for v in [0, size, frame.len() as u64] {
        body.extend_from_slice(&v.to_le_bytes());
    }
    let mut a = vec![0u8; FIXED_SIZE];
    a[..4].copy_from_slice(&ARCHIVE_MAGIC);
    a[4] = ARCHIVE_VERSION;
    a[8..16].copy_from_slice(&json_len.to_le_bytes());
    a[16..24].copy_from_slice(&size.to_le_bytes());
    a[24..28].copy_from_slice(&1u32.to_le_bytes());
    a[32..40].copy_from_slice(&frame::checksum(&body).to_le_bytes());
    let sum = frame::checksum(&a[..40]);
    a[40..48].copy_from_slice(&sum.to_le_bytes());
    a.extend_from_slice(&body);
    a.extend_from_slice(frame);
    a
}

/// The hostile files the SDKs' tests read (tests/data/hostile): a valid 14 KB frame and a
/// valid archive that declare 64 GiB (1024 constant 64 MiB chunks), and the archive with
/// one payload byte changed (its chunk checksum no longer matches).
fn hostile_files() -> Vec<(&'static str, Vec<u8>)> {
    let chunks = 1024;
    let size = chunks * MAX_CHUNK_SIZE as u64;
    let bomb = run_bomb(chunks);
    let archive = archive_around(&bomb, size);
    let mut damaged = archive.clone();
    let last = damaged.len() - 1;
    damaged[last] ^= 1;
    vec![
        ("bomb-64g.znn", bomb),
        ("bomb-64g-archive.znn", archive),
        ("bomb-64g-archive-damaged.znn", damaged),
    ]
}

#[test]
fn hostile_files_are_current() {
    // `ZIPNN_BLESS=1 cargo test --test limits` rewrites them (after a format change).
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/hostile");
    for (name, bytes) in hostile_files() {
        let path = dir.join(name);
        if std::env::var_os("ZIPNN_BLESS").is_some() {
            std::fs::create_dir_all(&dir).unwrap();
            std::fs::write(&path, &bytes).unwrap();
        }
        let on_disk = std::fs::read(&path).unwrap_or_else(|e| panic!("{path:?}: {e}"));
        assert!(
            on_disk == bytes,
            "{name} is stale: rerun with ZIPNN_BLESS=1"
        );
    }
}

fn c_alloc_size(frame: &[u8], max: u64) -> (i32, usize) {
    let o = capi::zipnn_options {
        threads: 1,
        max_decompressed_size: max,
        ..capi::zipnn_options::default()
    };
    let mut n = usize::MAX;
    let st =
        capi::zipnn_decompress_alloc_size(&o, frame.as_ptr().cast::<c_void>(), frame.len(), &mut n);
    (st, n)
}

#[test]
fn alloc_size_applies_the_limit_then_verifies_before_anything_large() {
    let files = hostile_files();
    let bomb = &files[0].1;
    let size = 1024 * MAX_CHUNK_SIZE as u64;
    // The limit comes first, and the declared size is what a valid frame may allocate.
    let ((st, n), largest) = largest_alloc(|| c_alloc_size(bomb, 1 << 20));
    assert_eq!((st, n), (Error::LimitExceeded.code(), usize::MAX));
    assert!(largest <= SMALL);
    let ((st, n), largest) = largest_alloc(|| c_alloc_size(bomb, 0));
    assert_eq!((st, n as u64), (0, size));
    assert!(largest <= SMALL, "allocated {largest}");
    // The frame declares far more than 8x its length: a damaged chunk is found here.
    let mut damaged = bomb.clone();
    let last = damaged.len() - 1;
    damaged[last] ^= 1;
    let ((st, n), largest) = largest_alloc(|| c_alloc_size(&damaged, 0));
    assert_eq!((st, n), (Error::Checksum.code(), usize::MAX));
    assert!(largest <= SMALL);
    // Below the ratio nothing is verified (the decode checks once): a damaged ordinary
    // frame gets its size.
    let (mut f, src) = small_frame();
    let last = f.len() - 1;
    f[last] ^= 1;
    assert_eq!(c_alloc_size(&f, 0), (0, src.len()));
    assert_eq!(
        limit::frame_alloc_size(&f, &ONE),
        Ok(src.len()),
        "the Rust call is the same rule"
    );
    // Garbage after the frame, or a truncated one, never gets a size.
    let mut longer = bomb.clone();
    longer.push(0);
    assert_eq!(c_alloc_size(&longer, 0).0, Error::Corrupt.code());
    assert_eq!(
        c_alloc_size(&bomb[..bomb.len() - 1], 0).0,
        Error::Truncated.code()
    );
}

fn open_c(bytes: &[u8], max: u64) -> *mut capi::zipnn_archive {
    let o = capi::zipnn_options {
        threads: 1,
        max_decompressed_size: max,
        ..capi::zipnn_options::default()
    };
    let mut a = std::ptr::null_mut();
    let st =
        capi::zipnn_archive_open_memory(bytes.as_ptr().cast::<c_void>(), bytes.len(), &o, &mut a);
    assert_eq!(st, 0);
    a
}

#[test]
fn archive_alloc_sizes_apply_the_limit_and_verify_first() {
    let files = hostile_files();
    let (archive, damaged) = (&files[1].1, &files[2].1);
    let size = 1024 * MAX_CHUNK_SIZE as u64;
    for (bytes, max, want) in [
        (archive, 1 << 20, Error::LimitExceeded.code()),
        (archive, 0, 0),
        (damaged, 0, Error::Checksum.code()),
        (damaged, 1 << 20, Error::LimitExceeded.code()),
    ] {
        let a = open_c(bytes, max);
        let (mut n, mut m) = (usize::MAX, usize::MAX);
        let ((s1, s2), largest) = largest_alloc(|| {
            (
                capi::zipnn_archive_decode_alloc_size(a, 0, &mut n),
                capi::zipnn_archive_restore_alloc_size(a, &mut m),
            )
        });
        assert_eq!((s1, s2), (want, want), "max {max}");
        assert!(largest <= SMALL, "allocated {largest}");
        if want == 0 {
            assert_eq!(n as u64, size);
            assert!(m as u64 > size);
        } else {
            assert_eq!((n, m), (usize::MAX, usize::MAX));
        }
        assert_eq!(
            capi::zipnn_archive_decode_alloc_size(a, 1, &mut n),
            Error::NotFound.code()
        );
        capi::zipnn_archive_free(a);
    }
    // From a file, 0 means the default limit (4 GiB): the 64 GiB tensor is refused.
    let dir = std::env::temp_dir().join(format!("zipnn-limits-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("bomb.znn");
    std::fs::write(&path, archive).unwrap();
    let cpath = std::ffi::CString::new(path.to_str().unwrap()).unwrap();
    for (max, want) in [(0, Error::LimitExceeded.code()), (capi::ZIPNN_NO_LIMIT, 0)] {
        let o = capi::zipnn_options {
            max_decompressed_size: max,
            ..capi::zipnn_options::default()
        };
        let mut a = std::ptr::null_mut();
        assert_eq!(capi::zipnn_archive_open_file(cpath.as_ptr(), &o, &mut a), 0);
        let mut n = usize::MAX;
        assert_eq!(capi::zipnn_archive_decode_alloc_size(a, 0, &mut n), want);
        capi::zipnn_archive_free(a);
    }
    std::fs::remove_dir_all(&dir).unwrap();
}
