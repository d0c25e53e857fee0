// Parse(): drives the generated parser one declaration at a time.
//
// Each declaration is parsed first with SLL prediction and a bail-out
// strategy (fast, and enough for nearly all input). Only if that fails is the
// same declaration parsed again with full LL prediction and a strategy that
// records the first error; the error is put into words and parsing resumes at
// the next line that starts a declaration, so independent errors are all
// reported and one mistake gives one error. ANTLR exceptions end here.
#include "compiler/syntax/parse.h"

#include <algorithm>
#include <optional>

#include "compiler/syntax/literals.h"
#include "compiler/syntax/parse_internal.h"
#include "compiler/syntax/parse_paths.h"
#include "compiler/syntax/tokens.h"

namespace kiln {
namespace syntax {
namespace {

using kiln_antlr::KilnLexer;
using P = kiln_antlr::KilnParser;

// The first error of a failed LL parse.
struct SyntaxError {
  bool set = false;
  antlr4::Token* offending = nullptr;
  antlr4::misc::IntervalSet expected;
  antlr4::ParserRuleContext* ctx = nullptr;
};

// Records the first error and stops; never repairs (repairs cause cascades
// and ANTLR-worded messages).
class RecordingStrategy : public antlr4::DefaultErrorStrategy {
 public:
  SyntaxError error;

  void Record(antlr4::Parser* p, antlr4::Token* tok, const antlr4::misc::IntervalSet& expected) {
    if (error.set) return;
    error.set = true;
    error.offending = tok;
    error.expected = expected;
    error.ctx = p->getContext();
  }
  void reportError(antlr4::Parser* p, const antlr4::RecognitionException& e) override {
    antlr4::Token* tok = e.getOffendingToken() ? e.getOffendingToken() : p->getCurrentToken();
    antlr4::misc::IntervalSet expected;
    auto* nva = dynamic_cast<const antlr4::NoViableAltException*>(&e);
    if (nva && nva->getDeadEndConfigs() && tok->getTokenIndex() > p->getCurrentToken()->getTokenIndex()) {
      // Prediction looked ahead and failed at a later token: what the
      // surviving configurations could have matched there is what was
      // expected (the decision's own expected set would describe the
      // earlier token).
      const antlr4::atn::ATN& atn = p->getATN();
      for (const auto& config : nva->getDeadEndConfigs()->configs) {
        antlr4::misc::IntervalSet next = atn.nextTokens(config->state);
        next.remove(antlr4::Token::EPSILON);
        expected.addAll(next);
      }
    }
    if (expected.isEmpty()) {
      try {
        expected = p->getExpectedTokens();
      } catch (const std::exception&) {
      }
    }
    Record(p, tok, expected);
  }
  void recover(antlr4::Parser*, std::exception_ptr) override {
    throw antlr4::ParseCancellationException();
  }
  antlr4::Token* recoverInline(antlr4::Parser* p) override {
    Record(p, p->getCurrentToken(), p->getExpectedTokens());
    throw antlr4::ParseCancellationException();
  }
  void sync(antlr4::Parser* p) override {
    const antlr4::atn::ATN& atn = p->getATN();
    antlr4::atn::ATNState* s = atn.states[p->getState()];
    size_t la = p->getTokenStream()->LA(1);
    antlr4::misc::IntervalSet next = atn.nextTokens(s);
    if (next.contains(antlr4::Token::EPSILON) || next.contains(la)) return;
    switch (s->getStateType()) {
      case antlr4::atn::ATNState::BLOCK_START:
      case antlr4::atn::ATNState::STAR_BLOCK_START:
      case antlr4::atn::ATNState::PLUS_BLOCK_START:
      case antlr4::atn::ATNState::STAR_LOOP_ENTRY:
      case antlr4::atn::ATNState::PLUS_LOOP_BACK:
      case antlr4::atn::ATNState::STAR_LOOP_BACK:
        Record(p, p->getCurrentToken(), p->getExpectedTokens());
        throw antlr4::ParseCancellationException();
      default:
        return;
    }
  }
};

// Full-context prediction for every decision, without the SLL first try that
// ANTLR's LL mode makes. SLL treats the end of a decision's rule as "anything
// may follow", which can pick an alternative that fails later and so report
// an error at the wrong token (`f(1 2)` as `f` followed by a stray `(`).
// Only used to re-parse a declaration that already failed, so speed does
// not matter here.
// Installed as the parser's simulator; full_context_only switches it.
class FullContextSimulator : public antlr4::atn::ParserATNSimulator {
 public:
  FullContextSimulator(antlr4::Parser* parser, const antlr4::atn::ATN& atn,
                       std::vector<antlr4::dfa::DFA>& dfas, antlr4::atn::PredictionContextCache& cache)
      : ParserATNSimulator(parser, atn, dfas, cache), dfas_(dfas) {}

  bool full_context_only = false;

