//! `bench`: compress and decompress files in memory, in the format `compress` would write
//! (an archive for safetensors files, a stream otherwise), and report ratio and speed.

use std::io::{Cursor, Write};
use std::time::{Duration, Instant};

use zipnn::container::safetensors::{self, Archive, SafeTensors};
use zipnn::stream::{StreamReader, Writer};
use zipnn::Options;

use crate::args::{BenchArgs, Common};
use crate::codec::restore_archive_into;
use crate::fail::{Code, Failure};
use crate::io::{open_input, read_all};
use crate::progress::Progress;
use crate::table::{ratio, Table};

struct Row {
    name: String,
    format: String,
    dtype: String,
    original: u64,
    compressed: u64,
    comp: Duration,
    dec: Duration,
}

pub fn bench(a: &BenchArgs, common: &Common) -> Result<Code, Failure> {
    let opts = a.codec.options(common.threads)?;
    let block_size = a.codec.block_size()?;
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
                common.threads,
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
            "round trip ok".into(),
        ]);
    }
    println!("{}", t.render());
    let threads = match common.threads {
        0 => format!("all {} cores", common.thread_budget()),
        1 => "1 thread".to_string(),
        n => format!("{n} threads"),
    };
    println!(
        "ratio = compressed / original; MB = 10^6 bytes; level {:?}; best of {} run(s) on {threads}",
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

/// The fastest of `runs` calls of `f`, and its last result.
fn best<T>(runs: u32, mut f: impl FnMut() -> Result<T, Failure>) -> Result<(Duration, T), Failure> {
    let mut best = Duration::MAX;
    let mut last = None;
    for _ in 0..runs {
        let t0 = Instant::now();
        let v = f()?;
        best = best.min(t0.elapsed());
        last = Some(v);
    }
    last.map(|v| (best, v))
        .ok_or_else(|| Failure::usage("--runs must be at least 1"))
}

fn bench_one(
    name: &str,
    data: &[u8],
    opts: &Options,
    block_size: u32,
    runs: u32,
    threads: u32,
) -> Result<Row, Failure> {
    let lib = |e| Failure::lib(name, e);
    let io = |e: std::io::Error| Failure::io(name, &e);
    let mismatch = || {
        Failure::data(
            name,
            "round trip mismatch: decompressed bytes differ from the input",
        )
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
        let (comp, ar) = best(runs, || safetensors::compress(data, opts).map_err(lib))?;
        let archive = Archive::open(&ar).map_err(lib)?;
        let (dec, ()) = best(runs, || {
            restore_archive_into(&archive, threads, &mut back).map_err(lib)
        })?;
        if back != data {
            return Err(mismatch());
        }
        return Ok(Row {
            name: name.to_string(),
            format: format!("archive ({} tensors)", st.tensors.len()),
            dtype: dtypes.join(","),
            original: data.len() as u64,
            compressed: ar.len() as u64,
            comp,
            dec,
        });
    }
    let (comp, stream) = best(runs, || {
        let mut w =
            Writer::new(Vec::with_capacity(data.len() / 2), opts, block_size).map_err(lib)?;
        w.write_all(data).map_err(io)?;
        w.finish().map_err(io)
    })?;
    // In memory, as a random-access reader decodes a whole stream: each frame straight
    // into place (header, index, trailer and every chunk checksum are checked).
    let (dec, ()) = best(runs, || {
        let mut r = StreamReader::open(Cursor::new(&stream[..])).map_err(io)?;
        r.set_threads(threads);
        if r.original_size() != data.len() as u64 {
            return Err(mismatch());
        }
        r.read_range_into(0, &mut back).map_err(io)?;
        Ok(())
    })?;
    if back != data {
        return Err(mismatch());
    }
    Ok(Row {
        name: name.to_string(),
        format: "stream".into(),
        dtype: opts.dtype.name().to_string(),
        original: data.len() as u64,
        compressed: stream.len() as u64,
        comp,
        dec,
    })
}
