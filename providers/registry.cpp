#include "providers/registry.h"

#include <limits.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <set>

#include "core/hash.h"
#include "core/suggest.h"
#include "providers/discovery.h"
#include "providers/kubernetes/kubernetes_provider.h"
#include "providers/local/local_provider.h"
#include "providers/rpc/rpc_provider.h"
#include "providers/slurm/slurm_provider.h"

namespace kiln {

namespace fs = std::filesystem;

namespace {

struct BuiltinTable {
  std::mutex mu;
  std::map<std::string, ProviderFactory> factories;
};

BuiltinTable& Builtins() {
  // Built-ins linked into kiln are registered here rather than through
  // static initialisers, which a static library would silently drop.
  static BuiltinTable* table = [] {
    auto* t = new BuiltinTable;
    t->factories[kDefaultProviderType] = [] { return NewLocalProvider(); };
    t->factories["slurm"] = [] { return NewSlurmProvider(); };
    t->factories["kubernetes"] = [] { return NewKubernetesProvider(); };
    return t;
  }();
  return *table;
}

ProviderFactory FindBuiltin(const std::string& type) {
  BuiltinTable& t = Builtins();
  std::lock_guard<std::mutex> lock(t.mu);
  auto it = t.factories.find(type);
  return it == t.factories.end() ? nullptr : it->second;
}

std::string SelfDir() {
  char buf[PATH_MAX];
  ssize_t n = readlink("/proc/self/exe", buf, sizeof buf - 1);
  if (n <= 0) return "";
  buf[n] = 0;
  return fs::path(buf).parent_path().string();
}

ProviderDiagnostic Error(std::string summary, std::string detail = "") {
  return {Severity::kError, std::move(summary), std::move(detail), {}};
}

}  // namespace

void RegisterBuiltinProvider(const std::string& type, ProviderFactory factory) {
  BuiltinTable& t = Builtins();
  std::lock_guard<std::mutex> lock(t.mu);
  t.factories[type] = std::move(factory);
}

std::vector<std::string> BuiltinProviderTypes() {
  BuiltinTable& t = Builtins();
  std::lock_guard<std::mutex> lock(t.mu);
  std::vector<std::string> out;
  for (const auto& [type, f] : t.factories) out.push_back(type);
  return out;
}

std::vector<std::string> PluginSearchDirs(const RegistryOptions& options) {
  std::vector<std::string> dirs;
  dirs.push_back((fs::path(options.working_dir) / ".kiln" / "providers").string());
  std::vector<std::string> path = options.search_path;
  if (path.empty()) {
    if (const char* env = std::getenv("KILN_PROVIDER_PATH")) {
      std::string s = env;
      size_t start = 0;
      while (start <= s.size()) {
        size_t colon = s.find(':', start);
        std::string entry = s.substr(start, colon == std::string::npos ? std::string::npos
                                                                       : colon - start);
        if (!entry.empty()) path.push_back(entry);
        if (colon == std::string::npos) break;
        start = colon + 1;
      }
    }
  }
  for (const auto& p : path) dirs.push_back(p);
  std::string self = options.kiln_binary_dir.empty() ? SelfDir() : options.kiln_binary_dir;
  if (!self.empty()) dirs.push_back(self);
  return dirs;
}

std::string FindPlugin(const std::string& type, const RegistryOptions& options,
                       std::vector<std::string>* searched) {
  for (const auto& dir : PluginSearchDirs(options)) {
    if (searched) searched->push_back(dir);
    fs::path candidate = fs::path(dir) / ("kiln-provider-" + type);
    std::error_code ec;
    // Anything there counts, even when not executable: starting it then
    // says so, instead of silently picking a later one.
    if (fs::exists(candidate, ec)) return candidate.string();
  }
  return "";
}

std::vector<PluginFile> ListPlugins(const RegistryOptions& options) {
  std::map<std::string, std::string> found;
  const std::string prefix = "kiln-provider-";
  for (const auto& dir : PluginSearchDirs(options)) {
    std::error_code ec;
    std::vector<std::string> names;
    for (fs::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec)) {
      std::string name = it->path().filename().string();
      if (name.rfind(prefix, 0) == 0 && name.size() > prefix.size()) names.push_back(name);
    }
    std::sort(names.begin(), names.end());
    for (const auto& name : names) {
      std::string type = name.substr(prefix.size());
      if (!found.count(type)) found[type] = (fs::path(dir) / name).string();
    }
  }
  std::vector<PluginFile> out;
  for (const auto& [type, path] : found) out.push_back({type, path});
  return out;
}

