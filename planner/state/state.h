// The recorded state: what kiln believes exists, its file format, the lock
// that makes one writer at a time, the intent journal that makes a crash lose
// nothing, and the keyed hashes that keep sensitive values out of the file.
//
// Files, for a state path P (default `.kiln/state.json`; see docs/state.md):
//   P            the state, JSON, mode 0600, replaced atomically on every write
//   P.backup     the previous version (kept by every write)
//   P.lock       the lock: flock()ed while held, holder info as JSON inside
//   P.journal    intent journal, JSON lines, group-committed fsyncs
//   P.key        32 random bytes keying the sensitive-value hashes, mode 0600
//
// Errors are Diagnostics without a source range (codes E08xx/W08xx, listed in
// docs/diagnostics.md). Nothing here throws.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "compiler/diag/diagnostics.h"
#include "core/address.h"
#include "core/hash.h"
#include "core/path.h"
#include "core/wire.h"

namespace kiln::state {

// The format this kiln writes; readers exist for every version up to it.
// Version 2 adds `deposed`; a state without deposed objects is still
// written as version 1, so older kilns keep reading it (see docs/state.md).
inline constexpr int kStateFormatVersion = 2;
inline constexpr char kDefaultStatePath[] = ".kiln/state.json";
// What stands in for a sensitive value in state, in `state show` and `output`.
using ::kiln::kSensitivePlaceholder;

inline constexpr char kStatusReady[] = "ready";
// Created, but a later step of its creation failed: replaced on the next apply.
inline constexpr char kStatusTainted[] = "tainted";

// One resource instance as recorded after its last successful operation.
struct ResourceState {
  std::string address;        // module.eu["k"].endpoint.chat["x"]
  std::string module;         // "" for the root module
  std::string kind;           // "endpoint", "slurm.reservation"
  std::string name;           // "chat"
  nlohmann::json key;         // null, a string or a number (count/for_each key)
  std::string provider;       // "provider.slurm.hpc"
  std::string provider_type;  // "slurm"
  // What the provider returned, with every sensitive subtree replaced by
  // kSensitivePlaceholder (see RedactForState).
  nlohmann::json attributes = nlohmann::json::object();
  // JSON pointer (RFC 6901, "/env/TOKEN") -> SensitiveHasher::Hash of the value.
  std::map<std::string, std::string> sensitive_hashes;
  std::vector<std::string> dependencies;  // addresses, sorted, unique
  std::string status = kStatusReady;      // kStatusReady | kStatusTainted
  // Lifecycle remembered for resources that leave the configuration (their
  // delete must still be ordered the way they were created).
  bool create_before_destroy = false;
  // Paths of duration (ms) and bytes (integer) values in `attributes`, so
  // that `kiln show` can print them as `10m` and `80GiB`. Optional in the
  // file (written only when non-empty). (`= {}`: aggregate initializers
  // that stop before them stay warning-free.)
  std::vector<Path> duration_paths = {};
  std::vector<Path> bytes_paths = {};
  // Only in State::deposed: the key that tells deposed objects of one
  // address apart (8 hex digits).
  std::string deposed_key;

  bool operator==(const ResourceState&) const = default;
};

struct OutputState {
  nlohmann::json value;  // kSensitivePlaceholder when sensitive
  bool sensitive = false;
  std::string hash;      // SensitiveHasher::Hash of the value when sensitive, else ""
  // Paths into `value` (empty path: the value itself) of durations and
  // bytes, for `kiln output`. Optional in the file.
  std::vector<Path> duration_paths = {};
  std::vector<Path> bytes_paths = {};

  bool operator==(const OutputState&) const = default;
};

struct State {
  int version = kStateFormatVersion;
  int64_t serial = 0;        // bumped by StateStore::Save when content changed
  std::string lineage;       // uuid, fixed when the state is first created
  std::string kiln_version;  // the kiln that last wrote it
  // Fingerprint of the key the sensitive hashes were made with ("" if none);
  // lets a missing or wrong key file be detected instead of silently
  // reporting every sensitive value as changed.
  std::string hash_key_id;
  std::vector<ResourceState> resources;  // sorted by address, unique
  std::map<std::string, OutputState> outputs;
  // Old objects of create_before_destroy replacements that are not deleted
  // yet (recorded before the new object is created; removed once the old
  // one is deleted). The next plan deletes any left by an interrupted
  // apply. Sorted by (address, deposed_key).
  std::vector<ResourceState> deposed;

