#include "core/wire.h"

#include <cstdlib>

namespace kiln {

using nlohmann::json;

json Unknown() { return json{{"$unknown", true}}; }

bool IsUnknown(const json& v) { return v.is_object() && v.size() == 1 && v.contains("$unknown"); }

bool ContainsUnknown(const json& v) {
  if (IsUnknown(v)) return true;
  if (v.is_object() || v.is_array())
    for (const auto& e : v)
      if (ContainsUnknown(e)) return true;
  return false;
}

namespace {

// A list index: decimal digits only, below `size`.
bool Index(const std::string& k, size_t size, size_t* out) {
  if (k.empty() || k.find_first_not_of("0123456789") != std::string::npos) return false;
  char* end = nullptr;
  unsigned long i = std::strtoul(k.c_str(), &end, 10);
  if (i >= size) return false;
  *out = i;
  return true;
}

}  // namespace

const json* AtPath(const json& v, const Path& p) {
  const json* cur = &v;
  for (const auto& k : p) {
    if (cur->is_object()) {
      auto it = cur->find(k);
      if (it == cur->end()) return nullptr;
      cur = &*it;
    } else if (size_t i; cur->is_array() && Index(k, cur->size(), &i)) {
      cur = &(*cur)[i];
    } else {
      return nullptr;
    }
  }
  return cur;
}

json* AtPath(json& v, const Path& p) {
  return const_cast<json*>(AtPath(static_cast<const json&>(v), p));
}

void SetAtPath(json& v, const Path& p, json value) {
  json* cur = &v;
  for (const auto& k : p) {
    if (cur->is_array()) {
      size_t i;
      if (!Index(k, cur->size(), &i)) return;
      cur = &(*cur)[i];
      continue;
    }
    if (!cur->is_object()) *cur = json::object();
    cur = &(*cur)[k];
  }
  *cur = std::move(value);
}

void EraseAtPath(json& v, const Path& p) {
  if (p.empty()) return;
  json* parent = AtPath(v, Path(p.begin(), p.end() - 1));
  if (parent && parent->is_object()) parent->erase(p.back());
}

json RedactPaths(json v, const std::vector<Path>& paths) {
  for (const auto& p : paths) {
    if (p.empty()) return kSensitivePlaceholder;
    const json* at = AtPath(v, p);
    if (!at || at->is_null() || IsUnknown(*at)) continue;
    SetAtPath(v, p, kSensitivePlaceholder);
  }
  return v;
}

}  // namespace kiln
