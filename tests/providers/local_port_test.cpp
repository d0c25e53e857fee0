// The local provider's endpoint `port`: the endpoint's proxy listens on it
// (replicas get free ports behind it), a port something else holds is an
// error naming it, port 0 means a free port, and a replacement of the same
// endpoint takes its port over. Real processes (python3's http.server, the
// proxy) and real sockets.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <filesystem>
#include <set>
#include <fstream>

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

json Server(int port, int replicas) {
  return {{"command", "exec python3 -m http.server --bind 127.0.0.1 $PORT"},
          {"model", "file:///models/x"},
          {"port", port},
          {"replicas", {{"min", replicas}, {"max", replicas}}},
          {"health_check", {{"path", "/"}, {"interval", 1000}, {"timeout", 20000}}},
          {"env", json::object()},
          {"image", nullptr}};
}

std::string Url(int port) { return "http://127.0.0.1:" + std::to_string(port); }

// A listening socket on 127.0.0.1:port, closed on destruction.
class Listener {
 public:
  explicit Listener(int port) {
    fd_ = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    a.sin_port = htons(static_cast<uint16_t>(port));
    ok_ = bind(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0 && listen(fd_, 4) == 0;
  }
  ~Listener() { close(fd_); }
  bool ok() const { return ok_; }

 private:
  int fd_ = -1;
  bool ok_ = false;
};

class LocalPort : public ::testing::Test {
 protected:
  void SetUp() override {
    setenv("KILN_EXE", KILN_BINARY, 1);  // the endpoint's proxy
    std::string t = (fs::temp_directory_path() / "kiln-local-port-XXXXXX").string();
    ASSERT_NE(mkdtemp(t.data()), nullptr);
    root_ = t;
    static const char* kTests[] = {"TheProxyListensOnThePort",
                                   "ReplicasGetFreePortsBehindTheProxy",
                                   "PortZeroTakesFreePorts",
                                   "APortInUseIsAnErrorAtPlanAndApplyNamingThePort",
                                   "APortOfAnotherEndpointNamesIt",
                                   "AReplacementOfTheSameEndpointTakesThePortOver",
                                   "ChangingThePortRestartsOnTheNewOne",
                                   "OutOfRangeIsAValidationError"};
    std::string name = ::testing::UnitTest::GetInstance()->current_test_info()->name();
    for (size_t i = 0; i < std::size(kTests); ++i)
      if (name == kTests[i]) block_ = kFirstPort + static_cast<int>(i) * kBlockSize;
    ASSERT_GE(block_, 0) << "give " << name << " a port block in kTests";
    p_ = NewLocalProvider(sys_);
    ASSERT_FALSE(HasErrors(p_->Configure({{{"root", root_}}}).diagnostics));
  }
  void TearDown() override {
    for (const auto& [address, state] : live_) p_->Delete({"endpoint", address, state});
    fs::remove_all(root_);
  }

  // A port p with p .. p+n-1 all free now, from this test's own block.
  //
  // Ports are not taken from the kernel (bind to port 0): those come from
  // the ephemeral range (32768-60999 on Linux), which every process shares
  // for its own free-port picks and the source ports of its outgoing
  // connections. Under `ctest -j2` another test (another LocalPort test's
  // endpoint on port 0, anything's HTTP health checks) could take the port
  // between the check here and the server's bind, and the replacement test,
  // which binds the same port twice, failed that way once. The blocks lie
  // below the ephemeral range (never handed out by the kernel) and are
  // disjoint per test (never shared by two tests running at once).
  int FreeRun(int n) {
    while (next_ + n <= kBlockSize) {
      int p = block_ + next_;
      bool all = true;
      for (int i = 0; all && i < n; ++i) all = sys_->PortFree(p + i);
      next_ += all ? n : 1;
      if (all) return p;
    }
    return -1;
  }

  static constexpr int kFirstPort = 18550;  // .. 18597: 8 tests x 6 ports
  static constexpr int kBlockSize = 6;
  int block_ = -1;
  int next_ = 0;