  // Binary search; null when absent.
  const ResourceState* Find(const std::string& address) const;
  ResourceState* Find(const std::string& address);
  // Inserts or replaces by address, keeping `resources` sorted.
  void Upsert(ResourceState resource);
  // Returns false if there was no such address.
  bool Remove(const std::string& address);
  std::vector<std::string> Addresses() const;  // sorted
  const ResourceState* FindDeposed(const std::string& address, const std::string& key) const;
  void AddDeposed(ResourceState resource);  // resource.deposed_key set
  bool RemoveDeposed(const std::string& address, const std::string& key);
  // Everything but serial and kiln_version: what "changed" means for serial.
  bool SameContent(const State& other) const;
};

// ---- Serialization (one reader per format version) ----

// The file text for `state` (current format, deterministic, trailing newline).
std::string SerializeState(const State& state);
// Parses file text of any supported version into the current in-memory form.
// `file` names the source in errors; `backup` (may be "") is mentioned in them.
bool ParseState(const std::string& text, const std::string& file, const std::string& backup,
                State* out, Diagnostics& diags);

// One resource as a JSON object with the fields of the state file, and back
// (with the same checks as the reader); for saved plans and tools.
nlohmann::json ResourceToJson(const ResourceState& resource);
bool ResourceFromJson(const nlohmann::json& j, ResourceState* out, std::string* problem);

// ---- Sensitive values ----

// HMAC-SHA256 over the canonical JSON text of a value, keyed per state so
// that the state file alone cannot be used to guess low-entropy secrets.
class SensitiveHasher {
 public:
  SensitiveHasher() = default;  // empty key: usable, but only for tests
  explicit SensitiveHasher(std::string key) : key_(std::move(key)) {}
  // "hmac-sha256:<64 hex>" of value.dump() (object keys sorted).
  std::string Hash(const nlohmann::json& value) const;
  // True if `hash` was made from `value` with this key.
  bool Same(const nlohmann::json& value, const std::string& hash) const;
  // Short public fingerprint of the key (recorded as State::hash_key_id).
  std::string KeyId() const;
  const std::string& key() const { return key_; }
  // 32 bytes from /dev/urandom.
  static std::string NewKey();

