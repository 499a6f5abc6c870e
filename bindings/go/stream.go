package zipnn

import (
	"encoding/binary"
	"errors"
	"io"
)

// Stream container format (version 1)
//
// Until the C library has a streaming API, NewWriter and NewReader use a small container
// of whole zipnn frames. All integers are little-endian.
//
//	stream  = header record* end
//	header  = magic "ZNNS" (5A 4E 4E 53) | version u8 = 1 | flags u8 = 0 |
//	          reserved u16 = 0 | block_size u32
//	record  = frame_len u64 (>= 1) | frame (frame_len bytes: one zipnn frame)
//	end     = u64 0
//
// block_size (1..=MaxBlockSize) is the largest original size of any frame in the
// stream; each frame decompresses to at most block_size bytes, and the original data is
// the frames' contents concatenated. A reader refuses a frame_len larger than the
// worst-case bound for block_size (plus 1 MiB of metadata) and a frame that declares
// more than block_size bytes, so memory stays bounded on untrusted input. Bytes after
// the end marker are not read.

const (
	// DefaultBlockSize is the amount of input a Writer from NewWriter compresses into one
	// frame.
	DefaultBlockSize = 4 << 20
	// MaxBlockSize is the largest block size a Writer accepts and a Reader trusts.
	MaxBlockSize = 256 << 20

	streamVersion    = 1
	streamHeaderSize = 12
	maxMetadataSize  = 1 << 20
)

var streamMagic = [4]byte{'Z', 'N', 'N', 'S'}

var (
	errStreamTruncated = &Error{Code: CodeTruncated, Msg: "stream ends before its end marker"}
	errStreamMagic     = &Error{Code: CodeBadMagic, Msg: "not a zipnn stream (bad magic number)"}
	errWriterClosed    = &Error{Code: CodeInvalidParam, Msg: "write to a closed Writer"}
	errReaderClosed    = &Error{Code: CodeInvalidParam, Msg: "read from a closed Reader"}
)

// frameLimit is the largest frame a stream with this block size may hold: the library's
// bound for the smallest chunks and the most planes, plus the largest metadata block.
func frameLimit(blockSize int) uint64 {
	var worst uint64
	for _, planes := range []uint32{1, 2, 4, 8} {
		o := Options{ChunkSize: 1024, BGPartitions: planes}
		worst = max(worst, uint64(CompressBound(blockSize, &o)))
	}
	return worst + maxMetadataSize
}

// Writer compresses a stream of bytes into the container format described at
// NewWriter. It is not safe for concurrent use.
type Writer struct {
	w           io.Writer
	opts        Options
	blockSize   int
	buf         []byte // pending input, at most blockSize bytes
	rec         []byte // scratch: length prefix + frame
	wroteHeader bool
	closed      bool
	err         error // sticky
}

// NewWriter returns a Writer that compresses what is written to it in blocks of
// DefaultBlockSize bytes with opts (nil = defaults) and writes them to w in this
// container format (all integers little-endian):
//
//	header: "ZNNS" | u8 version = 1 | u8 flags = 0 | u16 reserved = 0 | u32 block size
//	record: u64 frame length (>= 1) | one zipnn frame of at most block-size original bytes
//	end:    u64 0
//
// Close must be called to write the final block and the end marker; it does not close
// w. Invalid options are reported by the first Write, Flush or Close.
func NewWriter(w io.Writer, opts *Options) *Writer {
	return NewWriterSize(w, opts, DefaultBlockSize)
}

// NewWriterSize is NewWriter with blockSize bytes of input per frame (1..=MaxBlockSize;
// 0 means DefaultBlockSize). For typed data choose a multiple of the element size.
func NewWriterSize(w io.Writer, opts *Options, blockSize int) *Writer {
	z := &Writer{w: w, blockSize: blockSize}
	if opts != nil {
		z.opts = *opts
	}
	if z.blockSize == 0 {
		z.blockSize = DefaultBlockSize
	}
	if z.blockSize < 0 || z.blockSize > MaxBlockSize {
		z.err = &Error{Code: CodeInvalidParam, Msg: "stream block size out of range"}
		return z
	}
	if CompressBound(z.blockSize, &z.opts) == 0 {
		// Let the library say what is wrong with the options.
		if _, err := Compress(nil, nil, &z.opts); err != nil {
			z.err = err
		} else {
			z.err = ErrInvalidParam
		}
	}
	return z
}

