// Loading module directories: every *.kiln file directly in a directory is
// parsed into one Module with one namespace (outputs apart). Module sources
// (`./path`, `std/name`, `git::url`) are resolved to directories here.
#pragma once

#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "compiler/ast/ast.h"
#include "compiler/diag/diagnostics.h"

namespace kiln {

struct Module {
  std::string dir;  // absolute, normalised
  std::vector<std::unique_ptr<ast::File>> files;
  std::vector<const ast::Decl*> decls;  // every declaration, in file then source order
  std::map<std::string, const ast::Decl*> names;  // inputs, lets, types, resources, modules, providers
  std::map<std::string, const ast::OutputDecl*> outputs;
  std::vector<const ast::AssertDecl*> asserts;
  const ast::BackendDecl* backend = nullptr;
  // Declarations that did not parse, and whether a file was not text at
  // all: references to such names were already explained by a syntax error.
  std::set<std::string> broken_names;
  bool has_unreadable_file = false;
  bool MayDeclare(const std::string& name) const { return has_unreadable_file || broken_names.count(name) > 0; }
};

// Where the standard library lives (KILN_STDLIB environment variable, else
// the directory the build recorded).
std::string StdlibDir();

// The sorted list of *.kiln files directly in `dir`.
std::vector<std::string> ListKilnFiles(const std::string& dir);

// Parses every file of `dir` into `out` and builds its namespace; duplicate
// names are reported pointing at both declarations. False if the directory
// cannot be read.
bool LoadModule(const std::string& dir, SourceManager& sm, Diagnostics& diags, Module* out);

// Resolves a `source = "..."` to a directory. `root_dir` is where
// kiln.lock lives (git sources, fetched by `kiln init`
// into `.kiln/modules/` and pinned there). Returns "" and sets
// *error (and *help) when it cannot.
std::string ResolveModuleSource(const std::string& source, const std::string& parent_dir,
                                const std::string& root_dir,
                                std::string* error, std::string* help);

}  // namespace kiln
