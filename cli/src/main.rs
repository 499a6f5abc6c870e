//! `zipnn`: the command-line tool over the zipnn library (docs/CLI.md).
//!
//! - `compress` / `decompress`: files, standard input and output, directory trees.
//!   Plain files become streams (bounded memory); safetensors files become archives.
//! - `info`: what a zipnn file holds, per tensor, frame or chunk.
//! - `verify`: checks every checksum without writing anything.
//! - `bench`: compresses and decompresses in memory and reports ratio and speed.
//! - `convert`: rewrites files the reference package wrote in zipnn's format.

mod args;
mod bench;
mod codec;
mod convert;
mod fail;
mod inspect;
mod io;
mod jobs;
mod model;
mod progress;
mod table;
mod values;

use std::process::ExitCode;

use clap::Parser;

use crate::args::{Cli, Cmd};
use crate::fail::Code;

fn main() -> ExitCode {
    let cli = Cli::parse();
    let code = run(cli);
    ExitCode::from(code as u8)
}

/// Runs one command and returns its exit code (errors have been printed).
fn run(cli: Cli) -> Code {
    let common = cli.common();
    let result = match cli.cmd {
        Cmd::Compress(a) => jobs::compress(&a, &common),
        Cmd::Decompress(a) => jobs::decompress(&a, &common),
        Cmd::Info(a) => inspect::info(&a, &common),
        Cmd::Verify(a) => inspect::verify(&a, &common),
        Cmd::Bench(a) => bench::bench(&a, &common),
        Cmd::Convert(a) => convert::run(&a, &common),
    };
    match result {
        Ok(code) => code,
        Err(f) => {
            f.report();
            f.code
        }
    }
}
