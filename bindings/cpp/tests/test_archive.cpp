// GoogleTest suite for the delta, lossy and safetensors-archive parts of zipnn.hpp.
#include <zipnn/zipnn.hpp>

#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <random>
#include <string>
#include <thread>
#include <type_traits>
#include <typeinfo>
#include <vector>

namespace {

using Bytes = std::vector<std::byte>;

// Expects `f()` to throw exactly exception type E (a zipnn::Error) with `code`.
template <class E, class F>
void expect_throw(zipnn_status code, F&& f) {
    try {
        f();
        ADD_FAILURE() << "no exception, expected " << zipnn::error_string(code);
    } catch (const zipnn::Error& e) {
        EXPECT_TRUE(typeid(e) == typeid(E)) << "wrong exception type for " << e.what();
        EXPECT_EQ(e.code(), code) << e.what();
        EXPECT_NE(std::string(e.what()).find(zipnn::error_string(code)), std::string::npos);
    }
}

std::vector<float> gaussian_f32(std::size_t n, unsigned seed, float sigma = 0.02f) {
    std::mt19937 gen(seed);
    std::normal_distribution<float> dist(0.0f, sigma);
    std::vector<float> v(n);
    for (float& x : v) {
        x = dist(gen);
    }
    return v;
}

template <class T>
Bytes to_bytes(const std::vector<T>& v) {
    auto b = zipnn::as_bytes(v);
    return Bytes(b.begin(), b.end());
}

template <class T>
std::vector<T> from_bytes(const Bytes& b) {
    std::vector<T> v(b.size() / sizeof(T));
    std::memcpy(v.data(), b.data(), v.size() * sizeof(T));
    return v;
}

// --- Safetensors files, written by hand: u64 LE header length, JSON, data --------------------

struct StTensor {
    std::string name;
    std::string dtype;
    std::vector<std::uint64_t> shape;
    Bytes data;
};

std::size_t st_elem_size(const std::string& d) {
    if (d == "F64" || d == "I64" || d == "U64") return 8;
    if (d == "F32" || d == "I32" || d == "U32") return 4;
    if (d == "BF16" || d == "F16" || d == "I16" || d == "U16") return 2;
    return 1;
}

zipnn::DType st_coded_as(const std::string& d) {
    if (d == "BF16") return zipnn::DType::BF16;
    if (d == "F16") return zipnn::DType::FP16;
    if (d == "F32") return zipnn::DType::FP32;
    if (d == "F64") return zipnn::DType::FP64;
    if (d == "F8_E4M3") return zipnn::DType::FP8_E4M3;
    if (d == "F8_E5M2") return zipnn::DType::FP8_E5M2;
    if (d == "I8") return zipnn::DType::Int8;
    if (d == "U8") return zipnn::DType::UInt8;
    return zipnn::DType::Raw;
}

StTensor make_tensor(const std::string& name, const std::string& dtype,
                     std::vector<std::uint64_t> shape, unsigned seed) {
    std::size_t n = 1;
    for (auto d : shape) n *= static_cast<std::size_t>(d);
    std::size_t es = st_elem_size(dtype);
    Bytes data(n * es);
    std::mt19937 gen(seed);
    std::normal_distribution<float> dist(0.0f, 0.02f);
    for (std::size_t i = 0; i < n; ++i) {
        unsigned char e[8] = {};
        float f = dist(gen);
        if (dtype == "F32") {
            std::memcpy(e, &f, 4);
        } else if (dtype == "F64") {
            double d = f;
            std::memcpy(e, &d, 8);
        } else if (dtype == "BF16" || dtype == "F16") {
            std::uint32_t u;
            std::memcpy(&u, &f, 4);
            auto h = static_cast<std::uint16_t>(u >> 16);
            std::memcpy(e, &h, 2);
        } else if (dtype == "BOOL") {
            e[0] = static_cast<unsigned char>(gen() & 1);
        } else {
            for (std::size_t k = 0; k < es; ++k) e[k] = static_cast<unsigned char>(gen() & 7);
        }
        std::memcpy(data.data() + i * es, e, es);
    }
    return {name, dtype, std::move(shape), std::move(data)};
}

Bytes build_safetensors(const std::vector<StTensor>& ts) {
    std::string js = "{\"__metadata__\":{\"format\":\"pt\"}";
    std::uint64_t off = 0;
    std::vector<std::uint64_t> offs;
    for (const auto& t : ts) {
        offs.push_back(off);
        off += t.data.size();
    }
    for (std::size_t i = ts.size(); i-- > 0;) {
        js += ",\"" + ts[i].name + "\":{\"dtype\":\"" + ts[i].dtype + "\",\"shape\":[";
        for (std::size_t k = 0; k < ts[i].shape.size(); ++k) {
            if (k > 0) js += ',';
            js += std::to_string(ts[i].shape[k]);
        }
        js += "],\"data_offsets\":[" + std::to_string(offs[i]) + "," +
              std::to_string(offs[i] + ts[i].data.size()) + "]}";
    }
    js += "}";
    while (js.size() % 8 != 0) js += ' ';
    Bytes out(8);
    std::uint64_t n = js.size();
    for (int k = 0; k < 8; ++k) out[k] = static_cast<std::byte>(n >> (8 * k));
    for (char c : js) out.push_back(static_cast<std::byte>(c));
    for (const auto& t : ts) out.insert(out.end(), t.data.begin(), t.data.end());
    return out;
}

// Every dtype string, a tied tensor (lm_head = embed), a scalar and an empty tensor.
std::vector<StTensor> sample(unsigned seed) {
    std::vector<StTensor> ts = {
        make_tensor("model.embed.weight", "BF16", {64, 32}, seed + 1),
        {},
        make_tensor("norm.weight", "F32", {256}, seed + 2),
        make_tensor("attn.f16", "F16", {16, 16}, seed + 3),
        make_tensor("stats.f64", "F64", {40}, seed + 4),
        make_tensor("q.e4m3", "F8_E4M3", {300}, seed + 5),
        make_tensor("q.e5m2", "F8_E5M2", {3, 50}, seed + 6),
        make_tensor("q.i8", "I8", {77}, seed + 7),
        make_tensor("q.u8", "U8", {2, 2, 20}, seed + 8),
        make_tensor("pos.i32", "I32", {33}, seed + 9),
        make_tensor("mask.bool", "BOOL", {19}, seed + 10),
        make_tensor("w.i16", "I16", {5}, seed + 11),
        make_tensor("w.u16", "U16", {5}, seed + 12),
        make_tensor("w.u32", "U32", {3}, seed + 13),
        make_tensor("w.i64", "I64", {3}, seed + 14),
        make_tensor("w.u64", "U64", {3}, seed + 15),
        make_tensor("scale", "F32", {}, seed + 16),
        make_tensor("empty", "F32", {0, 4}, seed + 17),
    };
    ts[1] = {"lm_head.weight", "BF16", ts[0].shape, ts[0].data};
    return ts;
}

// A base model and a fine-tune: bits flipped, lm_head tied in the fine-tune only,
// norm.weight reshaped in the base, "scale" missing from the base.
void base_and_fine(Bytes& base, std::vector<StTensor>& fine) {
    std::vector<StTensor> bt = sample(300);
    bt[1] = make_tensor("lm_head.weight", "BF16", {64, 32}, 999);
    fine = sample(300);
    for (std::size_t i = 0; i < fine.size(); ++i) {
        if (i == 1) continue;
        for (std::size_t k = 3; k < fine[i].data.size(); k += 11) fine[i].data[k] ^= std::byte{1};
    }
    fine[1].data = fine[0].data;
    std::vector<StTensor> kept;
    for (auto t : bt) {
        if (t.name == "scale") continue;
        if (t.name == "norm.weight") t.shape = {16, 16};
        kept.push_back(std::move(t));
    }
    base = build_safetensors(kept);
}

std::string temp_path(const std::string& tag) {
    static std::atomic<unsigned> counter{0};
    static const unsigned run = std::random_device{}();
    auto p = std::filesystem::temp_directory_path() /
             ("zipnn-cpp-" + tag + "-" + std::to_string(run) + "-" + std::to_string(counter++));
    return p.string();
}

void write_file(const std::string& path, const Bytes& b) {
    std::ofstream f(path, std::ios::binary);
    f.write(reinterpret_cast<const char*>(b.data()), static_cast<std::streamsize>(b.size()));
    ASSERT_TRUE(f.good());
}

// Checks every read path of `a` against the tensors it was made from.
void check_archive(const zipnn::Archive& a, const std::vector<StTensor>& ts, const Bytes& file) {
    std::vector<zipnn::TensorInfo> infos = a.tensors();
    ASSERT_EQ(infos.size(), ts.size());
    ASSERT_EQ(a.tensor_count(), ts.size());
    std::uint64_t off = 0;
    for (std::size_t i = 0; i < ts.size(); ++i) {
        SCOPED_TRACE(ts[i].name);
        const zipnn::TensorInfo& t = infos[i];
        EXPECT_EQ(t.index, i);
        EXPECT_EQ(t.name, ts[i].name);
        EXPECT_EQ(t.dtype, ts[i].dtype);
        EXPECT_EQ(t.shape, ts[i].shape);
        EXPECT_EQ(t.offset, off);
        EXPECT_EQ(t.size, ts[i].data.size());
        EXPECT_EQ(t.coded_as, st_coded_as(ts[i].dtype));
        off += ts[i].data.size();
        bool tied = ts[i].name == "lm_head.weight";
        EXPECT_EQ(t.tied(), tied);
        EXPECT_EQ(t.tied_to, tied ? 0u : zipnn::TensorInfo::npos);
        EXPECT_EQ(t.compressed_size == 0, tied);
        EXPECT_EQ(a.find(ts[i].name), std::optional<std::size_t>(i));
        EXPECT_EQ(a.index_of(ts[i].name), i);

        EXPECT_EQ(a.decode(i), ts[i].data);
        EXPECT_EQ(a.decode(ts[i].name), ts[i].data);
        Bytes buf(ts[i].data.size() + 3, std::byte{0xA5});
        EXPECT_EQ(a.decode_into(i, buf), ts[i].data.size());
        EXPECT_TRUE(std::equal(ts[i].data.begin(), ts[i].data.end(), buf.begin()));
        EXPECT_EQ(buf.back(), std::byte{0xA5});
        if (!ts[i].data.empty()) {
            Bytes small(ts[i].data.size() - 1, std::byte{0xA5});
            try {
                a.decode_into(ts[i].name, small);
                ADD_FAILURE() << "decode_into a too-small buffer succeeded";
            } catch (const zipnn::Error& e) {
                EXPECT_EQ(e.code(), ZIPNN_ERROR_DST_TOO_SMALL);
            }
            EXPECT_TRUE(std::all_of(small.begin(), small.end(),
                                    [](std::byte b) { return b == std::byte{0xA5}; }));
        }
    }
    std::uint64_t hl = 0;
    for (int k = 0; k < 8; ++k) hl |= std::uint64_t(std::to_integer<unsigned>(file[k])) << (8 * k);
    std::string_view js = a.header_json();
    ASSERT_EQ(js.size(), hl);
    EXPECT_EQ(std::memcmp(js.data(), file.data() + 8, hl), 0);
    EXPECT_EQ(a.restored_size(), file.size());
    EXPECT_EQ(a.restore(), file);
    Bytes out(file.size() + 1);
    EXPECT_EQ(a.restore_into(out), file.size());
    EXPECT_TRUE(std::equal(file.begin(), file.end(), out.begin()));
}

}  // namespace

