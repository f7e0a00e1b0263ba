// `polaris serve`: the KServe v2 server (HTTP 8000, gRPC 8001, metrics
// 8002) over a model repository. Flags are named as Triton names them;
// every flag also reads an environment variable (POLARIS_<FLAG>), the flag
// winning. SIGINT/SIGTERM: stop accepting, answer what is in progress, exit 0.
#include <csignal>
#include <sys/syscall.h>
#include <unistd.h>
#include <filesystem>
#include <iostream>
#include <cstdio>
#include <cstdlib>
#include <thread>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "cli/commands.h"
#include "cli/logging.h"
#include "core/build_info.h"
#include "core/byte_size.h"
#include "core/executable_dir.h"
#include "runtime/model_manager.h"
#include "server/access_control.h"
#include "server/grpc_server.h"
#include "server/http_routes.h"
#include "server/http_server.h"
#include "server/inference_service.h"
#include "server/metrics.h"

namespace polaris::cli {
namespace {

// The thread that sigwait()s for SIGINT/SIGTERM. Threads that libraries
// start while being loaded, before main (OpenBLAS's pool, through OpenCV),
// never get the blocking mask, and a process-directed signal may be handed
// to one of them, whose default action would end the process at once (seen
// as exit -15 when SIGTERM came early). This handler, only ever run on such
// a thread, passes the signal on to the waiting thread instead.
pid_t signal_thread = 0;
void forward_to_signal_thread(int signal_number) {
  syscall(SYS_tgkill, getpid(), signal_thread, signal_number);  // async-signal-safe
}

struct ServeArgs {
  std::string repository;
  std::string address = "0.0.0.0";
  int http_port = 8000, grpc_port = 8001, metrics_port = 8002;
  bool allow_http = true, allow_grpc = true, allow_metrics = true;
  bool modelmesh = false;  // ModelMesh's model runtime service on the gRPC port (docs/deploy.md)
  std::string control_mode = "lazy";
  std::vector<std::string> load_models;
  double poll_secs = 15;
  std::vector<std::string> memory_limits;  // "6GiB" (cpu) or "gpu:0=4GiB"
  int max_models = 0;
  std::string keep_alive = "0";
  std::vector<std::string> pinned;
  bool no_autoload = false;
  bool no_warmup = false;
  bool check_new_versions = true;
  bool engine_spinning = false;
  int inter_op_threads = 1;
  int threads = 0;
  int execution_threads = 0;
  int http_threads = 2;
  int workers = 0;
  int inline_below_us = 1000;
  std::string max_request_size = "512MiB";
  int request_timeout_s = 60;
  int max_concurrent_requests = 1024;
  std::string providers;
  std::string cache_dir;
  std::string log_level = "info";
  int shutdown_timeout_s = 30;
  // Access control and transport (docs/security.md).
  std::string admin_token, admin_token_file, infer_token, infer_token_file;
  bool allow_repository_changes = false;
  bool allow_shared_memory = true;  // Triton's system shared memory extension (docs/server.md)
  std::string tls_cert, tls_key, tls_client_ca;
  std::string dashboard_dir;  // empty: <exe>/../share/polaris/dashboard
};

// A token from its flag or its file flag (not both).
Result<std::string> token_from(const std::string& value, const std::string& file, const char* flag) {
  if (!value.empty() && !file.empty())
    return InvalidArgument(fmt::format("give --{0} or --{0}-file, not both", flag));
  if (!file.empty()) return read_token_file(file);
  return value;
}

Result<AccessPolicy> access_policy(const ServeArgs& a) {
  AccessOptions o;
  POLARIS_ASSIGN_OR_RETURN(o.admin_token, token_from(a.admin_token, a.admin_token_file, "admin-token"));
  POLARIS_ASSIGN_OR_RETURN(o.inference_token, token_from(a.infer_token, a.infer_token_file, "infer-token"));
  o.allow_repository_changes = a.allow_repository_changes;
  return AccessPolicy::create(o);
}

Result<ManagerOptions> manager_options(const ServeArgs& a) {
  if (a.repository.empty() && !a.modelmesh)
    return InvalidArgument("--model-repository is required (ModelMesh mode, --modelmesh true, may go without)");
  if (a.modelmesh && !a.allow_grpc) return InvalidArgument("--modelmesh true needs gRPC (--allow-grpc true)");
  ManagerOptions o;
  o.repository = a.repository;
  POLARIS_ASSIGN_OR_RETURN(o.mode, parse_control_mode(a.control_mode));
  o.startup_models = a.load_models;
  if (!a.load_models.empty() && o.mode != ControlMode::kExplicit)
    return InvalidArgument("--load-model needs --model-control-mode explicit");
  if (a.poll_secs <= 0) return InvalidArgument("--repository-poll-secs must be positive");
  o.poll_interval = std::chrono::milliseconds(static_cast<int64_t>(a.poll_secs * 1000));
  o.execution_threads = a.execution_threads;
  for (const std::string& limit : a.memory_limits) {
    const auto eq = limit.find('=');
    const std::string device = eq == std::string::npos ? "cpu" : limit.substr(0, eq);
    POLARIS_ASSIGN_OR_RETURN(uint64_t bytes, parse_byte_size(eq == std::string::npos ? limit : limit.substr(eq + 1)));
    if (device != "cpu" && device.rfind("gpu:", 0) != 0)
      return InvalidArgument("--memory-limit device must be cpu or gpu:N, not '" + device + "'");
    o.memory_limits[device] = bytes;
  }
  if (a.max_models > 0) o.max_models = static_cast<std::size_t>(a.max_models);
  POLARIS_ASSIGN_OR_RETURN(o.default_policy.keep_alive, parse_duration(a.keep_alive));
  o.pinned_models = a.pinned;
  o.autoload = !a.no_autoload;
  o.warmup = !a.no_warmup;
  o.check_polled_versions = a.check_new_versions;
  if (!a.providers.empty()) {
    std::string rest = a.providers;
    for (std::size_t comma; (comma = rest.find(',')) != std::string::npos; rest = rest.substr(comma + 1))
      o.load_defaults.providers.push_back(rest.substr(0, comma));
    o.load_defaults.providers.push_back(rest);
  }
  return o;
}

// The built dashboard (docs/dashboard.md): --dashboard-dir, else where an
// installed or built polaris keeps it, beside its bin/ folder.
DashboardOptions dashboard_options(const ServeArgs& a) {
  DashboardOptions o;
  o.files_dir = !a.dashboard_dir.empty() ? a.dashboard_dir : executable_dir() + "/../share/polaris/dashboard";
  o.files_dir = std::filesystem::path(o.files_dir).lexically_normal().string();
  auto files = StaticFiles::load(o.files_dir);
  if (files.ok())
    o.files = std::move(*files);
  else if (!a.dashboard_dir.empty() || files.status().code() != StatusCode::kNotFound)
    spdlog::warn("dashboard: {}", files.status().message());
  return o;
}

void print_summary(const ServeArgs& a, ModelManager& manager, const AccessPolicy& access, const HttpServer* http,
                   const GrpcServer* grpc, const HttpServer* metrics, bool dashboard_built,
                   const std::string& dashboard_dir) {
  const auto rows = manager.index();
  std::cout << fmt::format("polaris {} serving {} ({} model versions listed, control mode {})\n",
                           build_info::kPolarisVersion, a.repository.empty() ? "no repository" : a.repository,
                           rows.size(), a.control_mode);
  for (const auto& r : rows)
    std::cout << fmt::format("  {:<28} {:>4}  {:<11} {}\n", r.name, r.version > 0 ? std::to_string(r.version) : "-",
                             to_string(r.state), r.reason);
  for (const auto& d : manager.memory())
    std::cout << fmt::format("  memory {}: budget {}, {} in use\n", d.device,
                             d.budget == UINT64_MAX ? "unlimited" : format_byte_size(d.budget),
                             format_byte_size(d.used));
  if (auto max = manager.options().max_models) std::cout << fmt::format("  at most {} models resident\n", *max);
  if (http) std::cout << fmt::format("  HTTP    {}:{}  (KServe v2 REST)\n", a.address, http->port());
  if (grpc)
    std::cout << fmt::format("  gRPC    {}:{}  (inference.GRPCInferenceService{})\n", a.address, grpc->port(),
                             a.modelmesh ? ", mmesh.ModelRuntime for ModelMesh" : "");
  if (metrics) std::cout << fmt::format("  metrics {}:{}/metrics  (Prometheus)\n", a.address, metrics->port());
  std::cout << fmt::format("  access: inference {}, repository changes {}{}\n",
                           access.inference_protected() ? "needs the inference or admin token" : "open",
                           !access.repository_changes_enabled() ? "off"
                           : a.allow_repository_changes && a.admin_token.empty() && a.admin_token_file.empty()
                               ? "open to anyone"
                               : "need the admin token",
                           a.tls_cert.empty() ? "" : ", TLS on HTTP and gRPC");
  if (http && dashboard_built)
    std::cout << fmt::format("dashboard: {}://localhost:{}/\n", a.tls_cert.empty() ? "http" : "https", http->port());
  else if (http)
    std::cout << fmt::format("dashboard: not built (no index.html in {}): make dashboard\n", dashboard_dir);
  if (http)
    std::cout << fmt::format("try: curl -s {}://localhost:{}/v2/health/ready -w '%{{http_code}}\\n'\n",
                             a.tls_cert.empty() ? "http" : "https", http->port());
  std::cout << std::flush;
}

int run_serve(const ServeArgs& a) {
  init_logging(a.log_level == "debug" ? LogLevel::kDebug : a.log_level == "warning" ? LogLevel::kWarning
               : a.log_level == "error"                  ? LogLevel::kError
                                                           : LogLevel::kInfo);
  auto options = manager_options(a);
  if (!options.ok()) {
    std::cerr << "error: " << options.status().message() << "\n";
    return 2;
  }
  auto max_body = parse_byte_size(a.max_request_size);
  if (!max_body.ok()) {
    std::cerr << "error: --max-request-size: " << max_body.status().message() << "\n";
    return 2;
  }
  auto access = access_policy(a);
  if (!access.ok()) {
    std::cerr << "error: " << access.status().message() << "\n";
    return 2;
  }
  if (a.control_mode == "explicit" && !access->repository_changes_enabled())
    spdlog::warn("explicit mode with repository changes off (no --admin-token, no --allow-repository-changes): "
                 "only the --load-model models will ever load");
  // Signals go to this thread only (sigwait below): every thread started
  // from here on inherits the mask.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  signal_thread = static_cast<pid_t>(syscall(SYS_gettid));
  struct sigaction forward {};
  forward.sa_handler = forward_to_signal_thread;
  sigemptyset(&forward.sa_mask);
  forward.sa_flags = SA_RESTART;
  sigaction(SIGINT, &forward, nullptr);
  sigaction(SIGTERM, &forward, nullptr);

  BackendConfig backends;
  backends.threads.intra_op = a.threads;
  backends.threads.inter_op = a.inter_op_threads;
  backends.threads.allow_spinning = a.engine_spinning;
  backends.cache_dir = a.cache_dir;
  backends.warn = [](const std::string& message) { spdlog::warn("{}", message); };
  auto registry = std::make_unique<BackendRegistry>(backends);
  auto manager = ModelManager::create(std::move(*options), *registry);
  if (!manager.ok()) {
    std::cerr << "error: " << manager.status().message() << "\n";
    return 1;
  }
  InferenceService service(**manager);
  service.shared_memory().set_enabled(a.allow_shared_memory);
  const int workers = a.workers > 0 ? a.workers : 2;  // decode and encode only: inference runs on the execution pool
  DashboardOptions dashboard = dashboard_options(a);
  const std::string dashboard_dir = dashboard.files_dir;
  const bool dashboard_built = dashboard.files.has_value();
  auto routes = std::make_unique<KServeHttpRoutes>(service, workers, *max_body,
                                                   std::chrono::microseconds(a.inline_below_us), *access,
                                                   std::move(dashboard));
  MetricsRenderer metrics_renderer(**manager);

  std::unique_ptr<HttpServer> http, metrics;
  std::unique_ptr<GrpcServer> grpc;
  auto fail = [&](const Status& s) {
    std::cerr << "error: " << s.message() << "\n";
    return 1;
  };
  if (a.allow_http) {
    HttpOptions h;
    h.address = a.address;
    h.port = a.http_port;
    h.io_threads = a.http_threads;
    h.max_body_bytes = *max_body;
    h.request_timeout = std::chrono::seconds(a.request_timeout_s);
    h.max_concurrent_requests = a.max_concurrent_requests;
    h.tls_cert_file = a.tls_cert;
    h.tls_key_file = a.tls_key;
    h.tls_client_ca_file = a.tls_client_ca;
    http = std::make_unique<HttpServer>(
        h, [r = routes.get()](HttpRequest&& req, HttpRespond respond, const std::string& peer) {
          r->handle(std::move(req), std::move(respond), peer);
        });
    if (Status s = http->start(); !s.ok()) return fail(s);
  }
  if (a.allow_grpc) {
    GrpcOptions g;
    g.address = a.address;
    g.port = a.grpc_port;
    g.max_message_bytes = *max_body;
    g.access = *access;
    g.tls_cert_file = a.tls_cert;
    g.tls_key_file = a.tls_key;
    g.tls_client_ca_file = a.tls_client_ca;
    g.modelmesh = a.modelmesh;
    grpc = std::make_unique<GrpcServer>(service, g);
    if (Status s = grpc->start(); !s.ok()) return fail(s);
  }
  if (a.allow_metrics) {
    HttpOptions m;
    m.address = a.address;
    m.port = a.metrics_port;
    m.io_threads = 1;
    m.thread_name = "polaris-metrics";
    m.max_body_bytes = 1 << 20;
    metrics = std::make_unique<HttpServer>(m, [&metrics_renderer](HttpRequest&& req, HttpRespond respond,
                                                                  const std::string&) {
      const std::string target(req.target().substr(0, req.target().find('?')));
      if (target != "/metrics") return respond(make_error(req, NotFound("metrics are at /metrics")));
      respond(make_response(req, boost::beast::http::status::ok, metrics_renderer.render(),
                            "text/plain; version=0.0.4; charset=utf-8"));
    });
    if (Status s = metrics->start(); !s.ok()) return fail(s);
  }
  print_summary(a, **manager, *access, http.get(), grpc.get(), metrics.get(), dashboard_built, dashboard_dir);

  int signal_number = 0;
  sigwait(&signals, &signal_number);
  spdlog::info("{} received: finishing requests in progress, then exiting", strsignal(signal_number));
  service.set_ready(false);
  const auto deadline = std::chrono::seconds(a.shutdown_timeout_s);
  if (http) http->shutdown(deadline);
  if (grpc) grpc->shutdown(deadline);
  // Executions still running answer into the servers' objects: those stay
  // until every request let go of its model. Past the deadline, nothing is
  // torn down under a running execution: the process just ends.
  if (!(*manager)->wait_until_idle(deadline)) {
    spdlog::warn("requests still running after --shutdown-timeout; exiting without waiting for them");
    spdlog::shutdown();
    std::fflush(nullptr);
    std::_Exit(0);
  }
  routes.reset();  // waits for the work the HTTP server handed over
  if (metrics) metrics->shutdown(std::chrono::seconds(1));
  // Every request has been answered and every listener is closed. Polaris's
  // own objects go in order (models unloaded, engine modules shut down,
  // which waits for ONNX Runtime's background cache writes)...
  grpc.reset();
  http.reset();
  metrics.reset();
  manager->reset();
  registry.reset();
  spdlog::info("stopped");
  // ...but not the engines' and drivers' static destructors: their own
  // threads (ONNX Runtime's pools, PoCL/LLVM and Mesa started by device
  // discovery) may still run while those do, and a crash there, after a
  // clean drain, would turn exit 0 into a signal.
  spdlog::shutdown();
  std::fflush(nullptr);
  std::_Exit(0);
}

}  // namespace

void add_serve_command(CLI::App& app, int& exit_code) {
  auto a = std::make_shared<ServeArgs>();
  CLI::App* cmd = app.add_subcommand("serve", "Serve a model repository over KServe v2 (HTTP, gRPC) with metrics");
  // --http-port reads POLARIS_HTTP_PORT too.
  auto env_of = [](const std::string& name) {
    std::string env = "POLARIS_" + name.substr(2);
    std::transform(env.begin(), env.end(), env.begin(), [](char c) { return c == '-' ? '_' : std::toupper(c); });
    return env;
  };
  auto opt = [&](const std::string& name, auto& value, const std::string& help) {
    return cmd->add_option(name, value, help)->envname(env_of(name));
  };
  // Switches: `--no-warmup` alone (CLI11 options want a value; these did).
  auto flag = [&](const std::string& name, bool& value, const std::string& help) {
    return cmd->add_flag(name, value, help)->envname(env_of(name));
  };
  opt("--model-repository", a->repository,
      "The model repository folder (Triton layout); required unless --modelmesh is on");
  opt("--address", a->address, "Bind address of all three listeners");
  opt("--http-port", a->http_port, "HTTP port (KServe v2 REST)");
  opt("--grpc-port", a->grpc_port, "gRPC port");
  opt("--metrics-port", a->metrics_port, "Prometheus metrics port");
  opt("--allow-http", a->allow_http, "Serve HTTP (true/false)");
  opt("--allow-grpc", a->allow_grpc, "Serve gRPC (true/false)");
  opt("--allow-metrics", a->allow_metrics, "Serve metrics (true/false)");
  opt("--modelmesh", a->modelmesh,
      "Also serve ModelMesh's model runtime service (mmesh.ModelRuntime) on the gRPC port, so KServe ModelMesh "
      "places models here (true/false; docs/deploy.md)");
  opt("--model-control-mode", a->control_mode, "lazy (default), none, explicit or poll")
      ->check(CLI::IsMember({"lazy", "none", "explicit", "poll"}));
  opt("--load-model", a->load_models, "Explicit mode: a model to load at start (repeat; * for all)");
  opt("--repository-poll-secs", a->poll_secs, "Poll mode: seconds between repository scans");
  opt("--check-new-versions", a->check_new_versions,
      "Poll mode: a new or changed version passes polaris validate's checks before it serves (true/false)");
  opt("--memory-limit", a->memory_limits, "Memory budget: SIZE for the CPU, or gpu:N=SIZE (repeat)");
  opt("--max-models", a->max_models, "At most this many model versions resident (0: no limit)");
  opt("--keep-alive", a->keep_alive, "Unload models idle this long (0: never; 30s, 5m, 1h)");
  opt("--pin", a->pinned, "A model never evicted (repeat)");
  flag("--no-autoload", a->no_autoload, "Answer 503 for evicted models instead of reloading them");
  flag("--no-warmup", a->no_warmup, "Skip warm-up requests before models report ready");
  opt("--inter-op-threads", a->inter_op_threads, "Engine inter-op threads shared by all models");
  opt("--engine-spinning", a->engine_spinning,
      "Let engine threads spin while waiting for work (lower latency, burns cores other models need; off by default)");
  opt("--threads", a->threads, "Engine intra-op threads shared by all models (0: one per core)");
  opt("--execution-threads", a->execution_threads,
      "Threads that call into the engines, shared by all models: at most this many executions at once (0: one "
      "per core)");
  opt("--http-threads", a->http_threads, "HTTP I/O threads");
  opt("--workers", a->workers, "Threads decoding and encoding HTTP inference requests (0: 2)");
  opt("--inline-below-us", a->inline_below_us,
      "HTTP infers of models answering faster than this run on the I/O thread (0: never)");
  opt("--max-request-size", a->max_request_size, "Largest request body or gRPC message");
  opt("--request-timeout", a->request_timeout_s, "Seconds to receive a request (and idle keep-alive)");
  opt("--max-concurrent-requests", a->max_concurrent_requests, "HTTP requests in progress at most; beyond: 503");
  opt("--provider", a->providers,
      "Execution providers in order, comma-separated; auto (the default): the fastest measured per model; "
      "priority: the engine's static order");
  opt("--cache-dir", a->cache_dir,
      "Optimized-model cache and provider decisions (empty: no optimized-model cache; decisions in ~/.cache/polaris)");
  opt("--log-level", a->log_level, "debug, info, warning or error")
      ->check(CLI::IsMember({"debug", "info", "warning", "error"}));
  opt("--shutdown-timeout", a->shutdown_timeout_s, "Seconds to finish requests in progress at SIGINT/SIGTERM");
  opt("--admin-token", a->admin_token,
      "Bearer token that repository changes (load, unload) need; turns them on (docs/security.md)");
  opt("--admin-token-file", a->admin_token_file, "A file holding the admin token (keeps it out of the process list)");
  opt("--infer-token", a->infer_token, "Bearer token that inference and metadata need (health stays open)");
  opt("--infer-token-file", a->infer_token_file, "A file holding the inference token");
  opt("--allow-repository-changes", a->allow_repository_changes,
      "Let anyone load and unload models when no admin token is set (true/false; default false)");
  opt("--allow-shared-memory", a->allow_shared_memory,
      "Let clients on this machine register system shared memory regions for inputs and outputs (true/false; "
      "default true, as in Triton; docs/server.md)");
  opt("--tls-cert", a->tls_cert, "PEM certificate chain: HTTP and gRPC speak TLS (with --tls-key)");
  opt("--tls-key", a->tls_key, "PEM private key of --tls-cert");
  opt("--tls-client-ca", a->tls_client_ca, "PEM CA: clients must present a certificate it signed (mutual TLS)");
  opt("--dashboard-dir", a->dashboard_dir,
      "The built web dashboard served at / (default: ../share/polaris/dashboard beside the polaris binary)");
  cmd->callback([a, &exit_code] { exit_code = run_serve(*a); });
}

}  // namespace polaris::cli
