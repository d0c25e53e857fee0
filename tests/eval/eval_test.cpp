// Evaluation through Compile(): resources, references, interpolation,
// expansion, modules, unknowns, sensitivity, inputs, builtins, placement.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "compiler/compile.h"

namespace kiln {
namespace {

namespace fs = std::filesystem;

class EvalTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("kiln_eval_" + std::to_string(::getpid()) + "_" +
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

  // Compiles and evaluates; returns false if either step reported errors.
  bool Run(const std::string& main, ConfigGraph* graph = nullptr, const ResourceLookup& lookup = nullptr) {
    if (!main.empty()) Write("main.kiln", main);
    diags_ = Diagnostics();
    options_.root_dir = dir_.string();
    config_ = Compile(options_, sm_, diags_);
    if (!config_) return false;
    ConfigGraph g = config_->Evaluate(lookup, diags_);
    if (graph) *graph = std::move(g);
    return !diags_.HasErrors();
  }

  // Evaluates an expression in the root module and returns its JSON
  // (redacted), or "error: CODE ..." when it fails.
  std::string Eval(const std::string& expr, const std::string& main = "let unused = 0\n") {
    if (!config_ || !main.empty()) {
      if (!Run(main)) return "error: " + Codes();
    }
    Value v;
    Diagnostics d;
    if (!EvaluateExpression(*config_, sm_, expr, nullptr, &v, d)) {
      diags_ = d;
      return "error: " + Codes();
    }
    JsonOptions jo;
    jo.redact = true;
    jo.resource_as_address = false;
    return ToJson(v, jo).dump();
  }

  std::string Codes() const {
    std::string out;
    for (const auto& d : diags_.items()) out += (out.empty() ? "" : " ") + d.code;
    return out;
  }
  bool HasCode(const std::string& code) const {
    for (const auto& d : diags_.items()) {
      if (d.code == code) return true;
    }
    return false;
  }
  const Diagnostic* Find(const std::string& code) const {
    for (const auto& d : diags_.items()) {
      if (d.code == code) return &d;
    }
    return nullptr;
  }

  fs::path dir_;
  SourceManager sm_;
  Diagnostics diags_;
  CompileOptions options_;
  std::unique_ptr<CompiledConfig> config_;
};

const char* kPlatform = R"(
input gpus: int = 8
input token: string sensitive = "t0ken"
cluster pool {
  gpu = "H100:${gpus}"
  nodes = 1..4
}
datastore data {
  size = 2TB
}
training_job train {
  cluster = pool
  command = ["python", "train.py", "--out", "${data.uri}/run"]
  gpu = "H100:8"
  nodes = 2
  inputs = { ds = data }
  env = { POOL = "pool-${pool.id}", N = "${gpus}" }
  secrets = { TOKEN = token }
  max_runtime = 90m
}
output url = "s3://${data.uri}"
output n = gpus * 2
)";

TEST_F(EvalTest, ResourcesReferencesAndInterpolation) {
  ConfigGraph g;
  ASSERT_TRUE(Run(kPlatform, &g)) << Codes();
  ASSERT_EQ(g.resources.size(), 3u);
  EXPECT_EQ(g.resources[0].address, "cluster.pool");
  EXPECT_EQ(g.resources[1].address, "datastore.data");
  const ResourceInstance* t = g.Find("training_job.train");
  ASSERT_NE(t, nullptr);
  EXPECT_EQ(t->kind, "training_job");
  EXPECT_EQ(t->provider, "provider.local");
  EXPECT_EQ(t->provider_type, "local");
  EXPECT_EQ(t->config["cluster"], "cluster.pool");
  EXPECT_EQ(t->config["gpu"].dump(), R"({"count":8,"model":"H100"})");
  EXPECT_EQ(t->config["max_runtime"], 90 * 60000);
  EXPECT_EQ(t->config["env"]["N"], "8");
  EXPECT_EQ(t->config["env"]["POOL"].dump(), R"({"$unknown":true})");
  EXPECT_EQ(t->config["command"][3].dump(), R"({"$unknown":true})");
  EXPECT_EQ(t->config["inputs"]["ds"], "datastore.data");
  EXPECT_EQ(t->config["retries"], 0);  // default filled in
  EXPECT_EQ(t->depends_on, (std::vector<std::string>{"cluster.pool", "datastore.data"}));
  // `secrets` is a sensitive field: the whole map is sensitive.
  EXPECT_EQ(t->sensitive_paths, (std::vector<Path>{{"secrets"}}));
  EXPECT_EQ(t->config["secrets"]["TOKEN"], "t0ken");  // plain for providers
  EXPECT_EQ(g.resources[0].config["nodes"].dump(), R"({"max":4,"min":1})");
  EXPECT_EQ(g.outputs["url"].value.dump(), R"({"$unknown":true})");
  EXPECT_EQ(g.outputs["n"].value, 16);
  ASSERT_EQ(g.providers.size(), 1u);
  EXPECT_EQ(g.providers[0].address, "provider.local");
}

TEST_F(EvalTest, ComputedAttributesComeFromTheLookup) {
  nlohmann::json pool = {{"id", "p-1"}, {"status", "ready"}};
  nlohmann::json data = {{"id", "d-1"}, {"uri", "file:///d"}};
  ResourceLookup lookup = [&](const std::string& a) -> const nlohmann::json* {
    if (a == "cluster.pool") return &pool;
    if (a == "datastore.data") return &data;
    return nullptr;
  };
  ConfigGraph g;
  ASSERT_TRUE(Run(kPlatform, &g, lookup)) << Codes();
  const ResourceInstance* t = g.Find("training_job.train");
  EXPECT_EQ(t->config["env"]["POOL"], "pool-p-1");
  EXPECT_EQ(t->config["command"][3], "file:///d/run");
  EXPECT_EQ(g.outputs["url"].value, "s3://file:///d");
  auto one = config_->EvaluateInstance("training_job.train", lookup, diags_);
  ASSERT_TRUE(one.has_value());
  EXPECT_EQ(one->config["env"]["POOL"], "pool-p-1");
}

TEST_F(EvalTest, SensitivePropagatesThroughOperations) {
  ASSERT_TRUE(Run(R"(
input token: string sensitive = "abc"
let derived = "Bearer ${upper(token)}"
let n = length(token) + 1
output o = derived
)"));
  EXPECT_EQ(Eval("derived", ""), "\"(sensitive)\"");
  EXPECT_EQ(Eval("n", ""), "\"(sensitive)\"");
  EXPECT_EQ(Eval("[token, \"x\"]", ""), R"j(["(sensitive)","x"])j");
  ConfigGraph g;
  ASSERT_TRUE(Run("", &g));
  EXPECT_TRUE(g.outputs["o"].sensitive);
  EXPECT_EQ(g.outputs["o"].value, "Bearer ABC");
}

TEST_F(EvalTest, UnknownsPropagate) {
  ASSERT_TRUE(Run(R"(
cluster pool { nodes = 2 }
let a = "${pool.id}-x"
let b = length(pool.id)
let c = pool.id == "x" ? 1 : 2
let d = [pool.id, "k"]
)"));
  EXPECT_EQ(Eval("a", ""), R"({"$unknown":true})");
  EXPECT_EQ(Eval("b", ""), R"({"$unknown":true})");
  EXPECT_EQ(Eval("c", ""), R"({"$unknown":true})");
  EXPECT_EQ(Eval("d", ""), R"([{"$unknown":true},"k"])");
  EXPECT_EQ(Eval("pool.nodes", ""), R"({"max":2,"min":2})");
}

TEST_F(EvalTest, ForAndIfExpansion) {
  ConfigGraph g;
  ASSERT_TRUE(Run(R"(
input enable: bool = false
training_job sweep for lr in [1e-4, 3e-4, 1e-3] {
  command = "train --lr ${lr}"
  env = { LR = "${lr}" }
}
endpoint regional for region, cfg in { eu = { replicas = 2 }, us = { replicas = 3 } } {
  model = "s3://m"
  command = "serve"
  replicas = cfg.replicas
  env = { REGION = region }
}
endpoint canary if enable {
  model = "s3://m"
  command = "serve"
}
output ids = { for k, v in sweep: k => v.command }
output first = sweep["0.001"].env.LR
output canary_is_null = canary == null
)", &g)) << Codes();
  std::vector<std::string> addrs;
  for (const auto& r : g.resources) addrs.push_back(r.address);
  EXPECT_EQ(addrs, (std::vector<std::string>{
                       "endpoint.regional[\"eu\"]", "endpoint.regional[\"us\"]",
                       "training_job.sweep[\"0.0001\"]", "training_job.sweep[\"0.0003\"]",
                       "training_job.sweep[\"0.001\"]"}));
  EXPECT_EQ(g.Find("endpoint.regional[\"us\"]")->config["replicas"].dump(), R"({"max":3,"min":3})");
  EXPECT_EQ(g.Find("endpoint.regional[\"us\"]")->key, "us");
  EXPECT_EQ(g.outputs["first"].value, "0.001");
  EXPECT_EQ(g.outputs["canary_is_null"].value, true);
  EXPECT_EQ(g.outputs["ids"].value["0.0003"], "train --lr 0.0003");
}

TEST_F(EvalTest, DuplicateInstanceKeysAreErrors) {
  EXPECT_FALSE(Run(R"(
training_job t for x in ["a", "a"] { command = x }
)"));
  EXPECT_TRUE(HasCode("E0435")) << Codes();
}

TEST_F(EvalTest, UnknownForCollectionIsAnError) {
  EXPECT_FALSE(Run(R"(
cluster pool { nodes = 1 }
training_job t for x in [pool.id] { command = x }
)"));
  EXPECT_TRUE(HasCode("E0434")) << Codes();
}

TEST_F(EvalTest, ModulesAreExpandedWithAddresses) {
  Write("modules/serving/main.kiln", R"(
input model: string
input replicas: int = 1
endpoint chat {
  model = model
  command = "serve"
  replicas = replicas
}
output url = chat.url
output model_used = model
)");
  ConfigGraph g;
  ASSERT_TRUE(Run(R"(
module eu for k in ["a", "b"] {
  source = "./modules/serving"
  model = "s3://${k}"
}
module one {
  source = "./modules/serving"
  model = "m"
  replicas = 2
}
output models = [for k, m in eu: m.model_used]
output one_url = one.url
)", &g)) << Codes();
  ASSERT_EQ(g.resources.size(), 3u);
  EXPECT_EQ(g.resources[0].address, "module.eu[\"a\"].endpoint.chat");
  EXPECT_EQ(g.resources[0].module, "module.eu[\"a\"]");
  EXPECT_EQ(g.resources[1].address, "module.eu[\"b\"].endpoint.chat");
  EXPECT_EQ(g.resources[2].address, "module.one.endpoint.chat");
  EXPECT_EQ(g.resources[2].config["replicas"].dump(), R"({"max":2,"min":2})");
  EXPECT_EQ(g.outputs["models"].value.dump(), R"(["s3://a","s3://b"])");
  EXPECT_EQ(g.outputs["one_url"].value.dump(), R"({"$unknown":true})");
}

TEST_F(EvalTest, ModuleInputsAreChecked) {
  Write("m/main.kiln", "input size: bytes\n");
  EXPECT_FALSE(Run(R"(
module a {
  source = "./m"
  sise = 1GiB
}
)"));
  EXPECT_TRUE(HasCode("E0418")) << Codes();
}

TEST_F(EvalTest, CycleIsReportedWithThePath) {
  EXPECT_FALSE(Run("let a = b + 1\nlet b = a + 1\n"));
  const Diagnostic* d = Find("E0430");
  ASSERT_NE(d, nullptr) << Codes();
  EXPECT_EQ(d->message, "dependency cycle: a -> b -> a");
  EXPECT_EQ(d->secondary.size(), 1u);
}

TEST_F(EvalTest, AssertShowsMessageAndValues) {
  EXPECT_FALSE(Run(R"(
input gpus: int = 9
assert gpus >= 1 && gpus <= 8, "gpus must be in 1..8"
)"));
  const Diagnostic* d = Find("E0433");
  ASSERT_NE(d, nullptr) << Codes();
  EXPECT_EQ(d->message, "gpus must be in 1..8");
  EXPECT_EQ(d->notes, (std::vector<std::string>{"gpus = 9"}));
}

TEST_F(EvalTest, AssertOnUnknownIsDeferred) {
  const char* src = R"(
cluster pool { nodes = 1 }
assert pool.id != "", "id must be set"
)";
  // Before apply the id is unknown: the assert is not checked.
  EXPECT_TRUE(Run(src)) << Codes();
  EXPECT_EQ(Find("E0433"), nullptr) << Codes();
  // After apply the state has the id, and the assert runs on it.
  nlohmann::json attrs;
  ResourceLookup lookup = [&attrs](const std::string& address) -> const nlohmann::json* {
    return address == "cluster.pool" ? &attrs : nullptr;
  };
  attrs = {{"id", ""}};
  EXPECT_FALSE(Run(src, nullptr, lookup));
  const Diagnostic* d = Find("E0433");
  ASSERT_NE(d, nullptr) << Codes();
  EXPECT_EQ(d->message, "id must be set");
  attrs = {{"id", "pool-1"}};
  EXPECT_TRUE(Run(src, nullptr, lookup)) << Codes();
}

TEST_F(EvalTest, InputsFromTextJsonAndMissing) {
  const char* src = R"(
input n: int
input t: duration = 1h
input tags: list<string> = []
input mode: "a" | "b" = "a"
output all = { n = n, t = t, tags = tags, mode = mode }
)";
  EXPECT_FALSE(Run(src));
  const Diagnostic* d = Find("E0431");
  ASSERT_NE(d, nullptr);
  EXPECT_NE(d->help.find("--var n=VALUE"), std::string::npos);
  options_.inputs.raw["n"] = "8";
  options_.inputs.raw["t"] = "90m";
  options_.inputs.json["tags"] = nlohmann::json::array({"x", "y"});
  options_.inputs.raw["mode"] = "b";
  ConfigGraph g;
  ASSERT_TRUE(Run("", &g)) << Codes();
  EXPECT_EQ(g.outputs["all"].value.dump(), R"({"mode":"b","n":8,"t":5400000,"tags":["x","y"]})");
  options_.inputs.raw["n"] = "eight";
  EXPECT_FALSE(Run(""));
  EXPECT_TRUE(HasCode("E0432")) << Codes();
  options_.inputs.raw["n"] = "1";
  options_.inputs.raw["mode"] = "c";
  EXPECT_FALSE(Run(""));
  EXPECT_TRUE(HasCode("E0432")) << Codes();
}

TEST_F(EvalTest, QuantityArithmetic) {
  EXPECT_EQ(Eval("2 * 40GiB"), std::to_string(80LL << 30));
  EXPECT_EQ(Eval("1h + 30m"), "5400000");
  EXPECT_EQ(Eval("2h / 30m"), "4.0");
  EXPECT_EQ(Eval("10GiB / 4"), std::to_string((10LL << 30) / 4));
  EXPECT_EQ(Eval("7 / 2"), "3.5");
  EXPECT_EQ(Eval("7 % 2"), "1");
  EXPECT_EQ(Eval("1h > 59m"), "true");
  EXPECT_EQ(Eval("1.5h"), "5400000");
  EXPECT_EQ(Eval("1..4"), R"({"max":4,"min":1})");
  EXPECT_EQ(Eval("\"${90m} ${1024MiB} ${0.5}\""), "\"90m 1GiB 0.5\"");
  EXPECT_EQ(Eval("1h + 1GiB"), "error: E0404");
  EXPECT_EQ(Eval("1.5 % 2"), "error: E0404");
  EXPECT_EQ(Eval("1 / 0"), "error: E0436");
}

TEST_F(EvalTest, Builtins) {
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"length([1, 2, 3])", "3"},
      {"length({ a = 1 })", "1"},
      {"length(\"héllo\")", "5"},
      {"keys({ b = 1, a = 2 })", R"(["a","b"])"},
      {"values({ b = 1, a = 2 })", "[2,1]"},
      {"merge({ a = 1, b = 1 }, { b = 2 })", R"({"a":1,"b":2})"},
      {"concat([1], [2, 3])", "[1,2,3]"},
      {"contains([\"a\", \"b\"], \"b\")", "true"},
      {"lookup({ a = 1 }, \"z\", 7)", "7"},
      {"flatten([[1, 2], [3]])", "[1,2,3]"},
      {"distinct([1, 2, 1])", "[1,2]"},
      {"sort([\"b\", \"a\", \"c\"])", R"(["a","b","c"])"},
      {"format(\"%s-%d-%f-%v %%\", \"a\", 2, 0.5, true)", "\"a-2-0.500000-true %\""},
      {"join(\",\", [\"a\", \"b\"])", "\"a,b\""},
      {"split(\",\", \"a,b,,c\")", R"(["a","b","","c"])"},
      {"lower(\"AbC\")", "\"abc\""},
      {"upper(\"AbC\")", "\"ABC\""},
      {"replace(\"a-b-c\", \"-\", \"_\")", "\"a_b_c\""},
      {"trim(\"  x \\n\")", "\"x\""},
      {"startswith(\"kiln\", \"ki\")", "true"},
      {"endswith(\"kiln\", \"ki\")", "false"},
      {"substr(\"abcdef\", 1, 3)", "\"bcd\""},
      {"min(3, 1, 2)", "1"},
      {"max(1, 2.5)", "2.5"},
      {"max(1h, 90m)", "5400000"},
      {"abs(-3)", "3"},
      {"ceil(1.2)", "2"},
      {"floor(1.8)", "1"},
      {"tostring(2h)", "\"2h\""},
      {"toint(\"42\")", "42"},
      {"tofloat(\"0.5\")", "0.5"},
      {"jsonencode({ a = [1, \"x\"] })", R"("{\"a\":[1,\"x\"]}")"},
      {"jsondecode(\"{\\\"a\\\": [1, 2]}\")", R"({"a":[1,2]})"},
      {"seconds(90s)", "90.0"},
      {"hours(90m)", "1.5"},
      {"gib(512MiB)", "0.5"},
      {"env(\"KILN_TEST_SURELY_UNSET\", \"dflt\")", "\"dflt\""},
      {"sha256(\"abc\")", "\"ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad\""},
      {"gpu_memory(\"H100\")", std::to_string(80LL << 30)},
      {"gpu_price(\"H100\") > gpu_price(\"H100\", true)", "true"},
  };
  ASSERT_TRUE(Run("let unused = 0\n"));
  for (const auto& [expr, want] : cases) {
    EXPECT_EQ(Eval(expr, ""), want) << expr;
  }
  EXPECT_EQ(Eval("env(\"KILN_TEST_SURELY_UNSET\")", ""), "error: E0436");
  EXPECT_EQ(Eval("lenght([1])", ""), "error: E0405");
  EXPECT_EQ(Eval("length(1, 2)", ""), "error: E0406");
  EXPECT_EQ(Eval("join(1, [\"a\"])", ""), "error: E0403");
  EXPECT_EQ(Eval("gpu_memory(\"H1000\")", ""), "error: E0415");
}

TEST_F(EvalTest, FileIsRelativeToTheModule) {
  Write("prompt.txt", "hello");
  EXPECT_EQ(Eval("file(\"prompt.txt\")"), "\"hello\"");
  EXPECT_EQ(Eval("file(\"missing.txt\")", ""), "error: E0436");
}

TEST_F(EvalTest, GpuForms) {
  ConfigGraph g;
  ASSERT_TRUE(Run(R"(
cluster a { gpu = "H100:8" }
cluster b { gpu = { model = "NVIDIA A100-SXM4-80GB", count = 4 } }
cluster c { gpu = { memory = 40GiB, count = 2 } }
cluster d { gpu = "T4" }
)", &g)) << Codes();
  EXPECT_EQ(g.Find("cluster.a")->config["gpu"].dump(), R"({"count":8,"model":"H100"})");
  EXPECT_EQ(g.Find("cluster.b")->config["gpu"].dump(), R"({"count":4,"model":"A100-80GB"})");
  EXPECT_EQ(g.Find("cluster.c")->config["gpu"].dump(), R"({"count":2,"memory":42949672960})");
  EXPECT_EQ(g.Find("cluster.d")->config["gpu"].dump(), R"({"count":1,"model":"T4"})");
  EXPECT_FALSE(Run("cluster e { gpu = \"H10:8\" }\n"));
  const Diagnostic* d = Find("E0415");
  ASSERT_NE(d, nullptr) << Codes();
  EXPECT_EQ(d->label, "did you mean `H100`?");
}

TEST_F(EvalTest, PlacementChecksNameBothSides) {
  EXPECT_FALSE(Run(R"(
cluster pool {
  gpu = "A100-80GB:8"
  nodes = 1..2
}
training_job finetune {
  cluster = pool
  command = "x"
  gpu = "H100:8"
}
training_job wide {
  cluster = pool
  command = "x"
  gpu = "A100-80GB:16"
  nodes = 4
}
)"));
  const Diagnostic* model = Find("E0440");
  ASSERT_NE(model, nullptr) << Codes();
  EXPECT_EQ(model->message, "training_job `finetune` asks for 8 x H100 per node; cluster `pool` has 8 x A100-80GB");
  EXPECT_TRUE(HasCode("E0441"));
  EXPECT_TRUE(HasCode("E0442"));
}

TEST_F(EvalTest, PolicyChecks) {
  EXPECT_FALSE(Run(R"(
cluster pool {
  gpu = "H100:8"
  nodes = 4
  max_hourly_cost = 20.0
}
endpoint e {
  model = "m"
  command = "serve"
  replicas = 3..1
  canary { model = "m2", weight = 150 }
}
)"));
  EXPECT_TRUE(HasCode("E0443")) << Codes();
  EXPECT_TRUE(HasCode("E0445")) << Codes();
  // `replicas = 3..1` is the endpoint's replicas check (E0444, as
  // docs/diagnostics.md lists it), not the generic range error.
  EXPECT_TRUE(HasCode("E0444")) << Codes();
  EXPECT_FALSE(HasCode("E0436")) << Codes();
}

TEST_F(EvalTest, LifecycleAndDependsOn) {
  ConfigGraph g;
  ASSERT_TRUE(Run(R"(
input protect: bool = true
datastore a { versioned = true }
datastore b {
  depends_on = [a]
  lifecycle {
    prevent_destroy = protect
    create_before_destroy = false
    ignore_changes = [size]
    replace_triggered_by = [a.id]
  }
}
)", &g)) << Codes();
  const ResourceInstance* b = g.Find("datastore.b");
  EXPECT_EQ(b->depends_on, (std::vector<std::string>{"datastore.a"}));
  EXPECT_TRUE(b->lifecycle.prevent_destroy);
  EXPECT_EQ(b->lifecycle.create_before_destroy, std::optional<bool>(false));
  EXPECT_EQ(b->lifecycle.ignore_changes, (std::vector<Path>{{"size"}}));
  EXPECT_EQ(b->lifecycle.replace_triggered_by, (std::vector<std::string>{"datastore.a.id"}));
}

TEST_F(EvalTest, ConfigHashChangesWithInputs) {
  ASSERT_TRUE(Run("input n: int = 1\n"));
  std::string h1 = config_->ConfigHash();
  options_.inputs.raw["n"] = "2";
  ASSERT_TRUE(Run(""));
  EXPECT_NE(h1, config_->ConfigHash());
  EXPECT_EQ(h1.size(), 64u);
}

TEST_F(EvalTest, BuiltinsKeepWhatIsKnown) {
  ::setenv("KILN_EVAL_TEST_SET", "from-env", 1);
  ::unsetenv("KILN_EVAL_TEST_UNSET");
  ASSERT_TRUE(Run(R"(
cluster pool { nodes = 2 }
let defaults = { A = "1" }
training_job train {
  cluster = pool
  command = ["x"]
  env = merge(defaults, { ID = pool.id })
}
)"));
  // A set variable ignores its (unknown) default; an unset one is the default.
  EXPECT_EQ(Eval(R"(env("KILN_EVAL_TEST_SET", pool.id))", ""), R"("from-env")");
  EXPECT_EQ(Eval(R"(env("KILN_EVAL_TEST_UNSET", pool.id))", ""), R"({"$unknown":true})");
  // merge() in a resource: the known keys stay known in the plan.
  EXPECT_EQ(Eval("train.env", ""), R"({"A":"1","ID":{"$unknown":true}})");
  EXPECT_EQ(Eval("length(train.env)", ""), "2");
  EXPECT_EQ(Eval(R"(contains(keys(train.env), "ID"))", ""), "true");
  EXPECT_EQ(Eval(R"(lookup(train.env, "A", "none"))", ""), R"("1")");
  EXPECT_EQ(Eval(R"(lookup(train.env, "Z", "none"))", ""), R"("none")");
  ::unsetenv("KILN_EVAL_TEST_SET");
}

}  // namespace
}  // namespace kiln
