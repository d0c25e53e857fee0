// The local provider's endpoint proxy (`kiln __local-proxy`) with real
// processes and real HTTP: requests spread over ready replicas, canary
// weights, the figures it records, a rolling update under concurrent load
// that loses no request, autoscaling up and down under generated load, and
// a killed proxy as drift that the next apply repairs on the same port.
//
// Ports: 18600-18649, one fixed port per test (kPorts below); replicas
// take free ports behind the proxy.
#include <gtest/gtest.h>
#include <httplib.h>
#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <map>
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

// A replica: a threaded HTTP server answering "MODEL VERSION REPLICA" on
// every path (after `?ms=N` milliseconds), 200 on /health.
constexpr char kServer[] = R"(import os, sys, time, urllib.parse
from http.server import ThreadingHTTPServer, BaseHTTPRequestHandler
class H(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    def do_GET(self):
        q = urllib.parse.urlparse(self.path)
        ms = urllib.parse.parse_qs(q.query).get("ms", ["0"])[0]
        time.sleep(int(ms) / 1000.0)
        body = ("%s %s %s\n" % (os.environ.get("KILN_MODEL", ""), os.environ.get("VERSION", "1"),
                                os.environ.get("KILN_REPLICA", ""))).encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
    do_POST = do_GET
    def log_message(self, *a):
        pass
ThreadingHTTPServer.daemon_threads = True
ThreadingHTTPServer(("127.0.0.1", int(os.environ["PORT"])), H).serve_forever()
)";

