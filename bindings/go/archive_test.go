package zipnn

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

// stTensor is one tensor of a safetensors file built by a test.
type stTensor struct {
	name  string
	dtype string // safetensors dtype string
	shape []uint64
	data  []byte
}

// buildSafetensors writes the safetensors format by hand: the header length as u64
// little-endian, a JSON object (a __metadata__ entry, then the tensors in reverse order so
// that the JSON order differs from the data order), padded with spaces to a multiple of
// 8, then the tensors' bytes in order.
func buildSafetensors(ts []stTensor) []byte {
	var js strings.Builder
	js.WriteString(`{"__metadata__":{"format":"pt"}`)
	offs := make([]int, len(ts)+1)
	for i, t := range ts {
		offs[i+1] = offs[i] + len(t.data)
	}
	for i := len(ts) - 1; i >= 0; i-- {
		t := ts[i]
		dims := make([]string, len(t.shape))
		for k, d := range t.shape {
			dims[k] = fmt.Sprint(d)
		}
		fmt.Fprintf(&js, `,%q:{"dtype":%q,"shape":[%s],"data_offsets":[%d,%d]}`,
			t.name, t.dtype, strings.Join(dims, ","), offs[i], offs[i+1])
	}
	js.WriteString("}")
	for js.Len()%8 != 0 {
		js.WriteString(" ")
	}
	out := binary.LittleEndian.AppendUint64(nil, uint64(js.Len()))
	out = append(out, js.String()...)
	for _, t := range ts {
		out = append(out, t.data...)
	}
	return out
}

// stElemSize is the element size of a safetensors dtype string.
func stElemSize(dtype string) int {
	switch dtype {
	case "F64", "I64", "U64":
		return 8
	case "F32", "I32", "U32":
		return 4
	case "BF16", "F16", "I16", "U16":
		return 2
	}
	return 1
}

// stZipnnDType is the zipnn dtype the library codes a safetensors dtype string with.
func stZipnnDType(dtype string) DType {
	switch dtype {
	case "BF16":
		return DTypeBF16
	case "F16":
		return DTypeFP16
	case "F32":
		return DTypeFP32
	case "F64":
		return DTypeFP64
	case "F8_E4M3":
		return DTypeFP8E4M3
	case "F8_E5M2":
		return DTypeFP8E5M2
	case "I8":
		return DTypeInt8
	case "U8":
		return DTypeUint8
	}
	return DTypeRaw
}

// tensorData returns weight-like bytes for a tensor of the given dtype and element count.
func tensorData(dtype string, n int, seed uint64) []byte {
	switch dtype {
	case "BF16":
		return weights(DTypeBF16, 2*n, seed)
	case "F16":
		return weights(DTypeFP16, 2*n, seed)
	case "F32":
		return weights(DTypeFP32, 4*n, seed)
	case "F64":
		return weights(DTypeFP64, 8*n, seed)
	case "F8_E4M3":
		return weights(DTypeFP8E4M3, n, seed)
	case "F8_E5M2":
		return weights(DTypeFP8E5M2, n, seed)
	case "BOOL":
		r := rand.New(rand.NewPCG(seed, 7))
		b := make([]byte, n)
		for i := range b {
			b[i] = byte(r.IntN(2))
		}
		return b
	}
	r := rand.New(rand.NewPCG(seed, 9))
	b := make([]byte, n*stElemSize(dtype))
	for i := range b {
		b[i] = byte(r.IntN(8)) // small integers: compressible
	}
	return b
}

func tensor(name, dtype string, seed uint64, shape ...uint64) stTensor {
	n := 1
	for _, d := range shape {
		n *= int(d)
	}
	return stTensor{name, dtype, shape, tensorData(dtype, n, seed)}
}

// sampleTensors has every dtype string the format names, a tensor tied to another
// (lm_head = embed), a scalar and an empty tensor.
func sampleTensors(seed uint64) []stTensor {
	ts := []stTensor{
		tensor("model.embed.weight", "BF16", seed+1, 64, 32),
		{}, // lm_head.weight, tied below
		tensor("norm.weight", "F32", seed+2, 256),
		tensor("attn.f16", "F16", seed+3, 16, 16),
		tensor("stats.f64", "F64", seed+4, 40),
		tensor("q.e4m3", "F8_E4M3", seed+5, 300),
		tensor("q.e5m2", "F8_E5M2", seed+6, 3, 50),
		tensor("q.i8", "I8", seed+7, 77),
		tensor("q.u8", "U8", seed+8, 2, 2, 20),
		tensor("pos.i32", "I32", seed+9, 33),
		tensor("mask.bool", "BOOL", seed+10, 19),
		tensor("w.i16", "I16", seed+11, 5),
		tensor("w.u16", "U16", seed+12, 5),
		tensor("w.u32", "U32", seed+13, 3),
		tensor("w.i64", "I64", seed+14, 3),
		tensor("w.u64", "U64", seed+15, 3),
		tensor("scale", "F32", seed+16),       // a scalar: shape []
		tensor("empty", "F32", seed+17, 0, 4), // no bytes
	}
	e := ts[0]
	ts[1] = stTensor{"lm_head.weight", e.dtype, e.shape, slices.Clone(e.data)}
	return ts
}

