#include "cli/cli.h"

#include <unistd.h>

#include <cstdlib>
#include <filesystem>

#include "cli/backend.h"
#include "cli/commands.h"

namespace kiln::cli {

void Context::Report(const Diagnostics& diags, const SourceManager& sm) const {
  RenderOptions options;
  options.format = diagnostics;
  options.color = color && isatty(STDERR_FILENO);
  RenderDiagnostics(diags, sm, options, *err);
}

void Context::Fail(const std::string& message) const {
  bool c = color && isatty(STDERR_FILENO);
  *err << (c ? "\x1b[1;31merror\x1b[0m: " : "error: ") << message << "\n";
}

Flags::Flags(std::string usage, std::string summary)
    : usage_(std::move(usage)), summary_(std::move(summary)) {}

void Flags::Bool(const std::string& name, bool* target, const std::string& help) {
  flags_[name] = Flag{Flag::kBool, target, "", help};
  order_.push_back(name);
}

void Flags::String(const std::string& name, std::string* target, const std::string& meta,
                   const std::string& help) {
  flags_[name] = Flag{Flag::kString, target, meta, help};
  order_.push_back(name);
}

void Flags::Repeated(const std::string& name, std::vector<std::string>* target,
                     const std::string& meta, const std::string& help) {
  flags_[name] = Flag{Flag::kRepeated, target, meta, help};
  order_.push_back(name);
}

void Flags::Positional(std::vector<std::string>* target, size_t min, size_t max) {
  positional_ = target;
  min_positional_ = min;
  max_positional_ = max;
}

void Flags::PrintHelp(std::ostream& out) const {
  out << "Usage: " << usage_ << "\n\n" << summary_ << "\n";
  if (order_.empty()) return;
  out << "\nOptions:\n";
  for (const auto& name : order_) {
    const Flag& f = flags_.at(name);
    std::string left = "  " + name;
    if (f.kind == Flag::kBool && name.rfind("--refresh", 0) != 0) {
      // plain switch
    } else if (f.kind != Flag::kBool) {
      left += " " + f.meta;
    }
    if (left.size() < 28) left += std::string(28 - left.size(), ' ');
    else left += "  ";
    out << left << f.help << "\n";
  }
  out << "  -h, --help" << std::string(28 - 12, ' ') << "Show this help\n";
}

bool Flags::Parse(const std::vector<std::string>& args, const Context& ctx) {
  bool only_positional = false;
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string& arg = args[i];
    if (!only_positional && arg == "--") {
      only_positional = true;
      continue;
    }
    if (!only_positional && (arg == "-h" || arg == "--help" || arg == "-help")) {
      PrintHelp(*ctx.out);
      exit_code_ = 0;
      return false;
    }
    if (!only_positional && arg.size() > 1 && arg[0] == '-') {
      std::string name = arg;
      std::string value;
      bool has_value = false;
      if (auto eq = arg.find('='); eq != std::string::npos) {
        name = arg.substr(0, eq);
        value = arg.substr(eq + 1);
        has_value = true;
      }
      auto it = flags_.find(name);
      // Terraform's single-dash spellings: -out, -var, -auto-approve, ...
      if (it == flags_.end() && name.size() > 2 && name[1] != '-') {
        it = flags_.find("-" + name);
        if (it != flags_.end()) name = "-" + name;
      }
      if (it == flags_.end()) {
        std::string hint = ClosestMatch(name, order_);
        ctx.Fail("unknown flag `" + name + "`" +
                 (hint.empty() ? "" : " (did you mean `" + hint + "`?)") + "; see `" +
                 usage_.substr(0, usage_.find(' ', usage_.find(' ') + 1)) + " --help`");
        exit_code_ = 1;
        return false;
      }
      Flag& f = it->second;
      if (f.kind == Flag::kBool) {
        bool v = true;
        if (has_value) {
          if (value == "true") v = true;
          else if (value == "false") v = false;
          else {
            ctx.Fail("flag `" + name + "` takes true or false, not `" + value + "`");
            exit_code_ = 1;
            return false;
          }
        }
        *static_cast<bool*>(f.target) = v;
        continue;
      }
      if (!has_value) {
        if (i + 1 >= args.size()) {
          ctx.Fail("flag `" + name + "` needs a value (" + f.meta + ")");
          exit_code_ = 1;
          return false;
        }
        value = args[++i];
      }
      if (f.kind == Flag::kString) *static_cast<std::string*>(f.target) = value;
      else static_cast<std::vector<std::string>*>(f.target)->push_back(value);
      continue;
    }
    if (!positional_) {
      ctx.Fail("unexpected argument `" + arg + "`; usage: " + usage_);
      exit_code_ = 1;
      return false;
    }
    positional_->push_back(arg);
  }
  size_t n = positional_ ? positional_->size() : 0;
  if (n < min_positional_ || (positional_ && n > max_positional_)) {
    ctx.Fail("wrong number of arguments; usage: " + usage_);
    exit_code_ = 1;
    return false;
  }
  return true;
}

