// libFuzzer entry point: arbitrary bytes through Parse(), ParseTypeText()
// and ParseExpressionText() must never crash, hang or leak an exception.
// Built only with -DKILN_FUZZ=ON (clang, -fsanitize=fuzzer); the same entry
// point is driven by random_parse.cpp in ordinary builds.
#include <cstddef>
#include <cstdint>
#include <string>

#include "compiler/ast/ast_dump.h"
#include "compiler/syntax/parse.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string text(reinterpret_cast<const char*>(data), size);
  kiln::SourceManager sm;
  uint32_t id = sm.AddBuffer("fuzz.kiln", text);
  kiln::Diagnostics diags;
  std::unique_ptr<kiln::ast::File> file = kiln::Parse(sm, id, diags);
  // Walk the whole tree and render every diagnostic: both must cope with
  // whatever the parser produced.
  (void)kiln::ast::DumpFile(*file);
  for (const auto& d : diags.items()) (void)kiln::RenderDiagnosticText(d, sm);
  kiln::Diagnostics d2;
  (void)kiln::ParseExpressionText(sm, "expr", text, d2);
  (void)kiln::ParseTypeText(sm, "type", text, d2);
  return 0;
}
