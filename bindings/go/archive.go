package zipnn

/*
#include <stdlib.h>
#include "zipnn.h"
*/
import "C"

import (
	"encoding/binary"
	"io"
	"math"
	"runtime"
	"slices"
	"strconv"
	"sync"
	"unsafe"
)

// Safetensors archives (docs/FORMAT.md section 12): a safetensors file compressed tensor
// by tensor. The original JSON header is kept verbatim, each tensor is one frame coded with
// its own dtype (so one tensor decodes without the others), a tensor whose bytes repeat an
// earlier one (tied weights) is stored once, and tensors can be deltas against a base
// model's file. Restoring gives the original file byte for byte.

// TensorInfo describes one tensor of an Archive.
type TensorInfo struct {
	Name           string   // tensor name
	DType          string   // safetensors dtype string: "BF16", "F16", "F32", "F64", "F8_E4M3", "I32", "BOOL", ...
	Shape          []uint64 // dimensions (empty for a scalar)
	Offset         uint64   // byte offset in the original file's data section
	Size           uint64   // length in bytes (what Tensor returns)
	CompressedSize uint64   // length of its frame in the archive (0 for a tied tensor)
	CodedAs        DType    // the zipnn dtype of its frame (DTypeRaw for integer and bool tensors)
	Tied           bool     // repeats the bytes of tensor TiedTo, stored once
	TiedTo         int      // index of that tensor, or -1
	Delta          bool     // a delta against the base model's tensor of the same name (needs SetBase)
	Lossy          LossyMode
	LossyParam     uint32
}

// Archive is an opened safetensors archive. Tensors are decoded on demand; an archive
// opened from a file reads only the frames it decodes. All methods are safe for concurrent
// use: any number of goroutines may decode at once, while SetBase, SetBaseBytes and Close
// wait for running calls and block new ones.
//
// An Archive holds C memory and, for OpenArchiveBytes and SetBaseBytes, pins the caller's
// buffers; Close releases both (a finalizer does it if Close is never called, but buffers
// stay pinned until then).
type Archive struct {
	mu      sync.RWMutex
	h       *C.zipnn_archive
	pin     *runtime.Pinner // pins the archive bytes given to OpenArchiveBytes
	mem     []byte
	basePin *runtime.Pinner // pins the base bytes given to SetBaseBytes
	base    []byte
	tensors []TensorInfo
	index   map[string]int
	restore uint64
}

var errArchiveClosed = &Error{Code: CodeInvalidParam, Msg: "use of a closed Archive"}

// OpenArchive opens the archive file at path. Only its header and index are read now;
// each decode reads just that tensor's frame. opts (nil = defaults) gives Threads and
// MaxDecompressedSize for every decode; a MaxDecompressedSize of 0 means DefaultFileLimit
// here (a tensor or restored file larger than 4 GiB is ErrLimitExceeded until the caller
// sets a larger limit, or NoLimit), so that a stranger's file cannot exhaust memory. A
// file that cannot be opened or read is ErrIO.
func OpenArchive(path string, opts *Options) (*Archive, error) {
	cpath := C.CString(path)
	defer C.free(unsafe.Pointer(cpath))
	c := opts.toC()
	var h *C.zipnn_archive
	if err := statusError(C.zipnn_archive_open_file(cpath, &c, &h)); err != nil {
		return nil, err
	}
	return newArchive(h, nil, nil)
}

// pinBytes pins b's backing array for C code that keeps a pointer to it after the call
// (nil for an empty b).
func pinBytes(b []byte) *runtime.Pinner {
	if len(b) == 0 {
		return nil
	}
	p := new(runtime.Pinner)
	p.Pin(&b[0])
	return p
}

func unpin(p *runtime.Pinner) {
	if p != nil {
		p.Unpin()
	}
}

