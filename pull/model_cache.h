// The content-addressed cache of pulled model files (issue 19).
//
// A model is downloaded once per machine: files are kept by their sha256,
// so two names or two mirrors of one file share one copy, and a pull that
// knows the hash needs no network at all when the file is here. Layout
// under the cache folder (default <cache root>/models, see
// runtime/provider_choice.h's cache_root):
//   blobs/<sha256>        complete, verified files (read-only once there)
//   partial/<key>.part    downloads in progress, resumable (key: the
//                         expected sha256, else the URL's sha256)
//   urls/<sha256 of URL>  the blob a URL gave last time, for pulls that
//                         name a URL without a hash
// A file enters blobs/ only complete and verified: hashed, fsync'ed, then
// renamed into place (and its folder fsync'ed), so a crash or a full disk
// never leaves a half file that a later pull would trust.
// Thread-safety: instances are immutable; concurrent pulls of one file may
// both download it, and the second rename replaces the first with the same
// bytes.
#pragma once

#include <optional>
#include <string>

#include "core/status.h"

namespace polaris::pull {

// True for 64 lowercase hex digits (what sha256sum prints; pass hashes
// through normalize_sha256 first).
bool is_sha256(const std::string& text);
// Lowercases; InvalidArgument unless the result is_sha256.
Result<std::string> normalize_sha256(const std::string& text);

class ModelCache {
 public:
  explicit ModelCache(std::string dir);

  const std::string& dir() const { return dir_; }

  // The cached file with this content, if there is one.
  std::optional<std::string> find(const std::string& sha256) const;
  // The hash a URL's download had last time (its blob may have gone since).
  std::optional<std::string> hash_for_url(const std::string& url) const;

  // Where a download in progress is kept: the expected hash when known,
  // else the URL, names it, so an interrupted pull resumes on the next run.
  // Creates the folder.
  Result<std::string> partial_path(const std::optional<std::string>& expected_sha256, const std::string& url) const;

  // Verifies a finished download (against `expected_sha256` when given),
  // moves it into blobs/ and remembers `url` for it; returns the blob's
  // hash and path. A mismatch deletes the partial file (its bytes are not
  // the ones asked for, so resuming them cannot help) and is
  // InvalidArgument naming both hashes.
  struct Entry {
    std::string sha256;
    std::string path;
  };
  Result<Entry> publish(const std::string& partial_path, const std::optional<std::string>& expected_sha256,
                        const std::string& url) const;

  // Copies a local file into the cache (a model brought on a USB stick);
  // same checks as publish. The source is never changed.
  Result<Entry> import_file(const std::string& source, const std::optional<std::string>& expected_sha256) const;

 private:
  std::string dir_;
};

}  // namespace polaris::pull
