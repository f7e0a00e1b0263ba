#include "core/process_memory.h"

#include <malloc.h>
#include <unistd.h>

#include <fstream>
#include <optional>
#include <string>

#if defined(__SANITIZE_ADDRESS__)
#define POLARIS_HAS_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define POLARIS_HAS_ASAN 1
#endif
#endif
#ifndef POLARIS_HAS_ASAN
#define POLARIS_HAS_ASAN 0
#endif
#if POLARIS_HAS_ASAN
#include <sanitizer/allocator_interface.h>
#endif

namespace polaris {

uint64_t process_rss_bytes() {
  std::ifstream statm("/proc/self/statm");
  uint64_t size_pages = 0, resident_pages = 0;
  if (!(statm >> size_pages >> resident_pages)) return 0;
  return resident_pages * static_cast<uint64_t>(sysconf(_SC_PAGESIZE));
}

int process_thread_count() {
  std::ifstream status("/proc/self/status");
  std::string key;
  while (status >> key) {
    if (key == "Threads:") {
      int n = 0;
      status >> n;
      return n;
    }
    status.ignore(4096, '\n');
  }
  return 0;
}

namespace {

// A number from a one-value file ("max" or unreadable: nullopt).
std::optional<uint64_t> read_limit_file(const char* path) {
  std::ifstream in(path);
  std::string text;
  if (!(in >> text) || text == "max") return std::nullopt;
  try {
    return std::stoull(text);
  } catch (const std::exception&) {
    return std::nullopt;
  }
}

}  // namespace

uint64_t system_memory_bytes() {
  uint64_t total = 0;
  std::ifstream meminfo("/proc/meminfo");
  std::string key;
  while (meminfo >> key) {
    if (key == "MemTotal:") {
      uint64_t kib = 0;
      meminfo >> kib;
      total = kib * 1024;
      break;
    }
    meminfo.ignore(4096, '\n');
  }
  for (const char* path : {"/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory/memory.limit_in_bytes"})
    if (auto limit = read_limit_file(path); limit && *limit > 0 && (total == 0 || *limit < total)) total = *limit;
  return total;
}

uint64_t heap_in_use_bytes() {
#if POLARIS_HAS_ASAN
  // The sanitizer's allocator serves every malloc; glibc's arenas are idle.
  return __sanitizer_get_current_allocated_bytes();
#endif
  const struct mallinfo2 info = mallinfo2();
  return static_cast<uint64_t>(info.uordblks) + static_cast<uint64_t>(info.hblkhd);
}

void set_malloc_thresholds(std::size_t mmap_bytes, std::size_t trim_bytes) {
  mallopt(M_MMAP_THRESHOLD, static_cast<int>(mmap_bytes));
  mallopt(M_TRIM_THRESHOLD, static_cast<int>(trim_bytes));
}

void release_free_memory() { malloc_trim(0); }

}  // namespace polaris
