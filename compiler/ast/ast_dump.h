// A deterministic, readable S-expression dump of the AST (`kiln debug ast`),
// used by golden tests. Every node prints its start as line:col.
#pragma once

#include <string>

#include "compiler/ast/ast.h"

namespace kiln::ast {

std::string DumpFile(const File& file);
std::string DumpExpr(const Expr& expr);
std::string DumpType(const TypeExpr& type);

// `"text"` with C-style escapes, as the dump prints strings.
std::string QuoteForDump(const std::string& text);

}  // namespace kiln::ast