class LocalProxy : public ::testing::Test {
 protected:
  void SetUp() override {
    setenv("KILN_EXE", KILN_BINARY, 1);  // the proxy runs as `kiln __local-proxy`
    std::string t = (fs::temp_directory_path() / "kiln-local-proxy-XXXXXX").string();
    ASSERT_NE(mkdtemp(t.data()), nullptr);
    root_ = t;
    std::ofstream(root_ + "/server.py") << kServer;
    static const std::map<std::string, int> kPorts = {{"SpreadsOverReplicasAndRecordsFigures", 18600},
                                                      {"CanaryWeightHoldsOverAThousandRequests", 18601},
                                                      {"RollingUpdateUnderLoadLosesNoRequest", 18602},
                                                      {"AutoscalesUpAndDownWithTheLoad", 18603},
                                                      {"AKilledProxyIsDriftRestartedOnItsPort", 18604}};
    std::string name = ::testing::UnitTest::GetInstance()->current_test_info()->name();
    ASSERT_TRUE(kPorts.count(name)) << "give " << name << " a port in kPorts";
    port_ = kPorts.at(name);
    Configure();
  }
  void TearDown() override {
    // Nothing left running, whatever failed.
    for (const auto& [address, state] : live_) p_->Delete({"endpoint", address, state});
    fs::remove_all(root_);
  }
  void Configure() {
    p_ = NewLocalProvider(sys_);
    auto r = p_->Configure(
        {{{"root", root_ + "/local"}, {"simulate_gpus", "H100:4"}, {"scale_down_after", 2000}}});
    ASSERT_FALSE(HasErrors(r.diagnostics)) << Text(r.diagnostics);
  }
  json Endpoint(int min, int max) {
    return {{"command", "exec python3 " + root_ + "/server.py"},
            {"model", "m1"},
            {"port", port_},
            {"replicas", {{"min", min}, {"max", max}}},
            {"health_check", {{"path", "/health"}, {"interval", 500}, {"timeout", 20000}}},
            {"env", json::object()},
            {"image", nullptr}};
  }
  ApplyResponse Apply(const std::string& address, const json& prior, const json& cfg) {
    auto plan = p_->Plan({"endpoint", address, prior, cfg});
    EXPECT_FALSE(HasErrors(plan.diagnostics)) << Text(plan.diagnostics);
    auto r = p_->Apply({"endpoint", address, prior, plan.planned, cfg, nullptr});
    if (r.state.is_object()) {
      live_.erase(std::remove_if(live_.begin(), live_.end(), [&](const auto& l) { return l.first == address; }),
                  live_.end());
      live_.push_back({address, r.state});
    }
    return r;
  }
  fs::path Dir(const json& state) { return fs::path(state["log_dir"].get<std::string>()); }
  json Metrics(const json& state) { return json::parse(ReadFile(Dir(state) / "metrics.json"), nullptr, false); }
  pid_t ProxyPid(const json& state) { return std::stoi(ReadFile(Dir(state) / "proxy.pid")); }
  // Polls `ok` every 100 ms for up to `seconds` (a liveness bound, not a
  // timing claim).
  template <typename F>
  bool Eventually(F ok, int seconds) {
    for (int i = 0; i < seconds * 10; ++i) {
      if (ok()) return true;
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    return ok();
  }

  std::shared_ptr<local::System> sys_ = local::RealSystem();
  std::unique_ptr<Provider> p_;
  std::string root_;
  int port_ = 0;
  std::vector<std::pair<std::string, json>> live_;
};

TEST_F(LocalProxy, SpreadsOverReplicasAndRecordsFigures) {
  auto r = Apply("endpoint.web", nullptr, Endpoint(2, 2));
  ASSERT_FALSE(HasErrors(r.diagnostics)) << Text(r.diagnostics);
  ASSERT_EQ(r.state["url"], "http://127.0.0.1:" + std::to_string(port_));
  httplib::Client c("127.0.0.1", port_);
  std::map<std::string, int> by_replica;
  for (int i = 0; i < 100; ++i) {
    auto res = c.Get("/predict");
    ASSERT_TRUE(res) << httplib::to_string(res.error());
    ASSERT_EQ(res->status, 200);
    EXPECT_EQ(res->body.rfind("m1 1 ", 0), 0u) << res->body;
    ++by_replica[res->get_header_value("X-Kiln-Replica")];
  }
  ASSERT_EQ(by_replica.size(), 2u);
  for (const auto& [name, n] : by_replica) EXPECT_GE(n, 20) << name;  // both serve
  // A replica that stops is no longer routed to; nothing fails.
  json replicas = json::parse(ReadFile(Dir(r.state) / "replicas.json"));
  kill(replicas[1]["pid"].get<pid_t>(), SIGKILL);
  for (int i = 0; i < 50; ++i) {
    auto res = c.Get("/");
    ASSERT_TRUE(res);
    EXPECT_EQ(res->status, 200);
  }
  // The figures: requests, latency percentiles, replicas ready now.
  // (The proxy writes its figures twice a second.)
  ASSERT_TRUE(Eventually(
      [&] {
        json m = Metrics(r.state);
        return m.value("replicas_ready", 0) == 1 && m["sets"]["stable"].value("requests", 0) == 150;
      },
      10));
  auto read = p_->Read({"endpoint", "endpoint.web", r.state});
  json t = read.state["traffic"];
  EXPECT_EQ(t["requests"], 150);
  EXPECT_EQ(t["errors"], 0);
  EXPECT_GT(t["p50_ms"].get<double>(), 0.0);
  EXPECT_GE(t["p95_ms"].get<double>(), t["p50_ms"].get<double>());
  EXPECT_EQ(t["replicas"], 1);
  EXPECT_EQ(read.state["status"], "degraded");  // the dead replica is drift
}

TEST_F(LocalProxy, CanaryWeightHoldsOverAThousandRequests) {
  json cfg = Endpoint(3, 3);
  cfg["canary"] = {{"model", "m2"}, {"weight", 20}};
  auto r = Apply("endpoint.canary", nullptr, cfg);
  ASSERT_FALSE(HasErrors(r.diagnostics)) << Text(r.diagnostics);
  ASSERT_EQ(r.state["urls"].size(), 3u);  // two stable replicas and the canary, of replicas.min = 3
  httplib::Client c("127.0.0.1", port_);
  int canary = 0, stable = 0;
  for (int i = 0; i < 1000; ++i) {
    auto res = c.Get("/");
    ASSERT_TRUE(res) << httplib::to_string(res.error());
    ASSERT_EQ(res->status, 200);
    bool is_canary = res->get_header_value("X-Kiln-Replica").rfind("canary-", 0) == 0;
    // The canary serves the canary's model.
    EXPECT_EQ(res->body.rfind(is_canary ? "m2 " : "m1 ", 0), 0u) << res->body;
    (is_canary ? canary : stable)++;
  }
  // 20% of 1,000 within 4 points (the binomial deviation is 12.6).
  EXPECT_GE(canary, 160);
  EXPECT_LE(canary, 240);
  json t;
  Eventually(
      [&] {
        t = p_->Read({"endpoint", "endpoint.canary", r.state}).state["traffic"];
        return t["requests"] == 1000;
      },
      10);
  EXPECT_EQ(t["canary_requests"], canary);
  EXPECT_EQ(t["requests"], 1000);
  // The plan shows the figures (a note), the endpoint unchanged.
  json refreshed = p_->Read({"endpoint", "endpoint.canary", r.state}).state;
  auto same = p_->Plan({"endpoint", "endpoint.canary", refreshed, cfg});
  ASSERT_EQ(same.diagnostics.size(), 1u) << Text(same.diagnostics);
  EXPECT_EQ(same.diagnostics[0].severity, Severity::kNote);
  EXPECT_EQ(same.diagnostics[0].summary.rfind("traffic since its proxy started: 1000 requests, p50 ", 0), 0u)
      << same.diagnostics[0].summary;
  EXPECT_NE(same.diagnostics[0].summary.find("3 replicas now (canary: " + std::to_string(canary) + " requests"),
            std::string::npos)
      << same.diagnostics[0].summary;
  EXPECT_EQ(same.planned, refreshed);
  // Weight 0 stops the canary: all traffic to the stable model.
  json off = cfg;
  off["canary"]["weight"] = 0;
  auto r2 = Apply("endpoint.canary", r.state, off);
  ASSERT_FALSE(HasErrors(r2.diagnostics)) << Text(r2.diagnostics);
  EXPECT_EQ(r2.state["urls"].size(), 3u);  // three stable ones
  for (int i = 0; i < 50; ++i) {
    auto res = c.Get("/");
    ASSERT_TRUE(res);
    EXPECT_EQ(res->body.rfind("m1 ", 0), 0u);
  }
}

TEST_F(LocalProxy, RollingUpdateUnderLoadLosesNoRequest) {
  auto r = Apply("endpoint.roll", nullptr, Endpoint(2, 2));
  ASSERT_FALSE(HasErrors(r.diagnostics)) << Text(r.diagnostics);
  std::atomic<bool> stop{false};
  std::atomic<int> ok{0}, failed{0}, v2{0};
  std::string first_failure;
  std::mutex mu;
  std::vector<std::thread> clients;
  for (int k = 0; k < 8; ++k)
    clients.emplace_back([&] {
      httplib::Client c("127.0.0.1", port_);
      c.set_read_timeout(60);
      while (!stop) {
        auto res = c.Get("/?ms=20");
        if (res && res->status == 200) {
          ++ok;
          if (res->body.find(" 2 ") != std::string::npos) ++v2;
        } else {
          ++failed;
          std::lock_guard<std::mutex> lock(mu);
          if (first_failure.empty())
            first_failure = res ? std::to_string(res->status) + " " + res->body : httplib::to_string(res.error());
        }
      }
    });
  // Load before, during and after: a new version, replica by replica.
  Eventually([&] { return ok > 50; }, 20);
  json cfg = Endpoint(2, 2);
  cfg["env"] = {{"VERSION", "2"}};
  auto up = Apply("endpoint.roll", r.state, cfg);
  int during = ok;
  Eventually([&] { return ok > during + 50; }, 20);
  stop = true;
  for (auto& t : clients) t.join();
  ASSERT_FALSE(HasErrors(up.diagnostics)) << Text(up.diagnostics);
  EXPECT_EQ(failed, 0) << first_failure;
  EXPECT_GT(ok, 100);
  EXPECT_GT(v2, 0);  // the new version served
  EXPECT_EQ(up.state["url"], r.state["url"]);
  // The old replicas are gone.
  for (const auto& u : r.state["urls"]) EXPECT_EQ(sys_->HttpGet(u.get<std::string>() + "/health", 500), -1) << u;
}

TEST_F(LocalProxy, AutoscalesUpAndDownWithTheLoad) {
  json cfg = Endpoint(1, 3);
  cfg["autoscale"] = {{"metric", "concurrency"}, {"target", 2.0}};
  auto r = Apply("endpoint.auto", nullptr, cfg);
  ASSERT_FALSE(HasErrors(r.diagnostics)) << Text(r.diagnostics);
  EXPECT_EQ(Metrics(r.state)["replicas_now"], 1);
  // Eight clients with 200 ms requests: about 8 in flight against a target
  // of 2 per replica, so the proxy scales to the maximum, 3.
  std::atomic<bool> stop{false};
  std::atomic<int> failed{0};
  std::vector<std::thread> clients;
  for (int k = 0; k < 8; ++k)
    clients.emplace_back([&] {
      httplib::Client c("127.0.0.1", port_);
      c.set_read_timeout(60);
      while (!stop) {
        auto res = c.Get("/?ms=200");
        if (!res || res->status != 200) ++failed;
      }
    });
  bool up = Eventually([&] { return Metrics(r.state).value("replicas_ready", 0) == 3; }, 60);
  json at_peak = Metrics(r.state);
  stop = true;
  for (auto& t : clients) t.join();
  ASSERT_TRUE(up) << at_peak.dump();
  EXPECT_EQ(failed, 0);
  json mine = json::parse(ReadFile(Dir(r.state) / "autoscaled.json"));
  ASSERT_EQ(mine.size(), 2u);
  // GPUs: none asked, none leased. The load gone, it steps down to the
  // minimum, one replica per cool-down (2 s here), and stops them.
  ASSERT_TRUE(Eventually([&] { return Metrics(r.state).value("replicas_now", 0) == 1; }, 60))
      << Metrics(r.state).dump();
  ASSERT_TRUE(Eventually(
      [&] {
        for (const auto& m : mine)
          if (sys_->Alive(m["pid"].get<pid_t>())) return false;
        return true;
      },
      20));
  EXPECT_EQ(json::parse(ReadFile(Dir(r.state) / "autoscaled.json")).size(), 0u);
  // The plan of the unchanged endpoint is no change (figures are progress).
  auto read = p_->Read({"endpoint", "endpoint.auto", r.state});
  EXPECT_TRUE(read.progress);
  auto plan = p_->Plan({"endpoint", "endpoint.auto", read.state, cfg});
  EXPECT_EQ(plan.planned, read.state);
}

TEST_F(LocalProxy, AKilledProxyIsDriftRestartedOnItsPort) {
  json cfg = Endpoint(1, 1);
  cfg["gpu"] = "H100:1";
  auto r = Apply("endpoint.k", nullptr, cfg);
  ASSERT_FALSE(HasErrors(r.diagnostics)) << Text(r.diagnostics);
  fs::path root = fs::path(root_) / "local";
  EXPECT_TRUE(local::GpuHeld(root, 0));
  pid_t proxy = ProxyPid(r.state);
  kill(proxy, SIGKILL);
  ASSERT_TRUE(Eventually([&] { return !sys_->Alive(proxy); }, 10));
  EXPECT_EQ(sys_->HttpGet(r.state["url"].get<std::string>() + "/", 500), -1);
  // Drift: read says degraded (not progress), the plan updates it.
  auto read = p_->Read({"endpoint", "endpoint.k", r.state});
  EXPECT_FALSE(read.progress);
  EXPECT_EQ(read.state["status"], "degraded");
  auto plan = p_->Plan({"endpoint", "endpoint.k", read.state, cfg});
  EXPECT_TRUE(plan.requires_replace.empty());
  EXPECT_NE(plan.planned, read.state);
  EXPECT_EQ(plan.planned["url"], r.state["url"]);
  auto up = p_->Apply({"endpoint", "endpoint.k", read.state, plan.planned, cfg, nullptr});
  ASSERT_FALSE(HasErrors(up.diagnostics)) << Text(up.diagnostics);
  live_.back().second = up.state;
  EXPECT_EQ(up.state["url"], r.state["url"]);
  EXPECT_EQ(up.state["urls"], r.state["urls"]);  // the replica kept running
  EXPECT_NE(ProxyPid(up.state), proxy);
  EXPECT_EQ(sys_->HttpGet(up.state["url"].get<std::string>() + "/", 2000), 200);
  // Destroy leaves no process and no lease.
  pid_t again = ProxyPid(up.state);
  json replicas = json::parse(ReadFile(Dir(up.state) / "replicas.json"));
  EXPECT_FALSE(HasErrors(p_->Delete({"endpoint", "endpoint.k", up.state}).diagnostics));
  live_.clear();
  EXPECT_FALSE(sys_->Alive(again));
  for (const auto& x : replicas) EXPECT_FALSE(sys_->SessionAlive(x["pid"].get<pid_t>()));
  for (int g = 0; g < 4; ++g) EXPECT_FALSE(local::GpuHeld(root, g)) << g;
}

}  // namespace
}  // namespace kiln
