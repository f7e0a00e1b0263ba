// Prints ModelMetadata as a table a person reads (`polaris info`).
#pragma once

#include <ostream>

#include "core/model_metadata.h"

namespace polaris::cli {

void print_metadata_table(std::ostream& out, const ModelMetadata& metadata);

}  // namespace polaris::cli
