// The built-in `kubernetes` provider: the portable kinds as Kubernetes
// objects, created and updated by server-side apply (fieldManager=kiln),
// checked at plan by a server dry run. See docs/providers.md.
#pragma once

#include <functional>
#include <memory>

#include "providers/kubernetes/client.h"
#include "providers/kubernetes/rollout.h"
#include "providers/local/gpus.h"
#include "providers/provider.h"

namespace kiln {

using KubeTransportFactory = std::function<std::unique_ptr<kube::Transport>(const kube::Connection&)>;

// The real thing (libcurl, the steady clock, the installed GPU catalog).
std::unique_ptr<Provider> NewKubernetesProvider();
// With other seams (tests).
std::unique_ptr<Provider> NewKubernetesProvider(KubeTransportFactory transport, kube::Clock* clock,
                                                const local::GpuCatalog* catalog = nullptr);

}  // namespace kiln
