// The torch backend module, loaded through BackendRegistry as the server
// loads it (this test links no libtorch). Models come from
// testdata/make_torch_test_models.py; expected values are computed here.
#include <dlfcn.h>
#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <cmath>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <thread>

#include <gtest/gtest.h>

#include "backends/registry.h"
#include "core/process_memory.h"

namespace polaris {
namespace {

namespace fs = std::filesystem;

// Says which text lacked which part (gtest without gmock has no HasSubstr).
::testing::AssertionResult Contains(const std::string& text, const std::string& part) {
  if (text.find(part) != std::string::npos) return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure() << "'" << text << "' does not contain '" << part << "'";
}

const std::string kModels = POLARIS_TORCH_TEST_MODELS;

// Writes the test models once; ctest runs each test in its own process,
// possibly in parallel, so a file lock makes one writer and the rest wait.
void ensure_models() {
  const int fd = ::open((kModels + ".lock").c_str(), O_CREAT | O_RDWR, 0644);
  ASSERT_GE(fd, 0);
  ::flock(fd, LOCK_EX);
  std::error_code ec;
  const fs::path stamp = kModels + "/stamp";
  if (!fs::exists(stamp) || fs::last_write_time(stamp, ec) < fs::last_write_time(POLARIS_TORCH_TEST_SCRIPT, ec)) {
    const std::string command = std::string("'") + POLARIS_TEST_PYTHON + "' '" + POLARIS_TORCH_TEST_SCRIPT + "' '" +
                                kModels + "'";
    const int rc = std::system(command.c_str());
    EXPECT_EQ(rc, 0) << command << " failed: the venv with torch comes from scripts/bootstrap";
  }
  ::flock(fd, LOCK_UN);
  ::close(fd);
}

class TorchBackendTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() { registry_ = new BackendRegistry(BackendConfig{}, POLARIS_MODULE_DIR); }
  static void TearDownTestSuite() {
    delete registry_;
    registry_ = nullptr;
  }
  // In SetUp, not SetUpTestSuite: a failure there would only skip the tests.
  void SetUp() override {
    static const bool once = (ensure_models(), true);
    (void)once;
    ASSERT_TRUE(fs::exists(kModels + "/stamp")) << "test models were not written";
  }

  static std::string path(const std::string& file) { return kModels + "/" + file; }
  static Backend* backend() {
    auto b = registry_->get("torch");
    EXPECT_TRUE(b.ok()) << b.status().to_string();
    return b.ok() ? *b : nullptr;
  }
  static std::unique_ptr<Model> load(const std::string& file, LoadOptions options = {}) {
    auto model = registry_->load(path(file), options);
    EXPECT_TRUE(model.ok()) << model.status().to_string();
    return model.ok() ? std::move(model).value() : nullptr;
  }
  static Status load_error(const std::string& file, LoadOptions options = {}) {
    auto model = registry_->load(path(file), options);
    return model.ok() ? Status::Ok() : model.status();
  }

