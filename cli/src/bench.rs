//! `bench`: compress and decompress files in memory, in the format `compress` would write
//! (an archive for safetensors files, a stream otherwise), and report ratio and speed.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use zipnn::container::safetensors::{self, Archive, SafeTensors};
use zipnn::{DType, DecompressOptions, Lossy, Options, Target};

use crate::args::{BenchArgs, ClockArg, Common};
use crate::codec::{lib_failure, lossy_flag, stored_counts, Base};
use crate::fail::{Code, Failure};
use crate::io::{open_input, read_all, read_base};
use crate::progress::Progress;
use crate::table::{ratio, Table};
use crate::values;

struct Row {
    name: String,
    format: String,
    dtype: String,
    original: u64,
    compressed: u64,
    comp: Duration,
    dec: Duration,
    check: String,
}

pub fn bench(a: &BenchArgs, common: &Common) -> Result<Code, Failure> {
    let opts = a.codec.options(common.threads)?;
    let block_size = a.codec.block_size()?;
    let base_file = a.base.as_deref().map(read_base).transpose()?;
    let base = base_file.as_ref().map(|(n, b)| Base::new(n, b));
    let mut code = Code::Ok;
    let mut rows = Vec::new();
    let progress = Progress::spinner(common.quiet, "bench");
    for p in &a.inputs {
        let mut input = match open_input(p) {
            Ok(i) => i,
            Err(f) => {
                progress.println(&f.to_string());
                code = code.max(f.code);
                continue;
            }
        };
        progress.set_message(input.name.clone());
        let r = read_all(&mut input).and_then(|data| {
            bench_one(
                &input.name,
                &data,
                &opts,
                block_size,
                a.runs,
                a.clock,
                common.threads,
                base.as_ref(),
            )
        });
        match r {
            Ok(row) => rows.push(row),
            Err(f) => {
                progress.println(&f.to_string());
                code = code.max(f.code);
            }
        }
    }
    progress.finish();
    if rows.is_empty() {
        return Ok(code);
    }
    let mut t = Table::new(&[
        ("file", false),
        ("format", false),
        ("dtype", false),
        ("bytes", true),
        ("compressed", true),
        ("ratio", true),
        ("comp MB/s", true),
        ("dec MB/s", true),
        ("check", false),
    ]);
    for r in &rows {
        t.row(vec![
            r.name.clone(),
            r.format.clone(),
            r.dtype.clone(),
            r.original.to_string(),
            r.compressed.to_string(),
            ratio(r.compressed, r.original),
            mbps(r.original, r.comp),
            mbps(r.original, r.dec),
            r.check.clone(),
        ]);
    }
    println!("{}", t.render());
    let threads = match common.threads {
        0 => format!("all {} cores", common.thread_budget()),
        1 => "1 thread".to_string(),
        n => format!("{n} threads"),
    };
    let clock = match a.clock {
        ClockArg::Wall => "",
        ClockArg::Cpu => " (busiest thread's CPU time)",
    };
    let lossy = match opts.lossy {
        Lossy::None => String::new(),
        l => format!("; LOSSY {}", lossy_flag(l)),
    };
    let target = match opts.target {
        Target::Any => "",
        Target::Avx512 => "; target avx512",
    };
    println!(
        "ratio = compressed / original; MB = 10^6 bytes; level {:?}{target}; best of {} run(s) on {threads}{clock}{lossy}",
        opts.level, a.runs
    );
    Ok(code)
}

fn mbps(bytes: u64, t: Duration) -> String {
    let s = t.as_secs_f64();
    if s <= 0.0 {
        "-".into()
    } else {
        format!("{:.0}", bytes as f64 / 1e6 / s)
    }
}

/// Run time of every thread of this process so far, by thread id (Linux:
/// `/proc/self/task/*/schedstat`, whose first field is the nanoseconds a thread has run).
/// The kernel brings a running thread's figure there up to date only at its scheduler
/// ticks (4 ms apart at 250 Hz), so the calling thread's own time is read from
/// `CLOCK_THREAD_CPUTIME_ID` instead: otherwise one-thread runs of a few milliseconds
/// would snap to whole ticks.
#[cfg(target_os = "linux")]
fn thread_times() -> Option<HashMap<String, u64>> {
    // SAFETY: gettid takes no arguments and cannot fail.
    let me = unsafe { libc::syscall(libc::SYS_gettid) }.to_string();
    let mut times = HashMap::new();
    for e in std::fs::read_dir("/proc/self/task").ok()? {
        let Ok(e) = e else { continue };
        let Ok(s) = std::fs::read_to_string(e.path().join("schedstat")) else {
            continue;
        };
        if let Some(ns) = s.split_whitespace().next().and_then(|f| f.parse().ok()) {
            times.insert(e.file_name().to_string_lossy().into_owned(), ns);
        }
    }
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `ts` is a valid timespec for the call to fill.
    if unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) } == 0 {
        times.insert(me, ts.tv_sec as u64 * 1_000_000_000 + ts.tv_nsec as u64);
    }
    (!times.is_empty()).then_some(times)
}

