#include "server/modelmesh_grpc_service.h"

#include "core/build_info.h"
#include "server/grpc_reactors.h"

namespace polaris {
namespace {

constexpr const char* kThreadName = "polaris-mmesh";

// The inference RPCs ModelMesh forwards, each with where its request names
// the model (field numbers from the request message down): ModelMesh writes
// its model id there, so the model is found under that name.
constexpr const char* kModelNamedMethods[] = {
    "inference.GRPCInferenceService/ModelInfer",     "inference.GRPCInferenceService/ModelMetadata",
    "inference.GRPCInferenceService/ModelReady",     "inference.GRPCInferenceService/ModelConfig",
    "inference.GRPCInferenceService/ModelStatistics",
};

template <typename Request>
MeshModelRequest mesh_request(const Request& r) {
  return MeshModelRequest{r.modelid(), r.modeltype(), r.modelpath(), r.modelkey()};
}

}  // namespace

ModelMeshGrpcService::ModelMeshGrpcService(ModelManager& manager, const AccessPolicy& access)
    : runtime_(manager), access_(access) {}

ModelMeshGrpcService::~ModelMeshGrpcService() { pool_.join(); }

Status ModelMeshGrpcService::allowed(grpc::CallbackServerContext* context) const {
  if (!access_.admin_token_required()) return Status::Ok();
  return grpc_access_allowed(context, access_, Access::kRepository);
}

grpc::ServerUnaryReactor* ModelMeshGrpcService::loadModel(grpc::CallbackServerContext* context,
                                                          const mmesh::LoadModelRequest* request,
                                                          mmesh::LoadModelResponse* response) {
  if (Status refused = allowed(context); !refused.ok()) return grpc_answer(context, refused);
  return grpc_answer_on(pool_, kThreadName, context, [this, context, request, response]() -> Status {
    POLARIS_ASSIGN_OR_RETURN(uint64_t size,
                             runtime_.load(mesh_request(*request), [context] { return context->IsCancelled(); }));
    response->set_sizeinbytes(size);
    response->set_maxconcurrency(0);  // the model's scheduler queues what it cannot run yet
    return Status::Ok();
  });
}

grpc::ServerUnaryReactor* ModelMeshGrpcService::unloadModel(grpc::CallbackServerContext* context,
                                                            const mmesh::UnloadModelRequest* request,
                                                            mmesh::UnloadModelResponse*) {
  if (Status refused = allowed(context); !refused.ok()) return grpc_answer(context, refused);
  return grpc_answer_on(pool_, kThreadName, context,
                        [this, request]() { return runtime_.unload(request->modelid()); });
}

grpc::ServerUnaryReactor* ModelMeshGrpcService::predictModelSize(grpc::CallbackServerContext* context,
                                                                 const mmesh::PredictModelSizeRequest* request,
                                                                 mmesh::PredictModelSizeResponse* response) {
  if (Status refused = allowed(context); !refused.ok()) return grpc_answer(context, refused);
  // A file's size and a lookup; the engine module may load on first use.
  return grpc_answer_on(pool_, kThreadName, context, [this, request, response]() -> Status {
    POLARIS_ASSIGN_OR_RETURN(uint64_t size, runtime_.predict_size(mesh_request(*request)));
    response->set_sizeinbytes(size);
    return Status::Ok();
  });
}

grpc::ServerUnaryReactor* ModelMeshGrpcService::modelSize(grpc::CallbackServerContext* context,
                                                          const mmesh::ModelSizeRequest* request,
                                                          mmesh::ModelSizeResponse* response) {
  if (Status refused = allowed(context); !refused.ok()) return grpc_answer(context, refused);
  Result<uint64_t> size = runtime_.model_size(request->modelid());  // counters only
  if (size.ok()) response->set_sizeinbytes(*size);
  return grpc_answer(context, size.ok() ? Status::Ok() : size.status());
}

grpc::ServerUnaryReactor* ModelMeshGrpcService::runtimeStatus(grpc::CallbackServerContext* context,
                                                              const mmesh::RuntimeStatusRequest*,
                                                              mmesh::RuntimeStatusResponse* response) {
  if (Status refused = allowed(context); !refused.ok()) return grpc_answer(context, refused);
  // On the pool: it first unloads whatever ModelMesh loaded before.
  return grpc_answer_on(pool_, kThreadName, context, [this, response]() -> Status {
    const MeshRuntimeStatus status = runtime_.status();
    response->set_status(mmesh::RuntimeStatusResponse::READY);
    response->set_capacityinbytes(status.capacity_bytes);
    response->set_maxloadingconcurrency(status.max_loading_concurrency);
    response->set_modelloadingtimeoutms(status.model_loading_timeout_ms);
    response->set_defaultmodelsizeinbytes(status.default_model_size_bytes);
    response->set_runtimeversion(std::string("polaris ") + build_info::kPolarisVersion);
    response->set_limitmodelconcurrency(false);
    response->set_allowanymethod(false);
    for (const char* method : kModelNamedMethods)
      (*response->mutable_methodinfos())[method].add_idinjectionpath(1);  // model_name = 1 in each request
    return Status::Ok();
  });
}

}  // namespace polaris
