#include "cli/commands.h"

namespace kiln::cli {

int RunEval(const Context& ctx, const std::vector<std::string>& args) {
  ctx.Fail("this command is not implemented yet");
  return 1;
}

int RunDoc(const Context& ctx, const std::vector<std::string>& args) {
  ctx.Fail("this command is not implemented yet");
  return 1;
}

}  // namespace kiln::cli
