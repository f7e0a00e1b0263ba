#include "core/base64.h"

#include <openssl/evp.h>

#include <algorithm>

namespace polaris {
namespace {

bool in_alphabet(char c) {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '+' || c == '/';
}

}  // namespace

Result<std::string> decode_base64(std::string_view text) {
  // OpenSSL's EVP_DecodeBlock does the decoding but is lenient (it skips
  // surrounding whitespace and accepts '=' mid-string), so the form is
  // checked here first: a malformed value is an error, never half a file.
  if (text.size() % 4 != 0)
    return InvalidArgument("is not valid base64: its length " + std::to_string(text.size()) +
                           " is not a multiple of 4");
  std::size_t padding = 0;
  if (!text.empty() && text.back() == '=') padding = text[text.size() - 2] == '=' ? 2 : 1;
  const std::size_t data_end = text.size() - padding;
  for (std::size_t i = 0; i < data_end; ++i)
    if (!in_alphabet(text[i]))
      return InvalidArgument("is not valid base64: character " + std::to_string(i) + " is not in the alphabet");

  std::string out(text.size() / 4 * 3, '\0');
  // EVP_DecodeBlock takes an int length: decode in bounded pieces (a
  // multiple of 4 characters, 3 bytes out for every 4 in).
  constexpr std::size_t kPiece = std::size_t{1} << 26;
  for (std::size_t in = 0, at = 0; in < text.size(); in += kPiece, at += kPiece / 4 * 3) {
    const std::size_t n = std::min(kPiece, text.size() - in);
    const int written = EVP_DecodeBlock(reinterpret_cast<unsigned char*>(out.data() + at),
                                        reinterpret_cast<const unsigned char*>(text.data() + in), static_cast<int>(n));
    if (written < 0 || static_cast<std::size_t>(written) != n / 4 * 3)
      return InvalidArgument("is not valid base64");
  }
  out.resize(out.size() - padding);  // EVP_DecodeBlock writes the padding as zero bytes
  return out;
}

}  // namespace polaris
