//! [`Writer`] and [`Reader`]: the push contexts behind [`std::io::Write`] and
//! [`std::io::Read`].

use std::io::{self, Read, Write};

use super::push::{Compressor, Decompressor};
use crate::error::{Error, Result};
use crate::{DecompressOptions, Options};

/// An [`io::Error`] carrying a zipnn [`Error`] (kind `InvalidData`); [`error_of`] gets it
/// back.
pub fn io_error(e: Error) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, e)
}

/// The zipnn [`Error`] inside an [`io::Error`] from this module, if there is one (there is
/// none for errors of the underlying reader or writer).
pub fn error_of(e: &io::Error) -> Option<Error> {
    e.get_ref()
        .and_then(|inner| inner.downcast_ref::<Error>())
        .copied()
}

const IO_BUF: usize = 256 * 1024;

/// An [`io::Write`] that compresses into a stream written to `W`. Call
/// [`Writer::finish`] at the end: dropping a `Writer` leaves the stream unfinished (a
/// reader then reports `Truncated`).
#[derive(Debug)]
pub struct Writer<W: Write> {
    inner: W,
    c: Compressor,
    buf: Vec<u8>,
}

impl<W: Write> Writer<W> {
    /// A writer that compresses with `opts` and `block_size` (see [`Compressor::new`]).
    pub fn new(inner: W, opts: &Options, block_size: u32) -> Result<Writer<W>> {
        Ok(Writer {
            inner,
            c: Compressor::new(opts, block_size)?,
            buf: vec![0; IO_BUF],
        })
    }

    /// The underlying writer.
    pub fn get_ref(&self) -> &W {
        &self.inner
    }

    /// Writes the last frame, the index and the trailer, flushes, and returns the
    /// underlying writer.
    pub fn finish(mut self) -> io::Result<W> {
        loop {
            let (w, done) = self.c.finish(&mut self.buf).map_err(io_error)?;
            self.inner.write_all(&self.buf[..w])?;
            if done {
                break;
            }
        }
        self.inner.flush()?;
        Ok(self.inner)
    }
}

impl<W: Write> Write for Writer<W> {
    fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        let mut c = 0;
        while c < data.len() {
            let (cc, w) = self
                .c
                .compress(&data[c..], &mut self.buf)
                .map_err(io_error)?;
            self.inner.write_all(&self.buf[..w])?;
            c += cc;
        }
        Ok(c)
    }

    /// Writes out the frames coded so far. A partly filled block stays buffered: only the
    /// stream's last frame may be shorter than the block size.
    fn flush(&mut self) -> io::Result<()> {
        loop {
            let (_, w) = self.c.compress(&[], &mut self.buf).map_err(io_error)?;
            if w == 0 {
                break;
            }
            self.inner.write_all(&self.buf[..w])?;
        }
        self.inner.flush()
    }
}

/// An [`io::Read`] that decompresses the stream read from `R`. Reading past the end checks
/// that the stream was complete (`Truncated` otherwise, as an `InvalidData` error; see
/// [`error_of`]) and that nothing follows it (`Corrupt`).
#[derive(Debug)]
pub struct Reader<R: Read> {
    inner: R,
    d: Decompressor,
    buf: Vec<u8>,
    pos: usize,
    len: usize,
    eof: bool,
}

impl<R: Read> Reader<R> {
    /// A reader with default decompression options.
    pub fn new(inner: R) -> Reader<R> {
        Reader::with_options(inner, &DecompressOptions::default())
    }

    /// A reader with `opts` (see [`Decompressor::with_options`]).
    pub fn with_options(inner: R, opts: &DecompressOptions) -> Reader<R> {
        Reader {
            inner,
            d: Decompressor::with_options(opts),
            buf: vec![0; IO_BUF],
            pos: 0,
            len: 0,
            eof: false,
        }
    }

    /// The underlying reader.
    pub fn into_inner(self) -> R {
        self.inner
    }
}

impl<R: Read> Read for Reader<R> {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        if out.is_empty() {
            return Ok(0);
        }
        loop {
            let (c, w) = self
                .d
                .decompress(&self.buf[self.pos..self.len], out)
                .map_err(io_error)?;
            self.pos += c;
            if w > 0 {
                return Ok(w);
            }
            if self.pos == self.len {
                if self.eof {
                    self.d.finish().map_err(io_error)?;
                    return Ok(0);
                }
                self.len = self.inner.read(&mut self.buf)?;
                self.pos = 0;
                self.eof = self.len == 0;
            }
        }
    }
}