  size_t adaptivePredict(antlr4::TokenStream* input, size_t decision,
                         antlr4::ParserRuleContext* outer) override {
    if (!full_context_only) return ParserATNSimulator::adaptivePredict(input, decision, outer);
    _input = input;
    _startIndex = input->index();
    _outerContext = outer;
    antlr4::dfa::DFA& dfa = dfas_[decision];
    _dfa = &dfa;
    ssize_t marker = input->mark();
    size_t index = _startIndex;
    struct Restore {
      FullContextSimulator* self;
      antlr4::TokenStream* input;
      ssize_t marker;
      size_t index;
      ~Restore() {
        self->mergeCache.clear();
        self->_dfa = nullptr;
        input->seek(index);
        input->release(marker);
      }
    } restore{this, input, marker, index};
    std::unique_ptr<antlr4::atn::ATNConfigSet> s0 = computeStartState(dfa.atnStartState, outer, true);
    return execATNWithFullContext(dfa, nullptr, s0.get(), input, index, outer);
  }

 private:
  std::vector<antlr4::dfa::DFA>& dfas_;
};

std::string Quote(std::string_view s) {
  std::string out = "`";
  size_t n = 0;
  for (char c : s) {
    if (++n > 32) {
      out += "...";
      break;
    }
    if (c == '\n') out += "\\n";
    else if (c == '\r') out += "\\r";
    else if (c == '\t') out += "\\t";
    else out += c;
  }
  return out + "`";
}

bool IsDeclKeyword(size_t t) {
  return t == KilnLexer::INPUT || t == KilnLexer::LET || t == KilnLexer::OUTPUT ||
         t == KilnLexer::TYPE || t == KilnLexer::PROVIDER || t == KilnLexer::MODULE ||
         t == KilnLexer::BACKEND;
}

bool IsAnyName(size_t t) {
  return t == KilnLexer::IDENT || t == KilnLexer::SENSITIVE || IsDeclKeyword(t) ||
         t == KilnLexer::ASSERT || t == KilnLexer::FOR || t == KilnLexer::IN ||
         t == KilnLexer::IF || t == KilnLexer::TRUE_LIT || t == KilnLexer::FALSE_LIT ||
         t == KilnLexer::NULL_LIT;
}

// One parsing session over one buffer.
class Session {
 public:
  Session(const SourceManager& sm, uint32_t file_id, Diagnostics& diags)
      : stream_(sm.Text(file_id)),
        lexer_(&stream_),
        tokens_(&lexer_),
        parser_(&tokens_),
        diags_(diags),
        bail_(std::make_shared<antlr4::BailErrorStrategy>()),
        recording_(std::make_shared<RecordingStrategy>()) {
    // The DFA cache is shared by every parse (ANTLR guards it with locks).
    static auto* dfas = [] {
      auto* v = new std::vector<antlr4::dfa::DFA>();
      const antlr4::atn::ATN& atn = kiln_antlr::KilnParser(nullptr).getATN();
      for (size_t i = 0; i < atn.getNumberOfDecisions(); ++i) v->emplace_back(atn.getDecisionState(i), i);
      return v;
    }();
    static auto* cache = new antlr4::atn::PredictionContextCache();
    simulator_ = new FullContextSimulator(&parser_, parser_.getATN(), *dfas, *cache);
    parser_.setInterpreter(simulator_);  // the parser owns it
    view_.sm = &sm;
    view_.file_id = file_id;
    view_.text = sm.Text(file_id);
    view_.stream = &stream_;
    lexer_.removeErrorListeners();
    parser_.removeErrorListeners();
    parser_.max_nesting = kMaxNesting;
    tokens_.fill();
    ReportInvalidUtf8();
  }

  AstBuilder Builder() { return AstBuilder(view_, &tokens_, diags_); }
  P& Parser() { return parser_; }

  void ParseFile(ast::File& file) {
    if (!stream_.invalid_utf8().empty()) {
      // Not text: one error (E0013), and no guesses about its contents.
      file.unreadable = true;
      return;
    }
    AstBuilder builder = Builder();
    while (tokens_.LA(1) != antlr4::Token::EOF) {
      size_t start = tokens_.index();
      P::DeclUnitContext* unit = ParseUnit<P::DeclUnitContext>([&] { return parser_.declUnit(); });
      if (unit) {
        file.decls.push_back(builder.Decl(unit->decl()));
        // Free this declaration's parse tree before the next one.
        size_t next = unit->decl()->getStop()->getTokenIndex() + 1;
        parser_.reset();
        tokens_.seek(next);
        continue;
      }
      std::string broken = DeclName(start);
      if (!broken.empty()) file.broken_names.push_back(std::move(broken));
      size_t from = std::max(error_index_, start + 1);
      tokens_.seek(NextDeclStart(from, start, error_at_decl_start_));
    }
    file.comments = builder.Comments();
  }

  template <class Ctx, class Rule>
  Ctx* ParseWhole(Rule rule) {
    return ParseUnit<Ctx>(rule);
  }

 private:
  void SetMode(antlr4::atn::PredictionMode mode) { simulator_->setPredictionMode(mode); }

