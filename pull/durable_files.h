// Files that appear whole or not at all (issue 19: "nothing is installed
// unless complete and verified").
//
// Each writer goes through a temporary file in the destination's folder:
// written, fsync'ed, renamed over the destination, then the folder is
// fsync'ed so the rename itself survives a power cut. A full disk is
// ResourceExhausted and leaves nothing behind.
// Thread-safety: all functions are thread-safe (temporary names are unique
// per process and call).
#pragma once

#include <string>

#include "core/status.h"

namespace polaris::pull {

// ResourceExhausted ("the disk is full ...") for ENOSPC/EDQUOT, else Internal.
Status write_error(const std::string& path, int error);
// fsync of a folder, so renames into it are durable.
Status sync_folder(const std::string& folder);
// Copies `source` to `destination`. The source is never changed.
Status copy_file_durably(const std::string& source, const std::string& destination);
// Makes a finished file durable and moves it to `destination`.
Status publish_durably(const std::string& file, const std::string& destination);
// Writes `text` to `destination`.
Status write_text_durably(const std::string& destination, const std::string& text);

}  // namespace polaris::pull
