package zipnn

/*
#include <stdlib.h>
#include "zipnn.h"

#if !defined(ZIPNN_VERSION_NUMBER) || ZIPNN_VERSION_NUMBER < 100
#error "the zipnn Go bindings need zipnn.h 0.1.0 or newer"
#endif
*/
import "C"

import (
	"math"
	"runtime"
	"strconv"
	"unsafe"
)

// HeaderVersionNumber is ZIPNN_VERSION_NUMBER of the zipnn.h these bindings were compiled
// against (MAJOR*10000 + MINOR*100 + PATCH).
const HeaderVersionNumber = C.ZIPNN_VERSION_NUMBER

// DType is the element type of the data to compress (ZIPNN_DTYPE_*).
type DType uint32

// Element types.
const (
	DTypeRaw     DType = C.ZIPNN_DTYPE_RAW      // bytes of no known type, see Options.BGPartitions
	DTypeBF16    DType = C.ZIPNN_DTYPE_BF16     // bfloat16
	DTypeFP16    DType = C.ZIPNN_DTYPE_FP16     // IEEE 754 binary16
	DTypeFP32    DType = C.ZIPNN_DTYPE_FP32     // IEEE 754 binary32
	DTypeFP64    DType = C.ZIPNN_DTYPE_FP64     // IEEE 754 binary64
	DTypeFP8E4M3 DType = C.ZIPNN_DTYPE_FP8_E4M3 // 8-bit float e4m3fn
	DTypeFP8E5M2 DType = C.ZIPNN_DTYPE_FP8_E5M2 // 8-bit float e5m2
	DTypeInt8    DType = C.ZIPNN_DTYPE_INT8     // signed 8-bit integers
	DTypeUint8   DType = C.ZIPNN_DTYPE_UINT8    // unsigned 8-bit integers
)

// String returns the dtype's name from the library (zipnn_dtype_name), e.g. "bf16", or
// "dtype(N)" for a code the linked library does not know.
func (d DType) String() string {
	if p := C.zipnn_dtype_name(C.uint32_t(d)); p != nil {
		return C.GoString(p)
	}
	return "dtype(" + strconv.FormatUint(uint64(d), 10) + ")"
}

// ElementSize is the size in bytes of one element from the library
// (zipnn_dtype_element_size; 1 for DTypeRaw), or 0 for an unknown dtype.
func (d DType) ElementSize() int {
	var n C.size_t
	if C.zipnn_dtype_element_size(C.uint32_t(d), &n) != C.ZIPNN_OK {
		return 0
	}
	return int(n)
}

// Method selects the entropy coder (ZIPNN_METHOD_*).
type Method uint32

// Methods.
const (
	MethodAuto    Method = C.ZIPNN_METHOD_AUTO    // per plane-chunk, the smallest coding that pays
	MethodHuffman Method = C.ZIPNN_METHOD_HUFFMAN // Huffman (raw or run where it does not pay)
	MethodZstd    Method = C.ZIPNN_METHOD_ZSTD    // zstd (raw or run where it does not pay)
	MethodLZ4     Method = C.ZIPNN_METHOD_LZ4     // lz4 (raw or run where it does not pay)
	MethodSnappy  Method = C.ZIPNN_METHOD_SNAPPY  // snappy (raw or run where it does not pay)
	MethodRaw     Method = C.ZIPNN_METHOD_RAW     // no entropy coding (constant planes still become runs)
)

var methodNames = [...]string{"auto", "huffman", "zstd", "lz4", "snappy", "raw"}

// String returns the method's name, e.g. "zstd".
func (m Method) String() string {
	if int(m) < len(methodNames) {
		return methodNames[m]
	}
	return "method(" + strconv.FormatUint(uint64(m), 10) + ")"
}

// Level trades speed for size (ZIPNN_LEVEL_*). 2 is the same as LevelDefault.
type Level int32

