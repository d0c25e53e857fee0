// The local provider as a GPU scheduler, with real processes: GPU leases
// (flock per GPU, held by a job's supervisor and its processes) that
// survive kill -9, a first-in first-out queue that the supervisors move on
// without kiln, multi-node jobs with the rendezvous environment, retries,
// and the whole-plan fit check.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

#include "providers/local/leases.h"
#include "providers/local/local_provider.h"
#include "providers/local/system.h"

namespace kiln {
namespace {

namespace fs = std::filesystem;
using json = nlohmann::json;

std::string Text(const ProviderDiagnostics& diags) {
  std::string s;
  for (const auto& d : diags) s += d.summary + " | " + d.detail + "\n";
  return s;
}

std::string ReadFile(const fs::path& p) {
  std::ifstream in(p);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

class LocalSched : public ::testing::Test {
 protected:
  void SetUp() override {
    setenv("KILN_EXE", KILN_BINARY, 1);
    std::string t = (fs::temp_directory_path() / "kiln-sched-XXXXXX").string();
    root_ = mkdtemp(t.data());
    Configure("H100:4");
  }
  void TearDown() override {
    // Nothing left running: every job's supervisor and every endpoint (its
    // proxy and replicas) is stopped, also when the test failed midway.
    for (const auto& [address, state] : live_) p_->Delete({"training_job", address, state});
    for (const auto& [address, state] : endpoints_) p_->Delete({"endpoint", address, state});
    p_.reset();
    fs::remove_all(root_);
  }
  void Configure(const std::string& gpus) {
    p_ = NewLocalProvider();
    auto r = p_->Configure({{{"root", root_ + "/local"}, {"simulate_gpus", gpus}}});
    ASSERT_FALSE(HasErrors(r.diagnostics)) << Text(r.diagnostics);
  }
  json Job(const std::string& command, const json& gpu, bool wait = false) {
    return {{"command", command}, {"env", json::object()}, {"secrets", json::object()}, {"wait", wait},
            {"image", nullptr},   {"gpu", gpu},            {"cluster", nullptr}};
  }
  ApplyResponse Apply(const std::string& address, const json& cfg) {
    auto plan = p_->Plan({"training_job", address, nullptr, cfg});
    EXPECT_FALSE(HasErrors(plan.diagnostics)) << Text(plan.diagnostics);
    auto r = p_->Apply({"training_job", address, nullptr, plan.planned, cfg, nullptr});
    if (r.state.is_object()) live_.push_back({address, r.state});
    return r;
  }
  fs::path JobDir(const json& state) { return fs::path(root_) / "local" / "jobs" / state["id"].get<std::string>(); }
  // Waits (without calling the provider: no kiln process in the loop)
  // until the job has a result.
  bool WaitResult(const json& state, int ms = 20000) {
    for (int i = 0; i < ms / 50; ++i) {
      if (fs::exists(JobDir(state) / "result.json")) return true;
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    return false;
  }
  std::string root_;
  std::unique_ptr<Provider> p_;
  std::vector<std::pair<std::string, json>> live_;
  std::vector<std::pair<std::string, json>> endpoints_;
};

// 8 one-GPU jobs on 4 GPUs: 4 start, 4 queue; the supervisors start the
// rest as GPUs free up. Never more than 4 run at once, and running jobs
// never share a GPU.
TEST_F(LocalSched, SweepOfEightOnFourGpusQueuesAndFinishes) {
  std::string marks = root_ + "/marks";
  fs::create_directories(marks);
  std::vector<json> states;
  int pending = 0;
  for (int i = 0; i < 8; ++i) {
    std::string cmd = "echo start $(date +%s%N) $CUDA_VISIBLE_DEVICES > " + marks + "/" + std::to_string(i) +
                      "; sleep 0.4; echo end $(date +%s%N) >> " + marks + "/" + std::to_string(i);
    auto r = Apply("training_job.sweep[" + std::to_string(i) + "]", Job(cmd, "H100:1"));
    ASSERT_FALSE(HasErrors(r.diagnostics)) << Text(r.diagnostics);
    pending += r.state["status"] == "pending" ? 1 : 0;
    states.push_back(r.state);
  }
  EXPECT_EQ(pending, 4);
  for (const auto& s : states) ASSERT_TRUE(WaitResult(s)) << s["id"];
  struct Run {
    long long start, end;
    std::string gpu;
  };
  std::vector<Run> runs;
  for (int i = 0; i < 8; ++i) {
    std::istringstream in(ReadFile(marks + "/" + std::to_string(i)));
    std::string w1, w2;
    Run r;
    in >> w1 >> r.start >> r.gpu >> w2 >> r.end;
    ASSERT_EQ(w1, "start");
    ASSERT_EQ(w2, "end");
    EXPECT_EQ(r.gpu.find(','), std::string::npos) << "one GPU each: " << r.gpu;
    runs.push_back(r);
  }
  int most = 0;
  for (const auto& a : runs) {
    int at_once = 0;
    for (const auto& b : runs) {
      if (b.start <= a.start && a.start < b.end) {
        ++at_once;
        if (&a != &b) {
          EXPECT_NE(a.gpu, b.gpu) << "two running jobs share GPU " << a.gpu;
        }
      }
    }
    most = std::max(most, at_once);
  }
  EXPECT_LE(most, 4);
  EXPECT_GE(most, 2);
  for (const auto& s : states) EXPECT_EQ(p_->Read({"training_job", "x", s}).state["status"], "succeeded");
  // All leases are free again.
  for (int g = 0; g < 4; ++g) EXPECT_FALSE(local::GpuHeld(fs::path(root_) / "local", g)) << g;
}

// kill -9 of the supervisor: the job's processes keep the lease; when
// they die too, the kernel frees it and nothing leaks.
TEST_F(LocalSched, LeasesSurviveKillOfTheSupervisorAndDieWithTheJob) {
  std::string marker = root_ + "/started";
  auto r = Apply("training_job.long", Job("touch " + marker + "; exec sleep 30", "H100:2"));
  ASSERT_FALSE(HasErrors(r.diagnostics)) << Text(r.diagnostics);
  ASSERT_EQ(r.state["status"], "running");
  for (int i = 0; i < 200 && !fs::exists(marker); ++i) std::this_thread::sleep_for(std::chrono::milliseconds(10));
  ASSERT_TRUE(fs::exists(marker));
  fs::path root = fs::path(root_) / "local";
  EXPECT_TRUE(local::GpuHeld(root, 0));
  EXPECT_TRUE(local::GpuHeld(root, 1));
  EXPECT_FALSE(local::GpuHeld(root, 2));
  pid_t sup = std::stoi(ReadFile(JobDir(r.state) / "pid"));
  auto sys = local::RealSystem();
  kill(sup, SIGKILL);
  for (int i = 0; i < 100 && sys->Alive(sup); ++i) std::this_thread::sleep_for(std::chrono::milliseconds(10));
  ASSERT_FALSE(sys->Alive(sup));
  // The job runs on, holding its GPUs: a new 3-GPU job must wait.
  EXPECT_TRUE(local::GpuHeld(root, 0));
  EXPECT_EQ(p_->Read({"training_job", "training_job.long", r.state}).state["status"], "running");
  auto waiting = Apply("training_job.next", Job("true", "H100:3"));
  EXPECT_EQ(waiting.state["status"], "pending");
  // The job dies: the lease goes with it, and the next plan's read starts
  // the queued job.
  sys->KillSession(sup, SIGKILL);
  for (int i = 0; i < 100 && sys->SessionAlive(sup); ++i) std::this_thread::sleep_for(std::chrono::milliseconds(10));
  EXPECT_FALSE(local::GpuHeld(root, 0));
  EXPECT_FALSE(local::GpuHeld(root, 1));
  json dead = p_->Read({"training_job", "training_job.long", r.state}).state;
  EXPECT_EQ(dead["status"], "failed");
  EXPECT_NE(p_->Read({"training_job", "training_job.next", waiting.state}).state["status"], "pending");
  ASSERT_TRUE(WaitResult(waiting.state));
}

// kill -9 of kiln right after it started a job: the supervisor is not
// kiln's child; it finishes the job and frees the GPUs.
TEST_F(LocalSched, LeasesSurviveKillOfKiln) {
  fs::path root = fs::path(root_) / "local";
  pid_t kiln = fork();
  if (kiln == 0) {
    auto p = NewLocalProvider();
    p->Configure({{{"root", root.string()}, {"simulate_gpus", "H100:4"}}});
    json cfg = Job("sleep 0.5", "H100:4");
    auto plan = p->Plan({"training_job", "training_job.t", nullptr, cfg});
    p->Apply({"training_job", "training_job.t", nullptr, plan.planned, cfg, nullptr});
    kill(getpid(), SIGKILL);
  }
  int st = 0;
  waitpid(kiln, &st, 0);
  ASSERT_TRUE(WIFSIGNALED(st));
  json found = p_->Read({"training_job", "training_job.t", nullptr}).state;
  ASSERT_TRUE(found.is_object());
  live_.push_back({"training_job.t", found});
  ASSERT_TRUE(WaitResult(found));
  EXPECT_EQ(p_->Read({"training_job", "training_job.t", found}).state["status"], "succeeded");
  for (int g = 0; g < 4; ++g) EXPECT_FALSE(local::GpuHeld(root, g));
}

TEST_F(LocalSched, TwoNodeJobSeesRanksZeroAndOne) {
  std::string out = root_ + "/ranks";
  fs::create_directories(out);
  json cfg = Job("echo $KILN_NODE_RANK $NODE_RANK $KILN_NUM_NODES $WORLD_SIZE $MASTER_ADDR $MASTER_PORT "
                 "$KILN_MASTER_PORT $KILN_NODE_ADDRS $KILN_GPUS_PER_NODE $CUDA_VISIBLE_DEVICES > " +
                     out + "/$KILN_NODE_RANK",
                 "H100:2", true);
  cfg["nodes"] = 2;
  auto r = Apply("training_job.ddp", cfg);
  ASSERT_FALSE(HasErrors(r.diagnostics)) << Text(r.diagnostics);
  EXPECT_EQ(r.state["status"], "succeeded");
  std::string a = ReadFile(out + "/0"), b = ReadFile(out + "/1");
  std::istringstream ia(a), ib(b);
  std::vector<std::string> x, y;
  for (std::string w; ia >> w;) x.push_back(w);
  for (std::string w; ib >> w;) y.push_back(w);
  ASSERT_EQ(x.size(), 10u) << a;
  ASSERT_EQ(y.size(), 10u) << b;
  EXPECT_EQ(x[0], "0");
  EXPECT_EQ(x[1], "0");
  EXPECT_EQ(y[0], "1");
  EXPECT_EQ(y[1], "1");
  EXPECT_EQ(x[2], "2");
  EXPECT_EQ(x[3], "4");  // WORLD_SIZE: 2 nodes x 2 GPUs
  EXPECT_EQ(x[4], "127.0.0.1");
  EXPECT_EQ(x[5], y[5]);  // one master port
  EXPECT_EQ(x[5], x[6]);
  EXPECT_EQ(x[7], "127.0.0.1,127.0.0.1");
  EXPECT_EQ(x[8], "2");
  EXPECT_EQ(x[9], "0,1");
  EXPECT_EQ(y[9], "2,3");
}

TEST_F(LocalSched, OneFailingNodeStopsTheOthers) {
  json cfg = Job("if [ $KILN_NODE_RANK = 1 ]; then exit 7; fi; sleep 30", nullptr, true);
  cfg["nodes"] = 2;
  auto start = std::chrono::steady_clock::now();
  auto r = Apply("training_job.half", cfg);
  ASSERT_TRUE(HasErrors(r.diagnostics));
  EXPECT_EQ(r.diagnostics[0].summary, "training job training_job.half failed (exit status 7)");
  EXPECT_NE(r.diagnostics[0].detail.find("node 1 exited with 7; stopping the other nodes"), std::string::npos)
      << r.diagnostics[0].detail;
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(15));
}

TEST_F(LocalSched, RetriesRunAgainAndEachAttemptIsLogged) {
  std::string counter = root_ + "/count";
  json cfg = Job("n=$(cat " + counter + " 2>/dev/null || echo 0); n=$((n+1)); echo $n > " + counter +
                     "; echo attempt $KILN_ATTEMPT; [ $n -ge 3 ]",
                 nullptr, true);
  cfg["retries"] = 2;
  auto r = Apply("training_job.flaky", cfg);
  ASSERT_FALSE(HasErrors(r.diagnostics)) << Text(r.diagnostics);
  EXPECT_EQ(r.state["status"], "succeeded");
  std::string log = ReadFile(r.state["log"].get<std::string>());
  EXPECT_NE(log.find("attempt 1\nkiln: attempt 1 failed with exit status 1; retrying\nkiln: attempt 2 of 3\n"
                     "attempt 2\n"),
            std::string::npos)
      << log;
  EXPECT_NE(log.find("attempt 3\n"), std::string::npos) << log;

  json always = Job("exit 5", nullptr, true);
  always["retries"] = 1;
  auto f = Apply("training_job.broken", always);
  ASSERT_TRUE(HasErrors(f.diagnostics));
  EXPECT_EQ(f.diagnostics[0].summary, "training job training_job.broken failed (exit status 5, after 2 attempts)");
}

TEST_F(LocalSched, ANonexistentCommandIsAClearErrorAndLeavesNothing) {
  json cfg = Job("", nullptr, true);
  cfg["command"] = json::array({"no-such-trainer-xyz", "--epochs", "1"});
  auto r = Apply("training_job.typo", cfg);
  ASSERT_TRUE(HasErrors(r.diagnostics));
  EXPECT_EQ(r.diagnostics[0].summary,
            "training job training_job.typo: the command `no-such-trainer-xyz` does not exist (not a runnable "
            "file, not found on PATH)");
  EXPECT_TRUE(r.state.is_null());
  EXPECT_TRUE(fs::is_empty(fs::path(root_) / "local" / "jobs"));
  EXPECT_TRUE(fs::is_empty(fs::path(root_) / "local" / "queue"));
}

TEST_F(LocalSched, JobProgressIsNotDriftAndAFailedJobIsReplacedWithReasonFailed) {
  auto r = Apply("training_job.t", Job("echo boom; exit 4", nullptr));
  ASSERT_FALSE(HasErrors(r.diagnostics)) << Text(r.diagnostics);
  ASSERT_TRUE(WaitResult(r.state));
  auto read = p_->Read({"training_job", "training_job.t", r.state});
  EXPECT_TRUE(read.progress);
  EXPECT_EQ(read.state["status"], "failed");
  EXPECT_EQ(read.state["exit_code"], 4);
  auto plan = p_->Plan({"training_job", "training_job.t", read.state, Job("echo boom; exit 4", nullptr)});
  EXPECT_EQ(plan.replace_reason, "failed");
  ASSERT_EQ(plan.diagnostics.size(), 1u);
  EXPECT_EQ(plan.diagnostics[0].severity, Severity::kWarning);
  EXPECT_EQ(plan.diagnostics[0].summary, "training job failed after apply (exit status 4)");
  EXPECT_NE(plan.diagnostics[0].detail.find("boom"), std::string::npos);
}

TEST_F(LocalSched, MaxRuntimeKillsAndSaysSo) {
  json cfg = Job("sleep 30", nullptr, true);
  cfg["max_runtime"] = 500;
  auto r = Apply("training_job.slow", cfg);
  ASSERT_TRUE(HasErrors(r.diagnostics));
  EXPECT_EQ(r.diagnostics[0].summary,
            "training job training_job.slow failed (it ran longer than max_runtime and was stopped)");
  EXPECT_NE(r.diagnostics[0].detail.find("kiln: the job ran longer than max_runtime"), std::string::npos);
}


// Endpoint replicas lease their GPUs like jobs: distinct, held while they
// run, free after delete; a job then queues behind them.
TEST_F(LocalSched, EndpointReplicasHoldDistinctGpus) {
  json cfg = {{"command", "echo $CUDA_VISIBLE_DEVICES; exec python3 -m http.server --bind 127.0.0.1 $PORT"},
              {"model", "file:///m"}, {"port", 0}, {"replicas", {{"min", 3}, {"max", 3}}},
              {"gpu", "H100:1"}, {"health_check", {{"path", "/"}, {"timeout", 20000}}},
              {"env", json::object()}, {"image", nullptr}};
  auto plan = p_->Plan({"endpoint", "endpoint.e", nullptr, cfg});
  ASSERT_FALSE(HasErrors(plan.diagnostics)) << Text(plan.diagnostics);
  auto r = p_->Apply({"endpoint", "endpoint.e", nullptr, plan.planned, cfg, nullptr});
  if (r.state.is_object()) endpoints_.push_back({"endpoint.e", r.state});
  ASSERT_FALSE(HasErrors(r.diagnostics)) << Text(r.diagnostics);
  fs::path root = fs::path(root_) / "local";
  json replicas = json::parse(ReadFile(r.state["log_dir"].get<std::string>() + "/replicas.json"));
  ASSERT_EQ(replicas.size(), 3u);
  EXPECT_EQ(replicas[0]["gpus"], json({0}));
  EXPECT_EQ(replicas[1]["gpus"], json({1}));
  EXPECT_EQ(replicas[2]["gpus"], json({2}));
  for (int g = 0; g < 3; ++g) EXPECT_TRUE(local::GpuHeld(root, g)) << g;
  EXPECT_FALSE(local::GpuHeld(root, 3));
  auto job = Apply("training_job.two", Job("true", "H100:2"));
  EXPECT_EQ(job.state["status"], "pending");
  EXPECT_FALSE(HasErrors(p_->Delete({"endpoint", "endpoint.e", r.state}).diagnostics));
  endpoints_.clear();
  EXPECT_NE(p_->Read({"training_job", "training_job.two", job.state}).state["status"], "pending");
  ASSERT_TRUE(WaitResult(job.state));
}

// ---- the whole plan against the machine

PlanCheckResource Res(const std::string& kind, const std::string& address, const json& config,
                      std::vector<std::string> deps = {}) {
  return {kind, address, "create", config, std::move(deps)};
}

TEST_F(LocalSched, ClustersThatDoNotFitTogetherNameEachOther) {
  auto resp = p_->CheckPlan({{Res("cluster", "cluster.a", {{"gpu", "H100:3"}}),
                              Res("cluster", "cluster.b", {{"gpu", "H100:2"}})}});
  ASSERT_EQ(resp.diagnostics.size(), 1u);
  EXPECT_EQ(resp.diagnostics[0].first, "cluster.a");
  EXPECT_EQ(resp.diagnostics[0].second.summary,
            "cluster.a reserves 3 and cluster.b 2 of the 4 H100s of this machine (simulated): 5 do not fit in 4");
}

TEST_F(LocalSched, AJobThatCanNeverFitFailsPlan) {
  Configure("H100:2");
  json cfg = Job("true", "H100:4");
  auto plan = p_->Plan({"training_job", "training_job.big", nullptr, cfg});
  ASSERT_TRUE(HasErrors(plan.diagnostics));
  EXPECT_EQ(plan.diagnostics[0].summary,
            "training job needs 4 GPUs (4 × 1) but this machine has 2 unreserved H100, so it could never start");
  auto check = p_->CheckPlan({{Res("training_job", "training_job.big", cfg)}});
  ASSERT_EQ(check.diagnostics.size(), 1u);
  EXPECT_EQ(check.diagnostics[0].second.summary,
            "needs 4 H100s (1 node(s) × 4) but this machine (simulated) has 2, so it could never start");
  // On a cluster of the plan: its reservation is the limit.
  json on = Job("true", "H100:2");
  on["cluster"] = {{"id", {{"$unknown", true}}}};
  auto c2 = p_->CheckPlan({{Res("cluster", "cluster.c", {{"gpu", "H100:1"}}),
                            Res("training_job", "training_job.on", on, {"cluster.c"})}});
  ASSERT_EQ(c2.diagnostics.size(), 1u);
  EXPECT_EQ(c2.diagnostics[0].second.summary,
            "needs 2 GPUs (1 node(s) × 2) but cluster.c reserves 1, so it could never start");
}

TEST_F(LocalSched, ThePlanSaysHowManyJobsWillQueue) {
  std::vector<PlanCheckResource> rs;
  for (int i = 0; i < 8; ++i) rs.push_back(Res("training_job", "training_job.s[" + std::to_string(i) + "]", Job("true", "H100:1")));
  auto check = p_->CheckPlan({rs});
  ASSERT_EQ(check.diagnostics.size(), 1u);
  EXPECT_EQ(check.diagnostics[0].second.severity, Severity::kWarning);
  EXPECT_EQ(check.diagnostics[0].second.summary.rfind("4 of 8 training jobs will wait for a free GPU", 0), 0u)
      << check.diagnostics[0].second.summary;
}

TEST(LocalConfigure, FailingNvidiaSmiIsAWarningAndAnEmptyInventory) {
  struct FailingSmi : local::System {
    std::shared_ptr<local::System> real = local::RealSystem();
    bool RunCapture(const std::vector<std::string>&, int, std::string* out, int* code) override {
      *out = "NVIDIA-SMI has failed because it couldn't communicate with the NVIDIA driver.\n";
      *code = 9;
      return true;
    }
    pid_t SpawnDetached(const local::SpawnSpec& s, std::string* e) override { return real->SpawnDetached(s, e); }
    bool Alive(pid_t p) override { return real->Alive(p); }
    void KillSession(pid_t s, int sig) override { real->KillSession(s, sig); }
    int64_t NowMs() override { return real->NowMs(); }
    void SleepMs(int64_t ms) override { real->SleepMs(ms); }
    int HttpGet(const std::string& u, int t) override { return real->HttpGet(u, t); }
    int FreePort() override { return real->FreePort(); }
  };
  std::string t = (fs::temp_directory_path() / "kiln-smi-XXXXXX").string();
  std::string root = mkdtemp(t.data());
  auto p = NewLocalProvider(std::make_shared<FailingSmi>());
  auto r = p->Configure({{{"root", root}}});
  ASSERT_EQ(r.diagnostics.size(), 1u);
  EXPECT_EQ(r.diagnostics[0].severity, Severity::kWarning);
  EXPECT_EQ(r.diagnostics[0].summary, "nvidia-smi failed with exit status 9; the local provider sees no GPUs");
  EXPECT_TRUE(p->Inventory().nodes[0].gpus.empty());
  auto bad = NewLocalProvider()->Configure({{{"root", root}, {"simulate_gpus", "H100:x"}}});
  ASSERT_TRUE(HasErrors(bad.diagnostics));
  EXPECT_EQ(bad.diagnostics[0].attribute, Path{"simulate_gpus"});
  fs::remove_all(root);
}

}  // namespace
}  // namespace kiln
