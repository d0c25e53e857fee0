// The PostgreSQL backend: the state, its history, the hashing key, the lock
// holder and the intent journal in tables of one schema; exclusion by a
// session advisory lock (the server frees it when kiln's session ends, even
// after kill -9). One connection, used under a mutex. See docs/state.md.
#include <libpq-fe.h>

#include <algorithm>
#include <atomic>
#include <cctype>
#include <cstring>
#include <iostream>
#include <mutex>
#include <thread>

#include "planner/state/state.h"

namespace kiln::state {

namespace {

using nlohmann::json;

constexpr int kSchemaVersion = 1;
constexpr int kLockClass = 0x4b494c4e;  // "KILN": the advisory lock's first key

struct Result {
  PGresult* res = nullptr;
  explicit Result(PGresult* r = nullptr) : res(r) {}
  Result(Result&& o) noexcept : res(o.res) { o.res = nullptr; }
  Result& operator=(Result&& o) noexcept {
    std::swap(res, o.res);
    return *this;
  }
  ~Result() {
    if (res) PQclear(res);
  }
  bool ok() const {
    ExecStatusType s = res ? PQresultStatus(res) : PGRES_FATAL_ERROR;
    return s == PGRES_COMMAND_OK || s == PGRES_TUPLES_OK;
  }
  int rows() const { return res ? PQntuples(res) : 0; }
  std::string at(int row, int col) const { return PQgetvalue(res, row, col); }
  bool null(int row, int col) const { return PQgetisnull(res, row, col) != 0; }
  int affected() const { return res ? std::atoi(PQcmdTuples(res)) : 0; }
};

std::string Trim(std::string s) {
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.pop_back();
  return s;
}

bool ValidSchemaName(const std::string& s) {
  if (s.empty() || s.size() > 63) return false;
  if (!(std::islower(static_cast<unsigned char>(s[0])) || s[0] == '_')) return false;
  return std::all_of(s.begin(), s.end(), [](char c) {
    return std::islower(static_cast<unsigned char>(c)) || std::isdigit(static_cast<unsigned char>(c)) || c == '_';
  });
}

class PgBackend;

// The journal table, through the backend's connection.
class PgJournal : public IntentJournal {
 public:
  explicit PgJournal(PgBackend* backend) : backend_(backend) {}
  bool BeginCreate(const JournalEntry& entry, Diagnostics& diags) override {
    return Announce(entry, diags) != 0;
  }
  // A committed insert is durable (synchronous_commit): nothing to wait for.
  uint64_t Announce(const JournalEntry& entry, Diagnostics& diags) override;
  bool WaitDurable(uint64_t, Diagnostics&) override { return true; }
  bool Sync(Diagnostics&) override { return true; }
  bool Complete(const std::string& address, Diagnostics& diags) override;
  std::vector<JournalEntry> Pending(Diagnostics& diags) const override;
  bool Compact(Diagnostics&) override { return true; }

 private:
  PgBackend* backend_;
  std::atomic<uint64_t> seq_{0};
};

class PgBackend : public StateBackend {
 public:
  PgBackend(std::string conninfo, std::string schema, std::string workspace)
      : conninfo_(std::move(conninfo)), schema_(std::move(schema)), workspace_(std::move(workspace)) {}
  ~PgBackend() override {
    Unlock();
    if (conn_) PQfinish(conn_);
  }

  std::string Describe() const override {
    return "PostgreSQL state (schema " + schema_ + ", workspace " + workspace_ + " on " + where_ + ")";
  }
  std::string DescribeKey() const override {
    return "the state key in " + schema_ + ".keys (workspace " + workspace_ + ")";
  }

  bool Open(Diagnostics& diags) {
    if (!ValidSchemaName(schema_)) {
      diags.Error("E0844", SourceRange{}, "`" + schema_ + "` is not a usable PostgreSQL schema name for kiln")
          .help = "use lower-case letters, digits and _ (starting with a letter or _), at most 63 characters";
      return false;
    }
    if (!Connect(diags)) return false;
    return PrepareSchema(diags);
  }

