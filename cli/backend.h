// Which state a command works on: the workspace name and the options the
// planner's Workspace (planner/workspace.h) opens the configuration and its
// backend with. Shared by the planning commands and the state commands.
#pragma once

#include <memory>
#include <string>

#include "cli/cli.h"
#include "planner/workspace.h"

namespace kiln::cli {

using planner::kDefaultWorkspace;
using planner::OpenStore;
using planner::WorkspaceStatePath;

// The workspace in use: --workspace, else KILN_WORKSPACE, else the one
// `kiln workspace select` recorded in .kiln/workspace, else "default".
std::string CurrentWorkspace(const Context& ctx);

// The backend block of the configuration in the current directory, for
// commands that do not plan (workspace). With no configuration here, the
// local default. False (errors reported) when the configuration does not
// compile far enough to tell.
bool ReadBackendConfig(const Context& ctx, BackendConfig* out);

// Opens the state of the current workspace in `ws` (not loaded, not locked),
// or the local file `state_flag` when it is not empty (--state PATH). False
// with the errors reported.
bool OpenCommandState(const Context& ctx, const std::string& state_flag, planner::Workspace& ws);

}  // namespace kiln::cli