 private:
  std::string key_;
};

// Raw HMAC-SHA256 (RFC 2104) of `message` with `key`; 32 bytes.
std::string HmacSha256(const std::string& key, const std::string& message);
using ::kiln::ToHex;

struct Redacted {
  nlohmann::json attributes;                   // sensitive subtrees -> placeholder
  std::map<std::string, std::string> hashes;   // JSON pointer -> hash
};
// Replaces each existing, non-null, known value at `paths` by the placeholder
// and records its hash. Absent paths are skipped.
Redacted RedactForState(const nlohmann::json& attributes, const std::vector<Path>& paths,
                        const SensitiveHasher& hasher);
// Fills placeholders in `attributes` from `source` (e.g. the configuration)
// where the hash says the value is the same; others stay placeholders. Lets
// the planner hand providers a prior state with real values where it can.
nlohmann::json RestoreSensitive(const nlohmann::json& attributes,
                                const std::map<std::string, std::string>& hashes,
                                const nlohmann::json& source, const SensitiveHasher& hasher);
std::string PathToPointer(const Path& path);  // {"env","TOKEN"} -> "/env/TOKEN"
Path PointerToPath(const std::string& pointer);

// An instance address split into its parts: `module.eu["k"].slurm.reservation.r[0]`
// -> module `module.eu["k"]`, kind `slurm.reservation`, name `r`, key 0. The
// last dotted name before the key is the name; what precedes it is the kind.
// Address::Parse (core/address.h) in the form state records use; a module
// address is no instance address.
struct ParsedAddress {
  std::string module;
  std::string kind;
  std::string name;
  nlohmann::json key;  // null, string or integer
};
std::optional<ParsedAddress> ParseAddress(const std::string& address);

// $USER (or the passwd name) and the host name, for lock holders and history.
std::string CurrentUser();
std::string CurrentHost();

// A fresh random uuid v4 (from /dev/urandom).
std::string NewUuid();
// The current time as RFC 3339 UTC, "2026-11-26T20:32:20Z".
std::string NowUtc();

// ---- The store ----

namespace format {
struct BodyCache;
}

class IntentJournal;
class StateLock;

// One version of a state as kept in its backend's history.
struct HistoryEntry {
  int64_t serial = 0;
  std::string lineage;
  std::string time;       // RFC 3339 UTC, when it was written
  std::string who;        // "user@host"
  std::string operation;  // "apply", "state rm", "rollback 3", ...
};

// Who holds a state lock, for messages and force-unlock.
struct LockInfo {
  std::string id;         // uuid; what `kiln force-unlock ID` takes
  int64_t pid = 0;
  std::string user;
  std::string host;
  std::string operation;  // "apply", "state rm", ...
  std::string since;      // RFC 3339 UTC
};
// "pid 4242, user ana, host gpu-01, operation \"apply\", since ..."
std::string DescribeHolder(const LockInfo& info);

// Where a state lives: a local file (LocalBackend) or a PostgreSQL schema
// (PostgresBackend, postgres.cpp). StateStore does the bookkeeping (what
// changed, serials, group commit, keyed hashing); a backend stores versions,
// keeps their history, holds the lock and the intent journal. Errors are
// E08xx diagnostics naming the backend (Describe()).
class StateBackend {
 public:
  virtual ~StateBackend() = default;
  // "state file .kiln/state.json", "PostgreSQL schema kiln, workspace default".
  virtual std::string Describe() const = 0;
  // Where an older good copy is, for error messages ("" if none).
  virtual std::string BackupMention() const { return ""; }
  // The stored text of the current version; *found false when there is none.
  virtual bool ReadState(std::string* text, bool* found, Diagnostics& diags) = 0;
  // Stores `text` as version `serial`, in one step, only if the stored
  // version is still `expected` (0: there is none yet); otherwise refuses
  // with E0805 and changes nothing. Keeps the version in the history.
  virtual bool WriteState(const std::string& text, int64_t expected, int64_t serial,
                          const std::string& lineage, Diagnostics& diags) = 0;
  virtual bool Exists() = 0;
  // The key of the sensitive-value hashes (*found false when there is none).
  virtual bool ReadKey(std::string* key, bool* found, Diagnostics& diags) = 0;
  virtual bool WriteKey(const std::string& key, Diagnostics& diags) = 0;
  virtual std::string DescribeKey() const = 0;
  // One writer at a time: waits up to `timeout`, then E0810 naming the holder.
  virtual bool Lock(const std::string& operation, std::chrono::milliseconds timeout,
                    Diagnostics& diags) = 0;
  virtual void Unlock() = 0;
  virtual std::optional<LockInfo> Holder() = 0;
  virtual bool ForceUnlock(const std::string& id, Diagnostics& diags) = 0;
  // The intent journal kept beside this state (valid while the backend lives).
  virtual std::unique_ptr<IntentJournal> OpenJournal() = 0;
  // Versions kept, oldest first, and the text of one of them.
  virtual bool History(std::vector<HistoryEntry>* out, Diagnostics& diags) = 0;
  virtual bool ReadVersion(int64_t serial, std::string* text, Diagnostics& diags) = 0;
  // Keeps a copy of the current version before a hand edit; returns where
  // (a file, or the history serial), "" with an error.
  virtual std::string KeepCopy(Diagnostics& diags) = 0;
  // The workspaces this backend holds states for (PostgreSQL; the local
  // backend's are directories, listed by the CLI).
  virtual bool ListWorkspaces(std::vector<std::string>* out, Diagnostics& diags) {
    out->clear();
    return true;
  }
  // Deletes this state, its history, key and journal (`kiln workspace delete`).
  virtual bool DeleteAll(Diagnostics& diags) = 0;
  // What the next write is for (recorded in the history).
  void set_operation(std::string op) { operation_ = std::move(op); }
  const std::string& operation() const { return operation_; }

