// StateStore against the real filesystem: atomic writes, backups, modes,
// serial and lineage rules, corrupt files, concurrent saves, the key file.
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <thread>

#include "planner/state/state.h"
#include "state_test_util.h"

namespace kiln::state {
namespace {

using nlohmann::json;
using testing::FileMode;
using testing::ScratchDir;
using testing::Slurp;
using testing::Spit;

ResourceState Res(const std::string& address, json attrs = json::object()) {
  ResourceState r;
  r.address = address;
  r.kind = address.substr(0, address.find('.'));
  r.name = address.substr(address.find('.') + 1);
  r.provider = "provider.local";
  r.provider_type = "local";
  r.attributes = std::move(attrs);
  return r;
}

TEST(StateStore, MissingFileIsAnEmptyStateWithFreshLineageAndWritesNothing) {
  ScratchDir dir;
  StateStore store(dir / ".kiln/state.json");
  State s;
  Diagnostics diags;
  ASSERT_TRUE(store.Load(&s, diags));
  EXPECT_TRUE(diags.empty());
  EXPECT_EQ(s.serial, 0);
  EXPECT_EQ(s.lineage.size(), 36u);
  EXPECT_TRUE(s.resources.empty());
  EXPECT_FALSE(store.Exists());
  EXPECT_TRUE(dir.Files().empty());
  StateStore other(dir / ".kiln/state.json");
  State s2;
  ASSERT_TRUE(other.Load(&s2, diags));
  EXPECT_NE(s.lineage, s2.lineage);
}

TEST(StateStore, SaveIsAtomicMode0600AndLeavesNoTempFiles) {
  ScratchDir dir;
  ::umask(022);
  StateStore store(dir / ".kiln/state.json");
  State s;
  Diagnostics diags;
  ASSERT_TRUE(store.Load(&s, diags));
  s.Upsert(Res("endpoint.chat", {{"id", "1"}}));
  ASSERT_TRUE(store.Save(s, diags)) << diags.items()[0].message;
  EXPECT_EQ(FileMode(store.path()), 0600);
  // No temp file, no key needed; the version is kept in history/ (a link).
  EXPECT_EQ(dir.Files(), (std::vector<std::string>{".kiln/history/log.jsonl", ".kiln/history/state.1.json",
                                                   ".kiln/state.json"}));

  s.Upsert(Res("endpoint.two", {{"id", "2"}}));
  ASSERT_TRUE(store.Save(s, diags));
  EXPECT_EQ(dir.Files(), (std::vector<std::string>{".kiln/history/log.jsonl", ".kiln/history/state.1.json",
                                                   ".kiln/history/state.2.json", ".kiln/state.json",
                                                   ".kiln/state.json.backup"}));
  EXPECT_EQ(FileMode(store.backup_path()), 0600);
  EXPECT_EQ(FileMode(dir / ".kiln/history/state.1.json"), 0600);

  State reread;
  StateStore again(store.path());
  ASSERT_TRUE(again.Load(&reread, diags));
  EXPECT_EQ(reread.serial, 2);
  EXPECT_EQ(reread.lineage, s.lineage);
  EXPECT_EQ(reread.Addresses(), (std::vector<std::string>{"endpoint.chat", "endpoint.two"}));
  State backup;
  ASSERT_TRUE(ParseState(Slurp(store.backup_path()), "b", "", &backup, diags));
  EXPECT_EQ(backup.serial, 1);
  EXPECT_EQ(backup.Addresses(), (std::vector<std::string>{"endpoint.chat"}));
}

TEST(StateStore, SerialOnlyMovesWhenContentChanges) {
  ScratchDir dir;
  StateStore store(dir / "state.json");
  State s;
  Diagnostics diags;
  ASSERT_TRUE(store.Load(&s, diags));
  s.Upsert(Res("a.b"));
  ASSERT_TRUE(store.Save(s, diags));
  EXPECT_EQ(store.Current().serial, 1);
  std::string before = Slurp(store.path());
  struct stat st1;
  ::stat(store.path().c_str(), &st1);

  s.serial = 12345;          // ignored: the store owns the serial
  s.kiln_version = "0.0.1";  // not content
  ASSERT_TRUE(store.Save(s, diags));
  EXPECT_EQ(store.Current().serial, 1);
  struct stat st2;
  ::stat(store.path().c_str(), &st2);
  EXPECT_EQ(st1.st_ino, st2.st_ino);  // not rewritten
  EXPECT_EQ(Slurp(store.path()), before);
  EXPECT_FALSE(std::filesystem::exists(store.backup_path()));

  s.outputs["url"] = OutputState{"http://x", false, "", {}, {}};
  ASSERT_TRUE(store.Save(s, diags));
  EXPECT_EQ(store.Current().serial, 2);
  ASSERT_TRUE(store.Update([](State& st) { st.outputs["url"].value = "http://y"; }, diags));
  EXPECT_EQ(store.Current().serial, 3);
  ASSERT_TRUE(store.Update([](State&) {}, diags));
  EXPECT_EQ(store.Current().serial, 3);

  // A fresh store continues from the file's serial; lineage is kept.
  StateStore next(store.path());
  State t;
  ASSERT_TRUE(next.Load(&t, diags));
  EXPECT_EQ(t.serial, 3);
  EXPECT_EQ(t.lineage, s.lineage);
  t.Remove("a.b");
  ASSERT_TRUE(next.Save(t, diags));
  EXPECT_EQ(next.Current().serial, 4);
  EXPECT_EQ(next.Current().kiln_version, KILN_VERSION);
}

TEST(StateStore, CorruptFilesAreNeverOverwritten) {
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"truncated", "{\"version\": 1, \"serial\": 3, \"lineage\": \"x\", \"resou"},
      {"wrong version", R"({"version": 7, "serial": 1, "lineage": "x"})"},
      {"not an object", "\"just a string\""},
      {"binary", std::string("\x00\x01\x02\x03\xff\xfe", 6)},
  };
  for (const auto& [what, text] : cases) {
    SCOPED_TRACE(what);
    ScratchDir dir;
    std::string path = dir / ".kiln/state.json";
    Spit(path, text);
    Spit(path + ".backup", "{}");
    StateStore store(path);
    State s;
    Diagnostics diags;
    EXPECT_FALSE(store.Load(&s, diags));
    ASSERT_TRUE(diags.HasErrors());
    EXPECT_NE(diags.items()[0].message.find(path), std::string::npos);
    EXPECT_NE(diags.items()[0].notes.back().find(path + ".backup"), std::string::npos);
    Diagnostics save_diags;
    s.Upsert(Res("a.b"));
    EXPECT_FALSE(store.Save(s, save_diags));
    ASSERT_TRUE(save_diags.HasErrors());
    EXPECT_EQ(save_diags.items()[0].code, "E0806");
    EXPECT_EQ(Slurp(path), text);
    EXPECT_EQ(Slurp(path + ".backup"), "{}");
    EXPECT_EQ(dir.Files(), (std::vector<std::string>{".kiln/state.json", ".kiln/state.json.backup"}));
  }
}

