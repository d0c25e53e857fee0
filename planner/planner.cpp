#include "planner/planner.h"

#include <algorithm>
#include <map>
#include <optional>
#include <set>

#include "core/kinds.h"
#include "planner/parallel.h"

namespace kiln::planner {

using nlohmann::json;

// ---- Provider sources ----

RegistryProviderSource::RegistryProviderSource(ProviderRegistry* registry,
                                               std::vector<ProviderInstance> instances)
    : registry_(registry) {
  for (auto& i : instances) instances_[i.address] = std::move(i);
}

Provider* RegistryProviderSource::Get(const std::string& address, const std::string& type,
                                      std::string* error) {
  ProviderInstance inst;
  {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = instances_.find(address);
    if (it != instances_.end()) {
      inst = it->second;
    } else {
      inst.address = address;
      inst.type = type;
      auto dot = address.rfind('.');
      inst.name = dot == std::string::npos ? address : address.substr(dot + 1);
      inst.config = json::object();
    }
  }
  ProviderDiagnostics pd;
  Provider* p = registry_->Instance(inst, &pd);
  if (!p || HasErrors(pd)) {
    std::string msg;
    for (const auto& d : pd)
      if (d.severity == Severity::kError) msg += (msg.empty() ? "" : "; ") + d.summary;
    *error = msg.empty() ? "provider `" + address + "` is not available" : msg;
    return nullptr;
  }
  return p;
}

Provider* MapProviderSource::Get(const std::string& address, const std::string& type,
                                 std::string* error) {
  auto it = providers_.find(address);
  if (it == providers_.end()) {
    *error = "no provider `" + address + "` (type " + type + ")";
    return nullptr;
  }
  return it->second;
}

// ---- Helpers ----

bool AddressMatches(const std::string& target, const std::string& address) {
  return address == target || AddressContains(target, address);
}

namespace {

// Sensitive paths of an instance: what the compiler marked plus the
// schema's sensitive fields.
std::vector<Path> SensitivePaths(const Provider* provider, const std::string& kind,
                                 std::vector<Path> paths) {
  if (provider) {
    const auto& kinds = provider->Schema().kinds;
    auto it = kinds.find(BareKind(kind));
    if (it != kinds.end())
      for (const auto& [name, f] : it->second.fields)
        if (f.sensitive) paths.push_back({name});
  }
  std::sort(paths.begin(), paths.end());
  paths.erase(std::unique(paths.begin(), paths.end()), paths.end());
  return paths;
}

// Sorted union of two path lists.
std::vector<Path> MergePaths(std::vector<Path> a, const std::vector<Path>& b) {
  a.insert(a.end(), b.begin(), b.end());
  std::sort(a.begin(), a.end());
  a.erase(std::unique(a.begin(), a.end()), a.end());
  return a;
}

std::vector<Path> HashPaths(const state::ResourceState& r) {
  std::vector<Path> out;
  for (const auto& [ptr, h] : r.sensitive_hashes) out.push_back(state::PointerToPath(ptr));
  return out;
}

// A change about a recorded object (drift, a delete): its identity, its
// recorded attributes as `before` and their quantity paths.
ResourceChange ChangeOfRecorded(const state::ResourceState& r) {
  ResourceChange c;
  c.address = r.address;
  c.module = r.module;
  c.kind = r.kind;
  c.name = r.name;
  c.key = r.key;
  c.provider = r.provider;
  c.provider_type = r.provider_type;
  c.before = r.attributes;
  c.duration_paths = r.duration_paths;
  c.bytes_paths = r.bytes_paths;
  return c;
}

void AddError(Diagnostics& diags, const std::string& code, SourceRange range,
              const std::string& message, const std::string& help = "") {
  auto& d = diags.Error(code, range, message);
  if (!help.empty()) d.help = help;
}

}  // namespace

// ---- The plan steps ----

namespace {

struct PlanRun {
  const PlanContext& ctx;
  const PlanOptions& options;
  Diagnostics& diags;
  Plan plan;
  state::State refreshed;  // the recorded state after reconcile + refresh
  ConfigGraph graph;
  bool have_graph = false;
  std::mutex mu;  // guards diags and reported from worker threads
  std::set<std::string> reported;  // provider diagnostics said, as code + message
  // Live GPU inventories by provider address, asked once per plan (none when
  // the provider has no "inventory" capability).
  std::map<std::string, std::optional<InventoryResponse>> inventories;

