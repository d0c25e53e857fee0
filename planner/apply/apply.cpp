// The apply walk: the plan's actions as a DAG, run on a pool of
// --parallelism workers, longest remaining chain first; state saved after
// every completed operation; creates journaled first so a crash loses nothing.
#include <algorithm>
#include <condition_variable>
#include <map>
#include <queue>
#include <set>
#include <thread>

#include "planner/planner.h"

namespace kiln::planner {

using nlohmann::json;
using Clock = std::chrono::steady_clock;

namespace {

std::string ProviderErrors(const ProviderDiagnostics& pd) {
  std::string msg;
  for (const auto& d : pd) {
    if (d.severity != Severity::kError) continue;
    if (!msg.empty()) msg += "; ";
    msg += d.summary;
    if (!d.detail.empty()) msg += ": " + d.detail;
  }
  return msg.empty() ? "failed" : msg;
}

const char* OpSuffix(ApplyOp::Kind k) {
  switch (k) {
    case ApplyOp::kCreate: return " (create)";
    case ApplyOp::kUpdate: return " (update)";
    case ApplyOp::kDelete: return " (delete)";
  }
  return "";
}

}  // namespace

state::ResourceState RecordApplied(const ResourceChange& c, const json& attrs,
                                   const std::string& status, const state::SensitiveHasher& hasher) {
  state::ResourceState rs;
  rs.address = c.address;
  rs.module = c.module;
  rs.kind = c.kind;
  rs.name = c.name;
  rs.key = c.key;
  rs.provider = c.provider;
  rs.provider_type = c.provider_type;
  auto red = state::RedactForState(attrs, c.sensitive_paths, hasher);
  rs.attributes = red.attributes;
  rs.sensitive_hashes = red.hashes;
  rs.dependencies = c.dependencies;
  std::sort(rs.dependencies.begin(), rs.dependencies.end());
  rs.dependencies.erase(std::unique(rs.dependencies.begin(), rs.dependencies.end()), rs.dependencies.end());
  rs.status = status;
  rs.create_before_destroy = c.create_before_destroy;
  rs.duration_paths = c.duration_paths;
  rs.bytes_paths = c.bytes_paths;
  return rs;
}

dag::Graph BuildApplyGraph(const Plan& plan, std::vector<ApplyOp>* ops, Diagnostics& diags) {
  dag::Graph g;
  ops->clear();
  // Per address: the node that brings it to its new state (create/update)
  // and the node that deletes its old object.
  std::map<std::string, dag::NodeId> up, del;
  auto add = [&](ApplyOp op) {
    const auto& c = plan.changes[op.change];
    dag::NodeId id = g.AddNode(c.address + OpSuffix(op.kind));
    ops->push_back(op);
    return id;
  };
  for (size_t i = 0; i < plan.changes.size(); ++i) {
    const auto& c = plan.changes[i];
    switch (c.action) {
      case Action::kCreate: up[c.address] = add({ApplyOp::kCreate, i, false}); break;
      case Action::kUpdate: up[c.address] = add({ApplyOp::kUpdate, i, false}); break;
      case Action::kDelete: del[c.address] = add({ApplyOp::kDelete, i, false}); break;
      case Action::kReplace:
        del[c.address] = add({ApplyOp::kDelete, i, c.create_before_destroy});
        up[c.address] = add({ApplyOp::kCreate, i, false});
        if (c.create_before_destroy) g.AddEdge(up[c.address], del[c.address]);
        else g.AddEdge(del[c.address], up[c.address]);
        break;
      default: break;
    }
  }
  for (size_t i = 0; i < plan.changes.size(); ++i) {
    const auto& c = plan.changes[i];
    // Creates and updates after what they depend on.
    if (auto it = up.find(c.address); it != up.end()) {
      for (const auto& d : c.dependencies) {
        if (auto dit = up.find(d); dit != up.end()) g.AddEdge(dit->second, it->second);
        // A create-before-destroy dependency's old object goes only once
        // its dependents moved to the new one.
        const auto* dc = plan.Find(d);
        if (dc && dc->action == Action::kReplace && dc->create_before_destroy)
          if (auto ddel = del.find(d); ddel != del.end()) g.AddEdge(it->second, ddel->second);
      }
    }
    // Deletes after their dependents' deletes.
    if (auto it = del.find(c.address); it != del.end()) {
      for (const auto& d : c.prior_dependencies)
        if (auto dit = del.find(d); dit != del.end() && dit->second != it->second)
          g.AddEdge(it->second, dit->second);
    }
  }
  if (auto cycle = g.FindCycle(); !cycle.empty())
    diags.Error("E0905", {}, "the plan's actions form a cycle: " + dag::FormatCycle(cycle))
        .help = "create_before_destroy on one resource and not on a resource that depends on it can cause this";
  return g;
}

bool RestorePlanValues(Plan& plan, const ConfigGraph& graph, Diagnostics& diags) {
  bool ok = true;
  for (auto& c : plan.changes) {
    if (c.action != Action::kCreate && c.action != Action::kUpdate && c.action != Action::kReplace)
      continue;
    const ResourceInstance* inst = graph.Find(c.address);
    if (!inst) {
      diags.Error("E0907", {}, "saved plan is stale: the configuration no longer has " + c.address);
      ok = false;
      continue;
    }
    c.config = inst->config;
    c.range = inst->range;
    json planned = c.after;
    for (const auto& p : c.sensitive_paths)
      if (const json* v = AtPath(inst->config, p)) SetAtPath(planned, p, *v);
    c.planned = planned;
  }
  return ok;
}

namespace {

std::string Elapsed(Clock::duration d) {
  long s = std::chrono::duration_cast<std::chrono::seconds>(d).count();
  if (s < 60) return std::to_string(s) + "s";
  return std::to_string(s / 60) + "m" + std::to_string(s % 60) + "s";
}

struct Walk {
  Walk(Plan& p, const PlanContext& c, const ApplyOptions& o, Diagnostics& d)
      : plan(p), ctx(c), options(o), diags(d) {}
  Plan& plan;
  const PlanContext& ctx;
  const ApplyOptions& options;
  Diagnostics& diags;
  std::vector<ApplyOp> ops;
  dag::Graph graph;

