// The PostgreSQL state backend against a real server (tests/postgres/run.sh
// starts it): the store's compare-and-swap and history, the errors a user
// meets (unreachable, wrong password, foreign schema, newer kiln), and real
// kiln processes racing, killed with SIGKILL and losing their server in the
// middle of an apply (the fake provider keeps its objects as files).
#include <fcntl.h>
#include <gtest/gtest.h>
#include <libpq-fe.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <random>
#include <sstream>
#include <thread>

#include "planner/state/state.h"

namespace kiln::state {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

std::string Env(const char* name) {
  const char* v = std::getenv(name);
  return v ? v : "";
}

std::string ReadAll(const fs::path& p) {
  std::ifstream in(p);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// A fresh schema name per test, so tests never see each other's tables.
std::string FreshSchema() {
  static std::mt19937_64 rng(std::random_device{}());
  return "t_" + std::to_string(rng() % 1000000000);
}

// Runs one SQL statement as the superuser; returns the first value.
std::string Sql(const std::string& sql) {
  PGconn* c = PQconnectdb(Env("KILN_TEST_PG_CONN").c_str());
  EXPECT_EQ(PQstatus(c), CONNECTION_OK) << PQerrorMessage(c);
  PGresult* r = PQexec(c, sql.c_str());
  EXPECT_TRUE(PQresultStatus(r) == PGRES_COMMAND_OK || PQresultStatus(r) == PGRES_TUPLES_OK)
      << sql << ": " << PQresultErrorMessage(r);
  std::string out = PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) > 0 ? PQgetvalue(r, 0, 0) : "";
  PQclear(r);
  PQfinish(c);
  return out;
}

ResourceState Thing(const std::string& name) {
  ResourceState r;
  r.address = "fake.thing." + name;
  r.kind = "fake.thing";
  r.name = name;
  r.provider = "provider.fake.f";
  r.provider_type = "fake";
  r.attributes = {{"id", name}};
  return r;
}

class PostgresTest : public ::testing::Test {
 protected:
  void SetUp() override {
    conn_ = Env("KILN_TEST_PG_CONN");
    if (conn_.empty()) GTEST_FAIL() << "run through tests/postgres/run.sh (KILN_TEST_PG_CONN is not set)";
    schema_ = FreshSchema();
  }
  std::unique_ptr<StateStore> Open(const std::string& workspace = "default") {
    Diagnostics d;
    auto backend = OpenPostgresBackend(conn_, schema_, workspace, 0, d);
    EXPECT_TRUE(backend) << (d.empty() ? "" : d.items()[0].message);
    if (!backend) return nullptr;
    return std::make_unique<StateStore>(std::move(backend));
  }
  std::string conn_, schema_;
};

TEST_F(PostgresTest, SavesLoadsAndKeepsEveryVersionInHistory) {
  auto store = Open();
  ASSERT_TRUE(store);
  State s;
  Diagnostics d;
  ASSERT_TRUE(store->Load(&s, d));
  EXPECT_FALSE(store->Exists());
  s.Upsert(Thing("a"));
  ASSERT_TRUE(store->Save(s, d));
  s.Upsert(Thing("b"));
  ASSERT_TRUE(store->Save(s, d));
  ASSERT_TRUE(store->Save(s, d));  // nothing changed: no new version
  EXPECT_EQ(store->Current().serial, 2);

  auto again = Open();
  State loaded;
  ASSERT_TRUE(again->Load(&loaded, d));
  EXPECT_EQ(loaded.serial, 2);
  EXPECT_EQ(loaded.lineage, s.lineage);
  EXPECT_EQ(loaded.Addresses(), (std::vector<std::string>{"fake.thing.a", "fake.thing.b"}));
  std::vector<HistoryEntry> history;
  ASSERT_TRUE(again->backend().History(&history, d));
  ASSERT_EQ(history.size(), 2u);
  EXPECT_EQ(history[0].serial, 1);
  EXPECT_EQ(history[1].serial, 2);
  EXPECT_EQ(history[0].operation, "apply");
  EXPECT_NE(history[0].who.find('@'), std::string::npos);
  std::string text;
  ASSERT_TRUE(again->backend().ReadVersion(1, &text, d));
  State v1;
  ASSERT_TRUE(ParseState(text, "v1", "", &v1, d));
  EXPECT_EQ(v1.Addresses(), (std::vector<std::string>{"fake.thing.a"}));
  EXPECT_FALSE(again->backend().ReadVersion(9, &text, d));
  EXPECT_EQ(d.items().back().code, "E0835");
}

TEST_F(PostgresTest, AWriteFromAStaleSerialIsRefusedAndLosesNothing) {
  auto first = Open();
  auto second = Open();
  State a, b;
  Diagnostics d;
  ASSERT_TRUE(first->Load(&a, d));
  a.Upsert(Thing("a"));
  ASSERT_TRUE(first->Save(a, d));  // serial 1
  ASSERT_TRUE(second->Load(&b, d));  // reads serial 1
  a.Upsert(Thing("a2"));
  ASSERT_TRUE(first->Save(a, d));  // serial 2
  b.Upsert(Thing("b"));
  Diagnostics stale;
  EXPECT_FALSE(second->Save(b, stale));  // based on serial 1: refused
  ASSERT_TRUE(stale.HasErrors());
  EXPECT_EQ(stale.items()[0].code, "E0805");
  EXPECT_NE(stale.items()[0].message.find("is at serial 2, but this kiln read serial 1"), std::string::npos)
      << stale.items()[0].message;
  State now;
  auto third = Open();
  ASSERT_TRUE(third->Load(&now, d));
  EXPECT_EQ(now.serial, 2);
  EXPECT_EQ(now.Addresses(), (std::vector<std::string>{"fake.thing.a", "fake.thing.a2"}));

  // Two first writers of a new workspace: only one creates it.
  auto x = Open("fresh");
  auto y = Open("fresh");
  State sx, sy;
  ASSERT_TRUE(x->Load(&sx, d));
  ASSERT_TRUE(y->Load(&sy, d));
  sx.Upsert(Thing("x"));
  sy.Upsert(Thing("y"));
  ASSERT_TRUE(x->Save(sx, d));
  Diagnostics lost;
  EXPECT_FALSE(y->Save(sy, lost));
  ASSERT_TRUE(lost.HasErrors());
  EXPECT_NE(lost.items()[0].message.find("this kiln read no state"), std::string::npos) << lost.items()[0].message;
}

TEST_F(PostgresTest, SensitiveValuesAreStoredOnlyAsKeyedHashes) {
  auto store = Open();
  State s;
  Diagnostics d;
  ASSERT_TRUE(store->Load(&s, d));
  ResourceState r = Thing("secret");
  Redacted red = RedactForState(json{{"id", "x"}, {"token", "hf_s3cret_value"}}, {{"token"}}, store->hasher());
  r.attributes = red.attributes;
  r.sensitive_hashes = red.hashes;
  s.Upsert(r);
  ASSERT_TRUE(store->Save(s, d));
  EXPECT_EQ(Sql("SELECT count(*) FROM " + schema_ + ".history WHERE body LIKE '%hf_s3cret_value%'"), "0");
  EXPECT_EQ(Sql("SELECT count(*) FROM " + schema_ + ".states WHERE body LIKE '%hmac-sha256:%'"), "1");
  // The key is kept beside the state (in its own table): a second kiln
  // compares the value with the same hash.
  auto again = Open();
  State loaded;
  ASSERT_TRUE(again->Load(&loaded, d));
  EXPECT_TRUE(again->key_matches());
  EXPECT_TRUE(again->hasher().Same("hf_s3cret_value", loaded.Find("fake.thing.secret")->sensitive_hashes.at("/token")));
}

TEST_F(PostgresTest, ClearErrorsForUnreachableServerWrongPasswordForeignSchemaAndNewerKiln) {
  Diagnostics d;
  // No server on this socket directory.
  fs::path empty = fs::temp_directory_path() / ("kiln-nopg-" + schema_);
  fs::create_directories(empty);
  EXPECT_FALSE(OpenPostgresBackend("host=" + empty.string() + " user=kiln dbname=postgres", schema_, "default", 0, d));
  ASSERT_TRUE(d.HasErrors());
  EXPECT_EQ(d.items().back().code, "E0840");
  EXPECT_NE(d.items().back().message.find("cannot reach PostgreSQL at " + empty.string()), std::string::npos)
      << d.items().back().message;
  fs::remove_all(empty);

  Diagnostics pw;
  std::string base = conn_.substr(0, conn_.find(" user="));
  EXPECT_FALSE(OpenPostgresBackend(base + " user=kiln_pw password=wrong dbname=postgres", schema_, "default", 0, pw));
  ASSERT_TRUE(pw.HasErrors());
  EXPECT_EQ(pw.items().back().code, "E0841");
  EXPECT_NE(pw.items().back().message.find("refused the credentials"), std::string::npos) << pw.items().back().message;
  EXPECT_EQ(pw.items().back().message.find("wrong"), std::string::npos) << "the password must not be shown";
  Diagnostics right;
  EXPECT_TRUE(OpenPostgresBackend(base + " user=kiln_pw password=right-password dbname=postgres", schema_ + "_pw",
                                  "default", 0, right))
      << (right.empty() ? "" : right.items()[0].message);

  Sql("CREATE SCHEMA foreign_" + schema_);
  Sql("CREATE TABLE foreign_" + schema_ + ".customers (id int)");
  Diagnostics foreign;
  EXPECT_FALSE(OpenPostgresBackend(conn_, "foreign_" + schema_, "default", 0, foreign));
  ASSERT_TRUE(foreign.HasErrors());
  EXPECT_EQ(foreign.items().back().code, "E0842");
  EXPECT_NE(foreign.items().back().message.find("customers"), std::string::npos) << foreign.items().back().message;
  EXPECT_EQ(Sql("SELECT count(*) FROM pg_tables WHERE schemaname = 'foreign_" + schema_ + "'"), "1");  // untouched

  // A schema set up by a newer kiln, and a state row written by one.
  auto store = Open();
  State s;
  ASSERT_TRUE(store->Load(&s, d));
  s.Upsert(Thing("a"));
  ASSERT_TRUE(store->Save(s, d));
  store.reset();
  Sql("UPDATE " + schema_ + ".states SET format_version = 99, kiln_version = '9.0.0'");
  auto newer_row = Open();
  Diagnostics row;
  State ignored;
  EXPECT_FALSE(newer_row->Load(&ignored, row));
  ASSERT_TRUE(row.HasErrors());
  EXPECT_EQ(row.items().back().code, "E0802");
  EXPECT_NE(row.items().back().message.find("written by kiln 9.0.0"), std::string::npos) << row.items().back().message;
  Diagnostics refused;
  EXPECT_FALSE(newer_row->Save(s, refused));  // never written over
  EXPECT_EQ(Sql("SELECT format_version FROM " + schema_ + ".states"), "99");
  Sql("UPDATE " + schema_ + ".kiln_meta SET value = '7' WHERE key = 'schema_version'");
  Diagnostics newer_schema;
  EXPECT_FALSE(OpenPostgresBackend(conn_, schema_, "default", 0, newer_schema));
  ASSERT_TRUE(newer_schema.HasErrors());
  EXPECT_EQ(newer_schema.items().back().code, "E0843");

  Diagnostics bad_name;
  EXPECT_FALSE(OpenPostgresBackend(conn_, "Robert'); DROP TABLE x;--", "default", 0, bad_name));
  EXPECT_EQ(bad_name.items().back().code, "E0844");
}

TEST_F(PostgresTest, TheLockIsHeldBySessionAndNamesItsHolder) {
  Diagnostics d;
  auto a = OpenPostgresBackend(conn_, schema_, "default", 0, d);
  auto b = OpenPostgresBackend(conn_, schema_, "default", 0, d);
  ASSERT_TRUE(a && b);
  ASSERT_TRUE(a->Lock("apply", std::chrono::milliseconds(0), d));
  auto t0 = std::chrono::steady_clock::now();
  Diagnostics busy;
  EXPECT_FALSE(b->Lock("apply", std::chrono::milliseconds(400), busy));
  EXPECT_GE(std::chrono::steady_clock::now() - t0, std::chrono::milliseconds(400));
  ASSERT_TRUE(busy.HasErrors());
  EXPECT_EQ(busy.items()[0].code, "E0810");
  EXPECT_NE(busy.items()[0].message.find("pid " + std::to_string(::getpid())), std::string::npos) << busy.items()[0].message;
  EXPECT_NE(busy.items()[0].message.find("operation \"apply\""), std::string::npos);
  // Another workspace is another lock.
  auto other = OpenPostgresBackend(conn_, schema_, "staging", 0, d);
  EXPECT_TRUE(other->Lock("apply", std::chrono::milliseconds(0), d));
  a->Unlock();
  EXPECT_TRUE(b->Lock("apply", std::chrono::milliseconds(0), d));
  EXPECT_FALSE(a->Holder() == std::nullopt);
  // force-unlock ends the holder's session.
  std::string id = b->Holder()->id;
  Diagnostics wrong;
  EXPECT_FALSE(a->ForceUnlock("not-the-id", wrong));
  EXPECT_EQ(wrong.items()[0].code, "E0814");
  ASSERT_TRUE(a->ForceUnlock(id, d)) << (d.empty() ? "" : d.items().back().message);
  EXPECT_TRUE(a->Lock("apply", std::chrono::milliseconds(2000), d));
}

// ---- Real kiln processes ----

class PostgresCliTest : public PostgresTest {
 protected:
  void SetUp() override {
    PostgresTest::SetUp();
    dir_ = fs::temp_directory_path() / ("kiln-pg-cli-" + schema_);
    fs::create_directories(dir_);
    std::string s = "backend postgres {\n  conn = env(\"KILN_PG_CONN\")\n  schema = \"" + schema_ + "\"\n}\n\n";
    s += "provider fake f {\n  dir = \"" + (dir_ / "objects").string() + "\"\n}\n";
    for (int i = 0; i < 6; ++i)
      s += "fake.thing t" + std::to_string(i) + " {\n  name = \"t" + std::to_string(i) + "\"\n}\n";
    s += "fake.thing after {\n  name = \"after\"\n  ref = t0.id\n}\n";
    std::ofstream(dir_ / "main.kiln") << s;
  }
  void TearDown() override { fs::remove_all(dir_); }

