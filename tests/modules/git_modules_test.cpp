// Modules shared through git: `kiln init` fetches `git::` sources with the
// system git from real local repositories (bare, made here with real git
// processes; over file://, a plain path and ssh through a local command),
// pins them in kiln.lock; later commands never fetch; a moved tag, a
// missing ref or repository and a hand-edited lock entry are errors.
#include <gtest/gtest.h>
#include <stdlib.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "compiler/module/git_source.h"
#include "tests/common/test_util.h"

namespace kiln {
namespace {

namespace fs = std::filesystem;
using json = nlohmann::json;
using testutil::ReadFile;
using testutil::WriteFile;

struct KilnRun {
  int code = -1;
  std::string out;  // stdout and stderr together
};

class GitModules : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string t = (fs::temp_directory_path() / "kiln-gitmod-XXXXXX").string();
    tmp_ = mkdtemp(t.data());
    work_ = tmp_ + "/work";
    bare_ = tmp_ + "/repo.git";
    cfg_ = tmp_ + "/cfg";
    fs::create_directories(cfg_);
    WriteGreeting("hello");
    Sh("git init -q -b main '" + work_ + "'");
    Commit("v1");
    Sh("git -C '" + work_ + "' tag v1.0.0");
    Sh("git clone -q --bare '" + work_ + "' '" + bare_ + "'");
    v1_ = RevParse("v1.0.0");
  }
  void TearDown() override { fs::remove_all(tmp_); }

  static void Sh(const std::string& cmd) {
    std::string full = "GIT_CONFIG_GLOBAL=/dev/null GIT_CONFIG_NOSYSTEM=1 " + cmd + " >/dev/null 2>&1";
    ASSERT_EQ(system(full.c_str()), 0) << cmd;
  }
  std::string RevParse(const std::string& ref) {
    std::string out = testutil::RunKilnBinary("git", work_, "rev-parse '" + ref + "^{commit}'").out;
    while (!out.empty() && out.back() == '\n') out.pop_back();
    return out;
  }
  void WriteGreeting(const std::string& word) {
    WriteFile(work_ + "/modules/hello/main.kiln",
              "# Greeting module, shared through git.\n"
              "#\n"
              "#   module hello {\n"
              "#     source = \"git::https://host/org/repo.git//modules/hello?ref=v1.0.0\"\n"
              "#   }\n"
              "\n"
              "/// Who to greet.\n"
              "input who: string = \"world\"\n"
              "\n"
              "/// The greeting (" + word + ").\n"
              "output greeting = \"" + word + " ${who}\"\n");
  }
  void Commit(const std::string& msg) {
    Sh("git -C '" + work_ + "' add -A");
    Sh("git -C '" + work_ + "' -c user.name=t -c user.email=t@t commit -q -m " + msg);
  }
  // Moves tag v1.0.0 in the shared repository to a new commit.
  std::string MoveTag(const std::string& word) {
    WriteGreeting(word);
    Commit("v2");
    Sh("git -C '" + work_ + "' tag -f v1.0.0");
    Sh("git -C '" + work_ + "' push -q -f '" + bare_ + "' main v1.0.0");
    return RevParse("v1.0.0");
  }
  void WriteConfig(const std::string& source) {
    WriteFile(cfg_ + "/main.kiln",
              "module hello {\n  source = \"" + source + "\"\n  who = \"team\"\n}\n\n"
              "output greeting = hello.greeting\n");
  }
  std::string Source(const std::string& ref = "v1.0.0") {
    return "git::file://" + bare_ + "//modules/hello?ref=" + ref;
  }
  KilnRun Kiln(const std::string& args, const std::string& env = "", const std::string& dir = "") {
    auto r = testutil::RunKilnBinary(KILN_BINARY, dir.empty() ? cfg_ : dir, args,
                                     {"env -u KILN_LOG NO_COLOR=1 GIT_CONFIG_GLOBAL=/dev/null " + env, true});
    return KilnRun{r.exit_code, r.out};
  }
  json Lock() {
    std::ifstream in(cfg_ + "/kiln.lock");
    return json::parse(in, nullptr, false);
  }
  std::string Greeting() { return Kiln("eval hello.greeting").out; }