  static BackendRegistry* registry_;
};
BackendRegistry* TorchBackendTest::registry_ = nullptr;

Tensor f32(Shape shape, std::vector<float> values) { return *Tensor::from_values<float>(shape, values); }
template <typename T>
Tensor one(T value) { return *Tensor::copy_of(DataTypeOf<T>::value, Shape{1}, &value, sizeof(T)); }  // vector<bool> has no data()

std::vector<float> floats(const Tensor& t) {
  auto v = t.values<float>();
  EXPECT_TRUE(v.ok()) << v.status().to_string();
  return v.ok() ? std::vector<float>(v->begin(), v->end()) : std::vector<float>{};
}

std::vector<std::string> names(const NamedTensors& tensors) {
  std::vector<std::string> out;
  for (const auto& t : tensors) out.push_back(t.name);
  return out;
}

NamedTensors run_ok(Model& model, const NamedTensors& inputs, const std::vector<std::string>& requested = {}) {
  auto out = model.run(inputs, requested);
  EXPECT_TRUE(out.ok()) << out.status().to_string();
  return out.ok() ? std::move(out).value() : NamedTensors{};
}

TEST_F(TorchBackendTest, BackendFacts) {
  Backend* b = backend();
  ASSERT_NE(b, nullptr);
  EXPECT_EQ(b->name(), "torch");
  EXPECT_EQ(b->engine_version(), "2.15.0");
  ASSERT_FALSE(b->available_providers().empty());
  EXPECT_EQ(b->available_providers().back(), "cpu");
  EXPECT_GE(b->predict_memory_bytes(100 << 20), uint64_t{150} << 20);
}

TEST_F(TorchBackendTest, WrongAbiVersionIsRefused) {
  void* handle = dlopen((std::string(POLARIS_MODULE_DIR) + "/libpolaris_backend_torch.so").c_str(), RTLD_NOW | RTLD_LOCAL);
  ASSERT_NE(handle, nullptr) << dlerror();
  auto create = reinterpret_cast<PolarisCreateBackendFn>(dlsym(handle, kPolarisCreateBackendSymbol));
  ASSERT_NE(create, nullptr);
  BackendConfig config;
  std::string error;
  EXPECT_EQ(create(kBackendAbiVersion + 1, &config, &error), nullptr);
  EXPECT_TRUE(Contains(error, "ABI"));
}

TEST_F(TorchBackendTest, AddRunsAndMetadataIsLearnedFromTheFirstRun) {
  auto model = load("add.pt");
  ASSERT_NE(model, nullptr);
  const ModelMetadata& before = model->metadata();
  EXPECT_EQ(before.name, "add");
  EXPECT_EQ(before.framework, "torchscript");
  EXPECT_EQ(before.provider, "cpu");
  ASSERT_EQ(before.inputs.size(), 2u);
  EXPECT_EQ(before.inputs[0].name, "a");
  EXPECT_EQ(before.inputs[1].name, "b");
  EXPECT_EQ(before.inputs[0].dtype, DataType::kInvalid);
  ASSERT_EQ(before.outputs.size(), 1u);
  EXPECT_EQ(before.outputs[0].name, "output__0");
  EXPECT_TRUE(Contains(before.extra_info.at("schema"), "Tensor a, Tensor b"));
  EXPECT_EQ(before.extra_info.at("torch_version"), "2.15.0");

  auto out = run_ok(*model, {{"a", f32({1, 3}, {1, 2, 3})}, {"b", f32({1, 3}, {10, 20, 30})}});
  ASSERT_EQ(names(out), std::vector<std::string>{"output__0"});
  EXPECT_EQ(out[0].tensor.shape(), (Shape{1, 3}));
  EXPECT_EQ(floats(out[0].tensor), (std::vector<float>{11, 22, 33}));

  const ModelMetadata& after = model->metadata();
  EXPECT_EQ(after.inputs[0].dtype, DataType::kFp32);
  EXPECT_EQ(after.inputs[1].shape, (Shape{-1, 3}));  // dim 0 is the batch
  EXPECT_EQ(after.outputs[0].dtype, DataType::kFp32);
  EXPECT_EQ(after.outputs[0].shape, (Shape{-1, 3}));
  EXPECT_EQ(before.inputs[0].dtype, DataType::kInvalid);  // the old version stays valid
}

TEST_F(TorchBackendTest, TupleListAndDictOutputsAreNamedByConvention) {
  auto sum_diff = load("sum_diff.pt");
  ASSERT_NE(sum_diff, nullptr);
  EXPECT_EQ(sum_diff->metadata().outputs.size(), 2u);  // known from the schema's tuple type
  NamedTensors in = {{"a", f32({2}, {5, 7})}, {"b", f32({2}, {1, 2})}};
  auto out = run_ok(*sum_diff, in);
  ASSERT_EQ(names(out), (std::vector<std::string>{"output__0", "output__1"}));
  EXPECT_EQ(floats(out[0].tensor), (std::vector<float>{6, 9}));
  EXPECT_EQ(floats(out[1].tensor), (std::vector<float>{4, 5}));

  out = run_ok(*sum_diff, in, {"output__1"});
  ASSERT_EQ(names(out), std::vector<std::string>{"output__1"});
  EXPECT_EQ(floats(out[0].tensor), (std::vector<float>{4, 5}));
  auto bad = sum_diff->run(in, {"output__7"});
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.status().code(), StatusCode::kInvalidArgument);
  EXPECT_TRUE(Contains(bad.status().message(), "output__7"));

