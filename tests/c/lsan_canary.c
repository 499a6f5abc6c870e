/* Leak-detection canary for the ASan build: this program leaks on purpose, and CTest
 * expects it to FAIL. If it passes, LeakSanitizer is not working in this environment
 * (for example under ptrace or some container sandboxes), and the leak checking of the
 * ASan test runs means nothing. */
#include "zipnn.h"

#include <stdio.h>
#include <stdlib.h>

static void *volatile sink;

int main(void) {
    void *p = malloc(4096);
    if (!p) {
        return 0;
    }
    sink = p;
    sink = NULL; /* the only reference is gone: a definite leak */
    printf("%s\n", zipnn_version_string());
    return 0;
}
