// The v0.0.38 adapter (Slurm 22.05) and version negotiation.
#include <algorithm>
#include <set>

#include "providers/slurm/api.h"

namespace kiln::slurm {

using json = nlohmann::json;

namespace {

std::string Str(const json& o, const char* key) {
  auto it = o.find(key);
  return it != o.end() && it->is_string() ? it->get<std::string>() : "";
}

int64_t Int(const json& o, const char* key, int64_t def = 0) {
  auto it = o.find(key);
  return it != o.end() && it->is_number() ? it->get<int64_t>() : def;
}

// The array `key` of an object answer, or null with *error.
const json* ArrayOf(const json& answer, const char* key, std::string* error) {
  if (!answer.is_object()) {
    *error = "the answer is not a JSON object";
    return nullptr;
  }
  auto it = answer.find(key);
  if (it == answer.end() || !it->is_array()) {
    *error = std::string("the answer has no `") + key + "` list";
    return nullptr;
  }
  return &*it;
}

class V0038 : public Adapter {
 public:
  std::string Version() const override { return "v0.0.38"; }
  std::string PingPath() const override { return "/slurm/v0.0.38/ping"; }
  std::string JobsPath() const override { return "/slurm/v0.0.38/jobs"; }
  std::string JobPath(int64_t id) const override { return "/slurm/v0.0.38/job/" + std::to_string(id); }
  std::string SubmitPath() const override { return "/slurm/v0.0.38/job/submit"; }
  std::string PartitionsPath() const override { return "/slurm/v0.0.38/partitions"; }
  std::string NodesPath() const override { return "/slurm/v0.0.38/nodes"; }

  json SubmitBody(const JobSpec& s) const override {
    json job = json::object();
    job["name"] = s.name;
    // v0.0.38 takes `nodes` as a string ("2"); an array is silently ignored
    // and minimum_nodes is an unknown key (PROVIDERS.md).
    job["nodes"] = std::to_string(s.nodes);
    if (!s.partition.empty()) job["partition"] = s.partition;
    if (!s.account.empty()) job["account"] = s.account;
    if (!s.qos.empty()) job["qos"] = s.qos;
    if (!s.gres.empty()) job["gres"] = s.gres;
    if (s.cpus_per_task > 0) job["cpus_per_task"] = s.cpus_per_task;
    if (s.memory_mb > 0) job["memory_per_node"] = s.memory_mb;
    if (s.time_limit_minutes > 0) job["time_limit"] = s.time_limit_minutes;
    job["comment"] = s.comment;
    job["current_working_directory"] = s.working_directory;
    if (!s.standard_output.empty()) {
      job["standard_output"] = s.standard_output;
      job["standard_error"] = s.standard_output;
    }
    json env = json::object();
    for (const auto& [k, v] : s.environment) env[k] = v;
    job["environment"] = env;
    return {{"script", s.script}, {"job", job}};
  }

  bool ParseErrors(const json& answer, std::vector<SlurmError>* out, std::string* error) const override {
    if (!answer.is_object()) {
      *error = "the answer is not a JSON object";
      return false;
    }
    auto it = answer.find("errors");
    if (it == answer.end() || it->is_null()) return true;
    if (!it->is_array()) {
      *error = "`errors` is not a list";
      return false;
    }
    for (const auto& e : *it) {
      if (!e.is_object()) continue;
      SlurmError se;
      se.code = static_cast<int>(Int(e, "error_number", Int(e, "error_code", Int(e, "errno", 0))));
      std::string what = Str(e, "error"), desc = Str(e, "description");
      se.message = what.empty() ? desc : desc.empty() || desc == what ? what : what + " (" + desc + ")";
      if (se.message.empty()) se.message = e.dump();
      out->push_back(se);
    }
    return true;
  }

  bool ParseSubmit(const json& answer, int64_t* job_id, std::string* error) const override {
    if (!answer.is_object()) {
      *error = "the answer is not a JSON object";
      return false;
    }
    *job_id = Int(answer, "job_id", 0);
    return true;
  }

  bool ParseJobs(const json& answer, std::vector<JobInfo>* out, std::string* error) const override {
    const json* jobs = ArrayOf(answer, "jobs", error);
    if (!jobs) return false;
    for (const auto& j : *jobs) {
      if (!j.is_object() || !j.contains("job_id") || !j["job_id"].is_number_integer() ||
          !j.contains("job_state") || !j["job_state"].is_string()) {
        *error = "a job without a numeric `job_id` and a `job_state`";
        return false;
      }
      JobInfo info;
      info.id = j["job_id"].get<int64_t>();
      info.name = Str(j, "name");
      info.state = Str(j, "job_state");
      info.reason = Str(j, "state_reason");
      info.comment = Str(j, "comment");
      info.user = Str(j, "user_name");
      info.batch_host = Str(j, "batch_host");
      info.nodes = Str(j, "nodes");
      info.standard_output = Str(j, "standard_output");
      info.exit_code = Int(j, "exit_code");
      info.submit_time = Int(j, "submit_time");
      out->push_back(std::move(info));
    }
    return true;
  }

