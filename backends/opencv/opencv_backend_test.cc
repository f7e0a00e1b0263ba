// Tests the OpenCV DNN module through BackendRegistry, as the server loads
// it, on models written by scripts/make-models (POLARIS_MODELS_DIR); a test
// whose model is missing skips. The test links no OpenCV.
#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <numeric>
#include <nlohmann/json.hpp>
#include <random>
#include <thread>

#include "backends/registry.h"
#include "core/npy.h"

namespace polaris {
namespace {

namespace fs = std::filesystem;

std::string model_file(const std::string& relative) { return std::string(POLARIS_MODELS_DIR) + "/" + relative; }

#define REQUIRE_FILE(path)                                                            \
  do {                                                                                \
    if (!fs::exists(path)) GTEST_FAIL() << (path) << " is missing: run scripts/make-models"; \
  } while (0)

// The module, loaded once per process. OpenCV reads its OpenCL settings once,
// so they are set before it loads: any OpenCL device (PoCL's CPU device too),
// which OpenCV DNN uses only with ALLOW_ALL_DEVICES. Values already in the
// environment win (the ctest variants set them).
Backend* backend() {
  static Backend* instance = [] {
    setenv("OPENCV_OPENCL_DEVICE", ":", 0);
    setenv("OPENCV_DNN_OPENCL_ALLOW_ALL_DEVICES", "1", 0);
    static BackendRegistry registry(BackendConfig{}, POLARIS_MODULE_DIR);
    auto loaded = registry.get("opencv");
    EXPECT_TRUE(loaded.ok()) << loaded.status().to_string();
    return loaded.ok() ? *loaded : nullptr;
  }();
  return instance;
}

bool has_provider(const std::string& name) {
  const auto providers = backend()->available_providers();
  return std::find(providers.begin(), providers.end(), name) != providers.end();
}

std::unique_ptr<Model> load(const std::string& path, std::vector<std::string> providers) {
  LoadOptions options;
  options.providers = std::move(providers);
  auto model = backend()->load(path, options);
  EXPECT_TRUE(model.ok()) << model.status().to_string();
  return model.ok() ? std::move(model).value() : nullptr;
}

// A .npy file under the models dir (core/npy.h).
Tensor npy(const std::string& path) {
  auto tensor = read_npy(path);
  EXPECT_TRUE(tensor.ok()) << tensor.status().to_string();
  return tensor.ok() ? std::move(tensor).value() : Tensor();
}

std::vector<float> floats(const Tensor& t) {
  auto v = t.values<float>();
  EXPECT_TRUE(v.ok()) << v.status().to_string();
  return v.ok() ? std::vector<float>(v->begin(), v->end()) : std::vector<float>{};
}

double diff(const Tensor& a, const Tensor& b) {
  auto d = max_abs_diff(a, b);
  EXPECT_TRUE(d.ok()) << d.status().to_string();
  return d.ok() ? *d : 1e9;
}

Tensor random_tensor(const Shape& shape, unsigned seed) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> dist(-2, 2);
  std::vector<float> v(static_cast<std::size_t>(shape.element_count().value()));
  for (auto& x : v) x = dist(rng);
  return Tensor::from_values(shape, v).value();
}

TEST(OpenCvBackend, StartsAndDescribesItself) {
  ASSERT_NE(backend(), nullptr);
  EXPECT_EQ(backend()->name(), "opencv");
  EXPECT_EQ(backend()->engine_version().rfind("4.", 0), 0u) << backend()->engine_version();
  EXPECT_EQ(backend()->available_providers().back(), "cpu");
  EXPECT_GT(backend()->predict_memory_bytes(100 << 20), 200ull << 20);
}

TEST(OpenCvBackend, AddOnCpuMatchesArithmetic) {
  const auto path = model_file("tiny/add.onnx");
  REQUIRE_FILE(path);
  ASSERT_NE(backend(), nullptr);
  auto model = load(path, {"cpu"});
  ASSERT_TRUE(model);
  const auto& md = model->metadata();
  EXPECT_EQ(md.provider, "cpu");
  EXPECT_EQ(md.framework, "onnx");
  ASSERT_EQ(md.inputs.size(), 2u);
  EXPECT_EQ(md.inputs[0].name, "a");
  EXPECT_EQ(md.inputs[1].dtype, DataType::kFp32);
  EXPECT_EQ(md.inputs[1].shape, Shape({-1, 16}));
  ASSERT_EQ(md.outputs.size(), 1u);
  EXPECT_EQ(md.outputs[0].name, "sum");
  EXPECT_EQ(md.outputs[0].shape, Shape({-1, 16}));
  EXPECT_EQ(md.extra_info.at("opset"), "17");
  EXPECT_GT(md.predicted_memory_bytes, 0u);
  for (int64_t batch : {2, 5, 1}) {  // any batch, re-planned by OpenCV
    const Tensor a = random_tensor({batch, 16}, 1), b = random_tensor({batch, 16}, 2);
    auto out = model->run({{"a", a}, {"b", b}}, {"sum"});
    ASSERT_TRUE(out.ok()) << out.status().to_string();
    ASSERT_EQ(out->size(), 1u);
    EXPECT_EQ((*out)[0].name, "sum");
    EXPECT_EQ((*out)[0].tensor.shape(), Shape({batch, 16}));
    const auto sum = floats((*out)[0].tensor), va = floats(a), vb = floats(b);
    ASSERT_EQ(sum.size(), va.size());
    for (std::size_t i = 0; i < sum.size(); ++i) EXPECT_FLOAT_EQ(sum[i], va[i] + vb[i]);
  }
}

TEST(OpenCvBackend, MatMulOnCpuMatchesVectors) {
  const auto path = model_file("tiny/matmul.onnx");
  REQUIRE_FILE(path);
  auto model = load(path, {"cpu"});
  ASSERT_TRUE(model);
  auto out = model->run({{"input", npy(model_file("tiny/vectors/matmul.input.npy"))}}, {});
  ASSERT_TRUE(out.ok()) << out.status().to_string();
  EXPECT_LT(diff((*out)[0].tensor, npy(model_file("tiny/vectors/matmul.output.npy"))), 1e-5);
}

TEST(OpenCvBackend, OutputsOutliveLaterRunsAndThreadsShareAModel) {
  const auto path = model_file("tiny/add.onnx");
  REQUIRE_FILE(path);
  auto model = load(path, {"cpu"});
  ASSERT_TRUE(model);
  const Tensor a = random_tensor({3, 16}, 3);
  auto first = model->run({{"a", a}, {"b", a}}, {});
  ASSERT_TRUE(first.ok());
  const auto kept = floats((*first)[0].tensor);
  std::vector<std::thread> threads;
  std::atomic<int> wrong{0};
  for (int t = 0; t < 4; ++t)
    threads.emplace_back([&, t] {
      const Tensor x = random_tensor({2, 16}, 10 + t);
      for (int i = 0; i < 20; ++i) {
        auto out = model->run({{"a", x}, {"b", x}}, {});
        if (!out.ok() || floats((*out)[0].tensor)[5] != 2 * floats(x)[5]) ++wrong;
      }
    });
  for (auto& t : threads) t.join();
  EXPECT_EQ(wrong, 0);
  EXPECT_EQ(floats((*first)[0].tensor), kept);  // borrowed output not overwritten
}

TEST(OpenCvBackend, RejectsBadInputs) {
  const auto path = model_file("tiny/add.onnx");
  REQUIRE_FILE(path);
  auto model = load(path, {"cpu"});
  ASSERT_TRUE(model);
  const Tensor good = random_tensor({2, 16}, 4);
  const Tensor ints = Tensor::from_values<int32_t>({2, 16}, std::vector<int32_t>(32, 1)).value();
  const std::vector<std::pair<NamedTensors, std::string>> cases = {
      {{{"a", ints}, {"b", ints}}, "FP32 or FP16"},
      {{{"a", good}, {"b", random_tensor({2, 15}, 5)}}, "expected shape"},
      {{{"a", good}}, "needs input 'b'"},
      {{{"a", good}, {"b", good}, {"c", good}}, "no input named 'c'"},
  };
  for (const auto& [inputs, message] : cases) {
    auto out = model->run(inputs, {});
    ASSERT_FALSE(out.ok()) << message;
    EXPECT_EQ(out.status().code(), StatusCode::kInvalidArgument);
    EXPECT_NE(out.status().message().find(message), std::string::npos) << out.status().message();
  }
  auto unknown = model->run({{"a", good}, {"b", good}}, {"nope"});
  EXPECT_EQ(unknown.status().code(), StatusCode::kInvalidArgument);
}

TEST(OpenCvBackend, RefusesModelsWithNonFloatInputs) {
  const auto path = model_file("tiny/dtype_int32.onnx");
  REQUIRE_FILE(path);
  auto model = backend()->load(path, {});
  ASSERT_FALSE(model.ok());
  EXPECT_EQ(model.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(model.status().message().find("FP32 or FP16 inputs only"), std::string::npos);
}

// Runs an EfficientNet-Lite0 file on the flower and china samples: the
// top-5 classes of samples/expected_top5.json (eager torch) and ORT's logits.
void check_efficientnet(const std::string& file, const std::vector<std::string>& providers,
                        const std::string& want_provider) {
  const auto dir = model_file("efficientnet_lite0/");
  const auto path = dir + file;
  REQUIRE_FILE(path);
  REQUIRE_FILE(dir + "samples/flower.npy");
  auto model = load(path, providers);
  ASSERT_TRUE(model);
  const auto& md = model->metadata();
  EXPECT_EQ(md.provider, want_provider);
  EXPECT_EQ(md.inputs.at(0).shape.dims().size(), 4u);
  EXPECT_EQ(md.inputs.at(0).shape[1], 3);
  EXPECT_GT(md.measured_memory_bytes, 0u);
  std::ifstream labels_file(dir + "labels.txt"), expected_file(dir + "samples/expected_top5.json");
  std::vector<std::string> labels;
  for (std::string line; std::getline(labels_file, line);) labels.push_back(line);
  const auto expected = nlohmann::json::parse(expected_file);
  for (const std::string sample : {"flower", "china"}) {
    auto out = model->run({{"input", npy(dir + "samples/" + sample + ".npy")}}, {});
    ASSERT_TRUE(out.ok()) << out.status().to_string();
    const auto logits = floats((*out)[0].tensor);
    ASSERT_EQ(logits.size(), 1000u);
    std::vector<std::size_t> order(logits.size());
    std::iota(order.begin(), order.end(), 0);
    std::partial_sort(order.begin(), order.begin() + 5, order.end(),
                      [&](std::size_t a, std::size_t b) { return logits[a] > logits[b]; });
    for (std::size_t k = 0; k < 5; ++k)
      EXPECT_EQ(order[k], expected[sample][k][0].get<std::size_t>()) << sample << " rank " << k;
    EXPECT_EQ(labels.at(order[0]), expected[sample][0][1].get<std::string>()) << sample;
    if (sample == "flower") {
      EXPECT_EQ(labels.at(order[0]), "daisy");
    }
    EXPECT_LT(diff((*out)[0].tensor, npy(dir + "samples/" + sample + "_logits.npy")), 1e-3) << sample;  // ORT's
  }
}

TEST(OpenCvBackend, EfficientNetLite0Opset10FindsTheDaisyOnCpu) {
  check_efficientnet("efficientnet_lite0_opset10.onnx", {"cpu"}, "cpu");
}

TEST(OpenCvBackend, EfficientNetLite0Opset10OnOpenCl) {
  check_efficientnet("efficientnet_lite0_opset10.onnx", {"opencl"}, has_provider("opencl") ? "opencl" : "cpu");
}

// The opset-13 export through its converted file (what the default model
// set serves), on both targets.
TEST(OpenCvBackend, EfficientNetLite0ConvertedOnCpu) {
  check_efficientnet("efficientnet_lite0.onnx", {"cpu"}, "cpu");
}

TEST(OpenCvBackend, EfficientNetLite0ConvertedOnOpenCl) {
  check_efficientnet("efficientnet_lite0.onnx", {"opencl"}, has_provider("opencl") ? "opencl" : "cpu");
}

// What one process ran on the OpenCL device, from PoCL's text trace
// (POCL_TRACING=text): a line per command and state, e.g.
// "... | ndrange_kernel | complete | KERNEL ID 28 | name=BASIC_k3x3_...".
struct KernelRuns {
  std::map<std::string, int> by_name;
  int total = 0;
  int host_maps = 0;  // buffers mapped to the host: layers OpenCV ran on the CPU
  int count(std::initializer_list<const char*> prefixes, int* kinds = nullptr) const {
    int n = 0;
    for (const auto& [name, runs] : by_name)
      for (const char* p : prefixes)
        if (name.rfind(p, 0) == 0) {
          n += runs;
          if (kinds) ++*kinds;
          break;
        }
    return n;
  }
};

KernelRuns read_pocl_trace(const std::string& path) {
  KernelRuns runs;
  std::ifstream trace(path);  // absent: OpenCL never started in that process
  for (std::string line; std::getline(trace, line);) {
    if (line.find("| complete |") == std::string::npos) continue;
    if (line.find("| map_buffer |") != std::string::npos) ++runs.host_maps;
    const auto name = line.find("name=");
    if (line.find("| ndrange_kernel |") == std::string::npos || name == std::string::npos) continue;
    ++runs.by_name[line.substr(name + 5)];
    ++runs.total;
  }
  return runs;
}

constexpr const char* kProofModel = "efficientnet_lite0/efficientnet_lite0.opencv.onnx";

// Run by OpenClForwardRunsItsKernelsOnTheDevice in a process of its own:
// loads EfficientNet-Lite0 on $POLARIS_PROOF_PROVIDER (the load runs one
// warm-up forward) and classifies the flower once.
TEST(OpenCvBackendChild, DISABLED_LoadAndClassifyOnce) {
  const char* provider = std::getenv("POLARIS_PROOF_PROVIDER");
  ASSERT_NE(provider, nullptr);
  auto model = load(model_file(kProofModel), {provider});
  ASSERT_TRUE(model);
  auto out = model->run({{"input", npy(model_file("efficientnet_lite0/samples/flower.npy"))}}, {});
  ASSERT_TRUE(out.ok()) << out.status().to_string();
  const auto logits = floats((*out)[0].tensor);
  EXPECT_EQ(std::max_element(logits.begin(), logits.end()) - logits.begin(), 985);  // daisy
  std::cout << "provider=" << model->metadata().provider << "\n";
}

// Runs the child test above in a fresh process with PoCL's tracer on, and
// returns what PoCL ran. A fresh process because PoCL reads POCL_TRACING
// once, at start, and writes the trace through a stdio buffer that is only
// complete at exit.
KernelRuns kernels_of_a_child(const std::string& provider) {
  const auto base = fs::path(testing::TempDir()) / ("opencl_proof_" + std::to_string(getpid()) + "_" + provider);
  const std::string trace = base.string() + ".trace", log = base.string() + ".log";
  fs::remove(trace);
  const std::string self = fs::read_symlink("/proc/self/exe").string();  // this test binary, not the shell's
  const std::string command = "POCL_TRACING=text POCL_TRACING_OPT='" + trace + "' POLARIS_PROOF_PROVIDER=" + provider +
                              " '" + self + "' --gtest_also_run_disabled_tests "
                              "--gtest_filter=OpenCvBackendChild.DISABLED_LoadAndClassifyOnce >'" + log + "' 2>&1";
  const int rc = std::system(command.c_str());
  std::ifstream log_file(log);
  const std::string output((std::istreambuf_iterator<char>(log_file)), {});
  EXPECT_EQ(rc, 0) << command << "\n" << output;
  KernelRuns runs = read_pocl_trace(trace);
  fs::remove(trace);
  fs::remove(log);
  return runs;
}

// Proof that "opencl" really ran the net on the OpenCL device. OpenCV DNN
// falls back to the CPU silently (untrusted devices, layers without an
// OpenCL kernel), so metadata.provider alone proves nothing. PoCL's trace
// lists every kernel the device completed: a process that loads
// EfficientNet-Lite0 on "opencl" and classifies one photo (two forwards)
// must show OpenCV's convolution (ocl4dnn "BASIC_..." and friends), pooling,
// eltwise-sum and fully-connected kernels; the same on "cpu", and wherever
// the backend reports a fallback (the .without_opencl and .opencl_gpus_only
// ctest runs), none. The counts come from the driver, not from OpenCV.
TEST(OpenCvBackend, OpenClForwardRunsItsKernelsOnTheDevice) {
  REQUIRE_FILE(model_file(kProofModel));
  ASSERT_NE(backend(), nullptr);
  const KernelRuns on_cpu = kernels_of_a_child("cpu");
  EXPECT_EQ(on_cpu.total, 0) << "the CPU target ran OpenCL kernels";
  const KernelRuns on_device = kernels_of_a_child("opencl");
  if (!has_provider("opencl")) {
    EXPECT_EQ(on_device.total, 0) << "the backend reported a CPU fallback, yet kernels ran";
    return;
  }
  int conv_kinds = 0;
  const int conv = on_device.count({"BASIC_", "IDLF_", "GEMM_LIKE_", "DWCONV_"}, &conv_kinds);
  const int pool = on_device.count({"ave_pool", "max_pool"});
  const int sum = on_device.count({"op_sum"});
  const int fc = on_device.count({"matvec_mul", "gemm"});
  std::cout << "load + one forward on OpenCL: " << on_device.total << " kernels (" << conv << " convolution in "
            << conv_kinds << " shapes, " << pool << " pooling, " << sum << " eltwise sum, " << fc
            << " fully connected), " << on_device.host_maps << " buffers mapped to the host\n";
  if (on_device.total == 0 && on_device.by_name.empty())
    std::cout << "(no PoCL trace: is this OpenCL device PoCL? Only PoCL writes one)\n";
  // EfficientNet-Lite0 has 49 Conv nodes in 32 shapes, 9 Adds, one pool and
  // one Gemm; two forwards ran.
  EXPECT_GE(conv_kinds, 20);
  EXPECT_GE(conv, 2 * 49);
  EXPECT_GE(sum, 2);
  EXPECT_GE(pool, 2);
  EXPECT_GE(fc, 2);
}

// Without the converter's output beside them, the opset-13 exports OpenCV
// 4.6 rejects fail with the node and op, and the command that converts them.
TEST(OpenCvBackend, UnconvertedExportsNameTheNodeAndTheConverter) {
  const fs::path dir = fs::path(testing::TempDir()) / ("opencv_unconverted_" + std::to_string(getpid()));
  fs::create_directories(dir);
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"vision/mobilenetv2.onnx", "node 'Identity_0' (op Identity)"},
      {"efficientnet_lite0/efficientnet_lite0.onnx", "(op Clip)"},
  };
  for (const auto& [relative, node] : cases) {
    REQUIRE_FILE(model_file(relative));
    const fs::path copy = dir / fs::path(relative).filename();
    fs::copy_file(model_file(relative), copy, fs::copy_options::overwrite_existing);
    auto model = backend()->load(copy.string(), {});
    ASSERT_FALSE(model.ok()) << relative << " imports in OpenCV now: update this test and docs/gpu.md";
    const std::string& message = model.status().message();
    std::cout << relative << ": " << message << "\n";
    EXPECT_EQ(model.status().code(), StatusCode::kInvalidArgument);
    const std::string sibling = (dir / (copy.stem().string() + ".opencv.onnx")).string();
    for (const std::string& part : {std::string("cannot import '") + copy.string(), node,
                                    "scripts/polaris-opencv-convert " + copy.string() + " " + sibling,
                                    std::string("onnxruntime backend")})
      EXPECT_NE(message.find(part), std::string::npos) << "'" << part << "' missing from: " << message;
  }
  fs::remove_all(dir);
}

