#include "server/grpc_server.h"

#include <netdb.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <climits>
#include <cstring>
#include <deque>
#include <fstream>
#include <mutex>
#include <thread>
#include <utility>

#include <boost/asio/post.hpp>
#include <boost/asio/thread_pool.hpp>
#include <fmt/format.h>
#include <grpcpp/grpcpp.h>
#include <grpcpp/security/server_credentials.h>
#include <spdlog/spdlog.h>

#include "core/quote.h"
#include "core/thread_name.h"
#include "proto/grpc_service.grpc.pb.h"
#include "server/grpc_infer_codec.h"
#include "server/grpc_reactors.h"
#include "server/modelmesh_grpc_service.h"

namespace polaris {
namespace {

using inference::GRPCInferenceService;

// --- Messages from InferenceService's views ---------------------------------

void fill_tensor_metadata(const std::vector<TensorMetadataView>& views,
                          google::protobuf::RepeatedPtrField<inference::ModelMetadataResponse::TensorMetadata>* out) {
  for (const TensorMetadataView& view : views) {
    auto* tensor = out->Add();
    tensor->set_name(view.name);
    tensor->set_datatype(view.datatype);
    tensor->mutable_shape()->Add(view.shape.begin(), view.shape.end());
  }
}

void fill_duration(const DurationStat& stat, inference::StatisticDuration* out) {
  out->set_count(stat.count);
  out->set_ns(stat.ns);
}

void fill_statistics(const ModelManager::VersionStatistics& version, inference::ModelStatistics* out) {
  const StatisticsSnapshot& s = version.stats;
  out->set_name(version.name);
  out->set_version(std::to_string(version.version));
  out->set_last_inference(s.last_inference_ms);
  out->set_inference_count(s.inference_count);
  out->set_execution_count(s.execution_count);
  auto* infer = out->mutable_inference_stats();
  fill_duration(s.success, infer->mutable_success());
  fill_duration(s.fail, infer->mutable_fail());
  fill_duration(s.queue, infer->mutable_queue());
  fill_duration(s.compute_input, infer->mutable_compute_input());
  fill_duration(s.compute_infer, infer->mutable_compute_infer());
  fill_duration(s.compute_output, infer->mutable_compute_output());
  // No response cache: cache_hit and cache_miss stay present and zero, as
  // perf_analyzer reads them.
  infer->mutable_cache_hit();
  infer->mutable_cache_miss();
  for (const auto& entry : s.batch) {
    auto* batch = out->add_batch_stats();
    batch->set_batch_size(entry.first);
    fill_duration(entry.second.compute_input, batch->mutable_compute_input());
    fill_duration(entry.second.compute_infer, batch->mutable_compute_infer());
    fill_duration(entry.second.compute_output, batch->mutable_compute_output());
  }
}

// A load request's parameters as the service takes them (Triton's
// "config" string and "file:..." bytes); the service checks and uses them.
// The views point into `request`, which outlives the call.
std::vector<LoadParameter> load_parameters(const inference::RepositoryModelLoadRequest& request) {
  using Choice = inference::ModelRepositoryParameter;
  std::vector<LoadParameter> parameters;
  for (const auto& [key, value] : request.parameters()) {
    LoadParameter& p = parameters.emplace_back(LoadParameter{key, LoadParameter::Kind::kOther, {}});
    switch (value.parameter_choice_case()) {
      case Choice::kStringParam:
        p.kind = LoadParameter::Kind::kString;
        p.value = value.string_param();
        break;
      case Choice::kBytesParam:
        p.kind = LoadParameter::Kind::kBytes;
        p.value = value.bytes_param();
        break;
      case Choice::kBoolParam:
        p.value = "bool_param";
        break;
      case Choice::kInt64Param:
        p.value = "int64_param";
        break;
      default:
        p.value = "an empty parameter";
        break;
    }
  }
  return parameters;
}

// --- The service -------------------------------------------------------------

// Threads: gRPC runs callbacks on a few threads of its own (two on a
// two-core machine) that also drive the network. Whatever may run a model,
// load one or scan the repository therefore goes to a worker pool, so
// health checks and statistics stay fast while a model computes or loads.
// Measured on the two-core machine (tiny/add, perf_analyzer, c=1 and c=32):
// the hop costs nothing visible next to running inline on gRPC's threads.
class KServeGrpcService final : public GRPCInferenceService::CallbackService {
 public:
  KServeGrpcService(InferenceService& service, boost::asio::thread_pool& workers, const AccessPolicy& access)
      : service_(service), workers_(workers), access_(access) {}

