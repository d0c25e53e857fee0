// Plan and apply against the fake provider with hand-built configurations.
#include <algorithm>
#include <chrono>
#include <thread>

#include "planner_test_util.h"

namespace kiln::planner::test {
namespace {

TEST_F(PlannerTest, CreatesEverythingFromEmptyStateWithUnknownIds) {
  config_.Add("fake.thing", "a", {{"name", "alpha"}});
  config_.Add("fake.thing", "b", {{"name", "beta"}, {"ref", {{"$ref", "fake.thing.a.id"}}}},
              {"fake.thing.a"});
  Plan p = MakePlanOk();
  ASSERT_EQ(p.changes.size(), 2u);
  EXPECT_EQ(ActionOf(p, "fake.thing.a"), Action::kCreate);
  EXPECT_EQ(p.Find("fake.thing.a")->action_reason, kReasonNew);
  EXPECT_TRUE(IsUnknown(p.Find("fake.thing.b")->after["ref"]));
  EXPECT_TRUE(IsUnknown(p.Find("fake.thing.a")->after["id"]));
  auto s = p.summary();
  EXPECT_EQ(s.add, 2);
  std::string text = RenderText(p);
  EXPECT_NE(text.find("  # fake.thing.a will be created\n  + fake.thing.a {\n"), std::string::npos) << text;
  EXPECT_NE(text.find("+ id     = (known after apply)"), std::string::npos) << text;
  EXPECT_NE(text.find("Plan: 2 to add, 0 to change, 0 to replace, 0 to destroy."), std::string::npos);
  json j = PlanToJson(p);
  EXPECT_EQ(j["format_version"], "1.0");
  EXPECT_EQ(j["resource_changes"][1]["after_unknown"]["ref"], true);
  EXPECT_TRUE(j["resource_changes"][1]["after"]["ref"].is_null());
  EXPECT_EQ(j["summary"]["add"], 2);
}

TEST_F(PlannerTest, ApplyCreatesDependenciesFirstAndResolvesReferences) {
  config_.Add("fake.thing", "a", {{"name", "alpha"}});
  config_.Add("fake.thing", "b", {{"ref", {{"$ref", "fake.thing.a.id"}}}}, {"fake.thing.a"});
  config_.Add("fake.thing", "c", {{"ref", {{"$ref", "fake.thing.b.id"}}}}, {"fake.thing.b"});
  Plan p = MakePlanOk();
  ApplyOk(p);
  auto calls = fake_->Calls();
  std::vector<std::string> applies;
  for (const auto& c : calls)
    if (c.op == "apply") applies.push_back(c.address);
  EXPECT_EQ(applies, (std::vector<std::string>{"fake.thing.a", "fake.thing.b", "fake.thing.c"}));
  state::State s = store_->Current();
  ASSERT_EQ(s.resources.size(), 3u);
  EXPECT_EQ(s.Find("fake.thing.b")->attributes["ref"], s.Find("fake.thing.a")->attributes["id"]);
  EXPECT_EQ(s.Find("fake.thing.c")->dependencies, std::vector<std::string>{"fake.thing.b"});
  // Nothing pending in the journal after a clean apply.
  Diagnostics d;
  EXPECT_TRUE(journal_->Pending(d).empty());
  Reopen();
  Plan again = MakePlanOk();
  EXPECT_FALSE(again.HasChanges()) << RenderText(again);
  EXPECT_EQ(RenderText(again), "No changes. The infrastructure matches the configuration.\n");
}

TEST_F(PlannerTest, UpdateInPlaceVersusReplace) {
  config_.Add("fake.thing", "a", {{"name", "alpha"}, {"zone", "z1"}});
  config_.Add("fake.thing", "b", {{"name", "beta"}, {"zone", "z1"}});
  Converge();
  config_.Get("fake.thing.a").config["name"] = "alpha2";
  config_.Get("fake.thing.b").config["zone"] = "z2";
  Plan p = MakePlanOk();
  EXPECT_EQ(ActionOf(p, "fake.thing.a"), Action::kUpdate);
  EXPECT_EQ(ActionOf(p, "fake.thing.b"), Action::kReplace);
  EXPECT_EQ(p.Find("fake.thing.b")->replace_paths, std::vector<Path>{{"zone"}});
  std::string text = RenderText(p);
  EXPECT_NE(text.find("~ name   = \"alpha\" -> \"alpha2\""), std::string::npos) << text;
  EXPECT_NE(text.find("~ zone   = \"z1\" -> \"z2\" # forces replacement"), std::string::npos) << text;
  EXPECT_NE(text.find("-/+ fake.thing.b {"), std::string::npos) << text;
  EXPECT_NE(text.find("Plan: 0 to add, 1 to change, 1 to replace, 0 to destroy."), std::string::npos);
  std::string old_b = store_->Current().Find("fake.thing.b")->attributes["id"];
  ApplyOk(p);
  EXPECT_NE(store_->Current().Find("fake.thing.b")->attributes["id"], old_b);
  EXPECT_EQ(fake_->Objects().size(), 2u);
  Reopen();
  EXPECT_FALSE(MakePlanOk().HasChanges());
}

TEST_F(PlannerTest, ReplaceIsDeleteThenCreateUnlessCreateBeforeDestroy) {
  config_.Add("fake.thing", "a", {{"zone", "z1"}});
  config_.Add("fake.thing", "b", {{"zone", "z1"}}).lifecycle.create_before_destroy = true;
  Converge();
  config_.Get("fake.thing.a").config["zone"] = "z2";
  config_.Get("fake.thing.b").config["zone"] = "z2";
  fake_->ClearCalls();
  Plan p = MakePlanOk();
  ApplyOk(p, 1);
  std::vector<std::string> a_ops, b_ops;
  for (const auto& c : fake_->Calls()) {
    if (c.op != "apply" && c.op != "delete") continue;
    (c.address == "fake.thing.a" ? a_ops : b_ops).push_back(c.op);
  }
  EXPECT_EQ(a_ops, (std::vector<std::string>{"delete", "apply"}));
  EXPECT_EQ(b_ops, (std::vector<std::string>{"apply", "delete"}));
  EXPECT_EQ(fake_->Objects().size(), 2u);
  EXPECT_NE(RenderText(p).find("+/- fake.thing.b {"), std::string::npos);
}

TEST_F(PlannerTest, DeletesDependentsFirstAndResourcesLeavingConfig) {
  config_.Add("fake.thing", "a", {{"name", "a"}});
  config_.Add("fake.thing", "b", {{"ref", {{"$ref", "fake.thing.a.id"}}}}, {"fake.thing.a"});
  config_.Add("fake.thing", "c", {{"ref", {{"$ref", "fake.thing.b.id"}}}}, {"fake.thing.b"});
  Converge();
  config_.Remove("fake.thing.b");
  config_.Remove("fake.thing.c");
  Plan p = MakePlanOk();
  EXPECT_EQ(ActionOf(p, "fake.thing.b"), Action::kDelete);
  EXPECT_EQ(p.Find("fake.thing.b")->action_reason, kReasonNotInConfig);
  EXPECT_EQ(ActionOf(p, "fake.thing.a"), Action::kNoop);
  EXPECT_NE(RenderText(p).find("will be destroyed (no longer in the configuration)"), std::string::npos);

  // Destroy: everything, in reverse dependency order.
  config_.Add("fake.thing", "b", {{"ref", {{"$ref", "fake.thing.a.id"}}}}, {"fake.thing.a"});
  config_.Add("fake.thing", "c", {{"ref", {{"$ref", "fake.thing.b.id"}}}}, {"fake.thing.b"});
  PlanOptions o;
  o.mode = PlanMode::kDestroy;
  Plan d = MakePlanOk(o);
  EXPECT_EQ(d.summary().destroy, 3);
  fake_->ClearCalls();
  ApplyOk(d, 16);
  std::vector<std::string> deletes;
  for (const auto& c : fake_->Calls())
    if (c.op == "delete") deletes.push_back(c.address);
  EXPECT_EQ(deletes, (std::vector<std::string>{"fake.thing.c", "fake.thing.b", "fake.thing.a"}));
  EXPECT_TRUE(store_->Current().resources.empty());
  EXPECT_TRUE(fake_->Objects().empty());
}

TEST_F(PlannerTest, SensitiveValuesNeverReachStateOrRenderedPlans) {
  auto& a = config_.Add("fake.thing", "a", {{"name", "a"}, {"password", "hunter2-secret"}});
  (void)a;
  Plan p = MakePlanOk();
  for (const std::string& s : {RenderText(p), RenderJson(p), RenderMarkdown(p), SavedPlanToJson(p).dump()})
    EXPECT_EQ(s.find("hunter2-secret"), std::string::npos) << s;
  EXPECT_NE(RenderText(p).find("+ password = (sensitive)"), std::string::npos) << RenderText(p);
  ApplyOk(p);
  // The provider got the real value.
  auto objects = fake_->Objects();
  ASSERT_EQ(objects.size(), 1u);
  EXPECT_EQ(objects.begin()->second["state"]["password"], "hunter2-secret");
  EXPECT_EQ(ReadFile(dir_ / "state.json").find("hunter2-secret"), std::string::npos);
  Reopen();
  EXPECT_FALSE(MakePlanOk().HasChanges());
  // A changed secret is detected through the keyed hash, and still not shown.
  config_.Get("fake.thing.a").config["password"] = "new-secret-value";
  Plan p2 = MakePlanOk();
  EXPECT_EQ(ActionOf(p2, "fake.thing.a"), Action::kUpdate);
  std::string text = RenderText(p2);
  EXPECT_NE(text.find("~ password = (sensitive) -> (sensitive)"), std::string::npos) << text;
  EXPECT_EQ(text.find("new-secret-value"), std::string::npos);
}

TEST_F(PlannerTest, IgnoreChangesKeepsRecordedValue) {
  config_.Add("fake.thing", "a", {{"name", "a"}, {"count", 1}}).lifecycle.ignore_changes = {{"count"}};
  Converge();
  config_.Get("fake.thing.a").config["count"] = 5;
  EXPECT_EQ(ActionOf(MakePlanOk(), "fake.thing.a"), Action::kNoop);
  config_.Get("fake.thing.a").config["name"] = "b";
  Plan p = MakePlanOk();
  EXPECT_EQ(ActionOf(p, "fake.thing.a"), Action::kUpdate);
  EXPECT_EQ(p.Find("fake.thing.a")->after["count"], 1);
}

TEST_F(PlannerTest, PreventDestroyIsAnError) {
  config_.Add("fake.thing", "a", {{"zone", "z1"}}).lifecycle.prevent_destroy = true;
  Converge();
  config_.Get("fake.thing.a").config["zone"] = "z2";
  Diagnostics d;
  Plan p = MakePlan(Context(), {}, d);
  ASSERT_TRUE(d.HasErrors());
  EXPECT_EQ(d.items()[0].code, "E0904");
  EXPECT_TRUE(p.errored);
  EXPECT_NE(d.items()[0].message.find("fake.thing.a has lifecycle.prevent_destroy"), std::string::npos);
}

TEST_F(PlannerTest, DriftIsReportedApartFromChanges) {
  config_.Add("fake.thing", "a", {{"name", "a"}});
  config_.Add("fake.thing", "b", {{"name", "b"}});
  Converge();
  auto s = store_->Current();
  ASSERT_TRUE(fake_->Mutate(s.Find("fake.thing.a")->attributes["id"], {{"name", "changed"}}));
  ASSERT_TRUE(fake_->Remove(s.Find("fake.thing.b")->attributes["id"]));
  Plan p = MakePlanOk();
  ASSERT_EQ(p.drift.size(), 2u);
  EXPECT_EQ(p.drift[0].action_reason, kReasonDriftChanged);
  EXPECT_EQ(p.drift[1].action, Action::kDelete);
  EXPECT_EQ(ActionOf(p, "fake.thing.a"), Action::kUpdate);
  EXPECT_EQ(ActionOf(p, "fake.thing.b"), Action::kCreate);
  std::string text = RenderText(p);
  EXPECT_EQ(text.find("Objects have changed outside of kiln:"), 0u) << text;
  EXPECT_LT(text.find("has been deleted outside of kiln"), text.find("will perform"));
  EXPECT_EQ(PlanToJson(p)["resource_drift"].size(), 2u);
  // --refresh=false does not see it.
  PlanOptions o;
  o.refresh = false;
  Plan stale = MakePlanOk(o);
  EXPECT_TRUE(stale.drift.empty());
  EXPECT_FALSE(stale.HasChanges());
  // --refresh-only: drift only, no changes, applying records it.
  o.refresh = true;
  o.mode = PlanMode::kRefreshOnly;
  Plan ro = MakePlanOk(o);
  EXPECT_TRUE(ro.changes.empty());
  EXPECT_TRUE(ro.HasChanges());
  ApplyOk(ro);
  EXPECT_EQ(store_->Current().Find("fake.thing.a")->attributes["name"], "changed");
  EXPECT_EQ(store_->Current().Find("fake.thing.b"), nullptr);
}

TEST_F(PlannerTest, RefreshReadsInOneBatchWhenTheProviderCan) {
  testing::FakeOptions o;
  o.read_batch = true;
  ResetProvider(o);
  for (const char* n : {"a", "b", "c"}) config_.Add("fake.thing", n, {{"name", n}});
  Converge();
  auto s = store_->Current();
  ASSERT_TRUE(fake_->Remove(s.Find("fake.thing.b")->attributes["id"]));
  fake_->ClearCalls();
  Plan p = MakePlanOk();
  int batches = 0;
  for (const auto& c : fake_->Calls()) {
    if (c.op == "read_batch") {
      ++batches;
      EXPECT_EQ(c.detail, "3");
    }
  }
  EXPECT_EQ(batches, 1);
  // The batch's answers mean what single reads would.
  ASSERT_EQ(p.drift.size(), 1u);
  EXPECT_EQ(p.drift[0].address, "fake.thing.b");
  EXPECT_EQ(ActionOf(p, "fake.thing.b"), Action::kCreate);
}

TEST_F(PlannerTest, AFailedBatchReadIsOneErrorNamingItsObjects) {
  testing::FakeOptions o;
  o.read_batch = true;
  ResetProvider(o);
  for (const char* n : {"a", "b", "c", "d", "e"}) config_.Add("fake.thing", n, {{"name", n}});
  Converge();
  o.fail_read_batch = true;
  ResetProvider(o);
  Diagnostics d;
  MakePlan(Context(), {}, d);
  std::vector<std::string> errors;
  for (const auto& x : d.items())
    if (x.severity == Severity::kError) errors.push_back(x.code + " " + x.message);
  ASSERT_EQ(errors.size(), 1u) << (errors.empty() ? "" : errors[0] + " / " + errors.back());
  EXPECT_NE(errors[0].find("E0902 refresh of 5 object(s) of "), std::string::npos) << errors[0];
  EXPECT_NE(errors[0].find("(fake.thing.a, fake.thing.b, fake.thing.c and 2 more): injected failure of the whole batch read"),
            std::string::npos)
      << errors[0];
}

// A provider with ValidateBatch/PlanBatch gets chunks of at most 1,000
// instances per call, and the plan (changes, diagnostics) is exactly the one
// of single calls.
TEST_F(PlannerTest, DiffValidatesAndPlansInBatchesWhenTheProviderCan) {
  for (const char* n : {"a", "b", "c"}) config_.Add("fake.thing", n, {{"name", n}, {"zone", "z1"}});
  Converge();
  config_.Get("fake.thing.a").config["name"] = "a2";        // update
  config_.Get("fake.thing.b").config["zone"] = "z2";        // replace (the fake replaces on zone)
  config_.Get("fake.thing.c").config["name"] = "dubious";   // a warning from validate
  config_.Add("fake.thing", "d", {{"name", "invalid"}});    // an error from validate
  for (int i = 0; i < 2100; ++i) config_.Add("fake.thing", "n" + std::to_string(i), {{"name", "x"}});
  PlanOptions o;
  o.refresh = false;  // a new fake knows no objects; the state does
  auto plan_with = [&](bool batch, std::string* diags) {
    testing::FakeOptions f;
    f.plan_batch = batch;
    f.replace_on["thing"] = {"zone"};
    ResetProvider(f);
    Diagnostics d;
    Plan p = MakePlan(Context(), o, d);
    // Calls run in parallel, so diagnostics come in any order (the CLI
    // sorts them by source): compare them sorted.
    std::vector<std::string> lines;
    for (const auto& item : d.items()) lines.push_back(item.code + " " + item.message + "\n");
    std::sort(lines.begin(), lines.end());
    for (const auto& l : lines) *diags += l;
    return PlanToJson(p).dump(1);
  };
  std::string single_diags, batch_diags;
  std::string single = plan_with(false, &single_diags);
  for (const auto& c : fake_->Calls()) EXPECT_TRUE(c.op != "validate_batch" && c.op != "plan_batch") << c.op;
  std::string batched = plan_with(true, &batch_diags);
  EXPECT_EQ(batched, single);
  EXPECT_EQ(batch_diags, single_diags);
  EXPECT_NE(single_diags.find("E0903 fake.thing.d: name must not be \"invalid\""), std::string::npos) << single_diags;
  EXPECT_NE(single_diags.find("W0904 fake.thing.c: name \"dubious\""), std::string::npos) << single_diags;
  EXPECT_NE(single.find("\"replace\""), std::string::npos);
  // 2,104 instances validated in 3 batches; the invalid one is not planned
  // (2,103 in 3 batches), the replacement's fresh plan is a single call.
  std::vector<std::string> validates, plans;
  int singles = 0;
  for (const auto& c : fake_->Calls()) {
    if (c.op == "validate_batch") validates.push_back(c.detail);
    if (c.op == "plan_batch") plans.push_back(c.detail);
    if (c.op == "plan" && c.address == "fake.thing.b") ++singles;
  }
  std::sort(validates.begin(), validates.end());  // chunks run in parallel
  std::sort(plans.begin(), plans.end());
  EXPECT_EQ(validates, (std::vector<std::string>{"1000", "1000", "104"}));
  EXPECT_EQ(plans, (std::vector<std::string>{"1000", "1000", "103"}));
  EXPECT_EQ(singles, 2);  // in the batch, then the fresh plan of the replacement
}

TEST_F(PlannerTest, PartialFailureKeepsSuccessesAndSkipsDependents) {
  config_.Add("fake.thing", "a", {{"name", "a"}});
  config_.Add("fake.thing", "b", {{"ref", {{"$ref", "fake.thing.a.id"}}}}, {"fake.thing.a"});
  config_.Add("fake.thing", "c", {{"name", "c"}});
  fake_->FailApply("fake.thing.a");
  Plan p = MakePlanOk();
  Diagnostics d;
  ApplyOptions o;
  std::vector<std::string> log;
  std::mutex mu;
  o.log = [&](const std::string& l) { std::lock_guard<std::mutex> lock(mu); log.push_back(l); };
  ApplyResult r = ApplyPlan(p, Context(), o, d);
  EXPECT_FALSE(r.ok());
  EXPECT_EQ(r.failed, 1);
  EXPECT_EQ(r.skipped, 1);
  EXPECT_EQ(r.succeeded, 1);
  ASSERT_TRUE(d.HasErrors());
  EXPECT_EQ(d.items()[0].code, "E0906");
  EXPECT_EQ(d.items()[0].message.rfind("fake.thing.a: ", 0), 0u) << d.items()[0].message;
  state::State s = store_->Current();
  EXPECT_NE(s.Find("fake.thing.c"), nullptr);
  EXPECT_EQ(s.Find("fake.thing.b"), nullptr);
  bool saw_complete = false;
  for (const auto& l : log)
    if (l.rfind("fake.thing.c: Creation complete after ", 0) == 0 && l.find("[id=fake-") != std::string::npos)
      saw_complete = true;
  EXPECT_TRUE(saw_complete);
}

TEST_F(PlannerTest, ParallelismBoundsProviderCalls) {
  testing::FakeOptions opts;
  opts.apply_ms = 20;
  ResetProvider(opts);
  for (int i = 0; i < 24; ++i) config_.Add("fake.thing", "t" + std::to_string(i), {{"count", i}});
  Plan p = MakePlanOk();
  ApplyOk(p, 4);
  EXPECT_LE(fake_->MaxConcurrent(), 4);
  EXPECT_GE(fake_->MaxConcurrent(), 2);
  EXPECT_EQ(store_->Current().resources.size(), 24u);
}

TEST_F(PlannerTest, InterruptedCreateIsAdoptedNotRepeated) {
  config_.Add("fake.thing", "a", {{"name", "a"}});
  config_.Add("fake.thing", "b", {{"name", "b"}});
  // A previous run journaled the create of a, the provider made it, then kiln died.
  Diagnostics d;
  ASSERT_TRUE(journal_->BeginCreate({"fake.thing.a", "fake.thing", "provider.fake", "fake", state::NowUtc()}, d));
  ApplyResponse made = fake_->Apply({"thing", "fake.thing.a", nullptr,
                                     {{"name", "a"}, {"id", {{"$unknown", true}}}, {"status", {{"$unknown", true}}}},
                                     {{"name", "a"}}, nullptr});
  ASSERT_FALSE(made.state.is_null());
  // And a journaled create that never reached the provider.
  ASSERT_TRUE(journal_->BeginCreate({"fake.thing.b", "fake.thing", "provider.fake", "fake", state::NowUtc()}, d));
  Reopen();
  Diagnostics pd;
  Plan p = MakePlan(Context(), {}, pd);
  EXPECT_EQ(ActionOf(p, "fake.thing.a"), Action::kNoop);
  EXPECT_EQ(ActionOf(p, "fake.thing.b"), Action::kCreate);
  EXPECT_TRUE(journal_->Pending(d).empty());
  ApplyOk(p);
  EXPECT_EQ(fake_->Objects().size(), 2u);
  EXPECT_EQ(store_->Current().Find("fake.thing.a")->attributes["id"], made.state["id"]);
}

TEST_F(PlannerTest, TargetIncludesDependenciesOnly) {
  config_.Add("fake.thing", "a", {{"name", "a"}});
  config_.Add("fake.thing", "b", {{"ref", {{"$ref", "fake.thing.a.id"}}}}, {"fake.thing.a"});
  config_.Add("fake.thing", "c", {{"name", "c"}});
  PlanOptions o;
  o.targets = {"fake.thing.b"};
  Plan p = MakePlanOk(o);
  EXPECT_EQ(p.changes.size(), 2u);
  EXPECT_EQ(ActionOf(p, "fake.thing.c"), Action::kRead);  // not in the plan
}

TEST_F(PlannerTest, ReplaceRequestedAndTriggered) {
  config_.Add("fake.thing", "a", {{"name", "a"}});
  config_.Add("fake.thing", "b", {{"name", "b"}}).lifecycle.replace_triggered_by = {"fake.thing.a"};
  config_.Add("fake.thing", "c", {{"name", "c"}});
  Converge();
  PlanOptions o;
  o.replace = {"fake.thing.a"};
  Plan p = MakePlanOk(o);
  EXPECT_EQ(ActionOf(p, "fake.thing.a"), Action::kReplace);
  EXPECT_EQ(p.Find("fake.thing.a")->action_reason, kReasonReplaceRequested);
  EXPECT_EQ(ActionOf(p, "fake.thing.b"), Action::kReplace);
  EXPECT_EQ(p.Find("fake.thing.b")->action_reason, kReasonReplaceTriggered);
  EXPECT_EQ(ActionOf(p, "fake.thing.c"), Action::kNoop);
}

TEST_F(PlannerTest, OutputsAreSavedAndSensitiveOnesRedacted) {
  config_.Add("fake.thing", "a", {{"name", "a"}});
  config_.graph.outputs["id"] = {json{{"$ref", "fake.thing.a.id"}}, false, {}, {}};
  config_.graph.outputs["secret"] = {json("s3cr3t-output"), true, {}, {}};
  Plan p = MakePlanOk();
  EXPECT_EQ(p.outputs["id"].action, Action::kCreate);
  std::string text = RenderText(p);
  EXPECT_NE(text.find("+ id     = (known after apply)"), std::string::npos) << text;
  EXPECT_NE(text.find("+ secret = (sensitive)"), std::string::npos) << text;
  ApplyOk(p);
  state::State s = store_->Current();
  EXPECT_EQ(s.outputs["id"].value, s.Find("fake.thing.a")->attributes["id"]);
  EXPECT_EQ(s.outputs["secret"].value, state::kSensitivePlaceholder);
  EXPECT_EQ(ReadFile(dir_ / "state.json").find("s3cr3t-output"), std::string::npos);
  Reopen();
  EXPECT_FALSE(MakePlanOk().HasChanges());
}

TEST_F(PlannerTest, SavedPlanRoundTripsAndAppliesTheSameActions) {
  config_.Add("fake.thing", "a", {{"name", "a"}, {"password", "pw-123456"}});
  config_.Add("fake.thing", "b", {{"ref", {{"$ref", "fake.thing.a.id"}}}}, {"fake.thing.a"});
  Plan p = MakePlanOk();
  json saved = SavedPlanToJson(p);
  EXPECT_EQ(saved.dump().find("pw-123456"), std::string::npos);
  Plan loaded;
  std::string error;
  ASSERT_TRUE(SavedPlanFromJson(json::parse(saved.dump()), &loaded, &error)) << error;
  EXPECT_EQ(loaded.changes.size(), 2u);
  EXPECT_EQ(loaded.config_hash, "config-hash-1");
  EXPECT_EQ(PlanToJson(loaded), PlanToJson(p));
  Diagnostics d;
  ConfigGraph g = config_.Evaluate([](const std::string&) { return nullptr; }, d);
  ASSERT_TRUE(RestorePlanValues(loaded, g, d));
  ApplyOk(loaded);
  EXPECT_EQ(fake_->Objects().size(), 2u);
  for (const auto& [id, obj] : fake_->Objects()) {
    if (obj["address"] != "fake.thing.a") continue;
    EXPECT_EQ(obj["state"]["password"], "pw-123456");
  }
}

TEST_F(PlannerTest, ApplyGraphOrdersCreatesDeletesAndCbd) {
  Plan p;
  auto add = [&](std::string addr, Action a, std::vector<std::string> deps, std::vector<std::string> prior_deps,
                 bool cbd = false) {
    ResourceChange c;
    c.address = addr;
    c.action = a;
    c.dependencies = deps;
    c.prior_dependencies = prior_deps;
    c.create_before_destroy = cbd;
    p.changes.push_back(c);
  };
  add("x.a", Action::kCreate, {}, {});
  add("x.b", Action::kCreate, {"x.a"}, {});
  add("x.c", Action::kDelete, {}, {});
  add("x.d", Action::kDelete, {}, {"x.c"});
  add("x.e", Action::kReplace, {}, {}, true);
  add("x.f", Action::kUpdate, {"x.e"}, {"x.e"});
  std::vector<ApplyOp> ops;
  Diagnostics d;
  dag::Graph g = BuildApplyGraph(p, &ops, d);
  EXPECT_FALSE(d.HasErrors());
  // The whole graph: every node, and no edge besides these.
  EXPECT_EQ(g.ToDot("plan"),
            "digraph \"plan\" {\n"
            "  rankdir = \"LR\";\n"
            "  \"x.a (create)\";\n"
            "  \"x.b (create)\";\n"
            "  \"x.c (delete)\";\n"
            "  \"x.d (delete)\";\n"
            "  \"x.e (create)\";\n"
            "  \"x.e (delete)\";\n"
            "  \"x.f (update)\";\n"
            "  \"x.a (create)\" -> \"x.b (create)\";\n"
            "  \"x.d (delete)\" -> \"x.c (delete)\";\n"
            "  \"x.e (create)\" -> \"x.e (delete)\";\n"
            "  \"x.e (create)\" -> \"x.f (update)\";\n"
            "  \"x.f (update)\" -> \"x.e (delete)\";\n"
            "}\n");
}

}  // namespace
}  // namespace kiln::planner::test