// Levels.
const (
	LevelDefault Level = C.ZIPNN_LEVEL_DEFAULT // the default (same as 2)
	LevelFast    Level = C.ZIPNN_LEVEL_FAST    // Huffman, run or raw per plane-chunk
	LevelMax     Level = C.ZIPNN_LEVEL_MAX     // smallest coding per plane-chunk; threshold not applied
)

// LossyMode is an opt-in lossy step applied before the lossless coding (ZIPNN_LOSSY_*).
// It applies to the float dtypes only (DTypeBF16, DTypeFP16, DTypeFP32, DTypeFP64); the
// frame records it, so decoding needs nothing extra.
type LossyMode uint32

// Lossy modes.
const (
	// LossyNone keeps the data bit-exact (the default).
	LossyNone LossyMode = C.ZIPNN_LOSSY_NONE
	// LossyInteger stores each value x as the integer round_half_even(x * 2^LossyParam) of
	// the dtype's width: the absolute error is at most 2^-(LossyParam+1) plus half an ulp.
	// LossyParam (the fractional bits) is at most 14 for 16-bit dtypes, 30 for fp32 and 62
	// for fp64. Data with a value that does not fit (or is not finite) is coded losslessly
	// instead, and the frame then says LossyNone.
	LossyInteger LossyMode = C.ZIPNN_LOSSY_INTEGER
	// LossyMantissa keeps LossyParam mantissa bits, rounding to nearest even: the relative
	// error is at most 2^-(LossyParam+1). LossyParam is below 7, 10, 23 and 52 for bf16,
	// fp16, fp32 and fp64. NaN and infinities are kept.
	LossyMantissa LossyMode = C.ZIPNN_LOSSY_MANTISSA
)

var lossyNames = [...]string{"none", "integer", "mantissa"}

// String returns the mode's name, e.g. "mantissa".
func (m LossyMode) String() string {
	if int(m) < len(lossyNames) {
		return lossyNames[m]
	}
	return "lossy(" + strconv.FormatUint(uint64(m), 10) + ")"
}

// Target names the processors a frame is laid out to decode fastest on (ZIPNN_TARGET_*).
// Every target's frames decode on every processor to the same bytes; only the speed
// differs.
type Target uint32

// Targets.
const (
	// TargetAny decodes fast on every processor (the default).
	TargetAny Target = C.ZIPNN_TARGET_ANY
	// TargetAVX512 decodes faster on x86-64 processors with AVX-512 VBMI and VBMI2 (AMD
	// Zen 4 and later, Intel Ice Lake and later) and slower on other processors.
	TargetAVX512 Target = C.ZIPNN_TARGET_AVX512
)

var targetNames = [...]string{"any", "avx512"}

// String returns the target's name, e.g. "avx512".
func (t Target) String() string {
	if int(t) < len(targetNames) {
		return targetNames[t]
	}
	return "target(" + strconv.FormatUint(uint64(t), 10) + ")"
}

// Options mirrors the C struct zipnn_options. A zero field takes the library default,
// so Options{} and a nil *Options both mean "defaults"; DefaultOptions returns the
// defaults spelled out. Options is plain data and safe to share between goroutines
// when nobody writes to it.
type Options struct {
	DType        DType   // element type of the input (default DTypeRaw)
	Method       Method  // entropy coder (default MethodAuto)
	Level        Level   // 0 = default, 1 = fast, 2 = default, 3 = max
	Threads      uint32  // worker threads: 0 = all cores, 1 = only the calling thread
	ChunkSize    uint32  // input bytes per chunk: 0 = automatic (2097152 for one-byte dtypes at the default level of MethodAuto, else 262144); else 1024..=67108864, a multiple of the element size
	ZstdLevel    int32   // zstd level: 0 = 3; else -7..=22
	LZ4Level     int32   // lz4 level: 0 = 1 (fast); 2..=12 = lz4hc
	Threshold    float32 // keep a coded plane-chunk only below this fraction of raw: 0 = 0.95; else (0, 1]; not applied at LevelMax
	BGPartitions uint32  // DTypeRaw only: group bytes into 1, 2, 4 or 8 planes (0 = 1)

	// MaxDecompressedSize makes decompression refuse outputs (frames, tensors, restored
	// files) larger than this many bytes with ErrLimitExceeded, before anything is
	// allocated. 0 = no limit, except for OpenArchive (a file), where 0 means
	// DefaultFileLimit; NoLimit is no limit anywhere. Compression ignores it.
	MaxDecompressedSize uint64

	// Lossy selects an opt-in lossy step (default LossyNone: lossless) and LossyParam its
	// parameter: the fractional bits for LossyInteger, the mantissa bits kept for
	// LossyMantissa (0 with LossyNone). Both are checked against DType (ErrInvalidParam);
	// decompression ignores them.
	Lossy      LossyMode
	LossyParam uint32

	// Target is the processors the frames are laid out to decode fastest on (default
	// TargetAny); an unknown value is ErrInvalidParam. Decompression ignores it.
	Target Target
}

