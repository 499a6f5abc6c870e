package zipnn

import (
	"bytes"
	"errors"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"runtime/debug"
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

// hostile is the path of a file of tests/data/hostile (written by the Rust test
// hostile_files_are_current): a 14 KB frame and archives that declare 64 GiB.
func hostile(t *testing.T, name string) string {
	t.Helper()
	p := filepath.Join("..", "..", "tests", "data", "hostile", name)
	if _, err := os.Stat(p); err != nil {
		t.Fatalf("missing test input: %v", err)
	}
	return p
}

func readHostile(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(hostile(t, name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// A 64 GiB claim must not end the process: with a 64 MiB soft memory limit, every entry
// point that allocates a declared size refuses the hostile files (the valid ones by the
// limit, the damaged one by its checksums) and allocates almost nothing doing so.
func TestHostileClaimsAllocateNothing(t *testing.T) {
	defer debug.SetMemoryLimit(debug.SetMemoryLimit(64 << 20))
	const small = 1 << 20
	check := func(what string, want error, f func() error) {
		t.Helper()
		var err error
		n := allocatedDuring(func() { err = f() })
		if !errors.Is(err, want) {
			t.Errorf("%s: got %v, want %v", what, err, want)
		}
		if n > small {
			t.Errorf("%s: allocated %d bytes", what, n)
		}
	}
	archiveChecks := func(label string, a *Archive, want error) {
		check(label+" Tensor", want, func() error { _, err := a.Tensor("w"); return err })
		check(label+" Restore", want, func() error { _, err := a.Restore(); return err })
		check(label+" WriteTo", want, func() error { _, err := a.WriteTo(io.Discard); return err })
	}

	// From a file with default options: the default limit (4 GiB) refuses 64 GiB.
	a, err := OpenArchive(hostile(t, "bomb-64g-archive.znn"), nil)
	if err != nil {
		t.Fatal(err)
	}
	archiveChecks("file, defaults", a, ErrLimitExceeded)
	if ti, _ := a.Lookup("w"); ti.Size != 64<<30 {
		t.Fatalf("the file declares %d bytes", ti.Size)
	}
	a.Close()

	// From memory, damaged: no limit set, and the checksums refuse it before allocating.
	damaged := readHostile(t, "bomb-64g-archive-damaged.znn")
	a, err = OpenArchiveBytes(damaged, nil)
	if err != nil {
		t.Fatal(err)
	}
	archiveChecks("damaged, no limit", a, ErrChecksum)
	a.Close()

	// From memory, valid, with a limit.
	valid := readHostile(t, "bomb-64g-archive.znn")
	a, err = OpenArchiveBytes(valid, &Options{MaxDecompressedSize: 1 << 20})
	if err != nil {
		t.Fatal(err)
	}
	archiveChecks("valid, 1 MiB limit", a, ErrLimitExceeded)
	a.Close()

	// A lone frame: the limit, and the checksums of a damaged one, in both decoders.
	frame := readHostile(t, "bomb-64g.znn")
	bad := bytes.Clone(frame)
	bad[len(bad)-1] ^= 1
	limited := &Options{MaxDecompressedSize: 1 << 20}
	check("frame, limit", ErrLimitExceeded, func() error { _, err := DecompressWithOptions(nil, frame, limited); return err })
	check("frame, damaged", ErrChecksum, func() error { _, err := Decompress(nil, bad); return err })
	check("delta, limit", ErrLimitExceeded, func() error { _, err := DecompressDelta(nil, frame, nil, limited); return err })
	check("delta, damaged", ErrChecksum, func() error { _, err := DecompressDelta(nil, bad, nil, nil); return err })
}

// The limit counts the whole file for Restore, each tensor for Tensor and WriteTo.
func TestArchiveLimits(t *testing.T) {
	file := buildSafetensors([]stTensor{
		{"a", "F32", []uint64{256}, weights(DTypeFP32, 1024, 1)},
		{"b", "F32", []uint64{256}, weights(DTypeFP32, 1024, 2)},
	})
	ar, err := CompressSafetensors(nil, file, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	a, err := OpenArchiveBytes(ar, &Options{MaxDecompressedSize: 1500})
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	if _, err := a.Tensor("a"); err != nil {
		t.Fatalf("a tensor under the limit: %v", err)
	}
	if _, err := a.Restore(); !errors.Is(err, ErrLimitExceeded) {
		t.Fatalf("a file over the limit: %v", err)
	}
	var buf bytes.Buffer
	if _, err := a.WriteTo(&buf); err != nil || !bytes.Equal(buf.Bytes(), file) {
		t.Fatalf("WriteTo under the per-tensor limit: %v", err)
	}
	if DefaultFileLimit != 4<<30 {
		t.Fatalf("DefaultFileLimit = %d", DefaultFileLimit)
	}
}

// Frames below PreVerifyRatio (ordinary weights) are checked once, by the decode itself,
// and a damaged one still gives ErrChecksum.
func TestDamagedOrdinaryFrame(t *testing.T) {
	frame, err := Compress(nil, weights(DTypeBF16, 1<<20, 3), &Options{DType: DTypeBF16})
	if err != nil {
		t.Fatal(err)
	}
	bad := append([]byte(nil), frame...)
	bad[len(bad)-100] ^= 1
	if _, err := Decompress(nil, bad); !errors.Is(err, ErrChecksum) {
		t.Fatalf("got %v, want ErrChecksum", err)
	}
}

// sweepOne reads a (possibly damaged) archive through the Go archive reader; anything it
// returns must be exactly right.
func sweepOne(t *testing.T, data, file []byte, want map[string][]byte, counts *[3]int) {
	a, err := OpenArchiveBytes(data, nil)
	if err != nil {
		return
	}
	defer a.Close()
	counts[0]++
	for name, raw := range want {
		got, err := a.Tensor(name)
		if err != nil {
			counts[2]++
			continue
		}
		if !bytes.Equal(got, raw) {
			t.Fatalf("tensor %s decoded wrong", name)
		}
		counts[1]++
	}
	if got, err := a.Restore(); err == nil && !bytes.Equal(got, file) {
		t.Fatal("restored file differs")
	}
	var buf bytes.Buffer
	if _, err := a.WriteTo(&buf); err == nil && !bytes.Equal(buf.Bytes(), file) {
		t.Fatal("written file differs")
	}
}

// Every byte of an archive flipped (two ways) and every truncation, through the Go reader:
// never a crash, never a wrong byte (the same sweep runs in C, Python and C++).
func TestArchiveCorruptionSweep(t *testing.T) {
	emb := weights(DTypeBF16, 1024, 1)
	ts := []stTensor{
		{"embed", "BF16", []uint64{32, 16}, emb},
		{"head", "BF16", []uint64{32, 16}, emb},
		{"norm", "F32", []uint64{64}, weights(DTypeFP32, 256, 2)},
		{"ids", "I64", []uint64{5}, weights(DTypeRaw, 40, 3)},
	}
	file := buildSafetensors(ts)
	want := map[string][]byte{}
	for _, x := range ts {
		want[x.name] = x.data
	}
	arc, err := CompressSafetensors(nil, file, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	var counts [3]int
	variants := 0
	bad := make([]byte, len(arc))
	for at := range arc {
		for _, flip := range []byte{0x01, 0xFE} {
			copy(bad, arc)
			bad[at] ^= flip
			sweepOne(t, bad, file, want, &counts)
		}
		sweepOne(t, bytes.Clone(arc[:at]), file, want, &counts)
		variants += 3
	}
	t.Logf("Go sweep: %d damaged archives (%d bytes each flipped twice, every truncation): "+
		"%d opened, %d tensors decoded exactly, %d refused, 0 wrong",
		variants, len(arc), counts[0], counts[1], counts[2])
	if counts[0] == 0 || counts[1] == 0 || counts[2] == 0 {
		t.Fatalf("the sweep did not reach every outcome: %v", counts)
	}
}
