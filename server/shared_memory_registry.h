// Triton's system shared memory extension, the server's side: named windows
// into POSIX shared memory objects that clients on the same machine create
// (shm_open), so large tensors need not travel through HTTP or gRPC at all
// (docs/server.md, "Shared memory").
//
// Why each region is mapped once, at registration, and held by shared_ptr:
// a request then costs a map lookup, not an shm_open/mmap, and every tensor
// that views a region (an input read in place, an output being written)
// holds the mapping. Unregistering a region, or the client unlinking its
// object, while a request still uses it therefore unmaps nothing under the
// engine: the munmap happens when the last holder lets go (POSIX keeps an
// unlinked object's pages for as long as they are mapped).
//
// Bounded: at most kMaxRegions regions, names of at most kMaxNameBytes;
// a region is checked against the object's size (fstat) when registered and
// every window a request names is checked against the region.
// Thread-safety: SharedMemoryRegistry is thread-safe; a SharedMemoryRegion is
// immutable once registered (its bytes are the clients' to change).
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/status.h"

namespace polaris {

// One registered region: `byte_size` bytes of the object `key` from `offset`,
// mapped read-write and shared. Unmapped when the last reference goes.
class SharedMemoryRegion {
 public:
  ~SharedMemoryRegion();
  SharedMemoryRegion(const SharedMemoryRegion&) = delete;
  SharedMemoryRegion& operator=(const SharedMemoryRegion&) = delete;

  const std::string& name() const { return name_; }
  const std::string& key() const { return key_; }
  uint64_t offset() const { return offset_; }
  uint64_t byte_size() const { return byte_size_; }
  // The region's first byte (byte `offset` of the object).
  std::byte* data() const { return data_; }

 private:
  friend class SharedMemoryRegistry;
  SharedMemoryRegion(std::string name, std::string key, uint64_t offset, uint64_t byte_size, void* mapping,
                     std::size_t mapping_size, std::byte* data)
      : name_(std::move(name)), key_(std::move(key)), offset_(offset), byte_size_(byte_size), mapping_(mapping),
        mapping_size_(mapping_size), data_(data) {}

  std::string name_, key_;
  uint64_t offset_, byte_size_;
  void* mapping_;  // mmap's address: page-aligned, at or before data_
  std::size_t mapping_size_;
  std::byte* data_;
};

// What the status call reports of a region (Triton's fields).
struct SharedMemoryStatus {
  std::string name;
  std::string key;
  uint64_t offset = 0;
  uint64_t byte_size = 0;
};

// A window of a region that a request reads or writes, checked to lie inside
// it; `region` keeps the mapping alive as long as the window is used.
struct SharedMemoryWindow {
  std::shared_ptr<const SharedMemoryRegion> region;
  uint64_t offset = 0;     // within the region, as the request gave it
  uint64_t byte_size = 0;  // as the request gave it
  std::byte* data = nullptr;
};

class SharedMemoryRegistry {
 public:
  static constexpr std::size_t kMaxRegions = 1024;
  static constexpr std::size_t kMaxNameBytes = 256;

  SharedMemoryRegistry() = default;
  SharedMemoryRegistry(const SharedMemoryRegistry&) = delete;
  SharedMemoryRegistry& operator=(const SharedMemoryRegistry&) = delete;

  // Opens the object `key` (shm_open, read-write), checks that offset +
  // byte_size lies inside it (fstat) and maps that range. InvalidArgument
  // for a bad name or key, a zero byte_size, a range past the object's end,
  // a key no object has (Triton's "Unable to open shared memory region");
  // AlreadyExists for a name already registered (Triton's "shared memory
  // region 'N' already in manager"); ResourceExhausted past kMaxRegions;
  // PermissionDenied when switched off (set_enabled).
  Status register_region(std::string_view name, std::string_view key, uint64_t offset, uint64_t byte_size);

  // Every region, sorted by name (name empty), or the one named: NotFound
  // "Unable to find system shared memory region: 'N'" when there is none.
  Result<std::vector<SharedMemoryStatus>> status(std::string_view name) const;

  // Forgets one region (name empty: every region). As in Triton, an unknown
  // name is not an error. Requests in flight keep their mapping.
  void unregister(std::string_view name);

  // The window [offset, offset + byte_size) of region `name`. NotFound
  // "Unable to find shared memory region: 'N'"; InvalidArgument when the
  // window does not lie inside the region (Triton's "Invalid offset ..."
  // wording, then the numbers).
  Result<SharedMemoryWindow> window(std::string_view name, uint64_t offset, uint64_t byte_size) const;

  std::size_t size() const;

  // `polaris serve --allow-shared-memory false`: registration is refused
  // (PermissionDenied) and nothing is registered, so no request can name a
  // region either. On by default, as in Triton.
  void set_enabled(bool enabled) { enabled_ = enabled; }
  bool enabled() const { return enabled_.load(); }

 private:
  std::atomic<bool> enabled_{true};
  mutable std::mutex mu_;
  std::map<std::string, std::shared_ptr<const SharedMemoryRegion>, std::less<>> regions_;  // guarded by mu_
};

// Checks a region name: 1 to kMaxNameBytes bytes of UTF-8, no control
// characters, no '/' (it travels in an HTTP path segment).
Status validate_shared_memory_name(std::string_view name);

}  // namespace polaris
