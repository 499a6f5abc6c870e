/*
 * C API tests for one-shot delta frames (zipnn_compress_delta / zipnn_decompress_delta)
 * and the lossy modes (zipnn_options.lossy_mode / lossy_param), written against
 * include/zipnn.h only. Same layout as test_capi.c; built normally and under ASan + UBSan
 * by cmake/CMakeLists.txt.
 */
#include "zipnn.h"

#include "check.h"

#include <math.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define N_FLOATS 20000u

static void gaussian_f32(float *out, size_t n, uint64_t seed, double sigma) {
    size_t i;
    for (i = 0; i < n; i++) {
        out[i] = (float)(gauss(seed, i) * sigma);
    }
}

static void gaussian_f64(double *out, size_t n, uint64_t seed, double sigma) {
    size_t i;
    for (i = 0; i < n; i++) {
        out[i] = gauss(seed, i) * sigma;
    }
}

static zipnn_options opts(uint32_t dtype, uint32_t lossy_mode, uint32_t lossy_param) {
    zipnn_options o;
    zipnn_options_init(&o);
    o.dtype = dtype;
    o.lossy_mode = lossy_mode;
    o.lossy_param = lossy_param;
    return o;
}

/* Compresses with `o` into a new buffer of compress_bound bytes. */
static zipnn_status compress_new(const zipnn_options *o, const void *src, size_t n,
                                 unsigned char **frame, size_t *len) {
    size_t bound = bound_of(o, n);
    zipnn_status s;
    *frame = (unsigned char *)xmalloc(bound);
    s = zipnn_compress(o, src, n, *frame, bound, len);
    return s;
}

/* ------------------------------------------------------------------------------------ */
/* Delta                                                                                  */
/* ------------------------------------------------------------------------------------ */

