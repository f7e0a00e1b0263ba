// Provider choice by measurement (runtime/provider_choice.h) with real
// engines and the real EfficientNet-Lite0 of the default set: ONNX Runtime
// on the CPU, ONNX Runtime WebGPU on bootstrap's software Vulkan (Mesa 25
// lavapipe) and OpenCV DNN on OpenCL (PoCL) as candidates.
//
// ctest runs this file twice: `provider_choice.candidates` with the Vulkan
// driver and OpenCV allowed on PoCL (the ProviderChoice.* tests skip without
// them, and a skip fails that run), and `provider_choice.one_candidate`
// without any driver, where only the CPU is left.
#include "runtime/provider_choice.h"

#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <regex>

#include "runtime/model_loader.h"
#include "tests/support/manifest.h"

namespace polaris {
namespace {

namespace fs = std::filesystem;

const std::string kModelDir = std::string(POLARIS_MODELS_DIR) + "/default/efficientnet_lite0";
const std::string kModel = kModelDir + "/1/model.onnx";

// One registry (one ONNX Runtime environment) for the whole process, with its
// own cache folder.
struct Shared {
  fs::path cache = fs::temp_directory_path() / ("polaris-provider-choice-" + std::to_string(getpid()));
  std::unique_ptr<BackendRegistry> registry;
  Shared() {
    fs::remove_all(cache);
    BackendConfig config;
    config.threads.intra_op = 1;
    config.cache_dir = cache.string();
    registry = std::make_unique<BackendRegistry>(config, POLARIS_MODULE_DIR);
  }
  ~Shared() {
    registry.reset();  // waits for the ORT cache's background writes
    std::error_code ec;
    fs::remove_all(cache, ec);
  }
};

Shared* g_shared = nullptr;

Shared& shared() {
  if (g_shared == nullptr) g_shared = new Shared;
  return *g_shared;
}

// Destroys the registry before main returns: the ORT cache's background
// write must finish while libonnxruntime's own statics still exist (at
// exit they go first, and a write still running then crashes).
class DestroyRegistryFirst : public ::testing::Environment {
 public:
  void TearDown() override {
    delete g_shared;
    g_shared = nullptr;
  }
};
[[maybe_unused]] ::testing::Environment* const kDestroyRegistryFirst =
    ::testing::AddGlobalTestEnvironment(new DestroyRegistryFirst);

Result<LoadedInstance> load(const std::string& provider_parameter = "") {
  InstanceRequest request;
  request.model_name = "lite0";
  request.path = kModel;
  request.model_dir = kModelDir;
  if (!provider_parameter.empty()) {
    inference::ModelParameter value;
    value.set_string_value(provider_parameter);
    (*request.config.mutable_parameters())[kProviderParameter] = value;
  }
  return load_model_instance(*shared().registry, request);
}

std::string info(const LoadedInstance& instance, const std::string& key) {
  auto it = instance.metadata.extra_info.find(key);
  return it == instance.metadata.extra_info.end() ? "" : it->second;
}

// "cpu 23.1 ms, webgpu 180.4 ms (2 runs), opencl 650.2 ms (1 run) -> cpu"
struct Parsed {
  std::map<std::string, double> ms;
  std::string chosen;
};

Parsed parse(const std::string& text) {
  Parsed p;
  const auto arrow = text.find(" -> ");
  EXPECT_NE(arrow, std::string::npos) << text;
  if (arrow == std::string::npos) return p;
  p.chosen = text.substr(arrow + 4);
  static const std::regex item(R"(([a-z_0-9]+) ([0-9.]+) ms)");
  const std::string list = text.substr(0, arrow);
  for (auto it = std::sregex_iterator(list.begin(), list.end(), item); it != std::sregex_iterator(); ++it)
    p.ms[(*it)[1]] = std::stod((*it)[2]);
  return p;
}

std::vector<fs::path> cache_files() {
  std::vector<fs::path> out;
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(shared().cache / "provider-choice", ec))
    if (e.path().extension() == ".json") out.push_back(e.path());
  return out;
}

// The provider name metadata uses for each candidate.
std::string engine_provider(const std::string& provider) {
  if (provider == "cpu") return "CPUExecutionProvider";
  if (provider == "webgpu") return "WebGpuExecutionProvider";
  return provider;  // opencv: "opencl"
}

class ProviderChoice : public ::testing::Test {
 protected:
  void SetUp() override {
    if (std::getenv("VK_DRIVER_FILES") == nullptr || std::getenv("OPENCV_DNN_OPENCL_ALLOW_ALL_DEVICES") == nullptr)
      GTEST_SKIP() << "needs VK_DRIVER_FILES (software Vulkan) and OpenCV allowed on PoCL: run through ctest";
  }

