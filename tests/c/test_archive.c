/*
 * C API tests for safetensors archives (zipnn_safetensors_compress, zipnn_archive_*),
 * written against include/zipnn.h only. Safetensors files are built here by hand (8-byte
 * little-endian header length, JSON, data), so the tests need nothing on disk but a
 * temporary file.
 *
 * Plain C99 (plus POSIX for mkstemp), the same layout as test_capi.c: one
 * `static int test_*(void)` per case returning 0 on success, run from a table; pass test
 * names to run only those. Built normally and under ASan + UBSan by cmake/CMakeLists.txt.
 */
#define _POSIX_C_SOURCE 200809L /* mkstemp, write, close, unlink under -std=c99 */

#include "zipnn.h"

#include "check.h"

#include <math.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* ------------------------------------------------------------------------------------ */
/* Building safetensors files                                                             */
/* ------------------------------------------------------------------------------------ */

/* One tensor of a file to build. `tie` >= 0 copies that earlier tensor's bytes. */
typedef struct {
    const char *name;
    const char *dtype; /* safetensors dtype string */
    unsigned ndim;
    uint64_t shape[4];
    int tie;
} spec_t;

typedef struct {
    unsigned char *bytes;
    size_t len;
    size_t json_len;         /* the header length stored in the first 8 bytes */
    size_t off[32];          /* each tensor's offset in the data section */
    size_t size[32];         /* each tensor's length */
} st_file;

static size_t st_elem_size(const char *dtype) {
    if (!strcmp(dtype, "F64") || !strcmp(dtype, "I64") || !strcmp(dtype, "U64")) {
        return 8;
    }
    if (!strcmp(dtype, "F32") || !strcmp(dtype, "I32") || !strcmp(dtype, "U32")) {
        return 4;
    }
    if (!strcmp(dtype, "BF16") || !strcmp(dtype, "F16") || !strcmp(dtype, "I16") ||
        !strcmp(dtype, "U16")) {
        return 2;
    }
    return 1;
}

/* The zipnn dtype the library codes a safetensors dtype with. */
static uint32_t st_zipnn_dtype(const char *dtype) {
    static const struct {
        const char *s;
        uint32_t d;
    } map[] = {
        {"BF16", ZIPNN_DTYPE_BF16},         {"F16", ZIPNN_DTYPE_FP16},
        {"F32", ZIPNN_DTYPE_FP32},          {"F64", ZIPNN_DTYPE_FP64},
        {"F8_E4M3", ZIPNN_DTYPE_FP8_E4M3},  {"F8_E5M2", ZIPNN_DTYPE_FP8_E5M2},
        {"I8", ZIPNN_DTYPE_INT8},           {"U8", ZIPNN_DTYPE_UINT8},
    };
    size_t i;
    for (i = 0; i < sizeof map / sizeof map[0]; i++) {
        if (!strcmp(map[i].s, dtype)) {
            return map[i].d;
        }
    }
    return ZIPNN_DTYPE_RAW;
}

static uint64_t name_hash(const char *s) {
    uint64_t h = 1469598103934665603ull;
    for (; *s; s++) {
        h = (h ^ (unsigned char)*s) * 1099511628211ull;
    }
    return h;
}

/* Weight-like bytes for a tensor: Gaussian (sigma 0.02) floats, random bytes otherwise. */
static void fill_tensor(unsigned char *p, size_t n, const char *dtype, uint64_t seed) {
    size_t es = st_elem_size(dtype), i;
    for (i = 0; i + es <= n; i += es) {
        double g = gauss(seed, i) * 0.02;
        if (!strcmp(dtype, "F32")) {
            float f = (float)g;
            memcpy(p + i, &f, 4);
        } else if (!strcmp(dtype, "F64")) {
            memcpy(p + i, &g, 8);
        } else if (!strcmp(dtype, "BF16") || !strcmp(dtype, "F16")) {
            float f = (float)g;
            uint32_t u;
            uint16_t h;
            memcpy(&u, &f, 4);
            h = (uint16_t)(u >> 16); /* bf16 bits; for F16 just a plausible bit pattern */
            memcpy(p + i, &h, 2);
        } else if (!strcmp(dtype, "BOOL")) {
            p[i] = (unsigned char)(mix(seed + i) & 1);
        } else {
            uint64_t r = mix(seed + i);
            memcpy(p + i, &r, es);
        }
    }
}

/* Builds a safetensors file from `n` specs (data in spec order, tensors named in the JSON
 * in reverse order, a __metadata__ entry first, the header padded with spaces to a multiple
 * of 8). `perturb` flips the low bit of every 7th byte (a "fine-tune" of the same seed). */
static void build_st(const spec_t *specs, size_t n, uint64_t seed, int perturb, st_file *f) {
    char json[8192];
    size_t jl = 0, data_len = 0, i, k;
    memset(f, 0, sizeof *f);
    for (i = 0; i < n; i++) {
        size_t count = 1;
        for (k = 0; k < specs[i].ndim; k++) {
            count *= (size_t)specs[i].shape[k];
        }
        f->off[i] = data_len;
        f->size[i] = count * st_elem_size(specs[i].dtype);
        data_len += f->size[i];
    }
    jl += (size_t)sprintf(json + jl, "{\"__metadata__\":{\"format\":\"pt\"}");
    for (i = n; i-- > 0;) {
        jl += (size_t)sprintf(json + jl, ",\"%s\":{\"dtype\":\"%s\",\"shape\":[", specs[i].name,
                              specs[i].dtype);
        for (k = 0; k < specs[i].ndim; k++) {
            jl += (size_t)sprintf(json + jl, "%s%lu", k ? "," : "",
                                  (unsigned long)specs[i].shape[k]);
        }
        jl += (size_t)sprintf(json + jl, "],\"data_offsets\":[%lu,%lu]}",
                              (unsigned long)f->off[i], (unsigned long)(f->off[i] + f->size[i]));
    }
    json[jl++] = '}';
    while (jl % 8 != 0) {
        json[jl++] = ' ';
    }
    f->json_len = jl;
    f->len = 8 + jl + data_len;
    f->bytes = (unsigned char *)xmalloc(f->len);
    for (k = 0; k < 8; k++) {
        f->bytes[k] = (unsigned char)((uint64_t)jl >> (8 * k));
    }
    memcpy(f->bytes + 8, json, jl);
    for (i = 0; i < n; i++) {
        unsigned char *p = f->bytes + 8 + jl + f->off[i];
        if (specs[i].tie >= 0) {
            memcpy(p, f->bytes + 8 + jl + f->off[specs[i].tie], f->size[i]);
            continue;
        }
        fill_tensor(p, f->size[i], specs[i].dtype, seed ^ name_hash(specs[i].name));
        if (perturb) {
            for (k = 3; k < f->size[i]; k += 7) {
                p[k] ^= 1;
            }
        }
    }
}

static const unsigned char *st_tensor(const st_file *f, size_t i) {
    return f->bytes + 8 + f->json_len + f->off[i];
}

/* Every dtype string the format names (I16/U16/U32/I64/U64 included), a tied tensor, a
 * scalar and an empty tensor. Index = data order. */
