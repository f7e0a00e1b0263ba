// The OpenCV DNN backend: Polaris's OpenCL path for GPUs no other engine
// reaches (an AMD RX 580 has no ROCm; Intel iGPUs), and a plain CPU engine.
// ONNX files are imported with cv::dnn::readNetFromONNX and run on
// DNN_BACKEND_OPENCV with target CPU, OPENCL or OPENCL_FP16. Input/output
// names, dtypes and shapes come from the file itself (onnx_interface.h).
// A model OpenCV 4.6 cannot import is replaced by the converter's output
// beside it, <stem>.opencv.onnx, when there is one (onnx_import.h); the
// provider comes from the config's "polaris.provider" parameter or the
// server's --provider.
//
// OpenCL in OpenCV 4.6 has silent fallbacks; we apply the same rules before
// loading, so that metadata.provider says which target OpenCV really uses and
// extra_info["provider_fallback"] says why another was not:
// - OpenCV opens only GPU devices by default; OPENCV_OPENCL_DEVICE chooses
//   others (":" any device, GPUs first; ":CPU:" e.g. PoCL).
// - OpenCV DNN runs the OPENCL targets on the CPU for devices that are not
//   GPUs (it was tested with GPUs only) unless
//   OPENCV_DNN_OPENCL_ALLOW_ALL_DEVICES=1, and runs OPENCL_FP16 as FP32 on
//   non-Intel GPUs (unless that variable is set) or without cl_khr_fp16.
// OpenCV reads both variables once per process: set them before the module
// loads. Layers without an OpenCL kernel (e.g. Padding) run on the CPU inside
// an OpenCL net; opencv_backend_test counts the kernels PoCL really ran.
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>

#include <opencv2/core/ocl.hpp>
#include <opencv2/core/utility.hpp>
#include <opencv2/core/version.hpp>
#include <opencv2/dnn.hpp>

#include "backends/backend.h"
#include "backends/opencv/onnx_import.h"
#include "backends/opencv/onnx_interface.h"
#include "backends/opencv/opencv_model.h"
#include "core/process_memory.h"

namespace polaris::opencv {
namespace {

namespace fs = std::filesystem;

// The net holds its weights as cv::Mat (about the file size) plus blobs and
// fused copies; 2x the file is conservative for CNNs.
constexpr double kMemoryFactor = 2.0;
constexpr uint64_t kMemoryOverhead = 16ull << 20;

constexpr const char* kRunHints =
    ". OpenCV 4.6 imports some graphs it cannot run; scripts/polaris-opencv-convert (constant folding, opset-10 "
    "forms) may help, or serve the model with the onnxruntime backend";

std::string env_or_empty(const char* name) {
  const char* value = std::getenv(name);
  return value ? value : "";
}

// What OpenCL offers this process, probed once when the backend starts.
struct OpenClProbe {
  bool runtime = false;  // an OpenCL runtime with a platform
  bool device = false;   // OpenCV selected a device and made a context
  std::string name, vendor, type, version, error;
  bool gpu = false, intel = false, fp16 = false, allow_all = false;
  std::string opencl_unavailable, fp16_unavailable;  // empty: usable
};

OpenClProbe probe_opencl() {
  OpenClProbe p;
  // OpenCV's own parsing of boolean configuration variables.
  const std::string allow = env_or_empty("OPENCV_DNN_OPENCL_ALLOW_ALL_DEVICES");
  p.allow_all = allow == "1" || allow == "True" || allow == "true" || allow == "TRUE";
  try {
    p.runtime = cv::ocl::haveOpenCL();
    p.device = p.runtime && cv::ocl::useOpenCL();
    if (p.device) {
      const cv::ocl::Device& d = cv::ocl::Device::getDefault();
      p.device = d.available();
      p.name = d.name();
      p.vendor = d.vendorName();
      p.version = d.version();
      // OpenCV compares with TYPE_GPU exactly; so do we.
      p.gpu = d.type() == cv::ocl::Device::TYPE_GPU;
      p.type = p.gpu ? "GPU" : d.type() == cv::ocl::Device::TYPE_CPU ? "CPU" : "ACCELERATOR";
      p.intel = d.isIntel();
      p.fp16 = d.isExtensionSupported("cl_khr_fp16");
    }
  } catch (const cv::Exception& e) {
    p.runtime = p.device = false;
    p.error = cv_message(e);
  }
  const std::string dev = "OpenCL device '" + p.name + "'";
  if (!p.error.empty())
    p.opencl_unavailable = "OpenCL failed to start: " + p.error;
  else if (!p.runtime)
    p.opencl_unavailable = "no OpenCL runtime or platform found";
  else if (!p.device)
    p.opencl_unavailable = "OpenCV selected no OpenCL device (it opens GPUs only unless OPENCV_OPENCL_DEVICE "
                           "says otherwise, e.g. ':' for any device)";
  else if (!p.gpu && !p.allow_all)
    p.opencl_unavailable = dev + " is a " + p.type + " device, which OpenCV DNN would silently run on the CPU "
                           "(set OPENCV_DNN_OPENCL_ALLOW_ALL_DEVICES=1 to use it)";
  if (!p.opencl_unavailable.empty())
    p.fp16_unavailable = p.opencl_unavailable;
  else if (!p.fp16)
    p.fp16_unavailable = dev + " lacks cl_khr_fp16, so OpenCV would run FP32";
  else if (!p.intel && !p.allow_all)
    p.fp16_unavailable = "OpenCV DNN runs OpenCL FP16 on Intel GPUs only and would run FP32 on " + dev +
                         " (set OPENCV_DNN_OPENCL_ALLOW_ALL_DEVICES=1 to try)";
  return p;
}

int to_cv_target(const std::string& provider) {
  if (provider == "opencl") return cv::dnn::DNN_TARGET_OPENCL;
  if (provider == "opencl_fp16") return cv::dnn::DNN_TARGET_OPENCL_FP16;
  return cv::dnn::DNN_TARGET_CPU;
}

std::string join(const std::vector<std::string>& items, const char* sep) {
  std::string out;
  for (const auto& s : items) out += (out.empty() ? "" : sep) + s;
  return out;
}

class OpenCvBackend final : public Backend {
 public:
  explicit OpenCvBackend(const BackendConfig& config) {
    // OpenCV's thread pool is process-wide: every model shares it.
    const int cores = static_cast<int>(sysconf(_SC_NPROCESSORS_ONLN));
    cv::setNumThreads(config.threads.intra_op > 0 ? config.threads.intra_op : cores);
    opencl_ = probe_opencl();
  }

