#include "planner/render/render.h"

#include <algorithm>
#include <map>
#include <set>
#include <sstream>

#include "compiler/value/value.h"

namespace kiln::planner {

using nlohmann::json;

namespace {

bool IsSensitive(const json& v) { return v.is_string() && v.get<std::string>() == state::kSensitivePlaceholder; }

bool Contains(const std::vector<Path>& paths, const Path& p) {
  return std::find(paths.begin(), paths.end(), p) != paths.end();
}

std::string Scalar(const json& v, const Path& p, const Quantities& q) {
  if (IsUnknown(v)) return "(known after apply)";
  if (IsSensitive(v)) return "(sensitive)";
  if (v.is_null()) return "null";
  std::string quantity = QuantityText(v, p, q);
  if (!quantity.empty()) return quantity;
  return v.dump(-1, ' ', false, json::error_handler_t::replace);
}

bool Composite(const json& v) { return (v.is_object() && !IsUnknown(v)) || v.is_array(); }

// The JSON forms of LANGUAGE.md §9 that Kiln writes otherwise: a gpu
// `{"model": "H100", "count": 4}` is `"H100:4"`, a range `{"min": 1,
// "max": 4}` is `1..4`. "" when `v` is neither.
std::string KilnForm(const json& v) {
  if (!v.is_object()) return "";
  if (v.size() == 2 && v.contains("model") && v.contains("count") && v["model"].is_string() &&
      v["count"].is_number_integer())
    return "\"" + v["model"].get<std::string>() + ":" + std::to_string(v["count"].get<int64_t>()) + "\"";
  if (v.size() == 2 && v.contains("min") && v.contains("max") && v["min"].is_number_integer() &&
      v["max"].is_number_integer())
    return std::to_string(v["min"].get<int64_t>()) + ".." + std::to_string(v["max"].get<int64_t>());
  return "";
}

bool MultiLine(const json& v) { return v.is_string() && v.get<std::string>().find('\n') != std::string::npos; }

std::vector<std::string> SplitLines(const std::string& s) {
  std::vector<std::string> out;
  size_t pos = 0;
  while (pos <= s.size()) {
    size_t nl = s.find('\n', pos);
    if (nl == std::string::npos) {
      if (pos < s.size()) out.push_back(s.substr(pos));
      break;
    }
    out.push_back(s.substr(pos, nl - pos));
    pos = nl + 1;
  }
  return out;
}

// A line diff (longest common subsequence): ' ', '-' or '+' per line.
std::vector<std::pair<char, std::string>> LineDiff(const std::vector<std::string>& a,
                                                   const std::vector<std::string>& b) {
  std::vector<std::vector<int>> l(a.size() + 1, std::vector<int>(b.size() + 1, 0));
  for (size_t i = a.size(); i-- > 0;)
    for (size_t j = b.size(); j-- > 0;)
      l[i][j] = a[i] == b[j] ? l[i + 1][j + 1] + 1 : std::max(l[i + 1][j], l[i][j + 1]);
  std::vector<std::pair<char, std::string>> out;
  size_t i = 0, j = 0;
  while (i < a.size() || j < b.size()) {
    if (i < a.size() && j < b.size() && a[i] == b[j]) {
      out.push_back({' ', a[i]});
      ++i, ++j;
    } else if (i < a.size() && (j == b.size() || l[i + 1][j] >= l[i][j + 1])) {
      out.push_back({'-', a[i++]});  // removed lines before the added ones
    } else {
      out.push_back({'+', b[j++]});
    }
  }
  return out;
}

std::string KeyText(const std::string& k) {
  bool plain = !k.empty() && !isdigit(static_cast<unsigned char>(k[0]));
  for (char c : k)
    if (!isalnum(static_cast<unsigned char>(c)) && c != '_' && c != '-') plain = false;
  return plain ? k : json(k).dump();
}

Path Child(const Path& p, const std::string& k) {
  Path out = p;
  out.push_back(k);
  return out;
}

// Compact, one line, with placeholders and quantities shown as words (and,
// with `kiln`, gpus and ranges in Kiln's notation).
std::string Inline(const json& v, const Path& p, const Quantities& q, bool kiln = false) {
  if (kiln && !KilnForm(v).empty()) return KilnForm(v);
  if (!Composite(v)) return Scalar(v, p, q);
  if (v.is_array()) {
    std::string s = "[";
    for (size_t i = 0; i < v.size(); ++i) s += (i ? ", " : "") + Inline(v[i], Child(p, std::to_string(i)), q, kiln);
    return s + "]";
  }
  std::string s = "{";
  bool first = true;
  for (auto it = v.begin(); it != v.end(); ++it) {
    s += (first ? " " : ", ") + KeyText(it.key()) + " = " + Inline(it.value(), Child(p, it.key()), q, kiln);
    first = false;
  }
  return s + (first ? "}" : " }");
}

void Pretty(const json& v, const Path& p, const Quantities& q, const std::string& pad, std::string& out) {
  if (Composite(v) && !v.empty()) {
    bool object = v.is_object();
    out += object ? "{\n" : "[\n";
    std::string inner = pad + "  ";
    size_t i = 0;
    for (auto it = v.begin(); it != v.end(); ++it, ++i) {
      out += inner;
      std::string key = object ? it.key() : std::to_string(i);
      if (object) out += json(it.key()).dump(-1, ' ', false, json::error_handler_t::replace) + ": ";
      Pretty(it.value(), Child(p, key), q, inner, out);
      out += i + 1 < v.size() ? ",\n" : "\n";
    }
    out += pad + (object ? "}" : "]");
    return;
  }
  if (IsSensitive(v)) {
    out += state::kSensitivePlaceholder;
    return;
  }
  std::string quantity = QuantityText(v, p, q);
  out += quantity.empty() ? v.dump(-1, ' ', false, json::error_handler_t::replace) : quantity;
}

std::string Money(double v) {
  char buf[64];
  snprintf(buf, sizeof buf, "$%.2f/h", v < 0 ? -v : v);
  return buf;
}

struct Colors {
  bool on;
  std::string Wrap(char marker, const std::string& s) const {
    if (!on) return s;
    const char* c = marker == '+' ? "\x1b[32m" : marker == '-' ? "\x1b[31m" : marker == '~' ? "\x1b[33m" : "";
    if (!*c) return s;
    return c + s + "\x1b[0m";
  }
};

// Writes the diff of two values as attribute lines. `marker` per line: '+',
// '-', '~' or ' '. Lines are "<indent><marker> <key> = <value>". With `kiln`
// (the Markdown plan), gpus and ranges print in Kiln's notation and
// multi-line strings as heredocs, diffed line by line.
class DiffWriter {
 public:
  DiffWriter(const std::vector<Path>& replace_paths, const std::vector<Path>& sensitive_changed,
             const Colors& colors, bool hide_unchanged, Quantities quantities, bool kiln = false)
      : replace_paths_(replace_paths), sensitive_changed_(sensitive_changed), colors_(colors),
        hide_unchanged_(hide_unchanged), q_(quantities), kiln_(kiln) {}

