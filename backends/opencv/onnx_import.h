// Importing an ONNX file into a cv::dnn::Net, with errors that say which
// node OpenCV failed on and what to do about it.
//
// OpenCV DNN 4.6 rejects common exports (Identity nodes, opset-13 Clip with
// its bounds as inputs, shape arithmetic on constants). The project's
// converter, scripts/polaris-opencv-convert, rewrites them into forms OpenCV
// reads and by convention writes <dir>/<stem>.opencv.onnx beside the model;
// the backend loads that file when the model itself does not import.
// Thread-safety: pure functions (OpenCV's importer is reentrant).
#pragma once

#include <string>

#include <opencv2/dnn.hpp>

#include "core/status.h"

namespace polaris::opencv {

// The producer_name the converter writes into its output.
inline constexpr const char* kConverterProducer = "polaris-opencv-convert";

// <dir>/<stem>.opencv.onnx for <dir>/<stem>.onnx (any extension); empty when
// `path` already is such a file.
std::string converted_sibling(const std::string& path);

// cv::dnn::readNetFromONNX. On failure, InvalidArgument naming the file, the
// node and op OpenCV failed on, and the way out: the converter command for a
// file that is not the converter's output (`converted` false), the
// onnxruntime backend for one that is.
Result<cv::dnn::Net> import_onnx(const std::string& path, bool converted);

}  // namespace polaris::opencv