 protected:
  std::string operation_ = "apply";
};

// The local backend: one state file and its companions (see the top of this
// file), and the history in <dir of P>/history/ (the last `keep_history`
// versions, as hard links: no extra copy, no extra fsync).
class LocalBackend : public StateBackend {
 public:
  explicit LocalBackend(std::string path, int keep_history = 100);
  ~LocalBackend() override;
  std::string Describe() const override { return "state file " + path_; }
  std::string BackupMention() const override;
  bool ReadState(std::string* text, bool* found, Diagnostics& diags) override;
  bool WriteState(const std::string& text, int64_t expected, int64_t serial,
                  const std::string& lineage, Diagnostics& diags) override;
  bool Exists() override;
  bool ReadKey(std::string* key, bool* found, Diagnostics& diags) override;
  bool WriteKey(const std::string& key, Diagnostics& diags) override;
  std::string DescribeKey() const override { return "state key file " + key_path(); }
  bool Lock(const std::string& operation, std::chrono::milliseconds timeout,
            Diagnostics& diags) override;
  void Unlock() override;
  std::optional<LockInfo> Holder() override;
  bool ForceUnlock(const std::string& id, Diagnostics& diags) override;
  std::unique_ptr<IntentJournal> OpenJournal() override;
  bool History(std::vector<HistoryEntry>* out, Diagnostics& diags) override;
  bool ReadVersion(int64_t serial, std::string* text, Diagnostics& diags) override;
  std::string KeepCopy(Diagnostics& diags) override;
  bool DeleteAll(Diagnostics& diags) override;

  const std::string& path() const { return path_; }
  std::string backup_path() const { return path_ + ".backup"; }
  std::string lock_path() const { return path_ + ".lock"; }
  std::string journal_path() const { return path_ + ".journal"; }
  std::string key_path() const { return path_ + ".key"; }
  std::string history_dir() const;
  std::string history_path(int64_t serial) const;

 private:
  struct FileId {
    bool exists = false;
    dev_t dev = 0;
    ino_t ino = 0;
    off_t size = 0;
    int64_t mtime_ns = 0;
    bool operator==(const FileId&) const = default;
  };
  FileId Stat() const;
  void RecordHistory(int64_t serial, const std::string& lineage);
  std::string path_;
  int keep_history_;
  FileId file_id_;  // identity of the file as last read or written
  std::unique_ptr<StateLock> lock_;
};

// The state as the planner sees it. Load once, then Save as often as
// needed; Save and Update are safe to call from many threads. A writer takes
// the backend's lock *before* Load and holds it until its last Save; the
// store itself doesn't lock across processes.
class StateStore {
 public:
  // The local backend for the file `path`.
  explicit StateStore(std::string path = kDefaultStatePath);
  explicit StateStore(std::unique_ptr<StateBackend> backend);
  ~StateStore();

  // Reads the state. A missing state yields an empty state with a new
  // lineage (nothing is written until Save). A corrupt or unreadable one is
  // an error naming it and the backup; after that, Save refuses to write.
  bool Load(State* out, Diagnostics& diags);

  // Writes `state` atomically through the backend (for the local file: temp
  // file in the same directory, fsync, rename, fsync directory, keeping the
  // previous file as P.backup, mode 0600). The serial written is the last
  // one + 1 when the content differs from what was last loaded/saved; when
  // nothing changed nothing is written. The serial field of `state` is
  // ignored. Refuses if Load did not succeed or the stored state changed
  // since (another writer ignoring the lock).
  bool Save(const State& state, Diagnostics& diags);
  // Applies `edit` to the store's current copy (the last loaded or saved
  // state) and saves it, all under the store's mutex. For the apply walk.
  bool Update(const std::function<void(State&)>& edit, Diagnostics& diags);
  // The last loaded or saved state (serial as written); a copy.
  State Current() const;
  // Runs `read` on the store's current state under its mutex, without a copy.
  // `read` must not call back into the store.
  void Read(const std::function<void(const State&)>& read) const;

