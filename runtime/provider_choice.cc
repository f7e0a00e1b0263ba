#include "runtime/provider_choice.h"

#include <dlfcn.h>
#include <link.h>

#include <algorithm>
#include <atomic>
#include <cstdlib>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <optional>
#include <sstream>

#include <fmt/format.h>
#include <nlohmann/json.hpp>
#include <spdlog/spdlog.h>

#include "core/content_hash.h"
#include "devices/dynamic_library.h"
#include "devices/discovery.h"
#include "runtime/model_config.h"
#include "runtime/warmup.h"

namespace polaris {
namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

// Bumped when the cache file's meaning changes: older files are ignored.
constexpr int kCacheFormat = 1;

std::atomic<uint64_t> g_measurements{0};

std::string join(const std::vector<std::string>& items, const char* sep) {
  std::string out;
  for (const auto& s : items) out += (out.empty() ? "" : sep) + s;
  return out;
}

// Device discovery once per process: drivers and environment variables do
// not change under a running server, and probing OpenCL and Vulkan costs
// tens of milliseconds.
const devices::DeviceReport& machine(const std::vector<std::string>& ort_providers) {
  static std::mutex mu;
  static std::optional<devices::DeviceReport> report;
  std::lock_guard lock(mu);
  if (!report) {
    devices::EngineFacts facts;
    facts.onnxruntime = true;
    facts.ort_providers = ort_providers;
    facts.ort_library_dir = devices::loaded_library_dir("libonnxruntime.so.1");
    // Whether the opencv module is really there is asked only when an
    // OpenCL device could use it: loading OpenCV costs more than discovery.
    facts.opencv = true;
    const auto start = Clock::now();
    report = devices::discover_devices(facts);
    spdlog::debug("provider choice: device discovery took {} ms",
                  std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - start).count());
  }
  return *report;
}

// The devices (from `source`) on which `engine:provider` is usable.
std::vector<const devices::Device*> usable_devices(const devices::DeviceReport& report, const std::string& source,
                                                   const std::string& engine, const std::string& provider) {
  std::vector<const devices::Device*> out;
  if (const devices::DeviceSource* s = report.source(source))
    for (const auto& d : s->devices)
      for (const auto& p : d.providers)
        if (p.engine == engine && p.provider == provider && p.usable) out.push_back(&d);
  return out;
}

// Why no device from `source` offers `engine:provider`: the driver stack's
// reason, or each device's note (what `polaris devices` prints).
std::string why_not(const devices::DeviceReport& report, const std::string& source, const std::string& engine,
                    const std::string& provider) {
  const devices::DeviceSource* s = report.source(source);
  if (s == nullptr || !s->available) return s != nullptr ? s->reason : source + " was not probed";
  std::vector<std::string> notes;
  for (const auto& d : s->devices)
    for (const auto& p : d.providers)
      if (p.engine == engine && p.provider == provider && !p.usable) notes.push_back(d.id + ": " + p.note);
  return notes.empty() ? "no " + source + " device offers it" : join(notes, "; ");
}

// What makes a measurement valid only on this machine: a device's name,
// driver facts and (for the CPU) ISA flags.
std::string describe(const devices::Device& d) {
  std::string out = d.name + "{";
  for (const auto& [k, v] : d.properties) out += k + "=" + v + ";";
  return out + join(d.features, ",") + "}";
}

bool contains(const std::vector<std::string>& v, const std::string& s) {
  return std::find(v.begin(), v.end(), s) != v.end();
}

// Candidates with the identity of the devices they run on.
struct CandidateSet {
  std::vector<ProviderCandidate> candidates;
  std::string identity;  // devices and engine versions
};

