// The KServe v2 gRPC frontend: inference.GRPCInferenceService
// (proto/grpc_service.proto, wire-compatible with Triton's), on gRPC's
// callback API, over InferenceService; optionally ModelMesh's
// mmesh.ModelRuntime beside it (GrpcOptions::modelmesh).
// Thread-safety: start/shutdown from one thread; RPCs run on gRPC's threads.
#pragma once

#include <chrono>
#include <memory>
#include <string>

#include "core/status.h"
#include "server/access_control.h"
#include "server/inference_service.h"

namespace polaris {

struct GrpcOptions {
  std::string address = "0.0.0.0";
  int port = 8001;                              // 0: any free port (see port())
  std::size_t max_message_bytes = 256u << 20;  // requests and responses
  AccessPolicy access;                          // who may do what (access_control.h)
  // TLS when both are set (PEM files); with a client CA, clients must
  // present a certificate it signed (mutual TLS).
  std::string tls_cert_file, tls_key_file, tls_client_ca_file;
  // Also serve ModelMesh's model runtime service (mmesh.ModelRuntime,
  // server/modelmesh_grpc_service.h) on this port.
  bool modelmesh = false;
};

class GrpcServer {
 public:
  GrpcServer(InferenceService& service, GrpcOptions options);
  ~GrpcServer();  // shuts down if still running
  // Binds and starts serving; Unavailable with the reason when the port
  // cannot be bound, InvalidArgument for unreadable TLS files.
  Status start();
  // Stops accepting RPCs, lets in-flight ones finish (up to `deadline`).
  void shutdown(std::chrono::milliseconds deadline);
  int port() const;  // the bound port, after start()

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace polaris
