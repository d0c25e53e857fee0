// The intent journal: pending creates survive a crash, torn lines are
// recovered from, compaction.
#include <gtest/gtest.h>

#include <atomic>
#include <thread>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include "planner/state/state.h"
#include "state_test_util.h"

namespace kiln::state {
namespace {

using testing::ScratchDir;
using testing::Slurp;
using testing::Spit;

JournalEntry Entry(const std::string& address) {
  return JournalEntry{address, "training_job", "provider.local", "local", ""};
}

std::vector<std::string> PendingAddresses(const Journal& j, Diagnostics& diags) {
  std::vector<std::string> out;
  for (const JournalEntry& e : j.Pending(diags)) out.push_back(e.address);
  return out;
}

TEST(Journal, BeginWithoutCompleteIsPending) {
  ScratchDir dir;
  Journal j(dir / ".kiln/state.json.journal");
  Diagnostics diags;
  EXPECT_TRUE(j.Pending(diags).empty());  // no file yet
  ASSERT_TRUE(j.BeginCreate(Entry("training_job.b"), diags));
  ASSERT_TRUE(j.BeginCreate(Entry("training_job.a"), diags));
  ASSERT_TRUE(j.BeginCreate(Entry("training_job.c"), diags));
  ASSERT_TRUE(j.Complete("training_job.b", diags));
  EXPECT_EQ(PendingAddresses(j, diags), (std::vector<std::string>{"training_job.a", "training_job.c"}));
  auto pending = j.Pending(diags);
  EXPECT_EQ(pending[0].kind, "training_job");
  EXPECT_EQ(pending[0].provider, "provider.local");
  EXPECT_EQ(pending[0].provider_type, "local");
  EXPECT_EQ(pending[0].started.size(), 20u);
  EXPECT_EQ(testing::FileMode(j.path()), 0600);
  // A retry of a failed create begins again; one completion resolves it.
  ASSERT_TRUE(j.BeginCreate(Entry("training_job.a"), diags));
  ASSERT_TRUE(j.Complete("training_job.a", diags));
  EXPECT_EQ(PendingAddresses(j, diags), (std::vector<std::string>{"training_job.c"}));
  EXPECT_TRUE(diags.empty());
}

TEST(Journal, SurvivesSigkillOfTheWriter) {
  ScratchDir dir;
  std::string path = dir / "state.json.journal";
  int fds[2];
  ASSERT_EQ(::pipe(fds), 0);
  pid_t pid = ::fork();
  if (pid == 0) {
    Journal j(path);
    Diagnostics diags;
    j.BeginCreate(Entry("training_job.done"), diags);
    j.Complete("training_job.done", diags);
    j.BeginCreate(Entry("training_job.in_flight"), diags);
    (void)!::write(fds[1], "x", 1);
    while (true) ::pause();  // "sending the create" when the kill comes
  }
  char c;
  ASSERT_EQ(::read(fds[0], &c, 1), 1);
  ::kill(pid, SIGKILL);
  ::waitpid(pid, nullptr, 0);
  Journal j(path);
  Diagnostics diags;
  EXPECT_EQ(PendingAddresses(j, diags), (std::vector<std::string>{"training_job.in_flight"}));
}

TEST(Journal, TornLastLineIsIgnoredAndCutBeforeTheNextAppend) {
  ScratchDir dir;
  std::string path = dir / "state.json.journal";
  {
    Journal j(path);
    Diagnostics diags;
    ASSERT_TRUE(j.BeginCreate(Entry("training_job.a"), diags));
  }
  std::string good = Slurp(path);
  Spit(path, good + R"({"op":"begin","address":"training_job.torn","ki)");
  Journal j(path);
  Diagnostics diags;
  EXPECT_EQ(PendingAddresses(j, diags), (std::vector<std::string>{"training_job.a"}));
  EXPECT_TRUE(diags.empty());
  ASSERT_TRUE(j.BeginCreate(Entry("training_job.b"), diags));
  std::string text = Slurp(path);
  EXPECT_EQ(text.find("torn"), std::string::npos);
  EXPECT_EQ(text.rfind(good, 0), 0u);
  EXPECT_EQ(PendingAddresses(j, diags), (std::vector<std::string>{"training_job.a", "training_job.b"}));
  EXPECT_TRUE(diags.empty());
}

TEST(Journal, GarbageInTheMiddleIsAWarningNotAFailure) {
  ScratchDir dir;
  std::string path = dir / "state.json.journal";
  Spit(path,
       "{\"op\":\"begin\",\"address\":\"x.a\",\"kind\":\"x\"}\n"
       "\x01\x02 not json\n"
       "{\"op\":\"begin\",\"address\":\"x.b\",\"kind\":\"x\"}\n");
  Journal j(path);
  Diagnostics diags;
  EXPECT_EQ(PendingAddresses(j, diags), (std::vector<std::string>{"x.a", "x.b"}));
  ASSERT_EQ(diags.size(), 1u);
  EXPECT_EQ(diags.items()[0].code, "W0820");
  EXPECT_NE(diags.items()[0].message.find("line 2"), std::string::npos);
  EXPECT_FALSE(diags.HasErrors());
}

TEST(Journal, CompactKeepsOnlyPendingAndEmptiesWhenResolved) {
  ScratchDir dir;
  Journal j(dir / "state.json.journal");
  Diagnostics diags;
  for (int i = 0; i < 10; ++i) {
    ASSERT_TRUE(j.BeginCreate(Entry("x.r" + std::to_string(i)), diags));
    if (i != 4) {
      ASSERT_TRUE(j.Complete("x.r" + std::to_string(i), diags));
    }
  }
  ASSERT_TRUE(j.Compact(diags));
  std::string text = Slurp(j.path());
  EXPECT_EQ(std::count(text.begin(), text.end(), '\n'), 1);
  EXPECT_EQ(PendingAddresses(j, diags), (std::vector<std::string>{"x.r4"}));
  // Appends after a compaction go to the new file.
  ASSERT_TRUE(j.Complete("x.r4", diags));
  EXPECT_TRUE(j.Pending(diags).empty());
  ASSERT_TRUE(j.Compact(diags));
  EXPECT_EQ(Slurp(j.path()), "");
  EXPECT_TRUE(diags.empty());
}

TEST(Journal, ConcurrentAppendsStayWholeLines) {
  ScratchDir dir;
  Journal j(dir / "state.json.journal");
  std::vector<std::thread> threads;
  for (int t = 0; t < 8; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 20; ++i) {
        Diagnostics d;
        std::string a = "x.t" + std::to_string(t) + "_" + std::to_string(i);
        j.BeginCreate(Entry(a), d);
        if (i % 2 == 0) j.Complete(a, d);
      }
    });
  }
  for (auto& th : threads) th.join();
  Diagnostics diags;
  EXPECT_EQ(j.Pending(diags).size(), 80u);
  EXPECT_TRUE(diags.empty());
}