TEST(StateStore, UnreadableFileIsAnError) {
  // A directory where the file should be: open() works, read() fails
  // (EISDIR), even for root, whom permissions would not stop.
  ScratchDir dir;
  std::string path = dir / "state.json";
  std::filesystem::create_directories(path);
  StateStore store(path);
  State s;
  Diagnostics diags;
  EXPECT_FALSE(store.Load(&s, diags));
  EXPECT_EQ(diags.items()[0].code, "E0800");
  EXPECT_NE(diags.items()[0].message.find(path), std::string::npos);
  Diagnostics save;
  EXPECT_FALSE(store.Save(s, save));
  EXPECT_EQ(save.items()[0].code, "E0806");
}

TEST(StateStore, RefusesToOverwriteAFileChangedBehindItsBack) {
  ScratchDir dir;
  StateStore store(dir / "state.json");
  State s;
  Diagnostics diags;
  ASSERT_TRUE(store.Load(&s, diags));
  s.Upsert(Res("a.b"));
  ASSERT_TRUE(store.Save(s, diags));

  StateStore intruder(store.path());
  State t;
  ASSERT_TRUE(intruder.Load(&t, diags));
  t.Upsert(Res("c.d"));
  ASSERT_TRUE(intruder.Save(t, diags));
  std::string theirs = Slurp(store.path());

  s.Upsert(Res("e.f"));
  Diagnostics d2;
  EXPECT_FALSE(store.Save(s, d2));
  ASSERT_TRUE(d2.HasErrors());
  EXPECT_EQ(d2.items()[0].code, "E0805");
  EXPECT_EQ(Slurp(store.path()), theirs);

  // Another process creating the file after we found none is caught too.
  ScratchDir dir2;
  StateStore a(dir2 / "state.json"), b(dir2 / "state.json");
  State sa, sb;
  ASSERT_TRUE(a.Load(&sa, diags));
  ASSERT_TRUE(b.Load(&sb, diags));
  ASSERT_TRUE(b.Save(sb, diags));
  Diagnostics d3;
  EXPECT_FALSE(a.Save(sa, d3));
  EXPECT_EQ(d3.items()[0].code, "E0805");
}

