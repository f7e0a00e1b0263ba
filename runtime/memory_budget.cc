#include "runtime/memory_budget.h"

#include <algorithm>
#include <cctype>
#include <charconv>
#include <cmath>

#include <fmt/format.h>

namespace polaris {

Result<EvictionPlan> plan_eviction(const std::vector<ResidentModel>& resident, const std::string& device,
                                   uint64_t budget, uint64_t needed, std::optional<std::size_t> max_models,
                                   const std::string& model_name) {
  if (needed > budget)
    return ResourceExhausted(fmt::format("model '{}' needs {} but the {} budget is {}: it can never fit", model_name,
                                         format_byte_size(needed), device, format_byte_size(budget)));
  uint64_t used = 0;
  for (const auto& m : resident)
    if (m.device == device) used += m.bytes;
  std::vector<const ResidentModel*> candidates;
  for (const auto& m : resident)
    if (!m.pinned && m.in_flight == 0) candidates.push_back(&m);
  std::stable_sort(candidates.begin(), candidates.end(),
                   [](const auto* a, const auto* b) { return a->last_used < b->last_used; });

  EvictionPlan plan;
  std::size_t count = resident.size();
  auto memory_ok = [&] { return used - plan.freed_bytes + needed <= budget; };
  auto count_ok = [&] { return !max_models || count + 1 <= *max_models; };
  for (const auto* m : candidates) {
    if (memory_ok() && count_ok()) break;
    const bool helps_memory = !memory_ok() && m->device == device;
    if (!helps_memory && count_ok()) continue;
    plan.victims.push_back(m->name);
    if (m->device == device) plan.freed_bytes += m->bytes;
    --count;
  }
  if (!memory_ok())
    return ResourceExhausted(fmt::format(
        "model '{}' needs {} on {} but only {} of the {} budget can be freed now: the rest is held by pinned or "
        "busy models",
        model_name, format_byte_size(needed), device, format_byte_size(budget - (used - plan.freed_bytes)),
        format_byte_size(budget)));
  if (!count_ok())
    return ResourceExhausted(fmt::format("model '{}' cannot load: {} models are resident (the limit) and none is idle "
                                         "and unpinned",
                                         model_name, *max_models));
  return plan;
}

uint64_t MemoryTracker::budget(const std::string& device) const {
  auto it = budgets_.find(device);
  return it == budgets_.end() ? 0 : it->second;
}

uint64_t MemoryTracker::used(const std::string& device) const {
  uint64_t total = 0;
  for (const auto& [name, e] : entries_)
    if (e.device == device) total += e.bytes;
  return total;
}

Status MemoryTracker::reserve(const std::string& model, const std::string& device, uint64_t bytes) {
  if (entries_.count(model)) return FailedPrecondition("model '" + model + "' already holds a reservation");
  const uint64_t limit = budget(device), in_use = used(device);
  if (bytes > limit || in_use > limit - bytes)
    return ResourceExhausted(fmt::format("reserving {} for '{}' would exceed the {} budget ({} of {} in use)",
                                         format_byte_size(bytes), model, device, format_byte_size(in_use),
                                         format_byte_size(limit)));
  entries_[model] = {device, bytes};
  return Status::Ok();
}

void MemoryTracker::update(const std::string& model, uint64_t bytes) {
  if (auto it = entries_.find(model); it != entries_.end()) it->second.bytes = bytes;
}

void MemoryTracker::release(const std::string& model) { entries_.erase(model); }

std::optional<uint64_t> MemoryTracker::reserved(const std::string& model) const {
  auto it = entries_.find(model);
  if (it == entries_.end()) return std::nullopt;
  return it->second.bytes;
}

std::vector<std::string> MemoryTracker::devices() const {
  std::vector<std::string> names;
  for (const auto& [device, bytes] : budgets_) names.push_back(device);
  for (const auto& [model, e] : entries_)
    if (!budgets_.count(e.device)) names.push_back(e.device);
  std::sort(names.begin(), names.end());
  names.erase(std::unique(names.begin(), names.end()), names.end());
  return names;
}

}  // namespace polaris
