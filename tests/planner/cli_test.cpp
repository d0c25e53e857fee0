// The kiln CLI (KILN_TEST_DRIVER: kiln with the fake provider) end to end against the fake provider, whose
// objects live in a directory so that separate processes see them: plan,
// apply, saved plans (stale ones refused), destroy, exit codes, corrupt
// state, and a crash test that SIGKILLs `kiln apply` at seeded moments.
#include <algorithm>
#include <gtest/gtest.h>
#include <signal.h>
#include <fcntl.h>
#include <sys/file.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <random>
#include <sstream>

#include "tests/common/test_util.h"
#include <thread>

namespace {

namespace fs = std::filesystem;
using nlohmann::json;

struct KilnRun {
  int code;
  std::string out;
};

class CliTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::random_device rd;
    dir_ = fs::temp_directory_path() / ("kiln-cli-" + std::to_string(rd()));
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }

  void Write(const std::string& name, const std::string& text) {
    std::ofstream(dir_ / name) << text;
  }
  std::string Read(const fs::path& p) { return kiln::testutil::ReadFile(p); }
  std::string Env(int latency_ms = 0) {
    return "KILN_FAKE_LATENCY_MS=" + std::to_string(latency_ms) + " ";
  }
  KilnRun Kiln(const std::string& args, int latency_ms = 0) {
    auto r = kiln::testutil::RunKilnBinary(KILN_TEST_DRIVER, dir_.string(), "--no-color " + args,
                                     {Env(latency_ms), true});
    return KilnRun{r.exit_code, r.out};
  }
  // The fake provider's objects, counted per address.
  std::map<std::string, int> Objects() {
    std::map<std::string, int> out;
    if (!fs::exists(dir_ / "objects")) return out;
    for (const auto& e : fs::directory_iterator(dir_ / "objects")) {
      if (e.path().extension() != ".json" || e.path().filename().string()[0] == '.') continue;
      json j = json::parse(Read(e.path()), nullptr, false);
      if (j.is_object()) ++out[j.value("address", "")];
    }
    return out;
  }
  std::string Config(int n, const std::string& extra = "") {
    std::string s = "provider fake f {\n  dir = \"" + (dir_ / "objects").string() + "\"\n}\n";
    s += "fake.thing root {\n  name = \"root\"\n}\n";
    for (int i = 0; i < n; ++i) {
      std::string dep = i < 3 ? "root" : "t" + std::to_string(i / 3);
      s += "fake.thing t" + std::to_string(i) + " {\n  name = \"t" + std::to_string(i) +
           "\"\n  ref  = " + dep + ".id\n}\n";
    }
    return s + extra;
  }

  fs::path dir_;
};

TEST_F(CliTest, PlanApplyDestroyWithExitCodes) {
  Write("main.kiln", Config(3, "output root_id = root.id\n"));
  KilnRun plan = Kiln("plan --detailed-exitcode");
  EXPECT_EQ(plan.code, 2) << plan.out;
  EXPECT_NE(plan.out.find("Plan: 4 to add, 0 to change, 0 to replace, 0 to destroy."), std::string::npos);
  KilnRun noapprove = Kiln("apply");
  EXPECT_EQ(noapprove.code, 1);
  EXPECT_NE(noapprove.out.find("apply needs confirmation: type `yes` on stdin or pass --auto-approve"), std::string::npos);
  EXPECT_TRUE(Objects().empty());
  KilnRun apply = Kiln("apply --auto-approve");
  EXPECT_EQ(apply.code, 0) << apply.out;
  EXPECT_NE(apply.out.find("fake.thing.root: Creation complete after 0s [id=fake-"), std::string::npos);
  EXPECT_LT(apply.out.find("fake.thing.root: Creation complete"), apply.out.find("fake.thing.t0: Creating..."));
  EXPECT_EQ(Objects().size(), 4u);
  KilnRun again = Kiln("plan --detailed-exitcode");
  EXPECT_EQ(again.code, 0) << again.out;
  EXPECT_NE(again.out.find("No changes."), std::string::npos);
  KilnRun json_plan = Kiln("plan --format json");
  json j = json::parse(json_plan.out, nullptr, false);
  ASSERT_FALSE(j.is_discarded()) << json_plan.out;
  for (const char* k : {"format_version", "kiln_version", "applyable", "errored", "resource_changes",
                        "resource_drift", "output_changes", "summary", "cost", "diagnostics"})
    EXPECT_TRUE(j.contains(k)) << k;
  EXPECT_EQ(j["resource_changes"].size(), 4u);
  EXPECT_EQ(j["resource_changes"][0]["action"], "noop");
  KilnRun md = Kiln("plan --format markdown");
  EXPECT_EQ(md.out, "**kiln plan:** no changes.\n");
  KilnRun graph = Kiln("graph");
  EXPECT_NE(graph.out.find("\"fake.thing.root\" -> \"fake.thing.t0\""), std::string::npos) << graph.out;
  KilnRun destroy = Kiln("destroy --auto-approve");
  EXPECT_EQ(destroy.code, 0) << destroy.out;
  EXPECT_LT(destroy.out.find("fake.thing.t0: Destruction complete"), destroy.out.find("fake.thing.root: Destroying..."));
  EXPECT_TRUE(Objects().empty());
}

