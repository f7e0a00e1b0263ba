#include "core/thread_name.h"

#include <pthread.h>

#include <cstring>
#include <string>

namespace polaris {

void name_this_thread(const char* name) {
  const std::string shortened(name, std::min<std::size_t>(std::strlen(name), 15));
  pthread_setname_np(pthread_self(), shortened.c_str());
}

void name_this_thread_once(const char* name) {
  thread_local bool named = false;
  if (named) return;
  name_this_thread(name);
  named = true;
}

}  // namespace polaris
