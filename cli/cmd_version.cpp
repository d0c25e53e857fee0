#include "cli/commands.h"

namespace kiln::cli {

// Protocol and state format versions are part of the contract (CLI.md).
int RunVersion(const Context& ctx, const std::vector<std::string>& args) {
  Flags flags("kiln version", "Print the kiln version and the protocol and state format versions.");
  if (!flags.Parse(args, ctx)) return flags.exit_code();
  *ctx.out << "kiln " << KILN_VERSION << "\n"
           << "provider protocol 1\n"
           << "state format 1\n"
           << "plan format 1.0\n";
  return 0;
}

}  // namespace kiln::cli
