package zipnn

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
)

const sentinel = 0xA5

// filled returns n bytes of the sentinel.
func filled(n int) []byte { return bytes.Repeat([]byte{sentinel}, n) }

// untouched reports whether every buffer holds only the sentinel.
func untouched(bufs [][]byte) bool {
	for _, b := range bufs {
		if len(bytes.Trim(b, string([]byte{sentinel}))) != 0 {
			return false
		}
	}
	return true
}

// manyOutputs returns one sentinel-filled buffer per tensor of ts, each 3 bytes longer
// than the tensor, and the names of ts.
func manyOutputs(ts []stTensor) ([][]byte, []string) {
	dsts := make([][]byte, len(ts))
	names := make([]string, len(ts))
	for k, t := range ts {
		dsts[k] = filled(len(t.data) + 3)
		names[k] = t.name
	}
	return dsts, names
}

// checkDecodeMany checks DecodeMany and DecodeManyInto on every tensor of a (in reverse
// order, one name twice) against the tensors and against one-by-one decoding, and the
// requests they refuse before writing anything.
func checkDecodeMany(t *testing.T, a *Archive, ts []stTensor) {
	t.Helper()
	order := slices.Clone(ts)
	slices.Reverse(order)
	order = append(order, ts[0]) // a name twice, into two outputs
	dsts, names := manyOutputs(order)

	many, err := a.DecodeMany(names)
	if err != nil || len(many) != len(names) {
		t.Fatalf("DecodeMany: %d results, %v", len(many), err)
	}
	n, err := a.DecodeManyInto(names, dsts)
	if err != nil || len(n) != len(names) {
		t.Fatalf("DecodeManyInto: %v, %v", n, err)
	}
	for k, want := range order {
		one, err := a.Tensor(want.name)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(many[k], want.data) || !bytes.Equal(many[k], one) || many[k] == nil {
			t.Errorf("DecodeMany[%d] (%s) differs", k, want.name)
		}
		if n[k] != len(want.data) || !bytes.Equal(dsts[k][:n[k]], one) ||
			!bytes.Equal(dsts[k][n[k]:], filled(3)) {
			t.Errorf("DecodeManyInto[%d] (%s): %d bytes", k, want.name, n[k])
		}
	}

	// Refused before anything is written.
	reset := func() {
		for _, d := range dsts {
			copy(d, filled(len(d)))
		}
	}
	refused := func(what string, wantErr error, names []string, dsts [][]byte) {
		t.Helper()
		reset()
		got, err := a.DecodeManyInto(names, dsts)
		if !errors.Is(err, wantErr) || got != nil {
			t.Errorf("%s: %v, %v; want %v", what, got, err, wantErr)
		}
		if !untouched(dsts) {
			t.Errorf("%s: an output was written", what)
		}
	}
	// Two outputs that overlap (by one byte, and the same buffer twice).
	big := 0 // a tensor with bytes
	for len(order[big].data) < 2 {
		big++
	}
	over := slices.Clone(dsts)
	over[big+1] = dsts[big][1:]
	refused("overlapping outputs", ErrInvalidParam, names, over)
	same := slices.Clone(dsts)
	same[len(same)-1] = same[big]
	refused("one output twice", ErrInvalidParam, names, same)
	// An output one byte short.
	short := slices.Clone(dsts)
	short[big] = dsts[big][:len(order[big].data)-1]
	refused("short output", ErrDstTooSmall, names, short)
	// An unknown name, named in the error.
	bad := slices.Clone(names)
	bad[len(bad)/2] = "no.such.tensor"
	refused("unknown name", ErrNotFound, bad, dsts)
	if _, err := a.DecodeMany(bad); !errors.Is(err, ErrNotFound) ||
		!strings.Contains(err.Error(), "no.such.tensor") {
		t.Errorf("DecodeMany(unknown): %v", err)
	}
	refused("fewer outputs than names", ErrInvalidParam, names, dsts[1:])
	refused("more outputs than names", ErrInvalidParam, names[1:], dsts)

	// Nothing asked, nothing done.
	if got, err := a.DecodeMany(nil); err != nil || got == nil || len(got) != 0 {
		t.Errorf("DecodeMany(nil) = %v, %v", got, err)
	}
	if got, err := a.DecodeManyInto(nil, nil); err != nil || got == nil || len(got) != 0 {
		t.Errorf("DecodeManyInto(nil) = %v, %v", got, err)
	}
}