  pid_t Start(const std::vector<std::string>& args, int latency_ms, const std::string& out_name) {
    pid_t pid = fork();
    if (pid != 0) return pid;
    if (chdir(dir_.c_str()) != 0) _exit(120);
    int out = open((dir_ / out_name).c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
    int in = open("/dev/null", O_RDONLY);
    dup2(out, 1);
    dup2(out, 2);
    dup2(in, 0);
    setenv("KILN_FAKE_LATENCY_MS", std::to_string(latency_ms).c_str(), 1);
    setenv("KILN_PG_CONN", conn_.c_str(), 1);
    setenv("NO_COLOR", "1", 1);
    std::vector<char*> argv;
    std::string bin = KILN_BINARY;
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
  // Runs kiln to the end; returns the exit code, output in *out.
  int Run(const std::vector<std::string>& args, std::string* out, int latency_ms = 0) {
    int code = Wait(Start(args, latency_ms, "run.txt"));
    *out = ReadAll(dir_ / "run.txt");
    return code;
  }
  bool WaitForOutput(const std::string& file, const std::string& text, int seconds = 20) {
    for (int i = 0; i < seconds * 20; ++i) {
      if (ReadAll(dir_ / file).find(text) != std::string::npos) return true;
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    return false;
  }
  // Objects the fake provider holds (one file each).
  size_t Objects() {
    size_t n = 0;
    if (fs::exists(dir_ / "objects"))
      for (const auto& e : fs::directory_iterator(dir_ / "objects"))
        if (e.path().extension() == ".json" && e.path().filename().string()[0] != '.') ++n;
    return n;
  }
  // After any interruption: the next apply finishes the job, then nothing
  // is left to do and every object exists exactly once.
  void ExpectConverges() {
    std::string out;
    EXPECT_EQ(Run({"apply", "--auto-approve"}, &out), 0) << out;
    EXPECT_EQ(Run({"plan", "--detailed-exitcode"}, &out), 0) << out;
    EXPECT_NE(out.find("No changes"), std::string::npos) << out;
    EXPECT_EQ(Objects(), 7u);
    EXPECT_EQ(Sql("SELECT count(*) FROM " + schema_ + ".journal"), "0");
    EXPECT_EQ(Run({"state", "list"}, &out), 0) << out;
    EXPECT_EQ(std::count(out.begin(), out.end(), '\n'), 7) << out;
  }
  fs::path dir_;
};

TEST_F(PostgresCliTest, TwoApplyingKilnsOneWinsTheOtherWaitsThenNamesTheHolder) {
  pid_t first = Start({"apply", "--auto-approve"}, 1500, "first.txt");
  ASSERT_TRUE(WaitForOutput("first.txt", "Creating...")) << ReadAll(dir_ / "first.txt");
  auto t0 = std::chrono::steady_clock::now();
  std::string out;
  int code = Run({"apply", "--auto-approve", "--lock-timeout", "1s"}, &out);
  auto waited = std::chrono::steady_clock::now() - t0;
  EXPECT_EQ(code, 1) << out;
  EXPECT_GE(waited, std::chrono::milliseconds(1000));
  EXPECT_NE(out.find("E0810"), std::string::npos) << out;
  EXPECT_NE(out.find("the state is locked by another kiln (pid " + std::to_string(first)), std::string::npos) << out;
  EXPECT_NE(out.find("operation \"apply\""), std::string::npos) << out;
  EXPECT_EQ(Wait(first), 0) << ReadAll(dir_ / "first.txt");
  EXPECT_EQ(Objects(), 7u);
  // With a long enough --lock-timeout the second one waits and then goes on.
  pid_t holder = Start({"apply", "--auto-approve", "-replace=fake.thing.t1"}, 1000, "third.txt");
  ASSERT_TRUE(WaitForOutput("third.txt", "Creating...")) << ReadAll(dir_ / "third.txt");
  EXPECT_EQ(Run({"plan", "--lock-timeout", "30s", "--detailed-exitcode"}, &out), 0) << out;
  EXPECT_EQ(Wait(holder), 0) << ReadAll(dir_ / "third.txt");
  // History: one version per state write, every serial present.
  EXPECT_EQ(Run({"state", "history"}, &out), 0) << out;
  std::string last = Sql("SELECT max(serial) FROM " + schema_ + ".history");
  EXPECT_EQ(Sql("SELECT count(DISTINCT serial) FROM " + schema_ + ".history"), last);
  EXPECT_NE(out.find("\n" + last + " "), std::string::npos) << out;
}

TEST_F(PostgresCliTest, KillNineMidApplyLosesAndDuplicatesNothingAndFreesTheLock) {
  pid_t pid = Start({"apply", "--auto-approve"}, 800, "apply.txt");
  ASSERT_TRUE(WaitForOutput("apply.txt", "Creation complete")) << ReadAll(dir_ / "apply.txt");
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  kill(pid, SIGKILL);
  Wait(pid);
  // The server ended the session: the lock is free at once.
  std::string out;
  EXPECT_EQ(Run({"state", "list"}, &out), 0) << out;
  size_t objects_before = Objects();
  EXPECT_GT(objects_before, 0u);
  ExpectConverges();
}

TEST_F(PostgresCliTest, PostgresRestartedMidApplyThenTheNextPlanIsCorrect) {
  std::string restart = Env("KILN_TEST_PG_RESTART");
  ASSERT_FALSE(restart.empty());
  pid_t pid = Start({"apply", "--auto-approve"}, 1500, "apply.txt");
  ASSERT_TRUE(WaitForOutput("apply.txt", "Creating...")) << ReadAll(dir_ / "apply.txt");
  ASSERT_EQ(std::system(restart.c_str()), 0);
  int code = Wait(pid);
  std::string out = ReadAll(dir_ / "apply.txt");
  // libpq's own line for the server's goodbye is not printed raw: kiln
  // keeps it for its error message ("the server said: ...").
  EXPECT_EQ(out.find("FATAL:"), std::string::npos) << out;
  EXPECT_EQ(out.find("\nterminating connection"), std::string::npos) << out;
  // Either it rode out the restart (reconnected, took its lock back) or it
  // failed naming the lost connection; never a crash or a silent success.
  if (code != 0) {
    EXPECT_EQ(code, 1) << out;
    EXPECT_NE(out.find("PostgreSQL"), std::string::npos) << out;
  } else {
    EXPECT_NE(out.find("Apply complete"), std::string::npos) << out;
    // Riding it out is said once, in kiln's words, with the server's reason
    // when libpq received it before the connection closed.
    size_t w = out.find("warning[W0847]: the connection to PostgreSQL at ");
    EXPECT_NE(w, std::string::npos) << out;
    EXPECT_EQ(out.find("W0847", w + 20), std::string::npos) << out;  // once
    if (out.find("terminating connection") != std::string::npos) {
      EXPECT_NE(out.find("= note: the server said: terminating connection due to administrator command"),
                std::string::npos)
          << out;
    }
  }
  ExpectConverges();
}

}  // namespace
}  // namespace kiln::state
