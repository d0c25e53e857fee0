#include "planner/plan/plan.h"

#include "core/cost.h"

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <tuple>

#include "core/cost.h"
#include "core/kinds.h"

namespace kiln::planner {

using nlohmann::json;

const char* ActionName(Action a) {
  switch (a) {
    case Action::kNoop: return "noop";
    case Action::kCreate: return "create";
    case Action::kRead: return "read";
    case Action::kUpdate: return "update";
    case Action::kReplace: return "replace";
    case Action::kDelete: return "delete";
  }
  return "noop";
}

std::optional<Action> ParseAction(const std::string& name) {
  for (Action a : {Action::kNoop, Action::kCreate, Action::kRead, Action::kUpdate,
                   Action::kReplace, Action::kDelete})
    if (name == ActionName(a)) return a;
  return std::nullopt;
}

Plan::Summary Plan::summary() const {
  Summary s;
  for (const auto& c : changes) {
    switch (c.action) {
      case Action::kCreate: ++s.add; break;
      case Action::kUpdate: ++s.change; break;
      case Action::kReplace: ++s.replace; break;
      case Action::kDelete: ++s.destroy; break;
      default: break;
    }
  }
  return s;
}

bool Plan::HasChanges() const {
  for (const auto& c : changes)
    if (c.action != Action::kNoop && c.action != Action::kRead) return true;
  for (const auto& [name, o] : outputs)
    if (o.action != Action::kNoop) return true;
  if (mode == PlanMode::kRefreshOnly && !drift.empty()) return true;
  return false;
}

const ResourceChange* Plan::Find(const std::string& address) const {
  auto it = std::lower_bound(changes.begin(), changes.end(), address,
                             [](const ResourceChange& c, const std::string& a) {
                               return c.address < a;
                             });
  if (it == changes.end() || it->address != address) return nullptr;
  return &*it;
}

json UnknownMask(const json& v) {
  if (IsUnknown(v)) return true;
  if (v.is_object()) {
    json out = json::object();
    for (auto it = v.begin(); it != v.end(); ++it) {
      json m = UnknownMask(it.value());
      if (m.is_boolean() || (m.is_object() && !m.empty()) || (m.is_array() && !m.empty()))
        out[it.key()] = m;
    }
    return out;
  }
  if (v.is_array()) {
    json out = json::array();
    bool any = false;
    for (const auto& e : v) {
      json m = UnknownMask(e);
      bool set = m.is_boolean() || (m.is_object() && !m.empty()) || (m.is_array() && !m.empty());
      any = any || set;
      out.push_back(set ? m : json(false));
    }
    return any ? out : json::array();
  }
  return json::object();
}

namespace {

// Unknown leaves -> null (the JSON plan's `after`, with `after_unknown` beside it).
json NullUnknowns(const json& v) {
  if (IsUnknown(v)) return nullptr;
  if (v.is_object()) {
    json out = json::object();
    for (auto it = v.begin(); it != v.end(); ++it) out[it.key()] = NullUnknowns(it.value());
    return out;
  }
  if (v.is_array()) {
    json out = json::array();
    for (const auto& e : v) out.push_back(NullUnknowns(e));
    return out;
  }
  return v;
}

json PathsJson(const std::vector<Path>& paths) {
  std::vector<Path> sorted = paths;
  std::sort(sorted.begin(), sorted.end());
  sorted.erase(std::unique(sorted.begin(), sorted.end()), sorted.end());
  json out = json::array();
  for (const auto& p : sorted) out.push_back(p);
  return out;
}

std::vector<Path> PathsFrom(const json& j) {
  std::vector<Path> out;
  if (!j.is_array()) return out;
  for (const auto& p : j) {
    Path path;
    if (p.is_array())
      for (const auto& k : p)
        if (k.is_string()) path.push_back(k.get<std::string>());
    out.push_back(path);
  }
  return out;
}

json ChangeJson(const ResourceChange& c) {
  json j = json::object();
  j["address"] = c.address;
  j["module"] = c.module;
  j["kind"] = c.kind;
  j["name"] = c.name;
  j["key"] = c.key;
  j["provider"] = c.provider;
  j["action"] = ActionName(c.action);
  j["action_reason"] = c.action_reason;
  if (!c.deposed_key.empty()) j["deposed"] = c.deposed_key;  // which deposed object (deposed_object)
  j["before"] = c.before;
  j["after"] = NullUnknowns(c.after);
  j["after_unknown"] = c.after.is_null() ? json(false) : UnknownMask(c.after);
  j["sensitive_paths"] = PathsJson(c.sensitive_paths);
  j["replace_paths"] = PathsJson(c.replace_paths);
  // Durations stay milliseconds and bytes integers in JSON; these say which
  // leaves they are.
  j["duration_paths"] = PathsJson(c.duration_paths);
  j["bytes_paths"] = PathsJson(c.bytes_paths);
  return j;
}

// The inverse of NullUnknowns + UnknownMask: `true` in `mask` marks an
// unknown value, so that a saved plan renders like the plan it was.
json WithUnknowns(const json& v, const json& mask) {
  if (mask.is_boolean()) return mask.get<bool>() ? Unknown() : v;
  json out = v;
  if (mask.is_object()) {
    if (!out.is_object()) out = json::object();
    for (const auto& [k, m] : mask.items()) out[k] = WithUnknowns(out.contains(k) ? out[k] : json(), m);
  } else if (mask.is_array()) {
    if (!out.is_array()) out = json::array();
    for (size_t i = 0; i < mask.size(); ++i) {
      if (i >= out.size()) out.push_back(nullptr);
      out[i] = WithUnknowns(out[i], mask[i]);
    }
  }
  return out;
}

std::string FormatMoney(double v) {
  char buf[64];
  snprintf(buf, sizeof buf, "%.2f", v);
  return buf;
}

}  // namespace

std::optional<double> HourlyCost(const std::vector<std::pair<std::string, json>>& kind_attrs,
                                 const GpuPriceFn& prices, bool* any_gpu, GpuCounts* gpus) {
  double total = 0;
  bool priced = true;
  for (const auto& [kind, attrs] : kind_attrs) {
    std::optional<GpuCostTerms> terms = GpuCostOf(kind, attrs);
    if (!terms) continue;
    if ((kind == kKindTrainingJob || kind == kKindEndpoint)) {
      const json* cluster = AtPath(attrs, {"cluster"});
      if (cluster && !cluster->is_null()) continue;  // counted by the cluster
    }
    *any_gpu = true;
    if (gpus) (*gpus)[terms->model] += static_cast<int64_t>(std::llround(terms->gpus_per_unit * terms->units));
    auto price = prices ? prices(terms->model) : std::nullopt;
    if (!price) {
      priced = false;
      continue;
    }
    total += terms->Hourly(price->first, price->second);
  }
  if (!priced) return std::nullopt;
  return std::round(total * 100) / 100;
}

void FillPlanDiagnostics(Plan* plan, const Diagnostics& diags, const SourceManager& sm,
                         const std::string& base_dir) {
  std::vector<PlanDiagnostic> out;
  for (const auto& d : diags.items()) {
    if (d.severity == Severity::kNote) continue;
    PlanDiagnostic pd;
    pd.severity = d.severity == Severity::kError ? "error" : "warning";
    pd.code = d.code;
    pd.message = d.message;
    if (d.range.valid()) {
      pd.file = PathBelow(sm.Path(d.range.begin.file_id), base_dir);
      pd.line = static_cast<int>(d.range.begin.line);
      pd.column = static_cast<int>(d.range.begin.column);
    }
    if (d.severity == Severity::kError) plan->errored = true;
    out.push_back(std::move(pd));
  }
  std::stable_sort(out.begin(), out.end(), [](const PlanDiagnostic& a, const PlanDiagnostic& b) {
    return std::tie(a.file, a.line, a.column) < std::tie(b.file, b.line, b.column);
  });
  plan->diagnostics = std::move(out);
}

json PlanToJson(const Plan& plan) {
  json j = json::object();
  j["format_version"] = "1.0";
  j["kiln_version"] = KILN_VERSION;
  j["applyable"] = !plan.errored && plan.HasChanges();
  j["errored"] = plan.errored;
  json changes = json::array();
  for (const auto& c : plan.changes) changes.push_back(ChangeJson(c));
  j["resource_changes"] = changes;
  json drift = json::array();
  for (const auto& c : plan.drift) drift.push_back(ChangeJson(c));
  j["resource_drift"] = drift;
  json outputs = json::object();
  for (const auto& [name, o] : plan.outputs) {
    // As for resources: unknown leaves are null in `after` and true in
    // `after_unknown` (false when the whole value is known).
    bool unknown = IsUnknown(o.after) || ContainsUnknown(o.after);
    json after = IsUnknown(o.after) ? json()
                 : o.sensitive && !o.after.is_null() ? json(state::kSensitivePlaceholder)
                                                     : NullUnknowns(o.after);
    outputs[name] = {{"action", ActionName(o.action)},
                     {"before", o.sensitive && !o.before.is_null() ? json(state::kSensitivePlaceholder) : o.before},
                     {"after", after},
                     {"after_unknown", unknown ? UnknownMask(o.after) : json(false)},
                     {"sensitive", o.sensitive},
                     {"duration_paths", PathsJson(o.duration_paths)},
                     {"bytes_paths", PathsJson(o.bytes_paths)}};
  }
  j["output_changes"] = outputs;
  auto s = plan.summary();
  j["summary"] = {{"add", s.add}, {"change", s.change}, {"replace", s.replace}, {"destroy", s.destroy}};
  if (plan.cost) {
    j["cost"] = {{"currency", "USD"},
                 {"before_hourly", std::stod(FormatMoney(plan.cost->before_hourly))},
                 {"after_hourly", std::stod(FormatMoney(plan.cost->after_hourly))},
                 {"delta_hourly", std::stod(FormatMoney(plan.cost->delta()))},
                 {"gpus_before", plan.cost->gpus_before},
                 {"gpus_after", plan.cost->gpus_after}};
    json resources = json::object();
    for (const auto& [address, r] : plan.cost->resources)
      resources[address] = {{"before_hourly", std::stod(FormatMoney(r.before_hourly))},
                            {"after_hourly", std::stod(FormatMoney(r.after_hourly))},
                            {"gpus_before", r.gpus_before},
                            {"gpus_after", r.gpus_after}};
    j["cost"]["resources"] = resources;
  } else {
    j["cost"] = nullptr;
  }
  json diags = json::array();
  for (const auto& d : plan.diagnostics) {
    bool located = !d.file.empty();
    diags.push_back({{"severity", d.severity}, {"code", d.code}, {"message", d.message},
                     {"file", located ? json(d.file) : json()},
                     {"line", located ? json(d.line) : json()},
                     {"column", located ? json(d.column) : json()}});
  }
  j["diagnostics"] = diags;
  return j;
}

namespace {

const char* ModeName(PlanMode m) {
  switch (m) {
    case PlanMode::kNormal: return "normal";
    case PlanMode::kDestroy: return "destroy";
    case PlanMode::kRefreshOnly: return "refresh-only";
  }
  return "normal";
}

json ResourcesJson(const std::vector<state::ResourceState>& rs) {
  state::State s;
  s.lineage = "plan";
  s.resources = rs;
  std::sort(s.resources.begin(), s.resources.end(),
            [](const auto& a, const auto& b) { return a.address < b.address; });
  json j = json::parse(state::SerializeState(s), nullptr, false);
  if (j.is_discarded() || !j.contains("resources")) return json::array();
  return j["resources"];
}

bool ResourcesFrom(const json& arr, std::vector<state::ResourceState>* out, std::string* error) {
  // Reuse the state reader: wrap the list in a minimal state document.
  state::State probe;
  probe.lineage = "plan";
  json doc = json::parse(state::SerializeState(probe), nullptr, false);
  doc["resources"] = arr;
  Diagnostics diags;
  state::State s;
  if (!state::ParseState(doc.dump(), "saved plan", "", &s, diags)) {
    *error = diags.items().empty() ? "bad resources" : diags.items()[0].message;
    return false;
  }
  *out = s.resources;
  return true;
}

}  // namespace

json SavedPlanToJson(const Plan& plan) {
  json j = PlanToJson(plan);
  json saved = json::object();
  saved["mode"] = ModeName(plan.mode);
  saved["state_existed"] = plan.state_existed;
  saved["lineage"] = plan.lineage;
  saved["serial"] = plan.serial;
  saved["config_hash"] = plan.config_hash;
  saved["variables_hash"] = plan.variables_hash;
  json actions = json::array();
  std::vector<state::ResourceState> priors;
  for (const auto& c : plan.changes) {
    json a = json::object();
    a["address"] = c.address;
    a["module"] = c.module;
    a["kind"] = c.kind;
    a["name"] = c.name;
    a["key"] = c.key;
    a["provider"] = c.provider;
    a["provider_type"] = c.provider_type;
    a["action"] = ActionName(c.action);
    a["action_reason"] = c.action_reason;
    a["before"] = c.before;
    a["after"] = c.after;  // redacted, unknown markers kept
    a["sensitive_paths"] = PathsJson(c.sensitive_paths);
    a["replace_paths"] = PathsJson(c.replace_paths);
    a["sensitive_changed"] = PathsJson(c.sensitive_changed);
    a["duration_paths"] = PathsJson(c.duration_paths);
    a["bytes_paths"] = PathsJson(c.bytes_paths);
    a["dependencies"] = c.dependencies;
    a["prior_dependencies"] = c.prior_dependencies;
    a["create_before_destroy"] = c.create_before_destroy;
    a["has_prior"] = c.prior.has_value();
    if (!c.deposed_key.empty()) {
      // Beside its current object's prior (same address), so kept inline.
      a["deposed_key"] = c.deposed_key;
      a["has_prior"] = false;
      if (c.prior) a["deposed_prior"] = state::ResourceToJson(*c.prior);
    } else if (c.prior) {
      priors.push_back(*c.prior);
    }
    actions.push_back(a);
  }
  saved["actions"] = actions;
  saved["priors"] = ResourcesJson(priors);
  saved["refreshed"] = ResourcesJson(plan.refreshed);
  saved["refreshed_gone"] = plan.refreshed_gone;
  j["saved_plan"] = saved;
  return j;
}

bool SavedPlanFromJson(const json& j, Plan* out, std::string* error) {
  if (!j.is_object() || j.value("format_version", "") != "1.0" || !j.contains("saved_plan") ||
      !j["saved_plan"].is_object()) {
    *error = "not a kiln saved plan (format_version 1.0 with saved_plan)";
    return false;
  }
  const json& s = j["saved_plan"];
  Plan p;
  std::string mode = s.value("mode", "normal");
  p.mode = mode == "destroy" ? PlanMode::kDestroy
           : mode == "refresh-only" ? PlanMode::kRefreshOnly : PlanMode::kNormal;
  p.state_existed = s.value("state_existed", false);
  p.lineage = s.value("lineage", "");
  p.serial = s.value("serial", int64_t{0});
  p.config_hash = s.value("config_hash", "");
  p.variables_hash = s.value("variables_hash", "");
  p.errored = j.value("errored", false);
  std::vector<state::ResourceState> priors;
  if (!ResourcesFrom(s.value("priors", json::array()), &priors, error)) return false;
  if (!ResourcesFrom(s.value("refreshed", json::array()), &p.refreshed, error)) return false;
  for (const auto& g : s.value("refreshed_gone", json::array()))
    if (g.is_string()) p.refreshed_gone.push_back(g.get<std::string>());
  std::map<std::string, state::ResourceState> prior_by_addr;
  for (auto& r : priors) prior_by_addr[r.address] = r;
  for (const auto& a : s.value("actions", json::array())) {
    ResourceChange c;
    c.address = a.value("address", "");
    c.module = a.value("module", "");
    c.kind = a.value("kind", "");
    c.name = a.value("name", "");
    c.key = a.value("key", json());
    c.provider = a.value("provider", "");
    c.provider_type = a.value("provider_type", "");
    auto action = ParseAction(a.value("action", ""));
    if (!action || c.address.empty()) {
      *error = "malformed action in saved plan";
      return false;
    }
    c.action = *action;
    c.action_reason = a.value("action_reason", "");
    c.before = a.value("before", json());
    c.after = a.value("after", json());
    c.sensitive_paths = PathsFrom(a.value("sensitive_paths", json::array()));
    c.replace_paths = PathsFrom(a.value("replace_paths", json::array()));
    c.sensitive_changed = PathsFrom(a.value("sensitive_changed", json::array()));
    c.duration_paths = PathsFrom(a.value("duration_paths", json::array()));
    c.bytes_paths = PathsFrom(a.value("bytes_paths", json::array()));
    c.dependencies = a.value("dependencies", std::vector<std::string>{});
    c.prior_dependencies = a.value("prior_dependencies", std::vector<std::string>{});
    c.create_before_destroy = a.value("create_before_destroy", false);
    c.deposed_key = a.value("deposed_key", "");
    if (a.contains("deposed_prior")) {
      state::ResourceState r;
      std::string problem;
      if (!state::ResourceFromJson(a["deposed_prior"], &r, &problem)) {
        *error = "saved plan has a malformed deposed object of " + c.address + ": " + problem;
        return false;
      }
      c.prior = r;
    }
    if (a.value("has_prior", false)) {
      auto it = prior_by_addr.find(c.address);
      if (it == prior_by_addr.end()) {
        *error = "saved plan lacks the prior state of " + c.address;
        return false;
      }
      c.prior = it->second;
    }
    p.changes.push_back(std::move(c));
  }
  std::stable_sort(p.changes.begin(), p.changes.end(),
                   [](const auto& a, const auto& b) { return a.address < b.address; });
  // What `kiln show FILE` renders besides the actions.
  const json output_changes = j.value("output_changes", json::object());
  for (const auto& [name, o] : output_changes.items()) {
    if (!o.is_object()) continue;
    OutputChange oc;
    oc.action = ParseAction(o.value("action", "noop")).value_or(Action::kNoop);
    oc.before = o.value("before", json());
    oc.after = WithUnknowns(o.value("after", json()), o.value("after_unknown", json(false)));
    oc.sensitive = o.value("sensitive", false);
    oc.duration_paths = PathsFrom(o.value("duration_paths", json::array()));
    oc.bytes_paths = PathsFrom(o.value("bytes_paths", json::array()));
    p.outputs[name] = std::move(oc);
  }
  // The cost the plan was made with (`kiln show FILE` prints it).
  if (j.contains("cost") && j["cost"].is_object()) {
    Cost cost;
    cost.before_hourly = j["cost"].value("before_hourly", 0.0);
    cost.after_hourly = j["cost"].value("after_hourly", 0.0);
    auto counts = [](const json& obj, const char* key) {
      GpuCounts out;
      auto it = obj.find(key);
      if (it != obj.end() && it->is_object())
        for (const auto& [model, n] : it->items())
          if (n.is_number_integer()) out[model] = n.get<int64_t>();
      return out;
    };
    cost.gpus_before = counts(j["cost"], "gpus_before");
    cost.gpus_after = counts(j["cost"], "gpus_after");
    const json resources = j["cost"].value("resources", json::object());
    for (const auto& [address, r] : resources.items()) {
      if (!r.is_object()) continue;
      Cost::Resource rc;
      rc.before_hourly = r.value("before_hourly", 0.0);
      rc.after_hourly = r.value("after_hourly", 0.0);
      rc.gpus_before = counts(r, "gpus_before");
      rc.gpus_after = counts(r, "gpus_after");
      cost.resources[address] = rc;
    }
    p.cost = cost;
  }
  const json diagnostics = j.value("diagnostics", json::array());
  for (const auto& d : diagnostics) {
    if (!d.is_object()) continue;
    PlanDiagnostic pd;
    pd.severity = d.value("severity", "");
    pd.code = d.value("code", "");
    pd.message = d.value("message", "");
    if (d.contains("file") && d["file"].is_string()) {
      pd.file = d["file"].get<std::string>();
      pd.line = d.value("line", 0);
      pd.column = d.value("column", 0);
    }
    p.diagnostics.push_back(std::move(pd));
  }
  *out = std::move(p);
  return true;
}

}  // namespace kiln::planner