  std::string tmp_, work_, bare_, cfg_, v1_;
};

TEST_F(GitModules, InitFetchesAndPinsByCommitThenNeverFetches) {
  WriteConfig(Source());
  // Not fetched yet: compiling says what to run.
  KilnRun before = Kiln("validate");
  EXPECT_EQ(before.code, 1) << before.out;
  EXPECT_NE(before.out.find("is not pinned in kiln.lock"), std::string::npos) << before.out;
  EXPECT_NE(before.out.find("run `kiln init`"), std::string::npos) << before.out;

  KilnRun init = Kiln("init");
  ASSERT_EQ(init.code, 0) << init.out;
  EXPECT_NE(init.out.find("module.hello <- " + Source() + " @ " + v1_.substr(0, 12)), std::string::npos)
      << init.out;
  json lock = Lock();
  ASSERT_TRUE(lock.is_object());
  const json& m = lock["modules"]["module.hello"];
  EXPECT_EQ(m["kind"], "git");
  EXPECT_EQ(m["commit"], v1_);
  EXPECT_EQ(m["ref"], "v1.0.0");
  EXPECT_EQ(m["subdir"], "modules/hello");
  EXPECT_EQ(m["url"], "file://" + bare_);
  EXPECT_EQ(m["sha256"].get<std::string>().rfind("sha256:", 0), 0u) << m;
  std::string dir = m["dir"].get<std::string>();
  EXPECT_EQ(dir.rfind(".kiln/modules/repo-", 0), 0u) << dir;
  EXPECT_TRUE(fs::exists(cfg_ + "/" + dir + "/main.kiln")) << dir;
  EXPECT_FALSE(fs::exists(cfg_ + "/" + dir + "/../../.git"));  // files only
  EXPECT_EQ(Greeting(), "\"hello team\"\n");

  // A second init writes the same bytes.
  std::string first = ReadFile(cfg_ + "/kiln.lock");
  ASSERT_EQ(Kiln("init").code, 0);
  EXPECT_EQ(ReadFile(cfg_ + "/kiln.lock"), first);

  // Later commands use the pinned files: the repository may be gone.
  fs::rename(bare_, bare_ + ".away");
  EXPECT_EQ(Greeting(), "\"hello team\"\n");
  KilnRun validate = Kiln("validate");
  EXPECT_EQ(validate.code, 0) << validate.out;
  // init must reach the repository to check the ref, and says which.
  KilnRun gone = Kiln("init");
  EXPECT_EQ(gone.code, 1) << gone.out;
  EXPECT_NE(gone.out.find("E1102"), std::string::npos) << gone.out;
  EXPECT_NE(gone.out.find("cannot read the git repository `file://" + bare_ + "`"), std::string::npos) << gone.out;
  EXPECT_EQ(ReadFile(cfg_ + "/kiln.lock"), first);
}

TEST_F(GitModules, MovedTagIsAnErrorNamingBothCommitsUntilUpgrade) {
  WriteConfig(Source());
  ASSERT_EQ(Kiln("init").code, 0);
  std::string lock_before = ReadFile(cfg_ + "/kiln.lock");
  std::string v2 = MoveTag("hi");
  ASSERT_NE(v2, v1_);

  EXPECT_EQ(Greeting(), "\"hello team\"\n");  // the pin holds
  KilnRun moved = Kiln("init");
  EXPECT_EQ(moved.code, 1) << moved.out;
  EXPECT_NE(moved.out.find("E1105"), std::string::npos) << moved.out;
  EXPECT_NE(moved.out.find("`v1.0.0` of `file://" + bare_ + "` moved"), std::string::npos) << moved.out;
  EXPECT_NE(moved.out.find(v1_), std::string::npos) << moved.out;
  EXPECT_NE(moved.out.find(v2), std::string::npos) << moved.out;
  EXPECT_NE(moved.out.find("kiln init --upgrade"), std::string::npos) << moved.out;
  EXPECT_NE(moved.out.find("kiln.lock was not written"), std::string::npos) << moved.out;
  EXPECT_EQ(ReadFile(cfg_ + "/kiln.lock"), lock_before);

  KilnRun up = Kiln("init --upgrade");
  ASSERT_EQ(up.code, 0) << up.out;
  EXPECT_NE(up.out.find("pinned module.hello " + v1_.substr(0, 12) + " -> " + v2.substr(0, 12)), std::string::npos)
      << up.out;
  EXPECT_EQ(Lock()["modules"]["module.hello"]["commit"], v2);
  EXPECT_EQ(Greeting(), "\"hi team\"\n");
}

