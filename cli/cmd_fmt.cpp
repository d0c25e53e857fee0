// `kiln fmt [--check] [--diff] [PATH...]`: rewrite files in the canonical
// format. A file is written only after its formatted text has been parsed
// again and found to have the same AST shape (and comments) as the original.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <set>
#include <sstream>

#include "cli/commands.h"
#include "compiler/format/diff.h"
#include "compiler/format/format.h"
#include "compiler/syntax/parse.h"

namespace kiln::cli {
namespace {

namespace fs = std::filesystem;

struct FmtOptions {
  bool check = false;
  bool diff = false;
};

enum class Outcome { kUnchanged, kChanged, kError };

void ReportError(const Context& ctx, const std::string& code, const std::string& message,
                 const std::string& help = "") {
  Diagnostics diags;
  Diagnostic& d = diags.Error(code, SourceRange{}, message);
  d.help = help;
  ctx.Report(diags, SourceManager());
}

// `./a/b.kiln` -> `a/b.kiln`, as users expect to see paths listed.
std::string DisplayPath(const fs::path& p) {
  std::string s = p.lexically_normal().generic_string();
  while (s.rfind("./", 0) == 0) s.erase(0, 2);
  return s;
}

// Expands the command-line paths into a sorted list of files.
bool CollectFiles(const Context& ctx, const std::vector<std::string>& paths,
                  std::vector<std::string>* files) {
  std::set<std::string> found;
  bool ok = true;
  for (const auto& arg : paths) {
    std::error_code ec;
    fs::file_status st = fs::status(arg, ec);
    if (ec || !fs::exists(st)) {
      ReportError(ctx, "E0702", "no such file or directory: `" + arg + "`");
      ok = false;
      continue;
    }
    if (!fs::is_directory(st)) {
      found.insert(DisplayPath(arg));
      continue;
    }
    fs::recursive_directory_iterator it(arg, fs::directory_options::skip_permission_denied, ec);
    if (ec) {
      ReportError(ctx, "E0702", "cannot read directory `" + arg + "`: " + ec.message());
      ok = false;
      continue;
    }
    for (; it != fs::recursive_directory_iterator(); it.increment(ec)) {
      if (ec) break;
      const fs::path& p = it->path();
      std::string name = p.filename().string();
      // Hidden folders hold tool state (.git, .kiln/modules), not sources.
      if (it->is_directory(ec) && !name.empty() && name[0] == '.') {
        it.disable_recursion_pending();
        continue;
      }
      if (it->is_regular_file(ec) && p.extension() == ".kiln") found.insert(DisplayPath(p));
    }
  }
  files->assign(found.begin(), found.end());
  return ok;
}

bool ReadWholeFile(const std::string& path, std::string* out, std::string* error) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    *error = std::strerror(errno);
    return false;
  }
  std::ostringstream buf;
  buf << in.rdbuf();
  if (in.bad()) {
    *error = "read error";
    return false;
  }
  *out = buf.str();
  return true;
}

// Writes a temporary file beside `path` (same mode), syncs it and renames it
// over `path`, so a crash leaves either the old or the new file.
bool WriteAtomically(const std::string& path, const std::string& content, std::string* error) {
  struct stat st;
  mode_t mode = 0644;
  if (stat(path.c_str(), &st) == 0) mode = st.st_mode & 07777;
  fs::path target(path);
  fs::path dir = target.parent_path();
  std::string tmpl =
      (dir.empty() ? fs::path(".") : dir).string() + "/." + target.filename().string() + ".fmt-XXXXXX";
  std::vector<char> name(tmpl.begin(), tmpl.end());
  name.push_back('\0');
  int fd = mkstemp(name.data());
  if (fd < 0) {
    *error = std::strerror(errno);
    return false;
  }
  std::string tmp_path(name.data());
  bool ok = true;
  size_t written = 0;
  while (ok && written < content.size()) {
    ssize_t n = write(fd, content.data() + written, content.size() - written);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) ok = false;
    else written += static_cast<size_t>(n);
  }
  if (ok) ok = fchmod(fd, mode) == 0 && fsync(fd) == 0;
  int saved = errno;
  if (close(fd) != 0 && ok) {
    ok = false;
    saved = errno;
  }
  if (ok && rename(tmp_path.c_str(), path.c_str()) != 0) {
    ok = false;
    saved = errno;
  }
  if (!ok) {
    unlink(tmp_path.c_str());
    *error = std::strerror(saved);
  }
  return ok;
}

