// What every Polaris gRPC service (KServe v2's and ModelMesh's) does around
// an RPC on gRPC's callback API: check the caller's token, map a Status,
// answer at once or from a worker pool.
// Thread-safety: free functions; the pool must outlive the RPCs posted to it.
#pragma once

#include <utility>

#include <boost/asio/post.hpp>
#include <boost/asio/thread_pool.hpp>
#include <grpcpp/grpcpp.h>
#include <spdlog/spdlog.h>

#include "core/quote.h"
#include "core/status.h"
#include "core/thread_name.h"
#include "server/access_control.h"

namespace polaris {

inline grpc::Status to_grpc(const Status& status) {
  if (status.ok()) return grpc::Status::OK;
  // Clipped: grpc-message travels in a header, and clients refuse headers
  // over their metadata limit (RESOURCE_EXHAUSTED instead of the error).
  return grpc::Status(static_cast<grpc::StatusCode>(grpc_status_code(status.code())), clip_message(status.message()));
}

// Ok when the call's `authorization` metadata allows `access`; refusals are
// logged with the peer, never with the token.
inline Status grpc_access_allowed(grpc::CallbackServerContext* context, const AccessPolicy& policy, Access access) {
  const auto& metadata = context->client_metadata();
  const auto it = metadata.find("authorization");
  const std::string_view value =
      it == metadata.end() ? std::string_view() : std::string_view(it->second.data(), it->second.size());
  Status status = policy.check(access, value);
  if (!status.ok()) spdlog::warn("refused a gRPC call from {}: {}", context->peer(), status.message());
  return status;
}

// Finishes the RPC now with `status`.
inline grpc::ServerUnaryReactor* grpc_answer(grpc::CallbackServerContext* context, const Status& status) {
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  reactor->Finish(to_grpc(status));
  return reactor;
}

// Runs `work` (returning Status) on `pool` and finishes the RPC with its
// outcome; gRPC keeps request and response alive until Finish.
template <typename Work>
grpc::ServerUnaryReactor* grpc_answer_on(boost::asio::thread_pool& pool, const char* thread_name,
                                         grpc::CallbackServerContext* context, Work work) {
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  boost::asio::post(pool, [reactor, thread_name, work = std::move(work)]() mutable {
    name_this_thread_once(thread_name);
    reactor->Finish(to_grpc(work()));
  });
  return reactor;
}

}  // namespace polaris
