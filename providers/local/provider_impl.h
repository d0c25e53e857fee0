// The local provider's class, shared by its units: local_provider.cpp
// (configuration, validation, the per-kind dispatch, inventory), cluster.cpp,
// datastore.cpp, job.cpp, endpoint.cpp and fit.cpp (the whole-plan GPU
// check). Internal to providers/local/.
#pragma once

#include <sys/types.h>

#include <atomic>
#include <map>
#include <mutex>
#include <set>
#include <string>
#include <vector>

#include "providers/local/gpus.h"
#include "providers/local/leases.h"
#include "providers/local/system.h"
#include "providers/local/util.h"
#include "providers/provider.h"

namespace kiln::local {

inline ProviderDiagnostic Err(std::string summary, Path attribute = {}, std::string detail = "") {
  return {Severity::kError, std::move(summary), std::move(detail), std::move(attribute)};
}
inline ProviderDiagnostic Warn(std::string summary, Path attribute = {}, std::string detail = "") {
  return {Severity::kWarning, std::move(summary), std::move(detail), std::move(attribute)};
}

class LocalProvider : public Provider {
 public:
  LocalProvider(std::shared_ptr<System> sys, const GpuCatalog* catalog);

  const ProviderSchema& Schema() const override { return schema_; }
  std::string Origin() const override { return "built-in"; }
  ConfigureResponse Configure(const ConfigureRequest& req) override;
  ValidateResponse Validate(const ValidateRequest& req) override;
  PlanResponse Plan(const PlanRequest& req) override;
  ApplyResponse Apply(const ApplyRequest& req) override;
  ReadResponse Read(const ReadRequest& req) override;
  DeleteResponse Delete(const DeleteRequest& req) override;
  ImportResponse Import(const ImportRequest& req) override;
  InventoryResponse Inventory() override;
  PlanCheckResponse CheckPlan(const PlanCheckRequest& req) override;
  // Cancellation: Apply notes the cancel generation on its thread; the
  // waits (health checks, `wait = true` jobs) give up once it moves.
  void Cancel() override { ++cancel_gen_; }

 private:
  bool Cancelled() const;

  // ---- shared (local_provider.cpp)
  std::string NewId(const std::string& address);
  // The newest object directory under root/<area> whose `address` file names `address`.
  fs::path FindByAddress(const std::string& area, const std::string& address);
  // SIGTERM to the whole session, SIGKILL if it lingers; returns once no
  // process of it is left (so its GPU leases are free).
  void StopSession(pid_t pid);
  static bool CommandArgv(const json& command, std::vector<std::string>* argv, std::string* error);
  // A reference to another local object (its attribute object, or its
  // address relative to the referring resource's module): the record this
  // provider keeps for it under ROOT/<area>/, or null.
  json ResolveRef(const json& ref, const std::string& area, const std::string& self_address);
  std::string DatastoreDirOf(const json& ref, const std::string& self_address);
  std::map<std::string, std::string> BaseEnv(const json& config);
  // Whether inventory GPU g satisfies the model and memory of `gpu`.
  bool Matches(const LocalGpu& g, const GpuRequest& gpu) const;
  std::string ModelName(const GpuRequest& gpu) const;
  // The GPUs a job or endpoint draws from: its cluster's reservation, or
  // the inventory's GPUs of its model that no cluster reserved. *per gets
  // the GPUs per process (the cluster's share when `gpu` is not set).
  bool GpuPool(const json& config, const std::string& address, int processes, std::vector<int>* pool,
               int* per, std::string* error);

  // ---- clusters (cluster.cpp)
  void PlanCluster(const PlanRequest& req, bool fresh, PlanResponse* resp);
  bool FitCluster(const std::string& address, const GpuRequest& gpu, int nodes, std::vector<int>* picked,
                  std::string* error);
  ApplyResponse ApplyCluster(const ApplyRequest& req);
  ReadResponse ReadCluster(const ReadRequest& req);
  void DeleteCluster(const DeleteRequest& req, DeleteResponse* resp);

  // ---- datastores (datastore.cpp)
  std::string DatastoreDir(const std::string& address, const json& path);
  ApplyResponse ApplyDatastore(const ApplyRequest& req);
  ReadResponse ReadDatastore(const ReadRequest& req);
  void DeleteDatastore(const DeleteRequest& req, DeleteResponse* resp);

  // ---- training jobs (job.cpp)
  fs::path JobDir(const std::string& id) const;
  void PlanJob(const PlanRequest& req, PlanResponse* resp);
  ApplyResponse ApplyJob(const ApplyRequest& req);
  void RefreshJob(const fs::path& dir, json* state);
  void WaitForJob(const ApplyRequest& req, const fs::path& dir, json* state, ProviderDiagnostics* diags);
  ReadResponse ReadJob(const ReadRequest& req);
  void DeleteJob(const DeleteRequest& req, DeleteResponse* resp);

  // ---- endpoints (endpoint.cpp)
  struct Replica {
    int index = 0;
    pid_t pid = 0;
    int port = 0;
    std::vector<int> gpus;
    std::string track = "stable";  // or "canary"
  };
  static std::string ReplicaName(const Replica& r);  // "replica 0", "canary replica 0"
  static std::string LogName(const Replica& r);      // under the endpoint's directory
  std::vector<Replica> LoadReplicas(const fs::path& dir);
  void SaveReplicas(const fs::path& dir, const std::vector<Replica>& rs);
  void PlanEndpoint(const PlanRequest& req, bool fresh, PlanResponse* resp);
  bool StartReplica(const ApplyRequest& req, const std::string& id, const fs::path& dir,
                    const std::vector<int>& pool, int per, Replica* r, std::string* error);
  bool WaitHealthy(const json& c, const fs::path& dir, const Replica& r, const ApplyRequest& req,
                   std::string* error);
  bool PortOwner(int port, std::string* id, std::string* address, pid_t* pid);
  std::string PortProblem(const std::string& address, const std::string& id, int port, int replica);
  bool CheckPorts(const std::string& address, const std::string& id, const json& config, int replicas,
                  std::string* error);
  bool TakePort(const ApplyRequest& req, const std::string& id, int port, int replica, std::string* error);
  // The proxy (proxy.h): Publish writes proxy.json with `serving` as the
  // replica set and waits until a running proxy routes by it; Drain waits
  // until no request the proxy accepted for `r` is in flight; EnsureProxy
  // starts the proxy on `port` unless it runs there.
  bool Publish(const fs::path& dir, const json& c, int port, const std::vector<Replica>& serving,
               int64_t* generation, std::string* error);
  void Drain(const ApplyRequest& req, const fs::path& dir, const Replica& r, int64_t generation);
  bool EnsureProxy(const ApplyRequest& req, const std::string& id, const fs::path& dir, int port,
                   const std::vector<Replica>& serving, std::string* error);
  json Traffic(const fs::path& dir);
  ApplyResponse ApplyEndpoint(const ApplyRequest& req);
  ReadResponse ReadEndpoint(const ReadRequest& req);
  void DeleteEndpoint(const DeleteRequest& req, DeleteResponse* resp);

  std::shared_ptr<System> sys_;
  const GpuCatalog* catalog_;
  ProviderSchema schema_;
  fs::path root_ = fs::absolute(".kiln/local");
  std::vector<LocalGpu> gpus_;
  bool simulated_ = false;
  int64_t scale_down_after_ms_ = 60000;  // autoscaling's cool-down before a step down
  std::mutex reservations_mu_, id_mu_;
  int id_counter_ = 0;
  std::atomic<uint64_t> cancel_gen_{0};
};

}  // namespace kiln::local
