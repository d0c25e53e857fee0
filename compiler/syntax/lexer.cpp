// The character stream and the lexer subclass (see parse_internal.h).
#include "compiler/syntax/parse_internal.h"

namespace kiln::syntax {

using kiln_antlr::KilnLexer;

SourceStream::SourceStream(std::string_view text) : antlr4::ANTLRInputStream("") {
  // ANTLR's own UTF-8 decoder throws on invalid input; decode here instead.
  bool ascii = true;
  for (unsigned char c : text) {
    if (c >= 0x80) {
      ascii = false;
      break;
    }
  }
  _data.clear();
  _data.reserve(text.size());
  if (ascii) {
    for (unsigned char c : text) _data.push_back(c);
    p = 0;
    return;
  }
  cp_to_byte_.reserve(text.size() + 1);
  size_t i = 0;
  const size_t n = text.size();
  auto byte = [&](size_t k) { return static_cast<unsigned char>(text[k]); };
  while (i < n) {
    unsigned char c = byte(i);
    cp_to_byte_.push_back(static_cast<uint32_t>(i));
    if (c < 0x80) {
      _data.push_back(c);
      ++i;
      continue;
    }
    size_t len = c >= 0xF0 && c <= 0xF4 ? 4 : c >= 0xE0 ? 3 : c >= 0xC2 && c < 0xE0 ? 2 : 0;
    char32_t cp = len == 2 ? (c & 0x1F) : len == 3 ? (c & 0x0F) : (c & 0x07);
    bool ok = len != 0 && i + len <= n;
    for (size_t k = 1; ok && k < len; ++k) {
      unsigned char cc = byte(i + k);
      if ((cc & 0xC0) != 0x80) ok = false;
      cp = (cp << 6) | (cc & 0x3F);
    }
    if (ok) {
      // Reject overlong forms, surrogates and values past U+10FFFF.
      if ((len == 3 && cp < 0x800) || (len == 4 && (cp < 0x10000 || cp > 0x10FFFF)) ||
          (cp >= 0xD800 && cp <= 0xDFFF)) {
        ok = false;
      }
    }
    if (!ok) {
      invalid_utf8_.push_back(static_cast<uint32_t>(i));
      _data.push_back(0xFFFD);
      ++i;
      continue;
    }
    _data.push_back(cp);
    i += len;
  }
  cp_to_byte_.push_back(static_cast<uint32_t>(n));
  p = 0;
}

std::unique_ptr<antlr4::Token> Lexer::MakeToken(size_t type, size_t start, size_t stop,
                                                size_t line, size_t col) {
  return _factory->create({this, _input}, type, "", antlr4::Token::DEFAULT_CHANNEL, start, stop,
                          line, col);
}

// At the start of a heredoc line: is it the end marker (optionally indented)?
// If so, consume it and return HEREDOC_END.
std::unique_ptr<antlr4::Token> Lexer::TryHeredocEnd() {
  const std::u32string& marker = heredocs_.back().marker;
  ssize_t k = 1;
  auto is_space = [](size_t c) { return c == ' ' || c == '\t'; };
  while (is_space(_input->LA(k))) ++k;
  for (char32_t m : marker) {
    if (_input->LA(k) != m) return nullptr;
    ++k;
  }
  size_t after = _input->LA(k);
  if ((after >= 'A' && after <= 'Z') || (after >= 'a' && after <= 'z') ||
      (after >= '0' && after <= '9') || after == '_') {
    return nullptr;
  }
  while (is_space(_input->LA(k))) ++k;
  size_t end = _input->LA(k);
  if (end != '\n' && end != '\r' && end != antlr4::Token::EOF) return nullptr;
  auto* sim = getInterpreter<antlr4::atn::LexerATNSimulator>();
  size_t start = _input->index();
  size_t line = sim->getLine();
  size_t col = sim->getCharPositionInLine();
  for (ssize_t i = 1; i < k; ++i) sim->consume(_input);
  auto tok = MakeToken(KilnLexer::HEREDOC_END, start, _input->index() - 1, line, col);
  popMode();
  heredocs_.pop_back();
  heredoc_line_start_ = false;
  return tok;
}

// The generated lexer costs several hundred instructions per character
// (a locked DFA edge lookup each), and every run of white space is a
// token of its own. The rules handled here are exactly those of
// KilnLexer.g4 in DEFAULT_MODE: no other rule can match a longer text
// starting with these characters, and keywords win over IDENT at equal
// length because they come first.
std::unique_ptr<antlr4::Token> Lexer::FastToken() {
  if (!sim_) sim_ = getInterpreter<antlr4::atn::LexerATNSimulator>();
  // WS : [ \t\r\n\u000C\uFEFF]+ -> skip
  for (;;) {
    size_t c = _input->LA(1);
    if (c != ' ' && c != '\t' && c != '\r' && c != '\n' && c != 0x0C && c != 0xFEFF) break;
    sim_->consume(_input);
  }
  size_t c = _input->LA(1);
  size_t start = _input->index();
  size_t line = sim_->getLine();
  size_t col = sim_->getCharPositionInLine();
  auto is_alpha = [](size_t ch) { return (ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z') || ch == '_'; };
  if (is_alpha(c)) {
    char word[10];
    size_t n = 0;
    while (is_alpha(c) || (c >= '0' && c <= '9')) {
      if (n < sizeof(word)) word[n] = static_cast<char>(c);
      ++n;
      sim_->consume(_input);
      c = _input->LA(1);
    }
    size_t type = KilnLexer::IDENT;
    if (n <= sizeof(word)) {
      static const std::pair<std::string_view, size_t> kKeywords[] = {
          {"input", KilnLexer::INPUT},       {"let", KilnLexer::LET},
          {"output", KilnLexer::OUTPUT},     {"assert", KilnLexer::ASSERT},
          {"type", KilnLexer::TYPE},         {"provider", KilnLexer::PROVIDER},
          {"module", KilnLexer::MODULE},     {"backend", KilnLexer::BACKEND},
          {"for", KilnLexer::FOR},           {"in", KilnLexer::IN},
          {"if", KilnLexer::IF},             {"true", KilnLexer::TRUE_LIT},
          {"false", KilnLexer::FALSE_LIT},   {"null", KilnLexer::NULL_LIT},
          {"sensitive", KilnLexer::SENSITIVE},
      };
      std::string_view w(word, n);
      for (const auto& [kw, t] : kKeywords) {
        if (kw == w) {
          type = t;
          break;
        }
      }
    }
    return MakeToken(type, start, _input->index() - 1, line, col);
  }
  size_t type = 0;
  switch (c) {
    case '[': type = KilnLexer::LBRACK; break;
    case ']': type = KilnLexer::RBRACK; break;
    case '(': type = KilnLexer::LPAREN; break;
    case ')': type = KilnLexer::RPAREN; break;
    case ',': type = KilnLexer::COMMA; break;
    case ':': type = KilnLexer::COLON; break;
    case '?': type = KilnLexer::QUESTION; break;
    case '+': type = KilnLexer::PLUS; break;
    case '*': type = KilnLexer::STAR; break;
    case '%': type = KilnLexer::PERCENT; break;
    case '"': type = KilnLexer::QUOTE; break;
    case '{': type = KilnLexer::LBRACE; break;
    case '}': type = KilnLexer::RBRACE; break;
    case '=': {
      size_t next = _input->LA(2);
      if (next == '=' || next == '>') return nullptr;
      type = KilnLexer::ASSIGN;
      break;
    }
    default:
      return nullptr;
  }
  sim_->consume(_input);
  auto tok = MakeToken(type, start, start, line, col);
  if (type == KilnLexer::QUOTE) pushMode(KilnLexer::STR);
  if (type == KilnLexer::LBRACE) pushMode(antlr4::Lexer::DEFAULT_MODE);
  if (type == KilnLexer::RBRACE && !modeStack.empty()) popMode();
  return tok;
}

// In STR mode: STR_END, and a STR_TEXT run of plain characters (the run
// is measured first; a backslash in it goes to the generated lexer, which
// decides between an escape and a lone `\\`).
std::unique_ptr<antlr4::Token> Lexer::FastStringToken() {
  if (!sim_) sim_ = getInterpreter<antlr4::atn::LexerATNSimulator>();
  size_t start = _input->index();
  size_t line = sim_->getLine();
  size_t col = sim_->getCharPositionInLine();
  size_t c = _input->LA(1);
  if (c == '"') {
    sim_->consume(_input);
    auto tok = MakeToken(KilnLexer::STR_END, start, start, line, col);
    popMode();
    return tok;
  }
  ssize_t k = 1;
  for (;; ++k) {
    c = _input->LA(k);
    if (c == '"' || c == '$' || c == '\r' || c == '\n' || c == antlr4::Token::EOF) break;
    if (c == '\\') return nullptr;
  }
  if (k == 1) return nullptr;
  for (ssize_t i = 1; i < k; ++i) sim_->consume(_input);
  return MakeToken(KilnLexer::STR_TEXT, start, _input->index() - 1, line, col);
}

std::unique_ptr<antlr4::Token> Lexer::nextToken() {
  if (mode == KilnLexer::HEREDOC && heredoc_line_start_ && !heredocs_.empty()) {
    if (auto tok = TryHeredocEnd()) return tok;
  }
  if ((mode == KilnLexer::STR || mode == KilnLexer::HEREDOC) &&
      _input->LA(1) == antlr4::Token::EOF) {
    // A string or heredoc still open at the end of the file: an empty
    // STR_UNTERMINATED token lets the parser finish and the adapter word it.
    auto* sim = getInterpreter<antlr4::atn::LexerATNSimulator>();
    size_t at = _input->index();
    auto tok = MakeToken(KilnLexer::STR_UNTERMINATED, at, at - 1, sim->getLine(),
                         sim->getCharPositionInLine());
    if (mode == KilnLexer::HEREDOC && !heredocs_.empty()) heredocs_.pop_back();
    popMode();
    return tok;
  }
  if (mode == antlr4::Lexer::DEFAULT_MODE || mode == KilnLexer::STR) {
    if (auto tok = mode == KilnLexer::STR ? FastStringToken() : FastToken()) {
      heredoc_line_start_ = false;
      return tok;
    }
  }
  auto tok = KilnLexer::nextToken();
  switch (tok->getType()) {
    case KilnLexer::HEREDOC_START: {
      // `<<EOT` / `<<-EOT`, then optional blanks and the newline.
      Heredoc h;
      std::string text = tok->getText();  // ASCII by construction
      bool strip = false;
      for (char c : HeredocMarker(text, &strip)) h.marker.push_back(static_cast<char32_t>(c));
      heredocs_.push_back(std::move(h));
      heredoc_line_start_ = true;
      break;
    }
    case KilnLexer::HD_NL:
      heredoc_line_start_ = true;
      break;
    case KilnLexer::DOTDOT: {
      heredoc_line_start_ = false;
      ssize_t k = 1;
      while (_input->LA(k) == ' ' || _input->LA(k) == '\t') ++k;
      auto at = [&](ssize_t i) -> int64_t {
        size_t c = _input->LA(i);
        return c == antlr4::Token::EOF ? -1 : static_cast<int64_t>(c);
      };
      if (OpenRangeFollows(at(k), at(k + 1))) {
        static_cast<antlr4::CommonToken*>(tok.get())->setType(KilnLexer::OPEN_DOTDOT);
      }
      break;
    }
    case KilnLexer::RBRACE:
      // `}` closes an interpolation (back to the string) or a block (back to
      // DEFAULT_MODE); a stray `}` at top level must not underflow the stack.
      if (!modeStack.empty()) popMode();
      heredoc_line_start_ = false;
      break;
    default:
      heredoc_line_start_ = false;
      break;
  }
  return tok;
}

}  // namespace kiln::syntax
