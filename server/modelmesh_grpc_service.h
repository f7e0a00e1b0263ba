// ModelMesh's model runtime service (mmesh.ModelRuntime,
// proto/model_runtime.proto) over ModelMeshRuntime, on the gRPC port beside
// inference.GRPCInferenceService when `polaris serve --modelmesh true`.
// Loads and unloads block for as long as a model takes to load, so they run
// on a pool of their own: inference RPCs never queue behind them.
// Thread-safety: RPCs run on gRPC's threads and this service's pool.
#pragma once

#include <boost/asio/thread_pool.hpp>

#include "proto/model_runtime.grpc.pb.h"
#include "runtime/model_manager.h"
#include "server/access_control.h"
#include "server/modelmesh_runtime.h"

namespace polaris {

class ModelMeshGrpcService final : public mmesh::ModelRuntime::CallbackService {
 public:
  ModelMeshGrpcService(ModelManager& manager, const AccessPolicy& access);
  ~ModelMeshGrpcService() override;  // waits for loads and unloads in progress

  grpc::ServerUnaryReactor* loadModel(grpc::CallbackServerContext* context, const mmesh::LoadModelRequest* request,
                                      mmesh::LoadModelResponse* response) override;
  grpc::ServerUnaryReactor* unloadModel(grpc::CallbackServerContext* context,
                                        const mmesh::UnloadModelRequest* request,
                                        mmesh::UnloadModelResponse* response) override;
  grpc::ServerUnaryReactor* predictModelSize(grpc::CallbackServerContext* context,
                                             const mmesh::PredictModelSizeRequest* request,
                                             mmesh::PredictModelSizeResponse* response) override;
  grpc::ServerUnaryReactor* modelSize(grpc::CallbackServerContext* context, const mmesh::ModelSizeRequest* request,
                                      mmesh::ModelSizeResponse* response) override;
  grpc::ServerUnaryReactor* runtimeStatus(grpc::CallbackServerContext* context,
                                          const mmesh::RuntimeStatusRequest* request,
                                          mmesh::RuntimeStatusResponse* response) override;

 private:
  // ModelMesh sends no token: its calls pass when --modelmesh is on and no
  // admin token is set; with one, they need it as repository changes do.
  Status allowed(grpc::CallbackServerContext* context) const;

  ModelMeshRuntime runtime_;
  const AccessPolicy& access_;
  // Load and unload workers: ModelMesh runs maxLoadingConcurrency (1) loads
  // at a time, plus unloads and a cancelled load's unload.
  boost::asio::thread_pool pool_{4};
};

}  // namespace polaris