func mustCompressSafetensors(t testing.TB, src, base []byte, opts *Options) []byte {
	t.Helper()
	arc, err := CompressSafetensors(nil, src, base, opts)
	if err != nil {
		t.Fatalf("CompressSafetensors: %v", err)
	}
	return arc
}

// checkArchive checks every read path of a against the tensors it was made from.
func checkArchive(t *testing.T, a *Archive, ts []stTensor, file []byte) {
	t.Helper()
	infos := a.Tensors()
	if len(infos) != len(ts) {
		t.Fatalf("%d tensors, want %d", len(infos), len(ts))
	}
	off := uint64(0)
	for i, want := range ts {
		ti := infos[i]
		if ti.Name != want.name || ti.DType != want.dtype || !slices.Equal(ti.Shape, want.shape) ||
			ti.Size != uint64(len(want.data)) || ti.Offset != off {
			t.Errorf("tensor %d: %+v, want %s %s %v at %d", i, ti, want.name, want.dtype, want.shape, off)
		}
		if ti.Shape == nil {
			t.Errorf("tensor %d: nil shape", i)
		}
		off += uint64(len(want.data))
		tied := want.name == "lm_head.weight"
		if ti.Tied != tied || (tied && (ti.TiedTo != 0 || ti.CompressedSize != 0)) ||
			(!tied && (ti.TiedTo != -1 || ti.CompressedSize == 0)) {
			t.Errorf("tensor %d (%s): tied %v to %d, compressed %d", i, ti.Name, ti.Tied, ti.TiedTo, ti.CompressedSize)
		}
		if ti.CodedAs != stZipnnDType(want.dtype) {
			t.Errorf("tensor %s coded as %v, want %v", ti.Name, ti.CodedAs, stZipnnDType(want.dtype))
		}
		if l, ok := a.Lookup(want.name); !ok || l.Name != want.name || l.Offset != ti.Offset {
			t.Errorf("Lookup(%q) = %+v, %v", want.name, l, ok)
		}
		got, err := a.Tensor(want.name)
		if err != nil || !bytes.Equal(got, want.data) || got == nil {
			t.Fatalf("Tensor(%q): %v (equal %v)", want.name, err, bytes.Equal(got, want.data))
		}
		buf := bytes.Repeat([]byte{0xA5}, len(want.data)+3)
		n, err := a.TensorInto(want.name, buf)
		if err != nil || n != len(want.data) || !bytes.Equal(buf[:n], want.data) ||
			!bytes.Equal(buf[n:], []byte{0xA5, 0xA5, 0xA5}) {
			t.Fatalf("TensorInto(%q) = %d, %v", want.name, n, err)
		}
		if len(want.data) > 0 {
			small := bytes.Repeat([]byte{0xA5}, len(want.data)-1)
			if _, err := a.TensorInto(want.name, small); !errors.Is(err, ErrDstTooSmall) {
				t.Fatalf("TensorInto(%q) too small: %v", want.name, err)
			}
			if !bytes.Equal(small, bytes.Repeat([]byte{0xA5}, len(small))) {
				t.Fatalf("TensorInto(%q) wrote into a too-small buffer", want.name)
			}
		}
	}
	hl := binary.LittleEndian.Uint64(file)
	js, err := a.HeaderJSON()
	if err != nil || !bytes.Equal(js, file[8:8+hl]) {
		t.Fatalf("HeaderJSON: %v", err)
	}
	if a.RestoredSize() != uint64(len(file)) {
		t.Fatalf("RestoredSize = %d, want %d", a.RestoredSize(), len(file))
	}
	restored, err := a.Restore()
	if err != nil || !bytes.Equal(restored, file) {
		t.Fatalf("Restore: %v (equal %v)", err, bytes.Equal(restored, file))
	}
	var w bytes.Buffer
	n, err := a.WriteTo(&w)
	if err != nil || n != int64(len(file)) || !bytes.Equal(w.Bytes(), file) {
		t.Fatalf("WriteTo = %d, %v", n, err)
	}
}

