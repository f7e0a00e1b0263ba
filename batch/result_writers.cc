#include "batch/result_writers.h"

#include <fmt/format.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <nlohmann/json.hpp>

namespace polaris::batch {
namespace {

std::string lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return std::tolower(c); });
  return s;
}

std::string csv_lines(const FileResult& r) {
  if (!r.status.ok()) return fmt::format("{},,,,,{}\n", csv_field(r.file), csv_field(r.status.message()));
  std::string lines;
  for (std::size_t i = 0; i < r.top_k.size(); ++i)
    lines += fmt::format("{},{},{},{},{:.6g},\n", csv_field(r.file), i + 1, r.top_k[i].index,
                         csv_field(r.top_k[i].label), r.top_k[i].score);
  if (r.top_k.empty()) lines = fmt::format("{},,,,,\n", csv_field(r.file));
  return lines;
}

std::string json_line(const FileResult& r) {
  nlohmann::json j = {{"file", r.file}, {"ok", r.status.ok()}};
  if (!r.status.ok()) {
    j["error"] = r.status.message();
  } else {
    auto top = nlohmann::json::array();
    for (std::size_t i = 0; i < r.top_k.size(); ++i)
      top.push_back({{"output", r.top_k_outputs[i]},
                     {"index", r.top_k[i].index},
                     {"label", r.top_k[i].label},
                     {"score", r.top_k[i].score}});
    j["top_k"] = top;
  }
  // Invalid UTF-8 in a file name becomes U+FFFD rather than an exception.
  return j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) + "\n";
}

}  // namespace

Result<ResultFormat> parse_format(const std::string& name) {
  const std::string n = lower(name);
  if (n == "csv") return ResultFormat::kCsv;
  if (n == "jsonl" || n == "json" || n == "ndjson") return ResultFormat::kJsonLines;
  return InvalidArgument("result format '" + name + "': csv or jsonl");
}

Result<ResultFormat> format_for_path(const std::string& path) {
  const std::string ext = lower(std::filesystem::path(path).extension().string());
  if (ext == ".csv") return ResultFormat::kCsv;
  if (ext == ".jsonl" || ext == ".json" || ext == ".ndjson") return ResultFormat::kJsonLines;
  return InvalidArgument("cannot tell the result format of '" + path + "' (use .csv or .jsonl, or --format)");
}

std::string csv_field(const std::string& value) {
  if (value.find_first_of(",\"\r\n") == std::string::npos) return value;
  std::string quoted = "\"";
  for (char c : value) {
    if (c == '"') quoted += '"';
    quoted += c;
  }
  return quoted + "\"";
}

Result<std::unique_ptr<ResultWriter>> ResultWriter::open(const std::string& path, ResultFormat format) {
  std::FILE* file = stdout;
  std::string partial;
  if (path != "-") {
    partial = path + ".partial";
    file = std::fopen(partial.c_str(), "w");
    if (!file) return InvalidArgument(fmt::format("cannot write {}: {}", partial, std::strerror(errno)));
  }
  std::unique_ptr<ResultWriter> writer(new ResultWriter(path, partial, file, format));
  if (format == ResultFormat::kCsv) POLARIS_RETURN_IF_ERROR(writer->put("file,rank,index,label,score,error\n"));
  return writer;
}

ResultWriter::~ResultWriter() {
  if (file_ && file_ != stdout) std::fclose(file_);
}

Status ResultWriter::put(const std::string& text) {
  if (std::fwrite(text.data(), 1, text.size(), file_) != text.size() || std::fflush(file_) != 0)
    return Internal(fmt::format("cannot write {}: {}", partial_.empty() ? "standard output" : partial_,
                                std::strerror(errno)));
  return Status::Ok();
}

Status ResultWriter::write(const FileResult& result) {
  return put(format_ == ResultFormat::kCsv ? csv_lines(result) : json_line(result));
}

Status ResultWriter::finish() {
  if (finished_ || file_ == stdout) return Status::Ok();
  finished_ = true;
  const bool synced = std::fflush(file_) == 0 && fsync(fileno(file_)) == 0;
  const bool closed = std::fclose(file_) == 0;
  file_ = nullptr;
  if (!synced || !closed) return Internal(fmt::format("cannot write {}: {}", partial_, std::strerror(errno)));
  std::error_code ec;
  std::filesystem::rename(partial_, path_, ec);
  if (ec) return Internal(fmt::format("cannot rename {} to {}: {}", partial_, path_, ec.message()));
  return Status::Ok();
}

}  // namespace polaris::batch
