// Schemas of kinds and provider configuration, as providers describe them.
// Types are written in Kiln type syntax ("int", "list<string>", "duration?").
#pragma once

#include <map>
#include <string>
#include <vector>

namespace kiln {

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

}  // namespace kiln
