// The apply walk: the plan's actions as a DAG, run on a pool of
// --parallelism workers, longest remaining chain first; state saved after
// every completed operation; creates journaled first so a crash loses nothing.
#include <algorithm>
#include <condition_variable>
#include <map>
#include <queue>
#include <set>
#include <thread>

#include "planner/apply/durable.h"
#include "planner/planner.h"

namespace kiln::planner {

using nlohmann::json;
using Clock = std::chrono::steady_clock;

namespace {

std::string ProviderErrors(const ProviderDiagnostics& pd) {
  std::string msg = ErrorText(pd);
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
    if (!c.deposed_key.empty()) {
      // A deposed object left by an interrupted replacement: deleted on its
      // own, in no order with the rest.
      if (c.action == Action::kDelete) {
        dag::NodeId id = g.AddNode(c.address + " (delete deposed " + c.deposed_key + ")");
        ops->push_back(ApplyOp{ApplyOp::kDelete, i, c.deposed_key, ""});
        (void)id;
      }
      continue;
    }
    switch (c.action) {
      case Action::kCreate: up[c.address] = add({ApplyOp::kCreate, i, "", ""}); break;
      case Action::kUpdate: up[c.address] = add({ApplyOp::kUpdate, i, "", ""}); break;
      case Action::kDelete: del[c.address] = add({ApplyOp::kDelete, i, "", ""}); break;
      case Action::kReplace:
        if (c.create_before_destroy) {
          // The old object is recorded as deposed (under a fresh key) before
          // the new one is created; its delete removes that record.
          std::string key = state::NewUuid().substr(0, 8);
          del[c.address] = add({ApplyOp::kDelete, i, key, ""});
          up[c.address] = add({ApplyOp::kCreate, i, "", key});
          g.AddEdge(up[c.address], del[c.address]);
        } else {
          del[c.address] = add({ApplyOp::kDelete, i, "", ""});
          up[c.address] = add({ApplyOp::kCreate, i, "", ""});
          g.AddEdge(del[c.address], up[c.address]);
        }
        break;
      default: break;
    }
  }
  for (size_t i = 0; i < plan.changes.size(); ++i) {
    const auto& c = plan.changes[i];
    if (!c.deposed_key.empty()) continue;
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

// Where a node of the apply graph is.
enum class NodeState : char { kPending, kRunning, kDone, kFailed };

// The walk: scheduling and the operations. Where the time of one step on the
// critical path goes, and what keeps it small (see docs/state.md, "Apply and
// durability"):
//  - scheduling: a finished node releases its successors in O(out-degree)
//    under one mutex; each released node wakes one idle worker
//    (notify_one), the finishing worker takes the next node itself; the
//    ready queue orders by (longest remaining chain, name rank), integers
//    and doubles only;
//  - the intent journal (IntentSyncer, durable.h): a create's begin record
//    is written when the last of its dependencies *starts* (one step ahead)
//    and synced by a background syncer, so by the time it is ready the
//    record is usually durable;
//  - state (StateSaver, durable.h): completions go to one background writer
//    that folds everything completed since its last write into one atomic
//    write; dependents read the walk's own results and do not wait for the
//    file.
struct Walk {
  Walk(Plan& p, const PlanContext& c, const ApplyOptions& o, Diagnostics& d, std::vector<ApplyOp> operations,
       dag::Graph g)
      : plan(p),
        ctx(c),
        options(o),
        diags(d),
        ops(std::move(operations)),
        graph(std::move(g)),
        syncer(c.journal, graph.size(), [this](size_t n) { return IntentOf(n); }, diags),
        saver(c.store, c.journal, diags) {}
  Plan& plan;
  const PlanContext& ctx;
  const ApplyOptions& options;
  SharedDiagnostics diags;
  std::vector<ApplyOp> ops;
  dag::Graph graph;
  IntentSyncer syncer;
  StateSaver saver;

  // ---- Scheduling (all under mu) ----
  std::mutex mu;
  std::condition_variable work_cv;    // workers
  std::condition_variable ticker_cv;  // the ticker
  std::vector<uint32_t> waiting;      // unfinished predecessors per node
  std::vector<uint32_t> unstarted;    // predecessors not yet started per node
  std::vector<double> priority;
  std::vector<uint32_t> rank;         // position of the node's name in name order
  std::vector<NodeState> node_state;
  struct Ready {
    double priority;
    uint32_t rank;
    dag::NodeId node;
    bool operator<(const Ready& o) const {
      if (priority != o.priority) return priority < o.priority;
      return rank > o.rank;
    }
  };
  std::priority_queue<Ready> ready;
  int in_flight = 0;
  bool finished = false;
  ApplyResult result;
  std::map<dag::NodeId, Clock::time_point> started;  // for "Still creating..."
  std::map<Provider*, int> active;                   // providers with calls in flight
  bool cancel_sent = false;

  std::vector<ApplyOpTiming> timing;
  bool trace = false;
  void Stamp(ApplyOpTiming::TimePoint ApplyOpTiming::*field, dag::NodeId n) {
    if (trace) timing[n].*field = Clock::now();
  }

  std::mutex log_mu;
  void Log(const std::string& line) {
    if (!options.log) return;
    std::lock_guard<std::mutex> lock(log_mu);
    options.log(line);
  }

  int Interrupt() const { return options.interrupt ? options.interrupt->load() : 0; }

  void AddError(const ResourceChange& c, const std::string& message) {
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

  state::JournalEntry IntentOf(dag::NodeId n) {
    const ResourceChange& c = plan.changes[ops[n].change];
    return {c.address, c.kind, c.provider, c.provider_type, state::NowUtc()};
  }

  // ---- The operations ----

  // Makes config/planned known: a value that depended on a resource applied
  // earlier in this walk is evaluated again with the fresh state.
  bool Resolve(const ResourceChange& c, Provider* p, const json& prior_plain, json* config,
               json* planned) {
    *config = c.config;
    *planned = c.planned;
    if (!ContainsUnknown(*config) || !ctx.config) return true;
    state::State snapshot = saver.Snapshot();
    ResourceLookup lookup = [&snapshot](const std::string& a) -> const json* {
      const auto* r = snapshot.Find(a);
      return r ? &r->attributes : nullptr;
    };
    Diagnostics d;
    auto inst = ctx.config->EvaluateInstance(c.address, lookup, d);
    if (!inst || d.HasErrors()) {
      d.Error("E0906", c.range,
              c.address + ": could not evaluate its configuration after its dependencies were applied");
      diags.Append(d);
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

  bool RunCreate(dag::NodeId n, const ResourceChange& c, Provider* p, bool* created) {
    *created = false;
    json config, planned;
    if (!Resolve(c, p, nullptr, &config, &planned)) return false;
    if (!syncer.Durable(n)) return false;
    Stamp(&ApplyOpTiming::intent_durable, n);
    ApplyRequest req{BareKind(c.kind), c.address, nullptr, planned, config,
                     [this, &c](const std::string& m) { Log(c.address + ": " + m); }};
    syncer.MarkSent(n);
    ApplyResponse resp = p->Apply(req);
    Stamp(&ApplyOpTiming::provider_done, n);
    bool failed = HasErrors(resp.diagnostics);
    if (!resp.state.is_null()) {
      *created = true;
      saver.Commit(c.address, c.range, Record(c, resp.state, failed ? state::kStatusTainted : state::kStatusReady),
                   true);
    } else if (ctx.journal) {
      Diagnostics d;  // nothing was created: nothing to recover
      ctx.journal->Complete(c.address, d);
    }
    if (failed) AddError(c, ProviderErrors(resp.diagnostics));
    return !failed;
  }

  bool RunUpdate(dag::NodeId n, const ResourceChange& c, Provider* p) {
    std::optional<state::ResourceState> prior = saver.CurrentOf(c.address);
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
    Stamp(&ApplyOpTiming::provider_done, n);
    bool failed = HasErrors(resp.diagnostics);
    if (!resp.state.is_null()) saver.Commit(c.address, c.range, Record(c, resp.state, state::kStatusReady), false);
    if (failed) AddError(c, ProviderErrors(resp.diagnostics));
    return !failed;
  }

  // Before a create-before-destroy replacement creates the new object, the
  // old one becomes a deposed record (durably: a crash after the create
  // must not leave the old object untracked).
  bool Depose(const ResourceChange& c, const std::string& key) {
    Diagnostics d;
    bool ok = ctx.store->Update(
        [&](state::State& s) {
          const state::ResourceState* cur = s.Find(c.address);
          if (!cur) return;
          state::ResourceState old = *cur;
          old.deposed_key = key;
          s.Remove(c.address);
          s.AddDeposed(std::move(old));
        },
        d);
    if (!ok) {
      d.Error("E0906", c.range, c.address + ": could not record the old object as deposed; not replacing it");
      diags.Append(d);
    }
    return ok;
  }

  void Undepose(const ResourceChange& c, const std::string& key) {
    Diagnostics d;
    ctx.store->Update(
        [&](state::State& s) {
          const state::ResourceState* old = s.FindDeposed(c.address, key);
          if (!old || s.Find(c.address)) return;
          state::ResourceState r = *old;
          r.deposed_key.clear();
          s.RemoveDeposed(c.address, key);
          s.Upsert(std::move(r));
        },
        d);
    diags.Append(d);
  }

  bool RunDelete(dag::NodeId n, const ResourceChange& c, const ApplyOp& op, Provider* p) {
    json attrs;
    if (!op.deposed_key.empty()) {
      // A deposed object: the old one of a create-before-destroy
      // replacement (this walk's, or one a previous apply left behind).
      std::optional<state::ResourceState> old;
      ctx.store->Read([&](const state::State& s) {
        if (const auto* r = s.FindDeposed(c.address, op.deposed_key)) old = *r;
      });
      if (old) attrs = old->attributes;
      else if (c.prior) attrs = c.prior->attributes;
      else return true;
    } else {
      auto r = saver.CurrentOf(c.address);
      if (!r) return true;  // already gone
      attrs = r->attributes;
    }
    DeleteResponse resp = p->Delete({BareKind(c.kind), c.address, attrs});
    Stamp(&ApplyOpTiming::provider_done, n);
    if (HasErrors(resp.diagnostics)) {
      AddError(c, ProviderErrors(resp.diagnostics));
      return false;
    }
    if (!op.deposed_key.empty()) saver.RemoveDeposed(c.address, c.range, op.deposed_key);
    else saver.Commit(c.address, c.range, std::nullopt, false);
    return true;
  }

  void Run(dag::NodeId n) {
    const ApplyOp& op = ops[n];
    const ResourceChange& c = plan.changes[op.change];
    const char* verb = op.kind == ApplyOp::kCreate ? "Creating" : op.kind == ApplyOp::kUpdate ? "Modifying" : "Destroying";
    const char* done = op.kind == ApplyOp::kCreate ? "Creation" : op.kind == ApplyOp::kUpdate ? "Modifications" : "Destruction";
    Log(c.address + ": " + verb + "..." +
        (op.deposed_key.empty() ? "" : " (deposed object " + op.deposed_key + ")"));
    auto t0 = Clock::now();
    bool ok = false;
    if (Provider* p = GetProvider(c)) {
      {
        std::lock_guard<std::mutex> lock(mu);
        ++active[p];
      }
      switch (op.kind) {
        case ApplyOp::kCreate: {
          if (!op.depose_key.empty() && !Depose(c, op.depose_key)) break;
          bool created = false;
          ok = RunCreate(n, c, p, &created);
          // Nothing new was made: the old object is current again.
          if (!ok && !created && !op.depose_key.empty()) Undepose(c, op.depose_key);
          break;
        }
        case ApplyOp::kUpdate: ok = RunUpdate(n, c, p); break;
        case ApplyOp::kDelete: ok = RunDelete(n, c, op, p); break;
      }
      std::lock_guard<std::mutex> lock(mu);
      if (--active[p] == 0) active.erase(p);
    }
    std::string elapsed = Elapsed(Clock::now() - t0);
    if (!ok) {
      Log(c.address + ": " + done + " failed after " + elapsed);
      Finish(n, false);
      return;
    }
    std::string id;
    if (op.kind != ApplyOp::kDelete && options.log) {
      if (auto r = saver.CurrentOf(c.address))
        if (r->attributes.contains("id") && r->attributes["id"].is_string())
          id = " [id=" + r->attributes["id"].get<std::string>() + "]";
    }
    Log(c.address + ": " + done + " complete after " + elapsed + id);
    Finish(n, true);
  }

  // ---- The scheduler ----

  // The ready nodes and the ranks, before the workers start; false when
  // there is nothing to do.
  bool Prepare() {
    size_t n = graph.size();
    waiting.resize(n);
    unstarted.resize(n);
    node_state.assign(n, NodeState::kPending);
    trace = options.timings != nullptr;
    if (trace) timing.assign(n, ApplyOpTiming{});
    priority = graph.RemainingPath();
    std::vector<dag::NodeId> by_name(n);
    for (dag::NodeId i = 0; i < n; ++i) by_name[i] = i;
    std::sort(by_name.begin(), by_name.end(),
              [&](dag::NodeId a, dag::NodeId b) { return graph.Name(a) < graph.Name(b); });
    rank.resize(n);
    for (size_t i = 0; i < n; ++i) rank[by_name[i]] = static_cast<uint32_t>(i);
    std::vector<dag::NodeId> first_intents;
    for (dag::NodeId i = 0; i < n; ++i) {
      waiting[i] = unstarted[i] = static_cast<uint32_t>(graph.Predecessors(i).size());
      if (waiting[i] == 0) {
        ready.push({priority[i], rank[i], i});
        Stamp(&ApplyOpTiming::ready, i);
        if (ctx.journal && ops[i].kind == ApplyOp::kCreate) first_intents.push_back(i);
      }
    }
    if (n == 0) {
      finished = true;
      return false;
    }
    syncer.Start();
    saver.Start();
    // The creates that can start at once share one sync.
    syncer.Announce(first_intents);
    return true;
  }

  void Finish(dag::NodeId n, bool ok) {
    std::lock_guard<std::mutex> lock(mu);
    --in_flight;
    started.erase(n);
    node_state[n] = ok ? NodeState::kDone : NodeState::kFailed;
    if (cancel_sent) ++result.aborted;
    Stamp(&ApplyOpTiming::finished, n);
    if (ok) {
      ++result.succeeded;
      // This worker takes the best ready node itself as soon as it
      // returns; one more worker is woken for each other node released.
      bool first = true;
      for (dag::NodeId m : graph.Successors(n)) {
        if (--waiting[m] != 0) continue;
        ready.push({priority[m], rank[m], m});
        Stamp(&ApplyOpTiming::ready, m);
        if (!first) work_cv.notify_one();
        first = false;
      }
    } else {
      ++result.failed;
    }
    if (in_flight == 0 && (ready.empty() || Interrupt() > 0)) {
      finished = true;
      work_cv.notify_all();
      ticker_cv.notify_all();
    }
  }

  void Worker() {
    std::vector<dag::NodeId> announce;
    std::unique_lock<std::mutex> lock(mu);
    while (true) {
      // The timeout only matters for Ctrl-C, which arrives without a notify.
      work_cv.wait_for(lock, std::chrono::milliseconds(100), [&] {
        return finished || (!ready.empty() && Interrupt() == 0) || (Interrupt() > 0 && in_flight == 0);
      });
      if (finished) return;
      if (Interrupt() > 0) {
        if (in_flight == 0) {
          finished = true;
          work_cv.notify_all();
          ticker_cv.notify_all();
          return;
        }
        continue;
      }
      if (ready.empty()) continue;
      dag::NodeId n = ready.top().node;
      ready.pop();
      node_state[n] = NodeState::kRunning;
      ++in_flight;
      started[n] = Clock::now();
      Stamp(&ApplyOpTiming::started, n);
      // Journal one step ahead: a create all of whose dependencies have
      // started gets its intent written now, to be durable by the time the
      // last of them finishes.
      announce.clear();
      if (ctx.journal) {
        for (dag::NodeId m : graph.Successors(n))
          if (--unstarted[m] == 0 && ops[m].kind == ApplyOp::kCreate) announce.push_back(m);
      }
      lock.unlock();
      syncer.Announce(announce);
      Run(n);
      lock.lock();
    }
  }

  // Prints "Still creating... [10s elapsed]" for long operations, and on a
  // second interrupt asks the providers with calls in flight to abort them.
  void Ticker() {
    std::unique_lock<std::mutex> lock(mu);
    std::map<dag::NodeId, int> reported;
    while (!finished) {
      ticker_cv.wait_for(lock, std::chrono::milliseconds(100));
      if (finished) break;
      if (Interrupt() >= 2 && !cancel_sent) {
        cancel_sent = true;  // Finish counts each aborted operation from now on
        std::vector<Provider*> providers;
        for (const auto& [p, count] : active) providers.push_back(p);
        lock.unlock();
        Log("Second interrupt: asking providers to abort the operations in flight...");
        for (Provider* p : providers) p->Cancel();
        lock.lock();
        continue;
      }
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

  // Runs the workers and the ticker until every node is done, failed or
  // (after a failure or an interrupt) left pending.
  void RunWorkers() {
    size_t n = graph.size();
    int workers = std::max(1, std::min<int>(options.parallelism, static_cast<int>(n)));
    std::vector<std::thread> threads;
    for (int i = 0; i < workers; ++i) threads.emplace_back([this] { Worker(); });
    std::thread ticker([this] { Ticker(); });
    for (auto& t : threads) t.join();
    {
      std::lock_guard<std::mutex> lock(mu);
      finished = true;
      ticker_cv.notify_all();
    }
    ticker.join();
  }

  // The last state write, then the journal: begun creates that were never
  // sent are closed (nothing to recover for them).
  void Drain() {
    saver.Stop();
    syncer.Stop();
    syncer.CloseUnsent([this](size_t i) { return plan.changes[ops[i].change].address; });
    if (saver.failed()) ++result.failed;
  }

  // Counts the nodes never started; W0903 names them after a failure.
  void Summarize() {
    size_t n = graph.size();
    std::vector<std::string> names;
    for (dag::NodeId i = 0; i < n; ++i) {
      if (node_state[i] != NodeState::kPending) continue;
      ++result.skipped;
      names.push_back(graph.Name(i));
    }
    result.interrupted = Interrupt() > 0 && (result.skipped > 0 || result.aborted > 0);
    if (result.skipped > 0 && !result.interrupted && result.failed > 0) {
      std::sort(names.begin(), names.end());
      std::string list;
      for (const auto& s : names) list += (list.empty() ? "" : ", ") + s;
      Diagnostics d;
      d.Warning("W0903", {}, "skipped because something they depend on failed: " + list);
      diags.Append(d);
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
  state::State snapshot = ctx.store->Current();
  // A destroy clears the outputs, unless it was targeted and resources
  // remain: then the outputs that can still be computed from them stay.
  if (plan.mode == PlanMode::kDestroy && (snapshot.resources.empty() || !ctx.config)) {
    ctx.store->Update([](state::State& s) { s.outputs.clear(); }, diags);
    return;
  }
  if (!ctx.config || plan.mode == PlanMode::kRefreshOnly) return;
  ResourceLookup lookup = [&snapshot](const std::string& a) -> const json* {
    const auto* r = snapshot.Find(a);
    return r ? &r->attributes : nullptr;
  };
  Diagnostics d;
  ConfigGraph g = ctx.config->Evaluate(lookup, d);
  if (d.HasErrors()) {
    if (plan.mode == PlanMode::kDestroy) ctx.store->Update([](state::State& s) { s.outputs.clear(); }, diags);
    else diags.Append(d);
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
  std::vector<ApplyOp> ops;
  dag::Graph graph = BuildApplyGraph(plan, &ops, diags);
  if (diags.HasErrors()) {
    ApplyResult failed;
    failed.failed = 1;
    return failed;
  }
  AdoptRefreshed(plan, ctx, diags);
  Walk w(plan, ctx, options, diags, std::move(ops), std::move(graph));
  if (w.Prepare()) w.RunWorkers();
  w.Drain();
  w.Summarize();
  SaveOutputs(plan, ctx, diags);
  if (ctx.journal) ctx.journal->Compact(diags);
  if (options.timings) *options.timings = std::move(w.timing);
  return w.result;
}

}  // namespace kiln::planner