  Status allowed(grpc::CallbackServerContext* context, Access access) const {
    return grpc_access_allowed(context, access_, access);
  }

  grpc::ServerUnaryReactor* ServerLive(grpc::CallbackServerContext* context, const inference::ServerLiveRequest*,
                                       inference::ServerLiveResponse* response) override {
    response->set_live(service_.live());
    return answer(context, Status::Ok());
  }

  grpc::ServerUnaryReactor* ServerReady(grpc::CallbackServerContext* context, const inference::ServerReadyRequest*,
                                        inference::ServerReadyResponse* response) override {
    response->set_ready(service_.ready());
    return answer(context, Status::Ok());
  }

  grpc::ServerUnaryReactor* ModelReady(grpc::CallbackServerContext* context,
                                       const inference::ModelReadyRequest* request,
                                       inference::ModelReadyResponse* response) override {
    if (Status refused = allowed(context, Access::kInference); !refused.ok()) return answer(context, refused);
    return on_workers(context, [this, request, response]() -> Status {
      POLARIS_ASSIGN_OR_RETURN(int64_t version, parse_model_version(request->version()));
      Result<bool> ready = service_.model_ready(request->name(), version);
      // Triton answers "not ready" for a model it does not know, not an error.
      if (!ready.ok() && ready.status().code() != StatusCode::kNotFound) return ready.status();
      response->set_ready(ready.ok() && *ready);
      return Status::Ok();
    });
  }

  grpc::ServerUnaryReactor* ServerMetadata(grpc::CallbackServerContext* context,
                                           const inference::ServerMetadataRequest*,
                                           inference::ServerMetadataResponse* response) override {
    if (Status refused = allowed(context, Access::kInference); !refused.ok()) return answer(context, refused);
    const ServerMetadataView metadata = service_.server_metadata();
    response->set_name(metadata.name);
    response->set_version(metadata.version);
    for (const std::string& extension : metadata.extensions) response->add_extensions(extension);
    return answer(context, Status::Ok());
  }

  grpc::ServerUnaryReactor* ModelMetadata(grpc::CallbackServerContext* context,
                                          const inference::ModelMetadataRequest* request,
                                          inference::ModelMetadataResponse* response) override {
    if (Status refused = allowed(context, Access::kInference); !refused.ok()) return answer(context, refused);
    return on_workers(context, [this, request, response]() -> Status {
      POLARIS_ASSIGN_OR_RETURN(int64_t version, parse_model_version(request->version()));
      POLARIS_ASSIGN_OR_RETURN(ModelMetadataView metadata, service_.model_metadata(request->name(), version));
      response->set_name(metadata.name);
      for (const std::string& v : metadata.versions) response->add_versions(v);
      response->set_platform(metadata.platform);
      fill_tensor_metadata(metadata.inputs, response->mutable_inputs());
      fill_tensor_metadata(metadata.outputs, response->mutable_outputs());
      return Status::Ok();
    });
  }

  grpc::ServerUnaryReactor* ModelInfer(grpc::CallbackServerContext* context,
                                       const inference::ModelInferRequest* request,
                                       inference::ModelInferResponse* response) override {
    if (Status refused = allowed(context, Access::kInference); !refused.ok()) return answer(context, refused);
    // gRPC keeps *request and *response alive until Finish, which comes
    // after the answer: the decoded tensors may view into *request.
    grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
    boost::asio::post(workers_, [this, reactor, request, response]() {
      name_this_thread_once("polaris-grpc");
      infer(*request, nullptr, [reactor, response](Result<InferResponse> result) {
        if (result.ok()) encode_grpc_infer_response(*result, *response);
        reactor->Finish(to_grpc(result.ok() ? Status::Ok() : result.status()));
      });
    });
    return reactor;
  }

  grpc::ServerBidiReactor<inference::ModelInferRequest, inference::ModelStreamInferResponse>* ModelStreamInfer(
      grpc::CallbackServerContext*) override;