TEST_F(GitModules, MissingRefRepositoryOrDirectoryIsAClearError) {
  WriteConfig(Source("v1.0"));
  KilnRun ref = Kiln("init");
  EXPECT_EQ(ref.code, 1) << ref.out;
  EXPECT_NE(ref.out.find("has no branch or tag `v1.0`"), std::string::npos) << ref.out;
  EXPECT_NE(ref.out.find("did you mean `?ref=v1.0.0`?"), std::string::npos) << ref.out;
  EXPECT_NE(ref.out.find("main.kiln:2"), std::string::npos) << ref.out;  // points at the source
  EXPECT_FALSE(fs::exists(cfg_ + "/kiln.lock"));

  WriteConfig("git::file://" + tmp_ + "/nothing.git//modules/hello?ref=v1.0.0");
  KilnRun repo = Kiln("init");
  EXPECT_EQ(repo.code, 1) << repo.out;
  EXPECT_NE(repo.out.find("cannot read the git repository `file://" + tmp_ + "/nothing.git`"), std::string::npos)
      << repo.out;
  EXPECT_FALSE(fs::exists(cfg_ + "/kiln.lock"));

  WriteConfig("git::file://" + bare_ + "//modules/nope?ref=v1.0.0");
  KilnRun sub = Kiln("init");
  EXPECT_EQ(sub.code, 1) << sub.out;
  EXPECT_NE(sub.out.find("has no directory `modules/nope`"), std::string::npos) << sub.out;

  WriteConfig("git::file://" + bare_ + "//../x?ref=v1.0.0");
  KilnRun up = Kiln("validate");
  EXPECT_EQ(up.code, 1) << up.out;
  EXPECT_NE(up.out.find("which leaves the repository"), std::string::npos) << up.out;
}

TEST_F(GitModules, HandEditedLockOrFilesAreCaught) {
  WriteConfig(Source());
  ASSERT_EQ(Kiln("init").code, 0);
  json lock = Lock();
  std::string dir = cfg_ + "/" + lock["modules"]["module.hello"]["dir"].get<std::string>();

  // A fetched file changed by hand: compiling refuses, init fetches again.
  WriteFile(dir + "/main.kiln", ReadFile(dir + "/main.kiln") + "output extra = 1\n");
  KilnRun changed = Kiln("validate");
  EXPECT_EQ(changed.code, 1) << changed.out;
  EXPECT_NE(changed.out.find("but kiln.lock pins"), std::string::npos) << changed.out;
  ASSERT_EQ(Kiln("init").code, 0);
  EXPECT_EQ(Kiln("validate").code, 0);

  // The hash in the lock edited by hand.
  std::string good = ReadFile(cfg_ + "/kiln.lock");
  json edited = lock;
  edited["modules"]["module.hello"]["sha256"] = "sha256:" + std::string(64, '0');
  WriteFile(cfg_ + "/kiln.lock", edited.dump(2));
  KilnRun v = Kiln("validate");
  EXPECT_EQ(v.code, 1) << v.out;
  EXPECT_NE(v.out.find("kiln.lock pins sha256:000"), std::string::npos) << v.out;
  KilnRun init = Kiln("init");
  EXPECT_EQ(init.code, 1) << init.out;
  EXPECT_NE(init.out.find("E1106"), std::string::npos) << init.out;
  EXPECT_NE(init.out.find("kiln.lock's entry for module.hello does not match commit " + v1_.substr(0, 12)),
            std::string::npos)
      << init.out;

  // The commit edited by hand (to the tag's next commit): named against
  // what the tag names.
  std::string v2 = MoveTag("hi");
  Sh("git -C '" + work_ + "' tag -f v1.0.0 " + v1_);
  Sh("git -C '" + work_ + "' push -q -f '" + bare_ + "' v1.0.0");
  edited = lock;
  edited["modules"]["module.hello"]["commit"] = v2;
  WriteFile(cfg_ + "/kiln.lock", edited.dump(2));
  KilnRun c = Kiln("validate");
  EXPECT_EQ(c.code, 1) << c.out;
  EXPECT_NE(c.out.find("has not been fetched"), std::string::npos) << c.out;
  KilnRun ci = Kiln("init");
  EXPECT_EQ(ci.code, 1) << ci.out;
  EXPECT_NE(ci.out.find(v1_), std::string::npos) << ci.out;
  EXPECT_NE(ci.out.find(v2), std::string::npos) << ci.out;

  WriteFile(cfg_ + "/kiln.lock", good);
  EXPECT_EQ(Kiln("validate").code, 0);
}

