/*
 * C tests for zipnn streams (zipnn_cstream_*, zipnn_dstream_*, zipnn_get_stream_info,
 * zipnn_stream_decode_range), written against include/zipnn.h only.
 *
 * Plain C99, same shape as test_capi.c: one `static int test_*(void)` per case returning 0
 * on success, a table that runs every case; run with test names to run only those.
 */
#include "zipnn.h"

#include "check.h"

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A 64-bit LCG; the high bits are used. */
static uint32_t rng_u32(uint64_t *s) {
    *s = *s * 6364136223846793005ull + 1442695040888963407ull;
    return (uint32_t)(*s >> 32);
}

/* bf16-like bytes: a narrow exponent range around 2^-6 and random sign and mantissa. */
static unsigned char *make_bf16(size_t n, uint64_t seed) {
    unsigned char *p = (unsigned char *)xmalloc(n);
    size_t i;
    for (i = 0; i + 1 < n; i += 2) {
        uint32_t r = rng_u32(&seed);
        uint16_t exp = (uint16_t)(118u + (r % 5u));
        uint16_t v = (uint16_t)(((r >> 8) & 0x8000u) | (exp << 7) | ((r >> 16) & 0x7Fu));
        p[i] = (unsigned char)(v & 0xFFu);
        p[i + 1] = (unsigned char)(v >> 8);
    }
    if (n % 2) {
        p[n - 1] = 0x5A;
    }
    return p;
}

/* A growable byte buffer. */
typedef struct {
    unsigned char *p;
    size_t len, cap;
} buf_t;

static void buf_put(buf_t *b, const unsigned char *src, size_t n) {
    if (b->len + n > b->cap) {
        size_t cap = b->cap ? b->cap : 1024;
        unsigned char *q;
        while (cap < b->len + n) {
            cap *= 2;
        }
        q = (unsigned char *)realloc(b->p, cap);
        if (!q) {
            fprintf(stderr, "out of memory\n");
            exit(2);
        }
        b->p = q;
        b->cap = cap;
    }
    if (n) {
        memcpy(b->p + b->len, src, n);
    }
    b->len += n;
}

/* Compresses `n` bytes of bf16 for `target` in pieces of `piece` with output buffers of
 * `cap` bytes. */
static int stream_compress_for(const unsigned char *src, size_t n, size_t block, size_t piece,
                               size_t cap, uint32_t target, buf_t *out) {
    zipnn_options o;
    zipnn_cstream *cs = NULL;
    unsigned char *tmp = (unsigned char *)xmalloc(cap);
    size_t at = 0;
    int done = 0;
    zipnn_options_init(&o);
    o.dtype = ZIPNN_DTYPE_BF16;
    o.chunk_size = 1024;
    o.target = target;
    CHECK_STATUS(zipnn_cstream_new(&o, block, &cs), ZIPNN_OK);
    CHECK(cs != NULL);
    while (at < n) {
        size_t len = n - at < piece ? n - at : piece;
        size_t used = 0;
        while (used < len) {
            size_t c = 0, w = 0;
            CHECK_STATUS(zipnn_cstream_compress(cs, src + at + used, len - used, &c, tmp, cap, &w),
                         ZIPNN_OK);
            buf_put(out, tmp, w);
            used += c;
        }
        at += len;
    }
    while (!done) {
        size_t w = 0;
        CHECK_STATUS(zipnn_cstream_finish(cs, tmp, cap, &w, &done), ZIPNN_OK);
        buf_put(out, tmp, w);
    }
    zipnn_cstream_free(cs);
    free(tmp);
    return 0;
}

/* Compresses `n` bytes as stream_compress_for with the default target. */
static int stream_compress(const unsigned char *src, size_t n, size_t block, size_t piece,
                           size_t cap, buf_t *out) {
    return stream_compress_for(src, n, block, piece, cap, ZIPNN_TARGET_ANY, out);
}

