#include "server/compression.h"

#include <zlib.h>

#include <algorithm>
#include <cctype>
#include <cstdlib>


namespace polaris {
namespace {

std::string lower(std::string_view s) {
  std::string out(s);
  std::transform(out.begin(), out.end(), out.begin(), [](unsigned char c) { return std::tolower(c); });
  return out;
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

// Inflates `body` with zlib's `window_bits` (31: gzip, 15: zlib, -15: raw),
// handing each piece to `sink`; at most `limit` bytes in all.
template <typename Sink>
Status inflate_into(std::string_view body, int window_bits, std::size_t limit, Sink sink) {
  z_stream zs{};
  if (inflateInit2(&zs, window_bits) != Z_OK) return Internal("zlib inflateInit2 failed");
  zs.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(body.data()));
  zs.avail_in = static_cast<uInt>(body.size());
  std::size_t total = 0;
  char chunk[64 * 1024];
  int rc = Z_OK;
  Status status;
  while (status.ok() && rc != Z_STREAM_END) {
    zs.next_out = reinterpret_cast<Bytef*>(chunk);
    zs.avail_out = sizeof(chunk);
    rc = inflate(&zs, Z_NO_FLUSH);
    const std::size_t produced = sizeof(chunk) - zs.avail_out;
    if (rc != Z_OK && rc != Z_STREAM_END)
      status = InvalidArgument("the request body is not valid compressed data");
    else if (total + produced > limit)
      status = InvalidArgument("the decompressed request body exceeds the " + std::to_string(limit) + " byte limit");
    else if (rc == Z_OK && produced == 0 && zs.avail_in == 0)
      status = InvalidArgument("the compressed request body is truncated");
    else
      sink(chunk, produced);
    total += produced;
  }
  inflateEnd(&zs);
  return status;
}

// Two passes: the first only counts, so a compression bomb is refused
// without allocating anything, and the second writes into a buffer of the
// exact size (no doubling). Inflating runs at hundreds of MB/s, and
// compressed requests are rare; a bomb once left 16 MiB in each HTTP
// thread's malloc arena.
Result<std::string> inflate_with(std::string_view body, int window_bits, std::size_t limit) {
  std::size_t size = 0;
  POLARIS_RETURN_IF_ERROR(inflate_into(body, window_bits, limit, [&](const char*, std::size_t n) { size += n; }));
  std::string out;
  out.reserve(size);
  POLARIS_RETURN_IF_ERROR(inflate_into(body, window_bits, limit, [&](const char* p, std::size_t n) { out.append(p, n); }));
  return out;
}

}  // namespace

std::optional<ContentEncoding> parse_content_encoding(std::string_view header) {
  const std::string value = lower(trim(header));
  if (value.empty() || value == "identity") return ContentEncoding::kIdentity;
  if (value == "gzip" || value == "x-gzip") return ContentEncoding::kGzip;
  if (value == "deflate") return ContentEncoding::kDeflate;
  return std::nullopt;
}

ContentEncoding choose_response_encoding(std::string_view accept_encoding) {
  bool gzip = false, deflate = false;
  std::string_view rest = accept_encoding;
  while (!rest.empty()) {
    const auto comma = rest.find(',');
    std::string_view item = trim(rest.substr(0, comma));
    rest = comma == std::string_view::npos ? std::string_view() : rest.substr(comma + 1);
    const auto semi = item.find(';');
    const std::string name = lower(trim(item.substr(0, semi)));
    if (semi != std::string_view::npos) {  // "gzip;q=0" refuses gzip
      const std::string params = lower(item.substr(semi + 1));
      const auto q = params.find("q=");
      if (q != std::string::npos && std::strtod(params.c_str() + q + 2, nullptr) <= 0.0) continue;
    }
    gzip |= name == "gzip";
    deflate |= name == "deflate";
  }
  return gzip ? ContentEncoding::kGzip : deflate ? ContentEncoding::kDeflate : ContentEncoding::kIdentity;
}

std::string_view to_string(ContentEncoding encoding) {
  switch (encoding) {
    case ContentEncoding::kGzip: return "gzip";
    case ContentEncoding::kDeflate: return "deflate";
    case ContentEncoding::kIdentity: return "identity";
  }
  return "identity";
}

Result<std::string> decompress(std::string_view body, ContentEncoding encoding, std::size_t limit) {
  switch (encoding) {
    case ContentEncoding::kIdentity: return std::string(body);
    case ContentEncoding::kGzip: return inflate_with(body, 15 + 16, limit);
    case ContentEncoding::kDeflate: {
      // HTTP's "deflate" is the zlib format; some clients send raw deflate.
      auto zlib = inflate_with(body, 15, limit);
      if (zlib.ok() || zlib.status().message().find("exceeds") != std::string::npos) return zlib;
      return inflate_with(body, -15, limit);
    }
  }
  return InvalidArgument("unsupported content encoding");
}

std::string compress(std::string_view body, ContentEncoding encoding) {
  if (encoding == ContentEncoding::kIdentity) return std::string(body);
  z_stream zs{};
  deflateInit2(&zs, Z_DEFAULT_COMPRESSION, Z_DEFLATED, encoding == ContentEncoding::kGzip ? 15 + 16 : 15, 8,
               Z_DEFAULT_STRATEGY);
  std::string out(deflateBound(&zs, static_cast<uLong>(body.size())), '\0');
  zs.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(body.data()));
  zs.avail_in = static_cast<uInt>(body.size());
  zs.next_out = reinterpret_cast<Bytef*>(out.data());
  zs.avail_out = static_cast<uInt>(out.size());
  deflate(&zs, Z_FINISH);
  out.resize(zs.total_out);
  deflateEnd(&zs);
  return out;
}

}  // namespace polaris
