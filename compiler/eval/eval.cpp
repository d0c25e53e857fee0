#include "compiler/eval/eval.h"

#include <algorithm>
#include <cmath>
#include <deque>
#include <limits>
#include <mutex>
#include <set>
#include <unordered_map>
#include <unordered_set>

#include "compiler/eval/upload.h"
#include "compiler/syntax/parse.h"
#include "core/cost.h"
#include "core/kinds.h"

namespace kiln {

namespace {

struct ProviderRef {
  std::string address;
  std::string type;
};

using Locals = std::vector<std::pair<const std::string*, Value>>;

// One step of a resource address: `module.NAME[KEY]` or the final
// `KIND.NAME[KEY]`.
struct AddrSegment {
  bool is_module = false;
  std::string kind;  // resources: "training_job", "slurm.reservation"
  std::string name;
  bool has_key = false;
  std::string key;
};

// Splits an instance address (core/address.h) into its segments. Keys the
// compiler makes are strings: an integer key names no instance.
bool ParseAddress(const std::string& a, std::vector<AddrSegment>* out) {
  auto parsed = Address::Parse(a);
  if (!parsed || parsed->IsModule()) return false;
  auto segment = [](bool is_module, std::string kind, std::string name, const nlohmann::json& key,
                    AddrSegment* seg) {
    seg->is_module = is_module;
    seg->kind = std::move(kind);
    seg->name = std::move(name);
    seg->has_key = !key.is_null();
    if (key.is_null()) return true;
    if (!key.is_string()) return false;
    seg->key = key.get<std::string>();
    return true;
  };
  for (const auto& m : parsed->modules) {
    out->emplace_back();
    if (!segment(true, "", m.name, m.key, &out->back())) return false;
  }
  out->emplace_back();
  return segment(false, parsed->kind, parsed->name, parsed->key, &out->back());
}

// Field defaults are evaluated once and cached in the (shared) types;
// EvaluateInstance may run on several threads at once. Recursive: a
// record default may hold another record with defaults.
std::recursive_mutex& DefaultsMutex() {
  static std::recursive_mutex mu;
  return mu;
}

// One module instance being evaluated.
struct Scope {
  const ModuleInfo* mod = nullptr;
  std::string prefix;       // "module.eu[\"k\"]." or ""
  std::string module_addr;  // "module.eu[\"k\"]" or ""
  std::unordered_map<std::string, Value> values;
  std::map<std::string, ProviderRef> providers;
  std::map<std::string, Value> inputs;
  bool root_inputs = false;
  std::vector<std::string> input_deps;  // addresses the module block depends on
  std::map<std::string, Value> outputs;
  std::unordered_map<const ast::Decl*, std::vector<std::string>> addresses;  // resource/module decl -> instances
  std::unordered_map<const ast::Decl*, std::vector<std::string>> addr_deps;  // memo
  std::vector<std::string> all_addresses;
  // Instance evaluation (EvaluateInstance): the address segments left to
  // walk from this scope; null when the whole module instance is evaluated.
  const std::vector<AddrSegment>* path = nullptr;
  size_t depth = 0;
  std::unordered_set<const ast::Decl*> done;  // declarations evaluated (instance evaluation)
  const AddrSegment* Segment() const { return path && depth < path->size() ? &(*path)[depth] : nullptr; }
};

class Evaluator {
 public:
  Evaluator(const Program& p, const ResourceLookup& lookup, Diagnostics& diags, ConfigGraph* graph)
      : p_(p), lookup_(lookup), diags_(diags), graph_(graph) {}

  // Keep the value of every declaration, referenced or not (an expression
  // evaluated afterwards in the root scope may read any of them).
  void KeepAllValues() { keep_all_values_ = true; }
  // Evaluate only what the instance at the end of the scope's path needs.
  void InstanceMode() { instance_mode_ = true; }
  // After type errors: every declaration, attribute or clause whose source
  // holds an error (`poisoned`, sorted) is unknown, so that the checks that
  // need values (placement, cost, ranges) still run on the rest.
  void RecoveryMode(const std::vector<SourceRange>* poisoned) { poisoned_ = poisoned; }

  void RunModule(Scope& s);
  Value Eval(const ast::Expr* e, Scope& s, Locals& locals);
  void Finish();
  // The instances built (unsorted, before Finish).
  std::deque<ResourceInstance>& pending() { return pending_; }

 private:
  Value Error(const SourceRange& range, const std::string& message, const std::string& help = "") {
    Diagnostic& d = diags_.Error("E0436", range, message);
    d.help = help;
    return Value::Unknown();
  }
  void EvalDecl(const ast::Decl* d, Scope& s);
  void EvalResource(const ast::ResourceDecl* d, Scope& s);
  void EvalModule(const ast::ModuleDecl* d, Scope& s);
  void EvalAssert(const ast::AssertDecl* d, Scope& s);
  void EvalProvider(const ast::ProviderDecl* d, Scope& s);
  // Instance keys of a `for`, or {""} for none / `if` true, {} for `if` false.
  bool Expand(const ast::ForClause* f, const ast::Expr* if_cond, Scope& s, const std::string& what,
              std::vector<std::pair<std::string, std::vector<Value>>>* instances);
  // Evaluates one instance's body: fills *ri when not null (the
  // ConfigGraph's view) and *value when not null (what others read).
  void BuildInstance(const ast::ResourceDecl* d, const Type& schema, Scope& s, Locals& locals,
                     const std::string& address, const std::string& key, const ProviderRef& provider,
                     const std::vector<std::string>& deps, ResourceInstance* ri, Value* value);
  // Instance evaluation: `d` and everything it refers to, dependencies first.
  void EvalClosure(const ast::Decl* d, Scope& s);
  bool Poisoned(const SourceRange& r) const {
    if (!poisoned_) return false;
    for (const SourceRange& p : *poisoned_) {
      if (p.begin.file_id == r.begin.file_id && p.begin.offset >= r.begin.offset && p.begin.offset < r.end.offset) return true;
    }
    return false;
  }
  bool Poisoned(const ast::Expr* e) const { return e && Poisoned(e->range); }
  // Errors of arithmetic that leaves the 64-bit range (E0448).
  Value Overflow(const SourceRange& range, const std::string& what) {
    Diagnostic& d = diags_.Error("E0448", range, what);
    d.help = "integers, durations (in ms) and sizes (in bytes) are 64-bit; floats must stay finite";
    return Value::Unknown();
  }
  // Fields marked `positive` / `nonnegative` in the kind schemas (E0447).
  void CheckBounds(const Field& f, const Value& v, const SourceRange& range, const std::string& owner,
                   const std::string& path);
  bool KeepValue(const ast::Decl* d, const Scope& s) const {
    return keep_all_values_ || s.mod->referenced.count(d) > 0;
  }
  bool OnPath(const ast::Decl* d, const Scope& s) const {
    const AddrSegment* seg = s.Segment();
    return seg && s.mod->FindName(seg->name) == d;
  }
  bool SelectProvider(const ast::ResourceDecl* d, Scope& s, ProviderRef* out);
  // `gpu` given as alternatives: config["gpu"] = the choice and
  // config["gpu_choice"] = { alternatives, chosen, policy, reason, hourly }.
  void ChooseGpu(const Value& alternatives, const SourceRange& range, const std::string& owner, ValueMap& config);
  // `workdir` / `files`: config["upload"] = { hash, files } (upload.h).
  void AddUpload(const ast::ResourceDecl* d, Scope& s, ValueMap& config);
  // Addresses of the resource instances `d` refers to (through lets,
  // inputs and modules), sorted and unique.
  std::vector<std::string> AddrDeps(const ast::Decl* d, Scope& s);
  Value BinaryOp(const ast::BinaryExpr* b, const Value& l, const Value& r);
  // A float result, or E0448 when it is not finite.
  Value FloatResult(const ast::BinaryExpr* b, double f);
  // A quantity scaled by a float, or E0448 when it leaves 64 bits.
  Value ScaledQuantity(const ast::BinaryExpr* b, const Value& q, double n);
  Value Coerce(const Value& v, const TypeRef& t, const SourceRange& range, const std::string& what);
  void CheckPlacement();

