#include "providers/local/util.h"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <cctype>
#include <chrono>
#include <cstdio>
#include <fstream>

namespace kiln::local {

bool IsUnknown(const json& j) { return j.is_object() && j.contains("$unknown"); }
json Unknown() { return {{"$unknown", true}}; }

bool ContainsUnknown(const json& j) {
  if (IsUnknown(j)) return true;
  if (j.is_structured())
    for (const auto& v : j)
      if (ContainsUnknown(v)) return true;
  return false;
}

std::string Str(const json& obj, const std::string& key, const std::string& def) {
  if (!obj.is_object() || !obj.contains(key) || !obj[key].is_string()) return def;
  return obj[key].get<std::string>();
}

bool Bool(const json& obj, const std::string& key, bool def) {
  if (!obj.is_object() || !obj.contains(key) || !obj[key].is_boolean()) return def;
  return obj[key].get<bool>();
}

int64_t Int(const json& obj, const std::string& key, int64_t def) {
  if (!obj.is_object() || !obj.contains(key) || !obj[key].is_number()) return def;
  return obj[key].get<int64_t>();
}

bool ParseGpu(const json& j, GpuRequest* out, std::string* error) {
  if (j.is_null()) return true;
  if (IsUnknown(j)) {
    *error = "the gpu request is not known until apply";
    return false;
  }
  if (j.is_string()) {
    std::string s = j.get<std::string>();
    size_t colon = s.find(':');
    out->model = s.substr(0, colon);
    out->count = 1;
    if (colon != std::string::npos) {
      try {
        out->count = std::stoi(s.substr(colon + 1));
      } catch (...) {
        *error = "`" + s + "` is not MODEL:COUNT";
        return false;
      }
    }
    return true;
  }
  if (!j.is_object()) {
    *error = "a gpu is a string \"MODEL:COUNT\" or a record";
    return false;
  }
  out->model = Str(j, "model");
  out->memory = Int(j, "memory", 0);
  out->count = static_cast<int>(Int(j, "count", 1));
  return true;
}

bool ParseRange(const json& j, int64_t def, int64_t* min, int64_t* max) {
  if (j.is_null()) {
    *min = *max = def;
    return true;
  }
  if (j.is_number_integer()) {
    *min = *max = j.get<int64_t>();
    return true;
  }
  if (j.is_object() && j.contains("min") && j["min"].is_number_integer()) {
    *min = j["min"].get<int64_t>();
    *max = j.contains("max") && j["max"].is_number_integer() ? j["max"].get<int64_t>() : *min;
    return true;
  }
  return false;
}

namespace {
json Identity(const json& v) {
  if (v.is_object() && v.contains("id") && !v.contains("$unknown")) return v["id"];
  if (v.is_object()) {
    json out = json::object();
    for (const auto& [k, e] : v.items()) out[k] = Identity(e);
    return out;
  }
  return v;
}
}  // namespace

bool SameValue(const json& a, const json& b) {
  if (IsUnknown(a) || IsUnknown(b)) return false;
  return Identity(a) == Identity(b);
}

std::string Slug(const std::string& address) {
  std::string s;
  for (char c : address) s += std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '-' ? c : '_';
  while (s.find("__") != std::string::npos) s.replace(s.find("__"), 2, "_");
  if (s.size() > 48) s.resize(48);
  uint32_t h = 2166136261u;  // FNV-1a keeps distinct addresses distinct after the cut
  for (unsigned char c : address) h = (h ^ c) * 16777619u;
  char buf[9];
  snprintf(buf, sizeof buf, "%08x", h);
  return s + "-" + buf;
}

std::string ReadText(const fs::path& p) {
  std::ifstream in(p);
  if (!in) return "";
  return std::string((std::istreambuf_iterator<char>(in)), {});
}

bool WriteText(const fs::path& p, const std::string& text) {
  fs::path tmp = p;
  tmp += ".tmp";
  {
    std::ofstream out(tmp, std::ios::trunc);
    if (!out) return false;
    out << text;
    out.flush();
    if (!out) {
      out.close();
      std::error_code ec;
      fs::remove(tmp, ec);  // a full disk leaves nothing half-written
      return false;
    }
  }
  std::error_code ec;
  fs::rename(tmp, p, ec);
  return !ec;
}

json ReadJson(const fs::path& p) {
  json j = json::parse(ReadText(p), nullptr, false);
  return j.is_discarded() ? json() : j;
}

std::string Trimmed(std::string s) {
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.pop_back();
  return s;
}

std::string LastLines(const fs::path& log, int n) {
  std::string text = ReadText(log);
  while (!text.empty() && text.back() == '\n') text.pop_back();
  size_t start = text.size();
  for (int seen = 0; start > 0;) {
    size_t nl = text.rfind('\n', start - 1);
    if (nl == std::string::npos) {
      start = 0;
      break;
    }
    start = nl;
    if (++seen == n) {
      ++start;
      break;
    }
  }
  if (start < text.size() && text[start] == '\n') ++start;
  return text.substr(start);
}

std::string Join(const std::vector<int>& v, const std::string& sep) {
  std::string out;
  for (size_t i = 0; i < v.size(); ++i) out += (i ? sep : "") + std::to_string(v[i]);
  return out;
}

FileLock::FileLock(const fs::path& p) {
  fd_ = open(p.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  if (fd_ >= 0) flock(fd_, LOCK_EX);
}

FileLock::~FileLock() {
  if (fd_ >= 0) close(fd_);
}

int64_t SteadyMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

}  // namespace kiln::local
