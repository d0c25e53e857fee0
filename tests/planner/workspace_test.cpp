// planner::Workspace over the fake configuration: each reason a saved plan is
// refused as stale (E0907), the input checks (E0911, E0912), the workspace
// check, and the state edits (mv and rm with deposed objects).
#include "planner/workspace.h"

#include "planner_test_util.h"

namespace kiln::planner::test {
namespace {

class WorkspaceTest : public PlannerTest {
 protected:
  void SetUp() override {
    PlannerTest::SetUp();
    config_.Add("fake.thing", "a", {{"name", "alpha"}});
  }

  // A workspace over the fixture's (current) store with these root inputs
  // and configuration files.
  std::unique_ptr<Workspace> Ws(std::map<std::string, RunInput> inputs = {},
                                std::map<std::string, std::string> files = {{"main.kiln", "a"}}) {
    auto ws = std::make_unique<Workspace>();
    ws->Attach(&config_, &providers_, store_.get(), journal_.get(), std::move(inputs));
    for (const auto& [path, text] : files) ws->sources().AddBuffer(path, text);
    return ws;
  }

  // Plans with `ws` and saves the plan, as `kiln plan --out` and a later
  // `kiln apply FILE` read it back.
  void Save(Workspace& ws, Plan* plan, json* extras) {
    Diagnostics d;
    Plan p = ws.MakePlan({}, d);
    ASSERT_FALSE(d.HasErrors()) << d.items()[0].message;
    json saved;
    ASSERT_TRUE(ws.SavePlan(p, &saved, d));
    std::string error;
    ASSERT_TRUE(Workspace::ParseSavedPlan(saved.dump(2), plan, extras, &error)) << error;
  }

  // "" when `ws` accepts the plan, else each error as "CODE message
  // [notes...]".
  std::string Check(Workspace& ws, const Plan& plan, const json& extras) {
    Diagnostics d;
    bool ok = ws.CheckSavedPlan(plan, extras, d);
    std::string out;
    for (const auto& e : d.items()) {
      out += (out.empty() ? "" : "\n") + e.code + " " + e.message;
      for (const auto& n : e.notes) out += " [" + n + "]";
    }
    EXPECT_EQ(ok, out.empty()) << out;
    return out;
  }

  // A plan saved over an applied state, then the state file removed.
  void SaveThenRemoveState(Plan* plan, json* extras) {
    Converge();
    Save(*Ws(), plan, extras);
    std::filesystem::remove(dir_ / "state.json");
    Reopen();
  }