// OpenArchiveBytes opens an archive held in memory without copying it. The C library
// keeps a pointer to b until Close, so b is pinned (runtime.Pinner) for that long and
// must not be modified until Close returns.
func OpenArchiveBytes(b []byte, opts *Options) (*Archive, error) {
	c := opts.toC()
	p := pinBytes(b)
	var h *C.zipnn_archive
	if err := statusError(C.zipnn_archive_open_memory(ptr(b), C.size_t(len(b)), &c, &h)); err != nil {
		unpin(p)
		return nil, err
	}
	return newArchive(h, p, b)
}

// newArchive reads every tensor's description from a new handle.
func newArchive(h *C.zipnn_archive, p *runtime.Pinner, mem []byte) (*Archive, error) {
	a := &Archive{h: h, pin: p, mem: mem}
	runtime.SetFinalizer(a, (*Archive).free)
	var count C.size_t
	if err := statusError(C.zipnn_archive_tensor_count(h, &count)); err != nil {
		a.free()
		return nil, err
	}
	var rs C.uint64_t
	if err := statusError(C.zipnn_archive_restored_size(h, &rs)); err != nil {
		a.free()
		return nil, err
	}
	a.restore = uint64(rs)
	a.tensors = make([]TensorInfo, int(count))
	a.index = make(map[string]int, int(count))
	for i := range a.tensors {
		var ti C.zipnn_tensor_info
		ti.struct_size = C.uint32_t(unsafe.Sizeof(ti))
		if err := statusError(C.zipnn_archive_tensor_info(h, C.size_t(i), &ti)); err != nil {
			a.free()
			return nil, err
		}
		t := TensorInfo{
			Name:           C.GoStringN(ti.name, C.int(ti.name_len)),
			DType:          C.GoString(ti.safetensors_dtype),
			Shape:          make([]uint64, int(ti.ndim)),
			Offset:         uint64(ti.data_offset),
			Size:           uint64(ti.size),
			CompressedSize: uint64(ti.compressed_size),
			CodedAs:        DType(ti.dtype),
			Tied:           ti.flags&C.ZIPNN_TENSOR_TIED != 0,
			TiedTo:         -1,
			Delta:          ti.flags&C.ZIPNN_TENSOR_DELTA != 0,
			Lossy:          LossyMode(ti.lossy_mode),
			LossyParam:     uint32(ti.lossy_param),
		}
		if ti.ndim > 0 {
			copy(t.Shape, unsafe.Slice((*uint64)(unsafe.Pointer(ti.shape)), int(ti.ndim)))
		}
		if t.Tied {
			t.TiedTo = int(ti.tied_to)
		}
		a.tensors[i] = t
		if _, dup := a.index[t.Name]; !dup {
			a.index[t.Name] = i
		}
	}
	return a, nil
}

// free releases the handle and unpins the buffers; callers hold a.mu (or it is the
// finalizer, when nobody else can).
func (a *Archive) free() {
	if a.h != nil {
		C.zipnn_archive_free(a.h)
		a.h = nil
	}
	unpin(a.pin)
	unpin(a.basePin)
	a.pin, a.basePin = nil, nil
	a.mem, a.base = nil, nil
}

// Close frees the archive and unpins the buffers given to OpenArchiveBytes and
// SetBaseBytes. It waits for running calls; later calls fail. It always returns nil;
// calling it again is a no-op.
func (a *Archive) Close() error {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.free()
	runtime.SetFinalizer(a, nil)
	return nil
}

// SetBase gives a delta archive its base: the base model's safetensors file
// (uncompressed) at path, read into memory owned by the archive. Delta tensors are
// matched to the base by name; a base whose tensor is not the one the delta was made
// against gives ErrBaseMismatch when that tensor is decoded. A file that cannot be read is
// ErrIO; one that is not safetensors, ErrBadSafetensors (the previous base is kept).
func (a *Archive) SetBase(path string) error {
	cpath := C.CString(path)
	defer C.free(unsafe.Pointer(cpath))
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.h == nil {
		return errArchiveClosed
	}
	if err := statusError(C.zipnn_archive_set_base_file(a.h, cpath)); err != nil {
		return err
	}
	unpin(a.basePin)
	a.basePin, a.base = nil, nil
	return nil
}