/// No per-thread run times outside Linux: `--clock cpu` is refused there.
#[cfg(not(target_os = "linux"))]
fn thread_times() -> Option<HashMap<String, u64>> {
    None
}

/// A reading of the clock runs are timed by.
enum Mark {
    Wall(Instant),
    Cpu(HashMap<String, u64>),
}

impl Mark {
    fn now(clock: ClockArg) -> Result<Mark, Failure> {
        match clock {
            ClockArg::Wall => Ok(Mark::Wall(Instant::now())),
            ClockArg::Cpu => thread_times().map(Mark::Cpu).ok_or_else(|| {
                Failure::usage("--clock cpu: no thread times here (/proc/self/task)")
            }),
        }
    }

    /// Time since this reading: wall time, or the run time of the thread that ran most
    /// since (threads started since count from zero).
    fn elapsed(&self) -> Duration {
        match self {
            Mark::Wall(t) => t.elapsed(),
            Mark::Cpu(before) => {
                let after = thread_times().unwrap_or_default();
                let busiest = after
                    .iter()
                    .map(|(tid, ns)| ns.saturating_sub(before.get(tid).copied().unwrap_or(0)))
                    .max()
                    .unwrap_or(0);
                Duration::from_nanos(busiest)
            }
        }
    }
}

/// The fastest of `runs` calls of `f` by `clock`, and its last result.
fn best<T>(
    runs: u32,
    clock: ClockArg,
    mut f: impl FnMut() -> Result<T, Failure>,
) -> Result<(Duration, T), Failure> {
    let mut best = Duration::MAX;
    let mut last = None;
    for _ in 0..runs {
        let t0 = Mark::now(clock)?;
        let v = f()?;
        best = best.min(t0.elapsed());
        last = Some(v);
    }
    last.map(|v| (best, v))
        .ok_or_else(|| Failure::usage("--runs must be at least 1"))
}

/// A zero-filled output buffer of `n` bytes, or an allocation failure.
fn out_buffer(n: usize, lib: &impl Fn(zipnn::Error) -> Failure) -> Result<Vec<u8>, Failure> {
    let mut v = Vec::new();
    v.try_reserve_exact(n)
        .map_err(|_| lib(zipnn::Error::Alloc))?;
    v.resize(n, 0);
    Ok(v)
}

/// The zipnn dtype of a safetensors float dtype (others are compared byte for byte).
fn float_dtype(st: &str) -> DType {
    match st {
        "BF16" => DType::Bf16,
        "F16" => DType::Fp16,
        "F32" => DType::Fp32,
        "F64" => DType::Fp64,
        _ => DType::Raw,
    }
}

/// The check column: an exact round trip, or the largest error of a lossy one.
fn check_text(lossy: Lossy, worst: f64) -> String {
    match lossy {
        Lossy::None => "round trip ok".into(),
        Lossy::Mantissa { .. } => format!("lossy ok, max rel err {worst:.2e}"),
        Lossy::Integer { .. } => format!("lossy ok, max abs err {worst:.2e}"),
    }
}