static const spec_t SPECS[] = {
    {"model.embed.weight", "BF16", 2, {32, 16, 0, 0}, -1},
    {"lm_head.weight", "BF16", 2, {32, 16, 0, 0}, 0},
    {"norm.weight", "F32", 1, {64, 0, 0, 0}, -1},
    {"attn.f16", "F16", 2, {8, 8, 0, 0}, -1},
    {"stats.f64", "F64", 1, {12, 0, 0, 0}, -1},
    {"q.e4m3", "F8_E4M3", 1, {40, 0, 0, 0}, -1},
    {"q.e5m2", "F8_E5M2", 2, {3, 5, 0, 0}, -1},
    {"q.i8", "I8", 1, {17, 0, 0, 0}, -1},
    {"q.u8", "U8", 3, {2, 2, 2, 0}, -1},
    {"pos.i32", "I32", 1, {6, 0, 0, 0}, -1},
    {"mask.bool", "BOOL", 1, {5, 0, 0, 0}, -1},
    {"w.i16", "I16", 1, {3, 0, 0, 0}, -1},
    {"w.u16", "U16", 1, {3, 0, 0, 0}, -1},
    {"w.u32", "U32", 1, {2, 0, 0, 0}, -1},
    {"w.i64", "I64", 1, {2, 0, 0, 0}, -1},
    {"w.u64", "U64", 1, {2, 0, 0, 0}, -1},
    {"scale", "F32", 0, {0, 0, 0, 0}, -1},
    {"empty", "F32", 2, {0, 4, 0, 0}, -1},
};
#define N_SPECS (sizeof SPECS / sizeof SPECS[0])

/* Compresses `st` (with `base` when not NULL) into a new archive. */
static int make_archive(const zipnn_options *o, const st_file *st, const st_file *base,
                        unsigned char **out, size_t *out_len) {
    size_t bound = 0, w = SENTINEL_SIZE;
    unsigned char *buf;
    CHECK_STATUS(zipnn_safetensors_compress_bound(o, st->bytes, st->len, &bound), ZIPNN_OK);
    CHECK(bound > 0);
    buf = (unsigned char *)xmalloc(bound);
    CHECK_STATUS(zipnn_safetensors_compress(o, base ? base->bytes : NULL, base ? base->len : 0,
                                            st->bytes, st->len, buf, bound, &w),
                 ZIPNN_OK);
    CHECK(w > 0 && w <= bound);
    *out = buf;
    *out_len = w;
    return 0;
}

/* Writes `n` bytes to a new temporary file; its path goes to `path` (at least 64 bytes). */
static int write_temp(const void *p, size_t n, char *path) {
    int fd;
    const unsigned char *b = (const unsigned char *)p;
    strcpy(path, "/tmp/zipnn-test-archive-XXXXXX");
    fd = mkstemp(path);
    CHECK(fd >= 0);
    while (n > 0) {
        ssize_t k = write(fd, b, n);
        if (k <= 0) {
            close(fd);
            unlink(path);
            CHECK(0);
        }
        b += k;
        n -= (size_t)k;
    }
    CHECK(close(fd) == 0);
    return 0;
}

/* ------------------------------------------------------------------------------------ */
/* Checking a whole archive                                                              */
/* ------------------------------------------------------------------------------------ */

/* Lists, finds, describes and decodes every tensor of `a` (an archive of `st` made from
 * `specs`), checks the header JSON and restores the file byte for byte. */
static int check_archive(const zipnn_archive *a, const spec_t *specs, size_t n,
                         const st_file *st) {
    size_t count = SENTINEL_SIZE, i, k, idx, w;
    uint64_t rsize = 0;
    const char *json = NULL;
    size_t json_len = 0;
    unsigned char *restored, *dst;

    CHECK_STATUS(zipnn_archive_tensor_count(a, &count), ZIPNN_OK);
    CHECK(count == n);
    for (i = 0; i < n; i++) {
        zipnn_tensor_info ti;
        memset(&ti, 0xCC, sizeof ti);
        ti.struct_size = (uint32_t)sizeof ti;
        CHECK_STATUS(zipnn_archive_find(a, specs[i].name, strlen(specs[i].name), &idx),
                     ZIPNN_OK);
        CHECK(idx == i);
        CHECK_STATUS(zipnn_archive_tensor_info(a, i, &ti), ZIPNN_OK);
        CHECK(ti.struct_size == sizeof ti);
        CHECK(ti.name != NULL && ti.name_len == strlen(specs[i].name));
        CHECK(memcmp(ti.name, specs[i].name, ti.name_len) == 0 && ti.name[ti.name_len] == 0);
        CHECK(ti.safetensors_dtype != NULL && strcmp(ti.safetensors_dtype, specs[i].dtype) == 0);
        CHECK(ti.ndim == specs[i].ndim);
        if (ti.ndim == 0) {
            CHECK(ti.shape == NULL);
        } else {
            CHECK(ti.shape != NULL);
            for (k = 0; k < ti.ndim; k++) {
                CHECK(ti.shape[k] == specs[i].shape[k]);
            }
        }
        CHECK(ti.data_offset == st->off[i]);
        CHECK(ti.size == st->size[i]);
        if (specs[i].tie >= 0) {
            CHECK((ti.flags & ZIPNN_TENSOR_TIED) != 0);
            CHECK(ti.tied_to == (uint64_t)specs[i].tie);
            CHECK(ti.compressed_size == 0);
            /* A tied tensor is described by the frame it shares. */
            CHECK(ti.dtype == st_zipnn_dtype(specs[specs[i].tie].dtype));
        } else {
            CHECK((ti.flags & ZIPNN_TENSOR_TIED) == 0);
            CHECK(ti.tied_to == UINT64_MAX);
            CHECK(ti.compressed_size > 0);
            CHECK(ti.dtype == st_zipnn_dtype(specs[i].dtype));
        }

        /* Decode into an exact buffer and into a larger one. */
        dst = (unsigned char *)xmalloc(st->size[i] + 16);
        memset(dst, SENTINEL_BYTE, st->size[i] + 16);
        w = SENTINEL_SIZE;
        CHECK_STATUS(zipnn_archive_decode(a, i, st->size[i] ? dst : NULL, st->size[i], &w),
                     ZIPNN_OK);
        CHECK(w == st->size[i]);
        CHECK(memcmp(dst, st_tensor(st, i), w) == 0);
        memset(dst, SENTINEL_BYTE, st->size[i] + 16);
        CHECK_STATUS(zipnn_archive_decode(a, i, dst, st->size[i] + 16, &w), ZIPNN_OK);
        CHECK(w == st->size[i] && memcmp(dst, st_tensor(st, i), w) == 0);
        CHECK(all_bytes_are(dst + w, 16, SENTINEL_BYTE));
        free(dst);
    }

    CHECK_STATUS(zipnn_archive_header_json(a, &json, &json_len), ZIPNN_OK);
    CHECK(json_len == st->json_len && memcmp(json, st->bytes + 8, json_len) == 0);

    CHECK_STATUS(zipnn_archive_restored_size(a, &rsize), ZIPNN_OK);
    CHECK(rsize == st->len);
    restored = (unsigned char *)xmalloc(st->len);
    memset(restored, SENTINEL_BYTE, st->len);
    w = SENTINEL_SIZE;
    CHECK_STATUS(zipnn_archive_restore(a, restored, st->len, &w), ZIPNN_OK);
    CHECK(w == st->len && memcmp(restored, st->bytes, st->len) == 0);
    free(restored);

    /* Every tensor at once, in reverse order, each into a buffer of its own (16 bytes
     * longer): the same bytes, the slack untouched, every length reported. */
    {
        size_t *idxs = (size_t *)xmalloc(n * sizeof(size_t));
        size_t *caps = (size_t *)xmalloc(n * sizeof(size_t));
        size_t *got = (size_t *)xmalloc(n * sizeof(size_t));
        void **outs = (void **)xmalloc(n * sizeof(void *));
        for (i = 0; i < n; i++) {
            idxs[i] = n - 1 - i;
            caps[i] = st->size[n - 1 - i] + 16;
            outs[i] = xmalloc(caps[i]);
            memset(outs[i], SENTINEL_BYTE, caps[i]);
            got[i] = SENTINEL_SIZE;
        }
        CHECK_STATUS(zipnn_archive_decode_many(a, idxs, (void *const *)outs, caps, n, got),
                     ZIPNN_OK);
        for (i = 0; i < n; i++) {
            CHECK(got[i] == st->size[idxs[i]]);
            CHECK(memcmp(outs[i], st_tensor(st, idxs[i]), got[i]) == 0);
            CHECK(all_bytes_are((unsigned char *)outs[i] + got[i], 16, SENTINEL_BYTE));
        }
        if (n >= 2) {
            /* Two outputs that overlap, an output too short, an unknown tensor: refused
             * before anything is written or reported. */
            void *saved = outs[1];
            for (i = 0; i < n; i++) {
                memset(outs[i], SENTINEL_BYTE, caps[i]);
                got[i] = SENTINEL_SIZE;
            }
            outs[1] = (unsigned char *)outs[0] + 1;
            CHECK_STATUS(zipnn_archive_decode_many(a, idxs, (void *const *)outs, caps, n, got),
                         ZIPNN_ERROR_INVALID_PARAM);
            outs[1] = saved;
            caps[0] = st->size[idxs[0]] ? st->size[idxs[0]] - 1 : 0;
            CHECK_STATUS(zipnn_archive_decode_many(a, idxs, (void *const *)outs, caps, n, got),
                         st->size[idxs[0]] ? ZIPNN_ERROR_DST_TOO_SMALL : ZIPNN_OK);
            caps[0] = st->size[idxs[0]] + 16;
            idxs[0] = n;
            CHECK_STATUS(zipnn_archive_decode_many(a, idxs, (void *const *)outs, caps, n, got),
                         ZIPNN_ERROR_NOT_FOUND);
            idxs[0] = n - 1;
            if (st->size[idxs[0]]) {
                CHECK(all_bytes_are((unsigned char *)outs[0], caps[0], SENTINEL_BYTE));
                CHECK(got[0] == SENTINEL_SIZE);
            }
        }
        CHECK_STATUS(zipnn_archive_decode_many(a, NULL, NULL, NULL, 0, NULL), ZIPNN_OK);
        CHECK_STATUS(zipnn_archive_decode_many(NULL, idxs, (void *const *)outs, caps, n, got),
                     ZIPNN_ERROR_NULL_POINTER);
        CHECK_STATUS(zipnn_archive_decode_many(a, NULL, (void *const *)outs, caps, n, got),
                     ZIPNN_ERROR_NULL_POINTER);
        CHECK_STATUS(zipnn_archive_decode_many(a, idxs, NULL, caps, n, got),
                     ZIPNN_ERROR_NULL_POINTER);
        CHECK_STATUS(zipnn_archive_decode_many(a, idxs, (void *const *)outs, NULL, n, got),
                     ZIPNN_ERROR_NULL_POINTER);
        CHECK_STATUS(zipnn_archive_decode_many(a, idxs, (void *const *)outs, caps, n, NULL),
                     ZIPNN_ERROR_NULL_POINTER);
        for (i = 0; i < n; i++) {
            free(outs[i]);
        }
        free(outs);
        free(got);
        free(caps);
        free(idxs);
    }
    return 0;
}

