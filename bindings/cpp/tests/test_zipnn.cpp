// GoogleTest suite for the header-only C++ wrapper bindings/cpp/include/zipnn/zipnn.hpp.
#include <zipnn/zipnn.hpp>

#include <gtest/gtest.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <cstring>
#include <random>
#include <string>
#include <thread>
#include <tuple>
#include <vector>

#include "include_tus.hpp"

namespace {

constexpr std::uint32_t kChunk = 4096;

std::uint32_t f32_bits(float f) {
    std::uint32_t u;
    std::memcpy(&u, &f, sizeof u);
    return u;
}

// Gaussian weights (sigma 0.02) laid out as `dtype`; a trailing partial element is kept.
std::vector<std::byte> weights(zipnn::DType dtype, std::size_t n, unsigned seed) {
    std::mt19937 gen(seed);
    std::normal_distribution<float> dist(0.0f, 0.02f);
    std::vector<std::byte> out(n);
    std::size_t es = zipnn::element_size(dtype);
    if (dtype == zipnn::DType::Raw) {
        es = 4;
    }
    for (std::size_t i = 0; i < n; i += es) {
        float g = dist(gen);
        unsigned char e[8] = {};
        switch (dtype) {
        case zipnn::DType::BF16: {
            auto h = static_cast<std::uint16_t>(f32_bits(g) >> 16);
            std::memcpy(e, &h, 2);
            break;
        }
        case zipnn::DType::FP16: {
            // Truncating float -> half for normal values; tiny values flush to zero.
            std::uint32_t u = f32_bits(g);
            int ex = static_cast<int>((u >> 23) & 0xFF) - 127 + 15;
            std::uint16_t h = static_cast<std::uint16_t>((u >> 16) & 0x8000u);
            if (ex > 0 && ex < 31) {
                h = static_cast<std::uint16_t>(h | (ex << 10) | ((u >> 13) & 0x3FF));
            }
            std::memcpy(e, &h, 2);
            break;
        }
        case zipnn::DType::FP64: {
            double d = g;
            std::memcpy(e, &d, 8);
            break;
        }
        case zipnn::DType::FP8_E4M3:
        case zipnn::DType::FP8_E5M2:
        case zipnn::DType::Int8:
        case zipnn::DType::UInt8: {
            long v = std::lround(g * 1500.0f);
            v = std::clamp(v, -128L, 127L);
            e[0] = static_cast<unsigned char>(v + (dtype == zipnn::DType::UInt8 ? 128 : 0));
            break;
        }
        default: {  // FP32 and Raw
            std::uint32_t u = f32_bits(g);
            std::memcpy(e, &u, 4);
            break;
        }
        }
        std::memcpy(out.data() + i, e, std::min(es, n - i));
    }
    return out;
}

zipnn::Options small_chunks(zipnn::DType d, zipnn::Method m = zipnn::Method::Auto) {
    return zipnn::Options().dtype(d).method(m).chunk_size(kChunk);
}

// Expects `f()` to throw zipnn::Error with `code`.
template <class F>
void expect_error(zipnn_status code, F&& f) {
    try {
        f();
        ADD_FAILURE() << "no exception, expected " << zipnn::error_string(code);
    } catch (const zipnn::Error& e) {
        EXPECT_EQ(e.code(), code) << e.what();
        EXPECT_NE(std::string(e.what()).find(zipnn::error_string(code)), std::string::npos);
    }
}

// A standard fp32 frame over 3 chunks and a bit.
struct Fixture {
    std::vector<std::byte> data = weights(zipnn::DType::FP32, 3 * kChunk + 100, 99);
    std::vector<std::byte> frame = zipnn::compress(data, small_chunks(zipnn::DType::FP32));
};

}  // namespace

// ------------------------------------------------------------------------------------------

TEST(Version, MatchesHeaderMacros) {
    EXPECT_STREQ(zipnn::version_string(), ZIPNN_VERSION_STRING);
    EXPECT_EQ(zipnn::version_number(), static_cast<std::uint32_t>(ZIPNN_VERSION_NUMBER));
    EXPECT_GE(zipnn::format_version(), 1u);
    EXPECT_EQ(include_twice_version(), ZIPNN_VERSION_STRING);
}

