// Shared helpers for the state tests, over tests/common/test_util.h: a
// scratch directory per test, file reading, and running the built kiln
// binary.
#pragma once

#include <sys/stat.h>

#include <string>

#include "tests/common/test_util.h"

namespace kiln::state::testing {

class ScratchDir : public testutil::TempDir {
 public:
  ScratchDir() : TempDir("kiln-state") {}
};

inline std::string Slurp(const std::string& path) { return testutil::ReadFile(path); }
inline void Spit(const std::string& path, const std::string& text) { testutil::WriteFile(path, text); }

inline int FileMode(const std::string& path) {
  struct stat st;
  if (::stat(path.c_str(), &st) != 0) return -1;
  return st.st_mode & 0777;
}

using testutil::RunResult;

// Runs `kiln ARGS` (no shell quoting needed beyond simple words) in `dir`.
inline RunResult RunKiln(const std::string& dir, const std::string& args) {
  return testutil::RunKilnBinary(KILN_BINARY, dir, args, {"NO_COLOR=1 ", false});
}

}  // namespace kiln::state::testing
