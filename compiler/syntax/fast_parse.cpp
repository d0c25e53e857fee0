// The hand-written lexer and recursive-descent parser: the hot path of
// Parse() (see parse_paths.h). It builds exactly the AST that the ANTLR path
// (parse.cpp + build_ast.cpp) builds, node for node and range for range, but
// only for input without errors: at the first thing it is not sure of it
// throws GiveUp, and Parse() re-parses the file with ANTLR, which reports
// the diagnostics. So the rules here must accept a subset of what
// KilnLexer.g4/KilnParser.g4 accept, and decide every choice the way
// ANTLR's prediction does (tests/syntax/fast_parse_test.cpp checks both
// against every .kiln file of the repository and mutations of them).
//
// Tokens are (kind, byte offset, length, line, column) over the source
// buffer, produced on demand with a few tokens of lookahead; no token owns
// memory. The lexer follows the grammar's modes (strings, interpolation,
// heredocs) with the same mode stack as the ANTLR lexer subclass.
#include <algorithm>
#include <cstring>
#include <memory>
#include <new>
#include <string>
#include <string_view>
#include <vector>

#include "compiler/syntax/literals.h"
#include "compiler/syntax/parse_paths.h"

namespace kiln::syntax {
namespace {

// Thrown at the first thing the fast path does not accept.
struct GiveUp {};
[[noreturn]] void Fail() { throw GiveUp{}; }

// Deepest rule nesting (expr, object, typeExpr) the fast path parses; below
// the ANTLR path's kMaxNesting (200), whose error it leaves to that path.
constexpr int kMaxFastNesting = 150;
// Tallest expression tree; below build_ast.cpp's kMaxExprDepth (1000).
constexpr int kMaxFastHeight = 900;

enum class T : uint8_t {
  kEof,
  // names and keywords
  kIdent, kInput, kLet, kOutput, kAssert, kType, kProvider, kModule, kBackend,
  kFor, kIn, kIf, kTrue, kFalse, kNull, kSensitive,
  // literals and punctuation (DEFAULT_MODE)
  kNumber, kHeredocStart, kQuote, kLBrace, kRBrace, kLBrack, kRBrack, kLParen, kRParen,
  kComma, kDotDot, kDotDotOpen, kDot, kFatArrow, kEq, kNe, kLe, kGe, kAnd, kOr, kAssign, kColon,
  kQuestion, kBang, kPlus, kMinus, kStar, kSlash, kPercent, kLt, kGt, kPipe,
  // STR and HEREDOC modes
  kStrEnd, kStrText, kDollarEsc, kInterpStart, kStrDollar, kHdText, kHdNl, kHeredocEnd,
};

struct Token {
  T kind = T::kEof;
  bool multiline = false;  // contains a '\n' (its end is on a later line)
  uint32_t offset = 0;
  uint32_t len = 0;
  uint32_t line = 1;
  uint32_t col = 1;
  // The comments between the previous token and this one (indexes into
  // Lexer::comments()), for doc comments.
  uint32_t comments_begin = 0;
  uint32_t comments_end = 0;
};

struct CommentToken {
  ast::CommentKind kind = ast::CommentKind::kLine;
  bool multiline = false;
  uint32_t offset = 0;
  uint32_t len = 0;
  uint32_t line = 1;
  uint32_t col = 1;
};

bool IsAlpha(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_'; }
bool IsDigit(char c) { return c >= '0' && c <= '9'; }
bool IsIdentChar(char c) { return IsAlpha(c) || IsDigit(c); }

T Keyword(std::string_view w) {
  switch (w.size()) {
    case 2:
      if (w == "in") return T::kIn;
      if (w == "if") return T::kIf;
      break;
    case 3:
      if (w == "let") return T::kLet;
      if (w == "for") return T::kFor;
      break;
    case 4:
      if (w == "type") return T::kType;
      if (w == "true") return T::kTrue;
      if (w == "null") return T::kNull;
      break;
    case 5:
      if (w == "input") return T::kInput;
      if (w == "false") return T::kFalse;
      break;
    case 6:
      if (w == "output") return T::kOutput;
      if (w == "assert") return T::kAssert;
      if (w == "module") return T::kModule;
      break;
    case 7:
      if (w == "backend") return T::kBackend;
      break;
    case 8:
      if (w == "provider") return T::kProvider;
      break;
    case 9:
      if (w == "sensitive") return T::kSensitive;
      break;
    default:
      break;
  }
  return T::kIdent;
}

// Same rules as SourceStream (lexer.cpp): the ANTLR path reports E0013 for
// anything this rejects.
bool ValidUtf8(std::string_view text) {
  size_t i = 0;
  const size_t n = text.size();
  auto byte = [&](size_t k) { return static_cast<unsigned char>(text[k]); };
  while (i < n) {
    // Eight ASCII bytes at a time.
    if (i + 8 <= n) {
      uint64_t word;
      std::memcpy(&word, text.data() + i, 8);
      if ((word & 0x8080808080808080ULL) == 0) {
        i += 8;
        continue;
      }
    }
    unsigned char c = byte(i);
    if (c < 0x80) {
      ++i;
      continue;
    }
    size_t len = c >= 0xF0 && c <= 0xF4 ? 4 : c >= 0xE0 && c < 0xF0 ? 3 : c >= 0xC2 && c < 0xE0 ? 2 : 0;
    if (len == 0 || i + len > n) return false;
    char32_t cp = len == 2 ? (c & 0x1F) : len == 3 ? (c & 0x0F) : (c & 0x07);
    for (size_t k = 1; k < len; ++k) {
      unsigned char cc = byte(i + k);
      if ((cc & 0xC0) != 0x80) return false;
      cp = (cp << 6) | (cc & 0x3F);
    }
    if ((len == 3 && cp < 0x800) || (len == 4 && (cp < 0x10000 || cp > 0x10FFFF)) ||
        (cp >= 0xD800 && cp <= 0xDFFF)) {
      return false;
    }
    i += len;
  }
  return true;
}

// ------------------------------------------------------------------ lexer

class Lexer {
 public:
  explicit Lexer(std::string_view text) : s_(text), n_(text.size()) {}

  // Lexes the next token into `*t` (constructed in place: copying tokens
  // through temporaries showed up in profiles).
  void Next(Token* t) {
    uint32_t comments_begin = static_cast<uint32_t>(comments_.size());
    new (t) Token(Lex());
    t->comments_begin = comments_begin;
    t->comments_end = static_cast<uint32_t>(comments_.size());
    heredoc_line_start_ = t->kind == T::kHeredocStart || t->kind == T::kHdNl;
  }
  const std::vector<CommentToken>& comments() const { return comments_; }

 private:
  enum Mode : uint8_t { kDefault, kStr, kHeredoc };

  Token Start(T kind) const {
    Token t;
    t.kind = kind;
    t.offset = static_cast<uint32_t>(pos_);
    t.line = line_;
    t.col = static_cast<uint32_t>(pos_ - line_start_ + 1);
    return t;
  }
  // Ends `t` at `end` (no newline in between).
  Token& Finish(Token& t, size_t end) {
    t.len = static_cast<uint32_t>(end - t.offset);
    pos_ = end;
    return t;
  }
  void Newline(size_t at) {
    ++line_;
    line_start_ = at + 1;
  }
  void Push(Mode m) {
    modes_.push_back(mode_);
    mode_ = m;
  }
  void Pop() {
    mode_ = modes_.back();
    modes_.pop_back();
  }
  char At(size_t i) const { return i < n_ ? s_[i] : '\0'; }

  Token Lex() {
    if (mode_ == kHeredoc && heredoc_line_start_ && !markers_.empty()) {
      Token t;
      if (TryHeredocEnd(t)) return t;
    }
    if (mode_ != kDefault && pos_ >= n_) Fail();  // unterminated string or heredoc
    if (mode_ == kStr) return LexString();
    if (mode_ == kHeredoc) return LexHeredoc();
    return LexDefault();
  }

  bool TryHeredocEnd(Token& t) {
    std::string_view marker = markers_.back();
    size_t k = pos_;
    while (k < n_ && (s_[k] == ' ' || s_[k] == '\t')) ++k;
    if (s_.substr(k, marker.size()) != marker) return false;
    k += marker.size();
    if (k < n_ && IsIdentChar(s_[k])) return false;
    while (k < n_ && (s_[k] == ' ' || s_[k] == '\t')) ++k;
    if (k < n_ && s_[k] != '\n' && s_[k] != '\r') return false;
    t = Start(T::kHeredocEnd);
    Finish(t, k);
    Pop();
    markers_.pop_back();
    return true;
  }

  // Line comments, block comments and white space before a token.
  void SkipTrivia() {
    while (pos_ < n_) {
      char c = s_[pos_];
      if (c == ' ' || c == '\t' || c == '\r' || c == '\f') {
        ++pos_;
      } else if (c == '\n') {
        Newline(pos_);
        ++pos_;
      } else if (c == '\xEF' && At(pos_ + 1) == '\xBB' && At(pos_ + 2) == '\xBF') {
        pos_ += 3;  // U+FEFF is white space to the grammar
      } else if (c == '#' || (c == '/' && At(pos_ + 1) == '/')) {
        CommentToken ct;
        ct.kind = s_.substr(pos_, 3) == "///" && At(pos_ + 3) != '/' ? ast::CommentKind::kDoc
                                                                     : ast::CommentKind::kLine;
        ct.offset = static_cast<uint32_t>(pos_);
        ct.line = line_;
        ct.col = static_cast<uint32_t>(pos_ - line_start_ + 1);
        size_t e = pos_;
        while (e < n_ && s_[e] != '\n' && s_[e] != '\r') ++e;
        ct.len = static_cast<uint32_t>(e - pos_);
        comments_.push_back(ct);
        pos_ = e;
      } else if (c == '/' && At(pos_ + 1) == '*') {
        CommentToken ct;
        ct.kind = ast::CommentKind::kBlock;
        ct.offset = static_cast<uint32_t>(pos_);
        ct.line = line_;
        ct.col = static_cast<uint32_t>(pos_ - line_start_ + 1);
        size_t e = pos_ + 2;
        for (;;) {
          if (e >= n_) Fail();  // unterminated block comment (E0006)
          if (s_[e] == '*' && At(e + 1) == '/') {
            e += 2;
            break;
          }
          if (s_[e] == '\n') {
            Newline(e);
            ct.multiline = true;
          }
          ++e;
        }
        ct.len = static_cast<uint32_t>(e - pos_);
        comments_.push_back(ct);
        pos_ = e;
      } else {
        return;
      }
    }
  }

  size_t Digits(size_t p) const {
    if (!IsDigit(At(p))) return 0;
    size_t q = p + 1;
    while (q < n_ && (IsDigit(s_[q]) || s_[q] == '_')) ++q;
    return q - p;
  }
  size_t Exponent(size_t p) const {
    if (At(p) != 'e' && At(p) != 'E') return 0;
    size_t q = p + 1;
    if (At(q) == '+' || At(q) == '-') ++q;
    if (!IsDigit(At(q))) return 0;
    while (q < n_ && IsDigit(s_[q])) ++q;
    return q - p;
  }
  size_t IdentRun(size_t p) const {
    if (!IsAlpha(At(p))) return 0;
    size_t q = p + 1;
    while (q < n_ && IsIdentChar(s_[q])) ++q;
    return q - p;
  }

  // The longest of FLOAT, INT and QUANTITY at pos_ (which of the three it
  // is does not matter: the value conversion reads the text). BAD_NUMBER
  // (`1.2.3`) is always an error.
  size_t NumberEnd() const {
    size_t p = pos_;
    size_t a = p + Digits(p);
    size_t best = a;
    size_t frac = 0;
    if (At(a) == '.' && Digits(a + 1) > 0) {
      frac = a + 1 + Digits(a + 1);
      if (At(frac) == '.' && Digits(frac + 1) > 0) Fail();  // BAD_NUMBER
    }
    size_t prefixes[4] = {a, 0, 0, 0};
    size_t count = 1;
    if (size_t e = Exponent(a)) {
      best = std::max(best, a + e);
      prefixes[count++] = a + e;
    }
    if (frac) {
      size_t e = Exponent(frac);
      best = std::max(best, frac + e);
      prefixes[count++] = frac;
      if (e) prefixes[count++] = frac + e;
    }
    for (size_t i = 0; i < count; ++i) {
      if (size_t u = IdentRun(prefixes[i])) best = std::max(best, prefixes[i] + u);
    }
    return best;
  }

  Token LexDefault() {
    SkipTrivia();
    if (pos_ >= n_) {
      Token t = Start(T::kEof);
      return t;
    }
    char c = s_[pos_];
    if (IsAlpha(c)) {
      size_t e = pos_ + IdentRun(pos_);
      Token t = Start(T::kIdent);
      Finish(t, e);
      t.kind = Keyword(s_.substr(t.offset, t.len));
      return t;
    }
    if (IsDigit(c)) {
      Token t = Start(T::kNumber);
      return Finish(t, NumberEnd());
    }
    char next = At(pos_ + 1);
    auto one = [&](T kind) {
      Token t = Start(kind);
      return Finish(t, pos_ + 1);
    };
    auto two = [&](T kind) {
      Token t = Start(kind);
      return Finish(t, pos_ + 2);
    };
    switch (c) {
      case '"': {
        Token t = one(T::kQuote);
        Push(kStr);
        return t;
      }
      case '{': {
        Token t = one(T::kLBrace);
        Push(kDefault);
        return t;
      }
      case '}': {
        Token t = one(T::kRBrace);
        if (!modes_.empty()) Pop();
        return t;
      }
      case '[': return one(T::kLBrack);
      case ']': return one(T::kRBrack);
      case '(': return one(T::kLParen);
      case ')': return one(T::kRParen);
      case ',': return one(T::kComma);
      case ':': return one(T::kColon);
      case '?': return one(T::kQuestion);
      case '+': return one(T::kPlus);
      case '-': return one(T::kMinus);
      case '*': return one(T::kStar);
      case '/': return one(T::kSlash);
      case '%': return one(T::kPercent);
      case '.': {
        if (next != '.') return one(T::kDot);
        size_t k = pos_ + 2;
        while (At(k) == ' ' || At(k) == '\t') ++k;
        auto at = [&](size_t i) -> int64_t { return i < n_ ? static_cast<unsigned char>(s_[i]) : -1; };
        return two(OpenRangeFollows(at(k), at(k + 1)) ? T::kDotDotOpen : T::kDotDot);
      }
      case '=': return next == '>' ? two(T::kFatArrow) : next == '=' ? two(T::kEq) : one(T::kAssign);
      case '!': return next == '=' ? two(T::kNe) : one(T::kBang);
      case '>': return next == '=' ? two(T::kGe) : one(T::kGt);
      case '&':
        if (next == '&') return two(T::kAnd);
        Fail();  // ERROR_CHAR
      case '|': return next == '|' ? two(T::kOr) : one(T::kPipe);
      case '<': {
        if (next == '<') {
          // HEREDOC_START : '<<' '-'? [A-Za-z_] [A-Za-z0-9_]* [ \t]* ('\r'? '\n' | '\r')
          size_t k = pos_ + 2;
          if (At(k) == '-') ++k;
          if (size_t id = IdentRun(k)) {
            size_t marker = k;
            k += id;
            while (At(k) == ' ' || At(k) == '\t') ++k;
            if (At(k) == '\r' || At(k) == '\n') {
              Token t = Start(T::kHeredocStart);
              if (At(k) == '\r' && At(k + 1) == '\n') ++k;
              if (At(k) == '\n') {
                t.multiline = true;
                Newline(k);
              }
              Finish(t, k + 1);
              markers_.push_back(s_.substr(marker, id));
              Push(kHeredoc);
              return t;
            }
          }
        }
        return next == '=' ? two(T::kLe) : one(T::kLt);
      }
      default:
        Fail();  // ERROR_CHAR
    }
  }

  Token LexString() {
    char c = s_[pos_];
    if (c == '"') {
      Token t = Start(T::kStrEnd);
      Finish(t, pos_ + 1);
      Pop();
      return t;
    }
    if (c == '$') return Dollar();
    if (c == '\r' || c == '\n') Fail();  // unterminated string (E0004)
    Token t = Start(T::kStrText);
    size_t e = pos_;
    while (e < n_) {
      char d = s_[e];
      if (d == '"' || d == '$' || d == '\r' || d == '\n') break;
      if (d == '\\') {
        char x = At(e + 1);
        if (e + 1 >= n_ || x == '\r' || x == '\n') Fail();  // a lone `\` ends the line
        e += 2;
        continue;
      }
      ++e;
    }
    return Finish(t, e);
  }

  Token LexHeredoc() {
    char c = s_[pos_];
    if (c == '\n' || c == '\r') {
      Token t = Start(T::kHdNl);
      size_t e = pos_ + 1;
      if (c == '\r' && At(e) == '\n') ++e;
      if (s_[e - 1] == '\n') {
        t.multiline = true;
        Newline(e - 1);
      }
      return Finish(t, e);
    }
    if (c == '$') return Dollar();
    Token t = Start(T::kHdText);
    size_t e = pos_;
    while (e < n_ && s_[e] != '$' && s_[e] != '\r' && s_[e] != '\n') ++e;
    return Finish(t, e);
  }

  // `$${`, `${` or a lone `$` in a string or heredoc.
  Token Dollar() {
    if (At(pos_ + 1) == '$' && At(pos_ + 2) == '{') {
      Token t = Start(T::kDollarEsc);
      return Finish(t, pos_ + 3);
    }
    if (At(pos_ + 1) == '{') {
      Token t = Start(T::kInterpStart);
      Finish(t, pos_ + 2);
      Push(kDefault);
      return t;
    }
    Token t = Start(T::kStrDollar);
    return Finish(t, pos_ + 1);
  }

  std::string_view s_;
  size_t n_;
  size_t pos_ = 0;
  uint32_t line_ = 1;
  size_t line_start_ = 0;
  Mode mode_ = kDefault;
  std::vector<Mode> modes_;
  std::vector<std::string_view> markers_;  // open heredocs, innermost last
  bool heredoc_line_start_ = false;
  std::vector<CommentToken> comments_;
};

// ------------------------------------------------------------------ parser

bool IsName(T k) { return k == T::kIdent || k == T::kSensitive; }
bool IsAnyName(T k) { return k >= T::kIdent && k <= T::kSensitive; }
// What may follow a declaration (declUnit in KilnParser.g4).
bool IsDeclFollower(T k) {
  return k == T::kEof || k == T::kIdent || (k >= T::kInput && k <= T::kBackend);
}

// An expression and the height of its parse tree in `expr` nodes (what
// build_ast.cpp's depth limit counts).
struct Parsed {
  ast::ExprPtr node;
  int height = 1;
};

template <class N>
std::unique_ptr<N> Node(const SourceRange& r) {
  auto n = std::make_unique<N>();
  n->range = r;
  return n;
}

// Vectors reused by the nodes of one nesting depth, so that a node's own
// vector is allocated once, at its final size: growing one vector per node
// (items, arguments, template parts) cost about a third of the parse time
// in the allocator.
template <class T>
class Scratch {
 public:
  class Lease {
   public:
    explicit Lease(Scratch& s) : s_(s) {
      if (s.depth_ == s.pool_.size()) s.pool_.push_back(std::make_unique<std::vector<T>>());
      v_ = s.pool_[s.depth_++].get();
      v_->clear();
    }
    ~Lease() { --s_.depth_; }
    Lease(const Lease&) = delete;
    Lease& operator=(const Lease&) = delete;
    std::vector<T>& operator*() { return *v_; }
    std::vector<T>* operator->() { return v_; }
    // Moves the collected elements into `out`, sized exactly.
    void MoveTo(std::vector<T>& out) {
      out.reserve(out.size() + v_->size());
      for (T& x : *v_) out.push_back(std::move(x));
      v_->clear();
    }

   private:
    Scratch& s_;
    std::vector<T>* v_;
  };

 private:
  std::vector<std::unique_ptr<std::vector<T>>> pool_;
  size_t depth_ = 0;
};

class Parser {
 public:
  Parser(const SourceManager& sm, uint32_t file_id)
      : sm_(sm), file_id_(file_id), text_(sm.Text(file_id)), lex_(text_) {}

  std::unique_ptr<ast::File> File() {
    auto file = std::make_unique<ast::File>();
    file->file_id = file_id_;
    while (Peek().kind != T::kEof) {
      file->decls.push_back(Decl());
      if (!IsDeclFollower(Peek().kind)) Fail();
    }
    const auto& comments = lex_.comments();
    file->comments.reserve(comments.size());
    for (const CommentToken& ct : comments) {
      ast::Comment c;
      c.kind = ct.kind;
      c.range = {Loc(ct.line, ct.col, ct.offset), End(ct.line, ct.col, ct.offset, ct.len, ct.multiline)};
      c.text = std::string(text_.substr(ct.offset, ct.len));
      while (!c.text.empty() && c.text.back() == '\r') c.text.pop_back();
      file->comments.push_back(std::move(c));
    }
    return file;
  }

  ast::ExprPtr ExprOnly() {
    ast::ExprPtr e = TopExpr();
    if (Peek().kind != T::kEof) Fail();
    return e;
  }

  ast::TypeExprPtr TypeOnly() {
    ast::TypeExprPtr t = Type();
    if (Peek().kind != T::kEof) Fail();
    return t;
  }

 private:
  struct NestGuard {
    Parser* p;
    explicit NestGuard(Parser* parser) : p(parser) {
      if (++p->nesting_ >= kMaxFastNesting) Fail();
    }
    ~NestGuard() { --p->nesting_; }
  };

  // ---------------------------------------------------------------- tokens

  const Token& Peek(size_t k = 0) {
    while (count_ <= k) {
      lex_.Next(&ring_[(head_ + count_) % kRing]);
      ++count_;
    }
    return ring_[(head_ + k) % kRing];
  }
  // Consumes the current token; the reference stays valid until the next
  // Take().
  const Token& Take() {
    Peek();
    prev_ = ring_[head_];
    has_prev_ = true;
    head_ = (head_ + 1) % kRing;
    --count_;
    return prev_;
  }
  bool At(T kind) { return Peek().kind == kind; }
  const Token& Expect(T kind) {
    if (Peek().kind != kind) Fail();
    return Take();
  }

  SourceLoc Loc(uint32_t line, uint32_t col, uint32_t offset) const { return {file_id_, line, col, offset}; }
  SourceLoc End(uint32_t line, uint32_t col, uint32_t offset, uint32_t len, bool multiline) const {
    if (multiline) return sm_.Locate(file_id_, offset + len);
    return {file_id_, line, col + len, offset + len};
  }
  SourceLoc Begin(const Token& t) const { return Loc(t.line, t.col, t.offset); }
  SourceLoc End(const Token& t) const { return End(t.line, t.col, t.offset, t.len, t.multiline); }
  SourceRange Range(const Token& t) const { return {Begin(t), End(t)}; }
  // From `begin` to the end of the last token taken.
  SourceRange Since(const SourceLoc& begin) const { return {begin, End(prev_)}; }
  std::string_view Text(const Token& t) const { return text_.substr(t.offset, t.len); }

  // `///` lines directly above `first` (see AstBuilder::Doc).
  std::string Doc(const Token& first) {
    uint32_t begin = first.comments_begin, end = first.comments_end;
    if (begin == end) return "";
    const auto& comments = lex_.comments();
    uint32_t want_line = first.line;
    uint32_t top = end;
    while (top > begin) {
      const CommentToken& c = comments[top - 1];
      if (c.kind != ast::CommentKind::kDoc || c.line + 1 != want_line) break;
      --top;
      want_line = c.line;
    }
    // The topmost doc line must not share its line with code before it.
    while (top < end) {
      uint32_t line = comments[top].line;
      uint32_t prev_line = 0, prev_end_line = 0;
      if (top > begin) {
        const CommentToken& c = comments[top - 1];
        prev_line = c.line;
        prev_end_line = End(c.line, c.col, c.offset, c.len, c.multiline).line;
      } else if (has_prev_) {
        prev_line = prev_.line;
        prev_end_line = End(prev_).line;
      } else {
        break;
      }
      if (prev_line != line && prev_end_line != line) break;
      ++top;
    }
    std::string doc;
    for (uint32_t i = top; i < end; ++i) {
      if (i > top) doc += '\n';
      doc += DocText(text_.substr(comments[i].offset, comments[i].len));
    }
    return doc;
  }

  // ---------------------------------------------------------------- declarations

  Token Name() {
    if (!IsName(Peek().kind)) Fail();
    return Take();
  }
  Token AnyName() {
    if (!IsAnyName(Peek().kind)) Fail();
    return Take();
  }
  void SetName(ast::Decl& d, const Token& t) {
    d.name = std::string(Text(t));
    d.name_range = Range(t);
  }

  std::unique_ptr<ast::ForClause> ForClause() {
    Token f = Expect(T::kFor);
    auto out = std::make_unique<ast::ForClause>();
    Token first = Name();
    if (At(T::kComma)) {
      Take();
      Token second = Name();
      out->key_var = std::string(Text(first));
      out->key_var_range = Range(first);
      first = second;
    }
    out->value_var = std::string(Text(first));
    out->value_var_range = Range(first);
    Expect(T::kIn);
    out->collection = TopExpr();
    out->range = Since(Begin(f));
    return out;
  }

  template <class D>
  void Repetition(D& d) {
    if (At(T::kFor)) d.for_clause = ForClause();
    if (At(T::kIf)) {
      Take();
      d.if_cond = TopExpr();
    }
    d.body = Object(nullptr);
  }

  ast::DeclPtr Decl() {
    Token first = Peek();
    std::string doc = Doc(first);
    ast::DeclPtr out;
    switch (first.kind) {
      case T::kInput: {
        Take();
        auto d = std::make_unique<ast::InputDecl>();
        SetName(*d, Name());
        Expect(T::kColon);
        d->type = Type();
        if (At(T::kSensitive)) {
          Take();
          d->sensitive = true;
          if (At(T::kAssign)) {
            Take();
            d->default_value = TopExpr();
          }
        } else if (At(T::kAssign)) {
          Take();
          d->default_value = TopExpr();
          if (At(T::kSensitive)) {
            Take();
            d->sensitive = true;
          }
        }
        out = std::move(d);
        break;
      }
      case T::kLet: {
        Take();
        auto d = std::make_unique<ast::LetDecl>();
        SetName(*d, Name());
        if (At(T::kColon)) {
          Take();
          d->type = Type();
        }
        Expect(T::kAssign);
        d->value = TopExpr();
        out = std::move(d);
        break;
      }
      case T::kOutput: {
        Take();
        auto d = std::make_unique<ast::OutputDecl>();
        SetName(*d, Name());
        if (At(T::kColon)) {
          Take();
          d->type = Type();
        }
        if (At(T::kSensitive)) {
          Take();
          d->sensitive = true;
        }
        Expect(T::kAssign);
        d->value = TopExpr();
        out = std::move(d);
        break;
      }
      case T::kAssert: {
        Take();
        auto d = std::make_unique<ast::AssertDecl>();
        d->cond = TopExpr();
        Expect(T::kComma);
        d->message = TopExpr();
        out = std::move(d);
        break;
      }
      case T::kType: {
        Take();
        auto d = std::make_unique<ast::TypeDecl>();
        SetName(*d, Name());
        Expect(T::kAssign);
        d->type = Type();
        out = std::move(d);
        break;
      }
      case T::kProvider: {
        Take();
        auto d = std::make_unique<ast::ProviderDecl>();
        Token type = Name();
        d->type_name = std::string(Text(type));
        d->type_range = Range(type);
        SetName(*d, Name());
        d->body = Object(nullptr);
        out = std::move(d);
        break;
      }
      case T::kBackend: {
        Take();
        auto d = std::make_unique<ast::BackendDecl>();
        Token type = Name();
        d->type_name = std::string(Text(type));
        d->type_range = Range(type);
        d->body = Object(nullptr);
        out = std::move(d);
        break;
      }
      case T::kModule: {
        Take();
        auto d = std::make_unique<ast::ModuleDecl>();
        SetName(*d, Name());
        Repetition(*d);
        out = std::move(d);
        break;
      }
      case T::kIdent: {
        Take();
        auto d = std::make_unique<ast::ResourceDecl>();
        if (At(T::kDot)) {
          Take();
          Token kind = AnyName();
          d->provider_type = std::string(Text(first));
          d->kind_name = std::string(Text(kind));
        } else {
          d->kind_name = std::string(Text(first));
        }
        d->kind_range = Since(Begin(first));
        SetName(*d, Name());
        Repetition(*d);
        out = std::move(d);
        break;
      }
      default:
        Fail();
    }
    out->range = Since(Begin(first));
    out->doc = std::move(doc);
    return out;
  }

  // ---------------------------------------------------------------- objects

  // `{ items }`; *height (when wanted) gets the tallest item value.
  std::unique_ptr<ast::ObjectExpr> Object(int* height) {
    NestGuard guard(this);
    Token lbrace = Expect(T::kLBrace);
    auto obj = std::make_unique<ast::ObjectExpr>();
    Scratch<ast::ObjectItem>::Lease items(items_);
    int tallest = 0;
    while (!At(T::kRBrace)) {
      ast::ObjectItem item;
      Token key = Peek();
      if (IsAnyName(key.kind)) {
        Take();
        item.key = std::string(Text(key));
        item.key_range = Range(key);
      } else if (key.kind == T::kQuote) {
        item.quoted_key = true;
        item.key = LiteralString();
        item.key_range = Since(Begin(key));
      } else {
        Fail();
      }
      T k = Peek().kind;
      if (k == T::kAssign || k == T::kColon) {
        Take();
        item.colon = k == T::kColon;
        Parsed v = Expr(0);
        tallest = std::max(tallest, v.height);
        item.value = std::move(v.node);
      } else if (k == T::kLBrace) {
        item.is_block = true;
        int h = 0;
        item.value = Object(&h);
        tallest = std::max(tallest, h);
      } else {
        Fail();
      }
      item.range = Since(Begin(key));
      items->push_back(std::move(item));
      if (At(T::kComma)) Take();
    }
    Take();
    items.MoveTo(obj->items);
    obj->range = Since(Begin(lbrace));
    if (height) *height = tallest;
    return obj;
  }

  // ---------------------------------------------------------------- expressions

  // An expression as a whole (a declaration's value, an item, ...).
  ast::ExprPtr TopExpr() { return Expr(0).node; }

  static int InfixPrecedence(T k) {
    switch (k) {
      case T::kDot: return 11;
      case T::kLBrack: return 10;
      case T::kStar: case T::kSlash: case T::kPercent: return 8;
      case T::kPlus: case T::kMinus: return 7;
      case T::kDotDot: case T::kDotDotOpen: return 6;
      case T::kLt: case T::kLe: case T::kGt: case T::kGe: return 5;
      case T::kEq: case T::kNe: return 4;
      case T::kAnd: return 3;
      case T::kOr: return 2;
      case T::kQuestion: return 1;
      default: return 0;
    }
  }
  static ast::BinaryOp BinaryOpFor(T k) {
    switch (k) {
      case T::kStar: return ast::BinaryOp::kMul;
      case T::kSlash: return ast::BinaryOp::kDiv;
      case T::kPercent: return ast::BinaryOp::kMod;
      case T::kPlus: return ast::BinaryOp::kAdd;
      case T::kMinus: return ast::BinaryOp::kSub;
      case T::kDotDot: return ast::BinaryOp::kRange;
      case T::kLt: return ast::BinaryOp::kLt;
      case T::kLe: return ast::BinaryOp::kLe;
      case T::kGt: return ast::BinaryOp::kGt;
      case T::kGe: return ast::BinaryOp::kGe;
      case T::kEq: return ast::BinaryOp::kEq;
      case T::kNe: return ast::BinaryOp::kNe;
      case T::kAnd: return ast::BinaryOp::kAnd;
      default: return ast::BinaryOp::kOr;
    }
  }

  static int Taller(int a, int b) {
    int h = std::max(a, b) + 1;
    if (h > kMaxFastHeight) Fail();
    return h;
  }

  // The rewritten left-recursive `expr[_p]` of KilnParser.g4: a prefix
  // operator or a primary, then every postfix/binary operator whose
  // precedence is at least `min_prec` (precpred), left-associative except
  // `?:`. Precedences follow the order of the alternatives: `.` 11, `[]` 10,
  // unary 9, `* / %` 8, `+ -` 7, `..` 6, comparisons 5, equality 4, `&&` 3,
  // `||` 2, `?:` 1.
  Parsed Expr(int min_prec) {
    NestGuard guard(this);
    Token first = Peek();
    SourceLoc begin = Begin(first);
    Parsed lhs;
    if (first.kind == T::kBang || first.kind == T::kMinus) {
      Take();
      const Token& operand = Peek();
      T after = Peek(1).kind;
      if (first.kind == T::kMinus && operand.kind == T::kNumber && after != T::kDot &&
          after != T::kLBrack && Text(operand) == "9223372036854775808") {
        // Only representable as a negated literal.
        Take();
        auto e = Node<ast::IntExpr>(Since(begin));
        e->value = INT64_MIN;
        lhs.node = std::move(e);
        lhs.height = 1;
      } else {
        Parsed inner = Expr(9);
        auto e = std::make_unique<ast::UnaryExpr>();
        e->op = first.kind == T::kBang ? ast::UnaryOp::kNot : ast::UnaryOp::kNeg;
        e->operand = std::move(inner.node);
        e->range = Since(begin);
        lhs.node = std::move(e);
        lhs.height = Taller(inner.height, 0);
      }
    } else {
      lhs = Primary();
    }
    for (;;) {
      T k = Peek().kind;
      int prec = InfixPrecedence(k);
      if (prec == 0 || prec < min_prec) break;
      if (k == T::kDot) {
        Take();
        Token name = AnyName();
        auto e = std::make_unique<ast::GetAttrExpr>();
        e->object = std::move(lhs.node);
        e->name = std::string(Text(name));
        e->name_range = Range(name);
        e->range = Since(begin);
        lhs.node = std::move(e);
        lhs.height = Taller(lhs.height, 0);
      } else if (k == T::kLBrack) {
        Take();
        Parsed index = Expr(0);
        Expect(T::kRBrack);
        auto e = std::make_unique<ast::IndexExpr>();
        e->object = std::move(lhs.node);
        e->index = std::move(index.node);
        e->range = Since(begin);
        lhs.node = std::move(e);
        lhs.height = Taller(lhs.height, index.height);
      } else if (k == T::kDotDotOpen) {
        // `8..`: postfix, just below the binary `..` (openRangeExpr).
        Take();
        auto e = std::make_unique<ast::UnaryExpr>();
        e->op = ast::UnaryOp::kOpenRange;
        e->operand = std::move(lhs.node);
        e->range = Since(begin);
        lhs.node = std::move(e);
        lhs.height = Taller(lhs.height, 0);
      } else if (k == T::kQuestion) {
        Take();
        Parsed then_expr = Expr(0);
        Expect(T::kColon);
        Parsed else_expr = Expr(1);
        auto e = std::make_unique<ast::ConditionalExpr>();
        e->cond = std::move(lhs.node);
        e->then_expr = std::move(then_expr.node);
        e->else_expr = std::move(else_expr.node);
        e->range = Since(begin);
        lhs.node = std::move(e);
        lhs.height = Taller(lhs.height, std::max(then_expr.height, else_expr.height));
      } else {
        Token op = Take();
        Parsed rhs = Expr(prec + 1);
        auto e = std::make_unique<ast::BinaryExpr>();
        e->op = BinaryOpFor(k);
        e->op_range = Range(op);
        e->lhs = std::move(lhs.node);
        e->rhs = std::move(rhs.node);
        e->range = Since(begin);
        lhs.node = std::move(e);
        lhs.height = Taller(lhs.height, rhs.height);
      }
    }
    return lhs;
  }

  // `name` or `name, name` of a for expression.
  template <class F>
  void ForVars(F& f) {
    Token first = Name();
    if (At(T::kComma)) {
      Take();
      Token second = Name();
      f.key_var = std::string(Text(first));
      f.key_var_range = Range(first);
      first = second;
    }
    f.value_var = std::string(Text(first));
    f.value_var_range = Range(first);
  }

  // `[for ...]` (after `[`) or `{for ...}` (after `{`).
  Parsed For(const Token& open, bool is_map) {
    Take();  // `for`
    auto e = std::make_unique<ast::ForExpr>();
    e->is_map = is_map;
    ForVars(*e);
    Expect(T::kIn);
    Parsed coll = Expr(0);
    int h = coll.height;
    e->collection = std::move(coll.node);
    if (At(T::kIf)) {
      Take();
      Parsed cond = Expr(0);
      h = std::max(h, cond.height);
      e->cond = std::move(cond.node);
    }
    Expect(T::kColon);
    Parsed first = Expr(0);
    h = std::max(h, first.height);
    if (is_map) {
      e->key = std::move(first.node);
      Expect(T::kFatArrow);
      Parsed value = Expr(0);
      h = std::max(h, value.height);
      e->value = std::move(value.node);
      Expect(T::kRBrace);
    } else {
      e->value = std::move(first.node);
      Expect(T::kRBrack);
    }
    e->range = Since(Begin(open));
    Parsed out;
    out.node = std::move(e);
    out.height = Taller(h, 0);
    return out;
  }

  Parsed Primary() {
    Token t = Peek();
    SourceLoc begin = Begin(t);
    Parsed out;
    switch (t.kind) {
      case T::kNumber:
        Take();
        out.node = Number(t);
        return out;
      case T::kTrue:
      case T::kFalse: {
        Take();
        auto e = Node<ast::BoolExpr>(Range(t));
        e->value = t.kind == T::kTrue;
        out.node = std::move(e);
        return out;
      }
      case T::kNull:
        Take();
        out.node = Node<ast::NullExpr>(Range(t));
        return out;
      case T::kQuote: {
        int h = 0;
        out.node = Template(&h);
        out.height = Taller(h, 0);
        return out;
      }
      case T::kHeredocStart: {
        int h = 0;
        out.node = Heredoc(&h);
        out.height = Taller(h, 0);
        return out;
      }
      case T::kIdent:
      case T::kSensitive: {
        Take();
        if (!At(T::kLParen)) {
          auto e = Node<ast::NameExpr>(Range(t));
          e->name = std::string(Text(t));
          out.node = std::move(e);
          return out;
        }
        Take();
        auto e = std::make_unique<ast::CallExpr>();
        e->callee = std::string(Text(t));
        e->callee_range = Range(t);
        int h = 0;
        Scratch<ast::ExprPtr>::Lease args(exprs_);
        if (!At(T::kRParen)) {
          for (;;) {
            Parsed arg = Expr(0);
            h = std::max(h, arg.height);
            args->push_back(std::move(arg.node));
            if (!At(T::kComma)) break;
            Take();
            if (At(T::kRParen)) break;
          }
        }
        Expect(T::kRParen);
        args.MoveTo(e->args);
        e->range = Since(begin);
        out.node = std::move(e);
        out.height = Taller(h, 0);
        return out;
      }
      case T::kLParen: {
        // Parentheses only group; the inner node keeps its own range.
        Take();
        Parsed inner = Expr(0);
        Expect(T::kRParen);
        inner.height = Taller(inner.height, 0);
        return inner;
      }
      case T::kLBrack: {
        Take();
        if (At(T::kFor)) return For(t, false);
        auto e = std::make_unique<ast::ListExpr>();
        Scratch<ast::ExprPtr>::Lease items(exprs_);
        int h = 0;
        bool comma = true;
        uint32_t prev_end_line = 0;
        while (!At(T::kRBrack)) {
          // Commas are optional only at line ends (E0018 otherwise).
          if (!comma && prev_end_line == Peek().line) Fail();
          Parsed item = Expr(0);
          h = std::max(h, item.height);
          items->push_back(std::move(item.node));
          prev_end_line = End(prev_).line;
          comma = At(T::kComma);
          if (comma) Take();
        }
        Take();
        items.MoveTo(e->items);
        e->range = Since(begin);
        out.node = std::move(e);
        out.height = Taller(h, 0);
        return out;
      }
      case T::kLBrace: {
        if (Peek(1).kind == T::kFor && IsName(Peek(2).kind)) {
          Take();
          return For(t, true);
        }
        int h = 0;
        out.node = Object(&h);
        out.height = Taller(h, 0);
        return out;
      }
      default:
        Fail();
    }
  }

  ast::ExprPtr Number(const Token& t) {
    NumberLiteral n = ParseNumberLiteral(Text(t));
    if (n.error != NumberLiteral::Error::kNone) Fail();
    return NumberNode(n, Range(t));
  }

  // The parts shared by strings and heredocs: `$`, `$${` and `${ expr }`.
  // False when `t` is none of them.
  bool TemplatePiece(const Token& t, std::vector<ast::TemplatePart>& parts, int* height) {
    switch (t.kind) {
      case T::kStrDollar: AppendTemplateText(parts, "$"); return true;
      case T::kDollarEsc: AppendTemplateText(parts, "${"); return true;
      case T::kInterpStart: {
        Parsed x = Expr(0);
        Expect(T::kRBrace);
        *height = std::max(*height, x.height);
        ast::TemplatePart p;
        p.expr = std::move(x.node);
        parts.push_back(std::move(p));
        return true;
      }
      default: return false;
    }
  }

  // "..." (at the opening quote).
  std::unique_ptr<ast::TemplateExpr> Template(int* height) {
    Token quote = Take();
    auto e = std::make_unique<ast::TemplateExpr>();
    Scratch<ast::TemplatePart>::Lease parts(parts_);
    for (;;) {
      Token t = Take();
      if (t.kind == T::kStrEnd) break;
      if (t.kind == T::kStrText) {
        std::string_view raw = Text(t);
        if (raw.find('\\') == std::string_view::npos) {
          AppendTemplateText(*parts, raw);
        } else {
          AppendTemplateText(*parts, "");
          std::vector<EscapeError> errors;
          DecodeEscapes(raw, parts->back().text, &errors);
          if (!errors.empty()) Fail();
        }
        continue;
      }
      if (!TemplatePiece(t, *parts, height)) Fail();
    }
    if (parts->empty()) parts->emplace_back();
    parts.MoveTo(e->parts);
    e->range = Since(Begin(quote));
    return e;
  }

  // A string without interpolation (object keys, literal types).
  std::string LiteralString() {
    int h = 0;
    std::unique_ptr<ast::TemplateExpr> t = Template(&h);
    if (!t->IsLiteral()) Fail();  // E0015
    return t->LiteralText();
  }

  std::unique_ptr<ast::TemplateExpr> Heredoc(int* height) {
    Token start = Take();
    auto e = std::make_unique<ast::TemplateExpr>();
    e->heredoc = true;
    e->heredoc_marker = std::string(HeredocMarker(Text(start), &e->strip_indent));
    Scratch<ast::TemplatePart>::Lease parts(parts_);
    for (;;) {
      Token t = Take();
      if (t.kind == T::kHeredocEnd) break;
      if (t.kind == T::kHdText) {
        AppendTemplateText(*parts, Text(t));
      } else if (t.kind == T::kHdNl) {
        AppendTemplateText(*parts, "\n");
      } else if (!TemplatePiece(t, *parts, height)) {
        Fail();
      }
    }
    parts.MoveTo(e->parts);
    if (e->strip_indent) StripHeredocIndent(e->parts);
    if (e->parts.empty()) e->parts.emplace_back();
    e->range = Since(Begin(start));
    return e;
  }

  // ---------------------------------------------------------------- types

  ast::TypeExprPtr Type() {
    NestGuard guard(this);
    SourceLoc begin = Begin(Peek());
    ast::TypeExprPtr first = TypePostfix();
    if (!At(T::kPipe)) return first;
    auto t = std::make_unique<ast::TypeExpr>();
    t->kind = ast::TypeKind::kUnion;
    auto add = [&](ast::TypeExprPtr alt) {
      // Flatten `(a | b) | c`.
      if (alt->kind == ast::TypeKind::kUnion) {
        for (auto& inner : alt->alternatives) t->alternatives.push_back(std::move(inner));
      } else {
        t->alternatives.push_back(std::move(alt));
      }
    };
    add(std::move(first));
    while (At(T::kPipe)) {
      Take();
      add(TypePostfix());
    }
    t->range = Since(begin);
    return t;
  }

  ast::TypeExprPtr TypePostfix() {
    SourceLoc begin = Begin(Peek());
    ast::TypeExprPtr inner = TypePrimary();
    if (!At(T::kQuestion)) return inner;
    Take();
    auto t = std::make_unique<ast::TypeExpr>();
    t->kind = ast::TypeKind::kOptional;
    t->element = std::move(inner);
    t->range = Since(begin);
    return t;
  }

  // IDENT or SENSITIVE not starting the next record field (`name:`/`name?`).
  bool AtModifier() {
    if (!IsName(Peek().kind)) return false;
    T next = Peek(1).kind;
    return next != T::kColon && next != T::kQuestion;
  }

  ast::TypeExprPtr TypePrimary() {
    Token first = Peek();
    SourceLoc begin = Begin(first);
    auto t = std::make_unique<ast::TypeExpr>();
    switch (first.kind) {
      case T::kIdent: {
        Take();
        if (At(T::kLt)) {
          std::string_view name = Text(first);
          if (name == "list") {
            t->kind = ast::TypeKind::kList;
          } else if (name == "map") {
            t->kind = ast::TypeKind::kMap;
          } else if (name == "range") {
            t->kind = ast::TypeKind::kRange;
          } else {
            Fail();  // E0017
          }
          Take();
          t->element = Type();
          Expect(T::kGt);
        } else {
          t->kind = ast::TypeKind::kName;
          t->name = std::string(Text(first));
          if (At(T::kDot)) {
            Take();
            Token member = AnyName();
            t->name += ".";
            t->name += Text(member);
          }
        }
        break;
      }
      case T::kNull:
        Take();
        t->kind = ast::TypeKind::kName;
        t->name = "null";
        break;
      case T::kQuote:
        t->kind = ast::TypeKind::kLiteral;
        t->name = LiteralString();
        break;
      case T::kLParen: {
        Take();
        ast::TypeExprPtr inner = Type();
        Expect(T::kRParen);
        return inner;
      }
      case T::kLBrace: {
        Take();
        t->kind = ast::TypeKind::kRecord;
        while (!At(T::kRBrace)) {
          Token name = Peek();
          if (!IsAnyName(name.kind)) Fail();
          ast::RecordField f;
          f.doc = Doc(name);
          Take();
          f.name = std::string(Text(name));
          f.name_range = Range(name);
          if (At(T::kQuestion)) {
            Take();
            f.optional = true;
          }
          Expect(T::kColon);
          f.type = Type();
          while (AtModifier()) f.modifiers.emplace_back(Text(Take()));
          if (At(T::kAssign)) {
            Take();
            f.default_value = TopExpr();
            while (AtModifier()) f.modifiers.emplace_back(Text(Take()));
          }
          f.range = Since(Begin(name));
          t->fields.push_back(std::move(f));
          if (At(T::kComma)) Take();
        }
        Take();
        break;
      }
      default:
        Fail();
    }
    t->range = Since(begin);
    return t;
  }

  static constexpr size_t kRing = 4;

  const SourceManager& sm_;
  uint32_t file_id_;
  std::string_view text_;
  Lexer lex_;
  Token ring_[kRing];
  size_t head_ = 0;
  size_t count_ = 0;
  Scratch<ast::ObjectItem> items_;
  Scratch<ast::ExprPtr> exprs_;
  Scratch<ast::TemplatePart> parts_;
  Token prev_;  // the last token taken
  bool has_prev_ = false;
  int nesting_ = 0;
};

template <class Result, class Fn>
Result Run(const SourceManager& sm, uint32_t file_id, Fn fn) {
  if (!ValidUtf8(sm.Text(file_id))) return nullptr;
  try {
    Parser parser(sm, file_id);
    return fn(parser);
  } catch (const GiveUp&) {
    return nullptr;
  }
}

}  // namespace

std::unique_ptr<ast::File> FastParseFile(const SourceManager& sm, uint32_t file_id) {
  return Run<std::unique_ptr<ast::File>>(sm, file_id, [](Parser& p) { return p.File(); });
}

ast::ExprPtr FastParseExpr(const SourceManager& sm, uint32_t file_id) {
  return Run<ast::ExprPtr>(sm, file_id, [](Parser& p) { return p.ExprOnly(); });
}

ast::TypeExprPtr FastParseType(const SourceManager& sm, uint32_t file_id) {
  return Run<ast::TypeExprPtr>(sm, file_id, [](Parser& p) { return p.TypeOnly(); });
}

}  // namespace kiln::syntax
