#include "backends/opencv/opencv_model.h"

#include <climits>
#include <cmath>

namespace polaris::opencv {
namespace {

// The cv::Mat depth holding a DataType; -1 where cv::Mat has none.
int cv_depth(DataType type) {
  switch (type) {
    case DataType::kFp32: return CV_32F;
    case DataType::kFp16: return CV_16F;
    case DataType::kFp64: return CV_64F;
    case DataType::kInt32: return CV_32S;
    case DataType::kInt16: return CV_16S;
    case DataType::kUint16: return CV_16U;
    case DataType::kInt8: return CV_8S;
    case DataType::kUint8: return CV_8U;
    default: return -1;
  }
}

// OpenCV blobs are at least 2-D ([n] comes back as [n,1]): give an output
// its declared rank when the element count allows it.
Shape output_shape(const cv::Mat& mat, const TensorInfo& declared, bool rank_known) {
  std::vector<int64_t> dims(mat.size.p, mat.size.p + mat.dims);
  const auto& want = declared.shape.dims();
  if (!rank_known || want.size() == dims.size()) return Shape(std::move(dims));
  const auto total = static_cast<int64_t>(mat.total());
  int64_t known = 1;
  int dynamic = 0;
  for (int64_t d : want) {
    if (d < 0)
      ++dynamic;
    else
      known *= d;
  }
  if (dynamic > 1 || known == 0 || total % known != 0 || (dynamic == 0 && known != total))
    return Shape(std::move(dims));
  std::vector<int64_t> fitted = want;
  for (auto& d : fitted)
    if (d < 0) d = total / known;
  return Shape(std::move(fitted));
}

// A tensor of the declared dtype owning (via keepalive) what OpenCV produced.
Result<Tensor> to_tensor(cv::Mat mat, const TensorInfo& declared, bool rank_known) {
  const Shape shape = output_shape(mat, declared, rank_known);
  if (mat.depth() != CV_32F) {
    cv::Mat f;
    mat.convertTo(f, CV_32F);
    mat = f;
  }
  const DataType type = is_returnable_output_dtype(declared.dtype) ? declared.dtype : DataType::kFp32;
  if (type == DataType::kInt64 || type == DataType::kBool) {  // no cv::Mat depth: convert by hand
    POLARIS_ASSIGN_OR_RETURN(Tensor out, Tensor::allocate(type, shape));
    const float* src = mat.ptr<float>();
    const std::size_t n = mat.total();
    if (type == DataType::kInt64) {
      auto* dst = static_cast<int64_t*>(out.mutable_data());
      for (std::size_t i = 0; i < n; ++i) dst[i] = std::llround(src[i]);
    } else {
      auto* dst = static_cast<bool*>(out.mutable_data());
      for (std::size_t i = 0; i < n; ++i) dst[i] = src[i] != 0.0f;
    }
    return out;
  }
  if (const int depth = cv_depth(type); depth != CV_32F) {
    cv::Mat converted;
    mat.convertTo(converted, depth);
    mat = converted;
  }
  POLARIS_ASSIGN_OR_RETURN(std::size_t bytes, shape.byte_size(type));
  if (bytes != mat.total() * mat.elemSize())
    return Internal("output '" + declared.name + "': OpenCV produced " + std::to_string(mat.total()) +
                    " elements for shape " + shape.to_string());
  void* data = mat.data;
  // Zero copy: the tensor keeps the cv::Mat (and so its buffer) alive.
  auto owner = std::make_shared<cv::Mat>(std::move(mat));
  return Tensor::borrow(type, shape, data, bytes, std::move(owner));
}

// A cv::Mat over the caller's buffer: no copy for FP32 (net.setInput then
// copies it into the net, which OpenCV always does); FP16 is converted.
cv::Mat to_blob(const Tensor& tensor) {
  std::vector<int> sizes;
  for (int64_t d : tensor.shape().dims()) sizes.push_back(static_cast<int>(d));  // validated <= INT_MAX
  if (sizes.empty()) sizes.push_back(1);  // cv::Mat has no rank 0
  void* data = const_cast<void*>(tensor.data());  // OpenCV only reads inputs
  if (tensor.dtype() == DataType::kFp32) return cv::Mat(static_cast<int>(sizes.size()), sizes.data(), CV_32F, data);
  cv::Mat half(static_cast<int>(sizes.size()), sizes.data(), CV_16F, data), blob;
  half.convertTo(blob, CV_32F);
  return blob;
}

}  // namespace

bool is_returnable_output_dtype(DataType type) {
  return cv_depth(type) >= 0 || type == DataType::kInt64 || type == DataType::kBool;
}

std::string cv_message(const cv::Exception& e) {
  std::string out;
  for (char c : std::string(e.what())) {
    if (c == '\n' || c == '>') c = ' ';  // OpenCV nests messages as "\n> ..."
    if (c == ' ' && (out.empty() || out.back() == ' ')) continue;
    out += c;
  }
  while (!out.empty() && out.back() == ' ') out.pop_back();
  return out;
}

OpenCvModel::OpenCvModel(cv::dnn::Net net, ModelMetadata metadata, std::vector<std::string> engine_outputs,
                         std::vector<bool> input_rank_known, std::vector<bool> output_rank_known)
    : net_(std::move(net)),
      metadata_(std::move(metadata)),
      engine_outputs_(std::move(engine_outputs)),
      input_rank_known_(std::move(input_rank_known)),
      output_rank_known_(std::move(output_rank_known)) {}

Status OpenCvModel::validate_inputs(const NamedTensors& inputs) const {
  std::vector<bool> given(metadata_.inputs.size(), false);
  for (const auto& in : inputs) {
    std::size_t i = 0;
    while (i < metadata_.inputs.size() && metadata_.inputs[i].name != in.name) ++i;
    if (i == metadata_.inputs.size())
      return InvalidArgument("model '" + metadata_.name + "' has no input named '" + in.name + "'");
    if (given[i]) return InvalidArgument("input '" + in.name + "' given twice");
    given[i] = true;
    const TensorInfo& info = metadata_.inputs[i];
    const Tensor& t = in.tensor;
    if (t.dtype() != DataType::kFp32 && t.dtype() != DataType::kFp16)
      return InvalidArgument("input '" + in.name + "': the OpenCV backend takes FP32 or FP16 tensors, got " +
                             std::string(to_string(t.dtype())));
    if (t.dtype() != info.dtype)
      return InvalidArgument("input '" + in.name + "': expected datatype " + std::string(to_string(info.dtype)) +
                             ", got " + std::string(to_string(t.dtype())));
    POLARIS_RETURN_IF_ERROR(t.shape().validate_concrete().with_context("input '" + in.name + "'"));
    const auto& dims = t.shape().dims();
    const auto& want = info.shape.dims();
    bool fits = !input_rank_known_[i] || dims.size() == want.size();
    // Any batch (first dim); the other dims as declared.
    for (std::size_t d = 1; fits && d < want.size(); ++d) fits = want[d] < 0 || want[d] == dims[d];
    if (!fits)
      return InvalidArgument("input '" + in.name + "': expected shape " + info.shape.to_string() +
                             " (any first dim), got " + t.shape().to_string());
    for (int64_t d : dims)
      if (d == 0 || d > INT_MAX)
        return InvalidArgument("input '" + in.name + "': OpenCV DNN cannot take shape " + t.shape().to_string());
  }
  for (std::size_t i = 0; i < given.size(); ++i)
    if (!given[i])
      return InvalidArgument("model '" + metadata_.name + "' needs input '" + metadata_.inputs[i].name + "'");
  return Status::Ok();
}

std::vector<NamedTensor> OpenCvModel::warmup_inputs() const {
  std::vector<NamedTensor> out;
  for (std::size_t i = 0; i < metadata_.inputs.size(); ++i) {
    if (!input_rank_known_[i]) return {};
    std::vector<int64_t> dims = metadata_.inputs[i].shape.dims();
    for (auto& d : dims)
      if (d < 0) d = 1;
    auto tensor = Tensor::allocate(metadata_.inputs[i].dtype, Shape(std::move(dims)));
    if (!tensor.ok()) return {};
    out.push_back({metadata_.inputs[i].name, std::move(tensor).value()});
  }
  return out;
}

Result<NamedTensors> OpenCvModel::run(const NamedTensors& inputs, const std::vector<std::string>& requested_outputs) {
  POLARIS_RETURN_IF_ERROR(validate_inputs(inputs));
  std::vector<std::size_t> picked;
  for (std::size_t i = 0; requested_outputs.empty() && i < metadata_.outputs.size(); ++i) picked.push_back(i);
  for (const auto& name : requested_outputs) {
    std::size_t i = 0;
    while (i < metadata_.outputs.size() && metadata_.outputs[i].name != name) ++i;
    if (i == metadata_.outputs.size())
      return InvalidArgument("model '" + metadata_.name + "' has no output named '" + name + "'");
    picked.push_back(i);
  }
  std::vector<cv::String> names;
  for (std::size_t i : picked) names.push_back(engine_outputs_[i]);

  std::vector<cv::Mat> produced;
  try {
    std::vector<cv::Mat> blobs;
    for (const auto& in : inputs) blobs.push_back(to_blob(in.tensor));
    std::lock_guard lock(mu_);
    for (std::size_t i = 0; i < inputs.size(); ++i) net_.setInput(blobs[i], inputs[i].name);
    net_.forward(produced, names);
    // OpenCV may return its internal blobs, which the next forward
    // overwrites: keep a Mat only when it is the buffer's sole owner.
    for (auto& m : produced)
      if (m.u == nullptr || m.u->refcount != 1 || !m.isContinuous()) m = m.clone();
  } catch (const cv::Exception& e) {
    // Bad shapes (e.g. a batch a Reshape in the graph cannot take) surface
    // as failed assertions in OpenCV's shape inference.
    const bool caller_fault = e.code == cv::Error::StsAssert || e.code == cv::Error::StsBadArg ||
                              e.code == cv::Error::StsBadSize || e.code == cv::Error::StsUnmatchedSizes ||
                              e.code == cv::Error::StsOutOfRange;
    return Status(caller_fault ? StatusCode::kInvalidArgument : StatusCode::kInternal,
                  "model '" + metadata_.name + "': OpenCV DNN forward failed: " + cv_message(e));
  } catch (const std::exception& e) {
    return Internal("model '" + metadata_.name + "': OpenCV DNN forward failed: " + e.what());
  }
  if (produced.size() != picked.size())
    return Internal("model '" + metadata_.name + "': OpenCV returned " + std::to_string(produced.size()) +
                    " outputs for " + std::to_string(picked.size()) + " requested");
  NamedTensors result;
  for (std::size_t k = 0; k < picked.size(); ++k) {
    const std::size_t i = picked[k];
    POLARIS_ASSIGN_OR_RETURN(Tensor t, to_tensor(std::move(produced[k]), metadata_.outputs[i], output_rank_known_[i]));
    result.push_back({metadata_.outputs[i].name, std::move(t)});
  }
  return result;
}

}  // namespace polaris::opencv
