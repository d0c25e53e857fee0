// The Plan: a plain value describing what apply will do, produced by
// planner::MakePlan and consumed by planner::ApplyPlan and the renderers.
// Display fields (before/after) are redacted; the plain values providers need
// (config, planned) live in fields that are never serialized.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "compiler/config_graph.h"
#include "core/wire.h"
#include "planner/state/state.h"

namespace kiln::planner {

enum class Action { kNoop, kCreate, kRead, kUpdate, kReplace, kDelete };

// "create", "update", ... as in the JSON plan format.
const char* ActionName(Action a);
std::optional<Action> ParseAction(const std::string& name);

// Reasons (the JSON `action_reason` values).
inline constexpr char kReasonNew[] = "not_in_state";
inline constexpr char kReasonConfigChanged[] = "config_changed";
inline constexpr char kReasonCannotUpdate[] = "cannot_update";
inline constexpr char kReasonReplaceRequested[] = "replace_by_request";
inline constexpr char kReasonReplaceTriggered[] = "replace_triggered_by";
inline constexpr char kReasonTainted[] = "tainted";
// A job that failed or was killed after apply (PlanResponse::replace_reason).
inline constexpr char kReasonFailed[] = "failed";
inline constexpr char kReasonNotInConfig[] = "not_in_config";
inline constexpr char kReasonDestroy[] = "destroy";
inline constexpr char kReasonDriftChanged[] = "changed_outside_kiln";
inline constexpr char kReasonDriftDeleted[] = "deleted_outside_kiln";
inline constexpr char kReasonDeposed[] = "deposed_object";

struct ResourceChange {
  std::string address, module, kind, name;
  nlohmann::json key;
  std::string provider, provider_type;
  Action action = Action::kNoop;
  std::string action_reason;
  nlohmann::json before;  // redacted (sensitive leaves "(sensitive)"); null when absent
  nlohmann::json after;   // redacted; unknown leaves {"$unknown": true}; null when deleted
  std::vector<Path> sensitive_paths;
  // Where durations (ms) and bytes (integers) sit in before/after, so that
  // text renderers print `10m` and `80GiB`; from the configuration, else
  // from state.
  std::vector<Path> duration_paths;
  std::vector<Path> bytes_paths;
  std::vector<Path> replace_paths;  // attributes that force the replacement
  // Sensitive attributes whose value changes (both sides render "(sensitive)").
  std::vector<Path> sensitive_changed;
  // Apply ordering: configuration dependencies (for creates and updates) and
  // the recorded ones (for deletes).
  std::vector<std::string> dependencies;
  std::vector<std::string> prior_dependencies;
  bool create_before_destroy = false;
  // A delete of a deposed object (State::deposed) left by an interrupted
  // create_before_destroy replacement: its key; "" for everything else.
  std::string deposed_key;
  // The recorded state before the change (redacted), for update/delete.
  std::optional<state::ResourceState> prior;
  // Never serialized: plain values for the provider. Filled from the
  // configuration again when a saved plan is applied.
  nlohmann::json config;
  nlohmann::json planned;
  SourceRange range;
};

struct OutputChange {
  Action action = Action::kNoop;
  nlohmann::json before, after;  // "(sensitive)" when sensitive
  bool sensitive = false;
  // Paths into the value (empty: the whole value) of durations and bytes.
  std::vector<Path> duration_paths;
  std::vector<Path> bytes_paths;
};

// GPUs by model ("H100" -> 8): GPUs per node or replica times the nodes or
// (minimum) replicas.
using GpuCounts = std::map<std::string, int64_t>;

struct Cost {
  double before_hourly = 0, after_hourly = 0;
  double delta() const { return after_hourly - before_hourly; }
  GpuCounts gpus_before, gpus_after;
  // Per resource that holds GPUs (a job or endpoint placed on a cluster is
  // counted by the cluster), by address.
  struct Resource {
    double before_hourly = 0, after_hourly = 0;
    GpuCounts gpus_before, gpus_after;
  };
  std::map<std::string, Resource> resources;
};

// A diagnostic in the shape of the JSON plan (positions already resolved).
struct PlanDiagnostic {
  std::string severity;  // "error" | "warning"
  std::string code, message, file;
  int line = 0, column = 0;
};

enum class PlanMode { kNormal, kDestroy, kRefreshOnly };

struct Plan {
  PlanMode mode = PlanMode::kNormal;
  std::vector<ResourceChange> changes;  // every instance considered, by address (noops too)
  std::vector<ResourceChange> drift;    // by address
  std::map<std::string, OutputChange> outputs;
  std::optional<Cost> cost;
  std::vector<PlanDiagnostic> diagnostics;
  bool errored = false;
  // Where it was made: a saved plan is stale when these differ at apply.
  bool state_existed = false;
  std::string lineage;
  int64_t serial = 0;
  std::string config_hash;
  std::string variables_hash;
  // The refreshed state the changes were computed from (drift adopted at apply).
  std::vector<state::ResourceState> refreshed;
  std::vector<std::string> refreshed_gone;  // recorded, but found deleted

  struct Summary {
    int add = 0, change = 0, replace = 0, destroy = 0;
  };
  Summary summary() const;
  // Any change to resources or outputs (what --detailed-exitcode reports),
  // or drift to adopt in refresh-only mode.
  bool HasChanges() const;
  const ResourceChange* Find(const std::string& address) const;
};

// Fills plan->diagnostics from `diags` (positions resolved through `sm`),
// sorted by file, line and column (those without a location first), and
// sets plan->errored when any is an error. Notes are left out. Files under
// `base_dir` (when given) are named relative to it.
void FillPlanDiagnostics(Plan* plan, const Diagnostics& diags, const SourceManager& sm,
                         const std::string& base_dir = "");

// GPU prices from the catalog: model -> (on_demand, spot) USD per GPU-hour;
// nullopt when the catalog does not price the model.
using GpuPriceFn = std::function<std::optional<std::pair<double, double>>(const std::string&)>;

// Hourly cost of a set of resources' attributes (see docs/architecture.md):
// clusters count gpu x nodes, jobs gpu x nodes and endpoints gpu x replicas
// (min), jobs and endpoints placed on a cluster count through the cluster.
// nullopt when no GPU is involved or one of them is not priced. `gpus`, when
// given, gets the GPUs counted, by model.
std::optional<double> HourlyCost(const std::vector<std::pair<std::string, nlohmann::json>>& kind_attrs,
                                 const GpuPriceFn& prices, bool* any_gpu, GpuCounts* gpus = nullptr);

// ---- JSON ----

// The JSON plan format of CLI.md (format_version "1.0"); keys sorted,
// deterministic.
nlohmann::json PlanToJson(const Plan& plan);
// A saved plan: PlanToJson plus what apply needs (lineage, serial, hashes,
// priors, dependencies), still without any sensitive value in clear.
nlohmann::json SavedPlanToJson(const Plan& plan);
bool SavedPlanFromJson(const nlohmann::json& j, Plan* out, std::string* error);

// The wire helpers (core/wire.h), under the names planner code uses.
using ::kiln::ContainsUnknown;
using ::kiln::IsUnknown;
// `after` with true at unknown leaves and false... (CLI.md after_unknown):
// mirrors `v` with `true` at unknown leaves; objects/arrays kept, other leaves
// dropped (an empty object when nothing is unknown).
nlohmann::json UnknownMask(const nlohmann::json& v);
using ::kiln::AtPath;
using ::kiln::EraseAtPath;
using ::kiln::RedactPaths;
using ::kiln::SetAtPath;

}  // namespace kiln::planner
