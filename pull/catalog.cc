#include "pull/catalog.h"

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "core/executable_dir.h"
#include "pull/model_cache.h"
#include "runtime/model_repository.h"

namespace polaris::pull {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

std::string optional_string(const json& entry, const char* key) {
  auto it = entry.find(key);
  return it != entry.end() && it->is_string() ? it->get<std::string>() : "";
}

Result<CatalogEntry> parse_entry(const json& item, const std::string& where) {
  if (!item.is_object()) return InvalidArgument(where + ": an entry must be an object");
  // A misspelt key ("sha265") must not silently turn verification off.
  static const std::set<std::string> kKeys{"name",         "format", "urls",        "sha256", "sha256_prefix",
                                           "architecture", "size",   "description", "source", "license",
                                           "_comment"};
  for (const auto& [key, value] : item.items())
    if (!kKeys.count(key))
      return InvalidArgument(fmt::format("{}: unknown key \"{}\" (known: name, format, urls, sha256, "
                                         "sha256_prefix, architecture, size, description, source, license)",
                                         where, key));
  CatalogEntry entry;
  entry.name = optional_string(item, "name");
  if (Status s = validate_model_name(entry.name); !s.ok()) return InvalidArgument(where + ": " + s.message());
  const std::string named = fmt::format("{} ('{}')", where, entry.name);
  entry.format = optional_string(item, "format");
  entry.architecture = optional_string(item, "architecture");
  if (entry.format == kTorchvisionFormat) {
    if (entry.architecture.empty() || entry.architecture.find_first_not_of(
                                          "abcdefghijklmnopqrstuvwxyz0123456789_") != std::string::npos)
      return InvalidArgument(named + ": a torchvision entry needs \"architecture\", the builder's name in "
                                     "torchvision.models (e.g. \"resnet18\")");
  } else if (auto ext = extension_for_format(entry.format); !ext.ok()) {
    return InvalidArgument(named + ": " + ext.status().message() + " or torchvision");
  } else if (!entry.architecture.empty()) {
    return InvalidArgument(named + ": \"architecture\" is for torchvision entries");
  }
  auto urls = item.find("urls");
  if (urls == item.end() || !urls->is_array() || urls->empty())
    return InvalidArgument(named + ": \"urls\" must be a list of at least one URL");
  for (const auto& url : *urls) {
    if (!url.is_string() || url.get<std::string>().empty())
      return InvalidArgument(named + ": every URL must be a non-empty string");
    entry.urls.push_back(url.get<std::string>());
  }
  if (auto sha = item.find("sha256"); sha != item.end()) {
    if (!sha->is_string()) return InvalidArgument(named + ": \"sha256\" must be a string");
    auto normalized = normalize_sha256(sha->get<std::string>());
    if (!normalized.ok()) return InvalidArgument(named + ": " + normalized.status().message());
    entry.sha256 = *normalized;
  }
  if (auto prefix = item.find("sha256_prefix"); prefix != item.end()) {
    // What torchvision publishes: the first hex digits of the sha256 in
    // the file name (torch.hub checks the same prefix).
    const std::string text = prefix->is_string() ? prefix->get<std::string>() : "";
    if (text.size() < 8 || text.size() > 64 || text.find_first_not_of("0123456789abcdef") != std::string::npos)
      return InvalidArgument(named + ": \"sha256_prefix\" must be 8 to 64 lowercase hex digits");
    if (entry.sha256) return InvalidArgument(named + ": give \"sha256\" or \"sha256_prefix\", not both");
    entry.sha256_prefix = text;
  }
  if (auto size = item.find("size"); size != item.end()) {
    if (!size->is_number_unsigned()) return InvalidArgument(named + ": \"size\" must be a whole number of bytes");
    entry.size = size->get<uint64_t>();
  }
  entry.description = optional_string(item, "description");
  entry.source = optional_string(item, "source");
  entry.license = optional_string(item, "license");
  return entry;
}

}  // namespace

Result<std::string> extension_for_format(const std::string& format) {
  if (format == "onnx") return std::string(".onnx");
  if (format == "torchscript") return std::string(".pt");
  return InvalidArgument("format '" + format + "' is not one Polaris serves (onnx, torchscript)");
}

Status Catalog::add_json(const std::string& text, const std::string& source_name) {
  json document = json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (document.is_discarded()) return InvalidArgument(source_name + ": not valid JSON");
  if (!document.is_object()) return InvalidArgument(source_name + ": the catalog must be a JSON object");
  if (auto version = document.find("catalog_version");
      version == document.end() || !version->is_number_integer() || version->get<int>() != 1)
    return InvalidArgument(source_name + ": \"catalog_version\" must be 1");
  auto models = document.find("models");
  if (models == document.end() || !models->is_array())
    return InvalidArgument(source_name + ": \"models\" must be a list");
  std::map<std::string, CatalogEntry> added;
  for (std::size_t i = 0; i < models->size(); ++i) {
    auto entry = parse_entry((*models)[i], fmt::format("{}: models[{}]", source_name, i));
    if (!entry.ok()) return entry.status();
    if (added.count(entry->name))
      return InvalidArgument(fmt::format("{}: models[{}]: '{}' is listed twice", source_name, i, entry->name));
    entry->catalog = source_name;
    added.emplace(entry->name, std::move(entry).value());
  }
  for (auto& [name, entry] : added) entries_[name] = std::move(entry);
  return Status::Ok();
}

Status Catalog::add_file(const std::string& path) {
  std::error_code ec;
  const auto size = fs::file_size(path, ec);
  if (ec) return NotFound("catalog " + path + " cannot be read: " + ec.message());
  if (size > kMaxCatalogBytes) return InvalidArgument(fmt::format("catalog {} is larger than {} bytes", path, kMaxCatalogBytes));
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  return add_json(text.str(), path);
}

const CatalogEntry* Catalog::find(const std::string& name) const {
  auto it = entries_.find(name);
  return it == entries_.end() ? nullptr : &it->second;
}

std::vector<const CatalogEntry*> Catalog::entries() const {
  std::vector<const CatalogEntry*> all;
  for (const auto& [name, entry] : entries_) all.push_back(&entry);
  return all;
}

std::vector<std::string> default_catalog_paths() {
  std::vector<std::string> paths;
  std::error_code ec;
  const std::vector<fs::path> shipped{fs::path(executable_dir()) / ".." / "share" / "polaris" / "catalog.json",
                                      fs::path(POLARIS_SOURCE_DIR) / "catalog" / "models.json"};
  for (const auto& path : shipped) {
    if (fs::is_regular_file(path, ec)) {
      paths.push_back(fs::weakly_canonical(path, ec).string());
      break;
    }
  }
  fs::path config;
  if (const char* xdg = std::getenv("XDG_CONFIG_HOME"); xdg != nullptr && *xdg != '\0')
    config = fs::path(xdg);
  else if (const char* home = std::getenv("HOME"); home != nullptr && *home != '\0')
    config = fs::path(home) / ".config";
  if (!config.empty() && fs::is_regular_file(config / "polaris" / "catalog.json", ec))
    paths.push_back((config / "polaris" / "catalog.json").string());
  return paths;
}

}  // namespace polaris::pull
