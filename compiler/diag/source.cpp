#include "compiler/diag/source.h"

#include <algorithm>
#include <cassert>
#include <filesystem>
#include <fstream>
#include <sstream>

namespace kiln {

uint32_t SourceManager::AddBuffer(std::string path, std::string text) {
  if (text.size() >= 3 && text.compare(0, 3, "\xEF\xBB\xBF") == 0) {
    text.erase(0, 3);
  }
  auto file = std::make_unique<File>();
  file->path = std::move(path);
  file->text = std::move(text);
  file->line_starts.push_back(0);
  for (uint32_t i = 0; i < file->text.size(); ++i) {
    if (file->text[i] == '\n') file->line_starts.push_back(i + 1);
  }
  files_.push_back(std::move(file));
  return static_cast<uint32_t>(files_.size());
}

uint32_t SourceManager::AddFile(const std::string& path, std::string* error) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    *error = "cannot read `" + path + "`";
    return 0;
  }
  std::ostringstream ss;
  ss << in.rdbuf();
  return AddBuffer(path, ss.str());
}

const SourceManager::File& SourceManager::Get(uint32_t id) const {
  assert(id >= 1 && id <= files_.size() && "invalid source file id");
  return *files_[id - 1];
}

const std::string& SourceManager::Path(uint32_t id) const { return Get(id).path; }

std::string PathBelow(const std::string& path, const std::string& base) {
  namespace fs = std::filesystem;
  if (base.empty() || path.empty()) return path;
  fs::path rel = fs::path(path).lexically_normal().lexically_relative(fs::path(base).lexically_normal());
  if (rel.empty() || *rel.begin() == ".." || *rel.begin() == ".") return path;
  return rel.string();
}

std::string SourceManager::DisplayPath(uint32_t id) const {
  std::error_code ec;
  std::string cwd = std::filesystem::current_path(ec).string();
  return ec ? Path(id) : PathBelow(Path(id), cwd);
}

std::string_view SourceManager::Text(uint32_t id) const { return Get(id).text; }

std::string_view SourceManager::Line(uint32_t id, uint32_t line) const {
  const File& f = Get(id);
  if (line == 0 || line > f.line_starts.size()) return {};
  uint32_t start = f.line_starts[line - 1];
  uint32_t end = line < f.line_starts.size() ? f.line_starts[line] - 1
                                             : static_cast<uint32_t>(f.text.size());
  std::string_view text(f.text);
  std::string_view result = text.substr(start, end - start);
  if (!result.empty() && result.back() == '\r') result.remove_suffix(1);
  return result;
}

SourceLoc SourceManager::Locate(uint32_t id, uint32_t offset) const {
  const File& f = Get(id);
  offset = std::min<uint32_t>(offset, f.text.size());
  auto it = std::upper_bound(f.line_starts.begin(), f.line_starts.end(), offset);
  uint32_t line = static_cast<uint32_t>(it - f.line_starts.begin());
  uint32_t column = offset - f.line_starts[line - 1] + 1;
  return SourceLoc{id, line, column, offset};
}

}  // namespace kiln