CandidateSet find_candidates(BackendRegistry& registry, const std::string& path, const inference::ModelConfig& config,
                             std::vector<std::string>& skipped) {
  CandidateSet set;
  // Engines: the one the config names, else those that read the file.
  std::vector<std::string> engines;
  const std::string& named = !config.backend().empty() ? config.backend() : config.platform();
  if (!named.empty()) {
    auto engine = BackendRegistry::backend_name_for_override(named);
    if (!engine.ok()) return set;
    engines = {*engine};
  } else {
    auto engine = BackendRegistry::backend_name_for_path(path);
    if (!engine.ok()) return set;
    engines = {*engine};
    // OpenCV DNN reads ONNX files too (not ORT's .ort format).
    if (*engine == "onnxruntime" && fs::path(path).extension() == ".onnx") engines.push_back("opencv");
  }
  if (!contains(engines, "onnxruntime") && !contains(engines, "opencv")) return set;  // TorchScript: not ours

  std::vector<std::string> ort_providers;
  Backend* ort = nullptr;
  if (contains(engines, "onnxruntime")) {
    auto b = registry.get("onnxruntime");
    if (!b.ok()) {
      skipped.push_back("onnxruntime: " + b.status().message());
    } else {
      ort = *b;
      ort_providers = ort->available_providers();
    }
  }
  const devices::DeviceReport& report = machine(ort_providers);
  const devices::DeviceSource* cpu_source = report.source("cpu");
  const std::string cpu = cpu_source && !cpu_source->devices.empty() ? describe(cpu_source->devices[0]) : "cpu";
  auto add = [&](Backend* backend, const std::string& provider, const std::string& devices) {
    set.candidates.push_back({backend, provider});
    set.identity += std::string(backend->name()) + ":" + provider + " " + backend->engine_version() + " @ " + devices + "\n";
  };
  auto devices_of = [](const std::vector<const devices::Device*>& ds) {
    std::string out;
    for (const auto* d : ds) out += describe(*d);
    return out;
  };

  if (ort != nullptr) {
    // CPU first: a fast baseline lets slower candidates stop early.
    add(ort, "cpu", cpu);
    if (contains(ort_providers, "CUDAExecutionProvider")) {
      const auto cuda = usable_devices(report, "cuda", "onnxruntime", "cuda");
      if (!cuda.empty()) add(ort, "cuda", devices_of(cuda));
      else skipped.push_back("cuda: " + why_not(report, "cuda", "onnxruntime", "cuda"));
    }
    // Device discovery has no MIGraphX probe: the load itself says whether
    // it starts (a fallback drops the candidate).
    if (contains(ort_providers, "MIGraphXExecutionProvider")) add(ort, "migraphx", "migraphx");
    if (contains(ort_providers, "WebGpuExecutionProvider")) {
      const auto vulkan = usable_devices(report, "vulkan", "onnxruntime", "webgpu");
      if (!vulkan.empty()) add(ort, "webgpu", devices_of(vulkan));
      else skipped.push_back("webgpu: " + why_not(report, "vulkan", "onnxruntime", "webgpu"));
    }
  }
  if (contains(engines, "opencv")) {
    const auto opencl = usable_devices(report, "opencl", "opencv", "opencl");
    const bool named_opencv = engines.size() == 1;  // the config asks for OpenCV itself
    if (opencl.empty() && !named_opencv) {
      skipped.push_back("opencl: " + why_not(report, "opencl", "opencv", "opencl"));
    } else if (auto b = registry.get("opencv"); !b.ok()) {
      skipped.push_back("opencl: " + b.status().message());
    } else {
      // OpenCV's own device rules decide (it may select another device than
      // the first usable one discovery lists, or none).
      const auto offered = (*b)->available_providers();
      if (named_opencv) add(*b, "cpu", cpu);
      if (contains(offered, "opencl")) add(*b, "opencl", devices_of(opencl));
      else skipped.push_back("opencl: OpenCV selected no usable OpenCL device");
    }
  }
  return set;
}

struct Measured {
  std::string provider;
  double median_ms = 0;
  int runs = 0;
};

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  const std::size_t n = v.size();
  return n % 2 == 1 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

std::string summary(const std::vector<Measured>& measured, const std::string& chosen) {
  std::vector<std::string> parts;
  for (const auto& m : measured)
    // Tenths of a millisecond, or three decimals below 1 ms (tiny models).
    parts.push_back(fmt::format("{} {:.{}f} ms{}", m.provider, m.median_ms, m.median_ms < 1 ? 3 : 1,
                                m.runs < kMaxTimedRuns ? fmt::format(" ({} run{})", m.runs, m.runs == 1 ? "" : "s")
                                                       : ""));
  return join(parts, ", ") + " -> " + chosen;
}