  bool ReadState(std::string* text, bool* found, Diagnostics& diags) override {
    Result r = Exec("SELECT body, format_version, kiln_version FROM " + T("states") + " WHERE workspace = $1",
                    {workspace_}, diags, "read the state");
    if (!r.ok()) return false;
    *found = r.rows() > 0;
    if (*found) {
      int format = std::atoi(r.at(0, 1).c_str());
      if (format > kStateFormatVersion) {
        Diagnostic& d = diags.Error("E0802", SourceRange{},
                                    "the " + Describe() + " was written by kiln " + r.at(0, 2) +
                                        " in state format " + std::to_string(format) + "; this kiln reads up to " +
                                        std::to_string(kStateFormatVersion));
        d.help = "use kiln " + r.at(0, 2) + " or newer; this kiln does not write it";
        return false;
      }
      *text = r.at(0, 0);
    }
    return true;
  }

  bool Exists() override {
    Diagnostics ignored;
    Result r = Exec("SELECT 1 FROM " + T("states") + " WHERE workspace = $1", {workspace_}, ignored, "read the state");
    return r.ok() && r.rows() > 0;
  }

  bool WriteState(const std::string& text, int64_t expected, int64_t serial, const std::string& lineage,
                  Diagnostics& diags) override {
    std::string format = "1";
    if (size_t at = text.find("\"version\": "); at != std::string::npos && at < 64)
      format = std::string(1, text[at + 11]);
    std::lock_guard<std::mutex> lock(mu_);
    for (int attempt = 0; attempt < 2; ++attempt) {
      Diagnostics io;
      bool ok = ExecLocked("BEGIN", {}, io, "write the state").ok();
      Result r;
      if (ok && expected == 0) {
        r = ExecLocked("INSERT INTO " + T("states") +
                           " (workspace, serial, lineage, format_version, kiln_version, body, updated_at)"
                           " VALUES ($1, $2, $3, $4, $5, $6, now()) ON CONFLICT (workspace) DO NOTHING",
                       {workspace_, std::to_string(serial), lineage, format, KILN_VERSION, text}, io,
                       "write the state");
      } else if (ok) {
        r = ExecLocked("UPDATE " + T("states") +
                           " SET serial = $2, lineage = $3, format_version = $4, kiln_version = $5, body = $6,"
                           " updated_at = now() WHERE workspace = $1 AND serial = $7",
                       {workspace_, std::to_string(serial), lineage, format, KILN_VERSION, text,
                        std::to_string(expected)},
                       io, "write the state");
      }
      ok = ok && r.ok();
      bool swapped = ok && r.affected() == 1;
      if (swapped) {
        ok = ExecLocked("INSERT INTO " + T("history") +
                            " (workspace, serial, lineage, body, written_at, written_by, operation)"
                            " VALUES ($1, $2, $3, $4, now(), $5, $6)"
                            " ON CONFLICT (workspace, serial) DO UPDATE SET lineage = EXCLUDED.lineage,"
                            " body = EXCLUDED.body, written_at = EXCLUDED.written_at,"
                            " written_by = EXCLUDED.written_by, operation = EXCLUDED.operation",
                        {workspace_, std::to_string(serial), lineage, text, CurrentUser() + "@" + CurrentHost(),
                         operation_},
                        io, "record the state's history")
                 .ok();
      }
      if (ok && swapped) ok = ExecLocked("COMMIT", {}, io, "write the state").ok();
      if (ok && swapped) {
        if (keep_history_ > 0) {
          Diagnostics ignored;  // retention is housekeeping, never a failed write
          ExecLocked("DELETE FROM " + T("history") + " WHERE workspace = $1 AND serial <= $2",
                     {workspace_, std::to_string(serial - keep_history_)}, ignored, "trim the history");
        }
        return true;
      }
      if (PQstatus(conn_) == CONNECTION_OK) ExecLocked("ROLLBACK", {}, io, "write the state");
      // What is stored now? After a lost connection our COMMIT may have
      // gone through: then the stored version is exactly ours.
      Diagnostics check;
      Result cur = ExecLocked("SELECT serial, body FROM " + T("states") + " WHERE workspace = $1", {workspace_},
                              check, "read the state");
      if (!cur.ok()) {
        if (attempt == 0 && io.HasErrors() && Reconnect(check)) {
          WarnReconnected(diags);
          continue;
        }
        diags.Append(io.HasErrors() ? io : check);
        return false;
      }
      if (cur.rows() > 0 && cur.at(0, 0) == std::to_string(serial) && cur.at(0, 1) == text) return true;
      if (ok || !io.HasErrors() || (cur.rows() > 0 && cur.at(0, 0) != std::to_string(expected)) ||
          (cur.rows() > 0 && expected == 0)) {
        std::string now = cur.rows() > 0 ? "serial " + cur.at(0, 0) : "no state";
        Diagnostic& d = diags.Error("E0805", SourceRange{},
                                    "refusing to write state: the " + Describe() + " is at " + now +
                                        ", but this kiln read " +
                                        (expected == 0 ? std::string("no state") : "serial " + std::to_string(expected)));
        d.notes.push_back("another kiln wrote the state in between (without holding the lock, or after it was "
                          "force-unlocked); nothing was overwritten");
        d.help = "run kiln again so that it reads the current state";
        return false;
      }
      if (attempt == 0) continue;  // the write failed for another reason: once more
      diags.Append(io);
      return false;
    }
    return false;
  }