// SetBaseBytes is SetBase with the base file held in memory. b is not copied: it is
// pinned and must not be modified until Close or the next successful SetBase or
// SetBaseBytes.
func (a *Archive) SetBaseBytes(b []byte) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.h == nil {
		return errArchiveClosed
	}
	p := pinBytes(b)
	if err := statusError(C.zipnn_archive_set_base_memory(a.h, ptr(b), C.size_t(len(b)))); err != nil {
		unpin(p)
		return err
	}
	unpin(a.basePin)
	a.basePin, a.base = p, b
	return nil
}

// Tensors returns every tensor's description, in the order of the data section. The
// slice is a copy.
func (a *Archive) Tensors() []TensorInfo {
	out := make([]TensorInfo, len(a.tensors))
	copy(out, a.tensors)
	for i := range out {
		out[i].Shape = slices.Clone(out[i].Shape)
	}
	return out
}

// Lookup returns the description of the tensor called name.
func (a *Archive) Lookup(name string) (TensorInfo, bool) {
	i, ok := a.index[name]
	if !ok {
		return TensorInfo{}, false
	}
	t := a.tensors[i]
	t.Shape = slices.Clone(t.Shape)
	return t, true
}

func (a *Archive) find(name string) (int, error) {
	i, ok := a.index[name]
	if !ok {
		return 0, &Error{Code: CodeNotFound, Msg: "no tensor named " + strconv.Quote(name)}
	}
	return i, nil
}

// decode decodes tensor i into dst; the caller holds a.mu for reading.
func (a *Archive) decode(i int, dst []byte) (int, error) {
	if a.h == nil {
		return 0, errArchiveClosed
	}
	var written C.size_t
	st := C.zipnn_archive_decode(a.h, C.size_t(i), ptr(dst), C.size_t(len(dst)), &written)
	runtime.KeepAlive(dst)
	if err := statusError(st); err != nil {
		return 0, err
	}
	return int(written), nil
}

// allocSize is zipnn_archive_decode_alloc_size (tensor i) or, for i < 0,
// zipnn_archive_restore_alloc_size: what to allocate after the library applied the limit
// and verified a frame that declares far more than its length. The caller holds a.mu.
func (a *Archive) allocSize(i int) (int, error) {
	if a.h == nil {
		return 0, errArchiveClosed
	}
	var n C.size_t
	var st C.zipnn_status
	if i < 0 {
		st = C.zipnn_archive_restore_alloc_size(a.h, &n)
	} else {
		st = C.zipnn_archive_decode_alloc_size(a.h, C.size_t(i), &n)
	}
	if err := statusError(st); err != nil {
		return 0, err
	}
	if uint64(n) > math.MaxInt {
		return 0, ErrSrcTooLarge
	}
	return int(n), nil
}

// Tensor decodes the tensor called name alone into a new slice, allocated only after the
// library has checked its size against MaxDecompressedSize (ErrLimitExceeded) and, for a
// tensor far larger than its frame, the frame's checksums. Errors: ErrNotFound for an
// unknown name; ErrBaseRequired / ErrBaseMismatch for a delta tensor without its base or
// with another one; ErrChecksum, ErrCorrupt, ... for a damaged frame; ErrIO when the
// archive file cannot be read.
func (a *Archive) Tensor(name string) ([]byte, error) {
	i, err := a.find(name)
	if err != nil {
		return nil, err
	}
	a.mu.RLock()
	defer a.mu.RUnlock()
	size, err := a.allocSize(i)
	if err != nil {
		return nil, err
	}
	buf := make([]byte, size)
	n, err := a.decode(i, buf)
	if err != nil {
		return nil, err
	}
	return buf[:n], nil
}