TEST_F(GitModules, CleanCheckoutWithCommittedLockFetchesThePinnedCommit) {
  WriteConfig(Source());
  ASSERT_EQ(Kiln("init").code, 0);
  MoveTag("hi");
  // A CI runner: the configuration and kiln.lock, no .kiln/.
  fs::remove_all(cfg_ + "/.kiln");
  KilnRun plain = Kiln("init");
  EXPECT_EQ(plain.code, 1) << plain.out;  // the tag moved since the lock was written
  Sh("git -C '" + work_ + "' tag -f v1.0.0 " + v1_);
  Sh("git -C '" + work_ + "' push -q -f '" + bare_ + "' v1.0.0");
  ASSERT_EQ(Kiln("init").code, 0);
  EXPECT_EQ(Greeting(), "\"hello team\"\n");
  EXPECT_EQ(fs::status(cfg_ + "/.kiln").permissions() & fs::perms::all, fs::perms::owner_all);
}

TEST_F(GitModules, SshAndPlainPathSources) {
  // ssh through a local command standing in for the ssh client: git runs
  // `CMD HOST 'git-upload-pack PATH'`; the command runs that here.
  WriteFile(tmp_ + "/fake-ssh", "#!/bin/sh\nfor last; do :; done\nexec sh -c \"$last\"\n");
  fs::permissions(tmp_ + "/fake-ssh", fs::perms::owner_all);
  std::string ssh_env = "GIT_SSH_COMMAND='" + tmp_ + "/fake-ssh' GIT_SSH_VARIANT=simple ";
  std::string source = "git::ssh://git@git.example.invalid" + bare_ + "//modules/hello?ref=v1.0.0";
  WriteConfig(source);
  KilnRun init = Kiln("init", ssh_env);
  ASSERT_EQ(init.code, 0) << init.out;
  EXPECT_EQ(Lock()["modules"]["module.hello"]["commit"], v1_);
  EXPECT_EQ(Greeting(), "\"hello team\"\n");

  WriteConfig("git::" + bare_ + "//modules/hello?ref=" + v1_);  // a plain path, pinned by commit
  ASSERT_EQ(Kiln("init").code, 0);
  EXPECT_EQ(Lock()["modules"]["module.hello"]["commit"], v1_);
  EXPECT_EQ(Greeting(), "\"hello team\"\n");
}

