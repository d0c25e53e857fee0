// Reading input values from --var NAME=VALUE and --var-file FILE (JSON, or
// .kilnvars lines `name = value`), shared by every command that compiles.
#pragma once

#include <string>
#include <vector>

#include "cli/cli.h"
#include "compiler/config_graph.h"

namespace kiln::cli {

// False (with an error printed) when a flag or file is malformed.
bool ReadInputValues(const Context& ctx, const std::vector<std::string>& vars,
                     const std::vector<std::string>& var_files, InputValues* out);

}  // namespace kiln::cli
