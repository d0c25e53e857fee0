// Golden files: every tests/testdata/{parse,check,eval,fmt}/*.kiln.
//
// Format: the first line may be `# RUN: ARGS` (kiln's arguments, shell-quoted;
// default `debug ast %s`). `%t` is a fresh temp dir holding the file as
// main.kiln, plus the files of a sibling directory NAME.d/ if there is one;
// `%s` is that main.kiln. kiln sees the file without its expectations, which
// close the file: `# CHECK:STDOUT: line`, `# CHECK:STDERR: line` (each the
// whole output, in order; the temp dir prints as %t) and `# CHECK:EXIT: N`.
// Files named fail_* must exit non-zero. Leading NAME=VALUE words of RUN set
// environment variables. KILN_UPDATE_GOLDEN=1 (scripts/update_golden.sh)
// rewrites the expectations from the actual output, for review with git diff.
#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>

namespace {

namespace fs = std::filesystem;

std::string ReadAll(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::vector<std::string> Lines(const std::string& text) {
  std::vector<std::string> out;
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line)) out.push_back(line);
  return out;
}

std::vector<std::string> ShellSplit(const std::string& s) {
  std::vector<std::string> out;
  std::string cur;
  bool in_token = false;
  char quote = 0;
  for (size_t i = 0; i < s.size(); ++i) {
    char c = s[i];
    if (quote) {
      if (c == quote) quote = 0;
      else if (c == '\\' && quote == '"' && i + 1 < s.size()) cur += s[++i];
      else cur += c;
      continue;
    }
    if (c == '\'' || c == '"') {
      quote = c;
      in_token = true;
    } else if (c == ' ' || c == '\t') {
      if (in_token) out.push_back(cur);
      cur.clear();
      in_token = false;
    } else {
      cur += c;
      in_token = true;
    }
  }
  if (in_token) out.push_back(cur);
  return out;
}

std::string ShellQuote(const std::string& s) {
  std::string out = "'";
  for (char c : s) {
    if (c == '\'') out += "'\\''";
    else out += c;
  }
  return out + "'";
}

void ReplaceAll(std::string& s, const std::string& from, const std::string& to) {
  if (from.empty()) return;
  for (size_t pos = 0; (pos = s.find(from, pos)) != std::string::npos; pos += to.size()) s.replace(pos, from.size(), to);
}

std::vector<fs::path> GoldenFiles() {
  std::vector<fs::path> files;
  for (const char* sub : {"parse", "check", "eval", "fmt"}) {
    fs::path dir = fs::path(KILN_SOURCE_DIR) / "tests" / "testdata" / sub;
    std::error_code ec;
    for (fs::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec)) {
      if (it->path().extension() == ".kiln") files.push_back(it->path());
    }
  }
  std::sort(files.begin(), files.end());
  return files;
}

class GoldenTest : public ::testing::TestWithParam<fs::path> {};