// scripts/make-models writes <stem>.opencv.onnx beside the exports: loading
// the export loads that file, which computes what the export does.
TEST(OpenCvBackend, ConvertedFileBesideTheModelIsLoadedInItsPlace) {
  const auto path = model_file("vision/mobilenetv2.onnx");
  REQUIRE_FILE(path);
  REQUIRE_FILE(model_file("vision/mobilenetv2.opencv.onnx"));
  auto model = load(path, {"cpu"});
  ASSERT_TRUE(model);
  const auto& md = model->metadata();
  EXPECT_EQ(md.path, path);
  EXPECT_EQ(md.extra_info.at("opencv_model_file"), model_file("vision/mobilenetv2.opencv.onnx"));
  EXPECT_NE(md.extra_info.at("opencv_import").find("node 'Identity_0' (op Identity)"), std::string::npos)
      << md.extra_info.at("opencv_import");
  EXPECT_EQ(md.extra_info.at("producer"), "polaris-opencv-convert");
  EXPECT_EQ(md.inputs.at(0).shape, Shape({-1, 3, 224, 224}));  // still any batch
  const Tensor want = npy(model_file("vision/vectors/mobilenetv2.output.npy"));  // eager torch
  auto out = model->run({{"input", npy(model_file("vision/vectors/mobilenetv2.input.npy"))}}, {});
  ASSERT_TRUE(out.ok()) << out.status().to_string();
  const auto w = floats(want);
  const double scale = std::max(1.0f, std::abs(*std::max_element(w.begin(), w.end(), [](float a, float b) {
    return std::abs(a) < std::abs(b);
  })));
  EXPECT_LT(diff((*out)[0].tensor, want), 1e-3 * scale);
  auto batch = model->run({{"input", random_tensor({2, 3, 224, 224}, 9)}}, {});
  ASSERT_TRUE(batch.ok()) << batch.status().to_string();
  EXPECT_EQ((*batch)[0].tensor.shape(), Shape({2, 1000}));
}

