#include "planner/state/format.h"

#include <algorithm>

namespace kiln::state::format {
namespace {

using nlohmann::json;

// Appends `value` pretty-printed, continuing at indentation `indent`.
void AppendValue(std::string& out, const json& value, int indent) {
  std::string text = value.dump(2, ' ', false, json::error_handler_t::replace);
  if (text.find('\n') == std::string::npos) {
    out += text;
    return;
  }
  std::string pad(static_cast<size_t>(indent), ' ');
  out.reserve(out.size() + text.size() + text.size() / 8);
  for (char c : text) {
    out += c;
    if (c == '\n') out += pad;
  }
}

void AppendField(std::string& out, const char* name, const json& value, int indent, bool last) {
  out.append(static_cast<size_t>(indent), ' ');
  out += '"';
  out += name;
  out += "\": ";
  AppendValue(out, value, indent);
  out += last ? "\n" : ",\n";
}

}  // namespace

std::string SerializeHeader(const State& state) {
  std::string out = "{\n";
  // Version 1 unless there are deposed objects (which a v1 reader would
  // silently drop): older kilns keep reading ordinary states.
  AppendField(out, "version", state.deposed.empty() ? 1 : kStateFormatVersion, 2, false);
  AppendField(out, "serial", state.serial, 2, false);
  AppendField(out, "lineage", state.lineage, 2, false);
  AppendField(out, "kiln_version", state.kiln_version, 2, false);
  AppendField(out, "hash_key_id", state.hash_key_id, 2, false);
  return out;
}

namespace {

std::string SerializeResource(const ResourceState& r) {
  std::string out;
  out += "    {\n";
  AppendField(out, "address", r.address, 6, false);
  AppendField(out, "module", r.module, 6, false);
  AppendField(out, "kind", r.kind, 6, false);
  AppendField(out, "name", r.name, 6, false);
  AppendField(out, "key", r.key, 6, false);
  AppendField(out, "provider", r.provider, 6, false);
  AppendField(out, "provider_type", r.provider_type, 6, false);
  AppendField(out, "status", r.status, 6, false);
  if (r.create_before_destroy) AppendField(out, "create_before_destroy", true, 6, false);
  AppendField(out, "dependencies", r.dependencies, 6, false);
  AppendField(out, "sensitive_hashes", r.sensitive_hashes, 6, false);
  if (!r.duration_paths.empty()) AppendField(out, "duration_paths", r.duration_paths, 6, false);
  if (!r.bytes_paths.empty()) AppendField(out, "bytes_paths", r.bytes_paths, 6, false);
  AppendField(out, "attributes", r.attributes, 6, true);
  out += "    }";
  return out;
}

}  // namespace

std::string SerializeBody(const State& state, BodyCache* cache) {
  std::string out;
  BodyCache next;
  if (state.resources.empty()) {
    out += "  \"resources\": [],\n";
  } else {
    out += "  \"resources\": [\n";
    for (size_t i = 0; i < state.resources.size(); ++i) {
      const ResourceState& r = state.resources[i];
      if (cache == nullptr) {
        out += SerializeResource(r);
      } else {
        auto it = cache->resources.find(r.address);
        if (it != cache->resources.end() && it->second.first == r) {
          out += it->second.second;
          next.resources.insert(cache->resources.extract(it));
        } else {
          std::string text = SerializeResource(r);
          out += text;
          next.resources.emplace(r.address, std::make_pair(r, std::move(text)));
        }
      }
      out += i + 1 < state.resources.size() ? ",\n" : "\n";
    }
    out += "  ],\n";
  }
  if (cache != nullptr) *cache = std::move(next);
  if (!state.deposed.empty()) {
    out += "  \"deposed\": [\n";
    for (size_t i = 0; i < state.deposed.size(); ++i) {
      std::string text = SerializeResource(state.deposed[i]);
      // The key goes right after the address.
      size_t at = text.find(",\n", text.find("\"address\""));
      text.insert(at + 2, "      \"deposed_key\": " + json(state.deposed[i].deposed_key).dump() + ",\n");
      out += text;
      out += i + 1 < state.deposed.size() ? ",\n" : "\n";
    }
    out += "  ],\n";
  }
  json outputs = json::object();
  for (const auto& [name, o] : state.outputs) {
    json entry = {{"value", o.value}, {"sensitive", o.sensitive}};
    if (!o.hash.empty()) entry["hash"] = o.hash;
    if (!o.duration_paths.empty()) entry["duration_paths"] = o.duration_paths;
    if (!o.bytes_paths.empty()) entry["bytes_paths"] = o.bytes_paths;
    outputs[name] = std::move(entry);
  }
  AppendField(out, "outputs", outputs, 2, true);
  out += "}\n";
  return out;
}

std::string Assemble(const std::string& header, const std::string& body) { return header + body; }

namespace {

// Field readers for v1; each sets *problem and returns false on mismatch.
bool GetString(const json& obj, const char* field, std::string* out, std::string* problem,
               const std::string& where, bool required = true) {
  auto it = obj.find(field);
  if (it == obj.end()) {
    if (!required) return true;
    *problem = where + ": missing field \"" + field + "\"";
    return false;
  }
  if (!it->is_string()) {
    *problem = where + ": field \"" + field + "\" must be a string, found " + it->type_name();
    return false;
  }
  *out = it->get<std::string>();
  return true;
}

// An optional list of paths (arrays of strings): duration_paths, bytes_paths.
bool GetPaths(const json& obj, const char* field, std::vector<Path>* out, std::string* problem,
              const std::string& where) {
  auto it = obj.find(field);
  if (it == obj.end()) return true;
  bool ok = it->is_array();
  for (size_t i = 0; ok && i < it->size(); ++i) {
    const json& p = (*it)[i];
    ok = p.is_array();
    Path path;
    for (size_t k = 0; ok && k < p.size(); ++k) {
      ok = p[k].is_string();
      if (ok) path.push_back(p[k].get<std::string>());
    }
    if (ok) out->push_back(std::move(path));
  }
  if (!ok) *problem = where + ": " + field + " must be an array of paths (arrays of strings)";
  return ok;
}

bool ReadResource(const json& r, size_t index, ResourceState* out, std::string* problem) {
  std::string where = "resources[" + std::to_string(index) + "]";
  if (!r.is_object()) {
    *problem = where + " must be an object, found " + std::string(r.type_name());
    return false;
  }
  if (!GetString(r, "address", &out->address, problem, where)) return false;
  where += " (" + out->address + ")";
  if (out->address.empty()) {
    *problem = where + ": empty address";
    return false;
  }
  if (!GetString(r, "module", &out->module, problem, where, false)) return false;
  if (!GetString(r, "kind", &out->kind, problem, where)) return false;
  if (!GetString(r, "name", &out->name, problem, where)) return false;
  if (!GetString(r, "provider", &out->provider, problem, where)) return false;
  if (!GetString(r, "provider_type", &out->provider_type, problem, where, false)) return false;
  if (!GetString(r, "status", &out->status, problem, where, false)) return false;
  if (out->status != kStatusReady && out->status != kStatusTainted) {
    *problem = where + ": status must be \"ready\" or \"tainted\", found \"" + out->status + "\"";
    return false;
  }
  out->key = r.value("key", json());
  if (!out->key.is_null() && !out->key.is_string() && !out->key.is_number_integer() &&
      !out->key.is_number_unsigned()) {
    *problem = where + ": key must be null, a string or an integer";
    return false;
  }
  if (auto it = r.find("create_before_destroy"); it != r.end()) {
    if (!it->is_boolean()) {
      *problem = where + ": create_before_destroy must be a boolean";
      return false;
    }
    out->create_before_destroy = it->get<bool>();
  }
  if (auto it = r.find("attributes"); it != r.end()) {
    if (!it->is_object() && !it->is_null()) {
      *problem = where + ": attributes must be an object";
      return false;
    }
    out->attributes = it->is_null() ? json::object() : *it;
  }
  if (auto it = r.find("dependencies"); it != r.end()) {
    if (!it->is_array()) {
      *problem = where + ": dependencies must be an array of addresses";
      return false;
    }
    for (const json& d : *it) {
      if (!d.is_string()) {
        *problem = where + ": dependencies must be an array of addresses";
        return false;
      }
      out->dependencies.push_back(d.get<std::string>());
    }
    std::sort(out->dependencies.begin(), out->dependencies.end());
    out->dependencies.erase(std::unique(out->dependencies.begin(), out->dependencies.end()),
                            out->dependencies.end());
  }
  if (auto it = r.find("sensitive_hashes"); it != r.end()) {
    if (!it->is_object()) {
      *problem = where + ": sensitive_hashes must be an object of JSON pointer -> hash";
      return false;
    }
    for (const auto& [pointer, hash] : it->items()) {
      if (!hash.is_string()) {
        *problem = where + ": sensitive_hashes[\"" + pointer + "\"] must be a string";
        return false;
      }
      out->sensitive_hashes[pointer] = hash.get<std::string>();
    }
  }
  if (!GetPaths(r, "duration_paths", &out->duration_paths, problem, where)) return false;
  if (!GetPaths(r, "bytes_paths", &out->bytes_paths, problem, where)) return false;
  if (!GetString(r, "deposed_key", &out->deposed_key, problem, where, false)) return false;
  return true;
}

}  // namespace

bool ReadResourceV1(const json& j, ResourceState* out, std::string* problem) {
  return ReadResource(j, 0, out, problem);
}

json ResourceJson(const ResourceState& r) {
  json j = {{"address", r.address},
            {"module", r.module},
            {"kind", r.kind},
            {"name", r.name},
            {"key", r.key},
            {"provider", r.provider},
            {"provider_type", r.provider_type},
            {"status", r.status},
            {"dependencies", r.dependencies},
            {"sensitive_hashes", r.sensitive_hashes},
            {"attributes", r.attributes}};
  if (r.create_before_destroy) j["create_before_destroy"] = true;
  if (!r.duration_paths.empty()) j["duration_paths"] = r.duration_paths;
  if (!r.bytes_paths.empty()) j["bytes_paths"] = r.bytes_paths;
  if (!r.deposed_key.empty()) j["deposed_key"] = r.deposed_key;
  return j;
}

bool ReadV1(const json& doc, const std::string& file, State* out, std::string* problem) {
  State s;
  s.version = kStateFormatVersion;
  if (auto it = doc.find("serial"); it == doc.end() || !it->is_number_integer() ||
                                    it->get<int64_t>() < 0) {
    *problem = "field \"serial\" must be a non-negative integer";
    return false;
  } else {
    s.serial = it->get<int64_t>();
  }
  if (!GetString(doc, "lineage", &s.lineage, problem, "top level")) return false;
  if (s.lineage.empty()) {
    *problem = "field \"lineage\" is empty";
    return false;
  }
  if (!GetString(doc, "kiln_version", &s.kiln_version, problem, "top level", false)) return false;
  if (!GetString(doc, "hash_key_id", &s.hash_key_id, problem, "top level", false)) return false;
  if (auto it = doc.find("resources"); it != doc.end()) {
    if (!it->is_array()) {
      *problem = "field \"resources\" must be an array";
      return false;
    }
    s.resources.reserve(it->size());
    for (size_t i = 0; i < it->size(); ++i) {
      ResourceState r;
      if (!ReadResource((*it)[i], i, &r, problem)) return false;
      if (!r.deposed_key.empty()) {
        *problem = "resources[" + std::to_string(i) + "] (" + r.address +
                   "): deposed_key belongs in the \"deposed\" list";
        return false;
      }
      s.resources.push_back(std::move(r));
    }
  }
  std::stable_sort(s.resources.begin(), s.resources.end(),
                   [](const ResourceState& a, const ResourceState& b) { return a.address < b.address; });
  for (size_t i = 1; i < s.resources.size(); ++i) {
    if (s.resources[i].address == s.resources[i - 1].address) {
      *problem = "resource " + s.resources[i].address + " appears twice";
      return false;
    }
  }
  if (auto it = doc.find("deposed"); it != doc.end()) {
    if (!it->is_array()) {
      *problem = "field \"deposed\" must be an array";
      return false;
    }
    for (size_t i = 0; i < it->size(); ++i) {
      ResourceState r;
      if (!ReadResource((*it)[i], i, &r, problem)) {
        *problem = "deposed" + problem->substr(problem->find('['));
        return false;
      }
      if (r.deposed_key.empty()) {
        *problem = "deposed[" + std::to_string(i) + "] (" + r.address + "): missing field \"deposed_key\"";
        return false;
      }
      if (s.FindDeposed(r.address, r.deposed_key)) {
        *problem = "deposed object " + r.address + " " + r.deposed_key + " appears twice";
        return false;
      }
      s.AddDeposed(std::move(r));
    }
  }
  if (auto it = doc.find("outputs"); it != doc.end()) {
    if (!it->is_object()) {
      *problem = "field \"outputs\" must be an object";
      return false;
    }
    for (const auto& [name, o] : it->items()) {
      if (!o.is_object() || !o.contains("value")) {
        *problem = "outputs[\"" + name + "\"] must be an object with a \"value\"";
        return false;
      }
      OutputState os;
      os.value = o["value"];
      auto sens = o.find("sensitive");
      if (sens != o.end() && !sens->is_boolean()) {
        *problem = "outputs[\"" + name + "\"].sensitive must be a boolean";
        return false;
      }
      os.sensitive = sens != o.end() && sens->get<bool>();
      if (auto h = o.find("hash"); h != o.end()) {
        if (!h->is_string()) {
          *problem = "outputs[\"" + name + "\"].hash must be a string";
          return false;
        }
        os.hash = h->get<std::string>();
      }
      std::string where = "outputs[\"" + name + "\"]";
      if (!GetPaths(o, "duration_paths", &os.duration_paths, problem, where)) return false;
      if (!GetPaths(o, "bytes_paths", &os.bytes_paths, problem, where)) return false;
      s.outputs[name] = std::move(os);
    }
  }
  (void)file;
  *out = std::move(s);
  return true;
}

}  // namespace kiln::state::format
