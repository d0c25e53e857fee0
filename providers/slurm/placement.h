// Plan-time checks of a request against the live cluster: does the
// partition exist, do its nodes have the GPUs, CPUs and memory asked for,
// may the account and QOS use it. Messages name both sides ("partition gpu
// has 2 nodes with 4 x H100 each; training_job.big asks for 8 per node").
#pragma once

#include <string>
#include <vector>

#include "providers/local/gpus.h"
#include "providers/slurm/api.h"

namespace kiln::slurm {

struct ClusterView {
  std::vector<PartitionInfo> partitions;
  std::vector<NodeInfo> nodes;
  const PartitionInfo* Partition(const std::string& name) const;
  std::vector<const NodeInfo*> NodesOf(const std::string& partition) const;
};

struct Request {
  std::string who;          // "training_job.big"
  std::string gpu_model;    // catalog name; "" = any
  int64_t gpu_memory = 0;   // bytes; for a memory request
  int gpus_per_node = 0;
  int nodes = 1;
  int cpus_per_node = 0;
  int64_t memory_per_node = 0;  // bytes
};

// The catalog model of a GRES type ("h100" -> "H100"); the type itself
// when the catalog does not know it.
std::string GresModel(const std::string& type, const local::GpuCatalog& catalog);
// "partition gpu has 2 nodes with 4 x H100 each"
std::string DescribePartition(const ClusterView& view, const std::string& partition,
                              const local::GpuCatalog& catalog);
// "" when `name` exists; otherwise an error that lists the partitions.
std::string CheckPartitionExists(const ClusterView& view, const std::string& name);
// "" when `req` fits on the partition's nodes; otherwise the error.
std::string CheckFit(const ClusterView& view, const std::string& partition, const Request& req,
                     const local::GpuCatalog& catalog);
// "" when the partition lets `account` and `qos` (either may be "") in.
std::string CheckAccess(const PartitionInfo& partition, const std::string& account, const std::string& qos);

}  // namespace kiln::slurm
