package zipnn

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"strings"
	"sync"
	"testing"
)

var allDTypes = []DType{
	DTypeRaw, DTypeBF16, DTypeFP16, DTypeFP32, DTypeFP64,
	DTypeFP8E4M3, DTypeFP8E5M2, DTypeInt8, DTypeUint8,
}

var allMethods = []Method{MethodAuto, MethodHuffman, MethodZstd, MethodLZ4, MethodSnappy, MethodRaw}

// weights returns n bytes that look like tensor data of dtype d: normally distributed
// values, so the exponent planes compress and the mantissa planes mostly do not.
func weights(d DType, n int, seed uint64) []byte {
	r := rand.New(rand.NewPCG(seed, uint64(d)+1))
	out := make([]byte, n)
	i := 0
	put := func(b []byte) {
		i += copy(out[i:], b)
	}
	var tmp [8]byte
	for i < n {
		v := r.NormFloat64() * 0.02
		switch d {
		case DTypeBF16:
			binary.LittleEndian.PutUint16(tmp[:], uint16(math.Float32bits(float32(v))>>16))
			put(tmp[:2])
		case DTypeFP16:
			// Not an exact conversion; what matters is an fp16-like byte layout.
			bits := math.Float32bits(float32(v))
			sign := uint16(bits>>16) & 0x8000
			exp := int((bits>>23)&0xff) - 127 + 15
			if exp < 1 {
				exp = 1
			}
			binary.LittleEndian.PutUint16(tmp[:], sign|uint16(exp&0x1f)<<10|uint16(bits>>13)&0x3ff)
			put(tmp[:2])
		case DTypeFP32:
			binary.LittleEndian.PutUint32(tmp[:], math.Float32bits(float32(v)))
			put(tmp[:4])
		case DTypeFP64:
			binary.LittleEndian.PutUint64(tmp[:], math.Float64bits(v))
			put(tmp[:8])
		case DTypeInt8, DTypeUint8, DTypeFP8E4M3, DTypeFP8E5M2:
			put([]byte{byte(int8(v * 2000))})
		default:
			put([]byte{byte(r.IntN(16)), byte(r.Uint32())})
		}
	}
	return out
}

func mustCompress(t testing.TB, src []byte, opts *Options) []byte {
	t.Helper()
	frame, err := Compress(nil, src, opts)
	if err != nil {
		t.Fatalf("Compress(%d bytes, %+v): %v", len(src), opts, err)
	}
	return frame
}

// checkFrame checks every read path of frame against the original src.
func checkFrame(t *testing.T, frame, src []byte, d DType, planes uint32) {
	t.Helper()
	if err := Verify(frame); err != nil {
		t.Fatalf("Verify: %v", err)
	}
	size, err := DecompressedSize(frame)
	if err != nil || size != uint64(len(src)) {
		t.Fatalf("DecompressedSize = %d, %v; want %d", size, err, len(src))
	}
	info, err := FrameInfo(frame)
	if err != nil {
		t.Fatalf("FrameInfo: %v", err)
	}
	if info.DType != d || info.OriginalSize != uint64(len(src)) || info.FrameSize != uint64(len(frame)) ||
		info.FormatVersion != FormatVersion() || (planes != 0 && info.Planes != planes) {
		t.Fatalf("FrameInfo = %+v; dtype %v, %d bytes, frame %d, planes %d", info, d, len(src), len(frame), planes)
	}
	got, err := Decompress(nil, frame)
	if err != nil || !bytes.Equal(got, src) {
		t.Fatalf("Decompress: err %v, equal %v", err, bytes.Equal(got, src))
	}
	prefix := []byte("prefix")
	got, err = Decompress(prefix, frame)
	if err != nil || !bytes.HasPrefix(got, []byte("prefix")) || !bytes.Equal(got[len(prefix):], src) {
		t.Fatalf("Decompress with prefix: %v", err)
	}
	exact := make([]byte, len(src))
	n, err := DecompressInto(exact, frame)
	if err != nil || n != len(src) || !bytes.Equal(exact, src) {
		t.Fatalf("DecompressInto: n %d err %v", n, err)
	}
	// Chunks concatenated, plus the tail that belongs to no chunk, give the original.
	var all []byte
	for i := uint64(0); i < info.ChunkCount; i++ {
		all, err = DecompressChunk(all, frame, i)
		if err != nil {
			t.Fatalf("DecompressChunk(%d of %d): %v", i, info.ChunkCount, err)
		}
	}
	body := len(src) - len(src)%int(info.Planes)
	if !bytes.Equal(all, src[:body]) {
		t.Fatalf("chunks: got %d bytes, want %d", len(all), body)
	}
	if _, err := DecompressChunk(nil, frame, info.ChunkCount); !errors.Is(err, ErrInvalidParam) {
		t.Fatalf("DecompressChunk past the end: %v", err)
	}
}

