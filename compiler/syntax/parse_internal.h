// Internals of compiler/syntax shared by its .cpp files. This is the only
// header that includes ANTLR; nothing outside compiler/syntax may include it.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "KilnLexer.h"
#include "KilnParser.h"
#include "antlr4-runtime.h"
#include "compiler/ast/ast.h"
#include "compiler/diag/diagnostics.h"
#include "compiler/syntax/literals.h"

namespace kiln::syntax {

// Deepest nesting of brackets/operators the parser accepts. Deeper input gets
// a diagnostic instead of overflowing the stack.
inline constexpr size_t kMaxNesting = 200;
// Deepest expression tree the adapter builds (long operator chains).
inline constexpr int kMaxExprDepth = 1000;

// The source decoded to code points for ANTLR, with a map back to byte
// offsets (ANTLR indexes code points; our ranges are bytes). Invalid UTF-8
// becomes U+FFFD and is recorded.
class SourceStream : public antlr4::ANTLRInputStream {
 public:
  explicit SourceStream(std::string_view text);
  // Byte offset of the code point at `index` (index may be size()).
  uint32_t ByteOffset(size_t index) const {
    if (cp_to_byte_.empty()) return static_cast<uint32_t>(index);
    return index < cp_to_byte_.size() ? cp_to_byte_[index] : cp_to_byte_.back();
  }
  // Byte offsets of invalid UTF-8 sequences.
  const std::vector<uint32_t>& invalid_utf8() const { return invalid_utf8_; }

 private:
  std::vector<uint32_t> cp_to_byte_;  // empty when the text is pure ASCII
  std::vector<uint32_t> invalid_utf8_;
};

// The generated lexer plus the parts ANTLR's grammar language cannot say:
// heredoc end markers, `}` popping a mode only inside an interpolation, and
// an end of file inside a string or heredoc.
class Lexer : public kiln_antlr::KilnLexer {
 public:
  explicit Lexer(antlr4::CharStream* input) : KilnLexer(input) {}
  std::unique_ptr<antlr4::Token> nextToken() override;

 private:
  std::unique_ptr<antlr4::Token> TryHeredocEnd();
  // Default-mode tokens whose rules are trivial (white space, names and
  // keywords, single-character punctuation) without the ATN simulator;
  // null when the generated lexer must decide.
  std::unique_ptr<antlr4::Token> FastToken();
  std::unique_ptr<antlr4::Token> FastStringToken();
  antlr4::atn::LexerATNSimulator* sim_ = nullptr;
  std::unique_ptr<antlr4::Token> MakeToken(size_t type, size_t start, size_t stop,
                                           size_t line, size_t col);
  struct Heredoc {
    std::u32string marker;
  };
  std::vector<Heredoc> heredocs_;
  bool heredoc_line_start_ = false;
};

// Everything the adapter needs to know about positions and token text.
struct SourceView {
  const SourceManager* sm = nullptr;
  uint32_t file_id = 0;
  std::string_view text;
  const SourceStream* stream = nullptr;

  uint32_t Begin(const antlr4::Token* t) const { return stream->ByteOffset(t->getStartIndex()); }
  uint32_t End(const antlr4::Token* t) const;
  SourceLoc Loc(uint32_t offset) const { return sm->Locate(file_id, offset); }
  SourceRange Range(uint32_t begin, uint32_t end) const { return {Loc(begin), Loc(end)}; }
  SourceRange Range(const antlr4::Token* a, const antlr4::Token* b) const {
    return Range(Begin(a), End(b));
  }
  SourceRange Range(const antlr4::Token* t) const { return Range(t, t); }
  SourceRange Range(antlr4::ParserRuleContext* ctx) const;
  std::string_view Text(const antlr4::Token* t) const;
};

// Converts parse trees to AST nodes; reports value-level errors (units,
// escapes, number ranges) that the grammar deliberately accepts.
class AstBuilder {
 public:
  AstBuilder(const SourceView& view, antlr4::CommonTokenStream* tokens, Diagnostics& diags)
      : view_(view), tokens_(tokens), diags_(diags) {}
  ast::DeclPtr Decl(kiln_antlr::KilnParser::DeclContext* ctx);
  ast::ExprPtr Expr(kiln_antlr::KilnParser::ExprContext* ctx);
  ast::TypeExprPtr Type(kiln_antlr::KilnParser::TypeExprContext* ctx);
  // Every comment token, in order; also used for doc comments.
  std::vector<ast::Comment> Comments();

 private:
  ast::ExprPtr Primary(kiln_antlr::KilnParser::PrimaryContext* ctx);
  template <typename Ctx>
  ast::ExprPtr ForExpr(Ctx* c, SourceRange range, bool is_map);
  ast::ExprPtr Number(antlr4::Token* tok, bool negate, const antlr4::Token* minus);
  ast::ExprPtr Template(kiln_antlr::KilnParser::StringContext* ctx);
  ast::ExprPtr Heredoc(kiln_antlr::KilnParser::HeredocContext* ctx);
  std::unique_ptr<ast::ObjectExpr> Object(kiln_antlr::KilnParser::ObjectContext* ctx);
  std::unique_ptr<ast::ForClause> For(kiln_antlr::KilnParser::ForClauseContext* ctx);
  ast::TypeExprPtr TypePostfix(kiln_antlr::KilnParser::TypePostfixContext* ctx);
  ast::TypeExprPtr TypePrimary(kiln_antlr::KilnParser::TypePrimaryContext* ctx);
  std::string DecodeString(antlr4::Token* tok);
  std::string Doc(antlr4::Token* first);
  std::string KeyText(kiln_antlr::KilnParser::KeyContext* ctx, bool* quoted);

  SourceView view_;
  antlr4::CommonTokenStream* tokens_;
  Diagnostics& diags_;
  int depth_ = 0;
};

}  // namespace kiln::syntax
