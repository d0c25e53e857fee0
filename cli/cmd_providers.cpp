// `kiln providers`: which providers the configuration uses and where each
// was found (`kiln init`, which pins them in kiln.lock, is cmd_init.cpp).
#include <algorithm>
#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <set>

#include "cli/commands.h"
#include "cli/config_scan.h"
#include "compiler/module/module.h"
#include "core/kinds.h"
#include "providers/discovery.h"
#include "providers/registry.h"

namespace kiln::cli {

namespace fs = std::filesystem;
using json = nlohmann::json;

namespace {

std::string Joined(const std::vector<std::string>& v) {
  std::string out;
  for (const auto& s : v) out += (out.empty() ? "" : ", ") + s;
  return out;
}

}  // namespace

int RunProviders(const Context& ctx, const std::vector<std::string>& args) {
  bool as_json = false;
  Flags flags("kiln providers [--json]",
              "List the providers this configuration uses and every provider kiln can find:\n"
              "built-ins, and plugins (kiln-provider-<type>) in .kiln/providers/, $KILN_PROVIDER_PATH\n"
              "and next to the kiln binary, with where each was found, its version and kinds.");
  flags.Bool("--json", &as_json, "Print JSON instead of a table");
  if (!flags.Parse(args, ctx)) return flags.exit_code();

  SourceManager sm;
  Diagnostics scan_diags, diags;
  ConfigScan scan = Scan(sm, scan_diags);
  ProviderRegistry reg;
  std::set<std::string> in_use = TypesInUse(scan, reg);
  // Module source problems are `kiln init`'s and `kiln validate`'s to report;
  // here they only mean the IN USE column may be incomplete.
  if (scan_diags.HasErrors())
    *ctx.err << "note: the configuration has errors (see `kiln validate`); IN USE may be incomplete\n";

  std::set<std::string> types(in_use.begin(), in_use.end());
  for (const auto& t : BuiltinProviderTypes()) types.insert(t);
  for (const auto& p : ListPlugins(RegistryOptions{})) types.insert(p.type);

  json rows = json::array();
  bool failed = false;
  for (const auto& type : types) {
    ProviderDiagnostics pd;
    const ProviderSchema* s = reg.SchemaFor(type, &pd);
    json row = {{"type", type}, {"in_use", in_use.count(type) > 0}};
    if (!s) {
      failed = true;
      row["error"] = pd.empty() ? "cannot be started" : pd[0].summary;
      AddProviderError(diags, pd);
      rows.push_back(row);
      continue;
    }
    std::vector<std::string> kinds;
    for (const auto& [kind, k] : s->kinds) kinds.push_back(IsCoreKind(kind) ? kind : type + "." + kind);
    std::sort(kinds.begin(), kinds.end());
    std::string origin = "built-in";
    for (const auto& info : reg.Started())
      if (info.type == type) origin = info.origin;
    row["origin"] = origin == "built-in" ? origin : Relative(origin);
    row["version"] = s->version;
    row["kinds"] = kinds;
    if (origin != "built-in") row["sha256"] = Sha256File(origin);
    rows.push_back(row);
  }
  reg.ShutdownAll();

  if (as_json) {
    *ctx.out << json({{"providers", rows}}).dump(2) << "\n";
  } else {
    size_t w_type = 4, w_origin = 6, w_version = 7;
    for (const auto& r : rows) {
      w_type = std::max(w_type, r["type"].get<std::string>().size());
      w_origin = std::max(w_origin, r.value("origin", std::string()).size());
      w_version = std::max(w_version, r.value("version", std::string()).size());
    }
    auto pad = [](const std::string& s, size_t w) { return s + std::string(w - std::min(w, s.size()) + 2, ' '); };
    *ctx.out << pad("TYPE", w_type) << pad("IN USE", 6) << pad("ORIGIN", w_origin) << pad("VERSION", w_version)
             << "KINDS\n";
    for (const auto& r : rows) {
      *ctx.out << pad(r["type"], w_type) << pad(r["in_use"].get<bool>() ? "yes" : "", 6);
      if (r.contains("error")) {
        *ctx.out << "error: " << r["error"].get<std::string>() << "\n";
        continue;
      }
      *ctx.out << pad(r["origin"], w_origin) << pad(r["version"], w_version)
               << Joined(r["kinds"].get<std::vector<std::string>>()) << "\n";
    }
  }
  if (!diags.empty()) ctx.Report(diags, sm);
  return failed || diags.HasErrors() ? 1 : 0;
}

}  // namespace kiln::cli
