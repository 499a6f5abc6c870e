/*
 * Concurrency through the C ABI: 16 POSIX threads compress and decompress different data
 * at once (each with its own dtype, method and chunk size, alternating threads = 0 and 1
 * in the options) and every frame and output must equal the single-threaded reference.
 * Then one thread asks for threads = 2..300 in turn: the library's worker threads must
 * stay few (on Linux, counted in /proc/self/status).
 * Built normally and under ASan + UBSan by cmake/CMakeLists.txt.
 */
#define _POSIX_C_SOURCE 200809L /* pthreads under -std=c99 */

#include "zipnn.h"

#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define NTHREADS 16
#define NJOBS 16
#define ROUNDS 3

struct job {
    zipnn_options opts;
    unsigned char *src;
    size_t src_size;
    unsigned char *frame; /* single-threaded reference */
    size_t frame_size;
};

static struct job jobs[NJOBS];

struct worker {
    int id;
    int failures;
    pthread_t thread;
};

static uint64_t next_rand(uint64_t *s) {
    *s ^= *s >> 12;
    *s ^= *s << 25;
    *s ^= *s >> 27;
    return *s * 0x2545F4914F6CDD1DULL;
}

/* Weights-like bytes: small values around zero for float dtypes, patterns otherwise. */
static void fill(unsigned char *p, size_t n, uint32_t dtype, uint64_t seed) {
    uint64_t s = seed | 1;
    size_t i;
    for (i = 0; i < n; i++) {
        uint64_t r = next_rand(&s);
        switch (dtype) {
        case ZIPNN_DTYPE_BF16:
        case ZIPNN_DTYPE_FP16:
            /* high byte: a narrow exponent range; low byte: noise */
            p[i] = (unsigned char)((i % 2) ? (0x3C + (r % 4)) | ((r >> 8) & 0x80) : r);
            break;
        case ZIPNN_DTYPE_FP32:
            p[i] = (unsigned char)((i % 4 == 3) ? (0x3C + (r % 3)) | ((r >> 8) & 0x80) : r);
            break;
        case ZIPNN_DTYPE_FP64:
            p[i] = (unsigned char)((i % 8 == 7) ? 0x3F : (i % 8 == 6) ? 0x80 + (r % 16) : r);
            break;
        default:
            p[i] = (unsigned char)((i / 7) % 13 + ((r % 8) == 0 ? r % 5 : 0));
            break;
        }
    }
}

static int setup(void) {
    int i;
    for (i = 0; i < NJOBS; i++) {
        struct job *j = &jobs[i];
        size_t cap, written = 0;
        zipnn_status st;
        zipnn_options_init(&j->opts);
        j->opts.dtype = (uint32_t)(i % 9);
        j->opts.method = (uint32_t)((i / 2) % 6);
        j->opts.level = i % 4;
        j->opts.chunk_size = 4096u * (uint32_t)(1 + i % 3);
        j->opts.threads = 1;
        j->src_size = 40000 + (size_t)i * 3001;
        j->src = malloc(j->src_size);
        if (!j->src) return 1;
        fill(j->src, j->src_size, j->opts.dtype, 1000 + (uint64_t)i);
        if (zipnn_compress_bound(&j->opts, j->src_size, &cap) != ZIPNN_OK) return 1;
        j->frame = malloc(cap);
        if (!j->frame) return 1;
        st = zipnn_compress(&j->opts, j->src, j->src_size, j->frame, cap, &written);
        if (st != ZIPNN_OK) {
            fprintf(stderr, "setup job %d: %s\n", i, zipnn_error_string(st));
            return 1;
        }
        j->frame_size = written;
    }
    return 0;
}

#define FAIL(...)                                                                         \
    do {                                                                                  \
        fprintf(stderr, __VA_ARGS__);                                                     \
        w->failures++;                                                                    \
        goto next;                                                                        \
    } while (0)