// DefaultOptions returns the library's defaults, as written by zipnn_options_init.
func DefaultOptions() Options {
	var c C.zipnn_options
	C.zipnn_options_init(&c)
	return Options{
		DType:               DType(c.dtype),
		Method:              Method(c.method),
		Level:               Level(c.level),
		Threads:             uint32(c.threads),
		ChunkSize:           uint32(c.chunk_size),
		ZstdLevel:           int32(c.zstd_level),
		LZ4Level:            int32(c.lz4_level),
		Threshold:           float32(c.threshold),
		BGPartitions:        uint32(c.bg_partitions),
		MaxDecompressedSize: uint64(c.max_decompressed_size),
		Lossy:               LossyMode(c.lossy_mode),
		LossyParam:          uint32(c.lossy_param),
		Target:              Target(c.target),
	}
}

// toC builds the C struct. It contains no pointers, so its address may be passed to C.
func (o *Options) toC() C.zipnn_options {
	var c C.zipnn_options
	C.zipnn_options_init(&c)
	if o == nil {
		return c
	}
	c.dtype = C.uint32_t(o.DType)
	c.method = C.uint32_t(o.Method)
	c.level = C.int32_t(o.Level)
	c.threads = C.uint32_t(o.Threads)
	c.chunk_size = C.uint32_t(o.ChunkSize)
	c.zstd_level = C.int32_t(o.ZstdLevel)
	c.lz4_level = C.int32_t(o.LZ4Level)
	c.threshold = C.float(o.Threshold)
	c.bg_partitions = C.uint32_t(o.BGPartitions)
	c.max_decompressed_size = C.uint64_t(o.MaxDecompressedSize)
	c.lossy_mode = C.uint32_t(o.Lossy)
	c.lossy_param = C.uint32_t(o.LossyParam)
	c.target = C.uint32_t(o.Target)
	return c
}

// Info is what a frame's header says (zipnn_frame_info).
type Info struct {
	FormatVersion uint32 // frame format version
	DType         DType  // element type the frame was coded with
	Flags         uint32 // ZIPNN_FRAME_FLAG_* bits (see HasMetadata, IsDelta, IsLossy)
	Planes        uint32 // planes per chunk (bytes per element, or the raw byte-grouping partitions)
	ChunkSize     uint32 // input bytes per chunk
	OriginalSize  uint64 // length of the original data
	ChunkCount    uint64 // number of chunks
	FrameSize     uint64 // length of the frame in bytes (bytes after it are not part of it)
	MetadataSize  uint64 // length of the caller's metadata block

	Lossy      LossyMode // the lossy step the data went through (LossyNone: bit-exact)
	LossyParam uint32    // its parameter (fractional bits or mantissa bits kept)
	BaseHash   uint64    // for a delta frame, XXH3-64 of the base it needs; else 0

	// Format is FormatZipnn, or FormatReference for what the reference package (PyPI zipnn
	// 0.5.x) wrote: one frame or its streamed frames, without checksums (Convert rewrites
	// it with them).
	Format uint32
	// InputFormat, for reference frames: InputBytes, InputTorch or InputNumpy (the last two
	// carry a shape: TensorShape); 0 for zipnn frames.
	InputFormat uint32
}

