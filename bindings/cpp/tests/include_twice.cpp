// zipnn.hpp (and so zipnn.h) included twice in one translation unit.
#include <zipnn/zipnn.hpp>
#include <zipnn/zipnn.hpp>
#include <zipnn.h>

#include "include_tus.hpp"

std::string include_twice_version() { return zipnn::version_string(); }
