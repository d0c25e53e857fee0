// kiln state list|show|rm|mv, kiln output, kiln force-unlock: reading and
// hand-editing the state file (planner/state). Edits take the lock and keep a
// timestamped copy of the state first.
#include <algorithm>
#include <chrono>
#include <nlohmann/json.hpp>

#include "cli/commands.h"
#include "planner/render/render.h"
#include "planner/state/state.h"

namespace kiln::cli {

namespace {

using nlohmann::json;
namespace st = kiln::state;

constexpr char kStateFlagHelp[] = "State file (default .kiln/state.json)";
constexpr char kLockTimeoutHelp[] = "How long to wait for the state lock (default 0s)";

void Report(const Context& ctx, const Diagnostics& diags) {
  SourceManager sm;
  ctx.Report(diags, sm);
}

// Loads the state; reports and returns false on errors (warnings are shown).
bool LoadState(const Context& ctx, st::StateStore& store, st::State* state, bool require_file) {
  Diagnostics diags;
  if (require_file && !store.Exists()) {
    diags.Error("E0830", SourceRange{}, "no state file at " + store.path())
        .help = "nothing has been applied here yet; run `kiln apply`, or pass --state PATH";
    Report(ctx, diags);
    return false;
  }
  bool ok = store.Load(state, diags);
  if (!diags.empty()) Report(ctx, diags);
  return ok;
}

void UnknownAddress(Diagnostics& diags, const st::State& state, const std::string& address) {
  Diagnostic& d = diags.Error("E0831", SourceRange{}, "no resource " + address + " in state");
  std::string hint = ClosestMatch(address, state.Addresses());
  if (!hint.empty()) {
    d.help = "did you mean " + hint + "?";
  } else {
    d.help = "`kiln state list` shows the addresses in state";
  }
}

int RunStateList(const Context& ctx, const std::vector<std::string>& args) {
  std::string state_path = st::kDefaultStatePath;
  std::vector<std::string> filters;
  Flags flags("kiln state list [PREFIX...]",
              "List the resource addresses in state, sorted. With PREFIX, only addresses\n"
              "that start with one of them (e.g. `module.eu` or `endpoint.`).");
  flags.String("--state", &state_path, "PATH", kStateFlagHelp);
  flags.Positional(&filters, 0, 1000);
  if (!flags.Parse(args, ctx)) return flags.exit_code();
  st::StateStore store(state_path);
  st::State state;
  if (!LoadState(ctx, store, &state, false)) return 1;
  // Deposed objects (old objects of an interrupted create_before_destroy
  // replacement, deleted by the next apply) are listed after their address.
  std::vector<std::pair<std::string, std::string>> rows;
  for (const st::ResourceState& r : state.resources)
    rows.push_back({r.address, r.address + (r.status == st::kStatusTainted ? " (tainted)" : "")});
  for (const st::ResourceState& r : state.deposed)
    rows.push_back({r.address, r.address + " (deposed object " + r.deposed_key + ")"});
  std::stable_sort(rows.begin(), rows.end(), [](const auto& a, const auto& b) { return a.first < b.first; });
  for (const auto& [address, line] : rows) {
    bool match = filters.empty() || std::any_of(filters.begin(), filters.end(), [&](const std::string& f) {
                   return address.rfind(f, 0) == 0;
                 });
    if (match) *ctx.out << line << "\n";
  }
  return 0;
}

int RunStateShow(const Context& ctx, const std::vector<std::string>& args) {
  std::string state_path = st::kDefaultStatePath;
  bool as_json = false;
  std::vector<std::string> positional;
  Flags flags("kiln state show ADDR [--json]",
              "Show one resource as recorded in state. Sensitive values are never in state;\n"
              "they show as (sensitive).");
  flags.String("--state", &state_path, "PATH", kStateFlagHelp);
  flags.Bool("--json", &as_json, "Print the resource as a JSON object");
  flags.Positional(&positional, 1, 1);
  if (!flags.Parse(args, ctx)) return flags.exit_code();
  st::StateStore store(state_path);
  st::State state;
  if (!LoadState(ctx, store, &state, true)) return 1;
  const st::ResourceState* r = state.Find(positional[0]);
  if (r == nullptr) {
    Diagnostics diags;
    UnknownAddress(diags, state, positional[0]);
    Report(ctx, diags);
    return 1;
  }
  if (as_json) {
    json j = {{"address", r->address},     {"module", r->module},
              {"kind", r->kind},           {"name", r->name},
              {"key", r->key},             {"provider", r->provider},
              {"provider_type", r->provider_type}, {"status", r->status},
              {"dependencies", r->dependencies},   {"attributes", r->attributes},
              {"sensitive_paths", json::array()}};
    for (const auto& [pointer, hash] : r->sensitive_hashes) {
      j["sensitive_paths"].push_back(st::PointerToPath(pointer));
    }
    j["duration_paths"] = r->duration_paths;
    j["bytes_paths"] = r->bytes_paths;
    *ctx.out << j.dump(2) << "\n";
    return 0;
  }
  std::ostream& out = *ctx.out;
  out << "# " << r->address << (r->status == st::kStatusTainted ? " (tainted)" : "") << "\n";
  out << "kind       = " << r->kind << "\n";
  out << "provider   = " << r->provider << "\n";
  if (!r->dependencies.empty()) {
    out << "depends on = ";
    for (size_t i = 0; i < r->dependencies.size(); ++i) out << (i ? ", " : "") << r->dependencies[i];
    out << "\n";
  }
  if (r->attributes.is_object() && !r->attributes.empty()) {
    size_t width = 0;
    for (const auto& [name, value] : r->attributes.items()) width = std::max(width, name.size());
    out << "\n";
    for (const auto& [name, value] : r->attributes.items()) {
      // Quantities print as Kiln writes them (`10m`, `80GiB`), the
      // sensitive placeholder bare.
      out << "  " << name << std::string(width - name.size(), ' ') << " = "
          << planner::DisplayValue(value, {name}, {r->duration_paths, r->bytes_paths},
                                   static_cast<int>(width) + 5)
          << "\n";
    }
  }
  return 0;
}

// Takes the lock, loads, backs up; the shared start of every edit.
bool BeginEdit(const Context& ctx, st::StateStore& store, st::StateLock& lock, const std::string& op,
               const std::string& timeout_text, st::State* state) {
  Diagnostics diags;
  std::chrono::milliseconds timeout{0};
  if (!st::ParseDuration(timeout_text, &timeout)) {
    diags.Error("E0812", SourceRange{}, "invalid --lock-timeout `" + timeout_text + "`")
        .help = "use a number with a unit: 500ms, 30s, 5m, 1h";
    Report(ctx, diags);
    return false;
  }
  if (!LoadState(ctx, store, state, true)) return false;
  if (!lock.Acquire(op, timeout, diags)) {
    Report(ctx, diags);
    return false;
  }
  // Read again under the lock: the first read only checked there is a state.
  return LoadState(ctx, store, state, true);
}

bool CommitEdit(const Context& ctx, st::StateStore& store, const st::State& state) {
  Diagnostics diags;
  std::string backup = store.BackupCopy(diags);
  if (backup.empty() || !store.Save(state, diags)) {
    Report(ctx, diags);
    return false;
  }
  *ctx.out << "Backup of the previous state: " << backup << "\n";
  return true;
}

int RunStateRm(const Context& ctx, const std::vector<std::string>& args) {
  std::string state_path = st::kDefaultStatePath;
  std::string timeout = "0s";
  std::vector<std::string> addresses;
  Flags flags("kiln state rm ADDR...",
              "Forget resources: remove them from state without deleting the real objects\n"
              "(kiln no longer manages them). The state is backed up first.");
  flags.String("--state", &state_path, "PATH", kStateFlagHelp);
  flags.String("--lock-timeout", &timeout, "DURATION", kLockTimeoutHelp);
  flags.Positional(&addresses, 1, 10000);
  if (!flags.Parse(args, ctx)) return flags.exit_code();
  st::StateStore store(state_path);
  st::StateLock lock(store.lock_path());
  st::State state;
  if (!BeginEdit(ctx, store, lock, "state rm", timeout, &state)) return 1;
  Diagnostics diags;
  for (const std::string& address : addresses) {
    if (state.Find(address) == nullptr) UnknownAddress(diags, state, address);
  }
  if (diags.HasErrors()) {
    Report(ctx, diags);
    return 1;  // all or nothing
  }
  for (const std::string& address : addresses) state.Remove(address);
  if (!CommitEdit(ctx, store, state)) return 1;
  for (const std::string& address : addresses) *ctx.out << "Removed " << address << "\n";
  return 0;
}

int RunStateMv(const Context& ctx, const std::vector<std::string>& args) {
  std::string state_path = st::kDefaultStatePath;
  std::string timeout = "0s";
  std::vector<std::string> positional;
  Flags flags("kiln state mv FROM TO",
              "Rename a resource in state (after renaming it in the configuration, so that\n"
              "kiln does not destroy and recreate it). The kind cannot change. The state is\n"
              "backed up first.");
  flags.String("--state", &state_path, "PATH", kStateFlagHelp);
  flags.String("--lock-timeout", &timeout, "DURATION", kLockTimeoutHelp);
  flags.Positional(&positional, 2, 2);
  if (!flags.Parse(args, ctx)) return flags.exit_code();
  const std::string& from = positional[0];
  const std::string& to = positional[1];
  Diagnostics diags;
  std::optional<st::ParsedAddress> parsed = st::ParseAddress(to);
  if (!parsed) {
    diags.Error("E0832", SourceRange{}, "`" + to + "` is not a resource address")
        .help = "addresses look like kind.name, kind.name[\"key\"] or module.m.kind.name[0]";
    Report(ctx, diags);
    return 1;
  }
  st::StateStore store(state_path);
  st::StateLock lock(store.lock_path());
  st::State state;
  if (!BeginEdit(ctx, store, lock, "state mv", timeout, &state)) return 1;
  const st::ResourceState* source = state.Find(from);
  if (source == nullptr) {
    UnknownAddress(diags, state, from);
    Report(ctx, diags);
    return 1;
  }
  if (from == to) {
    *ctx.out << "Nothing to do: " << from << " is already there.\n";
    return 0;
  }
  if (state.Find(to) != nullptr) {
    diags.Error("E0833", SourceRange{}, "cannot move " + from + " to " + to + ": " + to +
                                            " is already in state")
        .help = "remove it first with `kiln state rm " + to + "` if it is stale";
    Report(ctx, diags);
    return 1;
  }
  if (parsed->kind != source->kind) {
    diags.Error("E0832", SourceRange{}, "cannot move " + from + " to " + to + ": the kind would change from " +
                                            source->kind + " to " + parsed->kind)
        .help = "a resource keeps its kind; to change it, create the new one and remove the old";
    Report(ctx, diags);
    return 1;
  }
  st::ResourceState moved = *source;
  moved.address = to;
  moved.module = parsed->module;
  moved.name = parsed->name;
  moved.key = parsed->key;
  state.Remove(from);
  state.Upsert(std::move(moved));
  // Keep the recorded ordering: dependents now depend on the new address.
  for (st::ResourceState& r : state.resources) {
    auto it = std::find(r.dependencies.begin(), r.dependencies.end(), from);
    if (it == r.dependencies.end()) continue;
    *it = to;
    std::sort(r.dependencies.begin(), r.dependencies.end());
    r.dependencies.erase(std::unique(r.dependencies.begin(), r.dependencies.end()), r.dependencies.end());
  }
  if (!CommitEdit(ctx, store, state)) return 1;
  *ctx.out << "Moved " << from << " to " << to << "\n";
  return 0;
}

}  // namespace

int RunState(const Context& ctx, const std::vector<std::string>& args) {
  static const char kUsage[] =
      "Usage: kiln state <list|show|rm|mv> ...\n\n"
      "Inspect and edit state. Every edit takes the state lock and backs the state up first.\n\n"
      "Subcommands:\n"
      "  list [PREFIX...]   List resource addresses in state\n"
      "  show ADDR          Show one resource's recorded attributes\n"
      "  rm ADDR...         Forget resources (the real objects are left alone)\n"
      "  mv FROM TO         Rename a resource in state\n\n"
      "Run `kiln state <subcommand> --help` for its options.\n";
  if (args.empty() || args[0] == "-h" || args[0] == "--help") {
    *(args.empty() ? ctx.err : ctx.out) << kUsage;
    return args.empty() ? 1 : 0;
  }
  std::vector<std::string> rest(args.begin() + 1, args.end());
  const std::string& sub = args[0];
  if (sub == "list") return RunStateList(ctx, rest);
  if (sub == "show") return RunStateShow(ctx, rest);
  if (sub == "rm") return RunStateRm(ctx, rest);
  if (sub == "mv") return RunStateMv(ctx, rest);
  std::string hint = ClosestMatch(sub, {"list", "show", "rm", "mv"});
  ctx.Fail("unknown state subcommand `" + sub + "`" +
           (hint.empty() ? "" : " (did you mean `" + hint + "`?)") + "; see `kiln state --help`");
  return 1;
}

int RunOutput(const Context& ctx, const std::vector<std::string>& args) {
  std::string state_path = st::kDefaultStatePath;
  bool as_json = false;
  std::vector<std::string> positional;
  Flags flags("kiln output [NAME] [--json]",
              "Print the outputs recorded in state by the last apply. Sensitive outputs are\n"
              "never stored in clear and print as (sensitive).");
  flags.String("--state", &state_path, "PATH", kStateFlagHelp);
  flags.Bool("--json", &as_json, "Print JSON: one value with NAME, else {NAME: {value, sensitive}}");
  flags.Positional(&positional, 0, 1);
  if (!flags.Parse(args, ctx)) return flags.exit_code();
  st::StateStore store(state_path);
  st::State state;
  if (!LoadState(ctx, store, &state, false)) return 1;
  auto value_of = [](const st::OutputState& o) -> json {
    return o.sensitive ? json(st::kSensitivePlaceholder) : o.value;
  };
  if (!positional.empty()) {
    auto it = state.outputs.find(positional[0]);
    if (it == state.outputs.end()) {
      Diagnostics diags;
      Diagnostic& d = diags.Error("E0834", SourceRange{}, "no output `" + positional[0] + "` in state");
      std::vector<std::string> names;
      for (const auto& [name, o] : state.outputs) names.push_back(name);
      std::string hint = ClosestMatch(positional[0], names);
      d.help = !hint.empty() ? "did you mean `" + hint + "`?"
               : names.empty() ? "the state has no outputs; run `kiln apply` first"
                               : "`kiln output` lists them";
      Report(ctx, diags);
      return 1;
    }
    json v = value_of(it->second);
    if (as_json) {
      *ctx.out << v.dump() << "\n";
    } else {
      *ctx.out << (v.is_string() ? v.get<std::string>()
                                 : planner::DisplayValue(v, {}, {it->second.duration_paths, it->second.bytes_paths}))
               << "\n";
    }
    return 0;
  }
  if (as_json) {
    json all = json::object();
    for (const auto& [name, o] : state.outputs) {
      all[name] = {{"value", value_of(o)}, {"sensitive", o.sensitive}};
    }
    *ctx.out << all.dump(2) << "\n";
    return 0;
  }
  if (state.outputs.empty()) {
    *ctx.err << "No outputs in state.\n";
    return 0;
  }
  for (const auto& [name, o] : state.outputs) {
    json v = value_of(o);
    *ctx.out << name << " = "
             << (o.sensitive ? std::string(st::kSensitivePlaceholder)
                             : planner::DisplayValue(v, {}, {o.duration_paths, o.bytes_paths},
                                                     static_cast<int>(name.size()) + 3))
             << "\n";
  }
  return 0;
}

int RunForceUnlock(const Context& ctx, const std::vector<std::string>& args) {
  std::string state_path = st::kDefaultStatePath;
  std::vector<std::string> positional;
  Flags flags("kiln force-unlock ID",
              "Remove the state lock with this ID (shown in the error of the command that\n"
              "could not get the lock). Only for a lock whose holder is gone or stuck: two\n"
              "kilns writing the same state at once can lose changes.");
  flags.String("--state", &state_path, "PATH", kStateFlagHelp);
  flags.Positional(&positional, 1, 1);
  if (!flags.Parse(args, ctx)) return flags.exit_code();
  st::StateStore store(state_path);
  std::optional<st::LockInfo> holder = st::StateLock::ReadHolder(store.lock_path());
  Diagnostics diags;
  if (!st::StateLock::ForceUnlock(store.lock_path(), positional[0], diags)) {
    Report(ctx, diags);
    return 1;
  }
  *ctx.out << "Removed the state lock " << positional[0];
  if (holder) *ctx.out << " (held by pid " << holder->pid << " on " << holder->host << ", \"" << holder->operation << "\" since " << holder->since << ")";
  *ctx.out << ".\n";
  return 0;
}

}  // namespace kiln::cli
