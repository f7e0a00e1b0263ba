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
// Fixes glibc's mmap threshold (allocations of at least `mmap_bytes` get
// their own mapping, returned to the kernel when freed) and trim threshold
// (free memory at the top of the heap beyond `trim_bytes` is returned at
// once). glibc's defaults are dynamic: after a large free the mmap threshold
// rises (up to 32 MiB), after which model weights land in the heap and
// unload/reload cycles fragment it (docs/performance.md). Fixing the mmap
// threshold also freezes the trim threshold, so both are set together: a
// small trim threshold returns and re-faults activation buffers on every
// request (measured: libtorch 1.6x slower). Process-wide.
void set_malloc_thresholds(std::size_t mmap_bytes, std::size_t trim_bytes);
// Returns freed heap memory to the kernel (glibc malloc_trim(0)).
void release_free_memory();

}  // namespace polaris