  std::string_view name() const override { return "opencv"; }
  std::string engine_version() const override { return CV_VERSION; }
  std::vector<std::string> available_providers() const override {
    std::vector<std::string> out;
    if (opencl_.opencl_unavailable.empty()) out.push_back("opencl");
    if (opencl_.fp16_unavailable.empty()) out.push_back("opencl_fp16");
    out.push_back("cpu");
    return out;
  }
  uint64_t predict_memory_bytes(uint64_t file_size) const override {
    return static_cast<uint64_t>(static_cast<double>(file_size) * kMemoryFactor) + kMemoryOverhead;
  }

  Result<std::unique_ptr<Model>> load(const std::string& path, const LoadOptions& options) override {
    std::error_code ec;
    const auto status = fs::status(path, ec);
    if (ec || !fs::exists(status)) return NotFound("model file '" + path + "' does not exist");
    if (!fs::is_regular_file(status)) return InvalidArgument("model path '" + path + "' is not a regular file");
    const uint64_t size = fs::file_size(path, ec);
    if (ec) return NotFound("cannot read model file '" + path + "': " + ec.message());
    if (size == 0) return InvalidArgument("model file '" + path + "' is empty");
    if (size > kMaxModelFileBytes)
      return InvalidArgument("model file '" + path + "' is " + std::to_string(size) +
                             " bytes; ONNX files over 2 GiB (external data) are not supported by OpenCV DNN");
    POLARIS_ASSIGN_OR_RETURN(OnnxInterface onnx, read_onnx_interface(path));
    release_free_memory();  // the parse's transient copy of the weights
    // OpenCV allocates lazily (blobs on the first forward), so the measured
    // memory is the RSS delta across import plus one warm-up forward. OpenCL
    // buffers on a discrete GPU are not in RSS.
    const uint64_t rss_before = process_rss_bytes();
    POLARIS_ASSIGN_OR_RETURN(Imported imported, import_model(path, std::move(onnx)));
    const std::string& file = imported.file;

    POLARIS_ASSIGN_OR_RETURN(ModelMetadata metadata, make_metadata(path, size, options, imported.onnx));
    if (file != path) {
      metadata.extra_info["opencv_model_file"] = file;
      metadata.extra_info["opencv_import"] = imported.note;
    }
    std::vector<std::string> failures;
    const auto plan = provider_plan(requested_providers(options), failures);
    for (std::size_t attempt = 0; attempt < plan.size(); ++attempt) {
      const std::string& provider = plan[attempt];
      cv::dnn::Net net;
      if (attempt == 0) {
        net = std::move(imported.net);
      } else {
        POLARIS_ASSIGN_OR_RETURN(net, import_onnx(file, file != path));  // a fresh net per target
      }
      try {
        net.setPreferableBackend(cv::dnn::DNN_BACKEND_OPENCV);
        net.setPreferableTarget(to_cv_target(provider));
        // OpenCV's only optimisation switch is layer fusion.
        net.enableFusion(options.optimization_level != OptimizationLevel::kDisable);
      } catch (const cv::Exception& e) {
        return Internal("OpenCV DNN cannot prepare '" + file + "': " + cv_message(e));
      }
      POLARIS_ASSIGN_OR_RETURN(auto outputs, engine_output_names(net, file, metadata));
      auto model = std::make_unique<OpenCvModel>(std::move(net), metadata, std::move(outputs),
                                                 imported.onnx.input_rank_known, imported.onnx.output_rank_known);
      const auto warmup = model->warmup_inputs();
      Status warm = Status::Ok();
      if (warmup.size() == metadata.inputs.size())
        warm = model->run(warmup, {}).status();
      else
        model->mutable_metadata().extra_info["warmup"] = "skipped: an input has no shape in the file";
      if (warm.ok()) {
        const uint64_t rss_after = process_rss_bytes();
        ModelMetadata& md = model->mutable_metadata();
        md.provider = provider;
        md.measured_memory_bytes = rss_after > rss_before ? rss_after - rss_before : 0;
        if (!failures.empty()) md.extra_info["provider_fallback"] = join(failures, "; ");
        return std::unique_ptr<Model>(std::move(model));
      }
      if (provider == "cpu")
        return InvalidArgument("OpenCV DNN " CV_VERSION " imported '" + file + "' but cannot run it: " +
                               warm.message() + kRunHints);
      failures.push_back(provider + ": " + warm.message());
    }
    return Internal("no OpenCV DNN target could run '" + file + "': " + join(failures, "; "));
  }

