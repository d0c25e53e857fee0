#include "compiler/module/module.h"

#include <algorithm>
#include <cstdlib>
#include <filesystem>

#include "compiler/module/git_source.h"
#include "compiler/syntax/parse.h"

namespace kiln {

namespace fs = std::filesystem;

std::string StdlibDir() {
  if (const char* env = std::getenv("KILN_STDLIB")) {
    if (*env) return env;
  }
#ifdef KILN_STDLIB_DIR
  return KILN_STDLIB_DIR;
#else
  return "stdlib";
#endif
}

std::vector<std::string> ListKilnFiles(const std::string& dir) {
  std::vector<std::string> files;
  std::error_code ec;
  for (fs::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec)) {
    const fs::path& p = it->path();
    if (p.extension() == ".kiln" && it->is_regular_file(ec)) files.push_back(p.string());
  }
  std::sort(files.begin(), files.end());
  return files;
}

namespace {

const char* DeclWord(const ast::Decl* d) {
  switch (d->kind) {
    case ast::DeclKind::kInput: return "input";
    case ast::DeclKind::kLet: return "let";
    case ast::DeclKind::kOutput: return "output";
    case ast::DeclKind::kType: return "type";
    case ast::DeclKind::kProvider: return "provider";
    case ast::DeclKind::kModule: return "module";
    case ast::DeclKind::kResource: return "resource";
    default: return "declaration";
  }
}

void ReportDuplicate(Diagnostics& diags, const ast::Decl* first, const ast::Decl* second,
                     const std::string& what) {
  Diagnostic& d = diags.Error("E0402", second->name_range,
                              what + " `" + second->name + "` is declared twice");
  d.label = std::string("this ") + DeclWord(second) + " reuses the name";
  d.secondary.push_back({first->name_range, std::string("first declared here (") + DeclWord(first) + ")"});
  d.help = "rename one of them; all names except outputs share one namespace per module";
}

}  // namespace

bool LoadModule(const std::string& dir, SourceManager& sm, Diagnostics& diags, Module* out) {
  std::error_code ec;
  fs::path abs = fs::weakly_canonical(fs::absolute(dir, ec), ec);
  out->dir = abs.string();
  if (!fs::is_directory(abs, ec)) return false;
  for (const std::string& path : ListKilnFiles(out->dir)) {
    std::string error;
    uint32_t id = sm.AddFile(path, &error);
    if (id == 0) {
      diags.Error("E0417", SourceRange{}, "cannot read " + path + ": " + error);
      continue;
    }
    out->files.push_back(Parse(sm, id, diags));
  }
  for (const auto& file : out->files) {
    out->broken_names.insert(file->broken_names.begin(), file->broken_names.end());
    out->has_unreadable_file = out->has_unreadable_file || file->unreadable;
    for (const auto& decl : file->decls) {
      const ast::Decl* d = decl.get();
      out->decls.push_back(d);
      switch (d->kind) {
        case ast::DeclKind::kOutput: {
          auto [it, inserted] = out->outputs.emplace(d->name, static_cast<const ast::OutputDecl*>(d));
          if (!inserted) ReportDuplicate(diags, it->second, d, "output");
          break;
        }
        case ast::DeclKind::kAssert:
          out->asserts.push_back(static_cast<const ast::AssertDecl*>(d));
          break;
        case ast::DeclKind::kBackend:
          if (out->backend) {
            Diagnostic& e = diags.Error("E0402", d->range, "a module has at most one backend");
            e.secondary.push_back({out->backend->range, "first backend here"});
          } else {
            out->backend = static_cast<const ast::BackendDecl*>(d);
          }
          break;
        default: {
          if (d->name.empty()) break;
          auto [it, inserted] = out->names.emplace(d->name, d);
          if (!inserted) ReportDuplicate(diags, it->second, d, "name");
          break;
        }
      }
    }
  }
  return true;
}

std::string ResolveModuleSource(const std::string& source, const std::string& parent_dir,
                                const std::string& root_dir,
                                std::string* error, std::string* help) {
  std::error_code ec;
  if (source.rfind("git::", 0) == 0) {
    GitSource parsed;
    if (!ParseGitSource(source, &parsed, error)) {
      *help = "write `git::URL//DIR?ref=TAG`, e.g. `git::https://host/org/repo.git//modules/serving?ref=v1.2.0`";
      return "";
    }
    return ResolveLockedGitSource(source, root_dir, error, help);
  }
  fs::path p;
  if (source.rfind("std/", 0) == 0) {
    p = fs::path(StdlibDir()) / "modules" / source.substr(4);
  } else if (source.rfind("./", 0) == 0 || source.rfind("../", 0) == 0) {
    p = fs::path(parent_dir) / source;
  } else {
    *error = "module source `" + source + "` is not a relative path, `std/<name>` or `git::<url>`";
    *help = "write a local module as `./" + source + "`";
    return "";
  }
  if (!fs::is_directory(p, ec)) {
    *error = "module source `" + source + "` is not a directory (looked in " + p.lexically_normal().string() + ")";
    *help = "check the path; it is relative to the directory of the module that uses it";
    return "";
  }
  return fs::weakly_canonical(p, ec).string();
}

}  // namespace kiln
