// Installing a pulled file into a model repository (issue 19):
//   <repository>/<name>/<version>/model.<ext>, and <name>/config.pbtxt
// when the model has none yet.
//
// A server in poll mode may scan the repository at any moment, so a version
// folder appears whole or not at all: the file is copied into a hidden
// staging folder beside it (written, fsync'ed), the config is published
// first, then the staging folder is renamed to the version number. A config
// already there is the operator's and is never replaced. Installing a file
// that a version of the model already holds (same sha256) installs nothing
// and says which version has it.
// Thread-safety: one install per model folder at a time (two would pick the
// same next version number; the second rename then fails cleanly).
#pragma once

#include <cstdint>
#include <string>

#include "core/status.h"

namespace polaris::pull {

struct InstallRequest {
  std::string file;        // the verified file (a cache blob)
  std::string sha256;      // its content hash
  std::string repository;  // created when missing
  std::string name;        // a valid model name
  std::string extension;   // ".onnx", ".pt"
  int64_t version = 0;     // 0: one more than the highest version there
  std::string config_text; // config.pbtxt to write when the model has none; empty: none
};

struct Installed {
  std::string model_path;  // <repository>/<name>/<version>/model.<ext>
  int64_t version = 0;
  bool already_there = false;  // a version held these bytes already: nothing copied
  bool wrote_config = false;
};

Result<Installed> install_into_repository(const InstallRequest& request);

}  // namespace polaris::pull
