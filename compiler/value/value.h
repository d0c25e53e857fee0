// Runtime values of the Kiln language. Values are small and cheap to copy:
// strings, lists, maps and resources are shared immutable payloads. Every
// value carries a sensitive mark that operations propagate.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace kiln {

enum class ValueKind : uint8_t {
  kNull, kBool, kInt, kFloat, kString, kDuration, kBytes, kRange, kGpu,
  kList, kMap, kResource, kUnknown,
};

class Value;
using ValueList = std::vector<Value>;
using ValueMap = std::map<std::string, Value>;

// A GPU request: a catalog model (canonical name) or a minimum memory, and
// a count. `memory_max` bounds a memory range (`24GiB..80GiB`), `count_max`
// a count range (`"H100:1..4"`); 0 when there is no range.
struct GpuRequest {
  std::string model;   // "" when requested by memory
  int64_t memory = 0;  // bytes; 0 when requested by model
  int64_t count = 1;
  int64_t memory_max = 0;
  int64_t count_max = 0;
};

// A resource instance as a value: its address and attributes (computed ones
// from state, or unknown).
struct ResourceData {
  std::string address;
  std::string kind;
  ValueMap attrs;
};

class Value {
 public:
  Value() = default;
  static Value Bool(bool b);
  static Value Int(int64_t i);
  static Value Float(double f);
  static Value String(std::string s);
  static Value Duration(int64_t ms);
  static Value Bytes(int64_t b);
  // A range of ints (`1..4`) or of bytes (`24GiB..80GiB`, `of` = kBytes).
  static Value Range(int64_t min, int64_t max, ValueKind of = ValueKind::kInt);
  // An open-ended range (`8..`, `32GiB..`): a minimum only.
  static Value OpenRange(int64_t min, ValueKind of = ValueKind::kInt);
  static Value Gpu(GpuRequest g);
  static Value List(ValueList items);
  static Value Map(ValueMap items);
  static Value Resource(ResourceData data);
  static Value Unknown();

  ValueKind kind() const { return kind_; }
  bool is_null() const { return kind_ == ValueKind::kNull; }
  bool is_unknown() const { return kind_ == ValueKind::kUnknown; }
  bool sensitive() const { return sensitive_; }
  // Returns a copy with the sensitive mark set (or cleared).
  Value WithSensitive(bool s = true) const {
    Value v = *this;
    v.sensitive_ = s;
    return v;
  }

  bool AsBool() const { return i_ != 0; }
  int64_t AsInt() const { return i_; }
  // Ints widen to float.
  double AsNumber() const { return kind_ == ValueKind::kFloat ? f_ : static_cast<double>(i_); }
  int64_t Quantity() const { return i_; }  // ms or bytes
  int64_t RangeMin() const { return i_; }
  // INT64_MAX for an open-ended range.
  int64_t RangeMax() const { return j_; }
  bool RangeOpen() const { return open_; }
  // kInt or kBytes: what the ends of a range are.
  ValueKind RangeOf() const { return range_of_; }
  const std::string& AsString() const;
  const GpuRequest& AsGpu() const;
  const ValueList& AsList() const;
  const ValueMap& AsMap() const;
  const ResourceData& AsResource() const;

  bool IsNumber() const { return kind_ == ValueKind::kInt || kind_ == ValueKind::kFloat; }
  // True when no unknown appears anywhere inside.
  bool IsWhollyKnown() const;
  // True when the value or anything inside is sensitive.
  bool ContainsSensitive() const;

  // Deep equality; sensitivity is ignored, ints equal floats of the same value.
  bool Equals(const Value& other) const;
  // The very same value: same kind, mark and payload (shared, not compared).
  bool SameAs(const Value& o) const {
    return kind_ == o.kind_ && sensitive_ == o.sensitive_ && i_ == o.i_ && j_ == o.j_ && ptr_ == o.ptr_ &&
           open_ == o.open_ && range_of_ == o.range_of_;
  }

 private:
  ValueKind kind_ = ValueKind::kNull;
  bool sensitive_ = false;
  bool open_ = false;                          // ranges only
  ValueKind range_of_ = ValueKind::kInt;       // ranges only
  union {
    int64_t i_ = 0;
    double f_;
  };
  int64_t j_ = 0;
  std::shared_ptr<const void> ptr_;
};

const char* ValueKindName(ValueKind k);

// Canonical text: "90m", "2h", "1GiB", "0.001".
std::string FormatDuration(int64_t ms);
std::string FormatBytes(int64_t bytes);
std::string FormatFloat(double f);
std::string FormatGpu(const GpuRequest& g);
// `1..4`, `8..`, `24GiB..80GiB`, `32GiB..`.
std::string FormatRange(const Value& range);
// How a value appears inside a string (interpolation, tostring, keys).
// Strings are raw; collections are their compact JSON.
std::string DisplayString(const Value& v);

struct JsonOptions {
  bool redact = false;            // sensitive values become "(sensitive)"
  bool resource_as_address = true;  // a resource reference is its address
};
// The JSON forms of LANGUAGE.md §9.
nlohmann::json ToJson(const Value& v, const JsonOptions& options = {});
// JSON back to a value: numbers, strings, lists, objects;
// {"$unknown": true} becomes unknown.
Value FromJson(const nlohmann::json& j);

// The JSON object of a map's entries (ToJson of Value::Map(m) without
// building that value).
nlohmann::json MapToJson(const ValueMap& m, const JsonOptions& options = {});

// Paths (object keys and list indices) of every sensitive part of `v`.
void CollectSensitivePaths(const Value& v, std::vector<std::string>& prefix,
                           std::vector<std::vector<std::string>>* out);

// Paths (into ToJson(v)) of every duration and every bytes value inside `v`,
// including the `memory` of a GPU requested by memory. Sensitive parts are
// included (renderers redact them anyway); unknowns and resource
// references (addresses in JSON) are not descended into.
void CollectQuantityPaths(const Value& v, std::vector<std::string>& prefix,
                          std::vector<std::vector<std::string>>* durations,
                          std::vector<std::vector<std::string>>* bytes);

}  // namespace kiln
