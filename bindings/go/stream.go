package zipnn

/*
#include "zipnn.h"
*/
import "C"

import (
	"io"
	"runtime"
	"unsafe"
)

// Streams use the library's stream format (docs/FORMAT.md section 11): a stream header,
// one independent frame per block of input, an index of the frames and a trailer. The
// bytes a Writer produces are exactly those of zipnn_cstream_*, so every SDK (and the
// Rust zipnn::stream Reader and StreamReader) reads them, and NewReader reads streams
// written by any of them.

const (
	// DefaultBlockSize is the amount of input a Writer from NewWriter compresses into one
	// frame (ZIPNN_STREAM_DEFAULT_BLOCK_SIZE).
	DefaultBlockSize = C.ZIPNN_STREAM_DEFAULT_BLOCK_SIZE
	// MinBlockSize is the smallest block size a Writer accepts
	// (ZIPNN_STREAM_MIN_BLOCK_SIZE).
	MinBlockSize = C.ZIPNN_STREAM_MIN_BLOCK_SIZE
	// MaxBlockSize is the largest block size a Writer accepts and a Reader trusts
	// (ZIPNN_STREAM_MAX_BLOCK_SIZE).
	MaxBlockSize = C.ZIPNN_STREAM_MAX_BLOCK_SIZE

	// streamBufSize is the size of the reusable buffer between the C stream context and
	// the underlying writer or reader.
	streamBufSize = 128 << 10
)

var (
	errWriterClosed = &Error{Code: CodeInvalidParam, Msg: "write to a closed Writer"}
	errReaderClosed = &Error{Code: CodeInvalidParam, Msg: "read from a closed Reader"}
	errNoProgress   = &Error{Code: CodeInternal, Msg: "stream context made no progress"}
)

// Writer compresses a stream of bytes into the library's stream format through a
// zipnn_cstream context. It is not safe for concurrent use.
type Writer struct {
	w      io.Writer
	cs     *C.zipnn_cstream
	out    []byte // reusable output buffer
	closed bool
	err    error // sticky
}

// NewWriter returns a Writer that compresses what is written to it with opts (nil =
// defaults) in blocks of DefaultBlockSize bytes and writes the library's stream format
// (docs/FORMAT.md section 11) to w. Close must be called to write the last block, the
// index and the trailer; it does not close w. Invalid options are reported by the first
// Write, Flush or Close. The Writer holds about twice the block size in C memory until
// Close (a finalizer frees it if Close is never called).
func NewWriter(w io.Writer, opts *Options) *Writer {
	return NewWriterSize(w, opts, 0)
}

// NewWriterSize is NewWriter with blockSize bytes of input per frame (0 means
// DefaultBlockSize; else MinBlockSize..=MaxBlockSize, best a multiple of the chunk size).
// Another block size is reported as ErrInvalidParam by the first Write, Flush or Close.
func NewWriterSize(w io.Writer, opts *Options, blockSize int) *Writer {
	z := &Writer{w: w}
	if blockSize < 0 || blockSize > MaxBlockSize {
		z.err = &Error{Code: CodeInvalidParam, Msg: "stream block size out of range"}
		return z
	}
	c := opts.toC()
	var cs *C.zipnn_cstream
	if err := statusError(C.zipnn_cstream_new(&c, C.size_t(blockSize), &cs)); err != nil {
		z.err = err
		return z
	}
	z.cs = cs
	runtime.SetFinalizer(z, (*Writer).free)
	return z
}

func (z *Writer) free() {
	if z.cs != nil {
		C.zipnn_cstream_free(z.cs)
		z.cs = nil
	}
	z.out = nil
}

func (z *Writer) buf() []byte {
	if z.out == nil {
		z.out = make([]byte, streamBufSize)
	}
	return z.out
}

// emit writes out to the underlying writer, recording a failure as the sticky error.
func (z *Writer) emit(out []byte) error {
	if len(out) == 0 {
		return nil
	}
	if _, err := z.w.Write(out); err != nil {
		z.err = err
		return err
	}
	return nil
}

