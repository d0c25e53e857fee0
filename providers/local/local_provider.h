// The built-in `local` provider: runs clusters (GPU reservations), datastores
// (directories), training jobs and endpoints (detached processes) on the
// machine that runs kiln. See PROVIDERS.md and docs/providers.md.
#pragma once

#include <memory>

#include "providers/local/gpus.h"
#include "providers/local/system.h"
#include "providers/provider.h"

namespace kiln {

// The real thing (real processes, clock, HTTP, nvidia-smi).
std::unique_ptr<Provider> NewLocalProvider();
// With other seams (tests) and catalog (null: the installed one).
std::unique_ptr<Provider> NewLocalProvider(std::shared_ptr<local::System> system,
                                           const local::GpuCatalog* catalog = nullptr);

}  // namespace kiln
