// Value-level conversions shared by the two parsing paths (see literals.h).
#include "compiler/syntax/literals.h"

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cmath>
#include <cstdlib>
#include <limits>

namespace kiln::syntax {

std::string DocText(std::string_view comment) {
  if (comment.substr(0, 3) == "///") comment.remove_prefix(3);
  if (!comment.empty() && comment[0] == ' ') comment.remove_prefix(1);
  while (!comment.empty() && (comment.back() == '\r' || comment.back() == ' ')) {
    comment.remove_suffix(1);
  }
  return std::string(comment);
}

namespace {

struct UnitInfo {
  const char* name;
  ast::Unit unit;
};
constexpr UnitInfo kUnits[] = {
    {"ms", ast::Unit::kMs},   {"s", ast::Unit::kS},     {"m", ast::Unit::kM},
    {"h", ast::Unit::kH},     {"d", ast::Unit::kD},     {"B", ast::Unit::kB},
    {"KB", ast::Unit::kKB},   {"MB", ast::Unit::kMB},   {"GB", ast::Unit::kGB},
    {"TB", ast::Unit::kTB},   {"PB", ast::Unit::kPB},   {"KiB", ast::Unit::kKiB},
    {"MiB", ast::Unit::kMiB}, {"GiB", ast::Unit::kGiB}, {"TiB", ast::Unit::kTiB},
    {"PiB", ast::Unit::kPiB},
};

// Digits with `_` separators -> value; false on overflow.
bool ParseDigits(std::string_view digits, uint64_t* out) {
  uint64_t v = 0;
  for (char c : digits) {
    if (c == '_') continue;
    if (__builtin_mul_overflow(v, 10, &v)) return false;
    if (__builtin_add_overflow(v, static_cast<uint64_t>(c - '0'), &v)) return false;
  }
  *out = v;
  return true;
}

void AppendUtf8(std::string& out, uint32_t cp) {
  if (cp < 0x80) {
    out += static_cast<char>(cp);
  } else if (cp < 0x800) {
    out += static_cast<char>(0xC0 | (cp >> 6));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  } else if (cp < 0x10000) {
    out += static_cast<char>(0xE0 | (cp >> 12));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  } else {
    out += static_cast<char>(0xF0 | (cp >> 18));
    out += static_cast<char>(0x80 | ((cp >> 12) & 0x3F));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  }
}

bool IsIdentChar(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_';
}

}  // namespace

bool LookupUnit(std::string_view name, ast::Unit* unit) {
  for (const auto& u : kUnits) {
    if (name == u.name) {
      *unit = u.unit;
      return true;
    }
  }
  return false;
}

std::string StripUnderscores(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (char c : s) {
    if (c != '_') out += c;
  }
  return out;
}

NumberLiteral ParseNumberLiteral(std::string_view text) {
  NumberLiteral n;
  // Split into the number and a unit suffix.
  size_t i = 0;
  auto digits = [&] {
    while (i < text.size() && ((text[i] >= '0' && text[i] <= '9') || text[i] == '_')) ++i;
  };
  digits();
  if (i + 1 < text.size() && text[i] == '.' && text[i + 1] >= '0' && text[i + 1] <= '9') {
    n.is_float = true;
    ++i;
    digits();
  }
  if (i < text.size() && (text[i] == 'e' || text[i] == 'E')) {
    size_t j = i + 1;
    if (j < text.size() && (text[j] == '+' || text[j] == '-')) ++j;
    if (j < text.size() && text[j] >= '0' && text[j] <= '9') {
      n.is_float = true;
      i = j;
      while (i < text.size() && text[i] >= '0' && text[i] <= '9') ++i;
    }
  }
  n.number = text.substr(0, i);
  n.unit = text.substr(i);
  std::string_view number = n.number;
  if (number.empty() || number.find("__") != std::string_view::npos || number.back() == '_' ||
      number.find("_.") != std::string_view::npos || number.find("_e") != std::string_view::npos ||
      number.find("_E") != std::string_view::npos) {
    n.error = NumberLiteral::Error::kUnderscore;
    return n;
  }
  if (n.is_float) {
    std::string clean = StripUnderscores(number);
    errno = 0;
    n.value = std::strtod(clean.c_str(), nullptr);
    if (errno == ERANGE && std::isinf(n.value)) {
      n.error = NumberLiteral::Error::kFloatTooLarge;
      return n;
    }
  } else {
    uint64_t u = 0;
    if (!ParseDigits(number, &u) || u > static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) {
      n.error = NumberLiteral::Error::kIntTooLarge;
      return n;
    }
    n.int_value = static_cast<int64_t>(u);
    n.value = static_cast<double>(n.int_value);
  }
  if (n.unit.empty()) return n;
  if (!LookupUnit(n.unit, &n.unit_value)) {
    n.error = NumberLiteral::Error::kUnknownUnit;
    return n;
  }
  int64_t scale = ast::UnitScale(n.unit_value);
  bool too_large = n.is_float ? std::fabs(n.value * static_cast<double>(scale)) >= 9.2e18
                              : n.int_value > std::numeric_limits<int64_t>::max() / scale;
  if (too_large) n.error = NumberLiteral::Error::kQuantityTooLarge;
  return n;
}

ast::ExprPtr NumberNode(const NumberLiteral& n, const SourceRange& range) {
  if (n.unit.empty()) {
    if (n.is_float) {
      auto e = std::make_unique<ast::FloatExpr>();
      e->range = range;
      e->value = n.value;
      return e;
    }
    auto e = std::make_unique<ast::IntExpr>();
    e->range = range;
    e->value = n.int_value;
    return e;
  }
  auto e = std::make_unique<ast::QuantityExpr>();
  e->range = range;
  e->value = n.value;
  e->is_integer = !n.is_float;
  e->int_value = n.is_float ? 0 : n.int_value;
  e->unit = n.unit_value;
  return e;
}

void DecodeEscapes(std::string_view raw, std::string& out, std::vector<EscapeError>* errors) {
  out.reserve(out.size() + raw.size());
  for (size_t i = 0; i < raw.size(); ++i) {
    char c = raw[i];
    if (c != '\\') {
      out += c;
      continue;
    }
    size_t at = i;
    if (i + 1 >= raw.size()) {
      // A lone `\` at the end of a line; the unterminated string is reported.
      break;
    }
    char e = raw[++i];
    switch (e) {
      case '\\': out += '\\'; break;
      case '"': out += '"'; break;
      case 'n': out += '\n'; break;
      case 'r': out += '\r'; break;
      case 't': out += '\t'; break;
      case 'u': {
        size_t j = i + 1;
        bool ok = j < raw.size() && raw[j] == '{';
        uint32_t cp = 0;
        size_t hex = 0;
        if (ok) {
          ++j;
          while (j < raw.size() && std::isxdigit(static_cast<unsigned char>(raw[j])) && hex < 7) {
            cp = cp * 16 + static_cast<uint32_t>(std::isdigit(static_cast<unsigned char>(raw[j]))
                                                     ? raw[j] - '0'
                                                     : (std::tolower(static_cast<unsigned char>(raw[j])) - 'a' + 10));
            ++j;
            ++hex;
          }
          ok = hex >= 1 && hex <= 6 && j < raw.size() && raw[j] == '}';
        }
        if (!ok || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) {
          size_t end = ok ? j + 1 : std::min(j, raw.size());
          if (errors) {
            EscapeError err;
            err.kind = ok ? EscapeError::Kind::kInvalidScalar : EscapeError::Kind::kBadUnicode;
            err.begin = at;
            err.end = end;
            errors->push_back(std::move(err));
          }
          i = end - 1;
          break;
        }
        AppendUtf8(out, cp);
        i = j;
        break;
      }
      default: {
        size_t len = 1;
        unsigned char ec = static_cast<unsigned char>(e);
        if (ec >= 0x80) len = ec >= 0xF0 ? 4 : ec >= 0xE0 ? 3 : 2;
        if (errors) {
          EscapeError err;
          err.kind = EscapeError::Kind::kUnknown;
          err.shown = std::string(raw.substr(i - 1, std::min(len + 1, raw.size() - (i - 1))));
          err.begin = at;
          err.end = at + err.shown.size();
          errors->push_back(std::move(err));
        }
        out += e;
        break;
      }
    }
  }
}

void AppendTemplateText(std::vector<ast::TemplatePart>& parts, std::string_view text) {
  if (parts.empty() || parts.back().expr) parts.emplace_back();
  parts.back().text += text;
}

std::string_view HeredocMarker(std::string_view start, bool* strip_indent) {
  size_t pos = 2;
  *strip_indent = false;
  if (pos < start.size() && start[pos] == '-') {
    *strip_indent = true;
    ++pos;
  }
  size_t end = pos;
  while (end < start.size() && IsIdentChar(start[end])) ++end;
  return start.substr(pos, end - pos);
}

void StripHeredocIndent(std::vector<ast::TemplatePart>& parts) {
  size_t common = std::string::npos;
  bool at_line_start = true;
  for (size_t pi = 0; pi < parts.size(); ++pi) {
    const ast::TemplatePart& p = parts[pi];
    if (p.expr) {
      if (at_line_start) common = 0;
      at_line_start = false;
      continue;
    }
    const std::string& s = p.text;
    for (size_t i = 0; i < s.size();) {
      if (!at_line_start) {
        size_t nl = s.find('\n', i);
        if (nl == std::string::npos) break;
        i = nl + 1;
        at_line_start = true;
        continue;
      }
      size_t j = i;
      while (j < s.size() && (s[j] == ' ' || s[j] == '\t')) ++j;
      bool ends_here = j == s.size();
      if (ends_here) {
        // Indentation followed by an interpolation (next part) counts.
        if (pi + 1 < parts.size()) {
          common = std::min(common, j - i);
          at_line_start = false;
        }
        break;
      }
      if (s[j] != '\n') common = std::min(common, j - i);
      at_line_start = false;
      i = j;
    }
  }
  if (common == std::string::npos || common == 0) return;
  at_line_start = true;
  for (auto& p : parts) {
    if (p.expr) {
      at_line_start = false;
      continue;
    }
    std::string out;
    const std::string& s = p.text;
    for (size_t i = 0; i < s.size(); ++i) {
      if (at_line_start) {
        size_t k = 0;
        while (k < common && i < s.size() && (s[i] == ' ' || s[i] == '\t')) {
          ++i;
          ++k;
        }
        at_line_start = false;
        if (i >= s.size()) break;
      }
      out += s[i];
      if (s[i] == '\n') at_line_start = true;
    }
    p.text = std::move(out);
  }
}

}  // namespace kiln::syntax