  bool ReadKey(std::string* key, bool* found, Diagnostics& diags) override {
    Result r = Exec("SELECT encode(key, 'hex') FROM " + T("keys") + " WHERE workspace = $1", {workspace_}, diags,
                    "read the state key");
    if (!r.ok()) return false;
    *found = r.rows() > 0;
    if (*found) {
      std::string hex = r.at(0, 0);
      key->clear();
      for (size_t i = 0; i + 1 < hex.size(); i += 2) key->push_back(static_cast<char>(std::stoi(hex.substr(i, 2), nullptr, 16)));
    }
    return true;
  }

  bool WriteKey(const std::string& key, Diagnostics& diags) override {
    return Exec("INSERT INTO " + T("keys") + " (workspace, key) VALUES ($1, decode($2, 'hex'))"
                " ON CONFLICT (workspace) DO UPDATE SET key = EXCLUDED.key",
                {workspace_, ToHex(key)}, diags, "write the state key")
        .ok();
  }

  bool Lock(const std::string& operation, std::chrono::milliseconds timeout, Diagnostics& diags) override {
    std::lock_guard<std::mutex> lock(mu_);
    if (locked_) return true;
    operation_ = operation;
    auto deadline = std::chrono::steady_clock::now() + timeout;
    auto pause = std::chrono::milliseconds(10);
    while (true) {
      Result r = ExecLocked("SELECT pg_try_advisory_lock($1, hashtext($2))", {std::to_string(kLockClass), LockName()},
                            diags, "take the state lock");
      if (!r.ok()) return false;
      if (r.at(0, 0) == "t") break;
      auto now = std::chrono::steady_clock::now();
      if (now >= deadline) {
        std::optional<LockInfo> holder = HolderLocked();
        Diagnostic& d = diags.Error("E0810", SourceRange{},
                                    holder ? "the state is locked by another kiln (" + DescribeHolder(*holder) + ")"
                                           : "the state is locked by another PostgreSQL session");
        d.notes.push_back("waited " + std::to_string(timeout.count()) + "ms for the lock of the " + Describe());
        if (holder) {
          d.notes.push_back("lock id: " + holder->id);
          d.help = "wait for it to finish, or pass a longer --lock-timeout; if it is stuck, `kiln force-unlock " +
                   holder->id + "` ends its database session";
        } else {
          d.help = "wait for it to finish, or pass a longer --lock-timeout";
        }
        return false;
      }
      std::this_thread::sleep_for(std::min<std::chrono::steady_clock::duration>(pause, deadline - now));
      pause = std::min(pause * 2, std::chrono::milliseconds(250));
    }
    info_ = LockInfo{NewUuid(), ::getpid(), CurrentUser(), CurrentHost(), operation, NowUtc()};
    locked_ = true;
    return RecordHolderLocked(diags);
  }

  void Unlock() override {
    std::lock_guard<std::mutex> lock(mu_);
    if (!locked_) return;
    locked_ = false;
    if (!conn_ || PQstatus(conn_) != CONNECTION_OK) return;  // the server freed it with the session
    Diagnostics ignored;
    ExecLocked("DELETE FROM " + T("locks") + " WHERE workspace = $1 AND id = $2", {workspace_, info_.id}, ignored,
               "release the state lock");
    ExecLocked("SELECT pg_advisory_unlock($1, hashtext($2))", {std::to_string(kLockClass), LockName()}, ignored,
               "release the state lock");
  }