static int test_delta_roundtrip(void) {
    const size_t n = N_FLOATS * sizeof(float);
    float *base = (float *)xmalloc(n), *fine = (float *)xmalloc(n), *wrong = (float *)xmalloc(n);
    unsigned char *frame, *plain, *out = (unsigned char *)xmalloc(n + 8);
    size_t bound, len = SENTINEL_SIZE, plain_len, w, i;
    const char meta[] = "shape=[20000]";
    zipnn_options o = opts(ZIPNN_DTYPE_FP32, ZIPNN_LOSSY_NONE, 0);
    zipnn_frame_info fi;

    gaussian_f32(base, N_FLOATS, 1, 0.02);
    gaussian_f32(wrong, N_FLOATS, 2, 0.02);
    for (i = 0; i < N_FLOATS; i++) {
        fine[i] = base[i] + (i % 10 == 0 ? 1e-4f : 0.0f); /* a sparse fine-tune */
    }

    bound = bound_of(&o, n) + sizeof meta;
    frame = (unsigned char *)xmalloc(bound);
    CHECK_STATUS(zipnn_compress_delta(&o, base, n, meta, sizeof meta, fine, n, frame, bound,
                                      &len),
                 ZIPNN_OK);
    CHECK(len > 0 && len <= bound);
    CHECK_STATUS(compress_new(&o, fine, n, &plain, &plain_len), ZIPNN_OK);
    CHECK(len < plain_len / 2); /* the XOR is mostly zeros */

    memset(&fi, 0, sizeof fi);
    fi.struct_size = (uint32_t)sizeof fi;
    CHECK_STATUS(zipnn_get_frame_info(frame, len, &fi), ZIPNN_OK);
    CHECK((fi.flags & 2u) != 0); /* delta */
    CHECK((fi.flags & 1u) != 0); /* metadata */
    CHECK((fi.flags & 4u) == 0); /* not lossy */
    CHECK(fi.base_hash != 0);
    CHECK(fi.lossy_mode == ZIPNN_LOSSY_NONE && fi.lossy_param == 0);
    CHECK(fi.original_size == n && fi.frame_size == len && fi.dtype == ZIPNN_DTYPE_FP32);
    CHECK_STATUS(zipnn_verify(frame, len), ZIPNN_OK);
    {
        char m[64];
        CHECK_STATUS(zipnn_get_metadata(frame, len, m, sizeof m, &w), ZIPNN_OK);
        CHECK(w == sizeof meta && memcmp(m, meta, w) == 0);
    }
    /* A plain frame has no base hash. */
    memset(&fi, 0xFF, sizeof fi);
    fi.struct_size = (uint32_t)sizeof fi;
    CHECK_STATUS(zipnn_get_frame_info(plain, plain_len, &fi), ZIPNN_OK);
    CHECK((fi.flags & 2u) == 0 && fi.base_hash == 0);

    /* The right base restores; NULL options are the defaults; a larger dst is fine. */
    memset(out, SENTINEL_BYTE, n + 8);
    CHECK_STATUS(zipnn_decompress_delta(NULL, base, n, frame, len, out, n + 8, &w), ZIPNN_OK);
    CHECK(w == n && memcmp(out, fine, n) == 0 && all_bytes_are(out + n, 8, SENTINEL_BYTE));
    o.threads = 1;
    CHECK_STATUS(zipnn_decompress_delta(&o, base, n, frame, len, out, n, &w), ZIPNN_OK);
    CHECK(w == n && memcmp(out, fine, n) == 0);

    /* No base: BASE_REQUIRED from every plain decoder, dst untouched. */
    memset(out, SENTINEL_BYTE, n);
    w = SENTINEL_SIZE;
    CHECK_STATUS(zipnn_decompress(frame, len, out, n, &w), ZIPNN_ERROR_BASE_REQUIRED);
    CHECK_STATUS(zipnn_decompress_with_options(NULL, frame, len, out, n, &w),
                 ZIPNN_ERROR_BASE_REQUIRED);
    CHECK_STATUS(zipnn_decompress_delta(NULL, NULL, 0, frame, len, out, n, &w),
                 ZIPNN_ERROR_BASE_REQUIRED);
    CHECK(w == SENTINEL_SIZE && all_bytes_are(out, n, SENTINEL_BYTE));

    /* Wrong base (same length, other bytes; one byte off; shorter): BASE_MISMATCH. */
    CHECK_STATUS(zipnn_decompress_delta(NULL, wrong, n, frame, len, out, n, &w),
                 ZIPNN_ERROR_BASE_MISMATCH);
    ((unsigned char *)base)[n / 2] ^= 1;
    CHECK_STATUS(zipnn_decompress_delta(NULL, base, n, frame, len, out, n, &w),
                 ZIPNN_ERROR_BASE_MISMATCH);
    ((unsigned char *)base)[n / 2] ^= 1;
    CHECK_STATUS(zipnn_decompress_delta(NULL, base, n - 4, frame, len, out, n, &w),
                 ZIPNN_ERROR_BASE_MISMATCH);
    CHECK(w == SENTINEL_SIZE && all_bytes_are(out, n, SENTINEL_BYTE));

    /* A plain frame through decompress_delta: the base is not read (NULL is fine). */
    CHECK_STATUS(zipnn_decompress_delta(NULL, NULL, 0, plain, plain_len, out, n, &w), ZIPNN_OK);
    CHECK(w == n && memcmp(out, fine, n) == 0);
    CHECK_STATUS(zipnn_decompress_delta(NULL, wrong, n, plain, plain_len, out, n, &w), ZIPNN_OK);

    /* Too small a dst; buffers overlapping dst. */
    w = SENTINEL_SIZE;
    CHECK_STATUS(zipnn_decompress_delta(NULL, base, n, frame, len, out, n - 1, &w),
                 ZIPNN_ERROR_DST_TOO_SMALL);
    CHECK(w == SENTINEL_SIZE);
    CHECK_STATUS(zipnn_decompress_delta(NULL, out, n, frame, len, out, n, &w),
                 ZIPNN_ERROR_INVALID_PARAM);
    CHECK_STATUS(zipnn_compress_delta(NULL, base, n, NULL, 0, fine, n, base, n, &w),
                 ZIPNN_ERROR_INVALID_PARAM);
    CHECK_STATUS(zipnn_compress_delta(NULL, base, n, NULL, 0, fine, n, fine, n, &w),
                 ZIPNN_ERROR_INVALID_PARAM);

    /* compress_delta needs a base of the source's length. */
    CHECK_STATUS(zipnn_compress_delta(&o, base, n - 4, NULL, 0, fine, n, frame, bound, &w),
                 ZIPNN_ERROR_BASE_MISMATCH);
    CHECK(w == SENTINEL_SIZE);
    CHECK_STATUS(zipnn_compress_delta(&o, NULL, 0, NULL, 0, fine, n, frame, bound, &w),
                 ZIPNN_ERROR_BASE_MISMATCH);
    /* NULL pointers. */
    CHECK_STATUS(zipnn_compress_delta(&o, NULL, n, NULL, 0, fine, n, frame, bound, &w),
                 ZIPNN_ERROR_NULL_POINTER);
    CHECK_STATUS(zipnn_compress_delta(&o, base, n, NULL, 0, fine, n, frame, bound, NULL),
                 ZIPNN_ERROR_NULL_POINTER);
    CHECK_STATUS(zipnn_compress_delta(&o, base, n, NULL, 4, fine, n, frame, bound, &w),
                 ZIPNN_ERROR_NULL_POINTER);
    CHECK_STATUS(zipnn_decompress_delta(NULL, base, n, NULL, len, out, n, &w),
                 ZIPNN_ERROR_NULL_POINTER);
    CHECK_STATUS(zipnn_decompress_delta(NULL, base, n, frame, len, out, n, NULL),
                 ZIPNN_ERROR_NULL_POINTER);
    CHECK_STATUS(zipnn_decompress_delta(NULL, base, n, frame, len, NULL, n, &w),
                 ZIPNN_ERROR_NULL_POINTER);
    /* Too small a frame buffer. */
    CHECK_STATUS(zipnn_compress_delta(&o, base, n, NULL, 0, fine, n, frame, 16, &w),
                 ZIPNN_ERROR_DST_TOO_SMALL);
    /* The frame is still whole and decodes (nothing above wrote to it). */
    CHECK_STATUS(zipnn_decompress_delta(NULL, base, n, frame, len, out, n, &w), ZIPNN_OK);

    /* Empty input against an empty base. */
    CHECK_STATUS(zipnn_compress_delta(&o, NULL, 0, NULL, 0, NULL, 0, frame, bound, &len),
                 ZIPNN_OK);
    CHECK_STATUS(zipnn_decompress_delta(NULL, NULL, 0, frame, len, NULL, 0, &w), ZIPNN_OK);
    CHECK(w == 0);

    free(base);
    free(fine);
    free(wrong);
    free(frame);
    free(plain);
    free(out);
    return 0;
}