func TestArchiveDecodeMany(t *testing.T) {
	ts := sampleTensors(400)
	file := buildSafetensors(ts)
	arc := mustCompressSafetensors(t, file, nil, &Options{ChunkSize: 1024})
	path := filepath.Join(t.TempDir(), "model.znt")
	if err := os.WriteFile(path, arc, 0o600); err != nil {
		t.Fatal(err)
	}
	for _, th := range []uint32{1, 2} {
		t.Run("memory/threads="+strconv.Itoa(int(th)), func(t *testing.T) {
			a, err := OpenArchiveBytes(arc, &Options{Threads: th})
			if err != nil {
				t.Fatal(err)
			}
			defer a.Close()
			checkDecodeMany(t, a, ts)
			// An output over the archive bytes the handle reads.
			dsts, names := manyOutputs(ts)
			dsts[2] = arc[:len(ts[2].data)]
			if _, err := a.DecodeManyInto(names, dsts); !errors.Is(err, ErrInvalidParam) {
				t.Errorf("DecodeManyInto over the archive: %v", err)
			}
		})
		t.Run("file/threads="+strconv.Itoa(int(th)), func(t *testing.T) {
			a, err := OpenArchive(path, &Options{Threads: th})
			if err != nil {
				t.Fatal(err)
			}
			defer a.Close()
			checkDecodeMany(t, a, ts)
		})
	}

	t.Run("delta", func(t *testing.T) {
		base, fine := baseAndFineTune()
		a, err := OpenArchiveBytes(mustCompressSafetensors(t, buildSafetensors(fine), base, nil), nil)
		if err != nil {
			t.Fatal(err)
		}
		defer a.Close()
		dsts, names := manyOutputs(fine)
		if _, err := a.DecodeManyInto(names, dsts); !errors.Is(err, ErrBaseRequired) || !untouched(dsts) {
			t.Errorf("DecodeManyInto without the base: %v", err)
		}
		if _, err := a.DecodeMany(names); !errors.Is(err, ErrBaseRequired) ||
			!strings.Contains(err.Error(), "tensor ") {
			t.Errorf("DecodeMany without the base: %v", err)
		}
		if err := a.SetBaseBytes(base); err != nil {
			t.Fatal(err)
		}
		checkDecodeMany(t, a, fine)
	})

	t.Run("closed", func(t *testing.T) {
		a, err := OpenArchiveBytes(arc, nil)
		if err != nil {
			t.Fatal(err)
		}
		a.Close()
		dsts, names := manyOutputs(ts)
		if _, err := a.DecodeMany(names); !errors.Is(err, ErrInvalidParam) {
			t.Errorf("DecodeMany after Close: %v", err)
		}
		if _, err := a.DecodeManyInto(names, dsts); !errors.Is(err, ErrInvalidParam) || !untouched(dsts) {
			t.Errorf("DecodeManyInto after Close: %v", err)
		}
	})
}