  std::optional<LockInfo> Holder() override {
    std::lock_guard<std::mutex> lock(mu_);
    return HolderLocked();
  }

  bool ForceUnlock(const std::string& id, Diagnostics& diags) override {
    std::lock_guard<std::mutex> lock(mu_);
    Result r = ExecLocked("SELECT id, backend_pid FROM " + T("locks") + " WHERE workspace = $1", {workspace_}, diags,
                          "read the state lock");
    if (!r.ok()) return false;
    std::optional<LockInfo> holder = HolderLocked();
    if (r.rows() == 0 || !holder) {
      diags.Error("E0813", SourceRange{}, "the " + Describe() + " is not locked").help = "nothing to unlock";
      return false;
    }
    if (r.at(0, 0) != id) {
      Diagnostic& d = diags.Error("E0814", SourceRange{}, "lock id " + id + " does not match the current lock (" + r.at(0, 0) + ")");
      d.notes.push_back("the lock is held by " + DescribeHolder(*holder));
      d.help = "check that this is the lock you mean, then run `kiln force-unlock " + r.at(0, 0) + "`";
      return false;
    }
    Result t = ExecLocked("SELECT pg_terminate_backend($1)", {r.at(0, 1)}, diags, "end the lock holder's session");
    if (!t.ok()) return false;
    ExecLocked("DELETE FROM " + T("locks") + " WHERE workspace = $1 AND id = $2", {workspace_, id}, diags,
               "remove the lock holder");
    return true;
  }

  std::unique_ptr<IntentJournal> OpenJournal() override { return std::make_unique<PgJournal>(this); }

  bool History(std::vector<HistoryEntry>* out, Diagnostics& diags) override {
    Result r = Exec("SELECT serial, lineage, to_char(written_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"'),"
                    " written_by, operation FROM " + T("history") + " WHERE workspace = $1 ORDER BY serial",
                    {workspace_}, diags, "read the history");
    if (!r.ok()) return false;
    out->clear();
    for (int i = 0; i < r.rows(); ++i)
      out->push_back({std::stoll(r.at(i, 0)), r.at(i, 1), r.at(i, 2), r.at(i, 3), r.at(i, 4)});
    return true;
  }

  bool ReadVersion(int64_t serial, std::string* text, Diagnostics& diags) override {
    Result r = Exec("SELECT body FROM " + T("history") + " WHERE workspace = $1 AND serial = $2",
                    {workspace_, std::to_string(serial)}, diags, "read the history");
    if (!r.ok()) return false;
    if (r.rows() == 0) {
      diags.Error("E0835", SourceRange{}, "serial " + std::to_string(serial) + " is not in the history of the " + Describe())
          .help = "`kiln state history` lists the versions kept";
      return false;
    }
    *text = r.at(0, 0);
    return true;
  }

  std::string KeepCopy(Diagnostics& diags) override {
    Result r = Exec("SELECT serial FROM " + T("states") + " WHERE workspace = $1", {workspace_}, diags, "read the state");
    if (!r.ok() || r.rows() == 0) {
      if (r.ok()) diags.Error("E0804", SourceRange{}, "there is no state to back up in the " + Describe());
      return "";
    }
    return "serial " + r.at(0, 0) + " in the history table " + schema_ + ".history (`kiln state show --serial " +
           r.at(0, 0) + "`)";
  }

  bool ListWorkspaces(std::vector<std::string>* out, Diagnostics& diags) override {
    Result r = Exec("SELECT workspace FROM " + T("states") + " ORDER BY 1", {}, diags, "list the workspaces");
    if (!r.ok()) return false;
    out->clear();
    for (int i = 0; i < r.rows(); ++i) out->push_back(r.at(i, 0));
    return true;
  }

  bool DeleteAll(Diagnostics& diags) override {
    std::lock_guard<std::mutex> lock(mu_);
    bool ok = ExecLocked("BEGIN", {}, diags, "delete the workspace").ok();
    for (const char* table : {"states", "history", "keys", "journal"}) {
      ok = ok && ExecLocked("DELETE FROM " + T(table) + " WHERE workspace = $1", {workspace_}, diags,
                            "delete the workspace")
                     .ok();
    }
    ok = ok && ExecLocked("COMMIT", {}, diags, "delete the workspace").ok();
    if (!ok && PQstatus(conn_) == CONNECTION_OK) {
      Diagnostics ignored;
      ExecLocked("ROLLBACK", {}, ignored, "delete the workspace");
    }
    return ok;
  }