std::string Sha256File(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return "";
  Sha256Builder sha;
  char buf[65536];
  while (in) {
    in.read(buf, sizeof buf);
    std::streamsize n = in.gcount();
    if (n > 0) sha.Update(std::string_view(buf, static_cast<size_t>(n)));
  }
  return ToHex(sha.Final());
}

// One entry per provider type (its schema, and an unconfigured spare object
// that the first instance takes over) and one per instance address. Each
// entry has its own mutex so that a slow plugin start does not block
// Instance() calls for providers that are already running.
struct ProviderRegistry::Impl {
  struct TypeEntry {
    std::mutex mu;
    bool resolved = false;
    ProviderSchema schema;
    std::string origin;
    std::unique_ptr<Provider> spare;
    ProviderDiagnostics error;  // why it could not be started (sticky)
  };
  struct InstanceEntry {
    std::mutex mu;
    bool resolved = false;
    std::unique_ptr<Provider> provider;
    ProviderDiagnostics error;
  };

  RegistryOptions options;
  mutable std::mutex mu;
  std::map<std::string, std::shared_ptr<TypeEntry>> types;
  std::map<std::string, std::shared_ptr<InstanceEntry>> instances;

  std::shared_ptr<TypeEntry> Type(const std::string& type) {
    std::lock_guard<std::mutex> lock(mu);
    auto& e = types[type];
    if (!e) e = std::make_shared<TypeEntry>();
    return e;
  }

  // A new, unconfigured provider object of `type`.
  std::unique_ptr<Provider> Create(const std::string& type, ProviderDiagnostics* diags) {
    if (ProviderFactory factory = FindBuiltin(type)) {
      auto p = factory();
      if (!p) diags->push_back(Error("built-in provider `" + type + "` failed to start"));
      return p;
    }
    std::vector<std::string> searched;
    std::string path = FindPlugin(type, options, &searched);
    if (path.empty()) {
      std::string where;
      for (const auto& d : searched) where += "\n  " + d;
      std::vector<std::string> known = BuiltinProviderTypes();
      for (const auto& p : ListPlugins(options)) known.push_back(p.type);
      std::string hint = ClosestMatch(type, known);
      diags->push_back(Error(
          "unknown provider `" + type + "`: it is not built in and no executable kiln-provider-" +
              type + " was found" + (hint.empty() ? "" : " (did you mean `" + hint + "`?)"),
          "looked in:" + where +
              "\ninstall the plugin into .kiln/providers/ or a directory on $KILN_PROVIDER_PATH"));
      return nullptr;
    }
    rpc::PluginOptions po;
    po.type = type;
    po.path = path;
    po.call_timeout_ms = options.call_timeout_ms;
    po.initialize_timeout_ms = std::min(options.call_timeout_ms, 30 * 1000);
    fs::path logs = fs::path(options.working_dir) / ".kiln";
    std::error_code ec;
    if (fs::is_directory(logs, ec)) {
      fs::create_directories(logs / "logs", ec);
      if (!ec) po.log_path = (logs / "logs" / ("provider-" + type + ".log")).string();
    }
    return rpc::StartPlugin(po, diags);
  }

  // Resolves the type entry (under its mutex); false if it cannot start.
  bool Resolve(const std::string& type, TypeEntry& e, ProviderDiagnostics* diags) {
    if (e.resolved) {
      diags->insert(diags->end(), e.error.begin(), e.error.end());
      return e.error.empty() || !HasErrors(e.error);
    }
    e.resolved = true;
    ProviderDiagnostics d;
    e.spare = Create(type, &d);
    if (e.spare) {
      e.schema = e.spare->Schema();
      e.origin = e.spare->Origin();
    }
    e.error = d;
    diags->insert(diags->end(), d.begin(), d.end());
    return e.spare != nullptr;
  }
};