/* ------------------------------------------------------------------------------------ */
/* Lossy                                                                                  */
/* ------------------------------------------------------------------------------------ */

static int check_lossy_frame(const unsigned char *frame, size_t len, uint32_t mode,
                             uint32_t param) {
    zipnn_frame_info fi;
    memset(&fi, 0, sizeof fi);
    fi.struct_size = (uint32_t)sizeof fi;
    CHECK_STATUS(zipnn_get_frame_info(frame, len, &fi), ZIPNN_OK);
    CHECK(fi.lossy_mode == mode && fi.lossy_param == param);
    CHECK(((fi.flags & 4u) != 0) == (mode != ZIPNN_LOSSY_NONE));
    CHECK(fi.base_hash == 0);
    CHECK_STATUS(zipnn_verify(frame, len), ZIPNN_OK);
    return 0;
}

static int test_lossy_mantissa_fp32(void) {
    static const uint32_t bits[] = {0, 3, 7, 10, 22};
    const size_t n = N_FLOATS * sizeof(float);
    float *src = (float *)xmalloc(n), *out = (float *)xmalloc(n);
    size_t b, i, len, w, lossless_len;
    unsigned char *frame;
    zipnn_options o = opts(ZIPNN_DTYPE_FP32, ZIPNN_LOSSY_NONE, 0);
    gaussian_f32(src, N_FLOATS, 3, 0.02);
    CHECK_STATUS(compress_new(&o, src, n, &frame, &lossless_len), ZIPNN_OK);
    free(frame);
    for (b = 0; b < sizeof bits / sizeof bits[0]; b++) {
        double bound = ldexp(1.0, -(int)(bits[b] + 1)), worst = 0.0;
        o = opts(ZIPNN_DTYPE_FP32, ZIPNN_LOSSY_MANTISSA, bits[b]);
        CHECK_STATUS(compress_new(&o, src, n, &frame, &len), ZIPNN_OK);
        CHECK(check_lossy_frame(frame, len, ZIPNN_LOSSY_MANTISSA, bits[b]) == 0);
        CHECK(len < lossless_len);
        CHECK_STATUS(zipnn_decompress(frame, len, out, n, &w), ZIPNN_OK);
        CHECK(w == n);
        for (i = 0; i < N_FLOATS; i++) {
            double e;
            if (src[i] == 0.0f) {
                CHECK(out[i] == 0.0f);
                continue;
            }
            e = fabs((double)out[i] - (double)src[i]) / fabs((double)src[i]);
            worst = e > worst ? e : worst;
        }
        CHECK(worst <= bound);
        CHECK(worst > bound / 8); /* the error really is of that order */
        free(frame);
    }
    free(src);
    free(out);
    return 0;
}

