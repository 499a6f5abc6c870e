// Loading every tensor of an archive through the C++ SDK: one Archive::decode_into /
// decode call per tensor against one decode_many_into / decode_many call (the chunks of all
// the frames spread over the threads), at 1 and 2 threads.
//
//   cargo build --release --locked --lib
//   c++ -O2 -std=c++17 -Iinclude -Ibindings/cpp/include benches/decode_many.cpp
//       target/release/libzipnn.a -lpthread -ldl -lm -o target/decode_many    (one line)
//   target/decode_many [RUNS] [FILE.safetensors ...]
//
// Archives (in memory): 400 bf16 tensors of 128 KiB (one chunk each), then each file given.
// Prints MB/s of decoded bytes (MB = 10^6), best of RUNS (default 7) with the two ways
// interleaved: from wall time and from the CPU time of the busiest thread (Linux:
// /proc/self/task/*/schedstat), which is what a call takes with a core for each thread and
// stays steady on a machine busy with other work. Every result is checked against one by
// one decoding.
#include <zipnn/zipnn.hpp>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <dirent.h>
#include <fstream>
#include <functional>
#include <map>
#include <random>
#include <string>
#include <vector>

namespace {

using Bytes = std::vector<std::byte>;

std::map<std::string, long long> thread_times() {
    std::map<std::string, long long> out;
    DIR* d = opendir("/proc/self/task");
    if (d == nullptr) return out;
    while (dirent* e = readdir(d)) {
        if (e->d_name[0] == '.') continue;
        std::ifstream f(std::string("/proc/self/task/") + e->d_name + "/schedstat");
        long long ns = 0;
        if (f >> ns) out[e->d_name] = ns;
    }
    closedir(d);
    return out;
}

struct Times {
    double wall = 1e300, cpu = 1e300;  // best seconds
};

void timed(Times& t, const std::function<void()>& f) {
    auto before = thread_times();
    auto t0 = std::chrono::steady_clock::now();
    f();
    double wall = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    long long most = 0;
    for (const auto& [tid, ns] : thread_times()) {
        auto it = before.find(tid);
        most = std::max(most, ns - (it == before.end() ? 0 : it->second));
    }
    t.wall = std::min(t.wall, wall);
    if (most > 0) t.cpu = std::min(t.cpu, most / 1e9);
}

Bytes synthetic() {
    // 400 tensors of 64 Ki bf16 values, Gaussian (sigma 0.02) as trained weights are.
    std::string js = "{";
    Bytes data;
    std::mt19937 gen(1);
    std::normal_distribution<float> dist(0.0f, 0.02f);
    for (int i = 0; i < 400; ++i) {
        std::size_t at = data.size();
        for (int k = 0; k < (64 << 10); ++k) {
            float f = dist(gen);
            std::uint32_t u;
            std::memcpy(&u, &f, 4);
            data.push_back(std::byte(u >> 16));
            data.push_back(std::byte(u >> 24));
        }
        js += (i ? "," : "") + std::string("\"layer.") + std::to_string(i) +
              ".w\":{\"dtype\":\"BF16\",\"shape\":[65536],\"data_offsets\":[" +
              std::to_string(at) + "," + std::to_string(data.size()) + "]}";
    }
    js += "}";
    while (js.size() % 8) js += ' ';
    Bytes out(8);
    for (int k = 0; k < 8; ++k) out[k] = std::byte(std::uint64_t(js.size()) >> (8 * k));
    for (char c : js) out.push_back(std::byte(c));
    out.insert(out.end(), data.begin(), data.end());
    return out;
}

Bytes read_file(const char* path) {
    std::ifstream f(path, std::ios::binary);
    if (!f) {
        std::fprintf(stderr, "cannot read %s\n", path);
        std::exit(1);
    }
    std::string s((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
    Bytes out(s.size());
    std::memcpy(out.data(), s.data(), s.size());
    return out;
}

void bench(const std::string& name, const Bytes& file, int runs) {
    Bytes arc = zipnn::compress_safetensors(file);
    for (std::uint32_t threads : {1u, 2u}) {
        zipnn::Archive a = zipnn::Archive::open_memory(arc, zipnn::Options().threads(threads));
        std::size_t n = a.tensor_count();
        std::vector<std::size_t> all(n);
        std::vector<Bytes> bufs(n);
        std::vector<zipnn::span<std::byte>> dsts(n);
        double total = 0;
        for (std::size_t i = 0; i < n; ++i) {
            all[i] = i;
            bufs[i].resize(a.tensor_info(i).size);
            dsts[i] = zipnn::span<std::byte>(bufs[i].data(), bufs[i].size());
            total += double(bufs[i].size());
        }
        Times into_loop, into_many, alloc_loop, alloc_many;
        std::vector<Bytes> one, many;
        for (int r = 0; r < runs; ++r) {
            timed(into_loop, [&] {
                for (std::size_t i = 0; i < n; ++i) a.decode_into(i, dsts[i]);
            });
            timed(into_many, [&] { a.decode_many_into(all, dsts); });
            // Each way keeps all its results until the next run's are made, as a load does.
            timed(alloc_loop, [&] {
                std::vector<Bytes> fresh(n);
                for (std::size_t i = 0; i < n; ++i) fresh[i] = a.decode(i);
                one = std::move(fresh);
            });
            timed(alloc_many, [&] { many = a.decode_many(all); });
        }
        for (std::size_t i = 0; i < n; ++i) {
            if (one[i] != many[i] || one[i] != bufs[i]) {
                std::fprintf(stderr, "%s: tensor %zu differs\n", name.c_str(), i);
                std::exit(1);
            }
        }
        auto row = [&](const char* what, const Times& loop, const Times& m) {
            std::printf("| %-12s | %zu | %d | %-5s | %8.0f | %8.0f | %5.2f | %8.0f | %8.0f | %5.2f |\n",
                        name.c_str(), n, threads, what, total / loop.wall / 1e6,
                        total / m.wall / 1e6, loop.wall / m.wall, total / loop.cpu / 1e6,
                        total / m.cpu / 1e6, loop.cpu / m.cpu);
        };
        row("into", into_loop, into_many);
        row("alloc", alloc_loop, alloc_many);
    }
}

}  // namespace

int main(int argc, char** argv) {
    int runs = argc > 1 ? std::atoi(argv[1]) : 7;
    std::printf("| archive | tensors | threads | outputs | loop MB/s | many MB/s | many / loop "
                "| loop MB/s (busiest thread) | many MB/s (busiest thread) | many / loop |\n");
    std::printf("|---|---|---|---|---|---|---|---|---|---|\n");
    bench("400x128KiB", synthetic(), runs);
    for (int i = 2; i < argc; ++i) {
        std::string name = argv[i];
        name = name.substr(name.find_last_of('/') + 1);
        bench(name, read_file(argv[i]), runs);
    }
}
