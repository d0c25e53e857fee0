// Small POSIX file helpers for planner/state; internal to this folder.
#pragma once

#include <string>

namespace kiln::state::fs {

// Reads a whole file. Returns false with *error = strerror text; *missing is
// set when the file does not exist.
bool ReadFile(const std::string& path, std::string* content, std::string* error,
              bool* missing = nullptr);
// Writes `content` to a temp file beside `path`, fsyncs it, renames it over
// `path` and fsyncs the directory. `mode` is applied to the new file.
bool WriteFileAtomic(const std::string& path, const std::string& content, int mode,
                     std::string* error);
// fsync of the directory holding `path`, so a rename in it is durable.
bool SyncParentDir(const std::string& path, std::string* error);
// mkdir -p of the directory holding `path`.
bool MakeParentDirs(const std::string& path, int mode, std::string* error);
std::string DirName(const std::string& path);
std::string ErrnoText(int err);

}  // namespace kiln::state::fs
