// Extras of Compile() (config_graph.h) for `kiln eval` and `kiln doc`: the
// checked program behind a CompiledConfig, and evaluating one expression in
// the root module.
#pragma once

#include <map>
#include <string>

#include "compiler/check/check.h"
#include "compiler/config_graph.h"

namespace kiln {

// The checked program of a CompiledConfig made by Compile().
const Program& ProgramOf(const CompiledConfig& config);
// The root module's input values as Compile() read them.
const std::map<std::string, Value>& RootInputsOf(const CompiledConfig& config);

// Type-checks and evaluates `text` in the root module (after evaluating the
// whole configuration). Returns false when there were errors.
bool EvaluateExpression(const CompiledConfig& config, SourceManager& sm, const std::string& text,
                        const ResourceLookup& lookup, Value* out, Diagnostics& diags);

}  // namespace kiln
