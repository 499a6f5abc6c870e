//! Worker pools stay few: asking for many different thread counts, one after another,
//! leaves a bounded number of threads in the process (each count used to keep a pool of
//! its own for the life of the process: counts 2..300 made 45 000 threads). Its own test
//! binary, so that no other test's threads are counted.

mod common;

use common::{make, Kind};
use zipnn::*;

/// The number of threads in this process, from /proc (Linux only).
#[cfg(target_os = "linux")]
fn os_threads() -> usize {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    let line = status.lines().find(|l| l.starts_with("Threads:")).unwrap();
    line[8..].trim().parse().unwrap()
}

#[cfg(target_os = "linux")]
#[test]
fn many_thread_counts_leave_few_threads() {
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    // The calling thread, rayon's global pool, and at most four pools of at most `cores`.
    let bound = 1 + cores + 4 * cores;
    let src = make(DType::Bf16, Kind::Gaussian, 8 * 65536, 7);
    for threads in 0..300u32 {
        let opts = Options {
            chunk_size: 65536,
            threads,
            ..Options::new(DType::Bf16)
        };
        let frame = compress(&src, &opts).unwrap();
        let d = DecompressOptions {
            threads,
            max_size: 0,
        };
        assert_eq!(
            decompress_with(&frame, &d).unwrap(),
            src,
            "threads {threads}"
        );
    }
    // Pools pushed out of the cache end their threads once idle: wait for that, without
    // timing anything.
    let mut n = os_threads();
    for _ in 0..500 {
        if n <= bound {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(10));
        n = os_threads();
    }
    assert!(n <= bound, "{n} threads left, at most {bound} expected");
}
