// The one cost model (core/cost.h) and the plan's cost over it: the largest
// size of a range, spot and "prefer", an endpoint's on-demand replicas.
#include "core/cost.h"

#include <gtest/gtest.h>

#include "planner/plan/plan.h"

namespace kiln {
namespace {

using nlohmann::json;

json Range(int min, int max) { return {{"min", min}, {"max", max}}; }

TEST(CostModel, ARangeCountsItsLargestSize) {
  auto t = GpuCostOf("cluster", {{"gpu", {{"model", "H100"}, {"count", 8}}}, {"nodes", Range(1, 4)}});
  ASSERT_TRUE(t.has_value());
  EXPECT_EQ(t->model, "H100");
  EXPECT_EQ(t->gpus_per_unit, 8);
  EXPECT_EQ(t->units, 4);
  EXPECT_EQ(t->on_demand_units, 4);
  // The figure of tests/testdata/check/fail_max_hourly_cost.kiln.
  EXPECT_DOUBLE_EQ(t->Hourly(4.5, 1.5), 144.0);
  auto job = GpuCostOf("training_job", {{"gpu", {{"model", "A100"}, {"count", 2}}}, {"nodes", 3}});
  ASSERT_TRUE(job.has_value());
  EXPECT_EQ(job->units, 3);
  auto ep = GpuCostOf("endpoint", {{"gpu", {{"model", "L4"}}}, {"replicas", Range(2, 5)}, {"nodes", 9}});
  ASSERT_TRUE(ep.has_value());
  EXPECT_EQ(ep->units, 5);  // replicas, not nodes
  EXPECT_EQ(ep->gpus_per_unit, 1);
}

TEST(CostModel, SpotPricesAtSpotButPreferMayFallBackToOnDemand) {
  json spot = {{"gpu", {{"model", "H100"}, {"count", 1}}}, {"nodes", Range(2, 2)}, {"spot", true}};
  EXPECT_DOUBLE_EQ(GpuCostOf("cluster", spot)->Hourly(4.0, 1.0), 2.0);
  spot["spot"] = "prefer";
  EXPECT_DOUBLE_EQ(GpuCostOf("cluster", spot)->Hourly(4.0, 1.0), 8.0);
  json ep = {{"gpu", {{"model", "L4"}}}, {"replicas", Range(1, 4)}, {"spot", true},
             {"spot_policy", {{"min_on_demand", 1}}}};
  auto t = GpuCostOf("endpoint", ep);
  EXPECT_EQ(t->on_demand_units, 1);
  EXPECT_DOUBLE_EQ(t->Hourly(4.0, 1.0), 4.0 + 3 * 1.0);
}

TEST(CostModel, NoGpuNoTerms) {
  EXPECT_FALSE(GpuCostOf("cluster", {{"nodes", 2}}).has_value());
  EXPECT_FALSE(GpuCostOf("cluster", {{"gpu", {{"count", 2}}}}).has_value());
  EXPECT_FALSE(GpuCostOf("cluster", json(nullptr)).has_value());
}

TEST(CostModel, ThePlansCostUsesTheSameTerms) {
  planner::GpuPriceFn prices = [](const std::string& model) -> std::optional<std::pair<double, double>> {
    if (model == "H100") return std::make_pair(4.5, 1.5);
    return std::nullopt;
  };
  bool any_gpu = false;
  json cluster = {{"gpu", {{"model", "H100"}, {"count", 8}}}, {"nodes", Range(1, 4)}};
  json placed = {{"gpu", {{"model", "H100"}, {"count", 8}}}, {"nodes", 2}, {"cluster", "cluster.pool"}};
  auto cost = planner::HourlyCost({{"cluster", cluster}, {"training_job", placed}}, prices, &any_gpu);
  EXPECT_TRUE(any_gpu);
  ASSERT_TRUE(cost.has_value());
  EXPECT_DOUBLE_EQ(*cost, GpuCostOf("cluster", cluster)->Hourly(4.5, 1.5));  // the job counts through its cluster
  EXPECT_DOUBLE_EQ(*cost, 144.0);
  any_gpu = false;
  EXPECT_FALSE(planner::HourlyCost({{"cluster", {{"gpu", {{"model", "B999"}}}}}}, prices, &any_gpu).has_value());
  EXPECT_TRUE(any_gpu);
}

}  // namespace
}  // namespace kiln
