// Device discovery on this machine's real drivers: the CPU's ISA flags
// against the kernel's, PoCL as an OpenCL device, bootstrap's software
// Vulkan driver, no drivers at all, and a recorded sysfs tree of an RX 580.
#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <set>
#include <sstream>

#include "devices/cpu_features.h"
#include "devices/discovery.h"
#include "devices/probes.h"
#include "devices/provider_support.h"

namespace polaris::devices {
namespace {

namespace fs = std::filesystem;

std::set<std::string> proc_cpuinfo_flags() {
  std::ifstream in("/proc/cpuinfo");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("flags", 0) != 0) continue;
    std::istringstream words(line.substr(line.find(':') + 1));
    return {std::istream_iterator<std::string>(words), std::istream_iterator<std::string>()};
  }
  return {};
}

bool has(const std::vector<std::string>& v, const std::string& s) { return std::find(v.begin(), v.end(), s) != v.end(); }

const ProviderUse* provider(const Device& d, const std::string& engine, const std::string& name) {
  for (const auto& p : d.providers)
    if (p.engine == engine && p.provider == name) return &p;
  return nullptr;
}

EngineFacts all_engines() {
  EngineFacts f;
  f.onnxruntime = f.torch = f.opencv = true;
  f.ort_providers = {"WebGpuExecutionProvider", "CUDAExecutionProvider", "CPUExecutionProvider"};
  f.ort_library_dir = "/nonexistent";
  return f;
}

TEST(Devices, CpuIsaFlagsAgreeWithProcCpuinfo) {
  const auto flags = proc_cpuinfo_flags();
  ASSERT_FALSE(flags.empty()) << "no flags line in /proc/cpuinfo";
  const DeviceSource cpu = probe_cpu();
  ASSERT_TRUE(cpu.available);
  ASSERT_EQ(cpu.devices.size(), 1u);
  const Device& d = cpu.devices[0];
  // Every feature we know, both ways: reported exactly when the kernel lists it.
  for (const auto& name : known_cpu_isa_features())
    EXPECT_EQ(has(d.features, name), flags.count(name) == 1) << name << " disagrees with /proc/cpuinfo";
  EXPECT_TRUE(has(d.features, "sse4_2")) << "every x86-64 CPU ORT runs on has SSE4.2";
  EXPECT_EQ(d.properties.at("logical_cpus"), std::to_string(sysconf(_SC_NPROCESSORS_ONLN)));
  EXPECT_GT(d.memory_bytes, 0u);
  EXPECT_NE(d.name, "unknown CPU");
}

TEST(Devices, PoclIsListedAsAnOpenClDevice) {
  if (const char* v = std::getenv("OCL_ICD_VENDORS"); v != nullptr)
    GTEST_SKIP() << "OCL_ICD_VENDORS=" << v << " chooses the drivers";
  ASSERT_TRUE(fs::exists("/etc/OpenCL/vendors/pocl.icd")) << "pocl-opencl-icd is not installed (scripts/bootstrap)";
  DeviceReport report{{probe_opencl()}};
  assign_providers(report, all_engines());
  const DeviceSource& cl = report.sources[0];
  ASSERT_TRUE(cl.available) << cl.reason;
  const auto pocl = std::find_if(cl.devices.begin(), cl.devices.end(), [](const Device& d) {
    return d.properties.at("platform").find("Portable Computing Language") != std::string::npos;
  });
  ASSERT_NE(pocl, cl.devices.end()) << "no PoCL device among " << cl.devices.size();
  EXPECT_EQ(pocl->type, "cpu");
  EXPECT_GT(pocl->memory_bytes, 0u);
  EXPECT_NE(pocl->properties.at("compute_units"), "0");
  // PoCL is a CPU device: OpenCV uses it only when told to trust any device.
  const ProviderUse* opencl = provider(*pocl, "opencv", "opencl");
  ASSERT_NE(opencl, nullptr);
  const char* allow = std::getenv("OPENCV_DNN_OPENCL_ALLOW_ALL_DEVICES");
  EXPECT_EQ(opencl->usable, allow != nullptr && std::string(allow) == "1");
  const ProviderUse* fp16 = provider(*pocl, "opencv", "opencl_fp16");
  ASSERT_NE(fp16, nullptr);
  if (!has(pocl->features, "cl_khr_fp16")) {
    EXPECT_FALSE(fp16->usable);
    EXPECT_NE(fp16->note.find("cl_khr_fp16"), std::string::npos);
  }
}

TEST(Devices, CpuOffersEveryBuiltEngine) {
  DeviceReport report{{probe_cpu()}};
  EngineFacts facts;
  facts.onnxruntime = facts.opencv = true;  // torch switched off
  assign_providers(report, facts);
  const Device& cpu = report.sources[0].devices[0];
  EXPECT_NE(provider(cpu, "onnxruntime", "cpu"), nullptr);
  EXPECT_NE(provider(cpu, "opencv", "cpu"), nullptr);
  EXPECT_EQ(provider(cpu, "torch", "cpu"), nullptr);
}

