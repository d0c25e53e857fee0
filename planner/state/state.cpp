#include "planner/state/state.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <tuple>
#include <cstdio>
#include <ctime>

#include "planner/state/format.h"

namespace kiln::state {

using nlohmann::json;

namespace {
auto AddressLess = [](const ResourceState& r, const std::string& address) {
  return r.address < address;
};
}  // namespace

const ResourceState* State::Find(const std::string& address) const {
  auto it = std::lower_bound(resources.begin(), resources.end(), address, AddressLess);
  if (it == resources.end() || it->address != address) return nullptr;
  return &*it;
}

ResourceState* State::Find(const std::string& address) {
  auto it = std::lower_bound(resources.begin(), resources.end(), address, AddressLess);
  if (it == resources.end() || it->address != address) return nullptr;
  return &*it;
}

void State::Upsert(ResourceState resource) {
  auto it = std::lower_bound(resources.begin(), resources.end(), resource.address, AddressLess);
  std::sort(resource.dependencies.begin(), resource.dependencies.end());
  resource.dependencies.erase(std::unique(resource.dependencies.begin(), resource.dependencies.end()),
                              resource.dependencies.end());
  if (it != resources.end() && it->address == resource.address) {
    *it = std::move(resource);
    return;
  }
  resources.insert(it, std::move(resource));
}

bool State::Remove(const std::string& address) {
  auto it = std::lower_bound(resources.begin(), resources.end(), address, AddressLess);
  if (it == resources.end() || it->address != address) return false;
  resources.erase(it);
  return true;
}

const ResourceState* State::FindDeposed(const std::string& address, const std::string& key) const {
  for (const ResourceState& r : deposed)
    if (r.address == address && r.deposed_key == key) return &r;
  return nullptr;
}

void State::AddDeposed(ResourceState resource) {
  RemoveDeposed(resource.address, resource.deposed_key);
  auto less = [](const ResourceState& a, const ResourceState& b) {
    return std::tie(a.address, a.deposed_key) < std::tie(b.address, b.deposed_key);
  };
  auto it = std::upper_bound(deposed.begin(), deposed.end(), resource, less);
  deposed.insert(it, std::move(resource));
}

bool State::RemoveDeposed(const std::string& address, const std::string& key) {
  for (auto it = deposed.begin(); it != deposed.end(); ++it) {
    if (it->address == address && it->deposed_key == key) {
      deposed.erase(it);
      return true;
    }
  }
  return false;
}

std::vector<std::string> State::Addresses() const {
  std::vector<std::string> out;
  out.reserve(resources.size());
  for (const ResourceState& r : resources) out.push_back(r.address);
  return out;
}

bool State::SameContent(const State& other) const {
  return lineage == other.lineage && hash_key_id == other.hash_key_id &&
         resources == other.resources && outputs == other.outputs && deposed == other.deposed;
}

std::string SerializeState(const State& state) {
  return format::Assemble(format::SerializeHeader(state), format::SerializeBody(state));
}

nlohmann::json ResourceToJson(const ResourceState& resource) { return format::ResourceJson(resource); }

bool ResourceFromJson(const nlohmann::json& j, ResourceState* out, std::string* problem) {
  return format::ReadResourceV1(j, out, problem);
}

namespace {

Diagnostic& StateError(Diagnostics& diags, const char* code, const std::string& message,
                       const std::string& file, const std::string& backup) {
  Diagnostic& d = diags.Error(code, SourceRange{}, message);
  d.notes.push_back("kiln has not modified " + file + " and will not write state until it can be read");
  if (!backup.empty()) {
    d.notes.push_back("the previous version of the state is in " + backup);
    d.help = "inspect " + backup + "; if it is good, restore it with `cp " + backup + " " + file +
             "`, otherwise repair " + file + " by hand";
  } else {
    d.help = "repair " + file + " by hand, or restore it from your own copy";
  }
  return d;
}

}  // namespace

bool ParseState(const std::string& text, const std::string& file, const std::string& backup,
                State* out, Diagnostics& diags) {
  if (text.find_first_not_of(" \t\r\n") == std::string::npos) {
    StateError(diags, "E0801", "state file " + file + " is empty (truncated?)", file, backup);
    return false;
  }
  json doc;
  try {
    doc = json::parse(text);
  } catch (const json::parse_error& e) {
    std::string where = e.byte > 0 ? " at byte " + std::to_string(e.byte) : "";
    bool binary = std::any_of(text.begin(), text.begin() + std::min<size_t>(text.size(), 512),
                              [](char c) { return c == '\0'; });
    StateError(diags, "E0801",
               "state file " + file + " is not valid JSON" + where +
                   (binary ? " (it looks like binary data)" : ""),
               file, backup);
    return false;
  }
  if (!doc.is_object()) {
    StateError(diags, "E0801",
               "state file " + file + " must hold a JSON object, found " + doc.type_name(), file,
               backup);
    return false;
  }
  auto version = doc.find("version");
  if (version == doc.end() || !version->is_number_integer()) {
    StateError(diags, "E0802",
               "state file " + file + " has no integer \"version\" field; it is not a kiln state",
               file, backup);
    return false;
  }
  int64_t v = version->get<int64_t>();
  if (v > kStateFormatVersion) {
    StateError(diags, "E0802",
               "state file " + file + " has format version " + std::to_string(v) +
                   ", newer than this kiln reads (up to " + std::to_string(kStateFormatVersion) +
                   "); it was written by a newer kiln",
               file, backup)
        .help = "upgrade kiln to " + doc.value("kiln_version", std::string("the version that wrote it")) +
                " or later";
    return false;
  }
  std::string problem;
  bool ok = false;
  switch (v) {
    case 1:
    case 2:  // v1 plus the optional `deposed` list (ReadV1 reads both)
      ok = format::ReadV1(doc, file, out, &problem);
      break;
    default:
      StateError(diags, "E0802",
                 "state file " + file + " has unknown format version " + std::to_string(v), file,
                 backup);
      return false;
  }
  if (!ok) {
    StateError(diags, "E0803", "state file " + file + " is malformed: " + problem, file, backup);
    return false;
  }
  return true;
}

std::string NewUuid() {
  unsigned char b[16] = {};
  int fd = ::open("/dev/urandom", O_RDONLY | O_CLOEXEC);
  size_t got = 0;
  if (fd >= 0) {
    while (got < sizeof b) {
      ssize_t n = ::read(fd, b + got, sizeof b - got);
      if (n <= 0) break;
      got += static_cast<size_t>(n);
    }
    ::close(fd);
  }
  if (got < sizeof b) {
    // /dev/urandom is always there on Linux; this only keeps ids distinct.
    uint64_t seed = static_cast<uint64_t>(::time(nullptr)) ^ (static_cast<uint64_t>(::getpid()) << 32) ^
                    reinterpret_cast<uintptr_t>(&got);
    for (unsigned char& c : b) {
      seed = seed * 6364136223846793005ULL + 1442695040888963407ULL;
      c = static_cast<unsigned char>(seed >> 56);
    }
  }
  b[6] = static_cast<unsigned char>((b[6] & 0x0f) | 0x40);  // version 4
  b[8] = static_cast<unsigned char>((b[8] & 0x3f) | 0x80);  // RFC 4122 variant
  char out[37];
  std::snprintf(out, sizeof out,
                "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x", b[0], b[1],
                b[2], b[3], b[4], b[5], b[6], b[7], b[8], b[9], b[10], b[11], b[12], b[13], b[14],
                b[15]);
  return out;
}

std::string NowUtc() {
  std::time_t now = std::time(nullptr);
  std::tm tm{};
  ::gmtime_r(&now, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

}  // namespace kiln::state

namespace kiln::state {

std::optional<ParsedAddress> ParseAddress(const std::string& address) {
  auto parsed = Address::Parse(address);
  if (!parsed || parsed->IsModule()) return std::nullopt;
  return ParsedAddress{parsed->ModulePath(), parsed->kind, parsed->name, parsed->key};
}

}  // namespace kiln::state