// Frame formats (Info.Format) and what a reference frame's writer was handed
// (Info.InputFormat).
const (
	FormatZipnn     = uint32(C.ZIPNN_FORMAT_ZIPNN)
	FormatReference = uint32(C.ZIPNN_FORMAT_REFERENCE)
	InputBytes      = uint32(C.ZIPNN_INPUT_BYTES)
	InputTorch      = uint32(C.ZIPNN_INPUT_TORCH)
	InputNumpy      = uint32(C.ZIPNN_INPUT_NUMPY)
)

// IsReference reports whether the reference package wrote the frame.
func (i Info) IsReference() bool { return i.Format == FormatReference }

// HasMetadata reports whether the frame carries a metadata block.
func (i Info) HasMetadata() bool { return i.Flags&C.ZIPNN_FRAME_FLAG_METADATA != 0 }

// IsDelta reports whether the frame is a delta against a base (see DecompressDelta).
func (i Info) IsDelta() bool { return i.Flags&C.ZIPNN_FRAME_FLAG_DELTA != 0 }

// IsLossy reports whether the data went through a lossy step (i.Lossy says which).
func (i Info) IsLossy() bool { return i.Flags&C.ZIPNN_FRAME_FLAG_LOSSY != 0 }

// ptr returns a pointer to the first byte of b for C, or nil when b is empty (the C
// API treats (NULL, 0) as an empty buffer).
func ptr(b []byte) unsafe.Pointer {
	if len(b) == 0 {
		return nil
	}
	return unsafe.Pointer(&b[0])
}

// overlap reports whether a and b share any byte.
func overlap(a, b []byte) bool {
	if len(a) == 0 || len(b) == 0 {
		return false
	}
	pa := uintptr(unsafe.Pointer(&a[0]))
	pb := uintptr(unsafe.Pointer(&b[0]))
	return pa < pb+uintptr(len(b)) && pb < pa+uintptr(len(a))
}

// grow returns a slice with dst's contents and at least n bytes of spare capacity that
// do not overlap avoid (append-style functions must not write over their own input).
func grow(dst []byte, n int, avoid ...[]byte) []byte {
	if n <= cap(dst)-len(dst) {
		spare := dst[len(dst):cap(dst)]
		clash := false
		for _, a := range avoid {
			if overlap(spare, a) {
				clash = true
			}
		}
		if !clash {
			return dst
		}
	}
	out := make([]byte, len(dst), len(dst)+n)
	copy(out, dst)
	return out
}

// nonNil turns a nil result into an empty slice: successful results are never nil.
func nonNil(b []byte) []byte {
	if b == nil {
		return []byte{}
	}
	return b
}

// CompressBound is the largest frame Compress can produce for srcLen bytes with opts
// (nil = defaults) and no metadata; CompressWithMetadata needs len(metadata) more. It
// returns 0 when the options are invalid or the size overflows (Compress says which).
func CompressBound(srcLen int, opts *Options) int {
	if srcLen < 0 {
		return 0
	}
	c := opts.toC()
	n, err := compressBound(&c, srcLen, 0)
	if err != nil {
		return 0
	}
	return n
}

// compressBound is zipnn_compress_bound for srcLen bytes, plus extra, as an int.
func compressBound(c *C.zipnn_options, srcLen, extra int) (int, error) {
	var n C.size_t
	if err := statusError(C.zipnn_compress_bound(c, C.size_t(srcLen), &n)); err != nil {
		return 0, err
	}
	if uint64(n) > uint64(math.MaxInt-extra) {
		return 0, ErrSrcTooLarge
	}
	return int(n) + extra, nil
}

