#include "planner/workspace.h"

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>

#include "compiler/ast/ast.h"
#include "core/address.h"
#include "core/hash.h"
#include "core/suggest.h"
#include "providers/registry.h"

namespace kiln::planner {

namespace fs = std::filesystem;
using nlohmann::json;

// ---- The state backend ----

std::string WorkspaceStatePath(const std::string& path, const std::string& workspace) {
  if (workspace == kDefaultWorkspace) return path;
  fs::path p(path);
  fs::path dir = p.parent_path().empty() ? fs::path(".") : p.parent_path();
  return (dir / "workspaces" / workspace / p.filename()).string();
}

BackendConfig ResolveBackend(const CompiledConfig& config) {
  // The backend block's values do not depend on any resource: evaluate
  // without state; its diagnostics belong to the commands that evaluate.
  Diagnostics ignored;
  return config.Evaluate([](const std::string&) { return nullptr; }, ignored).backend;
}

namespace {

int KeepHistory(const BackendConfig& backend, int fallback) {
  const auto& c = backend.config;
  if (c.is_object() && c.contains("keep_history") && c["keep_history"].is_number_integer())
    return c["keep_history"].get<int>();
  return fallback;
}

std::string Setting(const BackendConfig& backend, const std::string& name, const std::string& fallback) {
  const auto& c = backend.config;
  if (c.is_object() && c.contains(name) && c[name].is_string()) return c[name].get<std::string>();
  return fallback;
}

std::string FileHash(std::string_view text) {
  return ToHex(state::HmacSha256("kiln-file", std::string(text)));
}

std::string Shown(const json& v) { return v.is_string() ? "\"" + v.get<std::string>() + "\"" : v.dump(); }

}  // namespace

std::unique_ptr<state::StateStore> OpenStore(const BackendConfig& backend, const std::string& workspace,
                                             Diagnostics& diags) {
  if (backend.type == "postgres") {
    std::string conn = Setting(backend, "conn", "");
    auto pg = state::OpenPostgresBackend(conn, Setting(backend, "schema", "kiln"), workspace,
                                         KeepHistory(backend, 0), diags);
    if (!pg) return nullptr;
    return std::make_unique<state::StateStore>(std::move(pg));
  }
  std::string path = WorkspaceStatePath(Setting(backend, "path", state::kDefaultStatePath), workspace);
  return std::make_unique<state::StateStore>(
      std::make_unique<state::LocalBackend>(path, KeepHistory(backend, 100)));
}

bool ConfigMentionsBackend(const std::string& dir) {
  std::error_code ec;
  for (fs::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec)) {
    if (it->path().extension() != ".kiln" || !it->is_regular_file(ec)) continue;
    std::ifstream in(it->path());
    std::stringstream ss;
    ss << in.rdbuf();
    if (ss.str().find("backend") != std::string::npos) return true;
  }
  return false;
}

// ---- State edits ----

void ReportUnknownStateAddress(Diagnostics& diags, const state::State& st, const std::string& address) {
  Diagnostic& d = diags.Error("E0831", SourceRange{}, "no resource " + address + " in state");
  std::string hint = ClosestMatch(address, st.Addresses());
  d.help = !hint.empty() ? "did you mean " + hint + "?" : "`kiln state list` shows the addresses in state";
}

namespace {

bool HasDeposed(const state::State& st, const std::string& address) {
  return std::any_of(st.deposed.begin(), st.deposed.end(),
                     [&](const state::ResourceState& r) { return r.address == address; });
}

}  // namespace

bool RemoveFromState(state::State& st, const std::vector<std::string>& addresses, Diagnostics& diags) {
  bool ok = true;
  for (const std::string& address : addresses) {
    if (st.Find(address) == nullptr && !HasDeposed(st, address)) {
      ReportUnknownStateAddress(diags, st, address);
      ok = false;
    }
  }
  if (!ok) return false;  // all or nothing
  for (const std::string& address : addresses) {
    st.Remove(address);
    std::erase_if(st.deposed, [&](const state::ResourceState& r) { return r.address == address; });
  }
  return true;
}

