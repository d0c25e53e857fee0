#include "cli/git_fetch.h"

#include <fcntl.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstring>
#include <filesystem>
#include <sstream>

#include "core/suggest.h"

extern char** environ;

namespace kiln::cli {

namespace fs = std::filesystem;

namespace {

bool IsHexCommit(const std::string& s) {
  return s.size() == 40 && s.find_first_not_of("0123456789abcdef") == std::string::npos;
}

// git's explanation: its `fatal:`/`error:` lines, else the whole output.
std::string GitComplaint(const std::string& output) {
  std::istringstream lines(output);
  std::string line, out;
  while (std::getline(lines, line)) {
    for (const char* p : {"fatal: ", "error: ", "ERROR: "})
      if (line.rfind(p, 0) == 0) out += (out.empty() ? "" : "; ") + line.substr(strlen(p));
  }
  if (out.empty()) out = output;
  while (!out.empty() && (out.back() == '\n' || out.back() == ' ')) out.pop_back();
  return out;
}

}  // namespace

bool RunGit(const std::vector<std::string>& args, const std::string& cwd, std::string* output, std::string* error) {
  output->clear();
  std::vector<std::string> argv = {"git"};
  if (!cwd.empty()) argv.insert(argv.end(), {"-C", cwd});
  argv.insert(argv.end(), args.begin(), args.end());
  std::vector<char*> cargv;
  for (auto& a : argv) cargv.push_back(a.data());
  cargv.push_back(nullptr);
  // No prompt for a password or a host key: a CI job must fail, not hang.
  std::vector<std::string> env_strings;
  for (char** e = environ; *e; ++e) {
    std::string kv = *e;
    if (kv.rfind("GIT_TERMINAL_PROMPT=", 0) == 0) continue;
    env_strings.push_back(kv);
  }
  env_strings.push_back("GIT_TERMINAL_PROMPT=0");
  if (!getenv("GIT_SSH_COMMAND") && !getenv("GIT_SSH")) env_strings.push_back("GIT_SSH_COMMAND=ssh -o BatchMode=yes");
  std::vector<char*> cenv;
  for (auto& e : env_strings) cenv.push_back(e.data());
  cenv.push_back(nullptr);

  int fds[2];
  if (pipe2(fds, O_CLOEXEC) != 0) {
    *error = std::string("cannot create a pipe: ") + strerror(errno);
    return false;
  }
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_adddup2(&actions, fds[1], 1);
  posix_spawn_file_actions_adddup2(&actions, fds[1], 2);
  pid_t pid = -1;
  int rc = posix_spawnp(&pid, "git", &actions, nullptr, cargv.data(), cenv.data());
  posix_spawn_file_actions_destroy(&actions);
  close(fds[1]);
  if (rc != 0) {
    close(fds[0]);
    *error = std::string("cannot run git: ") + strerror(rc) + " (install git: `apt-get install git`)";
    return false;
  }
  char buf[4096];
  for (;;) {
    ssize_t n = read(fds[0], buf, sizeof buf);
    if (n > 0) output->append(buf, static_cast<size_t>(n));
    else if (n == 0 || errno != EINTR) break;
  }
  close(fds[0]);
  int status = 0;
  while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  if (WIFEXITED(status) && WEXITSTATUS(status) == 0) return true;
  *error = GitComplaint(*output);
  if (error->empty()) error->assign("git " + args[0] + " failed");
  return false;
}

bool ResolveGitRef(const GitSource& src, std::string* commit, std::string* error, std::string* help) {
  if (IsHexCommit(src.ref)) {
    *commit = src.ref;
    return true;
  }
  std::string out, why;
  if (!RunGit({"ls-remote", "--", src.url}, "", &out, &why)) {
    *error = "cannot read the git repository `" + src.url + "`: " + why;
    *help = "check the URL (and, for https or ssh, your credentials); kiln runs `git ls-remote " + src.url + "`";
    return false;
  }
  std::string ref = src.ref.empty() ? "HEAD" : src.ref;
  // Annotated tags name the tag object; their `^{}` line names the commit.
  std::vector<std::string> wanted = {"refs/tags/" + ref + "^{}", "refs/tags/" + ref, "refs/heads/" + ref, ref};
  std::vector<std::pair<std::string, std::string>> refs;  // name, commit
  std::istringstream lines(out);
  std::string line;
  while (std::getline(lines, line)) {
    size_t tab = line.find('\t');
    if (tab == std::string::npos) continue;
    refs.push_back({line.substr(tab + 1), line.substr(0, tab)});
  }
  for (const auto& w : wanted)
    for (const auto& [name, c] : refs)
      if (name == w) {
        *commit = c;
        return true;
      }
  std::vector<std::string> names;
  for (const auto& [name, c] : refs) {
    for (const char* p : {"refs/tags/", "refs/heads/"})
      if (name.rfind(p, 0) == 0 && name.find("^{}") == std::string::npos) names.push_back(name.substr(strlen(p)));
  }
  *error = "the git repository `" + src.url + "` has no branch or tag `" + ref + "`";
  std::string close = ClosestMatch(ref, names);
  if (!close.empty()) {
    *help = "did you mean `?ref=" + close + "`?";
  } else {
    std::string list;
    for (size_t i = 0; i < names.size() && i < 8; ++i) list += (list.empty() ? "" : ", ") + names[i];
    *help = names.empty() ? "the repository has no branches or tags" : "it has: " + list;
  }
  return false;
}

bool FetchGitCommit(const std::string& url, const std::string& commit, const std::string& dest, std::string* error) {
  std::error_code ec;
  fs::path tmp = fs::path(dest).parent_path() / (".fetch-" + fs::path(dest).filename().string() + "-" +
                                                 std::to_string(getpid()));
  fs::remove_all(tmp, ec);
  fs::create_directories(tmp, ec);
  if (ec) {
    *error = "cannot create " + tmp.string() + ": " + ec.message();
    return false;
  }
  auto fail = [&](const std::string& why) {
    fs::remove_all(tmp, ec);
    *error = why;
    return false;
  };
  std::string out, why;
  if (!RunGit({"init", "-q", "."}, tmp.string(), &out, &why)) return fail("git init: " + why);
  // Servers may refuse a commit that no ref points at any more: then fetch
  // everything and look for it.
  if (!RunGit({"fetch", "-q", "--depth", "1", "--", url, commit}, tmp.string(), &out, &why) &&
      !RunGit({"fetch", "-q", "--", url, "+refs/heads/*:refs/remotes/origin/*", "+refs/tags/*:refs/tags/*"},
              tmp.string(), &out, &why))
    return fail("cannot fetch `" + url + "`: " + why);
  if (!RunGit({"-c", "advice.detachedHead=false", "checkout", "-q", "--detach", commit}, tmp.string(), &out, &why))
    return fail("the git repository `" + url + "` has no commit " + commit + ": " + why);
  fs::remove_all(tmp / ".git", ec);
  fs::create_directories(fs::path(dest).parent_path(), ec);
  fs::rename(tmp, dest, ec);
  if (ec) return fail("cannot move the fetched files to " + dest + ": " + ec.message());
  return true;
}

}  // namespace kiln::cli
