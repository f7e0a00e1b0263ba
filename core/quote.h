// Client strings as messages quote them. A request can carry a name of
// megabytes; quoting it whole made error messages larger than gRPC clients
// accept (grpc-message over their metadata limit: RESOURCE_EXHAUSTED) and
// let one request make the server copy that much into every message.
// Thread-safety: pure functions.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace polaris {

// Longest client string a message quotes whole.
inline constexpr std::size_t kQuotedMaxBytes = 128;
// Longest message sent to a client (HTTP error bodies, grpc-message).
inline constexpr std::size_t kClientMessageMaxBytes = 2048;

// 'text' in single quotes; a longer text is cut at a character boundary
// and says how long it was: 'abc...' (20000 bytes).
std::string in_quotes(std::string_view text, std::size_t max_bytes = kQuotedMaxBytes);

// `message` cut to `max_bytes` at a character boundary, saying so: the
// last net under every message that leaves the server.
std::string clip_message(std::string_view message, std::size_t max_bytes = kClientMessageMaxBytes);

}  // namespace polaris