static void *work(void *arg) {
    struct worker *w = arg;
    int round, k;
    for (round = 0; round < ROUNDS; round++) {
        for (k = 0; k < NJOBS; k++) {
            int i = (w->id + k + round) % NJOBS;
            const struct job *j = &jobs[i];
            zipnn_options o = j->opts;
            zipnn_options d;
            zipnn_frame_info info;
            size_t cap = 0, n = 0;
            unsigned char *frame =
                zipnn_compress_bound(&o, j->src_size, &cap) == ZIPNN_OK ? malloc(cap) : NULL;
            unsigned char *out = malloc(j->src_size);
            unsigned char *chunk = malloc(o.chunk_size);
            uint64_t c;
            zipnn_status st;
            if (!frame || !out || !chunk) FAIL("thread %d: out of memory\n", w->id);
            o.threads = (uint32_t)((w->id + k + round) % 2); /* 0 = all cores, 1 = caller */
            st = zipnn_compress(&o, j->src, j->src_size, frame, cap, &n);
            if (st != ZIPNN_OK) FAIL("thread %d job %d: compress %s\n", w->id, i, zipnn_error_string(st));
            if (n != j->frame_size || memcmp(frame, j->frame, n) != 0)
                FAIL("thread %d job %d: frame differs from the single-threaded one\n", w->id, i);
            zipnn_options_init(&d);
            d.threads = 1 - o.threads;
            d.max_decompressed_size = j->src_size;
            st = zipnn_decompress_with_options(&d, frame, n, out, j->src_size, &n);
            if (st != ZIPNN_OK || n != j->src_size || memcmp(out, j->src, n) != 0)
                FAIL("thread %d job %d: decompress %s\n", w->id, i, zipnn_error_string(st));
            memset(out, 0, j->src_size);
            st = zipnn_decompress(j->frame, j->frame_size, out, j->src_size, &n);
            if (st != ZIPNN_OK || n != j->src_size || memcmp(out, j->src, n) != 0)
                FAIL("thread %d job %d: decompress shared %s\n", w->id, i, zipnn_error_string(st));
            memset(&info, 0, sizeof info);
            info.struct_size = sizeof info;
            st = zipnn_get_frame_info(j->frame, j->frame_size, &info);
            if (st != ZIPNN_OK || info.original_size != j->src_size || info.chunk_count == 0)
                FAIL("thread %d job %d: frame info %s\n", w->id, i, zipnn_error_string(st));
            c = (uint64_t)w->id % info.chunk_count;
            st = zipnn_decompress_chunk(j->frame, j->frame_size, c, chunk, o.chunk_size, &n);
            if (st != ZIPNN_OK || memcmp(chunk, j->src + c * o.chunk_size, n) != 0)
                FAIL("thread %d job %d: chunk %lu %s\n", w->id, i, (unsigned long)c,
                     zipnn_error_string(st));
            st = zipnn_verify(j->frame, j->frame_size);
            if (st != ZIPNN_OK) FAIL("thread %d job %d: verify %s\n", w->id, i, zipnn_error_string(st));
        next:
            free(frame);
            free(out);
            free(chunk);
        }
    }
    return NULL;
}

/* The number of threads in this process (0 where /proc/self/status is not there). */
static long os_threads(void) {
    char line[256];
    long n = 0;
    FILE *f = fopen("/proc/self/status", "r");
    if (!f) return 0;
    while (fgets(line, sizeof line, f))
        if (strncmp(line, "Threads:", 8) == 0) n = strtol(line + 8, NULL, 10);
    fclose(f);
    return n;
}

/* Many different thread counts, one after another, on several chunks: every round trip
 * exact, and afterwards at most the calling thread, the shared pool and four cached pools
 * (of at most one thread per core) besides this test's own. */
static int many_thread_counts(void) {
    long cores = sysconf(_SC_NPROCESSORS_ONLN), bound, n;
    const struct job *j = &jobs[0];
    size_t cap, got, k;
    unsigned char *frame, *out;
    uint32_t t;
    int failures = 0;
    struct timespec pause = {0, 10 * 1000 * 1000};
    if (cores < 1) cores = 1;
    bound = os_threads() + cores + 4 * cores;
    if (zipnn_compress_bound(&j->opts, j->src_size, &cap) != ZIPNN_OK) return 1;
    frame = malloc(cap);
    out = malloc(j->src_size);
    if (!frame || !out) return 1;
    for (t = 2; t <= 300 && !failures; t++) {
        zipnn_options o = j->opts, d;
        zipnn_status st;
        o.threads = t;
        st = zipnn_compress(&o, j->src, j->src_size, frame, cap, &got);
        if (st != ZIPNN_OK || got != j->frame_size || memcmp(frame, j->frame, got) != 0) {
            fprintf(stderr, "threads %u: compress %s\n", t, zipnn_error_string(st));
            failures++;
            break;
        }
        zipnn_options_init(&d);
        d.threads = t;
        st = zipnn_decompress_with_options(&d, frame, got, out, j->src_size, &got);
        if (st != ZIPNN_OK || got != j->src_size || memcmp(out, j->src, got) != 0) {
            fprintf(stderr, "threads %u: decompress %s\n", t, zipnn_error_string(st));
            failures++;
        }
    }
    free(frame);
    free(out);
    /* Pools pushed out of the cache end their threads once idle: wait for that. */
    n = os_threads();
    for (k = 0; k < 500 && n > bound; k++) {
        nanosleep(&pause, NULL);
        n = os_threads();
    }
    if (n > bound) {
        fprintf(stderr, "threads = 2..300 left %ld threads, at most %ld expected\n", n, bound);
        failures++;
    }
    return failures;
}

int main(void) {
    struct worker workers[NTHREADS];
    int i, failures = 0;
    if (setup() != 0) {
        fprintf(stderr, "setup failed\n");
        return 1;
    }
    for (i = 0; i < NTHREADS; i++) {
        workers[i].id = i;
        workers[i].failures = 0;
        if (pthread_create(&workers[i].thread, NULL, work, &workers[i]) != 0) {
            fprintf(stderr, "pthread_create failed\n");
            return 1;
        }
    }
    for (i = 0; i < NTHREADS; i++) {
        pthread_join(workers[i].thread, NULL);
        failures += workers[i].failures;
    }
    failures += many_thread_counts();
    for (i = 0; i < NJOBS; i++) {
        free(jobs[i].src);
        free(jobs[i].frame);
    }
    if (failures) {
        fprintf(stderr, "test_threads: %d failures\n", failures);
        return 1;
    }
    printf("test_threads: %d threads x %d jobs x %d rounds: all identical\n", NTHREADS, NJOBS,
           ROUNDS);
    return 0;
}
