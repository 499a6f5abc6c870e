//go:build zipnn_pkgconfig

package zipnn

// Linking with -tags zipnn_pkgconfig: flags come from `pkg-config zipnn` (for example a
// library installed with cargo-c). Set PKG_CONFIG_PATH if zipnn.pc is not on the default
// search path.

/*
#cgo pkg-config: zipnn
*/
import "C"
