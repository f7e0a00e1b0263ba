// fuzz_model_load: ONNX model files as a model repository hands them to the
// server. The input is written to <tmp>/model.onnx and loaded through the
// ONNX Runtime module (build-fuzz/lib/libpolaris_backend_onnxruntime.so) by
// the BackendRegistry, as runtime/model_loader.cc loads a model (the CPU
// provider), followed by the server's default warm-up request (zeros, every
// dynamic dim 1: runtime/warmup.h) when the load succeeds.
//
// Checks: loading a corrupt model gives an error Status, never a crash, a
// sanitizer report or an exception out of the module; nor does the warm-up.
// Each child has 4 GiB of memory to spare (limit_child_memory); running out
// of it counts as a refusal, as std::bad_alloc would be without ASan.
//
// Each input is loaded in a forked child (fork, load, _exit), so engine
// state never accumulates across inputs and a crash inside ONNX Runtime is
// still reported: the parent traps unless the child ended by _exit(0) after
// finishing. ONNX Runtime itself is not instrumented; the Polaris code the
// child runs (registry, module, warm-up) is, and the child hands its
// coverage counters back to the parent through shared memory, so libFuzzer
// sees what each input reached.
#include <elf.h>
#include <link.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <csignal>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <memory>
#include <string>
#include <vector>

#include <sanitizer/asan_interface.h>
#include <sanitizer/common_interface_defs.h>

#include "backends/registry.h"
#include "proto/model_config.pb.h"
#include "runtime/warmup.h"

namespace polaris::fuzz {
namespace {

BackendRegistry* registry = nullptr;  // the module is loaded once, in the parent
std::string model_dir;
std::string model_path;

// libFuzzer's coverage counters (each instrumented object's __sancov_cntrs
// section), and a shared copy the child writes them into before _exit.
struct Counters {
  uint8_t* start;
  std::size_t size;
};
std::vector<Counters> counters;
uint8_t* shared = nullptr;  // the counters, then one byte: the child finished
std::size_t shared_size = 0;

// The __sancov_cntrs section of one loaded object, from its ELF section headers.
int find_counters(dl_phdr_info* info, std::size_t, void*) {
  const bool main_program = info->dlpi_name == nullptr || info->dlpi_name[0] == '\0';
  const std::string path = main_program ? "/proc/self/exe" : info->dlpi_name;
  std::ifstream file(path, std::ios::binary);
  Elf64_Ehdr header;
  if (!file.read(reinterpret_cast<char*>(&header), sizeof header) ||
      std::memcmp(header.e_ident, ELFMAG, SELFMAG) != 0 || header.e_ident[EI_CLASS] != ELFCLASS64 ||
      header.e_shentsize != sizeof(Elf64_Shdr) || header.e_shstrndx >= header.e_shnum)
    return 0;
  std::vector<Elf64_Shdr> sections(header.e_shnum);
  file.seekg(static_cast<std::streamoff>(header.e_shoff));
  const auto table_size = static_cast<std::streamsize>(sections.size() * sizeof(Elf64_Shdr));
  if (!file.read(reinterpret_cast<char*>(sections.data()), table_size))
    return 0;
  const Elf64_Shdr& names = sections[header.e_shstrndx];
  std::string strings(names.sh_size, '\0');
  file.seekg(static_cast<std::streamoff>(names.sh_offset));
  if (!file.read(strings.data(), static_cast<std::streamsize>(strings.size()))) return 0;
  for (const Elf64_Shdr& s : sections) {
    if (s.sh_name < strings.size() && std::strcmp(strings.c_str() + s.sh_name, "__sancov_cntrs") == 0 && s.sh_size > 0)
      counters.push_back({reinterpret_cast<uint8_t*>(info->dlpi_addr + s.sh_addr), s.sh_size});
  }
  return 0;
}

int thread_count() {
  std::error_code ec;
  int n = 0;
  const std::filesystem::directory_iterator end;
  for (auto it = std::filesystem::directory_iterator("/proc/self/task", ec); !ec && it != end; it.increment(ec)) ++n;
  return n;
}

// The child's memory, as a server with 4 GiB to spare has it: address
// space beyond what the process (ASan's reservations included) maps now
// plus 4 GiB is refused, and with allocator_may_return_null (below) an
// allocation that does not fit fails as malloc fails without ASan, so the
// engine reports it. A model that asks for more is then an error, not an
// out-of-memory kill of the whole machine.
constexpr uint64_t kChildMemory = uint64_t{4} << 30;

void limit_child_memory() {
  std::ifstream statm("/proc/self/statm");
  uint64_t pages = 0;
  if (!(statm >> pages)) return;
  const uint64_t now = pages * static_cast<uint64_t>(sysconf(_SC_PAGESIZE));
  const rlimit limit{now + kChildMemory, now + kChildMemory};
  setrlimit(RLIMIT_AS, &limit);
}

// What the child leaves in the byte after the counters.
constexpr uint8_t kChildFinished = 1;
constexpr uint8_t kChildOutOfMemory = 2;
uint64_t out_of_memory_inputs = 0;

// ASan's operator new reports out-of-memory and aborts where the real one
// throws std::bad_alloc (which ORT turns into an error): a child that dies
// of that alone has been refused the memory, it has not crashed.
void child_death() {
  const char* what = __asan_get_report_description();
  if (what != nullptr && (std::strcmp(what, "out-of-memory") == 0 || std::strcmp(what, "allocation-size-too-big") == 0))
    shared[shared_size] = kChildOutOfMemory;
}

// The child: load, warm up, report coverage, _exit. Never returns.
[[noreturn]] void load_in_child() {
  prctl(PR_SET_PDEATHSIG, SIGKILL);  // a parent killed on a timeout takes its child along
  limit_child_memory();
  __sanitizer_set_death_callback(child_death);  // instead of libFuzzer's: the parent reports crashes
  LoadOptions options;
  options.providers = {"cpu"};
  Result<std::unique_ptr<Model>> model = registry->load(model_path, options);
  if (model.ok()) {
    auto samples = warmup_samples(inference::ModelConfig(), (*model)->metadata(), model_dir);
    if (samples.ok())
      for (const WarmupSample& sample : *samples) (void)(*model)->run(sample.inputs, {});
  }
  std::size_t at = 0;
  for (const Counters& c : counters) {
    std::memcpy(shared + at, c.start, c.size);
    at += c.size;
  }
  shared[at] = kChildFinished;
  _exit(0);
}

}  // namespace
}  // namespace polaris::fuzz

