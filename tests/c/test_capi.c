/*
 * C API tests for zipnn, written against include/zipnn.h only.
 *
 * Plain C99: one `static int test_*(void)` per case returning 0 on success, a CHECK()
 * macro that reports the failing expression, and a table that runs every case. Run with
 * no arguments to run everything, or with test names to run only those.
 */
#include "zipnn.h"

#include "check.h"

#include <float.h>
#include <math.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ------------------------------------------------------------------------------------ */
/* Checking helpers                                                                       */
/* ------------------------------------------------------------------------------------ */

#define TEST_CHUNK 4096u

/* ------------------------------------------------------------------------------------ */
/* Test data                                                                              */
/* ------------------------------------------------------------------------------------ */

/* A 64-bit LCG (Knuth's MMIX constants); the high bits are used. */
typedef struct {
    uint64_t s;
} rng_t;

static uint32_t rng_u32(rng_t *r) {
    r->s = r->s * 6364136223846793005ull + 1442695040888963407ull;
    return (uint32_t)(r->s >> 32);
}

/* Uniform in (0, 1]. */
static double rng_unit(rng_t *r) {
    return ((double)rng_u32(r) + 1.0) / 4294967296.0;
}

/* Standard normal by Box-Muller (one value per call; the second is discarded). */
static double rng_gauss(rng_t *r) {
    double u1 = rng_unit(r);
    double u2 = rng_unit(r);
    return sqrt(-2.0 * log(u1)) * cos(6.283185307179586 * u2);
}

static uint32_t float_bits(float f) {
    uint32_t u;
    memcpy(&u, &f, sizeof u);
    return u;
}

static float bits_float(uint32_t u) {
    float f;
    memcpy(&f, &u, sizeof f);
    return f;
}

/* float -> IEEE binary16 by truncation (denormals kept, overflow to Inf, NaN kept). */
static uint16_t float_to_half(float f) {
    uint32_t u = float_bits(f);
    uint16_t sign = (uint16_t)((u >> 16) & 0x8000u);
    int32_t exp = (int32_t)((u >> 23) & 0xFFu);
    uint32_t mant = u & 0x7FFFFFu;
    if (exp == 0xFF) {
        return (uint16_t)(sign | 0x7C00u | (mant ? 0x200u | (mant >> 13) : 0u));
    }
    exp = exp - 127 + 15;
    if (exp >= 0x1F) {
        return (uint16_t)(sign | 0x7C00u);
    }
    if (exp <= 0) {
        if (exp < -10) {
            return sign;
        }
        mant |= 0x800000u;
        return (uint16_t)(sign | (mant >> (uint32_t)(14 - exp)));
    }
    return (uint16_t)(sign | ((uint32_t)exp << 10) | (mant >> 13));
}

/* float -> fp8 e4m3fn by truncation (saturating; small values flush to zero). */
static uint8_t float_to_e4m3(float f) {
    uint32_t u = float_bits(f);
    uint8_t sign = (uint8_t)((u >> 24) & 0x80u);
    int32_t exp = (int32_t)((u >> 23) & 0xFFu) - 127 + 7;
    uint32_t mant = (u >> 20) & 0x7u;
    if (exp <= 0) {
        return sign;
    }
    if (exp > 15) {
        return (uint8_t)(sign | 0x7Eu); /* 448, the largest finite value */
    }
    return (uint8_t)(sign | ((uint32_t)exp << 3) | mant);
}

static void put_u16(unsigned char *p, uint16_t v) {
    memcpy(p, &v, sizeof v);
}

static void put_u32(unsigned char *p, uint32_t v) {
    memcpy(p, &v, sizeof v);
}

static void put_f64(unsigned char *p, double v) {
    memcpy(p, &v, sizeof v);
}

static size_t dtype_size(uint32_t dtype) {
    switch (dtype) {
    case ZIPNN_DTYPE_BF16:
    case ZIPNN_DTYPE_FP16:
        return 2;
    case ZIPNN_DTYPE_FP32:
        return 4;
    case ZIPNN_DTYPE_FP64:
        return 8;
    default:
        return 1;
    }
}

/* Fills `n` bytes with weight-like data for `dtype` (Gaussian, sigma 0.02 for floats).
 * A trailing partial element gets the leading bytes of one more element. */
static void gen_data(uint32_t dtype, unsigned char *out, size_t n, uint64_t seed) {
    rng_t r;
    size_t es = dtype_size(dtype);
    size_t i;
    unsigned char elem[8];
    r.s = seed * 2654435761u + 12345u;
    for (i = 0; i < n; i += es) {
        double g = rng_gauss(&r) * 0.02;
        size_t k = (n - i < es) ? n - i : es;
        switch (dtype) {
        case ZIPNN_DTYPE_BF16:
            put_u16(elem, (uint16_t)(float_bits((float)g) >> 16));
            break;
        case ZIPNN_DTYPE_FP16:
            put_u16(elem, float_to_half((float)g));
            break;
        case ZIPNN_DTYPE_FP32:
            put_u32(elem, float_bits((float)g));
            break;
        case ZIPNN_DTYPE_FP64:
            put_f64(elem, g);
            break;
        case ZIPNN_DTYPE_FP8_E4M3:
            elem[0] = float_to_e4m3((float)(g * 50.0));
            break;
        case ZIPNN_DTYPE_FP8_E5M2:
            elem[0] = (uint8_t)(float_to_half((float)g) >> 8);
            break;
        case ZIPNN_DTYPE_INT8: {
            long v = lround(g * 1500.0);
            v = v < -128 ? -128 : (v > 127 ? 127 : v);
            elem[0] = (unsigned char)(signed char)v;
            break;
        }
        case ZIPNN_DTYPE_UINT8: {
            long v = 128 + lround(g * 1500.0);
            v = v < 0 ? 0 : (v > 255 ? 255 : v);
            elem[0] = (unsigned char)v;
            break;
        }
        default: /* RAW: float32 weights seen as bytes */
            put_u32(elem, float_bits((float)g));
            es = 4;
            k = (n - i < 4) ? n - i : 4;
            break;
        }
        memcpy(out + i, elem, k);
    }
}

static const uint32_t ALL_DTYPES[] = {
    ZIPNN_DTYPE_RAW,      ZIPNN_DTYPE_BF16,     ZIPNN_DTYPE_FP16,
    ZIPNN_DTYPE_FP32,     ZIPNN_DTYPE_FP64,     ZIPNN_DTYPE_FP8_E4M3,
    ZIPNN_DTYPE_FP8_E5M2, ZIPNN_DTYPE_INT8,     ZIPNN_DTYPE_UINT8,
};
#define N_DTYPES (sizeof ALL_DTYPES / sizeof ALL_DTYPES[0])

static const uint32_t ALL_METHODS[] = {
    ZIPNN_METHOD_AUTO, ZIPNN_METHOD_HUFFMAN, ZIPNN_METHOD_ZSTD,
    ZIPNN_METHOD_LZ4,  ZIPNN_METHOD_SNAPPY,  ZIPNN_METHOD_RAW,
};
#define N_METHODS (sizeof ALL_METHODS / sizeof ALL_METHODS[0])

static const size_t EDGE_SIZES[] = {
    0, 1, 7, 1001, TEST_CHUNK - 1, TEST_CHUNK, TEST_CHUNK + 1, 9 * TEST_CHUNK + 333,
};
#define N_EDGE_SIZES (sizeof EDGE_SIZES / sizeof EDGE_SIZES[0])

static zipnn_options make_opts(uint32_t dtype, uint32_t method, int32_t level) {
    zipnn_options o;
    zipnn_options_init(&o);
    o.dtype = dtype;
    o.method = method;
    o.level = level;
    o.chunk_size = TEST_CHUNK;
    return o;
}

/* ------------------------------------------------------------------------------------ */
/* The round-trip workhorse                                                               */
/* ------------------------------------------------------------------------------------ */

/* Compresses `src`, then checks everything that can be checked about the frame:
 * bound, verify, decompressed size, frame info, full decompression, every chunk alone,
 * and that neither input was written. Returns 0 on success. */
/* The chunk size a frame written with `opts` records: the option, or where it is 0 the
 * automatic choice (2 MiB for one-byte elements at the default level of method auto, else
 * 256 KiB). */
static uint32_t auto_chunk_size(const zipnn_options *opts) {
    uint32_t planes;
    if (opts->chunk_size) return opts->chunk_size;
    planes = opts->dtype == ZIPNN_DTYPE_RAW ? (opts->bg_partitions ? opts->bg_partitions : 1u)
                                            : (uint32_t)dtype_size(opts->dtype);
    if (planes == 1 && opts->method == ZIPNN_METHOD_AUTO &&
        (opts->level == ZIPNN_LEVEL_DEFAULT || opts->level == 2))
        return 2097152u;
    return 262144u;
}

static int roundtrip_check(const zipnn_options *opts, const unsigned char *src, size_t n) {
    size_t bound = bound_of(opts, n);
    unsigned char *frame;
    unsigned char *frame_copy;
    unsigned char *src_copy;
    unsigned char *out;
    size_t written = SENTINEL_SIZE;
    size_t out_written = SENTINEL_SIZE;
    uint64_t dsize = 0;
    zipnn_frame_info info;
    uint64_t i;
    int rc = 1;

    CHECK(bound > 0);
    frame = (unsigned char *)xmalloc(bound);
    frame_copy = (unsigned char *)xmalloc(bound);
    src_copy = (unsigned char *)xmalloc(n);
    out = (unsigned char *)xmalloc(n + 16);
    if (n) {
        memcpy(src_copy, src, n);
    }

#define RT_CHECK(cond)                                                                    \
    do {                                                                                  \
        if (!(cond)) {                                                                    \
            fprintf(stderr, "%s:%d: CHECK failed: %s (dtype %u method %u level %d "       \
                            "size %lu)\n",                                                \
                    __FILE__, __LINE__, #cond, opts ? (unsigned)opts->dtype : 0u,         \
                    opts ? (unsigned)opts->method : 0u, opts ? (int)opts->level : 0,      \
                    (unsigned long)n);                                                    \
            goto done;                                                                    \
        }                                                                                 \
    } while (0)

    RT_CHECK(zipnn_compress(opts, n ? src : NULL, n, frame, bound, &written) == ZIPNN_OK);
    RT_CHECK(written > 0 && written <= bound);
    RT_CHECK(n == 0 || memcmp(src, src_copy, n) == 0); /* src never written */
    memcpy(frame_copy, frame, written);

    RT_CHECK(zipnn_verify(frame, written) == ZIPNN_OK);
    RT_CHECK(zipnn_get_decompressed_size(frame, written, &dsize) == ZIPNN_OK);
    RT_CHECK(dsize == n);

    memset(&info, 0, sizeof info);
    info.struct_size = (uint32_t)sizeof info;
    RT_CHECK(zipnn_get_frame_info(frame, written, &info) == ZIPNN_OK);
    RT_CHECK(info.format_version == zipnn_format_version());
    RT_CHECK(info.dtype == (opts ? opts->dtype : ZIPNN_DTYPE_RAW));
    RT_CHECK(info.original_size == n);
    RT_CHECK(info.frame_size == written);
    RT_CHECK(info.metadata_size == 0);
    RT_CHECK((info.flags & 1u) == 0);
    RT_CHECK(info.planes >= 1 && info.planes <= 8);
    RT_CHECK(info.chunk_size > 0);
    {
        uint64_t body = n - (n % info.planes);
        uint64_t want_chunks = (body + info.chunk_size - 1) / info.chunk_size;
        RT_CHECK(info.chunk_count == want_chunks);
    }
    if (opts) {
        uint32_t want_planes = opts->dtype == ZIPNN_DTYPE_RAW
                                   ? (opts->bg_partitions ? opts->bg_partitions : 1u)
                                   : (uint32_t)dtype_size(opts->dtype);
        RT_CHECK(info.planes == want_planes);
        /* A compact frame (flag 0x08, docs/FORMAT.md 3.4) reports 65536. */
        RT_CHECK(info.chunk_size == ((info.flags & 0x08u) ? 65536u : auto_chunk_size(opts)));
    }

    /* Exact-size destination. */
    memset(out, (int)SENTINEL_BYTE, n + 16);
    RT_CHECK(zipnn_decompress(frame, written, n ? out : NULL, n, &out_written) == ZIPNN_OK);
    RT_CHECK(out_written == n);
    RT_CHECK(n == 0 || memcmp(out, src, n) == 0);
    RT_CHECK(all_bytes_are(out + n, 16, (unsigned char)SENTINEL_BYTE));
    RT_CHECK(memcmp(frame, frame_copy, written) == 0); /* frame never written */

    /* Every chunk alone equals its slice of the input. */
    for (i = 0; i < info.chunk_count; i++) {
        size_t cw = SENTINEL_SIZE;
        size_t start = (size_t)(i * info.chunk_size);
        RT_CHECK(zipnn_decompress_chunk(frame, written, i, out, n + 16, &cw) == ZIPNN_OK);
        RT_CHECK(cw > 0 && cw <= info.chunk_size);
        RT_CHECK(i + 1 == info.chunk_count || cw == info.chunk_size);
        RT_CHECK(start + cw <= n);
        RT_CHECK(memcmp(out, src + start, cw) == 0);
        if (i + 1 == info.chunk_count) {
            RT_CHECK(start + cw == n - (n % info.planes));
        }
    }
    {
        size_t cw = SENTINEL_SIZE;
        RT_CHECK(zipnn_decompress_chunk(frame, written, info.chunk_count, out, n + 16, &cw) ==
                 ZIPNN_ERROR_INVALID_PARAM);
        RT_CHECK(cw == SENTINEL_SIZE);
    }
    RT_CHECK(memcmp(frame, frame_copy, written) == 0);
    rc = 0;
#undef RT_CHECK
done:
    free(frame);
    free(frame_copy);
    free(src_copy);
    free(out);
    return rc;
}