/* ------------------------------------------------------------------------------------ */
/* Tests                                                                                  */
/* ------------------------------------------------------------------------------------ */

static int test_open_memory_roundtrip(void) {
    st_file st;
    unsigned char *arc = NULL, *copy;
    size_t arc_len = 0;
    zipnn_archive *a = NULL;
    zipnn_options o;
    build_st(SPECS, N_SPECS, 1, 0, &st);
    copy = (unsigned char *)xmalloc(st.len);
    memcpy(copy, st.bytes, st.len);

    CHECK_OK_HELPER(make_archive(NULL, &st, NULL, &arc, &arc_len));
    CHECK(memcmp(copy, st.bytes, st.len) == 0); /* the input is never written */
    CHECK(arc_len < st.len + 4096);
    CHECK_STATUS(zipnn_archive_open_memory(arc, arc_len, NULL, &a), ZIPNN_OK);
    CHECK(a != NULL);
    CHECK_OK_HELPER(check_archive(a, SPECS, N_SPECS, &st));
    zipnn_archive_free(a);

    /* Options are honoured for decoding (threads = 1) and for compression (max level). */
    zipnn_options_init(&o);
    o.threads = 1;
    o.level = ZIPNN_LEVEL_MAX;
    free(arc);
    CHECK_OK_HELPER(make_archive(&o, &st, NULL, &arc, &arc_len));
    CHECK_STATUS(zipnn_archive_open_memory(arc, arc_len, &o, &a), ZIPNN_OK);
    CHECK_OK_HELPER(check_archive(a, SPECS, N_SPECS, &st));
    zipnn_archive_free(a);
    zipnn_archive_free(NULL); /* ignored */

    free(arc);
    free(copy);
    free(st.bytes);
    return 0;
}

static int test_open_file_roundtrip(void) {
    st_file st;
    unsigned char *arc = NULL;
    size_t arc_len = 0;
    zipnn_archive *a = NULL;
    char path[64];
    build_st(SPECS, N_SPECS, 2, 0, &st);
    CHECK_OK_HELPER(make_archive(NULL, &st, NULL, &arc, &arc_len));
    CHECK_OK_HELPER(write_temp(arc, arc_len, path));
    free(arc); /* the file handle does not need the bytes in memory */
    CHECK_STATUS(zipnn_archive_open_file(path, NULL, &a), ZIPNN_OK);
    CHECK_OK_HELPER(check_archive(a, SPECS, N_SPECS, &st));
    zipnn_archive_free(a);
    CHECK(unlink(path) == 0);

    /* A file that is not there is IO, and *out is not written. */
    a = (zipnn_archive *)&st;
    CHECK_STATUS(zipnn_archive_open_file(path, NULL, &a), ZIPNN_ERROR_IO);
    CHECK(a == (zipnn_archive *)&st);
    CHECK_STATUS(zipnn_archive_open_file("/nonexistent-dir/x.znt", NULL, &a), ZIPNN_ERROR_IO);
    free(st.bytes);
    return 0;
}

