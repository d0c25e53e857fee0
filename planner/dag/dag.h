// A small generic directed acyclic graph: nodes with names and weights, edges
// "A before B", cycle detection that names the cycle, a deterministic
// topological order and longest-path-remaining priorities for scheduling.
#pragma once

#include <cstddef>
#include <string>
#include <vector>

namespace kiln::dag {

using NodeId = size_t;

class Graph {
 public:
  // Adds a node; `weight` is its expected cost (used by CriticalPath()).
  NodeId AddNode(std::string name, double weight = 1.0);
  // `before` must complete before `after` starts. Duplicate edges are ignored.
  void AddEdge(NodeId before, NodeId after);

  size_t size() const { return names_.size(); }
  const std::string& Name(NodeId n) const { return names_[n]; }
  double Weight(NodeId n) const { return weights_[n]; }
  const std::vector<NodeId>& Successors(NodeId n) const { return succ_[n]; }
  const std::vector<NodeId>& Predecessors(NodeId n) const { return pred_[n]; }

  // A cycle as node names, first repeated at the end ("a -> b -> a" as
  // {a, b, a}); empty when the graph is acyclic.
  std::vector<std::string> FindCycle() const;
  // Kahn's algorithm, ties broken by node name. Empty if there is a cycle
  // (and the graph is not empty).
  std::vector<NodeId> TopologicalOrder() const;
  // For every node: its weight plus the heaviest chain of successors after
  // it. The scheduler starts the node with the largest value first.
  std::vector<double> RemainingPath() const;
  // The heaviest chain through the whole graph (the critical path bound).
  double CriticalPath() const;
  // Graphviz DOT, nodes and edges sorted by name.
  std::string ToDot(const std::string& graph_name) const;

 private:
  std::vector<std::string> names_;
  std::vector<double> weights_;
  std::vector<std::vector<NodeId>> succ_, pred_;
};

// "a -> b -> a"
std::string FormatCycle(const std::vector<std::string>& cycle);

}  // namespace kiln::dag