// An assert on a computed attribute is deferred while the value is unknown
// (the plan passes) and runs once apply has recorded it.
TEST_F(CliTest, DeferredAssertRunsAfterApply) {
  Write("main.kiln", Config(0, "assert root.id == \"not-the-id\", \"root id is checked after apply\"\n"));
  KilnRun plan = Kiln("plan");
  EXPECT_EQ(plan.code, 0) << plan.out;
  EXPECT_EQ(plan.out.find("E0433"), std::string::npos) << plan.out;
  KilnRun apply = Kiln("apply --auto-approve");
  EXPECT_EQ(apply.code, 1) << apply.out;
  size_t created = apply.out.find("fake.thing.root: Creation complete");
  size_t failed = apply.out.find("error[E0433]: root id is checked after apply");
  ASSERT_NE(created, std::string::npos) << apply.out;
  ASSERT_NE(failed, std::string::npos) << apply.out;
  EXPECT_LT(created, failed) << apply.out;
  // Now that the id is known, a plan checks it too.
  KilnRun again = Kiln("plan");
  EXPECT_EQ(again.code, 1) << again.out;
  EXPECT_NE(again.out.find("error[E0433]: root id is checked after apply"), std::string::npos) << again.out;
}

// plan, apply, show and the state commands all find the state where the
// configuration's backend block puts it (planner::Workspace resolves it).
TEST_F(CliTest, EveryCommandUsesTheBackendsStateFile) {
  Write("main.kiln", Config(1, "backend local { path = \"custom/state.json\" }\n"));
  KilnRun apply = Kiln("apply --auto-approve");
  ASSERT_EQ(apply.code, 0) << apply.out;
  EXPECT_TRUE(fs::exists(dir_ / "custom/state.json"));
  EXPECT_FALSE(fs::exists(dir_ / ".kiln/state.json"));
  KilnRun show = Kiln("show");
  EXPECT_EQ(show.code, 0) << show.out;
  EXPECT_NE(show.out.find("# fake.thing.root:"), std::string::npos) << show.out;
  KilnRun list = Kiln("state list");
  EXPECT_EQ(list.code, 0) << list.out;
  EXPECT_EQ(list.out, "fake.thing.root\nfake.thing.t0\n");
  KilnRun mv = Kiln("state mv fake.thing.t0 fake.thing.t9");
  EXPECT_EQ(mv.code, 0) << mv.out;
  EXPECT_NE(Read(dir_ / "custom/state.json").find("fake.thing.t9"), std::string::npos);
  EXPECT_FALSE(fs::exists(dir_ / ".kiln/state.json"));
}

TEST_F(CliTest, SavedPlanFromNoStateCannotBeAppliedTwice) {
  Write("main.kiln", Config(2));
  KilnRun plan = Kiln("plan --out plan.json");
  ASSERT_EQ(plan.code, 0) << plan.out;
  KilnRun first = Kiln("apply plan.json");
  EXPECT_EQ(first.code, 0) << first.out;
  EXPECT_EQ(Objects().size(), 3u);
  KilnRun second = Kiln("apply plan.json");
  EXPECT_EQ(second.code, 1);
  EXPECT_NE(second.out.find("saved plan is stale"), std::string::npos) << second.out;
  EXPECT_EQ(Objects().size(), 3u);
  for (const auto& [a, n] : Objects()) EXPECT_EQ(n, 1) << a;
}