  bool ParseNodes(const json& answer, std::vector<NodeInfo>* out, std::string* error) const override {
    const json* nodes = ArrayOf(answer, "nodes", error);
    if (!nodes) return false;
    for (const auto& n : *nodes) {
      if (!n.is_object() || Str(n, "name").empty()) {
        *error = "a node without a `name`";
        return false;
      }
      NodeInfo info;
      info.name = Str(n, "name");
      info.address = Str(n, "address");
      if (info.address.empty()) info.address = info.name;
      info.state = Str(n, "state");
      info.cpus = static_cast<int>(Int(n, "cpus"));
      info.memory_mb = Int(n, "real_memory");
      info.gres = ParseGresList(Str(n, "gres"));
      info.gres_used = ParseGresList(Str(n, "gres_used"));
      if (n.contains("partitions") && n["partitions"].is_array())
        for (const auto& p : n["partitions"])
          if (p.is_string()) info.partitions.push_back(p.get<std::string>());
      out->push_back(std::move(info));
    }
    return true;
  }

  bool ParsePartitions(const json& answer, std::vector<PartitionInfo>* out, std::string* error) const override {
    const json* parts = ArrayOf(answer, "partitions", error);
    if (!parts) return false;
    for (const auto& p : *parts) {
      if (!p.is_object() || Str(p, "name").empty()) {
        *error = "a partition without a `name`";
        return false;
      }
      PartitionInfo info;
      info.name = Str(p, "name");
      info.state = Str(p, "state");
      info.total_nodes = static_cast<int>(Int(p, "total_nodes"));
      info.max_time_minutes = Int(p, "max_time_limit", -1);
      info.allowed_accounts = Str(p, "allowed_accounts");
      info.denied_accounts = Str(p, "denied_accounts");
      info.allowed_qos = Str(p, "allowed_qos");
      info.denied_qos = Str(p, "denied_qos");
      out->push_back(std::move(info));
    }
    return true;
  }
};

}  // namespace

std::vector<Gres> ParseGresList(const std::string& text) {
  std::vector<Gres> out;
  size_t start = 0;
  while (start < text.size()) {
    // Items are separated by commas outside parentheses ("(S:0-1)").
    size_t end = start;
    int depth = 0;
    while (end < text.size() && (text[end] != ',' || depth > 0)) {
      if (text[end] == '(') ++depth;
      if (text[end] == ')') --depth;
      ++end;
    }
    std::string item = text.substr(start, end - start);
    start = end + 1;
    if (size_t paren = item.find('('); paren != std::string::npos) item.resize(paren);
    if (item.empty() || item == "(null)" || item == "N/A") continue;
    std::vector<std::string> parts;
    for (size_t p = 0; p <= item.size();) {
      size_t colon = item.find(':', p);
      if (colon == std::string::npos) colon = item.size();
      parts.push_back(item.substr(p, colon - p));
      p = colon + 1;
    }
    Gres g;
    g.name = parts[0];
    g.count = 1;
    auto is_count = [](const std::string& s) {
      return !s.empty() && std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; });
    };
    if (parts.size() == 2) {
      if (is_count(parts[1])) g.count = std::stoi(parts[1]);
      else g.type = parts[1];
    } else if (parts.size() >= 3) {
      g.type = parts[1];
      if (is_count(parts[2])) g.count = std::stoi(parts[2]);
    }
    out.push_back(g);
  }
  return out;
}

std::vector<std::string> SpokenVersions() { return {"v0.0.38"}; }

std::vector<std::string> OfferedVersions(const json& openapi) {
  std::set<std::string> found;
  if (openapi.is_object() && openapi.contains("paths") && openapi["paths"].is_object()) {
    const std::string prefix = "/slurm/";
    for (const auto& [path, v] : openapi["paths"].items()) {
      if (path.rfind(prefix, 0) != 0) continue;
      size_t end = path.find('/', prefix.size());
      if (end != std::string::npos) found.insert(path.substr(prefix.size(), end - prefix.size()));
    }
  }
  return {found.begin(), found.end()};
}

std::unique_ptr<Adapter> ChooseAdapter(const json& openapi, std::string* error) {
  std::vector<std::string> offered = OfferedVersions(openapi);
  for (const auto& v : SpokenVersions()) {
    if (std::find(offered.begin(), offered.end(), v) == offered.end()) continue;
    if (v == "v0.0.38") return std::make_unique<V0038>();
  }
  std::string list;
  for (const auto& v : offered) list += (list.empty() ? "" : ", ") + v;
  std::string spoken;
  for (const auto& v : SpokenVersions()) spoken += (spoken.empty() ? "" : ", ") + v;
  *error = "slurmrestd offers " + (list.empty() ? std::string("no Slurm API version") : "API " + list) +
           ", and kiln's slurm provider speaks " + spoken;
  return nullptr;
}

}  // namespace kiln::slurm
