// Prints ModelMetadata as a table a person reads (`polaris info`).
#pragma once

#include <ostream>

#include "core/model_metadata.h"

namespace polaris::cli {

void print_metadata_table(std::ostream& out, const ModelMetadata& metadata);
// 1536 -> "1.5 KiB"
std::string human_bytes(uint64_t bytes);

}  // namespace polaris::cli
