// The `kiln` command line: global flags, the command table, flag parsing.
#pragma once

#include <functional>
#include <iostream>
#include <map>
#include <string>
#include <vector>

#include "compiler/diag/diagnostics.h"

namespace kiln::cli {

// What every command gets: the global flags, already applied.
struct Context {
  std::string dir = ".";                 // -C DIR (already chdir'ed into)
  bool color = false;                    // stdout is a terminal and no --no-color/NO_COLOR
  DiagnosticFormat diagnostics = DiagnosticFormat::kText;
  std::string workspace;                 // --workspace NAME ("" = KILN_WORKSPACE or the selected one)
  std::ostream* out = &std::cout;
  std::ostream* err = &std::cerr;
  // Renders diagnostics to stderr in the chosen format.
  void Report(const Diagnostics& diags, const SourceManager& sm) const;
  // A one-line error without a source location ("error: ...").
  void Fail(const std::string& message) const;
};

// Flag parsing shared by every subcommand. Declare flags, then Parse();
// `-h/--help` prints the usage and makes Parse() return false with
// exit_code 0; a bad flag prints an error and returns false with 1.
class Flags {
 public:
  Flags(std::string usage, std::string summary);
  void Bool(const std::string& name, bool* target, const std::string& help);
  void String(const std::string& name, std::string* target, const std::string& meta,
              const std::string& help);
  void Repeated(const std::string& name, std::vector<std::string>* target,
                const std::string& meta, const std::string& help);
  // Positional arguments end up here; limits are checked by Parse().
  void Positional(std::vector<std::string>* target, size_t min, size_t max);
  bool Parse(const std::vector<std::string>& args, const Context& ctx);
  int exit_code() const { return exit_code_; }
  void PrintHelp(std::ostream& out) const;

 private:
  struct Flag {
    enum Kind { kBool, kString, kRepeated } kind;
    void* target;
    std::string meta;
    std::string help;
  };
  std::string usage_, summary_;
  std::map<std::string, Flag> flags_;
  std::vector<std::string> order_;
  std::vector<std::string>* positional_ = nullptr;
  size_t min_positional_ = 0, max_positional_ = 0;
  int exit_code_ = 0;
};

using CommandFn = std::function<int(const Context&, const std::vector<std::string>&)>;

struct Command {
  std::string name;
  std::string summary;
  CommandFn run;
};

// Every command, in the order `kiln --help` lists them.
const std::vector<Command>& Commands();

int Main(int argc, char** argv);

}  // namespace kiln::cli
