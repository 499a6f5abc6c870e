/* Files the reference package (PyPI zipnn 0.5.4) wrote, through the C API: every vector of
 * tests/reference-vectors/manifest.tsv decodes to its listed content (frames with
 * zipnn_decompress / zipnn_decompress_delta, safetensors files with zipnn_archive_*), and
 * zipnn_convert rewrites each in the checksummed format. */
#include <stdint.h>
#include <stdlib.h>

#include "check.h"

#ifndef ZIPNN_REFERENCE_DIR
#error "ZIPNN_REFERENCE_DIR must name tests/reference-vectors"
#endif

static unsigned char *read_path(const char *rel, size_t *len) {
    char path[1024];
    FILE *f;
    long n;
    unsigned char *buf;
    snprintf(path, sizeof path, "%s/%s", ZIPNN_REFERENCE_DIR, rel);
    f = fopen(path, "rb");
    if (!f) {
        fprintf(stderr, "  cannot open %s\n", path);
        return NULL;
    }
    fseek(f, 0, SEEK_END);
    n = ftell(f);
    fseek(f, 0, SEEK_SET);
    buf = (unsigned char *)malloc((size_t)n + 1);
    if (!buf || fread(buf, 1, (size_t)n, f) != (size_t)n) {
        fclose(f);
        free(buf);
        return NULL;
    }
    fclose(f);
    *len = (size_t)n;
    return buf;
}

