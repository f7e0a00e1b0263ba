#include "devices/dynamic_library.h"

#include <link.h>

#include <filesystem>

namespace polaris::devices {

std::string loaded_library_dir(const char* soname) {
  void* handle = dlopen(soname, RTLD_NOW | RTLD_NOLOAD);
  if (handle == nullptr) return "";
  link_map* map = nullptr;
  std::string dir;
  if (dlinfo(handle, RTLD_DI_LINKMAP, &map) == 0 && map != nullptr && map->l_name != nullptr)
    dir = std::filesystem::path(map->l_name).parent_path().string();
  dlclose(handle);  // drops only the reference RTLD_NOLOAD added
  return dir;
}

}  // namespace polaris::devices
