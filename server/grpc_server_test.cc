// The gRPC frontend through a generated stub, over a real model manager:
// the decoding checks a client library would never send (raw/typed content
// mismatches, BOOL bytes, narrowing, shapes that overflow), streaming order,
// message limits and a busy port. tests/python/test_grpc.py covers the same
// server with Triton's own client.
#include "server/grpc_server.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <cstring>
#include <filesystem>
#include <vector>

#include <grpcpp/grpcpp.h>

#include "proto/grpc_service.grpc.pb.h"
#include "tests/support/manifest.h"

namespace polaris {
namespace {

namespace fs = std::filesystem;
using inference::ModelInferRequest;
using inference::ModelInferResponse;

std::string raw_floats(const std::vector<float>& values) {
  return std::string(reinterpret_cast<const char*>(values.data()), values.size() * sizeof(float));
}

class GrpcServerTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    root_ = new fs::path(fs::temp_directory_path() / ("polaris-grpc-" + std::to_string(getpid())));
    fs::remove_all(*root_);
    for (const char* name : {"add", "dtype_bool", "dtype_int8", "dtype_fp16", "strings_identity"}) {
      fs::create_directories(*root_ / name / "1");
      fs::copy_file(testing::models_dir() + "/tiny/" + name + ".onnx", *root_ / name / "1" / "model.onnx");
    }
    BackendConfig config;
    config.threads.intra_op = 1;
    registry_ = new BackendRegistry(config, POLARIS_MODULE_DIR);
    ManagerOptions options;
    options.repository = root_->string();
    auto manager = ModelManager::create(options, *registry_);
    ASSERT_TRUE(manager.ok()) << manager.status().to_string();
    manager_ = manager->release();
    service_ = new InferenceService(*manager_);
    GrpcOptions grpc_options;
    grpc_options.address = "127.0.0.1";
    grpc_options.port = 0;
    grpc_options.max_message_bytes = 1 << 20;
    server_ = new GrpcServer(*service_, grpc_options);
    const Status started = server_->start();
    ASSERT_TRUE(started.ok()) << started.to_string();
  }
  static void TearDownTestSuite() {
    delete server_;
    delete service_;
    delete manager_;
    delete registry_;
    fs::remove_all(*root_);
    delete root_;
  }

  void SetUp() override {
    ASSERT_NE(server_, nullptr);
    grpc::ChannelArguments args;
    args.SetMaxSendMessageSize(8 << 20);  // so the server's own limit is what a large request meets
    stub_ = inference::GRPCInferenceService::NewStub(grpc::CreateCustomChannel(
        "127.0.0.1:" + std::to_string(server_->port()), grpc::InsecureChannelCredentials(), args));
  }

  grpc::Status infer(const ModelInferRequest& request, ModelInferResponse* response) {
    grpc::ClientContext context;
    return stub_->ModelInfer(&context, request, response);
  }

  static ModelInferRequest add_request(const std::vector<float>& a, const std::vector<float>& b) {
    ModelInferRequest request;
    request.set_model_name("add");
    request.set_id("req-1");
    for (const char* name : {"a", "b"}) {
      auto* input = request.add_inputs();
      input->set_name(name);
      input->set_datatype("FP32");
      input->add_shape(1);
      input->add_shape(16);
    }
    request.add_raw_input_contents(raw_floats(a));
    request.add_raw_input_contents(raw_floats(b));
    return request;
  }

  // One input of shape [1,4] with the given datatype, no data yet.
  static ModelInferRequest single_input(const std::string& model, const std::string& datatype) {
    ModelInferRequest request;
    request.set_model_name(model);
    auto* input = request.add_inputs();
    input->set_name("input");
    input->set_datatype(datatype);
    input->add_shape(1);
    input->add_shape(4);
    return request;
  }

  static void expect_invalid(const grpc::Status& status, const std::string& words) {
    EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT) << status.error_message();
    EXPECT_NE(status.error_message().find(words), std::string::npos) << status.error_message();
  }

  static inline fs::path* root_ = nullptr;
  static inline BackendRegistry* registry_ = nullptr;
  static inline ModelManager* manager_ = nullptr;
  static inline InferenceService* service_ = nullptr;
  static inline GrpcServer* server_ = nullptr;
  std::unique_ptr<inference::GRPCInferenceService::Stub> stub_;
};

std::vector<float> iota(float start) {
  std::vector<float> v(16);
  for (std::size_t i = 0; i < v.size(); ++i) v[i] = start + static_cast<float>(i);
  return v;
}

TEST_F(GrpcServerTest, HealthAndServerMetadata) {
  grpc::ClientContext live_context, metadata_context;
  inference::ServerLiveResponse live;
  ASSERT_TRUE(stub_->ServerLive(&live_context, {}, &live).ok());
  EXPECT_TRUE(live.live());
  inference::ServerMetadataResponse metadata;
  ASSERT_TRUE(stub_->ServerMetadata(&metadata_context, {}, &metadata).ok());
  EXPECT_EQ(metadata.name(), "polaris");
  EXPECT_NE(std::find(metadata.extensions().begin(), metadata.extensions().end(), "statistics"),
            metadata.extensions().end());
}

