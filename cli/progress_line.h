// One line of progress on stderr, shared by the commands that report long
// work (`pull`, `predict --input-dir`): redrawn in place on a terminal,
// printed as plain lines otherwise (a log, a pipe), so logs stay readable.
#pragma once

#include <unistd.h>

#include <iostream>
#include <string>

namespace polaris::cli {

class ProgressLine {
 public:
  ProgressLine() : terminal_(::isatty(STDERR_FILENO) == 1) {}

  bool terminal() const { return terminal_; }
  // Terminal only: replaces the line shown.
  void redraw(const std::string& text) {
    std::cerr << "\r\033[K" << text << std::flush;
    drawn_ = true;
  }
  // A line of its own, below (or instead of) the redrawn one.
  void print(const std::string& text) {
    clear();
    std::cerr << text << "\n";
  }
  void clear() {
    if (drawn_) std::cerr << "\r\033[K";
    drawn_ = false;
  }

 private:
  bool terminal_;
  bool drawn_ = false;
};

}  // namespace polaris::cli
