// SIGKILL a process that is saving state from many threads, at seeded
// moments: the file must always be readable, keep every acknowledged write,
// and leave no temp files behind that matter.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <random>
#include <set>
#include <thread>

#include "planner/state/state.h"
#include "state_test_util.h"

namespace kiln::state {
namespace {

using testing::ScratchDir;

TEST(StateCrash, KillDuringConcurrentSavesLosesNothingAcknowledged) {
  std::mt19937 rng(20261126);
  size_t total_acked = 0;
  for (int round = 0; round < 12; ++round) {
    SCOPED_TRACE("round " + std::to_string(round));
    ScratchDir dir;
    std::string path = dir / ".kiln/state.json";
    int fds[2];
    ASSERT_EQ(::pipe(fds), 0);
    pid_t pid = ::fork();
    if (pid == 0) {
      ::close(fds[0]);
      StateStore store(path);
      State s;
      Diagnostics diags;
      if (!store.Load(&s, diags)) ::_exit(3);
      std::mutex pipe_mu;
      std::vector<std::thread> threads;
      for (int t = 0; t < 8; ++t) {
        threads.emplace_back([&, t] {
          for (int i = 0;; ++i) {
            std::string address = "job.t" + std::to_string(t) + "_" + std::to_string(i);
            ResourceState r;
            r.address = address;
            r.kind = "job";
            r.name = address.substr(4);
            r.provider = "provider.local";
            r.attributes = {{"payload", std::string(200, 'x')}, {"i", i}};
            Diagnostics d;
            if (!store.Update([&](State& st) { st.Upsert(r); }, d)) ::_exit(4);
            std::string line = address + "\n";
            std::lock_guard<std::mutex> lock(pipe_mu);
            (void)!::write(fds[1], line.data(), line.size());  // acknowledged
          }
        });
      }
      for (auto& th : threads) th.join();
      ::_exit(0);
    }
    ::close(fds[1]);
    std::this_thread::sleep_for(std::chrono::milliseconds(20 + rng() % 200));
    ::kill(pid, SIGKILL);
    int status = 0;
    ::waitpid(pid, &status, 0);
    ASSERT_TRUE(WIFSIGNALED(status)) << "child exited by itself: " << WEXITSTATUS(status);
    std::string acked;
    char buf[4096];
    ssize_t n;
    while ((n = ::read(fds[0], buf, sizeof buf)) > 0) acked.append(buf, static_cast<size_t>(n));
    ::close(fds[0]);

    StateStore store(path);
    State s;
    Diagnostics diags;
    if (acked.empty() && !store.Exists()) continue;  // killed before the first write
    ASSERT_TRUE(store.Load(&s, diags)) << (diags.empty() ? "" : diags.items()[0].message);
    size_t count = 0;
    for (size_t pos = 0, end; (end = acked.find('\n', pos)) != std::string::npos; pos = end + 1) {
      std::string address = acked.substr(pos, end - pos);
      EXPECT_NE(s.Find(address), nullptr) << address << " was acknowledged but is not in state";
      ++count;
    }
    EXPECT_GE(s.resources.size(), count);
    total_acked += count;
    if (std::filesystem::exists(store.backup_path())) {
      State backup;
      Diagnostics bd;
      EXPECT_TRUE(ParseState(testing::Slurp(store.backup_path()), "backup", "", &backup, bd));
      EXPECT_LE(backup.serial, s.serial);
    }
    // The next writer carries on normally; temp files of the dead writer are gone.
    EXPECT_TRUE(store.Update([](State& st) { st.outputs["after_crash"] = OutputState{true, false, "", {}, {}}; }, diags));
    for (const std::string& f : dir.Files()) EXPECT_EQ(f.find(".tmp-"), std::string::npos) << f << " (child " << pid << ")";
  }
  EXPECT_GT(total_acked, 100u) << "the kills came too early to test anything";
  std::printf("acknowledged writes checked across rounds: %zu\n", total_acked);
}

}  // namespace
}  // namespace kiln::state
