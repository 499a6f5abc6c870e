//! `compress` and `decompress`: from arguments to a list of jobs (input, output), then
//! running them: one after another for large files (each with every thread), in parallel
//! for small ones (one thread each), under one progress bar.

use std::collections::HashSet;
use std::ffi::OsString;
use std::fs;
use std::io::IsTerminal;
use std::path::{Path, PathBuf};

use rayon::prelude::*;
use zipnn::{Lossy, Options};

use crate::args::{Common, CompressArgs, DecompressArgs, OutputArgs};
use crate::codec::{self, Base, Outcome};
use crate::fail::{Code, Failure};
use crate::io::{input_name, is_dash, is_temp_name, open_input, read_base, Dest, Sink, SUFFIX};
use crate::model::{self, Direction};
use crate::progress::{Progress, ProgressRead};

/// Files at least this large are worked on one at a time with all threads; smaller ones
/// several at once with one thread each. One stream block: below it a file has no
/// parallelism of its own beyond its chunks.
const LARGE: u64 = 8 << 20;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    Compress,
    Decompress,
}

/// One input and where its output goes.
#[derive(Debug)]
struct Job {
    input: PathBuf,
    dest: Dest,
    /// Input length if known (for the progress bar and scheduling).
    size: Option<u64>,
}

/// What else a model folder needs (module `model`): done after the jobs, one by one.
#[derive(Debug)]
enum Extra {
    /// A file of a model folder copied unchanged under `-o`.
    Copy { input: PathBuf, dest: PathBuf },
    /// An index file written with its shard names rewritten (`dest` may be the input
    /// itself: decompressing a model folder in place).
    Index {
        input: PathBuf,
        dest: PathBuf,
        dir: Direction,
    },
}

/// The jobs of a command line, and what model folders need after them.
struct Plan {
    jobs: Vec<Job>,
    extras: Vec<Extra>,
}

pub fn compress(a: &CompressArgs, common: &Common) -> Result<Code, Failure> {
    let opts = a.codec.options(common.threads)?;
    let block_size = a.codec.block_size()?;
    let base_file = a.base.as_deref().map(read_base).transpose()?;
    let (Plan { jobs, extras }, code) = plan(&a.out, Mode::Compress, common)?;
    let base = base_file.as_ref().map(|(n, b)| Base::new(n, b));
    if opts.lossy != Lossy::None && !common.quiet && !jobs.is_empty() {
        eprintln!("{}", codec::lossy_warning(opts.lossy));
    }
    let force = a.out.force;
    let code = code.max(run(
        jobs,
        common,
        Mode::Compress,
        |job, threads, progress| {
            let o = Options {
                threads,
                ..opts.clone()
            };
            let mut input = open_input(&job.input)?;
            input.reader = Box::new(ProgressRead::new(input.reader, progress.clone()));
            let mut sink = Sink::open(&job.dest, force)?;
            let out = codec::compress(
                &mut input,
                &mut sink,
                &job.dest.name(),
                &o,
                block_size,
                base.as_ref(),
                progress,
            )?;
            sink.commit(input.perms.take())?;
            Ok(out)
        },
    ));
    Ok(code.max(run_extras(&extras, code, force, common)))
}

pub fn decompress(a: &DecompressArgs, common: &Common) -> Result<Code, Failure> {
    let base_file = a.base.as_deref().map(read_base).transpose()?;
    let (Plan { jobs, extras }, code) = plan(&a.out, Mode::Decompress, common)?;
    let base = base_file.as_ref().map(|(n, b)| Base::new(n, b));
    let force = a.out.force;
    let max_size = a.max_size();
    let code = code.max(run(
        jobs,
        common,
        Mode::Decompress,
        |job, threads, progress| {
            let mut input = open_input(&job.input)?;
            input.reader = Box::new(ProgressRead::new(input.reader, progress.clone()));
            let mut sink = Sink::open(&job.dest, force)?;
            let out = codec::decompress(
                &mut input,
                &mut sink,
                &job.dest.name(),
                matches!(job.dest, Dest::Stdout),
                threads,
                max_size,
                base.as_ref(),
                progress,
            )?;
            sink.commit(input.perms.take())?;
            Ok(out)
        },
    ));
    Ok(code.max(run_extras(&extras, code, force, common)))
}

/// The output name for `input` (a file name or relative path) in `mode`.
fn output_name(input: &Path, mode: Mode) -> Result<PathBuf, Failure> {
    match mode {
        Mode::Compress => {
            let mut s: OsString = input.as_os_str().to_owned();
            s.push(SUFFIX);
            Ok(PathBuf::from(s))
        }
        Mode::Decompress => match strip_suffix(input) {
            Some(p) => Ok(p),
            None => Err(Failure::usage_at(
                input_name(input),
                "unknown suffix (expected .znn); use -o to name the output",
            )),
        },
    }
}

