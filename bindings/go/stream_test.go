package zipnn

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"testing"
	"testing/iotest"
)

// writeStream writes src to a new stream with the given write sizes (cycled).
func writeStream(t testing.TB, src []byte, opts *Options, blockSize int, sizes []int) []byte {
	t.Helper()
	var buf bytes.Buffer
	w := NewWriterSize(&buf, opts, blockSize)
	for i := 0; len(src) > 0; i++ {
		n := min(sizes[i%len(sizes)], len(src))
		k, err := w.Write(src[:n])
		if err != nil || k != n {
			t.Fatalf("Write(%d) = %d, %v", n, k, err)
		}
		src = src[n:]
	}
	if err := w.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	return buf.Bytes()
}

func readStream(t testing.TB, r io.Reader) ([]byte, error) {
	t.Helper()
	return io.ReadAll(NewReader(r))
}

// readSized reads a whole stream with reads of the given sizes (cycled).
func readSized(r io.Reader, sizes []int) ([]byte, error) {
	z := NewReader(r)
	defer z.Close()
	var out []byte
	for i := 0; ; i++ {
		p := make([]byte, sizes[i%len(sizes)])
		n, err := z.Read(p)
		out = append(out, p[:n]...)
		if err == io.EOF {
			return out, nil
		}
		if err != nil {
			return out, err
		}
	}
}

func TestStreamRoundTrip(t *testing.T) {
	writeSizes := [][]int{{1}, {7, 4093, 1, 65537}, {65537}, {3, 999999}}
	readSizes := [][]int{{1}, {7}, {4093}, {65537}, {1, 7, 4093, 65537}}
	for _, d := range []DType{DTypeRaw, DTypeBF16, DTypeFP32, DTypeFP8E4M3} {
		for _, n := range []int{0, 1, 1023, 1024, 1025, 4097, 100003} {
			for _, block := range []int{MinBlockSize, 4096, 0} {
				for si, sizes := range writeSizes {
					if sizes[0] == 1 && len(sizes) == 1 && n > 5000 {
						continue // one-byte writes of large inputs are slow under -race
					}
					src := weights(d, n, uint64(n+block))
					opts := &Options{DType: d, ChunkSize: 1024}
					stream := writeStream(t, src, opts, block, sizes)
					name := fmt.Sprintf("%v/%d/block%d/writes%d", d, n, block, si)
					got, err := readStream(t, bytes.NewReader(stream))
					if err != nil || !bytes.Equal(got, src) {
						t.Fatalf("%s: read back %d of %d bytes: %v", name, len(got), len(src), err)
					}
					if si != 1 {
						continue // the output does not depend on how the input is cut
					}
					for ri, rs := range readSizes {
						if rs[0] == 1 && len(rs) == 1 && n > 5000 {
							continue
						}
						got, err := readSized(bytes.NewReader(stream), rs)
						if err != nil || !bytes.Equal(got, src) {
							t.Fatalf("%s: reads%d: %d of %d bytes: %v", name, ri, len(got), len(src), err)
						}
					}
					// Small and odd reads from the underlying reader.
					got, err = readStream(t, iotest.OneByteReader(iotest.HalfReader(bytes.NewReader(stream))))
					if err != nil || !bytes.Equal(got, src) {
						t.Fatalf("%s: one-byte underlying reads: %v", name, err)
					}
					if n <= 5000 {
						if err := iotest.TestReader(NewReader(bytes.NewReader(stream)), src); err != nil {
							t.Fatalf("%s: iotest.TestReader: %v", name, err)
						}
					}
				}
			}
		}
	}
}

