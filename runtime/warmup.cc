#include "runtime/warmup.h"

#include <filesystem>
#include <fstream>
#include <random>

#include "runtime/model_config.h"

namespace polaris {
namespace {

namespace fs = std::filesystem;

Result<Tensor> zeros(DataType dtype, const Shape& shape) {
  if (dtype == DataType::kBytes) {
    POLARIS_ASSIGN_OR_RETURN(int64_t n, shape.element_count());
    if (static_cast<uint64_t>(n) * 4 > kMaxWarmupTensorBytes) return InvalidArgument("warm-up tensor too large");
    return Tensor::from_strings(shape, std::vector<std::string>(static_cast<std::size_t>(n)));
  }
  POLARIS_ASSIGN_OR_RETURN(std::size_t bytes, shape.byte_size(dtype));
  if (bytes > kMaxWarmupTensorBytes)
    return InvalidArgument("warm-up tensor of " + shape.to_string() + " is larger than the 256 MiB limit");
  return Tensor::allocate(dtype, shape);
}

// Random values that are valid for the type: floats in [0, 1), small
// integers, bools 0/1 (random bytes would make NaNs and invalid bools).
Result<Tensor> random_values(DataType dtype, const Shape& shape) {
  POLARIS_ASSIGN_OR_RETURN(Tensor t, zeros(dtype, shape));
  if (dtype == DataType::kBytes) return t;
  std::mt19937 rng(42);
  auto fill = [&](auto* data, auto make) {
    const std::size_t n = t.byte_size() / sizeof(*data);
    for (std::size_t i = 0; i < n; ++i) data[i] = make();
  };
  std::uniform_real_distribution<double> unit(0.0, 1.0);
  std::uniform_int_distribution<int> small(0, 100);
  void* p = t.mutable_data();
  switch (dtype) {
    case DataType::kFp32: fill(static_cast<float*>(p), [&] { return static_cast<float>(unit(rng)); }); break;
    case DataType::kFp64: fill(static_cast<double*>(p), [&] { return unit(rng); }); break;
    case DataType::kBool: fill(static_cast<uint8_t*>(p), [&] { return static_cast<uint8_t>(small(rng) & 1); }); break;
    case DataType::kInt8:
    case DataType::kUint8: fill(static_cast<uint8_t*>(p), [&] { return static_cast<uint8_t>(small(rng)); }); break;
    case DataType::kInt32: fill(static_cast<int32_t*>(p), [&] { return small(rng); }); break;
    case DataType::kInt64: fill(static_cast<int64_t*>(p), [&] { return int64_t{small(rng)}; }); break;
    default: break;  // other types warm up with zeros
  }
  return t;
}

Result<Tensor> from_file(DataType dtype, const Shape& shape, const fs::path& file) {
  std::error_code ec;
  const auto size = fs::file_size(file, ec);
  if (ec) return NotFound("warm-up data file " + file.string() + " cannot be read: " + ec.message());
  if (size > kMaxWarmupTensorBytes) return InvalidArgument("warm-up data file " + file.string() + " is too large");
  std::string bytes(size, '\0');
  std::ifstream in(file, std::ios::binary);
  if (!in.read(bytes.data(), static_cast<std::streamsize>(size)))
    return Internal("reading warm-up data file " + file.string() + " failed");
  auto t = Tensor::copy_of(dtype, shape, bytes.data(), bytes.size());
  if (!t.ok()) return InvalidArgument("warm-up data file " + file.string() + ": " + t.status().message());
  return t;
}

Result<WarmupSample> configured_sample(const inference::ModelWarmup& warmup, const inference::ModelConfig& config,
                                       const std::string& model_dir) {
  WarmupSample sample{warmup.name(), {}, std::max<uint32_t>(warmup.count(), 1), true};
  for (const auto& entry : warmup.inputs()) {
    const std::string& input_name = entry.first;
    const inference::ModelWarmup::Input& input = entry.second;
    std::vector<int64_t> dims;
    if (config.max_batch_size() > 0) dims.push_back(std::max<uint32_t>(warmup.batch_size(), 1));
    for (int64_t d : input.dims()) {
      if (d < 0) return InvalidArgument("model_warmup '" + warmup.name() + "' input '" + input_name +
                                        "': dims must be concrete, not " + std::to_string(d));
      dims.push_back(d);
    }
    const Shape shape(std::move(dims));
    POLARIS_RETURN_IF_ERROR(shape.validate_concrete());
    const DataType dtype = from_config_data_type(input.data_type());
    auto make = [&]() -> Result<Tensor> {
      switch (input.input_data_type_case()) {
        case inference::ModelWarmup::Input::kRandomData:
          return random_values(dtype, shape);
        case inference::ModelWarmup::Input::kInputDataFile: {
          const std::string& file = input.input_data_file();
          if (file.empty() || file.find("..") != std::string::npos || file.front() == '/')
            return InvalidArgument("input_data_file '" + file + "' must be a file under warmup/");
          return from_file(dtype, shape, fs::path(model_dir) / "warmup" / file);
        }
        default:
          return zeros(dtype, shape);
      }
    };
    Result<Tensor> tensor = make();
    if (!tensor.ok())
      return InvalidArgument("model_warmup '" + warmup.name() + "' input '" + input_name +
                             "': " + tensor.status().message());
    sample.inputs.push_back({input_name, std::move(*tensor)});
  }
  return sample;
}

Result<WarmupSample> default_sample(const ModelMetadata& metadata) {
  // Twice: ONNX Runtime plans its memory pattern on the first run and
  // allocates it on the second; both belong to the load (its memory
  // measurement, its allocation window), not to the first request.
  WarmupSample sample{"zeros", {}, 2, false};
  for (const TensorInfo& input : metadata.inputs) {
    std::vector<int64_t> dims = input.shape.dims();
    for (int64_t& d : dims)
      if (d < 0) d = 1;
    POLARIS_ASSIGN_OR_RETURN(Tensor t, zeros(input.dtype, Shape(std::move(dims))));
    sample.inputs.push_back({input.name, std::move(t)});
  }
  return sample;
}

}  // namespace

Result<std::vector<WarmupSample>> warmup_samples(const inference::ModelConfig& config, const ModelMetadata& metadata,
                                                 const std::string& model_dir) {
  std::vector<WarmupSample> samples;
  if (config.model_warmup_size() == 0) {
    // A TorchScript model without a spec learns its input types on its
    // first request: nothing to build a default sample from.
    for (const TensorInfo& input : metadata.inputs)
      if (input.dtype == DataType::kInvalid) return samples;
    POLARIS_ASSIGN_OR_RETURN(WarmupSample sample, default_sample(metadata));
    samples.push_back(std::move(sample));
    return samples;
  }
  for (const auto& warmup : config.model_warmup()) {
    POLARIS_ASSIGN_OR_RETURN(WarmupSample sample, configured_sample(warmup, config, model_dir));
    samples.push_back(std::move(sample));
  }
  return samples;
}

}  // namespace polaris