fn has_suffix(p: &Path) -> bool {
    strip_suffix(p).is_some()
}

fn strip_suffix(p: &Path) -> Option<PathBuf> {
    let name = p.file_name()?.to_str()?;
    let stem = name.strip_suffix(SUFFIX)?;
    (!stem.is_empty()).then(|| p.with_file_name(stem))
}

/// Turns the arguments into jobs. Per-file problems (a directory without -r, an unknown
/// suffix) are printed and counted in the returned code; problems with the command as a
/// whole are errors.
fn plan(out: &OutputArgs, mode: Mode, common: &Common) -> Result<(Plan, Code), Failure> {
    if out.stdout && out.output.is_some() {
        return Err(Failure::usage("-c/--stdout and -o cannot be used together"));
    }
    let to_stdout = out.stdout || out.output.as_deref().is_some_and(is_dash);
    let mut code = Code::Ok;
    let mut fail = |f: Failure| {
        f.report();
        code = code.max(f.code);
    };

    // Inputs: (path, relative path under an output directory).
    let mut inputs: Vec<(PathBuf, PathBuf)> = Vec::new();
    // Other files of model folders: (path, relative path, whether it is an index).
    let mut others: Vec<(PathBuf, PathBuf, bool)> = Vec::new();
    let mut recursed = false;
    for p in &out.inputs {
        if is_dash(p) {
            inputs.push((p.clone(), PathBuf::new()));
            continue;
        }
        let is_dir = fs::metadata(p).map(|m| m.is_dir()).unwrap_or(false);
        if !is_dir {
            if mode == Mode::Compress && has_suffix(p) && p.exists() {
                if !common.quiet {
                    eprintln!(
                        "zipnn: {}: already has the {SUFFIX} suffix; skipped",
                        p.display()
                    );
                }
                continue;
            }
            // A missing file is reported when it is opened, with the other I/O errors.
            let rel = p.file_name().map(PathBuf::from).unwrap_or_default();
            inputs.push((p.clone(), rel));
            continue;
        }
        if !out.recursive {
            fail(Failure::usage_at(
                p.display(),
                "is a directory (use -r to recurse)",
            ));
            continue;
        }
        recursed = true;
        let mut files = Vec::new();
        walk(p, Path::new(""), &mut files, &mut fail);
        let in_model = model::model_files(&files, mode == Mode::Decompress);
        let all: HashSet<&PathBuf> = files.iter().collect();
        // The other form of a shard that is (de)compressed here: not an input, not copied.
        let other_form = |rel: &Path| match mode {
            Mode::Compress => strip_suffix(rel).is_some_and(|p| all.contains(&p)),
            Mode::Decompress => {
                let mut s: OsString = rel.as_os_str().to_owned();
                s.push(SUFFIX);
                all.contains(&PathBuf::from(s))
            }
        };
        for rel in files.iter().cloned() {
            if in_model.contains(&rel) {
                let abs = p.join(&rel);
                match mode {
                    Mode::Compress if model::is_plain_weights(&rel) => inputs.push((abs, rel)),
                    Mode::Decompress if has_suffix(&rel) => inputs.push((abs, rel)),
                    _ if other_form(&rel) => {}
                    _ => {
                        let index = model::is_index(&rel);
                        others.push((abs, rel, index));
                    }
                }
                continue;
            }
            let keep = match mode {
                Mode::Compress => !has_suffix(&rel),
                Mode::Decompress => has_suffix(&rel),
            };
            if keep {
                inputs.push((p.join(&rel), rel));
            }
        }
    }

    let several = out.inputs.len() > 1 || recursed;
    if several && inputs.iter().any(|(p, _)| is_dash(p)) {
        return Err(Failure::usage("- (standard input) must be the only input"));
    }
    if to_stdout && several {
        return Err(Failure::usage(
            "-c/--stdout (or -o -) takes exactly one input file",
        ));
    }
    let out_dir = match &out.output {
        Some(o) if !is_dash(o) && (several || o.is_dir()) => Some(o.clone()),
        _ => None,
    };

    let mut jobs = Vec::with_capacity(inputs.len());
    for (input, rel) in inputs {
        let dest = if to_stdout || (is_dash(&input) && out.output.is_none()) {
            Dest::Stdout
        } else if let Some(dir) = &out_dir {
            if is_dash(&input) {
                return Err(Failure::usage(
                    "- (standard input) needs -o FILE, not a directory",
                ));
            }
            match output_name(&rel, mode) {
                Ok(r) => Dest::File(dir.join(r)),
                Err(f) => {
                    fail(f);
                    continue;
                }
            }
        } else if let Some(o) = &out.output {
            Dest::File(o.clone())
        } else {
            match output_name(&input, mode) {
                Ok(p) => Dest::File(p),
                Err(f) => {
                    fail(f);
                    continue;
                }
            }
        };
        let size = if is_dash(&input) {
            None
        } else {
            fs::metadata(&input).ok().map(|m| m.len())
        };
        jobs.push(Job { input, dest, size });
    }
    let direction = match mode {
        Mode::Compress => Direction::ToCompressed,
        Mode::Decompress => Direction::ToPlain,
    };
    let mut extras = Vec::new();
    for (input, rel, index) in others {
        match (&out_dir, index) {
            (Some(dir), false) => extras.push(Extra::Copy {
                input,
                dest: dir.join(rel),
            }),
            (Some(dir), true) => extras.push(Extra::Index {
                input,
                dest: dir.join(rel),
                dir: direction,
            }),
            // In place, the index is rewritten when the plain weights come back: the folder
            // then loads without zipnn. Compressing in place keeps the plain weights, and
            // the index that names them.
            (None, true) if mode == Mode::Decompress => extras.push(Extra::Index {
                dest: input.clone(),
                input,
                dir: direction,
            }),
            (None, _) => {}
        }
    }

    if mode == Mode::Compress
        && jobs.iter().any(|j| j.dest == Dest::Stdout)
        && std::io::stdout().is_terminal()
    {
        return Err(Failure::usage(
            "refusing to write compressed data to a terminal (use -o FILE or redirect standard output)",
        ));
    }
    let extra_dests = extras.iter().filter_map(|e| match e {
        Extra::Copy { dest, .. } => Some(dest),
        Extra::Index { input, dest, .. } => (input != dest).then_some(dest),
    });
    let dests: Vec<&PathBuf> = jobs
        .iter()
        .filter_map(|j| match &j.dest {
            Dest::File(p) => Some(p),
            Dest::Stdout => None,
        })
        .chain(extra_dests)
        .collect();
    let mut seen = HashSet::new();
    for p in &dests {
        if !seen.insert(*p) {
            return Err(Failure::usage_at(
                p.display(),
                "would be written by more than one input",
            ));
        }
    }
    for j in &jobs {
        match &j.dest {
            Dest::File(p) if same_file(&j.input, p) => return Err(Failure::usage_at(
                p.display(),
                "is the input itself: zipnn never replaces its inputs (write the output elsewhere)",
            )),
            _ => {}
        }
    }
    // Output directories: created now, so that parallel jobs need not race for them.
    if let Some(dir) = &out_dir {
        for p in &dests {
            if let Some(parent) = p.parent() {
                fs::create_dir_all(parent).map_err(|e| Failure::io(dir.display(), &e))?;
            }
        }
    }
    Ok((Plan { jobs, extras }, code))
}