// Write buffers p and writes a record for every full block. It returns len(p) unless an
// error occurred.
func (z *Writer) Write(p []byte) (int, error) {
	if z.err != nil {
		return 0, z.err
	}
	if z.closed {
		return 0, errWriterClosed
	}
	n := 0
	for len(p) > 0 {
		if len(z.buf) == 0 && len(p) >= z.blockSize {
			// A whole block straight from the caller's slice, without copying it.
			if err := z.writeRecord(p[:z.blockSize]); err != nil {
				return n, err
			}
			p = p[z.blockSize:]
			n += z.blockSize
			continue
		}
		if z.buf == nil {
			z.buf = make([]byte, 0, z.blockSize)
		}
		k := copy(z.buf[len(z.buf):z.blockSize], p)
		z.buf = z.buf[:len(z.buf)+k]
		p = p[k:]
		n += k
		if len(z.buf) == z.blockSize {
			if err := z.writeRecord(z.buf); err != nil {
				return n, err
			}
			z.buf = z.buf[:0]
		}
	}
	return n, nil
}

func (z *Writer) writeHeader() error {
	if z.wroteHeader {
		return nil
	}
	var h [streamHeaderSize]byte
	copy(h[:4], streamMagic[:])
	h[4] = streamVersion
	binary.LittleEndian.PutUint32(h[8:], uint32(z.blockSize))
	if _, err := z.w.Write(h[:]); err != nil {
		z.err = err
		return err
	}
	z.wroteHeader = true
	return nil
}

func (z *Writer) writeRecord(block []byte) error {
	if err := z.writeHeader(); err != nil {
		return err
	}
	// The frame is appended after an 8-byte length prefix, so each record is one Write.
	var prefix [8]byte
	out, err := Compress(append(z.rec[:0], prefix[:]...), block, &z.opts)
	if err != nil {
		z.err = err
		return err
	}
	binary.LittleEndian.PutUint64(out[:8], uint64(len(out)-8))
	z.rec = out
	if _, err := z.w.Write(out); err != nil {
		z.err = err
		return err
	}
	return nil
}

// Flush compresses any buffered input into a record and writes it to the underlying
// writer (it does not flush that writer). A stream may contain blocks shorter than the
// block size.
func (z *Writer) Flush() error {
	if z.err != nil {
		return z.err
	}
	if z.closed {
		return errWriterClosed
	}
	if err := z.writeHeader(); err != nil {
		return err
	}
	if len(z.buf) > 0 {
		if err := z.writeRecord(z.buf); err != nil {
			return err
		}
		z.buf = z.buf[:0]
	}
	return nil
}

// Close writes any buffered input and the end marker. It does not close the underlying
// writer. Calling Close again returns the same result as the first call.
func (z *Writer) Close() error {
	if z.closed {
		return z.err
	}
	if err := z.Flush(); err != nil {
		z.closed = true
		return err
	}
	z.closed = true
	var end [8]byte
	if _, err := z.w.Write(end[:]); err != nil {
		z.err = err
		return err
	}
	z.buf, z.rec = nil, nil
	return nil
}

// Reader decompresses a stream written by Writer. It is not safe for concurrent use.
type Reader struct {
	r         io.Reader
	blockSize uint64
	limit     uint64 // largest acceptable frame length
	frame     []byte // scratch for one frame
	out       []byte // decompressed block
	pos       int    // read position in out
	started   bool
	done      bool
	closed    bool
	err       error // sticky
}

