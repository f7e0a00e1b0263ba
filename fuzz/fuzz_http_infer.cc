// fuzz_http_infer: the KServe v2 HTTP infer body decoders
// (server/http_infer_codec.h) on arbitrary bodies, then what the server does
// with a request it decoded: request_options of its parameters,
// validate_request against a fixed config (runtime/request_validation.h),
// batch_rows and stack_inputs of the request with itself
// (runtime/batching.h), and encode_infer_response of its inputs echoed back
// as outputs (an identity model's answer).
//
// Checks, beyond "no crash, no ASan/UBSan report, no leak": every decoded
// tensor holds what its dtype x shape says and, when it is a view, lies
// inside the body and keeps it alive after the caller let go of it; a raw
// body that decodes passes validation against the config it was decoded for;
// a request that passes validation against `simple` has a batch of 1 to 8;
// the encoded response's JSON header parses and announces exactly the
// binary bytes that follow it.
//
// Input: byte 0 chooses how the rest is read (seeds: fuzz/make-seeds).
//   0  the rest is a JSON body (no Inference-Header-Content-Length)
//   1  binary extension: the rest is JSON header, one NUL byte, binary part;
//      Inference-Header-Content-Length is the header's length (NUL dropped)
//   2  binary extension with an explicit header length: bytes 1-2 (LE) are
//      Inference-Header-Content-Length, which may be wrong; the rest is the body
//   3  raw body (Inference-Header-Content-Length: 0): byte 1 picks one of the
//      configs below, the rest is the body
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "core/utf8.h"
#include "fuzz/fuzz_common.h"
#include "runtime/request_validation.h"
#include "server/http_infer_codec.h"
#include "server/inference_service.h"

