// The model repository on disk, in Triton's layout:
//   <root>/<model>/config.pbtxt            (optional)
//   <root>/<model>/<version>/model.onnx    (or model.pt, ..., or the
//                                           config's default_model_filename)
// scan_repository() lists every model with the versions its version policy
// selects; a model whose config or files are broken is still listed, with
// the reason, so one bad model never hides the others.
// Thread-safety: pure functions over the filesystem.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "core/status.h"
#include "proto/model_config.pb.h"

namespace polaris {

struct ModelVersionFile {
  int64_t version = 0;
  std::string path;  // the model file of that version
};

struct RepositoryModel {
  std::string name;
  std::string dir;
  bool has_config = false;        // config.pbtxt present
  inference::ModelConfig config;  // parsed, or empty when absent or broken
  std::vector<int64_t> available_versions;  // numeric version folders, ascending
  std::vector<ModelVersionFile> versions;   // selected by the policy, ascending
  Status status;  // why the model cannot be served as listed (OK otherwise)
};

// Model names come from folders and, later, from requests: letters, digits,
// '_', '-', '.', at most 255 bytes, never "." or "..", so a name can never
// walk out of the repository.
Status validate_model_name(std::string_view name);

// A version folder's number: a positive decimal integer; nullopt for any
// other name (a stray "README", ".git" or a staging folder), as Triton does.
std::optional<int64_t> parse_version_folder(const std::string& name);

// The versions a policy selects from `available` (ascending). Triton's
// default, with no policy set, is the latest one.
std::vector<int64_t> select_versions(const inference::ModelVersionPolicy& policy, std::vector<int64_t> available);

// The model file in a version folder: the config's default_model_filename,
// else the first of model.onnx, model.ort, model.pt, model.pth,
// model.torchscript that exists.
Result<std::string> find_model_file(const std::string& version_dir, const inference::ModelConfig& config);

// Every model folder under `root`, sorted by name. NotFound when `root` is
// not a directory; per-model problems go into RepositoryModel::status.
Result<std::vector<RepositoryModel>> scan_repository(const std::string& root);
// One model folder, <root>/<name> (a validated name): nullopt when there is
// no such folder. Cheaper than a whole scan for a request naming one model.
Result<std::optional<RepositoryModel>> scan_repository_model(const std::string& root, std::string_view name);

// A model folder scanned with `config` in place of its config.pbtxt (a
// load request's config; the folder is <root>/<name> or the request's own
// files): the versions its policy selects, their files, and the status.
// `name` must be the model's name, and the config's name, if set, too.
RepositoryModel scan_model_folder(const std::string& dir, std::string_view name, const inference::ModelConfig& config);

}  // namespace polaris
