// dlopen for driver libraries the probes need only when present.
//
// The handle is deliberately never closed: ICD loaders and drivers register
// atexit handlers and threads (PoCL, Mesa), and unloading them while those
// live crashes at exit; the cost is one mapping per process.
#pragma once

#include <dlfcn.h>

#include <string>

namespace polaris::devices {

class DynamicLibrary {
 public:
  explicit DynamicLibrary(const char* soname) : soname_(soname) {
    handle_ = dlopen(soname, RTLD_NOW | RTLD_LOCAL);
    if (handle_ == nullptr) {
      const char* e = dlerror();
      error_ = e != nullptr ? e : "dlopen failed";
    }
  }
  bool loaded() const { return handle_ != nullptr; }
  const std::string& error() const { return error_; }

  // The symbol as a typed function pointer, e.g. sym<decltype(&clGetPlatformIDs)>("clGetPlatformIDs");
  // null when absent.
  template <typename Fn>
  Fn sym(const char* name) const {
    return handle_ == nullptr ? nullptr : reinterpret_cast<Fn>(dlsym(handle_, name));
  }

 private:
  std::string soname_;
  void* handle_ = nullptr;
  std::string error_;
};

// The folder of a library this process already loaded ("" when it is not
// loaded), e.g. libonnxruntime.so.1, whose provider libraries (CUDA,
// TensorRT) must sit beside it. Loads nothing.
std::string loaded_library_dir(const char* soname);

}  // namespace polaris::devices
