// Every generated model, through the engine its format needs, against the
// vectors scripts/make-models computed independently (numpy, or eager torch
// for the vision nets): ONNX files through ONNX Runtime, TorchScript through
// libtorch, loaded by the registry as the server loads them.
#include <gtest/gtest.h>

#include <filesystem>

#include "backends/registry.h"
#include "core/npy.h"
#include "tests/support/manifest.h"

namespace polaris {
namespace {

using testing::ManifestModel;

class ManifestVectorsTest : public ::testing::TestWithParam<std::string> {};

// Loads the model fresh (stateful models such as silero's TorchScript file
// only match their vectors from a fresh state) and runs every vector.
void check_model(BackendRegistry& registry, const ManifestModel& entry) {
  SCOPED_TRACE(entry.name + " (" + entry.path + ")");
  auto model = registry.load(entry.path, {});
  ASSERT_TRUE(model.ok()) << model.status().to_string();
  for (const auto& vector : entry.tests) {
    NamedTensors inputs;
    for (const auto& [name, path] : vector.inputs) {
      auto t = read_npy(path, data_type_from_string(entry.datatypes.at(name)));
      ASSERT_TRUE(t.ok()) << t.status().to_string();
      inputs.push_back({name, std::move(t).value()});
    }
    auto outputs = (*model)->run(inputs, {});
    ASSERT_TRUE(outputs.ok()) << outputs.status().to_string();
    for (const auto& [name, path] : vector.outputs) {
      auto want = read_npy(path, data_type_from_string(entry.datatypes.at(name)));
      ASSERT_TRUE(want.ok()) << want.status().to_string();
      const Tensor* got = nullptr;
      for (const auto& o : *outputs)
        if (o.name == name) got = &o.tensor;
      ASSERT_NE(got, nullptr) << "no output named " << name;
      auto diff = max_abs_diff(*got, *want);
      ASSERT_TRUE(diff.ok()) << name << ": " << diff.status().to_string();
      EXPECT_LE(*diff, vector.atol) << name;
    }
  }
}

TEST_P(ManifestVectorsTest, EveryModelOfThisFormatMatchesItsVectors) {
  auto manifest = testing::read_manifest();
  ASSERT_TRUE(manifest.ok()) << manifest.status().to_string();
  BackendConfig config;
  config.threads.intra_op = 1;
  BackendRegistry registry(config, POLARIS_MODULE_DIR);
  int models = 0, vectors = 0;
  for (const auto& entry : *manifest) {
    if (entry.format != GetParam() || entry.tests.empty()) continue;
    check_model(registry, entry);
    ++models;
    vectors += static_cast<int>(entry.tests.size());
  }
  // The generator makes ~25 ONNX and ~25 TorchScript models with vectors.
  EXPECT_GE(models, 15) << "fewer " << GetParam() << " models with vectors than the generator makes";
  RecordProperty("vectors", vectors);
}

std::vector<std::string> formats() {
  std::vector<std::string> out;
#ifdef POLARIS_TEST_ONNX
  out.push_back("onnx");
#endif
#ifdef POLARIS_TEST_TORCHSCRIPT
  out.push_back("torchscript");
#endif
  return out;
}

GTEST_ALLOW_UNINSTANTIATED_PARAMETERIZED_TEST(ManifestVectorsTest);  // no engine built
INSTANTIATE_TEST_SUITE_P(Formats, ManifestVectorsTest, ::testing::ValuesIn(formats()),
                         [](const auto& info) { return info.param; });

}  // namespace
}  // namespace polaris
