// Value-level conversions shared by both parsing paths (the ANTLR adapter in
// build_ast.cpp and the hand-written parser in fast_parse.cpp): number and
// unit conversion, string escapes, heredoc markers and indentation, doc
// comment text. They report problems as data; the ANTLR adapter turns them
// into diagnostics, the fast parser gives up (Parse() then re-parses the file
// with ANTLR, so every diagnostic is worded in one place).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "compiler/ast/ast.h"

namespace kiln::syntax {

// Whether `..` is an open-ended range (`8..`, OPEN_DOTDOT) rather than the
// `..` of `1..4`: it is when what follows it on the same line (after spaces
// and tabs) cannot start an expression: a newline, `,`, `}`, `]`, `)`, a
// comment, the end of the file. `c` is that first character (a code point,
// or a negative/EOF value), `next` the one after it.
inline bool OpenRangeFollows(int64_t c, int64_t next) {
  bool digit = c >= '0' && c <= '9';
  bool alpha = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || c == '_';
  bool starts = digit || alpha || c == '"' || c == '(' || c == '[' || c == '{' || c == '-' || c == '!' ||
                (c == '<' && next == '<');
  return !starts;
}

// The text of a doc comment token without `///` and one following space.
std::string DocText(std::string_view comment);

// A unit suffix (`ms`, `GiB`, ...); false when unknown.
bool LookupUnit(std::string_view name, ast::Unit* unit);

// A number token (INT, FLOAT or QUANTITY) converted to its value.
struct NumberLiteral {
  enum class Error {
    kNone,
    kUnderscore,        // `1__0`, `1_`, `1_.5`
    kFloatTooLarge,     // 1e999
    kIntTooLarge,       // does not fit in int64
    kUnknownUnit,       // 10Gb
    kQuantityTooLarge,  // the scaled value does not fit in int64
  };
  Error error = Error::kNone;
  std::string_view number;  // the numeric part of the text
  std::string_view unit;    // the unit suffix; empty for plain numbers
  bool is_float = false;    // written with a fraction or exponent
  int64_t int_value = 0;    // when !is_float
  double value = 0;         // the number as written (also for ints)
  ast::Unit unit_value = ast::Unit::kS;  // when unit is non-empty and known
};
NumberLiteral ParseNumberLiteral(std::string_view text);

// The node for a number without error: IntExpr, FloatExpr or QuantityExpr.
ast::ExprPtr NumberNode(const NumberLiteral& n, const SourceRange& range);

// `1_000` -> `1000`.
std::string StripUnderscores(std::string_view s);

// A problem with an escape in string text; offsets are into the raw text.
struct EscapeError {
  enum class Kind { kBadUnicode, kInvalidScalar, kUnknown };
  Kind kind = Kind::kUnknown;
  size_t begin = 0;
  size_t end = 0;
  std::string shown;  // kUnknown: the escape as written
};
// Decodes the escapes of one run of string text (STR_TEXT) and appends the
// result to `out`. Problems go to `errors` (the text is still decoded as
// far as it can be).
void DecodeEscapes(std::string_view raw, std::string& out, std::vector<EscapeError>* errors);

// Appends literal text to the last literal part, or starts a new one.
void AppendTemplateText(std::vector<ast::TemplatePart>& parts, std::string_view text);

// `<<EOT` / `<<-EOT` (with trailing blanks and newline): the marker, and
// whether indentation is stripped.
std::string_view HeredocMarker(std::string_view start_token, bool* strip_indent);

// `<<-`: removes the common leading white space of the lines that have
// content; a line that starts with an interpolation has none.
void StripHeredocIndent(std::vector<ast::TemplatePart>& parts);

}  // namespace kiln::syntax