// TensorInto decodes the tensor called name into dst, which must hold its Size bytes
// (ErrDstTooSmall otherwise, with dst not written), and returns the bytes written. dst
// must not overlap the buffers given to OpenArchiveBytes or SetBaseBytes
// (ErrInvalidParam). Errors as Tensor.
func (a *Archive) TensorInto(name string, dst []byte) (int, error) {
	i, err := a.find(name)
	if err != nil {
		return 0, err
	}
	a.mu.RLock()
	defer a.mu.RUnlock()
	return a.decode(i, dst)
}

// DecodeMany decodes the tensors called names (in any order, repeats allowed) and returns
// one new slice per name, in the order of names, by one library call per group of about
// 1 MiB of tensors. The chunks of all the frames of a group are spread over the archive's
// threads, so that many small tensors keep every core busy as one large tensor does (a
// Tensor call per tensor uses the threads only within each tensor). Every size is checked
// as Tensor does before anything is allocated (the limit applies to each tensor, not to
// their sum). Errors as Tensor; an error from the decode itself names the first tensor
// that fails. Nothing is returned on error.
func (a *Archive) DecodeMany(names []string) ([][]byte, error) {
	idx, err := a.findAll(names)
	if err != nil {
		return nil, err
	}
	a.mu.RLock()
	defer a.mu.RUnlock()
	if a.h == nil {
		return nil, errArchiveClosed
	}
	sizes := make([]int, len(idx))
	for k, i := range idx {
		if sizes[k], err = a.allocSize(i); err != nil {
			return nil, namedError(err, names[k])
		}
	}
	out := make([][]byte, len(idx))
	// Each group is allocated (which zero-fills it) just before it is decoded, so that it
	// stays in the caches: 400 tensors of 128 KiB in one group decoded about 25% slower on
	// one thread than one by one.
	for start, end := 0, 0; start < len(idx); start = end {
		sum := 0
		for end = start; end < len(idx) && (end == start || sizes[end] <= manyGroup-sum); end++ {
			sum += sizes[end]
			out[end] = make([]byte, sizes[end])
		}
		n, err := a.decodeMany(idx[start:end], out[start:end])
		if err != nil {
			// Decoded one by one into the same (own) buffers to name the tensor at fault.
			for k := start; k < end; k++ {
				if _, e := a.decode(idx[k], out[k]); e != nil {
					return nil, namedError(e, names[k])
				}
			}
			return nil, err
		}
		for k := start; k < end; k++ {
			out[k] = out[k][:n[k-start]]
		}
	}
	return out, nil
}

// manyGroup is how many bytes of tensors DecodeMany allocates and decodes at once.
const manyGroup = 1 << 20

// DecodeManyInto decodes tensor names[k] into dsts[k], which must hold its Size bytes,
// for every k in one library call (threads as in DecodeMany), and returns the bytes
// written to each. Checked before anything is written: len(dsts) == len(names)
// (ErrInvalidParam), every name (ErrNotFound), every length (ErrDstTooSmall), that no two
// of dsts overlap and none overlaps the buffers given to OpenArchiveBytes or SetBaseBytes
// (ErrInvalidParam). Then every checksum and base is checked before any output is written:
// all of them for an archive in memory; for an archive file, frames are read and checked
// in batches of about 8 MiB, so on an error the outputs of earlier batches may hold their
// tensors (the others are untouched). Errors as Tensor.
func (a *Archive) DecodeManyInto(names []string, dsts [][]byte) ([]int, error) {
	if len(dsts) != len(names) {
		return nil, &Error{Code: CodeInvalidParam, Msg: "DecodeManyInto: " +
			strconv.Itoa(len(names)) + " names but " + strconv.Itoa(len(dsts)) + " outputs"}
	}
	idx, err := a.findAll(names)
	if err != nil {
		return nil, err
	}
	a.mu.RLock()
	defer a.mu.RUnlock()
	return a.decodeMany(idx, dsts)
}

