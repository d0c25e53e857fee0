// EvaluateInstance against Evaluate: for every instance of every example
// configuration (and a synthetic one with modules, `for`, provider kinds and
// lifecycle settings), evaluating the instance alone must give exactly the
// instance of the whole evaluation, with and without computed values from
// state. Also the quantity paths (duration_paths, bytes_paths).
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "compiler/compile.h"

namespace kiln {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

// A JSON value of type `t` (what a provider could return for a computed
// attribute), varied by `seed` so that different resources differ.
json Sample(const TypeRef& t, const std::string& seed, int depth = 0) {
  if (!t || depth > 4) return "x";
  switch (t->kind) {
    case TypeKind::kString: return seed;
    case TypeKind::kLiteral: return t->text;
    case TypeKind::kInt: return static_cast<int64_t>(seed.size());
    case TypeKind::kFloat: return 1.5;
    case TypeKind::kBool: return true;
    case TypeKind::kDuration: return 60000;
    case TypeKind::kBytes: return 1024;
    case TypeKind::kOptional: return Sample(t->element, seed, depth + 1);
    case TypeKind::kUnion: return t->alternatives.empty() ? json("x") : Sample(t->alternatives[0], seed, depth + 1);
    case TypeKind::kList: return json::array({Sample(t->element, seed + "/0", depth + 1), Sample(t->element, seed + "/1", depth + 1)});
    case TypeKind::kMap: return json{{"k", Sample(t->element, seed + "/k", depth + 1)}};
    case TypeKind::kRecord: {
      json o = json::object();
      for (const Field& f : t->fields) o[f.name] = Sample(f.type, seed + "." + f.name, depth + 1);
      return o;
    }
    default: return "x";
  }
}

// Computed attributes of every instance, as state would hold them after apply.
std::map<std::string, json> FakeState(const CompiledConfig& config, const ConfigGraph& graph) {
  const Program& p = ProgramOf(config);
  std::map<std::string, json> out;
  for (const ResourceInstance& r : graph.resources) {
    json attrs = json::object();
    TypeRef kind;
    if (auto it = p.core_kinds.find(r.kind); it != p.core_kinds.end()) kind = it->second;
    if (auto it = p.provider_kinds.find(r.kind); it != p.provider_kinds.end()) kind = it->second;
    if (kind && kind->schema) {
      for (const Field& f : kind->schema->fields) {
        if (f.computed) attrs[f.name] = Sample(f.type, r.address + "." + f.name);
      }
    } else {
      attrs["id"] = r.address + ".id";
    }
    out[r.address] = attrs;
  }
  return out;
}

std::string Describe(const ResourceInstance& r) {
  json j;
  j["address"] = r.address;
  j["module"] = r.module;
  j["kind"] = r.kind;
  j["name"] = r.name;
  j["key"] = r.key;
  j["provider"] = r.provider;
  j["provider_type"] = r.provider_type;
  j["config"] = r.config;
  j["sensitive_paths"] = r.sensitive_paths;
  j["duration_paths"] = r.duration_paths;
  j["bytes_paths"] = r.bytes_paths;
  j["depends_on"] = r.depends_on;
  j["prevent_destroy"] = r.lifecycle.prevent_destroy;
  j["create_before_destroy"] = r.lifecycle.create_before_destroy ? json(*r.lifecycle.create_before_destroy) : json();
  j["ignore_changes"] = r.lifecycle.ignore_changes;
  j["replace_triggered_by"] = r.lifecycle.replace_triggered_by;
  j["range"] = {r.range.begin.file_id, r.range.begin.offset, r.range.end.offset};
  return j.dump();
}

// Compares every instance of Evaluate(lookup) with EvaluateInstance; returns
// the number of instances compared.
size_t CompareAll(const CompiledConfig& config, const ResourceLookup& lookup) {
  Diagnostics d1;
  ConfigGraph whole = config.Evaluate(lookup, d1);
  EXPECT_FALSE(d1.HasErrors()) << (d1.empty() ? "" : d1.items()[0].message);
  for (const ResourceInstance& r : whole.resources) {
    Diagnostics d2;
    std::optional<ResourceInstance> one = config.EvaluateInstance(r.address, lookup, d2);
    EXPECT_FALSE(d2.HasErrors()) << r.address;
    if (!one) {
      ADD_FAILURE() << "EvaluateInstance found no " << r.address;
      continue;
    }
    EXPECT_EQ(Describe(r), Describe(*one)) << r.address;
  }
  return whole.resources.size();
}

// Compares with no state, full state and half of the state. *changed: how
// many instances' configurations differ between no state and full state
// (the computed values must matter somewhere for the test to mean much).
size_t CompareBoth(const CompiledConfig& config, size_t* changed) {
  size_t n = CompareAll(config, nullptr);
  Diagnostics d;
  ConfigGraph plan = config.Evaluate(nullptr, d);
  std::map<std::string, json> state = FakeState(config, plan);
  ResourceLookup lookup = [&state](const std::string& a) -> const json* {
    auto it = state.find(a);
    return it == state.end() ? nullptr : &it->second;
  };
  CompareAll(config, lookup);
  // The computed values matter: some configuration reads them.
  Diagnostics d3;
  ConfigGraph applied = config.Evaluate(lookup, d3);
  for (size_t i = 0; i < plan.resources.size() && i < applied.resources.size(); ++i) {
    if (plan.resources[i].config != applied.resources[i].config) ++*changed;
  }
  // Half of them applied: the others are unknown.
  std::map<std::string, json> half;
  bool take = true;
  for (const auto& [a, v] : state) {
    if (take) half[a] = v;
    take = !take;
  }
  ResourceLookup half_lookup = [&half](const std::string& a) -> const json* {
    auto it = half.find(a);
    return it == half.end() ? nullptr : &it->second;
  };
  CompareAll(config, half_lookup);
  return n;
}

TEST(EvaluateInstanceTest, MatchesEvaluateOverTheExamples) {
  size_t total = 0, changed = 0;
  for (const char* ex : {"llm-finetune-serve", "multi-region", "slurm-sweep"}) {
    SCOPED_TRACE(ex);
    SourceManager sm;
    Diagnostics diags;
    CompileOptions options;
    options.root_dir = std::string(KILN_SOURCE_DIR) + "/examples/" + ex;
    auto config = Compile(options, sm, diags);
    ASSERT_TRUE(config) << (diags.empty() ? "" : diags.items()[0].message);
    size_t n = CompareBoth(*config, &changed);
    EXPECT_GT(n, 0u);
    total += n;
  }
  EXPECT_GE(total, 15u);
  EXPECT_GT(changed, 0u);
}

TEST(EvaluateInstanceTest, UnknownAddressesGiveNothing) {
  SourceManager sm;
  Diagnostics diags;
  CompileOptions options;
  options.root_dir = std::string(KILN_SOURCE_DIR) + "/examples/multi-region";
  auto config = Compile(options, sm, diags);
  ASSERT_TRUE(config);
  for (const char* a : {"cluster.nope", "module.region[\"mars-1\"].endpoint.chat", "module.nope.endpoint.chat",
                        "datastore.model_registry[\"x\"]", "module.region.endpoint.chat", "garbage", "", "module.",
                        "endpoint.model_registry"}) {
    Diagnostics d;
    EXPECT_FALSE(config->EvaluateInstance(a, nullptr, d)) << a;
  }
  Diagnostics d;
  EXPECT_TRUE(config->EvaluateInstance("datastore.model_registry", nullptr, d));
}

class InstanceDirTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("kiln_instance_" + std::to_string(::getpid()) + "_" +
                                        ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }
  void Write(const std::string& rel, const std::string& text) {
    fs::path p = dir_ / rel;
    fs::create_directories(p.parent_path());
    std::ofstream(p) << text;
  }
  std::unique_ptr<CompiledConfig> Build() {
    CompileOptions options;
    options.root_dir = dir_.string();
    auto config = Compile(options, sm_, diags_);
    EXPECT_TRUE(config) << (diags_.empty() ? "" : diags_.items()[0].message);
    return config;
  }
  fs::path dir_;
  SourceManager sm_;
  Diagnostics diags_;
};