func TestVersion(t *testing.T) {
	if VersionNumber() != HeaderVersionNumber {
		t.Fatalf("library %d, header %d", VersionNumber(), HeaderVersionNumber)
	}
	v := VersionNumber()
	want := fmt.Sprintf("%d.%d.%d", v/10000, v/100%100, v%100)
	if Version() != want {
		t.Fatalf("Version() = %q, want %q", Version(), want)
	}
	if FormatVersion() == 0 {
		t.Fatal("FormatVersion() = 0")
	}
}

func TestDefaultOptions(t *testing.T) {
	got := DefaultOptions()
	// ZIPNN_OPTIONS_INIT in zipnn.h.
	want := Options{ZstdLevel: 3, LZ4Level: 1, Threshold: 0.95, BGPartitions: 1}
	if got != want {
		t.Fatalf("DefaultOptions() = %+v, want %+v", got, want)
	}
	src := weights(DTypeBF16, 100000, 1)
	a := mustCompress(t, src, nil)
	b := mustCompress(t, src, &Options{})
	c := mustCompress(t, src, &got)
	if !bytes.Equal(a, b) || !bytes.Equal(a, c) {
		t.Fatal("nil, zero and default options give different frames")
	}
}

func TestNames(t *testing.T) {
	// The names and sizes come from the library; spot-check that they arrive.
	names := []string{"raw", "bf16", "fp16", "fp32", "fp64", "fp8_e4m3", "fp8_e5m2", "int8", "uint8"}
	sizes := []int{1, 2, 2, 4, 8, 1, 1, 1, 1}
	for i, d := range allDTypes {
		if d != DType(i) || d.String() != names[i] || d.ElementSize() != sizes[i] {
			t.Errorf("dtype %d: %v %d", i, d, d.ElementSize())
		}
	}
	if DType(99).String() != "dtype(99)" || DType(99).ElementSize() != 0 {
		t.Error("unknown dtype")
	}
	if MethodZstd.String() != "zstd" || Method(42).String() != "method(42)" {
		t.Error("method names")
	}
	if LevelDefault != 0 || LevelFast != 1 || LevelMax != 3 {
		t.Error("levels")
	}
}

func TestRoundTripDTypes(t *testing.T) {
	sizes := []int{0, 1, 7, 1024, 1027, 70001}
	for _, d := range allDTypes {
		for _, m := range allMethods {
			for _, lvl := range []Level{LevelDefault, LevelFast, 2, LevelMax} {
				for _, n := range sizes {
					src := weights(d, n, uint64(n))
					opts := &Options{DType: d, Method: m, Level: lvl, ChunkSize: 8192, Threads: 2}
					frame := mustCompress(t, src, opts)
					if len(frame) > CompressBound(len(src), opts) {
						t.Fatalf("frame %d > bound %d", len(frame), CompressBound(len(src), opts))
					}
					t.Run(fmt.Sprintf("%v/%v/%d/%d", d, m, lvl, n), func(t *testing.T) {
						checkFrame(t, frame, src, d, uint32(d.ElementSize()))
					})
				}
			}
		}
	}
}

func TestCompressesWeights(t *testing.T) {
	for _, d := range []DType{DTypeBF16, DTypeFP32} {
		src := weights(d, 1<<20, 3)
		frame := mustCompress(t, src, &Options{DType: d})
		if len(frame) >= len(src)*95/100 {
			t.Errorf("%v: %d -> %d bytes; expected some compression", d, len(src), len(frame))
		}
	}
}

