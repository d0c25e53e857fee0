// End-to-end tests of `kiln fmt`: runs the built binary in a scratch folder.
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "tests/common/test_util.h"

namespace {

namespace fs = std::filesystem;

using kiln::testutil::ReadFile;
using kiln::testutil::WriteFile;
using Result = kiln::testutil::RunResult;

class FmtCli : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/kiln_fmt_cli_XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
  }
  void TearDown() override { fs::remove_all(dir_); }

  // Runs `kiln ARGS` in the scratch folder, with `input` on stdin.
  Result Kiln(const std::string& args, const std::string& input = "") {
    return kiln::testutil::RunKilnBinary(KILN_BINARY, dir_.string(), "--no-color " + args, {}, input);
  }

  fs::path dir_;
};

const char kUgly[] = "cluster pool {\n  gpu = \"H100:8\"\n  max_hourly_cost = 40.0\n}\nlet a = 1\n";
const char kPretty[] =
    "cluster pool {\n  gpu             = \"H100:8\"\n  max_hourly_cost = 40.0\n}\n\nlet a = 1\n";

TEST_F(FmtCli, RewritesChangedFilesAndListsThem) {
  WriteFile(dir_ / "main.kiln", kUgly);
  WriteFile(dir_ / "ok.kiln", kPretty);
  Result r = Kiln("fmt");
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, "main.kiln\n");
  EXPECT_EQ(r.err, "");
  EXPECT_EQ(ReadFile(dir_ / "main.kiln"), kPretty);
  EXPECT_EQ(ReadFile(dir_ / "ok.kiln"), kPretty);
  // No temporary files left behind.
  size_t n = 0;
  for (const auto& e : fs::directory_iterator(dir_)) n += e.path().extension() == ".kiln" ? 0 : 1;
  EXPECT_EQ(n, 0u);
  // A second run has nothing to do.
  r = Kiln("fmt");
  EXPECT_EQ(r.exit_code, 0);
  EXPECT_EQ(r.out, "");
}

TEST_F(FmtCli, CheckChangesNothingAndExitsThree) {
  WriteFile(dir_ / "main.kiln", kUgly);
  WriteFile(dir_ / "ok.kiln", kPretty);
  Result r = Kiln("fmt --check");
  EXPECT_EQ(r.exit_code, 3);
  EXPECT_EQ(r.out, "main.kiln\n");
  EXPECT_EQ(ReadFile(dir_ / "main.kiln"), kUgly);
  r = Kiln("fmt --check ok.kiln");
  EXPECT_EQ(r.exit_code, 0);
  EXPECT_EQ(r.out, "");
}

TEST_F(FmtCli, DiffPrintsAUnifiedDiff) {
  WriteFile(dir_ / "main.kiln", kUgly);
  Result r = Kiln("fmt --check --diff");
  EXPECT_EQ(r.exit_code, 3);
  EXPECT_EQ(r.out,
            "main.kiln\n"
            "--- a/main.kiln\n"
            "+++ b/main.kiln\n"
            "@@ -1,5 +1,6 @@\n"
            " cluster pool {\n"
            "-  gpu = \"H100:8\"\n"
            "+  gpu             = \"H100:8\"\n"
            "   max_hourly_cost = 40.0\n"
            " }\n"
            "+\n"
            " let a = 1\n");
  EXPECT_EQ(ReadFile(dir_ / "main.kiln"), kUgly);
  // Without --check the diff is printed and the file rewritten.
  r = Kiln("fmt --diff");
  EXPECT_EQ(r.exit_code, 0);
  EXPECT_NE(r.out.find("+++ b/main.kiln"), std::string::npos);
  EXPECT_EQ(ReadFile(dir_ / "main.kiln"), kPretty);
}

TEST_F(FmtCli, SyntaxErrorsAreReportedAndTheFileLeftUntouched) {
  const std::string broken = "cluster pool {\n  gpu = \n";
  WriteFile(dir_ / "bad.kiln", broken);
  WriteFile(dir_ / "main.kiln", kUgly);
  Result r = Kiln("fmt");
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("bad.kiln:"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("error"), std::string::npos) << r.err;
  EXPECT_EQ(ReadFile(dir_ / "bad.kiln"), broken);
  // The other files are still formatted.
  EXPECT_EQ(ReadFile(dir_ / "main.kiln"), kPretty);
  EXPECT_EQ(r.out, "main.kiln\n");
}

TEST_F(FmtCli, DirectoriesAreSearchedRecursivelyForKilnFiles) {
  WriteFile(dir_ / "mod" / "sub" / "a.kiln", kUgly);
  WriteFile(dir_ / "mod" / "b.kiln", kUgly);
  WriteFile(dir_ / "mod" / "notes.txt", kUgly);
  WriteFile(dir_ / "mod" / ".kiln" / "modules" / "c.kiln", kUgly);
  Result r = Kiln("fmt --check mod");
  EXPECT_EQ(r.exit_code, 3);
  EXPECT_EQ(r.out, "mod/b.kiln\nmod/sub/a.kiln\n");
  // An explicit file is formatted whatever its name.
  r = Kiln("fmt --check mod/notes.txt");
  EXPECT_EQ(r.exit_code, 3);
  EXPECT_EQ(r.out, "mod/notes.txt\n");
}

TEST_F(FmtCli, MissingPathIsAnError) {
  Result r = Kiln("fmt nope.kiln");
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("nope.kiln"), std::string::npos);
}

TEST_F(FmtCli, StdinToStdout) {
  Result r = Kiln("fmt -", kUgly);
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, kPretty);
  r = Kiln("fmt --check -", kUgly);
  EXPECT_EQ(r.exit_code, 3);
  EXPECT_EQ(r.out, "");
}

TEST_F(FmtCli, KeepsTheFileMode) {
  WriteFile(dir_ / "main.kiln", kUgly);
  ASSERT_EQ(chmod((dir_ / "main.kiln").c_str(), 0600), 0);
  Result r = Kiln("fmt");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  struct stat st;
  ASSERT_EQ(stat((dir_ / "main.kiln").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
}

TEST_F(FmtCli, Help) {
  Result r = Kiln("fmt --help");
  EXPECT_EQ(r.exit_code, 0);
  EXPECT_NE(r.out.find("kiln fmt [--check] [--diff] [PATH...]"), std::string::npos);
  EXPECT_NE(r.out.find("--check"), std::string::npos);
  r = Kiln("fmt --chek");
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("--check"), std::string::npos);
}

}  // namespace
