#include "server/shared_memory_registry.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <climits>
#include <cstring>
#include <limits>

#include <fmt/format.h>

#include "core/quote.h"
#include "core/utf8.h"

namespace polaris {

namespace {

bool has_control_characters(std::string_view text) {
  for (const char c : text)
    if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) return true;
  return false;
}

// A key as shm_open takes it: an optional leading '/' (glibc drops leading
// slashes), then 1 to NAME_MAX - 1 bytes with no other '/'. Control
// characters (NUL above all: the key becomes a C string) are refused too.
Status validate_key(std::string_view key) {
  std::string_view rest = key;
  while (rest.starts_with('/')) rest.remove_prefix(1);
  if (rest.empty() || rest.size() >= NAME_MAX || rest.find('/') != std::string_view::npos || rest == "." ||
      rest == ".." || has_control_characters(key) || !is_valid_utf8(key))
    return InvalidArgument("shared memory key " + in_quotes(key) +
                           " is not a POSIX shared memory object name ('/name': 1 to 254 bytes, no other '/', no "
                           "control characters)");
  return Status::Ok();
}

// Closes a descriptor on every path out.
struct Descriptor {
  int fd;
  ~Descriptor() {
    if (fd >= 0) ::close(fd);
  }
};

}  // namespace

SharedMemoryRegion::~SharedMemoryRegion() {
  if (mapping_ != nullptr) ::munmap(mapping_, mapping_size_);
}

Status validate_shared_memory_name(std::string_view name) {
  if (name.empty() || name.size() > SharedMemoryRegistry::kMaxNameBytes)
    return InvalidArgument(fmt::format("shared memory region name {} must be 1 to {} bytes", in_quotes(name),
                                       SharedMemoryRegistry::kMaxNameBytes));
  if (!is_valid_utf8(name) || has_control_characters(name) || name.find('/') != std::string_view::npos)
    return InvalidArgument("shared memory region name " + in_quotes(name) +
                           " must be UTF-8 without control characters or '/'");
  return Status::Ok();
}

Status SharedMemoryRegistry::register_region(std::string_view name, std::string_view key, uint64_t offset,
                                             uint64_t byte_size) {
  if (!enabled())
    return PermissionDenied("system shared memory is switched off on this server (polaris serve "
                            "--allow-shared-memory false)");
  POLARIS_RETURN_IF_ERROR(validate_shared_memory_name(name));
  POLARIS_RETURN_IF_ERROR(validate_key(key));
  const std::string quoted = in_quotes(name);
  if (byte_size == 0)
    return InvalidArgument("failed to register shared memory region " + quoted + ": byte_size must be positive");
  if (offset > std::numeric_limits<uint64_t>::max() - byte_size ||
      offset + byte_size > static_cast<uint64_t>(std::numeric_limits<off_t>::max()))
    return InvalidArgument(fmt::format("failed to register shared memory region {}: offset {} + byte_size {} "
                                       "overflows",
                                       quoted, offset, byte_size));
  auto refuse_locked = [&]() -> Status {
    if (regions_.find(name) != regions_.end())
      return Status(StatusCode::kAlreadyExists, "shared memory region " + quoted + " already in manager");
    if (regions_.size() >= kMaxRegions)
      return ResourceExhausted(fmt::format("failed to register shared memory region {}: {} regions are registered, "
                                           "the most Polaris keeps; unregister some first",
                                           quoted, regions_.size()));
    return Status::Ok();
  };
  {
    std::lock_guard lock(mu_);
    POLARIS_RETURN_IF_ERROR(refuse_locked());
  }

  // Opened and mapped without the lock: requests looking regions up are not
  // held up by the system calls. The name is checked again before insertion.
  const std::string key_text(key);
  Descriptor object{::shm_open(key_text.c_str(), O_RDWR, 0)};
  if (object.fd < 0) {
    const int error = errno;
    return InvalidArgument(fmt::format("Unable to open shared memory region: {}: {}{}", in_quotes(key),
                                       std::strerror(error),
                                       error == ENOENT ? " (no POSIX shared memory object has that key: create it "
                                                         "with shm_open first)"
                                                       : ""));
  }
  struct stat st {};
  if (::fstat(object.fd, &st) != 0 || !S_ISREG(st.st_mode) || st.st_size < 0)
    return InvalidArgument("Invalid shared memory region: " + in_quotes(key) + " (not a shared memory object)");
  const auto object_size = static_cast<uint64_t>(st.st_size);
  if (offset + byte_size > object_size)
    return InvalidArgument(fmt::format("failed to register shared memory region {}: invalid args: offset {} + "
                                       "byte_size {} runs past the end of shared memory object {} ({} bytes)",
                                       quoted, offset, byte_size, in_quotes(key), object_size));

  // mmap wants a page-aligned file offset (Triton passes the offset as it
  // is, so an unaligned one fails there): map from the page the region
  // starts in and point past the lead.
  const auto page = static_cast<uint64_t>(::sysconf(_SC_PAGESIZE));
  const uint64_t aligned = offset - offset % page;
  const uint64_t lead = offset - aligned;
  if (byte_size + lead > std::numeric_limits<std::size_t>::max())
    return InvalidArgument(fmt::format("failed to register shared memory region {}: {} bytes cannot be mapped",
                                       quoted, byte_size));
  const auto mapping_size = static_cast<std::size_t>(byte_size + lead);
  void* mapping =
      ::mmap(nullptr, mapping_size, PROT_READ | PROT_WRITE, MAP_SHARED, object.fd, static_cast<off_t>(aligned));
  if (mapping == MAP_FAILED)
    return InvalidArgument(fmt::format("failed to register shared memory region {}: cannot map {}: {}", quoted,
                                       in_quotes(key), std::strerror(errno)));
  // The region owns the mapping from here on: any refusal below unmaps it.
  std::shared_ptr<const SharedMemoryRegion> region(new SharedMemoryRegion(
      std::string(name), key_text, offset, byte_size, mapping, mapping_size, static_cast<std::byte*>(mapping) + lead));

  std::lock_guard lock(mu_);
  POLARIS_RETURN_IF_ERROR(refuse_locked());
  regions_.emplace(std::string(name), std::move(region));
  return Status::Ok();
}

