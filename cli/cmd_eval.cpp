#include <algorithm>
#include <filesystem>

#include "cli/commands.h"
#include "cli/inputs.h"
#include "compiler/compile.h"
#include "compiler/eval/eval.h"
#include "providers/registry.h"

namespace kiln::cli {

int RunEval(const Context& ctx, const std::vector<std::string>& args) {
  Flags flags("kiln eval [flags] EXPR",
              "Evaluate an expression in the root module and print it as JSON (durations in\n"
              "milliseconds, bytes as integers, {\"$unknown\": true} for values known after apply,\n"
              "\"(sensitive)\" for sensitive values).");
  InputFlags inputs;
  inputs.Register(flags);
  std::vector<std::string> positional;
  flags.Positional(&positional, 1, 1);
  if (!flags.Parse(args, ctx)) return flags.exit_code();
  ProviderRegistry registry;
  CompileOptions options;
  if (!MakeCompileOptions(ctx, inputs, ".", registry, &options)) return 1;
  options.allow_empty_root = true;  // expressions over builtins work anywhere
  SourceManager sm;
  Diagnostics diags;
  std::unique_ptr<CompiledConfig> config = Compile(options, sm, diags);
  if (!config) {
    ctx.Report(diags, sm);
    return 1;
  }
  Value v;
  bool ok = EvaluateExpression(*config, sm, positional[0], nullptr, &v, diags);
  ctx.Report(diags, sm);
  if (!ok) return 1;
  JsonOptions jo;
  jo.redact = true;
  // A resource prints as its attributes; resources inside them as addresses.
  if (v.kind() == ValueKind::kResource && !(jo.redact && v.sensitive())) {
    nlohmann::json obj = nlohmann::json::object();
    for (const auto& [k, a] : v.AsResource().attrs) obj[k] = ToJson(a, jo);
    *ctx.out << obj.dump() << "\n";
    return 0;
  }
  *ctx.out << ToJson(v, jo).dump() << "\n";
  return 0;
}

namespace {

std::string Cell(std::string s) {
  std::string out;
  for (char c : s) {
    if (c == '\n') out += ' ';
    else if (c == '|') out += "\\|";
    else out += c;
  }
  return out;
}

}  // namespace

int RunDoc(const Context& ctx, const std::vector<std::string>& args) {
  Flags flags("kiln doc [DIR]",
              "Print a Markdown reference of a module: its inputs (type, default, doc),\n"
              "outputs and resources.");
  std::vector<std::string> positional;
  flags.Positional(&positional, 0, 1);
  if (!flags.Parse(args, ctx)) return flags.exit_code();
  std::string dir = positional.empty() ? "." : positional[0];
  SourceManager sm;
  Diagnostics diags;
  ProviderRegistry registry;
  std::unique_ptr<Program> program = CheckProgram(dir, sm, SchemasFrom(registry), diags);
  diags.SortBySource();
  if (diags.HasErrors() || !program->root) {
    ctx.Report(diags, sm);
    return 1;
  }
  const ModuleInfo& mod = *program->root;
  std::ostream& out = *ctx.out;
  std::string name = std::filesystem::path(mod.module.dir).filename().string();
  out << "# Module `" << name << "`\n";
  std::vector<const ast::Decl*> inputs, resources, modules;
  for (const ast::Decl* d : mod.module.decls) {
    if (d->kind == ast::DeclKind::kInput) inputs.push_back(d);
    if (d->kind == ast::DeclKind::kResource) resources.push_back(d);
    if (d->kind == ast::DeclKind::kModule) modules.push_back(d);
  }
  auto by_name = [](const ast::Decl* a, const ast::Decl* b) { return a->name < b->name; };
  std::sort(inputs.begin(), inputs.end(), by_name);
  std::sort(modules.begin(), modules.end(), by_name);
  out << "\n## Inputs\n\n";
  if (inputs.empty()) {
    out << "None.\n";
  } else {
    out << "| Name | Type | Default | Description |\n| --- | --- | --- | --- |\n";
    for (const ast::Decl* d : inputs) {
      const auto* in = static_cast<const ast::InputDecl*>(d);
      std::string type = in->type ? SourceText(sm, in->type->range) : "any";
      if (in->sensitive) type += " (sensitive)";
      std::string def = in->default_value ? "`" + Cell(SourceText(sm, in->default_value->range)) + "`" : "required";
      out << "| `" << d->name << "` | `" << Cell(type) << "` | " << def << " | " << Cell(d->doc) << " |\n";
    }
  }
  out << "\n## Outputs\n\n";
  if (mod.module.outputs.empty()) {
    out << "None.\n";
  } else {
    out << "| Name | Type | Description |\n| --- | --- | --- |\n";
    for (const auto& [oname, od] : mod.module.outputs) {
      std::string type = od->type ? SourceText(sm, od->type->range) : TypeToString(mod.output_types.at(od));
      if (od->sensitive) type += " (sensitive)";
      out << "| `" << oname << "` | `" << Cell(type) << "` | " << Cell(od->doc) << " |\n";
    }
  }
  out << "\n## Resources\n\n";
  if (resources.empty()) {
    out << "None.\n";
  } else {
    std::vector<std::pair<std::string, const ast::Decl*>> rows;
    for (const ast::Decl* d : resources) {
      const auto* r = static_cast<const ast::ResourceDecl*>(d);
      std::string addr = r->FullKind() + "." + r->name;
      if (r->for_clause) addr += "[KEY]";
      rows.push_back({addr, d});
    }
    std::sort(rows.begin(), rows.end(), [](const auto& a, const auto& b) { return a.first < b.first; });
    out << "| Address | Kind | Description |\n| --- | --- | --- |\n";
    for (const auto& [addr, d] : rows) {
      const auto* r = static_cast<const ast::ResourceDecl*>(d);
      std::string note = Cell(d->doc);
      if (r->if_cond) note += std::string(note.empty() ? "" : " ") + "(only if `" + Cell(SourceText(sm, r->if_cond->range)) + "`)";
      out << "| `" << addr << "` | " << r->FullKind() << " | " << note << " |\n";
    }
  }
  if (!modules.empty()) {
    out << "\n## Modules\n\n| Name | Source | Description |\n| --- | --- | --- |\n";
    for (const ast::Decl* d : modules) {
      const auto* m = static_cast<const ast::ModuleDecl*>(d);
      const ast::ObjectItem* src = m->body ? m->body->Find("source") : nullptr;
      std::string source = src ? SourceText(sm, src->value->range) : "";
      out << "| `" << d->name << "` | `" << Cell(source) << "` | " << Cell(d->doc) << " |\n";
    }
  }
  return 0;
}

}  // namespace kiln::cli
