#include "batch/sample_loading.h"

#include <fmt/format.h>

#include <algorithm>
#include <filesystem>
#include <opencv2/imgcodecs.hpp>
#include <system_error>

#include "core/npy.h"

namespace polaris::batch {
namespace {

namespace fs = std::filesystem;

std::string lower_extension(const std::string& path) {
  std::string ext = fs::path(path).extension().string();
  std::transform(ext.begin(), ext.end(), ext.begin(), [](unsigned char c) { return std::tolower(c); });
  return ext;
}

Result<Tensor> load_image(const std::string& path, const ImagePreprocessing& preprocessing) {
  cv::Mat bgr;
  try {
    bgr = cv::imread(path, cv::IMREAD_COLOR);
  } catch (const cv::Exception& e) {  // e.g. over the pixel limit
    return InvalidArgument(fmt::format("{}: cannot decode the image ({})", path, e.what()));
  }
  if (bgr.empty())
    return InvalidArgument(path + ": not a decodable image (corrupt, or over the decoder's pixel limit)");
  auto sample = preprocess_image(bgr, preprocessing);
  if (!sample.ok()) return InvalidArgument(path + ": " + sample.status().message());
  return sample;
}

Result<Tensor> load_npy(const std::string& path) {
  auto t = read_npy(path);
  if (!t.ok()) return InvalidArgument(path + ": " + t.status().message());
  const auto& dims = t->shape().dims();
  if (dims.size() > 1 && dims[0] == 1) {  // a saved batch of one
    Tensor& whole = *t;
    return Tensor::copy_of(whole.dtype(), Shape(std::vector<int64_t>(dims.begin() + 1, dims.end())), whole.data(),
                           whole.byte_size());
  }
  return t;
}

}  // namespace

SampleKind sample_kind(const std::string& path) {
  const std::string ext = lower_extension(path);
  if (ext == ".npy") return SampleKind::kNpy;
  for (const char* image : {".jpg", ".jpeg", ".png", ".bmp", ".webp", ".tif", ".tiff"})
    if (ext == image) return SampleKind::kImage;
  return SampleKind::kOther;
}

Result<Tensor> load_sample(const std::string& path, const ImagePreprocessing& preprocessing) {
  std::error_code ec;
  const auto size = fs::file_size(path, ec);
  if (ec) return NotFound(fmt::format("{}: {}", path, ec.message()));
  if (size > kMaxSampleFileBytes)
    return InvalidArgument(fmt::format("{}: {} bytes, over the {} MiB a sample may have", path, size,
                                       kMaxSampleFileBytes >> 20));
  switch (sample_kind(path)) {
    case SampleKind::kImage: return load_image(path, preprocessing);
    case SampleKind::kNpy: return load_npy(path);
    case SampleKind::kOther: break;
  }
  return InvalidArgument(path + ": neither an image (.jpg .png .bmp .webp .tif) nor a .npy file");
}

}  // namespace polaris::batch
