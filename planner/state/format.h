// The state file format: the writer (current version only) and one reader
// per format version. Internal to planner/state; the public entry points are
// SerializeState and ParseState in state.h.
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <unordered_map>
#include <utility>

#include "compiler/diag/diagnostics.h"
#include "planner/state/state.h"

namespace kiln::state::format {

// The file is `{header fields, "resources": ..., "outputs": ...}`. The body
// (resources and outputs) is split out so the store can tell whether content
// changed without serializing twice.
std::string SerializeHeader(const State& state);
// Text of resources already serialized, by address, with the value they were
// made from: a save after one operation re-serializes one resource, not all.
struct BodyCache {
  std::unordered_map<std::string, std::pair<ResourceState, std::string>> resources;
};
std::string SerializeBody(const State& state, BodyCache* cache = nullptr);
std::string Assemble(const std::string& header, const std::string& body);

// Reader for format version 1. A version 2 gets its own ReadV2 and an
// upgrade from the v1 in-memory form where the meaning changed.
bool ReadV1(const nlohmann::json& doc, const std::string& file, State* out,
            std::string* problem);

// One resource in its v1 form (ReadResourceV1 reports errors as resources[0]).
nlohmann::json ResourceJson(const ResourceState& resource);
bool ReadResourceV1(const nlohmann::json& j, ResourceState* out, std::string* problem);

}  // namespace kiln::state::format
