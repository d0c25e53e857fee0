// kiln show [FILE]: a saved plan, or the state of the current workspace (the
// same backend rule as every command: planner::Workspace).
#include "cli/backend.h"
#include "cli/commands.h"
#include "cli/session.h"
#include "planner/render/render.h"

namespace kiln::cli {

int RunShow(const Context& ctx, const std::vector<std::string>& args) {
  std::string format = "text";
  bool as_json = false;
  std::vector<std::string> pos;
  Flags f("kiln show [--format text|json|markdown] [FILE]", "Show a saved plan, or the current state.");
  f.String("--format", &format, "text|json|markdown", "Output format");
  f.Bool("--json", &as_json, "Same as --format json");
  f.Positional(&pos, 0, 1);
  if (!f.Parse(args, ctx)) return f.exit_code();
  if (as_json) format = "json";
  if (!ValidFormat(ctx, format)) return 1;
  if (!pos.empty()) {
    planner::Plan plan;
    if (!LoadSavedPlan(ctx, pos[0], &plan)) return 1;
    *ctx.out << Render(plan, format, ctx.color);
    return 0;
  }
  planner::Workspace ws;
  if (!OpenCommandState(ctx, "", ws)) return 1;
  state::State st;
  Diagnostics d;
  if (!ws.store().Load(&st, d)) {
    ctx.Report(d, ws.sources());
    return 1;
  }
  if (format == "json") {
    *ctx.out << state::SerializeState(st);
    return 0;
  }
  if (st.resources.empty() && st.outputs.empty()) {
    *ctx.out << "The state is empty.\n";
    return 0;
  }
  for (const auto& r : st.resources) {
    *ctx.out << "# " << r.address << (r.status == state::kStatusReady ? "" : " (" + r.status + ")") << ":\n"
             << r.kind << " \"" << r.name << "\" "
             << planner::DisplayValue(r.attributes, {}, {r.duration_paths, r.bytes_paths}) << "\n\n";
  }
  if (!st.outputs.empty()) {
    *ctx.out << "Outputs:\n";
    for (const auto& [n, o] : st.outputs)
      *ctx.out << "  " << n << " = "
               << planner::DisplayValue(o.value, {}, {o.duration_paths, o.bytes_paths},
                                        2 + static_cast<int>(n.size()) + 3)
               << "\n";
  }
  return 0;
}

}  // namespace kiln::cli
