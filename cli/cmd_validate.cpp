// `kiln validate [DIR]`: parse, type-check and evaluate the configuration
// with unknowns for values known only after apply; every error at once.
#include "cli/commands.h"
#include "cli/inputs.h"
#include "compiler/compile.h"
#include "providers/registry.h"

namespace kiln::cli {

int RunValidate(const Context& ctx, const std::vector<std::string>& args) {
  Flags flags("kiln validate [DIR]",
              "Check the module in DIR (default: the current directory): parse, type-check and\n"
              "evaluate it with unknowns for values known only after apply, and report every\n"
              "error. No state is read and nothing is changed.");
  InputFlags inputs;
  inputs.Register(flags);
  std::vector<std::string> positional;
  flags.Positional(&positional, 0, 1);
  if (!flags.Parse(args, ctx)) return flags.exit_code();
  std::string dir = positional.empty() ? "." : positional[0];
  RegistryOptions ropts;
  ropts.working_dir = dir;
  ProviderRegistry registry(ropts);
  CompileOptions options;
  if (!MakeCompileOptions(ctx, inputs, dir, registry, &options)) return 1;
  // The process exits right after this command: freeing the program's,
  // the graph's and the sources' millions of allocations one by one took a
  // quarter of a large validate (clang's -disable-free), so they are left
  // to the exit.
  auto& sm = *new SourceManager;
  Diagnostics diags;
  std::unique_ptr<CompiledConfig> config = Compile(options, sm, diags);
  struct ExitFree {
    std::unique_ptr<CompiledConfig>& c;
    ~ExitFree() { (void)c.release(); }
  } exit_free{config};
  if (config) {
    Diagnostics eval_diags;
    auto& graph = *new ConfigGraph(config->Evaluate(nullptr, eval_diags));
    eval_diags.SortBySource();
    diags.Append(eval_diags);
    if (!diags.HasErrors()) {
      ctx.Report(diags, sm);
      *ctx.out << "The configuration is valid: " << graph.resources.size() << " resource instance"
               << (graph.resources.size() == 1 ? "" : "s") << ", " << graph.outputs.size() << " output"
               << (graph.outputs.size() == 1 ? "" : "s") << ".\n";
      return 0;
    }
  }
  ctx.Report(diags, sm);
  return 1;
}

}  // namespace kiln::cli