  grpc::ServerUnaryReactor* ModelConfig(grpc::CallbackServerContext* context,
                                        const inference::ModelConfigRequest* request,
                                        inference::ModelConfigResponse* response) override {
    if (Status refused = allowed(context, Access::kInference); !refused.ok()) return answer(context, refused);
    return on_workers(context, [this, request, response]() -> Status {
      POLARIS_ASSIGN_OR_RETURN(int64_t version, parse_model_version(request->version()));
      POLARIS_ASSIGN_OR_RETURN(*response->mutable_config(), service_.model_config(request->name(), version));
      return Status::Ok();
    });
  }

  grpc::ServerUnaryReactor* ModelStatistics(grpc::CallbackServerContext* context,
                                            const inference::ModelStatisticsRequest* request,
                                            inference::ModelStatisticsResponse* response) override {
    if (Status refused = allowed(context, Access::kInference); !refused.ok()) return answer(context, refused);
    // Counters only: cheap enough for gRPC's own threads.
    Status status = [&]() -> Status {
      POLARIS_ASSIGN_OR_RETURN(int64_t version, parse_model_version(request->version()));
      POLARIS_ASSIGN_OR_RETURN(auto versions, service_.statistics(request->name(), version));
      for (const auto& v : versions) fill_statistics(v, response->add_model_stats());
      return Status::Ok();
    }();
    return answer(context, status);
  }

  grpc::ServerUnaryReactor* RepositoryIndex(grpc::CallbackServerContext* context,
                                            const inference::RepositoryIndexRequest* request,
                                            inference::RepositoryIndexResponse* response) override {
    if (Status refused = allowed(context, Access::kInference); !refused.ok()) return answer(context, refused);
    // Polaris serves one repository: repository_name is not consulted.
    return on_workers(context, [this, request, response]() {
      for (const ModelVersionStatus& row : service_.repository_index(request->ready())) {
        auto* model = response->add_models();
        model->set_name(row.name);
        if (row.version > 0) model->set_version(std::to_string(row.version));
        model->set_state(std::string(to_string(row.state)));
        model->set_reason(row.reason);
      }
      return Status::Ok();
    });
  }

  grpc::ServerUnaryReactor* RepositoryModelLoad(grpc::CallbackServerContext* context,
                                                const inference::RepositoryModelLoadRequest* request,
                                                inference::RepositoryModelLoadResponse*) override {
    if (Status refused = allowed(context, Access::kRepository); !refused.ok()) return answer(context, refused);
    return on_workers(context, [this, request]() -> Status {
      return service_.load_model(request->model_name(), load_parameters(*request));
    });
  }

  grpc::ServerUnaryReactor* RepositoryModelUnload(grpc::CallbackServerContext* context,
                                                  const inference::RepositoryModelUnloadRequest* request,
                                                  inference::RepositoryModelUnloadResponse*) override {
    if (Status refused = allowed(context, Access::kRepository); !refused.ok()) return answer(context, refused);
    // unload_dependents has nothing to act on: Polaris has no ensembles.
    return on_workers(context, [this, request]() { return service_.unload_model(request->model_name()); });
  }

  // System shared memory (server/shared_memory_registry.h): inference
  // access, as infer itself. Registration is an shm_open, an fstat and an
  // mmap: quick enough for gRPC's own threads.
  grpc::ServerUnaryReactor* SystemSharedMemoryStatus(grpc::CallbackServerContext* context,
                                                     const inference::SystemSharedMemoryStatusRequest* request,
                                                     inference::SystemSharedMemoryStatusResponse* response) override {
    if (Status refused = allowed(context, Access::kInference); !refused.ok()) return answer(context, refused);
    Status status = [&]() -> Status {
      POLARIS_ASSIGN_OR_RETURN(std::vector<SharedMemoryStatus> rows, service_.shared_memory().status(request->name()));
      for (const SharedMemoryStatus& row : rows) {
        auto& region = (*response->mutable_regions())[row.name];
        region.set_name(row.name);
        region.set_key(row.key);
        region.set_offset(row.offset);
        region.set_byte_size(row.byte_size);
      }
      return Status::Ok();
    }();
    return answer(context, status);
  }

  grpc::ServerUnaryReactor* SystemSharedMemoryRegister(grpc::CallbackServerContext* context,
                                                       const inference::SystemSharedMemoryRegisterRequest* request,
                                                       inference::SystemSharedMemoryRegisterResponse*) override {
    if (Status refused = allowed(context, Access::kInference); !refused.ok()) return answer(context, refused);
    return answer(context, service_.shared_memory().register_region(request->name(), request->key(),
                                                                     request->offset(), request->byte_size()));
  }