  const Program& p_;
  const ResourceLookup& lookup_;
  Diagnostics& diags_;
  ConfigGraph* graph_;
  std::set<std::string> providers_used_;
  bool keep_all_values_ = false;
  bool instance_mode_ = false;
  const std::vector<SourceRange>* poisoned_ = nullptr;
  std::map<std::string, Value> uploads_;  // by module dir, workdir, excludes and files
  // Instances built, with their declarations (for placement messages);
  // sorted into graph_->resources by Finish.
  std::deque<ResourceInstance> pending_;  // a deque: growing never moves instances
  std::vector<const ast::ResourceDecl*> pending_decls_;
  std::vector<const ast::ResourceDecl*> resource_decls_;  // parallel to graph_->resources
};

// ---------------------------------------------------------------- modules

void Evaluator::RunModule(Scope& s) {
  const AddrSegment* seg = s.Segment();
  if (!seg) {
    for (const ast::Decl* d : s.mod->order) EvalDecl(d, s);
    return;
  }
  // Instance evaluation: the providers (implicit selection looks at all of
  // them), then the declaration on the path with what it refers to.
  for (const ast::Decl* p : s.mod->providers) EvalClosure(p, s);
  const ast::Decl* d = s.mod->FindName(seg->name);
  if (!d) return;
  if (seg->is_module ? d->kind != ast::DeclKind::kModule : d->kind != ast::DeclKind::kResource) return;
  if (!seg->is_module && static_cast<const ast::ResourceDecl*>(d)->FullKind() != seg->kind) return;
  EvalClosure(d, s);
}

void Evaluator::EvalClosure(const ast::Decl* root, Scope& s) {
  if (s.done.count(root)) return;
  // Iterative post-order DFS over the direct references.
  std::vector<std::pair<const ast::Decl*, size_t>> stack;
  std::unordered_set<const ast::Decl*> on_stack;
  stack.push_back({root, 0});
  on_stack.insert(root);
  while (!stack.empty()) {
    auto& [d, next] = stack.back();
    auto deps = s.mod->deps.find(d);
    if (deps != s.mod->deps.end() && next < deps->second.size()) {
      const ast::Decl* t = deps->second[next++].target;
      if (!s.done.count(t) && !on_stack.count(t)) {
        on_stack.insert(t);
        stack.push_back({t, 0});
      }
      continue;
    }
    const ast::Decl* finished = d;
    stack.pop_back();
    on_stack.erase(finished);
    s.done.insert(finished);
    EvalDecl(finished, s);
  }
}

void Evaluator::EvalDecl(const ast::Decl* d, Scope& s) {
  Locals locals;
  switch (d->kind) {
    case ast::DeclKind::kInput: {
      const auto* in = static_cast<const ast::InputDecl*>(d);
      auto tt = s.mod->input_types.find(d);
      TypeRef t = tt == s.mod->input_types.end() ? AnyType() : tt->second;
      Value v;
      auto it = s.inputs.find(d->name);
      if (it != s.inputs.end()) {
        v = it->second;
      } else if (poisoned_ && (!in->default_value || Poisoned(d->range))) {
        v = Value::Unknown();  // recovery: command-line values are not read
      } else if (in->default_value) {
        v = Coerce(Eval(in->default_value.get(), s, locals), t, in->default_value->range,
                   "the default of input `" + d->name + "`");
      } else {
        Diagnostic& e = diags_.Error("E0431", d->name_range, "input `" + d->name + "` is required but not set");
        e.help = s.root_inputs ? "set it with --var " + d->name + "=VALUE, in a --var-file, or with KILN_VAR_" + d->name
                               : "pass `" + d->name + " = ...` in the module block";
        v = Value::Unknown();
      }
      if (in->sensitive) v = v.WithSensitive();
      s.values[d->name] = v;
      break;
    }
    case ast::DeclKind::kLet: {
      const auto* let = static_cast<const ast::LetDecl*>(d);
      if (Poisoned(d->range)) {
        s.values[d->name] = Value::Unknown();
        break;
      }
      Value v = Eval(let->value.get(), s, locals);
      if (let->type) v = Coerce(v, s.mod->decl_types.at(d), let->value->range, "`" + d->name + "`");
      s.values[d->name] = v;
      break;
    }
    case ast::DeclKind::kOutput: {
      const auto* out = static_cast<const ast::OutputDecl*>(d);
      if (poisoned_) break;
      Value v = Eval(out->value.get(), s, locals);
      if (out->type) v = Coerce(v, s.mod->output_types.at(d), out->value->range, "output `" + d->name + "`");
      if (out->sensitive) v = v.WithSensitive();
      s.outputs[d->name] = v;
      if (s.mod->is_root && graph_) {
        OutputValue ov;
        ov.value = ToJson(v);
        ov.sensitive = out->sensitive || v.ContainsSensitive();
        std::vector<std::string> prefix;
        CollectQuantityPaths(v, prefix, &ov.duration_paths, &ov.bytes_paths);
        graph_->outputs[d->name] = std::move(ov);
      }
      break;
    }
    case ast::DeclKind::kAssert:
      if (!poisoned_) EvalAssert(static_cast<const ast::AssertDecl*>(d), s);
      break;
    case ast::DeclKind::kProvider:
      EvalProvider(static_cast<const ast::ProviderDecl*>(d), s);
      break;
    case ast::DeclKind::kModule:
      EvalModule(static_cast<const ast::ModuleDecl*>(d), s);
      break;
    case ast::DeclKind::kResource:
      EvalResource(static_cast<const ast::ResourceDecl*>(d), s);
      break;
    case ast::DeclKind::kBackend: {
      const auto* b = static_cast<const ast::BackendDecl*>(d);
      if (!s.mod->is_root || !graph_) break;
      graph_->backend.type = b->type_name;
      graph_->backend.config = nlohmann::json::object();
      if (b->body) {
        for (const auto& item : b->body->items) {
          graph_->backend.config[item.key] = ToJson(Eval(item.value.get(), s, locals));
        }
      }
      break;
    }
    case ast::DeclKind::kType:
      break;
  }
}

void Evaluator::EvalAssert(const ast::AssertDecl* d, Scope& s) {
  Locals locals;
  Value c = Eval(d->cond.get(), s, locals);
  if (!c.IsWhollyKnown() || c.kind() != ValueKind::kBool || c.AsBool()) return;
  std::string message = "assertion failed";
  if (d->message) {
    Value m = Eval(d->message.get(), s, locals);
    if (m.kind() == ValueKind::kString) message = m.sensitive() ? "(sensitive)" : m.AsString();
  }
  Diagnostic& e = diags_.Error("E0433", d->cond->range, message);
  e.label = "this condition is false";
  // The values of the names in the condition.
  std::set<std::string> seen;
  std::function<void(const ast::Expr*)> walk = [&](const ast::Expr* x) {
    if (!x) return;
    switch (x->kind) {
      case ast::ExprKind::kName: {
        const auto* n = static_cast<const ast::NameExpr*>(x);
        if (!seen.insert(n->name).second) return;
        auto it = s.values.find(n->name);
        if (it == s.values.end()) return;
        std::string text = it->second.sensitive() ? "(sensitive)"
                         : it->second.kind() == ValueKind::kString ? "\"" + it->second.AsString() + "\""
                                                                   : DisplayString(it->second);
        e.notes.push_back(n->name + " = " + text);
        return;
      }
      case ast::ExprKind::kGetAttr: walk(static_cast<const ast::GetAttrExpr*>(x)->object.get()); return;
      case ast::ExprKind::kIndex:
        walk(static_cast<const ast::IndexExpr*>(x)->object.get());
        walk(static_cast<const ast::IndexExpr*>(x)->index.get());
        return;
      case ast::ExprKind::kCall:
        for (const auto& a : static_cast<const ast::CallExpr*>(x)->args) walk(a.get());
        return;
      case ast::ExprKind::kUnary: walk(static_cast<const ast::UnaryExpr*>(x)->operand.get()); return;
      case ast::ExprKind::kBinary:
        walk(static_cast<const ast::BinaryExpr*>(x)->lhs.get());
        walk(static_cast<const ast::BinaryExpr*>(x)->rhs.get());
        return;
      case ast::ExprKind::kConditional: {
        const auto* c2 = static_cast<const ast::ConditionalExpr*>(x);
        walk(c2->cond.get());
        walk(c2->then_expr.get());
        walk(c2->else_expr.get());
        return;
      }
      case ast::ExprKind::kTemplate:
        for (const auto& part : static_cast<const ast::TemplateExpr*>(x)->parts) walk(part.expr.get());
        return;
      case ast::ExprKind::kList:
        for (const auto& i : static_cast<const ast::ListExpr*>(x)->items) walk(i.get());
        return;
      default:
        return;
    }
  };
  walk(d->cond.get());
}

void Evaluator::EvalProvider(const ast::ProviderDecl* d, Scope& s) {
  Locals locals;
  ProviderInstance pi;
  pi.type = d->type_name;
  pi.name = d->name;
  pi.address = s.prefix + "provider." + d->type_name + "." + d->name;
  pi.range = d->range;
  ValueMap config;
  const ProviderSchema* schema = d->type_name == kDefaultProviderType ? nullptr : p_.SchemaFor(d->type_name);
  if (d->body) {
    for (const auto& item : d->body->items) {
      Value v = Eval(item.value.get(), s, locals);
      if (schema) {
        auto f = schema->config.find(item.key);
        if (f != schema->config.end() && f->second.sensitive) v = v.WithSensitive();
      }
      config[item.key] = v;
    }
  }
  Value cv = Value::Map(std::move(config));
  pi.config = ToJson(cv);
  std::vector<std::string> prefix;
  CollectSensitivePaths(cv, prefix, &pi.sensitive_paths);
  s.providers[d->name] = {pi.address, pi.type};
  s.values[d->name] = Value::String(pi.address);
  if (graph_) graph_->providers.push_back(std::move(pi));
}

bool Evaluator::Expand(const ast::ForClause* f, const ast::Expr* if_cond, Scope& s, const std::string& what,
                       std::vector<std::pair<std::string, std::vector<Value>>>* instances) {
  Locals locals;
  if (if_cond) {
    Value c = Eval(if_cond, s, locals);
    if (!c.IsWhollyKnown()) {
      Diagnostic& e = diags_.Error("E0434", if_cond->range, "the `if` condition of " + what + " is not known until apply");
      e.label = "`" + SourceText(*p_.sm, if_cond->range) + "` depends on a value computed by a provider";
      e.help = "apply its dependencies first with `kiln apply --target ADDR`, or use a value known at plan time";
      return false;
    }
    if (c.kind() != ValueKind::kBool || !c.AsBool()) return true;
  }
  if (!f) {
    instances->push_back({"", {}});
    return true;
  }
  Value coll = Eval(f->collection.get(), s, locals);
  if (coll.is_unknown() || (coll.kind() == ValueKind::kMap && false)) {
    Diagnostic& e = diags_.Error("E0434", f->collection->range, "the `for` collection of " + what + " is not known until apply");
    e.label = "`" + SourceText(*p_.sm, f->collection->range) + "` depends on a value computed by a provider";
    e.help = "apply its dependencies first with `kiln apply --target ADDR`, or use a value known at plan time";
    return false;
  }
  std::set<std::string> keys;
  if (coll.kind() == ValueKind::kList) {
    const auto& items = coll.AsList();
    for (size_t i = 0; i < items.size(); ++i) {
      const Value& v = items[i];
      if (v.is_unknown()) {
        Diagnostic& e = diags_.Error("E0434", f->collection->range, "element " + std::to_string(i) + " of the `for` collection of " + what + " is not known until apply");
        e.help = "instance keys must be known at plan time; apply its dependencies first with `kiln apply --target ADDR`";
        return false;
      }
      auto scalar = [](const Value& x) {
        return x.kind() == ValueKind::kString || x.kind() == ValueKind::kInt || x.kind() == ValueKind::kFloat;
      };
      // A row of scalars (`for cfg in product(lrs, batch_sizes)`) is keyed
      // by its elements joined with "/": sweep["0.0001/16"].
      bool row = v.kind() == ValueKind::kList && !v.AsList().empty() &&
                 std::all_of(v.AsList().begin(), v.AsList().end(), scalar);
      if (!scalar(v) && !row) {
        diags_.Error("E0435", f->collection->range, "the `for` list of " + what + " holds " + ValueKindName(v.kind()) +
                                                        " values; instance keys must be strings or numbers (or lists of them)")
            .help = "iterate a map instead: `for k, v in { key = value }`";
        return false;
      }
      std::string key;
      if (row) {
        for (const Value& x : v.AsList()) key += (key.empty() ? "" : "/") + DisplayString(x);
      } else {
        key = DisplayString(v);
      }
      if (!keys.insert(key).second) {
        diags_.Error("E0435", f->collection->range, "duplicate instance key \"" + key + "\" in the `for` of " + what)
            .help = "every element must give a different key; use distinct() to drop duplicates";
        return false;
      }
      std::vector<Value> vars;
      if (!f->key_var.empty()) vars.push_back(Value::Int(static_cast<int64_t>(i)));
      vars.push_back(v);
      instances->push_back({key, std::move(vars)});
    }
    return true;
  }
  if (coll.kind() == ValueKind::kMap || coll.kind() == ValueKind::kResource) {
    for (const auto& [k, v] : coll.AsMap()) {
      std::vector<Value> vars;
      if (!f->key_var.empty()) vars.push_back(Value::String(k));
      vars.push_back(v);
      instances->push_back({k, std::move(vars)});
    }
    return true;
  }
  Error(f->collection->range, std::string("`for` needs a list or a map, found ") + ValueKindName(coll.kind()));
  return false;
}

std::vector<std::string> Evaluator::AddrDeps(const ast::Decl* d, Scope& s) {
  std::vector<std::string> out;
  auto deps = s.mod->deps.find(d);
  if (deps != s.mod->deps.end()) {
    for (const DeclRef& r : deps->second) {
      if (r.target == d) continue;
      if (r.target->kind == ast::DeclKind::kResource || r.target->kind == ast::DeclKind::kModule) {
        auto a = s.addresses.find(r.target);
        if (a != s.addresses.end()) out.insert(out.end(), a->second.begin(), a->second.end());
      } else if (r.target->kind == ast::DeclKind::kInput) {
        out.insert(out.end(), s.input_deps.begin(), s.input_deps.end());
      } else if (r.target->kind == ast::DeclKind::kLet) {
        // Lets are shared by many declarations: memoised.
        auto it = s.addr_deps.find(r.target);
        if (it == s.addr_deps.end()) {
          s.addr_deps[r.target];  // guards against cycles (already reported by the checker)
          std::vector<std::string> sub = AddrDeps(r.target, s);
          it = s.addr_deps.insert_or_assign(r.target, std::move(sub)).first;
        }
        out.insert(out.end(), it->second.begin(), it->second.end());
      }
    }
  }
  std::sort(out.begin(), out.end());
  out.erase(std::unique(out.begin(), out.end()), out.end());
  return out;
}

bool Evaluator::SelectProvider(const ast::ResourceDecl* d, Scope& s, ProviderRef* out) {
  const ast::ObjectItem* explicit_item = d->body ? d->body->Find("provider") : nullptr;
  if (explicit_item) {
    const auto* n = ast::As<ast::NameExpr>(explicit_item->value.get());
    auto it = n ? s.providers.find(n->name) : s.providers.end();
    if (it == s.providers.end()) {
      diags_.Error("E0419", explicit_item->value->range, "`" + SourceText(*p_.sm, explicit_item->value->range) + "` is not a configured provider here")
          .help = "declare it with `provider TYPE NAME { ... }` or pass it in the module's `providers = { ... }`";
      return false;
    }
    if (!d->provider_type.empty() && it->second.type != d->provider_type) {
      diags_.Error("E0419", explicit_item->value->range, "provider `" + n->name + "` is of type " + it->second.type +
                                                             ", which cannot manage " + d->FullKind());
      return false;
    }
    if (d->provider_type.empty() && it->second.type != kDefaultProviderType) {
      const ProviderSchema* schema = p_.SchemaFor(it->second.type);
      if (schema && !schema->kinds.count(d->kind_name)) {
        diags_.Error("E0419", explicit_item->value->range, "provider `" + n->name + "` (" + it->second.type +
                                                               ") does not support " + d->kind_name);
        return false;
      }
    }
    *out = it->second;
    return true;
  }
  std::map<std::string, ProviderRef> candidates;
  for (const auto& [name, ref] : s.providers) {
    if (!d->provider_type.empty()) {
      if (ref.type == d->provider_type) candidates[ref.address] = ref;
      continue;
    }
    if (ref.type == kDefaultProviderType) {
      candidates[ref.address] = ref;
      continue;
    }
    const ProviderSchema* schema = p_.SchemaFor(ref.type);
    if (schema && schema->kinds.count(d->kind_name)) candidates[ref.address] = ref;
  }
  if (candidates.size() == 1) {
    *out = candidates.begin()->second;
    return true;
  }
  if (candidates.empty()) {
    if (d->provider_type.empty()) {
      *out = {std::string("provider.") + kDefaultProviderType, kDefaultProviderType};
    } else {
      *out = {"provider." + d->provider_type, d->provider_type};
    }
    return true;
  }
  std::string list;
  for (const auto& [addr, ref] : candidates) list += (list.empty() ? "" : ", ") + addr;
  diags_.Error("E0419", d->kind_range, "several providers could manage " + d->FullKind() + " `" + d->name + "`: " + list)
      .help = "choose one with `provider = NAME` in the resource";
  return false;
}

void Evaluator::EvalResource(const ast::ResourceDecl* d, Scope& s) {
  auto kt = s.mod->kind_of.find(d);
  if (kt == s.mod->kind_of.end() || kt->second->kind != TypeKind::kKind || !kt->second->schema) return;
  const Type& schema = *kt->second->schema;
  ProviderRef provider;
  if (!SelectProvider(d, s, &provider)) return;
  std::string what = d->FullKind() + " `" + d->name + "`";
  std::vector<std::pair<std::string, std::vector<Value>>> instances;
  bool keep = KeepValue(d, s);
  // Instance addresses are read by the dependencies of declarations that
  // refer to this one, and by a module's parent (all_addresses).
  std::vector<std::string> scratch;
  auto& addrs = keep ? s.addresses[d] : scratch;
  if ((d->for_clause && Poisoned(d->for_clause->range)) || Poisoned(d->if_cond.get())) {
    if (keep) s.values[d->name] = Value::Unknown();
    return;
  }
  if (!Expand(d->for_clause.get(), d->if_cond.get(), s, what, &instances)) {
    if (keep) s.values[d->name] = Value::Unknown();
    return;
  }
  // Instance evaluation: of this declaration only the instance on the path
  // (and it alone becomes a ResourceInstance); others are evaluated for
  // their values.
  const AddrSegment* target = instance_mode_ && OnPath(d, s) ? s.Segment() : nullptr;
  bool build = !instance_mode_ || target;
  std::vector<std::string> deps;
  if (build && graph_) deps = AddrDeps(d, s);
  std::string base = s.prefix + d->FullKind() + "." + d->name;
  ValueMap by_key;
  Value single;
  for (auto& [key, vars] : instances) {
    if (target && (target->has_key != (d->for_clause != nullptr) || target->key != key)) continue;
    Locals locals;
    if (d->for_clause) {
      size_t i = 0;
      if (!d->for_clause->key_var.empty()) locals.push_back({&d->for_clause->key_var, vars[i++]});
      locals.push_back({&d->for_clause->value_var, vars[i]});
    }
    std::string address = d->for_clause ? base + KeySuffix(key) : base;
    Value value;
    ResourceInstance ri;
    BuildInstance(d, schema, s, locals, address, key, provider, deps, build && graph_ ? &ri : nullptr,
                  keep ? &value : nullptr);
    if (keep) {
      if (d->for_clause) by_key.emplace_hint(by_key.end(), key, std::move(value));
      else single = std::move(value);
    }
    if (build && graph_) {
      pending_.push_back(std::move(ri));
      pending_decls_.push_back(d);
    }
    if (!s.module_addr.empty()) s.all_addresses.push_back(address);
    if (keep) addrs.push_back(std::move(address));
  }
  providers_used_.insert(provider.address);
  if (!keep) return;
  s.values[d->name] = d->for_clause ? Value::Map(std::move(by_key)) : std::move(single);
}

void Evaluator::BuildInstance(const ast::ResourceDecl* d, const Type& schema, Scope& s, Locals& locals,
                              const std::string& address, const std::string& key, const ProviderRef& provider,
                              const std::vector<std::string>& deps, ResourceInstance* ri, Value* value) {
  std::string kind = d->FullKind();
  if (ri) {
    ri->address = address;
    ri->module = s.module_addr;
    ri->kind = kind;
    ri->name = d->name;
    ri->key = d->for_clause ? nlohmann::json(key) : nlohmann::json();
    ri->provider = provider.address;
    ri->provider_type = provider.type;
    ri->range = d->range;
  }
  ValueMap config;
  Value gpu_alternatives;  // `gpu` as alternatives: chosen once the rest is known
  const ast::ObjectItem* gpu_item = nullptr;
  if (d->body) {
    for (const auto& item : d->body->items) {
      if (item.key == "provider") continue;
      if (item.key == "depends_on") continue;  // static: already in AddrDeps
      if (item.key == "lifecycle") {
        if (!ri) continue;  // only the ConfigGraph view has a lifecycle
        const auto* obj = ast::As<ast::ObjectExpr>(item.value.get());
        if (!obj) continue;
        for (const auto& li : obj->items) {
          if (li.key == "prevent_destroy" || li.key == "create_before_destroy") {
            Value v = Eval(li.value.get(), s, locals);
            if (!v.IsWhollyKnown()) {
              diags_.Error("E0434", li.value->range, "lifecycle `" + li.key + "` must be known at plan time");
              continue;
            }
            if (li.key == "prevent_destroy") ri->lifecycle.prevent_destroy = v.AsBool();
            else ri->lifecycle.create_before_destroy = v.AsBool();
          } else if (li.key == "ignore_changes") {
            if (const auto* l = ast::As<ast::ListExpr>(li.value.get())) {
              for (const auto& e : l->items) {
                if (const auto* n = ast::As<ast::NameExpr>(e.get())) ri->lifecycle.ignore_changes.push_back({n->name});
                else if (const auto* t = ast::As<ast::TemplateExpr>(e.get())) ri->lifecycle.ignore_changes.push_back({t->LiteralText()});
              }
            }
          } else if (li.key == "replace_triggered_by") {
            if (const auto* l = ast::As<ast::ListExpr>(li.value.get())) {
              for (const auto& e : l->items) {
                // The address of the referenced resource, plus the attribute if any.
                const ast::Expr* x = e.get();
                std::string attr;
                if (const auto* g = ast::As<ast::GetAttrExpr>(x)) {
                  attr = g->name;
                  x = g->object.get();
                }
                Value v = Eval(x, s, locals);
                if (v.kind() == ValueKind::kResource) {
                  ri->lifecycle.replace_triggered_by.push_back(v.AsResource().address + (attr.empty() ? "" : "." + attr));
                } else {
                  Value whole = Eval(e.get(), s, locals);
                  if (whole.kind() == ValueKind::kResource) {
                    ri->lifecycle.replace_triggered_by.push_back(whole.AsResource().address);
                  } else if (whole.kind() == ValueKind::kMap && attr.empty()) {
                    // A for-expanded resource as a whole (`sweep`): its address
                    // without the key, which the planner matches against
                    // every instance.
                    for (const auto& [k, inst] : whole.AsMap()) {
                      if (inst.kind() != ValueKind::kResource) continue;
                      const std::string& a = inst.AsResource().address;
                      auto br = a.rfind('[');
                      if (br != std::string::npos) ri->lifecycle.replace_triggered_by.push_back(a.substr(0, br));
                      break;
                    }
                  }
                }
              }
            }
          }
        }
        continue;
      }
      if (Poisoned(item.range)) {
        config[item.key] = Value::Unknown();
        continue;
      }
      Value v = Eval(item.value.get(), s, locals);
      const Field* f = schema.FindField(item.key);
      // null for an optional field (`canary?`) means the field is absent.
      if (f && f->optional && v.is_null()) continue;
      if (f) {
        v = Coerce(v, f->type, item.value->range, "attribute `" + item.key + "` of " + kind);
        if (f->sensitive) v = v.WithSensitive();
        if (f->bound != Bound::kNone || f->type->bounded) CheckBounds(*f, v, item.value->range, kind + " `" + d->name + "`", item.key);
        if (NonOptional(f->type)->kind == TypeKind::kGpu &&
            (v.kind() == ValueKind::kList || v.kind() == ValueKind::kMap ||
             (v.kind() == ValueKind::kGpu && (v.AsGpu().count_max > 0 || v.AsGpu().memory_max > 0)))) {
          gpu_alternatives = std::move(v);
          gpu_item = &item;
          continue;
        }
      }
      config[item.key] = std::move(v);
    }
  }
  for (const Field& f : schema.fields) {
    if (f.computed || !f.default_expr) continue;
    auto at = config.lower_bound(f.name);
    if (at != config.end() && at->first == f.name) continue;
    {
      Value dv;
      {
        std::lock_guard<std::recursive_mutex> lock(DefaultsMutex());
        if (!f.default_value) {
          Scope empty;
          empty.mod = p_.prelude;
          Locals none;
          f.default_value = Coerce(Eval(f.default_expr, empty, none), f.type, f.default_expr->range, "the default of `" + f.name + "`");
        }
        dv = *f.default_value;
      }
      config.emplace_hint(at, f.name, f.sensitive ? dv.WithSensitive() : dv);
    }
  }
  if (gpu_item) ChooseGpu(gpu_alternatives, gpu_item->value->range, kind + " `" + d->name + "`", config);
  if (ri && d->provider_type.empty() && (config.count("workdir") || config.count("files"))) AddUpload(d, s, config);
  if (ri) {
    ri->depends_on.reserve(deps.size());
    for (const std::string& a : deps) {
      if (a != address) ri->depends_on.push_back(a);
    }
    ri->config = MapToJson(config);
    std::vector<std::string> prefix;
    for (const auto& [k, v] : config) {
      prefix.assign(1, k);
      CollectSensitivePaths(v, prefix, &ri->sensitive_paths);
      CollectQuantityPaths(v, prefix, &ri->duration_paths, &ri->bytes_paths);
    }
  }
  if (!value) return;
  // The value others read: configuration plus computed attributes.
  const nlohmann::json* state = lookup_ ? lookup_(address) : nullptr;
  for (const Field& f : schema.fields) {
    // `upload` and `gpu_choice` are computed by kiln (here), not the
    // provider: present when they apply, else absent.
    if (!f.computed || config.count(f.name) || f.name == "upload" || f.name == "gpu_choice") continue;
    Value v = Value::Unknown();
    if (state && state->is_object()) {
      auto it = state->find(f.name);
      if (it == state->end()) {
        v = Value();
      } else {
        std::string err;
        if (!CoerceValue(p_, FromJson(*it), f.type, true, &v, &err)) v = FromJson(*it);
      }
    }
    if (f.sensitive) v = v.WithSensitive();
    config[f.name] = std::move(v);
  }
  *value = Value::Resource({address, std::move(kind), std::move(config)});
}

void Evaluator::ChooseGpu(const Value& alternatives, const SourceRange& range, const std::string& owner,
                          ValueMap& config) {
  // Three shapes: an ordered list (the first alternative that fits wins),
  // `{ any_of = [...] }` (the cheapest that fits) and one request with a
  // range (`"H100:1..4"`, `{ memory = 24GiB..80GiB }`: the cheapest in it
  // that fits). A ranged alternative inside a list stands for its cheapest
  // fitting member.
  bool single = alternatives.kind() == ValueKind::kGpu;
  bool cheapest = alternatives.kind() == ValueKind::kMap;
  ValueList one;
  if (single) one.push_back(alternatives);
  const ValueList& alts = single ? one : cheapest ? alternatives.AsMap().at("any_of").AsList() : alternatives.AsList();
  if (!alternatives.IsWhollyKnown()) {
    config["gpu"] = Value::Unknown();
    return;
  }
  auto get = [&](const char* k) {
    auto it = config.find(k);
    return it == config.end() ? Value() : it->second;
  };
  Value spot = get("spot");
  bool use_spot = (spot.kind() == ValueKind::kBool && spot.AsBool()) || (spot.kind() == ValueKind::kString && spot.AsString() == "prefer");
  // The cluster's GPU, when the resource runs on one.
  Value cluster = get("cluster");
  const GpuRequest* cg = nullptr;
  std::string cluster_name;
  if (cluster.kind() == ValueKind::kResource) {
    auto it = cluster.AsResource().attrs.find("gpu");
    if (it != cluster.AsResource().attrs.end() && it->second.kind() == ValueKind::kGpu) cg = &it->second.AsGpu();
    cluster_name = cluster.AsResource().address;
  }
  auto model_of = [&](const GpuRequest& g) -> const GpuModelInfo* {
    return g.model.empty() ? p_.catalog.SmallestWithMemory(g.memory) : p_.catalog.Find(g.model);
  };
  auto fits = [&](const GpuRequest& g, std::string* why) {
    if (cluster.is_null() || cluster.is_unknown()) return true;
    if (!cg) {
      *why = cluster_name + " has no GPUs";
      return false;
    }
    const GpuModelInfo* cm = p_.catalog.Find(cg->model);
    bool model_ok = g.model.empty() ? cm && cm->memory >= g.memory : g.model == cg->model;
    if (!model_ok || g.count > cg->count) {
      *why = cluster_name + " has " + FormatGpu(*cg);
      return false;
    }
    return true;
  };
  auto price_of = [&](const GpuRequest& g) {
    const GpuModelInfo* m = model_of(g);
    return m ? (use_spot ? m->spot_hourly : m->on_demand_hourly) * static_cast<double>(g.count) : 0;
  };
  // The concrete requests a (possibly ranged) request stands for, cheapest
  // first: each model in a memory range, at the smallest count (a count
  // that fits means every smaller one fits, and fewer GPUs cost less).
  auto members = [&](const GpuRequest& g) {
    std::vector<GpuRequest> out;
    if (g.memory_max > 0) {
      for (const GpuModelInfo* m : p_.catalog.ModelsWithMemory(g.memory, g.memory_max)) {
        GpuRequest c;
        c.model = m->name;
        c.count = g.count;
        out.push_back(c);
      }
      std::stable_sort(out.begin(), out.end(),
                       [&](const GpuRequest& a, const GpuRequest& b) { return price_of(a) < price_of(b); });
    } else {
      GpuRequest c = g;
      c.count_max = 0;
      out.push_back(c);
    }
    return out;
  };
  ValueList shown;
  std::string reasons;
  int chosen = -1;
  GpuRequest chosen_gpu;
  double chosen_price = 0;
  // Every fitting member in the order of preference (ordered: alternative by
  // alternative, each cheapest first; otherwise by price), for the planner
  // to pick again against a provider's live inventory.
  struct Candidate {
    GpuRequest gpu;
    double price;
  };
  std::vector<Candidate> candidates;
  for (const Value& a : alts) shown.push_back(Value::String(FormatGpu(a.AsGpu())));
  for (size_t i = 0; i < alts.size(); ++i) {
    const GpuRequest& g = alts[i].AsGpu();
    bool fitted = false;
    std::string why;
    for (const GpuRequest& c : members(g)) {
      if (!fits(c, &why)) continue;
      double price = price_of(c);
      candidates.push_back({c, price});
      if (fitted) continue;  // members are cheapest first
      fitted = true;
      if (chosen < 0 || (cheapest && price < chosen_price)) {
        chosen = static_cast<int>(i);
        chosen_gpu = c;
        chosen_price = price;
      }
    }
    // Ordered: the reasons of those before the chosen one only.
    if (!fitted && (cheapest || chosen < 0)) reasons += (reasons.empty() ? "" : "; ") + FormatGpu(g) + " does not fit (" + why + ")";
  }
  if (cheapest || single) {
    std::stable_sort(candidates.begin(), candidates.end(),
                     [](const Candidate& a, const Candidate& b) { return a.price < b.price; });
  }
  if (chosen < 0) {
    Diagnostic& e = diags_.Error("E0440", range, owner + (single ? ": no GPU in the range fits: " : ": none of the GPU alternatives fits: ") + reasons);
    e.help = "add an alternative the cluster has, or run on another cluster";
    config["gpu"] = Value::Unknown();
    return;
  }
  const GpuRequest& g = alts[chosen].AsGpu();
  bool ranged = g.count_max > 0 || g.memory_max > 0;
  std::string reason = single    ? "the cheapest in " + FormatGpu(g) + " that fits"
                       : cheapest ? "the cheapest of " + std::to_string(alts.size()) + " that fits"
                       : chosen == 0 ? "the first alternative" + std::string(cluster_name.empty() ? "" : ", and it fits")
                                     : "the first that fits";
  if (!cluster_name.empty()) reason += " " + cluster_name;
  if (ranged && !single) reason += ", the cheapest in " + FormatGpu(g);
  if (!reasons.empty()) reason += " (" + reasons + ")";
  config["gpu"] = Value::Gpu(chosen_gpu);
  ValueList listed;
  for (const Candidate& c : candidates) {
    listed.push_back(Value::Map({{"model", Value::String(c.gpu.model)},
                                 {"count", Value::Int(c.gpu.count)},
                                 {"hourly", Value::Float(std::round(c.price * 100) / 100)}}));
  }
  config["gpu_choice"] = Value::Map({{"alternatives", Value::List(std::move(shown))},
                                     {"candidates", Value::List(std::move(listed))},
                                     {"chosen", Value::String(FormatGpu(chosen_gpu))},
                                     {"policy", Value::String(single ? "range" : cheapest ? "any_of" : "ordered")},
                                     {"reason", Value::String(reason)},
                                     {"hourly", Value::Float(std::round(chosen_price * 100) / 100)}});
}

void Evaluator::AddUpload(const ast::ResourceDecl* d, Scope& s, ValueMap& config) {
  auto get = [&](const char* k) {
    auto it = config.find(k);
    return it == config.end() ? Value() : it->second;
  };
  Value workdir = get("workdir"), excludes = get("workdir_exclude"), files = get("files");
  if (!workdir.IsWhollyKnown() || !excludes.IsWhollyKnown() || !files.IsWhollyKnown()) {
    config["upload"] = Value::Unknown();
    return;
  }
  std::vector<std::string> patterns;
  for (const Value& p : excludes.AsList()) patterns.push_back(p.AsString());
  std::map<std::string, std::string> file_map;
  for (const auto& [dest, src] : files.AsMap()) file_map[dest] = src.AsString();
  std::string key = s.mod->module.dir + '\0' + workdir.AsString() + '\0' + ToJson(excludes).dump() + '\0' + ToJson(files).dump();
  auto cached = uploads_.find(key);
  if (cached == uploads_.end()) {
    UploadManifest m;
    std::string error;
    Value v = Value::Unknown();
    if (!BuildUploadManifest(s.mod->module.dir, workdir.AsString(), patterns, file_map, &m, &error)) {
      const ast::ObjectItem* at = d->body ? d->body->Find(workdir.is_null() ? "files" : "workdir") : nullptr;
      Error(at ? at->value->range : d->name_range, error, "paths are relative to the module's directory");
    } else {
      ValueMap hashes;
      for (auto& [name, h] : m.files) hashes.emplace_hint(hashes.end(), name, Value::String(h));
      v = Value::Map({{"files", Value::Map(std::move(hashes))}, {"hash", Value::String(m.hash)}});
    }
    cached = uploads_.emplace(key, v).first;
  }
  config["upload"] = cached->second;
}

void Evaluator::EvalModule(const ast::ModuleDecl* d, Scope& s) {
  auto ci = s.mod->children.find(d);
  if (ci == s.mod->children.end()) return;
  const ModuleInfo* child = ci->second;
  std::vector<std::pair<std::string, std::vector<Value>>> instances;
  auto& addrs = s.addresses[d];
  bool keep = KeepValue(d, s);
  if ((d->for_clause && Poisoned(d->for_clause->range)) || Poisoned(d->if_cond.get())) {
    if (keep) s.values[d->name] = Value::Unknown();
    return;
  }
  if (!Expand(d->for_clause.get(), d->if_cond.get(), s, "module `" + d->name + "`", &instances)) {
    if (keep) s.values[d->name] = Value::Unknown();
    return;
  }
  // Instance evaluation: only the module instance on the path, and in it
  // only what the instance needs.
  const AddrSegment* target = instance_mode_ && OnPath(d, s) ? s.Segment() : nullptr;
  std::map<std::string, const ast::InputDecl*> inputs;
  for (const ast::Decl* cd : child->module.decls) {
    if (const auto* in = ast::As<ast::InputDecl>(cd)) inputs[in->name] = in;
  }
  ValueMap by_key;
  Value single;
  std::vector<std::string> input_deps = AddrDeps(d, s);
  for (auto& [key, vars] : instances) {
    if (target && (target->has_key != (d->for_clause != nullptr) || target->key != key)) continue;
    Locals locals;
    if (d->for_clause) {
      size_t i = 0;
      if (!d->for_clause->key_var.empty()) locals.push_back({&d->for_clause->key_var, vars[i++]});
      locals.push_back({&d->for_clause->value_var, vars[i]});
    }
    Scope cs;
    cs.mod = child;
    if (target) {
      cs.path = s.path;
      cs.depth = s.depth + 1;
    }
    cs.module_addr = s.prefix + "module." + d->name + (d->for_clause ? KeySuffix(key) : "");
    cs.prefix = cs.module_addr + ".";
    cs.providers = s.providers;
    cs.input_deps = input_deps;
    for (const auto& item : d->body->items) {
      if (item.key == "source") continue;
      if (item.key == "providers") {
        if (const auto* obj = ast::As<ast::ObjectExpr>(item.value.get())) {
          for (const auto& pi : obj->items) {
            const auto* n = ast::As<ast::NameExpr>(pi.value.get());
            auto it = n ? s.providers.find(n->name) : s.providers.end();
            if (it != s.providers.end()) cs.providers[pi.key] = it->second;
            else Error(pi.value->range, "`" + SourceText(*p_.sm, pi.value->range) + "` is not a provider here");
          }
        }
        continue;
      }
      auto in = inputs.find(item.key);
      if (in == inputs.end()) continue;
      if (Poisoned(item.range)) {
        cs.inputs[item.key] = Value::Unknown();
        continue;
      }
      Value v = Eval(item.value.get(), s, locals);
      auto tt = child->input_types.find(in->second);
      if (tt != child->input_types.end()) {
        v = Coerce(v, tt->second, item.value->range, "input `" + item.key + "` of module `" + d->name + "`");
      }
      cs.inputs[item.key] = v;
    }
    RunModule(cs);
    if (!s.module_addr.empty()) s.all_addresses.insert(s.all_addresses.end(), cs.all_addresses.begin(), cs.all_addresses.end());
    addrs.insert(addrs.end(), std::make_move_iterator(cs.all_addresses.begin()), std::make_move_iterator(cs.all_addresses.end()));
    if (!keep) continue;
    Value mv = Value::Map(ValueMap(cs.outputs.begin(), cs.outputs.end()));
    if (d->for_clause) by_key[key] = std::move(mv);
    else single = std::move(mv);
  }
  if (keep) s.values[d->name] = d->for_clause ? Value::Map(std::move(by_key)) : std::move(single);
}

// ---------------------------------------------------------------- expressions

Value Propagate(Value v, bool sensitive) { return sensitive ? v.WithSensitive() : v; }

Value Evaluator::Eval(const ast::Expr* e, Scope& s, Locals& locals) {
  if (!e) return Value();
  switch (e->kind) {
    case ast::ExprKind::kNull:
      return Value();
    case ast::ExprKind::kBool:
      return Value::Bool(static_cast<const ast::BoolExpr*>(e)->value);
    case ast::ExprKind::kInt:
      return Value::Int(static_cast<const ast::IntExpr*>(e)->value);
    case ast::ExprKind::kFloat:
      return Value::Float(static_cast<const ast::FloatExpr*>(e)->value);
    case ast::ExprKind::kQuantity: {
      const auto* q = static_cast<const ast::QuantityExpr*>(e);
      int64_t scale = ast::UnitScale(q->unit);
      int64_t n = q->is_integer ? q->int_value * scale : std::llround(q->value * static_cast<double>(scale));
      return ast::IsDurationUnit(q->unit) ? Value::Duration(n) : Value::Bytes(n);
    }
    case ast::ExprKind::kTemplate: {
      const auto* t = static_cast<const ast::TemplateExpr*>(e);
      if (t->IsLiteral()) return Value::String(t->LiteralText());
      std::string out;
      bool sensitive = false, unknown = false;
      for (const auto& part : t->parts) {
        if (!part.expr) {
          out += part.text;
          continue;
        }
        Value v = Eval(part.expr.get(), s, locals);
        sensitive |= v.ContainsSensitive();
        if (!v.IsWhollyKnown()) {
          unknown = true;
          continue;
        }
        if (v.is_null()) {
          Error(part.expr->range, "cannot interpolate null into a string", "use a default: `${x != null ? x : \"\"}`");
          unknown = true;
          continue;
        }
        out += DisplayString(v);
      }
      return Propagate(unknown ? Value::Unknown() : Value::String(std::move(out)), sensitive);
    }
    case ast::ExprKind::kName: {
      const std::string& name = static_cast<const ast::NameExpr*>(e)->name;
      for (auto it = locals.rbegin(); it != locals.rend(); ++it) {
        if (*it->first == name) return it->second;
      }
      auto it = s.values.find(name);
      if (it != s.values.end()) return it->second;
      return Value::Unknown();  // its declaration failed; already reported
    }
    case ast::ExprKind::kGetAttr: {
      const auto* g = static_cast<const ast::GetAttrExpr*>(e);
      Value obj = Eval(g->object.get(), s, locals);
      if (obj.is_unknown()) return obj;
      bool sens = obj.sensitive();
      switch (obj.kind()) {
        case ValueKind::kResource:
        case ValueKind::kMap: {
          const ValueMap& m = obj.AsMap();
          auto it = m.find(g->name);
          if (it != m.end()) return Propagate(it->second, sens);
          if (obj.kind() == ValueKind::kResource) return Value();
          return Error(g->name_range.valid() ? g->name_range : e->range, "no key `" + g->name + "` in `" + SourceText(*p_.sm, g->object->range) + "`");
        }
        case ValueKind::kGpu:
          if (g->name == "model") return Propagate(Value::String(obj.AsGpu().model), sens);
          if (g->name == "count") return Propagate(Value::Int(obj.AsGpu().count), sens);
          if (g->name == "memory") {
            int64_t mem = obj.AsGpu().memory;
            if (const GpuModelInfo* m = p_.catalog.Find(obj.AsGpu().model)) mem = m->memory;
            return Propagate(Value::Bytes(mem), sens);
          }
          break;
        case ValueKind::kRange: {
          auto end = [&](int64_t n) { return obj.RangeOf() == ValueKind::kBytes ? Value::Bytes(n) : Value::Int(n); };
          if (g->name == "min") return Propagate(end(obj.RangeMin()), sens);
          // An open-ended range (`8..`) has no maximum: null.
          if (g->name == "max") return obj.RangeOpen() ? Value() : Propagate(end(obj.RangeMax()), sens);
          break;
        }
        case ValueKind::kNull:
          return Error(e->range, "cannot read `" + g->name + "` of null (`" + SourceText(*p_.sm, g->object->range) + "` is null)",
                       "check for null first: `x != null ? x." + g->name + " : ...`");
        default:
          break;
      }
      return Error(e->range, std::string("a ") + ValueKindName(obj.kind()) + " has no attribute `" + g->name + "`");
    }
    case ast::ExprKind::kIndex: {
      const auto* ix = static_cast<const ast::IndexExpr*>(e);
      Value obj = Eval(ix->object.get(), s, locals);
      Value idx = Eval(ix->index.get(), s, locals);
      if (obj.is_unknown() || idx.is_unknown()) return Propagate(Value::Unknown(), obj.sensitive() || idx.sensitive());
      bool sens = obj.sensitive() || idx.sensitive();
      if (obj.kind() == ValueKind::kList) {
        if (idx.kind() != ValueKind::kInt) return Error(ix->index->range, "a list index must be an int");
        const auto& items = obj.AsList();
        if (idx.AsInt() < 0 || idx.AsInt() >= static_cast<int64_t>(items.size())) {
          return Error(ix->index->range, "index " + std::to_string(idx.AsInt()) + " is out of range for a list of " +
                                             std::to_string(items.size()) + " elements");
        }
        return Propagate(items[idx.AsInt()], sens);
      }
      if (obj.kind() == ValueKind::kMap || obj.kind() == ValueKind::kResource) {
        std::string key = DisplayString(idx);
        const auto& m = obj.AsMap();
        auto it = m.find(key);
        if (it == m.end()) {
          std::vector<std::string> keys;
          for (const auto& [k, v] : m) keys.push_back(k);
          std::string hint = ClosestMatch(key, keys);
          return Error(ix->index->range, "no key \"" + key + "\" in `" + SourceText(*p_.sm, ix->object->range) + "`",
                       hint.empty() ? "" : "did you mean \"" + hint + "\"?");
        }
        return Propagate(it->second, sens);
      }
      return Error(e->range, std::string("cannot index a ") + ValueKindName(obj.kind()));
    }
    case ast::ExprKind::kCall: {
      const auto* c = static_cast<const ast::CallExpr*>(e);
      std::vector<Value> args;
      args.reserve(c->args.size());
      bool sens = false;
      for (const auto& a : c->args) {
        args.push_back(Eval(a.get(), s, locals));
        sens |= args.back().ContainsSensitive();
      }
      BuiltinContext ctx;
      ctx.catalog = &p_.catalog;
      ctx.module_dir = s.mod->module.dir;
      Value out;
      std::string error;
      if (!CallBuiltin(c->callee, args, ctx, &out, &error)) {
        return Error(e->range, "`" + c->callee + "`: " + error);
      }
      return Propagate(out, sens);
    }
    case ast::ExprKind::kUnary: {
      const auto* u = static_cast<const ast::UnaryExpr*>(e);
      Value v = Eval(u->operand.get(), s, locals);
      if (v.is_unknown()) return v;
      Value r;
      bool integral = v.kind() == ValueKind::kInt || v.kind() == ValueKind::kDuration || v.kind() == ValueKind::kBytes;
      if (u->op == ast::UnaryOp::kNeg && integral && v.AsInt() == std::numeric_limits<int64_t>::min()) {
        return Overflow(e->range, "integer overflow: -(" + DisplayString(v) + ") does not fit in 64 bits");
      }
      if (u->op == ast::UnaryOp::kOpenRange) {
        if (v.kind() != ValueKind::kInt && v.kind() != ValueKind::kBytes) {
          return Error(e->range, std::string("an open-ended range needs an int or bytes minimum, found a ") + ValueKindName(v.kind()));
        }
        return Propagate(Value::OpenRange(v.AsInt(), v.kind()), v.sensitive());
      }
      if (u->op == ast::UnaryOp::kNot) r = Value::Bool(!v.AsBool());
      else if (v.kind() == ValueKind::kInt) r = Value::Int(-v.AsInt());
      else if (v.kind() == ValueKind::kFloat) r = Value::Float(-v.AsNumber());
      else if (v.kind() == ValueKind::kDuration) r = Value::Duration(-v.Quantity());
      else if (v.kind() == ValueKind::kBytes) r = Value::Bytes(-v.Quantity());
      else return Error(e->range, std::string("cannot negate a ") + ValueKindName(v.kind()));
      return Propagate(r, v.sensitive());
    }
    case ast::ExprKind::kBinary: {
      const auto* b = static_cast<const ast::BinaryExpr*>(e);
      Value l = Eval(b->lhs.get(), s, locals);
      // && and || short-circuit on known values.
      if (b->op == ast::BinaryOp::kAnd && l.kind() == ValueKind::kBool && !l.AsBool()) return l;
      if (b->op == ast::BinaryOp::kOr && l.kind() == ValueKind::kBool && l.AsBool()) return l;
      Value r = Eval(b->rhs.get(), s, locals);
      bool sens = l.ContainsSensitive() || r.ContainsSensitive();
      if (b->op == ast::BinaryOp::kEq || b->op == ast::BinaryOp::kNe) {
        if (!l.IsWhollyKnown() || !r.IsWhollyKnown()) return Propagate(Value::Unknown(), sens);
        bool eq = l.Equals(r);
        return Propagate(Value::Bool(b->op == ast::BinaryOp::kEq ? eq : !eq), sens);
      }
      if (l.is_unknown() || r.is_unknown()) return Propagate(Value::Unknown(), sens);
      return Propagate(BinaryOp(b, l, r), sens);
    }
    case ast::ExprKind::kConditional: {
      const auto* c = static_cast<const ast::ConditionalExpr*>(e);
      Value cond = Eval(c->cond.get(), s, locals);
      if (cond.is_unknown()) return cond;
      Value v = cond.AsBool() ? Eval(c->then_expr.get(), s, locals) : Eval(c->else_expr.get(), s, locals);
      return Propagate(v, cond.sensitive());
    }
    case ast::ExprKind::kList: {
      const auto* l = static_cast<const ast::ListExpr*>(e);
      ValueList items;
      items.reserve(l->items.size());
      for (const auto& item : l->items) items.push_back(Eval(item.get(), s, locals));
      return Value::List(std::move(items));
    }
    case ast::ExprKind::kObject: {
      const auto* o = static_cast<const ast::ObjectExpr*>(e);
      ValueMap items;
      for (const auto& item : o->items) items[item.key] = Eval(item.value.get(), s, locals);
      return Value::Map(std::move(items));
    }
    case ast::ExprKind::kFor: {
      const auto* f = static_cast<const ast::ForExpr*>(e);
      Value coll = Eval(f->collection.get(), s, locals);
      if (coll.is_unknown()) return coll;
      std::vector<std::pair<Value, Value>> entries;
      if (coll.kind() == ValueKind::kList) {
        const auto& items = coll.AsList();
        for (size_t i = 0; i < items.size(); ++i) entries.push_back({Value::Int(static_cast<int64_t>(i)), items[i]});
      } else if (coll.kind() == ValueKind::kMap || coll.kind() == ValueKind::kResource) {
        for (const auto& [k, v] : coll.AsMap()) entries.push_back({Value::String(k), v});
      } else if (!coll.is_null()) {
        return Error(f->collection->range, std::string("`for` needs a list or a map, found ") + ValueKindName(coll.kind()));
      }
      ValueList list;
      ValueMap map;
      bool unknown = false;
      for (auto& [k, v] : entries) {
        size_t depth = locals.size();
        if (!f->key_var.empty()) locals.push_back({&f->key_var, k});
        locals.push_back({&f->value_var, v});
        bool keep = true;
        if (f->cond) {
          Value c = Eval(f->cond.get(), s, locals);
          if (c.is_unknown()) unknown = true;
          keep = c.kind() == ValueKind::kBool && c.AsBool();
        }
        if (keep) {
          if (f->is_map) {
            Value key = Eval(f->key.get(), s, locals);
            if (key.is_unknown()) {
              unknown = true;
            } else {
              std::string ks = DisplayString(key);
              if (map.count(ks)) {
                locals.resize(depth);
                return Error(f->key->range, "duplicate key \"" + ks + "\" in a `for` map",
                             "make the keys unique, or build a list instead");
              }
              map[ks] = Eval(f->value.get(), s, locals);
            }
          } else {
            list.push_back(Eval(f->value.get(), s, locals));
          }
        }
        locals.resize(depth);
      }
      if (unknown) return Value::Unknown();
      return f->is_map ? Value::Map(std::move(map)) : Value::List(std::move(list));
    }
  }
  return Value();
}

Value Evaluator::BinaryOp(const ast::BinaryExpr* b, const Value& l, const Value& r) {
  using ast::BinaryOp;
  auto qty = [](const Value& v) { return v.kind() == ValueKind::kDuration || v.kind() == ValueKind::kBytes; };
  auto make_qty = [](ValueKind k, int64_t n) { return k == ValueKind::kDuration ? Value::Duration(n) : Value::Bytes(n); };
  bool both_int = l.kind() == ValueKind::kInt && r.kind() == ValueKind::kInt;
  bool both_num = l.IsNumber() && r.IsNumber();
  auto bad = [&]() {
    return Error(b->op_range, std::string("cannot apply `") + ast::BinaryOpText(b->op) + "` to " + ValueKindName(l.kind()) +
                                  " and " + ValueKindName(r.kind()));
  };
  switch (b->op) {
    case BinaryOp::kAnd:
      return Value::Bool(l.AsBool() && r.AsBool());
    case BinaryOp::kOr:
      return Value::Bool(l.AsBool() || r.AsBool());
    case BinaryOp::kLt:
    case BinaryOp::kLe:
    case BinaryOp::kGt:
    case BinaryOp::kGe: {
      int cmp;
      if (both_int || (qty(l) && l.kind() == r.kind())) {
        cmp = l.AsInt() < r.AsInt() ? -1 : l.AsInt() > r.AsInt() ? 1 : 0;
      } else if (both_num) {
        cmp = l.AsNumber() < r.AsNumber() ? -1 : l.AsNumber() > r.AsNumber() ? 1 : 0;
      } else if (l.kind() == ValueKind::kString && r.kind() == ValueKind::kString) {
        int c = l.AsString().compare(r.AsString());
        cmp = c < 0 ? -1 : c > 0 ? 1 : 0;
      } else {
        return bad();
      }
      bool res = b->op == BinaryOp::kLt ? cmp < 0 : b->op == BinaryOp::kLe ? cmp <= 0 : b->op == BinaryOp::kGt ? cmp > 0 : cmp >= 0;
      return Value::Bool(res);
    }
    case BinaryOp::kRange: {
      bool both_bytes = l.kind() == ValueKind::kBytes && r.kind() == ValueKind::kBytes;
      if (!both_int && !both_bytes) return bad();
      if (l.AsInt() > r.AsInt()) {
        Diagnostic& d = diags_.Error("E0444", b->range, "the range " + DisplayString(l) + ".." + DisplayString(r) + " is empty: its minimum is above its maximum");
        d.help = "write a range as MIN..MAX with MIN <= MAX";
        return Value::Unknown();
      }
      return Value::Range(l.AsInt(), r.AsInt(), l.kind());
    }
    case BinaryOp::kAdd:
      if (l.kind() == ValueKind::kString && r.kind() == ValueKind::kString) return Value::String(l.AsString() + r.AsString());
      [[fallthrough]];
    case BinaryOp::kSub: {
      bool add = b->op == BinaryOp::kAdd;
      bool same_qty = qty(l) && l.kind() == r.kind();
      if (both_int || same_qty) {
        int64_t n;
        if (add ? __builtin_add_overflow(l.AsInt(), r.AsInt(), &n) : __builtin_sub_overflow(l.AsInt(), r.AsInt(), &n)) {
          return Overflow(b->range, std::string(add ? "integer overflow: " : "integer overflow: ") + DisplayString(l) +
                                        (add ? " + " : " - ") + DisplayString(r) + " does not fit in 64 bits");
        }
        return both_int ? Value::Int(n) : make_qty(l.kind(), n);
      }
      if (both_num) return FloatResult(b, add ? l.AsNumber() + r.AsNumber() : l.AsNumber() - r.AsNumber());
      return bad();
    }
    case BinaryOp::kMul: {
      if (both_int) {
        int64_t n;
        if (__builtin_mul_overflow(l.AsInt(), r.AsInt(), &n)) {
          return Overflow(b->range, "integer overflow: " + DisplayString(l) + " * " + DisplayString(r) + " does not fit in 64 bits");
        }
        return Value::Int(n);
      }
      if (both_num) return FloatResult(b, l.AsNumber() * r.AsNumber());
      const Value* q = qty(l) && r.IsNumber() ? &l : qty(r) && l.IsNumber() ? &r : nullptr;
      if (!q) return bad();
      const Value& k = q == &l ? r : l;
      int64_t n;
      if (k.kind() == ValueKind::kInt) {
        if (__builtin_mul_overflow(q->Quantity(), k.AsInt(), &n)) {
          return Overflow(b->range, DisplayString(l) + " * " + DisplayString(r) + (q->kind() == ValueKind::kDuration ? " is too long" : " is too large") +
                                        " for 64-bit " + (q->kind() == ValueKind::kDuration ? "milliseconds" : "bytes"));
        }
        return make_qty(q->kind(), n);
      }
      return ScaledQuantity(b, *q, static_cast<double>(q->Quantity()) * k.AsNumber());
    }
    case BinaryOp::kDiv:
      if (both_num) {
        if (r.AsNumber() == 0) return Error(b->op_range, "division by zero");
        return FloatResult(b, l.AsNumber() / r.AsNumber());
      }
      if (qty(l) && r.IsNumber()) {
        if (r.AsNumber() == 0) return Error(b->op_range, "division by zero");
        return ScaledQuantity(b, l, static_cast<double>(l.Quantity()) / r.AsNumber());
      }
      if (qty(l) && l.kind() == r.kind()) {
        if (r.Quantity() == 0) return Error(b->op_range, "division by zero");
        return Value::Float(static_cast<double>(l.Quantity()) / static_cast<double>(r.Quantity()));
      }
      return bad();
    case BinaryOp::kMod:
      if (!both_int) return bad();
      if (r.AsInt() == 0) return Error(b->op_range, "division by zero");
      if (r.AsInt() == -1) return Value::Int(0);  // INT64_MIN % -1 traps
      return Value::Int(l.AsInt() % r.AsInt());
    default:
      return bad();
  }
}

Value Evaluator::FloatResult(const ast::BinaryExpr* b, double f) {
  if (std::isfinite(f)) return Value::Float(f);
  return Overflow(b->range, "float overflow: " + SourceText(*p_.sm, b->range) + " is too large for a 64-bit float");
}

Value Evaluator::ScaledQuantity(const ast::BinaryExpr* b, const Value& q, double n) {
  bool duration = q.kind() == ValueKind::kDuration;
  if (!std::isfinite(n) || std::fabs(n) >= 9.2e18) {
    return Overflow(b->range, SourceText(*p_.sm, b->range) + (duration ? " is too long for 64-bit milliseconds" : " is too large for 64-bit bytes"));
  }
  int64_t v = std::llround(n);
  return duration ? Value::Duration(v) : Value::Bytes(v);
}

void Evaluator::CheckBounds(const Field& f, const Value& v, const SourceRange& range, const std::string& owner,
                            const std::string& path) {
  if (!v.IsWhollyKnown() || v.is_null()) return;
  if (f.bound != Bound::kNone) {
    bool is_float = v.kind() == ValueKind::kFloat;
    bool integral = v.kind() == ValueKind::kInt || v.kind() == ValueKind::kDuration || v.kind() == ValueKind::kBytes;
    double n = is_float ? v.AsNumber() : integral ? static_cast<double>(v.AsInt()) : v.kind() == ValueKind::kRange ? static_cast<double>(v.RangeMin()) : 0;
    bool checked = is_float || integral || v.kind() == ValueKind::kRange;
    bool bad = checked && (f.bound == Bound::kPositive ? n <= 0 : n < 0);
    if (bad) {
      std::string shown = DisplayString(v);
      if (v.sensitive()) shown = "(sensitive)";
      Diagnostic& d = diags_.Error("E0447", range, owner + " has `" + path + "` = " + shown + ", which " +
                                                      (f.bound == Bound::kPositive ? "must be above zero" : "must not be negative"));
      d.label = f.bound == Bound::kPositive ? "must be positive" : "must be 0 or more";
      d.help = f.bound == Bound::kPositive ? "give `" + path + "` a value above zero, or leave it out for the default"
                                           : "give `" + path + "` a value of zero or more, or leave it out for the default";
    }
  }
  TypeRef t = NonOptional(f.type);
  if (!t->bounded || t->kind != TypeKind::kRecord || v.kind() != ValueKind::kMap) return;
  const ValueMap& m = v.AsMap();
  for (const Field& sub : t->fields) {
    if (sub.bound == Bound::kNone && !sub.type->bounded) continue;
    auto it = m.find(sub.name);
    if (it != m.end()) CheckBounds(sub, it->second, range, owner, path + "." + sub.name);
  }
}

Value Evaluator::Coerce(const Value& v, const TypeRef& t, const SourceRange& range, const std::string& what) {
  Value out;
  std::string error;
  if (CoerceValue(p_, v, t, false, &out, &error)) return out;
  Diagnostic& d = diags_.Error("E0403", range, "mismatched types: " + what + ": " + error);
  d.label = error;
  return Value::Unknown();
}

// ---------------------------------------------------------------- placement

void Evaluator::CheckPlacement() {
  if (!graph_) return;
  auto item_range = [&](const ResourceInstance& r, const char* key) {
    size_t i = static_cast<size_t>(&r - graph_->resources.data());
    if (i >= resource_decls_.size()) return SourceRange{};
    const ast::ResourceDecl* d = resource_decls_[i];
    if (d->body) {
      if (const ast::ObjectItem* item = d->body->Find(key)) return item->range;
    }
    return d->name_range;
  };
  auto label = [](const ResourceInstance& r) {
    std::string n = r.name;
    if (!r.key.is_null()) n += "[\"" + r.key.get<std::string>() + "\"]";
    return r.kind + " `" + n + "`";
  };
  auto gpu_text = [&](const nlohmann::json& g) {
    int64_t count = g.value("count", int64_t{1});
    if (g.contains("model")) return std::to_string(count) + " x " + g["model"].get<std::string>();
    return std::to_string(count) + " x " + FormatBytes(g.value("memory", int64_t{0})) + " GPU";
  };
  // Jobs and endpoints name their cluster: a small index of the clusters
  // instead of a binary search over every instance per job (a cache miss
  // per step at 1,000,000 instances).
  std::unordered_map<std::string_view, const ResourceInstance*> clusters;
  for (const ResourceInstance& r : graph_->resources)
    if (r.kind == "cluster") clusters.emplace(r.address, &r);
  for (const ResourceInstance& r : graph_->resources) {
    const nlohmann::json& c = r.config;
    if (r.kind == kKindEndpoint) {
      if (c.contains("canary") && c["canary"].is_object() && c["canary"].contains("weight") && c["canary"]["weight"].is_number_integer()) {
        int64_t w = c["canary"]["weight"].get<int64_t>();
        if (w < 0 || w > 100) {
          diags_.Error("E0443", item_range(r, "canary"), label(r) + " has canary weight " + std::to_string(w) + ", which is outside 0..100")
              .help = "the canary weight is the percentage of traffic sent to the canary model";
        }
      }
      if (c.contains("replicas") && c["replicas"].is_object() && c["replicas"].contains("min")) {
        int64_t mn = c["replicas"]["min"].get<int64_t>(), mx = c["replicas"]["max"].get<int64_t>();
        if (mn < 0 || mn > mx) {
          diags_.Error("E0444", item_range(r, "replicas"), label(r) + " has replicas " + std::to_string(mn) + ".." + std::to_string(mx) +
                                                                        (mn < 0 ? ": the minimum is negative" : ": the minimum is above the maximum"))
              .help = "write replicas as MIN..MAX with 0 <= MIN <= MAX";
        }
      }
    }
    if (r.kind == kKindCluster) {
      if (c.contains("nodes") && c["nodes"].is_object() && c["nodes"].contains("min")) {
        int64_t mn = c["nodes"]["min"].get<int64_t>(), mx = c["nodes"]["max"].get<int64_t>();
        if (mn < 0 || mn > mx) {
          diags_.Error("E0444", item_range(r, "nodes"), label(r) + " has nodes " + std::to_string(mn) + ".." + std::to_string(mx) + ": the range is empty or negative");
        }
      }
      // The one cost model (core/cost.h), as the plan's cost line.
      std::optional<GpuCostTerms> terms = GpuCostOf(r.kind, c);
      const GpuModelInfo* m = terms ? p_.catalog.Find(terms->model) : nullptr;
      if (c.contains("max_hourly_cost") && c["max_hourly_cost"].is_number() && m) {
        bool spot = terms->spot_units() > 0;
        double price = spot ? m->spot_hourly : m->on_demand_hourly;
        double cost = terms->Hourly(m->on_demand_hourly, m->spot_hourly);
        double limit = c["max_hourly_cost"].get<double>();
        if (cost > limit + 1e-9) {
          auto nodes = static_cast<long long>(terms->units);
          char buf[256];
          std::snprintf(buf, sizeof(buf), "%s may cost $%.2f/h (%lld node%s x %lld x %s at $%.2f/GPU-hour %s), above its max_hourly_cost of $%.2f/h",
                        label(r).c_str(), cost, nodes, nodes == 1 ? "" : "s",
                        static_cast<long long>(terms->gpus_per_unit), m->name.c_str(), price,
                        spot ? "spot" : "on demand", limit);
          diags_.Error("E0445", item_range(r, "max_hourly_cost"), buf)
              .help = "lower nodes or the GPU count, use spot = true, or raise max_hourly_cost";
        }
      }
    }
    if (r.kind != kKindTrainingJob && r.kind != kKindEndpoint) continue;
    if (!c.contains("cluster") || !c["cluster"].is_string()) continue;
    const std::string& cluster = c["cluster"].get_ref<const std::string&>();
    auto known = clusters.find(cluster);
    const ResourceInstance* cl = known != clusters.end() ? known->second : graph_->Find(cluster);
    if (!cl) continue;
    const nlohmann::json& cc = cl->config;
    // Messages are built only for errors (this runs for every instance).
    auto cl_label_of = [&]() { return label(*cl); };
    if (c.contains("gpu") && c["gpu"].is_object()) {
      const nlohmann::json& g = c["gpu"];
      if (!cc.contains("gpu") || !cc["gpu"].is_object()) {
        diags_.Error("E0440", item_range(r, "gpu"), label(r) + " asks for " + gpu_text(g) + " per node; " + cl_label_of() + " has no GPUs")
            .help = "give the cluster a `gpu`, or choose a GPU cluster";
      } else {
        const nlohmann::json& cg = cc["gpu"];
        auto need = [&]() { return label(r) + " asks for " + gpu_text(g) + " per node; " + cl_label_of() + " has " + gpu_text(cg); };
        bool model_ok = true;
        if (g.contains("model") && cg.contains("model")) {
          model_ok = g["model"] == cg["model"];
        } else if (g.contains("memory") && cg.contains("model")) {
          const GpuModelInfo* m = p_.catalog.Find(cg["model"].get<std::string>());
          model_ok = !m || m->memory >= g["memory"].get<int64_t>();
        }
        if (!model_ok) {
          diags_.Error("E0440", item_range(r, "gpu"), need()).help = "use the cluster's GPU model, or run on a cluster that has this one";
        } else if (g.value("count", int64_t{1}) > cg.value("count", int64_t{1})) {
          diags_.Error("E0441", item_range(r, "gpu"), need()).help = "ask for at most " + std::to_string(cg.value("count", int64_t{1})) + " GPUs per node";
        }
      }
    }
    if (r.kind == kKindTrainingJob && c.contains("nodes") && c["nodes"].is_number_integer() && cc.contains("nodes") && cc["nodes"].is_object()) {
      int64_t n = c["nodes"].get<int64_t>();
      int64_t mn = cc["nodes"].value("min", int64_t{1}), mx = cc["nodes"].value("max", int64_t{1});
      if (n > mx || n < 1) {
        diags_.Error("E0442", item_range(r, "nodes"), label(r) + " asks for " + std::to_string(n) + " nodes; " + cl_label_of() +
                                                                     " has " + (mn == mx ? std::to_string(mx) : std::to_string(mn) + ".." + std::to_string(mx)) + " nodes")
            .help = "lower nodes, or let the cluster grow: nodes = " + std::to_string(mn) + ".." + std::to_string(n);
      }
    }
  }
}

void Evaluator::Finish() {
  if (!graph_) return;
  // Sort indices, then move each instance once (instances are large).
  // The keys sit in one contiguous array beside their index: comparing
  // through the deque touched two scattered instances per comparison, which
  // made this sort grow faster than N log N once they left the cache.
  std::vector<std::pair<std::string_view, size_t>> keys(pending_.size());
  for (size_t i = 0; i < keys.size(); ++i) keys[i] = {pending_[i].address, i};
  std::sort(keys.begin(), keys.end());
  graph_->resources.reserve(graph_->resources.size() + keys.size());
  resource_decls_.reserve(keys.size());
  for (const auto& [address, i] : keys) {
    graph_->resources.push_back(std::move(pending_[i]));
    resource_decls_.push_back(pending_decls_[i]);
  }
  pending_.clear();
  pending_decls_.clear();
  std::set<std::string> declared;
  for (const auto& pi : graph_->providers) declared.insert(pi.address);
  for (const std::string& addr : providers_used_) {
    if (declared.count(addr)) continue;
    ProviderInstance pi;
    pi.address = addr;
    pi.type = addr.substr(addr.rfind('.') + 1);
    pi.name = "";
    pi.config = nlohmann::json::object();
    graph_->providers.push_back(std::move(pi));
  }
  std::sort(graph_->providers.begin(), graph_->providers.end(),
            [](const ProviderInstance& a, const ProviderInstance& b) { return a.address < b.address; });
  CheckPlacement();
}

}  // namespace

// ---------------------------------------------------------------- coercion

bool CoerceValue(const Program& program, const Value& in, const TypeRef& type, bool from_json,
                 Value* out, std::string* error) {
  const Type& t = *type;
  bool sens = in.sensitive();
  auto done = [&](Value v) {
    *out = sens ? v.WithSensitive() : v;
    return true;
  };
  auto fail = [&](const std::string& msg) {
    *error = msg;
    return false;
  };
  auto found = [&]() -> std::string {
    if (in.sensitive()) return std::string("a ") + ValueKindName(in.kind());
    if (in.kind() == ValueKind::kString) return "\"" + in.AsString() + "\"";
    if (in.kind() == ValueKind::kList || in.kind() == ValueKind::kMap) return ValueKindName(in.kind());
    if (in.kind() == ValueKind::kRange && in.RangeOf() == ValueKind::kBytes) return "range<bytes> " + DisplayString(in);
    return std::string(ValueKindName(in.kind())) + " " + DisplayString(in);
  };
  if (in.is_unknown() || t.kind == TypeKind::kAny) return done(in);
  if (in.is_null()) {
    if (t.kind == TypeKind::kOptional || t.kind == TypeKind::kNull) return done(in);
    return fail("expected " + TypeToString(type) + ", found null");
  }
  switch (t.kind) {
    case TypeKind::kOptional:
      return CoerceValue(program, in, t.element, from_json, out, error);
    case TypeKind::kNull:
      return fail("expected null, found " + found());
    case TypeKind::kBool:
      if (in.kind() == ValueKind::kBool) return done(in);
      break;
    case TypeKind::kInt:
      if (in.kind() == ValueKind::kInt) return done(in);
      if (from_json && in.kind() == ValueKind::kFloat && std::floor(in.AsNumber()) == in.AsNumber()) {
        return done(Value::Int(static_cast<int64_t>(in.AsNumber())));
      }
      break;
    case TypeKind::kFloat:
      if (in.IsNumber()) return done(Value::Float(in.AsNumber()));
      break;
    case TypeKind::kString:
      if (in.kind() == ValueKind::kString) return done(in);
      break;
    case TypeKind::kLiteral:
      if (in.kind() == ValueKind::kString && in.AsString() == t.text) return done(in);
      if (in.kind() == ValueKind::kString) return fail("expected \"" + t.text + "\", found " + found());
      break;
    case TypeKind::kDuration:
    case TypeKind::kBytes: {
      ValueKind want = t.kind == TypeKind::kDuration ? ValueKind::kDuration : ValueKind::kBytes;
      if (in.kind() == want) return done(in);
      if (from_json && in.kind() == ValueKind::kInt) {
        return done(want == ValueKind::kDuration ? Value::Duration(in.AsInt()) : Value::Bytes(in.AsInt()));
      }
      if (from_json && in.kind() == ValueKind::kString) {
        Value v;
        std::string err;
        if (ParseRawInput(program, in.AsString(), type, &v, &err)) return done(v);
      }
      break;
    }
    case TypeKind::kRange: {
      // `range` holds ints, `range<bytes>` bytes; a single value `n` is `n..n`.
      ValueKind of = t.element && t.element->kind == TypeKind::kBytes ? ValueKind::kBytes : ValueKind::kInt;
      if (in.kind() == ValueKind::kRange && in.RangeOf() == of) return done(in);
      if (in.kind() == of) return done(Value::Range(in.AsInt(), in.AsInt(), of));
      if (from_json && in.kind() == ValueKind::kMap) {
        // {"min": 1, "max": 4}; "max": null (or absent) for `1..`.
        const auto& m = in.AsMap();
        auto mn = m.find("min"), mx = m.find("max");
        bool open = mx == m.end() || mx->second.is_null();
        if (mn != m.end() && mn->second.kind() == ValueKind::kInt && (open || mx->second.kind() == ValueKind::kInt)) {
          if (open) return done(Value::OpenRange(mn->second.AsInt(), of));
          if (mn->second.AsInt() <= mx->second.AsInt()) return done(Value::Range(mn->second.AsInt(), mx->second.AsInt(), of));
        }
      }
      break;
    }
    case TypeKind::kGpu: {
      if (in.kind() == ValueKind::kGpu) return done(in);
      // Alternatives stay a list (ordered) or `{ any_of = list }` of gpu
      // values until the evaluator picks one (ChooseGpu).
      bool any_of = in.kind() == ValueKind::kMap && in.AsMap().size() == 1 && in.AsMap().count("any_of");
      if (in.kind() == ValueKind::kList || any_of) {
        const Value& list = any_of ? in.AsMap().at("any_of") : in;
        if (list.kind() != ValueKind::kList) return fail("`any_of` takes a list of GPU requests");
        if (list.AsList().empty()) return fail("a list of GPU alternatives needs at least one request");
        ValueList alts;
        for (const Value& item : list.AsList()) {
          if (item.kind() == ValueKind::kList) return fail("GPU alternatives do not nest");
          Value g;
          if (!CoerceValue(program, item, type, from_json, &g, error)) return false;
          alts.push_back(g);
        }
        Value l = Value::List(std::move(alts));
        return done(any_of ? Value::Map({{"any_of", l}}) : l);
      }
      if (in.kind() == ValueKind::kString) {
        GpuRequest g;
        std::string err, suggestion;
        if (!ParseGpuString(program.catalog, in.AsString(), &g, &err, &suggestion)) {
          return fail(err + (suggestion.empty() ? "" : " (did you mean `" + suggestion + "`?)"));
        }
        return done(Value::Gpu(g));
      }
      if (in.kind() == ValueKind::kMap) {
        const auto& m = in.AsMap();
        GpuRequest g;
        for (const auto& [k, v] : m) {
          if (k == "model") {
            if (v.is_unknown()) return done(Value::Unknown());
            const GpuModelInfo* info = program.catalog.Find(v.AsString());
            if (!info) {
              std::string hint = program.catalog.Closest(v.AsString());
              return fail("unknown GPU model `" + v.AsString() + "`" + (hint.empty() ? "" : " (did you mean `" + hint + "`?)"));
            }
            g.model = info->name;
          } else if (k == "memory") {
            if (v.is_unknown()) return done(Value::Unknown());
            if (v.kind() == ValueKind::kRange) {
              // `24GiB..80GiB`: any model with memory in the range; `24GiB..`
              // is the same as `24GiB` (at least).
              if (v.RangeOf() != ValueKind::kBytes) return fail("a gpu `memory` range is of sizes (`24GiB..80GiB`)");
              g.memory = v.RangeMin();
              g.memory_max = v.RangeOpen() ? 0 : v.RangeMax();
            } else {
              g.memory = v.Quantity();
            }
          } else if (k == "count") {
            if (v.is_unknown()) return done(Value::Unknown());
            if (v.kind() == ValueKind::kRange) {
              if (v.RangeOf() != ValueKind::kInt) return fail("a gpu `count` range is of ints (`1..4`)");
              g.count = v.RangeMin();
              // `1..` has no maximum: the cheapest count that fits is chosen anyway.
              g.count_max = v.RangeOpen() || v.RangeMax() == v.RangeMin() ? 0 : v.RangeMax();
            } else {
              g.count = v.AsInt();
            }
          } else {
            return fail("unknown field `" + k + "` in a gpu");
          }
        }
        if (g.model.empty() && g.memory == 0) return fail("a gpu needs a `model` or a `memory`");
        if (g.count < 1) return fail("a GPU request needs at least one GPU");
        if (!g.model.empty()) {
          g.memory = 0;
          g.memory_max = 0;
        } else if (!program.catalog.SmallestWithMemory(g.memory)) {
          return fail("no GPU in the catalog has " + FormatBytes(g.memory) + " of memory");
        } else if (g.memory_max > 0 && program.catalog.ModelsWithMemory(g.memory, g.memory_max).empty()) {
          return fail("no GPU in the catalog has between " + FormatBytes(g.memory) + " and " + FormatBytes(g.memory_max) + " of memory");
        }
        return done(Value::Gpu(g));
      }
      break;
    }
    case TypeKind::kList: {
      if (in.kind() != ValueKind::kList) break;
      ValueList items;
      items.reserve(in.AsList().size());
      size_t i = 0;
      bool same = true;  // every element as it was: keep the shared list
      for (const auto& item : in.AsList()) {
        Value v;
        if (!CoerceValue(program, item, t.element, from_json, &v, error)) {
          *error = "element " + std::to_string(i) + ": " + *error;
          return false;
        }
        same = same && v.SameAs(item);
        items.push_back(std::move(v));
        ++i;
      }
      if (same) return done(in);
      return done(Value::List(std::move(items)));
    }
    case TypeKind::kMap: {
      if (in.kind() != ValueKind::kMap) break;
      bool same = true;  // every value as it was: keep the shared map
      for (const auto& [k, item] : in.AsMap()) {
        Value v;
        if (!CoerceValue(program, item, t.element, from_json, &v, error)) {
          *error = "key `" + k + "`: " + *error;
          return false;
        }
        if (!v.SameAs(item)) {
          same = false;
          break;
        }
      }
      if (same) return done(in);
      ValueMap items;
      for (const auto& [k, item] : in.AsMap()) {
        Value v;
        if (!CoerceValue(program, item, t.element, from_json, &v, error)) {
          *error = "key `" + k + "`: " + *error;
          return false;
        }
        items.emplace_hint(items.end(), k, std::move(v));
      }
      return done(Value::Map(std::move(items)));
    }
    case TypeKind::kRecord: {
      if (in.kind() != ValueKind::kMap) break;
      const ValueMap& m = in.AsMap();
      ValueMap items;
      for (const auto& [k, item] : m) {
        const Field* f = t.FindField(k);
        if (f && f->optional && item.is_null()) continue;  // `b?: U` set to null: absent
        if (!f) {
          if (t.open) {
            items[k] = item;
            continue;
          }
          std::string hint = ClosestMatch(k, t.FieldNames());
          return fail("unknown field `" + k + "`" + (hint.empty() ? "" : " (did you mean `" + hint + "`?)"));
        }
        Value v;
        if (!CoerceValue(program, item, f->type, from_json, &v, error)) {
          *error = "field `" + k + "`: " + *error;
          return false;
        }
        items[k] = f->sensitive ? v.WithSensitive() : v;
      }
      for (const Field& f : t.fields) {
        if (m.count(f.name) || f.computed) continue;
        if (f.default_expr) {
          std::lock_guard<std::recursive_mutex> lock(DefaultsMutex());
          if (!f.default_value) {
            Diagnostics scratch;
            Value dv = EvaluateConstant(program, f.default_expr, scratch);
            Value cv;
            std::string err;
            f.default_value = CoerceValue(program, dv, f.type, false, &cv, &err) ? cv : dv;
          }
          items[f.name] = *f.default_value;
        } else if (!f.optional) {
          return fail("missing required field `" + f.name + "`");
        }
      }
      return done(Value::Map(std::move(items)));
    }
    case TypeKind::kUnion: {
      std::string first_error;
      for (const auto& alt : t.alternatives) {
        std::string err;
        if (CoerceValue(program, in, alt, from_json, out, &err)) {
          if (sens) *out = out->WithSensitive();
          return true;
        }
        if (first_error.empty()) first_error = err;
      }
      return fail("expected " + TypeToString(type) + ", found " + found());
    }
    case TypeKind::kKind:
      if (in.kind() == ValueKind::kResource && in.AsResource().kind == (t.provider_type.empty() ? t.text : t.provider_type + "." + t.text)) {
        return done(in);
      }
      if (from_json && in.kind() == ValueKind::kString) return done(in);
      break;
    default:
      break;
  }
  return fail("expected " + TypeToString(type) + ", found " + found());
}

bool ParseRawInput(const Program& program, const std::string& text, const TypeRef& type, Value* out,
                   std::string* error) {
  TypeRef t = NonOptional(type);
  // Strings (and enums and gpus) are taken as written.
  if (t->kind == TypeKind::kString || t->kind == TypeKind::kLiteral || t->kind == TypeKind::kGpu ||
      (t->kind == TypeKind::kUnion && std::all_of(t->alternatives.begin(), t->alternatives.end(), [](const TypeRef& a) {
         return a->kind == TypeKind::kLiteral || a->kind == TypeKind::kString;
       }))) {
    return CoerceValue(program, Value::String(text), type, false, out, error);
  }
  // JSON for collections (var files, `--var tags='["a"]'`).
  if (!text.empty() && (text[0] == '[' || text[0] == '{')) {
    nlohmann::json j = nlohmann::json::parse(text, nullptr, false);
    if (!j.is_discarded()) return CoerceValue(program, FromJson(j), type, true, out, error);
  }
  // Anything else is a Kiln expression over constants: `8`, `2h`, `1..4`.
  SourceManager& sm = *program.sm;
  Diagnostics diags;
  ast::ExprPtr e = ParseExpressionText(sm, "--var", text, diags);
  if (!e || diags.HasErrors()) {
    *error = "`" + text + "` is not a valid " + TypeToString(type);
    return false;
  }
  Value v = EvaluateConstant(program, e.get(), diags);
  if (diags.HasErrors() || !v.IsWhollyKnown()) {
    *error = "`" + text + "` is not a valid " + TypeToString(type);
    return false;
  }
  if (!CoerceValue(program, v, type, false, out, error)) {
    *error = "`" + text + "` is not a valid " + TypeToString(type) + " (" + *error + ")";
    return false;
  }
  return true;
}

// ---------------------------------------------------------------- entry points

ConfigGraph EvaluateProgram(const Program& program, const std::map<std::string, Value>& inputs,
                            const ResourceLookup& lookup, Diagnostics& diags) {
  ConfigGraph graph;
  if (!program.root) return graph;
  Evaluator ev(program, lookup, diags, &graph);
  Scope root;
  root.mod = program.root;
  root.inputs = inputs;
  root.root_inputs = true;
  ev.RunModule(root);
  ev.Finish();
  return graph;
}

std::optional<ResourceInstance> EvaluateProgramInstance(const Program& program,
                                                        const std::map<std::string, Value>& inputs,
                                                        const std::string& address, const ResourceLookup& lookup,
                                                        Diagnostics& diags) {
  std::vector<AddrSegment> path;
  if (!program.root || !ParseAddress(address, &path)) return std::nullopt;
  ConfigGraph graph;
  Evaluator ev(program, lookup, diags, &graph);
  ev.InstanceMode();
  Scope root;
  root.mod = program.root;
  root.inputs = inputs;
  root.root_inputs = true;
  root.path = &path;
  ev.RunModule(root);
  for (ResourceInstance& r : ev.pending()) {
    if (r.address == address) return std::move(r);
  }
  return std::nullopt;
}

Value EvaluateInRoot(const Program& program, const std::map<std::string, Value>& inputs,
                     const ResourceLookup& lookup, const ast::Expr* expr, Diagnostics& diags) {
  Scope root;
  Locals locals;
  if (!program.root) return EvaluateConstant(program, expr, diags);
  ConfigGraph graph;
  Evaluator ev(program, lookup, diags, &graph);
  ev.KeepAllValues();
  root.mod = program.root;
  root.inputs = inputs;
  root.root_inputs = true;
  ev.RunModule(root);
  ev.Finish();
  return ev.Eval(expr, root, locals);
}

SourceRange AttributeSourceRange(const Program& program, const std::string& address, const std::vector<std::string>& path) {
  std::vector<AddrSegment> segs;
  if (!program.root || !ParseAddress(address, &segs)) return {};
  const ModuleInfo* mod = program.root;
  for (size_t i = 0; i + 1 < segs.size(); ++i) {
    const ast::Decl* d = mod->FindName(segs[i].name);
    if (!d || d->kind != ast::DeclKind::kModule) return {};
    auto it = mod->children.find(d);
    if (it == mod->children.end()) return {};
    mod = it->second;
  }
  const auto* rd = ast::As<ast::ResourceDecl>(mod->FindName(segs.back().name));
  if (!rd || !rd->body || rd->FullKind() != segs.back().kind) return {};
  SourceRange found;
  const ast::ObjectExpr* obj = rd->body.get();
  for (const std::string& key : path) {
    const ast::ObjectItem* item = obj ? obj->Find(key) : nullptr;
    if (!item) break;
    found = item->range;
    obj = ast::As<ast::ObjectExpr>(item->value.get());
  }
  return found;
}

void EvaluateForChecks(const Program& program, const std::vector<SourceRange>& poisoned, Diagnostics& diags) {
  if (!program.root) return;
  ConfigGraph graph;
  ResourceLookup none;
  Evaluator ev(program, none, diags, &graph);
  ev.RecoveryMode(&poisoned);
  Scope root;
  root.mod = program.root;
  root.root_inputs = true;
  ev.RunModule(root);
  ev.Finish();
}

Value EvaluateConstant(const Program& program, const ast::Expr* expr, Diagnostics& diags) {
  Evaluator ev(program, nullptr, diags, nullptr);
  Scope s;
  s.mod = program.root ? program.root : program.prelude;
  Locals locals;
  return ev.Eval(expr, s, locals);
}

Value EvaluatePreludeValue(const Program& program, const std::string& name, Diagnostics& diags) {
  Evaluator ev(program, nullptr, diags, nullptr);
  ev.KeepAllValues();
  Scope s;
  s.mod = program.prelude;
  ev.RunModule(s);
  auto it = s.values.find(name);
  return it == s.values.end() ? Value() : it->second;
}

}  // namespace kiln
