#include "runtime/batching.h"

#include <cstring>
#include <memory>

#include <fmt/format.h>

#include "core/quote.h"

namespace polaris {
namespace {

Shape with_first_dim(const Shape& shape, int64_t rows) {
  std::vector<int64_t> dims = shape.dims();
  dims[0] = rows;
  return Shape(std::move(dims));
}

}  // namespace

std::string batch_key(const NamedTensors& inputs, const std::vector<std::string>& requested_outputs) {
  std::string key;
  for (const NamedTensor& in : inputs) {
    key += in.name;
    key += '\x1f';
    key += to_string(in.tensor.dtype());
    for (std::size_t d = 1; d < in.tensor.shape().rank(); ++d) key += fmt::format(",{}", in.tensor.shape()[d]);
    key += '\x1e';
  }
  key += '\x1d';
  for (const std::string& out : requested_outputs) {
    key += out;
    key += '\x1f';
  }
  return key;
}

Result<int64_t> batch_rows(const NamedTensors& inputs) {
  if (inputs.empty()) return int64_t{1};
  for (const NamedTensor& in : inputs)
    if (in.tensor.shape().rank() == 0)
      return InvalidArgument(fmt::format("input {} has no batch dim", in_quotes(in.name)));
  const int64_t rows = inputs.front().tensor.shape()[0];
  for (const NamedTensor& in : inputs)
    if (in.tensor.shape()[0] != rows)
      return InvalidArgument(fmt::format("input {} batch size does not match other inputs: its first dim is {}, "
                                         "input {} has {}",
                                         in_quotes(in.name), in.tensor.shape()[0], in_quotes(inputs.front().name), rows));
  return rows;
}

Result<NamedTensors> stack_inputs(const std::vector<const NamedTensors*>& requests) {
  if (requests.empty()) return InvalidArgument("no requests to stack");
  const NamedTensors& first = *requests.front();
  NamedTensors stacked;
  stacked.reserve(first.size());
  for (std::size_t i = 0; i < first.size(); ++i) {
    const Tensor& model_input = first[i].tensor;
    if (model_input.shape().rank() == 0)
      return InvalidArgument(fmt::format("input '{}' has no batch dim to stack along", first[i].name));
    int64_t rows = 0;
    std::size_t bytes = 0;
    for (const NamedTensors* r : requests) {
      if (r->size() != first.size() || (*r)[i].name != first[i].name)
        return InvalidArgument("requests with different inputs cannot share a batch");
      POLARIS_ASSIGN_OR_RETURN(int64_t request_rows, batch_rows(*r));
      if ((*r)[i].tensor.shape().rank() != model_input.shape().rank())
        return InvalidArgument("requests with different input ranks cannot share a batch");
      rows += request_rows;
      bytes += (*r)[i].tensor.byte_size();
    }
    auto buffer = std::shared_ptr<std::byte[]>(new std::byte[bytes == 0 ? 1 : bytes]);
    std::size_t offset = 0;
    for (const NamedTensors* r : requests) {
      const Tensor& t = (*r)[i].tensor;
      if (t.byte_size()) std::memcpy(buffer.get() + offset, t.data(), t.byte_size());
      offset += t.byte_size();
    }
    std::byte* data = buffer.get();
    POLARIS_ASSIGN_OR_RETURN(Tensor t, Tensor::borrow(model_input.dtype(), with_first_dim(model_input.shape(), rows),
                                                      data, bytes, std::move(buffer)));
    stacked.push_back({first[i].name, std::move(t)});
  }
  return stacked;
}

Result<NamedTensors> slice_outputs(const NamedTensors& outputs, int64_t total_rows, int64_t first, int64_t count) {
  NamedTensors sliced;
  sliced.reserve(outputs.size());
  for (const NamedTensor& out : outputs) {
    const Tensor& t = out.tensor;
    if (t.shape().rank() == 0 || t.shape()[0] != total_rows)
      return Internal(fmt::format("output '{}' has shape {}, not a batch of {} along dim 0: the model cannot be "
                                  "batched (set max_batch_size 0 or turn dynamic batching off)",
                                  out.name, t.shape().to_string(), total_rows));
    const Shape shape = with_first_dim(t.shape(), count);
    if (t.dtype() == DataType::kBytes) {
      POLARIS_ASSIGN_OR_RETURN(auto elements, t.strings());
      const std::size_t per_row = total_rows > 0 ? elements.size() / static_cast<std::size_t>(total_rows) : 0;
      std::vector<std::string_view> mine(elements.begin() + static_cast<std::ptrdiff_t>(per_row * first),
                                         elements.begin() + static_cast<std::ptrdiff_t>(per_row * (first + count)));
      const std::string buffer = serialize_bytes_elements(mine);
      POLARIS_ASSIGN_OR_RETURN(Tensor copy, Tensor::copy_of(DataType::kBytes, shape, buffer.data(), buffer.size()));
      sliced.push_back({out.name, std::move(copy)});
      continue;
    }
    // A batch of zero rows (every request sent a batch dim of 0) has empty slices.
    const std::size_t row_bytes = total_rows > 0 ? t.byte_size() / static_cast<std::size_t>(total_rows) : 0;
    auto whole = std::make_shared<Tensor>(t);  // keeps the batch output alive while any slice lives
    auto* data = const_cast<std::byte*>(t.bytes().data()) + row_bytes * static_cast<std::size_t>(first);
    POLARIS_ASSIGN_OR_RETURN(Tensor view, Tensor::borrow(t.dtype(), shape, data,
                                                         row_bytes * static_cast<std::size_t>(count), whole));
    sliced.push_back({out.name, std::move(view)});
  }
  return sliced;
}

std::vector<Result<NamedTensors>> split_outputs(Result<NamedTensors> outputs, const std::vector<int64_t>& rows) {
  std::vector<Result<NamedTensors>> shares;
  shares.reserve(rows.size());
  if (!outputs.ok() || rows.size() == 1) {
    shares.push_back(std::move(outputs));
    for (std::size_t i = 1; i < rows.size(); ++i) shares.push_back(shares.front().status());
    return shares;
  }
  int64_t total = 0;
  for (int64_t r : rows) total += r;
  int64_t first = 0;
  for (int64_t r : rows) {
    shares.push_back(slice_outputs(*outputs, total, first, r));
    first += r;
  }
  return shares;
}

}  // namespace polaris
