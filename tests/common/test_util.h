// Helpers every test suite shares: a temporary directory per test, reading
// and writing files, and running a kiln binary (the real `kiln`,
// KILN_BINARY, or the test build with the fake provider, KILN_TEST_DRIVER)
// in a directory. Header-only; tests/common has no test executable.
#pragma once

#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

namespace kiln::testutil {

// A fresh directory under the system temp directory (mkdtemp, so two
// tests running at once never share one), removed with everything in it.
class TempDir {
 public:
  explicit TempDir(const std::string& prefix = "kiln-test") {
    std::string tmpl = (std::filesystem::temp_directory_path() / (prefix + "-XXXXXX")).string();
    std::vector<char> buf(tmpl.begin(), tmpl.end());
    buf.push_back('\0');
    if (::mkdtemp(buf.data()) != nullptr) path_ = buf.data();
  }
  ~TempDir() {
    std::error_code ec;
    if (!path_.empty()) std::filesystem::remove_all(path_, ec);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;

  // Empty when the directory could not be made.
  const std::string& path() const { return path_; }
  std::string operator/(const std::string& name) const { return path_ + "/" + name; }
  // Names of the files in the directory (recursively), sorted.
  std::vector<std::string> Files() const {
    std::vector<std::string> out;
    for (const auto& e : std::filesystem::recursive_directory_iterator(path_))
      if (e.is_regular_file()) out.push_back(std::filesystem::relative(e.path(), path_).string());
    std::sort(out.begin(), out.end());
    return out;
  }

 private:
  std::string path_;
};

// The whole file ("" when it cannot be read).
inline std::string ReadFile(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// Writes `text` to `path`, making the directories on the way.
inline void WriteFile(const std::filesystem::path& path, const std::string& text) {
  if (path.has_parent_path()) std::filesystem::create_directories(path.parent_path());
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << text;
}

struct RunResult {
  int exit_code = -1;  // -1 when it did not exit normally
  std::string out;     // standard output (and standard error, when merged)
  std::string err;     // standard error, when not merged
};

struct RunOptions {
  std::string env;            // prefix, e.g. "KILN_FAKE_LATENCY_MS=5 "
  bool merge_stderr = false;  // standard error into `out`
};

// Runs `BINARY ARGS` (ARGS as a shell would split them) in `dir`, with
// `input` as standard input (/dev/null when empty).
inline RunResult RunKilnBinary(const std::string& binary, const std::string& dir,
                               const std::string& args, const RunOptions& options = {},
                               const std::string& input = "") {
  std::string err_file = dir + "/.test-stderr";
  std::string in_file = dir + "/.test-stdin";
  if (!input.empty()) WriteFile(in_file, input);
  std::string cmd = "cd '" + dir + "' && " + options.env + "'" + binary + "' " + args + " <" +
                    (input.empty() ? "/dev/null" : "'" + in_file + "'") + " " +
                    (options.merge_stderr ? "2>&1" : "2>'" + err_file + "'");
  RunResult r;
  FILE* p = ::popen(cmd.c_str(), "r");
  if (!p) return r;
  std::array<char, 4096> buf;
  size_t n;
  while ((n = fread(buf.data(), 1, buf.size(), p)) > 0) r.out.append(buf.data(), n);
  int status = ::pclose(p);
  r.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  if (!options.merge_stderr) {
    r.err = ReadFile(err_file);
    ::unlink(err_file.c_str());
  }
  if (!input.empty()) ::unlink(in_file.c_str());
  return r;
}

}  // namespace kiln::testutil
