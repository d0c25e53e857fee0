// No silent give-ups in the planner: what a provider says on a second plan
// of an instance (a replacement's fresh plan, a triggered replacement)
// reaches the user; propagation that cannot go on says why (W0920); a loop
// stopped by its round bound names what was still changing (W0921).
#include "planner_test_util.h"

namespace kiln::planner::test {
namespace {

std::string Name(int i) {
  char buf[16];
  std::snprintf(buf, sizeof buf, "r%03d", i);
  return buf;
}

std::vector<const Diagnostic*> WithCode(const Diagnostics& d, const std::string& code) {
  std::vector<const Diagnostic*> out;
  for (const auto& x : d.items())
    if (x.code == code) out.push_back(&x);
  return out;
}

// The fake, saying something on every plan of an object as if new (a
// create, or the fresh plan of a replacement).
class TalkativeFake : public testing::FakeProvider {
 public:
  using FakeProvider::FakeProvider;
  Severity severity = Severity::kWarning;
  bool talk = false;
  PlanResponse Plan(const PlanRequest& req) override {
    PlanResponse r = FakeProvider::Plan(req);
    if (talk && req.prior.is_null())
      r.diagnostics.push_back({severity, "fresh plan of " + req.address, "", {}});
    return r;
  }
};

class GiveUpTest : public PlannerTest {
 protected:
  TalkativeFake* UseTalkativeFake() {
    testing::FakeOptions o;
    o.replace_on["thing"] = {"zone", "ref"};
    auto fake = std::make_unique<TalkativeFake>(o);
    TalkativeFake* raw = fake.get();
    fake_ = std::move(fake);
    Reopen();
    return raw;
  }
  Plan PlanWith(Diagnostics& d) { return MakePlan(Context(), {}, d); }
};

TEST_F(GiveUpTest, AReplacementsFreshPlanWarningReachesTheUserOnce) {
  TalkativeFake* fake = UseTalkativeFake();
  config_.Add("fake.thing", "a", {{"name", "a"}, {"zone", "z1"}});
  Converge();
  fake->talk = true;
  config_.Get("fake.thing.a").config["zone"] = "z2";
  Diagnostics d;
  Plan p = PlanWith(d);
  EXPECT_EQ(ActionOf(p, "fake.thing.a"), Action::kReplace);
  auto w = WithCode(d, "W0904");
  ASSERT_EQ(w.size(), 1u);
  EXPECT_EQ(w[0]->message, "fake.thing.a: fresh plan of fake.thing.a");
  EXPECT_FALSE(d.HasErrors());
}

TEST_F(GiveUpTest, AReplacementsFreshPlanErrorFailsThePlan) {
  TalkativeFake* fake = UseTalkativeFake();
  config_.Add("fake.thing", "a", {{"name", "a"}, {"zone", "z1"}});
  Converge();
  fake->talk = true;
  fake->severity = Severity::kError;
  config_.Get("fake.thing.a").config["zone"] = "z2";
  Diagnostics d;
  PlanWith(d);
  auto e = WithCode(d, "E0903");
  ASSERT_EQ(e.size(), 1u);
  EXPECT_EQ(e[0]->message, "fake.thing.a: fresh plan of fake.thing.a");
}

TEST_F(GiveUpTest, ATriggeredReplacementsFreshPlanWarningReachesTheUser) {
  TalkativeFake* fake = UseTalkativeFake();
  config_.Add("fake.thing", "a", {{"name", "a"}});
  config_.Add("fake.thing", "b", {{"name", "b"}}).lifecycle.replace_triggered_by = {"fake.thing.a"};
  Converge();
  fake->talk = true;
  config_.Get("fake.thing.a").config["name"] = "a2";
  Diagnostics d;
  Plan p = PlanWith(d);
  EXPECT_EQ(ActionOf(p, "fake.thing.b"), Action::kReplace);
  auto w = WithCode(d, "W0904");
  ASSERT_EQ(w.size(), 1u);
  EXPECT_EQ(w[0]->message, "fake.thing.b: fresh plan of fake.thing.b");
}

// A configuration whose evaluation fails, or loses an instance, once a
// referenced id is unknown (as a for_each over an unknown would).
class FragileConfig : public FakeConfig {
 public:
  bool fail = false;
  bool drop = false;
  ConfigGraph Evaluate(const ResourceLookup& lookup, Diagnostics& diags) const override {
    ConfigGraph g = FakeConfig::Evaluate(lookup, diags);
    const ResourceInstance* b = g.Find("fake.thing.b");
    if (!b || !IsUnknown(b->config.value("ref", json()))) return g;
    if (fail) diags.Error("E0999", {}, "b.ref must be known");
    if (drop) g.resources.erase(g.resources.begin() + (g.Find("fake.thing.aa") - g.resources.data()));
    return g;
  }
};

class PropagationTest : public GiveUpTest {
 protected:
  void SetUpChain(FragileConfig& config) {
    config.Add("fake.thing", "a", {{"name", "a"}, {"zone", "z1"}});
    config.Add("fake.thing", "b", {{"name", "b"}, {"ref", {{"$ref", "fake.thing.a.id"}}}}, {"fake.thing.a"});
    config.Add("fake.thing", "aa", {{"name", "aa"}});
  }
  Plan PlanConfig(FragileConfig& config, Diagnostics& d) {
    PlanContext ctx{&config, &providers_, store_.get(), journal_.get()};
    return MakePlan(ctx, {}, d);
  }
  void Create(FragileConfig& config) {
    Diagnostics d;
    Plan p = PlanConfig(config, d);
    ASSERT_FALSE(d.HasErrors());
    PlanContext ctx{&config, &providers_, store_.get(), journal_.get()};
    ASSERT_TRUE(ApplyPlan(p, ctx, {}, d).ok());
    Reopen();
  }
};

TEST_F(PropagationTest, AnEvaluationErrorWithPlannedValuesIsAWarningSayingWhy) {
  UseTalkativeFake();
  FragileConfig config;
  SetUpChain(config);
  Create(config);
  config.fail = true;
  config.Get("fake.thing.a").config["zone"] = "z2";
  Diagnostics d;
  Plan q = PlanConfig(config, d);
  EXPECT_EQ(ActionOf(q, "fake.thing.a"), Action::kReplace);
  EXPECT_EQ(ActionOf(q, "fake.thing.b"), Action::kNoop);  // planned against a's current id
  auto w = WithCode(d, "W0920");
  ASSERT_EQ(w.size(), 1u);
  EXPECT_EQ(w[0]->message,
            "cannot propagate planned values to dependent resources: evaluating with the planned "
            "values failed: b.ref must be known");
  EXPECT_FALSE(d.HasErrors());
}

TEST_F(PropagationTest, AConfigurationChangingShapeWithPlannedValuesIsAWarningSayingWhere) {
  UseTalkativeFake();
  FragileConfig config;
  SetUpChain(config);
  Create(config);
  config.drop = true;
  config.Get("fake.thing.a").config["zone"] = "z2";
  Diagnostics d;
  PlanConfig(config, d);
  auto w = WithCode(d, "W0920");
  ASSERT_EQ(w.size(), 1u);
  EXPECT_EQ(w[0]->message,
            "cannot propagate planned values to dependent resources: with the planned values the "
            "configuration has `fake.thing.b` where it had `fake.thing.aa`");
}

// r000 <- r001 <- ... each reading the id of the one before, a change of
// which forces a replacement: each propagation round reaches one more.
void AddIdChain(FakeConfig& config, int n) {
  config.Add("fake.thing", Name(0), {{"name", Name(0)}, {"zone", "z1"}});
  for (int i = 1; i < n; ++i)
    config.Add("fake.thing", Name(i), {{"ref", {{"$ref", "fake.thing." + Name(i - 1) + ".id"}}}},
               {"fake.thing." + Name(i - 1)});
}

TEST_F(GiveUpTest, PropagationWithinItsBoundConvergesSilently) {
  UseTalkativeFake();
  AddIdChain(config_, 60);
  Converge();
  config_.Get("fake.thing.r000").config["zone"] = "z2";
  Diagnostics d;
  Plan p = PlanWith(d);
  EXPECT_EQ(ActionOf(p, "fake.thing.r059"), Action::kReplace);
  EXPECT_TRUE(d.empty()) << d.items()[0].message;
}

TEST_F(GiveUpTest, PropagationStoppedByItsBoundNamesWhatWasStillChanging) {
  UseTalkativeFake();
  AddIdChain(config_, 70);
  Converge();
  config_.Get("fake.thing.r000").config["zone"] = "z2";
  Diagnostics d;
  Plan p = PlanWith(d);
  EXPECT_EQ(ActionOf(p, "fake.thing.r064"), Action::kReplace);
  EXPECT_EQ(ActionOf(p, "fake.thing.r065"), Action::kNoop);  // not reached
  auto w = WithCode(d, "W0921");
  ASSERT_EQ(w.size(), 1u);
  EXPECT_EQ(w[0]->message,
            "propagating planned values did not converge after 64 rounds; still changing: "
            "fake.thing.r064");
}

// r000 <- r001 <- ... r101, each replaced when the one after it changes:
// against the address order, one more fires per round.
TEST_F(GiveUpTest, TriggersStoppedByTheirBoundNameWhatWasStillFiring) {
  UseTalkativeFake();
  const int n = 102;
  for (int i = 0; i < n; ++i) {
    auto& r = config_.Add("fake.thing", Name(i), {{"name", Name(i)}});
    if (i + 1 < n) r.lifecycle.replace_triggered_by = {"fake.thing." + Name(i + 1)};
  }
  Converge();
  config_.Get("fake.thing." + Name(n - 1)).config["name"] = "changed";
  Diagnostics d;
  Plan p = PlanWith(d);
  auto w = WithCode(d, "W0921");
  ASSERT_EQ(w.size(), 1u);
  EXPECT_EQ(w[0]->message,
            "replace_triggered_by did not converge after 100 rounds; still changing: fake.thing.r001");
  // The next call of the step carries on where the bound stopped it.
  EXPECT_EQ(ActionOf(p, "fake.thing.r000"), Action::kReplace);
}

// x01 is triggered by a; y01 reads x01's id; x02 is triggered by y01's
// change, and so on: each trigger fires only after the propagation of the
// one before, one pair per round of the outer loop.
TEST_F(GiveUpTest, TriggersWithPropagationStoppedByTheirBoundSayHowFarTheyGot) {
  UseTalkativeFake();
  config_.Add("fake.thing", "a", {{"name", "a"}});
  std::string prev = "fake.thing.a";
  for (int i = 1; i <= 20; ++i) {
    char x[8], y[8];
    std::snprintf(x, sizeof x, "x%02d", i);
    std::snprintf(y, sizeof y, "y%02d", i);
    config_.Add("fake.thing", x, {{"name", x}}).lifecycle.replace_triggered_by = {prev};
    config_.Add("fake.thing", y, {{"name", y}, {"value", {{"$ref", std::string("fake.thing.") + x + ".id"}}}},
                {std::string("fake.thing.") + x});
    prev = std::string("fake.thing.") + y;
  }
  Converge();
  config_.Get("fake.thing.a").config["name"] = "a2";
  Diagnostics d;
  Plan p = PlanWith(d);
  auto w = WithCode(d, "W0921");
  ASSERT_EQ(w.size(), 1u);
  EXPECT_EQ(w[0]->message.rfind("replace_triggered_by with propagation did not converge after 16 "
                                "rounds; still changing: fake.thing.x01, fake.thing.x02",
                                0),
            0u)
      << w[0]->message;
  EXPECT_EQ(ActionOf(p, "fake.thing.x17"), Action::kReplace);
  EXPECT_EQ(ActionOf(p, "fake.thing.x18"), Action::kNoop);
}

}  // namespace
}  // namespace kiln::planner::test
