// zipnn.hpp: header-only C++17 wrapper over the zipnn C API (zipnn.h).
//
// Two error styles, same operations:
//   * zipnn::compress(...), zipnn::decompress(...), ... throw zipnn::Error, which carries the
//     C status in code();
//   * zipnn::nothrow::compress(...), ... are noexcept and return the zipnn_status, with the
//     results in out-parameters (allocation failure is reported as ZIPNN_ERROR_ALLOC).
//
// Also: delta frames against a base buffer (compress_delta / decompress_delta), lossy
// options (Options::lossy), and safetensors archives (compress_safetensors, the RAII
// zipnn::Archive). Statuses without a dedicated exception throw zipnn::Error; NOT_FOUND,
// BASE_REQUIRED, BASE_MISMATCH and IO throw NotFoundError, BaseRequiredError,
// BaseMismatchError and IoError, all derived from zipnn::Error.
//
// Buffers are zipnn::span<const std::byte> (inputs) and zipnn::span<std::byte> (outputs):
// std::span when the standard library has it, otherwise a minimal span type defined here.
// The frame functions also have pointer + size overloads. Everything is inline; link with the
// zipnn library (CMake target zipnn::zipnn or zipnn::zipnn_static).
//
// Thread safety: every function may be called concurrently, as the C API; an Options
// object is plain data (safe to share while nobody modifies it). A zipnn::Archive may be
// read (tensors(), decode(), restore(), ...) from many threads at once; set_base(), moving
// and destroying it must not race with anything.

#ifndef ZIPNN_HPP
#define ZIPNN_HPP

#include <zipnn.h>

#include <array>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <memory>
#include <new>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <vector>

#if defined(__has_include)
#if __has_include(<version>)
#include <version>
#endif
#endif

#if defined(__linux__)
#include <sys/mman.h>
#include <unistd.h>
#endif

#if defined(__cpp_lib_span) && __cpp_lib_span >= 202002L && !defined(ZIPNN_CPP_NO_STD_SPAN)
#include <span>
#define ZIPNN_CPP_HAS_STD_SPAN 1
#else
#define ZIPNN_CPP_HAS_STD_SPAN 0
#endif

