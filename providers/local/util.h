// Small helpers shared by the local provider's parts (the provider, the
// lease layer and the job supervisor): JSON access, files written
// atomically, GPU requests and ranges, names derived from addresses.
#pragma once

#include <cstdint>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace kiln::local {

using json = nlohmann::json;
namespace fs = std::filesystem;

bool IsUnknown(const json& j);
json Unknown();
bool ContainsUnknown(const json& j);
std::string Str(const json& obj, const std::string& key, const std::string& def = "");
bool Bool(const json& obj, const std::string& key, bool def = false);
int64_t Int(const json& obj, const std::string& key, int64_t def);

struct GpuRequest {
  std::string model;  // "" = any
  int64_t memory = 0;
  int count = 0;
};
// A gpu value: null, "H100:4", {model, count} or {memory, count}.
bool ParseGpu(const json& j, GpuRequest* out, std::string* error);
// A range: {"min", "max"} or an int n (n..n); `def` when null.
bool ParseRange(const json& j, int64_t def, int64_t* min, int64_t* max);

// References to other resources arrive as their attribute objects: compare
// them by id, so a change in (say) a cluster's status does not look like a
// different cluster.
bool SameValue(const json& a, const json& b);

// A file name for an address: readable, cut to 48 characters, with a hash
// that keeps distinct addresses distinct.
std::string Slug(const std::string& address);

std::string ReadText(const fs::path& p);
// Written to p.tmp, then renamed: readers see the old or the new text.
bool WriteText(const fs::path& p, const std::string& text);
json ReadJson(const fs::path& p);
std::string Trimmed(std::string s);
std::string LastLines(const fs::path& log, int n);
std::string Join(const std::vector<int>& v, const std::string& sep);
// Milliseconds of a monotonic clock (for intervals, not dates).
int64_t SteadyMs();

// An exclusive lock on a file, across threads and processes (flock); held
// until destruction.
class FileLock {
 public:
  explicit FileLock(const fs::path& p);
  ~FileLock();
  FileLock(const FileLock&) = delete;
  FileLock& operator=(const FileLock&) = delete;

 private:
  int fd_ = -1;
};

}  // namespace kiln::local
