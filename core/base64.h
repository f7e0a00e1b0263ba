// Base64 (RFC 4648, the standard alphabet with '=' padding) decoding, for
// bytes that travel inside JSON: Triton's HTTP load request carries model
// files that way ("file:1/model.onnx": "<base64>").
// Thread-safety: pure function.
#pragma once

#include <string>
#include <string_view>

#include "core/status.h"

namespace polaris {

// Strict: the length is a multiple of 4, every character is in the
// alphabet, and '=' only pads the end (at most two). No whitespace or line
// breaks: a wire value is one unbroken string. InvalidArgument names the
// first offending character's offset. The output is never larger than
// 3/4 of the input, so the caller's bound on the input bounds it too.
Result<std::string> decode_base64(std::string_view text);

}  // namespace polaris
