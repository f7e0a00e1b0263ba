// `polaris pull SOURCE [--name N] [--sha256 H] [--into REPO]`: a model from
// the catalog, a URL or a file, into the cache and optionally a repository
// (issue 19, docs/pull.md).
//
// The library (pull/) gets the verified file; this command adds what needs
// an engine: before installing, the model is loaded once, which both proves
// it loads and gives the config.pbtxt written beside it when there is none
// (the config a lazy server would complete for it, so Triton and Polaris
// read the same).

#include <chrono>
#include <filesystem>
#include <iostream>

#include <fmt/format.h>
#include <google/protobuf/text_format.h>

#include "backends/registry.h"
#include "cli/child_process.h"
#include "cli/commands.h"
#include "cli/progress_line.h"
#include "cli/python_tools.h"
#include "core/byte_size.h"
#include "pull/fetch.h"
#include "pull/repository_install.h"
#include "runtime/model_config.h"
#include "runtime/provider_choice.h"

namespace polaris::cli {
namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

struct PullArgs {
  pull::SourceRequest source;
  std::string into;
  int64_t version = 0;
  std::vector<std::string> catalogs;
  std::string cache_dir;
  bool offline = false;
  bool list = false;
  bool no_config = false;
  int retries = 3;
};

// Download progress on stderr: a line redrawn in place on a terminal (size,
// rate, ETA), otherwise a plain line at every tenth of the file, or every
// 10 s when the size is unknown.
class DownloadPrinter {
 public:
  void update(const pull::DownloadProgress& p) {
    const double rate = p.seconds > 0 ? (p.have - p.resumed_from) / p.seconds : 0;
    std::string line = format_byte_size(p.have);
    if (p.total && *p.total > 0) {
      const double eta = rate > 0 ? (*p.total - p.have) / rate : 0;
      line = fmt::format("{} / {} ({:.0f}%), {}/s, ETA {:.0f} s", line, format_byte_size(*p.total),
                         100.0 * p.have / *p.total, format_byte_size(static_cast<uint64_t>(rate)), eta);
    } else {
      line += fmt::format(", {}/s", format_byte_size(static_cast<uint64_t>(rate)));
    }
    const auto now = Clock::now();
    if (line_.terminal()) {
      // libcurl reports many times a second: redraw at most ten times.
      if (now - last_line_ < std::chrono::milliseconds(100) && !(p.total && p.have == *p.total)) return;
      last_line_ = now;
      line_.redraw(line);
      return;
    }
    const int64_t tenth = p.total && *p.total > 0 ? static_cast<int64_t>(p.have * 10 / *p.total) : -1;
    const bool due = tenth >= 0 ? tenth != last_tenth_ : now - last_line_ > std::chrono::seconds(10);
    if (!due) return;
    last_tenth_ = tenth;
    last_line_ = now;
    line_.print("progress: " + line);
  }
  void notice(const std::string& text) { line_.print(text); }
  void clear() { line_.clear(); }