func TestRawPartitions(t *testing.T) {
	for _, bg := range []uint32{0, 1, 2, 4, 8} {
		for _, n := range []int{0, 5, 4096, 100003} {
			src := weights(DTypeFP32, n, 7)
			frame := mustCompress(t, src, &Options{BGPartitions: bg, ChunkSize: 4096})
			planes := bg
			if planes == 0 {
				planes = 1
			}
			t.Run(fmt.Sprintf("bg%d/%d", bg, n), func(t *testing.T) {
				checkFrame(t, frame, src, DTypeRaw, planes)
			})
		}
	}
}

func TestOptionsVariety(t *testing.T) {
	src := weights(DTypeFP16, 200000, 9)
	for i, o := range []Options{
		{DType: DTypeFP16, ZstdLevel: -7, Method: MethodZstd},
		{DType: DTypeFP16, ZstdLevel: 22, Method: MethodZstd, ChunkSize: 1024},
		{DType: DTypeFP16, LZ4Level: 12, Method: MethodLZ4},
		{DType: DTypeFP16, Threshold: 1},
		{DType: DTypeFP16, Threshold: 0.01},
		{DType: DTypeFP16, Threads: 1, ChunkSize: 67108864},
		{DType: DTypeFP16, BGPartitions: 1},
	} {
		frame := mustCompress(t, src, &o)
		t.Run(fmt.Sprint(i), func(t *testing.T) { checkFrame(t, frame, src, DTypeFP16, 2) })
	}
}

func TestEmptyInputs(t *testing.T) {
	for _, src := range [][]byte{nil, {}} {
		frame := mustCompress(t, src, nil)
		checkFrame(t, frame, []byte{}, DTypeRaw, 1)
		got, err := Decompress(nil, frame)
		if err != nil || got == nil || len(got) != 0 {
			t.Fatalf("Decompress(empty frame) = %v, %v; want non-nil empty", got, err)
		}
		for _, dst := range [][]byte{nil, {}} {
			if n, err := DecompressInto(dst, frame); n != 0 || err != nil {
				t.Fatalf("DecompressInto = %d, %v", n, err)
			}
		}
		meta, err := Metadata(frame)
		if meta != nil || err != nil {
			t.Fatalf("Metadata = %v, %v", meta, err)
		}
		frame2, err := CompressWithMetadata(nil, src, src, nil)
		if err != nil || !bytes.Equal(frame, frame2) {
			t.Fatalf("CompressWithMetadata with empty metadata: %v", err)
		}
	}
	// An empty buffer is not a frame.
	for _, src := range [][]byte{nil, {}} {
		if _, err := DecompressedSize(src); !errors.Is(err, ErrTruncated) {
			t.Errorf("DecompressedSize(empty): %v", err)
		}
		if _, err := FrameInfo(src); !errors.Is(err, ErrTruncated) {
			t.Errorf("FrameInfo(empty): %v", err)
		}
		if err := Verify(src); !errors.Is(err, ErrTruncated) {
			t.Errorf("Verify(empty): %v", err)
		}
		if got, err := Decompress([]byte("x"), src); !errors.Is(err, ErrTruncated) || string(got) != "x" {
			t.Errorf("Decompress(empty): %q, %v", got, err)
		}
		if _, err := DecompressInto(nil, src); !errors.Is(err, ErrTruncated) {
			t.Errorf("DecompressInto(empty): %v", err)
		}
		if _, err := DecompressChunk(nil, src, 0); !errors.Is(err, ErrTruncated) {
			t.Errorf("DecompressChunk(empty): %v", err)
		}
		if _, err := Metadata(src); !errors.Is(err, ErrTruncated) {
			t.Errorf("Metadata(empty): %v", err)
		}
	}
}