// A converted file older than its model is refused: it would serve the
// previous model.
TEST(OpenCvBackend, StaleConvertedFileIsRefused) {
  REQUIRE_FILE(model_file("vision/mobilenetv2.opencv.onnx"));
  const fs::path dir = fs::path(testing::TempDir()) / ("opencv_stale_" + std::to_string(getpid()));
  fs::create_directories(dir);
  fs::copy_file(model_file("vision/mobilenetv2.opencv.onnx"), dir / "model.opencv.onnx");
  fs::copy_file(model_file("vision/mobilenetv2.onnx"), dir / "model.onnx");
  fs::last_write_time(dir / "model.opencv.onnx", fs::last_write_time(dir / "model.onnx") - std::chrono::hours(1));
  auto model = backend()->load((dir / "model.onnx").string(), {});
  ASSERT_FALSE(model.ok());
  EXPECT_NE(model.status().message().find("older than the model: convert the model again"), std::string::npos)
      << model.status().message();
  fs::remove_all(dir);
}

// Protobuf wire format, enough to write a tiny ONNX model by hand.
std::string varint(uint64_t v) {
  std::string out;
  for (; v >= 0x80; v >>= 7) out += static_cast<char>(v | 0x80);
  return out + static_cast<char>(v);
}
std::string field(int number, const std::string& bytes) {
  return varint(number << 3 | 2) + varint(bytes.size()) + bytes;
}
std::string field(int number, uint64_t value) { return varint(number << 3) + varint(value); }
std::string value_info(const std::string& name, const std::string& first_dim) {
  const std::string dim0 = first_dim.empty() ? field(1, uint64_t{4}) : field(2, first_dim);  // dim_value / dim_param
  const std::string shape = field(1, dim0) + field(1, field(1, uint64_t{4}));
  return field(1, name) + field(2, field(1, field(1, uint64_t{1}) + field(2, shape)));  // FLOAT tensor
}

