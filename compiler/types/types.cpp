#include "compiler/types/types.h"

#include <algorithm>
#include <map>

namespace kiln {

const Field* Type::FindField(const std::string& n) const {
  auto it = std::lower_bound(fields.begin(), fields.end(), n,
                             [](const Field& f, const std::string& x) { return f.name < x; });
  return it != fields.end() && it->name == n ? &*it : nullptr;
}

std::vector<std::string> Type::FieldNames() const {
  std::vector<std::string> out;
  out.reserve(fields.size());
  for (const auto& f : fields) out.push_back(f.name);
  return out;
}

namespace {

TypeRef Make(TypeKind k) {
  auto t = std::make_shared<Type>();
  t->kind = k;
  return t;
}

}  // namespace

TypeRef AnyType() {
  static const TypeRef t = Make(TypeKind::kAny);
  return t;
}

TypeRef PrimitiveType(TypeKind k) {
  static const std::vector<TypeRef> all = [] {
    std::vector<TypeRef> v;
    for (int i = 0; i <= static_cast<int>(TypeKind::kGpu); ++i) v.push_back(Make(static_cast<TypeKind>(i)));
    return v;
  }();
  int i = static_cast<int>(k);
  return i < static_cast<int>(all.size()) ? all[i] : AnyType();
}

TypeRef ListOf(TypeRef element) {
  auto t = std::make_shared<Type>();
  t->kind = TypeKind::kList;
  t->element = std::move(element);
  return t;
}

TypeRef MapOf(TypeRef element) {
  auto t = std::make_shared<Type>();
  t->kind = TypeKind::kMap;
  t->element = std::move(element);
  return t;
}

TypeRef RangeOf(TypeRef element) {
  auto t = std::make_shared<Type>();
  t->kind = TypeKind::kRange;
  t->element = std::move(element);
  return t;
}

TypeRef OptionalOf(TypeRef element) {
  if (element->kind == TypeKind::kOptional || element->kind == TypeKind::kAny ||
      element->kind == TypeKind::kNull) {
    return element;
  }
  auto t = std::make_shared<Type>();
  t->kind = TypeKind::kOptional;
  t->bounded = element->bounded;
  t->element = std::move(element);
  return t;
}

TypeRef LiteralType(std::string text) {
  auto t = std::make_shared<Type>();
  t->kind = TypeKind::kLiteral;
  t->text = std::move(text);
  return t;
}

TypeRef UnionOf(std::vector<TypeRef> alternatives) {
  auto t = std::make_shared<Type>();
  t->kind = TypeKind::kUnion;
  t->alternatives = std::move(alternatives);
  return t;
}

TypeRef RecordOf(std::vector<Field> fields, std::string name) {
  auto t = std::make_shared<Type>();
  t->kind = TypeKind::kRecord;
  std::sort(fields.begin(), fields.end(),
            [](const Field& a, const Field& b) { return a.name < b.name; });
  t->fields = std::move(fields);
  t->name = std::move(name);
  for (const Field& f : t->fields) t->bounded = t->bounded || f.bound != Bound::kNone || f.type->bounded;
  return t;
}

TypeRef KindType(std::string name, std::string provider_type, TypeRef schema) {
  auto t = std::make_shared<Type>();
  t->kind = TypeKind::kKind;
  t->text = std::move(name);
  t->provider_type = std::move(provider_type);
  t->schema = std::move(schema);
  return t;
}

TypeRef PrimitiveByName(const std::string& name) {
  static const std::map<std::string, TypeKind> names = {
      {"string", TypeKind::kString}, {"bool", TypeKind::kBool},
      {"int", TypeKind::kInt},       {"float", TypeKind::kFloat},
      {"duration", TypeKind::kDuration}, {"bytes", TypeKind::kBytes},
      {"range", TypeKind::kRange},   {"gpu", TypeKind::kGpu},
      {"any", TypeKind::kAny},       {"null", TypeKind::kNull},
  };
  auto it = names.find(name);
  if (it == names.end()) return nullptr;
  return it->second == TypeKind::kAny ? AnyType() : PrimitiveType(it->second);
}

std::string TypeToString(const TypeRef& t) {
  if (!t) return "?";
  switch (t->kind) {
    case TypeKind::kAny: return "any";
    case TypeKind::kNull: return "null";
    case TypeKind::kBool: return "bool";
    case TypeKind::kInt: return "int";
    case TypeKind::kFloat: return "float";
    case TypeKind::kString: return "string";
    case TypeKind::kDuration: return "duration";
    case TypeKind::kBytes: return "bytes";
    case TypeKind::kRange: return t->element ? "range<" + TypeToString(t->element) + ">" : "range";
    case TypeKind::kGpu: return "gpu";
    case TypeKind::kList: return "list<" + TypeToString(t->element) + ">";
    case TypeKind::kMap: return "map<" + TypeToString(t->element) + ">";
    case TypeKind::kOptional: {
      std::string inner = TypeToString(t->element);
      if (t->element->kind == TypeKind::kUnion) inner = "(" + inner + ")";
      return inner + "?";
    }
    case TypeKind::kLiteral: return "\"" + t->text + "\"";
    case TypeKind::kKind: return t->provider_type.empty() ? t->text : t->provider_type + "." + t->text;
    case TypeKind::kUnion: {
      std::string out;
      for (const auto& a : t->alternatives) {
        if (!out.empty()) out += " | ";
        out += TypeToString(a);
      }
      return out;
    }
    case TypeKind::kRecord: {
      if (!t->name.empty()) return t->name;
      std::string out = "{ ";
      bool first = true;
      for (const auto& f : t->fields) {
        if (!first) out += ", ";
        first = false;
        out += f.name + (f.optional ? "?: " : ": ") + TypeToString(f.type);
      }
      return out + (first ? "}" : " }");
    }
  }
  return "?";
}

TypeRef NonOptional(const TypeRef& t) {
  return t && t->kind == TypeKind::kOptional ? t->element : t;
}

bool IsOptional(const TypeRef& t) {
  return t && (t->kind == TypeKind::kOptional || t->kind == TypeKind::kNull || t->kind == TypeKind::kAny);
}

bool IsNumeric(const TypeRef& t) {
  return t->kind == TypeKind::kInt || t->kind == TypeKind::kFloat || t->kind == TypeKind::kAny;
}

namespace {

bool Fail(std::string* why, std::string text) {
  if (why && why->empty()) *why = std::move(text);
  return false;
}

bool RecordAssignable(const Type& target, const Type& src, std::string* why) {
  for (const auto& f : src.fields) {
    const Field* tf = target.FindField(f.name);
    if (!tf) {
      if (target.open) continue;
      return Fail(why, "unknown field `" + f.name + "`");
    }
    if (tf->computed) return Fail(why, "field `" + f.name + "` is computed");
    std::string inner;
    if (!Assignable(tf->type, f.type, &inner)) {
      return Fail(why, "field `" + f.name + "` expects " + TypeToString(tf->type) + ", found " +
                           TypeToString(f.type));
    }
  }
  for (const auto& tf : target.fields) {
    if (tf.Required() && !src.FindField(tf.name)) {
      return Fail(why, "missing required field `" + tf.name + "`");
    }
  }
  return true;
}

}  // namespace

bool Assignable(const TypeRef& target, const TypeRef& src, std::string* why) {
  if (!target || !src) return true;
  if (target->kind == TypeKind::kAny || src->kind == TypeKind::kAny) return true;
  if (target->kind == TypeKind::kOptional) {
    if (src->kind == TypeKind::kNull) return true;
    return Assignable(target->element, NonOptional(src), why);
  }
  // A nullable source is accepted where its value type is expected; a null
  // that arrives at run time is then reported by the evaluator.
  if (src->kind == TypeKind::kOptional) return Assignable(target, src->element, why);
  // A union source fits when each of its alternatives does; checked before a
  // union target so that `"a" | "b"` fits `"a" | "b" | "c"`.
  if (src->kind == TypeKind::kUnion) {
    for (const auto& a : src->alternatives) {
      if (!Assignable(target, a, why)) return false;
    }
    return true;
  }
  if (target->kind == TypeKind::kUnion) {
    for (const auto& a : target->alternatives) {
      if (Assignable(a, src)) return true;
    }
    return false;
  }
  switch (target->kind) {
    case TypeKind::kLiteral:
      // A plain string may hold any member; the evaluator checks the value.
      return (src->kind == TypeKind::kLiteral && src->text == target->text) ||
             src->kind == TypeKind::kString;
    case TypeKind::kString:
      return src->kind == TypeKind::kString || src->kind == TypeKind::kLiteral;
    case TypeKind::kFloat:
      return src->kind == TypeKind::kFloat || src->kind == TypeKind::kInt;
    case TypeKind::kRange: {
      // Ends of the same kind; a single value `n` means `n..n`.
      TypeKind end = target->element ? target->element->kind : TypeKind::kInt;
      TypeKind src_end = src->kind == TypeKind::kRange && src->element ? src->element->kind : TypeKind::kInt;
      return (src->kind == TypeKind::kRange && src_end == end) || src->kind == end;
    }
    case TypeKind::kGpu:
      if (src->kind == TypeKind::kGpu || src->kind == TypeKind::kString ||
          src->kind == TypeKind::kLiteral) {
        return true;
      }
      // Alternatives: an ordered list of requests, or `{ any_of = [...] }`.
      if (src->kind == TypeKind::kList) return Assignable(target, src->element, why);
      if (src->kind == TypeKind::kRecord && src->fields.size() == 1 && src->fields[0].name == "any_of") {
        return src->fields[0].type->kind == TypeKind::kList && Assignable(target, src->fields[0].type->element, why);
      }
      if (src->kind == TypeKind::kRecord) {
        for (const auto& f : src->fields) {
          if (f.name != "model" && f.name != "memory" && f.name != "count") {
            return Fail(why, "unknown field `" + f.name + "` (a gpu has model or memory, and count)");
          }
        }
        return true;
      }
      return false;
    case TypeKind::kList:
      if (src->kind != TypeKind::kList) return false;
      return Assignable(target->element, src->element, why);
    case TypeKind::kMap:
      if (src->kind == TypeKind::kMap) return Assignable(target->element, src->element, why);
      if (src->kind == TypeKind::kRecord) {
        for (const auto& f : src->fields) {
          if (!Assignable(target->element, f.type)) {
            return Fail(why, "key `" + f.name + "` is " + TypeToString(f.type) + ", expected " +
                                 TypeToString(target->element));
          }
        }
        return true;
      }
      return false;
    case TypeKind::kRecord:
      if (src->kind == TypeKind::kRecord) return RecordAssignable(*target, *src, why);
      if (src->kind == TypeKind::kMap) {
        for (const auto& f : target->fields) {
          if (!Assignable(f.type, src->element)) return false;
        }
        return true;
      }
      return false;
    case TypeKind::kKind:
      return src->kind == TypeKind::kKind && src->text == target->text &&
             src->provider_type == target->provider_type;
    default:
      return src->kind == target->kind;
  }
}

TypeRef Unify(const TypeRef& a, const TypeRef& b) {
  if (a->kind == TypeKind::kAny || b->kind == TypeKind::kAny) return AnyType();
  if (a->kind == TypeKind::kNull) return OptionalOf(b);
  if (b->kind == TypeKind::kNull) return OptionalOf(a);
  if (a->kind == TypeKind::kOptional || b->kind == TypeKind::kOptional) {
    TypeRef u = Unify(NonOptional(a), NonOptional(b));
    return OptionalOf(u);
  }
  if (a->kind == TypeKind::kLiteral && b->kind == TypeKind::kLiteral) {
    return a->text == b->text ? a : PrimitiveType(TypeKind::kString);
  }
  auto is_str = [](const TypeRef& t) {
    return t->kind == TypeKind::kString || t->kind == TypeKind::kLiteral;
  };
  if (is_str(a) && is_str(b)) return PrimitiveType(TypeKind::kString);
  if (IsNumeric(a) && IsNumeric(b) && a->kind != b->kind) return PrimitiveType(TypeKind::kFloat);
  if (a->kind != b->kind) {
    if ((a->kind == TypeKind::kRecord || a->kind == TypeKind::kMap) &&
        (b->kind == TypeKind::kRecord || b->kind == TypeKind::kMap)) {
      TypeRef e;
      for (const TypeRef& t : {a, b}) {
        if (t->kind == TypeKind::kMap) {
          e = e ? Unify(e, t->element) : t->element;
        } else {
          for (const auto& f : t->fields) e = e ? Unify(e, f.type) : f.type;
        }
      }
      return MapOf(e ? e : AnyType());
    }
    return AnyType();
  }
  switch (a->kind) {
    case TypeKind::kList:
      return ListOf(Unify(a->element, b->element));
    case TypeKind::kMap:
      return MapOf(Unify(a->element, b->element));
    case TypeKind::kRecord: {
      if (a->fields.size() != b->fields.size()) return AnyType();
      std::vector<Field> fields;
      for (size_t i = 0; i < a->fields.size(); ++i) {
        if (a->fields[i].name != b->fields[i].name) return AnyType();
        Field f = a->fields[i];
        f.type = Unify(a->fields[i].type, b->fields[i].type);
        fields.push_back(std::move(f));
      }
      return RecordOf(std::move(fields), a->name == b->name ? a->name : "");
    }
    case TypeKind::kKind:
      return a->text == b->text ? a : AnyType();
    case TypeKind::kUnion:
      return a;
    default:
      return a;
  }
}

}  // namespace kiln
