// The Markdown plan (a pull-request comment) of a hand-built Plan value:
// Kiln notation for gpus and ranges, heredocs diffed line by line, the cost
// column and GPU totals, warnings with their place, output changes; and a
// saved plan renders the same.
#include <gtest/gtest.h>

#include <algorithm>

#include <nlohmann/json.hpp>

#include "core/wire.h"
#include "planner/plan/plan.h"
#include "planner/render/render.h"

namespace kiln::planner {
namespace {

using json = nlohmann::json;

Plan Example() {
  Plan p;
  ResourceChange pool;
  pool.address = "cluster.pool";
  pool.kind = "cluster";
  pool.name = "pool";
  pool.action = Action::kUpdate;
  pool.action_reason = kReasonConfigChanged;
  pool.before = {{"gpu", {{"model", "H100"}, {"count", 4}}}, {"nodes", {{"min", 1}, {"max", 1}}}, {"id", "p-1"}};
  pool.after = {{"gpu", {{"model", "H100"}, {"count", 8}}}, {"nodes", {{"min", 1}, {"max", 2}}}, {"id", "p-1"}};
  p.changes.push_back(pool);

  ResourceChange job;
  job.address = "training_job.tune";
  job.kind = "training_job";
  job.name = "tune";
  job.action = Action::kReplace;
  job.action_reason = kReasonCannotUpdate;
  job.replace_paths = {{"command"}};
  job.before = {{"command", "set -e\npython prep.py\ntorchrun train.py\n"}, {"timeout", 600000}};
  job.after = {{"command", "set -e\npython prep.py --shards 8\ntorchrun train.py\npython eval.py\n"},
               {"timeout", 600000}, {"id", Unknown()}};
  job.duration_paths = {{"timeout"}};
  p.changes.push_back(job);

  ResourceChange ep;
  ep.address = "endpoint.chat";
  ep.kind = "endpoint";
  ep.name = "chat";
  ep.action = Action::kCreate;
  ep.action_reason = kReasonNew;
  ep.after = {{"replicas", {{"min", 1}, {"max", 4}}}, {"gpu", {{"model", "L4"}, {"count", 1}}},
              {"command", "vllm serve $MODEL_URI \\\n  --port $PORT\n"}};
  p.changes.push_back(ep);
  std::sort(p.changes.begin(), p.changes.end(),
            [](const ResourceChange& a, const ResourceChange& b) { return a.address < b.address; });  // as plans are

  Cost cost;
  cost.before_hourly = 24.4;
  cost.after_hourly = 49.6;
  cost.gpus_before = {{"H100", 4}};
  cost.gpus_after = {{"H100", 8}, {"L4", 1}};
  cost.resources["cluster.pool"] = {24.4, 48.8, {{"H100", 4}}, {{"H100", 8}}};
  cost.resources["endpoint.chat"] = {0, 0.8, {}, {{"L4", 1}}};
  p.cost = cost;

  p.outputs["url"] = OutputChange{Action::kUpdate, "http://a", "http://b|c", false, {}, {}};
  p.outputs["gpus"] = OutputChange{Action::kCreate, nullptr, json{{"model", "H100"}, {"count", 8}}, false, {}, {}};
  p.outputs["later"] = OutputChange{Action::kCreate, nullptr, Unknown(), false, {}, {}};
  p.diagnostics.push_back({"warning", "W0403", "`env` sets `WORLD_SIZE`", "modules/train/main.kiln", 12, 3});
  return p;
}

TEST(MarkdownPlan, ShowsSummaryCostGpusWarningsTableDiffsAndOutputs) {
  std::string md = RenderMarkdown(Example());
  auto has = [&](const std::string& s) { EXPECT_NE(md.find(s), std::string::npos) << s << "\n---\n" << md; };
  has("### kiln plan: 1 to add, 1 to change, 1 to replace, 0 to destroy · +$25.20/h ($24.40/h → $49.60/h) · "
      "+4 H100, +1 L4\n");
  has("> :warning: **This plan destroys or replaces:** `training_job.tune` (replace)\n");
  has("**Warnings**\n\n- :warning: `modules/train/main.kiln:12` **W0403** `env` sets `WORLD_SIZE`\n");
  has("| Address | Action | Cost | GPUs | Reason |\n| --- | --- | ---: | --- | --- |\n");
  has("| `cluster.pool` | update | $24.40/h → $48.80/h | +4 H100 | will be updated in place |\n");
  has("| `endpoint.chat` | create | $0.80/h | +1 L4 | will be created |\n");
  has("| `training_job.tune` | replace | | | must be replaced (command cannot be updated in place) |\n");
  // Kiln notation, not JSON records.
  has("!       gpu   = \"H100:4\" -> \"H100:8\"\n");
  has("!       nodes = 1..1 -> 1..2\n");
  has("+       replicas = 1..4\n");
  has("+       gpu      = \"L4:1\"\n");
  EXPECT_EQ(md.find("\"model\""), std::string::npos) << md;
  // A changed heredoc: a line diff.
  has("!       command = <<EOT # forces replacement\n"
      "            set -e\n"
      "-           python prep.py\n"
      "+           python prep.py --shards 8\n"
      "            torchrun train.py\n"
      "+           python eval.py\n"
      "          EOT\n");
  // A new one: every line added.
  has("+       command  = <<EOT\n+           vllm serve $MODEL_URI \\\n+             --port $PORT\n+         EOT\n");
  EXPECT_EQ(md.find("\\n"), std::string::npos) << md;  // no escaped newlines left
  has("<details><summary><code>training_job.tune</code> replace</summary>\n\n```diff\n");
  has("**Outputs**\n\n| Output | Action | Value |\n| --- | --- | --- |\n"
      "| `gpus` | create | `\"H100:8\"` |\n"
      "| `later` | create | `(known after apply)` |\n"
      "| `url` | update | `\"http://a\"` → `\"http://b\\|c\"` |\n");
  has("\nPlan: 1 to add, 1 to change, 1 to replace, 0 to destroy.\n");
  // The text plan keeps its own notation.
  std::string text = RenderText(Example());
  EXPECT_NE(text.find("~ count = 4 -> 8"), std::string::npos) << text;
}

TEST(MarkdownPlan, ASavedPlanRendersTheSame) {
  Plan p = Example();
  Plan back;
  std::string error;
  ASSERT_TRUE(SavedPlanFromJson(SavedPlanToJson(p), &back, &error)) << error;
  EXPECT_EQ(RenderMarkdown(back), RenderMarkdown(p));
}

TEST(MarkdownPlan, NoChangesStillShowsWarnings) {
  Plan p;
  EXPECT_EQ(RenderMarkdown(p), "**kiln plan:** no changes.\n");
  p.diagnostics.push_back({"warning", "W0401", "`--var replica` names no input", "", 0, 0});
  EXPECT_EQ(RenderMarkdown(p),
            "**kiln plan:** no changes.\n\n**Warnings**\n\n- :warning: **W0401** `--var replica` names no input\n\n");
}

}  // namespace
}  // namespace kiln::planner
