#include "core/shape.h"

#include <algorithm>

namespace polaris {

bool Shape::is_dynamic() const {
  return std::any_of(dims_.begin(), dims_.end(), [](int64_t d) { return d < 0; });
}

Status Shape::validate_concrete() const {
  auto count = element_count();
  return count.ok() ? Status::Ok() : count.status();
}

Result<int64_t> Shape::element_count() const {
  if (dims_.size() > kMaxRank)
    return InvalidArgument("shape " + to_string() + " has rank " + std::to_string(dims_.size()) +
                           ", more than " + std::to_string(kMaxRank));
  int64_t count = 1;
  for (int64_t d : dims_) {
    if (d < 0) return InvalidArgument("shape " + to_string() + " has a negative or dynamic dimension");
    // Checked before multiplying: count * d stays below 2^48 * 2^48 only when
    // we test against the bound by division first.
    if (d != 0 && count > kMaxElements / d)
      return InvalidArgument("shape " + to_string() + " has more than 2^48 elements");
    count *= d;
  }
  return count;
}

Result<std::size_t> Shape::byte_size(DataType type) const {
  const std::size_t size = element_size(type);
  if (size == 0)
    return InvalidArgument(std::string("no fixed byte size for data type ") + std::string(polaris::to_string(type)));
  POLARIS_ASSIGN_OR_RETURN(int64_t count, element_count());
  return static_cast<std::size_t>(count) * size;  // < 2^48 * 8: no overflow
}

bool Shape::matches(const Shape& pattern) const {
  if (dims_.size() != pattern.dims_.size()) return false;
  for (std::size_t i = 0; i < dims_.size(); ++i)
    if (pattern.dims_[i] >= 0 && pattern.dims_[i] != dims_[i]) return false;
  return true;
}

std::string Shape::to_string() const {
  std::string s = "[";
  for (std::size_t i = 0; i < dims_.size(); ++i) {
    if (i) s += ',';
    s += std::to_string(dims_[i]);
  }
  return s + "]";
}

}  // namespace polaris
