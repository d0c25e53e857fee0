// The apply walk beyond plan_apply_test: deposed objects of
// create_before_destroy replacements (failure and crash between the create
// and the delete), a second interrupt aborting provider calls, and the
// intent journal written one step ahead.
#include <sys/wait.h>
#include <unistd.h>

#include <thread>

#include "planner_test_util.h"

namespace kiln::planner::test {
namespace {

std::string Messages(const Diagnostics& d) {
  std::string s;
  for (const auto& i : d.items()) s += i.code + " " + i.message + "\n";
  return s;
}

int CountOps(const testing::FakeProvider& fake, const std::string& op, const std::string& address) {
  int n = 0;
  for (const auto& c : fake.Calls())
    if (c.op == op && c.address == address) ++n;
  return n;
}

// A provider that makes the process exit (as if killed) when it is asked
// to do `op` on `address`; everything else goes to `inner`.
class DieOn : public Provider {
 public:
  DieOn(Provider* inner, std::string op, std::string address)
      : inner_(inner), op_(std::move(op)), address_(std::move(address)) {}
  const ProviderSchema& Schema() const override { return inner_->Schema(); }
  ConfigureResponse Configure(const ConfigureRequest& r) override { return inner_->Configure(r); }
  ValidateResponse Validate(const ValidateRequest& r) override { return inner_->Validate(r); }
  PlanResponse Plan(const PlanRequest& r) override { return inner_->Plan(r); }
  ApplyResponse Apply(const ApplyRequest& r) override {
    if (op_ == "apply" && r.address == address_) ::_exit(9);
    return inner_->Apply(r);
  }
  ReadResponse Read(const ReadRequest& r) override { return inner_->Read(r); }
  DeleteResponse Delete(const DeleteRequest& r) override {
    if (op_ == "delete" && r.address == address_) ::_exit(9);
    return inner_->Delete(r);
  }
  ImportResponse Import(const ImportRequest& r) override { return inner_->Import(r); }
  std::string Origin() const override { return "test"; }

 private:
  Provider* inner_;
  std::string op_, address_;
};

class ApplyWalkTest : public PlannerTest {
 protected:
  // Objects kept as files, so that a forked child's work is visible here.
  void UseDirProvider(testing::FakeOptions o = {}) {
    o.dir = (dir_ / "objects").string();
    std::filesystem::create_directories(o.dir);
    ResetProvider(o);
  }

  // Runs plan + apply in a child process whose provider "dies" on `op` of
  // `address`; returns its exit status.
  int ApplyInChildDyingOn(const std::string& op, const std::string& address) {
    pid_t pid = ::fork();
    if (pid == 0) {
      DieOn dying(fake_.get(), op, address);
      MapProviderSource src;
      src.Add("provider.fake", &dying);
      PlanContext ctx{&config_, &src, store_.get(), journal_.get()};
      Diagnostics d;
      Plan p = MakePlan(ctx, {}, d);
      ApplyPlan(p, ctx, {}, d);
      ::_exit(0);
    }
    int status = 0;
    ::waitpid(pid, &status, 0);
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  }