 private:
  ProgressLine line_;
  int64_t last_tenth_ = -1;
  Clock::time_point last_line_ = Clock::now();
};

Result<pull::Catalog> read_catalogs(const PullArgs& args) {
  pull::Catalog catalog;
  std::vector<std::string> paths = pull::default_catalog_paths();
  paths.insert(paths.end(), args.catalogs.begin(), args.catalogs.end());
  for (const auto& path : paths)
    if (Status s = catalog.add_file(path); !s.ok()) return s;
  return catalog;
}

void print_catalog(const pull::Catalog& catalog) {
  std::cout << fmt::format("{:<24} {:<12} {:>10}  {}\n", "NAME", "FORMAT", "SIZE", "DESCRIPTION");
  for (const auto* entry : catalog.entries())
    std::cout << fmt::format("{:<30} {:<12} {:>10}  {}\n", entry->name, entry->format,
                             entry->size ? format_byte_size(*entry->size) : "?", entry->description);
}

// The config.pbtxt a lazy server would complete for the model, from one
// load of it on the CPU (which also proves it loads).
Result<std::string> generate_config(const std::string& file, const std::string& name, const std::string& extension) {
  BackendConfig backends;
  backends.threads.intra_op = 1;
  BackendRegistry registry(backends);
  LoadOptions options;
  options.providers = {"cpu"};
  const std::string backend = extension == ".pt" ? "torch" : "onnxruntime";
  auto model = registry.load(file, options, backend);
  if (!model.ok())
    return FailedPrecondition("the downloaded file does not load as a model, so it was not installed (it stays in "
                              "the cache): " + model.status().message());
  inference::ModelConfig config;
  config.set_name(name);
  config = complete_model_config(std::move(config), (*model)->metadata());
  std::string text;
  google::protobuf::TextFormat::PrintToString(config, &text);
  return "# Written by `polaris pull` from the model itself; edit freely (docs/runtime.md).\n" + text;
}

// A torchvision state_dict exported to TorchScript by torchvision_export.py
// in a child Python, cached like a download (keyed by the weights' hash and
// the architecture), so a second pull neither exports nor installs again.
// FailedPrecondition when Python lacks torch or torchvision.
Result<pull::ModelCache::Entry> export_torchvision(const pull::ModelCache& cache, const std::string& architecture,
                                                   const pull::ModelCache::Entry& weights) {
  const std::string key = fmt::format("torchvision-export:{}:{}", architecture, weights.sha256);
  if (auto hash = cache.hash_for_url(key))
    if (auto path = cache.find(*hash)) return pull::ModelCache::Entry{*hash, *path};
  POLARIS_ASSIGN_OR_RETURN(std::string tool, find_python_tool("torchvision_export.py"));
  POLARIS_ASSIGN_OR_RETURN(std::string partial, cache.partial_path(std::nullopt, key));
  std::cerr << "exporting torchvision's " << architecture << " to TorchScript\n";
  POLARIS_ASSIGN_OR_RETURN(ChildResult child, run_child({python_interpreter(), tool, architecture, weights.path, partial}));
  if (child.exit_code == kPythonToolMissing)
    return FailedPrecondition("the export needs torch and torchvision in " + python_interpreter() +
                              " (set POLARIS_PYTHON to a Python that has them)");
  if (child.exit_code != 0) {
    std::error_code ignored;
    fs::remove(partial, ignored);
    return InvalidArgument(fmt::format("exporting torchvision's {} failed (exit {}); the weights stay in the cache",
                                       architecture, child.exit_code));
  }
  return cache.publish(partial, std::nullopt, key);
}

int run_pull(const PullArgs& args) {
  auto catalog = read_catalogs(args);
  if (!catalog.ok()) {
    std::cerr << "error: " << catalog.status().message() << "\n";
    return 2;
  }
  if (args.list) {
    print_catalog(*catalog);
    return 0;
  }
  if (args.source.source.empty()) {
    std::cerr << "error: give a SOURCE (a catalog name, an http(s) URL or a file), or --list\n";
    return 2;
  }
  auto source = pull::resolve_source(args.source, *catalog);
  if (!source.ok()) {
    std::cerr << "error: " << source.status().message() << "\n";
    return 2;
  }
  BackendConfig paths;
  paths.cache_dir = args.cache_dir;
  const std::string root = cache_root(paths);
  if (root.empty()) {
    std::cerr << "error: no cache folder (set HOME or XDG_CACHE_HOME, or give --cache-dir)\n";
    return 2;
  }
  const pull::ModelCache cache((fs::path(root) / "models").string());

  DownloadPrinter printer;
  pull::FetchOptions options;
  options.offline = args.offline;
  options.download.retries = args.retries;
  options.download.on_progress = [&](const pull::DownloadProgress& p) { printer.update(p); };
  options.download.on_notice = [&](const std::string& text) { printer.notice(text); };
  options.on_notice = options.download.on_notice;
  auto fetched = pull::fetch(*source, cache, options);
  printer.clear();
  if (!fetched.ok()) {
    std::cerr << "error: " << fetched.status().message() << "\n";
    return 1;
  }
  std::error_code ec;
  const uint64_t size = fs::file_size(fetched->file.path, ec);
  std::cout << fmt::format("{}: {} sha256:{} {}\n", source->name, format_byte_size(size), fetched->file.sha256,
                           fetched->from_cache ? "(from the cache)" : "(downloaded, verified)");
  std::cout << "cached at " << fetched->file.path << "\n";
  if (!source->torchvision_architecture.empty()) {
    auto exported = export_torchvision(cache, source->torchvision_architecture, fetched->file);
    if (!exported.ok()) {
      std::cerr << "error: " << exported.status().message() << "\n";
      return exported.status().code() == StatusCode::kFailedPrecondition ? kPythonToolMissing : 1;
    }
    std::cout << fmt::format("exported to TorchScript: {} sha256:{}\n", exported->path, exported->sha256);
    fetched->file = *exported;
  }
  if (args.into.empty()) return 0;

  pull::InstallRequest install;
  install.file = fetched->file.path;
  install.sha256 = fetched->file.sha256;
  install.repository = args.into;
  install.name = source->name;
  install.extension = source->extension;
  install.version = args.version;
  if (!args.no_config) {  // written only when the model has no config.pbtxt yet
    auto config = generate_config(fetched->file.path, source->name, source->extension);
    if (!config.ok()) {
      std::cerr << "error: " << config.status().message() << "\n";
      return 1;
    }
    install.config_text = *config;
  }
  auto installed = pull::install_into_repository(install);
  if (!installed.ok()) {
    std::cerr << "error: " << installed.status().message() << "\n";
    return 1;
  }
  if (installed->already_there)
    std::cout << fmt::format("already installed: {} (version {} holds these bytes)\n", installed->model_path,
                             installed->version);
  else
    std::cout << fmt::format("installed {}{}\n", installed->model_path,
                             installed->wrote_config ? " with a generated config.pbtxt" : "");
  return 0;
}

}  // namespace

