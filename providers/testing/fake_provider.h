// A fake provider for tests and benchmarks (see README.md).
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <functional>
#include <map>
#include <mutex>
#include <set>
#include <string>
#include <vector>

#include "providers/provider.h"

namespace kiln::testing {

struct FakeCall {
  std::string op;       // "plan", "apply", "read", "delete", "import"
  std::string address;
  std::string detail;   // "create", "update" for apply; "" otherwise
};

struct FakeOptions {
  // The kinds offered; DefaultFakeSchema() when empty.
  ProviderSchema schema;
  // Top-level attributes whose change forces a replacement, per kind.
  std::map<std::string, std::set<std::string>> replace_on;
  // Latency per operation, in milliseconds.
  int plan_ms = 0, apply_ms = 0, read_ms = 0, delete_ms = 0;
  // How to wait; real sleep when empty (benchmarks), a fake clock in tests.
  std::function<void(std::chrono::milliseconds)> sleep;
  // Keep objects as files in this directory (shared across processes).
  std::string dir;
  // Addresses whose apply / read / delete fails with an error.
  std::set<std::string> fail_apply, fail_read, fail_delete;
  // Offer ReadBatch (recorded as one "read_batch" call, detail = count).
  bool read_batch = false;
  // The whole batch read fails (as a service that is down would).
  bool fail_read_batch = false;
  // Offer ValidateBatch and PlanBatch (recorded as one "validate_batch" /
  // "plan_batch" call each, detail = count, besides the "plan" of each).
  bool plan_batch = false;
};

// Kinds `thing` (name, value, count, tags, password (sensitive), ref, zone
// (forces replacement); computed id, status) and `bucket` (size; computed id).
ProviderSchema DefaultFakeSchema();

class FakeProvider : public Provider {
 public:
  explicit FakeProvider(FakeOptions options = {});

  const ProviderSchema& Schema() const override { return options_.schema; }
  // Provider config may set `dir`, `latency_ms` (apply/read/delete),
  // `fail_apply` (list of addresses).
  ConfigureResponse Configure(const ConfigureRequest& req) override;
  ValidateResponse Validate(const ValidateRequest& req) override;
  PlanResponse Plan(const PlanRequest& req) override;
  ApplyResponse Apply(const ApplyRequest& req) override;
  ReadResponse Read(const ReadRequest& req) override;
  bool SupportsReadBatch() const override { return options_.read_batch; }
  ReadBatchResponse ReadBatch(const ReadBatchRequest& req) override;
  bool SupportsValidateBatch() const override { return options_.plan_batch; }
  ValidateBatchResponse ValidateBatch(const ValidateBatchRequest& req) override;
  bool SupportsPlanBatch() const override { return options_.plan_batch; }
  PlanBatchResponse PlanBatch(const PlanBatchRequest& req) override;
  DeleteResponse Delete(const DeleteRequest& req) override;
  ImportResponse Import(const ImportRequest& req) override;
  // Aborts the waits of the calls in flight: they answer "cancelled"
  // (an apply creates nothing, a delete deletes nothing).
  void Cancel() override;
  std::string Origin() const override { return "built-in"; }

  // Test hooks.
  std::vector<FakeCall> Calls() const;
  void ClearCalls();
  // Live objects by id.
  std::map<std::string, nlohmann::json> Objects() const;
  // Changes an object behind kiln's back (drift); false if there is no such id.
  bool Mutate(const std::string& id, const nlohmann::json& patch);
  bool Remove(const std::string& id);
  void FailApply(const std::string& address);
  // The most operations that were in flight at once.
  int MaxConcurrent() const { return max_in_flight_.load(); }
  // How many calls were aborted by Cancel().
  int Cancelled() const { return cancelled_.load(); }

 private:
  void Record(const std::string& op, const std::string& address, const std::string& detail);
  // Sleeps `ms`; false when Cancel() was called after `gen` was taken.
  bool Wait(int ms, uint64_t gen);
  uint64_t CancelGen() const { return cancel_gen_.load(); }
  void Enter();
  void Leave();
  std::optional<nlohmann::json> Load(const std::string& id) const;
  void Store(const std::string& id, const nlohmann::json& state);
  void Erase(const std::string& id);
  std::string NewId(const std::string& address);

  FakeOptions options_;
  mutable std::mutex mu_;
  std::map<std::string, nlohmann::json> objects_;  // in-memory mode
  std::vector<FakeCall> calls_;
  uint64_t next_id_ = 1;
  std::atomic<int> in_flight_{0}, max_in_flight_{0}, cancelled_{0};
  std::atomic<uint64_t> cancel_gen_{0};
  std::mutex cancel_mu_;
  std::condition_variable cancel_cv_;
};

// Registers FakeProvider as built-in provider type `type`; every registry
// created afterwards gets a new FakeProvider made with `options`.
void RegisterFakeProvider(const std::string& type, FakeOptions options);

}  // namespace kiln::testing
