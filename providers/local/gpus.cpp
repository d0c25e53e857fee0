#include "providers/local/gpus.h"

#include <algorithm>
#include <cctype>
#include <fstream>
#include <regex>
#include <sstream>

namespace kiln::local {

namespace {

#ifndef KILN_STDLIB_DIR
#define KILN_STDLIB_DIR "stdlib"
#endif

std::string Trim(const std::string& s) {
  size_t b = s.find_first_not_of(" \t\r\n");
  if (b == std::string::npos) return "";
  size_t e = s.find_last_not_of(" \t\r\n");
  return s.substr(b, e - b + 1);
}

std::string Fold(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return std::tolower(c); });
  return s;
}

int64_t ParseBytes(const std::string& text) {
  static const std::regex re(R"re(^([0-9]+)\s*(B|KB|MB|GB|TB|KiB|MiB|GiB|TiB)$)re");
  std::smatch m;
  if (!std::regex_match(text, m, re)) return 0;
  int64_t n = std::stoll(m[1]);
  std::string u = m[2];
  if (u == "KB") return n * 1000;
  if (u == "MB") return n * 1000 * 1000;
  if (u == "GB") return n * 1000 * 1000 * 1000;
  if (u == "TB") return n * 1000LL * 1000 * 1000 * 1000;
  if (u == "KiB") return n << 10;
  if (u == "MiB") return n << 20;
  if (u == "GiB") return n << 30;
  if (u == "TiB") return n << 40;
  return n;
}

}  // namespace

GpuCatalog GpuCatalog::Load(const std::string& path) {
  GpuCatalog c;
  std::ifstream in(path);
  if (!in) return c;
  static const std::regex model_re(R"re(^\s*"?([A-Za-z0-9_.-]+)"?\s*=\s*\{\s*$)re");
  static const std::regex memory_re(R"re(^\s*memory\s*=\s*([0-9]+[A-Za-z]+))re");
  static const std::regex aliases_re(R"re(^\s*aliases\s*=\s*\[(.*)\])re");
  static const std::regex quoted_re(R"re("([^"]*)")re");
  std::string line;
  bool in_catalog = false;
  CatalogModel* current = nullptr;
  while (std::getline(in, line)) {
    std::string code = line.substr(0, line.find("//"));
    if (code.find("let gpus") != std::string::npos) {
      in_catalog = true;
      continue;
    }
    if (!in_catalog) continue;
    std::smatch m;
    if (std::regex_search(code, m, model_re)) {
      c.models_.push_back({m[1], 0, {}});
      current = &c.models_.back();
    } else if (current && std::regex_search(code, m, memory_re)) {
      current->memory = ParseBytes(m[1]);
    } else if (current && std::regex_search(line, m, aliases_re)) {
      std::string list = m[1];
      for (std::sregex_iterator it(list.begin(), list.end(), quoted_re), end; it != end; ++it)
        current->aliases.push_back((*it)[1]);
    } else if (Trim(code) == "}" && current) {
      current = nullptr;
    }
  }
  for (const auto& m : c.models_) {
    c.exact_[m.model] = m.model;
    c.folded_[Fold(m.model)] = m.model;
  }
  for (const auto& m : c.models_) {
    for (const auto& a : m.aliases) {
      c.exact_.emplace(a, m.model);
      c.folded_.emplace(Fold(a), m.model);
    }
  }
  return c;
}

const GpuCatalog& GpuCatalog::Default() {
  static const GpuCatalog catalog = Load(std::string(KILN_STDLIB_DIR) + "/gpus.kiln");
  return catalog;
}

std::string GpuCatalog::Normalize(const std::string& name) const {
  std::string n = Trim(name);
  if (auto it = exact_.find(n); it != exact_.end()) return it->second;
  if (auto it = folded_.find(Fold(n)); it != folded_.end()) return it->second;
  return "";
}

int64_t GpuCatalog::Memory(const std::string& model) const {
  for (const auto& m : models_)
    if (m.model == model) return m.memory;
  return 0;
}

std::vector<LocalGpu> ParseNvidiaSmi(const std::string& text, const GpuCatalog& catalog,
                                     std::vector<std::string>* warnings) {
  std::vector<LocalGpu> gpus;
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line)) {
    if (Trim(line).empty()) continue;
    std::vector<std::string> cols;
    std::stringstream ss(line);
    std::string col;
    while (std::getline(ss, col, ',')) cols.push_back(Trim(col));
    auto all_digits = [](const std::string& s) {
      return !s.empty() && std::all_of(s.begin(), s.end(), [](char ch) { return std::isdigit(ch); });
    };
    if (cols.size() != 4 || !all_digits(cols[0]) || !all_digits(cols[3])) {
      if (warnings) warnings->push_back("cannot parse nvidia-smi line \"" + Trim(line) + "\"");
      continue;
    }
    LocalGpu g;
    g.index = std::stoi(cols[0]);
    g.name = cols[1];
    g.uuid = cols[2];
    g.memory = std::stoll(cols[3]) << 20;  // MiB
    g.model = catalog.Normalize(g.name);
    if (g.model.empty()) {
      if (warnings)
        warnings->push_back("GPU " + cols[0] + " (\"" + g.name +
                            "\") is not in the GPU catalog; it is used under that name");
      g.model = g.name;
    }
    gpus.push_back(g);
  }
  std::sort(gpus.begin(), gpus.end(), [](const LocalGpu& a, const LocalGpu& b) { return a.index < b.index; });
  return gpus;
}

bool ParseSimulatedGpus(const std::string& spec, const GpuCatalog& catalog,
                        std::vector<LocalGpu>* gpus, std::string* error) {
  std::stringstream ss(spec);
  std::string part;
  int index = 0;
  while (std::getline(ss, part, ',')) {
    part = Trim(part);
    if (part.empty()) continue;
    std::string name = part, count_text = "1";
    if (size_t colon = part.find(':'); colon != std::string::npos) {
      name = Trim(part.substr(0, colon));
      count_text = Trim(part.substr(colon + 1));
    }
    if (count_text.empty() || count_text.size() > 4 ||
        !std::all_of(count_text.begin(), count_text.end(), [](char c) { return std::isdigit(c); })) {
      *error = "`" + part + "` is not MODEL:COUNT (e.g. \"H100:4\")";
      return false;
    }
    std::string model = catalog.empty() ? name : catalog.Normalize(name);
    if (model.empty()) {
      *error = "unknown GPU model `" + name + "` in simulate_gpus";
      return false;
    }
    int count = std::stoi(count_text);
    for (int i = 0; i < count; ++i) {
      LocalGpu g;
      g.index = index++;
      g.model = model;
      g.name = model + " (simulated)";
      g.uuid = "GPU-simulated-" + std::to_string(g.index);
      g.memory = catalog.Memory(model);
      gpus->push_back(g);
    }
  }
  if (gpus->empty()) {
    *error = "simulate_gpus `" + spec + "` declares no GPUs";
    return false;
  }
  return true;
}

}  // namespace kiln::local
