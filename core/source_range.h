// Positions in source text. Every phase refers to text through SourceRange;
// the files themselves live in compiler/diag (SourceManager).
#pragma once

#include <cstdint>

namespace kiln {

// A position in a source file; line and column are 1-based, column counts
// bytes. A default-constructed location (file_id 0) means "no location".
struct SourceLoc {
  uint32_t file_id = 0;
  uint32_t line = 0;
  uint32_t column = 0;
  uint32_t offset = 0;
  bool valid() const { return file_id != 0; }
};

// A half-open byte range [begin, end) within one file.
struct SourceRange {
  SourceLoc begin;
  SourceLoc end;
  bool valid() const { return begin.valid(); }
};

}  // namespace kiln
