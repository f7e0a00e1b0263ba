// One file of a folder as one model input sample (without the batch dim):
// an image decoded with OpenCV and preprocessed, or a .npy array.
// Thread-safety: pure functions (OpenCV's decoders are reentrant).
#pragma once

#include <string>

#include "batch/image_preprocessing.h"
#include "core/status.h"
#include "core/tensor.h"

namespace polaris::batch {

// Files larger than this are refused before they are read.
inline constexpr std::uintmax_t kMaxSampleFileBytes = 256ull << 20;
// Decoded images over OpenCV's pixel limit are refused by OpenCV before it
// allocates them. The limit is OPENCV_IO_MAX_IMAGE_PIXELS, which OpenCV reads
// once, when its library loads (default 2^30 pixels); the Python package and
// `polaris predict --input-dir` set it to this unless the user did.
inline constexpr std::uint64_t kMaxImagePixels = 100'000'000;

enum class SampleKind { kImage, kNpy, kOther };
// By extension, case-insensitive: .jpg .jpeg .png .bmp .webp .tif .tiff, .npy.
SampleKind sample_kind(const std::string& path);

// `path` as a sample for an input of `preprocessing`: images preprocessed;
// .npy files as stored, less a leading batch dim of 1. Errors name the file
// (missing, too large, undecodable, not an image).
Result<Tensor> load_sample(const std::string& path, const ImagePreprocessing& preprocessing);

}  // namespace polaris::batch