  // Keyed hashing for this state; valid after Load (creates the key on the
  // first Save if there is none).
  const SensitiveHasher& hasher() const { return hasher_; }
  // False when the state holds hashes made with a key we no longer have:
  // sensitive values can then not be compared (a W08xx was reported by Load).
  bool key_matches() const { return key_matches_; }

  // Keeps a copy of the current version before a hand edit (for the local
  // file P.<UTC timestamp>.backup) and returns where, or "" with an error.
  std::string BackupCopy(Diagnostics& diags) const;

  // Stores the hashing key now if it is not stored yet (a saved plan hashes
  // sensitive inputs with it before any state is written).
  bool EnsureKey(Diagnostics& diags);

  bool Exists() const;
  StateBackend& backend() const { return *backend_; }
  // The local backend's files (empty strings for other backends).
  std::string path() const;
  std::string backup_path() const { return path() + ".backup"; }
  std::string lock_path() const { return path() + ".lock"; }
  std::string journal_path() const { return path() + ".journal"; }
  std::string key_path() const { return path() + ".key"; }

 private:
  std::unique_ptr<StateBackend> backend_;
  // Writes are group-committed: an Update waits until a write that includes
  // its edit is durable; edits arriving during a write ride on the next one.
  mutable std::mutex mu_;
  std::condition_variable written_cv_;
  bool writing_ = false;
  uint64_t edit_gen_ = 0;     // bumped by every edit
  uint64_t written_gen_ = 0;  // every edit up to this one is stored
  uint64_t failed_gen_ = 0;   // the last write that failed covered edits up to this
  Diagnostic failure_;        // ...with this error
  // What is stored, to decide whether anything changed.
  std::unique_ptr<format::BodyCache> body_cache_;
  std::string persisted_body_;
  std::string persisted_lineage_;
  std::string persisted_key_id_;
  int64_t persisted_serial_ = 0;
  bool persisted_exists_ = false;
  bool loaded_ = false;
  bool load_failed_ = false;
  bool key_stored_ = false;
  bool key_matches_ = true;
  SensitiveHasher hasher_;
  State current_;
};

// Opens a PostgreSQL backend (postgres.cpp): `conn` is a libpq connection
// string, `schema` the schema kiln keeps its tables in (created on first
// use; a schema with tables kiln did not create is refused), `workspace`
// the state's name in it; `keep_history` versions are kept (0: all).
// Connects at once; null with an error (E0840-E0846) when the server cannot
// be reached or refuses.
std::unique_ptr<StateBackend> OpenPostgresBackend(const std::string& conn, const std::string& schema,
                                                  const std::string& workspace, int keep_history,
                                                  Diagnostics& diags);

// ---- The lock ----


// One writer at a time. Mutual exclusion is flock(LOCK_EX) on P.lock, so a
// holder killed with SIGKILL frees it at once; the file's content only names
// the holder for error messages and force-unlock. Release unlinks the file.
class StateLock {
 public:
  explicit StateLock(std::string lock_path);
  ~StateLock();  // releases if held
  StateLock(const StateLock&) = delete;
  StateLock& operator=(const StateLock&) = delete;

  // Waits up to `timeout` (polling), then fails with E0810 naming the holder
  // (pid, user, host, operation, since, id); says when the holder looks dead.
  bool Acquire(const std::string& operation, std::chrono::milliseconds timeout,
               Diagnostics& diags);
  void Release();
  bool held() const { return fd_ >= 0; }
  const LockInfo& info() const { return info_; }

  // Who holds it now, if anyone (reads the file; no locking).
  static std::optional<LockInfo> ReadHolder(const std::string& lock_path);
  // Removes the lock file if its id is `id`; a live holder keeps running but
  // no longer excludes others. Errors E0813/E0814.
  static bool ForceUnlock(const std::string& lock_path, const std::string& id,
                          Diagnostics& diags);

