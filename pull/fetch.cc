#include "pull/fetch.h"

#include <curl/curl.h>

#include <algorithm>
#include <cctype>
#include <filesystem>
#include <memory>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "runtime/model_repository.h"

namespace polaris::pull {
namespace {

namespace fs = std::filesystem;

struct ParsedUrl {
  std::string scheme;
  std::string path;  // decoded, without query or fragment
};

// URLs are parsed by libcurl's own parser, the one that will fetch them.
std::optional<ParsedUrl> parse_url(const std::string& url) {
  std::unique_ptr<CURLU, decltype(&curl_url_cleanup)> handle(curl_url(), curl_url_cleanup);
  if (curl_url_set(handle.get(), CURLUPART_URL, url.c_str(), 0) != CURLUE_OK) return std::nullopt;
  ParsedUrl parsed;
  char* part = nullptr;
  if (curl_url_get(handle.get(), CURLUPART_SCHEME, &part, 0) != CURLUE_OK) return std::nullopt;
  parsed.scheme = part;
  curl_free(part);
  if (curl_url_get(handle.get(), CURLUPART_PATH, &part, CURLU_URLDECODE) == CURLUE_OK) {
    parsed.path = part;
    curl_free(part);
  }
  return parsed;
}

std::string lower(std::string text) {
  std::transform(text.begin(), text.end(), text.begin(), [](unsigned char c) { return std::tolower(c); });
  return text;
}

// The repository extension for a file name's extension; empty when unknown.
std::string extension_of(const std::string& file_name) {
  const std::string ext = lower(fs::path(file_name).extension().string());
  if (ext == ".onnx" || ext == ".ort") return ext;
  if (ext == ".pt" || ext == ".pth" || ext == ".torchscript" || ext == ".jit") return ".pt";
  return "";
}

// A model name from a file name: its stem with anything a name may not
// hold replaced by '_' ("ResNet 50 (v2).onnx" -> "ResNet_50__v2_").
std::string name_from_file(const std::string& file_name) {
  std::string name = fs::path(file_name).stem().string();
  for (char& c : name)
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '_' && c != '-' && c != '.') c = '_';
  while (!name.empty() && name.front() == '.') name.erase(name.begin());
  return name.substr(0, 128);
}

bool looks_like_url(const std::string& source) { return source.find("://") != std::string::npos; }

Status check_format(const std::string& extension, const std::string& what) {
  if (!extension.empty()) return Status::Ok();
  return InvalidArgument("cannot tell the model format of " + what +
                         " from its name: give --format onnx or --format torchscript");
}

}  // namespace

