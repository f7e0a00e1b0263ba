// Log set-up for the command-line tools: spdlog's default logger writes to
// stderr, so stdout carries only a command's output (tables, JSON).
#pragma once

namespace polaris::cli {

enum class LogLevel { kDebug, kInfo, kWarning, kError };

void init_logging(LogLevel level);

}  // namespace polaris::cli