/* The bytes `inputs/X` or `inputs/X[A:B]` names (a new buffer; NULL on error). */
static unsigned char *content(const char *spec, size_t *len) {
    char name[512];
    const char *br = strchr(spec, '[');
    size_t all_len = 0, a = 0, b = 0;
    unsigned char *all, *out;
    size_t n = br ? (size_t)(br - spec) : strlen(spec);
    if (n >= sizeof name) {
        return NULL;
    }
    memcpy(name, spec, n);
    name[n] = 0;
    all = read_path(name, &all_len);
    if (!all || !br) {
        *len = all_len;
        return all;
    }
    if (sscanf(br, "[%zu:%zu]", &a, &b) != 2 || a > b || b > all_len) {
        free(all);
        return NULL;
    }
    out = (unsigned char *)malloc(b - a + 1);
    if (out) {
        memcpy(out, all + a, b - a);
    }
    free(all);
    *len = b - a;
    return out;
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

/* Decodes one frame vector and checks it against `want`. */
static int check_frame(const char *file, const char *kind, const char *shape,
                       const unsigned char *src, size_t n, const unsigned char *want,
                       size_t want_len, const unsigned char *base, size_t base_len) {
    uint64_t size = 0;
    size_t w = SENTINEL_SIZE, cap = want_len + 1;
    unsigned char *dst = (unsigned char *)malloc(cap);
    zipnn_frame_info info;
    int is_delta = base != NULL;
    CHECK(dst != NULL);
    CHECK_STATUS(zipnn_get_decompressed_size(src, n, &size), ZIPNN_OK);
    CHECK(size == want_len);
    memset(&info, 0, sizeof info);
    info.struct_size = (uint32_t)sizeof info;
    CHECK_STATUS(zipnn_get_frame_info(src, n, &info), ZIPNN_OK);
    CHECK(info.format == ZIPNN_FORMAT_REFERENCE);
    CHECK(info.frame_size == n && info.original_size == want_len);
    if (is_delta) {
        CHECK_STATUS(zipnn_decompress(src, n, dst, cap, &w), ZIPNN_ERROR_BASE_REQUIRED);
        CHECK(w == SENTINEL_SIZE);
        CHECK_STATUS(zipnn_decompress_delta(NULL, base, base_len, src, n, dst, cap, &w), ZIPNN_OK);
    } else {
        CHECK_STATUS(zipnn_decompress(src, n, dst, cap, &w), ZIPNN_OK);
        CHECK_STATUS(zipnn_verify(src, n), ZIPNN_OK);
    }
    if (w != want_len || (want_len && memcmp(dst, want, want_len) != 0)) {
        fprintf(stderr, "  %s: decoded bytes differ\n", file);
        free(dst);
        return 1;
    }
    if (strcmp(kind, "torch") == 0 || strcmp(kind, "numpy") == 0) {
        /* The manifest's shape, "[384, 384]" or "[]". */
        uint64_t dims[8];
        size_t nd = 0, k = 0;
        const char *p = shape + 1;
        CHECK(info.input_format == (strcmp(kind, "torch") == 0 ? ZIPNN_INPUT_TORCH : ZIPNN_INPUT_NUMPY));
        CHECK_STATUS(zipnn_get_shape(src, n, dims, 8, &nd), ZIPNN_OK);
        while (*p && *p != ']') {
            char *end;
            unsigned long long d = strtoull(p, &end, 10);
            CHECK(end != p && k < nd && dims[k] == d);
            k++;
            p = end;
            while (*p == ',' || *p == ' ') {
                p++;
            }
        }
        CHECK(k == nd);
    } else {
        uint64_t dims[1];
        size_t nd = SENTINEL_SIZE;
        CHECK(info.input_format == ZIPNN_INPUT_BYTES);
        CHECK_STATUS(zipnn_get_shape(src, n, dims, 1, &nd), ZIPNN_ERROR_NOT_FOUND);
        CHECK(nd == SENTINEL_SIZE);
    }
    /* Cut short: an error, and dst untouched. */
    if (n > 33) {
        memset(dst, SENTINEL_BYTE, cap);
        w = SENTINEL_SIZE;
        CHECK(zipnn_decompress_delta(NULL, base, base_len, src, n - 1, dst, cap, &w) < 0);
        CHECK(w == SENTINEL_SIZE && dst[0] == SENTINEL_BYTE);
    }
    free(dst);
    return 0;
}

/* Opens a safetensors vector as an archive and restores the original file. */
static int check_safetensors(const unsigned char *src, size_t n, const unsigned char *want,
                             size_t want_len) {
    zipnn_archive *a = NULL;
    uint64_t total = 0;
    size_t w = 0, count = 0;
    unsigned char *dst;
    CHECK_STATUS(zipnn_archive_open_memory(src, n, NULL, &a), ZIPNN_OK);
    CHECK_STATUS(zipnn_archive_restored_size(a, &total), ZIPNN_OK);
    CHECK(total == want_len);
    CHECK_STATUS(zipnn_archive_tensor_count(a, &count), ZIPNN_OK);
    CHECK(count == 7);
    dst = (unsigned char *)malloc(want_len);
    CHECK(dst != NULL);
    CHECK_STATUS(zipnn_archive_restore(a, dst, want_len, &w), ZIPNN_OK);
    CHECK(w == want_len && memcmp(dst, want, want_len) == 0);
    free(dst);
    zipnn_archive_free(a);
    return 0;
}

/* zipnn_convert: a checksummed zipnn frame or archive that decodes to the same bytes. */
static int check_convert(const char *kind, const unsigned char *src, size_t n,
                         const unsigned char *want, size_t want_len, const unsigned char *base,
                         size_t base_len) {
    size_t bound = 0, w = SENTINEL_SIZE;
    unsigned char *out, *back;
    CHECK_STATUS(zipnn_convert_bound(NULL, src, n, &bound), ZIPNN_OK);
    out = (unsigned char *)malloc(bound);
    CHECK(out != NULL);
    if (base) {
        CHECK_STATUS(zipnn_convert(NULL, NULL, 0, src, n, out, bound, &w), ZIPNN_ERROR_BASE_REQUIRED);
        CHECK(w == SENTINEL_SIZE);
    }
    CHECK_STATUS(zipnn_convert(NULL, base, base_len, src, n, out, bound, &w), ZIPNN_OK);
    CHECK(w <= bound);
    back = (unsigned char *)malloc(want_len + 1);
    CHECK(back != NULL);
    if (strcmp(kind, "safetensors") == 0 || strcmp(kind, "zipnn-hf") == 0) {
        zipnn_archive *a = NULL;
        size_t r = 0;
        CHECK_STATUS(zipnn_archive_open_memory(out, w, NULL, &a), ZIPNN_OK);
        CHECK_STATUS(zipnn_archive_restore(a, back, want_len + 1, &r), ZIPNN_OK);
        CHECK(r == want_len);
        zipnn_archive_free(a);
    } else {
        size_t r = 0;
        zipnn_frame_info info;
        memset(&info, 0, sizeof info);
        info.struct_size = (uint32_t)sizeof info;
        CHECK_STATUS(zipnn_get_frame_info(out, w, &info), ZIPNN_OK);
        CHECK(info.format == ZIPNN_FORMAT_ZIPNN);
        CHECK_STATUS(zipnn_decompress_delta(NULL, base, base_len, out, w, back, want_len + 1, &r),
                     ZIPNN_OK);
        CHECK(r == want_len);
    }
    CHECK(want_len == 0 || memcmp(back, want, want_len) == 0);
    free(back);
    free(out);
    return 0;
}

static int test_reference_vectors(void) {
    size_t mlen = 0, rows = 0;
    unsigned char *manifest = read_path("manifest.tsv", &mlen);
    char *line, *rest;
    int header = 1;
    CHECK(manifest != NULL);
    manifest[mlen] = 0;
    rest = (char *)manifest;
    while ((line = next_field(&rest, '\n')) != NULL) {
        /* file kind made original dtype shape sha256 original_decodes delta_base */
        char *col[9], *s = line;
        int k;
        size_t n = 0, want_len = 0, base_len = 0;
        unsigned char *src, *want, *base = NULL;
        int bad;
        for (k = 0; k < 9; k++) {
            col[k] = next_field(&s, '\t');
            CHECK(col[k] != NULL);
        }
        if (header) {
            CHECK(strcmp(col[0], "file") == 0 && strcmp(col[8], "delta_base") == 0);
            header = 0;
            continue;
        }
        src = read_path(col[0], &n);
        want = content(col[3], &want_len);
        CHECK(src != NULL && want != NULL);
        if (strcmp(col[8], "-") != 0) {
            base = content(col[8], &base_len);
            CHECK(base != NULL);
        }
        if (strcmp(col[1], "safetensors") == 0) {
            bad = check_safetensors(src, n, want, want_len);
        } else {
            bad = check_frame(col[0], col[1], col[5], src, n, want, want_len, base, base_len);
        }
        if (!bad) {
            bad = check_convert(col[1], src, n, want, want_len, base, base_len);
        }
        if (bad) {
            fprintf(stderr, "  vector %s\n", col[0]);
            return 1;
        }
        free(src);
        free(want);
        free(base);
        rows++;
    }
    free(manifest);
    CHECK(rows == 34);
    return 0;
}

int main(int argc, char **argv) {
    static const test_case tests[] = {
        {"test_reference_vectors", test_reference_vectors},
    };
    return run_tests(tests, sizeof tests / sizeof tests[0], argc, argv);
}
