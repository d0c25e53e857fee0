// Attribute values on the wire between compiler, planner, state and
// providers: JSON in the forms of LANGUAGE.md §9, with unknown leaves
// written {"$unknown": true} and sensitive values replaced by a placeholder
// wherever they leave memory.
#pragma once

#include <nlohmann/json.hpp>
#include <vector>

#include "core/path.h"

namespace kiln {

// What stands in for a sensitive value in plans, state and output.
inline constexpr char kSensitivePlaceholder[] = "(sensitive)";

// {"$unknown": true}: a value known only after apply.
nlohmann::json Unknown();
// Exactly {"$unknown": ...} (an object of that one key).
bool IsUnknown(const nlohmann::json& v);
// Whether an unknown leaf is anywhere in `v`.
bool ContainsUnknown(const nlohmann::json& v);

// The value at `p` (list indices as decimal strings); null when a step is
// missing.
const nlohmann::json* AtPath(const nlohmann::json& v, const Path& p);
nlohmann::json* AtPath(nlohmann::json& v, const Path& p);
// Sets the value at `p`, making objects on the way; a missing list index
// leaves `v` unchanged.
void SetAtPath(nlohmann::json& v, const Path& p, nlohmann::json value);
// Removes the object member at `p`, if there is one.
void EraseAtPath(nlohmann::json& v, const Path& p);
// Replaces each existing, non-null, known value at `paths` by
// kSensitivePlaceholder (the whole value for an empty path).
nlohmann::json RedactPaths(nlohmann::json v, const std::vector<Path>& paths);

}  // namespace kiln
