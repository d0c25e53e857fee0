// Finds, starts and configures providers. Built-ins (local, slurm, and test
// fakes registered by tests) are linked in; anything else is a plugin
// executable `kiln-provider-<type>` found in .kiln/providers/, then
// $KILN_PROVIDER_PATH (colon-separated), then next to the kiln binary.
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "providers/provider.h"

namespace kiln {

using ProviderFactory = std::function<std::unique_ptr<Provider>()>;

// Makes a built-in provider type available to every registry created after
// the call (the planner's tests register their fake this way).
void RegisterBuiltinProvider(const std::string& type, ProviderFactory factory);

struct RegistryOptions {
  std::string working_dir = ".";            // where .kiln/providers/ is looked up
  std::vector<std::string> search_path;     // defaults to $KILN_PROVIDER_PATH
  std::string kiln_binary_dir;              // defaults to the running binary's dir
  int call_timeout_ms = 5 * 60 * 1000;      // per JSON-RPC call (apply waits may be long)
};

struct ProviderInfo {
  std::string type;
  std::string origin;   // "built-in" or the plugin's path
  std::string version;
  std::vector<std::string> kinds;
};

// Thread-safe: the apply walk calls Instance() from many threads.
class ProviderRegistry {
 public:
  explicit ProviderRegistry(RegistryOptions options = {});
  ~ProviderRegistry();  // shuts every started provider down

  // The schema of a provider type, starting the plugin if needed; null (and
  // an error in *diags) if no such provider can be found or started.
  const ProviderSchema* SchemaFor(const std::string& type, ProviderDiagnostics* diags);
  // A configured provider for one provider instance of the configuration;
  // each instance address gets its own process/object, configured once.
  Provider* Instance(const ProviderInstance& instance, ProviderDiagnostics* diags);
  // What has been started so far, for `kiln providers`.
  std::vector<ProviderInfo> Started() const;
  void ShutdownAll();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace kiln