  grpc::ServerUnaryReactor* SystemSharedMemoryUnregister(grpc::CallbackServerContext* context,
                                                         const inference::SystemSharedMemoryUnregisterRequest* request,
                                                         inference::SystemSharedMemoryUnregisterResponse*) override {
    if (Status refused = allowed(context, Access::kInference); !refused.ok()) return answer(context, refused);
    service_.shared_memory().unregister(request->name());
    return answer(context, Status::Ok());
  }

  // CUDA shared memory, in a server without CUDA: nothing can be
  // registered, so nothing is listed and unregistering has nothing to do
  // (perf_analyzer unregisters both kinds before it starts).
  grpc::ServerUnaryReactor* CudaSharedMemoryStatus(grpc::CallbackServerContext* context,
                                                   const inference::CudaSharedMemoryStatusRequest* request,
                                                   inference::CudaSharedMemoryStatusResponse*) override {
    if (Status refused = allowed(context, Access::kInference); !refused.ok()) return answer(context, refused);
    if (request->name().empty()) return answer(context, Status::Ok());
    return answer(context, NotFound("Unable to find cuda shared memory region: " + in_quotes(request->name())));
  }

  grpc::ServerUnaryReactor* CudaSharedMemoryRegister(grpc::CallbackServerContext* context,
                                                     const inference::CudaSharedMemoryRegisterRequest*,
                                                     inference::CudaSharedMemoryRegisterResponse*) override {
    if (Status refused = allowed(context, Access::kInference); !refused.ok()) return answer(context, refused);
    return answer(context, Unimplemented("CUDA shared memory is not supported: this Polaris server has no CUDA; use "
                                         "system shared memory (SystemSharedMemoryRegister)"));
  }

  grpc::ServerUnaryReactor* CudaSharedMemoryUnregister(grpc::CallbackServerContext* context,
                                                       const inference::CudaSharedMemoryUnregisterRequest*,
                                                       inference::CudaSharedMemoryUnregisterResponse*) override {
    if (Status refused = allowed(context, Access::kInference); !refused.ok()) return answer(context, refused);
    return answer(context, Status::Ok());
  }

  // One inference, shared by ModelInfer and ModelStreamInfer: decodes and
  // submits; `done` gets the answer (maybe on an execution thread).
  void infer(const inference::ModelInferRequest& request, std::shared_ptr<const void> keepalive, InferDone done) {
    auto decoded = decode_grpc_infer_request(request, std::move(keepalive), &service_.shared_memory());
    if (!decoded.ok()) return done(decoded.status());
    service_.infer_async(std::move(*decoded), std::move(done));
  }

  boost::asio::thread_pool& workers() { return workers_; }

 private:
  static grpc::ServerUnaryReactor* answer(grpc::CallbackServerContext* context, const Status& status) {
    return grpc_answer(context, status);
  }

  template <typename Work>
  grpc::ServerUnaryReactor* on_workers(grpc::CallbackServerContext* context, Work work) {
    return grpc_answer_on(workers_, "polaris-grpc", context, std::move(work));
  }

