// Planner semantics against the fake provider with hand-built
// configurations: --target with deletes and replacements (dependents come
// along), replace_triggered_by on attributes, instances and whole
// for-expanded resources, durations and bytes rendered as quantities (and
// kept in state), and the JSON plan's diagnostics.
#include "planner_test_util.h"

namespace kiln::planner::test {
namespace {

// One instance of a for-expanded resource: `fake.thing.NAME["KEY"]`.
ResourceInstance& AddKeyed(FakeConfig& config, const std::string& name, const std::string& key,
                           json attrs) {
  ResourceInstance r;
  r.address = "fake.thing." + name + "[\"" + key + "\"]";
  r.kind = "fake.thing";
  r.name = name;
  r.key = key;
  r.provider = "provider.fake";
  r.provider_type = "fake";
  r.config = std::move(attrs);
  config.graph.resources.push_back(r);
  std::sort(config.graph.resources.begin(), config.graph.resources.end(),
            [](const auto& a, const auto& b) { return a.address < b.address; });
  return config.Get(r.address);
}

std::vector<std::string> Addresses(const Plan& p) {
  std::vector<std::string> out;
  for (const auto& c : p.changes) out.push_back(c.address + " " + ActionName(c.action));
  return out;
}

// ---- --target ----

class TargetTest : public PlannerTest {
 protected:
  // a <- b <- c (each refers to the one before), d <- ... nothing; e alone.
  void Chain() {
    config_.Add("fake.thing", "a", {{"name", "a"}, {"zone", "z1"}});
    config_.Add("fake.thing", "b", {{"ref", {{"$ref", "fake.thing.a.id"}}}}, {"fake.thing.a"});
    config_.Add("fake.thing", "c", {{"ref", {{"$ref", "fake.thing.b.id"}}}}, {"fake.thing.b"});
    config_.Add("fake.thing", "e", {{"name", "e"}});
    Converge();
  }
};

TEST_F(TargetTest, DestroyTargetDeletesDependentsFirstAndKeepsDependencies) {
  Chain();
  PlanOptions o;
  o.mode = PlanMode::kDestroy;
  o.targets = {"fake.thing.b"};
  Diagnostics d;
  Plan p = MakePlan(Context(false), o, d);
  ASSERT_FALSE(d.HasErrors());
  EXPECT_EQ(Addresses(p), (std::vector<std::string>{"fake.thing.b delete", "fake.thing.c delete"}));
  fake_->ClearCalls();
  ApplyOk(p);
  std::vector<std::string> deletes;
  for (const auto& call : fake_->Calls())
    if (call.op == "delete") deletes.push_back(call.address);
  EXPECT_EQ(deletes, (std::vector<std::string>{"fake.thing.c", "fake.thing.b"}));
  EXPECT_EQ(store_->Current().Addresses(), (std::vector<std::string>{"fake.thing.a", "fake.thing.e"}));
  EXPECT_EQ(fake_->Objects().size(), 2u);
}

TEST_F(TargetTest, DestroyTargetOfTheRootTakesTheWholeChain) {
  Chain();
  PlanOptions o;
  o.mode = PlanMode::kDestroy;
  o.targets = {"fake.thing.a"};
  Diagnostics d;
  Plan p = MakePlan(Context(false), o, d);
  EXPECT_EQ(Addresses(p), (std::vector<std::string>{"fake.thing.a delete", "fake.thing.b delete",
                                                    "fake.thing.c delete"}));
}

TEST_F(TargetTest, TargetedReplacementPullsInChangedDependentsOnly) {
  Chain();
  config_.Get("fake.thing.a").config["zone"] = "z2";  // forces replacement
  config_.Get("fake.thing.e").config["name"] = "e2";  // untargeted change
  PlanOptions o;
  o.targets = {"fake.thing.a"};
  Plan p = MakePlanOk(o);
  // b reads a.id (unknown now) and c reads b.id, which stays: b is updated,
  // c has nothing to do and is not pulled in; e is not targeted.
  EXPECT_EQ(Addresses(p), (std::vector<std::string>{"fake.thing.a replace", "fake.thing.b update"}));
  ApplyOk(p);
  Reopen();
  Plan rest = MakePlanOk();
  EXPECT_EQ(ActionOf(rest, "fake.thing.e"), Action::kUpdate);
  EXPECT_EQ(ActionOf(rest, "fake.thing.b"), Action::kNoop);
}

TEST_F(TargetTest, TargetedOrphanDeletePullsInDependentDeletes) {
  Chain();
  config_.Remove("fake.thing.b");
  config_.Remove("fake.thing.c");
  PlanOptions o;
  o.targets = {"fake.thing.b"};
  Plan p = MakePlanOk(o);
  EXPECT_EQ(Addresses(p), (std::vector<std::string>{"fake.thing.b delete", "fake.thing.c delete"}));
}

// ---- replace_triggered_by ----

TEST_F(PlannerTest, TriggerOnAnAttributeFiresOnlyWhenThatAttributeChanges) {
  config_.Add("fake.thing", "a", {{"name", "a"}, {"value", "v1"}});
  config_.Add("fake.thing", "by_value", {{"name", "x"}}).lifecycle.replace_triggered_by = {"fake.thing.a.value"};
  config_.Add("fake.thing", "by_name", {{"name", "y"}}).lifecycle.replace_triggered_by = {"fake.thing.a.name"};
  config_.Add("fake.thing", "by_whole", {{"name", "z"}}).lifecycle.replace_triggered_by = {"fake.thing.a"};
  Converge();
  config_.Get("fake.thing.a").config["value"] = "v2";
  Plan p = MakePlanOk();
  EXPECT_EQ(ActionOf(p, "fake.thing.a"), Action::kUpdate);
  EXPECT_EQ(ActionOf(p, "fake.thing.by_value"), Action::kReplace);
  EXPECT_EQ(p.Find("fake.thing.by_value")->action_reason, kReasonReplaceTriggered);
  EXPECT_EQ(ActionOf(p, "fake.thing.by_name"), Action::kNoop);
  EXPECT_EQ(ActionOf(p, "fake.thing.by_whole"), Action::kReplace);
  ApplyOk(p);
  Reopen();
  EXPECT_FALSE(MakePlanOk().HasChanges());
}

TEST_F(PlannerTest, TriggerOnInstancesAndOnAWholeExpandedResource) {
  AddKeyed(config_, "sweep", "a", {{"name", "a"}, {"zone", "z1"}});
  AddKeyed(config_, "sweep", "b", {{"name", "b"}, {"zone", "z1"}});
  config_.Add("fake.thing", "on_a", {{"name", "1"}}).lifecycle.replace_triggered_by = {"fake.thing.sweep[\"a\"]"};
  config_.Add("fake.thing", "on_b_id", {{"name", "2"}}).lifecycle.replace_triggered_by = {"fake.thing.sweep[\"b\"].id"};
  config_.Add("fake.thing", "on_a_id", {{"name", "3"}}).lifecycle.replace_triggered_by = {"fake.thing.sweep[\"a\"].id"};
  config_.Add("fake.thing", "on_any", {{"name", "4"}}).lifecycle.replace_triggered_by = {"fake.thing.sweep"};
  Converge();
  // sweep["a"] is updated in place (its id stays); sweep["b"] unchanged.
  config_.Get("fake.thing.sweep[\"a\"]").config["name"] = "a2";
  Plan p = MakePlanOk();
  EXPECT_EQ(ActionOf(p, "fake.thing.sweep[\"a\"]"), Action::kUpdate);
  EXPECT_EQ(ActionOf(p, "fake.thing.on_a"), Action::kReplace);
  EXPECT_EQ(ActionOf(p, "fake.thing.on_any"), Action::kReplace);
  EXPECT_EQ(ActionOf(p, "fake.thing.on_a_id"), Action::kNoop);
  EXPECT_EQ(ActionOf(p, "fake.thing.on_b_id"), Action::kNoop);
  ApplyOk(p);
  Reopen();
  // sweep["b"] replaced: its id changes, so on_b_id and on_any fire.
  config_.Get("fake.thing.sweep[\"b\"]").config["zone"] = "z2";
  Plan q = MakePlanOk();
  EXPECT_EQ(ActionOf(q, "fake.thing.sweep[\"b\"]"), Action::kReplace);
  EXPECT_EQ(ActionOf(q, "fake.thing.on_b_id"), Action::kReplace);
  EXPECT_EQ(ActionOf(q, "fake.thing.on_any"), Action::kReplace);
  EXPECT_EQ(ActionOf(q, "fake.thing.on_a"), Action::kNoop);
  EXPECT_EQ(ActionOf(q, "fake.thing.on_a_id"), Action::kNoop);
}

TEST_F(PlannerTest, ATriggeredReplacementReachesWhatReadsIt) {
  config_.Add("fake.thing", "a", {{"name", "a"}});
  config_.Add("fake.thing", "b", {{"name", "b"}}).lifecycle.replace_triggered_by = {"fake.thing.a"};
  config_.Add("fake.thing", "c", {{"ref", {{"$ref", "fake.thing.b.id"}}}}, {"fake.thing.b"});
  config_.Add("fake.thing", "d", {{"name", "d"}}).lifecycle.replace_triggered_by = {"fake.thing.c.ref"};
  Converge();
  config_.Get("fake.thing.a").config["name"] = "a2";
  Plan p = MakePlanOk();
  EXPECT_EQ(ActionOf(p, "fake.thing.a"), Action::kUpdate);
  EXPECT_EQ(ActionOf(p, "fake.thing.b"), Action::kReplace);
  EXPECT_EQ(ActionOf(p, "fake.thing.c"), Action::kUpdate);  // its ref becomes b's new id
  EXPECT_TRUE(IsUnknown(p.Find("fake.thing.c")->after["ref"]));
  EXPECT_EQ(ActionOf(p, "fake.thing.d"), Action::kReplace);  // c.ref changes
  ApplyOk(p);
  Reopen();
  EXPECT_FALSE(MakePlanOk().HasChanges());
}

// ---- quantities ----

TEST_F(PlannerTest, DurationsAndBytesRenderAsQuantitiesAndStayNumbersInJson) {
  auto& r = config_.Add("fake.thing", "job", {{"name", "job"},
                                               {"timeout", 600000},
                                               {"size", 85899345920LL},
                                               {"steps", json::array({60000, 1500})},
                                               {"count", 3}});
  r.duration_paths = {{"timeout"}, {"steps", "0"}, {"steps", "1"}};
  r.bytes_paths = {{"size"}};
  OutputValue out;
  out.value = 7200000;
  out.duration_paths = {{}};
  config_.graph.outputs["max_runtime"] = out;
  Plan p = MakePlanOk();
  std::string text = RenderText(p);
  EXPECT_NE(text.find("+ timeout = 10m\n"), std::string::npos) << text;
  EXPECT_NE(text.find("+ size    = 80GiB\n"), std::string::npos) << text;
  EXPECT_NE(text.find("+ count   = 3\n"), std::string::npos) << text;
  EXPECT_NE(text.find("+ 1m,\n"), std::string::npos) << text;
  EXPECT_NE(text.find("+ 1500ms,\n"), std::string::npos) << text;
  EXPECT_NE(text.find("+ max_runtime = 2h\n"), std::string::npos) << text;
  json j = PlanToJson(p);
  EXPECT_EQ(j["resource_changes"][0]["after"]["timeout"], 600000);
  EXPECT_EQ(j["resource_changes"][0]["duration_paths"],
            json::parse(R"([["steps","0"],["steps","1"],["timeout"]])"));
  EXPECT_EQ(j["resource_changes"][0]["bytes_paths"], json::parse(R"([["size"]])"));
  EXPECT_EQ(j["output_changes"]["max_runtime"]["after"], 7200000);
  ApplyOk(p);

  // State keeps where the quantities are, across a reload.
  Reopen();
  const state::ResourceState* rs = loaded_.Find("fake.thing.job");
  ASSERT_NE(rs, nullptr);
  EXPECT_EQ(rs->duration_paths, r.duration_paths);
  EXPECT_EQ(rs->bytes_paths, r.bytes_paths);
  EXPECT_EQ(loaded_.outputs["max_runtime"].duration_paths, std::vector<Path>{{}});

  // A change shows both sides as quantities, in text and Markdown.
  config_.Get("fake.thing.job").config["timeout"] = 5400000;
  config_.Get("fake.thing.job").config["size"] = 2000000000000LL;
  config_.graph.outputs["max_runtime"].value = 86400000;
  Plan q = MakePlanOk();
  std::string t2 = RenderText(q);
  EXPECT_NE(t2.find("~ timeout = 10m -> 90m\n"), std::string::npos) << t2;
  EXPECT_NE(t2.find("~ size    = 80GiB -> 2TB\n"), std::string::npos) << t2;
  EXPECT_NE(t2.find("~ max_runtime = 2h -> 1d\n"), std::string::npos) << t2;
  std::string md = RenderMarkdown(q);
  EXPECT_NE(md.find("timeout = 10m -> 90m"), std::string::npos) << md;
  EXPECT_EQ(PlanToJson(q)["resource_changes"][0]["after"]["timeout"], 5400000);
}

TEST_F(PlannerTest, QuantitiesOfAResourceLeavingTheConfigurationComeFromState) {
  auto& r = config_.Add("fake.thing", "gone", {{"name", "g"}, {"timeout", 90000}});
  r.duration_paths = {{"timeout"}};
  Converge();
  config_.Remove("fake.thing.gone");
  Plan p = MakePlanOk();
  ASSERT_EQ(ActionOf(p, "fake.thing.gone"), Action::kDelete);
  std::string text = RenderText(p);
  EXPECT_NE(text.find("- timeout = 90s -> null\n"), std::string::npos) << text;
}

TEST(QuantityText, UsesTheCanonicalFormatters) {
  std::vector<Path> d = {{"t"}}, b = {{"m", "0"}};
  Quantities q{d, b};
  EXPECT_EQ(QuantityText(json(5400000), {"t"}, q), "90m");
  EXPECT_EQ(QuantityText(json(7200000), {"t"}, q), "2h");
  EXPECT_EQ(QuantityText(json(1LL << 30), {"m", "0"}, q), "1GiB");
  EXPECT_EQ(QuantityText(json(5), {"x"}, q), "");
  EXPECT_EQ(QuantityText(json("(sensitive)"), {"t"}, q), "");
  EXPECT_EQ(DisplayValue(json::parse(R"j({"m": [1073741824], "t": 60000, "s": "(sensitive)"})j"), {}, q),
            "{\n  \"m\": [\n    1GiB\n  ],\n  \"s\": (sensitive),\n  \"t\": 1m\n}");
}

// ---- diagnostics in the JSON plan ----

TEST(PlanDiagnostics, SortedByFileAndLineWithErrorsMarked) {
  SourceManager sm;
  uint32_t b = sm.AddBuffer("b.kiln", "x\ny\nz\n");
  uint32_t a = sm.AddBuffer("a.kiln", "1\n2\n");
  auto at = [&](uint32_t file, uint32_t offset) {
    SourceRange r;
    r.begin = sm.Locate(file, offset);
    r.end = r.begin;
    return r;
  };
  Diagnostics d;
  d.Warning("W0402", at(b, 4), "late warning");
  d.Error("E0412", at(a, 2), "an error");
  d.Warning("W0902", {}, "no location");
  d.Warning("W0401", at(b, 0), "early warning");
  Plan p;
  FillPlanDiagnostics(&p, d, sm);
  EXPECT_TRUE(p.errored);
  json j = PlanToJson(p);
  EXPECT_FALSE(j["applyable"].get<bool>());
  EXPECT_TRUE(j["errored"].get<bool>());
  ASSERT_EQ(j["diagnostics"].size(), 4u);
  EXPECT_EQ(j["diagnostics"][0], json::parse(R"({"severity": "warning", "code": "W0902",
      "message": "no location", "file": null, "line": null, "column": null})"));
  EXPECT_EQ(j["diagnostics"][1], json::parse(R"({"severity": "error", "code": "E0412",
      "message": "an error", "file": "a.kiln", "line": 2, "column": 1})"));
  EXPECT_EQ(j["diagnostics"][2]["code"], "W0401");
  EXPECT_EQ(j["diagnostics"][3]["code"], "W0402");
  EXPECT_EQ(j["diagnostics"][3]["line"], 3);

  Plan warned;
  Diagnostics w;
  w.Warning("W0902", {}, "only a warning");
  FillPlanDiagnostics(&warned, w, sm);
  EXPECT_FALSE(warned.errored);
}

TEST_F(PlannerTest, SavedPlanKeepsDiagnosticsQuantitiesAndOutputs) {
  auto& r = config_.Add("fake.thing", "job", {{"name", "job"}, {"timeout", 600000}});
  r.duration_paths = {{"timeout"}};
  config_.graph.outputs["url"] = OutputValue{"http://x", false, {}, {}};
  Plan p = MakePlanOk();
  p.diagnostics.push_back({"warning", "W0902", "--target `x` matches no resource", "", 0, 0});
  Plan back;
  std::string error;
  ASSERT_TRUE(SavedPlanFromJson(SavedPlanToJson(p), &back, &error)) << error;
  EXPECT_EQ(RenderText(back), RenderText(p));
  EXPECT_EQ(PlanToJson(back), PlanToJson(p));
}

}  // namespace
}  // namespace kiln::planner::test