ProviderRegistry::ProviderRegistry(RegistryOptions options) : impl_(std::make_unique<Impl>()) {
  impl_->options = std::move(options);
}

ProviderRegistry::~ProviderRegistry() { ShutdownAll(); }

const ProviderSchema* ProviderRegistry::SchemaFor(const std::string& type,
                                                  ProviderDiagnostics* diags) {
  auto e = impl_->Type(type);
  std::lock_guard<std::mutex> lock(e->mu);
  if (!impl_->Resolve(type, *e, diags)) return nullptr;
  return &e->schema;  // stable: entries are never erased until destruction
}

Provider* ProviderRegistry::Instance(const ProviderInstance& instance, ProviderDiagnostics* diags) {
  std::shared_ptr<Impl::InstanceEntry> ie;
  {
    std::lock_guard<std::mutex> lock(impl_->mu);
    auto& slot = impl_->instances[instance.address];
    if (!slot) slot = std::make_shared<Impl::InstanceEntry>();
    ie = slot;
  }
  std::lock_guard<std::mutex> lock(ie->mu);
  if (ie->resolved) {
    diags->insert(diags->end(), ie->error.begin(), ie->error.end());
    return ie->provider.get();
  }
  ie->resolved = true;
  ProviderDiagnostics d;
  std::unique_ptr<Provider> p;
  {
    auto te = impl_->Type(instance.type);
    std::lock_guard<std::mutex> tlock(te->mu);
    if (impl_->Resolve(instance.type, *te, &d)) {
      p = std::move(te->spare);  // the first instance takes the started one
      if (!p) p = impl_->Create(instance.type, &d);
    }
  }
  if (p) {
    ConfigureResponse cr = p->Configure(ConfigureRequest{instance.config});
    for (auto& diag : cr.diagnostics) {
      if (diag.summary.find(instance.address) == std::string::npos &&
          diag.summary.find("provider `") == std::string::npos) {
        diag.summary = instance.address + ": " + diag.summary;
      }
      d.push_back(diag);
    }
    if (HasErrors(cr.diagnostics)) {
      p->Shutdown();
      p.reset();
    }
  }
  ie->provider = std::move(p);
  ie->error = d;
  diags->insert(diags->end(), d.begin(), d.end());
  return ie->provider.get();
}

std::vector<ProviderInfo> ProviderRegistry::Started() const {
  std::lock_guard<std::mutex> lock(impl_->mu);
  std::vector<ProviderInfo> out;
  for (const auto& [type, e] : impl_->types) {
    std::lock_guard<std::mutex> tlock(e->mu);
    if (!e->resolved || e->origin.empty()) continue;
    ProviderInfo info{type, e->origin, e->schema.version, {}};
    for (const auto& [kind, k] : e->schema.kinds) info.kinds.push_back(kind);
    out.push_back(info);
  }
  return out;
}

void ProviderRegistry::ShutdownAll() {
  // Entries stay (schemas handed out by SchemaFor remain valid); only the
  // provider objects and processes go.
  std::vector<std::shared_ptr<Impl::TypeEntry>> types;
  std::vector<std::shared_ptr<Impl::InstanceEntry>> instances;
  {
    std::lock_guard<std::mutex> lock(impl_->mu);
    for (auto& [addr, ie] : impl_->instances) instances.push_back(ie);
    for (auto& [type, te] : impl_->types) types.push_back(te);
  }
  for (auto& ie : instances) {
    std::lock_guard<std::mutex> lock(ie->mu);
    if (ie->provider) ie->provider->Shutdown();
    ie->provider.reset();
    ie->resolved = true;
    ie->error = {Error("the provider registry has been shut down")};
  }
  for (auto& te : types) {
    std::lock_guard<std::mutex> lock(te->mu);
    if (te->spare) te->spare->Shutdown();
    te->spare.reset();
  }
}

}  // namespace kiln