  InferenceService& service_;
  boost::asio::thread_pool& workers_;
  const AccessPolicy& access_;
};

// ModelStreamInfer: every request gets one ModelStreamInferResponse, in
// request order; a failed request answers with error_message and the stream
// goes on. Requests of one stream run one after another on the workers
// (which keeps the order); the write of one answer overlaps the next
// request's read and inference.
class StreamInferReactor final
    : public grpc::ServerBidiReactor<inference::ModelInferRequest, inference::ModelStreamInferResponse> {
 public:
  explicit StreamInferReactor(KServeGrpcService& service) : service_(service) { read_next(); }

  void OnReadDone(bool ok) override {
    if (!ok) {  // the client closed its side, or the call ended
      std::lock_guard lock(mu_);
      reads_done_ = true;
      finish_if_done_locked();
      return;
    }
    // The tensors of a request view into its message: the message is owned
    // by a shared_ptr they keep, not by this reactor's read buffer.
    auto request = std::make_shared<inference::ModelInferRequest>(std::move(reading_));
    boost::asio::post(service_.workers(), [this, request]() {
      name_this_thread_once("polaris-grpc");
      service_.infer(*request, request, [this](Result<InferResponse> result) {
        inference::ModelStreamInferResponse answer;
        if (result.ok())
          encode_grpc_infer_response(*result, *answer.mutable_infer_response());
        else
          answer.set_error_message(clip_message(result.status().message()));
        queue_write(std::move(answer));
        read_next();  // one request of a stream at a time keeps the answers in order
      });
    });
  }

  void OnWriteDone(bool ok) override {
    std::lock_guard lock(mu_);
    writes_.pop_front();
    if (!ok) {  // the call is broken: nothing more will be delivered
      broken_ = true;
      writes_.clear();
    }
    if (!writes_.empty()) {
      StartWrite(&writes_.front());
    } else {
      writing_ = false;
      finish_if_done_locked();
    }
  }

  void OnDone() override { delete this; }

 private:
  void read_next() {
    reading_.Clear();
    StartRead(&reading_);
  }

  void queue_write(inference::ModelStreamInferResponse answer) {
    std::lock_guard lock(mu_);
    if (broken_) return;
    // A deque keeps the front element in place while later answers queue.
    writes_.push_back(std::move(answer));
    if (!writing_) {
      writing_ = true;
      StartWrite(&writes_.front());
    }
  }

  void finish_if_done_locked() {
    if (reads_done_ && !writing_ && !finished_) {
      finished_ = true;
      Finish(grpc::Status::OK);
    }
  }

  KServeGrpcService& service_;
  inference::ModelInferRequest reading_;  // the read in progress (one at a time)
  std::mutex mu_;
  std::deque<inference::ModelStreamInferResponse> writes_;  // guarded by mu_; front is being written
  bool writing_ = false;                                    // guarded by mu_
  bool reads_done_ = false;                                 // guarded by mu_
  bool broken_ = false;                                     // guarded by mu_
  bool finished_ = false;                                   // guarded by mu_
};

// A stream refused before its first read (access control).
class RefusedStreamReactor final
    : public grpc::ServerBidiReactor<inference::ModelInferRequest, inference::ModelStreamInferResponse> {
 public:
  explicit RefusedStreamReactor(const Status& why) { Finish(to_grpc(why)); }
  void OnDone() override { delete this; }
};

grpc::ServerBidiReactor<inference::ModelInferRequest, inference::ModelStreamInferResponse>*
KServeGrpcService::ModelStreamInfer(grpc::CallbackServerContext* context) {
  if (Status refused = allowed(context, Access::kInference); !refused.ok()) return new RefusedStreamReactor(refused);
  return new StreamInferReactor(*this);
}

// "host:port" as gRPC parses it (IPv6 literals in brackets).
std::string listen_address(const std::string& address, int port) {
  const bool ipv6 = address.find(':') != std::string::npos && !address.starts_with("[");
  return ipv6 ? fmt::format("[{}]:{}", address, port) : fmt::format("{}:{}", address, port);
}

// gRPC only logs why it could not listen; binding a socket of our own gives
// the reason ("Address already in use") for the Status.
std::string bind_failure_reason(const std::string& address, int port) {
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_PASSIVE;
  addrinfo* found = nullptr;
  const std::string host = address.starts_with("[") ? address.substr(1, address.size() - 2) : address;
  if (const int rc = getaddrinfo(host.c_str(), std::to_string(port).c_str(), &hints, &found); rc != 0)
    return gai_strerror(rc);
  std::string reason = "gRPC could not listen there";
  for (addrinfo* ai = found; ai != nullptr; ai = ai->ai_next) {
    const int fd = socket(ai->ai_family, ai->ai_socktype, ai->ai_protocol);
    if (fd < 0) continue;
    if (bind(fd, ai->ai_addr, ai->ai_addrlen) != 0) reason = std::strerror(errno);
    close(fd);
  }
  freeaddrinfo(found);
  return reason;
}

Result<std::string> read_pem(const std::string& path, const char* what) {
  std::ifstream in(path, std::ios::binary);
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  if (!in.good() && !in.eof()) return InvalidArgument(fmt::format("cannot read the TLS {} {}", what, path));
  if (text.find("-----BEGIN") == std::string::npos)
    return InvalidArgument(fmt::format("the TLS {} {} is not a PEM file", what, path));
  return text;
}

// Plain, or TLS from PEM files (with a client CA: clients must present a
// certificate it signed).
Result<std::shared_ptr<grpc::ServerCredentials>> server_credentials(const GrpcOptions& o) {
  if (o.tls_cert_file.empty() && o.tls_key_file.empty()) return grpc::InsecureServerCredentials();
  if (o.tls_cert_file.empty() || o.tls_key_file.empty())
    return InvalidArgument("TLS needs both a certificate and a key file");
  grpc::SslServerCredentialsOptions ssl;
  grpc::SslServerCredentialsOptions::PemKeyCertPair pair;
  POLARIS_ASSIGN_OR_RETURN(pair.cert_chain, read_pem(o.tls_cert_file, "certificate"));
  POLARIS_ASSIGN_OR_RETURN(pair.private_key, read_pem(o.tls_key_file, "key"));
  ssl.pem_key_cert_pairs.push_back(std::move(pair));
  if (!o.tls_client_ca_file.empty()) {
    POLARIS_ASSIGN_OR_RETURN(ssl.pem_root_certs, read_pem(o.tls_client_ca_file, "client CA"));
    ssl.client_certificate_request = GRPC_SSL_REQUEST_AND_REQUIRE_CLIENT_CERTIFICATE_AND_VERIFY;
  }
  return grpc::SslServerCredentials(ssl);
}

// Workers for inference and repository work: one per core (inference is
// CPU-bound) and at least four, so a slow model load leaves room for others.
// Decoding and submitting only: inference runs on the execution pool.
constexpr std::size_t kWorkers = 2;

}  // namespace

struct GrpcServer::Impl {
  Impl(InferenceService& inference, GrpcOptions opts)
      : options(std::move(opts)), workers(kWorkers), service(inference, workers, options.access) {
    if (options.modelmesh) modelmesh = std::make_unique<ModelMeshGrpcService>(inference.manager(), options.access);
  }

