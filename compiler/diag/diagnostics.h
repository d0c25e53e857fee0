// Diagnostics are data: collected by every phase, rendered all at once.
#pragma once

#include <ostream>
#include <string>
#include <vector>

#include "compiler/diag/source.h"
#include "core/severity.h"
#include "core/suggest.h"  // ClosestMatch

namespace kiln {

struct Label {
  SourceRange range;
  std::string message;
};

struct Diagnostic {
  Severity severity = Severity::kError;
  std::string code;     // "E0412"; see docs/diagnostics.md for the list
  std::string message;  // one line, in words
  SourceRange range;    // primary span; may be invalid for global errors
  std::string label;    // text under the primary caret
  std::vector<Label> secondary;
  std::vector<std::string> notes;
  std::string help;
};

// A list of diagnostics with a few builders. Phases append; the CLI renders.
class Diagnostics {
 public:
  Diagnostic& Error(std::string code, SourceRange range, std::string message);
  Diagnostic& Warning(std::string code, SourceRange range, std::string message);
  void Add(Diagnostic d) { items_.push_back(std::move(d)); }
  void Append(const Diagnostics& other);

  bool HasErrors() const;
  size_t ErrorCount() const;
  bool empty() const { return items_.empty(); }
  size_t size() const { return items_.size(); }
  const std::vector<Diagnostic>& items() const { return items_; }
  // Stable sort by file, then offset; global diagnostics first.
  void SortBySource();

 private:
  std::vector<Diagnostic> items_;
};

enum class DiagnosticFormat { kText, kJson, kGithub };

struct RenderOptions {
  DiagnosticFormat format = DiagnosticFormat::kText;
  bool color = false;
};

// Renders every diagnostic, in order, to `out`.
void RenderDiagnostics(const Diagnostics& diags, const SourceManager& sm,
                       const RenderOptions& options, std::ostream& out);
// One diagnostic as text (no trailing blank line); used by tests.
std::string RenderDiagnosticText(const Diagnostic& d, const SourceManager& sm,
                                 bool color = false);

}  // namespace kiln