MoveResult MoveInState(state::State& st, const std::string& from, const std::string& to, Diagnostics& diags) {
  std::optional<state::ParsedAddress> parsed = state::ParseAddress(to);
  if (!parsed) {
    diags.Error("E0832", SourceRange{}, "`" + to + "` is not a resource address").help =
        "addresses look like kind.name, kind.name[\"key\"] or module.m.kind.name[0]";
    return MoveResult::kFailed;
  }
  const state::ResourceState* source = st.Find(from);
  if (source == nullptr) {
    ReportUnknownStateAddress(diags, st, from);
    return MoveResult::kFailed;
  }
  if (from == to) return MoveResult::kAlreadyThere;
  if (st.Find(to) != nullptr || HasDeposed(st, to)) {
    diags.Error("E0833", SourceRange{}, "cannot move " + from + " to " + to + ": " + to + " is already in state")
        .help = "remove it first with `kiln state rm " + to + "` if it is stale";
    return MoveResult::kFailed;
  }
  if (parsed->kind != source->kind) {
    diags.Error("E0832", SourceRange{}, "cannot move " + from + " to " + to + ": the kind would change from " +
                                            source->kind + " to " + parsed->kind)
        .help = "a resource keeps its kind; to change it, create the new one and remove the old";
    return MoveResult::kFailed;
  }
  auto rename = [&](state::ResourceState& r) {
    r.address = to;
    r.module = parsed->module;
    r.name = parsed->name;
    r.key = parsed->key;
  };
  state::ResourceState moved = *source;
  rename(moved);
  st.Remove(from);
  st.Upsert(std::move(moved));
  // The old objects of an interrupted replacement go with it (the next
  // apply deletes them through the same provider).
  std::vector<state::ResourceState> deposed;
  for (auto it = st.deposed.begin(); it != st.deposed.end();) {
    if (it->address != from) {
      ++it;
      continue;
    }
    deposed.push_back(std::move(*it));
    it = st.deposed.erase(it);
  }
  for (state::ResourceState& r : deposed) {
    rename(r);
    st.AddDeposed(std::move(r));
  }
  // Keep the recorded ordering: dependents now depend on the new address.
  auto redirect = [&](state::ResourceState& r) {
    auto it = std::find(r.dependencies.begin(), r.dependencies.end(), from);
    if (it == r.dependencies.end()) return;
    *it = to;
    std::sort(r.dependencies.begin(), r.dependencies.end());
    r.dependencies.erase(std::unique(r.dependencies.begin(), r.dependencies.end()), r.dependencies.end());
  };
  for (state::ResourceState& r : st.resources) redirect(r);
  for (state::ResourceState& r : st.deposed) redirect(r);
  return MoveResult::kMoved;
}

bool LoadState(state::StateStore& store, bool require_existing, state::State* out, Diagnostics& diags) {
  if (require_existing && !store.Exists()) {
    diags.Error("E0830", SourceRange{}, "no state yet: the " + store.backend().Describe() + " does not exist")
        .help = "nothing has been applied here yet; run `kiln apply`, or pass --state PATH";
    return false;
  }
  return store.Load(out, diags);
}

bool MigrateState(state::StateStore& source, state::StateStore& target, bool force, state::State* copied,
                  Diagnostics& diags) {
  if (!target.backend().Lock("state migrate", std::chrono::milliseconds(0), diags) ||
      !source.backend().Lock("state migrate", std::chrono::milliseconds(0), diags))
    return false;
  state::State src, dst;
  if (!LoadState(source, true, &src, diags) || !LoadState(target, false, &dst, diags)) return false;
  int64_t expected = 0;
  if (target.Exists()) {
    if (!force || dst.lineage != src.lineage || dst.serial > src.serial) {
      diags.Error("E0837", SourceRange{}, "the " + target.backend().Describe() + " already holds a state (serial " +
                                              std::to_string(dst.serial) + ", lineage " + dst.lineage + ")")
          .help = dst.lineage == src.lineage && dst.serial <= src.serial
                      ? "pass --force to replace it with serial " + std::to_string(src.serial)
                      : "it is another state (or a newer version of this one); move it away first";
      return false;
    }
    expected = dst.serial;
  }
  // The key travels with the hashes it made.
  std::string key;
  bool has_key = false;
  if (!source.backend().ReadKey(&key, &has_key, diags) || (has_key && !target.backend().WriteKey(key, diags)))
    return false;
  target.backend().set_operation("state migrate");
  src.serial = std::max(src.serial, expected + 1);
  if (!target.backend().WriteState(state::SerializeState(src), expected, src.serial, src.lineage, diags))
    return false;
  *copied = std::move(src);
  return true;
}

// ---- Workspace ----

Workspace::Workspace() = default;

// The command exits after its workspace: the compiled configuration (the
// largest structure, millions of nodes for a large platform) is left to the
// exit instead of being freed node by node, as `kiln validate` does.
// Everything with an effect (lock, journal, plugins) is still closed.
Workspace::~Workspace() { (void)owned_config_.release(); }