TEST_F(GrpcServerTest, RawInferAnswersRawOutputs) {
  ModelInferResponse response;
  const grpc::Status status = infer(add_request(iota(0), iota(100)), &response);
  ASSERT_TRUE(status.ok()) << status.error_message();
  EXPECT_EQ(response.model_name(), "add");
  EXPECT_EQ(response.model_version(), "1");
  EXPECT_EQ(response.id(), "req-1");
  ASSERT_EQ(response.outputs_size(), 1);
  EXPECT_EQ(response.outputs(0).name(), "sum");
  EXPECT_EQ(response.outputs(0).datatype(), "FP32");
  EXPECT_EQ(std::vector<int64_t>(response.outputs(0).shape().begin(), response.outputs(0).shape().end()),
            (std::vector<int64_t>{1, 16}));
  ASSERT_EQ(response.raw_output_contents_size(), 1);
  std::vector<float> sum(16);
  ASSERT_EQ(response.raw_output_contents(0).size(), sum.size() * sizeof(float));
  std::memcpy(sum.data(), response.raw_output_contents(0).data(), response.raw_output_contents(0).size());
  for (std::size_t i = 0; i < sum.size(); ++i) EXPECT_FLOAT_EQ(sum[i], 100.0f + 2.0f * static_cast<float>(i));
}

TEST_F(GrpcServerTest, TypedContentsDecode) {
  ModelInferRequest request = add_request(iota(0), iota(1));
  request.clear_raw_input_contents();
  for (auto& input : *request.mutable_inputs())
    for (float v : iota(input.name() == "a" ? 0.0f : 1.0f)) input.mutable_contents()->add_fp32_contents(v);
  ModelInferResponse response;
  const grpc::Status status = infer(request, &response);
  ASSERT_TRUE(status.ok()) << status.error_message();
  std::vector<float> sum(16);
  std::memcpy(sum.data(), response.raw_output_contents(0).data(), sizeof(float) * 16);
  EXPECT_FLOAT_EQ(sum[3], 7.0f);

  // INT8 travels widened in int_contents and must fit.
  ModelInferRequest int8 = single_input("dtype_int8", "INT8");
  for (int v : {1, -2, 127, -128}) int8.mutable_inputs(0)->mutable_contents()->add_int_contents(v);
  EXPECT_TRUE(infer(int8, &response).ok());
  int8.mutable_inputs(0)->mutable_contents()->set_int_contents(2, 300);
  expect_invalid(infer(int8, &response), "300 does not fit INT8");
}

TEST_F(GrpcServerTest, MalformedInputsAreInvalidArgument) {
  ModelInferResponse response;
  ModelInferRequest one_raw = add_request(iota(0), iota(0));
  one_raw.mutable_raw_input_contents()->RemoveLast();
  expect_invalid(infer(one_raw, &response), "raw_input_contents");

  ModelInferRequest short_raw = add_request(iota(0), iota(0));
  short_raw.mutable_raw_input_contents(1)->resize(10);
  expect_invalid(infer(short_raw, &response), "input 'b'");

  ModelInferRequest both = add_request(iota(0), iota(0));
  both.mutable_inputs(0)->mutable_contents()->add_fp32_contents(1.0f);
  expect_invalid(infer(both, &response), "contents field must not be specified when using raw_input_contents for 'a' for model");

  ModelInferRequest wrong_field = add_request(iota(0), iota(0));
  wrong_field.clear_raw_input_contents();
  for (auto& input : *wrong_field.mutable_inputs()) input.mutable_contents()->add_int_contents(1);
  expect_invalid(infer(wrong_field, &response), "carries int_contents");

  // 2^40 x 2^40 elements: rejected from the shape, before any allocation.
  ModelInferRequest huge = add_request(iota(0), iota(0));
  huge.mutable_inputs(0)->set_shape(0, int64_t{1} << 40);
  huge.mutable_inputs(0)->set_shape(1, int64_t{1} << 40);
  expect_invalid(infer(huge, &response), "input 'a'");

  ModelInferRequest negative = add_request(iota(0), iota(0));
  negative.mutable_inputs(1)->set_shape(0, -1);
  expect_invalid(infer(negative, &response), "input 'b'");

  ModelInferRequest bad_type = add_request(iota(0), iota(0));
  bad_type.mutable_inputs(0)->set_datatype("FLOAT");
  expect_invalid(infer(bad_type, &response), "unknown datatype 'FLOAT'");

  ModelInferRequest wrong_shape = add_request(iota(0), iota(0));
  wrong_shape.mutable_inputs(0)->set_shape(1, 8);
  wrong_shape.mutable_raw_input_contents(0)->resize(8 * sizeof(float));
  expect_invalid(infer(wrong_shape, &response), "input 'a'");

  ModelInferRequest fp16 = single_input("dtype_fp16", "FP16");
  for (int i = 0; i < 4; ++i) fp16.mutable_inputs(0)->mutable_contents()->add_fp32_contents(1.0f);
  expect_invalid(infer(fp16, &response), "raw_input_contents");

  ModelInferRequest bool_two = single_input("dtype_bool", "BOOL");
  bool_two.add_raw_input_contents(std::string("\x01\x00\x02\x01", 4));
  expect_invalid(infer(bool_two, &response), "neither 0 nor 1");
  bool_two.set_raw_input_contents(0, std::string("\x01\x00\x00\x01", 4));
  EXPECT_TRUE(infer(bool_two, &response).ok());
  EXPECT_EQ(response.raw_output_contents(0), std::string("\x00\x01\x01\x00", 4));  // the model negates

  ModelInferRequest bytes = single_input("strings_identity", "BYTES");
  bytes.mutable_inputs(0)->set_shape(1, 2);
  bytes.add_raw_input_contents(std::string("\x05\x00\x00\x00hello\x09\x00\x00\x00", 13));  // second claims 9 bytes
  expect_invalid(infer(bytes, &response), "input 'input'");
}

