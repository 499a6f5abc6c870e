package zipnn

import (
	"bytes"
	"errors"
	"io"
	"os"
	"path/filepath"
	"testing"
)

// fuzzLimit bounds what the fuzz targets decompress, so a crafted header cannot make a
// target allocate gigabytes.
const fuzzLimit = 64 << 20

func seedFrames(f *testing.F) {
	for i, d := range allDTypes {
		for _, n := range []int{0, 1, 9, 3000} {
			src := weights(d, n, uint64(i))
			o := &Options{DType: d, ChunkSize: 1024, Threads: 1, Method: allMethods[(i+n)%len(allMethods)]}
			frame, err := Compress(nil, src, o)
			if err != nil {
				f.Fatal(err)
			}
			f.Add(frame)
		}
	}
	withMeta, _ := CompressWithMetadata(nil, []byte("abcabcabc"), []byte("meta"), nil)
	f.Add(withMeta)
	f.Add([]byte{})
	f.Add([]byte("ZNN"))
	// The cross-language vectors, valid and invalid, when present.
	vecs, _ := filepath.Glob(filepath.Join("..", "..", "tests", "vectors", "*", "*.znn"))
	for _, v := range vecs {
		if b, err := os.ReadFile(v); err == nil {
			f.Add(b)
		}
	}
}

// FuzzDecompress feeds arbitrary bytes to every decoding function: none may crash, and
// their answers must agree with each other.
func FuzzDecompress(f *testing.F) {
	seedFrames(f)
	f.Fuzz(func(t *testing.T, data []byte) {
		orig := append([]byte(nil), data...)
		defer func() {
			if !bytes.Equal(data, orig) {
				t.Fatal("input was modified")
			}
		}()
		info, infoErr := FrameInfo(data)
		size, sizeErr := DecompressedSize(data)
		if (infoErr == nil) != (sizeErr == nil) || (infoErr == nil && info.OriginalSize != size) {
			t.Fatalf("FrameInfo %v / DecompressedSize %v disagree", infoErr, sizeErr)
		}
		if infoErr != nil {
			var ze *Error
			if !errors.As(infoErr, &ze) || ze.Code >= 0 {
				t.Fatalf("FrameInfo error %v is not a status", infoErr)
			}
		}
		_, _ = Metadata(data)
		verifyErr := Verify(data)

		opts := &Options{MaxDecompressedSize: fuzzLimit, Threads: 1}
		out, err := DecompressWithOptions(nil, data, opts)
		if err == nil {
			if verifyErr != nil {
				t.Fatalf("Decompress succeeded but Verify says %v", verifyErr)
			}
			if uint64(len(out)) != size {
				t.Fatalf("decompressed %d bytes, header says %d", len(out), size)
			}
			// The same answer through DecompressInto, and ErrDstTooSmall one byte short.
			exact := make([]byte, len(out))
			if n, err := DecompressInto(exact, data); err != nil || n != len(out) || !bytes.Equal(exact, out) {
				t.Fatalf("DecompressInto: %d, %v", n, err)
			}
			if len(out) > 0 {
				if _, err := DecompressInto(exact[:len(out)-1], data); !errors.Is(err, ErrDstTooSmall) {
					t.Fatalf("short dst: %v", err)
				}
			}
		} else if infoErr == nil && size <= fuzzLimit && errors.Is(err, ErrLimitExceeded) {
			t.Fatalf("limit error for %d bytes", size)
		}
		if infoErr == nil && info.ChunkCount > 0 && info.ChunkSize <= fuzzLimit {
			_, _ = DecompressChunk(nil, data, 0)
			_, _ = DecompressChunk(nil, data, info.ChunkCount-1)
		}
		// The same bytes as a stream must not crash the reader either.
		r := NewReader(bytes.NewReader(data))
		_, _ = io.Copy(io.Discard, r)
	})
}

