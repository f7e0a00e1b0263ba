// Vulkan physical devices through the loader, loaded at run time. Types and
// function-pointer types from Debian's libvulkan-dev headers; VK_NO_PROTOTYPES
// because nothing links libvulkan.
#define VK_NO_PROTOTYPES
#include <vulkan/vulkan_core.h>

#include <utility>

#include "devices/dynamic_library.h"
#include "devices/probes.h"

namespace polaris::devices {
namespace {

std::string version_string(uint32_t v) {
  return std::to_string(VK_API_VERSION_MAJOR(v)) + "." + std::to_string(VK_API_VERSION_MINOR(v)) + "." +
         std::to_string(VK_API_VERSION_PATCH(v));
}

std::string type_name(VkPhysicalDeviceType type) {
  switch (type) {
    case VK_PHYSICAL_DEVICE_TYPE_DISCRETE_GPU: return "gpu";
    case VK_PHYSICAL_DEVICE_TYPE_INTEGRATED_GPU: return "integrated-gpu";
    case VK_PHYSICAL_DEVICE_TYPE_VIRTUAL_GPU: return "virtual-gpu";
    case VK_PHYSICAL_DEVICE_TYPE_CPU: return "cpu";
    default: return "other";
  }
}

std::string hex(uint32_t v) {
  char buf[16];
  snprintf(buf, sizeof buf, "0x%04x", v);
  return buf;
}

std::string result_name(VkResult r) {
  switch (r) {
    case VK_ERROR_INCOMPATIBLE_DRIVER: return "VK_ERROR_INCOMPATIBLE_DRIVER";
    case VK_ERROR_INITIALIZATION_FAILED: return "VK_ERROR_INITIALIZATION_FAILED";
    case VK_ERROR_OUT_OF_HOST_MEMORY: return "VK_ERROR_OUT_OF_HOST_MEMORY";
    case VK_ERROR_LAYER_NOT_PRESENT: return "VK_ERROR_LAYER_NOT_PRESENT";
    case VK_ERROR_EXTENSION_NOT_PRESENT: return "VK_ERROR_EXTENSION_NOT_PRESENT";
    default: return "VkResult " + std::to_string(static_cast<int>(r));
  }
}

}  // namespace

DeviceSource probe_vulkan() {
  DeviceSource source{"vulkan", false, "", {}};
  static const DynamicLibrary lib("libvulkan.so.1");
  if (!lib.loaded()) {
    source.reason = "no Vulkan loader (libvulkan.so.1: " + lib.error() + "); install libvulkan1 and a driver";
    return source;
  }
  const auto gipa = lib.sym<PFN_vkGetInstanceProcAddr>("vkGetInstanceProcAddr");
  if (gipa == nullptr) {
    source.reason = "libvulkan.so.1 has no vkGetInstanceProcAddr";
    return source;
  }
  const auto create_instance = reinterpret_cast<PFN_vkCreateInstance>(gipa(nullptr, "vkCreateInstance"));
  const auto enumerate_version =
      reinterpret_cast<PFN_vkEnumerateInstanceVersion>(gipa(nullptr, "vkEnumerateInstanceVersion"));
  uint32_t loader_version = VK_API_VERSION_1_0;
  if (enumerate_version != nullptr) enumerate_version(&loader_version);

  VkApplicationInfo app{};
  app.sType = VK_STRUCTURE_TYPE_APPLICATION_INFO;
  app.pApplicationName = "polaris devices";
  // 1.1 when the loader has it: vkGetPhysicalDeviceProperties2 then tells
  // the driver's name and version.
  app.apiVersion = loader_version >= VK_API_VERSION_1_1 ? VK_API_VERSION_1_1 : VK_API_VERSION_1_0;
  VkInstanceCreateInfo info{};
  info.sType = VK_STRUCTURE_TYPE_INSTANCE_CREATE_INFO;
  info.pApplicationInfo = &app;
  VkInstance instance = VK_NULL_HANDLE;
  const VkResult rc = create_instance != nullptr ? create_instance(&info, nullptr, &instance)
                                                 : VK_ERROR_INITIALIZATION_FAILED;
  if (rc != VK_SUCCESS) {
    source.reason = "no Vulkan driver: vkCreateInstance returned " + result_name(rc) +
                    " (check VK_DRIVER_FILES / VK_ICD_FILENAMES and /usr/share/vulkan/icd.d; install "
                    "mesa-vulkan-drivers)";
    return source;
  }
  auto fn = [&](const char* name) { return gipa(instance, name); };
  const auto destroy = reinterpret_cast<PFN_vkDestroyInstance>(fn("vkDestroyInstance"));
  const auto enumerate = reinterpret_cast<PFN_vkEnumeratePhysicalDevices>(fn("vkEnumeratePhysicalDevices"));
  const auto properties = reinterpret_cast<PFN_vkGetPhysicalDeviceProperties>(fn("vkGetPhysicalDeviceProperties"));
  const auto properties2 =
      reinterpret_cast<PFN_vkGetPhysicalDeviceProperties2>(fn("vkGetPhysicalDeviceProperties2"));
  const auto memory =
      reinterpret_cast<PFN_vkGetPhysicalDeviceMemoryProperties>(fn("vkGetPhysicalDeviceMemoryProperties"));

  uint32_t count = 0;
  if (enumerate == nullptr || properties == nullptr || enumerate(instance, &count, nullptr) != VK_SUCCESS) {
    source.reason = "vkEnumeratePhysicalDevices failed";
  } else if (count == 0) {
    source.reason = "a Vulkan driver is installed but reports no physical device";
  } else {
    std::vector<VkPhysicalDevice> physical(count);
    enumerate(instance, &count, physical.data());
    for (uint32_t i = 0; i < count; ++i) {
      VkPhysicalDeviceProperties p{};
      properties(physical[i], &p);
      Device d;
      d.id = "vulkan:" + std::to_string(i);
      d.name = p.deviceName;
      d.type = type_name(p.deviceType);
      d.properties["api_version"] = version_string(p.apiVersion);
      d.properties["vendor_id"] = hex(p.vendorID);
      d.properties["device_id"] = hex(p.deviceID);
      // Driver properties are core in 1.2; ask only drivers that have it.
      if (properties2 != nullptr && p.apiVersion >= VK_API_VERSION_1_2) {
        VkPhysicalDeviceDriverProperties driver{};
        driver.sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_DRIVER_PROPERTIES;
        VkPhysicalDeviceProperties2 p2{};
        p2.sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_PROPERTIES_2;
        p2.pNext = &driver;
        properties2(physical[i], &p2);
        d.properties["driver"] = driver.driverName;
        d.properties["driver_info"] = driver.driverInfo;
      }
      if (memory != nullptr) {
        VkPhysicalDeviceMemoryProperties m{};
        memory(physical[i], &m);
        for (uint32_t h = 0; h < m.memoryHeapCount; ++h)
          if (m.memoryHeaps[h].flags & VK_MEMORY_HEAP_DEVICE_LOCAL_BIT) d.memory_bytes += m.memoryHeaps[h].size;
      }
      source.devices.push_back(std::move(d));
    }
    source.available = true;
  }
  if (destroy != nullptr) destroy(instance, nullptr);
  return source;
}

}  // namespace polaris::devices
