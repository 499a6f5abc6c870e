//! The progress bar on standard error: shown only when standard error is a terminal and
//! -q was not given. Messages printed through [`Progress::println`] appear above it.

use std::io::{IsTerminal, Read};
use std::time::Duration;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

/// A progress bar over a byte count (cheap to clone; clones share the bar).
#[derive(Clone)]
pub struct Progress {
    bar: ProgressBar,
}

impl Progress {
    /// A bar over `total` bytes (`None`: unknown, a spinner with a byte count).
    pub fn new(total: Option<u64>, quiet: bool, verb: &str) -> Progress {
        let visible = !quiet && std::io::stderr().is_terminal();
        let bar = match total {
            Some(n) => ProgressBar::with_draw_target(Some(n), target(visible)),
            None => ProgressBar::with_draw_target(None, target(visible)),
        };
        let template = if total.is_some() {
            "{spinner} {prefix} [{bar:30}] {bytes}/{total_bytes} {binary_bytes_per_sec} eta {eta} {wide_msg}"
        } else {
            "{spinner} {prefix} {bytes} {binary_bytes_per_sec} {wide_msg}"
        };
        if let Ok(style) = ProgressStyle::with_template(template) {
            bar.set_style(style.progress_chars("=> "));
        }
        bar.set_prefix(verb.to_string());
        if visible {
            bar.enable_steady_tick(Duration::from_millis(200));
        }
        Progress { bar }
    }

    /// A spinner with a message and no byte count (for work measured otherwise).
    pub fn spinner(quiet: bool, verb: &str) -> Progress {
        let p = Progress::new(None, quiet, verb);
        if let Ok(style) = ProgressStyle::with_template("{spinner} {prefix} {elapsed} {wide_msg}") {
            p.bar.set_style(style);
        }
        p
    }

    pub fn inc(&self, n: u64) {
        self.bar.inc(n);
    }

    /// Shows `msg` (e.g. the file being worked on) after the bar.
    pub fn set_message(&self, msg: String) {
        self.bar.set_message(msg);
    }

    /// Prints a line on standard error without garbling the bar.
    pub fn println(&self, line: &str) {
        self.bar.suspend(|| eprintln!("{line}"));
    }

    /// Removes the bar.
    pub fn finish(&self) {
        self.bar.finish_and_clear();
    }
}

fn target(visible: bool) -> ProgressDrawTarget {
    if visible {
        ProgressDrawTarget::stderr()
    } else {
        ProgressDrawTarget::hidden()
    }
}

/// A reader that advances a progress bar by the bytes read through it.
pub struct ProgressRead<R> {
    inner: R,
    progress: Progress,
}

impl<R: Read> ProgressRead<R> {
    pub fn new(inner: R, progress: Progress) -> Self {
        ProgressRead { inner, progress }
    }
}

impl<R: Read> Read for ProgressRead<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.progress.inc(n as u64);
        Ok(n)
    }
}
