// Unit tests of the formatter: layout rules, comments, idempotence, and the
// formatted text always parsing back to the same AST.
#include "compiler/format/format.h"

#include <gtest/gtest.h>

#include <sstream>

#include "compiler/format/diff.h"
#include "compiler/syntax/parse.h"

namespace kiln {
namespace {

struct Formatted {
  bool parsed = false;
  std::string text;
  std::string errors;
};

Formatted FormatSource(const std::string& src) {
  SourceManager sm;
  uint32_t id = sm.AddBuffer("main.kiln", src);
  Diagnostics diags;
  auto file = Parse(sm, id, diags);
  Formatted out;
  if (diags.HasErrors() || !file) {
    std::ostringstream err;
    RenderDiagnostics(diags, sm, {}, err);
    out.errors = err.str();
    return out;
  }
  out.parsed = true;
  out.text = Format(sm, *file);
  return out;
}

std::string ShapeOf(const std::string& src) {
  SourceManager sm;
  uint32_t id = sm.AddBuffer("main.kiln", src);
  Diagnostics diags;
  auto file = Parse(sm, id, diags);
  if (diags.HasErrors() || !file) return "<syntax error>";
  return AstShape(*file);
}

// Formats `src`, checks the result parses to the same shape and is a fixed
// point, and returns it.
std::string Fmt(const std::string& src) {
  Formatted f = FormatSource(src);
  EXPECT_TRUE(f.parsed) << f.errors << "\nin:\n" << src;
  if (!f.parsed) return "";
  EXPECT_EQ(ShapeOf(f.text), ShapeOf(src)) << "formatted:\n" << f.text;
  Formatted again = FormatSource(f.text);
  EXPECT_TRUE(again.parsed) << again.errors << "\nformatted:\n" << f.text;
  EXPECT_EQ(again.text, f.text) << "not idempotent; first pass:\n" << f.text;
  return f.text;
}

TEST(Format, AlignsEqualsWithinARunOfSingleLineAttributes) {
  EXPECT_EQ(Fmt("cluster pool {\n"
                "  gpu = \"H100:8\"\n"
                "  nodes = 1..4\n"
                "  max_hourly_cost = 40.0\n"
                "}\n"),
            "cluster pool {\n"
            "  gpu             = \"H100:8\"\n"
            "  nodes           = 1..4\n"
            "  max_hourly_cost = 40.0\n"
            "}\n");
}

TEST(Format, BlankLinesCommentsBlocksAndMultiLineValuesEndARun) {
  EXPECT_EQ(Fmt("endpoint chat {\n"
                "  model = \"m\"\n"
                "  port = 8080\n"
                "\n"
                "  replicas = 1\n"
                "  # about gpu\n"
                "  gpu = \"H100:1\"\n"
                "  command = \"serve\"\n"
                "  env = {\n"
                "    A = \"1\"\n"
                "    LONGER = \"2\"\n"
                "  }\n"
                "  cpus = 4\n"
                "  image = \"x\"\n"
                "  health_check {\n"
                "    path = \"/\"\n"
                "  }\n"
                "  canary = null\n"
                "}\n"),
            "endpoint chat {\n"
            "  model = \"m\"\n"
            "  port  = 8080\n"
            "\n"
            "  replicas = 1\n"
            "  # about gpu\n"
            "  gpu     = \"H100:1\"\n"
            "  command = \"serve\"\n"
            "  env = {\n"
            "    A      = \"1\"\n"
            "    LONGER = \"2\"\n"
            "  }\n"
            "  cpus  = 4\n"
            "  image = \"x\"\n"
            "  health_check {\n"
            "    path = \"/\"\n"
            "  }\n"
            "  canary = null\n"
            "}\n");
}

TEST(Format, ReindentsWithTwoSpaces) {
  EXPECT_EQ(Fmt("datastore d {\n"
                "\ttype = \"filesystem\"\n"
                "        lifecycle {\n"
                "   prevent_destroy = true\n"
                "      }\n"
                "}\n"),
            "datastore d {\n"
            "  type = \"filesystem\"\n"
            "  lifecycle {\n"
            "    prevent_destroy = true\n"
            "  }\n"
            "}\n");
}

TEST(Format, OneBlankLineBetweenTopLevelDeclarations) {
  EXPECT_EQ(Fmt("let a = 1\nlet b = 2\n\n\n\nlet c = 3\n"),
            "let a = 1\n\nlet b = 2\n\nlet c = 3\n");
}

TEST(Format, BlankLinesInsideBodiesAreKeptOnceAndTrimmedAtTheEdges) {
  EXPECT_EQ(Fmt("cluster c {\n"
                "\n"
                "  nodes = 1\n"
                "\n"
                "\n"
                "\n"
                "  spot = true\n"
                "\n"
                "}\n"),
            "cluster c {\n"
            "  nodes = 1\n"
            "\n"
            "  spot = true\n"
            "}\n");
}

TEST(Format, SpacesAroundOperatorsAfterCommasAndInsideBraces) {
  EXPECT_EQ(Fmt("let x = a+b*c-d/2%3\n"
                "let y = !ok&&n>=1||m<2\n"
                "let z = f(a,b,[1,2,3])\n"
                "let o = {a=1,b=2}\n"
                "let c = n==1?\"one\":\"many\"\n"
                "let r = 1..4\n"),
            "let x = a + b * c - d / 2 % 3\n"
            "\n"
            "let y = !ok && n >= 1 || m < 2\n"
            "\n"
            "let z = f(a, b, [1, 2, 3])\n"
            "\n"
            "let o = { a = 1, b = 2 }\n"
            "\n"
            "let c = n == 1 ? \"one\" : \"many\"\n"
            "\n"
            "let r = 1..4\n");
}

TEST(Format, KeepsNeededAndUserParentheses) {
  EXPECT_EQ(Fmt("let x = (a + b) * c\n"), "let x = (a + b) * c\n");
  EXPECT_EQ(Fmt("let x = a - (b - c)\n"), "let x = a - (b - c)\n");
  EXPECT_EQ(Fmt("let x = (a * b) + c\n"), "let x = (a * b) + c\n");
  EXPECT_EQ(Fmt("let x = -(a + b)\n"), "let x = -(a + b)\n");
  EXPECT_EQ(Fmt("let x = f((a))\n"), "let x = f((a))\n");
  EXPECT_EQ(Fmt("let x = f(a)\n"), "let x = f(a)\n");
}

TEST(Format, LeafTokensKeepTheirSpelling) {
  std::string src =
      "let a = 1_000_000\n\n"
      "let b = 1e-4\n\n"
      "let c = 2.5E3\n\n"
      "let d = [500ms, 90s, 1.5h, 7d, 512MiB, 2TB]\n\n"
      "let e = \"tab\\there \\\"q\\\" ${upper(x)} $${lit} \\u{1F600}\"\n\n"
      "let f = 0.50\n";
  EXPECT_EQ(Fmt(src), src);
}

TEST(Format, HeredocsAreCopiedVerbatim) {
  std::string src =
      "training_job t {\n"
      "  command = <<-EOT\n"
      "    set -eu   \n"
      "      echo \"${x}\"\n"
      "  EOT\n"
      "  env = { A = \"1\" }\n"
      "}\n\n"
      "let s = <<EOT\n"
      "raw text\n"
      "EOT\n";
  EXPECT_EQ(Fmt(src), src);
}

TEST(Format, PreservesSingleVersusMultiLineListsAndObjects) {
  EXPECT_EQ(Fmt("let a = [1,  2]\n"), "let a = [1, 2]\n");
  EXPECT_EQ(Fmt("let a = [\n1,\n2]\n"), "let a = [\n  1,\n  2,\n]\n");
  EXPECT_EQ(Fmt("let a = [\n  1\n  2\n]\n"), "let a = [\n  1,\n  2,\n]\n");
  EXPECT_EQ(Fmt("let o = {x=1}\n"), "let o = { x = 1 }\n");
  EXPECT_EQ(Fmt("let o = {\nx=1, yy=2}\n"), "let o = {\n  x  = 1\n  yy = 2\n}\n");
  EXPECT_EQ(Fmt("let o = {}\n"), "let o = {}\n");
  EXPECT_EQ(Fmt("let l = []\n"), "let l = []\n");
}

TEST(Format, PreservesBlockFormVersusAttributeForm) {
  EXPECT_EQ(Fmt("endpoint e {\n  lifecycle { prevent_destroy = true }\n"
                "  health_check = { path = \"/\" }\n}\n"),
            "endpoint e {\n  lifecycle { prevent_destroy = true }\n"
            "  health_check = { path = \"/\" }\n}\n");
}

TEST(Format, SingleLineBodiesStaySingleLine) {
  EXPECT_EQ(Fmt("backend local {path = \".kiln/state.json\"}\n"),
            "backend local { path = \".kiln/state.json\" }\n");
  EXPECT_EQ(Fmt("cluster c {}\n"), "cluster c {}\n");
}

TEST(Format, TrailingCommentsStayOnTheirLineAndAlign) {
  EXPECT_EQ(Fmt("cluster c {\n"
                "  nodes = 1 # one\n"
                "  spot = false    // on demand\n"
                "  region = \"eu\"\n"
                "}\n"),
            "cluster c {\n"
            "  nodes  = 1     # one\n"
            "  spot   = false // on demand\n"
            "  region = \"eu\"\n"
            "}\n");
}

TEST(Format, CommentsBetweenDeclarationsStayBetweenThem) {
  EXPECT_EQ(Fmt("# header\n\n"
                "let a = 1 # trailing\n"
                "# about b\n"
                "let b = 2\n"
                "/* block */\n\n\n"
                "let c = 3\n"
                "# the end\n"),
            "# header\n\n"
            "let a = 1 # trailing\n\n"
            "# about b\n"
            "let b = 2\n\n"
            "/* block */\n\n"
            "let c = 3\n\n"
            "# the end\n");
}

TEST(Format, DocCommentsStayAttached) {
  std::string src =
      "/// The number of GPUs.\n"
      "/// At most 8.\n"
      "input gpus: int = 8\n\n"
      "type Limits = {\n"
      "  /// GPUs per node.\n"
      "  gpus: int\n"
      "  memory: bytes = 80GiB\n"
      "}\n";
  EXPECT_EQ(Fmt(src), src);
}

TEST(Format, CommentsInsideBodiesListsAndExpressionsAreKept) {
  EXPECT_EQ(Fmt("cluster c { # opener\n"
                "  # first\n"
                "  nodes = 1\n"
                "  labels = [ # why\n"
                "    \"a\", # A\n"
                "    # before b\n"
                "    \"b\"\n"
                "    # at the end\n"
                "  ]\n"
                "  cpus = 2 + /* inline */ 3\n"
                "  # last\n"
                "}\n"),
            "cluster c { # opener\n"
            "  # first\n"
            "  nodes = 1\n"
            "  labels = [ # why\n"
            "    \"a\", # A\n"
            "    # before b\n"
            "    \"b\",\n"
            "    # at the end\n"
            "  ]\n"
            "  cpus = 2 + /* inline */ 3\n"
            "  # last\n"
            "}\n");
}

TEST(Format, LineCommentInsideAnExpressionBreaksTheLine) {
  std::string out = Fmt("let x = a + # why\n  b\n");
  EXPECT_EQ(out, "let x = a + # why\n  b\n");
}

TEST(Format, Declarations) {
  EXPECT_EQ(Fmt("input  hf_token :string   sensitive\n"
                "input p: \"bf16\"|\"fp16\" = \"bf16\"\n"
                "let image:string=\"x\"\n"
                "output admin_token: string sensitive = hf_token\n"
                "assert n>=1,\"n must be positive\"\n"
                "type T = list<map<string>>?\n"
                "provider slurm hpc {url=\"http://x\"}\n"
                "module serving for k,v in regions if enabled {\n source = \"./m\"\n}\n"
                "training_job sweep for lr in [1e-4, 3e-4] { env = { LR = \"${lr}\" } }\n"
                "slurm.reservation r if on {\n nodes = 2\n}\n"),
            "input hf_token: string sensitive\n\n"
            "input p: \"bf16\" | \"fp16\" = \"bf16\"\n\n"
            "let image: string = \"x\"\n\n"
            "output admin_token: string sensitive = hf_token\n\n"
            "assert n >= 1, \"n must be positive\"\n\n"
            "type T = list<map<string>>?\n\n"
            "provider slurm hpc { url = \"http://x\" }\n\n"
            "module serving for k, v in regions if enabled {\n  source = \"./m\"\n}\n\n"
            "training_job sweep for lr in [1e-4, 3e-4] { env = { LR = \"${lr}\" } }\n\n"
            "slurm.reservation r if on {\n  nodes = 2\n}\n");
}

TEST(Format, ForExpressionsAndIndexing) {
  EXPECT_EQ(Fmt("let a = [for x in xs : f(x)]\n"
                "let b = [for i,x in xs if x>0: x]\n"
                "let c = {for k,v in m: k=>v.id}\n"
                "let d = sweep[\"0.001\"].id\n"),
            "let a = [for x in xs: f(x)]\n\n"
            "let b = [for i, x in xs if x > 0: x]\n\n"
            "let c = {for k, v in m: k => v.id}\n\n"
            "let d = sweep[\"0.001\"].id\n");
}

TEST(Format, QuotedKeysAndColonItems) {
  EXPECT_EQ(Fmt("let m = {\n  \"a-b\" = 1\n  c = 2\n}\n"), "let m = {\n  \"a-b\" = 1\n  c     = 2\n}\n");
  EXPECT_EQ(Fmt("let m = { a: 1 }\n"), "let m = { a: 1 }\n");
}

TEST(Format, MultiLineCallArguments) {
  EXPECT_EQ(Fmt("let x = merge(\n  a,\n  b)\n"), "let x = merge(\n  a,\n  b,\n)\n");
  EXPECT_EQ(Fmt("let x = merge(a, {\n  k = 1\n})\n"), "let x = merge(a, {\n  k = 1\n})\n");
}

TEST(Format, EndsWithOneNewlineAndNoTrailingWhitespace) {
  std::string out = Fmt("let a = 1   \n\n\n\n");
  EXPECT_EQ(out, "let a = 1\n");
  EXPECT_EQ(Fmt(""), "");
  EXPECT_EQ(Fmt("# only a comment   "), "# only a comment\n");
}

TEST(Format, CrLfInputBecomesLf) {
  EXPECT_EQ(Fmt("let a = 1\r\nlet b = 2\r\n"), "let a = 1\n\nlet b = 2\n");
}

TEST(AstShape, ChangesWithMeaningButNotWithLayout) {
  EXPECT_EQ(ShapeOf("let a = 1 + 2\n"), ShapeOf("let   a=1+\n2\n"));
  EXPECT_NE(ShapeOf("let a = 1 + 2\n"), ShapeOf("let a = 1 - 2\n"));
  EXPECT_NE(ShapeOf("let a = (1 + 2) * 3\n"), ShapeOf("let a = 1 + 2 * 3\n"));
  EXPECT_NE(ShapeOf("let a = 1 # x\n"), ShapeOf("let a = 1 # y\n"));
  EXPECT_NE(ShapeOf("let a = 1\n"), ShapeOf("let a = 1 # y\n"));
}

TEST(UnifiedDiff, ShowsChangedLinesWithContext) {
  std::string before = "a\nb\nc\nd\ne\nf\ng\nh\n";
  std::string after = "a\nb\nc\nD\ne\nf\ng\nh\n";
  EXPECT_EQ(UnifiedDiff("m.kiln", before, after),
            "--- a/m.kiln\n+++ b/m.kiln\n"
            "@@ -1,7 +1,7 @@\n a\n b\n c\n-d\n+D\n e\n f\n g\n");
  EXPECT_EQ(UnifiedDiff("m.kiln", before, before), "");
}

TEST(UnifiedDiff, SeparateHunksAndInsertions) {
  std::string before;
  std::string after;
  for (int i = 0; i < 20; ++i) {
    before += std::to_string(i) + "\n";
    after += std::to_string(i) + "\n";
    if (i == 2) after += "new\n";
  }
  after.replace(after.find("\n18\n"), 4, "\nX\n");
  EXPECT_EQ(UnifiedDiff("f", before, after),
            "--- a/f\n+++ b/f\n"
            "@@ -1,6 +1,7 @@\n 0\n 1\n 2\n+new\n 3\n 4\n 5\n"
            "@@ -16,5 +17,5 @@\n 15\n 16\n 17\n-18\n+X\n 19\n");
}

}  // namespace
}  // namespace kiln
