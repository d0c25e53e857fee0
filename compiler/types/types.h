// Static types of the Kiln language (LANGUAGE.md §3) and assignability.
// Types are immutable and shared; kinds carry their schema as a record.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "compiler/ast/ast.h"
#include "compiler/value/value.h"

namespace kiln {

enum class TypeKind : uint8_t {
  kAny,  // unknown statically (error recovery, jsondecode); assignable both ways
  kNull, kBool, kInt, kFloat, kString, kDuration, kBytes, kRange, kGpu,
  kList, kMap, kRecord, kOptional, kUnion, kLiteral, kKind,
};

struct Type;
using TypeRef = std::shared_ptr<const Type>;

// A sign constraint on a numeric, quantity or range field (field modifiers
// `positive` and `nonnegative` in kind schemas), checked at evaluation.
enum class Bound : uint8_t { kNone, kNonNegative, kPositive };

struct Field {
  std::string name;
  TypeRef type;
  bool optional = false;
  bool sensitive = false;
  bool computed = false;
  Bound bound = Bound::kNone;
  const ast::Expr* default_expr = nullptr;
  std::string doc;
  SourceRange range;
  // The default's value, evaluated once (defaults are constants).
  mutable std::optional<Value> default_value;
  bool Required() const { return !optional && !default_expr && !computed; }
};

struct Type {
  TypeKind kind = TypeKind::kAny;
  TypeRef element;                 // list, map, optional
  std::vector<Field> fields;       // record, sorted by name
  std::vector<TypeRef> alternatives;  // union
  std::string text;                // literal: the string; kind: the kind name
  std::string name;                // a named type's name, for messages
  std::string provider_type;       // kind: "" for core kinds, else the provider type
  std::shared_ptr<const Type> schema;  // kind: the record of its attributes
  bool open = false;               // record of a provider kind whose schema is unknown
  bool bounded = false;            // record (or T?) with a Bound on some field, at any depth

  const Field* FindField(const std::string& n) const;
  std::vector<std::string> FieldNames() const;
};

TypeRef AnyType();
TypeRef PrimitiveType(TypeKind k);
TypeRef ListOf(TypeRef element);
TypeRef MapOf(TypeRef element);
// `range<bytes>`; plain `range` (of ints) is PrimitiveType(kRange).
TypeRef RangeOf(TypeRef element);
TypeRef OptionalOf(TypeRef element);
TypeRef LiteralType(std::string text);
TypeRef UnionOf(std::vector<TypeRef> alternatives);
TypeRef RecordOf(std::vector<Field> fields, std::string name = "");
TypeRef KindType(std::string name, std::string provider_type, TypeRef schema);
// Looks up a primitive by name ("string", "bytes", ...); null if not one.
TypeRef PrimitiveByName(const std::string& name);

// How a type is written: `list<string>`, `{ a: int, b?: bytes }`, `cluster`.
std::string TypeToString(const TypeRef& t);

// Strips `T?`.
TypeRef NonOptional(const TypeRef& t);
bool IsOptional(const TypeRef& t);
bool IsNumeric(const TypeRef& t);
// Whether a value of type `src` may be used where `target` is expected.
// On failure, *why (when given) says which part does not fit.
bool Assignable(const TypeRef& target, const TypeRef& src, std::string* why = nullptr);
// The common type of two alternatives (list elements, branches of `?:`).
TypeRef Unify(const TypeRef& a, const TypeRef& b);

}  // namespace kiln