// FuzzRoundTrip compresses arbitrary bytes with arbitrary options and checks that
// valid options reproduce the input exactly, and invalid ones give a status error.
func FuzzRoundTrip(f *testing.F) {
	f.Add([]byte("hello hello hello"), uint8(0), uint8(0), int8(0), uint8(0), uint16(0))
	f.Add(weights(DTypeBF16, 4096, 1), uint8(DTypeBF16), uint8(MethodHuffman), int8(1), uint8(0), uint16(1))
	f.Add(weights(DTypeFP32, 5000, 2), uint8(DTypeFP32), uint8(MethodZstd), int8(3), uint8(0), uint16(2))
	f.Add(weights(DTypeRaw, 3001, 3), uint8(DTypeRaw), uint8(MethodLZ4), int8(2), uint8(4), uint16(3))
	f.Add([]byte{}, uint8(DTypeFP64), uint8(MethodSnappy), int8(0), uint8(8), uint16(0))
	f.Fuzz(func(t *testing.T, data []byte, dtype, method uint8, level int8, bg uint8, chunk uint16) {
		o := &Options{
			DType:        DType(dtype % 10), // 9 is invalid on purpose
			Method:       Method(method % 7),
			Level:        Level(level % 5),
			BGPartitions: uint32(bg % 10),
			ChunkSize:    uint32(chunk) * 8, // 0 (default), too small, or valid
			Threads:      1,
		}
		orig := append([]byte(nil), data...)
		frame, err := Compress(nil, data, o)
		if !bytes.Equal(data, orig) {
			t.Fatal("input was modified")
		}
		if err != nil {
			var ze *Error
			if !errors.As(err, &ze) || ze.Code >= 0 || CompressBound(len(data), o) != 0 {
				t.Fatalf("Compress(%+v): %v", o, err)
			}
			return
		}
		if len(frame) > CompressBound(len(data), o) {
			t.Fatalf("frame %d bytes > bound", len(frame))
		}
		if err := Verify(frame); err != nil {
			t.Fatalf("Verify: %v", err)
		}
		out, err := Decompress(nil, frame)
		if err != nil || !bytes.Equal(out, data) {
			t.Fatalf("round trip (%+v): %v", o, err)
		}
		// And through a stream with a small block.
		var buf bytes.Buffer
		w := NewWriterSize(&buf, o, MinBlockSize+int(chunk%5000))
		if _, err := w.Write(data); err != nil {
			t.Fatal(err)
		}
		if err := w.Close(); err != nil {
			t.Fatal(err)
		}
		got, err := io.ReadAll(NewReader(&buf))
		if err != nil || !bytes.Equal(got, data) {
			t.Fatalf("stream round trip: %v", err)
		}
	})
}

// FuzzReader feeds arbitrary bytes to the Reader: it must never panic, must end with
// io.EOF or an error, and may end with io.EOF only for a valid stream (when the whole
// input fits in one read of the Reader's buffer, trailing bytes included).
func FuzzReader(f *testing.F) {
	var buf bytes.Buffer
	w := NewWriterSize(&buf, &Options{DType: DTypeBF16, Threads: 1}, 2048)
	w.Write(weights(DTypeBF16, 5000, 1))
	w.Close()
	f.Add(buf.Bytes())
	f.Add(buf.Bytes()[:16])
	f.Add([]byte("\x89ZNS\x01\x00\x00\x00\x00\x04\x00\x00"))
	f.Fuzz(func(t *testing.T, data []byte) {
		r := NewReader(bytes.NewReader(data))
		defer r.Close()
		p := make([]byte, 777)
		var total uint64
		for i := 0; i < 1<<16; i++ {
			n, err := r.Read(p)
			total += uint64(n)
			if err == io.EOF && len(data) <= streamBufSize {
				info, ierr := StreamInfo(data)
				if ierr != nil || info.OriginalSize != total {
					t.Fatalf("Reader gave %d bytes and io.EOF; StreamInfo: %+v, %v", total, info, ierr)
				}
			}
			if err != nil {
				return
			}
		}
	})
}
