#include "cli/inputs.h"

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
                     const std::vector<std::string>& var_files, InputValues* out) {
  for (const std::string& path : var_files) {
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
      for (auto it = j.begin(); it != j.end(); ++it) out->json[it.key()] = it.value();
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
      } else {
        out->raw[name] = value;
      }
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
