// Names and types: loads the module tree, resolves every name, infers and
// checks the type of every expression and declaration against the kind
// schemas (stdlib/kinds.kiln, provider schemas), the GPU catalog
// (stdlib/gpus.kiln) and the builtin signatures. It also orders each
// module's declarations for evaluation and reports dependency cycles.
// It does not compute values (eval/ does).
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <string_view>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "compiler/module/module.h"
#include "compiler/schema.h"
#include "compiler/types/types.h"

namespace kiln {

struct GpuModelInfo {
  std::string name;
  int64_t memory = 0;
  std::string compute_capability;
  std::vector<std::string> aliases;
  double on_demand_hourly = 0;
  double spot_hourly = 0;
};

struct GpuCatalog {
  std::vector<GpuModelInfo> models;
  // By canonical name or alias (case-insensitive); null if unknown.
  const GpuModelInfo* Find(const std::string& name) const;
  // The closest name or alias, for "did you mean".
  std::string Closest(const std::string& name) const;
  // The smallest model with at least `memory` bytes; null if none.
  const GpuModelInfo* SmallestWithMemory(int64_t memory) const;
  // The GPUs (not TPUs) with memory in [min, max], in catalog order.
  std::vector<const GpuModelInfo*> ModelsWithMemory(int64_t min, int64_t max) const;
};

// Parses "H100:8" / "H100" against the catalog. On failure returns false
// with *error and *suggestion (closest model) set.
bool ParseGpuString(const GpuCatalog& catalog, const std::string& text, GpuRequest* out,
                    std::string* error, std::string* suggestion);

// A reference from one declaration to another, where it is written.
struct DeclRef {
  const ast::Decl* target;
  SourceRange range;
};

struct ModuleInfo {
  Module module;
  bool is_root = false;
  bool is_prelude = false;
  std::map<std::string, TypeRef> named_types;
  std::unordered_map<const ast::Decl*, TypeRef> decl_types;  // the type of each name
  std::unordered_map<const ast::Decl*, TypeRef> input_types;
  std::unordered_map<const ast::Decl*, TypeRef> kind_of;     // resource decl -> its kind type
  std::unordered_map<const ast::Decl*, TypeRef> output_types;
  std::unordered_map<const ast::Decl*, ModuleInfo*> children;  // module decl -> child
  std::unordered_map<const ast::Decl*, std::vector<DeclRef>> deps;  // direct references
  std::vector<const ast::Decl*> order;  // evaluation order (dependencies first)
  // For the evaluator: the provider declarations (implicit provider
  // selection needs all of them), and every declaration some other one
  // refers to (the values of the rest need not be kept).
  std::vector<const ast::Decl*> providers;
  std::unordered_set<const ast::Decl*> referenced;
  // module.names by hash (name lookups are the checker's hot path).
  std::unordered_map<std::string_view, const ast::Decl*> name_index;
  const ast::Decl* FindName(std::string_view name) const {
    auto it = name_index.find(name);
    return it == name_index.end() ? nullptr : it->second;
  }
};

// The checked module tree, ready to evaluate.
struct Program {
  SourceManager* sm = nullptr;
  std::string root_dir;
  std::vector<std::unique_ptr<ModuleInfo>> modules;
  ModuleInfo* root = nullptr;
  ModuleInfo* prelude = nullptr;
  std::map<std::string, TypeRef> core_kinds;  // "cluster" -> kind type
  GpuCatalog catalog;
  std::function<const ProviderSchema*(const std::string&)> provider_schema;
  // Provider kinds by "type.kind", built from schemas on first use.
  std::map<std::string, TypeRef> provider_kinds;
  std::map<std::string, TypeRef> provider_configs;

  const ProviderSchema* SchemaFor(const std::string& type) const {
    return provider_schema ? provider_schema(type) : nullptr;
  }
};

// Evaluates one `let` of the checked standard library (the GPU catalog is
// the value `gpus`). A callback so that the checker does not depend on the
// evaluator; CheckProgram (compile.h) passes EvaluatePreludeValue.
using PreludeEvaluator = std::function<Value(const Program& program, const std::string& name, Diagnostics& diags)>;

// Loads stdlib (kinds and GPU catalog, the latter through
// `evaluate_prelude`) and the module tree at root_dir, and checks
// everything. Errors go to `diags`; the program is usable for evaluation
// only when no errors were added.
std::unique_ptr<Program> CheckProgramWith(const std::string& root_dir, SourceManager& sm,
                                          std::function<const ProviderSchema*(const std::string&)> schemas,
                                          const PreludeEvaluator& evaluate_prelude, Diagnostics& diags,
                                          bool allow_empty_root = false);

// Type-checks a standalone expression in the root module's scope (kiln eval).
TypeRef CheckExpressionInRoot(Program& program, const ast::Expr* expr, Diagnostics& diags);

// A type written in Kiln syntax, resolved in `mod` (input types of --var).
TypeRef ResolveTypeText(Program& program, const std::string& text, Diagnostics& diags);

// The source text of a range (for messages and docs).
std::string SourceText(const SourceManager& sm, const SourceRange& range);

}  // namespace kiln
