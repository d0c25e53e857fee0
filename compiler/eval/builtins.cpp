// The builtin functions of LANGUAGE.md §9. Signatures are checked by
// check/; here arguments are values of the right kinds. Unknowns: most
// builtins need wholly known arguments (else the result is unknown), but
// those that look only at a collection's shape or move its elements around
// (length, keys, values, merge, concat, lookup, contains, flatten, env) give
// as much as is known; see PartlyKnown below.
#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <sstream>
#include <unordered_map>

#include "compiler/eval/eval.h"
#include "core/hash.h"

namespace kiln {

namespace {

using Args = std::vector<Value>;
struct Result {
  Value value;
  std::string error;
};
using Fn = std::function<bool(const Args&, const BuiltinContext&, Value*, std::string*)>;

bool Err(std::string* error, std::string msg) {
  *error = std::move(msg);
  return false;
}

// product() and range() build lists: at most this many elements.
constexpr size_t kMaxBuiltinList = 1000000;

bool IsMapLike(const Value& v) { return v.kind() == ValueKind::kMap || v.kind() == ValueKind::kResource; }

// Total order for sort(): numbers, then strings, by value.
bool Less(const Value& a, const Value& b) {
  if (a.IsNumber() && b.IsNumber()) return a.AsNumber() < b.AsNumber();
  if ((a.kind() == ValueKind::kDuration || a.kind() == ValueKind::kBytes) && a.kind() == b.kind()) return a.Quantity() < b.Quantity();
  if (a.kind() != b.kind()) return a.kind() < b.kind();
  return DisplayString(a) < DisplayString(b);
}

std::string Trim(const std::string& s) {
  size_t b = s.find_first_not_of(" \t\r\n\v\f");
  if (b == std::string::npos) return "";
  size_t e = s.find_last_not_of(" \t\r\n\v\f");
  return s.substr(b, e - b + 1);
}

bool Format(const Args& a, Value* out, std::string* error) {
  const std::string& fmt = a[0].AsString();
  std::string result;
  size_t next = 1;
  for (size_t i = 0; i < fmt.size(); ++i) {
    if (fmt[i] != '%') {
      result += fmt[i];
      continue;
    }
    if (i + 1 >= fmt.size()) return Err(error, "the format ends with a lone `%`");
    char verb = fmt[++i];
    if (verb == '%') {
      result += '%';
      continue;
    }
    if (next >= a.size()) return Err(error, "not enough arguments for the format \"" + fmt + "\"");
    const Value& v = a[next++];
    switch (verb) {
      case 's':
      case 'v':
        result += DisplayString(v);
        break;
      case 'd':
        if (v.kind() != ValueKind::kInt) return Err(error, "%d needs an int, found " + std::string(ValueKindName(v.kind())));
        result += std::to_string(v.AsInt());
        break;
      case 'f': {
        if (!v.IsNumber()) return Err(error, "%f needs a number, found " + std::string(ValueKindName(v.kind())));
        char buf[64];
        std::snprintf(buf, sizeof(buf), "%f", v.AsNumber());
        result += buf;
        break;
      }
      default:
        return Err(error, std::string("unknown format verb `%") + verb + "` (use %s %d %f %v %%)");
    }
  }
  if (next < a.size()) return Err(error, "too many arguments for the format \"" + fmt + "\"");
  *out = Value::String(std::move(result));
  return true;
}

bool MinMax(const Args& a, bool is_max, Value* out, std::string* error) {
  Value best = a[0];
  for (size_t i = 1; i < a.size(); ++i) {
    const Value& v = a[i];
    bool num = best.IsNumber() && v.IsNumber();
    bool qty = best.kind() == v.kind() && (v.kind() == ValueKind::kDuration || v.kind() == ValueKind::kBytes);
    if (!num && !qty) return Err(error, "cannot compare " + std::string(ValueKindName(best.kind())) + " and " + ValueKindName(v.kind()));
    bool less = num ? v.AsNumber() < best.AsNumber() : v.Quantity() < best.Quantity();
    bool more = num ? v.AsNumber() > best.AsNumber() : v.Quantity() > best.Quantity();
    if (is_max ? more : less) best = v;
  }
  // Mixed ints and floats give a float.
  bool any_float = std::any_of(a.begin(), a.end(), [](const Value& v) { return v.kind() == ValueKind::kFloat; });
  *out = any_float && best.IsNumber() ? Value::Float(best.AsNumber()) : best;
  return true;
}

const std::unordered_map<std::string, Fn>& Table() {
  static const std::unordered_map<std::string, Fn> table = {
      {"length", [](const Args& a, const BuiltinContext&, Value* out, std::string* error) {
         const Value& v = a[0];
         if (v.kind() == ValueKind::kList) *out = Value::Int(static_cast<int64_t>(v.AsList().size()));
         else if (IsMapLike(v)) *out = Value::Int(static_cast<int64_t>(v.AsMap().size()));
         else if (v.kind() == ValueKind::kString) {
           // Characters, not bytes: count UTF-8 lead bytes.
           int64_t n = 0;
           for (unsigned char c : v.AsString()) n += (c & 0xC0) != 0x80;
           *out = Value::Int(n);
         } else return Err(error, "needs a list, map or string");
         return true;
       }},
      {"keys", [](const Args& a, const BuiltinContext&, Value* out, std::string* error) {
         if (!IsMapLike(a[0])) return Err(error, "needs a map");
         ValueList keys;
         for (const auto& [k, v] : a[0].AsMap()) keys.push_back(Value::String(k));
         *out = Value::List(std::move(keys));
         return true;
       }},
      {"values", [](const Args& a, const BuiltinContext&, Value* out, std::string* error) {
         if (!IsMapLike(a[0])) return Err(error, "needs a map");
         ValueList vals;
         for (const auto& [k, v] : a[0].AsMap()) vals.push_back(v);
         *out = Value::List(std::move(vals));
         return true;
       }},
      {"merge", [](const Args& a, const BuiltinContext&, Value* out, std::string* error) {
         ValueMap m;
         for (const auto& v : a) {
           if (v.is_null()) continue;
           if (!IsMapLike(v)) return Err(error, "needs maps");
           for (const auto& [k, x] : v.AsMap()) m[k] = x;
         }
         *out = Value::Map(std::move(m));
         return true;
       }},
      {"concat", [](const Args& a, const BuiltinContext&, Value* out, std::string* error) {
         ValueList l;
         for (const auto& v : a) {
           if (v.kind() != ValueKind::kList) return Err(error, "needs lists");
           l.insert(l.end(), v.AsList().begin(), v.AsList().end());
         }
         *out = Value::List(std::move(l));
         return true;
       }},
      {"contains", [](const Args& a, const BuiltinContext&, Value* out, std::string* error) {
         if (a[0].kind() != ValueKind::kList) return Err(error, "needs a list");
         bool found = std::any_of(a[0].AsList().begin(), a[0].AsList().end(), [&](const Value& v) { return v.Equals(a[1]); });
         *out = Value::Bool(found);
         return true;
       }},
      {"lookup", [](const Args& a, const BuiltinContext&, Value* out, std::string* error) {
         if (!IsMapLike(a[0])) return Err(error, "needs a map");
         auto it = a[0].AsMap().find(a[1].AsString());
         *out = it == a[0].AsMap().end() ? a[2] : it->second;
         return true;
       }},
      {"flatten", [](const Args& a, const BuiltinContext&, Value* out, std::string* error) {
         if (a[0].kind() != ValueKind::kList) return Err(error, "needs a list");
         ValueList l;
         std::function<void(const Value&)> add = [&](const Value& v) {
           if (v.kind() == ValueKind::kList) {
             for (const auto& x : v.AsList()) add(x);
           } else {
             l.push_back(v);
           }
         };
         add(a[0]);
         *out = Value::List(std::move(l));
         return true;
       }},
      {"product", [](const Args& a, const BuiltinContext&, Value* out, std::string* error) {
         // The cartesian product, in order: the last list varies fastest.
         size_t total = 1;
         for (const Value& l : a) {
           if (l.kind() != ValueKind::kList) return Err(error, "needs lists");
           if (__builtin_mul_overflow(total, l.AsList().size(), &total) || total > kMaxBuiltinList) {
             return Err(error, "the product has more than " + std::to_string(kMaxBuiltinList) + " elements");
           }
         }
         ValueList result;
         result.reserve(total);
         std::vector<size_t> at(a.size(), 0);
         for (size_t n = 0; n < total; ++n) {
           ValueList row;
           row.reserve(a.size());
           for (size_t i = 0; i < a.size(); ++i) row.push_back(a[i].AsList()[at[i]]);
           result.push_back(Value::List(std::move(row)));
           for (size_t i = a.size(); i-- > 0;) {
             if (++at[i] < a[i].AsList().size()) break;
             at[i] = 0;
           }
         }
         *out = Value::List(std::move(result));
         return true;
       }},
      {"range", [](const Args& a, const BuiltinContext&, Value* out, std::string* error) {
         // range(start, end[, step]): from start up to (not including) end,
         // like Terraform's and Python's; ints give ints, any float floats.
         bool ints = std::all_of(a.begin(), a.end(), [](const Value& v) { return v.kind() == ValueKind::kInt; });
         double start = a[0].AsNumber(), end = a[1].AsNumber();
         double step = a.size() > 2 ? a[2].AsNumber() : (start <= end ? 1 : -1);
         if (step == 0 || !std::isfinite(step)) return Err(error, "the step must not be zero");
         if ((end - start) / step < 0) return Err(error, "a step of " + DisplayString(a.size() > 2 ? a[2] : Value::Float(step)) + " never reaches " + DisplayString(a[1]) + " from " + DisplayString(a[0]));
         double count = std::ceil((end - start) / step);
         if (!(count <= static_cast<double>(kMaxBuiltinList))) {
           return Err(error, "the range has more than " + std::to_string(kMaxBuiltinList) + " elements");
         }
         ValueList l;
         size_t n = static_cast<size_t>(count);
         l.reserve(n);
         for (size_t i = 0; i < n; ++i) {
           if (ints) l.push_back(Value::Int(a[0].AsInt() + static_cast<int64_t>(i) * (a.size() > 2 ? a[2].AsInt() : (start <= end ? 1 : -1))));
           else l.push_back(Value::Float(start + static_cast<double>(i) * step));
         }
         *out = Value::List(std::move(l));
         return true;
       }},
      {"distinct", [](const Args& a, const BuiltinContext&, Value* out, std::string* error) {
         if (a[0].kind() != ValueKind::kList) return Err(error, "needs a list");
         ValueList l;
         for (const auto& v : a[0].AsList()) {
           if (std::none_of(l.begin(), l.end(), [&](const Value& x) { return x.Equals(v); })) l.push_back(v);
         }
         *out = Value::List(std::move(l));
         return true;
       }},
      {"sort", [](const Args& a, const BuiltinContext&, Value* out, std::string* error) {
         if (a[0].kind() != ValueKind::kList) return Err(error, "needs a list");
         ValueList l = a[0].AsList();
         std::stable_sort(l.begin(), l.end(), Less);
         *out = Value::List(std::move(l));
         return true;
       }},
      {"format", [](const Args& a, const BuiltinContext&, Value* out, std::string* error) { return Format(a, out, error); }},
      {"join", [](const Args& a, const BuiltinContext&, Value* out, std::string* error) {
         if (a[1].kind() != ValueKind::kList) return Err(error, "needs a list as its second argument");
         std::string s;
         bool first = true;
         for (const auto& v : a[1].AsList()) {
           if (!first) s += a[0].AsString();
           first = false;
           s += DisplayString(v);
         }
         *out = Value::String(std::move(s));
         return true;
       }},
      {"split", [](const Args& a, const BuiltinContext&, Value* out, std::string* error) {
         const std::string& sep = a[0].AsString();
         const std::string& s = a[1].AsString();
         ValueList parts;
         if (sep.empty()) {
           for (char c : s) parts.push_back(Value::String(std::string(1, c)));
         } else {
           size_t start = 0, pos;
           while ((pos = s.find(sep, start)) != std::string::npos) {
             parts.push_back(Value::String(s.substr(start, pos - start)));
             start = pos + sep.size();
           }
           parts.push_back(Value::String(s.substr(start)));
         }
         *out = Value::List(std::move(parts));
         return true;
       }},
      {"lower", [](const Args& a, const BuiltinContext&, Value* out, std::string*) {
         std::string s = a[0].AsString();
         for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
         *out = Value::String(s);
         return true;
       }},
      {"upper", [](const Args& a, const BuiltinContext&, Value* out, std::string*) {
         std::string s = a[0].AsString();
         for (char& c : s) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
         *out = Value::String(s);
         return true;
       }},
      {"replace", [](const Args& a, const BuiltinContext&, Value* out, std::string* error) {
         std::string s = a[0].AsString();
         const std::string& from = a[1].AsString();
         const std::string& to = a[2].AsString();
         if (from.empty()) return Err(error, "the string to replace is empty");
         std::string r;
         size_t start = 0, pos;
         while ((pos = s.find(from, start)) != std::string::npos) {
           r += s.substr(start, pos - start) + to;
           start = pos + from.size();
         }
         r += s.substr(start);
         *out = Value::String(std::move(r));
         return true;
       }},
      {"trim", [](const Args& a, const BuiltinContext&, Value* out, std::string*) {
         *out = Value::String(Trim(a[0].AsString()));
         return true;
       }},
      {"startswith", [](const Args& a, const BuiltinContext&, Value* out, std::string*) {
         *out = Value::Bool(a[0].AsString().rfind(a[1].AsString(), 0) == 0);
         return true;
       }},
      {"endswith", [](const Args& a, const BuiltinContext&, Value* out, std::string*) {
         const std::string& s = a[0].AsString();
         const std::string& x = a[1].AsString();
         *out = Value::Bool(s.size() >= x.size() && s.compare(s.size() - x.size(), x.size(), x) == 0);
         return true;
       }},
      {"substr", [](const Args& a, const BuiltinContext&, Value* out, std::string* error) {
         const std::string& s = a[0].AsString();
         int64_t n = static_cast<int64_t>(s.size());
         int64_t off = a[1].AsInt(), len = a[2].AsInt();
         if (off < 0) off += n;
         if (off < 0 || off > n) return Err(error, "offset " + std::to_string(a[1].AsInt()) + " is outside a string of length " + std::to_string(n));
         if (len < 0 || off + len > n) len = n - off;  // -1 (or too long): to the end
         *out = Value::String(s.substr(off, len));
         return true;
       }},
      {"min", [](const Args& a, const BuiltinContext&, Value* out, std::string* error) { return MinMax(a, false, out, error); }},
      {"max", [](const Args& a, const BuiltinContext&, Value* out, std::string* error) { return MinMax(a, true, out, error); }},
      {"abs", [](const Args& a, const BuiltinContext&, Value* out, std::string* error) {
         const Value& v = a[0];
         if (v.kind() == ValueKind::kInt) *out = Value::Int(std::llabs(v.AsInt()));
         else if (v.kind() == ValueKind::kFloat) *out = Value::Float(std::fabs(v.AsNumber()));
         else if (v.kind() == ValueKind::kDuration) *out = Value::Duration(std::llabs(v.Quantity()));
         else if (v.kind() == ValueKind::kBytes) *out = Value::Bytes(std::llabs(v.Quantity()));
         else return Err(error, "needs a number");
         return true;
       }},
      {"ceil", [](const Args& a, const BuiltinContext&, Value* out, std::string* error) {
         if (!a[0].IsNumber()) return Err(error, "needs a number");
         *out = Value::Int(static_cast<int64_t>(std::ceil(a[0].AsNumber())));
         return true;
       }},
      {"floor", [](const Args& a, const BuiltinContext&, Value* out, std::string* error) {
         if (!a[0].IsNumber()) return Err(error, "needs a number");
         *out = Value::Int(static_cast<int64_t>(std::floor(a[0].AsNumber())));
         return true;
       }},
      {"tostring", [](const Args& a, const BuiltinContext&, Value* out, std::string* error) {
         if (a[0].is_null()) return Err(error, "cannot convert null to a string");
         *out = Value::String(DisplayString(a[0]));
         return true;
       }},
      {"toint", [](const Args& a, const BuiltinContext&, Value* out, std::string* error) {
         const Value& v = a[0];
         if (v.kind() == ValueKind::kInt) *out = v;
         else if (v.kind() == ValueKind::kFloat) *out = Value::Int(static_cast<int64_t>(std::trunc(v.AsNumber())));
         else if (v.kind() == ValueKind::kBool) *out = Value::Int(v.AsBool() ? 1 : 0);
         else if (v.kind() == ValueKind::kString) {
           const std::string& s = v.AsString();
           char* end = nullptr;
           long long n = std::strtoll(s.c_str(), &end, 10);
           if (s.empty() || *end != '\0') return Err(error, "\"" + s + "\" is not an integer");
           *out = Value::Int(n);
         } else return Err(error, std::string("cannot convert ") + ValueKindName(v.kind()) + " to int");
         return true;
       }},
      {"tofloat", [](const Args& a, const BuiltinContext&, Value* out, std::string* error) {
         const Value& v = a[0];
         if (v.IsNumber()) *out = Value::Float(v.AsNumber());
         else if (v.kind() == ValueKind::kString) {
           const std::string& s = v.AsString();
           char* end = nullptr;
           double d = std::strtod(s.c_str(), &end);
           if (s.empty() || *end != '\0') return Err(error, "\"" + s + "\" is not a number");
           *out = Value::Float(d);
         } else return Err(error, std::string("cannot convert ") + ValueKindName(v.kind()) + " to float");
         return true;
       }},
      {"jsonencode", [](const Args& a, const BuiltinContext&, Value* out, std::string*) {
         *out = Value::String(ToJson(a[0]).dump());
         return true;
       }},
      {"jsondecode", [](const Args& a, const BuiltinContext&, Value* out, std::string* error) {
         nlohmann::json j = nlohmann::json::parse(a[0].AsString(), nullptr, false);
         if (j.is_discarded()) return Err(error, "the string is not valid JSON");
         *out = FromJson(j);
         return true;
       }},
      {"seconds", [](const Args& a, const BuiltinContext&, Value* out, std::string*) {
         *out = Value::Float(static_cast<double>(a[0].Quantity()) / 1000.0);
         return true;
       }},
      {"hours", [](const Args& a, const BuiltinContext&, Value* out, std::string*) {
         *out = Value::Float(static_cast<double>(a[0].Quantity()) / 3600000.0);
         return true;
       }},
      {"gib", [](const Args& a, const BuiltinContext&, Value* out, std::string*) {
         *out = Value::Float(static_cast<double>(a[0].Quantity()) / static_cast<double>(1LL << 30));
         return true;
       }},
      {"env", [](const Args& a, const BuiltinContext&, Value* out, std::string* error) {
         const char* v = std::getenv(a[0].AsString().c_str());
         if (v) {
           *out = Value::String(v);
           return true;
         }
         if (a.size() > 1) {
           *out = a[1];
           return true;
         }
         return Err(error, "environment variable " + a[0].AsString() + " is not set (give a default: env(\"" + a[0].AsString() + "\", \"...\"))");
       }},
      {"file", [](const Args& a, const BuiltinContext& ctx, Value* out, std::string* error) {
         std::filesystem::path p = a[0].AsString();
         if (p.is_relative()) p = std::filesystem::path(ctx.module_dir) / p;
         std::ifstream in(p, std::ios::binary);
         if (!in) return Err(error, "cannot read " + p.lexically_normal().string());
         std::stringstream ss;
         ss << in.rdbuf();
         *out = Value::String(ss.str());
         return true;
       }},
      {"sha256", [](const Args& a, const BuiltinContext&, Value* out, std::string*) {
         *out = Value::String(ToHex(Sha256(a[0].AsString())));
         return true;
       }},
      {"gpu_memory", [](const Args& a, const BuiltinContext& ctx, Value* out, std::string* error) {
         const GpuModelInfo* m = ctx.catalog->Find(a[0].AsString());
         if (!m) {
           std::string hint = ctx.catalog->Closest(a[0].AsString());
           return Err(error, "unknown GPU model `" + a[0].AsString() + "`" + (hint.empty() ? "" : " (did you mean `" + hint + "`?)"));
         }
         *out = Value::Bytes(m->memory);
         return true;
       }},
      {"gpu_price", [](const Args& a, const BuiltinContext& ctx, Value* out, std::string* error) {
         const GpuModelInfo* m = ctx.catalog->Find(a[0].AsString());
         if (!m) {
           std::string hint = ctx.catalog->Closest(a[0].AsString());
           return Err(error, "unknown GPU model `" + a[0].AsString() + "`" + (hint.empty() ? "" : " (did you mean `" + hint + "`?)"));
         }
         bool spot = a.size() > 1 && a[1].AsBool();
         *out = Value::Float(spot ? m->spot_hourly : m->on_demand_hourly);
         return true;
       }},
  };
  return table;
}

// How a builtin treats arguments that are unknown or hold unknowns.
enum class UnknownRule {
  kWhollyKnown,  // any unknown anywhere in the arguments: unknown result
  kShape,        // only wholly unknown arguments make the result unknown
  kLookup,       // lookup(map, key, default)
  kContains,     // contains(list, value)
  kFlatten,      // flatten(list)
  kEnv,          // env(name, default)
};

UnknownRule RuleFor(const std::string& name) {
  static const std::unordered_map<std::string, UnknownRule> rules = {
      // The length of a list or map and the keys of a map are known even
      // when some elements are not; values() and concat() keep unknown
      // elements in place. merge(): a known map with unknown values gives a
      // known key set with those values unknown; a wholly unknown map
      // argument could hold any key, so the result is wholly unknown.
      {"length", UnknownRule::kShape},   {"keys", UnknownRule::kShape},
      {"values", UnknownRule::kShape},   {"merge", UnknownRule::kShape},
      {"concat", UnknownRule::kShape},   {"lookup", UnknownRule::kLookup},
      {"product", UnknownRule::kShape},
      {"contains", UnknownRule::kContains}, {"flatten", UnknownRule::kFlatten},
      {"env", UnknownRule::kEnv},
  };
  auto it = rules.find(name);
  return it == rules.end() ? UnknownRule::kWhollyKnown : it->second;
}

// Handles the unknowns of `args` for builtin `name`. Returns true when that
// settled the result (*out), false when the builtin should run on `args`.
bool PartlyKnown(const std::string& name, const Args& args, Value* out) {
  auto any_unknown = [&]() {
    return std::any_of(args.begin(), args.end(), [](const Value& v) { return v.is_unknown(); });
  };
  auto all_known = [&]() {
    return std::all_of(args.begin(), args.end(), [](const Value& v) { return v.IsWhollyKnown(); });
  };
  switch (RuleFor(name)) {
    case UnknownRule::kWhollyKnown:
      if (all_known()) return false;
      *out = Value::Unknown();
      return true;
    case UnknownRule::kShape:
      if (!any_unknown()) return false;
      *out = Value::Unknown();
      return true;
    case UnknownRule::kLookup:
      // The value found (or the default) may itself be unknown.
      if (args.size() < 2 || (!args[0].is_unknown() && args[1].IsWhollyKnown())) return false;
      *out = Value::Unknown();
      return true;
    case UnknownRule::kContains: {
      if (args.size() < 2 || args[0].is_unknown() || !args[1].IsWhollyKnown()) {
        *out = Value::Unknown();
        return true;
      }
      if (args[0].IsWhollyKnown()) return false;
      // A known equal element settles it; otherwise an unknown element
      // might be equal.
      bool maybe = false;
      for (const Value& v : args[0].AsList()) {
        if (!v.IsWhollyKnown()) {
          maybe = true;
        } else if (v.Equals(args[1])) {
          *out = Value::Bool(true);
          return true;
        }
      }
      *out = maybe ? Value::Unknown() : Value::Bool(false);
      return true;
    }
    case UnknownRule::kFlatten: {
      // An unknown element could be a list of any length: only then is the
      // result wholly unknown. Unknowns inside maps are kept.
      std::function<bool(const Value&)> shape_known = [&](const Value& v) {
        if (v.is_unknown()) return false;
        if (v.kind() != ValueKind::kList) return true;
        return std::all_of(v.AsList().begin(), v.AsList().end(), shape_known);
      };
      if (!args.empty() && shape_known(args[0])) return false;
      *out = Value::Unknown();
      return true;
    }
    case UnknownRule::kEnv:
      // A set variable ignores the default, known or not.
      if (!args.empty() && args[0].IsWhollyKnown()) return false;
      *out = Value::Unknown();
      return true;
  }
  return false;
}

}  // namespace

bool CallBuiltin(const std::string& name, const std::vector<Value>& args, const BuiltinContext& ctx,
                 Value* out, std::string* error) {
  const auto& table = Table();
  auto it = table.find(name);
  if (it == table.end()) {
    *error = "unknown function";
    return false;
  }
  if (PartlyKnown(name, args, out)) return true;
  return it->second(args, ctx, out, error);
}

}  // namespace kiln
