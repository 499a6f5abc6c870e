// zipnn.hpp: header-only C++17 wrapper over the zipnn C API (zipnn.h).
//
// Two error styles, same operations:
//   * zipnn::compress(...), zipnn::decompress(...), ... throw zipnn::Error, which carries the
//     C status in code();
//   * zipnn::nothrow::compress(...), ... are noexcept and return the zipnn_status, with the
//     results in out-parameters (allocation failure is reported as ZIPNN_ERROR_ALLOC).
//
// Buffers are zipnn::span<const std::byte> (inputs) and zipnn::span<std::byte> (outputs):
// std::span when the standard library has it, otherwise a minimal span type defined here.
// Every function also has a pointer + size overload. Everything is inline; link with the
// zipnn library (CMake target zipnn::zipnn or zipnn::zipnn_static).
//
// Thread safety: every function may be called concurrently, as the C API; an Options
// object is plain data (safe to share while nobody modifies it).

#ifndef ZIPNN_HPP
#define ZIPNN_HPP

#include <zipnn.h>

#include <array>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <new>
#include <stdexcept>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#if defined(__has_include)
#if __has_include(<version>)
#include <version>
#endif
#endif

#if defined(__cpp_lib_span) && __cpp_lib_span >= 202002L && !defined(ZIPNN_CPP_NO_STD_SPAN)
#include <span>
#define ZIPNN_CPP_HAS_STD_SPAN 1
#else
#define ZIPNN_CPP_HAS_STD_SPAN 0
#endif

namespace zipnn {

// ------------------------------------------------------------------------------------------
// span
// ------------------------------------------------------------------------------------------

#if ZIPNN_CPP_HAS_STD_SPAN

/// A view of contiguous elements: std::span with a dynamic extent.
template <class T>
using span = std::span<T>;

#else

/// A view of contiguous elements (a minimal stand-in for C++20 std::span, dynamic extent).
template <class T>
class span {
public:
    using element_type = T;
    using value_type = std::remove_cv_t<T>;
    using size_type = std::size_t;
    using pointer = T*;
    using reference = T&;
    using iterator = T*;

    constexpr span() noexcept = default;
    constexpr span(T* data, std::size_t size) noexcept : data_(data), size_(size) {}

    template <std::size_t N>
    constexpr span(T (&arr)[N]) noexcept : data_(arr), size_(N) {}

    /// From any contiguous container with data() and size() whose elements convert
    /// (std::vector, std::array, std::string, another span, ...).
    template <class C,
              class P = decltype(std::declval<C&>().data()),
              class = decltype(std::declval<C&>().size()),
              std::enable_if_t<std::is_pointer<P>::value &&
                                   std::is_convertible<std::remove_pointer_t<P> (*)[],
                                                       T (*)[]>::value,
                               int> = 0>
    constexpr span(C& c) noexcept(noexcept(c.data()) && noexcept(c.size()))
        : data_(c.data()), size_(c.size()) {}

    template <class C,
              class P = decltype(std::declval<const C&>().data()),
              class = decltype(std::declval<const C&>().size()),
              std::enable_if_t<std::is_pointer<P>::value &&
                                   std::is_convertible<std::remove_pointer_t<P> (*)[],
                                                       T (*)[]>::value,
                               int> = 0>
    constexpr span(const C& c) noexcept(noexcept(c.data()) && noexcept(c.size()))
        : data_(c.data()), size_(c.size()) {}