TEST(Options, DefaultsEqualInitMacro) {
    zipnn::Options o;
    zipnn_options init = ZIPNN_OPTIONS_INIT;
    EXPECT_EQ(std::memcmp(&o.raw(), &init, sizeof init), 0);
    EXPECT_EQ(o.dtype(), zipnn::DType::Raw);
    EXPECT_EQ(o.method(), zipnn::Method::Auto);
    EXPECT_EQ(o.target(), zipnn::Target::Any);
    EXPECT_EQ(o.raw().target, static_cast<std::uint32_t>(ZIPNN_TARGET_ANY));
    EXPECT_EQ(o.raw().struct_size, sizeof(zipnn_options));
}

TEST(Options, FluentSettersWriteTheCStruct) {
    zipnn::Options o;
    o.dtype(zipnn::DType::BF16)
        .method(zipnn::Method::Zstd)
        .level(zipnn::Level::Max)
        .threads(2)
        .chunk_size(8192)
        .zstd_level(7)
        .lz4_level(9)
        .threshold(0.5f)
        .bg_partitions(1)
        .max_decompressed_size(12345)
        .target(zipnn::Target::AVX512);
    const zipnn_options& r = o.raw();
    EXPECT_EQ(r.dtype, static_cast<std::uint32_t>(ZIPNN_DTYPE_BF16));
    EXPECT_EQ(r.method, static_cast<std::uint32_t>(ZIPNN_METHOD_ZSTD));
    EXPECT_EQ(r.level, ZIPNN_LEVEL_MAX);
    EXPECT_EQ(r.threads, 2u);
    EXPECT_EQ(r.chunk_size, 8192u);
    EXPECT_EQ(r.zstd_level, 7);
    EXPECT_EQ(r.lz4_level, 9);
    EXPECT_EQ(r.threshold, 0.5f);
    EXPECT_EQ(r.bg_partitions, 1u);
    EXPECT_EQ(r.max_decompressed_size, 12345u);
    EXPECT_EQ(r.target, static_cast<std::uint32_t>(ZIPNN_TARGET_AVX512));
    EXPECT_EQ(o.target(), zipnn::Target::AVX512);
    EXPECT_EQ(o.target(zipnn::Target::Any).raw().target, static_cast<std::uint32_t>(ZIPNN_TARGET_ANY));
    EXPECT_EQ(o.level(), 3);
    EXPECT_EQ(o.threads(), 2u);
    EXPECT_EQ(o.max_decompressed_size(), 12345u);
}

// ------------------------------------------------------------------------------------------
// Round trips: every dtype x every method x edge sizes

class RoundTrip
    : public ::testing::TestWithParam<std::tuple<zipnn::DType, zipnn::Method>> {};

TEST_P(RoundTrip, EdgeSizes) {
    auto [dtype, method] = GetParam();
    for (std::size_t n : {std::size_t{0}, std::size_t{1}, std::size_t{7}, std::size_t{1001},
                          std::size_t{kChunk - 1}, std::size_t{kChunk + 1},
                          std::size_t{9 * kChunk + 333}}) {
        SCOPED_TRACE("size " + std::to_string(n));
        auto data = weights(dtype, n, static_cast<unsigned>(n));
        for (zipnn::Level level : {zipnn::Level::Fast, zipnn::Level::Default, zipnn::Level::Max}) {
            auto opts = small_chunks(dtype, method).level(level);
            auto frame = zipnn::compress(data, opts);
            EXPECT_LE(frame.size(), zipnn::compress_bound(n, opts));
            EXPECT_NO_THROW(zipnn::verify(frame));
            EXPECT_EQ(zipnn::decompressed_size(frame), n);
            auto info = zipnn::frame_info(frame);
            EXPECT_EQ(info.dtype, dtype);
            EXPECT_EQ(info.original_size, n);
            EXPECT_EQ(info.frame_size, frame.size());
            // A compact frame (flag 0x08, docs/FORMAT.md 3.4) reports 65536.
            EXPECT_EQ(info.chunk_size, (info.flags & 0x08u) ? 65536u : kChunk);
            EXPECT_FALSE(info.has_metadata());
            EXPECT_EQ(zipnn::decompress(frame), data);

            // Into caller buffers, span and pointer overloads.
            std::vector<std::byte> out(n + 3, std::byte{0x5A});
            EXPECT_EQ(zipnn::decompress_into(out, frame), n);
            EXPECT_TRUE(std::equal(data.begin(), data.end(), out.begin()));
            EXPECT_EQ(out[n], std::byte{0x5A});
            std::vector<std::byte> f2(zipnn::compress_bound(n, opts));
            std::size_t len = zipnn::compress_into(f2.data(), f2.size(), data.data(), n, opts);
            f2.resize(len);
            EXPECT_EQ(f2, frame);
            EXPECT_EQ(zipnn::decompress_into(out.data(), out.size(), f2.data(), f2.size()), n);

            // Chunks one by one.
            std::vector<std::byte> joined;
            for (std::uint64_t i = 0; i < info.chunk_count; ++i) {
                auto c = zipnn::decompress_chunk(frame, i);
                joined.insert(joined.end(), c.begin(), c.end());
            }
            ASSERT_EQ(joined.size(), n - n % info.planes);
            EXPECT_TRUE(std::equal(joined.begin(), joined.end(), data.begin()));
        }
    }
}

