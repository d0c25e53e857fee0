#include "providers/local/leases.h"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

namespace kiln::local {

namespace {
fs::path LockPath(const fs::path& root, int index) {
  return root / "gpus" / (std::to_string(index) + ".lock");
}
}  // namespace

bool TakeGpus(const fs::path& root, const std::vector<int>& pool, int count, const std::string& holder,
              Lease* out) {
  *out = {};
  if (count <= 0) return true;
  std::error_code ec;
  fs::create_directories(root / "gpus", ec);
  for (int index : pool) {
    if (static_cast<int>(out->indices.size()) >= count) break;
    int fd = open(LockPath(root, index).c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (fd < 0) continue;
    if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
      close(fd);
      continue;
    }
    // Who holds it, for messages; the lock, not this text, is the lease.
    if (ftruncate(fd, 0) == 0) {
      std::string text = holder + "\n";
      ssize_t ignored = pwrite(fd, text.data(), text.size(), 0);
      (void)ignored;
    }
    out->indices.push_back(index);
    out->fds.push_back(fd);
  }
  if (static_cast<int>(out->indices.size()) >= count) return true;
  CloseLease(out);
  out->indices.clear();
  return false;
}

void CloseLease(Lease* lease) {
  for (int fd : lease->fds) close(fd);
  lease->fds.clear();
}

bool GpuHeld(const fs::path& root, int index, std::string* holder) {
  int fd = open(LockPath(root, index).c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return false;
  bool held = flock(fd, LOCK_SH | LOCK_NB) != 0;
  close(fd);
  if (held && holder) *holder = Trimmed(ReadText(LockPath(root, index)));
  return held;
}

std::vector<InventoryGpu> ReadInventory(const fs::path& root) {
  std::vector<InventoryGpu> out;
  json j = ReadJson(root / "inventory.json");
  for (const auto& g : j.value("gpus", json::array()))
    out.push_back({static_cast<int>(Int(g, "index", 0)), Str(g, "model"), Int(g, "memory", 0)});
  return out;
}

bool WriteInventory(const fs::path& root, const std::vector<InventoryGpu>& gpus, bool simulated) {
  json list = json::array();
  for (const auto& g : gpus) list.push_back({{"index", g.index}, {"model", g.model}, {"memory", g.memory}});
  json j = {{"gpus", list}, {"simulated", simulated}};
  if (ReadJson(root / "inventory.json") == j) return true;
  return WriteText(root / "inventory.json", j.dump(2));
}

std::map<std::string, std::vector<int>> ClusterReservations(const fs::path& root,
                                                            const std::string& except_address) {
  std::map<std::string, std::vector<int>> out;
  std::error_code ec;
  for (fs::directory_iterator it(root / "clusters", ec), end; !ec && it != end; it.increment(ec)) {
    if (it->path().extension() != ".json") continue;
    json r = ReadJson(it->path());
    if (!r.is_object() || Str(r, "address") == except_address) continue;
    auto& v = out[Str(r, "address")];
    for (const auto& g : r.value("gpus", json::array())) v.push_back(g.get<int>());
  }
  return out;
}

}  // namespace kiln::local