  state::State Recorded() { return store_->Current(); }
};

TEST_F(ApplyWalkTest, DeposedObjectIsDeletedExactlyOnceAfterADeleteFailure) {
  UseDirProvider();
  config_.Add("fake.thing", "web", {{"zone", "z1"}}).lifecycle.create_before_destroy = true;
  Converge();
  std::string old_id = Recorded().Find("fake.thing.web")->attributes["id"];
  config_.Get("fake.thing.web").config["zone"] = "z2";
  // Deletes fail this time.
  testing::FakeOptions failing;
  failing.fail_delete = {"fake.thing.web"};
  UseDirProvider(failing);
  Reopen();
  Plan p = MakePlanOk();
  Diagnostics d;
  ApplyResult r = ApplyPlan(p, Context(), {}, d);
  EXPECT_EQ(r.failed, 1) << Messages(d);
  EXPECT_NE(Messages(d).find("fake.thing.web: injected delete failure"), std::string::npos) << Messages(d);
  Reopen();
  state::State after = Recorded();
  ASSERT_EQ(after.deposed.size(), 1u);
  EXPECT_EQ(after.deposed[0].attributes["id"], old_id);
  EXPECT_EQ(after.deposed[0].deposed_key.size(), 8u);
  ASSERT_TRUE(after.Find("fake.thing.web"));
  EXPECT_NE(after.Find("fake.thing.web")->attributes["id"], old_id);
  EXPECT_EQ(fake_->Objects().size(), 2u);
  EXPECT_NE(ReadFile(dir_ / "state.json").find("\"version\": 2"), std::string::npos);

  // Deletes work again: the next plan deletes the deposed object only.
  UseDirProvider();
  Reopen();
  Plan next = MakePlanOk();
  int changes = 0;
  for (const auto& c : next.changes) {
    if (c.action == Action::kNoop) continue;
    ++changes;
    EXPECT_EQ(c.action, Action::kDelete) << c.address;
    EXPECT_EQ(c.action_reason, kReasonDeposed);
    EXPECT_EQ(c.deposed_key, after.deposed[0].deposed_key);
  }
  EXPECT_EQ(changes, 1);
  std::string text = RenderText(next);
  EXPECT_NE(text.find("deposed object, left by an interrupted replacement"), std::string::npos) << text;
  // The JSON plan names the deposed object; a saved plan keeps it.
  json pj = PlanToJson(next);
  int deposed_in_json = 0;
  for (const auto& rc : pj["resource_changes"])
    if (rc.value("action_reason", "") == kReasonDeposed && rc.value("deposed", "") == after.deposed[0].deposed_key)
      ++deposed_in_json;
  EXPECT_EQ(deposed_in_json, 1) << pj.dump(2);
  Plan reloaded;
  std::string error;
  ASSERT_TRUE(SavedPlanFromJson(SavedPlanToJson(next), &reloaded, &error)) << error;
  int reloaded_deposed = 0;
  for (const auto& c : reloaded.changes)
    if (c.deposed_key == after.deposed[0].deposed_key && c.prior && c.prior->attributes["id"] == old_id)
      ++reloaded_deposed;
  EXPECT_EQ(reloaded_deposed, 1);
  fake_->ClearCalls();
  ApplyOk(next);
  EXPECT_EQ(CountOps(*fake_, "delete", "fake.thing.web"), 1);
  auto live = fake_->Objects();
  ASSERT_EQ(live.size(), 1u);
  EXPECT_EQ(live.begin()->first, after.Find("fake.thing.web")->attributes["id"]);
  Reopen();
  EXPECT_TRUE(Recorded().deposed.empty());
  EXPECT_NE(ReadFile(dir_ / "state.json").find("\"version\": 1"), std::string::npos);
  Plan last = MakePlanOk();
  EXPECT_FALSE(last.HasChanges()) << RenderText(last);
}

TEST_F(ApplyWalkTest, TargetingAnAddressWithADeposedObjectStillPullsItsDependencies) {
  UseDirProvider();
  config_.Add("fake.thing", "db", {{"zone", "z1"}, {"count", 1}});
  config_.Add("fake.thing", "web", {{"zone", "z1"}}, {"fake.thing.db"}).lifecycle.create_before_destroy = true;
  Converge();
  config_.Get("fake.thing.web").config["zone"] = "z2";
  testing::FakeOptions failing;
  failing.fail_delete = {"fake.thing.web"};
  UseDirProvider(failing);
  Reopen();
  Plan p = MakePlanOk();
  Diagnostics d;
  ApplyPlan(p, Context(), {}, d);
  Reopen();
  ASSERT_EQ(Recorded().deposed.size(), 1u);
  // Now web changes in place and needs db's update first; --target web
  // must pull db in even though web also has a deposed object to delete.
  UseDirProvider();
  Reopen();
  config_.Get("fake.thing.db").config["count"] = 2;
  config_.Get("fake.thing.web").config["count"] = 3;
  PlanOptions o;
  o.targets = {"fake.thing.web"};
  Plan targeted = MakePlanOk(o);
  std::map<std::string, int> kept;
  for (const auto& c : targeted.changes)
    if (c.action != Action::kNoop) ++kept[c.address + (c.deposed_key.empty() ? "" : " deposed")];
  EXPECT_EQ(kept["fake.thing.db"], 1) << RenderText(targeted);
  EXPECT_EQ(kept["fake.thing.web"], 1) << RenderText(targeted);
  EXPECT_EQ(kept["fake.thing.web deposed"], 1) << RenderText(targeted);
}

TEST_F(ApplyWalkTest, CrashBetweenCreateAndDeleteLeavesADeposedRecordDeletedOnce) {
  UseDirProvider();
  config_.Add("fake.thing", "web", {{"zone", "z1"}}).lifecycle.create_before_destroy = true;
  config_.Add("fake.thing", "other", {{"zone", "z1"}});
  Converge();
  std::string old_id = Recorded().Find("fake.thing.web")->attributes["id"];
  config_.Get("fake.thing.web").config["zone"] = "z2";
  // The process dies when the old object's delete is sent.
  EXPECT_EQ(ApplyInChildDyingOn("delete", "fake.thing.web"), 9);
  Reopen();
  state::State after = Recorded();
  ASSERT_EQ(after.deposed.size(), 1u);
  EXPECT_EQ(after.deposed[0].attributes["id"], old_id);
  EXPECT_EQ(fake_->Objects().size(), 3u);  // other, old web, new web
  Plan next = MakePlanOk();
  int deletes = 0;
  for (const auto& c : next.changes) {
    if (c.action == Action::kNoop) continue;
    EXPECT_EQ(c.action_reason, kReasonDeposed) << c.address;
    ++deletes;
  }
  EXPECT_EQ(deletes, 1);
  ApplyOk(next);
  EXPECT_EQ(fake_->Objects().size(), 2u);
  EXPECT_EQ(fake_->Objects().count(old_id), 0u);
  Reopen();
  EXPECT_FALSE(MakePlanOk().HasChanges());
}

TEST_F(ApplyWalkTest, CrashAfterTheNewObjectIsCreatedButBeforeItIsRecorded) {
  UseDirProvider();
  config_.Add("fake.thing", "web", {{"zone", "z1"}}).lifecycle.create_before_destroy = true;
  Converge();
  std::string old_id = Recorded().Find("fake.thing.web")->attributes["id"];
  config_.Get("fake.thing.web").config["zone"] = "z2";
  // Dies when the old object's delete is sent: the new object exists; to
  // also lose its record, the state file is rolled back to the write that
  // deposed the old object (the one before the new object was recorded).
  EXPECT_EQ(ApplyInChildDyingOn("delete", "fake.thing.web"), 9);
  Reopen();
  state::State s = Recorded();
  ASSERT_EQ(s.deposed.size(), 1u);
  std::string new_id;
  for (const auto& [id, rec] : fake_->Objects())
    if (id != old_id) new_id = id;
  ASSERT_FALSE(new_id.empty());
  if (s.Find("fake.thing.web")) {
    // The dependent (the delete) does not wait for the state write, so
    // the new object may or may not be recorded yet: make it "not yet".
    state::State rolled = s;
    rolled.Remove("fake.thing.web");
    Diagnostics d;
    ASSERT_TRUE(store_->Save(rolled, d));
    // ... and the create's intent is pending again, as it was then.
    state::Journal j(store_->journal_path());
    ASSERT_TRUE(j.BeginCreate({"fake.thing.web", "fake.thing", "provider.fake", "fake", ""}, d));
  }
  Reopen();
  // Reconciliation adopts the new object (the newest with that address);
  // the plan deletes the deposed old one, once.
  Plan next = MakePlanOk();
  ASSERT_TRUE(Recorded().Find("fake.thing.web"));
  EXPECT_EQ(Recorded().Find("fake.thing.web")->attributes["id"], new_id);
  int deletes = 0;
  for (const auto& c : next.changes) {
    if (c.action == Action::kNoop) continue;
    EXPECT_EQ(c.action_reason, kReasonDeposed) << c.address;
    ++deletes;
  }
  EXPECT_EQ(deletes, 1);
  ApplyOk(next);
  auto live = fake_->Objects();
  ASSERT_EQ(live.size(), 1u);
  EXPECT_EQ(live.begin()->first, new_id);
}

TEST_F(ApplyWalkTest, CrashBeforeTheNewObjectIsCreatedMakesTheOldOneCurrentAgain) {
  UseDirProvider();
  config_.Add("fake.thing", "web", {{"zone", "z1"}}).lifecycle.create_before_destroy = true;
  Converge();
  std::string old_id = Recorded().Find("fake.thing.web")->attributes["id"];
  config_.Get("fake.thing.web").config["zone"] = "z2";
  // Dies when the create is sent: the old object is deposed, nothing new.
  EXPECT_EQ(ApplyInChildDyingOn("apply", "fake.thing.web"), 9);
  Reopen();
  ASSERT_EQ(Recorded().deposed.size(), 1u);
  EXPECT_FALSE(Recorded().Find("fake.thing.web"));
  // The pending intent finds the old object: it is current again, and the
  // plan is the same replacement as before (nothing deleted twice, nothing
  // created twice).
  Plan next = MakePlanOk();
  EXPECT_TRUE(Recorded().deposed.empty());
  ASSERT_TRUE(Recorded().Find("fake.thing.web"));
  EXPECT_EQ(Recorded().Find("fake.thing.web")->attributes["id"], old_id);
  EXPECT_EQ(ActionOf(next, "fake.thing.web"), Action::kReplace);
  ApplyOk(next);
  EXPECT_EQ(fake_->Objects().size(), 1u);
  EXPECT_EQ(fake_->Objects().count(old_id), 0u);
  Reopen();
  EXPECT_FALSE(MakePlanOk().HasChanges());
}

TEST_F(ApplyWalkTest, FailedCreateOfTheReplacementKeepsTheOldObjectCurrent) {
  config_.Add("fake.thing", "web", {{"zone", "z1"}}).lifecycle.create_before_destroy = true;
  Converge();
  std::string old_id = Recorded().Find("fake.thing.web")->attributes["id"];
  config_.Get("fake.thing.web").config["zone"] = "z2";
  fake_->FailApply("fake.thing.web");
  Plan p = MakePlanOk();
  Diagnostics d;
  ApplyResult r = ApplyPlan(p, Context(), {}, d);
  EXPECT_EQ(r.failed, 1);
  Reopen();
  EXPECT_TRUE(Recorded().deposed.empty());
  ASSERT_TRUE(Recorded().Find("fake.thing.web"));
  EXPECT_EQ(Recorded().Find("fake.thing.web")->attributes["id"], old_id);
}

TEST_F(ApplyWalkTest, SecondInterruptAbortsProviderCallsAndSavesState) {
  testing::FakeOptions slow;
  slow.apply_ms = 20000;
  ResetProvider(slow);
  Reopen();
  config_.Add("fake.thing", "a", {{"name", "a"}});
  config_.Add("fake.thing", "b", {{"name", "b"}});
  config_.Add("fake.thing", "c", {{"name", "c"}}, {"fake.thing.a"});
  Plan p = MakePlanOk();
  std::atomic<int> interrupt{0};
  ApplyOptions o;
  o.interrupt = &interrupt;
  std::vector<std::string> lines;
  std::mutex lines_mu;
  o.log = [&](const std::string& l) {
    std::lock_guard<std::mutex> lock(lines_mu);
    lines.push_back(l);
  };
  std::thread ctrl_c([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(300));
    interrupt = 1;  // first Ctrl-C: nothing new starts
    std::this_thread::sleep_for(std::chrono::milliseconds(300));
    interrupt = 2;  // second: abort what is in flight
  });
  auto t0 = std::chrono::steady_clock::now();
  Diagnostics d;
  ApplyResult r = ApplyPlan(p, Context(), o, d);
  ctrl_c.join();
  auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - t0).count();
  EXPECT_LT(ms, 5000);
  EXPECT_TRUE(r.interrupted);
  EXPECT_EQ(r.aborted, 2);
  EXPECT_EQ(r.failed, 2);
  EXPECT_EQ(r.skipped, 1);  // c never started
  EXPECT_EQ(fake_->Cancelled(), 2);
  std::string m = Messages(d);
  EXPECT_NE(m.find("E0906 fake.thing.a: cancelled"), std::string::npos) << m;
  EXPECT_NE(m.find("E0906 fake.thing.b: cancelled"), std::string::npos) << m;
  bool told = false;
  for (const auto& l : lines) told |= l.find("Second interrupt") != std::string::npos;
  EXPECT_TRUE(told);
  // Nothing was created; the journal has nothing pending (c's intent, if
  // written ahead, was closed since it was never sent).
  EXPECT_TRUE(fake_->Objects().empty());
  Diagnostics jd;
  EXPECT_TRUE(journal_->Pending(jd).empty());
  Reopen();
  EXPECT_TRUE(Recorded().resources.empty());
}

