// The slurm provider's class, shared by its per-kind files
// (slurm_provider.cpp: configuration, clusters, datastores, reads;
// jobs.cpp: training jobs; endpoints.cpp: endpoint replicas).
#pragma once

#include <atomic>
#include <filesystem>
#include <mutex>
#include <optional>
#include <unordered_map>

#include "providers/local/gpus.h"
#include "providers/slurm/client.h"
#include "providers/slurm/placement.h"
#include "providers/slurm/slurm_provider.h"

namespace kiln::slurm {

using json = nlohmann::json;

// Helpers shared by the kinds.
bool IsUnknown(const json& j);
bool ContainsUnknown(const json& j);
json Unknown();
std::string Str(const json& obj, const std::string& key, const std::string& def = "");
int64_t Int(const json& obj, const std::string& key, int64_t def);
bool Bool(const json& obj, const std::string& key, bool def = false);
ProviderDiagnostic Err(std::string summary, Path attribute = {}, std::string detail = "");
std::string Slug(const std::string& address);
std::string LastLines(const std::string& path, int n);
bool SameValue(const json& a, const json& b);

class SlurmProvider : public Provider {
 public:
  explicit SlurmProvider(SlurmSeams seams);

  const ProviderSchema& Schema() const override { return schema_; }
  std::string Origin() const override { return "built-in"; }
  ConfigureResponse Configure(const ConfigureRequest& req) override;
  ValidateResponse Validate(const ValidateRequest& req) override;
  PlanResponse Plan(const PlanRequest& req) override;
  ApplyResponse Apply(const ApplyRequest& req) override;
  ReadResponse Read(const ReadRequest& req) override;
  bool SupportsReadBatch() const override { return true; }
  ReadBatchResponse ReadBatch(const ReadBatchRequest& req) override;
  DeleteResponse Delete(const DeleteRequest& req) override;
  ImportResponse Import(const ImportRequest& req) override;
  InventoryResponse Inventory() override;
  void Cancel() override { ++cancel_gen_; }

  // Requests sent to slurmrestd so far (tests).
  int64_t Requests() const { return client_ ? client_->requests() : 0; }

 private:
  struct JobsSnapshot {
    bool ok = false;
    std::vector<JobInfo> jobs;
    std::unordered_map<int64_t, size_t> by_id;  // job id -> index in jobs
    ProviderDiagnostics diagnostics;
    const JobInfo* Find(int64_t id) const;
    // The newest job whose comment is for `address` (and `extra`, if set).
    const JobInfo* FindByComment(const std::string& address, const std::string& extra = "") const;
  };

  // The partitions and nodes (fetched once per provider object).
  const ClusterView* View(ProviderDiagnostics* diags);
  JobsSnapshot FetchJobs();
  bool Ready(ProviderDiagnostics* diags);

  // Which partition a job or endpoint runs in: its cluster's, else the
  // provider's default. "" when neither says.
  std::string PartitionOf(const json& config, const std::string& address);
  bool BuildRequest(const std::string& address, const json& config, int nodes, Request* req,
                    ProviderDiagnostics* diags);
  void CheckPlacement(const std::string& address, const json& config, int nodes, ProviderDiagnostics* diags);
  std::string GresFor(const std::string& partition, const Request& req);

  // A submit that never makes a duplicate: on a lost answer the job is
  // looked up by its unique comment before the next attempt. When Slurm
  // cannot be asked (slurmrestd stays away), *uncertain says the job may
  // exist: the caller records that instead of forgetting it.
  bool Submit(const JobSpec& spec, int64_t* job_id, ProviderDiagnostics* diags, const ProgressFn& progress,
              bool* uncertain = nullptr);
  bool CancelJob(int64_t id, ProviderDiagnostics* diags);
  std::string NewNonce();
  bool Cancelled() const;
  void Sleep(int ms);

  // Per kind.
  ReadResponse ReadOne(const ReadRequest& req, const JobsSnapshot* jobs);
  PlanResponse PlanCluster(const PlanRequest& req);
  ApplyResponse ApplyCluster(const ApplyRequest& req);
  std::string DatastoreDir(const std::string& address, const json& path);
  ApplyResponse ApplyDatastore(const ApplyRequest& req);
  DeleteResponse DeleteDatastore(const DeleteRequest& req);

  PlanResponse PlanJob(const PlanRequest& req);
  ApplyResponse ApplyJob(const ApplyRequest& req);
  bool SubmitJob(const ApplyRequest& req, json* state, ProviderDiagnostics* diags, bool* uncertain = nullptr);
  void RefreshJob(const JobInfo* job, json* state);
  void WaitForJob(const ApplyRequest& req, json* state, ProviderDiagnostics* diags);
  ReadResponse ReadJob(const ReadRequest& req, const JobsSnapshot* jobs);
  DeleteResponse DeleteJob(const DeleteRequest& req);

  PlanResponse PlanEndpoint(const PlanRequest& req);
  ApplyResponse ApplyEndpoint(const ApplyRequest& req);
  bool StartReplica(const ApplyRequest& req, int index, int port, int64_t* job_id, std::string* url,
                    ProviderDiagnostics* diags);
  // Polls a cancelled replica's job until its processes are gone.
  bool WaitEnded(int64_t id, int64_t index, ProviderDiagnostics* diags);
  ReadResponse ReadEndpoint(const ReadRequest& req, const JobsSnapshot* jobs);
  DeleteResponse DeleteEndpoint(const DeleteRequest& req);

  std::map<std::string, std::string> BaseEnv(const json& config, const std::string& address);
  // A reference to another object of this provider: its attributes, or its
  // address (relative to the referring resource's module) resolved through
  // the records under shared_root. Null when unknown.
  json ResolveRef(const json& ref, const std::string& kind, const std::string& self_address) const;
  std::string DatastoreDirOf(const json& ref, const std::string& self_address) const;
  // The record under shared_root/.kiln that lets an interrupted create be
  // adopted with its configuration (secrets removed).
  std::filesystem::path RecordPath(const std::string& kind, const std::string& address) const;
  void SaveRecord(const std::string& kind, const std::string& address, const json& state);
  json LoadRecord(const std::string& kind, const std::string& address) const;

  SlurmSeams seams_;
  ProviderSchema schema_;
  const local::GpuCatalog* catalog_;
  std::unique_ptr<Client> client_;
  ProviderDiagnostics configure_error_;
  std::string partition_, account_, qos_, job_path_;
  std::filesystem::path shared_root_;
  std::mutex view_mu_;
  std::optional<ClusterView> view_;
  std::mutex nonce_mu_;
  uint64_t nonce_state_ = 0;
  std::atomic<uint64_t> cancel_gen_{0};
};

}  // namespace kiln::slurm