  auto pieces = load("pieces.pt");
  ASSERT_NE(pieces, nullptr);
  EXPECT_TRUE(pieces->metadata().outputs.empty());  // a list's length shows at run time
  out = run_ok(*pieces, {{"x", f32({2}, {1, 2})}});
  ASSERT_EQ(names(out), (std::vector<std::string>{"output__0", "output__1"}));
  EXPECT_EQ(floats(out[1].tensor), (std::vector<float>{3, 6}));
  EXPECT_EQ(pieces->metadata().outputs.size(), 2u);

  auto named = load("named.pt");
  ASSERT_NE(named, nullptr);
  out = run_ok(*named, {{"x", f32({2}, {1, 2})}});
  ASSERT_EQ(names(out), (std::vector<std::string>{"zeta", "alpha"}));  // insertion order
  EXPECT_EQ(floats(out[0].tensor), (std::vector<float>{2, 4}));
  EXPECT_EQ(floats(out[1].tensor), (std::vector<float>{2, 3}));
  out = run_ok(*named, {{"x", f32({2}, {1, 2})}}, {"alpha"});
  EXPECT_EQ(names(out), std::vector<std::string>{"alpha"});
  ASSERT_EQ(named->metadata().outputs.size(), 2u);
  EXPECT_EQ(named->metadata().outputs[1].name, "alpha");
}

TEST_F(TorchBackendTest, ScalarArgumentsTakeOneElementTensors) {
  auto model = load("scaled.pt");
  ASSERT_NE(model, nullptr);
  const auto& inputs = model->metadata().inputs;
  ASSERT_EQ(inputs.size(), 4u);
  EXPECT_EQ(inputs[1].name, "n");
  EXPECT_EQ(inputs[1].dtype, DataType::kInt64);
  EXPECT_EQ(inputs[1].shape, (Shape{1}));
  EXPECT_EQ(inputs[2].dtype, DataType::kFp64);
  EXPECT_EQ(inputs[3].dtype, DataType::kBool);

  auto out = run_ok(*model, {{"x", f32({2}, {1, 2})}, {"n", one<int64_t>(3)}});  // defaults for scale, negate
  EXPECT_EQ(floats(out[0].tensor), (std::vector<float>{3, 6}));
  out = run_ok(*model, {{"x", f32({2}, {1, 2})}, {"n", one<int32_t>(3)}, {"scale", one<double>(0.5)},
                        {"negate", one<bool>(true)}});
  EXPECT_EQ(floats(out[0].tensor), (std::vector<float>{-1.5f, -3}));

  auto bad = model->run({{"x", f32({2}, {1, 2})}, {"n", one<float>(3)}}, {});
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.status().code(), StatusCode::kInvalidArgument);
  EXPECT_TRUE(Contains(bad.status().message(), "'n'"));
  bad = model->run({{"x", f32({2}, {1, 2})}, {"n", *Tensor::from_values<int64_t>(Shape{2}, {1, 2})}}, {});
  ASSERT_FALSE(bad.ok());
  EXPECT_TRUE(Contains(bad.status().message(), "exactly one element"));
}

TEST_F(TorchBackendTest, InputErrorsNameTheTensor) {
  auto model = load("add.pt");
  ASSERT_NE(model, nullptr);
  auto a = f32({3}, {1, 2, 3});
  auto expect_invalid = [&](const NamedTensors& inputs, const std::string& text) {
    auto out = model->run(inputs, {});
    ASSERT_FALSE(out.ok()) << text;
    EXPECT_EQ(out.status().code(), StatusCode::kInvalidArgument) << out.status().to_string();
    EXPECT_TRUE(Contains(out.status().message(), text));
  };
  expect_invalid({{"a", a}}, "missing input 'b'");
  expect_invalid({{"a", a}, {"b", a}, {"c", a}}, "unknown input 'c'");
  expect_invalid({{"a", a}, {"b", *Tensor::from_strings(Shape{1}, {"x"})}}, "'b' is BYTES");
  expect_invalid({{"a", a}, {"b", f32({4}, {1, 2, 3, 4})}}, "size of tensor");  // the model's own error line
}

