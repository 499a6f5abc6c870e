package zipnn

/*
#include "zipnn.h"
*/
import "C"

// Status codes of the C API (zipnn_status). Values are stable and never reused.
const (
	CodeOK                 = C.ZIPNN_OK
	CodeNullPointer        = C.ZIPNN_ERROR_NULL_POINTER
	CodeInvalidParam       = C.ZIPNN_ERROR_INVALID_PARAM
	CodeUnsupportedDtype   = C.ZIPNN_ERROR_UNSUPPORTED_DTYPE
	CodeUnsupportedMethod  = C.ZIPNN_ERROR_UNSUPPORTED_METHOD
	CodeBaseRequired       = C.ZIPNN_ERROR_BASE_REQUIRED
	CodeBaseMismatch       = C.ZIPNN_ERROR_BASE_MISMATCH
	CodeNotFound           = C.ZIPNN_ERROR_NOT_FOUND
	CodeDstTooSmall        = C.ZIPNN_ERROR_DST_TOO_SMALL
	CodeSrcTooLarge        = C.ZIPNN_ERROR_SRC_TOO_LARGE
	CodeLimitExceeded      = C.ZIPNN_ERROR_LIMIT_EXCEEDED
	CodeBadMagic           = C.ZIPNN_ERROR_BAD_MAGIC
	CodeUnsupportedVersion = C.ZIPNN_ERROR_UNSUPPORTED_VERSION
	CodeUnsupportedFlags   = C.ZIPNN_ERROR_UNSUPPORTED_FLAGS
	CodeUnsupportedCodec   = C.ZIPNN_ERROR_UNSUPPORTED_CODEC
	CodeTruncated          = C.ZIPNN_ERROR_TRUNCATED
	CodeCorrupt            = C.ZIPNN_ERROR_CORRUPT
	CodeChecksum           = C.ZIPNN_ERROR_CHECKSUM
	CodeAlloc              = C.ZIPNN_ERROR_ALLOC
	CodeIO                 = C.ZIPNN_ERROR_IO
	CodeInternal           = C.ZIPNN_ERROR_INTERNAL
	CodeInternalPanic      = C.ZIPNN_ERROR_INTERNAL_PANIC
	CodeBadSafetensors     = C.ZIPNN_ERROR_BAD_SAFETENSORS
)

// Error is a zipnn status code with its message (from zipnn_error_string, or a more
// specific one from the stream layer). Compare with errors.Is against the sentinel
// values: two *Error match when their codes are equal, whatever the message.
type Error struct {
	Code int    // a negative ZIPNN_ERROR_* status
	Msg  string // human-readable message
}

func (e *Error) Error() string { return "zipnn: " + e.Msg }

// Is reports whether target is an *Error with the same code, so that
// errors.Is(err, zipnn.ErrCorrupt) works.
func (e *Error) Is(target error) bool {
	t, ok := target.(*Error)
	return ok && e != nil && t != nil && t.Code == e.Code
}

func newSentinel(code C.zipnn_status) *Error {
	return &Error{Code: int(code), Msg: C.GoString(C.zipnn_error_string(code))}
}

// Sentinel errors, one per status code in zipnn.h. Functions return these values (or an
// *Error with the same Code and a more specific Msg); test with errors.Is.
var (
	ErrNullPointer        = newSentinel(C.ZIPNN_ERROR_NULL_POINTER)
	ErrInvalidParam       = newSentinel(C.ZIPNN_ERROR_INVALID_PARAM)
	ErrUnsupportedDtype   = newSentinel(C.ZIPNN_ERROR_UNSUPPORTED_DTYPE)
	ErrUnsupportedMethod  = newSentinel(C.ZIPNN_ERROR_UNSUPPORTED_METHOD)
	ErrBaseRequired       = newSentinel(C.ZIPNN_ERROR_BASE_REQUIRED)
	ErrBaseMismatch       = newSentinel(C.ZIPNN_ERROR_BASE_MISMATCH)
	ErrNotFound           = newSentinel(C.ZIPNN_ERROR_NOT_FOUND)
	ErrDstTooSmall        = newSentinel(C.ZIPNN_ERROR_DST_TOO_SMALL)
	ErrSrcTooLarge        = newSentinel(C.ZIPNN_ERROR_SRC_TOO_LARGE)
	ErrLimitExceeded      = newSentinel(C.ZIPNN_ERROR_LIMIT_EXCEEDED)
	ErrBadMagic           = newSentinel(C.ZIPNN_ERROR_BAD_MAGIC)
	ErrUnsupportedVersion = newSentinel(C.ZIPNN_ERROR_UNSUPPORTED_VERSION)
	ErrUnsupportedFlags   = newSentinel(C.ZIPNN_ERROR_UNSUPPORTED_FLAGS)
	ErrUnsupportedCodec   = newSentinel(C.ZIPNN_ERROR_UNSUPPORTED_CODEC)
	ErrTruncated          = newSentinel(C.ZIPNN_ERROR_TRUNCATED)
	ErrCorrupt            = newSentinel(C.ZIPNN_ERROR_CORRUPT)
	ErrChecksum           = newSentinel(C.ZIPNN_ERROR_CHECKSUM)
	ErrAlloc              = newSentinel(C.ZIPNN_ERROR_ALLOC)
	ErrIO                 = newSentinel(C.ZIPNN_ERROR_IO)
	ErrInternal           = newSentinel(C.ZIPNN_ERROR_INTERNAL)
	ErrInternalPanic      = newSentinel(C.ZIPNN_ERROR_INTERNAL_PANIC)
	ErrBadSafetensors     = newSentinel(C.ZIPNN_ERROR_BAD_SAFETENSORS)
)

var sentinels = []*Error{
	ErrNullPointer, ErrInvalidParam, ErrUnsupportedDtype, ErrUnsupportedMethod,
	ErrBaseRequired, ErrBaseMismatch, ErrNotFound,
	ErrDstTooSmall, ErrSrcTooLarge, ErrLimitExceeded, ErrBadMagic,
	ErrUnsupportedVersion, ErrUnsupportedFlags, ErrUnsupportedCodec, ErrTruncated,
	ErrCorrupt, ErrChecksum, ErrAlloc, ErrIO, ErrInternal, ErrInternalPanic, ErrBadSafetensors,
}

// ErrorFromCode returns the error for a C status: nil for ZIPNN_OK, the sentinel for a
// known code, and a new *Error (with the library's "unknown status" message) otherwise.
func ErrorFromCode(code int) error {
	if code == CodeOK {
		return nil
	}
	for _, s := range sentinels {
		if s.Code == code {
			return s
		}
	}
	return &Error{Code: code, Msg: C.GoString(C.zipnn_error_string(C.zipnn_status(code)))}
}

func statusError(st C.zipnn_status) error { return ErrorFromCode(int(st)) }
