// Golden vectors (tests/vectors/manifest.tsv) through the C++ wrapper: every valid frame
// decodes to its stored input with the throwing and nothrow APIs (and chunk by chunk);
// every invalid one gives its listed status (and the throwing API throws that code).
// Delta frames (tests/vectors/delta.tsv) decode with their bases.
#include <zipnn/zipnn.hpp>

#include <gtest/gtest.h>

#include <algorithm>
#include <fstream>
#include <iterator>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#ifdef ZIPNN_VECTORS_DIR

namespace {

std::vector<std::byte> read_file(const std::string& rel) {
    std::ifstream f(std::string(ZIPNN_VECTORS_DIR) + "/" + rel, std::ios::binary);
    EXPECT_TRUE(f.good()) << "cannot open " << rel;
    std::vector<char> raw((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
    std::vector<std::byte> out(raw.size());
    for (std::size_t i = 0; i < raw.size(); i++) {
        out[i] = static_cast<std::byte>(raw[i]);
    }
    return out;
}

zipnn_status status_by_name(const std::string& name) {
    static const std::map<std::string, zipnn_status> names = {
        {"Ok", ZIPNN_OK},
        {"BadMagic", ZIPNN_ERROR_BAD_MAGIC},
        {"UnsupportedVersion", ZIPNN_ERROR_UNSUPPORTED_VERSION},
        {"UnsupportedFlags", ZIPNN_ERROR_UNSUPPORTED_FLAGS},
        {"UnsupportedDtype", ZIPNN_ERROR_UNSUPPORTED_DTYPE},
        {"UnsupportedCodec", ZIPNN_ERROR_UNSUPPORTED_CODEC},
        {"Truncated", ZIPNN_ERROR_TRUNCATED},
        {"Corrupt", ZIPNN_ERROR_CORRUPT},
        {"Checksum", ZIPNN_ERROR_CHECKSUM},
        {"LimitExceeded", ZIPNN_ERROR_LIMIT_EXCEEDED},
        {"BaseRequired", ZIPNN_ERROR_BASE_REQUIRED},
    };
    auto it = names.find(name);
    return it == names.end() ? 1 : it->second;  // 1 is no status: fails the comparison
}

struct Row {
    std::string name, kind, input, frame, expect;
};

// The tab-separated columns of each line of tests/vectors/`name` but comments and blanks.
std::vector<std::vector<std::string>> tsv(const std::string& name) {
    std::ifstream f(std::string(ZIPNN_VECTORS_DIR) + "/" + name);
    EXPECT_TRUE(f.good()) << "cannot open " << name;
    std::vector<std::vector<std::string>> lines;
    std::string line;
    while (std::getline(f, line)) {
        if (line.empty() || line[0] == '#') {
            continue;
        }
        std::vector<std::string> col;
        std::stringstream ss(line);
        std::string c;
        while (std::getline(ss, c, '\t')) {
            col.push_back(c);
        }
        lines.push_back(col);
    }
    return lines;
}

std::vector<Row> manifest() {
    std::vector<Row> rows;
    for (const std::vector<std::string>& col : tsv("manifest.tsv")) {
        EXPECT_EQ(col.size(), 9u);
        if (col.size() == 9) {
            rows.push_back({col[0], col[1], col[6], col[7], col[8]});
        }
    }
    return rows;
}

}  // namespace

TEST(Vectors, ManifestDecodesAsListed) {
    std::vector<Row> rows = manifest();
    ASSERT_GE(rows.size(), 20u);
    std::size_t valid = 0, invalid = 0;
    for (const Row& r : rows) {
        SCOPED_TRACE(r.name);
        std::vector<std::byte> frame = read_file(r.frame);
        zipnn_status want = status_by_name(r.expect);
        ASSERT_NE(want, 1) << "unknown expectation " << r.expect;
        std::vector<std::byte> out{std::byte{0x42}};
        zipnn_status got = zipnn::nothrow::decompress(frame, out);
        EXPECT_EQ(got, want) << zipnn_error_string(got);
        if (r.kind == "valid") {
            valid++;
            std::vector<std::byte> input = read_file(r.input);
            EXPECT_EQ(out, input);
            EXPECT_EQ(zipnn::decompress(frame), input);
            EXPECT_EQ(zipnn::nothrow::verify(frame), ZIPNN_OK);
            // Chunk by chunk (the trailing partial element belongs to no chunk).
            zipnn::FrameInfo info{};
            ASSERT_EQ(zipnn::nothrow::frame_info(frame, info), ZIPNN_OK);
            EXPECT_EQ(info.original_size, input.size());
            std::vector<std::byte> joined;
            for (std::uint64_t c = 0; c < info.chunk_count; c++) {
                std::vector<std::byte> ch = zipnn::decompress_chunk(frame, c);
                joined.insert(joined.end(), ch.begin(), ch.end());
            }
            std::size_t body = input.size() - input.size() % info.planes;
            ASSERT_EQ(joined.size(), body);
            EXPECT_TRUE(std::equal(joined.begin(), joined.end(), input.begin()));
        } else {
            invalid++;
            EXPECT_EQ(out.size(), 1u) << "out changed on error";
            try {
                (void)zipnn::decompress(frame);
                ADD_FAILURE() << "no exception";
            } catch (const zipnn::Error& e) {
                EXPECT_EQ(e.code(), want);
            }
        }
    }
    EXPECT_GE(valid, 10u);
    EXPECT_GE(invalid, 10u);
}

// tests/vectors/delta.tsv (name, dtype, input, base, frame): every delta frame decodes to
// its input with its base, and is BASE_REQUIRED without one and BASE_MISMATCH with another
// base of the same length, leaving the output unchanged.
TEST(Vectors, DeltaFramesDecodeWithTheirBase) {
    std::size_t checked = 0;
    for (const std::vector<std::string>& col : tsv("delta.tsv")) {
        ASSERT_EQ(col.size(), 5u);
        SCOPED_TRACE(col[0]);
        std::vector<std::byte> input = read_file(col[2]);
        std::vector<std::byte> base = read_file(col[3]);
        std::vector<std::byte> frame = read_file(col[4]);
        EXPECT_EQ(zipnn::decompress_delta(frame, base), input);
        std::vector<std::byte> out{std::byte{0x42}};
        EXPECT_EQ(zipnn::nothrow::decompress(frame, out), ZIPNN_ERROR_BASE_REQUIRED);
        base[0] ^= std::byte{1};
        EXPECT_EQ(zipnn::nothrow::decompress_delta(frame, base, out), ZIPNN_ERROR_BASE_MISMATCH);
        EXPECT_EQ(out, std::vector<std::byte>{std::byte{0x42}}) << "out changed on error";
        checked++;
    }
    EXPECT_GE(checked, 1u);
}

#endif  // ZIPNN_VECTORS_DIR