/// Copies and index files of model folders, after the jobs (`jobs_code`: how they went).
/// Prints a line per file (unless -q) and every failure; returns the largest exit code.
fn run_extras(extras: &[Extra], jobs_code: Code, force: bool, common: &Common) -> Code {
    let mut code = Code::Ok;
    for e in extras {
        let r = match e {
            Extra::Copy { input, dest } => copy_file(input, dest, force),
            Extra::Index { input, dest, .. } if input == dest && jobs_code != Code::Ok => {
                Err(Failure::new(
                    jobs_code,
                    Some(input_name(input)),
                    "not rewritten to name the .safetensors files: not every one was restored",
                ))
            }
            Extra::Index { input, dest, dir } => rewrite_index_file(input, dest, *dir, force),
        };
        match r {
            Ok(Some(line)) if !common.quiet => eprintln!("{line}"),
            Ok(_) => {}
            Err(f) => {
                f.report();
                code = code.max(f.code);
            }
        }
    }
    code
}

/// Copies a file of a model folder unchanged (through a temporary file, as every output).
fn copy_file(input: &Path, dest: &Path, force: bool) -> Result<Option<String>, Failure> {
    let mut i = open_input(input)?;
    let d = Dest::File(dest.to_path_buf());
    let mut sink = Sink::open(&d, force)?;
    let n = crate::io::copy(&mut i.reader, &i.name, &mut sink, &d.name(), 1 << 20)?;
    sink.commit(i.perms.take())?;
    Ok(Some(format!(
        "{}: {n} bytes copied -> {}",
        i.name,
        d.name()
    )))
}