#[allow(clippy::too_many_arguments)]
fn bench_one(
    name: &str,
    data: &[u8],
    opts: &Options,
    block_size: u32,
    runs: u32,
    clock: ClockArg,
    threads: u32,
    base: Option<&Base<'_>>,
) -> Result<Row, Failure> {
    let lib = |e| lib_failure(name, base, e);
    let mismatch = |what: String| {
        Failure::data(
            name,
            format!("round trip mismatch: decompressed bytes differ from the input ({what})"),
        )
    };
    let dopts = DecompressOptions {
        threads,
        max_size: 0,
    };
    let st = safetensors::looks_like_safetensors(data)
        .then(|| SafeTensors::parse(data).ok())
        .flatten();
    let mut back = Vec::new();
    back.try_reserve_exact(data.len())
        .map_err(|_| lib(zipnn::Error::Alloc))?;
    back.resize(data.len(), 0);
    if let Some(st) = st {
        let mut dtypes: Vec<&str> = st.tensors.iter().map(|t| t.dtype.as_str()).collect();
        dtypes.sort_unstable();
        dtypes.dedup();
        let base_st = match base {
            None => None,
            Some(b) => Some(b.st.as_ref().ok_or_else(|| {
                Failure::usage_at(name, format!("--base {} is not a safetensors file", b.name))
            })?),
        };
        // Every run writes into the same buffer, as the one-shot calls are timed: the
        // rows show the coding, not fresh pages.
        let mut dst = out_buffer(safetensors::compress_bound(data, opts).map_err(lib)?, &lib)?;
        let (comp, n) = best(runs, clock, || {
            safetensors::compress_with_base_into(data, base.map(|b| b.bytes), opts, &mut dst)
                .map_err(lib)
        })?;
        let ar = &dst[..n];
        let archive = Archive::open(ar).map_err(lib)?;
        let (dec, _) = best(runs, clock, || {
            archive
                .restore_into(base_st, &mut back, &dopts)
                .map_err(lib)
        })?;
        // The JSON header, then each tensor with its own dtype and lossy mode.
        let head = data.len() - st.data.len();
        let mut worst = values::compare(DType::Raw, Lossy::None, &data[..head], &back[..head])
            .map_err(mismatch)?;
        for (i, t) in st.tensors.iter().enumerate() {
            let (b, e) = (
                head + t.data_offsets.0 as usize,
                head + t.data_offsets.1 as usize,
            );
            let lossy = archive.frame_header_at(i).map_err(lib)?.lossy;
            let err = values::compare(float_dtype(&t.dtype), lossy, &data[b..e], &back[b..e])
                .map_err(|m| mismatch(format!("tensor {:?}: {m}", t.name)))?;
            worst = worst.max(err);
        }
        let counts = stored_counts(&archive).map_err(lib)?;
        let mut format = format!("archive ({} tensors", st.tensors.len());
        if base.is_some() {
            format.push_str(&format!(", {} deltas", counts.deltas));
        }
        format.push(')');
        return Ok(Row {
            name: name.to_string(),
            format,
            dtype: dtypes.join(","),
            original: data.len() as u64,
            compressed: ar.len() as u64,
            comp,
            dec,
            check: check_text(opts.lossy, worst),
        });
    }
    if opts.lossy.check(opts.dtype).is_err() {
        return Err(Failure::usage_at(
            name,
            format!(
                "{}: not a safetensors file, so it needs a float --dtype that suits it",
                lossy_flag(opts.lossy)
            ),
        ));
    }
    let (format, comp, compressed, dec) = if let Some(b) = base {
        // As compress --base writes a plain file: one delta frame.
        if b.bytes.len() != data.len() {
            return Err(Failure::usage_at(
                name,
                format!("--base {} is not of the input's length", b.name),
            ));
        }
        let mut dst = out_buffer(zipnn::compress_bound(data.len(), opts).map_err(lib)?, &lib)?;
        let (comp, n) = best(runs, clock, || {
            zipnn::compress_delta_into(data, b.bytes, &[], opts, &mut dst).map_err(lib)
        })?;
        let frame = &dst[..n];
        let (dec, _) = best(runs, clock, || {
            zipnn::decompress_delta_into_with(frame, b.bytes, &mut back, &dopts).map_err(lib)
        })?;
        ("delta frame", comp, n, dec)
    } else {
        // The stream `compress` writes (the same bytes), coded and decoded in memory from
        // slice to slice as one-shot calls are, into the same buffers every run: every
        // frame's chunks coded in one dispatch over the threads, and on decoding the
        // header, every frame, the index, the trailer and every checksum checked.
        let bound = zipnn::stream::compress_bound(data.len(), opts, block_size).map_err(lib)?;
        let mut dst = out_buffer(bound, &lib)?;
        let (comp, n) = best(runs, clock, || {
            zipnn::stream::compress_into(data, opts, block_size, &mut dst).map_err(lib)
        })?;
        let stream = &dst[..n];
        let (dec, m) = best(runs, clock, || {
            zipnn::stream::decompress_into(stream, &mut back, &dopts).map_err(lib)
        })?;
        if m != data.len() {
            return Err(mismatch("another length".into()));
        }
        ("stream", comp, n, dec)
    };
    let worst = values::compare(opts.dtype, opts.lossy, data, &back).map_err(mismatch)?;
    Ok(Row {
        name: name.to_string(),
        format: format.into(),
        dtype: opts.dtype.name().to_string(),
        original: data.len() as u64,
        compressed: compressed as u64,
        comp,
        dec,
        check: check_text(opts.lossy, worst),
    })
}
