#include "providers/kubernetes/rollout.h"

#include <chrono>
#include <thread>

namespace kiln::kube {

using json = nlohmann::json;

namespace {

int64_t Num(const json& obj, const char* key, int64_t def = 0) {
  if (!obj.is_object() || !obj.contains(key) || !obj[key].is_number()) return def;
  return obj[key].get<int64_t>();
}

const json* Condition(const json& obj, const std::string& type) {
  if (!obj.contains("status") || !obj["status"].contains("conditions")) return nullptr;
  for (const auto& c : obj["status"]["conditions"])
    if (c.value("type", "") == type) return &c;
  return nullptr;
}

class SteadyClock : public Clock {
 public:
  int64_t NowMs() override {
    return std::chrono::duration_cast<std::chrono::milliseconds>(
               std::chrono::steady_clock::now().time_since_epoch())
        .count();
  }
  void SleepMs(int64_t ms) override { std::this_thread::sleep_for(std::chrono::milliseconds(ms)); }
};

}  // namespace

Progress DeploymentProgress(const json& d) {
  const json& spec = d.value("spec", json::object());
  const json& status = d.value("status", json::object());
  int64_t generation = Num(d["metadata"], "generation");
  if (Num(status, "observedGeneration") < generation)
    return {Progress::kWaiting, "waiting for the deployment controller to see generation " + std::to_string(generation)};
  if (const json* c = Condition(d, "ReplicaFailure"); c && c->value("status", "") == "True")
    return {Progress::kFailed, c->value("reason", "ReplicaFailure") + ": " + c->value("message", "")};
  if (const json* c = Condition(d, "Progressing");
      c && c->value("status", "") == "False" && c->value("reason", "") == "ProgressDeadlineExceeded")
    return {Progress::kFailed, "the rollout exceeded its progress deadline: " + c->value("message", "")};
  int64_t want = Num(spec, "replicas", 1);
  int64_t updated = Num(status, "updatedReplicas"), total = Num(status, "replicas");
  int64_t ready = Num(status, "readyReplicas"), available = Num(status, "availableReplicas");
  auto of = [&](int64_t n, const char* what) {
    return std::to_string(n) + " of " + std::to_string(want) + " replicas " + what;
  };
  if (updated < want) return {Progress::kWaiting, of(updated, "updated")};
  if (total > updated)
    return {Progress::kWaiting, std::to_string(total - updated) + " old replicas pending termination"};
  if (ready < want) return {Progress::kWaiting, of(ready, "ready")};
  if (available < want) return {Progress::kWaiting, of(available, "available")};
  return {Progress::kDone, of(available, "available")};
}

Progress JobProgress(const json& job) {
  if (const json* c = Condition(job, "Complete"); c && c->value("status", "") == "True")
    return {Progress::kDone, "complete"};
  if (const json* c = Condition(job, "Failed"); c && c->value("status", "") == "True")
    return {Progress::kFailed, c->value("reason", "Failed") + ": " + c->value("message", "")};
  const json& st = job.value("status", json::object());
  return {Progress::kWaiting, std::to_string(Num(st, "active")) + " active, " + std::to_string(Num(st, "succeeded")) +
                                  " succeeded, " + std::to_string(Num(st, "failed")) + " failed"};
}

std::string JobStatus(const json& job) {
  Progress p = JobProgress(job);
  if (p.state == Progress::kDone) return "succeeded";
  if (p.state == Progress::kFailed) return "failed";
  const json& st = job.value("status", json::object());
  return Num(st, "active") > 0 || Num(st, "succeeded") > 0 || Num(st, "failed") > 0 ? "running" : "pending";
}

Clock& RealClock() {
  static SteadyClock clock;
  return clock;
}

Progress WaitFor(const std::function<Progress()>& look, int64_t timeout_ms, Clock& clock,
                 const std::function<bool()>& cancelled, const std::function<void(const std::string&)>& note,
                 int64_t poll_ms) {
  int64_t start = clock.NowMs(), last_note = start;
  while (true) {
    Progress p = look();
    if (p.state != Progress::kWaiting) return p;
    int64_t now = clock.NowMs();
    if (now - start >= timeout_ms)
      return {Progress::kFailed, "timed out after " + std::to_string(timeout_ms / 1000) + "s: " + p.message};
    if (cancelled && cancelled()) return {Progress::kFailed, "cancelled while " + p.message};
    if (note && now - last_note >= 10000) {
      note(p.message);
      last_note = now;
    }
    clock.SleepMs(poll_ms);
  }
}

}  // namespace kiln::kube
