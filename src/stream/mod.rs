//! Streams: input of any length compressed block by block with bounded memory, and an
//! index at the end for random access. docs/FORMAT.md section 11 describes every byte.
//!
//! A stream is a stream header, one frame (docs/FORMAT.md sections 2-7) per block of
//! `block_size` input bytes (the last block may be shorter), an index (one entry per
//! frame) and a fixed-size trailer at the very end.
//!
//! - [`Compressor`] and [`Decompressor`] are push-style contexts in the zstd idiom: give
//!   them input piece by piece and an output buffer, and they report how much they
//!   consumed and wrote. Their memory is O(`block_size`) whatever the stream's length.
//! - [`Writer`] and [`Reader`] adapt them to [`std::io::Write`] and [`std::io::Read`].
//! - [`StreamReader`] reads the trailer and index of a seekable stream and decodes any
//!   byte range by decoding only the chunks that cover it.
//! - [`compress_into`] and [`decompress_into`] (and [`compress`], [`decompress`]) code a
//!   whole stream held in memory from one slice into another: the bytes and errors of
//!   [`Writer`] and [`Reader`], without their copies through buffers of their own.
//!
//! ```
//! use std::io::{Read, Write};
//! use zipnn::stream::{Reader, StreamReader, Writer, DEFAULT_BLOCK_SIZE};
//! use zipnn::{DType, Options};
//! let data: Vec<u8> = (0..100_000u32).flat_map(|i| ((i as f32).cos() * 0.02).to_le_bytes()).collect();
//! let mut w = Writer::new(Vec::new(), &Options::new(DType::Fp32), DEFAULT_BLOCK_SIZE).unwrap();
//! w.write_all(&data).unwrap();
//! let stream = w.finish().unwrap();
//! let mut back = Vec::new();
//! Reader::new(&stream[..]).read_to_end(&mut back).unwrap();
//! assert_eq!(back, data);
//! let mut r = StreamReader::open(std::io::Cursor::new(&stream)).unwrap();
//! assert_eq!(r.read_range(1000, 50).unwrap(), &data[1000..1050]);
//! ```

mod format;
mod io;
mod mem;
mod push;
mod seek;

pub use format::{
    StreamInfo, DEFAULT_BLOCK_SIZE, END_MAGIC, INDEX_ENTRY_SIZE, INDEX_HEADER_SIZE, INDEX_MAGIC,
    MAX_BLOCK_SIZE, MIN_BLOCK_SIZE, STREAM_HEADER_SIZE, STREAM_MAGIC, STREAM_VERSION, TRAILER_SIZE,
};
pub use io::{error_of, io_error, Reader, Writer};
pub use mem::{compress, compress_bound, compress_into, decompress, decompress_into};
pub use push::{Compressor, Decompressor};
pub use seek::{FrameEntry, StreamReader};
