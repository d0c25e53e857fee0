// Code upload (`workdir`, `files`, `workdir_exclude` of jobs and endpoints):
// what would be uploaded, with a content hash per file, so that a code
// change shows in the plan and replaces the job. Reads files; no evaluation.
#pragma once

#include <map>
#include <string>
#include <vector>

namespace kiln {

struct UploadManifest {
  // Destination -> short content hash: workdir files by their path relative
  // to the workdir ("src/train.py"), `files` by their absolute destination.
  std::map<std::string, std::string> files;
  std::string hash;  // of the whole manifest
};

// Paths are relative to `module_dir`. `excludes` are .gitignore-style
// patterns (`*.ckpt`, `data/`, `/build`, `**/cache`); `.git/` is always left
// out. False with *error in words when a path cannot be read.
bool BuildUploadManifest(const std::string& module_dir, const std::string& workdir,
                         const std::vector<std::string>& excludes,
                         const std::map<std::string, std::string>& files, UploadManifest* out,
                         std::string* error);

}  // namespace kiln
