// The config parameters that choose a model's preprocessing
// (polaris.preprocess*, batch/image_preprocessing.h), from config.pbtxt text
// or from the config.pbtxt beside a model file.
#pragma once

#include <map>
#include <string>

#include "core/status.h"

namespace polaris::batch {

// `config_text` when not empty; else config.pbtxt beside `model_path` or, in
// a Triton repository (<model>/<version>/model.onnx), in the model's folder;
// else none. Errors: a config that does not parse (with line:column).
Result<std::map<std::string, std::string>> model_parameters(const std::string& model_path,
                                                            const std::string& config_text = "");

}  // namespace polaris::batch
