#include "compiler/syntax/module_files.h"

#include <algorithm>
#include <filesystem>
#include <system_error>

namespace kiln {

std::vector<std::string> ListModuleFiles(const std::string& dir, std::string* error) {
  namespace fs = std::filesystem;
  std::vector<std::string> names;
  std::error_code ec;
  fs::directory_iterator it(dir.empty() ? "." : dir, ec);
  if (ec) {
    if (error) *error = "cannot read directory `" + dir + "`: " + ec.message();
    return {};
  }
  for (const fs::directory_entry& entry : it) {
    const fs::path& p = entry.path();
    if (p.extension() != ".kiln") continue;
    std::error_code type_ec;
    if (!entry.is_regular_file(type_ec)) continue;
    names.push_back(p.filename().string());
  }
  std::sort(names.begin(), names.end());
  std::vector<std::string> out;
  for (const std::string& n : names) {
    if (dir.empty() || dir == ".") {
      out.push_back(n);
    } else {
      out.push_back(dir.back() == '/' ? dir + n : dir + "/" + n);
    }
  }
  return out;
}

}  // namespace kiln