// The output does not depend on how the input is cut, and is the library's stream
// format (checked through StreamInfo and DecodeRange).
func TestStreamFormat(t *testing.T) {
	src := weights(DTypeBF16, 10000, 9)
	opts := &Options{DType: DTypeBF16, ChunkSize: 1024}
	a := writeStream(t, src, opts, 2048, []int{10000})
	b := writeStream(t, src, opts, 2048, []int{1, 7, 4093, 65537})
	if !bytes.Equal(a, b) {
		t.Fatal("output depends on the write sizes")
	}
	if a[0] != 0x89 || string(a[1:4]) != "ZNS" || string(a[len(a)-3:]) != "ZNE" {
		t.Fatalf("not a zipnn stream: % x ... % x", a[:4], a[len(a)-4:])
	}
	info, err := StreamInfo(a)
	if err != nil {
		t.Fatal(err)
	}
	want := StreamDetails{FormatVersion: 1, BlockSize: 2048, FrameCount: 5, OriginalSize: 10000, StreamSize: uint64(len(a))}
	if info != want {
		t.Fatalf("StreamInfo = %+v, want %+v", info, want)
	}

	// An empty stream is 64 bytes: header, empty index, trailer.
	var buf bytes.Buffer
	w := NewWriter(&buf, nil)
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	if _, err := w.Write([]byte("x")); !errors.Is(err, ErrInvalidParam) {
		t.Fatalf("Write after Close: %v", err)
	}
	if err := w.Flush(); !errors.Is(err, ErrInvalidParam) {
		t.Fatalf("Flush after Close: %v", err)
	}
	if buf.Len() != 64 {
		t.Fatalf("empty stream is %d bytes", buf.Len())
	}
	if info, err := StreamInfo(buf.Bytes()); err != nil || info.FrameCount != 0 || info.OriginalSize != 0 ||
		info.BlockSize != DefaultBlockSize {
		t.Fatalf("empty stream info %+v, %v", info, err)
	}
	if got, err := readStream(t, &buf); err != nil || len(got) != 0 {
		t.Fatalf("empty stream: %q, %v", got, err)
	}
}

func TestDecodeRange(t *testing.T) {
	src := weights(DTypeFP32, 20000, 5)
	stream := writeStream(t, src, &Options{DType: DTypeFP32, ChunkSize: 1024}, 4096, []int{20000})
	for _, r := range [][2]int{{0, 0}, {0, 1}, {0, 20000}, {1, 7}, {4095, 2}, {4000, 9000}, {19999, 1}, {19990, 100}, {20000, 5}} {
		dst := make([]byte, r[1])
		n, err := DecodeRange(dst, stream, uint64(r[0]))
		want := src[r[0]:min(r[0]+r[1], len(src))]
		if err != nil || !bytes.Equal(dst[:n], want) {
			t.Fatalf("DecodeRange(%d, %d) = %d, %v", r[0], r[1], n, err)
		}
	}
	if _, err := DecodeRange(make([]byte, 1), stream, 20001); !errors.Is(err, ErrInvalidParam) {
		t.Fatalf("offset past the end: %v", err)
	}
	if _, err := DecodeRange(make([]byte, 1), stream[:len(stream)-1], 0); err == nil {
		t.Fatal("DecodeRange of a truncated stream succeeded")
	}
	if _, err := StreamInfo(nil); err == nil {
		t.Fatal("StreamInfo(nil) succeeded")
	}
}

func TestStreamFlush(t *testing.T) {
	var buf bytes.Buffer
	w := NewWriterSize(&buf, &Options{DType: DTypeBF16}, MinBlockSize)
	part1 := weights(DTypeBF16, 3000, 1) // two whole blocks and a partial one
	if _, err := w.Write(part1); err != nil {
		t.Fatal(err)
	}
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	// The whole blocks are readable before Close; the partial block is not.
	r := NewReader(bytes.NewReader(buf.Bytes()))
	got := make([]byte, 2*MinBlockSize)
	if _, err := io.ReadFull(r, got); err != nil || !bytes.Equal(got, part1[:len(got)]) {
		t.Fatalf("after Flush: %v", err)
	}
	if _, err := r.Read(make([]byte, 1)); !errors.Is(err, ErrTruncated) {
		t.Fatalf("unfinished stream: %v", err)
	}
	part2 := weights(DTypeBF16, 5000, 2)
	w.Write(part2)
	w.Flush()
	w.Flush()
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	all, err := readStream(t, &buf)
	if err != nil || !bytes.Equal(all, append(part1, part2...)) {
		t.Fatalf("after Close: %v", err)
	}
}

// Bytes after the trailer are refused.
func TestStreamTrailingData(t *testing.T) {
	src := weights(DTypeRaw, 10000, 3)
	stream := writeStream(t, src, nil, 4096, []int{10000})
	br := bytes.NewReader(append(append([]byte(nil), stream...), "trailing data"...))
	if _, err := readStream(t, br); !errors.Is(err, ErrCorrupt) {
		t.Fatalf("trailing data: %v", err)
	}
}