static int test_null_pointers(void) {
    st_file st;
    unsigned char *arc = NULL, buf[64];
    size_t arc_len = 0, n = 0, bound = 0;
    uint64_t u = 0;
    const char *json = NULL;
    zipnn_archive *a = NULL;
    zipnn_tensor_info ti;
    build_st(SPECS, N_SPECS, 3, 0, &st);
    CHECK_OK_HELPER(make_archive(NULL, &st, NULL, &arc, &arc_len));
    CHECK_STATUS(zipnn_archive_open_memory(arc, arc_len, NULL, &a), ZIPNN_OK);
    ti.struct_size = (uint32_t)sizeof ti;

    CHECK_STATUS(zipnn_archive_open_memory(arc, arc_len, NULL, NULL), ZIPNN_ERROR_NULL_POINTER);
    {
        zipnn_archive *b = NULL;
        CHECK_STATUS(zipnn_archive_open_memory(NULL, arc_len, NULL, &b), ZIPNN_ERROR_NULL_POINTER);
        CHECK(b == NULL);
    }
    CHECK_STATUS(zipnn_archive_open_file(NULL, NULL, &a), ZIPNN_ERROR_NULL_POINTER);
    CHECK_STATUS(zipnn_archive_open_file("x", NULL, NULL), ZIPNN_ERROR_NULL_POINTER);
    CHECK_STATUS(zipnn_archive_tensor_count(NULL, &n), ZIPNN_ERROR_NULL_POINTER);
    CHECK_STATUS(zipnn_archive_tensor_count(a, NULL), ZIPNN_ERROR_NULL_POINTER);
    CHECK_STATUS(zipnn_archive_find(NULL, "q.i8", 4, &n), ZIPNN_ERROR_NULL_POINTER);
    CHECK_STATUS(zipnn_archive_find(a, NULL, 4, &n), ZIPNN_ERROR_NULL_POINTER);
    CHECK_STATUS(zipnn_archive_find(a, "q.i8", 4, NULL), ZIPNN_ERROR_NULL_POINTER);
    CHECK_STATUS(zipnn_archive_tensor_info(NULL, 0, &ti), ZIPNN_ERROR_NULL_POINTER);
    CHECK_STATUS(zipnn_archive_tensor_info(a, 0, NULL), ZIPNN_ERROR_NULL_POINTER);
    CHECK_STATUS(zipnn_archive_decode(NULL, 0, buf, sizeof buf, &n), ZIPNN_ERROR_NULL_POINTER);
    CHECK_STATUS(zipnn_archive_decode(a, 0, buf, sizeof buf, NULL), ZIPNN_ERROR_NULL_POINTER);
    CHECK_STATUS(zipnn_archive_decode(a, 0, NULL, 4096, &n), ZIPNN_ERROR_NULL_POINTER);
    CHECK_STATUS(zipnn_archive_header_json(NULL, &json, &n), ZIPNN_ERROR_NULL_POINTER);
    CHECK_STATUS(zipnn_archive_header_json(a, NULL, &n), ZIPNN_ERROR_NULL_POINTER);
    CHECK_STATUS(zipnn_archive_header_json(a, &json, NULL), ZIPNN_ERROR_NULL_POINTER);
    CHECK_STATUS(zipnn_archive_restored_size(NULL, &u), ZIPNN_ERROR_NULL_POINTER);
    CHECK_STATUS(zipnn_archive_restored_size(a, NULL), ZIPNN_ERROR_NULL_POINTER);
    CHECK_STATUS(zipnn_archive_restore(NULL, buf, sizeof buf, &n), ZIPNN_ERROR_NULL_POINTER);
    CHECK_STATUS(zipnn_archive_restore(a, buf, sizeof buf, NULL), ZIPNN_ERROR_NULL_POINTER);
    CHECK_STATUS(zipnn_archive_restore(a, NULL, st.len, &n), ZIPNN_ERROR_NULL_POINTER);
    CHECK_STATUS(zipnn_archive_set_base_memory(NULL, st.bytes, st.len), ZIPNN_ERROR_NULL_POINTER);
    CHECK_STATUS(zipnn_archive_set_base_memory(a, NULL, st.len), ZIPNN_ERROR_NULL_POINTER);
    CHECK_STATUS(zipnn_archive_set_base_file(NULL, "x"), ZIPNN_ERROR_NULL_POINTER);
    CHECK_STATUS(zipnn_archive_set_base_file(a, NULL), ZIPNN_ERROR_NULL_POINTER);
    CHECK_STATUS(zipnn_safetensors_compress_bound(NULL, NULL, st.len, &bound),
                 ZIPNN_ERROR_NULL_POINTER);
    CHECK_STATUS(zipnn_safetensors_compress_bound(NULL, st.bytes, st.len, NULL),
                 ZIPNN_ERROR_NULL_POINTER);
    CHECK_STATUS(zipnn_safetensors_compress(NULL, NULL, 0, st.bytes, st.len, buf, sizeof buf,
                                            NULL),
                 ZIPNN_ERROR_NULL_POINTER);
    CHECK_STATUS(zipnn_safetensors_compress(NULL, NULL, 0, NULL, st.len, buf, sizeof buf, &n),
                 ZIPNN_ERROR_NULL_POINTER);
    CHECK_STATUS(zipnn_safetensors_compress(NULL, NULL, 0, st.bytes, st.len, NULL, 4096, &n),
                 ZIPNN_ERROR_NULL_POINTER);
    /* The handle still works. */
    CHECK_OK_HELPER(check_archive(a, SPECS, N_SPECS, &st));
    zipnn_archive_free(a);
    free(arc);
    free(st.bytes);
    return 0;
}

static int test_lookup_errors(void) {
    st_file st;
    unsigned char *arc = NULL, *dst;
    size_t arc_len = 0, idx, w, i;
    zipnn_archive *a = NULL;
    zipnn_tensor_info ti, before;
    build_st(SPECS, N_SPECS, 4, 0, &st);
    CHECK_OK_HELPER(make_archive(NULL, &st, NULL, &arc, &arc_len));
    CHECK_STATUS(zipnn_archive_open_memory(arc, arc_len, NULL, &a), ZIPNN_OK);

    /* Unknown names (a prefix, a longer name, a name with a NUL) are NOT_FOUND. */
    idx = SENTINEL_SIZE;
    CHECK_STATUS(zipnn_archive_find(a, "no.such.tensor", 14, &idx), ZIPNN_ERROR_NOT_FOUND);
    CHECK_STATUS(zipnn_archive_find(a, "q.i", 3, &idx), ZIPNN_ERROR_NOT_FOUND);
    CHECK_STATUS(zipnn_archive_find(a, "q.i8x", 5, &idx), ZIPNN_ERROR_NOT_FOUND);
    CHECK_STATUS(zipnn_archive_find(a, "q.i8\0", 5, &idx), ZIPNN_ERROR_NOT_FOUND);
    CHECK_STATUS(zipnn_archive_find(a, "", 0, &idx), ZIPNN_ERROR_NOT_FOUND);
    CHECK_STATUS(zipnn_archive_find(a, NULL, 0, &idx), ZIPNN_ERROR_NOT_FOUND);
    CHECK(idx == SENTINEL_SIZE);
    /* The name needs no NUL: the length decides. */
    CHECK_STATUS(zipnn_archive_find(a, "q.i8 and more", 4, &idx), ZIPNN_OK);
    CHECK(idx == 7);

    /* Index out of range. */
    memset(&ti, 0x5A, sizeof ti);
    ti.struct_size = (uint32_t)sizeof ti;
    before = ti;
    CHECK_STATUS(zipnn_archive_tensor_info(a, N_SPECS, &ti), ZIPNN_ERROR_NOT_FOUND);
    CHECK_STATUS(zipnn_archive_tensor_info(a, (size_t)-1, &ti), ZIPNN_ERROR_NOT_FOUND);
    CHECK(memcmp(&ti, &before, sizeof ti) == 0);
    w = SENTINEL_SIZE;
    {
        unsigned char b[8];
        CHECK_STATUS(zipnn_archive_decode(a, N_SPECS, b, sizeof b, &w), ZIPNN_ERROR_NOT_FOUND);
    }
    CHECK(w == SENTINEL_SIZE);

    /* struct_size below 8 is INVALID_PARAM and nothing is written. */
    ti.struct_size = 4;
    before = ti;
    CHECK_STATUS(zipnn_archive_tensor_info(a, 0, &ti), ZIPNN_ERROR_INVALID_PARAM);
    CHECK(memcmp(&ti, &before, sizeof ti) == 0);
    ti.struct_size = 0;
    CHECK_STATUS(zipnn_archive_tensor_info(a, 0, &ti), ZIPNN_ERROR_INVALID_PARAM);

    /* An older, shorter struct gets only the fields that fit. */
    memset(&ti, 0x5A, sizeof ti);
    ti.struct_size = (uint32_t)offsetof(zipnn_tensor_info, data_offset);
    CHECK_STATUS(zipnn_archive_tensor_info(a, 2, &ti), ZIPNN_OK);
    CHECK(ti.ndim == 1 && ti.shape[0] == 64 && strcmp(ti.safetensors_dtype, "F32") == 0);
    CHECK(all_bytes_are((const unsigned char *)&ti + offsetof(zipnn_tensor_info, data_offset),
                        sizeof ti - offsetof(zipnn_tensor_info, data_offset), 0x5A));

    /* DST_TOO_SMALL leaves dst untouched, for every non-empty tensor. */
    for (i = 0; i < N_SPECS; i++) {
        if (st.size[i] == 0) {
            continue;
        }
        dst = (unsigned char *)xmalloc(st.size[i]);
        memset(dst, SENTINEL_BYTE, st.size[i]);
        w = SENTINEL_SIZE;
        CHECK_STATUS(zipnn_archive_decode(a, i, dst, st.size[i] - 1, &w),
                     ZIPNN_ERROR_DST_TOO_SMALL);
        CHECK(w == SENTINEL_SIZE);
        CHECK(all_bytes_are(dst, st.size[i], SENTINEL_BYTE));
        CHECK_STATUS(zipnn_archive_decode(a, i, NULL, 0, &w), ZIPNN_ERROR_DST_TOO_SMALL);
        free(dst);
    }
    dst = (unsigned char *)xmalloc(st.len);
    memset(dst, SENTINEL_BYTE, st.len);
    CHECK_STATUS(zipnn_archive_restore(a, dst, st.len - 1, &w), ZIPNN_ERROR_DST_TOO_SMALL);
    CHECK(w == SENTINEL_SIZE);
    CHECK(all_bytes_are(dst, st.len, SENTINEL_BYTE));
    /* dst overlapping the archive it reads is refused. */
    CHECK_STATUS(zipnn_archive_decode(a, 0, arc, arc_len, &w), ZIPNN_ERROR_INVALID_PARAM);
    CHECK_STATUS(zipnn_archive_decode(a, 0, arc + arc_len / 2, arc_len / 2, &w),
                 ZIPNN_ERROR_INVALID_PARAM);
    CHECK_STATUS(zipnn_archive_restore(a, arc, arc_len, &w), ZIPNN_ERROR_INVALID_PARAM);
    free(dst);

    zipnn_archive_free(a);
    free(arc);
    free(st.bytes);
    return 0;
}

