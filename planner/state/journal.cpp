// The intent journal: JSON lines, appended and fsynced one record at a time.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>

#include "planner/state/fs.h"
#include "planner/state/state.h"

namespace kiln::state {

using nlohmann::json;

Journal::Journal(std::string path) : path_(std::move(path)) {}

Journal::~Journal() {
  if (fd_ >= 0) ::close(fd_);
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

bool Journal::Append(const json& record, Diagnostics& diags) {
  if (!OpenForAppend(diags)) return false;
  std::string line = record.dump() + "\n";
  // One write() so a record is never interleaved; O_APPEND places it.
  size_t done = 0;
  while (done < line.size()) {
    ssize_t n = ::write(fd_, line.data() + done, line.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      diags.Error("E0821", SourceRange{}, "cannot append to the intent journal " + path_ + ": " +
                                              fs::ErrnoText(errno));
      return false;
    }
    done += static_cast<size_t>(n);
  }
  if (::fdatasync(fd_) != 0) {
    diags.Error("E0821", SourceRange{}, "cannot sync the intent journal " + path_ + ": " +
                                            fs::ErrnoText(errno));
    return false;
  }
  return true;
}

bool Journal::BeginCreate(const JournalEntry& entry, Diagnostics& diags) {
  std::lock_guard<std::mutex> lock(mu_);
  json record = {{"op", "begin"},
                 {"address", entry.address},
                 {"kind", entry.kind},
                 {"provider", entry.provider},
                 {"provider_type", entry.provider_type},
                 {"started", entry.started.empty() ? NowUtc() : entry.started}};
  return Append(record, diags);
}

bool Journal::Complete(const std::string& address, Diagnostics& diags) {
  std::lock_guard<std::mutex> lock(mu_);
  return Append(json{{"op", "complete"}, {"address", address}}, diags);
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
  std::lock_guard<std::mutex> lock(mu_);
  Diagnostics read_diags;
  std::vector<JournalEntry> pending = ReadPending(read_diags);
  if (read_diags.HasErrors()) {
    diags.Append(read_diags);
    return false;
  }
  std::string text;
  for (const JournalEntry& e : pending) {
    text += json{{"op", "begin"},
                 {"address", e.address},
                 {"kind", e.kind},
                 {"provider", e.provider},
                 {"provider_type", e.provider_type},
                 {"started", e.started}}
                .dump() +
            "\n";
  }
  struct stat st;
  if (text.empty() && ::stat(path_.c_str(), &st) != 0) return true;  // no journal at all
  std::string error;
  if (!fs::WriteFileAtomic(path_, text, 0600, &error)) {
    diags.Error("E0821", SourceRange{}, "cannot compact the intent journal " + path_ + ": " + error);
    return false;
  }
  if (fd_ >= 0) {  // it points at the replaced file now
    ::close(fd_);
    fd_ = -1;
  }
  return true;
}

}  // namespace kiln::state