TEST(Devices, CudaWithoutProviderLibraryIsNotUsable) {
  // A CUDA device as the probe reports it; this machine's ORT lists CUDA
  // but ships no provider library.
  DeviceReport report{{DeviceSource{"cuda", true, "", {Device{"cuda:0", "GPU", "gpu", 0, {}, {}, {}}}}}};
  EngineFacts facts = all_engines();
  facts.torch_providers = {"cuda:0", "cpu"};
  assign_providers(report, facts);
  const Device& gpu = report.sources[0].devices[0];
  const ProviderUse* ort = provider(gpu, "onnxruntime", "cuda");
  ASSERT_NE(ort, nullptr);
  EXPECT_FALSE(ort->usable);
  EXPECT_NE(ort->note.find("libonnxruntime_providers_cuda.so"), std::string::npos) << ort->note;
  const ProviderUse* torch = provider(gpu, "torch", "cuda:0");
  ASSERT_NE(torch, nullptr);
  EXPECT_TRUE(torch->usable);
}

TEST(Devices, CudaProbeNeverCrashes) {
  const DeviceSource cuda = probe_cuda();
  if (!cuda.available) {
    EXPECT_FALSE(cuda.reason.empty());
  }
  for (const auto& d : cuda.devices) {
    EXPECT_FALSE(d.name.empty());
    EXPECT_GT(d.memory_bytes, 0u);
  }
}

TEST(Devices, OldMesaLavapipeIsNotOfferedForWebGpu) {
  // What probe_vulkan reports for Debian 12's own lavapipe, on which Dawn
  // finds no adapter (the reason bootstrap unpacks Mesa 25).
  Device old{"vulkan:0", "llvmpipe (LLVM 15.0.6, 256 bits)", "cpu", 0,
             {{"driver", "llvmpipe"}, {"driver_info", "Mesa 22.3.6"}}, {}, {}};
  Device radv{"vulkan:1", "AMD Radeon RX 580 Series (RADV POLARIS10)", "gpu", 0,
              {{"driver", "radv"}, {"driver_info", "Mesa 22.3.6"}}, {}, {}};
  DeviceReport report{{DeviceSource{"vulkan", true, "", {old, radv}}}};
  assign_providers(report, all_engines());
  const ProviderUse* lvp = provider(report.sources[0].devices[0], "onnxruntime", "webgpu");
  ASSERT_NE(lvp, nullptr);
  EXPECT_FALSE(lvp->usable);
  EXPECT_NE(lvp->note.find("Mesa 25"), std::string::npos);
  const ProviderUse* rx = provider(report.sources[0].devices[1], "onnxruntime", "webgpu");
  ASSERT_NE(rx, nullptr);
  EXPECT_TRUE(rx->usable);
  EXPECT_NE(rx->note.find("untested"), std::string::npos);
}

// A recorded sysfs tree of an RX 580 (amdgpu driver, KFD node gfx803).
TEST(Devices, AmdGpuFromSysfs) {
  const fs::path root = fs::temp_directory_path() / ("polaris-sysfs-" + std::to_string(getpid()));
  fs::remove_all(root);
  const fs::path card = root / "class/drm/card0/device";
  fs::create_directories(card);
  fs::create_directories(root / "class/drm/card0-DP-1");
  std::ofstream(card / "vendor") << "0x1002\n";
  std::ofstream(card / "device") << "0x67df\n";
  std::ofstream(card / "mem_info_vram_total") << "8589934592\n";
  fs::create_directories(root / "bus/pci/drivers/amdgpu");
  fs::create_directory_symlink(root / "bus/pci/drivers/amdgpu", card / "driver");
  const fs::path cpu_node = root / "class/kfd/kfd/topology/nodes/0";
  const fs::path gpu_node = root / "class/kfd/kfd/topology/nodes/1";
  fs::create_directories(cpu_node);
  fs::create_directories(gpu_node);
  std::ofstream(cpu_node / "properties") << "cpu_cores_count 8\nsimd_count 0\nvendor_id 0\ndevice_id 0\n";
  std::ofstream(gpu_node / "properties")
      << "simd_count 144\ngfx_target_version 80003\nvendor_id 4098\ndevice_id 26591\n";
  DeviceReport report{{probe_amd(root.string())}};
  fs::remove_all(root);
  const DeviceSource& amd = report.sources[0];
  ASSERT_TRUE(amd.available) << amd.reason;
  ASSERT_EQ(amd.devices.size(), 1u) << "the connector entry card0-DP-1 is not a card";
  const Device& d = amd.devices[0];
  EXPECT_EQ(d.id, "amd:card0");
  EXPECT_EQ(d.properties.at("gfx_target"), "gfx803");
  EXPECT_EQ(d.properties.at("kernel_driver"), "amdgpu");
  EXPECT_EQ(d.memory_bytes, 8ull << 30);
  // Without RADV there is no Vulkan device for it: webgpu names the package.
  assign_providers(report, all_engines());
  const ProviderUse* webgpu = provider(report.sources[0].devices[0], "onnxruntime", "webgpu");
  ASSERT_NE(webgpu, nullptr);
  EXPECT_FALSE(webgpu->usable);
  EXPECT_NE(webgpu->note.find("mesa-vulkan-drivers"), std::string::npos);
}

