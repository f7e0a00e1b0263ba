// Names the calling thread (as `top -H`, /proc/<pid>/task/*/comm and
// debuggers show it), so the process's threads can be told apart and
// counted (docs/scheduling.md, "Threads"). Linux keeps 15 characters.
#pragma once

namespace polaris {

void name_this_thread(const char* name);
// The same, once per thread: for pool threads that run posted work.
void name_this_thread_once(const char* name);

}  // namespace polaris
