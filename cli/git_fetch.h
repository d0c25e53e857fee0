// Fetching git module sources with the system `git` (for `kiln init` and
// `kiln doc`): resolve a ref to a commit, fetch one commit's files.
#pragma once

#include <string>
#include <vector>

#include "compiler/module/git_source.h"

namespace kiln::cli {

// Runs `git ARGS` (in `cwd` when not empty) with no terminal prompts. True
// when git exits 0; *output gets stdout and stderr together. False with
// *error (git's own `fatal:` line when it gave one) otherwise.
bool RunGit(const std::vector<std::string>& args, const std::string& cwd, std::string* output, std::string* error);

// The commit `src.ref` names in the repository now (`git ls-remote`); a
// 40-digit ref is taken as the commit itself. False with *error and *help
// when the repository cannot be read or has no such branch or tag.
bool ResolveGitRef(const GitSource& src, std::string* commit, std::string* error, std::string* help);

// Fetches `commit` of `url` and puts its files (no .git) at `dest`, which
// must not exist; nothing is left behind when it fails.
bool FetchGitCommit(const std::string& url, const std::string& commit, const std::string& dest, std::string* error);

}  // namespace kiln::cli
