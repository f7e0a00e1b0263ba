// Byte sizes as people write and read them: "--memory-limit 6GiB", and
// "1.5 GiB" in tables and messages. Thread-safety: pure functions.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "core/status.h"

namespace polaris {

// "6GiB", "512MiB", "1.5G", "800M", "4096" (bytes); units K/M/G/T are
// powers of 1024 with or without "iB", kB/MB/GB/TB are powers of 1000.
Result<uint64_t> parse_byte_size(std::string_view text);
// 1610612736 -> "1.5 GiB", 512 -> "512 B"
std::string format_byte_size(uint64_t bytes);

}  // namespace polaris
