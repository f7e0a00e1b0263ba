// How `polaris predict` prints top-k classes (core/class_scores.h).
#pragma once

#include <nlohmann/json_fwd.hpp>
#include <ostream>
#include <string>
#include <vector>

#include "core/class_scores.h"

namespace polaris::cli {

nlohmann::json top_k_json(const std::vector<ClassScore>& top);
void print_top_k(std::ostream& out, const std::vector<ClassScore>& top);

}  // namespace polaris::cli
