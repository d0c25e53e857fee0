// A Workspace is one configuration directory with its state: it compiles the
// configuration, resolves the state backend (one rule for every command),
// opens the state, its lock and intent journal and the providers, and offers
// the operations the CLI commands are made of: plan, apply, apply of a saved
// plan (with the staleness checks), import, state edits (mv, rm) and the
// state as recorded (show, list, output). The CLI only turns flags into
// WorkspaceOptions, renders results and picks exit codes.
#pragma once

#include <chrono>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "compiler/compile.h"
#include "compiler/config_graph.h"
#include "planner/planner.h"
#include "planner/state/state.h"

namespace kiln {
class ProviderRegistry;
}

namespace kiln::planner {

inline constexpr char kDefaultWorkspace[] = "default";

struct WorkspaceOptions {
  std::string root_dir = ".";
  std::string workspace = kDefaultWorkspace;
  // The root module's input values (--var, var files) and where each came
  // from ("--var", "var file prod.kilnvars"); KILN_VAR_NAME otherwise.
  InputValues inputs;
  std::map<std::string, std::string> origins;
  // A local state file to use instead of the configured backend (--state).
  std::string state_path;
  // What the lock records as the holder's operation ("plan", "apply").
  std::string operation;
  std::chrono::milliseconds lock_timeout{0};
  // False: a configuration that does not compile is no error as long as
  // there are no diagnostics errors (destroy, and state-only commands).
  bool need_config = true;
};

// One root input of this run, as a saved plan records and checks it.
struct RunInput {
  nlohmann::json value;
  bool sensitive = false;
};

// ---- The state backend: one rule ----

// The local state file of `workspace` for the configured `path`: `path`
// itself for the default workspace, <dir of path>/workspaces/NAME/<file>
// for the others.
std::string WorkspaceStatePath(const std::string& path, const std::string& workspace);

// Whether a .kiln file in `dir` mentions a backend at all: when none does,
// the backend is the local default without compiling.
bool ConfigMentionsBackend(const std::string& dir);

// The backend a compiled configuration declares (its `backend` block, the
// local default without one).
BackendConfig ResolveBackend(const CompiledConfig& config);

// Opens (does not load or lock) the state of `workspace` in `backend`.
// Null with errors in `diags` (an unknown backend, PostgreSQL unreachable).
std::unique_ptr<state::StateStore> OpenStore(const BackendConfig& backend, const std::string& workspace,
                                             Diagnostics& diags);

// ---- State edits (the caller holds the lock and saves) ----

// Forgets `addresses` (current and deposed objects). All or nothing: false
// with E0831 per address that is not in state.
bool RemoveFromState(state::State& st, const std::vector<std::string>& addresses, Diagnostics& diags);

enum class MoveResult { kMoved, kAlreadyThere, kFailed };
// Renames `from` to `to` (its deposed objects too) and the dependencies on
// it. E0832 (not an address, kind would change), E0831 (no `from`), E0833
// (`to` taken).
MoveResult MoveInState(state::State& st, const std::string& from, const std::string& to, Diagnostics& diags);

// Loads `store`'s state; with `require_existing`, E0830 when there is none
// yet. Warnings of the load are in `diags` also on success.
bool LoadState(state::StateStore& store, bool require_existing, state::State* out, Diagnostics& diags);

// `kiln state migrate`: copies the state of `source` into `target` (both
// locked here) with its lineage, serial and hashing key. The target must be
// empty, or with `force` hold an older version of the same lineage (E0837).
// *copied is what was written (its serial past the target's).
bool MigrateState(state::StateStore& source, state::StateStore& target, bool force, state::State* copied,
                  Diagnostics& diags);

// E0831 "no resource ADDR in state" with the closest address as help.
void ReportUnknownStateAddress(Diagnostics& diags, const state::State& st, const std::string& address);

class Workspace {
 public:
  Workspace();
  ~Workspace();
  Workspace(const Workspace&) = delete;
  Workspace& operator=(const Workspace&) = delete;

  // Compiles the configuration, opens the state of its backend (or
  // options.state_path), takes the lock, loads the state and opens the
  // journal and the providers. False with the reasons in `diags`.
  bool Open(const WorkspaceOptions& options, Diagnostics& diags);

