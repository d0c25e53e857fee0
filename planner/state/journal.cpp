// The intent journal: JSON lines, appended in order under a mutex and
// group-committed (one fdatasync covers every record written before it).
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>

#include "planner/state/fs.h"
#include "planner/state/state.h"

namespace kiln::state {

using nlohmann::json;

namespace {

json BeginRecord(const JournalEntry& entry) {
  return json{{"op", "begin"},
              {"address", entry.address},
              {"kind", entry.kind},
              {"provider", entry.provider},
              {"provider_type", entry.provider_type},
              {"started", entry.started.empty() ? NowUtc() : entry.started}};
}

}  // namespace

Journal::Journal(std::string path) : path_(std::move(path)) {}

Journal::~Journal() {
  if (fd_ < 0) return;
  // Best effort for unsynced Completes; losing them is harmless anyway.
  if (synced_seq_ < written_seq_ && broken_.empty()) ::fdatasync(fd_);
  ::close(fd_);
}

bool Journal::OpenForAppend(Diagnostics& diags) {
  if (fd_ >= 0) return true;
  std::string error;
  if (!fs::MakeParentDirs(path_, 0700, &error)) {
    diags.Error("E0821", SourceRange{}, "cannot write the intent journal " + path_ + ": " + error);
    return false;
  }
  int fd = ::open(path_.c_str(), O_RDWR | O_APPEND | O_CREAT | O_CLOEXEC, 0600);
  if (fd < 0) {
    diags.Error("E0821", SourceRange{}, "cannot open the intent journal " + path_ + ": " +
                                            fs::ErrnoText(errno));
    return false;
  }
  // A crash mid-append leaves a torn last line; cut it off so the next
  // record starts on a line of its own. (It was never acknowledged, so the
  // create it announced was never sent.)
  struct stat st;
  if (::fstat(fd, &st) == 0 && st.st_size > 0) {
    std::string text;
    if (fs::ReadFile(path_, &text, &error) && !text.empty() && text.back() != '\n') {
      size_t keep = text.rfind('\n');
      keep = keep == std::string::npos ? 0 : keep + 1;
      if (::ftruncate(fd, static_cast<off_t>(keep)) != 0) {
        diags.Error("E0821", SourceRange{}, "cannot repair the intent journal " + path_ + ": " +
                                                fs::ErrnoText(errno));
        ::close(fd);
        return false;
      }
    }
  }
  fs::SyncParentDir(path_, &error);
  fd_ = fd;
  return true;
}

uint64_t Journal::WriteLocked(const json& record, Diagnostics& diags) {
  if (!broken_.empty()) {
    diags.Error("E0821", SourceRange{}, broken_);
    return 0;
  }
  if (!OpenForAppend(diags)) return 0;
  std::string line = record.dump() + "\n";
  // Records are written under mu_, whole, in order; O_APPEND places them.
  size_t done = 0;
  while (done < line.size()) {
    ssize_t n = ::write(fd_, line.data() + done, line.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      diags.Error("E0821", SourceRange{}, "cannot append to the intent journal " + path_ + ": " +
                                              fs::ErrnoText(errno));
      return 0;
    }
    done += static_cast<size_t>(n);
  }
  return ++written_seq_;
}

bool Journal::SyncThrough(uint64_t seq, std::unique_lock<std::mutex>& lock, Diagnostics& diags) {
  while (synced_seq_ < seq) {
    if (!broken_.empty()) {
      diags.Error("E0821", SourceRange{}, broken_);
      return false;
    }
    if (syncing_) {
      // A sync is running; it may or may not cover `seq`. Wait for it, then
      // look again (leading the next group if it did not).
      synced_cv_.wait(lock, [&] { return !syncing_; });
      continue;
    }
    // Lead a group: one fdatasync for every record written so far, outside
    // the mutex so that other appenders can write the next group meanwhile.
    syncing_ = true;
    uint64_t target = written_seq_;
    int fd = fd_;
    lock.unlock();
    int rc = ::fdatasync(fd);
    int err = errno;
    lock.lock();
    syncing_ = false;
    if (rc != 0) {
      broken_ = "cannot sync the intent journal " + path_ + ": " + fs::ErrnoText(err);
    } else {
      synced_seq_ = std::max(synced_seq_, target);
    }
    synced_cv_.notify_all();
  }
  return true;
}

bool Journal::BeginCreate(const JournalEntry& entry, Diagnostics& diags) {
  std::unique_lock<std::mutex> lock(mu_);
  uint64_t seq = WriteLocked(BeginRecord(entry), diags);
  if (seq == 0) return false;
  // The create must not reach the provider before its intent is durable.
  return SyncThrough(seq, lock, diags);
}

uint64_t Journal::Announce(const JournalEntry& entry, Diagnostics& diags) {
  std::lock_guard<std::mutex> lock(mu_);
  return WriteLocked(BeginRecord(entry), diags);
}

bool Journal::WaitDurable(uint64_t seq, Diagnostics& diags) {
  std::unique_lock<std::mutex> lock(mu_);
  return SyncThrough(seq, lock, diags);
}

bool Journal::Sync(Diagnostics& diags) {
  std::unique_lock<std::mutex> lock(mu_);
  return SyncThrough(written_seq_, lock, diags);
}

bool Journal::Complete(const std::string& address, Diagnostics& diags) {
  std::lock_guard<std::mutex> lock(mu_);
  // Not synced here (see the class comment): the next group or Compact does.
  return WriteLocked(json{{"op", "complete"}, {"address", address}}, diags) != 0;
}

std::vector<JournalEntry> Journal::ReadPending(Diagnostics& diags) const {
  std::string text, error;
  bool missing = false;
  std::map<std::string, JournalEntry> pending;
  if (!fs::ReadFile(path_, &text, &error, &missing)) {
    if (!missing) {
      diags.Error("E0821", SourceRange{}, "cannot read the intent journal " + path_ + ": " + error);
    }
    return {};
  }
  size_t line_no = 0;
  size_t pos = 0;
  while (pos < text.size()) {
    size_t end = text.find('\n', pos);
    ++line_no;
    if (end == std::string::npos) break;  // torn last line: never acknowledged
    std::string line = text.substr(pos, end - pos);
    pos = end + 1;
    if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
    json record = json::parse(line, nullptr, false);
    std::string op = record.is_object() ? record.value("op", "") : "";
    std::string address = record.is_object() ? record.value("address", "") : "";
    if (address.empty() || (op != "begin" && op != "complete")) {
      diags.Warning("W0820", SourceRange{},
                    "ignoring unreadable line " + std::to_string(line_no) + " of the intent journal " + path_)
          .notes.push_back("if it announced a create, check that object by hand (`kiln import` adopts it)");
      continue;
    }
    if (op == "complete") {
      pending.erase(address);
      continue;
    }
    JournalEntry e;
    e.address = address;
    e.kind = record.value("kind", "");
    e.provider = record.value("provider", "");
    e.provider_type = record.value("provider_type", "");
    e.started = record.value("started", "");
    pending[address] = std::move(e);
  }
  std::vector<JournalEntry> out;
  out.reserve(pending.size());
  for (auto& [address, e] : pending) out.push_back(std::move(e));
  return out;
}

std::vector<JournalEntry> Journal::Pending(Diagnostics& diags) const {
  std::lock_guard<std::mutex> lock(mu_);
  return ReadPending(diags);
}

bool Journal::Compact(Diagnostics& diags) {
  std::unique_lock<std::mutex> lock(mu_);
  // A leader may be syncing fd_ outside the mutex; it must not be closed
  // under it.
  synced_cv_.wait(lock, [&] { return !syncing_; });
  Diagnostics read_diags;
  std::vector<JournalEntry> pending = ReadPending(read_diags);
  if (read_diags.HasErrors()) {
    diags.Append(read_diags);
    return false;
  }
  std::string text;
  for (const JournalEntry& e : pending) {
    text += BeginRecord(e).dump() + "\n";
  }
  struct stat st;
  if (text.empty() && ::stat(path_.c_str(), &st) != 0) return true;  // no journal at all
  if (text.empty()) {
    // Nothing pending: empty the file in place, without a sync. Should the
    // truncation be lost in a crash, the old records come back, and every
    // begin in them is completed or names an object already in state (the
    // next plan reads it back once): harmless, and it keeps an fsync off
    // the end of every apply.
    if (::truncate(path_.c_str(), 0) != 0) {
      diags.Error("E0821", SourceRange{}, "cannot compact the intent journal " + path_ + ": " +
                                              fs::ErrnoText(errno));
      return false;
    }
    synced_seq_ = written_seq_;  // nothing left that could need a sync
    return true;
  }
  std::string error;
  if (!fs::WriteFileAtomic(path_, text, 0600, &error)) {
    diags.Error("E0821", SourceRange{}, "cannot compact the intent journal " + path_ + ": " + error);
    return false;
  }
  if (fd_ >= 0) {  // it points at the replaced file now
    ::close(fd_);
    fd_ = -1;
  }
  // The atomic rewrite was synced: everything written so far is settled.
  synced_seq_ = written_seq_;
  return true;
}

}  // namespace kiln::state
