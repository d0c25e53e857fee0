// kiln apply [FILE] and kiln destroy: a fresh plan confirmed and applied, or
// a saved plan applied exactly (refused when stale).
#include "cli/commands.h"
#include "cli/session.h"
#include "planner/render/render.h"

namespace kiln::cli {

using nlohmann::json;
using planner::Plan;
using planner::PlanMode;

namespace {

// Plan in `mode`, print it, ask, apply.
int PlanConfirmApply(Session& s, PlanMode mode, const std::string& what) {
  Plan plan = s.MakePlan(mode);
  s.ReportDiags();
  s.diags = Diagnostics();
  if (plan.errored) return 1;
  *s.ctx.out << planner::RenderText(plan, {s.ctx.color});
  if (!plan.HasChanges()) return 0;
  if (!s.Confirm(what)) return 1;
  *s.ctx.out << "\n";
  return s.Apply(plan);
}

}  // namespace

int RunApply(const Context& ctx, const std::vector<std::string>& args) {
  PlanFlags pf;
  Flags f("kiln apply [flags] [FILE]",
          "Make the changes of a fresh plan (after confirmation), or exactly those of a saved plan FILE.");
  pf.Declare(f, false, true);
  f.Positional(&pf.positional, 0, 1);
  if (!f.Parse(args, ctx)) return f.exit_code();
  Session s(ctx, pf);
  if (pf.positional.empty()) {
    if (int rc = s.Open("apply", true)) return rc;
    return PlanConfirmApply(s, PlanMode::kNormal, "apply");
  }
  // A saved plan: applied exactly, or refused when stale.
  Plan plan;
  json extras;
  if (!LoadSavedPlan(ctx, pf.positional[0], &plan, &extras)) return 1;
  if (int rc = s.Prepare("apply", plan.mode != PlanMode::kDestroy)) return rc;
  if (!planner::Workspace::PresetFromSavedPlan(extras, &s.options, s.diags)) {
    s.ReportDiags();
    return 1;
  }
  if (int rc = s.OpenWorkspace()) return rc;
  if (!s.ws.PrepareSavedPlan(plan, extras, s.diags)) {
    s.ReportDiags();
    return 1;
  }
  return s.Apply(plan);
}

int RunDestroy(const Context& ctx, const std::vector<std::string>& args) {
  PlanFlags pf;
  Flags f("kiln destroy [flags]", "Delete everything in state, dependents first.");
  pf.Declare(f, false, true, true);
  if (!f.Parse(args, ctx)) return f.exit_code();
  Session s(ctx, pf);
  if (int rc = s.Open("destroy", false)) return rc;
  return PlanConfirmApply(s, PlanMode::kDestroy, "destroy");
}

}  // namespace kiln::cli
