// Resource instance addresses, typed: `module.eu["k"].slurm.reservation.r[0]`
// is module segments (eu with key "k"), kind `slurm.reservation`, name `r`,
// key 0. The one grammar, printer and matcher every layer uses.
#pragma once

#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace kiln {

struct Address {
  struct Module {
    std::string name;
    nlohmann::json key;  // null, a string or an integer
    bool operator==(const Module&) const = default;
  };
  std::vector<Module> modules;
  std::string kind;    // "endpoint", "slurm.reservation"; empty for a module address
  std::string name;    // "chat"; empty for a module address
  nlohmann::json key;  // null, a string or an integer (count/for_each key)

  // Grammar: (`module.` NAME KEY? `.`)* KIND(`.`KIND)* `.` NAME KEY?, or
  // (`module.` NAME KEY?)+ alone for a module address. Names are
  // [A-Za-z_][A-Za-z0-9_-]*; a KEY is `["..."]` (backslash escapes the next
  // character) or `[N]` (decimal, up to 18 digits). The last dotted name
  // before the key is the name; `module` as a first kind part is a module.
  static std::optional<Address> Parse(std::string_view text);

  // The canonical text: string keys quoted with `"` and `\` escaped, as the
  // compiler writes them; integer keys bare.
  std::string ToString() const;
  // "module.eu[\"k\"]" or "" for the root module.
  std::string ModulePath() const;
  bool IsModule() const { return kind.empty(); }

  // Whether this address, as a selection (`--target`, `replace_triggered_by`
  // without an attribute), takes in `other`: the same instance; every
  // instance of a resource named without a key; everything inside a module
  // instance (a module named last without a key: every instance of it).
  bool Contains(const Address& other) const;
  // Whether this instance is selected by `selection` (selection.Contains(*this)).
  bool Matches(const Address& selection) const { return selection.Contains(*this); }

  bool operator==(const Address&) const = default;
};

// `[<key>]` as Address::ToString writes it ("" for a null key).
std::string KeySuffix(const nlohmann::json& key);

// String forms of Contains: false when either does not parse.
bool AddressContains(std::string_view selection, std::string_view address);

// The bare kind providers see: "slurm.reservation" -> "reservation".
std::string BareKind(const std::string& kind);

}  // namespace kiln
