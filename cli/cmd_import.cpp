// kiln import ADDR ID: adopt a live object (planner::Workspace::Import does
// the checks and the recording).
#include "cli/commands.h"
#include "cli/session.h"

namespace kiln::cli {

int RunImport(const Context& ctx, const std::vector<std::string>& args) {
  PlanFlags pf;
  Flags f("kiln import [flags] ADDR ID",
          "Adopt an existing live object into state through its provider: ADDR is a resource\n"
          "instance of the configuration that is not in state yet, ID the provider's id of the object.");
  f.Repeated("--var", &pf.vars, "NAME=VALUE", "Set an input value");
  f.Repeated("--var-file", &pf.var_files, "FILE", "Read input values from a file (JSON or .kilnvars)");
  f.String("--lock-timeout", &pf.lock_timeout, "DURATION", "Wait this long for the state lock (default 0s)");
  f.Positional(&pf.positional, 2, 2);
  if (!f.Parse(args, ctx)) return f.exit_code();
  const std::string& address = pf.positional[0];
  const std::string& id = pf.positional[1];
  Session s(ctx, pf);
  if (int rc = s.Open("import", true)) return rc;
  state::ResourceState rs;
  bool ok = s.ws.Import(address, id, &rs, s.diags);
  s.ReportDiags();
  if (!ok) return 1;
  std::string shown = id;
  if (rs.attributes.is_object() && rs.attributes.contains("id") && rs.attributes["id"].is_string())
    shown = rs.attributes["id"].get<std::string>();
  *ctx.out << address << ": Import complete [id=" << shown << "]\n";
  return 0;
}

}  // namespace kiln::cli