TEST_F(ApplyWalkTest, FirstInterruptFinishesInFlightWorkAndClosesIntentsWrittenAhead) {
  testing::FakeOptions slow;
  slow.apply_ms = 400;
  ResetProvider(slow);
  Reopen();
  config_.Add("fake.thing", "a", {{"name", "a"}});
  config_.Add("fake.thing", "b", {{"name", "b"}}, {"fake.thing.a"});
  Plan p = MakePlanOk();
  std::atomic<int> interrupt{0};
  ApplyOptions o;
  o.interrupt = &interrupt;
  std::thread ctrl_c([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(150));
    interrupt = 1;
  });
  Diagnostics d;
  ApplyResult r = ApplyPlan(p, Context(), o, d);
  ctrl_c.join();
  EXPECT_TRUE(r.interrupted);
  EXPECT_EQ(r.succeeded, 1);
  EXPECT_EQ(r.skipped, 1);
  EXPECT_EQ(r.aborted, 0);
  EXPECT_EQ(fake_->Objects().size(), 1u);
  // b's intent was written when a started; b was never sent, so it is
  // closed: the next plan reads nothing back.
  Diagnostics jd;
  EXPECT_TRUE(journal_->Pending(jd).empty());
  Reopen();
  EXPECT_TRUE(Recorded().Find("fake.thing.a"));
  fake_->ClearCalls();
  Plan next = MakePlanOk();
  EXPECT_EQ(CountOps(*fake_, "read", "fake.thing.b"), 0);
  EXPECT_EQ(ActionOf(next, "fake.thing.b"), Action::kCreate);
}

TEST_F(ApplyWalkTest, TimingsCoverEveryOperation) {
  for (int i = 0; i < 6; ++i)
    config_.Add("fake.thing", "t" + std::to_string(i), {{"name", "x"}},
                i ? std::vector<std::string>{"fake.thing.t" + std::to_string(i - 1)} : std::vector<std::string>{});
  Plan p = MakePlanOk();
  std::vector<ApplyOpTiming> t;
  ApplyOptions o;
  o.timings = &t;
  Diagnostics d;
  ASSERT_TRUE(ApplyPlan(p, Context(), o, d).ok());
  ASSERT_EQ(t.size(), 6u);
  for (const auto& x : t) {
    EXPECT_LE(x.ready, x.started);
    EXPECT_LE(x.started, x.intent_durable);
    EXPECT_LE(x.intent_durable, x.provider_done);
    EXPECT_LE(x.provider_done, x.finished);
  }
}

}  // namespace
}  // namespace kiln::planner::test
