// Functions defined in the standalone-include and double-include translation units.
#pragma once

#include <cstddef>
#include <string>
#include <vector>

std::vector<std::byte> include_once_roundtrip(const std::vector<std::byte>& data);
std::string include_twice_version();