/* Compresses `src` into a fresh buffer; returns it and its length via out-params. */
static int compress_alloc(const zipnn_options *opts, const void *src, size_t n,
                          unsigned char **frame_out, size_t *len_out) {
    size_t bound = bound_of(opts, n);
    unsigned char *frame;
    size_t written = 0;
    zipnn_status st;
    if (bound == 0) {
        return 1;
    }
    frame = (unsigned char *)xmalloc(bound);
    st = zipnn_compress(opts, src, n, frame, bound, &written);
    if (st != ZIPNN_OK) {
        fprintf(stderr, "compress_alloc: %s\n", zipnn_error_string(st));
        free(frame);
        return 1;
    }
    *frame_out = frame;
    *len_out = written;
    return 0;
}

/* A standard multi-chunk fp32 frame used by the error-path tests. */
#define STD_N (3 * TEST_CHUNK + 100)
static int standard_frame(unsigned char **src_out, unsigned char **frame_out,
                          size_t *len_out) {
    zipnn_options o = make_opts(ZIPNN_DTYPE_FP32, ZIPNN_METHOD_AUTO, 0);
    unsigned char *src = (unsigned char *)xmalloc(STD_N);
    gen_data(ZIPNN_DTYPE_FP32, src, STD_N, 99);
    if (compress_alloc(&o, src, STD_N, frame_out, len_out) != 0) {
        free(src);
        return 1;
    }
    *src_out = src;
    return 0;
}

/* ------------------------------------------------------------------------------------ */
/* Round trips                                                                            */
/* ------------------------------------------------------------------------------------ */

static int test_roundtrip_every_dtype_method_level_size(void) {
    static const int32_t levels[] = {0, 1, 2, 3};
    size_t d, m, l, s;
    unsigned char *buf = (unsigned char *)xmalloc(EDGE_SIZES[N_EDGE_SIZES - 1]);
    for (d = 0; d < N_DTYPES; d++) {
        for (s = 0; s < N_EDGE_SIZES; s++) {
            gen_data(ALL_DTYPES[d], buf, EDGE_SIZES[s], (uint64_t)(d * 100 + s));
            for (m = 0; m < N_METHODS; m++) {
                for (l = 0; l < sizeof levels / sizeof levels[0]; l++) {
                    zipnn_options o = make_opts(ALL_DTYPES[d], ALL_METHODS[m], levels[l]);
                    o.threads = (uint32_t)(l % 2); /* alternate all cores / caller only */
                    if (roundtrip_check(&o, buf, EDGE_SIZES[s]) != 0) {
                        free(buf);
                        return 1;
                    }
                }
            }
        }
    }
    free(buf);
    return 0;
}

static int test_roundtrip_raw_bg_partitions(void) {
    static const uint32_t parts[] = {0, 1, 2, 4, 8};
    size_t p, m, s;
    unsigned char *buf = (unsigned char *)xmalloc(EDGE_SIZES[N_EDGE_SIZES - 1]);
    for (p = 0; p < sizeof parts / sizeof parts[0]; p++) {
        for (s = 0; s < N_EDGE_SIZES; s++) {
            gen_data(ZIPNN_DTYPE_FP32, buf, EDGE_SIZES[s], (uint64_t)(p * 7 + s));
            for (m = 0; m < N_METHODS; m++) {
                zipnn_options o = make_opts(ZIPNN_DTYPE_RAW, ALL_METHODS[m], 0);
                o.bg_partitions = parts[p];
                if (roundtrip_check(&o, buf, EDGE_SIZES[s]) != 0) {
                    free(buf);
                    return 1;
                }
            }
        }
    }
    free(buf);
    return 0;
}

static int test_roundtrip_codec_levels(void) {
    static const int32_t zstd_levels[] = {-7, -1, 1, 3, 9, 19, 22};
    static const int32_t lz4_levels[] = {1, 2, 9, 12};
    const size_t n = 5 * TEST_CHUNK + 6;
    unsigned char *buf = (unsigned char *)xmalloc(n);
    size_t i;
    gen_data(ZIPNN_DTYPE_BF16, buf, n, 4242);
    for (i = 0; i < sizeof zstd_levels / sizeof zstd_levels[0]; i++) {
        zipnn_options o = make_opts(ZIPNN_DTYPE_BF16, ZIPNN_METHOD_ZSTD, 0);
        o.zstd_level = zstd_levels[i];
        CHECK_OK_HELPER(roundtrip_check(&o, buf, n));
        o.method = ZIPNN_METHOD_AUTO;
        o.level = ZIPNN_LEVEL_MAX;
        CHECK_OK_HELPER(roundtrip_check(&o, buf, n));
    }
    for (i = 0; i < sizeof lz4_levels / sizeof lz4_levels[0]; i++) {
        zipnn_options o = make_opts(ZIPNN_DTYPE_BF16, ZIPNN_METHOD_LZ4, 0);
        o.lz4_level = lz4_levels[i];
        CHECK_OK_HELPER(roundtrip_check(&o, buf, n));
    }
    {
        static const float thresholds[] = {0.01f, 0.5f, 1.0f};
        for (i = 0; i < sizeof thresholds / sizeof thresholds[0]; i++) {
            zipnn_options o = make_opts(ZIPNN_DTYPE_BF16, ZIPNN_METHOD_AUTO, 0);
            o.threshold = thresholds[i];
            CHECK_OK_HELPER(roundtrip_check(&o, buf, n));
        }
    }
    free(buf);
    return 0;
}

static int test_roundtrip_chunk_sizes_and_threads(void) {
    static const uint32_t chunks[] = {1024, 4096, 65536, 262144, 0};
    static const uint32_t threads[] = {0, 1, 2, 4};
    const size_t n = 300000;
    unsigned char *buf = (unsigned char *)xmalloc(n);
    size_t c, t;
    gen_data(ZIPNN_DTYPE_FP16, buf, n, 777);
    for (c = 0; c < sizeof chunks / sizeof chunks[0]; c++) {
        for (t = 0; t < sizeof threads / sizeof threads[0]; t++) {
            zipnn_options o = make_opts(ZIPNN_DTYPE_FP16, ZIPNN_METHOD_AUTO, 0);
            o.chunk_size = chunks[c];
            o.threads = threads[t];
            CHECK_OK_HELPER(roundtrip_check(&o, buf, n));
        }
    }
    free(buf);
    return 0;
}

static int test_roundtrip_special_values(void) {
    /* NaN (quiet, signalling, negative), +-Inf, +-0, denormals, extremes. */
    static const uint32_t f32[] = {
        0x7FC00000u, 0x7F800001u, 0xFFC00001u, 0x7F800000u, 0xFF800000u, 0x00000000u,
        0x80000000u, 0x00000001u, 0x807FFFFFu, 0x00400000u, 0x7F7FFFFFu, 0xFF7FFFFFu,
        0x00800000u, 0x3F800000u,
    };
    static const uint16_t f16[] = {
        0x7E00u, 0x7C01u, 0xFE00u, 0x7C00u, 0xFC00u, 0x0000u, 0x8000u,
        0x0001u, 0x83FFu, 0x7BFFu, 0x0400u, 0x3C00u,
    };
    const size_t n = 2 * TEST_CHUNK + 24;
    unsigned char *buf = (unsigned char *)xmalloc(n);
    size_t i;
    size_t m;
    for (m = 0; m < N_METHODS; m++) {
        zipnn_options o;
        /* fp32 */
        for (i = 0; i + 4 <= n; i += 4) {
            put_u32(buf + i, f32[(i / 4) % (sizeof f32 / sizeof f32[0])]);
        }
        o = make_opts(ZIPNN_DTYPE_FP32, ALL_METHODS[m], 0);
        CHECK_OK_HELPER(roundtrip_check(&o, buf, n));
        /* bf16 = high halves of the same patterns */
        for (i = 0; i + 2 <= n; i += 2) {
            put_u16(buf + i, (uint16_t)(f32[(i / 2) % (sizeof f32 / sizeof f32[0])] >> 16));
        }
        o = make_opts(ZIPNN_DTYPE_BF16, ALL_METHODS[m], 0);
        CHECK_OK_HELPER(roundtrip_check(&o, buf, n));
        /* fp16 */
        for (i = 0; i + 2 <= n; i += 2) {
            put_u16(buf + i, f16[(i / 2) % (sizeof f16 / sizeof f16[0])]);
        }
        o = make_opts(ZIPNN_DTYPE_FP16, ALL_METHODS[m], 0);
        CHECK_OK_HELPER(roundtrip_check(&o, buf, n));
        /* fp64 */
        for (i = 0; i + 8 <= n; i += 8) {
            static const double vals[6] = {0.0, -0.0, 4.9406564584124654e-324, DBL_MAX,
                                           -DBL_MIN, 1.0};
            size_t k = (i / 8) % 8;
            if (k < 6) {
                put_f64(buf + i, vals[k]);
            } else if (k == 6) {
                put_f64(buf + i, (double)bits_float(0x7F800000u)); /* +Inf */
            } else {
                put_f64(buf + i, (double)bits_float(0x7FC00000u)); /* NaN */
            }
        }
        o = make_opts(ZIPNN_DTYPE_FP64, ALL_METHODS[m], 0);
        CHECK_OK_HELPER(roundtrip_check(&o, buf, n));
        /* fp8: every byte value, several times */
        for (i = 0; i < n; i++) {
            buf[i] = (unsigned char)(i * 7u);
        }
        o = make_opts(ZIPNN_DTYPE_FP8_E4M3, ALL_METHODS[m], 0);
        CHECK_OK_HELPER(roundtrip_check(&o, buf, n));
        o = make_opts(ZIPNN_DTYPE_FP8_E5M2, ALL_METHODS[m], 0);
        CHECK_OK_HELPER(roundtrip_check(&o, buf, n));
    }
    free(buf);
    return 0;
}

static int test_roundtrip_degenerate_inputs(void) {
    /* All zero, all 0xFF, a constant float, and incompressible random bytes. */
    const size_t n = 4 * TEST_CHUNK + 3;
    unsigned char *buf = (unsigned char *)xmalloc(n);
    rng_t r;
    size_t d, i;
    r.s = 5;
    for (d = 0; d < N_DTYPES; d++) {
        zipnn_options o = make_opts(ALL_DTYPES[d], ZIPNN_METHOD_AUTO, ZIPNN_LEVEL_MAX);
        memset(buf, 0, n);
        CHECK_OK_HELPER(roundtrip_check(&o, buf, n));
        memset(buf, 0xFF, n);
        CHECK_OK_HELPER(roundtrip_check(&o, buf, n));
        for (i = 0; i + 4 <= n; i += 4) {
            put_u32(buf + i, float_bits(0.125f));
        }
        CHECK_OK_HELPER(roundtrip_check(&o, buf, n));
        for (i = 0; i < n; i++) {
            buf[i] = (unsigned char)(rng_u32(&r) >> 24);
        }
        CHECK_OK_HELPER(roundtrip_check(&o, buf, n));
    }
    free(buf);
    return 0;
}

static int test_gaussian_data_compresses(void) {
    /* Sanity check on the data generator and the library: bf16 Gaussian weights
     * compress below 80% with the default options. */
    const size_t n = 64 * 1024;
    unsigned char *buf = (unsigned char *)xmalloc(n);
    unsigned char *frame = NULL;
    size_t len = 0;
    zipnn_options o = make_opts(ZIPNN_DTYPE_BF16, ZIPNN_METHOD_AUTO, 0);
    gen_data(ZIPNN_DTYPE_BF16, buf, n, 1);
    CHECK_OK_HELPER(compress_alloc(&o, buf, n, &frame, &len));
    CHECK(len < n * 8 / 10);
    free(frame);
    free(buf);
    return 0;
}

