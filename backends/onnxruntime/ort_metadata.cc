#include "backends/onnxruntime/ort_metadata.h"

#include <limits>

#include "backends/onnxruntime/ort_types.h"

namespace polaris::ort {
namespace {

TensorInfo tensor_info(const std::string& name, const Ort::TypeInfo& type_info) {
  TensorInfo info;
  info.name = name;
  if (type_info.GetONNXType() != ONNX_TYPE_TENSOR) {
    info.dtype = DataType::kInvalid;  // sequences and maps are not served
    return info;
  }
  auto tensor = type_info.GetTensorTypeAndShapeInfo();
  info.dtype = from_ort(tensor.GetElementType()).value_or(DataType::kInvalid);
  std::vector<int64_t> dims = tensor.GetShape();
  std::vector<const char*> symbolic(dims.size(), nullptr);
  if (!dims.empty()) tensor.GetSymbolicDimensions(symbolic.data(), symbolic.size());
  bool any_named = false;
  for (std::size_t i = 0; i < dims.size(); ++i) {
    if (dims[i] < 0) dims[i] = Shape::kDynamic;
    const std::string dim_name = symbolic[i] ? symbolic[i] : "";
    any_named |= !dim_name.empty();
    info.dim_names.push_back(dim_name);
  }
  if (!any_named) info.dim_names.clear();
  info.shape = Shape(std::move(dims));
  return info;
}

}  // namespace

Status read_session_metadata(const Ort::Session& session, ModelMetadata& metadata) {
  Ort::AllocatorWithDefaultOptions allocator;
  for (std::size_t i = 0; i < session.GetInputCount(); ++i) {
    auto name = session.GetInputNameAllocated(i, allocator);
    metadata.inputs.push_back(tensor_info(name.get(), session.GetInputTypeInfo(i)));
  }
  for (std::size_t i = 0; i < session.GetOutputCount(); ++i) {
    auto name = session.GetOutputNameAllocated(i, allocator);
    metadata.outputs.push_back(tensor_info(name.get(), session.GetOutputTypeInfo(i)));
  }
  Ort::ModelMetadata model = session.GetModelMetadata();
  auto put = [&](const char* key, Ort::AllocatedStringPtr value) {
    if (value && *value.get()) metadata.extra_info[key] = value.get();
  };
  put("producer", model.GetProducerNameAllocated(allocator));
  put("graph_name", model.GetGraphNameAllocated(allocator));
  put("domain", model.GetDomainAllocated(allocator));
  put("description", model.GetDescriptionAllocated(allocator));
  put("graph_description", model.GetGraphDescriptionAllocated(allocator));
  // ORT reports INT64_MAX when the model sets no version.
  if (const int64_t version = model.GetVersion(); version != std::numeric_limits<int64_t>::max())
    metadata.extra_info["model_version"] = std::to_string(version);
  for (auto& key : model.GetCustomMetadataMapKeysAllocated(allocator)) {
    auto value = model.LookupCustomMetadataMapAllocated(key.get(), allocator);
    metadata.extra_info[std::string("custom.") + key.get()] = value ? value.get() : "";
  }
  return Status::Ok();
}

}  // namespace polaris::ort