static int test_lossy_integer_fp32_and_fp64(void) {
    static const uint32_t factors[] = {8, 16, 24};
    const size_t n32 = N_FLOATS * sizeof(float), n64 = N_FLOATS * sizeof(double);
    float *s32 = (float *)xmalloc(n32), *o32 = (float *)xmalloc(n32);
    double *s64 = (double *)xmalloc(n64), *o64 = (double *)xmalloc(n64);
    size_t f, i, len, w;
    unsigned char *frame;
    gaussian_f32(s32, N_FLOATS, 4, 0.02);
    gaussian_f64(s64, N_FLOATS, 5, 0.02);
    for (f = 0; f < sizeof factors / sizeof factors[0]; f++) {
        double step = ldexp(1.0, -(int)(factors[f] + 1));
        zipnn_options o = opts(ZIPNN_DTYPE_FP32, ZIPNN_LOSSY_INTEGER, factors[f]);
        CHECK_STATUS(compress_new(&o, s32, n32, &frame, &len), ZIPNN_OK);
        CHECK(check_lossy_frame(frame, len, ZIPNN_LOSSY_INTEGER, factors[f]) == 0);
        CHECK_STATUS(zipnn_decompress(frame, len, o32, n32, &w), ZIPNN_OK);
        CHECK(w == n32);
        for (i = 0; i < N_FLOATS; i++) {
            /* plus half an ulp of the result (values are below 1) */
            double ulp = ldexp(1.0, -24);
            CHECK(fabs((double)o32[i] - (double)s32[i]) <= step + ulp);
        }
        free(frame);

        o = opts(ZIPNN_DTYPE_FP64, ZIPNN_LOSSY_INTEGER, factors[f]);
        CHECK_STATUS(compress_new(&o, s64, n64, &frame, &len), ZIPNN_OK);
        CHECK(check_lossy_frame(frame, len, ZIPNN_LOSSY_INTEGER, factors[f]) == 0);
        CHECK_STATUS(zipnn_decompress(frame, len, o64, n64, &w), ZIPNN_OK);
        for (i = 0; i < N_FLOATS; i++) {
            CHECK(fabs(o64[i] - s64[i]) <= step + ldexp(1.0, -53));
        }
        free(frame);
    }
    /* Values that do not fit the integer width are coded losslessly: the frame says so. */
    {
        zipnn_options o = opts(ZIPNN_DTYPE_FP32, ZIPNN_LOSSY_INTEGER, 30);
        s32[17] = 100.0f; /* 100 * 2^30 does not fit in an i32 */
        CHECK_STATUS(compress_new(&o, s32, n32, &frame, &len), ZIPNN_OK);
        CHECK(check_lossy_frame(frame, len, ZIPNN_LOSSY_NONE, 0) == 0);
        CHECK_STATUS(zipnn_decompress(frame, len, o32, n32, &w), ZIPNN_OK);
        CHECK(memcmp(o32, s32, n32) == 0);
        free(frame);
    }
    free(s32);
    free(o32);
    free(s64);
    free(o64);
    return 0;
}

