// kiln workspace list|new|select|delete and kiln state migrate: several
// states from one configuration (dev, staging, prod), in either backend.
#include <sys/stat.h>

#include <algorithm>
#include <cctype>
#include <filesystem>
#include <fstream>

#include "cli/backend.h"
#include "cli/commands.h"

namespace kiln::cli {

namespace {

namespace fs = std::filesystem;
namespace st = kiln::state;

constexpr char kSelectedFile[] = ".kiln/workspace";

void Report(const Context& ctx, const Diagnostics& diags) {
  SourceManager sm;
  ctx.Report(diags, sm);
}

bool ValidName(const Context& ctx, const std::string& name) {
  bool ok = !name.empty() && name.size() <= 64 && std::isalnum(static_cast<unsigned char>(name[0])) &&
            std::all_of(name.begin(), name.end(), [](char c) {
              return std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_';
            });
  if (!ok) ctx.Fail("`" + name + "` is not a workspace name (letters, digits, - and _, starting with a letter or digit)");
  return ok;
}

// Every workspace with a state, "default" always included, sorted.
bool ListAll(const Context& ctx, const BackendConfig& backend, std::vector<std::string>* out) {
  Diagnostics diags;
  out->assign({kDefaultWorkspace});
  if (backend.type == "postgres") {
    auto store = OpenStore(backend, kDefaultWorkspace, diags);
    std::vector<std::string> names;
    if (!store || !store->backend().ListWorkspaces(&names, diags)) {
      Report(ctx, diags);
      return false;
    }
    out->insert(out->end(), names.begin(), names.end());
  } else {
    std::string path = state::kDefaultStatePath;
    if (backend.config.is_object() && backend.config.contains("path") && backend.config["path"].is_string())
      path = backend.config["path"].get<std::string>();
    fs::path dir = fs::path(WorkspaceStatePath(path, "x")).parent_path().parent_path();
    std::error_code ec;
    for (fs::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec))
      if (it->is_directory(ec)) out->push_back(it->path().filename().string());
  }
  std::sort(out->begin(), out->end());
  out->erase(std::unique(out->begin(), out->end()), out->end());
  return true;
}

bool WriteSelected(const Context& ctx, const std::string& name) {
  std::error_code ec;
  fs::create_directories(".kiln", ec);
  ::chmod(".kiln", 0700);
  std::ofstream out(kSelectedFile, std::ios::trunc);
  out << name << "\n";
  out.close();
  if (!out) {
    ctx.Fail(std::string("cannot write ") + kSelectedFile);
    return false;
  }
  return true;
}

int RunWorkspaceList(const Context& ctx, const std::vector<std::string>& args) {
  Flags flags("kiln workspace list", "List the workspaces; `*` marks the current one.");
  if (!flags.Parse(args, ctx)) return flags.exit_code();
  BackendConfig backend;
  if (!ReadBackendConfig(ctx, &backend)) return 1;
  std::vector<std::string> names;
  if (!ListAll(ctx, backend, &names)) return 1;
  std::string current = CurrentWorkspace(ctx);
  if (std::find(names.begin(), names.end(), current) == names.end()) names.push_back(current);
  for (const auto& n : names) *ctx.out << (n == current ? "* " : "  ") << n << "\n";
  return 0;
}

int RunWorkspaceNew(const Context& ctx, const std::vector<std::string>& args) {
  std::vector<std::string> pos;
  Flags flags("kiln workspace new NAME", "Create a workspace with an empty state and select it.");
  flags.Positional(&pos, 1, 1);
  if (!flags.Parse(args, ctx)) return flags.exit_code();
  const std::string& name = pos[0];
  if (!ValidName(ctx, name)) return 1;
  BackendConfig backend;
  if (!ReadBackendConfig(ctx, &backend)) return 1;
  std::vector<std::string> names;
  if (!ListAll(ctx, backend, &names)) return 1;
  if (std::find(names.begin(), names.end(), name) != names.end()) {
    ctx.Fail("workspace `" + name + "` already exists; `kiln workspace select " + name + "` uses it");
    return 1;
  }
  Diagnostics diags;
  auto store = OpenStore(backend, name, diags);
  st::State state;
  if (store) store->backend().set_operation("workspace new");
  if (!store || !store->Load(&state, diags) || !store->Save(state, diags)) {
    Report(ctx, diags);
    return 1;
  }
  if (!WriteSelected(ctx, name)) return 1;
  *ctx.out << "Created and selected workspace \"" << name << "\" (" << store->backend().Describe() << ").\n";
  return 0;
}

int RunWorkspaceSelect(const Context& ctx, const std::vector<std::string>& args) {
  std::vector<std::string> pos;
  Flags flags("kiln workspace select NAME",
              "Make NAME the current workspace (recorded in .kiln/workspace; --workspace and\n"
              "KILN_WORKSPACE still take precedence).");
  flags.Positional(&pos, 1, 1);
  if (!flags.Parse(args, ctx)) return flags.exit_code();
  BackendConfig backend;
  if (!ReadBackendConfig(ctx, &backend)) return 1;
  std::vector<std::string> names;
  if (!ListAll(ctx, backend, &names)) return 1;
  if (std::find(names.begin(), names.end(), pos[0]) == names.end()) {
    std::string hint = ClosestMatch(pos[0], names);
    ctx.Fail("no workspace `" + pos[0] + "`" + (hint.empty() ? "" : " (did you mean `" + hint + "`?)") +
             "; `kiln workspace new " + pos[0] + "` creates it");
    return 1;
  }
  if (!WriteSelected(ctx, pos[0])) return 1;
  *ctx.out << "Switched to workspace \"" << pos[0] << "\".\n";
  return 0;
}

int RunWorkspaceDelete(const Context& ctx, const std::vector<std::string>& args) {
  std::vector<std::string> pos;
  bool force = false;
  Flags flags("kiln workspace delete NAME",
              "Delete a workspace's state and history. Refused while its state records\n"
              "resources (destroy them first, or --force to forget them).");
  flags.Bool("--force", &force, "Delete even if the state still records resources");
  flags.Positional(&pos, 1, 1);
  if (!flags.Parse(args, ctx)) return flags.exit_code();
  const std::string& name = pos[0];
  if (name == kDefaultWorkspace) {
    ctx.Fail("the default workspace cannot be deleted");
    return 1;
  }
  if (name == CurrentWorkspace(ctx)) {
    ctx.Fail("workspace `" + name + "` is the current one; select another first");
    return 1;
  }
  BackendConfig backend;
  if (!ReadBackendConfig(ctx, &backend)) return 1;
  std::vector<std::string> names;
  if (!ListAll(ctx, backend, &names)) return 1;
  if (std::find(names.begin(), names.end(), name) == names.end()) {
    ctx.Fail("no workspace `" + name + "`");
    return 1;
  }
  Diagnostics diags;
  auto store = OpenStore(backend, name, diags);
  st::State state;
  if (!store || !store->backend().Lock("workspace delete", std::chrono::milliseconds(0), diags) ||
      !store->Load(&state, diags)) {
    Report(ctx, diags);
    return 1;
  }
  if (!state.resources.empty() && !force) {
    ctx.Fail("workspace `" + name + "` still records " + std::to_string(state.resources.size()) +
             " resource(s); `kiln --workspace " + name + " destroy` them first, or pass --force to forget them");
    return 1;
  }
  if (!store->backend().DeleteAll(diags)) {
    Report(ctx, diags);
    return 1;
  }
  store->backend().Unlock();
  if (backend.type != "postgres") {
    std::error_code ec;
    std::string path = store->path();
    fs::remove_all(fs::path(path).parent_path(), ec);
  }
  *ctx.out << "Deleted workspace \"" << name << "\".\n";
  return 0;
}

}  // namespace