namespace zipnn {

namespace detail {

/// Asks Linux to back `size` bytes of fresh memory at `at` with transparent huge pages
/// where the system allows it (its `madvise` mode), from 4 MiB on, as the library does for
/// the outputs it allocates itself: fresh memory is otherwise faulted in one 4 KiB page at
/// a time, which costs more than coding into it (MiniLM bf16, one thread, CPU time:
/// `decompress()` 1.4 GB/s without the advice, 3.1 with it, 4.5 into a reused buffer).
/// Advice only: a failure changes nothing, and the memory is not touched.
inline void advise_huge_pages(const void* at, std::size_t size) noexcept {
#if defined(__linux__) && defined(MADV_HUGEPAGE)
    if (size >= (std::size_t(4) << 20)) {
        const long sys_page = sysconf(_SC_PAGESIZE);
        const std::uintptr_t page = sys_page > 0 ? static_cast<std::uintptr_t>(sys_page) : 4096;
        const std::uintptr_t a = reinterpret_cast<std::uintptr_t>(at);
        const std::uintptr_t start = (a + page - 1) / page * page;
        const std::uintptr_t end = (a + size) / page * page;
        if (end > start) {
            (void)madvise(reinterpret_cast<void*>(start), end - start, MADV_HUGEPAGE);
        }
    }
#else
    (void)at;
    (void)size;
#endif
}

/// A vector of `size` zero bytes for the library to write (advised, see above).
inline std::vector<std::byte> output_buffer(std::size_t size) {
    std::vector<std::byte> buf;
    buf.reserve(size);
    advise_huge_pages(buf.data(), size);
    buf.resize(size);
    return buf;
}

/// `size` bytes of uninitialised memory (advised) for a frame of unknown length, as long as
/// its bound, to be written before `exact_copy` keeps what it needs.
inline std::unique_ptr<std::byte[]> scratch(std::size_t size) {
    std::unique_ptr<std::byte[]> p(new std::byte[size]);
    advise_huge_pages(p.get(), size);
    return p;
}

/// A vector holding a copy of the `size` bytes at `src` (advised, written once).
inline std::vector<std::byte> exact_copy(const std::byte* src, std::size_t size) {
    std::vector<std::byte> v;
    v.reserve(size);
    advise_huge_pages(v.data(), size);
    v.assign(src, src + size);
    return v;
}

}  // namespace detail

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

/// Thrown for ZIPNN_ERROR_NOT_FOUND: no tensor of that name (or index) in an archive.
class NotFoundError : public Error {
public:
    using Error::Error;
};

/// Thrown for ZIPNN_ERROR_BASE_REQUIRED: a delta needs the base it was made against.
class BaseRequiredError : public Error {
public:
    using Error::Error;
};

/// Thrown for ZIPNN_ERROR_BASE_MISMATCH: the base given is not the one the delta was made
/// against (checked by length and hash before anything is written).
class BaseMismatchError : public Error {
public:
    using Error::Error;
};

/// Thrown for ZIPNN_ERROR_IO: a file could not be opened or read.
class IoError : public Error {
public:
    using Error::Error;
};

/// Throws the exception for `status` (which must not be ZIPNN_OK): NotFoundError,
/// BaseRequiredError, BaseMismatchError or IoError for those codes, zipnn::Error for the
/// others. Every one is a zipnn::Error carrying the status in code().
[[noreturn]] inline void throw_error(zipnn_status status) {
    switch (status) {
    case ZIPNN_ERROR_NOT_FOUND:
        throw NotFoundError(status);
    case ZIPNN_ERROR_BASE_REQUIRED:
        throw BaseRequiredError(status);
    case ZIPNN_ERROR_BASE_MISMATCH:
        throw BaseMismatchError(status);
    case ZIPNN_ERROR_IO:
        throw IoError(status);
    default:
        throw Error(status);
    }
}

/// As throw_error(status), with `context` in what() ("zipnn: <context>: <message>").
[[noreturn]] inline void throw_error(zipnn_status status, const std::string& context) {
    switch (status) {
    case ZIPNN_ERROR_NOT_FOUND:
        throw NotFoundError(status, context);
    case ZIPNN_ERROR_BASE_REQUIRED:
        throw BaseRequiredError(status, context);
    case ZIPNN_ERROR_BASE_MISMATCH:
        throw BaseMismatchError(status, context);
    case ZIPNN_ERROR_IO:
        throw IoError(status, context);
    default:
        throw Error(status, context);
    }
}

/// Throws the exception for `status` (see throw_error) unless it is ZIPNN_OK.
inline void check(zipnn_status status) {
    if (status != ZIPNN_OK) {
        throw_error(status);
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

/// Bytes per element of a dtype (1 for Raw), from the library (zipnn_dtype_element_size);
/// 0 for a code it does not know.
inline std::size_t element_size(DType d) noexcept {
    std::size_t n = 0;
    return zipnn_dtype_element_size(static_cast<std::uint32_t>(d), &n) == ZIPNN_OK ? n : 0;
}

/// The library's name of a dtype ("bf16", ...; zipnn_dtype_name), or nullptr for a code it
/// does not know.
inline const char* dtype_name(DType d) noexcept {
    return zipnn_dtype_name(static_cast<std::uint32_t>(d));
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

/// An opt-in lossy step before the lossless coding (ZIPNN_LOSSY_*), for the float dtypes
/// (BF16, FP16, FP32, FP64) only. The frame records it; decoding needs nothing extra.
enum class Lossy : std::uint32_t {
    /// Bit-exact (the default).
    None = ZIPNN_LOSSY_NONE,
    /// Fixed point with `param` fractional bits: absolute error at most 2^-(param+1) plus
    /// half an ulp (param at most 14 for 16-bit dtypes, 30 for FP32, 62 for FP64). Data that
    /// does not fit is coded losslessly instead, and the frame then says None.
    Integer = ZIPNN_LOSSY_INTEGER,
    /// Keeps `param` mantissa bits, rounding to nearest even: relative error at most
    /// 2^-(param+1) (param below 7, 10, 23, 52 for BF16, FP16, FP32, FP64).
    Mantissa = ZIPNN_LOSSY_MANTISSA,
};

/// The processors a frame is laid out to decode fastest on (ZIPNN_TARGET_*). Every
/// target's frames decode on every processor to the same bytes; only the speed differs.
enum class Target : std::uint32_t {
    /// Fast on every processor (the default).
    Any = ZIPNN_TARGET_ANY,
    /// Faster on x86-64 processors with AVX-512 VBMI and VBMI2 (AMD Zen 4 and later, Intel
    /// Ice Lake and later); slower on other processors.
    AVX512 = ZIPNN_TARGET_AVX512,
};

/// Every Target, in code order.
inline constexpr std::array<Target, 2> all_targets = {Target::Any, Target::AVX512};

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
    /// A lossy step and its parameter (fractional bits for Integer, mantissa bits kept for
    /// Mantissa; 0 for None). Checked against dtype() when used.
    Options& lossy(Lossy mode, std::uint32_t param) noexcept {
        raw_.lossy_mode = static_cast<std::uint32_t>(mode);
        raw_.lossy_param = param;
        return *this;
    }
    Options& lossy_mode(Lossy v) noexcept { raw_.lossy_mode = static_cast<std::uint32_t>(v); return *this; }
    Options& lossy_param(std::uint32_t v) noexcept { raw_.lossy_param = v; return *this; }
    Options& target(Target v) noexcept { raw_.target = static_cast<std::uint32_t>(v); return *this; }

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
    Lossy lossy_mode() const noexcept { return static_cast<Lossy>(raw_.lossy_mode); }
    std::uint32_t lossy_param() const noexcept { return raw_.lossy_param; }
    Target target() const noexcept { return static_cast<Target>(raw_.target); }

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
    Lossy lossy_mode = Lossy::None;  ///< the lossy step the data went through
    std::uint32_t lossy_param = 0;   ///< its parameter
    std::uint64_t base_hash = 0;     ///< for a delta frame, XXH3-64 of the base it needs
    /// ZIPNN_FORMAT_ZIPNN, or ZIPNN_FORMAT_REFERENCE for what the reference package (PyPI
    /// zipnn 0.5.x) wrote: one frame or its streamed frames, without checksums.
    std::uint32_t format = ZIPNN_FORMAT_ZIPNN;
    /// Reference frames: ZIPNN_INPUT_BYTES, _TORCH or _NUMPY (the last two carry a shape:
    /// tensor_shape()); 0 for zipnn frames.
    std::uint32_t input_format = 0;

    /// Written by the reference package (no checksum; convert() rewrites it with them).
    bool is_reference() const noexcept { return format == ZIPNN_FORMAT_REFERENCE; }
    bool has_metadata() const noexcept { return (flags & ZIPNN_FRAME_FLAG_METADATA) != 0; }
    /// A delta against a base: decode with decompress_delta() and that base.
    bool is_delta() const noexcept { return (flags & ZIPNN_FRAME_FLAG_DELTA) != 0; }
    /// The data went through a lossy step (lossy_mode says which).
    bool is_lossy() const noexcept { return (flags & ZIPNN_FRAME_FLAG_LOSSY) != 0; }
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

/// The largest frame compress() can write for `src_size` bytes (0 for invalid options or
/// an overflowing size: nothrow::compress_bound() says which).
inline std::size_t compress_bound(std::size_t src_size, const Options& opts = Options()) noexcept {
    std::size_t bound = 0;
    return zipnn_compress_bound(opts.c_ptr(), src_size, &bound) == ZIPNN_OK ? bound : 0;
}

// ------------------------------------------------------------------------------------------
// noexcept API: returns the status, results in out-parameters (left as they were on error)
// ------------------------------------------------------------------------------------------

namespace nothrow {

/// The largest frame compress() can write for `src_size` bytes, plus `extra` (a metadata
/// block), in `bound`: SRC_TOO_LARGE when it overflows, the option errors otherwise.
inline zipnn_status compress_bound(std::size_t src_size, std::size_t& bound,
                                   const Options& opts = Options(),
                                   std::size_t extra = 0) noexcept {
    std::size_t b = 0;
    zipnn_status st = zipnn_compress_bound(opts.c_ptr(), src_size, &b);
    if (st != ZIPNN_OK) {
        return st;
    }
    if (b > std::numeric_limits<std::size_t>::max() - extra) {
        return ZIPNN_ERROR_SRC_TOO_LARGE;
    }
    bound = b + extra;
    return ZIPNN_OK;
}

/// How many bytes to allocate for the frame `src`: its declared size after the library
/// applied opts.max_decompressed_size and, for a frame declaring at least
/// ZIPNN_PRE_VERIFY_RATIO times its length, verified its checksums
/// (zipnn_decompress_alloc_size). Every vector-returning decompressor sizes with it.
inline zipnn_status decompress_alloc_size(span<const std::byte> src, std::size_t& size,
                                          const Options& opts = Options()) noexcept {
    return zipnn_decompress_alloc_size(opts.c_ptr(), src.data(), src.size(), &size);
}

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
        out.lossy_mode = static_cast<Lossy>(fi.lossy_mode);
        out.lossy_param = fi.lossy_param;
        out.base_hash = fi.base_hash;
        out.format = fi.format;
        out.input_format = fi.input_format;
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
    std::size_t bound = 0;
    zipnn_status st = compress_bound(src.size(), bound, opts, metadata.size());
    if (st != ZIPNN_OK) {
        return st;
    }
    try {
        auto buf = detail::scratch(bound);
        std::size_t written = 0;
        st = zipnn_compress_with_metadata(opts.c_ptr(), metadata.data(), metadata.size(),
                                          src.data(), src.size(), buf.get(), bound, &written);
        if (st != ZIPNN_OK) {
            return st;
        }
        out = detail::exact_copy(buf.get(), written);
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
    std::size_t size = 0;
    zipnn_status st = decompress_alloc_size(src, size, opts);  // before allocating
    if (st != ZIPNN_OK) {
        return st;
    }
    try {
        std::vector<std::byte> buf = detail::output_buffer(size);
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

// ------------------------------------------------------------------------------------------
// Delta frames: `src XOR base` for a base of the same length (a fine-tune against its base
// model). The frame records the base's XXH3-64: decompress() of a delta frame is
// ZIPNN_ERROR_BASE_REQUIRED (BaseRequiredError) and another base is
// ZIPNN_ERROR_BASE_MISMATCH (BaseMismatchError), found before anything is written.
// ------------------------------------------------------------------------------------------

namespace nothrow {

/// Compresses `src` as a delta against `base` (same length, else BASE_MISMATCH) into `dst`,
/// storing `metadata` (at most 1 MiB) in the frame; on ZIPNN_OK `written` is the frame's
/// length. compress_bound(src.size()) + metadata.size() bytes of `dst` always suffice.
inline zipnn_status compress_delta_into(span<std::byte> dst, span<const std::byte> src,
                                        span<const std::byte> base, std::size_t& written,
                                        const Options& opts = Options(),
                                        span<const std::byte> metadata =
                                            span<const std::byte>()) noexcept {
    return zipnn_compress_delta(opts.c_ptr(), base.data(), base.size(), metadata.data(),
                                metadata.size(), src.data(), src.size(), dst.data(), dst.size(),
                                &written);
}

/// Compresses `src` as a delta against `base` into `out` (resized to the frame). `out` is
/// unchanged on error.
inline zipnn_status compress_delta(span<const std::byte> src, span<const std::byte> base,
                                   std::vector<std::byte>& out, const Options& opts = Options(),
                                   span<const std::byte> metadata =
                                       span<const std::byte>()) noexcept {
    std::size_t bound = 0;
    zipnn_status st = compress_bound(src.size(), bound, opts, metadata.size());
    if (st != ZIPNN_OK) {
        return st;
    }
    try {
        auto buf = detail::scratch(bound);
        std::size_t written = 0;
        st = compress_delta_into(span<std::byte>(buf.get(), bound), src, base, written, opts,
                                 metadata);
        if (st != ZIPNN_OK) {
            return st;
        }
        out = detail::exact_copy(buf.get(), written);
        return ZIPNN_OK;
    } catch (const std::bad_alloc&) {
        return ZIPNN_ERROR_ALLOC;
    } catch (const std::length_error&) {
        return ZIPNN_ERROR_ALLOC;
    }
}

/// Decompresses the frame that fills `src` into `dst`, with `base` for a delta frame (a
/// frame that is not a delta decodes as with decompress_into, and `base` is not read).
inline zipnn_status decompress_delta_into(span<std::byte> dst, span<const std::byte> src,
                                          span<const std::byte> base, std::size_t& written,
                                          const Options& opts = Options()) noexcept {
    return zipnn_decompress_delta(opts.c_ptr(), base.data(), base.size(), src.data(), src.size(),
                                  dst.data(), dst.size(), &written);
}

/// Decompresses the frame that fills `src` with `base` into `out` (resized to the original
/// size). `out` is unchanged on error.
inline zipnn_status decompress_delta(span<const std::byte> src, span<const std::byte> base,
                                     std::vector<std::byte>& out,
                                     const Options& opts = Options()) noexcept {
    std::size_t size = 0;
    zipnn_status st = decompress_alloc_size(src, size, opts);  // as in decompress()
    if (st != ZIPNN_OK) {
        return st;
    }
    try {
        std::vector<std::byte> buf = detail::output_buffer(size);
        std::size_t written = 0;
        st = decompress_delta_into(buf, src, base, written, opts);
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

/// The shape a frame of the reference package carries (it wrote one for torch tensors and
/// numpy arrays) into `dims`; ZIPNN_ERROR_NOT_FOUND for a frame without one.
inline zipnn_status tensor_shape(span<const std::byte> src,
                                 std::vector<std::uint64_t>& dims) noexcept {
    std::array<std::uint64_t, 64> buf{};
    std::size_t n = 0;
    zipnn_status st = zipnn_get_shape(src.data(), src.size(), buf.data(), buf.size(), &n);
    if (st != ZIPNN_OK) {
        return st;
    }
    try {
        dims.assign(buf.begin(), buf.begin() + static_cast<std::ptrdiff_t>(n));
    } catch (const std::bad_alloc&) {
        return ZIPNN_ERROR_ALLOC;
    }
    return ZIPNN_OK;
}

/// Rewrites what the reference package wrote (its frames, streamed frames, tensor frames,
/// deltas against `base`, compressed safetensors files, model.safetensors.znn) in zipnn's
/// format, with checksums: a zipnn frame, or an archive for the safetensors files
/// (zipnn_convert()).
inline zipnn_status convert(span<const std::byte> src, std::vector<std::byte>& out,
                            span<const std::byte> base = span<const std::byte>(),
                            const Options& opts = Options()) noexcept {
    std::size_t bound = 0;
    zipnn_status st = zipnn_convert_bound(opts.c_ptr(), src.data(), src.size(), &bound);
    if (st != ZIPNN_OK) {
        return st;
    }
    try {
        auto buf = detail::scratch(bound);
        std::size_t written = 0;
        st = zipnn_convert(opts.c_ptr(), base.data(), base.size(), src.data(), src.size(),
                           buf.get(), bound, &written);
        if (st != ZIPNN_OK) {
            return st;
        }
        out = detail::exact_copy(buf.get(), written);
        return ZIPNN_OK;
    } catch (const std::bad_alloc&) {
        return ZIPNN_ERROR_ALLOC;
    } catch (const std::length_error&) {
        return ZIPNN_ERROR_ALLOC;
    }
}

}  // namespace nothrow

/// The shape a reference frame of a tensor carries, or std::nullopt for frames without one.
inline std::optional<std::vector<std::uint64_t>> tensor_shape(span<const std::byte> src) {
    std::vector<std::uint64_t> dims;
    zipnn_status st = nothrow::tensor_shape(src, dims);
    if (st == ZIPNN_ERROR_NOT_FOUND) {
        return std::nullopt;
    }
    check(st);
    return dims;
}

/// nothrow::convert(), throwing on error.
inline std::vector<std::byte> convert(span<const std::byte> src,
                                      span<const std::byte> base = span<const std::byte>(),
                                      const Options& opts = Options()) {
    std::vector<std::byte> out;
    check(nothrow::convert(src, out, base, opts));
    return out;
}

/// Compresses `src` as a delta against `base` (same length) into a new frame.
inline std::vector<std::byte> compress_delta(span<const std::byte> src, span<const std::byte> base,
                                             const Options& opts = Options(),
                                             span<const std::byte> metadata =
                                                 span<const std::byte>()) {
    std::vector<std::byte> out;
    check(nothrow::compress_delta(src, base, out, opts, metadata));
    return out;
}

/// Decompresses the frame that fills `src` against `base` (BaseMismatchError for another
/// base; a frame that is not a delta ignores `base`).
inline std::vector<std::byte> decompress_delta(span<const std::byte> src,
                                               span<const std::byte> base,
                                               const Options& opts = Options()) {
    std::vector<std::byte> out;
    check(nothrow::decompress_delta(src, base, out, opts));
    return out;
}

/// Decompresses the frame that fills `src` against `base` into `dst`; returns the size.
inline std::size_t decompress_delta_into(span<std::byte> dst, span<const std::byte> src,
                                         span<const std::byte> base,
                                         const Options& opts = Options()) {
    std::size_t written = 0;
    check(nothrow::decompress_delta_into(dst, src, base, written, opts));
    return written;
}

// ------------------------------------------------------------------------------------------
// Safetensors archives (docs/FORMAT.md section 12): one frame per tensor, coded with the
// tensor's own dtype; tied tensors stored once; optional deltas against a base model's file.
// ------------------------------------------------------------------------------------------

/// Tensor flags (zipnn_tensor_info.flags).
inline constexpr std::uint32_t tensor_tied = ZIPNN_TENSOR_TIED;
inline constexpr std::uint32_t tensor_delta = ZIPNN_TENSOR_DELTA;
inline constexpr std::uint32_t tensor_lossy = ZIPNN_TENSOR_LOSSY;

/// One tensor of an archive (zipnn_tensor_info, with its strings and shape copied).
struct TensorInfo {
    static constexpr std::size_t npos = static_cast<std::size_t>(-1);

    std::size_t index = 0;              ///< position in the data section
    std::string name;                   ///< may contain NUL bytes
    std::string dtype;                  ///< safetensors dtype string: "BF16", "F32", "I64", ...
    std::vector<std::uint64_t> shape;   ///< empty for a scalar
    DType coded_as = DType::Raw;        ///< zipnn dtype of its frame (Raw for integers, bool)
    std::uint64_t offset = 0;           ///< byte offset in the original data section
    std::uint64_t size = 0;             ///< length in bytes (what decode() returns)
    std::uint64_t compressed_size = 0;  ///< length of its frame (0 for a tied tensor)
    std::uint32_t flags = 0;            ///< tensor_tied | tensor_delta | tensor_lossy
    std::size_t tied_to = npos;         ///< for a tied tensor, the index it repeats
    Lossy lossy_mode = Lossy::None;
    std::uint32_t lossy_param = 0;

    bool tied() const noexcept { return (flags & tensor_tied) != 0; }
    bool delta() const noexcept { return (flags & tensor_delta) != 0; }
    bool lossy() const noexcept { return (flags & tensor_lossy) != 0; }
};

class Archive;

namespace nothrow {
inline zipnn_status open_archive_file(const char* path, Archive& out,
                                      const Options& opts = Options()) noexcept;
inline zipnn_status open_archive_memory(span<const std::byte> src, Archive& out,
                                        const Options& opts = Options()) noexcept;
inline zipnn_status set_base_memory(Archive& a, span<const std::byte> base) noexcept;
inline zipnn_status set_base_file(Archive& a, const char* path) noexcept;
}  // namespace nothrow

/// An opened safetensors archive (RAII over zipnn_archive, move-only). Tensors are
/// decoded on demand; one opened from a file reads only the frames it decodes. The const
/// members may be called from many threads at once; set_base*(), moving and destroying
/// must not race with anything. Opening from memory **borrows** the bytes (they must
/// outlive the Archive) unless they are moved in as a std::vector.
class Archive {
public:
    /// An empty Archive (no handle); assign an opened one to it.
    Archive() noexcept = default;
    /// Adopts a handle from zipnn_archive_open_*() (freed by the destructor).
    explicit Archive(zipnn_archive* handle) noexcept : h_(handle) {}
    Archive(Archive&& o) noexcept
        : h_(std::exchange(o.h_, nullptr)),
          owned_(std::move(o.owned_)),
          owned_base_(std::move(o.owned_base_)) {}
    Archive& operator=(Archive&& o) noexcept {
        if (this != &o) {
            reset();
            h_ = std::exchange(o.h_, nullptr);
            owned_ = std::move(o.owned_);
            owned_base_ = std::move(o.owned_base_);
        }
        return *this;
    }
    Archive(const Archive&) = delete;
    Archive& operator=(const Archive&) = delete;
    ~Archive() { reset(); }

    /// Opens the archive file at `path` (only its header and index are read now). `opts`
    /// gives threads and max_decompressed_size for every decode; a max_decompressed_size of
    /// 0 (the default) means ZIPNN_DEFAULT_FILE_LIMIT (4 GiB) here, ZIPNN_NO_LIMIT none.
    /// Throws IoError when the file cannot be read, Error for a damaged archive.
    static Archive open_file(const std::string& path, const Options& opts = Options()) {
        Archive a;
        zipnn_status st = nothrow::open_archive_file(path.c_str(), a, opts);
        if (st != ZIPNN_OK) {
            throw_error(st, path);
        }
        return a;
    }

    /// Opens an archive held in memory. The bytes are **borrowed**: they must stay valid
    /// and unchanged while the Archive (or one it is moved to) lives.
    static Archive open_memory(span<const std::byte> src, const Options& opts = Options()) {
        Archive a;
        check(nothrow::open_archive_memory(src, a, opts));
        return a;
    }

    /// Opens an archive from bytes the Archive takes ownership of.
    static Archive open_memory(std::vector<std::byte>&& src, const Options& opts = Options()) {
        std::vector<std::byte> owned = std::move(src);
        Archive a = open_memory(span<const std::byte>(owned.data(), owned.size()), opts);
        a.owned_ = std::move(owned);  // the heap buffer, and so the borrowed pointer, stay put
        return a;
    }

    /// Whether the Archive holds a handle.
    explicit operator bool() const noexcept { return h_ != nullptr; }
    /// The C handle (still owned by the Archive).
    zipnn_archive* get() const noexcept { return h_; }
    /// Frees the handle (and any bytes the Archive owns); the Archive becomes empty.
    void reset() noexcept {
        zipnn_archive_free(h_);
        h_ = nullptr;
        owned_.clear();
        owned_.shrink_to_fit();
        owned_base_.clear();
        owned_base_.shrink_to_fit();
    }

    /// Number of tensors.
    std::size_t tensor_count() const {
        std::size_t n = 0;
        check(zipnn_archive_tensor_count(h_, &n));
        return n;
    }

    /// Tensor `index` (NotFoundError past the end).
    inline TensorInfo tensor_info(std::size_t index) const;

    /// Every tensor, in the order of the data section.
    std::vector<TensorInfo> tensors() const {
        std::size_t n = tensor_count();
        std::vector<TensorInfo> out;
        out.reserve(n);
        for (std::size_t i = 0; i < n; ++i) {
            out.push_back(tensor_info(i));
        }
        return out;
    }

    /// The index of the tensor called `name`, or nullopt.
    std::optional<std::size_t> find(std::string_view name) const {
        std::size_t i = 0;
        zipnn_status st = zipnn_archive_find(h_, name.data(), name.size(), &i);
        if (st == ZIPNN_ERROR_NOT_FOUND) {
            return std::nullopt;
        }
        check(st);
        return i;
    }

    /// The index of the tensor called `name`; NotFoundError if there is none.
    std::size_t index_of(std::string_view name) const {
        std::optional<std::size_t> i = find(name);
        if (!i) {
            throw_error(ZIPNN_ERROR_NOT_FOUND, "tensor \"" + std::string(name) + "\"");
        }
        return *i;
    }

    /// Decodes tensor `index` alone. BaseRequiredError / BaseMismatchError for a delta
    /// tensor without its base or with another one.
    inline std::vector<std::byte> decode(std::size_t index) const;
    /// Decodes the tensor called `name` alone (NotFoundError if there is none).
    std::vector<std::byte> decode(std::string_view name) const { return decode(index_of(name)); }

    /// Decodes tensor `index` into `dst` (at least its size; a too-small or failing decode
    /// leaves `dst` as it was); returns the bytes written.
    std::size_t decode_into(std::size_t index, span<std::byte> dst) const {
        std::size_t written = 0;
        check(zipnn_archive_decode(h_, index, dst.data(), dst.size(), &written));
        return written;
    }
    std::size_t decode_into(std::string_view name, span<std::byte> dst) const {
        return decode_into(index_of(name), dst);
    }

    /// Decodes tensors `indices` (any order, repeats allowed), one new vector per index, in
    /// order, by one library call per group of about 1 MiB of tensors. The chunks of all the
    /// frames of a group are spread over the threads, so that many small tensors keep every
    /// core busy as one large tensor does (a decode() per tensor uses the threads only
    /// within each tensor). Every size is checked as decode() does before anything is
    /// allocated (the limit applies to each tensor, not to their sum). Throws as decode(); an error of the decode itself names the first
    /// tensor that fails.
    inline std::vector<std::vector<std::byte>> decode_many(span<const std::size_t> indices) const;
    /// As decode_many(indices), by names (NotFoundError for an unknown one, before anything
    /// is decoded).
    std::vector<std::vector<std::byte>> decode_many(span<const std::string> names) const {
        return decode_many(indices_of(names));
    }
    std::vector<std::vector<std::byte>> decode_many(span<const std::string_view> names) const {
        return decode_many(indices_of(names));
    }

    /// Decodes tensor indices[k] into dsts[k] (at least its size) for every k by one library
    /// call (threads as in decode_many()); returns the bytes written to each. Checked
    /// before anything is written: as many outputs as indices (INVALID_PARAM), every index
    /// (NotFoundError), every size (DST_TOO_SMALL), that no two outputs overlap and none
    /// overlaps the archive or base bytes the Archive borrows (INVALID_PARAM). Then every
    /// checksum and base is checked before any output is written: all of them for an
    /// archive in memory; an archive file is read and checked in batches of about 8 MiB of
    /// frames, so on an error the outputs of earlier batches may hold their tensors (the
    /// others are untouched).
    inline std::vector<std::size_t> decode_many_into(span<const std::size_t> indices,
                                                     span<const span<std::byte>> dsts) const;
    /// As decode_many_into(indices, dsts), by names.
    std::vector<std::size_t> decode_many_into(span<const std::string> names,
                                              span<const span<std::byte>> dsts) const {
        return decode_many_into(indices_of(names), dsts);
    }
    std::vector<std::size_t> decode_many_into(span<const std::string_view> names,
                                              span<const span<std::byte>> dsts) const {
        return decode_many_into(indices_of(names), dsts);
    }

    /// The original JSON header, verbatim; valid while the Archive lives.
    std::string_view header_json() const {
        const char* p = nullptr;
        std::size_t n = 0;
        check(zipnn_archive_header_json(h_, &p, &n));
        return std::string_view(p, n);
    }

    /// Length of the original safetensors file.
    std::uint64_t restored_size() const {
        std::uint64_t n = 0;
        check(zipnn_archive_restored_size(h_, &n));
        return n;
    }

    /// The original safetensors file, byte for byte (a delta archive needs its base).
    inline std::vector<std::byte> restore() const;

    /// Restores the original file into `dst` (at least restored_size() bytes); returns the
    /// bytes written. On error `dst` may hold part of the file.
    std::size_t restore_into(span<std::byte> dst) const {
        std::size_t written = 0;
        check(zipnn_archive_restore(h_, dst.data(), dst.size(), &written));
        return written;
    }

    /// Gives a delta archive its base (the base model's safetensors file), **borrowed**
    /// until the Archive dies or another base is set. On error the previous base stays.
    void set_base(span<const std::byte> base) { check(nothrow::set_base_memory(*this, base)); }

    /// As set_base(span), with bytes the Archive takes ownership of.
    void set_base(std::vector<std::byte>&& base) {
        std::vector<std::byte> owned = std::move(base);
        check(zipnn_archive_set_base_memory(h_, owned.data(), owned.size()));
        owned_base_ = std::move(owned);
    }

    /// As set_base(), reading the base file at `path` into memory the handle owns.
    void set_base_file(const std::string& path) {
        zipnn_status st = nothrow::set_base_file(*this, path.c_str());
        if (st != ZIPNN_OK) {
            throw_error(st, path);
        }
    }

private:
    template <class S>
    std::vector<std::size_t> indices_of(span<const S> names) const {
        std::vector<std::size_t> out;
        out.reserve(names.size());
        for (const S& n : names) {
            out.push_back(index_of(n));
        }
        return out;
    }

    friend zipnn_status nothrow::open_archive_file(const char*, Archive&, const Options&) noexcept;
    friend zipnn_status nothrow::open_archive_memory(span<const std::byte>, Archive&,
                                                     const Options&) noexcept;
    friend zipnn_status nothrow::set_base_memory(Archive&, span<const std::byte>) noexcept;
    friend zipnn_status nothrow::set_base_file(Archive&, const char*) noexcept;

    zipnn_archive* h_ = nullptr;
    std::vector<std::byte> owned_;       // the archive bytes, when moved in
    std::vector<std::byte> owned_base_;  // the base bytes, when moved in
};

namespace nothrow {

/// Opens the archive file at `path` into `out` (which is reset first only on success).
inline zipnn_status open_archive_file(const char* path, Archive& out,
                                      const Options& opts) noexcept {
    zipnn_archive* h = nullptr;
    zipnn_status st = zipnn_archive_open_file(path, opts.c_ptr(), &h);
    if (st == ZIPNN_OK) {
        out = Archive(h);
    }
    return st;
}

/// Opens the archive held (and **borrowed**) in `src` into `out` (reset only on success).
inline zipnn_status open_archive_memory(span<const std::byte> src, Archive& out,
                                        const Options& opts) noexcept {
    zipnn_archive* h = nullptr;
    zipnn_status st = zipnn_archive_open_memory(src.data(), src.size(), opts.c_ptr(), &h);
    if (st == ZIPNN_OK) {
        out = Archive(h);
    }
    return st;
}

/// Sets a **borrowed** base (see Archive::set_base); on error the previous base stays.
inline zipnn_status set_base_memory(Archive& a, span<const std::byte> base) noexcept {
    zipnn_status st = zipnn_archive_set_base_memory(a.h_, base.data(), base.size());
    if (st == ZIPNN_OK) {
        a.owned_base_.clear();
        a.owned_base_.shrink_to_fit();
    }
    return st;
}

/// Reads the base file at `path` into memory the handle owns.
inline zipnn_status set_base_file(Archive& a, const char* path) noexcept {
    zipnn_status st = zipnn_archive_set_base_file(a.h_, path);
    if (st == ZIPNN_OK) {
        a.owned_base_.clear();
        a.owned_base_.shrink_to_fit();
    }
    return st;
}

/// Fills `out` for tensor `index`; `out` is unchanged on error.
inline zipnn_status tensor_info(const Archive& a, std::size_t index, TensorInfo& out) noexcept {
    zipnn_tensor_info ti{};
    ti.struct_size = static_cast<std::uint32_t>(sizeof ti);
    zipnn_status st = zipnn_archive_tensor_info(a.get(), index, &ti);
    if (st != ZIPNN_OK) {
        return st;
    }
    try {
        TensorInfo t;
        t.index = index;
        t.name.assign(ti.name, ti.name_len);
        t.dtype = ti.safetensors_dtype;
        if (ti.ndim > 0) {
            t.shape.assign(ti.shape, ti.shape + ti.ndim);
        }
        t.coded_as = static_cast<DType>(ti.dtype);
        t.offset = ti.data_offset;
        t.size = ti.size;
        t.compressed_size = ti.compressed_size;
        t.flags = ti.flags;
        t.tied_to = (ti.flags & ZIPNN_TENSOR_TIED) ? static_cast<std::size_t>(ti.tied_to)
                                                   : TensorInfo::npos;
        t.lossy_mode = static_cast<Lossy>(ti.lossy_mode);
        t.lossy_param = ti.lossy_param;
        out = std::move(t);
        return ZIPNN_OK;
    } catch (const std::bad_alloc&) {
        return ZIPNN_ERROR_ALLOC;
    } catch (const std::length_error&) {
        return ZIPNN_ERROR_ALLOC;
    }
}

/// The index of the tensor called `name` (ZIPNN_ERROR_NOT_FOUND if there is none).
inline zipnn_status find(const Archive& a, std::string_view name, std::size_t& index) noexcept {
    return zipnn_archive_find(a.get(), name.data(), name.size(), &index);
}

/// Decodes tensor `index` into `dst`; on ZIPNN_OK `written` is its size.
inline zipnn_status decode_into(const Archive& a, std::size_t index, span<std::byte> dst,
                                std::size_t& written) noexcept {
    return zipnn_archive_decode(a.get(), index, dst.data(), dst.size(), &written);
}

/// Decodes tensor `index` into `out` (resized to the tensor); `out` is unchanged on error.
inline zipnn_status decode(const Archive& a, std::size_t index,
                           std::vector<std::byte>& out) noexcept {
    // The limit, and the checksums of a tensor far larger than its frame, before allocating.
    std::size_t size = 0;
    zipnn_status st = zipnn_archive_decode_alloc_size(a.get(), index, &size);
    if (st != ZIPNN_OK) {
        return st;
    }
    try {
        std::vector<std::byte> buf = detail::output_buffer(size);
        std::size_t written = 0;
        st = zipnn_archive_decode(a.get(), index, buf.data(), buf.size(), &written);
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

/// Decodes tensor indices[k] into dsts[k] for every k by one library call (see
/// Archive::decode_many_into); on ZIPNN_OK written[k] is the size of tensor indices[k].
/// `dsts` and `written` must have as many elements as `indices` (else
/// ZIPNN_ERROR_INVALID_PARAM). On error `written` is unchanged, and so are the outputs
/// but for those of earlier batches of an archive file.
inline zipnn_status decode_many_into(const Archive& a, span<const std::size_t> indices,
                                     span<const span<std::byte>> dsts,
                                     span<std::size_t> written) noexcept {
    if (dsts.size() != indices.size() || written.size() != indices.size()) {
        return ZIPNN_ERROR_INVALID_PARAM;
    }
    try {
        std::vector<void*> ptrs(dsts.size());
        std::vector<std::size_t> caps(dsts.size());
        for (std::size_t k = 0; k < dsts.size(); ++k) {
            ptrs[k] = dsts[k].data();
            caps[k] = dsts[k].size();
        }
        return zipnn_archive_decode_many(a.get(), indices.data(), ptrs.data(), caps.data(),
                                         indices.size(), written.data());
    } catch (const std::bad_alloc&) {
        return ZIPNN_ERROR_ALLOC;
    } catch (const std::length_error&) {
        return ZIPNN_ERROR_ALLOC;
    }
}

/// Decodes tensors `indices` into `out`, one vector per index (see Archive::decode_many):
/// every size is checked as decode() does first, then groups of about 1 MiB of tensors
/// (or one larger tensor) are allocated and decoded by one library call each: a group
/// stays in the caches between the allocation, which zero-fills it, and the decoding
/// (400 tensors of 128 KiB in one group decoded 25% slower on one thread than one by one;
/// in groups of 8 MiB, up to 20% slower).
/// `out` is unchanged on error.
inline zipnn_status decode_many(const Archive& a, span<const std::size_t> indices,
                                std::vector<std::vector<std::byte>>& out) noexcept {
    constexpr std::size_t group = std::size_t{1} << 20;
    try {
        std::vector<std::size_t> sizes(indices.size());
        for (std::size_t k = 0; k < indices.size(); ++k) {
            // The limit, and the checksums of a tensor far larger than its frame, first.
            zipnn_status st = zipnn_archive_decode_alloc_size(a.get(), indices[k], &sizes[k]);
            if (st != ZIPNN_OK) {
                return st;
            }
        }
        std::vector<std::vector<std::byte>> bufs(indices.size());
        std::vector<span<std::byte>> dsts;
        std::vector<std::size_t> written;
        for (std::size_t start = 0, end = 0; start < indices.size(); start = end) {
            std::size_t total = 0;
            dsts.clear();
            for (end = start; end < indices.size(); ++end) {
                if (end > start && (total >= group || sizes[end] > group - total)) {
                    break;
                }
                total += sizes[end];
                bufs[end].resize(sizes[end]);
                dsts.emplace_back(bufs[end].data(), sizes[end]);
            }
            written.assign(end - start, 0);
            zipnn_status st = decode_many_into(
                a, span<const std::size_t>(indices.data() + start, end - start), dsts, written);
            if (st != ZIPNN_OK) {
                return st;
            }
            for (std::size_t k = start; k < end; ++k) {
                if (written[k - start] != sizes[k]) {
                    return ZIPNN_ERROR_INTERNAL;
                }
            }
        }
        out = std::move(bufs);
        return ZIPNN_OK;
    } catch (const std::bad_alloc&) {
        return ZIPNN_ERROR_ALLOC;
    } catch (const std::length_error&) {
        return ZIPNN_ERROR_ALLOC;
    }
}

/// Restores the original safetensors file into `out`; `out` is unchanged on error.
inline zipnn_status restore(const Archive& a, std::vector<std::byte>& out) noexcept {
    // The limit (the whole file counts), and every frame's checksums when the file is far
    // larger than the archive, before allocating.
    std::size_t size = 0;
    zipnn_status st = zipnn_archive_restore_alloc_size(a.get(), &size);
    if (st != ZIPNN_OK) {
        return st;
    }
    try {
        std::vector<std::byte> buf = detail::output_buffer(size);
        std::size_t written = 0;
        st = zipnn_archive_restore(a.get(), buf.data(), buf.size(), &written);
        if (st != ZIPNN_OK) {
            return st;
        }
        buf.resize(written);
        out = std::move(buf);
        return ZIPNN_OK;
    } catch (const std::bad_alloc&) {
        return ZIPNN_ERROR_ALLOC;
    } catch (const std::length_error&) {
        return ZIPNN_ERROR_ALLOC;
    }
}

/// The largest archive compress_safetensors() can make of `src` with `opts`.
inline zipnn_status safetensors_compress_bound(span<const std::byte> src, std::size_t& bound,
                                               const Options& opts = Options()) noexcept {
    return zipnn_safetensors_compress_bound(opts.c_ptr(), src.data(), src.size(), &bound);
}

/// Compresses the safetensors file `src` into an archive in `out` (unchanged on error),
/// each tensor that `base` (the base model's safetensors file) has with the same name,
/// dtype and shape coded as a delta against it. A `base` whose data() is null (the
/// default) means no base. opts.dtype and opts.bg_partitions are ignored, but a lossy mode
/// is validated against opts.dtype: set it to a float dtype that accepts the parameter.
inline zipnn_status compress_safetensors(span<const std::byte> src, span<const std::byte> base,
                                         std::vector<std::byte>& out,
                                         const Options& opts = Options()) noexcept {
    std::size_t bound = 0;
    zipnn_status st = safetensors_compress_bound(src, bound, opts);
    if (st != ZIPNN_OK) {
        return st;
    }
    try {
        auto buf = detail::scratch(bound);
        std::size_t written = 0;
        st = zipnn_safetensors_compress(opts.c_ptr(), base.data(), base.size(), src.data(),
                                        src.size(), buf.get(), bound, &written);
        if (st != ZIPNN_OK) {
            return st;
        }
        out = detail::exact_copy(buf.get(), written);
        return ZIPNN_OK;
    } catch (const std::bad_alloc&) {
        return ZIPNN_ERROR_ALLOC;
    } catch (const std::length_error&) {
        return ZIPNN_ERROR_ALLOC;
    }
}

/// compress_safetensors() without a base.
inline zipnn_status compress_safetensors(span<const std::byte> src, std::vector<std::byte>& out,
                                         const Options& opts = Options()) noexcept {
    return compress_safetensors(src, span<const std::byte>(), out, opts);
}

}  // namespace nothrow

inline TensorInfo Archive::tensor_info(std::size_t index) const {
    TensorInfo t;
    check(nothrow::tensor_info(*this, index, t));
    return t;
}

inline std::vector<std::byte> Archive::decode(std::size_t index) const {
    std::vector<std::byte> out;
    check(nothrow::decode(*this, index, out));
    return out;
}

inline std::vector<std::vector<std::byte>> Archive::decode_many(
    span<const std::size_t> indices) const {
    std::vector<std::vector<std::byte>> out;
    zipnn_status st = nothrow::decode_many(*this, indices, out);
    if (st != ZIPNN_OK) {
        // Decoded one by one to name the tensor at fault.
        std::vector<std::byte> one;
        for (std::size_t i : indices) {
            zipnn_status e = nothrow::decode(*this, i, one);
            if (e != ZIPNN_OK) {
                TensorInfo t;
                if (e != ZIPNN_ERROR_NOT_FOUND && nothrow::tensor_info(*this, i, t) == ZIPNN_OK) {
                    throw_error(e, "tensor \"" + t.name + "\"");
                }
                throw_error(e);
            }
        }
        throw_error(st);
    }
    return out;
}

inline std::vector<std::size_t> Archive::decode_many_into(span<const std::size_t> indices,
                                                          span<const span<std::byte>> dsts) const {
    std::vector<std::size_t> written(indices.size());
    check(nothrow::decode_many_into(*this, indices, dsts, written));
    return written;
}

inline std::vector<std::byte> Archive::restore() const {
    std::vector<std::byte> out;
    check(nothrow::restore(*this, out));
    return out;
}

/// Compresses the safetensors file `src` into a new archive (see
/// nothrow::compress_safetensors). Throws Error (ZIPNN_ERROR_BAD_SAFETENSORS, ...).
inline std::vector<std::byte> compress_safetensors(span<const std::byte> src,
                                                   const Options& opts = Options()) {
    std::vector<std::byte> out;
    check(nothrow::compress_safetensors(src, out, opts));
    return out;
}

/// As compress_safetensors(src, opts), with deltas against the base model's file `base`.
inline std::vector<std::byte> compress_safetensors(span<const std::byte> src,
                                                   span<const std::byte> base,
                                                   const Options& opts = Options()) {
    std::vector<std::byte> out;
    check(nothrow::compress_safetensors(src, base, out, opts));
    return out;
}

}  // namespace zipnn

#endif  // ZIPNN_HPP
