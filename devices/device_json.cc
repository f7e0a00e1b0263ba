#include "devices/device.h"

namespace polaris::devices {

const DeviceSource* DeviceReport::source(const std::string& name) const {
  for (const auto& s : sources)
    if (s.name == name) return &s;
  return nullptr;
}

namespace {

nlohmann::json to_json(const ProviderUse& p) {
  nlohmann::json j{{"engine", p.engine}, {"provider", p.provider}, {"usable", p.usable}};
  if (!p.note.empty()) j["note"] = p.note;
  return j;
}

nlohmann::json to_json(const Device& d) {
  nlohmann::json providers = nlohmann::json::array();
  for (const auto& p : d.providers) providers.push_back(to_json(p));
  return {{"id", d.id},
          {"name", d.name},
          {"type", d.type},
          {"memory_bytes", d.memory_bytes},
          {"properties", d.properties},
          {"features", d.features},
          {"providers", providers}};
}

}  // namespace

// Keyed by source ("cpu", "opencl", ...) so scripts can read
// report["vulkan"]["devices"] without searching a list.
nlohmann::json to_json(const DeviceReport& report) {
  nlohmann::json out = nlohmann::json::object();
  for (const auto& s : report.sources) {
    nlohmann::json devices = nlohmann::json::array();
    for (const auto& d : s.devices) devices.push_back(to_json(d));
    out[s.name] = {{"available", s.available}, {"reason", s.reason}, {"devices", devices}};
  }
  return out;
}

}  // namespace polaris::devices
