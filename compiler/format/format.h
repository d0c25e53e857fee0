// `kiln fmt`: the canonical text of a parsed file, and a position-free dump
// of an AST used to check that formatting never changes what a file means.
#pragma once

#include <string>

#include "compiler/ast/ast.h"
#include "compiler/diag/source.h"

namespace kiln {

// The canonical text of `file`, which must have parsed without errors.
// Comments (including `///` docs) are kept where they were; leaf tokens
// (numbers, quantities, strings, heredocs) are copied from the source text.
std::string Format(const SourceManager& sm, const ast::File& file);

// A structural dump of `file` without source positions: node kinds, names,
// literal values, operators and the comment texts in order. Two files with
// the same shape mean the same thing (and keep the same comments).
std::string AstShape(const ast::File& file);

}  // namespace kiln
