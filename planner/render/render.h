// Renderers of a Plan: text (the terminal), JSON (`--format json`) and
// Markdown (a pull-request comment). None of them ever prints a sensitive
// value: plans hold only redacted values in the fields rendered here.
#pragma once

#include <string>

#include "planner/plan/plan.h"

namespace kiln::planner {

struct RenderOptions {
  bool color = false;
};

std::string RenderText(const Plan& plan, const RenderOptions& options = {});
std::string RenderJson(const Plan& plan);  // PlanToJson, pretty, trailing newline
std::string RenderMarkdown(const Plan& plan);

// "Plan: 1 to add, 0 to change, 0 to replace, 0 to destroy."
std::string SummaryLine(const Plan& plan);
// "Cost: $24.60/h -> $123.00/h (+$98.40/h)"; "" without a cost.
std::string CostLine(const Plan& plan);
// "will be created", "must be replaced (zone cannot be updated in place)", ...
std::string DescribeChange(const ResourceChange& c, bool drift);

}  // namespace kiln::planner