 private:
  std::string path_;
  int fd_ = -1;
  LockInfo info_;
};

// Parses "500ms", "30s", "5m", "1h", "0"; false if malformed.
bool ParseDuration(const std::string& text, std::chrono::milliseconds* out);

// ---- The intent journal ----

struct JournalEntry {
  std::string address;
  std::string kind;           // as in ResourceState::kind
  std::string provider;       // provider instance address
  std::string provider_type;
  std::string started;        // RFC 3339 UTC
};

// Crash safety for creates. Before a create goes to a provider: BeginCreate;
// once its result is saved in state (or it failed without creating
// anything): Complete. On the next plan, Pending() lists creates that may
// have happened without kiln recording them; the planner reads them back
// through the provider (ReadRequest with state null), adopts what exists and
// then calls Complete. Thread-safe.
//
// Durability is group-committed: BeginCreate returns once its record is on
// disk, and concurrent BeginCreates share one fdatasync (records are
// written in order under the mutex; the sync runs outside it and covers
// every record written before it started). Complete writes its record but
// does not wait for a sync: a Complete lost in a crash only costs one extra
// read-back on the next plan, and the next BeginCreate's sync (or Compact)
// makes it durable anyway.
// The interface the planner uses; Journal (a file) and the PostgreSQL
// backend's table implement it with the same guarantees.
class IntentJournal {
 public:
  virtual ~IntentJournal() = default;
  virtual bool BeginCreate(const JournalEntry& entry, Diagnostics& diags) = 0;
  virtual uint64_t Announce(const JournalEntry& entry, Diagnostics& diags) = 0;
  virtual bool WaitDurable(uint64_t seq, Diagnostics& diags) = 0;
  virtual bool Sync(Diagnostics& diags) = 0;
  virtual bool Complete(const std::string& address, Diagnostics& diags) = 0;
  virtual std::vector<JournalEntry> Pending(Diagnostics& diags) const = 0;
  virtual bool Compact(Diagnostics& diags) = 0;
};

class Journal : public IntentJournal {
 public:
  explicit Journal(std::string path);
  ~Journal() override;
  Journal(const Journal&) = delete;
  Journal& operator=(const Journal&) = delete;
  bool BeginCreate(const JournalEntry& entry, Diagnostics& diags) override;
  // BeginCreate in two halves, so that an intent can be written ahead of
  // time and its sync overlap other work: Announce writes the begin record
  // (not yet durable) and returns its sequence number (0 on error);
  // WaitDurable(seq) returns once that record is on disk (leading a group
  // sync if none is running). The create may be sent only after
  // WaitDurable. An announced create that is then never sent must be
  // closed with Complete (the apply walk does, for what it did not start).
  uint64_t Announce(const JournalEntry& entry, Diagnostics& diags) override;
  bool WaitDurable(uint64_t seq, Diagnostics& diags) override;
  // Makes everything written so far durable (one group sync).
  bool Sync(Diagnostics& diags) override;
  bool Complete(const std::string& address, Diagnostics& diags) override;
  // Begun-but-not-completed creates, sorted by address. A torn last line (a
  // crash mid-append) is ignored; a bad line elsewhere is W0820 and skipped.
  std::vector<JournalEntry> Pending(Diagnostics& diags) const override;
  // Empties the file when nothing is pending; otherwise rewrites it with only
  // the pending records (atomically).
  bool Compact(Diagnostics& diags) override;
  const std::string& path() const { return path_; }

 private:
  // Writes one record (no sync); returns its sequence number, 0 on error.
  // Called with mu_ held.
  uint64_t WriteLocked(const nlohmann::json& record, Diagnostics& diags);
  // Waits until record `seq` is durable, syncing as the leader of a group
  // when no sync is running. Called with `lock` (on mu_) held.
  bool SyncThrough(uint64_t seq, std::unique_lock<std::mutex>& lock, Diagnostics& diags);
  bool OpenForAppend(Diagnostics& diags);
  std::vector<JournalEntry> ReadPending(Diagnostics& diags) const;
  std::string path_;
  mutable std::mutex mu_;
  std::condition_variable synced_cv_;
  int fd_ = -1;  // open for appending once the first record is written
  uint64_t written_seq_ = 0;  // records written (not necessarily synced)
  uint64_t synced_seq_ = 0;   // every record up to this one is durable
  bool syncing_ = false;      // a leader is in fdatasync (outside mu_)
  // After a failed fdatasync nothing can be trusted to be durable (the
  // kernel may have dropped the dirty pages): every later BeginCreate fails.
  std::string broken_;
};

}  // namespace kiln::state