// ------------------------------------------------------------------------------------------

TEST(Exceptions, StatusesMapToTypes) {
    expect_throw<zipnn::NotFoundError>(ZIPNN_ERROR_NOT_FOUND, [] { zipnn::check(ZIPNN_ERROR_NOT_FOUND); });
    expect_throw<zipnn::BaseRequiredError>(ZIPNN_ERROR_BASE_REQUIRED,
                                           [] { zipnn::check(ZIPNN_ERROR_BASE_REQUIRED); });
    expect_throw<zipnn::BaseMismatchError>(ZIPNN_ERROR_BASE_MISMATCH,
                                           [] { zipnn::check(ZIPNN_ERROR_BASE_MISMATCH); });
    expect_throw<zipnn::IoError>(ZIPNN_ERROR_IO, [] { zipnn::check(ZIPNN_ERROR_IO); });
    static_assert(std::is_base_of_v<zipnn::Error, zipnn::NotFoundError>);
    static_assert(std::is_base_of_v<zipnn::Error, zipnn::BaseRequiredError>);
    static_assert(std::is_base_of_v<zipnn::Error, zipnn::BaseMismatchError>);
    static_assert(std::is_base_of_v<zipnn::Error, zipnn::IoError>);
    // Every other status is a plain zipnn::Error.
    for (zipnn_status st : {ZIPNN_ERROR_NULL_POINTER, ZIPNN_ERROR_INVALID_PARAM, ZIPNN_ERROR_CORRUPT,
                            ZIPNN_ERROR_CHECKSUM, ZIPNN_ERROR_BAD_SAFETENSORS, ZIPNN_ERROR_ALLOC}) {
        try {
            zipnn::check(st);
            ADD_FAILURE();
        } catch (const zipnn::NotFoundError&) {
            ADD_FAILURE();
        } catch (const zipnn::BaseRequiredError&) {
            ADD_FAILURE();
        } catch (const zipnn::BaseMismatchError&) {
            ADD_FAILURE();
        } catch (const zipnn::IoError&) {
            ADD_FAILURE();
        } catch (const zipnn::Error& e) {
            EXPECT_EQ(e.code(), st);
        }
    }
    try {
        zipnn::throw_error(ZIPNN_ERROR_IO, "/models/x.znt");
    } catch (const zipnn::IoError& e) {
        EXPECT_NE(std::string(e.what()).find("/models/x.znt"), std::string::npos);
        EXPECT_NE(std::string(e.what()).find("could not be opened"), std::string::npos);
    }
    // Messages for the new codes.
    for (zipnn_status st : {ZIPNN_ERROR_BASE_REQUIRED, ZIPNN_ERROR_BASE_MISMATCH,
                            ZIPNN_ERROR_NOT_FOUND, ZIPNN_ERROR_IO}) {
        EXPECT_STRNE(zipnn::error_string(st), "unknown status");
    }
}

