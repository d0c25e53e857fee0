// `kiln` with the fake provider built in as provider type `fake`: the
// binary end-to-end tests run when they need a provider without side
// effects (scenarios, the crash and interrupt tests). The production `kiln`
// does not contain the fake. KILN_FAKE_LATENCY_MS sets the latency of
// apply, read and delete.
#include <cstdlib>

#include "cli/cli.h"
#include "providers/testing/fake_provider.h"

int main(int argc, char** argv) {
  kiln::testing::FakeOptions options;
  if (const char* ms = std::getenv("KILN_FAKE_LATENCY_MS")) {
    int v = std::atoi(ms);
    options.apply_ms = options.read_ms = options.delete_ms = v;
  }
  kiln::testing::RegisterFakeProvider("fake", options);
  return kiln::cli::Main(argc, argv);
}