std::string now_utc() {
  const std::time_t t = std::time(nullptr);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buffer[32];
  std::strftime(buffer, sizeof buffer, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buffer;
}

// A cached decision, when the file exists, parses, and names a provider that
// is still a candidate; anything else is a miss (logged when the file was
// there but unusable), and the model is measured again.
struct Cached {
  ProviderCandidate candidate;
  std::string measurements;
};

std::optional<Cached> read_cache(const fs::path& file, const std::string& model_hash, const std::string& identity,
                                 const std::vector<ProviderCandidate>& candidates) {
  std::error_code ec;
  if (!fs::exists(file, ec)) return std::nullopt;
  auto ignore = [&](const std::string& why) -> std::optional<Cached> {
    spdlog::warn("provider choice: ignoring {}: {}; measuring again", file.string(), why);
    return std::nullopt;
  };
  nlohmann::json j;
  try {
    std::ifstream in(file);
    j = nlohmann::json::parse(in);
  } catch (const std::exception& e) {
    return ignore(std::string("not valid JSON (") + e.what() + ")");
  }
  if (!j.is_object() || j.value("format", 0) != kCacheFormat) return ignore("unknown format");
  if (j.value("model_sha256", "") != model_hash || j.value("identity", "") != identity)
    return ignore("written for another model or machine");
  const std::string engine = j.value("engine", ""), provider = j.value("provider", "");
  for (const auto& c : candidates)
    if (c.backend->name() == engine && c.provider == provider) return Cached{c, j.value("measurements", "")};
  return ignore("its choice '" + engine + ":" + provider + "' is not a candidate here");
}

void write_cache(const fs::path& file, const std::string& model_hash, const std::string& identity,
                 const ProviderCandidate& chosen, const std::string& measurements) {
  const nlohmann::json j = {{"format", kCacheFormat},
                            {"model_sha256", model_hash},
                            {"identity", identity},
                            {"engine", std::string(chosen.backend->name())},
                            {"provider", chosen.provider},
                            {"measurements", measurements},
                            {"measured_at", now_utc()}};
  std::error_code ec;
  fs::create_directories(file.parent_path(), ec);
  if (!publish_file(file.string(), j.dump(2) + "\n"))
    spdlog::warn("provider choice: cannot write {} (the next load measures again)", file.string());
}

// Loads `c`, runs the warm-up request, times it. Unavailable when the
// provider fell back or failed: the candidate is dropped with the reason.
Result<std::unique_ptr<Model>> measure(const ProviderCandidate& c, const ChoiceRequest& request,
                                       const LoadOptions& options, double best_ms, Measured& out) {
  LoadOptions o = options;
  o.providers = {c.provider};
  POLARIS_ASSIGN_OR_RETURN(std::unique_ptr<Model> model, c.backend->load(request.path, o));
  if (auto it = model->metadata().extra_info.find("provider_fallback"); it != model->metadata().extra_info.end())
    return Unavailable("fell back: " + it->second);
  POLARIS_ASSIGN_OR_RETURN(auto samples, warmup_samples(complete_model_config(request.config, model->metadata()),
                                                        model->metadata(), request.model_dir));
  if (samples.empty()) return Unavailable("no input to time it with (input types unknown before a request)");
  const NamedTensors& inputs = samples.front().inputs;
  ++g_measurements;
  const auto start = Clock::now();
  auto spent = [&] { return Clock::now() - start; };
  for (int i = 0; i < kWarmupRuns && (i == 0 || spent() < kCandidateTimeCap / 2); ++i) {
    auto r = model->run(inputs, {});
    if (!r.ok()) return Unavailable("run failed: " + r.status().message());
  }
  std::vector<double> ms;
  while (static_cast<int>(ms.size()) < kMaxTimedRuns) {
    const auto t0 = Clock::now();
    auto r = model->run(inputs, {});
    if (!r.ok()) return Unavailable("run failed: " + r.status().message());
    ms.push_back(std::chrono::duration<double, std::milli>(Clock::now() - t0).count());
    if (spent() > kCandidateTimeCap) break;
    if (best_ms > 0 && *std::min_element(ms.begin(), ms.end()) > kClearlySlower * best_ms) break;
  }
  out = {c.provider, median(ms), static_cast<int>(ms.size())};
  return model;
}


// The providers the ONNX Runtime module offers; none when it is missing.
std::vector<std::string> ort_providers_of(BackendRegistry& registry) {
  if (auto ort = registry.get("onnxruntime"); ort.ok()) return (*ort)->available_providers();
  return {};
}

}  // namespace

uint64_t provider_measurement_count() { return g_measurements.load(); }

void prepare_provider_choice(BackendRegistry& registry, const Backend& backend, const LoadOptions& options) {
  if (backend.name() != "onnxruntime" && backend.name() != "opencv") return;
  const std::vector<std::string> requested = requested_providers(options);
  if (!requested.empty() && requested != std::vector<std::string>{kAutoProvider}) return;
  machine(ort_providers_of(registry));
}

int machine_gpu_count(BackendRegistry& registry) {
  const devices::DeviceReport& report = machine(ort_providers_of(registry));
  for (const char* source : {"cuda", "amd"})
    if (const devices::DeviceSource* s = report.source(source); s != nullptr && !s->devices.empty())
      return static_cast<int>(s->devices.size());
  return 0;
}

