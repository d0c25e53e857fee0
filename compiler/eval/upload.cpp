#include "compiler/eval/upload.h"

#include <fnmatch.h>

#include <filesystem>
#include <fstream>

#include "core/hash.h"

namespace kiln {

namespace {

namespace fs = std::filesystem;

constexpr size_t kMaxUploadFiles = 20000;

bool HashFile(const fs::path& p, std::string* out) {
  std::ifstream in(p, std::ios::binary);
  if (!in) return false;
  Sha256Builder h;
  char buf[65536];
  while (in) {
    in.read(buf, sizeof(buf));
    std::streamsize n = in.gcount();
    if (n > 0) h.Update(std::string_view(buf, static_cast<size_t>(n)));
  }
  if (in.bad()) return false;
  *out = ToHex(h.Final()).substr(0, 16);
  return true;
}

// .gitignore-style match of `rel` (relative to the workdir, `/`-separated).
bool Excluded(const std::string& rel, bool is_dir, const std::vector<std::string>& patterns) {
  std::string base = rel.substr(rel.rfind('/') == std::string::npos ? 0 : rel.rfind('/') + 1);
  for (std::string p : patterns) {
    if (p.empty() || p[0] == '#') continue;
    bool dir_only = p.size() > 1 && p.back() == '/';
    if (dir_only) p.pop_back();
    if (dir_only && !is_dir) continue;
    bool anchored = p[0] == '/' || p.find('/') != std::string::npos;
    if (p[0] == '/') p.erase(0, 1);
    if (p.rfind("**/", 0) == 0) {
      p.erase(0, 3);
      anchored = p.find('/') != std::string::npos;
    }
    if (anchored ? fnmatch(p.c_str(), rel.c_str(), FNM_PATHNAME) == 0 : fnmatch(p.c_str(), base.c_str(), 0) == 0) {
      return true;
    }
  }
  return false;
}

}  // namespace

bool BuildUploadManifest(const std::string& module_dir, const std::string& workdir,
                         const std::vector<std::string>& excludes,
                         const std::map<std::string, std::string>& files, UploadManifest* out,
                         std::string* error) {
  std::error_code ec;
  if (!workdir.empty()) {
    fs::path root = fs::path(module_dir) / workdir;
    if (!fs::is_directory(root, ec)) {
      *error = "workdir `" + workdir + "` is not a directory (looked in " + root.lexically_normal().string() + ")";
      return false;
    }
    for (fs::recursive_directory_iterator it(root, fs::directory_options::none, ec), end; !ec && it != end;
         it.increment(ec)) {
      std::string rel = fs::relative(it->path(), root, ec).generic_string();
      bool is_dir = it->is_directory(ec);
      if (rel == ".git" || Excluded(rel, is_dir, excludes)) {
        if (is_dir) it.disable_recursion_pending();
        continue;
      }
      if (!it->is_regular_file(ec)) continue;
      if (out->files.size() >= kMaxUploadFiles) {
        *error = "workdir `" + workdir + "` holds more than " + std::to_string(kMaxUploadFiles) +
                 " files; leave data and checkpoints out with `workdir_exclude`";
        return false;
      }
      std::string h;
      if (!HashFile(it->path(), &h)) {
        *error = "cannot read " + it->path().string();
        return false;
      }
      out->files[rel] = h;
    }
    if (ec) {
      *error = "cannot list workdir `" + workdir + "`: " + ec.message();
      return false;
    }
  }
  for (const auto& [dest, src] : files) {
    fs::path p = fs::path(module_dir) / src;
    std::string h;
    if (!fs::is_regular_file(p, ec) || !HashFile(p, &h)) {
      *error = "cannot read `" + src + "` for files[\"" + dest + "\"] (looked in " + p.lexically_normal().string() + ")";
      return false;
    }
    out->files[dest] = h;
  }
  Sha256Builder h;
  for (const auto& [name, fh] : out->files) {
    h.Update(name);
    h.Update(std::string_view("\0", 1));
    h.Update(fh);
  }
  out->hash = ToHex(h.Final());
  return true;
}

}  // namespace kiln
