// Reading input values from --var NAME=VALUE and --var-file FILE (JSON, or
// .kilnvars lines `name = value`), shared by every command that compiles.
#pragma once

#include <string>
#include <vector>

#include "cli/cli.h"
#include "compiler/compile.h"

namespace kiln {
class ProviderRegistry;
}

namespace kiln::cli {

// The input flags of every command that compiles: --var and --var-file.
struct InputFlags {
  std::vector<std::string> vars;
  std::vector<std::string> var_files;
  void Register(Flags& flags);
};

// Provider schemas for the compiler, looked up (and cached) in `registry`,
// which must outlive the returned function.
std::function<const ProviderSchema*(const std::string& type)> SchemasFrom(ProviderRegistry& registry);

// Compile options for the module in `dir`: input values from `inputs`,
// provider schemas from `registry`. False (error printed) on a bad input.
bool MakeCompileOptions(const Context& ctx, const InputFlags& inputs, const std::string& dir,
                        ProviderRegistry& registry, CompileOptions* out);

// False (with an error printed) when a flag or file is malformed. When
// `origins` is given, it receives where each value came from ("--var",
// "var file prod.kilnvars").
bool ReadInputValues(const Context& ctx, const std::vector<std::string>& vars,
                     const std::vector<std::string>& var_files, InputValues* out,
                     std::map<std::string, std::string>* origins = nullptr);

}  // namespace kiln::cli
