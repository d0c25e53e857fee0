#include "core/address.h"

#include <cctype>

namespace kiln {

namespace {

bool IsIdentStart(char c) { return std::isalpha(static_cast<unsigned char>(c)) || c == '_'; }
bool IsIdentChar(char c) {
  return std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '-';
}

// Reads `[...]` at `*pos` (on the `[`) into `key`; advances past it.
bool ReadKey(std::string_view s, size_t* pos, nlohmann::json* key) {
  size_t i = *pos + 1;
  if (i < s.size() && s[i] == '"') {
    std::string k;
    for (++i; i < s.size() && s[i] != '"'; ++i) {
      if (s[i] == '\\' && i + 1 < s.size()) ++i;
      k += s[i];
    }
    if (i + 1 >= s.size() || s[i + 1] != ']') return false;
    *key = std::move(k);
    *pos = i + 2;
    return true;
  }
  size_t j = i;
  while (j < s.size() && std::isdigit(static_cast<unsigned char>(s[j]))) ++j;
  if (j == i || j >= s.size() || s[j] != ']' || j - i > 18) return false;
  *key = std::stoll(std::string(s.substr(i, j - i)));
  *pos = j + 1;
  return true;
}

bool KeyEquals(const nlohmann::json& a, const nlohmann::json& b) { return a == b; }

}  // namespace

std::optional<Address> Address::Parse(std::string_view text) {
  struct Segment {
    std::string ident;
    nlohmann::json key;
  };
  std::vector<Segment> segments;
  size_t pos = 0;
  while (true) {
    if (pos >= text.size() || !IsIdentStart(text[pos])) return std::nullopt;
    size_t start = pos;
    while (pos < text.size() && IsIdentChar(text[pos])) ++pos;
    Segment seg{std::string(text.substr(start, pos - start)), nullptr};
    if (pos < text.size() && text[pos] == '[' && !ReadKey(text, &pos, &seg.key)) return std::nullopt;
    segments.push_back(std::move(seg));
    if (pos == text.size()) break;
    if (text[pos] != '.') return std::nullopt;
    ++pos;
  }
  Address out;
  size_t i = 0;
  // `module.NAME[KEY]` pairs, as long as a kind and a name (or nothing) follow.
  while (i + 1 < segments.size() && segments[i].ident == "module" && segments[i].key.is_null() &&
         (segments.size() - i == 2 || segments.size() - i > 3)) {
    out.modules.push_back({segments[i + 1].ident, segments[i + 1].key});
    i += 2;
  }
  if (i == segments.size()) return out;  // a module address
  if (segments.size() - i < 2 || segments[i].ident == "module") return std::nullopt;
  for (size_t j = i; j + 1 < segments.size(); ++j) {
    if (!segments[j].key.is_null()) return std::nullopt;  // only the name takes a key
    if (!out.kind.empty()) out.kind += '.';
    out.kind += segments[j].ident;
  }
  out.name = segments.back().ident;
  out.key = segments.back().key;
  return out;
}

std::string KeySuffix(const nlohmann::json& key) {
  if (key.is_null()) return "";
  if (!key.is_string()) return "[" + key.dump() + "]";
  std::string out = "[\"";
  for (char c : key.get_ref<const std::string&>()) {
    if (c == '"' || c == '\\') out += '\\';
    out += c;
  }
  return out + "\"]";
}

std::string Address::ModulePath() const {
  std::string out;
  for (const auto& m : modules) {
    if (!out.empty()) out += '.';
    out += "module." + m.name + KeySuffix(m.key);
  }
  return out;
}

std::string Address::ToString() const {
  std::string out = ModulePath();
  if (IsModule()) return out;
  if (!out.empty()) out += '.';
  return out + kind + "." + name + KeySuffix(key);
}

bool Address::Contains(const Address& other) const {
  if (IsModule()) {
    if (modules.empty() || other.modules.size() < modules.size()) return false;
    for (size_t i = 0; i < modules.size(); ++i) {
      const Module& m = modules[i];
      const Module& o = other.modules[i];
      if (m.name != o.name) return false;
      bool last = i + 1 == modules.size();
      if (!(last && m.key.is_null()) && !KeyEquals(m.key, o.key)) return false;
    }
    return true;
  }
  if (modules != other.modules || kind != other.kind || name != other.name) return false;
  return key.is_null() || KeyEquals(key, other.key);
}

bool AddressContains(std::string_view selection, std::string_view address) {
  auto s = Address::Parse(selection);
  auto a = Address::Parse(address);
  return s && a && s->Contains(*a);
}

std::string BareKind(const std::string& kind) {
  auto dot = kind.rfind('.');
  return dot == std::string::npos ? kind : kind.substr(dot + 1);
}

}  // namespace kiln