/* Decompresses in pieces of `piece` with output buffers of `cap`; returns the status. */
static zipnn_status stream_decompress(const unsigned char *src, size_t n, size_t piece,
                                      size_t cap, buf_t *out) {
    zipnn_dstream *ds = NULL;
    unsigned char *tmp = (unsigned char *)xmalloc(cap);
    zipnn_status s = zipnn_dstream_new(NULL, &ds);
    size_t at = 0;
    while (s == ZIPNN_OK) {
        size_t len = n - at < piece ? n - at : piece;
        size_t used = 0;
        for (;;) {
            size_t c = 0, w = 0;
            s = zipnn_dstream_decompress(ds, src + at + used, len - used, &c, tmp, cap, &w);
            if (s != ZIPNN_OK) {
                break;
            }
            buf_put(out, tmp, w);
            used += c;
            if (used == len && w == 0) {
                break;
            }
        }
        at += len;
        if (at == n) {
            break;
        }
    }
    if (s == ZIPNN_OK) {
        s = zipnn_dstream_finish(ds);
    }
    zipnn_dstream_free(ds);
    free(tmp);
    return s;
}

static int test_round_trip_odd_pieces(void) {
    const size_t n = 70001;
    unsigned char *data = make_bf16(n, 1);
    buf_t ref = {NULL, 0, 0};
    static const size_t pieces[][2] = {{1, 1}, {7, 13}, {4093, 100}, {65537, 65537}};
    size_t k;
    CHECK(stream_compress(data, n, 4096, n, 1 << 20, &ref) == 0);
    for (k = 0; k < sizeof pieces / sizeof pieces[0]; k++) {
        buf_t s = {NULL, 0, 0}, back = {NULL, 0, 0};
        CHECK(stream_compress(data, n, 4096, pieces[k][0], pieces[k][1], &s) == 0);
        CHECK(s.len == ref.len && memcmp(s.p, ref.p, s.len) == 0);
        CHECK_STATUS(stream_decompress(s.p, s.len, pieces[k][0], pieces[k][1], &back), ZIPNN_OK);
        CHECK(back.len == n && memcmp(back.p, data, n) == 0);
        free(s.p);
        free(back.p);
    }
    free(ref.p);
    free(data);
    return 0;
}

static int test_empty_stream(void) {
    buf_t s = {NULL, 0, 0}, back = {NULL, 0, 0};
    zipnn_stream_info info;
    CHECK(stream_compress(NULL, 0, 0, 1, 1, &s) == 0);
    CHECK(s.len == 64);
    CHECK_STATUS(stream_decompress(s.p, s.len, 1, 1, &back), ZIPNN_OK);
    CHECK(back.len == 0);
    memset(&info, 0, sizeof info);
    info.struct_size = sizeof info;
    CHECK_STATUS(zipnn_get_stream_info(s.p, s.len, &info), ZIPNN_OK);
    CHECK(info.frame_count == 0 && info.original_size == 0 && info.stream_size == 64);
    CHECK(info.block_size == ZIPNN_STREAM_DEFAULT_BLOCK_SIZE);
    free(s.p);
    return 0;
}