static int test_null_options_are_defaults(void) {
    const size_t n = 300000; /* > one chunk of 256 KiB */
    unsigned char *buf = (unsigned char *)xmalloc(n);
    unsigned char *f1 = NULL, *f2 = NULL;
    size_t l1 = 0, l2 = 0;
    zipnn_options o;
    zipnn_frame_info info;
    gen_data(ZIPNN_DTYPE_RAW, buf, n, 3);
    CHECK_OK_HELPER(roundtrip_check(NULL, buf, n));
    zipnn_options_init(&o);
    CHECK(bound_of(NULL, n) == bound_of(&o, n));
    CHECK_OK_HELPER(compress_alloc(NULL, buf, n, &f1, &l1));
    CHECK_OK_HELPER(compress_alloc(&o, buf, n, &f2, &l2));
    CHECK(l1 == l2 && memcmp(f1, f2, l1) == 0);
    memset(&info, 0, sizeof info);
    info.struct_size = (uint32_t)sizeof info;
    CHECK_STATUS(zipnn_get_frame_info(f1, l1, &info), ZIPNN_OK);
    CHECK(info.dtype == ZIPNN_DTYPE_RAW);
    /* Raw bytes in one plane at the default level: the automatic chunk size is 2 MiB. */
    CHECK(info.chunk_size == 2097152u);
    CHECK(info.planes == 1);
    CHECK(info.chunk_count == 1);
    {
        /* NULL options for decompression too. */
        unsigned char *out = (unsigned char *)xmalloc(n);
        size_t w = 0;
        CHECK_STATUS(zipnn_decompress_with_options(NULL, f1, l1, out, n, &w), ZIPNN_OK);
        CHECK(w == n && memcmp(out, buf, n) == 0);
        free(out);
    }
    free(f1);
    free(f2);
    free(buf);
    return 0;
}

static int test_options_init_matches_macro(void) {
    zipnn_options a = ZIPNN_OPTIONS_INIT;
    zipnn_options b;
    memset(&b, 0x5A, sizeof b); /* padding included: init must overwrite everything */
    zipnn_options_init(&b);
    CHECK(memcmp(&a, &b, sizeof a) == 0);
    CHECK(b.struct_size == sizeof(zipnn_options));
    CHECK(b.dtype == ZIPNN_DTYPE_RAW);
    CHECK(b.method == ZIPNN_METHOD_AUTO);
    CHECK(b.level == ZIPNN_LEVEL_DEFAULT);
    CHECK(b.max_decompressed_size == 0);
    zipnn_options_init(NULL); /* ignored */
    return 0;
}

static int test_empty_input(void) {
    unsigned char frame[256];
    unsigned char out[4] = {1, 2, 3, 4};
    size_t w = SENTINEL_SIZE;
    size_t bound = bound_of(NULL, 0);
    uint64_t dsize = 99;
    zipnn_frame_info info;
    CHECK(bound > 0 && bound <= sizeof frame);
    CHECK_STATUS(zipnn_compress(NULL, NULL, 0, frame, sizeof frame, &w), ZIPNN_OK);
    CHECK(w > 0 && w <= bound);
    CHECK_STATUS(zipnn_verify(frame, w), ZIPNN_OK);
    CHECK_STATUS(zipnn_get_decompressed_size(frame, w, &dsize), ZIPNN_OK);
    CHECK(dsize == 0);
    memset(&info, 0xFF, sizeof info);
    info.struct_size = (uint32_t)sizeof info;
    CHECK_STATUS(zipnn_get_frame_info(frame, w, &info), ZIPNN_OK);
    CHECK(info.original_size == 0 && info.chunk_count == 0 && info.frame_size == w);
    {
        size_t dw = SENTINEL_SIZE;
        CHECK_STATUS(zipnn_decompress(frame, w, NULL, 0, &dw), ZIPNN_OK);
        CHECK(dw == 0);
        dw = SENTINEL_SIZE;
        CHECK_STATUS(zipnn_decompress(frame, w, out, sizeof out, &dw), ZIPNN_OK);
        CHECK(dw == 0);
        CHECK(out[0] == 1 && out[3] == 4);
    }
    {
        /* A non-NULL pointer with size 0 is also an empty input. */
        size_t w2 = 0;
        unsigned char frame2[256];
        CHECK_STATUS(zipnn_compress(NULL, out, 0, frame2, sizeof frame2, &w2), ZIPNN_OK);
        CHECK(w2 == w && memcmp(frame, frame2, w) == 0);
    }
    /* (NULL, 0) is not a frame: it ends before the magic. */
    CHECK_STATUS(zipnn_verify(NULL, 0), ZIPNN_ERROR_TRUNCATED);
    {
        size_t dw = SENTINEL_SIZE;
        CHECK_STATUS(zipnn_decompress(NULL, 0, NULL, 0, &dw), ZIPNN_ERROR_TRUNCATED);
        CHECK(dw == SENTINEL_SIZE);
    }
    return 0;
}

static int test_inputs_never_written(void) {
    const size_t n = 7 * TEST_CHUNK + 5;
    unsigned char *src = (unsigned char *)xmalloc(n);
    unsigned char *src_copy = (unsigned char *)xmalloc(n);
    unsigned char *frame = NULL, *frame_copy;
    unsigned char meta[32];
    unsigned char meta_copy[32];
    unsigned char *out = (unsigned char *)xmalloc(n);
    size_t len = 0, w = 0, i;
    zipnn_options o = make_opts(ZIPNN_DTYPE_FP32, ZIPNN_METHOD_AUTO, ZIPNN_LEVEL_MAX);
    zipnn_options o_copy;
    size_t bound = bound_of(&o, n) + sizeof meta;
    zipnn_frame_info info;

    gen_data(ZIPNN_DTYPE_FP32, src, n, 11);
    memcpy(src_copy, src, n);
    for (i = 0; i < sizeof meta; i++) {
        meta[i] = (unsigned char)i;
    }
    memcpy(meta_copy, meta, sizeof meta);
    memcpy(&o_copy, &o, sizeof o);
    frame = (unsigned char *)xmalloc(bound);
    CHECK_STATUS(zipnn_compress_with_metadata(&o, meta, sizeof meta, src, n, frame, bound, &len),
                 ZIPNN_OK);
    CHECK(memcmp(src, src_copy, n) == 0);
    CHECK(memcmp(meta, meta_copy, sizeof meta) == 0);
    CHECK(memcmp(&o, &o_copy, sizeof o) == 0);
    frame_copy = (unsigned char *)xmalloc(len);
    memcpy(frame_copy, frame, len);
    CHECK_STATUS(zipnn_decompress_with_options(&o, frame, len, out, n, &w), ZIPNN_OK);
    CHECK(memcmp(&o, &o_copy, sizeof o) == 0);
    CHECK_STATUS(zipnn_verify(frame, len), ZIPNN_OK);
    info.struct_size = (uint32_t)sizeof info;
    CHECK_STATUS(zipnn_get_frame_info(frame, len, &info), ZIPNN_OK);
    CHECK_STATUS(zipnn_get_metadata(frame, len, out, n, &w), ZIPNN_OK);
    CHECK_STATUS(zipnn_decompress_chunk(frame, len, 1, out, n, &w), ZIPNN_OK);
    CHECK(memcmp(frame, frame_copy, len) == 0);
    free(src);
    free(src_copy);
    free(frame);
    free(frame_copy);
    free(out);
    return 0;
}

/* ------------------------------------------------------------------------------------ */
/* Metadata, frame info, chunks, verify                                                   */
/* ------------------------------------------------------------------------------------ */

static int test_metadata_roundtrip(void) {
    static const size_t meta_sizes[] = {0, 1, 17, 4096, 1u << 20};
    const size_t n = 2 * TEST_CHUNK + 10;
    unsigned char *src = (unsigned char *)xmalloc(n);
    unsigned char *meta = (unsigned char *)xmalloc(1u << 20);
    unsigned char *got = (unsigned char *)xmalloc((1u << 20) + 8);
    size_t i, k;
    zipnn_options o = make_opts(ZIPNN_DTYPE_BF16, ZIPNN_METHOD_AUTO, 0);
    gen_data(ZIPNN_DTYPE_BF16, src, n, 21);
    for (i = 0; i < (1u << 20); i++) {
        meta[i] = (unsigned char)(i * 31u + 7u);
    }
    for (k = 0; k < sizeof meta_sizes / sizeof meta_sizes[0]; k++) {
        size_t ms = meta_sizes[k];
        size_t bound = bound_of(&o, n) + ms;
        unsigned char *frame = (unsigned char *)xmalloc(bound);
        unsigned char *out = (unsigned char *)xmalloc(n);
        size_t len = SENTINEL_SIZE, w = SENTINEL_SIZE;
        zipnn_frame_info info;
        CHECK_STATUS(zipnn_compress_with_metadata(&o, ms ? meta : NULL, ms, src, n, frame,
                                                  bound, &len),
                     ZIPNN_OK);
        memset(&info, 0, sizeof info);
        info.struct_size = (uint32_t)sizeof info;
        CHECK_STATUS(zipnn_get_frame_info(frame, len, &info), ZIPNN_OK);
        CHECK(info.metadata_size == ms);
        CHECK(((info.flags & 1u) != 0) == (ms > 0));
        CHECK(info.frame_size == len);
        CHECK(info.original_size == n);
        memset(got, (int)SENTINEL_BYTE, ms + 8);
        CHECK_STATUS(zipnn_get_metadata(frame, len, got, ms + 8, &w), ZIPNN_OK);
        CHECK(w == ms);
        CHECK(ms == 0 || memcmp(got, meta, ms) == 0);
        CHECK(all_bytes_are(got + ms, 8, (unsigned char)SENTINEL_BYTE));
        if (ms > 0) {
            /* One byte too small: DST_TOO_SMALL, nothing written. */
            memset(got, (int)SENTINEL_BYTE, ms);
            w = SENTINEL_SIZE;
            CHECK_STATUS(zipnn_get_metadata(frame, len, got, ms - 1, &w),
                         ZIPNN_ERROR_DST_TOO_SMALL);
            CHECK(w == SENTINEL_SIZE);
            CHECK(all_bytes_are(got, ms, (unsigned char)SENTINEL_BYTE));
        } else {
            CHECK_STATUS(zipnn_get_metadata(frame, len, NULL, 0, &w), ZIPNN_OK);
            CHECK(w == 0);
        }
        /* Data still round-trips, and with metadata the chunks still decode. */
        CHECK_STATUS(zipnn_decompress(frame, len, out, n, &w), ZIPNN_OK);
        CHECK(w == n && memcmp(out, src, n) == 0);
        CHECK_STATUS(zipnn_verify(frame, len), ZIPNN_OK);
        CHECK_STATUS(zipnn_decompress_chunk(frame, len, 2, out, n, &w), ZIPNN_OK);
        CHECK(w == 10 && memcmp(out, src + 2 * TEST_CHUNK, 10) == 0);
        free(frame);
        free(out);
    }
    {
        /* Metadata over 1 MiB is INVALID_PARAM; NULL metadata with a size is NULL_POINTER. */
        size_t big = (1u << 20) + 1;
        unsigned char *bigmeta = (unsigned char *)xmalloc(big);
        size_t bound = bound_of(&o, n) + big;
        unsigned char *frame = (unsigned char *)xmalloc(bound);
        size_t len = SENTINEL_SIZE;
        memset(bigmeta, 1, big);
        CHECK_STATUS(zipnn_compress_with_metadata(&o, bigmeta, big, src, n, frame, bound, &len),
                     ZIPNN_ERROR_INVALID_PARAM);
        CHECK(len == SENTINEL_SIZE);
        CHECK_STATUS(zipnn_compress_with_metadata(&o, NULL, 5, src, n, frame, bound, &len),
                     ZIPNN_ERROR_NULL_POINTER);
        CHECK(len == SENTINEL_SIZE);
        free(bigmeta);
        free(frame);
    }
    free(src);
    free(meta);
    free(got);
    return 0;
}

