#include <malloc.h>

#include <cstring>

#include "cli/cli.h"
#include "providers/local/jobs.h"
#include "providers/local/proxy.h"

int main(int argc, char** argv) {
  // No glibc fastbins: a plan builds and frees millions of small JSON nodes
  // between large buffers, and every free of a large block consolidated all
  // of the fastbins (malloc_consolidate was 15% of a no-change plan of
  // 10,000 resources; bench/README.md). Small blocks still come from the
  // per-thread caches.
  mallopt(M_MXFAST, 0);
  // Hidden: the local provider's job supervisor (providers/local/jobs.h),
  // started detached by the provider, never by users.
  if (argc >= 2 && std::strcmp(argv[1], "__local-supervise") == 0) return kiln::local::SupervisorMain(argc, argv);
  // Hidden: an endpoint's proxy (providers/local/proxy.h).
  if (argc >= 2 && std::strcmp(argv[1], "__local-proxy") == 0) return kiln::local::ProxyMain(argc, argv);
  return kiln::cli::Main(argc, argv);
}
