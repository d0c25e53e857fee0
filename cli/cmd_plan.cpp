// kiln plan / apply / destroy / show / graph: the planner's commands.
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <memory>
#include <mutex>
#include <set>
#include <sstream>

#include "cli/backend.h"
#include "cli/commands.h"
#include "cli/inputs.h"
#include "compiler/ast/ast.h"
#include "compiler/compile.h"
#include "compiler/config_graph.h"
#include "planner/planner.h"
#include "planner/render/render.h"
#include "planner/state/state.h"
#include "providers/registry.h"

namespace kiln::cli {

using nlohmann::json;
using planner::Plan;
using planner::PlanMode;

namespace {

std::atomic<int> g_interrupts{0};

void OnInterrupt(int) { g_interrupts.fetch_add(1); }

struct PlanFlags {
  std::vector<std::string> vars, var_files, targets, replace;
  bool refresh = true;
  bool refresh_only = false;
  std::string parallelism = "16";
  std::string lock_timeout = "0s";
  bool detailed_exitcode = false;
  std::string format = "text";
  std::string out;
  bool auto_approve = false;
  std::vector<std::string> positional;

  void Declare(Flags& f, bool plan_cmd, bool apply_cmd, bool destroy_cmd = false) {
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
};

// Everything a planning command holds on to, in the order it is set up.
struct Session {
  const Context& ctx;
  PlanFlags& flags;
  SourceManager sm;
  Diagnostics diags;
  InputValues inputs;
  std::unique_ptr<ProviderRegistry> registry;
  std::unique_ptr<CompiledConfig> config;
  std::unique_ptr<planner::RegistryProviderSource> providers;
  std::unique_ptr<state::StateStore> store;
  std::unique_ptr<state::IntentJournal> journal;
  state::State loaded;
  int parallelism = 16;
  std::map<std::string, std::string> origins;  // input name -> where its value came from
  // A saved plan's input values, used where this run gives none.
  InputValues preset;
  std::map<std::string, std::string> preset_origins;

  Session(const Context& c, PlanFlags& f) : ctx(c), flags(f) {}
  // The command exits after its session: the compiled configuration (the
  // largest structure, millions of nodes for a large platform) is left to
  // the exit instead of being freed node by node, as `kiln validate` does.
  // Everything with an effect (lock, journal, plugins) is still closed.
  // The state as loaded likewise (a vector of 100,000 resources, moved out
  // whole, never freed).
  ~Session() {
    (void)config.release();
    (void)new state::State(std::move(loaded));
  }

  int Fail(const std::string& m) {
    ctx.Fail(m);
    return 1;
  }
  void ReportDiags() {
    if (diags.empty()) return;
    // Provider calls run in parallel: sort so that the same plan always
    // reports in the same (source) order.
    diags.SortBySource();
    ctx.Report(diags, sm);
  }