  // SLL + bail first, then LL with error recording. Returns null after
  // reporting an error; error_index_ is then the offending token's index.
  template <class Ctx, class Rule>
  Ctx* ParseUnit(Rule rule) {
    size_t start = tokens_.index();
    parser_.setErrorHandler(bail_);
    SetMode(antlr4::atn::PredictionMode::SLL);
    try {
      return rule();
    } catch (const antlr4::ParseCancellationException&) {
    } catch (const KilnNestingTooDeep&) {
    }
    parser_.reset();
    parser_.nesting = 0;
    tokens_.seek(start);
    recording_->error = SyntaxError();
    parser_.setErrorHandler(recording_);
    struct UseFullContext {
      FullContextSimulator* sim;
      explicit UseFullContext(FullContextSimulator* s) : sim(s) { sim->full_context_only = true; }
      ~UseFullContext() { sim->full_context_only = false; }
    };
    Ctx* result = nullptr;
    try {
      UseFullContext use(simulator_);
      result = rule();
    } catch (const antlr4::ParseCancellationException&) {
      ReportSyntaxError(recording_->error, start);
    } catch (const KilnNestingTooDeep&) {
      antlr4::Token* tok = parser_.getCurrentToken();
      Diagnostic& d = diags_.Error("E0014", view_.Range(tok),
                                   "brackets or operators are nested too deeply here (more than " +
                                       std::to_string(kMaxNesting) + " levels)");
      d.help = "split the value into several `let` declarations";
      error_index_ = tok->getTokenIndex();
      error_at_decl_start_ = false;
    }
    parser_.nesting = 0;
    SetMode(antlr4::atn::PredictionMode::SLL);
    parser_.setErrorHandler(bail_);
    return result;
  }

  // The previous token (any channel) ends on an earlier line.
  bool FirstOnLine(antlr4::Token* tok) {
    size_t i = tok->getTokenIndex();
    if (i == 0) return true;
    antlr4::Token* prev = tokens_.get(i - 1);
    return view_.Loc(view_.End(prev)).line < view_.Loc(view_.Begin(tok)).line;
  }

  // Visible token after `index`.
  antlr4::Token* NextVisible(size_t index) {
    for (size_t i = index + 1; i < tokens_.size(); ++i) {
      antlr4::Token* t = tokens_.get(i);
      if (t->getChannel() == antlr4::Token::DEFAULT_CHANNEL) return t;
    }
    return tokens_.get(tokens_.size() - 1);
  }

  // Does the token at `index` start something that can only be a top-level
  // declaration (`let x`, `cluster pool`, `slurm.reservation r`)?
  bool LooksLikeDeclStart(size_t index) {
    antlr4::Token* t = tokens_.get(index);
    size_t type = t->getType();
    antlr4::Token* next = NextVisible(index);
    size_t nt = next->getType();
    // A Terraform block (`variable "x" {`, `resource "a" "b" {`) at the left
    // margin starts a declaration too (reported as E0020).
    if (nt == KilnLexer::QUOTE && view_.Loc(view_.Begin(t)).column == 1) {
      std::string_view w = view_.Text(t);
      if (w == "variable" || w == "resource" || w == "data" || w == "output" || w == "provider" || w == "module") return true;
    }
    if (IsDeclKeyword(type)) return nt == KilnLexer::IDENT || nt == KilnLexer::SENSITIVE;
    if (type == KilnLexer::ASSERT) {
      return nt != KilnLexer::ASSIGN && nt != KilnLexer::COLON && nt != KilnLexer::LBRACE;
    }
    if (type != KilnLexer::IDENT) return false;
    if (nt == KilnLexer::IDENT) return true;
    // `cluster {` (a resource missing its name) at the left margin.
    if (view_.Loc(view_.Begin(t)).column == 1 &&
        (nt == KilnLexer::LBRACE || nt == KilnLexer::FOR || nt == KilnLexer::IF)) {
      return true;
    }
    if (nt == KilnLexer::DOT) {
      antlr4::Token* kind = NextVisible(next->getTokenIndex());
      if (!IsAnyName(kind->getType())) return false;
      return NextVisible(kind->getTokenIndex())->getType() == KilnLexer::IDENT;
    }
    return false;
  }

  // The name a declaration starting at token `index` declares, read from its
  // header (`let NAME`, `KIND NAME`, `TYPE.KIND NAME`); "" when unclear.
  std::string DeclName(size_t index) {
    antlr4::Token* t = tokens_.get(index);
    if (t->getChannel() != antlr4::Token::DEFAULT_CHANNEL) t = NextVisible(index);
    antlr4::Token* next = NextVisible(t->getTokenIndex());
    size_t type = t->getType();
    if (type == KilnLexer::PROVIDER) next = NextVisible(next->getTokenIndex());
    else if (IsDeclKeyword(type) || type == KilnLexer::ASSERT) {
      if (type == KilnLexer::OUTPUT || type == KilnLexer::ASSERT || type == KilnLexer::BACKEND) return "";
    } else if (type == KilnLexer::IDENT) {
      if (next->getType() == KilnLexer::DOT) {
        antlr4::Token* kind = NextVisible(next->getTokenIndex());
        next = NextVisible(kind->getTokenIndex());
      }
    } else {
      return "";
    }
    if (next->getType() != KilnLexer::IDENT && next->getType() != KilnLexer::SENSITIVE) return "";
    return std::string(view_.Text(next));
  }