// findAll is find for each name.
func (a *Archive) findAll(names []string) ([]int, error) {
	idx := make([]int, len(names))
	for k, name := range names {
		i, err := a.find(name)
		if err != nil {
			return nil, err
		}
		idx[k] = i
	}
	return idx, nil
}

// namedError is err with "tensor <name>: " before its message (same Code).
func namedError(err error, name string) error {
	if e, ok := err.(*Error); ok {
		return &Error{Code: e.Code, Msg: "tensor " + strconv.Quote(name) + ": " + e.Msg}
	}
	return err
}

// decodeMany is zipnn_archive_decode_many: tensor idx[k] into dsts[k]; the caller holds
// a.mu for reading.
func (a *Archive) decodeMany(idx []int, dsts [][]byte) ([]int, error) {
	if a.h == nil {
		return nil, errArchiveClosed
	}
	n := len(idx)
	if n == 0 {
		return []int{}, nil
	}
	cidx := make([]C.size_t, n)
	caps := make([]C.size_t, n)
	// The array of output pointers is Go memory holding Go pointers: cgo accepts it when
	// every one of them is pinned.
	ptrs := make([]unsafe.Pointer, n)
	var pin runtime.Pinner
	defer pin.Unpin()
	for k, i := range idx {
		cidx[k] = C.size_t(i)
		caps[k] = C.size_t(len(dsts[k]))
		if len(dsts[k]) > 0 {
			pin.Pin(&dsts[k][0])
			ptrs[k] = unsafe.Pointer(&dsts[k][0])
		}
	}
	written := make([]C.size_t, n)
	st := C.zipnn_archive_decode_many(a.h, &cidx[0], &ptrs[0], &caps[0], C.size_t(n), &written[0])
	if err := statusError(st); err != nil {
		return nil, err
	}
	out := make([]int, n)
	for k, w := range written {
		out[k] = int(w)
	}
	return out, nil
}

// HeaderJSON returns a copy of the original JSON header, verbatim (padding included).
func (a *Archive) HeaderJSON() ([]byte, error) {
	a.mu.RLock()
	defer a.mu.RUnlock()
	if a.h == nil {
		return nil, errArchiveClosed
	}
	var p *C.char
	var n C.size_t
	if err := statusError(C.zipnn_archive_header_json(a.h, &p, &n)); err != nil {
		return nil, err
	}
	return C.GoBytes(unsafe.Pointer(p), C.int(n)), nil
}

// RestoredSize is the length of the original safetensors file.
func (a *Archive) RestoredSize() uint64 { return a.restore }

// Restore returns the whole original safetensors file, byte for byte, allocated only
// after the library has checked its length against MaxDecompressedSize (the whole file
// counts) and, for a file far larger than the archive, every frame's checksums. A delta
// archive needs its base (ErrBaseRequired). WriteTo does the same with one tensor in
// memory.
func (a *Archive) Restore() ([]byte, error) {
	a.mu.RLock()
	defer a.mu.RUnlock()
	size, err := a.allocSize(-1)
	if err != nil {
		return nil, err
	}
	buf := make([]byte, size)
	var written C.size_t
	st := C.zipnn_archive_restore(a.h, ptr(buf), C.size_t(len(buf)), &written)
	runtime.KeepAlive(buf)
	if err := statusError(st); err != nil {
		return nil, err
	}
	return buf[:written], nil
}

