#include "core/class_scores.h"

#include <algorithm>
#include <filesystem>
#include <fstream>

#include "core/npy.h"

namespace polaris {

std::vector<ClassScore> top_k(const Tensor& scores, int k, const std::vector<std::string>& labels) {
  const DataType t = scores.dtype();
  const auto rank = scores.shape().rank();
  if (k <= 0 || (t != DataType::kFp32 && t != DataType::kFp16 && t != DataType::kFp64) || rank < 1 || rank > 2)
    return {};
  const int64_t classes = scores.shape()[rank - 1];
  const int64_t rows = rank == 2 ? scores.shape()[0] : 1;
  if (classes < 2) return {};
  std::vector<ClassScore> out;
  for (int64_t r = 0; r < rows; ++r) {
    std::vector<int64_t> order(classes);
    for (int64_t c = 0; c < classes; ++c) order[c] = c;
    const int64_t n = std::min<int64_t>(k, classes);
    auto value = [&](int64_t c) { return element_as_double(scores, r * classes + c); };
    std::partial_sort(order.begin(), order.begin() + n, order.end(),
                      [&](int64_t a, int64_t b) { return value(a) > value(b); });
    for (int64_t i = 0; i < n; ++i) {
      const int64_t c = order[i];
      out.push_back({r, c, value(c), c < static_cast<int64_t>(labels.size()) ? labels[c] : ""});
    }
  }
  return out;
}

std::string find_labels_file(const std::string& model_path) {
  namespace fs = std::filesystem;
  fs::path dir = fs::path(model_path).parent_path();
  for (int up = 0; up < 2 && !dir.empty(); ++up, dir = dir.parent_path())
    if (fs::exists(dir / "labels.txt")) return (dir / "labels.txt").string();
  return "";
}

std::vector<std::string> load_labels(const std::string& path) {
  std::vector<std::string> labels;
  if (path.empty()) return labels;
  std::ifstream in(path);
  for (std::string line; std::getline(in, line);) labels.push_back(line);
  return labels;
}

}  // namespace polaris
