// Kiln for a team, through the real binary with the local backend and the
// fake provider: state history and rollback, saved plans applied later with
// their inputs, workspaces, state migrate, and the Terraform spellings.
#include <gtest/gtest.h>

#include <filesystem>

#include "planner/state/state.h"
#include "state_test_util.h"

namespace kiln::state {
namespace {

using testing::ScratchDir;
using testing::Slurp;
using testing::Spit;

struct CliResult {
  int code = -1;
  std::string out;  // stdout and stderr
};

// `kiln ARGS` in `dir` with the fake provider; `input` is piped to stdin.
CliResult Kiln(const std::string& dir, const std::string& args, const std::string& input = "",
         const std::string& env = "") {
  std::string cmd = "cd '" + dir + "' && printf '%s' '" + input + "' | NO_COLOR=1 " + env +
                    " '" KILN_TEST_DRIVER "' " + args + " 2>&1";
  CliResult r;
  FILE* p = ::popen(cmd.c_str(), "r");
  char buf[4096];
  size_t n;
  while ((n = fread(buf, 1, sizeof buf, p)) > 0) r.out.append(buf, n);
  int status = ::pclose(p);
  r.code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return r;
}

std::string Config(const std::string& dir, const std::string& extra = "") {
  return "input replicas: int = 1\ninput token: string = \"none\" sensitive\n"
         "provider fake f {\n  dir = \"" + dir + "/objects\"\n}\n"
         "fake.thing a {\n  name = \"a-${replicas}\"\n}\n"
         "fake.thing b {\n  name = \"b\"\n  ref = a.id\n}\n"
         "output a_id = a.id\noutput b_id = b.id\n" + extra;
}

TEST(TeamCli, HistoryShowSerialAndRollback) {
  ScratchDir dir;
  Spit(dir / "main.kiln", Config(dir.path()));
  ASSERT_EQ(Kiln(dir.path(), "apply -auto-approve").code, 0);
  ASSERT_EQ(Kiln(dir.path(), "state rm fake.thing.b").code, 0);
  CliResult h = Kiln(dir.path(), "state history");
  ASSERT_EQ(h.code, 0) << h.out;
  EXPECT_NE(h.out.find("state rm"), std::string::npos) << h.out;
  EXPECT_NE(h.out.find("+0 ~0 -1"), std::string::npos) << h.out;
  EXPECT_TRUE(std::filesystem::exists(dir / ".kiln/history/state.1.json"));
  State now;
  Diagnostics d;
  StateStore store(dir / ".kiln/state.json");
  ASSERT_TRUE(store.Load(&now, d));
  int64_t before_rm = now.serial - 1;
  CliResult show = Kiln(dir.path(), "state show --serial " + std::to_string(before_rm) + " fake.thing.b");
  EXPECT_EQ(show.code, 0) << show.out;
  EXPECT_NE(show.out.find("# fake.thing.b"), std::string::npos) << show.out;
  // Rollback shows what it implies and waits for `yes` (here from a pipe).
  CliResult no = Kiln(dir.path(), "state rollback " + std::to_string(before_rm), "no\n");
  EXPECT_EQ(no.code, 1) << no.out;
  EXPECT_NE(no.out.find("+ fake.thing.b"), std::string::npos) << no.out;
  CliResult yes = Kiln(dir.path(), "state rollback " + std::to_string(before_rm), "yes\n");
  EXPECT_EQ(yes.code, 0) << yes.out;
  ASSERT_TRUE(store.Load(&now, d));
  EXPECT_NE(now.Find("fake.thing.b"), nullptr);
  EXPECT_EQ(now.serial, before_rm + 2);  // a new serial, history kept
  CliResult plan = Kiln(dir.path(), "plan -detailed-exitcode");
  EXPECT_EQ(plan.code, 0) << plan.out;
  CliResult bad = Kiln(dir.path(), "state rollback 99 -auto-approve");
  EXPECT_EQ(bad.code, 1);
  EXPECT_NE(bad.out.find("E0835"), std::string::npos) << bad.out;
}

TEST(TeamCli, SavedPlanCarriesItsInputsAndChecksSensitiveOnes) {
  ScratchDir dir;
  Spit(dir / "main.kiln", Config(dir.path()));
  CliResult plan = Kiln(dir.path(), "plan -var replicas=3 -var token=s3cret -out=p.plan");
  ASSERT_EQ(plan.code, 0) << plan.out;
  std::string saved = Slurp(dir / "p.plan");
  EXPECT_EQ(saved.find("s3cret"), std::string::npos) << "a sensitive input must never be stored";
  EXPECT_NE(saved.find("\"origin\": \"--var\""), std::string::npos);
  // The sensitive input must be given again, with the same value.
  CliResult missing = Kiln(dir.path(), "apply p.plan");
  EXPECT_EQ(missing.code, 1) << missing.out;
  EXPECT_NE(missing.out.find("sensitive input `token`"), std::string::npos) << missing.out;
  CliResult wrong = Kiln(dir.path(), "apply p.plan", "", "KILN_VAR_token=other");
  EXPECT_EQ(wrong.code, 1) << wrong.out;
  EXPECT_NE(wrong.out.find("the plan was made with a different value of `token`"), std::string::npos) << wrong.out;
  CliResult differs = Kiln(dir.path(), "apply p.plan --var replicas=4", "", "KILN_VAR_token=s3cret");
  EXPECT_EQ(differs.code, 1) << differs.out;
  EXPECT_NE(differs.out.find("the plan was made with replicas = 3 (from --var), but --var gives 4"), std::string::npos)
      << differs.out;
  CliResult ok = Kiln(dir.path(), "apply p.plan", "", "KILN_VAR_token=s3cret");
  ASSERT_EQ(ok.code, 0) << ok.out;
  EXPECT_NE(Kiln(dir.path(), "output -raw b_id").out, "");
  EXPECT_EQ(Kiln(dir.path(), "state show fake.thing.a").out.find("a-3") != std::string::npos, true);
  // A stale plan names what changed.
  ASSERT_EQ(Kiln(dir.path(), "plan -var replicas=3 -var token=s3cret -out=q.plan").code, 0);
  Spit(dir / "extra.kiln", "output more = 1\n");
  CliResult stale = Kiln(dir.path(), "apply q.plan", "", "KILN_VAR_token=s3cret");
  EXPECT_EQ(stale.code, 1) << stale.out;
  EXPECT_NE(stale.out.find("extra.kiln is new"), std::string::npos) << stale.out;
}

TEST(TeamCli, WorkspacesKeepSeparateStates) {
  ScratchDir dir;
  Spit(dir / "main.kiln", Config(dir.path(), "output ws = env(\"KILN_WORKSPACE\", \"default\")\n"));
  ASSERT_EQ(Kiln(dir.path(), "apply -auto-approve").code, 0);
  CliResult created = Kiln(dir.path(), "workspace new staging");
  ASSERT_EQ(created.code, 0) << created.out;
  CliResult list = Kiln(dir.path(), "workspace list");
  EXPECT_EQ(list.out, "  default\n* staging\n");
  CliResult plan = Kiln(dir.path(), "plan -detailed-exitcode");
  EXPECT_EQ(plan.code, 2) << plan.out;  // staging is empty
  ASSERT_EQ(Kiln(dir.path(), "apply -auto-approve").code, 0);
  EXPECT_EQ(Kiln(dir.path(), "output -raw ws").out, "staging");
  EXPECT_EQ(Kiln(dir.path(), "--workspace default output -raw ws").out, "default");
  EXPECT_EQ(Kiln(dir.path(), "output -raw ws", "", "KILN_WORKSPACE=default").out, "default");
  EXPECT_TRUE(std::filesystem::exists(dir / ".kiln/workspaces/staging/state.json"));
  // A plan saved in one workspace is refused in another.
  ASSERT_EQ(Kiln(dir.path(), "plan -out=s.plan").code, 0);
  CliResult other = Kiln(dir.path(), "apply s.plan --workspace default");
  EXPECT_EQ(other.code, 1);
  EXPECT_NE(other.out.find("saved plan is for workspace `staging`"), std::string::npos) << other.out;
  CliResult del = Kiln(dir.path(), "workspace delete staging");
  EXPECT_EQ(del.code, 1);  // current
  ASSERT_EQ(Kiln(dir.path(), "workspace select default").code, 0);
  del = Kiln(dir.path(), "workspace delete staging");
  EXPECT_EQ(del.code, 1) << del.out;  // still has resources
  EXPECT_NE(del.out.find("still records 2 resource(s)"), std::string::npos) << del.out;
  ASSERT_EQ(Kiln(dir.path(), "destroy -auto-approve --workspace staging").code, 0);
  EXPECT_EQ(Kiln(dir.path(), "workspace delete staging").code, 0);
  EXPECT_EQ(Kiln(dir.path(), "workspace list").out, "* default\n");
  CliResult sel = Kiln(dir.path(), "workspace select stagin");
  EXPECT_EQ(sel.code, 1);
}

TEST(TeamCli, StateMigrateKeepsLineageSerialAndKey) {
  ScratchDir dir;
  Spit(dir / "main.kiln", Config(dir.path()));
  ASSERT_EQ(Kiln(dir.path(), "apply -auto-approve -var token=s3cret").code, 0);
  State before;
  Diagnostics d;
  StateStore src(dir / ".kiln/state.json");
  ASSERT_TRUE(src.Load(&before, d));
  CliResult out = Kiln(dir.path(), "state migrate --to copy/state.json");
  ASSERT_EQ(out.code, 0) << out.out;
  StateStore copy(dir / "copy/state.json");
  State after;
  ASSERT_TRUE(copy.Load(&after, d));
  EXPECT_EQ(after.serial, before.serial);
  EXPECT_EQ(after.lineage, before.lineage);
  EXPECT_TRUE(copy.key_matches());
  CliResult again = Kiln(dir.path(), "state migrate --to copy/state.json");
  EXPECT_EQ(again.code, 1);
  EXPECT_NE(again.out.find("E0837"), std::string::npos) << again.out;
}

TEST(TeamCli, TerraformHabits) {
  ScratchDir dir;
  Spit(dir / "main.kiln", Config(dir.path()));
  Spit(dir / "kiln.kilnvars", "replicas = 2\n");
  Spit(dir / "z.auto.kilnvars", "replicas = 5\n");  // later files win
  CliResult plan = Kiln("/", "plan -chdir=" + dir.path() + " -out=p.plan");
  EXPECT_EQ(plan.code, 0) << plan.out;
  CliResult after = Kiln("/", "plan -C=" + dir.path());
  EXPECT_EQ(after.code, 0) << after.out;
  EXPECT_NE(after.out.find("a-5"), std::string::npos) << after.out;
  // `yes` from a pipe.
  CliResult apply = Kiln(dir.path(), "apply", "yes\n");
  EXPECT_EQ(apply.code, 0) << apply.out;
  EXPECT_NE(Kiln(dir.path(), "show -json").out.find("\"lineage\""), std::string::npos);
  EXPECT_NE(Kiln(dir.path(), "output -json").out.find("\"a_id\""), std::string::npos);
  CliResult help = Kiln(dir.path(), "destroy -help");
  EXPECT_EQ(help.code, 0);
  EXPECT_EQ(help.out.find("--replace"), std::string::npos) << help.out;
  EXPECT_EQ(help.out.find("--detailed-exitcode"), std::string::npos) << help.out;
  CliResult target = Kiln(dir.path(), "plan -target=fake.thing.aa");
  EXPECT_EQ(target.code, 1) << target.out;
  EXPECT_NE(target.out.find("did you mean `fake.thing.a`?"), std::string::npos) << target.out;
  CliResult replace = Kiln(dir.path(), "plan -replace=fake.thing.c");
  EXPECT_EQ(replace.code, 1) << replace.out;
  EXPECT_NE(replace.out.find("E0913"), std::string::npos) << replace.out;
  // A targeted destroy keeps the outputs of what remains.
  ASSERT_EQ(Kiln(dir.path(), "destroy -auto-approve -target=fake.thing.b").code, 0);
  EXPECT_EQ(Kiln(dir.path(), "output -raw a_id").code, 0);
  EXPECT_EQ(Kiln(dir.path(), "output b_id").code, 1);  // b is gone, so is its output
  EXPECT_EQ(testing::FileMode(dir / ".kiln"), 0700);
  // After renaming a resource and `state mv`, the next plan is a no-op.
  ASSERT_EQ(Kiln(dir.path(), "apply -auto-approve").code, 0);
  std::string config = Slurp(dir / "main.kiln");
  config.replace(config.find("fake.thing a {"), 14, "fake.thing a2 {");
  while (config.find("a.id") != std::string::npos) config.replace(config.find("a.id"), 4, "a2.id");
  Spit(dir / "main.kiln", config);
  ASSERT_EQ(Kiln(dir.path(), "state mv fake.thing.a fake.thing.a2").code, 0);
  CliResult moved = Kiln(dir.path(), "plan -detailed-exitcode");
  EXPECT_EQ(moved.code, 0) << moved.out;
}

TEST(TeamCli, AFailedPlanLeavesNothingBehind) {
  ScratchDir dir;
  Spit(dir / "main.kiln", "provider fake f {\n  dir = \"" + dir.path() + "/objects\"\n}\nfake.thing a {\n  name = 1 + \"x\"\n}\n");
  CliResult plan = Kiln(dir.path(), "plan");
  EXPECT_EQ(plan.code, 1);
  EXPECT_FALSE(std::filesystem::exists(dir / ".kiln"));
}

}  // namespace
}  // namespace kiln::state
