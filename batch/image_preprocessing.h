// How an image file becomes a model input: resize, crop, colour order,
// mean/std, layout and dtype, chosen by preset name, by the model's config
// parameters (polaris.preprocess*), and by the input's own shape.
//
// Presets (values on 0..255 pixels, RGB, shorter side 256, centre crop 224):
//   imagenet           mean 123.675,116.28,103.53  std 58.395,57.12,57.375
//                      (torchvision's ImageNet classifiers: ResNet, MobileNet)
//   efficientnet-lite  mean 127 std 128 (EfficientNet-Lite, TF Hub's recipe)
//   unit               x / 255
//   raw                x unchanged
// Thread-safety: value types and pure functions.
#pragma once

#include <array>
#include <map>
#include <string>

#include "core/model_metadata.h"
#include "core/status.h"
#include "core/tensor.h"

namespace cv {
class Mat;
}

namespace polaris::batch {

enum class Layout { kNchw, kNhwc };

struct ImagePreprocessing {
  std::string preset = "imagenet";
  bool rgb = true;               // false: keep OpenCV's BGR order
  int resize_shorter_side = 256;  // 0: resize straight to the crop size
  int crop_height = 224, crop_width = 224;
  std::array<float, 3> mean{123.675f, 116.28f, 103.53f};
  std::array<float, 3> std{58.395f, 57.12f, 57.375f};
  Layout layout = Layout::kNchw;
  DataType dtype = DataType::kFp32;  // FP32, or UINT8 (mean/std not applied)

  std::string describe() const;  // one line, for progress output and docs
};

// A preset by name (list above); an error naming the presets otherwise.
Result<ImagePreprocessing> preset(const std::string& name);

// The preprocessing for `input`: `preset_name` when given, else the config
// parameter polaris.preprocess (a preset name), else "imagenet"; then the
// parameters polaris.preprocess.{mean,std} ("a,b,c"), .color (rgb|bgr),
// .layout (nchw|nhwc), .resize (shorter side, 0 = none), .crop ("h,w" or
// "n"); then the input's static shape, which wins: [N,3,H,W] / [3,H,W] is
// NCHW at HxW, [N,H,W,3] NHWC. An input of unknown shape (TorchScript) keeps
// the preset's. Errors: an input that cannot be an image (rank, channels,
// dtype), or a malformed parameter.
Result<ImagePreprocessing> preprocessing_for(const TensorInfo& input,
                                             const std::map<std::string, std::string>& parameters,
                                             const std::string& preset_name = "");

// One decoded image (OpenCV's BGR, 8-bit, 3 channels) as a sample without
// the batch dim: [3,H,W] or [H,W,3].
Result<Tensor> preprocess_image(const cv::Mat& bgr, const ImagePreprocessing& p);

}  // namespace polaris::batch
