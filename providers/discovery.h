// Where provider plugins are found: .kiln/providers/kiln-provider-<type>,
// then each $KILN_PROVIDER_PATH entry, then the kiln binary's directory.
// The first match wins.
#pragma once

#include <string>
#include <vector>

#include "providers/registry.h"

namespace kiln {

// The plugin directories in search order (absolute or as given).
std::vector<std::string> PluginSearchDirs(const RegistryOptions& options);

// The path of kiln-provider-<type>, or "" if none; *searched lists the
// directories looked in (for the "not found" message).
std::string FindPlugin(const std::string& type, const RegistryOptions& options,
                       std::vector<std::string>* searched = nullptr);

struct PluginFile {
  std::string type;
  std::string path;
};
// Every discoverable plugin, one per type (the first in search order),
// sorted by type.
std::vector<PluginFile> ListPlugins(const RegistryOptions& options);

// The types registered with RegisterBuiltinProvider, sorted.
std::vector<std::string> BuiltinProviderTypes();

// Lower-case hex sha256 of a file's bytes ("" if unreadable).
std::string Sha256File(const std::string& path);

}  // namespace kiln