// Formats `original` (from `path`); on success stores the canonical text in
// *formatted. Syntax errors and a failed safety check are reported.
bool FormatText(const Context& ctx, const std::string& path, const std::string& original,
                std::string* formatted) {
  SourceManager sm;
  uint32_t id = sm.AddBuffer(path, original);
  Diagnostics diags;
  std::unique_ptr<ast::File> file = Parse(sm, id, diags);
  if (diags.HasErrors() || !file) {
    ctx.Report(diags, sm);
    return false;
  }
  *formatted = Format(sm, *file);
  if (*formatted == original) return true;
  // Safety net: the new text must parse to the same tree with the same comments.
  SourceManager check_sm;
  uint32_t check_id = check_sm.AddBuffer(path, *formatted);
  Diagnostics check_diags;
  std::unique_ptr<ast::File> check = Parse(check_sm, check_id, check_diags);
  if (check_diags.HasErrors() || !check || AstShape(*check) != AstShape(*file)) {
    ReportError(ctx, "E0701",
                "internal error: formatting `" + path +
                    "` would change its meaning or lose a comment; the file was left unchanged",
                "this is a bug in `kiln fmt`; please report it with the file attached");
    return false;
  }
  return true;
}

Outcome FormatFile(const Context& ctx, const std::string& path, const FmtOptions& options) {
  std::string original, error;
  if (!ReadWholeFile(path, &original, &error)) {
    ReportError(ctx, "E0702", "cannot read `" + path + "`: " + error);
    return Outcome::kError;
  }
  std::string formatted;
  if (!FormatText(ctx, path, original, &formatted)) return Outcome::kError;
  if (formatted == original) return Outcome::kUnchanged;
  if (!options.check && !WriteAtomically(path, formatted, &error)) {
    ReportError(ctx, "E0703", "cannot write `" + path + "`: " + error,
                "the file was left unchanged");
    return Outcome::kError;
  }
  *ctx.out << path << "\n";
  if (options.diff) *ctx.out << UnifiedDiff(path, original, formatted, ctx.color);
  return Outcome::kChanged;
}

// `kiln fmt -`: standard input to standard output.
int FormatStdin(const Context& ctx, const FmtOptions& options) {
  std::string original((std::istreambuf_iterator<char>(std::cin)), std::istreambuf_iterator<char>());
  std::string formatted;
  if (!FormatText(ctx, "<stdin>", original, &formatted)) return 1;
  if (options.diff) {
    *ctx.out << UnifiedDiff("<stdin>", original, formatted, ctx.color);
  } else if (!options.check) {
    *ctx.out << formatted;
  }
  return options.check && formatted != original ? 3 : 0;
}

}  // namespace

int RunFmt(const Context& ctx, const std::vector<std::string>& args) {
  FmtOptions options;
  std::vector<std::string> paths;
  Flags flags("kiln fmt [--check] [--diff] [PATH...]",
              "Rewrites Kiln files in the canonical format: 2-space indentation, `=` aligned\n"
              "within runs of single-line attributes, one blank line between declarations;\n"
              "comments are kept. PATH is a file or a directory (its *.kiln files, recursively);\n"
              "the default is the current directory, `-` reads standard input and writes the\n"
              "result to standard output. Files with syntax errors are reported and left alone.\n"
              "Lists the files it rewrote. Exit status: 0 success, 1 errors, 3 with --check\n"
              "when some file is not formatted.");
  flags.Bool("--check", &options.check,
             "Change nothing; list the files that would change and exit 3 if any");
  flags.Bool("--diff", &options.diff, "Also print the changes as a unified diff");
  flags.Positional(&paths, 0, static_cast<size_t>(-1));
  if (!flags.Parse(args, ctx)) return flags.exit_code();
  if (paths.empty()) paths.push_back(".");
  if (paths.size() == 1 && paths[0] == "-") return FormatStdin(ctx, options);

  std::vector<std::string> files;
  bool ok = CollectFiles(ctx, paths, &files);
  bool changed = false;
  for (const auto& file : files) {
    switch (FormatFile(ctx, file, options)) {
      case Outcome::kUnchanged: break;
      case Outcome::kChanged: changed = true; break;
      case Outcome::kError: ok = false; break;
    }
  }
  if (!ok) return 1;
  return options.check && changed ? 3 : 0;
}

}  // namespace kiln::cli