TEST_F(InstanceDirTest, ModulesForKeysAndReferences) {
  Write("mod/main.kiln", R"(
input size: bytes
input tag: string
input pool: string
datastore store {
  size = size
  path = "/d/${tag}"
}
training_job job for i, s in ["a", "b\"q"] {
  command = ["x", s, store.uri, pool]
  max_runtime = 1h + 30m
  inputs = { d = store }
}
endpoint ep {
  model = job["a"].checkpoint
  command = "serve"
  health_check = { path = "/h" }
  depends_on = [job]
}
output uri = store.uri
output wait = 90s
)");
  Write("main.kiln", R"(
input token: string sensitive = "s3cr3t"
let sizes = { small = 1GiB, big = 2TB }
cluster pool for k, v in { east = 1, west = 2 } {
  gpu = "H100:8"
  nodes = 1..v
}
module team for name, sz in sizes {
  source = "./mod"
  size = sz
  tag = "${name}-${pool["east"].id}"
  pool = pool["west"].id
}
datastore shared {
  size = 5GiB
  path = team["big"].uri
}
training_job solo {
  cluster = pool["west"]
  command = ["run", team["small"].uri]
  secrets = { T = token }
  env = { W = tostring(team["small"].wait) }
  gpu = { memory = 40GiB, count = 2 }
  max_runtime = 10m
  lifecycle {
    create_before_destroy = true
    ignore_changes = [env]
    replace_triggered_by = [shared.id, team]
  }
}
)");
  auto config = Build();
  ASSERT_TRUE(config);
  size_t changed = 0;
  EXPECT_EQ(CompareBoth(*config, &changed), 2u + 2 * 4 + 2u);
  EXPECT_GE(changed, 8u);
}

