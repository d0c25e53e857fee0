// The compiler's entry point: Compile() loads, parses and checks a module
// tree into a CompiledConfig (config_graph.h), which evaluates to a
// ConfigGraph. Also, for `kiln eval` and `kiln doc`: the checked program
// behind a CompiledConfig, and evaluating one expression in the root module.
#pragma once

#include <map>
#include <string>

#include "compiler/check/check.h"
#include "compiler/config_graph.h"

namespace kiln {

// Input values from the command line (--var, --var-file) and the environment.
struct InputValues {
  std::map<std::string, std::string> raw;     // --var NAME=VALUE, KILN_VAR_NAME: parsed by the input's type
  std::map<std::string, nlohmann::json> json; // --var-file values
};

// Loads stdlib and the module tree at root_dir and checks everything
// (CheckProgramWith, check.h, with the evaluator reading the GPU catalog).
std::unique_ptr<Program> CheckProgram(const std::string& root_dir, SourceManager& sm,
                                      std::function<const ProviderSchema*(const std::string&)> schemas,
                                      Diagnostics& diags, bool allow_empty_root = false);

struct CompileOptions {
  std::string root_dir = ".";
  InputValues inputs;
  // Schemas of provider types that are not built into the compiler; null if unknown.
  std::function<const ProviderSchema*(const std::string& type)> provider_schema;
  // A root directory without .kiln files is an empty module instead of an
  // error (`kiln eval` works anywhere).
  bool allow_empty_root = false;
};

// Loads, parses and checks the module tree rooted at options.root_dir. Source
// text is kept in `sm`, which must outlive the result (diagnostics refer to it).
// Returns null when there were errors (all of them in `diags`).
std::unique_ptr<CompiledConfig> Compile(const CompileOptions& options, SourceManager& sm,
                                        Diagnostics& diags);

// The checked program of a CompiledConfig made by Compile().
const Program& ProgramOf(const CompiledConfig& config);
// The root module's input values as Compile() read them.
const std::map<std::string, Value>& RootInputsOf(const CompiledConfig& config);

// Type-checks and evaluates `text` in the root module (after evaluating the
// whole configuration). Returns false when there were errors.
bool EvaluateExpression(const CompiledConfig& config, SourceManager& sm, const std::string& text,
                        const ResourceLookup& lookup, Value* out, Diagnostics& diags);

}  // namespace kiln