TEST(Options, LossySetters) {
    zipnn::Options o;
    EXPECT_EQ(o.lossy_mode(), zipnn::Lossy::None);
    EXPECT_EQ(o.lossy_param(), 0u);
    o.lossy(zipnn::Lossy::Mantissa, 5);
    EXPECT_EQ(o.raw().lossy_mode, static_cast<std::uint32_t>(ZIPNN_LOSSY_MANTISSA));
    EXPECT_EQ(o.raw().lossy_param, 5u);
    o.lossy_mode(zipnn::Lossy::Integer).lossy_param(20);
    EXPECT_EQ(o.lossy_mode(), zipnn::Lossy::Integer);
    EXPECT_EQ(o.lossy_param(), 20u);
    EXPECT_EQ(sizeof(zipnn_options), 80u);
}

// ------------------------------------------------------------------------------------------
// Delta frames

TEST(Delta, RoundTripAndBaseErrors) {
    Bytes base = to_bytes(gaussian_f32(20000, 1));
    Bytes fine = base;
    for (std::size_t i = 0; i < fine.size(); i += 37) fine[i] ^= std::byte{3};
    Bytes wrong = to_bytes(gaussian_f32(20000, 2));
    auto opts = zipnn::Options().dtype(zipnn::DType::FP32);
    const std::string meta = "shape=[20000]";

    Bytes frame = zipnn::compress_delta(fine, base, opts, zipnn::as_bytes(meta.data(), meta.size()));
    Bytes plain = zipnn::compress(fine, opts);
    EXPECT_LT(frame.size(), plain.size() / 2);
    zipnn::FrameInfo fi = zipnn::frame_info(frame);
    EXPECT_TRUE(fi.is_delta());
    EXPECT_TRUE(fi.has_metadata());
    EXPECT_FALSE(fi.is_lossy());
    EXPECT_NE(fi.base_hash, 0u);
    EXPECT_EQ(fi.lossy_mode, zipnn::Lossy::None);
    EXPECT_FALSE(zipnn::frame_info(plain).is_delta());
    EXPECT_EQ(zipnn::frame_info(plain).base_hash, 0u);
    Bytes m = zipnn::metadata(frame);
    EXPECT_EQ(std::string(reinterpret_cast<const char*>(m.data()), m.size()), meta);

    EXPECT_EQ(zipnn::decompress_delta(frame, base), fine);
    Bytes dst(fine.size());
    EXPECT_EQ(zipnn::decompress_delta_into(dst, frame, base), fine.size());
    EXPECT_EQ(dst, fine);
    // A plain frame ignores the base.
    EXPECT_EQ(zipnn::decompress_delta(plain, zipnn::span<const std::byte>()), fine);

    expect_throw<zipnn::BaseRequiredError>(ZIPNN_ERROR_BASE_REQUIRED, [&] { zipnn::decompress(frame); });
    expect_throw<zipnn::BaseMismatchError>(ZIPNN_ERROR_BASE_MISMATCH,
                                           [&] { zipnn::decompress_delta(frame, wrong); });
    expect_throw<zipnn::BaseMismatchError>(ZIPNN_ERROR_BASE_MISMATCH, [&] {
        zipnn::decompress_delta(frame, zipnn::span<const std::byte>(base.data(), base.size() - 4));
    });
    expect_throw<zipnn::BaseMismatchError>(ZIPNN_ERROR_BASE_MISMATCH, [&] {
        zipnn::compress_delta(fine, zipnn::span<const std::byte>(base.data(), 10), opts);
    });

    // nothrow: results unchanged on error, dst untouched.
    Bytes out{std::byte{7}};
    EXPECT_EQ(zipnn::nothrow::decompress_delta(frame, wrong, out), ZIPNN_ERROR_BASE_MISMATCH);
    EXPECT_EQ(zipnn::nothrow::decompress(frame, out), ZIPNN_ERROR_BASE_REQUIRED);
    EXPECT_EQ(out.size(), 1u);
    std::fill(dst.begin(), dst.end(), std::byte{0xA5});
    std::size_t w = 77;
    EXPECT_EQ(zipnn::nothrow::decompress_delta_into(dst, frame, wrong, w), ZIPNN_ERROR_BASE_MISMATCH);
    EXPECT_EQ(w, 77u);
    EXPECT_TRUE(std::all_of(dst.begin(), dst.end(), [](std::byte b) { return b == std::byte{0xA5}; }));
    EXPECT_EQ(zipnn::nothrow::compress_delta(fine, base, out, opts), ZIPNN_OK);
    EXPECT_EQ(zipnn::decompress_delta(out, base), fine);
    EXPECT_EQ(zipnn::nothrow::compress_delta(fine, base, out, zipnn::Options().level(9)),
              ZIPNN_ERROR_INVALID_PARAM);
    Bytes small(16);
    EXPECT_EQ(zipnn::nothrow::compress_delta_into(small, fine, base, w, opts), ZIPNN_ERROR_DST_TOO_SMALL);
    EXPECT_EQ(zipnn::nothrow::decompress_delta(frame, base, out, zipnn::Options().max_decompressed_size(10)),
              ZIPNN_ERROR_LIMIT_EXCEEDED);
}

// ------------------------------------------------------------------------------------------
// Lossy

TEST(Lossy, MantissaRelativeErrorBound) {
    std::vector<float> src = gaussian_f32(50000, 3);
    for (std::uint32_t bits : {0u, 4u, 10u, 22u}) {
        SCOPED_TRACE(bits);
        auto opts = zipnn::Options().dtype(zipnn::DType::FP32).lossy(zipnn::Lossy::Mantissa, bits);
        Bytes frame = zipnn::compress(zipnn::as_bytes(src), opts);
        zipnn::FrameInfo fi = zipnn::frame_info(frame);
        EXPECT_TRUE(fi.is_lossy());
        EXPECT_EQ(fi.lossy_mode, zipnn::Lossy::Mantissa);
        EXPECT_EQ(fi.lossy_param, bits);
        std::vector<float> out = from_bytes<float>(zipnn::decompress(frame));
        ASSERT_EQ(out.size(), src.size());
        double worst = 0;
        for (std::size_t i = 0; i < src.size(); ++i) {
            if (src[i] != 0.0f) {
                worst = std::max(worst, std::fabs(double(out[i]) - src[i]) / std::fabs(double(src[i])));
            }
        }
        double bound = std::ldexp(1.0, -static_cast<int>(bits + 1));
        EXPECT_LE(worst, bound);
        EXPECT_GT(worst, bound / 8);
    }
}