// allocSize is zipnn_decompress_alloc_size: the bytes to allocate for the frame src after
// the library applied opts' limit and (for a frame declaring at least PreVerifyRatio times
// its length) verified its checksums; room is what the caller adds to it.
func allocSize(src []byte, opts *Options, room int) (int, error) {
	c := opts.toC()
	var n C.size_t
	st := C.zipnn_decompress_alloc_size(&c, ptr(src), C.size_t(len(src)), &n)
	runtime.KeepAlive(src)
	if err := statusError(st); err != nil {
		return 0, err
	}
	if uint64(n) > uint64(math.MaxInt-room) {
		return 0, ErrSrcTooLarge
	}
	return int(n), nil
}

// Compress compresses src into one frame and appends it to dst, returning the extended
// slice. opts may be nil for the defaults. On error dst is returned unchanged and
// nothing in its backing array (including its spare capacity) is written. src is never
// modified; it may alias dst.
func Compress(dst, src []byte, opts *Options) ([]byte, error) {
	return CompressWithMetadata(dst, src, nil, opts)
}

// CompressWithMetadata is Compress, and also stores metadata (at most 1 MiB, for
// example a tensor's shape) in the frame, for Metadata to return.
func CompressWithMetadata(dst, src, metadata []byte, opts *Options) ([]byte, error) {
	c := opts.toC()
	total, err := compressBound(&c, len(src), len(metadata))
	if err != nil {
		return dst, err
	}
	if total > math.MaxInt-len(dst) {
		return dst, ErrSrcTooLarge
	}
	out := grow(dst, total, src, metadata)
	spare := out[len(out) : len(out)+total]
	var written C.size_t
	st := C.zipnn_compress_with_metadata(&c,
		ptr(metadata), C.size_t(len(metadata)),
		ptr(src), C.size_t(len(src)),
		ptr(spare), C.size_t(len(spare)), &written)
	runtime.KeepAlive(metadata)
	runtime.KeepAlive(src)
	runtime.KeepAlive(spare)
	if st != C.ZIPNN_OK {
		return dst, statusError(st)
	}
	return out[:len(out)+int(written)], nil
}

// DecompressedSize returns the decompressed size that the frame at the start of src
// declares. The header and its checksum are validated; chunks are not decoded.
func DecompressedSize(src []byte) (uint64, error) {
	var n C.uint64_t
	st := C.zipnn_get_decompressed_size(ptr(src), C.size_t(len(src)), &n)
	runtime.KeepAlive(src)
	if st != C.ZIPNN_OK {
		return 0, statusError(st)
	}
	return uint64(n), nil
}

// FrameInfo returns what the header of the frame at the start of src says (bytes after
// the frame are allowed). The header checksum is validated; chunks are not.
func FrameInfo(src []byte) (Info, error) {
	var c C.zipnn_frame_info
	c.struct_size = C.uint32_t(unsafe.Sizeof(c))
	st := C.zipnn_get_frame_info(ptr(src), C.size_t(len(src)), &c)
	runtime.KeepAlive(src)
	if st != C.ZIPNN_OK {
		return Info{}, statusError(st)
	}
	return Info{
		FormatVersion: uint32(c.format_version),
		DType:         DType(c.dtype),
		Flags:         uint32(c.flags),
		Planes:        uint32(c.planes),
		ChunkSize:     uint32(c.chunk_size),
		OriginalSize:  uint64(c.original_size),
		ChunkCount:    uint64(c.chunk_count),
		FrameSize:     uint64(c.frame_size),
		MetadataSize:  uint64(c.metadata_size),
		Lossy:         LossyMode(c.lossy_mode),
		LossyParam:    uint32(c.lossy_param),
		BaseHash:      uint64(c.base_hash),
		Format:        uint32(c.format),
		InputFormat:   uint32(c.input_format),
	}, nil
}

