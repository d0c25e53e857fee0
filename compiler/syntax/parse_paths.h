// The two parsing paths behind Parse(), each on its own, for the
// differential tests and benchmarks. Nothing else should call these.
//
// The hand-written parser (fast_parse.cpp) is the hot path: it accepts only
// input it is sure of and gives up (returns null, reports nothing) on any
// syntax error, any value-level problem (bad unit, escape, number range) or
// anything it does not handle. Parse() then runs the ANTLR path, which is
// the definition of the language and words every diagnostic.
#pragma once

#include <memory>

#include "compiler/ast/ast.h"
#include "compiler/diag/diagnostics.h"

namespace kiln::syntax {

// Only the hand-written parser: the file's AST, or null when it gives up.
std::unique_ptr<ast::File> FastParseFile(const SourceManager& sm, uint32_t file_id);
// `expr EOF` / `typeExpr EOF` over a whole buffer; null when it gives up.
ast::ExprPtr FastParseExpr(const SourceManager& sm, uint32_t file_id);
ast::TypeExprPtr FastParseType(const SourceManager& sm, uint32_t file_id);

// Only the ANTLR path (what Parse() falls back to); diagnostics as Parse()
// reports them.
std::unique_ptr<ast::File> AntlrParseFile(const SourceManager& sm, uint32_t file_id,
                                          Diagnostics& diags);

}  // namespace kiln::syntax
