package zipnn_test

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"

	zipnn "github.com/zipnn/zipnn/bindings/go"
)

// safetensorsFile writes a small safetensors file: an 8-byte little-endian header length,
// the JSON header, then the tensors' bytes. lm_head repeats the embedding (tied weights).
func safetensorsFile(embed []byte) []byte {
	n := len(embed)
	json := fmt.Sprintf(`{"embed":{"dtype":"BF16","shape":[%d,8],"data_offsets":[0,%d]},`+
		`"lm_head":{"dtype":"BF16","shape":[%d,8],"data_offsets":[%d,%d]}}`,
		n/16, n, n/16, n, 2*n)
	file := binary.LittleEndian.AppendUint64(nil, uint64(len(json)))
	file = append(file, json...)
	file = append(file, embed...)
	return append(file, embed...)
}

func ExampleOpenArchiveBytes() {
	file := safetensorsFile(bf16Weights(4096))

	arc, err := zipnn.CompressSafetensors(nil, file, nil, nil)
	if err != nil {
		panic(err)
	}
	a, err := zipnn.OpenArchiveBytes(arc, nil) // arc is pinned until Close
	if err != nil {
		panic(err)
	}
	defer a.Close()

	for _, t := range a.Tensors() {
		fmt.Println(t.Name, t.DType, t.Shape, t.Size, "tied:", t.Tied)
	}
	embed, err := a.Tensor("embed") // decodes this tensor alone
	fmt.Println(len(embed), err)
	_, err = a.Tensor("missing")
	fmt.Println(errors.Is(err, zipnn.ErrNotFound))

	var restored bytes.Buffer
	if _, err := a.WriteTo(&restored); err != nil {
		panic(err)
	}
	fmt.Println("restored exactly:", bytes.Equal(restored.Bytes(), file))
	fmt.Println("smaller:", len(arc) < len(file)/2)
	// Output:
	// embed BF16 [512 8] 8192 tied: false
	// lm_head BF16 [512 8] 8192 tied: true
	// 8192 <nil>
	// true
	// restored exactly: true
	// smaller: true
}

func ExampleArchive_SetBaseBytes() {
	base := safetensorsFile(bf16Weights(4096))
	tuned := bf16Weights(4096)
	tuned[100] ^= 1 // a fine-tune that changed one weight
	file := safetensorsFile(tuned)

	// Tensors the base has with the same name, dtype and shape become deltas.
	arc, err := zipnn.CompressSafetensors(nil, file, base, nil)
	if err != nil {
		panic(err)
	}
	a, err := zipnn.OpenArchiveBytes(arc, nil)
	if err != nil {
		panic(err)
	}
	defer a.Close()

	_, err = a.Tensor("embed")
	fmt.Println(errors.Is(err, zipnn.ErrBaseRequired))
	if err := a.SetBaseBytes(base); err != nil {
		panic(err)
	}
	embed, err := a.Tensor("embed")
	fmt.Println(bytes.Equal(embed, tuned), err)
	// Output:
	// true
	// true <nil>
}

func ExampleCompressDelta() {
	base := bf16Weights(10000)
	tuned := bytes.Clone(base)
	tuned[7] ^= 0x40

	frame, err := zipnn.CompressDelta(nil, tuned, base, &zipnn.Options{DType: zipnn.DTypeBF16})
	if err != nil {
		panic(err)
	}
	info, _ := zipnn.FrameInfo(frame)
	fmt.Println("delta:", info.IsDelta(), "tiny:", len(frame) < 200)

	_, err = zipnn.DecompressDelta(nil, frame, bf16Weights(9999), nil)
	fmt.Println(errors.Is(err, zipnn.ErrBaseMismatch))
	got, err := zipnn.DecompressDelta(nil, frame, base, nil)
	fmt.Println(bytes.Equal(got, tuned), err)
	// Output:
	// delta: true tiny: true
	// true
	// true <nil>
}

func ExampleOptions_lossy() {
	weights := bf16Weights(100000)
	opts := &zipnn.Options{DType: zipnn.DTypeBF16, Lossy: zipnn.LossyMantissa, LossyParam: 3}
	frame, err := zipnn.Compress(nil, weights, opts)
	if err != nil {
		panic(err)
	}
	info, _ := zipnn.FrameInfo(frame)
	fmt.Println(info.Lossy, info.LossyParam) // recorded in the frame: decoding needs nothing
	// Output: mantissa 3
}
