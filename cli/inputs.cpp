#include "cli/inputs.h"

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "providers/registry.h"

namespace kiln::cli {

namespace {

std::string TrimWs(const std::string& s) {
  size_t b = s.find_first_not_of(" \t\r\n");
  if (b == std::string::npos) return "";
  return s.substr(b, s.find_last_not_of(" \t\r\n") - b + 1);
}

// A quoted .kilnvars value: "text" with the usual escapes.
std::string Unquote(const std::string& s) {
  std::string out;
  for (size_t i = 1; i + 1 < s.size(); ++i) {
    if (s[i] == '\\' && i + 2 < s.size()) {
      char c = s[++i];
      out += c == 'n' ? '\n' : c == 't' ? '\t' : c == 'r' ? '\r' : c;
    } else {
      out += s[i];
    }
  }
  return out;
}

}  // namespace

bool ReadInputValues(const Context& ctx, const std::vector<std::string>& vars,
                     const std::vector<std::string>& var_files, InputValues* out,
                     std::map<std::string, std::string>* origins) {
  std::map<std::string, std::string> ignored;
  if (!origins) origins = &ignored;
  // kiln.kilnvars and *.auto.kilnvars (sorted) load first, as Terraform's
  // terraform.tfvars and *.auto.tfvars; files and --var given later win.
  std::vector<std::string> files;
  std::error_code ec;
  if (std::filesystem::is_regular_file("kiln.kilnvars", ec)) files.push_back("kiln.kilnvars");
  std::vector<std::string> autos;
  for (std::filesystem::directory_iterator it(".", ec), end; !ec && it != end; it.increment(ec)) {
    std::string name = it->path().filename().string();
    if (name.size() > 14 && name.substr(name.size() - 14) == ".auto.kilnvars" && it->is_regular_file(ec))
      autos.push_back(name);
  }
  std::sort(autos.begin(), autos.end());
  files.insert(files.end(), autos.begin(), autos.end());
  files.insert(files.end(), var_files.begin(), var_files.end());
  for (const std::string& path : files) {
    std::ifstream in(path);
    if (!in) {
      ctx.Fail("cannot read the var file " + path);
      return false;
    }
    std::stringstream ss;
    ss << in.rdbuf();
    std::string text = ss.str();
    std::string trimmed = TrimWs(text);
    if (!trimmed.empty() && trimmed[0] == '{') {
      nlohmann::json j = nlohmann::json::parse(text, nullptr, false);
      if (j.is_discarded() || !j.is_object()) {
        ctx.Fail("the var file " + path + " is not a JSON object");
        return false;
      }
      for (auto it = j.begin(); it != j.end(); ++it) {
        out->json[it.key()] = it.value();
        out->raw.erase(it.key());
        (*origins)[it.key()] = "var file " + path;
      }
      continue;
    }
    // .kilnvars: one `name = value` per line; # comments.
    std::istringstream lines(text);
    std::string line;
    int n = 0;
    while (std::getline(lines, line)) {
      ++n;
      std::string t = TrimWs(line);
      if (t.empty() || t[0] == '#' || t.rfind("//", 0) == 0) continue;
      size_t eq = t.find('=');
      if (eq == std::string::npos) {
        ctx.Fail(path + ":" + std::to_string(n) + ": expected `name = value`");
        return false;
      }
      std::string name = TrimWs(t.substr(0, eq));
      std::string value = TrimWs(t.substr(eq + 1));
      if (value.size() >= 2 && value.front() == '"' && value.back() == '"') {
        out->json[name] = Unquote(value);
        out->raw.erase(name);
      } else {
        out->raw[name] = value;
        out->json.erase(name);
      }
      (*origins)[name] = "var file " + path;
    }
  }
  for (const std::string& v : vars) {
    size_t eq = v.find('=');
    if (eq == std::string::npos || eq == 0) {
      ctx.Fail("--var takes NAME=VALUE, not `" + v + "`");
      return false;
    }
    out->raw[v.substr(0, eq)] = v.substr(eq + 1);
    out->json.erase(v.substr(0, eq));
    (*origins)[v.substr(0, eq)] = "--var";
  }
  return true;
}

void InputFlags::Register(Flags& flags) {
  flags.Repeated("--var", &vars, "NAME=VALUE", "Set an input value");
  flags.Repeated("--var-file", &var_files, "FILE", "Read input values from a file (JSON or .kilnvars)");
}

std::function<const ProviderSchema*(const std::string& type)> SchemasFrom(ProviderRegistry& registry) {
  return [&registry](const std::string& type) -> const ProviderSchema* {
    ProviderDiagnostics ignored;  // an unknown provider is reported by the checker
    return registry.SchemaFor(type, &ignored);
  };
}

bool MakeCompileOptions(const Context& ctx, const InputFlags& inputs, const std::string& dir,
                        ProviderRegistry& registry, CompileOptions* out) {
  out->root_dir = dir;
  out->provider_schema = SchemasFrom(registry);
  return ReadInputValues(ctx, inputs.vars, inputs.var_files, &out->inputs);
}

}  // namespace kiln::cli