// NewReader returns a Reader that decompresses the stream format written by NewWriter
// from r. Reading stops at the end marker; bytes after it are not consumed beyond the
// marker itself. A stream that ends early gives an error matching ErrTruncated; a
// damaged one gives the frame's error (ErrChecksum, ErrCorrupt, ...).
func NewReader(r io.Reader) *Reader {
	return &Reader{r: r}
}

// readFull reads exactly len(b) bytes; an early end of input is a truncated stream.
func (z *Reader) readFull(b []byte) error {
	_, err := io.ReadFull(z.r, b)
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		return errStreamTruncated
	}
	return err
}

func (z *Reader) readHeader() error {
	var h [streamHeaderSize]byte
	if err := z.readFull(h[:]); err != nil {
		return err
	}
	if [4]byte(h[:4]) != streamMagic {
		return errStreamMagic
	}
	if h[4] != streamVersion {
		return &Error{Code: CodeUnsupportedVersion, Msg: "unsupported zipnn stream version"}
	}
	if h[5] != 0 {
		return &Error{Code: CodeUnsupportedFlags, Msg: "zipnn stream uses unsupported flags"}
	}
	if h[6] != 0 || h[7] != 0 {
		return &Error{Code: CodeCorrupt, Msg: "zipnn stream header: reserved bytes are not zero"}
	}
	bs := binary.LittleEndian.Uint32(h[8:])
	if bs == 0 {
		return &Error{Code: CodeCorrupt, Msg: "zipnn stream header: block size is zero"}
	}
	if bs > MaxBlockSize {
		return &Error{Code: CodeLimitExceeded, Msg: "zipnn stream block size exceeds MaxBlockSize"}
	}
	z.blockSize = uint64(bs)
	z.limit = frameLimit(int(bs))
	z.started = true
	return nil
}

// next reads and decompresses the next record into z.out; at the end marker it sets done.
func (z *Reader) next() error {
	if !z.started {
		if err := z.readHeader(); err != nil {
			return err
		}
	}
	var lb [8]byte
	if err := z.readFull(lb[:]); err != nil {
		return err
	}
	n := binary.LittleEndian.Uint64(lb[:])
	if n == 0 {
		z.done = true
		return nil
	}
	if n > z.limit {
		return &Error{Code: CodeCorrupt, Msg: "zipnn stream record is longer than its block size allows"}
	}
	if uint64(cap(z.frame)) < n {
		z.frame = make([]byte, n)
	}
	z.frame = z.frame[:n]
	if err := z.readFull(z.frame); err != nil {
		return err
	}
	info, err := FrameInfo(z.frame)
	if err != nil {
		return err
	}
	if info.FrameSize != n {
		return &Error{Code: CodeCorrupt, Msg: "zipnn stream record length differs from its frame's size"}
	}
	if info.OriginalSize > z.blockSize {
		return &Error{Code: CodeLimitExceeded, Msg: "zipnn stream frame is larger than the stream's block size"}
	}
	opts := Options{MaxDecompressedSize: z.blockSize}
	out, err := DecompressWithOptions(z.out[:0], z.frame, &opts)
	if err != nil {
		return err
	}
	z.out, z.pos = out, 0
	return nil
}

// Read reads decompressed bytes into p. It returns io.EOF after the end marker.
func (z *Reader) Read(p []byte) (int, error) {
	if z.closed {
		return 0, errReaderClosed
	}
	for z.pos >= len(z.out) {
		if z.err != nil {
			return 0, z.err
		}
		if z.done {
			return 0, io.EOF
		}
		if len(p) == 0 {
			return 0, nil
		}
		if err := z.next(); err != nil {
			z.err = err
			z.out, z.pos = z.out[:0], 0
			return 0, err
		}
	}
	n := copy(p, z.out[z.pos:])
	z.pos += n
	return n, nil
}

// Close releases the Reader's buffers; later reads fail. It does not close the
// underlying reader. It always returns nil.
func (z *Reader) Close() error {
	z.closed = true
	z.frame, z.out = nil, nil
	return nil
}
