#include "cli/backend.h"

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "cli/inputs.h"
#include "providers/registry.h"

namespace kiln::cli {

namespace fs = std::filesystem;

std::string CurrentWorkspace(const Context& ctx) {
  if (!ctx.workspace.empty()) return ctx.workspace;
  if (const char* e = std::getenv("KILN_WORKSPACE"); e && *e) return e;
  std::ifstream in(".kiln/workspace");
  std::string name;
  if (in && std::getline(in, name) && !name.empty()) return name;
  return kDefaultWorkspace;
}

std::string WorkspaceStatePath(const std::string& path, const std::string& workspace) {
  if (workspace == kDefaultWorkspace) return path;
  fs::path p(path);
  fs::path dir = p.parent_path().empty() ? fs::path(".") : p.parent_path();
  return (dir / "workspaces" / workspace / p.filename()).string();
}

namespace {

int KeepHistory(const BackendConfig& backend, int fallback) {
  const auto& c = backend.config;
  if (c.is_object() && c.contains("keep_history") && c["keep_history"].is_number_integer())
    return c["keep_history"].get<int>();
  return fallback;
}

std::string Setting(const BackendConfig& backend, const std::string& name, const std::string& fallback) {
  const auto& c = backend.config;
  if (c.is_object() && c.contains(name) && c[name].is_string()) return c[name].get<std::string>();
  return fallback;
}

}  // namespace

std::unique_ptr<state::StateStore> OpenStore(const BackendConfig& backend, const std::string& workspace,
                                             Diagnostics& diags) {
  if (backend.type == "postgres") {
    std::string conn = Setting(backend, "conn", "");
    auto pg = state::OpenPostgresBackend(conn, Setting(backend, "schema", "kiln"), workspace,
                                         KeepHistory(backend, 0), diags);
    if (!pg) return nullptr;
    return std::make_unique<state::StateStore>(std::move(pg));
  }
  std::string path = WorkspaceStatePath(Setting(backend, "path", state::kDefaultStatePath), workspace);
  return std::make_unique<state::StateStore>(
      std::make_unique<state::LocalBackend>(path, KeepHistory(backend, 100)));
}

bool ReadBackendConfig(const Context& ctx, BackendConfig* out) {
  *out = BackendConfig{};
  bool any = false, mentions_backend = false;
  std::error_code ec;
  for (fs::directory_iterator it(".", ec), end; !ec && it != end; it.increment(ec)) {
    if (it->path().extension() != ".kiln" || !it->is_regular_file(ec)) continue;
    any = true;
    std::ifstream in(it->path());
    std::stringstream ss;
    ss << in.rdbuf();
    if (ss.str().find("backend") != std::string::npos) mentions_backend = true;
  }
  if (!any || !mentions_backend) return true;  // the local default
  ProviderRegistry registry;
  InputFlags no_flags;
  CompileOptions options;
  if (!MakeCompileOptions(ctx, no_flags, ".", registry, &options)) return false;
  SourceManager sm;
  Diagnostics diags;
  std::unique_ptr<CompiledConfig> config = Compile(options, sm, diags);
  if (!config) {
    ctx.Report(diags, sm);
    ctx.Fail("cannot tell which state backend the configuration uses (it does not compile); "
             "fix the errors above, or pass --state PATH for a local state file");
    return false;
  }
  Diagnostics ignored;
  ConfigGraph g = config->Evaluate([](const std::string&) { return nullptr; }, ignored);
  *out = g.backend;
  return true;
}

std::unique_ptr<state::StateStore> OpenCommandStore(const Context& ctx, const std::string& state_flag) {
  Diagnostics diags;
  std::unique_ptr<state::StateStore> store;
  if (!state_flag.empty()) {
    BackendConfig local;
    local.config = {{"path", state_flag}};
    store = OpenStore(local, kDefaultWorkspace, diags);
  } else {
    BackendConfig backend;
    if (!ReadBackendConfig(ctx, &backend)) return nullptr;
    store = OpenStore(backend, CurrentWorkspace(ctx), diags);
  }
  if (!store) {
    SourceManager sm;
    ctx.Report(diags, sm);
  }
  return store;
}

}  // namespace kiln::cli