static int test_damaged_archives(void) {
    st_file st;
    unsigned char *arc = NULL, *bad, junk[64];
    size_t arc_len = 0, w = 0, cut;
    zipnn_archive *a = (zipnn_archive *)&w;
    zipnn_archive *const sentinel = a;
    zipnn_options o;
    build_st(SPECS, N_SPECS, 5, 0, &st);
    CHECK_OK_HELPER(make_archive(NULL, &st, NULL, &arc, &arc_len));
    bad = (unsigned char *)xmalloc(arc_len);

    memset(junk, 'x', sizeof junk);
    CHECK_STATUS(zipnn_archive_open_memory(junk, sizeof junk, NULL, &a), ZIPNN_ERROR_BAD_MAGIC);
    CHECK_STATUS(zipnn_archive_open_memory(NULL, 0, NULL, &a), ZIPNN_ERROR_TRUNCATED);
    /* A plain safetensors file is not an archive. */
    CHECK_STATUS(zipnn_archive_open_memory(st.bytes, st.len, NULL, &a), ZIPNN_ERROR_BAD_MAGIC);
    for (cut = 1; cut < arc_len; cut += 1 + cut / 3) {
        zipnn_status s = zipnn_archive_open_memory(arc, cut, NULL, &a);
        CHECK(s == ZIPNN_ERROR_TRUNCATED || s == ZIPNN_ERROR_CORRUPT);
    }
    /* Flipped bytes in the fixed header, JSON and index are caught when opening. */
    for (cut = 0; cut < 48 + st.json_len + 24 * N_SPECS; cut += 5) {
        zipnn_status s;
        memcpy(bad, arc, arc_len);
        bad[cut] ^= 0x10;
        s = zipnn_archive_open_memory(bad, arc_len, NULL, &a);
        CHECK(s != ZIPNN_OK);
    }
    CHECK(a == sentinel);
    /* Options are checked. */
    zipnn_options_init(&o);
    o.threads = 5000;
    CHECK_STATUS(zipnn_archive_open_memory(arc, arc_len, &o, &a), ZIPNN_ERROR_INVALID_PARAM);
    zipnn_options_init(&o);
    o.reserved[0] = 1;
    CHECK_STATUS(zipnn_archive_open_memory(arc, arc_len, &o, &a), ZIPNN_ERROR_INVALID_PARAM);
    CHECK(a == sentinel);

    /* A damaged frame is found when its tensor (and its tied twin) is decoded, and
     * leaves dst as it was; the other tensors still decode. */
    {
        zipnn_archive *h = NULL;
        zipnn_tensor_info ti;
        size_t first = 48 + st.json_len + 24 * N_SPECS, i;
        unsigned char *dst = (unsigned char *)xmalloc(st.len);
        CHECK_STATUS(zipnn_archive_open_memory(arc, arc_len, NULL, &h), ZIPNN_OK);
        ti.struct_size = (uint32_t)sizeof ti;
        CHECK_STATUS(zipnn_archive_tensor_info(h, 0, &ti), ZIPNN_OK);
        zipnn_archive_free(h);
        memcpy(bad, arc, arc_len);
        bad[first + ti.compressed_size - 2] ^= 0x01; /* in the first frame's last chunk */
        CHECK_STATUS(zipnn_archive_open_memory(bad, arc_len, NULL, &h), ZIPNN_OK);
        for (i = 0; i < N_SPECS; i++) {
            zipnn_status s;
            memset(dst, SENTINEL_BYTE, st.size[i]);
            w = SENTINEL_SIZE;
            s = zipnn_archive_decode(h, i, dst, st.size[i], &w);
            if (i == 0 || i == 1) {
                CHECK(s == ZIPNN_ERROR_CHECKSUM || s == ZIPNN_ERROR_CORRUPT);
                CHECK(w == SENTINEL_SIZE && all_bytes_are(dst, st.size[i], SENTINEL_BYTE));
            } else {
                CHECK_STATUS(s, ZIPNN_OK);
                CHECK(memcmp(dst, st_tensor(&st, i), st.size[i]) == 0);
            }
        }
        CHECK(zipnn_archive_restore(h, dst, st.len, &w) != ZIPNN_OK);
        free(dst);
        zipnn_archive_free(h);
    }

    /* Invalid safetensors input. */
    {
        unsigned char out[256];
        size_t bound = SENTINEL_SIZE;
        memcpy(bad, st.bytes, st.len < arc_len ? st.len : arc_len);
        bad[8] = '['; /* not a JSON object */
        CHECK_STATUS(zipnn_safetensors_compress_bound(NULL, bad, st.len, &bound),
                     ZIPNN_ERROR_BAD_SAFETENSORS);
        CHECK(bound == SENTINEL_SIZE);
        w = SENTINEL_SIZE;
        CHECK_STATUS(zipnn_safetensors_compress(NULL, NULL, 0, bad, st.len, out, sizeof out, &w),
                     ZIPNN_ERROR_BAD_SAFETENSORS);
        CHECK(w == SENTINEL_SIZE);
        CHECK_STATUS(zipnn_safetensors_compress(NULL, NULL, 0, st.bytes, 7, out, sizeof out, &w),
                     ZIPNN_ERROR_BAD_SAFETENSORS);
        /* A file cut short: the data section no longer covers the tensors. */
        CHECK_STATUS(zipnn_safetensors_compress(NULL, NULL, 0, st.bytes, st.len - 1, out,
                                                sizeof out, &w),
                     ZIPNN_ERROR_BAD_SAFETENSORS);
        /* A base that is not safetensors. */
        CHECK_STATUS(zipnn_safetensors_compress(NULL, junk, sizeof junk, st.bytes, st.len, out,
                                                sizeof out, &w),
                     ZIPNN_ERROR_BAD_SAFETENSORS);
        /* Too small a destination. */
        CHECK_STATUS(zipnn_safetensors_compress(NULL, NULL, 0, st.bytes, st.len, out,
                                                sizeof out, &w),
                     ZIPNN_ERROR_DST_TOO_SMALL);
        CHECK(w == SENTINEL_SIZE);
    }
    free(bad);
    free(arc);
    free(st.bytes);
    return 0;
}

