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
#include "tests/common/test_util.h"

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
  auto r = testutil::RunKilnBinary(KILN_BINARY, dir, args,
                                   {"env -u KILN_PROVIDER_PATH -u KILN_LOG NO_COLOR=1 ", true});
  return RunResult{r.exit_code, r.out};
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

TEST_F(Cli, InitRejectsUnreadableGitSourcesAndMissingPlugins) {
  std::ofstream(dir_ + "/more.kiln", std::ios::app)
      << "module remote {\n  source = \"git::file://" << dir_ << "/none.git//serving?ref=v1\"\n}\n"
         "nope.widget w {}\n";
  RunResult r = Kiln(dir_, "init");
  EXPECT_EQ(r.code, 1) << r.out;
  EXPECT_NE(r.out.find("E1102"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("cannot read the git repository `file://" + dir_ + "/none.git`"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("unknown provider `nope`"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("kiln.lock was not written"), std::string::npos) << r.out;
  EXPECT_FALSE(fs::exists(dir_ + "/kiln.lock"));
}


// The local provider's job lifecycle and whole-plan checks, through the
// real binary: a job's progress is not drift; a job that failed after
// apply is a replacement (reason failed) and --detailed-exitcode says 2.
class LocalCli : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string t = (fs::temp_directory_path() / "kiln-localcli-XXXXXX").string();
    dir_ = mkdtemp(t.data());
  }
  void TearDown() override {
    Kiln(dir_, "destroy --auto-approve");
    fs::remove_all(dir_);
  }
  void Write(const std::string& body) {
    std::ofstream(dir_ + "/main.kiln") << "provider local box {\n  simulate_gpus = \"H100:4\"\n}\n\n" << body;
  }
  std::string dir_;
};

TEST_F(LocalCli, JobProgressIsNotDriftAndAFailedJobIsReplaced) {
  Write("training_job ok {\n  command = \"sleep 0.3\"\n  gpu = \"H100:1\"\n}\n\n"
        "training_job bad {\n  command = \"sleep 0.3; echo boom; exit 3\"\n}\n");
  RunResult a = Kiln(dir_, "apply --auto-approve");
  ASSERT_EQ(a.code, 0) << a.out;
  usleep(1500 * 1000);
  RunResult p = Kiln(dir_, "plan --detailed-exitcode");
  EXPECT_EQ(p.code, 2) << p.out;
  EXPECT_EQ(p.out.find("changed outside of kiln"), std::string::npos) << p.out;
  EXPECT_NE(p.out.find("training_job.bad has failed, so will be run again (replaced)"), std::string::npos) << p.out;
  EXPECT_NE(p.out.find("training job failed after apply (exit status 3)"), std::string::npos) << p.out;
  EXPECT_NE(p.out.find("boom"), std::string::npos) << p.out;
  EXPECT_EQ(p.out.find("training_job.ok has"), std::string::npos) << p.out;
  // Without the failing job: nothing to do, the succeeded one is quiet.
  Write("training_job ok {\n  command = \"sleep 0.3\"\n  gpu = \"H100:1\"\n}\n");
  ASSERT_EQ(Kiln(dir_, "apply --auto-approve").code, 0);
  RunResult q = Kiln(dir_, "plan --detailed-exitcode");
  EXPECT_EQ(q.code, 0) << q.out;
}

TEST_F(LocalCli, ThePlanChecksGpusOverAllResources) {
  Write("cluster a {\n  gpu = \"H100:3\"\n}\n\ncluster b {\n  gpu = \"H100:2\"\n}\n");
  RunResult r = Kiln(dir_, "plan");
  EXPECT_EQ(r.code, 1) << r.out;
  EXPECT_NE(r.out.find("E0914"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("cluster.a reserves 3 and cluster.b 2 of the 4 H100s of this machine (simulated)"),
            std::string::npos)
      << r.out;
  Write("training_job sweep for i in [0, 1, 2, 3, 4, 5, 6, 7] {\n  command = \"true\"\n  gpu = \"H100:1\"\n}\n");
  RunResult q = Kiln(dir_, "plan");
  EXPECT_EQ(q.code, 0) << q.out;
  EXPECT_NE(q.out.find("4 of 8 training jobs will wait for a free GPU"), std::string::npos) << q.out;
}


// examples/multi-region on the local provider: three regions' clusters and
// endpoints on one machine (simulated GPUs, free ports), serving.
TEST_F(LocalCli, MultiRegionExampleAppliesLocally) {
  fs::copy(std::string(KILN_SOURCE_DIR) + "/examples/multi-region", dir_ + "/multi-region");
  fs::copy(std::string(KILN_SOURCE_DIR) + "/examples/modules", dir_ + "/modules", fs::copy_options::recursive);
  std::string mr = dir_ + "/multi-region";
  RunResult a = Kiln(mr, "apply --auto-approve");
  ASSERT_EQ(a.code, 0) << a.out;
  EXPECT_EQ(a.out.find("`canary` is not supported"), std::string::npos) << a.out;
  RunResult o = Kiln(mr, "output urls --json");
  json urls = json::parse(o.out, nullptr, false);
  ASSERT_TRUE(urls.is_object()) << o.out;
  EXPECT_EQ(urls.size(), 3u);
  for (const auto& [region, url] : urls.items()) {
    std::string cmd = "python3 -c \"import urllib.request,sys; sys.exit(0 if urllib.request.urlopen('" +
                      url.get<std::string>() + "/', timeout=5).status == 200 else 1)\"";
    EXPECT_EQ(system(cmd.c_str()), 0) << region << " " << url;
  }
  RunResult plan = Kiln(mr, "plan --detailed-exitcode");
  EXPECT_EQ(plan.code, 0) << plan.out;
  // The plan notes each endpoint's traffic, measured by its proxy.
  EXPECT_NE(plan.out.find("note[N0904]"), std::string::npos) << plan.out;
  EXPECT_NE(plan.out.find("traffic since its proxy started: "), std::string::npos) << plan.out;
  RunResult d = Kiln(mr, "destroy --target module.region --auto-approve");
  EXPECT_EQ(d.code, 0) << d.out;
}

}  // namespace
}  // namespace kiln