void Workspace::Attach(const CompiledConfig* config, ProviderSource* providers, state::StateStore* store,
                       state::IntentJournal* journal, std::map<std::string, RunInput> inputs,
                       std::string workspace) {
  attached_ = true;
  config_ = config;
  providers_ = providers;
  store_ = store;
  journal_ = journal;
  attached_inputs_ = std::move(inputs);
  options_.workspace = std::move(workspace);
}

bool Workspace::Compile(Diagnostics& diags) {
  registry_ = std::make_unique<ProviderRegistry>();
  CompileOptions options;
  options.root_dir = options_.root_dir;
  options.inputs = options_.inputs;
  ProviderRegistry* reg = registry_.get();
  options.provider_schema = [reg](const std::string& type) -> const ProviderSchema* {
    ProviderDiagnostics ignored;  // an unknown provider is reported by the checker
    return reg->SchemaFor(type, &ignored);
  };
  owned_config_ = ::kiln::Compile(options, sm_, diags);
  config_ = owned_config_.get();
  config_failed_ = config_ == nullptr;
  return config_ != nullptr;
}

bool Workspace::Open(const WorkspaceOptions& options, Diagnostics& diags) {
  options_ = options;
  if (!Compile(diags) && (options_.need_config || diags.HasErrors())) return false;
  BackendConfig backend;
  std::vector<ProviderInstance> instances;
  if (config_) {
    Diagnostics ignored;
    ConfigGraph g = config_->Evaluate([](const std::string&) { return nullptr; }, ignored);
    backend = g.backend;
    instances = g.providers;
  }
  if (!options_.state_path.empty()) {
    backend = BackendConfig{};
    backend.config = {{"path", options_.state_path}};
  }
  owned_store_ = OpenStore(backend, options_.state_path.empty() ? options_.workspace : kDefaultWorkspace, diags);
  store_ = owned_store_.get();
  state::State loaded;
  if (!store_ || !store_->backend().Lock(options_.operation, options_.lock_timeout, diags) ||
      !store_->Load(&loaded, diags))
    return false;
  owned_journal_ = store_->backend().OpenJournal();
  journal_ = owned_journal_.get();
  owned_providers_ = std::make_unique<RegistryProviderSource>(registry_.get(), instances);
  providers_ = owned_providers_.get();
  return true;
}

bool Workspace::ReadBackend(const WorkspaceOptions& options, BackendConfig* out, Diagnostics& diags) {
  options_ = options;
  *out = BackendConfig{};
  if (!ConfigMentionsBackend(options_.root_dir)) return true;  // the local default
  if (!Compile(diags)) return false;
  *out = ResolveBackend(*config_);
  return true;
}

bool Workspace::OpenState(const WorkspaceOptions& options, Diagnostics& diags) {
  BackendConfig backend;
  std::string workspace = options.workspace;
  if (!options.state_path.empty()) {
    options_ = options;
    backend.config = {{"path", options_.state_path}};
    workspace = kDefaultWorkspace;
  } else if (!ReadBackend(options, &backend, diags)) {
    return false;
  }
  owned_store_ = OpenStore(backend, workspace, diags);
  store_ = owned_store_.get();
  return store_ != nullptr;
}

PlanContext Workspace::Context() { return PlanContext{config_, providers_, store_, journal_}; }

GpuPriceFn Workspace::Prices() const {
  if (!config_ || attached_) return nullptr;
  const CompiledConfig* c = config_;
  return [c](const std::string& model) -> std::optional<std::pair<double, double>> {
    const GpuModelInfo* m = ProgramOf(*c).catalog.Find(model);
    if (!m || m->on_demand_hourly <= 0) return std::nullopt;
    return std::make_pair(m->on_demand_hourly, m->spot_hourly);
  };
}

std::map<std::string, RunInput> Workspace::RootInputs() const {
  if (attached_) return attached_inputs_;
  std::map<std::string, RunInput> out;
  if (!config_) return out;
  std::map<std::string, bool> sensitive;
  for (const ast::Decl* d : ProgramOf(*config_).root->module.decls)
    if (const auto* in = ast::As<ast::InputDecl>(d)) sensitive.emplace(in->name, in->sensitive);
  for (const auto& [name, value] : RootInputsOf(*config_)) out[name] = RunInput{ToJson(value), sensitive[name]};
  return out;
}

