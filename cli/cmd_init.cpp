// `kiln init`: resolve module sources (fetching git ones into .kiln/modules/),
// find the provider plugins the configuration uses, and pin both in kiln.lock.
#include <sys/stat.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>

#include "cli/commands.h"
#include "cli/config_scan.h"
#include "cli/git_fetch.h"
#include "compiler/module/git_source.h"
#include "providers/discovery.h"
#include "providers/registry.h"

namespace kiln::cli {

namespace fs = std::filesystem;
using json = nlohmann::json;

namespace {

std::string Short(const std::string& commit) { return commit.substr(0, 12); }

// Fetches and pins git module sources. The lock already written wins over
// what a ref names now unless --upgrade: a ref that moved is an error.
class GitPinner {
 public:
  GitPinner(std::vector<LockedGitModule> pins, bool upgrade) : pins_(std::move(pins)), upgrade_(upgrade) {}

  std::string Resolve(const std::string& source, const SourceRange& where, ModuleEntry* entry, Diagnostics& diags) {
    GitSource g;
    std::string error, help;
    auto fail = [&](const char* code, const std::string& what, const std::string& fix) {
      auto& e = diags.Error(code, where, what);
      e.help = fix;
      return std::string();
    };
    if (!ParseGitSource(source, &g, &error))
      return fail("E1102", error, "write `git::URL//DIR?ref=TAG`, e.g. `git::https://host/org/repo.git//modules/serving?ref=v1.2.0`");
    auto pin_it = std::find_if(pins_.begin(), pins_.end(), [&](const LockedGitModule& p) { return p.source == source; });
    const LockedGitModule* pin = pin_it == pins_.end() ? nullptr : &*pin_it;

    std::string key = g.url + "\n" + g.ref, now;
    if (auto c = refs_.find(key); c != refs_.end()) {
      now = c->second;
    } else {
      if (!ResolveGitRef(g, &now, &error, &help)) return fail("E1102", error, help);
      refs_[key] = now;
    }
    std::string ref = g.ref.empty() ? "HEAD" : g.ref;
    if (pin && !upgrade_ && pin->commit != now)
      return fail("E1105",
                  "`" + ref + "` of `" + g.url + "` moved: kiln.lock pins commit " + pin->commit +
                      ", the repository now names commit " + now,
                  "review the module's changes, then run `kiln init --upgrade` to pin " + Short(now) +
                      " (or point `" + ref + "` at " + Short(pin->commit) + " again)");
    const std::string& commit = now;
    std::string checkout = GitCheckoutDir(g.url, commit);
    std::string hash = ModuleTreeHash(checkout);
    bool pinned_here = pin && pin->commit == commit;
    // Not fetched yet, or its files differ from the pin: fetch the commit again.
    if (hash.empty() || (pinned_here && hash != pin->sha256)) {
      std::error_code ec;
      fs::remove_all(checkout, ec);
      ::mkdir(".kiln", 0700);
      if (!FetchGitCommit(g.url, commit, checkout, &error))
        return fail("E1102", error, "check that the repository is reachable and the commit still exists");
      hash = ModuleTreeHash(checkout);
    }
    if (pinned_here && !upgrade_ && hash != pin->sha256)
      return fail("E1106",
                  "kiln.lock's entry for " + pin->address + " does not match commit " + Short(commit) + " of `" +
                      g.url + "`: its files hash to " + hash + ", the lock says " + pin->sha256,
                  "the entry was edited by hand, or the repository's history was rewritten; restore kiln.lock "
                  "from version control, or run `kiln init --upgrade` to pin what the repository has now");
    fs::path dir = g.subdir.empty() ? fs::path(checkout) : fs::path(checkout) / g.subdir;
    std::error_code ec;
    if (!fs::is_directory(dir, ec))
      return fail("E1102", "commit " + Short(commit) + " of `" + g.url + "` has no directory `" + g.subdir + "`",
                  "check the path after `//` in the source");
    entry->git = {{"url", g.url}, {"subdir", g.subdir}, {"ref", g.ref}, {"commit", commit}, {"sha256", hash}};
    if (!pin || pin->commit != commit) changed_.push_back(entry->address + " " + (pin ? Short(pin->commit) + " -> " : "") + Short(commit));
    return fs::weakly_canonical(dir, ec).string();
  }

