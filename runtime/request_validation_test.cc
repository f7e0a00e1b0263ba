#include "runtime/request_validation.h"

#include <gtest/gtest.h>

#include "runtime/model_config.h"

namespace polaris {
namespace {

inference::ModelConfig simple_config() {
  auto config = parse_model_config(R"(
    max_batch_size: 8
    input { name: "INPUT0" data_type: TYPE_INT32 dims: [16] }
    input { name: "INPUT1" data_type: TYPE_INT32 dims: [16] }
    output { name: "OUTPUT0" data_type: TYPE_INT32 dims: [16] })",
                                   "simple");
  EXPECT_TRUE(config.ok()) << config.status().message();
  return *config;
}

NamedTensor ints(const std::string& name, int64_t rows, int64_t cols = 16) {
  return {name, *Tensor::from_values<int32_t>(Shape{rows, cols}, std::vector<int32_t>(rows * cols, 1))};
}

std::string refusal(const NamedTensors& inputs, const std::vector<std::string>& outputs = {}) {
  const Status s = validate_request("simple", inputs, outputs, simple_config());
  if (s.ok()) return "accepted";
  EXPECT_EQ(s.code(), StatusCode::kInvalidArgument);
  return s.message();
}

bool says(const std::string& message, const std::string& part) { return message.find(part) != std::string::npos; }

TEST(RequestValidation, AcceptsWhatTheConfigDeclares) {
  EXPECT_EQ(refusal({ints("INPUT0", 3), ints("INPUT1", 3)}, {"OUTPUT0"}), "accepted");
}

TEST(RequestValidation, EveryInputOfABatchingModelHasTheSameBatchDim) {
  const std::string m = refusal({ints("INPUT0", 2), ints("INPUT1", 1)});
  EXPECT_TRUE(says(m, "input 'INPUT1' batch size does not match other inputs for 'simple'")) << m;
}

TEST(RequestValidation, NamesWhatIsWrong) {
  EXPECT_TRUE(says(refusal({ints("INPUT0", 1), ints("INPUT0", 1)}), "input 'INPUT0' is given twice"));
  EXPECT_TRUE(says(refusal({ints("INPUT0", 1)}), "input 'INPUT1' of model 'simple' is missing"));
  EXPECT_TRUE(says(refusal({ints("INPUT0", 1), ints("INPUT1", 1), ints("X", 1)}), "no input named 'X'"));
  EXPECT_TRUE(says(refusal({ints("INPUT0", 1, 15), ints("INPUT1", 1)}), "has shape [1,15]"));
  EXPECT_TRUE(says(refusal({ints("INPUT0", 9), ints("INPUT1", 9)}), "with a batch of 1 to 8"));
  EXPECT_TRUE(says(refusal({ints("INPUT0", 1), ints("INPUT1", 1)}, {"nope"}), "no output named 'nope'"));
  NamedTensors floats = {{"INPUT0", *Tensor::from_values<float>(Shape{1, 16}, std::vector<float>(16))},
                         ints("INPUT1", 1)};
  EXPECT_TRUE(says(refusal(floats), "has datatype FP32, the model expects INT32"));
}

TEST(RequestValidation, QuotesLongNamesShort) {
  const std::string m = refusal({ints(std::string(20000, 'x'), 1)});
  EXPECT_LT(m.size(), 400u);
  EXPECT_TRUE(says(m, "(20000 bytes)")) << m;
}

}  // namespace
}  // namespace polaris