std::string Workspace::Origin(const std::string& name) const {
  auto it = options_.origins.find(name);
  return it != options_.origins.end() ? it->second : "KILN_VAR_" + name;
}

std::map<std::string, std::string> Workspace::ConfigFileHashes() const {
  std::map<std::string, std::string> out;
  for (uint32_t id = 1; id <= sm_.FileCount(); ++id) out[sm_.DisplayPath(id)] = FileHash(sm_.Text(id));
  return out;
}

std::string Workspace::VariablesHash() {
  json v = json::object();
  for (const auto& [name, in] : RootInputs())
    v[name] = in.sensitive ? json(store_->hasher().Hash(in.value)) : in.value;
  return "sha256-hmac:" + ToHex(state::HmacSha256("kiln-variables", v.dump()));
}

Plan Workspace::MakePlan(PlanOptions options, Diagnostics& diags) {
  options.prices = Prices();
  options.variables_hash = VariablesHash();
  return planner::MakePlan(Context(), options, diags);
}

ApplyResult Workspace::Apply(Plan& plan, const ApplyOptions& options, Diagnostics& diags) {
  return ApplyPlan(plan, Context(), options, diags);
}

ConfigGraph Workspace::EvaluateWithState(Diagnostics& diags) {
  state::State snap = store_->Current();
  ResourceLookup lookup = [&snap](const std::string& a) -> const json* {
    const auto* r = snap.Find(a);
    return r ? &r->attributes : nullptr;
  };
  return config_->Evaluate(lookup, diags);
}

// ---- Saved plans ----

bool Workspace::SavePlan(const Plan& plan, json* out, Diagnostics& diags) {
  json inputs_j = json::object(), sensitive = json::object(), files = json::object();
  for (const auto& [name, in] : RootInputs()) {
    if (in.sensitive) {
      sensitive[name] = {{"hash", store_->hasher().Hash(in.value)}, {"origin", Origin(name)}};
      continue;
    }
    json entry = {{"value", in.value}, {"origin", Origin(name)}};
    if (auto it = options_.inputs.raw.find(name); it != options_.inputs.raw.end()) entry["raw"] = it->second;
    else if (auto jt = options_.inputs.json.find(name); jt != options_.inputs.json.end()) entry["json"] = jt->second;
    else if (const char* e = std::getenv(("KILN_VAR_" + name).c_str())) entry["raw"] = e;
    inputs_j[name] = entry;
  }
  for (const auto& [path, hash] : ConfigFileHashes()) files[path] = hash;
  if (!sensitive.empty() && !store_->EnsureKey(diags)) return false;
  *out = SavedPlanToJson(plan);
  json extras = {{"workspace", options_.workspace}, {"inputs", inputs_j}, {"sensitive_inputs", sensitive},
                 {"config_files", files}};
  for (auto& [k, v] : extras.items()) (*out)["saved_plan"][k] = v;
  return true;
}

bool Workspace::ParseSavedPlan(const std::string& text, Plan* plan, json* extras, std::string* error) {
  json j = json::parse(text, nullptr, false);
  if (j.is_discarded() || !SavedPlanFromJson(j, plan, error)) return false;
  if (extras) *extras = j["saved_plan"];
  return true;
}

bool Workspace::PresetFromSavedPlan(const json& extras, WorkspaceOptions* options, Diagnostics& diags) {
  if (extras.contains("workspace") && extras["workspace"] != options->workspace) {
    std::string planned = extras["workspace"].get<std::string>();
    diags.Error("E0907", {}, "saved plan is for workspace `" + planned + "`, but this is workspace `" +
                                 options->workspace + "`")
        .help = "select its workspace (`--workspace " + planned + "`), or plan again in this one";
    return false;
  }
  // The plan's own input values, where the command line gives none.
  InputValues& inputs = options->inputs;
  const json planned = extras.value("inputs", json::object());
  for (const auto& [name, e] : planned.items()) {
    if (inputs.raw.count(name) || inputs.json.count(name)) continue;
    if (e.contains("raw") && e["raw"].is_string()) inputs.raw[name] = e["raw"].get<std::string>();
    else if (e.contains("json")) inputs.json[name] = e["json"];
    else continue;
    options->origins[name] = "the saved plan (" + e.value("origin", "?") + " when it was made)";
  }
  return true;
}

