// Reading progress out of API objects: a Deployment's rollout (as Terraform's
// wait_for_rollout and `kubectl rollout status` judge it) and a Job's
// outcome, plus the wait loop over a clock seam. Tested on recorded answers.
#pragma once

#include <cstdint>
#include <functional>
#include <nlohmann/json.hpp>
#include <string>

namespace kiln::kube {

struct Progress {
  enum State { kWaiting, kDone, kFailed } state = kWaiting;
  std::string message;  // what it waits for, or why it failed
};

// One look at a Deployment: done when the controller has seen the latest
// generation and every replica is updated, ready and available; failed on
// ProgressDeadlineExceeded or a ReplicaFailure condition (a quota refusal).
Progress DeploymentProgress(const nlohmann::json& deployment);
// One look at a Job: done on Complete, failed on Failed (with the reason).
Progress JobProgress(const nlohmann::json& job);
// A Job's kiln status: pending, running, succeeded or failed.
std::string JobStatus(const nlohmann::json& job);

class Clock {
 public:
  virtual ~Clock() = default;
  virtual int64_t NowMs() = 0;
  virtual void SleepMs(int64_t ms) = 0;
};
Clock& RealClock();

// Polls `look` until it is done or failed, `timeout_ms` passes or `cancelled`
// says so. `note` gets a progress line every 10 s. The final Progress is
// kFailed with "timed out after Ns: <last message>" on timeout.
Progress WaitFor(const std::function<Progress()>& look, int64_t timeout_ms, Clock& clock,
                 const std::function<bool()>& cancelled, const std::function<void(const std::string&)>& note,
                 int64_t poll_ms = 500);

}  // namespace kiln::kube
