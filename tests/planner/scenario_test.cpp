// Runs every folder of tests/testdata/scenarios through the real binary:
// prior state in, `kiln plan --refresh=false` out, compared with the
// expected text and JSON plans (see the README there).
#include <gtest/gtest.h>
#include <sys/wait.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <random>
#include <sstream>

namespace {

namespace fs = std::filesystem;

std::string ReadAll(const fs::path& p) {
  std::ifstream in(p);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

int RunIn(const fs::path& dir, const std::string& args, std::string* out) {
  std::string cmd = "cd " + dir.string() + " && KILN_ENABLE_FAKE_PROVIDER=1 " + KILN_BINARY +
                    " --no-color " + args + " </dev/null 2>&1";
  FILE* p = popen(cmd.c_str(), "r");
  char buf[4096];
  size_t n;
  out->clear();
  while ((n = fread(buf, 1, sizeof buf, p)) > 0) out->append(buf, n);
  int status = pclose(p);
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
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
  std::string text, json_text;
  int code = RunIn(work, "plan --refresh=false --detailed-exitcode", &text);
  RunIn(work, "plan --refresh=false --format json", &json_text);
  fs::remove_all(work);
  EXPECT_TRUE(code == 0 || code == 2) << text;
  auto j = nlohmann::json::parse(json_text, nullptr, false);
  ASSERT_FALSE(j.is_discarded()) << json_text;
  j.erase("kiln_version");
  std::string json_pretty = j.dump(2) + "\n";
  if (update) {
    std::ofstream(src / "expected.txt") << text;
    std::ofstream(src / "expected.json") << json_pretty;
    return;
  }
  EXPECT_EQ(text, ReadAll(src / "expected.txt"));
  EXPECT_EQ(json_pretty, ReadAll(src / "expected.json"));
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
