#include "planner/state/fs.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <random>

namespace kiln::state::fs {

std::string ErrnoText(int err) { return std::strerror(err); }

std::string DirName(const std::string& path) {
  size_t slash = path.rfind('/');
  if (slash == std::string::npos) return ".";
  if (slash == 0) return "/";
  return path.substr(0, slash);
}

bool ReadFile(const std::string& path, std::string* content, std::string* error, bool* missing) {
  if (missing) *missing = false;
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    if (missing && errno == ENOENT) *missing = true;
    *error = ErrnoText(errno);
    return false;
  }
  content->clear();
  char buf[65536];
  while (true) {
    ssize_t n = ::read(fd, buf, sizeof buf);
    if (n < 0) {
      if (errno == EINTR) continue;
      *error = ErrnoText(errno);
      ::close(fd);
      return false;
    }
    if (n == 0) break;
    content->append(buf, static_cast<size_t>(n));
  }
  ::close(fd);
  return true;
}

bool SyncParentDir(const std::string& path, std::string* error) {
  int dfd = ::open(DirName(path).c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dfd < 0) {
    *error = ErrnoText(errno);
    return false;
  }
  bool ok = ::fsync(dfd) == 0 || errno == EINVAL;  // some filesystems can't sync dirs
  if (!ok) *error = ErrnoText(errno);
  ::close(dfd);
  return ok;
}

bool MakeParentDirs(const std::string& path, int mode, std::string* error) {
  std::string dir = DirName(path);
  if (dir == "." || dir == "/") return true;
  std::string partial;
  size_t pos = 0;
  while (pos != std::string::npos) {
    pos = dir.find('/', pos + 1);
    partial = dir.substr(0, pos);
    if (partial.empty()) continue;
    if (::mkdir(partial.c_str(), static_cast<mode_t>(mode)) != 0 && errno != EEXIST) {
      *error = "cannot create " + partial + ": " + ErrnoText(errno);
      return false;
    }
  }
  return true;
}

static bool WriteAll(int fd, const std::string& content) {
  size_t done = 0;
  while (done < content.size()) {
    ssize_t n = ::write(fd, content.data() + done, content.size() - done);
    if (n < 0) {
      if (errno == EINTR) continue;
      return false;
    }
    done += static_cast<size_t>(n);
  }
  return true;
}

bool WriteFileAtomic(const std::string& path, const std::string& content, int mode,
                     std::string* error) {
  // A unique temp name: several processes may (wrongly) race; never share one.
  static thread_local std::mt19937_64 rng{std::random_device{}()};
  std::string tmp = path + ".tmp-" + std::to_string(::getpid()) + "-" + std::to_string(rng() % 1000000);
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, static_cast<mode_t>(mode));
  if (fd < 0) {
    *error = "cannot create " + tmp + ": " + ErrnoText(errno);
    return false;
  }
  auto fail = [&](const std::string& what) {
    *error = what + " " + tmp + ": " + ErrnoText(errno);
    ::close(fd);
    ::unlink(tmp.c_str());
    return false;
  };
  // The umask may have narrowed the mode; state must be exactly `mode`.
  if (::fchmod(fd, static_cast<mode_t>(mode)) != 0) return fail("cannot chmod");
  if (!WriteAll(fd, content)) return fail("cannot write");
  if (::fsync(fd) != 0) return fail("cannot fsync");
  if (::close(fd) != 0) {
    *error = "cannot close " + tmp + ": " + ErrnoText(errno);
    ::unlink(tmp.c_str());
    return false;
  }
  if (::rename(tmp.c_str(), path.c_str()) != 0) {
    *error = "cannot rename " + tmp + " to " + path + ": " + ErrnoText(errno);
    ::unlink(tmp.c_str());
    return false;
  }
  return SyncParentDir(path, error);
}

}  // namespace kiln::state::fs
