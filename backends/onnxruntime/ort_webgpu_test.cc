// ONNX Runtime's WebGPU provider (Dawn over Vulkan) against its CPU provider,
// on bootstrap's software Vulkan driver (Mesa 25 lavapipe): the GPU path an
// RX 580 takes through Mesa's RADV, run here on the CPU.
//
// Not discovered by gtest: ctest runs each suite with the environment it
// needs (backends/onnxruntime/CMakeLists.txt) and fails a skipped run:
//   OrtWebGpu.*          VK_DRIVER_FILES = the lavapipe ICD file
//   OrtWebGpuNoAdapter.* VK_DRIVER_FILES = a file that does not exist
#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <iostream>

#include "backends/registry.h"
#include "core/npy.h"
#include "tests/support/manifest.h"  // models_dir()

namespace polaris {
namespace {

using testing::models_dir;

std::string env(const char* name) {
  const char* v = std::getenv(name);
  return v == nullptr ? "" : v;
}

BackendRegistry& registry() {
  static BackendRegistry* r = [] {
    BackendConfig config;
    config.threads.intra_op = 1;
    return new BackendRegistry(config, POLARIS_MODULE_DIR);
  }();
  return *r;
}

// Asks for webgpu the way a model's config.pbtxt does (the parameter), not
// through LoadOptions::providers, so the config path is what is tested.
Result<std::unique_ptr<Model>> load_with(const std::string& provider) {
  LoadOptions options;
  options.parameters[kProviderParameter] = provider;
  return registry().load(models_dir() + "/vision/mobilenetv2.onnx", options);
}

std::vector<float> run_once(Model& model, const Tensor& input) {
  auto out = model.run({{model.metadata().inputs[0].name, input}}, {});
  EXPECT_TRUE(out.ok()) << out.status().to_string();
  if (!out.ok()) return {};
  auto values = (*out)[0].tensor.values<float>();
  EXPECT_TRUE(values.ok());
  return values.ok() ? std::vector<float>(values->begin(), values->end()) : std::vector<float>{};
}

TEST(OrtWebGpu, MobileNetV2MatchesCpuProvider) {
  const std::string icd = env("POLARIS_TEST_VULKAN_ICD");
  if (icd.empty()) GTEST_SKIP() << "needs POLARIS_TEST_VULKAN_ICD and VK_DRIVER_FILES (ctest ort.webgpu)";
  ASSERT_TRUE(std::filesystem::exists(icd)) << icd << " is missing: run scripts/bootstrap --only mesa-vulkan";
  auto input = read_npy(models_dir() + "/vision/vectors/mobilenetv2.input.npy");
  ASSERT_TRUE(input.ok()) << input.status().to_string();

  auto cpu = load_with("cpu");
  ASSERT_TRUE(cpu.ok()) << cpu.status().to_string();
  ASSERT_EQ((*cpu)->metadata().provider, "CPUExecutionProvider");
  auto gpu = load_with("webgpu");
  ASSERT_TRUE(gpu.ok()) << gpu.status().to_string();
  const ModelMetadata& m = (*gpu)->metadata();
  ASSERT_EQ(m.provider, "WebGpuExecutionProvider")
      << "fell back: " << (m.extra_info.count("provider_fallback") ? m.extra_info.at("provider_fallback") : "");
  EXPECT_EQ(m.extra_info.count("provider_fallback"), 0u);

  (void)run_once(**gpu, *input);  // first run compiles the shaders
  constexpr int kRuns = 3;
  std::vector<float> got, expected;
  const auto ms_per_run = [&](Model& model, std::vector<float>& out) {
    const auto start = std::chrono::steady_clock::now();
    for (int i = 0; i < kRuns; ++i) out = run_once(model, *input);
    return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count() / kRuns;
  };
  const double cpu_ms = ms_per_run(**cpu, expected);
  const double gpu_ms = ms_per_run(**gpu, got);
  std::cout << "MobileNetV2 per image: WebGPU (lavapipe) " << gpu_ms << " ms, CPU provider (1 thread) " << cpu_ms
            << " ms\n";

  ASSERT_EQ(got.size(), expected.size());
  ASSERT_EQ(got.size(), 1000u);
  // The generated MobileNetV2 has random weights: its logits are ~1e-9, so
  // the tolerance is relative to their scale (1e-4 of the largest).
  float scale = 0;
  for (float v : expected) scale = std::max(scale, std::fabs(v));
  ASSERT_GT(scale, 0.f);
  float worst = 0;
  for (std::size_t i = 0; i < got.size(); ++i) worst = std::max(worst, std::fabs(got[i] - expected[i]));
  std::cout << "max |webgpu - cpu| / max |cpu| = " << worst / scale << "\n";
  EXPECT_LE(worst, 1e-4f * scale) << "max |webgpu - cpu| = " << worst << " for logits up to " << scale;
  const auto argmax = [](const std::vector<float>& v) { return std::max_element(v.begin(), v.end()) - v.begin(); };
  EXPECT_EQ(argmax(got), argmax(expected));
}

TEST(OrtWebGpuNoAdapter, FallsBackToCpuWithTheReason) {
  if (env("VK_DRIVER_FILES") != "/nonexistent.json")
    GTEST_SKIP() << "needs VK_DRIVER_FILES=/nonexistent.json (ctest ort.webgpu_no_adapter)";
  auto model = load_with("webgpu,cpu");
  ASSERT_TRUE(model.ok()) << model.status().to_string();
  const ModelMetadata& m = model.value()->metadata();
  EXPECT_EQ(m.provider, "CPUExecutionProvider");
  ASSERT_EQ(m.extra_info.count("provider_fallback"), 1u);
  const std::string& reason = m.extra_info.at("provider_fallback");
  EXPECT_EQ(reason.rfind("WebGpuExecutionProvider: ", 0), 0u) << reason;
  EXPECT_NE(reason.find("No supported adapters"), std::string::npos) << reason;
  EXPECT_NE(reason.find("VK_DRIVER_FILES"), std::string::npos) << "the reason says what to check: " << reason;
  EXPECT_EQ(reason.find("onnxruntime_src"), std::string::npos) << "ORT's source location is noise: " << reason;
  // And the model still serves, on the CPU.
  auto input = read_npy(models_dir() + "/vision/vectors/mobilenetv2.input.npy");
  ASSERT_TRUE(input.ok());
  EXPECT_EQ(run_once(**model, *input).size(), 1000u);
}

TEST(OrtWebGpuNoAdapter, ProviderParameterParsing) {
  LoadOptions options;
  options.providers = {"cuda"};
  EXPECT_EQ(requested_providers(options), std::vector<std::string>{"cuda"});
  options.parameters[kProviderParameter] = " webgpu , cpu,";
  EXPECT_EQ(requested_providers(options), (std::vector<std::string>{"webgpu", "cpu"}));
}

}  // namespace
}  // namespace polaris