TEST(StateStore, ConcurrentUpdatesAllLandAndFileStaysValid) {
  ScratchDir dir;
  StateStore store(dir / "state.json");
  State s;
  Diagnostics diags;
  ASSERT_TRUE(store.Load(&s, diags));
  constexpr int kThreads = 16, kEach = 25;
  std::vector<std::thread> threads;
  std::atomic<int> failures{0};
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kEach; ++i) {
        Diagnostics d;
        std::string address = "job.t" + std::to_string(t) + "_" + std::to_string(i);
        if (!store.Update([&](State& st) { st.Upsert(Res(address, {{"i", i}})); }, d)) ++failures;
        // Durable on return: a fresh reader sees it.
        State check;
        Diagnostics cd;
        StateStore reader(store.path());
        if (!reader.Load(&check, cd) || check.Find(address) == nullptr) ++failures;
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(failures.load(), 0);
  State final_state;
  StateStore reader(store.path());
  ASSERT_TRUE(reader.Load(&final_state, diags));
  EXPECT_EQ(final_state.resources.size(), size_t{kThreads * kEach});
  EXPECT_GE(final_state.serial, 1);
  EXPECT_LE(final_state.serial, kThreads * kEach);  // group commit may batch
  std::vector<std::string> files;
  for (const std::string& f : dir.Files())
    if (f.rfind("history/", 0) != 0) files.push_back(f);  // the versions kept
  EXPECT_EQ(files, (std::vector<std::string>{"state.json", "state.json.backup"}));
}

TEST(StateStore, SensitiveKeyFileIsCreatedAndChecked) {
  ScratchDir dir;
  std::string path = dir / ".kiln/state.json";
  StateStore store(path);
  State s;
  Diagnostics diags;
  ASSERT_TRUE(store.Load(&s, diags));
  Redacted r = RedactForState({{"password", "hunter2"}}, {{"password"}}, store.hasher());
  ResourceState res = Res("db.main", r.attributes);
  res.sensitive_hashes = r.hashes;
  s.Upsert(res);
  ASSERT_TRUE(store.Save(s, diags));
  EXPECT_EQ(FileMode(store.key_path()), 0600);
  EXPECT_EQ(Slurp(path).find("hunter2"), std::string::npos);
  EXPECT_EQ(store.Current().hash_key_id, store.hasher().KeyId());

  StateStore again(path);
  State t;
  Diagnostics d2;
  ASSERT_TRUE(again.Load(&t, d2));
  EXPECT_TRUE(d2.empty());
  EXPECT_TRUE(again.key_matches());
  EXPECT_TRUE(again.hasher().Same("hunter2", t.Find("db.main")->sensitive_hashes.at("/password")));

  ::unlink(store.key_path().c_str());
  StateStore lost(path);
  Diagnostics d3;
  ASSERT_TRUE(lost.Load(&t, d3));
  ASSERT_EQ(d3.size(), 1u);
  EXPECT_EQ(d3.items()[0].code, "W0808");
  EXPECT_FALSE(d3.HasErrors());
  EXPECT_FALSE(lost.key_matches());
}

TEST(StateStore, BackupCopyIsTimestampedAndUnique) {
  ScratchDir dir;
  StateStore store(dir / "state.json");
  State s;
  Diagnostics diags;
  ASSERT_TRUE(store.Load(&s, diags));
  s.Upsert(Res("a.b"));
  ASSERT_TRUE(store.Save(s, diags));
  std::string b1 = store.BackupCopy(diags);
  std::string b2 = store.BackupCopy(diags);
  ASSERT_FALSE(b1.empty());
  ASSERT_FALSE(b2.empty());
  EXPECT_NE(b1, b2);
  EXPECT_EQ(Slurp(b1), Slurp(store.path()));
  EXPECT_EQ(FileMode(b1), 0600);
  EXPECT_EQ(b1.rfind(".backup"), b1.size() - 7);
}

}  // namespace
}  // namespace kiln::state
