#include "cli/backend.h"

#include <cstdlib>
#include <fstream>

#include "cli/inputs.h"

namespace kiln::cli {

std::string CurrentWorkspace(const Context& ctx) {
  if (!ctx.workspace.empty()) return ctx.workspace;
  if (const char* e = std::getenv("KILN_WORKSPACE"); e && *e) return e;
  std::ifstream in(".kiln/workspace");
  std::string name;
  if (in && std::getline(in, name) && !name.empty()) return name;
  return kDefaultWorkspace;
}

namespace {

constexpr char kBackendUnknown[] =
    "cannot tell which state backend the configuration uses (it does not compile); "
    "fix the errors above, or pass --state PATH for a local state file";

// The options of a command without input flags: the automatic var files
// and KILN_VAR_ values only.
bool StateOptions(const Context& ctx, const std::string& state_flag, planner::WorkspaceOptions* out) {
  out->workspace = CurrentWorkspace(ctx);
  out->state_path = state_flag;
  if (!state_flag.empty() || !planner::ConfigMentionsBackend(out->root_dir)) return true;
  return ReadInputValues(ctx, {}, {}, &out->inputs);
}

void ReportOpenFailure(const Context& ctx, planner::Workspace& ws, const Diagnostics& diags) {
  ctx.Report(diags, ws.sources());
  if (ws.config_failed()) ctx.Fail(kBackendUnknown);
}

}  // namespace

bool ReadBackendConfig(const Context& ctx, BackendConfig* out) {
  planner::WorkspaceOptions options;
  if (!StateOptions(ctx, "", &options)) return false;
  planner::Workspace ws;
  Diagnostics diags;
  if (ws.ReadBackend(options, out, diags)) return true;
  ReportOpenFailure(ctx, ws, diags);
  return false;
}

bool OpenCommandState(const Context& ctx, const std::string& state_flag, planner::Workspace& ws) {
  planner::WorkspaceOptions options;
  if (!StateOptions(ctx, state_flag, &options)) return false;
  Diagnostics diags;
  if (ws.OpenState(options, diags)) return true;
  ReportOpenFailure(ctx, ws, diags);
  return false;
}

}  // namespace kiln::cli
