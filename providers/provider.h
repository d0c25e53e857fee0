// The one provider interface. Built-in providers implement it in-process;
// external plugins are reached through the JSON-RPC adapter (providers/rpc).
// Request/response structs, no exceptions across it: every failure, a
// crashed or hung plugin included, comes back as an error diagnostic.
#pragma once

#include <functional>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "core/path.h"
#include "core/provider_schema.h"
#include "core/severity.h"

namespace kiln {

struct ProviderDiagnostic {
  Severity severity = Severity::kError;
  std::string summary;
  std::string detail;
  Path attribute;  // path into the resource's config; empty for the whole
};
using ProviderDiagnostics = std::vector<ProviderDiagnostic>;
bool HasErrors(const ProviderDiagnostics& diags);
// The errors among `diags` as one message ("a; b"), each summary followed by
// its detail (on lines of its own when the detail has several); empty when
// there are none.
std::string ErrorText(const ProviderDiagnostics& diags);

struct ConfigureRequest {
  nlohmann::json config = nlohmann::json::object();
};
struct ConfigureResponse {
  ProviderDiagnostics diagnostics;
};

struct ValidateRequest {
  std::string kind;  // bare kind name as in the schema ("training_job", "reservation")
  std::string address;
  nlohmann::json config;
};
struct ValidateResponse {
  ProviderDiagnostics diagnostics;
};

struct PlanRequest {
  std::string kind;
  std::string address;
  nlohmann::json prior;   // null when the object does not exist yet
  nlohmann::json config;  // may hold {"$unknown": true} leaves
};
struct PlanResponse {
  nlohmann::json planned;            // proposed state; computed leaves unknown
  std::vector<Path> requires_replace;
  ProviderDiagnostics diagnostics;
  // Set when the object must be replaced although nothing in its
  // configuration changed: the plan's reason ("failed": a job that failed
  // after apply). The details come as a warning diagnostic.
  std::string replace_reason;
};

using ProgressFn = std::function<void(const std::string& message)>;

struct ApplyRequest {
  std::string kind;
  std::string address;
  nlohmann::json prior;    // null for a create
  nlohmann::json planned;
  nlohmann::json config;
  ProgressFn progress;     // may be empty
};
struct ApplyResponse {
  nlohmann::json state;    // the new state (null if nothing was created)
  ProviderDiagnostics diagnostics;
};

struct ReadRequest {
  std::string kind;
  std::string address;
  nlohmann::json state;    // null: recover an interrupted create by address
};
struct ReadResponse {
  nlohmann::json state;    // null when the object is gone / not found
  ProviderDiagnostics diagnostics;
  // What changed is the object's own progress (a job's status moving from
  // pending to running to succeeded), not a change made outside kiln: it is
  // recorded without being reported as drift.
  bool progress = false;
};

// Several reads in one call (a plan's refresh): results in the order of
// `reads`. Providers that can answer them together (one `GET /jobs` for
// every Slurm job) say so with SupportsReadBatch().
struct ReadBatchRequest {
  std::vector<ReadRequest> reads;
};
struct ReadBatchResponse {
  std::vector<ReadResponse> results;  // same order as reads
  ProviderDiagnostics diagnostics;    // about the whole batch
};

// Several validates / plans in one call (a plan's diff): results in the
// order of the requests. Providers that answer them together say so with
// SupportsValidateBatch() / SupportsPlanBatch(); a plugin saves a JSON-RPC
// round trip per resource.
struct ValidateBatchRequest {
  std::vector<ValidateRequest> validates;
};
struct ValidateBatchResponse {
  std::vector<ValidateResponse> results;  // same order as validates
  ProviderDiagnostics diagnostics;        // about the whole batch
};
struct PlanBatchRequest {
  std::vector<PlanRequest> plans;
};
struct PlanBatchResponse {
  std::vector<PlanResponse> results;  // same order as plans
  ProviderDiagnostics diagnostics;    // about the whole batch
};

struct DeleteRequest {
  std::string kind;
  std::string address;
  nlohmann::json state;
};
struct DeleteResponse {
  ProviderDiagnostics diagnostics;
};

struct ImportRequest {
  std::string kind;
  std::string id;
};
struct ImportResponse {
  nlohmann::json state;
  ProviderDiagnostics diagnostics;
};

struct InventoryGpu {
  std::string model;
  int64_t memory = 0;  // bytes
  int count = 0;
  int free = 0;
};
struct InventoryNode {
  std::string name;
  std::vector<InventoryGpu> gpus;
};
struct InventoryResponse {
  std::vector<InventoryNode> nodes;
  bool simulated = false;
  ProviderDiagnostics diagnostics;
};

// A plan's resources of one provider, for the checks that concern them
// together (GPUs they share on one machine), which no single Plan call can
// make.
struct PlanCheckResource {
  std::string kind;     // bare kind name
  std::string address;
  std::string action;   // "create", "update", "replace", "noop" or "delete"
  nlohmann::json config;  // the planned configuration (unknown leaves possible); the recorded one for a delete
  std::vector<std::string> dependencies;  // addresses it refers to
};
struct PlanCheckRequest {
  std::vector<PlanCheckResource> resources;
};
struct PlanCheckResponse {
  // Each about one resource (by address; "" for the plan as a whole).
  std::vector<std::pair<std::string, ProviderDiagnostic>> diagnostics;
};

class Provider {
 public:
  virtual ~Provider() = default;
  // The schema; for plugins it comes from the `initialize` handshake.
  virtual const ProviderSchema& Schema() const = 0;
  virtual ConfigureResponse Configure(const ConfigureRequest& req) = 0;
  virtual ValidateResponse Validate(const ValidateRequest& req) = 0;
  virtual PlanResponse Plan(const PlanRequest& req) = 0;
  virtual ApplyResponse Apply(const ApplyRequest& req) = 0;
  virtual ReadResponse Read(const ReadRequest& req) = 0;
  // Optional: reads answered together. The default calls Read for each.
  virtual bool SupportsReadBatch() const { return false; }
  virtual ReadBatchResponse ReadBatch(const ReadBatchRequest& req);
  // Optional: validates and plans answered together. The defaults call
  // Validate / Plan for each.
  virtual bool SupportsValidateBatch() const { return false; }
  virtual ValidateBatchResponse ValidateBatch(const ValidateBatchRequest& req);
  virtual bool SupportsPlanBatch() const { return false; }
  virtual PlanBatchResponse PlanBatch(const PlanBatchRequest& req);
  virtual DeleteResponse Delete(const DeleteRequest& req) = 0;
  virtual ImportResponse Import(const ImportRequest& req) = 0;
  // Optional capability; the default answers "not supported".
  virtual InventoryResponse Inventory();
  // Optional: checks over all of a plan's resources of this provider,
  // called once per plan after every resource was planned. The default
  // finds nothing.
  virtual PlanCheckResponse CheckPlan(const PlanCheckRequest&) { return {}; }
  // Asks the provider to abort the operations it has in flight (kiln's
  // second Ctrl-C). Called from another thread than those calls, returns at
  // once; each aborted call soon returns an error diagnostic (with `state`
  // set to whatever it had already created, if anything). Calls made after
  // Cancel() returns run normally. The default does nothing: calls finish.
  virtual void Cancel() {}
  // Called once when kiln is done with the provider.
  virtual void Shutdown() {}
  // Where it came from: "built-in" or the plugin's path.
  virtual std::string Origin() const = 0;
};

}  // namespace kiln
