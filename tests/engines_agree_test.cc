// The same models through both engines, in one process, as the server runs
// them: ONNX Runtime and libtorch must agree on the exported twins.
#include <gtest/gtest.h>

#include <google/protobuf/descriptor.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <numeric>

#include "backends/registry.h"
#include "core/npy.h"
#include "tests/support/manifest.h"

namespace polaris {
namespace {

namespace fs = std::filesystem;
using testing::models_dir;

class EnginesAgreeTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(fs::exists(models_dir() + "/manifest.json")) << "no generated models: run scripts/make-models";
    BackendConfig config;
    config.threads.intra_op = 1;
    registry_ = std::make_unique<BackendRegistry>(config, POLARIS_MODULE_DIR);
  }
  std::unique_ptr<Model> load(const std::string& rel) {
    auto model = registry_->load(models_dir() + "/" + rel, {});
    EXPECT_TRUE(model.ok()) << rel << ": " << model.status().to_string();
    return model.ok() ? std::move(model).value() : nullptr;
  }
  static Tensor first_output(Model& model, const NamedTensors& inputs) {
    auto out = model.run(inputs, {});
    EXPECT_TRUE(out.ok()) << out.status().to_string();
    return out.ok() ? (*out)[0].tensor : Tensor();
  }
  static std::vector<int64_t> top5(const Tensor& logits) {
    auto v = logits.values<float>().value();
    std::vector<int64_t> order(v.size());
    std::iota(order.begin(), order.end(), 0);
    std::partial_sort(order.begin(), order.begin() + 5, order.end(), [&](auto a, auto b) { return v[a] > v[b]; });
    order.resize(5);
    return order;
  }
  std::unique_ptr<BackendRegistry> registry_;
};

TEST_F(EnginesAgreeTest, MobileNetV2OnnxAndTorchScriptAgree) {
  auto onnx = load("vision/mobilenetv2.onnx");
  auto torch = load("vision/mobilenetv2.pt");
  ASSERT_TRUE(onnx && torch);
  auto input = read_npy(models_dir() + "/vision/vectors/mobilenetv2.input.npy");
  ASSERT_TRUE(input.ok()) << input.status().to_string();
  const Tensor a = first_output(*onnx, {{"input", *input}});
  const Tensor b = first_output(*torch, {{torch->metadata().inputs[0].name, *input}});
  auto diff = max_abs_diff(a, b);
  ASSERT_TRUE(diff.ok()) << diff.status().to_string();
  EXPECT_LE(*diff, 1e-4);
}

TEST_F(EnginesAgreeTest, EfficientNetLite0GivesTheSameTop5OnThePhotos) {
  auto onnx = load("efficientnet_lite0/efficientnet_lite0.onnx");
  auto torch = load("efficientnet_lite0/efficientnet_lite0.pt");
  ASSERT_TRUE(onnx && torch);
  for (const char* photo : {"flower", "china"}) {
    SCOPED_TRACE(photo);
    auto image = read_npy(models_dir() + "/efficientnet_lite0/samples/" + photo + ".npy");
    ASSERT_TRUE(image.ok());
    const auto onnx_top = top5(first_output(*onnx, {{"input", *image}}));
    const auto torch_top = top5(first_output(*torch, {{torch->metadata().inputs[0].name, *image}}));
    EXPECT_EQ(onnx_top, torch_top);
    if (std::string(photo) == "flower") {
      EXPECT_EQ(onnx_top[0], 985);  // daisy
    } else {
      EXPECT_NE(std::find(onnx_top.begin(), onnx_top.begin() + 3, 698), onnx_top.begin() + 3);  // palace, top 3
    }
  }
}

// silero VAD: the ONNX file passes its state in and out (`state` ->
// `stateN`) and takes 64 samples of context before each 512-sample chunk;
// the TorchScript file keeps both inside the module and takes (x, sr).
TEST_F(EnginesAgreeTest, SileroVadOnnxAndTorchScriptAgreeChunkByChunk) {
  auto onnx = load("silero_vad/silero_vad.onnx");
  auto torch = load("silero_vad/silero_vad.jit");
  ASSERT_TRUE(onnx && torch);
  auto clip = read_npy(models_dir() + "/silero_vad/speech_16k.npy");
  ASSERT_TRUE(clip.ok());
  const auto samples = clip->values<float>().value();
  constexpr int64_t kChunk = 512, kContext = 64;
  auto sr = Tensor::from_values(Shape{}, std::vector<int64_t>{16000}).value();
  auto state = Tensor::allocate(DataType::kFp32, Shape{2, 1, 128}).value();
  std::vector<float> context(kContext, 0.f);
  double worst = 0, max_prob = 0;
  int chunks = 0;
  for (std::size_t start = 0; start + kChunk <= samples.size(); start += kChunk, ++chunks) {
    std::vector<float> chunk(samples.begin() + start, samples.begin() + start + kChunk);
    std::vector<float> with_context(context);
    with_context.insert(with_context.end(), chunk.begin(), chunk.end());
    auto onnx_out = onnx->run({{"input", Tensor::from_values(Shape{1, kChunk + kContext}, with_context).value()},
                               {"state", state},
                               {"sr", sr}},
                              {});
    ASSERT_TRUE(onnx_out.ok()) << onnx_out.status().to_string();
    state = (*onnx_out)[1].tensor;
    context.assign(chunk.end() - kContext, chunk.end());
    const Tensor torch_prob =
        first_output(*torch, {{"x", Tensor::from_values(Shape{1, kChunk}, chunk).value()}, {"sr", sr}});
    ASSERT_FALSE(torch_prob.empty());
    const double p_onnx = (*onnx_out)[0].tensor.values<float>().value()[0];
    const double p_torch = torch_prob.values<float>().value()[0];
    worst = std::max(worst, std::abs(p_onnx - p_torch));
    max_prob = std::max(max_prob, p_onnx);
  }
  EXPECT_GT(chunks, 100);
  EXPECT_LE(worst, 1e-3) << "largest per-chunk speech probability difference";
  EXPECT_GT(max_prob, 0.9) << "the clip holds speech";
}

// libtorch_cpu.so carries its own protobuf and onnx symbols; the server will
// link Debian's libprotobuf (gRPC). With the module loaded RTLD_LOCAL the two
// must not clash: this process links Debian's protobuf (and uses it), then
// runs a TorchScript model through the torch module.
TEST_F(EnginesAgreeTest, HostProtobufAndLibtorchLiveInOneProcess) {
  GOOGLE_PROTOBUF_VERIFY_VERSION;
  const auto* pool = google::protobuf::DescriptorPool::generated_pool();
  ASSERT_NE(pool, nullptr);
  auto torch = load("vision/mobilenetv2.pt");
  ASSERT_TRUE(torch);
  auto input = read_npy(models_dir() + "/vision/vectors/mobilenetv2.input.npy");
  ASSERT_TRUE(input.ok());
  const Tensor out = first_output(*torch, {{torch->metadata().inputs[0].name, *input}});
  EXPECT_EQ(out.shape(), (Shape{1, 1000}));
  std::ifstream maps("/proc/self/maps");
  const std::string mapped((std::istreambuf_iterator<char>(maps)), std::istreambuf_iterator<char>());
  EXPECT_NE(mapped.find("libprotobuf.so"), std::string::npos);
  EXPECT_NE(mapped.find("libtorch_cpu.so"), std::string::npos);
}

}  // namespace
}  // namespace polaris