const std::vector<Command>& Commands() {
  static const std::vector<Command> commands = {
      {"init", "Resolve modules and providers, write kiln.lock", RunInit},
      {"validate", "Parse, type-check and evaluate the configuration", RunValidate},
      {"fmt", "Rewrite files in the canonical format", RunFmt},
      {"plan", "Show what apply would change", RunPlan},
      {"apply", "Make the changes of a plan", RunApply},
      {"destroy", "Delete everything in state", RunDestroy},
      {"show", "Show a saved plan or the current state", RunShow},
      {"graph", "Print the dependency graph in Graphviz DOT", RunGraph},
      {"output", "Print outputs from state", RunOutput},
      {"state", "Inspect and edit state (list, show, rm, mv, history, rollback, migrate)", RunState},
      {"import", "Adopt an existing object into state", RunImport},
      {"force-unlock", "Remove a stale state lock", RunForceUnlock},
      {"workspace", "List, create, select and delete workspaces", RunWorkspace},
      {"doc", "Markdown reference of a module", RunDoc},
      {"providers", "List the providers in use", RunProviders},
      {"eval", "Evaluate an expression in the root module, print JSON", RunEval},
      {"version", "Print version information", RunVersion},
      {"debug", "Developer tools (debug ast FILE)", RunDebug},
  };
  return commands;
}

namespace {

void PrintMainHelp(std::ostream& out) {
  out << "Usage: kiln [global flags] <command> [args]\n\n"
         "Kiln compiles, plans and applies typed ML platform configurations.\n\n"
         "Commands:\n";
  for (const auto& c : Commands()) {
    if (c.name == "debug") continue;
    out << "  " << c.name << std::string(14 - c.name.size(), ' ') << c.summary << "\n";
  }
  out << "\nGlobal flags:\n"
         "  -C DIR, -C=DIR, -chdir=DIR  Run as if started in DIR\n"
         "  --no-color                  Never use colour (also NO_COLOR)\n"
         "  --workspace NAME            Use this workspace's state (also KILN_WORKSPACE)\n"
         "  --diagnostics=text|json|github\n"
         "                              How errors and warnings are printed\n"
         "  -h, --help                  Show help (also after any command)\n"
         "Global flags may also follow the command. Every flag also takes Terraform's\n"
         "single-dash spelling (-out, -var, -auto-approve, -json, ...).\n";
}

}  // namespace

