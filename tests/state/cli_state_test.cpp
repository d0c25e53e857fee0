// kiln state list|show|rm|mv, kiln output and kiln force-unlock, run as the
// real binary against state files in a scratch directory.
#include <gtest/gtest.h>

#include "planner/state/state.h"
#include "state_test_util.h"

namespace kiln::state {
namespace {

using nlohmann::json;
using testing::RunKiln;
using testing::ScratchDir;
using testing::Slurp;

// Writes a state through the store (so the key file and hashes are real).
void WriteState(const std::string& dir) {
  StateStore store(dir + "/.kiln/state.json");
  State s;
  Diagnostics diags;
  ASSERT_TRUE(store.Load(&s, diags));
  auto add = [&](const std::string& address, json attrs, std::vector<Path> sensitive = {},
                 std::vector<std::string> deps = {}) {
    ResourceState r;
    auto parsed = ParseAddress(address);
    ASSERT_TRUE(parsed) << address;
    r.address = address;
    r.module = parsed->module;
    r.kind = parsed->kind;
    r.name = parsed->name;
    r.key = parsed->key;
    r.provider = "provider.local";
    r.provider_type = "local";
    Redacted red = RedactForState(attrs, sensitive, store.hasher());
    r.attributes = red.attributes;
    r.sensitive_hashes = red.hashes;
    r.dependencies = deps;
    s.Upsert(r);
  };
  add("training_job.finetune", {{"id", "job-1"}, {"gpus", 8}, {"env", {{"HF_TOKEN", "hf_s3cret"}}}},
      {{"env", "HF_TOKEN"}}, {"dataset.corpus"});
  add("dataset.corpus", {{"id", "ds-1"}, {"path", "/data"}});
  add("module.eu[\"a\"].endpoint.chat", {{"id", "ep-1"}, {"url", "http://chat"}}, {},
      {"training_job.finetune"});
  s.outputs["url"] = OutputState{"http://chat", false, "", {}, {}};
  s.outputs["replicas"] = OutputState{json::array({1, 2}), false, "", {}, {}};
  s.outputs["token"] = OutputState{kSensitivePlaceholder, true, store.hasher().Hash("tok_s3cret"), {}, {}};
  ASSERT_TRUE(store.Save(s, diags));
}

TEST(CliState, ListIsSortedAndFiltered) {
  ScratchDir dir;
  WriteState(dir.path());
  auto r = RunKiln(dir.path(), "state list");
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, "dataset.corpus\nmodule.eu[\"a\"].endpoint.chat\ntraining_job.finetune\n");
  r = RunKiln(dir.path(), "state list module.eu");
  EXPECT_EQ(r.out, "module.eu[\"a\"].endpoint.chat\n");
  // A deposed object (left by an interrupted create_before_destroy) is
  // listed after its address, marked with its key.
  {
    StateStore store(dir.path() + "/.kiln/state.json");
    State s;
    Diagnostics diags;
    ASSERT_TRUE(store.Load(&s, diags));
    ResourceState old = *s.Find("dataset.corpus");
    old.attributes["id"] = "ds-0";
    old.deposed_key = "0a1b2c3d";
    s.AddDeposed(old);
    ASSERT_TRUE(store.Save(s, diags));
  }
  r = RunKiln(dir.path(), "state list dataset");
  EXPECT_EQ(r.out, "dataset.corpus\ndataset.corpus (deposed object 0a1b2c3d)\n") << r.err;
  // No state yet: nothing to list, not an error.
  ScratchDir empty;
  r = RunKiln(empty.path(), "state list");
  EXPECT_EQ(r.exit_code, 0);
  EXPECT_EQ(r.out, "");
}

TEST(CliState, ShowRedactsSensitiveValues) {
  ScratchDir dir;
  WriteState(dir.path());
  auto r = RunKiln(dir.path(), "state show training_job.finetune");
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("# training_job.finetune"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("\"HF_TOKEN\": (sensitive)"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("depends on = dataset.corpus"), std::string::npos) << r.out;
  EXPECT_EQ(r.out.find("hf_s3cret"), std::string::npos);
  r = RunKiln(dir.path(), "state show --json training_job.finetune");
  EXPECT_EQ(r.exit_code, 0) << r.err;
  json j = json::parse(r.out, nullptr, false);
  ASSERT_FALSE(j.is_discarded()) << r.out;
  EXPECT_EQ(j["attributes"]["env"]["HF_TOKEN"], "(sensitive)");
  EXPECT_EQ(j["sensitive_paths"], json::parse(R"([["env", "HF_TOKEN"]])"));
  EXPECT_EQ(Slurp(dir / ".kiln/state.json").find("hf_s3cret"), std::string::npos);
}

TEST(CliState, UnknownAddressSuggestsTheClosest) {
  ScratchDir dir;
  WriteState(dir.path());
  auto r = RunKiln(dir.path(), "state show training_job.finetun");
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("E0831"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("did you mean training_job.finetune?"), std::string::npos) << r.err;
  r = RunKiln(dir.path(), "state rm dataset.corpus nothing.here");
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("no resource nothing.here in state"), std::string::npos) << r.err;
  // All or nothing: the valid address was not removed.
  EXPECT_EQ(RunKiln(dir.path(), "state list").out.find("dataset.corpus"), 0u);
  r = RunKiln(dir.path(), "state lst");
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("did you mean `list`?"), std::string::npos) << r.err;
}

