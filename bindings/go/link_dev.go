//go:build zipnn_dev

package zipnn

// -tags zipnn_dev: for developing zipnn itself. Links the static library that
// `cargo build --release` leaves in this repository's target directory, with the header from
// include/, so the package tests what the working tree builds, and the test binaries need
// no libzipnn.so at run time. Only works inside a clone (not from the module cache).

/*
#cgo CFLAGS: -I${SRCDIR}/../../include
#cgo LDFLAGS: ${SRCDIR}/../../target/release/libzipnn.a -lm -ldl -lpthread -lrt -lgcc_s -lutil
*/
import "C"
