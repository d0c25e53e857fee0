// What the slurm provider asks of slurmrestd and gets back, independent of
// the REST API version, and the one per-version Adapter that maps these to
// and from that version's JSON. Adding v0.0.39 is adding an adapter.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace kiln::slurm {

// One item of a Slurm answer's errors[] (its own words).
struct SlurmError {
  int code = 0;
  std::string message;
};

struct Gres {
  std::string name;   // "gpu"
  std::string type;   // "h100"; "" when untyped
  int count = 0;
};

struct NodeInfo {
  std::string name;
  std::string address;  // NodeAddr
  std::string state;    // "idle", "mixed", "down", ...
  int cpus = 0;
  int64_t memory_mb = 0;
  std::vector<Gres> gres;
  std::vector<Gres> gres_used;
  std::vector<std::string> partitions;
};

struct PartitionInfo {
  std::string name;
  std::string state;  // "UP"
  int total_nodes = 0;
  int64_t max_time_minutes = -1;  // -1: unlimited
  // Comma-separated lists as Slurm keeps them ("" = no restriction).
  std::string allowed_accounts, denied_accounts, allowed_qos, denied_qos;
};

struct JobInfo {
  int64_t id = 0;
  std::string name;
  std::string state;     // Slurm's job_state: PENDING, RUNNING, COMPLETED, ...
  std::string reason;    // state_reason
  std::string comment;
  std::string user;
  std::string batch_host;
  std::string nodes;     // the node list ("node[1-2]")
  std::string standard_output;
  int64_t exit_code = 0; // a wait(2) status as Slurm reports it
  int64_t submit_time = 0;
};

struct JobSpec {
  std::string name;
  std::string script;
  std::string partition, account, qos;
  int nodes = 1;
  std::string gres;          // "gpu:h100:4", "gpu:2" or ""
  int cpus_per_task = 0;     // 0: Slurm's default
  int64_t memory_mb = 0;     // per node; 0: Slurm's default
  int64_t time_limit_minutes = 0;  // 0: the partition's
  std::string comment;
  std::string working_directory;
  std::string standard_output;
  std::map<std::string, std::string> environment;
};

class Adapter {
 public:
  virtual ~Adapter() = default;
  virtual std::string Version() const = 0;  // "v0.0.38"
  virtual std::string PingPath() const = 0;
  virtual std::string JobsPath() const = 0;
  virtual std::string JobPath(int64_t id) const = 0;
  virtual std::string SubmitPath() const = 0;
  virtual std::string PartitionsPath() const = 0;
  virtual std::string NodesPath() const = 0;

  virtual nlohmann::json SubmitBody(const JobSpec& spec) const = 0;
  // Each parser is false with *error when the answer does not have the
  // version's shape (a malformed answer is never half-read).
  virtual bool ParseErrors(const nlohmann::json& answer, std::vector<SlurmError>* out,
                           std::string* error) const = 0;
  virtual bool ParseSubmit(const nlohmann::json& answer, int64_t* job_id, std::string* error) const = 0;
  virtual bool ParseJobs(const nlohmann::json& answer, std::vector<JobInfo>* out, std::string* error) const = 0;
  virtual bool ParseNodes(const nlohmann::json& answer, std::vector<NodeInfo>* out, std::string* error) const = 0;
  virtual bool ParsePartitions(const nlohmann::json& answer, std::vector<PartitionInfo>* out,
                               std::string* error) const = 0;
};

// The versions this provider speaks, newest first.
std::vector<std::string> SpokenVersions();
// The versions a server offers, from its `GET /openapi/v3` document
// (the "/slurm/vX.Y.Z/" prefixes of its paths), sorted.
std::vector<std::string> OfferedVersions(const nlohmann::json& openapi);
// The adapter for the newest version both sides speak; null with *error
// naming what the server offers when there is none.
std::unique_ptr<Adapter> ChooseAdapter(const nlohmann::json& openapi, std::string* error);

// kiln status of a Slurm job_state.
std::string JobStatus(const std::string& slurm_state);
bool JobAlive(const std::string& slurm_state);
// The exit code of a wait(2) status (a signal s gives 128 + s); null while
// the job has not ended.
nlohmann::json ExitCode(const JobInfo& job);
// The comment that marks a job as kiln's: "kiln:ADDRESS", then details.
std::string CommentPrefix(const std::string& address);
bool CommentIsFor(const std::string& comment, const std::string& address);

// "gpu:h100:4(S:0-1),gpu:a100:2" -> items; counts in "gpu:h100:0(IDX:N/A)" too.
std::vector<Gres> ParseGresList(const std::string& text);

}  // namespace kiln::slurm
