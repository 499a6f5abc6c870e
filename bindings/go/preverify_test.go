package zipnn

import (
	"errors"
	"runtime"
	"testing"
)

// allocatedDuring returns the heap bytes allocated while f runs.
func allocatedDuring(f func()) uint64 {
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	f()
	runtime.ReadMemStats(&after)
	return after.TotalAlloc - before.TotalAlloc
}

// A damaged frame that declares a huge output (here 64 MiB in a few KiB, all run chunks)
// fails with ErrChecksum before its output is allocated.
func TestDamagedHugeFrameAllocatesNothing(t *testing.T) {
	const size = 64 << 20
	frame, err := Compress(nil, make([]byte, size), nil)
	if err != nil {
		t.Fatal(err)
	}
	if uint64(size)/PreVerifyRatio < uint64(len(frame)) {
		t.Fatalf("frame of %d bytes is not above the pre-verify ratio", len(frame))
	}
	bad := append([]byte(nil), frame...)
	bad[len(bad)-1] ^= 0x5A // the last chunk's run byte: its checksum no longer matches
	for _, opts := range []*Options{nil, {Threads: 1}} {
		var out []byte
		var derr error
		n := allocatedDuring(func() { out, derr = DecompressWithOptions(nil, bad, opts) })
		if !errors.Is(derr, ErrChecksum) || out != nil {
			t.Fatalf("damaged frame: %v, %d bytes", derr, len(out))
		}
		if n > 1<<20 {
			t.Fatalf("damaged frame declaring %d bytes allocated %d bytes", size, n)
		}
	}
	// The intact frame still decodes (and allocates its output).
	var out []byte
	n := allocatedDuring(func() { out, err = Decompress(nil, frame) })
	if err != nil || len(out) != size {
		t.Fatalf("intact frame: %v, %d bytes", err, len(out))
	}
	if n < size {
		t.Fatalf("intact frame allocated only %d bytes", n)
	}
	// With room in dst there is nothing to allocate: the decode's own check reports it.
	dst := make([]byte, 0, size)
	if got, err := Decompress(dst, bad); !errors.Is(err, ErrChecksum) || len(got) != 0 {
		t.Fatalf("damaged frame into spare capacity: %v, %d bytes", err, len(got))
	}
}

// Frames below the ratio (ordinary weights) are checked once, by the decode itself, and a
// damaged one still gives ErrChecksum.
func TestDamagedOrdinaryFrame(t *testing.T) {
	frame, err := Compress(nil, weights(DTypeBF16, 1<<20, 3), &Options{DType: DTypeBF16})
	if err != nil {
		t.Fatal(err)
	}
	if needsPreVerify(1<<20, len(frame), 0) {
		t.Fatalf("weights frame of %d bytes is above the pre-verify ratio", len(frame))
	}
	bad := append([]byte(nil), frame...)
	bad[len(bad)-100] ^= 1
	if _, err := Decompress(nil, bad); !errors.Is(err, ErrChecksum) {
		t.Fatalf("got %v, want ErrChecksum", err)
	}
}

func TestNeedsPreVerify(t *testing.T) {
	for _, c := range []struct {
		size         uint64
		frame, spare int
		want         bool
	}{
		{800, 100, 0, true},
		{799, 100, 0, false},
		{800, 100, 800, false},
		{1 << 40, 100, 1 << 20, true},
		{0, 0, 0, false},
		{1, 0, 0, true},
	} {
		if got := needsPreVerify(c.size, c.frame, c.spare); got != c.want {
			t.Errorf("needsPreVerify(%d, %d, %d) = %v", c.size, c.frame, c.spare, got)
		}
	}
}