  // A write to state by someone else: the serial moves on.
  void WriteState(const std::string& address) {
    Diagnostics d;
    ASSERT_TRUE(store_->Update(
        [&](state::State& s) {
          state::ResourceState r;
          r.address = address;
          r.kind = "fake.thing";
          r.name = address.substr(address.rfind('.') + 1);
          r.provider = "provider.fake";
          r.provider_type = "fake";
          r.attributes = {{"id", "x"}};
          s.Upsert(r);
        },
        d));
  }
};

TEST_F(WorkspaceTest, AFreshPlanIsAccepted) {
  Converge();
  auto ws = Ws({{"region", {"eu", false}}});
  Plan plan;
  json extras;
  Save(*ws, &plan, &extras);
  EXPECT_EQ(Check(*Ws({{"region", {"eu", false}}}), plan, extras), "");
}

TEST_F(WorkspaceTest, StaleWhenStateWasCreatedSinceThePlan) {
  Plan plan;
  json extras;
  Save(*Ws(), &plan, &extras);
  EXPECT_FALSE(plan.state_existed);
  WriteState("fake.thing.z");
  EXPECT_EQ(Check(*Ws(), plan, extras), "E0907 saved plan is stale: state was created since the plan was made");
}

TEST_F(WorkspaceTest, StaleWhenTheStateIsGone) {
  Plan plan;
  json extras;
  SaveThenRemoveState(&plan, &extras);
  EXPECT_EQ(Check(*Ws(), plan, extras), "E0907 saved plan is stale: the state is gone");
}

TEST_F(WorkspaceTest, StaleWhenTheStateIsAnotherOne) {
  Plan plan;
  json extras;
  SaveThenRemoveState(&plan, &extras);
  WriteState("fake.thing.z");  // a new state: new lineage, serial 1
  std::string lineage = store_->Current().lineage;
  ASSERT_NE(lineage, plan.lineage);
  EXPECT_EQ(Check(*Ws(), plan, extras), "E0907 saved plan is stale: the state's lineage differs (" + plan.lineage +
                                            " in the plan, " + lineage + " now): it is another state");
}

TEST_F(WorkspaceTest, StaleWhenStateWasWrittenSinceThePlan) {
  Converge();
  Plan plan;
  json extras;
  Save(*Ws(), &plan, &extras);
  int64_t serial = plan.serial;
  WriteState("fake.thing.z");
  std::string next = std::to_string(serial + 1);
  EXPECT_EQ(Check(*Ws(), plan, extras), "E0907 saved plan is stale: state changed since the plan was made (serial " +
                                            std::to_string(serial) + " -> " + next +
                                            ") [`kiln state history` shows who wrote serial " + next + "]");
}

TEST_F(WorkspaceTest, StaleWhenTheConfigurationChangedNamingTheFiles) {
  Converge();
  Plan plan;
  json extras;
  Save(*Ws({}, {{"main.kiln", "a"}, {"old.kiln", "o"}, {"same.kiln", "s"}}), &plan, &extras);
  config_.hash = "config-hash-2";
  EXPECT_EQ(Check(*Ws({}, {{"main.kiln", "b"}, {"new.kiln", "n"}, {"same.kiln", "s"}}), plan, extras),
            "E0907 saved plan is stale: the configuration changed since the plan was made "
            "[main.kiln changed] [new.kiln is new] [old.kiln is gone]");
}

TEST_F(WorkspaceTest, PrepareRestoresValuesAndRefusesAnInstanceTheConfigurationLost) {
  Converge();
  config_.Add("fake.thing", "b", {{"name", "beta"}});
  Plan plan;
  json extras;
  Save(*Ws(), &plan, &extras);
  ASSERT_EQ(plan.Find("fake.thing.b")->action, Action::kCreate);
  {
    // As saved: the planned values come from a fresh evaluation.
    Plan copy = plan;
    Diagnostics d;
    EXPECT_TRUE(Ws()->PrepareSavedPlan(copy, extras, d)) << (d.empty() ? "" : d.items()[0].message);
    EXPECT_EQ(copy.Find("fake.thing.b")->config["name"], "beta");
  }
  // The same configuration hash (so CheckSavedPlan passes), but the
  // instance the plan creates is gone.
  config_.Remove("fake.thing.b");
  Diagnostics d;
  EXPECT_FALSE(Ws()->PrepareSavedPlan(plan, extras, d));
  ASSERT_EQ(d.items().size(), 1u);
  EXPECT_EQ(d.items()[0].code, "E0907");
  EXPECT_EQ(d.items()[0].message, "saved plan is stale: the configuration no longer has fake.thing.b");
}

TEST_F(WorkspaceTest, StaleWhenInputValuesDifferAndThePlanListsNoInputs) {
  // A plan that does not list its inputs (only their hash) is checked by
  // the hash of the values.
  Converge();
  Plan plan;
  json extras;
  Save(*Ws({{"region", {"eu", false}}}), &plan, &extras);
  extras.erase("inputs");
  EXPECT_EQ(Check(*Ws({{"region", {"us", false}}}), plan, extras),
            "E0907 saved plan is stale: input values differ from the plan's");
  EXPECT_EQ(Check(*Ws({{"region", {"eu", false}}}), plan, extras), "");
}

TEST_F(WorkspaceTest, AnInputGivenAgainMustBeThePlans) {
  Converge();
  Plan plan;
  json extras;
  Save(*Ws({{"region", {"eu", false}}}), &plan, &extras);
  EXPECT_EQ(Check(*Ws({{"region", {"us", false}}}), plan, extras),
            "E0911 the plan was made with region = \"eu\" (from KILN_VAR_region), but KILN_VAR_region gives \"us\"");
  EXPECT_EQ(Check(*Ws({{"region", {"eu", false}}, {"zone", {1, false}}}), plan, extras),
            "E0911 input `zone` is set (KILN_VAR_zone) but was not when the plan was made");
}

TEST_F(WorkspaceTest, ASensitiveInputMustBeGivenAgainWithTheSameValue) {
  Converge();
  Plan plan;
  json extras;
  Save(*Ws({{"token", {"s3cret", true}}}), &plan, &extras);
  EXPECT_FALSE(extras.dump().find("s3cret") != std::string::npos) << extras.dump();
  EXPECT_EQ(Check(*Ws({{"token", {"s3cret", true}}}), plan, extras), "");
  EXPECT_EQ(Check(*Ws({{"token", {"other", true}}}), plan, extras),
            "E0912 the plan was made with a different value of `token`");
  EXPECT_EQ(Check(*Ws(), plan, extras),
            "E0912 the plan was made with the sensitive input `token`; give it again (sensitive values are "
            "never stored in a plan)");
}

TEST_F(WorkspaceTest, ASavedPlanBelongsToItsWorkspaceAndBringsItsInputs) {
  json extras = {{"workspace", "prod"},
                 {"inputs", {{"region", {{"value", "eu"}, {"origin", "--var"}, {"raw", "eu"}}},
                             {"zone", {{"value", 1}, {"origin", "--var"}, {"raw", "1"}}}}}};
  WorkspaceOptions options;
  options.workspace = "dev";
  Diagnostics d;
  EXPECT_FALSE(Workspace::PresetFromSavedPlan(extras, &options, d));
  ASSERT_EQ(d.items().size(), 1u);
  EXPECT_EQ(d.items()[0].code, "E0907");
  EXPECT_EQ(d.items()[0].message, "saved plan is for workspace `prod`, but this is workspace `dev`");
  options.workspace = "prod";
  options.inputs.raw["zone"] = "2";  // given on this command line: kept
  Diagnostics ok;
  EXPECT_TRUE(Workspace::PresetFromSavedPlan(extras, &options, ok));
  EXPECT_EQ(options.inputs.raw["region"], "eu");
  EXPECT_EQ(options.origins["region"], "the saved plan (--var when it was made)");
  EXPECT_EQ(options.inputs.raw["zone"], "2");
  EXPECT_EQ(options.origins.count("zone"), 0u);
}

TEST_F(WorkspaceTest, MigrateCopiesLineageSerialAndKeyIntoAnEmptyOrOlderTarget) {
  Converge();
  state::State source = store_->Current();
  auto target_path = (dir_ / "copy" / "state.json").string();
  auto migrate = [&](bool force, state::State* copied) {
    state::StateStore from((dir_ / "state.json").string());
    state::StateStore to(target_path);
    Diagnostics d;
    bool ok = MigrateState(from, to, force, copied, d);
    return ok ? std::string() : d.items().back().code;
  };
  state::State copied;
  EXPECT_EQ(migrate(false, &copied), "");
  EXPECT_EQ(copied.lineage, source.lineage);
  EXPECT_EQ(copied.serial, source.serial);
  state::StateStore check(target_path);
  state::State written;
  Diagnostics d;
  ASSERT_TRUE(check.Load(&written, d));
  EXPECT_EQ(written.lineage, source.lineage);
  EXPECT_EQ(written.Addresses(), source.Addresses());
  // The target holds a state now: refused without --force; with it, the
  // copy is written past the target's serial.
  EXPECT_EQ(migrate(false, &copied), "E0837");
  EXPECT_EQ(migrate(true, &copied), "");
  EXPECT_EQ(copied.serial, source.serial + 1);
  // Nothing to copy from.
  state::StateStore none((dir_ / "none" / "state.json").string());
  state::StateStore to(target_path);
  Diagnostics nd;
  EXPECT_FALSE(MigrateState(none, to, true, &copied, nd));
  EXPECT_EQ(nd.items().back().code, "E0830");
}

state::ResourceState Recorded(const std::string& address, const std::string& deposed_key = "") {
  state::ResourceState r;
  r.address = address;
  r.kind = "fake.thing";
  r.name = address.substr(address.rfind('.') + 1);
  r.provider = "provider.fake";
  r.attributes = {{"id", address + deposed_key}};
  r.deposed_key = deposed_key;
  return r;
}

TEST(StateEdits, MoveTakesTheDeposedObjectsAndTheDependenciesAlong) {
  state::State st;
  st.Upsert(Recorded("fake.thing.a"));
  state::ResourceState b = Recorded("fake.thing.b");
  b.dependencies = {"fake.thing.a"};
  st.Upsert(b);
  st.AddDeposed(Recorded("fake.thing.a", "d1"));
  Diagnostics d;
  ASSERT_EQ(MoveInState(st, "fake.thing.a", "module.m.fake.thing.c[\"k\"]", d), MoveResult::kMoved);
  EXPECT_EQ(st.Addresses(), (std::vector<std::string>{"fake.thing.b", "module.m.fake.thing.c[\"k\"]"}));
  const state::ResourceState* moved = st.Find("module.m.fake.thing.c[\"k\"]");
  EXPECT_EQ(moved->module, "module.m");
  EXPECT_EQ(moved->name, "c");
  EXPECT_EQ(moved->key, "k");
  ASSERT_EQ(st.deposed.size(), 1u);
  EXPECT_EQ(st.deposed[0].address, "module.m.fake.thing.c[\"k\"]");
  EXPECT_EQ(st.deposed[0].deposed_key, "d1");
  EXPECT_EQ(st.deposed[0].attributes["id"], "fake.thing.ad1");
  EXPECT_EQ(st.Find("fake.thing.b")->dependencies, std::vector<std::string>{"module.m.fake.thing.c[\"k\"]"});
  EXPECT_TRUE(d.empty());
}

TEST(StateEdits, MoveRefusals) {
  state::State st;
  st.Upsert(Recorded("fake.thing.a"));
  st.AddDeposed(Recorded("fake.thing.old", "d1"));
  auto code = [&](const std::string& from, const std::string& to) {
    Diagnostics d;
    MoveResult r = MoveInState(st, from, to, d);
    EXPECT_EQ(r == MoveResult::kFailed, d.HasErrors());
    return d.HasErrors() ? d.items()[0].code : r == MoveResult::kAlreadyThere ? "same" : "moved";
  };
  EXPECT_EQ(code("fake.thing.a", "not an address"), "E0832");
  EXPECT_EQ(code("fake.thing.a", "other.kind.a"), "E0832");
  EXPECT_EQ(code("fake.thing.nope", "fake.thing.b"), "E0831");
  EXPECT_EQ(code("fake.thing.a", "fake.thing.old"), "E0833");  // a deposed object holds it
  EXPECT_EQ(code("fake.thing.a", "fake.thing.a"), "same");
  EXPECT_EQ(st.Addresses(), std::vector<std::string>{"fake.thing.a"});
}

TEST(StateEdits, RemoveForgetsDeposedObjectsAllOrNothing) {
  state::State st;
  st.Upsert(Recorded("fake.thing.a"));
  st.Upsert(Recorded("fake.thing.b"));
  st.AddDeposed(Recorded("fake.thing.a", "d1"));
  st.AddDeposed(Recorded("fake.thing.gone", "d2"));  // only a deposed object left
  Diagnostics bad;
  EXPECT_FALSE(RemoveFromState(st, {"fake.thing.a", "fake.thing.c"}, bad));
  ASSERT_EQ(bad.items().size(), 1u);
  EXPECT_EQ(bad.items()[0].code, "E0831");
  EXPECT_EQ(bad.items()[0].message, "no resource fake.thing.c in state");
  EXPECT_EQ(st.resources.size(), 2u);
  EXPECT_EQ(st.deposed.size(), 2u);
  Diagnostics d;
  EXPECT_TRUE(RemoveFromState(st, {"fake.thing.a", "fake.thing.gone"}, d));
  EXPECT_EQ(st.Addresses(), std::vector<std::string>{"fake.thing.b"});
  EXPECT_TRUE(st.deposed.empty());
}

}  // namespace
}  // namespace kiln::planner::test