// TensorShape returns the shape a frame of the reference package carries (it wrote one
// for torch tensors and numpy arrays), or nil and ErrNotFound for a frame without one.
func TensorShape(src []byte) ([]uint64, error) {
	var dims [64]C.uint64_t
	var n C.size_t
	st := C.zipnn_get_shape(ptr(src), C.size_t(len(src)), &dims[0], C.size_t(len(dims)), &n)
	runtime.KeepAlive(src)
	if st != C.ZIPNN_OK {
		return nil, statusError(st)
	}
	out := make([]uint64, int(n))
	for i := range out {
		out[i] = uint64(dims[i])
	}
	return out, nil
}

// Convert rewrites what the reference package wrote in zipnn's format, with checksums,
// and appends it to dst: its frames (one, or its streamed frames: its .znn files) become
// one zipnn frame (a tensor frame keeps its dtype and shape as array metadata), a delta
// frame a zipnn delta against base (the base it was made against; nil otherwise), its
// compressed safetensors files and model.safetensors.znn a zipnn archive. opts may be nil.
func Convert(dst, src, base []byte, opts *Options) ([]byte, error) {
	c := opts.toC()
	var bound C.size_t
	st := C.zipnn_convert_bound(&c, ptr(src), C.size_t(len(src)), &bound)
	if st != C.ZIPNN_OK {
		runtime.KeepAlive(src)
		return dst, statusError(st)
	}
	out := make([]byte, int(bound))
	var n C.size_t
	st = C.zipnn_convert(&c, ptr(base), C.size_t(len(base)), ptr(src), C.size_t(len(src)),
		ptr(out), C.size_t(len(out)), &n)
	runtime.KeepAlive(src)
	runtime.KeepAlive(base)
	runtime.KeepAlive(out)
	if st != C.ZIPNN_OK {
		return dst, statusError(st)
	}
	return append(dst, out[:int(n)]...), nil
}

// PreVerifyRatio: the library (zipnn_decompress_alloc_size, the rule of every call here
// that allocates a declared size) verifies the checksums of a frame or tensor that declares
// at least this many times its own length before its output is allocated, so that a
// damaged one fails with ErrChecksum without the allocation. Smaller ones are checked once,
// by the decode itself, before it writes.
const PreVerifyRatio = C.ZIPNN_PRE_VERIFY_RATIO

// DefaultFileLimit is the MaxDecompressedSize an archive opened with OpenArchive gets when
// none is set (4 GiB): a stranger's file cannot make Tensor or Restore allocate more.
const DefaultFileLimit = uint64(C.ZIPNN_DEFAULT_FILE_LIMIT)

// NoLimit as MaxDecompressedSize lifts every limit, DefaultFileLimit included.
const NoLimit = uint64(math.MaxUint64)

// Decompress decompresses the one frame that fills src exactly and appends the result
// to dst, returning the extended slice. On error dst is returned unchanged and nothing
// in its backing array is written (except for a frame crafted to pass its checksums).
//
// The output buffer is sized from the frame header. A frame that declares at least
// PreVerifyRatio times its length has its checksums verified first, so a damaged one
// allocates nothing. But a valid frame can declare millions of times its own length (a
// constant 64 MiB chunk is stored in 14 bytes of chunk table and one payload byte), and
// checksums are no defence against a crafted one, so use DecompressWithOptions with
// MaxDecompressedSize to bound memory on untrusted input.
func Decompress(dst, src []byte) ([]byte, error) {
	return DecompressWithOptions(dst, src, nil)
}

// DecompressWithOptions is Decompress with opts giving Threads and MaxDecompressedSize
// (a larger frame gives ErrLimitExceeded before anything is allocated or decoded); the
// compression fields are ignored. opts may be nil.
func DecompressWithOptions(dst, src []byte, opts *Options) ([]byte, error) {
	size, err := allocSize(src, opts, len(dst))
	if err != nil {
		return dst, err
	}
	out := grow(dst, size, src)
	spare := out[len(out) : len(out)+size]
	c := opts.toC()
	var written C.size_t
	st := C.zipnn_decompress_with_options(&c, ptr(src), C.size_t(len(src)),
		ptr(spare), C.size_t(len(spare)), &written)
	runtime.KeepAlive(src)
	runtime.KeepAlive(spare)
	if st != C.ZIPNN_OK {
		return dst, statusError(st)
	}
	if int(written) != size {
		return dst, &Error{Code: CodeInternal, Msg: "decompressed size differs from the frame header"}
	}
	return nonNil(out[:len(out)+int(written)]), nil
}