// TestArchiveDecodeManyCorrupt flips one byte at a time over the whole archive. When the
// damaged archive opens, each tensor is decoded alone (Tensor), then all of them and then
// those that decoded alone, by DecodeManyInto and DecodeMany: a call fails exactly when
// one of its tensors fails alone, a failed call leaves every output untouched (from memory
// every frame is checked before any output is written; the file here is far below one
// batch), and whatever is decoded is exact. Never a crash.
func TestArchiveDecodeManyCorrupt(t *testing.T) {
	ts := sampleTensors(500)
	file := buildSafetensors(ts)
	arc := mustCompressSafetensors(t, file, nil, &Options{ChunkSize: 1024})
	path := filepath.Join(t.TempDir(), "bad.znt")
	step := max(1, len(arc)/1500)
	opened, failed, decoded := 0, 0, 0
	for pos := 0; pos < len(arc); pos += step {
		bad := slices.Clone(arc)
		bad[pos] ^= byte(1) << (pos % 8)
		var a *Archive
		var err error
		if pos%(7*step) == 0 {
			if err := os.WriteFile(path, bad, 0o600); err != nil {
				t.Fatal(err)
			}
			a, err = OpenArchive(path, &Options{Threads: 2})
		} else {
			a, err = OpenArchiveBytes(bad, &Options{Threads: 2})
		}
		if err != nil {
			continue
		}
		opened++
		infos := a.Tensors()
		if len(infos) != len(ts) {
			t.Fatalf("byte %d flipped: %d tensors, want %d", pos, len(infos), len(ts))
		}
		var all, good []string
		var goodData [][]byte
		for k, ti := range infos {
			all = append(all, ti.Name)
			// Compared in data order: a flip in the JSON header could rename a tensor.
			if one, err := a.Tensor(ti.Name); err == nil {
				if !bytes.Equal(one, ts[k].data) {
					t.Fatalf("byte %d flipped: Tensor(%s) decoded wrongly", pos, ti.Name)
				}
				good = append(good, ti.Name)
				goodData = append(goodData, ts[k].data)
			}
		}
		allGood := len(good) == len(all)
		for _, c := range []struct {
			names []string
			ok    bool
		}{{all, allGood}, {good, true}} {
			want := goodData // when c.ok, c.names are those of goodData
			dsts := make([][]byte, len(c.names))
			for k, name := range c.names {
				ti, _ := a.Lookup(name)
				dsts[k] = filled(int(min(ti.Size, 1<<20)) + 3)
			}
			n, err := a.DecodeManyInto(c.names, dsts)
			many, merr := a.DecodeMany(c.names)
			if (err == nil) != c.ok || (merr == nil) != c.ok {
				t.Fatalf("byte %d flipped: %d tensors, all decode alone: %v; DecodeManyInto: %v, DecodeMany: %v",
					pos, len(c.names), c.ok, err, merr)
			}
			if err != nil {
				failed++
				if !untouched(dsts) {
					t.Fatalf("byte %d flipped: %v, and an output was written", pos, err)
				}
				continue
			}
			for k := range c.names {
				if n[k] != len(want[k]) || !bytes.Equal(dsts[k][:n[k]], want[k]) || !bytes.Equal(many[k], want[k]) {
					t.Fatalf("byte %d flipped: tensor %s decoded wrongly", pos, c.names[k])
				}
			}
			decoded += len(c.names)
		}
		a.Close()
	}
	if opened == 0 || failed == 0 || decoded == 0 {
		t.Fatalf("%d damaged archives opened, %d calls failed, %d tensors decoded: the sweep tested too little",
			opened, failed, decoded)
	}
	t.Logf("%d positions, %d opened; %d calls failed untouched, %d tensors decoded exactly",
		(len(arc)+step-1)/step, opened, failed, decoded)
}

// WriteTo and DecodeMany decode groups of tensors by one call each: groups of several
// tensors, a tensor larger than a group alone, and empty and tied tensors between them.
func TestArchiveWriteToGroups(t *testing.T) {
	ts := []stTensor{
		tensor("a", "BF16", 1, 300<<10), // 600 KiB: groups of 1 MiB hold a and b, c and empty, ...
		tensor("b", "F32", 2, 100),
		tensor("c", "BF16", 3, 300<<10),
		tensor("empty", "F32", 4, 0),
		tensor("d", "BF16", 5, 300<<10),
		tensor("huge", "BF16", 6, 1536<<10), // 3 MiB, a group alone
		{},
		tensor("e", "F16", 7, 1000),
	}
	ts[6] = stTensor{"tied", "BF16", ts[0].shape, slices.Clone(ts[0].data)}
	file := buildSafetensors(ts)
	a, err := OpenArchiveBytes(mustCompressSafetensors(t, file, nil, nil), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	var w bytes.Buffer
	if n, err := a.WriteTo(&w); err != nil || n != int64(len(file)) || !bytes.Equal(w.Bytes(), file) {
		t.Fatalf("WriteTo = %d, %v", n, err)
	}
	checkDecodeMany(t, a, ts)
}