void add_pull_command(CLI::App& app, int& exit_code) {
  auto args = std::make_shared<PullArgs>();
  CLI::App* cmd = app.add_subcommand("pull", "Download a model (catalog name, URL or file) into the cache and a repository");
  cmd->add_option("source", args->source.source, "A catalog name (see --list), an http(s) URL or a model file");
  cmd->add_option("--name", args->source.name, "Name in the repository (default: the catalog's, or the file's stem)");
  cmd->add_option("--sha256", args->source.sha256, "Expected sha256: a file with another hash is discarded");
  cmd->add_option("--format", args->source.format, "onnx or torchscript, when the name does not tell");
  cmd->add_option("--mirror", args->source.mirrors, "Another URL of the same file, tried in order (repeatable)");
  cmd->add_option("--into", args->into, "Install into this model repository as NAME/VERSION/model.*");
  cmd->add_option("--version", args->version, "Version folder to install as (default: one past the highest)");
  cmd->add_option("--catalog", args->catalogs, "Another catalog file, read after the shipped and user ones (repeatable)");
  cmd->add_option("--cache-dir", args->cache_dir, "Cache root (default: $XDG_CACHE_HOME/polaris or ~/.cache/polaris)");
  cmd->add_option("--retries", args->retries, "Attempts per URL after a transfer breaks off")->capture_default_str();
  cmd->add_flag("--offline", args->offline, "Use the cache only: never download");
  cmd->add_flag("--no-config", args->no_config, "Install without loading the model or writing a config.pbtxt");
  cmd->add_flag("--list", args->list, "List the catalog's models");
  cmd->callback([args, &exit_code] { exit_code = run_pull(*args); });
}

}  // namespace polaris::cli
