// What the compiler hands the planner: a checked, evaluated configuration.
// Plain values; attribute values are JSON in the forms of LANGUAGE.md §9
// (durations in ms, bytes as integers, unknowns as {"$unknown": true}).
// Sensitive values are plain here (providers need them) and their paths are
// listed so that every renderer and the state can redact them.
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "compiler/diag/diagnostics.h"
#include "core/address.h"
#include "core/path.h"
#include "core/provider_schema.h"
#include "core/wire.h"

namespace kiln {

struct Lifecycle {
  bool prevent_destroy = false;
  std::optional<bool> create_before_destroy;  // unset: the kind's default
  std::vector<Path> ignore_changes;
  // Addresses (optionally with an attribute: `training_job.train.id`).
  std::vector<std::string> replace_triggered_by;
};

struct ResourceInstance {
  std::string address;        // module.eu["k"].endpoint.chat["x"]
  std::string module;         // "module.eu[\"k\"]" or "" for the root module
  std::string kind;           // "endpoint", "slurm.reservation"
  std::string name;           // "chat"
  nlohmann::json key;         // null, a string (for maps and lists) 
  std::string provider;       // provider instance address: "provider.slurm.hpc", "provider.local"
  std::string provider_type;  // "slurm", "local"
  nlohmann::json config;      // object of attribute values (computed ones absent or unknown)
  std::vector<Path> sensitive_paths;
  // Paths of duration and bytes values (held as ms and integers in `config`),
  // so that renderers can print `10m` and `80GiB` instead of raw integers.
  std::vector<Path> duration_paths;
  std::vector<Path> bytes_paths;
  std::vector<std::string> depends_on;  // resource addresses, sorted, unique
  Lifecycle lifecycle;
  SourceRange range;          // the declaration, for diagnostics
};

struct OutputValue {
  nlohmann::json value;
  bool sensitive = false;
  // Paths into `value` (empty path: the whole value) of durations and bytes.
  std::vector<Path> duration_paths;
  std::vector<Path> bytes_paths;
};

struct BackendConfig {
  std::string type = "local";
  nlohmann::json config = nlohmann::json::object();  // e.g. {"path": ".kiln/state.json"}
};

struct ConfigGraph {
  std::vector<ResourceInstance> resources;  // sorted by address
  std::vector<ProviderInstance> providers;  // sorted by address
  std::map<std::string, OutputValue> outputs;
  BackendConfig backend;
  const ResourceInstance* Find(const std::string& address) const;
};

// Values of resources known from state (their computed attributes), by address.
// Returns null for a resource that is not (yet) in state.
using ResourceLookup = std::function<const nlohmann::json*(const std::string& address)>;

// A loaded, type-checked module tree, ready to evaluate any number of times.
class CompiledConfig {
 public:
  virtual ~CompiledConfig() = default;
  // Evaluates the whole tree; computed attributes come from `lookup`,
  // unknown otherwise.
  virtual ConfigGraph Evaluate(const ResourceLookup& lookup, Diagnostics& diags) const = 0;
  // Re-evaluates one instance's attributes (after its dependencies applied).
  virtual std::optional<ResourceInstance> EvaluateInstance(const std::string& address,
                                                           const ResourceLookup& lookup,
                                                           Diagnostics& diags) const = 0;
  // A hash of every source file and input value, recorded in saved plans.
  virtual std::string ConfigHash() const = 0;
  // Where attribute `path` of instance `address` is written (for provider
  // diagnostics about one attribute); invalid when it is not written there.
  virtual SourceRange AttributeRange(const std::string& /*address*/, const Path& /*path*/) const { return {}; }
};

// Compile() and its options are declared in compiler/compile.h.

}  // namespace kiln
