// The formatter prints the AST back as text, in one canonical layout, while
// keeping everything the AST does not model (comments, the spelling of
// numbers and strings, the user's choice of single- or multi-line brackets)
// by looking at the original source through the node ranges.
//
// Layout of a braced or bracketed construct that spans lines: a list of
// entries (items and own-line comments), each on its own line, with runs of
// single-line `key = value` items aligned on `=` as `terraform fmt` does.
#include "compiler/format/format.h"

#include <algorithm>
#include <map>
#include <string_view>
#include <vector>

namespace kiln {
namespace {

constexpr int kIndentWidth = 2;

// Marks the end of a heredoc in rendered text: its closing marker must stand
// alone on its line, so anything that follows on the same line is moved to
// the next one. The byte after the marker holds the indentation level to use
// there. Resolved by ResolveHeredocMarks() once the whole file is rendered.
constexpr char kAfterHeredoc = '\x01';

std::string Indent(int level) {
  return std::string(static_cast<size_t>(std::max(level, 0)) * kIndentWidth, ' ');
}

// Width in columns, counting UTF-8 code points.
size_t DisplayWidth(std::string_view s) {
  size_t n = 0;
  for (unsigned char c : s) {
    if ((c & 0xC0) != 0x80) ++n;
  }
  return n;
}

bool IsSpace(char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\f' || c == '\v'; }

// Removes trailing blanks from every line (comments may carry them).
std::string TrimLineEnds(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  size_t start = 0;
  while (start <= s.size()) {
    size_t nl = s.find('\n', start);
    std::string_view line = s.substr(start, nl == std::string_view::npos ? s.npos : nl - start);
    size_t end = line.size();
    while (end > 0 && (line[end - 1] == ' ' || line[end - 1] == '\t' || line[end - 1] == '\r')) --end;
    out.append(line.substr(0, end));
    if (nl == std::string_view::npos) break;
    out.push_back('\n');
    start = nl + 1;
  }
  return out;
}

bool IsLineComment(const ast::Comment& c) {
  return !(c.text.size() >= 2 && c.text[0] == '/' && c.text[1] == '*');
}

bool EndsWithHeredoc(const std::string& s) {
  return s.size() >= 2 && s[s.size() - 2] == kAfterHeredoc;
}

bool HasNewline(const std::string& s) { return s.find('\n') != std::string::npos; }

// One line-level element of a multi-line construct.
struct Entry {
  bool is_comment = false;
  bool blank_before = false;  // the user left a blank line above it
  bool alignable = false;     // a single-line `key = value`
  std::string key;            // alignable: the text before ` = `
  std::string text;           // alignable: the value; otherwise the whole text
  std::string trailing;       // comments that followed on the same source line
};

// Entries being collected for one multi-line construct.
struct Layout {
  std::vector<Entry> entries;
  std::string opener_trailing;  // comments on the line of the opening bracket
  uint32_t last_line = 0;       // source line where the previous element ended
  uint32_t last_offset = 0;     // and the offset just after it
};

// Operator precedence, higher binds tighter (LANGUAGE.md §5).
int BinaryPrec(ast::BinaryOp op) {
  using ast::BinaryOp;
  switch (op) {
    case BinaryOp::kOr: return 2;
    case BinaryOp::kAnd: return 3;
    case BinaryOp::kEq:
    case BinaryOp::kNe: return 4;
    case BinaryOp::kLt:
    case BinaryOp::kLe:
    case BinaryOp::kGt:
    case BinaryOp::kGe: return 5;
    case BinaryOp::kRange: return 6;
    case BinaryOp::kAdd:
    case BinaryOp::kSub: return 7;
    case BinaryOp::kMul:
    case BinaryOp::kDiv:
    case BinaryOp::kMod: return 8;
  }
  return 8;
}

constexpr int kCondPrec = 1;
constexpr int kUnaryPrec = 9;
constexpr int kPrimaryPrec = 10;

int Prec(const ast::Expr& e) {
  switch (e.kind) {
    case ast::ExprKind::kConditional: return kCondPrec;
    case ast::ExprKind::kBinary: return BinaryPrec(static_cast<const ast::BinaryExpr&>(e).op);
    case ast::ExprKind::kUnary:
      // `8..` binds like `..`.
      return static_cast<const ast::UnaryExpr&>(e).op == ast::UnaryOp::kOpenRange ? BinaryPrec(ast::BinaryOp::kRange)
                                                                                 : kUnaryPrec;
    default: return kPrimaryPrec;
  }
}

class Formatter {
 public:
  Formatter(const SourceManager& sm, const ast::File& file)
      : sm_(sm), file_(file), text_(sm.Text(file.file_id)) {
    for (const auto& c : file_.comments) {
      comment_end_by_begin_[c.range.begin.offset] = c.range.end.offset;
      comment_begin_by_end_[c.range.end.offset] = c.range.begin.offset;
    }
  }

  std::string Run();

 private:
  // ---- source text helpers
  uint32_t Size() const { return static_cast<uint32_t>(text_.size()); }
  std::string_view Slice(uint32_t begin, uint32_t end) const {
    begin = std::min(begin, Size());
    end = std::clamp(end, begin, Size());
    return text_.substr(begin, end - begin);
  }
  std::string_view Slice(const SourceRange& r) const { return Slice(r.begin.offset, r.end.offset); }
  uint32_t LineOf(uint32_t offset) const {
    return sm_.Locate(file_.file_id, std::min(offset, Size())).line;
  }
  // The line of the last character of `r` (ranges are half-open).
  uint32_t EndLine(const SourceRange& r) const {
    uint32_t end = r.end.offset;
    if (end > r.begin.offset) --end;
    return LineOf(end);
  }
  // Skips white space and comments forwards from `p`.
  uint32_t SkipTrivia(uint32_t p) const;
  // Skips white space and comments backwards from `p` (exclusive).
  uint32_t SkipTriviaBack(uint32_t p) const;
  // Whether the text between two offsets holds an empty line.
  bool GapHasBlankLine(uint32_t begin, uint32_t end) const {
    std::string_view gap = Slice(begin, end);
    // The part before the first line break is a whole line only when the
    // gap starts a line (after a heredoc, whose range ends with its '\n').
    bool at_line_start = begin == 0 || text_[begin - 1] == '\n';
    size_t line_start = 0;
    for (size_t nl = gap.find('\n'); nl != std::string_view::npos; nl = gap.find('\n', nl + 1)) {
      std::string_view line = gap.substr(line_start, nl - line_start);
      if (at_line_start && line.find_first_not_of(" \t\r\f\v") == std::string_view::npos) {
        return true;
      }
      at_line_start = true;
      line_start = nl + 1;
    }
    return false;
  }
  // Whether the text between two offsets holds a line break.
  bool GapBreaks(uint32_t begin, uint32_t end) const {
    return Slice(begin, end).find('\n') != std::string_view::npos;
  }
  // Offset of the bracket `ch` that opens a construct at or after `from`.
  uint32_t FindOpen(uint32_t from, char ch) const;
  // Offset of the bracket `ch` that closes a construct ending at `end`.
  uint32_t FindClose(uint32_t end, char ch) const;
  // Parentheses the user wrote around `e` beyond those of the context.
  int UserParens(const ast::Expr& e, int context_before, int context_after) const;

  // ---- comments
  std::string CommentText(const ast::Comment& c) const { return TrimLineEnds(c.text); }
  // Renders, inline, the comments that start before `offset`: block
  // comments stay on the line, a line comment ends it (continuation lines
  // are indented one level deeper than `indent`).
  std::string InlineComments(uint32_t offset, int indent);
  // Like InlineComments, for comments just before a closing bracket:
  // each is preceded by a space.
  std::string CommentsBeforeClose(uint32_t offset, int indent);
  // Drops (they are printed verbatim) the comments inside [.., end).
  void SkipCommentsInside(uint32_t end);
  // Moves the comments before `offset` into `layout`, as own-line entries
  // or as trailing comments of the previous element.
  void TakeComments(Layout& layout, uint32_t offset);
  void AddItem(Layout& layout, uint32_t start, const SourceRange& range, Entry entry);
  // Lines of a multi-line construct at `indent`, each ending in '\n'.
  static std::string Assemble(const std::vector<Entry>& entries, int indent, bool top_level);

  // ---- expressions
  std::string Expr(const ast::Expr& e, int indent);
  // A sub-expression, parenthesized when the precedence or the user asks.
  std::string Sub(const ast::Expr& e, int indent, bool needs_parens, int context_before = 0,
                  int context_after = 0);
  std::string Template(const ast::TemplateExpr& t, int indent);
  std::string List(const ast::ListExpr& l, int indent);
  std::string Call(const ast::CallExpr& c, int indent);
  std::string Object(const ast::ObjectExpr& o, int indent);
  std::string For(const ast::ForExpr& f, int indent);
  std::string KeyText(const ast::ObjectItem& item) const;
  // `key = value` / `key: value` / `key { ... }` on one line.
  std::string InlineItem(const ast::ObjectItem& item, int indent);
  // Items of a bracketed sequence with one item per line.
  template <class Item, class StartFn, class RenderFn>
  std::string MultiLine(const std::vector<Item>& items, uint32_t open, uint32_t close, char open_ch,
                        char close_ch, int indent, StartFn start_of, RenderFn render);

  // ---- types and declarations
  std::string Type(const ast::TypeExpr& t, int indent);
  std::string RecordField(const ast::RecordField& f, int indent);
  std::string Decl(const ast::Decl& d);
  std::string ForClause(const ast::ForClause& f);

  const SourceManager& sm_;
  const ast::File& file_;
  std::string_view text_;
  size_t next_comment_ = 0;
  std::map<uint32_t, uint32_t> comment_end_by_begin_;
  std::map<uint32_t, uint32_t> comment_begin_by_end_;
};

uint32_t Formatter::SkipTrivia(uint32_t p) const {
  while (p < Size()) {
    if (IsSpace(text_[p])) {
      ++p;
      continue;
    }
    auto it = comment_end_by_begin_.find(p);
    if (it == comment_end_by_begin_.end() || it->second <= p) break;
    p = it->second;
  }
  return p;
}

uint32_t Formatter::SkipTriviaBack(uint32_t p) const {
  while (p > 0) {
    if (IsSpace(text_[p - 1])) {
      --p;
      continue;
    }
    auto it = comment_begin_by_end_.find(p);
    if (it == comment_begin_by_end_.end() || it->second >= p) break;
    p = it->second;
  }
  return p;
}

uint32_t Formatter::FindOpen(uint32_t from, char ch) const {
  uint32_t p = SkipTrivia(from);
  if (p < Size() && text_[p] == ch) return p;
  // Not where expected: search forward (never past the end).
  size_t found = text_.find(ch, from);
  return found == std::string_view::npos ? from : static_cast<uint32_t>(found);
}

uint32_t Formatter::FindClose(uint32_t end, char ch) const {
  end = std::min(end, Size());
  if (end > 0 && text_[end - 1] == ch) return end - 1;
  uint32_t p = SkipTriviaBack(end);
  if (p > 0 && text_[p - 1] == ch) return p - 1;
  return end;
}

int Formatter::UserParens(const ast::Expr& e, int context_before, int context_after) const {
  int before = 0;
  uint32_t p = e.range.begin.offset;
  for (;;) {
    p = SkipTriviaBack(p);
    if (p == 0 || text_[p - 1] != '(') break;
    ++before;
    --p;
  }
  int after = 0;
  uint32_t q = e.range.end.offset;
  for (;;) {
    q = SkipTrivia(q);
    if (q >= Size() || text_[q] != ')') break;
    ++after;
    ++q;
  }
  return std::max(0, std::min(before - context_before, after - context_after));
}

std::string Formatter::InlineComments(uint32_t offset, int indent) {
  std::string out;
  while (next_comment_ < file_.comments.size() &&
         file_.comments[next_comment_].range.begin.offset < offset) {
    const ast::Comment& c = file_.comments[next_comment_++];
    out += CommentText(c);
    out += IsLineComment(c) ? "\n" + Indent(indent + 1) : " ";
  }
  return out;
}

std::string Formatter::CommentsBeforeClose(uint32_t offset, int indent) {
  std::string out;
  while (next_comment_ < file_.comments.size() &&
         file_.comments[next_comment_].range.begin.offset < offset) {
    const ast::Comment& c = file_.comments[next_comment_++];
    out += " " + CommentText(c);
    if (IsLineComment(c)) out += "\n" + Indent(indent);
  }
  return out;
}

void Formatter::SkipCommentsInside(uint32_t end) {
  while (next_comment_ < file_.comments.size() &&
         file_.comments[next_comment_].range.begin.offset < end) {
    ++next_comment_;
  }
}

void Formatter::TakeComments(Layout& layout, uint32_t offset) {
  while (next_comment_ < file_.comments.size() &&
         file_.comments[next_comment_].range.begin.offset < offset) {
    const ast::Comment& c = file_.comments[next_comment_++];
    std::string text = CommentText(c);
    if (c.range.begin.line == layout.last_line && layout.last_line != 0) {
      std::string& trailing =
          layout.entries.empty() ? layout.opener_trailing : layout.entries.back().trailing;
      if (!trailing.empty()) trailing += " ";
      trailing += text;
    } else {
      Entry e;
      e.is_comment = true;
      e.blank_before = GapHasBlankLine(layout.last_offset, c.range.begin.offset);
      e.text = std::move(text);
      layout.entries.push_back(std::move(e));
    }
    layout.last_line = EndLine(c.range);
    layout.last_offset = std::max(layout.last_offset, c.range.end.offset);
  }
}

void Formatter::AddItem(Layout& layout, uint32_t start, const SourceRange& range, Entry entry) {
  entry.blank_before = GapHasBlankLine(layout.last_offset, start);
  layout.entries.push_back(std::move(entry));
  layout.last_line = std::max(LineOf(start), EndLine(range));
  layout.last_offset = std::max(start, range.end.offset);
}

std::string Formatter::Assemble(const std::vector<Entry>& entries, int indent, bool top_level) {
  size_t n = entries.size();
  std::vector<std::string> lines(n);
  // Whether a blank line precedes each entry in the output; a blank line
  // ends alignment runs.
  std::vector<bool> blank(n, false);
  for (size_t i = 1; i < n; ++i) {
    blank[i] = entries[i].blank_before || (top_level && !entries[i - 1].is_comment);
  }
  // `=` alignment over runs of single-line attributes.
  for (size_t i = 0; i < n;) {
    if (!entries[i].alignable) {
      lines[i] = entries[i].text;
      ++i;
      continue;
    }
    size_t j = i + 1;
    while (j < n && entries[j].alignable && !blank[j]) ++j;
    size_t width = 0;
    for (size_t k = i; k < j; ++k) width = std::max(width, DisplayWidth(entries[k].key));
    for (size_t k = i; k < j; ++k) {
      lines[k] = entries[k].key + std::string(width - DisplayWidth(entries[k].key), ' ') + " = " +
                 entries[k].text;
    }
    i = j;
  }
  // Trailing comments of consecutive single-line items start in one column.
  for (size_t i = 0; i < n;) {
    auto chained = [&](size_t k) {
      return !entries[k].is_comment && !entries[k].trailing.empty() && !HasNewline(lines[k]);
    };
    if (entries[i].trailing.empty()) {
      ++i;
      continue;
    }
    if (!chained(i)) {
      lines[i] += " " + entries[i].trailing;
      ++i;
      continue;
    }
    size_t j = i + 1;
    while (j < n && chained(j) && !blank[j]) ++j;
    size_t width = 0;
    for (size_t k = i; k < j; ++k) width = std::max(width, DisplayWidth(lines[k]));
    for (size_t k = i; k < j; ++k) {
      lines[k] += std::string(width - DisplayWidth(lines[k]) + 1, ' ') + entries[k].trailing;
    }
    i = j;
  }
  std::string out;
  for (size_t i = 0; i < n; ++i) {
    if (blank[i]) out += "\n";
    out += Indent(indent) + lines[i] + "\n";
  }
  return out;
}

// ---------------------------------------------------------------- expressions

std::string Formatter::Sub(const ast::Expr& e, int indent, bool needs_parens, int context_before,
                           int context_after) {
  int parens = std::max(UserParens(e, context_before, context_after), needs_parens ? 1 : 0);
  std::string inner = Expr(e, indent);
  if (parens == 0) return inner;
  return std::string(parens, '(') + inner + std::string(parens, ')');
}

std::string Formatter::Expr(const ast::Expr& e, int indent) {
  using ast::ExprKind;
  std::string out = InlineComments(e.range.begin.offset, indent);
  switch (e.kind) {
    case ExprKind::kNull:
      out += "null";
      break;
    case ExprKind::kBool:
      out += static_cast<const ast::BoolExpr&>(e).value ? "true" : "false";
      break;
    case ExprKind::kInt:
    case ExprKind::kFloat:
    case ExprKind::kQuantity:
      // As written: `1_000_000`, `1e-4`, `1.5h` keep their spelling.
      out += std::string(Slice(e.range));
      SkipCommentsInside(e.range.end.offset);
      break;
    case ExprKind::kTemplate:
      out += Template(static_cast<const ast::TemplateExpr&>(e), indent);
      break;
    case ExprKind::kName:
      out += static_cast<const ast::NameExpr&>(e).name;
      break;
    case ExprKind::kGetAttr: {
      const auto& g = static_cast<const ast::GetAttrExpr&>(e);
      out += Sub(*g.object, indent, Prec(*g.object) < kPrimaryPrec) + "." + g.name;
      break;
    }
    case ExprKind::kIndex: {
      const auto& x = static_cast<const ast::IndexExpr&>(e);
      out += Sub(*x.object, indent, Prec(*x.object) < kPrimaryPrec);
      out += "[" + Sub(*x.index, indent, false);
      out += CommentsBeforeClose(FindClose(e.range.end.offset, ']'), indent) + "]";
      break;
    }
    case ExprKind::kCall:
      out += Call(static_cast<const ast::CallExpr&>(e), indent);
      break;
    case ExprKind::kUnary: {
      const auto& u = static_cast<const ast::UnaryExpr&>(e);
      if (u.op == ast::UnaryOp::kOpenRange) {
        // `8..`: postfix, at the precedence of `..`.
        out += Sub(*u.operand, indent, Prec(*u.operand) < BinaryPrec(ast::BinaryOp::kRange)) + "..";
        break;
      }
      out += u.op == ast::UnaryOp::kNot ? "!" : "-";
      out += Sub(*u.operand, indent, Prec(*u.operand) < kUnaryPrec);
      break;
    }
    case ExprKind::kBinary: {
      const auto& b = static_cast<const ast::BinaryExpr&>(e);
      int prec = BinaryPrec(b.op);
      out += Sub(*b.lhs, indent, Prec(*b.lhs) < prec);
      // Ranges are written tight, as in the language reference: `1..4`.
      out += b.op == ast::BinaryOp::kRange ? std::string("..")
                                           : std::string(" ") + ast::BinaryOpText(b.op) + " ";
      out += Sub(*b.rhs, indent, Prec(*b.rhs) <= prec);
      break;
    }
    case ExprKind::kConditional: {
      const auto& c = static_cast<const ast::ConditionalExpr&>(e);
      out += Sub(*c.cond, indent, Prec(*c.cond) <= kCondPrec);
      out += " ? " + Sub(*c.then_expr, indent, false);
      out += " : " + Sub(*c.else_expr, indent, false);
      break;
    }
    case ExprKind::kList:
      out += List(static_cast<const ast::ListExpr&>(e), indent);
      break;
    case ExprKind::kObject:
      out += Object(static_cast<const ast::ObjectExpr&>(e), indent);
      break;
    case ExprKind::kFor:
      out += For(static_cast<const ast::ForExpr&>(e), indent);
      break;
  }
  return out;
}

std::string Formatter::Template(const ast::TemplateExpr& t, int indent) {
  // Strings and heredocs are copied as written; comments inside their
  // interpolations go with them.
  std::string text(Slice(t.range));
  SkipCommentsInside(t.range.end.offset);
  if (!t.heredoc) return text;
  // Line ends become '\n' (the lexer reads "\r\n" as one line end, so the
  // value is unchanged) and blanks after the opening marker go.
  std::string normalized;
  for (size_t i = 0; i < text.size(); ++i) {
    if (text[i] == '\r' && i + 1 < text.size() && text[i + 1] == '\n') continue;
    normalized.push_back(text[i]);
  }
  text = std::move(normalized);
  if (size_t nl = text.find('\n'); nl != std::string::npos) {
    size_t end = nl;
    while (end > 0 && (text[end - 1] == ' ' || text[end - 1] == '\t')) --end;
    text.erase(end, nl - end);
  }
  while (!text.empty() && (text.back() == '\n' || text.back() == '\r')) text.pop_back();
  text.push_back(kAfterHeredoc);
  text.push_back(static_cast<char>('0' + std::clamp(indent, 0, 60)));
  return text;
}

template <class Item, class StartFn, class RenderFn>
std::string Formatter::MultiLine(const std::vector<Item>& items, uint32_t open, uint32_t close,
                                 char open_ch, char close_ch, int indent, StartFn start_of,
                                 RenderFn render) {
  Layout layout;
  layout.last_line = LineOf(open);
  layout.last_offset = open + 1;
  for (const Item& item : items) {
    SourceRange range;
    uint32_t start = start_of(item, &range);
    TakeComments(layout, start);
    Entry entry = render(item);
    AddItem(layout, start, range, std::move(entry));
  }
  TakeComments(layout, close);
  std::string out(1, open_ch);
  if (!layout.opener_trailing.empty()) out += " " + layout.opener_trailing;
  out += "\n" + Assemble(layout.entries, indent + 1, false) + Indent(indent) + close_ch;
  return out;
}

std::string Formatter::List(const ast::ListExpr& l, int indent) {
  uint32_t open = FindOpen(l.range.begin.offset, '[');
  uint32_t close = FindClose(l.range.end.offset, ']');
  bool multi = false;
  uint32_t prev = open + 1;
  for (const auto& item : l.items) {
    multi = multi || GapBreaks(prev, item->range.begin.offset);
    prev = item->range.end.offset;
  }
  multi = multi || GapBreaks(prev, close);
  if (!multi) {
    std::string out = "[";
    for (size_t i = 0; i < l.items.size(); ++i) {
      if (i > 0) out += ", ";
      out += Sub(*l.items[i], indent, false);
    }
    std::string tail = CommentsBeforeClose(close, indent);
    if (l.items.empty() && !tail.empty()) tail.erase(0, 1);
    return out + tail + "]";
  }
  return MultiLine(
      l.items, open, close, '[', ']', indent,
      [](const ast::ExprPtr& item, SourceRange* range) {
        *range = item->range;
        return item->range.begin.offset;
      },
      [&](const ast::ExprPtr& item) {
        Entry entry;
        entry.text = Sub(*item, indent + 1, false);
        // A heredoc's closing marker must end its line; the comma is optional there.
        if (!EndsWithHeredoc(entry.text)) entry.text += ",";
        return entry;
      });
}

std::string Formatter::Call(const ast::CallExpr& c, int indent) {
  uint32_t open = FindOpen(c.callee_range.end.offset, '(');
  uint32_t close = FindClose(c.range.end.offset, ')');
  bool multi = false;
  uint32_t prev = open + 1;
  for (const auto& arg : c.args) {
    multi = multi || GapBreaks(prev, arg->range.begin.offset);
    prev = arg->range.end.offset;
  }
  multi = multi || GapBreaks(prev, close);
  size_t n = c.args.size();
  auto arg_text = [&](size_t i, int arg_indent) {
    return Sub(*c.args[i], arg_indent, false, i == 0 ? 1 : 0, i + 1 == n ? 1 : 0);
  };
  if (!multi || n == 0) {
    std::string out = c.callee + "(";
    for (size_t i = 0; i < n; ++i) {
      if (i > 0) out += ", ";
      out += arg_text(i, indent);
    }
    std::string tail = CommentsBeforeClose(close, indent);
    if (n == 0 && !tail.empty()) tail.erase(0, 1);
    return out + tail + ")";
  }
  std::vector<size_t> indices(n);
  for (size_t i = 0; i < n; ++i) indices[i] = i;
  return c.callee + MultiLine(
                        indices, open, close, '(', ')', indent,
                        [&](size_t i, SourceRange* range) {
                          *range = c.args[i]->range;
                          return c.args[i]->range.begin.offset;
                        },
                        [&](size_t i) {
                          Entry entry;
                          entry.text = arg_text(i, indent + 1);
                          // Arguments need their commas (unlike list items);
                          // after a heredoc it goes on the next line.
                          if (!EndsWithHeredoc(entry.text) || i + 1 < n) entry.text += ",";
                          return entry;
                        });
}

std::string Formatter::KeyText(const ast::ObjectItem& item) const {
  if (!item.quoted_key) return item.key;
  std::string_view written = Slice(item.key_range);
  if (written.size() >= 2 && written.front() == '"' && written.back() == '"') {
    return std::string(written);
  }
  std::string out = "\"";
  for (char ch : item.key) {
    if (ch == '"' || ch == '\\') out.push_back('\\');
    out.push_back(ch);
  }
  return out + "\"";
}

std::string Formatter::InlineItem(const ast::ObjectItem& item, int indent) {
  std::string out = InlineComments(item.range.begin.offset, indent) + KeyText(item);
  if (item.is_block && item.value && item.value->kind == ast::ExprKind::kObject) {
    return out + " " + Expr(*item.value, indent);
  }
  out += item.colon ? ": " : " = ";
  return out + Sub(*item.value, indent, false);
}

std::string Formatter::Object(const ast::ObjectExpr& o, int indent) {
  uint32_t open = FindOpen(o.range.begin.offset, '{');
  uint32_t close = FindClose(o.range.end.offset, '}');
  bool multi = false;
  uint32_t prev = open + 1;
  for (const auto& item : o.items) {
    multi = multi || GapBreaks(prev, item.range.begin.offset);
    prev = item.range.end.offset;
  }
  multi = multi || GapBreaks(prev, close);
  if (!multi) {
    if (o.items.empty()) {
      std::string tail = CommentsBeforeClose(close, indent);
      return tail.empty() ? "{}" : "{" + tail + " }";
    }
    std::string out = "{ ";
    for (size_t i = 0; i < o.items.size(); ++i) {
      if (i > 0) out += ", ";
      out += InlineItem(o.items[i], indent);
    }
    out += CommentsBeforeClose(close, indent);
    return out + (EndsWithHeredoc(out) ? "}" : " }");
  }
  return MultiLine(
      o.items, open, close, '{', '}', indent,
      [this](const ast::ObjectItem& item, SourceRange* range) {
        *range = item.range;
        return SkipTrivia(item.range.begin.offset);
      },
      [&](const ast::ObjectItem& item) {
        Entry entry;
        std::string key = KeyText(item);
        if (item.is_block && item.value && item.value->kind == ast::ExprKind::kObject) {
          entry.text = key + " " + Expr(*item.value, indent + 1);
          return entry;
        }
        std::string value = Sub(*item.value, indent + 1, false);
        if (item.colon) {
          entry.text = key + ": " + value;
        } else if (HasNewline(value)) {
          entry.text = key + " = " + value;
        } else {
          entry.alignable = true;
          entry.key = key;
          entry.text = value;
        }
        return entry;
      });
}

std::string Formatter::For(const ast::ForExpr& f, int indent) {
  char open = f.is_map ? '{' : '[';
  char close_ch = f.is_map ? '}' : ']';
  uint32_t close = FindClose(f.range.end.offset, close_ch);
  // A `for` written over several lines stays on several lines:
  //   [
  //     for x in xs:
  //     f(x)
  //   ]
  // (the head on its own line when it was, the result on its own line when
  // it was, the closing bracket on its own line).
  uint32_t head = (f.key_var.empty() ? f.value_var_range : f.key_var_range).begin.offset;
  const ast::Expr* result = f.is_map && f.key ? f.key.get() : f.value.get();
  uint32_t before_result = (f.cond ? f.cond : f.collection)->range.end.offset;
  bool head_break = GapBreaks(f.range.begin.offset + 1, head);
  bool result_break = GapBreaks(before_result, result->range.begin.offset);
  bool multi = head_break || result_break || GapBreaks(f.value->range.end.offset, close);
  int inner = multi ? indent + 1 : indent;
  std::string out(1, open);
  if (head_break) out += "\n" + Indent(inner);
  out += "for ";
  if (!f.key_var.empty()) out += f.key_var + ", ";
  out += f.value_var + " in " + Sub(*f.collection, inner, false);
  if (f.cond) out += " if " + Sub(*f.cond, inner, false);
  out += result_break ? ":\n" + Indent(inner) : ": ";
  if (f.is_map && f.key) out += Sub(*f.key, inner, false) + " => ";
  out += Sub(*f.value, inner, false);
  out += CommentsBeforeClose(close, indent);
  if (multi) out += "\n" + Indent(indent);
  return out + close_ch;
}

// ---------------------------------------------------------------- types

std::string Formatter::RecordField(const ast::RecordField& f, int indent) {
  std::string out = InlineComments(f.range.begin.offset, indent) + f.name;
  if (f.optional) out += "?";
  out += ":";
  if (f.type) out += " " + Type(*f.type, indent);
  for (const auto& m : f.modifiers) out += " " + m;
  if (f.default_value) out += " = " + Sub(*f.default_value, indent, false);
  return out;
}

std::string Formatter::Type(const ast::TypeExpr& t, int indent) {
  std::string out = InlineComments(t.range.begin.offset, indent);
  switch (t.kind) {
    case ast::TypeKind::kName:
      return out + t.name;
    case ast::TypeKind::kLiteral:
      SkipCommentsInside(t.range.end.offset);
      return out + std::string(Slice(t.range));
    case ast::TypeKind::kList:
    case ast::TypeKind::kMap:
    case ast::TypeKind::kRange:
      out += t.kind == ast::TypeKind::kList ? "list<" : t.kind == ast::TypeKind::kMap ? "map<" : "range<";
      if (t.element) out += Type(*t.element, indent);
      return out + CommentsBeforeClose(FindClose(t.range.end.offset, '>'), indent) + ">";
    case ast::TypeKind::kOptional: {
      if (!t.element) return out + "?";
      bool parens = t.element->kind == ast::TypeKind::kUnion;
      std::string inner = Type(*t.element, indent);
      return out + (parens ? "(" + inner + ")" : inner) + "?";
    }
    case ast::TypeKind::kUnion:
      for (size_t i = 0; i < t.alternatives.size(); ++i) {
        if (i > 0) out += " | ";
        const ast::TypeExpr& alt = *t.alternatives[i];
        std::string inner = Type(alt, indent);
        out += alt.kind == ast::TypeKind::kUnion ? "(" + inner + ")" : inner;
      }
      return out;
    case ast::TypeKind::kRecord: {
      uint32_t open = FindOpen(t.range.begin.offset, '{');
      uint32_t close = FindClose(t.range.end.offset, '}');
      bool multi = false;
      uint32_t prev = open + 1;
      for (const auto& f : t.fields) {
        multi = multi || GapBreaks(prev, f.range.begin.offset);
        prev = f.range.end.offset;
      }
      multi = multi || GapBreaks(prev, close);
      if (!multi) {
        if (t.fields.empty()) {
          std::string tail = CommentsBeforeClose(close, indent);
          return out + (tail.empty() ? "{}" : "{" + tail + " }");
        }
        out += "{ ";
        for (size_t i = 0; i < t.fields.size(); ++i) {
          if (i > 0) out += ", ";
          out += RecordField(t.fields[i], indent);
        }
        out += CommentsBeforeClose(close, indent);
        return out + (EndsWithHeredoc(out) ? "}" : " }");
      }
      return out + MultiLine(
                       t.fields, open, close, '{', '}', indent,
                       [this](const ast::RecordField& f, SourceRange* range) {
                         *range = f.range;
                         return SkipTrivia(f.range.begin.offset);
                       },
                       [&](const ast::RecordField& f) {
                         Entry entry;
                         entry.text = RecordField(f, indent + 1);
                         return entry;
                       });
    }
  }
  return out;
}

// ---------------------------------------------------------------- declarations

std::string Formatter::ForClause(const ast::ForClause& f) {
  std::string out = " for ";
  if (!f.key_var.empty()) out += f.key_var + ", ";
  return out + f.value_var + " in " + Sub(*f.collection, 0, false);
}

std::string Formatter::Decl(const ast::Decl& d) {
  switch (d.kind) {
    case ast::DeclKind::kInput: {
      const auto& x = static_cast<const ast::InputDecl&>(d);
      std::string out = "input " + x.name;
      if (x.type) out += ": " + Type(*x.type, 0);
      // `sensitive` before the default, as outputs and record fields have it.
      if (x.sensitive) out += " sensitive";
      if (x.default_value) out += " = " + Sub(*x.default_value, 0, false);
      return out;
    }
    case ast::DeclKind::kLet: {
      const auto& x = static_cast<const ast::LetDecl&>(d);
      std::string out = "let " + x.name;
      if (x.type) out += ": " + Type(*x.type, 0);
      return out + " = " + Sub(*x.value, 0, false);
    }
    case ast::DeclKind::kOutput: {
      const auto& x = static_cast<const ast::OutputDecl&>(d);
      std::string out = "output " + x.name;
      if (x.type) out += ": " + Type(*x.type, 0);
      if (x.sensitive) out += " sensitive";
      return out + " = " + Sub(*x.value, 0, false);
    }
    case ast::DeclKind::kAssert: {
      const auto& x = static_cast<const ast::AssertDecl&>(d);
      std::string out = "assert " + Sub(*x.cond, 0, false);
      if (x.message) out += ", " + Sub(*x.message, 0, false);
      return out;
    }
    case ast::DeclKind::kType: {
      const auto& x = static_cast<const ast::TypeDecl&>(d);
      return "type " + x.name + " = " + (x.type ? Type(*x.type, 0) : std::string());
    }
    case ast::DeclKind::kProvider: {
      const auto& x = static_cast<const ast::ProviderDecl&>(d);
      return "provider " + x.type_name + " " + x.name + " " + Object(*x.body, 0);
    }
    case ast::DeclKind::kModule: {
      const auto& x = static_cast<const ast::ModuleDecl&>(d);
      std::string out = "module " + x.name;
      if (x.for_clause) out += ForClause(*x.for_clause);
      if (x.if_cond) out += " if " + Sub(*x.if_cond, 0, false);
      return out + " " + Object(*x.body, 0);
    }
    case ast::DeclKind::kBackend: {
      const auto& x = static_cast<const ast::BackendDecl&>(d);
      return "backend " + x.type_name + " " + Object(*x.body, 0);
    }
    case ast::DeclKind::kResource: {
      const auto& x = static_cast<const ast::ResourceDecl&>(d);
      std::string out = x.FullKind() + " " + x.name;
      if (x.for_clause) out += ForClause(*x.for_clause);
      if (x.if_cond) out += " if " + Sub(*x.if_cond, 0, false);
      return out + " " + Object(*x.body, 0);
    }
  }
  return std::string();
}

// Replaces each heredoc end mark: dropped at the end of a line, otherwise
// the rest of the line moves to the next one.
std::string ResolveHeredocMarks(const std::string& in) {
  std::string out;
  out.reserve(in.size());
  for (size_t i = 0; i < in.size(); ++i) {
    if (in[i] != kAfterHeredoc || i + 1 >= in.size()) {
      out.push_back(in[i]);
      continue;
    }
    int level = in[i + 1] - '0';
    i += 1;
    size_t j = i + 1;
    while (j < in.size() && in[j] == ' ') ++j;
    if (j >= in.size() || in[j] == '\n') {
      i = j - 1;
      continue;
    }
    out += "\n" + Indent(level);
    i = j - 1;
  }
  return out;
}

std::string Formatter::Run() {
  Layout layout;
  for (const auto& decl : file_.decls) {
    uint32_t start = SkipTrivia(decl->range.begin.offset);
    TakeComments(layout, start);
    Entry entry;
    entry.text = Decl(*decl);
    AddItem(layout, start, decl->range, std::move(entry));
  }
  TakeComments(layout, Size() + 1);
  std::string out = ResolveHeredocMarks(Assemble(layout.entries, 0, true));
  while (!out.empty() && out.back() == '\n') out.pop_back();
  if (out.empty()) return out;
  return out + "\n";
}

// ---------------------------------------------------------------- shape

class ShapeWriter {
 public:
  std::string Run(const ast::File& file) {
    for (const auto& d : file.decls) Decl(*d);
    for (const auto& c : file.comments) {
      Line(0, "comment " + std::to_string(static_cast<int>(c.kind)) + " " + Quote(TrimLineEnds(c.text)));
    }
    return std::move(out_);
  }

 private:
  static std::string Quote(const std::string& s) {
    std::string out = "\"";
    for (char c : s) {
      if (c == '\n') out += "\\n";
      else if (c == '"' || c == '\\') out += std::string("\\") + c;
      else out.push_back(c);
    }
    return out + "\"";
  }
  static std::string Number(double v) {
    char buf[64];
    snprintf(buf, sizeof buf, "%.17g", v);
    return buf;
  }
  void Line(int depth, const std::string& s) { out_ += std::string(depth * 2, ' ') + s + "\n"; }

  void Expr(const ast::Expr* e, int depth, const std::string& role) {
    std::string p = role.empty() ? "" : role + ": ";
    if (!e) {
      Line(depth, p + "(none)");
      return;
    }
    using ast::ExprKind;
    switch (e->kind) {
      case ExprKind::kNull: Line(depth, p + "null"); return;
      case ExprKind::kBool:
        Line(depth, p + (static_cast<const ast::BoolExpr*>(e)->value ? "true" : "false"));
        return;
      case ExprKind::kInt:
        Line(depth, p + "int " + std::to_string(static_cast<const ast::IntExpr*>(e)->value));
        return;
      case ExprKind::kFloat:
        Line(depth, p + "float " + Number(static_cast<const ast::FloatExpr*>(e)->value));
        return;
      case ExprKind::kQuantity: {
        const auto* q = static_cast<const ast::QuantityExpr*>(e);
        Line(depth, p + "quantity " + Number(q->value) + " " + std::to_string(q->int_value) + " " +
                        (q->is_integer ? "int " : "frac ") + ast::UnitName(q->unit));
        return;
      }
      case ExprKind::kTemplate: {
        const auto* t = static_cast<const ast::TemplateExpr*>(e);
        Line(depth, p + "template" + (t->heredoc ? " heredoc " + t->heredoc_marker : "") +
                        (t->strip_indent ? " strip" : ""));
        for (const auto& part : t->parts) {
          if (part.expr) Expr(part.expr.get(), depth + 1, "interp");
          else Line(depth + 1, "text " + Quote(part.text));
        }
        return;
      }
      case ExprKind::kName:
        Line(depth, p + "name " + static_cast<const ast::NameExpr*>(e)->name);
        return;
      case ExprKind::kGetAttr: {
        const auto* g = static_cast<const ast::GetAttrExpr*>(e);
        Line(depth, p + "getattr " + g->name);
        Expr(g->object.get(), depth + 1, "");
        return;
      }
      case ExprKind::kIndex: {
        const auto* x = static_cast<const ast::IndexExpr*>(e);
        Line(depth, p + "index");
        Expr(x->object.get(), depth + 1, "");
        Expr(x->index.get(), depth + 1, "");
        return;
      }
      case ExprKind::kCall: {
        const auto* c = static_cast<const ast::CallExpr*>(e);
        Line(depth, p + "call " + c->callee);
        for (const auto& a : c->args) Expr(a.get(), depth + 1, "");
        return;
      }
      case ExprKind::kUnary: {
        const auto* u = static_cast<const ast::UnaryExpr*>(e);
        Line(depth, p + (u->op == ast::UnaryOp::kNot ? "not" : u->op == ast::UnaryOp::kNeg ? "neg" : "open-range"));
        Expr(u->operand.get(), depth + 1, "");
        return;
      }
      case ExprKind::kBinary: {
        const auto* b = static_cast<const ast::BinaryExpr*>(e);
        Line(depth, p + "binary " + ast::BinaryOpText(b->op));
        Expr(b->lhs.get(), depth + 1, "");
        Expr(b->rhs.get(), depth + 1, "");
        return;
      }
      case ExprKind::kConditional: {
        const auto* c = static_cast<const ast::ConditionalExpr*>(e);
        Line(depth, p + "conditional");
        Expr(c->cond.get(), depth + 1, "");
        Expr(c->then_expr.get(), depth + 1, "");
        Expr(c->else_expr.get(), depth + 1, "");
        return;
      }
      case ExprKind::kList: {
        const auto* l = static_cast<const ast::ListExpr*>(e);
        Line(depth, p + "list");
        for (const auto& item : l->items) Expr(item.get(), depth + 1, "");
        return;
      }
      case ExprKind::kObject:
        Line(depth, p + "object");
        Object(static_cast<const ast::ObjectExpr*>(e), depth + 1);
        return;
      case ExprKind::kFor: {
        const auto* f = static_cast<const ast::ForExpr*>(e);
        Line(depth, p + (f->is_map ? "for-map " : "for-list ") + f->key_var + "," + f->value_var);
        Expr(f->collection.get(), depth + 1, "in");
        if (f->cond) Expr(f->cond.get(), depth + 1, "if");
        if (f->key) Expr(f->key.get(), depth + 1, "key");
        Expr(f->value.get(), depth + 1, "value");
        return;
      }
    }
  }

  void Object(const ast::ObjectExpr* o, int depth) {
    if (!o) {
      Line(depth, "(no body)");
      return;
    }
    for (const auto& item : o->items) {
      Line(depth, std::string("item ") + Quote(item.key) + (item.quoted_key ? " quoted" : "") +
                      (item.colon ? " colon" : "") + (item.is_block ? " block" : ""));
      Expr(item.value.get(), depth + 1, "");
    }
  }

  void Type(const ast::TypeExpr* t, int depth, const std::string& role) {
    std::string p = role.empty() ? "" : role + ": ";
    if (!t) {
      Line(depth, p + "(no type)");
      return;
    }
    switch (t->kind) {
      case ast::TypeKind::kName: Line(depth, p + "type " + t->name); return;
      case ast::TypeKind::kLiteral: Line(depth, p + "literal " + Quote(t->name)); return;
      case ast::TypeKind::kList: Line(depth, p + "list"); break;
      case ast::TypeKind::kMap: Line(depth, p + "map"); break;
      case ast::TypeKind::kRange: Line(depth, p + "range"); break;
      case ast::TypeKind::kOptional: Line(depth, p + "optional"); break;
      case ast::TypeKind::kUnion: Line(depth, p + "union"); break;
      case ast::TypeKind::kRecord: Line(depth, p + "record"); break;
    }
    if (t->element) Type(t->element.get(), depth + 1, "");
    for (const auto& alt : t->alternatives) Type(alt.get(), depth + 1, "");
    for (const auto& f : t->fields) {
      std::string mods;
      for (const auto& m : f.modifiers) mods += " " + m;
      Line(depth + 1, "field " + f.name + (f.optional ? "?" : "") + mods + " doc=" + Quote(f.doc));
      Type(f.type.get(), depth + 2, "");
      if (f.default_value) Expr(f.default_value.get(), depth + 2, "default");
    }
  }

  void ForClause(const ast::ForClause* f, int depth) {
    if (!f) return;
    Line(depth, "for " + f->key_var + "," + f->value_var);
    Expr(f->collection.get(), depth + 1, "in");
  }

  void Decl(const ast::Decl& d) {
    std::string head = "decl " + std::to_string(static_cast<int>(d.kind)) + " " + d.name +
                       " doc=" + Quote(d.doc);
    switch (d.kind) {
      case ast::DeclKind::kInput: {
        const auto& x = static_cast<const ast::InputDecl&>(d);
        Line(0, head + (x.sensitive ? " sensitive" : ""));
        Type(x.type.get(), 1, "type");
        if (x.default_value) Expr(x.default_value.get(), 1, "default");
        return;
      }
      case ast::DeclKind::kLet: {
        const auto& x = static_cast<const ast::LetDecl&>(d);
        Line(0, head);
        if (x.type) Type(x.type.get(), 1, "type");
        Expr(x.value.get(), 1, "value");
        return;
      }
      case ast::DeclKind::kOutput: {
        const auto& x = static_cast<const ast::OutputDecl&>(d);
        Line(0, head + (x.sensitive ? " sensitive" : ""));
        if (x.type) Type(x.type.get(), 1, "type");
        Expr(x.value.get(), 1, "value");
        return;
      }
      case ast::DeclKind::kAssert: {
        const auto& x = static_cast<const ast::AssertDecl&>(d);
        Line(0, head);
        Expr(x.cond.get(), 1, "cond");
        Expr(x.message.get(), 1, "message");
        return;
      }
      case ast::DeclKind::kType: {
        const auto& x = static_cast<const ast::TypeDecl&>(d);
        Line(0, head);
        Type(x.type.get(), 1, "type");
        return;
      }
      case ast::DeclKind::kProvider: {
        const auto& x = static_cast<const ast::ProviderDecl&>(d);
        Line(0, head + " provider-type=" + x.type_name);
        Object(x.body.get(), 1);
        return;
      }
      case ast::DeclKind::kModule: {
        const auto& x = static_cast<const ast::ModuleDecl&>(d);
        Line(0, head);
        ForClause(x.for_clause.get(), 1);
        if (x.if_cond) Expr(x.if_cond.get(), 1, "if");
        Object(x.body.get(), 1);
        return;
      }
      case ast::DeclKind::kBackend: {
        const auto& x = static_cast<const ast::BackendDecl&>(d);
        Line(0, head + " backend-type=" + x.type_name);
        Object(x.body.get(), 1);
        return;
      }
      case ast::DeclKind::kResource: {
        const auto& x = static_cast<const ast::ResourceDecl&>(d);
        Line(0, head + " kind=" + x.FullKind());
        ForClause(x.for_clause.get(), 1);
        if (x.if_cond) Expr(x.if_cond.get(), 1, "if");
        Object(x.body.get(), 1);
        return;
      }
    }
  }

  std::string out_;
};

}  // namespace

std::string Format(const SourceManager& sm, const ast::File& file) {
  return Formatter(sm, file).Run();
}

std::string AstShape(const ast::File& file) { return ShapeWriter().Run(file); }

}  // namespace kiln