  const std::vector<std::string>& changed() const { return changed_; }

 private:
  std::vector<LockedGitModule> pins_;
  bool upgrade_;
  std::map<std::string, std::string> refs_;  // url \n ref -> commit, one ls-remote each
  std::vector<std::string> changed_;
};

}  // namespace

int RunInit(const Context& ctx, const std::vector<std::string>& args) {
  bool upgrade = false;
  Flags flags("kiln init [--upgrade]",
              "Resolve module sources (local paths, std/ and git:: sources, which are fetched\n"
              "with the system git into .kiln/modules/), find the provider plugins the\n"
              "configuration uses, and write kiln.lock with the commit and files hash of each\n"
              "git module, and the version and sha256 of each plugin executable. Later commands\n"
              "use the pinned commits and never fetch.");
  flags.Bool("--upgrade", &upgrade, "Pin the commits git refs name now (a moved ref is an error without it)");
  if (!flags.Parse(args, ctx)) return flags.exit_code();

  std::vector<LockedGitModule> pins;
  std::string lock_error;
  if (!ReadLockedGitModules(".", &pins, &lock_error) && !upgrade) {
    ctx.Fail(lock_error + "; restore it from version control, or run `kiln init --upgrade` to write it anew");
    return 1;
  }
  GitPinner pinner(pins, upgrade);
  SourceManager sm;
  Diagnostics diags;
  ConfigScan scan = Scan(sm, diags, [&](const std::string& source, const SourceRange& where, ModuleEntry* entry,
                                        Diagnostics& d) { return pinner.Resolve(source, where, entry, d); });
  if (!scan.has_config) {
    ctx.Fail("no *.kiln files in " + fs::current_path().string() + "; run kiln init in a configuration's root");
    return 1;
  }
  ProviderRegistry reg;
  std::set<std::string> in_use = TypesInUse(scan, reg);
  json providers = json::object();
  for (const auto& type : in_use) {
    ProviderDiagnostics pd;
    const ProviderSchema* s = reg.SchemaFor(type, &pd);
    if (!s) {
      AddProviderError(diags, pd);
      continue;
    }
    std::string origin = "built-in";
    for (const auto& info : reg.Started())
      if (info.type == type) origin = info.origin;
    json p = {{"version", s->version}, {"protocol_version", s->protocol_version}};
    if (origin == "built-in") {
      p["source"] = "built-in";
    } else {
      p["source"] = Relative(origin);
      p["sha256"] = Sha256File(origin);
    }
    providers[type] = p;
  }
  reg.ShutdownAll();
  json modules = json::object();
  for (const auto& m : scan.modules) {
    json entry = {{"source", m.source}, {"kind", m.kind}, {"dir", Relative(m.dir)}};
    if (m.kind == "git") entry.update(m.git);
    modules[m.address] = entry;
  }

  if (diags.HasErrors()) {
    ctx.Report(diags, sm);
    *ctx.err << "kiln.lock was not written.\n";
    return 1;
  }
  json lock = {{"version", 1}, {"kiln_version", KILN_VERSION}, {"providers", providers}, {"modules", modules}};
  std::string text = lock.dump(2) + "\n";
  {
    std::ofstream out("kiln.lock.tmp", std::ios::trunc);
    out << text;
    if (!out) {
      ctx.Fail("cannot write kiln.lock.tmp");
      return 1;
    }
  }
  std::error_code ec;
  fs::rename("kiln.lock.tmp", "kiln.lock", ec);
  if (ec) {
    ctx.Fail("cannot write kiln.lock: " + ec.message());
    return 1;
  }
  if (!diags.empty()) ctx.Report(diags, sm);
  for (const auto& [type, p] : providers.items())
    *ctx.out << "provider " << type << " " << p["version"].get<std::string>() << " ("
             << p["source"].get<std::string>() << ")\n";
  for (const auto& m : scan.modules) {
    *ctx.out << m.address << " <- " << m.source;
    if (m.kind == "git") *ctx.out << " @ " << Short(m.git["commit"].get<std::string>());
    *ctx.out << "\n";
  }
  for (const auto& c : pinner.changed()) *ctx.out << "pinned " << c << "\n";
  *ctx.out << "Wrote kiln.lock.\n";
  return 0;
}

}  // namespace kiln::cli
