#include "planner/dag/dag.h"

#include <algorithm>
#include <queue>
#include <sstream>

namespace kiln::dag {

NodeId Graph::AddNode(std::string name, double weight) {
  names_.push_back(std::move(name));
  weights_.push_back(weight);
  succ_.emplace_back();
  pred_.emplace_back();
  return names_.size() - 1;
}

void Graph::AddEdge(NodeId before, NodeId after) {
  auto& s = succ_[before];
  if (std::find(s.begin(), s.end(), after) != s.end()) return;
  s.push_back(after);
  pred_[after].push_back(before);
}

std::vector<std::string> Graph::FindCycle() const {
  // Iterative DFS with colours; nodes visited in name order so the reported
  // cycle is the same on every run.
  std::vector<NodeId> order(size());
  for (NodeId i = 0; i < size(); ++i) order[i] = i;
  std::sort(order.begin(), order.end(),
            [&](NodeId a, NodeId b) { return names_[a] < names_[b]; });
  enum Colour : char { kWhite, kGrey, kBlack };
  std::vector<Colour> colour(size(), kWhite);
  std::vector<NodeId> parent(size(), static_cast<NodeId>(-1));
  for (NodeId root : order) {
    if (colour[root] != kWhite) continue;
    std::vector<std::pair<NodeId, size_t>> stack{{root, 0}};
    colour[root] = kGrey;
    while (!stack.empty()) {
      auto& [n, i] = stack.back();
      if (i == succ_[n].size()) {
        colour[n] = kBlack;
        stack.pop_back();
        continue;
      }
      NodeId m = succ_[n][i++];
      if (colour[m] == kGrey) {
        // The cycle is m ... n -> m along the stack.
        std::vector<std::string> cycle;
        bool in = false;
        for (auto& [s, unused] : stack) {
          if (s == m) in = true;
          if (in) cycle.push_back(names_[s]);
        }
        cycle.push_back(names_[m]);
        return cycle;
      }
      if (colour[m] == kWhite) {
        colour[m] = kGrey;
        stack.push_back({m, 0});
      }
    }
  }
  return {};
}

std::vector<NodeId> Graph::TopologicalOrder() const {
  std::vector<size_t> indegree(size());
  for (NodeId n = 0; n < size(); ++n) indegree[n] = pred_[n].size();
  auto cmp = [&](NodeId a, NodeId b) { return names_[a] > names_[b]; };
  std::priority_queue<NodeId, std::vector<NodeId>, decltype(cmp)> ready(cmp);
  for (NodeId n = 0; n < size(); ++n)
    if (indegree[n] == 0) ready.push(n);
  std::vector<NodeId> out;
  out.reserve(size());
  while (!ready.empty()) {
    NodeId n = ready.top();
    ready.pop();
    out.push_back(n);
    for (NodeId m : succ_[n])
      if (--indegree[m] == 0) ready.push(m);
  }
  if (out.size() != size()) return {};
  return out;
}

std::vector<double> Graph::RemainingPath() const {
  std::vector<double> rest(size(), 0.0);
  std::vector<NodeId> order = TopologicalOrder();
  for (auto it = order.rbegin(); it != order.rend(); ++it) {
    double best = 0;
    for (NodeId m : succ_[*it]) best = std::max(best, rest[m]);
    rest[*it] = weights_[*it] + best;
  }
  return rest;
}

double Graph::CriticalPath() const {
  double best = 0;
  for (double d : RemainingPath()) best = std::max(best, d);
  return best;
}

namespace {
std::string Quote(const std::string& s) {
  std::string out = "\"";
  for (char c : s) {
    if (c == '"' || c == '\\') out += '\\';
    out += c;
  }
  return out + "\"";
}
}  // namespace

std::string Graph::ToDot(const std::string& graph_name) const {
  std::vector<std::string> nodes(names_.begin(), names_.end());
  std::sort(nodes.begin(), nodes.end());
  std::vector<std::pair<std::string, std::string>> edges;
  for (NodeId n = 0; n < size(); ++n)
    for (NodeId m : succ_[n]) edges.push_back({names_[n], names_[m]});
  std::sort(edges.begin(), edges.end());
  std::ostringstream out;
  out << "digraph " << Quote(graph_name) << " {\n  rankdir = \"LR\";\n";
  for (const auto& n : nodes) out << "  " << Quote(n) << ";\n";
  for (const auto& [a, b] : edges) out << "  " << Quote(a) << " -> " << Quote(b) << ";\n";
  out << "}\n";
  return out.str();
}

std::string FormatCycle(const std::vector<std::string>& cycle) {
  std::string out;
  for (size_t i = 0; i < cycle.size(); ++i) {
    if (i) out += " -> ";
    out += cycle[i];
  }
  return out;
}

}  // namespace kiln::dag
