// Git module sources: `git::URL//SUBDIR?ref=REF`, their pins in kiln.lock and
// the hash of a fetched module's files. Fetching (running `git`) is
// `kiln init`'s (cli/git_fetch.h); here only what compiling a configuration
// needs, which never touches the network.
#pragma once

#include <string>
#include <vector>

namespace kiln {

struct GitSource {
  std::string url;     // https://host/org/repo.git, ssh://..., git@host:org/repo.git, file:///..., /path
  std::string subdir;  // "" = the repository's root
  std::string ref;     // "" = the remote's HEAD
};

// Splits `git::URL//SUBDIR?ref=REF`. False with *error when it is not one.
bool ParseGitSource(const std::string& source, GitSource* out, std::string* error);

// "sha256:<hex>" over every file under `dir` (sorted relative paths, the
// executable bit, the bytes; `.git` skipped). "" if `dir` cannot be read.
std::string ModuleTreeHash(const std::string& dir);

// Where a fetched commit of `url` lives, relative to the configuration's
// root: .kiln/modules/<repo>-<hash of url>-<commit prefix>.
std::string GitCheckoutDir(const std::string& url, const std::string& commit);

// One `kind: "git"` entry of kiln.lock's `modules`.
struct LockedGitModule {
  std::string address;   // module.a (the lock's key)
  std::string source;    // as written
  std::string url, subdir, ref;
  std::string commit;    // full hex
  std::string checkout;  // GitCheckoutDir(url, commit)
  std::string sha256;    // ModuleTreeHash of the checkout
};

// The git entries of `root_dir`/kiln.lock. True with no entries when there is
// no lock; false with *error when it cannot be read.
bool ReadLockedGitModules(const std::string& root_dir, std::vector<LockedGitModule>* out, std::string* error);

// Resolves a git source through kiln.lock to its directory (absolute), after
// checking that the fetched files still hash to the pinned value. "" with
// *error and *help when it is not locked, not fetched, or changed.
std::string ResolveLockedGitSource(const std::string& source, const std::string& root_dir, std::string* error,
                                   std::string* help);

}  // namespace kiln
