// What the process holds in memory, read from /proc (Linux).
//
// Backends measure a model's memory as the RSS delta across its load; the
// runtime compares RSS with the budget. malloc_trim hands freed heap pages
// back to the kernel after an unload.
// Thread-safety: functions are thread-safe (RSS deltas across concurrent
// loads are approximate, which callers document).
#pragma once

#include <cstdint>

namespace polaris {

// Resident set size in bytes; 0 if /proc is unreadable.
uint64_t process_rss_bytes();
// Number of threads of this process (from /proc/self/status); 0 if unknown.
int process_thread_count();
// Returns freed heap memory to the kernel (glibc malloc_trim(0)).
void release_free_memory();

}  // namespace polaris