func TestMetadata(t *testing.T) {
	src := weights(DTypeBF16, 5000, 4)
	meta := []byte(`{"shape":[50,50]}`)
	frame, err := CompressWithMetadata([]byte("hdr"), src, meta, &Options{DType: DTypeBF16})
	if err != nil || string(frame[:3]) != "hdr" {
		t.Fatalf("CompressWithMetadata: %v", err)
	}
	frame = frame[3:]
	checkFrame(t, frame, src, DTypeBF16, 2)
	got, err := Metadata(frame)
	if err != nil || !bytes.Equal(got, meta) {
		t.Fatalf("Metadata = %q, %v", got, err)
	}
	info, _ := FrameInfo(frame)
	if !info.HasMetadata() || info.MetadataSize != uint64(len(meta)) {
		t.Fatalf("info %+v", info)
	}
	plain := mustCompress(t, src, &Options{DType: DTypeBF16})
	if info, _ := FrameInfo(plain); info.HasMetadata() || info.MetadataSize != 0 {
		t.Fatalf("info %+v", info)
	}
	// Exactly 1 MiB is allowed, one byte more is not.
	big := make([]byte, 1<<20)
	frame, err = CompressWithMetadata(nil, src, big, nil)
	if err != nil {
		t.Fatalf("1 MiB metadata: %v", err)
	}
	if got, err := Metadata(frame); err != nil || len(got) != len(big) {
		t.Fatalf("Metadata(1 MiB): %d, %v", len(got), err)
	}
	big = append(big, 0)
	if _, err := CompressWithMetadata(nil, src, big, nil); !errors.Is(err, ErrInvalidParam) {
		t.Fatalf("metadata over 1 MiB: %v", err)
	}
}

// snapshot copies b including its spare capacity, to check later that nothing was written.
func snapshot(b []byte) []byte { return append([]byte(nil), b[:cap(b)]...) }

