// The Kiln abstract syntax tree: our own node types with source ranges.
// Produced by compiler/syntax (the only code that sees ANTLR), consumed by
// check, eval and format. Nodes are owned through unique_ptr by their parent.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "compiler/diag/source.h"

namespace kiln::ast {

// ---------------------------------------------------------------- expressions

enum class ExprKind {
  kNull,         // null
  kBool,         // true / false
  kInt,          // 42, 1_000_000
  kFloat,        // 0.5, 1e-4
  kQuantity,     // 500ms, 80GiB, 1.5h
  kTemplate,     // "text ${expr}" and heredocs; a plain string is one part
  kName,         // identifier reference
  kGetAttr,      // object.name
  kIndex,        // object[index]
  kCall,         // name(args)
  kUnary,        // !x, -x
  kBinary,       // a + b, a..b, a && b, ...
  kConditional,  // c ? a : b
  kList,         // [a, b]
  kObject,       // { k = v }  (also resource/provider/module bodies)
  kFor,          // [for ...: v]  and  {for ...: k => v}
};

struct Expr {
  explicit Expr(ExprKind k) : kind(k) {}
  virtual ~Expr() = default;
  const ExprKind kind;
  SourceRange range;
};
using ExprPtr = std::unique_ptr<Expr>;

// Checked downcasts: each node type declares kKind.
template <class T>
T* As(Expr* e) { return e && e->kind == T::kKind ? static_cast<T*>(e) : nullptr; }
template <class T>
const T* As(const Expr* e) { return e && e->kind == T::kKind ? static_cast<const T*>(e) : nullptr; }

struct NullExpr : Expr {
  static constexpr ExprKind kKind = ExprKind::kNull;
  NullExpr() : Expr(kKind) {}
  // Stands for a literal the parser already reported (`10min`, `1e999`):
  // the checker takes it as any type so the error is not repeated.
  bool from_error = false;
};

struct BoolExpr : Expr {
  static constexpr ExprKind kKind = ExprKind::kBool;
  BoolExpr() : Expr(kKind) {}
  bool value = false;
};

struct IntExpr : Expr {
  static constexpr ExprKind kKind = ExprKind::kInt;
  IntExpr() : Expr(kKind) {}
  int64_t value = 0;
};

struct FloatExpr : Expr {
  static constexpr ExprKind kKind = ExprKind::kFloat;
  FloatExpr() : Expr(kKind) {}
  double value = 0;
};

enum class Unit {
  // durations, value in milliseconds
  kMs, kS, kM, kH, kD,
  // bytes
  kB, kKB, kMB, kGB, kTB, kPB, kKiB, kMiB, kGiB, kTiB, kPiB,
};
bool IsDurationUnit(Unit u);
// Milliseconds per unit for durations, bytes per unit for sizes.
int64_t UnitScale(Unit u);
const char* UnitName(Unit u);

// A number immediately followed by a unit. `value` is the number as written
// (`1.5` in `1.5h`); is_integer says whether it was written without a
// fraction or exponent.
struct QuantityExpr : Expr {
  static constexpr ExprKind kKind = ExprKind::kQuantity;
  QuantityExpr() : Expr(kKind) {}
  double value = 0;
  int64_t int_value = 0;
  bool is_integer = true;
  Unit unit = Unit::kS;
};

// One piece of a string template: literal text (escapes already decoded)
// or an interpolated expression.
struct TemplatePart {
  std::string text;
  ExprPtr expr;  // non-null for `${ expr }`
};

struct TemplateExpr : Expr {
  static constexpr ExprKind kKind = ExprKind::kTemplate;
  TemplateExpr() : Expr(kKind) {}
  std::vector<TemplatePart> parts;
  bool heredoc = false;
  bool strip_indent = false;  // <<-EOT
  std::string heredoc_marker;
  // True when the template has no interpolation (a plain string literal).
  bool IsLiteral() const { return parts.empty() || (parts.size() == 1 && !parts[0].expr); }
  std::string LiteralText() const { return parts.empty() ? std::string() : parts[0].text; }
};

struct NameExpr : Expr {
  static constexpr ExprKind kKind = ExprKind::kName;
  NameExpr() : Expr(kKind) {}
  std::string name;
};

struct GetAttrExpr : Expr {
  static constexpr ExprKind kKind = ExprKind::kGetAttr;
  GetAttrExpr() : Expr(kKind) {}
  ExprPtr object;
  std::string name;
  SourceRange name_range;
};

struct IndexExpr : Expr {
  static constexpr ExprKind kKind = ExprKind::kIndex;
  IndexExpr() : Expr(kKind) {}
  ExprPtr object;
  ExprPtr index;
};

struct CallExpr : Expr {
  static constexpr ExprKind kKind = ExprKind::kCall;
  CallExpr() : Expr(kKind) {}
  std::string callee;
  SourceRange callee_range;
  std::vector<ExprPtr> args;
};

// kOpenRange is the postfix `8..` (a minimum without a maximum).
enum class UnaryOp { kNot, kNeg, kOpenRange };

struct UnaryExpr : Expr {
  static constexpr ExprKind kKind = ExprKind::kUnary;
  UnaryExpr() : Expr(kKind) {}
  UnaryOp op = UnaryOp::kNot;
  ExprPtr operand;
};

enum class BinaryOp {
  kMul, kDiv, kMod, kAdd, kSub, kRange,
  kLt, kLe, kGt, kGe, kEq, kNe, kAnd, kOr,
};
const char* BinaryOpText(BinaryOp op);

struct BinaryExpr : Expr {
  static constexpr ExprKind kKind = ExprKind::kBinary;
  BinaryExpr() : Expr(kKind) {}
  BinaryOp op = BinaryOp::kAdd;
  SourceRange op_range;
  ExprPtr lhs;
  ExprPtr rhs;
};

struct ConditionalExpr : Expr {
  static constexpr ExprKind kKind = ExprKind::kConditional;
  ConditionalExpr() : Expr(kKind) {}
  ExprPtr cond;
  ExprPtr then_expr;
  ExprPtr else_expr;
};

struct ListExpr : Expr {
  static constexpr ExprKind kKind = ExprKind::kList;
  ListExpr() : Expr(kKind) {}
  std::vector<ExprPtr> items;
};

// An item of an object or a body: `key = value`, `key: value`, `"key" = value`
// or a nested block `key { ... }` (value is then an ObjectExpr).
struct ObjectItem {
  std::string key;
  SourceRange key_range;
  bool quoted_key = false;
  bool colon = false;     // written `k: v`
  bool is_block = false;  // written `k { ... }`
  ExprPtr value;
  SourceRange range;      // the whole item
};

struct ObjectExpr : Expr {
  static constexpr ExprKind kKind = ExprKind::kObject;
  ObjectExpr() : Expr(kKind) {}
  std::vector<ObjectItem> items;
  const ObjectItem* Find(const std::string& key) const {
    for (const auto& item : items) {
      if (item.key == key) return &item;
    }
    return nullptr;
  }
};

// [for k, v in coll if cond: value] or {for k, v in coll if cond: key => value}
struct ForExpr : Expr {
  static constexpr ExprKind kKind = ExprKind::kFor;
  ForExpr() : Expr(kKind) {}
  bool is_map = false;
  std::string key_var;    // empty with a single variable
  SourceRange key_var_range;
  std::string value_var;
  SourceRange value_var_range;
  ExprPtr collection;
  ExprPtr cond;           // may be null
  ExprPtr key;            // map form only
  ExprPtr value;
};

// ---------------------------------------------------------------- types

enum class TypeKind {
  kName,     // string, int, bytes, gpu, cluster, a named type ...
  kList,     // list<T>
  kMap,      // map<T>
  kRange,    // range<T> (T is int or bytes; plain `range` is a kName)
  kRecord,   // { a: T, b?: U, c: V = default }
  kOptional, // T?
  kUnion,    // A | B  (literal unions and unions of types)
  kLiteral,  // "spot" (a string literal type)
};

struct TypeExpr;
using TypeExprPtr = std::unique_ptr<TypeExpr>;

struct RecordField {
  std::string doc;
  std::string name;
  SourceRange name_range;
  bool optional = false;               // `name?: T`
  TypeExprPtr type;
  std::vector<std::string> modifiers;  // `sensitive`, `computed`, ... after the type
  ExprPtr default_value;               // may be null
  SourceRange range;
};

struct TypeExpr {
  TypeKind kind = TypeKind::kName;
  SourceRange range;
  std::string name;                    // kName: the name; kLiteral: the string
  TypeExprPtr element;                 // kList, kMap, kOptional
  std::vector<RecordField> fields;     // kRecord
  std::vector<TypeExprPtr> alternatives;  // kUnion
};

// ---------------------------------------------------------------- declarations

enum class DeclKind { kInput, kLet, kOutput, kAssert, kType, kProvider, kModule, kBackend, kResource };

struct Decl {
  explicit Decl(DeclKind k) : kind(k) {}
  virtual ~Decl() = default;
  const DeclKind kind;
  SourceRange range;
  std::string doc;          // `///` lines directly above, joined with '\n'
  std::string name;         // empty for assert and backend
  SourceRange name_range;
};
using DeclPtr = std::unique_ptr<Decl>;

template <class T>
T* As(Decl* d) { return d && d->kind == T::kKind ? static_cast<T*>(d) : nullptr; }
template <class T>
const T* As(const Decl* d) { return d && d->kind == T::kKind ? static_cast<const T*>(d) : nullptr; }

struct InputDecl : Decl {
  static constexpr DeclKind kKind = DeclKind::kInput;
  InputDecl() : Decl(kKind) {}
  TypeExprPtr type;
  ExprPtr default_value;  // null: required
  bool sensitive = false;
};

struct LetDecl : Decl {
  static constexpr DeclKind kKind = DeclKind::kLet;
  LetDecl() : Decl(kKind) {}
  TypeExprPtr type;  // may be null
  ExprPtr value;
};

struct OutputDecl : Decl {
  static constexpr DeclKind kKind = DeclKind::kOutput;
  OutputDecl() : Decl(kKind) {}
  TypeExprPtr type;  // may be null
  bool sensitive = false;
  ExprPtr value;
};

struct AssertDecl : Decl {
  static constexpr DeclKind kKind = DeclKind::kAssert;
  AssertDecl() : Decl(kKind) {}
  ExprPtr cond;
  ExprPtr message;
};

struct TypeDecl : Decl {
  static constexpr DeclKind kKind = DeclKind::kType;
  TypeDecl() : Decl(kKind) {}
  TypeExprPtr type;
};

// `for k, v in coll` on a resource or module.
struct ForClause {
  std::string key_var;  // empty with a single variable
  SourceRange key_var_range;
  std::string value_var;
  SourceRange value_var_range;
  ExprPtr collection;
  SourceRange range;
};

struct ProviderDecl : Decl {
  static constexpr DeclKind kKind = DeclKind::kProvider;
  ProviderDecl() : Decl(kKind) {}
  std::string type_name;  // `slurm` in `provider slurm hpc {}`
  SourceRange type_range;
  std::unique_ptr<ObjectExpr> body;
};

struct ModuleDecl : Decl {
  static constexpr DeclKind kKind = DeclKind::kModule;
  ModuleDecl() : Decl(kKind) {}
  std::unique_ptr<ForClause> for_clause;  // may be null
  ExprPtr if_cond;                        // may be null
  std::unique_ptr<ObjectExpr> body;
};

struct BackendDecl : Decl {
  static constexpr DeclKind kKind = DeclKind::kBackend;
  BackendDecl() : Decl(kKind) {}
  std::string type_name;  // `local`
  SourceRange type_range;
  std::unique_ptr<ObjectExpr> body;
};

struct ResourceDecl : Decl {
  static constexpr DeclKind kKind = DeclKind::kResource;
  ResourceDecl() : Decl(kKind) {}
  std::string provider_type;  // `slurm` in `slurm.reservation r {}`; empty for core kinds
  std::string kind_name;      // `reservation`, `cluster`, `training_job`, ...
  SourceRange kind_range;     // covers `slurm.reservation`
  std::unique_ptr<ForClause> for_clause;  // may be null
  ExprPtr if_cond;                        // may be null
  std::unique_ptr<ObjectExpr> body;
  // `slurm.reservation` or `cluster`
  std::string FullKind() const { return provider_type.empty() ? kind_name : provider_type + "." + kind_name; }
};

// ---------------------------------------------------------------- files

enum class CommentKind { kLine, kBlock, kDoc };

struct Comment {
  CommentKind kind = CommentKind::kLine;
  SourceRange range;
  std::string text;  // as written, including the `#`, `//`, `///` or `/* */`
};

struct File {
  uint32_t file_id = 0;
  std::vector<DeclPtr> decls;
  // Names of declarations that did not parse (their header was readable):
  // references to them are not reported again as unknown names.
  std::vector<std::string> broken_names;
  // The file could not be read as text at all (not UTF-8): any name may
  // have been declared in it.
  bool unreadable = false;
  std::vector<Comment> comments;  // every comment, in source order
};

}  // namespace kiln::ast