Result<ResolvedSource> resolve_source(const SourceRequest& request, const Catalog& catalog) {
  ResolvedSource resolved;
  std::string file_name;
  if (looks_like_url(request.source)) {
    auto url = parse_url(request.source);
    if (!url) return InvalidArgument("'" + request.source + "' is not a valid URL");
    if (url->scheme != "http" && url->scheme != "https")
      return InvalidArgument("'" + request.source + "': only http and https URLs are downloaded");
    resolved.urls.push_back(request.source);
    file_name = fs::path(url->path).filename().string();
  } else if (std::error_code ec; fs::is_regular_file(request.source, ec)) {
    resolved.local_file = request.source;
    file_name = fs::path(request.source).filename().string();
  } else if (const CatalogEntry* entry = catalog.find(request.source)) {
    resolved.entry = entry;
    resolved.urls = entry->urls;
    resolved.sha256 = entry->sha256;
    resolved.sha256_prefix = entry->sha256_prefix;
    resolved.size = entry->size;
    resolved.name = entry->name;
    if (entry->format == kTorchvisionFormat) {
      resolved.torchvision_architecture = entry->architecture;
      resolved.extension = ".pt";  // what the export writes
    } else {
      resolved.extension = *extension_for_format(entry->format);
    }
  } else {
    return NotFound("'" + request.source +
                    "' is neither a catalog name nor a file nor an http(s) URL (`polaris pull --list` shows the "
                    "catalog)");
  }
  if (!file_name.empty()) {
    resolved.name = name_from_file(file_name);
    resolved.extension = extension_of(file_name);
  }
  if (!request.format.empty() && !resolved.torchvision_architecture.empty())
    return InvalidArgument("--format: '" + resolved.name + "' is a torchvision entry; it is exported to TorchScript");
  if (!request.format.empty()) {
    auto ext = extension_for_format(request.format);
    if (!ext.ok()) return ext.status();
    resolved.extension = *ext;
  }
  if (Status s = check_format(resolved.extension, "'" + request.source + "'"); !s.ok()) return s;
  if (!request.name.empty()) resolved.name = request.name;
  if (Status s = validate_model_name(resolved.name); !s.ok())
    return InvalidArgument(s.message() + (request.name.empty() ? " (give --name)" : ""));
  if (!request.sha256.empty()) {
    auto sha = normalize_sha256(request.sha256);
    if (!sha.ok()) return InvalidArgument("--sha256: " + sha.status().message());
    if (resolved.sha256 && *resolved.sha256 != *sha)
      return InvalidArgument(fmt::format("--sha256 {} disagrees with the catalog's {} for '{}' ({})", *sha,
                                         *resolved.sha256, resolved.name, resolved.entry->catalog));
    if (resolved.sha256_prefix && !sha->starts_with(*resolved.sha256_prefix))
      return InvalidArgument(fmt::format("--sha256 {} does not begin with the catalog's {} for '{}' ({})", *sha,
                                         *resolved.sha256_prefix, resolved.name, resolved.entry->catalog));
    resolved.sha256 = *sha;
  }
  for (const auto& mirror : request.mirrors) {
    auto url = parse_url(mirror);
    if (!url || (url->scheme != "http" && url->scheme != "https"))
      return InvalidArgument("--mirror '" + mirror + "': only http and https URLs are downloaded");
    resolved.urls.push_back(mirror);
  }
  return resolved;
}

Result<Fetched> fetch(const ResolvedSource& source, const ModelCache& cache, const FetchOptions& options) {
  auto notice = [&](const std::string& text) {
    if (options.on_notice) options.on_notice(text);
  };
  if (source.sha256) {
    if (auto cached = cache.find(*source.sha256)) return Fetched{{*source.sha256, *cached}, true, ""};
  } else {
    // No hash to look for: what one of these URLs gave before.
    for (const auto& url : source.urls)
      if (auto hash = cache.hash_for_url(url))
        if (auto cached = cache.find(*hash)) return Fetched{{*hash, *cached}, true, ""};
  }
  if (!source.local_file.empty()) {
    auto imported = cache.import_file(source.local_file, source.sha256);
    if (!imported.ok()) return imported.status();
    return Fetched{*imported, false, ""};
  }
  if (options.offline)
    return NotFound(fmt::format("'{}' is not in the cache ({}) and --offline forbids downloading it", source.name,
                                cache.dir()));

  DownloadOptions download = options.download;
  download.expected_size = source.size;
  std::vector<std::string> failures;
  for (const auto& url : source.urls) {
    auto partial = cache.partial_path(source.sha256, url);
    if (!partial.ok()) return partial.status();
    notice("downloading " + url);
    Status got = pull::download(url, *partial, download);
    if (got.ok()) {
      auto published = cache.publish(*partial, source.sha256, url);
      if (published.ok() && !source.sha256 && source.sha256_prefix &&
          !published->sha256.starts_with(*source.sha256_prefix)) {
        std::error_code ignored;
        fs::remove(published->path, ignored);  // not the file asked for: never served from the cache
        published = InvalidArgument(fmt::format("{} has sha256 {}, which does not begin with the expected {}", url,
                                                published->sha256, *source.sha256_prefix));
      }
      if (published.ok()) return Fetched{*published, false, url};
      got = published.status();
    }
    // A full disk fails every mirror the same way.
    if (got.code() == StatusCode::kResourceExhausted) return got;
    failures.push_back(got.message());
    if (&url != &source.urls.back()) notice(got.message() + "; trying the next URL");
  }
  if (failures.size() == 1) return Unavailable(failures.front());
  return Unavailable(fmt::format("'{}' could not be downloaded from any of its {} URLs: {}", source.name,
                                 failures.size(), fmt::join(failures, "; ")));
}

}  // namespace polaris::pull
