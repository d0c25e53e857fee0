#include "compiler/value/value.h"

#include <charconv>
#include <cmath>
#include <cstdio>
#include <limits>

#include "core/wire.h"

namespace kiln {

namespace {
const std::string kEmptyString;
const ValueList kEmptyList;
const ValueMap kEmptyMap;
const GpuRequest kEmptyGpu;
const ResourceData kEmptyResource;
}  // namespace

Value Value::Bool(bool b) {
  Value v;
  v.kind_ = ValueKind::kBool;
  v.i_ = b ? 1 : 0;
  return v;
}
Value Value::Int(int64_t i) {
  Value v;
  v.kind_ = ValueKind::kInt;
  v.i_ = i;
  return v;
}
Value Value::Float(double f) {
  Value v;
  v.kind_ = ValueKind::kFloat;
  v.f_ = f;
  return v;
}
Value Value::String(std::string s) {
  Value v;
  v.kind_ = ValueKind::kString;
  v.ptr_ = std::make_shared<const std::string>(std::move(s));
  return v;
}
Value Value::Duration(int64_t ms) {
  Value v;
  v.kind_ = ValueKind::kDuration;
  v.i_ = ms;
  return v;
}
Value Value::Bytes(int64_t b) {
  Value v;
  v.kind_ = ValueKind::kBytes;
  v.i_ = b;
  return v;
}
Value Value::Range(int64_t min, int64_t max, ValueKind of) {
  Value v;
  v.kind_ = ValueKind::kRange;
  v.i_ = min;
  v.j_ = max;
  v.range_of_ = of;
  return v;
}
Value Value::OpenRange(int64_t min, ValueKind of) {
  Value v = Range(min, std::numeric_limits<int64_t>::max(), of);
  v.open_ = true;
  return v;
}
Value Value::Gpu(GpuRequest g) {
  Value v;
  v.kind_ = ValueKind::kGpu;
  v.ptr_ = std::make_shared<const GpuRequest>(std::move(g));
  return v;
}
Value Value::List(ValueList items) {
  Value v;
  v.kind_ = ValueKind::kList;
  v.ptr_ = std::make_shared<const ValueList>(std::move(items));
  return v;
}
Value Value::Map(ValueMap items) {
  Value v;
  v.kind_ = ValueKind::kMap;
  v.ptr_ = std::make_shared<const ValueMap>(std::move(items));
  return v;
}
Value Value::Resource(ResourceData data) {
  Value v;
  v.kind_ = ValueKind::kResource;
  v.ptr_ = std::make_shared<const ResourceData>(std::move(data));
  return v;
}
Value Value::Unknown() {
  Value v;
  v.kind_ = ValueKind::kUnknown;
  return v;
}

const std::string& Value::AsString() const {
  return kind_ == ValueKind::kString ? *static_cast<const std::string*>(ptr_.get()) : kEmptyString;
}
const GpuRequest& Value::AsGpu() const {
  return kind_ == ValueKind::kGpu ? *static_cast<const GpuRequest*>(ptr_.get()) : kEmptyGpu;
}
const ValueList& Value::AsList() const {
  return kind_ == ValueKind::kList ? *static_cast<const ValueList*>(ptr_.get()) : kEmptyList;
}
const ValueMap& Value::AsMap() const {
  if (kind_ == ValueKind::kMap) return *static_cast<const ValueMap*>(ptr_.get());
  if (kind_ == ValueKind::kResource) return AsResource().attrs;
  return kEmptyMap;
}
const ResourceData& Value::AsResource() const {
  return kind_ == ValueKind::kResource ? *static_cast<const ResourceData*>(ptr_.get())
                                       : kEmptyResource;
}

bool Value::IsWhollyKnown() const {
  switch (kind_) {
    case ValueKind::kUnknown:
      return false;
    case ValueKind::kList:
      for (const auto& v : AsList()) {
        if (!v.IsWhollyKnown()) return false;
      }
      return true;
    case ValueKind::kMap:
      for (const auto& [k, v] : AsMap()) {
        if (!v.IsWhollyKnown()) return false;
      }
      return true;
    default:
      return true;
  }
}

bool Value::ContainsSensitive() const {
  if (sensitive_) return true;
  if (kind_ == ValueKind::kList) {
    for (const auto& v : AsList()) {
      if (v.ContainsSensitive()) return true;
    }
  } else if (kind_ == ValueKind::kMap) {
    for (const auto& [k, v] : AsMap()) {
      if (v.ContainsSensitive()) return true;
    }
  }
  return false;
}

bool Value::Equals(const Value& o) const {
  if (IsNumber() && o.IsNumber()) {
    if (kind_ == ValueKind::kInt && o.kind_ == ValueKind::kInt) return i_ == o.i_;
    return AsNumber() == o.AsNumber();
  }
  if (kind_ != o.kind_) return false;
  switch (kind_) {
    case ValueKind::kNull:
    case ValueKind::kUnknown:
      return true;
    case ValueKind::kBool:
    case ValueKind::kDuration:
    case ValueKind::kBytes:
      return i_ == o.i_;
    case ValueKind::kRange:
      return i_ == o.i_ && j_ == o.j_ && open_ == o.open_ && range_of_ == o.range_of_;
    case ValueKind::kString:
      return AsString() == o.AsString();
    case ValueKind::kGpu:
      return AsGpu().model == o.AsGpu().model && AsGpu().memory == o.AsGpu().memory &&
             AsGpu().count == o.AsGpu().count && AsGpu().memory_max == o.AsGpu().memory_max &&
             AsGpu().count_max == o.AsGpu().count_max;
    case ValueKind::kList: {
      const auto& a = AsList();
      const auto& b = o.AsList();
      if (a.size() != b.size()) return false;
      for (size_t i = 0; i < a.size(); ++i) {
        if (!a[i].Equals(b[i])) return false;
      }
      return true;
    }
    case ValueKind::kMap: {
      const auto& a = AsMap();
      const auto& b = o.AsMap();
      if (a.size() != b.size()) return false;
      for (auto x = a.begin(), y = b.begin(); x != a.end(); ++x, ++y) {
        if (x->first != y->first || !x->second.Equals(y->second)) return false;
      }
      return true;
    }
    case ValueKind::kResource:
      return AsResource().address == o.AsResource().address;
    default:
      return false;
  }
}

const char* ValueKindName(ValueKind k) {
  static const char* names[] = {"null", "bool", "int", "float", "string", "duration", "bytes",
                                "range", "gpu", "list", "map", "resource", "unknown"};
  return names[static_cast<int>(k)];
}

namespace {

struct UnitStep {
  const char* name;
  int64_t scale;
};

std::string FormatScaled(int64_t n, const UnitStep* units, size_t count) {
  // Largest unit that divides the value exactly.
  for (size_t i = 0; i < count; ++i) {
    const UnitStep& u = units[i];
    if (n != 0 && n % u.scale == 0) return std::to_string(n / u.scale) + u.name;
  }
  return std::to_string(n) + units[count - 1].name;
}

}  // namespace

std::string FormatDuration(int64_t ms) {
  static const UnitStep units[] = {
      {"d", 86400000}, {"h", 3600000}, {"m", 60000}, {"s", 1000}, {"ms", 1}};
  return FormatScaled(ms, units, 5);
}

std::string FormatBytes(int64_t bytes) {
  // Binary units first: 1073741824 prints 1GiB, 1000000000 prints 1GB.
  static const UnitStep units[] = {
      {"PiB", 1LL << 50}, {"PB", 1000LL * 1000 * 1000 * 1000 * 1000},
      {"TiB", 1LL << 40}, {"TB", 1000LL * 1000 * 1000 * 1000},
      {"GiB", 1LL << 30}, {"GB", 1000LL * 1000 * 1000},
      {"MiB", 1LL << 20}, {"MB", 1000LL * 1000},
      {"KiB", 1LL << 10}, {"KB", 1000},
      {"B", 1}};
  return FormatScaled(bytes, units, 11);
}

std::string FormatFloat(double f) {
  if (std::isnan(f)) return "NaN";
  if (std::isinf(f)) return f > 0 ? "Infinity" : "-Infinity";
  char buf[64];
  double a = std::fabs(f);
  std::to_chars_result r;
  if (a == 0 || (a >= 1e-7 && a < 1e21)) {
    r = std::to_chars(buf, buf + sizeof(buf), f, std::chars_format::fixed);
  } else {
    r = std::to_chars(buf, buf + sizeof(buf), f);
  }
  return std::string(buf, r.ptr);
}

std::string FormatGpu(const GpuRequest& g) {
  std::string count = std::to_string(g.count);
  if (g.count_max > g.count) count += ".." + std::to_string(g.count_max);
  if (!g.model.empty()) return g.model + ":" + count;
  std::string memory = FormatBytes(g.memory);
  if (g.memory_max > 0) memory += ".." + FormatBytes(g.memory_max);
  return memory + ":" + count;
}

std::string FormatRange(const Value& r) {
  auto end = [&](int64_t n) { return r.RangeOf() == ValueKind::kBytes ? FormatBytes(n) : std::to_string(n); };
  if (r.RangeOpen()) return end(r.RangeMin()) + "..";
  return end(r.RangeMin()) + ".." + end(r.RangeMax());
}

std::string DisplayString(const Value& v) {
  switch (v.kind()) {
    case ValueKind::kNull:
      return "null";
    case ValueKind::kBool:
      return v.AsBool() ? "true" : "false";
    case ValueKind::kInt:
      return std::to_string(v.AsInt());
    case ValueKind::kFloat:
      return FormatFloat(v.AsNumber());
    case ValueKind::kString:
      return v.AsString();
    case ValueKind::kDuration:
      return FormatDuration(v.Quantity());
    case ValueKind::kBytes:
      return FormatBytes(v.Quantity());
    case ValueKind::kRange:
      return FormatRange(v);
    case ValueKind::kGpu:
      return FormatGpu(v.AsGpu());
    case ValueKind::kResource:
      return v.AsResource().address;
    case ValueKind::kUnknown:
      return "(known after apply)";
    default:
      return ToJson(v).dump();
  }
}

nlohmann::json ToJson(const Value& v, const JsonOptions& options) {
  using nlohmann::json;
  if (options.redact && v.sensitive()) return "(sensitive)";
  switch (v.kind()) {
    case ValueKind::kNull:
      return nullptr;
    case ValueKind::kBool:
      return v.AsBool();
    case ValueKind::kInt:
    case ValueKind::kDuration:
    case ValueKind::kBytes:
      return v.AsInt();
    case ValueKind::kFloat:
      return v.AsNumber();
    case ValueKind::kString:
      return v.AsString();
    case ValueKind::kRange:
      if (v.RangeOpen()) return json{{"min", v.RangeMin()}, {"max", nullptr}};
      return json{{"min", v.RangeMin()}, {"max", v.RangeMax()}};
    case ValueKind::kGpu: {
      const GpuRequest& g = v.AsGpu();
      json out = g.model.empty() ? json{{"memory", g.memory}, {"count", g.count}}
                                 : json{{"model", g.model}, {"count", g.count}};
      if (g.memory_max > 0) out["memory_max"] = g.memory_max;
      if (g.count_max > g.count) out["count_max"] = g.count_max;
      return out;
    }
    case ValueKind::kList: {
      json out = json::array();
      for (const auto& item : v.AsList()) out.push_back(ToJson(item, options));
      return out;
    }
    case ValueKind::kMap:
      return MapToJson(v.AsMap(), options);
    case ValueKind::kResource: {
      if (options.resource_as_address) return v.AsResource().address;
      json out = json::object();
      for (const auto& [k, item] : v.AsResource().attrs) out[k] = ToJson(item, options);
      return out;
    }
    case ValueKind::kUnknown:
      return kiln::Unknown();
  }
  return nullptr;
}

nlohmann::json MapToJson(const ValueMap& m, const JsonOptions& options) {
  nlohmann::json out = nlohmann::json::object();
  auto& obj = out.get_ref<nlohmann::json::object_t&>();
  // Both maps are sorted by key: append at the end without searching.
  for (const auto& [k, item] : m) obj.emplace_hint(obj.end(), k, ToJson(item, options));
  return out;
}

Value FromJson(const nlohmann::json& j) {
  switch (j.type()) {
    case nlohmann::json::value_t::boolean:
      return Value::Bool(j.get<bool>());
    case nlohmann::json::value_t::number_integer:
    case nlohmann::json::value_t::number_unsigned:
      return Value::Int(j.get<int64_t>());
    case nlohmann::json::value_t::number_float:
      return Value::Float(j.get<double>());
    case nlohmann::json::value_t::string:
      return Value::String(j.get<std::string>());
    case nlohmann::json::value_t::array: {
      ValueList items;
      items.reserve(j.size());
      for (const auto& e : j) items.push_back(FromJson(e));
      return Value::List(std::move(items));
    }
    case nlohmann::json::value_t::object: {
      if (IsUnknown(j)) return Value::Unknown();
      ValueMap items;
      for (auto it = j.begin(); it != j.end(); ++it) items.emplace(it.key(), FromJson(it.value()));
      return Value::Map(std::move(items));
    }
    default:
      return Value();
  }
}

void CollectSensitivePaths(const Value& v, std::vector<std::string>& prefix,
                           std::vector<std::vector<std::string>>* out) {
  if (v.sensitive()) {
    out->push_back(prefix);
    return;
  }
  if (v.kind() == ValueKind::kList) {
    const auto& items = v.AsList();
    for (size_t i = 0; i < items.size(); ++i) {
      prefix.push_back(std::to_string(i));
      CollectSensitivePaths(items[i], prefix, out);
      prefix.pop_back();
    }
  } else if (v.kind() == ValueKind::kMap) {
    for (const auto& [k, item] : v.AsMap()) {
      prefix.push_back(k);
      CollectSensitivePaths(item, prefix, out);
      prefix.pop_back();
    }
  }
}

void CollectQuantityPaths(const Value& v, std::vector<std::string>& prefix,
                          std::vector<std::vector<std::string>>* durations,
                          std::vector<std::vector<std::string>>* bytes) {
  switch (v.kind()) {
    case ValueKind::kDuration:
      durations->push_back(prefix);
      return;
    case ValueKind::kBytes:
      bytes->push_back(prefix);
      return;
    case ValueKind::kGpu:
      if (v.AsGpu().model.empty()) {
        prefix.push_back("memory");
        bytes->push_back(prefix);
        prefix.pop_back();
      }
      if (v.AsGpu().memory_max > 0) {
        prefix.push_back("memory_max");
        bytes->push_back(prefix);
        prefix.pop_back();
      }
      return;
    case ValueKind::kRange:
      if (v.RangeOf() == ValueKind::kBytes) {
        prefix.push_back("min");
        bytes->push_back(prefix);
        prefix.back() = "max";
        if (!v.RangeOpen()) bytes->push_back(prefix);
        prefix.pop_back();
      }
      return;
    case ValueKind::kList: {
      const auto& items = v.AsList();
      for (size_t i = 0; i < items.size(); ++i) {
        prefix.push_back(std::to_string(i));
        CollectQuantityPaths(items[i], prefix, durations, bytes);
        prefix.pop_back();
      }
      return;
    }
    case ValueKind::kMap:
      for (const auto& [k, item] : v.AsMap()) {
        prefix.push_back(k);
        CollectQuantityPaths(item, prefix, durations, bytes);
        prefix.pop_back();
      }
      return;
    default:
      return;
  }
}

}  // namespace kiln
