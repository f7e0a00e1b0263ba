#include "server/dashboard_routes.h"

#include <algorithm>
#include <map>
#include <utility>

#include "batch/image_preprocessing.h"
#include "core/process_memory.h"
#include "core/quote.h"
#include "runtime/device_report.h"
#include "runtime/model_config.h"
#include "runtime/triton_messages.h"

namespace polaris {

namespace http = boost::beast::http;
using nlohmann::json;

namespace {

HttpResponse no_such_endpoint(const HttpRequest& request) {
  return make_error(request, NotFound("no such endpoint: " + clip_message(std::string(request.target()))));
}

HttpResponse json_answer(const HttpRequest& request, const json& body) {
  return make_response(request, http::status::ok, body.dump(-1, ' ', false, json::error_handler_t::replace));
}

json epoch_ms(std::optional<std::chrono::system_clock::time_point> t) {
  if (!t) return nullptr;
  return std::chrono::duration_cast<std::chrono::milliseconds>(t->time_since_epoch()).count();
}

json statistics_json(const StatisticsSnapshot& s) {
  json batches = json::object();
  for (const auto& [size, b] : s.batch) batches[std::to_string(size)] = b.compute_infer.count;
  return {{"success", s.success.count},         {"failure", s.fail.count},
          {"inference_count", s.inference_count}, {"execution_count", s.execution_count},
          {"success_ns", s.success.ns},          {"queue_ns", s.queue.ns},
          {"latency_counts", s.latency_counts},  {"batch_executions", std::move(batches)}};
}

json model_json(const ModelVersionStatus& row, const StatisticsSnapshot* stats) {
  json keep_alive = nullptr;
  if (row.keep_alive.count() > 0) keep_alive = row.keep_alive.count();
  return {{"name", row.name},
          {"version", row.version},
          {"state", std::string(to_string(row.state))},
          {"reason", row.reason},
          {"engine", row.engine},
          {"provider", row.provider},
          {"device", row.device},
          {"resident_bytes", row.resident_bytes},
          {"predicted_bytes", row.predicted_bytes},
          {"pinned", row.pinned},
          {"keep_alive_ms", keep_alive},
          {"last_used_ms", epoch_ms(row.last_used)},
          {"in_flight", row.in_flight},
          {"queued", row.scheduler.queued},
          {"instances", row.scheduler.instances},
          {"loads", row.loads},
          {"evictions", row.evictions},
          {"last_load_ms", row.last_load_duration.count()},
          {"stats", stats ? statistics_json(*stats) : json(nullptr)}};
}

// The request shape for one image: the sample's [3,H,W] or [H,W,3], with a
// batch dim of 1 when the model batches or its input is 4-D.
std::vector<int64_t> image_request_shape(const batch::ImagePreprocessing& p, const inference::ModelInput& input,
                                         bool batched) {
  std::vector<int64_t> shape = p.layout == batch::Layout::kNchw
                                   ? std::vector<int64_t>{3, p.crop_height, p.crop_width}
                                   : std::vector<int64_t>{p.crop_height, p.crop_width, 3};
  if (batched || input.dims_size() == 4) shape.insert(shape.begin(), 1);
  return shape;
}

}  // namespace

DashboardRoutes::DashboardRoutes(InferenceService& service, DashboardOptions options, const AccessPolicy& access)
    : service_(service),
      options_(std::move(options)),
      repository_changes_(access.admin_token_required()          ? "token"
                          : access.repository_changes_enabled() ? "open"
                                                                : "off") {}

Access DashboardRoutes::access(const std::vector<std::string>& parts) {
  return !parts.empty() && parts[0] == "polaris" ? Access::kInference : Access::kHealth;
}

HttpResponse DashboardRoutes::route(const HttpRequest& request, const std::vector<std::string>& parts) {
  const bool get = request.method() == http::verb::get || request.method() == http::verb::head;
  if (!parts.empty() && parts[0] == "polaris") {
    if (!get)
      return make_error(request, InvalidArgument("method " + std::string(request.method_string()) +
                                                 " is not allowed on " + clip_message(std::string(request.target()))));
    if (parts.size() == 2 && parts[1] == "overview") return overview(request);
    if (parts.size() == 4 && parts[1] == "models" && parts[3] == "preprocessing")
      return preprocessing(request, parts[2]);
    return no_such_endpoint(request);
  }
  if (!get) return no_such_endpoint(request);
  return site_file(request, parts);
}

HttpResponse DashboardRoutes::site_file(const HttpRequest& request, const std::vector<std::string>& parts) const {
  if (!options_.files) {
    if (!parts.empty() && parts[0] != "index.html")
      return no_such_endpoint(request);
    // A server without the built dashboard still serves the API; the page
    // says how to get the dashboard.
    return make_response(request, http::status::not_found,
                         "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>Polaris</title>"
                         "</head><body><h1>Polaris</h1><p>The API is served (KServe v2 under <code>/v2</code>). "
                         "The dashboard is not built: no <code>index.html</code> in <code>" +
                             options_.files_dir +
                             "</code>. Build it with <code>make dashboard</code> (or "
                             "<code>scripts/build-dashboard</code>), or point <code>--dashboard-dir</code> at a "
                             "built copy, then restart the server.</p></body></html>\n",
                         "text/html; charset=utf-8");
  }
  std::string path;
  for (const std::string& part : parts) path += (path.empty() ? "" : "/") + part;
  const StaticFiles::File* file = options_.files->find(path);
  if (file == nullptr)
    return no_such_endpoint(request);
  HttpResponse response = make_response(request, http::status::ok, file->body, file->content_type);
  response.set(http::field::cache_control, file->immutable ? "public, max-age=31536000, immutable" : "no-cache");
  response.set("X-Content-Type-Options", "nosniff");
  response.set("Content-Security-Policy",
               "default-src 'self'; img-src 'self' blob: data:; style-src 'self' 'unsafe-inline'; "
               "connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'");
  return response;
}

const json& DashboardRoutes::devices() {
  std::call_once(devices_once_,
                 [&] { devices_ = devices::to_json(discover_devices_and_providers(service_.manager().registry())); });
  return devices_;
}

HttpResponse DashboardRoutes::overview(const HttpRequest& request) {
  ModelManager& manager = service_.manager();
  const auto rows = manager.status();
  std::map<std::pair<std::string, int64_t>, StatisticsSnapshot> stats;
  if (auto all = manager.statistics(); all.ok())
    for (auto& s : *all) stats.emplace(std::make_pair(s.name, s.version), std::move(s.stats));
  json models = json::array();
  for (const ModelVersionStatus& row : rows) {
    const auto it = stats.find({row.name, row.version});
    models.push_back(model_json(row, it == stats.end() ? nullptr : &it->second));
  }
  json memory = json::array();
  for (const DeviceMemory& d : manager.memory())
    memory.push_back({{"device", d.device},
                      {"budget_bytes", d.budget == UINT64_MAX ? json(nullptr) : json(d.budget)},
                      {"used_bytes", d.used}});
  const ManagerCounters c = manager.counters();
  const ServerMetadataView server = service_.server_metadata();
  return json_answer(request, {{"server",
                                {{"name", server.name},
                                 {"version", server.version},
                                 {"started_ms", epoch_ms(started_)},
                                 {"now_ms", epoch_ms(std::chrono::system_clock::now())},
                                 {"repository_changes", repository_changes_}}},
                               {"latency_bucket_us", latency_bucket_bounds_us()},
                               {"memory", std::move(memory)},
                               {"process_resident_bytes", process_rss_bytes()},
                               {"counters",
                                {{"loads", c.loads},
                                 {"load_failures", c.load_failures},
                                 {"unloads", c.unloads},
                                 {"evictions", c.evictions},
                                 {"keep_alive_unloads", c.keep_alive_unloads},
                                 {"reloads", c.reloads}}},
                               {"models", std::move(models)},
                               {"devices", devices()}});
}

HttpResponse DashboardRoutes::preprocessing(const HttpRequest& request, std::string_view model) {
  auto handle = service_.manager().acquire(model);
  if (!handle.ok()) return make_error(request, handle.status());
  const inference::ModelConfig& config = handle->config();
  if (config.input_size() != 1 || config.output_size() < 1)
    return make_error(request, InvalidArgument("model " + in_quotes(handle->name()) + " takes " +
                                               std::to_string(config.input_size()) +
                                               " inputs: only a model with one image input can take a photo"));
  const inference::ModelInput& input = config.input(0);
  const bool batched = config.max_batch_size() > 0;
  TensorInfo info;
  info.name = input.name();
  info.dtype = from_config_data_type(input.data_type());
  std::vector<int64_t> dims(input.dims().begin(), input.dims().end());
  if (batched) dims.insert(dims.begin(), Shape::kDynamic);
  info.shape = Shape(dims);
  std::map<std::string, std::string> parameters;
  for (const auto& [key, value] : config.parameters()) parameters[key] = value.string_value();
  auto chosen = batch::preprocessing_for(info, parameters);
  if (!chosen.ok())
    return make_error(request, InvalidArgument("model " + in_quotes(handle->name()) +
                                               " does not take a photo: " + chosen.status().message()));
  const batch::ImagePreprocessing& p = *chosen;
  const inference::ModelOutput& output = config.output(0);
  const bool raw_pixels = p.dtype == DataType::kUint8;
  return json_answer(request, {{"input", input.name()},
                               {"datatype", std::string(to_string(p.dtype))},
                               {"shape", image_request_shape(p, input, batched)},
                               {"batched", batched},
                               {"layout", p.layout == batch::Layout::kNchw ? "nchw" : "nhwc"},
                               {"color", p.rgb ? "rgb" : "bgr"},
                               {"resize_shorter_side", p.resize_shorter_side},
                               {"crop", {p.crop_height, p.crop_width}},
                               {"mean", raw_pixels ? std::array<float, 3>{0, 0, 0} : p.mean},
                               {"std", raw_pixels ? std::array<float, 3>{1, 1, 1} : p.std},
                               {"preset", p.preset},
                               {"output", output.name()},
                               {"labels", !output.label_filename().empty()}});
}

}  // namespace polaris
