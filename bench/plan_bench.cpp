// Planner benchmarks (figures reported in docs/architecture.md):
//  1. plan of 10,000 unchanged resources with --refresh=false (goal < 1 s);
//  2. refresh of 10,000 resources, 10 ms per read, parallelism 16
//     (goal: within 20% of 10,000 x 10 ms / 16 = 6.25 s);
//  3. apply of a 1,000-node DAG, 20 ms per operation, parallelism 16
//     (goal: within 10% of the critical-path bound).
// Usage: plan_bench [N=10000] [DAG_NODES=1000]
// Each apply also prints where the time of its critical chain went.
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <functional>
#include <random>
#include <thread>

#include "planner/planner.h"
#include "providers/testing/fake_provider.h"

using namespace kiln;
using namespace kiln::planner;
using nlohmann::json;
using Clock = std::chrono::steady_clock;

namespace {

class BenchConfig : public CompiledConfig {
 public:
  ConfigGraph graph;
  ConfigGraph Evaluate(const ResourceLookup&, Diagnostics&) const override { return graph; }
  std::optional<ResourceInstance> EvaluateInstance(const std::string& a, const ResourceLookup&,
                                                   Diagnostics&) const override {
    const ResourceInstance* r = graph.Find(a);
    if (!r) return std::nullopt;
    return *r;
  }
  std::string ConfigHash() const override { return "bench"; }
};

ResourceInstance Thing(int i, std::vector<std::string> deps = {}) {
  char name[32];
  snprintf(name, sizeof name, "t%05d", i);
  ResourceInstance r;
  r.address = std::string("fake.thing.") + name;
  r.kind = "fake.thing";
  r.name = name;
  r.provider = "provider.fake";
  r.provider_type = "fake";
  r.config = {{"name", name}, {"count", i}, {"tags", {{"team", "ml"}, {"tier", i % 3}}}};
  r.depends_on = std::move(deps);
  return r;
}

double Seconds(Clock::duration d) { return std::chrono::duration<double>(d).count(); }

// Where the time of the critical path went: the chain of operations that
// ended last, each released by the predecessor that finished last, with
// the mean per step of each phase (ApplyOpTiming).
void PrintPhases(const dag::Graph& g, const std::vector<ApplyOpTiming>& t, Clock::time_point t0,
                 Clock::time_point t1) {
  if (t.size() != g.size() || t.empty()) return;
  auto first = t[0].started, last = t[0].finished;
  for (const auto& x : t) {
    first = std::min(first, x.started);
    last = std::max(last, x.finished);
  }
  std::printf("  start-up (call to first operation) %.1f ms, wind-down (last operation to return) %.1f ms\n",
              Seconds(first - t0) * 1000, Seconds(t1 - last) * 1000);
  dag::NodeId n = 0;
  for (dag::NodeId i = 1; i < g.size(); ++i)
    if (t[i].finished > t[n].finished) n = i;
  double queue = 0, intent = 0, provider = 0, after = 0, release = 0;
  int steps = 0;
  double ms = 1000.0;
  while (true) {
    ++steps;
    queue += Seconds(t[n].started - t[n].ready) * ms;
    auto sent = t[n].intent_durable.time_since_epoch().count() ? t[n].intent_durable : t[n].started;
    intent += Seconds(sent - t[n].started) * ms;
    provider += Seconds(t[n].provider_done - sent) * ms;
    after += Seconds(t[n].finished - t[n].provider_done) * ms;
    if (g.Predecessors(n).empty()) {
      release += Seconds(t[n].ready - t0) * ms;  // start-up
      break;
    }
    dag::NodeId p = g.Predecessors(n)[0];
    for (dag::NodeId q : g.Predecessors(n))
      if (t[q].finished > t[p].finished) p = q;
    release += Seconds(t[n].ready - t[p].finished) * ms;
    n = p;
  }
  std::printf("  critical chain: %d steps; per step: queue %.3f ms, intent %.3f ms, provider %.3f ms "
              "(20 ms asked), after %.3f ms, release %.3f ms\n",
              steps, queue / steps, intent / steps, provider / steps, after / steps, release / steps);
}

struct Env {
  std::filesystem::path dir;
  std::unique_ptr<testing::FakeProvider> fake;
  MapProviderSource providers;
  std::unique_ptr<state::StateStore> store;
  std::unique_ptr<state::Journal> journal;
  BenchConfig config;

