#include "server/http_routes.h"

#include <algorithm>
#include <charconv>
#include <deque>
#include <optional>

#include <boost/asio/post.hpp>
#include <nlohmann/json.hpp>
#include <spdlog/spdlog.h>

#include "core/base64.h"
#include "core/quote.h"
#include "core/thread_name.h"
#include "runtime/model_config.h"
#include "runtime/model_repository.h"
#include "server/compression.h"
#include "server/http_infer_codec.h"
#include "server/shared_memory_routes.h"

namespace polaris {

namespace http = boost::beast::http;
using nlohmann::json;

namespace {

constexpr const char* kHeaderLength = "Inference-Header-Content-Length";

std::vector<std::string> split_path(std::string_view target) {
  target = target.substr(0, target.find('?'));
  std::vector<std::string> parts;
  while (!target.empty()) {
    const auto slash = target.find('/');
    if (slash != 0) parts.emplace_back(target.substr(0, slash));
    if (slash == std::string_view::npos) break;
    target.remove_prefix(slash + 1);
  }
  return parts;
}

HttpResponse json_response(const HttpRequest& request, const json& body) {
  return make_response(request, http::status::ok, body.dump(-1, ' ', false, json::error_handler_t::replace));
}

HttpResponse ok_or_error(const HttpRequest& request, const Status& status) {
  return status.ok() ? make_response(request, http::status::ok, "") : make_error(request, status);
}

HttpResponse method_not_allowed(const HttpRequest& request) {
  return make_response(request, http::status::method_not_allowed,
                       error_body("method " + std::string(request.method_string()) + " is not allowed on " +
                                  std::string(request.target())));
}

json tensor_metadata_json(const std::vector<TensorMetadataView>& tensors) {
  json out = json::array();
  for (const auto& t : tensors) out.push_back({{"name", t.name}, {"datatype", t.datatype}, {"shape", t.shape}});
  return out;
}

// 415 Unsupported Media Type (RFC 9110 15.5.16) for a body in an encoding
// Polaris cannot decode, naming the ones it can; nullopt when it can.
std::optional<HttpResponse> refuse_unknown_encoding(const HttpRequest& request) {
  const std::string_view encoding = request[http::field::content_encoding];
  if (parse_content_encoding(encoding)) return std::nullopt;
  HttpResponse response = make_response(
      request, http::status::unsupported_media_type,
      error_body("Content-Encoding " + in_quotes(encoding) + " is not supported: send gzip, deflate or identity"));
  response.set(http::field::accept_encoding, "gzip, deflate");
  return response;
}

// A request body, decompressed per Content-Encoding (bounded; the encoding
// was checked by refuse_unknown_encoding).
Result<std::shared_ptr<const std::string>> decoded_body(std::string raw, std::string_view content_encoding,
                                                        std::size_t limit) {
  auto encoding = parse_content_encoding(content_encoding);
  if (!encoding) return InvalidArgument("Content-Encoding " + in_quotes(content_encoding) + " is not supported");
  if (*encoding == ContentEncoding::kIdentity) return std::make_shared<const std::string>(std::move(raw));
  POLARIS_ASSIGN_OR_RETURN(std::string plain, decompress(raw, *encoding, limit));
  return std::make_shared<const std::string>(std::move(plain));
}

Result<std::shared_ptr<const std::string>> request_body(const HttpRequest& request, std::size_t limit) {
  return decoded_body(request.body(), request[http::field::content_encoding], limit);
}

// Moves the body out of the request, so a tensor body is not copied on its
// way to the decoder (the request's headers stay usable for the response).
Result<std::shared_ptr<const std::string>> take_request_body(HttpRequest& request, std::size_t limit) {
  return decoded_body(std::move(request.body()), request[http::field::content_encoding], limit);
}

// A load request's "parameters" as the service takes them: "config" (a
// JSON string) and "file:<version>/<name>" (base64 strings, decoded here
// into `files`, as gRPC sends them raw; a deque never moves its strings, so
// the parameters' views stay valid). The service checks and uses both.
// Decoded sizes are 3/4 of strings of a body within the body limit.
Result<std::vector<LoadParameter>> load_parameters(const json& body, std::deque<std::string>& files) {
  std::vector<LoadParameter> load;
  const auto params = body.find("parameters");
  if (params == body.end()) return load;
  if (!params->is_object()) return InvalidArgument("'parameters' of a load request must be a JSON object");
  for (const auto& [key, value] : params->items()) {
    LoadParameter& p = load.emplace_back(LoadParameter{key, LoadParameter::Kind::kOther, {}});
    if (!value.is_string()) {
      p.value = value.type_name();
    } else if (!std::string_view(key).starts_with(kOverrideFilePrefix)) {
      p.kind = LoadParameter::Kind::kString;
      p.value = value.get_ref<const std::string&>();
    } else {
      auto bytes = decode_base64(value.get_ref<const std::string&>());
      if (!bytes.ok()) return InvalidArgument("load parameter '" + key + "' " + bytes.status().message());
      p.kind = LoadParameter::Kind::kBytes;
      p.value = files.emplace_back(std::move(*bytes));
    }
  }
  return load;
}

Result<std::optional<std::size_t>> header_length(const HttpRequest& request) {
  const auto it = request.find(kHeaderLength);
  if (it == request.end()) return std::optional<std::size_t>();
  const std::string value(it->value());
  std::size_t n = 0;
  const auto [end, ec] = std::from_chars(value.data(), value.data() + value.size(), n);
  if (ec != std::errc() || end != value.data() + value.size())
    return InvalidArgument(std::string(kHeaderLength) + " '" + value + "' is not a number");
  return std::optional<std::size_t>(n);
}

// Compresses the body when the client accepts it.
void compress_for(const HttpRequest& request, HttpResponse& response) {
  const ContentEncoding encoding = choose_response_encoding(request[http::field::accept_encoding]);
  if (encoding == ContentEncoding::kIdentity || response.body().empty()) return;
  response.body() = compress(response.body(), encoding);
  response.set(http::field::content_encoding, to_string(encoding));
}

// The statistics extension's body: {"model_stats": [...]}.
HttpResponse statistics_response(const HttpRequest& request,
                                 const Result<std::vector<ModelManager::VersionStatistics>>& stats) {
  if (!stats.ok()) return make_error(request, stats.status());
  json list = json::array();
  for (const auto& s : *stats) list.push_back(statistics_to_json(s.name, std::to_string(s.version), s.stats));
  return json_response(request, {{"model_stats", list}});
}

json index_json(const std::vector<ModelVersionStatus>& rows) {
  json out = json::array();
  for (const auto& r : rows)
    out.push_back({{"name", r.name},
                   {"version", r.version > 0 ? std::to_string(r.version) : ""},
                   {"state", std::string(to_string(r.state))},
                   {"reason", r.reason}});
  return out;
}

}  // namespace

KServeHttpRoutes::KServeHttpRoutes(InferenceService& service, int workers, std::size_t max_body_bytes,
                                   std::chrono::microseconds inline_below, AccessPolicy access,
                                   DashboardOptions dashboard)
    : service_(service),
      access_(std::move(access)),
      dashboard_(service, std::move(dashboard), access_),
      max_body_bytes_(max_body_bytes),
      inline_below_(inline_below),
      workers_(static_cast<std::size_t>(std::max(workers, 1))) {}

KServeHttpRoutes::~KServeHttpRoutes() { workers_.join(); }

namespace {

// What a request asks for, as access control sees it (access_control.h).
Access access_for(const std::vector<std::string>& parts) {
  if (DashboardRoutes::owns(parts)) return DashboardRoutes::access(parts);
  if (parts.size() == 3 && parts[0] == "v2" && parts[1] == "health") return Access::kHealth;
  if (parts.size() >= 2 && parts[0] == "v2" && parts[1] == "repository" &&
      !(parts.size() == 3 && parts[2] == "index"))
    return Access::kRepository;
  return Access::kInference;
}

// 401 or 403, with the challenge RFC 6750 asks of a 401.
HttpResponse refused(const HttpRequest& request, const Status& why) {
  HttpResponse response = make_error(request, why);
  if (why.code() == StatusCode::kUnauthenticated)
    response.set(http::field::www_authenticate, "Bearer realm=\"polaris\"");
  return response;
}

// "/v2/models/<m>[/versions/<v>]/infer" -> <m>; "" for anything else.
std::string_view infer_model(const HttpRequest& request, const std::vector<std::string>& parts) {
  if (request.method() != http::verb::post || parts.size() < 4 || parts[0] != "v2" || parts[1] != "models" ||
      parts.back() != "infer")
    return {};
  return parts[2];
}

}  // namespace

bool KServeHttpRoutes::runs_inline(const HttpRequest& request, const std::vector<std::string>& parts) {
  // Health and server metadata never block.
  if (request.method() == http::verb::get && parts.size() <= 3 && (parts.size() < 2 || parts[1] == "health"))
    return true;
  const std::string_view model = infer_model(request, parts);
  if (model.empty() || inline_below_.count() <= 0) return false;
  prune_durations();
  std::lock_guard lock(durations_mu_);
  const auto it = recent_us_.find(model);
  return it != recent_us_.end() && it->second < static_cast<double>(inline_below_.count());
}

void KServeHttpRoutes::record_duration(const std::vector<std::string>& parts, std::chrono::nanoseconds took) {
  const double us = static_cast<double>(took.count()) / 1e3;
  std::lock_guard lock(durations_mu_);
  auto [it, added] = recent_us_.try_emplace(parts[2], us);
  if (!added) it->second = 0.8 * it->second + 0.2 * us;  // a model that slows down leaves the I/O thread soon
  if (added) prune_due_ = true;
}

void KServeHttpRoutes::prune_durations() {
  // Only models that answered are timed (finish), and each new one has the
  // names that are no longer listed (unloaded overrides, removed folders)
  // dropped here: the map is bounded by the models being served, never by
  // names clients send. Called with no lock held: the manager's status
  // takes its own locks and the schedulers'.
  if (!prune_due_.exchange(false)) return;
  const auto listed = service_.manager().status();
  std::lock_guard lock(durations_mu_);
  std::erase_if(recent_us_, [&](const auto& entry) {
    return std::none_of(listed.begin(), listed.end(), [&](const auto& row) { return row.name == entry.first; });
  });
}

// One request from arrival to answer; shared by the asynchronous infer path.
struct KServeHttpRoutes::Call {
  HttpRequest request;
  std::vector<std::string> parts;
  HttpRespond respond;
  bool on_io_thread = false;
  std::chrono::steady_clock::time_point start = std::chrono::steady_clock::now();
};

void KServeHttpRoutes::handle(HttpRequest&& request, HttpRespond respond, const std::string& peer) {
  auto parts = split_path(request.target());
  if (Status allowed = access_.check(access_for(parts), request[http::field::authorization]);
      !allowed.ok()) {
    // Who tried what, never the token they sent.
    spdlog::warn("refused {} {} from {}: {}", std::string(request.method_string()),
                 clip_message(std::string(request.target()), 200), peer, allowed.message());
    return respond(refused(request, allowed));
  }
  const bool inline_here = runs_inline(request, parts);
  auto call = std::make_shared<Call>(Call{std::move(request), std::move(parts), std::move(respond), inline_here});
  auto serve = [this, call] {
    if (auto refused = refuse_unknown_encoding(call->request)) return finish(*call, std::move(*refused));
    if (!infer_model(call->request, call->parts).empty()) return infer(call);
    finish(*call, route(call->request, call->parts));
  };
  if (inline_here) return serve();
  boost::asio::post(workers_, [serve = std::move(serve)] {
    name_this_thread_once("polaris-worker");
    serve();
  });
}

void KServeHttpRoutes::finish(Call& call, HttpResponse response) {
  // Only successful infer answers are compressed, as Triton does: aiohttp-
  // based clients (tritonclient.http.aio) cannot read other replies, error
  // answers of infer included, compressed.
  if (response.result() == http::status::ok && !infer_model(call.request, call.parts).empty()) {
    compress_for(call.request, response);
    record_duration(call.parts, std::chrono::steady_clock::now() - call.start);
  }
  call.respond(std::move(response));
}

HttpResponse KServeHttpRoutes::route(const HttpRequest& request, const std::vector<std::string>& parts) {
  if (DashboardRoutes::owns(parts)) return dashboard_.route(request, parts);
  const bool get = request.method() == http::verb::get || request.method() == http::verb::head;
  const bool post = request.method() == http::verb::post;
  if (parts.size() == 1) {
    if (!get) return method_not_allowed(request);
    const ServerMetadataView m = service_.server_metadata();
    return json_response(request, {{"name", m.name}, {"version", m.version}, {"extensions", m.extensions}});
  }
  if (parts[1] == "health" && parts.size() == 3) {
    if (!get) return method_not_allowed(request);
    const bool yes = parts[2] == "live" ? service_.live() : parts[2] == "ready" ? service_.ready() : false;
    if (parts[2] != "live" && parts[2] != "ready")
      return make_error(request, NotFound("no such endpoint: " + std::string(request.target())));
    return make_response(request, yes ? http::status::ok : http::status::bad_request, "");
  }
  if (parts[1] == "repository") {
    if (!post) return method_not_allowed(request);
    auto body = request_body(request, max_body_bytes_);
    if (!body.ok()) return make_error(request, body.status());
    json parsed = json::object();
    if (!(*body)->empty()) {
      parsed = json::parse(**body, nullptr, false);
      if (parsed.is_discarded() || !parsed.is_object())
        return make_error(request, InvalidArgument("the request body is not a JSON object"));
    }
    if (parts.size() == 3 && parts[2] == "index") {
      const auto ready = parsed.find("ready");
      const bool ready_only = ready != parsed.end() && ready->is_boolean() && ready->get<bool>();
      return json_response(request, index_json(service_.repository_index(ready_only)));
    }
    if (parts.size() == 5 && parts[2] == "models" && (parts[4] == "load" || parts[4] == "unload")) {
      if (parts[4] == "load") {
        // Triton's load parameters: "config" (a JSON string) and
        // "file:<version>/<name>" (base64 strings). The files are decoded
        // here, as gRPC sends them raw; the service checks and uses both.
        // Decoded sizes are 3/4 of strings of a body within max_body_bytes_.
        std::deque<std::string> files;  // decoded contents, viewed by the parameters
        auto load = load_parameters(parsed, files);
        if (!load.ok()) return make_error(request, load.status());
        return ok_or_error(request, service_.load_model(parts[3], *load));
      }
      return ok_or_error(request, service_.unload_model(parts[3]));
    }
    if (parts.size() == 5 && parts[2] == "models" && (parts[4] == "pin" || parts[4] == "unpin"))
      return ok_or_error(request, service_.manager().set_pinned(parts[3], parts[4] == "pin"));
  }
  if (parts[1] == "models") return model_route(request, parts);
  if (parts[1] == "systemsharedmemory" || parts[1] == "cudasharedmemory") {
    // Inference access, as infer itself (access_for): a region is only
    // useful to infer requests, and Triton leaves these open.
    std::string body;
    if (post) {
      auto decoded = request_body(request, max_body_bytes_);
      if (!decoded.ok()) return make_error(request, decoded.status());
      body = **decoded;
    }
    return shared_memory_route(service_.shared_memory(), request, parts, body);
  }
  return make_error(request, NotFound("no such endpoint: " + std::string(request.target())));
}

HttpResponse KServeHttpRoutes::model_route(const HttpRequest& request, const std::vector<std::string>& parts) {
  const bool get = request.method() == http::verb::get || request.method() == http::verb::head;
  // /v2/models/stats (every model)
  if (parts.size() == 3 && parts[2] == "stats") {
    if (!get) return method_not_allowed(request);
    return statistics_response(request, service_.statistics("", 0));
  }
  if (parts.size() < 3) return make_error(request, NotFound("no such endpoint: " + std::string(request.target())));
  const std::string& model = parts[2];
  std::size_t next = 3;
  std::string version_text;
  if (parts.size() >= 5 && parts[3] == "versions") {
    version_text = parts[4];
    next = 5;
  }
  auto version = parse_model_version(version_text);
  if (!version.ok()) return make_error(request, version.status());
  if (parts.size() > next + 1) return make_error(request, NotFound("no such endpoint: " + std::string(request.target())));
  const std::string action = parts.size() == next + 1 ? parts[next] : "";

  if (action.empty()) {
    if (!get) return method_not_allowed(request);
    auto m = service_.model_metadata(model, *version);
    if (!m.ok()) return make_error(request, m.status());
    return json_response(request, {{"name", m->name},
                                   {"versions", m->versions},
                                   {"platform", m->platform},
                                   {"inputs", tensor_metadata_json(m->inputs)},
                                   {"outputs", tensor_metadata_json(m->outputs)}});
  }
  if (action == "ready") {
    if (!get) return method_not_allowed(request);
    auto ready = service_.model_ready(model, *version);
    if (!ready.ok()) return make_error(request, ready.status());
    return make_response(request, *ready ? http::status::ok : http::status::bad_request, "");
  }
  if (action == "config") {
    if (!get) return method_not_allowed(request);
    auto config = service_.model_config(model, *version);
    if (!config.ok()) return make_error(request, config.status());
    return make_response(request, http::status::ok, model_config_to_json(*config));
  }
  if (action == "stats") {
    if (!get) return method_not_allowed(request);
    return statistics_response(request, service_.statistics(model, *version));
  }
  if (action == "infer") return method_not_allowed(request);  // POST goes to infer() before routing
  return make_error(request, NotFound("no such endpoint: " + std::string(request.target())));
}

void KServeHttpRoutes::infer(std::shared_ptr<Call> call) {
  const HttpRequest& request = call->request;
  const auto& parts = call->parts;
  auto fail = [&](const Status& status) { finish(*call, make_error(request, status)); };
  // /v2/models/<m>/infer or /v2/models/<m>/versions/<v>/infer
  std::string version_text;
  if (parts.size() == 6 && parts[3] == "versions") {
    version_text = parts[4];
  } else if (parts.size() != 4) {
    return fail(NotFound("no such endpoint: " + std::string(request.target())));
  }
  const std::string& model = parts[2];
  // The name first: a request for a model that cannot exist is not decoded.
  if (Status name = validate_model_name(model); !name.ok()) return fail(name);
  auto version = parse_model_version(version_text);
  if (!version.ok()) return fail(version.status());
  auto body = take_request_body(call->request, max_body_bytes_);
  if (!body.ok()) return fail(body.status());
  auto json_length = header_length(request);
  if (!json_length.ok()) return fail(json_length.status());

  Result<InferRequest> decoded = Status(StatusCode::kInternal, "not decoded");
  if (json_length->has_value() && **json_length == 0) {
    auto config = service_.model_config(model, *version);
    if (!config.ok()) return fail(config.status());
    decoded = decode_raw_infer_request(*body, *config);
  } else {
    decoded = decode_infer_request(*body, *json_length, &service_.shared_memory());
  }
  if (!decoded.ok()) return fail(decoded.status());
  decoded->model_name = model;
  decoded->model_version = *version;
  decoded->run_inline = call->on_io_thread;

  // The decoded tensors view into *body (or hold the shared memory regions
  // they view): the callback keeps the body alive.
  service_.infer_async(std::move(*decoded), [this, call, body = *body](Result<InferResponse> result) {
    if (!result.ok()) return finish(*call, make_error(call->request, result.status()));
    EncodedInferResponse encoded = encode_infer_response(*result);
    if (!encoded.json_length) return finish(*call, make_response(call->request, http::status::ok, std::move(encoded.body)));
    HttpResponse response =
        make_response(call->request, http::status::ok, std::move(encoded.body), "application/octet-stream");
    response.set(kHeaderLength, std::to_string(*encoded.json_length));
    finish(*call, std::move(response));
  });
}

}  // namespace polaris