TEST_F(TorchBackendTest, SpecFromParametersIsEnforced) {
  LoadOptions options;
  options.parameters["inputs"] = R"([{"name":"a","datatype":"FP32","shape":[-1,3]},{"name":"b","datatype":"FP32"}])";
  auto model = load("add.pt", options);
  ASSERT_NE(model, nullptr);
  EXPECT_EQ(model->metadata().inputs[0].dtype, DataType::kFp32);
  EXPECT_EQ(model->metadata().inputs[0].shape, (Shape{-1, 3}));
  auto wrong_type = model->run({{"a", *Tensor::from_values<int32_t>(Shape{1, 3}, {1, 2, 3})}, {"b", f32({1, 3}, {1, 2, 3})}}, {});
  ASSERT_FALSE(wrong_type.ok());
  EXPECT_EQ(wrong_type.status().code(), StatusCode::kInvalidArgument);
  EXPECT_TRUE(Contains(wrong_type.status().message(), "'a' must be FP32"));
  auto wrong_shape = model->run({{"a", f32({1, 2}, {1, 2})}, {"b", f32({1, 2}, {1, 2})}}, {});
  ASSERT_FALSE(wrong_shape.ok());
  EXPECT_TRUE(Contains(wrong_shape.status().message(), "'a' has shape [1,2]"));

  options.parameters["inputs"] = R"([{"name":"q","datatype":"FP32"}])";
  EXPECT_TRUE(Contains(load_error("add.pt", options).message(), "declares input 'q'"));
  options.parameters["inputs"] = "[{";
  EXPECT_EQ(load_error("add.pt", options).code(), StatusCode::kInvalidArgument);
}

TEST_F(TorchBackendTest, SidecarSpecNamesOutputs) {
  for (const char* file : {"add_sidecar.torchscript", "add_dotjson.jit"}) {
    auto model = load(file);
    ASSERT_NE(model, nullptr);
    const auto& md = model->metadata();
    EXPECT_EQ(md.inputs[1].dtype, DataType::kFp32) << file;
    ASSERT_EQ(md.outputs.size(), 1u);
    EXPECT_EQ(md.outputs[0].name, "total");
    auto out = run_ok(*model, {{"a", f32({1, 3}, {1, 1, 1})}, {"b", f32({1, 3}, {1, 2, 3})}});
    ASSERT_EQ(names(out), std::vector<std::string>{"total"});
    EXPECT_EQ(floats(out[0].tensor), (std::vector<float>{2, 3, 4}));
  }
}

TEST_F(TorchBackendTest, OnlyRealSidecarsCount) {
  auto labels = load("labels.pt");  // labels.json beside it is a list, not a spec
  ASSERT_NE(labels, nullptr);
  EXPECT_EQ(labels->metadata().inputs[0].dtype, DataType::kInvalid);
  Status broken = load_error("bad_sidecar.pt");
  EXPECT_EQ(broken.code(), StatusCode::kInvalidArgument);
  EXPECT_TRUE(Contains(broken.message(), "bad_sidecar.pt.json"));
}

