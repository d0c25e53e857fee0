// One function per subcommand; each lives in its own cmd_*.cpp.
#pragma once

#include "cli/cli.h"

namespace kiln::cli {

#define KILN_COMMAND(fn) int fn(const Context& ctx, const std::vector<std::string>& args)
KILN_COMMAND(RunInit);
KILN_COMMAND(RunValidate);
KILN_COMMAND(RunFmt);
KILN_COMMAND(RunPlan);
KILN_COMMAND(RunApply);
KILN_COMMAND(RunDestroy);
KILN_COMMAND(RunShow);
KILN_COMMAND(RunGraph);
KILN_COMMAND(RunOutput);
KILN_COMMAND(RunState);
KILN_COMMAND(RunImport);
KILN_COMMAND(RunForceUnlock);
KILN_COMMAND(RunWorkspace);
KILN_COMMAND(RunDoc);
KILN_COMMAND(RunProviders);
KILN_COMMAND(RunEval);
KILN_COMMAND(RunVersion);
KILN_COMMAND(RunDebug);
#undef KILN_COMMAND

}  // namespace kiln::cli