static int test_lossy_bf16_fp16_and_special_values(void) {
    uint16_t src[8], out[8];
    size_t len, w, i;
    unsigned char *frame;
    zipnn_options o;
    /* bf16: 1.0, -2.5, NaN, +Inf, -Inf, 0, -0, 1.0078125 (the smallest bf16 above 1) */
    static const uint16_t v[8] = {0x3F80, 0xC020, 0x7FC0, 0x7F80, 0xFF80, 0x0000, 0x8000, 0x3F81};
    memcpy(src, v, sizeof src);
    o = opts(ZIPNN_DTYPE_BF16, ZIPNN_LOSSY_MANTISSA, 0);
    CHECK_STATUS(compress_new(&o, src, sizeof src, &frame, &len), ZIPNN_OK);
    CHECK(check_lossy_frame(frame, len, ZIPNN_LOSSY_MANTISSA, 0) == 0);
    CHECK_STATUS(zipnn_decompress(frame, len, out, sizeof out, &w), ZIPNN_OK);
    for (i = 0; i < 7; i++) {
        if (i == 1) {
            /* -2.5 with no mantissa bits: -2 (ties to even) */
            CHECK(out[i] == 0xC000);
        } else {
            CHECK(out[i] == src[i]); /* exact powers of two, NaN, infinities, zeros kept */
        }
    }
    CHECK(out[7] == 0x3F80);
    free(frame);
    /* fp16 with integer mode 10: |x| < 32 fits in an i16 */
    {
        static const uint16_t h[4] = {0x3C00 /* 1 */, 0x3555 /* ~0.333 */, 0xC500 /* -5 */,
                                      0x0001 /* smallest subnormal */};
        uint16_t ho[4];
        memcpy(src, h, sizeof h);
        o = opts(ZIPNN_DTYPE_FP16, ZIPNN_LOSSY_INTEGER, 10);
        CHECK_STATUS(compress_new(&o, src, sizeof h, &frame, &len), ZIPNN_OK);
        CHECK(check_lossy_frame(frame, len, ZIPNN_LOSSY_INTEGER, 10) == 0);
        CHECK_STATUS(zipnn_decompress(frame, len, ho, sizeof ho, &w), ZIPNN_OK);
        CHECK(ho[0] == 0x3C00 && ho[2] == 0xC500);
        CHECK(ho[1] == 0x3554 || ho[1] == 0x3555 || ho[1] == 0x3556);
        CHECK(ho[3] == 0x0000); /* below 2^-11: rounds to zero */
        free(frame);
    }
    return 0;
}

