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

/// An [`io::Write`] that compresses into a stream written to `W`. Call
/// [`Writer::finish`] at the end: dropping a `Writer` leaves the stream unfinished (a
/// reader then reports `Truncated`).
#[derive(Debug)]
pub struct Writer<W: Write> {
    inner: W,
    c: Compressor,
}

impl<W: Write> Writer<W> {
    /// A writer that compresses with `opts` and `block_size` (see [`Compressor::new`]).
    pub fn new(inner: W, opts: &Options, block_size: u32) -> Result<Writer<W>> {
        Ok(Writer {
            inner,
            c: Compressor::new(opts, block_size)?,
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
            self.write_pending()?;
            let (_, done) = self.c.finish(&mut []).map_err(io_error)?;
            if done {
                break;
            }
        }
        self.inner.flush()?;
        Ok(self.inner)
    }

    /// Writes the coded bytes waiting in the compressor straight from its buffer.
    fn write_pending(&mut self) -> io::Result<()> {
        loop {
            let p = self.c.pending();
            if p.is_empty() {
                return Ok(());
            }
            match self.inner.write(p) {
                Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
                Ok(n) => self.c.consume(n),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
    }
}

impl<W: Write> Write for Writer<W> {
    fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        let mut c = 0;
        while c < data.len() {
            self.write_pending()?;
            // No output room: coded frames stay in the compressor, written just above.
            let (cc, _) = self.c.compress(&data[c..], &mut []).map_err(io_error)?;
            c += cc;
        }
        self.write_pending()?;
        Ok(c)
    }

    /// Writes out the frames coded so far. A partly filled block stays buffered: only the
    /// stream's last frame may be shorter than the block size.
    fn flush(&mut self) -> io::Result<()> {
        self.write_pending()?;
        self.c.compress(&[], &mut []).map_err(io_error)?;
        self.write_pending()?;
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
            eof: false,
        }
    }

    /// The underlying reader.
    pub fn into_inner(self) -> R {
        self.inner
    }
}

impl<R: Read> Read for Reader<R> {
    /// Stream bytes are read straight into the decompressor's buffer for the structure it
    /// is gathering; a frame is decoded straight into `out` when `out` holds it.
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        if out.is_empty() {
            return Ok(0);
        }
        loop {
            let (_, w) = self.d.decompress(&[], out).map_err(io_error)?;
            if w > 0 {
                return Ok(w);
            }
            if self.eof {
                self.d.finish().map_err(io_error)?;
                return Ok(0);
            }
            if self.d.is_done() {
                // Anything after the trailer is an error (the decompressor says which).
                let mut probe = [0u8; 1];
                let n = self.inner.read(&mut probe)?;
                self.d.decompress(&probe[..n], &mut []).map_err(io_error)?;
                self.eof = n == 0;
                continue;
            }
            self.eof = self.d.fill_from(&mut self.inner)? == 0;
        }
    }
}