// compress feeds p to the context and writes all the output it produces. It returns
// how many bytes of p were taken.
func (z *Writer) compress(p []byte) (int, error) {
	out := z.buf()
	n := 0
	for {
		var consumed, written C.size_t
		src := p[n:]
		st := C.zipnn_cstream_compress(z.cs, ptr(src), C.size_t(len(src)), &consumed,
			ptr(out), C.size_t(len(out)), &written)
		runtime.KeepAlive(p)
		runtime.KeepAlive(out)
		if err := statusError(st); err != nil {
			z.err = err
			return n, err
		}
		n += int(consumed)
		if err := z.emit(out[:written]); err != nil {
			return n, err
		}
		if int(written) == len(out) {
			continue // the buffer filled up: more output may be waiting
		}
		if n == len(p) {
			return n, nil
		}
		if consumed == 0 && written == 0 {
			z.err = errNoProgress
			return n, z.err
		}
	}
}

// Write compresses p. Output is written to the underlying writer each time a whole
// block has been compressed. It returns len(p) unless an error occurred; errors are
// sticky.
func (z *Writer) Write(p []byte) (int, error) {
	if z.err != nil {
		return 0, z.err
	}
	if z.closed {
		return 0, errWriterClosed
	}
	if len(p) == 0 {
		return 0, nil
	}
	return z.compress(p)
}

// Flush writes to the underlying writer whatever stream bytes the library has produced
// so far (it does not flush that writer). The library writes only whole blocks, so
// Flush cannot force out a partial block: input since the last whole block stays
// buffered until more input completes the block or Close ends the stream. Because
// Write already passes on every finished block, Flush normally has nothing to do.
func (z *Writer) Flush() error {
	if z.err != nil {
		return z.err
	}
	if z.closed {
		return errWriterClosed
	}
	_, err := z.compress(nil)
	return err
}

// Close compresses the buffered input as the last block, writes the index and trailer,
// and frees the C context. It does not close the underlying writer. Calling Close again
// returns the same result as the first call.
func (z *Writer) Close() error {
	if z.closed {
		return z.err
	}
	z.closed = true
	defer z.free()
	if z.err != nil {
		return z.err
	}
	out := z.buf()
	for {
		var written C.size_t
		var done C.int
		st := C.zipnn_cstream_finish(z.cs, ptr(out), C.size_t(len(out)), &written, &done)
		runtime.KeepAlive(out)
		if err := statusError(st); err != nil {
			z.err = err
			return err
		}
		if err := z.emit(out[:written]); err != nil {
			return err
		}
		if done != 0 {
			return nil
		}
		if written == 0 {
			z.err = errNoProgress
			return z.err
		}
	}
}

// Reader decompresses a stream in the library's stream format through a zipnn_dstream
// context. It is not safe for concurrent use.
type Reader struct {
	r      io.Reader
	ds     *C.zipnn_dstream
	in     []byte // reusable input buffer
	inPos  int    // in[inPos:inEnd] is read from r but not yet taken by the context
	inEnd  int
	rerr   error // error (or io.EOF) from r, acted on once the buffered input is used
	closed bool
	err    error // sticky; io.EOF at the end of a complete stream
}

// NewReader returns a Reader that decompresses the library's stream format
// (docs/FORMAT.md section 11, as written by NewWriter or any other zipnn SDK) from r.
// Each frame is checked before any of its bytes are returned. The stream must end where
// r ends: once the trailer has been checked and r has nothing more in the Reader's
// buffer, Read returns io.EOF without reading r further, but bytes after the trailer
// that were read give ErrCorrupt. Input that ends early gives an error matching
// ErrTruncated; damage gives ErrChecksum, ErrCorrupt, ErrBadMagic, ... Errors are
// sticky. Close frees the C context (a finalizer frees it if Close is never called).
func NewReader(r io.Reader) *Reader {
	return NewReaderOptions(r, nil)
}

// NewReaderOptions is NewReader with opts (nil = defaults) giving Threads (workers per
// frame) and MaxDecompressedSize: a stream whose output would pass that many bytes gives
// ErrLimitExceeded, found before the frame that passes it is decoded. The compression
// fields are ignored; invalid options are reported by the first Read.
func NewReaderOptions(r io.Reader, opts *Options) *Reader {
	z := &Reader{r: r}
	c := opts.toC()
	var ds *C.zipnn_dstream
	if err := statusError(C.zipnn_dstream_new(&c, &ds)); err != nil {
		z.err = err
		return z
	}
	z.ds = ds
	runtime.SetFinalizer(z, (*Reader).free)
	return z
}

func (z *Reader) free() {
	if z.ds != nil {
		C.zipnn_dstream_free(z.ds)
		z.ds = nil
	}
	z.in = nil
}