// IR 3 lists initializers among the graph inputs: they are weights, not
// model inputs. y = x + w, x: [batch, 4], w = [1, 2, 3, 4].
TEST(OpenCvBackend, OldIrInitializersAreNotInputs) {
  const float w[4] = {1, 2, 3, 4};
  const std::string weight = field(1, uint64_t{4}) + field(2, uint64_t{1}) + field(8, "w") +
                             field(9, std::string(reinterpret_cast<const char*>(w), sizeof w));
  const std::string graph = field(1, field(1, "x") + field(1, "w") + field(2, "y") + field(4, "Add")) +
                            field(2, "old_ir") + field(5, weight) + field(11, value_info("x", "batch")) +
                            field(11, value_info("w", "")) + field(12, value_info("y", "batch"));
  const std::string model =
      field(1, uint64_t{3}) + field(2, "hand") + field(7, graph) + field(8, field(2, uint64_t{9}));  // opset 9
  const auto path = fs::path(testing::TempDir()) / ("old_ir_" + std::to_string(getpid()) + ".onnx");
  std::ofstream(path, std::ios::binary) << model;
  auto loaded = load(path.string(), {"cpu"});
  fs::remove(path);
  ASSERT_TRUE(loaded);
  const auto& md = loaded->metadata();
  ASSERT_EQ(md.inputs.size(), 1u);
  EXPECT_EQ(md.inputs[0].name, "x");
  EXPECT_EQ(md.inputs[0].shape, Shape({-1, 4}));
  EXPECT_EQ(md.inputs[0].dim_names, (std::vector<std::string>{"batch", ""}));
  EXPECT_EQ(md.extra_info.at("ir_version"), "3");
  auto out = loaded->run({{"x", Tensor::from_values<float>({2, 4}, {0, 0, 0, 0, 10, 20, 30, 40}).value()}}, {});
  ASSERT_TRUE(out.ok()) << out.status().to_string();
  EXPECT_EQ(floats((*out)[0].tensor), (std::vector<float>{1, 2, 3, 4, 11, 22, 33, 44}));
}

