// Provider::Cancel (kiln's second Ctrl-C): the fake provider, and the
// JSON-RPC host against a real slow plugin that honours `$/cancelRequest`
// and one that ignores it (killed after the grace period).
#include <gtest/gtest.h>

#include <chrono>
#include <future>
#include <thread>

#include "providers/rpc/rpc_provider.h"
#include "providers/testing/fake_provider.h"

namespace kiln {
namespace {

using json = nlohmann::json;
using Clock = std::chrono::steady_clock;

const std::string kSlow = std::string(KILN_SOURCE_DIR) + "/tests/providers/plugins/kiln-provider-slow";

long MsSince(Clock::time_point t) {
  return static_cast<long>(std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - t).count());
}

std::string Summaries(const ProviderDiagnostics& diags) {
  std::string s;
  for (const auto& d : diags) s += d.summary + "\n";
  return s;
}

TEST(FakeCancel, AbortsCallsInFlightAndLaterCallsRunNormally) {
  testing::FakeOptions o;
  o.apply_ms = 10000;
  o.delete_ms = 10000;
  testing::FakeProvider fake(o);
  auto t0 = Clock::now();
  auto create = std::async(std::launch::async, [&] {
    return fake.Apply({"thing", "fake.thing.a", nullptr, json{{"name", "a"}}, json{{"name", "a"}}, nullptr});
  });
  auto del = std::async(std::launch::async, [&] {
    return fake.Delete({"thing", "fake.thing.b", json{{"id", "fake-9"}}});
  });
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  fake.Cancel();
  ApplyResponse a = create.get();
  DeleteResponse d = del.get();
  EXPECT_LT(MsSince(t0), 3000);
  ASSERT_TRUE(HasErrors(a.diagnostics));
  EXPECT_NE(a.diagnostics[0].summary.find("cancelled"), std::string::npos) << Summaries(a.diagnostics);
  EXPECT_TRUE(a.state.is_null());  // nothing was created
  EXPECT_TRUE(fake.Objects().empty());
  ASSERT_TRUE(HasErrors(d.diagnostics));
  EXPECT_EQ(fake.Cancelled(), 2);
  // A call made after the cancel is not affected by it.
  testing::FakeOptions quick;
  quick.apply_ms = 50;
  testing::FakeProvider fake2(quick);
  fake2.Cancel();
  ApplyResponse later = fake2.Apply({"thing", "fake.thing.c", nullptr, json{{"name", "c"}}, json{{"name", "c"}}, nullptr});
  EXPECT_FALSE(HasErrors(later.diagnostics)) << Summaries(later.diagnostics);
  EXPECT_EQ(fake2.Objects().size(), 1u);
}

std::unique_ptr<Provider> StartSlow(bool ignore_cancel, int grace_ms) {
  rpc::PluginOptions o;
  o.type = "slow";
  o.path = kSlow;
  o.call_timeout_ms = 60000;
  o.initialize_timeout_ms = 10000;
  o.cancel_grace_ms = grace_ms;
  ProviderDiagnostics diags;
  auto p = rpc::StartPlugin(o, &diags);
  EXPECT_TRUE(p) << Summaries(diags);
  if (!p) return nullptr;
  auto c = p->Configure({json{{"apply_ms", 20000}, {"ignore_cancel", ignore_cancel}}});
  EXPECT_FALSE(HasErrors(c.diagnostics)) << Summaries(c.diagnostics);
  return p;
}

ApplyResponse SlowCreate(Provider* p, const std::string& name) {
  return p->Apply({"thing", "slow.thing." + name, nullptr, json{{"x", 1}}, json{{"x", 1}}, nullptr});
}

TEST(RpcCancel, PluginThatHonoursTheNotificationAnswersAtOnce) {
  auto p = StartSlow(false, 5000);
  ASSERT_TRUE(p);
  auto t0 = Clock::now();
  auto first = std::async(std::launch::async, [&] { return SlowCreate(p.get(), "a"); });
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  // Queued behind the first (one call at a time per plugin): never sent.
  auto second = std::async(std::launch::async, [&] { return SlowCreate(p.get(), "b"); });
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  p->Cancel();
  ApplyResponse a = first.get();
  ApplyResponse b = second.get();
  EXPECT_LT(MsSince(t0), 4000);
  ASSERT_TRUE(HasErrors(a.diagnostics));
  EXPECT_EQ(a.diagnostics[0].summary.rfind(
                "provider `slow` failed apply of slow.thing.a: request cancelled (JSON-RPC error -32800)", 0),
            0u)
      << Summaries(a.diagnostics);
  ASSERT_TRUE(HasErrors(b.diagnostics));
  EXPECT_EQ(b.diagnostics[0].summary,
            "provider `slow` did not run apply of slow.thing.b: cancelled before it was sent");
  // The plugin is still running and serves the next call normally.
  auto plan = p->Plan({"thing", "slow.thing.c", nullptr, json{{"x", 2}}});
  EXPECT_FALSE(HasErrors(plan.diagnostics)) << Summaries(plan.diagnostics);
}

TEST(RpcCancel, PluginThatIgnoresItIsKilledAfterTheGracePeriod) {
  auto p = StartSlow(true, 600);
  ASSERT_TRUE(p);
  auto first = std::async(std::launch::async, [&] { return SlowCreate(p.get(), "a"); });
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  auto t0 = Clock::now();
  p->Cancel();
  ApplyResponse a = first.get();
  long ms = MsSince(t0);
  EXPECT_GE(ms, 550);
  EXPECT_LT(ms, 4000);
  ASSERT_TRUE(HasErrors(a.diagnostics));
  EXPECT_NE(a.diagnostics[0].summary.find(
                "provider `slow` did not stop apply of slow.thing.a within 600ms of being asked to "
                "cancel it, and was killed"),
            std::string::npos)
      << Summaries(a.diagnostics);
  // The plugin did receive the notification (its log says so).
  EXPECT_NE(a.diagnostics[0].summary.find("cancel received for"), std::string::npos)
      << Summaries(a.diagnostics);
}

}  // namespace
}  // namespace kiln
