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

// referenceDir holds files the reference package (PyPI zipnn 0.5.4) wrote, with the
// content each decodes to (manifest.tsv).
var referenceDir = filepath.Join("..", "..", "tests", "reference-vectors")

// referenceContent returns the bytes "inputs/X" or "inputs/X[A:B]" names.
func referenceContent(t *testing.T, spec string) []byte {
	name, rng, ranged := strings.Cut(spec, "[")
	all, err := os.ReadFile(filepath.Join(referenceDir, name))
	if err != nil {
		t.Fatal(err)
	}
	if !ranged {
		return all
	}
	a, b, _ := strings.Cut(strings.TrimSuffix(rng, "]"), ":")
	ai, _ := strconv.Atoi(a)
	bi, _ := strconv.Atoi(b)
	return all[ai:bi]
}

// TestReferenceVectors: every vector decodes to its listed content (frames, deltas with
// their base, safetensors files as archives) and converts to the checksummed format.
func TestReferenceVectors(t *testing.T) {
	manifest, err := os.ReadFile(filepath.Join(referenceDir, "manifest.tsv"))
	if errors.Is(err, os.ErrNotExist) {
		t.Skip("no tests/reference-vectors/manifest.tsv")
	}
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(string(manifest)), "\n")
	head := strings.Split(lines[0], "\t")
	col := map[string]int{}
	for i, h := range head {
		col[h] = i
	}
	n := 0
	for _, line := range lines[1:] {
		c := strings.Split(line, "\t")
		file, kind := c[col["file"]], c[col["kind"]]
		src, err := os.ReadFile(filepath.Join(referenceDir, file))
		if err != nil {
			t.Fatal(err)
		}
		want := referenceContent(t, c[col["original"]])
		var base []byte
		if b := c[col["delta_base"]]; b != "-" {
			base = referenceContent(t, b)
		}
		if kind == "safetensors" {
			a, err := OpenArchiveBytes(src, nil)
			if err != nil {
				t.Fatalf("%s: %v", file, err)
			}
			got, err := a.Restore()
			if err != nil || !bytes.Equal(got, want) {
				t.Fatalf("%s: restore: %v", file, err)
			}
			if len(a.Tensors()) != 7 {
				t.Fatalf("%s: %d tensors", file, len(a.Tensors()))
			}
			a.Close()
		} else {
			info, err := FrameInfo(src)
			if err != nil || !info.IsReference() || info.OriginalSize != uint64(len(want)) {
				t.Fatalf("%s: info %+v, %v", file, info, err)
			}
			var got []byte
			if base != nil {
				if _, err := Decompress(nil, src); !errors.Is(err, ErrBaseRequired) {
					t.Fatalf("%s: without base: %v", file, err)
				}
				got, err = DecompressDelta(nil, src, base, nil)
			} else {
				got, err = Decompress(nil, src)
			}
			if err != nil || !bytes.Equal(got, want) {
				t.Fatalf("%s: decoded bytes differ (%v)", file, err)
			}
			shape, err := TensorShape(src)
			if kind == "torch" || kind == "numpy" {
				text := strings.Trim(c[col["shape"]], "[]")
				var dims []string
				for _, d := range shape {
					dims = append(dims, strconv.FormatUint(d, 10))
				}
				if err != nil || strings.Join(dims, ", ") != text {
					t.Fatalf("%s: shape %v (%v), want [%s]", file, shape, err, text)
				}
			} else if !errors.Is(err, ErrNotFound) {
				t.Fatalf("%s: shape of bytes: %v", file, err)
			}
		}
		conv, err := Convert(nil, src, base, nil)
		if err != nil {
			t.Fatalf("%s: convert: %v", file, err)
		}
		var back []byte
		if kind == "safetensors" || kind == "zipnn-hf" {
			a, err := OpenArchiveBytes(conv, nil)
			if err != nil {
				t.Fatalf("%s: converted archive: %v", file, err)
			}
			back, err = a.Restore()
			a.Close()
			if err != nil {
				t.Fatal(err)
			}
		} else if base != nil {
			back, err = DecompressDelta(nil, conv, base, nil)
		} else {
			back, err = Decompress(nil, conv)
		}
		if err != nil || !bytes.Equal(back, want) {
			t.Fatalf("%s: converted data differs (%v)", file, err)
		}
		n++
	}
	if n != 34 {
		t.Fatalf("%d vectors, want 34", n)
	}
}
