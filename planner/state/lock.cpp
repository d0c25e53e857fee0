// The state lock: flock() on P.lock for exclusion, JSON inside for humans.
#include <fcntl.h>
#include <pwd.h>
#include <signal.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <thread>

#include "planner/state/fs.h"
#include "planner/state/state.h"

namespace kiln::state {

using nlohmann::json;

namespace {

json InfoToJson(const LockInfo& info) {
  return {{"id", info.id},       {"pid", info.pid},
          {"user", info.user},   {"host", info.host},
          {"operation", info.operation}, {"since", info.since}};
}

std::optional<LockInfo> InfoFromText(const std::string& text) {
  json j = json::parse(text, nullptr, false);
  if (j.is_discarded() || !j.is_object()) return std::nullopt;
  LockInfo info;
  info.id = j.value("id", "");
  info.pid = j.value("pid", int64_t{0});
  info.user = j.value("user", "");
  info.host = j.value("host", "");
  info.operation = j.value("operation", "");
  info.since = j.value("since", "");
  if (info.id.empty()) return std::nullopt;
  return info;
}


bool SameFile(int fd, const std::string& path) {
  struct stat a, b;
  if (::fstat(fd, &a) != 0 || ::stat(path.c_str(), &b) != 0) return false;
  return a.st_dev == b.st_dev && a.st_ino == b.st_ino;
}

}  // namespace

std::string CurrentUser() {
  if (const char* u = ::getenv("USER"); u && *u) return u;
  if (struct passwd* pw = ::getpwuid(::getuid())) return pw->pw_name;
  return std::to_string(::getuid());
}

std::string CurrentHost() {
  char buf[256] = {};
  if (::gethostname(buf, sizeof buf - 1) != 0) return "unknown";
  return buf;
}

std::string DescribeHolder(const LockInfo& info) {
  return "pid " + std::to_string(info.pid) + ", user " + info.user + ", host " + info.host +
         ", operation \"" + info.operation + "\", since " + info.since;
}

bool ParseDuration(const std::string& text, std::chrono::milliseconds* out) {
  if (text.empty()) return false;
  size_t i = 0;
  while (i < text.size() && std::isdigit(static_cast<unsigned char>(text[i]))) ++i;
  if (i == 0 || i > 12) return false;
  int64_t n = std::stoll(text.substr(0, i));
  std::string unit = text.substr(i);
  int64_t ms;
  if (unit == "ms") {
    ms = n;
  } else if (unit == "s" || (unit.empty() && n == 0)) {
    ms = n * 1000;
  } else if (unit == "m") {
    ms = n * 60 * 1000;
  } else if (unit == "h") {
    ms = n * 3600 * 1000;
  } else {
    return false;
  }
  *out = std::chrono::milliseconds(ms);
  return true;
}

StateLock::StateLock(std::string lock_path) : path_(std::move(lock_path)) {}

StateLock::~StateLock() { Release(); }

bool StateLock::Acquire(const std::string& operation, std::chrono::milliseconds timeout,
                        Diagnostics& diags) {
  if (held()) return true;
  std::string error;
  if (!fs::MakeParentDirs(path_, 0700, &error)) {
    diags.Error("E0811", SourceRange{}, "cannot create the state lock " + path_ + ": " + error);
    return false;
  }
  auto deadline = std::chrono::steady_clock::now() + timeout;
  auto pause = std::chrono::milliseconds(10);
  while (true) {
    int fd = ::open(path_.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (fd < 0) {
      diags.Error("E0811", SourceRange{}, "cannot open the state lock " + path_ + ": " +
                                              fs::ErrnoText(errno));
      return false;
    }
    if (::flock(fd, LOCK_EX | LOCK_NB) == 0) {
      // The file we locked may have been unlinked (released or force-unlocked)
      // between our open and our flock; then it excludes nobody: retry.
      if (!SameFile(fd, path_)) {
        ::close(fd);
        continue;
      }
      LockInfo info{NewUuid(), ::getpid(), CurrentUser(), CurrentHost(), operation, NowUtc()};
      std::string text = InfoToJson(info).dump() + "\n";
      bool ok = ::ftruncate(fd, 0) == 0 &&
                ::pwrite(fd, text.data(), text.size(), 0) == static_cast<ssize_t>(text.size());
      if (!ok) {
        diags.Error("E0811", SourceRange{}, "cannot write the state lock " + path_ + ": " +
                                                fs::ErrnoText(errno));
        ::unlink(path_.c_str());
        ::close(fd);
        return false;
      }
      ::fsync(fd);
      fd_ = fd;
      info_ = info;
      return true;
    }
    int err = errno;
    ::close(fd);
    if (err != EWOULDBLOCK && err != EINTR) {
      diags.Error("E0811", SourceRange{}, "cannot lock " + path_ + ": " + fs::ErrnoText(err));
      return false;
    }
    auto now = std::chrono::steady_clock::now();
    if (now >= deadline) break;
    std::this_thread::sleep_for(std::min<std::chrono::steady_clock::duration>(pause, deadline - now));
    pause = std::min(pause * 2, std::chrono::milliseconds(250));
  }

  std::optional<LockInfo> holder = ReadHolder(path_);
  Diagnostic& d = diags.Error("E0810", SourceRange{},
                              holder ? "the state is locked by another kiln (" + DescribeHolder(*holder) + ")"
                                     : "the state is locked by another process (" + path_ + ")");
  d.notes.push_back("waited " + std::to_string(timeout.count()) + "ms for the lock " + path_);
  if (holder) {
    d.notes.push_back("lock id: " + holder->id);
    bool dead = holder->host == CurrentHost() && holder->pid > 0 &&
                ::kill(static_cast<pid_t>(holder->pid), 0) != 0 && errno == ESRCH;
    if (dead) {
      d.notes.push_back("process " + std::to_string(holder->pid) + " no longer runs on " +
                        holder->host + "; a child it started may still hold the lock");
      d.help = "if no kiln is running, remove the stale lock with `kiln force-unlock " + holder->id + "`";
    } else {
      d.help = "wait for it to finish, or pass a longer --lock-timeout; if it is stuck, "
               "`kiln force-unlock " + holder->id + "` removes the lock";
    }
  } else {
    d.help = "wait for it to finish, or pass a longer --lock-timeout";
  }
  return false;
}

void StateLock::Release() {
  if (fd_ < 0) return;
  // Unlink while still holding the flock, so a waiter that opened the old
  // file notices (SameFile) and retries on a fresh one. Only unlink if the
  // path is still ours: after a force-unlock it may be someone else's.
  if (SameFile(fd_, path_)) ::unlink(path_.c_str());
  ::close(fd_);
  fd_ = -1;
}

std::optional<LockInfo> StateLock::ReadHolder(const std::string& lock_path) {
  // A holder may be between ftruncate and write; give it a moment.
  for (int attempt = 0; attempt < 5; ++attempt) {
    std::string text, error;
    bool missing = false;
    if (!fs::ReadFile(lock_path, &text, &error, &missing)) return std::nullopt;
    if (auto info = InfoFromText(text)) return info;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return std::nullopt;
}

bool StateLock::ForceUnlock(const std::string& lock_path, const std::string& id,
                            Diagnostics& diags) {
  std::string text, error;
  bool missing = false;
  if (!fs::ReadFile(lock_path, &text, &error, &missing)) {
    if (missing) {
      diags.Error("E0813", SourceRange{}, "the state is not locked (no " + lock_path + ")")
          .help = "nothing to unlock";
    } else {
      diags.Error("E0811", SourceRange{}, "cannot read the state lock " + lock_path + ": " + error);
    }
    return false;
  }
  std::optional<LockInfo> holder = InfoFromText(text);
  if (!holder || holder->id != id) {
    Diagnostic& d = diags.Error("E0814", SourceRange{},
                                "lock id " + id + " does not match the current lock" +
                                    (holder ? " (" + holder->id + ")" : ""));
    if (holder) {
      d.notes.push_back("the lock is held by " + DescribeHolder(*holder));
      d.help = "check that this is the lock you mean, then run `kiln force-unlock " + holder->id + "`";
    } else {
      d.notes.push_back(lock_path + " does not name a holder (a lock being taken right now?)");
    }
    return false;
  }
  if (::unlink(lock_path.c_str()) != 0 && errno != ENOENT) {
    diags.Error("E0811", SourceRange{}, "cannot remove the state lock " + lock_path + ": " +
                                            fs::ErrnoText(errno));
    return false;
  }
  return true;
}

}  // namespace kiln::state