INSTANTIATE_TEST_SUITE_P(AllDtypesAllMethods, RoundTrip,
                         ::testing::Combine(::testing::ValuesIn(zipnn::all_dtypes),
                                            ::testing::ValuesIn(zipnn::all_methods)));

TEST(RoundTripRaw, BgPartitions) {
    auto data = weights(zipnn::DType::FP32, 5 * kChunk + 5, 3);
    for (std::uint32_t p : {1u, 2u, 4u, 8u}) {
        auto opts = small_chunks(zipnn::DType::Raw).bg_partitions(p);
        auto frame = zipnn::compress(data, opts);
        EXPECT_EQ(zipnn::frame_info(frame).planes, p);
        EXPECT_EQ(zipnn::decompress(frame), data);
    }
}

TEST(RoundTripSpecial, NanInfDenormals) {
    const std::uint32_t pats[] = {0x7FC00000u, 0x7F800001u, 0xFF800000u, 0x7F800000u,
                                  0x00000001u, 0x80000000u, 0x007FFFFFu, 0x7F7FFFFFu};
    std::vector<std::uint32_t> f32(3 * kChunk / 4 + 3);
    for (std::size_t i = 0; i < f32.size(); ++i) {
        f32[i] = pats[i % 8];
    }
    auto bytes = zipnn::as_bytes(f32);
    ASSERT_EQ(bytes.size(), f32.size() * 4);
    for (zipnn::Method m : zipnn::all_methods) {
        auto frame = zipnn::compress(bytes, small_chunks(zipnn::DType::FP32, m));
        auto back = zipnn::decompress(frame);
        ASSERT_EQ(back.size(), bytes.size());
        EXPECT_EQ(std::memcmp(back.data(), f32.data(), back.size()), 0);
        // bf16 halves of the same patterns
        std::vector<std::uint16_t> bf(f32.size());
        std::transform(f32.begin(), f32.end(), bf.begin(),
                       [](std::uint32_t u) { return static_cast<std::uint16_t>(u >> 16); });
        auto bframe = zipnn::compress(zipnn::as_bytes(bf), small_chunks(zipnn::DType::BF16, m));
        std::vector<std::uint16_t> bback(bf.size());
        EXPECT_EQ(zipnn::decompress_into(zipnn::as_writable_bytes(bback), bframe), bf.size() * 2);
        EXPECT_EQ(bback, bf);
    }
}

TEST(RoundTripDefaults, DefaultOptionsAndEmptyInput) {
    auto data = weights(zipnn::DType::BF16, 300000, 5);
    auto frame = zipnn::compress(data);
    // Default options: raw bytes in one plane at the default level, whose automatic chunk
    // size is 2 MiB (256 KiB for wider elements).
    EXPECT_EQ(zipnn::frame_info(frame).chunk_size, 2097152u);
    auto bframe = zipnn::compress(data, zipnn::Options().dtype(zipnn::DType::BF16));
    EXPECT_EQ(zipnn::frame_info(bframe).chunk_size, 262144u);
    EXPECT_EQ(zipnn::decompress(frame), data);
    EXPECT_EQ(zipnn::decompress(frame.data(), frame.size()), data);

    auto empty = zipnn::compress(zipnn::span<const std::byte>());
    EXPECT_EQ(zipnn::decompressed_size(empty), 0u);
    EXPECT_TRUE(zipnn::decompress(empty).empty());
    auto empty2 = zipnn::compress(nullptr, 0);
    EXPECT_EQ(empty2, empty);
    EXPECT_EQ(zipnn::decompress_into(zipnn::span<std::byte>(), empty), 0u);
}