Result<std::vector<SharedMemoryStatus>> SharedMemoryRegistry::status(std::string_view name) const {
  std::vector<SharedMemoryStatus> out;
  auto row = [](const SharedMemoryRegion& r) {
    return SharedMemoryStatus{r.name(), r.key(), r.offset(), r.byte_size()};
  };
  std::lock_guard lock(mu_);
  if (name.empty()) {
    for (const auto& [_, region] : regions_) out.push_back(row(*region));
    return out;
  }
  const auto it = regions_.find(name);
  if (it == regions_.end()) return NotFound("Unable to find system shared memory region: " + in_quotes(name));
  out.push_back(row(*it->second));
  return out;
}

void SharedMemoryRegistry::unregister(std::string_view name) {
  // Destroyed outside the lock: an munmap (when no request holds the
  // region) is a system call other lookups need not wait for.
  std::map<std::string, std::shared_ptr<const SharedMemoryRegion>, std::less<>> dropped;
  std::lock_guard lock(mu_);
  if (name.empty()) {
    dropped.swap(regions_);
  } else if (auto it = regions_.find(name); it != regions_.end()) {
    dropped.insert(regions_.extract(it));
  }
  // `lock` is released before `dropped` is destroyed (reverse order).
}

Result<SharedMemoryWindow> SharedMemoryRegistry::window(std::string_view name, uint64_t offset,
                                                        uint64_t byte_size) const {
  std::shared_ptr<const SharedMemoryRegion> region;
  {
    std::lock_guard lock(mu_);
    const auto it = regions_.find(name);
    if (it == regions_.end()) return NotFound("Unable to find shared memory region: " + in_quotes(name));
    region = it->second;
  }
  const uint64_t size = region->byte_size();
  if (offset > size)
    return InvalidArgument(fmt::format("Invalid offset for shared memory region: {} (offset {}, the region has {} "
                                       "bytes)",
                                       in_quotes(name), offset, size));
  if (byte_size > size - offset)
    return InvalidArgument(fmt::format("Invalid offset + byte size for shared memory region: {} (offset {} + "
                                       "byte_size {} is past the region's {} bytes)",
                                       in_quotes(name), offset, byte_size, size));
  std::byte* data = region->data() + offset;
  return SharedMemoryWindow{std::move(region), offset, byte_size, data};
}

std::size_t SharedMemoryRegistry::size() const {
  std::lock_guard lock(mu_);
  return regions_.size();
}

}  // namespace polaris