  void set_keep_history(int n) { keep_history_ = n; }

  // For PgJournal.
  Result Exec(const std::string& sql, const std::vector<std::string>& params, Diagnostics& diags,
              const std::string& what) {
    std::lock_guard<std::mutex> lock(mu_);
    Diagnostics first;
    Result r = ExecLocked(sql, params, first, what);
    // A lost connection (the server restarted): reconnect, take the lock
    // back if we held it, and run the statement again. Only idempotent
    // statements go through here; the state write handles its own retry.
    if (!r.ok() && conn_ && PQstatus(conn_) != CONNECTION_OK) {
      Diagnostics retry;
      if (Reconnect(retry)) {
        Result r2 = ExecLocked(sql, params, retry, what);
        if (r2.ok()) {
          WarnReconnected(diags);
          return r2;
        }
      }
      diags.Append(first);
      diags.Append(retry);
      return r;
    }
    diags.Append(first);
    return r;
  }
  const std::string& workspace() const { return workspace_; }
  std::string T(const std::string& table) const { return "\"" + schema_ + "\"." + table; }

 private:
  std::string LockName() const { return schema_ + "/" + workspace_; }

  Result ExecLocked(const std::string& sql, const std::vector<std::string>& params, Diagnostics& diags,
                    const std::string& what) {
    std::vector<const char*> values;
    for (const auto& p : params) values.push_back(p.c_str());
    Result r(PQexecParams(conn_, sql.c_str(), static_cast<int>(values.size()), nullptr, values.data(), nullptr,
                          nullptr, 0));
    if (!r.ok()) {
      bool lost = PQstatus(conn_) != CONNECTION_OK;
      Diagnostic& d = diags.Error(lost ? "E0845" : "E0846", SourceRange{},
                                  (lost ? "lost the connection to PostgreSQL at " + where_ + " while trying to "
                                        : "PostgreSQL refused to ") + what + ": " +
                                      Trim(r.res ? PQresultErrorMessage(r.res) : PQerrorMessage(conn_)));
      d.notes.push_back("nothing was half-written: each state write is one transaction");
      if (lost && !last_notice_.empty()) d.notes.push_back("the server said: " + last_notice_);
      if (lost) d.help = "check that the server is running; run kiln again once it is back";
    }
    return r;
  }

  bool Connect(Diagnostics& diags) {
    const char* keys[] = {"application_name", "connect_timeout", "dbname", nullptr};
    const char* vals[] = {"kiln", "10", conninfo_.c_str(), nullptr};
    conn_ = PQconnectdbParams(keys, vals, 1);
    where_ = Where();
    if (conn_ && PQstatus(conn_) == CONNECTION_OK) {
      PQsetNoticeProcessor(conn_, &PgBackend::OnNotice, this);  // kept across PQreset
      return true;
    }
    std::string msg = conn_ ? Trim(PQerrorMessage(conn_)) : "out of memory";
    if (conn_) {
      PQfinish(conn_);
      conn_ = nullptr;
    }
    if (msg.find("password authentication failed") != std::string::npos ||
        msg.find("no password supplied") != std::string::npos ||
        (msg.find("password") != std::string::npos && msg.find("authentication") != std::string::npos)) {
      Diagnostic& d = diags.Error("E0841", SourceRange{}, "PostgreSQL at " + where_ + " refused the credentials: " + msg);
      d.help = "check the user and password in the connection string (the backend's `conn`, e.g. KILN_PG_CONN)";
      return false;
    }
    if (msg.find("does not exist") != std::string::npos) {
      Diagnostic& d = diags.Error("E0841", SourceRange{}, "PostgreSQL at " + where_ + " refused the connection: " + msg);
      d.help = "check the database and user names in the connection string";
      return false;
    }
    Diagnostic& d = diags.Error("E0840", SourceRange{}, "cannot reach PostgreSQL at " + where_ + ": " + msg);
    d.notes.push_back("nothing was read or changed");
    d.help = "check that the server is running and that the backend's `conn` (e.g. KILN_PG_CONN) names it";
    return false;
  }