int Main(int argc, char** argv) {
  std::vector<std::string> args(argv + 1, argv + argc);
  Context ctx;
  bool no_color = std::getenv("NO_COLOR") != nullptr;
  size_t i = 0;
  for (; i < args.size(); ++i) {
    const std::string& a = args[i];
    if (a == "-C") {
      if (i + 1 >= args.size()) {
        ctx.Fail("-C needs a directory");
        return 1;
      }
      ctx.dir = args[++i];
    } else if (a.rfind("-C", 0) == 0 && a.size() > 2) {
      ctx.dir = a[2] == '=' ? a.substr(3) : a.substr(2);
    } else if (a.rfind("-chdir=", 0) == 0 || a.rfind("--chdir=", 0) == 0) {
      ctx.dir = a.substr(a.find('=') + 1);
    } else if (a == "--no-color") {
      no_color = true;
    } else if (a == "--workspace" || a.rfind("--workspace=", 0) == 0) {
      if (a == "--workspace" && i + 1 >= args.size()) {
        ctx.Fail("--workspace needs a name");
        return 1;
      }
      ctx.workspace = a == "--workspace" ? args[++i] : a.substr(12);
    } else if (a.rfind("--diagnostics=", 0) == 0 || a == "--diagnostics") {
      std::string v = a == "--diagnostics" ? (i + 1 < args.size() ? args[++i] : "")
                                           : a.substr(14);
      if (v == "text") ctx.diagnostics = DiagnosticFormat::kText;
      else if (v == "json") ctx.diagnostics = DiagnosticFormat::kJson;
      else if (v == "github") ctx.diagnostics = DiagnosticFormat::kGithub;
      else {
        ctx.Fail("--diagnostics takes text, json or github, not `" + v + "`");
        return 1;
      }
    } else if (a == "-h" || a == "--help") {
      PrintMainHelp(std::cout);
      return 0;
    } else if (a == "--version" || a == "-v") {
      return RunVersion(ctx, {});
    } else {
      break;
    }
  }
  ctx.color = !no_color && isatty(STDOUT_FILENO);
  if (i >= args.size()) {
    PrintMainHelp(std::cerr);
    return 1;
  }
  std::string name = args[i];
  std::vector<std::string> rest(args.begin() + i + 1, args.end());
  // Global flags may also follow the command name.
  std::vector<std::string> filtered;
  for (size_t j = 0; j < rest.size(); ++j) {
    const std::string& a = rest[j];
    if (a == "--no-color") { ctx.color = false; continue; }
    if (a.rfind("--workspace=", 0) == 0) { ctx.workspace = a.substr(12); continue; }
    // -C DIR, -C=DIR and -chdir=DIR after the command too.
    if (a == "-C" && j + 1 < rest.size()) { ctx.dir = rest[++j]; continue; }
    if (a.rfind("-C=", 0) == 0) { ctx.dir = a.substr(3); continue; }
    if (a.rfind("-chdir=", 0) == 0 || a.rfind("--chdir=", 0) == 0) { ctx.dir = a.substr(a.find('=') + 1); continue; }
    if (a == "--workspace" && j + 1 < rest.size()) { ctx.workspace = rest[++j]; continue; }
    if (a.rfind("--diagnostics=", 0) == 0) {
      std::string v = a.substr(14);
      if (v == "text") ctx.diagnostics = DiagnosticFormat::kText;
      else if (v == "json") ctx.diagnostics = DiagnosticFormat::kJson;
      else if (v == "github") ctx.diagnostics = DiagnosticFormat::kGithub;
      else {
        ctx.Fail("--diagnostics takes text, json or github, not `" + v + "`");
        return 1;
      }
      continue;
    }
    filtered.push_back(a);
  }
  if (ctx.dir != ".") {
    std::error_code ec;
    std::filesystem::current_path(ctx.dir, ec);
    if (ec) {
      ctx.Fail("cannot change to directory `" + ctx.dir + "`: " + ec.message());
      return 1;
    }
  }
  // The configuration sees the workspace as env("KILN_WORKSPACE", "default").
  ::setenv("KILN_WORKSPACE", CurrentWorkspace(ctx).c_str(), 1);
  for (const auto& c : Commands()) {
    if (c.name == name) return c.run(ctx, filtered);
  }
  std::vector<std::string> names;
  for (const auto& c : Commands()) names.push_back(c.name);
  std::string hint = ClosestMatch(name, names);
  ctx.Fail("unknown command `" + name + "`" +
           (hint.empty() ? "" : " (did you mean `" + hint + "`?)") + "; see `kiln --help`");
  return 1;
}

}  // namespace kiln::cli