TEST_F(TorchBackendTest, BadFilesGiveClearErrors) {
  for (const char* file : {"state_dict.pt", "eager.pth"}) {
    Status s = load_error(file);
    EXPECT_EQ(s.code(), StatusCode::kInvalidArgument) << file;
    EXPECT_TRUE(Contains(s.message(), "not TorchScript"));
    EXPECT_TRUE(Contains(s.message(), "torch.jit.script"));
  }
  Status empty = load_error("empty.pt");
  EXPECT_EQ(empty.code(), StatusCode::kInvalidArgument);
  EXPECT_TRUE(Contains(empty.message(), "empty"));
  for (const char* file : {"truncated.pt", "random.pt"}) {
    Status s = load_error(file);
    EXPECT_EQ(s.code(), StatusCode::kInvalidArgument) << file;
    EXPECT_TRUE(Contains(s.message(), "not a TorchScript archive")) << s.message();
  }
  // The registry checks paths first; the backend checks them too.
  EXPECT_EQ(backend()->load(path("missing.pt"), {}).status().code(), StatusCode::kNotFound);
  EXPECT_EQ(backend()->load(kModels, {}).status().code(), StatusCode::kInvalidArgument);
}

TEST_F(TorchBackendTest, FreezingAndParameterStats) {
  for (const char* file : {"linear.pt", "linear_traced.pt"}) {
    for (auto level : {OptimizationLevel::kAll, OptimizationLevel::kDisable}) {
      LoadOptions options;
      options.optimization_level = level;
      auto model = load(file, options);
      ASSERT_NE(model, nullptr);
      const auto& md = model->metadata();
      EXPECT_EQ(md.extra_info.at("frozen"), level == OptimizationLevel::kAll ? "true" : "false") << file;
      EXPECT_EQ(md.extra_info.at("parameter_count"), "10");
      EXPECT_EQ(md.extra_info.at("parameter_bytes"), "40");
      EXPECT_GE(md.measured_memory_bytes, md.file_size_bytes);
      auto out = run_ok(*model, {{"input", f32({1, 4}, {1, 1, 1, 1})}});
      ASSERT_EQ(out.size(), 1u);
      EXPECT_EQ(floats(out[0].tensor), (std::vector<float>{6.5f, 21.5f}));  // rows of arange(8) summed, + bias
    }
  }
}

TEST_F(TorchBackendTest, InModuleStateSurvivesFreezing) {
  auto model = load("counter.pt");
  ASSERT_NE(model, nullptr);
  for (float expected : {1.0f, 2.0f, 3.0f}) {
    auto out = run_ok(*model, {{"x", f32({1}, {0})}});
    ASSERT_EQ(out.size(), 1u);
    EXPECT_EQ(floats(out[0].tensor), std::vector<float>{expected});
  }
}

TEST_F(TorchBackendTest, OutputNeverAliasesTheCallersInput) {
  auto model = load("echo.pt");
  ASSERT_NE(model, nullptr);
  Tensor in = f32({3}, {1, 2, 3});
  auto out = run_ok(*model, {{"x", in}});
  ASSERT_EQ(out.size(), 1u);
  EXPECT_NE(out[0].tensor.data(), in.data());
  (*in.mutable_values<float>())[0] = 42;
  EXPECT_EQ(floats(out[0].tensor), (std::vector<float>{1, 2, 3}));
}

TEST_F(TorchBackendTest, MisalignedInputIsReadCorrectly) {
  auto model = load("add.pt");
  ASSERT_NE(model, nullptr);
  alignas(8) std::byte buffer[1 + 3 * sizeof(float)];
  const float values[3] = {1, 2, 3};
  std::memcpy(buffer + 1, values, sizeof(values));  // floats at an odd address, as in a request body
  auto a = *Tensor::borrow(DataType::kFp32, Shape{3}, buffer + 1, sizeof(values));
  auto out = run_ok(*model, {{"a", a}, {"b", a}});
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(floats(out[0].tensor), (std::vector<float>{2, 4, 6}));
}

TEST_F(TorchBackendTest, UnavailableProvidersFallBackToCpu) {
  const auto providers = backend()->available_providers();
  LoadOptions options;
  options.providers = {"webgpu", "cpu"};
  auto model = load("add.pt", options);
  ASSERT_NE(model, nullptr);
  EXPECT_EQ(model->metadata().provider, "cpu");
  EXPECT_TRUE(Contains(model->metadata().extra_info.at("provider_fallback"), "webgpu"));
  if (providers.front() != "cpu") GTEST_SKIP() << "a CUDA device is present: no CUDA fallback to check";
  options.providers = {"cuda:0"};
  model = load("add.pt", options);
  ASSERT_NE(model, nullptr);
  EXPECT_EQ(model->metadata().provider, "cpu");
  EXPECT_TRUE(Contains(model->metadata().extra_info.at("provider_fallback"), "cuda:0 unavailable"));
}