  // host:port (or the socket directory) and database, never the password.
  std::string Where() const {
    PQconninfoOption* opts = PQconninfoParse(conninfo_.c_str(), nullptr);
    std::string host, port, db;
    for (PQconninfoOption* o = opts; o && o->keyword; ++o) {
      if (!o->val) continue;
      std::string k = o->keyword;
      if (k == "host") host = o->val;
      else if (k == "port") port = o->val;
      else if (k == "dbname") db = o->val;
    }
    if (opts) PQconninfoFree(opts);
    if (host.empty() && conn_ && PQhost(conn_)) host = PQhost(conn_);
    if (port.empty() && conn_ && PQport(conn_)) port = PQport(conn_);
    if (host.empty()) host = "the default socket";
    std::string out = host + (port.empty() ? "" : ":" + port);
    if (!db.empty()) out += " (database " + db + ")";
    return out;
  }

  static void OnNotice(void* self, const char* message) {
    std::string m = Trim(message ? message : "");
    for (const char* p : {"FATAL:  ", "FATAL: ", "NOTICE:  ", "WARNING:  "})
      if (m.rfind(p, 0) == 0) m = m.substr(strlen(p));
    static_cast<PgBackend*>(self)->last_notice_ = m;
  }

  // W0847, once: the connection broke and kiln carried on over a new one.
  void WarnReconnected(Diagnostics& diags) {
    if (warned_reconnect_) return;
    warned_reconnect_ = true;
    Diagnostic& d = diags.Warning("W0847", SourceRange{},
                                  "the connection to PostgreSQL at " + where_ +
                                      " broke and kiln reconnected" +
                                      (locked_ ? " and took the state lock back" : ""));
    if (!last_notice_.empty()) d.notes.push_back("the server said: " + last_notice_);
    d.notes.push_back("nothing was lost: the statement was run again on the new connection");
    // Journal writes during apply report into lists nobody prints on
    // success; the user must still learn why the server went away.
    // The store and the journal each have a connection: one line for both.
    static std::atomic<bool> printed{false};
    if (printed.exchange(true)) return;
    std::string line = "warning[W0847]: " + d.message + "\n";
    for (const auto& n : d.notes) line += "  = note: " + n + "\n";
    std::cerr << line << std::flush;
  }

  bool Reconnect(Diagnostics& diags) {
    // The server may be restarting: try for a while.
    for (int i = 0; i < 60; ++i) {
      PQreset(conn_);
      if (PQstatus(conn_) == CONNECTION_OK) break;
      std::this_thread::sleep_for(std::chrono::milliseconds(250));
    }
    if (PQstatus(conn_) != CONNECTION_OK) {
      diags.Error("E0845", SourceRange{}, "lost the connection to PostgreSQL at " + where_ + " and could not reconnect: " +
                                              Trim(PQerrorMessage(conn_)))
          .help = "check that the server is running; run kiln again once it is back";
      return false;
    }
    if (!locked_) return true;
    // The lock went with the old session: take it back, or give up.
    Result r = ExecLocked("SELECT pg_try_advisory_lock($1, hashtext($2))", {std::to_string(kLockClass), LockName()},
                          diags, "take the state lock again");
    if (!r.ok()) return false;
    if (r.at(0, 0) != "t") {
      locked_ = false;
      std::optional<LockInfo> holder = HolderLocked();
      diags.Error("E0810", SourceRange{}, "lost the state lock when the connection to PostgreSQL broke; it is now held by " +
                                              (holder ? DescribeHolder(*holder) : std::string("another session")))
          .help = "nothing more is written by this kiln; run it again when the other one is done";
      return false;
    }
    return RecordHolderLocked(diags);
  }

  bool RecordHolderLocked(Diagnostics& diags) {
    return ExecLocked("INSERT INTO " + T("locks") +
                          " (workspace, id, pid, username, host, operation, since, backend_pid)"
                          " VALUES ($1, $2, $3, $4, $5, $6, $7, pg_backend_pid())"
                          " ON CONFLICT (workspace) DO UPDATE SET id = EXCLUDED.id, pid = EXCLUDED.pid,"
                          " username = EXCLUDED.username, host = EXCLUDED.host, operation = EXCLUDED.operation,"
                          " since = EXCLUDED.since, backend_pid = EXCLUDED.backend_pid",
                      {workspace_, info_.id, std::to_string(info_.pid), info_.user, info_.host, info_.operation,
                       info_.since},
                      diags, "record the lock holder")
        .ok();
  }