TEST(Lossy, IntegerAbsoluteErrorBound) {
    std::vector<float> src = gaussian_f32(50000, 4);
    for (std::uint32_t factor : {8u, 16u, 27u}) {
        SCOPED_TRACE(factor);
        auto opts = zipnn::Options().dtype(zipnn::DType::FP32).lossy(zipnn::Lossy::Integer, factor);
        Bytes frame = zipnn::compress(zipnn::as_bytes(src), opts);
        EXPECT_EQ(zipnn::frame_info(frame).lossy_mode, zipnn::Lossy::Integer);
        std::vector<float> out = from_bytes<float>(zipnn::decompress(frame));
        double bound = std::ldexp(1.0, -static_cast<int>(factor + 1)) + std::ldexp(1.0, -25);
        double worst = 0;
        for (std::size_t i = 0; i < src.size(); ++i) {
            worst = std::max(worst, std::fabs(double(out[i]) - src[i]));
        }
        EXPECT_LE(worst, bound);
    }
    // Out of range parameters and non-float dtypes are INVALID_PARAM.
    for (const zipnn::Options& o :
         {zipnn::Options().dtype(zipnn::DType::FP32).lossy(zipnn::Lossy::Integer, 31),
          zipnn::Options().dtype(zipnn::DType::BF16).lossy(zipnn::Lossy::Mantissa, 7),
          zipnn::Options().dtype(zipnn::DType::Raw).lossy(zipnn::Lossy::Mantissa, 2),
          zipnn::Options().dtype(zipnn::DType::FP32).lossy(static_cast<zipnn::Lossy>(3), 0),
          zipnn::Options().dtype(zipnn::DType::FP32).lossy(zipnn::Lossy::None, 1)}) {
        expect_throw<zipnn::Error>(ZIPNN_ERROR_INVALID_PARAM, [&] { zipnn::compress(zipnn::as_bytes(src), o); });
    }
}

// ------------------------------------------------------------------------------------------
// Archives

TEST(Archive, RoundTripFromMemoryOwnedAndFile) {
    std::vector<StTensor> ts = sample(100);
    Bytes file = build_safetensors(ts);
    Bytes arc = zipnn::compress_safetensors(file);
    EXPECT_LT(arc.size(), file.size());
    std::size_t bound = 0;
    EXPECT_EQ(zipnn::nothrow::safetensors_compress_bound(file, bound), ZIPNN_OK);
    EXPECT_GE(bound, arc.size());
    {
        zipnn::Archive a = zipnn::Archive::open_memory(arc, zipnn::Options().threads(1));
        EXPECT_TRUE(a);
        check_archive(a, ts, file);
        // dst overlapping the borrowed archive is refused.
        expect_throw<zipnn::Error>(ZIPNN_ERROR_INVALID_PARAM, [&] { a.decode_into(std::size_t{0}, arc); });
    }
    {
        zipnn::Archive a = zipnn::Archive::open_memory(Bytes(arc));  // owned
        zipnn::Archive b = std::move(a);
        EXPECT_FALSE(a);  // NOLINT(bugprone-use-after-move): moved-from is empty
        check_archive(b, ts, file);
        zipnn::Archive c;
        c = std::move(b);
        check_archive(c, ts, file);
    }
    {
        std::string path = temp_path("rt");
        write_file(path, arc);
        zipnn::Archive a = zipnn::Archive::open_file(path);
        std::remove(path.c_str());  // open file handles keep working on POSIX
        check_archive(a, ts, file);
    }
    // Options for the compression.
    zipnn::Archive a = zipnn::Archive::open_memory(
        zipnn::compress_safetensors(file, zipnn::Options().level(zipnn::Level::Max).method(zipnn::Method::Zstd)));
    check_archive(a, ts, file);
}

TEST(Archive, Errors) {
    std::vector<StTensor> ts = sample(200);
    Bytes file = build_safetensors(ts);
    Bytes arc = zipnn::compress_safetensors(file);
    zipnn::Archive a = zipnn::Archive::open_memory(arc);

    expect_throw<zipnn::NotFoundError>(ZIPNN_ERROR_NOT_FOUND, [&] { a.decode("no.such.tensor"); });
    expect_throw<zipnn::NotFoundError>(ZIPNN_ERROR_NOT_FOUND, [&] { a.index_of("q.i"); });
    expect_throw<zipnn::NotFoundError>(ZIPNN_ERROR_NOT_FOUND, [&] { a.tensor_info(ts.size()); });
    expect_throw<zipnn::NotFoundError>(ZIPNN_ERROR_NOT_FOUND, [&] { a.decode(ts.size()); });
    EXPECT_EQ(a.find("q.i8x"), std::nullopt);
    EXPECT_EQ(a.find(std::string_view("q.i8\0", 5)), std::nullopt);
    try {
        a.decode("missing.tensor");
    } catch (const zipnn::NotFoundError& e) {
        EXPECT_NE(std::string(e.what()).find("missing.tensor"), std::string::npos);
    }

    std::string missing = temp_path("missing");
    expect_throw<zipnn::IoError>(ZIPNN_ERROR_IO, [&] { zipnn::Archive::open_file(missing); });
    expect_throw<zipnn::IoError>(ZIPNN_ERROR_IO, [&] { a.set_base_file(missing); });
    expect_throw<zipnn::Error>(ZIPNN_ERROR_BAD_SAFETENSORS, [&] { a.set_base(zipnn::span<const std::byte>(arc)); });
    EXPECT_EQ(a.decode("q.u8"), ts[8].data);  // still usable

    expect_throw<zipnn::Error>(ZIPNN_ERROR_BAD_MAGIC, [&] { zipnn::Archive::open_memory(file); });
    expect_throw<zipnn::Error>(ZIPNN_ERROR_TRUNCATED,
                               [&] { zipnn::Archive::open_memory(zipnn::span<const std::byte>()); });
    expect_throw<zipnn::Error>(ZIPNN_ERROR_INVALID_PARAM,
                               [&] { zipnn::Archive::open_memory(arc, zipnn::Options().threads(5000)); });
    Bytes bad = file;
    bad[8] = std::byte{'['};
    expect_throw<zipnn::Error>(ZIPNN_ERROR_BAD_SAFETENSORS, [&] { zipnn::compress_safetensors(bad); });
    expect_throw<zipnn::Error>(ZIPNN_ERROR_BAD_SAFETENSORS, [&] { zipnn::compress_safetensors(file, bad); });
    Bytes out{std::byte{1}};
    EXPECT_EQ(zipnn::nothrow::compress_safetensors(bad, out), ZIPNN_ERROR_BAD_SAFETENSORS);
    EXPECT_EQ(out.size(), 1u);

    // An empty Archive: every call is NULL_POINTER.
    zipnn::Archive empty;
    EXPECT_FALSE(empty);
    expect_throw<zipnn::Error>(ZIPNN_ERROR_NULL_POINTER, [&] { empty.tensor_count(); });
    expect_throw<zipnn::Error>(ZIPNN_ERROR_NULL_POINTER, [&] { empty.decode(std::size_t{0}); });
    expect_throw<zipnn::Error>(ZIPNN_ERROR_NULL_POINTER, [&] { empty.header_json(); });
    expect_throw<zipnn::Error>(ZIPNN_ERROR_NULL_POINTER, [&] { empty.restore(); });

    // nothrow variants.
    zipnn::Archive n;
    EXPECT_EQ(zipnn::nothrow::open_archive_file(missing.c_str(), n), ZIPNN_ERROR_IO);
    EXPECT_FALSE(n);
    EXPECT_EQ(zipnn::nothrow::open_archive_memory(arc, n), ZIPNN_OK);
    EXPECT_TRUE(n);
    std::size_t idx = 99, w = 77;
    EXPECT_EQ(zipnn::nothrow::find(n, "nope", idx), ZIPNN_ERROR_NOT_FOUND);
    EXPECT_EQ(idx, 99u);
    EXPECT_EQ(zipnn::nothrow::find(n, "q.i8", idx), ZIPNN_OK);
    EXPECT_EQ(idx, 7u);
    zipnn::TensorInfo ti;
    ti.name = "untouched";
    EXPECT_EQ(zipnn::nothrow::tensor_info(n, 1000, ti), ZIPNN_ERROR_NOT_FOUND);
    EXPECT_EQ(ti.name, "untouched");
    EXPECT_EQ(zipnn::nothrow::tensor_info(n, idx, ti), ZIPNN_OK);
    EXPECT_EQ(ti.name, "q.i8");
    Bytes v{std::byte{1}};
    EXPECT_EQ(zipnn::nothrow::decode(n, 1000, v), ZIPNN_ERROR_NOT_FOUND);
    EXPECT_EQ(v.size(), 1u);
    EXPECT_EQ(zipnn::nothrow::decode(n, idx, v), ZIPNN_OK);
    EXPECT_EQ(v, ts[7].data);
    Bytes small(10, std::byte{0xA5});
    EXPECT_EQ(zipnn::nothrow::decode_into(n, idx, small, w), ZIPNN_ERROR_DST_TOO_SMALL);
    EXPECT_EQ(w, 77u);
    EXPECT_EQ(zipnn::nothrow::restore(n, v), ZIPNN_OK);
    EXPECT_EQ(v, file);
}