  void Object(const json& before, const json& after, const Path& path, int indent) {
    std::set<std::string> key_set;
    if (before.is_object())
      for (auto it = before.begin(); it != before.end(); ++it) key_set.insert(it.key());
    if (after.is_object())
      for (auto it = after.begin(); it != after.end(); ++it) key_set.insert(it.key());
    // A job's `setup` is shown apart, first, right before its `command`
    // (it runs once per node before it); the rest in name order.
    std::vector<std::string> keys;
    bool setup_first = path.empty() && key_set.count("setup") && key_set.count("command");
    if (setup_first) keys = {"setup", "command"};
    for (const auto& k : key_set)
      if (!setup_first || (k != "setup" && k != "command")) keys.push_back(k);
    size_t width = 0;
    for (const auto& k : keys) width = std::max(width, KeyText(k).size());
    int hidden = 0;
    for (const auto& k : keys) {
      const json* b = before.is_object() && before.contains(k) ? &before[k] : nullptr;
      const json* a = after.is_object() && after.contains(k) ? &after[k] : nullptr;
      if ((b && b->is_null() && !a) || (a && a->is_null() && !b)) continue;
      if (b && a && *a == *b && !IsUnknown(*a) && hide_unchanged_ && k != "id" && k != "name" &&
          !SensitiveChanged(p_of(path, k))) {
        ++hidden;
        continue;
      }
      Path p = path;
      p.push_back(k);
      Attr(KeyText(k), width, b, a, p, indent);
    }
    if (hidden > 0)
      Line(' ', indent, "# (" + std::to_string(hidden) + " unchanged attribute" +
                            (hidden == 1 ? "" : "s") + " hidden)");
  }