  Provider* GetProvider(const std::string& address, const std::string& type, SourceRange range,
                        const std::string& resource) {
    std::string error;
    Provider* p = ctx.providers ? ctx.providers->Get(address, type, &error) : nullptr;
    if (!p) {
      std::lock_guard<std::mutex> lock(mu);
      // A provider that cannot be configured (its service down, a wrong
      // token) is said once, not once per object.
      if (!reported.insert("E0901 " + address + " " + error).second) return p;
      AddError(diags, "E0901", range, resource + ": " + (error.empty() ? "no provider" : error),
               "check the provider block and `kiln providers`");
    }
    return p;
  }
};

// Step: creates that were begun but never recorded (a crash) are read back
// by address; what exists is adopted into state, then the intent is closed.
void ReconcileJournal(PlanRun& run) {
  if (!run.ctx.journal) return;
  auto pending = run.ctx.journal->Pending(run.diags);
  for (const auto& e : pending) {
    Provider* p = run.GetProvider(e.provider, e.provider_type, {}, e.address);
    if (!p) continue;
    ReadResponse r = p->Read({BareKind(e.kind), e.address, nullptr});
    if (HasErrors(r.diagnostics)) {
      AddError(run.diags, "E0902", {}, e.address + ": cannot recover an interrupted create: " +
                                           ErrorText(r.diagnostics));
      continue;
    }
    // What was found is the old object of a create_before_destroy
    // replacement whose create never happened: it is current again.
    const json* found_id = r.state.is_object() && r.state.contains("id") ? &r.state["id"] : nullptr;
    bool undeposed = false;
    if (found_id) {
      run.ctx.store->Update(
          [&](state::State& s) {
            if (s.Find(e.address)) return;
            for (const auto& d : s.deposed) {
              if (d.address != e.address || d.attributes.value("id", json()) != *found_id) continue;
              state::ResourceState back = d;
              back.deposed_key.clear();
              s.RemoveDeposed(d.address, d.deposed_key);
              s.Upsert(std::move(back));
              undeposed = true;
              return;
            }
          },
          run.diags);
    }
    if (!undeposed && !r.state.is_null()) {
      state::ResourceState rs;
      rs.address = e.address;
      rs.kind = e.kind;
      rs.provider = e.provider;
      rs.provider_type = e.provider_type;
      auto paths = SensitivePaths(p, e.kind, {});
      auto red = state::RedactForState(r.state, paths, run.ctx.store->hasher());
      rs.attributes = red.attributes;
      rs.sensitive_hashes = red.hashes;
      if (auto parsed = Address::Parse(e.address)) rs.name = parsed->name;
      bool ok = run.ctx.store->Update(
          [&](state::State& s) {
            // Keep what state already knows about it (dependencies, key, module).
            if (const auto* old = s.Find(e.address)) {
              rs.module = old->module;
              rs.key = old->key;
              rs.dependencies = old->dependencies;
              rs.create_before_destroy = old->create_before_destroy;
            }
            s.Upsert(rs);
          },
          run.diags);
      if (!ok) continue;
      run.diags.Warning("W0901", {}, e.address + ": adopted an object whose create was interrupted")
          .notes.push_back("the previous apply stopped before recording it; it was found through the provider");
    }
    run.ctx.journal->Complete(e.address, run.diags);
  }
  if (!pending.empty()) run.ctx.journal->Compact(run.diags);
}

// Answers of one batch call into `out` (by the indices the batch was made
// of): a failure of the whole batch is every object's failure, and too few
// results an error (`too_few`) of each object without one.
template <class Response, class Out>
void SpreadBatch(std::vector<Response>& results, const ProviderDiagnostics& batch_diags,
                 const std::vector<size_t>& indices, const char* too_few, Out& out) {
  for (size_t k = 0; k < indices.size(); ++k) {
    Response one = k < results.size() ? std::move(results[k]) : Response{};
    if (HasErrors(batch_diags) || k >= results.size())
      one.diagnostics.insert(one.diagnostics.end(), batch_diags.begin(), batch_diags.end());
    if (k >= results.size() && !HasErrors(one.diagnostics))
      one.diagnostics.push_back({Severity::kError, too_few, "", {}});
    out[indices[k]] = std::move(one);
  }
}

// Step: read every recorded resource through its provider, in parallel.
void Refresh(PlanRun& run) {
  run.refreshed = run.ctx.store->Current();
  if (!run.options.refresh) return;
  auto& resources = run.refreshed.resources;
  std::vector<std::optional<ResourceChange>> drift(resources.size());
  std::vector<bool> gone(resources.size(), false), progressed(resources.size(), false);
  const auto& hasher = run.ctx.store->hasher();
  // Providers that read in batches get one ReadBatch call for all of their
  // objects (one `GET /jobs` for every Slurm job); the rest one Read each.
  std::vector<Provider*> providers(resources.size(), nullptr);
  std::vector<std::optional<ReadResponse>> batched(resources.size());
  std::vector<char> batch_failed(resources.size(), 0);  // reported once for its batch
  std::map<Provider*, std::vector<size_t>> batches;
  for (size_t i = 0; i < resources.size(); ++i) {
    const state::ResourceState& r = resources[i];
    providers[i] = run.GetProvider(r.provider, r.provider_type, {}, r.address);
    if (providers[i] && providers[i]->SupportsReadBatch()) batches[providers[i]].push_back(i);
  }
  std::vector<std::pair<Provider*, std::vector<size_t>>> batch_list(batches.begin(), batches.end());
  ParallelFor(batch_list.size(), run.options.parallelism, [&](size_t b) {
    auto& [p, indices] = batch_list[b];
    ReadBatchRequest req;
    for (size_t i : indices)
      req.reads.push_back({BareKind(resources[i].kind), resources[i].address, resources[i].attributes});
    ReadBatchResponse resp = p->ReadBatch(req);
    if (HasErrors(resp.diagnostics)) {
      // A failure of the whole batch (the provider's service down, a
      // malformed answer) is every object's failure, said once.
      std::string names;
      for (size_t k = 0; k < indices.size() && k < 3; ++k)
        names += (k ? ", " : "") + resources[indices[k]].address;
      if (indices.size() > 3) names += " and " + std::to_string(indices.size() - 3) + " more";
      std::lock_guard<std::mutex> lock(run.mu);
      AddError(run.diags, "E0902", {}, "refresh of " + std::to_string(indices.size()) + " object(s) of " +
                                           resources[indices[0]].provider + " failed (" + names + "): " +
                                           ErrorText(resp.diagnostics));
      for (size_t i : indices) batch_failed[i] = true;
      return;
    }
    SpreadBatch(resp.results, resp.diagnostics, indices, "the provider's batch read returned too few results",
                batched);
  });
  ParallelFor(resources.size(), run.options.parallelism, [&](size_t i) {
    state::ResourceState& r = resources[i];
    Provider* p = providers[i];
    if (!p || batch_failed[i]) return;
    ReadResponse resp = batched[i] ? std::move(*batched[i]) : p->Read({BareKind(r.kind), r.address, r.attributes});
    if (HasErrors(resp.diagnostics)) {
      std::lock_guard<std::mutex> lock(run.mu);
      AddError(run.diags, "E0902", {}, r.address + ": refresh failed: " +
                                           ErrorText(resp.diagnostics));
      return;
    }
    std::vector<Path> sensitive = SensitivePaths(p, r.kind, HashPaths(r));
    // The drift, as a change of the recorded object: made only when there
    // is drift (most objects have none, and it copies the attributes).
    auto drift_of = [&](Action action, const char* reason) {
      ResourceChange d = ChangeOfRecorded(r);
      d.sensitive_paths = sensitive;
      d.action = action;
      d.action_reason = reason;
      return d;
    };
    if (resp.state.is_null()) {
      drift[i] = drift_of(Action::kDelete, kReasonDriftDeleted);
      gone[i] = true;
      return;
    }
    auto red = state::RedactForState(resp.state, sensitive, hasher);
    // A provider that cannot read a sensitive value back (the local provider
    // never stores secrets) echoes the placeholder it was given: the
    // recorded hash still holds.
    for (const auto& [ptr, h] : r.sensitive_hashes) {
      const json* v = AtPath(resp.state, state::PointerToPath(ptr));
      if (v && *v == state::kSensitivePlaceholder) red.hashes[ptr] = h;
    }
    if (red.attributes == r.attributes && red.hashes == r.sensitive_hashes) return;
    if (resp.progress) {
      // The object's own progress: recorded at the next apply, not drift.
      progressed[i] = true;
      r.attributes = std::move(red.attributes);
      r.sensitive_hashes = std::move(red.hashes);
      return;
    }
    ResourceChange d = drift_of(Action::kUpdate, kReasonDriftChanged);
    d.after = red.attributes;
    drift[i] = std::move(d);
    r.attributes = std::move(red.attributes);
    r.sensitive_hashes = std::move(red.hashes);
  });
  std::vector<state::ResourceState> kept;
  for (size_t i = 0; i < resources.size(); ++i) {
    if (drift[i]) {
      run.plan.drift.push_back(*drift[i]);
      if (!gone[i]) run.plan.refreshed.push_back(resources[i]);
    }
    if (progressed[i]) run.plan.refreshed.push_back(resources[i]);
    if (gone[i]) {
      run.plan.refreshed_gone.push_back(resources[i].address);
      continue;
    }
    kept.push_back(std::move(resources[i]));
  }
  resources = std::move(kept);
}

// Step: evaluate the configuration with the refreshed state's values.
void Evaluate(PlanRun& run) {
  if (!run.ctx.config) return;
  const state::State& st = run.refreshed;
  ResourceLookup lookup = [&st](const std::string& address) -> const json* {
    const auto* r = st.Find(address);
    return r ? &r->attributes : nullptr;
  };
  run.graph = run.ctx.config->Evaluate(lookup, run.diags);
  run.have_graph = true;
}

// Step: GPU alternatives and ranges against the providers' live inventory.
// The evaluator chose against the catalog and the cluster and listed every
// fitting candidate in order of preference (gpu_choice.candidates); for a
// resource placed on a provider directly (no `cluster`) whose provider has
// the "inventory" capability (the local provider: simulate_gpus or
// nvidia-smi, less the GPUs clusters reserved or jobs hold), the first
// candidate that some node has free wins, after what the resources before it
// (in address order) took. When none is free the catalog's choice stays
// (the provider's own plan checks report the shortage).
void PickFromInventory(PlanRun& run, ConfigGraph& graph) {
  if (!run.ctx.providers) return;
  // GPUs taken by this plan's picks so far: provider -> model -> count.
  std::map<std::string, std::map<std::string, int64_t>> taken;
  for (ResourceInstance& inst : graph.resources) {
    json& c = inst.config;
    if (!c.is_object() || !c.contains("gpu_choice") || !c["gpu_choice"].is_object()) continue;
    if (c.contains("cluster") && !c["cluster"].is_null()) continue;
    json& choice = c["gpu_choice"];
    if (!choice.contains("candidates") || !choice["candidates"].is_array() || choice["candidates"].empty()) continue;
    const json& cands = choice["candidates"];
    auto [it, fresh] = run.inventories.try_emplace(inst.provider);
    if (fresh) {
      std::string error;
      Provider* p = run.ctx.providers->Get(inst.provider, inst.provider_type, &error);
      if (p) {
        const auto& caps = p->Schema().capabilities;
        if (std::find(caps.begin(), caps.end(), "inventory") != caps.end()) {
          InventoryResponse inv = p->Inventory();
          if (!HasErrors(inv.diagnostics)) it->second = std::move(inv);
        }
      }
    }
    if (!it->second) continue;
    const InventoryResponse& inv = *it->second;
    auto& used = taken[inst.provider];
    auto free_of = [&](const std::string& model) {
      int64_t best = 0;
      for (const auto& node : inv.nodes)
        for (const auto& g : node.gpus)
          if (g.model == model) best = std::max<int64_t>(best, g.free);
      return best - used[model];
    };
    // GPUs per node or replica, times the nodes (jobs, the cluster's
    // minimum) or replicas (an endpoint's minimum) that start at once.
    int64_t copies = 1;
    if (c.contains("nodes") && c["nodes"].is_number_integer()) copies = c["nodes"].get<int64_t>();
    if (c.contains("nodes") && c["nodes"].is_object()) copies = c["nodes"].value("min", int64_t{1});
    if (c.contains("replicas") && c["replicas"].is_object()) copies = c["replicas"].value("min", int64_t{1});
    copies = std::max<int64_t>(copies, 1);
    auto text = [](const json& cand) {
      return cand.value("model", std::string()) + ":" + std::to_string(cand.value("count", int64_t{1}));
    };
    bool earlier = false;
    for (const auto& [model, n] : used) earlier = earlier || n > 0;
    std::string have;
    for (const auto& node : inv.nodes)
      for (const auto& g : node.gpus)
        have += (have.empty() ? "" : ", ") + g.model + " " + std::to_string(std::max<int64_t>(free_of(g.model), 0)) +
                " of " + std::to_string(g.count);
    std::string where = inst.provider + " has " + (have.empty() ? "no GPUs" : have) + " free" +
                        (earlier ? " after the resources before it" : "");
    std::string reason = choice.value("reason", std::string());
    std::string was = choice.value("chosen", std::string());
    // A resource that exists keeps its recorded choice while its
    // alternatives are the same and its GPU is still a candidate: its own
    // running job holds those GPUs (so they are not free now), and the
    // recorded words keep the plan free of changes.
    if (const auto* prior = run.refreshed.Find(inst.address);
        prior && prior->attributes.is_object() && prior->attributes.contains("gpu_choice") &&
        prior->attributes["gpu_choice"].is_object() && prior->attributes.contains("gpu")) {
      const json& pc = prior->attributes["gpu_choice"];
      const json& pg = prior->attributes["gpu"];
      bool same = pc.value("alternatives", json()) == choice.value("alternatives", json()) &&
                  pc.value("policy", json()) == choice.value("policy", json());
      bool candidate = false;
      for (const json& cand : cands) candidate = candidate || (cand.is_object() && pg.is_object() && text(cand) == text(pg));
      if (same && candidate) {
        choice = pc;
        c["gpu"] = pg;
        continue;
      }
    }
    const json* pick = nullptr;
    std::string why;
    for (size_t i = 0; !pick && i < cands.size(); ++i) {
      const json& cand = cands[i];
      if (!cand.is_object() || !cand.contains("model") || !cand["model"].is_string()) continue;
      if (free_of(cand["model"].get<std::string>()) >= cand.value("count", int64_t{1}) * copies) {
        pick = &cand;
        why = text(cand) == was ? "; free at plan (" + where + ")"
                                : "; at plan " + was + " is not free, " + text(cand) +
                                      " is the first candidate that is (" + where + ")";
      }
    }
    if (!pick) {
      choice["reason"] = reason + "; at plan none is free (" + where + ")";
      continue;
    }
    choice["reason"] = reason + why;
    used[(*pick)["model"].get<std::string>()] += pick->value("count", int64_t{1}) * copies;
    if (text(*pick) == was) continue;
    choice["chosen"] = text(*pick);
    choice["hourly"] = pick->value("hourly", 0.0);
    c["gpu"] = json{{"model", (*pick)["model"]}, {"count", pick->value("count", int64_t{1})}};
  }
}

void GpuInventory(PlanRun& run) {
  if (run.have_graph) PickFromInventory(run, run.graph);
}

bool PlannedEqualsPrior(const json& planned, const state::ResourceState& prior,
                        const std::vector<Path>& sensitive, const state::SensitiveHasher& hasher) {
  if (ContainsUnknown(planned)) return false;
  auto red = state::RedactForState(planned, sensitive, hasher);
  return red.attributes == prior.attributes && red.hashes == prior.sensitive_hashes;
}

// The fields of a change that come from the configured instance alone.
void FillIdentity(const ResourceInstance& inst, ResourceChange& c) {
  c.address = inst.address;
  c.module = inst.module;
  c.kind = inst.kind;
  c.name = inst.name;
  c.key = inst.key;
  c.provider = inst.provider;
  c.provider_type = inst.provider_type;
  c.dependencies = inst.depends_on;
  c.duration_paths = inst.duration_paths;
  c.bytes_paths = inst.bytes_paths;
  c.range = inst.range;
  // Endpoints default to create-before-destroy so that serving never stops.
  c.create_before_destroy = inst.lifecycle.create_before_destroy.value_or(inst.kind == kKindEndpoint);
}

// A provider's diagnostics for one instance: errors as E0903, warnings as
// W0904, each naming the instance and the attribute it is about. False when
// there were errors.
// The same instance is asked again (a replacement's fresh plan, a re-diff
// after propagation): what it already said is not repeated.
bool ReportProviderDiagnostics(PlanRun& run, const ResourceInstance& inst, const ProviderDiagnostics& pd) {
  if (pd.empty()) return true;
  std::lock_guard<std::mutex> lock(run.mu);
  for (const auto& d : pd) {
    std::string msg = inst.address + ": " + d.summary;
    if (!d.detail.empty()) msg += ": " + d.detail;
    if (!d.attribute.empty()) {
      std::string attr;
      for (const auto& k : d.attribute) attr += (attr.empty() ? "" : ".") + k;
      msg += " (attribute `" + attr + "`)";
    }
    // Point at the attribute's line when it is written in the resource.
    SourceRange at = inst.range;
    if (!d.attribute.empty() && run.ctx.config) {
      SourceRange attr_range = run.ctx.config->AttributeRange(inst.address, d.attribute);
      if (attr_range.valid()) at = attr_range;
    }
    const char* code = d.severity == Severity::kError ? "E0903" : d.severity == Severity::kNote ? "N0904" : "W0904";
    if (!run.reported.insert(code + msg).second) continue;
    if (d.severity == Severity::kError) {
      AddError(run.diags, code, at, msg);
    } else if (d.severity == Severity::kNote) {
      // Information about the resource (the local provider: an endpoint's
      // traffic figures), neither a problem nor a change.
      Diagnostic note;
      note.severity = Severity::kNote;
      note.code = code;
      note.range = at;
      note.message = msg;
      run.diags.Add(note);
    } else {
      run.diags.Warning(code, at, msg);
    }
  }
  return !HasErrors(pd);
}

// A loop bounded against runaway configurations stopped before it
// converged: W0921 names the step and what was still changing.
void ReportNotConverged(PlanRun& run, const std::string& step, int rounds,
                        const std::vector<std::string>& addresses) {
  std::string list;
  for (size_t i = 0; i < addresses.size() && i < 10; ++i)
    list += (list.empty() ? "" : ", ") + addresses[i];
  if (addresses.size() > 10) list += " and " + std::to_string(addresses.size() - 10) + " more";
  auto& d = run.diags.Warning("W0921", {}, step + " did not converge after " +
                                               std::to_string(rounds) + " rounds; still changing: " +
                                               list);
  d.notes.push_back("the plan shows the changes of the last round; it may not be final");
  d.help = "look for a chain of references or replace_triggered_by entries that feeds itself";
}

// What the diff of one instance asks its provider: the configuration
// (ignore_changes applied) and the prior with its sensitive values restored.
struct DiffInput {
  Provider* provider = nullptr;
  const state::ResourceState* prior = nullptr;
  std::string bare;  // the bare kind
  json prior_plain;
  json cfg;
};

// One instance, before its provider is asked: the change's identity, prior
// and configuration. False when there is no provider (reported).
bool PrepareDiff(PlanRun& run, const ResourceInstance& inst, ResourceChange& c, DiffInput& in) {
  const auto& hasher = run.ctx.store->hasher();
  FillIdentity(inst, c);
  c.config = inst.config;
  Provider* p = run.GetProvider(inst.provider, inst.provider_type, inst.range, inst.address);
  c.sensitive_paths = SensitivePaths(p, inst.kind, inst.sensitive_paths);
  const state::ResourceState* prior = run.refreshed.Find(inst.address);
  if (prior) {
    c.prior = *prior;
    c.prior_dependencies = prior->dependencies;
    c.before = prior->attributes;
    // `before` may hold quantities the configuration no longer has.
    c.duration_paths = MergePaths(c.duration_paths, prior->duration_paths);
    c.bytes_paths = MergePaths(c.bytes_paths, prior->bytes_paths);
  }
  if (!p) return false;
  in.provider = p;
  in.prior = prior;
  in.prior_plain = prior ? state::RestoreSensitive(prior->attributes, prior->sensitive_hashes, inst.config, hasher)
                         : json();
  in.cfg = inst.config;
  if (prior) {
    for (const auto& path : inst.lifecycle.ignore_changes) {
      const json* old = AtPath(in.prior_plain, path);
      if (old) SetAtPath(in.cfg, path, *old);
      else EraseAtPath(in.cfg, path);
    }
  }
  c.config = in.cfg;
  in.bare = BareKind(inst.kind);
  return true;
}

// One instance, after its provider's validate and plan passed: the action.
void FinishDiff(PlanRun& run, const ResourceInstance& inst, ResourceChange& c, const DiffInput& in,
                PlanResponse resp) {
  const auto& hasher = run.ctx.store->hasher();
  const state::ResourceState* prior = in.prior;
  bool replace = false;
  if (!prior) {
    c.action = Action::kCreate;
    c.action_reason = kReasonNew;
  } else if (prior->status == state::kStatusTainted) {
    replace = true;
    c.action_reason = kReasonTainted;
  } else if (std::find(run.options.replace.begin(), run.options.replace.end(), inst.address) !=
             run.options.replace.end()) {
    replace = true;
    c.action_reason = kReasonReplaceRequested;
  } else if (!resp.replace_reason.empty()) {
    replace = true;
    c.action_reason = resp.replace_reason;
  } else if (PlannedEqualsPrior(resp.planned, *prior, c.sensitive_paths, hasher)) {
    c.action = Action::kNoop;
  } else if (!resp.requires_replace.empty()) {
    replace = true;
    c.action_reason = kReasonCannotUpdate;
    c.replace_paths = resp.requires_replace;
  } else {
    c.action = Action::kUpdate;
    c.action_reason = kReasonConfigChanged;
  }
  if (replace) {
    c.action = Action::kReplace;
    // The new object's plan, as if nothing existed.
    PlanResponse fresh = in.provider->Plan({in.bare, inst.address, nullptr, in.cfg});
    if (!ReportProviderDiagnostics(run, inst, fresh.diagnostics)) return;
    resp.planned = fresh.planned;
  }
  c.after = RedactPaths(resp.planned, c.sensitive_paths);
  c.planned = std::move(resp.planned);
  if (prior && c.action != Action::kNoop) {
    for (const auto& path : c.sensitive_paths) {
      const json* v = AtPath(c.planned, path);
      auto h = prior->sensitive_hashes.find(state::PathToPointer(path));
      bool had = h != prior->sensitive_hashes.end();
      if (!v || v->is_null()) {
        if (had) c.sensitive_changed.push_back(path);
        continue;
      }
      if (!had || !hasher.Same(*v, h->second)) c.sensitive_changed.push_back(path);
    }
  }
}

// One instance: refreshed prior + configuration -> change, with one
// validate and one plan call.
void DiffInstance(PlanRun& run, const ResourceInstance& inst, ResourceChange& c) {
  DiffInput in;
  if (!PrepareDiff(run, inst, c, in)) return;
  // The provider's own checks of the configuration come first, as the
  // protocol's `validate`; then its plan.
  ValidateResponse valid = in.provider->Validate({in.bare, inst.address, in.cfg});
  if (!ReportProviderDiagnostics(run, inst, valid.diagnostics)) return;
  PlanResponse resp = in.provider->Plan({in.bare, inst.address, std::move(in.prior_plain), in.cfg});
  if (!ReportProviderDiagnostics(run, inst, resp.diagnostics)) return;
  FinishDiff(run, inst, c, in, std::move(resp));
}

// How many validates or plans go into one batch call: large enough that the
// round trip does not count, small enough that no message grows large.
constexpr size_t kDiffBatch = 1000;

// Cuts `indices` (positions into `in`) into chunks of at most kDiffBatch of
// one provider each.
std::vector<std::vector<size_t>> Chunks(const std::vector<size_t>& indices, const std::vector<DiffInput>& in) {
  std::map<Provider*, std::vector<size_t>> by_provider;
  for (size_t i : indices) by_provider[in[i].provider].push_back(i);
  std::vector<std::vector<size_t>> chunks;
  for (auto& [p, list] : by_provider)
    for (size_t at = 0; at < list.size(); at += kDiffBatch)
      chunks.emplace_back(list.begin() + at, list.begin() + std::min(list.size(), at + kDiffBatch));
  return chunks;
}

// The instances of providers that validate and plan in batches (both or
// either): each step (validate, then plan) asks a provider once per chunk
// of kDiffBatch instances, or once per instance for the step it has no
// batch for. The result is what DiffInstance gives each of them.
void DiffBatched(PlanRun& run, const std::vector<const ResourceInstance*>& insts,
                 const std::vector<ResourceChange*>& changes) {
  const size_t n = insts.size();
  std::vector<DiffInput> in(n);
  std::vector<char> ok(n, 0);
  ParallelFor(n, run.options.parallelism, [&](size_t i) { ok[i] = PrepareDiff(run, *insts[i], *changes[i], in[i]); });
  // One step over the instances still ok: `batch` for a chunk of a provider
  // that has the batch call, `one` for each instance of the others.
  auto step = [&](bool (Provider::*supports)() const, const std::function<void(const std::vector<size_t>&)>& batch,
                  const std::function<void(size_t)>& one) {
    std::vector<size_t> batched, single;
    for (size_t i = 0; i < n; ++i)
      if (ok[i]) ((in[i].provider->*supports)() ? batched : single).push_back(i);
    auto chunks = Chunks(batched, in);
    ParallelFor(chunks.size() + single.size(), run.options.parallelism, [&](size_t k) {
      if (k < chunks.size()) batch(chunks[k]);
      else one(single[k - chunks.size()]);
    });
  };
  std::vector<ValidateResponse> valid(n);
  step(
      &Provider::SupportsValidateBatch,
      [&](const std::vector<size_t>& chunk) {
        ValidateBatchRequest req;
        req.validates.reserve(chunk.size());
        for (size_t i : chunk) req.validates.push_back({in[i].bare, insts[i]->address, in[i].cfg});
        ValidateBatchResponse resp = in[chunk[0]].provider->ValidateBatch(req);
        SpreadBatch(resp.results, resp.diagnostics, chunk, "the provider's batch validate returned too few results",
                    valid);
      },
      [&](size_t i) { valid[i] = in[i].provider->Validate({in[i].bare, insts[i]->address, in[i].cfg}); });
  for (size_t i = 0; i < n; ++i)
    if (ok[i]) ok[i] = ReportProviderDiagnostics(run, *insts[i], valid[i].diagnostics);
  valid.clear();
  std::vector<PlanResponse> planned(n);
  step(
      &Provider::SupportsPlanBatch,
      [&](const std::vector<size_t>& chunk) {
        PlanBatchRequest req;
        req.plans.reserve(chunk.size());
        for (size_t i : chunk)
          req.plans.push_back({in[i].bare, insts[i]->address, std::move(in[i].prior_plain), in[i].cfg});
        PlanBatchResponse resp = in[chunk[0]].provider->PlanBatch(req);
        SpreadBatch(resp.results, resp.diagnostics, chunk, "the provider's batch plan returned too few results",
                    planned);
      },
      [&](size_t i) { planned[i] = in[i].provider->Plan({in[i].bare, insts[i]->address, in[i].prior_plain, in[i].cfg}); });
  for (size_t i = 0; i < n; ++i)
    if (ok[i]) ok[i] = ReportProviderDiagnostics(run, *insts[i], planned[i].diagnostics);
  ParallelFor(n, run.options.parallelism, [&](size_t i) {
    if (ok[i]) FinishDiff(run, *insts[i], *changes[i], in[i], std::move(planned[i]));
  });
}

// Diffs insts[i] into changes[i]. Instances of providers with batch calls
// go through DiffBatched; the others DiffInstance each, in parallel.
void DiffAll(PlanRun& run, const std::vector<const ResourceInstance*>& insts,
             const std::vector<ResourceChange*>& changes) {
  std::vector<const ResourceInstance*> batch_insts, single_insts;
  std::vector<ResourceChange*> batch_changes, single_changes;
  // Instances of one provider come together: ask the source once per run of them.
  const ResourceInstance* last = nullptr;
  bool last_batches = false;
  for (size_t i = 0; i < insts.size(); ++i) {
    const ResourceInstance& inst = *insts[i];
    if (!last || last->provider != inst.provider || last->provider_type != inst.provider_type) {
      std::string error;
      Provider* p = run.ctx.providers ? run.ctx.providers->Get(inst.provider, inst.provider_type, &error) : nullptr;
      last_batches = p && (p->SupportsValidateBatch() || p->SupportsPlanBatch());
      last = &inst;
    }
    (last_batches ? batch_insts : single_insts).push_back(&inst);
    (last_batches ? batch_changes : single_changes).push_back(changes[i]);
  }
  ParallelFor(single_insts.size(), run.options.parallelism, [&](size_t i) {
    DiffInstance(run, *single_insts[i], *single_changes[i]);
  });
  // In waves, so that the requests of only so many instances are held at
  // once (a plugin answers one call at a time anyway).
  const size_t wave = 4 * kDiffBatch;
  for (size_t at = 0; at < batch_insts.size(); at += wave) {
    size_t end = std::min(batch_insts.size(), at + wave);
    DiffBatched(run, {batch_insts.begin() + at, batch_insts.begin() + end},
                {batch_changes.begin() + at, batch_changes.begin() + end});
  }
}

// Step: one change per configured instance.
void Diff(PlanRun& run) {
  if (!run.have_graph || run.options.mode != PlanMode::kNormal) return;
  const auto& resources = run.graph.resources;
  std::vector<ResourceChange> changes(resources.size());
  std::vector<const ResourceInstance*> insts;
  std::vector<ResourceChange*> outs;
  for (size_t i = 0; i < resources.size(); ++i) {
    insts.push_back(&resources[i]);
    outs.push_back(&changes[i]);
  }
  DiffAll(run, insts, outs);
  run.plan.changes = std::move(changes);
}

// Propagation stops and keeps the first pass's changes of the instances it
// could not re-diff: W0920 says so and why.
void GiveUpPropagating(PlanRun& run, const std::string& why) {
  auto& d = run.diags.Warning("W0920", {}, "cannot propagate planned values to dependent resources: " + why);
  d.notes.push_back("resources reading values that change are planned against their current values");
}

// Step: values that change make what reads them change: evaluate again with
// the planned values (unknown where the provider computes them) of changing
// resources, and diff again every instance whose configuration moved.
void PropagateChanges(PlanRun& run) {
  if (!run.have_graph || run.options.mode != PlanMode::kNormal) return;
  constexpr int kMaxRounds = 64;
  std::vector<std::string> moving;
  for (int round = 0; round < kMaxRounds; ++round) {
    std::map<std::string, json> overlay;
    for (const auto& c : run.plan.changes)
      if (c.action == Action::kCreate || c.action == Action::kUpdate || c.action == Action::kReplace)
        overlay[c.address] = c.planned;
    if (overlay.empty()) return;
    const state::State& st = run.refreshed;
    ResourceLookup lookup = [&](const std::string& address) -> const json* {
      auto it = overlay.find(address);
      if (it != overlay.end()) return &it->second;
      const auto* r = st.Find(address);
      return r ? &r->attributes : nullptr;
    };
    Diagnostics d;
    ConfigGraph g = run.ctx.config->Evaluate(lookup, d);
    if (d.HasErrors()) {
      GiveUpPropagating(run, "evaluating with the planned values failed: " + d.items()[0].message);
      return;
    }
    PickFromInventory(run, g);  // as the first evaluation was (same inventories)
    // Outputs read the planned values too (unknown ids of replacements).
    run.graph.outputs = std::move(g.outputs);
    std::vector<size_t> redo;
    for (size_t i = 0; i < run.plan.changes.size() && i < g.resources.size(); ++i) {
      const auto& inst = g.resources[i];
      if (inst.address != run.plan.changes[i].address) {
        GiveUpPropagating(run, "with the planned values the configuration has `" + inst.address +
                                   "` where it had `" + run.plan.changes[i].address + "`");
        return;
      }
      const ResourceInstance* old = run.graph.Find(inst.address);
      if (old && old->config != inst.config) redo.push_back(i);
    }
    if (redo.empty()) return;
    moving.clear();
    for (size_t i : redo) {
      run.graph.resources[i].config = g.resources[i].config;
      moving.push_back(g.resources[i].address);
    }
    std::vector<const ResourceInstance*> insts;
    std::vector<ResourceChange*> outs;
    for (size_t i : redo) {
      run.plan.changes[i] = ResourceChange{};
      insts.push_back(&run.graph.resources[i]);
      outs.push_back(&run.plan.changes[i]);
    }
    DiffAll(run, insts, outs);
  }
  ReportNotConverged(run, "propagating planned values", kMaxRounds, moving);
}

// The delete of a recorded object, with the declaration's range while it is
// still configured.
ResourceChange DeleteOf(const PlanRun& run, const state::ResourceState& r, const char* reason) {
  ResourceChange c = ChangeOfRecorded(r);
  c.action = Action::kDelete;
  c.action_reason = reason;
  c.prior = r;
  c.sensitive_paths = HashPaths(r);
  if (run.have_graph)
    if (const auto* inst = run.graph.Find(r.address)) c.range = inst->range;
  return c;
}

// Step: recorded resources the configuration no longer has are deleted
// (everything, in destroy mode).
void Orphans(PlanRun& run) {
  if (run.options.mode == PlanMode::kRefreshOnly) return;
  std::set<std::string> configured;
  for (const auto& c : run.plan.changes) configured.insert(c.address);
  for (const auto& r : run.refreshed.resources) {
    if (configured.count(r.address)) continue;
    ResourceChange c = DeleteOf(run, r,
                                run.options.mode == PlanMode::kDestroy ? kReasonDestroy : kReasonNotInConfig);
    c.prior_dependencies = r.dependencies;
    c.create_before_destroy = r.create_before_destroy;
    run.plan.changes.push_back(std::move(c));
  }
  std::sort(run.plan.changes.begin(), run.plan.changes.end(),
            [](const auto& a, const auto& b) { return a.address < b.address; });
}

// Step: deposed objects (the old objects of create_before_destroy
// replacements an interrupted apply did not delete) are deleted, each
// once, after the change of their address (if any).
void DeposedObjects(PlanRun& run) {
  if (run.options.mode == PlanMode::kRefreshOnly) return;
  // Only the deposed objects: a copy of the whole state costs as much as
  // loading it at 100,000 resources.
  std::vector<state::ResourceState> deposed;
  run.ctx.store->Read([&](const state::State& s) { deposed = s.deposed; });
  if (deposed.empty()) return;
  for (const auto& r : deposed) {
    ResourceChange c = DeleteOf(run, r, kReasonDeposed);
    c.deposed_key = r.deposed_key;
    run.plan.changes.push_back(std::move(c));
  }
  std::stable_sort(run.plan.changes.begin(), run.plan.changes.end(),
                   [](const auto& a, const auto& b) { return a.address < b.address; });
}

// How a `replace_triggered_by` entry refers to a change: the resource
// itself, one of its attributes (a path below it), or, for an entry naming
// a for-expanded resource as a whole, one of its instances.
struct TriggerMatch {
  bool matches = false;
  Path attribute;  // empty: the resource as a whole
};

TriggerMatch MatchTrigger(const std::string& ref, const std::string& address) {
  TriggerMatch m;
  if (ref == address) {
    m.matches = true;
  } else if (ref.size() > address.size() + 1 && ref.compare(0, address.size(), address) == 0 &&
             ref[address.size()] == '.') {
    m.matches = true;
    std::string rest = ref.substr(address.size() + 1);
    for (size_t at = 0; at <= rest.size();) {
      size_t dot = rest.find('.', at);
      if (dot == std::string::npos) dot = rest.size();
      m.attribute.push_back(rest.substr(at, dot - at));
      at = dot + 1;
    }
  } else if (address.size() > ref.size() && address.compare(0, ref.size(), ref) == 0 &&
             address[ref.size()] == '[') {
    m.matches = true;  // `sweep` names every `sweep["k"]`
  }
  return m;
}

// Whether `other`'s change fires a trigger that refers to it as `m`.
bool TriggerFires(const ResourceChange& other, const TriggerMatch& m) {
  switch (other.action) {
    case Action::kCreate:
      return true;  // a new object: everything about it is new
    case Action::kReplace:
    case Action::kUpdate: {
      if (m.attribute.empty()) return true;
      if (std::find(other.sensitive_changed.begin(), other.sensitive_changed.end(), m.attribute) !=
          other.sensitive_changed.end())
        return true;
      const json* b = AtPath(other.before, m.attribute);
      const json* a = AtPath(other.after, m.attribute);
      if (!a && !b) return false;
      return !a || !b || IsUnknown(*a) || *a != *b;
    }
    default:
      return false;
  }
}

// Step: `replace_triggered_by` — an existing resource is replaced when a
// referenced resource is created, replaced or updated, or, for a
// referenced attribute (`train.id`, `sweep["a"].id`), when that attribute
// changes. A resource replaced this way can fire others in turn, and what
// reads its computed attributes is diffed again (PropagateChanges), until
// nothing more fires. Returns whether anything fired.
bool FireTriggers(PlanRun& run) {
  constexpr int kMaxRounds = 100;
  bool any = false;
  std::vector<std::string> fired;  // in the last round
  for (int round = 0;; ++round) {
    if (round == kMaxRounds) {
      ReportNotConverged(run, "replace_triggered_by", kMaxRounds, fired);
      break;
    }
    fired.clear();
    for (auto& c : run.plan.changes) {
      if (c.action != Action::kUpdate && c.action != Action::kNoop) continue;
      if (!c.prior) continue;  // a first create: both are created anyway
      const ResourceInstance* inst = run.graph.Find(c.address);
      if (!inst || inst->lifecycle.replace_triggered_by.empty()) continue;
      bool fire = false;
      for (const auto& ref : inst->lifecycle.replace_triggered_by) {
        for (const auto& other : run.plan.changes) {
          if (other.address == c.address) continue;
          TriggerMatch m = MatchTrigger(ref, other.address);
          if (m.matches && TriggerFires(other, m)) {
            fire = true;
            break;
          }
        }
        if (fire) break;
      }
      if (!fire) continue;
      c.action = Action::kReplace;
      c.action_reason = kReasonReplaceTriggered;
      if (Provider* p = run.GetProvider(c.provider, c.provider_type, inst->range, c.address)) {
        PlanResponse fresh = p->Plan({BareKind(c.kind), c.address, nullptr, c.config});
        if (ReportProviderDiagnostics(run, *inst, fresh.diagnostics)) {
          c.planned = fresh.planned;
          c.after = RedactPaths(fresh.planned, c.sensitive_paths);
        }
      }
      fired.push_back(c.address);
      any = true;
    }
    if (fired.empty()) break;
  }
  return any;
}

void ReplaceTriggers(PlanRun& run) {
  if (!run.have_graph || run.options.mode != PlanMode::kNormal) return;
  // A re-diff resets what it re-diffs to its own action; the next
  // FireTriggers replaces it again if its trigger still fires.
  constexpr int kMaxRounds = 16;
  for (int round = 0; FireTriggers(run); ++round) {
    if (round == kMaxRounds) {
      std::vector<std::string> replaced;
      for (const auto& c : run.plan.changes)
        if (c.action_reason == std::string(kReasonReplaceTriggered)) replaced.push_back(c.address);
      ReportNotConverged(run, "replace_triggered_by with propagation", kMaxRounds, replaced);
      return;
    }
    PropagateChanges(run);
  }
}

// Step: --target keeps the targeted instances and what they depend on; a
// targeted (or pulled-in) delete or replacement also pulls in the changes
// of everything that depends on it, since those must go (or move) first,
// as `terraform destroy -target` does. A delete never pulls in what it
// depends on.
// An address given to --target or --replace that matches nothing is an
// error (E0913) with the closest address as a suggestion.
void NoMatch(PlanRun& run, const std::string& flag, const std::string& address) {
  std::vector<std::string> addresses;
  for (const auto& c : run.plan.changes) addresses.push_back(c.address);
  auto& e = run.diags.Error("E0913", {}, flag + " `" + address + "` matches no resource");
  std::string near = ClosestMatch(address, addresses);
  e.help = !near.empty() ? "did you mean `" + near + "`?"
                         : "addresses look like `KIND.NAME`, `KIND.NAME[\"key\"]` or `module.NAME`";
}

void Targeting(PlanRun& run) {
  for (const auto& r : run.options.replace) {
    bool any = false;
    for (const auto& c : run.plan.changes) any = any || c.address == r;
    if (!any) NoMatch(run, "--replace", r);
  }
  if (run.options.targets.empty()) return;
  std::map<std::string, const ResourceChange*> by_addr;
  std::map<std::string, std::vector<std::string>> dependents;
  for (const auto& c : run.plan.changes) {
    // An address's own change speaks for it; its deposed objects' deletes
    // only when it has none. Both are kept with the address below.
    if (c.deposed_key.empty()) by_addr[c.address] = &c;
    else by_addr.try_emplace(c.address, &c);
    std::set<std::string> deps(c.dependencies.begin(), c.dependencies.end());
    deps.insert(c.prior_dependencies.begin(), c.prior_dependencies.end());
    for (const auto& d : deps) dependents[d].push_back(c.address);
  }
  std::set<std::string> keep;
  std::vector<std::string> work;
  for (const auto& t : run.options.targets) {
    bool any = false;
    for (const auto& c : run.plan.changes)
      if (AddressMatches(t, c.address)) {
        work.push_back(c.address);
        any = true;
      }
    if (!any) NoMatch(run, "--target", t);
  }
  while (!work.empty()) {
    std::string a = work.back();
    work.pop_back();
    if (!keep.insert(a).second) continue;
    auto it = by_addr.find(a);
    if (it == by_addr.end()) continue;
    const ResourceChange& c = *it->second;
    if (c.action != Action::kDelete)
      for (const auto& d : c.dependencies) work.push_back(d);
    if (c.action == Action::kDelete || c.action == Action::kReplace) {
      for (const auto& d : dependents[a]) {
        auto dit = by_addr.find(d);
        if (dit != by_addr.end() && dit->second->action != Action::kNoop) work.push_back(d);
      }
    }
  }
  std::vector<ResourceChange> kept;
  for (auto& c : run.plan.changes)
    if (keep.count(c.address)) kept.push_back(std::move(c));
  run.plan.changes = std::move(kept);
}

// Step: prevent_destroy is an error for any delete or replace.
void PreventDestroy(PlanRun& run) {
  for (const auto& c : run.plan.changes) {
    if (c.action != Action::kDelete && c.action != Action::kReplace) continue;
    const ResourceInstance* inst = run.have_graph ? run.graph.Find(c.address) : nullptr;
    if (!inst || !inst->lifecycle.prevent_destroy) continue;
    AddError(run.diags, "E0904", inst->range,
             c.address + " has lifecycle.prevent_destroy set, but the plan would " +
                 (c.action == Action::kDelete ? "destroy" : "replace") + " it",
             "remove prevent_destroy, or change the plan so it keeps this resource");
  }
}

// Step: output changes against the recorded outputs.
void Outputs(PlanRun& run) {
  const auto& recorded = run.refreshed.outputs;
  const auto& hasher = run.ctx.store->hasher();
  std::map<std::string, OutputChange> out;
  if (run.have_graph && run.options.mode == PlanMode::kNormal) {
    for (const auto& [name, v] : run.graph.outputs) {
      OutputChange o;
      o.sensitive = v.sensitive;
      o.duration_paths = v.duration_paths;
      o.bytes_paths = v.bytes_paths;
      o.after = v.sensitive && !IsUnknown(v.value) ? json(state::kSensitivePlaceholder) : v.value;
      auto it = recorded.find(name);
      if (it == recorded.end()) {
        o.action = Action::kCreate;
      } else {
        o.before = it->second.value;
        o.duration_paths = MergePaths(o.duration_paths, it->second.duration_paths);
        o.bytes_paths = MergePaths(o.bytes_paths, it->second.bytes_paths);
        bool same;
        if (IsUnknown(v.value) || ContainsUnknown(v.value)) same = false;
        else if (v.sensitive || it->second.sensitive) same = !it->second.hash.empty() && hasher.Same(v.value, it->second.hash) && v.sensitive == it->second.sensitive;
        else same = it->second.value == v.value;
        o.action = same ? Action::kNoop : Action::kUpdate;
      }
      out[name] = o;
    }
  }
  if (run.options.mode != PlanMode::kRefreshOnly) {
    for (const auto& [name, o] : recorded) {
      if (out.count(name)) continue;
      out[name] = OutputChange{Action::kDelete, o.value, nullptr, o.sensitive, o.duration_paths,
                               o.bytes_paths};
    }
  }
  run.plan.outputs = std::move(out);
}

// Step: hourly cost before and after, from the catalog's GPU prices.
void CostStep(PlanRun& run) {
  if (!run.options.prices) return;
  std::vector<std::pair<std::string, json>> before, after;
  for (const auto& r : run.refreshed.resources) before.push_back({r.kind, r.attributes});
  std::set<std::string> planned;
  for (const auto& c : run.plan.changes) {
    planned.insert(c.address);
    if (c.action == Action::kDelete) continue;
    after.push_back({c.kind, c.action == Action::kNoop && c.prior ? c.prior->attributes : c.after});
  }
  // Resources outside the plan (--target) keep costing what they cost.
  for (const auto& r : run.refreshed.resources)
    if (!planned.count(r.address)) after.push_back({r.kind, r.attributes});
  bool any_before = false, any_after = false;
  Cost cost;
  auto b = HourlyCost(before, run.options.prices, &any_before, &cost.gpus_before);
  auto a = HourlyCost(after, run.options.prices, &any_after, &cost.gpus_after);
  if (!(any_before || any_after) || !a || !b) return;
  cost.before_hourly = *b;
  cost.after_hourly = *a;
  // Each changed resource's share, for the Markdown plan's cost column.
  for (const auto& c : run.plan.changes) {
    if (c.action == Action::kNoop) continue;
    Cost::Resource r;
    bool any = false;
    if (c.action != Action::kCreate && c.prior)
      r.before_hourly = HourlyCost({{c.kind, c.prior->attributes}}, run.options.prices, &any, &r.gpus_before)
                            .value_or(0);
    if (c.action != Action::kDelete)
      r.after_hourly = HourlyCost({{c.kind, c.after}}, run.options.prices, &any, &r.gpus_after).value_or(0);
    if (any) cost.resources[c.address] = std::move(r);
  }
  run.plan.cost = std::move(cost);
}

// Step: each provider's checks over all of its resources in the plan
// (Provider::CheckPlan), e.g. GPUs that several resources share.
void ProviderChecks(PlanRun& run) {
  if (run.options.mode == PlanMode::kRefreshOnly || !run.ctx.providers) return;
  std::map<std::pair<std::string, std::string>, PlanCheckRequest> by_provider;
  std::map<std::string, const ResourceChange*> by_address;
  for (const auto& c : run.plan.changes) {
    if (!c.deposed_key.empty()) continue;
    PlanCheckResource r;
    r.kind = BareKind(c.kind);
    r.address = c.address;
    r.action = c.action == Action::kCreate    ? "create"
               : c.action == Action::kUpdate  ? "update"
               : c.action == Action::kReplace ? "replace"
               : c.action == Action::kDelete  ? "delete"
                                              : "noop";
    r.config = c.action == Action::kDelete ? (c.prior ? c.prior->attributes : json()) : c.config;
    r.dependencies = c.action == Action::kDelete ? c.prior_dependencies : c.dependencies;
    by_provider[{c.provider, c.provider_type}].resources.push_back(std::move(r));
    by_address[c.address] = &c;
  }
  for (auto& [key, req] : by_provider) {
    std::string error;
    Provider* p = run.ctx.providers->Get(key.first, key.second, &error);
    if (!p) continue;  // already reported by diff
    PlanCheckResponse resp = p->CheckPlan(req);
    for (const auto& [address, d] : resp.diagnostics) {
      SourceRange range;
      auto it = by_address.find(address);
      if (it != by_address.end()) range = it->second->range;
      bool named = !address.empty() && d.summary.rfind(address + " ", 0) == 0;
      std::string msg = (address.empty() || named ? "" : address + ": ") + d.summary;
      if (!d.detail.empty()) msg += ": " + d.detail;
      if (d.severity == Severity::kError) AddError(run.diags, "E0914", range, msg);
      else run.diags.Warning("W0905", range, msg);
    }
  }
}

struct Step {
  const char* name;
  void (*run)(PlanRun&);
};

// The planner, as an ordered list of named steps.
const Step kPlanSteps[] = {
    {"reconcile-journal", ReconcileJournal},
    {"refresh", Refresh},
    {"evaluate", Evaluate},
    {"gpu-inventory", GpuInventory},
    {"diff", Diff},
    {"propagate-changes", PropagateChanges},
    {"replace-triggers", ReplaceTriggers},
    {"orphans", Orphans},
    {"deposed", DeposedObjects},
    {"targeting", Targeting},
    {"prevent-destroy", PreventDestroy},
    {"provider-checks", ProviderChecks},
    {"outputs", Outputs},
    {"cost", CostStep},
};

}  // namespace

Plan MakePlan(const PlanContext& ctx, const PlanOptions& options, Diagnostics& diags) {
  PlanRun run{ctx, options, diags, {}, {}, {}, false, {}, {}, {}};
  run.plan.mode = options.mode;
  run.plan.variables_hash = options.variables_hash;
  if (ctx.config) run.plan.config_hash = ctx.config->ConfigHash();
  run.plan.state_existed = ctx.store->Exists();
  for (const auto& step : kPlanSteps) {
    step.run(run);
    // Evaluation errors make everything after meaningless.
    if (std::string(step.name) == "evaluate" && diags.HasErrors()) break;
  }
  // Recorded after reconciliation (which may write state).
  ctx.store->Read([&](const state::State& current) {
    run.plan.lineage = current.lineage;
    run.plan.serial = current.serial;
  });
  run.plan.state_existed = ctx.store->Exists();
  run.plan.errored = diags.HasErrors();
  if (options.mode == PlanMode::kRefreshOnly) run.plan.changes.clear();
  return std::move(run.plan);
}


// ---- Import ----

bool ImportResource(const PlanContext& ctx, const ResourceInstance& inst, const std::string& id,
                    state::ResourceState* out, Diagnostics& diags) {
  auto already = [&] {
    AddError(diags, "E0909", inst.range, inst.address + " is already in state",
             "`kiln state rm " + inst.address + "` first to import a different object");
    return false;
  };
  // Checked before the provider is asked, and again under the store's
  // mutex when recording (another kiln may have imported it meanwhile).
  if (ctx.store->Current().Find(inst.address)) return already();
  std::string error;
  Provider* p = ctx.providers ? ctx.providers->Get(inst.provider, inst.provider_type, &error) : nullptr;
  if (!p) {
    AddError(diags, "E0901", inst.range,
             inst.address + ": " + (error.empty() ? "no provider" : error),
             "check the provider block and `kiln providers`");
    return false;
  }
  ImportResponse resp = p->Import({BareKind(inst.kind), id});
  if (HasErrors(resp.diagnostics) || resp.state.is_null() || !resp.state.is_object()) {
    std::string why = HasErrors(resp.diagnostics) ? ErrorText(resp.diagnostics)
                                                  : "the provider returned no object";
    AddError(diags, "E0908", inst.range, inst.address + ": cannot import `" + id + "`: " + why,
             "check the id; it is the provider's identifier of the live object");
    return false;
  }
  // The same change the planner would make for a create of this instance,
  // so the record is exactly what an apply would have written.
  ResourceChange c;
  FillIdentity(inst, c);
  c.sensitive_paths = SensitivePaths(p, inst.kind, inst.sensitive_paths);
  state::ResourceState rs = RecordApplied(c, resp.state, state::kStatusReady, ctx.store->hasher());
  bool existed = false;
  bool ok = ctx.store->Update(
      [&](state::State& s) {
        if (s.Find(rs.address)) {
          existed = true;
          return;
        }
        s.Upsert(rs);
      },
      diags);
  if (!ok) return false;
  if (existed) return already();
  if (out) *out = std::move(rs);
  return true;
}

}  // namespace kiln::planner