/* The base model's tensors: lm_head is not tied to the embedding there, norm.weight has
 * another shape, and "scale" is missing. */
static const spec_t BASE_SPECS[] = {
    {"model.embed.weight", "BF16", 2, {32, 16, 0, 0}, -1},
    {"lm_head.weight", "BF16", 2, {32, 16, 0, 0}, -1},
    {"norm.weight", "F32", 2, {32, 2, 0, 0}, -1},
    {"attn.f16", "F16", 2, {8, 8, 0, 0}, -1},
    {"stats.f64", "F64", 1, {12, 0, 0, 0}, -1},
    {"q.e4m3", "F8_E4M3", 1, {40, 0, 0, 0}, -1},
    {"q.e5m2", "F8_E5M2", 2, {3, 5, 0, 0}, -1},
    {"q.i8", "I8", 1, {17, 0, 0, 0}, -1},
    {"q.u8", "U8", 3, {2, 2, 2, 0}, -1},
    {"pos.i32", "I32", 1, {6, 0, 0, 0}, -1},
    {"mask.bool", "BOOL", 1, {5, 0, 0, 0}, -1},
    {"w.i16", "I16", 1, {3, 0, 0, 0}, -1},
    {"w.u16", "U16", 1, {3, 0, 0, 0}, -1},
    {"w.u32", "U32", 1, {2, 0, 0, 0}, -1},
    {"w.i64", "I64", 1, {2, 0, 0, 0}, -1},
    {"w.u64", "U64", 1, {2, 0, 0, 0}, -1},
    {"empty", "F32", 2, {0, 4, 0, 0}, -1},
};
#define N_BASE_SPECS (sizeof BASE_SPECS / sizeof BASE_SPECS[0])

/* Which tensors of SPECS are deltas against BASE_SPECS: same name, dtype and shape. */
static int expect_delta(size_t i) {
    const char *n = SPECS[i].name;
    if (SPECS[i].tie >= 0) {
        return expect_delta((size_t)SPECS[i].tie); /* described by the frame it shares */
    }
    return strcmp(n, "norm.weight") != 0 && strcmp(n, "scale") != 0;
}

static int test_delta_archive(void) {
    st_file base, fine, wrong;
    unsigned char *arc = NULL, *plain = NULL, *dst;
    size_t arc_len = 0, plain_len = 0, w, i;
    zipnn_archive *a = NULL;
    char path[64];
    build_st(BASE_SPECS, N_BASE_SPECS, 7, 0, &base);
    build_st(SPECS, N_SPECS, 7, 1, &fine);       /* the same weights, slightly changed */
    build_st(BASE_SPECS, N_BASE_SPECS, 8, 0, &wrong); /* same layout, other weights */
    CHECK_OK_HELPER(make_archive(NULL, &fine, &base, &arc, &arc_len));
    CHECK_OK_HELPER(make_archive(NULL, &fine, NULL, &plain, &plain_len));
    /* Delta frames are never compact (docs/FORMAT.md 3.4): on tensors this small the plain
       archive's compact frames come out shorter, so the sizes are not compared; the tensors
       are checked to be deltas below. */
    CHECK(arc_len > 0 && plain_len > 0);

    CHECK_STATUS(zipnn_archive_open_memory(arc, arc_len, NULL, &a), ZIPNN_OK);
    dst = (unsigned char *)xmalloc(fine.len);
    for (i = 0; i < N_SPECS; i++) {
        zipnn_tensor_info ti;
        zipnn_status want = ZIPNN_OK;
        ti.struct_size = (uint32_t)sizeof ti;
        CHECK_STATUS(zipnn_archive_tensor_info(a, i, &ti), ZIPNN_OK);
        CHECK(((ti.flags & ZIPNN_TENSOR_DELTA) != 0) == expect_delta(i));
        CHECK((ti.flags & ZIPNN_TENSOR_LOSSY) == 0);
        if (ti.flags & ZIPNN_TENSOR_DELTA) {
            want = ZIPNN_ERROR_BASE_REQUIRED;
        }
        /* Without a base: deltas are BASE_REQUIRED (dst untouched), the rest decode. */
        memset(dst, SENTINEL_BYTE, fine.size[i]);
        w = SENTINEL_SIZE;
        CHECK_STATUS(zipnn_archive_decode(a, i, dst, fine.size[i], &w), want);
        if (want == ZIPNN_OK) {
            CHECK(w == fine.size[i] && memcmp(dst, st_tensor(&fine, i), w) == 0);
        } else {
            CHECK(w == SENTINEL_SIZE && all_bytes_are(dst, fine.size[i], SENTINEL_BYTE));
        }
    }
    CHECK_STATUS(zipnn_archive_restore(a, dst, fine.len, &w), ZIPNN_ERROR_BASE_REQUIRED);

    /* Not a safetensors file as a base. */
    CHECK_STATUS(zipnn_archive_set_base_memory(a, arc, arc_len), ZIPNN_ERROR_BAD_SAFETENSORS);
    CHECK_STATUS(zipnn_archive_set_base_memory(a, fine.bytes, 7), ZIPNN_ERROR_BAD_SAFETENSORS);

    /* The wrong base: every delta tensor is BASE_MISMATCH, dst untouched. */
    CHECK_STATUS(zipnn_archive_set_base_memory(a, wrong.bytes, wrong.len), ZIPNN_OK);
    for (i = 0; i < N_SPECS; i++) {
        memset(dst, SENTINEL_BYTE, fine.size[i]);
        w = SENTINEL_SIZE;
        /* (An empty tensor's delta matches any empty base tensor.) */
        int mismatch = expect_delta(i) && fine.size[i] > 0;
        CHECK_STATUS(zipnn_archive_decode(a, i, dst, fine.size[i], &w),
                     mismatch ? ZIPNN_ERROR_BASE_MISMATCH : ZIPNN_OK);
        if (mismatch) {
            CHECK(w == SENTINEL_SIZE && all_bytes_are(dst, fine.size[i], SENTINEL_BYTE));
        }
    }
    CHECK_STATUS(zipnn_archive_restore(a, dst, fine.len, &w), ZIPNN_ERROR_BASE_MISMATCH);
    /* The fine-tuned file itself is also the wrong base (its tensors differ). */
    CHECK_STATUS(zipnn_archive_set_base_memory(a, fine.bytes, fine.len), ZIPNN_OK);
    CHECK_STATUS(zipnn_archive_decode(a, 0, dst, fine.size[0], &w), ZIPNN_ERROR_BASE_MISMATCH);

    /* The right base, from memory: everything decodes, the file restores byte for byte. */
    CHECK_STATUS(zipnn_archive_set_base_memory(a, base.bytes, base.len), ZIPNN_OK);
    CHECK_OK_HELPER(check_archive(a, SPECS, N_SPECS, &fine));
    /* dst overlapping the borrowed base is refused. */
    CHECK_STATUS(zipnn_archive_decode(a, 0, base.bytes, base.len, &w), ZIPNN_ERROR_INVALID_PARAM);
    CHECK_STATUS(zipnn_archive_restore(a, base.bytes, base.len, &w), ZIPNN_ERROR_INVALID_PARAM);

    /* The right base from a file (owned by the handle), on a handle opened from a file. */
    zipnn_archive_free(a);
    CHECK_OK_HELPER(write_temp(arc, arc_len, path));
    CHECK_STATUS(zipnn_archive_open_file(path, NULL, &a), ZIPNN_OK);
    CHECK(unlink(path) == 0);
    CHECK_OK_HELPER(write_temp(base.bytes, base.len, path));
    CHECK_STATUS(zipnn_archive_set_base_file(a, path), ZIPNN_OK);
    CHECK(unlink(path) == 0); /* read into memory: the file is no longer needed */
    CHECK_OK_HELPER(check_archive(a, SPECS, N_SPECS, &fine));
    CHECK_STATUS(zipnn_archive_set_base_file(a, path), ZIPNN_ERROR_IO);
    /* A failed set_base keeps the base that was set. */
    CHECK_OK_HELPER(check_archive(a, SPECS, N_SPECS, &fine));
    zipnn_archive_free(a);

    free(dst);
    free(arc);
    free(plain);
    free(base.bytes);
    free(fine.bytes);
    free(wrong.bytes);
    return 0;
}