static int test_random_access(void) {
    const size_t n = 100003;
    unsigned char *data = make_bf16(n, 2);
    unsigned char *dst = (unsigned char *)xmalloc(n);
    buf_t s = {NULL, 0, 0};
    zipnn_stream_info info;
    uint64_t seed = 9;
    int i;
    size_t w = 12345;
    CHECK(stream_compress(data, n, 8192, 999, 4096, &s) == 0);
    memset(&info, 0, sizeof info);
    info.struct_size = sizeof info;
    CHECK_STATUS(zipnn_get_stream_info(s.p, s.len, &info), ZIPNN_OK);
    CHECK(info.format_version == 1 && info.block_size == 8192);
    CHECK(info.frame_count == (n + 8191) / 8192 && info.original_size == n);
    for (i = 0; i < 300; i++) {
        uint64_t off = rng_u32(&seed) % (n + 1);
        size_t len = rng_u32(&seed) % (i % 3 == 0 ? 20000u : 300u);
        size_t end = off + len < n ? (size_t)off + len : n;
        CHECK_STATUS(zipnn_stream_decode_range(s.p, s.len, off, dst, len, &w), ZIPNN_OK);
        CHECK(w == end - (size_t)off);
        CHECK(memcmp(dst, data + off, w) == 0);
    }
    w = 12345;
    CHECK_STATUS(zipnn_stream_decode_range(s.p, s.len, n + 1, dst, 1, &w),
                 ZIPNN_ERROR_INVALID_PARAM);
    CHECK(w == 12345);
    CHECK_STATUS(zipnn_stream_decode_range(s.p, s.len - 1, 0, dst, 1, &w), ZIPNN_ERROR_BAD_MAGIC);
    CHECK_STATUS(zipnn_stream_decode_range(NULL, 10, 0, dst, 1, &w), ZIPNN_ERROR_NULL_POINTER);
    CHECK_STATUS(zipnn_stream_decode_range(s.p, s.len, 0, dst, 1, NULL),
                 ZIPNN_ERROR_NULL_POINTER);
    free(s.p);
    free(dst);
    free(data);
    return 0;
}

static int test_damaged_streams(void) {
    const size_t n = 20000;
    unsigned char *data = make_bf16(n, 3);
    buf_t s = {NULL, 0, 0};
    size_t i;
    CHECK(stream_compress(data, n, 4096, n, 1 << 16, &s) == 0);
    /* Every prefix is TRUNCATED. */
    for (i = 0; i < s.len; i += 37) {
        buf_t back = {NULL, 0, 0};
        CHECK_STATUS(stream_decompress(s.p, i, 1000, 1000, &back), ZIPNN_ERROR_TRUNCATED);
        free(back.p);
    }
    /* Every flipped byte is an error. */
    for (i = 0; i < s.len; i += 11) {
        buf_t back = {NULL, 0, 0};
        s.p[i] ^= 0x10u;
        CHECK(stream_decompress(s.p, s.len, 5000, 5000, &back) != ZIPNN_OK);
        s.p[i] ^= 0x10u;
        free(back.p);
    }
    free(s.p);
    free(data);
    return 0;
}

