// The rollout and Job waits on recorded API answers (tests/kubernetes/testdata,
// recorded from kube-apiserver 1.20 with the fake kubelet): a fake clock
// steps through them, as Pulumi's await tests replay watch events.
#include <gtest/gtest.h>

#include <fstream>
#include <sstream>

#include "providers/kubernetes/rollout.h"

namespace kiln::kube {
namespace {

using json = nlohmann::json;

json Recorded(const std::string& name) {
  std::ifstream in(std::string(KILN_SOURCE_DIR) + "/tests/kubernetes/testdata/" + name);
  std::stringstream ss;
  ss << in.rdbuf();
  json j = json::parse(ss.str(), nullptr, false);
  EXPECT_FALSE(j.is_discarded()) << name;
  return j;
}

class FakeClock : public Clock {
 public:
  int64_t NowMs() override { return now; }
  void SleepMs(int64_t ms) override {
    now += ms;
    ++sleeps;
  }
  int64_t now = 1000;
  int sleeps = 0;
};

// Replays a recorded sequence of GET answers, repeating the last one.
struct Replay {
  explicit Replay(json seq) : answers(std::move(seq)) {}
  Progress operator()() {
    const json& a = answers[std::min(next, answers.size() - 1)];
    ++next;
    return DeploymentProgress(a);
  }
  json answers;
  size_t next = 0;
};

TEST(KubeRollout, CompletesAfterTheControllerCatchesUp) {
  json seq = Recorded("rollout_ok.json");
  ASSERT_GE(seq.size(), 3u);
  EXPECT_EQ(DeploymentProgress(seq[0]).state, Progress::kWaiting);
  FakeClock clock;
  Replay replay(seq);
  std::vector<std::string> notes;
  Progress p = WaitFor(std::ref(replay), 60000, clock, nullptr, [&](const std::string& m) { notes.push_back(m); });
  EXPECT_EQ(p.state, Progress::kDone) << p.message;
  EXPECT_EQ(p.message, "2 of 2 replicas available");
  EXPECT_EQ(replay.next, seq.size());  // stopped at the first complete answer
}

TEST(KubeRollout, ObservedGenerationBehindIsNotDone) {
  json d = Recorded("rollout_ok.json").back();
  d["metadata"]["generation"] = d["status"]["observedGeneration"].get<int>() + 1;
  Progress p = DeploymentProgress(d);
  EXPECT_EQ(p.state, Progress::kWaiting);
  EXPECT_NE(p.message.find("generation"), std::string::npos);
}

TEST(KubeRollout, QuotaRefusalIsReplicaFailure) {
  Progress p = DeploymentProgress(Recorded("rollout_quota.json"));
  EXPECT_EQ(p.state, Progress::kFailed);
  EXPECT_NE(p.message.find("FailedCreate"), std::string::npos) << p.message;
  EXPECT_NE(p.message.find("exceeded quota"), std::string::npos) << p.message;
  EXPECT_NE(p.message.find("requests.nvidia.com/gpu"), std::string::npos) << p.message;
}

TEST(KubeRollout, ProgressDeadlineExceededFails) {
  json d = Recorded("rollout_ok.json")[1];
  d["status"]["conditions"] = json::array({{{"type", "Progressing"}, {"status", "False"},
                                            {"reason", "ProgressDeadlineExceeded"},
                                            {"message", "ReplicaSet \"web-5d4\" has timed out progressing."}}});
  Progress p = DeploymentProgress(d);
  EXPECT_EQ(p.state, Progress::kFailed);
  EXPECT_EQ(p.message, "the rollout exceeded its progress deadline: ReplicaSet \"web-5d4\" has timed out progressing.");
}

TEST(KubeRollout, NeverReadyTimesOut) {
  json stuck = Recorded("rollout_ok.json")[1];
  FakeClock clock;
  int notes = 0;
  Progress p = WaitFor([&] { return DeploymentProgress(stuck); }, 30000, clock, nullptr,
                       [&](const std::string&) { ++notes; });
  EXPECT_EQ(p.state, Progress::kFailed);
  EXPECT_EQ(p.message.rfind("timed out after 30s: ", 0), 0u) << p.message;
  EXPECT_EQ(clock.now - 1000, 30000);
  EXPECT_EQ(notes, 2);  // at 10 s and 20 s
}

TEST(KubeRollout, CancelStopsTheWait) {
  json stuck = Recorded("rollout_ok.json")[1];
  FakeClock clock;
  Progress p = WaitFor([&] { return DeploymentProgress(stuck); }, 30000, clock,
                       [&] { return clock.sleeps >= 3; }, nullptr);
  EXPECT_EQ(p.state, Progress::kFailed);
  EXPECT_EQ(p.message.rfind("cancelled while", 0), 0u);
  EXPECT_EQ(clock.sleeps, 3);
}

TEST(KubeJob, StatusFromConditions) {
  json seq = Recorded("job.json");
  ASSERT_GE(seq.size(), 3u);
  EXPECT_EQ(JobStatus(seq[0]), "pending");
  EXPECT_EQ(JobStatus(seq[1]), "running");
  EXPECT_EQ(JobStatus(seq.back()), "succeeded");
  EXPECT_EQ(JobProgress(seq.back()).state, Progress::kDone);
  json failed = seq.back();
  failed["status"]["conditions"] = json::array({{{"type", "Failed"}, {"status", "True"}, {"reason", "BackoffLimitExceeded"},
                                                 {"message", "Job has reached the specified backoff limit"}}});
  EXPECT_EQ(JobStatus(failed), "failed");
  EXPECT_EQ(JobProgress(failed).message, "BackoffLimitExceeded: Job has reached the specified backoff limit");
}

}  // namespace
}  // namespace kiln::kube
