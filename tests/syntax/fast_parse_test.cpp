// Differential tests of the two parsing paths (compiler/syntax/parse_paths.h):
// for every input, the hand-written parser either gives up or builds exactly
// the AST of the ANTLR path (every node, value and range, compared through a
// dump that prints whole ranges), and it never accepts input the ANTLR path
// reports an error for. On the repository's own .kiln files it must not give
// up when ANTLR finds no error, so the fast path is really the one used.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "compiler/ast/ast_dump.h"
#include "compiler/syntax/parse.h"
#include "compiler/syntax/parse_paths.h"
#include "compiler/syntax/tokens.h"
#include "tests/common/test_util.h"

namespace kiln {
namespace {

namespace fs = std::filesystem;

// ------------------------------------------------------------------ full dump
// Everything in the AST, with begin and end of every range (ast_dump prints
// only where nodes begin).

std::string Loc(const SourceLoc& l) {
  return std::to_string(l.file_id) + ":" + std::to_string(l.line) + ":" + std::to_string(l.column) + "@" +
         std::to_string(l.offset);
}
std::string R(const SourceRange& r) { return "[" + Loc(r.begin) + " " + Loc(r.end) + "]"; }

void DumpExpr(const ast::Expr* e, int depth, std::string& out);

void Line(int depth, const std::string& text, std::string& out) {
  out.append(static_cast<size_t>(depth) * 2, ' ');
  out += text;
  out += '\n';
}

void DumpObject(const ast::ObjectExpr& o, int depth, std::string& out) {
  for (const ast::ObjectItem& item : o.items) {
    Line(depth, "item " + R(item.range) + " key=" + ast::QuoteForDump(item.key) + " " + R(item.key_range) +
                    (item.quoted_key ? " quoted" : "") + (item.colon ? " colon" : "") +
                    (item.is_block ? " block" : ""),
         out);
    DumpExpr(item.value.get(), depth + 1, out);
  }
}

void DumpExpr(const ast::Expr* e, int depth, std::string& out) {
  if (!e) {
    Line(depth, "none", out);
    return;
  }
  std::string at = R(e->range);
  switch (e->kind) {
    case ast::ExprKind::kNull: Line(depth, "null " + at, out); return;
    case ast::ExprKind::kBool:
      Line(depth, "bool " + at + (ast::As<ast::BoolExpr>(e)->value ? " true" : " false"), out);
      return;
    case ast::ExprKind::kInt:
      Line(depth, "int " + at + " " + std::to_string(ast::As<ast::IntExpr>(e)->value), out);
      return;
    case ast::ExprKind::kFloat: {
      char buf[64];
      std::snprintf(buf, sizeof buf, "%.17g", ast::As<ast::FloatExpr>(e)->value);
      Line(depth, "float " + at + " " + buf, out);
      return;
    }
    case ast::ExprKind::kQuantity: {
      const auto* q = ast::As<ast::QuantityExpr>(e);
      char buf[64];
      std::snprintf(buf, sizeof buf, "%.17g", q->value);
      Line(depth, "quantity " + at + " " + buf + " int=" + std::to_string(q->int_value) +
                      (q->is_integer ? " integer " : " float ") + ast::UnitName(q->unit),
           out);
      return;
    }
    case ast::ExprKind::kTemplate: {
      const auto* t = ast::As<ast::TemplateExpr>(e);
      Line(depth, "template " + at + (t->heredoc ? " heredoc" : "") + (t->strip_indent ? " strip" : "") +
                      " marker=" + t->heredoc_marker + " parts=" + std::to_string(t->parts.size()),
           out);
      for (const auto& p : t->parts) {
        if (p.expr) {
          Line(depth + 1, "interp text=" + ast::QuoteForDump(p.text), out);
          DumpExpr(p.expr.get(), depth + 2, out);
        } else {
          Line(depth + 1, "text " + ast::QuoteForDump(p.text), out);
        }
      }
      return;
    }
    case ast::ExprKind::kName: Line(depth, "name " + at + " " + ast::As<ast::NameExpr>(e)->name, out); return;
    case ast::ExprKind::kGetAttr: {
      const auto* g = ast::As<ast::GetAttrExpr>(e);
      Line(depth, "get " + at + " " + g->name + " " + R(g->name_range), out);
      DumpExpr(g->object.get(), depth + 1, out);
      return;
    }
    case ast::ExprKind::kIndex: {
      const auto* i = ast::As<ast::IndexExpr>(e);
      Line(depth, "index " + at, out);
      DumpExpr(i->object.get(), depth + 1, out);
      DumpExpr(i->index.get(), depth + 1, out);
      return;
    }
    case ast::ExprKind::kCall: {
      const auto* c = ast::As<ast::CallExpr>(e);
      Line(depth, "call " + at + " " + c->callee + " " + R(c->callee_range), out);
      for (const auto& a : c->args) DumpExpr(a.get(), depth + 1, out);
      return;
    }
    case ast::ExprKind::kUnary: {
      const auto* u = ast::As<ast::UnaryExpr>(e);
      Line(depth, "unary " + at + (u->op == ast::UnaryOp::kNot ? " !" : u->op == ast::UnaryOp::kNeg ? " -" : " .."), out);
      DumpExpr(u->operand.get(), depth + 1, out);
      return;
    }
    case ast::ExprKind::kBinary: {
      const auto* b = ast::As<ast::BinaryExpr>(e);
      Line(depth, "binary " + at + " " + ast::BinaryOpText(b->op) + " " + R(b->op_range), out);
      DumpExpr(b->lhs.get(), depth + 1, out);
      DumpExpr(b->rhs.get(), depth + 1, out);
      return;
    }
    case ast::ExprKind::kConditional: {
      const auto* c = ast::As<ast::ConditionalExpr>(e);
      Line(depth, "cond " + at, out);
      DumpExpr(c->cond.get(), depth + 1, out);
      DumpExpr(c->then_expr.get(), depth + 1, out);
      DumpExpr(c->else_expr.get(), depth + 1, out);
      return;
    }
    case ast::ExprKind::kList: {
      Line(depth, "list " + at, out);
      for (const auto& i : ast::As<ast::ListExpr>(e)->items) DumpExpr(i.get(), depth + 1, out);
      return;
    }
    case ast::ExprKind::kObject:
      Line(depth, "object " + at, out);
      DumpObject(*ast::As<ast::ObjectExpr>(e), depth + 1, out);
      return;
    case ast::ExprKind::kFor: {
      const auto* f = ast::As<ast::ForExpr>(e);
      Line(depth, std::string(f->is_map ? "for-map " : "for-list ") + at + " key=" + f->key_var + " " +
                      R(f->key_var_range) + " value=" + f->value_var + " " + R(f->value_var_range),
           out);
      DumpExpr(f->collection.get(), depth + 1, out);
      DumpExpr(f->cond.get(), depth + 1, out);
      DumpExpr(f->key.get(), depth + 1, out);
      DumpExpr(f->value.get(), depth + 1, out);
      return;
    }
  }
  Line(depth, "?", out);
}

void DumpType(const ast::TypeExpr* t, int depth, std::string& out) {
  if (!t) {
    Line(depth, "none", out);
    return;
  }
  Line(depth, "type kind=" + std::to_string(static_cast<int>(t->kind)) + " " + R(t->range) + " name=" +
                  ast::QuoteForDump(t->name),
       out);
  DumpType(t->element.get(), depth + 1, out);
  for (const auto& a : t->alternatives) DumpType(a.get(), depth + 1, out);
  for (const ast::RecordField& f : t->fields) {
    std::string mods;
    for (const auto& m : f.modifiers) mods += " " + m;
    Line(depth + 1, "field " + R(f.range) + " " + f.name + " " + R(f.name_range) + (f.optional ? " optional" : "") +
                        " doc=" + ast::QuoteForDump(f.doc) + " mods:" + mods,
         out);
    DumpType(f.type.get(), depth + 2, out);
    DumpExpr(f.default_value.get(), depth + 2, out);
  }
}

void DumpFor(const ast::ForClause* f, int depth, std::string& out) {
  if (!f) {
    Line(depth, "no-for", out);
    return;
  }
  Line(depth, "for " + R(f->range) + " key=" + f->key_var + " " + R(f->key_var_range) + " value=" + f->value_var +
                  " " + R(f->value_var_range),
       out);
  DumpExpr(f->collection.get(), depth + 1, out);
}

std::string FullDump(const ast::File& file) {
  std::string out = "file " + std::to_string(file.file_id) + "\n";
  for (const auto& d : file.decls) {
    Line(0, "decl kind=" + std::to_string(static_cast<int>(d->kind)) + " " + R(d->range) + " name=" + d->name + " " +
                R(d->name_range) + " doc=" + ast::QuoteForDump(d->doc),
         out);
    switch (d->kind) {
      case ast::DeclKind::kInput: {
        const auto* x = ast::As<ast::InputDecl>(d.get());
        Line(1, x->sensitive ? "sensitive" : "plain", out);
        DumpType(x->type.get(), 1, out);
        DumpExpr(x->default_value.get(), 1, out);
        break;
      }
      case ast::DeclKind::kLet: {
        const auto* x = ast::As<ast::LetDecl>(d.get());
        DumpType(x->type.get(), 1, out);
        DumpExpr(x->value.get(), 1, out);
        break;
      }
      case ast::DeclKind::kOutput: {
        const auto* x = ast::As<ast::OutputDecl>(d.get());
        Line(1, x->sensitive ? "sensitive" : "plain", out);
        DumpType(x->type.get(), 1, out);
        DumpExpr(x->value.get(), 1, out);
        break;
      }
      case ast::DeclKind::kAssert: {
        const auto* x = ast::As<ast::AssertDecl>(d.get());
        DumpExpr(x->cond.get(), 1, out);
        DumpExpr(x->message.get(), 1, out);
        break;
      }
      case ast::DeclKind::kType: DumpType(ast::As<ast::TypeDecl>(d.get())->type.get(), 1, out); break;
      case ast::DeclKind::kProvider: {
        const auto* x = ast::As<ast::ProviderDecl>(d.get());
        Line(1, "type " + x->type_name + " " + R(x->type_range), out);
        DumpExpr(x->body.get(), 1, out);
        break;
      }
      case ast::DeclKind::kBackend: {
        const auto* x = ast::As<ast::BackendDecl>(d.get());
        Line(1, "type " + x->type_name + " " + R(x->type_range), out);
        DumpExpr(x->body.get(), 1, out);
        break;
      }
      case ast::DeclKind::kModule: {
        const auto* x = ast::As<ast::ModuleDecl>(d.get());
        DumpFor(x->for_clause.get(), 1, out);
        DumpExpr(x->if_cond.get(), 1, out);
        DumpExpr(x->body.get(), 1, out);
        break;
      }
      case ast::DeclKind::kResource: {
        const auto* x = ast::As<ast::ResourceDecl>(d.get());
        Line(1, "kind " + x->provider_type + "." + x->kind_name + " " + R(x->kind_range), out);
        DumpFor(x->for_clause.get(), 1, out);
        DumpExpr(x->if_cond.get(), 1, out);
        DumpExpr(x->body.get(), 1, out);
        break;
      }
    }
  }
  for (const ast::Comment& c : file.comments) {
    Line(0, "comment " + std::to_string(static_cast<int>(c.kind)) + " " + R(c.range) + " " + ast::QuoteForDump(c.text),
         out);
  }
  return out;
}

// ------------------------------------------------------------------ comparing

struct Outcome {
  bool fast_used = false;   // the fast path did not give up
  bool antlr_errors = false;
  std::string mismatch;     // empty when the paths agree
};

// Both paths over `text`. They agree when the fast path gives up, or when
// ANTLR reports no error and both ASTs dump the same.
Outcome Compare(const std::string& text) {
  Outcome o;
  SourceManager sm;
  uint32_t id = sm.AddBuffer("t.kiln", text);
  Diagnostics diags;
  std::unique_ptr<ast::File> slow = syntax::AntlrParseFile(sm, id, diags);
  std::unique_ptr<ast::File> fast = syntax::FastParseFile(sm, id);
  o.antlr_errors = diags.HasErrors();
  o.fast_used = fast != nullptr;
  if (!fast) return o;
  if (o.antlr_errors) {
    o.mismatch = "the fast path accepted input the ANTLR path rejects: " + diags.items()[0].code + " " +
                 diags.items()[0].message;
    return o;
  }
  std::string a = FullDump(*slow), b = FullDump(*fast);
  if (a != b) {
    size_t i = 0;
    while (i < a.size() && i < b.size() && a[i] == b[i]) ++i;
    size_t from = a.rfind('\n', i);
    from = from == std::string::npos ? 0 : from + 1;
    o.mismatch = "ASTs differ at\n  antlr: " + a.substr(from, a.find('\n', i) - from) +
                 "\n  fast:  " + b.substr(from, b.find('\n', i) - from);
  } else if (ast::DumpFile(*slow) != ast::DumpFile(*fast)) {
    o.mismatch = "ast_dump differs";
  }
  return o;
}

using testutil::ReadFile;

std::vector<fs::path> RepositoryKilnFiles() {
  std::vector<fs::path> out;
  fs::path root(KILN_SOURCE_DIR);
  for (const char* dir : {"examples", "stdlib", "tests/testdata"}) {
    if (!fs::exists(root / dir)) continue;
    for (const auto& entry : fs::recursive_directory_iterator(root / dir)) {
      if (entry.is_regular_file() && entry.path().extension() == ".kiln") out.push_back(entry.path());
    }
  }
  std::sort(out.begin(), out.end());
  return out;
}

TEST(FastParse, RepositoryFilesMatchAntlr) {
  std::vector<fs::path> files = RepositoryKilnFiles();
  ASSERT_GT(files.size(), 50u);
  size_t clean = 0, with_errors = 0;
  for (const fs::path& p : files) {
    Outcome o = Compare(ReadFile(p));
    EXPECT_EQ(o.mismatch, "") << p;
    if (o.antlr_errors) {
      ++with_errors;
    } else {
      ++clean;
      EXPECT_TRUE(o.fast_used) << "the fast path gave up on a file without errors: " << p;
    }
  }
  std::printf("%zu files: %zu without errors (fast path), %zu with errors (ANTLR)\n", files.size(), clean,
              with_errors);
}

// ------------------------------------------------------------------ hand-written cases

void ExpectSame(const std::string& text, bool fast_expected) {
  Outcome o = Compare(text);
  EXPECT_EQ(o.mismatch, "") << text;
  if (fast_expected) {
    EXPECT_FALSE(o.antlr_errors) << text;
    EXPECT_TRUE(o.fast_used) << text;
  } else {
    EXPECT_FALSE(o.fast_used) << text;
  }
}

TEST(FastParse, Expressions) {
  for (const char* e : {
           "a || b && c == d < e .. f + g * -h.i", "a ? b : c ? d : e", "-a.b[c].d * !e", "(a + b) * c",
           "(a).b", "((a))", "f()", "f(1,)", "f(a, b, c)", "-9223372036854775808", "- 9223372036854775808 * 2",
           "[1, 2\n 3]", "[]", "[for x in xs: x * 2]", "[for i, x in xs if x > 0: x]",
           "{for k, v in m: k => v.id}", "{ for = 1, in: 2, \"q k\" = 3 }", "{ a { b = 1 } }", "a - -1",
           "1.5h + 2m", "80GiB / 1KiB", "1e-4", "2.5E3", "1_000_000", "0.5", "1e5ms", "\"\"", "\"a${b}c\"",
           "\"x${ \"a${b}\" }y$${z}\"", "\"$ $$ $x\"", "\"\\n\\t\\\\ \\\" \\u{1F600} é\"", "<<EOT\nhello ${x}\nEOT",
           "<<-EOT\n    a\n      b\n    EOT", "<<-X\n  ${a} b\n\n  c\nX", "a.input.type.if", "a[b ? c : d]",
           "x ? [for y in z: y] : {}", "!!a", "a % b / c", "a <= b >= c != d", "true && false || null == null",
       }) {
    ExpectSame(std::string("let v = ") + e + "\n", true);
  }
}

// `..` with nothing after it on its line is an open-ended range (OPEN_DOTDOT
// in both lexers); what follows on the next line is a new item.
TEST(FastParse, OpenRanges) {
  for (const char* e : {
           "8..", "32GiB..", "1 + 7..", "a == 8..", "[1.., 2..3]", "f(4..)", "c ? 2.. : 1..4", "8.. // c",
           "8.. # c", "8..\t", "(8..).min", "8.. == a", "-(8..)", "8..\r\n", "{ a = 1.., b = 2 }",
       }) {
    ExpectSame(std::string("let v = ") + e + "\n", true);
  }
  ExpectSame("training_job t {\n  cpus = 8..\n  memory = 32GiB..\n  command = \"x\"\n}\n", true);
  // A closed range's maximum must be on the line of its `..`.
  ExpectSame("let v = 1..\n4\n", false);
  ExpectSame("let v = 1.. /* c */ 4\n", false);
}

TEST(FastParse, Declarations) {
  ExpectSame(R"(/// Doc one.
/// Doc two.
input gpus: int = 8
input p: "bf16" | "fp16" = "bf16" sensitive
input t: string sensitive
input u: string sensitive = "x"
let a: list<map<string>> = []
output o: int? sensitive = 1
output q = a
assert a > 1, "message"
type L = { gpus: int, /// memory
  memory?: bytes = 80GiB computed sensitive
  name: string sensitive, x: (a | b)? }
provider slurm hpc { url = "http://x" }
backend local { path = ".kiln/state.json" }
module m for k, v in mods if v.enabled { source = "./m" }
slurm.reservation r { nodes = 2 }
cluster pool for x in [1, 2] { nodes = x } // trailing
endpoint e if c {
  lifecycle { prevent_destroy = true }
}
/* block
comment */ let z = 1 # hash
let w = 1 /// not a doc
let y = 2
)",
             true);
}

TEST(FastParse, CarriageReturnsAndByteOrderMarks) {
  ExpectSame("let a = <<EOT\r\nline ${b}\r\n  EOT\r\nlet c = <<-X\r\n  d\r\n\r\n  e\rX\r\n", true);
  ExpectSame("/// doc\r\nlet a = 1\r\n# c\r\n/* x\r\n */ let b = [1,\r\n2]\r\n", true);
  ExpectSame("\xEF\xBB\xBFlet a = 1\nlet b = \"\xEF\xBB\xBF\" \xEF\xBB\xBF + 1\n", true);
  ExpectSame("let a = \"x\ry\"\n", false);
}

TEST(FastParse, GivesUpOnErrors) {
  for (const char* text : {
           "let a = 10Gb\n", "let a = 1.2.3\n", "let a = 9223372036854775808\n", "let a = \"\\q\"\n",
           "let a = \"unterminated\n", "let a = <<EOT\nno end\n", "/* open", "let a = [1 2]\n",
           "let a = { \"${k}\" = 1 }\n", "input a: set<int>\n", "let a = 1 }\n", "let a = @\n", "let a = 1_\n",
           "let a = \xff\n", "let a = b c\n", "cluster { }\n", "let a = (((\n",
       }) {
    ExpectSame(text, false);
  }
}

// ANTLR's ALL(*) prediction looks ahead past a failing choice: `x` then a
// new item `[1, 2]` on the next line, where `x[1` cannot go on. The fast
// path only takes the greedy reading (`x[...]`, as ANTLR does whenever both
// readings parse) and hands this file to ANTLR.
TEST(FastParse, NonGreedyReadingFallsBack) {
  ExpectSame("let a = [\n  x\n  [1, 2]\n]\n", false);
  Outcome o = Compare("let a = [\n  x\n  [1, 2]\n]\n");
  EXPECT_FALSE(o.antlr_errors);
  ExpectSame("let a = [\n  x\n  [1]\n]\n", true);  // both parse: greedy `x[1]`
}

TEST(FastParse, DeepNestingFallsBack) {
  std::string deep = "let a = " + std::string(300, '(') + "1" + std::string(300, ')') + "\n";
  ExpectSame(deep, false);
  std::string chain = "let a = x";
  for (int i = 0; i < 2000; ++i) chain += " + x";
  ExpectSame(chain + "\n", false);
  std::string ok = "let a = x";
  for (int i = 0; i < 500; ++i) ok += " + x";
  ExpectSame(ok + "\n", true);
}

TEST(FastParse, TextEntryPoints) {
  SourceManager sm;
  Diagnostics diags;
  ast::ExprPtr e = ParseExpressionText(sm, "expr", "a + b * c", diags);
  ASSERT_NE(e, nullptr);
  EXPECT_FALSE(diags.HasErrors());
  uint32_t id = sm.AddBuffer("e", "a + b * c");
  ast::ExprPtr fast = syntax::FastParseExpr(sm, id);
  ASSERT_NE(fast, nullptr);
  EXPECT_EQ(ast::DumpExpr(*fast), ast::DumpExpr(*e));
  ast::TypeExprPtr t = ParseTypeText(sm, "type", "list<string>?", diags);
  ASSERT_NE(t, nullptr);
  uint32_t tid = sm.AddBuffer("t", "list<string>?");
  ast::TypeExprPtr ft = syntax::FastParseType(sm, tid);
  ASSERT_NE(ft, nullptr);
  EXPECT_EQ(ast::DumpType(*ft), ast::DumpType(*t));
  // Errors still come from the ANTLR path.
  Diagnostics bad;
  EXPECT_EQ(ParseExpressionText(sm, "expr", "a +", bad), nullptr);
  EXPECT_TRUE(bad.HasErrors());
  uint32_t bid = sm.AddBuffer("b", "a +");
  EXPECT_EQ(syntax::FastParseExpr(sm, bid), nullptr);
}

// ------------------------------------------------------------------ mutations

// Token-level mutations of the repository's files: delete, duplicate, swap
// or insert tokens (taken from the same file), and byte-level edits.
std::string MutateTokens(const std::string& text, std::mt19937_64& rng) {
  SourceManager sm;
  uint32_t id = sm.AddBuffer("m.kiln", text);
  std::vector<syntax::TokenInfo> toks = syntax::Tokenize(sm, id);
  if (toks.size() < 3) return text;
  toks.pop_back();  // EOF
  std::string out = text;
  int rounds = 1 + static_cast<int>(rng() % 3);
  for (int r = 0; r < rounds; ++r) {
    const syntax::TokenInfo& a = toks[rng() % toks.size()];
    const syntax::TokenInfo& b = toks[rng() % toks.size()];
    uint32_t ab = a.range.begin.offset, ae = a.range.end.offset;
    if (ae > out.size() || ab > ae) continue;
    switch (rng() % 4) {
      case 0: out.erase(ab, ae - ab); break;
      case 1: out.insert(ab, out.substr(ab, ae - ab) + " "); break;
      case 2: out.insert(ab, b.text + " "); break;
      default: {
        uint32_t bb = b.range.begin.offset, be = b.range.end.offset;
        if (be > out.size() || bb > be || bb == ab) break;
        if (bb < ab) std::swap(ab, bb), std::swap(ae, be);
        if (ae > bb) break;
        std::string first = out.substr(ab, ae - ab), second = out.substr(bb, be - bb);
        out.replace(bb, be - bb, first);
        out.replace(ab, ae - ab, second);
        break;
      }
    }
    if (out.size() != text.size()) break;  // offsets of later tokens moved
  }
  return out;
}

std::string MutateBytes(std::string s, std::mt19937_64& rng) {
  static const char* kFragments[] = {
      "{", "}", "[", "]", "(", ")", ",", ".", "..", "=>", "==", "?", ":", "-", "!", "\"", "${", "$${",
      "\\n", "\\q", "<<EOT\n", "<<-EOT\n", "EOT\n", "\n", "#c\n", "///d\n", "/*", "*/", "1", "1_0", "0.5",
      "1e5", "80GiB", "10Gb", "1.2.3", "for ", " in ", "if ", "sensitive", "null", "x", "\xc3\xa9", "\xff",
  };
  int rounds = 1 + static_cast<int>(rng() % 4);
  for (int r = 0; r < rounds; ++r) {
    size_t pos = s.empty() ? 0 : rng() % (s.size() + 1);
    switch (rng() % 4) {
      case 0:
        if (pos < s.size()) s.erase(pos, 1 + rng() % std::min<size_t>(8, s.size() - pos));
        break;
      case 1: s.insert(pos, kFragments[rng() % (sizeof kFragments / sizeof kFragments[0])]); break;
      case 2: s.insert(s.begin() + static_cast<long>(pos), static_cast<char>(32 + rng() % 95)); break;
      default:
        if (pos < s.size()) s[pos] = static_cast<char>(32 + rng() % 95);
        break;
    }
  }
  return s;
}

TEST(FastParse, MutationsNeverDisagree) {
  std::vector<std::string> corpus;
  for (const fs::path& p : RepositoryKilnFiles()) {
    std::string text = ReadFile(p);
    if (text.size() < 20000) corpus.push_back(std::move(text));
  }
  ASSERT_FALSE(corpus.empty());
  std::mt19937_64 rng(20261127);
  size_t fast = 0, total = 0, failures = 0;
  for (int i = 0; i < 3000 && failures < 5; ++i) {
    const std::string& base = corpus[rng() % corpus.size()];
    std::string input = i % 2 ? MutateTokens(base, rng) : MutateBytes(base, rng);
    Outcome o = Compare(input);
    ++total;
    if (o.fast_used) ++fast;
    if (!o.mismatch.empty()) {
      ++failures;
      ADD_FAILURE() << o.mismatch << "\n--- input ---\n" << input;
    }
  }
  std::printf("%zu mutated inputs, %zu taken by the fast path\n", total, fast);
}

// ------------------------------------------------------------------ random programs

// A seeded generator of random, mostly valid programs covering every rule.
class Generator {
 public:
  explicit Generator(uint64_t seed) : rng_(seed) {}

