// `kiln providers` and `kiln init`, run as the real binary in a scratch
// configuration directory.
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "providers/discovery.h"

namespace kiln {
namespace {

namespace fs = std::filesystem;
using json = nlohmann::json;

const std::string kFiles = std::string(KILN_SOURCE_DIR) + "/examples/providers/kiln-provider-files";
const std::string kPlugins = std::string(KILN_SOURCE_DIR) + "/tests/providers/plugins";

struct RunResult {
  int code = -1;
  std::string out;  // stdout and stderr together
};

RunResult Kiln(const std::string& dir, const std::string& args) {
  std::string cmd = "cd '" + dir + "' && env -u KILN_PROVIDER_PATH -u KILN_LOG NO_COLOR=1 '" +
                    std::string(KILN_BINARY) + "' " + args + " 2>&1";
  RunResult r;
  FILE* p = popen(cmd.c_str(), "r");
  if (!p) return r;
  char buf[4096];
  size_t n;
  while ((n = fread(buf, 1, sizeof buf, p)) > 0) r.out.append(buf, n);
  int status = pclose(p);
  r.code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return r;
}

class Cli : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string t = (fs::temp_directory_path() / "kiln-cli-XXXXXX").string();
    dir_ = mkdtemp(t.data());
    fs::create_directories(dir_ + "/.kiln/providers");
    fs::copy_file(kFiles, dir_ + "/.kiln/providers/kiln-provider-files");
    fs::create_directories(dir_ + "/modules/site");
    std::ofstream(dir_ + "/modules/site/site.kiln")
        << "input name: string\n"
           "files.file index {\n  path = \"${name}.html\"\n  content = \"<h1>hi</h1>\"\n}\n";
    std::ofstream(dir_ + "/main.kiln")
        << "provider files docs {\n  root = \"out\"\n}\n\n"
           "files.file readme {\n  path = \"README.txt\"\n  content = \"hello\\n\"\n}\n\n"
           "module site {\n  source = \"./modules/site\"\n  name = \"index\"\n}\n\n"
           "datastore ckpt {}\n";
  }
  void TearDown() override { fs::remove_all(dir_); }
  std::string dir_;
};

TEST_F(Cli, ProvidersListsUsedAndDiscoverable) {
  RunResult r = Kiln(dir_, "providers");
  ASSERT_EQ(r.code, 0) << r.out;
  EXPECT_NE(r.out.find("TYPE"), std::string::npos) << r.out;
  // files is used and found in .kiln/providers; local is used for the datastore.
  // Columns are as wide as the longest type: compare a row's words.
  auto row = [&](const std::string& type) {
    std::istringstream lines(r.out);
    std::string line, word, words;
    while (std::getline(lines, line)) {
      if (line.rfind(type + " ", 0) != 0) continue;
      std::istringstream ws(line);
      while (ws >> word) words += (words.empty() ? "" : " ") + word;
    }
    return words;
  };
  EXPECT_EQ(row("files"), "files yes .kiln/providers/kiln-provider-files 0.1.0 files.file") << r.out;
  EXPECT_EQ(row("local").rfind("local yes built-in", 0), 0u) << r.out;
  EXPECT_EQ(row("kubernetes").rfind("kubernetes built-in", 0), 0u) << r.out;  // built in, not used

  RunResult j = Kiln(dir_, "providers --json");
  ASSERT_EQ(j.code, 0) << j.out;
  json doc = json::parse(j.out, nullptr, false);
  ASSERT_TRUE(doc.is_object()) << j.out;
  json by_type = json::object();
  for (const auto& p : doc["providers"]) by_type[p["type"].get<std::string>()] = p;
  ASSERT_TRUE(by_type.contains("files") && by_type.contains("local")) << j.out;
  EXPECT_EQ(doc["providers"][0]["type"], "files");  // sorted by type
  EXPECT_EQ(by_type["files"]["sha256"], Sha256File(kFiles));
  EXPECT_EQ(by_type["local"]["kinds"], json({"cluster", "datastore", "endpoint", "training_job"}));
}

TEST_F(Cli, ProvidersReportsABrokenPlugin) {
  fs::copy_file(kPlugins + "/kiln-provider-oldproto", dir_ + "/.kiln/providers/kiln-provider-oldproto");
  fs::copy_file(kPlugins + "/misbehave.py", dir_ + "/.kiln/providers/misbehave.py");
  RunResult r = Kiln(dir_, "providers");
  EXPECT_EQ(r.code, 1) << r.out;
  EXPECT_NE(r.out.find("speaks protocol version 2; this kiln speaks version 1"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("E1104"), std::string::npos) << r.out;
  // The good ones are still listed.
  EXPECT_NE(r.out.find(".kiln/providers/kiln-provider-files"), std::string::npos) << r.out;
}

TEST_F(Cli, InitWritesTheLockFile) {
  RunResult r = Kiln(dir_, "init");
  ASSERT_EQ(r.code, 0) << r.out;
  EXPECT_NE(r.out.find("Wrote kiln.lock."), std::string::npos) << r.out;
  std::ifstream in(dir_ + "/kiln.lock");
  json lock = json::parse(in, nullptr, false);
  ASSERT_TRUE(lock.is_object());
  EXPECT_EQ(lock["version"], 1);
  EXPECT_EQ(lock["providers"]["files"]["version"], "0.1.0");
  EXPECT_EQ(lock["providers"]["files"]["source"], ".kiln/providers/kiln-provider-files");
  EXPECT_EQ(lock["providers"]["files"]["sha256"], Sha256File(kFiles));
  EXPECT_EQ(lock["providers"]["local"]["source"], "built-in");
  EXPECT_EQ(lock["modules"]["module.site"]["source"], "./modules/site");
  EXPECT_EQ(lock["modules"]["module.site"]["kind"], "local");
  EXPECT_EQ(lock["modules"]["module.site"]["dir"], "modules/site");
  // Deterministic: a second run writes the same bytes.
  std::string first = json(lock).dump();
  ASSERT_EQ(Kiln(dir_, "init").code, 0);
  std::ifstream in2(dir_ + "/kiln.lock");
  EXPECT_EQ(json::parse(in2, nullptr, false).dump(), first);
}

TEST_F(Cli, InitRejectsGitSourcesAndMissingPlugins) {
  std::ofstream(dir_ + "/more.kiln", std::ios::app)
      << "module remote {\n  source = \"git::https://example.com/m.git//serving?ref=v1\"\n}\n"
         "nope.widget w {}\n";
  RunResult r = Kiln(dir_, "init");
  EXPECT_EQ(r.code, 1) << r.out;
  EXPECT_NE(r.out.find("E1102"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("git module sources are not supported by `kiln init` yet"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("unknown provider `nope`"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("kiln.lock was not written"), std::string::npos) << r.out;
  EXPECT_FALSE(fs::exists(dir_ + "/kiln.lock"));
}

}  // namespace
}  // namespace kiln
