// The libtorch (TorchScript) backend module: libpolaris_backend_torch.so.
//
// Loads TorchScript archives (torch.jit.script / torch.jit.trace, then
// .save) with torch::jit::load, picks the device, freezes and optimizes the
// module, and describes it (see torch_metadata.cc; input and output types
// without a spec: torch_input_inference.h); TorchModel runs it.
// Thread-safety: TorchBackend is immutable after creation; load() may run
// concurrently (measured memory is then approximate, see load()).
#include <ATen/Parallel.h>
#include <caffe2/serialize/inline_container.h>
#include <dlfcn.h>
#include <torch/cuda.h>
#include <torch/version.h>

#include <algorithm>
#include <exception>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <thread>

#include "backends/torch/torch_input_inference.h"
#include "backends/torch/torch_model.h"
#include "backends/torch/torch_spec.h"
#include "core/process_memory.h"

namespace polaris::torch_backend {
namespace {

namespace fs = std::filesystem;

// Engine-wide state, set once per process: libtorch's thread pools are
// global, so every model of every registry shares one budget.
struct EngineSetup {
  int intra_op_threads = 1;
  int inter_op_threads = 1;
  std::string thread_note;  // why inter-op could not be set, if so
  int cuda_devices = 0;
  std::string cuda_note;  // why CUDA is unavailable
};

const EngineSetup& setup_engine(const EngineThreads& threads) {
  static EngineSetup setup;
  static std::once_flag once;
  std::call_once(once, [&] {
    const int cores = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
    setup.intra_op_threads = threads.intra_op > 0 ? threads.intra_op : cores;
    setup.inter_op_threads = std::max(1, threads.inter_op);
    at::set_num_threads(setup.intra_op_threads);
    try {
      // Throws once the inter-op pool exists (e.g. another libtorch user
      // in this process started it first).
      at::set_num_interop_threads(setup.inter_op_threads);
    } catch (const std::exception& e) {
      setup.inter_op_threads = at::get_num_interop_threads();
      setup.thread_note = "inter-op threads left at " + std::to_string(setup.inter_op_threads) + ": " +
                          engine_message(e);
    }
    // libtorch_cpu registers no CUDA hooks; libtorch_cuda.so (beside it, on
    // this module's rpath) does when it loads, which needs the CUDA libraries
    // (cuBLAS, cuDNN, ...). Without them this fails cleanly and models run
    // on the CPU. The handle is kept: modules are never unloaded.
    // On a CUDA machine the registry has already loaded it, globally
    // (BackendRegistry: preload_torch_cuda); this finds that copy.
    if (dlopen("libtorch_cuda.so", RTLD_NOW | RTLD_LOCAL) == nullptr) {
      const char* why = dlerror();
      setup.cuda_note = std::string("libtorch_cuda.so did not load (") + (why ? why : "unknown") + ")";
    } else if (!torch::cuda::is_available()) {
      setup.cuda_note = "no CUDA device";
    } else {
      setup.cuda_devices = static_cast<int>(torch::cuda::device_count());
    }
  });
  return setup;
}

std::string lower(std::string s) {
  for (auto& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

// Why a file torch::jit::load rejected is not a model we can run.
Status diagnose_load_failure(const std::string& path, const std::string& engine) {
  const std::string file = fs::path(path).filename().string();
  const std::string pickled =
      "'" + path + "' is not TorchScript: it is a pickled PyTorch object saved with torch.save() (a state_dict or " +
      "an eager nn.Module), which only Python can rebuild. Export the model to TorchScript in Python with " +
      "torch.jit.script(model) or torch.jit.trace(model, example_inputs), then .save('" + file + "')";
  try {
    caffe2::serialize::PyTorchStreamReader reader(path);
    bool code = false;
    for (const auto& record : reader.getAllRecords()) code = code || record.rfind("code/", 0) == 0;
    if (reader.hasRecord("data.pkl") && !code && !reader.hasRecord("constants.pkl"))
      return InvalidArgument(pickled);
    return InvalidArgument("'" + path + "' is a PyTorch archive but not a TorchScript module libtorch " +
                           TORCH_VERSION + " can load: " + engine);
  } catch (const std::exception&) {
    // Not a zip archive: fall through.
  }
  std::ifstream in(path, std::ios::binary);
  char first = 0;
  if (in.get(first) && static_cast<unsigned char>(first) == 0x80)  // a pickle: pre-1.6 torch.save format
    return InvalidArgument(pickled);
  return InvalidArgument("'" + path + "' is not a TorchScript archive (not a valid zip archive: truncated, " +
                         "corrupt or another format): " + engine);
}

class TorchBackend final : public Backend {
 public:
  explicit TorchBackend(const EngineSetup& setup) : setup_(setup) {}

  std::string_view name() const override { return "torch"; }
  std::string engine_version() const override { return TORCH_VERSION; }
  std::vector<std::string> available_providers() const override {
    std::vector<std::string> out;
    for (int i = 0; i < setup_.cuda_devices; ++i) out.push_back("cuda:" + std::to_string(i));
    out.push_back("cpu");
    return out;
  }
  uint64_t predict_memory_bytes(uint64_t file_size_bytes) const override { return predict_memory(file_size_bytes); }

  Result<std::unique_ptr<Model>> load(const std::string& path, const LoadOptions& options) override {
    try {
      return load_module(path, options);
    } catch (const std::exception& e) {
      return Internal("torch backend failed to load '" + path + "': " + engine_message(e));
    }
  }

 private:
  // Devices to try in order: the requested ones that exist, then the CPU.
  // Requested devices that cannot be used are explained in `notes`.
  std::vector<c10::Device> devices_for(const std::vector<std::string>& providers,
                                       std::vector<std::string>& notes) const {
    std::vector<c10::Device> out;
    auto add = [&](c10::Device d) {
      if (std::find(out.begin(), out.end(), d) == out.end()) out.push_back(d);
    };
    if (providers.empty() && setup_.cuda_devices > 0) add(c10::Device(c10::kCUDA, 0));
    for (const auto& requested : providers) {
      const std::string p = lower(requested);
      if (p == "cpu" || p == "cpuexecutionprovider") {
        add(c10::Device(c10::kCPU));
      } else if (p == "cuda" || p == "gpu" || p == "cudaexecutionprovider" || p.rfind("cuda:", 0) == 0) {
        int index = 0;
        if (p.rfind("cuda:", 0) == 0) {
          const std::string digits = p.substr(5);
          if (digits.empty() || digits.size() > 3 || !std::all_of(digits.begin(), digits.end(), ::isdigit)) {
            notes.push_back("'" + requested + "' is not a device name (cuda:N)");
            continue;
          }
          index = std::stoi(digits);
        }
        const std::string device = "cuda:" + std::to_string(index);
        if (setup_.cuda_devices == 0)
          notes.push_back(device + " unavailable: " + setup_.cuda_note);
        else if (index >= setup_.cuda_devices)
          notes.push_back(device + " unavailable: " + std::to_string(setup_.cuda_devices) + " CUDA device(s)");
        else
          add(c10::Device(c10::kCUDA, static_cast<c10::DeviceIndex>(index)));
      } else {
        notes.push_back("'" + requested + "' is not a libtorch device (use cuda, cuda:N or cpu)");
      }
    }
    add(c10::Device(c10::kCPU));  // the CPU always works: the fallback of last resort
    return out;
  }

  Result<std::unique_ptr<Model>> load_module(const std::string& path, const LoadOptions& options) {
    std::error_code ec;
    const auto status = fs::status(path, ec);
    if (ec || !fs::exists(status)) return NotFound("model file '" + path + "' does not exist");
    if (fs::is_directory(status)) return InvalidArgument("model path '" + path + "' is a directory, not a TorchScript file");
    const uint64_t file_size = fs::file_size(path, ec);
    if (ec) return InvalidArgument("cannot read model file '" + path + "': " + ec.message());
    if (file_size == 0) return InvalidArgument("'" + path + "' is empty (0 bytes): not a TorchScript archive");
    POLARIS_ASSIGN_OR_RETURN(ModelSpec spec, find_model_spec(path, options.parameters));

    // Measured memory is the RSS delta across the load: approximate when
    // other models load (or run) concurrently. Its floor is what the model
    // certainly holds: its parameters and buffers, and at least the archive's
    // size (weights are stored uncompressed, plus the code it compiles).
    const uint64_t rss_before = process_rss_bytes();
    std::vector<std::string> notes;
    std::optional<torch::jit::Module> loaded;
    c10::Device device(c10::kCPU);
    for (const c10::Device& candidate : devices_for(requested_providers(options), notes)) {
      try {
        // No debug files: they hold source ranges for tracebacks and can be
        // as large as the code; error messages keep their cause line.
        loaded = torch::jit::load(path, candidate, /*load_debug_files=*/false);
        device = candidate;
        break;
      } catch (const std::exception& e) {
        if (candidate.is_cpu()) return diagnose_load_failure(path, engine_message(e));
        notes.push_back(candidate.str() + " failed: " + engine_message(e));
      }
    }
    torch::jit::Module module = std::move(*loaded);
    module.eval();

    ModelMetadata md = base_metadata(path, "torchscript", file_size, predict_memory(file_size), options);
    md.provider = device.str();
    std::string schema;
    POLARIS_ASSIGN_OR_RETURN(std::vector<ArgInfo> args, describe_forward(module, &schema));
    if (Status s = describe_tensors(module, spec.inputs, spec.outputs, args, md); !s.ok())
      return s.with_context("'" + path + "'" + (spec.source.empty() ? "" : " with the spec from " + spec.source));
    auto graph = inlined_forward(module);
    // Before freezing turns parameters into constants; an archive saved
    // frozen has only constants left, which are then its weights.
    ParameterStats stats = parameter_stats(module);
    if (stats.parameter_count == 0) {
      const ParameterStats constants = constant_stats(*graph);
      stats.parameter_count = constants.parameter_count;
      stats.parameter_bytes = constants.parameter_bytes;
      if (constants.parameter_count > 0)
        md.extra_info["parameter_source"] = "tensor constants (the archive was saved frozen)";
    }
    TensorSources sources = infer_inputs_from_graph(module, *graph, args, spec.source, md);
    graph.reset();  // the analysis copy; freezing below must not keep the unfrozen graph alive

    auto& info = md.extra_info;
    info["schema"] = schema;
    info["torch_version"] = TORCH_VERSION;
    info["parameter_count"] = std::to_string(stats.parameter_count);
    info["parameter_bytes"] = std::to_string(stats.parameter_bytes);
    info["buffer_bytes"] = std::to_string(stats.buffer_bytes);
    info["intra_op_threads"] = std::to_string(setup_.intra_op_threads);
    info["inter_op_threads"] = std::to_string(setup_.inter_op_threads);
    if (!setup_.thread_note.empty()) info["threads_note"] = setup_.thread_note;
    if (!spec.source.empty()) info["tensor_spec"] = spec.source;
    if (!notes.empty()) {
      std::string joined;
      for (const auto& n : notes) joined += (joined.empty() ? "" : "; ") + n;
      info["provider_fallback"] = joined + "; using " + device.str();
    }
    optimize(module, options.optimization_level, info);
    const bool graph_optimize = options.optimization_level != OptimizationLevel::kDisable;
    // On a thread of its own: what a run leaves per thread (libtorch's
    // thread-local pools and teams) ends with it instead of staying on the
    // loading thread, outside the server's thread budget (docs/scheduling.md,
    // "Threads"; tests/python/test_thread_budget.py).
    std::exception_ptr probe_error;
    std::thread probe([&] {
      try {
        probe_tensors(module, device, graph_optimize, args, spec.outputs, sources, md);
      } catch (...) {
        probe_error = std::current_exception();
      }
    });
    probe.join();
    if (probe_error) std::rethrow_exception(probe_error);

    release_free_memory();  // the unfrozen copy's pages, so the RSS delta is the model's
    const uint64_t rss_after = process_rss_bytes();
    md.measured_memory_bytes = std::max({rss_after > rss_before ? rss_after - rss_before : 0,
                                         stats.parameter_bytes + stats.buffer_bytes, file_size});
    return std::unique_ptr<Model>(
        new TorchModel(std::move(module), device, std::move(args), std::move(md), spec.outputs, graph_optimize));
  }

  // Levels: disable: eval() and no graph-executor optimization at run time;
  // basic: eval(); extended: + torch::jit::freeze (parameters become
  // constants, attributes inlined); all: + optimize_for_inference (conv/bn
  // folding, MKLDNN layouts on CPU). Freezing fails for some modules (e.g.
  // non-tensor attributes it cannot inline); the unfrozen module then runs.
  static void optimize(torch::jit::Module& module, OptimizationLevel level, std::map<std::string, std::string>& info) {
    info["frozen"] = "false";
    if (level != OptimizationLevel::kExtended && level != OptimizationLevel::kAll) return;
    try {
      module = torch::jit::freeze(module);
      info["frozen"] = "true";
    } catch (const std::exception& e) {
      info["freeze_error"] = "freezing failed, running the unfrozen module: " + engine_message(e);
      return;
    }
    if (level != OptimizationLevel::kAll) return;
    try {
      module = torch::jit::optimize_for_inference(module);
      info["optimized_for_inference"] = "true";
    } catch (const std::exception& e) {
      info["optimized_for_inference"] = "false: " + engine_message(e);
    }
  }

  const EngineSetup& setup_;
};

}  // namespace
}  // namespace polaris::torch_backend

// The module's one exported symbol (the module is built with hidden
// visibility); see PolarisCreateBackendFn in backends/backend.h.
extern "C" __attribute__((visibility("default"))) polaris::Backend* polaris_create_backend(
    int abi_version, const polaris::BackendConfig* config, std::string* error) {
  using polaris::torch_backend::TorchBackend;
  return polaris::create_backend_checked(abi_version, config, error, "libtorch", [](const polaris::BackendConfig& c) {
    return new TorchBackend(polaris::torch_backend::setup_engine(c.threads));
  });
}