  std::string str() const { return out_.str(); }

 private:
  void Line(char marker, int indent, const std::string& text) {
    std::string s = std::string(indent, ' ') + marker + " " + text;
    out_ << colors_.Wrap(marker, s) << "\n";
  }

  static Path p_of(const Path& path, const std::string& k) {
    Path p = path;
    p.push_back(k);
    return p;
  }
  bool SensitiveChanged(const Path& p) const {
    return std::find(sensitive_changed_.begin(), sensitive_changed_.end(), p) != sensitive_changed_.end();
  }

  bool Forces(const Path& p) const {
    return std::find(replace_paths_.begin(), replace_paths_.end(), p) != replace_paths_.end();
  }

  void Attr(const std::string& key, size_t width, const json* b, const json* a, const Path& p,
            int indent) {
    std::string lhs = key + std::string(width - key.size(), ' ') + " = ";
    std::string forces = Forces(p) ? " # forces replacement" : "";
    if (a && !b) return Value('+', lhs, *a, p, indent, forces);
    if (b && !a) return Value('-', lhs, *b, p, indent, " -> null" + forces);
    if (*a == *b && !IsUnknown(*a) && !SensitiveChanged(p)) return Value(' ', lhs, *a, p, indent, "");
    if (kiln_ && a->is_string() && b->is_string() && (MultiLine(*a) || MultiLine(*b))) {
      Line('~', indent, lhs + "<<EOT" + forces);
      for (const auto& [m, text] : LineDiff(SplitLines(b->get<std::string>()), SplitLines(a->get<std::string>())))
        Line(m, indent + 4, text);
      Line(' ', indent + 2, "EOT");
      return;
    }
    if (Comp(*a) && Comp(*b) && a->type() == b->type()) {
      Line('~', indent, lhs + (a->is_object() ? "{" : "[") + forces);
      if (a->is_object()) {
        Object(*b, *a, p, indent + 4);
      } else {
        size_t n = std::max(a->size(), b->size());
        for (size_t i = 0; i < n; ++i) {
          Path ip = p;
          ip.push_back(std::to_string(i));
          const json* bi = i < b->size() ? &(*b)[i] : nullptr;
          const json* ai = i < a->size() ? &(*a)[i] : nullptr;
          if (ai && !bi) Value('+', "", *ai, ip, indent + 4, ",");
          else if (bi && !ai) Value('-', "", *bi, ip, indent + 4, ",");
          else if (*ai == *bi) Value(' ', "", *ai, ip, indent + 4, ",");
          else Line('~', indent + 4, Inline(*bi, ip, q_, kiln_) + " -> " + Inline(*ai, ip, q_, kiln_) + ",");
        }
      }
      Line(' ', indent + 2, a->is_object() ? "}" : "]");
      return;
    }
    Line('~', indent, lhs + Inline(*b, p, q_, kiln_) + " -> " + Inline(*a, p, q_, kiln_) + forces);
  }

  bool Comp(const json& v) const { return Composite(v) && !(kiln_ && !KilnForm(v).empty()); }

  void Value(char marker, const std::string& lhs, const json& v, const Path& p, int indent,
             const std::string& suffix) {
    if (kiln_ && !KilnForm(v).empty()) {
      Line(marker, indent, lhs + KilnForm(v) + suffix);
      return;
    }
    if (kiln_ && MultiLine(v)) {
      Line(marker, indent, lhs + "<<EOT");
      for (const auto& l : SplitLines(v.get<std::string>())) Line(marker, indent + 4, l);
      Line(marker == '~' ? ' ' : marker, indent + 2, "EOT" + suffix);
      return;
    }
    if (!Composite(v) || v.empty()) {
      Line(marker, indent, lhs + (Composite(v) ? (v.is_array() ? "[]" : "{}") : Scalar(v, p, q_)) + suffix);
      return;
    }
    Line(marker, indent, lhs + (v.is_object() ? "{" : "["));
    if (v.is_object()) {
      size_t width = 0;
      for (auto it = v.begin(); it != v.end(); ++it) width = std::max(width, KeyText(it.key()).size());
      for (auto it = v.begin(); it != v.end(); ++it) {
        Path ip = p;
        ip.push_back(it.key());
        std::string k = KeyText(it.key());
        Value(marker, k + std::string(width - k.size(), ' ') + " = ", it.value(), ip, indent + 4, "");
      }
    } else {
      for (size_t i = 0; i < v.size(); ++i) {
        Path ip = p;
        ip.push_back(std::to_string(i));
        Value(marker, "", v[i], ip, indent + 4, ",");
      }
    }
    Line(marker == '~' ? ' ' : marker, indent + 2, std::string(v.is_object() ? "}" : "]") + suffix);
  }