 private:
  struct Imported {
    cv::dnn::Net net;
    std::string file;  // what OpenCV imported: the model, or its converted sibling
    OnnxInterface onnx;
    std::string note;  // why the sibling was loaded
  };

  // The model's own file when OpenCV imports it; else the converter's output
  // beside it (onnx_import.h), unless that is older than the model (a stale
  // conversion would silently serve the previous model).
  static Result<Imported> import_model(const std::string& path, OnnxInterface onnx) {
    const auto producer = onnx.info.find("producer");
    const bool converted = producer != onnx.info.end() && producer->second == kConverterProducer;
    auto own = import_onnx(path, converted);
    if (own.ok()) return Imported{std::move(own).value(), path, std::move(onnx), ""};
    const std::string sibling = converted_sibling(path);
    std::error_code ec;
    if (converted || sibling.empty() || !fs::is_regular_file(sibling, ec)) return own.status();
    if (fs::last_write_time(sibling, ec) < fs::last_write_time(path, ec))
      return InvalidArgument(own.status().message() + ". '" + sibling +
                             "' is beside it but older than the model: convert the model again");
    POLARIS_ASSIGN_OR_RETURN(OnnxInterface converted_onnx, read_onnx_interface(sibling));
    auto theirs = import_onnx(sibling, true);
    if (!theirs.ok())
      return InvalidArgument(own.status().message() + ". Its converted file did not import either: " +
                             theirs.status().message());
    // "... cannot import '<path>': node 'X' (op Y) failed (...)" -> "node 'X' (op Y)"
    std::string why = own.status().message();
    const auto start = why.find("': ");
    const auto end = why.find(" failed (", start);
    why = start != std::string::npos && end != std::string::npos ? why.substr(start + 3, end - start - 3) : "";
    return Imported{std::move(theirs).value(), sibling, std::move(converted_onnx),
                    "OpenCV " CV_VERSION " cannot import the model itself" + (why.empty() ? "" : " (" + why + ")") +
                        "; loaded its " + kConverterProducer + " output"};
  }