  // The recorded holder, if its session still holds the advisory lock.
  std::optional<LockInfo> HolderLocked() {
    Diagnostics ignored;
    Result r = ExecLocked("SELECT l.id, l.pid, l.username, l.host, l.operation, l.since FROM " + T("locks") +
                              " l WHERE l.workspace = $1 AND EXISTS (SELECT 1 FROM pg_locks p WHERE"
                              " p.locktype = 'advisory' AND p.granted AND p.pid = l.backend_pid"
                              " AND p.classid = $2::oid AND p.objid = hashtext($3)::oid AND p.objsubid = 2)",
                          {workspace_, std::to_string(kLockClass), LockName()}, ignored, "read the lock holder");
    if (!r.ok() || r.rows() == 0) return std::nullopt;
    return LockInfo{r.at(0, 0), std::stoll(r.at(0, 1)), r.at(0, 2), r.at(0, 3), r.at(0, 4), r.at(0, 5)};
  }

  // Creates the tables on first use (serialized between kilns by a
  // transaction-level advisory lock); refuses a schema kiln did not make
  // and one made by a newer kiln.
  bool PrepareSchema(Diagnostics& diags) {
    std::lock_guard<std::mutex> lock(mu_);
    if (!ExecLocked("BEGIN", {}, diags, "prepare the schema").ok()) return false;
    auto fail = [&] {
      Diagnostics ignored;
      ExecLocked("ROLLBACK", {}, ignored, "prepare the schema");
      return false;
    };
    if (!ExecLocked("SELECT pg_advisory_xact_lock($1, hashtext($2))", {std::to_string(kLockClass), "schema/" + schema_},
                    diags, "prepare the schema")
             .ok())
      return fail();
    Result tables = ExecLocked("SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace"
                               " WHERE n.nspname = $1 AND c.relkind IN ('r', 'v', 'm', 'p', 'f') ORDER BY 1",
                               {schema_}, diags, "inspect the schema");
    if (!tables.ok()) return fail();
    bool has_meta = false;
    std::string names;
    for (int i = 0; i < tables.rows(); ++i) {
      if (tables.at(i, 0) == "kiln_meta") has_meta = true;
      names += (names.empty() ? "" : ", ") + tables.at(i, 0);
    }
    if (tables.rows() > 0 && !has_meta) {
      fail();
      Diagnostic& d = diags.Error("E0842", SourceRange{}, "schema `" + schema_ + "` on " + where_ +
                                                              " holds tables kiln did not create (" + names + ")");
      d.notes.push_back("kiln keeps its state in a schema of its own and does not touch one it did not make");
      d.help = "name an empty or new schema in the backend's `schema` setting";
      return false;
    }
    if (has_meta) {
      Result meta = ExecLocked("SELECT key, value FROM " + T("kiln_meta"), {}, diags, "inspect the schema");
      if (!meta.ok()) return fail();
      std::string created_by, version;
      for (int i = 0; i < meta.rows(); ++i) {
        if (meta.at(i, 0) == "created_by") created_by = meta.at(i, 1);
        if (meta.at(i, 0) == "schema_version") version = meta.at(i, 1);
      }
      if (created_by != "kiln") {
        fail();
        diags.Error("E0842", SourceRange{}, "schema `" + schema_ + "` on " + where_ + " was not created by kiln")
            .help = "name an empty or new schema in the backend's `schema` setting";
        return false;
      }
      if (std::atoi(version.c_str()) > kSchemaVersion) {
        fail();
        Diagnostic& d = diags.Error("E0843", SourceRange{}, "schema `" + schema_ + "` on " + where_ +
                                                                " was set up by a newer kiln (schema version " + version +
                                                                ", this kiln knows " + std::to_string(kSchemaVersion) + ")");
        d.help = "use the newer kiln; this one does not write to it";
        return false;
      }
      return ExecLocked("COMMIT", {}, diags, "prepare the schema").ok();
    }
    const char* ddl[] = {
        "CREATE SCHEMA IF NOT EXISTS \"%s\"",
        "CREATE TABLE \"%s\".kiln_meta (key text PRIMARY KEY, value text NOT NULL)",
        "CREATE TABLE \"%s\".states (workspace text PRIMARY KEY, serial bigint NOT NULL, lineage text NOT NULL,"
        " format_version int NOT NULL, kiln_version text NOT NULL, body text NOT NULL,"
        " updated_at timestamptz NOT NULL)",
        "CREATE TABLE \"%s\".history (workspace text NOT NULL, serial bigint NOT NULL, lineage text NOT NULL,"
        " body text NOT NULL, written_at timestamptz NOT NULL, written_by text NOT NULL, operation text NOT NULL,"
        " PRIMARY KEY (workspace, serial))",
        "CREATE TABLE \"%s\".keys (workspace text PRIMARY KEY, key bytea NOT NULL)",
        "CREATE TABLE \"%s\".locks (workspace text PRIMARY KEY, id text NOT NULL, pid bigint NOT NULL,"
        " username text NOT NULL, host text NOT NULL, operation text NOT NULL, since text NOT NULL,"
        " backend_pid int NOT NULL)",
        "CREATE TABLE \"%s\".journal (workspace text NOT NULL, address text NOT NULL, kind text NOT NULL,"
        " provider text NOT NULL, provider_type text NOT NULL, started text NOT NULL,"
        " PRIMARY KEY (workspace, address))",
    };
    for (const char* stmt : ddl) {
      std::string sql = stmt;
      sql.replace(sql.find("%s"), 2, schema_);
      if (!ExecLocked(sql, {}, diags, "create kiln's tables in schema " + schema_).ok()) return fail();
    }
    if (!ExecLocked("INSERT INTO " + T("kiln_meta") + " VALUES ('created_by', 'kiln'), ('schema_version', $1)",
                    {std::to_string(kSchemaVersion)}, diags, "create kiln's tables")
             .ok())
      return fail();
    return ExecLocked("COMMIT", {}, diags, "prepare the schema").ok();
  }

