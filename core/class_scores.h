// Top-k classes of a classifier output, with labels: shared by `polaris
// predict` and the server's classification extension.
// Thread-safety: pure functions.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "core/tensor.h"

namespace polaris {

struct ClassScore {
  int64_t row = 0;
  int64_t index = 0;
  double score = 0;
  std::string label;  // "" when no labels file
};

// The top `k` classes of each row of an output shaped [N, C] (or [C]),
// best first, row by row. Empty when the tensor does not look like class
// scores (not FP16/FP32/FP64, rank not 1 or 2, or fewer than two classes).
std::vector<ClassScore> top_k(const Tensor& scores, int k, const std::vector<std::string>& labels);

// labels.txt beside the model file or in a parent folder (Triton layout:
// <model>/labels.txt with the file in <model>/<version>/); "" if none.
std::string find_labels_file(const std::string& model_path);
// One label per line; empty when the file is missing or `path` is empty.
std::vector<std::string> load_labels(const std::string& path);

}  // namespace polaris