TEST(Archive, DeltaWithoutWrongAndRightBase) {
    Bytes base;
    std::vector<StTensor> fine;
    base_and_fine(base, fine);
    Bytes file = build_safetensors(fine);
    Bytes arc = zipnn::compress_safetensors(file, base);
    EXPECT_LT(arc.size(), zipnn::compress_safetensors(file).size());
    Bytes wrong = build_safetensors(sample(301));

    zipnn::Archive a = zipnn::Archive::open_memory(arc);
    auto is_delta = [](const std::string& n) { return n != "norm.weight" && n != "scale"; };
    for (const zipnn::TensorInfo& t : a.tensors()) {
        SCOPED_TRACE(t.name);
        EXPECT_EQ(t.delta(), is_delta(t.name));
        if (t.delta()) {
            expect_throw<zipnn::BaseRequiredError>(ZIPNN_ERROR_BASE_REQUIRED, [&] { a.decode(t.index); });
        } else {
            EXPECT_EQ(a.decode(t.index), fine[t.index].data);
        }
    }
    expect_throw<zipnn::BaseRequiredError>(ZIPNN_ERROR_BASE_REQUIRED, [&] { a.restore(); });

    a.set_base(zipnn::span<const std::byte>(wrong));
    for (const zipnn::TensorInfo& t : a.tensors()) {
        SCOPED_TRACE(t.name);
        if (t.delta() && t.size > 0) {
            Bytes dst(t.size, std::byte{0xA5});
            expect_throw<zipnn::BaseMismatchError>(ZIPNN_ERROR_BASE_MISMATCH,
                                                   [&] { a.decode_into(t.index, dst); });
            EXPECT_TRUE(std::all_of(dst.begin(), dst.end(), [](std::byte b) { return b == std::byte{0xA5}; }));
        } else {
            EXPECT_EQ(a.decode(t.index), fine[t.index].data);
        }
    }
    expect_throw<zipnn::BaseMismatchError>(ZIPNN_ERROR_BASE_MISMATCH, [&] { a.restore(); });

    a.set_base(zipnn::span<const std::byte>(base));  // borrowed
    check_archive(a, fine, file);
    a.set_base(Bytes(base));  // owned
    check_archive(a, fine, file);
    std::string path = temp_path("base");
    write_file(path, base);
    a.set_base_file(path);
    check_archive(a, fine, file);
    // A file archive with an owned base, then moved.
    std::string apath = temp_path("arc");
    write_file(apath, arc);
    zipnn::Archive b = zipnn::Archive::open_file(apath);
    b.set_base(Bytes(base));
    zipnn::Archive c = std::move(b);
    check_archive(c, fine, file);
    EXPECT_EQ(zipnn::nothrow::set_base_file(c, path.c_str()), ZIPNN_OK);
    check_archive(c, fine, file);
    std::remove(path.c_str());
    std::remove(apath.c_str());
}

TEST(Archive, Lossy) {
    std::vector<StTensor> ts = {make_tensor("a", "F32", {64, 64}, 1), make_tensor("b", "I32", {100}, 2),
                                make_tensor("c", "BF16", {3000}, 3)};
    Bytes file = build_safetensors(ts);
    // The library checks the lossy mode against opts.dtype even for archives.
    auto opts = zipnn::Options().dtype(zipnn::DType::FP32).lossy(zipnn::Lossy::Mantissa, 5);
    zipnn::Archive a = zipnn::Archive::open_memory(zipnn::compress_safetensors(file, opts));
    std::vector<zipnn::TensorInfo> infos = a.tensors();
    EXPECT_TRUE(infos[0].lossy() && infos[0].lossy_mode == zipnn::Lossy::Mantissa && infos[0].lossy_param == 5);
    EXPECT_FALSE(infos[1].lossy());
    EXPECT_TRUE(infos[2].lossy());
    EXPECT_EQ(a.decode("b"), ts[1].data);
    std::vector<float> got = from_bytes<float>(a.decode("a"));
    std::vector<float> want = from_bytes<float>(ts[0].data);
    for (std::size_t i = 0; i < want.size(); ++i) {
        if (want[i] != 0.0f) {
            ASSERT_LE(std::fabs(double(got[i]) - want[i]) / std::fabs(double(want[i])), std::ldexp(1.0, -6));
        }
    }
}

TEST(Archive, TargetReachesEveryTensorAndRoundTrips) {
    std::vector<StTensor> ts = sample(110);
    Bytes file = build_safetensors(ts);
    auto avx512 = zipnn::Options().target(zipnn::Target::AVX512);
    check_archive(zipnn::Archive::open_memory(zipnn::compress_safetensors(file, avx512)), ts, file);
    check_archive(zipnn::Archive::open_memory(
                      zipnn::compress_safetensors(file, zipnn::Options(avx512).level(zipnn::Level::Max))),
                  ts, file);
    Bytes base;
    std::vector<StTensor> fine;
    base_and_fine(base, fine);
    Bytes fine_file = build_safetensors(fine);
    zipnn::Archive d = zipnn::Archive::open_memory(zipnn::compress_safetensors(fine_file, base, avx512));
    d.set_base(zipnn::span<const std::byte>(base));
    check_archive(d, fine, fine_file);
    // An unknown target: refused by the bound and by compression, the output untouched.
    auto bad = zipnn::Options().target(static_cast<zipnn::Target>(2));
    std::size_t bound = 77;
    EXPECT_EQ(zipnn::nothrow::safetensors_compress_bound(file, bound, bad), ZIPNN_ERROR_INVALID_PARAM);
    EXPECT_EQ(bound, 77u);
    Bytes out{std::byte{3}};
    EXPECT_EQ(zipnn::nothrow::compress_safetensors(file, out, bad), ZIPNN_ERROR_INVALID_PARAM);
    EXPECT_EQ(out, Bytes{std::byte{3}});
    expect_throw<zipnn::Error>(ZIPNN_ERROR_INVALID_PARAM, [&] { zipnn::compress_safetensors(file, base, bad); });
}