  // The first line-leading declaration start at or after `from` (and after
  // `start`, so that parsing always advances); EOF if none.
  size_t NextDeclStart(size_t from, size_t start, bool) {
    for (size_t i = from; i < tokens_.size(); ++i) {
      antlr4::Token* t = tokens_.get(i);
      if (t->getType() == antlr4::Token::EOF) return i;
      if (i <= start || t->getChannel() != antlr4::Token::DEFAULT_CHANNEL) continue;
      if (FirstOnLine(t) && LooksLikeDeclStart(i)) return i;
    }
    return tokens_.size() - 1;
  }

  // The innermost bracket opened in `ctx` or its parents and not yet closed.
  struct OpenBracket {
    antlr4::Token* token = nullptr;
    size_t closer = 0;
    const char* what = "";
  };
  OpenBracket InnermostOpen(antlr4::ParserRuleContext* ctx) {
    for (antlr4::tree::ParseTree* node = ctx; node; node = node->parent) {
      auto* rule = dynamic_cast<antlr4::ParserRuleContext*>(node);
      if (!rule) continue;
      std::vector<antlr4::Token*> open;
      for (antlr4::tree::ParseTree* child : rule->children) {
        auto* term = dynamic_cast<antlr4::tree::TerminalNode*>(child);
        if (!term) continue;
        antlr4::Token* t = term->getSymbol();
        switch (t->getType()) {
          case KilnLexer::LBRACE:
          case KilnLexer::LBRACK:
          case KilnLexer::LPAREN:
          case KilnLexer::INTERP_START:
            open.push_back(t);
            break;
          case KilnLexer::RBRACE:
          case KilnLexer::RBRACK:
          case KilnLexer::RPAREN:
            if (!open.empty()) open.pop_back();
            break;
          default:
            break;
        }
      }
      if (open.empty()) continue;
      OpenBracket b;
      b.token = open.back();
      switch (b.token->getType()) {
        case KilnLexer::LBRACE:
          b.closer = KilnLexer::RBRACE;
          b.what = "the block";
          if (dynamic_cast<P::MapForExprContext*>(rule)) b.what = "the `{for ...}` expression";
          if (dynamic_cast<P::RecordTypeContext*>(rule)) b.what = "the record type";
          break;
        case KilnLexer::LBRACK:
          b.closer = KilnLexer::RBRACK;
          b.what = "the list";
          break;
        case KilnLexer::LPAREN:
          b.closer = KilnLexer::RPAREN;
          b.what = dynamic_cast<P::CallExprContext*>(rule) ? "the call" : "the parenthesis";
          break;
        default:
          b.closer = KilnLexer::RBRACE;
          b.what = "the interpolation";
          break;
      }
      return b;
    }
    return {};
  }

  std::string Describe(antlr4::Token* t) {
    switch (t->getType()) {
      case antlr4::Token::EOF: return "the end of the file";
      case KilnLexer::QUOTE: return "a string";
      case KilnLexer::HEREDOC_START: return "a heredoc";
      default: return Quote(view_.Text(t));
    }
  }

  std::string TokenWords(size_t type) {
    switch (type) {
      case antlr4::Token::EOF: return "the end of the file";
      case KilnLexer::IDENT: return "a name";
      case KilnLexer::INT: return "a number";
      case KilnLexer::FLOAT: return "a number";
      case KilnLexer::QUANTITY: return "a quantity";
      case KilnLexer::QUOTE: return "a string";
      case KilnLexer::STR_END: return "`\"`";
      case KilnLexer::HEREDOC_START: return "a heredoc";
      case KilnLexer::HEREDOC_END: return "the heredoc end marker";
      case KilnLexer::STR_UNTERMINATED: return "`\"`";
      case KilnLexer::INTERP_START: return "`${`";
      case KilnLexer::OPEN_DOTDOT: return "`..`";
      default: break;
    }
    std::string lit = parser_.getVocabulary().getLiteralName(type);
    if (lit.size() >= 2 && lit.front() == '\'') return "`" + lit.substr(1, lit.size() - 2) + "`";
    return "another token";
  }