  // Compile the configuration, open the state (locked) and the providers.
  // Returns 0 on success, else the exit code (errors already printed).
  int Open(const std::string& operation, bool need_config) {
    try {
      parallelism = std::stoi(flags.parallelism);
    } catch (...) {
      parallelism = 0;
    }
    if (parallelism < 1) return Fail("--parallelism takes a positive number, not `" + flags.parallelism + "`");
    std::chrono::milliseconds lock_timeout;
    if (!state::ParseDuration(flags.lock_timeout, &lock_timeout))
      return Fail("--lock-timeout takes a duration such as 30s or 5m, not `" + flags.lock_timeout + "`");
    if (!ReadInputValues(ctx, flags.vars, flags.var_files, &inputs, &origins)) return 1;
    for (const auto& [name, raw] : preset.raw) {
      if (inputs.raw.count(name) || inputs.json.count(name)) continue;
      inputs.raw[name] = raw;
      origins[name] = preset_origins[name];
    }
    for (const auto& [name, value] : preset.json) {
      if (inputs.raw.count(name) || inputs.json.count(name)) continue;
      inputs.json[name] = value;
      origins[name] = preset_origins[name];
    }
    registry = std::make_unique<ProviderRegistry>();
    CompileOptions options;
    options.root_dir = ".";
    options.inputs = inputs;
    ProviderRegistry* reg = registry.get();
    options.provider_schema = [reg](const std::string& type) -> const ProviderSchema* {
      ProviderDiagnostics pd;
      return reg->SchemaFor(type, &pd);
    };
    config = Compile(options, sm, diags);
    if (!config) {
      if (need_config || diags.HasErrors()) {
        ReportDiags();
        return 1;
      }
    }
    BackendConfig backend;
    std::vector<ProviderInstance> instances;
    if (config) {
      Diagnostics d;
      ConfigGraph g = config->Evaluate([](const std::string&) { return nullptr; }, d);
      backend = g.backend;
      instances = g.providers;
    }
    store = OpenStore(backend, CurrentWorkspace(ctx), diags);
    if (!store || !store->backend().Lock(operation, lock_timeout, diags) || !store->Load(&loaded, diags)) {
      ReportDiags();
      return 1;
    }
    journal = store->backend().OpenJournal();
    providers = std::make_unique<planner::RegistryProviderSource>(registry.get(), instances);
    return 0;
  }

  planner::PlanContext PlanCtx() {
    return planner::PlanContext{config.get(), providers.get(), store.get(), journal.get()};
  }

  planner::GpuPriceFn Prices() {
    if (!config) return nullptr;
    const CompiledConfig* c = config.get();
    return [c](const std::string& model) -> std::optional<std::pair<double, double>> {
      const GpuModelInfo* m = ProgramOf(*c).catalog.Find(model);
      if (!m || m->on_demand_hourly <= 0) return std::nullopt;
      return std::make_pair(m->on_demand_hourly, m->spot_hourly);
    };
  }

  // Root inputs declared sensitive.
  bool SensitiveInput(const std::string& name) const {
    if (!config) return false;
    for (const ast::Decl* d : ProgramOf(*config).root->module.decls) {
      const auto* in = ast::As<ast::InputDecl>(d);
      if (in && in->name == name) return in->sensitive;
    }
    return false;
  }
  std::string Origin(const std::string& name) const {
    auto it = origins.find(name);
    return it != origins.end() ? it->second : "KILN_VAR_" + name;
  }

  // A hash of the effective root input values (sensitive ones through the
  // state's keyed hash), so that a saved plan knows it is applied with the
  // values it was made with, however they were given.
  std::string VariablesHash() const {
    json v = json::object();
    if (config) {
      for (const auto& [name, value] : RootInputsOf(*config))
        v[name] = SensitiveInput(name) ? json(store->hasher().Hash(ToJson(value))) : ToJson(value);
    }
    return "sha256-hmac:" + state::ToHex(state::HmacSha256("kiln-variables", v.dump()));
  }

  // What a saved plan keeps besides the plan: the workspace, the inputs
  // (non-sensitive ones with their values and origins, sensitive ones only
  // as keyed hashes) and a hash per configuration file.
  json SavedExtras() const {
    json inputs_j = json::object(), sensitive = json::object(), files = json::object();
    if (config) {
      for (const auto& [name, value] : RootInputsOf(*config)) {
        if (SensitiveInput(name)) {
          sensitive[name] = {{"hash", store->hasher().Hash(ToJson(value))}, {"origin", Origin(name)}};
          continue;
        }
        json entry = {{"value", ToJson(value)}, {"origin", Origin(name)}};
        if (auto it = inputs.raw.find(name); it != inputs.raw.end()) entry["raw"] = it->second;
        else if (auto jt = inputs.json.find(name); jt != inputs.json.end()) entry["json"] = jt->second;
        else if (const char* e = std::getenv(("KILN_VAR_" + name).c_str())) entry["raw"] = e;
        inputs_j[name] = entry;
      }
    }
    for (uint32_t id = 1; id <= sm.FileCount(); ++id)
      files[sm.DisplayPath(id)] = state::ToHex(state::HmacSha256("kiln-file", std::string(sm.Text(id))));
    return {{"workspace", CurrentWorkspace(ctx)}, {"inputs", inputs_j}, {"sensitive_inputs", sensitive},
            {"config_files", files}};
  }