  GrpcOptions options;
  boost::asio::thread_pool workers;  // outlives the server: in-flight RPCs finish on it
  KServeGrpcService service;
  std::unique_ptr<ModelMeshGrpcService> modelmesh;  // with GrpcOptions::modelmesh
  std::unique_ptr<grpc::Server> server;
  int port = 0;
};

GrpcServer::GrpcServer(InferenceService& service, GrpcOptions options)
    : impl_(std::make_unique<Impl>(service, std::move(options))) {}

GrpcServer::~GrpcServer() {
  shutdown(std::chrono::seconds(1));
  impl_->workers.join();
}

Status GrpcServer::start() {
  if (impl_->server) return FailedPrecondition("the gRPC server is already running");
  const GrpcOptions& options = impl_->options;
  const std::string where = listen_address(options.address, options.port);
  const int max_message = static_cast<int>(std::min<std::size_t>(options.max_message_bytes, INT_MAX));

  POLARIS_ASSIGN_OR_RETURN(std::shared_ptr<grpc::ServerCredentials> credentials, server_credentials(options));
  grpc::ServerBuilder builder;
  int selected_port = 0;
  builder.AddListeningPort(where, credentials, &selected_port);
  builder.RegisterService(&impl_->service);
  if (impl_->modelmesh) builder.RegisterService(impl_->modelmesh.get());
  builder.SetMaxReceiveMessageSize(max_message);
  builder.SetMaxSendMessageSize(max_message);
  // Without this gRPC sets SO_REUSEPORT and a second server on a busy port
  // would start and silently share it instead of failing.
  builder.AddChannelArgument(GRPC_ARG_ALLOW_REUSEPORT, 0);
  std::unique_ptr<grpc::Server> server = builder.BuildAndStart();
  if (!server || selected_port == 0) {
    if (server) server->Shutdown();
    return Unavailable(fmt::format("cannot serve gRPC on {}: {}", where,
                                   bind_failure_reason(options.address, options.port)));
  }
  impl_->server = std::move(server);
  impl_->port = selected_port;
  return Status::Ok();
}

void GrpcServer::shutdown(std::chrono::milliseconds deadline) {
  if (!impl_->server) return;
  // After the deadline gRPC cancels what is still running; the workers
  // still finish those RPCs (Finish on a cancelled call is fine).
  impl_->server->Shutdown(std::chrono::system_clock::now() + deadline);
  impl_->server->Wait();
  impl_->server.reset();
}

int GrpcServer::port() const { return impl_->port; }

}  // namespace polaris