// A converter's output OpenCV still cannot import: the error names the
// node and sends the user to ONNX Runtime, not to the converter again.
TEST(OpenCvBackend, ConvertedModelOpenCvCannotImportPointsToOnnxRuntime) {
  const std::string graph = field(1, field(1, "x") + field(2, "y") + field(3, "pick") + field(4, "Hardmax")) +
                            field(2, "g") + field(11, value_info("x", "batch")) + field(12, value_info("y", "batch"));
  const std::string model =
      field(1, uint64_t{7}) + field(2, "polaris-opencv-convert") + field(7, graph) + field(8, field(2, uint64_t{13}));
  const auto path = fs::path(testing::TempDir()) / ("hardmax_" + std::to_string(getpid()) + ".onnx");
  std::ofstream(path, std::ios::binary) << model;
  auto loaded = backend()->load(path.string(), {});
  fs::remove(path);
  ASSERT_FALSE(loaded.ok()) << "OpenCV imports Hardmax now: pick an op it lacks";
  const std::string& message = loaded.status().message();
  EXPECT_EQ(loaded.status().code(), StatusCode::kInvalidArgument);
  for (const char* part : {"node 'pick' (op Hardmax)", "already polaris-opencv-convert output", "onnxruntime backend"})
    EXPECT_NE(message.find(part), std::string::npos) << "'" << part << "' missing from: " << message;
  EXPECT_EQ(message.find("scripts/polaris-opencv-convert"), std::string::npos) << message;
}

