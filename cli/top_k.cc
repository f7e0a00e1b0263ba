#include "cli/top_k.h"

#include <fmt/format.h>

#include <nlohmann/json.hpp>

namespace polaris::cli {

nlohmann::json top_k_json(const std::vector<ClassScore>& top) {
  auto j = nlohmann::json::array();
  for (const auto& s : top) j.push_back({{"row", s.row}, {"index", s.index}, {"score", s.score}, {"label", s.label}});
  return j;
}

void print_top_k(std::ostream& out, const std::vector<ClassScore>& top) {
  for (const auto& s : top)
    out << fmt::format("  row {}  #{:<5} {:>10.4f}  {}\n", s.row, s.index, s.score, s.label);
}

}  // namespace polaris::cli