/* Relative error of `got` against `want` for finite, non-zero `want`. */
static double rel_err(double got, double want) {
    return fabs(got - want) / fabs(want);
}

static int test_lossy_archive(void) {
    static const spec_t specs[] = {
        {"a.f32", "F32", 2, {64, 33, 0, 0}, -1},
        {"b.bf16", "BF16", 1, {500, 0, 0, 0}, -1},
        {"c.f64", "F64", 1, {300, 0, 0, 0}, -1},
        {"d.i32", "I32", 1, {50, 0, 0, 0}, -1},
        {"e.u8", "U8", 1, {70, 0, 0, 0}, -1},
    };
    const size_t n = sizeof specs / sizeof specs[0];
    const uint32_t bits = 5;
    st_file st;
    unsigned char *arc = NULL, *out;
    size_t arc_len = 0, w, i, k;
    zipnn_archive *a = NULL;
    zipnn_options o;
    build_st(specs, n, 9, 0, &st);

    zipnn_options_init(&o);
    o.lossy_mode = ZIPNN_LOSSY_MANTISSA;
    o.lossy_param = bits;
    /* The lossy mode is validated against opts.dtype, even though archives otherwise
     * ignore it; a float dtype that accepts the parameter makes it valid. */
    o.dtype = ZIPNN_DTYPE_FP32;
    CHECK_OK_HELPER(make_archive(&o, &st, NULL, &arc, &arc_len));
    CHECK_STATUS(zipnn_archive_open_memory(arc, arc_len, NULL, &a), ZIPNN_OK);
    out = (unsigned char *)xmalloc(st.len);
    for (i = 0; i < n; i++) {
        zipnn_tensor_info ti;
        int is_float = specs[i].dtype[0] == 'F' || specs[i].dtype[0] == 'B';
        ti.struct_size = (uint32_t)sizeof ti;
        CHECK_STATUS(zipnn_archive_tensor_info(a, i, &ti), ZIPNN_OK);
        CHECK(((ti.flags & ZIPNN_TENSOR_LOSSY) != 0) == is_float);
        CHECK(ti.lossy_mode == (is_float ? ZIPNN_LOSSY_MANTISSA : ZIPNN_LOSSY_NONE));
        CHECK(ti.lossy_param == (is_float ? bits : 0));
        CHECK_STATUS(zipnn_archive_decode(a, i, out, st.size[i], &w), ZIPNN_OK);
        CHECK(w == st.size[i]);
        if (!is_float) {
            CHECK(memcmp(out, st_tensor(&st, i), w) == 0);
            continue;
        }
        CHECK(memcmp(out, st_tensor(&st, i), w) != 0);
        for (k = 0; k < w; k += st_elem_size(specs[i].dtype)) {
            double got, want;
            if (!strcmp(specs[i].dtype, "F32")) {
                float g, v;
                memcpy(&g, out + k, 4);
                memcpy(&v, st_tensor(&st, i) + k, 4);
                got = g;
                want = v;
            } else if (!strcmp(specs[i].dtype, "F64")) {
                memcpy(&got, out + k, 8);
                memcpy(&want, st_tensor(&st, i) + k, 8);
            } else {
                uint16_t g, v;
                uint32_t gu, vu;
                float gf, vf;
                memcpy(&g, out + k, 2);
                memcpy(&v, st_tensor(&st, i) + k, 2);
                gu = (uint32_t)g << 16;
                vu = (uint32_t)v << 16;
                memcpy(&gf, &gu, 4);
                memcpy(&vf, &vu, 4);
                got = gf;
                want = vf;
            }
            if (want != 0.0) {
                CHECK(rel_err(got, want) <= ldexp(1.0, -(int)(bits + 1)));
            }
        }
    }
    /* Restore gives the file with the lossy tensors: same header, same non-float bytes. */
    CHECK_STATUS(zipnn_archive_restore(a, out, st.len, &w), ZIPNN_OK);
    CHECK(w == st.len && memcmp(out, st.bytes, 8 + st.json_len) == 0);
    CHECK(memcmp(out + 8 + st.json_len + st.off[3], st_tensor(&st, 3), st.size[3]) == 0);
    zipnn_archive_free(a);
    free(arc);
    free(out);

    /* Out-of-range lossy parameters are INVALID_PARAM. */
    {
        size_t bound = SENTINEL_SIZE;
        o.lossy_param = 52; /* no float dtype keeps 52 mantissa bits (fp64 has 52) */
        CHECK_STATUS(zipnn_safetensors_compress_bound(&o, st.bytes, st.len, &bound),
                     ZIPNN_ERROR_INVALID_PARAM);
        o.lossy_mode = 3;
        o.lossy_param = 1;
        CHECK_STATUS(zipnn_safetensors_compress_bound(&o, st.bytes, st.len, &bound),
                     ZIPNN_ERROR_INVALID_PARAM);
        CHECK(bound == SENTINEL_SIZE);
    }
    free(st.bytes);
    return 0;
}

/* zipnn_options.target reaches every tensor's frames: an archive made for
 * ZIPNN_TARGET_AVX512 (with and without a base) restores byte for byte; an unknown target
 * is INVALID_PARAM from the bound and from compression, with dst untouched; opening
 * (decompression) ignores it. */