// Group commit: BeginCreates from many threads share syncs while another
// thread compacts (which replaces the file under them); every begin that
// returned true is still pending afterwards, every completed one is not.
TEST(Journal, GroupCommitSurvivesConcurrentCompaction) {
  ScratchDir dir;
  Journal j(dir / "state.json.journal");
  std::atomic<bool> done{false};
  std::atomic<int> failures{0};
  std::thread compactor([&] {
    while (!done) {
      Diagnostics d;
      if (!j.Compact(d)) ++failures;
    }
  });
  std::vector<std::thread> threads;
  for (int t = 0; t < 16; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 25; ++i) {
        Diagnostics d;
        std::string a = "x.t" + std::to_string(t) + "_" + std::to_string(i);
        if (!j.BeginCreate(Entry(a), d)) ++failures;
        if (i % 5 != 0 && !j.Complete(a, d)) ++failures;
      }
    });
  }
  for (auto& th : threads) th.join();
  done = true;
  compactor.join();
  EXPECT_EQ(failures.load(), 0);
  Diagnostics diags;
  auto pending = j.Pending(diags);
  EXPECT_TRUE(diags.empty());
  ASSERT_EQ(pending.size(), 16u * 5u);
  for (const auto& e : pending) {
    auto us = e.address.rfind('_');
    EXPECT_EQ(std::stoi(e.address.substr(us + 1)) % 5, 0) << e.address;
  }
  // A fresh reader (another process after a crash) sees the same.
  Journal again(dir / "state.json.journal");
  EXPECT_EQ(again.Pending(diags).size(), 16u * 5u);
}

}  // namespace
}  // namespace kiln::state

namespace kiln::state {
namespace {

TEST(Journal, AnnouncedIntentIsPendingAndBecomesDurableOnWait) {
  ScratchDir dir;
  Journal j(dir / ".kiln/state.json.journal");
  Diagnostics diags;
  uint64_t a = j.Announce(Entry("training_job.a"), diags);
  uint64_t b = j.Announce(Entry("training_job.b"), diags);
  ASSERT_GT(a, 0u);
  EXPECT_EQ(b, a + 1);
  // Written at once (a kill -9 now keeps it: the page cache survives the
  // process), durable once waited for.
  EXPECT_EQ(PendingAddresses(j, diags), (std::vector<std::string>{"training_job.a", "training_job.b"}));
  EXPECT_TRUE(j.WaitDurable(b, diags));
  EXPECT_TRUE(j.WaitDurable(a, diags));  // already covered: returns at once
  EXPECT_TRUE(j.Sync(diags));
  // An announced create never sent is closed like any other.
  ASSERT_TRUE(j.Complete("training_job.b", diags));
  EXPECT_EQ(PendingAddresses(j, diags), (std::vector<std::string>{"training_job.a"}));
  EXPECT_TRUE(diags.empty());
}

}  // namespace
}  // namespace kiln::state
