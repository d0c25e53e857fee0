#include "cli/config_scan.h"

#include <algorithm>
#include <filesystem>

#include "compiler/module/module.h"
#include "core/kinds.h"

namespace kiln::cli {

namespace fs = std::filesystem;

std::string Relative(const std::string& path) {
  std::error_code ec;
  fs::path rel = fs::relative(path, fs::current_path(), ec);
  if (ec || rel.empty() || rel.string().rfind("..", 0) == 0) return path;
  return rel.string();
}

namespace {

void ScanModule(const std::string& dir, const std::string& prefix, SourceManager& sm, Diagnostics& diags,
                const GitResolver& git, std::set<std::string>& visiting, ConfigScan* scan) {
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
            .help = "write `source = \"./modules/NAME\"`, `source = \"std/NAME\"` or `source = \"git::URL//DIR?ref=TAG\"`";
        continue;
      }
      ModuleEntry entry;
      entry.source = t->LiteralText();
      entry.address = prefix + "module." + md->name;
      bool is_git = entry.source.rfind("git::", 0) == 0;
      entry.kind = is_git ? "git" : entry.source.rfind("std/", 0) == 0 ? "std" : "local";
      std::string resolved;
      if (is_git && git) {
        resolved = git(entry.source, src->value->range, &entry, diags);
        if (resolved.empty()) continue;
      } else {
        std::string error, help;
        resolved = ResolveModuleSource(entry.source, m.dir, ".", &error, &help);
        if (resolved.empty()) {
          auto& e = diags.Error("E1103", src->value->range, error);
          e.help = help;
          continue;
        }
      }
      entry.dir = resolved;
      scan->modules.push_back(entry);
      ScanModule(resolved, entry.address + ".", sm, diags, git, visiting, scan);
    }
  }
  visiting.erase(key);
}

}  // namespace

ConfigScan Scan(SourceManager& sm, Diagnostics& diags, const GitResolver& git) {
  ConfigScan scan;
  scan.has_config = !ListKilnFiles(".").empty();
  if (!scan.has_config) return scan;
  std::set<std::string> visiting;
  ScanModule(".", "", sm, diags, git, visiting, &scan);
  std::sort(scan.modules.begin(), scan.modules.end(),
            [](const ModuleEntry& a, const ModuleEntry& b) { return a.address < b.address; });
  return scan;
}

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

void AddProviderError(Diagnostics& diags, const ProviderDiagnostics& pd) {
  for (const auto& d : pd) {
    if (d.severity != Severity::kError) continue;
    auto& e = diags.Error("E1104", {}, d.summary);
    if (!d.detail.empty()) e.notes.push_back(d.detail);
  }
}

}  // namespace kiln::cli