  std::string File() {
    std::string out;
    int n = 1 + Pick(6);
    for (int i = 0; i < n; ++i) {
      if (Pick(4) == 0) out += "/// doc " + std::to_string(i) + "\n";
      if (Pick(6) == 0) out += "# note\n";
      out += Decl() + Sep();
    }
    return out;
  }

 private:
  int Pick(int n) { return static_cast<int>(rng_() % static_cast<uint64_t>(n)); }
  std::string Sep() {
    switch (Pick(5)) {
      case 0: return " ";
      case 1: return "\n\n";
      case 2: return " // c\n";
      case 3: return "\r\n";
      default: return "\n";
    }
  }
  std::string Name() {
    static const char* names[] = {"a", "b", "pool", "x_1", "sensitive", "_y", "gpus"};
    return names[Pick(7)];
  }
  std::string AnyName() {
    static const char* names[] = {"a", "input", "type", "output", "if", "in", "null", "true", "for", "key"};
    return names[Pick(10)];
  }
  std::string Number() {
    static const char* nums[] = {"0", "42", "1_000", "0.5", "1e-4", "2.5E3", "500ms", "80GiB", "1.5h",
                                 "2TB", "7d", "1e5", "3.25e+2s", "9223372036854775807"};
    return nums[Pick(14)];
  }
  std::string StringLit(int depth) {
    std::string s = "\"";
    int n = Pick(4);
    for (int i = 0; i < n; ++i) {
      switch (Pick(6)) {
        case 0: s += "text "; break;
        case 1: s += "\\n\\t\\\"\\\\"; break;
        case 2: s += "$${x}"; break;
        case 3: s += "$"; break;
        case 4: s += "\\u{e9}"; break;
        default: s += "${" + Expr(depth + 1) + "}"; break;
      }
    }
    return s + "\"";
  }
  std::string Heredoc(int depth) {
    bool strip = Pick(2) == 0;
    std::string s = strip ? "<<-EOT\n" : "<<EOT\n";
    int n = Pick(4);
    for (int i = 0; i < n; ++i) {
      s += std::string(static_cast<size_t>(Pick(3) * 2), ' ');
      if (Pick(3) == 0) s += "${" + Expr(depth + 1) + "} ";
      s += "line $ $${ \\n\n";
    }
    return s + (Pick(2) ? "  EOT" : "EOT") + "\n";
  }
  std::string Primary(int depth) {
    int choice = depth > 4 ? Pick(4) : Pick(12);
    switch (choice) {
      case 0: return Number();
      case 1: return Name();
      case 2: return Pick(2) ? "true" : "null";
      case 3: return StringLit(depth);
      case 4: return "(" + Expr(depth + 1) + ")";
      case 5: {
        std::string s = "f(";
        int n = Pick(4);
        for (int i = 0; i < n; ++i) s += (i ? ", " : "") + Expr(depth + 1);
        return s + (n && Pick(2) ? ",)" : ")");
      }
      case 6: {
        std::string s = "[";
        int n = Pick(4);
        for (int i = 0; i < n; ++i) s += Expr(depth + 1) + (Pick(3) ? ", " : "\n");
        return s + "]";
      }
      case 7: return "[for " + Name() + (Pick(2) ? ", " + Name() : "") + " in " + Expr(depth + 1) +
                     (Pick(2) ? " if " + Expr(depth + 1) : "") + ": " + Expr(depth + 1) + "]";
      case 8: return "{for " + Name() + " in " + Expr(depth + 1) + ": " + Expr(depth + 1) + " => " +
                     Expr(depth + 1) + "}";
      case 9: return Object(depth + 1);
      case 10: return Heredoc(depth);
      default: return "-" + Primary(depth + 1);
    }
  }
  std::string Expr(int depth) {
    std::string s = Primary(depth);
    int n = depth > 3 ? 0 : Pick(4);
    static const char* ops[] = {" + ", " - ", " * ", " / ", " % ", " .. ", " < ", " <= ", " > ", " >= ",
                                " == ", " != ", " && ", " || ", "-", "*"};
    for (int i = 0; i < n; ++i) {
      switch (Pick(5)) {
        case 0: s += "." + AnyName(); break;
        case 1: s += "[" + Expr(depth + 1) + "]"; break;
        case 2: s += " ? " + Expr(depth + 1) + " : " + Expr(depth + 1); break;
        default: s += ops[Pick(16)] + Primary(depth + 1); break;
      }
    }
    if (Pick(8) == 0) s = "!" + s;
    return s;
  }
  std::string Object(int depth) {
    std::string s = "{";
    int n = Pick(4);
    for (int i = 0; i < n; ++i) {
      s += Pick(2) ? "\n  " : " ";
      std::string key = Pick(4) ? AnyName() : "\"k " + std::to_string(i) + "\"";
      if (Pick(5) == 0 && depth < 4) {
        s += key + " " + Object(depth + 1);
      } else {
        s += key + (Pick(3) ? " = " : ": ") + Expr(depth + 1);
      }
      if (Pick(2)) s += ",";
    }
    return s + (Pick(2) ? "\n}" : " }");
  }
  std::string Type(int depth) {
    std::string s;
    switch (depth > 3 ? Pick(2) : Pick(6)) {
      case 0: s = Pick(2) ? "string" : "slurm.reservation"; break;
      case 1: s = "\"spot\""; break;
      case 2: s = (Pick(2) ? "list<" : "map<") + Type(depth + 1) + ">"; break;
      case 3: s = "(" + Type(depth + 1) + ")"; break;
      case 4: s = "null"; break;
      default: {
        s = "{";
        int n = Pick(3);
        for (int i = 0; i < n; ++i) {
          if (Pick(3) == 0) s += "\n/// field doc\n";
          s += " " + AnyName() + (Pick(2) ? "?" : "") + ": " + Type(depth + 1);
          if (Pick(3) == 0) s += " sensitive";
          if (Pick(3) == 0) s += " = " + Expr(depth + 2) + (Pick(2) ? " computed" : "");
          if (Pick(2)) s += ",";
        }
        s += " }";
      }
    }
    if (Pick(4) == 0) s += "?";
    if (Pick(4) == 0) s += " | " + Type(depth + 1);
    return s;
  }
  std::string Decl() {
    switch (Pick(9)) {
      case 0: return "input " + Name() + ": " + Type(0) + (Pick(2) ? " = " + Expr(0) : "") +
                     (Pick(3) == 0 ? " sensitive" : "");
      case 1: return "let " + Name() + (Pick(3) == 0 ? ": " + Type(0) : "") + " = " + Expr(0);
      case 2: return "output " + Name() + (Pick(2) ? " sensitive" : "") + " = " + Expr(0);
      case 3: return "assert " + Expr(0) + ", " + StringLit(0);
      case 4: return "type " + Name() + " = " + Type(0);
      case 5: return "provider " + Name() + " " + Name() + " " + Object(0);
      case 6: return "backend " + Name() + " " + Object(0);
      case 7: return "module " + Name() + (Pick(2) ? " for k, v in " + Expr(0) : "") + " " + Object(0);
      default: return (Pick(2) ? "cluster " : "slurm.reservation ") + Name() +
                      (Pick(3) == 0 ? " for x in " + Expr(1) : "") + (Pick(3) == 0 ? " if " + Expr(1) : "") +
                      " " + Object(0);
    }
  }

  std::mt19937_64 rng_;
};

TEST(FastParse, RandomProgramsMatchAntlr) {
  size_t fast = 0, total = 0, failures = 0;
  for (uint64_t seed = 1; seed <= 600 && failures < 5; ++seed) {
    Generator gen(seed);
    std::string text = gen.File();
    Outcome o = Compare(text);
    ++total;
    if (o.fast_used) ++fast;
    if (!o.mismatch.empty()) {
      ++failures;
      ADD_FAILURE() << "seed " << seed << ": " << o.mismatch << "\n--- input ---\n" << text;
    }
  }
  std::printf("%zu random programs, %zu taken by the fast path\n", total, fast);
  // Most generated programs are valid; the fast path must take them.
  EXPECT_GT(fast, total / 2);
}

}  // namespace
}  // namespace kiln
