#include "cli/session.h"

#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <mutex>
#include <sstream>

#include "cli/backend.h"
#include "cli/inputs.h"
#include "planner/render/render.h"

namespace kiln::cli {

using nlohmann::json;
using planner::Plan;
using planner::PlanMode;

namespace {

std::atomic<int> g_interrupts{0};

void OnInterrupt(int) { g_interrupts.fetch_add(1); }

}  // namespace

void PlanFlags::Declare(Flags& f, bool plan_cmd, bool apply_cmd, bool destroy_cmd) {
  f.Repeated("--var", &vars, "NAME=VALUE", "Set an input value");
  f.Repeated("--var-file", &var_files, "FILE", "Read input values from a file (JSON or .kilnvars)");
  f.Repeated("--target", &targets, "ADDR",
             destroy_cmd ? "Destroy only this resource and what depends on it (repeatable)"
                         : "Plan only this resource and its dependencies (repeatable)");
  if (!destroy_cmd) f.Repeated("--replace", &replace, "ADDR", "Replace this resource even if it has not changed");
  f.Bool("--refresh", &refresh, "--refresh=false skips reading the live objects");
  if (!destroy_cmd) f.Bool("--refresh-only", &refresh_only, "Only record changes made outside kiln");
  f.String("--parallelism", &parallelism, "N", "Provider calls at once (default 16)");
  f.String("--lock-timeout", &lock_timeout, "DURATION", "Wait this long for the state lock (default 0s)");
  if (!destroy_cmd)
    f.Bool("--detailed-exitcode", &detailed_exitcode, "Exit 0 without changes, 2 with changes, 1 on error");
  if (plan_cmd) {
    f.String("--format", &format, "text|json|markdown", "How to print the plan");
    f.String("--out", &out, "FILE", "Save the plan for `kiln apply FILE`");
  }
  if (apply_cmd) f.Bool("--auto-approve", &auto_approve, "Do not ask for confirmation");
}

void Session::ReportDiags() {
  if (diags.empty()) return;
  diags.SortBySource();
  ctx.Report(diags, ws.sources());
}

int Session::Prepare(const std::string& operation, bool need_config) {
  try {
    parallelism = std::stoi(flags.parallelism);
  } catch (...) {
    parallelism = 0;
  }
  if (parallelism < 1) return Fail("--parallelism takes a positive number, not `" + flags.parallelism + "`");
  if (!state::ParseDuration(flags.lock_timeout, &options.lock_timeout))
    return Fail("--lock-timeout takes a duration such as 30s or 5m, not `" + flags.lock_timeout + "`");
  if (!ReadInputValues(ctx, flags.vars, flags.var_files, &options.inputs, &options.origins)) return 1;
  options.workspace = CurrentWorkspace(ctx);
  options.operation = operation;
  options.need_config = need_config;
  return 0;
}

int Session::OpenWorkspace() {
  if (ws.Open(options, diags)) return 0;
  ReportDiags();
  return 1;
}

Plan Session::MakePlan(PlanMode mode) {
  planner::PlanOptions o;
  o.mode = flags.refresh_only ? PlanMode::kRefreshOnly : mode;
  o.refresh = flags.refresh;
  o.targets = flags.targets;
  o.replace = flags.replace;
  o.parallelism = parallelism;
  return ws.MakePlan(o, diags);
}

int Session::Apply(Plan& plan) {
  struct sigaction sa {}, old_int {}, old_term {};
  sa.sa_handler = OnInterrupt;
  sigemptyset(&sa.sa_mask);
  sigaction(SIGINT, &sa, &old_int);
  sigaction(SIGTERM, &sa, &old_term);
  g_interrupts = 0;
  planner::ApplyOptions o;
  o.parallelism = parallelism;
  o.interrupt = &g_interrupts;
  std::ostream& out = *ctx.out;
  std::mutex out_mu;
  std::atomic<bool> told{false};
  o.log = [&](const std::string& line) {
    std::lock_guard<std::mutex> l(out_mu);
    if (g_interrupts.load() > 0 && !told.exchange(true))
      out << "Interrupt received: starting nothing new; waiting for operations in flight to finish...\n";
    out << line << std::endl;
  };
  planner::ApplyResult r = ws.Apply(plan, o, diags);
  sigaction(SIGINT, &old_int, nullptr);
  sigaction(SIGTERM, &old_term, nullptr);
  ReportDiags();
  auto s = plan.summary();
  if (r.interrupted || g_interrupts.load() > 0) {
    out << "\nInterrupted: " << r.succeeded << " operation(s) completed and saved, " << r.skipped
        << " not started.\n";
    return 130;
  }
  if (!r.ok()) {
    out << "\nApply failed: " << r.succeeded << " operation(s) succeeded, " << r.failed << " failed, "
        << r.skipped << " skipped. State keeps every success.\n";
    return 1;
  }
  if (plan.mode == PlanMode::kDestroy)
    out << "\nDestroy complete! Resources: " << s.destroy << " destroyed.\n";
  else
    out << "\nApply complete! Resources: " << s.add << " added, " << s.change << " changed, " << s.replace
        << " replaced, " << s.destroy << " destroyed.\n";
  return diags.HasErrors() ? 1 : 0;
}

bool Session::Confirm(const std::string& what) {
  if (flags.auto_approve) return true;
  *ctx.out << "\nDo you want to perform these actions? Only `yes` will be accepted.\n  Enter a value: "
           << std::flush;
  // A pipe (`echo yes | kiln apply`) answers as a terminal would; an empty
  // or closed stdin is no answer.
  std::string answer;
  if (!std::getline(std::cin, answer) && !isatty(STDIN_FILENO)) {
    *ctx.out << "\n";
    ctx.Fail(what + " needs confirmation: type `yes` on stdin or pass --auto-approve");
    return false;
  }
  while (!answer.empty() && (answer.back() == '\r' || answer.back() == ' ')) answer.pop_back();
  if (answer != "yes") {
    *ctx.out << "Cancelled; nothing was changed.\n";
    return false;
  }
  return true;
}

std::string Render(const Plan& plan, const std::string& format, bool color) {
  if (format == "json") return planner::RenderJson(plan);
  if (format == "markdown") return planner::RenderMarkdown(plan);
  return planner::RenderText(plan, {color});
}

std::string WorkingDir() {
  std::error_code ec;
  std::string dir = std::filesystem::current_path(ec).string();
  return ec ? "" : dir;
}

bool ValidFormat(const Context& ctx, const std::string& f) {
  if (f == "text" || f == "json" || f == "markdown") return true;
  ctx.Fail("--format takes text, json or markdown, not `" + f + "`");
  return false;
}

bool LoadSavedPlan(const Context& ctx, const std::string& file, Plan* plan, json* extras) {
  std::ifstream in(file, std::ios::binary);
  if (!in) {
    ctx.Fail("cannot read saved plan `" + file + "`");
    return false;
  }
  std::stringstream ss;
  ss << in.rdbuf();
  std::string error;
  if (!planner::Workspace::ParseSavedPlan(ss.str(), plan, extras, &error)) {
    ctx.Fail("`" + file + "` is not a kiln saved plan" + (error.empty() ? "" : ": " + error));
    return false;
  }
  return true;
}

}  // namespace kiln::cli