  Result<ModelMetadata> make_metadata(const std::string& path, uint64_t size, const LoadOptions& options,
                                      const OnnxInterface& onnx) const {
    ModelMetadata md = base_metadata(path, "onnx", size, predict_memory_bytes(size), options);
    md.inputs = onnx.inputs;
    md.outputs = onnx.outputs;
    md.extra_info = onnx.info;
    md.extra_info["opencv_version"] = CV_VERSION;
    const bool fusion = options.optimization_level != OptimizationLevel::kDisable;
    md.extra_info["optimization"] =
        std::string(to_string(options.optimization_level)) + (fusion ? " (OpenCV layer fusion on)" : " (fusion off)");
    for (const auto& in : md.inputs)
      if (in.dtype != DataType::kFp32 && in.dtype != DataType::kFp16)
        return InvalidArgument("'" + path + "': input '" + in.name + "' is " + std::string(to_string(in.dtype)) +
                               "; the OpenCV backend takes FP32 or FP16 inputs only (use the onnxruntime backend)");
    std::vector<std::string> as_fp32;
    for (auto& out : md.outputs)
      if (!is_returnable_output_dtype(out.dtype)) {
        as_fp32.push_back(out.name + " (" + std::string(to_string(out.dtype)) + ")");
        out.dtype = DataType::kFp32;  // OpenCV computes in float; that is what run() returns
      }
    if (!as_fp32.empty()) md.extra_info["outputs_as_fp32"] = join(as_fp32, ", ");
    // Where OpenCL would run, whichever target is chosen.
    md.extra_info["opencl_allow_all_devices"] =
        std::getenv("OPENCV_DNN_OPENCL_ALLOW_ALL_DEVICES") ? env_or_empty("OPENCV_DNN_OPENCL_ALLOW_ALL_DEVICES")
                                                           : "unset";
    if (const std::string dev = env_or_empty("OPENCV_OPENCL_DEVICE"); !dev.empty())
      md.extra_info["opencl_device_selector"] = dev;
    if (opencl_.device) {
      md.extra_info["opencl_device"] = opencl_.name;
      md.extra_info["opencl_vendor"] = opencl_.vendor;
      md.extra_info["opencl_device_type"] = opencl_.type;
      md.extra_info["opencl_version"] = opencl_.version;
    }
    return md;
  }

  // Requested providers (default: opencl, then cpu) that can run here; the
  // CPU is always the last resort. Skipped ones go to `failures`.
  std::vector<std::string> provider_plan(const std::vector<std::string>& requested,
                                         std::vector<std::string>& failures) const {
    std::vector<std::string> names = requested;
    if (names.empty()) names = {"opencl", "cpu"};
    std::vector<std::string> plan;
    for (const auto& raw : names) {
      std::string p = raw;
      for (auto& c : p) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
      std::string why;
      if (p == "opencl") why = opencl_.opencl_unavailable;
      else if (p == "opencl_fp16") why = opencl_.fp16_unavailable;
      else if (p != "cpu") why = "not an OpenCV DNN target (use opencl, opencl_fp16 or cpu)";
      if (!why.empty()) failures.push_back(raw + ": " + why);
      else if (std::find(plan.begin(), plan.end(), p) == plan.end()) plan.push_back(p);
    }
    if (std::find(plan.begin(), plan.end(), "cpu") == plan.end()) plan.push_back("cpu");
    return plan;
  }

  // OpenCV names a graph output's blob after the output (its layer); fall
  // back to the net's unconnected outputs, in order, when counts agree.
  static Result<std::vector<std::string>> engine_output_names(const cv::dnn::Net& net, const std::string& path,
                                                              const ModelMetadata& md) {
    std::vector<std::string> names;
    const std::vector<cv::String> unconnected = net.getUnconnectedOutLayersNames();
    for (std::size_t i = 0; i < md.outputs.size(); ++i) {
      if (net.getLayerId(md.outputs[i].name) >= 0)
        names.push_back(md.outputs[i].name);
      else if (unconnected.size() == md.outputs.size())
        names.push_back(unconnected[i]);
      else
        return InvalidArgument("OpenCV DNN has no output named '" + md.outputs[i].name + "' in '" + path + "'");
    }
    return names;
  }

  OpenClProbe opencl_;
};

}  // namespace
}  // namespace polaris::opencv

extern "C" __attribute__((visibility("default"))) polaris::Backend* polaris_create_backend(
    int abi_version, const polaris::BackendConfig* config, std::string* error) {
  return polaris::create_backend_checked(abi_version, config, error, "OpenCV DNN",
                                         [](const polaris::BackendConfig& c) { return new polaris::opencv::OpenCvBackend(c); });
}