// decompress feeds src to the context and decodes into p.
func (z *Reader) decompress(src, p []byte) (consumed, written int, err error) {
	var c, w C.size_t
	st := C.zipnn_dstream_decompress(z.ds, ptr(src), C.size_t(len(src)), &c,
		ptr(p), C.size_t(len(p)), &w)
	runtime.KeepAlive(src)
	runtime.KeepAlive(p)
	if err := statusError(st); err != nil {
		return 0, 0, err
	}
	return int(c), int(w), nil
}

// Read reads decompressed bytes into p. It returns io.EOF after a complete stream.
func (z *Reader) Read(p []byte) (int, error) {
	if z.closed {
		return 0, errReaderClosed
	}
	if z.err != nil {
		return 0, z.err
	}
	if len(p) == 0 {
		return 0, nil
	}
	n, err := z.read(p)
	if err != nil {
		z.err = err
		if err != io.EOF {
			z.free() // the context only repeats its error from now on
		}
	}
	return n, err
}

func (z *Reader) read(p []byte) (int, error) {
	if z.in == nil {
		z.in = make([]byte, streamBufSize)
	}
	for {
		// Feed buffered input, or take decoded bytes still waiting.
		src := z.in[z.inPos:z.inEnd]
		c, w, err := z.decompress(src, p)
		if err != nil {
			return 0, err
		}
		z.inPos += c
		if w > 0 {
			return w, nil
		}
		if z.inPos < z.inEnd {
			if c == 0 {
				return 0, errNoProgress
			}
			continue
		}
		// All input taken and nothing waiting.
		fin := statusError(C.zipnn_dstream_finish(z.ds))
		if fin == nil {
			return 0, io.EOF
		}
		if z.rerr != nil {
			if z.rerr == io.EOF {
				return 0, fin
			}
			return 0, z.rerr
		}
		m, rerr := z.r.Read(z.in)
		z.inPos, z.inEnd = 0, m
		if rerr != nil {
			z.rerr = rerr
		} else if m == 0 {
			continue // a reader may return 0, nil; try again
		}
	}
}

// Close frees the Reader's C context and buffers; later reads fail. It does not close
// the underlying reader. It always returns nil; calling it again is a no-op.
func (z *Reader) Close() error {
	z.closed = true
	z.free()
	return nil
}

// StreamDetails is what a stream's header, index and trailer say (zipnn_stream_info).
type StreamDetails struct {
	FormatVersion uint32 // stream format version
	BlockSize     uint32 // input bytes per frame (the last frame may hold fewer)
	FrameCount    uint64 // number of frames
	OriginalSize  uint64 // length of the original data
	StreamSize    uint64 // length of the whole stream in bytes
}

// StreamInfo reads the header, index and trailer of the stream that fills src exactly
// (all three are checked; frames are not read).
func StreamInfo(src []byte) (StreamDetails, error) {
	var c C.zipnn_stream_info
	c.struct_size = C.uint32_t(unsafe.Sizeof(c))
	st := C.zipnn_get_stream_info(ptr(src), C.size_t(len(src)), &c)
	runtime.KeepAlive(src)
	if err := statusError(st); err != nil {
		return StreamDetails{}, err
	}
	return StreamDetails{
		FormatVersion: uint32(c.format_version),
		BlockSize:     uint32(c.block_size),
		FrameCount:    uint64(c.frame_count),
		OriginalSize:  uint64(c.original_size),
		StreamSize:    uint64(c.stream_size),
	}, nil
}

// DecodeRange decodes original bytes [offset, offset+len(dst)) of the stream that fills
// src exactly into dst, cut at the end of the data, and returns how many it wrote
// (min(len(dst), original size - offset)). It reads only the index and the frames and
// chunks that cover the range, verifying the header, index, trailer and the decoded
// chunks' checksums. An offset past the end is ErrInvalidParam; on error dst may have
// been partly written.
func DecodeRange(dst, src []byte, offset uint64) (int, error) {
	var written C.size_t
	st := C.zipnn_stream_decode_range(ptr(src), C.size_t(len(src)), C.uint64_t(offset),
		ptr(dst), C.size_t(len(dst)), &written)
	runtime.KeepAlive(src)
	runtime.KeepAlive(dst)
	if err := statusError(st); err != nil {
		return 0, err
	}
	return int(written), nil
}