TEST_F(GrpcServerTest, ErrorsMapToGrpcCodes) {
  ModelInferResponse response;
  ModelInferRequest unknown = add_request(iota(0), iota(0));
  unknown.set_model_name("no_such_model");
  EXPECT_EQ(infer(unknown, &response).error_code(), grpc::StatusCode::NOT_FOUND);

  ModelInferRequest bad_version = add_request(iota(0), iota(0));
  bad_version.set_model_version("latest");
  EXPECT_EQ(infer(bad_version, &response).error_code(), grpc::StatusCode::INVALID_ARGUMENT);

  grpc::ClientContext context;
  inference::ModelReadyRequest ready_request;
  ready_request.set_name("no_such_model");
  inference::ModelReadyResponse ready;
  ASSERT_TRUE(stub_->ModelReady(&context, ready_request, &ready).ok());  // Triton: not ready, no error
  EXPECT_FALSE(ready.ready());
}

TEST_F(GrpcServerTest, MessagesOverTheLimitAreRefused) {
  ModelInferRequest big = add_request(iota(0), iota(0));
  big.mutable_raw_input_contents(0)->resize(2 << 20);
  ModelInferResponse response;
  EXPECT_EQ(infer(big, &response).error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED);
}

TEST_F(GrpcServerTest, StreamAnswersEveryRequestInOrder) {
  grpc::ClientContext context;
  auto stream = stub_->ModelStreamInfer(&context);
  constexpr int kRequests = 6;
  for (int i = 0; i < kRequests; ++i) {
    ModelInferRequest request = add_request(iota(static_cast<float>(i)), iota(0));
    request.set_id(std::to_string(i));
    if (i == 2) request.set_model_name("no_such_model");  // fails, the stream goes on
    ASSERT_TRUE(stream->Write(request));
  }
  stream->WritesDone();
  inference::ModelStreamInferResponse answer;
  for (int i = 0; i < kRequests; ++i) {
    ASSERT_TRUE(stream->Read(&answer)) << "answer " << i;
    if (i == 2) {
      EXPECT_NE(answer.error_message().find("no_such_model"), std::string::npos) << answer.error_message();
      continue;
    }
    EXPECT_EQ(answer.error_message(), "");
    EXPECT_EQ(answer.infer_response().id(), std::to_string(i));
    float first = 0;
    std::memcpy(&first, answer.infer_response().raw_output_contents(0).data(), sizeof(float));
    EXPECT_FLOAT_EQ(first, static_cast<float>(i));
  }
  EXPECT_FALSE(stream->Read(&answer));
  EXPECT_TRUE(stream->Finish().ok());
}

TEST_F(GrpcServerTest, StreamCancelledMidwayLeavesTheServerServing) {
  for (int round = 0; round < 5; ++round) {
    grpc::ClientContext context;
    auto stream = stub_->ModelStreamInfer(&context);
    for (int i = 0; i < 4; ++i) ASSERT_TRUE(stream->Write(add_request(iota(0), iota(0))));
    context.TryCancel();  // answers still being computed and written
    EXPECT_EQ(stream->Finish().error_code(), grpc::StatusCode::CANCELLED);
  }
  ModelInferResponse response;
  EXPECT_TRUE(infer(add_request(iota(0), iota(0)), &response).ok());
}

TEST_F(GrpcServerTest, BusyPortIsUnavailableWithTheReason) {
  GrpcOptions options;
  options.address = "127.0.0.1";
  options.port = server_->port();
  GrpcServer second(*service_, options);
  const Status status = second.start();
  EXPECT_EQ(status.code(), StatusCode::kUnavailable);
  EXPECT_NE(status.message().find("in use"), std::string::npos) << status.message();
}

}  // namespace
}  // namespace polaris
