// Folder prediction results as files: CSV (one row per top-k entry) or JSON
// Lines (one object per file). Written to "<path>.partial", each line
// flushed as it comes, and renamed to <path> by finish(): a file under the
// final name is always complete; an interrupted run leaves the .partial
// with every result so far.
// Thread-safety: one writer per thread.
#pragma once

#include <cstdio>
#include <memory>
#include <string>

#include "batch/folder_prediction.h"
#include "core/status.h"

namespace polaris::batch {

enum class ResultFormat { kCsv, kJsonLines };

// From a file name: .csv -> CSV, .jsonl/.json/.ndjson -> JSON Lines.
Result<ResultFormat> format_for_path(const std::string& path);
Result<ResultFormat> parse_format(const std::string& name);  // "csv" | "jsonl"

// A CSV field, quoted when it holds a comma, quote, CR or LF (RFC 4180).
std::string csv_field(const std::string& value);

class ResultWriter {
 public:
  // path "-": standard output (no rename).
  static Result<std::unique_ptr<ResultWriter>> open(const std::string& path, ResultFormat format);
  ~ResultWriter();
  ResultWriter(const ResultWriter&) = delete;
  ResultWriter& operator=(const ResultWriter&) = delete;

  Status write(const FileResult& result);
  Status finish();  // flush, fsync, rename into place

 private:
  ResultWriter(std::string path, std::string partial, std::FILE* file, ResultFormat format)
      : path_(std::move(path)), partial_(std::move(partial)), file_(file), format_(format) {}
  Status put(const std::string& line);

  std::string path_, partial_;
  std::FILE* file_;
  ResultFormat format_;
  bool finished_ = false;
};

}  // namespace polaris::batch