TEST(Archive, ConcurrentDecodes) {
    Bytes base;
    std::vector<StTensor> fine;
    base_and_fine(base, fine);
    Bytes file = build_safetensors(fine);
    Bytes arc = zipnn::compress_safetensors(file, base, zipnn::Options().chunk_size(1024));
    std::string path = temp_path("conc");
    write_file(path, arc);
    for (int from_file = 0; from_file < 2; ++from_file) {
        zipnn::Archive a = from_file ? zipnn::Archive::open_file(path) : zipnn::Archive::open_memory(arc);
        a.set_base(zipnn::span<const std::byte>(base));
        std::atomic<int> failures{0};
        std::vector<std::thread> threads;
        for (int t = 0; t < 8; ++t) {
            threads.emplace_back([&, t] {
                for (int r = 0; r < 4; ++r) {
                    for (std::size_t k = 0; k < fine.size(); ++k) {
                        std::size_t i = (k + static_cast<std::size_t>(t)) % fine.size();
                        Bytes got;
                        if (zipnn::nothrow::decode(a, i, got) != ZIPNN_OK || got != fine[i].data) {
                            ++failures;
                        }
                        if (a.tensor_info(i).name != fine[i].name) {
                            ++failures;
                        }
                    }
                    if (t == 0 && a.restore() != file) {
                        ++failures;
                    }
                }
            });
        }
        for (auto& th : threads) th.join();
        EXPECT_EQ(failures.load(), 0) << (from_file ? "file" : "memory");
    }
    std::remove(path.c_str());
}

namespace {

bool all_sentinel(const Bytes& b) {
    return std::all_of(b.begin(), b.end(), [](std::byte x) { return x == std::byte{0xA5}; });
}

// decode_many and decode_many_into on every tensor of `a` (reversed, one index twice)
// against `ts` and one-by-one decoding, and the requests refused before anything is written.
void check_decode_many(const zipnn::Archive& a, const std::vector<StTensor>& ts) {
    std::vector<std::size_t> order;
    for (std::size_t i = ts.size(); i-- > 0;) order.push_back(i);
    order.push_back(0);
    std::vector<std::string> names;
    std::vector<std::string_view> views;
    for (std::size_t i : order) names.push_back(ts[i].name);
    for (const std::string& n : names) views.push_back(n);

    std::vector<Bytes> many = a.decode_many(order);
    ASSERT_EQ(many.size(), order.size());
    EXPECT_EQ(a.decode_many(names), many);
    EXPECT_EQ(a.decode_many(views), many);
    std::vector<Bytes> bufs;
    for (std::size_t i : order) bufs.emplace_back(ts[i].data.size() + 3, std::byte{0xA5});
    std::vector<zipnn::span<std::byte>> dsts;
    auto reset = [&] {
        dsts.clear();
        for (Bytes& b : bufs) {
            std::fill(b.begin(), b.end(), std::byte{0xA5});
            dsts.emplace_back(b.data(), b.size());
        }
    };
    reset();
    std::vector<std::size_t> written = a.decode_many_into(order, dsts);
    ASSERT_EQ(written.size(), order.size());
    for (std::size_t k = 0; k < order.size(); ++k) {
        const Bytes& want = ts[order[k]].data;
        SCOPED_TRACE(ts[order[k]].name);
        EXPECT_EQ(many[k], want);
        EXPECT_EQ(many[k], a.decode(order[k]));
        EXPECT_EQ(written[k], want.size());
        EXPECT_TRUE(std::equal(want.begin(), want.end(), bufs[k].begin()));
        EXPECT_TRUE(all_sentinel(Bytes(bufs[k].end() - 3, bufs[k].end())));
    }
    reset();
    EXPECT_EQ(a.decode_many_into(names, dsts), written);
    reset();
    EXPECT_EQ(a.decode_many_into(views, dsts), written);

    // Refused before anything is written: the outputs and `written` stay as they were.
    auto refused = [&](const char* what, zipnn_status code, std::vector<std::size_t> idx,
                       std::vector<zipnn::span<std::byte>> d) {
        SCOPED_TRACE(what);
        for (Bytes& b : bufs) std::fill(b.begin(), b.end(), std::byte{0xA5});
        std::vector<std::size_t> w(idx.size(), 77);
        EXPECT_EQ(zipnn::nothrow::decode_many_into(a, idx, d, w), code);
        EXPECT_TRUE(std::all_of(w.begin(), w.end(), [](std::size_t x) { return x == 77; }));
        for (const Bytes& b : bufs) EXPECT_TRUE(all_sentinel(b));
        try {
            a.decode_many_into(idx, d);
            ADD_FAILURE() << "no exception";
        } catch (const zipnn::Error& e) {
            EXPECT_EQ(e.code(), code);
        }
        for (const Bytes& b : bufs) EXPECT_TRUE(all_sentinel(b));
    };
    std::size_t big = 0;  // a tensor of at least 2 bytes
    while (ts[order[big]].data.size() < 2) ++big;
    auto over = dsts;
    over[big + 1] = dsts[big].subspan(1);
    refused("overlapping outputs", ZIPNN_ERROR_INVALID_PARAM, order, over);
    auto twice = dsts;
    twice.back() = dsts[big];
    refused("one output twice", ZIPNN_ERROR_INVALID_PARAM, order, twice);
    auto shorter = dsts;
    shorter[big] = dsts[big].first(ts[order[big]].data.size() - 1);
    refused("short output", ZIPNN_ERROR_DST_TOO_SMALL, order, shorter);
    auto unknown = order;
    unknown[order.size() / 2] = ts.size();
    refused("unknown index", ZIPNN_ERROR_NOT_FOUND, unknown, dsts);
    refused("fewer outputs", ZIPNN_ERROR_INVALID_PARAM, order,
            std::vector<zipnn::span<std::byte>>(dsts.begin() + 1, dsts.end()));
    std::vector<std::size_t> w_short(order.size() - 1);
    EXPECT_EQ(zipnn::nothrow::decode_many_into(a, order, dsts, w_short), ZIPNN_ERROR_INVALID_PARAM);

    // An unknown name: NotFoundError naming it, nothing written.
    auto bad_names = names;
    bad_names[names.size() / 2] = "no.such.tensor";
    for (Bytes& b : bufs) std::fill(b.begin(), b.end(), std::byte{0xA5});
    for (int into = 0; into < 2; ++into) {
        try {
            if (into) {
                a.decode_many_into(bad_names, dsts);
            } else {
                a.decode_many(bad_names);
            }
            ADD_FAILURE() << "no exception for an unknown name";
        } catch (const zipnn::NotFoundError& e) {
            EXPECT_NE(std::string(e.what()).find("no.such.tensor"), std::string::npos);
        }
    }
    for (const Bytes& b : bufs) EXPECT_TRUE(all_sentinel(b));
    std::vector<Bytes> kept{Bytes{std::byte{1}}};
    EXPECT_EQ(zipnn::nothrow::decode_many(a, unknown, kept), ZIPNN_ERROR_NOT_FOUND);
    ASSERT_EQ(kept.size(), 1u);
    expect_throw<zipnn::NotFoundError>(ZIPNN_ERROR_NOT_FOUND, [&] { a.decode_many(unknown); });

    // Nothing asked, nothing done.
    EXPECT_TRUE(a.decode_many(std::vector<std::size_t>{}).empty());
    EXPECT_TRUE(a.decode_many_into(std::vector<std::size_t>{}, {}).empty());
}

}  // namespace

