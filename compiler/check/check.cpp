#include "compiler/check/check.h"

#include <algorithm>
#include <cctype>
#include <filesystem>

#include "compiler/syntax/literals.h"
#include "compiler/syntax/parse.h"

namespace kiln {

namespace fs = std::filesystem;

// ------------------------------------------------------------------ catalog

namespace {
std::string Lower(std::string s) {
  for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}
}  // namespace

const GpuModelInfo* GpuCatalog::Find(const std::string& name) const {
  for (const auto& m : models) {
    if (m.name == name) return &m;
  }
  std::string l = Lower(name);
  for (const auto& m : models) {
    if (Lower(m.name) == l) return &m;
    for (const auto& a : m.aliases) {
      if (Lower(a) == l) return &m;
    }
  }
  return nullptr;
}

std::string GpuCatalog::Closest(const std::string& name) const {
  // Nearest canonical name or alias; an alias suggests its model.
  std::vector<std::string> candidates;
  for (const auto& m : models) {
    candidates.push_back(m.name);
    candidates.insert(candidates.end(), m.aliases.begin(), m.aliases.end());
  }
  std::string hint = ClosestMatch(name, candidates);
  const GpuModelInfo* model = hint.empty() ? nullptr : Find(hint);
  return model ? model->name : "";
}

const GpuModelInfo* GpuCatalog::SmallestWithMemory(int64_t memory) const {
  const GpuModelInfo* best = nullptr;
  for (const auto& m : models) {
    // A memory request asks for a GPU: TPU chips (catalog `kind = "tpu"`,
    // whose compute_capability is their generation, "tpu-v5e") are not one.
    if (m.compute_capability.rfind("tpu", 0) == 0) continue;
    if (m.memory >= memory && (!best || m.memory < best->memory)) best = &m;
  }
  return best;
}

std::vector<const GpuModelInfo*> GpuCatalog::ModelsWithMemory(int64_t min, int64_t max) const {
  std::vector<const GpuModelInfo*> out;
  for (const auto& m : models) {
    if (m.compute_capability.rfind("tpu", 0) == 0) continue;
    if (m.memory >= min && m.memory <= max) out.push_back(&m);
  }
  return out;
}

bool ParseGpuString(const GpuCatalog& catalog, const std::string& text, GpuRequest* out,
                    std::string* error, std::string* suggestion) {
  std::string model = text;
  int64_t count = 1, count_max = 0;
  auto digits = [](const std::string& n) {
    return !n.empty() && n.size() <= 6 && std::all_of(n.begin(), n.end(), ::isdigit);
  };
  if (auto colon = text.rfind(':'); colon != std::string::npos) {
    model = text.substr(0, colon);
    std::string n = text.substr(colon + 1);
    // A count range: "H100:1..4" (at least 1, at most 4).
    std::string hi;
    if (auto dots = n.find(".."); dots != std::string::npos) {
      hi = n.substr(dots + 2);
      n = n.substr(0, dots);
      if (!digits(n) || !digits(hi)) {
        *error = "invalid GPU count range `" + text.substr(colon + 1) + "` in \"" + text +
                 "\" (write MODEL:MIN..MAX, e.g. \"H100:1..4\")";
        return false;
      }
    }
    if (!digits(n)) {
      *error = "invalid GPU count `" + n + "` in \"" + text + "\" (write MODEL:COUNT, e.g. \"H100:8\")";
      return false;
    }
    count = std::stoll(n);
    if (!hi.empty()) {
      count_max = std::stoll(hi);
      if (count_max < count) {
        *error = "the GPU count range " + n + ".." + hi + " in \"" + text + "\" is empty: its minimum is above its maximum";
        return false;
      }
      if (count_max == count) count_max = 0;
    }
  }
  if (count < 1) {
    *error = "a GPU request needs at least one GPU";
    return false;
  }
  const GpuModelInfo* m = catalog.Find(model);
  if (!m) {
    *error = "unknown GPU model `" + model + "`";
    *suggestion = catalog.Closest(model);
    return false;
  }
  out->model = m->name;
  out->memory = 0;
  out->count = count;
  out->count_max = count_max;
  return true;
}

std::string SourceText(const SourceManager& sm, const SourceRange& range) {
  if (!range.valid() || range.end.file_id != range.begin.file_id) return "";
  std::string_view text = sm.Text(range.begin.file_id);
  if (range.end.offset < range.begin.offset || range.end.offset > text.size()) return "";
  return std::string(text.substr(range.begin.offset, range.end.offset - range.begin.offset));
}

namespace {

// ------------------------------------------------------------------ checker

struct BuiltinArity {
  const char* name;
  int min;
  int max;  // -1: variadic
};

const std::vector<BuiltinArity>& BuiltinArities() {
  static const std::vector<BuiltinArity> table = {
      {"length", 1, 1},     {"keys", 1, 1},       {"values", 1, 1},     {"merge", 1, -1},
      {"concat", 1, -1},    {"contains", 2, 2},   {"lookup", 3, 3},     {"flatten", 1, 1},
      {"distinct", 1, 1},   {"sort", 1, 1},       {"format", 1, -1},    {"join", 2, 2},
      {"split", 2, 2},      {"lower", 1, 1},      {"upper", 1, 1},      {"replace", 3, 3},
      {"trim", 1, 1},       {"startswith", 2, 2}, {"endswith", 2, 2},   {"substr", 3, 3},
      {"min", 1, -1},       {"max", 1, -1},       {"abs", 1, 1},        {"ceil", 1, 1},
      {"floor", 1, 1},      {"tostring", 1, 1},   {"toint", 1, 1},      {"tofloat", 1, 1},
      {"jsonencode", 1, 1}, {"jsondecode", 1, 1}, {"seconds", 1, 1},    {"hours", 1, 1},
      {"gib", 1, 1},        {"env", 1, 2},        {"file", 1, 1},       {"sha256", 1, 1},
      {"gpu_memory", 1, 1}, {"gpu_price", 1, 2},  {"product", 1, -1},   {"range", 2, 3},
  };
  return table;
}

const char* kMetaAttributes[] = {"provider", "depends_on", "lifecycle"};

bool IsMeta(const std::string& key) {
  for (const char* m : kMetaAttributes) {
    if (key == m) return true;
  }
  return false;
}

TypeRef T(TypeKind k) { return PrimitiveType(k); }

bool IsStringy(const TypeRef& t) {
  TypeRef n = NonOptional(t);
  return n->kind == TypeKind::kString || n->kind == TypeKind::kLiteral || n->kind == TypeKind::kAny ||
         (n->kind == TypeKind::kUnion &&
          std::all_of(n->alternatives.begin(), n->alternatives.end(),
                      [](const TypeRef& a) { return a->kind == TypeKind::kLiteral; }));
}


struct Ctx {
  ModuleInfo* mod = nullptr;
  std::vector<std::pair<std::string, TypeRef>> locals;
  std::vector<DeclRef>* deps = nullptr;
};

class Checker {
 public:
  Checker(Program& p, PreludeEvaluator evaluate_prelude, Diagnostics& diags)
      : p_(p), sm_(*p.sm), evaluate_prelude_(std::move(evaluate_prelude)), diags_(diags) {}
  // For a program already loaded (its catalog evaluated).
  Checker(Program& p, Diagnostics& diags) : Checker(p, nullptr, diags) {}

  bool LoadPrelude();
  ModuleInfo* LoadAndCheck(const std::string& dir, bool is_root, SourceRange used_at);
  TypeRef Infer(const ast::Expr* e, Ctx& ctx);
  TypeRef ResolveType(const ast::TypeExpr* t, ModuleInfo* mod);

 private:
  void CheckModule(ModuleInfo* mod);
  void CheckDecl(const ast::Decl* d, ModuleInfo* mod);
  TypeRef DeclType(const ast::Decl* d, ModuleInfo* mod);
  void OrderModule(ModuleInfo* mod);

  TypeRef NamedType(const std::string& name, ModuleInfo* mod, SourceRange range);
  TypeRef KindFor(const std::string& provider_type, const std::string& kind, SourceRange range);
  TypeRef SchemaRecord(const std::map<std::string, FieldSchema>& fields, const std::string& origin,
                       bool open);

  void CheckAgainst(const ast::Expr* e, const TypeRef& target, Ctx& ctx, const std::string& what);
  void CheckGpuExpr(const ast::Expr* e, Ctx& ctx);
  void CheckGpuModelLiteral(const ast::Expr* e);
  void CheckRecordBody(const ast::ObjectExpr* body, const Type& record, Ctx& ctx,
                       const std::string& owner, bool is_resource, SourceRange missing_at);
  void CheckMeta(const ast::ObjectItem& item, const Type& schema, Ctx& ctx);
  void CheckModuleDecl(const ast::ModuleDecl* d, ModuleInfo* mod, Ctx& ctx);
  void BindFor(const ast::ForClause* f, Ctx& ctx, const std::string& owner);
  void CheckCond(const ast::Expr* cond, Ctx& ctx, const std::string& what);
  TypeRef InferBinary(const ast::BinaryExpr* b, Ctx& ctx);
  TypeRef InferCall(const ast::CallExpr* c, Ctx& ctx);
  TypeRef Attr(const TypeRef& obj, const std::string& name, SourceRange range, const std::string& obj_text);
  TypeRef LookupName(const std::string& name, SourceRange range, Ctx& ctx);
  void WarnUnknownProvider(const std::string& type, SourceRange range) {
    if (!warned_providers_.insert(type).second) return;
    Diagnostic& d = diags_.Warning("W0402", range, "provider type `" + type + "` is not installed; its settings and kinds are not checked");
    d.help = "install the provider plugin `kiln-provider-" + type + "` (or check the spelling) and run `kiln init`";
  }
  // W0403: `env` setting a variable of the multi-node rendezvous contract.
  void WarnRendezvousEnv(const ast::ObjectExpr* body) {
    static const char* kNames[] = {"KILN_NODE_RANK", "KILN_NUM_NODES", "KILN_NODE_ADDRS", "KILN_MASTER_ADDR",
                                   "KILN_MASTER_PORT", "KILN_GPUS_PER_NODE", "MASTER_ADDR", "MASTER_PORT",
                                   "NODE_RANK", "WORLD_SIZE"};
    const ast::ObjectItem* env = body->Find("env");
    const auto* obj = env ? ast::As<ast::ObjectExpr>(env->value.get()) : nullptr;
    if (!obj) return;
    for (const auto& item : obj->items) {
      if (std::none_of(std::begin(kNames), std::end(kNames), [&](const char* n) { return item.key == n; })) continue;
      Diagnostic& d = diags_.Warning("W0403", item.key_range, "`env` sets `" + item.key + "`, which every provider sets on each node of a job");
      d.label = "overrides the rendezvous environment";
      d.help = "remove it and read the provider's value; see \"Multi-node jobs\" in docs/language.md (the KILN_* names, MASTER_ADDR, MASTER_PORT, NODE_RANK, WORLD_SIZE)";
    }
  }
  Diagnostic& Mismatch(SourceRange range, const std::string& what, const TypeRef& expected,
                       const TypeRef& found, const std::string& why);
  std::vector<std::string> NamesInScope(const Ctx& ctx) const;