  explicit Env(const std::string& name, testing::FakeOptions o) {
    dir = std::filesystem::temp_directory_path() / ("kiln-bench-" + name);
    std::filesystem::remove_all(dir);
    std::filesystem::create_directories(dir);
    fake = std::make_unique<testing::FakeProvider>(o);
    providers.Add("provider.fake", fake.get());
    Reopen();
  }
  ~Env() { std::filesystem::remove_all(dir); }
  void Reopen() {
    store = std::make_unique<state::StateStore>((dir / "state.json").string());
    journal = std::make_unique<state::Journal>(store->journal_path());
    state::State s;
    Diagnostics d;
    if (!store->Load(&s, d)) std::fprintf(stderr, "load failed\n");
  }
  // KILN_BENCH_NO_JOURNAL=1 measures the walk without the intent journal.
  PlanContext Ctx() {
    return PlanContext{&config, &providers, store.get(), std::getenv("KILN_BENCH_NO_JOURNAL") ? nullptr : journal.get()};
  }
};

// Applies a DAG of `nodes` creates at 20 ms each, parallelism 16, where
// `deps_of(i, rng)` lists the earlier nodes node i depends on, and prints
// the time against the critical-path (or work) bound.
void ApplyDag(const char* env_name, const char* what, int nodes,
              const std::function<std::vector<int>(int, std::mt19937&)>& deps_of) {
  testing::FakeOptions o;
  o.apply_ms = 20;
  Env dag(env_name, o);
  std::mt19937 rng(42);
  for (int i = 0; i < nodes; ++i) {
    std::vector<std::string> deps;
    for (int d : deps_of(i, rng)) deps.push_back(Thing(d).address);
    std::sort(deps.begin(), deps.end());
    deps.erase(std::unique(deps.begin(), deps.end()), deps.end());
    dag.config.graph.resources.push_back(Thing(i, deps));
  }
  std::sort(dag.config.graph.resources.begin(), dag.config.graph.resources.end(),
            [](const auto& a, const auto& b) { return a.address < b.address; });
  Diagnostics d;
  Plan p = MakePlan(dag.Ctx(), {}, d);
  std::vector<ApplyOp> ops;
  dag::Graph g = BuildApplyGraph(p, &ops, d);
  const int parallelism = 16;
  double cp = g.CriticalPath() * 0.020;
  double work = g.size() * 0.020 / parallelism;
  double bound = std::max(cp, work);
  ApplyOptions ao;
  ao.parallelism = parallelism;
  std::vector<ApplyOpTiming> timings;
  ao.timings = &timings;
  auto t0 = Clock::now();
  ApplyResult r = ApplyPlan(p, dag.Ctx(), ao, d);
  auto t1 = Clock::now();
  double s = Seconds(t1 - t0);
  std::printf("apply of a %zu-node %s, 20 ms per op, parallelism %d: %.3f s (critical path %.0f ops = %.3f s, work bound %.3f s; %+.1f%% over the bound; goal within 10%%; ok=%d, max concurrent %d)\n",
              g.size(), what, parallelism, s, g.CriticalPath(), cp, work, (s / bound - 1) * 100, r.ok(),
              dag.fake->MaxConcurrent());
  PrintPhases(g, timings, t0, t1);
}

}  // namespace

