// The web dashboard's side of the HTTP API (docs/dashboard.md): the built
// dashboard at "/", and the two JSON endpoints it reads:
//   GET /polaris/overview                       everything the page shows, in
//                                               one request (it polls it)
//   GET /polaris/models/<m>/preprocessing       how the try-it panel turns a
//                                               photo into the model's input
// Thread-safety: route() is thread-safe.
#pragma once

#include <chrono>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "server/access_control.h"
#include "server/http_server.h"
#include "server/inference_service.h"
#include "server/static_files.h"

namespace polaris {

struct DashboardOptions {
  std::optional<StaticFiles> files;  // none: "/" answers how to build them
  std::string files_dir;             // where they were looked for, for that answer
};

class DashboardRoutes {
 public:
  DashboardRoutes(InferenceService& service, DashboardOptions options, const AccessPolicy& access);

  // Every path outside /v2 is the dashboard's.
  static bool owns(const std::vector<std::string>& parts) { return parts.empty() || parts[0] != "v2"; }
  // The page's files hold no data and load before the page can ask for a
  // token: open, as health checks are. /polaris/... tells what is served:
  // inference access, as the statistics do.
  static Access access(const std::vector<std::string>& parts);

  HttpResponse route(const HttpRequest& request, const std::vector<std::string>& parts);

 private:
  HttpResponse overview(const HttpRequest& request);
  HttpResponse preprocessing(const HttpRequest& request, std::string_view model);
  HttpResponse site_file(const HttpRequest& request, const std::vector<std::string>& parts) const;
  const nlohmann::json& devices();

  InferenceService& service_;
  const DashboardOptions options_;
  const std::string repository_changes_;  // "token", "open" or "off"
  const std::chrono::system_clock::time_point started_ = std::chrono::system_clock::now();
  // Discovered on the first overview, then kept: discovery asks each
  // engine for its providers, which takes a while (and the machine's
  // devices do not change while it serves).
  std::once_flag devices_once_;
  nlohmann::json devices_;
};

}  // namespace polaris
