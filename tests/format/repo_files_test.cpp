// Formats every Kiln file of the repository that is meant to parse
// (examples/, stdlib/, tests/testdata/**/ok_*.kiln, tests/format/testdata/)
// and checks: the output parses to the same AST with the same comments, it
// is a fixed point, no comment text is lost, and no line gains trailing
// white space.
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "compiler/format/format.h"
#include "compiler/syntax/parse.h"
#include "tests/common/test_util.h"

namespace kiln {
namespace {

namespace fs = std::filesystem;

using testutil::ReadFile;

std::vector<fs::path> RepoKilnFiles() {
  fs::path root(KILN_SOURCE_DIR);
  std::vector<fs::path> files;
  auto add_tree = [&](const fs::path& dir, bool only_ok) {
    if (!fs::is_directory(dir)) return;
    for (const auto& e : fs::recursive_directory_iterator(dir)) {
      if (!e.is_regular_file() || e.path().extension() != ".kiln") continue;
      std::string name = e.path().filename().string();
      if (only_ok && name.rfind("ok_", 0) != 0) continue;
      // A golden test that expects kiln to fail may hold a value error
      // (`8000000PB`); only files that parse cleanly are formatted.
      if (only_ok && ReadFile(e.path()).find("# CHECK:EXIT: 1") != std::string::npos) continue;
      files.push_back(e.path());
    }
  };
  add_tree(root / "examples", false);
  add_tree(root / "stdlib", false);
  add_tree(root / "tests" / "testdata", true);
  add_tree(root / "tests" / "format" / "testdata", false);
  std::sort(files.begin(), files.end());
  return files;
}

std::string TrimLineEnds(const std::string& s) {
  std::string out;
  std::istringstream in(s);
  std::string line;
  bool first = true;
  while (std::getline(in, line)) {
    while (!line.empty() && (line.back() == ' ' || line.back() == '\t' || line.back() == '\r')) {
      line.pop_back();
    }
    if (!first) out += "\n";
    out += line;
    first = false;
  }
  return out;
}

std::vector<std::string> Lines(const std::string& s) {
  std::vector<std::string> lines;
  std::istringstream in(s);
  std::string line;
  while (std::getline(in, line)) lines.push_back(line);
  return lines;
}

TEST(RepoFiles, FormattingKeepsMeaningAndCommentsAndIsIdempotent) {
  std::vector<fs::path> files = RepoKilnFiles();
  ASSERT_FALSE(files.empty());
  size_t checked = 0;
  for (const auto& path : files) {
    SCOPED_TRACE(path.string());
    std::string original = ReadFile(path);
    SourceManager sm;
    uint32_t id = sm.AddBuffer(path.string(), original);
    Diagnostics diags;
    auto file = Parse(sm, id, diags);
    if (diags.HasErrors() || !file) {
      std::ostringstream err;
      RenderDiagnostics(diags, sm, {}, err);
      ADD_FAILURE() << "does not parse:\n" << err.str();
      continue;
    }
    std::string once = Format(sm, *file);

    SourceManager sm2;
    uint32_t id2 = sm2.AddBuffer(path.string(), once);
    Diagnostics diags2;
    auto file2 = Parse(sm2, id2, diags2);
    ASSERT_FALSE(diags2.HasErrors()) << "formatted text does not parse:\n" << once;
    EXPECT_EQ(AstShape(*file2), AstShape(*file)) << once;
    std::string twice = Format(sm2, *file2);
    EXPECT_EQ(twice, once) << "not idempotent";

    for (const auto& c : file->comments) {
      EXPECT_NE(once.find(TrimLineEnds(c.text)), std::string::npos) << "lost comment " << c.text;
    }
    // A line with trailing white space may only come verbatim from the
    // source (heredoc text).
    std::vector<std::string> source_lines = Lines(original);
    for (const auto& line : Lines(once)) {
      if (line.empty() || (line.back() != ' ' && line.back() != '\t')) continue;
      EXPECT_NE(std::find(source_lines.begin(), source_lines.end(), line), source_lines.end())
          << "trailing white space added: [" << line << "]";
    }
    EXPECT_TRUE(once.empty() || (once.back() == '\n' && (once.size() < 2 || once[once.size() - 2] != '\n')))
        << "must end in exactly one newline";
    ++checked;
  }
  EXPECT_EQ(checked, files.size());
}

}  // namespace
}  // namespace kiln
