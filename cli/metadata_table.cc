#include "cli/metadata_table.h"

#include "core/byte_size.h"

#include <fmt/format.h>

namespace polaris::cli {
namespace {

std::string describe_shape(const TensorInfo& t) {
  std::string s = "[";
  for (std::size_t i = 0; i < t.shape.rank(); ++i) {
    if (i) s += ", ";
    const bool named = i < t.dim_names.size() && !t.dim_names[i].empty();
    s += named ? t.dim_names[i] : (t.shape[i] < 0 ? "?" : std::to_string(t.shape[i]));
  }
  return s + "]";
}

void print_tensors(std::ostream& out, const char* title, const std::vector<TensorInfo>& tensors) {
  out << title << ":\n";
  std::size_t width = 4;
  for (const auto& t : tensors) width = std::max(width, t.name.size());
  for (const auto& t : tensors)
    out << fmt::format("  {:<{}}  {:<6}  {}\n", t.name, width, to_string(t.dtype), describe_shape(t));
  if (tensors.empty()) out << "  (none reported)\n";
}

}  // namespace

void print_metadata_table(std::ostream& out, const ModelMetadata& m) {
  out << fmt::format("model:        {}\n", m.name) << fmt::format("framework:    {}\n", m.framework)
      << fmt::format("path:         {}\n", m.path) << fmt::format("provider:     {}\n", m.provider)
      << fmt::format("optimization: {}\n", m.optimization_level)
      << fmt::format("file size:    {}\n", format_byte_size(m.file_size_bytes))
      << fmt::format("memory:       {} predicted, {} measured\n", format_byte_size(m.predicted_memory_bytes),
                     format_byte_size(m.measured_memory_bytes));
  print_tensors(out, "inputs", m.inputs);
  print_tensors(out, "outputs", m.outputs);
  if (!m.extra_info.empty()) {
    out << "extra:\n";
    for (const auto& [k, v] : m.extra_info) out << fmt::format("  {}: {}\n", k, v);
  }
}

}  // namespace polaris::cli
