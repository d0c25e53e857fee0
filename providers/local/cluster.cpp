// Clusters: GPU reservations under ROOT/clusters/<slug>.json. A cluster of
// N nodes reserves N × its per-node GPUs; things placed on it take their
// GPUs from that set.
#include <algorithm>

#include "providers/local/provider_impl.h"

namespace kiln::local {

namespace {
int Nodes(const json& config) {
  int64_t min = 1, max = 1;
  if (!ParseRange(config.value("nodes", json()), 1, &min, &max)) return 1;
  return static_cast<int>(std::max<int64_t>(min, 1));
}
}  // namespace

void LocalProvider::PlanCluster(const PlanRequest& req, bool fresh, PlanResponse* resp) {
  resp->planned["simulated"] = simulated_;
  std::vector<int> free;
  GpuRequest gpu;
  std::string error;
  if (!ParseGpu(req.config.value("gpu", json()), &gpu, &error)) {
    if (!ContainsUnknown(req.config.value("gpu", json()))) resp->diagnostics.push_back(Err(error, {"gpu"}));
  } else if (fresh && gpu.count > 0 && !ContainsUnknown(req.config.value("nodes", json()))) {
    if (!FitCluster(req.address, gpu, Nodes(req.config), &free, &error))
      resp->diagnostics.push_back(Err(error, {"gpu"}));
  }
}

bool LocalProvider::FitCluster(const std::string& address, const GpuRequest& gpu, int nodes,
                               std::vector<int>* picked, std::string* error) {
  auto reservations = ClusterReservations(root_, address);
  std::map<int, std::string> owners;
  for (const auto& [a, v] : reservations)
    for (int i : v) owners[i] = a;
  std::string model = ModelName(gpu);
  int matching = 0, need = gpu.count * nodes;
  for (const auto& g : gpus_) {
    if (!Matches(g, gpu)) continue;
    ++matching;
    if (!owners.count(g.index) && static_cast<int>(picked->size()) < need) picked->push_back(g.index);
  }
  if (static_cast<int>(picked->size()) >= need) return true;
  std::string what = std::to_string(need) + " × " + (model.empty() ? "GPU" : model);
  if (nodes > 1) what += " (" + std::to_string(nodes) + " nodes × " + std::to_string(gpu.count) + ")";
  if (gpus_.empty()) {
    *error = "cluster needs " + what + " but this machine has no GPUs (nvidia-smi found none)";
  } else if (matching < need) {
    *error = "cluster needs " + what + " but this machine has " + std::to_string(matching) +
             (simulated_ ? " (simulated)" : "");
  } else {
    std::set<std::string> who;
    for (const auto& [i, a] : owners) who.insert(a);
    std::string list;
    for (const auto& a : who) list += (list.empty() ? "" : ", ") + a;
    *error = "cluster needs " + what + " but only " + std::to_string(picked->size()) + " of " +
             std::to_string(matching) + " are free (reserved by " + list + ")";
  }
  picked->clear();
  return false;
}

ApplyResponse LocalProvider::ApplyCluster(const ApplyRequest& req) {
  ApplyResponse resp;
  GpuRequest gpu;
  std::string error;
  if (!ParseGpu(req.config.value("gpu", json()), &gpu, &error)) {
    resp.diagnostics.push_back(Err(error, {"gpu"}));
    return resp;
  }
  std::lock_guard<std::mutex> lock(reservations_mu_);
  FileLock flock_(root_ / "clusters" / ".lock");
  std::vector<int> picked;
  fs::path file = root_ / "clusters" / (Slug(req.address) + ".json");
  json existing = ReadJson(file);
  if (!req.prior.is_null() && existing.is_object() &&
      SameValue(req.prior.value("gpu", json()), req.config.value("gpu", json())) &&
      SameValue(req.prior.value("nodes", json()), req.config.value("nodes", json()))) {
    for (const auto& g : existing["gpus"]) picked.push_back(g.get<int>());
  } else if (gpu.count > 0 && !FitCluster(req.address, gpu, Nodes(req.config), &picked, &error)) {
    resp.diagnostics.push_back(Err(error, {"gpu"}));
    return resp;
  }
  json state = req.config;
  state["id"] = Slug(req.address);
  state["status"] = "ready";
  state["gpu_indices"] = picked;
  state["simulated"] = simulated_;
  json record = {{"address", req.address}, {"id", state["id"]}, {"gpus", picked}, {"nodes", Nodes(req.config)},
                 {"state", state}};
  if (!WriteText(file, record.dump(2))) {
    resp.diagnostics.push_back(Err("cannot write " + file.string()));
    return resp;
  }
  if (req.progress) req.progress("reserved GPUs [" + Join(picked, ",") + "]");
  resp.state = state;
  return resp;
}

ReadResponse LocalProvider::ReadCluster(const ReadRequest& req) {
  ReadResponse resp;
  json r = ReadJson(root_ / "clusters" / (Slug(req.address) + ".json"));
  if (!r.is_object()) return resp;  // gone
  json state = req.state.is_object() ? req.state : r.value("state", json::object());
  state["gpu_indices"] = r["gpus"];
  state["status"] = "ready";
  resp.state = state;
  return resp;
}

void LocalProvider::DeleteCluster(const DeleteRequest& req, DeleteResponse* resp) {
  std::lock_guard<std::mutex> lock(reservations_mu_);
  FileLock flock_(root_ / "clusters" / ".lock");
  std::error_code ec;
  fs::remove(root_ / "clusters" / (Slug(req.address) + ".json"), ec);
  if (ec) resp->diagnostics.push_back(Err("could not remove the reservation of " + req.address + ": " + ec.message()));
}

}  // namespace kiln::local
