// Shared fixtures for the planner tests: a hand-built configuration whose
// values may reference other resources' attributes ({"$ref": "ADDR.ATTR"}),
// a state directory, and the fake provider.
#pragma once

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <memory>
#include <random>
#include <sstream>

#include "planner/planner.h"
#include "planner/render/render.h"
#include "providers/testing/fake_provider.h"
#include "tests/common/test_util.h"

namespace kiln::planner::test {

using nlohmann::json;

// A CompiledConfig over a fixed graph. Leaves {"$ref": "thing.a.id"} are
// replaced by the referenced state attribute, or unknown until it exists.
class FakeConfig : public CompiledConfig {
 public:
  ConfigGraph graph;
  std::string hash = "config-hash-1";

  ConfigGraph Evaluate(const ResourceLookup& lookup, Diagnostics& diags) const override {
    ConfigGraph g = graph;
    for (auto& r : g.resources) r.config = Resolve(r.config, lookup);
    for (auto& [n, o] : g.outputs) o.value = Resolve(o.value, lookup);
    return g;
  }
  std::optional<ResourceInstance> EvaluateInstance(const std::string& address,
                                                   const ResourceLookup& lookup,
                                                   Diagnostics& diags) const override {
    const ResourceInstance* r = graph.Find(address);
    if (!r) return std::nullopt;
    ResourceInstance copy = *r;
    copy.config = Resolve(copy.config, lookup);
    return copy;
  }
  std::string ConfigHash() const override { return hash; }

  ResourceInstance& Add(const std::string& kind, const std::string& name, json config,
                        std::vector<std::string> deps = {}) {
    ResourceInstance r;
    r.address = kind + "." + name;
    r.kind = kind;
    r.name = name;
    r.provider = "provider.fake";
    r.provider_type = "fake";
    r.config = std::move(config);
    r.depends_on = std::move(deps);
    graph.resources.push_back(r);
    std::sort(graph.resources.begin(), graph.resources.end(),
              [](const auto& a, const auto& b) { return a.address < b.address; });
    return *std::find_if(graph.resources.begin(), graph.resources.end(),
                         [&](const auto& x) { return x.address == r.address; });
  }
  ResourceInstance& Get(const std::string& address) {
    return *std::find_if(graph.resources.begin(), graph.resources.end(),
                         [&](const auto& x) { return x.address == address; });
  }
  void Remove(const std::string& address) {
    graph.resources.erase(std::remove_if(graph.resources.begin(), graph.resources.end(),
                                         [&](const auto& x) { return x.address == address; }),
                          graph.resources.end());
  }

 private:
  static json Resolve(const json& v, const ResourceLookup& lookup) {
    if (v.is_object() && v.size() == 1 && v.contains("$ref")) {
      std::string ref = v["$ref"];
      auto dot = ref.rfind('.');
      const json* attrs = lookup(ref.substr(0, dot));
      if (!attrs || !attrs->contains(ref.substr(dot + 1))) return json{{"$unknown", true}};
      return (*attrs)[ref.substr(dot + 1)];
    }
    if (v.is_object()) {
      json out = json::object();
      for (auto it = v.begin(); it != v.end(); ++it) out[it.key()] = Resolve(it.value(), lookup);
      return out;
    }
    return v;
  }
};

class PlannerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::random_device rd;
    dir_ = std::filesystem::temp_directory_path() / ("kiln-planner-" + std::to_string(rd()));
    std::filesystem::create_directories(dir_);
    fake_ = std::make_unique<testing::FakeProvider>(fake_options_);
    Reopen();
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  void ResetProvider(testing::FakeOptions options) {
    fake_ = std::make_unique<testing::FakeProvider>(std::move(options));
    providers_ = MapProviderSource();
    providers_.Add("provider.fake", fake_.get());
  }

  // A new store/journal on the same files, as the next kiln run would.
  void Reopen() {
    store_ = std::make_unique<state::StateStore>((dir_ / "state.json").string());
    journal_ = std::make_unique<state::Journal>(store_->journal_path());
    Diagnostics d;
    ASSERT_TRUE(store_->Load(&loaded_, d)) << (d.empty() ? "" : d.items()[0].message);
    providers_ = MapProviderSource();
    providers_.Add("provider.fake", fake_.get());
  }

  PlanContext Context(bool with_config = true) {
    return PlanContext{with_config ? &config_ : nullptr, &providers_, store_.get(), journal_.get()};
  }

  Plan MakePlanOk(PlanOptions options = {}) {
    Diagnostics d;
    Plan p = MakePlan(Context(), options, d);
    EXPECT_FALSE(d.HasErrors()) << (d.empty() ? "" : d.items()[0].message);
    return p;
  }

  ApplyResult ApplyOk(Plan& plan, int parallelism = 16) {
    Diagnostics d;
    ApplyOptions o;
    o.parallelism = parallelism;
    ApplyResult r = ApplyPlan(plan, Context(), o, d);
    EXPECT_TRUE(r.ok()) << (d.empty() ? "" : d.items()[0].message);
    return r;
  }

  // Plan + apply, then the next plan must be empty.
  void Converge(PlanOptions options = {}) {
    Plan p = MakePlanOk(options);
    ApplyOk(p);
    Reopen();
    Plan again = MakePlanOk();
    EXPECT_FALSE(again.HasChanges()) << RenderText(again);
  }

  Action ActionOf(const Plan& p, const std::string& address) {
    const ResourceChange* c = p.Find(address);
    return c ? c->action : Action::kRead;  // kRead: "not in the plan"
  }

  std::string ReadFile(const std::filesystem::path& p) { return testutil::ReadFile(p); }

  std::filesystem::path dir_;
  testing::FakeOptions fake_options_;
  std::unique_ptr<testing::FakeProvider> fake_;
  FakeConfig config_;
  MapProviderSource providers_;
  std::unique_ptr<state::StateStore> store_;
  std::unique_ptr<state::Journal> journal_;
  state::State loaded_;
};

}  // namespace kiln::planner::test