static int test_frame_info_fields(void) {
    size_t d;
    for (d = 0; d < N_DTYPES; d++) {
        const size_t n = 5 * TEST_CHUNK + 3;
        unsigned char *src = (unsigned char *)xmalloc(n);
        unsigned char *frame = NULL;
        unsigned char *padded;
        size_t len = 0;
        zipnn_options o = make_opts(ALL_DTYPES[d], ZIPNN_METHOD_AUTO, 0);
        zipnn_frame_info info;
        size_t es = dtype_size(ALL_DTYPES[d]);
        gen_data(ALL_DTYPES[d], src, n, (uint64_t)d);
        CHECK_OK_HELPER(compress_alloc(&o, src, n, &frame, &len));
        memset(&info, 0, sizeof info);
        info.struct_size = (uint32_t)sizeof info;
        CHECK_STATUS(zipnn_get_frame_info(frame, len, &info), ZIPNN_OK);
        CHECK(info.struct_size == sizeof info);
        CHECK(info.format_version == zipnn_format_version());
        CHECK(info.dtype == ALL_DTYPES[d]);
        CHECK(info.flags == 0);
        CHECK(info.planes == es);
        CHECK(info.chunk_size == TEST_CHUNK);
        CHECK(info.original_size == n);
        CHECK(info.chunk_count == (n - n % es + TEST_CHUNK - 1) / TEST_CHUNK);
        CHECK(info.frame_size == len);
        CHECK(info.metadata_size == 0);

        /* Bytes after the frame are allowed by get_frame_info. */
        padded = (unsigned char *)xmalloc(len + 100);
        memcpy(padded, frame, len);
        memset(padded + len, 0x77, 100);
        memset(&info, 0, sizeof info);
        info.struct_size = (uint32_t)sizeof info;
        CHECK_STATUS(zipnn_get_frame_info(padded, len + 100, &info), ZIPNN_OK);
        CHECK(info.frame_size == len);
        free(padded);
        free(src);
        free(frame);
    }
    return 0;
}

static int test_frame_info_struct_size(void) {
    unsigned char *src = NULL, *frame = NULL;
    size_t len = 0;
    zipnn_frame_info info;
    CHECK_OK_HELPER(standard_frame(&src, &frame, &len));

    /* Below 8 is INVALID_PARAM and leaves *info as it was. */
    memset(&info, (int)SENTINEL_BYTE, sizeof info);
    info.struct_size = 4;
    CHECK_STATUS(zipnn_get_frame_info(frame, len, &info), ZIPNN_ERROR_INVALID_PARAM);
    CHECK(info.struct_size == 4);
    CHECK(all_bytes_are((unsigned char *)&info + 4, sizeof info - 4, (unsigned char)SENTINEL_BYTE));
    info.struct_size = 0;
    CHECK_STATUS(zipnn_get_frame_info(frame, len, &info), ZIPNN_ERROR_INVALID_PARAM);

    /* An older, shorter struct: fields beyond it are not written. */
    memset(&info, (int)SENTINEL_BYTE, sizeof info);
    info.struct_size = (uint32_t)offsetof(zipnn_frame_info, original_size);
    CHECK_STATUS(zipnn_get_frame_info(frame, len, &info), ZIPNN_OK);
    CHECK(info.dtype == ZIPNN_DTYPE_FP32);
    CHECK(info.chunk_size == TEST_CHUNK);
    CHECK(all_bytes_are((unsigned char *)&info + offsetof(zipnn_frame_info, original_size),
                        sizeof info - offsetof(zipnn_frame_info, original_size),
                        (unsigned char)SENTINEL_BYTE));

    /* A newer, larger struct: our fields are filled, the tail is left alone. */
    {
        struct {
            zipnn_frame_info info;
            unsigned char tail[16];
        } big;
        memset(&big, (int)SENTINEL_BYTE, sizeof big);
        big.info.struct_size = (uint32_t)sizeof big;
        CHECK_STATUS(zipnn_get_frame_info(frame, len, &big.info), ZIPNN_OK);
        CHECK(big.info.frame_size == len);
        CHECK(big.info.original_size == STD_N);
        CHECK(all_bytes_are(big.tail, sizeof big.tail, (unsigned char)SENTINEL_BYTE));
    }

    /* On a frame error, *info is left as it was. */
    memset(&info, (int)SENTINEL_BYTE, sizeof info);
    info.struct_size = (uint32_t)sizeof info;
    frame[0] ^= 0xFFu;
    CHECK_STATUS(zipnn_get_frame_info(frame, len, &info), ZIPNN_ERROR_BAD_MAGIC);
    CHECK(info.struct_size == sizeof info);
    CHECK(all_bytes_are((unsigned char *)&info + 4, sizeof info - 4, (unsigned char)SENTINEL_BYTE));
    free(src);
    free(frame);
    return 0;
}

static int test_decompress_chunk_random_access(void) {
    size_t d;
    for (d = 0; d < N_DTYPES; d++) {
        const size_t n = 6 * TEST_CHUNK + 13;
        unsigned char *src = (unsigned char *)xmalloc(n);
        unsigned char *frame = NULL;
        unsigned char chunk[TEST_CHUNK + 8];
        size_t len = 0;
        uint64_t i;
        zipnn_options o = make_opts(ALL_DTYPES[d], ZIPNN_METHOD_AUTO, ZIPNN_LEVEL_MAX);
        gen_data(ALL_DTYPES[d], src, n, 1000 + (uint64_t)d);
        CHECK_OK_HELPER(compress_alloc(&o, src, n, &frame, &len));
        /* Backwards, to make sure chunks do not depend on each other. */
        for (i = 7; i-- > 0;) {
            size_t w = SENTINEL_SIZE;
            size_t want = i < 6 ? TEST_CHUNK : 13 - 13 % dtype_size(ALL_DTYPES[d]);
            memset(chunk, (int)SENTINEL_BYTE, sizeof chunk);
            CHECK_STATUS(zipnn_decompress_chunk(frame, len, i, chunk, sizeof chunk, &w), ZIPNN_OK);
            CHECK(w == want);
            CHECK(memcmp(chunk, src + i * TEST_CHUNK, w) == 0);
            CHECK(all_bytes_are(chunk + w, sizeof chunk - w, (unsigned char)SENTINEL_BYTE));
            /* One byte too small. */
            memset(chunk, (int)SENTINEL_BYTE, sizeof chunk);
            w = SENTINEL_SIZE;
            CHECK_STATUS(zipnn_decompress_chunk(frame, len, i, chunk, want - 1, &w),
                         ZIPNN_ERROR_DST_TOO_SMALL);
            CHECK(w == SENTINEL_SIZE);
            CHECK(all_bytes_are(chunk, sizeof chunk, (unsigned char)SENTINEL_BYTE));
        }
        {
            size_t w = SENTINEL_SIZE;
            CHECK_STATUS(zipnn_decompress_chunk(frame, len, 7, chunk, sizeof chunk, &w),
                         ZIPNN_ERROR_INVALID_PARAM);
            CHECK_STATUS(zipnn_decompress_chunk(frame, len, UINT64_MAX, chunk, sizeof chunk, &w),
                         ZIPNN_ERROR_INVALID_PARAM);
            CHECK(w == SENTINEL_SIZE);
            CHECK_STATUS(zipnn_decompress_chunk(frame, len, 0, chunk, sizeof chunk, NULL),
                         ZIPNN_ERROR_NULL_POINTER);
            CHECK_STATUS(zipnn_decompress_chunk(NULL, len, 0, chunk, sizeof chunk, &w),
                         ZIPNN_ERROR_NULL_POINTER);
            CHECK_STATUS(zipnn_decompress_chunk(frame, len, 0, NULL, sizeof chunk, &w),
                         ZIPNN_ERROR_NULL_POINTER);
            CHECK(w == SENTINEL_SIZE);
        }
        free(src);
        free(frame);
    }
    return 0;
}

static int test_verify(void) {
    unsigned char *src = NULL, *frame = NULL;
    size_t len = 0;
    CHECK_OK_HELPER(standard_frame(&src, &frame, &len));
    CHECK_STATUS(zipnn_verify(frame, len), ZIPNN_OK);
    CHECK_STATUS(zipnn_verify(NULL, len), ZIPNN_ERROR_NULL_POINTER);
    CHECK_STATUS(zipnn_verify(frame, len - 1), ZIPNN_ERROR_TRUNCATED);
    frame[len - 1] ^= 0x01u;
    CHECK_STATUS(zipnn_verify(frame, len), ZIPNN_ERROR_CHECKSUM);
    frame[len - 1] ^= 0x01u;
    CHECK_STATUS(zipnn_verify(frame, len), ZIPNN_OK);
    {
        /* Bytes after the frame: CORRUPT, as for decompress. */
        unsigned char *padded = (unsigned char *)xmalloc(len + 1);
        memcpy(padded, frame, len);
        padded[len] = 0;
        CHECK_STATUS(zipnn_verify(padded, len + 1), ZIPNN_ERROR_CORRUPT);
        free(padded);
    }
    CHECK_STATUS(zipnn_verify(src, STD_N), ZIPNN_ERROR_BAD_MAGIC);
    free(src);
    free(frame);
    return 0;
}

/* ------------------------------------------------------------------------------------ */
/* Error paths                                                                            */
/* ------------------------------------------------------------------------------------ */

static int test_null_pointers(void) {
    unsigned char src[64] = {0};
    unsigned char dst[1024];
    unsigned char *frame = NULL;
    size_t len = 0;
    size_t w = SENTINEL_SIZE;
    uint64_t sz = 12345;
    zipnn_frame_info info;

    /* compress */
    CHECK_STATUS(zipnn_compress(NULL, NULL, 10, dst, sizeof dst, &w), ZIPNN_ERROR_NULL_POINTER);
    CHECK_STATUS(zipnn_compress(NULL, src, sizeof src, NULL, 100, &w), ZIPNN_ERROR_NULL_POINTER);
    CHECK_STATUS(zipnn_compress(NULL, src, sizeof src, dst, sizeof dst, NULL),
                 ZIPNN_ERROR_NULL_POINTER);
    CHECK_STATUS(zipnn_compress_with_metadata(NULL, NULL, 3, src, sizeof src, dst, sizeof dst, &w),
                 ZIPNN_ERROR_NULL_POINTER);
    CHECK_STATUS(zipnn_compress_with_metadata(NULL, src, 3, NULL, 3, dst, sizeof dst, &w),
                 ZIPNN_ERROR_NULL_POINTER);
    CHECK_STATUS(zipnn_compress_with_metadata(NULL, src, 3, src, 3, NULL, 4, &w),
                 ZIPNN_ERROR_NULL_POINTER);
    CHECK_STATUS(zipnn_compress_with_metadata(NULL, src, 3, src, 3, dst, sizeof dst, NULL),
                 ZIPNN_ERROR_NULL_POINTER);
    CHECK(w == SENTINEL_SIZE);
    /* A NULL dst with capacity 0 is a valid (empty) buffer: the frame does not fit. */
    CHECK_STATUS(zipnn_compress(NULL, src, sizeof src, NULL, 0, &w), ZIPNN_ERROR_DST_TOO_SMALL);
    CHECK(w == SENTINEL_SIZE);

    CHECK_OK_HELPER(compress_alloc(NULL, src, sizeof src, &frame, &len));

    /* decompress */
    CHECK_STATUS(zipnn_decompress(NULL, len, dst, sizeof dst, &w), ZIPNN_ERROR_NULL_POINTER);
    CHECK_STATUS(zipnn_decompress(frame, len, NULL, sizeof dst, &w), ZIPNN_ERROR_NULL_POINTER);
    CHECK_STATUS(zipnn_decompress(frame, len, dst, sizeof dst, NULL), ZIPNN_ERROR_NULL_POINTER);
    CHECK_STATUS(zipnn_decompress(frame, len, NULL, 0, &w), ZIPNN_ERROR_DST_TOO_SMALL);
    CHECK_STATUS(zipnn_decompress_with_options(NULL, NULL, len, dst, sizeof dst, &w),
                 ZIPNN_ERROR_NULL_POINTER);
    CHECK_STATUS(zipnn_decompress_with_options(NULL, frame, len, NULL, sizeof dst, &w),
                 ZIPNN_ERROR_NULL_POINTER);
    CHECK_STATUS(zipnn_decompress_with_options(NULL, frame, len, dst, sizeof dst, NULL),
                 ZIPNN_ERROR_NULL_POINTER);
    CHECK(w == SENTINEL_SIZE);

    /* inspection */
    CHECK_STATUS(zipnn_get_decompressed_size(NULL, len, &sz), ZIPNN_ERROR_NULL_POINTER);
    CHECK_STATUS(zipnn_get_decompressed_size(frame, len, NULL), ZIPNN_ERROR_NULL_POINTER);
    CHECK(sz == 12345);
    info.struct_size = (uint32_t)sizeof info;
    CHECK_STATUS(zipnn_get_frame_info(NULL, len, &info), ZIPNN_ERROR_NULL_POINTER);
    CHECK_STATUS(zipnn_get_frame_info(frame, len, NULL), ZIPNN_ERROR_NULL_POINTER);
    CHECK_STATUS(zipnn_get_metadata(NULL, len, dst, sizeof dst, &w), ZIPNN_ERROR_NULL_POINTER);
    CHECK_STATUS(zipnn_get_metadata(frame, len, NULL, 10, &w), ZIPNN_ERROR_NULL_POINTER);
    CHECK_STATUS(zipnn_get_metadata(frame, len, dst, sizeof dst, NULL), ZIPNN_ERROR_NULL_POINTER);
    CHECK_STATUS(zipnn_verify(NULL, 1), ZIPNN_ERROR_NULL_POINTER);
    CHECK(w == SENTINEL_SIZE);
    free(frame);
    return 0;
}