TEST_F(TorchBackendTest, TenModelsShareOneThreadBudget) {
  std::vector<std::unique_ptr<Model>> models;
  for (int i = 0; i < 10; ++i) {
    models.push_back(load(i % 2 ? "linear.pt" : "add.pt"));
    ASSERT_NE(models.back(), nullptr);
    if (i % 2) run_ok(*models.back(), {{"input", f32({1, 4}, {1, 2, 3, 4})}});
    else run_ok(*models.back(), {{"a", f32({2}, {1, 2})}, {"b", f32({2}, {1, 2})}});
  }
  const int cores = static_cast<int>(std::thread::hardware_concurrency());
  EXPECT_LE(process_thread_count(), cores + 8);
}

TEST_F(TorchBackendTest, ConcurrentRunsAndMetadataReads) {
  auto model = load("sum_diff.pt");
  ASSERT_NE(model, nullptr);
  std::vector<std::thread> threads;
  std::atomic<int> wrong{0};
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 50; ++i) {
        const float v = static_cast<float>(t * 100 + i);
        auto out = model->run({{"a", f32({1}, {v})}, {"b", f32({1}, {1})}}, {});
        if (!out.ok() || (*out)[0].tensor.values<float>().value()[0] != v + 1) ++wrong;
        if (model->metadata().outputs.size() != 2) ++wrong;
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(wrong.load(), 0);
}

// A generated model from scripts/make-models (build/models), or "" with a
// skip reason when that folder has not been generated.
std::string generated_model(const std::string& relative) {
  const std::string file = std::string(POLARIS_MODELS_DIR) + "/" + relative;
  return fs::exists(file) ? file : "";
}

std::string info_or_empty(const ModelMetadata& md, const std::string& key) {
  auto it = md.extra_info.find(key);
  return it == md.extra_info.end() ? "" : it->second;
}

TEST_F(TorchBackendTest, DigitsReportsItsTensorsWithoutASpec) {
  // scripts/make-models traces and freezes the digits MLP (64 -> 64 -> 10)
  // and writes no sidecar: what is known comes from the graph and a probe.
  const std::string file = generated_model("digits/digits.pt");
  if (file.empty()) GTEST_SKIP() << "digits/digits.pt is not generated (scripts/make-models)";
  auto loaded = registry_->load(file, {});
  ASSERT_TRUE(loaded.ok()) << loaded.status().to_string();
  const ModelMetadata& md = (*loaded)->metadata();
  ASSERT_EQ(md.inputs.size(), 1u);
  EXPECT_EQ(md.inputs[0].name, "input");
  EXPECT_EQ(md.inputs[0].dtype, DataType::kFp32);
  EXPECT_EQ(md.inputs[0].shape, (Shape{-1, 64}));  // linear's in_features; the batch stays dynamic
  EXPECT_EQ(info_or_empty(md, "input_shape_source"), "graph");
  EXPECT_TRUE(Contains(info_or_empty(md, "input_shape_inference"), "aten::linear"));
  ASSERT_EQ(md.outputs.size(), 1u);
  EXPECT_EQ(md.outputs[0].name, "output__0");
  EXPECT_EQ(md.outputs[0].dtype, DataType::kFp32);
  EXPECT_EQ(md.outputs[0].shape, (Shape{-1, 10}));
  EXPECT_TRUE(Contains(info_or_empty(md, "output_shape_source"), "probe"));
  // Frozen before it was saved: the weights are graph constants, counted.
  EXPECT_EQ(info_or_empty(md, "parameter_count"), std::to_string(64 * 64 + 64 + 64 * 10 + 10));
  EXPECT_EQ(info_or_empty(md, "parameter_bytes"), std::to_string((64 * 64 + 64 + 64 * 10 + 10) * 4));
  EXPECT_TRUE(Contains(info_or_empty(md, "parameter_source"), "frozen"));
  // A request built from the metadata alone runs.
  auto out = run_ok(**loaded, {{"input", f32({2, 64}, std::vector<float>(128, 1.0f))}});
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].tensor.shape(), (Shape{2, 10}));
}

