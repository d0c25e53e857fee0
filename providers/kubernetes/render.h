// From Kiln resources to Kubernetes objects: names, labels, quantities and
// the objects of each kind (docs/providers.md has the table). Pure functions
// of the configuration and a few facts found on the server, so they are
// unit-tested without one.
#pragma once

#include <cstdint>
#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "providers/kubernetes/client.h"

namespace kiln::kube {

inline constexpr char kManagedByLabel[] = "app.kubernetes.io/managed-by";
inline constexpr char kAddressAnnotation[] = "kiln.dev/address";
inline constexpr char kAddressHashLabel[] = "kiln.dev/address-hash";
inline constexpr char kGpuResource[] = "nvidia.com/gpu";
inline constexpr char kGpuProductLabel[] = "nvidia.com/gpu.product";
inline constexpr int kMasterPort = 29500;

// An object to apply and where it lives.
struct Object {
  ResourceType type;
  nlohmann::json body;
  std::string ns() const { return body["metadata"].value("namespace", ""); }
  std::string name() const { return body["metadata"].value("name", ""); }
  std::string Describe() const;  // "Deployment team-a/chat"
};

// A DNS-1035 label (lower case, '-', starts with a letter, at most 63
// characters) for a kiln address, without its kind: `endpoint.chat` -> chat,
// `module.serving.endpoint.chat` -> serving-chat, `training_job.sweep["a"]`
// -> sweep-a. Names cut to fit end in a hash of the address.
std::string DnsName(const std::string& address);
// A short stable hash of an address (label value).
std::string AddressHash(const std::string& address);
// The address `ref` (as written in the module of `self`) resolved against
// self's module path: ("module.m.endpoint.e", "cluster.c") -> "module.m.cluster.c".
std::string ResolveAddress(const std::string& self, const std::string& ref);

// Quantities: bytes as the API canonicalises them ("80Gi"), and a parser
// for comparing what the server answers with what kiln sent.
std::string BytesQuantity(int64_t bytes);
std::string DecimalQuantity(double value);  // 2 -> "2", 0.5 -> "500m"
bool ParseQuantity(const std::string& s, double* out);
bool SameQuantity(const nlohmann::json& a, const nlohmann::json& b);

struct GpuSpec {
  std::string model;   // catalog model, "" = any
  int64_t memory = 0;
  int count = 0;
};
// A gpu value (null, "H100:4", {model, count}, {memory, count}).
bool ParseGpuValue(const nlohmann::json& v, GpuSpec* out);
// A range value ({min, max} or an int).
bool ParseRangeValue(const nlohmann::json& v, int64_t def, int64_t* min, int64_t* max);

// What rendering needs beyond the resource's configuration.
struct RenderContext {
  std::string address;
  std::string ns;                          // where the objects go
  std::string hpa_api_version = "autoscaling/v2";
  // nvidia.com/gpu.product values of nodes whose GPU is the requested model
  // (node affinity); empty: no constraint.
  std::vector<std::string> gpu_products;
  // Claim names of datastores by the configuration's reference (output,
  // inputs[NAME]).
  std::string output_claim;
  std::map<std::string, std::string> input_claims;
};

// The objects of each kind, in apply order (namespace first, Secret before
// the workloads that read it). `error` set means the configuration cannot be
// rendered (the message names the attribute in `error_attribute`).
struct Rendered {
  std::vector<Object> objects;
  std::string error;
  std::string error_attribute;
};
Rendered RenderCluster(const nlohmann::json& config, const RenderContext& ctx);
Rendered RenderDatastore(const nlohmann::json& config, const RenderContext& ctx);
Rendered RenderTrainingJob(const nlohmann::json& config, const RenderContext& ctx);
Rendered RenderEndpoint(const nlohmann::json& config, const RenderContext& ctx);

// Replica counts of an endpoint: stable and canary (weight percent of the
// replicas, at least one when the weight is above zero), and whether an HPA
// owns the stable count.
struct ReplicaPlan {
  int64_t stable = 1, canary = 0, min = 1, max = 1;
  bool autoscaled = false;
};
ReplicaPlan PlanReplicas(const nlohmann::json& config);

// Every leaf of `want` equals `live` (lists element by element, quantities
// by value). The first differing path in *where ("spec.replicas").
bool Covers(const nlohmann::json& live, const nlohmann::json& want, std::string* where);

}  // namespace kiln::kube