  ApplyResponse Apply(const std::string& address, const json& prior, const json& config,
                      std::vector<std::string>* progress = nullptr) {
    auto plan = p_->Plan({"endpoint", address, prior, config});
    EXPECT_FALSE(HasErrors(plan.diagnostics)) << Text(plan.diagnostics);
    ApplyRequest req{"endpoint", address, prior, plan.planned, config, nullptr};
    if (progress) req.progress = [progress](const std::string& m) { progress->push_back(m); };
    auto r = p_->Apply(req);
    if (!HasErrors(r.diagnostics)) live_.push_back({address, r.state});
    return r;
  }

  std::shared_ptr<local::System> sys_ = local::RealSystem();
  std::unique_ptr<Provider> p_;
  std::string root_;
  std::vector<std::pair<std::string, json>> live_;
};

TEST_F(LocalPort, TheProxyListensOnThePort) {
  int port = FreeRun(1);
  ASSERT_GT(port, 0);
  auto r = Apply("endpoint.one", nullptr, Server(port, 1));
  ASSERT_FALSE(HasErrors(r.diagnostics)) << Text(r.diagnostics);
  EXPECT_EQ(r.state["url"], Url(port));
  ASSERT_EQ(r.state["urls"].size(), 1u);
  EXPECT_NE(r.state["urls"][0], Url(port));
  EXPECT_EQ(sys_->HttpGet(Url(port) + "/", 2000), 200);
  EXPECT_EQ(sys_->HttpGet(r.state["urls"][0].get<std::string>() + "/", 2000), 200);
}

TEST_F(LocalPort, ReplicasGetFreePortsBehindTheProxy) {
  int port = FreeRun(1);
  ASSERT_GT(port, 0);
  auto r = Apply("endpoint.three", nullptr, Server(port, 3));
  ASSERT_FALSE(HasErrors(r.diagnostics)) << Text(r.diagnostics);
  ASSERT_EQ(r.state["urls"].size(), 3u);
  std::set<std::string> distinct;
  for (const auto& u : r.state["urls"]) {
    distinct.insert(u.get<std::string>());
    EXPECT_NE(u, Url(port));
    EXPECT_EQ(sys_->HttpGet(u.get<std::string>() + "/", 2000), 200) << u;
  }
  EXPECT_EQ(distinct.size(), 3u);
  EXPECT_EQ(sys_->HttpGet(Url(port) + "/", 2000), 200);
}

TEST_F(LocalPort, PortZeroTakesFreePorts) {
  auto r = Apply("endpoint.any", nullptr, Server(0, 2));
  ASSERT_FALSE(HasErrors(r.diagnostics)) << Text(r.diagnostics);
  EXPECT_NE(r.state["url"], Url(0));
  EXPECT_EQ(sys_->HttpGet(r.state["url"].get<std::string>() + "/", 2000), 200);
  ASSERT_EQ(r.state["urls"].size(), 2u);
  EXPECT_NE(r.state["urls"][0], r.state["urls"][1]);
  for (const auto& u : r.state["urls"]) EXPECT_EQ(sys_->HttpGet(u.get<std::string>() + "/", 2000), 200);
}

TEST_F(LocalPort, APortInUseIsAnErrorAtPlanAndApplyNamingThePort) {
  int port = FreeRun(1);
  ASSERT_GT(port, 0);
  Listener other(port);
  ASSERT_TRUE(other.ok());
  auto plan = p_->Plan({"endpoint", "endpoint.busy", nullptr, Server(port, 2)});
  ASSERT_TRUE(HasErrors(plan.diagnostics));
  std::string want = "endpoint endpoint.busy: port " + std::to_string(port) +
                     " (the endpoint's proxy) is in use by another process";
  EXPECT_EQ(plan.diagnostics[0].summary, want);
  EXPECT_EQ(plan.diagnostics[0].attribute, Path{"port"});
  EXPECT_NE(plan.diagnostics[0].detail.find("port = 0"), std::string::npos);
  // Apply refuses too, before any replica starts.
  json cfg = Server(port, 2);
  auto r = p_->Apply({"endpoint", "endpoint.busy", nullptr, cfg, cfg, nullptr});
  ASSERT_TRUE(HasErrors(r.diagnostics));
  EXPECT_EQ(r.diagnostics[0].summary, want);
  EXPECT_EQ(r.state["status"], "failed");
  EXPECT_TRUE(r.state["urls"].empty());
  live_.push_back({"endpoint.busy", r.state});
}

TEST_F(LocalPort, APortOfAnotherEndpointNamesIt) {
  int port = FreeRun(1);
  ASSERT_GT(port, 0);
  auto a = Apply("endpoint.a", nullptr, Server(port, 1));
  ASSERT_FALSE(HasErrors(a.diagnostics)) << Text(a.diagnostics);
  auto plan = p_->Plan({"endpoint", "endpoint.b", nullptr, Server(port, 1)});
  ASSERT_TRUE(HasErrors(plan.diagnostics));
  EXPECT_EQ(plan.diagnostics[0].summary.rfind("endpoint endpoint.b: port " + std::to_string(port) +
                                                  " (the endpoint's proxy) is in use by endpoint.a (pid ",
                                              0),
            0u)
      << plan.diagnostics[0].summary;
  EXPECT_EQ(sys_->HttpGet(Url(port) + "/", 2000), 200);  // a untouched
}

TEST_F(LocalPort, AReplacementOfTheSameEndpointTakesThePortOver) {
  int port = FreeRun(1);
  ASSERT_GT(port, 0);
  auto old = Apply("endpoint.web", nullptr, Server(port, 1));
  ASSERT_FALSE(HasErrors(old.diagnostics)) << Text(old.diagnostics);
  // create_before_destroy: the new object is created while the old runs.
  std::vector<std::string> progress;
  auto fresh = Apply("endpoint.web", nullptr, Server(port, 1), &progress);
  ASSERT_FALSE(HasErrors(fresh.diagnostics)) << Text(fresh.diagnostics);
  EXPECT_NE(fresh.state["id"], old.state["id"]);
  ASSERT_FALSE(progress.empty());
  EXPECT_EQ(progress[0].rfind("stopping the replaced object's proxy on port " + std::to_string(port), 0), 0u)
      << progress[0];
  // Then the old object's delete leaves the new one serving.
  EXPECT_FALSE(HasErrors(p_->Delete({"endpoint", "endpoint.web", old.state}).diagnostics));
  EXPECT_EQ(sys_->HttpGet(Url(port) + "/", 2000), 200);
  EXPECT_EQ(p_->Read({"endpoint", "endpoint.web", fresh.state}).state["status"], "ready");
}

TEST_F(LocalPort, ChangingThePortRestartsOnTheNewOne) {
  int port = FreeRun(1), moved = -1;
  ASSERT_GT(port, 0);
  auto first = Apply("endpoint.mv", nullptr, Server(port, 1));
  ASSERT_FALSE(HasErrors(first.diagnostics)) << Text(first.diagnostics);
  do moved = FreeRun(1);
  while (moved == port);
  auto plan = p_->Plan({"endpoint", "endpoint.mv", first.state, Server(moved, 1)});
  ASSERT_FALSE(HasErrors(plan.diagnostics)) << Text(plan.diagnostics);
  EXPECT_TRUE(plan.requires_replace.empty());
  EXPECT_EQ(plan.planned["url"], Url(moved));  // the proxy moves; the replicas stay
  auto r = p_->Apply({"endpoint", "endpoint.mv", first.state, plan.planned, Server(moved, 1), nullptr});
  ASSERT_FALSE(HasErrors(r.diagnostics)) << Text(r.diagnostics);
  live_.push_back({"endpoint.mv", r.state});
  EXPECT_EQ(r.state["url"], Url(moved));
  EXPECT_EQ(sys_->HttpGet(Url(moved) + "/", 2000), 200);
  EXPECT_EQ(sys_->HttpGet(Url(port) + "/", 500), -1);
}

TEST_F(LocalPort, OutOfRangeIsAValidationError) {
  auto v = p_->Validate({"endpoint", "endpoint.x", Server(65536, 1)});
  ASSERT_TRUE(HasErrors(v.diagnostics));
  EXPECT_EQ(v.diagnostics[0].attribute, Path{"port"});
  EXPECT_NE(v.diagnostics[0].summary.find("`port` 65536 is out of range"), std::string::npos);
  EXPECT_FALSE(HasErrors(p_->Validate({"endpoint", "endpoint.x", Server(65535, 3)}).diagnostics));
  EXPECT_TRUE(HasErrors(p_->Validate({"endpoint", "endpoint.x", Server(-1, 1)}).diagnostics));
}

}  // namespace
}  // namespace kiln
