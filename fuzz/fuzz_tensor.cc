// fuzz_tensor: shapes and tensors built from sizes a client chose, as the
// codecs build them: core/shape.h (element_count, validate_concrete,
// byte_size, matches), core/tensor.h (Tensor::copy_of, borrow, allocate, and
// the BYTES layout: strings, parse_bytes_elements), server/wire_tensor.h
// (tensor_from_wire, on aligned and misaligned data), core/class_scores.h
// (top_k, the classification extension), and the batcher cutting a batch
// output back into requests (runtime/batching.h: slice_outputs,
// split_outputs).
//
// Checks, beyond "no crash, no ASan/UBSan report, no leak": element_count is
// the exact product when it succeeds, and fails only for a negative dim, a
// rank above kMaxRank or a (partial) product above kMaxElements; copy_of,
// borrow and tensor_from_wire accept exactly the buffers of the right size
// (BYTES: exactly element_count well-formed strings, which serialize back to
// the same bytes; BOOL from the wire: only 0 and 1); each slice and split
// share holds exactly its rows of the batch.
//
// Input (seeds: fuzz/make-seeds), read front to back, zeros once exhausted:
//   u8 dtype (mod 15, DataType's values), u8 rank (mod kMaxRank + 3),
//   per dim: u8 kind (< 200: kind % 8; < 230: u16 LE; < 250: i64 LE; else -1),
//   u8 pattern mask (bit d: dim d is -1 in the pattern for matches()),
//   u8 misalignment (mod 8), u16 LE first row, u16 LE row count, u8 top-k,
//   u8 split count (mod 4) and that many u8 split sizes, then the tensor's bytes.
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "core/class_scores.h"
#include "fuzz/fuzz_common.h"
#include "server/wire_tensor.h"

namespace polaris::fuzz {
namespace {

class Reader {
 public:
  Reader(const uint8_t* data, std::size_t size) : data_(data), size_(size) {}
  uint64_t take(int bytes) {  // little-endian; zeros past the end
    uint64_t v = 0;
    for (int i = 0; i < bytes; ++i) v |= uint64_t{pos_ < size_ ? data_[pos_++] : uint8_t{0}} << (8 * i);
    return v;
  }
  std::vector<uint8_t> rest() { return {data_ + pos_, data_ + size_}; }