TEST_F(GitModules, DocReadsAnyModuleSource) {
  // A git source that no kiln.lock pins: fetched for the command only.
  std::string empty = tmp_ + "/empty";
  fs::create_directories(empty);
  fs::create_directories(tmp_ + "/t");
  KilnRun doc = Kiln("doc '" + Source() + "'", "TMPDIR='" + tmp_ + "/t' ", empty);
  ASSERT_EQ(doc.code, 0) << doc.out;
  EXPECT_EQ(doc.out.rfind("# Module `" + Source() + "`\n\nGreeting module, shared through git.\n\n```kiln\nmodule hello {\n",
                          0),
            0u)
      << doc.out;
  EXPECT_NE(doc.out.find("| `who` | `string` | `\"world\"` | Who to greet. |"), std::string::npos) << doc.out;
  EXPECT_NE(doc.out.find("| `greeting` | `string` | The greeting (hello). |"), std::string::npos) << doc.out;
  EXPECT_TRUE(fs::is_empty(empty));
  EXPECT_TRUE(fs::is_empty(tmp_ + "/t"));  // the fetched copy was removed

  // Pinned: the pinned commit, even after the tag moved.
  WriteConfig(Source());
  ASSERT_EQ(Kiln("init").code, 0);
  MoveTag("hi");
  KilnRun pinned = Kiln("doc '" + Source() + "'");
  ASSERT_EQ(pinned.code, 0) << pinned.out;
  KilnRun fresh = Kiln("doc '" + Source() + "'", "", empty);
  ASSERT_EQ(fresh.code, 0) << fresh.out;
  EXPECT_EQ(pinned.out, doc.out);  // the pinned commit
  EXPECT_NE(fresh.out.find("The greeting (hi)."), std::string::npos) << fresh.out;  // what the tag names now

  KilnRun std_doc = Kiln("doc std/serving", "", empty);
  ASSERT_EQ(std_doc.code, 0) << std_doc.out;
  EXPECT_EQ(std_doc.out.rfind("# Module `std/serving`\n\nstd/serving: a health-checked", 0), 0u) << std_doc.out;
  EXPECT_NE(std_doc.out.find("```kiln\nmodule chat {\n  source = \"std/serving\"\n"), std::string::npos)
      << std_doc.out;
  KilnRun nope = Kiln("doc std/nope", "", empty);
  EXPECT_EQ(nope.code, 1) << nope.out;
  EXPECT_NE(nope.out.find("there is no standard module `std/nope`"), std::string::npos) << nope.out;
  EXPECT_NE(nope.out.find("std/serving, std/training"), std::string::npos) << nope.out;
}

TEST(GitSource, SplitsUrlDirectoryAndRef) {
  struct Case {
    std::string source, url, subdir, ref;
  };
  for (const Case& c : std::vector<Case>{
           {"git::https://host/org/repo.git//modules/serving?ref=v1.2.0", "https://host/org/repo.git",
            "modules/serving", "v1.2.0"},
           {"git::ssh://git@host/org/repo.git//a/b/?ref=main", "ssh://git@host/org/repo.git", "a/b", "main"},
           {"git::git@host:org/repo.git//serving?ref=v2", "git@host:org/repo.git", "serving", "v2"},
           {"git::file:///srv/git/repo.git", "file:///srv/git/repo.git", "", ""},
           {"git::/srv/git/repo.git//x", "/srv/git/repo.git", "x", ""},
       }) {
    GitSource g;
    std::string error;
    ASSERT_TRUE(ParseGitSource(c.source, &g, &error)) << c.source << ": " << error;
    EXPECT_EQ(g.url, c.url) << c.source;
    EXPECT_EQ(g.subdir, c.subdir) << c.source;
    EXPECT_EQ(g.ref, c.ref) << c.source;
  }
  GitSource g;
  std::string error;
  EXPECT_FALSE(ParseGitSource("git::https://host/r.git//x?depth=1", &g, &error));
  EXPECT_NE(error.find("the only parameter is `?ref=TAG`"), std::string::npos) << error;
  EXPECT_FALSE(ParseGitSource("git::file://", &g, &error));
  EXPECT_NE(error.find("has no repository URL"), std::string::npos) << error;
  EXPECT_EQ(GitCheckoutDir("git@host:org/my repo.git", std::string(40, 'a')).rfind(".kiln/modules/my_repo-", 0), 0u);
}

}  // namespace
}  // namespace kiln