  // The expected set, in words: "an expression or `}`".
  std::string ExpectedWords(const antlr4::misc::IntervalSet& set) {
    std::vector<size_t> types;
    for (ssize_t t : set.toList()) {
      if (t >= 0 || t == static_cast<ssize_t>(antlr4::Token::EOF)) types.push_back(static_cast<size_t>(t));
    }
    auto has = [&](size_t t) { return std::find(types.begin(), types.end(), t) != types.end(); };
    auto remove = [&](std::initializer_list<size_t> ts) {
      types.erase(std::remove_if(types.begin(), types.end(),
                                 [&](size_t t) { return std::find(ts.begin(), ts.end(), t) != ts.end(); }),
                  types.end());
    };
    std::vector<std::string> words;
    if (has(KilnLexer::INPUT) && has(KilnLexer::LET) && has(KilnLexer::IDENT) && !has(KilnLexer::ASSIGN) &&
        !has(KilnLexer::RBRACE) && !has(KilnLexer::QUOTE)) {
      words.push_back("a declaration (`input`, `let`, `output`, `assert`, `type`, `provider`, `module`, `backend` or a resource)");
      remove({KilnLexer::INPUT, KilnLexer::LET, KilnLexer::OUTPUT, KilnLexer::ASSERT, KilnLexer::TYPE,
              KilnLexer::PROVIDER, KilnLexer::MODULE, KilnLexer::BACKEND, KilnLexer::IDENT});
    }
    if (has(KilnLexer::INT) && has(KilnLexer::QUOTE) && has(KilnLexer::IDENT) && has(KilnLexer::LBRACK)) {
      words.push_back("an expression");
      remove({KilnLexer::INT, KilnLexer::FLOAT, KilnLexer::QUANTITY, KilnLexer::BAD_NUMBER,
              KilnLexer::TRUE_LIT, KilnLexer::FALSE_LIT, KilnLexer::NULL_LIT, KilnLexer::QUOTE,
              KilnLexer::HEREDOC_START, KilnLexer::IDENT, KilnLexer::SENSITIVE, KilnLexer::LPAREN,
              KilnLexer::LBRACK, KilnLexer::LBRACE, KilnLexer::BANG, KilnLexer::MINUS});
    }
    if (has(KilnLexer::IDENT) && has(KilnLexer::QUOTE) && has(KilnLexer::LBRACE) && !has(KilnLexer::INT) &&
        !has(KilnLexer::INPUT)) {
      words.push_back("a type");
      remove({KilnLexer::IDENT, KilnLexer::QUOTE, KilnLexer::LBRACE, KilnLexer::LPAREN, KilnLexer::NULL_LIT});
    }
    if (has(KilnLexer::INPUT) && has(KilnLexer::IDENT) && has(KilnLexer::NULL_LIT)) {
      words.push_back(has(KilnLexer::QUOTE) ? "an attribute name" : "a name");
      remove({KilnLexer::IDENT, KilnLexer::SENSITIVE, KilnLexer::INPUT, KilnLexer::LET, KilnLexer::OUTPUT,
              KilnLexer::ASSERT, KilnLexer::TYPE, KilnLexer::PROVIDER, KilnLexer::MODULE, KilnLexer::BACKEND,
              KilnLexer::FOR, KilnLexer::IN, KilnLexer::IF, KilnLexer::TRUE_LIT, KilnLexer::FALSE_LIT,
              KilnLexer::NULL_LIT, KilnLexer::QUOTE});
    }
    if (has(KilnLexer::IDENT) && has(KilnLexer::SENSITIVE)) {
      words.push_back("a name");
      remove({KilnLexer::IDENT, KilnLexer::SENSITIVE});
    }
    if (has(KilnLexer::STAR) && has(KilnLexer::PLUS)) {
      words.push_back("an operator");
      remove({KilnLexer::STAR, KilnLexer::SLASH, KilnLexer::PERCENT, KilnLexer::PLUS, KilnLexer::MINUS,
              KilnLexer::DOTDOT, KilnLexer::OPEN_DOTDOT, KilnLexer::LT, KilnLexer::LE, KilnLexer::GT, KilnLexer::GE, KilnLexer::EQ,
              KilnLexer::NE, KilnLexer::AND, KilnLexer::OR, KilnLexer::QUESTION, KilnLexer::DOT,
              KilnLexer::LBRACK, KilnLexer::LPAREN});
    }
    for (size_t t : types) {
      std::string w = TokenWords(t);
      if (std::find(words.begin(), words.end(), w) == words.end()) words.push_back(w);
    }
    if (words.empty()) return "something else";
    std::string out;
    for (size_t i = 0; i < words.size(); ++i) {
      if (i > 0) out += i + 1 == words.size() ? " or " : ", ";
      out += words[i];
    }
    return out;
  }

  // A caret just after the last visible token before `tok` (for errors at
  // the end of the file, which has no line of its own).
  SourceRange AfterPrevious(antlr4::Token* tok) {
    size_t i = tok->getTokenIndex();
    while (i > 0) {
      --i;
      antlr4::Token* prev = tokens_.get(i);
      if (prev->getChannel() == antlr4::Token::DEFAULT_CHANNEL) {
        uint32_t end = view_.End(prev);
        return view_.Range(end, end + 1);
      }
    }
    return view_.Range(tok);
  }

  template <class T>
  T* Enclosing(antlr4::tree::ParseTree* node) {
    for (; node; node = node->parent) {
      if (auto* t = dynamic_cast<T*>(node)) return t;
    }
    return nullptr;
  }

