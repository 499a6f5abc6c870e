// zipnn.h compiled as C++17 with -Wall -Wextra -Wpedantic -Werror: the declarations get
// C linkage, the initialiser macro is valid C++, and the status constants are usable in
// constant expressions. Included twice on purpose.
#include "zipnn.h"
#include "zipnn.h"

#include <cstdio>
#include <cstring>
#include <type_traits>

static_assert(std::is_trivially_copyable<zipnn_options>::value, "plain data");
static_assert(std::is_standard_layout<zipnn_frame_info>::value, "plain data");
static_assert(ZIPNN_OK == 0 && ZIPNN_ERROR_DST_TOO_SMALL < 0, "status values");
static_assert(ZIPNN_VERSION_NUMBER ==
                  ZIPNN_VERSION_MAJOR * 10000 + ZIPNN_VERSION_MINOR * 100 + ZIPNN_VERSION_PATCH,
              "version macros");

int main() {
    zipnn_options o = ZIPNN_OPTIONS_INIT;
    zipnn_options p;
    zipnn_options_init(&p);
    if (std::memcmp(&o, &p, sizeof o) != 0) {
        std::fprintf(stderr, "ZIPNN_OPTIONS_INIT differs from zipnn_options_init\n");
        return 1;
    }
    const unsigned char data[5] = {1, 2, 3, 4, 5};
    unsigned char frame[512];
    size_t n = 0;
    if (zipnn_compress(nullptr, data, sizeof data, frame, sizeof frame, &n) != ZIPNN_OK) {
        return 1;
    }
    unsigned char out[5];
    size_t m = 0;
    if (zipnn_decompress(frame, n, out, sizeof out, &m) != ZIPNN_OK || m != 5 ||
        std::memcmp(out, data, 5) != 0) {
        return 1;
    }
    std::printf("header_cxx ok (%s)\n", zipnn_version_string());
    return 0;
}