TEST_F(InstanceDirTest, QuantityPathsOfConfigAndOutputs) {
  Write("main.kiln", R"(
datastore d {
  size = 2TB
}
training_job j {
  command = ["x"]
  max_runtime = 90m
  memory = 64GiB
  gpu = { memory = 40GiB }
}
endpoint e {
  model = "m"
  command = "serve"
  health_check = { path = "/h", interval = 5s }
}
output window = 2h
output sizes = { a = 1GiB, b = [3s, 4s] }
output plain = 3
)");
  auto config = Build();
  ASSERT_TRUE(config);
  Diagnostics d;
  ConfigGraph g = config->Evaluate(nullptr, d);
  ASSERT_FALSE(d.HasErrors());
  const ResourceInstance* ds = g.Find("datastore.d");
  ASSERT_TRUE(ds);
  EXPECT_EQ(json(ds->bytes_paths).dump(), R"([["size"]])");
  EXPECT_EQ(json(ds->duration_paths).dump(), "[]");
  const ResourceInstance* j = g.Find("training_job.j");
  ASSERT_TRUE(j);
  EXPECT_EQ(json(j->duration_paths).dump(), R"([["max_runtime"]])");
  EXPECT_EQ(json(j->bytes_paths).dump(), R"([["gpu","memory"],["memory"]])");
  EXPECT_EQ(j->config["max_runtime"], 90 * 60 * 1000);
  const ResourceInstance* e = g.Find("endpoint.e");
  ASSERT_TRUE(e);
  // Defaults count too (timeout = 60s comes from the schema).
  EXPECT_EQ(json(e->duration_paths).dump(), R"([["health_check","interval"],["health_check","timeout"]])");
  EXPECT_EQ(json(g.outputs.at("window").duration_paths).dump(), "[[]]");
  EXPECT_EQ(json(g.outputs.at("sizes").bytes_paths).dump(), R"([["a"]])");
  EXPECT_EQ(json(g.outputs.at("sizes").duration_paths).dump(), R"([["b","0"],["b","1"]])");
  EXPECT_TRUE(g.outputs.at("plain").duration_paths.empty());
  EXPECT_TRUE(g.outputs.at("plain").bytes_paths.empty());
}

}  // namespace
}  // namespace kiln