TEST(OpenCvBackend, Fp16InputsAndOutputs) {
  const auto path = model_file("tiny/dtype_fp16.onnx");  // FP16 identity
  REQUIRE_FILE(path);
  auto model = load(path, {"cpu"});
  ASSERT_TRUE(model);
  const std::vector<uint16_t> bits = {0x3c00, 0x4000, 0xc000, 0x3800, 0x0000, 0x7bff, 0x3555, 0x8001};  // 1 2 -2 .5 ...
  auto out = model->run({{"input", Tensor::copy_of(DataType::kFp16, {2, 4}, bits.data(), 16).value()}}, {});
  ASSERT_TRUE(out.ok()) << out.status().to_string();
  ASSERT_EQ((*out)[0].tensor.dtype(), DataType::kFp16);
  const auto* got = static_cast<const uint16_t*>((*out)[0].tensor.data());
  EXPECT_EQ(std::vector<uint16_t>(got, got + 8), bits);
}

TEST(OpenCvBackend, BadFilesGiveErrors) {
  const fs::path dir = fs::path(testing::TempDir()) / ("opencv_bad_" + std::to_string(getpid()));
  fs::create_directories(dir);
  auto write = [&](const std::string& name, const std::string& bytes) {
    std::ofstream(dir / name, std::ios::binary) << bytes;
    return (dir / name).string();
  };
  std::string model_bytes;
  if (std::ifstream file(model_file("tiny/matmul.onnx"), std::ios::binary); file)
    model_bytes.assign(std::istreambuf_iterator<char>(file), {});
  std::mt19937 rng(7);
  std::string noise(4096, '\0');
  for (auto& c : noise) c = static_cast<char>(rng());
  const std::vector<std::pair<std::string, StatusCode>> cases = {
      {(dir / "missing.onnx").string(), StatusCode::kNotFound},
      {dir.string(), StatusCode::kInvalidArgument},
      {write("empty.onnx", ""), StatusCode::kInvalidArgument},
      {write("random.onnx", noise), StatusCode::kInvalidArgument},
      {write("text.onnx", "this is not a model\n"), StatusCode::kInvalidArgument},
      {write("truncated.onnx", model_bytes.substr(0, model_bytes.size() / 2)), StatusCode::kInvalidArgument},
  };
  for (const auto& [path, code] : cases) {
    auto model = backend()->load(path, {});
    ASSERT_FALSE(model.ok()) << path;
    EXPECT_EQ(model.status().code(), code) << model.status().to_string();
    EXPECT_NE(model.status().message().find(path), std::string::npos) << model.status().message();
  }
  fs::remove_all(dir);
}

