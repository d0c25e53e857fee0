#include "compiler/diag/diagnostics.h"

#include <gtest/gtest.h>

#include <sstream>

namespace kiln {
namespace {

TEST(SourceManager, LocatesOffsetsAndStripsBom) {
  SourceManager sm;
  uint32_t id = sm.AddBuffer("a.kiln", "\xEF\xBB\xBFline one\nline two\r\nthree");
  EXPECT_EQ(sm.Text(id).substr(0, 4), "line");
  SourceLoc loc = sm.Locate(id, 12);
  EXPECT_EQ(loc.line, 2u);
  EXPECT_EQ(loc.column, 4u);
  EXPECT_EQ(sm.Line(id, 2), "line two");
  EXPECT_EQ(sm.Line(id, 3), "three");
  EXPECT_EQ(sm.Line(id, 4), "");
}

TEST(Diagnostics, RendersCaretUnderPrimarySpan) {
  SourceManager sm;
  uint32_t id = sm.AddBuffer("main.kiln", "training_job t {\n  gpus = \"H100:8\"\n}\n");
  Diagnostics diags;
  SourceRange r{sm.Locate(id, 19), sm.Locate(id, 23)};
  diags.Error("E0412", r, "unknown attribute `gpus` for training_job").label =
      "did you mean `gpu`?";
  std::string text = RenderDiagnosticText(diags.items()[0], sm);
  EXPECT_EQ(text,
            "error[E0412]: unknown attribute `gpus` for training_job\n"
            " --> main.kiln:2:3\n"
            "  |\n"
            "2 |   gpus = \"H100:8\"\n"
            "  |   ^^^^ did you mean `gpu`?\n");
}

TEST(Diagnostics, JsonAndGithubFormats) {
  SourceManager sm;
  uint32_t id = sm.AddBuffer("m.kiln", "x = 1\n");
  Diagnostics diags;
  diags.Error("E0001", {sm.Locate(id, 0), sm.Locate(id, 1)}, "bad, really: 100%");
  std::ostringstream json, gh;
  RenderDiagnostics(diags, sm, {DiagnosticFormat::kJson, false}, json);
  EXPECT_NE(json.str().find("\"code\":\"E0001\""), std::string::npos);
  EXPECT_NE(json.str().find("\"line\":1"), std::string::npos);
  RenderDiagnostics(diags, sm, {DiagnosticFormat::kGithub, false}, gh);
  EXPECT_EQ(gh.str().rfind("::error file=m.kiln,line=1,col=1", 0), 0u) << gh.str();
  EXPECT_NE(gh.str().find("100%25"), std::string::npos);
}

TEST(Diagnostics, SortsBySourceAndCountsErrors) {
  SourceManager sm;
  uint32_t id = sm.AddBuffer("m.kiln", "aaaa\nbbbb\n");
  Diagnostics diags;
  diags.Error("E2", {sm.Locate(id, 6), {}}, "second");
  diags.Warning("W1", {sm.Locate(id, 1), {}}, "first");
  diags.SortBySource();
  EXPECT_EQ(diags.items()[0].code, "W1");
  EXPECT_EQ(diags.ErrorCount(), 1u);
}

TEST(ClosestMatch, SuggestsTyposOnly) {
  EXPECT_EQ(ClosestMatch("gpus", {"gpu", "nodes", "image"}), "gpu");
  EXPECT_EQ(ClosestMatch("replicsa", {"replicas", "port"}), "replicas");
  EXPECT_EQ(ClosestMatch("zzzzzz", {"gpu", "nodes"}), "");
}

}  // namespace
}  // namespace kiln