func TestStreamErrors(t *testing.T) {
	src := weights(DTypeFP16, 5000, 4)
	stream := writeStream(t, src, &Options{DType: DTypeFP16, ChunkSize: 1024}, 2048, []int{5000})

	// Every proper prefix is an error (truncated, never a silent short read).
	for cut := 0; cut < len(stream); cut++ {
		got, err := readStream(t, bytes.NewReader(stream[:cut]))
		if !errors.Is(err, ErrTruncated) {
			t.Fatalf("cut at %d of %d: %v", cut, len(stream), err)
		}
		if !bytes.Equal(got, src[:len(got)]) {
			t.Fatalf("cut at %d: returned data that is not a prefix of the original", cut)
		}
	}

	// Every flipped byte is an error.
	for i := range stream {
		b := append([]byte(nil), stream...)
		b[i] ^= 0x10
		got, err := readStream(t, bytes.NewReader(b))
		if err == nil {
			t.Fatalf("flipped byte %d of %d: no error", i, len(stream))
		}
		var ze *Error
		if !errors.As(err, &ze) {
			t.Fatalf("flipped byte %d: %v is not an *Error", i, err)
		}
		if len(got) > len(src) || !bytes.Equal(got, src[:len(got)]) {
			t.Fatalf("flipped byte %d: returned data that is not a prefix of the original", i)
		}
	}

	cases := []struct {
		name   string
		stream []byte
		want   error
	}{
		{"magic", append([]byte{'X'}, stream[1:]...), ErrBadMagic},
		{"a bare frame", mustCompress(t, src, nil), ErrBadMagic},
		{"empty", nil, ErrTruncated},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := NewReader(bytes.NewReader(c.stream))
			_, err := io.ReadAll(r)
			if !errors.Is(err, c.want) {
				t.Fatalf("got %v, want %v", err, c.want)
			}
			// The error is sticky.
			if _, err2 := r.Read(make([]byte, 10)); err2 != err {
				t.Fatalf("second Read: %v", err2)
			}
			r.Close()
			r.Close()
			if _, err := r.Read(make([]byte, 1)); err == nil {
				t.Fatal("Read after Close succeeded")
			}
		})
	}

	t.Run("reader error", func(t *testing.T) {
		boom := errors.New("boom")
		_, err := readStream(t, io.MultiReader(bytes.NewReader(stream[:30]), iotest.ErrReader(boom)))
		if err != boom {
			t.Fatalf("got %v", err)
		}
	})

	t.Run("writer error", func(t *testing.T) {
		boom := errors.New("boom")
		w := NewWriterSize(&failWriter{err: boom}, nil, MinBlockSize)
		if _, err := w.Write(make([]byte, 10)); err != boom {
			t.Fatalf("got %v", err)
		}
		if _, err := w.Write([]byte{1}); err != boom {
			t.Fatalf("not sticky: %v", err)
		}
		if err := w.Flush(); err != boom {
			t.Fatalf("Flush: %v", err)
		}
		if err := w.Close(); err != boom {
			t.Fatalf("Close: %v", err)
		}
		if err := w.Close(); err != boom {
			t.Fatalf("second Close: %v", err)
		}
	})

	t.Run("writer error after a block", func(t *testing.T) {
		boom := errors.New("boom")
		fw := &failWriter{err: boom, ok: 1} // the stream header gets through
		w := NewWriterSize(fw, nil, MinBlockSize)
		if _, err := w.Write(make([]byte, MinBlockSize-1)); err != nil {
			t.Fatalf("buffered write failed: %v", err)
		}
		if _, err := w.Write(make([]byte, 10)); err != boom {
			t.Fatalf("got %v", err)
		}
		if err := w.Close(); err != boom {
			t.Fatalf("Close: %v", err)
		}
	})

	t.Run("writer error at Close", func(t *testing.T) {
		boom := errors.New("boom")
		w := NewWriter(&failWriter{err: boom, ok: 1}, nil)
		if _, err := w.Write([]byte("abc")); err != nil {
			t.Fatal(err)
		}
		if err := w.Close(); err != boom {
			t.Fatalf("Close: %v", err)
		}
	})

	t.Run("block size", func(t *testing.T) {
		for _, bs := range []int{-1, 1, MinBlockSize - 1, MaxBlockSize + 1} {
			w := NewWriterSize(&bytes.Buffer{}, nil, bs)
			if _, err := w.Write([]byte{1}); !errors.Is(err, ErrInvalidParam) {
				t.Errorf("block size %d: %v", bs, err)
			}
			if err := w.Close(); !errors.Is(err, ErrInvalidParam) {
				t.Errorf("block size %d: Close: %v", bs, err)
			}
		}
	})
}

// failWriter accepts ok calls to Write, then fails with err.
type failWriter struct {
	err error
	ok  int
}

func (f *failWriter) Write(p []byte) (int, error) {
	if f.ok > 0 {
		f.ok--
		return len(p), nil
	}
	return 0, f.err
}