  std::mutex mu;
  std::condition_variable cv;
  std::vector<size_t> waiting;  // unfinished predecessors per node
  std::vector<double> priority;
  std::vector<char> state_;     // 0 pending, 1 running, 2 done, 3 failed
  struct Ready {
    double priority;
    std::string name;
    dag::NodeId node;
    bool operator<(const Ready& o) const {
      if (priority != o.priority) return priority < o.priority;
      return name > o.name;
    }
  };
  std::priority_queue<Ready> ready;
  int in_flight = 0;
  bool finished = false;
  ApplyResult result;
  // For "Still creating..." lines.
  std::map<dag::NodeId, Clock::time_point> started;

  // What this walk has done, by address (nullopt: deleted). Dependents read
  // it at once; the state file catches up through the store's group commit
  // on saver threads, so workers do not wait for fsync. Each save writes
  // the latest value of its address, so saves may land in any order. A
  // create's journal entry is completed only after its save is durable.
  std::mutex applied_mu;
  std::map<std::string, std::optional<state::ResourceState>> applied;
  std::mutex savers_mu;
  std::vector<std::thread> savers;
  std::atomic<bool> save_failed{false};

  std::optional<state::ResourceState> CurrentOf(const std::string& address) {
    {
      std::lock_guard<std::mutex> lock(applied_mu);
      auto it = applied.find(address);
      if (it != applied.end()) return it->second;
    }
    std::optional<state::ResourceState> out;
    ctx.store->Read([&](const state::State& s) {
      if (const auto* r = s.Find(address)) out = *r;
    });
    return out;
  }

  // Records the new state of `c.address` (nullopt: gone) and saves it.
  void Commit(const ResourceChange& c, std::optional<state::ResourceState> rs, bool complete_journal) {
    {
      std::lock_guard<std::mutex> lock(applied_mu);
      applied[c.address] = std::move(rs);
    }
    std::string address = c.address;
    SourceRange range = c.range;
    std::lock_guard<std::mutex> lock(savers_mu);
    savers.emplace_back([this, address, range, complete_journal] {
      Diagnostics d;
      bool ok = ctx.store->Update(
          [&](state::State& s) {
            std::optional<state::ResourceState> latest;
            {
              std::lock_guard<std::mutex> l(applied_mu);
              latest = applied[address];
            }
            if (latest) s.Upsert(*latest);
            else s.Remove(address);
          },
          d);
      if (!ok) {
        save_failed = true;
        std::lock_guard<std::mutex> l(log_mu);
        diags.Append(d);
        diags.Error("E0906", range, address + ": could not save state after the operation");
        return;
      }
      if (complete_journal && ctx.journal) {
        Diagnostics jd;
        ctx.journal->Complete(address, jd);
      }
    });
  }