TEST(Archive, DecodeManyEqualsOneByOne) {
    std::vector<StTensor> ts = sample(400);
    Bytes file = build_safetensors(ts);
    Bytes arc = zipnn::compress_safetensors(file, zipnn::Options().chunk_size(1024));
    std::string path = temp_path("many");
    write_file(path, arc);
    for (std::uint32_t threads : {1u, 2u}) {
        SCOPED_TRACE(threads);
        zipnn::Archive m = zipnn::Archive::open_memory(arc, zipnn::Options().threads(threads));
        check_decode_many(m, ts);
        // An output over the borrowed archive bytes.
        std::vector<zipnn::span<std::byte>> over{zipnn::span<std::byte>(arc.data(), ts[2].data.size())};
        expect_throw<zipnn::Error>(ZIPNN_ERROR_INVALID_PARAM,
                                   [&] { m.decode_many_into(std::vector<std::size_t>{2}, over); });
        zipnn::Archive f = zipnn::Archive::open_file(path, zipnn::Options().threads(threads));
        check_decode_many(f, ts);
    }
    std::remove(path.c_str());

    // A delta archive: BaseRequiredError naming the tensor without the base, exact with it.
    Bytes base;
    std::vector<StTensor> fine;
    base_and_fine(base, fine);
    zipnn::Archive d = zipnn::Archive::open_memory(
        zipnn::compress_safetensors(build_safetensors(fine), base));
    std::vector<std::size_t> all(fine.size());
    for (std::size_t i = 0; i < all.size(); ++i) all[i] = i;
    try {
        d.decode_many(all);
        ADD_FAILURE() << "decode_many without the base succeeded";
    } catch (const zipnn::BaseRequiredError& e) {
        EXPECT_NE(std::string(e.what()).find("tensor \""), std::string::npos) << e.what();
    }
    d.set_base(zipnn::span<const std::byte>(base));
    check_decode_many(d, fine);

    // Several groups of allocations: tensors that share a group, one larger than a group
    // alone, empty and tied ones between them.
    std::vector<StTensor> big = {
        make_tensor("a", "BF16", {300 << 10}, 1), make_tensor("b", "F32", {100}, 2),
        make_tensor("c", "BF16", {300 << 10}, 3), make_tensor("empty", "F32", {0}, 4),
        make_tensor("d", "BF16", {300 << 10}, 5), make_tensor("huge", "BF16", {1536 << 10}, 6),
        {},                                       make_tensor("e", "F16", {1000}, 7),
    };
    big[6] = {"tied", "BF16", big[0].shape, big[0].data};
    zipnn::Archive g = zipnn::Archive::open_memory(zipnn::compress_safetensors(build_safetensors(big)));
    check_decode_many(g, big);

    // An empty Archive.
    zipnn::Archive empty;
    expect_throw<zipnn::Error>(ZIPNN_ERROR_NULL_POINTER, [&] { empty.decode_many(all); });
}

TEST(Nothrow, NewFunctionsAreNoexcept) {
    Bytes v;
    zipnn::span<const std::byte> s;
    zipnn::span<std::byte> d;
    std::size_t w = 0;
    zipnn::Archive a;
    zipnn::TensorInfo ti;
    static_assert(noexcept(zipnn::nothrow::compress_delta(s, s, v)));
    static_assert(noexcept(zipnn::nothrow::compress_delta_into(d, s, s, w)));
    static_assert(noexcept(zipnn::nothrow::decompress_delta(s, s, v)));
    static_assert(noexcept(zipnn::nothrow::decompress_delta_into(d, s, s, w)));
    static_assert(noexcept(zipnn::nothrow::compress_safetensors(s, v)));
    static_assert(noexcept(zipnn::nothrow::compress_safetensors(s, s, v)));
    static_assert(noexcept(zipnn::nothrow::safetensors_compress_bound(s, w)));
    static_assert(noexcept(zipnn::nothrow::open_archive_file("x", a)));
    static_assert(noexcept(zipnn::nothrow::open_archive_memory(s, a)));
    static_assert(noexcept(zipnn::nothrow::set_base_memory(a, s)));
    static_assert(noexcept(zipnn::nothrow::set_base_file(a, "x")));
    static_assert(noexcept(zipnn::nothrow::tensor_info(a, 0, ti)));
    static_assert(noexcept(zipnn::nothrow::find(a, "x", w)));
    static_assert(noexcept(zipnn::nothrow::decode(a, 0, v)));
    static_assert(noexcept(zipnn::nothrow::decode_into(a, 0, d, w)));
    static_assert(noexcept(zipnn::nothrow::restore(a, v)));
    std::vector<Bytes> vs;
    zipnn::span<const std::size_t> idx;
    zipnn::span<const zipnn::span<std::byte>> ds;
    zipnn::span<std::size_t> ws;
    static_assert(noexcept(zipnn::nothrow::decode_many(a, idx, vs)));
    static_assert(noexcept(zipnn::nothrow::decode_many_into(a, idx, ds, ws)));
    static_assert(std::is_nothrow_move_constructible_v<zipnn::Archive>);
    static_assert(std::is_nothrow_move_assignable_v<zipnn::Archive>);
    static_assert(!std::is_copy_constructible_v<zipnn::Archive>);
    static_assert(!std::is_copy_assignable_v<zipnn::Archive>);
    EXPECT_EQ(zipnn::nothrow::decode(a, 0, v), ZIPNN_ERROR_NULL_POINTER);
}

#ifdef ZIPNN_VECTORS_DIR
// tests/data/hostile (written by the Rust test hostile_files_are_current): a valid archive
// whose one tensor declares 64 GiB, and the same with a damaged chunk.
static std::string hostile_path(const char* name) {
    return std::string(ZIPNN_VECTORS_DIR) + "/../data/hostile/" + name;
}

