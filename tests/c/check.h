/* Checking macros shared by the C tests: each returns 1 from the enclosing test function
 * on failure, after printing where and why. */
#ifndef ZIPNN_TEST_CHECK_H
#define ZIPNN_TEST_CHECK_H

#include <math.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "zipnn.h"

#define CHECK(cond)                                                                       \
    do {                                                                                  \
        if (!(cond)) {                                                                    \
            fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #cond);     \
            return 1;                                                                     \
        }                                                                                 \
    } while (0)

/* CHECK that a status equals the expected one, printing both on failure. */
#define CHECK_STATUS(expr, want)                                                          \
    do {                                                                                  \
        zipnn_status got_ = (expr);                                                       \
        zipnn_status want_ = (want);                                                      \
        if (got_ != want_) {                                                              \
            fprintf(stderr, "%s:%d: %s returned %d (%s), expected %d (%s)\n", __FILE__,   \
                    __LINE__, #expr, (int)got_, zipnn_error_string(got_), (int)want_,     \
                    zipnn_error_string(want_));                                           \
            return 1;                                                                     \
        }                                                                                 \
    } while (0)

/* Propagates the failure of a helper that returns 0 on success. */
#define CHECK_OK_HELPER(expr)                                                             \
    do {                                                                                  \
        if ((expr) != 0) {                                                                \
            fprintf(stderr, "%s:%d: helper failed: %s\n", __FILE__, __LINE__, #expr);    \
            return 1;                                                                     \
        }                                                                                 \
    } while (0)

/* malloc that never returns NULL (the test exits instead); malloc(0) may return NULL, so
 * at least one byte is asked for. */
static inline void *xmalloc(size_t n) {
    void *p = malloc(n ? n : 1);
    if (!p) {
        fprintf(stderr, "out of memory (%lu bytes)\n", (unsigned long)n);
        exit(2);
    }
    return p;
}

/* Whether all `n` bytes at `p` are `v` (an output left untouched). */
static inline int all_bytes_are(const unsigned char *p, size_t n, unsigned char v) {
    size_t i;
    for (i = 0; i < n; i++) {
        if (p[i] != v) {
            return 0;
        }
    }
    return 1;
}

/* A 64-bit mixer (the splitmix64 finaliser): a counter-based generator for test data. */
static inline uint64_t mix(uint64_t x) {
    x ^= x >> 33;
    x *= 0xff51afd7ed558ccdull;
    x ^= x >> 33;
    x *= 0xc4ceb9fe1a85ec53ull;
    x ^= x >> 33;
    return x;
}

/* Standard normal number `i` of the sequence `seed` (Box-Muller on two mixed counters). */
static inline double gauss(uint64_t seed, size_t i) {
    double u1 = ((double)(mix(seed + 2 * i) >> 11) + 1.0) / 9007199254740993.0;
    double u2 = (double)(mix(seed + 2 * i + 1) >> 11) / 9007199254740992.0;
    return sqrt(-2.0 * log(u1)) * cos(6.283185307179586 * u2);
}

/* Values an untouched output buffer or out-parameter keeps. */
#define SENTINEL_BYTE 0xA5u
#define SENTINEL_SIZE ((size_t)0xDEADBEEFu)

/* zipnn_compress_bound's size, or 0 when it fails (invalid options, overflow). */
static inline size_t bound_of(const zipnn_options *opts, size_t n) {
    size_t b = 0;
    return zipnn_compress_bound(opts, n, &b) == ZIPNN_OK ? b : 0;
}

/* One test: its name (what a command-line argument selects) and its function (0 = pass). */
typedef struct {
    const char *name;
    int (*fn)(void);
} test_case;

/* Runs the tests named on the command line, or all of them without arguments; prints one
 * line per test and a summary. Returns the process exit status: 1 if any failed or none ran. */
static int run_tests(const test_case *tests, size_t count, int argc, char **argv) {
    size_t i;
    int failed = 0, run = 0;
    for (i = 0; i < count; i++) {
        int selected = argc < 2;
        int a;
        for (a = 1; a < argc; a++) {
            if (strcmp(argv[a], tests[i].name) == 0) {
                selected = 1;
            }
        }
        if (!selected) {
            continue;
        }
        run++;
        if (tests[i].fn() != 0) {
            printf("FAIL %s\n", tests[i].name);
            failed++;
        } else {
            printf("ok   %s\n", tests[i].name);
        }
        fflush(stdout);
    }
    printf("%d/%d tests passed\n", run - failed, run);
    return (failed || run == 0) ? 1 : 0;
}

#endif