  void ReportSyntaxError(const SyntaxError& err, size_t start) {
    antlr4::Token* tok = err.offending ? err.offending : parser_.getCurrentToken();
    error_index_ = tok->getTokenIndex();
    error_at_decl_start_ = false;
    bool at_eof = tok->getType() == antlr4::Token::EOF;
    SourceRange here = at_eof ? AfterPrevious(tok) : view_.Range(tok);
    std::string found = Describe(tok);
    std::string expected = ExpectedWords(err.expected);

    if (tok->getType() == KilnLexer::ERROR_CHAR) {
      std::string_view text = view_.Text(tok);
      Diagnostic& d = diags_.Error("E0012", here, "unexpected character " + Quote(text));
      d.label = "not valid here";
      if (text == "'") d.help = "strings are written with double quotes: \"...\"";
      if (text == ";") d.help = "Kiln does not use `;`; put each attribute on its own line";
      return;
    }

    if (ReportTerraform(start, tok) || ReportSpacedUnit(tok)) return;

    OpenBracket open = InnermostOpen(err.ctx);
    auto unclosed = [&](antlr4::Token* at) {
      SourceLoc o = view_.Loc(view_.Begin(open.token));
      std::string closer = TokenWords(open.closer);
      Diagnostic& d = diags_.Error(
          "E0002", at->getType() == antlr4::Token::EOF ? AfterPrevious(at) : view_.Range(at),
          "expected " + closer + " to close " + open.what + " opened at " + std::to_string(o.line) + ":" +
              std::to_string(o.column));
      d.label = at->getType() == antlr4::Token::EOF ? "the file ends here"
                                                     : "a new declaration starts here";
      d.secondary.push_back({view_.Range(open.token), "opened here"});
      d.help = "add " + closer + " at the end of " + open.what;
      error_index_ = at->getTokenIndex();
      error_at_decl_start_ = true;
    };

    // `replicas 3`: a body item without `=`.
    if (auto* item = dynamic_cast<P::ObjectItemContext*>(err.ctx); item && item->key() &&
                                                                   item->key()->getStart() != tok) {
      antlr4::Token* key = item->key()->getStart();
      if (open.token && FirstOnLine(key) && LooksLikeDeclStart(key->getTokenIndex()) &&
          key->getTokenIndex() > start) {
        unclosed(key);
        return;
      }
      std::string name(view_.Text(key));
      Diagnostic& d = diags_.Error("E0003", here, "expected `=` after attribute name " + Quote(name));
      d.label = "expected `=` before " + found;
      d.help = "write `" + name + " = <value>`, or `" + name + " { ... }` for a nested block";
      return;
    }
    if (open.token && err.expected.contains(static_cast<size_t>(open.closer)) &&
        (at_eof || (FirstOnLine(tok) && LooksLikeDeclStart(tok->getTokenIndex())))) {
      unclosed(tok);
      return;
    }
    if (FirstOnLine(tok) && err.expected.contains(static_cast<size_t>(KilnLexer::INPUT)) &&
        err.expected.contains(static_cast<size_t>(KilnLexer::LET))) {
      // A stray token at the start of a line between declarations.
      expected = "a declaration";
    }
    std::string message = "expected " + expected + ", found " + found;
    Diagnostic& d = diags_.Error("E0001", here, message);
    d.label = "expected " + expected;
    if (auto* in = Enclosing<P::InputDeclContext>(err.ctx); in && !in->typeExpr()) {
      d.help = "an input is declared as `input NAME: TYPE [= DEFAULT]`, e.g. `input replicas: int = 1`";
    } else if (auto* res = Enclosing<P::ResourceDeclContext>(err.ctx); res && !res->object()) {
      d.help = "a resource is declared as `KIND NAME [for ...] [if ...] { ... }`, e.g. `cluster pool { nodes = 2 }`";
    } else if (auto* pv = Enclosing<P::ProviderDeclContext>(err.ctx); pv && !pv->object()) {
      d.help = "a provider is declared as `provider TYPE NAME { ... }`, e.g. `provider slurm hpc { ... }`";
    } else if (auto* as = Enclosing<P::AssertDeclContext>(err.ctx); as && as->expr().size() < 2) {
      d.help = "an assertion is written `assert CONDITION, \"message\"`";
    } else if (auto* out = Enclosing<P::OutputDeclContext>(err.ctx); out && !out->expr()) {
      d.help = "an output is declared as `output NAME [: TYPE] [sensitive] = EXPR`";
    } else if (auto* let = Enclosing<P::LetDeclContext>(err.ctx); let && !let->expr()) {
      d.help = "a local value is declared as `let NAME [: TYPE] = EXPR`";
    }
    if (tok->getType() == KilnLexer::ASSIGN && !err.expected.contains(static_cast<size_t>(KilnLexer::EQ)) &&
        Enclosing<P::ExprContext>(err.ctx)) {
      d.help = "to compare values use `==`";
    }
    // `1..` then the maximum on the next line: the `..` was read as an
    // open-ended range.
    if (antlr4::Token* prev = PrevVisible(tok->getTokenIndex()); prev && prev->getType() == KilnLexer::OPEN_DOTDOT) {
      d.help = "`..` with nothing after it on its line is an open-ended range (`8..`: at least 8); write a range's "
               "maximum on the same line as its `..`: `1..4`";
    }
  }

  // Visible token before `index`; null at the start.
  antlr4::Token* PrevVisible(size_t index) {
    while (index > 0) {
      antlr4::Token* t = tokens_.get(--index);
      if (t->getChannel() == antlr4::Token::DEFAULT_CHANNEL) return t;
    }
    return nullptr;
  }

  // The text of the string starting at the QUOTE token `quote` (no escapes or
  // interpolation: Terraform names are plain).
  std::string StringAt(antlr4::Token* quote) {
    if (!quote || quote->getType() != KilnLexer::QUOTE) return "";
    antlr4::Token* text = tokens_.get(quote->getTokenIndex() + 1);
    return text->getType() == KilnLexer::STR_TEXT ? std::string(view_.Text(text)) : "";
  }

