/* Checking macros shared by the C tests: each returns 1 from the enclosing test function
 * on failure, after printing where and why. */
#ifndef ZIPNN_TEST_CHECK_H
#define ZIPNN_TEST_CHECK_H

#include <stdio.h>

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

/* Values an untouched output buffer or out-parameter keeps. */
#define SENTINEL_BYTE 0xA5u
#define SENTINEL_SIZE ((size_t)0xDEADBEEFu)

#endif