static int test_target_archive(void) {
    st_file st, fine;
    unsigned char *arc = NULL, *dst;
    size_t arc_len = 0, bound = SENTINEL_SIZE, w = SENTINEL_SIZE;
    zipnn_archive *a = NULL;
    zipnn_options o;
    build_st(SPECS, N_SPECS, 21, 0, &st);
    build_st(SPECS, N_SPECS, 21, 1, &fine);

    zipnn_options_init(&o);
    o.target = ZIPNN_TARGET_AVX512;
    CHECK_OK_HELPER(make_archive(&o, &st, NULL, &arc, &arc_len));
    o.target = 7; /* decoding reads no compression field */
    CHECK_STATUS(zipnn_archive_open_memory(arc, arc_len, &o, &a), ZIPNN_OK);
    CHECK_OK_HELPER(check_archive(a, SPECS, N_SPECS, &st));
    zipnn_archive_free(a);
    free(arc);

    o.target = ZIPNN_TARGET_AVX512;
    o.level = ZIPNN_LEVEL_MAX;
    CHECK_OK_HELPER(make_archive(&o, &fine, &st, &arc, &arc_len));
    CHECK_STATUS(zipnn_archive_open_memory(arc, arc_len, NULL, &a), ZIPNN_OK);
    CHECK_STATUS(zipnn_archive_set_base_memory(a, st.bytes, st.len), ZIPNN_OK);
    CHECK_OK_HELPER(check_archive(a, SPECS, N_SPECS, &fine));
    zipnn_archive_free(a);

    dst = (unsigned char *)xmalloc(arc_len);
    o.target = 2;
    CHECK_STATUS(zipnn_safetensors_compress_bound(&o, st.bytes, st.len, &bound),
                 ZIPNN_ERROR_INVALID_PARAM);
    CHECK(bound == SENTINEL_SIZE);
    memset(dst, SENTINEL_BYTE, arc_len);
    CHECK_STATUS(zipnn_safetensors_compress(&o, st.bytes, st.len, fine.bytes, fine.len, dst,
                                            arc_len, &w),
                 ZIPNN_ERROR_INVALID_PARAM);
    CHECK(w == SENTINEL_SIZE && all_bytes_are(dst, arc_len, SENTINEL_BYTE));
    free(dst);
    free(arc);
    free(fine.bytes);
    free(st.bytes);
    return 0;
}

/* A tensor tied to another in the fine-tune whose base has them untied: the shared frame
 * is a delta against the first tensor's base bytes, so decoding the tied one must use
 * those, not the base's bytes for its own name. */
static int test_delta_tied_to_untied_base(void) {
    static const spec_t fine_specs[] = {
        {"embed", "F32", 1, {256, 0, 0, 0}, -1},
        {"head", "F32", 1, {256, 0, 0, 0}, 0},
    };
    static const spec_t base_specs[] = {
        {"embed", "F32", 1, {256, 0, 0, 0}, -1},
        {"head", "F32", 1, {256, 0, 0, 0}, -1},
    };
    st_file base, fine;
    unsigned char *arc = NULL, out[1024];
    size_t arc_len = 0, w = 0;
    zipnn_archive *a = NULL;
    build_st(base_specs, 2, 11, 0, &base);
    build_st(fine_specs, 2, 11, 1, &fine);
    CHECK_OK_HELPER(make_archive(NULL, &fine, &base, &arc, &arc_len));
    CHECK_STATUS(zipnn_archive_open_memory(arc, arc_len, NULL, &a), ZIPNN_OK);
    CHECK_STATUS(zipnn_archive_set_base_memory(a, base.bytes, base.len), ZIPNN_OK);
    CHECK_STATUS(zipnn_archive_decode(a, 0, out, sizeof out, &w), ZIPNN_OK);
    CHECK(w == 1024 && memcmp(out, st_tensor(&fine, 0), w) == 0);
    CHECK_STATUS(zipnn_archive_decode(a, 1, out, sizeof out, &w), ZIPNN_OK);
    CHECK(w == 1024 && memcmp(out, st_tensor(&fine, 1), w) == 0);
    CHECK_OK_HELPER(check_archive(a, fine_specs, 2, &fine));
    zipnn_archive_free(a);
    free(arc);
    free(base.bytes);
    free(fine.bytes);
    return 0;
}

/* Reads a (possibly damaged) archive of `st` through every reader call, sizing through the
 * alloc-size calls; counts what happened. Anything decoded must be exactly right. */
static int sweep_one(const unsigned char *arc, size_t len, const st_file *st, size_t *opened,
                     size_t *decoded, size_t *refused) {
    zipnn_archive *h = NULL;
    size_t i, n = 0, w = 0;
    unsigned char *dst;
    if (zipnn_archive_open_memory(arc, len, NULL, &h) != ZIPNN_OK) {
        return 0;
    }
    (*opened)++;
    for (i = 0; i < N_SPECS; i++) {
        if (zipnn_archive_decode_alloc_size(h, i, &n) != ZIPNN_OK) {
            (*refused)++;
            continue;
        }
        dst = (unsigned char *)xmalloc(n);
        if (zipnn_archive_decode(h, i, dst, n, &w) == ZIPNN_OK) {
            CHECK(w == st->size[i] && memcmp(dst, st_tensor(st, i), w) == 0);
            (*decoded)++;
        } else {
            (*refused)++;
        }
        free(dst);
    }
    if (zipnn_archive_restore_alloc_size(h, &n) == ZIPNN_OK) {
        dst = (unsigned char *)xmalloc(n);
        if (zipnn_archive_restore(h, dst, n, &w) == ZIPNN_OK) {
            CHECK(w == st->len && memcmp(dst, st->bytes, w) == 0);
        }
        free(dst);
    }
    zipnn_archive_free(h);
    return 0;
}

/* Every byte of an archive flipped, and every truncation: never a crash, never a wrong
 * byte (the same sweep runs through the Python, Go and C++ archive readers). */
static int test_corruption_sweep(void) {
    st_file st;
    unsigned char *arc = NULL, *bad;
    size_t len = 0, at, opened = 0, decoded = 0, refused = 0, variants = 0;
    build_st(SPECS, N_SPECS, 9, 0, &st);
    CHECK_OK_HELPER(make_archive(NULL, &st, NULL, &arc, &len));
    bad = (unsigned char *)xmalloc(len);
    for (at = 0; at < len; at++) {
        memcpy(bad, arc, len);
        bad[at] ^= 0x01;
        CHECK_OK_HELPER(sweep_one(bad, len, &st, &opened, &decoded, &refused));
        bad[at] ^= 0xFF;
        CHECK_OK_HELPER(sweep_one(bad, len, &st, &opened, &decoded, &refused));
        CHECK_OK_HELPER(sweep_one(arc, at, &st, &opened, &decoded, &refused));
        variants += 3;
    }
    printf("    C sweep: %lu damaged archives (%lu bytes each flipped twice, every truncation): "
           "%lu opened, %lu tensors decoded exactly, %lu refused, 0 wrong\n",
           (unsigned long)variants, (unsigned long)len, (unsigned long)opened,
           (unsigned long)decoded, (unsigned long)refused);
    CHECK(opened > 0 && decoded > 0 && refused > 0);
    free(bad);
    free(arc);
    free(st.bytes);
    return 0;
}

/* ------------------------------------------------------------------------------------ */

#define TEST(f) {#f, f}
static const test_case TESTS[] = {
    TEST(test_open_memory_roundtrip),
    TEST(test_open_file_roundtrip),
    TEST(test_null_pointers),
    TEST(test_lookup_errors),
    TEST(test_damaged_archives),
    TEST(test_delta_archive),
    TEST(test_lossy_archive),
    TEST(test_target_archive),
    TEST(test_delta_tied_to_untied_base),
    TEST(test_corruption_sweep),
};
#undef TEST

int main(int argc, char **argv) {
    return run_tests(TESTS, sizeof TESTS / sizeof TESTS[0], argc, argv);
}