TEST(Devices, AmdProbeOnThisMachineNeverCrashes) {
  const DeviceSource amd = probe_amd();
  EXPECT_EQ(amd.available, !amd.devices.empty());
  if (!amd.available) {
    EXPECT_NE(amd.reason.find("0x1002"), std::string::npos);
  }
}

TEST(Devices, JsonIsKeyedBySource) {
  DeviceReport report{{probe_cpu(), DeviceSource{"cuda", false, "no NVIDIA driver", {}}}};
  assign_providers(report, all_engines());
  const auto j = to_json(report);
  EXPECT_TRUE(j["cpu"]["available"].get<bool>());
  EXPECT_EQ(j["cpu"]["devices"][0]["id"], "cpu");
  EXPECT_EQ(j["cpu"]["devices"][0]["providers"][0]["provider"], "cpu");
  EXPECT_EQ(j["cuda"]["reason"], "no NVIDIA driver");
}

// Run by the ctest entry devices.no_drivers, which sets these variables.
TEST(DevicesNoDrivers, MissingDriversAreNotAvailableWithAReason) {
  const char* ocl = std::getenv("OCL_ICD_VENDORS");
  const char* vk = std::getenv("VK_DRIVER_FILES");
  if (ocl == nullptr || std::string(ocl) != "/nonexistent" || vk == nullptr || std::string(vk) != "/nonexistent.json")
    GTEST_SKIP() << "needs OCL_ICD_VENDORS=/nonexistent VK_DRIVER_FILES=/nonexistent.json (ctest devices.no_drivers)";
  const DeviceReport report = discover_devices(all_engines());
  const DeviceSource* cl = report.source("opencl");
  ASSERT_NE(cl, nullptr);
  EXPECT_FALSE(cl->available);
  EXPECT_TRUE(cl->devices.empty());
  EXPECT_NE(cl->reason.find("no OpenCL platform"), std::string::npos) << cl->reason;
  const DeviceSource* vulkan = report.source("vulkan");
  ASSERT_NE(vulkan, nullptr);
  EXPECT_FALSE(vulkan->available);
  EXPECT_NE(vulkan->reason.find("VK_ERROR_INCOMPATIBLE_DRIVER"), std::string::npos) << vulkan->reason;
  ASSERT_NE(report.source("cpu"), nullptr);
  EXPECT_TRUE(report.source("cpu")->available) << "the CPU is always there";
}

// Run by the ctest entry devices.vulkan_software_driver, which points the
// Vulkan loader at bootstrap's Mesa 25 lavapipe.
TEST(DevicesVulkan, SoftwareDriverIsListed) {
  const char* icd = std::getenv("POLARIS_TEST_VULKAN_ICD");
  if (icd == nullptr) GTEST_SKIP() << "needs POLARIS_TEST_VULKAN_ICD and VK_DRIVER_FILES (ctest devices.vulkan_software_driver)";
  ASSERT_TRUE(fs::exists(icd)) << icd << " is missing: run scripts/bootstrap --only mesa-vulkan";
  DeviceReport report{{probe_vulkan()}};
  assign_providers(report, all_engines());
  const DeviceSource& vulkan = report.sources[0];
  ASSERT_TRUE(vulkan.available) << vulkan.reason;
  ASSERT_EQ(vulkan.devices.size(), 1u) << "VK_DRIVER_FILES names one driver";
  const Device& d = vulkan.devices[0];
  EXPECT_NE(d.name.find("llvmpipe"), std::string::npos) << d.name;
  EXPECT_EQ(d.type, "cpu");
  EXPECT_EQ(d.properties.at("driver"), "llvmpipe");
  EXPECT_NE(d.properties.at("driver_info").find("Mesa 25."), std::string::npos) << d.properties.at("driver_info");
  const ProviderUse* webgpu = provider(d, "onnxruntime", "webgpu");
  ASSERT_NE(webgpu, nullptr);
  EXPECT_TRUE(webgpu->usable);
}

}  // namespace
}  // namespace polaris::devices