TEST(RoundTripLarge, OutputsAroundTheHugePageAdviceSizeAreExact) {
    // Outputs from 4 MiB on are advised to be huge pages before the library writes them
    // (detail::output_buffer): the advice must not change a byte or a size, on either
    // side of the threshold and at sizes that end mid-page.
    constexpr std::size_t mib4 = std::size_t(4) << 20;
    for (std::size_t n : {mib4 - 2, mib4, mib4 + 4098}) {
        auto buf = zipnn::detail::output_buffer(n);
        ASSERT_EQ(buf.size(), n);
        EXPECT_TRUE(std::all_of(buf.begin(), buf.end(), [](std::byte b) { return b == std::byte{0}; }));
        auto data = weights(zipnn::DType::BF16, n, static_cast<unsigned>(n));
        auto frame = zipnn::compress(data, zipnn::Options().dtype(zipnn::DType::BF16));
        EXPECT_LT(frame.size(), n) << n;
        EXPECT_EQ(zipnn::decompress(frame), data) << n;
        std::vector<std::byte> again;
        ASSERT_EQ(zipnn::nothrow::decompress(frame, again), ZIPNN_OK);
        EXPECT_EQ(again, data) << n;
    }
}

TEST(IncludeTus, StandaloneIncludeWorks) {
    auto data = weights(zipnn::DType::FP32, 10000, 8);
    EXPECT_EQ(include_once_roundtrip(data), data);
}

// ------------------------------------------------------------------------------------------
// Metadata, frame info, chunks

TEST(Metadata, RoundTrip) {
    auto data = weights(zipnn::DType::FP16, 2 * kChunk + 2, 6);
    const char shape[] = "[2049, 2]";
    auto frame = zipnn::compress_with_metadata(
        zipnn::as_bytes(shape, sizeof shape), data, small_chunks(zipnn::DType::FP16));
    auto info = zipnn::frame_info(frame);
    EXPECT_TRUE(info.has_metadata());
    EXPECT_EQ(info.metadata_size, sizeof shape);
    auto meta = zipnn::metadata(frame);
    ASSERT_EQ(meta.size(), sizeof shape);
    EXPECT_EQ(std::memcmp(meta.data(), shape, sizeof shape), 0);
    EXPECT_EQ(zipnn::decompress(frame), data);

    std::vector<std::byte> small(sizeof shape - 1);
    expect_error(ZIPNN_ERROR_DST_TOO_SMALL, [&] { zipnn::metadata_into(small, frame); });
    std::size_t w = 77;
    EXPECT_EQ(zipnn::nothrow::metadata_into(small, frame, w), ZIPNN_ERROR_DST_TOO_SMALL);
    EXPECT_EQ(w, 77u);

    auto plain = zipnn::compress(data, small_chunks(zipnn::DType::FP16));
    EXPECT_TRUE(zipnn::metadata(plain).empty());

    auto same = zipnn::compress_with_metadata(shape, sizeof shape, data.data(), data.size(),
                                              small_chunks(zipnn::DType::FP16));
    EXPECT_EQ(same, frame);

    std::vector<std::byte> huge((1u << 20) + 1);
    expect_error(ZIPNN_ERROR_INVALID_PARAM, [&] { zipnn::compress_with_metadata(huge, data); });
}

TEST(Chunks, RandomAccessAndBadIndex) {
    Fixture f;
    auto info = zipnn::frame_info(f.frame);
    ASSERT_EQ(info.chunk_count, 4u);
    for (std::uint64_t i = info.chunk_count; i-- > 0;) {
        auto c = zipnn::decompress_chunk(f.frame, i);
        ASSERT_EQ(c.size(), i < 3 ? kChunk : 100u);
        EXPECT_TRUE(std::equal(c.begin(), c.end(), f.data.begin() + i * kChunk));
    }
    expect_error(ZIPNN_ERROR_INVALID_PARAM, [&] { zipnn::decompress_chunk(f.frame, 4); });
    std::vector<std::byte> small(kChunk - 1);
    expect_error(ZIPNN_ERROR_DST_TOO_SMALL,
                 [&] { zipnn::decompress_chunk_into(small, f.frame, 0); });
    std::size_t w = 77;
    EXPECT_EQ(zipnn::nothrow::decompress_chunk_into(small, f.frame, 0, w),
              ZIPNN_ERROR_DST_TOO_SMALL);
    EXPECT_EQ(zipnn::nothrow::decompress_chunk_into(small, f.frame, 9, w),
              ZIPNN_ERROR_INVALID_PARAM);
    EXPECT_EQ(w, 77u);
}

// ------------------------------------------------------------------------------------------
// Error paths: the exception's code and the noexcept form's status