// A failed allocation returns null (ORT then throws bad_alloc and reports an
// error) instead of being an ASan report: see limit_child_memory.
extern "C" const char* __asan_default_options() { return "allocator_may_return_null=1"; }

extern "C" int LLVMFuzzerInitialize(int* argc, char*** argv) {
  using namespace polaris;
  using namespace polaris::fuzz;
  // libFuzzer's malloc limit (-malloc_limit_mb, by default -rss_limit_mb:
  // 2 GiB) would report a child's single allocation above it as an
  // out-of-memory crash; the child's own limit is kChildMemory. Flags given
  // on the command line come later and win.
  static std::vector<char*> args(*argv, *argv + *argc);
  static char malloc_limit[] = "-malloc_limit_mb=8192";
  args.insert(args.begin() + 1, malloc_limit);
  args.push_back(nullptr);
  *argc = static_cast<int>(args.size()) - 1;
  *argv = args.data();

  BackendConfig config;
  config.threads.intra_op = 1;  // no pool threads: the parent forks
  config.threads.inter_op = 1;
  registry = new BackendRegistry(config);  // modules from <bin>/../lib
  if (auto backend = registry->get("onnxruntime"); !backend.ok()) {
    std::fprintf(stderr, "fuzz_model_load: %s\n", backend.status().to_string().c_str());
    std::abort();
  }
  if (const int threads = thread_count(); threads > 1)
    std::fprintf(stderr, "fuzz_model_load: warning: %d threads before the first fork\n", threads);

  std::string dir = (std::filesystem::temp_directory_path() / "polaris-fuzz-model-XXXXXX").string();
  if (mkdtemp(dir.data()) == nullptr) {
    std::perror("fuzz_model_load: mkdtemp");
    std::abort();
  }
  model_dir = dir;
  model_path = dir + "/model.onnx";
  std::atexit([] {
    std::error_code ec;
    std::filesystem::remove_all(model_dir, ec);
    if (out_of_memory_inputs > 0)
      std::fprintf(stderr, "fuzz_model_load: %llu inputs ran out of the child's %llu GiB (refused, not crashes)\n",
                   static_cast<unsigned long long>(out_of_memory_inputs),
                   static_cast<unsigned long long>(kChildMemory >> 30));
  });

  dl_iterate_phdr(find_counters, nullptr);
  for (const Counters& c : counters) shared_size += c.size;
  std::fprintf(stderr, "fuzz_model_load: %zu coverage counter regions (%zu counters) shared with each child\n",
               counters.size(), shared_size);
  void* mem = mmap(nullptr, shared_size + 1, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
  if (mem == MAP_FAILED) {
    std::perror("fuzz_model_load: mmap");
    std::abort();
  }
  shared = static_cast<uint8_t*>(mem);
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, std::size_t size) {
  using namespace polaris::fuzz;
  {
    std::ofstream out(model_path, std::ios::binary | std::ios::trunc);
    out.write(reinterpret_cast<const char*>(data), static_cast<std::streamsize>(size));
    if (!out) {
      std::fprintf(stderr, "fuzz_model_load: cannot write %s\n", model_path.c_str());
      std::abort();
    }
  }
  std::memset(shared, 0, shared_size + 1);
  const pid_t child = fork();
  if (child < 0) {
    std::perror("fuzz_model_load: fork");
    std::abort();
  }
  if (child == 0) load_in_child();

  int status = 0;
  while (waitpid(child, &status, 0) < 0) {
    if (errno != EINTR) {
      std::perror("fuzz_model_load: waitpid");
      std::abort();
    }
  }
  std::size_t at = 0;
  for (const Counters& c : counters)
    for (std::size_t i = 0; i < c.size; ++i, ++at)
      if (shared[at] > c.start[i]) c.start[i] = shared[at];
  if (shared[shared_size] == kChildOutOfMemory) {
    ++out_of_memory_inputs;
    return 0;
  }
  const bool finished = shared[shared_size] == kChildFinished;
  if (WIFSIGNALED(status) || !WIFEXITED(status) || WEXITSTATUS(status) != 0 || !finished) {
    if (WIFSIGNALED(status))
      std::fprintf(stderr, "fuzz_model_load: the child loading the model died of signal %d (%s)\n", WTERMSIG(status),
                   strsignal(WTERMSIG(status)));
    else
      std::fprintf(stderr, "fuzz_model_load: the child loading the model exited with %d before finishing\n",
                   WIFEXITED(status) ? WEXITSTATUS(status) : -1);
    __builtin_trap();
  }
  return 0;
}
