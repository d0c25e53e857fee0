// What `kiln init` and `kiln providers` learn from a syntactic walk of the
// module tree (no evaluation: it must work before inputs are set and before
// providers or git modules are installed).
#pragma once

#include <functional>
#include <nlohmann/json.hpp>
#include <set>
#include <string>
#include <vector>

#include "compiler/diag/diagnostics.h"
#include "providers/registry.h"

namespace kiln::cli {

struct ModuleEntry {
  std::string address;  // module.a.module.b
  std::string source;   // as written
  std::string kind;     // "local" | "std" | "git"
  std::string dir;
  nlohmann::json git;   // for kind "git": url, subdir, ref, commit, sha256 (kiln.lock's fields)
};

struct ConfigScan {
  bool has_config = false;
  std::set<std::string> provider_types;  // from `provider T x {}` and `T.kind` resources
  bool uses_core_kinds = false;
  std::vector<ModuleEntry> modules;
};

// Resolves a `git::` source met at `address` to its directory, filling
// entry->git; "" after reporting into diags.
using GitResolver = std::function<std::string(const std::string& source, const SourceRange& where,
                                              ModuleEntry* entry, Diagnostics& diags)>;

// Walks the module tree of the working directory. Without a resolver, git
// sources are looked up in kiln.lock (as compiling does).
ConfigScan Scan(SourceManager& sm, Diagnostics& diags, const GitResolver& git = nullptr);

// The provider types the configuration needs: those it names, plus the
// built-in local provider when core kinds are used and none of the named
// providers implements one.
std::set<std::string> TypesInUse(const ConfigScan& scan, ProviderRegistry& reg);

// E1104 for each error a provider reported when started.
void AddProviderError(Diagnostics& diags, const ProviderDiagnostics& pd);

// `path` relative to the working directory when it is inside it.
std::string Relative(const std::string& path);

}  // namespace kiln::cli