int main(int argc, char** argv) {
  setvbuf(stdout, nullptr, _IOLBF, 0);
  int n = argc > 1 ? std::atoi(argv[1]) : 10000;
  int dag_nodes = argc > 2 ? std::atoi(argv[2]) : 1000;

  // Setup: N resources applied with no latency.
  testing::FakeOptions quick;
  Env env("plan", quick);
  for (int i = 0; i < n; ++i) env.config.graph.resources.push_back(Thing(i));
  {
    // Objects made directly through the provider and recorded with one
    // save: applying 10,000 creates would save the state 10,000 times.
    auto t0 = Clock::now();
    state::State st = env.store->Current();
    for (const auto& r : env.config.graph.resources) {
      PlanResponse pr = env.fake->Plan({"thing", r.address, nullptr, r.config});
      ApplyResponse ar = env.fake->Apply({"thing", r.address, nullptr, pr.planned, r.config, nullptr});
      state::ResourceState rs;
      rs.address = r.address;
      rs.kind = r.kind;
      rs.name = r.name;
      rs.provider = r.provider;
      rs.provider_type = r.provider_type;
      rs.attributes = ar.state;
      st.resources.push_back(rs);
    }
    Diagnostics d;
    if (!env.store->Save(st, d)) return 1;
    std::printf("setup: %d objects recorded in %.2f s\n", n, Seconds(Clock::now() - t0));
  }
  env.Reopen();

  // 1. Plan, no refresh.
  {
    PlanOptions o;
    o.refresh = false;
    Diagnostics d;
    auto t0 = Clock::now();
    Plan p = MakePlan(env.Ctx(), o, d);
    double s = Seconds(Clock::now() - t0);
    std::printf("plan of %d unchanged resources, --refresh=false: %.3f s (changes: %s; goal < 1 s)\n", n, s,
                p.HasChanges() ? "yes (BUG)" : "none");
  }

  // 2. Refresh with 10 ms reads at parallelism 16.
  {
    // Measure refresh through a provider wrapper that sleeps 10 ms per read.
    struct SlowRead : public Provider {
      Provider* inner;
      explicit SlowRead(Provider* p) : inner(p) {}
      const ProviderSchema& Schema() const override { return inner->Schema(); }
      ConfigureResponse Configure(const ConfigureRequest& r) override { return inner->Configure(r); }
      ValidateResponse Validate(const ValidateRequest& r) override { return inner->Validate(r); }
      PlanResponse Plan(const PlanRequest& r) override { return inner->Plan(r); }
      ApplyResponse Apply(const ApplyRequest& r) override { return inner->Apply(r); }
      ReadResponse Read(const ReadRequest& r) override {
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
        return inner->Read(r);
      }
      DeleteResponse Delete(const DeleteRequest& r) override { return inner->Delete(r); }
      ImportResponse Import(const ImportRequest& r) override { return inner->Import(r); }
      std::string Origin() const override { return "bench"; }
    } slow_provider(env.fake.get());
    MapProviderSource slow_src;
    slow_src.Add("provider.fake", &slow_provider);
    PlanContext ctx{&env.config, &slow_src, env.store.get(), env.journal.get()};
    PlanOptions o;
    o.parallelism = 16;
    o.mode = PlanMode::kRefreshOnly;
    Diagnostics d;
    double ideal = n * 0.010 / 16;
    auto t0 = Clock::now();
    Plan ro = MakePlan(ctx, o, d);
    double rs = Seconds(Clock::now() - t0);
    std::printf("refresh of %d resources (--refresh-only), 10 ms per read, parallelism 16: %.3f s (ideal %.3f s, %+.1f%%; goal within 20%%)\n",
                n, rs, ideal, (rs / ideal - 1) * 100);
    o.mode = PlanMode::kNormal;
    t0 = Clock::now();
    Plan p = MakePlan(ctx, o, d);
    double s = Seconds(Clock::now() - t0);
    std::printf("refresh+plan of %d resources, 10 ms per read, parallelism 16: %.3f s (ideal %.3f s, %+.1f%%; goal within 20%%; drift: %zu)\n",
                n, s, ideal, (s / ideal - 1) * 100, p.drift.size());
  }

  // 3. Apply of a DAG with 20 ms per operation: mostly local dependencies
  // (chains of realistic depth with fan-in) ...
  ApplyDag("dag", "DAG", dag_nodes, [](int i, std::mt19937& rng) {
    std::vector<int> deps;
    for (int k = 0; k < 2 && i > 0; ++k) {
      if (rng() % 4 == 0) continue;
      deps.push_back(i - 1 - static_cast<int>(rng() % std::min(i, 60)));
    }
    return deps;
  });
  // 3b. ... and a layered DAG (width 8), where the critical path is the bound.
  ApplyDag("dag2", "layered DAG", dag_nodes, [](int i, std::mt19937& rng) {
    const int width = 8;
    std::vector<int> deps;
    if (i < width) return deps;
    int layer_start = (i / width - 1) * width;
    deps.push_back(layer_start + static_cast<int>(rng() % width));
    deps.push_back(layer_start + static_cast<int>(rng() % width));
    return deps;
  });
  return 0;
}