static int test_dst_too_small_compress(void) {
    size_t d, m;
    for (d = 0; d < N_DTYPES; d++) {
        for (m = 0; m < N_METHODS; m++) {
            const size_t n = 3 * TEST_CHUNK + 7;
            unsigned char *src = (unsigned char *)xmalloc(n);
            unsigned char *frame = NULL;
            unsigned char *dst;
            size_t len = 0, w;
            zipnn_options o = make_opts(ALL_DTYPES[d], ALL_METHODS[m], 0);
            gen_data(ALL_DTYPES[d], src, n, 50 + (uint64_t)d);
            CHECK_OK_HELPER(compress_alloc(&o, src, n, &frame, &len));
            dst = (unsigned char *)xmalloc(len + 8);

            /* One byte short of the actual frame: DST_TOO_SMALL, nothing written. */
            memset(dst, (int)SENTINEL_BYTE, len + 8);
            w = SENTINEL_SIZE;
            CHECK_STATUS(zipnn_compress(&o, src, n, dst, len - 1, &w), ZIPNN_ERROR_DST_TOO_SMALL);
            CHECK(w == SENTINEL_SIZE);
            CHECK(all_bytes_are(dst, len + 8, (unsigned char)SENTINEL_BYTE));

            /* Far too small. */
            CHECK_STATUS(zipnn_compress(&o, src, n, dst, 1, &w), ZIPNN_ERROR_DST_TOO_SMALL);
            CHECK(w == SENTINEL_SIZE);
            CHECK(all_bytes_are(dst, len + 8, (unsigned char)SENTINEL_BYTE));

            /* Exactly the frame's length (less than the bound) is enough. */
            CHECK_STATUS(zipnn_compress(&o, src, n, dst, len, &w), ZIPNN_OK);
            CHECK(w == len && memcmp(dst, frame, len) == 0);
            CHECK(all_bytes_are(dst + len, 8, (unsigned char)SENTINEL_BYTE));
            free(dst);
            free(src);
            free(frame);
        }
    }
    return 0;
}

static int test_dst_too_small_decompress(void) {
    unsigned char *src = NULL, *frame = NULL;
    unsigned char *dst = (unsigned char *)xmalloc(STD_N + 8);
    size_t len = 0, w = SENTINEL_SIZE;
    CHECK_OK_HELPER(standard_frame(&src, &frame, &len));
    memset(dst, (int)SENTINEL_BYTE, STD_N + 8);
    CHECK_STATUS(zipnn_decompress(frame, len, dst, STD_N - 1, &w), ZIPNN_ERROR_DST_TOO_SMALL);
    CHECK(w == SENTINEL_SIZE);
    CHECK(all_bytes_are(dst, STD_N + 8, (unsigned char)SENTINEL_BYTE));
    CHECK_STATUS(zipnn_decompress(frame, len, dst, 1, &w), ZIPNN_ERROR_DST_TOO_SMALL);
    CHECK(w == SENTINEL_SIZE);
    CHECK(all_bytes_are(dst, STD_N + 8, (unsigned char)SENTINEL_BYTE));
    /* A larger destination is fine; bytes past the output are untouched. */
    CHECK_STATUS(zipnn_decompress(frame, len, dst, STD_N + 8, &w), ZIPNN_OK);
    CHECK(w == STD_N && memcmp(dst, src, STD_N) == 0);
    CHECK(all_bytes_are(dst + STD_N, 8, (unsigned char)SENTINEL_BYTE));
    free(src);
    free(frame);
    free(dst);
    return 0;
}

static int test_truncated_frames(void) {
    /* Every prefix of a frame is an error, never OK, and never touches dst/out_written. */
    static const size_t sizes[] = {0, 5, 3 * TEST_CHUNK + 100};
    unsigned char meta[9] = {1, 2, 3, 4, 5, 6, 7, 8, 9};
    size_t k;
    for (k = 0; k < sizeof sizes / sizeof sizes[0]; k++) {
        const size_t n = sizes[k];
        unsigned char *src = (unsigned char *)xmalloc(n);
        unsigned char *dst = (unsigned char *)xmalloc(n + 1);
        zipnn_options o = make_opts(ZIPNN_DTYPE_FP32, ZIPNN_METHOD_AUTO, 0);
        size_t bound = bound_of(&o, n) + sizeof meta;
        unsigned char *frame = (unsigned char *)xmalloc(bound);
        size_t len = 0, cut;
        gen_data(ZIPNN_DTYPE_FP32, src, n, 8);
        CHECK_STATUS(zipnn_compress_with_metadata(&o, meta, sizeof meta, src, n, frame, bound,
                                                  &len),
                     ZIPNN_OK);
        for (cut = 0; cut < len; cut++) {
            size_t w = SENTINEL_SIZE;
            uint64_t sz = 777;
            zipnn_status st;
            memset(dst, (int)SENTINEL_BYTE, n + 1);
            st = zipnn_decompress(cut ? frame : NULL, cut, dst, n + 1, &w);
            if (st == ZIPNN_OK || w != SENTINEL_SIZE ||
                !all_bytes_are(dst, n + 1, (unsigned char)SENTINEL_BYTE)) {
                fprintf(stderr, "truncated at %lu of %lu: status %d\n", (unsigned long)cut,
                        (unsigned long)len, (int)st);
                return 1;
            }
            CHECK(st == ZIPNN_ERROR_TRUNCATED);
            CHECK(zipnn_verify(frame, cut) == ZIPNN_ERROR_TRUNCATED);
            st = zipnn_get_decompressed_size(frame, cut, &sz);
            /* The header alone may be complete; then the size is known. */
            CHECK(st == ZIPNN_ERROR_TRUNCATED || (st == ZIPNN_OK && sz == n));
            if (st != ZIPNN_OK) {
                CHECK(sz == 777);
            }
        }
        free(src);
        free(dst);
        free(frame);
    }
    return 0;
}

static int test_every_flipped_byte_is_detected(void) {
    /* Flipping any bit of any byte gives an error and leaves dst untouched. */
    const size_t n = 3 * TEST_CHUNK + 100;
    unsigned char *src = (unsigned char *)xmalloc(n);
    unsigned char *dst = (unsigned char *)xmalloc(n);
    unsigned char meta[5] = {9, 8, 7, 6, 5};
    zipnn_options o = make_opts(ZIPNN_DTYPE_BF16, ZIPNN_METHOD_AUTO, 0);
    size_t bound = bound_of(&o, n) + sizeof meta;
    unsigned char *frame = (unsigned char *)xmalloc(bound);
    size_t len = 0, i;
    int b;
    gen_data(ZIPNN_DTYPE_BF16, src, n, 31337);
    CHECK_STATUS(zipnn_compress_with_metadata(&o, meta, sizeof meta, src, n, frame, bound, &len),
                 ZIPNN_OK);
    for (i = 0; i < len; i++) {
        for (b = 0; b < 8; b += 3) { /* bits 0, 3, 6 */
            size_t w = SENTINEL_SIZE;
            zipnn_status st;
            frame[i] ^= (unsigned char)(1u << b);
            memset(dst, (int)SENTINEL_BYTE, n);
            st = zipnn_decompress(frame, len, dst, n, &w);
            if (st == ZIPNN_OK || w != SENTINEL_SIZE ||
                !all_bytes_are(dst, n, (unsigned char)SENTINEL_BYTE)) {
                fprintf(stderr, "flip of bit %d at byte %lu of %lu: status %d (%s)\n", b,
                        (unsigned long)i, (unsigned long)len, (int)st, zipnn_error_string(st));
                return 1;
            }
            CHECK(zipnn_verify(frame, len) != ZIPNN_OK);
            frame[i] ^= (unsigned char)(1u << b);
        }
    }
    CHECK_STATUS(zipnn_verify(frame, len), ZIPNN_OK);
    free(src);
    free(dst);
    free(frame);
    return 0;
}

static int test_flipped_header_and_payload_bytes(void) {
    unsigned char *src = NULL, *frame = NULL;
    unsigned char *dst = (unsigned char *)xmalloc(STD_N);
    size_t len = 0, w = SENTINEL_SIZE;
    zipnn_frame_info info;
    uint64_t sz = 0;
    CHECK_OK_HELPER(standard_frame(&src, &frame, &len));
    /* Header: a byte of the first chunk's stored checksum in the chunk table (the table
     * starts after the 40-byte fixed header; this frame has no metadata) changes nothing
     * structural, so the header checksum catches it. */
    frame[43] ^= 0x40u;
    CHECK_STATUS(zipnn_decompress(frame, len, dst, STD_N, &w), ZIPNN_ERROR_CHECKSUM);
    CHECK_STATUS(zipnn_get_decompressed_size(frame, len, &sz), ZIPNN_ERROR_CHECKSUM);
    info.struct_size = (uint32_t)sizeof info;
    CHECK_STATUS(zipnn_get_frame_info(frame, len, &info), ZIPNN_ERROR_CHECKSUM);
    CHECK_STATUS(zipnn_verify(frame, len), ZIPNN_ERROR_CHECKSUM);
    frame[43] ^= 0x40u;
    /* The high byte of original_size changes the chunk count, hence where the header
     * ends: an error (TRUNCATED or CHECKSUM, depending on the layout), never OK. */
    frame[23] ^= 0x40u;
    CHECK(zipnn_decompress(frame, len, dst, STD_N, &w) < 0);
    CHECK(zipnn_verify(frame, len) < 0);
    frame[23] ^= 0x40u;
    /* Payload: the last byte belongs to the last chunk. */
    frame[len - 1] ^= 0x10u;
    CHECK_STATUS(zipnn_decompress(frame, len, dst, STD_N, &w), ZIPNN_ERROR_CHECKSUM);
    CHECK_STATUS(zipnn_verify(frame, len), ZIPNN_ERROR_CHECKSUM);
    /* The header is intact, so inspection still works, and other chunks still decode. */
    CHECK_STATUS(zipnn_get_decompressed_size(frame, len, &sz), ZIPNN_OK);
    CHECK(sz == STD_N);
    CHECK_STATUS(zipnn_decompress_chunk(frame, len, 0, dst, STD_N, &w), ZIPNN_OK);
    CHECK(w == TEST_CHUNK && memcmp(dst, src, w) == 0);
    w = SENTINEL_SIZE;
    CHECK_STATUS(zipnn_decompress_chunk(frame, len, 3, dst, STD_N, &w), ZIPNN_ERROR_CHECKSUM);
    CHECK(w == SENTINEL_SIZE);
    frame[len - 1] ^= 0x10u;
    CHECK_STATUS(zipnn_decompress(frame, len, dst, STD_N, &w), ZIPNN_OK);
    free(src);
    free(frame);
    free(dst);
    return 0;
}

static int test_trailing_garbage(void) {
    unsigned char *src = NULL, *frame = NULL;
    unsigned char *padded;
    unsigned char *dst = (unsigned char *)xmalloc(STD_N);
    size_t len = 0, w = SENTINEL_SIZE;
    uint64_t sz = 0;
    CHECK_OK_HELPER(standard_frame(&src, &frame, &len));
    padded = (unsigned char *)xmalloc(2 * len);
    memcpy(padded, frame, len);
    padded[len] = 0;
    CHECK_STATUS(zipnn_decompress(padded, len + 1, dst, STD_N, &w), ZIPNN_ERROR_CORRUPT);
    CHECK(w == SENTINEL_SIZE);
    /* Two frames back to back are not one frame either. */
    memcpy(padded + len, frame, len);
    CHECK_STATUS(zipnn_decompress(padded, 2 * len, dst, STD_N, &w), ZIPNN_ERROR_CORRUPT);
    CHECK(w == SENTINEL_SIZE);
    /* get_decompressed_size reads only the header. */
    CHECK_STATUS(zipnn_get_decompressed_size(padded, 2 * len, &sz), ZIPNN_OK);
    CHECK(sz == STD_N);
    free(padded);
    free(src);
    free(frame);
    free(dst);
    return 0;
}