 private:
  const uint8_t* data_;
  std::size_t size_;
  std::size_t pos_ = 0;
};

void check_shape(const Shape& shape, const Shape& pattern, DataType dtype) {
  const Result<int64_t> count = shape.element_count();
  bool negative = false, too_many = false;
  __int128 product = 1;
  for (int64_t d : shape.dims()) {
    if (d < 0) negative = true;
    if (negative || too_many) continue;
    product *= d;
    if (product > Shape::kMaxElements) too_many = true;  // the running product, as Shape bounds it
  }
  const bool rank_ok = shape.rank() <= Shape::kMaxRank;
  if (count.ok()) {
    POLARIS_FUZZ_CHECK(rank_ok && !negative && !too_many && product == *count && *count <= Shape::kMaxElements,
                       "%s has %lld elements", shape.to_string().c_str(), static_cast<long long>(*count));
  } else {
    POLARIS_FUZZ_CHECK(!rank_ok || negative || too_many, "%s refused: %s", shape.to_string().c_str(),
                       count.status().to_string().c_str());
  }
  POLARIS_FUZZ_CHECK(shape.validate_concrete().ok() == count.ok(), "validate_concrete and element_count disagree on %s",
                     shape.to_string().c_str());
  POLARIS_FUZZ_CHECK(shape.is_dynamic() == negative, "is_dynamic() wrong for %s", shape.to_string().c_str());
  const Result<std::size_t> bytes = shape.byte_size(dtype);
  POLARIS_FUZZ_CHECK(bytes.ok() == (count.ok() && is_fixed_size(dtype)), "byte_size of %s %s",
                     shape.to_string().c_str(), std::string(to_string(dtype)).c_str());
  if (bytes.ok())
    POLARIS_FUZZ_CHECK(*bytes == static_cast<std::size_t>(*count) * element_size(dtype), "byte_size of %s",
                       shape.to_string().c_str());
  bool matches = shape.rank() == pattern.rank();
  for (std::size_t i = 0; matches && i < shape.rank(); ++i) matches = pattern[i] < 0 || pattern[i] == shape[i];
  POLARIS_FUZZ_CHECK(shape.matches(pattern) == matches, "%s matches %s", shape.to_string().c_str(),
                     pattern.to_string().c_str());
}

// Whether a buffer of these bytes is a valid tensor of this dtype and shape.
bool expect_valid(DataType dtype, const Shape& shape, const std::vector<uint8_t>& bytes) {
  if (dtype == DataType::kInvalid) return false;
  if (dtype == DataType::kBytes) {
    const Result<int64_t> count = shape.element_count();
    return count.ok() &&
           parse_bytes_elements(std::as_bytes(std::span<const uint8_t>(bytes.data(), bytes.size())), *count).ok();
  }
  const Result<std::size_t> want = shape.byte_size(dtype);
  return want.ok() && *want == bytes.size();
}

void check_same_bytes(const Tensor& t, const uint8_t* data, std::size_t size, const char* what) {
  POLARIS_FUZZ_CHECK(t.byte_size() == size && (size == 0 || std::memcmp(t.data(), data, size) == 0),
                     "%s: %zu bytes, not the %zu given", what, t.byte_size(), size);
}

void check_bytes_layout(const Tensor& t, const std::vector<uint8_t>& bytes) {
  if (t.dtype() != DataType::kBytes) return;
  const auto strings = t.strings();
  POLARIS_FUZZ_CHECK(strings.ok(), "a BYTES tensor built does not parse: %s", strings.status().to_string().c_str());
  POLARIS_FUZZ_CHECK(static_cast<int64_t>(strings->size()) == t.shape().element_count().value(),
                     "%zu strings in %s", strings->size(), t.shape().to_string().c_str());
  const std::string again = serialize_bytes_elements(*strings);
  POLARIS_FUZZ_CHECK(again.size() == bytes.size() &&
                         (bytes.empty() || std::memcmp(again.data(), bytes.data(), bytes.size()) == 0),
                     "BYTES elements do not serialize back to their buffer");
}

// Rows [first, first + count) of `batch`, as the batcher cuts them.
void check_rows(const Tensor& batch, const Tensor& share, int64_t first, int64_t count) {
  const int64_t total = batch.shape()[0];
  POLARIS_FUZZ_CHECK(share.dtype() == batch.dtype() && share.shape().rank() == batch.shape().rank() &&
                         share.shape()[0] == count,
                     "rows %lld+%lld of %s are %s", static_cast<long long>(first), static_cast<long long>(count),
                     batch.shape().to_string().c_str(), share.shape().to_string().c_str());
  if (total == 0) return;  // nothing to compare, and no row size
  if (batch.dtype() == DataType::kBytes) {
    const auto all = batch.strings().value();
    const auto mine = share.strings();
    POLARIS_FUZZ_CHECK(mine.ok(), "a BYTES share does not parse: %s", mine.status().to_string().c_str());
    const std::size_t per_row = all.size() / static_cast<std::size_t>(total);
    POLARIS_FUZZ_CHECK(mine->size() == per_row * static_cast<std::size_t>(count), "BYTES share has %zu strings",
                       mine->size());
    for (std::size_t i = 0; i < mine->size(); ++i)
      POLARIS_FUZZ_CHECK((*mine)[i] == all[per_row * static_cast<std::size_t>(first) + i], "BYTES share string %zu",
                         i);
    return;
  }
  const std::size_t row_bytes = batch.byte_size() / static_cast<std::size_t>(total);
  check_same_bytes(share, static_cast<const uint8_t*>(batch.data()) + row_bytes * static_cast<std::size_t>(first),
                   row_bytes * static_cast<std::size_t>(count), "slice");
}

void check_batching(const Tensor& batch, uint64_t first_raw, uint64_t count_raw, const std::vector<uint8_t>& splits) {
  if (batch.shape().rank() == 0) return;
  const int64_t total = batch.shape()[0];
  const NamedTensors outputs{{"OUTPUT0", batch}, {"OUTPUT1", batch}};
  const int64_t first = static_cast<int64_t>(first_raw % static_cast<uint64_t>(total + 1));
  const int64_t count = static_cast<int64_t>(count_raw % static_cast<uint64_t>(total - first + 1));
  const Result<NamedTensors> sliced = slice_outputs(outputs, total, first, count);
  POLARIS_FUZZ_CHECK(sliced.ok(), "rows %lld+%lld of %s: %s", static_cast<long long>(first),
                     static_cast<long long>(count), batch.shape().to_string().c_str(),
                     sliced.status().to_string().c_str());
  for (const NamedTensor& s : *sliced) check_rows(batch, s.tensor, first, count);

  // The batch as requests of the given sizes (the last takes what is left).
  std::vector<int64_t> rows;
  int64_t left = total;
  for (uint8_t s : splits) {
    const int64_t r = std::min<int64_t>(s, left);
    rows.push_back(r);
    left -= r;
  }
  rows.push_back(left);
  const auto shares = split_outputs(outputs, rows);
  POLARIS_FUZZ_CHECK(shares.size() == rows.size(), "%zu shares for %zu requests", shares.size(), rows.size());
  int64_t at = 0;
  for (std::size_t i = 0; i < rows.size(); ++i) {
    POLARIS_FUZZ_CHECK(shares[i].ok(), "share %zu of %s: %s", i, batch.shape().to_string().c_str(),
                       shares[i].status().to_string().c_str());
    for (const NamedTensor& s : *shares[i]) check_rows(batch, s.tensor, at, rows[i]);
    at += rows[i];
  }
}

}  // namespace
}  // namespace polaris::fuzz

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, std::size_t size) {
  using namespace polaris;
  using namespace polaris::fuzz;
  Reader in(data, size);
  const auto dtype = static_cast<DataType>(in.take(1) % 15);
  const std::size_t rank = in.take(1) % (Shape::kMaxRank + 3);
  std::vector<int64_t> dims;
  for (std::size_t i = 0; i < rank; ++i) {
    const uint64_t kind = in.take(1);
    if (kind < 200)
      dims.push_back(static_cast<int64_t>(kind % 8));
    else if (kind < 230)
      dims.push_back(static_cast<int64_t>(in.take(2)));
    else if (kind < 250)
      dims.push_back(static_cast<int64_t>(in.take(8)));
    else
      dims.push_back(-1);
  }
  const uint64_t mask = in.take(1);
  std::vector<int64_t> pattern_dims = dims;
  for (std::size_t i = 0; i < pattern_dims.size() && i < 8; ++i)
    if (mask & (1u << i)) pattern_dims[i] = -1;
  const std::size_t misalign = in.take(1) % 8;
  const uint64_t first_raw = in.take(2), count_raw = in.take(2);
  const int k = static_cast<int>(in.take(1));
  std::vector<uint8_t> splits(in.take(1) % 4);
  for (uint8_t& s : splits) s = static_cast<uint8_t>(in.take(1));
  const std::vector<uint8_t> bytes = in.rest();

  const Shape shape(dims);
  check_shape(shape, Shape(pattern_dims), dtype);
  const bool valid = expect_valid(dtype, shape, bytes);

  // An owning copy.
  const Result<Tensor> copy = Tensor::copy_of(dtype, shape, bytes.data(), bytes.size());
  POLARIS_FUZZ_CHECK(copy.ok() == valid, "copy_of %s %s of %zu bytes: %s", std::string(to_string(dtype)).c_str(),
                     shape.to_string().c_str(), bytes.size(),
                     copy.ok() ? "accepted" : copy.status().to_string().c_str());
  if (copy.ok()) {
    POLARIS_FUZZ_CHECK(copy->owns_data() && copy->dtype() == dtype && copy->shape() == shape, "copy_of's tensor");
    check_same_bytes(*copy, bytes.data(), bytes.size(), "copy_of");
    check_bytes_layout(*copy, bytes);
  }

  // A view that keeps its buffer alive.
  {
    auto owner = std::make_shared<std::vector<uint8_t>>(bytes);
    uint8_t* p = owner->data();
    Result<Tensor> view = Tensor::borrow(dtype, shape, p, owner->size(), owner);
    owner.reset();
    POLARIS_FUZZ_CHECK(view.ok() == valid, "borrow disagrees with copy_of");
    if (view.ok()) {
      POLARIS_FUZZ_CHECK(!view->owns_data() && view->data() == p, "borrow copied");
      check_same_bytes(*view, bytes.data(), bytes.size(), "borrow");
      check_bytes_layout(*view, bytes);
    }
  }

  // Bytes from the wire, at an address as aligned as the request put them.
  {
    auto owner = std::make_shared<std::vector<uint8_t>>(bytes.size() + misalign);
    if (!bytes.empty()) std::memcpy(owner->data() + misalign, bytes.data(), bytes.size());
    const char* p = reinterpret_cast<const char*>(owner->data() + misalign);
    const Result<Tensor> wire = tensor_from_wire(dtype, shape, p, bytes.size(), owner, "x");
    owner.reset();
    bool bools_ok = true;
    if (dtype == DataType::kBool)
      for (uint8_t b : bytes) bools_ok = bools_ok && b <= 1;
    POLARIS_FUZZ_CHECK(wire.ok() == (valid && bools_ok), "tensor_from_wire %s %s of %zu bytes: %s",
                       std::string(to_string(dtype)).c_str(), shape.to_string().c_str(), bytes.size(),
                       wire.ok() ? "accepted" : wire.status().to_string().c_str());
    if (wire.ok()) {
      const bool aligned = reinterpret_cast<std::uintptr_t>(p) % std::max<std::size_t>(element_size(dtype), 1) == 0;
      POLARIS_FUZZ_CHECK(wire->owns_data() == !aligned, "tensor_from_wire: %s data %s",
                         aligned ? "aligned" : "misaligned", wire->owns_data() ? "copied" : "viewed");
      check_same_bytes(*wire, bytes.data(), bytes.size(), "tensor_from_wire");
    }
  }

  // Zero-filled, for shapes a test could afford.
  if (const auto want = shape.byte_size(dtype); want.ok() && *want <= (1u << 20)) {
    const Result<Tensor> zeros = Tensor::allocate(dtype, shape);
    POLARIS_FUZZ_CHECK(zeros.ok() && zeros->byte_size() == *want, "allocate %s", shape.to_string().c_str());
    for (std::byte b : zeros->bytes()) POLARIS_FUZZ_CHECK(b == std::byte{0}, "allocate did not zero");
  }

  if (copy.ok()) {
    (void)top_k(*copy, k, {"zero", "one"});
    check_batching(*copy, first_raw, count_raw, splits);
  }
  return 0;
}
