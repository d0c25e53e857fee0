// `kiln doc [SOURCE]`: a Markdown reference of a module given as a directory
// or as any module source (`./modules/x`, `std/serving`, `git::URL//DIR?ref=T`),
// with the module's top comment, inputs, outputs, resources and modules.
#include <stdlib.h>

#include <algorithm>
#include <cstdint>
#include <filesystem>

#include "cli/commands.h"
#include "cli/git_fetch.h"
#include "cli/inputs.h"
#include "compiler/check/check.h"
#include "compiler/module/git_source.h"
#include "compiler/module/module.h"
#include "providers/registry.h"

namespace kiln::cli {

namespace fs = std::filesystem;

namespace {

// The comment block a module's main file starts with (its first file when
// there is no main.kiln), as Markdown: comment lines indented past the
// marker become a `kiln` code block.
std::string TopComment(const Module& module, const SourceManager& sm) {
  const ast::File* file = nullptr;
  for (const auto& f : module.files)
    if (fs::path(sm.Path(f->file_id)).filename() == "main.kiln") file = f.get();
  if (!file && !module.files.empty()) file = module.files.front().get();
  if (!file) return "";
  uint32_t first_decl = file->decls.empty() ? UINT32_MAX : file->decls.front()->range.begin.offset;
  std::vector<std::string> lines;
  uint32_t next_line = 1;
  for (const auto& c : file->comments) {
    if (c.kind == ast::CommentKind::kDoc || c.range.begin.offset >= first_decl || c.range.begin.line != next_line) break;
    std::string text = c.text;
    if (c.kind == ast::CommentKind::kBlock) {
      text = text.substr(2, text.size() >= 4 ? text.size() - 4 : 0);
      size_t pos = 0;
      while (pos <= text.size()) {
        size_t nl = text.find('\n', pos);
        std::string l = text.substr(pos, nl == std::string::npos ? std::string::npos : nl - pos);
        size_t star = l.find_first_not_of(" \t");
        if (star != std::string::npos && l[star] == '*') l = l.substr(star + 1);
        lines.push_back(l);
        if (nl == std::string::npos) break;
        pos = nl + 1;
      }
    } else {
      text = text.substr(text[0] == '#' ? 1 : 2);
      lines.push_back(text);
    }
    next_line = (c.kind == ast::CommentKind::kBlock ? c.range.end.line : c.range.begin.line) + 1;
  }
  std::string out;
  bool in_code = false;
  for (std::string l : lines) {
    if (!l.empty() && l[0] == ' ') l = l.substr(1);
    bool code = l.size() >= 2 && l[0] == ' ' && l[1] == ' ';
    if (code && !in_code) out += "```kiln\n";
    if (!code && in_code) {
      while (out.size() >= 2 && out.compare(out.size() - 2, 2, "\n\n") == 0) out.pop_back();
      out += "```\n";
      if (!l.empty()) out += "\n";
    }
    in_code = code;
    out += (code ? l.substr(2) : l) + "\n";
  }
  if (in_code) {
    while (out.size() >= 2 && out.compare(out.size() - 2, 2, "\n\n") == 0) out.pop_back();
    out += "```\n";
  }
  while (!out.empty() && (out.front() == '\n')) out.erase(0, 1);
  while (out.size() >= 2 && out.compare(out.size() - 2, 2, "\n\n") == 0) out.pop_back();
  return out;
}

// A temporary directory removed when the command ends (a git source that
// kiln.lock does not pin is fetched into one).
struct TempDir {
  std::string path;
  ~TempDir() {
    std::error_code ec;
    if (!path.empty()) fs::remove_all(path, ec);
  }
};

// The directory of `arg` (a directory or a module source), or "" after
// reporting why. *title is how the reference names the module.
std::string DocDir(const Context& ctx, const std::string& arg, TempDir* tmp, std::string* title) {
  std::string error, help;
  auto fail = [&](const std::string& what, const std::string& fix) {
    ctx.Fail(what + (fix.empty() ? "" : "\nhelp: " + fix));
    return std::string();
  };
  if (arg.rfind("git::", 0) == 0) {
    *title = arg;
    GitSource g;
    if (!ParseGitSource(arg, &g, &error)) return fail(error, "write `git::URL//DIR?ref=TAG`");
    // Pinned by this configuration's kiln.lock: the pinned files.
    std::vector<LockedGitModule> pins;
    if (ReadLockedGitModules(".", &pins, &error) &&
        std::any_of(pins.begin(), pins.end(), [&](const LockedGitModule& p) { return p.source == arg; })) {
      std::string dir = ResolveLockedGitSource(arg, ".", &error, &help);
      return dir.empty() ? fail(error, help) : dir;
    }
    // Otherwise what the ref names now, fetched for this command only.
    std::string commit;
    if (!ResolveGitRef(g, &commit, &error, &help)) return fail(error, help);
    std::error_code ec;
    std::string templ = (fs::temp_directory_path(ec) / "kiln-doc-XXXXXX").string();
    if (ec || !mkdtemp(templ.data())) return fail("cannot create a temporary directory", "");
    tmp->path = templ;
    std::string checkout = tmp->path + "/checkout";
    if (!FetchGitCommit(g.url, commit, checkout, &error)) return fail(error, "");
    fs::path dir = g.subdir.empty() ? fs::path(checkout) : fs::path(checkout) / g.subdir;
    if (!fs::is_directory(dir, ec))
      return fail("commit " + commit.substr(0, 12) + " of `" + g.url + "` has no directory `" + g.subdir + "`",
                  "check the path after `//` in the source");
    return dir.string();
  }
  if (arg.rfind("std/", 0) == 0) {
    *title = arg;
    std::string dir = ResolveModuleSource(arg, ".", ".", &error, &help);
    if (dir.empty()) {
      std::vector<std::string> names;
      std::error_code ec;
      for (fs::directory_iterator it(StdlibDir() + "/modules", ec), end; !ec && it != end; it.increment(ec))
        names.push_back("std/" + it->path().filename().string());
      std::sort(names.begin(), names.end());
      std::string list;
      for (const auto& n : names) list += (list.empty() ? "" : ", ") + n;
      return fail("there is no standard module `" + arg + "`", "the standard modules are " + list);
    }
    return dir;
  }
  std::error_code ec;
  if (!fs::is_directory(arg, ec))
    return fail("`" + arg + "` is not a directory or a module source",
                "give a module directory, `std/NAME` or `git::URL//DIR?ref=TAG`");
  *title = fs::path(fs::weakly_canonical(arg, ec)).filename().string();
  return arg;
}


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
  Flags flags("kiln doc [DIR | SOURCE]",
              "Print a Markdown reference of a module: its top comment, inputs (type, default,\n"
              "doc), outputs, resources and modules. The module is a directory (default .) or\n"
              "any module source: std/NAME, or git::URL//DIR?ref=TAG (the commit kiln.lock pins\n"
              "when this configuration pins it, else fetched for this command).");
  std::vector<std::string> positional;
  flags.Positional(&positional, 0, 1);
  if (!flags.Parse(args, ctx)) return flags.exit_code();
  TempDir tmp;
  std::string title;
  std::string dir = DocDir(ctx, positional.empty() ? "." : positional[0], &tmp, &title);
  if (dir.empty()) return 1;
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
  out << "# Module `" << title << "`\n";
  if (std::string top = TopComment(mod.module, sm); !top.empty()) out << "\n" << top;
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