static int test_bad_magic_and_version(void) {
    unsigned char *src = NULL, *frame = NULL;
    unsigned char *dst = (unsigned char *)xmalloc(STD_N);
    size_t len = 0, w = SENTINEL_SIZE;
    uint64_t sz = 5;
    int i;
    CHECK_OK_HELPER(standard_frame(&src, &frame, &len));
    for (i = 0; i < 4; i++) {
        frame[i] ^= 0x20u;
        CHECK_STATUS(zipnn_decompress(frame, len, dst, STD_N, &w), ZIPNN_ERROR_BAD_MAGIC);
        CHECK_STATUS(zipnn_get_decompressed_size(frame, len, &sz), ZIPNN_ERROR_BAD_MAGIC);
        CHECK_STATUS(zipnn_verify(frame, len), ZIPNN_ERROR_BAD_MAGIC);
        CHECK_STATUS(zipnn_get_metadata(frame, len, dst, STD_N, &w), ZIPNN_ERROR_BAD_MAGIC);
        CHECK_STATUS(zipnn_decompress_chunk(frame, len, 0, dst, STD_N, &w), ZIPNN_ERROR_BAD_MAGIC);
        frame[i] ^= 0x20u;
    }
    /* A short prefix of garbage is BAD_MAGIC; a short prefix of the magic is TRUNCATED. */
    CHECK_STATUS(zipnn_decompress("xy", 2, dst, STD_N, &w), ZIPNN_ERROR_BAD_MAGIC);
    CHECK_STATUS(zipnn_decompress(frame, 2, dst, STD_N, &w), ZIPNN_ERROR_TRUNCATED);
    CHECK(zipnn_format_version() == frame[4]);
    {
        static const unsigned char versions[] = {0, 2, 0x7F, 0xFF};
        size_t k;
        unsigned char saved = frame[4];
        for (k = 0; k < sizeof versions; k++) {
            if (versions[k] == saved) {
                continue;
            }
            frame[4] = versions[k];
            CHECK_STATUS(zipnn_decompress(frame, len, dst, STD_N, &w),
                         ZIPNN_ERROR_UNSUPPORTED_VERSION);
            CHECK_STATUS(zipnn_get_decompressed_size(frame, len, &sz),
                         ZIPNN_ERROR_UNSUPPORTED_VERSION);
            CHECK_STATUS(zipnn_verify(frame, len), ZIPNN_ERROR_UNSUPPORTED_VERSION);
        }
        frame[4] = saved;
    }
    CHECK(w == SENTINEL_SIZE);
    CHECK(sz == 5);
    CHECK_STATUS(zipnn_decompress(frame, len, dst, STD_N, &w), ZIPNN_OK);
    free(src);
    free(frame);
    free(dst);
    return 0;
}

static int test_max_decompressed_size(void) {
    unsigned char *src = NULL, *frame = NULL;
    unsigned char *dst = (unsigned char *)xmalloc(STD_N);
    size_t len = 0, w = SENTINEL_SIZE;
    zipnn_options o;
    CHECK_OK_HELPER(standard_frame(&src, &frame, &len));
    zipnn_options_init(&o);
    o.max_decompressed_size = STD_N - 1;
    memset(dst, (int)SENTINEL_BYTE, STD_N);
    CHECK_STATUS(zipnn_decompress_with_options(&o, frame, len, dst, STD_N, &w),
                 ZIPNN_ERROR_LIMIT_EXCEEDED);
    CHECK(w == SENTINEL_SIZE);
    CHECK(all_bytes_are(dst, STD_N, (unsigned char)SENTINEL_BYTE));
    o.max_decompressed_size = 1;
    CHECK_STATUS(zipnn_decompress_with_options(&o, frame, len, dst, STD_N, &w),
                 ZIPNN_ERROR_LIMIT_EXCEEDED);
    o.max_decompressed_size = STD_N;
    CHECK_STATUS(zipnn_decompress_with_options(&o, frame, len, dst, STD_N, &w), ZIPNN_OK);
    CHECK(w == STD_N && memcmp(dst, src, STD_N) == 0);
    o.max_decompressed_size = 0; /* no limit */
    CHECK_STATUS(zipnn_decompress_with_options(&o, frame, len, dst, STD_N, &w), ZIPNN_OK);
    /* Compression fields are ignored on decompression, even invalid ones. */
    o.dtype = 99;
    o.level = 9;
    o.chunk_size = 100;
    CHECK_STATUS(zipnn_decompress_with_options(&o, frame, len, dst, STD_N, &w), ZIPNN_OK);
    /* ...but reserved fields are still checked. */
    zipnn_options_init(&o);
    o.reserved[0] = 1;
    w = SENTINEL_SIZE;
    CHECK_STATUS(zipnn_decompress_with_options(&o, frame, len, dst, STD_N, &w),
                 ZIPNN_ERROR_INVALID_PARAM);
    CHECK(w == SENTINEL_SIZE);
    free(src);
    free(frame);
    free(dst);
    return 0;
}

/* Compresses a small input with `o` and checks the status; on error also checks that
 * nothing was written and that compress_bound reports 0. */
static int expect_compress_status(const zipnn_options *o, zipnn_status want, int line) {
    unsigned char src[4096];
    unsigned char dst[8192];
    size_t w = SENTINEL_SIZE;
    zipnn_status st;
    memset(src, 3, sizeof src);
    memset(dst, (int)SENTINEL_BYTE, sizeof dst);
    st = zipnn_compress(o, src, sizeof src, dst, sizeof dst, &w);
    if (st != want) {
        fprintf(stderr, "%s:%d: compress returned %d (%s), expected %d (%s)\n", __FILE__, line,
                (int)st, zipnn_error_string(st), (int)want, zipnn_error_string(want));
        return 1;
    }
    if (want != ZIPNN_OK) {
        if (w != SENTINEL_SIZE || !all_bytes_are(dst, sizeof dst, (unsigned char)SENTINEL_BYTE)) {
            fprintf(stderr, "%s:%d: output written on error\n", __FILE__, line);
            return 1;
        }
        size_t b = SENTINEL_SIZE;
        zipnn_status bs = zipnn_compress_bound(o, sizeof src, &b);
        if (bs != want || b != SENTINEL_SIZE) {
            fprintf(stderr, "%s:%d: compress_bound gave %d, not the same error\n", __FILE__, line,
                    (int)bs);
            return 1;
        }
    }
    return 0;
}
#define EXPECT_COMPRESS(o, want) CHECK_OK_HELPER(expect_compress_status(&(o), (want), __LINE__))

static int test_bad_options(void) {
    zipnn_options o;

#define RESET() zipnn_options_init(&o)
    RESET();
    EXPECT_COMPRESS(o, ZIPNN_OK);

    RESET(); o.struct_size = 0;            EXPECT_COMPRESS(o, ZIPNN_ERROR_INVALID_PARAM);
    RESET(); o.struct_size = 4;            EXPECT_COMPRESS(o, ZIPNN_ERROR_INVALID_PARAM);
    RESET(); o.reserved[0] = 1;            EXPECT_COMPRESS(o, ZIPNN_ERROR_INVALID_PARAM);
    RESET(); o.reserved[4] = 0x80000000u;  EXPECT_COMPRESS(o, ZIPNN_ERROR_INVALID_PARAM);
    RESET(); o.dtype = 9;                  EXPECT_COMPRESS(o, ZIPNN_ERROR_UNSUPPORTED_DTYPE);
    RESET(); o.dtype = 0xFFFFFFFFu;        EXPECT_COMPRESS(o, ZIPNN_ERROR_UNSUPPORTED_DTYPE);
    RESET(); o.method = 6;                 EXPECT_COMPRESS(o, ZIPNN_ERROR_UNSUPPORTED_METHOD);
    RESET(); o.method = 0xFFFFFFFFu;       EXPECT_COMPRESS(o, ZIPNN_ERROR_UNSUPPORTED_METHOD);
    RESET(); o.level = 9;                  EXPECT_COMPRESS(o, ZIPNN_ERROR_INVALID_PARAM);
    RESET(); o.level = 4;                  EXPECT_COMPRESS(o, ZIPNN_ERROR_INVALID_PARAM);
    RESET(); o.level = -1;                 EXPECT_COMPRESS(o, ZIPNN_ERROR_INVALID_PARAM);
    RESET(); o.chunk_size = 100;           EXPECT_COMPRESS(o, ZIPNN_ERROR_INVALID_PARAM);
    RESET(); o.chunk_size = 1023;          EXPECT_COMPRESS(o, ZIPNN_ERROR_INVALID_PARAM);
    RESET(); o.chunk_size = 1024;          EXPECT_COMPRESS(o, ZIPNN_OK);
    RESET(); o.chunk_size = 67108864u;     EXPECT_COMPRESS(o, ZIPNN_OK);
    RESET(); o.chunk_size = 67108865u;     EXPECT_COMPRESS(o, ZIPNN_ERROR_INVALID_PARAM);
    RESET(); o.dtype = ZIPNN_DTYPE_FP32; o.chunk_size = 1026;
    EXPECT_COMPRESS(o, ZIPNN_ERROR_INVALID_PARAM); /* not a multiple of the element size */
    RESET(); o.dtype = ZIPNN_DTYPE_FP64; o.chunk_size = 1028;
    EXPECT_COMPRESS(o, ZIPNN_ERROR_INVALID_PARAM);
    RESET(); o.bg_partitions = 8; o.chunk_size = 1028;
    EXPECT_COMPRESS(o, ZIPNN_ERROR_INVALID_PARAM);
    RESET(); o.threshold = 2.0f;           EXPECT_COMPRESS(o, ZIPNN_ERROR_INVALID_PARAM);
    RESET(); o.threshold = 1.0001f;        EXPECT_COMPRESS(o, ZIPNN_ERROR_INVALID_PARAM);
    RESET(); o.threshold = -0.5f;          EXPECT_COMPRESS(o, ZIPNN_ERROR_INVALID_PARAM);
    RESET(); o.threshold = (float)NAN;     EXPECT_COMPRESS(o, ZIPNN_ERROR_INVALID_PARAM);
    RESET(); o.threshold = (float)INFINITY; EXPECT_COMPRESS(o, ZIPNN_ERROR_INVALID_PARAM);
    RESET(); o.threshold = 1.0f;           EXPECT_COMPRESS(o, ZIPNN_OK);
    RESET(); o.threshold = 0.0f;           EXPECT_COMPRESS(o, ZIPNN_OK); /* 0 = default */
    RESET(); o.bg_partitions = 3;          EXPECT_COMPRESS(o, ZIPNN_ERROR_INVALID_PARAM);
    RESET(); o.bg_partitions = 16;         EXPECT_COMPRESS(o, ZIPNN_ERROR_INVALID_PARAM);
    RESET(); o.dtype = ZIPNN_DTYPE_BF16; o.bg_partitions = 2;
    EXPECT_COMPRESS(o, ZIPNN_ERROR_INVALID_PARAM);
    RESET(); o.dtype = ZIPNN_DTYPE_FP32; o.bg_partitions = 4;
    EXPECT_COMPRESS(o, ZIPNN_ERROR_INVALID_PARAM);
    RESET(); o.dtype = ZIPNN_DTYPE_FP32; o.bg_partitions = 0;
    EXPECT_COMPRESS(o, ZIPNN_OK);
    RESET(); o.zstd_level = 23;            EXPECT_COMPRESS(o, ZIPNN_ERROR_INVALID_PARAM);
    RESET(); o.zstd_level = -8;            EXPECT_COMPRESS(o, ZIPNN_ERROR_INVALID_PARAM);
    RESET(); o.zstd_level = 22;            EXPECT_COMPRESS(o, ZIPNN_OK);
    RESET(); o.zstd_level = -7;            EXPECT_COMPRESS(o, ZIPNN_OK);
    RESET(); o.lz4_level = 13;             EXPECT_COMPRESS(o, ZIPNN_ERROR_INVALID_PARAM);
    RESET(); o.lz4_level = -1;             EXPECT_COMPRESS(o, ZIPNN_ERROR_INVALID_PARAM);
    RESET(); o.lz4_level = 12;             EXPECT_COMPRESS(o, ZIPNN_OK);
    RESET(); o.threads = 1025;             EXPECT_COMPRESS(o, ZIPNN_ERROR_INVALID_PARAM);
    RESET(); o.threads = 3;                EXPECT_COMPRESS(o, ZIPNN_OK);
#undef RESET
    return 0;
}

/* zipnn_options.target: both targets are accepted and round-trip for every dtype, method
 * and level (a frame decodes to the same bytes whatever its target); an unknown target is
 * INVALID_PARAM with nothing written; decompression ignores it; a caller from before the
 * field (struct_size up to it) gets ZIPNN_TARGET_ANY. */
