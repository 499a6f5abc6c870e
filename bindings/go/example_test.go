package zipnn_test

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"

	zipnn "github.com/zipnn/zipnn/bindings/go"
)

// bf16Weights returns n bfloat16 values in little-endian order.
func bf16Weights(n int) []byte {
	b := make([]byte, 2*n)
	for i := 0; i < n; i++ {
		v := float32(math.Sin(float64(i))) * 0.01
		binary.LittleEndian.PutUint16(b[2*i:], uint16(math.Float32bits(v)>>16))
	}
	return b
}

func Example() {
	weights := bf16Weights(100000)

	frame, err := zipnn.Compress(nil, weights, &zipnn.Options{DType: zipnn.DTypeBF16})
	if err != nil {
		panic(err)
	}
	restored, err := zipnn.Decompress(nil, frame)
	if err != nil {
		panic(err)
	}
	fmt.Println("identical:", bytes.Equal(restored, weights))
	fmt.Println("smaller:", len(frame) < len(weights))
	// Output:
	// identical: true
	// smaller: true
}

func ExampleCompress() {
	src := bytes.Repeat([]byte("weights "), 1000)
	opts := zipnn.DefaultOptions()
	opts.Level = zipnn.LevelMax

	// Compress appends to dst, so buffers can be reused.
	var buf []byte
	buf, err := zipnn.Compress(buf[:0], src, &opts)
	if err != nil {
		panic(err)
	}
	fmt.Println(len(src), "->", len(buf) < len(src)/10)
	// Output: 8000 -> true
}

func ExampleDecompressInto() {
	frame, _ := zipnn.Compress(nil, []byte("exactly sized"), nil)

	size, err := zipnn.DecompressedSize(frame)
	if err != nil {
		panic(err)
	}
	dst := make([]byte, size)
	n, err := zipnn.DecompressInto(dst, frame)
	fmt.Println(n, err, string(dst))

	_, err = zipnn.DecompressInto(dst[:4], frame)
	fmt.Println(errors.Is(err, zipnn.ErrDstTooSmall))
	// Output:
	// 13 <nil> exactly sized
	// true
}

func ExampleFrameInfo() {
	frame, _ := zipnn.CompressWithMetadata(nil, bf16Weights(1000), []byte("shape=[10,100]"),
		&zipnn.Options{DType: zipnn.DTypeBF16})

	info, err := zipnn.FrameInfo(frame)
	if err != nil {
		panic(err)
	}
	meta, _ := zipnn.Metadata(frame)
	fmt.Println(info.DType, info.OriginalSize, info.Planes, info.ChunkCount, string(meta))
	// Output: bf16 2000 2 1 shape=[10,100]
}

func ExampleError() {
	frame, _ := zipnn.Compress(nil, []byte("some data"), nil)
	frame[len(frame)-1] ^= 0xff // damage the payload

	_, err := zipnn.Decompress(nil, frame)
	fmt.Println(errors.Is(err, zipnn.ErrChecksum))
	fmt.Println(err)

	var zerr *zipnn.Error
	if errors.As(err, &zerr) {
		fmt.Println(zerr.Code == zipnn.CodeChecksum)
	}
	// Output:
	// true
	// zipnn: checksum mismatch: the frame is corrupt
	// true
}

func ExampleNewWriter() {
	var stream bytes.Buffer
	w := zipnn.NewWriterSize(&stream, nil, 1024)
	for i := 0; i < 100; i++ {
		fmt.Fprintf(w, "line %d\n", i)
	}
	if err := w.Close(); err != nil {
		panic(err)
	}

	r := zipnn.NewReader(&stream)
	defer r.Close()
	all, err := io.ReadAll(r)
	fmt.Println(len(all), err, string(all[:7]))
	// Output: 790 <nil> line 0
}
