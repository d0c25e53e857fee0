// Source files and positions. Every phase refers to text through SourceRange.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "core/source_range.h"

namespace kiln {

// `path` relative to `base` when it lies below it, else `path` unchanged.
std::string PathBelow(const std::string& path, const std::string& base);

// Owns the text of every loaded file; ids start at 1.
class SourceManager {
 public:
  // Adds a buffer (a byte-order mark is stripped) and returns its id.
  uint32_t AddBuffer(std::string path, std::string text);
  // Reads a file from disk; returns 0 and sets *error on failure.
  uint32_t AddFile(const std::string& path, std::string* error);

  const std::string& Path(uint32_t id) const;
  // The path as users see it in diagnostics: relative to the working
  // directory when the file lies below it (`main.kiln`, `modules/x/a.kiln`),
  // else as loaded.
  std::string DisplayPath(uint32_t id) const;
  std::string_view Text(uint32_t id) const;
  // The text of a 1-based line, without its line terminator.
  std::string_view Line(uint32_t id, uint32_t line) const;
  // Converts a byte offset to a location (binary search over line starts).
  SourceLoc Locate(uint32_t id, uint32_t offset) const;
  size_t FileCount() const { return files_.size(); }

 private:
  struct File {
    std::string path;
    std::string text;
    std::vector<uint32_t> line_starts;
  };
  const File& Get(uint32_t id) const;
  std::vector<std::unique_ptr<File>> files_;
};

}  // namespace kiln
