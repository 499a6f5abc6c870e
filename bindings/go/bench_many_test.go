package zipnn

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"testing"
)

// threadTimes is the CPU time of each thread of this process so far, in ns (Linux:
// /proc/self/task/*/schedstat), or nil where that cannot be read.
func threadTimes() map[string]int64 {
	tasks, err := filepath.Glob("/proc/self/task/*/schedstat")
	if err != nil || len(tasks) == 0 {
		return nil
	}
	out := make(map[string]int64, len(tasks))
	for _, t := range tasks {
		b, err := os.ReadFile(t)
		if err != nil {
			continue
		}
		f := strings.Fields(string(b))
		if len(f) > 0 {
			if ns, err := strconv.ParseInt(f[0], 10, 64); err == nil {
				out[t] = ns
			}
		}
	}
	return out
}

// busiest runs f and returns the CPU time of its busiest thread: what f takes with a core
// for each thread, steady on a machine busy with other work.
func busiest(f func()) int64 {
	before := threadTimes()
	f()
	most := int64(0)
	for t, ns := range threadTimes() {
		most = max(most, ns-before[t])
	}
	return most
}

// runLoad reports MB/s of the busiest thread beside the wall time of b.N calls of f.
func runLoad(b *testing.B, bytes int64, f func()) {
	// On one OS thread, so that the busiest thread is the one that made the calls.
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	b.SetBytes(bytes)
	ns := busiest(func() {
		for i := 0; i < b.N; i++ {
			f()
		}
	})
	if ns > 0 {
		b.ReportMetric(float64(bytes)*float64(b.N)/float64(ns)*1e3, "MB/s-busiest")
	}
}

// Loading every tensor of an archive: one Tensor / TensorInto call per tensor against one
// DecodeMany / DecodeManyInto call (the chunks of all the frames over the threads).
//
//	go test -tags zipnn_dev -run '^$' -bench ArchiveLoad -count 5 .
//
// Archives: 400 bf16 tensors of 128 KiB (one chunk each), and the safetensors file named by
// ZIPNN_BENCH_SAFETENSORS (default ../../corpus/minilm.bf16.safetensors, the corpus of
// benches/paths.sh; skipped when missing). MB/s are of decoded bytes; "into" decodes into buffers made beforehand,
// "alloc" includes allocating them.
func BenchmarkArchiveLoad(b *testing.B) {
	files := []struct {
		name string
		file []byte
	}{{"400x128KiB", manySmallTensors()}}
	path := os.Getenv("ZIPNN_BENCH_SAFETENSORS")
	if path == "" {
		path = "../../corpus/minilm.bf16.safetensors"
	}
	if f, err := os.ReadFile(path); err == nil {
		files = append(files, struct {
			name string
			file []byte
		}{"minilm", f})
	}
	for _, f := range files {
		arc, err := CompressSafetensors(nil, f.file, nil, nil)
		if err != nil {
			b.Fatal(err)
		}
		for _, threads := range []uint32{1, 2} {
			a := openBenchArchive(b, arc, threads)
			infos := a.Tensors()
			names := make([]string, len(infos))
			dsts := make([][]byte, len(infos))
			total := int64(0)
			for k, ti := range infos {
				names[k] = ti.Name
				dsts[k] = make([]byte, ti.Size)
				total += int64(ti.Size)
			}
			prefix := fmt.Sprintf("%s/threads=%d/", f.name, threads)
			b.Run(prefix+"into/loop", func(b *testing.B) {
				runLoad(b, total, func() {
					for k, name := range names {
						if _, err := a.TensorInto(name, dsts[k]); err != nil {
							b.Fatal(err)
						}
					}
				})
			})
			b.Run(prefix+"into/many", func(b *testing.B) {
				runLoad(b, total, func() {
					if _, err := a.DecodeManyInto(names, dsts); err != nil {
						b.Fatal(err)
					}
				})
			})
			// Each way keeps all its results until the next call's are made, as a load does.
			var kept [][]byte
			b.Run(prefix+"alloc/loop", func(b *testing.B) {
				runLoad(b, total, func() {
					out := make([][]byte, len(names))
					for k, name := range names {
						var err error
						if out[k], err = a.Tensor(name); err != nil {
							b.Fatal(err)
						}
					}
					kept = out
				})
			})
			b.Run(prefix+"alloc/many", func(b *testing.B) {
				runLoad(b, total, func() {
					var err error
					if kept, err = a.DecodeMany(names); err != nil {
						b.Fatal(err)
					}
				})
			})
			_ = kept
			a.Close()
		}
	}
}

// Restoring the whole file through WriteTo (tensors decoded in groups by one call each):
//
//	go test -tags zipnn_dev -run '^$' -bench ArchiveWriteTo -count 5 .
func BenchmarkArchiveWriteTo(b *testing.B) {
	file := manySmallTensors()
	arc, err := CompressSafetensors(nil, file, nil, nil)
	if err != nil {
		b.Fatal(err)
	}
	for _, threads := range []uint32{1, 2} {
		a := openBenchArchive(b, arc, threads)
		b.Run(fmt.Sprintf("400x128KiB/threads=%d", threads), func(b *testing.B) {
			runLoad(b, int64(len(file)), func() {
				if _, err := a.WriteTo(io.Discard); err != nil {
					b.Fatal(err)
				}
			})
		})
		a.Close()
	}
}

// A safetensors file of 400 bf16 tensors of 128 KiB (one chunk each).
func manySmallTensors() []byte {
	var ts []stTensor
	for i := 0; i < 400; i++ {
		ts = append(ts, stTensor{fmt.Sprintf("layer.%d.w", i), "BF16", []uint64{64 << 10},
			weights(DTypeBF16, 128<<10, uint64(i))})
	}
	return buildSafetensors(ts)
}

// The archive opened from memory with that many threads (the benchmark fails otherwise).
func openBenchArchive(b *testing.B, arc []byte, threads uint32) *Archive {
	a, err := OpenArchiveBytes(arc, &Options{Threads: threads})
	if err != nil {
		b.Fatal(err)
	}
	return a
}