TEST(Errors, ErrorIsRuntimeErrorWithCode) {
    zipnn::Error e(ZIPNN_ERROR_CORRUPT);
    const std::runtime_error& base = e;
    EXPECT_EQ(e.code(), ZIPNN_ERROR_CORRUPT);
    EXPECT_NE(std::string(base.what()).find("corrupt"), std::string::npos);
    EXPECT_NO_THROW(zipnn::check(ZIPNN_OK));
    expect_error(ZIPNN_ERROR_ALLOC, [] { zipnn::check(ZIPNN_ERROR_ALLOC); });
    zipnn::Error ctx(ZIPNN_ERROR_TRUNCATED, "reading model.bin");
    EXPECT_NE(std::string(ctx.what()).find("reading model.bin"), std::string::npos);
}

TEST(Errors, NullPointers) {
    std::byte buf[64] = {};
    expect_error(ZIPNN_ERROR_NULL_POINTER, [] { zipnn::compress(nullptr, 10); });
    expect_error(ZIPNN_ERROR_NULL_POINTER, [] { zipnn::decompress(nullptr, 10); });
    expect_error(ZIPNN_ERROR_NULL_POINTER,
                 [&] { zipnn::compress_into(nullptr, 100, buf, sizeof buf); });
    expect_error(ZIPNN_ERROR_NULL_POINTER, [] { zipnn::verify(nullptr, 3); });
    std::size_t w = 77;
    EXPECT_EQ(zipnn::nothrow::compress_into(nullptr, 100, buf, sizeof buf, w),
              ZIPNN_ERROR_NULL_POINTER);
    EXPECT_EQ(zipnn::nothrow::decompress_into(buf, sizeof buf, nullptr, 5, w),
              ZIPNN_ERROR_NULL_POINTER);
    EXPECT_EQ(w, 77u);
}

TEST(Errors, DstTooSmall) {
    Fixture f;
    auto opts = small_chunks(zipnn::DType::FP32);
    std::vector<std::byte> dst(f.frame.size() - 1, std::byte{0xA5});
    expect_error(ZIPNN_ERROR_DST_TOO_SMALL, [&] { zipnn::compress_into(dst, f.data, opts); });
    std::size_t w = 77;
    EXPECT_EQ(zipnn::nothrow::compress_into(dst, f.data, w, opts), ZIPNN_ERROR_DST_TOO_SMALL);
    EXPECT_EQ(w, 77u);
    EXPECT_TRUE(std::all_of(dst.begin(), dst.end(), [](std::byte b) { return b == std::byte{0xA5}; }));
    dst.resize(f.frame.size());
    EXPECT_EQ(zipnn::compress_into(dst, f.data, opts), f.frame.size());

    std::vector<std::byte> out(f.data.size() - 1, std::byte{0xA5});
    expect_error(ZIPNN_ERROR_DST_TOO_SMALL, [&] { zipnn::decompress_into(out, f.frame); });
    EXPECT_EQ(zipnn::nothrow::decompress_into(out, f.frame, w), ZIPNN_ERROR_DST_TOO_SMALL);
    EXPECT_EQ(w, 77u);
    EXPECT_TRUE(std::all_of(out.begin(), out.end(), [](std::byte b) { return b == std::byte{0xA5}; }));
}