    constexpr T* data() const noexcept { return data_; }
    constexpr std::size_t size() const noexcept { return size_; }
    constexpr std::size_t size_bytes() const noexcept { return size_ * sizeof(T); }
    constexpr bool empty() const noexcept { return size_ == 0; }
    constexpr T* begin() const noexcept { return data_; }
    constexpr T* end() const noexcept { return data_ + size_; }
    constexpr T& operator[](std::size_t i) const noexcept { return data_[i]; }
    constexpr span first(std::size_t n) const noexcept { return span(data_, n); }
    constexpr span last(std::size_t n) const noexcept { return span(data_ + size_ - n, n); }
    constexpr span subspan(std::size_t off,
                           std::size_t n = std::numeric_limits<std::size_t>::max()) const
        noexcept {
        return span(data_ + off, n == std::numeric_limits<std::size_t>::max() ? size_ - off : n);
    }

private:
    T* data_ = nullptr;
    std::size_t size_ = 0;
};

#endif

/// The bytes of `count` trivially copyable objects at `p`.
template <class T>
inline span<const std::byte> as_bytes(const T* p, std::size_t count) noexcept {
    static_assert(std::is_trivially_copyable<T>::value, "as_bytes needs plain data");
    return span<const std::byte>(reinterpret_cast<const std::byte*>(p), count * sizeof(T));
}

/// The bytes of a contiguous container of trivially copyable elements (std::vector<float>,
/// std::array<uint16_t, N>, ...).
template <class C>
inline auto as_bytes(const C& c) noexcept -> decltype(as_bytes(c.data(), c.size())) {
    return as_bytes(c.data(), c.size());
}

/// The writable bytes of `count` trivially copyable objects at `p`.
template <class T>
inline span<std::byte> as_writable_bytes(T* p, std::size_t count) noexcept {
    static_assert(std::is_trivially_copyable<T>::value && !std::is_const<T>::value,
                  "as_writable_bytes needs writable plain data");
    return span<std::byte>(reinterpret_cast<std::byte*>(p), count * sizeof(T));
}

/// The writable bytes of a contiguous container of trivially copyable elements.
template <class C>
inline auto as_writable_bytes(C& c) noexcept -> decltype(as_writable_bytes(c.data(), c.size())) {
    return as_writable_bytes(c.data(), c.size());
}

// ------------------------------------------------------------------------------------------
// Errors, enums, options
// ------------------------------------------------------------------------------------------

/// The library's static English message for a status ("unknown status" for non-codes).
inline const char* error_string(zipnn_status status) noexcept {
    return zipnn_error_string(status);
}

/// Thrown by the throwing API: what() is the library's message, code() the C status.
class Error : public std::runtime_error {
public:
    explicit Error(zipnn_status code)
        : std::runtime_error(std::string("zipnn: ") + zipnn_error_string(code)), code_(code) {}
    Error(zipnn_status code, const std::string& context)
        : std::runtime_error("zipnn: " + context + ": " + zipnn_error_string(code)),
          code_(code) {}

    /// The ZIPNN_ERROR_* status.
    zipnn_status code() const noexcept { return code_; }

private:
    zipnn_status code_;
};

/// Throws Error(status) unless status is ZIPNN_OK.
inline void check(zipnn_status status) {
    if (status != ZIPNN_OK) {
        throw Error(status);
    }
}

/// Element type of the input (ZIPNN_DTYPE_*).
enum class DType : std::uint32_t {
    Raw = ZIPNN_DTYPE_RAW,
    BF16 = ZIPNN_DTYPE_BF16,
    FP16 = ZIPNN_DTYPE_FP16,
    FP32 = ZIPNN_DTYPE_FP32,
    FP64 = ZIPNN_DTYPE_FP64,
    FP8_E4M3 = ZIPNN_DTYPE_FP8_E4M3,
    FP8_E5M2 = ZIPNN_DTYPE_FP8_E5M2,
    Int8 = ZIPNN_DTYPE_INT8,
    UInt8 = ZIPNN_DTYPE_UINT8,
};

/// Every DType, in code order.
inline constexpr std::array<DType, 9> all_dtypes = {
    DType::Raw,      DType::BF16,     DType::FP16, DType::FP32,  DType::FP64,
    DType::FP8_E4M3, DType::FP8_E5M2, DType::Int8, DType::UInt8,
};

/// Bytes per element of a dtype (1 for Raw).
constexpr std::size_t element_size(DType d) noexcept {
    switch (d) {
    case DType::BF16:
    case DType::FP16:
        return 2;
    case DType::FP32:
        return 4;
    case DType::FP64:
        return 8;
    default:
        return 1;
    }
}

/// Coding method (ZIPNN_METHOD_*).
enum class Method : std::uint32_t {
    Auto = ZIPNN_METHOD_AUTO,
    Huffman = ZIPNN_METHOD_HUFFMAN,
    Zstd = ZIPNN_METHOD_ZSTD,
    LZ4 = ZIPNN_METHOD_LZ4,
    Snappy = ZIPNN_METHOD_SNAPPY,
    Raw = ZIPNN_METHOD_RAW,
};

/// Every Method, in code order.
inline constexpr std::array<Method, 6> all_methods = {
    Method::Auto, Method::Huffman, Method::Zstd, Method::LZ4, Method::Snappy, Method::Raw,
};

/// Compression effort (ZIPNN_LEVEL_*); 2 is the same as Default.
enum class Level : std::int32_t {
    Default = ZIPNN_LEVEL_DEFAULT,
    Fast = ZIPNN_LEVEL_FAST,
    Max = ZIPNN_LEVEL_MAX,
};

/// zipnn_options with its defaults (the constructor calls zipnn_options_init) and fluent
/// setters: `zipnn::Options().dtype(zipnn::DType::BF16).level(zipnn::Level::Max)`.
/// Values are passed through unchecked; the library validates them when used.
class Options {
public:
    Options() noexcept { zipnn_options_init(&raw_); }
    explicit Options(const zipnn_options& raw) noexcept : raw_(raw) {}

