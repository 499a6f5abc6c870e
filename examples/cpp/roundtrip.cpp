// roundtrip FILE [dtype]
//
// Reads a weight file, compresses it with the zipnn C++ wrapper, decompresses it, checks
// that the bytes are identical, and prints sizes, ratio and throughput. dtype is one of
// raw (default), bf16, fp16, fp32, fp64, fp8_e4m3, fp8_e5m2, int8, uint8.
//
// Build:  c++ -std=c++17 roundtrip.cpp $(pkg-config --cflags --libs zipnn) -o roundtrip
//    or:  cmake -S . -B build -DCMAKE_PREFIX_PATH=<zipnn prefix> && cmake --build build
#include <zipnn/zipnn.hpp>

#include <chrono>
#include <cstdio>
#include <cstring>
#include <exception>
#include <fstream>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

namespace {

const std::pair<const char*, zipnn::DType> kDtypes[] = {
    {"raw", zipnn::DType::Raw},           {"bf16", zipnn::DType::BF16},
    {"fp16", zipnn::DType::FP16},         {"fp32", zipnn::DType::FP32},
    {"fp64", zipnn::DType::FP64},         {"fp8_e4m3", zipnn::DType::FP8_E4M3},
    {"fp8_e5m2", zipnn::DType::FP8_E5M2}, {"int8", zipnn::DType::Int8},
    {"uint8", zipnn::DType::UInt8},
};

std::vector<std::byte> read_file(const char* path) {
    std::ifstream in(path, std::ios::binary | std::ios::ate);
    if (!in) {
        throw std::runtime_error(std::string("cannot open ") + path);
    }
    const std::streamoff size = in.tellg();
    if (size < 0) {
        throw std::runtime_error(std::string("cannot size ") + path);
    }
    std::vector<std::byte> out(static_cast<std::size_t>(size));
    in.seekg(0);
    if (!in.read(reinterpret_cast<char*>(out.data()), size)) {
        throw std::runtime_error(std::string("error reading ") + path);
    }
    return out;
}

double mb_per_s(std::size_t bytes, std::chrono::duration<double> d) {
    return d.count() > 0 ? static_cast<double>(bytes) / 1e6 / d.count() : 0.0;
}

}  // namespace

int main(int argc, char** argv) {
    if (argc < 2 || argc > 3) {
        std::fprintf(stderr, "usage: %s FILE [dtype]\n  dtype:", argv[0]);
        for (const auto& d : kDtypes) {
            std::fprintf(stderr, " %s", d.first);
        }
        std::fprintf(stderr, "\n");
        return 2;
    }
    const char* dtype_name = argc == 3 ? argv[2] : "raw";
    zipnn::Options opts;
    bool found = false;
    for (const auto& d : kDtypes) {
        if (std::strcmp(dtype_name, d.first) == 0) {
            opts.dtype(d.second);
            found = true;
        }
    }
    if (!found) {
        std::fprintf(stderr, "roundtrip: unknown dtype '%s'\n", dtype_name);
        return 2;
    }

    try {
        using clock = std::chrono::steady_clock;
        const std::vector<std::byte> src = read_file(argv[1]);

        auto t0 = clock::now();
        const std::vector<std::byte> frame = zipnn::compress(src, opts);
        auto t1 = clock::now();
        const std::vector<std::byte> back = zipnn::decompress(frame);
        auto t2 = clock::now();

        if (back != src) {
            std::fprintf(stderr, "roundtrip: MISMATCH: decompressed data differs from the input\n");
            return 1;
        }
        zipnn::FrameInfo info = zipnn::frame_info(frame);
        std::printf("zipnn %s, dtype %s, %llu chunks\n", zipnn::version_string(), dtype_name,
                    static_cast<unsigned long long>(info.chunk_count));
        std::printf("original:   %zu bytes\n", src.size());
        std::printf("compressed: %zu bytes\n", frame.size());
        std::printf("ratio:      %.4f (%.2f%% of original)\n",
                    frame.empty() ? 0.0 : static_cast<double>(src.size()) / frame.size(),
                    src.empty() ? 0.0 : 100.0 * frame.size() / src.size());
        std::printf("compress:   %.1f MB/s\n", mb_per_s(src.size(), t1 - t0));
        std::printf("decompress: %.1f MB/s\n", mb_per_s(src.size(), t2 - t1));
        std::printf("round trip OK\n");
        return 0;
    } catch (const zipnn::Error& e) {
        std::fprintf(stderr, "roundtrip: %s (status %d)\n", e.what(), static_cast<int>(e.code()));
    } catch (const std::exception& e) {
        std::fprintf(stderr, "roundtrip: %s\n", e.what());
    }
    return 1;
}
