#include "compiler/ast/ast_dump.h"

#include <charconv>
#include <cstdio>
#include <sstream>

namespace kiln::ast {
namespace {

// A node of the printed tree: a head ("int 3:5 42") and children. Short
// nodes print on one line; longer ones put each child on its own line.
struct S {
  std::string head;
  std::vector<S> kids;
};

std::string Pos(const SourceRange& r) {
  if (!r.valid()) return "?:?";
  return std::to_string(r.begin.line) + ":" + std::to_string(r.begin.column);
}

std::string Num(double v) {
  char buf[64];
  auto res = std::to_chars(buf, buf + sizeof buf, v);
  std::string s(buf, res.ptr);
  if (s.find_first_of(".eEn") == std::string::npos) s += ".0";  // keep floats visibly floats
  return s;
}

size_t FlatSize(const S& s, size_t limit) {
  size_t n = s.head.size() + 2;
  for (const S& k : s.kids) {
    n += 1 + FlatSize(k, limit);
    if (n > limit) return n;
  }
  return n;
}

void Flat(const S& s, std::string& out) {
  out += "(" + s.head;
  for (const S& k : s.kids) {
    out += " ";
    Flat(k, out);
  }
  out += ")";
}

void Print(const S& s, int indent, std::string& out) {
  if (s.kids.empty() || indent * 2 + FlatSize(s, 100) <= 100) {
    Flat(s, out);
    return;
  }
  out += "(" + s.head;
  for (const S& k : s.kids) {
    out += '\n';
    out.append((indent + 1) * 2, ' ');
    Print(k, indent + 1, out);
  }
  out += ")";
}

S Leaf(std::string head) { return S{std::move(head), {}}; }

S ExprS(const Expr* e);
S TypeS(const TypeExpr* t);

S Wrap(const std::string& head, S kid) {
  S s{head, {}};
  s.kids.push_back(std::move(kid));
  return s;
}

S ObjectS(const ObjectExpr& o) {
  S s{"object " + Pos(o.range), {}};
  for (const ObjectItem& item : o.items) {
    std::string key = item.quoted_key ? QuoteForDump(item.key) : item.key;
    std::string how = item.is_block ? " block" : item.colon ? " :" : " =";
    S i{"item " + Pos(item.range) + " " + key + how, {}};
    i.kids.push_back(ExprS(item.value.get()));
    s.kids.push_back(std::move(i));
  }
  return s;
}

S TemplateS(const TemplateExpr& t) {
  std::string head = t.heredoc ? "heredoc " + Pos(t.range) + " " + (t.strip_indent ? "<<-" : "<<") +
                                     t.heredoc_marker
                               : "string " + Pos(t.range);
  if (!t.heredoc && t.IsLiteral()) return Leaf(head + " " + QuoteForDump(t.LiteralText()));
  S s{head, {}};
  for (const TemplatePart& p : t.parts) {
    if (p.expr) {
      s.kids.push_back(Wrap("interp", ExprS(p.expr.get())));
    } else {
      s.kids.push_back(Leaf("text " + QuoteForDump(p.text)));
    }
  }
  return s;
}

S ExprS(const Expr* e) {
  if (!e) return Leaf("none");
  std::string at = Pos(e->range);
  switch (e->kind) {
    case ExprKind::kNull: return Leaf("null " + at);
    case ExprKind::kBool: return Leaf("bool " + at + (As<BoolExpr>(e)->value ? " true" : " false"));
    case ExprKind::kInt: return Leaf("int " + at + " " + std::to_string(As<IntExpr>(e)->value));
    case ExprKind::kFloat: return Leaf("float " + at + " " + Num(As<FloatExpr>(e)->value));
    case ExprKind::kQuantity: {
      const auto* q = As<QuantityExpr>(e);
      std::string v = q->is_integer ? std::to_string(q->int_value) : Num(q->value);
      return Leaf("quantity " + at + " " + v + " " + UnitName(q->unit));
    }
    case ExprKind::kTemplate: return TemplateS(*As<TemplateExpr>(e));
    case ExprKind::kName: return Leaf("name " + at + " " + As<NameExpr>(e)->name);
    case ExprKind::kGetAttr: {
      const auto* g = As<GetAttrExpr>(e);
      return Wrap("get " + at + " ." + g->name, ExprS(g->object.get()));
    }
    case ExprKind::kIndex: {
      const auto* i = As<IndexExpr>(e);
      S s{"index " + at, {}};
      s.kids.push_back(ExprS(i->object.get()));
      s.kids.push_back(ExprS(i->index.get()));
      return s;
    }
    case ExprKind::kCall: {
      const auto* c = As<CallExpr>(e);
      S s{"call " + at + " " + c->callee, {}};
      for (const auto& a : c->args) s.kids.push_back(ExprS(a.get()));
      return s;
    }
    case ExprKind::kUnary: {
      const auto* u = As<UnaryExpr>(e);
      return Wrap(std::string("unary ") + at + (u->op == UnaryOp::kNot ? " !" : u->op == UnaryOp::kNeg ? " -" : " .."),
                  ExprS(u->operand.get()));
    }
    case ExprKind::kBinary: {
      const auto* b = As<BinaryExpr>(e);
      S s{"binary " + at + " " + BinaryOpText(b->op), {}};
      s.kids.push_back(ExprS(b->lhs.get()));
      s.kids.push_back(ExprS(b->rhs.get()));
      return s;
    }
    case ExprKind::kConditional: {
      const auto* c = As<ConditionalExpr>(e);
      S s{"cond " + at, {}};
      s.kids.push_back(ExprS(c->cond.get()));
      s.kids.push_back(ExprS(c->then_expr.get()));
      s.kids.push_back(ExprS(c->else_expr.get()));
      return s;
    }
    case ExprKind::kList: {
      S s{"list " + at, {}};
      for (const auto& i : As<ListExpr>(e)->items) s.kids.push_back(ExprS(i.get()));
      return s;
    }
    case ExprKind::kObject: return ObjectS(*As<ObjectExpr>(e));
    case ExprKind::kFor: {
      const auto* f = As<ForExpr>(e);
      std::string vars = f->key_var.empty() ? f->value_var : f->key_var + ", " + f->value_var;
      S s{std::string(f->is_map ? "for-map " : "for-list ") + at + " " + vars, {}};
      s.kids.push_back(Wrap("in", ExprS(f->collection.get())));
      if (f->cond) s.kids.push_back(Wrap("if", ExprS(f->cond.get())));
      if (f->is_map) s.kids.push_back(Wrap("key", ExprS(f->key.get())));
      s.kids.push_back(Wrap("value", ExprS(f->value.get())));
      return s;
    }
  }
  return Leaf("?");
}

S TypeS(const TypeExpr* t) {
  if (!t) return Leaf("none");
  std::string at = Pos(t->range);
  switch (t->kind) {
    case TypeKind::kName: return Leaf("type " + at + " " + t->name);
    case TypeKind::kLiteral: return Leaf("literal " + at + " " + QuoteForDump(t->name));
    case TypeKind::kList: return Wrap("list-of " + at, TypeS(t->element.get()));
    case TypeKind::kMap: return Wrap("map-of " + at, TypeS(t->element.get()));
    case TypeKind::kRange: return Wrap("range-of " + at, TypeS(t->element.get()));
    case TypeKind::kOptional: return Wrap("optional " + at, TypeS(t->element.get()));
    case TypeKind::kUnion: {
      S s{"union " + at, {}};
      for (const auto& a : t->alternatives) s.kids.push_back(TypeS(a.get()));
      return s;
    }
    case TypeKind::kRecord: {
      S s{"record " + at, {}};
      for (const RecordField& f : t->fields) {
        S fs{"field " + Pos(f.range) + " " + f.name + (f.optional ? "?" : ""), {}};
        for (const auto& m : f.modifiers) fs.head += " " + m;
        if (!f.doc.empty()) fs.kids.push_back(Leaf("doc " + QuoteForDump(f.doc)));
        fs.kids.push_back(TypeS(f.type.get()));
        if (f.default_value) fs.kids.push_back(Wrap("default", ExprS(f.default_value.get())));
        s.kids.push_back(std::move(fs));
      }
      return s;
    }
  }
  return Leaf("?");
}

S ForS(const ForClause& f) {
  std::string vars = f.key_var.empty() ? f.value_var : f.key_var + ", " + f.value_var;
  return Wrap("for " + Pos(f.range) + " " + vars, ExprS(f.collection.get()));
}

S DeclS(const Decl& d) {
  std::string at = Pos(d.range);
  S s;
  auto doc = [&] {
    if (!d.doc.empty()) s.kids.push_back(Leaf("doc " + QuoteForDump(d.doc)));
  };
  switch (d.kind) {
    case DeclKind::kInput: {
      const auto& x = static_cast<const InputDecl&>(d);
      s.head = "input " + at + " " + d.name + (x.sensitive ? " sensitive" : "");
      doc();
      s.kids.push_back(TypeS(x.type.get()));
      if (x.default_value) s.kids.push_back(Wrap("default", ExprS(x.default_value.get())));
      break;
    }
    case DeclKind::kLet: {
      const auto& x = static_cast<const LetDecl&>(d);
      s.head = "let " + at + " " + d.name;
      doc();
      if (x.type) s.kids.push_back(TypeS(x.type.get()));
      s.kids.push_back(ExprS(x.value.get()));
      break;
    }
    case DeclKind::kOutput: {
      const auto& x = static_cast<const OutputDecl&>(d);
      s.head = "output " + at + " " + d.name + (x.sensitive ? " sensitive" : "");
      doc();
      if (x.type) s.kids.push_back(TypeS(x.type.get()));
      s.kids.push_back(ExprS(x.value.get()));
      break;
    }
    case DeclKind::kAssert: {
      const auto& x = static_cast<const AssertDecl&>(d);
      s.head = "assert " + at;
      doc();
      s.kids.push_back(ExprS(x.cond.get()));
      s.kids.push_back(ExprS(x.message.get()));
      break;
    }
    case DeclKind::kType: {
      const auto& x = static_cast<const TypeDecl&>(d);
      s.head = "typedef " + at + " " + d.name;
      doc();
      s.kids.push_back(TypeS(x.type.get()));
      break;
    }
    case DeclKind::kProvider: {
      const auto& x = static_cast<const ProviderDecl&>(d);
      s.head = "provider " + at + " " + x.type_name + " " + d.name;
      doc();
      if (x.body) s.kids.push_back(ObjectS(*x.body));
      break;
    }
    case DeclKind::kBackend: {
      const auto& x = static_cast<const BackendDecl&>(d);
      s.head = "backend " + at + " " + x.type_name;
      doc();
      if (x.body) s.kids.push_back(ObjectS(*x.body));
      break;
    }
    case DeclKind::kModule: {
      const auto& x = static_cast<const ModuleDecl&>(d);
      s.head = "module " + at + " " + d.name;
      doc();
      if (x.for_clause) s.kids.push_back(ForS(*x.for_clause));
      if (x.if_cond) s.kids.push_back(Wrap("if", ExprS(x.if_cond.get())));
      if (x.body) s.kids.push_back(ObjectS(*x.body));
      break;
    }
    case DeclKind::kResource: {
      const auto& x = static_cast<const ResourceDecl&>(d);
      s.head = "resource " + at + " " + x.FullKind() + " " + d.name;
      doc();
      if (x.for_clause) s.kids.push_back(ForS(*x.for_clause));
      if (x.if_cond) s.kids.push_back(Wrap("if", ExprS(x.if_cond.get())));
      if (x.body) s.kids.push_back(ObjectS(*x.body));
      break;
    }
  }
  return s;
}

std::string Render(const S& s) {
  std::string out;
  Print(s, 0, out);
  out += "\n";
  return out;
}

}  // namespace

std::string QuoteForDump(const std::string& text) {
  std::string out = "\"";
  for (unsigned char c : text) {
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\n': out += "\\n"; break;
      case '\r': out += "\\r"; break;
      case '\t': out += "\\t"; break;
      default:
        if (c < 0x20 || c == 0x7F) {
          char buf[8];
          std::snprintf(buf, sizeof buf, "\\x%02X", c);
          out += buf;
        } else {
          out += static_cast<char>(c);
        }
    }
  }
  return out + "\"";
}

std::string DumpFile(const File& file) {
  std::string out;
  for (const auto& d : file.decls) {
    if (d) out += Render(DeclS(*d));
  }
  for (const Comment& c : file.comments) {
    const char* kind = c.kind == CommentKind::kDoc ? "doc" : c.kind == CommentKind::kBlock ? "block" : "line";
    out += "(comment " + Pos(c.range) + " " + kind + " " + QuoteForDump(c.text) + ")\n";
  }
  return out;
}

std::string DumpExpr(const Expr& expr) { return Render(ExprS(&expr)); }

std::string DumpType(const TypeExpr& type) { return Render(TypeS(&type)); }

}  // namespace kiln::ast
