#include "core/cost.h"

#include <algorithm>

#include "core/kinds.h"

namespace kiln {

using nlohmann::json;

namespace {

// A number, or the maximum of a range ({min, max}); `fallback` otherwise.
double LargestOf(const json& attrs, const char* name, double fallback) {
  if (!attrs.contains(name)) return fallback;
  const json& v = attrs[name];
  if (v.is_number()) return v.get<double>();
  if (v.is_object() && v.contains("max") && v["max"].is_number()) return v["max"].get<double>();
  return fallback;
}

}  // namespace

std::optional<GpuCostTerms> GpuCostOf(const std::string& kind, const json& attrs) {
  if (!attrs.is_object() || !attrs.contains("gpu")) return std::nullopt;
  const json& gpu = attrs["gpu"];
  if (!gpu.is_object() || !gpu.contains("model") || !gpu["model"].is_string()) return std::nullopt;
  GpuCostTerms t;
  t.model = gpu["model"].get<std::string>();
  if (gpu.contains("count") && gpu["count"].is_number()) t.gpus_per_unit = gpu["count"].get<double>();
  t.units = LargestOf(attrs, kind == kKindEndpoint ? "replicas" : "nodes", 1);
  bool spot = attrs.contains("spot") && attrs["spot"].is_boolean() && attrs["spot"].get<bool>();
  t.on_demand_units = t.units;
  if (spot) {
    t.on_demand_units = 0;
    if (attrs.contains("spot_policy") && attrs["spot_policy"].is_object()) {
      const json& mod = attrs["spot_policy"].value("min_on_demand", json());
      if (mod.is_number()) t.on_demand_units = std::min(t.units, mod.get<double>());
    }
  }
  return t;
}

}  // namespace kiln
