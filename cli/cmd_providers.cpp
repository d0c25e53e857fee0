#include "cli/commands.h"

namespace kiln::cli {

int RunProviders(const Context& ctx, const std::vector<std::string>& args) {
  ctx.Fail("this command is not implemented yet");
  return 1;
}

int RunInit(const Context& ctx, const std::vector<std::string>& args) {
  ctx.Fail("this command is not implemented yet");
  return 1;
}

int RunImport(const Context& ctx, const std::vector<std::string>& args) {
  ctx.Fail("this command is not implemented yet");
  return 1;
}

}  // namespace kiln::cli
