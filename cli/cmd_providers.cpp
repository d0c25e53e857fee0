// `kiln providers` and `kiln init`: which providers the configuration uses,
// where each was found, and the lock file that pins them.
#include <algorithm>
#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <set>

#include "cli/commands.h"
#include "compiler/module/module.h"
#include "core/kinds.h"
#include "providers/discovery.h"
#include "providers/registry.h"

namespace kiln::cli {

namespace fs = std::filesystem;
using json = nlohmann::json;

namespace {


struct ModuleEntry {
  std::string address;  // module.a.module.b
  std::string source;   // as written
  std::string kind;     // "local" | "std"
  std::string dir;
};

// What a syntactic walk of the module tree finds (no evaluation: `kiln init`
// must work before inputs are set and before providers are installed).
struct ConfigScan {
  bool has_config = false;
  std::set<std::string> provider_types;  // from `provider T x {}` and `T.kind` resources
  bool uses_core_kinds = false;
  std::vector<ModuleEntry> modules;
};

std::string Relative(const std::string& path) {
  std::error_code ec;
  fs::path rel = fs::relative(path, fs::current_path(), ec);
  if (ec || rel.empty() || rel.string().rfind("..", 0) == 0) return path;
  return rel.string();
}

void ScanModule(const std::string& dir, const std::string& prefix, SourceManager& sm, Diagnostics& diags,
                std::set<std::string>& visiting, ConfigScan* scan) {
  std::error_code ec;
  std::string key = fs::weakly_canonical(dir, ec).string();
  if (visiting.count(key)) return;  // a module cycle is the compiler's error to report
  visiting.insert(key);
  Module m;
  if (!LoadModule(dir, sm, diags, &m)) {
    visiting.erase(key);
    return;
  }
  for (const ast::Decl* d : m.decls) {
    if (const auto* p = ast::As<ast::ProviderDecl>(d)) {
      scan->provider_types.insert(p->type_name);
    } else if (const auto* r = ast::As<ast::ResourceDecl>(d)) {
      if (r->provider_type.empty()) scan->uses_core_kinds = true;
      else scan->provider_types.insert(r->provider_type);
    } else if (const auto* md = ast::As<ast::ModuleDecl>(d)) {
      const ast::ObjectItem* src = md->body ? md->body->Find("source") : nullptr;
      const auto* t = src ? ast::As<ast::TemplateExpr>(src->value.get()) : nullptr;
      if (!t || !t->IsLiteral()) {
        diags.Error("E1101", md->range, "module `" + md->name + "` needs `source` as a plain string")
            .help = "write `source = \"./modules/NAME\"` or `source = \"std/NAME\"`";
        continue;
      }
      std::string source = t->LiteralText();
      std::string address = prefix + "module." + md->name;
      if (source.rfind("git::", 0) == 0) {
        auto& e = diags.Error("E1102", src->value->range,
                              "git module sources are not supported by `kiln init` yet");
        e.label = "cannot fetch " + source;
        e.help = "copy the module into the repository and use a relative source (`./modules/" + md->name + "`)";
        continue;
      }
      std::string error, help;
      std::string resolved = ResolveModuleSource(source, m.dir, ".", md->name, &error, &help);
      if (resolved.empty()) {
        auto& e = diags.Error("E1103", src->value->range, error);
        e.help = help;
        continue;
      }
      scan->modules.push_back({address, source, source.rfind("std/", 0) == 0 ? "std" : "local", resolved});
      ScanModule(resolved, address + ".", sm, diags, visiting, scan);
    }
  }
  visiting.erase(key);
}

ConfigScan Scan(SourceManager& sm, Diagnostics& diags) {
  ConfigScan scan;
  scan.has_config = !ListKilnFiles(".").empty();
  if (!scan.has_config) return scan;
  std::set<std::string> visiting;
  ScanModule(".", "", sm, diags, visiting, &scan);
  std::sort(scan.modules.begin(), scan.modules.end(),
            [](const ModuleEntry& a, const ModuleEntry& b) { return a.address < b.address; });
  return scan;
}

// The provider types the configuration needs: those it names, plus the
// built-in local provider when core kinds are used and none of the named
// providers implements one.
std::set<std::string> TypesInUse(const ConfigScan& scan, ProviderRegistry& reg) {
  std::set<std::string> types = scan.provider_types;
  if (!scan.uses_core_kinds) return types;
  for (const auto& t : scan.provider_types) {
    ProviderDiagnostics ignored;
    const ProviderSchema* s = reg.SchemaFor(t, &ignored);
    if (!s) continue;
    for (const auto& [kind, k] : s->kinds)
      if (IsCoreKind(kind)) return types;
  }
  types.insert(kDefaultProviderType);
  return types;
}

void AddProviderError(Diagnostics& diags, const std::string& type, const ProviderDiagnostics& pd) {
  for (const auto& d : pd) {
    if (d.severity != Severity::kError) continue;
    auto& e = diags.Error("E1104", {}, d.summary);
    if (!d.detail.empty()) e.notes.push_back(d.detail);
  }
}

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
      AddProviderError(diags, type, pd);
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

int RunInit(const Context& ctx, const std::vector<std::string>& args) {
  Flags flags("kiln init",
              "Resolve module sources (local paths and std/), find the provider plugins the\n"
              "configuration uses, and write kiln.lock with their versions and the sha256 of\n"
              "each plugin executable.");
  if (!flags.Parse(args, ctx)) return flags.exit_code();

  SourceManager sm;
  Diagnostics diags;
  ConfigScan scan = Scan(sm, diags);
  if (!scan.has_config) {
    ctx.Fail("no *.kiln files in " + fs::current_path().string() + "; run kiln init in a configuration's root");
    return 1;
  }
  ProviderRegistry reg;
  std::set<std::string> in_use = TypesInUse(scan, reg);
  json providers = json::object();
  for (const auto& type : in_use) {
    ProviderDiagnostics pd;
    const ProviderSchema* s = reg.SchemaFor(type, &pd);
    if (!s) {
      AddProviderError(diags, type, pd);
      continue;
    }
    std::string origin = "built-in";
    for (const auto& info : reg.Started())
      if (info.type == type) origin = info.origin;
    json p = {{"version", s->version}, {"protocol_version", s->protocol_version}};
    if (origin == "built-in") {
      p["source"] = "built-in";
    } else {
      p["source"] = Relative(origin);
      p["sha256"] = Sha256File(origin);
    }
    providers[type] = p;
  }
  reg.ShutdownAll();
  json modules = json::object();
  for (const auto& m : scan.modules)
    modules[m.address] = {{"source", m.source}, {"kind", m.kind}, {"dir", Relative(m.dir)}};

  if (diags.HasErrors()) {
    ctx.Report(diags, sm);
    *ctx.err << "kiln.lock was not written.\n";
    return 1;
  }
  json lock = {{"version", 1}, {"kiln_version", KILN_VERSION}, {"providers", providers}, {"modules", modules}};
  std::string text = lock.dump(2) + "\n";
  {
    std::ofstream out("kiln.lock.tmp", std::ios::trunc);
    out << text;
    if (!out) {
      ctx.Fail("cannot write kiln.lock.tmp");
      return 1;
    }
  }
  std::error_code ec;
  fs::rename("kiln.lock.tmp", "kiln.lock", ec);
  if (ec) {
    ctx.Fail("cannot write kiln.lock: " + ec.message());
    return 1;
  }
  if (!diags.empty()) ctx.Report(diags, sm);
  for (const auto& [type, p] : providers.items())
    *ctx.out << "provider " << type << " " << p["version"].get<std::string>() << " ("
             << p["source"].get<std::string>() << ")\n";
  for (const auto& m : scan.modules) *ctx.out << m.address << " <- " << m.source << "\n";
  *ctx.out << "Wrote kiln.lock.\n";
  return 0;
}

// RunImport (`kiln import`) lives in cmd_plan.cpp: it shares the planning
// commands' session (compile, state lock, providers).

}  // namespace kiln::cli