    Options& dtype(DType v) noexcept { raw_.dtype = static_cast<std::uint32_t>(v); return *this; }
    Options& method(Method v) noexcept { raw_.method = static_cast<std::uint32_t>(v); return *this; }
    Options& level(Level v) noexcept { raw_.level = static_cast<std::int32_t>(v); return *this; }
    Options& level(std::int32_t v) noexcept { raw_.level = v; return *this; }
    Options& threads(std::uint32_t v) noexcept { raw_.threads = v; return *this; }
    Options& chunk_size(std::uint32_t v) noexcept { raw_.chunk_size = v; return *this; }
    Options& zstd_level(std::int32_t v) noexcept { raw_.zstd_level = v; return *this; }
    Options& lz4_level(std::int32_t v) noexcept { raw_.lz4_level = v; return *this; }
    Options& threshold(float v) noexcept { raw_.threshold = v; return *this; }
    Options& bg_partitions(std::uint32_t v) noexcept { raw_.bg_partitions = v; return *this; }
    Options& max_decompressed_size(std::uint64_t v) noexcept {
        raw_.max_decompressed_size = v;
        return *this;
    }

    DType dtype() const noexcept { return static_cast<DType>(raw_.dtype); }
    Method method() const noexcept { return static_cast<Method>(raw_.method); }
    std::int32_t level() const noexcept { return raw_.level; }
    std::uint32_t threads() const noexcept { return raw_.threads; }
    std::uint32_t chunk_size() const noexcept { return raw_.chunk_size; }
    std::int32_t zstd_level() const noexcept { return raw_.zstd_level; }
    std::int32_t lz4_level() const noexcept { return raw_.lz4_level; }
    float threshold() const noexcept { return raw_.threshold; }
    std::uint32_t bg_partitions() const noexcept { return raw_.bg_partitions; }
    std::uint64_t max_decompressed_size() const noexcept { return raw_.max_decompressed_size; }

    /// The C struct (escape hatch for fields this wrapper does not name).
    zipnn_options& raw() noexcept { return raw_; }
    const zipnn_options& raw() const noexcept { return raw_; }
    const zipnn_options* c_ptr() const noexcept { return &raw_; }

private:
    zipnn_options raw_;
};

/// What a frame's header says (zipnn_frame_info without struct_size).
struct FrameInfo {
    std::uint32_t format_version = 0;
    DType dtype = DType::Raw;
    std::uint32_t flags = 0;
    std::uint32_t planes = 0;
    std::uint32_t chunk_size = 0;
    std::uint64_t original_size = 0;
    std::uint64_t chunk_count = 0;
    std::uint64_t frame_size = 0;
    std::uint64_t metadata_size = 0;