bool Workspace::CheckSavedPlan(const Plan& plan, const json& extras, Diagnostics& diags) {
  // The inputs of this run against those the plan was made with: a value
  // given again must be the same, a sensitive one must be given again (it
  // is never stored) and match the plan's keyed hash.
  if (config_) {
    const auto now = RootInputs();
    const json planned = extras.value("inputs", json::object());
    const json sensitive = extras.value("sensitive_inputs", json::object());
    bool ok = true;
    for (const auto& [name, in] : now) {
      const json& v = in.value;
      if (planned.contains(name)) {
        const json& p = planned[name];
        if (p.value("value", json()) == v) continue;
        diags.Error("E0911", {}, "the plan was made with " + name + " = " + Shown(p["value"]) + " (from " +
                                     p.value("origin", "?") + "), but " + Origin(name) + " gives " + Shown(v))
            .help = "drop that value to apply the plan as made, or plan again with it";
        ok = false;
      } else if (sensitive.contains(name)) {
        if (store_->hasher().Same(v, sensitive[name].value("hash", ""))) continue;
        diags.Error("E0912", {}, "the plan was made with a different value of `" + name + "`").help =
            "give the value the plan was made with, or plan again";
        ok = false;
      } else if (extras.contains("inputs")) {
        diags.Error("E0911", {}, "input `" + name + "` is set (" + Origin(name) + ") but was not when the plan was made")
            .help = "drop it, or plan again with it";
        ok = false;
      }
    }
    for (const auto& [name, e] : sensitive.items()) {
      if (now.count(name)) continue;
      diags.Error("E0912", {}, "the plan was made with the sensitive input `" + name +
                                   "`; give it again (sensitive values are never stored in a plan)")
          .help = "pass it as when planning: --var, a var file, or KILN_VAR_" + name;
      ok = false;
    }
    if (!ok) return false;
  }
  // State, configuration and inputs as the plan saw them? The error says
  // what changed: the state's serial or lineage, which files.
  std::string why;
  std::vector<std::string> notes;
  state::State cur = store_->Current();
  if (plan.state_existed != store_->Exists()) {
    why = plan.state_existed ? "the state is gone" : "state was created since the plan was made";
  } else if (plan.state_existed && plan.lineage != cur.lineage) {
    why = "the state's lineage differs (" + plan.lineage + " in the plan, " + cur.lineage + " now): it is another state";
  } else if (plan.state_existed && plan.serial != cur.serial) {
    why = "state changed since the plan was made (serial " + std::to_string(plan.serial) + " -> " +
          std::to_string(cur.serial) + ")";
    notes.push_back("`kiln state history` shows who wrote serial " + std::to_string(cur.serial));
  } else if (config_ && plan.config_hash != config_->ConfigHash()) {
    why = "the configuration changed since the plan was made";
    json then = extras.value("config_files", json::object());
    std::set<std::string> seen;
    for (const auto& [path, hash] : ConfigFileHashes()) {
      seen.insert(path);
      if (!then.contains(path)) notes.push_back(path + " is new");
      else if (then[path] != hash) notes.push_back(path + " changed");
    }
    for (const auto& [path, h] : then.items())
      if (!seen.count(path)) notes.push_back(path + " is gone");
  } else if (plan.variables_hash != VariablesHash()) {
    why = "input values differ from the plan's";
  }
  if (why.empty()) return true;
  auto& e = diags.Error("E0907", {}, "saved plan is stale: " + why);
  e.notes = notes;
  e.help = "run `kiln plan --out FILE` again";
  return false;
}

bool Workspace::PrepareSavedPlan(Plan& plan, const json& extras, Diagnostics& diags) {
  if (!CheckSavedPlan(plan, extras, diags)) return false;
  if (!config_) return true;
  ConfigGraph g = EvaluateWithState(diags);
  return !diags.HasErrors() && RestorePlanValues(plan, g, diags);
}

// ---- Import ----

bool Workspace::Import(const std::string& address, const std::string& id, state::ResourceState* out,
                       Diagnostics& diags) {
  ConfigGraph g = EvaluateWithState(diags);
  if (diags.HasErrors()) return false;
  const ResourceInstance* inst = g.Find(address);
  if (!inst) {
    std::vector<std::string> candidates;
    for (const auto& r : g.resources) candidates.push_back(r.address);
    auto& e = diags.Error("E0910", {}, "no resource instance `" + address + "` in the configuration");
    std::string near = ClosestMatch(address, candidates);
    e.help = !near.empty() ? "did you mean `" + near + "`?"
                           : "declare the resource first; `kiln graph` lists the configuration's resources";
    return false;
  }
  return ImportResource(Context(), *inst, id, out, diags);
}

}  // namespace kiln::planner