TEST(Errors, BadOptions) {
    auto data = weights(zipnn::DType::FP32, 5000, 1);
    struct Case {
        const char* name;
        zipnn::Options opts;
        zipnn_status want;
    };
    auto raw = [](auto f) {
        zipnn::Options o;
        f(o.raw());
        return o;
    };
    const Case cases[] = {
        {"struct_size 0", raw([](zipnn_options& o) { o.struct_size = 0; }), ZIPNN_ERROR_INVALID_PARAM},
        {"struct_size 4", raw([](zipnn_options& o) { o.struct_size = 4; }), ZIPNN_ERROR_INVALID_PARAM},
        {"reserved", raw([](zipnn_options& o) { o.reserved[3] = 1; }), ZIPNN_ERROR_INVALID_PARAM},
        {"dtype 99", zipnn::Options().dtype(static_cast<zipnn::DType>(99)), ZIPNN_ERROR_UNSUPPORTED_DTYPE},
        {"method 6", zipnn::Options().method(static_cast<zipnn::Method>(6)), ZIPNN_ERROR_UNSUPPORTED_METHOD},
        {"level 9", zipnn::Options().level(9), ZIPNN_ERROR_INVALID_PARAM},
        {"chunk 100", zipnn::Options().chunk_size(100), ZIPNN_ERROR_INVALID_PARAM},
        {"chunk not element multiple", zipnn::Options().dtype(zipnn::DType::FP32).chunk_size(1026), ZIPNN_ERROR_INVALID_PARAM},
        {"threshold 2", zipnn::Options().threshold(2.0f), ZIPNN_ERROR_INVALID_PARAM},
        {"bg 3", zipnn::Options().bg_partitions(3), ZIPNN_ERROR_INVALID_PARAM},
        {"bg 2 bf16", zipnn::Options().dtype(zipnn::DType::BF16).bg_partitions(2), ZIPNN_ERROR_INVALID_PARAM},
        {"zstd 23", zipnn::Options().zstd_level(23), ZIPNN_ERROR_INVALID_PARAM},
        {"lz4 13", zipnn::Options().lz4_level(13), ZIPNN_ERROR_INVALID_PARAM},
        {"target 2", zipnn::Options().target(static_cast<zipnn::Target>(2)), ZIPNN_ERROR_INVALID_PARAM},
        {"target 7 bf16", zipnn::Options().dtype(zipnn::DType::BF16).target(static_cast<zipnn::Target>(7)),
         ZIPNN_ERROR_INVALID_PARAM},
    };
    for (const Case& c : cases) {
        SCOPED_TRACE(c.name);
        EXPECT_EQ(zipnn::compress_bound(data.size(), c.opts), 0u);
        expect_error(c.want, [&] { zipnn::compress(data, c.opts); });
        std::vector<std::byte> out{std::byte{1}};
        EXPECT_EQ(zipnn::nothrow::compress(data, out, c.opts), c.want);
        EXPECT_EQ(out.size(), 1u);  // untouched
        std::vector<std::byte> dst(100000);
        std::size_t w = 77;
        EXPECT_EQ(zipnn::nothrow::compress_into(dst, data, w, c.opts), c.want);
        EXPECT_EQ(w, 77u);
    }
}

// Every target's frames decode to the same bytes (only their speed differs by processor), so
// each target must round-trip every dtype at every level; decompression ignores the field.
TEST(Target, EveryTargetRoundTripsEveryDtypeAndLevel) {
    EXPECT_EQ(zipnn::all_targets.size(), 2u);
    EXPECT_EQ(static_cast<std::uint32_t>(zipnn::Target::Any), 0u);
    EXPECT_EQ(static_cast<std::uint32_t>(zipnn::Target::AVX512), 1u);
    for (zipnn::Target target : zipnn::all_targets) {
        for (zipnn::DType dtype : zipnn::all_dtypes) {
            auto data = weights(dtype, 5 * kChunk + 77, 17);
            for (zipnn::Level level : {zipnn::Level::Fast, zipnn::Level::Default, zipnn::Level::Max}) {
                SCOPED_TRACE(std::to_string(static_cast<unsigned>(target)) + " dtype " +
                             std::to_string(static_cast<unsigned>(dtype)) + " level " +
                             std::to_string(static_cast<int>(level)));
                auto opts = small_chunks(dtype).level(level).target(target);
                auto frame = zipnn::compress(data, opts);
                EXPECT_LE(frame.size(), zipnn::compress_bound(data.size(), opts));
                EXPECT_NO_THROW(zipnn::verify(frame));
                EXPECT_EQ(zipnn::decompress(frame), data);
                // Decompression reads no compression field, an unknown target included.
                std::vector<std::byte> out(data.size());
                zipnn::Options dopts;
                dopts.raw().target = 7;
                EXPECT_EQ(zipnn::decompress_into(out, frame, dopts), data.size());
                EXPECT_EQ(out, data);
            }
        }
    }
    // Deltas take the target too.
    auto base = weights(zipnn::DType::BF16, 3 * kChunk, 5);
    auto fine = base;
    for (std::size_t i = 0; i < fine.size(); i += 97) fine[i] ^= std::byte{1};
    auto opts = small_chunks(zipnn::DType::BF16).target(zipnn::Target::AVX512);
    EXPECT_EQ(zipnn::decompress_delta(zipnn::compress_delta(fine, base, opts), base), fine);
    std::vector<std::byte> out{std::byte{9}};
    EXPECT_EQ(zipnn::nothrow::compress_delta(fine, base, out, opts.target(static_cast<zipnn::Target>(2))),
              ZIPNN_ERROR_INVALID_PARAM);
    EXPECT_EQ(out, std::vector<std::byte>{std::byte{9}});
}

