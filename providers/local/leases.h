// GPU leases of the local provider: one lock file per GPU index,
// ROOT/gpus/<index>.lock, held with flock(2) by the processes that use the
// GPU (a job's supervisor and the job's processes, an endpoint replica).
// The kernel drops the lock when the last of them exits, so a lease
// survives kill -9 of kiln and never outlives the processes that hold it.
#pragma once

#include <map>
#include <string>
#include <vector>

#include "providers/local/util.h"

namespace kiln::local {

struct Lease {
  std::vector<int> indices;
  std::vector<int> fds;  // close-on-exec; hand them to the holder (SpawnSpec::keep_fds)
};

// Takes `count` free GPUs of `pool`, in pool order, for `holder` (a
// description written into the lock files: "training_job.x (pid 12)").
// False (and nothing held) when fewer than `count` are free.
bool TakeGpus(const fs::path& root, const std::vector<int>& pool, int count, const std::string& holder,
              Lease* out);
// Closes this process's copies of the lease's descriptors (the lock stays
// while a process it was handed to lives).
void CloseLease(Lease* lease);
// Whether `index` is leased now; *holder gets what its holder wrote.
bool GpuHeld(const fs::path& root, int index, std::string* holder = nullptr);

// The GPU inventory Configure wrote (ROOT/inventory.json), so that
// supervisors started without kiln see the same machine.
struct InventoryGpu {
  int index = 0;
  std::string model;
  int64_t memory = 0;
};
std::vector<InventoryGpu> ReadInventory(const fs::path& root);
bool WriteInventory(const fs::path& root, const std::vector<InventoryGpu>& gpus, bool simulated);

// GPU indices reserved by the clusters under ROOT/clusters (address ->
// indices), except `except_address`.
std::map<std::string, std::vector<int>> ClusterReservations(const fs::path& root,
                                                            const std::string& except_address = "");

}  // namespace kiln::local
