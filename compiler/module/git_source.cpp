#include "compiler/module/git_source.h"

#include <sys/stat.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "core/hash.h"

namespace kiln {

namespace fs = std::filesystem;

bool ParseGitSource(const std::string& source, GitSource* out, std::string* error) {
  const std::string prefix = "git::";
  if (source.rfind(prefix, 0) != 0) {
    *error = "module source `" + source + "` does not start with `git::`";
    return false;
  }
  std::string rest = source.substr(prefix.size());
  GitSource g;
  if (size_t q = rest.find('?'); q != std::string::npos) {
    std::string query = rest.substr(q + 1);
    rest = rest.substr(0, q);
    std::istringstream params(query);
    std::string param;
    while (std::getline(params, param, '&')) {
      if (param.rfind("ref=", 0) == 0 && param.size() > 4) {
        g.ref = param.substr(4);
      } else {
        *error = "module source `" + source + "` has `?" + param + "`; the only parameter is `?ref=TAG`";
        return false;
      }
    }
  }
  size_t scheme = rest.find("://");
  size_t from = scheme == std::string::npos ? 0 : scheme + 3;
  size_t sep = rest.find("//", from);
  g.url = rest.substr(0, sep);
  if (sep != std::string::npos) g.subdir = rest.substr(sep + 2);
  while (!g.subdir.empty() && g.subdir.back() == '/') g.subdir.pop_back();
  if (g.url.empty() || g.url == "file://") {
    *error = "module source `" + source + "` has no repository URL";
    return false;
  }
  fs::path sub(g.subdir);
  if (sub.is_absolute() ||
      std::any_of(sub.begin(), sub.end(), [](const fs::path& part) { return part == ".."; })) {
    *error = "module source `" + source + "` has the directory `" + g.subdir +
             "`, which leaves the repository";
    return false;
  }
  *out = g;
  return true;
}

std::string ModuleTreeHash(const std::string& dir) {
  std::error_code ec;
  if (!fs::is_directory(dir, ec)) return "";
  std::vector<std::string> files;
  fs::recursive_directory_iterator it(dir, fs::directory_options::none, ec), end;
  for (; !ec && it != end; it.increment(ec)) {
    if (it->path().filename() == ".git") {
      it.disable_recursion_pending();
      continue;
    }
    if (it->is_symlink(ec) || it->is_regular_file(ec))
      files.push_back(fs::relative(it->path(), dir, ec).generic_string());
  }
  if (ec) return "";
  std::sort(files.begin(), files.end());
  Sha256Builder h;
  for (const auto& rel : files) {
    fs::path p = fs::path(dir) / rel;
    std::string body, kind;
    if (fs::is_symlink(fs::symlink_status(p, ec))) {
      kind = "l";
      body = fs::read_symlink(p, ec).string();
    } else {
      struct stat st {};
      kind = ::stat(p.c_str(), &st) == 0 && (st.st_mode & S_IXUSR) ? "x" : "-";
      std::ifstream in(p, std::ios::binary);
      std::ostringstream ss;
      ss << in.rdbuf();
      body = ss.str();
    }
    h.Update(rel).Update(std::string_view("\0", 1)).Update(kind).Update(std::to_string(body.size()))
        .Update(std::string_view("\0", 1)).Update(body);
  }
  return "sha256:" + ToHex(h.Final());
}

std::string GitCheckoutDir(const std::string& url, const std::string& commit) {
  std::string name = url;
  while (!name.empty() && name.back() == '/') name.pop_back();
  if (size_t slash = name.find_last_of("/:"); slash != std::string::npos) name = name.substr(slash + 1);
  if (name.size() > 4 && name.compare(name.size() - 4, 4, ".git") == 0) name.resize(name.size() - 4);
  for (char& c : name)
    if (!isalnum(static_cast<unsigned char>(c)) && c != '-' && c != '_' && c != '.') c = '_';
  if (name.empty() || name[0] == '.') name = "repo" + name;
  return ".kiln/modules/" + name + "-" + ToHex(Sha256(url)).substr(0, 8) + "-" + commit.substr(0, 12);
}

bool ReadLockedGitModules(const std::string& root_dir, std::vector<LockedGitModule>* out, std::string* error) {
  out->clear();
  fs::path path = fs::path(root_dir) / "kiln.lock";
  std::error_code ec;
  if (!fs::exists(path, ec)) return true;
  std::ifstream in(path);
  nlohmann::json lock = nlohmann::json::parse(in, nullptr, false);
  if (!lock.is_object()) {
    *error = "kiln.lock is not valid JSON";
    return false;
  }
  const auto modules = lock.value("modules", nlohmann::json::object());
  if (!modules.is_object()) {
    *error = "kiln.lock: `modules` is not an object";
    return false;
  }
  for (const auto& [address, m] : modules.items()) {
    if (!m.is_object() || m.value("kind", "") != "git") continue;
    LockedGitModule g;
    g.address = address;
    auto str = [&](const char* key) {
      auto it = m.find(key);
      return it != m.end() && it->is_string() ? it->get<std::string>() : std::string();
    };
    g.source = str("source");
    g.url = str("url");
    g.subdir = str("subdir");
    g.ref = str("ref");
    g.commit = str("commit");
    g.sha256 = str("sha256");
    if (g.source.empty() || g.url.empty() || g.commit.size() != 40 || g.sha256.empty()) {
      *error = "kiln.lock: the entry of " + address + " lacks source, url, a 40-digit commit or sha256";
      return false;
    }
    g.checkout = GitCheckoutDir(g.url, g.commit);
    out->push_back(std::move(g));
  }
  return true;
}

std::string ResolveLockedGitSource(const std::string& source, const std::string& root_dir, std::string* error,
                                   std::string* help) {
  std::vector<LockedGitModule> locked;
  if (!ReadLockedGitModules(root_dir, &locked, error)) {
    *help = "run `kiln init` to write kiln.lock again";
    return "";
  }
  auto it = std::find_if(locked.begin(), locked.end(), [&](const LockedGitModule& g) { return g.source == source; });
  if (it == locked.end()) {
    *error = "module source `" + source + "` is not pinned in kiln.lock";
    *help = "run `kiln init` to fetch it into .kiln/modules/ and pin its commit";
    return "";
  }
  std::error_code ec;
  fs::path checkout = fs::path(root_dir) / it->checkout;
  if (!fs::is_directory(checkout, ec)) {
    *error = "module source `" + source + "` (commit " + it->commit.substr(0, 12) + ") has not been fetched into " +
             it->checkout;
    *help = "run `kiln init` to fetch the commit kiln.lock pins";
    return "";
  }
  std::string hash = ModuleTreeHash(checkout.string());
  if (hash != it->sha256) {
    *error = "the files of module source `" + source + "` in " + it->checkout + " hash to " + hash +
             ", but kiln.lock pins " + it->sha256 + " for commit " + it->commit.substr(0, 12);
    *help = "the lock entry or the fetched files were changed by hand; run `kiln init` to fetch the pinned commit "
            "again, or `kiln init --upgrade` to pin what the ref names now";
    return "";
  }
  fs::path dir = it->subdir.empty() ? checkout : checkout / it->subdir;
  if (!fs::is_directory(dir, ec)) {
    *error = "module source `" + source + "`: commit " + it->commit.substr(0, 12) + " has no directory `" +
             it->subdir + "`";
    *help = "check the path after `//` in the source";
    return "";
  }
  return fs::weakly_canonical(dir, ec).string();
}

}  // namespace kiln