func TestArchiveRoundTrip(t *testing.T) {
	ts := sampleTensors(100)
	file := buildSafetensors(ts)
	orig := slices.Clone(file)
	arc := mustCompressSafetensors(t, file, nil, nil)
	if !bytes.Equal(file, orig) {
		t.Fatal("CompressSafetensors modified its input")
	}
	// Appending keeps the prefix.
	pre, err := CompressSafetensors([]byte("prefix"), file, nil, nil)
	if err != nil || !bytes.Equal(pre[:6], []byte("prefix")) || !bytes.Equal(pre[6:], arc) {
		t.Fatalf("CompressSafetensors with a prefix: %v", err)
	}
	if len(arc) >= len(file) {
		t.Errorf("archive %d bytes, file %d", len(arc), len(file))
	}

	t.Run("memory", func(t *testing.T) {
		a, err := OpenArchiveBytes(arc, &Options{Threads: 1})
		if err != nil {
			t.Fatal(err)
		}
		defer a.Close()
		checkArchive(t, a, ts, file)
		// dst overlapping the archive bytes the handle reads is refused.
		if _, err := a.TensorInto("norm.weight", arc); !errors.Is(err, ErrInvalidParam) {
			t.Fatalf("TensorInto over the archive: %v", err)
		}
	})
	t.Run("file", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "model.znt")
		if err := os.WriteFile(path, arc, 0o600); err != nil {
			t.Fatal(err)
		}
		a, err := OpenArchive(path, nil)
		if err != nil {
			t.Fatal(err)
		}
		defer a.Close()
		checkArchive(t, a, ts, file)
	})
	t.Run("max level", func(t *testing.T) {
		arc2 := mustCompressSafetensors(t, file, nil, &Options{Level: LevelMax, Method: MethodZstd})
		a, err := OpenArchiveBytes(arc2, nil)
		if err != nil {
			t.Fatal(err)
		}
		defer a.Close()
		checkArchive(t, a, ts, file)
	})
}

func TestArchiveEveryDTypeAlone(t *testing.T) {
	for _, dt := range []string{"BF16", "F16", "F32", "F64", "F8_E4M3", "F8_E5M2", "I8", "U8",
		"I16", "U16", "I32", "U32", "I64", "U64", "BOOL"} {
		t.Run(dt, func(t *testing.T) {
			ts := []stTensor{tensor("x", dt, 5, 1000), tensor("y", dt, 6, 10, 3)}
			file := buildSafetensors(ts)
			a, err := OpenArchiveBytes(mustCompressSafetensors(t, file, nil, nil), nil)
			if err != nil {
				t.Fatal(err)
			}
			defer a.Close()
			checkArchive(t, a, ts, file)
		})
	}
}