// WriteTo writes the original safetensors file to w, byte for byte, decoding the tensors
// in groups of about 1 MiB as DecodeMany does (memory stays at the larger of that and the
// largest tensor; each is sized as in Tensor). It implements io.WriterTo. On an error w
// may have received part of the file.
func (a *Archive) WriteTo(w io.Writer) (int64, error) {
	a.mu.RLock()
	defer a.mu.RUnlock()
	if a.h == nil {
		return 0, errArchiveClosed
	}
	var p *C.char
	var n C.size_t
	if err := statusError(C.zipnn_archive_header_json(a.h, &p, &n)); err != nil {
		return 0, err
	}
	head := make([]byte, 8, 8+int(n))
	binary.LittleEndian.PutUint64(head, uint64(n))
	head = append(head, unsafe.Slice((*byte)(unsafe.Pointer(p)), int(n))...)
	total, err := writeAll(w, head, 0)
	if err != nil {
		return total, err
	}
	var buf []byte
	next := -1 // the size of tensor end, once known
	for end := 0; end < len(a.tensors); {
		// A group of tensors of at most writeGroup bytes (or one larger tensor), decoded
		// by one call into consecutive parts of buf.
		var idx, sizes []int
		sum := 0
		for ; end < len(a.tensors); end++ {
			if next < 0 {
				size, err := a.allocSize(end)
				if err != nil {
					return total, err
				}
				next = size
			}
			if len(idx) > 0 && next > writeGroup-sum {
				break
			}
			idx = append(idx, end)
			sizes = append(sizes, next)
			sum += next
			next = -1
		}
		if cap(buf) < sum {
			buf = nil // the old buffer can go before the new one is made
			buf = make([]byte, sum)
		}
		dsts := make([][]byte, len(idx))
		at := 0
		for k, size := range sizes {
			dsts[k] = buf[at : at+size : at+size]
			at += size
		}
		got, err := a.decodeMany(idx, dsts)
		if err != nil {
			return total, err
		}
		for k, m := range got {
			if total, err = writeAll(w, dsts[k][:m], total); err != nil {
				return total, err
			}
		}
	}
	return total, nil
}

// writeGroup is how many bytes of tensors WriteTo decodes at once: a buffer that stays in
// the caches until it is written (with groups of 8 MiB, 400 tensors of 128 KiB went out
// up to 25% slower on one thread than one by one).
const writeGroup = manyGroup

func writeAll(w io.Writer, b []byte, total int64) (int64, error) {
	n, err := w.Write(b)
	total += int64(n)
	if err == nil && n != len(b) {
		err = io.ErrShortWrite
	}
	return total, err
}

// CompressSafetensors compresses the safetensors file src into an archive and appends it
// to dst, as Compress does. Each tensor is coded with its own dtype (opts.DType and
// opts.BGPartitions are ignored), tied tensors are stored once, and when base is not nil
// (the base model's safetensors file) every tensor that base has with the same name, dtype
// and shape is coded as a delta against it: decoding those needs SetBase. A lossy mode in
// opts applies to the float tensors it is valid for; the library checks it against
// opts.DType, so set DType to a float dtype that accepts LossyParam (DTypeFP32 covers
// every mode the library can apply to fp32 tensors). An invalid file is ErrBadSafetensors.
func CompressSafetensors(dst, src, base []byte, opts *Options) ([]byte, error) {
	if base != nil && len(base) == 0 {
		// The C API reads a NULL base as "no base"; an empty one is not a safetensors file.
		return dst, ErrBadSafetensors
	}
	c := opts.toC()
	var bound C.size_t
	st := C.zipnn_safetensors_compress_bound(&c, ptr(src), C.size_t(len(src)), &bound)
	runtime.KeepAlive(src)
	if err := statusError(st); err != nil {
		return dst, err
	}
	if uint64(bound) > uint64(math.MaxInt-len(dst)) {
		return dst, ErrSrcTooLarge
	}
	out := grow(dst, int(bound), src, base)
	spare := out[len(out) : len(out)+int(bound)]
	var written C.size_t
	st = C.zipnn_safetensors_compress(&c, ptr(base), C.size_t(len(base)),
		ptr(src), C.size_t(len(src)), ptr(spare), C.size_t(len(spare)), &written)
	runtime.KeepAlive(base)
	runtime.KeepAlive(src)
	runtime.KeepAlive(spare)
	if err := statusError(st); err != nil {
		return dst, err
	}
	return out[:len(out)+int(written)], nil
}
