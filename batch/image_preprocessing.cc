#include "batch/image_preprocessing.h"

#include <fmt/format.h>

#include <charconv>
#include <cmath>
#include <cstring>
#include <opencv2/imgproc.hpp>
#include <vector>

namespace polaris::batch {
namespace {

constexpr const char* kPresetNames = "imagenet, efficientnet-lite, unit, raw";

Result<std::vector<float>> parse_numbers(const std::string& key, const std::string& text) {
  std::vector<float> values;
  std::size_t start = 0;
  while (start <= text.size()) {
    const std::size_t comma = std::min(text.find(',', start), text.size());
    std::string item = text.substr(start, comma - start);
    item.erase(0, item.find_first_not_of(' '));
    item.erase(item.find_last_not_of(' ') + 1);
    float v = 0;
    const auto [end, ec] = std::from_chars(item.data(), item.data() + item.size(), v);
    if (item.empty() || ec != std::errc() || end != item.data() + item.size() || !std::isfinite(v))
      return InvalidArgument(fmt::format("config parameter {}: '{}' is not a list of numbers", key, text));
    values.push_back(v);
    start = comma + 1;
  }
  return values;
}

Result<std::array<float, 3>> three(const std::string& key, const std::string& text) {
  POLARIS_ASSIGN_OR_RETURN(std::vector<float> v, parse_numbers(key, text));
  if (v.size() == 1) v = {v[0], v[0], v[0]};
  if (v.size() != 3) return InvalidArgument(fmt::format("config parameter {}: give 1 or 3 values, not '{}'", key, text));
  return std::array<float, 3>{v[0], v[1], v[2]};
}

Result<int> size_value(const std::string& key, float v) {
  if (v < 0 || v > 16384 || v != std::floor(v))
    return InvalidArgument(fmt::format("config parameter {}: {} is not a size from 0 to 16384", key, v));
  return static_cast<int>(v);
}

Status apply_parameters(ImagePreprocessing& p, const std::map<std::string, std::string>& parameters) {
  auto get = [&](const char* key) -> const std::string* {
    auto it = parameters.find(key);
    return it == parameters.end() ? nullptr : &it->second;
  };
  if (auto* v = get("polaris.preprocess.mean")) {
    POLARIS_ASSIGN_OR_RETURN(p.mean, three("polaris.preprocess.mean", *v));
  }
  if (auto* v = get("polaris.preprocess.std")) {
    POLARIS_ASSIGN_OR_RETURN(p.std, three("polaris.preprocess.std", *v));
    for (float s : p.std)
      if (s == 0) return InvalidArgument("config parameter polaris.preprocess.std: a std of 0 divides by zero");
  }
  if (auto* v = get("polaris.preprocess.color")) {
    if (*v != "rgb" && *v != "bgr")
      return InvalidArgument("config parameter polaris.preprocess.color: rgb or bgr, not '" + *v + "'");
    p.rgb = *v == "rgb";
  }
  if (auto* v = get("polaris.preprocess.layout")) {
    if (*v != "nchw" && *v != "nhwc")
      return InvalidArgument("config parameter polaris.preprocess.layout: nchw or nhwc, not '" + *v + "'");
    p.layout = *v == "nchw" ? Layout::kNchw : Layout::kNhwc;
  }
  if (auto* v = get("polaris.preprocess.resize")) {
    POLARIS_ASSIGN_OR_RETURN(auto n, parse_numbers("polaris.preprocess.resize", *v));
    if (n.size() != 1) return InvalidArgument("config parameter polaris.preprocess.resize: one size, not '" + *v + "'");
    POLARIS_ASSIGN_OR_RETURN(p.resize_shorter_side, size_value("polaris.preprocess.resize", n[0]));
  }
  if (auto* v = get("polaris.preprocess.crop")) {
    POLARIS_ASSIGN_OR_RETURN(auto n, parse_numbers("polaris.preprocess.crop", *v));
    if (n.size() != 1 && n.size() != 2)
      return InvalidArgument("config parameter polaris.preprocess.crop: 'n' or 'h,w', not '" + *v + "'");
    POLARIS_ASSIGN_OR_RETURN(p.crop_height, size_value("polaris.preprocess.crop", n[0]));
    POLARIS_ASSIGN_OR_RETURN(p.crop_width, size_value("polaris.preprocess.crop", n.back()));
    if (p.crop_height == 0 || p.crop_width == 0)
      return InvalidArgument("config parameter polaris.preprocess.crop: the crop must not be empty");
  }
  return Status::Ok();
}

// The input's own shape decides layout and size when it has them.
Status apply_shape(ImagePreprocessing& p, const TensorInfo& input) {
  const auto& d = input.shape.dims();
  if (input.dtype != DataType::kInvalid && input.dtype != DataType::kFp32 && input.dtype != DataType::kUint8)
    return InvalidArgument(fmt::format("input '{}' is {}: images become FP32 or UINT8 inputs only", input.name,
                                       to_string(input.dtype)));
  if (input.dtype != DataType::kInvalid) p.dtype = input.dtype;
  if (d.empty()) return Status::Ok();  // unknown shape (TorchScript): the preset's
  if (d.size() != 3 && d.size() != 4)
    return InvalidArgument(fmt::format("input '{}' has shape {}: an image input is [N,3,H,W], [N,H,W,3] or "
                                       "without N",
                                       input.name, input.shape.to_string()));
  const std::size_t c = d.size() - 3;  // first non-batch dim
  if (d[c] == 3) {
    p.layout = Layout::kNchw;
    if (d[c + 1] > 0) p.crop_height = static_cast<int>(d[c + 1]);
    if (d[c + 2] > 0) p.crop_width = static_cast<int>(d[c + 2]);
  } else if (d[c + 2] == 3) {
    p.layout = Layout::kNhwc;
    if (d[c] > 0) p.crop_height = static_cast<int>(d[c]);
    if (d[c + 1] > 0) p.crop_width = static_cast<int>(d[c + 1]);
  } else if (d[c] > 0 || d[c + 2] > 0) {
    return InvalidArgument(fmt::format("input '{}' has shape {}: no dim of 3 colour channels where NCHW or NHWC "
                                       "put it",
                                       input.name, input.shape.to_string()));
  }
  return Status::Ok();
}

}  // namespace

std::string ImagePreprocessing::describe() const {
  return fmt::format("{}: {} shorter side {} crop {}x{} mean {},{},{} std {},{},{} {} {}", preset, rgb ? "RGB" : "BGR",
                     resize_shorter_side, crop_height, crop_width, mean[0], mean[1], mean[2], std[0], std[1], std[2],
                     layout == Layout::kNchw ? "NCHW" : "NHWC", to_string(dtype));
}

Result<ImagePreprocessing> preset(const std::string& name) {
  ImagePreprocessing p;  // imagenet
  p.preset = name;
  if (name == "imagenet") return p;
  if (name == "efficientnet-lite") {
    p.mean = {127, 127, 127};
    p.std = {128, 128, 128};
    return p;
  }
  if (name == "unit" || name == "raw") {
    p.mean = {0, 0, 0};
    p.std = name == "unit" ? std::array<float, 3>{255, 255, 255} : std::array<float, 3>{1, 1, 1};
    return p;
  }
  return InvalidArgument(fmt::format("unknown preprocessing preset '{}' (presets: {})", name, kPresetNames));
}

Result<ImagePreprocessing> preprocessing_for(const TensorInfo& input,
                                             const std::map<std::string, std::string>& parameters,
                                             const std::string& preset_name) {
  std::string name = preset_name;
  if (name.empty()) {
    auto it = parameters.find("polaris.preprocess");
    name = it == parameters.end() ? "imagenet" : it->second;
  }
  POLARIS_ASSIGN_OR_RETURN(ImagePreprocessing p, preset(name));
  POLARIS_RETURN_IF_ERROR(apply_parameters(p, parameters));
  POLARIS_RETURN_IF_ERROR(apply_shape(p, input));
  return p;
}

Result<Tensor> preprocess_image(const cv::Mat& bgr, const ImagePreprocessing& p) {
  if (bgr.empty() || bgr.type() != CV_8UC3) return InvalidArgument("not a 3-channel 8-bit image");
  cv::Mat image = bgr;
  if (p.resize_shorter_side > 0) {
    const double scale = static_cast<double>(p.resize_shorter_side) / std::min(image.cols, image.rows);
    const cv::Size size(std::max(1, static_cast<int>(std::lround(image.cols * scale))),
                        std::max(1, static_cast<int>(std::lround(image.rows * scale))));
    // INTER_AREA when shrinking: it averages like PIL's antialiased bilinear.
    cv::resize(image, image, size, 0, 0, scale < 1 ? cv::INTER_AREA : cv::INTER_LINEAR);
  } else {
    cv::resize(image, image, cv::Size(p.crop_width, p.crop_height), 0, 0, cv::INTER_AREA);
  }
  if (image.cols < p.crop_width || image.rows < p.crop_height)
    cv::resize(image, image, cv::Size(std::max(image.cols, p.crop_width), std::max(image.rows, p.crop_height)), 0, 0,
               cv::INTER_LINEAR);
  const cv::Rect crop((image.cols - p.crop_width) / 2, (image.rows - p.crop_height) / 2, p.crop_width, p.crop_height);
  image = image(crop);
  if (p.rgb) cv::cvtColor(image, image, cv::COLOR_BGR2RGB);

  const int64_t h = p.crop_height, w = p.crop_width;
  const Shape shape = p.layout == Layout::kNchw ? Shape{3, h, w} : Shape{h, w, 3};
  POLARIS_ASSIGN_OR_RETURN(Tensor out, Tensor::allocate(p.dtype, shape));
  if (p.dtype == DataType::kUint8) {
    auto* dst = static_cast<uint8_t*>(out.mutable_data());
    for (int64_t y = 0; y < h; ++y) {
      const uint8_t* row = image.ptr<uint8_t>(static_cast<int>(y));
      for (int64_t x = 0; x < w; ++x)
        for (int c = 0; c < 3; ++c)
          dst[p.layout == Layout::kNchw ? (c * h + y) * w + x : (y * w + x) * 3 + c] = row[x * 3 + c];
    }
    return out;
  }
  auto* dst = static_cast<float*>(out.mutable_data());
  const std::array<float, 3> inv{1 / p.std[0], 1 / p.std[1], 1 / p.std[2]};
  for (int64_t y = 0; y < h; ++y) {
    const uint8_t* row = image.ptr<uint8_t>(static_cast<int>(y));
    for (int64_t x = 0; x < w; ++x)
      for (int c = 0; c < 3; ++c) {
        const float v = (row[x * 3 + c] - p.mean[c]) * inv[c];
        dst[p.layout == Layout::kNchw ? (c * h + y) * w + x : (y * w + x) * 3 + c] = v;
      }
  }
  return out;
}

}  // namespace polaris::batch
