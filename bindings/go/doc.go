// Package zipnn binds the zipnn C library (lossless compression of neural-network
// weights) through cgo.
//
// One-shot functions work on whole frames: Compress and Decompress append to a
// destination slice (gozstd style), DecompressInto fills a caller buffer exactly,
// and DecompressedSize, FrameInfo, Metadata, DecompressChunk and Verify inspect a frame
// without decoding all of it. Options mirrors the C zipnn_options; nil means defaults.
//
// CompressDelta and DecompressDelta code a buffer as a delta against a base of the same
// length (a fine-tune against its base model); Options.Lossy selects an opt-in lossy step
// for float data, recorded in the frame.
//
// CompressSafetensors compresses a safetensors file tensor by tensor (optionally as deltas
// against a base model's file) into an archive; OpenArchive and OpenArchiveBytes open one,
// list its tensors, decode any tensor alone and restore the original file byte for byte.
//
// NewWriter and NewReader stream data of any length with bounded memory over the
// library's streaming API (zipnn_cstream / zipnn_dstream), in the library's stream format
// (docs/FORMAT.md section 11) that every zipnn SDK reads and writes; StreamInfo and
// DecodeRange inspect a whole stream in memory and decode any byte range of it.
//
// Errors are *Error values carrying the C status code; compare them with errors.Is
// against the sentinels (ErrCorrupt, ErrChecksum, ErrDstTooSmall, ...).
//
// # Linking
//
// The package links an installed zipnn C library found with `pkg-config zipnn` (the
// CMake package installs zipnn.pc). Inside a clone of the repository, -tags zipnn_dev
// links the static library that `cargo build --release` leaves in its target directory
// instead, for developing zipnn itself. See README.md.
//
// # Memory and goroutines
//
// The C library keeps no pointer to Go memory past a call, with two exceptions: the
// buffers given to OpenArchiveBytes and Archive.SetBaseBytes, which it reads until the
// Archive is closed (or the base replaced). Those are pinned with runtime.Pinner rather
// than copied (a model file can be many gigabytes) and must not be modified meanwhile.
// All functions are safe to call from many goroutines at once, and so are an Archive's
// methods; callers must not modify a buffer while a call that reads it is running. A
// Writer or Reader is not safe for concurrent use.
package zipnn
