// Plan(ConfigGraph, State, Providers) -> Plan, and Apply(Plan, ...) -> State.
//
// MakePlan runs an ordered list of named steps (see kPlanSteps in
// planner.cpp): reconcile the intent journal, refresh, evaluate, diff,
// orphans, replace triggers, targeting, prevent_destroy, outputs, cost.
// ApplyPlan turns the plan's actions into a DAG (planner/dag) and walks it
// on a pool of --parallelism workers, longest remaining chain first.
#pragma once

#include <atomic>
#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "compiler/config_graph.h"
#include "planner/dag/dag.h"
#include "planner/plan/plan.h"
#include "planner/state/state.h"
#include "providers/provider.h"
#include "providers/registry.h"

namespace kiln::planner {

// Where the planner gets configured providers. Thread-safe.
class ProviderSource {
 public:
  virtual ~ProviderSource() = default;
  // The configured provider for instance `address` (of `type`); null with a
  // message in *error when it cannot be had.
  virtual Provider* Get(const std::string& address, const std::string& type,
                        std::string* error) = 0;
};

// Backed by a ProviderRegistry and the configuration's provider instances;
// instances no longer in the configuration are started unconfigured.
class RegistryProviderSource : public ProviderSource {
 public:
  RegistryProviderSource(ProviderRegistry* registry, std::vector<ProviderInstance> instances);
  Provider* Get(const std::string& address, const std::string& type, std::string* error) override;

 private:
  ProviderRegistry* registry_;
  std::map<std::string, ProviderInstance> instances_;
  std::mutex mu_;
};

// A fixed map, for tests.
class MapProviderSource : public ProviderSource {
 public:
  void Add(const std::string& address, Provider* p) { providers_[address] = p; }
  Provider* Get(const std::string& address, const std::string& type, std::string* error) override;

 private:
  std::map<std::string, Provider*> providers_;
};

struct PlanContext {
  const CompiledConfig* config = nullptr;  // may be null for destroy
  ProviderSource* providers = nullptr;
  state::StateStore* store = nullptr;      // loaded
  state::IntentJournal* journal = nullptr;  // may be null
};

struct PlanOptions {
  PlanMode mode = PlanMode::kNormal;
  bool refresh = true;
  std::vector<std::string> targets;  // addresses; dependencies are included
  std::vector<std::string> replace;  // addresses forced to be replaced
  int parallelism = 16;
  GpuPriceFn prices;
  std::string variables_hash;
};

// Builds the plan. Errors (provider failures, prevent_destroy, cycles) go
// to `diags` and mark plan.errored.
Plan MakePlan(const PlanContext& ctx, const PlanOptions& options, Diagnostics& diags);

// True if `address` is `target` or inside it (an instance of it, or a
// resource of module `target`): Address::Contains.
bool AddressMatches(const std::string& target, const std::string& address);

// Bare kind name as in a provider schema: "slurm.reservation" -> "reservation".
using ::kiln::BareKind;

// The recorded form of what a provider returned for `c` (after an apply or
// an import): sensitive values redacted and hashed with `hasher`, the
// configuration's dependencies and lifecycle kept.
state::ResourceState RecordApplied(const ResourceChange& c, const nlohmann::json& attrs,
                                   const std::string& status, const state::SensitiveHasher& hasher);

// `kiln import`: asks the provider of `inst` for the live object `id`
// (ImportRequest) and records it in state under inst's address. The caller
// holds the state lock. Errors E0909 (the address is in state already),
// E0908 (provider failure or no such object) and E0901.
bool ImportResource(const PlanContext& ctx, const ResourceInstance& inst, const std::string& id,
                    state::ResourceState* out, Diagnostics& diags);

// ---- Apply ----

// Timestamps of one apply operation (zero when the phase did not happen).
struct ApplyOpTiming {
  using TimePoint = std::chrono::steady_clock::time_point;
  TimePoint ready;          // its last dependency finished
  TimePoint started;        // a worker took it
  TimePoint intent_durable; // its journal record was durable (creates)
  TimePoint provider_done;  // the provider call returned
  TimePoint finished;       // its dependents were released
};

struct ApplyOptions {
  int parallelism = 16;
  // Progress lines ("thing.a: Creating..."); called from worker threads,
  // one whole line at a time.
  std::function<void(const std::string& line)> log;
  std::chrono::milliseconds progress_interval{10000};
  // 0: run; 1: start nothing new (in-flight work finishes); 2: also abort
  // (Provider::Cancel on every provider with an operation in flight).
  const std::atomic<int>* interrupt = nullptr;
  // When set, filled with one entry per node of BuildApplyGraph's graph
  // (same ids): where each operation's time went. For the benchmark.
  std::vector<ApplyOpTiming>* timings = nullptr;
};


struct ApplyResult {
  int succeeded = 0, failed = 0, skipped = 0;
  // Operations in flight when a second interrupt asked providers to abort
  // (each also counted in succeeded or failed).
  int aborted = 0;
  bool interrupted = false;
  bool ok() const { return failed == 0 && !interrupted; }
};

// One node of the apply graph.
struct ApplyOp {
  enum Kind { kCreate, kUpdate, kDelete } kind;
  size_t change;  // index into plan.changes
  // A delete of a deposed object (the old object of a create-before-destroy
  // replacement): its key in State::deposed.
  std::string deposed_key;
  // A create-before-destroy replacement's create: the current object is
  // first recorded as deposed under this key.
  std::string depose_key;
};

// The action graph of a plan: nodes named "ADDR (create|update|delete)".
dag::Graph BuildApplyGraph(const Plan& plan, std::vector<ApplyOp>* ops, Diagnostics& diags);

// Fills config/planned of a saved plan's changes from a fresh evaluation
// (sensitive values were not saved). False with errors when the
// configuration no longer has an instance the plan creates or updates.
bool RestorePlanValues(Plan& plan, const ConfigGraph& graph, Diagnostics& diags);

ApplyResult ApplyPlan(Plan& plan, const PlanContext& ctx, const ApplyOptions& options,
                      Diagnostics& diags);

}  // namespace kiln::planner
