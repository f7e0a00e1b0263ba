// The x86 ISA features inference kernels choose between, read with the
// CPUID instruction and checked against what the OS enabled (XCR0): a CPU
// with AVX-512 under a kernel or hypervisor that does not save ZMM state
// cannot use it, and Linux then leaves it out of /proc/cpuinfo too.
#pragma once

#include <string>
#include <vector>

namespace polaris::devices {

// The features present, spelled as Linux spells them in /proc/cpuinfo's
// flags line ("avx2", "avx512_vnni", "f16c"), in a fixed order.
std::vector<std::string> cpu_isa_features();

// Every feature cpu_isa_features() can report, present or not.
const std::vector<std::string>& known_cpu_isa_features();

}  // namespace polaris::devices