// DecompressInto decompresses the one frame that fills src exactly into dst and returns
// the number of bytes written. dst must have room for the whole output (see
// DecompressedSize), else ErrDstTooSmall is returned and dst is not written. dst must
// not overlap src (ErrInvalidParam).
func DecompressInto(dst, src []byte) (int, error) {
	var written C.size_t
	st := C.zipnn_decompress(ptr(src), C.size_t(len(src)), ptr(dst), C.size_t(len(dst)), &written)
	runtime.KeepAlive(src)
	runtime.KeepAlive(dst)
	if st != C.ZIPNN_OK {
		return 0, statusError(st)
	}
	return int(written), nil
}

// DecompressChunk decodes chunk index of the frame that fills src alone (random access)
// and appends it to dst. Chunk i is original bytes [i*ChunkSize, i*ChunkSize+n) where n
// is the length appended; the last OriginalSize % Planes bytes of the original belong to
// no chunk. An index past the last chunk is ErrInvalidParam.
func DecompressChunk(dst, src []byte, index uint64) ([]byte, error) {
	info, err := FrameInfo(src)
	if err != nil {
		return dst, err
	}
	n := int(info.ChunkSize) // at most 64 MiB; an exact size needs the chunk table
	if uint64(n) > info.OriginalSize {
		n = int(info.OriginalSize)
	}
	if n > math.MaxInt-len(dst) {
		return dst, ErrSrcTooLarge
	}
	out := grow(dst, n, src)
	spare := out[len(out) : len(out)+n]
	var written C.size_t
	st := C.zipnn_decompress_chunk(ptr(src), C.size_t(len(src)), C.uint64_t(index),
		ptr(spare), C.size_t(len(spare)), &written)
	runtime.KeepAlive(src)
	runtime.KeepAlive(spare)
	if st != C.ZIPNN_OK {
		return dst, statusError(st)
	}
	return nonNil(out[:len(out)+int(written)]), nil
}

// Metadata returns a copy of the metadata block stored in the frame at the start of src,
// or nil (and no error) when the frame has none.
func Metadata(src []byte) ([]byte, error) {
	info, err := FrameInfo(src)
	if err != nil {
		return nil, err
	}
	if info.MetadataSize > 1<<20 {
		return nil, ErrCorrupt
	}
	var buf []byte
	if info.MetadataSize > 0 {
		buf = make([]byte, info.MetadataSize)
	}
	var written C.size_t
	st := C.zipnn_get_metadata(ptr(src), C.size_t(len(src)), ptr(buf), C.size_t(len(buf)), &written)
	runtime.KeepAlive(src)
	runtime.KeepAlive(buf)
	if st != C.ZIPNN_OK {
		return nil, statusError(st)
	}
	if written == 0 {
		return nil, nil
	}
	return buf[:written], nil
}

// Verify checks the one frame that fills src exactly: header checksum, chunk table and
// every chunk checksum, without decoding.
func Verify(src []byte) error {
	st := C.zipnn_verify(ptr(src), C.size_t(len(src)))
	runtime.KeepAlive(src)
	if st != C.ZIPNN_OK {
		return statusError(st)
	}
	return nil
}

// Version returns the linked library's version string, e.g. "0.1.0".
func Version() string { return C.GoString(C.zipnn_version_string()) }

// VersionNumber returns the linked library's version as MAJOR*10000 + MINOR*100 + PATCH.
// It equals HeaderVersionNumber when header and library match.
func VersionNumber() uint32 { return uint32(C.zipnn_version_number()) }

// FormatVersion returns the frame format version the linked library writes (and the
// only one it reads).
func FormatVersion() uint32 { return uint32(C.zipnn_format_version()) }
