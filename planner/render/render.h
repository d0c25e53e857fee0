// Renderers of a Plan: text (the terminal), JSON (`--format json`) and
// Markdown (a pull-request comment). None of them ever prints a sensitive
// value: plans hold only redacted values in the fields rendered here.
#pragma once

#include <string>
#include <vector>

#include "planner/plan/plan.h"

namespace kiln::planner {

struct RenderOptions {
  bool color = false;
};

std::string RenderText(const Plan& plan, const RenderOptions& options = {});
std::string RenderJson(const Plan& plan);  // PlanToJson, pretty, trailing newline
std::string RenderMarkdown(const Plan& plan);

// Where durations (ms) and bytes (integers) sit in a JSON value: paths of
// keys and list indices from the value's root.
struct Quantities {
  const std::vector<Path>& durations;
  const std::vector<Path>& bytes;
};

// The Kiln text of the leaf `v` found at `path` when that path is a duration
// or bytes path and `v` an integer ("10m", "80GiB", through FormatDuration and
// FormatBytes of compiler/value, so it reads back as the same quantity); ""
// otherwise.
std::string QuantityText(const nlohmann::json& v, const Path& path, const Quantities& q);
// `v` (found at `at` in the value that `q` describes) pretty-printed like
// JSON with two-space indentation, continued lines indented by `indent`,
// except that quantities print as Kiln quantities and the sensitive
// placeholder bare: `{"timeout": 10m, "token": (sensitive)}`.
std::string DisplayValue(const nlohmann::json& v, const Path& at, const Quantities& q, int indent = 0);

// "Plan: 1 to add, 0 to change, 0 to replace, 0 to destroy."
std::string SummaryLine(const Plan& plan);
// "Cost: $24.60/h -> $123.00/h (+$98.40/h)"; "" without a cost.
std::string CostLine(const Plan& plan);
// "will be created", "must be replaced (zone cannot be updated in place)", ...
std::string DescribeChange(const ResourceChange& c, bool drift);
// Lines said about a change besides its diff: how many uploaded files changed
// ("workdir changed: 3 files (...)"), which GPU was chosen, why and at what
// price, and that `setup` runs before `command`.
std::vector<std::string> ChangeNotes(const ResourceChange& c);

}  // namespace kiln::planner