TEST_F(TorchBackendTest, MobileNetV2ReportsAnImageInputIfPresent) {
  const std::string file = generated_model("vision/mobilenetv2.pt");
  if (file.empty()) GTEST_SKIP() << "vision/mobilenetv2.pt is not generated (scripts/make-models)";
  auto loaded = registry_->load(file, {});
  ASSERT_TRUE(loaded.ok()) << loaded.status().to_string();
  const ModelMetadata& md = (*loaded)->metadata();
  ASSERT_EQ(md.inputs.size(), 1u);
  EXPECT_EQ(md.inputs[0].dtype, DataType::kFp32);
  EXPECT_EQ(md.inputs[0].shape, (Shape{-1, 3, -1, -1}));  // a convolution's weight fixes rank and channels only
  EXPECT_EQ(info_or_empty(md, "input_shape_source"), "graph");
  ASSERT_EQ(md.outputs.size(), 1u);
  EXPECT_EQ(md.outputs[0].dtype, DataType::kFp32);
  EXPECT_EQ(md.outputs[0].shape, (Shape{-1, 1000}));  // the same at two image sizes
  EXPECT_GT(std::stoull(info_or_empty(md, "parameter_count")), 3000000u);  // MobileNetV2: 3.5 M
}

TEST_F(TorchBackendTest, EfficientNetLite0IsProbedIfPresent) {
  // Its first op is a traced "same" padding, which the graph walk does not
  // follow; only [1,3,224,224] of the probe's shapes runs.
  const std::string file = generated_model("efficientnet_lite0/efficientnet_lite0.pt");
  if (file.empty()) GTEST_SKIP() << "efficientnet_lite0.pt is not generated (scripts/make-models)";
  auto loaded = registry_->load(file, {});
  ASSERT_TRUE(loaded.ok()) << loaded.status().to_string();
  const ModelMetadata& md = (*loaded)->metadata();
  ASSERT_EQ(md.inputs.size(), 1u);
  EXPECT_EQ(md.inputs[0].dtype, DataType::kFp32);
  EXPECT_EQ(md.inputs[0].shape, (Shape{-1, 3, 224, 224}));
  EXPECT_EQ(info_or_empty(md, "input_shape_source"), "probe");
  ASSERT_EQ(md.outputs.size(), 1u);
  EXPECT_EQ(md.outputs[0].shape, (Shape{-1, 1000}));
}

TEST_F(TorchBackendTest, GroupedConvolutionChannelsComeFromTheWeight) {
  auto model = load("grouped_conv.pt");  // scripted, so the weight is a module attribute until frozen
  ASSERT_NE(model, nullptr);
  const ModelMetadata& md = model->metadata();
  ASSERT_EQ(md.inputs.size(), 1u);
  EXPECT_EQ(md.inputs[0].dtype, DataType::kFp32);
  EXPECT_EQ(md.inputs[0].shape, (Shape{-1, 4, -1, -1}));
  EXPECT_EQ(info_or_empty(md, "input_shape_source"), "graph");
  EXPECT_TRUE(Contains(info_or_empty(md, "input_shape_inference"), "groups 2"));
  ASSERT_EQ(md.outputs.size(), 1u);
  EXPECT_EQ(md.outputs[0].shape, (Shape{-1, 6}));
  EXPECT_EQ(info_or_empty(md, "parameter_count"), std::to_string(6 * 2 * 3 * 3 + 6));  // counted before freezing
  EXPECT_EQ(info_or_empty(md, "frozen"), "true");
}

