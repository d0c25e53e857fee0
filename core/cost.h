// The one cost model: what a resource's GPUs may cost per hour. The
// `max_hourly_cost` check (compiler/eval) and the plan's cost line
// (planner/plan) both price resources through GpuCostOf, so they count the
// same nodes and replicas: the largest size a range allows (docs/language.md,
// "Cost").
#pragma once

#include <nlohmann/json.hpp>
#include <optional>
#include <string>

namespace kiln {

// The GPU terms of one resource's configuration.
struct GpuCostTerms {
  std::string model;
  double gpus_per_unit = 1;  // gpu.count
  // Nodes (clusters, jobs) or replicas (endpoints): a number, or the
  // maximum of a range.
  double units = 1;
  // Units priced on demand; the others at the spot price. `spot = true`
  // prices every unit at spot except an endpoint's
  // `spot_policy.min_on_demand` replicas; `spot = "prefer"` may fall back to
  // on demand, so it is priced on demand; `spot = false` (or unset) too.
  double on_demand_units = 1;

  double spot_units() const { return units - on_demand_units; }
  // USD per hour at these GPU-hour prices.
  double Hourly(double on_demand_price, double spot_price) const {
    return (on_demand_price * on_demand_units + spot_price * spot_units()) * gpus_per_unit;
  }
};

// The terms of a resource of `kind` whose `gpu` names a model (replicas
// count for endpoints, nodes for every other kind); nullopt without one.
std::optional<GpuCostTerms> GpuCostOf(const std::string& kind, const nlohmann::json& attrs);

}  // namespace kiln
