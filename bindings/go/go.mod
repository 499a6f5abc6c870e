module github.com/zipnn/zipnn/bindings/go

go 1.22
