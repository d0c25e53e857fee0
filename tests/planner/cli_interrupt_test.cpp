// Ctrl-C through the real binary: two SIGINTs during `kiln apply` against
// the fake provider (20 s per create): the second aborts the creates in
// flight, every one is reported against its address, state is saved and
// kiln exits 130 within seconds; the next plan still creates everything.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <random>
#include <sstream>

#include "tests/common/test_util.h"
#include <thread>

namespace {

namespace fs = std::filesystem;

using kiln::testutil::ReadFile;

class CliInterruptTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::random_device rd;
    dir_ = fs::temp_directory_path() / ("kiln-cli-int-" + std::to_string(rd()));
    fs::create_directories(dir_);
    std::string s = "provider fake f {\n  dir = \"" + (dir_ / "objects").string() + "\"\n}\n";
    for (int i = 0; i < 3; ++i)
      s += "fake.thing t" + std::to_string(i) + " {\n  name = \"t" + std::to_string(i) + "\"\n}\n";
    s += "fake.thing after {\n  name = \"after\"\n  ref = t0.id\n}\n";
    std::ofstream(dir_ / "main.kiln") << s;
  }
  void TearDown() override { fs::remove_all(dir_); }

  // Starts `kiln ARGS...` in dir_ with the fake provider at `latency_ms`;
  // output goes to dir_/out.txt.
  pid_t Start(const std::vector<std::string>& args, int latency_ms) {
    pid_t pid = fork();
    if (pid != 0) return pid;
    if (chdir(dir_.c_str()) != 0) _exit(120);
    int out = open((dir_ / "out.txt").c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
    int in = open("/dev/null", O_RDONLY);
    dup2(out, 1);
    dup2(out, 2);
    dup2(in, 0);
    setenv("KILN_FAKE_LATENCY_MS", std::to_string(latency_ms).c_str(), 1);
    std::vector<char*> argv;
    std::string bin = KILN_TEST_DRIVER;
    argv.push_back(bin.data());
    std::vector<std::string> copy = args;
    for (auto& a : copy) argv.push_back(a.data());
    argv.push_back(nullptr);
    execv(bin.c_str(), argv.data());
    _exit(127);
  }

  int Wait(pid_t pid) {
    int status = 0;
    waitpid(pid, &status, 0);
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  }

  // Waits until out.txt contains `text` (up to 10 s).
  bool WaitForOutput(const std::string& text) {
    for (int i = 0; i < 200; ++i) {
      if (ReadFile(dir_ / "out.txt").find(text) != std::string::npos) return true;
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    return false;
  }

  fs::path dir_;
};

TEST_F(CliInterruptTest, SecondSigintAbortsCreatesInFlightAndExits130) {
  pid_t pid = Start({"--no-color", "apply", "--auto-approve"}, 20000);
  ASSERT_TRUE(WaitForOutput("fake.thing.t2: Creating...")) << ReadFile(dir_ / "out.txt");
  auto t0 = std::chrono::steady_clock::now();
  kill(pid, SIGINT);
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  kill(pid, SIGINT);
  int code = Wait(pid);
  auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - t0).count();
  std::string out = ReadFile(dir_ / "out.txt");
  EXPECT_EQ(code, 130) << out;
  EXPECT_LT(ms, 8000) << out;
  EXPECT_NE(out.find("Second interrupt"), std::string::npos) << out;
  for (const char* a : {"fake.thing.t0", "fake.thing.t1", "fake.thing.t2"})
    EXPECT_NE(out.find(std::string(a) + ": cancelled"), std::string::npos) << a << "\n" << out;
  EXPECT_EQ(out.find("fake.thing.after: Creating"), std::string::npos) << out;
  // Nothing was created, nothing is pending, and the next plan creates all.
  size_t objects = 0;
  if (fs::exists(dir_ / "objects"))
    for (const auto& e : fs::directory_iterator(dir_ / "objects"))
      if (e.path().extension() == ".json" && e.path().filename().string()[0] != '.') ++objects;
  EXPECT_EQ(objects, 0u);
  pid_t plan = Start({"--no-color", "plan", "--detailed-exitcode"}, 0);
  EXPECT_EQ(Wait(plan), 2) << ReadFile(dir_ / "out.txt");
  EXPECT_NE(ReadFile(dir_ / "out.txt").find("4 to add"), std::string::npos) << ReadFile(dir_ / "out.txt");
}

TEST_F(CliInterruptTest, OneSigintFinishesWhatIsInFlightAndSavesIt) {
  pid_t pid = Start({"--no-color", "apply", "--auto-approve"}, 1500);
  ASSERT_TRUE(WaitForOutput("fake.thing.t2: Creating...")) << ReadFile(dir_ / "out.txt");
  kill(pid, SIGINT);
  int code = Wait(pid);
  std::string out = ReadFile(dir_ / "out.txt");
  EXPECT_EQ(code, 130) << out;
  EXPECT_EQ(out.find("Second interrupt"), std::string::npos) << out;
  for (const char* a : {"fake.thing.t0", "fake.thing.t1", "fake.thing.t2"})
    EXPECT_NE(out.find(std::string(a) + ": Creation complete"), std::string::npos) << a << "\n" << out;
  std::string state = ReadFile(dir_ / ".kiln/state.json");
  EXPECT_NE(state.find("\"fake.thing.t2\""), std::string::npos) << state;
  EXPECT_EQ(state.find("\"fake.thing.after\""), std::string::npos) << state;
}

}  // namespace
