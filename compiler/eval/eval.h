// Evaluation: walks each module's declarations in dependency order, expands
// `for`/`if` on resources and modules, evaluates every expression to a
// Value (unknowns for computed attributes not in state, sensitive marks
// propagated), checks asserts and GPU placement, and fills a ConfigGraph.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <vector>

#include "compiler/check/check.h"
#include "compiler/config_graph.h"
#include "compiler/value/value.h"

namespace kiln {

// Evaluates the whole program. `inputs` are the root module's input values
// (already converted to their types).
ConfigGraph EvaluateProgram(const Program& program, const std::map<std::string, Value>& inputs,
                            const ResourceLookup& lookup, Diagnostics& diags);

// Evaluates one resource instance (an address of config_graph.h) as
// EvaluateProgram would, but only its body and what that refers to:
// the declarations it references (all instances of a referenced `for`
// resource, all of a referenced module), the providers of each module on
// its path, and the expansions that give its key and dependencies.
// Placement checks, asserts and outputs are not run. Null when no such
// instance exists. Safe to call from several threads at once.
std::optional<ResourceInstance> EvaluateProgramInstance(const Program& program,
                                                        const std::map<std::string, Value>& inputs,
                                                        const std::string& address, const ResourceLookup& lookup,
                                                        Diagnostics& diags);

// Evaluates the program, then `expr` in the root module's scope.
Value EvaluateInRoot(const Program& program, const std::map<std::string, Value>& inputs,
                     const ResourceLookup& lookup, const ast::Expr* expr, Diagnostics& diags);

// Where attribute `path` of the resource instance `address` is written (the
// deepest item of the path found in its body); invalid if not written.
SourceRange AttributeSourceRange(const Program& program, const std::string& address,
                                 const std::vector<std::string>& path);

// After type errors: evaluates what the errors leave intact (every
// declaration, attribute or clause holding one of the `poisoned` ranges is
// unknown; input defaults stand for command-line values) so that the
// placement, cost, range and bound checks still report. The caller keeps
// only those diagnostics.
void EvaluateForChecks(const Program& program, const std::vector<SourceRange>& poisoned, Diagnostics& diags);

// Evaluates an expression over constants only (defaults, --var text).
Value EvaluateConstant(const Program& program, const ast::Expr* expr, Diagnostics& diags);

// Evaluates the standard library and returns one of its `let`s (the catalog).
Value EvaluatePreludeValue(const Program& program, const std::string& name, Diagnostics& diags);

// Converts a value to a type: int -> float, int -> range, gpu strings and
// records, record defaults, literal-union membership. With `from_json`, also
// the JSON forms (ms -> duration, {min,max} -> range, quantity strings).
// Returns false with *error in words.
bool CoerceValue(const Program& program, const Value& in, const TypeRef& type, bool from_json,
                 Value* out, std::string* error);

// An input value given as text on the command line (`--var n=8`,
// `--var t=2h`, `--var tags='["a"]'`), read by the input's type.
bool ParseRawInput(const Program& program, const std::string& text, const TypeRef& type, Value* out,
                   std::string* error);

// Builtin functions of LANGUAGE.md §9. `module_dir` resolves file().
struct BuiltinContext {
  const GpuCatalog* catalog = nullptr;
  std::string module_dir;
};
bool CallBuiltin(const std::string& name, const std::vector<Value>& args, const BuiltinContext& ctx,
                 Value* out, std::string* error);

}  // namespace kiln
