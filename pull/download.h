// One HTTP(S) download into a partial file, resumable (issue 19, `polaris pull`).
//
// A model file on a slow rural link can take an hour; a dropped connection
// must not start it over. The transfer appends to a partial file: when that
// file already holds bytes (an earlier attempt, or an earlier run), the
// request asks for the rest with a Range header, and a server that ignores
// ranges makes it start over from byte 0. Transfers that fail half-way are
// retried, resuming, a bounded number of times; failures that another
// attempt cannot fix (404, refused connections, a full disk) return at once
// so the caller can try the next mirror. Redirects are followed (hosting
// services answer with one), over http and https only.
// Thread-safety: download() may run on several threads at once (each call
// has its own libcurl handle).
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>

#include "core/status.h"

namespace polaris::pull {

struct DownloadProgress {
  uint64_t have = 0;                 // bytes in the partial file now
  std::optional<uint64_t> total;     // the whole file's size, once the server says it
  uint64_t resumed_from = 0;         // bytes the partial file held when this attempt began
  double seconds = 0;                // since this attempt began
};

struct DownloadOptions {
  int retries = 3;                                 // extra attempts after a transfer broke off
  std::chrono::milliseconds retry_pause{500};      // doubled after each retry
  std::chrono::seconds connect_timeout{20};
  std::chrono::seconds stall_timeout{60};          // no byte for this long: the attempt fails
  std::optional<uint64_t> expected_size;           // refuse a resource of another size before storing it
  uint64_t max_bytes = uint64_t{1} << 36;          // 64 GiB: no model is larger; bounds a server that never ends
  std::function<void(const DownloadProgress&)> on_progress;
  std::function<void(const std::string&)> on_notice;  // "resuming at ...", "retrying ..."
};

// Downloads `url` into `partial_path`, resuming from what that file holds.
// OK when the file holds the whole resource. Errors: NotFound (HTTP 404 or
// 410), Unavailable (unreachable, refused, timed out, HTTP 5xx after the
// retries), ResourceExhausted (the disk is full), InvalidArgument (a URL
// that is not http or https, a size other than expected), FailedPrecondition
// (other HTTP errors). The partial file is kept on errors a later attempt
// can resume from, and removed when what it holds is known to be wrong.
Status download(const std::string& url, const std::string& partial_path, const DownloadOptions& options);

}  // namespace polaris::pull
