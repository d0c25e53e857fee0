// kiln state list|show|rm|mv, kiln output, kiln force-unlock: reading and
// hand-editing the state file (planner/state). Edits take the lock and keep a
// timestamped copy of the state first.
#include <unistd.h>

#include <algorithm>
#include <iostream>
#include <chrono>
#include <nlohmann/json.hpp>

#include "cli/backend.h"
#include "cli/commands.h"
#include "planner/render/render.h"
#include "planner/workspace.h"
#include "planner/state/state.h"

namespace kiln::cli {

namespace {

using nlohmann::json;
namespace st = kiln::state;

constexpr char kStateFlagHelp[] = "A local state file (default: the configuration's backend and workspace)";
constexpr char kLockTimeoutHelp[] = "How long to wait for the state lock (default 0s)";

void Report(const Context& ctx, const Diagnostics& diags) {
  SourceManager sm;
  ctx.Report(diags, sm);
}

// Loads the state; reports and returns false on errors (warnings are shown).
bool LoadState(const Context& ctx, st::StateStore& store, st::State* state, bool require_file) {
  Diagnostics diags;
  bool ok = planner::LoadState(store, require_file, state, diags);
  if (!diags.empty()) Report(ctx, diags);
  return ok;
}

// What changed between two versions, per action.
struct Counts {
  int added = 0, changed = 0, removed = 0;
};

Counts Compare(const st::State& before, const st::State& after) {
  Counts c;
  for (const st::ResourceState& r : after.resources) {
    const st::ResourceState* old = before.Find(r.address);
    if (!old) ++c.added;
    else if (!(*old == r)) ++c.changed;
  }
  for (const st::ResourceState& r : before.resources)
    if (!after.Find(r.address)) ++c.removed;
  return c;
}

// Reads version `serial` from the backend's history.
bool LoadVersion(const Context& ctx, st::StateStore& store, int64_t serial, st::State* out) {
  Diagnostics diags;
  std::string text;
  bool ok = store.backend().ReadVersion(serial, &text, diags) &&
            st::ParseState(text, "serial " + std::to_string(serial) + " of the " + store.backend().Describe(), "",
                           out, diags);
  if (!diags.empty()) Report(ctx, diags);
  return ok;
}

bool ParseSerial(const Context& ctx, const std::string& text, int64_t* out) {
  try {
    size_t used = 0;
    *out = std::stoll(text, &used);
    if (used == text.size() && *out > 0) return true;
  } catch (...) {
  }
  ctx.Fail("a serial is a positive number, not `" + text + "`; `kiln state history` lists them");
  return false;
}

int RunStateList(const Context& ctx, const std::vector<std::string>& args) {
  std::string state_path;
  std::vector<std::string> filters;
  Flags flags("kiln state list [PREFIX...]",
              "List the resource addresses in state, sorted. With PREFIX, only addresses\n"
              "that start with one of them (e.g. `module.eu` or `endpoint.`).");
  flags.String("--state", &state_path, "PATH", kStateFlagHelp);
  flags.Positional(&filters, 0, 1000);
  if (!flags.Parse(args, ctx)) return flags.exit_code();
  planner::Workspace ws;
  if (!OpenCommandState(ctx, state_path, ws)) return 1;
  st::StateStore& store = ws.store();
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
  std::string state_path;
  bool as_json = false;
  std::vector<std::string> positional;
  std::string serial_text;
  Flags flags("kiln state show [--serial N] ADDR [--json]",
              "Show one resource as recorded in state. Sensitive values are never in state;\n"
              "they show as (sensitive). With --serial N, as recorded in that version of the\n"
              "history; --serial N without ADDR prints that whole version (JSON).");
  flags.String("--state", &state_path, "PATH", kStateFlagHelp);
  flags.String("--serial", &serial_text, "N", "A version from `kiln state history`");
  flags.Bool("--json", &as_json, "Print the resource as a JSON object");
  flags.Positional(&positional, 0, 1);
  if (!flags.Parse(args, ctx)) return flags.exit_code();
  planner::Workspace ws;
  if (!OpenCommandState(ctx, state_path, ws)) return 1;
  st::StateStore& store = ws.store();
  st::State state;
  if (!serial_text.empty()) {
    int64_t serial = 0;
    if (!ParseSerial(ctx, serial_text, &serial)) return 1;
    Diagnostics ignored;
    if (!store.Load(&state, ignored) || !LoadVersion(ctx, store, serial, &state)) return 1;
    if (positional.empty()) {
      *ctx.out << st::SerializeState(state);
      return 0;
    }
  } else if (positional.empty()) {
    ctx.Fail("wrong number of arguments; usage: kiln state show [--serial N] ADDR");
    return 1;
  } else if (!LoadState(ctx, store, &state, true)) {
    return 1;
  }
  const st::ResourceState* r = state.Find(positional[0]);
  if (r == nullptr) {
    Diagnostics diags;
    planner::ReportUnknownStateAddress(diags, state, positional[0]);
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
bool BeginEdit(const Context& ctx, st::StateStore& store, const std::string& op,
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
  if (!store.backend().Lock(op, timeout, diags)) {
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
  std::string state_path;
  std::string timeout = "0s";
  std::vector<std::string> addresses;
  Flags flags("kiln state rm ADDR...",
              "Forget resources: remove them from state without deleting the real objects\n"
              "(kiln no longer manages them). The state is backed up first.");
  flags.String("--state", &state_path, "PATH", kStateFlagHelp);
  flags.String("--lock-timeout", &timeout, "DURATION", kLockTimeoutHelp);
  flags.Positional(&addresses, 1, 10000);
  if (!flags.Parse(args, ctx)) return flags.exit_code();
  planner::Workspace ws;
  if (!OpenCommandState(ctx, state_path, ws)) return 1;
  st::StateStore& store = ws.store();
  st::State state;
  if (!BeginEdit(ctx, store, "state rm", timeout, &state)) return 1;
  Diagnostics diags;
  if (!planner::RemoveFromState(state, addresses, diags)) {
    Report(ctx, diags);
    return 1;  // all or nothing
  }
  if (!CommitEdit(ctx, store, state)) return 1;
  for (const std::string& address : addresses) *ctx.out << "Removed " << address << "\n";
  return 0;
}

int RunStateMv(const Context& ctx, const std::vector<std::string>& args) {
  std::string state_path;
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
  // A target that is no address is refused before the state is opened.
  Diagnostics diags;
  st::State none;
  if (!st::ParseAddress(to)) {
    planner::MoveInState(none, from, to, diags);
    Report(ctx, diags);
    return 1;
  }
  planner::Workspace ws;
  if (!OpenCommandState(ctx, state_path, ws)) return 1;
  st::StateStore& store = ws.store();
  st::State state;
  if (!BeginEdit(ctx, store, "state mv", timeout, &state)) return 1;
  switch (planner::MoveInState(state, from, to, diags)) {
    case planner::MoveResult::kFailed:
      Report(ctx, diags);
      return 1;
    case planner::MoveResult::kAlreadyThere:
      *ctx.out << "Nothing to do: " << from << " is already there.\n";
      return 0;
    case planner::MoveResult::kMoved:
      break;
  }
  if (!CommitEdit(ctx, store, state)) return 1;
  *ctx.out << "Moved " << from << " to " << to << "\n";
  return 0;
}

int RunStateHistory(const Context& ctx, const std::vector<std::string>& args) {
  std::string state_path;
  bool as_json = false;
  Flags flags("kiln state history [--json]",
              "List the versions of the state that the backend keeps: serial, when, who,\n"
              "the operation that wrote it and what it changed (+added ~changed -removed).");
  flags.String("--state", &state_path, "PATH", kStateFlagHelp);
  flags.Bool("--json", &as_json, "Print a JSON array");
  if (!flags.Parse(args, ctx)) return flags.exit_code();
  planner::Workspace ws;
  if (!OpenCommandState(ctx, state_path, ws)) return 1;
  st::StateStore* opened = &ws.store();
  Diagnostics diags;
  std::vector<st::HistoryEntry> history;
  if (!opened->backend().History(&history, diags)) {
    Report(ctx, diags);
    return 1;
  }
  json rows = json::array();
  st::State previous;
  bool have_previous = false;
  for (const st::HistoryEntry& e : history) {
    st::State version;
    if (!LoadVersion(ctx, *opened, e.serial, &version)) return 1;
    json row = {{"serial", e.serial}, {"time", e.time}, {"who", e.who}, {"operation", e.operation},
                {"lineage", e.lineage}, {"resources", version.resources.size()}};
    // The first version kept is compared with nothing when it is not the
    // first ever (older ones fell out of the retention window).
    if (have_previous || e.serial == 1) {
      Counts c = Compare(have_previous ? previous : st::State{}, version);
      row["added"] = c.added;
      row["changed"] = c.changed;
      row["removed"] = c.removed;
    }
    rows.push_back(row);
    previous = std::move(version);
    have_previous = true;
  }
  if (as_json) {
    *ctx.out << rows.dump(2) << "\n";
    return 0;
  }
  if (rows.empty()) {
    *ctx.out << "No history kept for the " << opened->backend().Describe() << ".\n";
    return 0;
  }
  *ctx.out << "serial  written               by                    operation       resources  changes\n";
  for (const json& r : rows) {
    auto pad = [](std::string s, size_t w) { return s.size() >= w ? s + " " : s + std::string(w - s.size(), ' '); };
    std::string changes = r.contains("added") ? "+" + std::to_string(r["added"].get<int>()) + " ~" +
                                                    std::to_string(r["changed"].get<int>()) + " -" +
                                                    std::to_string(r["removed"].get<int>())
                                              : "(earlier versions not kept)";
    *ctx.out << pad(std::to_string(r["serial"].get<int64_t>()), 8) << pad(r["time"], 22) << pad(r["who"], 22)
             << pad(r["operation"], 16) << pad(std::to_string(r["resources"].get<size_t>()), 11) << changes << "\n";
  }
  return 0;
}

int RunStateRollback(const Context& ctx, const std::vector<std::string>& args) {
  std::string state_path;
  std::string timeout = "0s";
  bool auto_approve = false;
  std::vector<std::string> positional;
  Flags flags("kiln state rollback SERIAL",
              "Make an old version of the state current again, written as a new serial (the\n"
              "versions in between stay in the history). Shows what the state record would\n"
              "change first and asks for `yes`. Real objects are not touched: the next\n"
              "`kiln plan` shows what apply would do to match the configuration.");
  flags.String("--state", &state_path, "PATH", kStateFlagHelp);
  flags.String("--lock-timeout", &timeout, "DURATION", kLockTimeoutHelp);
  flags.Bool("--auto-approve", &auto_approve, "Do not ask for confirmation");
  flags.Positional(&positional, 1, 1);
  if (!flags.Parse(args, ctx)) return flags.exit_code();
  int64_t serial = 0;
  if (!ParseSerial(ctx, positional[0], &serial)) return 1;
  planner::Workspace ws;
  if (!OpenCommandState(ctx, state_path, ws)) return 1;
  st::StateStore& store = ws.store();
  st::State current;
  if (!BeginEdit(ctx, store, "rollback " + std::to_string(serial), timeout, &current)) return 1;
  st::State old;
  if (!LoadVersion(ctx, store, serial, &old)) return 1;
  if (old.lineage != current.lineage) {
    Diagnostics diags;
    diags.Error("E0836", SourceRange{}, "serial " + std::to_string(serial) + " belongs to another state (lineage " +
                                            old.lineage + ", the current state's is " + current.lineage + ")")
        .help = "a rollback stays within one state; `kiln state history` shows each version's lineage";
    Report(ctx, diags);
    return 1;
  }
  std::ostream& out = *ctx.out;
  out << "Rolling back the " << store.backend().Describe() << " from serial " << current.serial << " to the content of serial "
      << serial << " (written as serial " << current.serial + 1 << "):\n\n";
  int n = 0;
  for (const st::ResourceState& r : old.resources) {
    const st::ResourceState* now = current.Find(r.address);
    if (!now) {
      out << "  + " << r.address << "  (recorded again; the next plan reads it back)\n";
      ++n;
    } else if (!(*now == r)) {
      out << "  ~ " << r.address << "  (its recorded attributes go back)\n";
      ++n;
    }
  }
  for (const st::ResourceState& r : current.resources) {
    if (old.Find(r.address)) continue;
    out << "  - " << r.address << "  (forgotten; the real object is not deleted)\n";
    ++n;
  }
  if (old.outputs != current.outputs) {
    out << "  ~ outputs\n";
    ++n;
  }
  if (n == 0) {
    out << "  (no difference: serial " << serial << " has the same content as the current state)\n";
    return 0;
  }
  Counts c = Compare(current, old);
  out << "\nRollback: " << c.added << " to record again, " << c.changed << " to change back, " << c.removed
      << " to forget.\n";
  if (!auto_approve) {
    if (!isatty(STDIN_FILENO) && std::cin.peek() == EOF) {
      ctx.Fail("rollback needs confirmation: type `yes` on stdin or pass --auto-approve");
      return 1;
    }
    out << "\nDo you want to roll back? Only `yes` will be accepted.\n  Enter a value: " << std::flush;
    std::string answer;
    std::getline(std::cin, answer);
    if (answer != "yes") {
      out << "Cancelled; nothing was changed.\n";
      return 1;
    }
  }
  old.serial = current.serial;
  Diagnostics diags;
  if (!store.Save(old, diags)) {
    Report(ctx, diags);
    return 1;
  }
  out << "Rolled back: serial " << store.Current().serial << " has the content of serial " << serial << ".\n";
  return 0;
}

int RunStateMigrate(const Context& ctx, const std::vector<std::string>& args) {
  std::string from, to;
  bool force = false;
  Flags flags("kiln state migrate (--from PATH | --to PATH)",
              "Move a state between backends, keeping its lineage, serial and hashing key.\n"
              "--from PATH copies the local state file PATH into the configuration's backend\n"
              "(current workspace), e.g. after switching the backend block to postgres;\n"
              "--to PATH copies the configured state out into a local file. The target must\n"
              "be empty (or --force, when it holds an older version of the same lineage).");
  flags.String("--from", &from, "PATH", "A local state file to move in");
  flags.String("--to", &to, "PATH", "A local state file to move the state out to");
  flags.Bool("--force", &force, "Replace an older version of the same state at the target");
  if (!flags.Parse(args, ctx)) return flags.exit_code();
  if (from.empty() == to.empty()) {
    ctx.Fail("give exactly one of --from PATH and --to PATH; see `kiln state migrate --help`");
    return 1;
  }
  planner::Workspace ws;
  if (!OpenCommandState(ctx, "", ws)) return 1;
  st::StateStore* configured = &ws.store();
  st::StateStore local(std::make_unique<st::LocalBackend>(from.empty() ? to : from));
  st::StateStore& source = from.empty() ? *configured : local;
  st::StateStore& target = from.empty() ? local : *configured;
  Diagnostics diags;
  st::State src;
  bool ok = planner::MigrateState(source, target, force, &src, diags);
  if (!diags.empty()) Report(ctx, diags);
  if (!ok) return 1;
  *ctx.out << "Copied serial " << src.serial << " (lineage " << src.lineage << ", " << src.resources.size()
           << " resources) from the " << source.backend().Describe() << " to the " << target.backend().Describe()
           << ".\nThe source is left as it was; remove it once you have checked the copy (`kiln plan` should "
              "show no changes).\n";
  return 0;
}

}  // namespace

int RunState(const Context& ctx, const std::vector<std::string>& args) {
  static const char kUsage[] =
      "Usage: kiln state <list|show|rm|mv|history|rollback|migrate> ...\n\n"
      "Inspect and edit state. Every edit takes the state lock and backs the state up first.\n\n"
      "Subcommands:\n"
      "  list [PREFIX...]   List resource addresses in state\n"
      "  show ADDR          Show one resource's recorded attributes\n"
      "  rm ADDR...         Forget resources (the real objects are left alone)\n"
      "  mv FROM TO         Rename a resource in state\n"
      "  history            The versions kept: serial, when, who, what changed\n"
      "  rollback SERIAL    Make an old version current again (as a new serial)\n"
      "  migrate            Move a state between backends (--from PATH / --to PATH)\n\n"
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
  if (sub == "history") return RunStateHistory(ctx, rest);
  if (sub == "rollback") return RunStateRollback(ctx, rest);
  if (sub == "migrate") return RunStateMigrate(ctx, rest);
  std::string hint = ClosestMatch(sub, {"list", "show", "rm", "mv", "history", "rollback", "migrate"});
  ctx.Fail("unknown state subcommand `" + sub + "`" +
           (hint.empty() ? "" : " (did you mean `" + hint + "`?)") + "; see `kiln state --help`");
  return 1;
}

int RunOutput(const Context& ctx, const std::vector<std::string>& args) {
  std::string state_path;
  bool as_json = false;
  std::vector<std::string> positional;
  Flags flags("kiln output [NAME] [--json]",
              "Print the outputs recorded in state by the last apply. Sensitive outputs are\n"
              "never stored in clear and print as (sensitive).");
  flags.String("--state", &state_path, "PATH", kStateFlagHelp);
  bool raw = false;
  flags.Bool("--json", &as_json, "Print JSON: one value with NAME, else {NAME: {value, sensitive}}");
  flags.Bool("--raw", &raw, "Print a string, number or bool output's value as it is, without a newline (for scripts)");
  flags.Positional(&positional, 0, 1);
  if (!flags.Parse(args, ctx)) return flags.exit_code();
  if (raw && positional.empty()) {
    ctx.Fail("--raw needs an output NAME");
    return 1;
  }
  planner::Workspace ws;
  if (!OpenCommandState(ctx, state_path, ws)) return 1;
  st::StateStore& store = ws.store();
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
    if (raw) {
      if (v.is_object() || v.is_array() || v.is_null()) {
        ctx.Fail("output `" + positional[0] + "` is not a string, number or bool; use --json");
        return 1;
      }
      *ctx.out << (v.is_string() ? v.get<std::string>() : v.dump());
      return 0;
    }
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
  std::string state_path;
  std::vector<std::string> positional;
  Flags flags("kiln force-unlock ID",
              "Remove the state lock with this ID (shown in the error of the command that\n"
              "could not get the lock). Only for a lock whose holder is gone or stuck: two\n"
              "kilns writing the same state at once can lose changes.");
  flags.String("--state", &state_path, "PATH", kStateFlagHelp);
  flags.Positional(&positional, 1, 1);
  if (!flags.Parse(args, ctx)) return flags.exit_code();
  planner::Workspace ws;
  if (!OpenCommandState(ctx, state_path, ws)) return 1;
  st::StateStore& store = ws.store();
  std::optional<st::LockInfo> holder = store.backend().Holder();
  Diagnostics diags;
  if (!store.backend().ForceUnlock(positional[0], diags)) {
    Report(ctx, diags);
    return 1;
  }
  *ctx.out << "Removed the state lock " << positional[0];
  if (holder) *ctx.out << " (held by pid " << holder->pid << " on " << holder->host << ", \"" << holder->operation << "\" since " << holder->since << ")";
  *ctx.out << ".\n";
  return 0;
}

}  // namespace kiln::cli
