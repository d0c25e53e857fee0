// The built-in `slurm` provider: partitions, training jobs and endpoint
// replicas on a Slurm cluster through slurmrestd. See PROVIDERS.md and
// docs/providers.md ("The slurm provider").
#pragma once

#include <functional>
#include <memory>

#include "providers/provider.h"
#include "providers/slurm/http.h"

namespace kiln {

struct SlurmSeams {
  std::shared_ptr<slurm::Http> http;       // null: libcurl
  std::function<void(int ms)> sleep;       // null: really sleep
  int poll_ms = 1000;                      // between job state polls
};

std::unique_ptr<Provider> NewSlurmProvider();
std::unique_ptr<Provider> NewSlurmProvider(SlurmSeams seams);

}  // namespace kiln