static int test_options_target(void) {
    static const uint32_t targets[] = {ZIPNN_TARGET_ANY, ZIPNN_TARGET_AVX512};
    static const uint32_t bad[] = {2, 7, 0x80000000u, 0xFFFFFFFFu};
    static const int32_t levels[] = {ZIPNN_LEVEL_FAST, ZIPNN_LEVEL_DEFAULT, ZIPNN_LEVEL_MAX};
    const size_t n = 3 * TEST_CHUNK + 100;
    unsigned char *src = (unsigned char *)xmalloc(n);
    unsigned char *f_any = NULL, *frame = NULL;
    size_t len_any = 0, len = 0, w = SENTINEL_SIZE;
    size_t d, m, l, t;
    zipnn_options o;
    {
        zipnn_options init = ZIPNN_OPTIONS_INIT;
        CHECK(init.target == ZIPNN_TARGET_ANY && ZIPNN_TARGET_ANY == 0);
        CHECK(ZIPNN_TARGET_AVX512 == 1);
        memset(&o, 0x5A, sizeof o);
        zipnn_options_init(&o);
        CHECK(o.target == ZIPNN_TARGET_ANY);
    }
    for (t = 0; t < 2; t++) {
        for (d = 0; d < N_DTYPES; d++) {
            gen_data(ALL_DTYPES[d], src, n, 40 + d);
            for (m = 0; m < N_METHODS; m++) {
                for (l = 0; l < 3; l++) {
                    o = make_opts(ALL_DTYPES[d], ALL_METHODS[m], levels[l]);
                    o.target = targets[t];
                    CHECK_OK_HELPER(roundtrip_check(&o, src, n));
                }
            }
        }
    }

    /* Unknown targets: refused by compress and compress_bound, output untouched. */
    for (t = 0; t < sizeof bad / sizeof bad[0]; t++) {
        zipnn_options_init(&o);
        o.target = bad[t];
        EXPECT_COMPRESS(o, ZIPNN_ERROR_INVALID_PARAM);
        o.dtype = ZIPNN_DTYPE_BF16;
        EXPECT_COMPRESS(o, ZIPNN_ERROR_INVALID_PARAM);
    }

    /* Decompression reads no compression field: a frame of either target decodes with
     * options whose target is unknown. */
    gen_data(ZIPNN_DTYPE_BF16, src, n, 7);
    o = make_opts(ZIPNN_DTYPE_BF16, ZIPNN_METHOD_AUTO, 0);
    CHECK_OK_HELPER(compress_alloc(&o, src, n, &f_any, &len_any));
    o.target = ZIPNN_TARGET_AVX512;
    CHECK_OK_HELPER(compress_alloc(&o, src, n, &frame, &len));
    {
        unsigned char *out = (unsigned char *)xmalloc(n);
        zipnn_options dopts;
        zipnn_options_init(&dopts);
        dopts.target = 7;
        memset(out, 0, n);
        CHECK_STATUS(zipnn_decompress_with_options(&dopts, frame, len, out, n, &w), ZIPNN_OK);
        CHECK(w == n && memcmp(out, src, n) == 0);
        memset(out, 0, n);
        CHECK_STATUS(zipnn_decompress(f_any, len_any, out, n, &w), ZIPNN_OK);
        CHECK(w == n && memcmp(out, src, n) == 0);
        free(out);
    }
    free(frame);
    frame = NULL;

    /* A caller built before the field: target lies past its struct_size and holds garbage
     * that would be refused if read; the frame is the default target's. */
    o = make_opts(ZIPNN_DTYPE_BF16, ZIPNN_METHOD_AUTO, 0);
    o.struct_size = (uint32_t)offsetof(zipnn_options, target);
    o.target = 0xFFFFFFFFu;
    o.reserved[0] = 0xFFFFFFFFu;
    CHECK_OK_HELPER(compress_alloc(&o, src, n, &frame, &len));
    CHECK(len == len_any && memcmp(frame, f_any, len) == 0);
    free(frame);
    free(f_any);
    free(src);
    return 0;
}

static int test_options_struct_size_versions(void) {
    /* A newer caller's larger struct: accepted with a zero tail, rejected otherwise. */
    struct {
        zipnn_options o;
        uint32_t extra[6];
    } big;
    zipnn_options o;
    unsigned char src[2048];
    unsigned char dst[4096];
    unsigned char *f_ref = NULL;
    size_t len_ref = 0;
    size_t w = 0;
    memset(src, 0x42, sizeof src);
    CHECK_OK_HELPER(compress_alloc(NULL, src, sizeof src, &f_ref, &len_ref));

    memset(&big, 0, sizeof big);
    zipnn_options_init(&big.o);
    big.o.struct_size = (uint32_t)sizeof big;
    CHECK_STATUS(zipnn_compress(&big.o, src, sizeof src, dst, sizeof dst, &w), ZIPNN_OK);
    CHECK(w == len_ref && memcmp(dst, f_ref, w) == 0);
    CHECK(bound_of(&big.o, sizeof src) > 0);
    big.extra[5] = 1;
    w = SENTINEL_SIZE;
    CHECK_STATUS(zipnn_compress(&big.o, src, sizeof src, dst, sizeof dst, &w),
                 ZIPNN_ERROR_INVALID_PARAM);
    CHECK(w == SENTINEL_SIZE);
    CHECK(bound_of(&big.o, sizeof src) == 0);
    CHECK_STATUS(zipnn_decompress_with_options(&big.o, f_ref, len_ref, dst, sizeof dst, &w),
                 ZIPNN_ERROR_INVALID_PARAM);
    big.extra[5] = 0;
    big.extra[0] = 0x100;
    CHECK_STATUS(zipnn_compress(&big.o, src, sizeof src, dst, sizeof dst, &w),
                 ZIPNN_ERROR_INVALID_PARAM);

    /* An older caller's shorter struct: fields past struct_size are not read, and take
     * their defaults (here they hold garbage that would be invalid if read). */
    memset(&o, 0xFF, sizeof o);
    o.struct_size = 8;
    o.dtype = ZIPNN_DTYPE_RAW;
    CHECK_STATUS(zipnn_compress(&o, src, sizeof src, dst, sizeof dst, &w), ZIPNN_OK);
    CHECK(w == len_ref && memcmp(dst, f_ref, w) == 0);
    memset(&o, 0xFF, sizeof o);
    o.struct_size = (uint32_t)offsetof(zipnn_options, zstd_level);
    o.dtype = ZIPNN_DTYPE_FP16;
    o.method = ZIPNN_METHOD_AUTO;
    o.level = 0;
    o.threads = 1;
    o.chunk_size = 1024;
    CHECK_STATUS(zipnn_compress(&o, src, sizeof src, dst, sizeof dst, &w), ZIPNN_OK);
    {
        zipnn_frame_info info;
        info.struct_size = (uint32_t)sizeof info;
        CHECK_STATUS(zipnn_get_frame_info(dst, w, &info), ZIPNN_OK);
        CHECK(info.dtype == ZIPNN_DTYPE_FP16 && info.chunk_size == 1024 && info.chunk_count == 2);
    }
    free(f_ref);
    return 0;
}

static int test_overlapping_buffers(void) {
    const size_t n = 2 * TEST_CHUNK;
    zipnn_options o = make_opts(ZIPNN_DTYPE_FP32, ZIPNN_METHOD_AUTO, 0);
    size_t bound = bound_of(&o, n);
    unsigned char *buf = (unsigned char *)xmalloc(n + bound);
    unsigned char *frame = NULL;
    size_t len = 0, w = SENTINEL_SIZE;
    gen_data(ZIPNN_DTYPE_FP32, buf, n, 4);
    /* dst overlapping src */
    CHECK_STATUS(zipnn_compress(&o, buf, n, buf + n / 2, bound, &w), ZIPNN_ERROR_INVALID_PARAM);
    CHECK(w == SENTINEL_SIZE);
    CHECK_OK_HELPER(compress_alloc(&o, buf, n, &frame, &len));
    /* decompress in place */
    memcpy(buf, frame, len);
    CHECK_STATUS(zipnn_decompress(buf, len, buf, n + bound, &w), ZIPNN_ERROR_INVALID_PARAM);
    CHECK(w == SENTINEL_SIZE);
    CHECK(memcmp(buf, frame, len) == 0);
    /* adjacent (not overlapping) is fine */
    CHECK_STATUS(zipnn_decompress(buf, len, buf + len, n, &w), ZIPNN_OK);
    CHECK(w == n);
    free(buf);
    free(frame);
    return 0;
}

static int test_damaged_fixed_header_is_a_checksum_error(void) {
    /* The fixed header carries its own checksum: damage to flags, dtype or the size fields is
     * CHECKSUM, never a misread field and never mistaken for truncation. (Frames with unknown
     * flags or dtypes and correct checksums are in tests/vectors: test_golden_vectors.) */
    static const size_t at[] = {5, 6, 8, 17, 23, 24, 33, 36};
    unsigned char *src = NULL, *frame = NULL;
    unsigned char *dst = (unsigned char *)xmalloc(STD_N);
    size_t len = 0, w = SENTINEL_SIZE, i;
    uint64_t sz = 5;
    CHECK_OK_HELPER(standard_frame(&src, &frame, &len));
    for (i = 0; i < sizeof at / sizeof at[0]; i++) {
        frame[at[i]] ^= 0x40u;
        CHECK_STATUS(zipnn_decompress(frame, len, dst, STD_N, &w), ZIPNN_ERROR_CHECKSUM);
        CHECK_STATUS(zipnn_get_decompressed_size(frame, len, &sz), ZIPNN_ERROR_CHECKSUM);
        CHECK_STATUS(zipnn_verify(frame, len), ZIPNN_ERROR_CHECKSUM);
        frame[at[i]] ^= 0x40u;
    }
    CHECK(w == SENTINEL_SIZE && sz == 5);
    CHECK_STATUS(zipnn_decompress(frame, len, dst, STD_N, &w), ZIPNN_OK);
    free(src);
    free(frame);
    free(dst);
    return 0;
}

#ifdef ZIPNN_VECTORS_DIR
static unsigned char *read_file(const char *rel, size_t *len) {
    char path[1024];
    FILE *f;
    long n;
    unsigned char *buf;
    snprintf(path, sizeof path, "%s/%s", ZIPNN_VECTORS_DIR, rel);
    f = fopen(path, "rb");
    if (!f) {
        printf("  cannot open %s\n", path);
        return NULL;
    }
    fseek(f, 0, SEEK_END);
    n = ftell(f);
    fseek(f, 0, SEEK_SET);
    buf = (unsigned char *)xmalloc((size_t)n + 1);
    if (fread(buf, 1, (size_t)n, f) != (size_t)n) {
        fclose(f);
        free(buf);
        return NULL;
    }
    fclose(f);
    *len = (size_t)n;
    return buf;
}

static zipnn_status status_by_name(const char *name) {
    static const struct {
        const char *name;
        zipnn_status code;
    } names[] = {
        {"Ok", ZIPNN_OK},
        {"BadMagic", ZIPNN_ERROR_BAD_MAGIC},
        {"UnsupportedVersion", ZIPNN_ERROR_UNSUPPORTED_VERSION},
        {"UnsupportedFlags", ZIPNN_ERROR_UNSUPPORTED_FLAGS},
        {"UnsupportedDtype", ZIPNN_ERROR_UNSUPPORTED_DTYPE},
        {"UnsupportedCodec", ZIPNN_ERROR_UNSUPPORTED_CODEC},
        {"Truncated", ZIPNN_ERROR_TRUNCATED},
        {"Corrupt", ZIPNN_ERROR_CORRUPT},
        {"Checksum", ZIPNN_ERROR_CHECKSUM},
        {"BaseRequired", ZIPNN_ERROR_BASE_REQUIRED},
    };
    size_t i;
    for (i = 0; i < sizeof names / sizeof names[0]; i++) {
        if (strcmp(names[i].name, name) == 0) {
            return names[i].code;
        }
    }
    return 1; /* not a status: fails the comparison */
}

/* Splits `s` in place at `sep`; returns the next field and advances *s (NULL at the end). */
static char *next_field(char **s, char sep) {
    char *start = *s, *end;
    if (!start || !*start) {
        return NULL;
    }
    end = strchr(start, sep);
    if (end) {
        *end = 0;
        *s = end + 1;
    } else {
        *s = start + strlen(start);
    }
    return start;
}

static int test_golden_vectors(void) {
    /* tests/vectors/manifest.tsv: valid frames decode to their inputs, invalid ones give
     * their listed status. Columns: name kind dtype method chunk bg input frame expect. */
    size_t mlen = 0, checked = 0;
    unsigned char *manifest = read_file("manifest.tsv", &mlen);
    char *line, *rest;
    CHECK(manifest != NULL);
    manifest[mlen] = 0;
    rest = (char *)manifest;
    while ((line = next_field(&rest, '\n')) != NULL) {
        char *col[9], *s2 = line, *tok;
        int ncol = 0;
        size_t flen = 0, ilen = 0, cap, w = SENTINEL_SIZE;
        unsigned char *frame, *input = NULL, *out;
        zipnn_status want, got;
        if (line[0] == '#') {
            continue;
        }
        while (ncol < 9 && (tok = next_field(&s2, '\t')) != NULL) {
            col[ncol++] = tok;
        }
        CHECK(ncol == 9);
        frame = read_file(col[7], &flen);
        CHECK(frame != NULL);
        want = status_by_name(col[8]);
        if (want == ZIPNN_OK) {
            input = read_file(col[6], &ilen);
            CHECK(input != NULL);
        }
        /* Invalid frames get room for any size they might claim, so that the listed error,
         * not DST_TOO_SMALL, is what they produce. */
        cap = want == ZIPNN_OK ? ilen : (size_t)1 << 20;
        out = (unsigned char *)xmalloc(cap + 1);
        got = zipnn_decompress(frame, flen, out, cap, &w);
        if (got != want) {
            printf("  vector %s: got %d, want %d\n", col[0], (int)got, (int)want);
        }
        CHECK(got == want);
        if (want == ZIPNN_OK) {
            CHECK(w == ilen && memcmp(out, input, ilen) == 0);
        } else {
            CHECK(w == SENTINEL_SIZE);
        }
        free(out);
        free(input);
        free(frame);
        checked++;
    }
    CHECK(checked >= 20);
    free(manifest);
    return 0;
}

