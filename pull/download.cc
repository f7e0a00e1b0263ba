#include "pull/download.h"

#include <curl/curl.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <memory>
#include <mutex>
#include <thread>

#include <fmt/format.h>

#include "core/build_info.h"
#include "core/byte_size.h"

namespace polaris::pull {
namespace {

using Clock = std::chrono::steady_clock;

// libcurl's global set-up is not thread-safe before 7.84: do it once.
void init_curl_once() {
  static std::once_flag once;
  std::call_once(once, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
}

uint64_t file_size_or_zero(const std::string& path) {
  struct stat st {};
  return ::stat(path.c_str(), &st) == 0 ? static_cast<uint64_t>(st.st_size) : 0;
}

// One attempt's state, shared with libcurl's callbacks.
struct Transfer {
  CURL* curl = nullptr;
  int fd = -1;
  uint64_t start = 0;  // bytes the partial file held before this attempt
  uint64_t have = 0;
  std::optional<uint64_t> total;
  const DownloadOptions* options = nullptr;
  Clock::time_point began = Clock::now();
  int write_errno = 0;
  std::optional<uint64_t> wrong_size;  // the size the server announced, when it was not the expected one

  void report() const {
    if (!options->on_progress) return;
    options->on_progress(DownloadProgress{have, total, start,
                                          std::chrono::duration<double>(Clock::now() - began).count()});
  }
};

// The whole file's size from the first body bytes' headers: what this
// response carries plus what the partial file already held.
void learn_total(Transfer& t) {
  if (t.total) return;
  curl_off_t remaining = -1;
  if (curl_easy_getinfo(t.curl, CURLINFO_CONTENT_LENGTH_DOWNLOAD_T, &remaining) == CURLE_OK && remaining >= 0)
    t.total = t.start + static_cast<uint64_t>(remaining);
  if (t.total && t.options->expected_size && *t.total != *t.options->expected_size) t.wrong_size = t.total;
  if (t.total && *t.total > t.options->max_bytes) t.wrong_size = t.total;
}

size_t write_body(char* data, size_t size, size_t count, void* user) {
  auto& t = *static_cast<Transfer*>(user);
  const size_t bytes = size * count;
  learn_total(t);
  // Stop as soon as the resource is known not to be the one asked for:
  // never fill a disk with a file of the wrong size.
  if (t.wrong_size) return 0;
  const uint64_t limit = t.options->expected_size.value_or(t.options->max_bytes);
  if (t.have + bytes > limit) {
    t.wrong_size = t.have + bytes;
    return 0;
  }
  size_t written = 0;
  while (written < bytes) {
    const ssize_t n = ::write(t.fd, data + written, bytes - written);
    if (n < 0) {
      if (errno == EINTR) continue;
      t.write_errno = errno;
      return 0;  // libcurl ends the transfer with CURLE_WRITE_ERROR
    }
    written += static_cast<size_t>(n);
  }
  t.have += bytes;
  return bytes;
}

int on_transfer_info(void* user, curl_off_t, curl_off_t, curl_off_t, curl_off_t) {
  static_cast<Transfer*>(user)->report();
  return 0;
}

enum class Next { kDone, kRetry, kStartOver, kGiveUp };

struct Outcome {
  Next next = Next::kGiveUp;
  Status status;
};

Outcome classify(CURLcode code, long http_status, const Transfer& t, const std::string& url,
                 const std::string& partial_path) {
  const std::string where = "downloading " + url;
  if (t.wrong_size && t.options->expected_size)
    return {Next::kGiveUp, InvalidArgument(fmt::format("{}: the server has {} where {} were expected", where,
                                                       format_byte_size(*t.wrong_size),
                                                       format_byte_size(*t.options->expected_size)))};
  if (t.wrong_size)
    return {Next::kGiveUp, InvalidArgument(fmt::format("{}: larger than {}, the most a model file may be", where,
                                                       format_byte_size(t.options->max_bytes)))};
  if (code == CURLE_OK) return {Next::kDone, Status::Ok()};
  if (code == CURLE_WRITE_ERROR && t.write_errno != 0) {
    if (t.write_errno == ENOSPC || t.write_errno == EDQUOT)
      return {Next::kGiveUp, ResourceExhausted(fmt::format("{}: the disk is full (writing {}); free some space and "
                                                           "pull again",
                                                           where, partial_path))};
    return {Next::kGiveUp,
            Internal(fmt::format("{}: cannot write {}: {}", where, partial_path, std::strerror(t.write_errno)))};
  }
  if (code == CURLE_RANGE_ERROR) return {Next::kStartOver, Status::Ok()};
  if (code == CURLE_HTTP_RETURNED_ERROR) {
    const std::string status_text = fmt::format("{}: HTTP {}", where, http_status);
    if (http_status == 416) return {Next::kStartOver, Status::Ok()};
    if (http_status == 404 || http_status == 410) return {Next::kGiveUp, NotFound(status_text + " (no such file)")};
    if (http_status >= 500 || http_status == 408 || http_status == 429) return {Next::kRetry, Unavailable(status_text)};
    return {Next::kGiveUp, FailedPrecondition(status_text)};
  }
  const std::string detail = fmt::format("{}: {}", where, curl_easy_strerror(code));
  switch (code) {
    case CURLE_UNSUPPORTED_PROTOCOL:
    case CURLE_URL_MALFORMAT:
      return {Next::kGiveUp, InvalidArgument(detail + " (only http and https URLs are downloaded)")};
    case CURLE_PARTIAL_FILE:
    case CURLE_RECV_ERROR:
    case CURLE_SEND_ERROR:
    case CURLE_GOT_NOTHING:
    case CURLE_OPERATION_TIMEDOUT:
      // Broke off mid-transfer (or stalled): another attempt resumes.
      return {Next::kRetry, Unavailable(detail)};
    default:
      // Unresolvable, refused, TLS failures, too many redirects: another
      // attempt at this URL would fail the same way; the next mirror may not.
      return {Next::kGiveUp, Unavailable(detail)};
  }
}

using CurlHandle = std::unique_ptr<CURL, decltype(&curl_easy_cleanup)>;

Outcome attempt(const std::string& url, const std::string& partial_path, const DownloadOptions& options) {
  Transfer t;
  t.options = &options;
  t.start = file_size_or_zero(partial_path);
  t.have = t.start;
  if (options.expected_size && t.start == *options.expected_size) return {Next::kDone, Status::Ok()};
  t.fd = ::open(partial_path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  if (t.fd < 0)
    return {Next::kGiveUp, Internal(fmt::format("cannot write {}: {}", partial_path, std::strerror(errno)))};
  CurlHandle curl(curl_easy_init(), curl_easy_cleanup);
  t.curl = curl.get();
  const std::string agent = std::string("polaris/") + build_info::kPolarisVersion;
  curl_easy_setopt(t.curl, CURLOPT_URL, url.c_str());
  curl_easy_setopt(t.curl, CURLOPT_PROTOCOLS_STR, "http,https");
  curl_easy_setopt(t.curl, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
  curl_easy_setopt(t.curl, CURLOPT_FOLLOWLOCATION, 1L);
  curl_easy_setopt(t.curl, CURLOPT_MAXREDIRS, 10L);
  curl_easy_setopt(t.curl, CURLOPT_FAILONERROR, 1L);
  curl_easy_setopt(t.curl, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(t.curl, CURLOPT_USERAGENT, agent.c_str());
  curl_easy_setopt(t.curl, CURLOPT_CONNECTTIMEOUT, static_cast<long>(options.connect_timeout.count()));
  curl_easy_setopt(t.curl, CURLOPT_LOW_SPEED_LIMIT, 1L);
  curl_easy_setopt(t.curl, CURLOPT_LOW_SPEED_TIME, static_cast<long>(options.stall_timeout.count()));
  curl_easy_setopt(t.curl, CURLOPT_WRITEFUNCTION, write_body);
  curl_easy_setopt(t.curl, CURLOPT_WRITEDATA, &t);
  curl_easy_setopt(t.curl, CURLOPT_NOPROGRESS, 0L);
  curl_easy_setopt(t.curl, CURLOPT_XFERINFOFUNCTION, on_transfer_info);
  curl_easy_setopt(t.curl, CURLOPT_XFERINFODATA, &t);
  if (t.start > 0) curl_easy_setopt(t.curl, CURLOPT_RESUME_FROM_LARGE, static_cast<curl_off_t>(t.start));
  if (t.start > 0 && options.on_notice)
    options.on_notice(fmt::format("resuming {} at {}", url, format_byte_size(t.start)));
  const CURLcode code = curl_easy_perform(t.curl);
  long http_status = 0;
  curl_easy_getinfo(t.curl, CURLINFO_RESPONSE_CODE, &http_status);
  ::close(t.fd);
  t.report();
  Outcome outcome = classify(code, http_status, t, url, partial_path);
  // What the partial file holds is wrong, or what made it fail would only
  // come back: it goes. Broken-off transfers keep it to resume from.
  if ((outcome.next == Next::kGiveUp && outcome.status.code() != StatusCode::kUnavailable &&
       outcome.status.code() != StatusCode::kNotFound) ||
      (outcome.next != Next::kDone && file_size_or_zero(partial_path) == 0))
    ::unlink(partial_path.c_str());
  return outcome;
}

}  // namespace

Status download(const std::string& url, const std::string& partial_path, const DownloadOptions& options) {
  init_curl_once();
  auto pause = options.retry_pause;
  int retries_left = options.retries;
  bool started_over = false;
  for (;;) {
    const uint64_t before = file_size_or_zero(partial_path);
    Outcome outcome = attempt(url, partial_path, options);
    switch (outcome.next) {
      case Next::kDone:
        return Status::Ok();
      case Next::kGiveUp:
        return outcome.status;
      case Next::kStartOver:
        // The server cannot resume (it ignores ranges, or the partial file
        // is not a prefix of what it has now): once from byte 0.
        ::unlink(partial_path.c_str());
        if (started_over || before == 0)
          return FailedPrecondition("downloading " + url + ": the server refused the byte range asked for");
        started_over = true;
        if (options.on_notice) options.on_notice("the server cannot resume " + url + ": starting over");
        continue;
      case Next::kRetry: {
        // An attempt that stored new bytes costs no retry: a long download
        // over a flaky line gets there as long as it moves.
        const bool moved = file_size_or_zero(partial_path) > before;
        if (!moved && retries_left-- <= 0) return outcome.status;
        if (options.on_notice)
          options.on_notice(fmt::format("{}; retrying (resuming at {})", outcome.status.message(),
                                        format_byte_size(file_size_or_zero(partial_path))));
        if (!moved) {
          std::this_thread::sleep_for(pause);
          pause *= 2;
        }
        continue;
      }
    }
  }
}

}  // namespace polaris::pull
