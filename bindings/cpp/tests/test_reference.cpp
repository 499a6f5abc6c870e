// Files the reference package (PyPI zipnn 0.5.4) wrote, through the C++ wrapper: every
// vector of tests/reference-vectors/manifest.tsv decodes to its listed content (frames,
// deltas with their base, safetensors files as archives) and converts to the checksummed
// format.
#include <zipnn/zipnn.hpp>

#include <gtest/gtest.h>

#include <fstream>
#include <iterator>
#include <sstream>
#include <string>
#include <vector>

#ifdef ZIPNN_REFERENCE_DIR

namespace {

std::vector<std::byte> read_file(const std::string& rel) {
    std::ifstream f(std::string(ZIPNN_REFERENCE_DIR) + "/" + rel, std::ios::binary);
    EXPECT_TRUE(f.good()) << "cannot open " << rel;
    std::vector<char> raw((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
    std::vector<std::byte> out(raw.size());
    for (std::size_t i = 0; i < raw.size(); i++) {
        out[i] = static_cast<std::byte>(raw[i]);
    }
    return out;
}

// The bytes "inputs/X" or "inputs/X[A:B]" names.
std::vector<std::byte> content(const std::string& spec) {
    auto br = spec.find('[');
    std::vector<std::byte> all = read_file(spec.substr(0, br));
    if (br == std::string::npos) {
        return all;
    }
    auto colon = spec.find(':', br);
    std::size_t a = std::stoull(spec.substr(br + 1, colon - br - 1));
    std::size_t b = std::stoull(spec.substr(colon + 1, spec.size() - colon - 2));
    return std::vector<std::byte>(all.begin() + static_cast<std::ptrdiff_t>(a),
                                  all.begin() + static_cast<std::ptrdiff_t>(b));
}

std::vector<std::uint64_t> shape_of(const std::string& text) {
    std::vector<std::uint64_t> dims;
    std::string t;
    for (char c : text) {
        if (c >= '0' && c <= '9') {
            t.push_back(c);
        } else if (!t.empty()) {
            dims.push_back(std::stoull(t));
            t.clear();
        }
    }
    return dims;
}

struct Row {
    std::string file, kind, original, shape, base;
};

std::vector<Row> manifest() {
    std::ifstream f(std::string(ZIPNN_REFERENCE_DIR) + "/manifest.tsv");
    std::vector<Row> rows;
    std::string line;
    bool header = true;
    while (std::getline(f, line)) {
        if (line.empty()) {
            continue;
        }
        std::vector<std::string> col;
        std::stringstream ss(line);
        std::string c;
        while (std::getline(ss, c, '\t')) {
            col.push_back(c);
        }
        if (header) {
            header = false;
            continue;
        }
        rows.push_back(Row{col.at(0), col.at(1), col.at(3), col.at(5), col.at(8)});
    }
    return rows;
}

}  // namespace

TEST(ReferenceVectors, EveryVectorDecodesAndConverts) {
    auto rows = manifest();
    ASSERT_EQ(rows.size(), 34u);
    for (const Row& r : rows) {
        SCOPED_TRACE(r.file);
        auto src = read_file(r.file);
        auto want = content(r.original);
        std::vector<std::byte> base;
        if (r.base != "-") {
            base = content(r.base);
        }
        if (r.kind == "safetensors") {
            auto a = zipnn::Archive::open_memory(src);
            EXPECT_EQ(a.tensor_count(), 7u);
            EXPECT_EQ(a.restore(), want);
        } else {
            zipnn::FrameInfo fi = zipnn::frame_info(src);
            EXPECT_TRUE(fi.is_reference());
            EXPECT_EQ(fi.original_size, want.size());
            if (base.empty()) {
                EXPECT_EQ(zipnn::decompress(src), want);
            } else {
                EXPECT_TRUE(fi.is_delta());
                EXPECT_THROW(zipnn::decompress(src), zipnn::Error);
                EXPECT_EQ(zipnn::decompress_delta(src, base), want);
            }
            auto shape = zipnn::tensor_shape(src);
            if (r.kind == "torch" || r.kind == "numpy") {
                ASSERT_TRUE(shape.has_value());
                EXPECT_EQ(*shape, shape_of(r.shape));
            } else {
                EXPECT_FALSE(shape.has_value());
            }
        }
        auto converted = zipnn::convert(src, base);
        if (r.kind == "safetensors" || r.kind == "zipnn-hf") {
            EXPECT_EQ(zipnn::Archive::open_memory(converted).restore(), want);
        } else {
            EXPECT_FALSE(zipnn::frame_info(converted).is_reference());
            EXPECT_EQ(base.empty() ? zipnn::decompress(converted)
                                   : zipnn::decompress_delta(converted, base),
                      want);
        }
    }
}

#endif  // ZIPNN_REFERENCE_DIR
