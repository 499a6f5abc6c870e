//go:build !zipnn_dev

package zipnn

// Default linking: an installed zipnn, found through `pkg-config zipnn` (the zipnn.pc that
// the CMake package installs; set PKG_CONFIG_PATH when it is not on pkg-config's default
// search path). This is what works from the module cache after `go get`. pkg-config gives
// -lzipnn, so the shared library must be found at run time (a system library directory,
// LD_LIBRARY_PATH, or an rpath). To develop zipnn itself against this repository's own
// build instead, use -tags zipnn_dev (link_dev.go).

/*
#cgo pkg-config: zipnn
*/
import "C"
