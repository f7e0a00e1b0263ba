// The memory budget: how much each device may hold, what is held, and which
// idle models to evict so a new one fits.
//
// As TF Serving splits it: MemoryTracker is plain accounting (not
// thread-safe; the model manager owns it under its lock), and
// plan_eviction() is a pure function of a snapshot, so the LRU policy is
// tested without loading anything.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "core/byte_size.h"
#include "core/status.h"

namespace polaris {

// One resident model, as the eviction policy sees it.
struct ResidentModel {
  std::string name;
  std::string device;  // "cpu", "gpu:0", ...
  uint64_t bytes = 0;  // measured (or predicted while loading)
  bool pinned = false;
  int in_flight = 0;  // requests holding the model right now
  std::chrono::steady_clock::time_point last_used;
};

struct EvictionPlan {
  std::vector<std::string> victims;  // least recently used first
  uint64_t freed_bytes = 0;
};

// Which models to evict so that `needed` more bytes fit within `budget` on
// `device`, and (with max_models) one more model fits in the count. Only
// idle (in_flight == 0), unpinned models are candidates, least recently used
// first; a model on another device is evicted only for the count.
// ResourceExhausted, with the numbers, when the model can never fit
// (needed > budget) or cannot fit now (the rest is pinned or busy).
Result<EvictionPlan> plan_eviction(const std::vector<ResidentModel>& resident, const std::string& device,
                                   uint64_t budget, uint64_t needed, std::optional<std::size_t> max_models,
                                   const std::string& model_name);

// Bytes reserved per model and device. Reserve with the prediction before a
// load, set the measurement after it, release at unload.
// Thread-safety: none; its owner locks.
class MemoryTracker {
 public:
  void set_budget(const std::string& device, uint64_t bytes) { budgets_[device] = bytes; }
  // 0 when the device has no budget set.
  uint64_t budget(const std::string& device) const;
  uint64_t used(const std::string& device) const;
  // Fails (ResourceExhausted) when the reservation would exceed the budget.
  Status reserve(const std::string& model, const std::string& device, uint64_t bytes);
  // Replaces a reservation's size (the measurement after load); never fails:
  // a model that turned out larger than predicted is already loaded, and the
  // next load's eviction plan makes room.
  void update(const std::string& model, uint64_t bytes);
  void release(const std::string& model);
  std::optional<uint64_t> reserved(const std::string& model) const;
  bool has_budget(const std::string& device) const { return budgets_.count(device) != 0; }
  // Devices with a budget or a reservation, sorted.
  std::vector<std::string> devices() const;

 private:
  struct Entry {
    std::string device;
    uint64_t bytes;
  };
  std::map<std::string, uint64_t> budgets_;
  std::map<std::string, Entry> entries_;
};

}  // namespace polaris