  Program& p_;
  SourceManager& sm_;
  PreludeEvaluator evaluate_prelude_;
  Diagnostics& diags_;
  std::map<std::string, ModuleInfo*> by_dir_;
  std::set<std::string> loading_;
  std::unordered_map<const ast::Decl*, int> state_;
  std::set<std::pair<ModuleInfo*, std::string>> resolving_types_;
  std::map<std::string, std::shared_ptr<Type>> kinds_;
  std::set<std::string> warned_providers_;
};

// ---------------------------------------------------------------- loading

bool Checker::LoadPrelude() {
  auto info = std::make_unique<ModuleInfo>();
  info->is_prelude = true;
  std::string dir = StdlibDir();
  if (!LoadModule(dir, sm_, diags_, &info->module)) {
    diags_.Error("E0446", SourceRange{}, "cannot read the standard library at " + dir)
        .help = "set KILN_STDLIB to the directory holding kinds.kiln and gpus.kiln";
    return false;
  }
  ModuleInfo* mod = info.get();
  p_.prelude = mod;
  p_.modules.push_back(std::move(info));
  // Every `type` in kinds.kiln is a core kind. Kind types are created
  // first so that schemas may refer to kinds (`cluster: cluster?`).
  std::vector<const ast::TypeDecl*> kind_decls;
  for (const auto& file : mod->module.files) {
    std::string path = sm_.Path(file->file_id);
    if (fs::path(path).filename() != "kinds.kiln") continue;
    for (const auto& d : file->decls) {
      if (const auto* t = ast::As<ast::TypeDecl>(d.get())) {
        kind_decls.push_back(t);
        auto k = std::make_shared<Type>();
        k->kind = TypeKind::kKind;
        k->text = t->name;
        kinds_[t->name] = k;
        p_.core_kinds[t->name] = k;
      }
    }
  }
  if (kind_decls.empty()) {
    diags_.Error("E0446", SourceRange{}, "the standard library at " + dir + " has no kinds.kiln")
        .help = "set KILN_STDLIB to the directory holding kinds.kiln and gpus.kiln";
    return false;
  }
  for (const ast::TypeDecl* t : kind_decls) {
    TypeRef schema = ResolveType(t->type.get(), mod);
    if (schema->kind != TypeKind::kRecord) {
      diags_.Error("E0446", t->range, "kind schema `" + t->name + "` must be a record type");
      continue;
    }
    kinds_[t->name]->schema = schema;
  }
  CheckModule(mod);
  if (diags_.HasErrors()) return false;
  // The catalog is a value: evaluate the prelude and read `gpus`.
  Value gpus = evaluate_prelude_(p_, "gpus", diags_);
  for (const auto& [name, v] : gpus.AsMap()) {
    GpuModelInfo m;
    m.name = name;
    const ValueMap& f = v.AsMap();
    auto get = [&](const char* k) {
      auto it = f.find(k);
      return it == f.end() ? Value() : it->second;
    };
    m.memory = get("memory").Quantity();
    m.compute_capability = get("compute_capability").AsString();
    for (const auto& a : get("aliases").AsList()) m.aliases.push_back(a.AsString());
    m.on_demand_hourly = get("on_demand_hourly").AsNumber();
    m.spot_hourly = get("spot_hourly").AsNumber();
    p_.catalog.models.push_back(std::move(m));
  }
  return !diags_.HasErrors();
}

ModuleInfo* Checker::LoadAndCheck(const std::string& dir, bool is_root, SourceRange used_at) {
  std::error_code ec;
  std::string key = fs::weakly_canonical(fs::absolute(dir, ec), ec).string();
  if (auto it = by_dir_.find(key); it != by_dir_.end()) return it->second;
  if (loading_.count(key)) {
    diags_.Error("E0417", used_at, "module " + key + " includes itself")
        .help = "a module may not use itself, directly or through other modules";
    return nullptr;
  }
  loading_.insert(key);
  auto info = std::make_unique<ModuleInfo>();
  info->is_root = is_root;
  if (!LoadModule(key, sm_, diags_, &info->module)) {
    diags_.Error("E0417", used_at, "cannot read module directory " + key);
    loading_.erase(key);
    return nullptr;
  }
  ModuleInfo* mod = info.get();
  p_.modules.push_back(std::move(info));
  by_dir_[key] = mod;
  CheckModule(mod);
  loading_.erase(key);
  return mod;
}

void Checker::CheckModule(ModuleInfo* mod) {
  mod->name_index.reserve(mod->module.names.size());
  for (const auto& [n, d] : mod->module.names) mod->name_index.emplace(n, d);
  for (const ast::Decl* d : mod->module.decls) CheckDecl(d, mod);
  if (mod->module.backend && !mod->is_root) {
    diags_.Error("E0420", mod->module.backend->range, "a backend is only allowed in the root module")
        .help = "move the backend block to the root module";
  }
  OrderModule(mod);
}

// ---------------------------------------------------------------- types

TypeRef Checker::ResolveType(const ast::TypeExpr* t, ModuleInfo* mod) {
  if (!t) return AnyType();
  switch (t->kind) {
    case ast::TypeKind::kName:
      return NamedType(t->name, mod, t->range);
    case ast::TypeKind::kList:
      return ListOf(ResolveType(t->element.get(), mod));
    case ast::TypeKind::kMap:
      return MapOf(ResolveType(t->element.get(), mod));
    case ast::TypeKind::kRange: {
      TypeRef e = ResolveType(t->element.get(), mod);
      if (e->kind == TypeKind::kBytes) return RangeOf(e);
      if (e->kind != TypeKind::kInt && e->kind != TypeKind::kAny) {
        diags_.Error("E0407", t->range, "a range holds int or bytes, not " + TypeToString(e))
            .help = "write `range` (of ints) or `range<bytes>`";
      }
      return PrimitiveType(TypeKind::kRange);
    }
    case ast::TypeKind::kOptional:
      return OptionalOf(ResolveType(t->element.get(), mod));
    case ast::TypeKind::kLiteral:
      return LiteralType(t->name);
    case ast::TypeKind::kUnion: {
      std::vector<TypeRef> alts;
      for (const auto& a : t->alternatives) alts.push_back(ResolveType(a.get(), mod));
      return UnionOf(std::move(alts));
    }
    case ast::TypeKind::kRecord: {
      std::vector<Field> fields;
      std::map<std::string, const ast::RecordField*> seen;
      for (const auto& rf : t->fields) {
        if (auto [it, ok] = seen.emplace(rf.name, &rf); !ok) {
          Diagnostic& d = diags_.Error("E0416", rf.name_range, "field `" + rf.name + "` is declared twice");
          d.secondary.push_back({it->second->name_range, "first declared here"});
          continue;
        }
        Field f;
        f.name = rf.name;
        f.type = ResolveType(rf.type.get(), mod);
        f.optional = rf.optional || f.type->kind == TypeKind::kOptional;
        f.default_expr = rf.default_value.get();
        f.doc = rf.doc;
        f.range = rf.range;
        for (const auto& m : rf.modifiers) {
          if (m == "sensitive") {
            f.sensitive = true;
          } else if (m == "computed") {
            f.computed = true;
          } else if (m == "positive") {
            f.bound = Bound::kPositive;
          } else if (m == "nonnegative") {
            f.bound = Bound::kNonNegative;
          } else {
            diags_.Error("E0407", rf.range, "unknown field modifier `" + m + "`")
                .help = "field modifiers are `sensitive`, `computed`, `positive` and `nonnegative`";
          }
        }
        if (f.default_expr) {
          Ctx ctx;
          ctx.mod = mod;
          CheckAgainst(f.default_expr, f.type, ctx, "the default of field `" + f.name + "`");
        }
        fields.push_back(std::move(f));
      }
      return RecordOf(std::move(fields));
    }
  }
  return AnyType();
}

TypeRef Checker::NamedType(const std::string& name, ModuleInfo* mod, SourceRange range) {
  if (TypeRef prim = PrimitiveByName(name)) return prim;
  if (auto dot = name.find('.'); dot != std::string::npos) {
    return KindFor(name.substr(0, dot), name.substr(dot + 1), range);
  }
  if (auto it = p_.core_kinds.find(name); it != p_.core_kinds.end()) return it->second;
  if (auto it = mod->named_types.find(name); it != mod->named_types.end()) return it->second;
  auto decl_it = mod->module.names.find(name);
  if (decl_it != mod->module.names.end()) {
    if (const auto* td = ast::As<ast::TypeDecl>(decl_it->second)) {
      if (!resolving_types_.insert({mod, name}).second) {
        diags_.Error("E0407", range, "type `" + name + "` refers to itself")
            .help = "Kiln types are not recursive";
        return AnyType();
      }
      TypeRef t = ResolveType(td->type.get(), mod);
      if (t->kind == TypeKind::kRecord && t->name.empty()) {
        auto named = std::make_shared<Type>(*t);
        named->name = name;
        t = named;
      }
      mod->named_types[name] = t;
      resolving_types_.erase({mod, name});
      return t;
    }
    Diagnostic& d = diags_.Error("E0407", range, "`" + name + "` is not a type");
    d.secondary.push_back({decl_it->second->name_range, "declared here as a value"});
    return AnyType();
  }
  std::vector<std::string> candidates = {"string", "bool", "int", "float", "duration", "bytes",
                                         "range", "gpu", "list", "map"};
  for (const auto& [k, v] : p_.core_kinds) candidates.push_back(k);
  for (const auto& [n, d] : mod->module.names) {
    if (d->kind == ast::DeclKind::kType) candidates.push_back(n);
  }
  Diagnostic& d = diags_.Error("E0407", range, "unknown type `" + name + "`");
  std::string hint = ClosestMatch(name, candidates);
  if (!hint.empty()) d.label = "did you mean `" + hint + "`?";
  return AnyType();
}

TypeRef Checker::SchemaRecord(const std::map<std::string, FieldSchema>& fields,
                              const std::string& origin, bool open) {
  std::vector<Field> out;
  for (const auto& [name, fs] : fields) {
    Field f;
    f.name = name;
    ast::TypeExprPtr te = ParseTypeText(sm_, origin + "." + name, fs.type, diags_);
    f.type = te ? ResolveType(te.get(), p_.prelude) : AnyType();
    f.optional = fs.optional || f.type->kind == TypeKind::kOptional;
    f.computed = fs.computed;
    f.sensitive = fs.sensitive;
    f.doc = fs.doc;
    out.push_back(std::move(f));
  }
  TypeRef r = RecordOf(std::move(out));
  if (open) {
    auto o = std::make_shared<Type>(*r);
    o->open = true;
    r = o;
  }
  return r;
}

TypeRef Checker::KindFor(const std::string& provider_type, const std::string& kind, SourceRange range) {
  std::string full = provider_type + "." + kind;
  if (auto it = p_.provider_kinds.find(full); it != p_.provider_kinds.end()) return it->second;
  if (!p_.provider_schema) {
    // No provider schemas available (validate without providers): the kind
    // is accepted with any attributes.
    TypeRef k = KindType(kind, provider_type, SchemaRecord({}, full, true));
    p_.provider_kinds[full] = k;
    return k;
  }
  const ProviderSchema* schema = p_.SchemaFor(provider_type);
  if (!schema) {
    WarnUnknownProvider(provider_type, range);
    TypeRef k = KindType(kind, provider_type, SchemaRecord({}, full, true));
    p_.provider_kinds[full] = k;
    return k;
  }
  auto it = schema->kinds.find(kind);
  if (it == schema->kinds.end()) {
    std::vector<std::string> names;
    for (const auto& [n, k] : schema->kinds) names.push_back(n);
    Diagnostic& d = diags_.Error("E0408", range, "provider `" + provider_type + "` has no kind `" + kind + "`");
    std::string hint = ClosestMatch(kind, names);
    if (!hint.empty()) d.label = "did you mean `" + provider_type + "." + hint + "`?";
    p_.provider_kinds[full] = AnyType();
    return AnyType();
  }
  TypeRef k = KindType(kind, provider_type, SchemaRecord(it->second.fields, full, false));
  p_.provider_kinds[full] = k;
  return k;
}

// ---------------------------------------------------------------- declarations

TypeRef Checker::DeclType(const ast::Decl* d, ModuleInfo* mod) {
  int s = state_[d];
  auto it = mod->decl_types.find(d);
  if (s == 0 && it != mod->decl_types.end()) return it->second;  // checked by an earlier pass
  if (s == 1) return AnyType();  // a cycle; OrderModule reports it
  if (s == 0) CheckDecl(d, mod);
  it = mod->decl_types.find(d);
  return it == mod->decl_types.end() ? AnyType() : it->second;
}

void Checker::BindFor(const ast::ForClause* f, Ctx& ctx, const std::string& owner) {
  TypeRef coll = NonOptional(Infer(f->collection.get(), ctx));
  TypeRef key = AnyType(), value = AnyType();
  switch (coll->kind) {
    case TypeKind::kList:
      key = T(TypeKind::kInt);
      value = coll->element;
      break;
    case TypeKind::kMap:
      key = T(TypeKind::kString);
      value = coll->element;
      break;
    case TypeKind::kRecord:
      key = T(TypeKind::kString);
      value = AnyType();
      if (!coll->fields.empty()) {
        value = coll->fields[0].type;
        for (const auto& fl : coll->fields) value = Unify(value, fl.type);
      }
      break;
    case TypeKind::kAny:
      break;
    default:
      diags_.Error("E0422", f->collection->range,
                   "`for` needs a list or a map, found " + TypeToString(coll))
          .help = owner + " is repeated once per element of a list or entry of a map";
  }
  if (!f->key_var.empty()) ctx.locals.push_back({f->key_var, key});
  ctx.locals.push_back({f->value_var, value});
}

void Checker::CheckCond(const ast::Expr* cond, Ctx& ctx, const std::string& what) {
  TypeRef t = NonOptional(Infer(cond, ctx));
  if (t->kind != TypeKind::kBool && t->kind != TypeKind::kAny) {
    Diagnostic& d = diags_.Error("E0422", cond->range, what + " must be a bool, found " + TypeToString(t));
    d.label = "expected bool";
  }
}

void Checker::CheckDecl(const ast::Decl* d, ModuleInfo* mod) {
  if (state_[d] != 0) return;
  state_[d] = 1;
  Ctx ctx;
  ctx.mod = mod;
  ctx.deps = &mod->deps[d];
  switch (d->kind) {
    case ast::DeclKind::kInput: {
      const auto* in = static_cast<const ast::InputDecl*>(d);
      TypeRef t = ResolveType(in->type.get(), mod);
      mod->input_types[d] = t;
      mod->decl_types[d] = t;
      if (in->default_value) CheckAgainst(in->default_value.get(), t, ctx, "the default of input `" + d->name + "`");
      break;
    }
    case ast::DeclKind::kLet: {
      const auto* let = static_cast<const ast::LetDecl*>(d);
      if (let->type) {
        TypeRef t = ResolveType(let->type.get(), mod);
        mod->decl_types[d] = t;
        CheckAgainst(let->value.get(), t, ctx, "`" + d->name + "`");
      } else {
        mod->decl_types[d] = Infer(let->value.get(), ctx);
      }
      break;
    }
    case ast::DeclKind::kOutput: {
      const auto* out = static_cast<const ast::OutputDecl*>(d);
      TypeRef t;
      if (out->type) {
        t = ResolveType(out->type.get(), mod);
        CheckAgainst(out->value.get(), t, ctx, "output `" + d->name + "`");
      } else {
        t = Infer(out->value.get(), ctx);
      }
      mod->output_types[d] = t;
      break;
    }
    case ast::DeclKind::kAssert: {
      const auto* a = static_cast<const ast::AssertDecl*>(d);
      CheckCond(a->cond.get(), ctx, "an assert condition");
      if (a->message) {
        TypeRef m = Infer(a->message.get(), ctx);
        if (!IsStringy(m)) Mismatch(a->message->range, "an assert message", T(TypeKind::kString), m, "");
      }
      break;
    }
    case ast::DeclKind::kType:
      NamedType(d->name, mod, d->name_range);
      break;
    case ast::DeclKind::kBackend: {
      const auto* b = static_cast<const ast::BackendDecl*>(d);
      // Settings per backend type (docs/state.md): name -> is it a string.
      static const std::map<std::string, std::map<std::string, bool>> kBackends = {
          {"local", {{"path", true}, {"keep_history", false}}},
          {"postgres", {{"conn", true}, {"schema", true}, {"keep_history", false}}},
      };
      auto backend = kBackends.find(b->type_name);
      if (backend == kBackends.end()) {
        diags_.Error("E0420", b->type_range, "unknown backend type `" + b->type_name + "`")
            .help = "the backends are `local` and `postgres`";
      }
      if (b->body && backend != kBackends.end()) {
        for (const auto& item : b->body->items) {
          auto setting = backend->second.find(item.key);
          if (setting == backend->second.end()) {
            diags_.Error("E0420", item.key_range, "unknown backend setting `" + item.key + "`")
                .help = b->type_name == "local" ? "the local backend takes `path` and `keep_history`"
                                                : "the postgres backend takes `conn`, `schema` and `keep_history`";
            continue;
          }
          TypeRef t = Infer(item.value.get(), ctx);
          if (setting->second && !IsStringy(t))
            Mismatch(item.value->range, "backend `" + item.key + "`", T(TypeKind::kString), t, "");
          if (!setting->second && t->kind != TypeKind::kInt && t->kind != TypeKind::kAny)
            Mismatch(item.value->range, "backend `" + item.key + "`", T(TypeKind::kInt), t, "");
        }
      }
      break;
    }
    case ast::DeclKind::kProvider: {
      const auto* pd = static_cast<const ast::ProviderDecl*>(d);
      mod->decl_types[d] = AnyType();
      TypeRef config;
      if (p_.provider_schema) {
        const ProviderSchema* schema = p_.SchemaFor(pd->type_name);
        if (!schema && pd->type_name == kDefaultProviderType) {
          // The built-in local provider, without a registry to describe it.
        } else if (!schema) {
          WarnUnknownProvider(pd->type_name, pd->type_range);
        } else {
          auto it = p_.provider_configs.find(pd->type_name);
          if (it == p_.provider_configs.end()) {
            it = p_.provider_configs.emplace(pd->type_name, SchemaRecord(schema->config, "provider." + pd->type_name, false)).first;
          }
          config = it->second;
        }
      }
      if (pd->body) {
        if (config) {
          CheckRecordBody(pd->body.get(), *config, ctx, "provider " + pd->type_name, false, pd->name_range);
        } else {
          for (const auto& item : pd->body->items) Infer(item.value.get(), ctx);
        }
      }
      break;
    }
    case ast::DeclKind::kModule: {
      const auto* md = static_cast<const ast::ModuleDecl*>(d);
      mod->decl_types[d] = AnyType();
      if (md->for_clause) BindFor(md->for_clause.get(), ctx, "module `" + d->name + "`");
      if (md->if_cond) CheckCond(md->if_cond.get(), ctx, "the `if` condition of module `" + d->name + "`");
      CheckModuleDecl(md, mod, ctx);
      break;
    }
    case ast::DeclKind::kResource: {
      const auto* rd = static_cast<const ast::ResourceDecl*>(d);
      TypeRef kind;
      if (rd->provider_type.empty()) {
        auto it = p_.core_kinds.find(rd->kind_name);
        if (it == p_.core_kinds.end()) {
          std::vector<std::string> names;
          for (const auto& [n, k] : p_.core_kinds) names.push_back(n);
          Diagnostic& e = diags_.Error("E0408", rd->kind_range, "unknown resource kind `" + rd->kind_name + "`");
          std::string hint = ClosestMatch(rd->kind_name, names);
          if (!hint.empty()) e.label = "did you mean `" + hint + "`?";
          e.help = "core kinds are cluster, datastore, training_job and endpoint; provider kinds are written TYPE.KIND";
          kind = AnyType();
        } else {
          kind = it->second;
        }
      } else {
        kind = KindFor(rd->provider_type, rd->kind_name, rd->kind_range);
      }
      mod->kind_of[d] = kind;
      TypeRef self = kind;
      if (rd->for_clause) self = MapOf(kind);
      else if (rd->if_cond) self = OptionalOf(kind);
      // Set before the body: a self-reference is a cycle, reported once.
      mod->decl_types[d] = self;
      if (rd->for_clause) BindFor(rd->for_clause.get(), ctx, rd->FullKind() + " `" + d->name + "`");
      if (rd->if_cond) CheckCond(rd->if_cond.get(), ctx, "the `if` condition of " + rd->FullKind() + " `" + d->name + "`");
      if (rd->body) {
        if (kind->kind == TypeKind::kKind && kind->schema) {
          CheckRecordBody(rd->body.get(), *kind->schema, ctx, rd->FullKind(), true, rd->name_range);
          if (rd->provider_type.empty() && (rd->kind_name == "training_job" || rd->kind_name == "endpoint")) {
            WarnRendezvousEnv(rd->body.get());
          }
        } else {
          for (const auto& item : rd->body->items) Infer(item.value.get(), ctx);
        }
      }
      break;
    }
  }
  state_[d] = 2;
}

void Checker::CheckModuleDecl(const ast::ModuleDecl* md, ModuleInfo* mod, Ctx& ctx) {
  const ast::ObjectItem* src = md->body ? md->body->Find("source") : nullptr;
  if (!src) {
    diags_.Error("E0417", md->name_range, "module `" + md->name + "` has no `source`")
        .help = "add `source = \"./modules/NAME\"` (or `std/NAME`, or `git::URL//DIR?ref=TAG`)";
    return;
  }
  const auto* lit = ast::As<ast::TemplateExpr>(src->value.get());
  if (!lit || !lit->IsLiteral()) {
    diags_.Error("E0417", src->value->range, "a module `source` must be a plain string")
        .help = "sources are resolved before evaluation, so they cannot use expressions";
    return;
  }
  std::string error, help;
  std::string dir = ResolveModuleSource(lit->LiteralText(), mod->module.dir, p_.root_dir, &error, &help);
  if (dir.empty()) {
    diags_.Error("E0417", src->value->range, error).help = help;
    return;
  }
  ModuleInfo* child = LoadAndCheck(dir, false, src->value->range);
  if (!child) return;
  mod->children[md] = child;
  // The module's value: a record of its outputs.
  std::vector<Field> outs;
  for (const auto& [name, od] : child->module.outputs) {
    Field f;
    f.name = name;
    auto it = child->output_types.find(od);
    f.type = it == child->output_types.end() ? AnyType() : it->second;
    f.sensitive = od->sensitive;
    outs.push_back(std::move(f));
  }
  TypeRef rec = RecordOf(std::move(outs), "module `" + md->name + "`");
  if (md->for_clause) mod->decl_types[md] = MapOf(rec);
  else if (md->if_cond) mod->decl_types[md] = OptionalOf(rec);
  else mod->decl_types[md] = rec;

  std::set<std::string> given;
  std::vector<std::string> input_names;
  std::map<std::string, const ast::InputDecl*> inputs;
  for (const ast::Decl* cd : child->module.decls) {
    if (const auto* in = ast::As<ast::InputDecl>(cd)) {
      inputs[in->name] = in;
      input_names.push_back(in->name);
    }
  }
  for (const auto& item : md->body->items) {
    if (item.key == "source") continue;
    if (item.key == "providers") {
      const auto* obj = ast::As<ast::ObjectExpr>(item.value.get());
      if (!obj) {
        diags_.Error("E0419", item.value->range, "`providers` must be an object `{ CHILD_NAME = PROVIDER }`");
        continue;
      }
      for (const auto& pi : obj->items) {
        const auto* n = ast::As<ast::NameExpr>(pi.value.get());
        auto it = n ? mod->module.names.find(n->name) : mod->module.names.end();
        if (!n || it == mod->module.names.end() || it->second->kind != ast::DeclKind::kProvider) {
          if (n && !mod->is_root) continue;  // may be a provider passed in from above
          Diagnostic& e = diags_.Error("E0419", pi.value->range, "`" + SourceText(sm_, pi.value->range) + "` is not a provider of this module");
          std::vector<std::string> names;
          for (const auto& [nm, dd] : mod->module.names) {
            if (dd->kind == ast::DeclKind::kProvider) names.push_back(nm);
          }
          std::string hint = n ? ClosestMatch(n->name, names) : "";
          if (!hint.empty()) e.label = "did you mean `" + hint + "`?";
          continue;
        }
        ctx.deps->push_back({it->second, pi.value->range});
      }
      continue;
    }
    auto it = inputs.find(item.key);
    if (it == inputs.end()) {
      Diagnostic& e = diags_.Error("E0418", item.key_range, "module `" + md->name + "` has no input `" + item.key + "`");
      std::string hint = ClosestMatch(item.key, input_names);
      if (!hint.empty()) e.label = "did you mean `" + hint + "`?";
      Infer(item.value.get(), ctx);
      continue;
    }
    given.insert(item.key);
    CheckAgainst(item.value.get(), child->input_types[it->second], ctx, "input `" + item.key + "` of module `" + md->name + "`");
  }
  for (const auto& [name, in] : inputs) {
    if (!in->default_value && !given.count(name)) {
      Diagnostic& e = diags_.Error("E0418", md->name_range, "module `" + md->name + "` needs input `" + name + "`");
      e.secondary.push_back({in->name_range, "declared here without a default"});
      e.help = "add `" + name + " = ...` to the module block";
    }
  }
}

void Checker::CheckRecordBody(const ast::ObjectExpr* body, const Type& record, Ctx& ctx,
                              const std::string& owner, bool is_resource, SourceRange missing_at) {
  // Keys seen so far (views into the AST: bodies are checked once per
  // resource, so no copies).
  std::unordered_map<std::string_view, const ast::ObjectItem*> seen;
  seen.reserve(body->items.size());
  for (const auto& item : body->items) {
    if (auto [it, ok] = seen.emplace(item.key, &item); !ok) {
      Diagnostic& d = diags_.Error("E0416", item.key_range, "`" + item.key + "` is set twice");
      d.secondary.push_back({it->second->key_range, "first set here"});
      continue;
    }
    if (is_resource && IsMeta(item.key)) {
      CheckMeta(item, record, ctx);
      continue;
    }
    const Field* f = record.FindField(item.key);
    if (!f) {
      if (record.open) {
        Infer(item.value.get(), ctx);
        continue;
      }
      bool is_provider = owner.rfind("provider ", 0) == 0;
      std::string word = is_resource ? "attribute" : is_provider ? "setting" : "field";
      Diagnostic& d = diags_.Error(is_resource || is_provider ? "E0412" : "E0409", item.key_range,
                                   "unknown " + word + " `" + item.key + "` " + (is_resource || is_provider ? "for " : "in ") + owner);
      std::vector<std::string> names;
      for (const auto& fl : record.fields) {
        if (!fl.computed) names.push_back(fl.name);
      }
      std::string hint = ClosestMatch(item.key, names);
      if (is_resource && (item.key == "count" || item.key == "for_each")) {
        // Terraform habits: repetition is part of a Kiln resource's header.
        d.label = "Kiln has no `" + item.key + "`";
        d.help = item.key == "count" ? "repeat a resource with `for` in its header: `KIND NAME for i in range(0, N) { ... }`"
                                     : "repeat a resource with `for` in its header: `KIND NAME for key, value in MAP { ... }`";
      } else if (!hint.empty()) d.label = "did you mean `" + hint + "`?";
      else d.help = owner + " has: " + [&] {
        std::string s;
        for (const auto& n : names) s += (s.empty() ? "" : ", ") + n;
        return s;
      }();
      Infer(item.value.get(), ctx);
      continue;
    }
    if (f->computed) {
      Diagnostic& d = diags_.Error("E0411", item.key_range, "`" + item.key + "` of " + owner + " is computed by the provider and cannot be set");
      d.help = "remove this line; read it as `NAME." + item.key + "` instead";
      Infer(item.value.get(), ctx);
      continue;
    }
    CheckAgainst(item.value.get(), f->type, ctx, "attribute `" + item.key + "` of " + owner);
  }
  for (const auto& f : record.fields) {
    if (f.Required() && !seen.count(std::string_view(f.name))) {
      Diagnostic& d = diags_.Error("E0410", missing_at, std::string("missing required ") + (is_resource ? "attribute `" : "field `") + f.name + "` " + (is_resource ? "for " : "in ") + owner);
      d.help = "add `" + f.name + " = ...` (" + TypeToString(f.type) + ")";
    }
  }
}

void Checker::CheckMeta(const ast::ObjectItem& item, const Type& schema, Ctx& ctx) {
  if (item.key == "provider") {
    const auto* n = ast::As<ast::NameExpr>(item.value.get());
    auto it = n ? ctx.mod->module.names.find(n->name) : ctx.mod->module.names.end();
    if (n && it != ctx.mod->module.names.end() && it->second->kind == ast::DeclKind::kProvider) {
      ctx.deps->push_back({it->second, item.value->range});
      return;
    }
    if (n && !ctx.mod->is_root && it == ctx.mod->module.names.end()) return;  // passed in by the parent
    Diagnostic& d = diags_.Error("E0419", item.value->range, "`" + SourceText(sm_, item.value->range) + "` is not a configured provider");
    std::vector<std::string> names;
    for (const auto& [nm, dd] : ctx.mod->module.names) {
      if (dd->kind == ast::DeclKind::kProvider) names.push_back(nm);
    }
    std::string hint = n ? ClosestMatch(n->name, names) : "";
    if (!hint.empty()) d.label = "did you mean `" + hint + "`?";
    d.help = "write the name of a `provider TYPE NAME { ... }` block of this module";
    return;
  }
  if (item.key == "depends_on") {
    const auto* list = ast::As<ast::ListExpr>(item.value.get());
    if (!list) {
      diags_.Error("E0421", item.value->range, "`depends_on` must be a list of resources or modules")
          .help = "write `depends_on = [pool, store]`";
      return;
    }
    for (const auto& e : list->items) {
      TypeRef t = NonOptional(Infer(e.get(), ctx));
      if (t->kind == TypeKind::kMap) t = t->element;
      if (t->kind != TypeKind::kKind && t->kind != TypeKind::kAny &&
          !(t->kind == TypeKind::kRecord && t->name.rfind("module", 0) == 0)) {
        diags_.Error("E0421", e->range, "`depends_on` lists resources or modules, found " + TypeToString(t));
      }
    }
    return;
  }
  // lifecycle
  const auto* obj = ast::As<ast::ObjectExpr>(item.value.get());
  if (!obj) {
    diags_.Error("E0421", item.value->range, "`lifecycle` must be a block")
        .help = "write `lifecycle { prevent_destroy = true }`";
    return;
  }
  for (const auto& li : obj->items) {
    if (li.key == "prevent_destroy" || li.key == "create_before_destroy") {
      TypeRef t = Infer(li.value.get(), ctx);
      if (!Assignable(T(TypeKind::kBool), t)) Mismatch(li.value->range, "lifecycle `" + li.key + "`", T(TypeKind::kBool), t, "");
    } else if (li.key == "ignore_changes") {
      const auto* l = ast::As<ast::ListExpr>(li.value.get());
      if (!l) {
        diags_.Error("E0421", li.value->range, "`ignore_changes` must be a list of attribute names");
        continue;
      }
      for (const auto& e : l->items) {
        std::string name;
        if (const auto* n = ast::As<ast::NameExpr>(e.get())) name = n->name;
        else if (const auto* s = ast::As<ast::TemplateExpr>(e.get()); s && s->IsLiteral()) name = s->LiteralText();
        if (name.empty()) {
          diags_.Error("E0421", e->range, "`ignore_changes` lists attribute names");
          continue;
        }
        if (!schema.open && !schema.FindField(name)) {
          Diagnostic& d = diags_.Error("E0412", e->range, "unknown attribute `" + name + "` in ignore_changes");
          std::string hint = ClosestMatch(name, schema.FieldNames());
          if (!hint.empty()) d.label = "did you mean `" + hint + "`?";
        }
      }
    } else if (li.key == "replace_triggered_by") {
      const auto* l = ast::As<ast::ListExpr>(li.value.get());
      if (!l) {
        diags_.Error("E0421", li.value->range, "`replace_triggered_by` must be a list of references");
        continue;
      }
      for (const auto& e : l->items) Infer(e.get(), ctx);
    } else {
      Diagnostic& d = diags_.Error("E0421", li.key_range, "unknown lifecycle setting `" + li.key + "`");
      std::string hint = ClosestMatch(li.key, {"prevent_destroy", "create_before_destroy", "ignore_changes", "replace_triggered_by"});
      if (!hint.empty()) d.label = "did you mean `" + hint + "`?";
    }
  }
}

// ---------------------------------------------------------------- ordering

void Checker::OrderModule(ModuleInfo* mod) {
  // Iterative DFS in source order; a back edge is a cycle.
  std::unordered_map<const ast::Decl*, int> color;
  std::vector<const ast::Decl*> stack;
  std::set<std::set<const ast::Decl*>> reported;
  std::function<void(const ast::Decl*)> visit = [&](const ast::Decl* d) {
    color[d] = 1;
    stack.push_back(d);
    for (const DeclRef& r : mod->deps[d]) {
      int c = color[r.target];
      if (c == 0) {
        visit(r.target);
      } else if (c == 1) {
        auto start = std::find(stack.begin(), stack.end(), r.target);
        std::vector<const ast::Decl*> cycle(start, stack.end());
        std::set<const ast::Decl*> members(cycle.begin(), cycle.end());
        if (!reported.insert(members).second) continue;
        std::string text;
        for (const ast::Decl* x : cycle) text += x->name + " -> ";
        text += r.target->name;
        Diagnostic& e = diags_.Error("E0430", r.range, "dependency cycle: " + text);
        e.label = "`" + d->name + "` refers to `" + r.target->name + "` here";
        for (size_t i = 0; i + 1 < cycle.size(); ++i) {
          for (const DeclRef& rr : mod->deps[cycle[i]]) {
            if (rr.target == cycle[i + 1]) {
              e.secondary.push_back({rr.range, "`" + cycle[i]->name + "` refers to `" + cycle[i + 1]->name + "` here"});
              break;
            }
          }
        }
        e.help = "break the cycle: a value cannot depend on itself";
      }
    }
    stack.pop_back();
    color[d] = 2;
    mod->order.push_back(d);
  };
  // Providers first: implicit provider selection needs every provider of
  // the module configured before any resource is evaluated.
  for (const ast::Decl* d : mod->module.decls) {
    if (d->kind != ast::DeclKind::kProvider) continue;
    mod->providers.push_back(d);
    if (color[d] == 0) visit(d);
  }
  for (const auto& [d, refs] : mod->deps) {
    for (const DeclRef& r : refs) {
      if (r.target != d) mod->referenced.insert(r.target);
    }
  }
  for (const ast::Decl* d : mod->module.decls) {
    if (color[d] == 0) visit(d);
  }
}

// ---------------------------------------------------------------- expressions

Diagnostic& Checker::Mismatch(SourceRange range, const std::string& what, const TypeRef& expected,
                              const TypeRef& found, const std::string& why) {
  // A string literal is named with its type: `found string "8"`.
  std::string found_text = found->kind == TypeKind::kLiteral ? "string " + TypeToString(found) : TypeToString(found);
  Diagnostic& d = diags_.Error("E0403", range, "mismatched types: " + what + " expects " +
                                                   TypeToString(expected) + ", found " + found_text);
  d.label = why.empty() ? "expected " + TypeToString(expected) + ", found " + found_text : why;
  TypeRef e = NonOptional(expected);
  TypeRef f = NonOptional(found);
  if (e->kind == TypeKind::kFloat && f->kind == TypeKind::kInt) return d;
  if (e->kind == TypeKind::kInt && f->kind == TypeKind::kFloat) d.help = "use floor(), ceil() or toint() to convert a float to an int";
  else if (e->kind == TypeKind::kDuration && IsNumeric(f)) d.help = "write a duration with a unit, e.g. `30s` or `2h`";
  else if (e->kind == TypeKind::kBytes && IsNumeric(f)) d.help = "write a size with a unit, e.g. `80GiB`";
  else if (e->kind == TypeKind::kString && f->kind != TypeKind::kString) d.help = "use tostring() or \"${...}\" to make a string";
  if (f->kind == TypeKind::kLiteral) {
    // `max_runtime = "10m"`, `nodes = "2"`: a number or quantity in quotes.
    syntax::NumberLiteral n = syntax::ParseNumberLiteral(f->text);
    bool number = !f->text.empty() && f->text[0] >= '0' && f->text[0] <= '9' && n.error == syntax::NumberLiteral::Error::kNone;
    bool fits = number && (n.unit.empty() ? IsNumeric(e) || e->kind == TypeKind::kRange
                                          : (ast::IsDurationUnit(n.unit_value) ? e->kind == TypeKind::kDuration : e->kind == TypeKind::kBytes));
    if (fits) d.help = "drop the quotes: write `" + f->text + "`";
  }
  return d;
}

void Checker::CheckGpuModelLiteral(const ast::Expr* e) {
  const auto* lit = ast::As<ast::TemplateExpr>(e);
  if (!lit || !lit->IsLiteral() || p_.catalog.models.empty()) return;
  if (p_.catalog.Find(lit->LiteralText())) return;
  Diagnostic& d = diags_.Error("E0415", e->range, "unknown GPU model `" + lit->LiteralText() + "`");
  std::string hint = p_.catalog.Closest(lit->LiteralText());
  if (!hint.empty()) d.label = "did you mean `" + hint + "`?";
  d.help = "GPU models are listed in the catalog, stdlib/gpus.kiln";
}

void Checker::CheckGpuExpr(const ast::Expr* e, Ctx& ctx) {
  // Alternatives: `["H100:8", "A100-80GB:8"]` (the first that fits) or
  // `{ any_of = [...] }` (the cheapest that fits).
  const ast::ListExpr* alternatives = ast::As<ast::ListExpr>(e);
  if (const auto* obj = ast::As<ast::ObjectExpr>(e); obj && obj->Find("any_of")) {
    for (const auto& item : obj->items) {
      if (item.key == "any_of") continue;
      diags_.Error("E0409", item.key_range, "`" + item.key + "` next to `any_of` in a gpu")
          .help = "write `{ any_of = [\"L4:1\", \"A10G:1\"] }` alone";
    }
    alternatives = ast::As<ast::ListExpr>(obj->Find("any_of")->value.get());
    if (!alternatives) {
      diags_.Error("E0415", obj->Find("any_of")->value->range, "`any_of` takes a list of GPU requests")
          .help = "write `{ any_of = [\"L4:1\", \"A10G:1\"] }`";
      return;
    }
  }
  if (alternatives) {
    if (alternatives->items.empty()) {
      diags_.Error("E0415", e->range, "a list of GPU alternatives needs at least one request")
          .help = "write `[\"H100:8\", \"A100-80GB:8\"]`: the first that fits wins";
    }
    for (const auto& item : alternatives->items) {
      if (ast::As<ast::ListExpr>(item.get())) {
        diags_.Error("E0415", item->range, "GPU alternatives do not nest");
        continue;
      }
      CheckGpuExpr(item.get(), ctx);
    }
    return;
  }
  if (const auto* lit = ast::As<ast::TemplateExpr>(e); lit && lit->IsLiteral()) {
    if (p_.catalog.models.empty()) return;
    GpuRequest g;
    std::string error, suggestion;
    if (!ParseGpuString(p_.catalog, lit->LiteralText(), &g, &error, &suggestion)) {
      Diagnostic& d = diags_.Error("E0415", e->range, error);
      if (!suggestion.empty()) d.label = "did you mean `" + suggestion + "`?";
      d.help = "write a GPU as \"MODEL:COUNT\" or \"MODEL:MIN..MAX\" with a model from stdlib/gpus.kiln";
    }
    return;
  }
  if (const auto* obj = ast::As<ast::ObjectExpr>(e)) {
    const ast::ObjectItem* model = nullptr;
    const ast::ObjectItem* memory = nullptr;
    for (const auto& item : obj->items) {
      if (item.key == "model") {
        model = &item;
        TypeRef t = Infer(item.value.get(), ctx);
        if (!IsStringy(t)) Mismatch(item.value->range, "gpu `model`", T(TypeKind::kString), t, "");
        CheckGpuModelLiteral(item.value.get());
      } else if (item.key == "memory") {
        memory = &item;
        // A size (at least) or a range of sizes (`24GiB..80GiB`).
        CheckAgainst(item.value.get(), UnionOf({T(TypeKind::kBytes), RangeOf(T(TypeKind::kBytes))}), ctx, "gpu `memory`");
      } else if (item.key == "count") {
        CheckAgainst(item.value.get(), UnionOf({T(TypeKind::kInt), T(TypeKind::kRange)}), ctx, "gpu `count`");
      } else {
        Diagnostic& d = diags_.Error("E0409", item.key_range, "unknown field `" + item.key + "` in a gpu");
        std::string hint = ClosestMatch(item.key, {"model", "memory", "count"});
        if (!hint.empty()) d.label = "did you mean `" + hint + "`?";
        Infer(item.value.get(), ctx);
      }
    }
    if (model && memory) {
      diags_.Error("E0415", e->range, "a gpu is requested by `model` or by `memory`, not both");
    } else if (!model && !memory) {
      diags_.Error("E0415", e->range, "a gpu needs a `model` or a `memory`")
          .help = "write `{ model = \"H100\", count = 8 }` or `{ memory = 40GiB, count = 2 }`";
    }
    return;
  }
  TypeRef t = Infer(e, ctx);
  if (!Assignable(T(TypeKind::kGpu), t)) Mismatch(e->range, "a gpu", T(TypeKind::kGpu), t, "");
}

void Checker::CheckAgainst(const ast::Expr* e, const TypeRef& target, Ctx& ctx, const std::string& what) {
  if (!e) return;
  TypeRef tgt = target;
  if (tgt->kind == TypeKind::kOptional) {
    if (e->kind == ast::ExprKind::kNull) return;
    tgt = tgt->element;
  }
  if (tgt->kind == TypeKind::kGpu) {
    CheckGpuExpr(e, ctx);
    return;
  }
  if (const auto* obj = ast::As<ast::ObjectExpr>(e)) {
    if (tgt->kind == TypeKind::kRecord) {
      CheckRecordBody(obj, *tgt, ctx, tgt->name.empty() ? "this record" : "`" + tgt->name + "`", false, e->range);
      return;
    }
    if (tgt->kind == TypeKind::kMap) {
      std::map<std::string, const ast::ObjectItem*> seen;
      for (const auto& item : obj->items) {
        if (auto [it, ok] = seen.emplace(item.key, &item); !ok) {
          Diagnostic& d = diags_.Error("E0416", item.key_range, "key `" + item.key + "` is set twice");
          d.secondary.push_back({it->second->key_range, "first set here"});
        }
        CheckAgainst(item.value.get(), tgt->element, ctx, "key `" + item.key + "` of " + what);
      }
      return;
    }
  }
  if (ast::As<ast::ObjectExpr>(e) && tgt->kind == TypeKind::kUnion) {
    // An object literal can only be the union's record alternative
    // (`datastore | Mount`): check it field by field against that.
    TypeRef record;
    int records = 0;
    for (const auto& a : tgt->alternatives) {
      if (a->kind == TypeKind::kRecord) {
        record = a;
        ++records;
      }
    }
    if (records == 1) {
      CheckAgainst(e, record, ctx, what);
      return;
    }
  }
  if (const auto* list = ast::As<ast::ListExpr>(e); list && tgt->kind == TypeKind::kList) {
    for (const auto& item : list->items) CheckAgainst(item.get(), tgt->element, ctx, "an element of " + what);
    return;
  }
  TypeRef found = Infer(e, ctx);
  std::string why;
  bool ok = Assignable(tgt, found, &why);
  // A literal string for a literal union must be one of its members.
  if (found->kind == TypeKind::kLiteral) {
    bool has_literals = tgt->kind == TypeKind::kLiteral ||
                        (tgt->kind == TypeKind::kUnion &&
                         std::any_of(tgt->alternatives.begin(), tgt->alternatives.end(),
                                     [](const TypeRef& a) { return a->kind == TypeKind::kLiteral; }));
    bool has_string = tgt->kind == TypeKind::kUnion &&
                      std::any_of(tgt->alternatives.begin(), tgt->alternatives.end(),
                                  [](const TypeRef& a) { return a->kind == TypeKind::kString; });
    if (has_literals && !has_string) {
      bool member = false;
      std::vector<std::string> members;
      auto consider = [&](const TypeRef& a) {
        if (a->kind != TypeKind::kLiteral) return;
        members.push_back(a->text);
        if (a->text == found->text) member = true;
      };
      if (tgt->kind == TypeKind::kLiteral) consider(tgt);
      for (const auto& a : tgt->alternatives) consider(a);
      if (!member) {
        Diagnostic& d = diags_.Error("E0403", e->range, "mismatched types: " + what + " expects " +
                                                            TypeToString(tgt) + ", found \"" + found->text + "\"");
        std::string hint = ClosestMatch(found->text, members);
        d.label = hint.empty() ? "not one of the allowed values" : "did you mean \"" + hint + "\"?";
        std::string allowed;
        for (const auto& m : members) allowed += (allowed.empty() ? "\"" : ", \"") + m + "\"";
        for (const auto& a : tgt->alternatives) {
          if (a->kind == TypeKind::kBool) allowed = "true, false, " + allowed;
          else if (a->kind != TypeKind::kLiteral) allowed += ", or a " + TypeToString(a);
        }
        d.help = "the allowed values are " + allowed;
        static const char* kStores[] = {"s3", "gcs", "azure", "r2", "bucket", "minio"};
        bool store_word = std::find_if(std::begin(kStores), std::end(kStores), [&](const char* w) { return found->text == w; }) != std::end(kStores);
        if (store_word && std::find(members.begin(), members.end(), "object") != members.end()) {
          d.help = "an object store is `type = \"object\"` with `store = \"" +
                   (found->text == "bucket" || found->text == "minio" ? std::string("s3") : found->text) + "\"` (and `bucket = \"NAME\"`)";
        }
        return;
      }
    }
  }
  if (!ok) Mismatch(e->range, what, target, found, why);
}

std::vector<std::string> Checker::NamesInScope(const Ctx& ctx) const {
  std::vector<std::string> names;
  for (const auto& [n, t] : ctx.locals) names.push_back(n);
  for (const auto& [n, d] : ctx.mod->module.names) {
    if (d->kind != ast::DeclKind::kType) names.push_back(n);
  }
  return names;
}

TypeRef Checker::LookupName(const std::string& name, SourceRange range, Ctx& ctx) {
  for (auto it = ctx.locals.rbegin(); it != ctx.locals.rend(); ++it) {
    if (it->first == name) return it->second;
  }
  const ast::Decl* found = ctx.mod->FindName(name);
  if (!found) {
    if (ctx.mod->module.MayDeclare(name)) return AnyType();  // its syntax error says why
    Diagnostic& d = diags_.Error("E0401", range, "unknown name `" + name + "`");
    std::string hint = ClosestMatch(name, NamesInScope(ctx));
    if (!hint.empty()) d.label = "did you mean `" + hint + "`?";
    if (ctx.mod->module.outputs.count(name)) d.help = "outputs cannot be read inside their own module";
    if (name == "var" || name == "local" || name == "data") {
      d.help = "Kiln refers to inputs and lets by their name alone: `x`, not `" + name + ".x`";
    }
    return AnyType();
  }
  const ast::Decl* d = found;
  if (d->kind == ast::DeclKind::kType) {
    Diagnostic& e = diags_.Error("E0401", range, "`" + name + "` is a type, not a value");
    e.secondary.push_back({d->name_range, "declared here"});
    return AnyType();
  }
  if (ctx.deps) ctx.deps->push_back({d, range});
  return DeclType(d, ctx.mod);
}

TypeRef Checker::Attr(const TypeRef& obj_in, const std::string& name, SourceRange range,
                      const std::string& obj_text) {
  TypeRef obj = NonOptional(obj_in);
  switch (obj->kind) {
    case TypeKind::kAny:
      return AnyType();
    case TypeKind::kKind: {
      if (!obj->schema || obj->schema->open) return AnyType();
      const Field* f = obj->schema->FindField(name);
      if (f) return f->type;
      Diagnostic& d = diags_.Error("E0412", range, "unknown attribute `" + name + "` for " + TypeToString(obj));
      std::string hint = ClosestMatch(name, obj->schema->FieldNames());
      if (!hint.empty()) d.label = "did you mean `" + hint + "`?";
      return AnyType();
    }
    case TypeKind::kRecord: {
      const Field* f = obj->FindField(name);
      if (f) return f->type;
      if (obj->open) return AnyType();
      bool is_module = obj->name.rfind("module `", 0) == 0;
      Diagnostic& d = diags_.Error("E0413", range, is_module ? obj->name + " has no output `" + name + "`"
                                                             : "no field `" + name + "` in " + TypeToString(obj));
      std::string hint = ClosestMatch(name, obj->FieldNames());
      if (!hint.empty()) d.label = "did you mean `" + hint + "`?";
      return AnyType();
    }
    case TypeKind::kMap:
      return obj->element;
    case TypeKind::kGpu:
      if (name == "model") return T(TypeKind::kString);
      if (name == "count") return T(TypeKind::kInt);
      if (name == "memory") return T(TypeKind::kBytes);
      break;
    case TypeKind::kRange:
      // `.max` of an open-ended range is null.
      if (name == "min") return obj->element ? obj->element : T(TypeKind::kInt);
      if (name == "max") return OptionalOf(obj->element ? obj->element : T(TypeKind::kInt));
      break;
    default:
      break;
  }
  Diagnostic& d = diags_.Error("E0413", range, "`" + obj_text + "` is " + TypeToString(obj) + ", which has no attribute `" + name + "`");
  if (obj->kind == TypeKind::kList) d.help = "index a list with [N]";
  return AnyType();
}

TypeRef Checker::InferBinary(const ast::BinaryExpr* b, Ctx& ctx) {
  TypeRef l = NonOptional(Infer(b->lhs.get(), ctx));
  TypeRef r = NonOptional(Infer(b->rhs.get(), ctx));
  using ast::BinaryOp;
  auto bad = [&]() {
    Diagnostic& d = diags_.Error("E0404", b->op_range, std::string("cannot apply `") + ast::BinaryOpText(b->op) + "` to " +
                                                             TypeToString(l) + " and " + TypeToString(r));
    d.label = TypeToString(l) + " " + ast::BinaryOpText(b->op) + " " + TypeToString(r);
    if ((l->kind == TypeKind::kDuration || l->kind == TypeKind::kBytes) &&
        (r->kind == TypeKind::kDuration || r->kind == TypeKind::kBytes)) {
      d.help = "durations and sizes are different quantities";
    }
    return AnyType();
  };
  bool any = l->kind == TypeKind::kAny || r->kind == TypeKind::kAny;
  auto num = [](const TypeRef& t) { return t->kind == TypeKind::kInt || t->kind == TypeKind::kFloat; };
  auto qty = [](const TypeRef& t) { return t->kind == TypeKind::kDuration || t->kind == TypeKind::kBytes; };
  auto str = [](const TypeRef& t) { return t->kind == TypeKind::kString || t->kind == TypeKind::kLiteral; };
  switch (b->op) {
    case BinaryOp::kAnd:
    case BinaryOp::kOr:
      if ((l->kind == TypeKind::kBool || l->kind == TypeKind::kAny) &&
          (r->kind == TypeKind::kBool || r->kind == TypeKind::kAny)) {
        return T(TypeKind::kBool);
      }
      return bad();
    case BinaryOp::kEq:
    case BinaryOp::kNe:
      return T(TypeKind::kBool);
    case BinaryOp::kLt:
    case BinaryOp::kLe:
    case BinaryOp::kGt:
    case BinaryOp::kGe:
      if (any || (num(l) && num(r)) || (qty(l) && l->kind == r->kind) || (str(l) && str(r))) return T(TypeKind::kBool);
      return bad();
    case BinaryOp::kRange:
      if ((l->kind == TypeKind::kInt || l->kind == TypeKind::kAny) &&
          (r->kind == TypeKind::kInt || r->kind == TypeKind::kAny)) {
        return T(TypeKind::kRange);
      }
      // `24GiB..80GiB`: a range of sizes.
      if ((l->kind == TypeKind::kBytes || l->kind == TypeKind::kAny) &&
          (r->kind == TypeKind::kBytes || r->kind == TypeKind::kAny)) {
        return RangeOf(T(TypeKind::kBytes));
      }
      return bad();
    case BinaryOp::kAdd:
      if (str(l) && str(r)) return T(TypeKind::kString);
      [[fallthrough]];
    case BinaryOp::kSub:
      if (any) return num(l) || num(r) ? AnyType() : (qty(l) ? l : qty(r) ? r : AnyType());
      if (num(l) && num(r)) return l->kind == TypeKind::kInt && r->kind == TypeKind::kInt ? T(TypeKind::kInt) : T(TypeKind::kFloat);
      if (qty(l) && l->kind == r->kind) return l;
      return bad();
    case BinaryOp::kMul:
      if (num(l) && num(r)) return l->kind == TypeKind::kInt && r->kind == TypeKind::kInt ? T(TypeKind::kInt) : T(TypeKind::kFloat);
      if (qty(l) && (num(r) || r->kind == TypeKind::kAny)) return l;
      if (qty(r) && (num(l) || l->kind == TypeKind::kAny)) return r;
      if (any) return AnyType();
      return bad();
    case BinaryOp::kDiv:
      if (num(l) && num(r)) return T(TypeKind::kFloat);
      if (qty(l) && num(r)) return l;
      if (qty(l) && l->kind == r->kind) return T(TypeKind::kFloat);
      if (any) return AnyType();
      return bad();
    case BinaryOp::kMod:
      if ((l->kind == TypeKind::kInt || l->kind == TypeKind::kAny) &&
          (r->kind == TypeKind::kInt || r->kind == TypeKind::kAny)) {
        return T(TypeKind::kInt);
      }
      return bad();
  }
  return AnyType();
}

TypeRef Checker::InferCall(const ast::CallExpr* c, Ctx& ctx) {
  const auto& table = BuiltinArities();
  auto it = std::find_if(table.begin(), table.end(), [&](const BuiltinArity& b) { return c->callee == b.name; });
  std::vector<TypeRef> args;
  for (const auto& a : c->args) args.push_back(Infer(a.get(), ctx));
  if (it == table.end()) {
    std::vector<std::string> names;
    for (const auto& b : table) names.push_back(b.name);
    Diagnostic& d = diags_.Error("E0405", c->callee_range, "unknown function `" + c->callee + "`");
    std::string hint = ClosestMatch(c->callee, names);
    if (!hint.empty()) d.label = "did you mean `" + hint + "`?";
    d.help = "Kiln has only the builtin functions of the language reference; there are no user functions";
    // Terraform functions with another Kiln form.
    static const std::pair<const char*, const char*> kTerraform[] = {
        {"toset", "use distinct(list) for a list without duplicates"},
        {"tolist", "lists need no conversion; write the list itself"},
        {"tomap", "maps need no conversion; write the object itself"},
        {"element", "index the list: `list[i]`"},
        {"coalesce", "use a conditional: `x != null ? x : y`"},
        {"setproduct", "use product(list...)"},
    };
    for (const auto& [tf, kiln] : kTerraform) {
      if (c->callee == tf) {
        d.label = "a Terraform function";
        d.help = kiln;
      }
    }
    return AnyType();
  }
  int n = static_cast<int>(args.size());
  if (n < it->min || (it->max >= 0 && n > it->max)) {
    std::string expected = it->max < 0 ? "at least " + std::to_string(it->min)
                           : it->min == it->max ? std::to_string(it->min)
                                                : std::to_string(it->min) + " or " + std::to_string(it->max);
    diags_.Error("E0406", c->range, "`" + c->callee + "` takes " + expected + " argument" +
                                        (expected == "1" ? "" : "s") + ", found " + std::to_string(n));
    return AnyType();
  }
  const std::string& f = c->callee;
  auto arg = [&](int i) { return NonOptional(args[i]); };
  auto expect = [&](int i, bool ok, const std::string& wanted) {
    if (ok || arg(i)->kind == TypeKind::kAny) return;
    Diagnostic& d = diags_.Error("E0403", c->args[i]->range, "mismatched types: argument " + std::to_string(i + 1) + " of `" + f +
                                                                  "` expects " + wanted + ", found " + TypeToString(args[i]));
    d.label = "expected " + wanted;
  };
  auto is = [&](int i, TypeKind k) { return arg(i)->kind == k; };
  auto is_str = [&](int i) { return IsStringy(args[i]); };
  auto is_num = [&](int i) { return is(i, TypeKind::kInt) || is(i, TypeKind::kFloat); };
  auto is_map = [&](int i) { return is(i, TypeKind::kMap) || is(i, TypeKind::kRecord); };
  auto elem = [&](int i) -> TypeRef {
    TypeRef t = arg(i);
    if (t->kind == TypeKind::kList || t->kind == TypeKind::kMap) return t->element;
    if (t->kind == TypeKind::kRecord) {
      TypeRef u;
      for (const auto& fl : t->fields) u = u ? Unify(u, fl.type) : fl.type;
      return u ? u : AnyType();
    }
    return AnyType();
  };
  const TypeRef kStr = T(TypeKind::kString);
  if (f == "length") {
    expect(0, is(0, TypeKind::kList) || is_map(0) || is_str(0), "a list, map or string");
    return T(TypeKind::kInt);
  }
  if (f == "keys") {
    expect(0, is_map(0), "a map");
    return ListOf(kStr);
  }
  if (f == "values") {
    expect(0, is_map(0), "a map");
    return ListOf(elem(0));
  }
  if (f == "merge") {
    TypeRef u;
    bool all_records = true;
    std::map<std::string, Field> fields;
    for (int i = 0; i < n; ++i) {
      expect(i, is_map(i), "a map");
      if (!is(i, TypeKind::kRecord)) all_records = false;
      else for (const auto& fl : arg(i)->fields) fields[fl.name] = fl;
      TypeRef e = elem(i);
      u = u ? Unify(u, e) : e;
    }
    if (all_records) {
      std::vector<Field> fs;
      for (auto& [k, v] : fields) fs.push_back(v);
      return RecordOf(std::move(fs));
    }
    return MapOf(u ? u : AnyType());
  }
  if (f == "concat") {
    TypeRef u;
    for (int i = 0; i < n; ++i) {
      expect(i, is(i, TypeKind::kList), "a list");
      u = u ? Unify(u, elem(i)) : elem(i);
    }
    return ListOf(u ? u : AnyType());
  }
  if (f == "product") {
    // A list of rows, one element of each list per row.
    TypeRef u;
    for (int i = 0; i < n; ++i) {
      expect(i, is(i, TypeKind::kList), "a list");
      u = u ? Unify(u, elem(i)) : elem(i);
    }
    if (u && u->kind == TypeKind::kLiteral) u = kStr;
    return ListOf(ListOf(u ? u : AnyType()));
  }
  if (f == "range") {
    bool all_int = true;
    for (int i = 0; i < n; ++i) {
      expect(i, is_num(i), "a number");
      all_int = all_int && !is(i, TypeKind::kFloat);
    }
    return ListOf(T(all_int ? TypeKind::kInt : TypeKind::kFloat));
  }
  if (f == "contains") {
    expect(0, is(0, TypeKind::kList), "a list");
    return T(TypeKind::kBool);
  }
  if (f == "lookup") {
    expect(0, is_map(0), "a map");
    expect(1, is_str(1), "a string");
    return Unify(elem(0), args[2]);
  }
  if (f == "flatten") {
    expect(0, is(0, TypeKind::kList), "a list");
    // flatten flattens fully: the element type under every level of lists.
    TypeRef e = NonOptional(elem(0));
    while (e->kind == TypeKind::kList) e = NonOptional(e->element);
    return ListOf(e);
  }
  if (f == "distinct" || f == "sort") {
    expect(0, is(0, TypeKind::kList), "a list");
    return arg(0)->kind == TypeKind::kList ? arg(0) : ListOf(AnyType());
  }
  if (f == "format") {
    expect(0, is_str(0), "a string");
    return kStr;
  }
  if (f == "join") {
    expect(0, is_str(0), "a string");
    expect(1, is(1, TypeKind::kList), "a list of strings");
    return kStr;
  }
  if (f == "split") {
    expect(0, is_str(0), "a string");
    expect(1, is_str(1), "a string");
    return ListOf(kStr);
  }
  if (f == "lower" || f == "upper" || f == "trim" || f == "sha256" || f == "file") {
    expect(0, is_str(0), "a string");
    return kStr;
  }
  if (f == "replace") {
    for (int i = 0; i < 3; ++i) expect(i, is_str(i), "a string");
    return kStr;
  }
  if (f == "startswith" || f == "endswith") {
    expect(0, is_str(0), "a string");
    expect(1, is_str(1), "a string");
    return T(TypeKind::kBool);
  }
  if (f == "substr") {
    expect(0, is_str(0), "a string");
    expect(1, is(1, TypeKind::kInt), "an int");
    expect(2, is(2, TypeKind::kInt), "an int");
    return kStr;
  }
  if (f == "min" || f == "max") {
    TypeRef u;
    for (int i = 0; i < n; ++i) {
      bool q = is(i, TypeKind::kDuration) || is(i, TypeKind::kBytes);
      expect(i, is_num(i) || q, "a number or quantity");
      u = u ? Unify(u, arg(i)) : arg(i);
    }
    if (u->kind == TypeKind::kAny && n > 1) {
      bool mixed = false;
      for (int i = 1; i < n; ++i) {
        if (arg(i)->kind != TypeKind::kAny && arg(0)->kind != TypeKind::kAny && !(is_num(0) && is_num(i)) && arg(i)->kind != arg(0)->kind) mixed = true;
      }
      if (mixed) diags_.Error("E0403", c->range, "mismatched types: the arguments of `" + f + "` must be of one kind");
    }
    return u;
  }
  if (f == "abs") {
    expect(0, is_num(0) || is(0, TypeKind::kDuration) || is(0, TypeKind::kBytes), "a number");
    return arg(0);
  }
  if (f == "ceil" || f == "floor") {
    expect(0, is_num(0), "a number");
    return T(TypeKind::kInt);
  }
  if (f == "tostring" || f == "jsonencode") return kStr;
  if (f == "toint") return T(TypeKind::kInt);
  if (f == "tofloat") return T(TypeKind::kFloat);
  if (f == "jsondecode") {
    expect(0, is_str(0), "a string");
    return AnyType();
  }
  if (f == "seconds" || f == "hours") {
    expect(0, is(0, TypeKind::kDuration), "a duration");
    return T(TypeKind::kFloat);
  }
  if (f == "gib") {
    expect(0, is(0, TypeKind::kBytes), "bytes");
    return T(TypeKind::kFloat);
  }
  if (f == "env") {
    expect(0, is_str(0), "a string");
    if (n > 1) expect(1, is_str(1), "a string");
    return kStr;
  }
  if (f == "gpu_memory") {
    expect(0, is_str(0), "a GPU model name");
    CheckGpuModelLiteral(c->args[0].get());
    return T(TypeKind::kBytes);
  }
  if (f == "gpu_price") {
    expect(0, is_str(0), "a GPU model name");
    if (n > 1) expect(1, is(1, TypeKind::kBool), "a bool (spot)");
    CheckGpuModelLiteral(c->args[0].get());
    return T(TypeKind::kFloat);
  }
  return AnyType();
}

TypeRef Checker::Infer(const ast::Expr* e, Ctx& ctx) {
  if (!e) return AnyType();
  switch (e->kind) {
    case ast::ExprKind::kNull:
      // A literal whose syntax error was reported stands for any type.
      return static_cast<const ast::NullExpr*>(e)->from_error ? AnyType() : T(TypeKind::kNull);
    case ast::ExprKind::kBool:
      return T(TypeKind::kBool);
    case ast::ExprKind::kInt:
      return T(TypeKind::kInt);
    case ast::ExprKind::kFloat:
      return T(TypeKind::kFloat);
    case ast::ExprKind::kQuantity:
      return ast::IsDurationUnit(static_cast<const ast::QuantityExpr*>(e)->unit) ? T(TypeKind::kDuration)
                                                                                   : T(TypeKind::kBytes);
    case ast::ExprKind::kTemplate: {
      const auto* t = static_cast<const ast::TemplateExpr*>(e);
      if (t->IsLiteral()) return LiteralType(t->LiteralText());
      for (const auto& part : t->parts) {
        if (!part.expr) continue;
        TypeRef pt = NonOptional(Infer(part.expr.get(), ctx));
        if (pt->kind == TypeKind::kList || pt->kind == TypeKind::kMap || pt->kind == TypeKind::kRecord) {
          Diagnostic& d = diags_.Error("E0403", part.expr->range, "cannot interpolate " + TypeToString(pt) + " into a string");
          d.help = "use join() for lists or jsonencode() for maps";
        }
      }
      return T(TypeKind::kString);
    }
    case ast::ExprKind::kName: {
      const auto* n = static_cast<const ast::NameExpr*>(e);
      return LookupName(n->name, e->range, ctx);
    }
    case ast::ExprKind::kGetAttr: {
      const auto* g = static_cast<const ast::GetAttrExpr*>(e);
      TypeRef obj = Infer(g->object.get(), ctx);
      return Attr(obj, g->name, g->name_range.valid() ? g->name_range : e->range, SourceText(sm_, g->object->range));
    }
    case ast::ExprKind::kIndex: {
      const auto* ix = static_cast<const ast::IndexExpr*>(e);
      TypeRef obj = NonOptional(Infer(ix->object.get(), ctx));
      TypeRef idx = NonOptional(Infer(ix->index.get(), ctx));
      switch (obj->kind) {
        case TypeKind::kAny:
          return AnyType();
        case TypeKind::kList:
          if (idx->kind != TypeKind::kInt && idx->kind != TypeKind::kAny) Mismatch(ix->index->range, "a list index", T(TypeKind::kInt), idx, "");
          return obj->element;
        case TypeKind::kMap:
          if (!IsStringy(idx)) Mismatch(ix->index->range, "a map key", T(TypeKind::kString), idx, "");
          return obj->element;
        case TypeKind::kRecord:
          if (idx->kind == TypeKind::kLiteral) return Attr(obj, idx->text, ix->index->range, SourceText(sm_, ix->object->range));
          if (!IsStringy(idx)) Mismatch(ix->index->range, "a key", T(TypeKind::kString), idx, "");
          return AnyType();
        default:
          diags_.Error("E0414", e->range, "cannot index " + TypeToString(obj))
              .help = "only lists, maps and records can be indexed";
          return AnyType();
      }
    }
    case ast::ExprKind::kCall:
      return InferCall(static_cast<const ast::CallExpr*>(e), ctx);
    case ast::ExprKind::kUnary: {
      const auto* u = static_cast<const ast::UnaryExpr*>(e);
      TypeRef t = NonOptional(Infer(u->operand.get(), ctx));
      if (u->op == ast::UnaryOp::kOpenRange) {
        // `8..`, `32GiB..`: a minimum without a maximum.
        if (t->kind == TypeKind::kInt || t->kind == TypeKind::kAny) return T(TypeKind::kRange);
        if (t->kind == TypeKind::kBytes) return RangeOf(t);
        diags_.Error("E0404", e->range, "an open-ended range `MIN..` needs an int or bytes minimum, not " + TypeToString(t))
            .help = "write `8..` (at least 8) or `32GiB..` (at least 32GiB)";
        return AnyType();
      }
      if (t->kind == TypeKind::kAny) return u->op == ast::UnaryOp::kNot ? T(TypeKind::kBool) : t;
      if (u->op == ast::UnaryOp::kNot) {
        if (t->kind != TypeKind::kBool) diags_.Error("E0404", e->range, "cannot apply `!` to " + TypeToString(t));
        return T(TypeKind::kBool);
      }
      if (t->kind != TypeKind::kInt && t->kind != TypeKind::kFloat && t->kind != TypeKind::kDuration && t->kind != TypeKind::kBytes) {
        diags_.Error("E0404", e->range, "cannot negate " + TypeToString(t));
        return AnyType();
      }
      return t;
    }
    case ast::ExprKind::kBinary:
      return InferBinary(static_cast<const ast::BinaryExpr*>(e), ctx);
    case ast::ExprKind::kConditional: {
      const auto* c = static_cast<const ast::ConditionalExpr*>(e);
      CheckCond(c->cond.get(), ctx, "a condition");
      TypeRef a = Infer(c->then_expr.get(), ctx);
      TypeRef b = Infer(c->else_expr.get(), ctx);
      return Unify(a, b);
    }
    case ast::ExprKind::kList: {
      const auto* l = static_cast<const ast::ListExpr*>(e);
      TypeRef u;
      for (const auto& item : l->items) {
        TypeRef t = Infer(item.get(), ctx);
        u = u ? Unify(u, t) : t;
      }
      if (u && u->kind == TypeKind::kLiteral) u = T(TypeKind::kString);
      return ListOf(u ? u : AnyType());
    }
    case ast::ExprKind::kObject: {
      const auto* o = static_cast<const ast::ObjectExpr*>(e);
      std::vector<Field> fields;
      std::map<std::string, const ast::ObjectItem*> seen;
      for (const auto& item : o->items) {
        TypeRef t = Infer(item.value.get(), ctx);
        if (auto [it, ok] = seen.emplace(item.key, &item); !ok) {
          Diagnostic& d = diags_.Error("E0416", item.key_range, "key `" + item.key + "` is set twice");
          d.secondary.push_back({it->second->key_range, "first set here"});
          continue;
        }
        Field f;
        f.name = item.key;
        f.type = t->kind == TypeKind::kLiteral ? T(TypeKind::kString) : t;
        fields.push_back(std::move(f));
      }
      return RecordOf(std::move(fields));
    }
    case ast::ExprKind::kFor: {
      const auto* f = static_cast<const ast::ForExpr*>(e);
      ast::ForClause clause;
      size_t depth = ctx.locals.size();
      // Reuse the resource `for` binding rules.
      TypeRef coll = NonOptional(Infer(f->collection.get(), ctx));
      TypeRef key = AnyType(), value = AnyType();
      if (coll->kind == TypeKind::kList) {
        key = T(TypeKind::kInt);
        value = coll->element;
      } else if (coll->kind == TypeKind::kMap) {
        key = T(TypeKind::kString);
        value = coll->element;
      } else if (coll->kind == TypeKind::kRecord) {
        key = T(TypeKind::kString);
        for (const auto& fl : coll->fields) value = value->kind == TypeKind::kAny ? fl.type : Unify(value, fl.type);
      } else if (coll->kind != TypeKind::kAny) {
        diags_.Error("E0422", f->collection->range, "`for` needs a list or a map, found " + TypeToString(coll));
      }
      if (!f->key_var.empty()) ctx.locals.push_back({f->key_var, key});
      ctx.locals.push_back({f->value_var, value});
      if (f->cond) CheckCond(f->cond.get(), ctx, "a `for` filter");
      TypeRef result;
      if (f->is_map) {
        TypeRef k = Infer(f->key.get(), ctx);
        if (!IsStringy(k)) Mismatch(f->key->range, "a map key", T(TypeKind::kString), k, "");
        TypeRef v = Infer(f->value.get(), ctx);
        result = MapOf(v->kind == TypeKind::kLiteral ? T(TypeKind::kString) : v);
      } else {
        TypeRef v = Infer(f->value.get(), ctx);
        result = ListOf(v->kind == TypeKind::kLiteral ? T(TypeKind::kString) : v);
      }
      ctx.locals.resize(depth);
      return result;
    }
  }
  return AnyType();
}

}  // namespace

std::unique_ptr<Program> CheckProgramWith(const std::string& root_dir, SourceManager& sm,
                                          std::function<const ProviderSchema*(const std::string&)> schemas,
                                          const PreludeEvaluator& evaluate_prelude, Diagnostics& diags,
                                          bool allow_empty_root) {
  auto program = std::make_unique<Program>();
  program->sm = &sm;
  std::error_code ec;
  program->root_dir = fs::weakly_canonical(fs::absolute(root_dir, ec), ec).string();
  program->provider_schema = std::move(schemas);
  Checker checker(*program, evaluate_prelude, diags);
  if (!checker.LoadPrelude()) return program;
  if (!fs::is_directory(program->root_dir, ec)) {
    diags.Error("E0417", SourceRange{}, "no such directory: " + root_dir);
    return program;
  }
  program->root = checker.LoadAndCheck(program->root_dir, true, SourceRange{});
  if (program->root && program->root->module.files.empty() && !allow_empty_root) {
    diags.Error("E0417", SourceRange{}, "no .kiln files in " + program->root_dir)
        .help = "run kiln in a directory with a configuration, or pass -C DIR";
  }
  return program;
}

TypeRef CheckExpressionInRoot(Program& program, const ast::Expr* expr, Diagnostics& diags) {
  Checker checker(program, diags);
  Ctx ctx;
  ctx.mod = program.root;
  return checker.Infer(expr, ctx);
}

}  // namespace kiln

namespace kiln {

TypeRef ResolveTypeText(Program& program, const std::string& text, Diagnostics& diags) {
  ast::TypeExprPtr te = ParseTypeText(*program.sm, "type", text, diags);
  if (!te) return AnyType();
  Checker checker(program, diags);
  return checker.ResolveType(te.get(), program.root ? program.root : program.prelude);
}

}  // namespace kiln
