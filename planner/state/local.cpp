// LocalBackend: the state file, its backup, key, lock, journal and history.
#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <ctime>
#include <fstream>

#include "planner/state/fs.h"
#include "planner/state/state.h"

namespace kiln::state {

using nlohmann::json;

namespace {

bool StatFile(const std::string& path, struct stat* st) { return ::stat(path.c_str(), st) == 0; }

std::string BaseName(const std::string& path) {
  size_t slash = path.rfind('/');
  return slash == std::string::npos ? path : path.substr(slash + 1);
}

// Temp files (`P.tmp-<pid>-<n>`, `P.backup.tmp-<pid>`) left by a writer that
// was killed mid-write; removed once their writer is no longer running.
void RemoveStaleTempFiles(const std::string& path) {
  std::string dir = fs::DirName(path);
  std::string base = BaseName(path);
  DIR* d = ::opendir(dir.c_str());
  if (d == nullptr) return;
  while (struct dirent* e = ::readdir(d)) {
    std::string name = e->d_name;
    if (name.rfind(base + ".", 0) != 0) continue;
    size_t at = name.find(".tmp-", base.size());
    if (at == std::string::npos) continue;
    std::string digits;
    for (size_t i = at + 5; i < name.size() && std::isdigit(static_cast<unsigned char>(name[i])); ++i) {
      digits += name[i];
    }
    if (digits.empty() || digits.size() > 9) continue;
    pid_t pid = static_cast<pid_t>(std::stol(digits));
    if (pid == ::getpid() || ::kill(pid, 0) == 0 || errno != ESRCH) continue;
    ::unlink((dir + "/" + name).c_str());
  }
  ::closedir(d);
}

}  // namespace

LocalBackend::LocalBackend(std::string path, int keep_history)
    : path_(std::move(path)), keep_history_(keep_history) {}

LocalBackend::~LocalBackend() = default;

LocalBackend::FileId LocalBackend::Stat() const {
  struct stat st;
  if (!StatFile(path_, &st)) return FileId{};
  return FileId{true, st.st_dev, st.st_ino, st.st_size,
                int64_t(st.st_mtim.tv_sec) * 1000000000 + st.st_mtim.tv_nsec};
}

std::string LocalBackend::BackupMention() const {
  struct stat st;
  return StatFile(backup_path(), &st) ? backup_path() : "";
}

bool LocalBackend::Exists() {
  struct stat st;
  return StatFile(path_, &st);
}

// The history of P = dir/NAME.json is dir/history/NAME.<serial>.json.
std::string LocalBackend::history_dir() const { return fs::DirName(path_) + "/history"; }

std::string LocalBackend::history_path(int64_t serial) const {
  std::string base = BaseName(path_);
  std::string stem = base.size() > 5 && base.substr(base.size() - 5) == ".json" ? base.substr(0, base.size() - 5) : base;
  return history_dir() + "/" + stem + "." + std::to_string(serial) + ".json";
}

bool LocalBackend::ReadState(std::string* text, bool* found, Diagnostics& diags) {
  RemoveStaleTempFiles(path_);
  std::string error;
  bool missing = false;
  *found = false;
  if (!fs::ReadFile(path_, text, &error, &missing)) {
    if (!missing) {
      Diagnostic& d = diags.Error("E0800", SourceRange{}, "cannot read state file " + path_ + ": " + error);
      d.notes.push_back("kiln will not write state until it can read " + path_);
      if (std::string b = BackupMention(); !b.empty()) d.notes.push_back("the previous version of the state is in " + b);
      d.help = "check the file's permissions and owner (kiln needs to read and write it)";
      return false;
    }
    file_id_ = FileId{};
    return true;
  }
  *found = true;
  file_id_ = Stat();
  return true;
}

bool LocalBackend::WriteState(const std::string& text, int64_t expected, int64_t serial,
                              const std::string& lineage, Diagnostics& diags) {
  // Another writer (ignoring the lock) is detected by the file's identity.
  FileId now = Stat();
  std::string changed;
  if (now.exists != file_id_.exists) {
    changed = file_id_.exists ? path_ + " was removed since kiln read it"
                              : path_ + " was created by someone else since kiln looked for it";
  } else if (now.exists && !(now == file_id_)) {
    changed = path_ + " was changed by someone else since kiln read it";
  }
  if (!changed.empty()) {
    Diagnostic& d = diags.Error("E0805", SourceRange{}, "refusing to write state: " + changed);
    d.notes.push_back("another process wrote the state without holding the lock");
    d.help = "run kiln again so that it reads the current state";
    return false;
  }
  std::string error;
  if (!fs::MakeParentDirs(path_, 0700, &error)) {
    diags.Error("E0804", SourceRange{}, "cannot write state: " + error);
    return false;
  }
  if (file_id_.exists) {
    // The previous version becomes the backup: a hard link is atomic and
    // copies nothing; fall back to a copy where links are not supported.
    bool ok = true;
    std::string tmp = backup_path() + ".tmp-" + std::to_string(::getpid());
    ::unlink(tmp.c_str());
    if (::link(path_.c_str(), tmp.c_str()) == 0) {
      if (::rename(tmp.c_str(), backup_path().c_str()) != 0) {
        error = fs::ErrnoText(errno);
        ok = false;
      }
      // rename() does nothing when both names are links to one file (the
      // backup already is the current file, after a crash between the two
      // renames of a save); the temp name must go either way.
      ::unlink(tmp.c_str());
    } else {
      std::string previous;
      ok = fs::ReadFile(path_, &previous, &error) &&
           fs::WriteFileAtomic(backup_path(), previous, 0600, &error);
    }
    if (!ok) {
      diags.Error("E0804", SourceRange{}, "cannot keep a backup of the state in " + backup_path() + ": " + error);
      return false;
    }
  }
  if (!fs::WriteFileAtomic(path_, text, 0600, &error)) {
    Diagnostic& d = diags.Error("E0804", SourceRange{}, "cannot write state file " + path_ + ": " + error);
    d.notes.push_back("the state on disk is the previous complete version; nothing was half-written");
    return false;
  }
  file_id_ = Stat();
  (void)expected;
  RecordHistory(serial, lineage);
  return true;
}

// Keeps version `serial` in history/: a hard link to the file just written
// (files are replaced by rename, never changed in place, so the link keeps
// this version), one line in history/log.jsonl, and drops the version that
// falls out of the retention window. History is a convenience: failures here
// never fail the write.
void LocalBackend::RecordHistory(int64_t serial, const std::string& lineage) {
  if (keep_history_ <= 0) return;
  std::string error;
  std::string dir = history_dir();
  if (::mkdir(dir.c_str(), 0700) != 0 && errno != EEXIST) return;
  std::string target = history_path(serial);
  ::unlink(target.c_str());
  if (::link(path_.c_str(), target.c_str()) != 0) {
    std::string text;
    if (!fs::ReadFile(path_, &text, &error)) return;
    std::ofstream out(target, std::ios::binary | std::ios::trunc);
    out << text;
  }
  json line = {{"serial", serial},
               {"lineage", lineage},
               {"time", NowUtc()},
               {"who", CurrentUser() + "@" + CurrentHost()},
               {"operation", operation_}};
  std::ofstream log(dir + "/log.jsonl", std::ios::app);
  log << line.dump() << "\n";
  log.close();
  ::chmod((dir + "/log.jsonl").c_str(), 0600);
  if (serial > keep_history_) ::unlink(history_path(serial - keep_history_).c_str());
}

bool LocalBackend::History(std::vector<HistoryEntry>* out, Diagnostics& diags) {
  out->clear();
  std::map<int64_t, HistoryEntry> by_serial;
  std::ifstream log(history_dir() + "/log.jsonl");
  std::string line;
  while (std::getline(log, line)) {
    json j = json::parse(line, nullptr, false);
    if (!j.is_object() || !j.contains("serial") || !j["serial"].is_number_integer()) continue;
    HistoryEntry e;
    e.serial = j["serial"].get<int64_t>();
    e.lineage = j.value("lineage", "");
    e.time = j.value("time", "");
    e.who = j.value("who", "");
    e.operation = j.value("operation", "");
    // A later line for the same serial (a rollback of a fresh lineage, a
    // state moved in) replaces the earlier one.
    by_serial[e.serial] = e;
  }
  for (auto& [serial, e] : by_serial) {
    struct stat st;
    if (StatFile(history_path(serial), &st)) out->push_back(e);
  }
  return true;
}

bool LocalBackend::ReadVersion(int64_t serial, std::string* text, Diagnostics& diags) {
  std::string error;
  bool missing = false;
  if (!fs::ReadFile(history_path(serial), text, &error, &missing)) {
    Diagnostic& d = diags.Error("E0835", SourceRange{},
                                missing ? "serial " + std::to_string(serial) + " is not in the history of " + path_
                                        : "cannot read " + history_path(serial) + ": " + error);
    d.help = "`kiln state history` lists the versions kept (the local backend keeps the last " +
             std::to_string(keep_history_) + ", `keep_history` in the backend block)";
    return false;
  }
  return true;
}

bool LocalBackend::ReadKey(std::string* key, bool* found, Diagnostics& diags) {
  std::string error;
  bool missing = false;
  *found = false;
  if (fs::ReadFile(key_path(), key, &error, &missing)) {
    *found = true;
    return true;
  }
  if (missing) return true;
  diags.Error("E0807", SourceRange{}, "cannot read state key file " + key_path() + ": " + error)
      .help = "check the file's permissions and owner";
  return false;
}

bool LocalBackend::WriteKey(const std::string& key, Diagnostics& diags) {
  std::string error;
  if (!fs::MakeParentDirs(key_path(), 0700, &error) ||
      !fs::WriteFileAtomic(key_path(), key, 0600, &error)) {
    diags.Error("E0804", SourceRange{}, "cannot write state key file " + key_path() + ": " + error);
    return false;
  }
  return true;
}

bool LocalBackend::Lock(const std::string& operation, std::chrono::milliseconds timeout,
                        Diagnostics& diags) {
  if (!lock_) lock_ = std::make_unique<StateLock>(lock_path());
  operation_ = operation;
  return lock_->Acquire(operation, timeout, diags);
}

void LocalBackend::Unlock() {
  if (lock_) lock_->Release();
}

std::optional<LockInfo> LocalBackend::Holder() { return StateLock::ReadHolder(lock_path()); }

bool LocalBackend::ForceUnlock(const std::string& id, Diagnostics& diags) {
  return StateLock::ForceUnlock(lock_path(), id, diags);
}

std::unique_ptr<IntentJournal> LocalBackend::OpenJournal() {
  return std::make_unique<Journal>(journal_path());
}

bool LocalBackend::DeleteAll(Diagnostics& diags) {
  for (const std::string& f : {path_, backup_path(), key_path(), journal_path()}) {
    if (::unlink(f.c_str()) != 0 && errno != ENOENT) {
      diags.Error("E0804", SourceRange{}, "cannot delete " + f + ": " + fs::ErrnoText(errno));
      return false;
    }
  }
  std::string base = BaseName(path_);
  std::string stem = base.size() > 5 && base.substr(base.size() - 5) == ".json" ? base.substr(0, base.size() - 5) : base;
  if (DIR* d = ::opendir(history_dir().c_str())) {
    while (struct dirent* e = ::readdir(d)) {
      std::string name = e->d_name;
      if (name.rfind(stem + ".", 0) == 0 || name == "log.jsonl") ::unlink((history_dir() + "/" + name).c_str());
    }
    ::closedir(d);
    ::rmdir(history_dir().c_str());
  }
  return true;
}

std::string LocalBackend::KeepCopy(Diagnostics& diags) {
  std::string text, error;
  if (!fs::ReadFile(path_, &text, &error)) {
    diags.Error("E0804", SourceRange{}, "cannot back up state file " + path_ + ": " + error);
    return "";
  }
  std::time_t now = std::time(nullptr);
  std::tm tm{};
  ::gmtime_r(&now, &tm);
  char stamp[32];
  std::strftime(stamp, sizeof stamp, "%Y%m%dT%H%M%SZ", &tm);
  std::string target = path_ + "." + stamp + ".backup";
  struct stat st;
  for (int n = 2; StatFile(target, &st); ++n) {
    target = path_ + "." + stamp + "-" + std::to_string(n) + ".backup";
  }
  if (!fs::WriteFileAtomic(target, text, 0600, &error)) {
    diags.Error("E0804", SourceRange{}, "cannot back up state file " + path_ + ": " + error);
    return "";
  }
  return target;
}

}  // namespace kiln::state