/// Writes the index `input` with its shard names rewritten to `dest` (which may be `input`:
/// then it is replaced, and left alone when nothing changes).
fn rewrite_index_file(
    input: &Path,
    dest: &Path,
    dir: Direction,
    force: bool,
) -> Result<Option<String>, Failure> {
    let mut i = open_input(input)?;
    let text = crate::io::read_all(&mut i)?;
    let (out, n) = model::rewrite_index(&text, dir).map_err(|m| Failure::data(&i.name, m))?;
    let in_place = input == dest;
    if in_place && out == text {
        return Ok(None);
    }
    let d = Dest::File(dest.to_path_buf());
    let mut sink = Sink::open(&d, force || in_place)?;
    std::io::Write::write_all(&mut sink, &out).map_err(|e| Failure::io(d.name(), &e))?;
    sink.commit(i.perms.take())?;
    let names = match dir {
        Direction::ToCompressed => "X.safetensors.znn",
        Direction::ToPlain => "X.safetensors",
    };
    Ok(Some(format!(
        "{}: index, {n} shard names rewritten to {names} -> {}",
        i.name,
        d.name()
    )))
}

/// Whether `input` and `output` name the same existing file (through links, `..` or
/// another name of it: same device and inode on Unix, same canonical path elsewhere).
fn same_file(input: &Path, output: &Path) -> bool {
    if is_dash(input) {
        return false;
    }
    let (Ok(a), Ok(b)) = (fs::metadata(input), fs::metadata(output)) else {
        return false;
    };
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt;
        a.dev() == b.dev() && a.ino() == b.ino()
    }
    #[cfg(not(unix))]
    {
        let _ = (a, b);
        matches!((fs::canonicalize(input), fs::canonicalize(output)), (Ok(x), Ok(y)) if x == y)
    }
}

/// Regular files under `root/rel` (relative to `root`), sorted; symbolic links to files are
/// followed, to directories not (no loops).
fn walk(root: &Path, rel: &Path, files: &mut Vec<PathBuf>, fail: &mut dyn FnMut(Failure)) {
    let dir = root.join(rel);
    let entries = match fs::read_dir(&dir) {
        Ok(e) => e,
        Err(e) => return fail(Failure::io(dir.display(), &e)),
    };
    let mut names: Vec<_> = entries.filter_map(|e| e.ok()).collect();
    names.sort_by_key(|e| e.file_name());
    for e in names {
        let r = rel.join(e.file_name());
        let Ok(ft) = e.file_type() else { continue };
        if ft.is_dir() {
            walk(root, &r, files, fail);
        } else if (ft.is_file() || (ft.is_symlink() && e.path().is_file())) && !is_temp_name(&r) {
            files.push(r);
        }
    }
}

/// Runs the jobs; prints a summary per file (unless -q) and every failure; returns the
/// largest exit code.
fn run<F>(jobs: Vec<Job>, common: &Common, mode: Mode, work: F) -> Code
where
    F: Fn(&Job, u32, &Progress) -> Result<Outcome, Failure> + Sync,
{
    let total = jobs.iter().map(|j| j.size).sum::<Option<u64>>();
    let verb = match mode {
        Mode::Compress => "compress",
        Mode::Decompress => "decompress",
    };
    let progress = Progress::new(total, common.quiet, verb);
    let report = |job: &Job, r: Result<Outcome, Failure>| -> Code {
        match r {
            Ok(o) => {
                if !common.quiet {
                    progress.println(&summary(job, &o, mode));
                }
                Code::Ok
            }
            Err(f) => {
                progress.println(&f.to_string());
                f.code
            }
        }
    };
    let budget = common.thread_budget();
    let (small, large): (Vec<&Job>, Vec<&Job>) = jobs
        .iter()
        .partition(|j| jobs.len() > 1 && budget > 1 && j.size.is_some_and(|s| s < LARGE));
    let mut code = Code::Ok;
    if !small.is_empty() {
        let pool = rayon::ThreadPoolBuilder::new().num_threads(budget).build();
        let one = |j: &&Job| {
            progress.set_message(input_name(&j.input));
            report(j, work(j, 1, &progress))
        };
        let c = match pool {
            Ok(pool) => pool.install(|| small.par_iter().map(one).max()),
            Err(_) => small.iter().map(one).max(),
        };
        code = code.max(c.unwrap_or(Code::Ok));
    }
    for j in large {
        progress.set_message(input_name(&j.input));
        code = code.max(report(j, work(j, common.threads, &progress)));
    }
    progress.finish();
    code
}

fn summary(job: &Job, o: &Outcome, mode: Mode) -> String {
    let (orig, comp) = match mode {
        Mode::Compress => (o.read, o.written),
        Mode::Decompress => (o.written, o.read),
    };
    let ratio = if orig > 0 {
        format!(", ratio {:.4}", comp as f64 / orig as f64)
    } else {
        String::new()
    };
    format!(
        "{}: {} -> {} bytes{ratio} ({}) -> {}",
        input_name(&job.input),
        o.read,
        o.written,
        o.what,
        job.dest.name()
    )
}
