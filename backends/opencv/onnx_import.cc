#include "backends/opencv/onnx_import.h"

#include <filesystem>
#include <regex>

#include <opencv2/core/version.hpp>

#include "backends/opencv/opencv_model.h"

namespace polaris::opencv {
namespace {

namespace fs = std::filesystem;

constexpr const char* kSuffix = ".opencv.onnx";

// OpenCV 4.6's importer wraps every node failure as
// "Node [<op>@<domain>]:(<node>) parse error: ...", where <node> is
// "onnx_node!<name>", or "onnx_node_output_<i>!<output>" for a node without
// a name.
std::string failing_node(const std::string& message) {
  static const std::regex node(R"(Node \[([^@\]]*)@[^\]]*\]:\(([^)]*)\))");
  std::smatch m;
  if (!std::regex_search(message, m, node)) return "";
  const std::string op = " (op " + m[1].str() + ")";
  const std::string id = m[2].str();
  const auto bang = id.find('!');
  if (id.rfind("onnx_node_output_", 0) == 0 && bang != std::string::npos)
    return "the unnamed node making '" + id.substr(bang + 1) + "'" + op;
  return "node '" + (id.rfind("onnx_node!", 0) == 0 ? id.substr(10) : id) + "'" + op;
}

}  // namespace

std::string converted_sibling(const std::string& path) {
  const fs::path p(path);
  const std::string file = p.filename().string();
  if (file.size() >= std::string(kSuffix).size() &&
      file.compare(file.size() - std::string(kSuffix).size(), std::string::npos, kSuffix) == 0)
    return "";
  return (p.parent_path() / (p.stem().string() + kSuffix)).string();
}

Result<cv::dnn::Net> import_onnx(const std::string& path, bool converted) {
  std::string detail;
  try {
    return cv::dnn::readNetFromONNX(path);
  } catch (const cv::Exception& e) {
    detail = cv_message(e);
  } catch (const std::exception& e) {
    return Internal("OpenCV DNN failed importing '" + path + "': " + e.what());
  }
  const std::string node = failing_node(detail);
  std::string message = "OpenCV DNN " CV_VERSION " cannot import '" + path + "'";
  if (!node.empty()) message += ": " + node + " failed";
  message += " (" + detail + ")";
  if (converted)
    return InvalidArgument(message + ". The file is already " + kConverterProducer +
                           " output: OpenCV " CV_VERSION " does not support this; serve the model with the "
                           "onnxruntime backend");
  std::string sibling = converted_sibling(path);
  if (sibling.empty()) sibling = "OUT.onnx";
  return InvalidArgument(message + ". Convert it with `scripts/polaris-opencv-convert " + path + " " + sibling +
                         "` (removes Identity nodes, folds constants, makes constant Clip bounds attributes); "
                         "the opencv backend then loads that file in its place. Or serve the model with the "
                         "onnxruntime backend");
}

}  // namespace polaris::opencv
