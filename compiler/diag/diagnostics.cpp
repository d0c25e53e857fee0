#include "compiler/diag/diagnostics.h"

#include <algorithm>
#include <nlohmann/json.hpp>
#include <sstream>

namespace kiln {

Diagnostic& Diagnostics::Error(std::string code, SourceRange range,
                               std::string message) {
  Diagnostic d;
  d.severity = Severity::kError;
  d.code = std::move(code);
  d.range = range;
  d.message = std::move(message);
  items_.push_back(std::move(d));
  return items_.back();
}

Diagnostic& Diagnostics::Warning(std::string code, SourceRange range,
                                 std::string message) {
  Diagnostic& d = Error(std::move(code), range, std::move(message));
  d.severity = Severity::kWarning;
  return d;
}

void Diagnostics::Append(const Diagnostics& other) {
  items_.insert(items_.end(), other.items_.begin(), other.items_.end());
}

bool Diagnostics::HasErrors() const { return ErrorCount() > 0; }

size_t Diagnostics::ErrorCount() const {
  return std::count_if(items_.begin(), items_.end(), [](const Diagnostic& d) {
    return d.severity == Severity::kError;
  });
}

void Diagnostics::SortBySource() {
  std::stable_sort(items_.begin(), items_.end(),
                   [](const Diagnostic& a, const Diagnostic& b) {
                     const SourceLoc& x = a.range.begin;
                     const SourceLoc& y = b.range.begin;
                     if (x.file_id != y.file_id) return x.file_id < y.file_id;
                     return x.offset < y.offset;
                   });
}

namespace {

const char* SeverityWord(Severity s) {
  switch (s) {
    case Severity::kError:
      return "error";
    case Severity::kWarning:
      return "warning";
    case Severity::kNote:
      return "note";
  }
  return "error";
}

struct Palette {
  bool on;
  std::string Bold() const { return on ? "\x1b[1m" : ""; }
  std::string Red() const { return on ? "\x1b[1;31m" : ""; }
  std::string Yellow() const { return on ? "\x1b[1;33m" : ""; }
  std::string Blue() const { return on ? "\x1b[1;34m" : ""; }
  std::string Reset() const { return on ? "\x1b[0m" : ""; }
  std::string For(Severity s) const {
    return s == Severity::kError ? Red() : s == Severity::kWarning ? Yellow() : Bold();
  }
};

// Length of the valid UTF-8 sequence at text[i], or 0 if the bytes there
// are not one.
size_t Utf8Length(std::string_view text, size_t i) {
  unsigned char c = static_cast<unsigned char>(text[i]);
  size_t n = c < 0x80 ? 1 : (c >> 5) == 0x6 ? 2 : (c >> 4) == 0xE ? 3 : (c >> 3) == 0x1E ? 4 : 0;
  if (n == 0 || i + n > text.size()) return 0;
  for (size_t k = 1; k < n; ++k) {
    if ((static_cast<unsigned char>(text[i + k]) & 0xC0) != 0x80) return 0;
  }
  return n;
}

// A source line as it may be echoed: bytes that are not UTF-8 become `?`
// (one column each, so carets stay aligned) and control characters other
// than tabs become spaces.
std::string Printable(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (size_t i = 0; i < text.size();) {
    size_t n = Utf8Length(text, i);
    if (n == 0) {
      out += '?';
      ++i;
      continue;
    }
    char c = text[i];
    if (n == 1 && static_cast<unsigned char>(c) < 0x20 && c != '\t') c = ' ';
    if (n == 1) out += c;
    else out.append(text.substr(i, n));
    i += n;
  }
  return out;
}

// Lines longer than this are shown as an excerpt around the column.
constexpr size_t kMaxShownLine = 120;
constexpr size_t kExcerptBefore = 40;

// Writes one source line with a caret underline for `range`.
void RenderSnippet(std::ostream& out, const SourceManager& sm,
                   const SourceRange& range, const std::string& label,
                   char mark, const std::string& gutter_pad,
                   const Palette& p, const std::string& mark_color) {
  uint32_t line = range.begin.line;
  std::string_view full = sm.Line(range.begin.file_id, line);
  std::string number = std::to_string(line);
  uint32_t start = range.begin.column - 1;
  uint32_t width = 1;
  if (range.end.valid() && range.end.line == line && range.end.column > range.begin.column) {
    width = range.end.column - range.begin.column;
  } else if (range.end.valid() && range.end.line > line && full.size() > start) {
    width = static_cast<uint32_t>(full.size() - start);
  }
  // A very long line (minified JSON, a generated list): an excerpt around
  // the column, marked with `...` at the cut ends.
  std::string_view text = full;
  std::string prefix, suffix;
  if (full.size() > kMaxShownLine) {
    size_t from = start > kExcerptBefore ? start - kExcerptBefore : 0;
    while (from > 0 && from < full.size() && (static_cast<unsigned char>(full[from]) & 0xC0) == 0x80) --from;
    size_t to = std::min(full.size(), from + kMaxShownLine - 6);
    while (to < full.size() && (static_cast<unsigned char>(full[to]) & 0xC0) == 0x80) ++to;
    if (from > 0) prefix = "...";
    if (to < full.size()) suffix = "...";
    text = full.substr(from, to - from);
    start = static_cast<uint32_t>(start - from + prefix.size());
    size_t room = prefix.size() + text.size() + suffix.size();
    if (start >= room) start = static_cast<uint32_t>(room - 1);
    width = std::max<uint32_t>(1, std::min<uint32_t>(width, static_cast<uint32_t>(room - start)));
  }
  std::string shown = prefix + Printable(text) + suffix;
  out << p.Blue() << number << std::string(gutter_pad.size() - number.size(), ' ')
      << " | " << p.Reset() << shown << "\n";
  std::string pad;
  for (uint32_t i = 0; i < start && i < shown.size(); ++i) {
    pad += shown[i] == '\t' ? '\t' : ' ';
  }
  out << p.Blue() << gutter_pad << " | " << p.Reset() << pad << mark_color
      << std::string(width, mark);
  if (!label.empty()) out << " " << label;
  out << p.Reset() << "\n";
}

void RenderText(const Diagnostic& d, const SourceManager& sm, const Palette& p,
                std::ostream& out) {
  out << p.For(d.severity) << SeverityWord(d.severity);
  if (!d.code.empty()) out << "[" << d.code << "]";
  out << p.Reset() << p.Bold() << ": " << d.message << p.Reset() << "\n";
  if (!d.range.valid()) {
    for (const auto& note : d.notes) out << "  = note: " << note << "\n";
    if (!d.help.empty()) out << "  = help: " << d.help << "\n";
    return;
  }
  uint32_t max_line = d.range.begin.line;
  for (const auto& l : d.secondary) max_line = std::max(max_line, l.range.begin.line);
  std::string gutter(std::to_string(max_line).size(), ' ');
  out << gutter << p.Blue() << "--> " << p.Reset() << sm.DisplayPath(d.range.begin.file_id)
      << ":" << d.range.begin.line << ":" << d.range.begin.column << "\n";
  out << p.Blue() << gutter << " |" << p.Reset() << "\n";
  RenderSnippet(out, sm, d.range, d.label, '^', gutter, p, p.For(d.severity));
  for (const auto& l : d.secondary) {
    if (!l.range.valid()) continue;
    if (l.range.begin.file_id != d.range.begin.file_id) {
      out << gutter << p.Blue() << "::: " << p.Reset() << sm.DisplayPath(l.range.begin.file_id)
          << ":" << l.range.begin.line << ":" << l.range.begin.column << "\n";
    }
    RenderSnippet(out, sm, l.range, l.message, '-', gutter, p, p.Blue());
  }
  for (const auto& note : d.notes) {
    out << gutter << " = " << p.Bold() << "note" << p.Reset() << ": " << note << "\n";
  }
  if (!d.help.empty()) {
    out << gutter << " = " << p.Bold() << "help" << p.Reset() << ": " << d.help << "\n";
  }
}

nlohmann::json Location(const SourceRange& r, const SourceManager& sm) {
  if (!r.valid()) return nullptr;
  return {{"file", sm.DisplayPath(r.begin.file_id)},
          {"line", r.begin.line},
          {"column", r.begin.column},
          {"end_line", r.end.valid() ? r.end.line : r.begin.line},
          {"end_column", r.end.valid() ? r.end.column : r.begin.column}};
}

// GitHub workflow commands need %, CR and LF escaped in the message.
std::string GithubEscape(const std::string& s, bool property) {
  std::string out;
  for (char c : s) {
    if (c == '%') out += "%25";
    else if (c == '\r') out += "%0D";
    else if (c == '\n') out += "%0A";
    else if (property && c == ':') out += "%3A";
    else if (property && c == ',') out += "%2C";
    else out += c;
  }
  return out;
}

}  // namespace

std::string RenderDiagnosticText(const Diagnostic& d, const SourceManager& sm,
                                 bool color) {
  std::ostringstream out;
  RenderText(d, sm, Palette{color}, out);
  return out.str();
}

void RenderDiagnostics(const Diagnostics& diags, const SourceManager& sm,
                       const RenderOptions& options, std::ostream& out) {
  Palette p{options.color};
  for (const Diagnostic& d : diags.items()) {
    switch (options.format) {
      case DiagnosticFormat::kText:
        RenderText(d, sm, p, out);
        out << "\n";
        break;
      case DiagnosticFormat::kJson: {
        nlohmann::json j = {{"severity", SeverityWord(d.severity)},
                            {"code", d.code},
                            {"message", d.message}};
        nlohmann::json loc = Location(d.range, sm);
        if (!loc.is_null()) j.update(loc);
        if (!d.label.empty()) j["label"] = d.label;
        if (!d.secondary.empty()) {
          nlohmann::json labels = nlohmann::json::array();
          for (const auto& l : d.secondary) {
            nlohmann::json lj = Location(l.range, sm);
            if (lj.is_null()) lj = nlohmann::json::object();
            lj["message"] = l.message;
            labels.push_back(lj);
          }
          j["secondary"] = labels;
        }
        if (!d.notes.empty()) j["notes"] = d.notes;
        if (!d.help.empty()) j["help"] = d.help;
        out << j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) << "\n";
        break;
      }
      case DiagnosticFormat::kGithub: {
        std::string kind = d.severity == Severity::kError ? "error"
                           : d.severity == Severity::kWarning ? "warning" : "notice";
        out << "::" << kind;
        if (d.range.valid()) {
          out << " file=" << GithubEscape(sm.DisplayPath(d.range.begin.file_id), true)
              << ",line=" << d.range.begin.line << ",col=" << d.range.begin.column;
          if (d.range.end.valid()) {
            out << ",endLine=" << d.range.end.line << ",endColumn=" << d.range.end.column;
          }
          out << ",title=" << GithubEscape(d.code, true);
        }
        std::string msg = d.code.empty() ? d.message : d.code + ": " + d.message;
        if (!d.label.empty()) msg += " (" + d.label + ")";
        if (!d.help.empty()) msg += "\nhelp: " + d.help;
        out << "::" << GithubEscape(msg, false) << "\n";
        break;
      }
    }
  }
}

}  // namespace kiln