  // The state only, for commands that do not plan (state, show, output,
  // force-unlock): not loaded, not locked. The configuration is compiled
  // only when one of its files mentions a backend; without one here, the
  // local default. False with errors; config_failed() tells when the
  // backend could not be told because the configuration does not compile.
  bool OpenState(const WorkspaceOptions& options, Diagnostics& diags);
  // The backend OpenState would open (options.state_path aside), for the
  // workspace commands that list and create states.
  bool ReadBackend(const WorkspaceOptions& options, BackendConfig* out, Diagnostics& diags);
  bool config_failed() const { return config_failed_; }

  // Tests: work on these parts (not owned) instead of opening any; the
  // root inputs stand for those Compile() would have read.
  void Attach(const CompiledConfig* config, ProviderSource* providers, state::StateStore* store,
              state::IntentJournal* journal, std::map<std::string, RunInput> inputs = {},
              std::string workspace = kDefaultWorkspace);

  SourceManager& sources() { return sm_; }
  const CompiledConfig* config() const { return config_; }
  state::StateStore& store() { return *store_; }
  const std::string& workspace_name() const { return options_.workspace; }
  PlanContext Context();

  // The catalog's GPU prices for the cost step (null without a compiled
  // configuration).
  GpuPriceFn Prices() const;

  // MakePlan with this workspace's prices and variables hash.
  Plan MakePlan(PlanOptions options, Diagnostics& diags);
  ApplyResult Apply(Plan& plan, const ApplyOptions& options, Diagnostics& diags);

  // The configuration evaluated against the recorded state.
  ConfigGraph EvaluateWithState(Diagnostics& diags);

  // ---- Saved plans ----

  // The JSON of `plan` saved for `kiln apply FILE`: the plan plus the
  // workspace, the inputs (sensitive ones only as keyed hashes, so the
  // state's key is made if needed) and a hash per configuration file.
  bool SavePlan(const Plan& plan, nlohmann::json* out, Diagnostics& diags);
  // Parses a saved plan's text. False with the reason in *error.
  static bool ParseSavedPlan(const std::string& text, Plan* plan, nlohmann::json* extras, std::string* error);
  // Before Open: the saved plan is for `options.workspace` (else E0907),
  // and its recorded input values join options.inputs where the command
  // line gives none.
  static bool PresetFromSavedPlan(const nlohmann::json& extras, WorkspaceOptions* options, Diagnostics& diags);
  // After Open: the inputs are the plan's (E0911, E0912) and the state,
  // the configuration files and the input values are as the plan saw them
  // (E0907 naming what changed).
  bool CheckSavedPlan(const Plan& plan, const nlohmann::json& extras, Diagnostics& diags);
  // CheckSavedPlan, then the plan's values restored from a fresh
  // evaluation (sensitive values are never saved).
  bool PrepareSavedPlan(Plan& plan, const nlohmann::json& extras, Diagnostics& diags);

  // A hash of the effective root input values (sensitive ones through the
  // state's keyed hash).
  std::string VariablesHash();

  // ---- Import ----

  // Adopts the live object `id` as `address`: E0910 when the configuration
  // has no such instance; ImportResource's checks and errors otherwise.
  bool Import(const std::string& address, const std::string& id, state::ResourceState* out, Diagnostics& diags);

 private:
  bool Compile(Diagnostics& diags);
  std::map<std::string, RunInput> RootInputs() const;
  std::string Origin(const std::string& name) const;
  std::map<std::string, std::string> ConfigFileHashes() const;

  WorkspaceOptions options_;
  SourceManager sm_;
  std::unique_ptr<ProviderRegistry> registry_;
  std::unique_ptr<CompiledConfig> owned_config_;
  std::unique_ptr<RegistryProviderSource> owned_providers_;
  std::unique_ptr<state::StateStore> owned_store_;
  std::unique_ptr<state::IntentJournal> owned_journal_;
  const CompiledConfig* config_ = nullptr;
  ProviderSource* providers_ = nullptr;
  state::StateStore* store_ = nullptr;
  state::IntentJournal* journal_ = nullptr;
  bool attached_ = false;
  std::map<std::string, RunInput> attached_inputs_;
  bool config_failed_ = false;
};

}  // namespace kiln::planner