int RunWorkspace(const Context& ctx, const std::vector<std::string>& args) {
  static const char kUsage[] =
      "Usage: kiln workspace <list|new|select|delete> ...\n\n"
      "Several states from one configuration (dev, staging, prod). The current one is\n"
      "--workspace NAME, else KILN_WORKSPACE, else the one selected here, else default.\n"
      "The configuration sees its name as env(\"KILN_WORKSPACE\", \"default\").\n\n"
      "Subcommands:\n"
      "  list           List the workspaces\n"
      "  new NAME       Create one (empty state) and select it\n"
      "  select NAME    Make NAME current\n"
      "  delete NAME    Delete one (its state must be empty, or --force)\n";
  if (args.empty() || args[0] == "-h" || args[0] == "--help" || args[0] == "-help") {
    *(args.empty() ? ctx.err : ctx.out) << kUsage;
    return args.empty() ? 1 : 0;
  }
  std::vector<std::string> rest(args.begin() + 1, args.end());
  const std::string& sub = args[0];
  if (sub == "list") return RunWorkspaceList(ctx, rest);
  if (sub == "new") return RunWorkspaceNew(ctx, rest);
  if (sub == "select") return RunWorkspaceSelect(ctx, rest);
  if (sub == "delete") return RunWorkspaceDelete(ctx, rest);
  std::string hint = ClosestMatch(sub, {"list", "new", "select", "delete"});
  ctx.Fail("unknown workspace subcommand `" + sub + "`" + (hint.empty() ? "" : " (did you mean `" + hint + "`?)"));
  return 1;
}

}  // namespace kiln::cli
