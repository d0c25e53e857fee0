// The state lock between real processes: contention, a SIGKILLed holder,
// stale holders, force-unlock; and lock-timeout durations.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/file.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fcntl.h>

#include "planner/state/state.h"
#include "state_test_util.h"

namespace kiln::state {
namespace {

using namespace std::chrono_literals;
using testing::ScratchDir;

// A child process that takes the lock, reports on a pipe, and sleeps until killed.
class LockHolder {
 public:
  explicit LockHolder(const std::string& lock_path) {
    int fds[2];
    EXPECT_EQ(::pipe(fds), 0);
    pid_ = ::fork();
    if (pid_ == 0) {
      ::close(fds[0]);
      StateLock lock(lock_path);
      Diagnostics diags;
      char ok = lock.Acquire("apply", 5s, diags) ? '1' : '0';
      (void)!::write(fds[1], &ok, 1);
      while (true) ::pause();
    }
    ::close(fds[1]);
    char ok = 0;
    EXPECT_EQ(::read(fds[0], &ok, 1), 1);
    ::close(fds[0]);
    acquired_ = ok == '1';
  }
  ~LockHolder() { Kill(); }
  void Kill() {
    if (pid_ <= 0) return;
    ::kill(pid_, SIGKILL);
    ::waitpid(pid_, nullptr, 0);
    pid_ = -1;
  }
  pid_t pid() const { return pid_; }
  bool acquired() const { return acquired_; }