static int test_lossy_option_validation(void) {
    static const struct {
        uint32_t dtype, mode, param;
        zipnn_status want;
    } cases[] = {
        {ZIPNN_DTYPE_FP32, ZIPNN_LOSSY_MANTISSA, 22, ZIPNN_OK},
        {ZIPNN_DTYPE_FP32, ZIPNN_LOSSY_MANTISSA, 23, ZIPNN_ERROR_INVALID_PARAM},
        {ZIPNN_DTYPE_BF16, ZIPNN_LOSSY_MANTISSA, 6, ZIPNN_OK},
        {ZIPNN_DTYPE_BF16, ZIPNN_LOSSY_MANTISSA, 7, ZIPNN_ERROR_INVALID_PARAM},
        {ZIPNN_DTYPE_FP16, ZIPNN_LOSSY_MANTISSA, 9, ZIPNN_OK},
        {ZIPNN_DTYPE_FP16, ZIPNN_LOSSY_MANTISSA, 10, ZIPNN_ERROR_INVALID_PARAM},
        {ZIPNN_DTYPE_FP64, ZIPNN_LOSSY_MANTISSA, 51, ZIPNN_OK},
        {ZIPNN_DTYPE_FP64, ZIPNN_LOSSY_MANTISSA, 52, ZIPNN_ERROR_INVALID_PARAM},
        {ZIPNN_DTYPE_BF16, ZIPNN_LOSSY_INTEGER, 14, ZIPNN_OK},
        {ZIPNN_DTYPE_BF16, ZIPNN_LOSSY_INTEGER, 15, ZIPNN_ERROR_INVALID_PARAM},
        {ZIPNN_DTYPE_FP32, ZIPNN_LOSSY_INTEGER, 30, ZIPNN_OK},
        {ZIPNN_DTYPE_FP32, ZIPNN_LOSSY_INTEGER, 31, ZIPNN_ERROR_INVALID_PARAM},
        {ZIPNN_DTYPE_FP64, ZIPNN_LOSSY_INTEGER, 62, ZIPNN_OK},
        {ZIPNN_DTYPE_FP64, ZIPNN_LOSSY_INTEGER, 63, ZIPNN_ERROR_INVALID_PARAM},
        {ZIPNN_DTYPE_FP32, ZIPNN_LOSSY_INTEGER, 256, ZIPNN_ERROR_INVALID_PARAM},
        /* Only for float dtypes. */
        {ZIPNN_DTYPE_RAW, ZIPNN_LOSSY_MANTISSA, 3, ZIPNN_ERROR_INVALID_PARAM},
        {ZIPNN_DTYPE_INT8, ZIPNN_LOSSY_INTEGER, 3, ZIPNN_ERROR_INVALID_PARAM},
        {ZIPNN_DTYPE_FP8_E4M3, ZIPNN_LOSSY_MANTISSA, 1, ZIPNN_ERROR_INVALID_PARAM},
        /* Unknown modes; a parameter without a mode. */
        {ZIPNN_DTYPE_FP32, 3, 0, ZIPNN_ERROR_INVALID_PARAM},
        {ZIPNN_DTYPE_FP32, 0xFFFFFFFFu, 0, ZIPNN_ERROR_INVALID_PARAM},
        {ZIPNN_DTYPE_FP32, ZIPNN_LOSSY_NONE, 1, ZIPNN_ERROR_INVALID_PARAM},
    };
    float src[256];
    unsigned char dst[4096];
    size_t i, w;
    gaussian_f32(src, 256, 6, 0.02);
    for (i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        zipnn_options o = opts(cases[i].dtype, cases[i].mode, cases[i].param);
        zipnn_status s = zipnn_compress(&o, src, sizeof src, dst, sizeof dst, &w);
        if (s != cases[i].want) {
            fprintf(stderr, "case %lu: dtype %u mode %u param %u: %d, want %d\n",
                    (unsigned long)i, cases[i].dtype, cases[i].mode, cases[i].param, (int)s,
                    (int)cases[i].want);
            return 1;
        }
        CHECK((bound_of(&o, sizeof src) == 0) == (cases[i].want != ZIPNN_OK));
    }
    /* A lossy delta: the lossy step applies to the source, the delta to what it became. */
    {
        float base[256], out[256];
        size_t len;
        zipnn_options o = opts(ZIPNN_DTYPE_FP32, ZIPNN_LOSSY_MANTISSA, 10);
        gaussian_f32(base, 256, 7, 0.02);
        CHECK_STATUS(zipnn_compress_delta(&o, base, sizeof base, NULL, 0, src, sizeof src, dst,
                                          sizeof dst, &len),
                     ZIPNN_OK);
        {
            zipnn_frame_info fi;
            fi.struct_size = (uint32_t)sizeof fi;
            CHECK_STATUS(zipnn_get_frame_info(dst, len, &fi), ZIPNN_OK);
            CHECK((fi.flags & 6u) == 6u && fi.base_hash != 0);
            CHECK(fi.lossy_mode == ZIPNN_LOSSY_MANTISSA && fi.lossy_param == 10);
        }
        CHECK_STATUS(zipnn_decompress_delta(NULL, base, sizeof base, dst, len, out, sizeof out,
                                            &w),
                     ZIPNN_OK);
        for (i = 0; i < 256; i++) {
            if (src[i] != 0.0f) {
                CHECK(fabs((double)out[i] - (double)src[i]) / fabs((double)src[i]) <=
                      ldexp(1.0, -11));
            }
        }
    }
    return 0;
}

/* ------------------------------------------------------------------------------------ */

#define TEST(f) {#f, f}
static const test_case TESTS[] = {
    TEST(test_delta_roundtrip),
    TEST(test_lossy_mantissa_fp32),
    TEST(test_lossy_integer_fp32_and_fp64),
    TEST(test_lossy_bf16_fp16_and_special_values),
    TEST(test_lossy_option_validation),
};
#undef TEST

int main(int argc, char **argv) {
    return run_tests(TESTS, sizeof TESTS / sizeof TESTS[0], argc, argv);
}
