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

}  // namespace kiln::cli
