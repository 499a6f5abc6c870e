// The module path is the repository's hosting path plus /bindings/go: the one place it is
// defined (scripts/test-go.sh checks every other mention against it). Releases are tags
// bindings/go/vX.Y.Z carrying the library's version (Cargo.toml).
module github.com/zipnn/zipnn/bindings/go

go 1.22
