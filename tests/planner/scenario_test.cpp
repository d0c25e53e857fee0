// Runs every folder of tests/testdata/scenarios through the real binary:
// prior state in, `kiln plan --refresh=false` out, compared with the
// expected text, JSON and Markdown plans (see the README there).
#include <gtest/gtest.h>
#include <sys/wait.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <random>
#include <sstream>

#include "tests/common/test_util.h"

namespace {

namespace fs = std::filesystem;

using kiln::testutil::ReadFile;

// Standard output, and standard error too unless `stdout_only`.
int RunIn(const fs::path& dir, const std::string& args, std::string* out, bool stdout_only = false) {
  auto r = kiln::testutil::RunKilnBinary(KILN_TEST_DRIVER, dir.string(), "--no-color " + args,
                                   {"", !stdout_only});
  *out = r.out;
  return r.exit_code;
}

class ScenarioTest : public ::testing::TestWithParam<std::string> {};

TEST_P(ScenarioTest, PlanMatchesExpected) {
  fs::path src = fs::path(KILN_SOURCE_DIR) / "tests/testdata/scenarios" / GetParam();
  bool update = std::getenv("KILN_UPDATE_SCENARIOS") != nullptr;
  fs::path work = fs::temp_directory_path() / ("kiln-scenario-" + GetParam() + std::to_string(std::random_device{}()));
  fs::create_directories(work / ".kiln");
  std::string out;
  if (update && fs::exists(src / "before.kiln")) {
    fs::copy_file(src / "before.kiln", work / "main.kiln");
    ASSERT_EQ(RunIn(work, "apply --auto-approve", &out), 0) << out;
    fs::copy_file(work / ".kiln/state.json", src / "state.json", fs::copy_options::overwrite_existing);
    fs::remove(work / "main.kiln");
  }
  fs::copy_file(src / "main.kiln", work / "main.kiln", fs::copy_options::overwrite_existing);
  if (fs::exists(src / "state.json"))
    fs::copy_file(src / "state.json", work / ".kiln/state.json", fs::copy_options::overwrite_existing);
  // Optional extra plan flags (`--target ...`), one line.
  std::string args;
  if (fs::exists(src / "args")) {
    args = " " + ReadFile(src / "args");
    while (!args.empty() && (args.back() == '\n' || args.back() == ' ')) args.pop_back();
  }
  std::string text, json_text, md_text;
  int code = RunIn(work, "plan --refresh=false --detailed-exitcode" + args, &text);
  int json_code = RunIn(work, "plan --refresh=false --format json" + args, &json_text, true);
  RunIn(work, "plan --refresh=false --format markdown" + args, &md_text, true);
  // Diagnostics name the scratch directory: %t, as in the golden files.
  for (std::string* t : {&text, &json_text, &md_text})
    for (size_t at = t->find(work.string()); at != std::string::npos; at = t->find(work.string(), at))
      t->replace(at, work.string().size(), "%t");
  fs::remove_all(work);
  auto j = nlohmann::json::parse(json_text, nullptr, false);
  ASSERT_FALSE(j.is_discarded()) << json_text;
  // A plan that fails (exit 1) still prints its JSON, marked errored.
  bool errored = j.value("errored", false);
  EXPECT_TRUE(code == 0 || code == 2 || (code == 1 && errored)) << text;
  EXPECT_EQ(json_code, errored ? 1 : 0) << json_text;
  j.erase("kiln_version");
  std::string json_pretty = j.dump(2) + "\n";
  if (update) {
    std::ofstream(src / "expected.txt") << text;
    std::ofstream(src / "expected.json") << json_pretty;
    std::ofstream(src / "expected.md") << md_text;
    return;
  }
  EXPECT_EQ(text, ReadFile(src / "expected.txt"));
  EXPECT_EQ(json_pretty, ReadFile(src / "expected.json"));
  EXPECT_EQ(md_text, ReadFile(src / "expected.md"));
}

std::vector<std::string> Scenarios() {
  std::vector<std::string> out;
  for (const auto& e : fs::directory_iterator(fs::path(KILN_SOURCE_DIR) / "tests/testdata/scenarios"))
    if (e.is_directory()) out.push_back(e.path().filename().string());
  std::sort(out.begin(), out.end());
  return out;
}

INSTANTIATE_TEST_SUITE_P(Scenarios, ScenarioTest, ::testing::ValuesIn(Scenarios()),
                         [](const auto& info) { return info.param; });

}  // namespace