TEST(CliState, RmBacksUpTakesTheLockAndBumpsTheSerial) {
  ScratchDir dir;
  WriteState(dir.path());
  std::string before = Slurp(dir / ".kiln/state.json");
  auto r = RunKiln(dir.path(), "state rm dataset.corpus");
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("Removed dataset.corpus"), std::string::npos);
  size_t at = r.out.find("Backup of the previous state: ");
  ASSERT_NE(at, std::string::npos);
  std::string backup = r.out.substr(at + 30, r.out.find('\n', at) - at - 30);
  EXPECT_EQ(Slurp(dir / backup), before);
  State s;
  Diagnostics diags;
  StateStore store(dir / ".kiln/state.json");
  ASSERT_TRUE(store.Load(&s, diags));
  EXPECT_EQ(s.serial, 2);
  EXPECT_EQ(s.Find("dataset.corpus"), nullptr);
  EXPECT_FALSE(std::filesystem::exists(dir / ".kiln/state.json.lock"));  // released

  // While someone holds the lock, edits fail fast naming them.
  StateLock lock(store.lock_path());
  ASSERT_TRUE(lock.Acquire("apply", std::chrono::milliseconds(0), diags));
  std::string locked = Slurp(dir / ".kiln/state.json");
  r = RunKiln(dir.path(), "state rm training_job.finetune --lock-timeout 200ms");
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("E0810"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("pid " + std::to_string(::getpid())), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("operation \"apply\""), std::string::npos) << r.err;
  EXPECT_EQ(Slurp(dir / ".kiln/state.json"), locked);
  r = RunKiln(dir.path(), "state rm training_job.finetune --lock-timeout soon");
  EXPECT_NE(r.err.find("E0812"), std::string::npos) << r.err;
}

TEST(CliState, MvRenamesAndRewritesDependencies) {
  ScratchDir dir;
  WriteState(dir.path());
  auto r = RunKiln(dir.path(), "state mv training_job.finetune 'module.ml[\"x\"].training_job.tune[2]'");
  EXPECT_EQ(r.exit_code, 0) << r.err;
  State s;
  Diagnostics diags;
  StateStore store(dir / ".kiln/state.json");
  ASSERT_TRUE(store.Load(&s, diags));
  const ResourceState* moved = s.Find("module.ml[\"x\"].training_job.tune[2]");
  ASSERT_NE(moved, nullptr);
  EXPECT_EQ(moved->module, "module.ml[\"x\"]");
  EXPECT_EQ(moved->name, "tune");
  EXPECT_EQ(moved->key, 2);
  EXPECT_EQ(moved->attributes["id"], "job-1");
  EXPECT_EQ(moved->sensitive_hashes.size(), 1u);
  EXPECT_EQ(s.Find("training_job.finetune"), nullptr);
  EXPECT_EQ(s.Find("module.eu[\"a\"].endpoint.chat")->dependencies,
            (std::vector<std::string>{"module.ml[\"x\"].training_job.tune[2]"}));

  r = RunKiln(dir.path(), "state mv dataset.corpus endpoint.corpus");
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("the kind would change from dataset to endpoint"), std::string::npos) << r.err;
  r = RunKiln(dir.path(), "state mv dataset.corpus 'module.eu[\"a\"].endpoint.new'");
  EXPECT_NE(r.err.find("E0832"), std::string::npos) << r.err;
  r = RunKiln(dir.path(), "state mv dataset.corpus 'not an address'");
  EXPECT_NE(r.err.find("is not a resource address"), std::string::npos) << r.err;
  ASSERT_TRUE(store.Load(&s, diags));
  ResourceState twin = *s.Find("dataset.corpus");
  twin.address = "dataset.other";
  s.Upsert(twin);
  ASSERT_TRUE(store.Save(s, diags));
  r = RunKiln(dir.path(), "state mv dataset.corpus dataset.other");
  EXPECT_NE(r.err.find("E0833"), std::string::npos) << r.err;
}

