// The adapter: ANTLR parse trees -> ast:: nodes with byte-accurate ranges.
// Value-level checks live here (the grammar accepts any unit, escape or
// digit run so that the error can name exactly what is wrong).
#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdlib>
#include <limits>

#include "compiler/syntax/literals.h"
#include "compiler/syntax/parse_internal.h"

namespace kiln::syntax {

using kiln_antlr::KilnLexer;
using P = kiln_antlr::KilnParser;

uint32_t SourceView::End(const antlr4::Token* t) const {
  // An empty token (stop < start, e.g. an unterminated string at EOF) ends
  // where it starts.
  if (t->getStopIndex() == static_cast<size_t>(-1) || t->getStopIndex() < t->getStartIndex()) {
    return stream->ByteOffset(t->getStartIndex());
  }
  return stream->ByteOffset(t->getStopIndex() + 1);
}

SourceRange SourceView::Range(antlr4::ParserRuleContext* ctx) const {
  const antlr4::Token* stop = ctx->getStop();
  if (!stop || stop->getTokenIndex() < ctx->getStart()->getTokenIndex()) stop = ctx->getStart();
  return Range(ctx->getStart(), stop);
}

std::string_view SourceView::Text(const antlr4::Token* t) const {
  uint32_t b = Begin(t), e = End(t);
  if (e < b || e > text.size()) return {};
  return text.substr(b, e - b);
}

namespace {

template <class T>
std::unique_ptr<T> Node(const SourceRange& r) {
  auto n = std::make_unique<T>();
  n->range = r;
  return n;
}

// The placeholder for a literal whose error was reported.
ast::ExprPtr ErrorNode(const SourceRange& r) {
  auto n = Node<ast::NullExpr>(r);
  n->from_error = true;
  return n;
}

std::string Lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

// Suggestions for a misspelt unit: same letters in another case, the two
// byte units of the same prefix (`Gb` -> `GB`, `GiB`), common words.
std::vector<std::string> UnitSuggestions(std::string_view unit) {
  std::vector<std::string> out;
  auto add = [&](const std::string& u) {
    if (std::find(out.begin(), out.end(), u) == out.end()) out.push_back(u);
  };
  std::string low = Lower(unit);
  static const std::pair<const char*, const char*> kWords[] = {
      {"sec", "s"},     {"secs", "s"},    {"second", "s"},  {"seconds", "s"}, {"min", "m"},
      {"mins", "m"},    {"minute", "m"},  {"minutes", "m"}, {"hr", "h"},      {"hrs", "h"},
      {"hour", "h"},    {"hours", "h"},   {"day", "d"},     {"days", "d"},    {"msec", "ms"},
      {"millis", "ms"}, {"bytes", "B"},   {"byte", "B"},    {"w", "d"},       {"week", "d"},
  };
  for (const auto& [word, u] : kWords) {
    if (low == word) add(u);
  }
  static const char kPrefixes[] = {'k', 'm', 'g', 't', 'p'};
  for (char pre : kPrefixes) {
    if (low.empty() || low[0] != pre) continue;
    std::string rest = low.substr(1);
    if (rest == "b" || rest == "ib" || rest == "i" || rest == "" || rest == "bs" ||
        rest == "ibs") {
      if (low == "m") continue;  // `m` is minutes already
      std::string P(1, static_cast<char>(std::toupper(pre)));
      add(P + "B");
      add(P + "iB");
    }
  }
  std::vector<std::string> names;
  for (int u = 0; u <= static_cast<int>(ast::Unit::kPiB); ++u) names.push_back(ast::UnitName(static_cast<ast::Unit>(u)));
  for (const std::string& name : names) {
    if (Lower(name) == low && unit != name) add(name);
  }
  if (out.empty() && unit.size() >= 2) {
    std::string best = ClosestMatch(std::string(unit), names);
    if (!best.empty()) add(best);
  }
  return out;
}

std::string JoinAlternatives(const std::vector<std::string>& items) {
  std::string out;
  for (size_t i = 0; i < items.size(); ++i) {
    if (i > 0) out += i + 1 == items.size() ? " or " : ", ";
    out += "`" + items[i] + "`";
  }
  return out;
}

}  // namespace

// ------------------------------------------------------------------ comments

std::vector<ast::Comment> AstBuilder::Comments() {
  std::vector<ast::Comment> out;
  for (antlr4::Token* t : tokens_->getTokens()) {
    size_t type = t->getType();
    if (type != KilnLexer::LINE_COMMENT && type != KilnLexer::BLOCK_COMMENT &&
        type != KilnLexer::DOC_COMMENT) {
      continue;
    }
    ast::Comment c;
    c.kind = type == KilnLexer::DOC_COMMENT    ? ast::CommentKind::kDoc
             : type == KilnLexer::BLOCK_COMMENT ? ast::CommentKind::kBlock
                                                : ast::CommentKind::kLine;
    c.range = view_.Range(t);
    c.text = std::string(view_.Text(t));
    while (!c.text.empty() && c.text.back() == '\r') c.text.pop_back();
    if (type == KilnLexer::BLOCK_COMMENT && (c.text.size() < 4 || c.text.substr(c.text.size() - 2) != "*/")) {
      diags_.Error("E0006", view_.Range(view_.Begin(t), view_.Begin(t) + 2),
                   "unterminated block comment")
          .label = "this comment is never closed";
    }
    out.push_back(std::move(c));
  }
  return out;
}

// `///` lines directly above `first` (consecutive lines, each alone on its
// line, the last one on the line just before).
std::string AstBuilder::Doc(antlr4::Token* first) {
  std::vector<antlr4::Token*> hidden = tokens_->getHiddenTokensToLeft(first->getTokenIndex());
  if (hidden.empty()) return "";
  size_t want_line = first->getLine();
  std::vector<antlr4::Token*> docs;
  for (auto it = hidden.rbegin(); it != hidden.rend(); ++it) {
    antlr4::Token* t = *it;
    if (t->getType() != KilnLexer::DOC_COMMENT || t->getLine() + 1 != want_line) break;
    docs.push_back(t);
    want_line = t->getLine();
  }
  // The topmost doc line must not share its line with code before it.
  while (!docs.empty()) {
    size_t index = docs.back()->getTokenIndex();
    if (index == 0) break;
    antlr4::Token* prev = tokens_->get(index - 1);
    if (prev->getLine() != docs.back()->getLine() &&
        view_.Loc(view_.End(prev)).line != docs.back()->getLine()) {
      break;
    }
    docs.pop_back();
  }
  std::string doc;
  for (auto it = docs.rbegin(); it != docs.rend(); ++it) {
    if (!doc.empty() || it != docs.rbegin()) doc += '\n';
    doc += DocText(view_.Text(*it));
  }
  return doc;
}

// ------------------------------------------------------------------ declarations

std::unique_ptr<ast::ForClause> AstBuilder::For(P::ForClauseContext* ctx) {
  auto f = std::make_unique<ast::ForClause>();
  f->range = view_.Range(ctx);
  auto names = ctx->name();
  if (names.size() == 2) {
    f->key_var = std::string(view_.Text(names[0]->getStart()));
    f->key_var_range = view_.Range(names[0]);
  }
  f->value_var = std::string(view_.Text(names.back()->getStart()));
  f->value_var_range = view_.Range(names.back());
  f->collection = Expr(ctx->expr());
  return f;
}

ast::DeclPtr AstBuilder::Decl(P::DeclContext* ctx) {
  ast::DeclPtr out;
  auto set_name = [&](ast::Decl& d, P::NameContext* n) {
    d.name = std::string(view_.Text(n->getStart()));
    d.name_range = view_.Range(n);
  };
  if (auto* c = dynamic_cast<P::InputDeclContext*>(ctx)) {
    auto d = std::make_unique<ast::InputDecl>();
    set_name(*d, c->name());
    d->type = Type(c->typeExpr());
    if (c->expr()) d->default_value = Expr(c->expr());
    d->sensitive = c->SENSITIVE() != nullptr;
    out = std::move(d);
  } else if (auto* c = dynamic_cast<P::LetDeclContext*>(ctx)) {
    auto d = std::make_unique<ast::LetDecl>();
    set_name(*d, c->name());
    if (c->typeExpr()) d->type = Type(c->typeExpr());
    d->value = Expr(c->expr());
    out = std::move(d);
  } else if (auto* c = dynamic_cast<P::OutputDeclContext*>(ctx)) {
    auto d = std::make_unique<ast::OutputDecl>();
    set_name(*d, c->name());
    if (c->typeExpr()) d->type = Type(c->typeExpr());
    d->sensitive = c->SENSITIVE() != nullptr;
    d->value = Expr(c->expr());
    out = std::move(d);
  } else if (auto* c = dynamic_cast<P::AssertDeclContext*>(ctx)) {
    auto d = std::make_unique<ast::AssertDecl>();
    d->cond = Expr(c->expr(0));
    d->message = Expr(c->expr(1));
    out = std::move(d);
  } else if (auto* c = dynamic_cast<P::TypeDeclContext*>(ctx)) {
    auto d = std::make_unique<ast::TypeDecl>();
    set_name(*d, c->name());
    d->type = Type(c->typeExpr());
    out = std::move(d);
  } else if (auto* c = dynamic_cast<P::ProviderDeclContext*>(ctx)) {
    auto d = std::make_unique<ast::ProviderDecl>();
    d->type_name = std::string(view_.Text(c->name(0)->getStart()));
    d->type_range = view_.Range(c->name(0));
    set_name(*d, c->name(1));
    d->body = Object(c->object());
    out = std::move(d);
  } else if (auto* c = dynamic_cast<P::BackendDeclContext*>(ctx)) {
    auto d = std::make_unique<ast::BackendDecl>();
    d->type_name = std::string(view_.Text(c->name()->getStart()));
    d->type_range = view_.Range(c->name());
    d->body = Object(c->object());
    out = std::move(d);
  } else if (auto* c = dynamic_cast<P::ModuleDeclContext*>(ctx)) {
    auto d = std::make_unique<ast::ModuleDecl>();
    set_name(*d, c->name());
    if (c->forClause()) d->for_clause = For(c->forClause());
    if (c->ifClause()) d->if_cond = Expr(c->ifClause()->expr());
    d->body = Object(c->object());
    out = std::move(d);
  } else if (auto* c = dynamic_cast<P::ResourceDeclContext*>(ctx)) {
    auto d = std::make_unique<ast::ResourceDecl>();
    P::ResourceKindContext* kind = c->resourceKind();
    if (kind->anyName()) {
      d->provider_type = std::string(view_.Text(kind->IDENT()->getSymbol()));
      d->kind_name = std::string(view_.Text(kind->anyName()->getStart()));
    } else {
      d->kind_name = std::string(view_.Text(kind->IDENT()->getSymbol()));
    }
    d->kind_range = view_.Range(kind);
    set_name(*d, c->name());
    if (c->forClause()) d->for_clause = For(c->forClause());
    if (c->ifClause()) d->if_cond = Expr(c->ifClause()->expr());
    d->body = Object(c->object());
    out = std::move(d);
  } else {
    return nullptr;
  }
  out->range = view_.Range(ctx);
  out->doc = Doc(ctx->getStart());
  return out;
}

// ------------------------------------------------------------------ objects

std::string AstBuilder::KeyText(P::KeyContext* ctx, bool* quoted) {
  *quoted = false;
  if (ctx->anyName()) return std::string(view_.Text(ctx->anyName()->getStart()));
  *quoted = true;
  ast::ExprPtr e = Template(ctx->string());
  auto* t = ast::As<ast::TemplateExpr>(e.get());
  if (t && !t->IsLiteral()) {
    diags_.Error("E0015", view_.Range(ctx), "an attribute name cannot contain `${...}`")
        .help = "write the key as a plain string, or build the map with a `{for ...}` expression";
    return "";
  }
  return t ? t->LiteralText() : "";
}

std::unique_ptr<ast::ObjectExpr> AstBuilder::Object(P::ObjectContext* ctx) {
  auto obj = Node<ast::ObjectExpr>(view_.Range(ctx));
  for (P::ObjectItemContext* item_ctx : ctx->objectItem()) {
    ast::ObjectItem item;
    item.key = KeyText(item_ctx->key(), &item.quoted_key);
    item.key_range = view_.Range(item_ctx->key());
    item.range = view_.Range(item_ctx);
    if (item_ctx->object()) {
      item.is_block = true;
      item.value = Object(item_ctx->object());
    } else {
      item.colon = item_ctx->COLON() != nullptr;
      item.value = Expr(item_ctx->expr());
    }
    obj->items.push_back(std::move(item));
  }
  return obj;
}

// ------------------------------------------------------------------ expressions

namespace {
ast::BinaryOp BinaryOpFor(size_t type) {
  switch (type) {
    case KilnLexer::STAR: return ast::BinaryOp::kMul;
    case KilnLexer::SLASH: return ast::BinaryOp::kDiv;
    case KilnLexer::PERCENT: return ast::BinaryOp::kMod;
    case KilnLexer::PLUS: return ast::BinaryOp::kAdd;
    case KilnLexer::MINUS: return ast::BinaryOp::kSub;
    case KilnLexer::DOTDOT: return ast::BinaryOp::kRange;
    case KilnLexer::LT: return ast::BinaryOp::kLt;
    case KilnLexer::LE: return ast::BinaryOp::kLe;
    case KilnLexer::GT: return ast::BinaryOp::kGt;
    case KilnLexer::GE: return ast::BinaryOp::kGe;
    case KilnLexer::EQ: return ast::BinaryOp::kEq;
    case KilnLexer::NE: return ast::BinaryOp::kNe;
    case KilnLexer::AND: return ast::BinaryOp::kAnd;
    default: return ast::BinaryOp::kOr;
  }
}

struct DepthGuard {
  int& depth;
  explicit DepthGuard(int& d) : depth(d) { ++depth; }
  ~DepthGuard() { --depth; }
};
}  // namespace

// `[for k, v in xs if c: e]` and `{for k, v in m if c: k2 => e}`: the
// grammar gives both the same vars and expression list, the map form one
// expression more (its key).
template <typename Ctx>
ast::ExprPtr AstBuilder::ForExpr(Ctx* c, SourceRange range, bool is_map) {
  auto e = Node<ast::ForExpr>(range);
  e->is_map = is_map;
  auto names = c->forVars()->name();
  if (names.size() == 2) {
    e->key_var = std::string(view_.Text(names[0]->getStart()));
    e->key_var_range = view_.Range(names[0]);
  }
  e->value_var = std::string(view_.Text(names.back()->getStart()));
  e->value_var_range = view_.Range(names.back());
  auto exprs = c->expr();
  size_t i = 0;
  e->collection = Expr(exprs[i++]);
  if (c->IF()) e->cond = Expr(exprs[i++]);
  if (is_map) e->key = Expr(exprs[i++]);
  e->value = Expr(exprs[i]);
  return e;
}

ast::ExprPtr AstBuilder::Expr(P::ExprContext* ctx) {
  DepthGuard guard(depth_);
  SourceRange range = view_.Range(ctx);
  if (depth_ > kMaxExprDepth) {
    if (depth_ == kMaxExprDepth + 1) {
      diags_.Error("E0014", range, "this expression is nested too deeply")
          .help = "split it into several `let` values";
    }
    return ErrorNode(range);
  }
  if (auto* c = dynamic_cast<P::PrimaryExprContext*>(ctx)) return Primary(c->primary());
  if (auto* c = dynamic_cast<P::GetAttrExprContext*>(ctx)) {
    auto e = Node<ast::GetAttrExpr>(range);
    e->object = Expr(c->expr());
    e->name = std::string(view_.Text(c->anyName()->getStart()));
    e->name_range = view_.Range(c->anyName());
    return e;
  }
  if (auto* c = dynamic_cast<P::IndexExprContext*>(ctx)) {
    auto e = Node<ast::IndexExpr>(range);
    e->object = Expr(c->expr(0));
    e->index = Expr(c->expr(1));
    return e;
  }
  if (auto* c = dynamic_cast<P::OpenRangeExprContext*>(ctx)) {
    auto e = Node<ast::UnaryExpr>(range);
    e->op = ast::UnaryOp::kOpenRange;
    e->operand = Expr(c->expr());
    return e;
  }
  if (auto* c = dynamic_cast<P::UnaryExprContext*>(ctx)) {
    // `-9223372036854775808` is only representable as a negated literal.
    if (c->op->getType() == KilnLexer::MINUS) {
      if (auto* pe = dynamic_cast<P::PrimaryExprContext*>(c->expr())) {
        if (auto* num = dynamic_cast<P::NumberLitContext*>(pe->primary())) {
          if (num->INT() && view_.Text(num->getStart()) == "9223372036854775808") {
            auto e = Node<ast::IntExpr>(range);
            e->value = std::numeric_limits<int64_t>::min();
            return e;
          }
        }
      }
    }
    auto e = Node<ast::UnaryExpr>(range);
    e->op = c->op->getType() == KilnLexer::BANG ? ast::UnaryOp::kNot : ast::UnaryOp::kNeg;
    e->operand = Expr(c->expr());
    return e;
  }
  if (auto* c = dynamic_cast<P::BinaryExprContext*>(ctx)) {
    auto e = Node<ast::BinaryExpr>(range);
    e->op = BinaryOpFor(c->op->getType());
    e->op_range = view_.Range(c->op);
    e->lhs = Expr(c->expr(0));
    e->rhs = Expr(c->expr(1));
    return e;
  }
  if (auto* c = dynamic_cast<P::CondExprContext*>(ctx)) {
    auto e = Node<ast::ConditionalExpr>(range);
    e->cond = Expr(c->expr(0));
    e->then_expr = Expr(c->expr(1));
    e->else_expr = Expr(c->expr(2));
    return e;
  }
  return Node<ast::NullExpr>(range);
}

ast::ExprPtr AstBuilder::Primary(P::PrimaryContext* ctx) {
  SourceRange range = view_.Range(ctx);
  if (auto* c = dynamic_cast<P::NumberLitContext*>(ctx)) return Number(c->getStart(), false, nullptr);
  if (auto* c = dynamic_cast<P::BoolLitContext*>(ctx)) {
    auto e = Node<ast::BoolExpr>(range);
    e->value = c->TRUE_LIT() != nullptr;
    return e;
  }
  if (dynamic_cast<P::NullLitContext*>(ctx)) return Node<ast::NullExpr>(range);
  if (auto* c = dynamic_cast<P::StringLitContext*>(ctx)) return Template(c->string());
  if (auto* c = dynamic_cast<P::HeredocLitContext*>(ctx)) return Heredoc(c->heredoc());
  if (auto* c = dynamic_cast<P::NameExprContext*>(ctx)) {
    auto e = Node<ast::NameExpr>(range);
    e->name = std::string(view_.Text(c->getStart()));
    return e;
  }
  if (auto* c = dynamic_cast<P::CallExprContext*>(ctx)) {
    auto e = Node<ast::CallExpr>(range);
    e->callee = std::string(view_.Text(c->name()->getStart()));
    e->callee_range = view_.Range(c->name());
    for (auto* a : c->expr()) e->args.push_back(Expr(a));
    return e;
  }
  if (auto* c = dynamic_cast<P::ParenExprContext*>(ctx)) {
    // Parentheses only group; the inner node keeps its own range.
    return Expr(c->expr());
  }
  if (auto* c = dynamic_cast<P::ListExprContext*>(ctx)) {
    auto e = Node<ast::ListExpr>(range);
    auto items = c->expr();
    for (size_t i = 0; i < items.size(); ++i) {
      // Commas are optional only at line ends.
      if (i > 0) {
        antlr4::Token* prev_stop = items[i - 1]->getStop();
        antlr4::Token* next = items[i]->getStart();
        antlr4::Token* between = tokens_->get(prev_stop->getTokenIndex() + 1);
        bool comma = false;
        for (size_t k = prev_stop->getTokenIndex() + 1; k < next->getTokenIndex(); ++k) {
          if (tokens_->get(k)->getType() == KilnLexer::COMMA) comma = true;
        }
        (void)between;
        if (!comma && view_.Loc(view_.End(prev_stop)).line == view_.Loc(view_.Begin(next)).line) {
          diags_.Error("E0018", view_.Range(next), "expected `,` between list items")
              .help = "separate the items of a list with `,` (a line break also works)";
        }
      }
      e->items.push_back(Expr(items[i]));
    }
    return e;
  }
  if (auto* c = dynamic_cast<P::ListForExprContext*>(ctx)) return ForExpr(c, range, false);
  if (auto* c = dynamic_cast<P::MapForExprContext*>(ctx)) return ForExpr(c, range, true);
  if (auto* c = dynamic_cast<P::ObjectExprContext*>(ctx)) return Object(c->object());
  return Node<ast::NullExpr>(range);
}

// INT, FLOAT, QUANTITY or BAD_NUMBER.
ast::ExprPtr AstBuilder::Number(antlr4::Token* tok, bool, const antlr4::Token*) {
  SourceRange range = view_.Range(tok);
  std::string_view text = view_.Text(tok);
  auto bad = [&](const std::string& why, const std::string& help) -> ast::ExprPtr {
    Diagnostic& d = diags_.Error("E0007", range, "`" + std::string(text) + "` is not a number");
    d.label = why;
    d.help = help;
    return ErrorNode(range);
  };
  if (tok->getType() == KilnLexer::BAD_NUMBER) {
    return bad("a number has at most one `.`",
               "if this is a version or an address, write it as a string: \"" +
                   std::string(text) + "\"");
  }
  NumberLiteral n = ParseNumberLiteral(text);
  std::string number(n.number);
  switch (n.error) {
    case NumberLiteral::Error::kNone:
      break;
    case NumberLiteral::Error::kUnderscore:
      return bad("`_` may only separate digits",
                 "write it as `" + StripUnderscores(n.number) + std::string(n.unit) + "`");
    case NumberLiteral::Error::kFloatTooLarge:
      diags_.Error("E0008", range, "`" + number + "` is too large for a float");
      return ErrorNode(range);
    case NumberLiteral::Error::kIntTooLarge: {
      Diagnostic& d = diags_.Error("E0008", range, "integer `" + number + "` does not fit in 64 bits");
      d.label = "integers range from -9223372036854775808 to 9223372036854775807";
      return ErrorNode(range);
    }
    case NumberLiteral::Error::kUnknownUnit: {
      SourceRange unit_range = view_.Range(view_.Begin(tok) + static_cast<uint32_t>(n.number.size()),
                                           view_.End(tok));
      std::vector<std::string> suggestions = UnitSuggestions(n.unit);
      std::string message = "unknown unit `" + std::string(n.unit) + "`";
      if (!suggestions.empty()) message += " (did you mean " + JoinAlternatives(suggestions) + "?)";
      Diagnostic& d = diags_.Error("E0009", unit_range, message);
      d.label = "not a unit";
      d.help =
          "durations take ms, s, m, h, d; sizes take B, KB, MB, GB, TB, PB (powers of 1000) or "
          "KiB, MiB, GiB, TiB, PiB (powers of 1024)";
      return ErrorNode(range);
    }
    case NumberLiteral::Error::kQuantityTooLarge: {
      Diagnostic& d = diags_.Error("E0010", range, "`" + std::string(text) + "` is too large");
      d.label = ast::IsDurationUnit(n.unit_value) ? "durations are stored as 64-bit milliseconds"
                                                  : "sizes are stored as 64-bit byte counts";
      return ErrorNode(range);
    }
  }
  return NumberNode(n, range);
}

// ------------------------------------------------------------------ strings

std::string AstBuilder::DecodeString(antlr4::Token* tok) {
  std::string_view raw = view_.Text(tok);
  std::string out;
  std::vector<EscapeError> errors;
  DecodeEscapes(raw, out, &errors);
  uint32_t base = view_.Begin(tok);
  for (const EscapeError& err : errors) {
    SourceRange r = view_.Range(base + static_cast<uint32_t>(err.begin), base + static_cast<uint32_t>(err.end));
    if (err.kind == EscapeError::Kind::kUnknown) {
      Diagnostic& d = diags_.Error("E0011", r, "unknown escape `" + err.shown + "` in a string");
      d.help = "the escapes are \\\\ \\\" \\n \\r \\t and \\u{...}; write `$${` for a literal `${`";
    } else {
      Diagnostic& d = diags_.Error("E0011", r,
                                   err.kind == EscapeError::Kind::kInvalidScalar
                                       ? "`\\u{...}` escape is not a valid Unicode scalar value"
                                       : "invalid `\\u` escape");
      d.help = "write a Unicode escape as `\\u{1F600}` (1 to 6 hex digits)";
    }
  }
  return out;
}


ast::ExprPtr AstBuilder::Template(P::StringContext* ctx) {
  auto e = Node<ast::TemplateExpr>(view_.Range(ctx));
  if (ctx->STR_UNTERMINATED()) {
    SourceLoc start = view_.Loc(view_.Begin(ctx->getStart()));
    Diagnostic& d = diags_.Error(
        "E0004", view_.Range(ctx->getStart()),
        "unterminated string that started at " + std::to_string(start.line) + ":" +
            std::to_string(start.column));
    d.label = "this string is never closed";
    d.help = "add a closing `\"` before the end of the line; use a heredoc (<<EOT) for text over several lines";
    // Keep the range on one line for the snippet.
    e->range = view_.Range(ctx->getStart(), ctx->getStop());
  }
  for (P::StringPartContext* part : ctx->stringPart()) {
    antlr4::Token* t = part->getStart();
    switch (t->getType()) {
      case KilnLexer::STR_TEXT: AppendTemplateText(e->parts, DecodeString(t)); break;
      case KilnLexer::STR_DOLLAR: AppendTemplateText(e->parts, "$"); break;
      case KilnLexer::DOLLAR_ESC: AppendTemplateText(e->parts, "${"); break;
      case KilnLexer::INTERP_START: {
        ast::TemplatePart p;
        p.expr = Expr(part->expr());
        e->parts.push_back(std::move(p));
        break;
      }
      default: break;
    }
  }
  if (e->parts.empty()) e->parts.emplace_back();
  return e;
}

ast::ExprPtr AstBuilder::Heredoc(P::HeredocContext* ctx) {
  auto e = Node<ast::TemplateExpr>(view_.Range(ctx));
  e->heredoc = true;
  std::string_view start = view_.Text(ctx->getStart());
  e->heredoc_marker = std::string(HeredocMarker(start, &e->strip_indent));
  // The marker's end, for the range of an unterminated-heredoc error.
  size_t end = 2 + (e->strip_indent ? 1 : 0) + e->heredoc_marker.size();
  if (ctx->STR_UNTERMINATED()) {
    SourceLoc loc = view_.Loc(view_.Begin(ctx->getStart()));
    Diagnostic& d = diags_.Error("E0005", view_.Range(view_.Begin(ctx->getStart()),
                                                      view_.Begin(ctx->getStart()) + static_cast<uint32_t>(end)),
                                 "unterminated heredoc that started at " + std::to_string(loc.line) +
                                     ":" + std::to_string(loc.column));
    d.label = "no line with just `" + e->heredoc_marker + "` follows";
    d.help = "end the heredoc with a line containing only `" + e->heredoc_marker + "`";
  }
  for (P::HeredocPartContext* part : ctx->heredocPart()) {
    antlr4::Token* t = part->getStart();
    switch (t->getType()) {
      case KilnLexer::HD_TEXT: AppendTemplateText(e->parts, view_.Text(t)); break;
      case KilnLexer::HD_NL: AppendTemplateText(e->parts, "\n"); break;
      case KilnLexer::STR_DOLLAR: AppendTemplateText(e->parts, "$"); break;
      case KilnLexer::DOLLAR_ESC: AppendTemplateText(e->parts, "${"); break;
      case KilnLexer::INTERP_START: {
        ast::TemplatePart p;
        p.expr = Expr(part->expr());
        e->parts.push_back(std::move(p));
        break;
      }
      default: break;
    }
  }
  if (e->strip_indent) StripHeredocIndent(e->parts);
  if (e->parts.empty()) e->parts.emplace_back();
  return e;
}

// ------------------------------------------------------------------ types

ast::TypeExprPtr AstBuilder::Type(P::TypeExprContext* ctx) {
  auto alts = ctx->typePostfix();
  if (alts.size() == 1) return TypePostfix(alts[0]);
  auto t = std::make_unique<ast::TypeExpr>();
  t->kind = ast::TypeKind::kUnion;
  t->range = view_.Range(ctx);
  for (auto* a : alts) {
    ast::TypeExprPtr alt = TypePostfix(a);
    // Flatten `(a | b) | c`.
    if (alt->kind == ast::TypeKind::kUnion) {
      for (auto& inner : alt->alternatives) t->alternatives.push_back(std::move(inner));
    } else {
      t->alternatives.push_back(std::move(alt));
    }
  }
  return t;
}

ast::TypeExprPtr AstBuilder::TypePostfix(P::TypePostfixContext* ctx) {
  ast::TypeExprPtr inner = TypePrimary(ctx->typePrimary());
  if (!ctx->QUESTION()) return inner;
  auto t = std::make_unique<ast::TypeExpr>();
  t->kind = ast::TypeKind::kOptional;
  t->range = view_.Range(ctx);
  t->element = std::move(inner);
  return t;
}

ast::TypeExprPtr AstBuilder::TypePrimary(P::TypePrimaryContext* ctx) {
  auto t = std::make_unique<ast::TypeExpr>();
  t->range = view_.Range(ctx);
  if (auto* c = dynamic_cast<P::GenericTypeContext*>(ctx)) {
    std::string name(view_.Text(c->IDENT()->getSymbol()));
    if (name == "list") {
      t->kind = ast::TypeKind::kList;
    } else if (name == "map") {
      t->kind = ast::TypeKind::kMap;
    } else if (name == "range") {
      t->kind = ast::TypeKind::kRange;
    } else {
      std::string hint = ClosestMatch(name, {"list", "map", "range"});
      Diagnostic& d = diags_.Error("E0017", view_.Range(c->IDENT()->getSymbol()),
                                   "unknown generic type `" + name + "`" +
                                       (hint.empty() ? "" : " (did you mean `" + hint + "`?)"));
      d.help = "the generic types are `list<T>`, `map<T>` and `range<T>`";
      t->kind = ast::TypeKind::kList;
    }
    t->element = Type(c->typeExpr());
    return t;
  }
  if (auto* c = dynamic_cast<P::NamedTypeContext*>(ctx)) {
    t->kind = ast::TypeKind::kName;
    t->name = std::string(view_.Text(c->getStart()));
    if (c->anyName()) t->name += "." + std::string(view_.Text(c->anyName()->getStart()));
    return t;
  }
  if (dynamic_cast<P::NullTypeContext*>(ctx)) {
    t->kind = ast::TypeKind::kName;
    t->name = "null";
    return t;
  }
  if (auto* c = dynamic_cast<P::LiteralTypeContext*>(ctx)) {
    t->kind = ast::TypeKind::kLiteral;
    ast::ExprPtr e = Template(c->string());
    auto* tmpl = ast::As<ast::TemplateExpr>(e.get());
    if (tmpl && !tmpl->IsLiteral()) {
      diags_.Error("E0015", view_.Range(c), "a literal type cannot contain `${...}`");
    } else if (tmpl) {
      t->name = tmpl->LiteralText();
    }
    return t;
  }
  if (auto* c = dynamic_cast<P::ParenTypeContext*>(ctx)) return Type(c->typeExpr());
  if (auto* c = dynamic_cast<P::RecordTypeContext*>(ctx)) {
    t->kind = ast::TypeKind::kRecord;
    for (P::RecordFieldContext* f : c->recordField()) {
      ast::RecordField field;
      field.doc = Doc(f->getStart());
      field.name = std::string(view_.Text(f->anyName()->getStart()));
      field.name_range = view_.Range(f->anyName());
      field.optional = f->QUESTION() != nullptr;
      field.type = Type(f->typeExpr());
      for (auto* m : f->modifier()) field.modifiers.emplace_back(view_.Text(m->getStart()));
      if (f->expr()) field.default_value = Expr(f->expr());
      field.range = view_.Range(f);
      t->fields.push_back(std::move(field));
    }
    return t;
  }
  t->kind = ast::TypeKind::kName;
  return t;
}

}  // namespace kiln::syntax