  const std::vector<Path>& replace_paths_;
  const std::vector<Path>& sensitive_changed_;
  const Colors& colors_;
  bool hide_unchanged_;
  Quantities q_;
  bool kiln_;
  std::ostringstream out_;
};

std::string Marker(const ResourceChange& c) {
  switch (c.action) {
    case Action::kCreate: return "  +";
    case Action::kUpdate: return "  ~";
    case Action::kReplace: return c.create_before_destroy ? "+/-" : "-/+";
    case Action::kDelete: return "  -";
    case Action::kRead: return " <=";
    default: return "   ";
  }
}

std::string Block(const ResourceChange& c, bool drift, const Colors& colors, bool kiln = false) {
  std::ostringstream out;
  out << "  # " << c.address << " " << DescribeChange(c, drift) << "\n";
  if (!drift)
    for (const std::string& note : ChangeNotes(c)) out << "  # " << note << "\n";
  std::string marker = Marker(c);
  char m = marker.back() == '+' && marker[0] == ' ' ? '+' : marker[0] == '-' || marker[0] == '+' ? '~' : marker.back();
  if (c.action == Action::kDelete) m = '-';
  out << colors.Wrap(m, marker + " " + c.address + " {") << "\n";
  DiffWriter w(c.replace_paths, c.sensitive_changed, colors,
               c.action == Action::kUpdate || c.action == Action::kReplace,
               Quantities{c.duration_paths, c.bytes_paths}, kiln);
  json before = c.action == Action::kCreate ? json() : c.before;
  json after = c.action == Action::kDelete ? json() : c.after;
  w.Object(before.is_object() ? before : json::object(), after.is_object() ? after : json::object(), {}, 6);
  out << w.str() << "    }\n";
  return out.str();
}

std::string OutputValue(const json& v, const OutputChange& o, bool kiln = false) {
  if (o.sensitive && !v.is_null() && !IsUnknown(v)) return "(sensitive)";
  return Inline(v, {}, Quantities{o.duration_paths, o.bytes_paths}, kiln);
}

}  // namespace

std::string QuantityText(const json& v, const Path& path, const Quantities& q) {
  if (!v.is_number_integer()) return "";
  if (Contains(q.durations, path)) return FormatDuration(v.get<int64_t>());
  if (Contains(q.bytes, path)) return FormatBytes(v.get<int64_t>());
  return "";
}

std::string DisplayValue(const json& v, const Path& at, const Quantities& q, int indent) {
  std::string out;
  Pretty(v, at, q, std::string(static_cast<size_t>(std::max(indent, 0)), ' '), out);
  return out;
}

std::vector<std::string> ChangeNotes(const ResourceChange& c) {
  std::vector<std::string> notes;
  if (c.action == Action::kDelete || c.action == Action::kNoop || c.action == Action::kRead) return notes;
  const json& after = c.after;
  if (!after.is_object()) return notes;
  // What `workdir` and `files` upload (set by kiln at plan time): a short
  // hash per file, so a changed upload names how many files changed.
  auto files_of = [](const json& v) -> const json* {
    if (!v.is_object() || !v.contains("upload") || !v["upload"].is_object()) return nullptr;
    const json& f = v["upload"].value("files", json());
    return f.is_object() ? &v["upload"]["files"] : nullptr;
  };
  const json* now = files_of(after);
  const json* was = c.action == Action::kCreate ? nullptr : files_of(c.before);
  if (now && was) {
    std::vector<std::string> changed;
    for (auto it = now->begin(); it != now->end(); ++it)
      if (!was->contains(it.key()) || (*was)[it.key()] != it.value()) changed.push_back(it.key());
    for (auto it = was->begin(); it != was->end(); ++it)
      if (!now->contains(it.key())) changed.push_back(it.key());
    std::sort(changed.begin(), changed.end());
    if (!changed.empty()) {
      std::string names;
      for (size_t i = 0; i < changed.size() && i < 5; ++i) names += (i ? ", " : "") + changed[i];
      if (changed.size() > 5) names += ", ...";
      notes.push_back("workdir changed: " + std::to_string(changed.size()) + " file" + (changed.size() == 1 ? "" : "s") +
                      " (" + names + ")");
    }
  } else if (now) {
    notes.push_back("uploads " + std::to_string(now->size()) + " file" + (now->size() == 1 ? "" : "s") +
                    " (workdir and files)");
  }
  // Where a GPU was chosen among alternatives or in a range: which, why, price.
  if (after.contains("gpu_choice") && after["gpu_choice"].is_object()) {
    const json& g = after["gpu_choice"];
    if (g.contains("chosen") && g["chosen"].is_string() && g.contains("reason") && g["reason"].is_string()) {
      char price[64] = "";
      if (g.contains("hourly") && g["hourly"].is_number()) snprintf(price, sizeof price, " at $%.2f/h", g["hourly"].get<double>());
      notes.push_back("gpu " + g["chosen"].get<std::string>() + price + ": " + g["reason"].get<std::string>());
    }
  }
  if (after.contains("setup") && after.contains("command"))
    notes.push_back("setup runs once per node before command");
  return notes;
}

std::string DescribeChange(const ResourceChange& c, bool drift) {
  if (drift) return c.action == Action::kDelete ? "has been deleted outside of kiln" : "has changed outside of kiln";
  const std::string& r = c.action_reason;
  switch (c.action) {
    case Action::kCreate: return "will be created";
    case Action::kUpdate: return "will be updated in place";
    case Action::kDelete:
      if (r == kReasonDeposed)
        return "deposed object " + c.deposed_key + " will be destroyed (deposed object, left by an interrupted replacement)";
      return r == kReasonNotInConfig ? "will be destroyed (no longer in the configuration)"
                                     : "will be destroyed";
    case Action::kReplace: {
      std::string how = c.create_before_destroy ? " (new one created before the old one is destroyed)" : "";
      if (r == kReasonReplaceRequested) return "will be replaced, as requested with --replace" + how;
      if (r == kReasonTainted) return "is tainted (its create did not finish), so must be replaced" + how;
      if (r == kReasonFailed) return "has failed, so will be run again (replaced)" + how;
      if (r == kReasonReplaceTriggered) return "will be replaced because of lifecycle.replace_triggered_by" + how;
      std::string attrs;
      for (const auto& p : c.replace_paths) {
        std::string s;
        for (const auto& k : p) s += (s.empty() ? "" : ".") + k;
        attrs += (attrs.empty() ? "" : ", ") + s;
      }
      return "must be replaced" + (attrs.empty() ? "" : " (" + attrs + " cannot be updated in place)") + how;
    }
    case Action::kRead: return "will be read";
    default: return "has no changes";
  }
}

std::string SummaryLine(const Plan& plan) {
  auto s = plan.summary();
  return "Plan: " + std::to_string(s.add) + " to add, " + std::to_string(s.change) + " to change, " +
         std::to_string(s.replace) + " to replace, " + std::to_string(s.destroy) + " to destroy.";
}

std::string CostLine(const Plan& plan) {
  if (!plan.cost) return "";
  double d = plan.cost->delta();
  return "Cost: " + Money(plan.cost->before_hourly) + " -> " + Money(plan.cost->after_hourly) + " (" +
         (d < 0 ? "-" : "+") + Money(d) + ")";
}

std::string RenderText(const Plan& plan, const RenderOptions& options) {
  Colors colors{options.color};
  std::ostringstream out;
  if (!plan.drift.empty()) {
    out << "Objects have changed outside of kiln:\n\n";
    for (const auto& c : plan.drift) out << Block(c, true, colors) << "\n";
    if (plan.mode == PlanMode::kRefreshOnly)
      out << "This is a refresh-only plan: applying it records the changes above in state.\n\n";
    else
      out << "Unless the configuration changes them back, these changes are kept.\n\n";
  }
  bool any = false;
  for (const auto& c : plan.changes)
    if (c.action != Action::kNoop) any = true;
  bool outputs = false;
  for (const auto& [n, o] : plan.outputs)
    if (o.action != Action::kNoop) outputs = true;
  if (!any && !outputs) {
    if (plan.mode != PlanMode::kRefreshOnly || plan.drift.empty())
      out << "No changes. The infrastructure matches the configuration.\n";
    return out.str();
  }
  if (any) {
    out << "kiln will perform the following actions:\n\n";
    for (const auto& c : plan.changes)
      if (c.action != Action::kNoop) out << Block(c, false, colors) << "\n";
  }
  out << SummaryLine(plan) << "\n";
  if (plan.cost) out << CostLine(plan) << "\n";
  if (outputs) {
    out << "\nChanges to outputs:\n";
    size_t width = 0;
    for (const auto& [n, o] : plan.outputs) width = std::max(width, n.size());
    for (const auto& [n, o] : plan.outputs) {
      std::string pad(width - n.size(), ' ');
      switch (o.action) {
        case Action::kCreate:
          out << colors.Wrap('+', "  + " + n + pad + " = " + OutputValue(o.after, o)) << "\n";
          break;
        case Action::kUpdate:
          out << colors.Wrap('~', "  ~ " + n + pad + " = " + OutputValue(o.before, o) + " -> " +
                                      OutputValue(o.after, o)) << "\n";
          break;
        case Action::kDelete:
          out << colors.Wrap('-', "  - " + n + pad + " = " + OutputValue(o.before, o) + " -> null") << "\n";
          break;
        default: break;
      }
    }
  }
  return out.str();
}

std::string RenderJson(const Plan& plan) { return PlanToJson(plan).dump(2) + "\n"; }

namespace {

// "+8 H100, -2 L4"; "" when the counts are the same.
std::string GpuDelta(const GpuCounts& before, const GpuCounts& after) {
  std::map<std::string, int64_t> d;
  for (const auto& [m, n] : after) d[m] += n;
  for (const auto& [m, n] : before) d[m] -= n;
  std::string out;
  for (const auto& [m, n] : d)
    if (n != 0) out += (out.empty() ? "" : ", ") + std::string(n > 0 ? "+" : "") + std::to_string(n) + " " + m;
  return out;
}

// `text` as a Markdown code span that survives backticks and table pipes.
std::string Code(const std::string& text) {
  std::string t;
  for (char c : text) {
    if (c == '|') t += "\\|";
    else if (c == '\n') t += ' ';
    else t += c;
  }
  return t.find('`') == std::string::npos ? "`" + t + "`" : "`` " + t + " ``";
}

std::string Cell(const std::string& text) {
  std::string t;
  for (char c : text) t += c == '|' ? std::string("\\|") : c == '\n' ? std::string(" ") : std::string(1, c);
  return t;
}

}  // namespace

std::string RenderMarkdown(const Plan& plan) {
  std::ostringstream out;
  bool any = false;
  for (const auto& c : plan.changes)
    if (c.action != Action::kNoop) any = true;
  bool outputs = false;
  for (const auto& [n, o] : plan.outputs)
    if (o.action != Action::kNoop) outputs = true;
  std::vector<const PlanDiagnostic*> problems;
  for (const auto& d : plan.diagnostics) problems.push_back(&d);
  auto write_problems = [&] {
    if (problems.empty()) return;
    bool errors = std::any_of(problems.begin(), problems.end(), [](auto* d) { return d->severity == "error"; });
    out << (errors ? "**Errors and warnings**" : "**Warnings**") << "\n\n";
    for (const PlanDiagnostic* d : problems) {
      out << "- " << (d->severity == "error" ? ":x: " : ":warning: ");
      if (!d->file.empty()) out << "`" << d->file << ":" << d->line << "` ";
      out << "**" << d->code << "** " << Cell(d->message) << "\n";
    }
    out << "\n";
  };
  if (!any && plan.drift.empty() && !outputs) {
    out << "**kiln plan:** no changes.\n";
    if (!problems.empty()) out << "\n";
    write_problems();
    return out.str();
  }
  auto s = plan.summary();
  out << "### kiln plan: " << s.add << " to add, " << s.change << " to change, " << s.replace
      << " to replace, " << s.destroy << " to destroy";
  if (plan.cost) {
    double d = plan.cost->delta();
    out << " · " << (d < 0 ? "-" : "+") << Money(d) << " (" << Money(plan.cost->before_hourly)
        << " → " << Money(plan.cost->after_hourly) << ")";
    std::string gpus = GpuDelta(plan.cost->gpus_before, plan.cost->gpus_after);
    if (!gpus.empty()) out << " · " << gpus;
  }
  out << "\n\n";
  std::vector<std::string> danger;
  for (const auto& c : plan.changes)
    if (c.action == Action::kDelete || c.action == Action::kReplace)
      danger.push_back("`" + c.address + "` (" + (c.action == Action::kDelete ? "destroy" : "replace") + ")");
  if (!danger.empty()) {
    out << "> :warning: **This plan destroys or replaces:** ";
    for (size_t i = 0; i < danger.size(); ++i) out << (i ? ", " : "") << danger[i];
    out << "\n\n";
  }
  write_problems();
  if (!plan.drift.empty()) {
    out << "**Changed outside of kiln:** ";
    for (size_t i = 0; i < plan.drift.size(); ++i)
      out << (i ? ", " : "") << "`" << plan.drift[i].address << "` ("
          << (plan.drift[i].action == Action::kDelete ? "deleted" : "changed") << ")";
    out << "\n\n";
  }
  if (any) {
    bool cost = plan.cost.has_value();
    out << "| Address | Action |" << (cost ? " Cost | GPUs |" : "") << " Reason |\n| --- | --- |"
        << (cost ? " ---: | --- |" : "") << " --- |\n";
    for (const auto& c : plan.changes) {
      if (c.action == Action::kNoop) continue;
      out << "| `" << c.address << "` | " << ActionName(c.action) << " |";
      if (cost) {
        auto it = plan.cost->resources.find(c.address);
        if (it == plan.cost->resources.end()) {
          out << " | |";
        } else {
          const auto& r = it->second;
          std::string money = c.action == Action::kCreate   ? Money(r.after_hourly)
                              : c.action == Action::kDelete ? "-" + Money(r.before_hourly)
                              : r.before_hourly == r.after_hourly
                                  ? Money(r.after_hourly)
                                  : Money(r.before_hourly) + " → " + Money(r.after_hourly);
          out << " " << money << " | " << GpuDelta(r.gpus_before, r.gpus_after) << " |";
        }
      }
      std::string reason = DescribeChange(c, false);
      for (const std::string& note : ChangeNotes(c)) reason += "; " + note;
      out << " " << Cell(reason) << " |\n";
    }
    out << "\n";
    for (const auto& c : plan.changes) {
      if (c.action == Action::kNoop) continue;
      out << "<details><summary><code>" << c.address << "</code> " << ActionName(c.action)
          << "</summary>\n\n```diff\n";
      std::string block = Block(c, false, Colors{false}, true);
      // A diff fence colours by the first column: move each marker there.
      std::istringstream lines(block);
      std::string line;
      while (std::getline(lines, line)) {
        size_t i = line.find_first_not_of(' ');
        if (i == std::string::npos || line.compare(i, 2, "# ") == 0) continue;
        char m = line[i];
        if ((m == '+' || m == '-' || m == '~') && i + 1 < line.size() && line[i + 1] == ' ') {
          out << (m == '~' ? '!' : m) << line.substr(0, i) << line.substr(i + 1) << "\n";
        } else {
          out << line << "\n";  // unchanged: its marker column is a space already
        }
      }
      out << "```\n\n</details>\n\n";
    }
  }
  if (outputs) {
    out << "**Outputs**\n\n| Output | Action | Value |\n| --- | --- | --- |\n";
    for (const auto& [n, o] : plan.outputs) {
      std::string value;
      switch (o.action) {
        case Action::kCreate: value = Code(OutputValue(o.after, o, true)); break;
        case Action::kUpdate:
          value = Code(OutputValue(o.before, o, true)) + " → " + Code(OutputValue(o.after, o, true));
          break;
        case Action::kDelete: value = Code(OutputValue(o.before, o, true)) + " → `null`"; break;
        default: continue;
      }
      out << "| `" << n << "` | " << ActionName(o.action) << " | " << value << " |\n";
    }
    out << "\n";
  }
  out << SummaryLine(plan) << "\n";
  return out.str();
}

}  // namespace kiln::planner
