// The planning commands' shared part (plan, apply, destroy, graph, import):
// their flags, a planner::Workspace opened from them, the apply with progress
// lines, Ctrl-C and its summary, and the confirmation prompt. The logic lives
// in the Workspace; this is flags, rendering and exit codes.
#pragma once

#include <string>
#include <vector>

#include "cli/cli.h"
#include "planner/planner.h"
#include "planner/workspace.h"

namespace kiln::cli {

struct PlanFlags {
  std::vector<std::string> vars, var_files, targets, replace;
  bool refresh = true;
  bool refresh_only = false;
  std::string parallelism = "16";
  std::string lock_timeout = "0s";
  bool detailed_exitcode = false;
  std::string format = "text";
  std::string out;
  bool auto_approve = false;
  std::vector<std::string> positional;

  void Declare(Flags& f, bool plan_cmd, bool apply_cmd, bool destroy_cmd = false);
};

struct Session {
  const Context& ctx;
  PlanFlags& flags;
  Diagnostics diags;
  planner::WorkspaceOptions options;
  planner::Workspace ws;
  int parallelism = 16;

  Session(const Context& c, PlanFlags& f) : ctx(c), flags(f) {}

  int Fail(const std::string& m) {
    ctx.Fail(m);
    return 1;
  }
  // Reports the diagnostics sorted by source (provider calls run in
  // parallel: the same plan always reports in the same order).
  void ReportDiags();

  // The workspace options from the flags: parallelism, lock timeout, input
  // values. 0, else the exit code (errors printed).
  int Prepare(const std::string& operation, bool need_config);
  // Opens the workspace with `options`. 0, else the exit code.
  int OpenWorkspace();
  int Open(const std::string& operation, bool need_config) {
    if (int rc = Prepare(operation, need_config)) return rc;
    return OpenWorkspace();
  }

  planner::Plan MakePlan(planner::PlanMode mode);
  // The apply walk with progress lines, Ctrl-C handling and the summary.
  int Apply(planner::Plan& plan);
  // Asks for `yes` unless --auto-approve.
  bool Confirm(const std::string& what);
};

// The plan as text, json or markdown.
std::string Render(const planner::Plan& plan, const std::string& format, bool color);
// Where the JSON plan's diagnostics name files from (`-C DIR` applied).
std::string WorkingDir();
bool ValidFormat(const Context& ctx, const std::string& f);
// Reads and parses a saved plan; errors printed.
bool LoadSavedPlan(const Context& ctx, const std::string& file, planner::Plan* plan,
                   nlohmann::json* extras = nullptr);

}  // namespace kiln::cli
