#include "devices/cpu_features.h"

#if defined(__x86_64__) || defined(__i386__)
#include <cpuid.h>
#endif

#include <cstdint>

namespace polaris::devices {
namespace {

// Which CPUID register and bit hold a feature, and which OS-enabled state
// (XCR0 bits) it needs.
enum class Reg { kEcx1, kEdx1, kEbx7, kEcx7, kEdx7, kEax71 };

struct Feature {
  const char* name;  // as in /proc/cpuinfo
  Reg reg;
  unsigned bit;
  uint64_t xcr0;  // required XCR0 bits; 0: none
};

constexpr uint64_t kAvxState = 0x6;            // XMM | YMM
constexpr uint64_t kAvx512State = 0xe6;        // + opmask | ZMM_Hi256 | Hi16_ZMM
constexpr uint64_t kAmxState = (3ull << 17);   // XTILECFG | XTILEDATA

// Bit positions from the Intel SDM, vol. 2A, CPUID. Written as numbers
// because GCC's and clang's <cpuid.h> name a few of them differently
// (bit_AMX_TILE vs bit_AMXTILE) and clang 14's lacks some.
constexpr Feature kFeatures[] = {
    {"sse4_1", Reg::kEcx1, 19, 0},
    {"sse4_2", Reg::kEcx1, 20, 0},
    {"avx", Reg::kEcx1, 28, kAvxState},
    {"f16c", Reg::kEcx1, 29, kAvxState},
    {"fma", Reg::kEcx1, 12, kAvxState},
    {"avx2", Reg::kEbx7, 5, kAvxState},
    {"avx_vnni", Reg::kEax71, 4, kAvxState},
    {"avx512f", Reg::kEbx7, 16, kAvx512State},
    {"avx512dq", Reg::kEbx7, 17, kAvx512State},
    {"avx512cd", Reg::kEbx7, 28, kAvx512State},
    {"avx512bw", Reg::kEbx7, 30, kAvx512State},
    {"avx512vl", Reg::kEbx7, 31, kAvx512State},
    {"avx512_vnni", Reg::kEcx7, 11, kAvx512State},
    {"avx512_bf16", Reg::kEax71, 5, kAvx512State},
    {"avx512_fp16", Reg::kEdx7, 23, kAvx512State},
    {"amx_bf16", Reg::kEdx7, 22, kAmxState},
    {"amx_tile", Reg::kEdx7, 24, kAmxState},
    {"amx_int8", Reg::kEdx7, 25, kAmxState},
};

}  // namespace

const std::vector<std::string>& known_cpu_isa_features() {
  static const std::vector<std::string> names = [] {
    std::vector<std::string> out;
    for (const auto& f : kFeatures) out.emplace_back(f.name);
    return out;
  }();
  return names;
}

std::vector<std::string> cpu_isa_features() {
  std::vector<std::string> out;
#if defined(__x86_64__) || defined(__i386__)
  unsigned a = 0, b = 0, c = 0, d = 0;
  if (__get_cpuid(1, &a, &b, &c, &d) == 0) return out;
  const unsigned ecx1 = c, edx1 = d;
  unsigned ebx7 = 0, ecx7 = 0, edx7 = 0, eax71 = 0;
  if (__get_cpuid_max(0, nullptr) >= 7) {
    __cpuid_count(7, 0, a, b, c, d);
    ebx7 = b, ecx7 = c, edx7 = d;
    const unsigned max_subleaf = a;
    if (max_subleaf >= 1) {
      __cpuid_count(7, 1, a, b, c, d);
      eax71 = a;
    }
  }
  // XGETBV is only defined when the OS set CR4.OSXSAVE (CPUID.1:ECX bit 27).
  uint64_t xcr0 = 0;
  if (ecx1 & (1u << 27)) {
    uint32_t lo = 0, hi = 0;
    __asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
    xcr0 = (static_cast<uint64_t>(hi) << 32) | lo;
  }
  for (const auto& f : kFeatures) {
    const unsigned reg = f.reg == Reg::kEcx1   ? ecx1
                         : f.reg == Reg::kEdx1 ? edx1
                         : f.reg == Reg::kEbx7 ? ebx7
                         : f.reg == Reg::kEcx7 ? ecx7
                         : f.reg == Reg::kEdx7 ? edx7
                                               : eax71;
    if ((reg & (1u << f.bit)) == 0) continue;
    if ((xcr0 & f.xcr0) != f.xcr0) continue;
    out.emplace_back(f.name);
  }
#endif
  return out;
}

}  // namespace polaris::devices