func TestErrors(t *testing.T) {
	src := weights(DTypeFP32, 50000, 5)
	frame := mustCompress(t, src, &Options{DType: DTypeFP32, ChunkSize: 4096})
	info, _ := FrameInfo(frame)
	edit := func(f func(b []byte) []byte) []byte { return f(append([]byte(nil), frame...)) }

	// Frames that no decoding function may accept, with the exact error.
	// Edits inside the fixed header's checked fields may be caught by a checksum over the
	// fixed header before the field itself is looked at, depending on the format version;
	// those cases accept ErrChecksum too (alt). The exact codes for such frames, built with
	// valid checksums, are checked by TestVectors.
	badFrames := []struct {
		name  string
		frame []byte
		want  error
		alt   error
	}{
		{"garbage", []byte("this is not a zipnn frame at all, not even close......"), ErrBadMagic, nil},
		{"bad magic", edit(func(b []byte) []byte { b[0] ^= 0xff; return b }), ErrBadMagic, nil},
		{"magic prefix only", frame[:3], ErrTruncated, nil},
		{"header cut", frame[:20], ErrTruncated, nil},
		{"payload cut", frame[:len(frame)-1], ErrTruncated, nil},
		{"version", edit(func(b []byte) []byte { b[4] = 99; return b }), ErrUnsupportedVersion, nil},
		{"flags", edit(func(b []byte) []byte { b[5] = 0x80; return b }), ErrUnsupportedFlags, ErrChecksum},
		{"dtype", edit(func(b []byte) []byte { b[6] = 200; return b }), ErrUnsupportedDtype, ErrChecksum},
		{"reserved", edit(func(b []byte) []byte { b[12] = 1; return b }), ErrCorrupt, ErrChecksum},
		{"chunk size", edit(func(b []byte) []byte { b[8], b[9], b[10] = 1, 0, 0; return b }), ErrCorrupt, ErrChecksum},
		{"header checksum", edit(func(b []byte) []byte { b[41] ^= 1; return b }), ErrChecksum, nil},
		{"payload byte", edit(func(b []byte) []byte { b[len(b)-1] ^= 1; return b }), ErrChecksum, nil},
	}
	for _, c := range badFrames {
		t.Run(c.name, func(t *testing.T) {
			in := snapshot(c.frame)
			dst := make([]byte, 3, len(src)+100)
			copy(dst, "abc")
			before := snapshot(dst)
			check := func(fn string, err error) {
				t.Helper()
				if !errors.Is(err, c.want) && (c.alt == nil || !errors.Is(err, c.alt)) {
					t.Errorf("%s: got %v, want %v", fn, err, c.want)
				}
				var ze *Error
				if !errors.As(err, &ze) || ze.Msg == "" {
					t.Errorf("%s: %v is not an *Error with a message", fn, err)
				}
			}
			got, err := Decompress(dst, c.frame)
			check("Decompress", err)
			if &got[0] != &dst[0] || len(got) != 3 {
				t.Error("Decompress: dst not returned unchanged")
			}
			_, err = DecompressInto(dst[:cap(dst)], c.frame)
			check("DecompressInto", err)
			err = Verify(c.frame)
			check("Verify", err)
			if c.name != "payload byte" { // header-only functions do not read chunk payloads
				_, err = DecompressedSize(c.frame)
				check("DecompressedSize", err)
				_, err = FrameInfo(c.frame)
				check("FrameInfo", err)
				_, err = Metadata(c.frame)
				check("Metadata", err)
				_, err = DecompressChunk(dst, c.frame, 0)
				check("DecompressChunk", err)
			}
			if !bytes.Equal(snapshot(dst), before) {
				t.Error("dst was modified")
			}
			if !bytes.Equal(snapshot(c.frame), in) {
				t.Error("input was modified")
			}
		})
	}

	t.Run("payload byte chunk", func(t *testing.T) {
		bad := edit(func(b []byte) []byte { b[len(b)-1] ^= 1; return b })
		last := info.ChunkCount - 1
		if _, err := DecompressChunk(nil, bad, last); !errors.Is(err, ErrChecksum) {
			t.Fatalf("damaged chunk: %v", err)
		}
		if _, err := DecompressChunk(nil, bad, 0); err != nil {
			t.Fatalf("undamaged chunk of a damaged frame: %v", err)
		}
	})

	t.Run("trailing bytes", func(t *testing.T) {
		long := append(append([]byte(nil), frame...), 0)
		if _, err := Decompress(nil, long); !errors.Is(err, ErrCorrupt) {
			t.Errorf("Decompress: %v", err)
		}
		if err := Verify(long); err == nil {
			t.Error("Verify accepted trailing bytes")
		}
		// Header functions allow bytes after the frame.
		if got, err := FrameInfo(long); err != nil || got != info {
			t.Errorf("FrameInfo: %v", err)
		}
	})

	t.Run("dst too small", func(t *testing.T) {
		for _, n := range []int{0, 1, len(src) - 1} {
			dst := bytes.Repeat([]byte{0xAA}, n)
			if _, err := DecompressInto(dst, frame); !errors.Is(err, ErrDstTooSmall) {
				t.Errorf("DecompressInto(%d): %v", n, err)
			}
			if !bytes.Equal(dst, bytes.Repeat([]byte{0xAA}, n)) {
				t.Errorf("DecompressInto(%d) wrote to dst", n)
			}
		}
		// A larger buffer is fine.
		dst := make([]byte, len(src)+10)
		if n, err := DecompressInto(dst, frame); err != nil || n != len(src) {
			t.Errorf("larger dst: %d, %v", n, err)
		}
	})

	t.Run("limit", func(t *testing.T) {
		dst := make([]byte, 0, 10)
		before := snapshot(dst)
		_, err := DecompressWithOptions(dst, frame, &Options{MaxDecompressedSize: uint64(len(src) - 1)})
		if !errors.Is(err, ErrLimitExceeded) || !bytes.Equal(snapshot(dst), before) {
			t.Errorf("limit: %v", err)
		}
		got, err := DecompressWithOptions(nil, frame, &Options{MaxDecompressedSize: uint64(len(src)), Threads: 1})
		if err != nil || !bytes.Equal(got, src) {
			t.Errorf("at the limit: %v", err)
		}
	})

	t.Run("overlap", func(t *testing.T) {
		buf := make([]byte, len(frame)+len(src))
		copy(buf, frame)
		// The output region starts inside the frame.
		if _, err := DecompressInto(buf[len(frame)-1:], buf[:len(frame)]); !errors.Is(err, ErrInvalidParam) {
			t.Errorf("overlapping DecompressInto: %v", err)
		}
		// Append-style functions never write over their input: src in dst's spare capacity.
		in := make([]byte, 0, len(src)*3)
		in = append(in, src...)
		out, err := Compress(in[:0], in, nil)
		if err != nil || !bytes.Equal(in, src) {
			t.Fatalf("Compress into its own input's buffer: %v", err)
		}
		back, err := Decompress(out[:0], out)
		if err != nil || !bytes.Equal(back, src) {
			t.Fatalf("Decompress into its own input's buffer: %v", err)
		}
	})

	// Bad options: the exact error, and dst untouched.
	badOpts := []struct {
		name string
		opts Options
		want error
	}{
		{"dtype", Options{DType: 99}, ErrUnsupportedDtype},
		{"method", Options{Method: 99}, ErrUnsupportedMethod},
		{"level", Options{Level: 4}, ErrInvalidParam},
		{"level negative", Options{Level: -1}, ErrInvalidParam},
		{"chunk too small", Options{ChunkSize: 1000}, ErrInvalidParam},
		{"chunk too large", Options{ChunkSize: 67108864 + 8}, ErrInvalidParam},
		{"chunk not multiple", Options{DType: DTypeFP32, ChunkSize: 1026}, ErrInvalidParam},
		{"zstd level", Options{ZstdLevel: 23}, ErrInvalidParam},
		{"zstd level low", Options{ZstdLevel: -8}, ErrInvalidParam},
		{"lz4 level", Options{LZ4Level: 13}, ErrInvalidParam},
		{"threshold", Options{Threshold: 1.5}, ErrInvalidParam},
		{"threshold negative", Options{Threshold: -0.5}, ErrInvalidParam},
		{"threshold nan", Options{Threshold: float32(math.NaN())}, ErrInvalidParam},
		{"bg 3", Options{BGPartitions: 3}, ErrInvalidParam},
		{"bg 16", Options{BGPartitions: 16}, ErrInvalidParam},
		{"bg with dtype", Options{DType: DTypeBF16, BGPartitions: 2}, ErrInvalidParam},
	}
	for _, c := range badOpts {
		t.Run("options/"+c.name, func(t *testing.T) {
			if CompressBound(len(src), &c.opts) != 0 {
				t.Error("CompressBound accepted the options")
			}
			for _, in := range [][]byte{src, nil} {
				dst := make([]byte, 2, 64)
				before := snapshot(dst)
				got, err := Compress(dst, in, &c.opts)
				if !errors.Is(err, c.want) {
					t.Errorf("Compress(%d bytes): %v, want %v", len(in), err, c.want)
				}
				if len(got) != 2 || !bytes.Equal(snapshot(dst), before) {
					t.Error("dst was modified")
				}
				if _, err := CompressWithMetadata(nil, in, []byte("m"), &c.opts); !errors.Is(err, c.want) {
					t.Errorf("CompressWithMetadata: %v, want %v", err, c.want)
				}
				w := NewWriter(&bytes.Buffer{}, &c.opts)
				if _, err := w.Write(in); len(in) > 0 && !errors.Is(err, c.want) {
					t.Errorf("Writer.Write: %v, want %v", err, c.want)
				}
				if err := w.Close(); !errors.Is(err, c.want) {
					t.Errorf("Writer.Close: %v, want %v", err, c.want)
				}
			}
		})
	}
}