 private:
  pid_t pid_ = -1;
  bool acquired_ = false;
};

TEST(StateLock, AcquireWritesHolderInfoAndReleaseRemovesIt) {
  ScratchDir dir;
  std::string path = dir / ".kiln/state.json.lock";
  StateLock lock(path);
  Diagnostics diags;
  ASSERT_TRUE(lock.Acquire("apply", 0ms, diags));
  EXPECT_TRUE(lock.held());
  auto holder = StateLock::ReadHolder(path);
  ASSERT_TRUE(holder);
  EXPECT_EQ(holder->id, lock.info().id);
  EXPECT_EQ(holder->pid, ::getpid());
  EXPECT_EQ(holder->operation, "apply");
  EXPECT_FALSE(holder->user.empty());
  EXPECT_FALSE(holder->host.empty());
  EXPECT_EQ(holder->since.size(), 20u);
  EXPECT_EQ(testing::FileMode(path), 0600);
  lock.Release();
  EXPECT_FALSE(lock.held());
  EXPECT_FALSE(std::filesystem::exists(path));
  EXPECT_FALSE(StateLock::ReadHolder(path));
}

TEST(StateLock, SecondProcessWaitsThenFailsNamingTheHolder) {
  ScratchDir dir;
  std::string path = dir / "state.json.lock";
  LockHolder holder(path);
  ASSERT_TRUE(holder.acquired());
  StateLock lock(path);
  Diagnostics diags;
  auto start = std::chrono::steady_clock::now();
  EXPECT_FALSE(lock.Acquire("plan", 300ms, diags));
  auto waited = std::chrono::steady_clock::now() - start;
  EXPECT_GE(waited, 300ms);
  EXPECT_LT(waited, 3s);
  ASSERT_EQ(diags.size(), 1u);
  const Diagnostic& d = diags.items()[0];
  EXPECT_EQ(d.code, "E0810");
  EXPECT_NE(d.message.find("pid " + std::to_string(holder.pid())), std::string::npos) << d.message;
  EXPECT_NE(d.message.find("operation \"apply\""), std::string::npos);
  EXPECT_NE(d.message.find("host "), std::string::npos);
  EXPECT_NE(d.message.find("user "), std::string::npos);
  EXPECT_NE(d.message.find("since "), std::string::npos);
  auto info = StateLock::ReadHolder(path);
  ASSERT_TRUE(info);
  EXPECT_NE(d.help.find("kiln force-unlock " + info->id), std::string::npos);
}

TEST(StateLock, WaiterGetsTheLockWhenTheHolderIsKilled) {
  ScratchDir dir;
  std::string path = dir / "state.json.lock";
  LockHolder holder(path);
  ASSERT_TRUE(holder.acquired());
  std::thread killer([&] {
    std::this_thread::sleep_for(200ms);
    holder.Kill();  // SIGKILL: no chance to clean up
  });
  StateLock lock(path);
  Diagnostics diags;
  EXPECT_TRUE(lock.Acquire("apply", 5s, diags));
  killer.join();
  EXPECT_EQ(StateLock::ReadHolder(path)->pid, ::getpid());
}

TEST(StateLock, LeftoverFileOfAKilledHolderDoesNotBlock) {
  ScratchDir dir;
  std::string path = dir / "state.json.lock";
  {
    LockHolder holder(path);
    ASSERT_TRUE(holder.acquired());
  }  // SIGKILLed; its lock file stays behind
  ASSERT_TRUE(std::filesystem::exists(path));
  StateLock lock(path);
  Diagnostics diags;
  EXPECT_TRUE(lock.Acquire("apply", 0ms, diags));
}

TEST(StateLock, StaleHolderOnThisHostIsCalledOut) {
  ScratchDir dir;
  std::string path = dir / "state.json.lock";
  // A holder that is gone, but whose lock is still held (by a process it
  // started, here: this test holding the flock on another descriptor).
  pid_t dead = ::fork();
  if (dead == 0) ::_exit(0);
  ::waitpid(dead, nullptr, 0);
  char host[256] = {};
  ::gethostname(host, sizeof host - 1);
  nlohmann::json info = {{"id", "11111111-2222-4333-8444-555555555555"}, {"pid", dead},
                         {"user", "someone"}, {"host", host},
                         {"operation", "apply"}, {"since", "2026-01-01T00:00:00Z"}};
  testing::Spit(path, info.dump());
  int fd = ::open(path.c_str(), O_RDWR);
  ASSERT_EQ(::flock(fd, LOCK_EX), 0);
  StateLock lock(path);
  Diagnostics diags;
  EXPECT_FALSE(lock.Acquire("apply", 50ms, diags));
  const Diagnostic& d = diags.items()[0];
  std::string notes;
  for (const auto& n : d.notes) notes += n + "\n";
  EXPECT_NE(notes.find("no longer runs"), std::string::npos) << notes;
  EXPECT_NE(d.help.find("kiln force-unlock 11111111-2222-4333-8444-555555555555"), std::string::npos);
  // Not stolen automatically.
  EXPECT_EQ(StateLock::ReadHolder(path)->id, "11111111-2222-4333-8444-555555555555");

  Diagnostics unlock;
  EXPECT_TRUE(StateLock::ForceUnlock(path, "11111111-2222-4333-8444-555555555555", unlock));
  EXPECT_TRUE(lock.Acquire("apply", 0ms, diags));  // the old descriptor excludes no one now
  ::close(fd);
}

TEST(StateLock, ForceUnlockChecksTheId) {
  ScratchDir dir;
  std::string path = dir / "state.json.lock";
  Diagnostics diags;
  EXPECT_FALSE(StateLock::ForceUnlock(path, "nope", diags));
  EXPECT_EQ(diags.items().back().code, "E0813");

  LockHolder holder(path);
  ASSERT_TRUE(holder.acquired());
  auto info = StateLock::ReadHolder(path);
  ASSERT_TRUE(info);
  Diagnostics wrong;
  EXPECT_FALSE(StateLock::ForceUnlock(path, "00000000-0000-4000-8000-000000000000", wrong));
  EXPECT_EQ(wrong.items()[0].code, "E0814");
  EXPECT_NE(wrong.items()[0].help.find(info->id), std::string::npos);
  EXPECT_TRUE(std::filesystem::exists(path));

  Diagnostics right;
  EXPECT_TRUE(StateLock::ForceUnlock(path, info->id, right));
  EXPECT_FALSE(std::filesystem::exists(path));
  // The stuck holder still runs, but a new kiln gets the lock.
  StateLock lock(path);
  EXPECT_TRUE(lock.Acquire("apply", 0ms, diags));
}

TEST(StateLock, ManyProcessesNeverHoldItTogether) {
  // Each child takes the lock 20 times and, while holding it, checks and
  // bumps a counter file non-atomically: any overlap loses increments.
  ScratchDir dir;
  std::string path = dir / "state.json.lock";
  std::string counter = dir / "counter";
  testing::Spit(counter, "0");
  constexpr int kProcs = 4, kRounds = 20;
  std::vector<pid_t> kids;
  for (int p = 0; p < kProcs; ++p) {
    pid_t pid = ::fork();
    if (pid == 0) {
      for (int i = 0; i < kRounds; ++i) {
        StateLock lock(path);
        Diagnostics diags;
        if (!lock.Acquire("apply", 10s, diags)) ::_exit(2);
        int n = std::stoi(testing::Slurp(counter));
        std::this_thread::sleep_for(1ms);
        testing::Spit(counter, std::to_string(n + 1));
      }
      ::_exit(0);
    }
    kids.push_back(pid);
  }
  for (pid_t pid : kids) {
    int status = 0;
    ::waitpid(pid, &status, 0);
    EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
  }
  EXPECT_EQ(testing::Slurp(counter), std::to_string(kProcs * kRounds));
}

TEST(Duration, Parses) {
  std::chrono::milliseconds d;
  ASSERT_TRUE(ParseDuration("500ms", &d));
  EXPECT_EQ(d, 500ms);
  ASSERT_TRUE(ParseDuration("30s", &d));
  EXPECT_EQ(d, 30s);
  ASSERT_TRUE(ParseDuration("5m", &d));
  EXPECT_EQ(d, 5min);
  ASSERT_TRUE(ParseDuration("1h", &d));
  EXPECT_EQ(d, 1h);
  ASSERT_TRUE(ParseDuration("0", &d));
  EXPECT_EQ(d, 0ms);
  for (const char* bad : {"", "5", "s", "5x", "-1s", "1.5s"}) EXPECT_FALSE(ParseDuration(bad, &d)) << bad;
}

}  // namespace
}  // namespace kiln::state