  void JoinSavers() {
    std::vector<std::thread> mine;
    {
      std::lock_guard<std::mutex> lock(savers_mu);
      mine.swap(savers);
    }
    for (auto& t : mine) t.join();
  }

  std::mutex log_mu;
  void Log(const std::string& line) {
    if (!options.log) return;
    std::lock_guard<std::mutex> lock(log_mu);
    options.log(line);
  }

  int Interrupt() const { return options.interrupt ? options.interrupt->load() : 0; }

  void AddError(const ResourceChange& c, const std::string& message) {
    std::lock_guard<std::mutex> lock(log_mu);
    diags.Error("E0906", c.range, c.address + ": " + message);
  }

  Provider* GetProvider(const ResourceChange& c) {
    std::string error;
    Provider* p = ctx.providers ? ctx.providers->Get(c.provider, c.provider_type, &error) : nullptr;
    if (!p) AddError(c, error.empty() ? "no provider" : error);
    return p;
  }

  state::ResourceState Record(const ResourceChange& c, const json& attrs, const std::string& status) {
    return RecordApplied(c, attrs, status, ctx.store->hasher());
  }

  // Makes config/planned known: a value that depended on a resource applied
  // earlier in this walk is evaluated again with the fresh state.
  bool Resolve(const ResourceChange& c, Provider* p, const json& prior_plain, json* config,
               json* planned) {
    *config = c.config;
    *planned = c.planned;
    if (!ContainsUnknown(*config) || !ctx.config) return true;
    state::State snapshot = ctx.store->Current();
    {
      std::lock_guard<std::mutex> lock(applied_mu);
      for (const auto& [a, r] : applied) {
        if (r) snapshot.Upsert(*r);
        else snapshot.Remove(a);
      }
    }
    ResourceLookup lookup = [&snapshot](const std::string& a) -> const json* {
      const auto* r = snapshot.Find(a);
      return r ? &r->attributes : nullptr;
    };
    Diagnostics d;
    auto inst = ctx.config->EvaluateInstance(c.address, lookup, d);
    if (!inst || d.HasErrors()) {
      std::lock_guard<std::mutex> lock(log_mu);
      diags.Append(d);
      diags.Error("E0906", c.range, c.address + ": could not evaluate its configuration after its dependencies were applied");
      return false;
    }
    *config = inst->config;
    PlanResponse resp = p->Plan({BareKind(c.kind), c.address, prior_plain, *config});
    if (HasErrors(resp.diagnostics)) {
      AddError(c, ProviderErrors(resp.diagnostics));
      return false;
    }
    *planned = resp.planned;
    return true;
  }

  bool RunCreate(const ResourceChange& c, Provider* p) {
    json config, planned;
    if (!Resolve(c, p, nullptr, &config, &planned)) return false;
    if (ctx.journal) {
      Diagnostics d;
      if (!ctx.journal->BeginCreate({c.address, c.kind, c.provider, c.provider_type, state::NowUtc()}, d)) {
        std::lock_guard<std::mutex> lock(log_mu);
        diags.Append(d);
        return false;
      }
    }
    ApplyRequest req{BareKind(c.kind), c.address, nullptr, planned, config,
                     [this, &c](const std::string& m) { Log(c.address + ": " + m); }};
    ApplyResponse resp = p->Apply(req);
    bool failed = HasErrors(resp.diagnostics);
    if (!resp.state.is_null()) {
      Commit(c, Record(c, resp.state, failed ? state::kStatusTainted : state::kStatusReady), true);
    } else if (ctx.journal) {
      Diagnostics d;  // nothing was created: nothing to recover
      ctx.journal->Complete(c.address, d);
    }
    if (failed) AddError(c, ProviderErrors(resp.diagnostics));
    return !failed;
  }

  bool RunUpdate(const ResourceChange& c, Provider* p) {
    std::optional<state::ResourceState> prior = CurrentOf(c.address);
    if (!prior) {
      AddError(c, "is no longer in state; plan again");
      return false;
    }
    json prior_plain = state::RestoreSensitive(prior->attributes, prior->sensitive_hashes, c.config,
                                               ctx.store->hasher());
    json config, planned;
    if (!Resolve(c, p, prior_plain, &config, &planned)) return false;
    ApplyRequest req{BareKind(c.kind), c.address, prior_plain, planned, config,
                     [this, &c](const std::string& m) { Log(c.address + ": " + m); }};
    ApplyResponse resp = p->Apply(req);
    bool failed = HasErrors(resp.diagnostics);
    if (!resp.state.is_null()) Commit(c, Record(c, resp.state, state::kStatusReady), false);
    if (failed) AddError(c, ProviderErrors(resp.diagnostics));
    return !failed;
  }