func TestErrorValues(t *testing.T) {
	codes := map[int]*Error{
		-1: ErrNullPointer, -2: ErrInvalidParam, -3: ErrUnsupportedDtype, -4: ErrUnsupportedMethod,
		-5: ErrBaseRequired, -6: ErrBaseMismatch, -7: ErrNotFound, -10: ErrDstTooSmall, -11: ErrSrcTooLarge, -12: ErrLimitExceeded, -20: ErrBadMagic,
		-21: ErrUnsupportedVersion, -22: ErrUnsupportedFlags, -23: ErrUnsupportedCodec,
		-30: ErrTruncated, -31: ErrCorrupt, -32: ErrChecksum, -40: ErrAlloc, -41: ErrIO, -50: ErrInternal,
		-51: ErrInternalPanic, -60: ErrBadSafetensors,
	}
	if len(codes) != len(sentinels) {
		t.Fatalf("%d sentinels, %d codes", len(sentinels), len(codes))
	}
	if ErrorFromCode(0) != nil {
		t.Fatal("ErrorFromCode(0) != nil")
	}
	for code, want := range codes {
		err := ErrorFromCode(code)
		if err != want || want.Code != code {
			t.Errorf("ErrorFromCode(%d) = %v, want %v", code, err, want)
		}
		if want.Msg == "" || want.Msg == "unknown status" || !strings.HasPrefix(want.Error(), "zipnn: ") {
			t.Errorf("code %d: message %q", code, want.Msg)
		}
		wrapped := fmt.Errorf("loading tensor: %w", err)
		if !errors.Is(wrapped, want) || !errors.Is(&Error{Code: code, Msg: "other text"}, want) {
			t.Errorf("errors.Is fails for %d", code)
		}
		for other, s := range codes {
			if other != code && errors.Is(err, s) {
				t.Errorf("%v matches %v", err, s)
			}
		}
	}
	unknown := ErrorFromCode(-999)
	var ze *Error
	if !errors.As(unknown, &ze) || ze.Code != -999 || ze.Msg != "unknown status" {
		t.Errorf("unknown code: %#v", unknown)
	}
	if errors.Is(ErrCorrupt, errors.New("zipnn: frame is corrupt")) {
		t.Error("matched a non-*Error")
	}
}

