// zipnn.hpp included alone (first include of the TU) in a second translation unit of the
// test program: the header is self-contained, and its inline functions link without
// duplicate-symbol errors next to the other TUs.
#include <zipnn/zipnn.hpp>

#include "include_tus.hpp"

std::vector<std::byte> include_once_roundtrip(const std::vector<std::byte>& data) {
    return zipnn::decompress(zipnn::compress(data, zipnn::Options().dtype(zipnn::DType::FP32)));
}
