//go:build !zipnn_pkgconfig

package zipnn

// Default linking: the static library that `cargo build --release` leaves in the
// repository's target directory, and the header in include/. This works from a fresh
// clone after building the Rust crate once. Override the paths with CGO_CFLAGS and
// CGO_LDFLAGS, or build with -tags zipnn_pkgconfig to use an installed library.

/*
#cgo CFLAGS: -I${SRCDIR}/../../include
#cgo LDFLAGS: ${SRCDIR}/../../target/release/libzipnn.a -lm -ldl -lpthread -lrt -lgcc_s -lutil
*/
import "C"