static int test_golden_delta_vectors(void) {
    /* tests/vectors/delta.tsv: delta frames decode to their inputs with their bases, are
     * BASE_REQUIRED without one and BASE_MISMATCH with another base of the same length,
     * and leave the output untouched on those errors. Columns: name dtype input base frame. */
    size_t mlen = 0, checked = 0;
    unsigned char *manifest = read_file("delta.tsv", &mlen);
    char *line, *rest;
    CHECK(manifest != NULL);
    manifest[mlen] = 0;
    rest = (char *)manifest;
    while ((line = next_field(&rest, '\n')) != NULL) {
        char *col[5], *s2 = line, *tok;
        int ncol = 0;
        size_t flen = 0, ilen = 0, blen = 0, w = SENTINEL_SIZE;
        unsigned char *frame, *input, *base, *out;
        if (line[0] == '#') {
            continue;
        }
        while (ncol < 5 && (tok = next_field(&s2, '\t')) != NULL) {
            col[ncol++] = tok;
        }
        CHECK(ncol == 5);
        input = read_file(col[2], &ilen);
        base = read_file(col[3], &blen);
        frame = read_file(col[4], &flen);
        CHECK(input != NULL && base != NULL && frame != NULL);
        out = (unsigned char *)xmalloc(ilen + 1);
        memset(out, 0x5A, ilen + 1);
        CHECK(zipnn_decompress(frame, flen, out, ilen, &w) == ZIPNN_ERROR_BASE_REQUIRED);
        CHECK(w == SENTINEL_SIZE && out[0] == 0x5A && out[ilen - 1] == 0x5A);
        base[0] ^= 1;
        CHECK(zipnn_decompress_delta(NULL, base, blen, frame, flen, out, ilen, &w) ==
              ZIPNN_ERROR_BASE_MISMATCH);
        CHECK(w == SENTINEL_SIZE && out[0] == 0x5A && out[ilen - 1] == 0x5A);
        base[0] ^= 1;
        CHECK(zipnn_decompress_delta(NULL, base, blen, frame, flen, out, ilen, &w) == ZIPNN_OK);
        CHECK(w == ilen && memcmp(out, input, ilen) == 0);
        free(out);
        free(frame);
        free(base);
        free(input);
        checked++;
    }
    CHECK(checked >= 1);
    free(manifest);
    return 0;
}
#endif

static int test_compress_bound(void) {
    zipnn_options o = make_opts(ZIPNN_DTYPE_FP32, ZIPNN_METHOD_AUTO, 0);
    size_t prev = 0, n, b = SENTINEL_SIZE;
    /* Monotonic in the size, never below the input; errors are a status. */
    for (n = 0; n < 3 * TEST_CHUNK; n += 511) {
        b = SENTINEL_SIZE;
        CHECK_STATUS(zipnn_compress_bound(&o, n, &b), ZIPNN_OK);
        CHECK(b > n);
        CHECK(b >= prev);
        prev = b;
    }
    b = SENTINEL_SIZE;
    CHECK_STATUS(zipnn_compress_bound(&o, SIZE_MAX, &b), ZIPNN_ERROR_SRC_TOO_LARGE);
    CHECK_STATUS(zipnn_compress_bound(NULL, SIZE_MAX - 100, &b), ZIPNN_ERROR_SRC_TOO_LARGE);
    CHECK(b == SENTINEL_SIZE);
    CHECK_STATUS(zipnn_compress_bound(&o, 10, NULL), ZIPNN_ERROR_NULL_POINTER);
    o.dtype = 99;
    CHECK_STATUS(zipnn_compress_bound(&o, 10, &b), ZIPNN_ERROR_UNSUPPORTED_DTYPE);
    CHECK(b == SENTINEL_SIZE);
    return 0;
}

static int test_decompress_options_threads(void) {
    unsigned char *src = NULL, *frame = NULL;
    unsigned char *dst = (unsigned char *)xmalloc(STD_N);
    size_t len = 0, w = SENTINEL_SIZE;
    zipnn_options o;
    static const uint32_t ok_threads[] = {0, 1, 2, 7, 1024};
    size_t i;
    CHECK_OK_HELPER(standard_frame(&src, &frame, &len));
    zipnn_options_init(&o);
    for (i = 0; i < sizeof ok_threads / sizeof ok_threads[0]; i++) {
        o.threads = ok_threads[i];
        memset(dst, 0, STD_N);
        CHECK_STATUS(zipnn_decompress_with_options(&o, frame, len, dst, STD_N, &w), ZIPNN_OK);
        CHECK(w == STD_N && memcmp(dst, src, STD_N) == 0);
    }
    o.threads = 1025;
    w = SENTINEL_SIZE;
    CHECK_STATUS(zipnn_decompress_with_options(&o, frame, len, dst, STD_N, &w),
                 ZIPNN_ERROR_INVALID_PARAM);
    CHECK(w == SENTINEL_SIZE);
    free(src);
    free(frame);
    free(dst);
    return 0;
}

static int test_overlapping_metadata(void) {
    const size_t n = TEST_CHUNK;
    zipnn_options o = make_opts(ZIPNN_DTYPE_FP32, ZIPNN_METHOD_AUTO, 0);
    size_t bound = bound_of(&o, n) + 64;
    unsigned char *src = (unsigned char *)xmalloc(n);
    unsigned char *buf = (unsigned char *)xmalloc(bound + 64);
    size_t w = SENTINEL_SIZE, len = 0;
    gen_data(ZIPNN_DTYPE_FP32, src, n, 12);
    memset(buf, 7, bound + 64);
    /* metadata inside dst */
    CHECK_STATUS(zipnn_compress_with_metadata(&o, buf + 10, 16, src, n, buf, bound, &w),
                 ZIPNN_ERROR_INVALID_PARAM);
    CHECK(w == SENTINEL_SIZE);
    /* metadata just after dst is fine */
    CHECK_STATUS(zipnn_compress_with_metadata(&o, buf + bound, 16, src, n, buf, bound, &len),
                 ZIPNN_OK);
    /* get_metadata into the frame itself */
    CHECK_STATUS(zipnn_get_metadata(buf, len, buf + 4, 16, &w), ZIPNN_ERROR_INVALID_PARAM);
    CHECK_STATUS(zipnn_decompress_chunk(buf, len, 0, buf + 8, n, &w), ZIPNN_ERROR_INVALID_PARAM);
    CHECK(w == SENTINEL_SIZE);
    free(src);
    free(buf);
    return 0;
}

/* ------------------------------------------------------------------------------------ */
/* Strings and versions                                                                   */
/* ------------------------------------------------------------------------------------ */

static int test_error_strings(void) {
    static const zipnn_status codes[] = {
        ZIPNN_OK,
        ZIPNN_ERROR_NULL_POINTER,
        ZIPNN_ERROR_INVALID_PARAM,
        ZIPNN_ERROR_UNSUPPORTED_DTYPE,
        ZIPNN_ERROR_UNSUPPORTED_METHOD,
        ZIPNN_ERROR_BASE_REQUIRED,
        ZIPNN_ERROR_BASE_MISMATCH,
        ZIPNN_ERROR_NOT_FOUND,
        ZIPNN_ERROR_DST_TOO_SMALL,
        ZIPNN_ERROR_SRC_TOO_LARGE,
        ZIPNN_ERROR_LIMIT_EXCEEDED,
        ZIPNN_ERROR_BAD_MAGIC,
        ZIPNN_ERROR_UNSUPPORTED_VERSION,
        ZIPNN_ERROR_UNSUPPORTED_FLAGS,
        ZIPNN_ERROR_UNSUPPORTED_CODEC,
        ZIPNN_ERROR_TRUNCATED,
        ZIPNN_ERROR_CORRUPT,
        ZIPNN_ERROR_CHECKSUM,
        ZIPNN_ERROR_ALLOC,
        ZIPNN_ERROR_IO,
        ZIPNN_ERROR_INTERNAL,
        ZIPNN_ERROR_INTERNAL_PANIC,
        ZIPNN_ERROR_BAD_SAFETENSORS,
    };
    const size_t nc = sizeof codes / sizeof codes[0];
    const char *unknown = zipnn_error_string(-1000);
    size_t i, j;
    CHECK(unknown != NULL);
    CHECK(strcmp(unknown, "unknown status") == 0);
    CHECK(strcmp(zipnn_error_string(1), unknown) == 0);
    CHECK(strcmp(zipnn_error_string(INT32_MIN), unknown) == 0);
    CHECK(strcmp(zipnn_error_string(INT32_MAX), unknown) == 0);
    CHECK(strcmp(zipnn_error_string(-8), unknown) == 0);
    CHECK(strcmp(zipnn_error_string(-42), unknown) == 0);
    for (i = 0; i < nc; i++) {
        const char *s = zipnn_error_string(codes[i]);
        CHECK(s != NULL);
        CHECK(strlen(s) > 0);
        CHECK(strcmp(s, unknown) != 0);
        CHECK(codes[i] <= 0);
        for (j = 0; j < i; j++) {
            CHECK(codes[i] != codes[j]);
            CHECK(strcmp(s, zipnn_error_string(codes[j])) != 0);
        }
    }
    return 0;
}

static int test_versions(void) {
    char buf[64];
    const char *vs = zipnn_version_string();
    CHECK(vs != NULL);
    CHECK(zipnn_version_number() == ZIPNN_VERSION_NUMBER);
    CHECK(strcmp(vs, ZIPNN_VERSION_STRING) == 0);
    CHECK(ZIPNN_VERSION_NUMBER ==
          ZIPNN_VERSION_MAJOR * 10000 + ZIPNN_VERSION_MINOR * 100 + ZIPNN_VERSION_PATCH);
    sprintf(buf, "%d.%d.%d", ZIPNN_VERSION_MAJOR, ZIPNN_VERSION_MINOR, ZIPNN_VERSION_PATCH);
    CHECK(strcmp(buf, vs) == 0);
#ifdef ZIPNN_EXPECTED_VERSION
    /* The build passes the version parsed from Cargo.toml. */
    CHECK(strcmp(ZIPNN_EXPECTED_VERSION, vs) == 0);
#endif
    CHECK(zipnn_format_version() >= 1);
    return 0;
}

/* ------------------------------------------------------------------------------------ */

#define TEST(f) {#f, f}
static const test_case TESTS[] = {
    TEST(test_versions),
    TEST(test_error_strings),
    TEST(test_options_init_matches_macro),
    TEST(test_null_options_are_defaults),
    TEST(test_empty_input),
    TEST(test_roundtrip_every_dtype_method_level_size),
    TEST(test_roundtrip_raw_bg_partitions),
    TEST(test_roundtrip_codec_levels),
    TEST(test_roundtrip_chunk_sizes_and_threads),
    TEST(test_roundtrip_special_values),
    TEST(test_roundtrip_degenerate_inputs),
    TEST(test_gaussian_data_compresses),
    TEST(test_inputs_never_written),
    TEST(test_metadata_roundtrip),
    TEST(test_frame_info_fields),
    TEST(test_frame_info_struct_size),
    TEST(test_decompress_chunk_random_access),
    TEST(test_verify),
    TEST(test_null_pointers),
    TEST(test_dst_too_small_compress),
    TEST(test_dst_too_small_decompress),
    TEST(test_truncated_frames),
    TEST(test_every_flipped_byte_is_detected),
    TEST(test_flipped_header_and_payload_bytes),
    TEST(test_trailing_garbage),
    TEST(test_bad_magic_and_version),
    TEST(test_max_decompressed_size),
    TEST(test_bad_options),
    TEST(test_options_struct_size_versions),
    TEST(test_options_target),
    TEST(test_overlapping_buffers),
    TEST(test_damaged_fixed_header_is_a_checksum_error),
#ifdef ZIPNN_VECTORS_DIR
    TEST(test_golden_vectors),
    TEST(test_golden_delta_vectors),
#endif
    TEST(test_compress_bound),
    TEST(test_decompress_options_threads),
    TEST(test_overlapping_metadata),
};
#undef TEST

int main(int argc, char **argv) {
    return run_tests(TESTS, sizeof TESTS / sizeof TESTS[0], argc, argv);
}