TEST_F(CliTest, SavedPlanIsStaleWhenConfigurationChanges) {
  Write("main.kiln", Config(1));
  ASSERT_EQ(Kiln("apply --auto-approve").code, 0);
  ASSERT_EQ(Kiln("plan --out plan.json").code, 0);
  Write("main.kiln", Config(2));
  std::string before = Read(dir_ / ".kiln/state.json");
  KilnRun r = Kiln("apply plan.json");
  EXPECT_EQ(r.code, 1);
  EXPECT_NE(r.out.find("saved plan is stale: the configuration changed"), std::string::npos) << r.out;
  EXPECT_EQ(Read(dir_ / ".kiln/state.json"), before);
}

TEST_F(CliTest, CorruptStateIsAClearErrorAndIsNotOverwritten) {
  Write("main.kiln", Config(1));
  fs::create_directories(dir_ / ".kiln");
  Write(".kiln/state.json", "{ this is not json");
  KilnRun r = Kiln("apply --auto-approve");
  EXPECT_EQ(r.code, 1);
  EXPECT_NE(r.out.find(".kiln/state.json"), std::string::npos) << r.out;
  EXPECT_EQ(Read(dir_ / ".kiln/state.json"), "{ this is not json");
  EXPECT_TRUE(Objects().empty());
}

TEST_F(CliTest, SigkillDuringApplyNeverLosesOrDuplicatesObjects) {
  const int kResources = 30;
  Write("main.kiln", Config(kResources - 1));
  std::mt19937 rng(20261126);
  int partial_rounds = 0;  // kills that landed in the middle of the work
  // How late a kill may land. It adapts to the machine's speed: halved after
  // a round that finished before the kill, doubled after one that had not
  // created anything yet, so that on a slow or loaded machine the kills still
  // land mid-apply. At least 12 rounds; more (up to 40) until 3 landed mid-apply.
  int max_delay_ms = 250;
  for (int round = 0; round < 40 && (round < 12 || partial_rounds < 3); ++round) {
    // Start an apply with some latency per operation and kill it at a
    // seeded moment.
    size_t before = Objects().size();
    pid_t pid = fork();
    if (pid == 0) {
      // Slow enough that the seeded kills land mid-apply (a faster journal
      // made 5-15 ms applies finish before most kills).
      std::string latency = std::to_string(15 + round % 3 * 10);
      setenv("KILN_FAKE_LATENCY_MS", latency.c_str(), 1);
      if (chdir(dir_.c_str()) != 0) _exit(99);
      int null = open("/dev/null", O_RDWR);
      dup2(null, 0);
      dup2(null, 1);
      dup2(null, 2);
      std::string extra = round % 2 ? "--parallelism=4" : "--parallelism=16";
      execl(KILN_TEST_DRIVER, KILN_TEST_DRIVER, "apply", "--auto-approve", extra.c_str(), (char*)nullptr);
      _exit(98);
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20 + rng() % max_delay_ms));
    kill(pid, SIGKILL);
    int status;
    waitpid(pid, &status, 0);
    // State is always readable, and no address ever has two objects.
    KilnRun show = Kiln("show --format json");
    ASSERT_EQ(show.code, 0) << "round " << round << ": " << show.out;
    auto objects = Objects();
    for (const auto& [a, n] : objects) ASSERT_EQ(n, 1) << "round " << round << ": " << a;
    bool complete = objects.size() == static_cast<size_t>(kResources);
    if (objects.size() > before && !complete) ++partial_rounds;
    if (complete) max_delay_ms = std::max(10, max_delay_ms / 2);
    if (objects.size() == before && !complete) max_delay_ms = std::min(2000, max_delay_ms * 2);
    // A finished apply leaves nothing to interrupt: tear everything down.
    if (complete) {
      ASSERT_EQ(Kiln("destroy --auto-approve").code, 0) << "round " << round;
    }
    // Every other round, tear some of it down again so that deletes are
    // interrupted too.
    if (round % 4 == 3) {
      KilnRun d = Kiln("destroy --auto-approve --target fake.thing.t" + std::to_string(rng() % kResources));
      ASSERT_NE(d.code, 137) << d.out;
    }
  }
  EXPECT_GE(partial_rounds, 3) << "the kills should land mid-apply";
  KilnRun finish = Kiln("apply --auto-approve");
  ASSERT_EQ(finish.code, 0) << finish.out;
  auto objects = Objects();
  EXPECT_EQ(objects.size(), static_cast<size_t>(kResources));
  for (const auto& [a, n] : objects) EXPECT_EQ(n, 1) << a;
  json state = json::parse(Read(dir_ / ".kiln/state.json"), nullptr, false);
  ASSERT_FALSE(state.is_discarded());
  EXPECT_EQ(state["resources"].size(), static_cast<size_t>(kResources));
  KilnRun plan = Kiln("plan --detailed-exitcode");
  EXPECT_EQ(plan.code, 0) << plan.out;
}

}  // namespace

