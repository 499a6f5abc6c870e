package zipnn

/*
#include "zipnn.h"
*/
import "C"

import (
	"math"
	"runtime"
)

// A delta frame codes src XOR base, where base is a buffer of the same length (typically
// the same tensor of the model a fine-tune started from), and records the base's XXH3-64.
// Only DecompressDelta with that same base restores it: Decompress of a delta frame is
// ErrBaseRequired, and another base is ErrBaseMismatch, never wrong output.

// CompressDelta compresses src as a delta against base (len(base) must equal len(src),
// else ErrBaseMismatch) and appends the frame to dst, as Compress does. opts may be nil;
// a lossy mode applies to src before the delta is taken.
func CompressDelta(dst, src, base []byte, opts *Options) ([]byte, error) {
	return CompressDeltaWithMetadata(dst, src, base, nil, opts)
}

// CompressDeltaWithMetadata is CompressDelta, and also stores metadata (at most 1 MiB)
// in the frame, for Metadata to return.
func CompressDeltaWithMetadata(dst, src, base, metadata []byte, opts *Options) ([]byte, error) {
	c := opts.toC()
	total, err := compressBound(&c, len(src), len(metadata))
	if err != nil {
		return dst, err
	}
	if total > math.MaxInt-len(dst) {
		return dst, ErrSrcTooLarge
	}
	out := grow(dst, total, src, base, metadata)
	spare := out[len(out) : len(out)+total]
	var written C.size_t
	st := C.zipnn_compress_delta(&c,
		ptr(base), C.size_t(len(base)),
		ptr(metadata), C.size_t(len(metadata)),
		ptr(src), C.size_t(len(src)),
		ptr(spare), C.size_t(len(spare)), &written)
	runtime.KeepAlive(base)
	runtime.KeepAlive(metadata)
	runtime.KeepAlive(src)
	runtime.KeepAlive(spare)
	if st != C.ZIPNN_OK {
		return dst, statusError(st)
	}
	return out[:len(out)+int(written)], nil
}

// DecompressDelta decompresses the one frame that fills frame exactly and appends the
// result to dst. A delta frame needs the base it was made against (checked by length and
// hash before anything is written: ErrBaseMismatch otherwise); a frame that is not a delta
// decodes as with DecompressWithOptions and base is not read (it may be nil). opts (nil =
// defaults) gives Threads and MaxDecompressedSize. On error dst is returned unchanged.
func DecompressDelta(dst, frame, base []byte, opts *Options) ([]byte, error) {
	size, err := allocSize(frame, opts, len(dst))
	if err != nil {
		return dst, err
	}
	out := grow(dst, size, frame, base)
	spare := out[len(out) : len(out)+size]
	c := opts.toC()
	var written C.size_t
	st := C.zipnn_decompress_delta(&c, ptr(base), C.size_t(len(base)),
		ptr(frame), C.size_t(len(frame)), ptr(spare), C.size_t(len(spare)), &written)
	runtime.KeepAlive(base)
	runtime.KeepAlive(frame)
	runtime.KeepAlive(spare)
	if st != C.ZIPNN_OK {
		return dst, statusError(st)
	}
	if int(written) != size {
		return dst, &Error{Code: CodeInternal, Msg: "decompressed size differs from the frame header"}
	}
	return nonNil(out[:len(out)+int(written)]), nil
}

// DecompressDeltaInto is DecompressDelta into a caller buffer that must hold the whole
// output (ErrDstTooSmall otherwise, with dst not written); it returns the bytes written.
// dst must not overlap frame or base (ErrInvalidParam).
func DecompressDeltaInto(dst, frame, base []byte) (int, error) {
	var written C.size_t
	st := C.zipnn_decompress_delta(nil, ptr(base), C.size_t(len(base)),
		ptr(frame), C.size_t(len(frame)), ptr(dst), C.size_t(len(dst)), &written)
	runtime.KeepAlive(base)
	runtime.KeepAlive(frame)
	runtime.KeepAlive(dst)
	if st != C.ZIPNN_OK {
		return 0, statusError(st)
	}
	return int(written), nil
}
