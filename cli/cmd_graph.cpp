// kiln graph [--plan]: the resource dependency graph, or the plan's action
// graph, in Graphviz DOT.
#include <map>

#include "cli/commands.h"
#include "cli/session.h"

namespace kiln::cli {

using planner::Plan;
using planner::PlanMode;

int RunGraph(const Context& ctx, const std::vector<std::string>& args) {
  PlanFlags pf;
  bool plan_graph = false;
  Flags f("kiln graph [--plan] [flags]",
          "Print the resource dependency graph (or with --plan the plan's action graph) in Graphviz DOT.");
  f.Bool("--plan", &plan_graph, "The action graph of a plan");
  f.Repeated("--var", &pf.vars, "NAME=VALUE", "Set an input value");
  f.Repeated("--var-file", &pf.var_files, "FILE", "Read input values from a file");
  if (!f.Parse(args, ctx)) return f.exit_code();
  Session s(ctx, pf);
  if (int rc = s.Open("graph", true)) return rc;
  if (plan_graph) {
    Plan plan = s.MakePlan(PlanMode::kNormal);
    std::vector<planner::ApplyOp> ops;
    dag::Graph g = planner::BuildApplyGraph(plan, &ops, s.diags);
    s.ReportDiags();
    if (plan.errored) return 1;
    *ctx.out << g.ToDot("kiln plan");
    return 0;
  }
  ConfigGraph cg = s.ws.EvaluateWithState(s.diags);
  dag::Graph g;
  std::map<std::string, dag::NodeId> ids;
  for (const auto& r : cg.resources) ids[r.address] = g.AddNode(r.address);
  for (const auto& r : cg.resources)
    for (const auto& d : r.depends_on)
      if (ids.count(d)) g.AddEdge(ids[d], ids[r.address]);
  s.ReportDiags();
  if (auto cycle = g.FindCycle(); !cycle.empty()) {
    ctx.Fail("the resources form a cycle: " + dag::FormatCycle(cycle));
    return 1;
  }
  *ctx.out << g.ToDot("kiln");
  return 0;
}

}  // namespace kiln::cli
