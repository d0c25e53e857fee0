#include "providers/slurm/placement.h"

#include <algorithm>
#include <map>
#include <sstream>

namespace kiln::slurm {

namespace {

std::vector<std::string> SplitList(const std::string& s) {
  std::vector<std::string> out;
  std::stringstream in(s);
  std::string item;
  while (std::getline(in, item, ','))
    if (!item.empty()) out.push_back(item);
  return out;
}

bool Listed(const std::string& list, const std::string& name) {
  auto items = SplitList(list);
  return std::find(items.begin(), items.end(), name) != items.end() ||
         std::find(items.begin(), items.end(), "ALL") != items.end();
}

std::string Plural(int n, const std::string& word) {
  return std::to_string(n) + " " + word + (n == 1 ? "" : "s");
}

// GPUs of one node by catalog model.
std::map<std::string, int> NodeGpus(const NodeInfo& n, const local::GpuCatalog& catalog) {
  std::map<std::string, int> out;
  for (const auto& g : n.gres)
    if (g.name == "gpu") out[GresModel(g.type, catalog)] += g.count;
  return out;
}

std::string GpuText(const std::map<std::string, int>& gpus) {
  std::string out;
  for (const auto& [model, count] : gpus)
    out += (out.empty() ? "" : " + ") + std::to_string(count) + " x " + (model.empty() ? "GPU" : model);
  return out;
}

}  // namespace

const PartitionInfo* ClusterView::Partition(const std::string& name) const {
  for (const auto& p : partitions)
    if (p.name == name) return &p;
  return nullptr;
}

std::vector<const NodeInfo*> ClusterView::NodesOf(const std::string& partition) const {
  std::vector<const NodeInfo*> out;
  for (const auto& n : nodes)
    if (std::find(n.partitions.begin(), n.partitions.end(), partition) != n.partitions.end()) out.push_back(&n);
  return out;
}

std::string GresModel(const std::string& type, const local::GpuCatalog& catalog) {
  if (type.empty()) return "";
  std::string model = catalog.Normalize(type);
  return model.empty() ? type : model;
}

std::string DescribePartition(const ClusterView& view, const std::string& partition,
                              const local::GpuCatalog& catalog) {
  auto nodes = view.NodesOf(partition);
  // Group nodes by their GPUs (a partition may mix node types).
  std::map<std::string, int> shapes;
  for (const NodeInfo* n : nodes) shapes[GpuText(NodeGpus(*n, catalog))]++;
  std::string out = "partition " + partition + " has ";
  if (nodes.empty()) return out + "no nodes";
  bool first = true;
  for (const auto& [gpus, count] : shapes) {
    if (!first) out += " and ";
    first = false;
    out += Plural(count, "node") + (gpus.empty() ? " without GPUs" : " with " + gpus + (count == 1 ? "" : " each"));
  }
  return out;
}

std::string CheckPartitionExists(const ClusterView& view, const std::string& name) {
  if (view.Partition(name)) return "";
  std::vector<std::string> names;
  for (const auto& p : view.partitions) names.push_back(p.name);
  std::sort(names.begin(), names.end());
  std::string list;
  for (const auto& n : names) list += (list.empty() ? "" : ", ") + n;
  return "partition `" + name + "` does not exist; the cluster has: " + (list.empty() ? "(no partitions)" : list);
}

std::string CheckFit(const ClusterView& view, const std::string& partition, const Request& req,
                     const local::GpuCatalog& catalog) {
  auto nodes = view.NodesOf(partition);
  int fitting = 0;
  bool gpu_anywhere = false, cpus_anywhere = false, memory_anywhere = false;
  for (const NodeInfo* n : nodes) {
    int gpus = 0;
    for (const auto& [model, count] : NodeGpus(*n, catalog)) {
      bool model_ok = req.gpu_model.empty() || model.empty() || model == req.gpu_model;
      if (req.gpu_memory > 0 && !model.empty()) model_ok = catalog.Memory(model) >= req.gpu_memory;
      if (model_ok) gpus = std::max(gpus, count);
    }
    bool gpu_ok = gpus >= req.gpus_per_node;
    bool cpu_ok = req.cpus_per_node <= 0 || n->cpus >= req.cpus_per_node;
    bool mem_ok = req.memory_per_node <= 0 || n->memory_mb * 1024 * 1024 >= req.memory_per_node;
    gpu_anywhere |= gpu_ok;
    cpus_anywhere |= cpu_ok;
    memory_anywhere |= mem_ok;
    if (gpu_ok && cpu_ok && mem_ok) ++fitting;
  }
  std::string part = DescribePartition(view, partition, catalog);
  if (req.gpus_per_node > 0 && !gpu_anywhere) {
    std::string what = req.gpu_model.empty() ? (req.gpu_memory > 0 ? "GPUs with enough memory" : "GPUs")
                                             : req.gpu_model;
    return part + "; " + req.who + " asks for " + std::to_string(req.gpus_per_node) +
           (req.gpu_model.empty() ? " " + what : " x " + what) + " per node";
  }
  if (!cpus_anywhere) {
    int most = 0;
    for (const NodeInfo* n : nodes) most = std::max(most, n->cpus);
    return "partition " + partition + "'s largest node has " + Plural(most, "CPU") + "; " + req.who +
           " asks for " + std::to_string(req.cpus_per_node) + " per node";
  }
  if (!memory_anywhere) {
    int64_t most = 0;
    for (const NodeInfo* n : nodes) most = std::max(most, n->memory_mb);
    return "partition " + partition + "'s largest node has " + std::to_string(most) + " MiB of memory; " +
           req.who + " asks for " + std::to_string(req.memory_per_node / (1024 * 1024)) + " MiB per node";
  }
  if (fitting < req.nodes)
    return part + "; " + req.who + " asks for " + Plural(req.nodes, "node") +
           (fitting == static_cast<int>(nodes.size()) ? "" : " (" + std::to_string(fitting) + " of them fit its request)");
  return "";
}

std::string CheckAccess(const PartitionInfo& p, const std::string& account, const std::string& qos) {
  if (!account.empty()) {
    if (!p.allowed_accounts.empty() && !Listed(p.allowed_accounts, account))
      return "partition " + p.name + " allows the accounts " + p.allowed_accounts + "; account `" + account +
             "` is not one of them";
    if (!p.denied_accounts.empty() && Listed(p.denied_accounts, account))
      return "partition " + p.name + " denies account `" + account + "`";
  }
  if (!qos.empty()) {
    if (!p.allowed_qos.empty() && !Listed(p.allowed_qos, qos))
      return "partition " + p.name + " allows the QOS " + p.allowed_qos + "; qos `" + qos + "` is not one of them";
    if (!p.denied_qos.empty() && Listed(p.denied_qos, qos)) return "partition " + p.name + " denies qos `" + qos + "`";
  }
  return "";
}

}  // namespace kiln::slurm
