#include "runtime/triton_messages.h"

#include "core/quote.h"

namespace polaris::triton {

Status unknown_model(std::string_view model) {
  return NotFound("Request for unknown model: " + in_quotes(model) + " is not found");
}

Status unknown_version(std::string_view model, int64_t version) {
  return NotFound("Request for unknown model: " + in_quotes(model) + " version " + std::to_string(version) +
                  " is not found");
}

Status bad_version_string(std::string_view text) {
  return InvalidArgument("failed to get model version from specified version string " + in_quotes(text) +
                         ": a version is a positive integer");
}

Status load_failed(std::string_view model, int64_t version, const Status& error) {
  return Status(error.code(),
                "failed to load " + in_quotes(model) + " version " + std::to_string(version) + ": " + error.message());
}

Status load_request_failed(std::string_view model, const Status& error) {
  if (error.ok() || error.message().find("failed to load '") != std::string::npos) return error;
  return Status(error.code(), "failed to load " + in_quotes(model) + ": " + error.message());
}

Status contents_with_raw_contents(std::string_view input, std::string_view model) {
  return InvalidArgument("contents field must not be specified when using raw_input_contents for " + in_quotes(input) +
                         " for model " + in_quotes(model));
}

}  // namespace polaris::triton
