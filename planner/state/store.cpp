#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <ctime>

#include "planner/state/format.h"
#include "planner/state/fs.h"
#include "planner/state/state.h"

namespace kiln::state {

namespace {

bool HasHashes(const State& s) {
  for (const ResourceState& r : s.resources) {
    if (!r.sensitive_hashes.empty()) return true;
  }
  for (const auto& [name, o] : s.outputs) {
    if (!o.hash.empty()) return true;
  }
  return false;
}

bool StatFile(const std::string& path, struct stat* st) { return ::stat(path.c_str(), st) == 0; }

// Temp files (`P.tmp-<pid>-<n>`, `P.backup.tmp-<pid>`) left by a writer that
// was killed mid-write; removed once their writer is no longer running.
void RemoveStaleTempFiles(const std::string& path) {
  std::string dir = fs::DirName(path);
  std::string base = path.substr(path.rfind('/') == std::string::npos ? 0 : path.rfind('/') + 1);
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

StateStore::StateStore(std::string path)
    : path_(std::move(path)), body_cache_(std::make_unique<format::BodyCache>()) {}

StateStore::~StateStore() = default;

bool StateStore::Exists() const {
  struct stat st;
  return StatFile(path_, &st);
}

bool StateStore::Load(State* out, Diagnostics& diags) {
  std::lock_guard<std::mutex> lock(mu_);
  loaded_ = false;
  load_failed_ = false;
  RemoveStaleTempFiles(path_);
  std::string text, error;
  bool missing = false;
  State state;
  struct stat backup_st;
  std::string backup_mention = StatFile(backup_path(), &backup_st) ? backup_path() : "";
  if (!fs::ReadFile(path_, &text, &error, &missing)) {
    if (!missing) {
      load_failed_ = true;
      Diagnostic& d = diags.Error("E0800", SourceRange{}, "cannot read state file " + path_ + ": " + error);
      d.notes.push_back("kiln will not write state until it can read " + path_);
      if (!backup_mention.empty()) d.notes.push_back("the previous version of the state is in " + backup_mention);
      d.help = "check the file's permissions and owner (kiln needs to read and write it)";
      return false;
    }
    state.lineage = NewUuid();
    state.serial = 0;
    state.kiln_version = KILN_VERSION;
    file_id_ = FileId{};
    persisted_body_.clear();
    persisted_lineage_.clear();
    persisted_key_id_.clear();
    persisted_serial_ = 0;
  } else {
    struct stat st;
    if (!ParseState(text, path_, backup_mention, &state, diags)) {
      load_failed_ = true;
      return false;
    }
    if (StatFile(path_, &st)) {
      file_id_ = FileId{true, st.st_dev, st.st_ino, st.st_size,
                        int64_t(st.st_mtim.tv_sec) * 1000000000 + st.st_mtim.tv_nsec};
    }
    persisted_body_ = format::SerializeBody(state, body_cache_.get());
    persisted_lineage_ = state.lineage;
    persisted_key_id_ = state.hash_key_id;
    persisted_serial_ = state.serial;
  }

  // The hashing key.
  std::string key;
  bool key_missing = false;
  key_on_disk_ = false;
  key_matches_ = true;
  if (fs::ReadFile(key_path(), &key, &error, &key_missing)) {
    if (key.size() < 16) {
      load_failed_ = true;
      diags.Error("E0807", SourceRange{}, "state key file " + key_path() + " is too short (" +
                                              std::to_string(key.size()) + " bytes)")
          .help = "restore the key file; if it is lost, delete it and kiln will make a new one "
                  "(sensitive values then show as changed once)";
      return false;
    }
    key_on_disk_ = true;
  } else if (!key_missing) {
    load_failed_ = true;
    diags.Error("E0807", SourceRange{}, "cannot read state key file " + key_path() + ": " + error)
        .help = "check the file's permissions and owner";
    return false;
  } else {
    key = SensitiveHasher::NewKey();
  }
  hasher_ = SensitiveHasher(key);
  if (HasHashes(state) && state.hash_key_id != hasher_.KeyId()) {
    key_matches_ = false;
    Diagnostic& d = diags.Warning(
        "W0808", SourceRange{},
        key_on_disk_ ? "state key file " + key_path() + " is not the key the state's sensitive values were hashed with"
                     : "state key file " + key_path() + " is missing; the state's sensitive values were hashed with it");
    d.notes.push_back("sensitive values cannot be compared with the configuration, so they are treated as changed");
    d.help = "restore " + key_path() + " from where the state came from, or apply once to re-record the values";
  }
  current_ = state;
  loaded_ = true;
  edit_gen_ = written_gen_ = failed_gen_ = 0;
  *out = std::move(state);
  return true;
}

State StateStore::Current() const {
  std::lock_guard<std::mutex> lock(mu_);
  return current_;
}

void StateStore::Read(const std::function<void(const State&)>& read) const {
  std::lock_guard<std::mutex> lock(mu_);
  read(current_);
}

bool StateStore::Save(const State& state, Diagnostics& diags) {
  return Update([&state](State& s) { s = state; }, diags);
}

std::string StateStore::CheckUnchangedOnDisk() const {
  struct stat st;
  bool exists = StatFile(path_, &st);
  if (!exists && !file_id_.exists) return "";
  if (exists != file_id_.exists) {
    return file_id_.exists ? path_ + " was removed since kiln read it"
                           : path_ + " was created by someone else since kiln looked for it";
  }
  FileId now{true, st.st_dev, st.st_ino, st.st_size,
             int64_t(st.st_mtim.tv_sec) * 1000000000 + st.st_mtim.tv_nsec};
  if (!(now == file_id_)) return path_ + " was changed by someone else since kiln read it";
  return "";
}

bool StateStore::EnsureKeyFile(Diagnostics& diags) {
  if (key_on_disk_) return true;
  std::string error;
  if (!fs::MakeParentDirs(key_path(), 0700, &error) ||
      !fs::WriteFileAtomic(key_path(), hasher_.key(), 0600, &error)) {
    diags.Error("E0804", SourceRange{}, "cannot write state key file " + key_path() + ": " + error);
    return false;
  }
  key_on_disk_ = true;
  return true;
}

bool StateStore::Update(const std::function<void(State&)>& edit, Diagnostics& diags) {
  std::unique_lock<std::mutex> lock(mu_);
  if (!loaded_) {
    Diagnostic& d = diags.Error("E0806", SourceRange{},
                                load_failed_ ? "refusing to write state: " + path_ + " could not be read"
                                             : "internal error: state saved before it was loaded");
    d.notes.push_back(path_ + " is left as it is");
    return false;
  }
  int64_t serial = current_.serial;
  edit(current_);
  current_.serial = serial;
  uint64_t my_gen = ++edit_gen_;
  while (written_gen_ < my_gen) {
    if (failed_gen_ >= my_gen) {
      diags.Add(failure_);
      return false;
    }
    if (writing_) {
      written_cv_.wait(lock);
      continue;
    }
    // This thread writes everything edited so far.
    uint64_t gen = edit_gen_;
    current_.hash_key_id = HasHashes(current_) ? hasher_.KeyId() : "";
    std::string body = format::SerializeBody(current_, body_cache_.get());
    if (file_id_.exists && body == persisted_body_ && current_.lineage == persisted_lineage_ &&
        current_.hash_key_id == persisted_key_id_) {
      written_gen_ = gen;  // nothing changed: nothing to write, serial stays
      break;
    }
    State header;  // only the header fields: copying resources would cost O(n)
    header.lineage = current_.lineage;
    header.hash_key_id = current_.hash_key_id;
    header.deposed = current_.deposed;  // decides the version written (few, if any)
    header.serial = persisted_serial_ + 1;
    header.kiln_version = KILN_VERSION;
    std::string text = format::Assemble(format::SerializeHeader(header), body);
    bool need_key = !current_.hash_key_id.empty() && !key_on_disk_;
    writing_ = true;
    lock.unlock();

    Diagnostics io;
    bool ok = true;
    std::string error;
    FileId written;
    if (std::string changed = CheckUnchangedOnDisk(); !changed.empty()) {
      Diagnostic& d = io.Error("E0805", SourceRange{}, "refusing to write state: " + changed);
      d.notes.push_back("another process wrote the state without holding the lock");
      d.help = "run kiln again so that it reads the current state";
      ok = false;
    }
    if (ok && need_key) ok = EnsureKeyFile(io);
    if (ok && !fs::MakeParentDirs(path_, 0700, &error)) {
      io.Error("E0804", SourceRange{}, "cannot write state: " + error);
      ok = false;
    }
    if (ok && file_id_.exists) {
      // The previous version becomes the backup: a hard link is atomic and
      // copies nothing; fall back to a copy where links are not supported.
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
      if (!ok) io.Error("E0804", SourceRange{}, "cannot keep a backup of the state in " + backup_path() + ": " + error);
    }
    if (ok && !fs::WriteFileAtomic(path_, text, 0600, &error)) {
      Diagnostic& d = io.Error("E0804", SourceRange{}, "cannot write state file " + path_ + ": " + error);
      d.notes.push_back("the state on disk is the previous complete version; nothing was half-written");
      ok = false;
    }
    if (ok) {
      struct stat st;
      if (StatFile(path_, &st)) {
        written = FileId{true, st.st_dev, st.st_ino, st.st_size,
                         int64_t(st.st_mtim.tv_sec) * 1000000000 + st.st_mtim.tv_nsec};
      }
    }

    lock.lock();
    writing_ = false;
    if (ok) {
      file_id_ = written;
      persisted_body_ = std::move(body);
      persisted_lineage_ = current_.lineage;
      persisted_key_id_ = header.hash_key_id;
      persisted_serial_ = header.serial;
      current_.serial = header.serial;
      current_.kiln_version = header.kiln_version;
      written_gen_ = gen;
    } else {
      failed_gen_ = gen;
      failure_ = io.items().front();
    }
    written_cv_.notify_all();
  }
  return true;
}

std::string StateStore::BackupCopy(Diagnostics& diags) const {
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