static Bytes read_all(const std::string& path) {
    std::ifstream f(path, std::ios::binary);
    EXPECT_TRUE(f.good()) << "missing test input " << path;
    std::string s((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
    Bytes out(s.size());
    std::memcpy(out.data(), s.data(), s.size());
    return out;
}

TEST(Limits, DeclaredSizesAreCheckedBeforeAnythingIsAllocated) {
    // decode() and restore() size through the library: the limit, then (for a tensor far
    // larger than its frame) the checksums, before the vector exists. Were they to allocate
    // first, these would touch 64 GiB and fail with ALLOC or worse.
    Bytes valid = read_all(hostile_path("bomb-64g-archive.znn"));
    Bytes damaged = read_all(hostile_path("bomb-64g-archive-damaged.znn"));
    ASSERT_FALSE(valid.empty());
    auto limited = zipnn::Options().max_decompressed_size(1 << 20);
    auto a = zipnn::Archive::open_memory(valid, limited);
    EXPECT_EQ(a.tensor_info(0).size, 64ull << 30);
    Bytes out{std::byte{7}};
    EXPECT_EQ(zipnn::nothrow::decode(a, 0, out), ZIPNN_ERROR_LIMIT_EXCEEDED);
    EXPECT_EQ(zipnn::nothrow::restore(a, out), ZIPNN_ERROR_LIMIT_EXCEEDED);
    ASSERT_EQ(out.size(), 1u);  // unchanged
    auto d = zipnn::Archive::open_memory(damaged);
    EXPECT_EQ(zipnn::nothrow::decode(d, 0, out), ZIPNN_ERROR_CHECKSUM);
    EXPECT_EQ(zipnn::nothrow::restore(d, out), ZIPNN_ERROR_CHECKSUM);
    // From a file, the default limit applies.
    auto f = zipnn::Archive::open_file(hostile_path("bomb-64g-archive.znn"));
    EXPECT_EQ(zipnn::nothrow::decode(f, 0, out), ZIPNN_ERROR_LIMIT_EXCEEDED);
    EXPECT_EQ(zipnn::nothrow::restore(f, out), ZIPNN_ERROR_LIMIT_EXCEEDED);
    EXPECT_EQ(out.size(), 1u);
    // The lone frame, through both vector-returning decompressors.
    Bytes frame = read_all(hostile_path("bomb-64g.znn"));
    EXPECT_EQ(zipnn::nothrow::decompress(frame, out, limited), ZIPNN_ERROR_LIMIT_EXCEEDED);
    EXPECT_EQ(zipnn::nothrow::decompress_delta(frame, {}, out, limited),
              ZIPNN_ERROR_LIMIT_EXCEEDED);
    frame.back() ^= std::byte{1};
    EXPECT_EQ(zipnn::nothrow::decompress(frame, out), ZIPNN_ERROR_CHECKSUM);
}
#endif

TEST(Limits, DtypeNamesAndSizesComeFromTheLibrary) {
    EXPECT_STREQ(zipnn::dtype_name(zipnn::DType::BF16), "bf16");
    EXPECT_EQ(zipnn::element_size(zipnn::DType::FP64), 8u);
    EXPECT_EQ(zipnn::dtype_name(static_cast<zipnn::DType>(99)), nullptr);
    EXPECT_EQ(zipnn::element_size(static_cast<zipnn::DType>(99)), 0u);
}

TEST(Exceptions, EveryLibraryCodeThrowsAnErrorCarryingIt) {
    // The codes come from the library's one error list (zipnn_error_string names them).
    int known = 0;
    for (int c = -256; c < 0; ++c) {
        if (std::string(zipnn::error_string(c)) == "unknown status") {
            continue;
        }
        ++known;
        try {
            zipnn::throw_error(c);
        } catch (const zipnn::Error& e) {
            EXPECT_EQ(e.code(), c);
        }
    }
    EXPECT_GE(known, 20);
}

// Reads a (possibly damaged) archive through the C++ archive reader; anything it returns
// must be exactly right. counts: opened, tensors decoded, tensors refused, decode_many
// calls refused.
static void sweep_one(zipnn::span<const std::byte> arc, const std::vector<StTensor>& ts,
                      const Bytes& file, std::size_t counts[4]) {
    zipnn::Archive a;
    if (zipnn::nothrow::open_archive_memory(arc, a) != ZIPNN_OK) {
        return;
    }
    ++counts[0];
    Bytes out;
    std::vector<std::size_t> all, good;
    for (std::size_t i = 0; i < ts.size(); ++i) {
        all.push_back(i);
        if (zipnn::nothrow::decode(a, i, out) != ZIPNN_OK) {
            ++counts[2];
            continue;
        }
        ASSERT_EQ(out, ts[i].data) << ts[i].name;
        good.push_back(i);
        ++counts[1];
    }
    if (zipnn::nothrow::restore(a, out) == ZIPNN_OK) {
        ASSERT_EQ(out, file);
    }
    // All tensors by one call, and those that decoded alone: a call fails exactly when one
    // of its tensors fails alone, leaving every output (and `written`) untouched.
    for (const auto* which : {&all, &good}) {
        bool ok = which->size() == good.size();
        std::vector<Bytes> bufs;
        std::vector<zipnn::span<std::byte>> dsts;
        for (std::size_t i : *which) bufs.emplace_back(ts[i].data.size() + 3, std::byte{0xA5});
        for (Bytes& b : bufs) dsts.emplace_back(b.data(), b.size());
        std::vector<std::size_t> written(which->size(), 77);
        zipnn_status st = zipnn::nothrow::decode_many_into(a, *which, dsts, written);
        ASSERT_EQ(st == ZIPNN_OK, ok) << zipnn::error_string(st);
        std::vector<Bytes> many{Bytes{std::byte{1}}};
        zipnn_status st2 = zipnn::nothrow::decode_many(a, *which, many);
        ASSERT_EQ(st2 == ZIPNN_OK, ok) << zipnn::error_string(st2);
        for (std::size_t k = 0; k < which->size(); ++k) {
            const Bytes& want = ts[(*which)[k]].data;
            if (ok) {
                ASSERT_EQ(written[k], want.size());
                ASSERT_TRUE(std::equal(want.begin(), want.end(), bufs[k].begin()));
                ASSERT_EQ(many[k], want);
            } else {
                ASSERT_EQ(written[k], 77u);
                ASSERT_TRUE(std::all_of(bufs[k].begin(), bufs[k].end(),
                                        [](std::byte b) { return b == std::byte{0xA5}; }));
            }
        }
        if (!ok) {
            ASSERT_EQ(many.size(), 1u);  // unchanged
            ++counts[3];
        }
    }
}

TEST(Archive, CorruptionSweepNeverDecodesWrong) {
    // Every byte flipped (two ways) and every truncation, through the C++ reader: never a
    // crash, never a wrong byte (the same sweep runs in C, Python and Go).
    std::vector<StTensor> ts = {
        make_tensor("embed", "BF16", {32, 16}, 1),
        make_tensor("norm", "F32", {64}, 2),
        make_tensor("ids", "I64", {5}, 3),
    };
    ts.push_back(ts[0]);
    ts.back().name = "head";  // tied to embed
    Bytes file = build_safetensors(ts);
    Bytes arc = zipnn::compress_safetensors(file);
    std::size_t counts[4] = {0, 0, 0, 0}, variants = 0;
    Bytes bad(arc.size());
    for (std::size_t at = 0; at < arc.size(); ++at) {
        for (unsigned flip : {0x01u, 0xFEu}) {
            bad = arc;
            bad[at] ^= std::byte(flip);
            sweep_one(bad, ts, file, counts);
        }
        sweep_one(zipnn::span<const std::byte>(arc.data(), at), ts, file, counts);
        variants += 3;
        if (HasFatalFailure()) {
            return;
        }
    }
    std::printf("C++ sweep: %zu damaged archives (%zu bytes each flipped twice, every "
                "truncation): %zu opened, %zu tensors decoded exactly, %zu refused, %zu "
                "decode_many calls refused with outputs untouched, 0 wrong\n",
                variants, arc.size(), counts[0], counts[1], counts[2], counts[3]);
    EXPECT_GT(counts[0], 0u);
    EXPECT_GT(counts[1], 0u);
    EXPECT_GT(counts[2], 0u);
    EXPECT_GT(counts[3], 0u);
}