  Plan MakePlan(PlanMode mode) {
    planner::PlanOptions o;
    o.mode = flags.refresh_only ? PlanMode::kRefreshOnly : mode;
    o.refresh = flags.refresh;
    o.targets = flags.targets;
    o.replace = flags.replace;
    o.parallelism = parallelism;
    o.prices = Prices();
    o.variables_hash = VariablesHash();
    return planner::MakePlan(PlanCtx(), o, diags);
  }

  // The apply walk with progress lines, Ctrl-C handling and the summary.
  int Apply(Plan& plan) {
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
    planner::ApplyResult r = planner::ApplyPlan(plan, PlanCtx(), o, diags);
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
      out << "\nApply complete! Resources: " << s.add << " added, " << s.change << " changed, "
          << s.replace << " replaced, " << s.destroy << " destroyed.\n";
    return diags.HasErrors() ? 1 : 0;
  }

  bool Confirm(const std::string& what) {
    if (flags.auto_approve) return true;
    *ctx.out << "\nDo you want to perform these actions? Only `yes` will be accepted.\n  Enter a value: "
             << std::flush;
    // A pipe (`echo yes | kiln apply`) answers as a terminal would; an
    // empty or closed stdin is no answer.
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
};

bool ReadText(const std::string& path, std::string* out) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return false;
  std::stringstream ss;
  ss << in.rdbuf();
  *out = ss.str();
  return true;
}

bool LoadSavedPlan(const Context& ctx, const std::string& file, Plan* plan, json* raw = nullptr) {
  std::string text;
  if (!ReadText(file, &text)) {
    ctx.Fail("cannot read saved plan `" + file + "`");
    return false;
  }
  json j = json::parse(text, nullptr, false);
  std::string error;
  if (j.is_discarded() || !planner::SavedPlanFromJson(j, plan, &error)) {
    ctx.Fail("`" + file + "` is not a kiln saved plan" + (error.empty() ? "" : ": " + error));
    return false;
  }
  if (raw) *raw = std::move(j);
  return true;
}

std::string Shown(const json& v) { return v.is_string() ? "\"" + v.get<std::string>() + "\"" : v.dump(); }

// The inputs of this run against those the plan was made with: a value given
// again must be the same, a sensitive one must be given again (it is never
// stored) and match the plan's keyed hash. Errors name the input.
bool CheckSavedInputs(Session& s, const json& extras) {
  if (!s.config) return true;
  const auto& now = RootInputsOf(*s.config);
  const json planned = extras.value("inputs", json::object());
  const json sensitive = extras.value("sensitive_inputs", json::object());
  bool ok = true;
  for (const auto& [name, value] : now) {
    json v = ToJson(value);
    if (planned.contains(name)) {
      const json& p = planned[name];
      if (p.value("value", json()) == v) continue;
      auto& e = s.diags.Error("E0911", {}, "the plan was made with " + name + " = " + Shown(p["value"]) + " (from " +
                                               p.value("origin", "?") + "), but " + s.Origin(name) + " gives " +
                                               Shown(v));
      e.help = "drop that value to apply the plan as made, or plan again with it";
      ok = false;
    } else if (sensitive.contains(name)) {
      if (s.store->hasher().Same(v, sensitive[name].value("hash", ""))) continue;
      s.diags.Error("E0912", {}, "the plan was made with a different value of `" + name + "`").help =
          "give the value the plan was made with, or plan again";
      ok = false;
    } else if (extras.contains("inputs")) {
      s.diags.Error("E0911", {}, "input `" + name + "` is set (" + s.Origin(name) +
                                     ") but was not when the plan was made").help = "drop it, or plan again with it";
      ok = false;
    }
  }
  for (const auto& [name, e] : sensitive.items()) {
    if (now.count(name)) continue;
    s.diags.Error("E0912", {}, "the plan was made with the sensitive input `" + name +
                                   "`; give it again (sensitive values are never stored in a plan)")
        .help = "pass it as when planning: --var, a var file, or KILN_VAR_" + name;
    ok = false;
  }
  return ok;
}

// State, configuration and inputs as the plan saw them? The error says what
// changed: the state's serial or lineage, which configuration files.
bool CheckSavedPlanFresh(Session& s, const Plan& plan, const json& extras) {
  std::string why;
  std::vector<std::string> notes;
  state::State cur = s.store->Current();
  if (plan.state_existed != s.store->Exists()) {
    why = plan.state_existed ? "the state is gone" : "state was created since the plan was made";
  } else if (plan.state_existed && plan.lineage != cur.lineage) {
    why = "the state's lineage differs (" + plan.lineage + " in the plan, " + cur.lineage + " now): it is another state";
  } else if (plan.state_existed && plan.serial != cur.serial) {
    why = "state changed since the plan was made (serial " + std::to_string(plan.serial) + " -> " +
          std::to_string(cur.serial) + ")";
    notes.push_back("`kiln state history` shows who wrote serial " + std::to_string(cur.serial));
  } else if (s.config && plan.config_hash != s.config->ConfigHash()) {
    why = "the configuration changed since the plan was made";
    json then = extras.value("config_files", json::object());
    std::set<std::string> seen;
    for (uint32_t id = 1; id <= s.sm.FileCount(); ++id) {
      std::string path = s.sm.DisplayPath(id);
      seen.insert(path);
      std::string hash = state::ToHex(state::HmacSha256("kiln-file", std::string(s.sm.Text(id))));
      if (!then.contains(path)) notes.push_back(path + " is new");
      else if (then[path] != hash) notes.push_back(path + " changed");
    }
    for (const auto& [path, h] : then.items())
      if (!seen.count(path)) notes.push_back(path + " is gone");
  } else if (plan.variables_hash != s.VariablesHash()) {
    why = "input values differ from the plan's";
  }
  if (why.empty()) return true;
  auto& e = s.diags.Error("E0907", {}, "saved plan is stale: " + why);
  e.notes = notes;
  e.help = "run `kiln plan --out FILE` again";
  return false;
}

std::string Render(const Plan& plan, const std::string& format, bool color) {
  if (format == "json") return planner::RenderJson(plan);
  if (format == "markdown") return planner::RenderMarkdown(plan);
  return planner::RenderText(plan, {color});
}

// Where the JSON plan's diagnostics name files from (`-C DIR` applied).
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

}  // namespace

// A plan that fails leaves nothing behind: the .kiln/ it created (for the
// lock) goes again when it is empty. Declared before the Session, so that it
// runs after the Session has released the lock.
struct RemoveKilnDirIfFailed {
  bool existed = std::filesystem::exists(".kiln");
  bool failed = true;
  ~RemoveKilnDirIfFailed() {
    std::error_code ec;
    if (!existed && failed) std::filesystem::remove(".kiln", ec);  // only if empty
  }
};

int RunPlan(const Context& ctx, const std::vector<std::string>& args) {
  RemoveKilnDirIfFailed cleanup;
  PlanFlags pf;
  Flags f("kiln plan [flags]", "Refresh, compare the configuration with state and print what apply would do.");
  pf.Declare(f, true, false);
  if (!f.Parse(args, ctx)) return f.exit_code();
  if (!ValidFormat(ctx, pf.format)) return 1;
  Session s(ctx, pf);
  if (int rc = s.Open("plan", true)) {
    // Machines reading the JSON plan get one even when the configuration
    // does not compile (or state cannot be opened): errored, not applyable,
    // with the diagnostics that say why.
    if (pf.format == "json") {
      Plan failed;
      planner::FillPlanDiagnostics(&failed, s.diags, s.sm, WorkingDir());
      failed.errored = true;
      *ctx.out << planner::RenderJson(failed);
    }
    return rc;
  }
  // Left to the exit, as the session's configuration: freeing a plan of
  // 100,000 changes node by node was 5% of a no-change plan.
  Plan& plan = *new Plan(s.MakePlan(PlanMode::kNormal));
  s.ReportDiags();
  planner::FillPlanDiagnostics(&plan, s.diags, s.sm, WorkingDir());
  if (pf.format != "text" || !plan.errored) *ctx.out << Render(plan, pf.format, ctx.color);
  if (plan.errored) return 1;
  if (!pf.out.empty()) {
    json saved = planner::SavedPlanToJson(plan);
    json extras = s.SavedExtras();
    if (!extras["sensitive_inputs"].empty() && !s.store->EnsureKey(s.diags)) {
      s.ReportDiags();
      return 1;
    }
    for (auto& [k, v] : extras.items()) saved["saved_plan"][k] = v;
    std::string text = saved.dump(2) + "\n";
    std::ofstream out(pf.out, std::ios::trunc);
    out << text;
    out.close();
    chmod(pf.out.c_str(), 0600);
    if (!out) return s.Fail("cannot write `" + pf.out + "`");
    if (pf.format == "text") *ctx.out << "\nSaved the plan to " << pf.out << "; apply it with `kiln apply " << pf.out << "`.\n";
  }
  cleanup.failed = false;
  if (pf.detailed_exitcode && plan.HasChanges()) return 2;
  return 0;
}

int RunApply(const Context& ctx, const std::vector<std::string>& args) {
  PlanFlags pf;
  Flags f("kiln apply [flags] [FILE]", "Make the changes of a fresh plan (after confirmation), or exactly those of a saved plan FILE.");
  pf.Declare(f, false, true);
  f.Positional(&pf.positional, 0, 1);
  if (!f.Parse(args, ctx)) return f.exit_code();
  Session s(ctx, pf);
  if (pf.positional.empty()) {
    if (int rc = s.Open("apply", true)) return rc;
    Plan plan = s.MakePlan(PlanMode::kNormal);
    s.ReportDiags();
    s.diags = Diagnostics();
    if (plan.errored) return 1;
    *ctx.out << planner::RenderText(plan, {ctx.color});
    if (!plan.HasChanges()) return 0;
    if (!s.Confirm("apply")) return 1;
    *ctx.out << "\n";
    return s.Apply(plan);
  }
  // A saved plan: applied exactly, or refused when stale.
  Plan plan;
  json saved;
  if (!LoadSavedPlan(ctx, pf.positional[0], &plan, &saved)) return 1;
  const json extras = saved["saved_plan"];
  std::string workspace = CurrentWorkspace(ctx);
  if (extras.contains("workspace") && extras["workspace"] != workspace) {
    s.diags.Error("E0907", {}, "saved plan is for workspace `" + extras["workspace"].get<std::string>() +
                                   "`, but this is workspace `" + workspace + "`")
        .help = "select its workspace (`--workspace " + extras["workspace"].get<std::string>() +
                "`), or plan again in this one";
    s.ReportDiags();
    return 1;
  }
  // The plan's own input values, where the command line gives none.
  const json planned_inputs = extras.value("inputs", json::object());
  for (const auto& [name, e] : planned_inputs.items()) {
    if (e.contains("raw") && e["raw"].is_string()) s.preset.raw[name] = e["raw"].get<std::string>();
    else if (e.contains("json")) s.preset.json[name] = e["json"];
    else continue;
    s.preset_origins[name] = "the saved plan (" + e.value("origin", "?") + " when it was made)";
  }
  if (int rc = s.Open("apply", plan.mode != PlanMode::kDestroy)) return rc;
  if (!CheckSavedInputs(s, extras) || !CheckSavedPlanFresh(s, plan, extras)) {
    s.ReportDiags();
    return 1;
  }
  if (s.config) {
    state::State snap = s.store->Current();
    ResourceLookup lookup = [&snap](const std::string& a) -> const json* {
      const auto* r = snap.Find(a);
      return r ? &r->attributes : nullptr;
    };
    ConfigGraph g = s.config->Evaluate(lookup, s.diags);
    if (s.diags.HasErrors() || !planner::RestorePlanValues(plan, g, s.diags)) {
      s.ReportDiags();
      return 1;
    }
  }
  return s.Apply(plan);
}

int RunDestroy(const Context& ctx, const std::vector<std::string>& args) {
  PlanFlags pf;
  Flags f("kiln destroy [flags]", "Delete everything in state, dependents first.");
  pf.Declare(f, false, true, true);
  if (!f.Parse(args, ctx)) return f.exit_code();
  Session s(ctx, pf);
  if (int rc = s.Open("destroy", false)) return rc;
  Plan plan = s.MakePlan(PlanMode::kDestroy);
  s.ReportDiags();
  s.diags = Diagnostics();
  if (plan.errored) return 1;
  *ctx.out << planner::RenderText(plan, {ctx.color});
  if (!plan.HasChanges()) return 0;
  if (!s.Confirm("destroy")) return 1;
  *ctx.out << "\n";
  return s.Apply(plan);
}

int RunShow(const Context& ctx, const std::vector<std::string>& args) {
  std::string format = "text";
  bool as_json = false;
  std::vector<std::string> pos;
  Flags f("kiln show [--format text|json|markdown] [FILE]", "Show a saved plan, or the current state.");
  f.String("--format", &format, "text|json|markdown", "Output format");
  f.Bool("--json", &as_json, "Same as --format json");
  f.Positional(&pos, 0, 1);
  if (!f.Parse(args, ctx)) return f.exit_code();
  if (as_json) format = "json";
  if (!ValidFormat(ctx, format)) return 1;
  if (!pos.empty()) {
    Plan plan;
    if (!LoadSavedPlan(ctx, pos[0], &plan)) return 1;
    *ctx.out << Render(plan, format, ctx.color);
    return 0;
  }
  auto store = OpenCommandStore(ctx, "");
  if (!store) return 1;
  state::State st;
  Diagnostics d;
  SourceManager sm;
  if (!store->Load(&st, d)) {
    ctx.Report(d, sm);
    return 1;
  }
  if (format == "json") {
    *ctx.out << state::SerializeState(st);
    return 0;
  }
  if (st.resources.empty() && st.outputs.empty()) {
    *ctx.out << "The state is empty.\n";
    return 0;
  }
  for (const auto& r : st.resources) {
    *ctx.out << "# " << r.address << (r.status == state::kStatusReady ? "" : " (" + r.status + ")") << ":\n"
             << r.kind << " \"" << r.name << "\" "
             << planner::DisplayValue(r.attributes, {}, {r.duration_paths, r.bytes_paths}) << "\n\n";
  }
  if (!st.outputs.empty()) {
    *ctx.out << "Outputs:\n";
    for (const auto& [n, o] : st.outputs)
      *ctx.out << "  " << n << " = "
               << planner::DisplayValue(o.value, {}, {o.duration_paths, o.bytes_paths}, 2 + static_cast<int>(n.size()) + 3)
               << "\n";
  }
  return 0;
}

int RunGraph(const Context& ctx, const std::vector<std::string>& args) {
  PlanFlags pf;
  bool plan_graph = false;
  Flags f("kiln graph [--plan] [flags]", "Print the resource dependency graph (or with --plan the plan's action graph) in Graphviz DOT.");
  f.Bool("--plan", &plan_graph, "The action graph of a plan");
  f.Repeated("--var", &pf.vars, "NAME=VALUE", "Set an input value");
  f.Repeated("--var-file", &pf.var_files, "FILE", "Read input values from a file");
  if (!f.Parse(args, ctx)) return f.exit_code();
  Session s(ctx, pf);
  if (int rc = s.Open("graph", true)) return rc;
  if (plan_graph) {
    Plan plan = s.MakePlan(PlanMode::kNormal);
    std::vector<planner::ApplyOp> ops;
    dag::Graph g = planner::BuildApplyGraph(plan, &ops, s.diags);
    s.ReportDiags();
    if (plan.errored) return 1;
    *ctx.out << g.ToDot("kiln plan");
    return 0;
  }
  state::State snap = s.store->Current();
  ResourceLookup lookup = [&snap](const std::string& a) -> const json* {
    const auto* r = snap.Find(a);
    return r ? &r->attributes : nullptr;
  };
  ConfigGraph cg = s.config->Evaluate(lookup, s.diags);
  dag::Graph g;
  std::map<std::string, dag::NodeId> ids;
  for (const auto& r : cg.resources) ids[r.address] = g.AddNode(r.address);
  for (const auto& r : cg.resources)
    for (const auto& d : r.depends_on)
      if (ids.count(d)) g.AddEdge(ids[d], ids[r.address]);
  s.ReportDiags();
  if (auto cycle = g.FindCycle(); !cycle.empty()) {
    ctx.Fail("the resources form a cycle: " + dag::FormatCycle(cycle));
    return 1;
  }
  *ctx.out << g.ToDot("kiln");
  return 0;
}

int RunImport(const Context& ctx, const std::vector<std::string>& args) {
  PlanFlags pf;
  Flags f("kiln import [flags] ADDR ID",
          "Adopt an existing live object into state through its provider: ADDR is a resource\n"
          "instance of the configuration that is not in state yet, ID the provider's id of the object.");
  f.Repeated("--var", &pf.vars, "NAME=VALUE", "Set an input value");
  f.Repeated("--var-file", &pf.var_files, "FILE", "Read input values from a file (JSON or .kilnvars)");
  f.String("--lock-timeout", &pf.lock_timeout, "DURATION", "Wait this long for the state lock (default 0s)");
  f.Positional(&pf.positional, 2, 2);
  if (!f.Parse(args, ctx)) return f.exit_code();
  const std::string& address = pf.positional[0];
  const std::string& id = pf.positional[1];
  Session s(ctx, pf);
  if (int rc = s.Open("import", true)) return rc;
  state::State snap = s.store->Current();
  ResourceLookup lookup = [&snap](const std::string& a) -> const json* {
    const auto* r = snap.Find(a);
    return r ? &r->attributes : nullptr;
  };
  ConfigGraph g = s.config->Evaluate(lookup, s.diags);
  if (s.diags.HasErrors()) {
    s.ReportDiags();
    return 1;
  }
  const ResourceInstance* inst = g.Find(address);
  if (!inst) {
    std::vector<std::string> candidates;
    for (const auto& r : g.resources) candidates.push_back(r.address);
    auto& e = s.diags.Error("E0910", {}, "no resource instance `" + address + "` in the configuration");
    std::string near = ClosestMatch(address, candidates);
    if (!near.empty()) e.help = "did you mean `" + near + "`?";
    else e.help = "declare the resource first; `kiln graph` lists the configuration's resources";
    s.ReportDiags();
    return 1;
  }
  if (snap.Find(address)) {
    s.diags.Error("E0909", inst->range, address + " is already in state").help =
        "`kiln state rm " + address + "` first to import a different object";
    s.ReportDiags();
    return 1;
  }
  state::ResourceState rs;
  if (!planner::ImportResource(s.PlanCtx(), *inst, id, &rs, s.diags)) {
    s.ReportDiags();
    return 1;
  }
  s.ReportDiags();
  std::string shown = id;
  if (rs.attributes.is_object() && rs.attributes.contains("id") && rs.attributes["id"].is_string())
    shown = rs.attributes["id"].get<std::string>();
  *ctx.out << address << ": Import complete [id=" << shown << "]\n";
  return 0;
}

}  // namespace kiln::cli
