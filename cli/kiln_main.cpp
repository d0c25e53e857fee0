#include <cstring>

#include "cli/cli.h"
#include "providers/local/jobs.h"
#include "providers/local/proxy.h"

int main(int argc, char** argv) {
  // Hidden: the local provider's job supervisor (providers/local/jobs.h),
  // started detached by the provider, never by users.
  if (argc >= 2 && std::strcmp(argv[1], "__local-supervise") == 0) return kiln::local::SupervisorMain(argc, argv);
  // Hidden: an endpoint's proxy (providers/local/proxy.h).
  if (argc >= 2 && std::strcmp(argv[1], "__local-proxy") == 0) return kiln::local::ProxyMain(argc, argv);
  return kiln::cli::Main(argc, argv);
}
