#include "core/quote.h"

namespace polaris {
namespace {

// The longest prefix of `text` of at most `max_bytes` that does not end
// inside a UTF-8 sequence (bytes that are not UTF-8 are left as they are;
// the frontends replace them).
std::string_view utf8_prefix(std::string_view text, std::size_t max_bytes) {
  if (text.size() <= max_bytes) return text;
  std::size_t end = max_bytes;
  // Step back over continuation bytes (10xxxxxx) to the start of a sequence.
  for (int back = 0; back < 4 && end > 0 && (static_cast<unsigned char>(text[end]) & 0xC0) == 0x80; ++back) --end;
  return text.substr(0, end);
}

}  // namespace

std::string in_quotes(std::string_view text, std::size_t max_bytes) {
  if (text.size() <= max_bytes) return "'" + std::string(text) + "'";
  return "'" + std::string(utf8_prefix(text, max_bytes)) + "...' (" + std::to_string(text.size()) + " bytes)";
}

std::string clip_message(std::string_view message, std::size_t max_bytes) {
  if (message.size() <= max_bytes) return std::string(message);
  const std::string tail = " ... (message cut at " + std::to_string(max_bytes) + " of " +
                           std::to_string(message.size()) + " bytes)";
  const std::size_t keep = max_bytes > tail.size() ? max_bytes - tail.size() : 0;
  return std::string(utf8_prefix(message, keep)) + tail;
}

}  // namespace polaris
