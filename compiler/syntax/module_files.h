// Which files make up a module: every `*.kiln` directly in its directory.
#pragma once

#include <string>
#include <vector>

namespace kiln {

// The `*.kiln` regular files directly in `dir`, as paths `dir/name` (just
// `name` when dir is "."), sorted by name. Sets *error and returns {} when
// the directory cannot be read.
std::vector<std::string> ListModuleFiles(const std::string& dir, std::string* error);

}  // namespace kiln
