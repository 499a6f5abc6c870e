/* zipnn.h must be idempotent: including it twice in one translation unit compiles
 * cleanly as C99 with -Wall -Wextra -Wpedantic -Werror, and links and runs. */
#include "zipnn.h"
#include "zipnn.h"

#include <stdio.h>
#include <string.h>

int main(void) {
    zipnn_options o = ZIPNN_OPTIONS_INIT;
    zipnn_options p;
    zipnn_options_init(&p);
    if (memcmp(&o, &p, sizeof o) != 0) {
        fprintf(stderr, "ZIPNN_OPTIONS_INIT differs from zipnn_options_init\n");
        return 1;
    }
    if (zipnn_version_number() != ZIPNN_VERSION_NUMBER) {
        fprintf(stderr, "version mismatch\n");
        return 1;
    }
    printf("header_twice ok (%s)\n", zipnn_version_string());
    return 0;
}