    bool has_metadata() const noexcept { return (flags & 1u) != 0; }
};

// ------------------------------------------------------------------------------------------
// Versions
// ------------------------------------------------------------------------------------------

/// The library's version string at run time, e.g. "0.1.0".
inline const char* version_string() noexcept { return zipnn_version_string(); }
/// The library's version at run time as MAJOR * 10000 + MINOR * 100 + PATCH.
inline std::uint32_t version_number() noexcept { return zipnn_version_number(); }
/// The frame format version the library writes and reads.
inline std::uint32_t format_version() noexcept { return zipnn_format_version(); }

/// The largest frame compress() can write for `src_size` bytes (0 for invalid options).
inline std::size_t compress_bound(std::size_t src_size, const Options& opts = Options()) noexcept {
    return zipnn_compress_bound(src_size, opts.c_ptr());
}

// ------------------------------------------------------------------------------------------
// noexcept API: returns the status, results in out-parameters (left as they were on error)
// ------------------------------------------------------------------------------------------

namespace nothrow {

/// Compresses `src` into `dst`; on ZIPNN_OK `written` is the frame's length.
inline zipnn_status compress_into(span<std::byte> dst, span<const std::byte> src,
                                  std::size_t& written, const Options& opts = Options()) noexcept {
    return zipnn_compress(opts.c_ptr(), src.data(), src.size(), dst.data(), dst.size(), &written);
}

inline zipnn_status compress_into(void* dst, std::size_t dst_capacity, const void* src,
                                  std::size_t src_size, std::size_t& written,
                                  const Options& opts = Options()) noexcept {
    return zipnn_compress(opts.c_ptr(), src, src_size, dst, dst_capacity, &written);
}

/// As compress_into, storing `metadata` (at most 1 MiB) in the frame.
inline zipnn_status compress_with_metadata_into(span<std::byte> dst,
                                                span<const std::byte> metadata,
                                                span<const std::byte> src, std::size_t& written,
                                                const Options& opts = Options()) noexcept {
    return zipnn_compress_with_metadata(opts.c_ptr(), metadata.data(), metadata.size(),
                                        src.data(), src.size(), dst.data(), dst.size(), &written);
}

/// Decompresses the frame that fills `src` into `dst` (threads and max_decompressed_size
/// come from `opts`); on ZIPNN_OK `written` is the original size.
inline zipnn_status decompress_into(span<std::byte> dst, span<const std::byte> src,
                                    std::size_t& written,
                                    const Options& opts = Options()) noexcept {
    return zipnn_decompress_with_options(opts.c_ptr(), src.data(), src.size(), dst.data(),
                                         dst.size(), &written);
}

inline zipnn_status decompress_into(void* dst, std::size_t dst_capacity, const void* src,
                                    std::size_t src_size, std::size_t& written,
                                    const Options& opts = Options()) noexcept {
    return zipnn_decompress_with_options(opts.c_ptr(), src, src_size, dst, dst_capacity,
                                         &written);
}

/// Decodes chunk `index` of the frame alone into `dst`; `written` is the chunk's length.
inline zipnn_status decompress_chunk_into(span<std::byte> dst, span<const std::byte> src,
                                          std::uint64_t index, std::size_t& written) noexcept {
    return zipnn_decompress_chunk(src.data(), src.size(), index, dst.data(), dst.size(),
                                  &written);
}

/// The original size the frame declares (header validated, chunks not decoded).
inline zipnn_status decompressed_size(span<const std::byte> src, std::uint64_t& size) noexcept {
    return zipnn_get_decompressed_size(src.data(), src.size(), &size);
}

/// The frame's header fields (bytes after the frame are allowed).
inline zipnn_status frame_info(span<const std::byte> src, FrameInfo& out) noexcept {
    zipnn_frame_info fi{};
    fi.struct_size = static_cast<std::uint32_t>(sizeof fi);
    zipnn_status st = zipnn_get_frame_info(src.data(), src.size(), &fi);
    if (st == ZIPNN_OK) {
        out.format_version = fi.format_version;
        out.dtype = static_cast<DType>(fi.dtype);
        out.flags = fi.flags;
        out.planes = fi.planes;
        out.chunk_size = fi.chunk_size;
        out.original_size = fi.original_size;
        out.chunk_count = fi.chunk_count;
        out.frame_size = fi.frame_size;
        out.metadata_size = fi.metadata_size;
    }
    return st;
}

/// Copies the frame's metadata block into `dst`; `written` is its length.
inline zipnn_status metadata_into(span<std::byte> dst, span<const std::byte> src,
                                  std::size_t& written) noexcept {
    return zipnn_get_metadata(src.data(), src.size(), dst.data(), dst.size(), &written);
}

/// Checks the frame's header, table and every chunk checksum without decoding.
inline zipnn_status verify(span<const std::byte> src) noexcept {
    return zipnn_verify(src.data(), src.size());
}

inline zipnn_status verify(const void* src, std::size_t src_size) noexcept {
    return zipnn_verify(src, src_size);
}

/// Compresses `src` into `out` (resized to the frame). `out` is unchanged on error.
inline zipnn_status compress(span<const std::byte> src, std::vector<std::byte>& out,
                             const Options& opts = Options(),
                             span<const std::byte> metadata = span<const std::byte>()) noexcept {
    std::size_t bound = zipnn_compress_bound(src.size(), opts.c_ptr());
    if (bound == 0) {
        // Invalid options or overflow: let the library name the exact error.
        std::size_t w = 0;
        zipnn_status st = zipnn_compress(opts.c_ptr(), src.data(), src.size(), nullptr, 0, &w);
        return (st == ZIPNN_OK || st == ZIPNN_ERROR_DST_TOO_SMALL) ? ZIPNN_ERROR_SRC_TOO_LARGE
                                                                  : st;
    }
    if (bound > std::numeric_limits<std::size_t>::max() - metadata.size()) {
        return ZIPNN_ERROR_SRC_TOO_LARGE;
    }
    bound += metadata.size();
    try {
        std::vector<std::byte> buf(bound);
        std::size_t written = 0;
        zipnn_status st = zipnn_compress_with_metadata(opts.c_ptr(), metadata.data(),
                                                       metadata.size(), src.data(), src.size(),
                                                       buf.data(), buf.size(), &written);
        if (st != ZIPNN_OK) {
            return st;
        }
        buf.resize(written);
        buf.shrink_to_fit();
        out = std::move(buf);
        return ZIPNN_OK;
    } catch (const std::bad_alloc&) {
        return ZIPNN_ERROR_ALLOC;
    } catch (const std::length_error&) {
        return ZIPNN_ERROR_ALLOC;
    }
}

/// Decompresses the frame that fills `src` into `out` (resized to the original size).
/// `out` is unchanged on error.
inline zipnn_status decompress(span<const std::byte> src, std::vector<std::byte>& out,
                               const Options& opts = Options()) noexcept {
    std::uint64_t size = 0;
    zipnn_status st = zipnn_get_decompressed_size(src.data(), src.size(), &size);
    if (st != ZIPNN_OK) {
        return st;
    }
    if (opts.max_decompressed_size() != 0 && size > opts.max_decompressed_size()) {
        return ZIPNN_ERROR_LIMIT_EXCEEDED; // before allocating
    }
    if (size > std::numeric_limits<std::size_t>::max()) {
        return ZIPNN_ERROR_SRC_TOO_LARGE;
    }
    // Verify before allocating what the header declares: a damaged or crafted frame does
    // not make us allocate its claimed size.
    st = zipnn_verify(src.data(), src.size());
    if (st != ZIPNN_OK) {
        return st;
    }
    try {
        std::vector<std::byte> buf(static_cast<std::size_t>(size));
        std::size_t written = 0;
        st = zipnn_decompress_with_options(opts.c_ptr(), src.data(), src.size(), buf.data(),
                                           buf.size(), &written);
        if (st != ZIPNN_OK) {
            return st;
        }
        if (written != buf.size()) {
            return ZIPNN_ERROR_INTERNAL;
        }
        out = std::move(buf);
        return ZIPNN_OK;
    } catch (const std::bad_alloc&) {
        return ZIPNN_ERROR_ALLOC;
    } catch (const std::length_error&) {
        return ZIPNN_ERROR_ALLOC;
    }
}

}  // namespace nothrow

// ------------------------------------------------------------------------------------------
// Throwing API
// ------------------------------------------------------------------------------------------

/// Compresses `src` into a new frame.
inline std::vector<std::byte> compress(span<const std::byte> src, const Options& opts = Options()) {
    std::vector<std::byte> out;
    check(nothrow::compress(src, out, opts));
    return out;
}

inline std::vector<std::byte> compress(const void* src, std::size_t src_size,
                                       const Options& opts = Options()) {
    return compress(span<const std::byte>(static_cast<const std::byte*>(src), src_size), opts);
}

/// Compresses `src` into a new frame that also stores `metadata` (at most 1 MiB).
inline std::vector<std::byte> compress_with_metadata(span<const std::byte> metadata,
                                                     span<const std::byte> src,
                                                     const Options& opts = Options()) {
    std::vector<std::byte> out;
    check(nothrow::compress(src, out, opts, metadata));
    return out;
}

inline std::vector<std::byte> compress_with_metadata(const void* metadata,
                                                     std::size_t metadata_size, const void* src,
                                                     std::size_t src_size,
                                                     const Options& opts = Options()) {
    return compress_with_metadata(
        span<const std::byte>(static_cast<const std::byte*>(metadata), metadata_size),
        span<const std::byte>(static_cast<const std::byte*>(src), src_size), opts);
}

/// Compresses `src` into `dst`; returns the frame's length. Throws Error
/// (ZIPNN_ERROR_DST_TOO_SMALL when the frame does not fit; compress_bound() always fits).
inline std::size_t compress_into(span<std::byte> dst, span<const std::byte> src,
                                 const Options& opts = Options()) {
    std::size_t written = 0;
    check(nothrow::compress_into(dst, src, written, opts));
    return written;
}

inline std::size_t compress_into(void* dst, std::size_t dst_capacity, const void* src,
                                 std::size_t src_size, const Options& opts = Options()) {
    std::size_t written = 0;
    check(nothrow::compress_into(dst, dst_capacity, src, src_size, written, opts));
    return written;
}

/// Decompresses the frame that fills `src` (threads and max_decompressed_size from `opts`).
inline std::vector<std::byte> decompress(span<const std::byte> src,
                                         const Options& opts = Options()) {
    std::vector<std::byte> out;
    check(nothrow::decompress(src, out, opts));
    return out;
}

inline std::vector<std::byte> decompress(const void* src, std::size_t src_size,
                                         const Options& opts = Options()) {
    return decompress(span<const std::byte>(static_cast<const std::byte*>(src), src_size), opts);
}

/// Decompresses the frame that fills `src` into `dst`; returns the original size.
inline std::size_t decompress_into(span<std::byte> dst, span<const std::byte> src,
                                   const Options& opts = Options()) {
    std::size_t written = 0;
    check(nothrow::decompress_into(dst, src, written, opts));
    return written;
}

inline std::size_t decompress_into(void* dst, std::size_t dst_capacity, const void* src,
                                   std::size_t src_size, const Options& opts = Options()) {
    std::size_t written = 0;
    check(nothrow::decompress_into(dst, dst_capacity, src, src_size, written, opts));
    return written;
}

/// The original size the frame declares.
inline std::uint64_t decompressed_size(span<const std::byte> src) {
    std::uint64_t size = 0;
    check(nothrow::decompressed_size(src, size));
    return size;
}

/// The frame's header fields.
inline FrameInfo frame_info(span<const std::byte> src) {
    FrameInfo fi;
    check(nothrow::frame_info(src, fi));
    return fi;
}

inline FrameInfo frame_info(const void* src, std::size_t src_size) {
    return frame_info(span<const std::byte>(static_cast<const std::byte*>(src), src_size));
}

/// The frame's metadata block (empty when it has none).
inline std::vector<std::byte> metadata(span<const std::byte> src) {
    FrameInfo fi = frame_info(src);
    std::vector<std::byte> out(static_cast<std::size_t>(fi.metadata_size));
    std::size_t written = 0;
    check(nothrow::metadata_into(out, src, written));
    out.resize(written);
    return out;
}

inline std::vector<std::byte> metadata(const void* src, std::size_t src_size) {
    return metadata(span<const std::byte>(static_cast<const std::byte*>(src), src_size));
}

/// Copies the frame's metadata into `dst`; returns its length.
inline std::size_t metadata_into(span<std::byte> dst, span<const std::byte> src) {
    std::size_t written = 0;
    check(nothrow::metadata_into(dst, src, written));
    return written;
}

/// Decodes chunk `index` alone into `dst`; returns its length (original bytes
/// [index * chunk_size, index * chunk_size + length)).
inline std::size_t decompress_chunk_into(span<std::byte> dst, span<const std::byte> src,
                                         std::uint64_t index) {
    std::size_t written = 0;
    check(nothrow::decompress_chunk_into(dst, src, index, written));
    return written;
}

/// Decodes chunk `index` alone.
inline std::vector<std::byte> decompress_chunk(span<const std::byte> src, std::uint64_t index) {
    FrameInfo fi = frame_info(src);
    std::vector<std::byte> out(fi.chunk_size);
    std::size_t written = 0;
    check(nothrow::decompress_chunk_into(out, src, index, written));
    out.resize(written);
    return out;
}

inline std::vector<std::byte> decompress_chunk(const void* src, std::size_t src_size,
                                               std::uint64_t index) {
    return decompress_chunk(span<const std::byte>(static_cast<const std::byte*>(src), src_size),
                            index);
}

/// Checks the frame's header, table and every chunk checksum; throws Error if damaged.
inline void verify(span<const std::byte> src) { check(nothrow::verify(src)); }

inline void verify(const void* src, std::size_t src_size) {
    check(nothrow::verify(src, src_size));
}

}  // namespace zipnn

#endif  // ZIPNN_HPP