  // A declaration written the Terraform way (`variable "x" {`, `resource "a" "b"
  // {`, `locals {`): E0020 with the Kiln form.
  bool ReportTerraform(size_t start, antlr4::Token* tok) {
    antlr4::Token* first = tokens_.get(start);
    if (first->getChannel() != antlr4::Token::DEFAULT_CHANNEL) first = NextVisible(start);
    std::string word(view_.Text(first));
    antlr4::Token* next = NextVisible(first->getTokenIndex());
    bool quoted = next->getType() == KilnLexer::QUOTE;
    if (!quoted && !((word == "locals" || word == "terraform") && next->getType() == KilnLexer::LBRACE)) return false;
    std::string a = StringAt(next);
    antlr4::Token* end_quote = next;
    if (quoted) {
      for (size_t i = next->getTokenIndex() + 1; i < tokens_.size(); ++i) {
        antlr4::Token* t = tokens_.get(i);
        if (t->getType() == KilnLexer::STR_END || t->getType() == KilnLexer::STR_UNTERMINATED || t->getType() == antlr4::Token::EOF) {
          end_quote = t;
          break;
        }
      }
    }
    antlr4::Token* second = NextVisible(end_quote->getTokenIndex());
    std::string b = second->getType() == KilnLexer::QUOTE ? StringAt(second) : "";
    std::string name_a = a.empty() ? "NAME" : a;
    std::string help;
    if (word == "variable") {
      help = "declare an input: `input " + name_a + ": TYPE = DEFAULT` (for example `input " + name_a + ": string = \"x\"`); refer to it as `" + name_a + "`, not `var." + name_a + "`";
    } else if (word == "resource" || word == "data") {
      std::string kind = a.empty() ? "KIND" : a, name = b.empty() ? "NAME" : b;
      help = word == "data" ? "Kiln has no data sources; read values from inputs, or from a resource's attributes (`NAME.attr`)"
                            : "declare a resource as `KIND NAME { ... }`: `" + kind + " " + name + " { ... }` (core kinds: cluster, datastore, training_job, endpoint; provider kinds are TYPE.KIND)";
    } else if (word == "output") {
      help = "declare an output as `output " + name_a + " = EXPR` (no block, no `value =`)";
    } else if (word == "provider") {
      help = "configure a provider as `provider TYPE NAME { ... }`: `provider " + (a.empty() ? "TYPE" : a) + " main { ... }`";
    } else if (word == "module") {
      help = "instantiate a module as `module " + name_a + " { source = \"./modules/" + name_a + "\" ... }` (an unquoted name)";
    } else if (word == "locals") {
      help = "write each local value as its own declaration: `let NAME = EXPR`";
    } else if (word == "terraform") {
      help = "settings such as the state location go in `backend local { path = \".kiln/state.json\" }`";
    } else {
      return false;
    }
    antlr4::Token* last = quoted ? (b.empty() ? end_quote : second) : first;
    if (!b.empty()) {
      for (size_t i = second->getTokenIndex() + 1; i < tokens_.size(); ++i) {
        antlr4::Token* t = tokens_.get(i);
        if (t->getType() == KilnLexer::STR_END || t->getType() == antlr4::Token::EOF) {
          last = t;
          break;
        }
      }
    }
    Diagnostic& d = diags_.Error("E0020", view_.Range(view_.Begin(first), view_.End(last)),
                                 "`" + word + (quoted ? " \"...\"" : "") + "` is Terraform syntax, not Kiln");
    d.label = "a Terraform declaration";
    d.help = help;
    error_index_ = std::max(tok->getTokenIndex(), first->getTokenIndex() + 1);
    error_at_decl_start_ = false;
    return true;
  }

  // `size = 10 GB`: a number and its unit separated by white space (E0019).
  bool ReportSpacedUnit(antlr4::Token* tok) {
    antlr4::Token* unit = tok->getType() == KilnLexer::IDENT ? tok : PrevVisible(tok->getTokenIndex());
    for (int attempt = 0; attempt < 2 && unit; ++attempt) {
      ast::Unit u;
      if (unit->getType() == KilnLexer::IDENT && LookupUnit(view_.Text(unit), &u)) {
        antlr4::Token* number = PrevVisible(unit->getTokenIndex());
        if (number && (number->getType() == KilnLexer::INT || number->getType() == KilnLexer::FLOAT) &&
            number->getTokenIndex() + 1 == unit->getTokenIndex() &&
            view_.Loc(view_.End(number)).line == view_.Loc(view_.Begin(unit)).line) {
          std::string n(view_.Text(number)), un(view_.Text(unit));
          Diagnostic& d = diags_.Error("E0019", view_.Range(view_.Begin(number), view_.End(unit)),
                                       "a space between the number `" + n + "` and its unit `" + un + "`");
          d.label = "write `" + n + un + "`";
          d.help = "a quantity is a number immediately followed by its unit, with no space: `" + n + un + "`";
          error_index_ = std::max(tok->getTokenIndex(), unit->getTokenIndex() + 1);
          error_at_decl_start_ = false;
          return true;
        }
      }
      if (unit != tok) break;
      unit = PrevVisible(tok->getTokenIndex());
    }
    return false;
  }

