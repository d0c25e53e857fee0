// Which state a command works on: the backend block of the configuration
// (local file or PostgreSQL) and the workspace. Shared by the planning
// commands (cmd_plan.cpp) and the state commands (cmd_state.cpp).
#pragma once

#include <memory>
#include <string>

#include "cli/cli.h"
#include "compiler/config_graph.h"
#include "planner/state/state.h"

namespace kiln::cli {

inline constexpr char kDefaultWorkspace[] = "default";

// The workspace in use: --workspace, else KILN_WORKSPACE, else the one
// `kiln workspace select` recorded in .kiln/workspace, else "default".
std::string CurrentWorkspace(const Context& ctx);

// The local state file of `workspace` for the configured `path`: `path`
// itself for the default workspace, <dir of path>/workspaces/NAME/<file>
// for the others.
std::string WorkspaceStatePath(const std::string& path, const std::string& workspace);

// Opens (does not load or lock) the state of `workspace` in `backend`.
// Null with errors in `diags` (an unknown backend, PostgreSQL unreachable).
std::unique_ptr<state::StateStore> OpenStore(const BackendConfig& backend, const std::string& workspace,
                                             Diagnostics& diags);

// The backend block of the configuration in the current directory, for
// commands that do not plan (state, output, workspace, force-unlock). With
// no configuration here, the local default. False (errors reported) when
// the configuration does not compile far enough to tell.
bool ReadBackendConfig(const Context& ctx, BackendConfig* out);

// ReadBackendConfig + OpenStore for the current workspace, or the local file
// `state_flag` when it is not empty (--state PATH). Errors are reported.
std::unique_ptr<state::StateStore> OpenCommandStore(const Context& ctx, const std::string& state_flag);

}  // namespace kiln::cli
