/*
 * roundtrip FILE [dtype]
 *
 * Reads a weight file, compresses it with zipnn, decompresses it, checks that the bytes
 * are identical, and prints sizes, ratio and throughput. dtype is one of raw (default),
 * bf16, fp16, fp32, fp64, fp8_e4m3, fp8_e5m2, int8, uint8.
 *
 * Build:  cc roundtrip.c $(pkg-config --cflags --libs zipnn) -o roundtrip
 *    or:  cmake -S . -B build -DCMAKE_PREFIX_PATH=<zipnn prefix> && cmake --build build
 */
#define _POSIX_C_SOURCE 200809L

#include <zipnn.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static const struct {
    const char *name;
    uint32_t code;
} DTYPES[] = {
    {"raw", ZIPNN_DTYPE_RAW},           {"bf16", ZIPNN_DTYPE_BF16},
    {"fp16", ZIPNN_DTYPE_FP16},         {"fp32", ZIPNN_DTYPE_FP32},
    {"fp64", ZIPNN_DTYPE_FP64},         {"fp8_e4m3", ZIPNN_DTYPE_FP8_E4M3},
    {"fp8_e5m2", ZIPNN_DTYPE_FP8_E5M2}, {"int8", ZIPNN_DTYPE_INT8},
    {"uint8", ZIPNN_DTYPE_UINT8},
};

static double now_seconds(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static double mb_per_s(size_t bytes, double seconds) {
    return seconds > 0 ? (double)bytes / 1e6 / seconds : 0.0;
}

/* Reads the whole file; returns NULL (with a message) on failure. */
static unsigned char *read_file(const char *path, size_t *size_out) {
    FILE *f = fopen(path, "rb");
    unsigned char *buf = NULL;
    size_t size = 0, cap = 0;
    if (!f) {
        fprintf(stderr, "roundtrip: cannot open %s: %s\n", path, strerror(errno));
        return NULL;
    }
    for (;;) {
        size_t n;
        if (size == cap) {
            size_t ncap = cap ? cap * 2 : (size_t)1 << 20;
            unsigned char *nbuf = (unsigned char *)realloc(buf, ncap);
            if (!nbuf) {
                fprintf(stderr, "roundtrip: out of memory reading %s\n", path);
                free(buf);
                fclose(f);
                return NULL;
            }
            buf = nbuf;
            cap = ncap;
        }
        n = fread(buf + size, 1, cap - size, f);
        size += n;
        if (n == 0) {
            break;
        }
    }
    if (ferror(f)) {
        fprintf(stderr, "roundtrip: error reading %s\n", path);
        free(buf);
        fclose(f);
        return NULL;
    }
    fclose(f);
    *size_out = size;
    return buf;
}

int main(int argc, char **argv) {
    zipnn_options opts;
    unsigned char *src = NULL, *frame = NULL, *back = NULL;
    size_t src_size = 0, bound, frame_size = 0, back_size = 0;
    zipnn_status st;
    double t0, t_comp, t_decomp;
    int rc = 1;
    size_t i;

    if (argc < 2 || argc > 3) {
        fprintf(stderr, "usage: %s FILE [dtype]\n  dtype: raw (default)", argv[0]);
        for (i = 1; i < sizeof DTYPES / sizeof DTYPES[0]; i++) {
            fprintf(stderr, ", %s", DTYPES[i].name);
        }
        fprintf(stderr, "\n");
        return 2;
    }
    zipnn_options_init(&opts);
    if (argc == 3) {
        int found = 0;
        for (i = 0; i < sizeof DTYPES / sizeof DTYPES[0]; i++) {
            if (strcmp(argv[2], DTYPES[i].name) == 0) {
                opts.dtype = DTYPES[i].code;
                found = 1;
            }
        }
        if (!found) {
            fprintf(stderr, "roundtrip: unknown dtype '%s'\n", argv[2]);
            return 2;
        }
    }

    src = read_file(argv[1], &src_size);
    if (!src) {
        return 1;
    }
    st = zipnn_compress_bound(&opts, src_size, &bound);
    if (st != ZIPNN_OK) {
        fprintf(stderr, "roundtrip: %s\n", zipnn_error_string(st));
        goto out;
    }
    frame = (unsigned char *)malloc(bound);
    back = (unsigned char *)malloc(src_size ? src_size : 1);
    if (!frame || !back) {
        fprintf(stderr, "roundtrip: out of memory\n");
        goto out;
    }

    t0 = now_seconds();
    st = zipnn_compress(&opts, src, src_size, frame, bound, &frame_size);
    t_comp = now_seconds() - t0;
    if (st != ZIPNN_OK) {
        fprintf(stderr, "roundtrip: compress failed: %s (%d)\n", zipnn_error_string(st), (int)st);
        goto out;
    }

    t0 = now_seconds();
    st = zipnn_decompress(frame, frame_size, back, src_size, &back_size);
    t_decomp = now_seconds() - t0;
    if (st != ZIPNN_OK) {
        fprintf(stderr, "roundtrip: decompress failed: %s (%d)\n", zipnn_error_string(st),
                (int)st);
        goto out;
    }
    if (back_size != src_size || (src_size && memcmp(back, src, src_size) != 0)) {
        fprintf(stderr, "roundtrip: MISMATCH: decompressed data differs from the input\n");
        goto out;
    }

    printf("zipnn %s, dtype %s\n", zipnn_version_string(), argc == 3 ? argv[2] : "raw");
    printf("original:   %lu bytes\n", (unsigned long)src_size);
    printf("compressed: %lu bytes\n", (unsigned long)frame_size);
    printf("ratio:      %.4f (%.2f%% of original)\n",
           frame_size ? (double)src_size / (double)frame_size : 0.0,
           src_size ? 100.0 * (double)frame_size / (double)src_size : 0.0);
    printf("compress:   %.1f MB/s\n", mb_per_s(src_size, t_comp));
    printf("decompress: %.1f MB/s\n", mb_per_s(src_size, t_decomp));
    printf("round trip OK\n");
    rc = 0;
out:
    free(src);
    free(frame);
    free(back);
    return rc;
}
