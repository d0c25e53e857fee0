// kiln plan: the plan printed (text, json, markdown) and optionally saved.
#include <sys/stat.h>

#include <filesystem>
#include <fstream>

#include "cli/commands.h"
#include "cli/session.h"
#include "planner/render/render.h"

namespace kiln::cli {

using nlohmann::json;
using planner::Plan;
using planner::PlanMode;

// A plan that fails leaves nothing behind: the .kiln/ it created (for the
// lock) goes again when it is empty. Declared before the Session, so that it
// runs after the Session has released the lock.
struct RemoveKilnDirIfFailed {
  bool existed = std::filesystem::exists(".kiln");
  bool failed = true;
  ~RemoveKilnDirIfFailed() {
    std::error_code ec;
    if (!existed && failed) std::filesystem::remove(".kiln", ec);  // only if empty
  }
};

int RunPlan(const Context& ctx, const std::vector<std::string>& args) {
  RemoveKilnDirIfFailed cleanup;
  PlanFlags pf;
  Flags f("kiln plan [flags]", "Refresh, compare the configuration with state and print what apply would do.");
  pf.Declare(f, true, false);
  if (!f.Parse(args, ctx)) return f.exit_code();
  if (!ValidFormat(ctx, pf.format)) return 1;
  Session s(ctx, pf);
  if (int rc = s.Open("plan", true)) {
    // Machines reading the JSON plan get one even when the configuration
    // does not compile (or state cannot be opened): errored, not applyable,
    // with the diagnostics that say why.
    if (pf.format == "json") {
      Plan failed;
      planner::FillPlanDiagnostics(&failed, s.diags, s.ws.sources(), WorkingDir());
      failed.errored = true;
      *ctx.out << planner::RenderJson(failed);
    }
    return rc;
  }
  // Left to the exit, as the session's configuration: freeing a plan of
  // 100,000 changes node by node was 5% of a no-change plan.
  Plan& plan = *new Plan(s.MakePlan(PlanMode::kNormal));
  s.ReportDiags();
  planner::FillPlanDiagnostics(&plan, s.diags, s.ws.sources(), WorkingDir());
  if (pf.format != "text" || !plan.errored) *ctx.out << Render(plan, pf.format, ctx.color);
  if (plan.errored) return 1;
  if (!pf.out.empty()) {
    json saved;
    if (!s.ws.SavePlan(plan, &saved, s.diags)) {
      s.ReportDiags();
      return 1;
    }
    std::string text = saved.dump(2) + "\n";
    std::ofstream out(pf.out, std::ios::trunc);
    out << text;
    out.close();
    chmod(pf.out.c_str(), 0600);
    if (!out) return s.Fail("cannot write `" + pf.out + "`");
    if (pf.format == "text")
      *ctx.out << "\nSaved the plan to " << pf.out << "; apply it with `kiln apply " << pf.out << "`.\n";
  }
  cleanup.failed = false;
  if (pf.detailed_exitcode && plan.HasChanges()) return 2;
  return 0;
}

}  // namespace kiln::cli