  bool RunDelete(const ResourceChange& c, const ApplyOp& op, Provider* p) {
    // A create-before-destroy replacement deletes the old object, whose
    // record was already replaced by the new one: use the plan's prior.
    json attrs;
    if (op.deposed) {
      if (!c.prior) return true;
      attrs = c.prior->attributes;
    } else {
      auto r = CurrentOf(c.address);
      if (!r) return true;  // already gone
      attrs = r->attributes;
    }
    DeleteResponse resp = p->Delete({BareKind(c.kind), c.address, attrs});
    if (HasErrors(resp.diagnostics)) {
      AddError(c, ProviderErrors(resp.diagnostics));
      return false;
    }
    if (op.deposed) return true;
    Commit(c, std::nullopt, false);
    return true;
  }

  void Run(dag::NodeId n) {
    const ApplyOp& op = ops[n];
    const ResourceChange& c = plan.changes[op.change];
    const char* verb = op.kind == ApplyOp::kCreate ? "Creating" : op.kind == ApplyOp::kUpdate ? "Modifying" : "Destroying";
    const char* done = op.kind == ApplyOp::kCreate ? "Creation" : op.kind == ApplyOp::kUpdate ? "Modifications" : "Destruction";
    Log(c.address + ": " + verb + "..." + (op.deposed ? " (old object)" : ""));
    auto t0 = Clock::now();
    bool ok = false;
    if (Provider* p = GetProvider(c)) {
      switch (op.kind) {
        case ApplyOp::kCreate: ok = RunCreate(c, p); break;
        case ApplyOp::kUpdate: ok = RunUpdate(c, p); break;
        case ApplyOp::kDelete: ok = RunDelete(c, op, p); break;
      }
    }
    std::string elapsed = Elapsed(Clock::now() - t0);
    if (!ok) {
      Log(c.address + ": " + done + " failed after " + elapsed);
      Finish(n, false);
      return;
    }
    std::string id;
    if (op.kind != ApplyOp::kDelete) {
      if (auto r = CurrentOf(c.address))
        if (r->attributes.contains("id") && r->attributes["id"].is_string())
          id = " [id=" + r->attributes["id"].get<std::string>() + "]";
    }
    Log(c.address + ": " + done + " complete after " + elapsed + id);
    Finish(n, true);
  }

  void Finish(dag::NodeId n, bool ok) {
    std::lock_guard<std::mutex> lock(mu);
    --in_flight;
    started.erase(n);
    state_[n] = ok ? 2 : 3;
    if (ok) {
      ++result.succeeded;
      for (dag::NodeId m : graph.Successors(n))
        if (--waiting[m] == 0) ready.push({priority[m], graph.Name(m), m});
    } else {
      ++result.failed;
    }
    if (in_flight == 0 && (ready.empty() || Interrupt() > 0)) finished = true;
    cv.notify_all();
  }

  void Worker() {
    std::unique_lock<std::mutex> lock(mu);
    while (true) {
      cv.wait_for(lock, std::chrono::milliseconds(100), [&] {
        return finished || (!ready.empty() && Interrupt() == 0) || (Interrupt() > 0 && in_flight == 0);
      });
      if (finished) return;
      if (Interrupt() > 0) {
        if (in_flight == 0) {
          finished = true;
          cv.notify_all();
          return;
        }
        continue;
      }
      if (ready.empty()) continue;
      dag::NodeId n = ready.top().node;
      ready.pop();
      state_[n] = 1;
      ++in_flight;
      started[n] = Clock::now();
      lock.unlock();
      Run(n);
      lock.lock();
    }
  }

