// HTTP body compression (Content-Encoding / Accept-Encoding gzip and
// deflate) with zlib.
// Thread-safety: pure functions.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

#include "core/status.h"

namespace polaris {

enum class ContentEncoding { kIdentity, kGzip, kDeflate };

// "gzip" / "deflate" / "identity" (or empty); nullopt for anything else.
std::optional<ContentEncoding> parse_content_encoding(std::string_view header);
// The encoding to answer with from an Accept-Encoding header: gzip if
// accepted, else deflate, else identity ("q=0" entries are refused).
ContentEncoding choose_response_encoding(std::string_view accept_encoding);
std::string_view to_string(ContentEncoding encoding);

// Inflates a gzip or deflate (zlib, or raw as some clients send) body.
// InvalidArgument when corrupt or when the result would exceed `limit`:
// a small body must not inflate into unbounded memory.
Result<std::string> decompress(std::string_view body, ContentEncoding encoding, std::size_t limit);
std::string compress(std::string_view body, ContentEncoding encoding);

}  // namespace polaris
