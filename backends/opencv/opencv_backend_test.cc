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

std::size_t argmax(const std::vector<float>& v) {
  return static_cast<std::size_t>(std::max_element(v.begin(), v.end()) - v.begin());
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

// Runs the opset-10 EfficientNet-Lite0 export on the flower and china
// samples and checks the top-1 class against samples/expected_top5.json.
void check_efficientnet(const std::vector<std::string>& providers, const std::string& want_provider) {
  const auto dir = model_file("efficientnet_lite0/");
  const auto path = dir + "efficientnet_lite0_opset10.onnx";
  REQUIRE_FILE(path);
  REQUIRE_FILE(dir + "samples/flower.npy");
  auto model = load(path, providers);
  ASSERT_TRUE(model);
  const auto& md = model->metadata();
  EXPECT_EQ(md.provider, want_provider);
  EXPECT_EQ(md.inputs.at(0).shape, Shape({1, 3, 224, 224}));
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
    const std::size_t top = argmax(logits);
    EXPECT_EQ(top, expected[sample][0][0].get<std::size_t>()) << sample;
    EXPECT_EQ(labels.at(top), expected[sample][0][1].get<std::string>()) << sample;
    if (sample == "flower") {
      EXPECT_EQ(labels.at(top), "daisy");
    }
    EXPECT_LT(diff((*out)[0].tensor, npy(dir + "samples/" + sample + "_logits.npy")), 1e-3) << sample;  // ORT's
  }
}

TEST(OpenCvBackend, EfficientNetLite0Opset10FindsTheDaisyOnCpu) { check_efficientnet({"cpu"}, "cpu"); }

TEST(OpenCvBackend, EfficientNetLite0Opset10OnOpenCl) {
  check_efficientnet({"opencl"}, has_provider("opencl") ? "opencl" : "cpu");
}

// OpenCV 4.6 cannot import some common exports; either way the answer must
// be clear.
TEST(OpenCvBackend, Opset13ExportsLoadOrFailClearly) {
  for (const std::string relative : {"vision/mobilenetv2.onnx", "efficientnet_lite0/efficientnet_lite0.onnx"}) {
    const auto path = model_file(relative);
    if (!fs::exists(path)) continue;
    LoadOptions options;
    options.providers = {"cpu"};
    auto model = backend()->load(path, options);
    if (model.ok()) {
      const auto& input = (*model)->metadata().inputs.at(0);
      auto out = (*model)->run({{input.name, random_tensor({1, 3, 224, 224}, 6)}}, {});
      ASSERT_TRUE(out.ok()) << relative << ": " << out.status().to_string();
      EXPECT_EQ((*out)[0].tensor.shape(), Shape({1, 1000}));
      std::cout << relative << ": OpenCV imports it\n";
      continue;
    }
    const std::string& message = model.status().message();
    std::cout << relative << ": " << message << "\n";
    EXPECT_EQ(model.status().code(), StatusCode::kInvalidArgument);
    for (const char* part : {"OpenCV DNN", "cannot", path.c_str(), "constant folding", "opset-10", "onnxruntime"}) {
      EXPECT_NE(message.find(part), std::string::npos) << "'" << part << "' missing from: " << message;
    }
  }
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
