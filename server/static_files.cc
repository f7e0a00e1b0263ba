#include "server/static_files.h"

#include <array>
#include <fstream>
#include <sstream>
#include <system_error>
#include <utility>

namespace polaris {

namespace fs = std::filesystem;

std::string content_type_for(std::string_view file_name) {
  static constexpr std::array<std::pair<std::string_view, std::string_view>, 12> kTypes{{
      {".html", "text/html; charset=utf-8"},
      {".js", "text/javascript; charset=utf-8"},
      {".mjs", "text/javascript; charset=utf-8"},
      {".css", "text/css; charset=utf-8"},
      {".json", "application/json"},
      {".map", "application/json"},
      {".svg", "image/svg+xml"},
      {".png", "image/png"},
      {".jpg", "image/jpeg"},
      {".ico", "image/x-icon"},
      {".woff2", "font/woff2"},
      {".txt", "text/plain; charset=utf-8"},
  }};
  for (const auto& [extension, type] : kTypes)
    if (file_name.ends_with(extension)) return std::string(type);
  return "application/octet-stream";
}

Result<StaticFiles> StaticFiles::load(const fs::path& dir) {
  std::error_code ec;
  if (!fs::is_regular_file(dir / "index.html", ec))
    return NotFound("no index.html in " + dir.string());
  StaticFiles site;
  uint64_t total = 0;
  fs::recursive_directory_iterator it(dir, fs::directory_options::none, ec), end;
  if (ec) return NotFound("cannot read " + dir.string() + ": " + ec.message());
  for (; it != end; it.increment(ec)) {
    if (ec) return Internal("cannot read " + dir.string() + ": " + ec.message());
    // Hidden files (the build's stamp, an editor's swap file) are no part of the site.
    if (it->path().filename().string().starts_with('.')) {
      if (it->is_directory(ec)) it.disable_recursion_pending();
      continue;
    }
    if (it->is_symlink(ec) || !it->is_regular_file(ec)) continue;
    const uint64_t size = it->file_size(ec);
    if (ec) continue;
    total += size;
    if (total > kMaxTotalBytes)
      return ResourceExhausted(dir.string() + " holds more than " + std::to_string(kMaxTotalBytes >> 20) +
                               " MiB: not a dashboard build");
    std::ifstream in(it->path(), std::ios::binary);
    std::ostringstream body;
    body << in.rdbuf();
    if (!in.good() && !in.eof()) return Internal("cannot read " + it->path().string());
    const std::string key = it->path().lexically_relative(dir).generic_string();
    site.files_[key] = File{content_type_for(key), std::move(body).str(), key.starts_with("assets/")};
  }
  return site;
}

const StaticFiles::File* StaticFiles::find(std::string_view url_path) const {
  while (url_path.starts_with('/')) url_path.remove_prefix(1);
  if (url_path.empty()) url_path = "index.html";
  const auto it = files_.find(url_path);
  return it == files_.end() ? nullptr : &it->second;
}

}  // namespace polaris