TEST_F(TorchBackendTest, InputsTheGraphCannotTellAreProbed) {
  auto probed = load("probe_only.pt");  // linear with a weight made at run time: only [1, 16] runs
  ASSERT_NE(probed, nullptr);
  EXPECT_EQ(probed->metadata().inputs[0].dtype, DataType::kFp32);
  EXPECT_EQ(probed->metadata().inputs[0].shape, (Shape{-1, 16}));
  EXPECT_EQ(info_or_empty(probed->metadata(), "input_shape_source"), "probe");
  EXPECT_EQ(probed->metadata().outputs[0].shape, (Shape{-1, 2}));

  // Element-wise: every candidate shape runs, so nothing is claimed and the
  // first request tells (AddRunsAndMetadataIsLearnedFromTheFirstRun).
  auto add = load("add.pt");
  ASSERT_NE(add, nullptr);
  EXPECT_EQ(add->metadata().inputs[0].dtype, DataType::kInvalid);
  EXPECT_EQ(info_or_empty(add->metadata(), "input_shape_source"), "unknown");
  EXPECT_TRUE(Contains(info_or_empty(add->metadata(), "input_shape_inference"), "not fixed"));

  // forward() changes module state: never probed, so its first request sees the first count.
  auto counter = load("counter.pt");
  ASSERT_NE(counter, nullptr);
  EXPECT_TRUE(Contains(info_or_empty(counter->metadata(), "input_shape_inference"), "not probed"));
}

TEST_F(TorchBackendTest, SpecSourcesAreRecorded) {
  auto sidecar = load("add_sidecar.torchscript");
  ASSERT_NE(sidecar, nullptr);
  EXPECT_EQ(info_or_empty(sidecar->metadata(), "input_shape_source"), "sidecar");
  EXPECT_EQ(info_or_empty(sidecar->metadata(), "output_shape_source"), "sidecar");
  LoadOptions options;
  options.parameters["inputs"] =
      R"([{"name":"a","datatype":"FP32","shape":[-1,3]},{"name":"b","datatype":"FP32","shape":[-1,3]}])";
  auto configured = load("add.pt", options);
  ASSERT_NE(configured, nullptr);
  const ModelMetadata& md = configured->metadata();
  EXPECT_EQ(info_or_empty(md, "input_shape_source"), "config");
  // Known inputs: one run names the outputs before any request.
  ASSERT_EQ(md.outputs.size(), 1u);
  EXPECT_EQ(md.outputs[0].dtype, DataType::kFp32);
  EXPECT_EQ(md.outputs[0].shape, (Shape{-1, 3}));
  // The linear test model's parameters are counted before freezing folds them.
  auto linear = load("linear.pt");
  ASSERT_NE(linear, nullptr);
  EXPECT_EQ(linear->metadata().inputs[0].shape, (Shape{-1, 4}));
  EXPECT_EQ(info_or_empty(linear->metadata(), "input_shape_source"), "graph");
}

TEST_F(TorchBackendTest, SileroVadIfPresent) {
  const std::string file = std::string(POLARIS_MODELS_DIR) + "/silero_vad/silero_vad.jit";
  if (!fs::exists(file)) GTEST_SKIP() << file << " is not there (scripts/make-models writes it)";
  auto loaded = registry_->load(file, {});
  ASSERT_TRUE(loaded.ok()) << loaded.status().to_string();
  Model& model = **loaded;
  const auto& inputs = model.metadata().inputs;
  ASSERT_EQ(inputs.size(), 2u);
  EXPECT_EQ(inputs[0].name, "x");
  EXPECT_EQ(inputs[1].name, "sr");
  EXPECT_EQ(inputs[1].dtype, DataType::kInt64);
  std::vector<float> chunk(512);
  for (std::size_t i = 0; i < chunk.size(); ++i) chunk[i] = 0.3f * std::sin(0.05f * static_cast<float>(i));
  auto out = run_ok(model, {{"x", f32({1, 512}, chunk)}, {"sr", one<int64_t>(16000)}});
  ASSERT_EQ(out.size(), 1u);
  auto prob = floats(out[0].tensor);
  ASSERT_EQ(prob.size(), 1u);
  EXPECT_GE(prob[0], 0.0f);
  EXPECT_LE(prob[0], 1.0f);
}

}  // namespace
}  // namespace polaris
