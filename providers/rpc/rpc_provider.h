// The Provider interface over JSON-RPC: a thin adapter from the request and
// response structs of providers/provider.h to the protocol of PROVIDERS.md.
#pragma once

#include <memory>
#include <nlohmann/json.hpp>
#include <string>

#include "providers/provider.h"

namespace kiln::rpc {

constexpr int kProtocolVersion = 1;

struct PluginOptions {
  std::string type;        // the provider type the executable is named for
  std::string path;        // the executable
  int call_timeout_ms = 5 * 60 * 1000;
  int initialize_timeout_ms = 30 * 1000;
  int shutdown_timeout_ms = 2000;
  // After Provider::Cancel, how long a call may take before the plugin is
  // killed (see docs/providers.md, "Cancellation").
  int cancel_grace_ms = 5000;
  bool forward_stderr = false;  // defaults to whether KILN_LOG is set (see StartPlugin)
  std::string log_path;
};

// Starts the plugin and runs the `initialize` handshake. Null (and an error
// in *diags naming the provider) on any failure.
std::unique_ptr<Provider> StartPlugin(const PluginOptions& options, ProviderDiagnostics* diags);

// Parsing of protocol values, exposed for tests and for other transports.
bool ParseSchema(const nlohmann::json& result, ProviderSchema* schema, std::string* error);
nlohmann::json SchemaToJson(const ProviderSchema& schema);
ProviderDiagnostics ParseDiagnostics(const nlohmann::json& list, const std::string& provider);
nlohmann::json DiagnosticsToJson(const ProviderDiagnostics& diags);

}  // namespace kiln::rpc
