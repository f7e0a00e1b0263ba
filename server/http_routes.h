// The KServe v2 REST API (docs: ../shared/docs/kserve-v2-protocol.md) as an
// HttpHandler: routes, body decompression, the infer codec, response
// compression. Inference and loads run on a worker pool, so health checks and
// metadata stay fast while a model computes, except for models whose
// requests have been taking less than `inline_below` end to end: those run
// on the I/O thread, saving two thread hand-offs that would cost more than
// the request (bench/serving measures it).
// Thread-safety: handle() is thread-safe.
#pragma once

#include <atomic>
#include <chrono>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include <boost/asio/thread_pool.hpp>

#include "server/access_control.h"
#include "server/dashboard_routes.h"
#include "server/http_server.h"
#include "server/inference_service.h"

namespace polaris {

class KServeHttpRoutes {
 public:
  // `workers`: threads that run inference and repository changes;
  // `access`: who may do what (access_control.h); `dashboard`: the built
  // web dashboard served at "/" (dashboard_routes.h).
  KServeHttpRoutes(InferenceService& service, int workers, std::size_t max_body_bytes,
                   std::chrono::microseconds inline_below = std::chrono::microseconds(1000),
                   AccessPolicy access = {}, DashboardOptions dashboard = {});
  ~KServeHttpRoutes();  // waits for the work in progress

  void handle(HttpRequest&& request, HttpRespond respond, const std::string& peer);

 private:
  HttpResponse route(const HttpRequest& request, const std::vector<std::string>& parts);
  HttpResponse model_route(const HttpRequest& request, const std::vector<std::string>& parts);
  struct Call;
  // Decodes and submits an infer; the answer is sent when the model ran.
  void infer(std::shared_ptr<Call> call);
  void finish(Call& call, HttpResponse response);

  // Whether a request may run on the I/O thread: an infer for a model whose
  // recent requests were quick.
  bool runs_inline(const HttpRequest& request, const std::vector<std::string>& parts);
  void record_duration(const std::vector<std::string>& parts, std::chrono::nanoseconds took);
  void prune_durations();

  InferenceService& service_;
  const AccessPolicy access_;
  DashboardRoutes dashboard_;
  std::size_t max_body_bytes_;
  std::chrono::microseconds inline_below_;
  std::mutex durations_mu_;
  // Model -> moving average of its successful infers, for listed models
  // only (record_duration); guarded by durations_mu_.
  std::map<std::string, double, std::less<>> recent_us_;
  std::atomic<bool> prune_due_{false};  // a model was added to recent_us_
  boost::asio::thread_pool workers_;
};

}  // namespace polaris
