// What providers describe and how the configuration instantiates them:
// schemas of kinds and provider settings (types in Kiln type syntax, "int",
// "list<string>", "duration?"), and configured provider instances.
#pragma once

#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "core/path.h"
#include "core/source_range.h"

namespace kiln {

// The provider used by resources that name none (`provider.local`).
inline constexpr char kDefaultProviderType[] = "local";

struct FieldSchema {
  std::string type;
  bool optional = false;
  bool computed = false;
  bool sensitive = false;
  std::string doc;
};

struct KindSchema {
  std::map<std::string, FieldSchema> fields;
};

struct ProviderSchema {
  std::string name;      // provider type, e.g. "slurm"
  std::string version;
  int protocol_version = 1;
  std::map<std::string, FieldSchema> config;
  // Bare kind names: a core kind ("endpoint") means the provider implements
  // it; any other key K is used in source as TYPE.K.
  std::map<std::string, KindSchema> kinds;
  std::vector<std::string> capabilities;  // e.g. "inventory"
};

struct ProviderInstance {
  std::string address;  // "provider.slurm.hpc"; the implicit default is "provider.local"
  std::string type;     // "slurm"
  std::string name;     // "hpc"
  nlohmann::json config;
  std::vector<Path> sensitive_paths;
  SourceRange range;
};

}  // namespace kiln
