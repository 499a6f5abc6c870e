/* Native timing for bench.py: zipnn_compress / zipnn_decompress_with_options (same thread
 * count as the SDK runs) on the file given,
 * with preallocated buffers and with a malloc per call (what an allocating API pays).
 * Usage: bench_native FILE REPEAT THREADS. Prints four lines "name seconds" (best of REPEAT). */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include "zipnn.h"

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9;
}

int main(int argc, char **argv) {
    if (argc != 4) return 2;
    FILE *f = fopen(argv[1], "rb");
    if (!f) return 2;
    fseek(f, 0, SEEK_END);
    size_t n = (size_t)ftell(f);
    fseek(f, 0, SEEK_SET);
    unsigned char *src = malloc(n);
    if (!src || fread(src, 1, n, f) != n) return 2;
    fclose(f);
    int repeat = atoi(argv[2]);
    zipnn_options o;
    zipnn_options_init(&o);
    o.dtype = ZIPNN_DTYPE_BF16;
    o.threads = (uint32_t)atoi(argv[3]);
    size_t bound = 0, w = 0, flen = 0;
    if (zipnn_compress_bound(&o, n, &bound) != ZIPNN_OK) return 1;
    unsigned char *cbuf = malloc(bound), *dbuf = malloc(n);
    if (zipnn_compress(&o, src, n, cbuf, bound, &flen) != ZIPNN_OK) return 1;
    if (zipnn_decompress_with_options(&o, cbuf, flen, dbuf, n, &w) != ZIPNN_OK) return 1;
    double best[4] = {1e9, 1e9, 1e9, 1e9};
    for (int r = 0; r < repeat; r++) {
        double t = now();
        if (zipnn_compress(&o, src, n, cbuf + 0, bound, &w) != ZIPNN_OK) return 1;
        t = now() - t; if (t < best[0]) best[0] = t;
        t = now();
        unsigned char *m = malloc(bound);
        if (zipnn_compress(&o, src, n, m, bound, &w) != ZIPNN_OK) return 1;
        free(m);
        t = now() - t; if (t < best[1]) best[1] = t;
        t = now();
        if (zipnn_decompress_with_options(&o, cbuf, flen, dbuf, n, &w) != ZIPNN_OK) return 1;
        t = now() - t; if (t < best[2]) best[2] = t;
        t = now();
        m = malloc(n);
        if (zipnn_decompress_with_options(&o, cbuf, flen, m, n, &w) != ZIPNN_OK) return 1;
        free(m);
        t = now() - t; if (t < best[3]) best[3] = t;
    }
    printf("compress %.6f\ncompress_malloc %.6f\ndecompress %.6f\ndecompress_malloc %.6f\n",
           best[0], best[1], best[2], best[3]);
    return 0;
}
