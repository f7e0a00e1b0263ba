// What the process holds in memory, read from /proc (Linux).
//
// Backends measure a model's memory as the RSS delta across its load; the
// runtime compares RSS with the budget. malloc_trim hands freed heap pages
// back to the kernel after an unload.
// Thread-safety: functions are thread-safe (RSS deltas across concurrent
// loads are approximate, which callers document).
#pragma once

#include <cstddef>
#include <cstdint>

namespace polaris {

// Resident set size in bytes; 0 if /proc is unreadable.
uint64_t process_rss_bytes();
// Bytes the C heap has handed out and not taken back (glibc mallinfo2:
// in-use arena bytes plus mmapped chunks), counted whether or not the pages
// were resident before; 0 where unknown (another allocator, sanitizers).
// Unlike RSS growth, a load's delta here does not shrink when it reuses
// pages an earlier unload freed.
uint64_t heap_in_use_bytes();
// Number of threads of this process (from /proc/self/status); 0 if unknown.
int process_thread_count();
// Memory this process may use at most: the smaller of the machine's
// MemTotal and the cgroup's limit (v2 memory.max or v1
// memory.limit_in_bytes) when one is set; 0 if neither can be read.
uint64_t system_memory_bytes();
// Makes glibc serve every allocation of at least `bytes` with its own
// mmap, so freeing it returns it to the kernel at once. glibc's default
// threshold rises (up to 32 MiB) after large frees, after which model
// weights and activations land in the heap, where unload-reload cycles
// fragment it and RSS creeps up (measured in docs/performance.md). Fixing
// it costs a page-fault pass over each large allocation. Process-wide.
void set_mmap_threshold(std::size_t bytes);
// Returns freed heap memory to the kernel (glibc malloc_trim(0)).
void release_free_memory();

}  // namespace polaris
