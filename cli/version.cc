#include <iostream>

#include "cli/commands.h"
#include "core/build_info.h"

namespace polaris::cli {

void print_version() {
  namespace bi = polaris::build_info;
  auto engine = [](const char* version) { return *version ? version : "not built"; };
  std::cout << "polaris " << bi::kPolarisVersion << "\n"
            << "  ONNX Runtime " << engine(bi::kOnnxRuntimeVersion) << "\n"
            << "  libtorch " << engine(bi::kTorchVersion) << "\n"
            << "  OpenCV " << engine(bi::kOpenCvVersion) << "\n"
            << "  built " << bi::kBuildType << " with " << bi::kCompiler << "\n";
}

}  // namespace polaris::cli
