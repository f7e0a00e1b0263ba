// The ONNX Runtime backend through the module registry, as the server uses
// it: real ORT, real generated models, outputs checked against vectors the
// generator computed with numpy.
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <random>
#include <thread>

#include "backends/registry.h"
#include "core/process_memory.h"
#include "tests/support/manifest.h"  // models_dir()
#include "core/npy.h"

namespace polaris {
namespace {

namespace fs = std::filesystem;
using testing::models_dir;

class OrtBackendTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    BackendConfig config;
    config.threads.intra_op = 1;
    registry_ = new BackendRegistry(config, POLARIS_MODULE_DIR);
  }
  static void TearDownTestSuite() {
    delete registry_;
    registry_ = nullptr;
  }
  void SetUp() override {
    ASSERT_TRUE(fs::exists(models_dir() + "/manifest.json")) << "no generated models: run scripts/make-models";
  }

  static Result<std::unique_ptr<Model>> load(const std::string& rel, LoadOptions options = {}) {
    return registry_->load(models_dir() + "/" + rel, options);
  }
  static std::string scratch(const std::string& name) {
    const fs::path dir = fs::temp_directory_path() / ("polaris-ort-test-" + std::to_string(getpid()));
    fs::create_directories(dir);
    return (dir / name).string();
  }

  static BackendRegistry* registry_;
};
BackendRegistry* OrtBackendTest::registry_ = nullptr;

TEST_F(OrtBackendTest, MetadataReportsNamesTypesAndDynamicDims) {
  auto model = load("tiny/dynamic_batch.onnx");
  ASSERT_TRUE(model.ok()) << model.status().to_string();
  const ModelMetadata& m = (*model)->metadata();
  EXPECT_EQ(m.framework, "onnx");
  EXPECT_EQ(m.provider, "CPUExecutionProvider");
  ASSERT_EQ(m.inputs.size(), 1u);
  EXPECT_EQ(m.inputs[0].shape[0], -1);
  ASSERT_FALSE(m.inputs[0].dim_names.empty());
  EXPECT_EQ(m.inputs[0].dim_names[0], "batch");
  EXPECT_GT(m.file_size_bytes, 0u);
  EXPECT_GT(m.predicted_memory_bytes, m.file_size_bytes);
  EXPECT_EQ(m.extra_info.at("ort_version").rfind("1.", 0), 0u);
}

TEST_F(OrtBackendTest, RunsAnyBatchAndRequestedOutputSubset) {
  auto model = load("tiny/add.onnx");
  ASSERT_TRUE(model.ok()) << model.status().to_string();
  const auto& m = (*model)->metadata();
  ASSERT_EQ(m.inputs.size(), 2u);
  const int64_t width = m.inputs[0].shape[1];
  for (int64_t batch : {1, 3, 8}) {
    std::vector<float> a(batch * width), b(batch * width);
    for (std::size_t i = 0; i < a.size(); ++i) a[i] = float(i), b[i] = 0.5f * float(i);
    NamedTensors in{{m.inputs[0].name, Tensor::from_values(Shape{batch, width}, a).value()},
                    {m.inputs[1].name, Tensor::from_values(Shape{batch, width}, b).value()}};
    auto out = (*model)->run(in, {m.outputs[0].name});
    ASSERT_TRUE(out.ok()) << out.status().to_string();
    ASSERT_EQ(out->size(), 1u);
    auto values = (*out)[0].tensor.values<float>();
    ASSERT_TRUE(values.ok());
    ASSERT_EQ(values->size(), a.size());
    for (std::size_t i = 0; i < a.size(); ++i) EXPECT_FLOAT_EQ((*values)[i], 1.5f * float(i));
  }
}