func TestArchiveErrors(t *testing.T) {
	ts := sampleTensors(200)
	file := buildSafetensors(ts)
	arc := mustCompressSafetensors(t, file, nil, nil)
	a, err := OpenArchiveBytes(arc, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := a.Tensor("no.such.tensor"); !errors.Is(err, ErrNotFound) || !strings.Contains(err.Error(), "no.such.tensor") {
		t.Errorf("Tensor(unknown): %v", err)
	}
	if _, err := a.TensorInto("q.i", make([]byte, 100)); !errors.Is(err, ErrNotFound) {
		t.Errorf("TensorInto(prefix): %v", err)
	}
	if _, ok := a.Lookup("q.i8\x00"); ok {
		t.Error("Lookup found a name with a NUL appended")
	}
	// Not safetensors as a base (the archive stays usable).
	if err := a.SetBaseBytes(arc); !errors.Is(err, ErrBadSafetensors) {
		t.Errorf("SetBaseBytes(archive): %v", err)
	}
	if err := a.SetBase(filepath.Join(t.TempDir(), "missing.safetensors")); !errors.Is(err, ErrIO) {
		t.Errorf("SetBase(missing): %v", err)
	}
	if got, err := a.Tensor("q.u8"); err != nil || !bytes.Equal(got, ts[8].data) {
		t.Errorf("Tensor after failed SetBase: %v", err)
	}
	if err := a.Close(); err != nil {
		t.Fatal(err)
	}
	if err := a.Close(); err != nil {
		t.Fatal("second Close:", err)
	}
	for name, f := range map[string]func() error{
		"Tensor":       func() error { _, err := a.Tensor("q.i8"); return err },
		"TensorInto":   func() error { _, err := a.TensorInto("q.i8", make([]byte, 77)); return err },
		"HeaderJSON":   func() error { _, err := a.HeaderJSON(); return err },
		"Restore":      func() error { _, err := a.Restore(); return err },
		"WriteTo":      func() error { _, err := a.WriteTo(&bytes.Buffer{}); return err },
		"SetBase":      func() error { return a.SetBase("x") },
		"SetBaseBytes": func() error { return a.SetBaseBytes(file) },
	} {
		if err := f(); !errors.Is(err, ErrInvalidParam) {
			t.Errorf("%s after Close: %v", name, err)
		}
	}
	if len(a.Tensors()) != len(ts) {
		t.Error("Tensors after Close")
	}

	if _, err := OpenArchive(filepath.Join(t.TempDir(), "missing.znt"), nil); !errors.Is(err, ErrIO) {
		t.Errorf("OpenArchive(missing): %v", err)
	}
	if _, err := OpenArchive(t.TempDir(), nil); !errors.Is(err, ErrIO) {
		t.Errorf("OpenArchive(directory): %v", err)
	}
	if _, err := OpenArchiveBytes(file, nil); !errors.Is(err, ErrBadMagic) {
		t.Errorf("OpenArchiveBytes(safetensors): %v", err)
	}
	if _, err := OpenArchiveBytes(nil, nil); !errors.Is(err, ErrTruncated) {
		t.Errorf("OpenArchiveBytes(nil): %v", err)
	}
	if _, err := OpenArchiveBytes(arc[:len(arc)-1], nil); err == nil {
		t.Error("OpenArchiveBytes(truncated) succeeded")
	}
	if _, err := OpenArchiveBytes(arc, &Options{Threads: 5000}); !errors.Is(err, ErrInvalidParam) {
		t.Errorf("OpenArchiveBytes(bad options): %v", err)
	}
	damaged := slices.Clone(arc)
	damaged[len(damaged)/2] ^= 1
	if d, err := OpenArchiveBytes(damaged, nil); err == nil {
		// The flipped byte is in a frame: the tensor that owns it fails, never silently.
		_, rerr := d.Restore()
		if rerr == nil {
			t.Error("Restore of a damaged archive succeeded")
		}
		d.Close()
	}

	bad := slices.Clone(file)
	bad[8] = '['
	for _, c := range []struct {
		name      string
		src, base []byte
	}{
		{"bad json", bad, nil},
		{"short", file[:7], nil},
		{"cut data", file[:len(file)-1], nil},
		{"bad base", file, bad},
		{"empty base", file, []byte{}},
	} {
		prefix := []byte("keep")
		out, err := CompressSafetensors(prefix, c.src, c.base, nil)
		if !errors.Is(err, ErrBadSafetensors) || !bytes.Equal(out, prefix) {
			t.Errorf("%s: %v", c.name, err)
		}
	}
	if _, err := CompressSafetensors(nil, file, nil, &Options{Level: 9}); !errors.Is(err, ErrInvalidParam) {
		t.Errorf("bad options: %v", err)
	}
}

// baseAndFineTune returns a base model's file and a fine-tune of it: the same tensors with
// a few bits changed, except that the fine-tune ties lm_head to the embedding (the base
// does not), changes the shape of norm.weight, and adds "scale", which the base lacks.
func baseAndFineTune() (base []byte, fine []stTensor) {
	bt := sampleTensors(300)
	bt[1] = tensor("lm_head.weight", "BF16", 999, 64, 32)
	fine = sampleTensors(300)
	for i := range fine {
		if i == 1 {
			continue
		}
		for k := 3; k < len(fine[i].data); k += 11 {
			fine[i].data[k] ^= 1
		}
	}
	fine[1].data = slices.Clone(fine[0].data)
	var kept []stTensor
	for _, t := range bt {
		switch t.name {
		case "scale":
			continue
		case "norm.weight":
			t.shape = []uint64{16, 16}
		}
		kept = append(kept, t)
	}
	return buildSafetensors(kept), fine
}

func TestArchiveDelta(t *testing.T) {
	base, fine := baseAndFineTune()
	file := buildSafetensors(fine)
	arc := mustCompressSafetensors(t, file, base, nil)
	plain := mustCompressSafetensors(t, file, nil, nil)
	if len(arc) >= len(plain) {
		t.Errorf("delta archive %d bytes, plain %d", len(arc), len(plain))
	}
	wrongTs := sampleTensors(301)
	wrong := buildSafetensors(wrongTs)

	a, err := OpenArchiveBytes(arc, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	isDelta := func(ti TensorInfo) bool {
		return ti.Name != "norm.weight" && ti.Name != "scale"
	}
	for _, ti := range a.Tensors() {
		if ti.Delta != isDelta(ti) {
			t.Errorf("%s: Delta = %v", ti.Name, ti.Delta)
		}
	}
	// No base: delta tensors are ErrBaseRequired, the others decode.
	for i, ti := range a.Tensors() {
		got, err := a.Tensor(ti.Name)
		if ti.Delta {
			if !errors.Is(err, ErrBaseRequired) {
				t.Errorf("%s without a base: %v", ti.Name, err)
			}
		} else if err != nil || !bytes.Equal(got, fine[i].data) {
			t.Errorf("%s without a base: %v", ti.Name, err)
		}
	}
	if _, err := a.Restore(); !errors.Is(err, ErrBaseRequired) {
		t.Errorf("Restore without a base: %v", err)
	}
	if _, err := a.WriteTo(&bytes.Buffer{}); !errors.Is(err, ErrBaseRequired) {
		t.Errorf("WriteTo without a base: %v", err)
	}
	// The wrong base: ErrBaseMismatch for every non-empty delta tensor.
	if err := a.SetBaseBytes(wrong); err != nil {
		t.Fatal(err)
	}
	for _, ti := range a.Tensors() {
		_, err := a.Tensor(ti.Name)
		if ti.Delta && ti.Size > 0 {
			if !errors.Is(err, ErrBaseMismatch) {
				t.Errorf("%s with the wrong base: %v", ti.Name, err)
			}
		} else if err != nil {
			t.Errorf("%s with the wrong base: %v", ti.Name, err)
		}
	}
	if _, err := a.Restore(); !errors.Is(err, ErrBaseMismatch) {
		t.Errorf("Restore with the wrong base: %v", err)
	}
	// The right base from memory, then from a file.
	if err := a.SetBaseBytes(base); err != nil {
		t.Fatal(err)
	}
	checkArchive(t, a, fine, file)
	if _, err := a.TensorInto("norm.weight", base); !errors.Is(err, ErrInvalidParam) {
		t.Errorf("TensorInto over the base: %v", err)
	}
	dir := t.TempDir()
	path := filepath.Join(dir, "base.safetensors")
	if err := os.WriteFile(path, base, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := a.SetBase(path); err != nil {
		t.Fatal(err)
	}
	os.Remove(path) // read into memory: no longer needed
	checkArchive(t, a, fine, file)

	// A file-backed archive with a file base.
	apath := filepath.Join(dir, "fine.znt")
	if err := os.WriteFile(apath, arc, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, base, 0o600); err != nil {
		t.Fatal(err)
	}
	b, err := OpenArchive(apath, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	if err := b.SetBase(path); err != nil {
		t.Fatal(err)
	}
	checkArchive(t, b, fine, file)
}

func TestDeltaOneShot(t *testing.T) {
	base := weights(DTypeFP32, 1<<16, 1)
	src := slices.Clone(base)
	for i := 0; i < len(src); i += 40 {
		src[i] ^= 3
	}
	opts := &Options{DType: DTypeFP32}
	frame, err := CompressDelta(nil, src, base, opts)
	if err != nil {
		t.Fatal(err)
	}
	plain := mustCompress(t, src, opts)
	if len(frame) >= len(plain)/2 {
		t.Errorf("delta frame %d bytes, plain %d", len(frame), len(plain))
	}
	info, err := FrameInfo(frame)
	if err != nil || !info.IsDelta() || info.BaseHash == 0 || info.IsLossy() || info.Lossy != LossyNone ||
		info.OriginalSize != uint64(len(src)) || info.HasMetadata() {
		t.Fatalf("FrameInfo = %+v, %v", info, err)
	}
	if pi, _ := FrameInfo(plain); pi.IsDelta() || pi.BaseHash != 0 {
		t.Fatalf("plain FrameInfo = %+v", pi)
	}
	if err := Verify(frame); err != nil {
		t.Fatal(err)
	}
	got, err := DecompressDelta([]byte("p"), frame, base, nil)
	if err != nil || !bytes.Equal(got[1:], src) || got[0] != 'p' {
		t.Fatalf("DecompressDelta: %v", err)
	}
	dst := make([]byte, len(src))
	if n, err := DecompressDeltaInto(dst, frame, base); err != nil || n != len(src) || !bytes.Equal(dst, src) {
		t.Fatalf("DecompressDeltaInto = %d, %v", n, err)
	}
	// No base / wrong base.
	if _, err := Decompress(nil, frame); !errors.Is(err, ErrBaseRequired) {
		t.Errorf("Decompress of a delta frame: %v", err)
	}
	if _, err := DecompressInto(dst, frame); !errors.Is(err, ErrBaseRequired) {
		t.Errorf("DecompressInto of a delta frame: %v", err)
	}
	other := weights(DTypeFP32, 1<<16, 2)
	for name, b := range map[string][]byte{
		"other": other, "shorter": base[:len(base)-4], "one bit": func() []byte {
			b := slices.Clone(base)
			b[100] ^= 1
			return b
		}(),
	} {
		out, err := DecompressDelta([]byte("keep"), frame, b, nil)
		if !errors.Is(err, ErrBaseMismatch) || string(out) != "keep" {
			t.Errorf("%s base: %v", name, err)
		}
	}
	// No base (nil or empty): the base is required.
	if out, err := DecompressDelta([]byte("keep"), frame, nil, nil); !errors.Is(err, ErrBaseRequired) || string(out) != "keep" {
		t.Errorf("nil base: %v", err)
	}
	// A plain frame decodes through DecompressDelta without reading the base.
	if got, err := DecompressDelta(nil, plain, nil, nil); err != nil || !bytes.Equal(got, src) {
		t.Errorf("DecompressDelta(plain): %v", err)
	}
	if _, err := CompressDelta(nil, src, base[:10], opts); !errors.Is(err, ErrBaseMismatch) {
		t.Errorf("CompressDelta with a short base: %v", err)
	}
	if _, err := CompressDelta(nil, src, base, &Options{DType: 99}); !errors.Is(err, ErrUnsupportedDtype) {
		t.Errorf("CompressDelta with bad options: %v", err)
	}
	if _, err := DecompressDelta(nil, frame, base, &Options{MaxDecompressedSize: 10}); !errors.Is(err, ErrLimitExceeded) {
		t.Errorf("DecompressDelta limit: %v", err)
	}
	// With metadata; empty input.
	mframe, err := CompressDeltaWithMetadata(nil, src, base, []byte("shape=[16384]"), opts)
	if err != nil {
		t.Fatal(err)
	}
	if m, err := Metadata(mframe); err != nil || string(m) != "shape=[16384]" {
		t.Errorf("Metadata = %q, %v", m, err)
	}
	empty, err := CompressDelta(nil, nil, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	if got, err := DecompressDelta(nil, empty, nil, nil); err != nil || got == nil || len(got) != 0 {
		t.Errorf("empty delta: %v %v", got, err)
	}
}

func f32s(b []byte) []float32 {
	out := make([]float32, len(b)/4)
	for i := range out {
		out[i] = math.Float32frombits(binary.LittleEndian.Uint32(b[4*i:]))
	}
	return out
}

func f64s(b []byte) []float64 {
	out := make([]float64, len(b)/8)
	for i := range out {
		out[i] = math.Float64frombits(binary.LittleEndian.Uint64(b[8*i:]))
	}
	return out
}

func bf16s(b []byte) []float32 {
	out := make([]float32, len(b)/2)
	for i := range out {
		out[i] = math.Float32frombits(uint32(binary.LittleEndian.Uint16(b[2*i:])) << 16)
	}
	return out
}

// maxRelErr is the largest |got-want|/|want| over non-zero want (zeros must stay zero).
func maxRelErr(t *testing.T, got, want []float64) float64 {
	t.Helper()
	worst := 0.0
	for i := range want {
		if want[i] == 0 {
			if got[i] != 0 {
				t.Fatalf("element %d: %g, want 0", i, got[i])
			}
			continue
		}
		worst = max(worst, math.Abs(got[i]-want[i])/math.Abs(want[i]))
	}
	return worst
}

func widen32(v []float32) []float64 {
	out := make([]float64, len(v))
	for i, x := range v {
		out[i] = float64(x)
	}
	return out
}

func TestLossyMantissa(t *testing.T) {
	cases := []struct {
		d      DType
		bits   uint32
		decode func([]byte) []float64
	}{
		{DTypeFP32, 0, func(b []byte) []float64 { return widen32(f32s(b)) }},
		{DTypeFP32, 7, func(b []byte) []float64 { return widen32(f32s(b)) }},
		{DTypeFP32, 15, func(b []byte) []float64 { return widen32(f32s(b)) }},
		{DTypeFP32, 22, func(b []byte) []float64 { return widen32(f32s(b)) }},
		{DTypeBF16, 2, func(b []byte) []float64 { return widen32(bf16s(b)) }},
		{DTypeBF16, 6, func(b []byte) []float64 { return widen32(bf16s(b)) }},
		{DTypeFP64, 30, f64s},
		{DTypeFP64, 51, f64s},
	}
	for _, c := range cases {
		t.Run(fmt.Sprintf("%v/%d", c.d, c.bits), func(t *testing.T) {
			src := weights(c.d, 1<<17, uint64(c.bits)+10)
			opts := &Options{DType: c.d, Lossy: LossyMantissa, LossyParam: c.bits}
			frame := mustCompress(t, src, opts)
			info, err := FrameInfo(frame)
			if err != nil || !info.IsLossy() || info.Lossy != LossyMantissa || info.LossyParam != c.bits {
				t.Fatalf("FrameInfo = %+v, %v", info, err)
			}
			if lossless := mustCompress(t, src, &Options{DType: c.d}); len(frame) >= len(lossless) {
				t.Errorf("lossy frame %d bytes, lossless %d", len(frame), len(lossless))
			}
			got, err := Decompress(nil, frame)
			if err != nil {
				t.Fatal(err)
			}
			bound := math.Ldexp(1, -int(c.bits+1))
			worst := maxRelErr(t, c.decode(got), c.decode(src))
			if worst > bound || worst < bound/8 {
				t.Errorf("worst relative error %g, bound %g", worst, bound)
			}
		})
	}
}

func TestLossyInteger(t *testing.T) {
	for _, c := range []struct {
		d      DType
		factor uint32
	}{{DTypeFP32, 10}, {DTypeFP32, 20}, {DTypeFP32, 27}, {DTypeFP64, 20}, {DTypeFP64, 40}, {DTypeBF16, 12}} {
		t.Run(fmt.Sprintf("%v/%d", c.d, c.factor), func(t *testing.T) {
			src := weights(c.d, 1<<17, uint64(c.factor))
			frame := mustCompress(t, src, &Options{DType: c.d, Lossy: LossyInteger, LossyParam: c.factor})
			info, _ := FrameInfo(frame)
			if info.Lossy != LossyInteger || info.LossyParam != c.factor || !info.IsLossy() {
				t.Fatalf("FrameInfo = %+v", info)
			}
			got, err := Decompress(nil, frame)
			if err != nil {
				t.Fatal(err)
			}
			var g, w []float64
			var halfUlp float64 // half an ulp of the dtype at |x| < 1 (weights are small)
			switch c.d {
			case DTypeFP32:
				g, w, halfUlp = widen32(f32s(got)), widen32(f32s(src)), math.Ldexp(1, -25)
			case DTypeFP64:
				g, w, halfUlp = f64s(got), f64s(src), math.Ldexp(1, -54)
			default:
				g, w, halfUlp = widen32(bf16s(got)), widen32(bf16s(src)), math.Ldexp(1, -9)
			}
			bound := math.Ldexp(1, -int(c.factor+1)) + halfUlp
			worst := 0.0
			for i := range w {
				worst = max(worst, math.Abs(g[i]-w[i]))
			}
			if worst > bound {
				t.Errorf("worst absolute error %g, bound %g", worst, bound)
			}
		})
	}
	// Values that do not fit: coded losslessly, and the frame says so.
	src := weights(DTypeFP32, 4096, 3)
	binary.LittleEndian.PutUint32(src[40:], math.Float32bits(100))
	frame := mustCompress(t, src, &Options{DType: DTypeFP32, Lossy: LossyInteger, LossyParam: 30})
	if info, _ := FrameInfo(frame); info.Lossy != LossyNone || info.IsLossy() {
		t.Errorf("fallback FrameInfo = %+v", info)
	}
	if got, err := Decompress(nil, frame); err != nil || !bytes.Equal(got, src) {
		t.Errorf("fallback round trip: %v", err)
	}
}

func TestLossyOptionErrors(t *testing.T) {
	src := weights(DTypeFP32, 1024, 1)
	for _, o := range []Options{
		{DType: DTypeFP32, Lossy: LossyMantissa, LossyParam: 23},
		{DType: DTypeBF16, Lossy: LossyMantissa, LossyParam: 7},
		{DType: DTypeFP16, Lossy: LossyMantissa, LossyParam: 10},
		{DType: DTypeFP32, Lossy: LossyInteger, LossyParam: 31},
		{DType: DTypeBF16, Lossy: LossyInteger, LossyParam: 15},
		{DType: DTypeRaw, Lossy: LossyMantissa, LossyParam: 3},
		{DType: DTypeInt8, Lossy: LossyInteger, LossyParam: 3},
		{DType: DTypeFP32, Lossy: 3},
		{DType: DTypeFP32, Lossy: LossyNone, LossyParam: 1},
		{DType: DTypeFP32, Lossy: LossyInteger, LossyParam: 1 << 20},
	} {
		if _, err := Compress(nil, src, &o); !errors.Is(err, ErrInvalidParam) {
			t.Errorf("%+v: %v", o, err)
		}
		if CompressBound(len(src), &o) != 0 {
			t.Errorf("%+v: CompressBound != 0", o)
		}
	}
	if LossyMantissa.String() != "mantissa" || LossyInteger.String() != "integer" ||
		LossyNone.String() != "none" || LossyMode(9).String() != "lossy(9)" {
		t.Error("LossyMode.String")
	}
	d := DefaultOptions()
	if d.Lossy != LossyNone || d.LossyParam != 0 {
		t.Errorf("DefaultOptions: %+v", d)
	}
}

func TestArchiveLossy(t *testing.T) {
	ts := []stTensor{
		tensor("a.f32", "F32", 1, 64, 64),
		tensor("b.bf16", "BF16", 2, 3000),
		tensor("c.i32", "I32", 3, 100),
		tensor("d.f64", "F64", 4, 500),
	}
	file := buildSafetensors(ts)
	const bits = 6
	// The library validates the lossy mode against opts.DType, although archives code each
	// tensor with its own dtype; DTypeFP32 accepts 6 mantissa bits, as do bf16 and fp64.
	opts := &Options{DType: DTypeFP32, Lossy: LossyMantissa, LossyParam: bits}
	arc := mustCompressSafetensors(t, file, nil, opts)
	a, err := OpenArchiveBytes(arc, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	for i, ti := range a.Tensors() {
		isFloat := ti.DType != "I32"
		if isFloat != (ti.Lossy == LossyMantissa) || (isFloat && ti.LossyParam != bits) {
			t.Errorf("%s: Lossy %v %d", ti.Name, ti.Lossy, ti.LossyParam)
		}
		got, err := a.Tensor(ti.Name)
		if err != nil {
			t.Fatal(err)
		}
		var g, w []float64
		switch ti.DType {
		case "I32":
			if !bytes.Equal(got, ts[i].data) {
				t.Errorf("%s: integer tensor changed", ti.Name)
			}
			continue
		case "F32":
			g, w = widen32(f32s(got)), widen32(f32s(ts[i].data))
		case "BF16":
			g, w = widen32(bf16s(got)), widen32(bf16s(ts[i].data))
		case "F64":
			g, w = f64s(got), f64s(ts[i].data)
		}
		if worst := maxRelErr(t, g, w); worst > math.Ldexp(1, -bits-1) || worst == 0 {
			t.Errorf("%s: worst relative error %g", ti.Name, worst)
		}
	}
	if _, err := CompressSafetensors(nil, file, nil, &Options{Lossy: LossyMantissa, LossyParam: bits}); err == nil {
		t.Log("lossy archives no longer need opts.DType; update the CompressSafetensors doc")
	}
}

func TestArchiveConcurrent(t *testing.T) {
	base, fine := baseAndFineTune()
	file := buildSafetensors(fine)
	arc := mustCompressSafetensors(t, file, base, &Options{ChunkSize: 1024})
	path := filepath.Join(t.TempDir(), "fine.znt")
	if err := os.WriteFile(path, arc, 0o600); err != nil {
		t.Fatal(err)
	}
	open := map[string]func() (*Archive, error){
		"memory": func() (*Archive, error) { return OpenArchiveBytes(arc, &Options{Threads: 2}) },
		"file":   func() (*Archive, error) { return OpenArchive(path, nil) },
	}
	for name, openFn := range open {
		t.Run(name, func(t *testing.T) {
			a, err := openFn()
			if err != nil {
				t.Fatal(err)
			}
			if err := a.SetBaseBytes(base); err != nil {
				t.Fatal(err)
			}
			const goroutines, rounds = 16, 4
			var wg sync.WaitGroup
			errs := make(chan error, goroutines+1)
			for g := 0; g < goroutines; g++ {
				wg.Add(1)
				go func(g int) {
					defer wg.Done()
					buf := make([]byte, 8192)
					for r := 0; r < rounds; r++ {
						for k := range fine {
							want := fine[(k+g)%len(fine)]
							var got []byte
							var err error
							if g%2 == 0 {
								got, err = a.Tensor(want.name)
							} else {
								var n int
								n, err = a.TensorInto(want.name, buf)
								got = buf[:n]
							}
							if err != nil || !bytes.Equal(got, want.data) {
								errs <- fmt.Errorf("goroutine %d: %s: %v", g, want.name, err)
								return
							}
						}
						if g == 1 {
							names := make([]string, len(fine))
							for k, f := range fine {
								names[k] = f.name
							}
							many, err := a.DecodeMany(names)
							for k := 0; err == nil && k < len(fine); k++ {
								if !bytes.Equal(many[k], fine[k].data) {
									err = errors.New("wrong bytes")
								}
							}
							if err != nil {
								errs <- fmt.Errorf("DecodeMany: %v", err)
								return
							}
						}
						if g == 0 {
							var w bytes.Buffer
							if _, err := a.WriteTo(&w); err != nil || !bytes.Equal(w.Bytes(), file) {
								errs <- fmt.Errorf("WriteTo: %v", err)
								return
							}
						}
					}
				}(g)
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				for r := 0; r < 50; r++ {
					if len(a.Tensors()) != len(fine) {
						errs <- errors.New("Tensors changed")
						return
					}
					if _, err := a.HeaderJSON(); err != nil {
						errs <- err
						return
					}
				}
			}()
			wg.Wait()
			close(errs)
			for err := range errs {
				t.Error(err)
			}

			// Close while goroutines decode: each call either succeeds or sees the
			// closed archive, never a freed handle.
			var wg2 sync.WaitGroup
			stop := make(chan struct{})
			for g := 0; g < 8; g++ {
				wg2.Add(1)
				go func() {
					defer wg2.Done()
					for {
						select {
						case <-stop:
							return
						default:
						}
						got, err := a.Tensor("norm.weight")
						if err != nil {
							if !errors.Is(err, ErrInvalidParam) {
								t.Errorf("decode during Close: %v", err)
							}
							return
						}
						if !bytes.Equal(got, fine[2].data) {
							t.Error("wrong bytes during Close")
							return
						}
					}
				}()
			}
			time.Sleep(20 * time.Millisecond)
			a.Close()
			close(stop)
			wg2.Wait()
		})
	}
}

func TestReaderOptions(t *testing.T) {
	src := weights(DTypeBF16, 300000, 4)
	stream := writeStream(t, src, &Options{DType: DTypeBF16}, 65536, []int{len(src)})
	for _, th := range []uint32{0, 1, 3} {
		z := NewReaderOptions(bytes.NewReader(stream), &Options{Threads: th})
		got, err := readAllClose(z)
		if err != nil || !bytes.Equal(got, src) {
			t.Fatalf("threads %d: %v", th, err)
		}
	}
	z := NewReaderOptions(bytes.NewReader(stream), &Options{MaxDecompressedSize: 100000})
	if _, err := readAllClose(z); !errors.Is(err, ErrLimitExceeded) {
		t.Errorf("limit: %v", err)
	}
	z = NewReaderOptions(bytes.NewReader(stream), &Options{MaxDecompressedSize: uint64(len(src))})
	if got, err := readAllClose(z); err != nil || !bytes.Equal(got, src) {
		t.Errorf("limit = size: %v", err)
	}
	z = NewReaderOptions(bytes.NewReader(stream), &Options{Threads: 5000})
	if _, err := readAllClose(z); !errors.Is(err, ErrInvalidParam) {
		t.Errorf("bad options: %v", err)
	}
}

func readAllClose(z *Reader) ([]byte, error) {
	defer z.Close()
	var out bytes.Buffer
	_, err := out.ReadFrom(z)
	return out.Bytes(), err
}