TEST(Errors, LargerStructSize) {
    // A newer caller's larger options struct: zero tail accepted, nonzero tail rejected.
    struct Big {
        zipnn_options o;
        std::uint32_t extra[4];
    } big{};
    zipnn_options_init(&big.o);
    big.o.struct_size = sizeof big;
    auto data = weights(zipnn::DType::Raw, 3000, 2);
    std::vector<std::byte> dst(zipnn::compress_bound(data.size()));
    std::size_t w = 0;
    EXPECT_EQ(zipnn_compress(&big.o, data.data(), data.size(), dst.data(), dst.size(), &w), ZIPNN_OK);
    big.extra[2] = 5;
    EXPECT_EQ(zipnn_compress(&big.o, data.data(), data.size(), dst.data(), dst.size(), &w),
              ZIPNN_ERROR_INVALID_PARAM);
}

TEST(Errors, TruncatedFramesNeverSucceed) {
    Fixture f;
    for (std::size_t cut = 0; cut < f.frame.size(); ++cut) {
        zipnn::span<const std::byte> prefix(f.frame.data(), cut);
        std::vector<std::byte> out;
        zipnn_status st = zipnn::nothrow::decompress(prefix, out);
        ASSERT_NE(st, ZIPNN_OK) << "cut " << cut;
        EXPECT_TRUE(out.empty());
        if (cut % 97 == 0) {
            expect_error(st, [&] { zipnn::decompress(prefix); });
        }
    }
    expect_error(ZIPNN_ERROR_TRUNCATED,
                 [&] { zipnn::decompress(f.frame.data(), f.frame.size() - 1); });
    expect_error(ZIPNN_ERROR_TRUNCATED, [&] { zipnn::verify(f.frame.data(), 10); });
}

TEST(Errors, DamagedFrameDeclaringMuchMoreIsRefusedWithChecksum) {
    // 4 MiB of one value: a frame of a few KiB declaring over 8 times its length, which the
    // vector-returning decompressors verify before allocating the declared size.
    std::vector<std::uint16_t> ones(2u << 20, 0x3F80);
    auto frame = zipnn::compress(zipnn::as_bytes(ones), zipnn::Options().dtype(zipnn::DType::BF16));
    ASSERT_GE(ones.size() * 2 / ZIPNN_PRE_VERIFY_RATIO, frame.size());
    frame.back() ^= std::byte{0x01};
    std::size_t size = 77;
    EXPECT_EQ(zipnn::nothrow::decompress_alloc_size(frame, size), ZIPNN_ERROR_CHECKSUM);
    EXPECT_EQ(size, 77u);
    std::vector<std::byte> out{std::byte{7}};
    EXPECT_EQ(zipnn::nothrow::decompress(frame, out), ZIPNN_ERROR_CHECKSUM);
    ASSERT_EQ(out.size(), 1u);  // unchanged
    EXPECT_EQ(out[0], std::byte{7});
    expect_error(ZIPNN_ERROR_CHECKSUM, [&] { zipnn::decompress(frame); });
    expect_error(ZIPNN_ERROR_CHECKSUM, [&] { zipnn::decompress_delta(frame, {}); });
}

TEST(Errors, FlippedBytes) {
    Fixture f;
    auto frame = f.frame;
    frame.back() ^= std::byte{0x01};
    expect_error(ZIPNN_ERROR_CHECKSUM, [&] { zipnn::decompress(frame); });
    expect_error(ZIPNN_ERROR_CHECKSUM, [&] { zipnn::verify(frame); });
    std::vector<std::byte> out(f.data.size());
    std::size_t w = 77;
    EXPECT_EQ(zipnn::nothrow::decompress_into(out, frame, w), ZIPNN_ERROR_CHECKSUM);
    EXPECT_EQ(w, 77u);
    frame = f.frame;
    frame[43] ^= std::byte{0x10};  // inside the chunk table, covered by the header checksum
    expect_error(ZIPNN_ERROR_CHECKSUM, [&] { zipnn::frame_info(frame); });
    expect_error(ZIPNN_ERROR_CHECKSUM, [&] { zipnn::decompress(frame); });
    // Every byte: never OK.
    frame = f.frame;
    for (std::size_t i = 0; i < frame.size(); i += 7) {
        frame[i] ^= std::byte{0x04};
        EXPECT_NE(zipnn::nothrow::decompress_into(out, frame, w), ZIPNN_OK) << "byte " << i;
        frame[i] ^= std::byte{0x04};
    }
}