TEST_F(OrtBackendTest, BadInputsGetClearErrors) {
  auto model = load("tiny/add.onnx");
  ASSERT_TRUE(model.ok());
  const auto& m = (*model)->metadata();
  const int64_t width = m.inputs[0].shape[1];
  auto a = Tensor::from_values(Shape{1, width}, std::vector<float>(width, 1.f)).value();
  auto ints = Tensor::from_values(Shape{1, width}, std::vector<int32_t>(width, 1)).value();
  auto wrong = Tensor::from_values(Shape{1, width + 1}, std::vector<float>(width + 1, 1.f)).value();

  auto missing = (*model)->run({{m.inputs[0].name, a}}, {});
  EXPECT_EQ(missing.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(missing.status().message().find(m.inputs[1].name), std::string::npos);

  auto dtype = (*model)->run({{m.inputs[0].name, a}, {m.inputs[1].name, ints}}, {});
  EXPECT_EQ(dtype.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(dtype.status().message().find("FP32"), std::string::npos);

  auto shape = (*model)->run({{m.inputs[0].name, a}, {m.inputs[1].name, wrong}}, {});
  EXPECT_EQ(shape.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(shape.status().message().find("expected shape"), std::string::npos);

  auto unknown = (*model)->run({{m.inputs[0].name, a}, {m.inputs[1].name, a}, {"nope", a}}, {});
  EXPECT_NE(unknown.status().message().find("no input named 'nope'"), std::string::npos);

  auto output = (*model)->run({{m.inputs[0].name, a}, {m.inputs[1].name, a}}, {"nope"});
  EXPECT_NE(output.status().message().find("no output named 'nope'"), std::string::npos);
}

TEST_F(OrtBackendTest, BadFilesGetClearErrors) {
  const std::string good = models_dir() + "/vision/mobilenetv2.onnx";
  std::ifstream in(good, std::ios::binary);
  std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  ASSERT_GT(bytes.size(), 1000u);
  auto write = [](const std::string& path, const std::string& data) {
    std::ofstream(path, std::ios::binary) << data;
    return path;
  };
  std::mt19937 rng(7);
  std::string noise(4096, '\0');
  for (auto& c : noise) c = static_cast<char>(rng());
  // Same length as "Identity", so the protobuf stays well-formed.
  std::ifstream id_in(models_dir() + "/tiny/identity.onnx", std::ios::binary);
  std::string identity((std::istreambuf_iterator<char>(id_in)), std::istreambuf_iterator<char>());
  const auto pos = identity.find("Identity");
  ASSERT_NE(pos, std::string::npos);
  identity.replace(pos, 8, "NoSuchOp");

  const std::vector<std::pair<std::string, std::string>> cases = {
      {write(scratch("empty.onnx"), ""), "empty"},
      {write(scratch("truncated.onnx"), bytes.substr(0, bytes.size() / 2)), "ONNX Runtime cannot load"},
      {write(scratch("noise.onnx"), noise), "ONNX Runtime cannot load"},
      {write(scratch("unsupported_op.onnx"), identity), "NoSuchOp"},
      {scratch("missing.onnx"), "does not exist"},
      {fs::temp_directory_path().string() + "/", "directory"},
  };
  for (const auto& [path, expected] : cases) {
    auto model = registry_->load(path, {}, path.back() == '/' ? "onnxruntime" : "");
    ASSERT_FALSE(model.ok()) << path;
    EXPECT_NE(model.status().message().find(expected), std::string::npos) << model.status().to_string();
  }
}

TEST_F(OrtBackendTest, MissingProviderFallsBackWithReason) {
  LoadOptions options;
  options.providers = {"cuda", "cpu"};
  auto model = load("tiny/identity.onnx", options);
  ASSERT_TRUE(model.ok()) << model.status().to_string();
  const auto& m = (*model)->metadata();
  if (m.provider == "CUDAExecutionProvider") GTEST_SKIP() << "this machine has CUDA";
  EXPECT_EQ(m.provider, "CPUExecutionProvider");
  ASSERT_TRUE(m.extra_info.count("provider_fallback"));
  EXPECT_NE(m.extra_info.at("provider_fallback").find("CUDAExecutionProvider"), std::string::npos);

  options.providers = {"no-such-provider"};
  auto unknown = load("tiny/identity.onnx", options);
  ASSERT_TRUE(unknown.ok());
  EXPECT_NE((*unknown)->metadata().extra_info.at("provider_fallback").find("unknown"), std::string::npos);

  // A device number is part of a GPU provider's name (instance groups ask for "cuda:N"):
  // it falls back for the provider's own reason, not as an unknown name.
  options.providers = {"cuda:1", "cpu"};
  options.parameters["polaris.gpu_memory_limit"] = "2GiB";
  auto second_gpu = load("tiny/identity.onnx", options);
  ASSERT_TRUE(second_gpu.ok()) << second_gpu.status().to_string();
  const std::string reason = (*second_gpu)->metadata().extra_info.at("provider_fallback");
  EXPECT_NE(reason.find("CUDAExecutionProvider"), std::string::npos) << reason;
  EXPECT_EQ(reason.find("unknown"), std::string::npos) << reason;
}

TEST_F(OrtBackendTest, MalformedProviderOptionsAreClearErrors) {
  LoadOptions options;
  options.providers = {"cuda", "cpu"};
  options.parameters["polaris.gpu_memory_limit"] = "lots";
  auto bad_size = load("tiny/identity.onnx", options);
  ASSERT_FALSE(bad_size.ok());
  EXPECT_NE(bad_size.status().message().find("polaris.gpu_memory_limit"), std::string::npos);
  options.parameters = {{"polaris.device_id", "-1"}};
  auto bad_device = load("tiny/identity.onnx", options);
  ASSERT_FALSE(bad_device.ok());
  EXPECT_NE(bad_device.status().message().find("polaris.device_id"), std::string::npos);
  options.parameters.clear();
  options.providers = {"cuda:x", "cpu"};
  auto bad_name = load("tiny/identity.onnx", options);
  ASSERT_FALSE(bad_name.ok());
  EXPECT_NE(bad_name.status().message().find("'cuda:x': device"), std::string::npos) << bad_name.status().message();
}

TEST_F(OrtBackendTest, TenSessionsShareOneThreadPool) {
  std::vector<std::unique_ptr<Model>> models;
  for (int i = 0; i < 10; ++i) {
    auto model = load("tiny/matmul.onnx");
    ASSERT_TRUE(model.ok()) << model.status().to_string();
    models.push_back(std::move(model).value());
  }
  const int cores = static_cast<int>(sysconf(_SC_NPROCESSORS_ONLN));
  // Global pools: intra-op (1 here) + inter-op, plus gtest's main thread.
  EXPECT_LE(process_thread_count(), cores + 4) << "per-session thread pools?";
}

TEST_F(OrtBackendTest, OptimizedModelCacheSkipsOptimizationOnSecondLoad) {
  const std::string cache = scratch("cache");
  fs::remove_all(cache);
  BackendConfig config;
  config.threads.intra_op = 1;
  config.cache_dir = cache;
  BackendRegistry registry(config, POLARIS_MODULE_DIR);
  const std::string path = models_dir() + "/vision/mobilenetv2.onnx";
  auto first = registry.load(path, {});
  ASSERT_TRUE(first.ok()) << first.status().to_string();
  EXPECT_EQ((*first)->metadata().extra_info.at("optimized_cache").rfind("miss", 0), 0u);
  // The entry is written in the background: wait for it to appear.
  auto entries = [&] {
    int n = 0;
    for (const auto& e : fs::directory_iterator(cache + "/ort-optimized"))
      n += e.path().extension() == ".onnx";
    return n;
  };
  for (int i = 0; i < 600 && entries() == 0; ++i) std::this_thread::sleep_for(std::chrono::milliseconds(100));
  ASSERT_EQ(entries(), 1) << "no optimized model written within 60 s";
  auto second = registry.load(path, {});
  ASSERT_TRUE(second.ok()) << second.status().to_string();
  EXPECT_EQ((*second)->metadata().extra_info.at("optimized_cache"), "hit");

  auto input = read_npy(models_dir() + "/vision/vectors/mobilenetv2.input.npy");
  ASSERT_TRUE(input.ok()) << input.status().to_string();
  const std::string name = (*first)->metadata().inputs[0].name;
  auto a = (*first)->run({{name, *input}}, {});
  auto b = (*second)->run({{name, *input}}, {});
  ASSERT_TRUE(a.ok() && b.ok());
  auto diff = max_abs_diff((*a)[0].tensor, (*b)[0].tensor);
  ASSERT_TRUE(diff.ok());
  EXPECT_LE(*diff, 1e-4);
}

}  // namespace
}  // namespace polaris
