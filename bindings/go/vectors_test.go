package zipnn

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// TestVectors runs the cross-language checks on tests/vectors/manifest.tsv: decode every
// valid frame to its input, round-trip every input with the manifest's options, and
// reject every invalid frame with its expected status.
func TestVectors(t *testing.T) {
	dir := filepath.Join("..", "..", "tests", "vectors")
	manifest, err := os.ReadFile(filepath.Join(dir, "manifest.tsv"))
	if errors.Is(err, os.ErrNotExist) {
		t.Skip("no tests/vectors/manifest.tsv")
	}
	if err != nil {
		t.Fatal(err)
	}
	byName := map[string]*Error{}
	for _, s := range sentinels {
		byName[strings.TrimPrefix(codeName(s), "Err")] = s
	}
	dtypes := map[string]DType{}
	for _, d := range allDTypes {
		dtypes[d.String()] = d
	}
	methods := map[string]Method{}
	for _, m := range allMethods {
		methods[strings.ToLower(m.String())] = m
	}
	n := 0
	for _, line := range strings.Split(string(manifest), "\n") {
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		f := strings.Split(line, "\t")
		if len(f) != 9 {
			t.Fatalf("bad manifest line %q", line)
		}
		name, kind, expect := f[0], f[1], f[8]
		n++
		t.Run(name, func(t *testing.T) {
			frame, err := os.ReadFile(filepath.Join(dir, f[7]))
			if err != nil {
				t.Fatal(err)
			}
			switch kind {
			case "invalid":
				want, ok := byName[expect]
				if !ok {
					t.Fatalf("unknown expected status %q", expect)
				}
				if _, err := Decompress(nil, frame); !errors.Is(err, want) {
					t.Fatalf("Decompress: %v, want %v", err, want)
				}
			case "valid":
				input, err := os.ReadFile(filepath.Join(dir, f[6]))
				if err != nil {
					t.Fatal(err)
				}
				got, err := Decompress(nil, frame)
				if err != nil || !bytes.Equal(got, input) {
					t.Fatalf("decode golden: %v", err)
				}
				if err := Verify(frame); err != nil {
					t.Fatalf("Verify: %v", err)
				}
				d, okD := dtypes[f[2]]
				m, okM := methods[strings.ToLower(f[3])]
				cs, err1 := strconv.ParseUint(f[4], 10, 32)
				bg, err2 := strconv.ParseUint(f[5], 10, 32)
				if !okD || !okM || err1 != nil || err2 != nil {
					t.Fatalf("bad options in %q", line)
				}
				opts := &Options{DType: d, Method: m, ChunkSize: uint32(cs), BGPartitions: uint32(bg)}
				re, err := Compress(nil, input, opts)
				if err != nil {
					t.Fatalf("Compress: %v", err)
				}
				back, err := Decompress(nil, re)
				if err != nil || !bytes.Equal(back, input) {
					t.Fatalf("round trip: %v", err)
				}
			default:
				t.Fatalf("unknown kind %q", kind)
			}
		})
	}
	if n == 0 {
		t.Fatal("empty manifest")
	}
}

// TestDeltaVectors runs tests/vectors/delta.tsv (name, dtype, input, base, frame): every
// delta frame decodes to its input with its base, and is ErrBaseRequired without one and
// ErrBaseMismatch with another base of the same length.
func TestDeltaVectors(t *testing.T) {
	dir := filepath.Join("..", "..", "tests", "vectors")
	manifest, err := os.ReadFile(filepath.Join(dir, "delta.tsv"))
	if errors.Is(err, os.ErrNotExist) {
		t.Skip("no tests/vectors/delta.tsv")
	}
	if err != nil {
		t.Fatal(err)
	}
	read := func(rel string) []byte {
		b, err := os.ReadFile(filepath.Join(dir, rel))
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	n := 0
	for _, line := range strings.Split(string(manifest), "\n") {
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		f := strings.Split(line, "\t")
		if len(f) != 5 {
			t.Fatalf("bad delta manifest line %q", line)
		}
		n++
		t.Run(f[0], func(t *testing.T) {
			input, base, frame := read(f[2]), read(f[3]), read(f[4])
			got, err := DecompressDelta(nil, frame, base, nil)
			if err != nil || !bytes.Equal(got, input) {
				t.Fatalf("DecompressDelta: %v", err)
			}
			if _, err := Decompress(nil, frame); !errors.Is(err, ErrBaseRequired) {
				t.Fatalf("Decompress without a base: %v, want ErrBaseRequired", err)
			}
			other := append([]byte(nil), base...)
			other[0] ^= 1
			if _, err := DecompressDelta(nil, frame, other, nil); !errors.Is(err, ErrBaseMismatch) {
				t.Fatalf("DecompressDelta with another base: %v, want ErrBaseMismatch", err)
			}
		})
	}
	if n == 0 {
		t.Fatal("empty delta manifest")
	}
}

// codeName maps a sentinel to its Go name, e.g. ErrBadMagic -> "ErrBadMagic".
func codeName(e *Error) string {
	names := map[*Error]string{
		ErrNullPointer: "ErrNullPointer", ErrInvalidParam: "ErrInvalidParam",
		ErrUnsupportedDtype: "ErrUnsupportedDtype", ErrUnsupportedMethod: "ErrUnsupportedMethod",
		ErrDstTooSmall: "ErrDstTooSmall", ErrSrcTooLarge: "ErrSrcTooLarge",
		ErrLimitExceeded: "ErrLimitExceeded", ErrBadMagic: "ErrBadMagic",
		ErrUnsupportedVersion: "ErrUnsupportedVersion", ErrUnsupportedFlags: "ErrUnsupportedFlags",
		ErrUnsupportedCodec: "ErrUnsupportedCodec", ErrTruncated: "ErrTruncated",
		ErrCorrupt: "ErrCorrupt", ErrChecksum: "ErrChecksum", ErrAlloc: "ErrAlloc",
		ErrInternal: "ErrInternal", ErrInternalPanic: "ErrInternalPanic", ErrBadSafetensors: "ErrBadSafetensors",
		ErrBaseRequired: "ErrBaseRequired", ErrBaseMismatch: "ErrBaseMismatch", ErrNotFound: "ErrNotFound",
		ErrIO: "ErrIO",
	}
	return names[e]
}