TEST_P(GoldenTest, Matches) {
  const fs::path& file = GetParam();
  std::string text = ReadAll(file);
  std::vector<std::string> lines = Lines(text);
  ASSERT_FALSE(lines.empty());
  std::string run = lines[0].rfind("# RUN: ", 0) == 0 ? lines[0].substr(7) : "debug ast %s";
  std::vector<std::string> want_out, want_err;
  int want_exit = -1;
  size_t first_check = lines.size();
  for (size_t i = 0; i < lines.size(); ++i) {
    const std::string& l = lines[i];
    auto rest = [&](size_t n) { return l.size() > n && l[n] == ' ' ? l.substr(n + 1) : l.substr(n); };
    if (l.rfind("# CHECK:", 0) == 0 && first_check == lines.size()) first_check = i;
    if (l.rfind("# CHECK:STDOUT:", 0) == 0) want_out.push_back(rest(15));
    else if (l.rfind("# CHECK:STDERR:", 0) == 0) want_err.push_back(rest(15));
    else if (l.rfind("# CHECK:EXIT:", 0) == 0) want_exit = std::atoi(rest(13).c_str());
  }
  // The directory is named after the file (kiln doc prints it).
  fs::path tmp = fs::temp_directory_path() / ("kiln_golden_" + std::to_string(::getpid())) / file.stem().string();
  fs::remove_all(tmp);
  fs::create_directories(tmp);
  // kiln sees the content only: the expectations and the blank lines above
  // them are not part of the test program.
  size_t content_end = first_check;
  while (content_end > 0 && lines[content_end - 1].empty()) --content_end;
  {
    std::ofstream content(tmp / "main.kiln", std::ios::binary);
    for (size_t i = 0; i < content_end; ++i) content << lines[i] << "\n";
  }
  fs::path extra = file.parent_path() / (file.stem().string() + ".d");
  if (fs::is_directory(extra)) fs::copy(extra, tmp, fs::copy_options::recursive);
  // Leading NAME=VALUE words set environment variables.
  std::string env, cmd = std::string(KILN_BINARY) + " --no-color";
  bool leading = true;
  for (std::string arg : ShellSplit(run)) {
    ReplaceAll(arg, "%t", tmp.string());
    ReplaceAll(arg, "%s", (tmp / "main.kiln").string());
    size_t eq = arg.find('=');
    if (leading && eq != std::string::npos && eq > 0 && arg.find_first_not_of("ABCDEFGHIJKLMNOPQRSTUVWXYZ_0123456789") == eq) {
      env += arg.substr(0, eq) + "=" + ShellQuote(arg.substr(eq + 1)) + " ";
      continue;
    }
    leading = false;
    cmd += " " + ShellQuote(arg);
  }
  cmd = env + cmd;
  cmd += " >" + ShellQuote((tmp / ".stdout").string()) + " 2>" + ShellQuote((tmp / ".stderr").string());
  int status = std::system(("cd " + ShellQuote(tmp.string()) + " && " + cmd).c_str());
  int exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  std::string out = ReadAll(tmp / ".stdout");
  std::string err = ReadAll(tmp / ".stderr");
  ReplaceAll(out, tmp.string(), "%t");
  ReplaceAll(err, tmp.string(), "%t");
  fs::remove_all(tmp.parent_path());
  if (const char* u = std::getenv("KILN_UPDATE_GOLDEN"); u && std::string(u) == "1") {
    std::string updated;
    size_t end = first_check;
    while (end > 0 && lines[end - 1].empty()) --end;
    for (size_t i = 0; i < end; ++i) updated += lines[i] + "\n";
    updated += "\n";
    for (const auto& l : Lines(out)) updated += "# CHECK:STDOUT:" + (l.empty() ? "" : " " + l) + "\n";
    for (const auto& l : Lines(err)) updated += "# CHECK:STDERR:" + (l.empty() ? "" : " " + l) + "\n";
    updated += "# CHECK:EXIT: " + std::to_string(exit_code) + "\n";
    std::ofstream(file, std::ios::binary) << updated;
    return;
  }
  bool must_fail = file.filename().string().rfind("fail_", 0) == 0;
  if (must_fail) {
    EXPECT_NE(exit_code, 0) << "a fail_ file must fail";
  } else {
    EXPECT_EQ(exit_code, 0) << err;
  }
  if (want_exit >= 0) {
    EXPECT_EQ(exit_code, want_exit);
  }
  EXPECT_EQ(Lines(out), want_out) << "stdout of " << file;
  EXPECT_EQ(Lines(err), want_err) << "stderr of " << file;
}

std::string Name(const ::testing::TestParamInfo<fs::path>& info) {
  std::string n = info.param.parent_path().filename().string() + "_" + info.param.stem().string();
  for (char& c : n) {
    if (!isalnum(static_cast<unsigned char>(c))) c = '_';
  }
  return n;
}

INSTANTIATE_TEST_SUITE_P(Golden, GoldenTest, ::testing::ValuesIn(GoldenFiles()), Name);

}  // namespace
