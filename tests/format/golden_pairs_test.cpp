// Formatter golden files in tests/format/testdata: NAME.in.kiln must format
// to NAME.out.kiln; every other file there (and every .out file) must be a
// fixed point. KILN_UPDATE_GOLDEN=1 rewrites the .out files for review.
#include <gtest/gtest.h>

#include <cstdlib>
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

std::string FormatFile(const fs::path& p) {
  SourceManager sm;
  uint32_t id = sm.AddBuffer(p.string(), ReadFile(p));
  Diagnostics diags;
  auto file = Parse(sm, id, diags);
  if (diags.HasErrors() || !file) {
    std::ostringstream err;
    RenderDiagnostics(diags, sm, {}, err);
    ADD_FAILURE() << p << " does not parse:\n" << err.str();
    return "";
  }
  return Format(sm, *file);
}

fs::path TestdataDir() { return fs::path(KILN_SOURCE_DIR) / "tests" / "format" / "testdata"; }

bool EndsWith(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

TEST(GoldenPairs, InputsFormatToTheirExpectedOutput) {
  size_t pairs = 0;
  bool update = std::getenv("KILN_UPDATE_GOLDEN") != nullptr;
  for (const auto& e : fs::directory_iterator(TestdataDir())) {
    std::string name = e.path().filename().string();
    if (!EndsWith(name, ".in.kiln")) continue;
    fs::path out = e.path().parent_path() / (name.substr(0, name.size() - 8) + ".out.kiln");
    std::string got = FormatFile(e.path());
    if (update) std::ofstream(out, std::ios::binary) << got;
    EXPECT_EQ(got, ReadFile(out)) << e.path();
    ++pairs;
  }
  EXPECT_GT(pairs, 0u);
}

TEST(GoldenPairs, CanonicalFilesAreFixedPoints) {
  size_t files = 0;
  for (const auto& e : fs::directory_iterator(TestdataDir())) {
    std::string name = e.path().filename().string();
    if (!EndsWith(name, ".kiln") || EndsWith(name, ".in.kiln")) continue;
    EXPECT_EQ(FormatFile(e.path()), ReadFile(e.path())) << e.path() << " is not canonical";
    ++files;
  }
  EXPECT_GT(files, 1u);
}

}  // namespace
}  // namespace kiln