  std::string conninfo_, schema_, workspace_, where_;
  std::mutex mu_;
  PGconn* conn_ = nullptr;
  // What the server said outside a result (a restart's "terminating
  // connection due to administrator command", NOTICEs): kept for the error
  // that follows instead of libpq printing it on stderr.
  std::string last_notice_;
  bool warned_reconnect_ = false;
  bool locked_ = false;
  LockInfo info_;
  int keep_history_ = 0;  // 0: keep every version
};

uint64_t PgJournal::Announce(const JournalEntry& entry, Diagnostics& diags) {
  Result r = backend_->Exec("INSERT INTO " + backend_->T("journal") +
                                " (workspace, address, kind, provider, provider_type, started)"
                                " VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (workspace, address) DO UPDATE SET"
                                " kind = EXCLUDED.kind, provider = EXCLUDED.provider,"
                                " provider_type = EXCLUDED.provider_type, started = EXCLUDED.started",
                            {backend_->workspace(), entry.address, entry.kind, entry.provider, entry.provider_type,
                             entry.started.empty() ? NowUtc() : entry.started},
                            diags, "record the intent of a create");
  return r.ok() ? ++seq_ : 0;
}

bool PgJournal::Complete(const std::string& address, Diagnostics& diags) {
  return backend_->Exec("DELETE FROM " + backend_->T("journal") + " WHERE workspace = $1 AND address = $2",
                        {backend_->workspace(), address}, diags, "complete an intent")
      .ok();
}

std::vector<JournalEntry> PgJournal::Pending(Diagnostics& diags) const {
  Result r = backend_->Exec("SELECT address, kind, provider, provider_type, started FROM " + backend_->T("journal") +
                                " WHERE workspace = $1 ORDER BY address",
                            {backend_->workspace()}, diags, "read the intent journal");
  std::vector<JournalEntry> out;
  for (int i = 0; r.ok() && i < r.rows(); ++i)
    out.push_back({r.at(i, 0), r.at(i, 1), r.at(i, 2), r.at(i, 3), r.at(i, 4)});
  return out;
}

}  // namespace

std::unique_ptr<StateBackend> OpenPostgresBackend(const std::string& conn, const std::string& schema,
                                                  const std::string& workspace, int keep_history,
                                                  Diagnostics& diags) {
  auto backend = std::make_unique<PgBackend>(conn, schema, workspace);
  backend->set_keep_history(keep_history);
  if (!backend->Open(diags)) return nullptr;
  return backend;
}

}  // namespace kiln::state
