// Reads a session's inputs, outputs and model metadata into ModelMetadata.
#pragma once

#include <onnxruntime_cxx_api.h>

#include "core/model_metadata.h"
#include "core/status.h"

namespace polaris::ort {

// Fills inputs, outputs (names, dtypes, shapes with -1 and dim names) and
// extra_info (producer, graph name, domain, description, version, custom
// metadata as "custom.<key>").
Status read_session_metadata(const Ort::Session& session, ModelMetadata& metadata);

}  // namespace polaris::ort