  void ReportInvalidUtf8() {
    const auto& bad = stream_.invalid_utf8();
    if (bad.empty()) return;
    Diagnostic& d = diags_.Error("E0013", view_.Range(bad[0], bad[0] + 1),
                                 "the file is not valid UTF-8");
    d.label = "invalid byte";
    if (bad.size() > 1) d.notes.push_back(std::to_string(bad.size()) + " invalid byte sequences in all");
    d.help = "save the file as UTF-8";
  }

  FullContextSimulator* simulator_ = nullptr;  // owned by parser_
  SourceStream stream_;
  Lexer lexer_;
  antlr4::CommonTokenStream tokens_;
  P parser_;
  Diagnostics& diags_;
  SourceView view_;
  std::shared_ptr<antlr4::BailErrorStrategy> bail_;
  std::shared_ptr<RecordingStrategy> recording_;
  size_t error_index_ = 0;
  bool error_at_decl_start_ = false;
};

void InternalError(Diagnostics& diags, uint32_t file_id, const SourceManager& sm, const char* what) {
  SourceLoc loc = sm.Locate(file_id, 0);
  diags.Error("E0099", {loc, loc}, std::string("internal parser error: ") + what)
      .help = "please report this with the file that caused it";
}

}  // namespace

std::vector<TokenInfo> Tokenize(const SourceManager& sm, uint32_t file_id) {
  std::vector<TokenInfo> out;
  try {
    SourceStream stream(sm.Text(file_id));
    Lexer lexer(&stream);
    lexer.removeErrorListeners();
    antlr4::CommonTokenStream tokens(&lexer);
    tokens.fill();
    SourceView view;
    view.sm = &sm;
    view.file_id = file_id;
    view.text = sm.Text(file_id);
    view.stream = &stream;
    const antlr4::dfa::Vocabulary& vocab = lexer.getVocabulary();
    for (antlr4::Token* t : tokens.getTokens()) {
      TokenInfo info;
      info.kind = t->getType() == antlr4::Token::EOF ? "EOF" : vocab.getSymbolicName(t->getType());
      info.text = std::string(view.Text(t));
      info.range = view.Range(t);
      info.hidden = t->getChannel() != antlr4::Token::DEFAULT_CHANNEL;
      out.push_back(std::move(info));
    }
  } catch (const std::exception&) {
  }
  return out;
}

}  // namespace syntax

std::unique_ptr<ast::File> syntax::AntlrParseFile(const SourceManager& sm, uint32_t file_id,
                                                  Diagnostics& diags) {
  auto file = std::make_unique<ast::File>();
  file->file_id = file_id;
  Diagnostics local;
  try {
    syntax::Session session(sm, file_id, local);
    session.ParseFile(*file);
  } catch (const std::exception& e) {
    syntax::InternalError(local, file_id, sm, e.what());
  }
  local.SortBySource();
  diags.Append(local);
  return file;
}

// The hand-written parser first; the ANTLR path only for a file it gives up
// on, so that every diagnostic is worded there (parse_paths.h).
std::unique_ptr<ast::File> Parse(const SourceManager& sm, uint32_t file_id, Diagnostics& diags) {
  try {
    if (auto file = syntax::FastParseFile(sm, file_id)) return file;
  } catch (const std::exception&) {
  }
  return syntax::AntlrParseFile(sm, file_id, diags);
}

namespace {

// A standalone type or expression: the fast path, else ANTLR's rule `rule`
// (which reports the errors) built by `build`.
template <typename Out, typename Ctx>
Out ParseText(SourceManager& sm, const std::string& origin, const std::string& text, Diagnostics& diags,
              Out (*fast)(const SourceManager&, uint32_t),
              Ctx* (kiln_antlr::KilnParser::*rule)(), Out (*build)(syntax::Session&, Ctx*)) {
  uint32_t id = sm.AddBuffer(origin, text);
  try {
    if (auto out = fast(sm, id)) return out;
  } catch (const std::exception&) {
    // The fast path gives up by throwing on what it does not handle: ANTLR decides.
  }
  Diagnostics local;
  Out out;
  try {
    syntax::Session session(sm, id, local);
    auto* ctx = session.ParseWhole<Ctx>([&] { return (session.Parser().*rule)(); });
    if (ctx) out = build(session, ctx);
  } catch (const std::exception& e) {
    syntax::InternalError(local, id, sm, e.what());
  }
  local.SortBySource();
  diags.Append(local);
  return out;
}

}  // namespace

ast::TypeExprPtr ParseTypeText(SourceManager& sm, const std::string& origin, const std::string& text,
                               Diagnostics& diags) {
  using P = kiln_antlr::KilnParser;
  return ParseText<ast::TypeExprPtr, P::TypeOnlyContext>(
      sm, origin, text, diags, syntax::FastParseType, &P::typeOnly,
      [](syntax::Session& s, P::TypeOnlyContext* c) { return s.Builder().Type(c->typeExpr()); });
}

ast::ExprPtr ParseExpressionText(SourceManager& sm, const std::string& origin, const std::string& text,
                                 Diagnostics& diags) {
  using P = kiln_antlr::KilnParser;
  return ParseText<ast::ExprPtr, P::ExprOnlyContext>(
      sm, origin, text, diags, syntax::FastParseExpr, &P::exprOnly,
      [](syntax::Session& s, P::ExprOnlyContext* c) { return s.Builder().Expr(c->expr()); });
}

}  // namespace kiln
