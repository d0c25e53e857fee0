// The parser: source text -> AST. The only code that sees ANTLR types.
#pragma once

#include <memory>
#include <string>

#include "compiler/ast/ast.h"
#include "compiler/diag/diagnostics.h"

namespace kiln {

// Parses one file. Always returns a File (partial when there were syntax
// errors); every error is appended to `diags` in words, in source order.
std::unique_ptr<ast::File> Parse(const SourceManager& sm, uint32_t file_id,
                                 Diagnostics& diags);

// Parses a type written in Kiln syntax (`list<string>`, `duration?`), as
// provider schemas send them. `origin` names where the text came from.
ast::TypeExprPtr ParseTypeText(SourceManager& sm, const std::string& origin,
                               const std::string& text, Diagnostics& diags);

// Parses a standalone expression (for `kiln eval`).
ast::ExprPtr ParseExpressionText(SourceManager& sm, const std::string& origin,
                                 const std::string& text, Diagnostics& diags);

}  // namespace kiln