static int test_hostile_arguments(void) {
    zipnn_cstream *cs = NULL;
    zipnn_dstream *ds = NULL;
    zipnn_options o;
    unsigned char src[10] = {0}, dst[64];
    size_t c = 77, w = 77;
    int done = 7;
    zipnn_cstream_free(NULL);
    zipnn_dstream_free(NULL);
    CHECK_STATUS(zipnn_cstream_new(NULL, 0, NULL), ZIPNN_ERROR_NULL_POINTER);
    CHECK_STATUS(zipnn_dstream_new(NULL, NULL), ZIPNN_ERROR_NULL_POINTER);
    CHECK_STATUS(zipnn_cstream_new(NULL, 5, &cs), ZIPNN_ERROR_INVALID_PARAM);
    CHECK(cs == NULL);
    zipnn_options_init(&o);
    o.dtype = 1000;
    CHECK_STATUS(zipnn_cstream_new(&o, 0, &cs), ZIPNN_ERROR_UNSUPPORTED_DTYPE);
    CHECK(cs == NULL);
    CHECK_STATUS(zipnn_cstream_compress(NULL, src, 10, &c, dst, 64, &w),
                 ZIPNN_ERROR_NULL_POINTER);
    CHECK_STATUS(zipnn_cstream_finish(NULL, dst, 64, &w, &done), ZIPNN_ERROR_NULL_POINTER);
    CHECK_STATUS(zipnn_dstream_decompress(NULL, src, 10, &c, dst, 64, &w),
                 ZIPNN_ERROR_NULL_POINTER);
    CHECK_STATUS(zipnn_dstream_finish(NULL), ZIPNN_ERROR_NULL_POINTER);

    CHECK_STATUS(zipnn_cstream_new(NULL, 0, &cs), ZIPNN_OK);
    CHECK_STATUS(zipnn_cstream_compress(cs, NULL, 10, &c, dst, 64, &w), ZIPNN_ERROR_NULL_POINTER);
    CHECK_STATUS(zipnn_cstream_compress(cs, src, 10, NULL, dst, 64, &w), ZIPNN_ERROR_NULL_POINTER);
    CHECK_STATUS(zipnn_cstream_compress(cs, src, 10, &c, NULL, 64, &w), ZIPNN_ERROR_NULL_POINTER);
    CHECK_STATUS(zipnn_cstream_compress(cs, src, 10, &c, dst, 64, NULL), ZIPNN_ERROR_NULL_POINTER);
    CHECK(c == 77 && w == 77);
    CHECK_STATUS(zipnn_cstream_compress(cs, src, 10, &c, NULL, 0, &w), ZIPNN_OK);
    CHECK(c == 10 && w == 0);
    CHECK_STATUS(zipnn_cstream_finish(cs, dst, 64, &w, NULL), ZIPNN_ERROR_NULL_POINTER);
    done = 0;
    while (!done) {
        CHECK_STATUS(zipnn_cstream_finish(cs, dst, 1, &w, &done), ZIPNN_OK);
        CHECK(w <= 1);
    }
    CHECK_STATUS(zipnn_cstream_compress(cs, src, 10, &c, dst, 64, &w), ZIPNN_ERROR_INVALID_PARAM);
    zipnn_cstream_free(cs);

    CHECK_STATUS(zipnn_dstream_new(NULL, &ds), ZIPNN_OK);
    CHECK_STATUS(zipnn_dstream_finish(ds), ZIPNN_ERROR_TRUNCATED);
    CHECK_STATUS(zipnn_dstream_decompress(ds, "PK\x03\x04", 4, &c, dst, 64, &w),
                 ZIPNN_ERROR_BAD_MAGIC);
    CHECK_STATUS(zipnn_dstream_decompress(ds, NULL, 0, &c, dst, 64, &w), ZIPNN_ERROR_BAD_MAGIC);
    CHECK_STATUS(zipnn_dstream_finish(ds), ZIPNN_ERROR_BAD_MAGIC);
    zipnn_dstream_free(ds);
    return 0;
}

/* A stream for ZIPNN_TARGET_AVX512 decodes to its input; an unknown target is refused when
 * the stream is made (no handle given out); decoding reads no target. */
static int test_target(void) {
    const size_t n = 50001;
    unsigned char *data = make_bf16(n, 3);
    buf_t s = {NULL, 0, 0}, back = {NULL, 0, 0};
    zipnn_options o;
    zipnn_cstream *cs = NULL;
    zipnn_dstream *ds = NULL;
    static const uint32_t bad[] = {2, 7, 0xFFFFFFFFu};
    size_t i;
    CHECK(stream_compress_for(data, n, 8192, 3001, 4096, ZIPNN_TARGET_AVX512, &s) == 0);
    CHECK_STATUS(stream_decompress(s.p, s.len, 777, 5000, &back), ZIPNN_OK);
    CHECK(back.len == n && memcmp(back.p, data, n) == 0);
    for (i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        zipnn_options_init(&o);
        o.target = bad[i];
        CHECK_STATUS(zipnn_cstream_new(&o, 0, &cs), ZIPNN_ERROR_INVALID_PARAM);
        CHECK(cs == NULL);
        CHECK_STATUS(zipnn_dstream_new(&o, &ds), ZIPNN_OK);
        zipnn_dstream_free(ds);
        ds = NULL;
    }
    free(s.p);
    free(back.p);
    free(data);
    return 0;
}

static const test_case TESTS[] = {
    {"round_trip_odd_pieces", test_round_trip_odd_pieces},
    {"empty_stream", test_empty_stream},
    {"random_access", test_random_access},
    {"damaged_streams", test_damaged_streams},
    {"hostile_arguments", test_hostile_arguments},
    {"target", test_target},
};

int main(int argc, char **argv) {
    return run_tests(TESTS, sizeof TESTS / sizeof TESTS[0], argc, argv);
}
