//! Times one path on a safetensors file by CPU time, for A/B comparisons and `perf record`
//! on a machine shared with other work (wall time is not steady there):
//!
//!     cargo build --release --example pathprof
//!     THREADS=1 REPS=20 target/release/examples/pathprof MODE FILE.safetensors [BASE.safetensors]
//!
//! MODE: `frame-c` / `frame-d` (one frame of the data section, as bf16/fp16/fp32 by the
//! file's first tensor), `archive-c` / `archive-d` (the whole file; a delta archive with
//! BASE). Prints MB/s of original bytes, best of REPS runs, by the busiest thread's CPU
//! time (the calling thread's from its own clock, the others' run time from
//! /proc/self/task/*/schedstat): with THREADS=1 that is
//! the time of the one thread doing the work; with more threads it is what the run would
//! take with a core for every thread and no other limit (memory bandwidth shared between
//! cores is not counted), and the total CPU time of all threads is printed beside it.

use std::collections::HashMap;

use zipnn::container::safetensors::{self, Archive, SafeTensors};
use zipnn::{DType, DecompressOptions, Options};

/// Run time in nanoseconds of every thread of this process.
fn thread_times() -> HashMap<String, u64> {
    let mut m = HashMap::new();
    for e in std::fs::read_dir("/proc/self/task")
        .into_iter()
        .flatten()
        .flatten()
    {
        let p = e.path().join("schedstat");
        if let Some(ns) = std::fs::read_to_string(p)
            .ok()
            .and_then(|s| s.split_whitespace().next()?.parse().ok())
        {
            m.insert(e.file_name().to_string_lossy().into_owned(), ns);
        }
    }
    m
}

/// (busiest thread's seconds, all threads' seconds) of running `f`.
fn timed(f: impl FnOnce()) -> (f64, f64) {
    let a = thread_times();
    let own = own_time();
    f();
    let own = own_time() - own;
    let b = thread_times();
    let me = own_tid();
    let mut max = 0u64;
    let mut sum = 0u64;
    for (tid, t) in &b {
        // A running thread's schedstat moves only at scheduler ticks, so the calling
        // thread's own clock times it.
        let d = if Some(tid) == me.as_ref() {
            own
        } else {
            t - a.get(tid).copied().unwrap_or(0)
        };
        max = max.max(d);
        sum += d;
    }
    (max as f64 * 1e-9, sum as f64 * 1e-9)
}

/// The calling thread's CPU time in nanoseconds.
#[cfg(target_os = "linux")]
fn own_time() -> u64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `ts` is a valid timespec for the call to fill.
    unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) };
    ts.tv_sec as u64 * 1_000_000_000 + ts.tv_nsec as u64
}

#[cfg(target_os = "linux")]
fn own_tid() -> Option<String> {
    // SAFETY: gettid has no preconditions.
    Some(unsafe { libc::gettid() }.to_string())
}

#[cfg(not(target_os = "linux"))]
fn own_time() -> u64 {
    0
}

#[cfg(not(target_os = "linux"))]
fn own_tid() -> Option<String> {
    None
}

fn env(name: &str, default: u32) -> u32 {
    std::env::var(name)
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(default)
}

fn main() {
    let a: Vec<String> = std::env::args().collect();
    if a.len() < 3 {
        eprintln!("usage: pathprof frame-c|frame-d|archive-c|archive-d FILE [BASE]");
        std::process::exit(2);
    }
    let mode = a[1].as_str();
    let file = std::fs::read(&a[2]).expect("read FILE");
    let base = a.get(3).map(|p| std::fs::read(p).expect("read BASE"));
    let reps = env("REPS", 20);
    let threads = env("THREADS", 1);
    let st = SafeTensors::parse(&file).expect("a safetensors file");
    let dtype = match st.tensors.first().map(|t| t.dtype.as_str()) {
        Some("BF16") => DType::Bf16,
        Some("F16") => DType::Fp16,
        Some("F32") => DType::Fp32,
        _ => DType::Raw,
    };
    let o = Options {
        threads,
        ..Options::default()
    };
    let fo = Options {
        threads,
        ..Options::new(dtype)
    };
    let d = DecompressOptions {
        threads,
        max_size: 0,
    };
    let (n, mut run): (usize, Box<dyn FnMut()>) = match mode {
        "frame-c" => {
            let mut dst = vec![0u8; zipnn::compress_bound(st.data.len(), &fo).unwrap()];
            let src = st.data;
            (
                src.len(),
                Box::new(move || {
                    zipnn::compress_into(src, &[], &fo, &mut dst).unwrap();
                }),
            )
        }
        "frame-d" => {
            let fr = zipnn::compress(st.data, &fo).unwrap();
            let mut out = vec![0u8; st.data.len()];
            zipnn::decompress_into_with(&fr, &mut out, &d).unwrap();
            assert!(out == st.data, "frame round trip");
            (
                out.len(),
                Box::new(move || {
                    zipnn::decompress_into_with(&fr, &mut out, &d).unwrap();
                }),
            )
        }
        "archive-c" => {
            let mut dst = vec![0u8; safetensors::compress_bound(&file, &o).unwrap()];
            let (f, b) = (&file, base.as_deref());
            (
                f.len(),
                Box::new(move || {
                    safetensors::compress_with_base_into(f, b, &o, &mut dst).unwrap();
                }),
            )
        }
        "archive-d" => {
            let ar = safetensors::compress_with_base(&file, base.as_deref(), &o).unwrap();
            let bst = base.as_ref().map(|b| SafeTensors::parse(b).unwrap());
            let mut out = vec![0u8; file.len()];
            let arc = Archive::open(&ar).unwrap();
            arc.restore_into(bst.as_ref(), &mut out, &d).unwrap();
            assert!(out == file, "archive round trip");
            (
                out.len(),
                Box::new(move || {
                    let arc = Archive::open(&ar).unwrap();
                    arc.restore_into(bst.as_ref(), &mut out, &d).unwrap();
                }),
            )
        }
        _ => panic!("unknown mode {mode}"),
    };
    let (mut best, mut total) = (f64::MAX, 0.0);
    for _ in 0..reps {
        let (t, s) = timed(&mut run);
        if t < best {
            (best, total) = (t, s);
        }
    }
    println!(
        "{mode} threads {threads}: {:.0} MB/s by the busiest thread ({:.2} ms; all threads {:.2} ms)",
        n as f64 / 1e6 / best,
        best * 1e3,
        total * 1e3
    );
}
