#include "compiler/config_graph.h"

#include <algorithm>

namespace kiln {

const ResourceInstance* ConfigGraph::Find(const std::string& address) const {
  auto it = std::lower_bound(resources.begin(), resources.end(), address,
                             [](const ResourceInstance& r, const std::string& a) {
                               return r.address < a;
                             });
  return it != resources.end() && it->address == address ? &*it : nullptr;
}

}  // namespace kiln
