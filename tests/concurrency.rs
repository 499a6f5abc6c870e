//! Concurrency: many threads compressing and decompressing at once (each with its own data,
//! dtype and method, with `threads` 0 = the shared pool and 1 = the calling thread) give
//! exactly the frames and outputs of a single-threaded run.

mod common;

use std::sync::{Arc, Barrier};
use std::thread;

use common::{make, Kind, KINDS};
use zipnn::*;

const THREADS: usize = 16;
const ROUNDS: usize = 3;

struct Job {
    src: Vec<u8>,
    meta: Vec<u8>,
    opts: Options,
}

fn jobs() -> Vec<Job> {
    (0..THREADS)
        .map(|i| {
            let dtype = DType::ALL[i % DType::ALL.len()];
            let method = Method::ALL[(i / 2) % Method::ALL.len()];
            let kind = KINDS[i % KINDS.len()];
            let kind =
                if matches!(method, Method::Zstd | Method::Lz4 | Method::Snappy) && i % 3 == 0 {
                    Kind::Pattern
                } else {
                    kind
                };
            // Sizes that are not multiples of the element or chunk size, several chunks each.
            let n = 40_000 + i * 3_001;
            Job {
                src: make(dtype, kind, n, 1000 + i as u64),
                meta: format!("job {i}").into_bytes(),
                opts: Options {
                    method,
                    level: [Level::Fast, Level::Default, Level::Max][i % 3],
                    chunk_size: 4096 * (1 + (i as u32 % 3)),
                    threads: 1,
                    ..Options::new(dtype)
                },
            }
        })
        .collect()
}

/// The single-threaded reference: every job compressed on this thread alone.
fn reference(jobs: &[Job]) -> Vec<Vec<u8>> {
    jobs.iter()
        .map(|j| {
            let f = compress_with_metadata(&j.src, &j.meta, &j.opts).unwrap();
            let one = DecompressOptions {
                threads: 1,
                max_size: 0,
            };
            assert_eq!(decompress_with(&f, &one).unwrap(), j.src);
            f
        })
        .collect()
}

#[test]
fn sixteen_threads_give_single_threaded_results() {
    let jobs = Arc::new(jobs());
    let expected = Arc::new(reference(&jobs));
    let barrier = Arc::new(Barrier::new(THREADS));
    let handles: Vec<_> = (0..THREADS)
        .map(|t| {
            let (jobs, expected, barrier) = (jobs.clone(), expected.clone(), barrier.clone());
            thread::spawn(move || {
                barrier.wait(); // start together
                for round in 0..ROUNDS {
                    // Each thread walks all jobs from its own offset, so that different
                    // threads work on different data at any moment.
                    for k in 0..jobs.len() {
                        let i = (t + k + round) % jobs.len();
                        let j = &jobs[i];
                        let threads = ((t + k + round) % 2) as u32; // 0 = pool, 1 = caller
                        let opts = Options {
                            threads,
                            ..j.opts.clone()
                        };
                        let f = compress_with_metadata(&j.src, &j.meta, &opts).unwrap();
                        assert_eq!(f, expected[i], "thread {t} job {i}: frame differs");
                        let d = DecompressOptions {
                            threads: 1 - threads,
                            max_size: 0,
                        };
                        assert_eq!(decompress_with(&f, &d).unwrap(), j.src, "job {i}");
                        let mut dst = vec![0u8; j.src.len()];
                        assert_eq!(decompress_into(&expected[i], &mut dst), Ok(j.src.len()));
                        assert_eq!(dst, j.src);
                        // Random access from many threads at once, too.
                        let info = frame_info(&f).unwrap();
                        let c = (t as u64) % info.chunk_count;
                        let mut chunk = vec![0u8; info.chunk_size as usize];
                        let n = decompress_chunk(&f, c, &mut chunk).unwrap();
                        let start = (c * info.chunk_size as u64) as usize;
                        assert_eq!(&chunk[..n], &j.src[start..start + n]);
                        assert_eq!(metadata(&f).unwrap(), &j.meta[..]);
                        assert_eq!(verify(&f), Ok(()));
                    }
                }
            })
        })
        .collect();
    for h in handles {
        h.join().expect("a worker thread panicked");
    }
}

#[test]
fn many_threads_on_one_shared_frame() {
    // All threads decode the same frame (shared, read-only input) with the shared pool.
    let src = make(DType::Bf16, Kind::Gaussian, 300_001, 77);
    let o = Options {
        chunk_size: 8192,
        ..Options::new(DType::Bf16)
    };
    let frame = Arc::new(compress(&src, &o).unwrap());
    let src = Arc::new(src);
    let handles: Vec<_> = (0..THREADS)
        .map(|t| {
            let (frame, src) = (frame.clone(), src.clone());
            thread::spawn(move || {
                for _ in 0..4 {
                    let d = DecompressOptions {
                        threads: (t % 2) as u32,
                        max_size: 0,
                    };
                    assert_eq!(decompress_with(&frame, &d).unwrap(), *src);
                }
            })
        })
        .collect();
    for h in handles {
        h.join().expect("a worker thread panicked");
    }
}
