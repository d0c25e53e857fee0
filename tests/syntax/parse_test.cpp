// Unit tests for Parse() and the AST adapter: ranges, escapes, quantities,
// precedence, heredoc indentation, doc comments, error recovery.
#include <gtest/gtest.h>
#include <unistd.h>

#include "compiler/ast/ast_dump.h"
#include "compiler/syntax/parse.h"

namespace kiln {
namespace {

struct Parsed {
  SourceManager sm;
  Diagnostics diags;
  std::unique_ptr<ast::File> file;
};

std::unique_ptr<Parsed> ParseText(const std::string& text) {
  auto p = std::make_unique<Parsed>();
  uint32_t id = p->sm.AddBuffer("t.kiln", text);
  p->file = Parse(p->sm, id, p->diags);
  return p;
}

const ast::Expr* LetValue(const Parsed& p, size_t i) {
  const auto* let = ast::As<ast::LetDecl>(p.file->decls.at(i).get());
  return let ? let->value.get() : nullptr;
}

TEST(Parse, RangesAreLineColumnAndByteOffset) {
  auto p = ParseText("let a = 1\ncluster pool {\n  nodes = 2\n}\n");
  ASSERT_FALSE(p->diags.HasErrors());
  ASSERT_EQ(p->file->decls.size(), 2u);
  const auto* res = ast::As<ast::ResourceDecl>(p->file->decls[1].get());
  ASSERT_NE(res, nullptr);
  EXPECT_EQ(res->range.begin.line, 2u);
  EXPECT_EQ(res->range.begin.column, 1u);
  EXPECT_EQ(res->range.begin.offset, 10u);
  EXPECT_EQ(res->range.end.line, 4u);
  EXPECT_EQ(res->name, "pool");
  EXPECT_EQ(res->name_range.begin.column, 9u);
  const ast::ObjectItem* item = res->body->Find("nodes");
  ASSERT_NE(item, nullptr);
  EXPECT_EQ(item->key_range.begin.line, 3u);
  EXPECT_EQ(item->key_range.begin.column, 3u);
  EXPECT_EQ(item->value->range.begin.column, 11u);
  EXPECT_EQ(item->value->range.end.column, 12u);
}

TEST(Parse, ColumnsCountBytesAfterMultibyteText) {
  auto p = ParseText("let s = \"é\" + x\n");
  ASSERT_FALSE(p->diags.HasErrors());
  const auto* bin = ast::As<ast::BinaryExpr>(LetValue(*p, 0));
  ASSERT_NE(bin, nullptr);
  // "é" is two bytes: `x` is at byte offset 15, column 16.
  EXPECT_EQ(bin->rhs->range.begin.column, 16u);
  EXPECT_EQ(bin->rhs->range.begin.offset, 15u);
}

TEST(Parse, StringEscapesAreDecoded) {
  auto p = ParseText(R"(let s = "a\\b \"q\" \n\r\t \u{1F600}")");
  ASSERT_FALSE(p->diags.HasErrors());
  const auto* t = ast::As<ast::TemplateExpr>(LetValue(*p, 0));
  ASSERT_NE(t, nullptr);
  ASSERT_TRUE(t->IsLiteral());
  EXPECT_EQ(t->LiteralText(), "a\\b \"q\" \n\r\t \xF0\x9F\x98\x80");
}

TEST(Parse, InterpolationAndDollarEscape) {
  auto p = ParseText(R"(let s = "x${ "a${b}" }y$${z}")");
  ASSERT_FALSE(p->diags.HasErrors());
  const auto* t = ast::As<ast::TemplateExpr>(LetValue(*p, 0));
  ASSERT_NE(t, nullptr);
  ASSERT_EQ(t->parts.size(), 3u);
  EXPECT_EQ(t->parts[0].text, "x");
  const auto* inner = ast::As<ast::TemplateExpr>(t->parts[1].expr.get());
  ASSERT_NE(inner, nullptr);
  ASSERT_EQ(inner->parts.size(), 2u);
  EXPECT_EQ(ast::As<ast::NameExpr>(inner->parts[1].expr.get())->name, "b");
  EXPECT_EQ(t->parts[2].text, "y${z}");
}

TEST(Parse, Quantities) {
  auto p = ParseText("let a = 80GiB\nlet b = 1.5h\nlet c = 500ms\n");
  ASSERT_FALSE(p->diags.HasErrors());
  const auto* a = ast::As<ast::QuantityExpr>(LetValue(*p, 0));
  ASSERT_NE(a, nullptr);
  EXPECT_TRUE(a->is_integer);
  EXPECT_EQ(a->int_value, 80);
  EXPECT_EQ(a->unit, ast::Unit::kGiB);
  const auto* b = ast::As<ast::QuantityExpr>(LetValue(*p, 1));
  ASSERT_NE(b, nullptr);
  EXPECT_FALSE(b->is_integer);
  EXPECT_DOUBLE_EQ(b->value, 1.5);
  EXPECT_EQ(b->unit, ast::Unit::kH);
  EXPECT_EQ(ast::As<ast::QuantityExpr>(LetValue(*p, 2))->unit, ast::Unit::kMs);
}

TEST(Parse, UnknownUnitSuggestsBoth) {
  auto p = ParseText("let a = 10Gb\n");
  ASSERT_EQ(p->diags.size(), 1u);
  EXPECT_EQ(p->diags.items()[0].code, "E0009");
  EXPECT_EQ(p->diags.items()[0].message, "unknown unit `Gb` (did you mean `GB` or `GiB`?)");
  EXPECT_EQ(p->diags.items()[0].range.begin.column, 11u);
}

TEST(Parse, NumbersAndLimits) {
  auto p = ParseText("let a = 1_000_000\nlet b = 2.5E3\nlet c = -9223372036854775808\nlet d = 9223372036854775808\n");
  EXPECT_EQ(ast::As<ast::IntExpr>(LetValue(*p, 0))->value, 1000000);
  EXPECT_DOUBLE_EQ(ast::As<ast::FloatExpr>(LetValue(*p, 1))->value, 2500.0);
  EXPECT_EQ(ast::As<ast::IntExpr>(LetValue(*p, 2))->value, INT64_MIN);
  ASSERT_EQ(p->diags.size(), 1u);
  EXPECT_EQ(p->diags.items()[0].code, "E0008");
}

TEST(Parse, Precedence) {
  SourceManager sm;
  Diagnostics diags;
  auto e = ParseExpressionText(sm, "expr", "a || b && c == d < e .. f + g * -h.i", diags);
  ASSERT_FALSE(diags.HasErrors());
  ASSERT_NE(e, nullptr);
  std::string dump = ast::DumpExpr(*e);
  // Fully parenthesised reading: a || (b && (c == (d < ((e .. (f + (g * (-(h.i)))))))))
  const auto* o = ast::As<ast::BinaryExpr>(e.get());
  ASSERT_NE(o, nullptr);
  EXPECT_EQ(o->op, ast::BinaryOp::kOr);
  const auto* a = ast::As<ast::BinaryExpr>(o->rhs.get());
  ASSERT_EQ(a->op, ast::BinaryOp::kAnd);
  const auto* eq = ast::As<ast::BinaryExpr>(a->rhs.get());
  ASSERT_EQ(eq->op, ast::BinaryOp::kEq);
  const auto* lt = ast::As<ast::BinaryExpr>(eq->rhs.get());
  ASSERT_EQ(lt->op, ast::BinaryOp::kLt);
  const auto* range = ast::As<ast::BinaryExpr>(lt->rhs.get());
  ASSERT_EQ(range->op, ast::BinaryOp::kRange);
  const auto* add = ast::As<ast::BinaryExpr>(range->rhs.get());
  ASSERT_EQ(add->op, ast::BinaryOp::kAdd);
  const auto* mul = ast::As<ast::BinaryExpr>(add->rhs.get());
  ASSERT_EQ(mul->op, ast::BinaryOp::kMul);
  const auto* neg = ast::As<ast::UnaryExpr>(mul->rhs.get());
  ASSERT_NE(neg, nullptr);
  EXPECT_NE(ast::As<ast::GetAttrExpr>(neg->operand.get()), nullptr) << dump;
}

TEST(Parse, ConditionalIsRightAssociative) {
  SourceManager sm;
  Diagnostics diags;
  auto e = ParseExpressionText(sm, "expr", "a ? b : c ? d : e", diags);
  const auto* c = ast::As<ast::ConditionalExpr>(e.get());
  ASSERT_NE(c, nullptr);
  EXPECT_NE(ast::As<ast::ConditionalExpr>(c->else_expr.get()), nullptr);
}

TEST(Parse, HeredocStripsCommonIndentation) {
  auto p = ParseText("let s = <<-EOT\n    a\n      b\n    EOT\nlet t = <<EOT\n  keep\nEOT\n");
  ASSERT_FALSE(p->diags.HasErrors()) << p->diags.items()[0].message;
  const auto* s = ast::As<ast::TemplateExpr>(LetValue(*p, 0));
  ASSERT_NE(s, nullptr);
  EXPECT_TRUE(s->heredoc);
  EXPECT_TRUE(s->strip_indent);
  EXPECT_EQ(s->heredoc_marker, "EOT");
  EXPECT_EQ(s->LiteralText(), "a\n  b\n");
  EXPECT_EQ(ast::As<ast::TemplateExpr>(LetValue(*p, 1))->LiteralText(), "  keep\n");
}

TEST(Parse, DocCommentsAttachToDeclarations) {
  auto p = ParseText("/// one\n/// two\ninput a: int\n\n/// detached\n\nlet b = 1\ntype T = {\n  /// field doc\n  x: int\n}\n");
  ASSERT_FALSE(p->diags.HasErrors());
  EXPECT_EQ(p->file->decls[0]->doc, "one\ntwo");
  EXPECT_EQ(p->file->decls[1]->doc, "");
  const auto* t = ast::As<ast::TypeDecl>(p->file->decls[2].get());
  ASSERT_EQ(t->type->fields.size(), 1u);
  EXPECT_EQ(t->type->fields[0].doc, "field doc");
  EXPECT_EQ(p->file->comments.size(), 4u);
  EXPECT_EQ(p->file->comments[0].kind, ast::CommentKind::kDoc);
}

TEST(Parse, NewlinesSeparateAttributes) {
  auto p = ParseText("cluster a {\n  x = 1\n  y = 2\n  type = \"object\"\n  output = store\n}\n");
  ASSERT_FALSE(p->diags.HasErrors());
  const auto* r = ast::As<ast::ResourceDecl>(p->file->decls[0].get());
  ASSERT_EQ(r->body->items.size(), 4u);
  EXPECT_EQ(r->body->items[2].key, "type");
}

TEST(Parse, ProviderKindResource) {
  auto p = ParseText("slurm.reservation r for k, v in m if c { }\n");
  ASSERT_FALSE(p->diags.HasErrors());
  const auto* r = ast::As<ast::ResourceDecl>(p->file->decls[0].get());
  EXPECT_EQ(r->FullKind(), "slurm.reservation");
  ASSERT_NE(r->for_clause, nullptr);
  EXPECT_EQ(r->for_clause->key_var, "k");
  EXPECT_EQ(r->for_clause->value_var, "v");
  EXPECT_NE(r->if_cond, nullptr);
}

TEST(Parse, ThreeIndependentErrorsGiveThree) {
  auto p = ParseText("cluster a {\n  nodes 2\n}\nlet b = 1 + * 2\noutput d = [1,, 2]\nlet ok = 1\n");
  EXPECT_EQ(p->diags.ErrorCount(), 3u);
  ASSERT_EQ(p->file->decls.size(), 1u);
  EXPECT_EQ(p->file->decls[0]->name, "ok");
  EXPECT_EQ(p->diags.items()[0].message, "expected `=` after attribute name `nodes`");
}

TEST(Parse, MissingBraceGivesOneError) {
  auto p = ParseText("cluster a {\n  nodes = 2\n\ncluster b {\n}\n");
  ASSERT_EQ(p->diags.size(), 1u);
  EXPECT_EQ(p->diags.items()[0].message, "expected `}` to close the block opened at 1:11");
  ASSERT_EQ(p->file->decls.size(), 1u);
  EXPECT_EQ(p->file->decls[0]->name, "b");
}

TEST(Parse, NoAntlrWording) {
  const char* inputs[] = {"let = 1", "cluster { }", "}}}", "let a = [1, 2", "input x: list<", "@#$",
                          "let a = \"${", "provider", "let a = 1 +", "type T = { a int }"};
  for (const char* in : inputs) {
    auto p = ParseText(in);
    EXPECT_TRUE(p->diags.HasErrors()) << in;
    for (const auto& d : p->diags.items()) {
      for (const char* bad : {"mismatched input", "no viable alternative", "extraneous input",
                              "token recognition error", "missing "}) {
        EXPECT_EQ(d.message.find(bad), std::string::npos) << in << ": " << d.message;
      }
    }
  }
}

TEST(Parse, DeepNestingIsAnErrorNotACrash) {
  auto p = ParseText("let a = " + std::string(100000, '(') + "1");
  ASSERT_TRUE(p->diags.HasErrors());
  EXPECT_EQ(p->diags.items()[0].code, "E0014");
}

TEST(ParseTypeText, ParsesTypes) {
  SourceManager sm;
  Diagnostics diags;
  auto t = ParseTypeText(sm, "schema", "list<string> | map<{ a: int, b?: duration = 10s }>?", diags);
  ASSERT_FALSE(diags.HasErrors());
  ASSERT_NE(t, nullptr);
  EXPECT_EQ(t->kind, ast::TypeKind::kUnion);
  ASSERT_EQ(t->alternatives.size(), 2u);
  EXPECT_EQ(t->alternatives[0]->kind, ast::TypeKind::kList);
  EXPECT_EQ(t->alternatives[1]->kind, ast::TypeKind::kOptional);
  auto bad = ParseTypeText(sm, "schema", "list<", diags);
  EXPECT_EQ(bad, nullptr);
  EXPECT_TRUE(diags.HasErrors());
}

}  // namespace
}  // namespace kiln

#include <filesystem>
#include <fstream>

#include "compiler/syntax/module_files.h"

namespace kiln {
namespace {

TEST(ModuleFiles, ListsKilnFilesDirectlyInTheDirectorySorted) {
  namespace fs = std::filesystem;
  fs::path dir = fs::temp_directory_path() / ("kiln_module_files_" + std::to_string(::getpid()));
  fs::remove_all(dir);
  fs::create_directories(dir / "sub");
  for (const char* name : {"b.kiln", "a.kiln", "notes.txt", "sub/c.kiln"}) std::ofstream(dir / name) << "";
  std::string error;
  std::vector<std::string> files = ListModuleFiles(dir.string(), &error);
  EXPECT_TRUE(error.empty());
  ASSERT_EQ(files.size(), 2u);
  EXPECT_EQ(files[0], (dir / "a.kiln").string());
  EXPECT_EQ(files[1], (dir / "b.kiln").string());
  fs::remove_all(dir);
  EXPECT_TRUE(ListModuleFiles(dir.string(), &error).empty());
  EXPECT_FALSE(error.empty());
}

}  // namespace
}  // namespace kiln