// `kiln import` adopts a live object: the state record is what apply would
// have written (sensitive values redacted), so the next plan has no changes.
TEST_F(CliTest, ImportAdoptsALiveObjectAndRefusesWhatItCannot) {
  std::string config = "provider fake f {\n  dir = \"" + (dir_ / "objects").string() +
                       "\"\n}\nfake.thing web {\n  name = \"web\"\n  password = \"hunter2\"\n}\n";
  Write("main.kiln", config);
  ASSERT_EQ(Kiln("apply --auto-approve").code, 0);
  ASSERT_EQ(Objects().size(), 1u);
  ASSERT_EQ(Kiln("state rm fake.thing.web").code, 0);
  std::string id;
  for (const auto& e : fs::directory_iterator(dir_ / "objects"))
    if (e.path().extension() == ".json") id = e.path().stem().string();
  ASSERT_FALSE(id.empty());

  KilnRun typo = Kiln("import fake.thing.wbe " + id);
  EXPECT_EQ(typo.code, 1);
  EXPECT_NE(typo.out.find("E0910"), std::string::npos) << typo.out;
  EXPECT_NE(typo.out.find("did you mean `fake.thing.web`?"), std::string::npos) << typo.out;
  KilnRun missing = Kiln("import fake.thing.web no-such-id");
  EXPECT_EQ(missing.code, 1);
  EXPECT_NE(missing.out.find("E0908"), std::string::npos) << missing.out;
  EXPECT_NE(missing.out.find("no object with id `no-such-id`"), std::string::npos) << missing.out;

  KilnRun ok = Kiln("import fake.thing.web " + id);
  ASSERT_EQ(ok.code, 0) << ok.out;
  EXPECT_NE(ok.out.find("fake.thing.web: Import complete [id=" + id + "]"), std::string::npos) << ok.out;
  std::string text = Read(dir_ / ".kiln/state.json");
  EXPECT_EQ(text.find("hunter2"), std::string::npos) << "sensitive value written to state";
  json st = json::parse(text, nullptr, false);
  ASSERT_EQ(st["resources"].size(), 1u);
  const json& r = st["resources"][0];
  EXPECT_EQ(r["address"], "fake.thing.web");
  EXPECT_EQ(r["provider"], "provider.fake.f");
  EXPECT_EQ(r["attributes"]["id"], id);
  EXPECT_EQ(r["attributes"]["password"], "(sensitive)");
  EXPECT_TRUE(r["sensitive_hashes"].contains("/password"));
  KilnRun plan = Kiln("plan --detailed-exitcode");
  EXPECT_EQ(plan.code, 0) << plan.out;
  EXPECT_EQ(Objects().size(), 1u);

  KilnRun twice = Kiln("import fake.thing.web " + id);
  EXPECT_EQ(twice.code, 1);
  EXPECT_NE(twice.out.find("E0909"), std::string::npos) << twice.out;
  EXPECT_NE(twice.out.find("already in state"), std::string::npos) << twice.out;

  // The lock is taken: an import waits for (and here gives up on) a holder.
  ASSERT_EQ(Kiln("state rm fake.thing.web").code, 0);
  int fd = open((dir_ / ".kiln/state.json.lock").c_str(), O_RDWR | O_CREAT, 0600);
  ASSERT_GE(fd, 0);
  ASSERT_EQ(flock(fd, LOCK_EX), 0);
  KilnRun locked = Kiln("import --lock-timeout 200ms fake.thing.web " + id);
  EXPECT_EQ(locked.code, 1) << locked.out;
  EXPECT_NE(locked.out.find("E0810"), std::string::npos) << locked.out;
  close(fd);
  EXPECT_EQ(Kiln("import fake.thing.web " + id).code, 0);
}
