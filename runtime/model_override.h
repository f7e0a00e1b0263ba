// A model directory written from a load request (Triton's load parameters
// "file:<version>/<name>"): the request's files, in a fresh private folder,
// removed again when the last user lets go of it.
//
// Triton lets a client load a model that is not in the repository, or
// replace one's files, by sending them with the load. Polaris writes them
// to <temp>/polaris-override-XXXXXX/<model>/ (mkdtemp, mode 0700; <temp> is
// $TMPDIR or /tmp) and loads from there as from a repository folder. The
// keys are checked before anything is written: a key can only name a file
// inside a numbered version folder of that directory.
// Thread-safety: pure functions; an OverrideFiles is immutable once made.
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/status.h"

namespace polaris {

inline constexpr std::string_view kOverrideFilePrefix = "file:";

// "file:1/model.onnx" -> "1/model.onnx". InvalidArgument, naming the key,
// unless the rest is a relative path whose first component is a version
// (a positive decimal number without leading zeros) followed by one or more
// components, none empty, "." or "..", longer than 255 bytes (1024 for the
// whole path), or holding a
// backslash, a NUL or another control character.
Result<std::string> override_file_path(std::string_view key);

class OverrideFiles {
 public:
  // One file of the request: its key ("file:1/model.onnx") and content.
  using File = std::pair<std::string, std::string_view>;

  // Checks the model name (validate_model_name: it becomes a folder name)
  // and every key, then makes the private folder and writes the files.
  // Nothing is left behind on failure. Messages name the files as the
  // request does, never the folder (logged); a full disk is
  // ResourceExhausted.
  static Result<std::shared_ptr<const OverrideFiles>> write(std::string_view model, const std::vector<File>& files);

  ~OverrideFiles();  // removes the folder (best effort: failures are logged)
  OverrideFiles(const OverrideFiles&) = delete;
  OverrideFiles& operator=(const OverrideFiles&) = delete;

  // <temp>/polaris-override-XXXXXX/<model>: the model's folder, as in a
  // repository (version folders inside).
  const std::string& model_dir() const { return model_dir_; }
  // <temp>/polaris-override-XXXXXX: what the destructor removes.
  const std::string& root() const { return root_; }

 private:
  OverrideFiles(std::string root, std::string model_dir) : root_(std::move(root)), model_dir_(std::move(model_dir)) {}
  std::string root_;
  std::string model_dir_;
};

}  // namespace polaris