namespace polaris::fuzz {
namespace {

// Configs for raw bodies: one input each (batching or not, every dtype
// family, a scalar), then two a raw body cannot carry.
const std::vector<inference::ModelConfig>& raw_configs() {
  static const std::vector<inference::ModelConfig> configs = {
      config_from_text(R"pb(name: "single" max_batch_size: 8
                            input { name: "INPUT0" data_type: TYPE_INT32 dims: [ 16 ] })pb"),
      config_from_text(R"pb(name: "strings" input { name: "TEXT" data_type: TYPE_STRING dims: [ 2 ] })pb"),
      config_from_text(R"pb(name: "flags" input { name: "FLAGS" data_type: TYPE_BOOL dims: [ 3, 2 ] })pb"),
      config_from_text(R"pb(name: "half" max_batch_size: 4
                            input { name: "X" data_type: TYPE_FP16 dims: [ 4 ] })pb"),
      config_from_text(R"pb(name: "scalar" input { name: "X" data_type: TYPE_INT64 dims: [] })pb"),
      config_from_text(R"pb(name: "variable" input { name: "X" data_type: TYPE_FP32 dims: [ -1 ] })pb"),
      simple_config(),
  };
  return configs;
}

// Where the body was: a decoded input that is a view must point into it.
struct BodyRange {
  std::uintptr_t begin = 0;
  std::size_t size = 0;
};

void check_inside(const std::string& name, const Tensor& t, BodyRange body) {
  if (t.owns_data() || t.byte_size() == 0) return;
  const auto p = reinterpret_cast<std::uintptr_t>(t.data());
  POLARIS_FUZZ_CHECK(p >= body.begin && p + t.byte_size() <= body.begin + body.size,
                     "input '%s' is a view outside the body", name.c_str());
}

// The server refuses strings that are not UTF-8 (RapidJSON 1.1.0 decoded a
// lone surrogate escape into such bytes, found here), so whatever decodes
// echoes back as JSON a strict parser reads.
void check_encoded_echo(const InferRequest& request) {
  POLARIS_FUZZ_CHECK(is_valid_utf8(request.id), "a decoded id is not UTF-8");
  for (const NamedTensor& in : request.inputs) POLARIS_FUZZ_CHECK(is_valid_utf8(in.name), "an input name is not UTF-8");
  InferResponse response;
  response.model_name = "simple";
  response.model_version = "1";
  response.id = request.id;
  std::size_t binary_bytes = 0;
  for (std::size_t i = 0; i < request.inputs.size(); ++i) {
    const Tensor& t = request.inputs[i].tensor;
    const bool binary = i % 2 == 1 || t.dtype() == DataType::kFp16 || t.dtype() == DataType::kBf16;
    if (binary) binary_bytes += t.byte_size();
    response.outputs.push_back({request.inputs[i].name, t, binary});
  }
  const EncodedInferResponse encoded = encode_infer_response(response);
  const std::size_t header = encoded.json_length.value_or(encoded.body.size());
  POLARIS_FUZZ_CHECK(header <= encoded.body.size() && encoded.body.size() - header == binary_bytes,
                     "response: %zu bytes after a %zu-byte header, %zu binary bytes expected",
                     encoded.body.size() - header, header, binary_bytes);
  const auto header_end = encoded.body.begin() + static_cast<std::ptrdiff_t>(header);
  const auto json = nlohmann::json::parse(encoded.body.begin(), header_end, nullptr, /*allow_exceptions=*/false);
  POLARIS_FUZZ_CHECK(!json.is_discarded() && json.contains("outputs") &&
                         json["outputs"].size() == response.outputs.size(),
                     "response header is not the JSON expected: %.*s", static_cast<int>(header), encoded.body.data());
}

void check_request(const InferRequest& request, BodyRange body, const inference::ModelConfig& config,
                   bool must_validate) {
  for (const NamedTensor& in : request.inputs) {
    check_tensor(in.name, in.tensor);
    check_inside(in.name, in.tensor, body);
  }
  (void)request_options(request.parameters);
  std::vector<std::string> outputs;
  for (const RequestedOutput& out : request.outputs) outputs.push_back(out.name);
  const Status valid = validate_request(config.name(), request.inputs, outputs, config);
  POLARIS_FUZZ_CHECK(valid.ok() || !must_validate, "a raw body decoded for '%s' fails its validation: %s",
                     config.name().c_str(), valid.to_string().c_str());
  if (valid.ok() && config.max_batch_size() > 0) {
    const Result<int64_t> rows = batch_rows(request.inputs);
    POLARIS_FUZZ_CHECK(rows.ok() && *rows >= 1 && *rows <= config.max_batch_size(),
                       "a valid request for '%s' has a batch of %s", config.name().c_str(),
                       rows.ok() ? std::to_string(*rows).c_str() : rows.status().to_string().c_str());
  }
  stack_with_itself(request.inputs);
  check_encoded_echo(request);
}

}  // namespace
}  // namespace polaris::fuzz

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, std::size_t size) {
  using namespace polaris;
  using namespace polaris::fuzz;
  if (size < 1) return 0;
  const uint8_t mode = data[0] % 4;
  const char* rest = reinterpret_cast<const char*>(data + 1);
  std::size_t rest_size = size - 1;

  auto body = std::make_shared<std::string>();
  std::optional<std::size_t> json_length;
  const inference::ModelConfig* config = &simple_config();
  switch (mode) {
    case 0:
      body->assign(rest, rest_size);
      break;
    case 1: {
      const void* nul = std::memchr(rest, '\0', rest_size);
      const std::size_t header = nul ? static_cast<std::size_t>(static_cast<const char*>(nul) - rest) : rest_size;
      body->assign(rest, header);
      if (nul) body->append(rest + header + 1, rest_size - header - 1);
      json_length = header;
      break;
    }
    case 2:
      if (rest_size < 2) return 0;
      json_length = static_cast<std::size_t>(data[1]) | (static_cast<std::size_t>(data[2]) << 8);
      body->assign(rest + 2, rest_size - 2);
      break;
    case 3:
      if (rest_size < 1) return 0;
      config = &raw_configs()[data[1] % raw_configs().size()];
      body->assign(rest + 1, rest_size - 1);
      break;
  }
  const BodyRange range{reinterpret_cast<std::uintptr_t>(body->data()), body->size()};
  std::shared_ptr<const std::string> shared = std::move(body);
  Result<InferRequest> request = mode == 3 ? decode_raw_infer_request(std::move(shared), *config)
                                           : decode_infer_request(std::move(shared), json_length);
  // Only the decoded views hold the body now: reading them after this point
  // checks that they keep it alive.
  if (!request.ok()) {
    POLARIS_FUZZ_CHECK(request.status().code() == StatusCode::kInvalidArgument, "decode failed with %s",
                       request.status().to_string().c_str());
    return 0;
  }
  check_request(*request, range, *config, /*must_validate=*/mode == 3);
  return 0;
}
