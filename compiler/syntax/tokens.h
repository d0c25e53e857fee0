// The token stream of a file, for `kiln debug tokens` and tests. The parser
// itself does not use this; it is a view of what the lexer produces.
#pragma once

#include <string>
#include <vector>

#include "compiler/diag/source.h"

namespace kiln::syntax {

struct TokenInfo {
  std::string kind;  // the grammar's token name: IDENT, QUANTITY, LBRACE, ...
  std::string text;  // as written
  SourceRange range;
  bool hidden = false;  // comments
};

// Every token of the file, comments included, ending with EOF.
std::vector<TokenInfo> Tokenize(const SourceManager& sm, uint32_t file_id);

}  // namespace kiln::syntax
