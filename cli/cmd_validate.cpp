// `kiln validate [DIR]`: for now, parses every file of the module and reports
// every syntax error. (The type checker replaces the body with Compile().)
#include "cli/commands.h"
#include "compiler/syntax/module_files.h"
#include "compiler/syntax/parse.h"

namespace kiln::cli {

int RunValidate(const Context& ctx, const std::vector<std::string>& args) {
  std::vector<std::string> positional;
  Flags flags("kiln validate [DIR]",
              "Check the module in DIR (default: the current directory) and report every error.");
  flags.Positional(&positional, 0, 1);
  if (!flags.Parse(args, ctx)) return flags.exit_code();
  std::string dir = positional.empty() ? "." : positional[0];
  std::string error;
  std::vector<std::string> files = ListModuleFiles(dir, &error);
  if (!error.empty()) {
    ctx.Fail(error);
    return 1;
  }
  if (files.empty()) {
    ctx.Fail("no .kiln files in `" + dir + "`");
    return 1;
  }
  SourceManager sm;
  Diagnostics diags;
  for (const std::string& path : files) {
    uint32_t id = sm.AddFile(path, &error);
    if (id == 0) {
      diags.Error("E0098", {}, error);
      continue;
    }
    Parse(sm, id, diags);
  }
  ctx.Report(diags, sm);
  if (diags.HasErrors()) return 1;
  *ctx.out << "The configuration is valid (" << files.size() << (files.size() == 1 ? " file" : " files")
           << ").\n";
  return 0;
}

}  // namespace kiln::cli
