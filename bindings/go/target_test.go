package zipnn

import (
	"bytes"
	"errors"
	"fmt"
	"testing"
)

// Options.Target: every target's frames decode everywhere to the same bytes, so each
// target must round-trip through frames, deltas, streams and archives; an unknown target
// is ErrInvalidParam with the caller's buffer untouched; the zero value is TargetAny.

func TestTargetNamesAndDefault(t *testing.T) {
	if TargetAny != 0 || TargetAVX512 != 1 {
		t.Fatalf("codes %d %d", TargetAny, TargetAVX512)
	}
	if TargetAny.String() != "any" || TargetAVX512.String() != "avx512" || Target(9).String() != "target(9)" {
		t.Fatal("names")
	}
	if d := DefaultOptions(); d.Target != TargetAny {
		t.Fatalf("DefaultOptions().Target = %v", d.Target)
	}
	if c := (&Options{Target: TargetAVX512}).toC(); c.target != 1 {
		t.Fatalf("toC target = %d", c.target)
	}
}

func TestTargetRoundTrips(t *testing.T) {
	for _, target := range []Target{TargetAny, TargetAVX512} {
		for _, d := range allDTypes {
			src := weights(d, 70001, 3)
			for _, lvl := range []Level{LevelFast, LevelDefault, LevelMax} {
				opts := &Options{DType: d, Level: lvl, ChunkSize: 16384, Target: target}
				frame := mustCompress(t, src, opts)
				t.Run(fmt.Sprintf("%v/%v/%d", target, d, lvl), func(t *testing.T) {
					checkFrame(t, frame, src, d, 0)
				})
			}
		}
	}
	// Deltas and lossy frames take it too.
	base := weights(DTypeBF16, 50000, 8)
	fine := append([]byte(nil), base...)
	for i := 0; i < len(fine); i += 101 {
		fine[i] ^= 1
	}
	opts := &Options{DType: DTypeBF16, Target: TargetAVX512}
	frame, err := CompressDelta(nil, fine, base, opts)
	if err != nil {
		t.Fatal(err)
	}
	got, err := DecompressDelta(nil, frame, base, nil)
	if err != nil || !bytes.Equal(got, fine) {
		t.Fatalf("delta: %v, equal %v", err, bytes.Equal(got, fine))
	}
	lossy := mustCompress(t, base, &Options{DType: DTypeBF16, Lossy: LossyMantissa, LossyParam: 4, Target: TargetAVX512})
	if info, err := FrameInfo(lossy); err != nil || !info.IsLossy() {
		t.Fatalf("lossy frame: %+v %v", info, err)
	}
}

func TestTargetUnknownIsInvalidParam(t *testing.T) {
	src := weights(DTypeBF16, 30000, 4)
	st := buildSafetensors(sampleTensors(12))
	for _, bad := range []Target{2, 7, 0xFFFFFFFF} {
		opts := &Options{DType: DTypeBF16, Target: bad}
		if n := CompressBound(len(src), opts); n != 0 {
			t.Errorf("CompressBound with target %d = %d", bad, n)
		}
		dst := make([]byte, 3, 100000)
		copy(dst, "abc")
		before := append([]byte(nil), dst[:cap(dst)]...)
		out, err := Compress(dst, src, opts)
		if !errors.Is(err, ErrInvalidParam) || !bytes.Equal(out, dst) || !bytes.Equal(dst[:cap(dst)], before) {
			t.Errorf("Compress with target %d: %v (output written: %v)", bad, err, !bytes.Equal(dst[:cap(dst)], before))
		}
		if _, err := CompressDelta(nil, src, src, opts); !errors.Is(err, ErrInvalidParam) {
			t.Errorf("CompressDelta with target %d: %v", bad, err)
		}
		out, err = CompressSafetensors(dst, st, nil, opts)
		if !errors.Is(err, ErrInvalidParam) || !bytes.Equal(out, dst) || !bytes.Equal(dst[:cap(dst)], before) {
			t.Errorf("CompressSafetensors with target %d: %v", bad, err)
		}
		var buf bytes.Buffer
		w := NewWriter(&buf, opts)
		if _, err := w.Write(src); !errors.Is(err, ErrInvalidParam) {
			t.Errorf("Writer with target %d: %v", bad, err)
		}
		_ = w.Close()
		if buf.Len() != 0 {
			t.Errorf("Writer with target %d wrote %d bytes", bad, buf.Len())
		}
		// Decompression reads no compression field.
		frame := mustCompress(t, src, &Options{DType: DTypeBF16})
		got, err := DecompressWithOptions(nil, frame, opts)
		if err != nil || !bytes.Equal(got, src) {
			t.Errorf("DecompressWithOptions with target %d: %v", bad, err)
		}
	}
}

func TestTargetStreamsAndArchives(t *testing.T) {
	opts := &Options{DType: DTypeBF16, ChunkSize: 4096, Target: TargetAVX512}
	src := weights(DTypeBF16, 100003, 6)
	stream := writeStream(t, src, opts, 16384, []int{7, 4093, 65537})
	got, err := readStream(t, bytes.NewReader(stream))
	if err != nil || !bytes.Equal(got, src) {
		t.Fatalf("stream: %v, equal %v", err, bytes.Equal(got, src))
	}

	ts := sampleTensors(21)
	file := buildSafetensors(ts)
	for _, o := range []*Options{{Target: TargetAVX512}, {Target: TargetAVX512, Level: LevelMax}} {
		a, err := OpenArchiveBytes(mustCompressSafetensors(t, file, nil, o), nil)
		if err != nil {
			t.Fatal(err)
		}
		checkArchive(t, a, ts, file)
		a.Close()
	}
	base, fine := baseAndFineTune()
	fineFile := buildSafetensors(fine)
	a, err := OpenArchiveBytes(mustCompressSafetensors(t, fineFile, base, &Options{Target: TargetAVX512}), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	if err := a.SetBaseBytes(base); err != nil {
		t.Fatal(err)
	}
	checkArchive(t, a, fine, fineFile)
}
