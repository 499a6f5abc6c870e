package zipnn

import (
	"bytes"
	"encoding/binary"
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

func TestStreamRoundTrip(t *testing.T) {
	writeSizes := [][]int{{1}, {7, 4093, 1, 65537}, {1 << 20}, {3, 999999}}
	for _, d := range []DType{DTypeRaw, DTypeBF16, DTypeFP32, DTypeFP8E4M3} {
		for _, n := range []int{0, 1, 4095, 4096, 4097, 100003} {
			for _, block := range []int{1, 1000, 4096, 0} {
				for si, sizes := range writeSizes {
					if (sizes[0] == 1 || block == 1) && n > 5000 {
						continue // one-byte writes or blocks of large inputs are slow under -race
					}
					src := weights(d, n, uint64(n+block))
					opts := &Options{DType: d, ChunkSize: 1024}
					stream := writeStream(t, src, opts, block, sizes)
					name := fmt.Sprintf("%v/%d/block%d/writes%d", d, n, block, si)
					got, err := readStream(t, bytes.NewReader(stream))
					if err != nil || !bytes.Equal(got, src) {
						t.Fatalf("%s: read back %d of %d bytes: %v", name, len(got), len(src), err)
					}
					// Small and odd reads.
					got, err = readStream(t, iotest.OneByteReader(iotest.HalfReader(bytes.NewReader(stream))))
					if err != nil || !bytes.Equal(got, src) {
						t.Fatalf("%s: one-byte reads: %v", name, err)
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

func TestStreamFormat(t *testing.T) {
	src := []byte("hello, hello, hello, zipnn stream")
	var buf bytes.Buffer
	w := NewWriterSize(&buf, nil, 10)
	if _, err := w.Write(src); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	if _, err := w.Write([]byte("x")); !errors.Is(err, ErrInvalidParam) {
		t.Fatalf("Write after Close: %v", err)
	}
	s := buf.Bytes()
	if string(s[:4]) != "ZNNS" || s[4] != 1 || s[5] != 0 || s[6] != 0 || s[7] != 0 ||
		binary.LittleEndian.Uint32(s[8:12]) != 10 {
		t.Fatalf("header % x", s[:12])
	}
	// Records: 4 frames (10+10+10+3 bytes), then the end marker.
	p := s[12:]
	var got []byte
	for i := 0; ; i++ {
		n := binary.LittleEndian.Uint64(p)
		p = p[8:]
		if n == 0 {
			break
		}
		frame := p[:n]
		p = p[n:]
		if err := Verify(frame); err != nil {
			t.Fatalf("record %d: %v", i, err)
		}
		var err error
		got, err = Decompress(got, frame)
		if err != nil {
			t.Fatal(err)
		}
	}
	if len(p) != 0 || !bytes.Equal(got, src) {
		t.Fatalf("left %d bytes; got %q", len(p), got)
	}

	// An empty stream is a header and the end marker.
	buf.Reset()
	if err := NewWriter(&buf, nil).Close(); err != nil {
		t.Fatal(err)
	}
	if buf.Len() != 20 {
		t.Fatalf("empty stream is %d bytes", buf.Len())
	}
	if got, err := readStream(t, &buf); err != nil || len(got) != 0 {
		t.Fatalf("empty stream: %q, %v", got, err)
	}
}

func TestStreamFlush(t *testing.T) {
	var buf bytes.Buffer
	w := NewWriter(&buf, &Options{DType: DTypeBF16})
	part1 := weights(DTypeBF16, 3000, 1)
	w.Write(part1)
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	// What was flushed is readable before Close.
	r := NewReader(bytes.NewReader(buf.Bytes()))
	got := make([]byte, len(part1))
	if _, err := io.ReadFull(r, got); err != nil || !bytes.Equal(got, part1) {
		t.Fatalf("after Flush: %v", err)
	}
	if _, err := r.Read(make([]byte, 1)); !errors.Is(err, ErrTruncated) {
		t.Fatalf("unterminated stream: %v", err)
	}
	part2 := weights(DTypeBF16, 5000, 2)
	w.Write(part2)
	w.Flush()
	w.Flush() // nothing buffered: no record
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	all, err := readStream(t, &buf)
	if err != nil || !bytes.Equal(all, append(part1, part2...)) {
		t.Fatalf("after Close: %v", err)
	}
}

func TestStreamStopsAtEndMarker(t *testing.T) {
	src := weights(DTypeRaw, 10000, 3)
	stream := writeStream(t, src, nil, 4096, []int{10000})
	rest := []byte("trailing data")
	br := bytes.NewReader(append(append([]byte(nil), stream...), rest...))
	got, err := readStream(t, br)
	if err != nil || !bytes.Equal(got, src) {
		t.Fatal(err)
	}
	left, _ := io.ReadAll(br)
	if !bytes.Equal(left, rest) {
		t.Fatalf("reader consumed past the end marker: %q left", left)
	}
}

func TestStreamErrors(t *testing.T) {
	src := weights(DTypeFP16, 20000, 4)
	stream := writeStream(t, src, &Options{DType: DTypeFP16}, 8192, []int{20000})

	// Every proper prefix is a truncated stream.
	for cut := 0; cut < len(stream); cut += 1 + cut/50 {
		_, err := readStream(t, bytes.NewReader(stream[:cut]))
		if !errors.Is(err, ErrTruncated) {
			t.Fatalf("cut at %d of %d: %v", cut, len(stream), err)
		}
	}

	edit := func(f func(b []byte)) []byte {
		b := append([]byte(nil), stream...)
		f(b)
		return b
	}
	huge := make([]byte, 8)
	binary.LittleEndian.PutUint64(huge, 1<<62)
	cases := []struct {
		name   string
		stream []byte
		want   error
	}{
		{"magic", edit(func(b []byte) { b[0] = 'X' }), ErrBadMagic},
		{"a bare frame", mustCompress(t, src, nil), ErrBadMagic},
		{"version", edit(func(b []byte) { b[4] = 2 }), ErrUnsupportedVersion},
		{"flags", edit(func(b []byte) { b[5] = 1 }), ErrUnsupportedFlags},
		{"reserved", edit(func(b []byte) { b[7] = 1 }), ErrCorrupt},
		{"block size zero", edit(func(b []byte) { copy(b[8:12], []byte{0, 0, 0, 0}) }), ErrCorrupt},
		{"block size huge", edit(func(b []byte) { copy(b[8:12], []byte{0xff, 0xff, 0xff, 0xff}) }), ErrLimitExceeded},
		{"block smaller than frame", edit(func(b []byte) { copy(b[8:12], []byte{0, 16, 0, 0}) }), ErrLimitExceeded},
		{"record length huge", edit(func(b []byte) { copy(b[12:20], huge) }), ErrCorrupt},
		{"record length short", edit(func(b []byte) { b[12]-- }), ErrTruncated},
		{"record length long", edit(func(b []byte) { b[12]++ }), ErrCorrupt},
		{"frame magic", edit(func(b []byte) { b[20] ^= 1 }), ErrBadMagic},
		{"frame payload", edit(func(b []byte) {
			n := binary.LittleEndian.Uint64(b[12:20])
			b[20+n-1] ^= 1
		}), ErrChecksum},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := NewReader(bytes.NewReader(c.stream))
			got, err := io.ReadAll(r)
			if !errors.Is(err, c.want) {
				t.Fatalf("got %v, want %v", err, c.want)
			}
			if len(got) > len(src) || !bytes.Equal(got, src[:len(got)]) {
				t.Fatal("returned data that is not a prefix of the original")
			}
			// The error is sticky.
			if _, err2 := r.Read(make([]byte, 10)); err2 != err {
				t.Fatalf("second Read: %v", err2)
			}
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
		w := NewWriterSize(failWriter{boom}, nil, 100)
		if _, err := w.Write(make([]byte, 99)); err != nil {
			t.Fatalf("buffered write failed: %v", err)
		}
		if n, err := w.Write(make([]byte, 10)); err != boom || n >= 10 {
			t.Fatalf("got %d, %v", n, err)
		}
		if _, err := w.Write([]byte{1}); err != boom {
			t.Fatalf("not sticky: %v", err)
		}
		if err := w.Close(); err != boom {
			t.Fatalf("Close: %v", err)
		}
	})

	t.Run("block size", func(t *testing.T) {
		for _, bs := range []int{-1, MaxBlockSize + 1} {
			w := NewWriterSize(&bytes.Buffer{}, nil, bs)
			if _, err := w.Write([]byte{1}); !errors.Is(err, ErrInvalidParam) {
				t.Errorf("block size %d: %v", bs, err)
			}
		}
	})
}

type failWriter struct{ err error }

func (f failWriter) Write(p []byte) (int, error) { return 0, f.err }

// The reader's frame-length limit must admit every frame a writer can produce.
func TestFrameLimitCoversWriters(t *testing.T) {
	for _, block := range []int{1, 1000, 4096, DefaultBlockSize, MaxBlockSize} {
		limit := frameLimit(block)
		for _, d := range allDTypes {
			for _, bg := range []uint32{0, 2, 4, 8} {
				if d != DTypeRaw && bg != 0 {
					continue
				}
				for _, cs := range []uint32{1024, 4096, 0} {
					o := Options{DType: d, BGPartitions: bg, ChunkSize: cs}
					if b := CompressBound(block, &o); uint64(b)+maxMetadataSize > limit {
						t.Errorf("block %d %+v: bound %d > limit %d", block, o, b, limit)
					}
				}
			}
		}
	}
}