TEST(CliState, CorruptStateIsReportedAndUntouched) {
  ScratchDir dir;
  WriteState(dir.path());
  auto r = RunKiln(dir.path(), "state rm dataset.corpus");  // so that a .backup exists
  ASSERT_EQ(r.exit_code, 0) << r.err;
  testing::Spit(dir / ".kiln/state.json", "{\"version\": 1, \"ser");
  r = RunKiln(dir.path(), "state rm training_job.finetune");
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("E0801"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("the previous version of the state is in .kiln/state.json.backup"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("cp .kiln/state.json.backup .kiln/state.json"), std::string::npos) << r.err;
  EXPECT_EQ(Slurp(dir / ".kiln/state.json"), "{\"version\": 1, \"ser");
  EXPECT_EQ(RunKiln(dir.path(), "output").exit_code, 1);
}

TEST(CliOutput, PrintsValuesAndHidesSensitiveOnes) {
  ScratchDir dir;
  WriteState(dir.path());
  auto r = RunKiln(dir.path(), "output");
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, "replicas = [\n             1,\n             2\n           ]\ntoken = (sensitive)\nurl = \"http://chat\"\n");
  r = RunKiln(dir.path(), "output url");
  EXPECT_EQ(r.out, "http://chat\n");
  r = RunKiln(dir.path(), "output token");
  EXPECT_EQ(r.out, "(sensitive)\n");
  r = RunKiln(dir.path(), "output --json");
  json j = json::parse(r.out, nullptr, false);
  ASSERT_FALSE(j.is_discarded()) << r.out;
  EXPECT_EQ(j["token"], json::parse(R"x({"value": "(sensitive)", "sensitive": true})x"));
  EXPECT_EQ(j["replicas"]["value"], json::parse("[1, 2]"));
  r = RunKiln(dir.path(), "output replicas --json");
  EXPECT_EQ(r.out, "[1,2]\n");
  EXPECT_EQ(r.out.find("tok_s3cret"), std::string::npos);
  r = RunKiln(dir.path(), "output ur");
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("E0834"), std::string::npos);
  EXPECT_NE(r.err.find("did you mean `url`?"), std::string::npos) << r.err;
}

TEST(CliForceUnlock, RemovesOnlyTheNamedLock) {
  ScratchDir dir;
  WriteState(dir.path());
  StateLock lock(dir / ".kiln/state.json.lock");
  Diagnostics diags;
  ASSERT_TRUE(lock.Acquire("apply", std::chrono::milliseconds(0), diags));
  auto r = RunKiln(dir.path(), "force-unlock 00000000-0000-4000-8000-000000000000");
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("E0814"), std::string::npos) << r.err;
  r = RunKiln(dir.path(), "force-unlock " + lock.info().id);
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("Removed the state lock " + lock.info().id), std::string::npos) << r.out;
  EXPECT_FALSE(std::filesystem::exists(dir / ".kiln/state.json.lock"));
  // Now an edit goes through even though we still "hold" the old lock.
  r = RunKiln(dir.path(), "state rm dataset.corpus");
  EXPECT_EQ(r.exit_code, 0) << r.err;
  r = RunKiln(dir.path(), "force-unlock " + lock.info().id);
  EXPECT_NE(r.err.find("E0813"), std::string::npos) << r.err;
}

TEST(CliState, EveryCommandHasHelp) {
  ScratchDir dir;
  for (const char* cmd : {"state --help", "state list --help", "state show --help", "state rm --help",
                          "state mv --help", "output --help", "force-unlock --help"}) {
    auto r = RunKiln(dir.path(), cmd);
    EXPECT_EQ(r.exit_code, 0) << cmd << r.err;
    EXPECT_NE(r.out.find("Usage: kiln"), std::string::npos) << cmd;
  }
}

}  // namespace
}  // namespace kiln::state