  // A fresh measurement: no decision on disk.
  LoadedInstance measured_load() {
    fs::remove_all(shared().cache / "provider-choice");
    const uint64_t before = provider_measurement_count();
    auto instance = load();
    EXPECT_TRUE(instance.ok()) << instance.status().message();
    if (!instance.ok()) return {};
    EXPECT_EQ(info(*instance, "provider_auto_source"), "measured");
    EXPECT_EQ(provider_measurement_count() - before, 3u) << info(*instance, "provider_auto_skipped");
    return std::move(instance).value();
  }
};

TEST_F(ProviderChoice, CandidatesAreCpuWebGpuAndOpenCl) {
  std::vector<std::string> skipped;
  const auto candidates = provider_candidates(*shared().registry, kModel, {}, skipped);
  std::vector<std::string> names;
  for (const auto& c : candidates) names.push_back(std::string(c.backend->name()) + ":" + c.provider);
  EXPECT_EQ(names, (std::vector<std::string>{"onnxruntime:cpu", "onnxruntime:webgpu", "opencv:opencl"}));
}

TEST_F(ProviderChoice, MeasuresEveryCandidateAndKeepsTheFastest) {
  const LoadedInstance instance = measured_load();
  ASSERT_TRUE(instance.model);
  const std::string text = info(instance, "provider_auto");
  std::cout << "provider_auto: " << text << "\n";
  const Parsed p = parse(text);
  ASSERT_EQ(p.ms.size(), 3u) << text;
  for (const char* name : {"cpu", "webgpu", "opencl"}) EXPECT_TRUE(p.ms.count(name)) << text;
  const auto fastest = std::min_element(p.ms.begin(), p.ms.end(),
                                        [](const auto& a, const auto& b) { return a.second < b.second; });
  EXPECT_EQ(p.chosen, fastest->first) << text;
  // The instance that serves is the chosen one, and only it was kept.
  EXPECT_EQ(instance.metadata.provider, engine_provider(p.chosen));
  EXPECT_TRUE(instance.extra_instances.empty());
  // The decision is on disk, keyed by the model's content hash.
  ASSERT_EQ(cache_files().size(), 1u);
  std::ifstream in(cache_files()[0]);
  const std::string body((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  EXPECT_NE(body.find("\"provider\": \"" + p.chosen + "\""), std::string::npos) << body;
  EXPECT_NE(body.find(text), std::string::npos) << body;
}

TEST_F(ProviderChoice, SecondLoadReusesTheCachedDecisionWithoutMeasuring) {
  const LoadedInstance first = measured_load();
  const std::string text = info(first, "provider_auto");
  const uint64_t before = provider_measurement_count();
  auto second = load();
  ASSERT_TRUE(second.ok()) << second.status().message();
  EXPECT_EQ(provider_measurement_count(), before) << "a cached decision must not measure";
  EXPECT_EQ(info(*second, "provider_auto_source").rfind("cached (", 0), 0u) << info(*second, "provider_auto_source");
  EXPECT_EQ(info(*second, "provider_auto"), text);
  EXPECT_EQ(second->metadata.provider, first.metadata.provider);
  // Loading one provider is faster than loading and timing three.
  EXPECT_LT(second->load_duration, first.load_duration);
  std::cout << "measured load " << first.load_duration.count() << " ms, cached load "
            << second->load_duration.count() << " ms\n";
}

TEST_F(ProviderChoice, CorruptOrForeignCacheFilesAreIgnored) {
  measured_load();
  ASSERT_EQ(cache_files().size(), 1u);
  const fs::path file = cache_files()[0];
  const std::vector<std::string> bad = {
      "not json {",
      "",
      R"({"format": 1})",
      // A decision naming a provider that is not a candidate here.
      "{\"format\": 1, \"engine\": \"onnxruntime\", \"provider\": \"cuda\", \"model_sha256\": \"x\"}",
  };
  for (const std::string& content : bad) {
    std::ofstream(file, std::ios::trunc) << content;
    const uint64_t before = provider_measurement_count();
    auto instance = load();
    ASSERT_TRUE(instance.ok()) << content << ": " << instance.status().message();
    EXPECT_EQ(info(*instance, "provider_auto_source"), "measured") << content;
    EXPECT_EQ(provider_measurement_count() - before, 3u) << content;
    // Rewritten with the new decision, which the next load reuses.
    std::ifstream in(file);
    const std::string body((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    EXPECT_NE(body.find(info(*instance, "provider_auto")), std::string::npos) << body;
  }
}

TEST_F(ProviderChoice, ExplicitChoiceAndPriorityBypassAuto) {
  const uint64_t before = provider_measurement_count();
  for (const auto& [parameter, provider] : std::vector<std::pair<std::string, std::string>>{
           {"cpu", "CPUExecutionProvider"},
           {"webgpu", "WebGpuExecutionProvider"},
           // ONNX Runtime's static order: WebGPU before the CPU.
           {"priority", "WebGpuExecutionProvider"}}) {
    auto instance = load(parameter);
    ASSERT_TRUE(instance.ok()) << parameter << ": " << instance.status().message();
    EXPECT_EQ(instance->metadata.provider, provider) << parameter;
    EXPECT_EQ(info(*instance, "provider_auto"), "") << parameter;
  }
  EXPECT_EQ(provider_measurement_count(), before);
  auto mixed = load("auto,cpu");
  ASSERT_FALSE(mixed.ok());
  EXPECT_NE(mixed.status().message().find("cannot be combined"), std::string::npos) << mixed.status().message();
}

// Without drivers: the CPU is the only candidate, nothing is measured or
// written, and the metadata says why the others were not candidates.
TEST(ProviderChoiceOneCandidate, OnlyTheCpuIsLeftAndNothingIsMeasured) {
  if (std::getenv("POLARIS_TEST_NO_DRIVERS") == nullptr) GTEST_SKIP() << "run through ctest (no drivers)";
  auto instance = load();
  ASSERT_TRUE(instance.ok()) << instance.status().message();
  EXPECT_EQ(info(*instance, "provider_auto"), "cpu");
  EXPECT_EQ(info(*instance, "provider_auto_source"), "only candidate");
  const std::string skipped = info(*instance, "provider_auto_skipped");
  // The drivers' own reasons, as `polaris devices` gives them.
  EXPECT_NE(skipped.find("webgpu: no Vulkan driver"), std::string::npos) << skipped;
  EXPECT_NE(skipped.find("opencl: "), std::string::npos) << skipped;
  EXPECT_EQ(instance->metadata.provider, "CPUExecutionProvider");
  EXPECT_EQ(provider_measurement_count(), 0u);
  EXPECT_TRUE(cache_files().empty());
}

}  // namespace
}  // namespace polaris
