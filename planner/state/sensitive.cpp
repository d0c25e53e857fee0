// Keyed hashes of sensitive values (HMAC-SHA256 over LLVM's SHA-256).
#include <fcntl.h>
#include <unistd.h>

#include <algorithm>

#include "core/hash.h"
#include "core/wire.h"
#include "planner/state/state.h"

namespace kiln::state {

using nlohmann::json;

std::string HmacSha256(const std::string& key, const std::string& message) {
  constexpr size_t kBlock = 64;
  std::string k = key.size() > kBlock ? Sha256(key) : key;
  k.resize(kBlock, '\0');
  std::string inner(kBlock, '\0'), outer(kBlock, '\0');
  for (size_t i = 0; i < kBlock; ++i) {
    inner[i] = static_cast<char>(k[i] ^ 0x36);
    outer[i] = static_cast<char>(k[i] ^ 0x5c);
  }
  return Sha256(outer + Sha256(inner + message));
}

std::string SensitiveHasher::Hash(const json& value) const {
  return "hmac-sha256:" +
         ToHex(HmacSha256(key_, value.dump(-1, ' ', false, json::error_handler_t::replace)));
}

bool SensitiveHasher::Same(const json& value, const std::string& hash) const {
  std::string mine = Hash(value);
  if (mine.size() != hash.size()) return false;
  unsigned char diff = 0;  // constant time: the hash is the only secret-derived thing we hold
  for (size_t i = 0; i < mine.size(); ++i) diff |= static_cast<unsigned char>(mine[i] ^ hash[i]);
  return diff == 0;
}

std::string SensitiveHasher::KeyId() const {
  if (key_.empty()) return "";
  return ToHex(HmacSha256(key_, "kiln state key id")).substr(0, 16);
}

std::string SensitiveHasher::NewKey() {
  std::string key(32, '\0');
  int fd = ::open("/dev/urandom", O_RDONLY | O_CLOEXEC);
  size_t got = 0;
  if (fd >= 0) {
    while (got < key.size()) {
      ssize_t n = ::read(fd, key.data() + got, key.size() - got);
      if (n <= 0) break;
      got += static_cast<size_t>(n);
    }
    ::close(fd);
  }
  if (got < key.size()) {
    // No urandom: fall back to uuids (themselves urandom-or-time based).
    std::string more = NewUuid() + NewUuid();
    key = Sha256(more);
  }
  return key;
}

std::string PathToPointer(const Path& path) {
  std::string out;
  for (const std::string& step : path) {
    out += '/';
    for (char c : step) {
      if (c == '~') {
        out += "~0";
      } else if (c == '/') {
        out += "~1";
      } else {
        out += c;
      }
    }
  }
  return out;
}

Path PointerToPath(const std::string& pointer) {
  Path out;
  if (pointer.empty()) return out;
  size_t pos = pointer[0] == '/' ? 1 : 0;
  std::string step;
  for (size_t i = pos; i <= pointer.size(); ++i) {
    if (i == pointer.size() || pointer[i] == '/') {
      out.push_back(step);
      step.clear();
      continue;
    }
    if (pointer[i] == '~' && i + 1 < pointer.size() && (pointer[i + 1] == '0' || pointer[i + 1] == '1')) {
      step += pointer[i + 1] == '0' ? '~' : '/';
      ++i;
      continue;
    }
    step += pointer[i];
  }
  return out;
}

Redacted RedactForState(const json& attributes, const std::vector<Path>& paths,
                        const SensitiveHasher& hasher) {
  Redacted out;
  out.attributes = attributes;
  // Shortest first, so a path under an already redacted one finds the
  // placeholder (a string) and stops.
  std::vector<Path> sorted = paths;
  std::sort(sorted.begin(), sorted.end(), [](const Path& a, const Path& b) {
    return a.size() != b.size() ? a.size() < b.size() : a < b;
  });
  sorted.erase(std::unique(sorted.begin(), sorted.end()), sorted.end());
  for (const Path& path : sorted) {
    if (path.empty()) continue;
    json* value = AtPath(out.attributes, path);
    if (value == nullptr || value->is_null() || IsUnknown(*value)) continue;
    out.hashes[PathToPointer(path)] = hasher.Hash(*value);
    *value = kSensitivePlaceholder;
  }
  return out;
}

json RestoreSensitive(const json& attributes, const std::map<std::string, std::string>& hashes,
                      const json& source, const SensitiveHasher& hasher) {
  json out = attributes;
  for (const auto& [pointer, hash] : hashes) {
    Path path = PointerToPath(pointer);
    const json* candidate = AtPath(source, path);
    if (candidate == nullptr || IsUnknown(*candidate) || !hasher.Same(*candidate, hash)) continue;
    json* slot = AtPath(out, path);
    if (slot == nullptr || *slot != kSensitivePlaceholder) continue;
    *slot = *candidate;
  }
  return out;
}

}  // namespace kiln::state