std::string cache_root(const BackendConfig& config) {
  if (!config.cache_dir.empty()) return config.cache_dir;
  if (const char* xdg = std::getenv("XDG_CACHE_HOME"); xdg != nullptr && *xdg != '\0')
    return (fs::path(xdg) / "polaris").string();
  if (const char* home = std::getenv("HOME"); home != nullptr && *home != '\0')
    return (fs::path(home) / ".cache" / "polaris").string();
  return "";
}

std::string provider_choice_dir(const BackendConfig& config) {
  const std::string root = cache_root(config);
  return root.empty() ? "" : (fs::path(root) / "provider-choice").string();
}

std::vector<ProviderCandidate> provider_candidates(BackendRegistry& registry, const std::string& path,
                                                   const inference::ModelConfig& config,
                                                   std::vector<std::string>& skipped) {
  return find_candidates(registry, path, config, skipped).candidates;
}

Result<ProviderChoice> choose_provider(BackendRegistry& registry, const ChoiceRequest& request, LoadOptions& options) {
  ProviderChoice choice;
  const std::vector<std::string> requested = requested_providers(options);
  const bool is_auto = requested.empty() || (requested.size() == 1 && requested[0] == kAutoProvider);
  const bool is_priority = requested.size() == 1 && requested[0] == kPriorityProvider;
  for (const auto& name : requested)
    if (requested.size() > 1 && (name == kAutoProvider || name == kPriorityProvider))
      return InvalidArgument("provider '" + name + "' cannot be combined with other providers");
  if (!is_auto && !is_priority) return choice;  // explicit: the engines take it as it is
  options.parameters.erase(kProviderParameter);
  options.providers.clear();
  if (is_priority || request.placed) return choice;

  std::vector<std::string> skipped;
  CandidateSet set = find_candidates(registry, request.path, request.config, skipped);
  if (!skipped.empty()) choice.info["provider_auto_skipped"] = join(skipped, "; ");
  if (set.candidates.empty()) return choice;  // not an ONNX model: the engine's own order
  auto take = [&](const ProviderCandidate& c) {
    choice.backend = c.backend;
    options.providers = {c.provider};
  };
  if (set.candidates.size() == 1) {
    take(set.candidates[0]);
    choice.info["provider_auto"] = set.candidates[0].provider;
    choice.info["provider_auto_source"] = "only candidate";
    return choice;
  }

  // The decision's key: the model's bytes, the machine, the candidates.
  const std::string dir = provider_choice_dir(registry.config());
  // The content-hash index ORT's optimized-model cache keeps (ort_cache.h):
  // a model either of them hashed is known to both by one stat.
  std::optional<ContentHashIndex> index;
  if (!dir.empty()) index.emplace((fs::path(dir).parent_path() / "ort-optimized" / "index").string());
  std::string model_hash;
  fs::path file;
  if (index) {
    if (auto h = index->hash(request.path); h.ok()) {
      model_hash = *h;
      const std::string key = string_sha256(set.identity + "|" + std::string(to_string(options.optimization_level)));
      file = fs::path(dir) / (model_hash.substr(0, 32) + "-" + key.substr(0, 16) + ".json");
    }
  }
  if (!file.empty()) {
    if (auto cached = read_cache(file, model_hash, set.identity, set.candidates)) {
      take(cached->candidate);
      choice.info["provider_auto"] = cached->measurements;
      choice.info["provider_auto_source"] = "cached (" + file.string() + ")";
      return choice;
    }
  }

  std::vector<Measured> measured;
  std::optional<ProviderCandidate> best;
  double best_ms = 0;
  for (const auto& c : set.candidates) {
    Measured m;
    auto model = measure(c, request, options, best_ms, m);
    if (!model.ok()) {
      if (c.provider == "cpu" && c.backend->name() == "onnxruntime" && model.status().code() != StatusCode::kUnavailable)
        return model.status();  // the model itself does not load
      skipped.push_back(c.provider + ": " + model.status().message());
      continue;
    }
    measured.push_back(m);
    if (!best || m.median_ms < best_ms) {
      best = c;
      best_ms = m.median_ms;
      choice.model = std::move(model).value();  // the previous best is unloaded here
    }
  }
  if (!skipped.empty()) choice.info["provider_auto_skipped"] = join(skipped, "; ");
  if (!best) {
    // Nothing ran (e.g. a config that does not match the model): the
    // engine's own order loads it, so the loader's checks give the error.
    spdlog::warn("provider choice for '{}': no candidate ran ({}); using the engine's priority order", request.path,
                 join(skipped, "; "));
    return choice;
  }
  take(*best);
  const std::string text = summary(measured, best->provider);
  choice.info["provider_auto"] = text;
  choice.info["provider_auto_source"] = "measured";
  if (!file.empty()) write_cache(file, model_hash, set.identity, *best, text);
  return choice;
}

}  // namespace polaris
