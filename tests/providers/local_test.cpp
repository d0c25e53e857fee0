// The built-in local provider: nvidia-smi parsing from sample text, GPU
// reservations, and jobs and endpoints as real processes.
#include <gtest/gtest.h>
#include <signal.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <thread>

#include "providers/local/gpus.h"
#include "providers/local/local_provider.h"
#include "providers/local/system.h"
#include "providers/registry.h"

namespace kiln {
namespace {

namespace fs = std::filesystem;
using json = nlohmann::json;

std::string TempDir(const std::string& tag) {
  std::string t = (fs::temp_directory_path() / ("kiln-local-" + tag + "-XXXXXX")).string();
  char* d = mkdtemp(t.data());
  return d ? std::string(d) : "";
}

std::string AllText(const ProviderDiagnostics& diags) {
  std::string s;
  for (const auto& d : diags) s += d.summary + " | " + d.detail + "\n";
  return s;
}

std::string ReadFile(const std::string& p) {
  std::ifstream in(p);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

const char* kSmiSample =
    "0, NVIDIA H100 80GB HBM3, GPU-3b1f6c2e-aaaa-bbbb-cccc-000000000000, 81559\n"
    "1, NVIDIA H100 80GB HBM3, GPU-3b1f6c2e-aaaa-bbbb-cccc-000000000001, 81559\n"
    "2, NVIDIA A100-SXM4-80GB, GPU-11111111-2222-3333-4444-555555555555, 81920\n"
    "3, Tesla T4, GPU-t4, 15360\n"
    "4, NVIDIA Quantum Widget, GPU-qw, 1024\n"
    "garbage line without commas\n";

// ------------------------------------------------------------ GPUs

TEST(LocalGpus, CatalogNamesComeFromStdlib) {
  const auto& c = local::GpuCatalog::Default();
  ASSERT_FALSE(c.empty()) << "stdlib/gpus.kiln not found";
  EXPECT_EQ(c.Normalize("NVIDIA H100 80GB HBM3"), "H100");
  EXPECT_EQ(c.Normalize("NVIDIA H200"), "H200");
  EXPECT_EQ(c.Normalize("h100"), "H100");
  EXPECT_EQ(c.Normalize("A100"), "A100-40GB");
  EXPECT_EQ(c.Normalize("NVIDIA A100-SXM4-80GB"), "A100-80GB");
  EXPECT_EQ(c.Normalize("Radeon 9000"), "");
  EXPECT_EQ(c.Memory("H100"), 80LL << 30);
}

TEST(LocalGpus, ParsesNvidiaSmiOutput) {
  std::vector<std::string> warnings;
  auto gpus = local::ParseNvidiaSmi(kSmiSample, local::GpuCatalog::Default(), &warnings);
  ASSERT_EQ(gpus.size(), 5u);
  EXPECT_EQ(gpus[0].index, 0);
  EXPECT_EQ(gpus[0].model, "H100");
  EXPECT_EQ(gpus[0].memory, 81559LL << 20);
  EXPECT_EQ(gpus[1].uuid, "GPU-3b1f6c2e-aaaa-bbbb-cccc-000000000001");
  EXPECT_EQ(gpus[2].model, "A100-80GB");
  EXPECT_EQ(gpus[3].model, "T4");
  EXPECT_EQ(gpus[4].model, "NVIDIA Quantum Widget");  // kept under its own name
  ASSERT_EQ(warnings.size(), 2u);
  EXPECT_NE(warnings[0].find("not in the GPU catalog"), std::string::npos);
  EXPECT_NE(warnings[1].find("cannot parse nvidia-smi line"), std::string::npos);
}

TEST(LocalGpus, SimulatedSpec) {
  std::vector<local::LocalGpu> gpus;
  std::string error;
  ASSERT_TRUE(local::ParseSimulatedGpus("H100:2, L4", local::GpuCatalog::Default(), &gpus, &error)) << error;
  ASSERT_EQ(gpus.size(), 3u);
  EXPECT_EQ(gpus[2].model, "L4");
  EXPECT_EQ(gpus[2].index, 2);
  gpus.clear();
  EXPECT_FALSE(local::ParseSimulatedGpus("H1000:2", local::GpuCatalog::Default(), &gpus, &error));
  EXPECT_EQ(error, "unknown GPU model `H1000` in simulate_gpus");
  EXPECT_FALSE(local::ParseSimulatedGpus("H100:x", local::GpuCatalog::Default(), &gpus, &error));
}

// A system whose nvidia-smi prints the sample; everything else is real.
class FakeSmi : public local::System {
 public:
  bool RunCapture(const std::vector<std::string>& argv, int, std::string* out, int* code) override {
    calls.push_back(argv);
    *out = kSmiSample;
    *code = 0;
    return true;
  }
  pid_t SpawnDetached(const local::SpawnSpec& s, std::string* e) override { return real->SpawnDetached(s, e); }
  bool Alive(pid_t p) override { return real->Alive(p); }
  void KillSession(pid_t s, int sig) override { real->KillSession(s, sig); }
  int64_t NowMs() override { return real->NowMs(); }
  void SleepMs(int64_t ms) override { real->SleepMs(ms); }
  int HttpGet(const std::string& u, int t) override { return real->HttpGet(u, t); }
  int FreePort() override { return real->FreePort(); }
  std::vector<std::vector<std::string>> calls;
  std::shared_ptr<local::System> real = local::RealSystem();
};

TEST(LocalProvider, InventoryFromNvidiaSmi) {
  std::string root = TempDir("inv");
  auto sys = std::make_shared<FakeSmi>();
  auto p = NewLocalProvider(sys);
  auto cr = p->Configure({{{"root", root}}});
  ASSERT_EQ(sys->calls.size(), 1u);
  EXPECT_EQ(sys->calls[0][1], "--query-gpu=index,name,uuid,memory.total");
  EXPECT_EQ(cr.diagnostics.size(), 2u);  // the two warnings, no errors
  EXPECT_FALSE(HasErrors(cr.diagnostics));
  auto inv = p->Inventory();
  EXPECT_FALSE(inv.simulated);
  ASSERT_EQ(inv.nodes.size(), 1u);
  auto& g = inv.nodes[0].gpus;
  ASSERT_EQ(g.size(), 4u);  // by model, sorted
  EXPECT_EQ(g[1].model, "H100");
  EXPECT_EQ(g[1].count, 2);
  EXPECT_EQ(g[1].free, 2);
  fs::remove_all(root);
}

// ------------------------------------------------------------ provider fixture

class Local : public ::testing::Test {
 protected:
  void SetUp() override {
    setenv("KILN_EXE", KILN_BINARY, 1);  // the supervisor of jobs
    root_ = TempDir("p");
    p_ = NewLocalProvider();
    auto cr = p_->Configure({{{"root", root_}, {"simulate_gpus", "H100:4"}}});
    ASSERT_FALSE(HasErrors(cr.diagnostics)) << AllText(cr.diagnostics);
  }
  void TearDown() override {
    p_.reset();
    fs::remove_all(root_);
  }
  // plan + apply a create, expecting success.
  json Create(const std::string& kind, const std::string& address, const json& config,
              std::vector<std::string>* progress = nullptr) {
    auto plan = p_->Plan({kind, address, nullptr, config});
    EXPECT_FALSE(HasErrors(plan.diagnostics)) << AllText(plan.diagnostics);
    ApplyRequest req{kind, address, nullptr, plan.planned, config, nullptr};
    if (progress) req.progress = [progress](const std::string& m) { progress->push_back(m); };
    auto r = p_->Apply(req);
    EXPECT_FALSE(HasErrors(r.diagnostics)) << AllText(r.diagnostics);
    return r.state;
  }
  json Job(const json& command, bool wait) {
    return {{"command", command}, {"env", {{"GREETING", "hi"}}}, {"secrets", {{"TOKEN", "s3cret"}}},
            {"wait", wait}, {"image", nullptr}, {"gpu", nullptr}, {"cluster", nullptr}};
  }
  std::string root_;
  std::unique_ptr<Provider> p_;
};

TEST_F(Local, ClusterReservationsDoNotOverlapAndMisfitsFailAtPlan) {
  json a = Create("cluster", "cluster.a", {{"gpu", {{"model", "H100"}, {"count", 3}}}, {"nodes", 1}});
  EXPECT_EQ(a["gpu_indices"], json({0, 1, 2}));
  EXPECT_EQ(a["simulated"], true);
  EXPECT_EQ(a["status"], "ready");

  auto plan_b = p_->Plan({"cluster", "cluster.b", nullptr, {{"gpu", "H100:2"}}});
  ASSERT_TRUE(HasErrors(plan_b.diagnostics));
  EXPECT_EQ(plan_b.diagnostics[0].summary,
            "cluster needs 2 × H100 but only 1 of 4 are free (reserved by cluster.a)");
  EXPECT_EQ(plan_b.diagnostics[0].attribute, Path{"gpu"});
  auto plan_c = p_->Plan({"cluster", "cluster.c", nullptr, {{"gpu", "A100:1"}}});
  ASSERT_TRUE(HasErrors(plan_c.diagnostics));
  EXPECT_EQ(plan_c.diagnostics[0].summary, "cluster needs 1 × A100-40GB but this machine has 0 (simulated)");
  auto inv = p_->Inventory();
  EXPECT_TRUE(inv.simulated);
  EXPECT_EQ(inv.nodes[0].gpus[0].free, 1);

  // Unchanged: no replacement, computed values carried over.
  auto again = p_->Plan({"cluster", "cluster.a", a, {{"gpu", {{"model", "H100"}, {"count", 3}}}, {"nodes", 1}}});
  EXPECT_TRUE(again.requires_replace.empty());
  EXPECT_EQ(again.planned["gpu_indices"], json({0, 1, 2}));

  // A reservation survives a new provider object (a later kiln run).
  auto p2 = NewLocalProvider();
  p2->Configure({{{"root", root_}, {"simulate_gpus", "H100:4"}}});
  EXPECT_EQ(p2->Read({"cluster", "cluster.a", nullptr}).state["gpu_indices"], json({0, 1, 2}));

  EXPECT_FALSE(HasErrors(p_->Delete({"cluster", "cluster.a", a}).diagnostics));
  EXPECT_TRUE(p_->Read({"cluster", "cluster.a", a}).state.is_null());
  auto plan_b2 = p_->Plan({"cluster", "cluster.b", nullptr, {{"gpu", "H100:2"}}});
  EXPECT_FALSE(HasErrors(plan_b2.diagnostics)) << AllText(plan_b2.diagnostics);

  // A node range is N nodes of this machine (the minimum; no autoscaling).
  auto v = p_->Validate({"cluster", "cluster.big", {{"nodes", {{"min", 1}, {"max", 4}}}}});
  ASSERT_EQ(v.diagnostics.size(), 1u);
  EXPECT_EQ(v.diagnostics[0].severity, Severity::kWarning);
  EXPECT_EQ(v.diagnostics[0].attribute, Path{"nodes"});
  json two = Create("cluster", "cluster.two", {{"gpu", "H100:1"}, {"nodes", 2}});
  EXPECT_EQ(two["gpu_indices"], json({0, 1}));
}

TEST_F(Local, DatastoreIsADirectoryKeptWhileItHoldsData) {
  json ds = Create("datastore", "datastore.ckpt", {{"type", "filesystem"}, {"force_destroy", false}});
  std::string path = ds["id"];
  EXPECT_EQ(ds["uri"], "file://" + path);
  EXPECT_EQ(path, root_ + "/datastores/" + fs::path(path).filename().string());
  EXPECT_EQ(ReadFile(path + "/.kiln-address"), "datastore.ckpt\n");
  EXPECT_EQ(p_->Read({"datastore", "datastore.ckpt", nullptr}).state["id"], path);  // recovery
  std::ofstream(path + "/weights.bin") << "1234";
  auto del = p_->Delete({"datastore", "datastore.ckpt", ds});
  ASSERT_TRUE(HasErrors(del.diagnostics));
  EXPECT_NE(del.diagnostics[0].summary.find("holds data"), std::string::npos);
  EXPECT_TRUE(fs::exists(path + "/weights.bin"));
  ds["force_destroy"] = true;
  EXPECT_FALSE(HasErrors(p_->Delete({"datastore", "datastore.ckpt", ds}).diagnostics));
  EXPECT_FALSE(fs::exists(path));
  EXPECT_TRUE(p_->Read({"datastore", "datastore.ckpt", ds}).state.is_null());
}

TEST_F(Local, JobThatExitsZeroGetsItsEnvironment) {
  json cluster = Create("cluster", "cluster.pool", {{"gpu", "H100:2"}});
  json out = Create("datastore", "datastore.out", {{"path", root_ + "/out"}});
  json in = Create("datastore", "datastore.data", {{"path", root_ + "/data"}});
  json cfg = Job("echo $GREETING; echo \"$CUDA_VISIBLE_DEVICES|$KILN_INPUT_TRAIN_DATA|$TOKEN\" > $KILN_OUTPUT/env.txt", true);
  cfg["cluster"] = cluster;
  cfg["output"] = out;
  cfg["inputs"] = {{"train-data", in}};
  std::vector<std::string> progress;
  json s = Create("training_job", "training_job.ok", cfg, &progress);
  EXPECT_EQ(s["status"], "succeeded");
  EXPECT_EQ(s["exit_code"], 0);
  EXPECT_EQ(s["checkpoint"], "file://" + root_ + "/out");
  EXPECT_EQ(ReadFile(root_ + "/out/env.txt"), "0,1|" + root_ + "/data|s3cret\n");
  EXPECT_EQ(ReadFile(s["log"]), "hi\n");
  ASSERT_FALSE(progress.empty());
  EXPECT_EQ(progress[0].rfind("started on GPUs 0,1, log ", 0), 0u) << progress[0];
  // Secrets are not written to the local root in clear.
  EXPECT_EQ(ReadFile(root_ + "/jobs/" + s["id"].get<std::string>() + "/state.json").find("s3cret"),
            std::string::npos);
  // Unchanged config: nothing to replace; a changed command replaces.
  EXPECT_TRUE(p_->Plan({"training_job", "training_job.ok", s, cfg}).requires_replace.empty());
  json cfg2 = cfg;
  cfg2["command"] = "true";
  auto r = p_->Plan({"training_job", "training_job.ok", s, cfg2}).requires_replace;
  ASSERT_EQ(r.size(), 1u);
  EXPECT_EQ(r[0], Path{"command"});
}

TEST_F(Local, ReferencesByAddressResolveWithinTheModule) {
  // The planner may pass a reference as the referenced resource's address.
  Create("cluster", "module.m.cluster.pool", {{"gpu", "H100:3"}});
  json out = Create("datastore", "module.m.datastore.out", json::object());
  json cfg = Job("echo \"$CUDA_VISIBLE_DEVICES\" > $KILN_OUTPUT/gpus.txt", true);
  cfg["cluster"] = "cluster.pool";
  cfg["output"] = "datastore.out";
  cfg["gpu"] = "H100:2";
  json s = Create("training_job", "module.m.training_job.t", cfg);
  EXPECT_EQ(s["status"], "succeeded");
  EXPECT_EQ(ReadFile(out["id"].get<std::string>() + "/gpus.txt"), "0,1\n");
  json bad = cfg;
  bad["output"] = "datastore.nope";
  auto plan = p_->Plan({"training_job", "module.m.training_job.u", nullptr, bad});
  auto r = p_->Apply({"training_job", "module.m.training_job.u", nullptr, plan.planned, bad, nullptr});
  ASSERT_TRUE(HasErrors(r.diagnostics));
  EXPECT_EQ(r.diagnostics[0].attribute, Path{"output"});
}

TEST_F(Local, JobThatExitsThreeFailsApplyWhenWaiting) {
  json cfg = Job("echo about to fail; exit 3", true);
  auto plan = p_->Plan({"training_job", "training_job.bad", nullptr, cfg});
  auto r = p_->Apply({"training_job", "training_job.bad", nullptr, plan.planned, cfg, nullptr});
  ASSERT_TRUE(HasErrors(r.diagnostics));
  EXPECT_EQ(r.diagnostics[0].summary, "training job training_job.bad failed (exit status 3)");
  EXPECT_NE(r.diagnostics[0].detail.find("about to fail"), std::string::npos);
  EXPECT_EQ(r.state["status"], "failed");
  EXPECT_EQ(r.state["exit_code"], 3);
}

TEST_F(Local, DetachedJobStatusIsTrackedAcrossKilnRuns) {
  json s = Create("training_job", "training_job.bg", Job(json::array({"sh", "-c", "sleep 0.6; exit 3"}), false));
  EXPECT_EQ(s["status"], "running");
  EXPECT_TRUE(s["exit_code"].is_null());
  p_.reset();  // kiln exits; the job carries on
  auto p2 = NewLocalProvider();
  p2->Configure({{{"root", root_}}});
  EXPECT_EQ(p2->Read({"training_job", "training_job.bg", s}).state["status"], "running");
  json later;
  for (int i = 0; i < 100; ++i) {
    later = p2->Read({"training_job", "training_job.bg", s}).state;
    if (later["status"] != "running") break;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  EXPECT_EQ(later["status"], "failed");
  EXPECT_EQ(later["exit_code"], 3);
  // Recovery of an interrupted create: found by address with state null.
  json found = p2->Read({"training_job", "training_job.bg", nullptr}).state;
  EXPECT_EQ(found["id"], s["id"]);
  EXPECT_EQ(found["exit_code"], 3);
  EXPECT_TRUE(p2->Read({"training_job", "training_job.other", nullptr}).state.is_null());
}

TEST_F(Local, MaxRuntimeStopsTheJob) {
  json cfg = Job("sleep 30", true);
  cfg["max_runtime"] = 1000;  // ms
  auto start = std::chrono::steady_clock::now();
  auto plan = p_->Plan({"training_job", "training_job.slow", nullptr, cfg});
  auto r = p_->Apply({"training_job", "training_job.slow", nullptr, plan.planned, cfg, nullptr});
  auto secs = std::chrono::duration_cast<std::chrono::seconds>(std::chrono::steady_clock::now() - start).count();
  ASSERT_TRUE(HasErrors(r.diagnostics));
  EXPECT_EQ(r.diagnostics[0].summary,
            "training job training_job.slow failed (it ran longer than max_runtime and was stopped)");
  EXPECT_LT(secs, 10);
}

TEST_F(Local, DeletingARunningJobStopsIt) {
  json s = Create("training_job", "training_job.long", Job("sleep 30 & sleep 30; wait", false));
  pid_t pid = std::stoi(ReadFile(root_ + "/jobs/" + s["id"].get<std::string>() + "/pid"));
  ASSERT_EQ(kill(pid, 0), 0);
  EXPECT_FALSE(HasErrors(p_->Delete({"training_job", "training_job.long", s}).diagnostics));
  EXPECT_FALSE(local::RealSystem()->Alive(pid));
  EXPECT_TRUE(p_->Read({"training_job", "training_job.long", s}).state.is_null());
}

TEST_F(Local, ImageIsAnError) {
  json cfg = Job("true", false);
  cfg["image"] = "ghcr.io/acme/llm:1";
  auto v = p_->Validate({"training_job", "training_job.img", cfg});
  ASSERT_TRUE(HasErrors(v.diagnostics));
  EXPECT_EQ(v.diagnostics[0].attribute, Path{"image"});
  EXPECT_NE(v.diagnostics[0].summary.find("container runtime"), std::string::npos);
}

json ServerConfig(int replicas) {
  return {{"command", "exec python3 -m http.server --bind 127.0.0.1 $PORT"},
          {"model", "file:///models/x"},
          {"replicas", {{"min", replicas}, {"max", replicas}}},
          {"health_check", {{"path", "/"}, {"interval", 1000}, {"timeout", 20000}}},
          {"env", json::object()},
          {"image", nullptr}};
}

TEST_F(Local, EndpointServesAndADeadReplicaIsDriftRepairedInPlace) {
  auto sys = local::RealSystem();
  json s = Create("endpoint", "endpoint.web", ServerConfig(2));
  ASSERT_EQ(s["status"], "ready");
  ASSERT_EQ(s["urls"].size(), 2u);
  EXPECT_NE(s["urls"][0], s["urls"][1]);
  for (const auto& u : s["urls"]) EXPECT_EQ(sys->HttpGet(u.get<std::string>() + "/", 2000), 200);
  // `url` is the proxy in front of them.
  EXPECT_EQ(sys->HttpGet(s["url"].get<std::string>() + "/", 2000), 200);

  // Healthy: read reports the same state, but for the proxy's figures
  // (the endpoint's own progress, not drift).
  auto healthy = p_->Read({"endpoint", "endpoint.web", s});
  EXPECT_TRUE(healthy.progress);
  json same = healthy.state;
  same["traffic"] = s["traffic"];
  EXPECT_EQ(same, s);

  // Kill replica 0 outside kiln: read reports drift.
  json replicas = json::parse(ReadFile(s["log_dir"].get<std::string>() + "/replicas.json"));
  pid_t dead = replicas[0]["pid"];
  pid_t other = replicas[1]["pid"];
  kill(dead, SIGKILL);
  for (int i = 0; i < 50 && sys->Alive(dead); ++i) std::this_thread::sleep_for(std::chrono::milliseconds(20));
  json drift = p_->Read({"endpoint", "endpoint.web", s}).state;
  EXPECT_EQ(drift["status"], "degraded");
  EXPECT_EQ(drift["replicas"]["min"], 1);

  // The plan against the drifted state is an in-place update; apply restarts
  // the dead replica (on a new port behind the same proxy) and leaves the
  // healthy one alone.
  auto plan = p_->Plan({"endpoint", "endpoint.web", drift, ServerConfig(2)});
  EXPECT_TRUE(plan.requires_replace.empty());
  auto up = p_->Apply({"endpoint", "endpoint.web", drift, plan.planned, ServerConfig(2), nullptr});
  ASSERT_FALSE(HasErrors(up.diagnostics)) << AllText(up.diagnostics);
  EXPECT_EQ(up.state["status"], "ready");
  EXPECT_EQ(up.state["url"], s["url"]);
  EXPECT_EQ(up.state["urls"][1], s["urls"][1]);
  json after = json::parse(ReadFile(s["log_dir"].get<std::string>() + "/replicas.json"));
  EXPECT_NE(after[0]["pid"], dead);
  EXPECT_EQ(after[1]["pid"], other);
  EXPECT_EQ(sys->HttpGet(up.state["urls"][0].get<std::string>() + "/", 2000), 200);

  // A changed command replaces replicas one at a time behind the proxy.
  json cfg2 = ServerConfig(2);
  cfg2["env"] = {{"VERSION", "2"}};
  std::vector<std::string> progress;
  auto up2 = p_->Apply({"endpoint", "endpoint.web", up.state, cfg2, cfg2,
                        [&](const std::string& m) { progress.push_back(m); }});
  ASSERT_FALSE(HasErrors(up2.diagnostics)) << AllText(up2.diagnostics);
  EXPECT_EQ(up2.state["url"], s["url"]);
  ASSERT_GE(progress.size(), 4u);
  EXPECT_EQ(progress[0], "replacing replica 0");
  EXPECT_EQ(progress[1].rfind("replica 0 ready on port", 0), 0u);
  EXPECT_EQ(progress[2], "replacing replica 1");

  // Delete stops every replica and the proxy.
  json last = json::parse(ReadFile(s["log_dir"].get<std::string>() + "/replicas.json"));
  pid_t proxy = std::stoi(ReadFile(s["log_dir"].get<std::string>() + "/proxy.pid"));
  EXPECT_FALSE(HasErrors(p_->Delete({"endpoint", "endpoint.web", up2.state}).diagnostics));
  for (const auto& r : last) EXPECT_FALSE(sys->Alive(r["pid"].get<pid_t>()));
  EXPECT_FALSE(sys->Alive(proxy));
  EXPECT_EQ(sys->HttpGet(up2.state["urls"][0].get<std::string>() + "/", 500), -1);
  EXPECT_EQ(sys->HttpGet(s["url"].get<std::string>() + "/", 500), -1);
}

TEST_F(Local, EndpointWhoseProcessDiesFailsApply) {
  json cfg = ServerConfig(1);
  cfg["command"] = "echo cannot load model >&2; exit 1";
  auto plan = p_->Plan({"endpoint", "endpoint.broken", nullptr, cfg});
  auto r = p_->Apply({"endpoint", "endpoint.broken", nullptr, plan.planned, cfg, nullptr});
  ASSERT_TRUE(HasErrors(r.diagnostics));
  EXPECT_NE(r.diagnostics[0].summary.find("endpoint endpoint.broken: replica 0 exited before it was healthy"),
            std::string::npos)
      << AllText(r.diagnostics);
  EXPECT_NE(r.diagnostics[0].summary.find("cannot load model"), std::string::npos);
  EXPECT_EQ(r.state["status"], "failed");
  // Nothing is left running: no replica, no proxy.
  fs::path dir = r.state["log_dir"].get<std::string>();
  EXPECT_FALSE(local::RealSystem()->Alive(std::stoi(ReadFile((dir / "proxy.pid").string()))));
  // Recovery by address finds it, and it reads as failed drift.
  json found = p_->Read({"endpoint", "endpoint.broken", nullptr}).state;
  EXPECT_EQ(found["id"], r.state["id"]);
  EXPECT_EQ(found["status"], "failed");
}

TEST(LocalRegistry, LocalIsBuiltIn) {
  std::string root = TempDir("reg");
  RegistryOptions o;
  o.working_dir = root;
  ProviderRegistry reg(o);
  ProviderDiagnostics d;
  const ProviderSchema* s = reg.SchemaFor("local", &d);
  ASSERT_TRUE(s) << AllText(d);
  EXPECT_TRUE(s->kinds.count("training_job"));
  EXPECT_TRUE(s->kinds.at("cluster").fields.at("gpu_indices").computed);
  ProviderInstance inst{"provider.local", "local", "", {{"root", root + "/lr"}}, {}, {}};
  ASSERT_TRUE(reg.Instance(inst, &d)) << AllText(d);
  EXPECT_TRUE(fs::is_directory(root + "/lr/jobs"));
  fs::remove_all(root);
}

}  // namespace
}  // namespace kiln