  // Prints "Still creating... [10s elapsed]" for long operations.
  void Ticker() {
    std::unique_lock<std::mutex> lock(mu);
    std::map<dag::NodeId, int> reported;
    while (!finished) {
      cv.wait_for(lock, std::min(options.progress_interval, std::chrono::milliseconds(1000)));
      auto now = Clock::now();
      for (const auto& [n, t] : started) {
        auto periods = (now - t) / options.progress_interval;
        if (periods <= reported[n]) continue;
        reported[n] = static_cast<int>(periods);
        const ApplyOp& op = ops[n];
        const char* verb = op.kind == ApplyOp::kCreate ? "creating" : op.kind == ApplyOp::kUpdate ? "modifying" : "destroying";
        std::string line = plan.changes[op.change].address + ": Still " + verb + "... [" +
                           Elapsed(now - t) + " elapsed]";
        lock.unlock();
        Log(line);
        lock.lock();
        break;  // `started` may have changed
      }
    }
  }
};

// Drift found by the plan's refresh is recorded before anything else.
void AdoptRefreshed(const Plan& plan, const PlanContext& ctx, Diagnostics& diags) {
  if (plan.refreshed.empty() && plan.refreshed_gone.empty()) return;
  ctx.store->Update(
      [&](state::State& s) {
        for (const auto& r : plan.refreshed)
          if (s.Find(r.address)) s.Upsert(r);
        for (const auto& a : plan.refreshed_gone) s.Remove(a);
      },
      diags);
}

void SaveOutputs(const Plan& plan, const PlanContext& ctx, Diagnostics& diags) {
  const auto& hasher = ctx.store->hasher();
  if (plan.mode == PlanMode::kDestroy) {
    ctx.store->Update([](state::State& s) { s.outputs.clear(); }, diags);
    return;
  }
  if (!ctx.config || plan.mode != PlanMode::kNormal) return;
  state::State snapshot = ctx.store->Current();
  ResourceLookup lookup = [&snapshot](const std::string& a) -> const json* {
    const auto* r = snapshot.Find(a);
    return r ? &r->attributes : nullptr;
  };
  Diagnostics d;
  ConfigGraph g = ctx.config->Evaluate(lookup, d);
  if (d.HasErrors()) {
    diags.Append(d);
    return;
  }
  std::map<std::string, state::OutputState> outs;
  for (const auto& [name, v] : g.outputs) {
    if (ContainsUnknown(v.value)) continue;
    state::OutputState o;
    o.sensitive = v.sensitive;
    o.duration_paths = v.duration_paths;
    o.bytes_paths = v.bytes_paths;
    if (v.sensitive) {
      o.value = state::kSensitivePlaceholder;
      o.hash = hasher.Hash(v.value);
    } else {
      o.value = v.value;
    }
    outs[name] = o;
  }
  ctx.store->Update([&](state::State& s) { s.outputs = outs; }, diags);
}

}  // namespace

ApplyResult ApplyPlan(Plan& plan, const PlanContext& ctx, const ApplyOptions& options,
                      Diagnostics& diags) {
  Walk w(plan, ctx, options, diags);
  w.graph = BuildApplyGraph(plan, &w.ops, diags);
  if (diags.HasErrors()) {
    w.result.failed = 1;
    return w.result;
  }
  AdoptRefreshed(plan, ctx, diags);
  size_t n = w.graph.size();
  w.waiting.resize(n);
  w.state_.assign(n, 0);
  w.priority = w.graph.RemainingPath();
  for (dag::NodeId i = 0; i < n; ++i) {
    w.waiting[i] = w.graph.Predecessors(i).size();
    if (w.waiting[i] == 0) w.ready.push({w.priority[i], w.graph.Name(i), i});
  }
  if (n == 0) w.finished = true;
  int workers = std::max(1, std::min<int>(options.parallelism, static_cast<int>(n)));
  std::vector<std::thread> threads;
  for (int i = 0; i < workers && n > 0; ++i) threads.emplace_back([&w] { w.Worker(); });
  std::thread ticker;
  if (n > 0) ticker = std::thread([&w] { w.Ticker(); });
  for (auto& t : threads) t.join();
  {
    std::lock_guard<std::mutex> lock(w.mu);
    w.finished = true;
    w.cv.notify_all();
  }
  if (ticker.joinable()) ticker.join();
  w.JoinSavers();
  if (w.save_failed) ++w.result.failed;
  for (dag::NodeId i = 0; i < n; ++i)
    if (w.state_[i] == 0) ++w.result.skipped;
  w.result.interrupted = w.Interrupt() > 0 && w.result.skipped > 0;
  if (w.result.skipped > 0 && !w.result.interrupted && w.result.failed > 0) {
    std::vector<std::string> names;
    for (dag::NodeId i = 0; i < n; ++i)
      if (w.state_[i] == 0) names.push_back(w.graph.Name(i));
    std::sort(names.begin(), names.end());
    std::string list;
    for (const auto& s : names) list += (list.empty() ? "" : ", ") + s;
    diags.Warning("W0903", {}, "skipped because something they depend on failed: " + list);
  }
  SaveOutputs(plan, ctx, diags);
  if (ctx.journal) ctx.journal->Compact(diags);
  return w.result;
}

}  // namespace kiln::planner