// With a usable OpenCL device (PoCL here) "opencl" runs there and agrees with
// the CPU; without one (the .without_opencl ctest) it falls back to the CPU
// with the reason recorded.
TEST(OpenCvBackend, RequestedOpenClRunsThereOrFallsBack) {
  for (const std::string relative : {"tiny/add.onnx", "tiny/matmul.onnx"}) {
    const auto path = model_file(relative);
    REQUIRE_FILE(path);
    auto cpu = load(path, {"cpu"});
    auto ocl = load(path, {"opencl"});
    ASSERT_TRUE(cpu && ocl);
    const auto& md = ocl->metadata();
    if (has_provider("opencl")) {
      EXPECT_EQ(md.provider, "opencl");
      EXPECT_EQ(md.extra_info.count("provider_fallback"), 0u);
      std::cout << relative << " on OpenCL device '" << md.extra_info.at("opencl_device") << "' ("
                << md.extra_info.at("opencl_device_type") << ", " << md.extra_info.at("opencl_vendor") << ")\n";
    } else {
      EXPECT_EQ(md.provider, "cpu");
      ASSERT_EQ(md.extra_info.count("provider_fallback"), 1u);
      EXPECT_EQ(md.extra_info.at("provider_fallback").rfind("opencl: ", 0), 0u);
      std::cout << relative << " fell back: " << md.extra_info.at("provider_fallback") << "\n";
    }
    EXPECT_EQ(md.extra_info.count("opencl_allow_all_devices"), 1u);
    NamedTensors inputs;
    for (const auto& in : md.inputs) inputs.push_back({in.name, random_tensor({4, in.shape[1]}, 8)});
    auto a = cpu->run(inputs, {}), b = ocl->run(inputs, {});
    ASSERT_TRUE(a.ok() && b.ok()) << a.status().to_string() << b.status().to_string();
    EXPECT_LT(diff((*a)[0].tensor, (*b)[0].tensor), 1e-3);
  }
}

TEST(OpenCvBackend, OpenClFp16RunsThereOrFallsBackWithTheReason) {
  const auto path = model_file("tiny/matmul.onnx");
  REQUIRE_FILE(path);
  auto model = load(path, {"opencl_fp16"});
  ASSERT_TRUE(model);
  const auto& md = model->metadata();
  if (has_provider("opencl_fp16")) {
    EXPECT_EQ(md.provider, "opencl_fp16");
  } else {
    EXPECT_EQ(md.provider, "cpu");
    EXPECT_EQ(md.extra_info.at("provider_fallback").rfind("opencl_fp16: ", 0), 0u);
    std::cout << "opencl_fp16 fell back: " << md.extra_info.at("provider_fallback") << "\n";
  }
  auto out = model->run({{"input", npy(model_file("tiny/vectors/matmul.input.npy"))}}, {});
  ASSERT_TRUE(out.ok()) << out.status().to_string();
  const double tolerance = md.provider == "opencl_fp16" ? 2e-2 : 1e-5;
  EXPECT_LT(diff((*out)[0].tensor, npy(model_file("tiny/vectors/matmul.output.npy"))), tolerance);
}

}  // namespace
}  // namespace polaris
