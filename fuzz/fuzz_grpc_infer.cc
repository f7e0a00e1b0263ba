// fuzz_grpc_infer: the KServe v2 gRPC infer decoder (server/grpc_infer_codec.h)
// on arbitrary inference::ModelInferRequest messages (the input is parsed
// with ParseFromArray, as gRPC hands the server the message), then what the
// server does with a request it decoded: request_options of its parameters,
// validate_request against Triton's `simple` config, batch_rows and
// stack_inputs of the request with itself, and encode_grpc_infer_response of
// its inputs echoed back as outputs.
//
// Checks, beyond "no crash, no ASan/UBSan report, no leak": every decoded
// tensor holds what its dtype x shape says; raw inputs that are views lie in
// their raw_input_contents entry and keep the message alive after the caller
// let go of it; the encoded response carries each tensor's bytes unchanged.
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

#include <google/protobuf/stubs/logging.h>

#include "fuzz/fuzz_common.h"
#include "proto/grpc_service.pb.h"
#include "runtime/request_validation.h"
#include "server/grpc_infer_codec.h"
#include "server/inference_service.h"

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  // protobuf logs an ERROR for every string field that is not UTF-8 it
  // parses (and then refuses the message); at thousands of inputs a second
  // that is only noise.
  google::protobuf::SetLogHandler([](google::protobuf::LogLevel, const char*, int, const std::string&) {});
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, std::size_t size) {
  using namespace polaris;
  using namespace polaris::fuzz;
  auto message = std::make_shared<inference::ModelInferRequest>();
  if (!message->ParseFromArray(data, static_cast<int>(size))) return 0;

  // Where each raw entry's bytes are, for the views' bounds check.
  std::vector<std::pair<std::uintptr_t, std::size_t>> raw;
  for (const std::string& r : message->raw_input_contents())
    raw.emplace_back(reinterpret_cast<std::uintptr_t>(r.data()), r.size());

  const inference::ModelInferRequest& view = *message;
  Result<InferRequest> request = decode_grpc_infer_request(view, std::shared_ptr<const void>(std::move(message)));
  // Only the decoded views hold the message now.
  if (!request.ok()) {
    POLARIS_FUZZ_CHECK(request.status().code() == StatusCode::kInvalidArgument, "decode failed with %s",
                       request.status().to_string().c_str());
    return 0;
  }

  for (std::size_t i = 0; i < request->inputs.size(); ++i) {
    const NamedTensor& in = request->inputs[i];
    check_tensor(in.name, in.tensor);
    if (!raw.empty() && !in.tensor.owns_data() && in.tensor.byte_size() > 0) {
      const auto p = reinterpret_cast<std::uintptr_t>(in.tensor.data());
      POLARIS_FUZZ_CHECK(i < raw.size() && p >= raw[i].first &&
                             p + in.tensor.byte_size() <= raw[i].first + raw[i].second,
                         "input '%s' is a view outside its raw_input_contents entry", in.name.c_str());
    }
  }
  (void)request_options(request->parameters);

  std::vector<std::string> outputs;
  for (const RequestedOutput& out : request->outputs) outputs.push_back(out.name);
  const inference::ModelConfig& config = simple_config();
  if (validate_request(config.name(), request->inputs, outputs, config).ok()) {
    const Result<int64_t> rows = batch_rows(request->inputs);
    POLARIS_FUZZ_CHECK(rows.ok() && *rows >= 1 && *rows <= config.max_batch_size(), "a valid request has a batch of %s",
                       rows.ok() ? std::to_string(*rows).c_str() : rows.status().to_string().c_str());
  }
  stack_with_itself(request->inputs);

  InferResponse echo;
  echo.model_name = "simple";
  echo.model_version = "1";
  echo.id = request->id;
  for (const NamedTensor& in : request->inputs) echo.outputs.push_back({in.name, in.tensor, false});
  inference::ModelInferResponse response;
  encode_grpc_infer_response(echo, response);
  POLARIS_FUZZ_CHECK(response.outputs_size() == static_cast<int>(echo.outputs.size()) &&
                         response.raw_output_contents_size() == response.outputs_size(),
                     "%d outputs, %d raw entries for %zu tensors", response.outputs_size(),
                     response.raw_output_contents_size(), echo.outputs.size());
  for (int i = 0; i < response.outputs_size(); ++i) {
    const Tensor& t = echo.outputs[static_cast<std::size_t>(i)].tensor;
    const std::string& bytes = response.raw_output_contents(i);
    POLARIS_FUZZ_CHECK(bytes.size() == t.byte_size() &&
                           (bytes.empty() || std::memcmp(bytes.data(), t.data(), bytes.size()) == 0),
                       "output '%s' is not encoded as its bytes", response.outputs(i).name().c_str());
  }
  return 0;
}
