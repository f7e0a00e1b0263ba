#include "tests/support/manifest.h"

#include <cstdlib>
#include <fstream>
#include <nlohmann/json.hpp>

namespace polaris::testing {
namespace {

// The member `key` of `j`, or an empty JSON value (iterates as nothing).
const nlohmann::json& member(const nlohmann::json& j, const char* key) {
  static const nlohmann::json kNone;
  auto it = j.find(key);
  return it == j.end() ? kNone : *it;
}

}  // namespace

std::string models_dir() {
  if (const char* env = std::getenv("POLARIS_MODELS_DIR"); env && *env) return env;
  return POLARIS_MODELS_DIR;
}

Result<std::vector<ManifestModel>> read_manifest() {
  const std::string dir = models_dir();
  std::ifstream in(dir + "/manifest.json");
  if (!in) return NotFound(dir + "/manifest.json not found: run scripts/make-models");
  const auto json = nlohmann::json::parse(in, nullptr, /*allow_exceptions=*/false);
  if (json.is_discarded() || !json.is_array()) return InvalidArgument("manifest.json is not a JSON array");
  std::vector<ManifestModel> models;
  for (const auto& m : json) {
    ManifestModel model;
    model.name = m.value("name", "");
    model.path = dir + "/" + m.value("path", "");
    model.format = m.value("format", "");
    for (const char* side : {"inputs", "outputs"})
      for (const auto& t : member(m, side))
        model.datatypes[t.value("name", "")] = t.value("datatype", "");
    for (const auto& t : member(m, "tests")) {
      VectorCase c;
      for (const auto& [name, rel] : member(t, "inputs").items())
        c.inputs[name] = dir + "/" + rel.get<std::string>();
      for (const auto& [name, rel] : member(t, "outputs").items())
        c.outputs[name] = dir + "/" + rel.get<std::string>();
      c.atol = t.value("atol", 1e-5);
      model.tests.push_back(std::move(c));
    }
    models.push_back(std::move(model));
  }
  return models;
}

}  // namespace polaris::testing
