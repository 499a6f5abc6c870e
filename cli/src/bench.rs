//! `bench`: compress and decompress files in memory, in the format `compress` would write
//! (an archive for safetensors files, a stream otherwise), and report ratio and speed.

use std::io::{Cursor, Write};
use std::time::{Duration, Instant};

use zipnn::container::safetensors::{self, Archive, SafeTensors};
use zipnn::stream::{StreamReader, Writer};
use zipnn::{DType, DecompressOptions, Lossy, Options};

use crate::args::{BenchArgs, Common};
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
    let lossy = match opts.lossy {
        Lossy::None => String::new(),
        l => format!("; LOSSY {}", lossy_flag(l)),
    };
    println!(
        "ratio = compressed / original; MB = 10^6 bytes; level {:?}; best of {} run(s) on {threads}{lossy}",
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
    threads: u32,
    base: Option<&Base<'_>>,
) -> Result<Row, Failure> {
    let lib = |e| lib_failure(name, base, e);
    let io = |e: std::io::Error| Failure::io(name, &e);
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
        let (comp, n) = best(runs, || {
            safetensors::compress_with_base_into(data, base.map(|b| b.bytes), opts, &mut dst)
                .map_err(lib)
        })?;
        let ar = &dst[..n];
        let archive = Archive::open(ar).map_err(lib)?;
        let (dec, _) = best(runs, || {
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
        let (comp, n) = best(runs, || {
            zipnn::compress_delta_into(data, b.bytes, &[], opts, &mut dst).map_err(lib)
        })?;
        let frame = &dst[..n];
        let (dec, _) = best(runs, || {
            zipnn::decompress_delta_into_with(frame, b.bytes, &mut back, &dopts).map_err(lib)
        })?;
        ("delta frame", comp, n, dec)
    } else {
        // One output vector for every run: it grows in the first and is reused after.
        let mut stream = Vec::new();
        let (comp, ()) = best(runs, || {
            stream.clear();
            let mut w = Writer::new(&mut stream, opts, block_size).map_err(lib)?;
            w.write_all(data).map_err(io)?;
            w.finish().map_err(io)?;
            Ok(())
        })?;
        // In memory, as a random-access reader decodes a whole stream: each frame straight
        // into place (header, index, trailer and every chunk checksum are checked).
        let (dec, ()) = best(runs, || {
            let mut r = StreamReader::open(Cursor::new(&stream[..])).map_err(lib)?;
            r.set_threads(threads);
            if r.original_size() != data.len() as u64 {
                return Err(mismatch("another length".into()));
            }
            r.read_range_into(0, &mut back).map_err(lib)?;
            Ok(())
        })?;
        ("stream", comp, stream.len(), dec)
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
