#include "cli/commands.h"

namespace kiln::cli {

int RunState(const Context& ctx, const std::vector<std::string>& args) {
  ctx.Fail("this command is not implemented yet");
  return 1;
}

int RunOutput(const Context& ctx, const std::vector<std::string>& args) {
  ctx.Fail("this command is not implemented yet");
  return 1;
}

int RunForceUnlock(const Context& ctx, const std::vector<std::string>& args) {
  ctx.Fail("this command is not implemented yet");
  return 1;
}

}  // namespace kiln::cli