func TestConcurrent(t *testing.T) {
	type job struct {
		src  []byte
		opts Options
	}
	var jobs []job
	for i, d := range allDTypes {
		for j, m := range allMethods {
			n := 1000 + 7919*(i*len(allMethods)+j)%60000
			jobs = append(jobs, job{weights(d, n, uint64(i*100+j)), Options{DType: d, Method: m, ChunkSize: 4096}})
		}
	}
	// Reference results, single-threaded.
	want := make([][]byte, len(jobs))
	for i, j := range jobs {
		o := j.opts
		o.Threads = 1
		want[i] = mustCompress(t, j.src, &o)
	}
	const goroutines, rounds = 32, 3
	var wg sync.WaitGroup
	errs := make(chan error, goroutines)
	for g := 0; g < goroutines; g++ {
		wg.Add(1)
		go func(g int) {
			defer wg.Done()
			var buf, out []byte
			for r := 0; r < rounds; r++ {
				for k := range jobs {
					i := (k + g*7) % len(jobs)
					o := jobs[i].opts
					o.Threads = uint32(g % 3) // all cores, 1 and 2 workers
					var err error
					buf, err = Compress(buf[:0], jobs[i].src, &o)
					if err != nil {
						errs <- err
						return
					}
					if !bytes.Equal(buf, want[i]) {
						errs <- fmt.Errorf("goroutine %d job %d: frame differs from the single-threaded one", g, i)
						return
					}
					out, err = Decompress(out[:0], buf)
					if err != nil || !bytes.Equal(out, jobs[i].src) {
						errs <- fmt.Errorf("goroutine %d job %d: round trip failed: %v", g, i, err)
						return
					}
					if err := Verify(buf); err != nil {
						errs <- err
						return
					}
				}
			}
		}(g)
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

// The sentinel table has exactly the codes the library names (its one error list).
func TestSentinelsAreTheLibraryList(t *testing.T) {
	known := map[int]bool{}
	for c := -256; c < 0; c++ {
		if e := ErrorFromCode(c).(*Error); e.Msg != "unknown status" {
			known[c] = true
		}
	}
	if len(known) < 20 || len(known) != len(sentinels) {
		t.Fatalf("library knows %d codes, the binding %d", len(known), len(sentinels))
	}
	for _, s := range sentinels {
		if !known[s.Code] {
			t.Errorf("sentinel %d (%s) is not a library code", s.Code, s.Msg)
		}
	}
}
