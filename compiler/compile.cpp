// Compile(): load and check the module tree, read the root inputs; the
// result evaluates the configuration any number of times.
#include "compiler/compile.h"

#include <cstdlib>
#include <set>

#include "compiler/eval/eval.h"
#include "compiler/syntax/parse.h"
#include "core/hash.h"

namespace kiln {

namespace {

class CompiledConfigImpl : public CompiledConfig {
 public:
  CompiledConfigImpl(std::unique_ptr<Program> program, std::map<std::string, Value> inputs, std::string hash)
      : program_(std::move(program)), inputs_(std::move(inputs)), hash_(std::move(hash)) {}

  ConfigGraph Evaluate(const ResourceLookup& lookup, Diagnostics& diags) const override {
    return EvaluateProgram(*program_, inputs_, lookup, diags);
  }

  std::optional<ResourceInstance> EvaluateInstance(const std::string& address, const ResourceLookup& lookup,
                                                   Diagnostics& diags) const override {
    return EvaluateProgramInstance(*program_, inputs_, address, lookup, diags);
  }

  std::string ConfigHash() const override { return hash_; }

  SourceRange AttributeRange(const std::string& address, const Path& path) const override {
    return AttributeSourceRange(*program_, address, path);
  }

  const Program& program() const { return *program_; }
  const std::map<std::string, Value>& inputs() const { return inputs_; }

 private:
  std::unique_ptr<Program> program_;
  std::map<std::string, Value> inputs_;
  std::string hash_;
};

// A type error in one attribute must not hide the checks that need values
// (placement, cost, ranges, bounds, overflow) of everything else: evaluate
// what the errors leave intact and keep those diagnostics only (the rest
// would repeat or follow from the errors already reported).
void AddValueChecks(const Program& program, Diagnostics& diags) {
  std::vector<SourceRange> poisoned;
  for (const Diagnostic& d : diags.items()) {
    if (d.severity == Severity::kError && d.range.valid()) poisoned.push_back(d.range);
  }
  Diagnostics found;
  EvaluateForChecks(program, poisoned, found);
  static const std::set<std::string> kValueChecks = {"E0440", "E0441", "E0442", "E0443", "E0444",
                                                      "E0445", "E0447", "E0448"};
  for (const Diagnostic& d : found.items()) {
    if (kValueChecks.count(d.code)) diags.Add(d);
  }
}

}  // namespace

std::unique_ptr<Program> CheckProgram(const std::string& root_dir, SourceManager& sm,
                                      std::function<const ProviderSchema*(const std::string&)> schemas,
                                      Diagnostics& diags, bool allow_empty_root) {
  return CheckProgramWith(root_dir, sm, std::move(schemas), EvaluatePreludeValue, diags, allow_empty_root);
}

std::unique_ptr<CompiledConfig> Compile(const CompileOptions& options, SourceManager& sm, Diagnostics& diags) {
  size_t files_before = sm.FileCount();
  Diagnostics local;
  std::unique_ptr<Program> program = CheckProgram(options.root_dir, sm, options.provider_schema, local,
                                                    options.allow_empty_root);
  if (local.HasErrors() || !program->root) {
    if (program->root) AddValueChecks(*program, local);
    local.SortBySource();
    diags.Append(local);
    return nullptr;
  }
  // Root inputs: --var text, then --var-file JSON, then KILN_VAR_NAME.
  std::map<std::string, Value> inputs;
  std::vector<std::string> names;
  for (const ast::Decl* d : program->root->module.decls) {
    const auto* in = ast::As<ast::InputDecl>(d);
    if (!in) continue;
    names.push_back(in->name);
    TypeRef type = program->root->input_types.at(d);
    Value v;
    std::string error, source;
    bool have = false, ok = true;
    if (auto it = options.inputs.raw.find(in->name); it != options.inputs.raw.end()) {
      have = true;
      source = "--var " + in->name;
      ok = ParseRawInput(*program, it->second, type, &v, &error);
    } else if (auto jt = options.inputs.json.find(in->name); jt != options.inputs.json.end()) {
      have = true;
      source = "the var file";
      ok = CoerceValue(*program, FromJson(jt->second), type, true, &v, &error);
    } else if (const char* env = std::getenv(("KILN_VAR_" + in->name).c_str())) {
      have = true;
      source = "KILN_VAR_" + in->name;
      ok = ParseRawInput(*program, env, type, &v, &error);
    }
    if (!have) {
      if (!in->default_value) {
        Diagnostic& e = local.Error("E0431", in->name_range, "input `" + in->name + "` is required but not set");
        e.label = "no default";
        e.help = "set it with --var " + in->name + "=VALUE, in a --var-file, or with the environment variable KILN_VAR_" + in->name;
      }
      continue;
    }
    if (!ok) {
      Diagnostic& e = local.Error("E0432", in->name_range, "invalid value for input `" + in->name + "` from " + source + ": " + error);
      e.label = "declared as " + TypeToString(type);
      continue;
    }
    inputs[in->name] = v;
  }
  auto warn_unknown = [&](const std::string& name, const std::string& from) {
    if (std::find(names.begin(), names.end(), name) != names.end()) return;
    Diagnostic& w = local.Warning("W0401", SourceRange{}, "a value was given for `" + name + "` (" + from + ") but the root module has no such input");
    std::string hint = ClosestMatch(name, names);
    if (!hint.empty()) w.help = "did you mean `" + hint + "`?";
  };
  for (const auto& [name, v] : options.inputs.raw) warn_unknown(name, "--var");
  for (const auto& [name, v] : options.inputs.json) warn_unknown(name, "var file");
  local.SortBySource();
  diags.Append(local);
  if (local.HasErrors()) return nullptr;
  // The hash covers every source file read and every input value.
  Sha256Builder h;
  for (uint32_t id = static_cast<uint32_t>(files_before) + 1; id <= sm.FileCount(); ++id) {
    h.Update(sm.Path(id));
    h.Update(std::string_view("\0", 1));
    h.Update(sm.Text(id));
  }
  for (const auto& [name, v] : inputs) {
    h.Update(name);
    h.Update(ToJson(v).dump());
  }
  std::string hash = ToHex(h.Final());
  return std::make_unique<CompiledConfigImpl>(std::move(program), std::move(inputs), std::move(hash));
}

const Program& ProgramOf(const CompiledConfig& config) {
  return static_cast<const CompiledConfigImpl&>(config).program();
}

const std::map<std::string, Value>& RootInputsOf(const CompiledConfig& config) {
  return static_cast<const CompiledConfigImpl&>(config).inputs();
}

bool EvaluateExpression(const CompiledConfig& config, SourceManager& sm, const std::string& text,
                        const ResourceLookup& lookup, Value* out, Diagnostics& diags) {
  Diagnostics local;
  ast::ExprPtr expr = ParseExpressionText(sm, "<expression>", text, local);
  if (!expr || local.HasErrors()) {
    diags.Append(local);
    return false;
  }
  Program& program = const_cast<Program&>(ProgramOf(config));
  CheckExpressionInRoot(program, expr.get(), local);
  if (local.HasErrors()) {
    diags.Append(local);
    return false;
  }
  *out = EvaluateInRoot(program, RootInputsOf(config), lookup, expr.get(), local);
  local.SortBySource();
  diags.Append(local);
  return !local.HasErrors();
}

}  // namespace kiln
