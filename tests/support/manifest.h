// Test support: build/models/manifest.json, written by scripts/make-models.
// Each entry names a model file, its tensors, and test vectors (.npy files
// whose expected outputs were computed independently of the engines).
#pragma once

#include <map>
#include <string>
#include <vector>

#include "core/status.h"

namespace polaris::testing {

struct VectorCase {
  std::map<std::string, std::string> inputs;   // tensor name -> .npy path (absolute)
  std::map<std::string, std::string> outputs;  // tensor name -> .npy path
  double atol = 1e-5;
};

struct ManifestModel {
  std::string name;
  std::string path;    // absolute
  std::string format;  // onnx | torchscript
  std::map<std::string, std::string> datatypes;  // tensor name -> KServe datatype
  std::vector<VectorCase> tests;
};

// The models dir (POLARIS_MODELS_DIR, overridable by the environment variable).
std::string models_dir();
Result<std::vector<ManifestModel>> read_manifest();

}  // namespace polaris::testing