TEST(Errors, TrailingGarbageMagicVersion) {
    Fixture f;
    auto padded = f.frame;
    padded.push_back(std::byte{0});
    expect_error(ZIPNN_ERROR_CORRUPT, [&] { zipnn::decompress(padded); });
    EXPECT_EQ(zipnn::frame_info(padded).frame_size, f.frame.size());

    auto bad = f.frame;
    bad[0] = std::byte{'X'};
    expect_error(ZIPNN_ERROR_BAD_MAGIC, [&] { zipnn::decompress(bad); });
    expect_error(ZIPNN_ERROR_BAD_MAGIC, [&] { zipnn::frame_info(bad); });
    expect_error(ZIPNN_ERROR_BAD_MAGIC, [&] { zipnn::decompress(f.data); });

    auto ver = f.frame;
    ver[4] = static_cast<std::byte>(static_cast<unsigned>(ver[4]) + 1);
    expect_error(ZIPNN_ERROR_UNSUPPORTED_VERSION, [&] { zipnn::decompress(ver); });
    expect_error(ZIPNN_ERROR_UNSUPPORTED_VERSION, [&] { zipnn::decompressed_size(ver); });
    zipnn::FrameInfo info;
    info.chunk_size = 42;
    EXPECT_EQ(zipnn::nothrow::frame_info(ver, info), ZIPNN_ERROR_UNSUPPORTED_VERSION);
    EXPECT_EQ(info.chunk_size, 42u);
}

TEST(Errors, LimitExceeded) {
    Fixture f;
    auto limit = zipnn::Options().max_decompressed_size(f.data.size() - 1);
    expect_error(ZIPNN_ERROR_LIMIT_EXCEEDED, [&] { zipnn::decompress(f.frame, limit); });
    std::vector<std::byte> out(f.data.size());
    expect_error(ZIPNN_ERROR_LIMIT_EXCEEDED, [&] { zipnn::decompress_into(out, f.frame, limit); });
    std::size_t w = 77;
    EXPECT_EQ(zipnn::nothrow::decompress_into(out, f.frame, w, limit), ZIPNN_ERROR_LIMIT_EXCEEDED);
    EXPECT_EQ(w, 77u);
    limit.max_decompressed_size(f.data.size());
    EXPECT_EQ(zipnn::decompress(f.frame, limit), f.data);
}

TEST(Nothrow, IsNoexcept) {
    std::vector<std::byte> v;
    zipnn::span<const std::byte> s;
    zipnn::span<std::byte> d;
    std::size_t w = 0;
    std::uint64_t u = 0;
    zipnn::FrameInfo fi;
    static_assert(noexcept(zipnn::nothrow::compress(s, v)));
    static_assert(noexcept(zipnn::nothrow::decompress(s, v)));
    static_assert(noexcept(zipnn::nothrow::compress_into(d, s, w)));
    static_assert(noexcept(zipnn::nothrow::decompress_into(d, s, w)));
    static_assert(noexcept(zipnn::nothrow::decompress_chunk_into(d, s, 0, w)));
    static_assert(noexcept(zipnn::nothrow::decompressed_size(s, u)));
    static_assert(noexcept(zipnn::nothrow::frame_info(s, fi)));
    static_assert(noexcept(zipnn::nothrow::metadata_into(d, s, w)));
    static_assert(noexcept(zipnn::nothrow::verify(s)));
    EXPECT_EQ(zipnn::nothrow::verify(s), ZIPNN_ERROR_TRUNCATED);
}

TEST(Threads, ConcurrentCallsAreIndependent) {
    // One-shot functions are documented thread-safe: run different inputs concurrently.
    std::vector<std::vector<std::byte>> inputs;
    for (unsigned i = 0; i < 4; ++i) {
        inputs.push_back(weights(zipnn::all_dtypes[i + 1], 20 * kChunk + i, 40 + i));
    }
    std::vector<int> ok(inputs.size(), 0);
    std::vector<std::thread> threads;
    for (std::size_t t = 0; t < inputs.size(); ++t) {
        threads.emplace_back([&, t] {
            int good = 1;
            for (int rep = 0; rep < 10; ++rep) {
                std::vector<std::byte> frame, back;
                auto opts = small_chunks(zipnn::all_dtypes[t + 1]).threads(rep % 3);
                good &= zipnn::nothrow::compress(inputs[t], frame, opts) == ZIPNN_OK;
                good &= zipnn::nothrow::decompress(frame, back, opts) == ZIPNN_OK;
                good &= back == inputs[t];
            }
            ok[t] = good;
        });
    }
    for (auto& th : threads) {
        th.join();
    }
    for (std::size_t t = 0; t < ok.size(); ++t) {
        EXPECT_EQ(ok[t], 1) << "thread " << t;
    }
}
