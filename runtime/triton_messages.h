// Error messages in Triton's words, where Triton's clients, tests and users'
// scripts match the text (issue 17): one place, so the wording is kept and
// tested once (tests/python/test_triton_compat.py). Polaris's own detail
// follows Triton's phrase, never replaces it. Client strings are quoted
// cut (core/quote.h).
// Thread-safety: pure functions.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "core/status.h"

namespace polaris::triton {

// NotFound: "Request for unknown model: 'M' is not found"
Status unknown_model(std::string_view model);
// NotFound: "Request for unknown model: 'M' version V is not found"
Status unknown_version(std::string_view model, int64_t version);
// InvalidArgument: "failed to get model version from specified version
// string 'X'" (Triton's words), then why.
Status bad_version_string(std::string_view text);
// `error` prefixed "failed to load 'M' version V: " (Triton's words), same code.
Status load_failed(std::string_view model, int64_t version, const Status& error);
// A failed load request (the repository API): `error` prefixed "failed to
// load 'M': ", same code, unless it already says so (load_failed).
// Triton's model-control examples match "failed to load".
Status load_request_failed(std::string_view model, const Status& error);
// InvalidArgument: "contents field must not be specified when using
// raw_input_contents for 'I' for model 'M'"
Status contents_with_raw_contents(std::string_view input, std::string_view model);

}  // namespace polaris::triton
