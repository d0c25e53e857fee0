#include "cli/commands.h"

namespace kiln::cli {

int RunPlan(const Context& ctx, const std::vector<std::string>& args) {
  ctx.Fail("this command is not implemented yet");
  return 1;
}

int RunApply(const Context& ctx, const std::vector<std::string>& args) {
  ctx.Fail("this command is not implemented yet");
  return 1;
}

int RunDestroy(const Context& ctx, const std::vector<std::string>& args) {
  ctx.Fail("this command is not implemented yet");
  return 1;
}

int RunShow(const Context& ctx, const std::vector<std::string>& args) {
  ctx.Fail("this command is not implemented yet");
  return 1;
}

int RunGraph(const Context& ctx, const std::vector<std::string>& args) {
  ctx.Fail("this command is not implemented yet");
  return 1;
}

}  // namespace kiln::cli
